/* framepush — converter tests: known values, every CPU path vs the float64 reference, API. */
#include "convert_test_util.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const enum fp_cpu_path all_paths[] = { FP_CPU_SCALAR, FP_CPU_SSE2, FP_CPU_SSSE3, FP_CPU_AVX2 };

/* Converts im with every supported path, with each thread count of `threads`, and compares
 * with ref (the reference's output for im). */
static void check_paths(const struct img *im, const struct fp_yuv_frame *ref, const char *what,
			const unsigned *thread_counts, size_t nthread_counts)
{
	const int hdr = im->bpp == 8;
	const enum fp_yuv_format yf = hdr ? FP_YUV_P010 : FP_YUV_NV12;
	const enum fp_pixfmt sf = hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888;
	struct fp_yuv_frame out;

	assert_int_equal(fp_yuv_frame_alloc(&out, yf, im->w, im->h), 0);
	{
		struct plane_diff d = frame_compare(ref, ref);

		if (d.out_of_range)
			fail_msg("%s: reference produced %d out-of-range codes", what, d.out_of_range);
	}
	for (size_t i = 0; i < sizeof(all_paths) / sizeof(all_paths[0]); i++) {
		for (size_t t = 0; t < nthread_counts; t++) {
			const unsigned threads = thread_counts[t];
			struct fp_converter *conv;
			struct plane_diff d;
			int r = fp_converter_create(&conv, threads, all_paths[i]);

			if (r == -ENOTSUP)
				continue;
			assert_int_equal(r, 0);
			assert_int_equal(fp_converter_path(conv), all_paths[i]);
			memset(out.data[0], 0xee, out.stride[0] * out.height);
			memset(out.data[1], 0xee, out.stride[1] * ((out.height + 1) / 2));
			assert_int_equal(fp_converter_run(conv, sf, im->data, im->stride, im->w, im->h, &out), 0);
			d = frame_compare(&out, ref);
			if (d.max_err[0] > 1 || d.max_err[1] > 1 || d.out_of_range)
				fail_msg("%s %ux%u stride %zu path %s threads %u: max err Y %d C %d, %d out of range",
					 what, im->w, im->h, im->stride, fp_cpu_path_name(all_paths[i]), threads,
					 d.max_err[0], d.max_err[1], d.out_of_range);
			fp_converter_destroy(conv);
		}
	}
	fp_yuv_frame_free(&out);
}

static void reference(const struct img *im, const struct fp_yuv_frame *ref)
{
	if (im->bpp == 8)
		fp_convert_ref_rgba16f_to_p010(im->data, im->stride, im->w, im->h, ref);
	else
		fp_convert_ref_xrgb_to_nv12(im->data, im->stride, im->w, im->h, ref);
}

/* Converts im with the reference, then with every supported path, 1 and 3 threads. */
static void check_all_paths(const struct img *im, const char *what)
{
	static const unsigned threads[] = { 1, 3 };
	struct fp_yuv_frame ref;

	assert_int_equal(fp_yuv_frame_alloc(&ref, im->bpp == 8 ? FP_YUV_P010 : FP_YUV_NV12, im->w, im->h), 0);
	reference(im, &ref);
	check_paths(im, &ref, what, threads, 2);
	fp_yuv_frame_free(&ref);
}

static void run_patterns(size_t bpp)
{
	static const uint32_t sizes[][2] = { { 2, 2 }, { 3, 3 }, { 4, 2 }, { 17, 9 }, { 33, 7 }, { 64, 2 },
					     { 63, 5 }, { 130, 66 }, { 1921, 1081 } };
	static const char *const names[] = { "random", "black", "white", "primaries", "bars75", "gradient",
					     "hdr-wild" };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		const int big = sizes[s][0] > 1000;

		for (int pat = 0; pat < PAT_COUNT; pat++) {
			struct img im;
			/* Odd byte padding: rows start misaligned, and garbage sits past each row. */
			size_t pad = (size_t)(pat * 3 + s) % 13;

			if (pat == PAT_HDR_WILD && bpp == 4)
				continue;
			/* The big frame is for threading and long rows; two patterns suffice. */
			if (big && pat != PAT_RANDOM && pat != PAT_GRADIENT && pat != PAT_HDR_WILD)
				continue;
			assert_int_equal(img_alloc(&im, sizes[s][0], sizes[s][1], bpp, pad), 0);
			img_fill(&im, (enum pattern)pat, 1234 + s * 77 + (uint64_t)pat);
			check_all_paths(&im, names[pat]);
			img_free(&im);
		}
	}
}

