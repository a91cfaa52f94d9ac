/* framepush — float64 reference converters: the oracle for every fast path.
 *
 * Written for obviousness, not speed: every sample goes through the textbook formula in
 * double precision and is rounded once, at the end.
 */
#include "framepush/convert.h"

#include <math.h>

#define KR 0.2126
#define KB 0.0722
#define KG (1.0 - KR - KB)

static int clampi(long v, int lo, int hi)
{
	return (int)(v < lo ? lo : v > hi ? hi : v);
}

/* Pixel (x, y) with coordinates past the edge replicated (odd sizes). */
static const uint8_t *px(const uint8_t *src, size_t stride, uint32_t w, uint32_t h, uint32_t x,
			 uint32_t y, size_t bpp)
{
	if (x >= w)
		x = w - 1;
	if (y >= h)
		y = h - 1;
	return src + (size_t)y * stride + (size_t)x * bpp;
}

/* Left-sited 4:2:0 (MPEG-2 / H.264 default, the tag the encoder writes): chroma sample (i, j)
 * sits on luma column 2i, midway between rows 2j and 2j+1. It filters columns 2i-1, 2i, 2i+1
 * with weights 1/4, 1/2, 1/4 and averages the two rows: tap k (0..5) is column 2i-1 + k % 3,
 * row 2j + k / 3, weight cw[k % 3] / 2. Column -1 replicates column 0 and column w (odd
 * widths) replicates w - 1, like row h (odd heights) replicates h - 1. */
static const double cw[3] = { 0.25, 0.5, 0.25 };

static uint32_t tap_x(uint32_t x, int k)
{
	return x + (uint32_t)(k % 3) == 0 ? 0 : x + (uint32_t)(k % 3) - 1;
}

/* SDR: R', G', B' = code / 255 (sRGB-encoded, used as-is: gamma-domain, like every encoder).
 *   Y  = 16  + 219 * (KR R' + KG G' + KB B')
 *   Cb = 128 + 224 * (B' - Y') / (2 (1 - KB))
 *   Cr = 128 + 224 * (R' - Y') / (2 (1 - KR))
 * Chroma = the matrix applied to the left-sited filter of R'G'B' (equal, by linearity, to
 * filtering the per-pixel chroma values), rounded once. */
void fp_convert_ref_xrgb_to_nv12(const uint8_t *src, size_t src_stride, uint32_t w, uint32_t h,
				 const struct fp_yuv_frame *dst)
{
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			const uint8_t *p = px(src, src_stride, w, h, x, y, 4);
			double yp = (KR * p[2] + KG * p[1] + KB * p[0]) / 255.0;

			dst->data[0][(size_t)y * dst->stride[0] + x] =
				(uint8_t)clampi(lround(16.0 + 219.0 * yp), 16, 235);
		}
	}
	for (uint32_t y = 0; y < h; y += 2) {
		for (uint32_t x = 0; x < w; x += 2) {
			double r = 0, g = 0, b = 0, yp;
			uint8_t *uv = dst->data[1] + (size_t)(y / 2) * dst->stride[1] + x;

			for (int k = 0; k < 6; k++) {
				const uint8_t *p = px(src, src_stride, w, h, tap_x(x, k), y + (uint32_t)k / 3, 4);
				double wk = cw[k % 3] / (2 * 255.0);

				b += p[0] * wk;
				g += p[1] * wk;
				r += p[2] * wk;
			}
			yp = KR * r + KG * g + KB * b;
			uv[0] = (uint8_t)clampi(lround(128.0 + 224.0 * (b - yp) / (2.0 * (1.0 - KB))), 16, 240);
			uv[1] = (uint8_t)clampi(lround(128.0 + 224.0 * (r - yp) / (2.0 * (1.0 - KR))), 16, 240);
		}
	}
}

