/* framepush — libavcodec encoder: NV12/P010 frames in, AVPackets out, low latency.
 *
 * Frame handover, per encoder:
 *  - libx264 (NV12), nvenc (NV12/P010), vaapi (upload source): zero copy. Our planes are
 *    wrapped in AVBufferRefs whose free callback does nothing. This is safe because every
 *    packet libavcodec holds is drained into our queue before a frame is sent, so libavcodec
 *    hands the frame to the encoder inside avcodec_send_frame(), and these encoders copy the
 *    picture into their own buffers there (x264_encoder_encode copies the input; nvenc and
 *    the vaapi upload copy to the device). The free callback counts releases so a libavcodec
 *    that ever kept the reference is caught (logged) rather than reading reused memory.
 *  - libx265 and libsvtav1: one planar copy. Neither accepts semi-planar input (their
 *    pix_fmts are yuv420p / yuv420p10le only), so the CbCr plane is de-interleaved (and P010's
 *    10 high bits shifted down) into a reused AVFrame: av_frame_make_writable() only allocates
 *    when the encoder still holds the previous buffer, so the steady state allocates nothing.
 *    This is a plain copy, not an swscale conversion: no colour maths, no range change.
 */
#include "framepush/encode.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/fifo.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "common/log.h"
#include "common/util.h"
#include "encode/av_util.h"

/* 90 kHz: the clock of MPEG-TS and RTP, fine enough for capture jitter, and small enough that
 * MP4's 32-bit sample durations never overflow (a 1 ns base would after 4.3 s). */
static const AVRational enc_time_base = { 1, 90000 };
static const AVRational ns_base = { 1, 1000000000 };

struct enc_kind;

struct fp_encoder {
	struct fp_encoder_config cfg;
	const struct enc_kind *kind;
	const AVCodec *codec;
	AVCodecContext *ctx;
	AVBufferRef *hw_device;   /* vaapi only */
	AVFrame *frame;           /* the frame handed to libavcodec (wrapped or copied) */
	AVFrame *hw_frame;        /* vaapi: device copy of frame */
	enum AVPixelFormat sw_fmt;
	bool zero_copy;
	bool reopen_for_keyframe; /* libsvtav1 in lavc < 60 ignores pict_type: restart instead */
	AVFifo *queue;            /* AVPacket * drained from libavcodec, oldest first */
	int64_t origin_ns;
	int64_t last_pts;
	bool have_origin;
	bool flushing;
	bool eos_sent;            /* end of stream sent to the current e->ctx */
	unsigned instance_frames; /* frames sent to the current e->ctx */
	/* Set by fp_encoder_request_keyframe() from any thread, taken by submit. */
	atomic_bool keyframe_request;
	bool warned_nudge;
	bool warned_held;
	uint64_t wrapped, released;
	char preset[32], tune[32];
	struct fp_latency_hist lat;
	/* cfg.scale_width/height: frames are scaled into e->frame before encoding. */
	struct SwsContext *sws;
	uint32_t enc_width, enc_height; /* what the codec encodes */
};

void fp_encoder_config_defaults(struct fp_encoder_config *cfg, enum fp_codec codec, uint32_t w,
				uint32_t h, int fps)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->codec = codec;
	cfg->hw = FP_HW_NONE;
	cfg->width = w;
	cfg->height = h;
	cfg->fps_num = fps;
	cfg->fps_den = 1;
	cfg->format = FP_YUV_NV12;
}

const char *fp_codec_name(enum fp_codec codec)
{
	switch (codec) {
	case FP_CODEC_H264: return "h264";
	case FP_CODEC_HEVC: return "hevc";
	case FP_CODEC_AV1: return "av1";
	}
	return "?";
}

const char *fp_hw_name(enum fp_hw hw)
{
	switch (hw) {
	case FP_HW_NONE: return "none";
	case FP_HW_VAAPI: return "vaapi";
	case FP_HW_NVENC: return "nvenc";
	}
	return "?";
}

/* One libavcodec encoder this module drives: everything that differs between them is here,
 * so that the code below never asks "if libx265". */
struct enc_opt {
	const char *key, *val;
};

struct enc_kind {
	enum fp_codec codec;
	enum fp_hw hw;
	const char *name;            /* libavcodec encoder */
	/* Takes NV12/P010 as is (zero copy, see the file comment); otherwise it is fed planar
	 * yuv420p / yuv420p10le copies. */
	bool semi_planar;
	/* libsvtav1: see svt_finish() and restart_codec(). */
	bool svt;
	/* Rate mode gets a 1 s VBV (max rate = target), which keeps live links bounded.
	 * SVT-AV1 low-delay is CBR by itself and rejects max == target. */
	bool vbv;
	/* HDR10 records go in as frame side data (hevc_vaapi writes its SEI from them). */
	bool hdr_side_data;
	const char *default_preset;  /* NULL: no "preset" option is set */
	/* The encoder's own preset names, fastest first: what --preset accepts and the steps
	 * the session's governor walks (NULL: the encoder has no speed preset). */
	const char *const *presets;
	/* The tune set at every open ("zerolatency": low latency is not optional), and the
	 * tunes a user may ask for: combined with it when tune_joins (x264 takes one psy tune
	 * plus zerolatency), else instead of it (nvenc's tunes are all low-latency modes). */
	const char *tune;
	const char *const *tunes;
	bool tune_joins;
	const char *crf_option;      /* the private option taking cfg->crf; NULL: global_quality */
	struct enc_opt fixed[4];     /* private options set at every open, up to a NULL key */
	/* Options that depend on the config (NULL: none). Returns 0 or an AVERROR. */
	int (*options)(AVCodecContext *ctx, const struct fp_encoder_config *cfg);
};

static int x265_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg);
static int svt_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg);
static int nvenc_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg);
static int vaapi_hevc_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg);

static const char *const x26x_presets[] = { "ultrafast", "superfast", "veryfast", "faster", "fast",
					    "medium", "slow", "slower", "veryslow", "placebo", NULL };
static const char *const svt_presets[] = { "13", "12", "11", "10", "9", "8", "7", "6", "5", "4",
					   "3", "2", "1", "0", NULL };
static const char *const nvenc_presets[] = { "p1", "p2", "p3", "p4", "p5", "p6", "p7", NULL };
/* Psy tunes x264 combines with zerolatency (fastdecode too); x265 takes one tune only. */
static const char *const x264_tunes[] = { "film", "animation", "grain", "stillimage", "psnr",
					  "ssim", "fastdecode", NULL };
static const char *const nvenc_tunes[] = { "hq", "ll", "ull", "lossless", NULL };

#define NVENC_KIND(c, n)                                                                          \
	{ .codec = (c), .hw = FP_HW_NVENC, .name = (n), .semi_planar = true, .vbv = true,          \
	  .default_preset = "p4", .presets = nvenc_presets, .crf_option = "cq",                   \
	  .tune = "ll", .tunes = nvenc_tunes,                                                     \
	  .fixed = { { "zerolatency", "1" }, { "forced-idr", "1" } },                             \
	  .options = nvenc_options }
