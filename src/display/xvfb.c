/* framepush — the Xvfb display kind: a virtual X server at the client's mode.
 *
 * Xvfb picks a free display number itself (-displayfd): it writes the number to a pipe once
 * it accepts connections, so start-up is an event to wait for (bounded), never a sleep or a
 * guessed :N racing another server. Its mode is fixed for its lifetime: a mode change means
 * a new server (set_mode says -ENOTSUP). Applications spawned into it get DISPLAY and are
 * killed with it. The server and every application have the host's death signal
 * (display/child.h): a host killed outright does not leave them running.
 *
 * The server is private to the session: a fresh MIT-MAGIC-COOKIE-1 in an Xauthority file in
 * a 0700 directory of our own (-auth), no TCP. Without it, any local user could read the
 * screen and type into the applications (XTEST), which run as the host's user. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "child.h"
#include "framepush/display.h"
#include "framepush/proto.h"

#define XVFB_EXE "Xvfb"
#define STOP_TIMEOUT_MS 3000

extern char **environ;

struct fp_display {
	struct fp_display_base base;
	pid_t server;
	char name[16];      /* ":N" */
	char auth_dir[64];  /* private 0700 directory holding the cookie, "" if none */
	char auth_path[96]; /* its Xauthority file */
	char auth_env[128]; /* "XAUTHORITY=<auth_path>" for clients */
	pid_t *apps;
	size_t napps, capps;
};

const struct fp_display_impl fp_display_xvfb;

/* Ends pid and its process group (an application's own children too), always reaped. */
static void stop(pid_t pid, const char *what)
{
	if (fp_child_stop(pid, STOP_TIMEOUT_MS))
		fp_warn("xvfb: %s pid %d ignored SIGTERM for %d ms; killed it", what, (int)pid,
			STOP_TIMEOUT_MS);
}

static void xvfb_destroy(struct fp_display *d)
{
	if (!d)
		return;
	/* Applications first: they would only log errors about a vanished server. */
	for (size_t i = 0; i < d->napps; i++)
		stop(d->apps[i], "application");
	stop(d->server, "Xvfb");
	if (d->auth_dir[0]) {
		unlink(d->auth_path);
		rmdir(d->auth_dir);
	}
	free(d->apps);
	free(d);
}

/* One Xauthority record: FamilyWild with no address and no display number, so it matches
 * whatever number Xvfb picks (the server loads every record of its -auth file; clients match
 * a wild record for any display). Big-endian lengths, as libXau writes them. */
static size_t auth_record(uint8_t *buf, const uint8_t cookie[16])
{
	static const char name[] = "MIT-MAGIC-COOKIE-1";
	size_t n = 0;

	buf[n++] = 0xff, buf[n++] = 0xff;  /* family: wild */
	buf[n++] = 0, buf[n++] = 0;        /* address: empty */
	buf[n++] = 0, buf[n++] = 0;        /* display number: empty (any) */
	buf[n++] = 0, buf[n++] = sizeof(name) - 1;
	memcpy(buf + n, name, sizeof(name) - 1);
	n += sizeof(name) - 1;
	buf[n++] = 0, buf[n++] = 16;
	memcpy(buf + n, cookie, 16);
	return n + 16;
}

/* Makes the private directory and its Xauthority file with a fresh cookie. 0 or -errno. */
static int make_cookie(struct fp_display *d)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	uint8_t cookie[16], rec[64];
	size_t len;
	int fd, r = 0;

	if (getrandom(cookie, sizeof(cookie), 0) != (ssize_t)sizeof(cookie))
		return -EIO;
	snprintf(d->auth_dir, sizeof(d->auth_dir), "%s/framepush-x-XXXXXX",
		 base && *base && strlen(base) < 32 && access(base, W_OK) == 0 ? base : "/tmp");
	if (!mkdtemp(d->auth_dir)) { /* 0700: nobody else can even look inside */
		r = -errno;
		fp_error("xvfb: cannot create a private directory %s: %s", d->auth_dir, strerror(errno));
		d->auth_dir[0] = '\0';
		return r;
	}
	snprintf(d->auth_path, sizeof(d->auth_path), "%s/Xauthority", d->auth_dir);
	snprintf(d->auth_env, sizeof(d->auth_env), "XAUTHORITY=%s", d->auth_path);
	fd = open(d->auth_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	len = auth_record(rec, cookie);
	if (write(fd, rec, len) != (ssize_t)len)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	explicit_bzero(cookie, sizeof(cookie));
	explicit_bzero(rec, sizeof(rec));
	return r;
}

