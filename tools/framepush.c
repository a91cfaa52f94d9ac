/* framepush — the host program: capture a display through framepush-source, convert,
 * and write the result. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "output/y4m.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: framepush record --source SPEC [options] -o FILE.y4m\n"
"\n"
"Capture a display through a sealed shared-memory ring and write it to a file.\n"
"\n"
"  --source SPEC      what to capture: test[:key=value,...]\n"
"                       pattern=moving|bars|solid   animated stripes, 75%% bars, one colour\n"
"                       rgb=R/G/B      solid colour: 0..1 for SDR, scRGB floats for HDR\n"
"                                      (rgb=2.5/2.5/2.5 is 200-nit white)\n"
"                       hdr=0|1        RGBA16F scRGB source -> 10-bit BT.2020 PQ output\n"
"                       flip-every=N   change size and SDR/HDR every N frames\n"
"                       idle=1         publish only when kicked (an idle desktop)\n"
"  --size WxH         display size (default 1920x1080)\n"
"  --fps N            output frame rate (default 60); idle periods repeat the last frame\n"
"  --duration SEC     how long to record (default 3; Ctrl-C ends early, cleanly)\n"
"  -o, --output FILE  Y4M file: SDR is 8-bit 4:2:0, HDR 10-bit 4:2:0 (C420p10). When the\n"
"                     display changes mode, recording continues in FILE.1.y4m, FILE.2.y4m...\n"
"  --stats-json FILE  write the session's counters as JSON\n"
"  --pipeline-depth N frames in flight downstream, 1..3 (default 2, or\n"
"                     $FRAMEPUSH_PIPELINE_DEPTH)\n"
"  --threads N        converter threads (default: one per CPU)\n"
"  -q, --quiet        no progress line\n"
"\n"
"Environment: FRAMEPUSH_LOG=debug|info|warn|error, FRAMEPUSH_SOURCE=path of framepush-source.\n"
"Exit status: 0 done (also after Ctrl-C), 1 capture or output failed, 2 bad usage.\n"
"\n"
"Example: framepush record --source test:pattern=bars --duration 3 -o bars.y4m\n");
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	unsigned a, b;
	char x, tail;

	if (sscanf(s, "%u%c%u%c", &a, &x, &b, &tail) != 3 || (x != 'x' && x != 'X'))
		return -EINVAL;
	*w = a;
	*h = b;
	return 0;
}

/* framepush-source lives next to this binary, unless FRAMEPUSH_SOURCE says otherwise. */
static int find_source_exe(char *out, size_t cap)
{
	const char *env = getenv("FRAMEPUSH_SOURCE");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/framepush-source", self) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static char *segment_name(const char *base, unsigned seg)
{
	size_t n = strlen(base) + 32;
	char *s = malloc(n);
	const char *dot;

	if (!s)
		return NULL;
	if (seg == 0) {
		snprintf(s, n, "%s", base);
		return s;
	}
	dot = strrchr(base, '.');
	if (dot && !strchr(dot, '/'))
		snprintf(s, n, "%.*s.%u%s", (int)(dot - base), base, seg, dot);
	else
		snprintf(s, n, "%s.%u", base, seg);
	return s;
}

static int write_stats_json(const char *path, const struct fp_capture_stats *s, double seconds,
			    uint64_t drops, const char *error, unsigned segments)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fp_error("cannot write stats to %s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f,
		"{\n  \"frames_out\": %llu,\n  \"frames_fresh\": %llu,\n  \"frames_repeated\": %llu,\n"
		"  \"frames_dropped\": %llu,\n  \"stale_rejected\": %llu,\n  \"busy_skipped\": %llu,\n"
		"  \"recreates\": %llu,\n  \"signature_failures\": %llu,\n  \"kicks\": %llu,\n"
		"  \"abandoned_slots\": %llu,\n  \"segments\": %u,\n  \"seconds\": %.3f,\n"
		"  \"fps\": %.3f,\n  \"source_status\": \"%s\",\n  \"source_detail\": %u,\n"
		"  \"error\": ",
		(unsigned long long)s->frames_out, (unsigned long long)s->frames_fresh,
		(unsigned long long)s->frames_repeated, (unsigned long long)drops,
		(unsigned long long)s->stale_rejected, (unsigned long long)s->busy_skipped,
		(unsigned long long)s->recreates, (unsigned long long)s->signature_failures,
		(unsigned long long)s->kicks, (unsigned long long)s->abandoned_slots, segments, seconds,
		seconds > 0 ? (double)s->frames_out / seconds : 0.0,
		fp_source_status_name(s->source_status), s->source_detail);
	if (error) {
		fputc('"', f);
		for (const char *p = error; *p; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', f);
			if ((unsigned char)*p >= 0x20)
				fputc(*p, f);
		}
		fputs("\"\n}\n", f);
	} else {
		fputs("null\n}\n", f);
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },   { "size", required_argument, NULL, 'S' },
		{ "fps", required_argument, NULL, 'f' },      { "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },   { "stats-json", required_argument, NULL, 'j' },
		{ "pipeline-depth", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },  { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
	};
	struct fp_capture_opts co = { .width = 1920, .height = 1080, .fps = 60 };
	const char *source = NULL, *output = NULL, *stats_path = NULL;
	char source_exe[PATH_MAX], backend[32], *spec = NULL;
	double duration = 3.0;
	struct fp_capture *cap = NULL;
	struct fp_y4m *y4m = NULL;
	struct fp_capture_stats st;
	const char *err = NULL;
	unsigned segment = 0;
	uint64_t total, k, drops;
	int64_t start, period, last_progress = 0;
	int c, r, rc = 1, quiet = 0, progress;

	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': source = optarg; break;
		case 'S':
			if (parse_size(optarg, &co.width, &co.height) < 0) {
				fprintf(stderr, "framepush: bad --size '%s': want WxH, e.g. 1920x1080\n", optarg);
				return 2;
			}
			break;
		case 'f': co.fps = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'o': output = optarg; break;
		case 'j': stats_path = optarg; break;
		case 'p': co.pipeline_depth = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': co.convert_threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!source || !output) {
		fprintf(stderr, "framepush record: %s is required\n\n", !source ? "--source" : "-o FILE");
		usage(stderr);
		return 2;
	}
	if (co.fps < 1 || co.fps > 240 || !(duration > 0) || duration > 86400) {
		fprintf(stderr, "framepush record: --fps must be 1..240 and --duration 0..86400 s\n");
		return 2;
	}
	if (co.width < 2 || co.height < 2 || co.width > 7680 || co.height > 4320) {
		fprintf(stderr, "framepush record: --size must be within 2x2..7680x4320\n");
		return 2;
	}
	{
		const char *colon = strchr(source, ':');
		size_t n = colon ? (size_t)(colon - source) : strlen(source);

		if (n >= sizeof(backend)) {
			fprintf(stderr, "framepush record: bad --source '%s'\n", source);
			return 2;
		}
		memcpy(backend, source, n);
		backend[n] = '\0';
		spec = colon ? (char *)colon + 1 : NULL;
	}
	if (strcmp(backend, "test") != 0) {
		fprintf(stderr, "framepush record: unknown source '%s' (available: test)\n", backend);
		return 2;
	}
	if (find_source_exe(source_exe, sizeof(source_exe)) < 0) {
		fprintf(stderr, "framepush: cannot locate framepush-source; set FRAMEPUSH_SOURCE\n");
		return 1;
	}
	co.source_exe = source_exe;
	co.backend = backend;
	co.spec = spec;
	co.verify_signatures = 1; /* the test source signs every frame */

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	r = fp_capture_open(&cap, &co);
	if (r < 0) {
		fprintf(stderr, "framepush: capture failed to start: %s\n", strerror(-r));
		return 1;
	}

	total = (uint64_t)llround(duration * co.fps);
	period = FP_NSEC_PER_SEC / co.fps;
	progress = !quiet && isatty(STDERR_FILENO);
	start = fp_now_ns();
	for (k = 0; k < total && !interrupted; k++) {
		const struct fp_yuv_frame *f;

		r = fp_capture_next_frame(cap, start + (int64_t)(k + 1) * period, &f);
		if (r < 0) {
			err = fp_capture_error(cap);
			break;
		}
		if (y4m && (f->width != co.width || f->height != co.height ||
			    (f->format == FP_YUV_P010) != fp_capture_is_hdr(cap))) {
			/* Y4M has one mode per file: a display change starts the next segment. */
			fp_y4m_close(y4m);
			y4m = NULL;
			segment++;
		}
		if (!y4m) {
			char *name = segment_name(output, segment);

			r = name ? fp_y4m_open(&y4m, name, f->format, f->width, f->height, co.fps) : -ENOMEM;
			if (r == 0 && segment)
				fp_info("display changed: continuing in %s (%ux%u)", name, f->width, f->height);
			free(name);
			if (r < 0) {
				err = "cannot open the output file";
				break;
			}
			co.width = f->width;
			co.height = f->height;
		}
		if (fp_y4m_write(y4m, f) < 0) {
			err = "writing the output file failed";
			break;
		}
		if (progress && fp_now_ns() - last_progress > FP_NSEC_PER_SEC / 2) {
			fp_capture_get_stats(cap, &st);
			last_progress = fp_now_ns();
			fprintf(stderr, "\rframepush: %llu/%llu frames  %.1f fps  repeats %llu  recreates %llu ",
				(unsigned long long)st.frames_out, (unsigned long long)total,
				(double)st.frames_out * 1e9 / (double)(last_progress - start),
				(unsigned long long)st.frames_repeated, (unsigned long long)st.recreates);
		}
	}
	if (progress)
		fputc('\n', stderr);
	if (fp_y4m_close(y4m) < 0 && !err)
		err = "finishing the output file failed";
	fp_capture_get_stats(cap, &st);
	{
		double secs = (double)(fp_now_ns() - start) / 1e9;

		drops = st.source_published > st.frames_fresh + st.signature_failures
				? st.source_published - st.frames_fresh - st.signature_failures : 0;
		printf("framepush: %llu frames in %.2f s (%.2f fps): %llu fresh, %llu repeated, "
		       "%llu dropped, %llu recreates, %llu stale rejected, %llu busy skipped, "
		       "%llu signature failures -> %s%s\n",
		       (unsigned long long)st.frames_out, secs, secs > 0 ? (double)st.frames_out / secs : 0,
		       (unsigned long long)st.frames_fresh, (unsigned long long)st.frames_repeated,
		       (unsigned long long)drops, (unsigned long long)st.recreates,
		       (unsigned long long)st.stale_rejected, (unsigned long long)st.busy_skipped,
		       (unsigned long long)st.signature_failures, output,
		       segment ? " (+ segments)" : "");
		if (stats_path)
			write_stats_json(stats_path, &st, secs, drops, err, segment + 1);
	}
	if (err)
		fprintf(stderr, "framepush: %s\n", err);
	else
		rc = 0;
	fp_capture_close(cap);
	return rc;
}

int main(int argc, char **argv)
{
	fp_log_init("framepush");
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "record"))
		return cmd_record(argc - 1, argv + 1);
	fprintf(stderr, "framepush: unknown command '%s' (try: framepush record --help)\n", argv[1]);
	return 2;
}
