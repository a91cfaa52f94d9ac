/* framepush — the frame-ready eventfd, used so that neither end can wedge the other.
 *
 * Host and source share one open file description of the eventfd, and with it its file
 * status flags: either side can clear O_NONBLOCK, consume the count between the other's
 * poll() and read(), or fill the counter so that the other's write() would block. So
 * neither side trusts the flag: the host reads with a per-call RWF_NOWAIT, and the source
 * writes only after a poll says there is room, under a timer that interrupts a write the
 * host managed to block anyway. */
#ifndef FP_CHANNEL_EVENT_H
#define FP_CHANNEL_EVENT_H

#include <stdint.h>

/* The longest a source's signal can take when a hostile host fills the counter in the
 * window between the source's poll and its write. */
#define FP_EVENT_GUARD_MS 50

/* Host: takes whatever count is pending, never blocking whatever the fd's flags say.
 * Returns 1 when there was a count, 0 when there was none, -EOPNOTSUPP on a kernel without
 * RWF_NOWAIT reads of an eventfd (< 5.12): the caller must then stop waiting on it. */
int fp_event_consume(int fd);

/* Source: adds one to the count. Returns 0; -EAGAIN when the counter is full (the host has
 * wakeups pending: nothing is lost); -ETIMEDOUT when the write blocked and the guard timer
 * ended it after FP_EVENT_GUARD_MS (only a hostile host does that); or another -errno. */
int fp_event_signal(int fd);

/* The write under fp_event_signal, without its poll: adds value, and a write that blocks
 * (O_NONBLOCK cleared, counter full) is cut short after guard_ms with -ETIMEDOUT. The
 * calling thread must not block the guard's realtime signal (SIGRTMIN + 4). */
int fp_event_write_guarded(int fd, uint64_t value, int guard_ms);

#endif
