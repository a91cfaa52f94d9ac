#include "wl_relay.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "child.h"

#define MANAGER_IFACE "zwlr_screencopy_manager_v1"
#define HEADER 8u
/* libwayland's own limit on one message. */
#define MSG_MAX 4096u
#define READ_MAX 16384u
#define FDS_MAX 28
#define CONNS_MAX 4
/* Opcodes: wl_display.get_registry, wl_registry.bind, manager capture_output(_region),
 * frame events buffer / ready / failed / linux_dmabuf, frame request destroy. */
#define OP_GET_REGISTRY 1u
#define OP_BIND 0u
#define OP_CAPTURE_OUTPUT 0u
#define OP_CAPTURE_REGION 1u
#define EV_BUFFER 0u
#define EV_READY 2u
#define EV_FAILED 3u
#define EV_LINUX_DMABUF 5u
#define REQ_FRAME_DESTROY 1u
#define WL_SHM_ARGB8888 0u
#define WL_SHM_XRGB8888 1u
#define DRM_ARGB8888 0x34325241u
#define DRM_XRGB8888 0x34325258u

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A whole message at buf? Its size (header included), or 0 when incomplete or malformed
 * (a size below the header or above the limit stops the parse: the bytes pass unparsed). */
static uint32_t msg_size(const uint8_t *buf, size_t len)
{
	uint32_t size;

	if (len < HEADER)
		return 0;
	size = get32(buf + 4) >> 16;
	return size >= HEADER && size <= MSG_MAX && size <= len ? size : 0;
}

static bool is_frame(const struct fp_wl_relay_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < FP_WL_RELAY_FRAMES; i++)
		if (id && c->frame[i] == id)
			return true;
	return false;
}

static void forget_frame(struct fp_wl_relay_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < FP_WL_RELAY_FRAMES; i++)
		if (c->frame[i] == id)
			c->frame[i] = 0;
}

/* wl_registry.bind(name, interface, version, id): the manager's id and version. */
static void on_bind(struct fp_wl_relay_conn *c, const uint8_t *body, uint32_t n)
{
	uint32_t slen, padded;

	if (n < 8)
		return;
	slen = get32(body + 4);
	padded = (slen + 3u) & ~3u;
	if (slen != sizeof(MANAGER_IFACE) || padded > n - 8 || n - 8 - padded != 8 ||
	    memcmp(body + 8, MANAGER_IFACE, sizeof(MANAGER_IFACE)))
		return;
	c->manager_version = get32(body + 8 + padded);
	c->manager = get32(body + 12 + padded);
}

static void on_request(struct fp_wl_relay_conn *c, uint32_t obj, uint32_t op,
		       const uint8_t *body, uint32_t n)
{
	if (obj == 1 && op == OP_GET_REGISTRY && n >= 4 && c->n_registry < 4) {
		c->registry[c->n_registry++] = get32(body);
		return;
	}
	for (unsigned i = 0; i < c->n_registry; i++)
		if (obj == c->registry[i] && op == OP_BIND)
			on_bind(c, body, n);
	if (c->manager && obj == c->manager &&
	    (op == OP_CAPTURE_OUTPUT || op == OP_CAPTURE_REGION) && n >= 4) {
		c->frame[c->next_frame] = get32(body);
		c->next_frame = (c->next_frame + 1) % FP_WL_RELAY_FRAMES;
	}
	if (op == REQ_FRAME_DESTROY && is_frame(c, obj))
		forget_frame(c, obj);
}

size_t fp_wl_relay_requests(struct fp_wl_relay_conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	uint32_t size;

	while ((size = msg_size(buf + off, len - off))) {
		on_request(c, get32(buf + off), get32(buf + off + 4) & 0xffffu, buf + off + HEADER,
			   size - HEADER);
		off += size;
	}
	return off;
}

size_t fp_wl_relay_events(struct fp_wl_relay_conn *c, const uint8_t *buf, size_t len,
			  uint8_t *out, size_t *consumed)
{
	size_t off = 0, w = 0;
	uint32_t size;

	while ((size = msg_size(buf + off, len - off))) {
		uint32_t obj = get32(buf + off), op = get32(buf + off + 4) & 0xffffu;

		memcpy(out + w, buf + off, size);
		w += size;
		if (is_frame(c, obj) && op == EV_BUFFER && size == HEADER + 16 &&
		    c->manager_version >= 3) {
			uint32_t shm = get32(buf + off + HEADER);
			uint32_t drm = shm == WL_SHM_XRGB8888 ? DRM_XRGB8888
				     : shm == WL_SHM_ARGB8888 ? DRM_ARGB8888 : shm;

			put32(out + w, obj);
			put32(out + w + 4, (HEADER + 12) << 16 | EV_LINUX_DMABUF);
			put32(out + w + 8, drm);
			memcpy(out + w + 12, buf + off + HEADER + 4, 8); /* width, height */
			w += HEADER + 12;
		}
		if (is_frame(c, obj) && (op == EV_READY || op == EV_FAILED))
			forget_frame(c, obj);
		off += size;
	}
	*consumed = off;
	return w;
}

/* ---- the relay process (async-signal-safe: static buffers, system calls only) ---- */

struct side {
	int fd;
	uint8_t pending[READ_MAX + MSG_MAX];
	size_t len;
};

struct conn {
	struct side client, server;
	struct fp_wl_relay_conn state;
};

