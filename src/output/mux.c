/* framepush — libavformat output: files by extension, live streams by URL scheme; raw
 * .y4m frames go through y4m.c behind the same struct fp_output (no muxer).
 *
 * Blocking calls into libavformat are bracketed by a deadline that the AVIOInterruptCB
 * checks; libavformat's network code polls that callback at least every 100 ms while it
 * waits, so a dead peer (SRT handshake never answered, TCP window never opening) ends the
 * call with AVERROR_EXIT after the deadline instead of hanging the pipeline. The protocols'
 * own timeout options are set too: they give the more precise socket error when they fire
 * first.
 */
#include "framepush/output.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixdesc.h>

#include "common/log.h"
#include "common/util.h"
#include "encode/av_util.h"
#include "framepush/encode.h"
#include "y4m.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_IO_TIMEOUT_MS 5000

struct out_kind;

struct fp_output {
	char base[PATH_MAX];    /* target as given to open */
	char target[PATH_MAX];  /* current file / URL */
	const struct out_kind *info;  /* its kind's entry in out_kinds */
	struct fp_output_options opt;
	char sdp_path[PATH_MAX];
	AVFormatContext *oc;
	AVStream *st;
	AVRational src_tb;      /* time base of the packets handed to write */
	AVRational frame_dur;   /* one frame in src_tb units: {ticks, 1} */
	enum AVCodecID codec_id;
	AVPacket *tmp;
	atomic_bool opening;    /* inside open_target: opt.cancel applies */
	_Atomic int64_t deadline_ns;  /* 0: not inside a blocking call */
	int64_t armed_at_ns;    /* start and length of the latest deadline, for error reports */
	int armed_ms;
	int64_t waited_ns;      /* how long the latest failed call had waited when it failed */
	int error;              /* first error of this session, sticky */
	bool header_written;
	/* An SRT listener before its first caller: the wait is the user's to end (Ctrl-C, the
	 * cancel flag), not a timeout's; a reconnect later is bounded as usual. */
	bool await_caller;
	bool network_init;
	unsigned segment;
	int64_t ts_offset;      /* added to incoming pts/dts (src_tb), for in-band switches */
	int64_t next_pts;       /* end of the last written packet, src_tb incl. offset */
	uint64_t packets;       /* packets written in this segment (for error reports) */
	char failure[512];      /* why the output ended, where errno says too little */
	struct fp_y4m *y4m;     /* raw-frame targets: the current segment's file */
	uint32_t fps;           /* raw-frame targets: the rate every segment is written at */
};

/* Options a kind of target sets, into the protocol (I/O) and muxer dictionaries. */
typedef void (*kind_options_fn)(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);

/* One kind of target: how it is recognised, muxed and opened. */
struct out_kind {
	enum fp_output_kind kind;
	const char *scheme;      /* URL prefix ("srt://"), or NULL for a file */
	const char *ext;         /* file extension (".mkv"), or NULL for a URL */
	const char *muxer;       /* libavformat muxer */
	bool network;            /* waits on a peer: timeouts, cancel, reopen instead of a segment */
	/* MPEG-TS: PAT/PMT repeated, an encoder switch of the same codec goes in-band. */
	bool mpegts;
	/* FFmpeg 5.1 maps AV1 only in Matroska and MP4: MPEG-TS would carry an opaque data
	 * stream no player decodes, and there is no AV1 RTP payloader. */
	bool av1;
	bool frames;             /* raw frames (fp_output_open_frames), no muxer */
	bool pipe;               /* stdout: not seekable, one stream, no segments */
	kind_options_fn options; /* NULL: none */
	/* After the header (RTP: the SDP). Returns 0 or a negative errno, logged. */
	int (*opened)(struct fp_output *o);
};

static void mp4_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static void mkv_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static void mkv_pipe_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static void udp_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static void srt_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static void rtp_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static void rtsp_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux);
static int write_sdp(struct fp_output *o);

static const struct out_kind out_kinds[] = {
	{ FP_OUTPUT_FILE_MKV, NULL, ".mkv", "matroska", .av1 = true, .options = mkv_options },
	{ FP_OUTPUT_FILE_MP4, NULL, ".mp4", "mp4", .av1 = true, .options = mp4_options },
	{ FP_OUTPUT_FILE_TS, NULL, ".ts", "mpegts", .mpegts = true },
	{ FP_OUTPUT_SRT, "srt://", NULL, "mpegts", .network = true, .mpegts = true,
	  .options = srt_options },
	{ FP_OUTPUT_UDP, "udp://", NULL, "mpegts", .network = true, .mpegts = true,
	  .options = udp_options },
	{ FP_OUTPUT_RTP, "rtp://", NULL, "rtp", .network = true, .options = rtp_options,
	  .opened = write_sdp },
	{ FP_OUTPUT_RTSP, "rtsp://", NULL, "rtsp", .network = true, .options = rtsp_options },
	{ FP_OUTPUT_FILE_Y4M, NULL, ".y4m", NULL, .frames = true },
	/* "-": written through a pipe, so nothing may seek back; no segments. */
	{ FP_OUTPUT_STDOUT_TS, NULL, NULL, "mpegts", .mpegts = true, .pipe = true },
	{ FP_OUTPUT_STDOUT_MKV, NULL, NULL, "matroska", .av1 = true, .pipe = true,
	  .options = mkv_pipe_options },
};

static const struct out_kind *kind_info(enum fp_output_kind k)
{
	for (size_t i = 0; i < FP_ARRAY_LEN(out_kinds); i++)
		if (out_kinds[i].kind == k)
			return &out_kinds[i];
	return NULL;
}

/* The extension of the last path component ("a.b/out" has none), or NULL. */
static const char *file_ext(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');

	return dot && (!slash || dot > slash) ? dot : NULL;
}

