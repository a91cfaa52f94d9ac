#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	atomic_init(&s->reconnect_ns, 0);
	atomic_init(&s->reconnect_since, 0);
	s->out_opts = opts->output;
	/* Ctrl-C while a network peer is being reached must not wait out the connect timeout. */
	s->out_opts.cancel = opts->stop;
	s->raw = fp_output_kind_takes_frames(kind);
	s->kind = kind;
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

/* The output's own one-line account of why it ended (stdout's reader gone, a change stdout
 * cannot carry) as the session's error; false when it has none. */
static bool output_failure(struct fp_sink *s)
{
	const char *why = fp_output_failure(s->out);

	if (!why[0])
		return false;
	snprintf(s->error, sizeof(s->error), "%s", why);
	return true;
}

/* Where frames go now: the output's file or URL, or the packet consumer's name. */
static const char *target_name(const struct fp_sink *s)
{
	return s->opts->packets ? s->opts->packets->name : fp_output_target(s->out);
}

static void set_mode(struct fp_sink *s, const struct fp_yuv_frame *f)
{
	s->format = f->format;
	s->width = f->width;
	s->height = f->height;
	snprintf(s->last_target, sizeof(s->last_target), "%s", target_name(s));
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
	if (++s->frames == 1)
		fp_info("session: first frame written to %s", fp_output_target(s->out));
	s->bytes += (uint64_t)f->width * f->height * 3 / 2 * (f->format == FP_YUV_P010 ? 2 : 1);
	return 0;
}

/* ---- encoded ---- */

/* The packet to the output, or to the packet consumer with its frame's capture time. */
static int write_packet(struct fp_sink *s, int64_t capture_ns)
{
	const struct fp_packet_consumer *c = s->opts->packets;

	if (!c)
		return fp_output_write(s->out, s->pkt);
	return c->write(c->user, s->pkt->data, (size_t)s->pkt->size, capture_ns,
			(s->pkt->flags & AV_PKT_FLAG_KEY) != 0);
}

static int drain_packets(struct fp_sink *s)
{
	for (;;) {
		int64_t t0 = fp_now_ns(), capture_ns = t0;
		int r = fp_encoder_receive(s->enc, s->pkt);

		/* Encoder time only: a slow disk or network is not the encoder's to make up for. */
		s->encode_ns += fp_now_ns() - t0;
		if (r == -EAGAIN || r == -ENODATA)
			return 0;
		if (r < 0)
			return sink_fail(s, r, "encoding failed");
		/* Low-latency encoders emit one packet per frame, in order (no B-frames). */
		if (s->fifo_len) {
			capture_ns = s->pts_fifo[s->fifo_head];
			fp_latency_record(&s->latency, fp_now_ns() - capture_ns);
			s->fifo_head = (s->fifo_head + 1) % FP_SINK_PTS_FIFO;
			s->fifo_len--;
		}
		s->packets++;
		s->bytes += (uint64_t)s->pkt->size;
		r = write_packet(s, capture_ns);
		av_packet_unref(s->pkt);
		if (r < 0) {
			if (!output_failure(s))
				snprintf(s->error, sizeof(s->error), "writing to %s failed: %s",
					 target_name(s), av_err2str(r));
			return r;
		}
		/* The output opened before the first frame: this says frames are flowing. */
		if (s->packets == 1)
			fp_info("session: first frame written to %s", target_name(s));
	}
}

/* The codec for f's mode: HDR10 needs a 10-bit profile with PQ signalling, so H.264 becomes
 * HEVC Main10. */
static enum fp_codec asked_codec(const struct fp_sink *s)
{
	return s->opts->codec ? s->opts->codec : FP_CODEC_H264;
}

static enum fp_codec codec_for(const struct fp_sink *s, const struct fp_yuv_frame *f)
{
	enum fp_codec codec = asked_codec(s);

	return f->format == FP_YUV_P010 && codec == FP_CODEC_H264 ? FP_CODEC_HEVC : codec;
}

/* ---- the governor ---- */

static const struct fp_governor_limits profile_limits[] = {
	[FP_PROFILE_RECORD] = { .high = 0.85, .low = 0.45 },
	/* Live: a frame's latency is its encode time, so keep the encoder well inside the period. */
	[FP_PROFILE_LIVE] = { .high = 0.70, .low = 0.35 },
};

/* Megapixels a second per CPU above which the start is one (two) presets faster than the
 * codec's default. From the 2-core reference machine (README, speed): libx264 veryfast takes
 * ~7 ms of CPU per 1080p frame alone, ~15 ms of wall time beside capture and conversion at
 * 1080p60, i.e. 62 Mpx/s per CPU: too slow live, at the edge when recording. */
