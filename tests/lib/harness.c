#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/proc.h"
#include "common/util.h"

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

/* fpt_spawn_io, and stderr to err_fd where that is not -1 (else inherited). */
static pid_t spawn_io(char *const argv[], int out_fd, int err_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(r));
		return -r;
	}
	return pid;
}

pid_t fpt_spawn_io(char *const argv[], int out_fd)
{
	return spawn_io(argv, out_fd, -1);
}

/* Reads fd until EOF or the deadline into out (cap - 1 bytes kept, the rest read and
 * dropped so the child never blocks on a full pipe). Returns the bytes kept. */
static size_t read_until(int fd, char *out, size_t cap, int64_t deadline)
{
	size_t used = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char sink[4096];
		ssize_t n;
		int r, ms = fp_ms_until(deadline);

		if (ms == 0)
			break;
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (used + 1 < cap)
			n = read(fd, out + used, cap - 1 - used);
		else
			n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < cap)
			used += (size_t)n;
	}
	return used;
}

/* fpt_run, capturing stderr instead of stdout when err (stdout then goes to /dev/null). */
static int run_captured(char *const argv[], bool err, char *out, size_t cap, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
	size_t used;
	int p[2], st;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = err ? spawn_io(argv, -1, p[1]) : spawn_io(argv, p[1], -1);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return pid;
	}
	used = read_until(p[0], out, cap, deadline);
	close(p[0]);
	if (cap)
		out[used] = '\0';
	st = fpt_wait(pid, fp_ms_until(deadline) + 100);
	if (st == -ETIMEDOUT)
		fprintf(stderr, "%s overstayed %d ms: killed\n", argv[0], timeout_ms);
	return fpt_exit_code(st);
}

int fpt_run(char *const argv[], char *out, size_t cap, int timeout_ms)
{
	return run_captured(argv, false, out, cap, timeout_ms);
}

int fpt_run_stderr(char *const argv[], char *out, size_t cap, int timeout_ms)
{
	return run_captured(argv, true, out, cap, timeout_ms);
}

int fpt_free_port(bool udp)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0), port;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	else
		port = -errno;
	close(fd);
	return port;
}

static bool port_seen(int port, bool udp)
{
	FILE *f = fopen(udp ? "/proc/net/udp" : "/proc/net/tcp", "re");
	char line[512];
	bool seen = false;

	if (!f)
		return false;
	while (!seen && fgets(line, sizeof(line), f)) {
		unsigned addr, lport, st;

		/* "  sl  local_address rem_address   st ..." -> "0: 0100007F:1F90 00000000:0000 0A"
		 * (the kernel's own table, not peer input) */
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &addr, &lport, &st) != 3)
			continue;
		if ((int)lport != port)
			continue;
		seen = udp ? true : st == 0x0A; /* TCP_LISTEN */
	}
	fclose(f);
	return seen;
}

bool fpt_wait_port(int port, bool udp, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;

	for (;;) {
		if (port_seen(port, udp))
			return true;
		if (fp_now_ns() > deadline)
			return false;
		/* Polled: nothing announces another process's bind (no inotify on /proc/net, and
		 * the listeners here, ffmpeg, print nothing when ready). 20 ms steps, bounded. */
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
}

unsigned fpt_count(const char *hay, const char *needle)
{
	size_t len = strlen(needle);
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

char *fpt_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/fpt-XXXXXX", base) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

void fpt_rmdir(char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!dir)
		return;
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d))) {
			char p[4096];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

char *fpt_tmp;

int fpt_group_setup(void **state)
{
	(void)state;
	fpt_tmp = fpt_tmpdir();
	return fpt_tmp ? 0 : -1;
}

int fpt_group_teardown(void **state)
{
	(void)state;
	if (getenv("FRAMEPUSH_KEEP_TMP"))
		fprintf(stderr, "kept %s\n", fpt_tmp);
	else
		fpt_rmdir(fpt_tmp);
	fpt_tmp = NULL;
	return 0;
}

uint8_t *fpt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
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

void fpt_world_remove(char *copy)
{
	char *slash = strrchr(copy, '/');

	unlink(copy);
	if (slash) {
		*slash = '\0';
		rmdir(copy);
	}
}

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

int fpt_select_test(const char *prog, const struct CMUnitTest *tests, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(tests[i].name, name)) {
			cmocka_set_test_filter(name);
			return 0;
		}
	}
	fprintf(stderr, "%s: no test named '%s'\n", prog, name);
	return -1;
}