static const char *xvfb_client_env(const struct fp_display *d)
{
	return d->auth_env;
}

/* Copies environ with DISPLAY (d's) and XAUTHORITY replaced; NULL on ENOMEM. The caller
 * frees the array and the one string it allocated (the entry before the cookie's is ours). */
static char **env_with_display(const struct fp_display *d, char **mine)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	*mine = malloc(strlen(d->name) + sizeof("DISPLAY="));
	if (!env || !*mine) {
		free(env);
		free(*mine);
		*mine = NULL;
		return NULL;
	}
	sprintf(*mine, "DISPLAY=%s", d->name);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "DISPLAY=", 8) != 0 && strncmp(environ[i], "XAUTHORITY=", 11) != 0)
			env[k++] = environ[i];
	env[k++] = *mine;
	env[k++] = (char *)d->auth_env;
	env[k] = NULL;
	return env;
}

/* Reads the display number Xvfb writes when it is ready, within deadline. */
static int read_display_number(int fd, pid_t server, int64_t deadline, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, fp_ms_until(deadline));
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			fp_error("xvfb: Xvfb pid %d not ready within the start timeout", (int)server);
			return -ETIMEDOUT;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* EOF: the server exited without ever accepting connections. */
			fp_error("xvfb: Xvfb pid %d exited before it was ready (see its messages above)",
				 (int)server);
			return -EIO;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strchr(buf, '\n'))
			return 0;
		if (len >= cap - 1)
			return -EPROTO;
	}
}

/* Starts Xvfb for d (its cookie made) at the mode; *displayfd is the read end of the pipe
 * Xvfb announces its display number on. */
static int start_server(struct fp_display *d, const char *exe, const struct fp_display_opts *opts,
			int *displayfd)
{
	struct fp_display_child child = { .envp = environ, .stdout_fd = -1 };
	char screen[48], fdarg[16];
	char *argv[] = { (char *)XVFB_EXE, (char *)"-displayfd", fdarg, (char *)"-screen",
			 (char *)"0", screen, (char *)"-nolisten", (char *)"tcp", (char *)"-noreset",
			 (char *)"-auth", d->auth_path, NULL };
	int pfd[2], r;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	/* The refresh rate is not an Xvfb property: frames are captured at the host's rate. */
	snprintf(screen, sizeof(screen), "%ux%ux24", opts->width, opts->height);
	snprintf(fdarg, sizeof(fdarg), "%d", pfd[1]);
	/* Only the write end reaches Xvfb (its CLOEXEC cleared in the child alone). */
	child.exe = exe;
	child.argv = argv;
	child.keep_fd = pfd[1];
	r = fp_display_start_child(&child, &d->server);
	/* Only the child may hold the write end: its exit must read as EOF here. */
	close(pfd[1]);
	if (r < 0) {
		fp_error("xvfb: cannot start %s: %s", exe, strerror(-r));
		close(pfd[0]);
		return r;
	}
	*displayfd = pfd[0];
	return 0;
}

/* Reads the "N\n" Xvfb writes to -displayfd once it serves, into d->name. */
static int take_display_number(struct fp_display *d, int fd, int64_t deadline)
{
	unsigned long long n;
	char num[32];
	size_t len;
	int r = read_display_number(fd, d->server, deadline, num, sizeof(num));

	if (r < 0)
		return r;
	len = strlen(num);
	if (len && num[len - 1] == '\n')
		num[len - 1] = '\0';
	if (fp_parse_uint(num, 0, 65535, &n) < 0) {
		fp_error("xvfb: Xvfb wrote an unusable display number '%.16s'", num);
		return -EPROTO;
	}
	snprintf(d->name, sizeof(d->name), ":%llu", n);
	return 0;
}