static void test_sdr_paths_vs_reference(void **state)
{
	(void)state;
	run_patterns(4);
}

static void test_hdr_paths_vs_reference(void **state)
{
	(void)state;
	run_patterns(8);
}

/* The top of the size range, odd in both directions (7679x4319, odd row padding): long rows,
 * many bands, the odd last row and column at full size; every path with 3 threads (the
 * single-thread kernels run the same rows at 1921x1081). SDR: random pixels everywhere. HDR:
 * the float64 reference costs ~20 s at this size (three pow pairs per pixel), so the random
 * content repeats every MAX_PERIOD rows and the reference is computed on one period (row
 * pairs are independent) plus the odd last row, then tiled. The period, 2 x 97 rows, is
 * coprime to every band size a band bug would shift rows by, so misplaced rows still show. */
#define MAX_W 7679
#define MAX_H 4319
#define MAX_PERIOD 194

static void copy_rows(const struct fp_yuv_frame *from, uint32_t fy, const struct fp_yuv_frame *to, uint32_t ty,
		      int plane)
{
	memcpy(to->data[plane] + (size_t)ty * to->stride[plane], from->data[plane] + (size_t)fy * from->stride[plane],
	       from->stride[plane] < to->stride[plane] ? from->stride[plane] : to->stride[plane]);
}

static void test_sdr_max_size(void **state)
{
	static const unsigned threads[] = { 3 };
	struct img im;
	struct fp_yuv_frame ref;
	(void)state;

	assert_int_equal(img_alloc(&im, MAX_W, MAX_H, 4, 5), 0);
	img_fill(&im, PAT_RANDOM, 7679);
	assert_int_equal(fp_yuv_frame_alloc(&ref, FP_YUV_NV12, MAX_W, MAX_H), 0);
	reference(&im, &ref);
	check_paths(&im, &ref, "random max size", threads, 1);
	fp_yuv_frame_free(&ref);
	img_free(&im);
}

static void test_hdr_max_size(void **state)
{
	static const unsigned threads[] = { 3 };
	const uint32_t last = MAX_H - 1; /* odd height: the last row is a pair of its own */
	struct img im, period, lastrow;
	struct fp_yuv_frame ref, pref, lref;
	(void)state;

	assert_int_equal(img_alloc(&im, MAX_W, MAX_H, 8, 5), 0);
	assert_int_equal(img_alloc(&period, MAX_W, MAX_PERIOD, 8, 5), 0);
	img_fill(&period, PAT_RANDOM, 7680);
	for (uint32_t y = 0; y < MAX_H; y += MAX_PERIOD) {
		uint32_t n = MAX_H - y < MAX_PERIOD ? MAX_H - y : MAX_PERIOD;

		memcpy(im.data + (size_t)y * im.stride, period.data, (size_t)n * im.stride);
	}
	assert_int_equal(fp_yuv_frame_alloc(&ref, FP_YUV_P010, MAX_W, MAX_H), 0);
	assert_int_equal(fp_yuv_frame_alloc(&pref, FP_YUV_P010, MAX_W, MAX_PERIOD), 0);
	assert_int_equal(fp_yuv_frame_alloc(&lref, FP_YUV_P010, MAX_W, 1), 0);
	reference(&period, &pref);
	lastrow = period;
	lastrow.data = period.data + (size_t)(last % MAX_PERIOD) * period.stride;
	lastrow.h = 1;
	reference(&lastrow, &lref);
	for (uint32_t y = 0; y < last; y++) {
		copy_rows(&pref, y % MAX_PERIOD, &ref, y, 0);
		if (y % 2 == 0)
			copy_rows(&pref, (y % MAX_PERIOD) / 2, &ref, y / 2, 1);
	}
	copy_rows(&lref, 0, &ref, last, 0);
	copy_rows(&lref, 0, &ref, last / 2, 1);
	check_paths(&im, &ref, "random max size (rows repeat every 194)", threads, 1);
	fp_yuv_frame_free(&ref);
	fp_yuv_frame_free(&pref);
	fp_yuv_frame_free(&lref);
	img_free(&period);
	img_free(&im);
}

