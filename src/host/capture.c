#include "framepush/capture.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/atomic.h"
#include "channel/desc.h"
#include "channel/event.h"
#include "channel/msg.h"
#include "channel/peer.h"
#include "channel/ring.h"
#include "channel/signature.h"
#include "common/log.h"
#include "common/util.h"
#include "framepush/convert.h"
#include "framepush/encode.h"
#include "broker.h"
#include "capture_private.h"

#define OUT_RING_MAX 4u
/* One output buffer is always the one being written: at most OUT_RING_MAX - 1 in flight. */
#define DEPTH_MAX (OUT_RING_MAX - 1)
#define DEPTH_DEFAULT 2u
#define ATTACH_TIMEOUT_DEFAULT_NS (4 * FP_NSEC_PER_SEC)
#define RECOVER_TIMEOUT_DEFAULT_NS (3 * FP_NSEC_PER_SEC)
#define NO_FRAME_TIMEOUT_DEFAULT_NS (20 * FP_NSEC_PER_SEC)
#define SLOT_LOCK_TIMEOUT_NS (8 * FP_NSEC_PER_MSEC)
#define FIRST_KICK_NS (600 * FP_NSEC_PER_MSEC)
#define KICK_EVERY_NS (800 * FP_NSEC_PER_MSEC)
#define WAIT_SLICE_MS 16
/* Without RWF_NOWAIT eventfd reads (kernel < 5.12) the event is not waited on: the token
 * is polled at this interval instead. */
#define POLL_SLICE_MS 2
/* Socket messages read per service() call: a source that floods its socket cannot stretch
 * one call past its deadline. Legitimate traffic is one STATUS per delivery. */
#define DRAIN_MAX 16
/* Junk messages (wrong size or type, fds attached, oversized) a source may send in one
 * session before it is ended as a protocol violation. */
#define JUNK_MAX 64u
/* How long a source whose socket closed gets for its pidfd to turn readable: a dying process
 * closes its files first, and waiting this little lets the error name the real reason (its
 * exit status or signal) instead of "closed the channel". */
#define EXIT_GRACE_MS 200

/* The rectangle of each slot that is converted and handed out, in pixels. */
struct region {
	uint32_t x, y, w, h;
};

struct fp_capture {
	struct fp_capture_opts opts;
	struct fp_broker *broker;
	struct fp_ring *ring;
	struct fp_converter *conv;
	uint32_t target_id, ring_len;
	unsigned depth;

	struct fp_yuv_frame out[OUT_RING_MAX];
	unsigned out_len, out_idx;
	int last_idx;              /* output slot of the last frame handed out, -1 none */
	uint32_t last_seq;         /* seq of the last fresh frame consumed from this ring */
	uint64_t last_rejected;    /* last token counted as stale, so each counts once */
	uint64_t last_busy;        /* last token counted as busy, so each counts once */
	uint64_t last_bad;         /* last token whose frame failed its signature */

	uint32_t desc_serial;      /* last descriptor serial acted on */
	struct fp_hdr10 hdr;       /* the source's own HDR10 record, validated (hdr_own) */
	int hdr_own;               /* 0: none or invalid, fp_hdr10_generic is used */
	int hdr_logged_bad, hdr_logged_own; /* each logged once: a source may repeat it */
	int64_t recovering_since;  /* set by a recreate until a fresh frame arrives */
	int64_t next_kick;
	int64_t last_fresh;
	unsigned status_logs;      /* status lines logged so far */
	int event_unusable;        /* the kernel cannot read the eventfd without blocking */
	uint32_t logged_status, logged_detail;
	int ended;                 /* -errno that ended the session (reason in error), 0 running */
	/* Set with each ring from the size the source reported, and checked against it: the
	 * conversion never reads outside the slot. */
	struct region region;
	uint32_t odd_logged_w, odd_logged_h; /* the odd display size last logged (once a mode) */

	struct fp_capture_stats stats;
	uint64_t published_before, dropped_before; /* earlier rings' counts, summed */
	char error[512];           /* why the session ended: the one place that keeps the text */

	/* How the source is started, kept for a restart. */
	struct fp_broker_opts bo;
	char *argv[16];
	char arg_size[32], arg_fps[16], arg_target[16];
	int adopted;               /* the broker came from the caller: nothing to restart */

	/* fp_capture_send_input runs on another thread while a restart replaces the broker:
	 * it sends on input_sock, a copy of the current broker's socket (-1: none attached)
	 * that this thread changes only under input_lock, before the broker closing it is
	 * destroyed. The lock is held for one non-blocking send or one store, no longer. */
	pthread_mutex_t input_lock;
	int input_sock;
};

/* Ends the session with err, which every later call returns, and keeps the reason for
 * fp_capture_error (or the failed open's why): the one place it is kept. Loud, it is also
 * logged, once: here, where the caller formatted it with its context. Returns err. */
static int end_with(struct fp_capture *cap, int loud, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int end_with(struct fp_capture *cap, int loud, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cap->error, sizeof(cap->error), fmt, ap);
	va_end(ap);
	cap->ended = err;
	if (loud)
		fp_error("capture: %s", cap->error);
	return err;
}

#define end_session(cap, err, ...) end_with(cap, 1, err, __VA_ARGS__)
/* For a failure the layer below already logged with its detail (the broker, the peer
 * check, the ring), or for no failure at all (a hang-up): the session keeps its own words
 * for it, without a second log line. */
#define end_session_quietly(cap, err, ...) end_with(cap, 0, err, __VA_ARGS__)

const char *fp_capture_error(const struct fp_capture *cap) { return cap->error; }
int fp_capture_is_hdr(const struct fp_capture *cap) { return cap->ring->format == FP_PIXFMT_RGBA16F; }

void fp_capture_size(const struct fp_capture *cap, uint32_t *width, uint32_t *height)
{
	*width = cap->region.w;
	*height = cap->region.h;
}

/* The sentences below name these limits. */
_Static_assert(FP_CAPTURE_SIZE_MIN == 16 && FP_WIDTH_MAX == 7680 && FP_HEIGHT_MAX == 4320,
	       "fp_capture_crop_problem's sentences name the limits");