#define VAAPI_KIND(c, n, opts)                                                                    \
	{ .codec = (c), .hw = FP_HW_VAAPI, .name = (n), .semi_planar = true, .vbv = true,          \
	  .hdr_side_data = true, .options = (opts) }

static const struct enc_kind enc_kinds[] = {
	{ .codec = FP_CODEC_H264, .hw = FP_HW_NONE, .name = "libx264", .semi_planar = true,
	  .vbv = true, .default_preset = "veryfast", .presets = x26x_presets, .crf_option = "crf",
	  .tune = "zerolatency", .tunes = x264_tunes, .tune_joins = true,
	  .fixed = { { "forced-idr", "1" }, { "x264-params", "repeat-headers=1" } } },
	{ .codec = FP_CODEC_HEVC, .hw = FP_HW_NONE, .name = "libx265", .vbv = true,
	  .default_preset = "ultrafast", .presets = x26x_presets, .crf_option = "crf",
	  .tune = "zerolatency", .fixed = { { "forced-idr", "1" } }, .options = x265_options },
	{ .codec = FP_CODEC_AV1, .hw = FP_HW_NONE, .name = "libsvtav1", .svt = true,
	  .default_preset = "10", .presets = svt_presets, .crf_option = "crf",
	  .options = svt_options },
	NVENC_KIND(FP_CODEC_H264, "h264_nvenc"),
	NVENC_KIND(FP_CODEC_HEVC, "hevc_nvenc"),
	NVENC_KIND(FP_CODEC_AV1, "av1_nvenc"),
	VAAPI_KIND(FP_CODEC_H264, "h264_vaapi", NULL),
	VAAPI_KIND(FP_CODEC_HEVC, "hevc_vaapi", vaapi_hevc_options),
	VAAPI_KIND(FP_CODEC_AV1, "av1_vaapi", NULL),
};

static const struct enc_kind *find_kind(enum fp_codec codec, enum fp_hw hw)
{
	for (size_t i = 0; i < FP_ARRAY_LEN(enc_kinds); i++)
		if (enc_kinds[i].codec == codec && enc_kinds[i].hw == hw)
			return &enc_kinds[i];
	return NULL;
}

const char *fp_codec_software_encoder(enum fp_codec codec)
{
	const struct enc_kind *k = find_kind(codec, FP_HW_NONE);

	return k ? k->name : NULL;
}

static bool in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

/* "a, b or c" (or "none") into buf. */
static void join_list(char *buf, size_t len, const char *const *list)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; list && list[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : list[i + 1] ? ", " : " or ",
					 list[i]);
	if (!buf[0])
		snprintf(buf, len, "none");
}

const char *const *fp_encoder_presets(enum fp_codec codec, enum fp_hw hw)
{
	const struct enc_kind *k = find_kind(codec, hw);

	return k ? k->presets : NULL;
}

const char *fp_encoder_default_preset(enum fp_codec codec, enum fp_hw hw)
{
	const struct enc_kind *k = find_kind(codec, hw);

	return k ? k->default_preset : NULL;
}

int fp_encoder_check_preset(enum fp_codec codec, enum fp_hw hw, const char *preset, char *msg,
			    size_t len)
{
	const struct enc_kind *k = find_kind(codec, hw);
	char names[256];

	if (!k)
		return -EINVAL;
	if (!preset || in_list(k->presets, preset))
		return 0;
	join_list(names, sizeof(names), k->presets);
	if (msg)
		snprintf(msg, len, "%s takes the presets %s", k->name, names);
	return -EINVAL;
}

int fp_encoder_check_tune(enum fp_codec codec, enum fp_hw hw, const char *tune, char *msg,
			  size_t len)
{
	const struct enc_kind *k = find_kind(codec, hw);
	char names[256];

	if (!k)
		return -EINVAL;
	if (!tune || in_list(k->tunes, tune) || (k->tune && !strcmp(tune, k->tune)))
		return 0;
	join_list(names, sizeof(names), k->tunes);
	if (msg && !k->tunes)
		snprintf(msg, len, "%s takes no tune here%s", k->name,
			 k->tune ? " (it runs with its own low-latency tune, which admits no other)" : "");
	else if (msg)
		snprintf(msg, len, "%s takes the tunes %s%s%s", k->name, names,
			 k->tune_joins ? ", always combined with " : "", k->tune_joins ? k->tune : "");
	return -EINVAL;
}

static bool nvidia_present(void)
{
	return access("/dev/nvidiactl", F_OK) == 0;
}

static bool render_node_present(void)
{
	DIR *d = opendir("/dev/dri");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		found = !strncmp(de->d_name, "renderD", 7);
	closedir(d);
	return found;
}

/* A kind of hardware device, as libavutil opens it. */
struct hw_backend {
	enum AVHWDeviceType type;
	bool (*present)(void);       /* the cheap look at the device nodes */
	const char *absent;          /* what a user sees when present() says no */
	/* Frames are uploaded to device surfaces (the device is kept open for that). */
	bool upload;
};

static const struct hw_backend hw_backends[] = {
	[FP_HW_VAAPI] = { AV_HWDEVICE_TYPE_VAAPI, render_node_present,
			  "no VAAPI render node in /dev/dri", true },
	[FP_HW_NVENC] = { AV_HWDEVICE_TYPE_CUDA, nvidia_present, "no NVIDIA device", false },
};

static const struct hw_backend *find_hw(enum fp_hw hw)
{
	if (hw <= FP_HW_NONE || (size_t)hw >= FP_ARRAY_LEN(hw_backends))
		return NULL;
	return &hw_backends[hw];
}

bool fp_hw_device_present(enum fp_hw hw)
{
	const struct hw_backend *b = find_hw(hw);

	return b && b->present();
}

/* msg = what + the software encoder that would work instead. Says what is wrong, never how
 * a program spells its options: that is the program's to add. */
static void say_fallback(char *msg, size_t len, const struct enc_kind *k, const char *what)
{
	snprintf(msg, len, "%s; the software encoder %s works", what,
		 fp_codec_software_encoder(k->codec));
}

/* Opens the device for k (kept in *dev when dev is non-NULL). */
static int probe_device(const struct enc_kind *k, AVBufferRef **dev, char *msg, size_t len)
{
	const struct hw_backend *b = find_hw(k->hw);
	AVBufferRef *ref = NULL;
	char what[192];
	int ret;

	/* Look at the device nodes first: it is cheap, and the reason it gives ("no NVIDIA
	 * device") is the one a user can act on, unlike a dlopen failure deep in libavutil. */
	if (!b->present()) {
		snprintf(what, sizeof(what), "%s unavailable (%s)", k->name, b->absent);
		say_fallback(msg, len, k, what);
		return -ENODEV;
	}
	ret = av_hwdevice_ctx_create(&ref, b->type, NULL, NULL, 0);
	if (ret < 0) {
		snprintf(what, sizeof(what), "%s unavailable (%s device: %s)", k->name,
			 av_hwdevice_get_type_name(b->type), fp_av_err(ret));
		say_fallback(msg, len, k, what);
		return -ENODEV;
	}
	if (dev)
		*dev = ref;
	else
		av_buffer_unref(&ref);
	return 0;
}