/* Every 24-bit colour once (4096 x 4096, pixel (x, y) = colour y * 4096 + x): the luma of
 * every possible pixel is checked on every path, chroma on 4 Mi mixed blocks. */
static void test_sdr_every_colour(void **state)
{
	struct img im;
	(void)state;

	assert_int_equal(img_alloc(&im, 4096, 4096, 4, 0), 0);
	for (uint32_t y = 0; y < 4096; y++) {
		for (uint32_t x = 0; x < 4096; x++) {
			uint32_t c = y * 4096 + x;
			uint8_t *p = im.data + (size_t)y * im.stride + 4 * (size_t)x;

			p[0] = (uint8_t)c;
			p[1] = (uint8_t)(c >> 8);
			p[2] = (uint8_t)(c >> 16);
			p[3] = (uint8_t)(x * 7);
		}
	}
	check_all_paths(&im, "every colour");
	img_free(&im);
}

/* Every half value (NaN, +-Inf, denormals, -0 and every exponent) in each channel alone and
 * in all three (grey): 256 x 256 images, pixel i = half bits i. */
static void test_hdr_every_half(void **state)
{
	static const char *const names[] = { "every half in R", "every half in G", "every half in B",
					     "every half grey" };
	(void)state;

	for (int mode = 0; mode < 4; mode++) {
		struct img im;

		assert_int_equal(img_alloc(&im, 256, 256, 8, 0), 0);
		for (uint32_t i = 0; i < 65536; i++) {
			uint8_t *p = im.data + (size_t)(i / 256) * im.stride + 8 * (size_t)(i % 256);

			memset(p, 0, 8);
			for (int c = 0; c < 3; c++) {
				if (mode == 3 || mode == c) {
					p[2 * c] = (uint8_t)i;
					p[2 * c + 1] = (uint8_t)(i >> 8);
				}
			}
		}
		check_all_paths(&im, names[mode]);
		img_free(&im);
	}
}

/* Solid colour, 66x2: wide enough that every SIMD kernel converts columns 0..63 in its vector
 * loop (AVX2 SDR steps 32 px, the others less) and only 64..65 in the scalar tail. The value
 * is read inside the vector part, and every sample of each plane must equal it, so a
 * vector-only or tail-only error cannot hide. */
#define SOLID_W 66
#define SOLID_H 2

static void convert_solid(enum fp_cpu_path path, size_t bpp, const float rgb[3], unsigned yuv[3])
{
	const char *pname = path == FP_CPU_AUTO ? "reference" : fp_cpu_path_name(path);
	struct img im;
	struct fp_yuv_frame f;
	struct fp_converter *conv = NULL;

	assert_int_equal(img_alloc(&im, SOLID_W, SOLID_H, bpp, 0), 0);
	for (uint32_t y = 0; y < SOLID_H; y++)
		for (uint32_t x = 0; x < SOLID_W; x++)
			img_set_px(&im, x, y, rgb);
	assert_int_equal(fp_yuv_frame_alloc(&f, bpp == 8 ? FP_YUV_P010 : FP_YUV_NV12, SOLID_W, SOLID_H), 0);
	if (path == FP_CPU_AUTO) { /* AUTO here means: the reference */
		if (bpp == 8)
			fp_convert_ref_rgba16f_to_p010(im.data, im.stride, SOLID_W, SOLID_H, &f);
		else
			fp_convert_ref_xrgb_to_nv12(im.data, im.stride, SOLID_W, SOLID_H, &f);
	} else {
		assert_int_equal(fp_converter_create(&conv, 1, path), 0);
		assert_int_equal(fp_converter_run(conv, bpp == 8 ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888, im.data,
						  im.stride, SOLID_W, SOLID_H, &f), 0);
		fp_converter_destroy(conv);
	}
	yuv[0] = frame_sample(&f, 0, 13, 1);
	yuv[1] = frame_sample(&f, 1, 2 * 6, 0);
	yuv[2] = frame_sample(&f, 1, 2 * 6 + 1, 0);
	for (uint32_t y = 0; y < SOLID_H; y++)
		for (uint32_t x = 0; x < SOLID_W; x++)
			if (frame_sample(&f, 0, x, y) != yuv[0])
				fail_msg("%s: solid frame has Y %u at (%u, %u) but %u at (13, 1)", pname,
					 frame_sample(&f, 0, x, y), x, y, yuv[0]);
	for (uint32_t x = 0; x < SOLID_W; x++)
		if (frame_sample(&f, 1, x, 0) != yuv[1 + x % 2])
			fail_msg("%s: solid frame has %s %u at chroma block %u but %u at block 6", pname,
				 x % 2 ? "Cr" : "Cb", frame_sample(&f, 1, x, 0), x / 2, yuv[1 + x % 2]);
	fp_yuv_frame_free(&f);
	img_free(&im);
}

