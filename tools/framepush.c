/* framepush — the host program: capture a display through framepush-source, convert,
 * and write the result. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/display.h"
#include "framepush/session.h"
#include "serve_glue.h"
#include "source_exe.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: framepush record [--source SPEC | --display D] [options] -o FILE\n"
"       framepush stream [--source SPEC | --display D] [options] --to URL\n"
"       framepush serve  [--source SPEC | --display D] [options]\n"
"\n"
"Capture a display through a sealed shared-memory ring, convert it to NV12 (SDR) or\n"
"P010 (HDR), encode it and write a file or a live stream, or serve it to browsers as an\n"
"interactive session (WebRTC: their mouse and keyboard drive the display).\n"
"\n"
"Source:\n"
"  --source SPEC      what to capture: test[:key=value,...], x11, wlr[:key=value,...]\n"
"                     (default: the backend of --display, else the test source)\n"
"                     wlr keys: output=NAME (which output), cursor=0|1 (draw the pointer)\n"
"                     test keys:\n"
"                       pattern=moving|bars|solid|clock   animated stripes, 75%% bars,\n"
"                                      one colour, stripes with the capture time stamped\n"
"                                      in large blocks (latency: framepush-bench serve)\n"
"                       rgb=R/G/B      solid colour: 0..1 for SDR, scRGB floats for HDR\n"
"                                      (rgb=2.5/2.5/2.5 is 200-nit white)\n"
"                       hdr=0|1        RGBA16F scRGB source -> 10-bit BT.2020 PQ output\n"
"                       flip-every=N   change size and SDR/HDR every N frames\n"
"                       idle=1         publish only when kicked (an idle desktop)\n"
"                       max-cll=N, max-fall=N, mastering-max=NITS, mastering-min=NITS\n"
"                                      HDR: the display's own HDR10 metadata (P3-D65);\n"
"                                      without them a generic HDR10 baseline is used\n");
	/* Several strings: C17 promises string literals of 4095 bytes only. */
	fprintf(f,
"  --size WxH         display size of the test source (default %ux%u)\n"
"  --display D        virtual:WxH@HZ  create a virtual display at that mode for the session\n"
"                                     (Xvfb, or sway headless with --display-kind sway)\n"
"                     :N              capture an existing X display (x11 source)\n"
"                     wayland-N|PATH  capture an existing wlroots compositor (wlr source)\n"
"  --display-kind K   xvfb (default) or sway, for virtual displays\n"
"  -- APP [ARGS]      start APP inside the virtual display; it ends with the session\n"
"  --fps N            output frame rate, 1..240 (default %u): frames are taken on its ticks;\n"
"                     an idle display repeats its last frame, a faster one drops frames\n"
"\n"
"Output:\n"
"  -o, --output FILE  record: .mkv, .mp4 (fragmented: a killed recording stays playable),\n"
"                     .ts, or .y4m (raw, no encoding: 8-bit SDR / 10-bit HDR)\n"
"  --to URL           stream: srt://HOST:PORT, udp://HOST:PORT (MPEG-TS), rtp://HOST:PORT,\n"
"                     rtsp://HOST:PORT/PATH (push to a media server)\n"
"  --duration SEC     record: default 3; stream: default until Ctrl-C (Ctrl-C always ends\n"
"                     cleanly, finishing the file)\n"
"  --codec C          h264 (default), hevc, av1. An HDR display is always encoded 10-bit\n"
"                     with HDR10 metadata (h264 becomes HEVC Main10).\n"
"  --hw H             none (default), vaapi, nvenc: hardware encoder; fails with the software\n"
"                     alternative named when the device is absent\n"
"  --bitrate KBPS     target bitrate, 1..1000000 kbit/s (default: constant quality)\n"
"  --crf N            constant quality in the codec's scale: 1..51 (h264, hevc), 1..63 (av1)\n"
"  --keyint N         frames between keyframes, 1..100000 (default 2 s)\n"
"  --sdp FILE         rtp://: write the SDP a player needs here\n"
"  --preset NAME      the encoder's own: ultrafast..placebo (x264, x265), 13..0 (av1),\n"
"                     p1..p7 (nvenc); default: the codec's, faster when the mode is heavy\n"
"                     for this machine's CPUs\n"
"  --tune NAME        x264: film, animation, grain, stillimage, psnr, ssim, fastdecode\n"
"                     (with zerolatency); nvenc: hq, ll, ull, lossless\n"
"  --governor on|off  on (default): step the preset faster when frames take too long to\n"
"                     encode, back when there is headroom (logged, counted in the stats);\n"
"                     live into MPEG-TS, past the fastest preset: a reduced size (3/4, 1/2)\n"
"  --profile P        record (default for record): quality first, pipeline depth 2;\n"
"                     live (default for stream and serve): latency first, depth 1\n"
"\n",
	FP_MODE_DEFAULT_WIDTH, FP_MODE_DEFAULT_HEIGHT, FP_MODE_DEFAULT_HZ);
	fprintf(f,
"Serve (WebRTC, H.264 constrained baseline; prints the URL to open, token included):\n"
"  --listen ADDR:PORT where the page and signalling listen (default 127.0.0.1:%u);\n"
"                     anything but loopback lets others on the network see the session\n"
"  --tls-cert FILE, --tls-key FILE   PEM: serve over HTTPS and WSS (off this machine:\n"
"                     without it the link, the page and the token travel in the clear)\n"
"  --max-viewers N    viewers at once, 1..%u (default 4); more are refused\n"
"  --view-only        viewers watch; their input is dropped (always with --source test)\n"
"  --bitrate KBPS     the stream's cap, with a 1 s VBV (default from the mode: ~8000 at\n"
"                     1080p60, ~3700 at 720p60)\n"
"\n"
"Session:\n"
"  --stats-json FILE  write the session's counters as JSON (a failed write fails the run)\n"
"  --pipeline-depth N frames in flight to the encoder, 1..3 (default 1 live, 2 record,\n"
"                     or $FRAMEPUSH_PIPELINE_DEPTH)\n"
"  --threads N        converter threads (default: one per CPU)\n"
"  --restart-source N start a source that dies again, up to N times, 0..100 (default 0\n"
"                     for record, 3 for stream: a live stream outlives a source crash)\n"
"  -q, --quiet        no live status line, no info lines (warnings and errors only)\n"
"  -h, --help         this text\n"
"\n"
"On a terminal a status line shows seconds, fps, bitrate, capture->encoded latency p50/p99,\n"
"repeats, drops, skipped ticks and display recreates; a summary line follows at the end.\n"
"Ctrl-C (SIGINT) or SIGTERM ends the session cleanly, also while a stream is connecting.\n"
"\n"
"Environment: FRAMEPUSH_LOG=debug|info|warn|error, FRAMEPUSH_SOURCE=path of framepush-source.\n"
"Exit status: 0 done (also after Ctrl-C once frames were written), 1 capture, encode or\n"
"output failed, or the stats file could not be written (the message says why), 2 bad usage\n"
"(also a --source spec that source refuses).\n"
"\n"
"Examples:\n"
"  framepush record --source test --duration 5 -o out.mkv\n"
"  framepush record --source test:hdr=1 --codec hevc -o hdr.mp4\n"
"  framepush stream --source test --to 'srt://127.0.0.1:9000'\n"
"  framepush record --display virtual:1280x720@60 -o desk.mkv -- xterm\n"
"  framepush serve --display virtual:1920x1080@60 -- xterm\n",
	FP_SERVE_DEFAULT_PORT, FP_SERVE_VIEWERS_MAX);
}

