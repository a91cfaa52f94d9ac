/* framepush — the source library: the producer's end of the frame channel.
 *
 * A source connects to the host's socket, says hello with its display descriptor, accepts
 * ring deliveries (validating all of each before using it), and publishes frames:
 *
 *   fp_source_acquire()  take a free slot through its ownership word
 *   ...write pixels into fp_source_ring()->slot[i]...
 *   fp_source_publish()  release the slot, stamp the capture time, store the token
 *                        (release ordering), signal the host's eventfd
 *
 * A delivery with a new generation detaches the old ring first. */
#ifndef FRAMEPUSH_SOURCE_H
#define FRAMEPUSH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "framepush/input.h"
#include "framepush/proto.h"

struct fp_source;

/* The ring the source is attached to, as backends see it. */
struct fp_source_ring {
	uint32_t generation, ring_len;
	uint32_t width, height, format, stride;
	uint64_t slot_size;
	int status_fd, event_fd;
	const int *slot_fd;      /* ring_len memfds (e.g. for MIT-SHM fd attach) */
	uint8_t *const *slot;    /* ring_len writable mappings */
};

enum fp_source_event_type {
	FP_SOURCE_EV_NONE = 0,
	FP_SOURCE_EV_ATTACHED,  /* a new ring is in use (old one detached) */
	FP_SOURCE_EV_REJECTED,  /* a delivery was refused; status/detail say why */
	FP_SOURCE_EV_KICK,      /* the host asks for a frame now */
	FP_SOURCE_EV_HANGUP,    /* the host went away: exit cleanly */
	FP_SOURCE_EV_REFUSED,   /* the host refused this process (peer verification) */
	FP_SOURCE_EV_INPUT,     /* a viewer's input event, validated: inject it */
};

struct fp_source_event {
	enum fp_source_event_type type;
	uint32_t status, detail; /* REJECTED */
	struct fp_input_event input; /* INPUT: fp_input_event_valid() holds */
};

/* Connects to the host's socket at path and sends HELLO with the display's descriptor.
 * Returns 0 or -errno. */
int fp_source_connect(struct fp_source **out, const char *socket_path, uint32_t target_id,
		      const char *backend, uint32_t width, uint32_t height, uint32_t format);
/* Same, on an already-connected socket (ownership of sock passes to the source). */
int fp_source_open_fd(struct fp_source **out, int sock, uint32_t target_id, const char *backend,
		      uint32_t width, uint32_t height, uint32_t format);
void fp_source_destroy(struct fp_source *src);

/* The socket fd to poll for input. */
int fp_source_fd(const struct fp_source *src);

/* Reads and handles one message (waiting up to timeout_ms). -EAGAIN when none came. */
int fp_source_dispatch(struct fp_source *src, int timeout_ms, struct fp_source_event *ev);

/* Decodes one FP_MSG_INPUT packet of len bytes (the host's, so untrusted): copied out once,
 * taken only at exactly sizeof(struct fp_msg_input), this protocol version, reserved0 == 0
 * and fp_input_event_valid(). 0 and *ev, or -EBADMSG (size, version, reserved) or -EINVAL
 * (an event the display may not receive). fp_source_dispatch uses it; exposed for tests and
 * the fuzzer. */
int fp_source_decode_input(const void *buf, size_t len, struct fp_input_event *ev);

/* FP_MSG_INPUT packets dispatch dropped as malformed or invalid (logged rate-limited). */
uint64_t fp_source_input_dropped(const struct fp_source *src);

/* The attached ring, or NULL. Valid until the next dispatch. */
const struct fp_source_ring *fp_source_ring(const struct fp_source *src);

/* Tells the host the display changed (it recreates the ring). */
void fp_source_set_descriptor(struct fp_source *src, uint32_t width, uint32_t height,
			      uint32_t format);

/* Reports the display's HDR10 metadata (NULL: none; the host then uses its generic
 * baseline). It is part of the descriptor: written with it, before a new serial, into the
 * ring attached now and every later one, and kept across fp_source_set_descriptor (it
 * describes the display; the host uses it only while the display is HDR). meta is copied as
 * given, present word included (FP_HDR_META_PRESENT for a real record): the host validates
 * it and falls back to the baseline, so a wrong record never ends a session. Call it before
 * the first publish of a mode so the first frames are encoded with it. */
void fp_source_set_hdr_meta(struct fp_source *src, const struct fp_hdr_meta *meta);

/* Takes a free slot (never the latest published one, never one the host holds).
 * Returns the slot index, -ENOTCONN when no ring is attached, -EBUSY when none is free. */
int fp_source_acquire(struct fp_source *src);
/* Gives a slot back without publishing (its contents are not to be read). */
void fp_source_abort(struct fp_source *src, int slot);
/* Publishes `slot`, written as width x height x format. The format guard drops a frame that
 * does not match the ring (returns -EXDEV, counted in frames_dropped). 0 on success. Never
 * blocks on the eventfd: a full counter skips the signal, and a write the host managed to
 * block is cut short after FP_EVENT_GUARD_MS (warned about once per source). */
int fp_source_publish(struct fp_source *src, int slot, uint32_t width, uint32_t height,
		      uint32_t format, int64_t capture_ns);

/* The sequence number the next publish will carry (1-based; test signatures use it). */
uint32_t fp_source_next_seq(const struct fp_source *src);

/* Test hook: the raw status block of the attached ring (NULL when detached). */
struct fp_status *fp_source_status_block(struct fp_source *src);

#endif