static int path_supported(enum fp_cpu_path p)
{
	struct fp_converter *conv;

	if (p == FP_CPU_AUTO)
		return 1;
	if (fp_converter_create(&conv, 1, p))
		return 0;
	fp_converter_destroy(conv);
	return 1;
}

/* 75% bars (code 191 = round(0.75 * 255)), BT.709 limited: Y = 16 + 219 Y',
 * Cb = 128 + 224 (B'-Y')/1.8556, Cr = 128 + 224 (R'-Y')/1.5748. E.g. yellow:
 * Y' = 0.9278 * 191/255 = 0.69494 -> Y 168.19, Cb 44.11, Cr 135.69 (ITU-R BT.709-6 table 3
 * coefficients; the same values as EBU/SMPTE 75% bars in 8-bit BT.709). */
static void test_sdr_known_values(void **state)
{
	static const struct {
		const char *name;
		float rgb[3];
		unsigned yuv[3];
	} bars[] = {
		{ "white75", { 0.75f, 0.75f, 0.75f }, { 180, 128, 128 } },
		{ "yellow75", { 0.75f, 0.75f, 0 }, { 168, 44, 136 } },
		{ "cyan75", { 0, 0.75f, 0.75f }, { 145, 147, 44 } },
		{ "green75", { 0, 0.75f, 0 }, { 133, 63, 52 } },
		{ "magenta75", { 0.75f, 0, 0.75f }, { 63, 193, 204 } },
		{ "red75", { 0.75f, 0, 0 }, { 51, 109, 212 } },
		{ "blue75", { 0, 0, 0.75f }, { 28, 212, 120 } },
		{ "black", { 0, 0, 0 }, { 16, 128, 128 } },
		{ "white", { 1, 1, 1 }, { 235, 128, 128 } },
		{ "red", { 1, 0, 0 }, { 63, 102, 240 } },
		{ "blue", { 0, 0, 1 }, { 32, 240, 118 } },
	};
	(void)state;

	for (int p = FP_CPU_AUTO; p <= FP_CPU_AVX2; p++) {
		if (!path_supported((enum fp_cpu_path)p))
			continue;
		for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++) {
			unsigned got[3];

			convert_solid((enum fp_cpu_path)p, 4, bars[i].rgb, got);
			if (memcmp(got, bars[i].yuv, sizeof(got)))
				fail_msg("%s on %s: got %u %u %u want %u %u %u", bars[i].name,
					 p ? fp_cpu_path_name((enum fp_cpu_path)p) : "reference", got[0], got[1],
					 got[2], bars[i].yuv[0], bars[i].yuv[1], bars[i].yuv[2]);
		}
	}
}

