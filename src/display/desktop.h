/* framepush — the "portal desktop" of a sway display: what xdg-desktop-portal's ScreenCast
 * needs besides the compositor, started as the display's account in its runtime directory.
 *
 * A private D-Bus session bus (DIR/bus), PipeWire (DIR/pipewire-0), WirePlumber,
 * xdg-desktop-portal-wlr (bound to the display's output, no chooser) and xdg-desktop-portal.
 * Each runs through display/child.h (own process group, death signal, privileges dropped)
 * with its log in DIR/<service>.log. Nothing here is shared with the host's own session: a
 * portal dialog or a restore token of one session never reaches another. */
#ifndef FP_DISPLAY_DESKTOP_H
#define FP_DISPLAY_DESKTOP_H

#include <stdint.h>
#include <sys/types.h>

struct fp_desktop;

struct fp_desktop_opts {
	const char *dir;      /* the display's private runtime directory (the account's, 0700) */
	uid_t uid;            /* the account every service runs as */
	gid_t gid;
	int drop;             /* we are root: drop to uid/gid in each child */
	const char *wayland;  /* the Wayland socket's name in dir */
	const char *output;   /* the compositor's output the portal captures */
	uint32_t hz;          /* the output's rate: the portal's frame rate cap */
	const char *chooser;  /* the portal's output chooser command; NULL: none */
};

/* Starts the services and waits, until deadline (fp_now_ns), for each to be ready: the
 * bus socket, PipeWire's socket, the portal and its wlr backend owning their names, and
 * WirePlumber connected. 0, or -errno after a logged reason naming the service and its log
 * (everything started is stopped again then). */
int fp_desktop_start(struct fp_desktop **out, const struct fp_desktop_opts *opts,
		     int64_t deadline);
/* Stops the services in reverse order, bounded, the bus's activated services with it.
 * Accepts NULL. */
void fp_desktop_stop(struct fp_desktop *dt);

/* The session bus's D-Bus address, "unix:path=DIR/bus". */
const char *fp_desktop_bus(const struct fp_desktop *dt);

#endif