static const double start_thresholds[][2] = {
	[FP_PROFILE_RECORD] = { 45, 90 },
	[FP_PROFILE_LIVE] = { 30, 60 },
};

static unsigned preset_index(const char *const *presets, const char *name, unsigned fallback)
{
	for (unsigned i = 0; name && presets[i]; i++)
		if (!strcmp(presets[i], name))
			return i;
	return fallback;
}

/* The governor's last resort, below the fastest preset: encoding at a reduced size (level 0
 * the smallest). Only where the output takes a size change in-band (MPEG-TS), and live. */
static const struct {
	unsigned num, den;
} scale_steps[] = { { 1, 2 }, { 3, 4 } };

static unsigned scale_levels(const struct fp_sink *s)
{
	return s->opts->profile == FP_PROFILE_LIVE &&
			       (s->opts->packets || fp_output_kind_resizes_inband(s->kind)) ?
		       (unsigned)FP_ARRAY_LEN(scale_steps) : 0;
}

/* The start for f's mode: the preset asked for, else the codec's default, made faster when
 * the mode asks more of each CPU than that preset can give. */
static unsigned start_level(const struct fp_sink *s, enum fp_codec codec,
			    const struct fp_yuv_frame *f, unsigned *slowest)
{
	const struct fp_session_opts *o = s->opts;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double mpx = (double)f->width * f->height * s->fps / (double)(cpus > 0 ? cpus : 1) / 1e6;
	const double *t = start_thresholds[o->profile == FP_PROFILE_LIVE];
	unsigned level;

	*slowest = preset_index(s->presets, fp_encoder_default_preset(codec, o->hw), 0);
	if (o->preset)
		*slowest = preset_index(s->presets, o->preset, *slowest);
	*slowest += s->n_scales;
	if (o->preset)
		return *slowest;
	level = *slowest;
	for (unsigned i = 0; i < 2; i++)
		if (mpx > t[i] && level > s->n_scales)
			level--;
	return level;
}

/* A new mode: the governor starts over for its codec (HDR may have changed it). */
static void governor_setup(struct fp_sink *s, const struct fp_yuv_frame *f)
{
	enum fp_codec codec = codec_for(s, f);
	unsigned start, slowest;

	s->presets = fp_encoder_presets(codec, s->opts->hw);
	s->governed = s->presets && !s->opts->fixed_preset;
	s->n_scales = s->governed ? scale_levels(s) : 0;
	if (!s->presets)
		return;
	start = start_level(s, codec, f, &slowest);
	fp_governor_init(&s->gov, (int64_t)FP_NSEC_PER_SEC / s->fps,
			 &profile_limits[s->opts->profile == FP_PROFILE_LIVE], start, slowest);
}

/* The preset the encoder gets at level (the fastest for the scaled levels). */
static const char *level_preset(const struct fp_sink *s, unsigned level)
{
	if (!s->governed)
		return s->opts->preset;
	return s->presets[level < s->n_scales ? 0 : level - s->n_scales];
}

static const char *next_preset(const struct fp_sink *s)
{
	return level_preset(s, s->gov.level);
}

/* The size frames are encoded at for level (0 x 0: as they come). */
static void level_size(const struct fp_sink *s, unsigned level, const struct fp_yuv_frame *f,
		       uint32_t *w, uint32_t *h)
{
	*w = *h = 0;
	if (!s->governed || level >= s->n_scales)
		return;
	*w = (uint32_t)((uint64_t)f->width * scale_steps[level].num / scale_steps[level].den) & ~1u;
	*h = (uint32_t)((uint64_t)f->height * scale_steps[level].num / scale_steps[level].den) & ~1u;
	if (*w < 16 || *h < 16)
		*w = *h = 0; /* too small to scale: the fastest preset is all there is */
}

static void governor_frame(struct fp_sink *s)
{
	unsigned before = s->gov.level, after;

	if (!s->governed)
		return;
	after = fp_governor_frame(&s->gov, s->encode_ns);
	if (after == before)
		return;
	fp_info("session: frames take %.1f ms of a %.1f ms period in the encoder: preset %s%s -> %s%s"
		" (%s)", (double)s->gov.last_median_ns / 1e6, (double)s->gov.period_ns / 1e6,
		level_preset(s, before), before < s->n_scales ? " scaled" : "", level_preset(s, after),
		after < s->n_scales ? " scaled" : "",
		after < before ? "faster, to keep up" : "slower, there is headroom");
}

/* ---- encoder ---- */

