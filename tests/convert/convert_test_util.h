/* framepush — test images and plane comparisons for the converter tests. */
#ifndef FP_CONVERT_TEST_UTIL_H
#define FP_CONVERT_TEST_UTIL_H

#include "framepush/convert.h"

#include <stddef.h>
#include <stdint.h>

struct img {
	uint8_t *data;
	size_t stride;
	uint32_t w, h;
	size_t bpp; /* 4: XRGB8888, 8: RGBA16F */
};

enum pattern {
	PAT_RANDOM,
	PAT_BLACK,
	PAT_WHITE,
	PAT_PRIMARIES, /* R, G, B, C, M, Y, white, black blocks */
	PAT_BARS75,
	PAT_GRADIENT,
	PAT_HDR_WILD,  /* HDR only: out of gamut, > 1.0, NaN, +-Inf, denormals, -0 */
	PAT_COUNT,
};

uint64_t rng_next(uint64_t *s);
uint16_t float_to_half(float f);

/* Allocates w x h with stride = w * bpp + pad; the padding is filled with garbage. */
int img_alloc(struct img *im, uint32_t w, uint32_t h, size_t bpp, size_t pad);
void img_free(struct img *im);
void img_fill(struct img *im, enum pattern pat, uint64_t seed);
void img_set_px(struct img *im, uint32_t x, uint32_t y, const float rgb[3]);

struct plane_diff {
	int max_err[2];  /* largest |a - b| in Y and CbCr, in codes */
	int out_of_range; /* samples of `a` outside the limited range */
};

/* Compares a against b (codes; P010 compared after >> 6); also range-checks a. */
struct plane_diff frame_compare(const struct fp_yuv_frame *a, const struct fp_yuv_frame *b);

/* Sample value (code, P010 >> 6) of plane p at (x, y) sample (chroma: x = 2 * block + c). */
unsigned frame_sample(const struct fp_yuv_frame *f, int plane, uint32_t x, uint32_t y);

#endif
