#include "channel/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; glibc 2.36 predates it */
#endif

int fp_pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r = poll(&p, 1, 0);

	if (r < 0)
		return -errno;
	return r > 0 ? 1 : 0;
}

/* The pid a pidfd refers to, from its fdinfo ("Pid:\t<n>"), or -1 once it has exited. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	pid_t pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid:\t%d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* 1 when the socket's other end is closed (every holder of it gone), 0 if not, -errno. */
static int sock_hung_up(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };
	int r = poll(&p, 1, 0);

	if (r < 0)
		return -errno;
	return r > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) ? 1 : 0;
}

/* Test hook: FRAMEPUSH_NO_PEERPIDFD=1 takes the pre-6.5 path on any kernel, so the
 * fallback is exercised where SO_PEERPIDFD exists. */
static int peerpidfd_disabled(void)
{
	const char *e = getenv("FRAMEPUSH_NO_PEERPIDFD");

	return e && !strcmp(e, "1");
}

static int read_exe(pid_t pid, char *out, size_t cap)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, out, cap - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= cap - 1)
		return -ENAMETOOLONG; /* possibly truncated: never compare a prefix */
	out[n] = '\0';
	return 0;
}

int fp_peer_verify(int sock, const char *expected_exe, uid_t expected_uid, pid_t expected_pid,
		   struct fp_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char want[PATH_MAX];
	int pidfd = -1, r;

	memset(peer, 0, sizeof(*peer));
	peer->pidfd = -1;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		r = -errno;
		fp_error("peer: SO_PEERCRED on socket %d failed: %s", sock, strerror(errno));
		return r;
	}
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	if (cred.uid != expected_uid) {
		fp_error("peer: refusing pid %d: uid %u, expected uid %u", (int)cred.pid,
			 (unsigned)cred.uid, (unsigned)expected_uid);
		return -EPERM;
	}
	if (expected_pid > 0 && cred.pid != expected_pid) {
		fp_error("peer: refusing pid %d: expected the source the host spawned, pid %d",
			 (int)cred.pid, (int)expected_pid);
		return -EPERM;
	}

	len = sizeof(pidfd);
	if (peerpidfd_disabled()) {
		errno = ENOPROTOOPT;
		r = -1;
	} else {
		r = getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len);
	}
	peer->pidfd_from_socket = r == 0;
	if (r < 0) {
		if (errno != ENOPROTOOPT && errno != EINVAL) {
			r = -errno;
			fp_error("peer: SO_PEERPIDFD for pid %d failed: %s", (int)cred.pid, strerror(errno));
			return r;
		}
		/* Older kernel: the pid SO_PEERCRED reports was fixed at connect, so pidfd_open
		 * of it names whoever holds that number now, and the connector may have exited
		 * and its pid been recycled. If, after pidfd_open, the socket's other end is
		 * still open, some process still holds it; when that is the connector, it was
		 * alive at pidfd_open, so the number was not recycled and the pidfd is its. What
		 * this cannot rule out: a connector that handed its end to another process
		 * (fork, SCM_RIGHTS) and exited, its pid reused before pidfd_open. */
		pidfd = fp_pidfd_open(cred.pid);
		if (pidfd < 0) {
			fp_error("peer: pidfd_open(%d) failed: %s", (int)cred.pid, strerror(-pidfd));
			return pidfd;
		}
		if (fcntl(pidfd, F_SETFD, FD_CLOEXEC) < 0 || pidfd_pid(pidfd) != cred.pid) {
			fp_error("peer: pid %d exited during verification", (int)cred.pid);
			close(pidfd);
			return -ESRCH;
		}
		r = sock_hung_up(sock);
		if (r != 0) {
			fp_error("peer: pid %d: the connection closed during verification; its pid "
				 "may name another process now", (int)cred.pid);
			close(pidfd);
			return r < 0 ? r : -ENOTCONN;
		}
	} else if (fcntl(pidfd, F_SETFD, FD_CLOEXEC) < 0) {
		r = -errno;
		close(pidfd);
		return r;
	}

	r = read_exe(cred.pid, peer->exe, sizeof(peer->exe));
	if (r < 0) {
		fp_error("peer: cannot read the image of pid %d: %s", (int)cred.pid, strerror(-r));
		goto fail;
	}
	/* The exe link was read from the pid; if the pidfd's process is still alive, that pid
	 * was not recycled in between, so the image belongs to our peer. */
	if (fp_pidfd_exited(pidfd) != 0) {
		fp_error("peer: pid %d exited during verification", (int)cred.pid);
		r = -ESRCH;
		goto fail;
	}
	if (!realpath(expected_exe, want)) {
		r = -errno;
		fp_error("peer: expected source image %s cannot be resolved: %s", expected_exe, strerror(errno));
		goto fail;
	}
	if (strcmp(want, peer->exe) != 0) {
		fp_error("peer: refusing pid %d: image is %s, expected %s", (int)cred.pid, peer->exe,
			 want);
		r = -EPERM;
		goto fail;
	}
	peer->pidfd = pidfd;
	return 0;
fail:
	close(pidfd);
	return r;
}
