#include "common/proc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

int fp_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

/* Without a pidfd (kernel < 5.3) this falls back to a waitid(WNOWAIT) look every 10 ms. */
int fp_child_exited(pid_t pid, int timeout_ms)
{
	int fd = fp_pidfd_open(pid);

	if (fd >= 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
		int r;

		do
			r = poll(&p, 1, timeout_ms < 0 ? -1 : fp_ms_until(deadline));
		while (r < 0 && errno == EINTR);
		close(fd);
		return r != 0;
	}
	for (int t = 0;; t += 10) {
		siginfo_t si = { 0 };

		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid)
			return 1; /* exited, or not ours to wait for: waitpid below says which */
		if (timeout_ms >= 0 && t >= timeout_ms)
			return 0;
		usleep(10000);
	}
}

static int reap(pid_t pid, int *status)
{
	int st = 0;
	pid_t r;

	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (status)
		*status = st;
	return 0;
}

int fp_child_wait(pid_t pid, int timeout_ms, int *status)
{
	if (pid <= 0)
		return -EINVAL;
	if (!fp_child_exited(pid, timeout_ms))
		return -ETIMEDOUT;
	return reap(pid, status);
}

int fp_child_stop(pid_t pid, int grace_ms)
{
	int killed = 0;

	if (pid <= 0)
		return 0;
	/* kill(-pid) fails with ESRCH when pid leads no group: then only pid is signalled. */
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	if (!fp_child_exited(pid, grace_ms)) {
		kill(pid, SIGKILL);
		killed = 1;
		if (!fp_child_exited(pid, 5000)) {
			/* Stuck in the kernel (D state): never wait on it without a bound. */
			kill(-pid, SIGKILL);
			return killed;
		}
	}
	kill(-pid, SIGKILL);
	reap(pid, NULL);
	return killed;
}

int fp_drop_to(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return errno;
	return geteuid() == 0 || getuid() == 0 ? EPERM : 0;
}

int fp_become_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -errno : 0;
}

/* The parent pid in /proc/<pid>/stat: the field after the command, which may itself hold
 * spaces and parentheses, so it is found from the last ')'. -1 when unreadable. */
static pid_t parent_of(long pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

/* Our children now, at most cap of them. */
static size_t list_children(pid_t *out, size_t cap)
{
	pid_t self = getpid();
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < cap) {
		unsigned long long pid;

		if (fp_parse_uint(e->d_name, 1, INT_MAX, &pid) < 0)
			continue; /* ".", "self", "sys", ...: not a process */
		if (parent_of((long)pid) == self)
			out[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

static int listed(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

int fp_reap_descendants(int grace_ms)
{
	pid_t kids[256];
	/* Children fp_child_stop had to leave unreaped (stuck in the kernel past SIGKILL).
	 * /proc lists them every round; stopping them again would only wait out the same
	 * grace + 5 s each time and count them again, so each is stopped, and counted, once. */
	pid_t stuck[256];
	size_t nstuck = 0;
	int ended = 0;

	for (int round = 0; round < 64; round++) {
		size_t n = list_children(kids, FP_ARRAY_LEN(kids));
		int fresh = 0;

		for (size_t i = 0; i < n; i++) {
			if (listed(stuck, nstuck, kids[i]))
				continue;
			fp_child_stop(kids[i], grace_ms);
			ended++;
			fresh++;
			if (parent_of((long)kids[i]) != getpid())
				continue; /* reaped */
			if (nstuck == FP_ARRAY_LEN(stuck))
				return ended; /* more stuck than we can remember: end, not wait again */
			stuck[nstuck++] = kids[i];
		}
		if (fresh == 0)
			break; /* none left, or only the stuck ones */
	}
	return ended;
}