/* The whole argument must be the number: "30x" or "" is a mistake, not 30 or 0. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

static void json_string(FILE *f, const char *key, const char *v, int last)
{
	fprintf(f, "  \"%s\": ", key);
	if (!v || !*v) {
		fputs("null", f);
	} else {
		fputc('"', f);
		for (const char *p = v; *p; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', f);
			if ((unsigned char)*p >= 0x20)
				fputc(*p, f);
		}
		fputc('"', f);
	}
	fputs(last ? "\n" : ",\n", f);
}

static int write_stats_json(const char *path, const struct fp_session_result *r,
			    struct serve_glue *serve)
{
	const struct fp_capture_stats *s = &r->capture;
	FILE *f = fopen(path, "we");
	int err;

	if (!f) {
		err = errno;
		fprintf(stderr, "framepush: cannot write stats to %s: %s\n", path, strerror(err));
		return -err;
	}
	fprintf(f,
		"{\n  \"frames_out\": %llu,\n  \"frames_fresh\": %llu,\n  \"frames_repeated\": %llu,\n"
		"  \"frames_dropped\": %llu,\n  \"ticks_skipped\": %llu,\n  \"frames_encoded\": %llu,\n  \"stale_rejected\": %llu,\n"
		"  \"busy_skipped\": %llu,\n  \"recreates\": %llu,\n  \"signature_failures\": %llu,\n"
		"  \"kicks\": %llu,\n  \"abandoned_slots\": %llu,\n  \"junk_messages\": %llu,\n"
		"  \"source_restarts\": %llu,\n"
		"  \"packets\": %llu,\n"
		"  \"bytes\": %llu,\n  \"segments\": %u,\n  \"seconds\": %.3f,\n  \"fps\": %.3f,\n"
		"  \"bitrate_kbps\": %.1f,\n  \"latency_p50_ms\": %.3f,\n  \"latency_p99_ms\": %.3f,\n"
		"  \"latency_max_ms\": %.3f,\n  \"source_status\": \"%s\",\n  \"source_detail\": %u,\n"
		"  \"preset_steps_faster\": %llu,\n  \"preset_steps_slower\": %llu,\n",
		(unsigned long long)s->frames_out, (unsigned long long)s->frames_fresh,
		(unsigned long long)s->frames_repeated, (unsigned long long)r->frames_dropped,
		(unsigned long long)r->ticks_skipped, (unsigned long long)r->frames_encoded, (unsigned long long)s->stale_rejected,
		(unsigned long long)s->busy_skipped, (unsigned long long)s->recreates,
		(unsigned long long)s->signature_failures, (unsigned long long)s->kicks,
		(unsigned long long)s->abandoned_slots, (unsigned long long)s->junk_messages,
		(unsigned long long)s->source_restarts,
		(unsigned long long)r->packets,
		(unsigned long long)r->bytes, r->segments, r->seconds,
		r->seconds > 0 ? (double)s->frames_out / r->seconds : 0.0,
		r->seconds > 0 ? (double)r->bytes * 8 / 1000 / r->seconds : 0.0,
		(double)r->latency.p50_ns / 1e6, (double)r->latency.p99_ns / 1e6,
		(double)r->latency.max_ns / 1e6, fp_source_status_name(s->source_status),
		s->source_detail, (unsigned long long)r->preset_steps_faster,
		(unsigned long long)r->preset_steps_slower);
	if (serve)
		serve_glue_json(serve, f);
	/* What was written, not what was asked for: HDR turns h264 into hevc, .y4m is raw. */
	json_string(f, "codec", r->codec, 0);
	json_string(f, "last_codec", r->last_codec, 0);
	json_string(f, "encoder", r->encoder, 0);
	json_string(f, "preset", r->preset_first, 0);
	json_string(f, "last_preset", r->preset_last, 0);
	json_string(f, "target", r->first_target, 0);
	json_string(f, "last_target", r->last_target, 0);
	json_string(f, "error", r->error, 1);
	fputs("}\n", f);
	err = ferror(f) ? EIO : 0;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (err) {
		fprintf(stderr, "framepush: writing stats to %s failed: %s\n", path, strerror(err));
		return -err;
	}
	return 0;
}