/* ST 2084: PQ(80/10000) = 0.48586 -> Y = 64 + 876 * 0.48586 = 489.6 -> 490;
 * scRGB 2.5375 is half 2.537109 = 202.97 nits, PQ 0.58067 -> 572.67 -> 573 (BT.2408's HDR
 * reference white, 203 nits, is PQ 58%). Greys have Cb = Cr = 512. */
static void test_hdr_known_values(void **state)
{
	static const struct {
		const char *name;
		float rgb[3];
		unsigned yuv[3];
	} cases[] = {
		{ "80 nits", { 1, 1, 1 }, { 490, 512, 512 } },
		{ "203 nits", { 2.5375f, 2.5375f, 2.5375f }, { 573, 512, 512 } },
		{ "100 nits", { 1.25f, 1.25f, 1.25f }, { 509, 512, 512 } },
		{ "black", { 0, 0, 0 }, { 64, 512, 512 } },
		{ "negative", { -1, -1, -1 }, { 64, 512, 512 } },
		{ "10000 nits", { 125, 125, 125 }, { 940, 512, 512 } },
		{ "over peak", { 1000, 1000, 1000 }, { 940, 512, 512 } },
		{ "+Inf", { (float)INFINITY, (float)INFINITY, (float)INFINITY }, { 940, 512, 512 } },
		{ "-Inf", { -(float)INFINITY, -(float)INFINITY, -(float)INFINITY }, { 64, 512, 512 } },
		{ "NaN", { (float)NAN, (float)NAN, (float)NAN }, { 64, 512, 512 } },
	};
	(void)state;

	for (int p = FP_CPU_AUTO; p <= FP_CPU_AVX2; p++) {
		if (!path_supported((enum fp_cpu_path)p))
			continue;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			unsigned got[3];

			convert_solid((enum fp_cpu_path)p, 8, cases[i].rgb, got);
			if (memcmp(got, cases[i].yuv, sizeof(got)))
				fail_msg("%s on %s: got %u %u %u want %u %u %u", cases[i].name,
					 p ? fp_cpu_path_name((enum fp_cpu_path)p) : "reference", got[0], got[1],
					 got[2], cases[i].yuv[0], cases[i].yuv[1], cases[i].yuv[2]);
		}
	}
}

/* ---- Chroma siting ----
 * Left-sited 4:2:0 (the tag the encoder writes): chroma sample (i, j) is the [1 2 1] / 4
 * filter, centred on luma column 2i, of the per-pixel chroma of rows 2j and 2j + 1, averaged
 * (column -1 = column 0, column w = w - 1, row h = h - 1). The per-pixel chroma is computed
 * here in float64 from the standards, independently of the converters. The colours are
 * random per column and row parity, so a centred 2x2 box (what the converters did before)
 * misses by tens of codes. */
#define SIT_W 131 /* 4 AVX2 SDR steps, 8 AVX2 HDR steps, then an odd scalar tail */
#define SIT_H 7   /* odd: the last row pair is one row */
/* BT.2087 publishes its matrix to 4 decimals; the reference derives it exactly. The two
 * differ by < 0.02 code in the HDR chroma (a box filter misses by tens). */
#define SIT_SLACK 0.02

/* BT.709 limited Cb, Cr of one 8-bit R'G'B' pixel. */
static void sdr_pixel_chroma(const uint8_t rgb[3], double c[2])
{
	double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
	double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;

	c[0] = 128.0 + 224.0 * (b - y) / 1.8556;
	c[1] = 128.0 + 224.0 * (r - y) / 1.5748;
}

/* BT.2020 NCL PQ limited 10-bit Cb, Cr of one scRGB pixel in [0, 1] (no clipping needed). */
static void hdr_pixel_chroma(const float rgb[3], double c[2])
{
	static const double m[3][3] = { /* BT.2087: BT.709 -> BT.2020 primaries */
		{ 0.6274, 0.3293, 0.0433 }, { 0.0691, 0.9195, 0.0114 }, { 0.0164, 0.0880, 0.8956 },
	};
	const double m1 = 0.1593017578125, m2 = 78.84375, c1 = 0.8359375, c2 = 18.8515625, c3 = 18.6875;
	double e[3], y;

	for (int k = 0; k < 3; k++) {
		/* scRGB 1.0 = 80 nits; PQ is of luminance / 10000 nits. */
		double l = (m[k][0] * rgb[0] + m[k][1] * rgb[1] + m[k][2] * rgb[2]) * 80.0 / 10000.0;
		double p = pow(l, m1);

		e[k] = pow((c1 + c2 * p) / (1.0 + c3 * p), m2);
	}
	y = 0.2627 * e[0] + 0.6780 * e[1] + 0.0593 * e[2];
	c[0] = 512.0 + 896.0 * (e[2] - y) / 1.8814;
	c[1] = 512.0 + 896.0 * (e[0] - y) / 1.4746;
}

