/* framepush — the source's validation of a delivery, before it touches a byte of it. */
#ifndef FP_CHANNEL_ATTACH_H
#define FP_CHANNEL_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "framepush/proto.h"

/* A ring as the source sees it after a successful attach. */
struct fp_attachment {
	uint32_t generation, target_id, ring_len;
	uint32_t width, height, format, stride;
	uint64_t slot_size;
	int control_fd, status_fd, event_fd;
	int slot_fd[FP_RING_MAX];
	const struct fp_control *control; /* read-only mapping */
	struct fp_status *status;
	uint8_t *slot[FP_RING_MAX];
};

/* Validates a FP_MSG_CHANNEL packet (msg, len bytes) and its fds, then maps it.
 * Checks, in order: message size/type/version, ring length, fd count, geometry, every fd's
 * size against fstat and its seals, the control fd's F_SEAL_FUTURE_WRITE, the event fd being
 * an eventfd (then sets it O_NONBLOCK), then maps and runs the attach check on the control
 * block.
 * On success takes ownership of the fds into *att and returns FP_SRC_OPENED. Otherwise
 * returns the specific status, sets *detail, and closes every fd (nothing stays open). */
uint32_t fp_attach(const void *msg, size_t len, int *fds, size_t nfds, uint32_t target_id,
		   struct fp_attachment *att, uint32_t *detail);

/* Unmaps and closes everything; accepts an attachment that never attached. */
void fp_attachment_release(struct fp_attachment *att);

#endif
