/* framepush-bench transport — how long a frame takes from the source's publish to the host
 * having it converted in hand: eventfd wakeup, token checks, slot lock, convert, release.
 * The source stamps each slot with its capture time right before publishing; the host
 * measures against that on the same CLOCK_MONOTONIC. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "common/util.h"
#include "framepush/capture.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int run(const char *exe, uint32_t w, uint32_t h, unsigned n)
{
	struct fp_capture_opts o = { .source_exe = exe, .backend = "test", .spec = "pattern=solid",
				     .width = w, .height = h, .fps = 120, .convert_threads = 1 };
	struct fp_capture *cap;
	int64_t *lat = calloc(n, sizeof(*lat));
	unsigned got = 0;
	char why[512];
	int r;

	if (!lat)
		return -ENOMEM;
	r = fp_capture_open(&cap, &o, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "bench transport: capture failed: %s\n", why);
		free(lat);
		return r;
	}
	while (got < n) {
		const struct fp_yuv_frame *f;

		/* A far deadline: only a fresh frame (never a repeat) wakes us. */
		r = fp_capture_next_frame(cap, fp_now_ns() + FP_NSEC_PER_SEC, &f);
		if (r < 0)
			break;
		if (!f->repeated)
			lat[got++] = fp_now_ns() - f->pts_ns;
	}
	fp_capture_close(cap);
	if (got) {
		qsort(lat, got, sizeof(*lat), cmp_i64);
		printf("%ux%u SDR, %u frames: publish -> converted frame in hand p50 %.3f ms, "
		       "p99 %.3f ms, max %.3f ms\n", w, h, got, (double)lat[got / 2] / 1e6,
		       (double)lat[(size_t)got * 99 / 100] / 1e6, (double)lat[got - 1] / 1e6);
		printf("bench transport %ux%u frames=%u p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", w, h,
		       got, (double)lat[got / 2] / 1e6, (double)lat[(size_t)got * 99 / 100] / 1e6,
		       (double)lat[got - 1] / 1e6);
	}
	free(lat);
	return r < 0 ? r : 0;
}

int bench_transport_main(int argc, char **argv)
{
	char exe[PATH_MAX + 32], self[PATH_MAX];
	unsigned n = 600;
	ssize_t len;
	int c;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n')
			return 2;
		n = (unsigned)strtoul(optarg, NULL, 10);
	}
	/* framepush-source lives in the build's tools/ next to bench/. */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		return 1;
	self[len] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(exe, sizeof(exe), "%s/../tools/framepush-source", self);
	if (getenv("FRAMEPUSH_SOURCE"))
		snprintf(exe, sizeof(exe), "%s", getenv("FRAMEPUSH_SOURCE"));
	if (run(exe, 320, 180, n ? n : 600) < 0 || run(exe, 1920, 1080, n ? n : 600) < 0)
		return 1;
	return 0;
}
