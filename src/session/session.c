/* framepush — a session's run loop: the capture thread takes frames on the output clock
 * (pace.c) and queues views of them; the encode thread hands each to the sink (sink.c),
 * which encodes and writes it. See framepush/session.h for the pipeline's invariants. */
#include "framepush/session.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "pace.h"
#include "sink.h"

#define QUEUE_MAX 4u     /* >= the capturer's largest output ring */

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
	char shown_preset[16];
	struct fp_sink sink;
	/* The capture thread's: */
	const struct fp_session_opts *opts;
	struct fp_capture_opts capture_opts; /* opts->capture with the profile's defaults */
	struct fp_capture *cap;
	struct fp_pace pace;
	int64_t last_progress;
	/* Published before the clock started (while the encoder and output opened): the host
	 * was not taking frames yet, so they were not dropped by it. */
	uint64_t dropped_before;
	int64_t clock_end;   /* when the capture loop ended */
};

/* Time the encode thread spent reconnecting the output so far (for the status line: a switch
 * in progress counts up to now). */
static int64_t reconnecting_ns(struct fp_session *ss)
{
	int64_t since = atomic_load(&ss->sink.reconnect_since), now = fp_now_ns();

	return atomic_load(&ss->sink.reconnect_ns) + (since && now > since ? now - since : 0);
}

/* Next queued item into *it; false once the queue is empty and the capture loop is done. */
static bool dequeue(struct fp_session *ss, struct item *it)
{
	bool got;

	pthread_mutex_lock(&ss->lock);
	while (ss->count == 0 && !ss->done)
		pthread_cond_wait(&ss->cond, &ss->lock);
	got = ss->count > 0;
	if (got) {
		*it = ss->queue[ss->head];
		ss->head = (ss->head + 1) % QUEUE_MAX;
		ss->count--;
	}
	pthread_mutex_unlock(&ss->lock);
	return got;
}

static void *encode_thread(void *arg)
{
	struct fp_session *ss = arg;
	struct fp_sink *s = &ss->sink;
	struct item it;
	int err = 0;

	while (dequeue(ss, &it)) {
		if (!err)
			err = fp_sink_frame(s, &it.frame, it.capture_ns, &it.hdr10);
		/* The sink keeps no reference to the frame: its output buffer may be reused now. */
		pthread_mutex_lock(&ss->lock);
		ss->in_flight--;
		ss->shown_bytes = s->bytes;
		/* 3.6 KB under the lock the capture thread waits on: only when a status line
		 * will read it (opts is set before this thread starts, never changed). */
		if (ss->opts->progress) {
			ss->shown_latency = s->latency;
			memcpy(ss->shown_preset, s->preset_last, sizeof(ss->shown_preset));
		}
		if (err)
			ss->failed = err;
		pthread_cond_broadcast(&ss->cond);
		pthread_mutex_unlock(&ss->lock);
	}
	if (fp_sink_finish(s) < 0 && !err) {
		pthread_mutex_lock(&ss->lock);
		ss->failed = -EIO;
		pthread_mutex_unlock(&ss->lock);
	}
	return NULL;
}

void fp_session_request_keyframe(struct fp_session *s)
{
	atomic_store(&s->keyframe, true);
}

int fp_session_send_input(struct fp_session *s, const struct fp_input_event *ev)
{
	return fp_capture_send_input(s->cap, ev);
}

static uint64_t dropped(const struct fp_capture_stats *st)
{
	uint64_t used = st->frames_fresh + st->signature_failures;

	/* The lifetime total: the per-ring count restarts at every display change. */
	return st->source_published_total > used ? st->source_published_total - used : 0;
}

/* Dropped since the clock started. The newest frame published before it is the first tick's
 * (fresh, not dropped), hence one less before; saturating, as that frame may be taken late. */
static uint64_t dropped_since_start(const struct fp_session *ss, const struct fp_capture_stats *st)
{
	uint64_t d = dropped(st);

	return d > ss->dropped_before ? d - ss->dropped_before : 0;
}

/* The capturer's output ring holds depth + 1 frames: with depth + 1 in flight the next
 * capture would overwrite the oldest, so wait until the encoder releases it. Live, wait until
 * fewer than depth are in flight: at depth 1 a frame is taken only once the encoder is free,
 * so it is the newest there is when encoding starts, never one that waited a period behind
 * another (the ticks that pass meanwhile are skipped and counted). Returns 0 or the encode
 * side's error. */
static int wait_for_slot(struct fp_session *ss, unsigned depth)
{
	unsigned most = ss->opts->profile == FP_PROFILE_LIVE ? depth - 1 : depth;
	int r;

	pthread_mutex_lock(&ss->lock);
	while (ss->in_flight > most && !ss->failed)
		pthread_cond_wait(&ss->cond, &ss->lock);
	r = ss->failed;
	pthread_mutex_unlock(&ss->lock);
	return r;
}

