#include "portal_copy.h"

#include <string.h>

#include "framepush/pixel.h"

uint32_t fp_portal_pix_ring_format(enum fp_portal_pix pix)
{
	switch (pix) {
	case FP_PORTAL_PIX_BGRX:
	case FP_PORTAL_PIX_RGBX:
	case FP_PORTAL_PIX_XRGB210:
	case FP_PORTAL_PIX_XBGR210:
		return FP_PIXFMT_XRGB8888;
	case FP_PORTAL_PIX_RGBA16F:
		return FP_PIXFMT_RGBA16F;
	default:
		return FP_PIXFMT_NONE;
	}
}

uint32_t fp_portal_pix_bpp(enum fp_portal_pix pix)
{
	return pix == FP_PORTAL_PIX_RGBA16F ? 8u : pix == FP_PORTAL_PIX_NONE ? 0u : 4u;
}

static void row_swap_rb(uint8_t *d, const uint8_t *s, uint32_t w)
{
	for (uint32_t x = 0; x < w; x++, d += 4, s += 4) {
		d[0] = s[2];
		d[1] = s[1];
		d[2] = s[0];
		d[3] = 0xff;
	}
}

/* 10-bit channels keep their 8 most significant bits: the same value an 8-bit desktop
 * would have shown (the portal gives 10-bit without a transfer function in PipeWire 0.3,
 * so it is taken as the sRGB-encoded SDR it is on today's desktops). */
static void row_210(uint8_t *d, const uint8_t *s, uint32_t w, int bgr)
{
	for (uint32_t x = 0; x < w; x++, d += 4, s += 4) {
		uint32_t v = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
			     (uint32_t)s[3] << 24;
		uint8_t hi = (uint8_t)(v >> 22), mid = (uint8_t)(v >> 12), lo = (uint8_t)(v >> 2);

		d[0] = bgr ? hi : lo;
		d[1] = mid;
		d[2] = bgr ? lo : hi;
		d[3] = 0xff;
	}
}

void fp_portal_copy(uint8_t *dst, size_t dst_stride, const uint8_t *src, size_t src_stride,
		    uint32_t width, uint32_t height, enum fp_portal_pix pix)
{
	size_t row = (size_t)width * fp_portal_pix_bpp(pix);

	for (uint32_t y = 0; y < height; y++, dst += dst_stride, src += src_stride) {
		switch (pix) {
		case FP_PORTAL_PIX_BGRX:
		case FP_PORTAL_PIX_RGBA16F:
			memcpy(dst, src, row);
			break;
		case FP_PORTAL_PIX_RGBX:
			row_swap_rb(dst, src, width);
			break;
		case FP_PORTAL_PIX_XRGB210:
		case FP_PORTAL_PIX_XBGR210:
			row_210(dst, src, width, pix == FP_PORTAL_PIX_XBGR210);
			break;
		default:
			return;
		}
	}
}

static uint8_t over(uint8_t fg, uint8_t bg, uint32_t a)
{
	return (uint8_t)((fg * a + bg * (255u - a) + 127u) / 255u);
}

void fp_portal_blend_cursor(uint8_t *dst, size_t dst_stride, uint32_t width, uint32_t height,
			    const struct fp_portal_cursor *c)
{
	/* Clip in 64 bits: a hostile position near INT32_MAX cannot wrap into the frame. */
	int64_t x0 = c->x < 0 ? 0 : c->x, y0 = c->y < 0 ? 0 : c->y;
	int64_t x1 = (int64_t)c->x + c->width, y1 = (int64_t)c->y + c->height;

	if (x1 > width)
		x1 = width;
	if (y1 > height)
		y1 = height;
	for (int64_t y = y0; y < y1; y++) {
		const uint8_t *s = c->px + (size_t)(y - c->y) * c->stride + (size_t)(x0 - c->x) * 4;
		uint8_t *d = dst + (size_t)y * dst_stride + (size_t)x0 * 4;

		for (int64_t x = x0; x < x1; x++, s += 4, d += 4) {
			uint32_t a = s[3];
			uint8_t b = c->rgba ? s[2] : s[0], r = c->rgba ? s[0] : s[2];

			if (!a)
				continue;
			d[0] = over(b, d[0], a);
			d[1] = over(s[1], d[1], a);
			d[2] = over(r, d[2], a);
		}
	}
}