static int open_encoder(struct fp_sink *s, const struct fp_yuv_frame *f,
			const struct fp_hdr10 *hdr10, struct fp_encoder **out)
{
	const struct fp_session_opts *o = s->opts;
	struct fp_encoder_config cfg;
	enum fp_codec codec = codec_for(s, f);
	int hdr = f->format == FP_YUV_P010, r;

	if (codec != asked_codec(s))
		fp_info("session: the display is HDR; encoding HEVC Main10 instead of H.264");
	fp_encoder_config_defaults(&cfg, codec, f->width, f->height, (int)s->fps);
	cfg.preset = next_preset(s);
	level_size(s, s->gov.level, f, &cfg.scale_width, &cfg.scale_height);
	/* A tune checked against H.264 may not exist for the HEVC an HDR display turns it into. */
	if (fp_encoder_check_tune(codec, o->hw, o->tune, NULL, 0) == 0)
		cfg.tune = o->tune;
	else
		fp_warn("session: %s takes no tune '%s'; encoding without it",
			fp_codec_software_encoder(codec), o->tune);
	cfg.hw = o->hw;
	cfg.format = f->format;
	cfg.hdr = hdr;
	if (hdr)
		cfg.hdr10 = *hdr10; /* the source's record or the generic baseline */
	cfg.bitrate_kbps = o->bitrate_kbps;
	cfg.crf = o->crf;
	cfg.keyint = o->keyint;
	cfg.constrained_baseline = o->constrained_baseline;
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
	fp_info("session: encoding %ux%u %s%s with %s%s%s", cfg.scale_width ? cfg.scale_width : f->width,
		cfg.scale_height ? cfg.scale_height : f->height, hdr ? "HDR10" : "SDR",
		cfg.scale_width ? " (scaled: the encoder cannot keep up)" : "", fp_encoder_name(*out),
		cfg.preset ? " preset " : "", cfg.preset ? cfg.preset : "");
	return 0;
}

/* The first encoder: the output is opened for it. */
static int start_output(struct fp_sink *s, struct fp_encoder *enc)
{
	int64_t t0 = fp_now_ns();
	int r = s->opts->packets ? 0 : fp_output_open(&s->out, s->opts->target, enc, &s->out_opts);

	s->open_ns += fp_now_ns() - t0;
	if (r < 0) {
		if (r == -ETIMEDOUT)
			snprintf(s->error, sizeof(s->error),
				 "cannot open %s: no answer in %.1f s (is a receiver listening there?)",
				 s->opts->target, (double)s->open_ns / 1e9);
		else if (r == -ECANCELED)
			snprintf(s->error, sizeof(s->error),
				 "interrupted while connecting to %s; nothing was sent", s->opts->target);
		else if (r == -EPIPE && !strcmp(s->opts->target, "-"))
			snprintf(s->error, sizeof(s->error), "the reader of stdout closed it");
		else
			snprintf(s->error, sizeof(s->error), "cannot open %s: %s", s->opts->target,
				 av_err2str(r));
		return r;
	}
	snprintf(s->codec, sizeof(s->codec), "%s", fp_codec_name(fp_encoder_config(enc)->codec));
	snprintf(s->encoder, sizeof(s->encoder), "%s", fp_encoder_name(enc));
	s->segments = 1;
	snprintf(s->first_target, sizeof(s->first_target), "%s", target_name(s));
	return 0;
}

/* A mode change: the old stream is finished, then the output moves to enc. The old encoder
 * is gone afterwards, whatever the result. */
static int move_output(struct fp_sink *s, struct fp_encoder *enc, const struct fp_yuv_frame *f)
{
	enum fp_output_switch_mode mode;
	int64_t waited = 0, t0;
	int r;

	fp_encoder_flush(s->enc);
	r = drain_packets(s);
	mode = FP_SWITCH_INBAND; /* a packet consumer gets one stream: the new keyframe goes on */
	if (r == 0 && s->out) {
		t0 = fp_now_ns();
		atomic_store(&s->reconnect_since, t0);
		r = fp_output_switch(s->out, enc, &mode);
		if (mode == FP_SWITCH_REOPEN) {
			waited = fp_now_ns() - t0;
			s->last_reconnect_start = t0;
			s->last_reconnect_end = t0 + waited;
			atomic_fetch_add(&s->reconnect_ns, waited);
		}
		atomic_store(&s->reconnect_since, 0);
	}
	fp_encoder_destroy(s->enc);
	s->enc = NULL;
	s->fifo_len = 0;
	if (r < 0) {
		if (!s->error[0] && !output_failure(s))
			sink_fail(s, r, "switching the output to the new mode");
		return r;
	}
	if (mode != FP_SWITCH_INBAND)
		s->segments++;
	if (!mode_changed(s, f) && mode == FP_SWITCH_INBAND)
		return 0; /* a governor step: logged where it was decided */
	fp_info("session: display changed to %ux%u %s: %s, now %s%s%.1f%s", f->width, f->height,
		f->format == FP_YUV_P010 ? "HDR" : "SDR",
		mode == FP_SWITCH_INBAND ? "same stream, new keyframe"
		: mode == FP_SWITCH_SEGMENT ? "new segment" : "new session",
		target_name(s), waited ? " (reconnected in " : "", (double)waited / 1e9,
		waited ? " s)" : "");
	return 0;
}

