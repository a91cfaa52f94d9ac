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

#include "wl_window.h"

struct client {
	struct fpc_window win; /* first: the window's callbacks get the client */
	uint32_t colour;
	int animate, flip;
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
	int32_t stride = c->win.w * 4;
	size_t size = (size_t)stride * (size_t)c->win.h;
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
	pool = wl_shm_create_pool(c->win.shm, fd, (int32_t)size);
	buf = wl_shm_pool_create_buffer(pool, 0, c->win.w, c->win.h, stride, WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	close(fd);
	wl_buffer_add_listener(buf, &buffer_listener, c);
	wl_surface_attach(c->win.surf, buf, 0, 0);
	wl_surface_damage_buffer(c->win.surf, 0, 0, c->win.w, c->win.h);
	if (c->animate)
		wl_callback_add_listener(wl_surface_frame(c->win.surf), &frame_listener, c);
	wl_surface_commit(c->win.surf);
}

static void configured(struct fpc_window *win)
{
	draw((struct client *)win);
}

int main(int argc, char **argv)
{
	struct client c = { .win = { .configured = configured } };

	if (argc < 2) {
		fprintf(stderr, "usage: wlr-solid-client RRGGBB [--animate]\n");
		return 2;
	}
	c.colour = (uint32_t)strtoul(argv[1], NULL, 16) & 0xffffffu;
	c.animate = argc > 2 && !strcmp(argv[2], "--animate");
	if (fpc_window_open(&c.win, "wlr-solid-client", "framepush-wlr-test", 0) < 0)
		return 1;
	while (c.win.running && wl_display_dispatch(c.win.dpy) >= 0)
		;
	fpc_window_close(&c.win);
	return 0;
}