struct relay_args {
	char listen_path[108], target_path[108];
};

static struct conn conns[CONNS_MAX];
static uint8_t out[2 * (READ_MAX + MSG_MAX)];

static int sock_at(const char *path, bool listen_on)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(a.sun_path, path, strlen(path) + 1);
	if (fd < 0)
		return -1;
	if (listen_on ? bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0
		      : connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends all of buf, with the fds on the first part. Blocking: both peers are the display's
 * own processes, and the relay is a process of its own. */
static int send_all(int fd, const uint8_t *buf, size_t len, const int *fds, int nfds)
{
	union { char buf[CMSG_SPACE(FDS_MAX * sizeof(int))]; struct cmsghdr align; } ctl;

	while (len || nfds) {
		struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds) {
			struct cmsghdr *cm;

			m.msg_control = ctl.buf;
			m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
			cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
			memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
		}
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n == 0 && len))
			return -1;
		buf += n;
		len -= (size_t)n;
		nfds = 0;
	}
	return 0;
}

static void close_conn(struct conn *c)
{
	close(c->client.fd);
	close(c->server.fd);
	c->client.fd = c->server.fd = -1;
}

/* One read from `from`, parsed and passed to `to`. -1 ends the connection. */
static int pump(struct conn *c, struct side *from, struct side *to, bool events)
{
	union { char buf[CMSG_SPACE(FDS_MAX * sizeof(int))]; struct cmsghdr align; } ctl;
	struct iovec iov = { .iov_base = from->pending + from->len, .iov_len = READ_MAX };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	int fds[FDS_MAX], nfds = 0, r;
	size_t used, w;
	ssize_t n = recvmsg(from->fd, &m, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return n < 0 && errno == EINTR ? 0 : -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k && nfds < FDS_MAX; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	from->len += (size_t)n;
	if (events) {
		w = fp_wl_relay_events(&c->state, from->pending, from->len, out, &used);
	} else {
		used = fp_wl_relay_requests(&c->state, from->pending, from->len);
		memcpy(out, from->pending, used);
		w = used;
	}
	/* The fds go with the bytes of this read: a peer queues fds as they come, ahead of
	 * the message that names them, so they may run ahead but never behind. */
	r = send_all(to->fd, out, w, fds, nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	memmove(from->pending, from->pending + used, from->len - used);
	from->len -= used;
	/* A message longer than the limit never completes: the stream is broken. */
	return r < 0 || from->len >= MSG_MAX ? -1 : 0;
}

static void accept_conn(int lfd, const char *target)
{
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), sfd;

	if (cfd < 0)
		return;
	sfd = sock_at(target, false);
	for (unsigned i = 0; sfd >= 0 && i < CONNS_MAX; i++) {
		if (conns[i].client.fd >= 0)
			continue;
		memset(&conns[i].state, 0, sizeof(conns[i].state));
		conns[i].client.fd = cfd;
		conns[i].server.fd = sfd;
		conns[i].client.len = conns[i].server.len = 0;
		return;
	}
	close(cfd);
	if (sfd >= 0)
		close(sfd);
}

static int relay_main(void *arg, int *ready_fd)
{
	const struct relay_args *a = arg;
	int lfd = sock_at(a->listen_path, true);

	if (lfd < 0)
		return errno;
	for (unsigned i = 0; i < CONNS_MAX; i++)
		conns[i].client.fd = conns[i].server.fd = -1;
	close(*ready_fd);
	*ready_fd = -1;
	for (;;) {
		struct pollfd p[1 + 2 * CONNS_MAX] = { { .fd = lfd, .events = POLLIN } };

		for (unsigned i = 0; i < CONNS_MAX; i++) {
			p[1 + 2 * i] = (struct pollfd){ .fd = conns[i].client.fd, .events = POLLIN };
			p[2 + 2 * i] = (struct pollfd){ .fd = conns[i].server.fd, .events = POLLIN };
		}
		if (poll(p, 1 + 2 * CONNS_MAX, -1) < 0 && errno != EINTR)
			return errno;
		if (p[0].revents & POLLIN)
			accept_conn(lfd, a->target_path);
		for (unsigned i = 0; i < CONNS_MAX; i++) {
			struct conn *c = &conns[i];

			if ((p[1 + 2 * i].revents && pump(c, &c->client, &c->server, false) < 0) ||
			    (p[2 + 2 * i].revents && c->server.fd >= 0 &&
			     pump(c, &c->server, &c->client, true) < 0))
				close_conn(c);
		}
	}
}

int fp_wl_relay_start(const char *listen_path, const char *target_path, int drop, uid_t uid,
		      gid_t gid, pid_t *pid)
{
	static struct relay_args args; /* the child's copy is its own after fork */
	struct fp_display_child c = { .run = relay_main, .run_arg = &args, .stdout_fd = -1,
				      .keep_fd = -1, .drop = drop, .uid = uid, .gid = gid,
				      .cwd = "/" };

	if (strlen(listen_path) >= sizeof(args.listen_path) ||
	    strlen(target_path) >= sizeof(args.target_path))
		return -ENAMETOOLONG;
	memcpy(args.listen_path, listen_path, strlen(listen_path) + 1);
	memcpy(args.target_path, target_path, strlen(target_path) + 1);
	return fp_display_start_child(&c, pid);
}