/* user: the serve glue when serving (its viewers join the line), else NULL. */
static void on_progress(const struct fp_session_progress *p, void *user)
{
	char line[256], viewers[96] = "";

	fp_session_format_progress(p, line, sizeof(line));
	if (user)
		serve_glue_status(user, viewers, sizeof(viewers));
	fprintf(stderr, "\r%s%s ", line, viewers);
}

static int parse_codec(const char *s, enum fp_codec *c)
{
	if (!strcmp(s, "h264"))
		*c = FP_CODEC_H264;
	else if (!strcmp(s, "hevc") || !strcmp(s, "h265"))
		*c = FP_CODEC_HEVC;
	else if (!strcmp(s, "av1"))
		*c = FP_CODEC_AV1;
	else
		return -EINVAL;
	return 0;
}

static int parse_hw(const char *s, enum fp_hw *h)
{
	if (!strcmp(s, "none"))
		*h = FP_HW_NONE;
	else if (!strcmp(s, "vaapi"))
		*h = FP_HW_VAAPI;
	else if (!strcmp(s, "nvenc"))
		*h = FP_HW_NVENC;
	else
		return -EINVAL;
	return 0;
}

/* A usage error in one option's value: names the option, the value and what it wants. */
static int bad_value(const char *verb, const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "framepush %s: bad --%s '%s': want %s\n", verb, opt, value, want);
	return 2;
}

enum verb { VERB_RECORD, VERB_STREAM, VERB_SERVE };

/* Everything one record/stream/serve command line asks for. */
struct cli {
	struct fp_session_opts so;
	struct fp_serve_opts serve;
	struct serve_glue glue;
	const char *verb, *source, *stats_path, *display, *display_kind;
	char **app;      /* after "--": the application to run inside the display */
	enum verb mode;
	uint32_t mode_width, mode_height; /* of a virtual display; else the --size asked for */
	int quiet;
	char backend[32];
	char source_exe[PATH_MAX];
};

/* The whole-number options: one entry each, written into a 32-bit field of the session
 * options (the way AVOption tables name a field by offset). */
