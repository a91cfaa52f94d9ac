#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "common/log.h"
#include "common/util.h"

uint32_t fp_session_out_fps(const struct fp_session_opts *o)
{
	return o->output_fps ? o->output_fps : o->capture.fps;
}

int fp_sink_init(struct fp_sink *s, const struct fp_session_opts *opts, enum fp_output_kind kind,
		 atomic_bool *keyframe)
{
	memset(s, 0, sizeof(*s));
	s->opts = opts;
	s->fps = fp_session_out_fps(opts);
	s->keyframe = keyframe;
	s->out_opts = opts->output;
	/* Ctrl-C while a network peer is being reached must not wait out the connect timeout. */
	s->out_opts.cancel = opts->stop;
	s->raw = fp_output_kind_takes_frames(kind);
	fp_latency_reset(&s->latency);
	if (!s->raw) {
		s->pkt = av_packet_alloc();
		if (!s->pkt)
			return -ENOMEM;
	}
	return 0;
}

static int sink_fail(struct fp_sink *s, int err, const char *what)
{
	snprintf(s->error, sizeof(s->error), "%s: %s", what, av_err2str(err));
	fp_error("session: %s", s->error);
	return err;
}

static bool mode_changed(const struct fp_sink *s, const struct fp_yuv_frame *f)
{
	return f->format != s->format || f->width != s->width || f->height != s->height;
}

static void set_mode(struct fp_sink *s, const struct fp_yuv_frame *f)
{
	s->format = f->format;
	s->width = f->width;
	s->height = f->height;
	snprintf(s->last_target, sizeof(s->last_target), "%s", fp_output_target(s->out));
}

/* ---- raw frames ---- */

static int open_raw(struct fp_sink *s, const struct fp_yuv_frame *f)
{
	int r = fp_output_open_frames(&s->out, s->opts->target, f->format, f->width, f->height,
				      s->fps);

	if (r < 0)
		return sink_fail(s, r, "cannot open the Y4M file");
	s->segments = 1;
	snprintf(s->first_target, sizeof(s->first_target), "%s", fp_output_target(s->out));
	/* Not encoded: what ffprobe calls the stream of a Y4M file. */
	snprintf(s->codec, sizeof(s->codec), "rawvideo");
	snprintf(s->last_codec, sizeof(s->last_codec), "rawvideo");
	snprintf(s->encoder, sizeof(s->encoder), "none");
	return 0;
}

static int sink_raw(struct fp_sink *s, const struct fp_yuv_frame *f, int64_t capture_ns)
{
	int r;

	if (!s->out) {
		r = open_raw(s, f);
		if (r < 0)
			return r;
	} else if (mode_changed(s, f)) {
		/* Y4M holds one mode per file: a display change starts the next segment. */
		r = fp_output_switch_frames(s->out, f->format, f->width, f->height);
		if (r < 0)
			return sink_fail(s, r, "starting the next Y4M file");
		s->segments++;
		fp_info("session: display changed; continuing in %s", fp_output_target(s->out));
	}
	if (mode_changed(s, f))
		set_mode(s, f);
	r = fp_output_write_frame(s->out, f);
	if (r < 0)
		return sink_fail(s, r, "writing the Y4M file");
	fp_latency_record(&s->latency, fp_now_ns() - capture_ns);
	s->frames++;
	s->bytes += (uint64_t)f->width * f->height * 3 / 2 * (f->format == FP_YUV_P010 ? 2 : 1);
	return 0;
}

/* ---- encoded ---- */

static int drain_packets(struct fp_sink *s)
{
	for (;;) {
		int r = fp_encoder_receive(s->enc, s->pkt);

		if (r == -EAGAIN || r == -ENODATA)
			return 0;
		if (r < 0)
			return sink_fail(s, r, "encoding failed");
		/* Low-latency encoders emit one packet per frame, in order (no B-frames). */
		if (s->fifo_len) {
			fp_latency_record(&s->latency, fp_now_ns() - s->pts_fifo[s->fifo_head]);
			s->fifo_head = (s->fifo_head + 1) % FP_SINK_PTS_FIFO;
			s->fifo_len--;
		}
		s->packets++;
		s->bytes += (uint64_t)s->pkt->size;
		r = fp_output_write(s->out, s->pkt);
		av_packet_unref(s->pkt);
		if (r < 0) {
			snprintf(s->error, sizeof(s->error), "writing to %s failed: %s",
				 fp_output_target(s->out), av_err2str(r));
			return r;
		}
	}
}

