/* framepush-bench source — what the test source costs per frame, apart from the channel:
 * drawing its pattern (source side), signing the frame (source side) and checking
 * the signature (host side), each the median over N frames at one size. The live benchmarks
 * run this source on the same cores as the host, so whatever it spends is taken from the
 * host's budget; issue 13 wants the draw well under 1 ms a frame at 1920x1080. A memcpy of
 * the whole frame is timed too: the floor for anything that writes every byte.
 * Usage: framepush-bench source [--size WxH] [--hdr] [--pattern moving|bars|solid]
 *        [--iterations N] (defaults 1920x1080, SDR, moving, 200). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench.h"
#include "channel/signature.h"
#include "common/util.h"
#include "test.h"

struct source_opts {
	uint32_t width, height;
	int hdr;
	const char *pattern; /* the test source's pattern= */
	unsigned iterations;
};

/* One column of per-frame times, in ns. */
enum { T_DRAW, T_SIGN, T_CHECK, T_COPY, T_COUNT };

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double median_ms(int64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	return (double)v[n / 2] / 1e6;
}

/* Times frame i: draw, sign, check, copy. -EPROTO when the check refuses a frame it signed. */
static int time_frame(struct fp_backend *b, const struct source_opts *o, uint8_t *px, uint8_t *copy,
		      size_t stride, uint32_t i, int64_t *t[T_COUNT])
{
	uint32_t fmt = o->hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888;
	struct fp_signature sig;
	enum fp_sig_result s;
	int64_t t0, t1, t2, t3;

	t0 = fp_now_ns();
	fp_test_pattern_render(b, px, stride, i);
	t1 = fp_now_ns();
	fp_signature_write(px, stride, o->width, o->height, fmt, i, 1);
	t2 = fp_now_ns();
	s = fp_signature_check(px, stride, o->width, o->height, fmt, &sig);
	t3 = fp_now_ns();
	memcpy(copy, px, stride * o->height);
	t[T_COPY][i] = fp_now_ns() - t3;
	t[T_DRAW][i] = t1 - t0;
	t[T_SIGN][i] = t2 - t1;
	t[T_CHECK][i] = t3 - t2;
	if (s != FP_SIG_OK || sig.frame != i) {
		fprintf(stderr, "bench source: frame %u failed its own signature: %s\n", i,
			fp_sig_result_name(s));
		return -EPROTO;
	}
	return 0;
}

static int run(const struct source_opts *o)
{
	struct fp_backend_args args = { .width = o->width, .height = o->height, .fps = 60 };
	char spec[64];
	size_t stride = ((size_t)o->width * (o->hdr ? 8 : 4) + 63) & ~(size_t)63;
	uint8_t *px = aligned_alloc(64, stride * o->height);
	uint8_t *copy = aligned_alloc(64, stride * o->height);
	int64_t *t[T_COUNT] = { 0 };
	double ms[T_COUNT];
	struct fp_backend *b = NULL;
	int r = -ENOMEM;

	for (int k = 0; k < T_COUNT; k++)
		t[k] = calloc(o->iterations, sizeof(int64_t));
	if (!px || !copy || !t[T_DRAW] || !t[T_SIGN] || !t[T_CHECK] || !t[T_COPY])
		goto out;
	snprintf(spec, sizeof(spec), "hdr=%d,pattern=%s", o->hdr, o->pattern);
	args.spec = spec;
	r = fp_backend_test.create(&b, &args);
	if (r < 0)
		goto out;
	/* Pages in and caches warm, as a ring's slots are after their first frames. */
	memset(copy, 0, stride * o->height);
	for (uint32_t i = 0; i < 3; i++)
		fp_test_pattern_render(b, px, stride, i);
	for (uint32_t i = 0; i < o->iterations && r >= 0; i++)
		r = time_frame(b, o, px, copy, stride, i, t);
	if (r < 0)
		goto out;
	for (int k = 0; k < T_COUNT; k++)
		ms[k] = median_ms(t[k], o->iterations);
	printf("%ux%u %s %s, median of %u frames: draw %.3f ms, sign %.3f ms, check %.3f ms, "
	       "memcpy of the frame %.3f ms\n", o->width, o->height, o->hdr ? "HDR RGBA16F" : "SDR",
	       o->pattern, o->iterations, ms[T_DRAW], ms[T_SIGN], ms[T_CHECK], ms[T_COPY]);
	printf("bench source %ux%u %s pattern=%s frames=%u draw_ms=%.3f sign_ms=%.3f "
	       "check_ms=%.3f memcpy_ms=%.3f\n", o->width, o->height, o->hdr ? "hdr" : "sdr",
	       o->pattern, o->iterations, ms[T_DRAW], ms[T_SIGN], ms[T_CHECK], ms[T_COPY]);
out:
	if (b)
		fp_backend_test.destroy(b);
	for (int k = 0; k < T_COUNT; k++)
		free(t[k]);
	free(copy);
	free(px);
	return r;
}

static int usage(void)
{
	fprintf(stderr, "usage: framepush-bench source [--size WxH] [--hdr] [--iterations N]\n"
			"                              [--pattern moving|bars|solid]\n");
	return 2;
}

int bench_source_main(int argc, char **argv)
{
	struct source_opts o = { .width = 1920, .height = 1080, .pattern = "moving",
				 .iterations = 200 };

	for (int i = 1; i < argc; i++) {
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long v;

		if (!strcmp(argv[i], "--hdr")) {
			o.hdr = 1;
		} else if (!strcmp(argv[i], "--size") && val) {
			if (fp_parse_size(val, FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX,
					  &o.width, &o.height))
				return usage();
			i++;
		} else if (!strcmp(argv[i], "--pattern") && val) {
			if (strcmp(val, "moving") && strcmp(val, "bars") && strcmp(val, "solid"))
				return usage();
			o.pattern = val;
			i++;
		} else if (!strcmp(argv[i], "--iterations") && val) {
			if (fp_parse_uint(val, 1, 100000, &v))
				return usage();
			o.iterations = (unsigned)v;
			i++;
		} else {
			return usage();
		}
	}
	return run(&o) < 0 ? 1 : 0;
}
