/* framepush-bench convert — our converters vs libyuv, libswscale, zimg and memcpy on the same
 * source frames in one process. Peers run single-threaded (none of them slices by itself);
 * "ours" is timed with 1 thread and with all cores. */
#include "bench.h"
#include "common/util.h"
#include "framepush/convert.h"
#include "framepush/proto.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libyuv.h>
#include <libswscale/swscale.h>
#include <libavutil/pixfmt.h>
#include <zimg.h>

#define MAX_SIZES 8
#define ALIGN 64

static size_t align_up(size_t v)
{
	return (v + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static void *xalloc(size_t n)
{
	void *p = aligned_alloc(ALIGN, align_up(n ? n : 1));

	if (!p) {
		fprintf(stderr, "framepush-bench: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	memset(p, 0, n);
	return p;
}

struct ctx {
	uint32_t w, h;
	enum fp_pixfmt fmt;
	const uint8_t *src;
	size_t src_stride;
	struct fp_converter *conv;
	struct fp_yuv_frame *out;
	/* memcpy */
	uint8_t *copy;
	size_t bytes;
	/* libswscale */
	struct SwsContext *sws;
	/* zimg */
	zimg_filter_graph *graph;
	void *tmp;
	uint16_t *hplane[3], *zplane[3];
	size_t hstride, zstride[3];
	int exact; /* zimg without allow_approximate_gamma */
};

static void run_ours(void *p)
{
	struct ctx *c = p;

	if (fp_converter_run(c->conv, c->fmt, c->src, c->src_stride, c->w, c->h, c->out))
		abort();
}

static void run_memcpy(void *p)
{
	struct ctx *c = p;

	memcpy(c->copy, c->src, c->bytes);
}

static void run_libyuv(void *p)
{
	struct ctx *c = p;

	ARGBToNV12(c->src, (int)c->src_stride, c->out->data[0], (int)c->out->stride[0], c->out->data[1],
		   (int)c->out->stride[1], (int)c->w, (int)c->h);
}

static void run_sws(void *p)
{
	struct ctx *c = p;
	const uint8_t *src[4] = { c->src, NULL, NULL, NULL };
	int sstride[4] = { (int)c->src_stride, 0, 0, 0 };
	uint8_t *dst[4] = { c->out->data[0], c->out->data[1], NULL, NULL };
	int dstride[4] = { (int)c->out->stride[0], (int)c->out->stride[1], 0, 0 };

	sws_scale(c->sws, src, sstride, 0, (int)c->h, dst, dstride);
}

/* zimg wants planar input: split the interleaved RGBA16F into three half planes first. */
static void zimg_split(struct ctx *c)
{
	for (uint32_t y = 0; y < c->h; y++) {
		const uint16_t *s = (const uint16_t *)(const void *)(c->src + (size_t)y * c->src_stride);
		uint16_t *r = c->hplane[0] + y * c->hstride / 2, *g = c->hplane[1] + y * c->hstride / 2;
		uint16_t *b = c->hplane[2] + y * c->hstride / 2;

		for (uint32_t x = 0; x < c->w; x++) {
			r[x] = s[4 * x];
			g[x] = s[4 * x + 1];
			b[x] = s[4 * x + 2];
		}
	}
}

static void zimg_core(struct ctx *c)
{
	zimg_image_buffer_const in = { .version = ZIMG_API_VERSION };
	zimg_image_buffer out = { .version = ZIMG_API_VERSION };

	for (int i = 0; i < 3; i++) {
		in.plane[i].data = c->hplane[i];
		in.plane[i].stride = (ptrdiff_t)c->hstride;
		in.plane[i].mask = ZIMG_BUFFER_MAX;
		out.plane[i].data = c->zplane[i];
		out.plane[i].stride = (ptrdiff_t)c->zstride[i];
		out.plane[i].mask = ZIMG_BUFFER_MAX;
	}
	if (zimg_filter_graph_process(c->graph, &in, &out, c->tmp, NULL, NULL, NULL, NULL))
		abort();
}

/* zimg writes planar 10-bit in the low bits: pack into P010 to produce the same output. */
static void zimg_pack(struct ctx *c)
{
	for (uint32_t y = 0; y < c->h; y++) {
		const uint16_t *s = c->zplane[0] + y * c->zstride[0] / 2;
		uint16_t *d = (uint16_t *)(void *)(c->out->data[0] + y * c->out->stride[0]);

		for (uint32_t x = 0; x < c->w; x++)
			d[x] = (uint16_t)(s[x] << 6);
	}
	for (uint32_t y = 0; y < (c->h + 1) / 2; y++) {
		const uint16_t *u = c->zplane[1] + y * c->zstride[1] / 2, *v = c->zplane[2] + y * c->zstride[2] / 2;
		uint16_t *d = (uint16_t *)(void *)(c->out->data[1] + y * c->out->stride[1]);

		for (uint32_t x = 0; x < (c->w + 1) / 2; x++) {
			d[2 * x] = (uint16_t)(u[x] << 6);
			d[2 * x + 1] = (uint16_t)(v[x] << 6);
		}
	}
}

static void run_zimg(void *p)
{
	zimg_split(p);
	zimg_core(p);
	zimg_pack(p);
}

static void run_zimg_core(void *p)
{
	zimg_core(p);
}

/* The peer's graph: half-float linear BT.709 RGB -> PQ BT.2020 NCL limited, with left-sited
 * chroma like ours. sub = 1: 4:2:0 10-bit, what is timed; sub = 0: 4:4:4 16-bit, only for
 * measuring zimg's chroma accuracy without its chroma filter (its bilinear 2:1 filter is not
 * our [1 2 1] x 2-row one). exact = 0
 * lets zimg evaluate PQ from a table (allow_approximate_gamma, its fastest mode). */
static zimg_filter_graph *zimg_build(uint32_t w, uint32_t h, int exact, int sub, size_t *tmp)
{
	zimg_image_format in, out;
	zimg_graph_builder_params params;
	zimg_filter_graph *g;
	char msg[256];

	zimg_image_format_default(&in, ZIMG_API_VERSION);
	zimg_image_format_default(&out, ZIMG_API_VERSION);
	zimg_graph_builder_params_default(&params, ZIMG_API_VERSION);
	in.width = out.width = w;
	in.height = out.height = h;
	in.pixel_type = ZIMG_PIXEL_HALF;
	in.color_family = ZIMG_COLOR_RGB;
	in.matrix_coefficients = ZIMG_MATRIX_RGB;
	in.transfer_characteristics = ZIMG_TRANSFER_LINEAR;
	in.color_primaries = ZIMG_PRIMARIES_709;
	out.pixel_type = ZIMG_PIXEL_WORD;
	out.depth = sub ? 10 : 16;
	out.pixel_range = ZIMG_RANGE_LIMITED;
	out.color_family = ZIMG_COLOR_YUV;
	out.matrix_coefficients = ZIMG_MATRIX_2020_NCL;
	out.transfer_characteristics = ZIMG_TRANSFER_ST2084;
	out.color_primaries = ZIMG_PRIMARIES_2020;
	out.subsample_w = out.subsample_h = sub ? 1 : 0;
	out.chroma_location = ZIMG_CHROMA_LEFT; /* ours: left siting (doc/convert.md) */
	params.nominal_peak_luminance = 80.0;      /* scRGB 1.0 = 80 nits */
	params.allow_approximate_gamma = !exact;
	params.cpu_type = ZIMG_CPU_AUTO_64B;
	params.resample_filter_uv = ZIMG_RESIZE_BILINEAR;
	g = zimg_filter_graph_build(&in, &out, &params);
	if (!g || zimg_filter_graph_get_tmp_size(g, tmp)) {
		zimg_get_last_error(msg, sizeof(msg));
		fprintf(stderr, "framepush-bench: zimg: %s\n", msg);
		zimg_filter_graph_free(g);
		return NULL;
	}
	return g;
}

static int zimg_setup(struct ctx *c, int exact)
{
	size_t tmp = 0;

	c->exact = exact;
	c->graph = zimg_build(c->w, c->h, exact, 1, &tmp);
	if (!c->graph)
		return -1;
	c->tmp = xalloc(tmp);
	c->hstride = align_up((size_t)c->w * 2);
	for (int i = 0; i < 3; i++) {
		uint32_t pw = i ? (c->w + 1) / 2 : c->w, ph = i ? (c->h + 1) / 2 : c->h;

		c->hplane[i] = xalloc(c->hstride * c->h);
		c->zstride[i] = align_up((size_t)pw * 2);
		c->zplane[i] = xalloc(c->zstride[i] * ph);
	}
	return 0;
}

static void zimg_teardown(struct ctx *c)
{
	zimg_filter_graph_free(c->graph);
	free(c->tmp);
	for (int i = 0; i < 3; i++) {
		free(c->hplane[i]);
		free(c->zplane[i]);
	}
}

/* ---- Accuracy against the float64 reference (fp_convert_ref_rgba16f_to_p010) ----
 * Errors in 10-bit codes. Luma is compared as each converter produces it. Chroma: ours and
 * the reference filter columns 2i-1, 2i, 2i+1 by [1 2 1] / 4 and average the row pair (left
 * siting); zimg's 2:1 chroma filters (bilinear, bicubic, ...) weigh other samples, so its
 * chroma is measured from a 4:4:4 16-bit graph with the same settings, filtered here like
 * ours: that is zimg's own colour maths (primaries, PQ, matrix) under our chroma filter. The
 * timed 4:2:0 graph's chroma is reported too ("as timed"), but its difference from ours is
 * the filter, not an error. */
struct acc {
	int ymax, cmax;
	double ymean, cmean;
};

struct acc_result {
	uint32_t w, h;
	const char *name;
	struct acc a;
	int has_direct; /* zimg: chroma of the timed 4:2:0 graph in direct_* */
	int direct_cmax;
	double direct_cmean;
};

static struct acc_result accs[3 * MAX_SIZES];
static unsigned naccs;

static unsigned p010_code(const struct fp_yuv_frame *f, int plane, uint32_t x, uint32_t y)
{
	const uint16_t *row = (const uint16_t *)(const void *)(f->data[plane] + (size_t)y * f->stride[plane]);

	return row[x] >> 6;
}

static struct acc acc_measure(const struct fp_yuv_frame *ref, const struct fp_yuv_frame *got)
{
	struct acc a = { 0, 0, 0, 0 };

	for (int pl = 0; pl < 2; pl++) {
		uint32_t w = pl ? (ref->width + 1) / 2 * 2 : ref->width;
		uint32_t h = pl ? (ref->height + 1) / 2 : ref->height;
		uint64_t sum = 0;
		int max = 0;

		for (uint32_t y = 0; y < h; y++) {
			for (uint32_t x = 0; x < w; x++) {
				int e = abs((int)p010_code(ref, pl, x, y) - (int)p010_code(got, pl, x, y));

				sum += (uint64_t)e;
				max = e > max ? e : max;
			}
		}
		if (pl) {
			a.cmax = max;
			a.cmean = (double)sum / ((double)w * h);
		} else {
			a.ymax = max;
			a.ymean = (double)sum / ((double)w * h);
		}
	}
	return a;
}

static struct acc_result *acc_add(uint32_t w, uint32_t h, const char *name, struct acc a)
{
	if (naccs == sizeof(accs) / sizeof(accs[0]))
		return NULL;
	accs[naccs] = (struct acc_result){ w, h, name, a, 0, 0, 0 };
	return &accs[naccs++];
}

static const struct acc_result *acc_find(uint32_t w, uint32_t h, const char *name)
{
	for (unsigned i = 0; i < naccs; i++)
		if (accs[i].w == w && accs[i].h == h && !strcmp(accs[i].name, name))
			return &accs[i];
	return NULL;
}

/* c: a zimg contender after its timed runs (its half planes hold the split source, c->out
 * the packed P010 of the timed graph). Records luma as timed, chroma filtered like ours from
 * a 4:4:4 16-bit graph with the same settings. */
static int zimg_accuracy(const struct ctx *c, const char *name, const struct fp_yuv_frame *ref)
{
	zimg_image_buffer_const in = { .version = ZIMG_API_VERSION };
	zimg_image_buffer out = { .version = ZIMG_API_VERSION };
	struct fp_yuv_frame sited;
	struct acc_result *res;
	struct acc direct;
	uint16_t *full[3];
	size_t tmpsize = 0, fstride = align_up((size_t)c->w * 2);
	zimg_filter_graph *g = zimg_build(c->w, c->h, c->exact, 0, &tmpsize);
	void *tmp;
	int r = 0;

	if (!g)
		return -1;
	tmp = xalloc(tmpsize);
	for (int i = 0; i < 3; i++) {
		full[i] = xalloc(fstride * c->h);
		in.plane[i].data = c->hplane[i];
		in.plane[i].stride = (ptrdiff_t)c->hstride;
		in.plane[i].mask = ZIMG_BUFFER_MAX;
		out.plane[i].data = full[i];
		out.plane[i].stride = (ptrdiff_t)fstride;
		out.plane[i].mask = ZIMG_BUFFER_MAX;
	}
	if (zimg_filter_graph_process(g, &in, &out, tmp, NULL, NULL, NULL, NULL) ||
	    fp_yuv_frame_alloc(&sited, FP_YUV_P010, c->w, c->h)) {
		fprintf(stderr, "framepush-bench: zimg 4:4:4 accuracy graph failed\n");
		r = -1;
		goto out;
	}
	direct = acc_measure(ref, c->out);
	for (uint32_t y = 0; y < c->h; y++)
		memcpy(sited.data[0] + y * sited.stride[0], c->out->data[0] + y * c->out->stride[0], (size_t)c->w * 2);
	for (uint32_t y = 0; y < (c->h + 1) / 2; y++) {
		/* Edge replication for odd sizes, as ours and the reference do. */
		uint32_t y0 = 2 * y, y1 = 2 * y + 1 < c->h ? 2 * y + 1 : 2 * y;
		uint16_t *d = (uint16_t *)(void *)(sited.data[1] + y * sited.stride[1]);

		for (uint32_t x = 0; x < (c->w + 1) / 2; x++) {
			uint32_t xl = x ? 2 * x - 1 : 0, x0 = 2 * x, x1 = 2 * x + 1 < c->w ? 2 * x + 1 : 2 * x;

			for (int p = 1; p <= 2; p++) {
				const uint16_t *r0 = full[p] + y0 * fstride / 2, *r1 = full[p] + y1 * fstride / 2;
				/* 16-bit limited = 10-bit limited x 64; weights 1 2 1 in two rows sum to
				 * 8: the weighted sum is 512 x the code. */
				uint32_t code = (r0[xl] + 2u * r0[x0] + r0[x1] + r1[xl] + 2u * r1[x0] + r1[x1] +
						 256u) >> 9;

				code = code < 64 ? 64 : code > 960 ? 960 : code;
				d[2 * x + (uint32_t)p - 1] = (uint16_t)(code << 6);
			}
		}
	}
	res = acc_add(c->w, c->h, name, acc_measure(ref, &sited));
	if (res) {
		res->has_direct = 1;
		res->direct_cmax = direct.cmax;
		res->direct_cmean = direct.cmean;
	}
	fp_yuv_frame_free(&sited);
out:
	for (int i = 0; i < 3; i++)
		free(full[i]);
	free(tmp);
	zimg_filter_graph_free(g);
	return r;
}

static uint16_t half_of(float f)
{
	/* Positive normal values only (the test card). */
	uint32_t b;
	int e;

	if (f < 0x1p-14f)
		return 0;
	memcpy(&b, &f, 4);
	e = (int)(b >> 23) - 127 + 15;
	return (uint16_t)(e << 10 | ((b >> 13) & 0x3ff));
}

/* A card with texture: bars, ramps and a little noise so no peer sees flat memory. */
static void fill_source(uint8_t *src, size_t stride, uint32_t w, uint32_t h, int hdr)
{
	uint64_t s = 0x1234567;

	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			float rgb[3];

			s = s * 6364136223846793005ull + 1442695040888963407ull;
			rgb[0] = (float)((x * 8 / w) & 1) * 0.5f + (float)x / (float)w * 0.5f;
			rgb[1] = (float)((x * 8 / w) & 2) * 0.25f + (float)y / (float)h * 0.5f;
			rgb[2] = (float)((x * 8 / w) & 4) * 0.125f + (float)(s >> 60) / 64.0f;
			if (hdr) {
				uint16_t *p = (uint16_t *)(void *)(src + (size_t)y * stride + (size_t)x * 8);

				for (int c = 0; c < 3; c++)
					p[c] = half_of(rgb[c] * 6.0f);
				p[3] = 0x3c00;
			} else {
				uint8_t *p = src + (size_t)y * stride + (size_t)x * 4;

				for (int c = 0; c < 3; c++)
					p[2 - c] = (uint8_t)(rgb[c] * 255.0f);
				p[3] = 255;
			}
		}
	}
}

struct result {
	const char *mode;
	uint32_t w, h;
	const char *name;
	unsigned threads;
	double ms;
};

static struct result results[16 * MAX_SIZES];
static unsigned nresults;

/* One contender of a round: all of a mode's contenders are timed in turns (round robin), so
 * that a noisy neighbour or a frequency change hits every one of them alike. */
struct contender {
	const char *name;
	unsigned threads;
	bench_fn fn;
	struct ctx *ctx;
	double *samples;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void run_round_robin(const char *mode, uint32_t w, uint32_t h, struct contender *c, unsigned n,
			    unsigned iterations)
{
	for (unsigned k = 0; k < n; k++) {
		c[k].samples = xalloc(iterations * sizeof(double));
		c[k].fn(c[k].ctx); /* warm-up: page in outputs, lazy init */
	}
	/* The start rotates every round: whoever runs right after memcpy or after a peer that
	 * just read the same source sees colder or warmer caches, and no one may keep either. */
	for (unsigned i = 0; i < iterations; i++) {
		for (unsigned j = 0; j < n; j++) {
			unsigned k = (i + j) % n;
			double t0 = now_ms();

			c[k].fn(c[k].ctx);
			c[k].samples[i] = now_ms() - t0;
		}
	}
	for (unsigned k = 0; k < n; k++) {
		double *t = c[k].samples, med;

		qsort(t, iterations, sizeof(*t), cmp_double);
		med = iterations % 2 ? t[iterations / 2] : (t[iterations / 2 - 1] + t[iterations / 2]) / 2;
		if (nresults < sizeof(results) / sizeof(results[0]))
			results[nresults++] = (struct result){ mode, w, h, c[k].name, c[k].threads, med };
		free(t);
	}
}

static const struct result *find(const char *mode, uint32_t w, uint32_t h, const char *name,
				 unsigned threads)
{
	for (unsigned i = 0; i < nresults; i++)
		if (!strcmp(results[i].mode, mode) && results[i].w == w && results[i].h == h &&
		    !strcmp(results[i].name, name) && (threads == 0 || results[i].threads == threads))
			return &results[i];
	return NULL;
}

static enum fp_cpu_path bench_path = FP_CPU_AUTO;

/* What every contender of one size shares: the converters, the sources, the outputs (each
 * contender writes its own output frame; all read the same source). */
struct bench_set {
	uint32_t w, h;
	unsigned nthreads;
	struct fp_converter *one, *all;
	struct fp_yuv_frame nv12[4], p010[4];
	uint8_t *sdr_src, *hdr_src, *copy;
	struct SwsContext *sws;
};

static int set_open(struct bench_set *s)
{
	uint32_t w = s->w, h = s->h;
	int r;

	if ((r = fp_converter_create(&s->one, 1, bench_path)) ||
	    (r = fp_converter_create(&s->all, s->nthreads, bench_path))) {
		fprintf(stderr, "framepush-bench: fp_converter_create: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		if (fp_yuv_frame_alloc(&s->nv12[i], FP_YUV_NV12, w, h) ||
		    fp_yuv_frame_alloc(&s->p010[i], FP_YUV_P010, w, h)) {
			fprintf(stderr, "framepush-bench: cannot allocate %ux%u frames\n", w, h);
			return 1;
		}
	}
	s->sdr_src = xalloc((size_t)w * 4 * h);
	s->hdr_src = xalloc((size_t)w * 8 * h);
	s->copy = xalloc((size_t)w * 8 * h);
	fill_source(s->sdr_src, (size_t)w * 4, w, h, 0);
	fill_source(s->hdr_src, (size_t)w * 8, w, h, 1);
	s->sws = sws_getContext((int)w, (int)h, AV_PIX_FMT_BGR0, (int)w, (int)h, AV_PIX_FMT_NV12,
				SWS_BILINEAR, NULL, NULL, NULL);
	if (!s->sws) {
		fprintf(stderr, "framepush-bench: sws_getContext failed\n");
		return 1;
	}
	/* BT.709 matrix, full-range RGB in, limited-range YUV out. */
	sws_setColorspaceDetails(s->sws, sws_getCoefficients(SWS_CS_ITU709), 1,
				 sws_getCoefficients(SWS_CS_ITU709), 0, 0, 1 << 16, 1 << 16);
	return 0;
}

static void set_close(struct bench_set *s)
{
	sws_freeContext(s->sws);
	fp_converter_destroy(s->one);
	fp_converter_destroy(s->all);
	for (int i = 0; i < 4; i++) {
		fp_yuv_frame_free(&s->nv12[i]);
		fp_yuv_frame_free(&s->p010[i]);
	}
	free(s->sdr_src);
	free(s->hdr_src);
	free(s->copy);
}

/* n contexts on one source; outputs 0..3 their own, the rest share the last. Then "ours"
 * with one thread (c[0]) and, where there are more, with all (c[1]) open the round;
 * returns how many contenders that made. */
static unsigned round_begin(struct bench_set *s, struct ctx *c, int n, int hdr,
			    struct contender *k)
{
	struct fp_yuv_frame *out = hdr ? s->p010 : s->nv12;
	size_t bpp = hdr ? 8 : 4;
	unsigned nk = 0;

	for (int i = 0; i < n; i++)
		c[i] = (struct ctx){ .w = s->w, .h = s->h,
				     .fmt = hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888,
				     .src = hdr ? s->hdr_src : s->sdr_src, .src_stride = (size_t)s->w * bpp,
				     .out = &out[i < 4 ? i : 3], .copy = s->copy,
				     .bytes = (size_t)s->w * bpp * s->h, .sws = hdr ? NULL : s->sws };
	c[0].conv = s->one;
	c[1].conv = s->all;
	k[nk++] = (struct contender){ "ours", 1, run_ours, &c[0], NULL };
	if (s->nthreads > 1)
		k[nk++] = (struct contender){ "ours", s->nthreads, run_ours, &c[1], NULL };
	return nk;
}

static void time_sdr(struct bench_set *s, unsigned iterations)
{
	struct ctx c[5];
	struct contender k[5];
	unsigned n = round_begin(s, c, 5, 0, k);

	k[n++] = (struct contender){ "libyuv", 1, run_libyuv, &c[2], NULL };
	k[n++] = (struct contender){ "swscale", 1, run_sws, &c[3], NULL };
	k[n++] = (struct contender){ "memcpy", 1, run_memcpy, &c[4], NULL };
	run_round_robin("sdr", s->w, s->h, k, n, iterations);
}

/* zimg, zimg-core and zimg-exact each have their own graph and planes; zimg-core shares
 * zimg's (it times the graph alone on the planes zimg's split filled). c[] stays the
 * caller's: the accuracy check reads the outputs and graphs the timed runs left. */
static void time_hdr(struct bench_set *s, struct ctx c[7], unsigned iterations)
{
	struct contender k[7];
	unsigned n = round_begin(s, c, 7, 1, k);

	if (zimg_setup(&c[2], 0) == 0) {
		k[n++] = (struct contender){ "zimg", 1, run_zimg, &c[2], NULL };
		c[5] = c[2]; /* same graph and planes; core only, writes no P010 */
		k[n++] = (struct contender){ "zimg-core", 1, run_zimg_core, &c[5], NULL };
	}
	if (zimg_setup(&c[3], 1) == 0)
		k[n++] = (struct contender){ "zimg-exact", 1, run_zimg, &c[3], NULL };
	k[n++] = (struct contender){ "memcpy", 1, run_memcpy, &c[6], NULL };
	run_round_robin("hdr", s->w, s->h, k, n, iterations);
}

/* Accuracy of the outputs the timed HDR runs left behind, against the float64 reference;
 * releases the zimg graphs. */
static int hdr_accuracy(const struct bench_set *s, struct ctx c[7])
{
	struct fp_yuv_frame ref;

	if (fp_yuv_frame_alloc(&ref, FP_YUV_P010, s->w, s->h)) {
		fprintf(stderr, "framepush-bench: cannot allocate %ux%u frames\n", s->w, s->h);
		return 1;
	}
	fp_convert_ref_rgba16f_to_p010(s->hdr_src, (size_t)s->w * 8, s->w, s->h, &ref);
	acc_add(s->w, s->h, "ours", acc_measure(&ref, c[0].out));
	if (c[2].graph && zimg_accuracy(&c[2], "zimg", &ref))
		return 1;
	if (c[3].graph && zimg_accuracy(&c[3], "zimg-exact", &ref))
		return 1;
	fp_yuv_frame_free(&ref);
	if (c[2].graph)
		zimg_teardown(&c[2]);
	if (c[3].graph)
		zimg_teardown(&c[3]);
	return 0;
}

static int bench_size(uint32_t w, uint32_t h, unsigned iterations, unsigned nthreads)
{
	struct bench_set s = { .w = w, .h = h, .nthreads = nthreads };
	struct ctx hdr[7];

	if (set_open(&s))
		return 1;
	time_sdr(&s, iterations);
	time_hdr(&s, hdr, iterations);
	if (hdr_accuracy(&s, hdr))
		return 1;
	set_close(&s);
	return 0;
}

static const char *peer_note(const char *name)
{
	if (!strcmp(name, "libyuv"))
		return "ARGBToNV12, BT.601 (speed reference only)";
	if (!strcmp(name, "swscale"))
		return "sws_scale BGR0->NV12, BT.709 limited, SWS_BILINEAR";
	if (!strcmp(name, "zimg"))
		return "split RGBA16F->3 half planes + zimg (approximate PQ) + pack P010";
	if (!strcmp(name, "zimg-core"))
		return "zimg graph only (approximate PQ; planar half in, planar u16 out)";
	if (!strcmp(name, "zimg-exact"))
		return "as zimg, exact PQ (no allow_approximate_gamma)";
	if (!strcmp(name, "memcpy"))
		return "memcpy of the same source bytes";
	return "";
}

static const char *cmp_word(double ours, double peer)
{
	return ours < peer ? "ours lower" : ours > peer ? "peer lower" : "same";
}

/* How a zimg row's accuracy compares with ours: max and mean error over Y and (filter-matched)
 * C. "Same or better accuracy" in the sense holds for ours where neither says
 * "peer lower". zimg-core is zimg's graph: the same output, so zimg's accuracy. */
static const char *acc_verdict(uint32_t w, uint32_t h, const char *name)
{
	static char buf[128];
	const struct acc_result *o = acc_find(w, h, "ours");
	const struct acc_result *p = acc_find(w, h, !strcmp(name, "zimg-core") ? "zimg" : name);

	if (!o || !p)
		return "";
	snprintf(buf, sizeof(buf), "; vs ours: max err Y %s, C %s; mean err Y %s, C %s",
		 cmp_word(o->a.ymax, p->a.ymax), cmp_word(o->a.cmax, p->a.cmax), cmp_word(o->a.ymean, p->a.ymean),
		 cmp_word(o->a.cmean, p->a.cmean));
	return buf;
}

static void print_accuracy(void)
{
	if (!naccs)
		return;
	printf("\naccuracy (HDR, vs the float64 reference, 10-bit codes; zimg chroma: its 4:4:4 output\n"
	       "filtered like ours ([1 2 1] x 2 rows, left-sited); \"as timed\" = its bilinear\n"
	       "4:2:0 chroma, which differs by the filter, not by error)\n");
	printf("%-10s %-10s %5s %8s %5s %8s  %s\n", "size", "impl", "Y max", "Y mean", "C max", "C mean",
	       "notes");
	for (unsigned i = 0; i < naccs; i++) {
		const struct acc_result *r = &accs[i];
		char size[24], note[192] = "";

		snprintf(size, sizeof(size), "%ux%u", r->w, r->h);
		if (r->has_direct)
			snprintf(note, sizeof(note), "C as timed: max %d, mean %.4f%s", r->direct_cmax, r->direct_cmean,
				 acc_verdict(r->w, r->h, r->name));
		printf("%-10s %-10s %5d %8.4f %5d %8.4f  %s\n", size, r->name, r->a.ymax, r->a.ymean, r->a.cmax,
		       r->a.cmean, note);
	}
}

struct bench_opts {
	uint32_t sizes[MAX_SIZES][2];
	unsigned nsizes, iterations, nthreads;
};

/* "WxH[,WxH...]", each within FP_WIDTH_* x FP_HEIGHT_*, at most MAX_SIZES of them. */
static int parse_sizes(const char *s, struct bench_opts *o)
{
	o->nsizes = 0;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char one[32];

		if (len >= sizeof(one) || o->nsizes == MAX_SIZES)
			return -EINVAL;
		memcpy(one, s, len);
		one[len] = '\0';
		if (fp_parse_size(one, FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX,
				  &o->sizes[o->nsizes][0], &o->sizes[o->nsizes][1]))
			return -EINVAL;
		o->nsizes++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

/* FP_CPU_AUTO for a name that is no forced path. */
static enum fp_cpu_path parse_path(const char *name)
{
	for (int p = FP_CPU_SCALAR; p <= FP_CPU_AVX2; p++)
		if (!strcmp(name, fp_cpu_path_name((enum fp_cpu_path)p)))
			return (enum fp_cpu_path)p;
	return FP_CPU_AUTO;
}

/* 0, or the exit status for a bad command line (every option takes a value). */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	for (int i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long v;

		if (!val)
			goto usage;
		if (!strcmp(opt, "--iterations")) {
			if (fp_parse_uint(val, 1, 100000, &v)) {
				fprintf(stderr, "framepush-bench: --iterations must be 1..100000\n");
				return 2;
			}
			o->iterations = (unsigned)v;
		} else if (!strcmp(opt, "--threads")) {
			if (fp_parse_uint(val, 1, 64, &v)) {
				fprintf(stderr, "framepush-bench: --threads must be 1..64\n");
				return 2;
			}
			o->nthreads = (unsigned)v;
		} else if (!strcmp(opt, "--path")) {
			bench_path = parse_path(val);
			if (bench_path == FP_CPU_AUTO) {
				fprintf(stderr, "framepush-bench: --path wants scalar|sse2|ssse3|avx2\n");
				return 2;
			}
		} else if (!strcmp(opt, "--sizes")) {
			if (parse_sizes(val, o)) {
				fprintf(stderr, "framepush-bench: --sizes wants WxH[,WxH...] within "
						"%ux%u..%ux%u\n", FP_WIDTH_MIN, FP_HEIGHT_MIN,
					FP_WIDTH_MAX, FP_HEIGHT_MAX);
				return 2;
			}
		} else {
			goto usage;
		}
	}
	return 0;
usage:
	fprintf(stderr, "usage: framepush-bench convert [--iterations N] [--sizes WxH[,WxH...]] "
			"[--threads N] [--path scalar|sse2|ssse3|avx2]\n");
	return 2;
}

static void print_results(void)
{
	printf("\n%-4s %-10s %-10s %7s %10s %9s  %s\n", "mode", "size", "impl", "threads", "median_ms", "Mpix/s",
	       "notes");
	for (unsigned i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		char size[24];

		snprintf(size, sizeof(size), "%ux%u", r->w, r->h);
		printf("%-4s %-10s %-10s %7u %10.3f %9.1f  %s%s\n", r->mode, size, r->name, r->threads, r->ms,
		       (double)r->w * r->h / (r->ms * 1e3), peer_note(r->name),
		       strncmp(r->name, "zimg", 4) ? "" : acc_verdict(r->w, r->h, r->name));
	}
}

/* One grep-able line per (mode, size, our thread count, peer). */
static void print_speedups(const struct bench_opts *o)
{
	static const char *const modes[] = { "sdr", "hdr" };
	static const char *const peers[] = { "libyuv", "swscale", "zimg", "zimg-core", "zimg-exact", "memcpy" };
	unsigned tlist[2] = { 1, o->nthreads };

	for (unsigned i = 0; i < o->nsizes; i++) {
		uint32_t w = o->sizes[i][0], h = o->sizes[i][1];

		for (int m = 0; m < 2; m++) {
			for (int t = 0; t < (o->nthreads > 1 ? 2 : 1); t++) {
				const struct result *ours = find(modes[m], w, h, "ours", tlist[t]);

				for (int p = 0; p < 6; p++) {
					const struct result *peer = find(modes[m], w, h, peers[p], 0);

					if (!ours || !peer)
						continue;
					printf("bench convert %s %ux%u threads=%u ours_ms=%.3f peer=%s peer_ms=%.3f "
					       "speedup=%.2f\n", modes[m], w, h, tlist[t], ours->ms, peers[p], peer->ms,
					       peer->ms / ours->ms);
				}
			}
		}
	}
	for (unsigned i = 0; i < naccs; i++)
		printf("bench accuracy hdr %ux%u impl=%s y_max=%d y_mean=%.4f c_max=%d c_mean=%.4f\n", accs[i].w,
		       accs[i].h, accs[i].name, accs[i].a.ymax, accs[i].a.ymean, accs[i].a.cmax, accs[i].a.cmean);
}

int bench_convert_main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct bench_opts o = { .sizes = { { FP_MODE_DEFAULT_WIDTH, FP_MODE_DEFAULT_HEIGHT }, { 3840, 2160 } },
				.nsizes = 2, .iterations = 30, .nthreads = ncpu > 0 ? (unsigned)ncpu : 1 };
	struct fp_converter *probe;
	int r = parse_args(argc, argv, &o);

	if (r)
		return r;
	if (fp_converter_create(&probe, 1, bench_path)) {
		fprintf(stderr, "framepush-bench: CPU path %s not available\n", fp_cpu_path_name(bench_path));
		return 1;
	}
	printf("framepush-bench convert: path %s, %u threads for \"all cores\", median of %u runs,\n"
	       "contenders timed in turns on the same source frame; peers single-threaded\n",
	       fp_cpu_path_name(fp_converter_path(probe)), o.nthreads, o.iterations);
	fp_converter_destroy(probe);
	for (unsigned i = 0; i < o.nsizes; i++)
		if (bench_size(o.sizes[i][0], o.sizes[i][1], o.iterations, o.nthreads))
			return 1;
	print_results();
	print_accuracy();
	printf("\n");
	print_speedups(&o);
	return 0;
}
