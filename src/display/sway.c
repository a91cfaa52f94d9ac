/* framepush — the "sway" display kind: a headless wlroots compositor at the client's mode.
 *
 * sway refuses to run as root, and a compositor is a large attack surface anyway: as root we
 * run it, every application started in it and the source that captures it as an account of
 * this session alone: a fresh uid/gid with no passwd entry, no home and no groups, unused by
 * any process when it is picked (or opts->user when given). A process one session leaves
 * behind therefore cannot reach the next session's sockets. Everything sway needs lives in a
 * private runtime directory (mode 0700, owned by that account): the Wayland socket, the IPC
 * socket (SWAYSOCK), the config and sway's log. Root writes the config before it hands the
 * directory over, and afterwards opens nothing in it but through checks that a planted FIFO
 * or symlink cannot pass.
 *
 * Readiness is event-driven: inotify on the runtime directory for both sockets, a pidfd for
 * an early exit, then `swaymsg -t get_outputs` must list the output at the asked mode.
 * With opts->portal, the portal desktop (desktop.h) starts once the output is there. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "child.h"
#include "desktop.h"
#include "framepush/display.h"
#include "framepush/proto.h"

/* Session accounts: uids (= gids) from this range, far above what useradd hands out and
 * above systemd's dynamic users (61184..65519). */
#define SESSION_UID_BASE 0x5f000000u
#define SESSION_UID_SPAN 0x00ffffffu
#define MAX_APPS 32
#define WL_SOCKET "wayland-1"
#define IPC_SOCKET "sway-ipc.sock"
#define SWAYMSG_TIMEOUT_MS 5000
#define EXIT_WAIT_MS 2000
#define TERM_WAIT_MS 1000
#define PORTAL_START_TIMEOUT_NS (20 * FP_NSEC_PER_SEC) /* sway, then five more services */
#define LEFTOVER_ROUNDS 4

extern const struct fp_display_impl fp_display_sway;

struct fp_display {
	struct fp_display_base base;
	pid_t sway;
	int sway_pidfd;
	uid_t uid;
	gid_t gid;
	int drop; /* run children as uid/gid (we are root) */
	int fresh_uid; /* the account is this session's alone: whatever runs as it is ours */
	struct fp_desktop *desktop; /* opts->portal: the ScreenCast portal's session */
	char dir[PATH_MAX];
	char wl_path[PATH_MAX + 32];
	char ipc_path[PATH_MAX + 32];
	char output[64];
	uint32_t width, height, hz;
	pid_t apps[MAX_APPS];
	size_t n_apps;
};

/* The environment of everything started inside the display: nothing of ours leaks in. */
static void build_env(const struct fp_display *d, char bufs[][PATH_MAX + 64], char **envp,
		      int for_sway)
{
	size_t n = 0;

	snprintf(bufs[n], sizeof(bufs[n]), "XDG_RUNTIME_DIR=%s", d->dir), n++;
	snprintf(bufs[n], sizeof(bufs[n]), "HOME=%s", d->dir), n++;
	snprintf(bufs[n], sizeof(bufs[n]), "PATH=%s", FP_DISPLAY_PATH), n++;
	snprintf(bufs[n], sizeof(bufs[n]), "SWAYSOCK=%s", d->ipc_path), n++;
	if (for_sway) {
		snprintf(bufs[n], sizeof(bufs[n]), "WLR_BACKENDS=headless"), n++;
		snprintf(bufs[n], sizeof(bufs[n]), "WLR_RENDERER=pixman"), n++;
		snprintf(bufs[n], sizeof(bufs[n]), "WLR_LIBINPUT_NO_DEVICES=1"), n++;
		snprintf(bufs[n], sizeof(bufs[n]), "WLR_HEADLESS_OUTPUTS=1"), n++;
	} else {
		snprintf(bufs[n], sizeof(bufs[n]), "WAYLAND_DISPLAY=%s", WL_SOCKET), n++;
		snprintf(bufs[n], sizeof(bufs[n]), "XDG_SESSION_TYPE=wayland"), n++;
		if (d->desktop) { /* the portal's session, found as a desktop finds it */
			snprintf(bufs[n], sizeof(bufs[n]), "DBUS_SESSION_BUS_ADDRESS=%s",
				 fp_desktop_bus(d->desktop)), n++;
			snprintf(bufs[n], sizeof(bufs[n]), "XDG_CURRENT_DESKTOP=sway"), n++;
		}
	}
	if (getenv("FRAMEPUSH_LOG"))
		snprintf(bufs[n], sizeof(bufs[n]), "FRAMEPUSH_LOG=%s", getenv("FRAMEPUSH_LOG")), n++;
	for (size_t i = 0; i < n; i++)
		envp[i] = bufs[i];
	envp[n] = NULL;
}

