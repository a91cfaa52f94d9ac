#include "channel/peer.h"

#include <errno.h>
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

/* uid and pid from SO_PEERCRED, fixed at connect, against what the caller expects. */
static int check_cred(int sock, uid_t expected_uid, pid_t expected_pid, struct fp_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		r = -errno;
		fp_error("peer: SO_PEERCRED on socket %d failed: %s", sock, strerror(-r));
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
	return 0;
}

/* Before Linux 6.5: the pid SO_PEERCRED reports was fixed at connect, so pidfd_open of it
 * names whoever holds that number now, and the connector may have exited and its pid been
 * recycled. If, after pidfd_open, the socket's other end is still open, some process still
 * holds it; when that is the connector, it was alive at pidfd_open, so the number was not
 * recycled and the pidfd is its. What this cannot rule out: a connector that handed its end
 * to another process (fork, SCM_RIGHTS) and exited, its pid reused before pidfd_open.
 * Returns the pidfd (CLOEXEC) or -errno. */
static int pinned_pidfd(int sock, pid_t pid)
{
	int pidfd = fp_pidfd_open(pid), r;

	if (pidfd < 0) {
		fp_error("peer: pidfd_open(%d) failed: %s", (int)pid, strerror(-pidfd));
		return pidfd;
	}
	if (pidfd_pid(pidfd) != pid) {
		fp_error("peer: pid %d exited during verification", (int)pid);
		r = -ESRCH;
		goto err_close_pidfd;
	}
	r = sock_hung_up(sock);
	if (r != 0) {
		fp_error("peer: pid %d: the connection closed during verification; its pid may "
			 "name another process now", (int)pid);
		r = r < 0 ? r : -ENOTCONN;
		goto err_close_pidfd;
	}
	return pidfd;

err_close_pidfd:
	close(pidfd);
	return r;
}

/* The peer's pidfd: exact from the socket (SO_PEERPIDFD) where the kernel has it, else
 * pinned_pidfd. Returns it (CLOEXEC) or -errno. */
static int peer_pidfd(int sock, struct fp_peer *peer, unsigned flags)
{
	socklen_t len = sizeof(int);
	int pidfd = -1, r;

	if (flags & FP_PEER_NO_SOCKET_PIDFD)
		return pinned_pidfd(sock, peer->pid);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		r = -errno;
		if (r == -ENOPROTOOPT || r == -EINVAL) /* a kernel before 6.5 */
			return pinned_pidfd(sock, peer->pid);
		fp_error("peer: SO_PEERPIDFD for pid %d failed: %s", (int)peer->pid, strerror(-r));
		return r;
	}
	/* Close-on-exec already: the kernel makes every pidfd so. */
	peer->pidfd_from_socket = 1;
	return pidfd;
}

/* The image of the process behind pidfd (fills peer->exe) against expected_exe. */
static int check_image(struct fp_peer *peer, int pidfd, const char *expected_exe)
{
	char want[PATH_MAX];
	int r = read_exe(peer->pid, peer->exe, sizeof(peer->exe));

	if (r < 0) {
		fp_error("peer: cannot read the image of pid %d: %s", (int)peer->pid, strerror(-r));
		return r;
	}
	/* The exe link was read from the pid; if the pidfd's process is still alive, that pid
	 * was not recycled in between, so the image belongs to our peer. */
	if (fp_pidfd_exited(pidfd) != 0) {
		fp_error("peer: pid %d exited during verification", (int)peer->pid);
		return -ESRCH;
	}
	if (!realpath(expected_exe, want)) {
		r = -errno;
		fp_error("peer: expected source image %s cannot be resolved: %s", expected_exe,
			 strerror(-r));
		return r;
	}
	if (strcmp(want, peer->exe) != 0) {
		fp_error("peer: refusing pid %d: image is %s, expected %s", (int)peer->pid, peer->exe,
			 want);
		return -EPERM;
	}
	return 0;
}

int fp_peer_verify_flags(int sock, const char *expected_exe, uid_t expected_uid,
			 pid_t expected_pid, unsigned flags, struct fp_peer *peer)
{
	int pidfd, r;

	memset(peer, 0, sizeof(*peer));
	peer->pidfd = -1;
	r = check_cred(sock, expected_uid, expected_pid, peer);
	if (r < 0)
		return r;
	pidfd = peer_pidfd(sock, peer, flags);
	if (pidfd < 0)
		return pidfd;
	r = check_image(peer, pidfd, expected_exe);
	if (r < 0)
		goto err_close_pidfd;
	peer->pidfd = pidfd;
	return 0;

err_close_pidfd:
	close(pidfd);
	return r;
}

int fp_peer_verify(int sock, const char *expected_exe, uid_t expected_uid, pid_t expected_pid,
		   struct fp_peer *peer)
{
	return fp_peer_verify_flags(sock, expected_exe, expected_uid, expected_pid, 0, peer);
}
