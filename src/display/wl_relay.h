/* framepush — the Wayland relay that lets xdg-desktop-portal-wlr cast a pixman-rendered
 * compositor.
 *
 * xdg-desktop-portal-wlr 0.7 (Debian 12) refuses to start a cast unless the compositor's
 * screencopy frames announce a DMA-BUF format (its screencast.c, upstream issue
 * emersion/xdg-desktop-portal-wlr#289), and a compositor without a GPU (sway headless,
 * WLR_RENDERER=pixman: every server framepush runs on) never does. Its shared-memory path
 * works: it picks shared memory whenever it has no GBM device. So the portal reaches sway
 * through this relay, which passes every byte and fd through and adds, after each
 * screencopy frame's shm "buffer" event (manager bound at version 3 or later), the
 * linux_dmabuf event with the same size and format that the check wants. Nothing else
 * changes; the frames themselves still travel in the portal's shared memory. */
#ifndef FP_DISPLAY_WL_RELAY_H
#define FP_DISPLAY_WL_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Starts the relay as a child (display/child.h's guarantees) listening on listen_path and
 * connecting each client to the compositor's socket target_path; the socket exists when
 * this returns. drop: run as uid/gid. 0 and *pid, or -errno. */
int fp_wl_relay_start(const char *listen_path, const char *target_path, int drop, uid_t uid,
		      gid_t gid, pid_t *pid);

/* The message rewriting alone, for tests: one relay connection's state, fed the bytes of
 * each direction. Exposed so the fuzzer and unit tests reach it without sockets. */
#define FP_WL_RELAY_FRAMES 16
struct fp_wl_relay_conn {
	uint32_t registry[4];
	unsigned n_registry;
	uint32_t manager, manager_version;
	uint32_t frame[FP_WL_RELAY_FRAMES];
	unsigned next_frame;
};
/* Looks at complete client requests in buf[0..len) (registry, manager, frames); returns
 * the bytes consumed (whole messages only). */
size_t fp_wl_relay_requests(struct fp_wl_relay_conn *c, const uint8_t *buf, size_t len);
/* Copies complete compositor events from buf[0..len) to out, adding the linux_dmabuf
 * events; out must hold 2 * len bytes. *consumed: bytes taken; returns the bytes written. */
size_t fp_wl_relay_events(struct fp_wl_relay_conn *c, const uint8_t *buf, size_t len,
			  uint8_t *out, size_t *consumed);

#endif
