/* framepush — YUV4MPEG2 writer, private to the output module (fp_output_open_frames): NV12 ->
 * 8-bit 4:2:0 (C420mpeg2: left-sited chroma), P010 -> 10-bit 4:2:0 (C420p10, siting
 * unspecified: the tag has no sited variant; little-endian samples in the low bits), readable
 * by ffmpeg and mpv. */
#ifndef FP_OUTPUT_Y4M_H
#define FP_OUTPUT_Y4M_H

#include <stdint.h>

#include "framepush/frame.h"

struct fp_y4m;

/* Opens path for frames of format/size at fps. Returns 0 or -errno. */
int fp_y4m_open(struct fp_y4m **out, const char *path, enum fp_yuv_format format, uint32_t width,
		uint32_t height, uint32_t fps);
/* Writes one frame; it must match the format and size given at open (-EINVAL otherwise). */
int fp_y4m_write(struct fp_y4m *y, const struct fp_yuv_frame *f);
/* Flushes and closes; returns 0 or the first write error. Accepts NULL. */
int fp_y4m_close(struct fp_y4m *y);

#endif
