#include "wl_window.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void buffer_release(void *data, struct wl_buffer *wl)
{
	struct fpc_window *win = data;

	for (int i = 0; i < FPC_NBUF; i++)
		if (win->bufs[i].wl == wl)
			win->bufs[i].busy = 0;
	if (win->released)
		win->released(win);
}

static const struct wl_buffer_listener buffer_listener = { .release = buffer_release };

static void free_buffers(struct fpc_window *win)
{
	for (int i = 0; i < FPC_NBUF; i++)
		if (win->bufs[i].wl)
			wl_buffer_destroy(win->bufs[i].wl);
	memset(win->bufs, 0, sizeof(win->bufs));
	if (win->map)
		munmap(win->map, win->map_size);
	win->map = NULL;
	win->buf_w = win->buf_h = 0;
}

int fpc_window_buffers(struct fpc_window *win)
{
	int32_t stride = win->w * 4;
	size_t one = (size_t)stride * (size_t)win->h;
	struct wl_shm_pool *pool;
	int fd, err;

	if (win->map && win->buf_w == win->w && win->buf_h == win->h)
		return 0;
	free_buffers(win);
	fd = memfd_create("fpc-wl-window", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)(one * FPC_NBUF)) < 0)
		goto err_close_fd;
	win->map_size = one * FPC_NBUF;
	win->map = mmap(NULL, win->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (win->map == MAP_FAILED) {
		win->map = NULL;
		goto err_close_fd;
	}
	pool = wl_shm_create_pool(win->shm, fd, (int32_t)win->map_size);
	for (int i = 0; i < FPC_NBUF; i++) {
		win->bufs[i].px = (uint32_t *)(void *)((char *)win->map + one * (size_t)i);
		win->bufs[i].wl = wl_shm_pool_create_buffer(pool, (int32_t)(one * (size_t)i), win->w,
							    win->h, stride, WL_SHM_FORMAT_XRGB8888);
		wl_buffer_add_listener(win->bufs[i].wl, &buffer_listener, win);
	}
	wl_shm_pool_destroy(pool);
	close(fd);
	win->buf_w = win->w;
	win->buf_h = win->h;
	return 0;

err_close_fd:
	err = errno;
	if (fd >= 0)
		close(fd);
	errno = err;
	return -1;
}

struct fpc_buf *fpc_window_free_buffer(struct fpc_window *win)
{
	for (int i = 0; i < FPC_NBUF; i++)
		if (win->bufs[i].wl && !win->bufs[i].busy)
			return &win->bufs[i];
	return NULL;
}

static void wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	(void)data;
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = { .ping = wm_ping };

static void xs_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct fpc_window *win = data;

	xdg_surface_ack_configure(xs, serial);
	win->w = win->pending_w > 0 ? win->pending_w : FPC_DEFAULT_W;
	win->h = win->pending_h > 0 ? win->pending_h : FPC_DEFAULT_H;
	win->configured(win);
}

static const struct xdg_surface_listener xs_listener = { .configure = xs_configure };

static void top_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
			  struct wl_array *states)
{
	struct fpc_window *win = data;

	(void)t;
	(void)states;
	win->pending_w = w;
	win->pending_h = h;
}

static void top_close(void *data, struct xdg_toplevel *t)
{
	(void)t;
	((struct fpc_window *)data)->running = 0;
}

static const struct xdg_toplevel_listener top_listener = {
	.configure = top_configure,
	.close = top_close,
};

static void reg_global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
		       uint32_t version)
{
	struct fpc_window *win = data;

	(void)version;
	if (!strcmp(iface, wl_compositor_interface.name))
		win->comp = wl_registry_bind(reg, name, &wl_compositor_interface, 4);
	else if (!strcmp(iface, wl_shm_interface.name))
		win->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	else if (!strcmp(iface, xdg_wm_base_interface.name))
		win->wm = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
}

static void reg_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	(void)data;
	(void)reg;
	(void)name;
}

static const struct wl_registry_listener reg_listener = {
	.global = reg_global,
	.global_remove = reg_remove,
};

int fpc_window_open(struct fpc_window *win, const char *prog, const char *title, int fullscreen)
{
	struct wl_registry *reg;

	win->running = 1;
	win->dpy = wl_display_connect(NULL);
	if (!win->dpy) {
		fprintf(stderr, "%s: cannot connect: %s\n", prog, strerror(errno));
		return -1;
	}
	reg = wl_display_get_registry(win->dpy);
	wl_registry_add_listener(reg, &reg_listener, win);
	wl_display_roundtrip(win->dpy);
	if (!win->comp || !win->shm || !win->wm) {
		fprintf(stderr, "%s: compositor lacks wl_compositor/wl_shm/xdg_wm_base\n", prog);
		return -1;
	}
	xdg_wm_base_add_listener(win->wm, &wm_listener, win);
	win->surf = wl_compositor_create_surface(win->comp);
	win->xs = xdg_wm_base_get_xdg_surface(win->wm, win->surf);
	xdg_surface_add_listener(win->xs, &xs_listener, win);
	win->top = xdg_surface_get_toplevel(win->xs);
	xdg_toplevel_add_listener(win->top, &top_listener, win);
	xdg_toplevel_set_title(win->top, title);
	if (fullscreen)
		xdg_toplevel_set_fullscreen(win->top, NULL);
	wl_surface_commit(win->surf);
	return 0;
}

void fpc_window_close(struct fpc_window *win)
{
	free_buffers(win);
	if (win->dpy)
		wl_display_disconnect(win->dpy);
	win->dpy = NULL;
}