struct num_opt {
	int key;
	const char *name, *want;
	unsigned long long min, max;
	size_t offset;
};

#define SO_FIELD(f) offsetof(struct fp_session_opts, f)
_Static_assert(sizeof(((struct fp_session_opts *)0)->capture.fps) == 4, "fps field");
_Static_assert(sizeof(((struct fp_session_opts *)0)->capture.pipeline_depth) == 4, "depth field");
_Static_assert(sizeof(((struct fp_session_opts *)0)->capture.max_source_restarts) == 4, "restarts");
_Static_assert(sizeof(((struct fp_session_opts *)0)->capture.convert_threads) == 4, "threads");
_Static_assert(sizeof(((struct fp_session_opts *)0)->bitrate_kbps) == 4, "bitrate field");
_Static_assert(sizeof(((struct fp_session_opts *)0)->crf) == 4, "crf field");
_Static_assert(sizeof(((struct fp_session_opts *)0)->keyint) == 4, "keyint field");

static const struct num_opt num_opts[] = {
	{ 'f', "fps", "a whole number 1..240", 1, 240, SO_FIELD(capture.fps) },
	{ 'p', "pipeline-depth", "1..3", 1, 3, SO_FIELD(capture.pipeline_depth) },
	{ 'R', "restart-source", "0..100", 0, 100, SO_FIELD(capture.max_source_restarts) },
	{ 't', "threads", "1..256", 1, 256, SO_FIELD(capture.convert_threads) },
	{ 'b', "bitrate", "kbit/s 1..1000000", 1, 1000000, SO_FIELD(bitrate_kbps) },
	/* The range depends on --codec, which may come later: narrowed in check_usage. */
	{ 'C', "crf", "1..51 (h264, hevc) or 1..63 (av1)", 1, 63, SO_FIELD(crf) },
	{ 'k', "keyint", "frames 1..100000", 1, 100000, SO_FIELD(keyint) },
};

/* 1 when key is a whole-number option (*status says how its value went), else 0. */
static int parse_num_opt(struct cli *c, int key, const char *value, int *status)
{
	unsigned long long num;
	uint32_t v;

	for (size_t i = 0; i < FP_ARRAY_LEN(num_opts); i++) {
		const struct num_opt *o = &num_opts[i];

		if (o->key != key)
			continue;
		if (fp_parse_uint(value, o->min, o->max, &num) < 0) {
			*status = bad_value(c->verb, o->name, value, o->want);
			return 1;
		}
		v = (uint32_t)num;
		memcpy((char *)&c->so + o->offset, &v, sizeof(v));
		*status = 0;
		return 1;
	}
	return 0;
}

#define CLI_GO (-1) /* parsed: go on (any other value is the exit status) */

/* 1 when key is one of serve's options (*status says how its value went), else 0. */
static int parse_serve_opt(struct cli *c, int key, const char *value, int *status)
{
	unsigned long long n;

	*status = 0;
	switch (key) {
	case 'L': c->serve.listen = value; return 1;
	case 'Z': c->serve.tls_cert = value; return 1;
	case 'Y': c->serve.tls_key = value; return 1;
	case 'V': c->serve.view_only = true; return 1;
	case 'M':
		if (fp_parse_uint(value, 1, FP_SERVE_VIEWERS_MAX, &n) < 0)
			*status = bad_value(c->verb, "max-viewers", value, "1..16");
		else
			c->serve.max_viewers = (unsigned)n;
		return 1;
	default:
		return 0;
	}
}

