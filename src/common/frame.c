#include "framepush/frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fp_yuv_frame_alloc(struct fp_yuv_frame *f, enum fp_yuv_format fmt, uint32_t w, uint32_t h)
{
	size_t bps, ys, cs, ch;

	memset(f, 0, sizeof(*f));
	if ((fmt != FP_YUV_NV12 && fmt != FP_YUV_P010) || w == 0 || h == 0 || w > 16384 || h > 16384)
		return -EINVAL;
	bps = fmt == FP_YUV_P010 ? 2 : 1;
	/* 64-byte rows: whole cache lines for the converters' vector stores. */
	ys = ((size_t)w * bps + 63) & ~(size_t)63;
	cs = ((size_t)((w + 1) / 2) * 2 * bps + 63) & ~(size_t)63;
	ch = (h + 1) / 2;
	f->data[0] = aligned_alloc(64, ys * h);
	f->data[1] = aligned_alloc(64, cs * ch);
	if (!f->data[0] || !f->data[1]) {
		fp_yuv_frame_free(f);
		return -ENOMEM;
	}
	f->format = fmt;
	f->width = w;
	f->height = h;
	f->stride[0] = ys;
	f->stride[1] = cs;
	return 0;
}

void fp_yuv_frame_free(struct fp_yuv_frame *f)
{
	if (!f)
		return;
	free(f->data[0]);
	free(f->data[1]);
	memset(f, 0, sizeof(*f));
}