/* Every target fp_output_check_target takes, as its messages list them. */
#define SUPPORTED_TARGETS                                                                        \
	"write a .mkv, .mp4, .ts or .y4m file, - (stdout, MPEG-TS or Matroska), or "            \
	"srt://HOST:PORT, udp://HOST:PORT, rtp://HOST:PORT, rtsp://HOST[:PORT]/PATH"

/* One message: the target, what is wrong with it (may be empty), what is supported. */
static int refuse(const char *target, char *why, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(const char *target, char *why, size_t cap, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (why && cap)
		snprintf(why, cap, "unsupported target '%s': %s%s" SUPPORTED_TARGETS, target, what,
			 what[0] ? "; " : "");
	return -EINVAL;
}

/* The authority of a URL (after "scheme://", up to '/', '?' or the end): "[user@]host[:port]",
 * the host an IPv6 address in brackets or a name/IPv4 without ':'. The port is 1..65535,
 * required unless port_optional; an empty host only where empty_host_ok (an SRT listener
 * binds every address). Returns 0 or -EINVAL with why filled. */
static int check_authority(const char *target, const char *a, size_t len, bool port_optional,
			   bool empty_host_ok, char *why, size_t cap)
{
	const char *at = memrchr(a, '@', len), *host, *end = a + len, *colon;
	unsigned long long port;
	char num[8];
	size_t hl;

	host = at ? at + 1 : a;
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (!rb || rb == host + 1)
			return refuse(target, why, cap, "the IPv6 host is not in [brackets]");
		colon = rb + 1 < end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return refuse(target, why, cap, "junk after the ]");
		hl = (size_t)(rb + 1 - host);
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		hl = (size_t)((colon ? colon : end) - host);
	}
	if (!hl && !empty_host_ok)
		return refuse(target, why, cap, "the host is missing");
	if (!colon || colon + 1 == end) {
		if (port_optional && !colon)
			return 0;
		return refuse(target, why, cap, "the port is missing");
	}
	len = (size_t)(end - colon - 1);
	if (len < sizeof(num)) {
		memcpy(num, colon + 1, len);
		num[len] = '\0';
		if (fp_parse_uint(num, 1, 65535, &port) == 0)
			return 0;
	}
	return refuse(target, why, cap, "port '%.*s' is not a number 1..65535", (int)len, colon + 1);
}

/* A URL target of a known scheme: host and port as check_authority wants them. */
static int check_url(const char *target, const struct out_kind *k, char *why, size_t cap)
{
	const char *a = target + strlen(k->scheme), *q = strchr(a, '?');
	size_t len = strcspn(a, "/?");
	/* "srt://:9000?mode=listener" listens on every address: no host to name. */
	bool listener = k->kind == FP_OUTPUT_SRT && q && strstr(q, "mode=listener");

	return check_authority(target, a, len, k->kind == FP_OUTPUT_RTSP, listener, why, cap);
}

/* The scheme of a URL target and its entry; an unknown scheme, or a known one not in lower
 * case (libavformat matches schemes case-sensitively), is refused. */
static int check_scheme(const char *target, const char *sep, char *why, size_t cap)
{
	size_t n = (size_t)(sep - target) + 3;

	for (size_t i = 0; i < FP_ARRAY_LEN(out_kinds); i++) {
		const struct out_kind *k = &out_kinds[i];

		if (!k->scheme || strlen(k->scheme) != n)
			continue;
		if (!strncmp(target, k->scheme, n)) {
			int r = check_url(target, k, why, cap);

			return r < 0 ? r : (int)k->kind;
		}
		if (!strncasecmp(target, k->scheme, n))
			return refuse(target, why, cap, "write it in lower case, %s "
				      "(libavformat does not take '%.*s')", k->scheme, (int)n, target);
	}
	return refuse(target, why, cap, "no %.*s output", (int)n, target);
}

int fp_output_check_target(const char *target, char *why, size_t cap)
{
	const char *sep, *ext;

	if (why && cap)
		why[0] = '\0';
	if (!target || !*target)
		return refuse("", why, cap, "no target given");
	if (strlen(target) >= PATH_MAX - 16)
		return refuse("...", why, cap, "the name is %zu bytes long", strlen(target));
	if (!strcmp(target, "-"))
		return FP_OUTPUT_STDOUT_TS;
	sep = strstr(target, "://");
	if (sep)
		return check_scheme(target, sep, why, cap);
	ext = file_ext(target);
	if (!ext || !ext[1])
		return refuse(target, why, cap, "no file extension to choose the format by");
	for (size_t i = 0; i < FP_ARRAY_LEN(out_kinds); i++)
		if (out_kinds[i].ext && !strcasecmp(ext, out_kinds[i].ext))
			return (int)out_kinds[i].kind;
	return refuse(target, why, cap, "%s files are not written", ext);
}

int fp_output_kind_of(const char *target)
{
	char why[512];
	int r = fp_output_check_target(target, why, sizeof(why));

	if (r < 0)
		fp_error("output: %s", why);
	return r;
}

int fp_output_kind_for(const char *target, const struct fp_output_options *opt)
{
	const char *fmt = opt ? opt->stdout_format : NULL;
	int r = fp_output_kind_of(target);

	if (r != FP_OUTPUT_STDOUT_TS || !fmt || !strcmp(fmt, "ts"))
		return r;
	if (!strcmp(fmt, "mkv"))
		return FP_OUTPUT_STDOUT_MKV;
	fp_error("output: stdout format '%s': write ts or mkv to stdout", fmt);
	return -EINVAL;
}

bool fp_output_kind_resizes_inband(enum fp_output_kind kind)
{
	const struct out_kind *ki = kind_info(kind);

	return ki && ki->mpegts;
}

