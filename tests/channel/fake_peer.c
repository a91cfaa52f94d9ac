/* A peer for the channel tests. It connects to the host's socket and says hello like a
 * source, then, by mode:
 *   refused   expects FP_MSG_REFUSED with no fd, and its own fd table unchanged (exit 0)
 *   probe     expects a ring; the control fd must carry F_SEAL_FUTURE_WRITE, a writable mmap
 *             of it must fail with EACCES, and so must every way around the read-only fd:
 *             a reopen of /proc/self/fd/N O_RDWR then a writable mmap or pwrite (EPERM),
 *             mprotect of a read-only map (of either fd) to writable; ftruncate of every
 *             delivered memfd must fail, with EPERM (sealed) where the fd is writable (exit 0)
 *   hangup    says hello, waits for the host's KICK, then closes (a delivery then fails)
 * Any other outcome exits non-zero with a message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel/msg.h"
#include "shm.h"
#include "common/util.h"
#include "framepush/proto.h"

/* Every way this process might get write access to the control block; 0 when all fail. */
static int probe_control(int ctl)
{
	char path[64];
	int seals = fcntl(ctl, F_GET_SEALS), rw;
	void *p;

	if (seals < 0 || (seals & FP_SHM_SEALS_READONLY) != FP_SHM_SEALS_READONLY) {
		fprintf(stderr, "fake-peer: control seals 0x%x (errno %s), want 0x%x\n", seals,
			seals < 0 ? strerror(errno) : "-", FP_SHM_SEALS_READONLY);
		return 24;
	}
	p = mmap(NULL, sizeof(struct fp_control), PROT_READ | PROT_WRITE, MAP_SHARED, ctl, 0);
	if (p != MAP_FAILED || errno != EACCES) {
		fprintf(stderr, "fake-peer: writable mmap of the control block %s (%s)\n",
			p == MAP_FAILED ? "failed, but not with EACCES" : "succeeded", strerror(errno));
		return 22;
	}
	p = mmap(NULL, sizeof(struct fp_control), PROT_READ, MAP_SHARED, ctl, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "fake-peer: read-only mmap of the control block: %s\n", strerror(errno));
		return 25;
	}
	if (mprotect(p, sizeof(struct fp_control), PROT_READ | PROT_WRITE) == 0) {
		fprintf(stderr, "fake-peer: mprotect made the control block writable\n");
		return 26;
	}
	munmap(p, sizeof(struct fp_control));
	if (ftruncate(ctl, 0) == 0) {
		fprintf(stderr, "fake-peer: ftruncate of the control fd succeeded\n");
		return 23;
	}
	/* The way around a read-only fd: a new description of the same inode, opened for
	 * writing. The open may succeed (same uid); nothing written through it may. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctl);
	rw = open(path, O_RDWR | O_CLOEXEC);
	if (rw < 0) {
		printf("probe: /proc reopen O_RDWR refused: %s\n", strerror(errno));
		return 0;
	}
	p = mmap(NULL, sizeof(struct fp_control), PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
	if (p != MAP_FAILED || errno != EPERM) {
		fprintf(stderr, "fake-peer: writable mmap of the control block reopened O_RDWR %s (%s)\n",
			p == MAP_FAILED ? "failed, but not with EPERM" : "succeeded", strerror(errno));
		close(rw);
		return 27;
	}
	/* A read-only shared map of the O_RDWR reopen must not be upgradable either. */
	p = mmap(NULL, sizeof(struct fp_control), PROT_READ, MAP_SHARED, rw, 0);
	if (p == MAP_FAILED || mprotect(p, sizeof(struct fp_control), PROT_READ | PROT_WRITE) == 0) {
		fprintf(stderr, "fake-peer: control block reopened O_RDWR: %s\n",
			p == MAP_FAILED ? "read-only mmap failed" : "mprotect made it writable");
		close(rw);
		return 30;
	}
	munmap(p, sizeof(struct fp_control));
	if (pwrite(rw, "x", 1, 0) >= 0 || errno != EPERM) {
		fprintf(stderr, "fake-peer: pwrite to the control block reopened O_RDWR: %s\n",
			strerror(errno));
		close(rw);
		return 28;
	}
	if (ftruncate(rw, 0) == 0 || errno != EPERM) {
		fprintf(stderr, "fake-peer: ftruncate of the control block reopened O_RDWR: %s\n",
			strerror(errno));
		close(rw);
		return 29;
	}
	close(rw);
	printf("probe: /proc reopen O_RDWR opened, but mmap/pwrite/ftruncate fail with EPERM\n");
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fp_msg_hello h = { .hdr = { FP_MSG_HELLO, FP_PROTO_VERSION }, .target_id = 1,
				  .width = 64, .height = 32, .format = FP_PIXFMT_XRGB8888 };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "fake-peer: connect %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* A host that refuses may hang up before the hello lands; its REFUSED is still queued. */
	(void)fp_msg_send(s, &h, sizeof(h), NULL, 0);
	return s;
}

