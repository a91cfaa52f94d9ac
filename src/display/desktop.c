/* framepush — the portal desktop of a sway display (desktop.h).
 *
 * Root writes the services' config files into the account's runtime directory with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so nothing the account planted there is followed or reused.
 *
 * Readiness: inotify for the sockets, pidfds for an early exit, and for the bus names and
 * WirePlumber a short, bounded poll of a cheap query (dbus-send, pw-cli) run as the account:
 * the bus admits only its own uid. */
#include "desktop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "wl_relay.h"

#define QUERY_TIMEOUT_MS 2000
#define QUERY_INTERVAL_MS 50
#define TERM_WAIT_MS 1000

enum svc { SVC_DBUS, SVC_PIPEWIRE, SVC_WIREPLUMBER, SVC_RELAY, SVC_XDPW, SVC_XDP, SVC_N };
/* The portal backend's own socket to sway: through the relay (display/wl_relay.h). */
#define RELAY_SOCKET "wayland-portal"


static const struct {
	const char *name, *exe, *log;
} svcs[SVC_N] = {
	[SVC_DBUS] = { "dbus-daemon", "/usr/bin/dbus-daemon", "dbus.log" },
	[SVC_PIPEWIRE] = { "pipewire", "/usr/bin/pipewire", "pipewire.log" },
	[SVC_WIREPLUMBER] = { "wireplumber", "/usr/bin/wireplumber", "wireplumber.log" },
	[SVC_RELAY] = { "the Wayland relay", NULL, "relay.log" }, /* a fork of ours */
	[SVC_XDPW] = { "xdg-desktop-portal-wlr", "/usr/libexec/xdg-desktop-portal-wlr", "xdpw.log" },
	[SVC_XDP] = { "xdg-desktop-portal", "/usr/libexec/xdg-desktop-portal", "xdp.log" },
};

struct fp_desktop {
	char dir[PATH_MAX];
	uid_t uid;
	gid_t gid;
	int drop;
	char wayland[64], output[64], chooser[256];
	uint32_t hz;
	char bus[PATH_MAX + 16];
	pid_t pid[SVC_N];
	int pidfd[SVC_N];
};

#define ENV_MAX 12

/* Every service's environment: the display's, the private bus, and extra (NULL-ended). */
static void build_env(const struct fp_desktop *dt, char bufs[][PATH_MAX + 64], char **envp,
		      const char *const *extra)
{
	size_t n = 0;
	int wl_extra = 0;

	snprintf(bufs[n++], PATH_MAX + 64, "XDG_RUNTIME_DIR=%s", dt->dir);
	snprintf(bufs[n++], PATH_MAX + 64, "PIPEWIRE_RUNTIME_DIR=%s", dt->dir);
	snprintf(bufs[n++], PATH_MAX + 64, "HOME=%s", dt->dir);
	snprintf(bufs[n++], PATH_MAX + 64, "PATH=%s", FP_DISPLAY_PATH);
	/* An extra WAYLAND_DISPLAY (the portal backend's) replaces the display's own. */
	for (size_t i = 0; extra && extra[i]; i++)
		if (!strncmp(extra[i], "WAYLAND_DISPLAY=", 16))
			wl_extra = 1;
	if (!wl_extra)
		snprintf(bufs[n++], PATH_MAX + 64, "WAYLAND_DISPLAY=%s", dt->wayland);
	/* xdg-desktop-portal picks wlr.portal by this name (its UseIn). */
	snprintf(bufs[n++], PATH_MAX + 64, "XDG_CURRENT_DESKTOP=sway");
	snprintf(bufs[n++], PATH_MAX + 64, "XDG_SESSION_TYPE=wayland");
	snprintf(bufs[n++], PATH_MAX + 64, "DBUS_SESSION_BUS_ADDRESS=%s", dt->bus);
	for (size_t i = 0; extra && extra[i] && n < ENV_MAX; i++)
		snprintf(bufs[n++], PATH_MAX + 64, "%s", extra[i]);
	for (size_t i = 0; i < n; i++)
		envp[i] = bufs[i];
	envp[n] = NULL;
}