bool fp_output_kind_takes_frames(enum fp_output_kind kind)
{
	const struct out_kind *ki = kind_info(kind);

	return ki && ki->frames;
}

/* Only network opens wait on a peer; a file segment opened after Ctrl-C (a mode change still
 * in the pipeline) must be written, not cancelled. */
static bool open_cancelled(struct fp_output *o)
{
	return o->opt.cancel && *o->opt.cancel && o->info->network && atomic_load(&o->opening);
}

static int interrupt_cb(void *opaque)
{
	struct fp_output *o = opaque;
	int64_t deadline = atomic_load(&o->deadline_ns);

	if (open_cancelled(o))
		return 1;
	return deadline != 0 && fp_now_ns() > deadline;
}

static void arm(struct fp_output *o, int ms)
{
	o->armed_at_ns = fp_now_ns();
	o->armed_ms = ms;
	atomic_store(&o->deadline_ns, fp_now_ns() + (int64_t)ms * FP_NSEC_PER_MSEC);
}

static void disarm(struct fp_output *o)
{
	atomic_store(&o->deadline_ns, 0);
}

/* Turns a libavformat error into our errno, naming a timeout as such: AVERROR_EXIT only
 * means "the interrupt callback said stop", and we know why it did. */
static int io_error(struct fp_output *o, int averr)
{
	int64_t spent = fp_now_ns() - o->armed_at_ns;

	o->waited_ns = spent;

	/* A cancelled open fails however the protocol words it (RTSP turns the callback's
	 * AVERROR_EXIT into "invalid data"): the cancel is the reason. */
	if (open_cancelled(o))
		return -ECANCELED;
	/* Otherwise the callback only ever stops a call at its deadline. */
	if (averr == AVERROR_EXIT || averr == AVERROR(EINTR))
		return -ETIMEDOUT;
	/* The protocols' own timeouts (SRT connect_timeout, rw_timeout) fire at about our
	 * deadline but report a bare EIO; the time spent says what it was. */
	if (o->info->network && (averr == AVERROR(EIO) || averr == AVERROR(ETIMEDOUT)) &&
	    spent >= (int64_t)o->armed_ms * FP_NSEC_PER_MSEC * 9 / 10)
		return -ETIMEDOUT;
	return fp_av_errno(averr);
}

static const char *io_error_text(const struct fp_output *o, int err, int averr, char *buf, size_t len)
{
	if (err == -ETIMEDOUT) {
		/* The time measured, not the one configured: a protocol's own timer may fire first. */
		snprintf(buf, len, "no answer in %.1f s (peer gone or not listening?)",
			 (double)o->waited_ns / 1e9);
		return buf;
	}
	if (err == -ECANCELED)
		return "interrupted";
	if (o->info->network && averr == AVERROR(EIO)) {
		/* libsrt reports a broken connection (peer idle for 5 s, or closed) as bare EIO. */
		snprintf(buf, len, "connection lost (Input/output error)");
		return buf;
	}
	return fp_av_err_str(averr, buf, len);
}

static int add_hdr_side_data(AVStream *st, const struct fp_encoder_config *cfg)
{
	AVMasteringDisplayMetadata *md = av_mastering_display_metadata_alloc();
	AVContentLightMetadata *cll;
	size_t cll_size;
	int ret;

	if (!md)
		return -ENOMEM;
	fp_hdr10_to_av(&cfg->hdr10, md, NULL);
	ret = av_stream_add_side_data(st, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, (uint8_t *)md,
				      sizeof(*md));
	if (ret < 0) {
		av_free(md);
		return fp_av_errno(ret);
	}
	cll = av_content_light_metadata_alloc(&cll_size);
	if (!cll)
		return -ENOMEM;
	fp_hdr10_to_av(&cfg->hdr10, NULL, cll);
	ret = av_stream_add_side_data(st, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, (uint8_t *)cll, cll_size);
	if (ret < 0) {
		av_free(cll);
		return fp_av_errno(ret);
	}
	return 0;
}

/* RFC 4566 section 5: the session-level types in the order required (upper case: exactly
 * once; a "t" may be followed by "r" lines, then another "t"), then media sections, each
 * "m" then the rest in this order. Lower case: optional; repeatable where the RFC says. */
static const char sdp_session_order[] = "VOSiuepcbTrzka";
static const char sdp_media_order[] = "Micbka";
static const char sdp_repeatable[] = "epbtrca";

/* Position of line type t in order (either case), or -1. */
static int sdp_pos(const char *order, char t)
{
	for (int i = 0; order[i]; i++)
		if ((order[i] | 0x20) == t)
			return i;
	return -1;
}

/* Whether a line of type t may follow one at position prev (-1: first) in order: later than
 * prev without skipping a required type, or a repeatable type again, or "t" after "r". */
static bool sdp_follows(const char *order, int prev, char t)
{
	int i = sdp_pos(order, t);

	if (i < 0)
		return false;
	if (i == prev)
		return strchr(sdp_repeatable, t) != NULL;
	if (t == 't' && prev >= 0 && order[prev] == 'r')
		return true;
	for (int k = prev + 1; k < i; k++)
		if (order[k] >= 'A' && order[k] <= 'Z')
			return false;
	return i > prev;
}

/* One SDP line's type, checked against the lines before it; *prev and *media carry the
 * state. The session part must have reached "t" before the first "m". */
