/* framepush-soak — the capturer under churn for a long time: a 60 fps test source whose
 * display changes (size and SDR/HDR) every --flip-every seconds, killed with SIGKILL and
 * restarted every --kill-every seconds, every frame's signature verified. It samples the
 * host's open fds and anonymous resident memory about once a second, always in the same
 * state (the base mode, every output buffer of it), and reports their least-squares slope
 * over the run after a warm-up, so a leak shows as a number, not as a feeling.
 *
 * Passes (exit 0) when no corrupted frame was handed out (signature failures, frames of the
 * wrong geometry), every kill was followed by a counted restart, the fd count ends where it
 * was after the warm-up, and anonymous resident memory grew less than --rss-slope-max
 * KiB/min.
 * doc/SECURITY.md has the 10-minute run; CI runs 60 s (meson test soak). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"

/* Anonymous resident memory (heap, stacks): what a leak grows. The ring's shared memory is
 * left out (RssShmem): it follows the display's current mode, not the run's length. */
static long rss_anon_kib(void)
{
	char line[128];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* Least-squares slope of y over x (per unit of x). */
static double slope(const double *x, const double *y, size_t n)
{
	double mx = 0, my = 0, sxy = 0, sxx = 0;

	for (size_t i = 0; i < n; i++)
		mx += x[i] / (double)n, my += y[i] / (double)n;
	for (size_t i = 0; i < n; i++)
		sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
	return sxx > 0 ? sxy / sxx : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' }, { "flip-every", required_argument, NULL, 'f' },
		{ "kill-every", required_argument, NULL, 'k' }, { "warmup", required_argument, NULL, 'w' },
		{ "rss-slope-max", required_argument, NULL, 'r' }, { "source", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	double seconds = 600, flip_s = 2, kill_s = 30, warmup_s = 10, rss_max = 256;
	char source_exe[4096], spec[64], why[512];
	const char *root = getenv("FRAMEPUSH_BUILD_ROOT");
	struct fp_capture_opts o = { .backend = "test", .width = 640, .height = 360, .fps = 60,
				     .verify_signatures = 1, .convert_threads = 1 };
	struct fp_capture_stats st;
	struct fp_capture *cap;
	double *t, *fds, *rss;
	size_t n = 0, cap_n;
	unsigned long frames = 0, wrong_geometry = 0, kills = 0, base_run = 0;
	int64_t start, next_sample, next_kill, period = FP_NSEC_PER_SEC / 60, tick;
	int c, r = 0, fds_warm = -1, fds_end, ok, verbose = 0;

	snprintf(source_exe, sizeof(source_exe), "%s/tools/framepush-source", root ? root : "build");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': seconds = atof(optarg); break;
		case 'f': flip_s = atof(optarg); break;
		case 'k': kill_s = atof(optarg); break;
		case 'w': warmup_s = atof(optarg); break;
		case 'r': rss_max = atof(optarg); break;
		case 'x': snprintf(source_exe, sizeof(source_exe), "%s", optarg); break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: framepush-soak [--seconds S] [--flip-every S] "
					"[--kill-every S] [--warmup S] [--rss-slope-max KIB_PER_MIN] "
					"[--source PATH] [--verbose]\n");
			return 2;
		}
	}
	if (seconds <= warmup_s + 5 || flip_s <= 0 || kill_s <= 0) {
		fprintf(stderr, "framepush-soak: want --seconds > --warmup + 5, positive intervals\n");
		return 2;
	}
	fp_log_init("framepush-soak");
	if (!getenv("FRAMEPUSH_LOG"))
		fp_log_set_level(FP_LOG_WARN);
	/* The test source flips every N published frames: N = 60 fps x the interval. */
	snprintf(spec, sizeof(spec), "pattern=moving,flip-every=%u", (unsigned)(flip_s * 60));
	o.source_exe = source_exe;
	o.spec = spec;
	o.max_source_restarts = (unsigned)(seconds / kill_s) + 1;
	cap_n = (size_t)seconds + 2;
	t = calloc(cap_n, sizeof(*t));
	fds = calloc(cap_n, sizeof(*fds));
	rss = calloc(cap_n, sizeof(*rss));
	if (!t || !fds || !rss)
		return 1;
	r = fp_capture_open(&cap, &o, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "framepush-soak: open failed: %s\n", why);
		return 1;
	}
	start = fp_now_ns();
	next_sample = start + FP_NSEC_PER_SEC;
	next_kill = start + (int64_t)(kill_s * 1e9);
	for (tick = start + period; tick < start + (int64_t)(seconds * 1e9); tick += period) {
		const struct fp_yuv_frame *f;
		int64_t now;

		r = fp_capture_next_frame(cap, tick, &f);
		if (r < 0)
			break;
		frames++;
		fp_capture_get_stats(cap, &st);
		/* The test source's two modes: 640x360 and, flipped, 960x540 (fp_test flip). */
		if (f->width < 16 || f->height < 16 || f->width > 1920 || f->height > 1080)
			wrong_geometry++;
		/* Memory is sampled in one state only: the base mode, every output buffer of it. */
		base_run = f->width == o.width && f->height == o.height ? base_run + 1 : 0;
		now = fp_now_ns();
		if (now >= next_kill) {
			kill(fp_capture_source_pid(cap), SIGKILL);
			kills++;
			next_kill += (int64_t)(kill_s * 1e9);
		}
		if (now >= next_sample && base_run > 8 && n < cap_n) {
			t[n] = (double)(now - start) / 60e9; /* minutes */
			fds[n] = fp_count_open_fds();
			rss[n] = (double)rss_anon_kib();
			if (fds_warm < 0 && now - start >= (int64_t)(warmup_s * 1e9))
				fds_warm = (int)fds[n];
			if (verbose && n % 10 == 0)
				printf("%4zu s: %.0f fds, %.0f KiB anonymous resident\n", n + 1, fds[n], rss[n]);
			n++;
			next_sample = now + FP_NSEC_PER_SEC;
		}
		if (tick < now - 4 * period) /* a restart stalls the loop: do not burst after it */
			tick = now - period;
	}
	fp_capture_get_stats(cap, &st);
	fds_end = fp_count_open_fds();
	{
		size_t w = 0;

		while (w < n && t[w] * 60 < warmup_s)
			w++;
		double fd_slope = n - w > 2 ? slope(t + w, fds + w, n - w) : 0;
		double rss_slope = n - w > 2 ? slope(t + w, rss + w, n - w) : 0;

		ok = r == 0 && st.signature_failures == 0 && wrong_geometry == 0 &&
		     st.source_restarts == kills && fds_end == fds_warm && rss_slope < rss_max;
		printf("soak %.0f s: %lu frames (%llu fresh, %llu repeated), %llu display changes, "
		       "%lu kills, %llu restarts, %llu signature failures, %lu wrong-size frames; "
		       "fds %d after warm-up, %d at the end (slope %.2f/min); RssAnon %.0f -> %.0f KiB "
		       "(slope %.1f KiB/min, limit %.0f): %s%s%s\n",
		       (double)(fp_now_ns() - start) / 1e9, frames,
		       (unsigned long long)st.frames_fresh, (unsigned long long)st.frames_repeated,
		       (unsigned long long)st.recreates, kills, (unsigned long long)st.source_restarts,
		       (unsigned long long)st.signature_failures, wrong_geometry, fds_warm, fds_end,
		       fd_slope, n > w ? rss[w] : 0, n ? rss[n - 1] : 0, rss_slope, rss_max,
		       ok ? "PASS" : "FAIL", r < 0 ? ": " : "", r < 0 ? fp_capture_error(cap) : "");
	}
	fp_capture_close(cap);
	free(t);
	free(fds);
	free(rss);
	return ok ? 0 : 1;
}