/* Starts exe in the runtime directory, optionally as the display user, with stdout and
 * stderr to log_path and/or stdout to out_fd (display/child.h: own group, death signal). */
static int start_child(const struct fp_display *d, const char *exe, char *const argv[],
		       char *const envp[], int drop, const char *log_path, int out_fd, pid_t *pid_out)
{
	struct fp_display_child c = {
		.exe = exe, .argv = argv, .envp = envp, .cwd = d->dir, .log_path = log_path,
		.stdout_fd = out_fd, .keep_fd = -1, .drop = drop, .uid = d->uid, .gid = d->gid,
	};

	return fp_display_start_child(&c, pid_out);
}

/* Runs swaymsg with args as the display's user (it only needs the IPC socket, which that
 * user owns, so it needs no root); the reply goes to out
 * (NUL-terminated, may be NULL). Returns swaymsg's exit code or -errno. */
static int swaymsg(const struct fp_display *d, char *out, size_t out_cap, const char *a1,
		   const char *a2, const char *a3, const char *a4, const char *a5, const char *a6)
{
	char *argv[12] = { (char *)"/usr/bin/swaymsg", (char *)"-s", (char *)d->ipc_path };
	char bufs[10][PATH_MAX + 64];
	char *envp[11];
	const char *extra[] = { a1, a2, a3, a4, a5, a6 };
	size_t n = 3;
	/* stderr to /dev/null: `exit` always "fails" to read its reply, and a real failure is
	 * in the JSON reply on stdout, which callers log. */
	struct fp_display_child c = {
		.exe = argv[0], .argv = argv, .envp = envp, .cwd = d->dir, .log_path = "/dev/null",
		.keep_fd = -1, .drop = d->drop, .uid = d->uid, .gid = d->gid,
	};

	for (size_t i = 0; i < FP_ARRAY_LEN(extra) && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	build_env(d, bufs, envp, 0);
	return fp_display_run_child(&c, out, out_cap, SWAYMSG_TIMEOUT_MS);
}

/* The decimal after key in json ("\"width\": 1920"), strict and bounded: at most 5 digits
 * copied out, then fp_parse_uint. 0, -ENOENT (no number there) or -ERANGE (outside
 * [min, max]: a mode no ring can carry). */
static int json_dimension(const char *json, const char *key, uint32_t min, uint32_t max,
			  uint32_t *out)
{
	const char *p = strstr(json, key);
	char digits[6];
	unsigned long long v;
	size_t n = 0;

	if (!p)
		return -ENOENT;
	p += strlen(key);
	while (n + 1 < sizeof(digits) && p[n] >= '0' && p[n] <= '9') {
		digits[n] = p[n];
		n++;
	}
	digits[n] = '\0';
	if (!n)
		return -ENOENT;
	if ((p[n] >= '0' && p[n] <= '9') || fp_parse_uint(digits, min, max, &v) < 0)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* Finds the first output's name and current mode in a get_outputs reply. The reply comes
 * from the compositor we started, but is still parsed defensively (bounded copies). */
static int parse_outputs(const char *json, char *name, size_t name_cap, uint32_t *w, uint32_t *h)
{
	const char *p = strstr(json, "\"name\": \""), *m;
	size_t n = 0;
	int r;

	if (!p)
		return -ENOENT;
	p += strlen("\"name\": \"");
	while (p[n] && p[n] != '"' && n + 1 < name_cap)
		n++;
	memcpy(name, p, n);
	name[n] = '\0';
	m = strstr(p, "\"current_mode\"");
	if (!m)
		return -ENOENT;
	r = json_dimension(m, "\"width\": ", FP_WIDTH_MIN, FP_WIDTH_MAX, w);
	return r < 0 ? r : json_dimension(m, "\"height\": ", FP_HEIGHT_MIN, FP_HEIGHT_MAX, h);
}

static int query_output(struct fp_display *d, uint32_t *w, uint32_t *h)
{
	char reply[16384];
	int r = swaymsg(d, reply, sizeof(reply), "-r", "-t", "get_outputs", NULL, NULL, NULL);

	if (r != 0)
		return r < 0 ? r : -EIO;
	return parse_outputs(reply, d->output, sizeof(d->output), w, h);
}

/* ---- user and runtime directory ---- */

static int lookup_user(struct fp_display *d, const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		fp_error("sway display: user '%s' does not exist; sway cannot run as root", user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		fp_error("sway display: user '%s' is root; sway refuses to run as root", user);
		return -EPERM;
	}
	d->uid = pw->pw_uid;
	d->gid = pw->pw_gid;
	d->drop = 1;
	return 0;
}

/* 1 when a process of uid runs now (the /proc/<pid> directory belongs to its uid). */
static int uid_in_use(uid_t uid)
{
	DIR *dp = opendir("/proc");
	struct dirent *e;
	int used = 0;

	if (!dp)
		return 1; /* cannot tell: not free */
	while (!used && (e = readdir(dp))) {
		struct stat st;

		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    fstatat(dirfd(dp), e->d_name, &st, 0) == 0 && st.st_uid == uid)
			used = 1;
	}
	closedir(dp);
	return used;
}

/* A fresh account for this session: a random uid of the session range that no passwd
 * entry names and no process uses, the same number as gid. */
static int session_account(struct fp_display *d)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint32_t x;
		uid_t uid;

		if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
			return -EIO;
		uid = (uid_t)(SESSION_UID_BASE + x % SESSION_UID_SPAN);
		if (getpwuid(uid) || getgrgid((gid_t)uid) || uid_in_use(uid))
			continue;
		d->uid = uid;
		d->gid = (gid_t)uid;
		d->drop = 1;
		d->fresh_uid = 1;
		return 0;
	}
	fp_error("sway display: no free session uid found in 16 tries");
	return -EAGAIN;
}

