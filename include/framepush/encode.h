/* framepush — video encoder on top of libavcodec.
 *
 * Frames come in as struct fp_yuv_frame (NV12 SDR BT.709 limited, or P010 HDR BT.2020 PQ
 * limited) and leave as AVPackets in the encoder's time base (fp_encoder_time_base()).
 * Software encoders: libx264 (h264), libx265 (hevc; Main for NV12, Main10 for P010),
 * libsvtav1 (av1; 8 or 10 bit). Hardware (nvenc, vaapi) only when asked for; a missing device
 * fails with -ENODEV and a message naming the software fallback, never a silent switch.
 *
 * Every encoder is set up for low latency: no B-frames, zerolatency tune (x264/x265), SVT-AV1
 * low-delay prediction structure. All calls on one encoder must come from one thread, except
 * fp_encoder_request_keyframe().
 */
#ifndef FRAMEPUSH_ENCODE_H
#define FRAMEPUSH_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepush/frame.h"
#include "framepush/pixel.h"

/* Forward declarations so that users of this header need not include libav* headers. */
struct AVPacket;
struct AVCodecContext;

enum fp_codec {
	FP_CODEC_H264 = 1,
	FP_CODEC_HEVC = 2,
	FP_CODEC_AV1 = 3,
};

enum fp_hw {
	FP_HW_NONE = 0,
	FP_HW_VAAPI = 1,
	FP_HW_NVENC = 2,
};

struct fp_encoder_config {
	enum fp_codec codec;
	enum fp_hw hw;               /* FP_HW_NONE: software encoder */
	uint32_t width, height;      /* even, 16 .. 8192 */
	int fps_num, fps_den;        /* frame rate, e.g. 30/1 or 30000/1001; fps_den 0 means 1 */
	enum fp_yuv_format format;   /* FP_YUV_NV12 (SDR) or FP_YUV_P010 (HDR) */
	/* Rate control: exactly one of bitrate_kbps / crf, or neither for the codec's default CRF.
	 * crf is the codec's own scale (x264/x265 0..51, svt-av1 1..63). */
	unsigned bitrate_kbps;
	int crf;
	unsigned keyint;             /* frames between keyframes; 0 = 2 seconds' worth */
	/* hdr must match the format: P010 frames are BT.2020 PQ, NV12 frames BT.709. */
	bool hdr;
	struct fp_hdr10 hdr10;       /* used when hdr; all zero = fp_hdr10_generic */
	int threads;                 /* 0 = codec default (all CPUs) */
	const char *preset;          /* NULL = fast low-latency default per codec */
	const char *tune;            /* NULL = the encoder's low-latency tune alone */
	/* 0: encode at width x height. Else frames (still submitted at width x height) are
	 * scaled to this, bilinear, before encoding: even, 16 .. the input size. */
	uint32_t scale_width, scale_height;
	/* H.264 only: the constrained baseline profile (no CABAC, no B-frames), which every
	 * WebRTC receiver decodes. */
	bool constrained_baseline;
};

/* Fills cfg with defaults for a w x h NV12 h264 stream at fps/1, default CRF. */
void fp_encoder_config_defaults(struct fp_encoder_config *cfg, enum fp_codec codec, uint32_t w,
				uint32_t h, int fps);

const char *fp_codec_name(enum fp_codec codec);  /* "h264", "hevc", "av1" */
const char *fp_hw_name(enum fp_hw hw);           /* "none", "vaapi", "nvenc" */
/* The software encoder of codec: "libx264", "libx265", "libsvtav1" (NULL if unknown). */
const char *fp_codec_software_encoder(enum fp_codec codec);

/* The encoder's speed presets in its own names ("ultrafast" .. "placebo" for x264/x265, "13" ..
 * "0" for SVT-AV1, "p1" .. "p7" for nvenc), fastest first, NULL-terminated; NULL when it has
 * none (vaapi). The default is what a config without preset gets. */
const char *const *fp_encoder_presets(enum fp_codec codec, enum fp_hw hw);
const char *fp_encoder_default_preset(enum fp_codec codec, enum fp_hw hw);

/* Whether preset / tune (NULL: none asked for) is one the encoder takes. Returns 0, or -EINVAL
 * with a sentence listing what it takes in msg (may be NULL). A tune is combined with the
 * encoder's own low-latency tune where it allows (x264: "film,zerolatency"). */
int fp_encoder_check_preset(enum fp_codec codec, enum fp_hw hw, const char *preset, char *msg,
			    size_t len);
int fp_encoder_check_tune(enum fp_codec codec, enum fp_hw hw, const char *tune, char *msg,
			  size_t len);