/* A new encoder for f's mode, and the output opened for it or moved over to it. */
static int switch_encoder(struct fp_sink *s, const struct fp_yuv_frame *f,
			  const struct fp_hdr10 *hdr10)
{
	struct fp_encoder *enc;
	int r;

	/* A browser's WebRTC stack takes the one SDR H.264 stream it was offered. */
	if (s->opts->packets && codec_for(s, f) != asked_codec(s)) {
		snprintf(s->error, sizeof(s->error), "the display turned HDR; %s takes SDR %s only",
			 s->opts->packets->name, fp_codec_name(asked_codec(s)));
		return -ENOTSUP;
	}
	r = open_encoder(s, f, hdr10, &enc);
	if (r < 0)
		return r;
	r = s->enc ? move_output(s, enc, f) : start_output(s, enc);
	if (r < 0) {
		fp_encoder_destroy(enc);
		return r;
	}
	s->enc = enc;
	s->enc_level = s->gov.level;
	snprintf(s->preset_last, sizeof(s->preset_last), "%s", next_preset(s) ? next_preset(s) : "");
	if (!s->preset_first[0])
		snprintf(s->preset_first, sizeof(s->preset_first), "%s", s->preset_last);
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
		governor_setup(s, f);
		r = switch_encoder(s, f, hdr10);
		if (r < 0)
			return r;
	} else if (s->governed && s->gov.level != s->enc_level) {
		/* Same mode at another speed: the output goes on in-band from its keyframe.
		 * Counted here, where it takes effect (not where the governor decided). */
		if (s->gov.level < s->enc_level)
			s->steps_faster++;
		else
			s->steps_slower++;
		r = switch_encoder(s, f, hdr10);
		if (r < 0)
			return r;
	}
	if (atomic_exchange(s->keyframe, false))
		fp_encoder_request_keyframe(s->enc);
	s->encode_ns = fp_now_ns();
	r = fp_encoder_submit(s->enc, f);
	s->encode_ns = fp_now_ns() - s->encode_ns;
	if (r < 0)
		return sink_fail(s, r, "submitting a frame to the encoder");
	if (s->fifo_len == FP_SINK_PTS_FIFO) { /* never in order: keep the newest */
		s->fifo_head = (s->fifo_head + 1) % FP_SINK_PTS_FIFO;
		s->fifo_len--;
	}
	s->pts_fifo[(s->fifo_head + s->fifo_len++) % FP_SINK_PTS_FIFO] = capture_ns;
	s->frames++;
	r = drain_packets(s);
	if (r == 0)
		governor_frame(s);
	return r;
}

int fp_sink_prepare(struct fp_sink *s, const struct fp_yuv_frame *mode, const struct fp_hdr10 *hdr10)
{
	int r;

	if (s->raw) {
		r = open_raw(s, mode);
		if (r == 0)
			set_mode(s, mode);
		return r;
	}
	governor_setup(s, mode);
	return switch_encoder(s, mode, hdr10);
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

		/* An output that already failed fails its close the same way: the first account
		 * (the write, the refused switch) is the one to keep. */
		if (c < 0 && r == 0) {
			r = c;
			if (!s->error[0])
				snprintf(s->error, sizeof(s->error), "finishing %.512s failed: %s",
					 s->last_target, av_err2str(c));
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
	res->connect_seconds = (double)(s->open_ns + atomic_load(&s->reconnect_ns)) / 1e9;
	snprintf(res->first_target, sizeof(res->first_target), "%s", s->first_target);
	snprintf(res->last_target, sizeof(res->last_target), "%s", s->last_target);
	snprintf(res->codec, sizeof(res->codec), "%s", s->codec);
	snprintf(res->last_codec, sizeof(res->last_codec), "%s", s->last_codec);
	snprintf(res->encoder, sizeof(res->encoder), "%s", s->encoder);
	snprintf(res->preset_first, sizeof(res->preset_first), "%s", s->preset_first);
	snprintf(res->preset_last, sizeof(res->preset_last), "%s", s->preset_last);
	res->preset_steps_faster = s->steps_faster;
	res->preset_steps_slower = s->steps_slower;
	if (!res->error[0] && s->error[0])
		snprintf(res->error, sizeof(res->error), "%s", s->error);
}
