#include "sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/log.h"
#include "common/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define FP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FP_ASAN 1
#endif
#endif

/* What the backends (test, X11 over xcb, wlroots over libwayland), glibc and the channel
 * use in steady state: socket I/O on connections that exist, shared memory they were given
 * (a ring recreate maps new slots; the wlr backend may make a bounce buffer), waits, timers
 * (the eventfd write guard), signals, memory, exit. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(preadv2), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(lseek), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(shutdown), SCMP_SYS(fcntl),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(memfd_create), SCMP_SYS(ftruncate), SCMP_SYS(futex), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getrandom), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall),
	SCMP_SYS(timer_create), SCMP_SYS(timer_settime), SCMP_SYS(timer_gettime),
	SCMP_SYS(timer_delete), SCMP_SYS(sched_yield), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(mprotect), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	/* The attach check names an fd's object through /proc/self/fd (an eventfd or not). */
	SCMP_SYS(readlink), SCMP_SYS(readlinkat),
};

#ifdef FP_ASAN
/* AddressSanitizer's runtime symbolizes reports (files under /proc) and LeakSanitizer
 * stops the world at exit (a traced clone): allowed in sanitizer builds only. */
static const int asan_extra[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(getdents), SCMP_SYS(getdents64),
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid),
	SCMP_SYS(prctl), SCMP_SYS(sigaltstack), SCMP_SYS(sched_getaffinity), SCMP_SYS(getrlimit),
	SCMP_SYS(prlimit64), SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(process_vm_readv),
	SCMP_SYS(pipe2), SCMP_SYS(getppid), SCMP_SYS(uname), SCMP_SYS(dup), SCMP_SYS(dup2),
};
#endif

int fp_source_sandbox(void)
{
	scmp_filter_ctx ctx;
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		fp_error("sandbox: PR_SET_NO_NEW_PRIVS failed: %s", strerror(errno));
		return r;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); /* every thread, not just this one */
	for (size_t i = 0; r == 0 && i < FP_ARRAY_LEN(allowed); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
#ifdef FP_ASAN
	for (size_t i = 0; r == 0 && i < FP_ARRAY_LEN(asan_extra); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, asan_extra[i], 0);
#else
	/* A library that looks for a file (locale, timezone) gets a refusal it handles, not a
	 * dead source; one that tries to reach anything else does not get that chance. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
#endif
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		fp_error("sandbox: installing the seccomp filter failed: %s", strerror(-r));
	return r;
}