static bool sdp_line_ok(const char *l, size_t len, int *prev, bool *media)
{
	const char *order;

	if (len < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z')
		return false;
	if (l[0] == 'm') {
		if (!*media && *prev < sdp_pos(sdp_session_order, 't'))
			return false;
		*media = true;
		*prev = 0;
		return true;
	}
	order = *media ? sdp_media_order : sdp_session_order;
	if (!sdp_follows(order, *prev, l[0]))
		return false;
	*prev = sdp_pos(order, l[0]);
	return true;
}

/* libavformat's SDP text as RFC 4566 wants it: every line "<type>=<value>" ending CRLF, no
 * blank line (av_sdp_create ends with CRLF, and VLC refuses a file with an empty line), types
 * in the order of section 5. Returns the length written into dst or -EINVAL, logged. */
static int sdp_normalise(const struct fp_output *o, const char *src, char *dst, size_t cap)
{
	int prev = -1;
	bool media = false;
	size_t n = 0;

	for (const char *l = src; *l; l += strspn(l, "\r\n")) {
		size_t len = strcspn(l, "\r\n");

		if (!len)
			continue;
		if (!sdp_line_ok(l, len, &prev, &media) || n + len + 2 >= cap) {
			fp_error("output: %s: the SDP libavformat made is not valid RFC 4566 at \"%.*s\"",
				 o->target, (int)len, l);
			return -EINVAL;
		}
		memcpy(dst + n, l, len);
		memcpy(dst + n + len, "\r\n", 2);
		n += len + 2;
		l += len;
	}
	if (!media) {
		fp_error("output: %s: the SDP libavformat made has no media (m=) line", o->target);
		return -EINVAL;
	}
	dst[n] = '\0';
	return (int)n;
}

static int write_sdp(struct fp_output *o)
{
	char raw[4096], sdp[4096];
	FILE *f;
	int ret = av_sdp_create(&o->oc, 1, raw, sizeof(raw));

	if (ret < 0) {
		fp_error("output: %s: creating the SDP failed: %s", o->target, fp_av_err(ret));
		return fp_av_errno(ret);
	}
	ret = sdp_normalise(o, raw, sdp, sizeof(sdp));
	if (ret < 0)
		return ret;
	if (!o->sdp_path[0]) {
		fp_info("output: %s: SDP for receivers:\n%s", o->target, sdp);
		return 0;
	}
	f = fopen(o->sdp_path, "we");
	if (!f || fwrite(sdp, 1, (size_t)ret, f) != (size_t)ret) {
		ret = -errno;
		if (f)
			fclose(f);
		fp_error("output: writing SDP to %s failed: %s", o->sdp_path, strerror(-ret));
		return ret;
	}
	if (fclose(f) != 0) {
		ret = -errno;
		fp_error("output: writing SDP to %s failed: %s", o->sdp_path, strerror(-ret));
		return ret;
	}
	fp_info("output: %s: SDP written to %s", o->target, o->sdp_path);
	return 0;
}

/* Options nobody took: expected for some (one dictionary serves several protocols), so
 * only visible with FRAMEPUSH_LOG=debug, where a misspelt option would show up. */
static void log_unused(const struct fp_output *o, const AVDictionary *d, const char *what)
{
	const AVDictionaryEntry *t = NULL;

	while ((t = av_dict_get(d, "", t, AV_DICT_IGNORE_SUFFIX)))
		fp_debug("output: %s: %s option %s=%s not used", o->target, what, t->key, t->value);
}

static void set_int(AVDictionary **d, const char *key, int64_t v)
{
	av_dict_set_int(d, key, v, 0);
}

static int64_t io_us(const struct fp_output *o)
{
	return (int64_t)o->opt.io_timeout_ms * 1000;
}

static void mp4_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	(void)o;
	(void)proto;
	/* Fragmented: moov up front without samples, one moof+mdat per keyframe and at least
	 * every second (a GOP may be far longer), so any prefix that ends on a fragment boundary
	 * plays and a killed process loses at most about a second. */
	av_dict_set(mux, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
	set_int(mux, "frag_duration", 1000000);
}

static void mkv_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	(void)o;
	(void)proto;
	/* Clusters close at least every second: bounds what a killed process loses. */
	set_int(mux, "cluster_time_limit", 1000);
}

/* Matroska into a pipe: nothing can be sought back to, so no cues, no seek head and no
 * sizes filled in at the end; elements of unknown size, as a live stream is written. */
static void mkv_pipe_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	mkv_options(o, proto, mux);
	set_int(mux, "live", 1);
}

/* 7 TS packets of 188 bytes per datagram: fits every Ethernet MTU, what receivers expect. */
#define UDP_TS_DATAGRAM (7 * 188)

static void udp_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	(void)mux;
	set_int(proto, "pkt_size", UDP_TS_DATAGRAM);
	set_int(proto, "rw_timeout", io_us(o));
}

static void srt_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	int longest = o->opt.connect_timeout_ms > o->opt.io_timeout_ms ? o->opt.connect_timeout_ms
								       : o->opt.io_timeout_ms;

	(void)mux;
	set_int(proto, "connect_timeout", o->opt.connect_timeout_ms);
	set_int(proto, "listen_timeout", o->await_caller ? -1 : (int64_t)o->opt.connect_timeout_ms * 1000);
	/* libsrt bounds the caller's handshake by "timeout" too (not by connect_timeout), which
	 * would end a 10 s connect after the 5 s write timeout. The longer of the two here; each
	 * stage's own deadline (the interrupt callback) ends it at its time. */
	set_int(proto, "timeout", (int64_t)longest * 1000);
	set_int(proto, "rw_timeout", io_us(o));
	/* SRT live mode drops unsent data on close (linger 0): the receiver would lose the
	 * stream's tail and see a broken connection. Wait for it, but boundedly: close is
	 * outside the interrupt callback's reach. */
	set_int(proto, "linger", o->opt.io_timeout_ms >= 2000 ? 2 : 1);
}

static void rtp_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	(void)mux;
	set_int(proto, "rw_timeout", io_us(o));
}

