/* framepush — a frame in the encoder's native layout (NV12 or P010).
 *
 * The host's output ring holds these; converters write them, encoders read them.
 * Planes are owned by whoever allocated the frame; this struct is only a view.
 */
#ifndef FRAMEPUSH_FRAME_H
#define FRAMEPUSH_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum fp_yuv_format {
	FP_YUV_NONE = 0,
	/* 8-bit Y plane + interleaved CbCr plane at half size, BT.709 limited range. */
	FP_YUV_NV12 = 1,
	/* 16-bit little-endian samples, 10 significant bits in the HIGH bits (value << 6);
	 * Y plane + interleaved CbCr plane at half size, BT.2020 PQ limited range. */
	FP_YUV_P010 = 2,
};

struct fp_yuv_frame {
	enum fp_yuv_format format;
	uint32_t width, height;  /* luma size; chroma is ((w+1)/2, (h+1)/2) */
	uint8_t *data[2];        /* [0] Y, [1] interleaved CbCr */
	size_t stride[2];        /* bytes per row of each plane */
	int64_t pts_ns;          /* capture time, CLOCK_MONOTONIC */
	uint64_t seq;            /* source sequence number, repeats keep the value */
	int repeated;            /* 1 when this is a copy of the previous frame */
};

/* Allocates planes for a w x h frame of the given format with 64-byte aligned rows.
 * Returns 0 or -ENOMEM / -EINVAL. Free with fp_yuv_frame_free (accepts a zeroed frame). */
int fp_yuv_frame_alloc(struct fp_yuv_frame *f, enum fp_yuv_format fmt, uint32_t w, uint32_t h);
void fp_yuv_frame_free(struct fp_yuv_frame *f);

#endif