struct siting_card {
	struct img im;
	double (*chroma)[2]; /* per pixel, row-major */
};

static void siting_card(struct siting_card *card, size_t bpp)
{
	uint64_t seed = 0x51713 + bpp;

	assert_int_equal(img_alloc(&card->im, SIT_W, SIT_H, bpp, 3), 0);
	card->chroma = calloc((size_t)SIT_W * SIT_H, sizeof(*card->chroma));
	assert_non_null(card->chroma);
	for (uint32_t x = 0; x < SIT_W; x++) {
		for (uint32_t parity = 0; parity < 2; parity++) {
			uint64_t v = rng_next(&seed);
			uint8_t code[3] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16) };
			/* HDR: k / 64 is exact in half float, so the card holds exactly rgb. */
			float rgb[3] = { (float)(code[0] % 65) / 64.0f, (float)(code[1] % 65) / 64.0f,
					 (float)(code[2] % 65) / 64.0f };
			double c[2];

			if (bpp == 4) {
				for (int k = 0; k < 3; k++)
					rgb[k] = (float)code[k] / 255.0f;
				sdr_pixel_chroma(code, c);
			} else {
				hdr_pixel_chroma(rgb, c);
			}
			for (uint32_t y = parity; y < SIT_H; y += 2) {
				img_set_px(&card->im, x, y, rgb);
				memcpy(card->chroma[(size_t)y * SIT_W + x], c, sizeof(c));
			}
		}
	}
}

/* The left-sited value of chroma sample (i, j), component c, from the per-pixel chroma. */
static double sited(const struct siting_card *card, uint32_t i, uint32_t j, int c)
{
	static const double wt[3] = { 0.25, 0.5, 0.25 };
	double v = 0;

	for (int k = 0; k < 6; k++) {
		long x = 2 * (long)i - 1 + k % 3;
		uint32_t y = 2 * j + (uint32_t)(k / 3);

		x = x < 0 ? 0 : x >= SIT_W ? SIT_W - 1 : x;
		y = y >= SIT_H ? SIT_H - 1 : y;
		v += wt[k % 3] / 2.0 * card->chroma[(size_t)y * SIT_W + (size_t)x][c];
	}
	return v;
}

/* Largest |f - sited| over the chroma plane; *at gets the sample where it is. */
static double siting_error(const struct siting_card *card, const struct fp_yuv_frame *f, uint32_t at[3])
{
	double worst = 0;

	for (uint32_t j = 0; j < (SIT_H + 1) / 2; j++) {
		for (uint32_t i = 0; i < (SIT_W + 1) / 2; i++) {
			for (int c = 0; c < 2; c++) {
				double e = fabs(frame_sample(f, 1, 2 * i + (uint32_t)c, j) - sited(card, i, j, c));

				if (e > worst) {
					worst = e;
					at[0] = i;
					at[1] = j;
					at[2] = (uint32_t)c;
				}
			}
		}
	}
	return worst;
}