/* Empties the directory open at dfd. Root runs this on a directory the display's user
 * owned: everything goes through dirfds with O_NOFOLLOW, so a symlink planted there can
 * never make root delete something elsewhere. */
static void empty_dir_at(int dfd, int depth)
{
	int copy = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *dp = copy >= 0 ? fdopendir(copy) : NULL;
	struct dirent *e;

	if (!dp) {
		fp_close(&copy);
		return;
	}
	while ((e = readdir(dp))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0 || errno != EISDIR || depth >= 8)
			continue;
		sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			empty_dir_at(sub, depth + 1);
			close(sub);
		}
		unlinkat(dfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(dp);
}

static void remove_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return;
	empty_dir_at(dfd, 0);
	close(dfd);
	if (rmdir(dir) < 0)
		fp_warn("sway display: cannot remove %s: %s", dir, strerror(errno));
}

static int write_config(struct fp_display *d, char *path, size_t cap)
{
	FILE *f;
	int fd;

	/* Written while the directory is still ours alone: nothing can be planted yet. */
	snprintf(path, cap, "%s/config", d->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	/* No bar, no idle daemon, no Xwayland (a second server to secure), a fixed background
	 * so an empty desktop has known pixels. HEADLESS-1 is wlroots' name for the first
	 * headless output; `*` covers a compositor that names it otherwise. */
	fprintf(f,
		"# framepush: headless sway for capture\n"
		"xwayland disable\n"
		"output * mode %ux%u@%uHz\n"
		"output * bg #102030 solid_color\n"
		"focus_follows_mouse no\n",
		d->width, d->height, d->hz);
	if (fclose(f) != 0)
		return -EIO;
	return 0;
}

/* 1 when the process pid runs as uid (its real or effective uid, from /proc: the owner of
 * /proc/<pid> is root for a process that made itself non-dumpable). A zombie runs nothing:
 * it waits for its parent (init, for an orphan) to reap it, which no signal hastens. */
static int runs_as(const char *pid, uid_t uid)
{
	char path[64], line[256], state = '?';
	unsigned long r, e;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "State: %c", &state) == 1 && (state == 'Z' || state == 'X'))
			break;
		if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
			found = r == uid || e == uid;
			break;
		}
	}
	fclose(f);
	return found;
}

/* SIGKILLs every process of uid and waits (bounded) for it to exit; 0 when none was left. */
static int kill_uid_round(uid_t uid)
{
	DIR *dp = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!dp)
		return 0;
	while ((e = readdir(dp))) {
		long pid = strtol(e->d_name, NULL, 10);
		int fd;

		if (pid <= 0 || !runs_as(e->d_name, uid))
			continue;
		fd = fp_pidfd_open((pid_t)pid);
		kill((pid_t)pid, SIGKILL);
		if (fd >= 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, TERM_WAIT_MS);
			close(fd);
		}
		n++;
	}
	closedir(dp);
	return n;
}

