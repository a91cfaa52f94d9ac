#include "framepush/session.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>

#include "common/log.h"
#include "common/util.h"

#define QUEUE_MAX 4u     /* >= the capturer's largest output ring */
#define PTS_FIFO 64u
/* Ticks the capture loop may run late and still catch up, taking frames back to back: a
 * scheduling hiccup costs no frame, and no timestamp lags its capture by more than this. */
#define CATCH_UP_TICKS 2

/* The encode side: one thread owns everything in here. */
struct sink {
	const struct fp_session_opts *opts;
	int y4m_mode;                   /* raw frames to the output, no encoder */
	struct fp_encoder *enc;
	struct fp_output *out;
	struct fp_output_options out_opts; /* opts->output, cancelled by opts->stop */
	atomic_bool *keyframe;          /* fp_session_request_keyframe(), forwarded to enc */
	AVPacket *pkt;
	enum fp_yuv_format format;
	uint32_t width, height;
	struct fp_hdr10 hdr10;          /* the current encoder's, all zero while SDR */
	int64_t pts_fifo[PTS_FIFO];     /* capture times of submitted frames, in order */
	unsigned fifo_head, fifo_len;
	struct fp_latency_hist latency; /* capture -> packet out (or written) */
	uint64_t frames, packets, bytes;
	unsigned segments;
	char first_target[4096], last_target[4096];
	char codec[16], last_codec[16], encoder[32];
	char error[1024];
};

/* A frame handed to the encoder: a view of the capturer's output buffer (no pixel copy),
 * stamped on the output clock's tick, with its real capture time kept for latency. */
struct item {
	struct fp_yuv_frame frame;
	int64_t capture_ns;
	/* The display's HDR10 record when the frame was taken (zero while SDR): taken on the
	 * capture thread, which owns the capturer, and travelling with the frame so the
	 * encoder reopens on exactly the first frame of a new record. */
	struct fp_hdr10 hdr10;
};

struct fp_session {
	atomic_bool keyframe;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item queue[QUEUE_MAX];
	unsigned head, count;
	unsigned in_flight;  /* handed to the encoder and not yet released by it */
	int done;
	int failed;
	/* The encode thread's figures for the status line, copied under lock after each
	 * frame: the capture thread reads these, never the sink the encode thread writes. */
	uint64_t shown_bytes;
	struct fp_latency_hist shown_latency;
	struct sink sink;
};

static uint32_t out_fps(const struct fp_session_opts *o)
{
	return o->output_fps ? o->output_fps : o->capture.fps;
}

static int sink_fail(struct sink *s, int err, const char *what)
{
	snprintf(s->error, sizeof(s->error), "%s: %s", what, av_err2str(err));
	fp_error("session: %s", s->error);
	return err;
}

static int drain_packets(struct sink *s)
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
			s->fifo_head = (s->fifo_head + 1) % PTS_FIFO;
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

static int sink_y4m(struct sink *s, const struct fp_yuv_frame *f, int64_t capture_ns)
{
	int r;

	if (!s->out) {
		r = fp_output_open_frames(&s->out, s->opts->target, f->format, f->width, f->height,
					  out_fps(s->opts));
		if (r < 0)
			return sink_fail(s, r, "cannot open the Y4M file");
		s->segments = 1;
		snprintf(s->first_target, sizeof(s->first_target), "%s", fp_output_target(s->out));
		/* Not encoded: what ffprobe calls the stream of a Y4M file. */
		snprintf(s->codec, sizeof(s->codec), "rawvideo");
		snprintf(s->last_codec, sizeof(s->last_codec), "rawvideo");
		snprintf(s->encoder, sizeof(s->encoder), "none");
	} else if (f->format != s->format || f->width != s->width || f->height != s->height) {
		/* Y4M holds one mode per file: a display change starts the next segment. */
		r = fp_output_switch_frames(s->out, f->format, f->width, f->height);
		if (r < 0)
			return sink_fail(s, r, "starting the next Y4M file");
		s->segments++;
		fp_info("session: display changed; continuing in %s", fp_output_target(s->out));
	}
	if (f->format != s->format || f->width != s->width || f->height != s->height) {
		s->format = f->format;
		s->width = f->width;
		s->height = f->height;
		snprintf(s->last_target, sizeof(s->last_target), "%s", fp_output_target(s->out));
	}
	r = fp_output_write_frame(s->out, f);
	if (r < 0)
		return sink_fail(s, r, "writing the Y4M file");
	fp_latency_record(&s->latency, fp_now_ns() - capture_ns);
	s->frames++;
	s->bytes += (uint64_t)f->width * f->height * 3 / 2 * (f->format == FP_YUV_P010 ? 2 : 1);
	return 0;
}

