/* framepush's command line: parsing and the checks that make every usage mistake exit 2
 * before a display, a source or an encoder starts. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/output.h"

/* The portal source says hello only once the ScreenCast portal granted a stream, which may
 * mean a person answering its dialog, and a wlroots portal sends its first frame only when
 * the screen changes: the seconds that suit a compositor would refuse them. The source
 * bounds the dialog itself (its timeout=, at most 600 s) and says why it gave up; this only
 * catches a source that hangs. */
#define PORTAL_CONNECT_TIMEOUT_NS (610 * FP_NSEC_PER_SEC)
#define PORTAL_ATTACH_TIMEOUT_NS (60 * FP_NSEC_PER_SEC)

/* A usage error in one option's value: names the option, the value and what it wants. */
static int bad_value(const char *verb, const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "framepush %s: bad --%s '%s': want %s\n", verb, opt, value, want);
	return 2;
}

/* Decimal seconds, "2", "2.5" or ".5": strtod alone would also take "0x10", "1e3", "inf"
 * and leading blanks, none of which the help offers. */
static int parse_seconds(const char *s, double *out)
{
	size_t digits = strspn(s, "0123456789"), frac = 0;

	if (s[digits] == '.')
		frac = strspn(s + digits + 1, "0123456789");
	if (digits + frac == 0 || digits > 9 || s[digits + (s[digits] == '.' ? 1 + frac : 0)])
		return -EINVAL;
	*out = strtod(s, NULL);
	return 0;
}

/* Every option, its key and the bit recording that the user gave it. */
static const struct option long_opts[] = {
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
	{ "overwrite", no_argument, NULL, 'y' },      { "format", required_argument, NULL, 'm' },
	{ "crop", required_argument, NULL, 'x' },     { "version", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
};

static uint64_t opt_bit(int key)
{
	for (size_t i = 0; long_opts[i].name; i++)
		if (long_opts[i].val == key)
			return UINT64_C(1) << i;
	return 0;
}

static bool given(const struct cli *c, int key)
{
	return c->given & opt_bit(key);
}

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
	/* The range depends on --codec, which may come later: narrowed in check_encoding. */
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
		*status = CLI_GO;
		return 1;
	}
	return 0;
}

