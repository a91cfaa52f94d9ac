/* framepush — who is on the other end of a UNIX socket, proven before any fd leaves.
 *
 * uid from SO_PEERCRED, a pidfd from SO_PEERPIDFD (fallback: pidfd_open plus a re-check
 * that the pid still names the same process), and /proc/<pid>/exe against the binary
 * the host expects. The pidfd then doubles as the death probe: readable once it exits. */
#ifndef FP_CHANNEL_PEER_H
#define FP_CHANNEL_PEER_H

#include <limits.h>
#include <sys/types.h>

struct fp_peer {
	pid_t pid;
	uid_t uid;
	int pidfd;           /* owned by the caller after a successful verify */
	char exe[PATH_MAX];  /* the image found */
};

/* Verifies the peer of `sock`: its uid must be expected_uid, its executable the file at
 * expected_exe (compared as resolved paths), and, when expected_pid > 0, its pid that one.
 * On success fills *peer (with a pidfd, CLOEXEC) and returns 0. On mismatch logs the pid, the
 * image found and the image expected and returns -EPERM; other failures return -errno. */
int fp_peer_verify(int sock, const char *expected_exe, uid_t expected_uid, pid_t expected_pid,
		   struct fp_peer *peer);

/* 1 if the process behind pidfd has exited, 0 if alive, -errno on error. */
int fp_pidfd_exited(int pidfd);

#endif