static void check_siting(size_t bpp)
{
	static const unsigned threads[] = { 1, 3 };
	const enum fp_yuv_format yf = bpp == 8 ? FP_YUV_P010 : FP_YUV_NV12;
	struct siting_card card;
	struct fp_yuv_frame ref, out, scalar;
	uint32_t at[3] = { 0, 0, 0 };
	double e;

	siting_card(&card, bpp);
	assert_int_equal(fp_yuv_frame_alloc(&ref, yf, SIT_W, SIT_H), 0);
	assert_int_equal(fp_yuv_frame_alloc(&out, yf, SIT_W, SIT_H), 0);
	assert_int_equal(fp_yuv_frame_alloc(&scalar, yf, SIT_W, SIT_H), 0);
	reference(&card.im, &ref);
	/* The reference rounds the exact value once: within half a code, plus SIT_SLACK. */
	e = siting_error(&card, &ref, at);
	if (e > 0.5 + SIT_SLACK)
		fail_msg("%s reference: %s at chroma (%u, %u) is %.3f codes from the left-sited value",
			 bpp == 8 ? "P010" : "NV12", at[2] ? "Cr" : "Cb", at[0], at[1], e);
	for (size_t p = 0; p < sizeof(all_paths) / sizeof(all_paths[0]); p++) {
		for (size_t t = 0; t < 2; t++) {
			struct fp_converter *conv;
			int r = fp_converter_create(&conv, threads[t], all_paths[p]);

			if (r == -ENOTSUP)
				continue;
			assert_int_equal(r, 0);
			assert_int_equal(fp_converter_run(conv, bpp == 8 ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888,
							  card.im.data, card.im.stride, SIT_W, SIT_H, &out), 0);
			fp_converter_destroy(conv);
			/* The paths' contract: within 1 code of the reference, so 1.5 of the exact value. */
			e = siting_error(&card, &out, at);
			if (e > 1.5 + SIT_SLACK)
				fail_msg("%s path %s threads %u: %s at chroma (%u, %u) is %.3f codes from the "
					 "left-sited value", bpp == 8 ? "P010" : "NV12", fp_cpu_path_name(all_paths[p]),
					 threads[t], at[2] ? "Cr" : "Cb", at[0], at[1], e);
			if (all_paths[p] == FP_CPU_SCALAR)
				for (int k = 0; k < 2; k++)
					memcpy(scalar.data[k], out.data[k], scalar.stride[k] * (k ? (SIT_H + 1) / 2 : SIT_H));
			/* SSE2 SDR does the scalar integer arithmetic: bit-exact. */
			if (all_paths[p] == FP_CPU_SSE2 && bpp == 4) {
				struct plane_diff d = frame_compare(&out, &scalar);

				assert_int_equal(d.max_err[0], 0);
				assert_int_equal(d.max_err[1], 0);
			}
		}
	}
	fp_yuv_frame_free(&scalar);
	fp_yuv_frame_free(&out);
	fp_yuv_frame_free(&ref);
	free(card.chroma);
	img_free(&card.im);
}

static void test_sdr_chroma_siting(void **state)
{
	(void)state;
	check_siting(4);
}

static void test_hdr_chroma_siting(void **state)
{
	(void)state;
	check_siting(8);
}