static int start_as(const struct fp_desktop *dt, char *const argv[], const char *const *extra,
		    const char *log_path, int out_fd, pid_t *pid)
{
	char bufs[ENV_MAX][PATH_MAX + 64];
	char *envp[ENV_MAX + 1];
	struct fp_display_child c = {
		.exe = argv[0], .argv = argv, .envp = envp, .cwd = dt->dir, .log_path = log_path,
		.stdout_fd = out_fd, .keep_fd = -1, .drop = dt->drop, .uid = dt->uid, .gid = dt->gid,
	};

	build_env(dt, bufs, envp, extra);
	return fp_display_start_child(&c, pid);
}

/* Runs a query as the account: its exit code (stdout into out when given, NUL-ended), or
 * -errno. Bounded by QUERY_TIMEOUT_MS; a query that hangs is killed. */
static int query(const struct fp_desktop *dt, char *const argv[], char *out, size_t cap)
{
	char bufs[ENV_MAX][PATH_MAX + 64];
	char *envp[ENV_MAX + 1];
	struct fp_display_child c = {
		.exe = argv[0], .argv = argv, .envp = envp, .cwd = dt->dir, .log_path = "/dev/null",
		.keep_fd = -1, .drop = dt->drop, .uid = dt->uid, .gid = dt->gid,
	};

	build_env(dt, bufs, envp, NULL);
	return fp_display_run_child(&c, out, cap, QUERY_TIMEOUT_MS);
}

/* ---- readiness conditions: 1 when met ---- */

static int has_file(const struct fp_desktop *dt, const char *name)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", dt->dir, name);
	return access(p, F_OK) == 0;
}

/* GetNameOwner fails for a name nobody owns, and unlike a call to the name itself never
 * starts it by D-Bus activation (which would run it without our environment). */
static int name_owned(const struct fp_desktop *dt, const char *name)
{
	char bus[PATH_MAX + 32], arg[128];
	char *argv[] = { (char *)"/usr/bin/dbus-send", bus, (char *)"--print-reply",
			 (char *)"--dest=org.freedesktop.DBus", (char *)"/org/freedesktop/DBus",
			 (char *)"org.freedesktop.DBus.GetNameOwner", arg, NULL };

	snprintf(bus, sizeof(bus), "--bus=%s", dt->bus);
	snprintf(arg, sizeof(arg), "string:%s", name);
	return query(dt, argv, NULL, 0) == 0;
}

/* WirePlumber is ready once PipeWire lists it as a client. */
static int wireplumber_connected(const struct fp_desktop *dt)
{
	char *argv[] = { (char *)"/usr/bin/pw-cli", (char *)"-r", (char *)"pipewire-0",
			 (char *)"ls", (char *)"Client", NULL };
	char out[16384];

	return query(dt, argv, out, sizeof(out)) == 0 && strstr(out, "\"WirePlumber\"");
}

struct cond {
	const char *what;
	const char *file;     /* a socket in the runtime dir (inotify), or */
	const char *name;     /* a bus name to be owned, or */
	int wireplumber;      /* WirePlumber connected */
};

static int cond_met(const struct fp_desktop *dt, const struct cond *c)
{
	if (c->file)
		return has_file(dt, c->file);
	if (c->name)
		return name_owned(dt, c->name);
	return wireplumber_connected(dt);
}

/* The first started service that has exited, or -1. */
static int dead_service(const struct fp_desktop *dt)
{
	struct pollfd p[SVC_N];
	int n = 0, map[SVC_N];

	for (int i = 0; i < SVC_N; i++)
		if (dt->pidfd[i] >= 0) {
			p[n] = (struct pollfd){ .fd = dt->pidfd[i], .events = POLLIN };
			map[n++] = i;
		}
	if (poll(p, (nfds_t)n, 0) > 0)
		for (int i = 0; i < n; i++)
			if (p[i].revents)
				return map[i];
	return -1;
}

/* Waits for c until deadline: on inotify for a file, else polling at QUERY_INTERVAL_MS;
 * every wait also ends when a service exits. */