/* IEEE 754 binary16, decoded exactly. */
static double half_to_double(uint16_t hv)
{
	int e = (hv >> 10) & 31, m = hv & 1023;
	double v;

	if (e == 0)
		v = ldexp(m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexp(1024 + m, e - 25);
	return (hv & 0x8000) ? -v : v;
}

/* SMPTE ST 2084 inverse EOTF; l = luminance / 10000 nits, in [0, 1]. */
static double pq_oetf(double l)
{
	const double m1 = 2610.0 / 16384.0, m2 = 2523.0 / 4096.0 * 128.0;
	const double c1 = 3424.0 / 4096.0, c2 = 2413.0 / 4096.0 * 32.0, c3 = 2392.0 / 4096.0 * 32.0;
	double p = pow(l, m1);

	return pow((c1 + c2 * p) / (1.0 + c3 * p), m2);
}

/* One scRGB pixel -> PQ-encoded BT.2020 R'G'B' in [0, 1].
 * NaN and -Inf inputs count as 0; +Inf survives the (all-positive) matrix and clips to the
 * peak; the linear BT.2020 values clip to [0, 10000 nits] before PQ. */
static void hdr_pixel(const uint8_t *p, double out[3])
{
	static const double m[3][3] = {
		{ 0.627403895934699, 0.329283038377884, 0.043313065687417 },
		{ 0.069097289358232, 0.919540395075459, 0.011362315566309 },
		{ 0.016391438875150, 0.088013307877226, 0.895595253247624 },
	};
	double in[3];

	for (int c = 0; c < 3; c++) {
		double v = half_to_double((uint16_t)(p[2 * c] | p[2 * c + 1] << 8));

		in[c] = (isnan(v) || v == -INFINITY) ? 0.0 : v;
	}
	for (int c = 0; c < 3; c++) {
		double l = m[c][0] * in[0] + m[c][1] * in[1] + m[c][2] * in[2];

		l = l < 0.0 ? 0.0 : l > 125.0 ? 125.0 : l; /* 125 = 10000 / 80 nits */
		out[c] = pq_oetf(l / 125.0);
	}
}

static void put_p010(uint8_t *p, long v, int lo, int hi)
{
	unsigned u = (unsigned)clampi(v, lo, hi) << 6;

	p[0] = (uint8_t)u;
	p[1] = (uint8_t)(u >> 8);
}

/* HDR: PQ R'G'B' (BT.2020) -> BT.2020 NCL, limited 10-bit:
 *   Y' = 0.2627 R' + 0.6780 G' + 0.0593 B',  Y = 64 + 876 Y'
 *   Cb = 512 + 896 (B' - Y') / 1.8814,        Cr = 512 + 896 (R' - Y') / 1.4746
 * Chroma = the matrix on the left-sited filter of PQ R'G'B' (as for SDR). */
void fp_convert_ref_rgba16f_to_p010(const uint8_t *src, size_t src_stride, uint32_t w, uint32_t h,
				    const struct fp_yuv_frame *dst)
{
	const double kr = 0.2627, kb = 0.0593, kg = 1.0 - kr - kb;

	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			double c[3];

			hdr_pixel(px(src, src_stride, w, h, x, y, 8), c);
			put_p010(dst->data[0] + (size_t)y * dst->stride[0] + 2 * (size_t)x,
				 lround(64.0 + 876.0 * (kr * c[0] + kg * c[1] + kb * c[2])), 64, 940);
		}
	}
	for (uint32_t y = 0; y < h; y += 2) {
		for (uint32_t x = 0; x < w; x += 2) {
			double s[3] = { 0, 0, 0 }, c[3], yp;
			uint8_t *uv = dst->data[1] + (size_t)(y / 2) * dst->stride[1] + 2 * (size_t)x;

			for (int k = 0; k < 6; k++) {
				hdr_pixel(px(src, src_stride, w, h, tap_x(x, k), y + (uint32_t)k / 3, 8), c);
				for (int ch = 0; ch < 3; ch++)
					s[ch] += c[ch] * cw[k % 3] / 2.0;
			}
			yp = kr * s[0] + kg * s[1] + kb * s[2];
			put_p010(uv, lround(512.0 + 896.0 * (s[2] - yp) / (2.0 * (1.0 - kb))), 64, 960);
			put_p010(uv + 2, lround(512.0 + 896.0 * (s[0] - yp) / (2.0 * (1.0 - kr))), 64, 960);
		}
	}
}
