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
#include <stdint.h>
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

struct soak {
	/* Options. */
	double seconds, flip_s, kill_s, warmup_s, rss_max;
	char source_exe[4096];
	int verbose;
	/* One sample a second: minutes since the start, open fds, RssAnon KiB. */
	double *t, *fds, *rss;
	size_t n, cap_n;
	int fds_warm;
	/* The run. */
	struct fp_capture *cap;
	int64_t start;
	unsigned long frames, wrong_geometry, kills;
	int r;
};

/* The longest run or interval an option may ask for: a week, far past any soak, and far
 * below what its nanoseconds (int64) or its samples (one a second) could overflow. */
#define OPT_SECONDS_MAX (7ull * 24 * 3600)

/* One whole-number option, strict (fp_parse_uint): "1.5", "30s" or "" is a mistake to
 * report, not 1, 30 or 0 as atof read them. 0, or -1 with the reason printed. */
static int opt_whole(const char *name, const char *arg, unsigned long long max, double *out)
{
	unsigned long long v;

	if (fp_parse_uint(arg, 0, max, &v) < 0) {
		fprintf(stderr, "framepush-soak: --%s wants a whole number in [0, %llu], not '%s'\n",
			name, max, arg);
		return -1;
	}
	*out = (double)v;
	return 0;
}

/* 0, or the exit status for a bad command line. */
static int parse_args(struct soak *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' }, { "flip-every", required_argument, NULL, 'f' },
		{ "kill-every", required_argument, NULL, 'k' }, { "warmup", required_argument, NULL, 'w' },
		{ "rss-slope-max", required_argument, NULL, 'r' }, { "source", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = getenv("FRAMEPUSH_BUILD_ROOT");
	int c, bad = 0;

	snprintf(s->source_exe, sizeof(s->source_exe), "%s/tools/framepush-source",
		 root ? root : "build");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': bad |= opt_whole("seconds", optarg, OPT_SECONDS_MAX, &s->seconds); break;
		case 'f': bad |= opt_whole("flip-every", optarg, OPT_SECONDS_MAX, &s->flip_s); break;
		case 'k': bad |= opt_whole("kill-every", optarg, OPT_SECONDS_MAX, &s->kill_s); break;
		case 'w': bad |= opt_whole("warmup", optarg, OPT_SECONDS_MAX, &s->warmup_s); break;
		case 'r': bad |= opt_whole("rss-slope-max", optarg, UINT32_MAX, &s->rss_max); break;
		case 'x': snprintf(s->source_exe, sizeof(s->source_exe), "%s", optarg); break;
		case 'v': s->verbose = 1; break;
		default:
			fprintf(stderr, "usage: framepush-soak [--seconds S] [--flip-every S] "
					"[--kill-every S] [--warmup S] [--rss-slope-max KIB_PER_MIN] "
					"[--source PATH] [--verbose]\n");
			return 2;
		}
	}
	if (bad)
		return 2;
	if (s->seconds <= s->warmup_s + 5 || s->flip_s <= 0 || s->kill_s <= 0) {
		fprintf(stderr, "framepush-soak: want --seconds > --warmup + 5, positive intervals\n");
		return 2;
	}
	return 0;
}

static void take_sample(struct soak *s, int64_t now)
{
	size_t n = s->n;

	s->t[n] = (double)(now - s->start) / 60e9; /* minutes */
	s->fds[n] = fp_count_open_fds();
	s->rss[n] = (double)rss_anon_kib();
	if (s->fds_warm < 0 && now - s->start >= (int64_t)(s->warmup_s * 1e9))
		s->fds_warm = (int)s->fds[n];
	if (s->verbose && n % 10 == 0)
		printf("%4zu s: %.0f fds, %.0f KiB anonymous resident\n", n + 1, s->fds[n], s->rss[n]);
	s->n++;
}

#define KILL_QUIET_NS (2 * FP_NSEC_PER_SEC) /* a restart takes well under 1 s here */

