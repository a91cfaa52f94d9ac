/* framepush — child processes: pidfds, bounded waits, and stopping a child with its group.
 *
 * Every wait here is an event (a pidfd turns readable when the process exits), never a
 * sleep loop, and every child is reaped so no zombie outlives the object that started it. */
#ifndef FP_COMMON_PROC_H
#define FP_COMMON_PROC_H

#include <sys/types.h>

/* A pidfd for pid (close-on-exec, as the kernel always makes it), or -errno. */
int fp_pidfd_open(pid_t pid);

/* Waits up to timeout_ms (< 0: without limit) for the child pid to exit without reaping it: 1 once it has
 * exited (an unreaped zombie then), 0 on timeout. */
int fp_child_exited(pid_t pid, int timeout_ms);

/* Waits up to timeout_ms for the child pid to exit and reaps it: 0 and *status (may be
 * NULL), -ETIMEDOUT while it still runs (not reaped), or -errno. */
int fp_child_wait(pid_t pid, int timeout_ms, int *status);

/* Ends the child pid and, when it leads a process group, everything left in that group:
 * SIGTERM to both, up to grace_ms for the child to exit, SIGKILL after that, then reaps it.
 * The group's leftovers get SIGKILL while the child is still an unreaped zombie, so its
 * group id cannot have been reused by then. Every wait is bounded: a child that survives
 * SIGKILL for 5 s (stuck in the kernel) is left unreaped. Returns 1 when SIGKILL was
 * needed, 0 if not. */
int fp_child_stop(pid_t pid, int grace_ms);

/* For a child between fork and exec (async-signal-safe): drops to uid/gid with no
 * supplementary groups, groups first, then gid, then uid (the other order would lose the
 * right to change them), and refuses to go on as root. 0, or the errno that must stop the
 * child from running. */
int fp_drop_to(uid_t uid, gid_t gid);

/* Makes this process the reaper of every orphan among its descendants (PR_SET_CHILD_SUBREAPER):
 * a program started in a session that setsid()s or double-forks is re-parented here, not to
 * init, so fp_reap_descendants finds it. 0 or -errno. */
int fp_become_subreaper(void);

/* Ends every process whose parent is this one (our children, and the orphans a subreaper
 * inherits), round after round as each one's own orphans arrive: SIGTERM to it and its
 * group, up to grace_ms, then SIGKILL; each reaped. Bounded: at most 64 rounds, and each
 * process is stopped once (one stuck in the kernel past SIGKILL is left, not retried).
 * Returns how many processes it ended. */
int fp_reap_descendants(int grace_ms);

#endif