int fp_encoder_probe(enum fp_codec codec, enum fp_hw hw, char *msg, size_t msg_len)
{
	char local[256], what[192];
	const struct enc_kind *k = find_kind(codec, hw);

	if (!msg) {
		msg = local;
		msg_len = sizeof(local);
	}
	if (msg_len)
		msg[0] = '\0';
	if (!k) {
		snprintf(msg, msg_len, "unknown codec %d / hw %d", (int)codec, (int)hw);
		return -EINVAL;
	}
	if (!avcodec_find_encoder_by_name(k->name)) {
		snprintf(what, sizeof(what), "%s is not built into this FFmpeg (libavcodec %s)", k->name,
			 AV_STRINGIFY(LIBAVCODEC_VERSION));
		if (hw == FP_HW_NONE)
			snprintf(msg, msg_len, "%s", what);
		else
			say_fallback(msg, msg_len, k, what);
		return -ENOTSUP;
	}
	if (hw == FP_HW_NONE)
		return 0;
	return probe_device(k, NULL, msg, msg_len);
}

/* ---- latency histogram ---- */

/* Log-linear buckets over microseconds: values < 64 get their own bucket, above that each
 * power of two is split into 32 sub-buckets (relative error <= 1/32). */
#define LAT_SUB_BITS 5
#define LAT_SUB (1u << LAT_SUB_BITS)

static unsigned lat_index(uint64_t us)
{
	unsigned e, shift;

	if (us > UINT32_MAX)
		us = UINT32_MAX;
	if (us < 2 * LAT_SUB)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us);
	shift = e - LAT_SUB_BITS;
	return shift * LAT_SUB + (unsigned)(us >> shift);
}

/* Midpoint of a bucket, in microseconds. */
static uint64_t lat_value(unsigned idx)
{
	unsigned shift;
	uint64_t lo;

	if (idx < 2 * LAT_SUB)
		return idx;
	shift = idx / LAT_SUB - 1;
	lo = (uint64_t)(idx % LAT_SUB + LAT_SUB) << shift;
	return lo + ((UINT64_C(1) << shift) - 1) / 2;
}

void fp_latency_reset(struct fp_latency_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void fp_latency_record(struct fp_latency_hist *h, int64_t ns)
{
	unsigned idx;

	if (ns < 0)
		ns = 0;
	idx = lat_index((uint64_t)ns / 1000);
	if (idx >= FP_LATENCY_BUCKETS)
		idx = FP_LATENCY_BUCKETS - 1;
	if (h->count == 0 || ns < h->min_ns)
		h->min_ns = ns;
	if (h->count == 0 || ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
	if (h->bucket[idx] < UINT32_MAX)
		h->bucket[idx]++;
}

int64_t fp_latency_percentile(const struct fp_latency_hist *h, double p)
{
	uint64_t rank, seen = 0;
	int64_t v;

	if (h->count == 0)
		return 0;
	if (p < 0)
		p = 0;
	if (p > 100)
		p = 100;
	/* The smallest value with at least p % of the samples at or below it. */
	rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < FP_LATENCY_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			v = (int64_t)lat_value(i) * 1000;
			/* The exact extremes are known: never report outside them. */
			if (v < h->min_ns)
				v = h->min_ns;
			if (v > h->max_ns)
				v = h->max_ns;
			return v;
		}
	}
	return h->max_ns;
}

void fp_latency_summary(const struct fp_latency_hist *h, struct fp_latency_stats *out)
{
	out->count = h->count;
	out->min_ns = h->count ? h->min_ns : 0;
	out->max_ns = h->count ? h->max_ns : 0;
	out->p50_ns = fp_latency_percentile(h, 50);
	out->p99_ns = fp_latency_percentile(h, 99);
}

/* ---- encoder ---- */

static int check_config(const struct fp_encoder_config *cfg)
{
	char msg[320];

	if (!find_kind(cfg->codec, cfg->hw)) {
		fp_error("encoder: unknown codec %d or hw %d", (int)cfg->codec, (int)cfg->hw);
		return -EINVAL;
	}
	if (cfg->width < 16 || cfg->height < 16 || cfg->width > 8192 || cfg->height > 8192 ||
	    (cfg->width | cfg->height) & 1) {
		fp_error("encoder: size %ux%u not supported (even, 16..8192)", cfg->width, cfg->height);
		return -EINVAL;
	}
	if (cfg->fps_num <= 0 || cfg->fps_den < 0 || cfg->fps_num / (cfg->fps_den ? cfg->fps_den : 1) > 1000) {
		fp_error("encoder: frame rate %d/%d not supported", cfg->fps_num, cfg->fps_den);
		return -EINVAL;
	}
	if (cfg->format != FP_YUV_NV12 && cfg->format != FP_YUV_P010) {
		fp_error("encoder: input format %d is neither NV12 nor P010", (int)cfg->format);
		return -EINVAL;
	}
	/* The frame format defines the colour: the two must agree or the tags would lie. */
	if (cfg->hdr != (cfg->format == FP_YUV_P010)) {
		fp_error("encoder: hdr=%d with %s input: HDR needs P010 (BT.2020 PQ), SDR needs NV12",
			 (int)cfg->hdr, cfg->format == FP_YUV_P010 ? "P010" : "NV12");
		return -EINVAL;
	}
	if (cfg->hdr && cfg->codec == FP_CODEC_H264) {
		fp_error("encoder: HDR (10-bit P010) is not supported with h264; hevc or av1 works");
		return -ENOTSUP;
	}
	if (cfg->bitrate_kbps && cfg->crf) {
		fp_error("encoder: both bitrate (%u kbps) and crf (%d) given: choose one",
			 cfg->bitrate_kbps, cfg->crf);
		return -EINVAL;
	}
	if (cfg->crf < 0 || cfg->crf > (cfg->codec == FP_CODEC_AV1 ? 63 : 51)) {
		fp_error("encoder: crf %d out of range for %s (%s)", cfg->crf, fp_codec_name(cfg->codec),
			 cfg->codec == FP_CODEC_AV1 ? "1..63" : "0..51");
		return -EINVAL;
	}
	if ((cfg->scale_width || cfg->scale_height) &&
	    (cfg->scale_width < 16 || cfg->scale_height < 16 || cfg->scale_width > cfg->width ||
	     cfg->scale_height > cfg->height || (cfg->scale_width | cfg->scale_height) & 1)) {
		fp_error("encoder: cannot scale %ux%u to %ux%u (even, 16 .. the input size)",
			 cfg->width, cfg->height, cfg->scale_width, cfg->scale_height);
		return -EINVAL;
	}
	if (fp_encoder_check_preset(cfg->codec, cfg->hw, cfg->preset, msg, sizeof(msg)) < 0 ||
	    fp_encoder_check_tune(cfg->codec, cfg->hw, cfg->tune, msg, sizeof(msg)) < 0) {
		fp_error("encoder: %s", msg);
		return -EINVAL;
	}
	if (cfg->bitrate_kbps > 1000000) {
		fp_error("encoder: bitrate %u kbps is out of range", cfg->bitrate_kbps);
		return -EINVAL;
	}
	return 0;
}