static int wait_cond(const struct fp_desktop *dt, const struct cond *c, int64_t deadline)
{
	int in = c->file ? inotify_init1(IN_CLOEXEC | IN_NONBLOCK) : -1, r;

	if (c->file && (in < 0 || inotify_add_watch(in, dt->dir, IN_CREATE | IN_MOVED_TO) < 0)) {
		r = -errno;
		fp_close(&in);
		return r;
	}
	for (;;) {
		struct pollfd p[SVC_N + 1];
		char ev[4096];
		int n = 0, ms, dead;

		if (cond_met(dt, c)) { /* after the watch exists: nothing made before it is missed */
			r = 0;
			break;
		}
		if ((dead = dead_service(dt)) >= 0) {
			fp_error("portal desktop: %s exited while waiting for %s; its log: %s/%s",
				 svcs[dead].name, c->what, dt->dir, svcs[dead].log);
			r = -ECHILD;
			break;
		}
		if ((ms = fp_ms_until(deadline)) == 0) {
			fp_error("portal desktop: no %s in time (the logs: %s/*.log)", c->what, dt->dir);
			r = -ETIMEDOUT;
			break;
		}
		if (in >= 0)
			p[n++] = (struct pollfd){ .fd = in, .events = POLLIN };
		else if (ms > QUERY_INTERVAL_MS)
			ms = QUERY_INTERVAL_MS;
		for (int i = 0; i < SVC_N; i++)
			if (dt->pidfd[i] >= 0)
				p[n++] = (struct pollfd){ .fd = dt->pidfd[i], .events = POLLIN };
		if (poll(p, (nfds_t)n, ms) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		while (in >= 0 && read(in, ev, sizeof(ev)) > 0)
			;
	}
	fp_close(&in);
	return r;
}

/* ---- files and services ---- */

/* A new file in the runtime directory, refused if anything of that name is there already:
 * the directory is the account's, and root must not write through what it planted. */
static int write_file(const struct fp_desktop *dt, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	size_t len = strlen(text);
	ssize_t k;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dt->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		fp_error("portal desktop: cannot create %s: %s", path, strerror(-r));
		return r;
	}
	k = write(fd, text, len);
	if (k != (ssize_t)len) {
		r = k < 0 ? -errno : -EIO;
		fp_error("portal desktop: cannot write %s: %s", path, strerror(-r));
	}
	close(fd);
	return r;
}

/* The bus: a session bus on DIR/bus, open to its own uid only (EXTERNAL), with the system's
 * service files so the portal can activate xdg-permission-store. Not session.conf: that one
 * listens where it likes. dbus-daemon insists on a passwd entry for its uid, which a fresh
 * session account lacks: nss_wrapper gives it one, from files here. */
static int write_configs(const struct fp_desktop *dt)
{
	char text[PATH_MAX * 2 + 1024];
	int r;

	snprintf(text, sizeof(text),
		 "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		 "<busconfig>\n  <type>session</type>\n"
		 "  <listen>unix:path=%s/bus</listen>\n  <auth>EXTERNAL</auth>\n"
		 "  <servicedir>/usr/share/dbus-1/services</servicedir>\n"
		 "  <policy context=\"default\">\n    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
		 "    <allow eavesdrop=\"true\"/>\n    <allow own=\"*\"/>\n  </policy>\n"
		 "</busconfig>\n", dt->dir);
	if ((r = write_file(dt, "bus.conf", text)) < 0)
		return r;
	snprintf(text, sizeof(text), "framepush:x:%u:%u:framepush session:%s:/bin/false\n",
		 (unsigned)dt->uid, (unsigned)dt->gid, dt->dir);
	if ((r = write_file(dt, "passwd", text)) < 0)
		return r;
	snprintf(text, sizeof(text), "framepush:x:%u:\n", (unsigned)dt->gid);
	if ((r = write_file(dt, "group", text)) < 0)
		return r;
	/* No chooser unless asked for: there is one output, and nobody at this display to pick
	 * it. A chooser command plays that person (it prints an output, or refuses). */
	if (dt->chooser[0])
		snprintf(text, sizeof(text), "[screencast]\nchooser_type=simple\nchooser_cmd=%s\n"
			 "max_fps=%u\n", dt->chooser, dt->hz);
	else
		snprintf(text, sizeof(text), "[screencast]\nchooser_type=none\noutput_name=%s\n"
			 "max_fps=%u\n", dt->output, dt->hz);
	return write_file(dt, "xdpw.conf", text);
}