static int open_encoder(struct fp_sink *s, const struct fp_yuv_frame *f,
			const struct fp_hdr10 *hdr10, struct fp_encoder **out)
{
	const struct fp_session_opts *o = s->opts;
	struct fp_encoder_config cfg;
	enum fp_codec codec = o->codec ? o->codec : FP_CODEC_H264;
	int hdr = f->format == FP_YUV_P010, r;

	if (hdr && codec == FP_CODEC_H264) {
		/* HDR10 needs a 10-bit profile with PQ signalling: HEVC Main10. */
		fp_info("session: the display is HDR; encoding HEVC Main10 instead of H.264");
		codec = FP_CODEC_HEVC;
	}
	fp_encoder_config_defaults(&cfg, codec, f->width, f->height, (int)s->fps);
	cfg.hw = o->hw;
	cfg.format = f->format;
	cfg.hdr = hdr;
	if (hdr)
		cfg.hdr10 = *hdr10; /* the source's record or the generic baseline */
	cfg.bitrate_kbps = o->bitrate_kbps;
	cfg.crf = o->crf;
	cfg.keyint = o->keyint;
	r = fp_encoder_create(out, &cfg);
	if (r < 0) {
		char why[256] = "";

		/* The probe's reason names the software encoder to use instead; a device that is
		 * there but would not open (no encoder engine, a driver refusing the mode) gets
		 * the same advice, or the user is left without a way forward. */
		if (fp_encoder_probe(codec, o->hw, why, sizeof(why)) == 0)
			why[0] = '\0';
		if (o->hw && !why[0])
			snprintf(why, sizeof(why), "the software encoder %s works",
				 fp_codec_software_encoder(codec));
		snprintf(s->error, sizeof(s->error), "cannot start the %s%s%s encoder at %ux%u %s: %s%s%s",
			 fp_codec_name(codec), o->hw ? " " : "", o->hw ? fp_hw_name(o->hw) : "",
			 f->width, f->height, hdr ? "HDR" : "SDR", av_err2str(r), why[0] ? "; " : "", why);
		return r;
	}
	fp_info("session: encoding %ux%u %s with %s", f->width, f->height, hdr ? "HDR10" : "SDR",
		fp_encoder_name(*out));
	return 0;
}

/* The first encoder: the output is opened for it. */
static int start_output(struct fp_sink *s, struct fp_encoder *enc)
{
	int r = fp_output_open(&s->out, s->opts->target, enc, &s->out_opts);

	if (r < 0) {
		if (r == -ECANCELED)
			snprintf(s->error, sizeof(s->error),
				 "interrupted while connecting to %s; nothing was sent", s->opts->target);
		else
			snprintf(s->error, sizeof(s->error), "cannot open %s: %s", s->opts->target,
				 av_err2str(r));
		return r;
	}
	snprintf(s->codec, sizeof(s->codec), "%s", fp_codec_name(fp_encoder_config(enc)->codec));
	snprintf(s->encoder, sizeof(s->encoder), "%s", fp_encoder_name(enc));
	s->segments = 1;
	snprintf(s->first_target, sizeof(s->first_target), "%s", fp_output_target(s->out));
	return 0;
}

/* A mode change: the old stream is finished, then the output moves to enc. The old encoder
 * is gone afterwards, whatever the result. */
static int move_output(struct fp_sink *s, struct fp_encoder *enc, const struct fp_yuv_frame *f)
{
	enum fp_output_switch_mode mode;
	int r;

	fp_encoder_flush(s->enc);
	r = drain_packets(s);
	if (r == 0)
		r = fp_output_switch(s->out, enc, &mode);
	fp_encoder_destroy(s->enc);
	s->enc = NULL;
	s->fifo_len = 0;
	if (r < 0) {
		if (!s->error[0])
			sink_fail(s, r, "switching the output to the new mode");
		return r;
	}
	if (mode != FP_SWITCH_INBAND)
		s->segments++;
	fp_info("session: display changed to %ux%u %s: %s, now %s", f->width, f->height,
		f->format == FP_YUV_P010 ? "HDR" : "SDR",
		mode == FP_SWITCH_INBAND ? "same stream, new keyframe"
		: mode == FP_SWITCH_SEGMENT ? "new segment" : "new session",
		fp_output_target(s->out));
	return 0;
}

