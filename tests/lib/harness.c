#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/proc.h"

extern char **environ;

const char *fpt_build_path(const char *rel, char *buf, size_t cap)
{
	const char *root = getenv("FRAMEPUSH_BUILD_ROOT");

	snprintf(buf, cap, "%s/%s", root ? root : ".", rel);
	return buf;
}

pid_t fpt_spawn(char *const argv[])
{
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);

	return r ? -r : pid;
}

int fpt_wait(pid_t pid, int timeout_ms)
{
	int status, r = fp_child_wait(pid, timeout_ms, &status);

	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		fp_child_wait(pid, -1, NULL);
	}
	return r < 0 ? r : status;
}

int fpt_exit_code(int status)
{
	if (status < 0)
		return status;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int fpt_world_copy(const char *src, char *out, size_t cap)
{
	char dir[] = "/tmp/fpt-bin-XXXXXX", buf[65536];
	const char *base = strrchr(src, '/');
	int in, o, r = 0;
	ssize_t n;

	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		return -errno;
	snprintf(out, cap, "%s/%s", dir, base ? base + 1 : src);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	o = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (o < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(o, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	close(in);
	if (close(o) < 0 && !r)
		r = -errno;
	return r;
}

static int skipped;

void fpt_skip_note(const char *fmt, ...)
{
	char why[256];
	const char *ci = getenv("CI");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ci && !strcmp(ci, "true"))
		fail_msg("%s: in CI every backend is installed, so this is a failure, not a skip", why);
	fprintf(stderr, "SKIP: %s\n", why);
	skipped++;
}

int fpt_exit(int failed)
{
	return failed ? 1 : skipped ? 77 : 0;
}