/* 1 when key is one of serve's options (*status says how its value went), else 0. */
static int parse_serve_opt(struct cli *c, int key, const char *value, int *status)
{
	unsigned long long n;

	*status = CLI_GO;
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

/* An even size in [CLI_SIZE_MIN, the channel's maximum]: what every encoder takes. */
static int parse_even_size(const char *s, uint32_t *w, uint32_t *h)
{
	if (fp_parse_size(s, CLI_SIZE_MIN, CLI_SIZE_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX, w, h) < 0)
		return -EINVAL;
	return (*w | *h) & 1 ? -EINVAL : 0;
}

/* --crop X,Y,W,H: four strict decimals, in a rectangle the capturer takes (its rules,
 * fp_capture_crop_problem, named in the message). Whether it fits this display is known only
 * once the source attached: the capturer checks then, and at each mode change. */
static int parse_crop(struct cli *c, const char *s)
{
	struct fp_capture_opts *o = &c->so.capture;
	const char *p = s, *problem;
	uint32_t v[4];
	char num[12];

	for (int i = 0; i < 4; i++) {
		size_t n = strcspn(p, ",");
		unsigned long long x;

		if (n >= sizeof(num) || (i < 3) != (p[n] == ','))
			return bad_value(c->verb, "crop", s, "X,Y,W,H: four whole numbers");
		memcpy(num, p, n);
		num[n] = '\0';
		if (fp_parse_uint(num, 0, FP_WIDTH_MAX, &x) < 0)
			return bad_value(c->verb, "crop", s, "X,Y,W,H: four whole numbers");
		v[i] = (uint32_t)x;
		p += n + (i < 3);
	}
	problem = fp_capture_crop_problem(v[0], v[1], v[2], v[3]);
	if (problem || !v[2]) {
		fprintf(stderr, "framepush %s: bad --crop '%s': %s\n", c->verb, s,
			problem ? problem : "the width is 0");
		return 2;
	}
	o->crop_x = v[0];
	o->crop_y = v[1];
	o->crop_width = v[2];
	o->crop_height = v[3];
	return CLI_GO;
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

/* The options that take a word from a fixed set. CLI_GO, or the exit status. */
static int parse_word_opt(struct cli *c, int key, const char *v)
{
	switch (key) {
	case 'c':
		return parse_codec(v, &c->so.codec) < 0 ? bad_value(c->verb, "codec", v,
								     "h264, hevc or av1") : CLI_GO;
	case 'H':
		return parse_hw(v, &c->so.hw) < 0 ? bad_value(c->verb, "hw", v,
							      "none, vaapi or nvenc") : CLI_GO;
	case 'g':
		if (strcmp(v, "on") && strcmp(v, "off"))
			return bad_value(c->verb, "governor", v, "on or off");
		c->so.fixed_preset = !strcmp(v, "off");
		return CLI_GO;
	case 'F':
		if (strcmp(v, "live") && strcmp(v, "record"))
			return bad_value(c->verb, "profile", v, "live or record");
		c->so.profile = !strcmp(v, "live") ? FP_PROFILE_LIVE : FP_PROFILE_RECORD;
		return CLI_GO;
	case 'm':
		if (strcmp(v, "ts") && strcmp(v, "mkv"))
			return bad_value(c->verb, "format", v, "ts or mkv");
		c->format = v;
		return CLI_GO;
	case 'K':
		if (strcmp(v, "xvfb") && strcmp(v, "sway"))
			return bad_value(c->verb, "display-kind", v, "xvfb or sway");
		c->display_kind = v;
		return CLI_GO;
	default:
		return 0;
	}
}

/* One option. CLI_GO, or the exit status. */
static int parse_opt(struct cli *c, int key, const char *v)
{
	int status;

	if (parse_num_opt(c, key, v, &status) || parse_serve_opt(c, key, v, &status))
		return status;
	if ((status = parse_word_opt(c, key, v)) != 0)
		return status;
	switch (key) {
	case 's': c->source = v; return CLI_GO;
	case 'S':
		if (parse_even_size(v, &c->so.capture.width, &c->so.capture.height) < 0) {
			char want[96];

			snprintf(want, sizeof(want), "WxH, both even, within %ux%u..%ux%u",
				 CLI_SIZE_MIN, CLI_SIZE_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX);
			return bad_value(c->verb, "size", v, want);
		}
		return CLI_GO;
	case 'x': return parse_crop(c, v);
	case 'd':
		if (parse_seconds(v, &c->so.duration) < 0 || c->so.duration > 86400)
			return bad_value(c->verb, "duration", v, "decimal seconds 0..86400, e.g. 2.5");
		return CLI_GO;
	case 'o':
	case 'T': c->so.target = v; return CLI_GO;
	case 'j': c->stats_path = v; return CLI_GO;
	case 'P': c->so.output.sdp_path = v; return CLI_GO;
	case 'e': c->so.preset = v; return CLI_GO;
	case 'u': c->so.tune = v; return CLI_GO;
	case 'D': c->display = v; return CLI_GO;
	case 'q': c->quiet = 1; return CLI_GO;
	case 'y': c->overwrite = 1; return CLI_GO;
	case 'h': cli_usage(stdout); return 0;
	case 'v': cli_version(stdout); return 0;
	default: return 2;
	}
}

/* getopt's own messages are off: one line naming what was wrong, and where help is. */
static int unknown_option(const struct cli *c, char **argv, int key)
{
	const char *arg = argv[optind - 1];
	int n = (int)strcspn(arg, "=");
	char shortopt[3] = { '-', (char)optopt, '\0' };

	/* A short option may sit in a group ("-qz"): name the letter, not the group. */
	if (strncmp(arg, "--", 2)) {
		arg = shortopt;
		n = 2;
	}
	fprintf(stderr, "framepush %s: %s '%.*s' (see framepush %s --help)\n", c->verb,
		key == ':' ? "a value is missing after" : "unknown option", n, arg, c->verb);
	return 2;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
	int key, status;

	opterr = 0;
	/* "+": options end at the first argument that is none, so a stray word is reported
	 * instead of silently joining the application's arguments. */
	while ((key = getopt_long(argc, argv, "+:o:qhy", long_opts, NULL)) != -1) {
		if (key == '?' || key == ':')
			return unknown_option(c, argv, key);
		c->given |= opt_bit(key);
		if ((status = parse_opt(c, key, optarg)) != CLI_GO)
			return status;
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			fprintf(stderr, "framepush %s: stray argument '%s' (an application to run in "
				"a virtual display goes after --; see framepush %s --help)\n",
				c->verb, argv[optind], c->verb);
			return 2;
		}
		c->app = argv + optind;
	}
	return CLI_GO;
}

bool cli_is_virtual(const char *display)
{
	return display && !strncmp(display, "virtual:", 8);
}

bool cli_is_x_display(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t n;

	if (!colon || !colon[1] || strchr(s, '/'))
		return false;
	n = strspn(colon + 1, "0123456789");
	if (n == 0)
		return false;
	if (colon[1 + n] == '.')
		return colon[2 + n] && !colon[2 + n + strspn(colon + 2 + n, "0123456789")];
	return !colon[1 + n];
}

/* A Wayland display: the socket's path, or its name in $XDG_RUNTIME_DIR. */
static bool is_wayland_socket(const char *s)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	char path[PATH_MAX];
	struct stat st;

	if (s[0] == '/')
		snprintf(path, sizeof(path), "%s", s);
	else if (!dir || strchr(s, '/') ||
		 (size_t)snprintf(path, sizeof(path), "%s/%s", dir, s) >= sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* --display: one of the three forms, checked here so a typo is not a source that fails
 * to connect seconds later. */
static int check_display(struct cli *c)
{
	const char *d = c->display;

	if (!d)
		return CLI_GO;
	if (cli_is_virtual(d)) {
		c->mode_hz = FP_MODE_DEFAULT_HZ;
		if (fp_parse_mode(d + 8, CLI_SIZE_MIN, CLI_SIZE_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX, 1,
				  240, &c->mode_width, &c->mode_height, &c->mode_hz) < 0 ||
		    (c->mode_width | c->mode_height) & 1)
			return bad_value(c->verb, "display", d,
					 "virtual:WxH@HZ, W and H even, 16x16..7680x4320, HZ 1..240");
		/* The display the session made runs at HZ: frames at another rate would be
		 * repeated or dropped for nothing. */
		if (!given(c, 'f'))
			c->so.capture.fps = c->mode_hz;
		return CLI_GO;
	}
	/* The portal source's display is a D-Bus address: the bus answers for it. */
	if (!strcmp(c->backend, "portal") || cli_is_x_display(d) || is_wayland_socket(d))
		return CLI_GO;
	fprintf(stderr, "framepush %s: bad --display '%s': not an X display (:N or HOST:N), no "
		"Wayland socket of that name in $XDG_RUNTIME_DIR (%s), and not virtual:WxH@HZ\n",
		c->verb, d, getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "unset");
	return 2;
}

/* The backend and its spec out of --source (or what --display implies). */
static int resolve_source(struct cli *c)
{
	const char *colon;
	size_t n;

	if (!c->source && !c->display)
		c->source = "test"; /* what --help promises: nothing named, the test pattern */
	if (!c->source)
		c->source = cli_is_virtual(c->display) ? (!strcmp(c->display_kind, "sway") ? "wlr" : "x11")
			    : cli_is_x_display(c->display) ? "x11" : "wlr";
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
	if (strcmp(c->backend, "test") && strcmp(c->backend, "x11") && strcmp(c->backend, "wlr") &&
	    strcmp(c->backend, "portal")) {
		fprintf(stderr, "framepush %s: unknown source '%s' (test, x11, wlr, portal)\n",
			c->verb, c->backend);
		return 2;
	}
	if (!strcmp(c->backend, "portal")) {
		c->so.capture.connect_timeout_ns = PORTAL_CONNECT_TIMEOUT_NS;
		c->so.capture.attach_timeout_ns = PORTAL_ATTACH_TIMEOUT_NS;
	}
	return CLI_GO;
}

/* An option given where it does nothing is a mistake (a misread help, a wrong mode): say
 * so rather than ignore it. keys: the options to look at; why: where they apply. */
static int refuse_given(const struct cli *c, const char *keys, const char *why)
{
	for (const char *k = keys; *k; k++) {
		if (!given(c, *k))
			continue;
		for (size_t i = 0; long_opts[i].name; i++)
			if (long_opts[i].val == *k)
				fprintf(stderr, "framepush %s: --%s does nothing here: %s\n", c->verb,
					long_opts[i].name, why);
		return 2;
	}
	return CLI_GO;
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
	return refuse_given(c, "Pm", "it is for record and stream");
}

/* path as it will be: its directory resolved (links, "..", "./") and its last name. */
static int canonical(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], real[PATH_MAX];

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= sizeof(dir))
		return -ENAMETOOLONG;
	if (!realpath(dir[0] ? dir : "/", real))
		return -errno;
	return (size_t)snprintf(out, cap, "%s/%s", real, slash ? slash + 1 : path) >= cap
		       ? -ENAMETOOLONG : 0;
}