/* Whether the libavcodec encoder for codec/hw exists and its device can be opened.
 * Returns 0, or -ENODEV / -ENOTSUP with a one-line reason naming the software fallback in msg
 * (e.g. "h264_nvenc unavailable (no NVIDIA device); the software encoder libx264 works").
 * The text names no program option: a program adds its own advice. msg may be NULL. */
int fp_encoder_probe(enum fp_codec codec, enum fp_hw hw, char *msg, size_t msg_len);

/* Whether hw's device nodes exist (/dev/nvidiactl, a /dev/dri render node): the cheap first
 * look of the probe. True says nothing about whether an encoder will open on it. */
bool fp_hw_device_present(enum fp_hw hw);

/* Capture -> encoded latency histogram: fixed size (log-linear buckets of microseconds,
 * <= 3.2 % relative error, range 0 .. ~71 minutes), no allocation, no unbounded growth. */
#define FP_LATENCY_BUCKETS 896
struct fp_latency_hist {
	uint64_t count;
	int64_t min_ns, max_ns;
	uint32_t bucket[FP_LATENCY_BUCKETS];
};

struct fp_latency_stats {
	uint64_t count;
	int64_t min_ns, p50_ns, p99_ns, max_ns;  /* 0 when count == 0 */
};

void fp_latency_reset(struct fp_latency_hist *h);
void fp_latency_record(struct fp_latency_hist *h, int64_t ns);  /* negative counts as 0 */
/* p in [0, 100]; returns the representative value of the bucket holding that rank. */
int64_t fp_latency_percentile(const struct fp_latency_hist *h, double p);
void fp_latency_summary(const struct fp_latency_hist *h, struct fp_latency_stats *out);

struct fp_encoder;

/* Opens the encoder. Returns 0, -EINVAL (bad config, logged with the field), -ENODEV (hw not
 * present), -ENOTSUP (combination this FFmpeg cannot do), -ENOMEM, or another negative errno
 * from libavcodec. */
int fp_encoder_create(struct fp_encoder **out, const struct fp_encoder_config *cfg);
void fp_encoder_destroy(struct fp_encoder *e);  /* accepts NULL */

/* Submits one frame (format and size must match the config). The encoder never keeps a
 * reference to f's planes after this returns: the host may reuse them at once.
 * pts: (f->pts_ns - pts of the first submitted frame) in the encoder time base; a frame whose
 * pts is not after the previous one is nudged one tick later (logged once).
 * Returns 0, -EINVAL, -EPIPE after fp_encoder_flush(), or a negative errno. */
int fp_encoder_submit(struct fp_encoder *e, const struct fp_yuv_frame *f);

/* Next encoded packet, in fp_encoder_time_base(). pkt must be blank (av_packet_alloc'd or
 * unref'd); on success the caller owns the reference and must av_packet_unref() it.
 * Returns 0 with a packet, -EAGAIN when the encoder needs more input, -ENODATA when fully
 * drained after fp_encoder_flush(), or a negative errno. Records the latency of each packet
 * (now - the frame's pts_ns). */
int fp_encoder_receive(struct fp_encoder *e, struct AVPacket *pkt);

/* Signals end of input; fp_encoder_receive then returns the remaining packets and -ENODATA. */
int fp_encoder_flush(struct fp_encoder *e);

/* The next submitted frame becomes an IDR / key frame (headers repeated in-band). Safe from any
 * thread while another submits (an atomic flag); requests before one submit count once. */
void fp_encoder_request_keyframe(struct fp_encoder *e);

/* Codec parameters for the muxer (extradata is present: the encoder always emits global
 * headers AND repeats them in-band at each keyframe, so every container and late joiners of a
 * live stream are served). Valid until fp_encoder_destroy. */
const struct AVCodecContext *fp_encoder_context(const struct fp_encoder *e);
void fp_encoder_time_base(const struct fp_encoder *e, int *num, int *den);
const struct fp_encoder_config *fp_encoder_config(const struct fp_encoder *e);
/* Name of the libavcodec encoder in use, e.g. "libx265". */
const char *fp_encoder_name(const struct fp_encoder *e);

/* Latency of every packet received so far (capture pts_ns -> packet out). */
void fp_encoder_latency(const struct fp_encoder *e, struct fp_latency_stats *out);

/* Routes libav* log messages (warning and above; FRAMEPUSH_LOG=debug: verbose) into fp_log.
 * Process-wide; call once at start-up if wanted. */
void fp_encode_route_av_log(void);

#endif
