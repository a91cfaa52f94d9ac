#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel/atomic.h"
#include "channel/msg.h"
#include "shm.h"
#include "common/util.h"

static void attachment_init(struct fp_attachment *att)
{
	memset(att, 0, sizeof(*att));
	att->control_fd = att->status_fd = att->event_fd = -1;
	for (uint32_t i = 0; i < FP_RING_MAX; i++)
		att->slot_fd[i] = -1;
}

void fp_attachment_release(struct fp_attachment *att)
{
	if (!att)
		return;
	for (uint32_t i = 0; i < FP_RING_MAX; i++) {
		fp_shm_unmap(att->slot[i], att->slot_size);
		fp_close(&att->slot_fd[i]);
	}
	fp_shm_unmap((void *)att->control, sizeof(struct fp_control));
	fp_shm_unmap(att->status, sizeof(struct fp_status));
	fp_close(&att->control_fd);
	fp_close(&att->status_fd);
	fp_close(&att->event_fd);
	attachment_init(att);
}

/* A refusal: the status, with *detail saying which value was wrong (proto.h). */
static uint32_t refuse(uint32_t *detail, uint32_t status, uint32_t d)
{
	*detail = d;
	return status;
}

/* The frame-ready fd must be an eventfd, and non-blocking: a pipe or a blocking fd would let a
 * host wedge the source forever in the write() after each publish. Returns 0, 1 when the fd
 * is something else, or -errno. */
static int event_check(int fd)
{
	static const char want[] = "anon_inode:[eventfd]";
	char path[64], link[sizeof(want) + 1];
	ssize_t n;
	int fl;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(want) - 1 || memcmp(link, want, sizeof(want) - 1) != 0)
		return 1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -errno;
	return 0;
}

/* The message alone, copied once into *m (every later check reads the copy): size, type,
 * version, ring length, fd count, geometry. FP_SRC_OPENED when it is well-formed. */
static uint32_t check_message(const void *msg, size_t len, size_t nfds, struct fp_msg_channel *m,
			      uint32_t *detail)
{
	uint64_t row;
	uint32_t bpp;

	if (len != sizeof(*m))
		return refuse(detail, FP_SRC_BAD_MESSAGE, (uint32_t)len);
	memcpy(m, msg, sizeof(*m));
	if (m->hdr.type != FP_MSG_CHANNEL)
		return refuse(detail, FP_SRC_BAD_MESSAGE, m->hdr.type);
	if (m->hdr.version != FP_PROTO_VERSION)
		return refuse(detail, FP_SRC_BAD_VERSION, m->hdr.version);
	if (m->ring_len < FP_RING_MIN || m->ring_len > FP_RING_MAX)
		return refuse(detail, FP_SRC_BAD_RING, m->ring_len);
	if (nfds != FP_CHANNEL_FD_SLOT0 + (size_t)m->ring_len)
		return refuse(detail, FP_SRC_BAD_MESSAGE, (uint32_t)nfds);
	bpp = fp_pixfmt_bpp(m->format);
	if (bpp == 0)
		return refuse(detail, FP_SRC_BAD_FORMAT, FP_BAD_FORMAT_PIXFMT);
	if (m->width < FP_WIDTH_MIN || m->width > FP_WIDTH_MAX || m->height < FP_HEIGHT_MIN ||
	    m->height > FP_HEIGHT_MAX)
		return refuse(detail, FP_SRC_BAD_FORMAT, FP_BAD_FORMAT_SIZE);
	row = (uint64_t)m->width * bpp;
	if (m->stride < row || m->stride % 4 || m->slot_size != (uint64_t)m->stride * m->height)
		return refuse(detail, FP_SRC_BAD_FORMAT, FP_BAD_FORMAT_STRIDE);
	if (m->control_size != sizeof(struct fp_control) || m->status_size != sizeof(struct fp_status))
		return refuse(detail, FP_SRC_BAD_MESSAGE, FP_BAD_MESSAGE_BLOCK_SIZE);
	return FP_SRC_OPENED;
}

/* Every fd before it is mapped: sizes and seals (a short or unsealed memfd could SIGBUS us
 * later), the control block's F_SEAL_FUTURE_WRITE, the event fd being an eventfd. */