static void enqueue(struct fp_session *ss, const struct fp_yuv_frame *f, int64_t tick)
{
	struct item *it;

	pthread_mutex_lock(&ss->lock);
	it = &ss->queue[(ss->head + ss->count++) % QUEUE_MAX];
	/* Constant frame rate: the timestamp is the output tick (on the capture clock), so
	 * fresh frames and repeats sit on one regular grid. */
	it->frame = *f;
	it->frame.pts_ns = tick;
	it->capture_ns = f->pts_ns;
	/* Zero while SDR: the sink's memcmp then sees no change on SDR. */
	fp_capture_hdr_meta(ss->cap, &it->hdr10);
	ss->in_flight++;
	pthread_cond_signal(&ss->cond);
	pthread_mutex_unlock(&ss->lock);
}

/* About twice a second: the figures so far to opts->progress. */
static void report_progress(struct fp_session *ss)
{
	const struct fp_session_opts *opts = ss->opts;
	struct fp_session_progress p = { 0 };
	struct fp_capture_stats st;

	if (!opts->progress || fp_now_ns() - ss->last_progress < FP_NSEC_PER_SEC / 2)
		return;
	ss->last_progress = fp_now_ns();
	fp_capture_get_stats(ss->cap, &st);
	p.frames_out = st.frames_out;
	p.frames_repeated = st.frames_repeated;
	p.frames_dropped = dropped_since_start(ss, &st);
	p.recreates = st.recreates;
	p.ticks_skipped = ss->pace.skipped;
	pthread_mutex_lock(&ss->lock);
	p.seconds = (double)(ss->last_progress - ss->pace.start - reconnecting_ns(ss)) / 1e9;
	if (p.seconds <= 0)
		p.seconds = 1e-3;
	p.fps = (double)st.frames_out / p.seconds;
	p.bitrate_kbps = (double)ss->shown_bytes * 8 / 1000 / p.seconds;
	fp_latency_summary(&ss->shown_latency, &p.latency);
	memcpy(p.preset, ss->shown_preset, sizeof(p.preset));
	pthread_mutex_unlock(&ss->lock);
	opts->progress(&p, opts->user);
}

/* Takes a frame on each output tick until the duration, *stop or an error. Returns 0 or a
 * negative errno (with res->error set for capture failures). */
static int capture_loop(struct fp_session *ss, struct fp_session_result *res)
{
	const struct fp_session_opts *opts = ss->opts;
	unsigned depth = fp_capture_pipeline_depth(ss->cap);
	int r = 0;

	for (; fp_pace_more(&ss->pace) && !(opts->stop && *opts->stop); fp_pace_advance(&ss->pace)) {
		const struct fp_yuv_frame *f;
		int64_t tick;

		r = wait_for_slot(ss, depth);
		if (r < 0 || !fp_pace_tick(&ss->pace, fp_now_ns(), &tick))
			break;
		/* Consumed at the tick: a source faster than the output rate gives its newest
		 * frame (the rest count as dropped), one slower or idle a repeat. A frame due just
		 * after the tick (a source at our rate, a little out of phase) still counts as
		 * this tick's for half a period rather than becoming a repeat plus a drop. */
		fp_sleep_until(tick, opts->stop);
		r = fp_capture_next_frame(ss->cap, tick + ss->pace.period / 2, &f);
		if (r < 0) {
			snprintf(res->error, sizeof(res->error), "%s", fp_capture_error(ss->cap));
			break;
		}
		enqueue(ss, f, tick);
		report_progress(ss);
	}
	/* The last frame covers one period: a 2 s session ends 2 s after it started, so its
	 * wall time and rate read as what was asked for. */
	if (r == 0 && fp_pace_finished(&ss->pace))
		fp_sleep_until(fp_pace_end(&ss->pace), opts->stop);
	return r;
}

/* The session's figures into res, once the encode thread has ended. */
static void fill_result(struct fp_session *ss, struct fp_session_result *res)
{
	/* The clock's span less the reconnects in it; reconnects are sequential, so only the
	 * last can reach past the end (the encode thread has ended: read directly). */
	const struct fp_sink *s = &ss->sink;
	int64_t reconnect = atomic_load(&s->reconnect_ns);

	if (s->last_reconnect_end > ss->clock_end)
		reconnect -= s->last_reconnect_end -
			     (s->last_reconnect_start > ss->clock_end ? s->last_reconnect_start
								      : ss->clock_end);
	res->seconds = (double)(ss->clock_end - ss->pace.start - reconnect) / 1e9;
	fp_capture_get_stats(ss->cap, &res->capture);
	res->frames_dropped = dropped_since_start(ss, &res->capture);
	res->ticks_skipped = ss->pace.skipped;
	fp_sink_result(&ss->sink, res);
}

