#include "channel/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel/atomic.h"
#include "channel/msg.h"
#include "channel/shm.h"
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

static uint32_t fail(int *fds, size_t nfds, struct fp_attachment *att, uint32_t st,
		     uint32_t *detail, uint32_t d)
{
	fp_msg_close_fds(fds, nfds);
	fp_attachment_release(att);
	*detail = d;
	return st;
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

uint32_t fp_attach(const void *msg, size_t len, int *fds, size_t nfds, uint32_t target_id,
		   struct fp_attachment *att, uint32_t *detail)
{
	struct fp_msg_channel m;
	uint64_t row;
	uint32_t bpp, magic, gen;
	int r, seals;

	attachment_init(att);
	*detail = 0;
	if (len != sizeof(m))
		return fail(fds, nfds, att, FP_SRC_BAD_MESSAGE, detail, (uint32_t)len);
	memcpy(&m, msg, sizeof(m)); /* one copy; every check below reads the copy */
	if (m.hdr.type != FP_MSG_CHANNEL)
		return fail(fds, nfds, att, FP_SRC_BAD_MESSAGE, detail, m.hdr.type);
	if (m.hdr.version != FP_PROTO_VERSION)
		return fail(fds, nfds, att, FP_SRC_BAD_VERSION, detail, m.hdr.version);
	if (m.ring_len < FP_RING_MIN || m.ring_len > FP_RING_MAX)
		return fail(fds, nfds, att, FP_SRC_BAD_RING, detail, m.ring_len);
	if (nfds != FP_CHANNEL_FD_SLOT0 + (size_t)m.ring_len)
		return fail(fds, nfds, att, FP_SRC_BAD_MESSAGE, detail, (uint32_t)nfds);
	bpp = fp_pixfmt_bpp(m.format);
	if (bpp == 0)
		return fail(fds, nfds, att, FP_SRC_BAD_FORMAT, detail, 1);
	if (m.width < FP_WIDTH_MIN || m.width > FP_WIDTH_MAX || m.height < FP_HEIGHT_MIN ||
	    m.height > FP_HEIGHT_MAX)
		return fail(fds, nfds, att, FP_SRC_BAD_FORMAT, detail, 2);
	row = (uint64_t)m.width * bpp;
	if (m.stride < row || m.stride % 4 ||
	    m.slot_size != (uint64_t)m.stride * m.height)
		return fail(fds, nfds, att, FP_SRC_BAD_FORMAT, detail, 3);
	if (m.control_size != sizeof(struct fp_control) || m.status_size != sizeof(struct fp_status))
		return fail(fds, nfds, att, FP_SRC_BAD_MESSAGE, detail, 0);

	/* Sizes and seals, fd by fd: a short or unsealed memfd could SIGBUS us later. */
	for (size_t i = 0; i < nfds; i++) {
		uint64_t want = i == FP_CHANNEL_FD_CONTROL ? m.control_size
			      : i == FP_CHANNEL_FD_STATUS  ? m.status_size
			      : i == FP_CHANNEL_FD_EVENT   ? 0
							   : m.slot_size;

		if (i == FP_CHANNEL_FD_EVENT)
			continue;
		r = fp_shm_check(fds[i], want);
		if (r == -EFBIG)
			return fail(fds, nfds, att, FP_SRC_BAD_SIZE, detail, (uint32_t)i);
		if (r < 0)
			return fail(fds, nfds, att, FP_SRC_NO_SEALS, detail, (uint32_t)i);
	}
	/* A read-only fd alone does not keep us from writing the host's control block: it can
	 * be reopened O_RDWR through /proc. Only F_SEAL_FUTURE_WRITE makes it read-only for
	 * every fd; a host that skipped it broke the contract, so refuse to run on it. */
	seals = fp_shm_seals(fds[FP_CHANNEL_FD_CONTROL]);
	if (seals < 0 || !(seals & F_SEAL_FUTURE_WRITE))
		return fail(fds, nfds, att, FP_SRC_CONTROL_WRITABLE, detail,
			    seals < 0 ? 0 : (uint32_t)seals);
	r = event_check(fds[FP_CHANNEL_FD_EVENT]);
	if (r != 0)
		return fail(fds, nfds, att, FP_SRC_BAD_EVENT, detail, r > 0 ? 0 : (uint32_t)-r);

	att->generation = m.generation;
	att->target_id = m.target_id;
	att->ring_len = m.ring_len;
	att->width = m.width;
	att->height = m.height;
	att->format = m.format;
	att->stride = m.stride;
	att->slot_size = m.slot_size;
	att->control_fd = fp_take_fd(&fds[FP_CHANNEL_FD_CONTROL]);
	att->status_fd = fp_take_fd(&fds[FP_CHANNEL_FD_STATUS]);
	att->event_fd = fp_take_fd(&fds[FP_CHANNEL_FD_EVENT]);
	for (uint32_t i = 0; i < m.ring_len; i++)
		att->slot_fd[i] = fp_take_fd(&fds[FP_CHANNEL_FD_SLOT0 + i]);

	att->control = fp_shm_map(att->control_fd, sizeof(struct fp_control), PROT_READ);
	att->status = fp_shm_map(att->status_fd, sizeof(struct fp_status), PROT_READ | PROT_WRITE);
	if (!att->control || !att->status)
		return fail(fds, 0, att, FP_SRC_MAP_FAILED, detail, (uint32_t)errno);
	for (uint32_t i = 0; i < m.ring_len; i++) {
		att->slot[i] = fp_shm_map(att->slot_fd[i], m.slot_size, PROT_READ | PROT_WRITE);
		if (!att->slot[i])
			return fail(fds, 0, att, FP_SRC_MAP_FAILED, detail, (uint32_t)errno);
	}

	magic = atomic_load_explicit(ATOMIC_CONST_U32(&att->control->magic),
				     memory_order_acquire);
	gen = atomic_load_explicit(ATOMIC_CONST_U32(&att->control->generation),
				   memory_order_acquire);
	if (magic != FP_PROTO_MAGIC)
		return fail(fds, 0, att, FP_SRC_BAD_MAGIC, detail, magic);
	if (att->control->version != FP_PROTO_VERSION)
		return fail(fds, 0, att, FP_SRC_BAD_VERSION, detail, att->control->version);
	switch (fp_attach_check(magic, gen, att->control->target_id, m.generation, target_id)) {
	case FP_ATTACH_OK:
		break;
	case FP_ATTACH_STALE:
		return fail(fds, 0, att, FP_SRC_STALE, detail, gen);
	case FP_ATTACH_BIND_MISMATCH:
		return fail(fds, 0, att, FP_SRC_BIND_MISMATCH, detail, att->control->target_id);
	}
	/* The geometry the message claimed must be the geometry the host wrote. */
	if (att->control->ring_len != m.ring_len || att->control->width != m.width ||
	    att->control->height != m.height || att->control->format != m.format ||
	    att->control->stride != m.stride || att->control->slot_size != m.slot_size)
		return fail(fds, 0, att, FP_SRC_BAD_FORMAT, detail, 4);
	return FP_SRC_OPENED;
}