static void rtsp_options(const struct fp_output *o, AVDictionary **proto, AVDictionary **mux)
{
	(void)proto;
	/* TCP interleaving: one connection through NATs and firewalls, and a dead server shows
	 * up as a socket error instead of silently lost UDP. */
	av_dict_set(mux, "rtsp_transport", "tcp", 0);
	set_int(mux, "timeout", io_us(o));
}

/* The clock of enc's packets: their time base and one frame in it. */
static void set_clock(struct fp_output *o, const struct fp_encoder *enc)
{
	const struct fp_encoder_config *cfg = fp_encoder_config(enc);
	int num, den;

	fp_encoder_time_base(enc, &num, &den);
	o->src_tb = av_make_q(num, den);
	/* One frame in src_tb ticks, for packets that come without a duration. */
	o->frame_dur = av_make_q((int)av_rescale(den, cfg->fps_den, (int64_t)num * cfg->fps_num), 1);
}

/* Per-session state for packets from enc: clock, codec, counters. */
static void reset_session(struct fp_output *o, const struct fp_encoder *enc)
{
	set_clock(o, enc);
	o->codec_id = fp_encoder_context(enc)->codec_id;
	o->header_written = false;
	o->packets = 0;
	o->ts_offset = 0;
	o->next_pts = 0;
	o->error = 0;
}

/* The muxer context and its one stream, described from enc. Returns 0 or an AVERROR with
 * *stage saying what failed; o->oc is set as soon as it exists (freed by the caller). */
static int create_muxer(struct fp_output *o, const struct fp_encoder *enc, const char **stage)
{
	const AVCodecContext *ctx = fp_encoder_context(enc);
	const struct fp_encoder_config *cfg = fp_encoder_config(enc);
	int ret;

	*stage = "allocating the muxer";
	ret = avformat_alloc_output_context2(&o->oc, NULL, o->info->muxer, o->target);
	if (ret < 0 || !o->oc)
		return ret < 0 ? ret : AVERROR(ENOMEM);
	o->oc->interrupt_callback.callback = interrupt_cb;
	o->oc->interrupt_callback.opaque = o;
	/* Every packet reaches the file/socket when written: a killed process leaves the most
	 * it can, and live latency does not wait for AVIO's buffer to fill. */
	o->oc->flush_packets = 1;
	o->st = avformat_new_stream(o->oc, NULL);
	if (!o->st)
		return AVERROR(ENOMEM);
	*stage = "copying codec parameters";
	ret = avcodec_parameters_from_context(o->st->codecpar, ctx);
	if (ret < 0)
		return ret;
	o->st->codecpar->codec_tag = 0;
	o->st->time_base = o->src_tb;
	o->st->avg_frame_rate = av_make_q(cfg->fps_num, cfg->fps_den);
	o->st->r_frame_rate = o->st->avg_frame_rate;
	if (cfg->hdr) {
		*stage = "attaching HDR10 metadata";
		ret = add_hdr_side_data(o->st, cfg);
	}
	return ret;
}

/* ---- stdout ---- */

#define READER_GONE "the reader of stdout closed it"

/* stdout's reader closing the pipe (a player quit, `| head`) ends the session as a plain
 * fact, said once by the session: not logged here as a failure. */
static bool reader_gone(struct fp_output *o, int err)
{
	if (!o->info->pipe || err != -EPIPE)
		return false;
	snprintf(o->failure, sizeof(o->failure), READER_GONE);
	fp_debug("output: -: %s after %" PRIu64 " packets", READER_GONE, o->packets);
	return true;
}

/* The stream's own copy of the process's stdout once claimed (fd 1 then points at stderr), or
 * -1. Process-wide, as stdout is; used by one output at a time. */
static int stdout_fd = -1;