/* Whether two paths name the same file, existing or not yet. */
static bool same_file(const char *a, const char *b)
{
	char ca[PATH_MAX + 1], cb[PATH_MAX + 1];
	struct stat sa, sb;

	if (!a || !b || !strcmp(a, "-") || !strcmp(b, "-"))
		return false;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	if (canonical(a, ca, sizeof(ca)) < 0 || canonical(b, cb, sizeof(cb)) < 0)
		return !strcmp(a, b);
	return !strcmp(ca, cb);
}

/* -o/--to: a kind of target framepush writes, checked before anything starts; the files a
 * run writes are distinct (a stats file over the recording destroyed it). */
static int check_target(struct cli *c)
{
	const char *t = c->so.target;
	char why[512];
	int kind;

	if (!t) {
		fprintf(stderr, "framepush %s: %s is required (see framepush %s --help)\n", c->verb,
			c->mode == VERB_STREAM ? "--to URL" : "-o FILE", c->verb);
		return 2;
	}
	kind = fp_output_check_target(t, why, sizeof(why));
	if (kind < 0) {
		fprintf(stderr, "framepush %s: %s\n", c->verb, why);
		return 2;
	}
	if (strcmp(t, "-") && given(c, 'm'))
		return refuse_given(c, "m", "--format chooses the container on standard output (-o -)");
	if (!strcmp(t, "-"))
		c->so.output.stdout_format = c->format;
	if (kind != FP_OUTPUT_RTP && refuse_given(c, "P", "the SDP is written for rtp:// only") != CLI_GO)
		return 2;
	if (fp_output_kind_takes_frames((enum fp_output_kind)kind) &&
	    refuse_given(c, "cHbCkeug", "a .y4m file holds raw frames: nothing is encoded") != CLI_GO)
		return 2;
	if (same_file(t, c->stats_path) || same_file(t, c->so.output.sdp_path) ||
	    same_file(c->stats_path, c->so.output.sdp_path)) {
		fprintf(stderr, "framepush %s: -o, --stats-json and --sdp must name different files\n",
			c->verb);
		return 2;
	}
	return CLI_GO;
}

