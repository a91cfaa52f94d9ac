/* The Wayland window of framepush's test and bench clients (fpb-wl-client, the wlr tests'
 * wlr-solid-client and wlr-anim-client): one xdg toplevel on $WAYLAND_DISPLAY and, for the
 * clients that redraw every frame, FPC_NBUF XRGB8888 shm buffers reused as the compositor
 * releases them. Each client embeds a struct fpc_window as its first member and keeps its
 * own picture and its own event loop. */
#ifndef FPC_WL_WINDOW_H
#define FPC_WL_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define FPC_NBUF 3
#define FPC_DEFAULT_W 640 /* when the compositor leaves the size to the client */
#define FPC_DEFAULT_H 480

struct fpc_buf {
	struct wl_buffer *wl;
	uint32_t *px;
	int busy; /* attached and not released yet */
};

struct fpc_window {
	struct wl_display *dpy;
	struct wl_compositor *comp;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	struct wl_surface *surf;
	struct xdg_surface *xs;
	struct xdg_toplevel *top;
	int32_t w, h;                 /* the size of the last configure */
	int32_t pending_w, pending_h; /* the toplevel's, until the surface configure applies them */
	int running;                  /* 0 once the compositor closed the window */
	/* Called after each configure is acknowledged, with w and h set. */
	void (*configured)(struct fpc_window *win);
	/* Called after a buffer came back from the compositor (may be NULL). */
	void (*released)(struct fpc_window *win);
	struct fpc_buf bufs[FPC_NBUF];
	void *map;
	size_t map_size;
	int32_t buf_w, buf_h;         /* the size the buffers were made at */
};

/* Connects, binds wl_compositor, wl_shm and xdg_wm_base, maps a toplevel titled title
 * (fullscreen when asked: no title bar or border moves the picture) and commits; the first
 * configure then calls configured. win->configured (and released) are set by the caller
 * before. 0, or -1 after a message on stderr naming prog. */
int fpc_window_open(struct fpc_window *win, const char *prog, const char *title, int fullscreen);

/* FPC_NBUF buffers of w x h in one shm pool, made again only when the size changed.
 * 0, or -1 with errno set. */
int fpc_window_buffers(struct fpc_window *win);

/* A buffer the compositor does not hold, or NULL when it holds all. */
struct fpc_buf *fpc_window_free_buffer(struct fpc_window *win);

/* Frees the buffers and disconnects. */
void fpc_window_close(struct fpc_window *win);

#endif
