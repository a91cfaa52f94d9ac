#include "channel/ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel/atomic.h"
#include "futex.h"
#include "channel/msg.h"
#include "shm.h"
#include "common/log.h"
#include "common/util.h"

static _Atomic uint32_t next_generation = 1;

uint32_t fp_ring_next_generation(void)
{
	uint32_t g = atomic_fetch_add(&next_generation, 1) & FP_GEN_MAX;

	/* 0 is the "nothing published" sentinel; after 2^24 rings skip it. */
	return g ? g : (atomic_fetch_add(&next_generation, 1) & FP_GEN_MAX);
}

int fp_ring_desc_valid(uint32_t width, uint32_t height, uint32_t format)
{
	if (width < FP_WIDTH_MIN || width > FP_WIDTH_MAX || height < FP_HEIGHT_MIN ||
	    height > FP_HEIGHT_MAX || fp_pixfmt_bpp(format) == 0)
		return -EINVAL;
	return 0;
}

void fp_ring_destroy(struct fp_ring *ring)
{
	if (!ring)
		return;
	for (uint32_t i = 0; i < FP_RING_MAX; i++) {
		fp_shm_unmap((void *)ring->slot[i], ring->slot_size);
		fp_close(&ring->slot_fd[i]);
	}
	fp_shm_unmap(ring->control, sizeof(*ring->control));
	fp_shm_unmap(ring->status, sizeof(*ring->status));
	fp_close(&ring->control_fd);
	fp_close(&ring->status_fd);
	fp_close(&ring->event_fd);
	free(ring);
}

/* The shared objects of a ring: control and status blocks, event, one memfd per slot, each
 * mapped by the host. 0 or -errno (logged); fp_ring_destroy frees what was made. */
