#include "channel/event.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

int fp_event_consume(int fd)
{
	uint64_t v;
	struct iovec io = { .iov_base = &v, .iov_len = sizeof(v) };
	ssize_t n;

	/* RWF_NOWAIT is this call's own: the peer cannot take it away like O_NONBLOCK. */
	do
		n = preadv2(fd, &io, 1, -1, RWF_NOWAIT);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(v))
		return 1;
	if (n < 0 && errno == EAGAIN)
		return 0;
	return n < 0 ? -errno : -EIO;
}

/* A realtime signal with a handler that does nothing: its only job is to make a write()
 * the host blocked return EINTR. SA_RESTART is off for that reason. */
#define GUARD_SIG (SIGRTMIN + 4)

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static int guard_sig_ok;

static void guard_handler(int sig)
{
	(void)sig;
}

static void guard_install(void)
{
	struct sigaction sa = { .sa_handler = guard_handler };

	sigemptyset(&sa.sa_mask);
	guard_sig_ok = sigaction(GUARD_SIG, &sa, NULL) == 0;
}

/* One timer per publishing thread, aimed at that thread only; made on first use. */
static _Thread_local timer_t guard_timer;
static _Thread_local int guard_state; /* 0 not tried, 1 ready, -1 unavailable */

static int guard_arm(long ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L } };

	if (guard_state == 0) {
		struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = GUARD_SIG };
		sigset_t set;

		pthread_once(&guard_once, guard_install);
		sev._sigev_un._tid = gettid(); /* glibc 2.36 names no macro for it */
		sigemptyset(&set);
		sigaddset(&set, GUARD_SIG);
		guard_state = guard_sig_ok && pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 &&
				      timer_create(CLOCK_MONOTONIC, &sev, &guard_timer) == 0
			      ? 1 : -1;
	}
	return guard_state == 1 && timer_settime(guard_timer, 0, &its, NULL) == 0 ? 0 : -1;
}

int fp_event_write_guarded(int fd, uint64_t value, int guard_ms)
{
	ssize_t n;
	int guarded, err;

	guarded = guard_arm(guard_ms) == 0;
	n = write(fd, &value, sizeof(value));
	err = n < 0 ? errno : 0;
	if (guarded)
		guard_arm(0);
	if (n == (ssize_t)sizeof(value))
		return 0;
	if (err == EINTR)
		return -ETIMEDOUT;
	return err ? -err : -EIO;
}

int fp_event_signal(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	/* No room: the count is at its maximum, so the host has wakeups enough pending. */
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
		return p.revents & (POLLERR | POLLNVAL) ? -EBADF : -EAGAIN;
	/* The host can fill the counter (and clear O_NONBLOCK) between poll and write: then the
	 * write blocks, and only the guard's signal gets it out. */
	return fp_event_write_guarded(fd, 1, FP_EVENT_GUARD_MS);
}
