#include "convert_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: tiny, seedable, good enough for test images. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint16_t float_to_half(float f)
{
	uint32_t b, sign, mant;
	int exp;

	if (isnan(f))
		return 0x7e00;
	memcpy(&b, &f, 4);
	sign = (b >> 16) & 0x8000;
	f = fabsf(f);
	if (f >= 65520.0f)
		return (uint16_t)(sign | 0x7c00);
	if (f < 0x1p-14f) /* denormal: units of 2^-24, round to nearest */
		return (uint16_t)(sign | (uint32_t)lrintf(f * 0x1p24f));
	exp = ilogbf(f);
	mant = (uint32_t)lrintf(ldexpf(f, 10 - exp)); /* 1024..2048 */
	if (mant == 2048) {
		mant = 1024;
		exp++;
	}
	return (uint16_t)(sign | (uint32_t)(exp + 15) << 10 | (mant - 1024));
}

int img_alloc(struct img *im, uint32_t w, uint32_t h, size_t bpp, size_t pad)
{
	im->w = w;
	im->h = h;
	im->bpp = bpp;
	im->stride = w * bpp + pad;
	im->data = malloc(im->stride * h);
	if (!im->data)
		return -1;
	/* Garbage in the padding: a converter that reads it shows up as a mismatch. */
	for (size_t i = 0; i < im->stride * h; i++)
		im->data[i] = (uint8_t)(i * 131 + 7);
	return 0;
}

void img_free(struct img *im)
{
	free(im->data);
	im->data = NULL;
}

static void put_half(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* rgb in 0..1 for SDR (scaled to 0..255), scRGB for HDR. */
void img_set_px(struct img *im, uint32_t x, uint32_t y, const float rgb[3])
{
	uint8_t *p = im->data + (size_t)y * im->stride + (size_t)x * im->bpp;

	if (im->bpp == 4) {
		for (int c = 0; c < 3; c++)
			p[2 - c] = (uint8_t)lrintf(fminf(fmaxf(rgb[c], 0.0f), 1.0f) * 255.0f);
		p[3] = 0x5a; /* X is ignored, so make it non-zero */
	} else {
		for (int c = 0; c < 3; c++)
			put_half(p + 2 * c, float_to_half(rgb[c]));
		put_half(p + 6, 0x3c00);
	}
}

static const float bars75[8][3] = {
	{ 0.75f, 0.75f, 0.75f }, { 0.75f, 0.75f, 0 }, { 0, 0.75f, 0.75f }, { 0, 0.75f, 0 },
	{ 0.75f, 0, 0.75f }, { 0.75f, 0, 0 }, { 0, 0, 0.75f }, { 0, 0, 0 },
};
static const float primaries[8][3] = {
	{ 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 }, { 0, 1, 1 },
	{ 1, 0, 1 }, { 1, 1, 0 }, { 1, 1, 1 }, { 0, 0, 0 },
};

void img_fill(struct img *im, enum pattern pat, uint64_t seed)
{
	const int hdr = im->bpp == 8;
	uint64_t s = seed;

	for (uint32_t y = 0; y < im->h; y++) {
		for (uint32_t x = 0; x < im->w; x++) {
			uint8_t *p = im->data + (size_t)y * im->stride + (size_t)x * im->bpp;
			float rgb[3] = { 0, 0, 0 };
			uint64_t r;

			switch (pat) {
			case PAT_RANDOM:
				r = rng_next(&s);
				if (!hdr) {
					memcpy(p, &r, 4);
					continue;
				}
				/* Mostly plausible scRGB, some raw bit patterns (NaN, Inf, huge). */
				for (int c = 0; c < 3; c++) {
					uint64_t q = rng_next(&s);

					if ((q & 15) == 0)
						put_half(p + 2 * c, (uint16_t)(q >> 16));
					else
						put_half(p + 2 * c, float_to_half((float)((q >> 20) % 100000) /
										  100000.0f * 3.0f - 0.2f));
				}
				put_half(p + 6, (uint16_t)r);
				continue;
			case PAT_BLACK:
				break;
			case PAT_WHITE:
				rgb[0] = rgb[1] = rgb[2] = 1.0f;
				break;
			case PAT_PRIMARIES:
				memcpy(rgb, primaries[(x * 8 / im->w + y) % 8], sizeof(rgb));
				break;
			case PAT_BARS75:
				memcpy(rgb, bars75[x * 8 / im->w], sizeof(rgb));
				break;
			case PAT_GRADIENT:
				rgb[0] = (float)x / (float)im->w;
				rgb[1] = (float)y / (float)im->h;
				rgb[2] = 1.0f - rgb[0];
				if (hdr) /* cover the whole 0..125 scRGB range, log-spaced */
					for (int c = 0; c < 3; c++)
						rgb[c] = 125.0f * powf(2.0f, -24.0f * (1.0f - rgb[c]));
				break;
			case PAT_HDR_WILD: {
				static const float wild[] = { -1.0f, -0.0f, 1.5f, 7.0f, 125.0f, 200.0f, 65504.0f,
							      -65504.0f, 1e-7f, 0.5f, 2.5375f, 12.5f };
				static const uint16_t bits[] = { 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7c01, 0x0001,
								 0x83ff, 0x8000 };

				for (int c = 0; c < 3; c++) {
					uint64_t q = rng_next(&s) % 20;

					if (q < 12)
						put_half(p + 2 * c, float_to_half(wild[q]));
					else
						put_half(p + 2 * c, bits[q - 12]);
				}
				put_half(p + 6, 0x3c00);
				continue;
			}
			case PAT_COUNT:
				break;
			}
			img_set_px(im, x, y, rgb);
		}
	}
}

unsigned frame_sample(const struct fp_yuv_frame *f, int plane, uint32_t x, uint32_t y)
{
	const uint8_t *row = f->data[plane] + (size_t)y * f->stride[plane];

	if (f->format == FP_YUV_NV12)
		return row[x];
	return (unsigned)(row[2 * x] | row[2 * x + 1] << 8) >> 6;
}

struct plane_diff frame_compare(const struct fp_yuv_frame *a, const struct fp_yuv_frame *b)
{
	struct plane_diff d = { { 0, 0 }, 0 };
	const int p010 = a->format == FP_YUV_P010;
	const unsigned ylo = p010 ? 64 : 16, yhi = p010 ? 940 : 235;
	const unsigned clo = p010 ? 64 : 16, chi = p010 ? 960 : 240;

	for (int pl = 0; pl < 2; pl++) {
		uint32_t w = pl ? (a->width + 1) / 2 * 2 : a->width;
		uint32_t h = pl ? (a->height + 1) / 2 : a->height;

		for (uint32_t y = 0; y < h; y++) {
			for (uint32_t x = 0; x < w; x++) {
				unsigned va = frame_sample(a, pl, x, y), vb = frame_sample(b, pl, x, y);
				int e = abs((int)va - (int)vb);
				const uint8_t *row = a->data[pl] + (size_t)y * a->stride[pl];

				if (e > d.max_err[pl])
					d.max_err[pl] = e;
				if (va < (pl ? clo : ylo) || va > (pl ? chi : yhi))
					d.out_of_range++;
				if (p010 && (row[2 * x] & 0x3f)) /* low 6 bits must be 0 */
					d.out_of_range++;
			}
		}
	}
	return d;
}