/* A fresh session account is ours alone: whatever still runs as it (a service the portal's
 * bus activated and that left its group, a daemonised application) is a leftover of this
 * session, and nothing of it may reach the next one. Rounds, as one may fork meanwhile. */
static void end_uid_leftovers(const struct fp_display *d)
{
	int total = 0, n = 0;

	for (int round = 0; round < LEFTOVER_ROUNDS && (n = kill_uid_round(d->uid)) > 0; round++)
		total += n;
	if (total)
		fp_info("sway display: ended %d leftover process(es) of uid %u", total,
			(unsigned)d->uid);
	if (n)
		fp_warn("sway display: processes of uid %u survive %d rounds of SIGKILL",
			(unsigned)d->uid, LEFTOVER_ROUNDS);
}

/* ---- the display ---- */

static void sway_destroy(struct fp_display *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_apps; i++)
		fp_child_stop(d->apps[i], TERM_WAIT_MS);
	d->n_apps = 0;
	fp_desktop_stop(d->desktop); /* its portal is a client of sway: before sway */
	d->desktop = NULL;
	if (d->sway > 0) {
		/* Politely first (sway tears its clients and sockets down), then by force. */
		if (swaymsg(d, NULL, 0, "exit", NULL, NULL, NULL, NULL, NULL) == 0)
			fp_child_exited(d->sway, EXIT_WAIT_MS);
		fp_child_stop(d->sway, TERM_WAIT_MS); /* and swaybg or whatever is left in its group */
	}
	fp_close(&d->sway_pidfd);
	if (d->fresh_uid)
		end_uid_leftovers(d);
	if (d->dir[0])
		remove_dir(d->dir);
	free(d);
}

static void log_sway_tail(const struct fp_display *d)
{
	char path[PATH_MAX + 16], buf[2048];
	int fd;
	ssize_t n;
	off_t size;

	struct stat st;

	snprintf(path, sizeof(path), "%s/sway.log", d->dir);
	/* The directory is the display account's: whatever is there may be planted. Never
	 * block on a FIFO (O_NONBLOCK), never follow a link, read only a regular file that
	 * account owns (not a hard link to one of ours). */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != d->uid || st.st_nlink != 1) {
		close(fd);
		return;
	}
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fp_error("sway display: end of sway's log:\n%s", buf);
	}
}

/* Both sockets present, sway alive, within the deadline. */
static int wait_sockets(struct fp_display *d, int64_t deadline)
{
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), r = -ETIMEDOUT;

	if (in < 0)
		return -errno;
	if (inotify_add_watch(in, d->dir, IN_CREATE | IN_MOVED_TO) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = in, .events = POLLIN },
				       { .fd = d->sway_pidfd, .events = POLLIN } };
		char ev[4096];
		int ms;

		/* Checked after the watch exists, so a socket made before it is not missed. */
		if (access(d->wl_path, F_OK) == 0 && access(d->ipc_path, F_OK) == 0) {
			r = 0;
			break;
		}
		ms = fp_ms_until(deadline);
		if (ms == 0)
			break;
		if (poll(p, d->sway_pidfd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (p[1].revents) {
			r = -ECHILD;
			break;
		}
		while (read(in, ev, sizeof(ev)) > 0)
			;
	}
	close(in);
	return r;
}

/* The mode, and the account sway runs as: root runs it as a session's user. */
static int sway_setup(struct fp_display *d, const struct fp_display_opts *opts)
{
	d->base.impl = &fp_display_sway;
	d->sway_pidfd = -1;
	d->width = opts->width ? opts->width : FP_MODE_DEFAULT_WIDTH;
	d->height = opts->height ? opts->height : FP_MODE_DEFAULT_HEIGHT;
	d->hz = opts->refresh_hz ? opts->refresh_hz : FP_MODE_DEFAULT_HZ;
	if (access("/usr/bin/sway", X_OK) < 0 || access("/usr/bin/swaymsg", X_OK) < 0) {
		fp_error("sway display: sway not installed (/usr/bin/sway, /usr/bin/swaymsg)");
		return -ENOENT;
	}
	if (geteuid() == 0)
		return opts->user ? lookup_user(d, opts->user) : session_account(d);
	d->uid = getuid();
	d->gid = getgid();
	return 0;
}