/* xdg-desktop-portal-wlr 0.7 will not cast a GPU-less compositor without it. */
static int start_relay(struct fp_desktop *dt)
{
	char listen[PATH_MAX + 32], target[PATH_MAX + 80];

	snprintf(listen, sizeof(listen), "%s/%s", dt->dir, RELAY_SOCKET);
	snprintf(target, sizeof(target), "%s/%s", dt->dir, dt->wayland);
	return fp_wl_relay_start(listen, target, dt->drop, dt->uid, dt->gid, &dt->pid[SVC_RELAY]);
}

static int start_service(struct fp_desktop *dt, enum svc s)
{
	char conf[PATH_MAX + 32], log_path[PATH_MAX + 32], pw[PATH_MAX + 32], gr[PATH_MAX + 32];
	char *argv[7] = { (char *)svcs[s].exe, NULL };
	const char *extra[4] = { NULL };
	int r;

	snprintf(log_path, sizeof(log_path), "%s/%s", dt->dir, svcs[s].log);
	if (s == SVC_DBUS) {
		snprintf(conf, sizeof(conf), "--config-file=%s/bus.conf", dt->dir);
		snprintf(pw, sizeof(pw), "NSS_WRAPPER_PASSWD=%s/passwd", dt->dir);
		snprintf(gr, sizeof(gr), "NSS_WRAPPER_GROUP=%s/group", dt->dir);
		argv[1] = conf;
		argv[2] = (char *)"--nofork";
		argv[3] = (char *)"--nosyslog";
		extra[0] = "LD_PRELOAD=" FP_NSS_WRAPPER;
		extra[1] = pw;
		extra[2] = gr;
	} else if (s == SVC_XDPW) {
		snprintf(conf, sizeof(conf), "%s/xdpw.conf", dt->dir);
		argv[1] = (char *)"-c";
		argv[2] = conf;
		/* Its log then tells what a user needs to know: outputs, formats, restores. */
		argv[3] = (char *)"-l";
		argv[4] = (char *)"INFO";
		/* Restore tokens that outlive one ScreenCast session: a source that restarts
		 * is not asked again. */
		extra[0] = "XDPW_PERSIST_MODE=permanent";
		extra[1] = "WAYLAND_DISPLAY=" RELAY_SOCKET;
	}
	if (s == SVC_RELAY)
		r = start_relay(dt);
	else
		r = start_as(dt, argv, extra, log_path, -1, &dt->pid[s]);
	if (r < 0) {
		dt->pid[s] = 0;
		fp_error("portal desktop: cannot start %s: %s", svcs[s].name, strerror(-r));
		return r;
	}
	dt->pidfd[s] = fp_pidfd_open(dt->pid[s]);
	return 0;
}

static int installed(void)
{
	for (int i = 0; i < SVC_N; i++)
		if (svcs[i].exe && access(svcs[i].exe, X_OK) < 0) {
			fp_error("portal desktop: %s not installed (%s)", svcs[i].name, svcs[i].exe);
			return -ENOENT;
		}
	if (access("/usr/bin/dbus-send", X_OK) < 0 || access("/usr/bin/pw-cli", X_OK) < 0) {
		fp_error("portal desktop: dbus-send or pw-cli not installed (/usr/bin)");
		return -ENOENT;
	}
	if (access(FP_NSS_WRAPPER, R_OK) < 0) {
		fp_error("portal desktop: nss_wrapper not installed (%s; package libnss-wrapper)",
			 FP_NSS_WRAPPER);
		return -ENOENT;
	}
	return 0;
}