/* The encoder's options against each other and --codec. */
static int check_encoding(const struct cli *c)
{
	const struct fp_session_opts *so = &c->so;
	char why[320];

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
	if (fp_encoder_check_preset(so->codec, so->hw, so->preset, why, sizeof(why)) < 0) {
		fprintf(stderr, "framepush %s: bad --preset '%s': %s\n", c->verb, so->preset, why);
		return 2;
	}
	if (fp_encoder_check_tune(so->codec, so->hw, so->tune, why, sizeof(why)) < 0) {
		fprintf(stderr, "framepush %s: bad --tune '%s': %s\n", c->verb, so->tune, why);
		return 2;
	}
	return CLI_GO;
}

/* What the source and the display options must agree on. */
static int check_source(const struct cli *c)
{
	const char *b = c->backend;

	if (!strcmp(b, "test") && (c->display || c->app)) {
		fprintf(stderr, "framepush %s: the test source has no display; use --source x11|wlr\n",
			c->verb);
		return 2;
	}
	if (!strcmp(b, "portal") && cli_is_virtual(c->display) && strcmp(c->display_kind, "sway")) {
		fprintf(stderr, "framepush %s: the portal source needs --display-kind sway\n", c->verb);
		return 2;
	}
	if (c->app && !cli_is_virtual(c->display)) {
		fprintf(stderr, "framepush %s: an application (after --) needs --display virtual:WxH@HZ\n",
			c->verb);
		return 2;
	}
	if (strcmp(b, "test") && refuse_given(c, "S", "a display has its own size (virtual:WxH@HZ "
					      "sets one; --crop takes a part)") != CLI_GO)
		return 2;
	if (!cli_is_virtual(c->display) &&
	    refuse_given(c, "K", "it chooses what runs a virtual:WxH@HZ display") != CLI_GO)
		return 2;
	return CLI_GO;
}