static void test_api(void **state)
{
	struct fp_converter *conv;
	struct fp_yuv_frame nv12, p010;
	uint8_t src[8 * 4 * 4] = { 0 };
	(void)state;

	fp_converter_destroy(NULL);
	assert_int_equal(fp_converter_create(NULL, 1, FP_CPU_AUTO), -EINVAL);
	assert_int_equal(fp_converter_create(&conv, 1, (enum fp_cpu_path)99), -EINVAL);
	assert_string_equal(fp_cpu_path_name(FP_CPU_AVX2), "avx2");
	assert_string_equal(fp_cpu_path_name(FP_CPU_SCALAR), "scalar");

	/* The environment forces a path when the caller asks for AUTO. */
	setenv("FRAMEPUSH_CPU_PATH", "scalar", 1);
	assert_int_equal(fp_converter_create(&conv, 0, FP_CPU_AUTO), 0);
	assert_int_equal(fp_converter_path(conv), FP_CPU_SCALAR);
	fp_converter_destroy(conv);
	setenv("FRAMEPUSH_CPU_PATH", "bogus", 1);
	assert_int_equal(fp_converter_create(&conv, 2, FP_CPU_AUTO), 0);
	assert_int_not_equal(fp_converter_path(conv), FP_CPU_AUTO);
	fp_converter_destroy(conv);
	unsetenv("FRAMEPUSH_CPU_PATH");

	assert_int_equal(fp_converter_create(&conv, 4, FP_CPU_AUTO), 0);
	assert_int_equal(fp_yuv_frame_alloc(&nv12, FP_YUV_NV12, 4, 4), 0);
	assert_int_equal(fp_yuv_frame_alloc(&p010, FP_YUV_P010, 4, 4), 0);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, src, 16, 4, 4, &nv12), 0);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_RGBA16F, src, 32, 4, 4, &p010), 0);
	/* format mismatch, short stride, wrong size, NULLs */
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, src, 16, 4, 4, &p010), -EINVAL);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_RGBA16F, src, 32, 4, 4, &nv12), -EINVAL);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, src, 15, 4, 4, &nv12), -EINVAL);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, src, 16, 4, 2, &nv12), -EINVAL);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, NULL, 16, 4, 4, &nv12), -EINVAL);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, src, 16, 4, 4, NULL), -EINVAL);
	assert_int_equal(fp_converter_run(NULL, FP_PIXFMT_XRGB8888, src, 16, 4, 4, &nv12), -EINVAL);
	assert_int_equal(fp_converter_run(conv, (enum fp_pixfmt)7, src, 16, 4, 4, &nv12), -EINVAL);
	fp_yuv_frame_free(&nv12);
	fp_yuv_frame_free(&p010);
	fp_converter_destroy(conv);
}

/* Many frames through one pool: bands must not race (run under TSan/ASan too). */
static void test_pool_reuse(void **state)
{
	struct fp_converter *conv;
	struct fp_yuv_frame a, b;
	struct img im;
	(void)state;

	assert_int_equal(img_alloc(&im, 640, 480, 4, 0), 0);
	img_fill(&im, PAT_RANDOM, 99);
	assert_int_equal(fp_yuv_frame_alloc(&a, FP_YUV_NV12, 640, 480), 0);
	assert_int_equal(fp_yuv_frame_alloc(&b, FP_YUV_NV12, 640, 480), 0);
	assert_int_equal(fp_converter_create(&conv, 1, FP_CPU_AUTO), 0);
	assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, im.data, im.stride, 640, 480, &a), 0);
	fp_converter_destroy(conv);
	assert_int_equal(fp_converter_create(&conv, 8, FP_CPU_AUTO), 0);
	for (int i = 0; i < 50; i++) {
		struct plane_diff d;

		memset(b.data[0], 0, b.stride[0] * 480);
		assert_int_equal(fp_converter_run(conv, FP_PIXFMT_XRGB8888, im.data, im.stride, 640, 480, &b), 0);
		d = frame_compare(&b, &a);
		assert_int_equal(d.max_err[0], 0);
		assert_int_equal(d.max_err[1], 0);
	}
	fp_converter_destroy(conv);
	fp_yuv_frame_free(&a);
	fp_yuv_frame_free(&b);
	img_free(&im);
}

int main(int argc, char **argv)
{
	/* What runs the worker pool with several threads: all ThreadSanitizer needs (scripts/
	 * test.sh), without the exhaustive value sweeps that take it minutes and find no race
	 * the pool tests would not. */
	const struct CMUnitTest threaded[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_sdr_chroma_siting),
		cmocka_unit_test(test_hdr_chroma_siting),
		cmocka_unit_test(test_sdr_paths_vs_reference),
		cmocka_unit_test(test_hdr_paths_vs_reference),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_sdr_known_values),
		cmocka_unit_test(test_hdr_known_values),
		cmocka_unit_test(test_sdr_chroma_siting),
		cmocka_unit_test(test_hdr_chroma_siting),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_sdr_paths_vs_reference),
		cmocka_unit_test(test_hdr_paths_vs_reference),
		cmocka_unit_test(test_sdr_max_size),
		cmocka_unit_test(test_hdr_max_size),
		cmocka_unit_test(test_sdr_every_colour),
		cmocka_unit_test(test_hdr_every_half),
	};

	if (argc > 1 && !strcmp(argv[1], "--threaded"))
		return cmocka_run_group_tests(threaded, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