static void x265_hdr_params(char *buf, size_t len, const struct fp_hdr10 *m)
{
	/* x265 wants exactly the SEI units: chromaticity * 50000, luminance * 10000. */
	snprintf(buf, len,
		 ":hdr10=1:master-display=G(%u,%u)B(%u,%u)R(%u,%u)WP(%u,%u)L(%u,%u):max-cll=%u,%u",
		 m->green_x, m->green_y, m->blue_x, m->blue_y, m->red_x, m->red_y, m->white_x,
		 m->white_y, m->max_luminance, m->min_luminance, m->max_cll, m->max_fall);
}

static void svt_hdr_params(char *buf, size_t len, const struct fp_hdr10 *m)
{
	const double c = FP_HDR10_CHROMA_DEN, l = FP_HDR10_LUMA_DEN;

	/* SVT-AV1 parses real numbers ("G(0.17,0.797)...L(1000,0.0001)") and converts them to the
	 * AV1 metadata OBU's fixed point itself; %.5f / %.4f keep the SEI-unit values exact. */
	snprintf(buf, len,
		 ":mastering-display=G(%.5f,%.5f)B(%.5f,%.5f)R(%.5f,%.5f)WP(%.5f,%.5f)L(%.4f,%.4f)"
		 ":content-light=%u,%u",
		 m->green_x / c, m->green_y / c, m->blue_x / c, m->blue_y / c, m->red_x / c,
		 m->red_y / c, m->white_x / c, m->white_y / c, m->max_luminance / l,
		 m->min_luminance / l, m->max_cll, m->max_fall);
}

static int set_opt(AVCodecContext *ctx, const char *key, const char *val)
{
	int ret = av_opt_set(ctx->priv_data, key, val, 0);

	if (ret < 0)
		fp_error("encoder: %s: option %s=%s rejected: %s", ctx->codec->name, key, val,
			 fp_av_err(ret));
	return ret;
}

static int x265_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg)
{
	char params[512], extra[256] = "";

	/* FFmpeg 5.1's libx265 wrapper does not turn mastering/CLL side data into SEI, so
	 * HDR10 goes through x265's own parameters; closed GOPs make every keyframe an IDR
	 * that a segment or a late joiner can start from. */
	if (cfg->hdr)
		x265_hdr_params(extra, sizeof(extra), fp_hdr10_or_generic(&cfg->hdr10));
	snprintf(params, sizeof(params), "log-level=error:repeat-headers=1:bframes=0:open-gop=0%s%s",
		 cfg->hdr ? ":colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:range=limited" : "",
		 extra);
	return set_opt(ctx, "x265-params", params);
}

/* SVT-AV1's color-range: 0 is studio (limited) range. */
#define SVT_RANGE_STUDIO 0

static int svt_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg)
{
	char params[512], extra[256] = "";

	/* pred-struct=1: SVT-AV1's low-delay structure (no frames from the future); in it SVT
	 * only does CBR, so bitrate mode asks for rc=2 instead of being "corrected". The 5.1
	 * wrapper ignores mastering/CLL side data, so the HDR10 metadata OBUs are requested
	 * through SVT's own parameters (accepted by SVT-AV1 1.4.1, the version here). The colour
	 * description is repeated there from the context's tags (which the wrapper maps too):
	 * libavutil's AVCOL_* values are the H.273 code points SVT takes, so both always agree. */
	if (cfg->hdr)
		svt_hdr_params(extra, sizeof(extra), fp_hdr10_or_generic(&cfg->hdr10));
	snprintf(params, sizeof(params),
		 "pred-struct=1%s:color-primaries=%d:transfer-characteristics=%d"
		 ":matrix-coefficients=%d:color-range=%d%s",
		 cfg->bitrate_kbps ? ":rc=2" : "", (int)ctx->color_primaries, (int)ctx->color_trc,
		 (int)ctx->colorspace, SVT_RANGE_STUDIO, extra);
	return set_opt(ctx, "svtav1-params", params);
}

static int nvenc_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg)
{
	if (cfg->codec == FP_CODEC_HEVC && cfg->hdr)
		return set_opt(ctx, "profile", "main10");
	return 0;
}

static int vaapi_hevc_options(AVCodecContext *ctx, const struct fp_encoder_config *cfg)
{
	/* hevc_vaapi writes mastering-display and light-level SEI on each IDR from the frame's
	 * side data (attached in fill_frame). */
	if (cfg->hdr)
		return set_opt(ctx, "sei", "hdr");
	return 0;
}

/* What every encoder gets: size, clock, GOP, colour tags, rate. */
static void set_common(AVCodecContext *ctx, const struct fp_encoder *e)
{
	const struct fp_encoder_config *cfg = &e->cfg;

	ctx->width = (int)e->enc_width;
	ctx->height = (int)e->enc_height;
	ctx->time_base = enc_time_base;
	ctx->framerate = (AVRational){ cfg->fps_num, cfg->fps_den };
	ctx->gop_size = (int)cfg->keyint;
	ctx->max_b_frames = 0;
	ctx->thread_count = cfg->threads;
	/* Global headers feed mp4/mkv/RTP SDP; the encoders are also told to repeat them in-band
	 * at every keyframe (their options) so MPEG-TS and late joiners of a live stream can
	 * decode. */
	ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	ctx->color_range = AVCOL_RANGE_MPEG;
	if (cfg->hdr) {
		ctx->color_primaries = AVCOL_PRI_BT2020;
		ctx->color_trc = AVCOL_TRC_SMPTE2084;
		ctx->colorspace = AVCOL_SPC_BT2020_NCL;
	} else {
		ctx->color_primaries = AVCOL_PRI_BT709;
		ctx->color_trc = AVCOL_TRC_BT709;
		ctx->colorspace = AVCOL_SPC_BT709;
	}
	ctx->chroma_sample_location = AVCHROMA_LOC_LEFT;
	ctx->pix_fmt = e->sw_fmt;
	if (cfg->bitrate_kbps) {
		ctx->bit_rate = (int64_t)cfg->bitrate_kbps * 1000;
		if (e->kind->vbv) {
			ctx->rc_max_rate = ctx->bit_rate;
			ctx->rc_buffer_size = (int)(ctx->bit_rate > INT32_MAX ? INT32_MAX : ctx->bit_rate);
		}
	}
}

