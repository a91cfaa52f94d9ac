/* framepush — the host's side of the channel: the sealed ring it owns and delivers.
 *
 * A ring is one generation of shared objects: control block, status block, frame-ready
 * eventfd and ring_len pixel slots, all unnamed memfds sealed against resize. The host
 * keeps read/write maps of control and status and read-only maps of the slots. */
#ifndef FP_CHANNEL_RING_H
#define FP_CHANNEL_RING_H

#include <stdint.h>

#include "framepush/proto.h"

struct fp_ring {
	uint32_t generation;
	uint32_t target_id;
	uint32_t ring_len;
	uint32_t width, height, format, stride;
	uint64_t slot_size;
	int control_fd, status_fd, event_fd;
	int slot_fd[FP_RING_MAX];
	struct fp_control *control;
	struct fp_status *status;
	const uint8_t *slot[FP_RING_MAX];
};

/* A process-wide generation counter: every ring gets a new one, never 0. */
uint32_t fp_ring_next_generation(void);

/* Validates a display descriptor against the contract's bounds. 0 or -EINVAL. */
int fp_ring_desc_valid(uint32_t width, uint32_t height, uint32_t format);

/* Creates every shared object, initialises the control block, stores magic LAST with
 * release ordering, then seals the control block F_SEAL_FUTURE_WRITE: ring->control stays
 * writable for the host, but no fd of it can be mapped writable again, by anyone. Returns 0
 * or -errno; on failure nothing stays allocated or open. */
int fp_ring_create(struct fp_ring **out, uint32_t generation, uint32_t target_id,
		   uint32_t ring_len, uint32_t width, uint32_t height, uint32_t format);
void fp_ring_destroy(struct fp_ring *ring);

/* Sends the ring to the source on `sock` in one FP_MSG_CHANNEL packet: the control block as
 * a fresh read-only fd, the rest read/write. All or nothing; the read-only fd opened for the
 * send is closed on every path, so the host's fd count is unchanged whatever happens. */
int fp_ring_deliver(const struct fp_ring *ring, int sock);

/* Slot ownership (host side). Acquire takes slot `i` FREE -> HOST, waiting on the futex up to
 * timeout_ns while the source writes it. Returns 0, -EBUSY on timeout or a word the host does
 * not understand (a hostile source), -EINVAL for a bad index. */
int fp_ring_slot_acquire(struct fp_ring *ring, uint32_t i, int64_t timeout_ns);
/* Takes a slot whatever its word says: only for a source that is known dead. */
void fp_ring_slot_take_abandoned(struct fp_ring *ring, uint32_t i);
void fp_ring_slot_release(struct fp_ring *ring, uint32_t i);

/* The latest publish token (acquire ordering). */
uint64_t fp_ring_latest(const struct fp_ring *ring);

#endif