/* Pulls frames at 60 fps for --seconds, killing the source and sampling on schedule. */
static void soak_loop(struct soak *s, uint32_t base_w, uint32_t base_h)
{
	int64_t period = FP_NSEC_PER_SEC / 60, tick;
	int64_t next_sample = s->start + FP_NSEC_PER_SEC;
	int64_t next_kill = s->start + (int64_t)(s->kill_s * 1e9);
	int64_t end = s->start + (int64_t)(s->seconds * 1e9);
	unsigned long base_run = 0;

	for (tick = s->start + period; tick < end; tick += period) {
		const struct fp_yuv_frame *f;
		int64_t now;

		s->r = fp_capture_next_frame(s->cap, tick, &f);
		if (s->r < 0)
			break;
		s->frames++;
		/* The test source's two modes: 640x360 and, flipped, 960x540 (fp_test flip). */
		if (f->width < 16 || f->height < 16 || f->width > 1920 || f->height > 1080)
			s->wrong_geometry++;
		/* Memory is sampled in one state only: the base mode, every output buffer of it. */
		base_run = f->width == base_w && f->height == base_h ? base_run + 1 : 0;
		now = fp_now_ns();
		/* No kill in the last KILL_QUIET_NS: a source killed at the very end would not be
		 * restarted before the verdict counts restarts against kills (a false FAIL). */
		if (now >= next_kill && now < end - KILL_QUIET_NS) {
			kill(fp_capture_source_pid(s->cap), SIGKILL);
			s->kills++;
			next_kill += (int64_t)(s->kill_s * 1e9);
		}
		if (now >= next_sample && base_run > 8 && s->n < s->cap_n) {
			take_sample(s, now);
			next_sample = now + FP_NSEC_PER_SEC;
		}
		if (tick < now - 4 * period) /* a restart stalls the loop: do not burst after it */
			tick = now - period;
	}
}

/* Prints the verdict line; 1 when the run passed. */
static int report(const struct soak *s)
{
	struct fp_capture_stats st;
	size_t w = 0, n = s->n;
	int fds_end, ok;

	fp_capture_get_stats(s->cap, &st);
	fds_end = fp_count_open_fds();
	while (w < n && s->t[w] * 60 < s->warmup_s)
		w++;
	double fd_slope = n - w > 2 ? slope(s->t + w, s->fds + w, n - w) : 0;
	double rss_slope = n - w > 2 ? slope(s->t + w, s->rss + w, n - w) : 0;

	ok = s->r == 0 && st.signature_failures == 0 && s->wrong_geometry == 0 &&
	     st.source_restarts == s->kills && fds_end == s->fds_warm && rss_slope < s->rss_max;
	printf("soak %.0f s: %lu frames (%llu fresh, %llu repeated), %llu display changes, "
	       "%lu kills, %llu restarts, %llu signature failures, %lu wrong-size frames; "
	       "fds %d after warm-up, %d at the end (slope %.2f/min); RssAnon %.0f -> %.0f KiB "
	       "(slope %.1f KiB/min, limit %.0f): %s%s%s\n",
	       (double)(fp_now_ns() - s->start) / 1e9, s->frames,
	       (unsigned long long)st.frames_fresh, (unsigned long long)st.frames_repeated,
	       (unsigned long long)st.recreates, s->kills, (unsigned long long)st.source_restarts,
	       (unsigned long long)st.signature_failures, s->wrong_geometry, s->fds_warm, fds_end,
	       fd_slope, n > w ? s->rss[w] : 0, n ? s->rss[n - 1] : 0, rss_slope, s->rss_max,
	       ok ? "PASS" : "FAIL", s->r < 0 ? ": " : "", s->r < 0 ? fp_capture_error(s->cap) : "");
	return ok;
}

int main(int argc, char **argv)
{
	struct soak s = { .seconds = 600, .flip_s = 2, .kill_s = 30, .warmup_s = 10,
			  .rss_max = 256, .fds_warm = -1 };
	struct fp_capture_opts o = { .backend = "test", .width = 640, .height = 360, .fps = 60,
				     .verify_signatures = 1, .convert_threads = 1 };
	char spec[64], why[512];
	int ok, r;

	r = parse_args(&s, argc, argv);
	if (r)
		return r;
	fp_log_init("framepush-soak");
	if (!getenv("FRAMEPUSH_LOG"))
		fp_log_set_level(FP_LOG_WARN);
	/* The test source flips every N published frames: N = 60 fps x the interval. */
	snprintf(spec, sizeof(spec), "pattern=moving,flip-every=%u", (unsigned)(s.flip_s * 60));
	o.source_exe = s.source_exe;
	o.spec = spec;
	o.max_source_restarts = (unsigned)(s.seconds / s.kill_s) + 1;
	s.cap_n = (size_t)s.seconds + 2;
	s.t = calloc(s.cap_n, sizeof(*s.t));
	s.fds = calloc(s.cap_n, sizeof(*s.fds));
	s.rss = calloc(s.cap_n, sizeof(*s.rss));
	if (!s.t || !s.fds || !s.rss)
		return 1;
	if (fp_capture_open(&s.cap, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "framepush-soak: open failed: %s\n", why);
		return 1;
	}
	s.start = fp_now_ns();
	soak_loop(&s, o.width, o.height);
	ok = report(&s);
	fp_capture_close(s.cap);
	free(s.t);
	free(s.fds);
	free(s.rss);
	return ok ? 0 : 1;
}
