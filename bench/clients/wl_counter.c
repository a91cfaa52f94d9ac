/* fpb-wl-client — the pipeline bench's Wayland client: one fullscreen xdg toplevel showing
 * a frame counter (clients/counter.h), a new value on every frame callback of the
 * compositor, so it changes as often as the compositor can show it.
 *
 * Three wl_shm buffers in one pool are reused as the compositor releases them: no
 * allocation per frame, so the client costs little of the CPU being measured.
 *
 * usage: fpb-wl-client */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include "counter.h"
#include "xdg-shell-client-protocol.h"

#define NBUF 3

struct buf {
	struct wl_buffer *wl;
	uint32_t *px;
	int busy; /* attached and not released yet */
};

struct client {
	struct wl_display *dpy;
	struct wl_compositor *comp;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	struct wl_surface *surf;
	struct xdg_surface *xs;
	struct xdg_toplevel *top;
	struct buf bufs[NBUF];
	void *map;
	size_t map_size;
	uint32_t *row; /* one row of pixels, built per band and copied down it */
	int32_t w, h, pending_w, pending_h;
	uint32_t n;
	int waiting;   /* a frame is due but every buffer is busy */
	int running;
};

static void draw(struct client *c);

static void buffer_release(void *data, struct wl_buffer *b)
{
	struct client *c = data;

	for (int i = 0; i < NBUF; i++)
		if (c->bufs[i].wl == b)
			c->bufs[i].busy = 0;
	if (c->waiting)
		draw(c);
}

static const struct wl_buffer_listener buffer_listener = { .release = buffer_release };

static void frame_done(void *data, struct wl_callback *cb, uint32_t t)
{
	(void)t;
	wl_callback_destroy(cb);
	draw(data);
}

static const struct wl_callback_listener frame_listener = { .done = frame_done };

/* Rows [y0, y1) of px all equal to c->row. */
static void band(struct client *c, uint32_t *px, uint32_t y0, uint32_t y1)
{
	for (uint32_t y = y0; y < y1; y++)
		memcpy(px + (size_t)y * (uint32_t)c->w, c->row, (size_t)c->w * 4);
}

static void paint(struct client *c, uint32_t *px)
{
	uint32_t w = (uint32_t)c->w, half = (uint32_t)c->h / 2u;

	for (unsigned row = 0; row < FPB_ROWS; row++) {
		for (unsigned col = 0; col < FPB_COLS; col++) {
			uint32_t rgb = fpb_cell_on(c->n, col, row) ? FPB_WHITE : FPB_BLACK;

			for (uint32_t x = fpb_edge(w, FPB_COLS, col); x < fpb_edge(w, FPB_COLS, col + 1); x++)
				c->row[x] = 0xff000000u | rgb;
		}
		band(c, px, fpb_edge(half, FPB_ROWS, row), fpb_edge(half, FPB_ROWS, row + 1));
	}
	for (unsigned i = 0; i < FPB_STRIPES; i++)
		for (uint32_t x = fpb_edge(w, FPB_STRIPES, i); x < fpb_edge(w, FPB_STRIPES, i + 1); x++)
			c->row[x] = 0xff000000u | fpb_stripe_rgb(c->n, i);
	band(c, px, half, (uint32_t)c->h);
}

static void draw(struct client *c)
{
	struct buf *b = NULL;

	for (int i = 0; i < NBUF && !b; i++)
		if (!c->bufs[i].busy)
			b = &c->bufs[i];
	/* All buffers on screen: draw when one comes back (buffer_release), not before. */
	c->waiting = !b;
	if (!b)
		return;
	paint(c, b->px);
	c->n++;
	b->busy = 1;
	wl_surface_attach(c->surf, b->wl, 0, 0);
	wl_surface_damage_buffer(c->surf, 0, 0, c->w, c->h);
	wl_callback_add_listener(wl_surface_frame(c->surf), &frame_listener, c);
	wl_surface_commit(c->surf);
}

static void drop_buffers(struct client *c)
{
	for (int i = 0; i < NBUF; i++)
		if (c->bufs[i].wl)
			wl_buffer_destroy(c->bufs[i].wl);
	memset(c->bufs, 0, sizeof(c->bufs));
	if (c->map)
		munmap(c->map, c->map_size);
	c->map = NULL;
	free(c->row);
	c->row = NULL;
}