/* A private runtime directory with the config in it, owned by sway's account. */
static int make_runtime_dir(struct fp_display *d, char *config, size_t config_cap)
{
	const char *tmp = getenv("TMPDIR");
	int r;

	snprintf(d->dir, sizeof(d->dir), "%s/framepush-sway-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->dir)) {
		r = -errno;
		fp_error("sway display: cannot create a runtime directory: %s", strerror(-r));
		d->dir[0] = '\0';
		return r;
	}
	snprintf(d->wl_path, sizeof(d->wl_path), "%s/%s", d->dir, WL_SOCKET);
	snprintf(d->ipc_path, sizeof(d->ipc_path), "%s/%s", d->dir, IPC_SOCKET);
	r = write_config(d, config, config_cap);
	if (r < 0) {
		fp_error("sway display: cannot write the sway config: %s", strerror(-r));
		return r;
	}
	/* mkdtemp made it 0700; hand it to the account sway runs as, config written. */
	if ((d->drop && chown(d->dir, d->uid, d->gid) < 0) || chmod(d->dir, 0700) < 0) {
		r = -errno;
		fp_error("sway display: cannot hand %s to uid %u: %s", d->dir, (unsigned)d->uid,
			 strerror(-r));
		return r;
	}
	return 0;
}

/* Starts sway and waits for its Wayland and IPC sockets. */
static int start_sway(struct fp_display *d, char *config, int64_t deadline, int64_t timeout)
{
	char *argv[] = { (char *)"/usr/bin/sway", (char *)"-c", config, NULL };
	char log_path[PATH_MAX + 16];
	char bufs[10][PATH_MAX + 64];
	char *envp[11];
	int r;

	snprintf(log_path, sizeof(log_path), "%s/sway.log", d->dir);
	build_env(d, bufs, envp, 1);
	r = start_child(d, argv[0], argv, envp, d->drop, log_path, -1, &d->sway);
	if (r < 0) {
		fp_error("sway display: cannot start sway: %s", strerror(-r));
		return r;
	}
	d->sway_pidfd = fp_pidfd_open(d->sway);
	r = wait_sockets(d, deadline);
	if (r < 0) {
		fp_error("sway display: sway %s within %lld ms (as uid %u)",
			 r == -ECHILD ? "exited before it was ready" : "did not create its sockets",
			 (long long)(timeout / FP_NSEC_PER_MSEC), (unsigned)d->uid);
		log_sway_tail(d);
	}
	return r;
}

/* The IPC socket exists once sway listens; the output, at our mode, may come a moment
 * later. */
static int wait_output(struct fp_display *d, int64_t deadline, int64_t timeout)
{
	uint32_t w = 0, h = 0;

	for (int attempt = 1;; attempt++) {
		int r = query_output(d, &w, &h);

		fp_debug("sway display: get_outputs attempt %d: %d, %s %ux%u", attempt, r,
			 d->output[0] ? d->output : "no output", w, h);
		if (r == 0 && w == d->width && h == d->height)
			return 0;
		if (fp_now_ns() >= deadline) {
			fp_error("sway display: no output at %ux%u within %lld ms (last: %s %ux%u, %d)",
				 d->width, d->height, (long long)(timeout / FP_NSEC_PER_MSEC),
				 d->output[0] ? d->output : "none", w, h, r);
			log_sway_tail(d);
			return -ETIMEDOUT;
		}
		if (r == -ENOENT && swaymsg(d, NULL, 0, "create_output", NULL, NULL, NULL, NULL,
					    NULL) != 0)
			fp_warn("sway display: swaymsg create_output failed");
		/* No event tells us the mode was applied; this retry runs at most a few times. */
		usleep(20000);
	}
}

static int start_desktop(struct fp_display *d, int64_t deadline, const char *chooser)
{
	struct fp_desktop_opts o = { .dir = d->dir, .uid = d->uid, .gid = d->gid, .drop = d->drop,
				     .wayland = WL_SOCKET, .output = d->output, .hz = d->hz,
				     .chooser = chooser };
	int r = fp_desktop_start(&d->desktop, &o, deadline);

	if (r < 0)
		fp_error("sway display: the portal desktop did not start (uid %u, %s)",
			 (unsigned)d->uid, d->dir);
	return r;
}

