#include "framepush/source.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel/atomic.h"
#include "attach.h"
#include "channel/desc.h"
#include "channel/event.h"
#include "futex.h"
#include "channel/msg.h"
#include "common/log.h"
#include "common/util.h"

struct fp_source {
	int sock;
	uint32_t target_id;
	struct fp_desc desc;   /* hdr.present == FP_HDR_META_NONE until a backend reports */
	uint32_t desc_serial;  /* even; written under the status block's seqlock */
	uint64_t event_stalls; /* signals the guard timer had to cut short */
	uint64_t input_dropped;/* FP_MSG_INPUT packets refused (malformed or invalid) */
	struct fp_attachment att;
	int attached;
	struct fp_source_ring view;
	uint32_t seq;          /* last published sequence number of this ring */
	int last_slot;         /* slot of the latest publish, -1 none */
	uint32_t next_slot;    /* round-robin start for acquire */
};

static void write_descriptor(struct fp_source *src)
{
	if (src->attached)
		fp_desc_write(src->att.status, &src->desc, src->desc_serial);
}

static void detach(struct fp_source *src)
{
	if (src->attached) {
		atomic_store(ATOMIC_U32(&src->att.status->status), FP_SRC_NOT_ATTACHED);
		fp_attachment_release(&src->att);
	}
	src->attached = 0;
	memset(&src->view, 0, sizeof(src->view));
}

int fp_source_open_fd(struct fp_source **out, int sock, uint32_t target_id, const char *backend,
		      uint32_t width, uint32_t height, uint32_t format)
{
	struct fp_msg_hello h = {
		.hdr = { .type = FP_MSG_HELLO, .version = FP_PROTO_VERSION },
		.target_id = target_id,
		.width = width,
		.height = height,
		.format = format,
	};
	struct fp_source *src;
	int r;

	*out = NULL;
	src = calloc(1, sizeof(*src));
	if (!src) {
		close(sock);
		return -ENOMEM;
	}
	src->sock = sock;
	src->target_id = target_id;
	src->desc.width = width;
	src->desc.height = height;
	src->desc.format = format;
	src->desc_serial = fp_desc_next_serial(0);
	src->last_slot = -1;
	snprintf(h.backend, sizeof(h.backend), "%s", backend ? backend : "");
	r = fp_msg_send(sock, &h, sizeof(h), NULL, 0);
	if (r < 0) {
		fp_error("source: sending hello failed: %s", strerror(-r));
		fp_source_destroy(src);
		return r;
	}
	*out = src;
	return 0;
}

int fp_source_connect(struct fp_source **out, const char *socket_path, uint32_t target_id,
		      const char *backend, uint32_t width, uint32_t height, uint32_t format)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock, r;

	*out = NULL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		fp_error("source: connect to %s failed: %s", socket_path, strerror(errno));
		close(sock);
		return r;
	}
	return fp_source_open_fd(out, sock, target_id, backend, width, height, format);
}

void fp_source_destroy(struct fp_source *src)
{
	if (!src)
		return;
	detach(src);
	fp_close(&src->sock);
	free(src);
}

int fp_source_fd(const struct fp_source *src)
{
	return src->sock;
}

const struct fp_source_ring *fp_source_ring(const struct fp_source *src)
{
	return src->attached ? &src->view : NULL;
}

struct fp_status *fp_source_status_block(struct fp_source *src)
{
	return src->attached ? src->att.status : NULL;
}

uint32_t fp_source_next_seq(const struct fp_source *src)
{
	return src->seq + 1;
}

void fp_source_set_descriptor(struct fp_source *src, uint32_t width, uint32_t height,
			      uint32_t format)
{
	src->desc.width = width;
	src->desc.height = height;
	src->desc.format = format;
	src->desc_serial = fp_desc_next_serial(src->desc_serial);
	write_descriptor(src);
}

void fp_source_set_hdr_meta(struct fp_source *src, const struct fp_hdr_meta *meta)
{
	if (meta)
		src->desc.hdr = *meta;
	else
		memset(&src->desc.hdr, 0, sizeof(src->desc.hdr));
	/* A new serial even though the mode is the same: the host takes the record only with
	 * a serial it has not seen. */
	src->desc_serial = fp_desc_next_serial(src->desc_serial);
	write_descriptor(src);
}

static void report(struct fp_source *src, uint32_t generation, uint32_t status, uint32_t detail)
{
	struct fp_msg_status m = {
		.hdr = { .type = FP_MSG_STATUS, .version = FP_PROTO_VERSION },
		.generation = generation,
		.status = status,
		.detail = detail,
	};

	/* A host that is gone shows up as a hang-up on the next dispatch. */
	(void)fp_msg_send(src->sock, &m, sizeof(m), NULL, 0);
}

/* 1 when generation a is newer than b in 24-bit serial arithmetic (the host's counter wraps
 * past FP_GEN_MAX, skipping 0), so a wrap does not look like an old ring. */