static uint32_t check_fds(const struct fp_msg_channel *m, const int *fds, size_t nfds,
			  uint32_t *detail)
{
	int r, seals;

	for (size_t i = 0; i < nfds; i++) {
		uint64_t want = i == FP_CHANNEL_FD_CONTROL ? m->control_size
			      : i == FP_CHANNEL_FD_STATUS  ? m->status_size
							   : m->slot_size;

		if (i == FP_CHANNEL_FD_EVENT)
			continue;
		r = fp_shm_check(fds[i], want);
		if (r == -EFBIG)
			return refuse(detail, FP_SRC_BAD_SIZE, (uint32_t)i);
		if (r < 0)
			return refuse(detail, FP_SRC_NO_SEALS, (uint32_t)i);
	}
	/* A read-only fd alone does not keep us from writing the host's control block: it can
	 * be reopened O_RDWR through /proc. Only F_SEAL_FUTURE_WRITE makes it read-only for
	 * every fd; a host that skipped it broke the contract, so refuse to run on it. */
	seals = fp_shm_seals(fds[FP_CHANNEL_FD_CONTROL]);
	if (seals < 0 || !(seals & F_SEAL_FUTURE_WRITE))
		return refuse(detail, FP_SRC_CONTROL_WRITABLE, seals < 0 ? 0 : (uint32_t)seals);
	r = event_check(fds[FP_CHANNEL_FD_EVENT]);
	if (r != 0)
		return refuse(detail, FP_SRC_BAD_EVENT, r > 0 ? 0 : (uint32_t)-r);
	return FP_SRC_OPENED;
}

/* Moves the checked geometry and every fd into att: from here releasing att closes them. */
static void take_fds(struct fp_attachment *att, const struct fp_msg_channel *m, int *fds)
{
	att->generation = m->generation;
	att->target_id = m->target_id;
	att->ring_len = m->ring_len;
	att->width = m->width;
	att->height = m->height;
	att->format = m->format;
	att->stride = m->stride;
	att->slot_size = m->slot_size;
	att->control_fd = fp_take_fd(&fds[FP_CHANNEL_FD_CONTROL]);
	att->status_fd = fp_take_fd(&fds[FP_CHANNEL_FD_STATUS]);
	att->event_fd = fp_take_fd(&fds[FP_CHANNEL_FD_EVENT]);
	for (uint32_t i = 0; i < m->ring_len; i++)
		att->slot_fd[i] = fp_take_fd(&fds[FP_CHANNEL_FD_SLOT0 + i]);
}

static uint32_t map_ring(struct fp_attachment *att, uint32_t *detail)
{
	att->control = fp_shm_map(att->control_fd, sizeof(struct fp_control), PROT_READ);
	att->status = fp_shm_map(att->status_fd, sizeof(struct fp_status), PROT_READ | PROT_WRITE);
	if (!att->control || !att->status)
		return refuse(detail, FP_SRC_MAP_FAILED, (uint32_t)errno);
	for (uint32_t i = 0; i < att->ring_len; i++) {
		att->slot[i] = fp_shm_map(att->slot_fd[i], att->slot_size, PROT_READ | PROT_WRITE);
		if (!att->slot[i])
			return refuse(detail, FP_SRC_MAP_FAILED, (uint32_t)errno);
	}
	return FP_SRC_OPENED;
}

/* The control block the host wrote must be this protocol's, this delivery's, for this
 * display, and of the geometry the message claimed. */
static uint32_t check_control(const struct fp_attachment *att, const struct fp_msg_channel *m,
			      uint32_t target_id, uint32_t *detail)
{
	const struct fp_control *c = att->control;
	uint32_t magic = atomic_load_explicit(ATOMIC_CONST_U32(&c->magic), memory_order_acquire);
	uint32_t gen = atomic_load_explicit(ATOMIC_CONST_U32(&c->generation), memory_order_acquire);

	if (magic != FP_PROTO_MAGIC)
		return refuse(detail, FP_SRC_BAD_MAGIC, magic);
	if (c->version != FP_PROTO_VERSION)
		return refuse(detail, FP_SRC_BAD_VERSION, c->version);
	switch (fp_attach_check(magic, gen, c->target_id, m->generation, target_id)) {
	case FP_ATTACH_OK:
		break;
	case FP_ATTACH_STALE:
		return refuse(detail, FP_SRC_STALE, gen);
	case FP_ATTACH_BIND_MISMATCH:
		return refuse(detail, FP_SRC_BIND_MISMATCH, c->target_id);
	}
	if (c->ring_len != m->ring_len || c->width != m->width || c->height != m->height ||
	    c->format != m->format || c->stride != m->stride || c->slot_size != m->slot_size)
		return refuse(detail, FP_SRC_BAD_FORMAT, FP_BAD_FORMAT_CONTROL);
	return FP_SRC_OPENED;
}

uint32_t fp_attach(const void *msg, size_t len, int *fds, size_t nfds, uint32_t target_id,
		   struct fp_attachment *att, uint32_t *detail)
{
	struct fp_msg_channel m;
	uint32_t st;

	attachment_init(att);
	*detail = 0;
	st = check_message(msg, len, nfds, &m, detail);
	if (st == FP_SRC_OPENED)
		st = check_fds(&m, fds, nfds, detail);
	if (st != FP_SRC_OPENED) {
		fp_msg_close_fds(fds, nfds);
		return st;
	}
	take_fds(att, &m, fds);
	st = map_ring(att, detail);
	if (st == FP_SRC_OPENED)
		st = check_control(att, &m, target_id, detail);
	if (st != FP_SRC_OPENED)
		fp_attachment_release(att);
	return st;
}
