/* framepush — libavformat output: files by extension, live streams by URL scheme.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mastering_display_metadata.h>

#include "common/log.h"
#include "common/util.h"
#include "encode/av_util.h"
#include "framepush/encode.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_IO_TIMEOUT_MS 5000

struct fp_output {
	char base[PATH_MAX];    /* target as given to open */
	char target[PATH_MAX];  /* current file / URL */
	enum fp_output_kind kind;
	struct fp_output_options opt;
	char sdp_path[PATH_MAX];
	AVFormatContext *oc;
	AVStream *st;
	AVRational src_tb;      /* time base of the packets handed to write */
	AVRational frame_dur;   /* one frame in src_tb units: {ticks, 1} */
	enum AVCodecID codec_id;
	AVPacket *tmp;
	atomic_bool interrupted;
	atomic_bool opening;    /* inside open_target: opt.cancel applies */
	_Atomic int64_t deadline_ns;  /* 0: not inside a blocking call */
	int64_t armed_at_ns;    /* start and length of the latest deadline, for error reports */
	int armed_ms;
	int error;              /* first error of this session, sticky */
	bool header_written;
	bool network_init;
	unsigned segment;
	int64_t ts_offset;      /* added to incoming pts/dts (src_tb), for in-band switches */
	int64_t next_pts;       /* end of the last written packet, src_tb incl. offset */
	uint64_t packets;
};

static bool is_network(enum fp_output_kind k)
{
	return k == FP_OUTPUT_SRT || k == FP_OUTPUT_UDP || k == FP_OUTPUT_RTP || k == FP_OUTPUT_RTSP;
}

int fp_output_kind_of(const char *target)
{
	static const struct {
		const char *prefix;
		enum fp_output_kind kind;
	} schemes[] = {
		{ "srt://", FP_OUTPUT_SRT },
		{ "udp://", FP_OUTPUT_UDP },
		{ "rtp://", FP_OUTPUT_RTP },
		{ "rtsp://", FP_OUTPUT_RTSP },
	};
	const char *dot, *slash;

	if (!target || !*target)
		return -EINVAL;
	for (size_t i = 0; i < FP_ARRAY_LEN(schemes); i++)
		if (!strncasecmp(target, schemes[i].prefix, strlen(schemes[i].prefix)))
			return (int)schemes[i].kind;
	if (strstr(target, "://")) {
		fp_error("output: %s: unsupported scheme (srt://, udp://, rtp://, rtsp:// or a .mkv/.mp4/.ts file)",
			 target);
		return -EINVAL;
	}
	dot = strrchr(target, '.');
	slash = strrchr(target, '/');
	if (dot && (!slash || dot > slash)) {
		if (!strcasecmp(dot, ".mkv"))
			return FP_OUTPUT_FILE_MKV;
		if (!strcasecmp(dot, ".mp4"))
			return FP_OUTPUT_FILE_MP4;
		if (!strcasecmp(dot, ".ts"))
			return FP_OUTPUT_FILE_TS;
	}
	fp_error("output: %s: unknown file type (use .mkv, .mp4 or .ts, or an srt/udp/rtp/rtsp URL)",
		 target);
	return -EINVAL;
}

static const char *muxer_name(enum fp_output_kind k)
{
	switch (k) {
	case FP_OUTPUT_FILE_MKV: return "matroska";
	case FP_OUTPUT_FILE_MP4: return "mp4";
	case FP_OUTPUT_FILE_TS:
	case FP_OUTPUT_SRT:
	case FP_OUTPUT_UDP: return "mpegts";
	case FP_OUTPUT_RTP: return "rtp";
	case FP_OUTPUT_RTSP: return "rtsp";
	}
	return NULL;
}

/* Only network opens wait on a peer; a file segment opened after Ctrl-C (a mode change still
 * in the pipeline) must be written, not cancelled. */
