#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc.h"
#include "common/util.h"

static int is_exe(const char *p)
{
	struct stat st;

	/* access() alone accepts directories, and for root any file with one x bit. */
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int fp_display_find_exe(const char *name, const char *path, char *out, size_t cap)
{
	if (!name || !*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if ((size_t)snprintf(out, cap, "%s", name) >= cap)
			return -ENAMETOOLONG;
		return 0;
	}
	if (!path || !*path)
		path = FP_DISPLAY_PATH;
	while (*path) {
		size_t n = strcspn(path, ":");
		int k = snprintf(out, cap, "%.*s/%s", (int)n, path, name);

		/* An empty entry means the working directory in execvp; never here. */
		if (n && k > 0 && (size_t)k < cap && is_exe(out))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* Between fork and exec: async-signal-safe calls only. Returns 0, or the errno of a step
 * without which the child must not run (it then never execs). */
static int child_setup(const struct fp_display_child *c, pid_t parent)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	setpgid(0, 0); /* its own group: stopping it ends its children too */
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	if (c->keep_fd >= 0 && fcntl(c->keep_fd, F_SETFD, 0) < 0)
		return errno;
	if (c->drop) {
		int e = fp_drop_to(c->uid, c->gid); /* a child must never run on as root */

		if (e)
			return e;
	}
	/* After the drop: the log may sit in a directory the child's account owns, and root
	 * must not open what that account could have planted there (a FIFO, a symlink). */
	if (c->log_path) {
		int lf = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (lf >= 0) {
			dup2(lf, STDOUT_FILENO);
			dup2(lf, STDERR_FILENO);
		}
	}
	if (c->stdout_fd >= 0)
		dup2(c->stdout_fd, STDOUT_FILENO);
	if (c->cwd && chdir(c->cwd) < 0)
		(void)!chdir("/");
	/* After the uid change, which clears it. Then check the parent: if it died before
	 * the prctl, no signal will ever come. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		return errno;
	if (getppid() != parent)
		return ESRCH;
	return 0;
}

int fp_display_start_child(const struct fp_display_child *c, pid_t *pid_out)
{
	pid_t parent = getpid(), pid;
	int pfd[2], err = 0;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		int e;

		close(pfd[0]);
		e = child_setup(c, parent);
		if (!e && c->run) {
			int ready = pfd[1];

			e = c->run(c->run_arg, &ready);
			if (ready < 0) /* it ran: its status tells the rest */
				_exit(e ? 1 : 0);
			e = e ? e : EPROTO; /* ended before it was ready, and said nothing */
		} else if (!e) {
			execve(c->exe, c->argv, c->envp);
			e = errno;
		}
		/* The pipe is close-on-exec: only a child that never ran the program writes. */
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -err;
	}
	*pid_out = pid;
	return 0;
}

/* Reads the pipe until end of file or the deadline; what fits goes to out. */
static void read_all(int fd, char *out, size_t cap, int64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char sink[4096];
		int ms = fp_ms_until(deadline);
		ssize_t k;

		if (ms == 0 || poll(&p, 1, ms) <= 0)
			break;
		k = out && len + 1 < cap ? read(fd, out + len, cap - 1 - len)
					 : read(fd, sink, sizeof(sink));
		if (k <= 0)
			break;
		if (out && len + 1 < cap)
			len += (size_t)k;
	}
	if (out && cap)
		out[len] = '\0';
}

int fp_display_run_child(const struct fp_display_child *c, char *out, size_t cap,
			 int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
	struct fp_display_child run = *c;
	int pfd[2], r, st = 0;
	pid_t pid;

	if (out && cap)
		out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	run.stdout_fd = pfd[1];
	r = fp_display_start_child(&run, &pid);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		return r;
	}
	read_all(pfd[0], out, cap, deadline);
	close(pfd[0]);
	r = fp_child_wait(pid, fp_ms_until(deadline) + 100, &st);
	if (r < 0) {
		fp_child_stop(pid, 100);
		return r;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