static int xvfb_create(struct fp_display **out, const struct fp_display_opts *opts)
{
	int64_t timeout = opts->start_timeout_ns ? opts->start_timeout_ns : 10 * FP_NSEC_PER_SEC;
	int64_t deadline = fp_now_ns() + timeout;
	struct fp_display *d;
	char exe[4096];
	int displayfd = -1, r;

	*out = NULL;
	if (opts->width < FP_WIDTH_MIN || opts->width > FP_WIDTH_MAX ||
	    opts->height < FP_HEIGHT_MIN || opts->height > FP_HEIGHT_MAX) {
		fp_error("xvfb: mode %ux%u is outside %ux%u..%ux%u", opts->width, opts->height,
			 FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX);
		return -EINVAL;
	}
	if (fp_display_find_exe(XVFB_EXE, getenv("PATH"), exe, sizeof(exe)) < 0) {
		fp_error("xvfb: Xvfb not installed (no %s in PATH; Debian package xvfb)", XVFB_EXE);
		return -ENOENT;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.impl = &fp_display_xvfb;
	r = make_cookie(d);
	if (r < 0) {
		fp_error("xvfb: cannot write the display's cookie: %s", strerror(-r));
		goto err_destroy;
	}
	r = start_server(d, exe, opts, &displayfd);
	if (r < 0)
		goto err_destroy;
	r = take_display_number(d, displayfd, deadline);
	close(displayfd);
	if (r < 0)
		goto err_destroy;
	fp_info("xvfb: Xvfb pid %d serves display %s at %ux%u", (int)d->server, d->name,
		opts->width, opts->height);
	*out = d;
	return 0;

err_destroy:
	xvfb_destroy(d);
	return r;
}

static const char *xvfb_name(const struct fp_display *d)
{
	return d->name;
}

static int xvfb_set_mode(struct fp_display *d, uint32_t width, uint32_t height, uint32_t hz)
{
	(void)hz;
	/* Xvfb allocates its framebuffer once; another mode means another server. */
	fp_info("xvfb: display %s cannot change to %ux%u; a mode change needs a new display",
		d->name, width, height);
	return -ENOTSUP;
}

static int xvfb_spawn(struct fp_display *d, char *const argv[], pid_t *pid)
{
	struct fp_display_child child = { .argv = argv, .stdout_fd = -1, .keep_fd = -1 };
	char *mine = NULL, **env, exe[4096];
	int r;

	if (!argv || !argv[0])
		return -EINVAL;
	if (d->napps == d->capps) {
		size_t cap = d->capps ? d->capps * 2 : 8;
		pid_t *p = realloc(d->apps, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->apps = p;
		d->capps = cap;
	}
	/* The application gets our environment, so it is found in our PATH (as execvp would). */
	r = fp_display_find_exe(argv[0], getenv("PATH"), exe, sizeof(exe));
	if (r < 0) {
		fp_error("xvfb: cannot start '%s' on %s: not found in PATH", argv[0], d->name);
		return r;
	}
	env = env_with_display(d, &mine);
	if (!env)
		return -ENOMEM;
	child.exe = exe;
	child.envp = env;
	r = fp_display_start_child(&child, pid);
	free(env);
	free(mine);
	if (r < 0) {
		fp_error("xvfb: cannot start %s on %s: %s", argv[0], d->name, strerror(-r));
		return r;
	}
	d->apps[d->napps++] = *pid;
	return 0;
}

const struct fp_display_impl fp_display_xvfb = {
	.kind = "xvfb",
	.create = xvfb_create,
	.destroy = xvfb_destroy,
	.name = xvfb_name,
	.backend = "x11",
	.set_mode = xvfb_set_mode,
	.spawn = xvfb_spawn,
	.client_env = xvfb_client_env,
};