static int make_buffers(struct client *c)
{
	int32_t stride = c->w * 4;
	size_t one = (size_t)stride * (size_t)c->h;
	int fd = memfd_create("fpb-wl-client", MFD_CLOEXEC);
	struct wl_shm_pool *pool;

	drop_buffers(c);
	c->map_size = one * NBUF;
	c->row = malloc((size_t)stride);
	if (fd < 0 || !c->row || ftruncate(fd, (off_t)c->map_size) < 0)
		goto fail;
	c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		goto fail;
	}
	pool = wl_shm_create_pool(c->shm, fd, (int32_t)c->map_size);
	for (int i = 0; i < NBUF; i++) {
		c->bufs[i].px = (uint32_t *)((char *)c->map + one * (size_t)i);
		c->bufs[i].wl = wl_shm_pool_create_buffer(pool, (int32_t)(one * (size_t)i), c->w,
							  c->h, stride, WL_SHM_FORMAT_XRGB8888);
		wl_buffer_add_listener(c->bufs[i].wl, &buffer_listener, c);
	}
	wl_shm_pool_destroy(pool);
	close(fd);
	return 0;
fail:
	fprintf(stderr, "fpb-wl-client: buffers of %dx%d: %s\n", c->w, c->h, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	(void)data;
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = { .ping = wm_ping };

static void xs_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct client *c = data;
	int32_t w = c->pending_w > 0 ? c->pending_w : 640, h = c->pending_h > 0 ? c->pending_h : 480;
	int first = !c->map;

	xdg_surface_ack_configure(xs, serial);
	if (w == c->w && h == c->h && c->map)
		return;
	c->w = w;
	c->h = h;
	if (make_buffers(c) < 0) {
		c->running = 0;
		return;
	}
	/* The first configure starts the frame loop; later ones resize it, and the pending
	 * frame callback (or release) keeps it going. */
	if (first || c->waiting)
		draw(c);
}

static const struct xdg_surface_listener xs_listener = { .configure = xs_configure };

static void top_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
			  struct wl_array *states)
{
	struct client *c = data;

	(void)t;
	(void)states;
	c->pending_w = w;
	c->pending_h = h;
}

static void top_close(void *data, struct xdg_toplevel *t)
{
	(void)t;
	((struct client *)data)->running = 0;
}

static const struct xdg_toplevel_listener top_listener = {
	.configure = top_configure,
	.close = top_close,
};

static void reg_global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
		       uint32_t version)
{
	struct client *c = data;

	(void)version;
	if (!strcmp(iface, wl_compositor_interface.name))
		c->comp = wl_registry_bind(reg, name, &wl_compositor_interface, 4);
	else if (!strcmp(iface, wl_shm_interface.name))
		c->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	else if (!strcmp(iface, xdg_wm_base_interface.name))
		c->wm = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
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

int main(int argc, char **argv)
{
	struct client c = { .running = 1 };
	struct wl_registry *reg;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: fpb-wl-client   (in a Wayland session: WAYLAND_DISPLAY)\n");
		return 2;
	}
	c.dpy = wl_display_connect(NULL);
	if (!c.dpy) {
		fprintf(stderr, "fpb-wl-client: cannot connect: %s\n", strerror(errno));
		return 1;
	}
	reg = wl_display_get_registry(c.dpy);
	wl_registry_add_listener(reg, &reg_listener, &c);
	wl_display_roundtrip(c.dpy);
	if (!c.comp || !c.shm || !c.wm) {
		fprintf(stderr, "fpb-wl-client: compositor lacks wl_compositor/wl_shm/xdg_wm_base\n");
		return 1;
	}
	xdg_wm_base_add_listener(c.wm, &wm_listener, &c);
	c.surf = wl_compositor_create_surface(c.comp);
	c.xs = xdg_wm_base_get_xdg_surface(c.wm, c.surf);
	xdg_surface_add_listener(c.xs, &xs_listener, &c);
	c.top = xdg_surface_get_toplevel(c.xs);
	xdg_toplevel_add_listener(c.top, &top_listener, &c);
	xdg_toplevel_set_title(c.top, "framepush-bench");
	/* Fullscreen, as a game runs: no title bar or border of sway's moves the cells. */
	xdg_toplevel_set_fullscreen(c.top, NULL);
	wl_surface_commit(c.surf);
	while (c.running && wl_display_dispatch(c.dpy) >= 0)
		;
	drop_buffers(&c);
	wl_display_disconnect(c.dpy);
	return 0;
}
