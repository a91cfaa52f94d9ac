/* framepush — who is on the other end of a UNIX socket, proven before any fd leaves.
 *
 * uid from SO_PEERCRED, a pidfd from SO_PEERPIDFD (fallback before Linux 6.5: pidfd_open of
 * the SO_PEERCRED pid, trusted only while the connection is still open; see
 * doc/channel.md for what that does and does not prove), and /proc/<pid>/exe against the
 * binary the host expects. The pidfd then doubles as the death probe: readable once it exits. */
#ifndef FP_CHANNEL_PEER_H
#define FP_CHANNEL_PEER_H

#include <limits.h>
#include <sys/types.h>

struct fp_peer {
	pid_t pid;
	uid_t uid;
	int pidfd;           /* owned by the caller after a successful verify */
	int pidfd_from_socket; /* 1: SO_PEERPIDFD (exact); 0: pidfd_open fallback */
	char exe[PATH_MAX];  /* the image found */
};

/* Verifies the peer of `sock`: its uid must be expected_uid, its executable the file at
 * expected_exe (compared as resolved paths), and, when expected_pid > 0, its pid that one.
 * On success fills *peer (with a pidfd, CLOEXEC) and returns 0. On mismatch logs the pid, the
 * image found and the image expected and returns -EPERM; -ENOTCONN when, on the fallback
 * path, the connection closed before the pid could be pinned; other failures -errno. */
int fp_peer_verify(int sock, const char *expected_exe, uid_t expected_uid, pid_t expected_pid,
		   struct fp_peer *peer);

/* fp_peer_verify with flags, for tests. FP_PEER_NO_SOCKET_PIDFD takes the pre-6.5 path
 * (pidfd_open of the SO_PEERCRED pid) even where SO_PEERPIDFD exists, so that the fallback
 * is tested on any kernel. Only code can ask for it: nothing a user sets weakens the check
 * of a production build. */
#define FP_PEER_NO_SOCKET_PIDFD 0x1u
int fp_peer_verify_flags(int sock, const char *expected_exe, uid_t expected_uid,
			 pid_t expected_pid, unsigned flags, struct fp_peer *peer);

/* 1 if the process behind pidfd has exited, 0 if alive, -errno on error. */
int fp_pidfd_exited(int pidfd);

#endif