static int open_encoder(struct sink *s, const struct fp_yuv_frame *f,
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
	fp_encoder_config_defaults(&cfg, codec, f->width, f->height, (int)out_fps(o));
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
			snprintf(why, sizeof(why), "use --codec %s without --hw for %s",
				 fp_codec_name(codec), fp_codec_software_encoder(codec));
		snprintf(s->error, sizeof(s->error), "cannot start the %s%s%s encoder at %ux%u %s: %s%s%s",
			 fp_codec_name(codec), o->hw ? " " : "", o->hw ? fp_hw_name(o->hw) : "",
			 f->width, f->height, hdr ? "HDR" : "SDR", av_err2str(r), why[0] ? "; " : "", why);
		return r;
	}
	fp_info("session: encoding %ux%u %s with %s", f->width, f->height, hdr ? "HDR10" : "SDR",
		fp_encoder_name(*out));
	return 0;
}

static int sink_encode(struct sink *s, const struct fp_yuv_frame *f, int64_t capture_ns,
		       const struct fp_hdr10 *hdr10)
{
	int r;

	/* New HDR10 values on the same mode need new parameter sets too (x265 writes them into
	 * its SEI at open, the muxers into the stream header). */
	if (!s->enc || f->format != s->format || f->width != s->width || f->height != s->height ||
	    memcmp(hdr10, &s->hdr10, sizeof(*hdr10))) {
		struct fp_encoder *enc;
		enum fp_output_switch_mode mode;

		r = open_encoder(s, f, hdr10, &enc);
		if (r < 0)
			return r;
		if (!s->enc) {
			r = fp_output_open(&s->out, s->opts->target, enc, &s->out_opts);
			if (r < 0) {
				fp_encoder_destroy(enc);
				if (r == -ECANCELED)
					snprintf(s->error, sizeof(s->error),
						 "interrupted while connecting to %s; nothing was sent",
						 s->opts->target);
				else
					snprintf(s->error, sizeof(s->error), "cannot open %s: %s",
						 s->opts->target, av_err2str(r));
				return r;
			}
			snprintf(s->codec, sizeof(s->codec), "%s",
				 fp_codec_name(fp_encoder_config(enc)->codec));
			snprintf(s->encoder, sizeof(s->encoder), "%s", fp_encoder_name(enc));
			s->segments = 1;
			snprintf(s->first_target, sizeof(s->first_target), "%s", fp_output_target(s->out));
		} else {
			/* A mode change: finish the old stream, then move the output over. */
			fp_encoder_flush(s->enc);
			r = drain_packets(s);
			if (r == 0)
				r = fp_output_switch(s->out, enc, &mode);
			fp_encoder_destroy(s->enc);
			s->enc = NULL;
			s->fifo_len = 0;
			if (r < 0) {
				fp_encoder_destroy(enc);
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
		}
		s->enc = enc;
		snprintf(s->last_codec, sizeof(s->last_codec), "%s",
			 fp_codec_name(fp_encoder_config(enc)->codec));
		s->format = f->format;
		s->width = f->width;
		s->height = f->height;
		s->hdr10 = *hdr10;
		snprintf(s->last_target, sizeof(s->last_target), "%s", fp_output_target(s->out));
	}
	if (atomic_exchange(s->keyframe, false))
		fp_encoder_request_keyframe(s->enc);
	r = fp_encoder_submit(s->enc, f);
	if (r < 0)
		return sink_fail(s, r, "submitting a frame to the encoder");
	if (s->fifo_len == PTS_FIFO) { /* never in order: keep the newest */
		s->fifo_head = (s->fifo_head + 1) % PTS_FIFO;
		s->fifo_len--;
	}
	s->pts_fifo[(s->fifo_head + s->fifo_len++) % PTS_FIFO] = capture_ns;
	s->frames++;
	return drain_packets(s);
}

static int sink_finish(struct sink *s)
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
	}
	fp_encoder_destroy(s->enc);
	return r;
}

static void *encode_thread(void *arg)
{
	struct fp_session *ss = arg;
	struct sink *s = &ss->sink;
	int err = 0;

	for (;;) {
		struct item it;

		pthread_mutex_lock(&ss->lock);
		while (ss->count == 0 && !ss->done)
			pthread_cond_wait(&ss->cond, &ss->lock);
		if (ss->count == 0) {
			pthread_mutex_unlock(&ss->lock);
			break;
		}
		it = ss->queue[ss->head];
		ss->head = (ss->head + 1) % QUEUE_MAX;
		ss->count--;
		pthread_mutex_unlock(&ss->lock);

		if (!err)
			err = s->y4m_mode ? sink_y4m(s, &it.frame, it.capture_ns)
					  : sink_encode(s, &it.frame, it.capture_ns, &it.hdr10);

		/* The encoder keeps no reference to f: its output buffer may be reused now. */
		pthread_mutex_lock(&ss->lock);
		ss->in_flight--;
		ss->shown_bytes = s->bytes;
		ss->shown_latency = s->latency;
		if (err)
			ss->failed = err;
		pthread_cond_broadcast(&ss->cond);
		pthread_mutex_unlock(&ss->lock);
	}
	if (sink_finish(s) < 0 && !err) {
		pthread_mutex_lock(&ss->lock);
		ss->failed = -EIO;
		pthread_mutex_unlock(&ss->lock);
	}
	return NULL;
}