int fp_output_claim_stdout(void)
{
	int fd;

	if (stdout_fd >= 0)
		return 0;
	fflush(stdout);
	fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	/* From here a printf, a log line or a child process writing to fd 1 lands on stderr,
	 * never inside the stream a reader is parsing. */
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	stdout_fd = fd;
	return 0;
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
typedef const uint8_t avio_wbuf;
#else
typedef uint8_t avio_wbuf;
#endif

/* AVIO write callback for stdout: all of buf or the write's error (EPIPE: the reader left;
 * SIGPIPE is the program's to ignore). */
static int stdout_write(void *opaque, avio_wbuf *buf, int size)
{
	int done = 0;

	(void)opaque;
	while (done < size) {
		ssize_t n = write(stdout_fd, buf + done, (size_t)(size - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return AVERROR(errno);
		done += (int)n;
	}
	return size;
}

#define STDOUT_AVIO_BUF 65536

/* An AVIOContext on the claimed stdout: no seek callback, so muxers see a stream that cannot
 * seek back (Matroska writes no cues, MPEG-TS never seeks). Returns 0 or an AVERROR. */
static int open_stdout_io(struct fp_output *o)
{
	uint8_t *buf;
	int r = fp_output_claim_stdout();

	if (r < 0)
		return AVERROR(-r);
	buf = av_malloc(STDOUT_AVIO_BUF);
	if (!buf)
		return AVERROR(ENOMEM);
	o->oc->pb = avio_alloc_context(buf, STDOUT_AVIO_BUF, 1, o, NULL, stdout_write, NULL);
	if (!o->oc->pb) {
		av_free(buf);
		return AVERROR(ENOMEM);
	}
	return 0;
}

/* Flushes and frees the stdout AVIOContext, then closes the stream's descriptor: the reader
 * sees the end of the stream now, not when the program exits. Returns 0 or an AVERROR. */
static int close_stdout_io(struct fp_output *o)
{
	AVIOContext *pb = o->oc->pb;
	int ret;

	if (!pb)
		return 0;
	avio_flush(pb);
	ret = pb->error;
	av_freep(&pb->buffer);
	avio_context_free(&o->oc->pb);
	if (stdout_fd >= 0)
		close(stdout_fd);
	stdout_fd = -1;
	return ret;
}

/* Opens the I/O of o->target (file, stdout or connection), bounded by the connect deadline. */
static int open_pb(struct fp_output *o, AVDictionary **proto, const char **stage)
{
	AVFormatContext *oc = o->oc;
	int ret;

	if (o->info->pipe) {
		*stage = "opening stdout";
		return open_stdout_io(o);
	}
	*stage = o->info->network ? "connecting" : "opening";
	if (o->await_caller)
		fp_info("output: %s: waiting for a player to call (Ctrl-C ends the wait)", o->target);
	else
		arm(o, o->opt.connect_timeout_ms);
	ret = avio_open2(&oc->pb, o->target, AVIO_FLAG_WRITE, &oc->interrupt_callback, proto);
	disarm(o);
	return ret;
}

/* Closes whatever open_pb opened. Returns 0 or an AVERROR. */
static int close_pb(struct fp_output *o)
{
	int ret;

	if (o->oc->oformat->flags & AVFMT_NOFILE)
		return 0;
	if (o->info->pipe)
		return close_stdout_io(o);
	arm(o, o->opt.io_timeout_ms);
	ret = avio_closep(&o->oc->pb);
	disarm(o);
	return ret;
}

/* I/O (file or connection) and header, each bounded by the connect deadline. Returns 0 or
 * an AVERROR with *stage saying what failed. */
static int open_io(struct fp_output *o, AVDictionary **proto, AVDictionary **mux,
		   const char **stage)
{
	AVFormatContext *oc = o->oc;
	int ret;

	if (o->info->network && !o->network_init) {
		avformat_network_init();
		o->network_init = true;
	}
	if (!(oc->oformat->flags & AVFMT_NOFILE)) {
		ret = open_pb(o, proto, stage);
		if (ret < 0)
			return ret;
	}
	*stage = o->info->kind == FP_OUTPUT_RTSP ? "announcing the stream" : "writing the header";
	arm(o, o->opt.connect_timeout_ms);
	ret = avformat_write_header(oc, mux);
	disarm(o);
	if (ret < 0)
		return ret;
	o->header_written = true;
	return 0;
}

/* Frees whatever create_muxer / open_io reached. */
static void free_muxer(struct fp_output *o)
{
	if (o->oc) {
		close_pb(o);
		avformat_free_context(o->oc);
	}
	o->oc = NULL;
	o->st = NULL;
	o->header_written = false;
}

/* Opens o->target for enc: context, stream, I/O, header. On failure everything opened here
 * is released again and o->oc is NULL. Returns 0 or a negative errno, logged. */
static int open_target_now(struct fp_output *o, const struct fp_encoder *enc)
{
	const AVCodecContext *ctx = fp_encoder_context(enc);
	AVDictionary *proto = NULL, *mux = NULL;
	const char *stage = "";
	char buf[128];
	int ret, err;

	reset_session(o, enc);
	if (ctx->codec_id == AV_CODEC_ID_AV1 && !o->info->av1) {
		fp_error("output: %s: AV1 cannot be carried in %s by this FFmpeg (libavformat %s); "
			 "a .mkv or .mp4 file can carry it, and h264 or hevc works for live streams",
			 o->target, o->info->muxer, AV_STRINGIFY(LIBAVFORMAT_VERSION));
		return -ENOTSUP;
	}
	ret = create_muxer(o, enc, &stage);
	if (ret < 0)
		goto err_free_muxer;
	if (o->info->mpegts) {
		/* PAT/PMT ahead of every keyframe: a receiver joining mid-stream starts at once. */
		av_dict_set(&mux, "mpegts_flags", "resend_headers", 0);
	}
	if (o->info->options)
		o->info->options(o, &proto, &mux);
	ret = open_io(o, &proto, &mux, &stage);
	if (ret < 0)
		goto err_free_muxer;
	log_unused(o, proto, "protocol");
	log_unused(o, mux, "muxer");
	av_dict_free(&proto);
	av_dict_free(&mux);
	if (o->info->opened) {
		err = o->info->opened(o);
		if (err < 0)
			goto err_close;
	}
	fp_info("output: %s: %s %s %dx%d%s", o->target, o->oc->oformat->name,
		avcodec_get_name(ctx->codec_id), ctx->width, ctx->height,
		fp_encoder_config(enc)->hdr ? " HDR10" : "");
	return 0;

err_free_muxer:
	err = io_error(o, ret);
	if (!reader_gone(o, err))
		fp_error("output: %s: %s failed: %s", o->target, stage, io_error_text(o, err, ret, buf, sizeof(buf)));
	av_dict_free(&proto);
	av_dict_free(&mux);
err_close:
	free_muxer(o);
	return err;
}

static int open_target(struct fp_output *o, const struct fp_encoder *enc)
{
	int ret;

	atomic_store(&o->opening, true);
	ret = open_target_now(o, enc);
	atomic_store(&o->opening, false);
	if (ret == 0)
		o->await_caller = false;
	return ret;
}

/* Trailer + close of the current session. Returns the session's first error. */
static int close_target(struct fp_output *o)
{
	AVFormatContext *oc = o->oc;
	int ret, err = o->error;

	if (!oc)
		return err;
	/* A network session that already failed, or stdout without a reader, gets no trailer:
	 * the peer is gone, and waiting for it again would only delay the teardown. Files, and
	 * stdout ended by a change it cannot carry, get theirs. */
	if (o->header_written && !(err && (o->info->network || err == -EPIPE))) {
		arm(o, o->opt.io_timeout_ms);
		ret = av_write_trailer(oc);
		disarm(o);
		if (ret < 0) {
			char buf[128];
			int e = io_error(o, ret);

			fp_error("output: %s: writing the trailer failed: %s", o->target,
				 io_error_text(o, e, ret, buf, sizeof(buf)));
			if (!err)
				err = e;
		}
	}
	ret = close_pb(o);
	if (ret < 0 && !err)
		err = io_error(o, ret);
	avformat_free_context(oc);
	o->oc = NULL;
	o->st = NULL;
	o->header_written = false;
	return err;
}

/* A closed output for target, with the options copied. Returns 0 or a negative errno. */
static int output_new(struct fp_output **out, const char *target, const struct fp_output_options *opt)
{
	struct fp_output *o;
	int kind;

	kind = fp_output_kind_for(target, opt);
	if (kind < 0)
		return kind;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->info = kind_info((enum fp_output_kind)kind);
	o->await_caller = kind == FP_OUTPUT_SRT && strchr(target, '?') &&
			  strstr(strchr(target, '?'), "mode=listener");
	if (opt)
		o->opt = *opt;
	if (o->opt.connect_timeout_ms <= 0)
		o->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (o->opt.io_timeout_ms <= 0)
		o->opt.io_timeout_ms = DEFAULT_IO_TIMEOUT_MS;
	if (o->opt.sdp_path)
		snprintf(o->sdp_path, sizeof(o->sdp_path), "%s", o->opt.sdp_path);
	o->opt.sdp_path = NULL;  /* copied: the caller's string need not outlive open */
	o->opt.stdout_format = NULL;  /* resolved into o->info */
	snprintf(o->base, sizeof(o->base), "%s", target);
	snprintf(o->target, sizeof(o->target), "%s", target);
	atomic_init(&o->opening, false);
	atomic_init(&o->deadline_ns, 0);
	o->tmp = av_packet_alloc();
	if (!o->tmp) {
		free(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

int fp_output_open(struct fp_output **out, const char *target, const struct fp_encoder *enc,
		   const struct fp_output_options *opt)
{
	struct fp_output *o;
	int ret;

	*out = NULL;
	if (!target || !enc)
		return -EINVAL;
	ret = output_new(&o, target, opt);
	if (ret < 0)
		return ret;
	if (o->info->frames) {
		fp_error("output: %s takes raw frames, not an encoded stream", target);
		ret = -EINVAL;
		goto err_close;
	}
	ret = open_target(o, enc);
	if (ret < 0)
		goto err_close;
	*out = o;
	return 0;

err_close:
	fp_output_close(o);
	return ret;
}

int fp_output_write(struct fp_output *o, const AVPacket *pkt)
{
	AVPacket *p = o->tmp;
	int64_t end;
	int ret;

	if (o->error)
		return o->error;
	if (!o->oc)
		return -EBADF;
	ret = av_packet_ref(p, pkt);
	if (ret < 0)
		return fp_av_errno(ret);
	p->stream_index = 0;
	if (p->duration <= 0)
		p->duration = o->frame_dur.num;
	if (p->pts != AV_NOPTS_VALUE)
		p->pts += o->ts_offset;
	if (p->dts != AV_NOPTS_VALUE)
		p->dts += o->ts_offset;
	end = (p->pts != AV_NOPTS_VALUE ? p->pts : p->dts) + p->duration;
	av_packet_rescale_ts(p, o->src_tb, o->st->time_base);

	arm(o, o->opt.io_timeout_ms);
	ret = av_interleaved_write_frame(o->oc, p);  /* consumes p's reference */
	disarm(o);
	av_packet_unref(p);
	if (ret < 0) {
		char buf[128];

		o->error = io_error(o, ret);
		if (reader_gone(o, o->error))
			return o->error;
		fp_error("output: %s: writing packet %" PRIu64 " failed: %s", o->target, o->packets,
			 io_error_text(o, o->error, ret, buf, sizeof(buf)));
		return o->error;
	}
	if (end > o->next_pts)
		o->next_pts = end;
	o->packets++;
	return 0;
}

int fp_output_close(struct fp_output *o)
{
	int err;

	if (!o)
		return 0;
	err = o->y4m ? fp_y4m_close(o->y4m) : close_target(o);
	av_packet_free(&o->tmp);
	if (o->network_init)
		avformat_network_deinit();
	free(o);
	return err;
}

/* The one naming rule for segments of a file target: segment 0 is the name as given, then
 * "dir/out.mkv" -> "dir/out.n.mkv", and a name without extension "dir/out" -> "dir/out.n"
 * (a dot in a directory, "a.b/out", is not an extension). */
static int segment_name(char *dst, size_t len, const char *base, unsigned n)
{
	const char *ext = file_ext(base);
	int r;

	if (n == 0)
		r = snprintf(dst, len, "%s", base);
	else if (ext)
		r = snprintf(dst, len, "%.*s.%u%s", (int)(ext - base), base, n, ext);
	else
		r = snprintf(dst, len, "%s.%u", base, n);
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int fp_output_reopen_segment(struct fp_output *o, const struct fp_encoder *enc)
{
	int ret;

	if (!o || !enc || o->info->frames || o->info->pipe)
		return -EINVAL;  /* stdout has no segments: fp_output_switch says why */
	ret = close_target(o);
	if (ret < 0)
		fp_warn("output: %s: closing before the next segment: %s", o->target, strerror(-ret));
	if (!o->info->network) {
		ret = segment_name(o->target, sizeof(o->target), o->base, ++o->segment);
		if (ret < 0)
			return o->error = ret;
	}
	ret = open_target(o, enc);
	if (ret < 0) {
		o->error = ret;
		return ret;
	}
	fp_info("output: now writing %s (segment %u)", o->target, o->segment);
	return 0;
}

/* stdout carries one stream: a change it cannot take in-band ends the output, saying what
 * changed and what keeps one stream. -ENOTSUP, with o->failure set. */
static int refuse_stdout_switch(struct fp_output *o, const struct fp_encoder *enc)
{
	const AVCodecContext *ctx = fp_encoder_context(enc);
	const AVCodecParameters *par = o->st->codecpar;
	char from[64], to[64];

	snprintf(from, sizeof(from), "%s %dx%d %s", avcodec_get_name(par->codec_id), par->width,
		 par->height, av_get_pix_fmt_name((enum AVPixelFormat)par->format));
	snprintf(to, sizeof(to), "%s %dx%d %s", avcodec_get_name(ctx->codec_id), ctx->width,
		 ctx->height, av_get_pix_fmt_name(ctx->pix_fmt));
	if (o->info->mpegts)
		snprintf(o->failure, sizeof(o->failure),
			 "the stream on stdout changed codec (%s -> %s), which one MPEG-TS stream "
			 "cannot carry; --codec hevc keeps one stream over SDR/HDR, or write a .ts "
			 "file (a new segment per change)", from, to);
	else
		snprintf(o->failure, sizeof(o->failure),
			 "the picture on stdout changed (%s -> %s), which one Matroska stream cannot "
			 "carry; MPEG-TS on stdout takes size changes in-band (and with --codec hevc "
			 "SDR/HDR changes), or write a .mkv file (a new segment per change)", from, to);
	fp_error("output: -: %s", o->failure);
	o->error = -ENOTSUP;
	return -ENOTSUP;
}

int fp_output_switch(struct fp_output *o, const struct fp_encoder *enc, enum fp_output_switch_mode *mode)
{
	const AVCodecContext *ctx;

	if (!o || !enc || o->info->frames)
		return -EINVAL;
	if (o->error)
		return o->error;
	ctx = fp_encoder_context(enc);
	if (o->oc && ctx->codec_id == o->codec_id &&
	    (o->info->mpegts || (ctx->width == o->st->codecpar->width &&
				 ctx->height == o->st->codecpar->height &&
				 ctx->pix_fmt == o->st->codecpar->format))) {
		/* MPEG-TS signals only the stream type in its PMT; profile, bit depth and colour
		 * live in the in-band parameter sets the new encoder sends with its first keyframe,
		 * which decoders (ffmpeg, VLC, mpv, hardware) re-initialise on. Any container goes
		 * on when only the encoder's speed changed (same codec, size and format, as a
		 * governor step): the stream header still describes the picture, and the new
		 * coding tools come with the parameter sets repeated in-band at the keyframe. */
		AVRational old_tb = o->src_tb;

		set_clock(o, enc);
		o->ts_offset = av_rescale_q(o->next_pts, old_tb, o->src_tb);
		o->next_pts = o->ts_offset;
		if (mode)
			*mode = FP_SWITCH_INBAND;
		fp_info("output: %s: encoder switched in-band to %s %dx%d", o->target,
			fp_encoder_name(enc), ctx->width, ctx->height);
		return 0;
	}
	if (o->info->pipe)
		return refuse_stdout_switch(o, enc);
	if (mode)
		*mode = o->info->network ? FP_SWITCH_REOPEN : FP_SWITCH_SEGMENT;
	return fp_output_reopen_segment(o, enc);
}

const char *fp_output_failure(const struct fp_output *o)
{
	return o ? o->failure : "";
}

const char *fp_output_target(const struct fp_output *o)
{
	return o->target;
}

enum fp_output_kind fp_output_kind(const struct fp_output *o)
{
	return o->info->kind;
}

/* ---- raw frames (.y4m) ---- */

int fp_output_open_frames(struct fp_output **out, const char *target, enum fp_yuv_format format,
			  uint32_t width, uint32_t height, uint32_t fps)
{
	struct fp_output *o;
	int ret;

	*out = NULL;
	if (!target)
		return -EINVAL;
	ret = output_new(&o, target, NULL);
	if (ret < 0)
		return ret;
	if (!o->info->frames) {
		fp_error("output: %s takes an encoded stream, not raw frames", target);
		ret = -EINVAL;
		goto err_close;
	}
	o->fps = fps;
	ret = fp_y4m_open(&o->y4m, o->target, format, width, height, fps);
	if (ret < 0)
		goto err_close;
	*out = o;
	return 0;

err_close:
	fp_output_close(o);
	return ret;
}

int fp_output_write_frame(struct fp_output *o, const struct fp_yuv_frame *f)
{
	int ret;

	if (o->error)
		return o->error;
	if (!o->y4m)
		return -EBADF;
	ret = fp_y4m_write(o->y4m, f);
	if (ret == -EINVAL)
		return ret;  /* the caller's mistake: the file is still good */
	if (ret < 0)
		return o->error = ret;
	return 0;
}

int fp_output_switch_frames(struct fp_output *o, enum fp_yuv_format format, uint32_t width,
			    uint32_t height)
{
	int ret;

	if (!o || !o->info->frames)
		return -EINVAL;
	if (o->error)
		return o->error;
	ret = fp_y4m_close(o->y4m);
	o->y4m = NULL;
	if (ret < 0)
		return o->error = ret;
	ret = segment_name(o->target, sizeof(o->target), o->base, ++o->segment);
	if (ret == 0)
		ret = fp_y4m_open(&o->y4m, o->target, format, width, height, o->fps);
	if (ret < 0)
		return o->error = ret;
	fp_info("output: now writing %s (segment %u)", o->target, o->segment);
	return 0;
}
