/* framepush tests — what a captured NV12 frame should hold, from a float64 reference: the
 * BT.709 limited-range codes of an sRGB colour, checked at a pixel within one code. */
#ifndef FP_TESTS_YUV_CHECKS_H
#define FP_TESTS_YUV_CHECKS_H

#include <stdint.h>

#include "framepush/frame.h"

/* The Y, Cb, Cr codes the converter promises for rgb (0xRRGGBB, sRGB-encoded). */
void fpt_expect_yuv(uint32_t rgb, int *y, int *cb, int *cr);
/* 1 when pixel (x, y) of the NV12 frame f is rgb, each code within 1. */
int fpt_pixel_is(const struct fp_yuv_frame *f, uint32_t x, uint32_t y, uint32_t rgb);
/* 1 when a window tiled over the whole output (sway: minus its titlebar and borders) shows
 * rgb: four points well inside it, three must match (the pointer may sit on one). */
int fpt_tiled_window_is(const struct fp_yuv_frame *f, uint32_t rgb);

#endif