void fp_session_format_progress(const struct fp_session_progress *p, char *buf, size_t cap)
{
	snprintf(buf, cap,
		 "%7.1f s  %5.1f fps  %7.0f kbit/s  latency p50 %5.1f ms p99 %5.1f ms  repeats %llu  "
		 "drops %llu  skipped %llu  recreates %llu",
		 p->seconds, p->fps, p->bitrate_kbps, (double)p->latency.p50_ns / 1e6,
		 (double)p->latency.p99_ns / 1e6, (unsigned long long)p->frames_repeated,
		 (unsigned long long)p->frames_dropped, (unsigned long long)p->ticks_skipped,
		 (unsigned long long)p->recreates);
}

void fp_session_request_keyframe(struct fp_session *s)
{
	atomic_store(&s->keyframe, true);
}

/* Sleeps until t on the capture clock (CLOCK_MONOTONIC, fp_now_ns), or until *stop. */
static void sleep_until(int64_t t, volatile sig_atomic_t *stop)
{
	struct timespec ts = { .tv_sec = t / FP_NSEC_PER_SEC, .tv_nsec = t % FP_NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		if (stop && *stop)
			return;
}

static uint64_t dropped(const struct fp_capture_stats *st)
{
	uint64_t used = st->frames_fresh + st->signature_failures;

	/* The lifetime total: the per-ring count restarts at every display change. */
	return st->source_published_total > used ? st->source_published_total - used : 0;
}

int fp_session_run(const struct fp_session_opts *opts, struct fp_session_result *res)
{
	struct fp_session ss = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct fp_capture *cap = NULL;
	pthread_t thread;
	uint32_t fps = out_fps(opts);
	uint64_t total, k, skipped = 0;
	int64_t start, period, last_progress;
	unsigned depth;
	int r;

	memset(res, 0, sizeof(*res));
	atomic_init(&ss.keyframe, false);
	ss.sink.opts = opts;
	ss.sink.keyframe = &ss.keyframe;
	ss.sink.out_opts = opts->output;
	/* Ctrl-C while a network peer is being reached must not wait out the connect timeout. */
	ss.sink.out_opts.cancel = opts->stop;
	fp_latency_reset(&ss.sink.latency);
	r = fp_output_kind_of(opts->target);
	if (r < 0) {
		snprintf(res->error, sizeof(res->error),
			 "cannot write to '%s': use a .mkv, .mp4, .ts or .y4m file or an "
			 "srt://, udp://, rtp:// or rtsp:// URL", opts->target);
		return r;
	}
	ss.sink.y4m_mode = fp_output_kind_takes_frames((enum fp_output_kind)r);
	if (!ss.sink.y4m_mode) {
		ss.sink.pkt = av_packet_alloc();
		if (!ss.sink.pkt)
			return -ENOMEM;
	}
	r = fp_capture_open(&cap, &opts->capture);
	if (r < 0) {
		snprintf(res->error, sizeof(res->error), "capture failed to start: %s",
			 fp_capture_last_error()[0] ? fp_capture_last_error() : strerror(-r));
		av_packet_free(&ss.sink.pkt);
		return r;
	}
	depth = fp_capture_pipeline_depth(cap);
	if (pthread_create(&thread, NULL, encode_thread, &ss) != 0) {
		fp_capture_close(cap);
		av_packet_free(&ss.sink.pkt);
		snprintf(res->error, sizeof(res->error), "cannot start the encode thread");
		return -EAGAIN;
	}

	total = opts->duration > 0 ? (uint64_t)llround(opts->duration * fps) : 0;
	period = FP_NSEC_PER_SEC / fps;
	start = last_progress = fp_now_ns();
	if (opts->started)
		opts->started(&ss, opts->user);
	r = 0;
	for (k = 0; (total == 0 || k < total) && !(opts->stop && *opts->stop); k++) {
		const struct fp_yuv_frame *f;
		int64_t tick, now;

		/* The capturer's output ring holds depth + 1 frames: with depth + 1 in flight the
		 * next capture would overwrite the oldest, so wait until the encoder releases it. */
		pthread_mutex_lock(&ss.lock);
		while (ss.in_flight > depth && !ss.failed)
			pthread_cond_wait(&ss.cond, &ss.lock);
		r = ss.failed;
		pthread_mutex_unlock(&ss.lock);
		if (r < 0)
			break;
		/* Further behind than the catch-up window (a slow encoder, a stall): the ticks
		 * already past get no frame, so the output keeps wall-clock time instead of
		 * drifting late, and each is counted. */
		tick = start + (int64_t)k * period;
		now = fp_now_ns();
		if (now >= tick + (CATCH_UP_TICKS + 1) * period) {
			uint64_t late = (uint64_t)((now - tick) / period);

			if (total && k + late >= total)
				late = total - k;
			k += late;
			skipped += late;
			if (total && k >= total)
				break;
			tick = start + (int64_t)k * period;
		}
		/* Consumed at the tick: a source faster than the output rate gives its newest
		 * frame (the rest count as dropped), one slower or idle a repeat. A frame due just
		 * after the tick (a source at our rate, a little out of phase) still counts as
		 * this tick's for half a period rather than becoming a repeat plus a drop. */
		sleep_until(tick, opts->stop);
		r = fp_capture_next_frame(cap, tick + period / 2, &f);
		if (r < 0) {
			snprintf(res->error, sizeof(res->error), "%s", fp_capture_error(cap));
			break;
		}
		pthread_mutex_lock(&ss.lock);
		{
			struct item *it = &ss.queue[(ss.head + ss.count++) % QUEUE_MAX];

			/* Constant frame rate: the timestamp is the output tick (on the capture
			 * clock), so fresh frames and repeats sit on one regular grid. */
			it->frame = *f;
			it->frame.pts_ns = tick;
			it->capture_ns = f->pts_ns;
			/* Zero while SDR: memcmp in sink_encode then sees no change on SDR. */
			fp_capture_hdr_meta(cap, &it->hdr10);
		}
		ss.in_flight++;
		pthread_cond_signal(&ss.cond);
		pthread_mutex_unlock(&ss.lock);

		if (opts->progress && fp_now_ns() - last_progress >= FP_NSEC_PER_SEC / 2) {
			struct fp_session_progress p = { 0 };
			struct fp_capture_stats st;

			last_progress = fp_now_ns();
			fp_capture_get_stats(cap, &st);
			p.seconds = (double)(last_progress - start) / 1e9;
			p.frames_out = st.frames_out;
			p.frames_repeated = st.frames_repeated;
			p.frames_dropped = dropped(&st);
			p.recreates = st.recreates;
			p.ticks_skipped = skipped;
			p.fps = (double)st.frames_out / p.seconds;
			pthread_mutex_lock(&ss.lock);
			p.bitrate_kbps = (double)ss.shown_bytes * 8 / 1000 / p.seconds;
			fp_latency_summary(&ss.shown_latency, &p.latency);
			pthread_mutex_unlock(&ss.lock);
			opts->progress(&p, opts->user);
		}
	}
	/* The last frame covers one period: a 2 s session ends 2 s after it started, so its
	 * wall time and rate read as what was asked for. */
	if (r == 0 && total && k >= total)
		sleep_until(start + (int64_t)total * period, opts->stop);
	pthread_mutex_lock(&ss.lock);
	ss.done = 1;
	pthread_cond_broadcast(&ss.cond);
	pthread_mutex_unlock(&ss.lock);
	pthread_join(thread, NULL);

	res->seconds = (double)(fp_now_ns() - start) / 1e9;
	fp_capture_get_stats(cap, &res->capture);
	res->frames_dropped = dropped(&res->capture);
	res->ticks_skipped = skipped;
	fp_latency_summary(&ss.sink.latency, &res->latency);
	res->frames_encoded = ss.sink.frames;
	res->packets = ss.sink.packets;
	res->bytes = ss.sink.bytes;
	res->segments = ss.sink.segments;
	snprintf(res->first_target, sizeof(res->first_target), "%s", ss.sink.first_target);
	snprintf(res->last_target, sizeof(res->last_target), "%s", ss.sink.last_target);
	snprintf(res->codec, sizeof(res->codec), "%s", ss.sink.codec);
	snprintf(res->last_codec, sizeof(res->last_codec), "%s", ss.sink.last_codec);
	snprintf(res->encoder, sizeof(res->encoder), "%s", ss.sink.encoder);
	if (!res->error[0] && ss.sink.error[0])
		snprintf(res->error, sizeof(res->error), "%s", ss.sink.error);
	if (r == 0 && ss.failed)
		r = ss.failed;
	fp_capture_close(cap);
	av_packet_free(&ss.sink.pkt);
	pthread_mutex_destroy(&ss.lock);
	pthread_cond_destroy(&ss.cond);
	return r;
}
