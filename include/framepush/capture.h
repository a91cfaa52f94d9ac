/* framepush — the host capturer: frames from a source, converted, at the rate asked for.
 *
 * It owns the ring and the source process. Open waits (bounded) until the source attached
 * and published; next-frame hands out the newest frame, or repeats the last one into a
 * fresh output buffer so the encoder gets a constant-rate stream; a display change
 * recreates the ring with a new generation and never lets an old-generation publish
 * through; a source that dies or stops recovering ends the session with a clear error.
 *
 * Output frames live in a ring of pipeline_depth + 1 buffers: a frame handed out stays
 * untouched (and allocated, across a display change too) until pipeline_depth more frames
 * have been handed out.
 *
 * What is handed out is a rectangle of each slot: the crop when one is asked for, else the
 * whole display at the even size below its own (an odd last column or row is dropped, as an
 * encoder takes even sizes only). */
#ifndef FRAMEPUSH_CAPTURE_H
#define FRAMEPUSH_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framepush/frame.h"
#include "framepush/input.h"
#include "framepush/pixel.h"
#include "framepush/proto.h"

struct fp_capture;

/* The smallest width and height a frame is handed out with: what an encoder takes. A crop
 * narrower or shorter is refused at open; a display smaller (without a crop) ends the
 * session as soon as it is reported. */
#define FP_CAPTURE_SIZE_MIN 16u

struct fp_capture_opts {
	const char *source_exe;   /* framepush-source binary (also what the peer must run) */
	const char *backend;      /* "test" */
	const char *spec;         /* backend options */
	const char *display;      /* backend display name, may be NULL */
	uint32_t width, height, fps;
	uint32_t target_id;       /* 0: 1 */
	uint32_t ring_len;        /* 0: FP_RING_DEFAULT */
	unsigned pipeline_depth;  /* 0: $FRAMEPUSH_PIPELINE_DEPTH or 2; clamped to 1..3 */
	unsigned convert_threads; /* 0: one per CPU */
	int verify_signatures;    /* test source: reject frames whose signature fails */
	int64_t connect_timeout_ns;  /* 0: 5 s, for the source to start and say hello */
	int64_t attach_timeout_ns;   /* 0: 4 s */
	int64_t recover_timeout_ns;  /* 0: 3 s */
	int64_t no_frame_timeout_ns; /* 0: 20 s */
	int lazy_attach;          /* open once the source attached, without waiting for a frame */
	unsigned max_source_restarts; /* a source that dies is started again, up to this many
	                               * times per session (0: its death ends the session) */
	/* Run the source as this account (fp_display_identity): root never runs it in a
	 * display that another account owns. */
	int source_drop;
	uid_t source_uid;
	gid_t source_gid;
	/* Region capture: only this rectangle of the display is converted and handed out
	 * (crop_width 0: the whole display, and then the other three must be 0 too). Width
	 * and height even and >= FP_CAPTURE_SIZE_MIN, x + width <= FP_WIDTH_MAX, y + height <=
	 * FP_HEIGHT_MAX (fp_capture_crop_problem); fitting the display is checked when the
	 * source reports it, at open and at every display change: a display it does not fit
	 * ends the session. */
	uint32_t crop_x, crop_y, crop_width, crop_height;
};

struct fp_capture_stats {
	uint64_t frames_out, frames_fresh, frames_repeated;
	uint64_t stale_rejected, busy_skipped, recreates, signature_failures, kicks;
	uint64_t abandoned_slots;
	uint64_t junk_messages;   /* socket messages the protocol does not allow (ended past 64) */
	uint64_t source_restarts; /* sources started again after dying (max_source_restarts) */
	/* As the source reports them (untrusted, for display only). source_published and
	 * source_dropped are the current ring's; the _total ones add every earlier ring's count,
	 * as it stood when that ring was replaced, so they cover the whole session (what a
	 * frames-dropped figure must be computed from). */
	uint64_t source_published, source_dropped;
	uint64_t source_published_total, source_dropped_total;
	uint32_t source_status, source_detail;
};