/* In order, each ready before the next starts: the portal's backend must own its name
 * before the portal looks for it, or the bus would activate a second one without our
 * environment and config. */
static int bring_up(struct fp_desktop *dt, int64_t deadline)
{
	static const struct cond bus = { .what = "bus socket (bus)", .file = "bus" };
	static const struct cond pw = { .what = "PipeWire socket (pipewire-0)", .file = "pipewire-0" };
	static const struct cond wlr = { .what = "org.freedesktop.impl.portal.desktop.wlr on the bus",
					 .name = "org.freedesktop.impl.portal.desktop.wlr" };
	static const struct cond xdp = { .what = "org.freedesktop.portal.Desktop on the bus",
					 .name = "org.freedesktop.portal.Desktop" };
	static const struct cond wp = { .what = "WirePlumber client of PipeWire", .wireplumber = 1 };
	int r;

	if ((r = start_service(dt, SVC_DBUS)) < 0 || (r = wait_cond(dt, &bus, deadline)) < 0 ||
	    (r = start_service(dt, SVC_PIPEWIRE)) < 0 || (r = wait_cond(dt, &pw, deadline)) < 0 ||
	    (r = start_service(dt, SVC_WIREPLUMBER)) < 0 ||
	    (r = start_service(dt, SVC_RELAY)) < 0 || (r = start_service(dt, SVC_XDPW)) < 0 || (r = wait_cond(dt, &wlr, deadline)) < 0 ||
	    (r = start_service(dt, SVC_XDP)) < 0 || (r = wait_cond(dt, &xdp, deadline)) < 0)
		return r;
	return wait_cond(dt, &wp, deadline);
}

int fp_desktop_start(struct fp_desktop **out, const struct fp_desktop_opts *opts,
		     int64_t deadline)
{
	struct fp_desktop *dt;
	int r;

	*out = NULL;
	if ((r = installed()) < 0)
		return r;
	dt = calloc(1, sizeof(*dt));
	if (!dt)
		return -ENOMEM;
	for (int i = 0; i < SVC_N; i++)
		dt->pidfd[i] = -1;
	snprintf(dt->dir, sizeof(dt->dir), "%s", opts->dir);
	snprintf(dt->wayland, sizeof(dt->wayland), "%s", opts->wayland);
	snprintf(dt->output, sizeof(dt->output), "%s", opts->output);
	snprintf(dt->chooser, sizeof(dt->chooser), "%s", opts->chooser ? opts->chooser : "");
	snprintf(dt->bus, sizeof(dt->bus), "unix:path=%s/bus", opts->dir);
	dt->uid = opts->uid;
	dt->gid = opts->gid;
	dt->drop = opts->drop;
	dt->hz = opts->hz;
	if ((r = write_configs(dt)) < 0 || (r = bring_up(dt, deadline)) < 0) {
		fp_desktop_stop(dt);
		return r;
	}
	fp_info("portal desktop: bus %s; pids: dbus-daemon %d, pipewire %d, wireplumber %d, "
		"relay %d, xdg-desktop-portal-wlr %d, xdg-desktop-portal %d", dt->bus,
		(int)dt->pid[SVC_DBUS], (int)dt->pid[SVC_PIPEWIRE], (int)dt->pid[SVC_WIREPLUMBER],
		(int)dt->pid[SVC_RELAY], (int)dt->pid[SVC_XDPW], (int)dt->pid[SVC_XDP]);
	*out = dt;
	return 0;
}

void fp_desktop_stop(struct fp_desktop *dt)
{
	if (!dt)
		return;
	/* Clients before the servers they use; the bus last. Services the bus activated
	 * (xdg-permission-store, xdg-document-portal) are in dbus-daemon's process group:
	 * fp_child_stop ends the group. */
	for (int i = SVC_N - 1; i >= 0; i--) {
		if (dt->pid[i] > 0)
			fp_child_stop(dt->pid[i], TERM_WAIT_MS);
		fp_close(&dt->pidfd[i]);
	}
	free(dt);
}

const char *fp_desktop_bus(const struct fp_desktop *dt)
{
	return dt->bus;
}