/* FRAMEPUSH_PIPELINE_DEPTH is a setting like --pipeline-depth: wrong is wrong. */
static int check_env(const struct cli *c)
{
	const char *depth = getenv("FRAMEPUSH_PIPELINE_DEPTH");
	unsigned long long v;

	if (depth && fp_parse_uint(depth, 1, 3, &v) < 0) {
		fprintf(stderr, "framepush %s: bad FRAMEPUSH_PIPELINE_DEPTH '%s': want 1..3\n",
			c->verb, depth);
		return 2;
	}
	return CLI_GO;
}

/* Combinations no single option can see. */
static int check_usage(struct cli *c)
{
	int r;

	if (c->mode == VERB_SERVE) {
		if ((r = check_serve(c)) != CLI_GO)
			return r;
	} else {
		if ((r = refuse_given(c, "LZYVM", "it is for framepush serve")) != CLI_GO ||
		    (r = check_target(c)) != CLI_GO)
			return r;
	}
	if (c->mode == VERB_RECORD && !(c->so.duration > 0)) {
		fprintf(stderr, "framepush %s: --duration must be more than 0 s for a recording\n",
			c->verb);
		return 2;
	}
	if ((r = check_encoding(c)) != CLI_GO || (r = check_source(c)) != CLI_GO)
		return r;
	return check_env(c);
}

int cli_parse(struct cli *c, enum verb mode, int argc, char **argv)
{
	static const char *const verbs[] = { "record", "stream", "serve" };
	int streaming = mode != VERB_RECORD;
	int r;

	c->so.capture.width = FP_MODE_DEFAULT_WIDTH;
	c->so.capture.height = FP_MODE_DEFAULT_HEIGHT;
	c->so.capture.fps = FP_MODE_DEFAULT_HZ;
	c->so.capture.max_source_restarts = streaming ? 3 : 0;
	c->so.codec = FP_CODEC_H264;
	c->so.duration = streaming ? 0 : 3.0;
	c->so.profile = streaming ? FP_PROFILE_LIVE : FP_PROFILE_RECORD;
	c->verb = verbs[mode];
	c->mode = mode;
	c->display_kind = "xvfb";
	/* The source first: what --display may be depends on it. */
	if ((r = parse_args(c, argc, argv)) != CLI_GO || (r = resolve_source(c)) != CLI_GO ||
	    (r = check_display(c)) != CLI_GO || (r = check_usage(c)) != CLI_GO)
		return r;
	if (!cli_is_virtual(c->display)) {
		c->mode_width = c->so.capture.width;
		c->mode_height = c->so.capture.height;
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
		fprintf(stderr, "framepush %s: source '%s' is not in this build (test, x11, wlr, "
			"portal)\n",
			c->verb, c->backend);
		return 2;
	default:
		fprintf(stderr, "framepush %s: bad --source '%s' (the reason is above; see framepush "
			"%s --help for the keys)\n", c->verb, c->source, c->verb);
		return 2;
	}
}

/* An existing file is replaced only when the user said so: -y, or "y" on a terminal (as
 * ffmpeg and wf-recorder ask). Without a terminal to ask on, it is kept and the run refused:
 * a script that reruns a command must not lose yesterday's recording. */
static int check_overwrite(const struct cli *c)
{
	const char *t = c->so.target;
	char answer[16];
	struct stat st;

	if (!t || c->overwrite || !strcmp(t, "-") || strstr(t, "://") || stat(t, &st) < 0)
		return CLI_GO;
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) {
		fprintf(stderr, "framepush %s: '%s' exists; give -y (--overwrite) to replace it\n",
			c->verb, t);
		return 2;
	}
	fprintf(stderr, "framepush: '%s' exists. Overwrite? [y/N] ", t);
	if (fgets(answer, sizeof(answer), stdin) && (answer[0] == 'y' || answer[0] == 'Y'))
		return CLI_GO;
	fprintf(stderr, "framepush %s: not overwriting '%s'\n", c->verb, t);
	return 2;
}

int cli_check_late(struct cli *c)
{
	int r = check_spec(c);

	return r != CLI_GO ? r : check_overwrite(c);
}