int main(int argc, char **argv)
{
	union {
		struct fp_msg_header hdr;
		struct fp_msg_channel ch;
		char raw[256];
	} m;
	int fds[FP_CHANNEL_MAX_FDS];
	size_t nfds = 0;
	int s, n, before, after;

	if (argc != 3) {
		fprintf(stderr, "usage: fake-peer refused|probe|hangup SOCKET\n");
		return 2;
	}
	before = fp_count_open_fds();
	s = connect_to(argv[2]);
	if (s < 0)
		return 10;
	n = fp_msg_recv(s, &m, sizeof(m), fds, FP_CHANNEL_MAX_FDS, &nfds, 5000);
	if (!strcmp(argv[1], "hangup")) {
		if (n != (int)sizeof(m.hdr) || m.hdr.type != FP_MSG_KICK)
			return 31;
		close(s);
		return 0;
	}
	if (!strcmp(argv[1], "refused")) {
		if (n < (int)sizeof(m.hdr) || m.hdr.type != FP_MSG_REFUSED) {
			fprintf(stderr, "fake-peer: expected REFUSED, got %d bytes type %u\n", n, m.hdr.type);
			return 11;
		}
		if (nfds != 0) {
			fprintf(stderr, "fake-peer: REFUSED carried %zu fds\n", nfds);
			return 12;
		}
		/* The host hangs up after refusing; nothing else may arrive. */
		n = fp_msg_recv(s, &m, sizeof(m), fds, FP_CHANNEL_MAX_FDS, &nfds, 5000);
		if (n != -ECONNRESET || nfds) {
			fprintf(stderr, "fake-peer: after REFUSED got %d (%zu fds)\n", n, nfds);
			return 13;
		}
		close(s);
		after = fp_count_open_fds();
		if (after != before) {
			fprintf(stderr, "fake-peer: fd table changed: %d before, %d after\n", before, after);
			return 14;
		}
		printf("refused fds_before=%d fds_after=%d\n", before, after);
		return 0;
	}
	if (!strcmp(argv[1], "probe")) {
		int r;

		if (n != (int)sizeof(m.ch) || m.hdr.type != FP_MSG_CHANNEL ||
		    nfds != FP_CHANNEL_FD_SLOT0 + m.ch.ring_len) {
			fprintf(stderr, "fake-peer: expected a channel, got %d bytes, %zu fds\n", n, nfds);
			return 21;
		}
		r = probe_control(fds[FP_CHANNEL_FD_CONTROL]);
		if (r)
			return r;
		/* The writable ones: only the seals stop a resize, so the error must be theirs. */
		for (size_t i = FP_CHANNEL_FD_STATUS; i < nfds; i++) {
			if (i == FP_CHANNEL_FD_EVENT)
				continue;
			if (ftruncate(fds[i], 0) == 0 || errno != EPERM ||
			    ftruncate(fds[i], 1 << 30) == 0 || errno != EPERM) {
				fprintf(stderr, "fake-peer: ftruncate of delivered fd %zu: %s, want EPERM\n",
					i, strerror(errno));
				return 23;
			}
		}
		printf("probe ok: control read-only, %zu memfds sealed\n", nfds - 1);
		fp_msg_close_fds(fds, nfds);
		close(s);
		return 0;
	}
	fprintf(stderr, "fake-peer: unknown mode %s\n", argv[1]);
	return 2;
}