/* Why a crop rectangle cannot be used whatever the display (a sentence without the values),
 * or NULL when it can: the checks fp_capture_open makes on opts' crop_* fields, for a
 * command line to refuse the same rectangles before it starts anything. */
const char *fp_capture_crop_problem(uint32_t x, uint32_t y, uint32_t width, uint32_t height);

/* Starts the source and waits (bounded) until it attached and published. Returns 0 and
 * *out, or -errno with *out NULL; then why (when not NULL) holds the reason as a sentence
 * for the user, also logged. -EINVAL: the crop is refused (fp_capture_crop_problem), before
 * anything starts; -ERANGE: the crop does not fit the source's display, or the display is
 * smaller than FP_CAPTURE_SIZE_MIN (next-frame ends with -ERANGE, too, when a display
 * change brings either). */
int fp_capture_open(struct fp_capture **out, const struct fp_capture_opts *opts, char *why,
		    size_t why_len);
void fp_capture_close(struct fp_capture *cap);
/* Hangs up on the source and waits up to timeout_ms for it to exit, before a close: fills
 * why with how it ended ("exited with status 0", "was killed by signal 9 (Killed)"). Returns
 * 1 once it has exited, 0 while it still runs (close then insists), or -errno. Next-frame
 * fails after it. */
int fp_capture_hangup(struct fp_capture *cap, int timeout_ms, char *why, size_t len);

/* The next frame for the encoder: the newest fresh frame that arrives before deadline_ns,
 * else a repeat of the last one at deadline_ns. Returns 0 and *frame, or a negative error
 * (source died, recovery failed, no frame within the no-frame timeout); the message is in
 * fp_capture_error(). */
int fp_capture_next_frame(struct fp_capture *cap, int64_t deadline_ns,
			  const struct fp_yuv_frame **frame);

int fp_capture_is_hdr(const struct fp_capture *cap);
/* The size of the frames next-frame hands out, until a display change: the crop's, else
 * the current display's rounded down to even. */
void fp_capture_size(const struct fp_capture *cap, uint32_t *width, uint32_t *height);
/* The HDR10 metadata for the current display: 1 and *meta while it is HDR, 0 and a zeroed
 * *meta while it is SDR. *meta is the record the source reported with its descriptor
 * (fp_source_set_hdr_meta) once validated, else the generic baseline fp_hdr10_generic (no
 * record, or an invalid one: logged once). It is taken with each new descriptor, so it
 * changes with the display, like fp_capture_is_hdr. */
int fp_capture_hdr_meta(const struct fp_capture *cap, struct fp_hdr10 *meta);
unsigned fp_capture_pipeline_depth(const struct fp_capture *cap);
void fp_capture_get_stats(const struct fp_capture *cap, struct fp_capture_stats *stats);
/* Why the session ended ("" while it runs): the reason next-frame's error stands for. */
const char *fp_capture_error(const struct fp_capture *cap);
pid_t fp_capture_source_pid(const struct fp_capture *cap);
uint32_t fp_capture_generation(const struct fp_capture *cap);

/* Asks the source to compose a frame now. */
int fp_capture_kick(struct fp_capture *cap);

/* Forwards one viewer input event to the source, which injects it into the display
 * (FP_MSG_INPUT). Safe from any thread while the capture runs on another, also while a dead
 * source is being replaced (a mutex guards the socket; it is held for one non-blocking send),
 * until fp_capture_close starts. Never blocks: 0 when the event was queued to the source,
 * -EINVAL when fp_input_event_valid() refuses it (nothing is sent), -EAGAIN when the
 * source's socket is full (the event is dropped: the caller counts it refused), -ENOTCONN
 * when no source is attached (starting, restarting, hung up), or another -errno. */
int fp_capture_send_input(struct fp_capture *cap, const struct fp_input_event *ev);

#endif