/* Checks the target and opens the capture; res->error says why not. */
static int session_open(struct fp_session *ss, const struct fp_session_opts *opts,
			struct fp_session_result *res)
{
	char why[512];
	int r = opts->packets ? 0 : fp_output_check_target(opts->target, why, sizeof(why));

	if (r < 0) {
		snprintf(res->error, sizeof(res->error), "%s", why);
		return r;
	}
	if (!opts->packets)
		r = fp_output_kind_for(opts->target, &opts->output);
	if (r < 0) {
		snprintf(res->error, sizeof(res->error), "cannot write '%s' to stdout: ts or mkv",
			 opts->output.stdout_format);
		return r;
	}
	ss->opts = opts;
	atomic_init(&ss->keyframe, false);
	r = fp_sink_init(&ss->sink, opts, (enum fp_output_kind)r, &ss->keyframe);
	if (r < 0)
		goto err_finish_sink;
	ss->capture_opts = opts->capture;
	/* Live: one frame in flight, taken when the encoder is free, so none waits behind it. */
	if (!ss->capture_opts.pipeline_depth && opts->profile == FP_PROFILE_LIVE &&
	    !getenv("FRAMEPUSH_PIPELINE_DEPTH"))
		ss->capture_opts.pipeline_depth = 1;
	r = fp_capture_open(&ss->cap, &ss->capture_opts, why, sizeof(why));
	if (r < 0) {
		snprintf(res->error, sizeof(res->error), "capture failed to start: %s", why);
		goto err_finish_sink;
	}
	return 0;

err_finish_sink:
	fp_sink_finish(&ss->sink);
	return r;
}

/* The encoder and the output open before the clock starts: a cold encoder init (libx264 at
 * 1080p takes tens of ms, more with a cold page cache) or an SRT handshake must neither cost
 * the first ticks nor count in the rate. */
static int prepare_sink(struct fp_session *ss, struct fp_session_result *res)
{
	struct fp_yuv_frame mode = { 0 };
	struct fp_hdr10 hdr10;
	int r;

	fp_capture_size(ss->cap, &mode.width, &mode.height);
	mode.format = fp_capture_hdr_meta(ss->cap, &hdr10) ? FP_YUV_P010 : FP_YUV_NV12;
	r = fp_sink_prepare(&ss->sink, &mode, &hdr10);
	if (r < 0)
		fp_sink_result(&ss->sink, res);
	return r;
}

/* The output clock starts now, the encoder and output open: what the source published until
 * now is the baseline of the drop count. */
static void start_clock(struct fp_session *ss)
{
	struct fp_capture_stats st;
	uint64_t d;

	fp_pace_init(&ss->pace, fp_session_out_fps(ss->opts), ss->opts->duration, fp_now_ns());
	ss->last_progress = ss->pace.start;
	fp_capture_get_stats(ss->cap, &st);
	d = dropped(&st);
	ss->dropped_before = d > 0 ? d - 1 : 0;
}

int fp_session_run(const struct fp_session_opts *opts, struct fp_session_result *res)
{
	struct fp_session ss = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	pthread_t thread;
	int r;

	memset(res, 0, sizeof(*res));
	r = session_open(&ss, opts, res);
	if (r < 0)
		return r;
	r = prepare_sink(&ss, res);
	if (r < 0)
		goto err_close_capture;
	if (pthread_create(&thread, NULL, encode_thread, &ss) != 0) {
		snprintf(res->error, sizeof(res->error), "cannot start the encode thread");
		r = -EAGAIN;
		goto err_close_capture;
	}
	start_clock(&ss);
	if (opts->started)
		opts->started(&ss, opts->user);
	r = capture_loop(&ss, res);
	ss.clock_end = fp_now_ns();
	/* Before anything is torn down: other threads must stop calling into the session now. */
	if (opts->started)
		opts->started(NULL, opts->user);

	pthread_mutex_lock(&ss.lock);
	ss.done = 1;
	pthread_cond_broadcast(&ss.cond);
	pthread_mutex_unlock(&ss.lock);
	pthread_join(thread, NULL);
	fill_result(&ss, res);
	if (r == 0 && ss.failed)
		r = ss.failed;
	fp_capture_close(ss.cap);
	pthread_mutex_destroy(&ss.lock);
	pthread_cond_destroy(&ss.cond);
	return r;

err_close_capture:
	fp_capture_close(ss.cap);
	fp_sink_finish(&ss.sink);
	return r;
}

