/* The sealed frame channel between two real processes: delivery, verification, least
 * privilege, all-or-nothing, and a source's refusal of bad deliveries. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/msg.h"
#include "channel/peer.h"
#include "channel/ring.h"
#include "shm.h"
#include "channel/signature.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "harness.h"
#include "broker.h"

static char source_exe[4096], fake_peer[4096];

static struct fp_broker *spawn_source_flags(const char *size, const char *fps,
					     unsigned peer_flags)
{
	char *argv[] = { "--backend", "test", "--size", (char *)size, "--fps", (char *)fps, NULL };
	struct fp_broker_opts o = { .source_exe = source_exe, .source_argv = argv, .spawn = 1,
				    .peer_flags = peer_flags };
	struct fp_broker *b = NULL;

	assert_int_equal(fp_broker_create(&b, &o), 0);
	return b;
}

static struct fp_broker *spawn_source(const char *size, const char *fps)
{
	return spawn_source_flags(size, fps, 0);
}

/* Waits for the source's STATUS answer to delivery `gen`. */
static void expect_status(struct fp_broker *b, uint32_t gen, uint32_t status, uint32_t detail)
{
	int64_t deadline = fp_now_ns() + 5 * FP_NSEC_PER_SEC;

	for (;;) {
		struct fp_msg_status m;
		int fds[FP_CHANNEL_MAX_FDS];
		size_t nfds;
		int n = fp_msg_recv(fp_broker_sock(b), &m, sizeof(m), fds, FP_CHANNEL_MAX_FDS, &nfds,
				    fp_ms_until(deadline));

		if (n == -EAGAIN)
			fail_msg("no STATUS for delivery gen %u within 5 s (want %s)", gen,
				 fp_source_status_name(status));
		assert_true(n > 0);
		assert_int_equal(nfds, 0);
		if (n != (int)sizeof(m) || m.hdr.type != FP_MSG_STATUS || m.generation != gen)
			continue;
		if (m.status != status || m.detail != detail)
			fail_msg("delivery gen %u: source said %s detail %u, want %s detail %u", gen,
				 fp_source_status_name(m.status), m.detail,
				 fp_source_status_name(status), detail);
		return;
	}
}