static int generation_newer(uint32_t a, uint32_t b)
{
	uint32_t d = (a - b) & FP_GEN_MAX;

	return d != 0 && d < (1u << (FP_GEN_BITS - 1));
}

static void handle_channel(struct fp_source *src, const void *buf, size_t len, int *fds,
			   size_t nfds, struct fp_source_event *ev)
{
	struct fp_attachment att;
	uint32_t detail, st, gen = 0;

	if (len >= sizeof(struct fp_msg_channel))
		memcpy(&gen, (const char *)buf + offsetof(struct fp_msg_channel, generation),
		       sizeof(gen));
	if (src->attached && len == sizeof(struct fp_msg_channel) &&
	    !generation_newer(gen, src->att.generation)) {
		/* A replayed or older ring: attaching would move us back onto objects the host
		 * may already have dropped, and reset seq under a generation it has seen. */
		fp_msg_close_fds(fds, nfds);
		st = FP_SRC_STALE;
		detail = src->att.generation;
	} else {
		st = fp_attach(buf, len, fds, nfds, src->target_id, &att, &detail);
	}
	if (st != FP_SRC_OPENED) {
		fp_warn("source: refused delivery gen %u: %s detail %u (%s)", gen,
			fp_source_status_name(st), detail, fp_source_status_meaning(st));
		/* The old ring, if any, stays in use: a bad delivery is not a reason to stop. */
		if (src->attached) {
			src->att.status->detail = detail;
			atomic_store(ATOMIC_U32(&src->att.status->status), st);
		}
		report(src, gen, st, detail);
		ev->type = FP_SOURCE_EV_REJECTED;
		ev->status = st;
		ev->detail = detail;
		return;
	}
	detach(src); /* a new generation replaces the old ring entirely */
	src->att = att;
	src->attached = 1;
	src->seq = 0;
	src->last_slot = -1;
	src->next_slot = 0;
	src->view = (struct fp_source_ring){
		.generation = att.generation,
		.ring_len = att.ring_len,
		.width = att.width,
		.height = att.height,
		.format = att.format,
		.stride = att.stride,
		.slot_size = att.slot_size,
		.status_fd = src->att.status_fd,
		.event_fd = src->att.event_fd,
		.slot_fd = src->att.slot_fd,
		.slot = src->att.slot,
	};
	write_descriptor(src);
	src->att.status->attached_generation = att.generation;
	src->att.status->detail = 0;
	atomic_store_explicit(ATOMIC_U32(&src->att.status->status), FP_SRC_OPENED,
			      memory_order_release);
	report(src, att.generation, FP_SRC_OPENED, 0);
	fp_info("source: attached to ring gen %u: %ux%u format %u, %u slots", att.generation,
		att.width, att.height, att.format, att.ring_len);
	ev->type = FP_SOURCE_EV_ATTACHED;
}

int fp_source_decode_input(const void *buf, size_t len, struct fp_input_event *ev)
{
	struct fp_msg_input m;

	/* Exactly our size: a longer packet is another layout, not one to read a prefix of. */
	if (len != sizeof(m))
		return -EBADMSG;
	memcpy(&m, buf, sizeof(m)); /* one copy; only the copy is checked and used */
	if (m.hdr.type != FP_MSG_INPUT || m.hdr.version != FP_PROTO_VERSION || m.reserved0)
		return -EBADMSG;
	*ev = (struct fp_input_event){ .type = m.type, .code = m.code, .value = m.value,
				       .x = m.x, .y = m.y };
	return fp_input_event_valid(ev) ? 0 : -EINVAL;
}

uint64_t fp_source_input_dropped(const struct fp_source *src)
{
	return src->input_dropped;
}

/* An input packet: the event, or a drop that is counted and logged at counts 1, 2, 4, 8...
 * (a viewer's garbage must neither end the source nor flood its log). */
static void handle_input(struct fp_source *src, const void *buf, size_t len, size_t nfds,
			 struct fp_source_event *ev)
{
	/* fds along with an input event: not what this host sends (they were closed). */
	int r = nfds ? -EBADMSG : fp_source_decode_input(buf, len, &ev->input);
	uint64_t n;

	if (r == 0) {
		ev->type = FP_SOURCE_EV_INPUT;
		return;
	}
	memset(&ev->input, 0, sizeof(ev->input));
	n = ++src->input_dropped;
	if ((n & (n - 1)) == 0)
		fp_warn("source: dropped an input message (%zu bytes): %s; %llu dropped so far",
			len, r == -EINVAL ? "not an event the display may receive"
					  : "malformed (size, version, reserved field or fds)",
			(unsigned long long)n);
}