const char *fp_capture_crop_problem(uint32_t x, uint32_t y, uint32_t width, uint32_t height)
{
	if (!width)
		return x || y || height ? "a width of 0 means no crop, yet an offset or a height "
					  "is given" : NULL;
	if (width < FP_CAPTURE_SIZE_MIN || height < FP_CAPTURE_SIZE_MIN)
		return "width and height must be at least 16 (the smallest an encoder takes)";
	if ((width | height) & 1)
		return "width and height must be even (an encoder takes even sizes only)";
	/* 64-bit: x + width must not wrap past the check. */
	if ((uint64_t)x + width > FP_WIDTH_MAX || (uint64_t)y + height > FP_HEIGHT_MAX)
		return "it reaches past 7680x4320, the largest display a source may have";
	return NULL;
}

int fp_capture_hdr_meta(const struct fp_capture *cap, struct fp_hdr10 *meta)
{
	memset(meta, 0, sizeof(*meta));
	if (!fp_capture_is_hdr(cap))
		return 0;
	*meta = cap->hdr_own ? cap->hdr : fp_hdr10_generic;
	return 1;
}

/* Takes the HDR10 record that came with an accepted descriptor (m is the host's copy, read
 * once): the source's own when valid, else the generic baseline. Never fails the session:
 * wrong metadata makes a player tone-map differently, it does not make the stream wrong. */
static void take_hdr_meta(struct fp_capture *cap, const struct fp_hdr_meta *m)
{
	const struct fp_hdr10 *r = &m->rec;
	const char *why;

	cap->hdr_own = 0;
	if (m->present == FP_HDR_META_NONE)
		return;
	why = m->present != FP_HDR_META_PRESENT ? "presence word is neither 0 nor 1"
						 : fp_hdr10_problem(r);
	if (why) {
		if (!cap->hdr_logged_bad++)
			fp_warn("capture: source pid %d reported invalid HDR10 metadata (present %u, "
				"R %u,%u G %u,%u B %u,%u WP %u,%u, luminance %u..%u x 0.0001 cd/m2, "
				"MaxCLL %u, MaxFALL %u): %s; using the generic baseline",
				(int)fp_broker_pid(cap->broker), m->present, r->red_x, r->red_y,
				r->green_x, r->green_y, r->blue_x, r->blue_y, r->white_x, r->white_y,
				r->min_luminance, r->max_luminance, r->max_cll, r->max_fall, why);
		return;
	}
	cap->hdr = *r;
	cap->hdr_own = 1;
	if (!cap->hdr_logged_own++)
		fp_info("capture: source pid %d reports its own HDR10 metadata: luminance %u..%u x "
			"0.0001 cd/m2, MaxCLL %u, MaxFALL %u", (int)fp_broker_pid(cap->broker),
			r->min_luminance, r->max_luminance, r->max_cll, r->max_fall);
}

/* Saturating: the counts are the source's, and a hostile one could make them wrap. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

unsigned fp_capture_pipeline_depth(const struct fp_capture *cap) { return cap->depth; }
pid_t fp_capture_source_pid(const struct fp_capture *cap) { return fp_broker_pid(cap->broker); }
uint32_t fp_capture_generation(const struct fp_capture *cap) { return cap->ring->generation; }

static unsigned clamp_depth(unsigned want)
{
	const char *env = getenv("FRAMEPUSH_PIPELINE_DEPTH");
	unsigned long long v;

	if (!want && env && *env) {
		if (fp_parse_uint(env, 1, UINT_MAX, &v) < 0) /* junk must not pass as the default */
			fp_warn("capture: FRAMEPUSH_PIPELINE_DEPTH='%s' is not 1..%u; using %u", env,
				DEPTH_MAX, DEPTH_DEFAULT);
		else
			want = v > DEPTH_MAX ? DEPTH_MAX : (unsigned)v;
	}
	if (!want)
		want = DEPTH_DEFAULT;
	return want > DEPTH_MAX ? DEPTH_MAX : want;
}

static void free_out_ring(struct fp_capture *cap)
{
	for (unsigned i = 0; i < OUT_RING_MAX; i++)
		fp_yuv_frame_free(&cap->out[i]);
	cap->out_idx = 0;
	cap->last_idx = -1;
}

/* Makes out[i] a w x h buffer of fmt. Only ever called for the buffer about to be written
 * (out_idx): the other depth buffers may still be in the encoder, so a display change
 * replaces the old-format buffers one by one as the ring comes round to them, never all at
 * once. Allocates at most out_len times per geometry change, never per frame. */
static int ensure_out_buffer(struct fp_capture *cap, unsigned i, enum fp_yuv_format fmt,
			     uint32_t w, uint32_t h)
{
	struct fp_yuv_frame *b = &cap->out[i];
	int r;

	if (b->data[0] && b->format == fmt && b->width == w && b->height == h)
		return 0;
	fp_yuv_frame_free(b);
	r = fp_yuv_frame_alloc(b, fmt, w, h);
	if (r < 0)
		return end_session(cap, r, "cannot allocate a %ux%u output buffer: %s", w, h,
				   strerror(-r));
	return 0;
}

static void read_source_status(const struct fp_capture *cap, uint32_t *status, uint32_t *detail)
{
	*status = atomic_load_explicit(ATOMIC_U32(&cap->ring->status->status), memory_order_acquire);
	*detail = cap->ring->status->detail;
}

/* The source's status is logged when it first reports and then on a change only, not on
 * every ring (each new ring's block starts NOT_ATTACHED and then repeats OPENED). A source
 * that keeps changing it (hostile) gets a few lines, not one per poll. */
#define STATUS_LOG_MAX 8u