/* A new encoder for f's mode, and the output opened for it or moved over to it. */
static int switch_encoder(struct fp_sink *s, const struct fp_yuv_frame *f,
			  const struct fp_hdr10 *hdr10)
{
	struct fp_encoder *enc;
	int r;

	r = open_encoder(s, f, hdr10, &enc);
	if (r < 0)
		return r;
	r = s->enc ? move_output(s, enc, f) : start_output(s, enc);
	if (r < 0) {
		fp_encoder_destroy(enc);
		return r;
	}
	s->enc = enc;
	snprintf(s->last_codec, sizeof(s->last_codec), "%s",
		 fp_codec_name(fp_encoder_config(enc)->codec));
	s->hdr10 = *hdr10;
	set_mode(s, f);
	return 0;
}

static int sink_encode(struct fp_sink *s, const struct fp_yuv_frame *f, int64_t capture_ns,
		       const struct fp_hdr10 *hdr10)
{
	int r;

	/* New HDR10 values on the same mode need new parameter sets too (x265 writes them into
	 * its SEI at open, the muxers into the stream header). */
	if (!s->enc || mode_changed(s, f) || memcmp(hdr10, &s->hdr10, sizeof(*hdr10))) {
		r = switch_encoder(s, f, hdr10);
		if (r < 0)
			return r;
	}
	if (atomic_exchange(s->keyframe, false))
		fp_encoder_request_keyframe(s->enc);
	r = fp_encoder_submit(s->enc, f);
	if (r < 0)
		return sink_fail(s, r, "submitting a frame to the encoder");
	if (s->fifo_len == FP_SINK_PTS_FIFO) { /* never in order: keep the newest */
		s->fifo_head = (s->fifo_head + 1) % FP_SINK_PTS_FIFO;
		s->fifo_len--;
	}
	s->pts_fifo[(s->fifo_head + s->fifo_len++) % FP_SINK_PTS_FIFO] = capture_ns;
	s->frames++;
	return drain_packets(s);
}

int fp_sink_frame(struct fp_sink *s, const struct fp_yuv_frame *f, int64_t capture_ns,
		  const struct fp_hdr10 *hdr10)
{
	return s->raw ? sink_raw(s, f, capture_ns) : sink_encode(s, f, capture_ns, hdr10);
}

int fp_sink_finish(struct fp_sink *s)
{
	int r = 0;

	if (s->enc) {
		fp_encoder_flush(s->enc);
		r = drain_packets(s);
	}
	if (s->out) {
		int c = fp_output_close(s->out);

		if (c < 0 && r == 0) {
			r = c;
			snprintf(s->error, sizeof(s->error), "finishing %.512s failed: %s", s->last_target,
				 av_err2str(c));
		}
		s->out = NULL;
	}
	fp_encoder_destroy(s->enc);
	s->enc = NULL;
	av_packet_free(&s->pkt);
	return r;
}

void fp_sink_result(const struct fp_sink *s, struct fp_session_result *res)
{
	fp_latency_summary(&s->latency, &res->latency);
	res->frames_encoded = s->frames;
	res->packets = s->packets;
	res->bytes = s->bytes;
	res->segments = s->segments;
	snprintf(res->first_target, sizeof(res->first_target), "%s", s->first_target);
	snprintf(res->last_target, sizeof(res->last_target), "%s", s->last_target);
	snprintf(res->codec, sizeof(res->codec), "%s", s->codec);
	snprintf(res->last_codec, sizeof(res->last_codec), "%s", s->last_codec);
	snprintf(res->encoder, sizeof(res->encoder), "%s", s->encoder);
	if (!res->error[0] && s->error[0])
		snprintf(res->error, sizeof(res->error), "%s", s->error);
}
