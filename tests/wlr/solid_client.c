/* wlr-solid-client — a minimal xdg-shell client for the wlr tests: one toplevel filled with
 * a known colour through wl_shm, redrawn at whatever size the compositor configures (sway
 * tiles it over the output). With --animate it alternates between the colour and its
 * inverse on every frame callback, so the output never stops changing.
 *
 * usage: wlr-solid-client RRGGBB [--animate] */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

struct client {
	struct wl_display *dpy;
	struct wl_compositor *comp;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	struct wl_surface *surf;
	struct xdg_surface *xs;
	struct xdg_toplevel *top;
	struct wl_buffer *buf;
	uint32_t *px;
	size_t size;
	int32_t w, h, pending_w, pending_h;
	uint32_t colour;
	int animate, flip, running;
};

static void draw(struct client *c);

static void buffer_release(void *data, struct wl_buffer *b)
{
	(void)data;
	wl_buffer_destroy(b);
}

static const struct wl_buffer_listener buffer_listener = { .release = buffer_release };

static void frame_done(void *data, struct wl_callback *cb, uint32_t t)
{
	struct client *c = data;

	(void)t;
	wl_callback_destroy(cb);
	c->flip = !c->flip;
	draw(c);
}

static const struct wl_callback_listener frame_listener = { .done = frame_done };

static void draw(struct client *c)
{
	uint32_t colour = c->flip ? (~c->colour & 0xffffffu) : c->colour;
	int32_t stride = c->w * 4;
	size_t size = (size_t)stride * (size_t)c->h;
	struct wl_shm_pool *pool;
	struct wl_buffer *buf;
	int fd = memfd_create("wlr-solid-client", MFD_CLOEXEC);
	uint32_t *px;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		fprintf(stderr, "wlr-solid-client: memfd: %s\n", strerror(errno));
		exit(1);
	}
	px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (px == MAP_FAILED) {
		fprintf(stderr, "wlr-solid-client: mmap: %s\n", strerror(errno));
		exit(1);
	}
	for (size_t i = 0; i < size / 4; i++)
		px[i] = 0xff000000u | colour;
	munmap(px, size);
	pool = wl_shm_create_pool(c->shm, fd, (int32_t)size);
	buf = wl_shm_pool_create_buffer(pool, 0, c->w, c->h, stride, WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	close(fd);
	wl_buffer_add_listener(buf, &buffer_listener, c);
	wl_surface_attach(c->surf, buf, 0, 0);
	wl_surface_damage_buffer(c->surf, 0, 0, c->w, c->h);
	if (c->animate)
		wl_callback_add_listener(wl_surface_frame(c->surf), &frame_listener, c);
	wl_surface_commit(c->surf);
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

	xdg_surface_ack_configure(xs, serial);
	c->w = c->pending_w > 0 ? c->pending_w : 640;
	c->h = c->pending_h > 0 ? c->pending_h : 480;
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
	struct client *c = data;

	(void)t;
	c->running = 0;
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
	(void)data; (void)reg; (void)name;
}

static const struct wl_registry_listener reg_listener = {
	.global = reg_global,
	.global_remove = reg_remove,
};

int main(int argc, char **argv)
{
	struct client c = { .running = 1 };
	struct wl_registry *reg;

	if (argc < 2) {
		fprintf(stderr, "usage: wlr-solid-client RRGGBB [--animate]\n");
		return 2;
	}
	c.colour = (uint32_t)strtoul(argv[1], NULL, 16) & 0xffffffu;
	c.animate = argc > 2 && !strcmp(argv[2], "--animate");
	c.dpy = wl_display_connect(NULL);
	if (!c.dpy) {
		fprintf(stderr, "wlr-solid-client: cannot connect: %s\n", strerror(errno));
		return 1;
	}
	reg = wl_display_get_registry(c.dpy);
	wl_registry_add_listener(reg, &reg_listener, &c);
	wl_display_roundtrip(c.dpy);
	if (!c.comp || !c.shm || !c.wm) {
		fprintf(stderr, "wlr-solid-client: compositor lacks wl_compositor/wl_shm/xdg_wm_base\n");
		return 1;
	}
	xdg_wm_base_add_listener(c.wm, &wm_listener, &c);
	c.surf = wl_compositor_create_surface(c.comp);
	c.xs = xdg_wm_base_get_xdg_surface(c.wm, c.surf);
	xdg_surface_add_listener(c.xs, &xs_listener, &c);
	c.top = xdg_surface_get_toplevel(c.xs);
	xdg_toplevel_add_listener(c.top, &top_listener, &c);
	xdg_toplevel_set_title(c.top, "framepush-wlr-test");
	wl_surface_commit(c.surf);
	while (c.running && wl_display_dispatch(c.dpy) >= 0)
		;
	wl_display_disconnect(c.dpy);
	return 0;
}