/* 300 frames at 1920x1080 from the real test source, every signature checked here. */
static void two_processes_300_frames(void **state)
{
	struct fp_broker *b = spawn_source("1920x1080", "240");
	struct fp_ring *ring;
	uint32_t last_seq = 0, got = 0, bad = 0;
	int64_t deadline;

	(void)state;
	assert_int_equal(fp_ring_create(&ring, fp_ring_next_generation(), 1, 4, 1920, 1080,
					FP_PIXFMT_XRGB8888), 0);
	assert_int_equal(fp_ring_deliver(ring, fp_broker_sock(b)), 0);
	expect_status(b, ring->generation, FP_SRC_OPENED, 0);
	deadline = fp_now_ns() + 30 * FP_NSEC_PER_SEC;
	while (got < 300) {
		struct pollfd p = { .fd = ring->event_fd, .events = POLLIN };
		struct fp_token t;
		struct fp_signature sig;
		uint64_t v;

		if (fp_now_ns() > deadline)
			fail_msg("only %u of 300 frames within 30 s", got);
		poll(&p, 1, 100);
		if (read(ring->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			fail_msg("eventfd read: %s", strerror(errno));
		t = fp_token_unpack(fp_ring_latest(ring));
		if (t.generation != ring->generation || t.seq == last_seq)
			continue;
		assert_true(t.slot < ring->ring_len);
		if (fp_ring_slot_acquire(ring, t.slot, 8 * FP_NSEC_PER_MSEC) < 0)
			continue;
		if (fp_ring_latest(ring) == fp_token_pack(t.generation, t.seq, t.slot)) {
			enum fp_sig_result s = fp_signature_check(ring->slot[t.slot], ring->stride, 1920,
								  1080, FP_PIXFMT_XRGB8888, &sig);
			if (s != FP_SIG_OK || sig.frame != t.seq || sig.generation != ring->generation)
				bad++;
			assert_true(t.seq > last_seq);
			last_seq = t.seq;
			got++;
		}
		fp_ring_slot_release(ring, t.slot);
	}
	assert_int_equal(bad, 0);
	fp_ring_destroy(ring);
	fp_broker_destroy(b);
}

/* A 0777 directory (another uid must be able to connect a socket in it) and a copy of
 * fake-peer that uid can run. */
static void world_dir(char *dir, size_t cap, char *peer_copy, size_t pcap)
{
	snprintf(dir, cap, "/tmp/fpt-peer-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(fpt_world_copy(fake_peer, peer_copy, pcap), 0);
}

static void refuse_case(const char *expected_exe, char *const peer_argv[], const char *socket_dir,
			unsigned peer_flags)
{
	struct fp_broker_opts o = { .source_exe = expected_exe, .socket_dir = socket_dir,
				    .peer_flags = peer_flags };
	struct fp_broker *b = NULL;
	char *argv[8];
	pid_t pid;
	int i = 0, status, host_fds;

	assert_int_equal(fp_broker_listen(&b, &o), 0);
	if (socket_dir)
		assert_int_equal(chmod(fp_broker_socket_path(b), 0777), 0);
	for (; peer_argv[i]; i++)
		argv[i] = peer_argv[i];
	argv[i++] = (char *)fp_broker_socket_path(b);
	argv[i] = NULL;
	host_fds = fp_count_open_fds();
	pid = fpt_spawn(argv);
	assert_true(pid > 0);
	assert_int_equal(fp_broker_accept(b, 0, 5 * FP_NSEC_PER_SEC), -EPERM);
	assert_int_equal(fp_broker_sock(b), -1);
	assert_int_equal(fp_count_open_fds(), host_fds);
	status = fpt_wait(pid, 10000);
	/* fake-peer exits 0 only if it got REFUSED, no fd, and its fd table is unchanged. */
	assert_int_equal(fpt_exit_code(status), 0);
	fp_broker_destroy(b);
}

static void peer_other_binary_refused(void **state)
{
	char *argv[] = { fake_peer, "refused", NULL };

	(void)state;
	refuse_case(source_exe, argv, NULL, 0); /* expects framepush-source; fake-peer connects */
}

static void peer_other_uid_refused(void **state)
{
	char dir[64], copy[256];
	char *argv[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			 copy, "refused", NULL };

	(void)state;
	if (getuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
		fpt_skip("running a peer as another uid needs root and setpriv");
	world_dir(dir, sizeof(dir), copy, sizeof(copy));
	/* Right binary, wrong uid: only the uid check can refuse it. */
	refuse_case(copy, argv, dir, 0);
	unlink(copy);
	rmdir(dir);
	*strrchr(copy, '/') = '\0';
	rmdir(copy);
}

/* The pre-6.5 peer check (FP_PEER_NO_SOCKET_PIDFD forces it): it verifies a live peer, its
 * pidfd is the death probe, it refuses a connection whose peer is gone even while that
 * pid still exists (a zombie: pidfd_open succeeds; -ENOTCONN shows the hang-up check, not
 * a later step, refused it), and the broker works end to end on it. */
static void peer_fallback_without_peerpidfd(void **state)
{
	char dir[] = "/tmp/fpt-fallback-XXXXXX", path[64];
	char *argv[] = { fake_peer, "hangup", path, NULL };
	char *refused_argv[] = { fake_peer, "refused", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fp_msg_header kick = { FP_MSG_KICK, FP_PROTO_VERSION };
	struct fp_peer peer, exact, late;
	struct pollfd p;
	struct fp_broker *b;
	struct fp_ring *ring;
	int ls, s;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	pid = fpt_spawn(argv);
	assert_true(pid > 0);
	p = (struct pollfd){ .fd = ls, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		fail_msg("fake-peer pid %d did not connect within 5 s", (int)pid);
	s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);

	assert_int_equal(fp_peer_verify_flags(s, fake_peer, getuid(), pid, FP_PEER_NO_SOCKET_PIDFD,
					      &peer), 0);
	assert_int_equal(peer.pidfd_from_socket, 0);
	assert_int_equal(fp_pidfd_exited(peer.pidfd), 0);
	assert_int_equal(fp_peer_verify(s, fake_peer, getuid(), pid, &exact), 0);
	if (!exact.pidfd_from_socket)
		print_message("kernel lacks SO_PEERPIDFD: both checks took the fallback\n");
	close(exact.pidfd);

	/* The peer closes its end and exits; left unreaped, its pid still exists. */
	assert_int_equal(fp_msg_send(s, &kick, sizeof(kick), NULL, 0), 0);
	assert_int_equal(fp_child_exited(pid, 5000), 1);
	assert_int_equal(fp_pidfd_exited(peer.pidfd), 1);
	assert_int_equal(fp_peer_verify_flags(s, fake_peer, getuid(), pid, FP_PEER_NO_SOCKET_PIDFD,
					      &late), -ENOTCONN);
	assert_int_equal(late.pidfd, -1);
	assert_int_equal(fpt_exit_code(fpt_wait(pid, 5000)), 0);
	close(peer.pidfd);
	close(s);
	close(ls);
	unlink(path);
	rmdir(dir);

	/* End to end on the fallback: a spawned source attaches; another binary is refused. */
	b = spawn_source_flags("64x32", "30", FP_PEER_NO_SOCKET_PIDFD);
	assert_int_equal(fp_ring_create(&ring, fp_ring_next_generation(), 1, 3, 64, 32,
					FP_PIXFMT_XRGB8888), 0);
	assert_int_equal(fp_ring_deliver(ring, fp_broker_sock(b)), 0);
	expect_status(b, ring->generation, FP_SRC_OPENED, 0);
	fp_ring_destroy(ring);
	fp_broker_destroy(b);
	refuse_case(source_exe, refused_argv, NULL, FP_PEER_NO_SOCKET_PIDFD);
}

static struct fp_broker *accept_fake(const char *mode, pid_t *pid)
{
	struct fp_broker_opts o = { .source_exe = fake_peer };
	struct fp_broker *b = NULL;
	char *argv[4];

	assert_int_equal(fp_broker_listen(&b, &o), 0);
	argv[0] = fake_peer;
	argv[1] = (char *)mode;
	argv[2] = (char *)fp_broker_socket_path(b);
	argv[3] = NULL;
	*pid = fpt_spawn(argv);
	assert_true(*pid > 0);
	assert_int_equal(fp_broker_accept(b, *pid, 5 * FP_NSEC_PER_SEC), 0);
	return b;
}

static void least_privilege(void **state)
{
	struct fp_ring *ring;
	pid_t pid;
	struct fp_broker *b = accept_fake("probe", &pid);

	(void)state;
	assert_int_equal(fp_ring_create(&ring, fp_ring_next_generation(), 1, 3, 64, 32,
					FP_PIXFMT_XRGB8888), 0);
	assert_int_equal(fp_ring_deliver(ring, fp_broker_sock(b)), 0);
	/* fake-peer exits 0 only if the control block carried F_SEAL_FUTURE_WRITE, no way of
	 * writing it worked (writable mmap EACCES; /proc reopen O_RDWR then mmap/pwrite EPERM;
	 * mprotect), and every ftruncate failed (EPERM on the writable fds). */
	assert_int_equal(fpt_exit_code(fpt_wait(pid, 10000)), 0);
	/* The seal leaves the host's own mapping, made before it, writable. */
	ring->control->reserved0 = 0x5eed;
	{
		const struct fp_control *c = fp_shm_map(ring->control_fd, sizeof(*c), PROT_READ);

		assert_non_null(c);
		assert_int_equal(c->reserved0, 0x5eed);
		fp_shm_unmap((void *)c, sizeof(*c));
	}
	fp_ring_destroy(ring);
	fp_broker_destroy(b);
}

static void all_or_nothing(void **state)
{
	struct fp_ring *ring;
	pid_t pid;
	struct fp_broker *b = accept_fake("hangup", &pid);
	int sv[2], fds[FP_CHANNEL_MAX_FDS], got[2], before, with_ring;
	size_t n;
	char buf[64] = { 0 };

	(void)state;
	struct fp_msg_header kick = { FP_MSG_KICK, FP_PROTO_VERSION };

	assert_int_equal(fp_broker_send(b, &kick, sizeof(kick)), 0);
	assert_int_equal(fpt_exit_code(fpt_wait(pid, 10000)), 0); /* the peer is gone */
	before = fp_count_open_fds();
	assert_int_equal(fp_ring_create(&ring, fp_ring_next_generation(), 1, 4, 64, 32,
					FP_PIXFMT_XRGB8888), 0);
	with_ring = fp_count_open_fds();
	assert_true(fp_ring_deliver(ring, fp_broker_sock(b)) < 0);
	assert_int_equal(fp_count_open_fds(), with_ring); /* the read-only fd did not leak */
	fp_ring_destroy(ring);
	assert_int_equal(fp_count_open_fds(), before);
	fp_broker_destroy(b);

	/* Receiver side: a packet with more fds than the receiver takes is refused whole. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 5; i++)
		fds[i] = fp_shm_create("t", 4096);
	before = fp_count_open_fds();
	assert_int_equal(fp_msg_send(sv[0], buf, sizeof(buf), fds, 5), 0);
	assert_int_equal(fp_msg_recv(sv[1], buf, sizeof(buf), got, 2, &n, 1000), -EMSGSIZE);
	assert_int_equal(n, 0);
	assert_int_equal(fp_count_open_fds(), before);
	/* An empty packet with fds is junk, not a hang-up, and its fds do not stay open (they
	 * leaked before: fuzz-capture's corpus keeps the input that found it). */
	assert_int_equal(fp_msg_send(sv[0], buf, 0, fds, 2), 0);
	assert_int_equal(fp_msg_recv(sv[1], buf, sizeof(buf), got, 2, &n, 1000), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fp_count_open_fds(), before);
	close(sv[0]);
	assert_int_equal(fp_msg_recv(sv[1], buf, sizeof(buf), got, 2, &n, 1000), -ECONNRESET);
	fp_msg_close_fds(fds, 5);
	close(sv[1]);
}

static void fill_delivery(const struct fp_ring *r, struct fp_msg_channel *m, int *fds, int ro)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = FP_MSG_CHANNEL;
	m->hdr.version = FP_PROTO_VERSION;
	m->generation = r->generation;
	m->target_id = r->target_id;
	m->ring_len = r->ring_len;
	m->width = r->width;
	m->height = r->height;
	m->format = r->format;
	m->stride = r->stride;
	m->slot_size = r->slot_size;
	m->control_size = sizeof(struct fp_control);
	m->status_size = sizeof(struct fp_status);
	fds[0] = ro;
	fds[1] = r->status_fd;
	fds[2] = r->event_fd;
	for (uint32_t i = 0; i < r->ring_len; i++)
		fds[3 + i] = r->slot_fd[i];
}

/* A copy of ring's control block in a new memfd carrying only `seals` (-1: none at all). */
static int control_copy(const struct fp_ring *r, int seals)
{
	int fd = seals < 0 ? memfd_create("ctl-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING)
			   : fp_shm_create_open("ctl-copy", sizeof(struct fp_control));

	assert_true(fd >= 0);
	if (seals < 0)
		assert_int_equal(ftruncate(fd, sizeof(struct fp_control)), 0);
	assert_int_equal(pwrite(fd, r->control, sizeof(struct fp_control), 0),
			 (ssize_t)sizeof(struct fp_control));
	if (seals > 0)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* One delivery being spoilt: a copy of the good one, the status the source must answer
 * and the fds the spoiling made (closed once the answer came). */
struct bad_delivery {
	const struct fp_ring *ring;
	int ro;
	struct fp_msg_channel m;
	int fds[FP_CHANNEL_MAX_FDS];
	uint32_t gen, detail;
	int made[2];
};

static void spoil_magic(struct bad_delivery *d)
{
	d->ring->control->magic = 0xdeadbeef;
}

static void spoil_msg_version(struct bad_delivery *d)
{
	d->m.hdr.version = FP_PROTO_VERSION - 1;
}

/* Written through the host's mapping, which the FUTURE_WRITE seal leaves writable. */
static void spoil_control_version(struct bad_delivery *d)
{
	d->ring->control->version = FP_PROTO_VERSION + 1;
}

/* Sealed, but without F_SEAL_FUTURE_WRITE: the source could reopen it writable. */
static void spoil_control_writable(struct bad_delivery *d)
{
	int ctl = control_copy(d->ring, FP_SHM_SEALS);

	assert_int_equal(fcntl(ctl, F_GET_SEALS) & F_SEAL_FUTURE_WRITE, 0);
	d->detail = (uint32_t)fcntl(ctl, F_GET_SEALS); /* + F_SEAL_EXEC where MFD_NOEXEC_SEAL */
	d->fds[FP_CHANNEL_FD_CONTROL] = d->made[0] = ctl;
}

static void spoil_control_unsealed(struct bad_delivery *d)
{
	d->fds[FP_CHANNEL_FD_CONTROL] = d->made[0] = control_copy(d->ring, -1);
}

static void spoil_status_unsealed(struct bad_delivery *d)
{
	int fd = memfd_create("status-unsealed", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, sizeof(struct fp_status)), 0);
	d->fds[FP_CHANNEL_FD_STATUS] = d->made[0] = fd;
}

/* A full pipe would block the source's frame-ready write forever. */
static void spoil_event_pipe(struct bad_delivery *d)
{
	assert_int_equal(pipe2(d->made, O_CLOEXEC), 0);
	d->fds[FP_CHANNEL_FD_EVENT] = d->made[1];
}

static void spoil_ring_len_0(struct bad_delivery *d)
{
	d->m.ring_len = 0;
}

static void spoil_ring_len_200(struct bad_delivery *d)
{
	d->m.ring_len = 200;
}

/* Sealed, so only its size is wrong. */
static void spoil_slot_short(struct bad_delivery *d)
{
	d->made[0] = fp_shm_create("short", d->ring->slot_size / 2);
	assert_true(d->made[0] >= 0);
	d->fds[3 + 1] = d->made[0];
}

/* The right size without seals: the source could be truncated under. */
static void spoil_slot_unsealed(struct bad_delivery *d)
{
	int fd = memfd_create("unsealed", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)d->ring->slot_size), 0);
	d->fds[3 + 2] = d->made[0] = fd;
}

/* Blocks of another build's size: the detail must be FP_BAD_MESSAGE_BLOCK_SIZE, which no
 * length or fd count can be mistaken for. */
static void spoil_control_size(struct bad_delivery *d)
{
	d->m.control_size = sizeof(struct fp_control) + 8;
}

static void spoil_status_size(struct bad_delivery *d)
{
	d->m.status_size = 0;
}

/* A generation that disagrees with the control block's. */
static void spoil_generation(struct bad_delivery *d)
{
	d->m.generation = d->ring->generation + 1000;
	d->gen = d->m.generation;
	d->detail = d->ring->generation;
}

static const struct bad_case {
	const char *what;
	void (*spoil)(struct bad_delivery *d);
	uint32_t status, detail; /* detail: unless spoil() computes it */
} bad_cases[] = {
	{ "control magic", spoil_magic, FP_SRC_BAD_MAGIC, 0xdeadbeef },
	{ "message version", spoil_msg_version, FP_SRC_BAD_VERSION, FP_PROTO_VERSION - 1 },
	{ "control version", spoil_control_version, FP_SRC_BAD_VERSION, FP_PROTO_VERSION + 1 },
	{ "control writable", spoil_control_writable, FP_SRC_CONTROL_WRITABLE, 0 },
	{ "control unsealed", spoil_control_unsealed, FP_SRC_NO_SEALS, FP_CHANNEL_FD_CONTROL },
	{ "status unsealed", spoil_status_unsealed, FP_SRC_NO_SEALS, FP_CHANNEL_FD_STATUS },
	{ "event fd a pipe", spoil_event_pipe, FP_SRC_BAD_EVENT, 0 },
	{ "ring length 0", spoil_ring_len_0, FP_SRC_BAD_RING, 0 },
	{ "ring length 200", spoil_ring_len_200, FP_SRC_BAD_RING, 200 },
	{ "slot too short", spoil_slot_short, FP_SRC_BAD_SIZE, 3 + 1 },
	{ "slot unsealed", spoil_slot_unsealed, FP_SRC_NO_SEALS, 3 + 2 },
	{ "control block size", spoil_control_size, FP_SRC_BAD_MESSAGE, FP_BAD_MESSAGE_BLOCK_SIZE },
	{ "status block size", spoil_status_size, FP_SRC_BAD_MESSAGE, FP_BAD_MESSAGE_BLOCK_SIZE },
	{ "stale generation", spoil_generation, FP_SRC_STALE, 0 },
};

/* Each bad case, sent to the source, gets its own refusal; the ring is left as it was. */
static void refuse_each(struct fp_broker *b, struct fp_ring *ring, int ro)
{
	int sock = fp_broker_sock(b);

	for (size_t i = 0; i < FP_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct bad_delivery d = { .ring = ring, .ro = ro, .gen = ring->generation,
					  .detail = c->detail, .made = { -1, -1 } };

		print_message("bad delivery: %s\n", c->what);
		fill_delivery(ring, &d.m, d.fds, ro);
		c->spoil(&d);
		assert_int_equal(fp_msg_send(sock, &d.m, sizeof(d.m), d.fds, 3 + ring->ring_len),
				 0);
		expect_status(b, d.gen, c->status, d.detail);
		ring->control->magic = FP_PROTO_MAGIC;
		ring->control->version = FP_PROTO_VERSION;
		for (int k = 0; k < 2; k++)
			if (d.made[k] >= 0)
				close(d.made[k]);
	}
}

/* After an attached ring: the same generation and an older one are stale; a newer ring
 * with a blocking eventfd is accepted and made non-blocking (the description is shared,
 * so the flag shows here too). */
static void newer_ring_replaces(struct fp_broker *b, struct fp_ring *ring)
{
	struct fp_msg_channel m;
	struct fp_ring *newer;
	int fds[FP_CHANNEL_MAX_FDS], ro, efd;
	int sock = fp_broker_sock(b);

	assert_int_equal(fp_ring_deliver(ring, sock), 0);
	expect_status(b, ring->generation, FP_SRC_STALE, ring->generation);
	assert_int_equal(fp_ring_create(&newer, fp_ring_next_generation(), 1, 3, 64, 32,
					FP_PIXFMT_XRGB8888), 0);
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	ro = fp_shm_reopen_readonly(newer->control_fd);
	assert_true(ro >= 0);
	fill_delivery(newer, &m, fds, ro);
	fds[FP_CHANNEL_FD_EVENT] = efd;
	assert_int_equal(fp_msg_send(sock, &m, sizeof(m), fds, 3 + newer->ring_len), 0);
	expect_status(b, newer->generation, FP_SRC_OPENED, 0);
	assert_true(fcntl(efd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(fp_ring_deliver(ring, sock), 0);
	expect_status(b, ring->generation, FP_SRC_STALE, newer->generation);
	close(efd);
	close(ro);
	fp_ring_destroy(newer);
}

static void bad_deliveries_refused(void **state)
{
	struct fp_broker *b = spawn_source("64x32", "30");
	struct fp_ring *ring, *other;
	int ro;

	(void)state;
	assert_int_equal(fp_ring_create(&ring, fp_ring_next_generation(), 1, 3, 64, 32,
					FP_PIXFMT_XRGB8888), 0);
	ro = fp_shm_reopen_readonly(ring->control_fd);
	assert_true(ro >= 0);
	refuse_each(b, ring, ro);

	/* A ring for another display: bind mismatch. */
	assert_int_equal(fp_ring_create(&other, fp_ring_next_generation(), 9, 3, 64, 32,
					FP_PIXFMT_XRGB8888), 0);
	assert_int_equal(fp_ring_deliver(other, fp_broker_sock(b)), 0);
	expect_status(b, other->generation, FP_SRC_BIND_MISMATCH, 9);

	/* Still alive after all of it, and it takes a good ring. */
	assert_int_equal(fp_pidfd_exited(fp_broker_pidfd(b)), 0);
	assert_int_equal(fp_ring_deliver(ring, fp_broker_sock(b)), 0);
	expect_status(b, ring->generation, FP_SRC_OPENED, 0);

	newer_ring_replaces(b, ring);
	assert_int_equal(fp_pidfd_exited(fp_broker_pidfd(b)), 0);

	close(ro);
	fp_ring_destroy(other);
	fp_ring_destroy(ring);
	fp_broker_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_processes_300_frames),
		cmocka_unit_test(peer_other_binary_refused),
		cmocka_unit_test(peer_other_uid_refused),
		cmocka_unit_test(peer_fallback_without_peerpidfd),
		cmocka_unit_test(least_privilege),
		cmocka_unit_test(all_or_nothing),
		cmocka_unit_test(bad_deliveries_refused),
	};

	fp_log_init("test-channel");
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	fpt_build_path("tests/channel/fake-peer", fake_peer, sizeof(fake_peer));
	return fpt_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