static int parse_args(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },   { "size", required_argument, NULL, 'S' },
		{ "fps", required_argument, NULL, 'f' },      { "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },   { "to", required_argument, NULL, 'T' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "pipeline-depth", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },  { "codec", required_argument, NULL, 'c' },
		{ "hw", required_argument, NULL, 'H' },       { "bitrate", required_argument, NULL, 'b' },
		{ "crf", required_argument, NULL, 'C' },      { "keyint", required_argument, NULL, 'k' },
		{ "sdp", required_argument, NULL, 'P' },      { "quiet", no_argument, NULL, 'q' },
		{ "display", required_argument, NULL, 'D' },  { "display-kind", required_argument, NULL, 'K' },
		{ "restart-source", required_argument, NULL, 'R' },
		{ "preset", required_argument, NULL, 'e' },   { "tune", required_argument, NULL, 'u' },
		{ "governor", required_argument, NULL, 'g' }, { "profile", required_argument, NULL, 'F' },
		{ "listen", required_argument, NULL, 'L' },   { "tls-cert", required_argument, NULL, 'Z' },
		{ "tls-key", required_argument, NULL, 'Y' },  { "view-only", no_argument, NULL, 'V' },
		{ "max-viewers", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
	};
	int key, status;

	while ((key = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		if (parse_num_opt(c, key, optarg, &status) || parse_serve_opt(c, key, optarg, &status)) {
			if (status)
				return status;
			continue;
		}
		switch (key) {
		case 's': c->source = optarg; break;
		case 'S':
			if (fp_parse_size(optarg, FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX,
					  &c->so.capture.width, &c->so.capture.height) < 0) {
				char want[64];

				snprintf(want, sizeof(want), "WxH within %ux%u..%ux%u", FP_WIDTH_MIN,
					 FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX);
				return bad_value(c->verb, "size", optarg, want);
			}
			break;
		case 'd':
			if (parse_seconds(optarg, &c->so.duration) < 0 || c->so.duration > 86400)
				return bad_value(c->verb, "duration", optarg, "seconds 0..86400, e.g. 2.5");
			break;
		case 'o':
		case 'T': c->so.target = optarg; break;
		case 'j': c->stats_path = optarg; break;
		case 'c':
			if (parse_codec(optarg, &c->so.codec) < 0)
				return bad_value(c->verb, "codec", optarg, "h264, hevc or av1");
			break;
		case 'H':
			if (parse_hw(optarg, &c->so.hw) < 0)
				return bad_value(c->verb, "hw", optarg, "none, vaapi or nvenc");
			break;
		case 'P': c->so.output.sdp_path = optarg; break;
		case 'e': c->so.preset = optarg; break;
		case 'u': c->so.tune = optarg; break;
		case 'g':
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return bad_value(c->verb, "governor", optarg, "on or off");
			c->so.fixed_preset = !strcmp(optarg, "off");
			break;
		case 'F':
			if (strcmp(optarg, "live") && strcmp(optarg, "record"))
				return bad_value(c->verb, "profile", optarg, "live or record");
			c->so.profile = !strcmp(optarg, "live") ? FP_PROFILE_LIVE : FP_PROFILE_RECORD;
			break;
		case 'D': c->display = optarg; break;
		case 'K': c->display_kind = optarg; break;
		case 'q': c->quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		c->app = argv + optind;
	return CLI_GO;
}

static int is_virtual(const char *display)
{
	return display && !strncmp(display, "virtual:", 8);
}

/* The backend and its spec out of --source (or what --display implies). */
static int resolve_source(struct cli *c)
{
	const char *colon;
	size_t n;

	if (!c->source && !c->display)
		c->source = "test"; /* what --help promises: nothing named, the test pattern */
	if (!c->source)
		c->source = is_virtual(c->display) ? (!strcmp(c->display_kind, "sway") ? "wlr" : "x11")
			    : c->display[0] == ':' ? "x11" : "wlr";
	colon = strchr(c->source, ':');
	n = colon ? (size_t)(colon - c->source) : strlen(c->source);
	if (n >= sizeof(c->backend)) {
		fprintf(stderr, "framepush %s: bad --source '%s'\n", c->verb, c->source);
		return 2;
	}
	memcpy(c->backend, c->source, n);
	c->backend[n] = '\0';
	c->so.capture.spec = colon ? colon + 1 : NULL;
	c->so.capture.backend = c->backend;
	/* Only the test source signs its frames. */
	c->so.capture.verify_signatures = !strcmp(c->backend, "test");
	return CLI_GO;
}

/* A name the encoder does not take; why lists those it does. */
static int bad_name(const struct cli *c, const char *opt, const char *value, const char *why)
{
	fprintf(stderr, "framepush %s: bad --%s '%s': %s\n", c->verb, opt, value, why);
	return 2;
}

/* serve: the browser gets the one stream WebRTC offers it; the server's options are checked
 * before any display starts. */
static int check_serve(const struct cli *c)
{
	char why[256];

	if (c->so.target) {
		fprintf(stderr, "framepush serve: sends to browsers; -o/--to are for record/stream\n");
		return 2;
	}
	if (c->so.codec != FP_CODEC_H264) {
		fprintf(stderr, "framepush serve: --codec %s: browsers are served H.264 only\n",
			fp_codec_name(c->so.codec));
		return 2;
	}
	if (fp_serve_check(&c->serve, why, sizeof(why)) < 0) {
		fprintf(stderr, "framepush serve: %s\n", why);
		return 2;
	}
	return CLI_GO;
}

/* Combinations no single option can see. */
static int check_usage(const struct cli *c)
{
	const struct fp_session_opts *so = &c->so;
	const char *b = c->backend;
	char why[320];

	if (c->mode == VERB_SERVE) {
		int r = check_serve(c);

		if (r != CLI_GO)
			return r;
	} else if (c->serve.listen || c->serve.tls_cert || c->serve.tls_key || c->serve.view_only ||
		   c->serve.max_viewers) {
		fprintf(stderr, "framepush %s: --listen, --tls-*, --view-only and --max-viewers are "
			"for framepush serve\n", c->verb);
		return 2;
	} else if (!so->target) {
		fprintf(stderr, "framepush %s: %s is required (see framepush %s --help)\n", c->verb,
			c->mode == VERB_STREAM ? "--to URL" : "-o FILE", c->verb);
		return 2;
	}
	if (c->mode == VERB_RECORD && !(so->duration > 0)) {
		fprintf(stderr, "framepush %s: --duration must be more than 0 s for a recording\n", c->verb);
		return 2;
	}
	if (so->crf > (so->codec == FP_CODEC_AV1 ? 63 : 51)) {
		fprintf(stderr, "framepush %s: --crf %d is out of range for %s (1..51)\n", c->verb,
			so->crf, fp_codec_name(so->codec));
		return 2;
	}
	if (so->bitrate_kbps && so->crf) {
		fprintf(stderr, "framepush %s: give --bitrate or --crf, not both\n", c->verb);
		return 2;
	}
	/* Against --codec: an HDR display's HEVC takes the x264 names too; a tune it lacks is
	 * dropped then, with a warning. */
	if (fp_encoder_check_preset(so->codec, so->hw, so->preset, why, sizeof(why)) < 0)
		return bad_name(c, "preset", so->preset, why);
	if (fp_encoder_check_tune(so->codec, so->hw, so->tune, why, sizeof(why)) < 0)
		return bad_name(c, "tune", so->tune, why);
	if (strcmp(b, "test") && strcmp(b, "x11") && strcmp(b, "wlr")) {
		fprintf(stderr, "framepush %s: unknown source '%s' (test, x11, wlr)\n", c->verb, b);
		return 2;
	}
	if (!strcmp(b, "test") && (c->display || c->app)) {
		fprintf(stderr, "framepush %s: the test source has no display; use --source x11|wlr\n",
			c->verb);
		return 2;
	}
	if (c->app && !is_virtual(c->display)) {
		fprintf(stderr, "framepush %s: an application (after --) needs --display virtual:WxH@HZ\n",
			c->verb);
		return 2;
	}
	return CLI_GO;
}

/* The source would refuse a bad spec too, but only after it was spawned, as an exit status
 * of a child: its own parser, run here (framepush-source --check-spec; the host links no
 * backend), makes it the usage error it is. */
static int check_spec(const struct cli *c)
{
	char *argv[] = { (char *)c->source_exe, (char *)"--backend", (char *)c->backend,
			 (char *)"--check-spec", c->so.capture.spec ? (char *)"--spec" : NULL,
			 (char *)c->so.capture.spec, NULL };
	int status;
	pid_t pid;

	if (posix_spawn(&pid, c->source_exe, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		fprintf(stderr, "framepush: cannot run %s to check --source '%s'\n", c->source_exe,
			c->source);
		return 1;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		return CLI_GO;
	case 3:
		fprintf(stderr, "framepush %s: source '%s' is not in this build (test, x11, wlr)\n",
			c->verb, c->backend);
		return 2;
	default:
		fprintf(stderr, "framepush %s: bad --source '%s' (the reason is above; see framepush "
			"%s --help for the keys)\n", c->verb, c->source, c->verb);
		return 2;
	}
}

/* --display virtual:WxH@HZ: a display of its own for the session, and APP started in it. */
static int open_virtual_display(struct cli *c, struct fp_display **out)
{
	struct fp_display_opts dopts = { .kind = c->display_kind, .refresh_hz = FP_MODE_DEFAULT_HZ };
	struct fp_display *vd;

	if (fp_parse_mode(c->display + 8, 16, 16, FP_WIDTH_MAX, FP_HEIGHT_MAX, 1, 240, &dopts.width,
			  &dopts.height, &dopts.refresh_hz) < 0) {
		fprintf(stderr, "framepush %s: bad --display '%s': want virtual:WxH@HZ\n", c->verb,
			c->display);
		return 2;
	}
	if (fp_display_create(&vd, &dopts) < 0) {
		fprintf(stderr, "framepush: cannot create the %s virtual display %ux%u@%u (see above)\n",
			c->display_kind, dopts.width, dopts.height, dopts.refresh_hz);
		return 1;
	}
	*out = vd;
	if (strcmp(fp_display_backend(vd), c->backend)) {
		fprintf(stderr, "framepush %s: a %s display is captured by the %s source, not %s\n",
			c->verb, c->display_kind, fp_display_backend(vd), c->backend);
		return 2;
	}
	c->mode_width = dopts.width;
	c->mode_height = dopts.height;
	c->so.capture.display = fp_display_name(vd);
	c->so.capture.source_drop = fp_display_identity(vd, &c->so.capture.source_uid,
							&c->so.capture.source_gid);
	/* The source inherits it: the display's cookie (Xvfb) is private to the session. */
	if (fp_display_export_env(vd) < 0) {
		fprintf(stderr, "framepush: cannot pass the display's environment on\n");
		return 1;
	}
	if (c->app) {
		pid_t pid;

		if (fp_display_spawn(vd, c->app, &pid) < 0) {
			fprintf(stderr, "framepush: cannot start %s in the display\n", c->app[0]);
			return 1;
		}
	}
	return CLI_GO;
}

static void print_summary(const struct cli *c, const struct fp_session_result *res)
{
	const struct fp_capture_stats *s = &res->capture;
	double secs = res->seconds;

	printf("framepush: %llu frames in %.2f s (%.2f fps): %llu fresh, %llu repeated, %llu dropped, "
	       "%llu ticks skipped, %llu recreates, %llu stale rejected, %llu busy skipped, "
	       "%llu signature failures; %.0f kbit/s, latency p50 %.1f ms p99 %.1f ms -> %s%s\n",
	       (unsigned long long)s->frames_out, secs, secs > 0 ? (double)s->frames_out / secs : 0.0,
	       (unsigned long long)s->frames_fresh, (unsigned long long)s->frames_repeated,
	       (unsigned long long)res->frames_dropped, (unsigned long long)res->ticks_skipped,
	       (unsigned long long)s->recreates, (unsigned long long)s->stale_rejected,
	       (unsigned long long)s->busy_skipped, (unsigned long long)s->signature_failures,
	       secs > 0 ? (double)res->bytes * 8 / 1000 / secs : 0.0,
	       (double)res->latency.p50_ns / 1e6, (double)res->latency.p99_ns / 1e6,
	       res->first_target[0] ? res->first_target : c->so.target,
	       res->segments > 1 ? " (+ more segments)" : "");
}

/* serve: the server up before the session (a viewer may open the page at once), its URL on
 * stderr even when quiet (it is what the user came for), and a bitrate cap: WebRTC here has no
 * congestion control of its own, so the stream must fit the link by construction. */
static int start_serve(struct cli *c)
{
	struct fp_session_opts *so = &c->so;

	so->constrained_baseline = 1;
	if (!so->bitrate_kbps && !so->crf) {
		uint64_t kbps = (uint64_t)c->mode_width * c->mode_height * so->capture.fps / 15000;

		so->bitrate_kbps = (unsigned)(kbps < 1000 ? 1000 : kbps > 20000 ? 20000 : kbps);
	}
	c->serve.bitrate_kbps = so->bitrate_kbps;
	if (!strcmp(c->backend, "test") && !c->serve.view_only) {
		fp_info("serve: the test source has no input; viewers watch only");
		c->serve.view_only = true;
	}
	if (serve_glue_start(&c->glue, &c->serve, so) < 0) {
		fprintf(stderr, "framepush: cannot serve on %s (see above)\n",
			c->serve.listen ? c->serve.listen : "127.0.0.1:8080");
		return -1;
	}
	fprintf(stderr, "framepush: open %s  (Ctrl-C ends the session)\n", fp_serve_url(c->glue.srv));
	return 0;
}

static void print_serve_summary(struct serve_glue *g)
{
	struct fp_serve_stats st;

	fp_serve_stats(g->srv, &st);
	printf("framepush: served %llu viewer%s (%llu refused); %llu keyframes requested; input "
	       "%llu forwarded, %llu refused\n", (unsigned long long)st.viewers_total,
	       st.viewers_total == 1 ? "" : "s", (unsigned long long)st.refused,
	       (unsigned long long)st.keyframes_requested, (unsigned long long)st.input_forwarded,
	       (unsigned long long)st.input_refused);
}

static int run_session(struct cli *c)
{
	struct fp_session_result res;
	struct serve_glue *serve = c->mode == VERB_SERVE ? &c->glue : NULL;
	int r, sr;

	c->so.stop = &interrupted;
	if (!c->quiet && isatty(STDERR_FILENO))
		c->so.progress = on_progress;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	fp_encode_route_av_log();
	if (serve && start_serve(c) < 0)
		return 1;
	r = fp_session_run(&c->so, &res);
	if (c->so.progress)
		fputc('\n', stderr);
	if (r == 0 || res.capture.frames_out > 0)
		print_summary(c, &res);
	if (serve)
		print_serve_summary(serve);
	/* A run whose numbers were asked for and not delivered has failed: a script would
	 * otherwise read an old file or nothing and carry on. */
	sr = c->stats_path ? write_stats_json(c->stats_path, &res, serve) : 0;
	if (serve)
		serve_glue_stop(serve);
	if (r < 0) {
		fprintf(stderr, "framepush: %s\n", res.error[0] ? res.error : strerror(-r));
		/* The library says which software encoder works; how to ask for it is ours to say. */
		if (c->so.hw != FP_HW_NONE && !res.encoder[0])
			fprintf(stderr, "framepush: use --codec %s without --hw for %s\n",
				fp_codec_name(c->so.codec),
				fp_codec_software_encoder(c->so.codec));
		return 1;
	}
	return sr < 0 ? 1 : 0;
}

static int cmd_capture(int argc, char **argv, enum verb mode)
{
	static const char *const verbs[] = { "record", "stream", "serve" };
	int streaming = mode != VERB_RECORD;
	struct cli c = {
		.so = {
			.capture = { .width = FP_MODE_DEFAULT_WIDTH, .height = FP_MODE_DEFAULT_HEIGHT,
				     .fps = FP_MODE_DEFAULT_HZ, .max_source_restarts = streaming ? 3 : 0 },
			.codec = FP_CODEC_H264,
			.duration = streaming ? 0 : 3.0,
			.profile = streaming ? FP_PROFILE_LIVE : FP_PROFILE_RECORD,
		},
		.verb = verbs[mode],
		.mode = mode,
		.display_kind = "xvfb",
	};
	struct fp_display *vd = NULL;
	int r;

	if ((r = parse_args(&c, argc, argv)) != CLI_GO || (r = resolve_source(&c)) != CLI_GO ||
	    (r = check_usage(&c)) != CLI_GO)
		return r;
	c.mode_width = c.so.capture.width;
	c.mode_height = c.so.capture.height;
	if (fp_find_source_exe(c.source_exe, sizeof(c.source_exe)) < 0) {
		fprintf(stderr, "framepush: cannot locate framepush-source; set FRAMEPUSH_SOURCE\n");
		return 1;
	}
	c.so.capture.source_exe = c.source_exe;
	/* Quiet means warnings and errors only, unless FRAMEPUSH_LOG asks for more; through the
	 * environment, so the source (which reads its level from it) is quiet too, and before
	 * the virtual display, which logs as it starts. */
	if (c.quiet && !getenv("FRAMEPUSH_LOG")) {
		setenv("FRAMEPUSH_LOG", "warn", 1);
		fp_log_set_level(FP_LOG_WARN);
	}
	if ((r = check_spec(&c)) != CLI_GO)
		return r;
	if (is_virtual(c.display))
		r = open_virtual_display(&c, &vd);
	else if (c.display)
		c.so.capture.display = c.display;
	if (r == CLI_GO)
		r = run_session(&c);
	fp_display_destroy(vd); /* the display framepush created goes away with the session */
	return r;
}

int main(int argc, char **argv)
{
	fp_log_init("framepush");
	/* SVT-AV1 prints its configuration banner and work-in-progress notes straight to
	 * stderr; keep its errors only, unless asked for everything. */
	if (!getenv("FRAMEPUSH_LOG") || strcmp(getenv("FRAMEPUSH_LOG"), "debug"))
		setenv("SVT_LOG", "1", 0);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "record") || !strcmp(argv[1], "stream") || !strcmp(argv[1], "serve")) {
		enum verb mode = !strcmp(argv[1], "record") ? VERB_RECORD
				 : !strcmp(argv[1], "stream") ? VERB_STREAM : VERB_SERVE;
		int rc, left;

		/* Nothing a session starts outlives it: a program that setsid()s or double-forks
		 * (sway's exec always does) is re-parented to us, and swept at the end. */
		if (fp_become_subreaper() < 0)
			fp_warn("framepush: cannot become a subreaper; detached children may outlive the session");
		rc = cmd_capture(argc - 1, argv + 1, mode);
		left = fp_reap_descendants(1000);
		if (left)
			fp_info("framepush: ended %d process%s the session's programs left behind", left,
				left == 1 ? "" : "es");
		return rc;
	}
	fprintf(stderr, "framepush: unknown command '%s' (commands: record, stream, serve; try framepush record --help)\n", argv[1]);
	return 2;
}