static void log_status_change(struct fp_capture *cap)
{
	uint32_t st, detail;

	read_source_status(cap, &st, &detail);
	if (st == FP_SRC_NOT_ATTACHED || (cap->status_logs && st == cap->logged_status &&
					  detail == cap->logged_detail))
		return;
	cap->logged_status = st;
	cap->logged_detail = detail;
	if (cap->status_logs >= STATUS_LOG_MAX)
		return;
	fp_info("capture: source pid %d reports %s (detail %u) on ring gen %u",
		(int)fp_broker_pid(cap->broker), fp_source_status_name(st), detail,
		cap->ring->generation);
	if (++cap->status_logs == STATUS_LOG_MAX)
		fp_info("capture: source pid %d keeps changing its status; no more status lines",
			(int)fp_broker_pid(cap->broker));
}

/* The socket input goes to from now on (-1: none). */
static void set_input_sock(struct fp_capture *cap, int sock)
{
	pthread_mutex_lock(&cap->input_lock);
	cap->input_sock = sock;
	pthread_mutex_unlock(&cap->input_lock);
}

int fp_capture_send_input(struct fp_capture *cap, const struct fp_input_event *ev)
{
	struct fp_msg_input m = {
		.hdr = { .type = FP_MSG_INPUT, .version = FP_PROTO_VERSION },
		.type = ev->type, .code = ev->code, .value = ev->value, .x = ev->x, .y = ev->y,
	};
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = -1;
	int r;

	/* The source checks again; refusing here keeps garbage off the channel at all. */
	if (!fp_input_event_valid(ev))
		return -EINVAL;
	pthread_mutex_lock(&cap->input_lock);
	if (cap->input_sock >= 0)
		n = sendmsg(cap->input_sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	r = cap->input_sock < 0 ? -ENOTCONN : n < 0 ? -errno : 0;
	pthread_mutex_unlock(&cap->input_lock);
	if (r == -EWOULDBLOCK)
		return -EAGAIN; /* the source is behind: the event is refused, never queued here */
	/* A source that hung up or is being replaced: the same for the caller. */
	if (r == -EPIPE || r == -ECONNRESET)
		return -ENOTCONN;
	/* SOCK_SEQPACKET sends all of a packet or nothing. */
	return r < 0 ? r : (size_t)n == sizeof(m) ? 0 : -EIO;
}

static int send_kick(struct fp_capture *cap)
{
	struct fp_msg_header m = { .type = FP_MSG_KICK, .version = FP_PROTO_VERSION };

	cap->stats.kicks++;
	return fp_broker_send(cap->broker, &m, sizeof(m));
}

int fp_capture_kick(struct fp_capture *cap)
{
	return send_kick(cap);
}

/* A dead source cannot release what it held: every slot word it owned (or scribbled) is
 * taken over and freed, so nothing of this ring stays wedged. Its pixels are not used. */
static void take_abandoned_slots(struct fp_capture *cap)
{
	struct fp_ring *ring = cap->ring;

	for (uint32_t i = 0; i < ring->ring_len; i++) {
		uint32_t v = atomic_load_explicit(ATOMIC_U32(&ring->status->slot_owner[i]),
						  memory_order_acquire);

		/* Anything but FREE is the source's doing: the host holds no slot between calls. */
		if (v == FP_SLOT_FREE)
			continue;
		fp_ring_slot_take_abandoned(ring, i);
		fp_ring_slot_release(ring, i);
		cap->stats.abandoned_slots++;
		fp_info("capture: took over slot %u (word 0x%x) from dead source pid %d", i, v,
			(int)fp_broker_pid(cap->broker));
	}
}

static int start_source(struct fp_capture *cap);

static int source_died(struct fp_capture *cap)
{
	char why[160] = "exited";
	pid_t pid = fp_broker_pid(cap->broker);
	int r;

	take_abandoned_slots(cap);
	/* The pidfd is readable, so a child of ours is a zombie now: reap it for the reason. */
	fp_broker_source_exit(cap->broker, why, sizeof(why));
	if (cap->adopted || cap->stats.source_restarts >= cap->opts.max_source_restarts)
		return end_session(cap, -EPIPE, "source pid %d died (%s); no more frames can arrive",
				   (int)pid, why);
	/* Counted first: a source that dies again while restarting cannot loop forever. */
	cap->stats.source_restarts++;
	set_input_sock(cap, -1); /* before the broker that owns the fd closes it */
	fp_warn("capture: source pid %d died (%s); starting a new one (restart %llu of %u)",
		(int)pid, why, (unsigned long long)cap->stats.source_restarts,
		cap->opts.max_source_restarts);
	fp_broker_destroy(cap->broker);
	cap->broker = NULL;
	r = start_source(cap);
	if (r < 0)
		return r;
	set_input_sock(cap, fp_broker_sock(cap->broker));
	cap->recovering_since = 0;
	cap->last_fresh = fp_now_ns();
	return 0;
}

/* One junk message from the source: counted, logged the first time, and past JUNK_MAX the
 * end of the session (a flood is a protocol violation, not traffic to keep up with). */
static int junk_message(struct fp_capture *cap, int n, uint32_t type, size_t nfds)
{
	if (!cap->stats.junk_messages++)
		fp_warn("capture: source pid %d sent a message the protocol does not allow (%d "
			"bytes, type %u, %zu fds); ignored and counted", (int)fp_broker_pid(cap->broker),
			n, type, nfds);
	if (cap->stats.junk_messages <= JUNK_MAX)
		return 0;
	return end_session(cap, -EPROTO, "source pid %d sent more than %u messages the protocol "
			   "does not allow (a flood); ending the source",
			   (int)fp_broker_pid(cap->broker), JUNK_MAX);
}

/* Reads at most DRAIN_MAX pending messages from the source; the rest wait for the next
 * call. Only STATUS is expected: a refused delivery of the current ring ends the session
 * with the source's reason. */
static int drain_socket(struct fp_capture *cap)
{
	for (int k = 0; k < DRAIN_MAX; k++) {
		union {
			struct fp_msg_header hdr;
			struct fp_msg_status status;
			char raw[128];
		} m;
		int fds[FP_CHANNEL_MAX_FDS];
		size_t nfds = 0;
		int n = fp_msg_recv(fp_broker_sock(cap->broker), &m, sizeof(m), fds, FP_ARRAY_LEN(fds),
				    &nfds, 0);
		int r;

		if (n == -EAGAIN)
			return 0;
		if (n == -EMSGSIZE) {
			/* Oversized, or too many fds; they are already closed. */
			r = junk_message(cap, n, 0, 0);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0) {
			/* A dying process closes its files before its pidfd turns readable; give
			 * the exit a moment so the error names the real reason. */
			struct pollfd p = { .fd = fp_broker_pidfd(cap->broker), .events = POLLIN };

			if (poll(&p, 1, EXIT_GRACE_MS) > 0)
				return source_died(cap);
			return end_session(cap, -EPIPE, "source pid %d closed the channel",
					   (int)fp_broker_pid(cap->broker));
		}
		fp_msg_close_fds(fds, nfds); /* a source never sends fds */
		if ((size_t)n != sizeof(m.status) || m.hdr.type != FP_MSG_STATUS || nfds) {
			r = junk_message(cap, n, (size_t)n >= sizeof(m.hdr) ? m.hdr.type : 0, nfds);
			if (r < 0)
				return r;
			continue;
		}
		if (m.status.generation == cap->ring->generation && m.status.status != FP_SRC_OPENED)
			return end_session(cap, -EPROTO,
					   "source pid %d refused ring gen %u: %s, detail %u: %s",
					   (int)fp_broker_pid(cap->broker), cap->ring->generation,
					   fp_source_status_name(m.status.status), m.status.detail,
					   fp_source_status_meaning(m.status.status));
	}
	return 0;
}

/* Logs, once a mode, that an odd display loses its last column or row. */
static void log_odd_size(struct fp_capture *cap, uint32_t w, uint32_t h)
{
	if (!((w | h) & 1) || (w == cap->odd_logged_w && h == cap->odd_logged_h))
		return;
	cap->odd_logged_w = w;
	cap->odd_logged_h = h;
	fp_info("capture: display %ux%u has an odd size; capturing %ux%u (its last %s dropped: "
		"an encoder takes even sizes only)", w, h, w & ~1u, h & ~1u,
		w & h & 1 ? "column and row" : w & 1 ? "column" : "row");
}

/* The rectangle of a w x h display that is handed out: the crop, else the display rounded
 * down to even. 0 and *rg, or -ERANGE with the session ended (the crop does not fit, the
 * display is smaller than an encoder takes): at open, and for every new ring, before it
 * exists, so that no frame of a display the rectangle does not fit is ever read. */
static int plan_region(struct fp_capture *cap, uint32_t w, uint32_t h, struct region *rg)
{
	const struct fp_capture_opts *o = &cap->opts;
	int changed = cap->ring && (w != cap->ring->width || h != cap->ring->height);

	if (o->crop_width) {
		if ((uint64_t)o->crop_x + o->crop_width > w || (uint64_t)o->crop_y + o->crop_height > h)
			return end_session(cap, -ERANGE, "crop %u,%u,%u,%u (x,y,width,height) does not "
					   "fit the %s%ux%u display of source pid %d: x + width "
					   "must be <= %u and y + height <= %u", o->crop_x,
					   o->crop_y, o->crop_width, o->crop_height,
					   changed ? "new " : "", w, h,
					   (int)fp_broker_pid(cap->broker), w, h);
		*rg = (struct region){ o->crop_x, o->crop_y, o->crop_width, o->crop_height };
		return 0;
	}
	if (w < FP_CAPTURE_SIZE_MIN || h < FP_CAPTURE_SIZE_MIN)
		return end_session(cap, -ERANGE, "display %ux%u is smaller than the %ux%u an encoder "
				   "takes (source pid %d%s)", w, h, FP_CAPTURE_SIZE_MIN,
				   FP_CAPTURE_SIZE_MIN, (int)fp_broker_pid(cap->broker),
				   changed ? ", after a display change" : "");
	log_odd_size(cap, w, h);
	*rg = (struct region){ 0, 0, w & ~1u, h & ~1u };
	return 0;
}

static int deliver_new_ring(struct fp_capture *cap, uint32_t w, uint32_t h, uint32_t fmt)
{
	struct fp_ring *ring;
	struct region rg;
	int r;

	r = plan_region(cap, w, h, &rg);
	if (r < 0)
		return r;
	r = fp_ring_create(&ring, fp_ring_next_generation(), cap->target_id, cap->ring_len, w, h, fmt);
	if (r < 0)
		return end_session_quietly(cap, r, "cannot create a %ux%u format %u ring: %s", w, h,
					   fmt, strerror(-r));
	r = fp_ring_deliver(ring, fp_broker_sock(cap->broker));
	if (r < 0) {
		fp_ring_destroy(ring);
		return end_session_quietly(cap, r, "delivering ring to source pid %d failed: %s",
					   (int)fp_broker_pid(cap->broker), strerror(-r));
	}
	if (cap->ring) {
		/* Read last, as late as possible: the source may still publish on the old ring. */
		cap->published_before = add_sat(cap->published_before,
						cap->ring->status->frames_published);
		cap->dropped_before = add_sat(cap->dropped_before, cap->ring->status->frames_dropped);
		/* An old-mode frame cannot be repeated into the new mode, whether a display
		 * change or a restarted source brought it; in the same mode (the same size
		 * handed out) it still can. */
		if (rg.w != cap->region.w || rg.h != cap->region.h || fmt != cap->ring->format)
			cap->last_idx = -1;
	}
	fp_ring_destroy(cap->ring);
	cap->ring = ring;
	cap->region = rg;
	cap->last_seq = 0;
	cap->last_rejected = 0;
	cap->last_busy = 0;
	cap->last_bad = 0;
	cap->desc_serial = 0;
	return 0;
}

/* The source reports its display's descriptor; a change means a new ring (new generation,
 * published last), and the output buffers follow the new format. */
static int follow_descriptor(struct fp_capture *cap)
{
	struct fp_desc d;
	uint32_t serial, w, h, fmt;
	int r;

	/* Read once, under the seqlock: validated and used as copied, never a mixture. */
	serial = fp_desc_read(cap->ring->status, &d);
	if (serial == 0 || serial == cap->desc_serial)
		return 0;
	w = d.width;
	h = d.height;
	fmt = d.format;
	cap->desc_serial = serial;
	take_hdr_meta(cap, &d.hdr);
	if (w == cap->ring->width && h == cap->ring->height && fmt == cap->ring->format)
		return 0;
	if (fp_ring_desc_valid(w, h, fmt) < 0)
		return end_session(cap, -EPROTO, "source pid %d reported an invalid display %ux%u "
				   "format %u", (int)fp_broker_pid(cap->broker), w, h, fmt);
	fp_info("capture: display changed from %ux%u %s to %ux%u %s; recreating the ring",
		cap->ring->width, cap->ring->height,
		cap->ring->format == FP_PIXFMT_RGBA16F ? "HDR" : "SDR", w, h,
		fmt == FP_PIXFMT_RGBA16F ? "HDR" : "SDR");
	r = deliver_new_ring(cap, w, h, fmt);
	if (r < 0)
		return r;
	cap->stats.recreates++;
	if (!cap->recovering_since) {
		cap->recovering_since = fp_now_ns();
		cap->next_kick = cap->recovering_since + FIRST_KICK_NS;
	}
	return 0;
}

/* Everything but frames: source liveness, its messages, display changes, recovery. */
static int service(struct fp_capture *cap)
{
	int64_t now;
	int r;

	if (cap->ended)
		return cap->ended;
	if (fp_pidfd_exited(fp_broker_pidfd(cap->broker)) > 0)
		return source_died(cap);
	r = drain_socket(cap);
	if (r < 0)
		return r;
	log_status_change(cap);
	r = follow_descriptor(cap);
	if (r < 0)
		return r;
	if (!cap->recovering_since)
		return 0;
	now = fp_now_ns();
	if (now - cap->recovering_since > cap->opts.recover_timeout_ns) {
		uint32_t st, detail;

		read_source_status(cap, &st, &detail);
		return end_session(cap, -ETIMEDOUT,
				   "display changed and no fresh frame arrived on ring gen %u within "
				   "%lld ms (source status %s, detail %u: %s); ending the session",
				   cap->ring->generation,
				   (long long)(cap->opts.recover_timeout_ns / FP_NSEC_PER_MSEC),
				   fp_source_status_name(st), detail, fp_source_status_meaning(st));
	}
	/* An idle display composes nothing after a recreate either: nudge it. */
	if (now >= cap->next_kick) {
		send_kick(cap);
		cap->next_kick = now + KICK_EVERY_NS;
	}
	return 0;
}

static void copy_frame(struct fp_yuv_frame *dst, const struct fp_yuv_frame *src)
{
	size_t bps = src->format == FP_YUV_P010 ? 2 : 1;
	size_t rows[2] = { src->height, (src->height + 1) / 2 };
	size_t bytes[2] = { src->width * bps, (size_t)((src->width + 1) / 2) * 2 * bps };

	for (int p = 0; p < 2; p++)
		for (size_t y = 0; y < rows[p]; y++)
			memcpy(dst->data[p] + y * dst->stride[p], src->data[p] + y * src->stride[p],
			       bytes[p]);
}

static int signature_ok(struct fp_capture *cap, struct fp_token tok)
{
	const struct fp_ring *ring = cap->ring;
	struct fp_signature sig;
	enum fp_sig_result s = fp_signature_check(ring->slot[tok.slot], ring->stride, ring->width,
						  ring->height, ring->format, &sig);

	if (s == FP_SIG_OK && sig.generation == ring->generation && sig.frame == tok.seq)
		return 1;
	cap->stats.signature_failures++;
	if (cap->stats.signature_failures <= 5)
		fp_warn("capture: frame seq %u slot %u gen %u failed its signature: %s (frame %u "
			"gen %u)", tok.seq, tok.slot, ring->generation, fp_sig_result_name(s),
			sig.frame, sig.generation);
	return 0;
}

/* Converts the slot the host holds (tok, published as latest) into the next output buffer
 * and releases the slot. 0 and *frame; -EAGAIN when its signature failed (refused once, for
 * this token); or -errno with the session ended. */
static int convert_held_slot(struct fp_capture *cap, struct fp_token tok, uint64_t latest,
			     const struct fp_yuv_frame **frame)
{
	struct fp_ring *ring = cap->ring;
	const struct region *rg = &cap->region;
	int hdr = ring->format == FP_PIXFMT_RGBA16F;
	/* Inside the slot: plan_region checked the rectangle against this ring's size. The
	 * converters take any source address (unaligned loads). */
	const uint8_t *src = ring->slot[tok.slot] + (size_t)rg->y * ring->stride +
			     (size_t)rg->x * fp_pixfmt_bpp(ring->format);
	struct fp_yuv_frame *out;
	uint64_t cap_ns;
	int64_t now;
	int r;

	r = ensure_out_buffer(cap, cap->out_idx, hdr ? FP_YUV_P010 : FP_YUV_NV12, rg->w, rg->h);
	if (r < 0) {
		fp_ring_slot_release(ring, tok.slot);
		return r;
	}
	out = &cap->out[cap->out_idx];
	r = fp_converter_run(cap->conv, hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888, src,
			     ring->stride, rg->w, rg->h, out);
	cap_ns = ring->status->slot_capture_ns[tok.slot];
	/* Verified after the conversion read the slot: a source that writes a slot the host
	 * holds changes what the check sees, so a frame altered before or while it was
	 * converted is refused (checking first would let a later write through). */
	if (r == 0 && cap->opts.verify_signatures && !signature_ok(cap, tok)) {
		fp_ring_slot_release(ring, tok.slot);
		/* Refused once per token; last_seq stays, so a forged far-ahead seq cannot make
		 * the real frames look old. */
		cap->last_bad = latest;
		return -EAGAIN;
	}
	fp_ring_slot_release(ring, tok.slot);
	if (r < 0)
		return end_session(cap, r, "converting a %ux%u frame (at %u,%u of %ux%u) failed: %s",
				   rg->w, rg->h, rg->x, rg->y, ring->width, ring->height,
				   strerror(-r));

	now = fp_now_ns();
	/* A capture time from the source is only a hint: keep it if it is plausible. */
	out->pts_ns = cap_ns && (int64_t)cap_ns <= now && now - (int64_t)cap_ns < FP_NSEC_PER_SEC
			      ? (int64_t)cap_ns : now;
	out->seq = tok.seq;
	out->repeated = 0;
	cap->last_idx = (int)cap->out_idx;
	cap->out_idx = (cap->out_idx + 1) % cap->out_len;
	cap->last_seq = tok.seq;
	cap->recovering_since = 0;
	cap->last_fresh = now;
	cap->stats.frames_fresh++;
	cap->stats.frames_out++;
	*frame = out;
	return 0;
}

/* Consumes the newest publish if it is the current ring's, new, and in range. */
static int try_consume(struct fp_capture *cap, const struct fp_yuv_frame **frame)
{
	struct fp_ring *ring = cap->ring;
	uint64_t latest = fp_ring_latest(ring);

	for (int attempt = 0; attempt < 4; attempt++) {
		struct fp_token tok = fp_token_unpack(latest);
		uint64_t again;

		if (tok.generation == 0)
			return -EAGAIN; /* nothing published on this ring yet */
		if (tok.generation != ring->generation || tok.slot >= ring->ring_len) {
			/* An old ring's publish racing a recreate, or garbage: never consumed. */
			if (latest != cap->last_rejected) {
				cap->last_rejected = latest;
				cap->stats.stale_rejected++;
			}
			return -EAGAIN;
		}
		if ((int32_t)(tok.seq - cap->last_seq) <= 0 || latest == cap->last_bad)
			return -EAGAIN; /* not new, or already refused */
		if (fp_ring_slot_acquire(ring, tok.slot, SLOT_LOCK_TIMEOUT_NS) < 0) {
			/* Skipped, not waited for; the same token retried later counts once. */
			if (latest != cap->last_busy) {
				cap->last_busy = latest;
				cap->stats.busy_skipped++;
			}
			/* A source that died holding it: the next service() takes it over. */
			return -EAGAIN;
		}
		/* The slot is ours. If nothing was published since we read the token, the
		 * slot still holds that frame: the source never takes the latest slot. */
		again = fp_ring_latest(ring);
		if (again == latest)
			return convert_held_slot(cap, tok, latest, frame);
		fp_ring_slot_release(ring, tok.slot);
		latest = again;
	}
	return -EAGAIN;
}

static int repeat_last(struct fp_capture *cap, const struct fp_yuv_frame **frame)
{
	const struct fp_yuv_frame *last;
	struct fp_yuv_frame *dst;
	int r;

	if (cap->last_idx < 0)
		return -EAGAIN;
	/* A fresh output buffer: the last one may still be in the encoder. */
	last = &cap->out[cap->last_idx];
	r = ensure_out_buffer(cap, cap->out_idx, last->format, last->width, last->height);
	if (r < 0)
		return r;
	dst = &cap->out[cap->out_idx];
	copy_frame(dst, last);
	dst->pts_ns = fp_now_ns();
	dst->seq = cap->out[cap->last_idx].seq;
	dst->repeated = 1;
	cap->last_idx = (int)cap->out_idx;
	cap->out_idx = (cap->out_idx + 1) % cap->out_len;
	cap->stats.frames_repeated++;
	cap->stats.frames_out++;
	*frame = dst;
	return 0;
}

/* Sleeps until the source signals, dies or talks, or timeout_ms passes. Nothing here can
 * block on the event: the source shares it and may clear O_NONBLOCK or take the count. */
static void wait_events(struct fp_capture *cap, int timeout_ms)
{
	struct pollfd p[3] = {
		{ .fd = cap->event_unusable ? -1 : cap->ring->event_fd, .events = POLLIN },
		{ .fd = fp_broker_pidfd(cap->broker), .events = POLLIN },
		{ .fd = fp_broker_sock(cap->broker), .events = POLLIN },
	};

	if (cap->event_unusable && timeout_ms > POLL_SLICE_MS)
		timeout_ms = POLL_SLICE_MS;
	if (poll(p, 3, timeout_ms) > 0 && p[0].revents && fp_event_consume(p[0].fd) == -EOPNOTSUPP) {
		fp_warn("capture: this kernel cannot read an eventfd without blocking (RWF_NOWAIT); "
			"polling for frames every %d ms instead", POLL_SLICE_MS);
		cap->event_unusable = 1;
	}
}

int fp_capture_try_latest(struct fp_capture *cap, const struct fp_yuv_frame **frame)
{
	int r = service(cap);

	return r < 0 ? r : try_consume(cap, frame);
}

static int no_frame_error(struct fp_capture *cap)
{
	uint32_t st, detail;

	read_source_status(cap, &st, &detail);
	return end_session(cap, -ETIMEDOUT,
			   "no frame from source pid %d within %lld ms (ring gen %u): source status "
			   "%s (%u), detail %u: %s. Statuses: 0 NOT_ATTACHED = never attached; 1 "
			   "OPENED = attached but nothing composed (idle display, or a mode the ring "
			   "cannot match); 2..%u = it refused the delivery (see the detail)",
			   (int)fp_broker_pid(cap->broker),
			   (long long)(cap->opts.no_frame_timeout_ns / FP_NSEC_PER_MSEC),
			   cap->ring->generation, fp_source_status_name(st), st, detail,
			   fp_source_status_meaning(st), (unsigned)FP_SRC_STATUS_MAX);
}

int fp_capture_next_frame(struct fp_capture *cap, int64_t deadline_ns,
			  const struct fp_yuv_frame **frame)
{
	for (;;) {
		int64_t now;
		int r = service(cap);

		if (r < 0)
			return r;
		r = try_consume(cap, frame);
		if (r != -EAGAIN)
			return r;
		now = fp_now_ns();
		if (now >= deadline_ns) {
			r = repeat_last(cap, frame);
			if (r != -EAGAIN)
				return r;
			if (now - cap->last_fresh > cap->opts.no_frame_timeout_ns)
				return no_frame_error(cap);
		}
		wait_events(cap, now >= deadline_ns ? WAIT_SLICE_MS
						    : (fp_ms_until(deadline_ns) < WAIT_SLICE_MS
							       ? fp_ms_until(deadline_ns) : WAIT_SLICE_MS));
	}
}

/* Open succeeds only once the source attached AND published a first frame: an attach
 * without frames is the "black screen" a user would otherwise see for 20 s. */
static int wait_for_attach(struct fp_capture *cap)
{
	int64_t start = fp_now_ns(), deadline = start + cap->opts.attach_timeout_ns;

	cap->next_kick = start + FIRST_KICK_NS;
	for (;;) {
		uint32_t st, detail;
		int64_t now;
		int r = service(cap);

		if (r < 0)
			return r;
		read_source_status(cap, &st, &detail);
		if (st == FP_SRC_OPENED &&
		    (cap->opts.lazy_attach ||
		     fp_token_unpack(fp_ring_latest(cap->ring)).generation == cap->ring->generation)) {
			uint32_t gen = cap->ring->generation;

			/* The source wrote its descriptor before OPENED: take it now, so the first
			 * frame's HDR10 record is the source's, not a guess a later poll corrects. */
			r = follow_descriptor(cap);
			if (r < 0)
				return r;
			if (cap->ring->generation == gen)
				return 0;
			continue; /* it changed mode meanwhile: wait for the new ring */
		}
		now = fp_now_ns();
		if (now >= deadline)
			return end_session(cap, -ETIMEDOUT,
					   "source pid %d published no frame within %lld ms despite %llu "
					   "kicks: status %s, detail %u: %s",
					   (int)fp_broker_pid(cap->broker),
					   (long long)(cap->opts.attach_timeout_ns / FP_NSEC_PER_MSEC),
					   (unsigned long long)cap->stats.kicks,
					   fp_source_status_name(st), detail,
					   fp_source_status_meaning(st));
		if (now >= cap->next_kick) {
			send_kick(cap);
			cap->next_kick = now + KICK_EVERY_NS;
		}
		wait_events(cap, WAIT_SLICE_MS);
	}
}

int fp_capture_hangup(struct fp_capture *cap, int timeout_ms, char *why, size_t len)
{
	struct pollfd p = { .fd = fp_broker_pidfd(cap->broker), .events = POLLIN };
	int r;

	snprintf(why, len, "still running");
	set_input_sock(cap, -1);
	/* The source exits on end-of-file on its socket; shutdown (not close) keeps the fd
	 * number the broker owns valid until it closes it. */
	if (shutdown(fp_broker_sock(cap->broker), SHUT_RDWR) < 0 && errno != ENOTCONN)
		return -errno;
	if (!cap->ended)
		end_session_quietly(cap, -EPIPE, "the host hung up on source pid %d",
				    (int)fp_broker_pid(cap->broker));
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r > 0 && fp_broker_source_exit(cap->broker, why, len) ? 1 : 0;
}

void fp_capture_close(struct fp_capture *cap)
{
	if (!cap)
		return;
	set_input_sock(cap, -1);
	free_out_ring(cap);
	fp_converter_destroy(cap->conv);
	fp_ring_destroy(cap->ring);
	fp_broker_destroy(cap->broker); /* hangs up: the source exits */
	pthread_mutex_destroy(&cap->input_lock);
	free(cap);
}

/* Starts the source (unless the caller gave one), validates its hello, delivers a ring at
 * its display's mode and waits, bounded, until it attached and published. At open and for
 * each restart. 0, or -errno with the session ended. */
static int start_source(struct fp_capture *cap)
{
	const char *backend = cap->opts.backend ? cap->opts.backend : "test";
	const struct fp_msg_hello *hello;
	int r = cap->broker ? 0 : fp_broker_create(&cap->broker, &cap->bo);

	/* The broker logged each of these with its detail; the session keeps what it means. */
	if (r == -ECHILD)
		return end_session_quietly(cap, r, "the %s source exited before connecting (its "
					   "own error is logged above)", backend);
	if (r == -ETIMEDOUT)
		return end_session_quietly(cap, r, "the %s source did not connect within %lld ms",
					   backend, (long long)((cap->opts.connect_timeout_ns
								 ? cap->opts.connect_timeout_ns
								 : FP_BROKER_CONNECT_TIMEOUT_NS) /
								FP_NSEC_PER_MSEC));
	if (r == -EPERM)
		return end_session_quietly(cap, r, "the process that connected is not the "
					   "framepush-source we started");
	if (r < 0)
		return end_session_quietly(cap, r, "cannot start the %s source %s: %s", backend,
					   cap->opts.source_exe, strerror(-r));
	hello = fp_broker_hello(cap->broker);
	if (fp_ring_desc_valid(hello->width, hello->height, hello->format) < 0)
		return end_session(cap, -EPROTO, "source pid %d reported an invalid display %ux%u "
				   "format %u", (int)fp_broker_pid(cap->broker), hello->width,
				   hello->height, hello->format);
	r = deliver_new_ring(cap, hello->width, hello->height, hello->format);
	return r < 0 ? r : wait_for_attach(cap);
}

/* The caller's options with every 0 replaced by its default, and the derived sizes. */
static void apply_defaults(struct fp_capture *cap, const struct fp_capture_opts *opts)
{
	cap->opts = *opts;
	if (!cap->opts.attach_timeout_ns)
		cap->opts.attach_timeout_ns = ATTACH_TIMEOUT_DEFAULT_NS;
	if (!cap->opts.recover_timeout_ns)
		cap->opts.recover_timeout_ns = RECOVER_TIMEOUT_DEFAULT_NS;
	if (!cap->opts.no_frame_timeout_ns)
		cap->opts.no_frame_timeout_ns = NO_FRAME_TIMEOUT_DEFAULT_NS;
	cap->target_id = opts->target_id ? opts->target_id : 1;
	cap->ring_len = opts->ring_len ? opts->ring_len : FP_RING_DEFAULT;
	cap->ring_len = cap->ring_len < FP_RING_MIN ? FP_RING_MIN
		      : cap->ring_len > FP_RING_MAX ? FP_RING_MAX : cap->ring_len;
	cap->depth = clamp_depth(opts->pipeline_depth);
	cap->out_len = cap->depth + 1;
	cap->last_idx = -1;
	cap->last_fresh = fp_now_ns();
}

/* The source's command line, kept in cap: a restart runs the same one. */
static void build_source_argv(struct fp_capture *cap)
{
	const struct fp_capture_opts *opts = &cap->opts;
	char **argv = cap->argv;
	size_t n = 0;

	snprintf(cap->arg_size, sizeof(cap->arg_size), "%ux%u",
		 opts->width ? opts->width : FP_MODE_DEFAULT_WIDTH,
		 opts->height ? opts->height : FP_MODE_DEFAULT_HEIGHT);
	snprintf(cap->arg_fps, sizeof(cap->arg_fps), "%u", opts->fps ? opts->fps : FP_MODE_DEFAULT_HZ);
	snprintf(cap->arg_target, sizeof(cap->arg_target), "%u", cap->target_id);
	argv[n++] = (char *)"--backend";
	argv[n++] = (char *)(opts->backend ? opts->backend : "test");
	argv[n++] = (char *)"--size";
	argv[n++] = cap->arg_size;
	argv[n++] = (char *)"--fps";
	argv[n++] = cap->arg_fps;
	argv[n++] = (char *)"--target-id";
	argv[n++] = cap->arg_target;
	if (opts->spec && *opts->spec) {
		argv[n++] = (char *)"--spec";
		argv[n++] = (char *)opts->spec;
	}
	if (opts->display) {
		argv[n++] = (char *)"--display";
		argv[n++] = (char *)opts->display;
	}
	argv[n] = NULL;
	cap->bo = (struct fp_broker_opts){ .source_exe = opts->source_exe, .spawn = 1,
					   .source_argv = argv, .drop = opts->source_drop,
					   .uid = opts->source_uid, .gid = opts->source_gid,
					   .connect_timeout_ns = opts->connect_timeout_ns };
}

/* The crop is the user's: refused before anything starts, with the rule it breaks. */
static int check_crop(struct fp_capture *cap)
{
	const struct fp_capture_opts *o = &cap->opts;
	const char *problem = fp_capture_crop_problem(o->crop_x, o->crop_y, o->crop_width,
						      o->crop_height);

	if (!problem)
		return 0;
	return end_session(cap, -EINVAL, "crop %u,%u,%u,%u (x,y,width,height) cannot be used: %s",
			   o->crop_x, o->crop_y, o->crop_width, o->crop_height, problem);
}

static void log_attached(const struct fp_capture *cap)
{
	const struct fp_ring *ring = cap->ring;
	const struct region *rg = &cap->region;
	char crop[96] = "";

	if (cap->opts.crop_width)
		snprintf(crop, sizeof(crop), "; capturing crop %u,%u,%u,%u", rg->x, rg->y, rg->w,
			 rg->h);
	fp_info("capture: source pid %d attached to ring gen %u (%ux%u %s, %u slots, pipeline "
		"depth %u)%s", (int)fp_broker_pid(cap->broker), ring->generation, ring->width,
		ring->height, fp_capture_is_hdr(cap) ? "HDR" : "SDR", cap->ring_len, cap->depth,
		crop);
}

static void set_why(char *why, size_t len, const char *text)
{
	if (why && len)
		snprintf(why, len, "%s", text);
}

/* broker: NULL to spawn the source, or one already connected that the capture takes over
 * (also when the open fails). */
static int capture_open(struct fp_capture **out, const struct fp_capture_opts *opts,
			struct fp_broker *broker, char *why, size_t why_len)
{
	struct fp_capture *cap;
	int r;

	*out = NULL;
	set_why(why, why_len, "");
	cap = calloc(1, sizeof(*cap));
	if (!cap) {
		fp_error("capture: out of memory for a capturer");
		set_why(why, why_len, strerror(ENOMEM));
		fp_broker_destroy(broker);
		return -ENOMEM;
	}
	cap->broker = broker;
	cap->adopted = broker != NULL;
	cap->input_sock = -1;
	pthread_mutex_init(&cap->input_lock, NULL);
	apply_defaults(cap, opts);
	build_source_argv(cap);
	r = check_crop(cap);
	if (r < 0)
		goto err_close_capture;
	r = fp_converter_create(&cap->conv, opts->convert_threads, FP_CPU_AUTO);
	if (r < 0) {
		end_session(cap, r, "cannot set up the converter (%u threads): %s",
			    opts->convert_threads, strerror(-r));
		goto err_close_capture;
	}
	r = start_source(cap);
	if (r < 0)
		goto err_close_capture;
	set_input_sock(cap, fp_broker_sock(cap->broker));
	log_attached(cap);
	*out = cap;
	return 0;

err_close_capture:
	set_why(why, why_len, cap->error[0] ? cap->error : strerror(-r));
	fp_capture_close(cap); /* also the source: it exits on the hang-up */
	return r;
}

int fp_capture_open(struct fp_capture **out, const struct fp_capture_opts *opts, char *why,
		    size_t why_len)
{
	return capture_open(out, opts, NULL, why, why_len);
}

int fp_capture_open_adopted(struct fp_capture **out, const struct fp_capture_opts *opts,
			    struct fp_broker *broker, char *why, size_t why_len)
{
	return capture_open(out, opts, broker, why, why_len);
}

void fp_capture_get_stats(const struct fp_capture *cap, struct fp_capture_stats *stats)
{
	*stats = cap->stats;
	stats->source_published = cap->ring->status->frames_published;
	stats->source_dropped = cap->ring->status->frames_dropped;
	stats->source_published_total = add_sat(cap->published_before, stats->source_published);
	stats->source_dropped_total = add_sat(cap->dropped_before, stats->source_dropped);
	read_source_status(cap, &stats->source_status, &stats->source_detail);
}