/* Device surfaces the frames are uploaded to (VAAPI). Returns 0 or a negative errno. */
static int set_hw_frames(struct fp_encoder *e)
{
	AVCodecContext *ctx = e->ctx;
	AVBufferRef *frames = av_hwframe_ctx_alloc(e->hw_device);
	AVHWFramesContext *fc;
	int ret;

	if (!frames)
		return -ENOMEM;
	fc = (AVHWFramesContext *)frames->data;
	fc->format = AV_PIX_FMT_VAAPI;
	fc->sw_format = e->sw_fmt;
	fc->width = ctx->width;
	fc->height = ctx->height;
	fc->initial_pool_size = 8;
	ret = av_hwframe_ctx_init(frames);
	if (ret < 0) {
		fp_error("encoder: %s: VAAPI surfaces %s %dx%d: %s", e->kind->name,
			 av_get_pix_fmt_name(e->sw_fmt), ctx->width, ctx->height, fp_av_err(ret));
		av_buffer_unref(&frames);
		return fp_av_errno(ret);
	}
	ctx->hw_frames_ctx = frames;
	ctx->pix_fmt = AV_PIX_FMT_VAAPI;
	return 0;
}

/* The kind's private options, then the quality. Returns 0 or a negative errno. */
static int set_options(struct fp_encoder *e)
{
	const struct enc_kind *k = e->kind;
	const struct fp_encoder_config *cfg = &e->cfg;
	AVCodecContext *ctx = e->ctx;
	char num[32];
	int ret = 0;

	if (k->default_preset)
		ret = set_opt(ctx, "preset", cfg->preset ? cfg->preset : k->default_preset);
	if (ret >= 0 && k->tune) {
		char tune[64];

		if (!cfg->tune || !strcmp(cfg->tune, k->tune))
			snprintf(tune, sizeof(tune), "%s", k->tune);
		else if (k->tune_joins)
			snprintf(tune, sizeof(tune), "%s,%s", cfg->tune, k->tune);
		else
			snprintf(tune, sizeof(tune), "%s", cfg->tune);
		ret = set_opt(ctx, "tune", tune);
	}
	for (size_t i = 0; ret >= 0 && i < FP_ARRAY_LEN(k->fixed) && k->fixed[i].key; i++)
		ret = set_opt(ctx, k->fixed[i].key, k->fixed[i].val);
	if (ret >= 0 && k->options)
		ret = k->options(ctx, cfg);
	if (ret >= 0 && cfg->constrained_baseline && cfg->codec == FP_CODEC_H264)
		ret = set_opt(ctx, "profile", k->hw == FP_HW_VAAPI ? "constrained_baseline" : "baseline");
	if (ret >= 0 && cfg->crf) {
		snprintf(num, sizeof(num), "%d", cfg->crf);
		if (k->crf_option)
			ret = set_opt(ctx, k->crf_option, num);
		else
			ctx->global_quality = cfg->crf;  /* VAAPI's constant-QP value */
	}
	return ret < 0 ? fp_av_errno(ret) : 0;
}

/* Allocates and opens e->ctx from e->cfg. Called at create and, for libsvtav1, to restart.
 * Returns 0 or a negative errno; e->ctx is freed by the caller (fp_encoder_destroy). */
static int open_codec(struct fp_encoder *e)
{
	const struct fp_encoder_config *cfg = &e->cfg;
	int ret;

	e->ctx = avcodec_alloc_context3(e->codec);
	if (!e->ctx)
		return -ENOMEM;
	set_common(e->ctx, e);
	if (e->hw_device) {
		ret = set_hw_frames(e);
		if (ret < 0)
			return ret;
	}
	ret = set_options(e);
	if (ret < 0)
		return ret;
	ret = avcodec_open2(e->ctx, e->codec, NULL);
	if (ret < 0) {
		fp_error("encoder: opening %s %ux%u %s %d/%d fps failed: %s", e->kind->name, cfg->width,
			 cfg->height, av_get_pix_fmt_name(e->sw_fmt), cfg->fps_num, cfg->fps_den,
			 fp_av_err(ret));
		return fp_av_errno(ret);
	}
	return 0;
}

/* The HDR10 records as frame side data, for the encoders that write their SEI from it
 * (hevc_vaapi; libx265 and libsvtav1 in FFmpeg 5.1 take them as parameters instead).
 * Returns 0 or an AVERROR. */