int fp_source_dispatch(struct fp_source *src, int timeout_ms, struct fp_source_event *ev)
{
	union {
		struct fp_msg_header hdr;
		struct fp_msg_channel channel;
		char raw[256];
	} buf;
	int fds[FP_CHANNEL_MAX_FDS];
	size_t nfds = 0;
	int n;

	memset(ev, 0, sizeof(*ev));
	n = fp_msg_recv(src->sock, &buf, sizeof(buf), fds, FP_ARRAY_LEN(fds), &nfds, timeout_ms);
	if (n == -EAGAIN)
		return n;
	if (n == -EMSGSIZE) {
		report(src, 0, FP_SRC_BAD_MESSAGE, FP_BAD_MESSAGE_OVERSIZED);
		ev->type = FP_SOURCE_EV_REJECTED;
		ev->status = FP_SRC_BAD_MESSAGE;
		ev->detail = FP_BAD_MESSAGE_OVERSIZED;
		return 0;
	}
	if (n < 0) {
		ev->type = FP_SOURCE_EV_HANGUP;
		return 0;
	}
	if ((size_t)n < sizeof(buf.hdr)) {
		fp_msg_close_fds(fds, nfds);
		report(src, 0, FP_SRC_BAD_MESSAGE, (uint32_t)n);
		ev->type = FP_SOURCE_EV_REJECTED;
		ev->status = FP_SRC_BAD_MESSAGE;
		ev->detail = (uint32_t)n;
		return 0;
	}
	if (buf.hdr.type == FP_MSG_CHANNEL) {
		handle_channel(src, &buf, (size_t)n, fds, nfds, ev);
		return 0;
	}
	/* No other message carries fds; drop any that came along. */
	fp_msg_close_fds(fds, nfds);
	switch (buf.hdr.type) {
	case FP_MSG_KICK:
		ev->type = FP_SOURCE_EV_KICK;
		break;
	case FP_MSG_REFUSED:
		ev->type = FP_SOURCE_EV_REFUSED;
		break;
	case FP_MSG_INPUT:
		handle_input(src, &buf, (size_t)n, nfds, ev);
		break;
	default:
		fp_warn("source: ignoring message type %u (%d bytes)", buf.hdr.type, n);
	}
	return 0;
}

int fp_source_acquire(struct fp_source *src)
{
	uint32_t len = src->view.ring_len;

	if (!src->attached)
		return -ENOTCONN;
	for (uint32_t k = 0; k < len; k++) {
		uint32_t i = (src->next_slot + k) % len;
		uint32_t v = FP_SLOT_FREE;

		/* The latest publish stays readable until a newer one replaces it. */
		if ((int)i == src->last_slot)
			continue;
		if (atomic_compare_exchange_strong_explicit(ATOMIC_U32(&src->att.status->slot_owner[i]),
							    &v, FP_SLOT_SOURCE, memory_order_acquire,
							    memory_order_relaxed)) {
			src->next_slot = (i + 1) % len;
			return (int)i;
		}
	}
	return -EBUSY;
}

static void release_slot(struct fp_source *src, int slot)
{
	_Atomic uint32_t *w = ATOMIC_U32(&src->att.status->slot_owner[slot]);

	if (atomic_exchange_explicit(w, FP_SLOT_FREE, memory_order_release) & FP_SLOT_WAITERS)
		fp_futex_wake((uint32_t *)(void *)w);
}

void fp_source_abort(struct fp_source *src, int slot)
{
	if (src->attached && slot >= 0 && (uint32_t)slot < src->view.ring_len)
		release_slot(src, slot);
}

int fp_source_publish(struct fp_source *src, int slot, uint32_t width, uint32_t height,
		      uint32_t format, int64_t capture_ns)
{
	struct fp_status *st;
	int r;

	if (!src->attached || slot < 0 || (uint32_t)slot >= src->view.ring_len)
		return -EINVAL;
	st = src->att.status;
	if (width != src->view.width || height != src->view.height || format != src->view.format) {
		/* Format guard: a frame of another mode would be misread by the host. */
		release_slot(src, slot);
		atomic_fetch_add(ATOMIC_U64(&st->frames_dropped), 1);
		return -EXDEV;
	}
	st->slot_capture_ns[slot] = (uint64_t)capture_ns;
	release_slot(src, slot);
	src->seq++;
	src->last_slot = slot;
	atomic_store_explicit(ATOMIC_U64(&st->latest),
			      fp_token_pack(src->view.generation, src->seq, (uint32_t)slot),
			      memory_order_release);
	atomic_fetch_add(ATOMIC_U64(&st->frames_published), 1);
	/* Never blocks: the host shares the eventfd and could otherwise wedge us in write(). */
	r = fp_event_signal(src->att.event_fd);
	if (r == -ETIMEDOUT && !src->event_stalls++)
		fp_warn("source: the host blocked the frame-ready eventfd of ring gen %u; the "
			"guard timer ended the write after %d ms", src->view.generation,
			FP_EVENT_GUARD_MS);
	return r == -EAGAIN || r == -ETIMEDOUT ? 0 : r;
}
