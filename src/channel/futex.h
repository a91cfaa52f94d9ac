/* framepush — futex wait/wake on a 32-bit word in shared memory (not FUTEX_PRIVATE: the
 * word is mapped by two processes). */
#ifndef FP_CHANNEL_FUTEX_H
#define FP_CHANNEL_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleeps while *word == expected, at most timeout_ns. Returns 0 on wake-up or value change,
 * -ETIMEDOUT, or -EINTR. */
static inline int fp_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };

	if (syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, NULL, 0) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}

static inline void fp_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

#endif
