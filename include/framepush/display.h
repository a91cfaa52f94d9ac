/* framepush — virtual displays the host creates at the client's mode and removes at the end.
 *
 * Kinds: "xvfb" (an X server; fixed mode: a mode change means a new server) and "sway"
 * (a wlroots compositor, headless backend, pixman renderer; runs as an unprivileged user,
 * its output's mode can change at run time). The source backend that captures a display is
 * fp_display_backend() ("x11" or "wlr"); the host passes fp_display_name() to it. A sway
 * display can also run a desktop session for xdg-desktop-portal's ScreenCast (opts.portal):
 * the "portal" source then captures it through fp_display_bus(). */
#ifndef FRAMEPUSH_DISPLAY_H
#define FRAMEPUSH_DISPLAY_H

#include <stdint.h>
#include <sys/types.h>

struct fp_display;

struct fp_display_opts {
	const char *kind;            /* "xvfb" or "sway" */
	uint32_t width, height, refresh_hz;
	const char *user;            /* sway as root: the unprivileged user to run it as
	                              * (NULL: a fresh uid/gid of this session alone) */
	int64_t start_timeout_ns;    /* 0: 10 s (20 s with portal) */
	int portal;                  /* sway: also a desktop session for the ScreenCast portal,
	                              * as the display's account: a private D-Bus session bus,
	                              * PipeWire, WirePlumber, xdg-desktop-portal(-wlr) bound to
	                              * the output with no chooser. Ignored by xvfb. */
	const char *portal_chooser;  /* with portal: the command xdg-desktop-portal-wlr runs to
	                              * let someone pick the output (its chooser_cmd: prints the
	                              * output's name, or nothing to refuse); NULL: none, the
	                              * display's one output is shared without asking */
};

/* Starts the display and waits (bounded) until clients can connect. Returns 0 or -errno
 * with a logged reason (e.g. "Xvfb not installed", "sway refused to start as root"). */
int fp_display_create(struct fp_display **out, const struct fp_display_opts *opts);
/* Stops the display and every application started in it; removes what it created. */
void fp_display_destroy(struct fp_display *d);

/* The name the source backend connects to: ":N" for X, the Wayland socket path for sway. */
const char *fp_display_name(const struct fp_display *d);
/* The framepush-source backend that captures this display: "x11" or "wlr". */
const char *fp_display_backend(const struct fp_display *d);

/* The D-Bus address of the display's own session bus ("unix:path=/.../bus"), where the
 * ScreenCast portal of this display answers; NULL when the display has none (xvfb, sway
 * without opts.portal). The host passes it to the portal source as its display. */
const char *fp_display_bus(const struct fp_display *d);

/* What a client of this display needs in its environment besides the name, as "KEY=VALUE"
 * (Xvfb: XAUTHORITY=<the session's private cookie file>), or "" when nothing. Applications
 * started by fp_display_spawn get it already; the host passes it to the source. */
const char *fp_display_client_env(const struct fp_display *d);
/* setenv()s fp_display_client_env into this process's environment, for a caller whose own
 * children (the source) or own connection must reach the display. 0 or -errno. */
int fp_display_export_env(const struct fp_display *d);

/* The account the display's clients run as, when it is not ours: 1 and *uid, *gid (sway
 * started by root runs as a fresh account of its own session), 0 when clients run as we do.
 * The host runs the display's source as that account. */
int fp_display_identity(const struct fp_display *d, uid_t *uid, gid_t *gid);

/* Changes the mode at run time; -ENOTSUP where the display cannot (Xvfb). */
int fp_display_set_mode(struct fp_display *d, uint32_t width, uint32_t height, uint32_t hz);

/* Starts argv inside the display (DISPLAY / WAYLAND_DISPLAY set, and with a portal desktop
 * DBUS_SESSION_BUS_ADDRESS and XDG_CURRENT_DESKTOP=sway; as the display's user),
 * in its own process group, stdin on /dev/null. A bare argv[0] is looked up in the PATH the
 * application gets: the caller's for xvfb, /usr/local/bin:/usr/bin:/bin for sway. The
 * application is killed when the display is destroyed, and gets SIGTERM if the calling
 * thread dies first. Returns 0 and *pid, or -errno (an exec failure included). */
int fp_display_spawn(struct fp_display *d, char *const argv[], pid_t *pid);

/* ---- for display implementations (src/display/) ---- */
struct fp_display_impl {
	const char *kind;
	int (*create)(struct fp_display **out, const struct fp_display_opts *opts);
	void (*destroy)(struct fp_display *d);
	const char *(*name)(const struct fp_display *d);
	const char *backend;
	int (*set_mode)(struct fp_display *d, uint32_t width, uint32_t height, uint32_t hz);
	int (*spawn)(struct fp_display *d, char *const argv[], pid_t *pid);
	const char *(*client_env)(const struct fp_display *d); /* NULL: nothing */
	int (*identity)(const struct fp_display *d, uid_t *uid, gid_t *gid); /* NULL: ours */
	const char *(*bus)(const struct fp_display *d); /* NULL: no session bus */
};

/* Every fp_display starts with this, so the generic layer finds its table. */
struct fp_display_base {
	const struct fp_display_impl *impl;
};

#endif