static int attach_hdr10(AVFrame *f, const struct fp_hdr10 *m)
{
	AVMasteringDisplayMetadata *md;
	AVContentLightMetadata *cll;

	/* Replaced, never stacked, should a frame ever be reused without an unref. */
	av_frame_remove_side_data(f, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
	av_frame_remove_side_data(f, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
	md = av_mastering_display_metadata_create_side_data(f);
	cll = av_content_light_metadata_create_side_data(f);
	if (!md || !cll)
		return AVERROR(ENOMEM);
	fp_hdr10_to_av(m, md, cll);
	return 0;
}

/* The device for kinds that upload frames to it (VAAPI), and the frame that goes there.
 * Returns 0 or a negative errno (logged). */
static int open_device(struct fp_encoder *e)
{
	char msg[256];
	int ret;

	if (e->cfg.hw == FP_HW_NONE || !find_hw(e->cfg.hw)->upload)
		return 0;
	ret = probe_device(e->kind, &e->hw_device, msg, sizeof(msg));
	if (ret < 0) {
		fp_error("encoder: %s", msg);
		return ret;
	}
	e->hw_frame = av_frame_alloc();
	return e->hw_frame ? 0 : -ENOMEM;
}

/* The input layout: semi-planar kinds take the caller's planes as they are; the others get
 * a planar frame, allocated once here and reused (see the file comment). Returns 0 or a
 * negative errno. */
/* The scaler for cfg.scale_width/height: the frame's own layout in, the encoder's out,
 * bilinear (the governor's last resort must not cost what it saves). Both sides are limited
 * range with the same matrix: a resize, no colour conversion. */
static int open_scaler(struct fp_encoder *e, enum AVPixelFormat in_fmt)
{
	e->sws = sws_getContext((int)e->cfg.width, (int)e->cfg.height, in_fmt, (int)e->enc_width,
				(int)e->enc_height, e->sw_fmt, SWS_BILINEAR, NULL, NULL, NULL);
	if (!e->sws) {
		fp_error("encoder: cannot scale %s %ux%u to %s %ux%u", av_get_pix_fmt_name(in_fmt),
			 e->cfg.width, e->cfg.height, av_get_pix_fmt_name(e->sw_fmt), e->enc_width,
			 e->enc_height);
		return -ENOTSUP;
	}
	return 0;
}

static int set_input(struct fp_encoder *e)
{
	bool p010 = e->cfg.format == FP_YUV_P010;
	bool scaled = e->cfg.scale_width != 0;
	int ret;

	e->enc_width = scaled ? e->cfg.scale_width : e->cfg.width;
	e->enc_height = scaled ? e->cfg.scale_height : e->cfg.height;
	/* Scaled frames are written into a buffer of our own, zero copy is moot then. */
	e->zero_copy = e->kind->semi_planar && !scaled;
	if (e->kind->semi_planar)
		e->sw_fmt = p010 ? AV_PIX_FMT_P010LE : AV_PIX_FMT_NV12;
	else
		e->sw_fmt = p010 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P;
	if (e->zero_copy)
		return 0;
	if (scaled) {
		ret = open_scaler(e, p010 ? AV_PIX_FMT_P010LE : AV_PIX_FMT_NV12);
		if (ret < 0)
			return ret;
	}
	e->frame->format = e->sw_fmt;
	e->frame->width = (int)e->enc_width;
	e->frame->height = (int)e->enc_height;
	ret = av_frame_get_buffer(e->frame, 0);
	return ret < 0 ? fp_av_errno(ret) : 0;
}

/* Checks cfg, fills its defaults and probes its encoder. Returns 0 or a negative errno. */
static int prepare_config(struct fp_encoder_config *cfg)
{
	char msg[256];
	int ret = check_config(cfg);

	if (ret < 0)
		return ret;
	if (cfg->fps_den == 0)
		cfg->fps_den = 1;
	if (cfg->keyint == 0) {
		/* Two seconds' worth, rounded up to a whole frame. */
		cfg->keyint = (unsigned)((2 * (int64_t)cfg->fps_num + cfg->fps_den - 1) / cfg->fps_den);
	}
	ret = fp_encoder_probe(cfg->codec, cfg->hw, msg, sizeof(msg));
	if (ret < 0)
		fp_error("encoder: %s", msg);
	return ret;
}

int fp_encoder_create(struct fp_encoder **out, const struct fp_encoder_config *cfg_in)
{
	struct fp_encoder *e;
	struct fp_encoder_config cfg = *cfg_in;
	int ret;

	*out = NULL;
	ret = prepare_config(&cfg);
	if (ret < 0)
		return ret;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	atomic_init(&e->keyframe_request, false);
	/* Our own copy: the caller's string need not outlive create, and a restart reuses it. */
	if (cfg.preset) {
		snprintf(e->preset, sizeof(e->preset), "%s", cfg.preset);
		e->cfg.preset = e->preset;
	}
	if (cfg.tune) {
		snprintf(e->tune, sizeof(e->tune), "%s", cfg.tune);
		e->cfg.tune = e->tune;
	}
	e->kind = find_kind(cfg.codec, cfg.hw);
	e->codec = avcodec_find_encoder_by_name(e->kind->name);
	e->queue = av_fifo_alloc2(8, sizeof(AVPacket *), AV_FIFO_FLAG_AUTO_GROW);
	e->frame = av_frame_alloc();
	ret = !e->queue || !e->frame ? -ENOMEM : open_device(e);
	if (ret >= 0)
		ret = set_input(e);
#if LIBAVCODEC_VERSION_MAJOR < 60
	/* Measured with FFmpeg 5.1 + SVT-AV1 1.4: the wrapper never sets the SVT picture type,
	 * so AV_PICTURE_TYPE_I is ignored and a keyframe can only be had by restarting SVT. */
	e->reopen_for_keyframe = e->kind->svt;
#endif
	if (ret >= 0)
		ret = open_codec(e);
	if (ret < 0)
		goto err_destroy;
	fp_latency_reset(&e->lat);
	fp_info("encoder: %s %ux%u %s %d/%d fps keyint %u %s%s", e->kind->name, cfg.width, cfg.height,
		cfg.hdr ? "HDR10 P010" : "SDR NV12", cfg.fps_num, cfg.fps_den, cfg.keyint,
		cfg.bitrate_kbps ? "bitrate" : "crf", e->zero_copy ? " (zero-copy input)" : "");
	*out = e;
	return 0;

err_destroy:
	/* Every member is either set or NULL: destroy undoes whatever was reached. */
	fp_encoder_destroy(e);
	return ret;
}

static void drop_queue(struct fp_encoder *e)
{
	AVPacket *p;

	if (!e->queue)
		return;
	while (av_fifo_read(e->queue, &p, 1) >= 0)
		av_packet_free(&p);
}

/* SVT-AV1 1.4 under FFmpeg 5.1 (measured): closing an instance that was never sent
 * end-of-stream blocks for ever inside svt_av1_enc_deinit() waiting for the EOS packet, and
 * an instance that got EOS without any picture never produces that packet either. So before
 * an instance is freed it gets one black picture if it had none, then EOS, and is drained.
 * Costs one small encode, only at teardown. */
static void svt_finish(struct fp_encoder *e)
{
	AVPacket *p;
	int ret;

	if (!e->kind->svt || !e->ctx || !avcodec_is_open(e->ctx))
		return;
	if (e->instance_frames == 0 && !e->eos_sent) {
		if (av_frame_make_writable(e->frame) < 0 ||
		    av_image_fill_black(e->frame->data, (const ptrdiff_t[4]){ e->frame->linesize[0],
				e->frame->linesize[1], e->frame->linesize[2], 0 },
				e->sw_fmt, AVCOL_RANGE_MPEG, e->frame->width, e->frame->height) < 0)
			return;
		e->frame->pts = e->last_pts + 1;
		e->frame->pict_type = AV_PICTURE_TYPE_NONE;
		if (avcodec_send_frame(e->ctx, e->frame) < 0)
			return;
		e->instance_frames++;
	}
	if (!e->eos_sent) {
		ret = avcodec_send_frame(e->ctx, NULL);
		if (ret < 0 && ret != AVERROR_EOF)
			return;
		e->eos_sent = true;
	}
	p = av_packet_alloc();
	if (!p)
		return;
	while (avcodec_receive_packet(e->ctx, p) >= 0)
		av_packet_unref(p);
	av_packet_free(&p);
}

void fp_encoder_destroy(struct fp_encoder *e)
{
	if (!e)
		return;
	svt_finish(e);
	drop_queue(e);
	av_fifo_freep2(&e->queue);
	avcodec_free_context(&e->ctx);
	av_frame_free(&e->frame);
	av_frame_free(&e->hw_frame);
	av_buffer_unref(&e->hw_device);
	sws_freeContext(e->sws);
	free(e);
}

static void note_packet(struct fp_encoder *e, const AVPacket *pkt)
{
	int64_t captured;

	if (pkt->pts == AV_NOPTS_VALUE)
		return;
	captured = e->origin_ns + av_rescale_q(pkt->pts, enc_time_base, ns_base);
	fp_latency_record(&e->lat, fp_now_ns() - captured);
}

/* Moves every packet libavcodec has ready into our queue. Returns 0, or AVERROR_EOF once the
 * encoder is drained, or another AVERROR. */
static int drain_codec(struct fp_encoder *e)
{
	AVPacket *p;
	int ret;

	for (;;) {
		p = av_packet_alloc();
		if (!p)
			return AVERROR(ENOMEM);
		ret = avcodec_receive_packet(e->ctx, p);
		if (ret < 0) {
			av_packet_free(&p);
			return ret == AVERROR(EAGAIN) ? 0 : ret;
		}
		note_packet(e, p);
		ret = av_fifo_write(e->queue, &p, 1);
		if (ret < 0) {
			av_packet_free(&p);
			return ret;
		}
	}
}

static void wrapped_free(void *opaque, uint8_t *data)
{
	struct fp_encoder *e = opaque;

	(void)data;
	e->released++;
}

static int wrap_frame(struct fp_encoder *e, const struct fp_yuv_frame *f)
{
	AVFrame *fr = e->frame;
	size_t ch = (f->height + 1) / 2;

	av_frame_unref(fr);
	fr->buf[0] = av_buffer_create(f->data[0], f->stride[0] * f->height, wrapped_free, e,
				      AV_BUFFER_FLAG_READONLY);
	if (!fr->buf[0])
		return -ENOMEM;
	e->wrapped++;
	fr->buf[1] = av_buffer_create(f->data[1], f->stride[1] * ch, wrapped_free, e,
				      AV_BUFFER_FLAG_READONLY);
	if (!fr->buf[1])
		return -ENOMEM;
	e->wrapped++;
	fr->data[0] = f->data[0];
	fr->data[1] = f->data[1];
	fr->linesize[0] = (int)f->stride[0];
	fr->linesize[1] = (int)f->stride[1];
	fr->format = e->sw_fmt;
	fr->width = (int)f->width;
	fr->height = (int)f->height;
	return 0;
}

/* NV12 -> yuv420p or P010 -> yuv420p10le (little-endian host): de-interleave CbCr. */
static int copy_frame(struct fp_encoder *e, const struct fp_yuv_frame *f)
{
	AVFrame *fr = e->frame;
	uint32_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
	int ret;

	ret = av_frame_make_writable(fr);
	if (ret < 0)
		return fp_av_errno(ret);
	if (f->format == FP_YUV_NV12) {
		for (uint32_t y = 0; y < f->height; y++)
			memcpy(fr->data[0] + (size_t)y * (size_t)fr->linesize[0],
			       f->data[0] + y * f->stride[0], f->width);
		for (uint32_t y = 0; y < ch; y++) {
			const uint8_t *s = f->data[1] + y * f->stride[1];
			uint8_t *u = fr->data[1] + (size_t)y * (size_t)fr->linesize[1];
			uint8_t *v = fr->data[2] + (size_t)y * (size_t)fr->linesize[2];

			for (uint32_t x = 0; x < cw; x++) {
				u[x] = s[2 * x];
				v[x] = s[2 * x + 1];
			}
		}
	} else {
		for (uint32_t y = 0; y < f->height; y++) {
			const uint16_t *s = (const uint16_t *)(const void *)(f->data[0] + y * f->stride[0]);
			uint16_t *d = (uint16_t *)(void *)(fr->data[0] + (size_t)y * (size_t)fr->linesize[0]);

			for (uint32_t x = 0; x < f->width; x++)
				d[x] = s[x] >> 6;
		}
		for (uint32_t y = 0; y < ch; y++) {
			const uint16_t *s = (const uint16_t *)(const void *)(f->data[1] + y * f->stride[1]);
			uint16_t *u = (uint16_t *)(void *)(fr->data[1] + (size_t)y * (size_t)fr->linesize[1]);
			uint16_t *v = (uint16_t *)(void *)(fr->data[2] + (size_t)y * (size_t)fr->linesize[2]);

			for (uint32_t x = 0; x < cw; x++) {
				u[x] = s[2 * x] >> 6;
				v[x] = s[2 * x + 1] >> 6;
			}
		}
	}
	return 0;
}

static int scale_frame(struct fp_encoder *e, const struct fp_yuv_frame *f)
{
	const uint8_t *const src[4] = { f->data[0], f->data[1], NULL, NULL };
	const int stride[4] = { (int)f->stride[0], (int)f->stride[1], 0, 0 };
	int ret = av_frame_make_writable(e->frame);

	if (ret < 0)
		return fp_av_errno(ret);
	ret = sws_scale(e->sws, src, stride, 0, (int)f->height, e->frame->data, e->frame->linesize);
	return ret < 0 ? fp_av_errno(ret) : 0;
}

/* libsvtav1 in FFmpeg 5.1: drain the running instance and start a fresh one, whose first
 * picture is a key frame with its sequence header. Costs one SVT init (tens of ms).
 * Returns 0 or a negative errno (open_codec's own, not a generic one: -ENOMEM stays that). */
static int restart_codec(struct fp_encoder *e)
{
	int ret;

	if (e->instance_frames > 0) {
		ret = avcodec_send_frame(e->ctx, NULL);
		if (ret < 0 && ret != AVERROR_EOF)
			return fp_av_errno(ret);
		e->eos_sent = true;
		ret = drain_codec(e);
		if (ret < 0 && ret != AVERROR_EOF)
			return fp_av_errno(ret);
	}
	svt_finish(e);
	avcodec_free_context(&e->ctx);
	e->instance_frames = 0;
	e->eos_sent = false;
	return open_codec(e);
}

/* The frame must be what the encoder was configured for. */
static int check_frame(const struct fp_encoder *e, const struct fp_yuv_frame *f)
{
	if (f->format != e->cfg.format || f->width != e->cfg.width || f->height != e->cfg.height ||
	    !f->data[0] || !f->data[1]) {
		fp_error("encoder: frame %ux%u format %d does not match the encoder's %ux%u format %d",
			 f->width, f->height, (int)f->format, e->cfg.width, e->cfg.height,
			 (int)e->cfg.format);
		return -EINVAL;
	}
	return 0;
}

/* f's pts in the encoder time base, from the first frame's capture time, strictly after the
 * previous frame's. */
static int64_t frame_pts(struct fp_encoder *e, const struct fp_yuv_frame *f)
{
	int64_t pts;

	if (!e->have_origin) {
		e->origin_ns = f->pts_ns;
		e->have_origin = true;
		e->last_pts = -1;
	}
	pts = av_rescale_q_rnd(f->pts_ns - e->origin_ns, ns_base, enc_time_base,
			       AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
	if (pts <= e->last_pts) {
		/* Encoders and muxers require strictly increasing timestamps; a capture clock
		 * that stalls must not end the stream. */
		if (!e->warned_nudge)
			fp_warn("encoder: frame pts %" PRId64 " ns not after the previous frame; nudged",
				f->pts_ns);
		e->warned_nudge = true;
		pts = e->last_pts + 1;
	}
	return pts;
}

/* Puts f into e->frame (wrapped or copied) with its timestamp, picture type, colour tags and
 * HDR10 side data, uploaded to the device where the encoder needs it; *send is the frame to
 * hand to libavcodec. Returns 0 or a negative errno / AVERROR; e->frame is unref'd on
 * failure. */
static int fill_frame(struct fp_encoder *e, const struct fp_yuv_frame *f, int64_t pts, bool key,
		      AVFrame **send)
{
	AVFrame *fr = e->frame;
	int ret;

	ret = e->sws ? scale_frame(e, f) : e->zero_copy ? wrap_frame(e, f) : copy_frame(e, f);
	if (ret < 0)
		goto err_unref_frame;
	fr->pts = pts;
	fr->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	fr->color_range = e->ctx->color_range;
	fr->color_primaries = e->ctx->color_primaries;
	fr->color_trc = e->ctx->color_trc;
	fr->colorspace = e->ctx->colorspace;
	fr->chroma_location = e->ctx->chroma_sample_location;
	*send = fr;
	if (e->cfg.hdr && e->kind->hdr_side_data) {
		ret = attach_hdr10(fr, &e->cfg.hdr10);
		if (ret < 0)
			goto err_unref_frame;
	}
	if (e->hw_frame) {
		av_frame_unref(e->hw_frame);
		ret = av_hwframe_get_buffer(e->ctx->hw_frames_ctx, e->hw_frame, 0);
		if (ret >= 0)
			ret = av_hwframe_transfer_data(e->hw_frame, fr, 0);
		if (ret >= 0)
			ret = av_frame_copy_props(e->hw_frame, fr);
		if (ret < 0)
			goto err_unref_frame;
		*send = e->hw_frame;
	}
	return 0;

err_unref_frame:
	av_frame_unref(fr);
	return ret;
}

/* Hands send to libavcodec and lets go of the frames at once (the zero-copy contract).
 * Returns 0 or an AVERROR. */
static int send_frame(struct fp_encoder *e, AVFrame *send)
{
	int ret = avcodec_send_frame(e->ctx, send);

	if (e->zero_copy)
		av_frame_unref(e->frame);
	if (e->hw_frame)
		av_frame_unref(e->hw_frame);
	if (e->zero_copy && e->released != e->wrapped && !e->warned_held) {
		/* Would mean libavcodec queued our planes past this call: the host reuses them. */
		fp_error("encoder: %s kept a reference to the submitted frame (%" PRIu64 " of %" PRIu64
			 " released); output may show later frames' pixels",
			 e->kind->name, e->released, e->wrapped);
		e->warned_held = true;
	}
	return ret;
}

int fp_encoder_submit(struct fp_encoder *e, const struct fp_yuv_frame *f)
{
	AVFrame *send;
	int64_t pts;
	bool key;
	int ret;

	if (!e || !f)
		return -EINVAL;
	if (e->flushing)
		return -EPIPE;
	ret = check_frame(e, f);
	if (ret < 0)
		return ret;
	pts = frame_pts(e, f);
	/* Keep libavcodec's own packet slot empty, so that the frame is consumed by the encoder
	 * within avcodec_send_frame() (the zero-copy contract, see the file comment). */
	ret = drain_codec(e);
	if (ret < 0)
		goto err_log;
	/* Taken now, so a request made while this frame is submitted applies to the next one;
	 * given back if the frame does not make it into the encoder. */
	key = atomic_exchange(&e->keyframe_request, false);
	if (key && e->reopen_for_keyframe && e->last_pts >= 0) {
		ret = restart_codec(e);
		if (ret < 0)
			goto err_give_back_key;
	}
	ret = fill_frame(e, f, pts, key, &send);
	if (ret < 0)
		goto err_give_back_key;
	ret = send_frame(e, send);
	if (ret < 0)
		goto err_give_back_key;
	/* In the encoder now: a later failure must not ask for the keyframe again. */
	e->instance_frames++;
	e->last_pts = pts;
	ret = drain_codec(e);
	if (ret < 0)
		goto err_log;
	return 0;

err_give_back_key:
	if (key)
		atomic_store(&e->keyframe_request, true);
err_log:
	fp_error("encoder: %s: encoding frame pts %" PRId64 " ns failed: %s", e->kind->name,
		 f->pts_ns, fp_av_err(ret));
	return fp_av_errno(ret);
}

int fp_encoder_receive(struct fp_encoder *e, AVPacket *pkt)
{
	AVPacket *p;
	int ret;

	if (av_fifo_read(e->queue, &p, 1) < 0) {
		ret = drain_codec(e);
		if (ret == AVERROR_EOF && !av_fifo_can_read(e->queue))
			return -ENODATA;
		if (ret < 0 && ret != AVERROR_EOF) {
			fp_error("encoder: %s: receiving a packet failed: %s", e->codec->name,
				 fp_av_err(ret));
			return fp_av_errno(ret);
		}
		if (av_fifo_read(e->queue, &p, 1) < 0)
			return e->flushing ? -ENODATA : -EAGAIN;
	}
	av_packet_move_ref(pkt, p);
	av_packet_free(&p);
	return 0;
}

int fp_encoder_flush(struct fp_encoder *e)
{
	int ret;

	if (e->flushing)
		return 0;
	e->flushing = true;
	/* An SVT instance without pictures never answers EOS (see svt_finish): nothing to
	 * drain anyway, so receive reports -ENODATA at once. */
	if (e->instance_frames == 0 && e->kind->svt)
		return 0;
	e->eos_sent = true;
	ret = avcodec_send_frame(e->ctx, NULL);
	if (ret < 0 && ret != AVERROR_EOF) {
		fp_error("encoder: %s: flush failed: %s", e->codec->name, fp_av_err(ret));
		return fp_av_errno(ret);
	}
	return 0;
}

void fp_encoder_request_keyframe(struct fp_encoder *e)
{
	atomic_store(&e->keyframe_request, true);
}

const struct AVCodecContext *fp_encoder_context(const struct fp_encoder *e)
{
	return e->ctx;
}

void fp_encoder_time_base(const struct fp_encoder *e, int *num, int *den)
{
	(void)e;
	*num = enc_time_base.num;
	*den = enc_time_base.den;
}

const struct fp_encoder_config *fp_encoder_config(const struct fp_encoder *e)
{
	return &e->cfg;
}

const char *fp_encoder_name(const struct fp_encoder *e)
{
	return e->codec->name;
}

void fp_encoder_latency(const struct fp_encoder *e, struct fp_latency_stats *out)
{
	fp_latency_summary(&e->lat, out);
}
