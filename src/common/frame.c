#include "framepush/frame.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* Both planes in one private anonymous mapping: frame buffers are the host's largest
 * allocations and come and go with display modes. Through malloc, whether a freed plane
 * went back to the system depended on the allocator's moving mmap threshold (a freed
 * mapped chunk raises it, so later planes of that size stayed in the heap): resident memory
 * settled at a level set by the order of past mode changes. A mapping is returned whole. */
static size_t frame_bytes(const struct fp_yuv_frame *f)
{
	return f->stride[0] * f->height + f->stride[1] * ((f->height + 1) / 2);
}

int fp_yuv_frame_alloc(struct fp_yuv_frame *f, enum fp_yuv_format fmt, uint32_t w, uint32_t h)
{
	size_t bps;
	void *p;

	memset(f, 0, sizeof(*f));
	if ((fmt != FP_YUV_NV12 && fmt != FP_YUV_P010) || w == 0 || h == 0 || w > 16384 || h > 16384)
		return -EINVAL;
	bps = fmt == FP_YUV_P010 ? 2 : 1;
	f->format = fmt;
	f->width = w;
	f->height = h;
	/* 64-byte rows: whole cache lines for the converters' vector stores. The chroma plane
	 * starts 64-byte aligned too, since the luma plane is whole rows. */
	f->stride[0] = ((size_t)w * bps + 63) & ~(size_t)63;
	f->stride[1] = ((size_t)((w + 1) / 2) * 2 * bps + 63) & ~(size_t)63;
	p = mmap(NULL, frame_bytes(f), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		memset(f, 0, sizeof(*f));
		return -ENOMEM;
	}
	f->data[0] = p;
	f->data[1] = f->data[0] + f->stride[0] * h;
	return 0;
}

void fp_yuv_frame_free(struct fp_yuv_frame *f)
{
	if (!f)
		return;
	if (f->data[0])
		munmap(f->data[0], frame_bytes(f));
	memset(f, 0, sizeof(*f));
}