static bool open_cancelled(struct fp_output *o)
{
	return o->opt.cancel && *o->opt.cancel && is_network(o->kind) && atomic_load(&o->opening);
}

static int interrupt_cb(void *opaque)
{
	struct fp_output *o = opaque;
	int64_t deadline = atomic_load(&o->deadline_ns);

	if (atomic_load(&o->interrupted))
		return 1;
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

	/* A cancelled open fails however the protocol words it (RTSP turns the callback's
	 * AVERROR_EXIT into "invalid data"): the cancel is the reason. */
	if (open_cancelled(o))
		return -ECANCELED;
	if (averr == AVERROR_EXIT || averr == AVERROR(EINTR)) {
		if (atomic_load(&o->interrupted))
			return -ECANCELED;
		return -ETIMEDOUT;
	}
	/* The protocols' own timeouts (SRT connect_timeout, rw_timeout) fire at about our
	 * deadline but report a bare EIO; the time spent says what it was. */
	if (is_network(o->kind) && (averr == AVERROR(EIO) || averr == AVERROR(ETIMEDOUT)) &&
	    spent >= (int64_t)o->armed_ms * FP_NSEC_PER_MSEC * 9 / 10)
		return -ETIMEDOUT;
	return fp_av_errno(averr);
}

static const char *io_error_text(const struct fp_output *o, int err, int averr, char *buf, size_t len)
{
	if (err == -ETIMEDOUT) {
		snprintf(buf, len, "no answer within %d ms (peer gone or not listening?)", o->armed_ms);
		return buf;
	}
	if (err == -ECANCELED)
		return "interrupted";
	if (is_network(o->kind) && averr == AVERROR(EIO)) {
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

static int write_sdp(struct fp_output *o)
{
	char sdp[4096];
	FILE *f;
	int ret = av_sdp_create(&o->oc, 1, sdp, sizeof(sdp));

	if (ret < 0) {
		fp_error("output: %s: creating the SDP failed: %s", o->target, fp_av_err(ret));
		return fp_av_errno(ret);
	}
	if (!o->sdp_path[0]) {
		fp_info("output: %s: SDP for receivers:\n%s", o->target, sdp);
		return 0;
	}
	f = fopen(o->sdp_path, "we");
	if (!f || fputs(sdp, f) < 0 || fputc('\n', f) < 0) {
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

/* Opens o->target for enc: context, stream, I/O, header. On failure everything opened here
 * is released again and o->oc is NULL. */
static int open_target_now(struct fp_output *o, const struct fp_encoder *enc)
{
	const AVCodecContext *ctx = fp_encoder_context(enc);
	const struct fp_encoder_config *cfg = fp_encoder_config(enc);
	AVDictionary *proto = NULL, *mux = NULL;
	AVFormatContext *oc = NULL;
	int64_t io_us = (int64_t)o->opt.io_timeout_ms * 1000;
	int64_t conn_us = (int64_t)o->opt.connect_timeout_ms * 1000;
	int num, den, ret, err;
	const char *stage;

	fp_encoder_time_base(enc, &num, &den);
	o->src_tb = av_make_q(num, den);
	/* One frame in src_tb ticks, for packets that come without a duration. */
	o->frame_dur = av_make_q((int)av_rescale(den, cfg->fps_den, (int64_t)num * cfg->fps_num), 1);
	o->codec_id = ctx->codec_id;
	o->header_written = false;
	o->packets = 0;
	o->ts_offset = 0;
	o->next_pts = 0;
	o->error = 0;

	if (ctx->codec_id == AV_CODEC_ID_AV1 && o->kind != FP_OUTPUT_FILE_MKV && o->kind != FP_OUTPUT_FILE_MP4) {
		/* FFmpeg 5.1 has no AV1 mapping for MPEG-TS (it would mux an opaque data stream
		 * that no player decodes) nor an AV1 RTP payloader. */
		fp_error("output: %s: AV1 cannot be carried in %s by this FFmpeg (libavformat %s): use a "
			 ".mkv/.mp4 file, or --codec h264/hevc for live streams",
			 o->target, muxer_name(o->kind), AV_STRINGIFY(LIBAVFORMAT_VERSION));
		return -ENOTSUP;
	}
	stage = "allocating the muxer";
	ret = avformat_alloc_output_context2(&oc, NULL, muxer_name(o->kind), o->target);
	if (ret < 0 || !oc)
		goto averr;
	o->oc = oc;
	oc->interrupt_callback.callback = interrupt_cb;
	oc->interrupt_callback.opaque = o;
	/* Every packet reaches the file/socket when written: a killed process leaves the most
	 * it can, and live latency does not wait for AVIO's buffer to fill. */
	oc->flush_packets = 1;

	ret = AVERROR(ENOMEM);
	o->st = avformat_new_stream(oc, NULL);
	if (!o->st)
		goto averr;
	stage = "copying codec parameters";
	ret = avcodec_parameters_from_context(o->st->codecpar, ctx);
	if (ret < 0)
		goto averr;
	o->st->codecpar->codec_tag = 0;
	o->st->time_base = o->src_tb;
	o->st->avg_frame_rate = av_make_q(cfg->fps_num, cfg->fps_den);
	o->st->r_frame_rate = o->st->avg_frame_rate;
	if (cfg->hdr) {
		err = add_hdr_side_data(o->st, cfg);
		if (err < 0) {
			fp_error("output: %s: attaching HDR10 metadata failed: %s", o->target, strerror(-err));
			goto fail;
		}
	}

	switch (o->kind) {
	case FP_OUTPUT_FILE_MP4:
		/* Fragmented: moov up front without samples, one moof+mdat per keyframe and at
		 * least every second (a GOP may be far longer), so any prefix that ends on a
		 * fragment boundary plays and a killed process loses at most about a second. */
		av_dict_set(&mux, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
		set_int(&mux, "frag_duration", 1000000);
		break;
	case FP_OUTPUT_FILE_MKV:
		/* Clusters close at least every second: bounds what a killed process loses. */
		set_int(&mux, "cluster_time_limit", 1000);
		break;
	case FP_OUTPUT_UDP:
		/* 7 TS packets per datagram: fits every Ethernet MTU, what receivers expect. */
		set_int(&proto, "pkt_size", 1316);
		set_int(&proto, "rw_timeout", io_us);
		break;
	case FP_OUTPUT_SRT:
		set_int(&proto, "connect_timeout", o->opt.connect_timeout_ms);
		set_int(&proto, "listen_timeout", conn_us);
		set_int(&proto, "timeout", io_us);
		set_int(&proto, "rw_timeout", io_us);
		/* SRT live mode drops unsent data on close (linger 0): the receiver would lose the
		 * stream's tail and see a broken connection. Wait for it, but boundedly: close is
		 * outside the interrupt callback's reach. */
		set_int(&proto, "linger", o->opt.io_timeout_ms >= 2000 ? 2 : 1);
		break;
	case FP_OUTPUT_RTP:
		set_int(&proto, "rw_timeout", io_us);
		break;
	case FP_OUTPUT_RTSP:
		/* TCP interleaving: one connection through NATs and firewalls, and a dead server
		 * shows up as a socket error instead of silently lost UDP. */
		av_dict_set(&mux, "rtsp_transport", "tcp", 0);
		set_int(&mux, "timeout", io_us);
		break;
	case FP_OUTPUT_FILE_TS:
		break;
	}
	if (o->kind == FP_OUTPUT_FILE_TS || o->kind == FP_OUTPUT_SRT || o->kind == FP_OUTPUT_UDP) {
		/* PAT/PMT ahead of every keyframe: a receiver joining mid-stream starts at once. */
		av_dict_set(&mux, "mpegts_flags", "resend_headers", 0);
	}

	if (is_network(o->kind) && !o->network_init) {
		avformat_network_init();
		o->network_init = true;
	}
	if (!(oc->oformat->flags & AVFMT_NOFILE)) {
		stage = is_network(o->kind) ? "connecting" : "opening";
		arm(o, o->opt.connect_timeout_ms);
		ret = avio_open2(&oc->pb, o->target, AVIO_FLAG_WRITE, &oc->interrupt_callback, &proto);
		disarm(o);
		if (ret < 0)
			goto averr;
	}
	stage = o->kind == FP_OUTPUT_RTSP ? "announcing the stream" : "writing the header";
	arm(o, o->opt.connect_timeout_ms);
	ret = avformat_write_header(oc, &mux);
	disarm(o);
	if (ret < 0)
		goto averr;
	o->header_written = true;
	log_unused(o, proto, "protocol");
	log_unused(o, mux, "muxer");
	if (o->kind == FP_OUTPUT_RTP) {
		err = write_sdp(o);
		if (err < 0)
			goto fail;
	}
	av_dict_free(&proto);
	av_dict_free(&mux);
	fp_info("output: %s: %s %s %dx%d%s", o->target, oc->oformat->name, avcodec_get_name(ctx->codec_id),
		ctx->width, ctx->height, cfg->hdr ? " HDR10" : "");
	return 0;

averr:
	err = io_error(o, ret);
	{
		char buf[128];

		fp_error("output: %s: %s failed: %s", o->target, stage, io_error_text(o, err, ret, buf, sizeof(buf)));
	}
fail:
	av_dict_free(&proto);
	av_dict_free(&mux);
	if (oc) {
		if (!(oc->oformat->flags & AVFMT_NOFILE))
			avio_closep(&oc->pb);
		avformat_free_context(oc);
	}
	o->oc = NULL;
	o->st = NULL;
	o->header_written = false;
	return err;
}

static int open_target(struct fp_output *o, const struct fp_encoder *enc)
{
	int ret;

	atomic_store(&o->opening, true);
	ret = open_target_now(o, enc);
	atomic_store(&o->opening, false);
	return ret;
}

/* Trailer + close of the current session. Returns the session's first error. */
static int close_target(struct fp_output *o)
{
	AVFormatContext *oc = o->oc;
	int ret, err = o->error;

	if (!oc)
		return err;
	/* A network session that already failed gets no trailer: the peer is gone, and waiting
	 * for it again would only delay the teardown. Files always get theirs. */
	if (o->header_written && !(err && is_network(o->kind))) {
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
	if (!(oc->oformat->flags & AVFMT_NOFILE)) {
		arm(o, o->opt.io_timeout_ms);
		ret = avio_closep(&oc->pb);
		disarm(o);
		if (ret < 0 && !err)
			err = io_error(o, ret);
	}
	avformat_free_context(oc);
	o->oc = NULL;
	o->st = NULL;
	o->header_written = false;
	return err;
}

int fp_output_open(struct fp_output **out, const char *target, const struct fp_encoder *enc,
		   const struct fp_output_options *opt)
{
	struct fp_output *o;
	int kind, ret;

	*out = NULL;
	if (!target || !enc)
		return -EINVAL;
	kind = fp_output_kind_of(target);
	if (kind < 0)
		return kind;
	if (strlen(target) >= PATH_MAX - 16) {
		fp_error("output: target name too long (%zu bytes)", strlen(target));
		return -ENAMETOOLONG;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->kind = (enum fp_output_kind)kind;
	if (opt)
		o->opt = *opt;
	if (o->opt.connect_timeout_ms <= 0)
		o->opt.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (o->opt.io_timeout_ms <= 0)
		o->opt.io_timeout_ms = DEFAULT_IO_TIMEOUT_MS;
	if (o->opt.sdp_path)
		snprintf(o->sdp_path, sizeof(o->sdp_path), "%s", o->opt.sdp_path);
	o->opt.sdp_path = NULL;  /* copied: the caller's string need not outlive open */
	snprintf(o->base, sizeof(o->base), "%s", target);
	snprintf(o->target, sizeof(o->target), "%s", target);
	atomic_init(&o->interrupted, false);
	atomic_init(&o->opening, false);
	atomic_init(&o->deadline_ns, 0);
	o->tmp = av_packet_alloc();
	if (!o->tmp) {
		free(o);
		return -ENOMEM;
	}
	ret = open_target(o, enc);
	if (ret < 0) {
		fp_output_close(o);
		return ret;
	}
	*out = o;
	return 0;
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
	err = close_target(o);
	av_packet_free(&o->tmp);
	if (o->network_init)
		avformat_network_deinit();
	free(o);
	return err;
}

/* "dir/out.mkv" + n -> "dir/out.n.mkv"; "dir/out" -> "dir/out.n". */
static int segment_name(char *dst, size_t len, const char *base, unsigned n)
{
	const char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
	int r;

	if (dot && (!slash || dot > slash))
		r = snprintf(dst, len, "%.*s.%u%s", (int)(dot - base), base, n, dot);
	else
		r = snprintf(dst, len, "%s.%u", base, n);
	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int fp_output_reopen_segment(struct fp_output *o, const struct fp_encoder *enc)
{
	int ret;

	if (!o || !enc)
		return -EINVAL;
	ret = close_target(o);
	if (ret < 0)
		fp_warn("output: %s: closing before the next segment: %s", o->target, strerror(-ret));
	if (!is_network(o->kind)) {
		ret = segment_name(o->target, sizeof(o->target), o->base, ++o->segment);
		if (ret < 0)
			return o->error = ret;
	}
	atomic_store(&o->interrupted, false);
	ret = open_target(o, enc);
	if (ret < 0) {
		o->error = ret;
		return ret;
	}
	fp_info("output: now writing %s (segment %u)", o->target, o->segment);
	return 0;
}

int fp_output_switch(struct fp_output *o, const struct fp_encoder *enc, enum fp_output_switch_mode *mode)
{
	const AVCodecContext *ctx;
	bool ts = o && (o->kind == FP_OUTPUT_FILE_TS || o->kind == FP_OUTPUT_SRT || o->kind == FP_OUTPUT_UDP);
	int num, den;

	if (!o || !enc)
		return -EINVAL;
	if (o->error)
		return o->error;
	ctx = fp_encoder_context(enc);
	if (ts && o->oc && ctx->codec_id == o->codec_id) {
		/* MPEG-TS signals only the stream type in its PMT; profile, bit depth and colour
		 * live in the in-band parameter sets the new encoder sends with its first keyframe,
		 * which decoders (ffmpeg, VLC, mpv, hardware) re-initialise on. */
		fp_encoder_time_base(enc, &num, &den);
		o->ts_offset = av_rescale_q(o->next_pts, o->src_tb, av_make_q(num, den));
		o->next_pts = o->ts_offset;
		o->src_tb = av_make_q(num, den);
		o->frame_dur = av_make_q((int)av_rescale(den, fp_encoder_config(enc)->fps_den,
							 (int64_t)num * fp_encoder_config(enc)->fps_num), 1);
		if (mode)
			*mode = FP_SWITCH_INBAND;
		fp_info("output: %s: encoder switched in-band to %s %dx%d", o->target,
			fp_encoder_name(enc), ctx->width, ctx->height);
		return 0;
	}
	if (mode)
		*mode = is_network(o->kind) ? FP_SWITCH_REOPEN : FP_SWITCH_SEGMENT;
	return fp_output_reopen_segment(o, enc);
}

const char *fp_output_target(const struct fp_output *o)
{
	return o->target;
}

enum fp_output_kind fp_output_kind(const struct fp_output *o)
{
	return o->kind;
}

uint64_t fp_output_packets(const struct fp_output *o)
{
	return o->packets;
}

void fp_output_interrupt(struct fp_output *o)
{
	atomic_store(&o->interrupted, true);
}