static int create_objects(struct fp_ring *ring)
{
	int r;

	/* Seal set left open: FUTURE_WRITE goes on once the host has written it (below). */
	r = fp_shm_create_open("control", sizeof(struct fp_control));
	if (r < 0)
		return r;
	ring->control_fd = r;
	r = fp_shm_create("status", sizeof(struct fp_status));
	if (r < 0)
		return r;
	ring->status_fd = r;
	ring->control = fp_shm_map(ring->control_fd, sizeof(struct fp_control), PROT_READ | PROT_WRITE);
	ring->status = fp_shm_map(ring->status_fd, sizeof(struct fp_status), PROT_READ | PROT_WRITE);
	if (!ring->control || !ring->status) {
		r = -errno;
		fp_error("ring gen %u: mapping control/status failed: %s", ring->generation,
			 strerror(-r));
		return r;
	}
	ring->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ring->event_fd < 0) {
		r = -errno;
		fp_error("ring gen %u: eventfd failed: %s", ring->generation, strerror(-r));
		return r;
	}
	for (uint32_t i = 0; i < ring->ring_len; i++) {
		char what[32];

		snprintf(what, sizeof(what), "slot%u", i);
		r = fp_shm_create(what, ring->slot_size);
		if (r < 0)
			return r;
		ring->slot_fd[i] = r;
		ring->slot[i] = fp_shm_map(r, ring->slot_size, PROT_READ);
		if (!ring->slot[i]) {
			r = -errno;
			fp_error("ring gen %u: mapping slot %u (%llu bytes) failed: %s",
				 ring->generation, i, (unsigned long long)ring->slot_size, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Writes the control block, magic last, and seals it read-only for every later fd. */
static int write_control(struct fp_ring *ring)
{
	ring->control->version = FP_PROTO_VERSION;
	ring->control->generation = ring->generation;
	ring->control->target_id = ring->target_id;
	ring->control->ring_len = ring->ring_len;
	ring->control->width = ring->width;
	ring->control->height = ring->height;
	ring->control->format = ring->format;
	ring->control->stride = ring->stride;
	ring->control->slot_size = ring->slot_size;
	/* Magic last: a reader that sees it sees every field above. */
	atomic_store_explicit(ATOMIC_U32(&ring->control->magic), FP_PROTO_MAGIC, memory_order_release);
	/* Before any fd of it exists outside: from here no fd of the control block, whatever
	 * its open mode, yields a writable mapping or a write(). The host's own mapping above
	 * stays writable (a seal does not revoke existing mappings). */
	return fp_shm_seal_readonly(ring->control_fd, "control");
}

int fp_ring_create(struct fp_ring **out, uint32_t generation, uint32_t target_id,
		   uint32_t ring_len, uint32_t width, uint32_t height, uint32_t format)
{
	struct fp_ring *ring;
	int r;

	*out = NULL;
	if (generation == 0 || generation > FP_GEN_MAX || ring_len < FP_RING_MIN ||
	    ring_len > FP_RING_MAX || fp_ring_desc_valid(width, height, format) < 0) {
		fp_error("ring: refusing to create gen %u len %u %ux%u format %u", generation,
			 ring_len, width, height, format);
		return -EINVAL;
	}
	ring = calloc(1, sizeof(*ring));
	if (!ring) {
		fp_error("ring gen %u: out of memory", generation);
		return -ENOMEM;
	}
	ring->control_fd = ring->status_fd = ring->event_fd = -1;
	for (uint32_t i = 0; i < FP_RING_MAX; i++)
		ring->slot_fd[i] = -1;
	ring->generation = generation;
	ring->target_id = target_id;
	ring->ring_len = ring_len;
	ring->width = width;
	ring->height = height;
	ring->format = format;
	/* 64-byte rows keep every row start cache-line and vector aligned for the converters. */
	ring->stride = (width * fp_pixfmt_bpp(format) + 63u) & ~63u;
	ring->slot_size = (uint64_t)ring->stride * height;

	r = create_objects(ring);
	if (r == 0)
		r = write_control(ring);
	if (r < 0) {
		fp_ring_destroy(ring);
		return r;
	}
	*out = ring;
	return 0;
}

int fp_ring_deliver(const struct fp_ring *ring, int sock)
{
	struct fp_msg_channel m = {
		.hdr = { .type = FP_MSG_CHANNEL, .version = FP_PROTO_VERSION },
		.generation = ring->generation,
		.target_id = ring->target_id,
		.ring_len = ring->ring_len,
		.width = ring->width,
		.height = ring->height,
		.format = ring->format,
		.stride = ring->stride,
		.slot_size = ring->slot_size,
		.control_size = sizeof(struct fp_control),
		.status_size = sizeof(struct fp_status),
	};
	int fds[FP_CHANNEL_MAX_FDS];
	int ro, r;

	/* Least privilege: the source can map the control block only read-only. */
	ro = fp_shm_reopen_readonly(ring->control_fd);
	if (ro < 0)
		return ro;
	fds[FP_CHANNEL_FD_CONTROL] = ro;
	fds[FP_CHANNEL_FD_STATUS] = ring->status_fd;
	fds[FP_CHANNEL_FD_EVENT] = ring->event_fd;
	for (uint32_t i = 0; i < ring->ring_len; i++)
		fds[FP_CHANNEL_FD_SLOT0 + i] = ring->slot_fd[i];
	r = fp_msg_send(sock, &m, sizeof(m), fds, FP_CHANNEL_FD_SLOT0 + ring->ring_len);
	close(ro);
	if (r < 0)
		fp_error("ring gen %u: delivery on socket %d failed: %s", ring->generation, sock,
			 strerror(-r));
	return r;
}

int fp_ring_slot_acquire(struct fp_ring *ring, uint32_t i, int64_t timeout_ns)
{
	_Atomic uint32_t *w;
	int64_t deadline = fp_now_ns() + timeout_ns;

	if (i >= ring->ring_len)
		return -EINVAL;
	w = ATOMIC_U32(&ring->status->slot_owner[i]);
	for (;;) {
		uint32_t v = FP_SLOT_FREE;
		int64_t left;

		if (atomic_compare_exchange_strong_explicit(w, &v, FP_SLOT_HOST, memory_order_acquire,
							    memory_order_relaxed))
			return 0;
		/* Only a writing source is worth waiting for; any other value is not ours to
		 * interpret (the host may hold it already, or a hostile source wrote garbage). */
		if ((v & ~FP_SLOT_WAITERS) != FP_SLOT_SOURCE)
			return -EBUSY;
		left = deadline - fp_now_ns();
		if (left <= 0)
			return -EBUSY;
		if (!(v & FP_SLOT_WAITERS)) {
			uint32_t want = v | FP_SLOT_WAITERS;

			if (!atomic_compare_exchange_strong_explicit(w, &v, want, memory_order_relaxed,
								     memory_order_relaxed))
				continue;
			v = want;
		}
		fp_futex_wait((uint32_t *)(void *)w, v, left);
	}
}

void fp_ring_slot_take_abandoned(struct fp_ring *ring, uint32_t i)
{
	if (i < ring->ring_len)
		atomic_store(ATOMIC_U32(&ring->status->slot_owner[i]), FP_SLOT_HOST);
}

void fp_ring_slot_release(struct fp_ring *ring, uint32_t i)
{
	uint32_t v = FP_SLOT_HOST;

	if (i >= ring->ring_len)
		return;
	/* A failed exchange means the source scribbled the word; leave it, never block on it. */
	atomic_compare_exchange_strong_explicit(ATOMIC_U32(&ring->status->slot_owner[i]), &v,
						FP_SLOT_FREE, memory_order_release, memory_order_relaxed);
}

uint64_t fp_ring_latest(const struct fp_ring *ring)
{
	return atomic_load_explicit(ATOMIC_U64(&ring->status->latest), memory_order_acquire);
}