static int sway_create(struct fp_display **out, const struct fp_display_opts *opts)
{
	struct fp_display *d = calloc(1, sizeof(*d));
	int64_t timeout = opts->start_timeout_ns ? opts->start_timeout_ns
			  : opts->portal ? PORTAL_START_TIMEOUT_NS : 10 * FP_NSEC_PER_SEC;
	int64_t deadline = fp_now_ns() + timeout;
	char config[PATH_MAX + 16];
	int r;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	r = sway_setup(d, opts);
	if (r < 0) {
		free(d); /* nothing started, no directory yet */
		return r;
	}
	r = make_runtime_dir(d, config, sizeof(config));
	if (r == 0)
		r = start_sway(d, config, deadline, timeout);
	if (r == 0)
		r = wait_output(d, deadline, timeout);
	if (r == 0 && opts->portal)
		r = start_desktop(d, deadline, opts->portal_chooser);
	if (r < 0) {
		sway_destroy(d);
		return r;
	}
	fp_info("sway display: sway pid %d as uid %u, output %s %ux%u@%u, socket %s", (int)d->sway,
		(unsigned)d->uid, d->output, d->width, d->height, d->hz, d->wl_path);
	*out = d;
	return 0;
}

static const char *sway_name(const struct fp_display *d)
{
	return d->wl_path;
}

static const char *sway_bus(const struct fp_display *d)
{
	return d->desktop ? fp_desktop_bus(d->desktop) : NULL;
}

static int sway_set_mode(struct fp_display *d, uint32_t width, uint32_t height, uint32_t hz)
{
	char mode[64], reply[1024];
	uint32_t w = 0, h = 0;
	int r;

	if (width < 2 || height < 2 || width > 16384 || height > 16384 || hz > 1000)
		return -EINVAL;
	snprintf(mode, sizeof(mode), "%ux%u@%uHz", width, height, hz ? hz : d->hz);
	r = swaymsg(d, reply, sizeof(reply), "output", d->output, "mode", mode, NULL, NULL);
	if (r != 0) {
		fp_error("sway display: swaymsg output %s mode %s failed (%d): %s", d->output, mode,
			 r, reply);
		return r < 0 ? r : -EIO;
	}
	/* swaymsg reports success even for a mode it could not apply: check the result. */
	r = query_output(d, &w, &h);
	if (r < 0 || w != width || h != height) {
		fp_error("sway display: output %s is %ux%u after asking for %s", d->output, w, h, mode);
		return r < 0 ? r : -EINVAL;
	}
	d->width = width;
	d->height = height;
	if (hz)
		d->hz = hz;
	return 0;
}

static int sway_identity(const struct fp_display *d, uid_t *uid, gid_t *gid)
{
	*uid = d->uid;
	*gid = d->gid;
	return d->drop;
}

static int sway_spawn(struct fp_display *d, char *const argv[], pid_t *pid)
{
	char bufs[10][PATH_MAX + 64], exe[PATH_MAX];
	char *envp[11];
	int r;

	if (!argv || !argv[0])
		return -EINVAL;
	/* A bare name is looked up in the display's fixed PATH (the one its environment
	 * has), never the caller's. The child starts in the runtime directory: a relative
	 * path is resolved here, against our working directory. */
	if (!strchr(argv[0], '/')) {
		r = fp_display_find_exe(argv[0], FP_DISPLAY_PATH, exe, sizeof(exe));
		if (r < 0) {
			fp_error("sway display: cannot start '%s': not found in %s", argv[0],
				 FP_DISPLAY_PATH);
			return r;
		}
	} else if (argv[0][0] != '/') {
		if (!realpath(argv[0], exe)) {
			r = -errno;
			fp_error("sway display: cannot start '%s': %s", argv[0], strerror(-r));
			return r;
		}
	} else {
		snprintf(exe, sizeof(exe), "%s", argv[0]);
	}
	/* Reap what already exited, so the table does not fill with dead entries. */
	for (size_t i = 0; i < d->n_apps;) {
		if (waitpid(d->apps[i], NULL, WNOHANG) == d->apps[i])
			d->apps[i] = d->apps[--d->n_apps];
		else
			i++;
	}
	if (d->n_apps >= MAX_APPS)
		return -EMFILE;
	build_env(d, bufs, envp, 0);
	r = start_child(d, exe, argv, envp, d->drop, NULL, -1, pid);
	if (r < 0) {
		fp_error("sway display: cannot start %s: %s", argv[0], strerror(-r));
		return r;
	}
	d->apps[d->n_apps++] = *pid;
	return 0;
}

const struct fp_display_impl fp_display_sway = {
	.kind = "sway",
	.create = sway_create,
	.destroy = sway_destroy,
	.name = sway_name,
	.backend = "wlr",
	.set_mode = sway_set_mode,
	.spawn = sway_spawn,
	.identity = sway_identity,
	.bus = sway_bus,
};
