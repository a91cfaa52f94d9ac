#include "yuv_checks.h"

#include <stddef.h>

void fpt_expect_yuv(uint32_t rgb, int *y, int *cb, int *cr)
{
	double r = (double)(rgb >> 16 & 0xff) / 255.0, g = (double)(rgb >> 8 & 0xff) / 255.0,
	       b = (double)(rgb & 0xff) / 255.0;
	double yy = 0.2126 * r + 0.7152 * g + 0.0722 * b;

	*y = (int)(16.0 + 219.0 * yy + 0.5);
	*cb = (int)(128.0 + 224.0 * (b - yy) / 1.8556 + 0.5);
	*cr = (int)(128.0 + 224.0 * (r - yy) / 1.5748 + 0.5);
}

static int near(int a, int b)
{
	return a - b <= 1 && b - a <= 1;
}

int fpt_pixel_is(const struct fp_yuv_frame *f, uint32_t x, uint32_t y, uint32_t rgb)
{
	int ey, ecb, ecr;
	const uint8_t *c = f->data[1] + (size_t)(y / 2) * f->stride[1] + (size_t)(x / 2) * 2;

	fpt_expect_yuv(rgb, &ey, &ecb, &ecr);
	return near(f->data[0][(size_t)y * f->stride[0] + x], ey) && near(c[0], ecb) &&
	       near(c[1], ecr);
}

int fpt_tiled_window_is(const struct fp_yuv_frame *f, uint32_t rgb)
{
	uint32_t pts[4][2] = { { f->width / 4, f->height / 2 }, { 3 * f->width / 4, f->height / 2 },
			       { f->width / 2, 3 * f->height / 4 }, { f->width / 3, 2 * f->height / 3 } };
	int hits = 0;

	for (int i = 0; i < 4; i++)
		hits += fpt_pixel_is(f, pts[i][0], pts[i][1], rgb);
	return hits >= 3;
}
