/* wlr-anim-client — an xdg-shell client for the wlr tests and benchmarks whose every frame
 * is different: a frame counter drawn as 16 big black/white stripes (bit 15 first, left to
 * right) over the upper part of the window, its complement under it (a reader can tell a
 * clean read from a torn or covered one), on a background that alternates each frame.
 *
 *   (default)         a new frame on every frame callback: the output never stops changing
 *   --burst N         draw frame 0, then nothing until SIGUSR1; each SIGUSR1 draws N more
 *                     frames, one per frame callback, and once the compositor has shown
 *                     the last (its frame callback came) writes its counter, "%u\n", to
 *   --fifo PATH       (a FIFO the test reads: an event, not a sleep)
 *   --report PATH     at exit, write "frames N seconds S" (frames drawn, wall time)
 *
 * Stripe geometry (fractions of the surface): 16 columns of width w/16; bits in rows
 * [h/8, 7h/16), complement in rows [9h/16, 7h/8). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define NBUF 3
#define BITS 16

struct buf {
	struct wl_buffer *wl;
	uint32_t *px;
	int busy; /* attached and not yet released by the compositor */
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
	int32_t w, h, pending_w, pending_h, buf_w, buf_h;
	uint32_t counter;
	unsigned burst, burst_left;
	int bursting, burst_wanted;
	const char *fifo, *report;
	int frame_pending, running;
};

static void die(const char *what)
{
	fprintf(stderr, "wlr-anim-client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void buffer_release(void *data, struct wl_buffer *wl)
{
	struct buf *b = data;

	(void)wl;
	b->busy = 0;
}

static const struct wl_buffer_listener buffer_listener = { .release = buffer_release };

static void free_buffers(struct client *c)
{
	for (int i = 0; i < NBUF; i++)
		if (c->bufs[i].wl)
			wl_buffer_destroy(c->bufs[i].wl);
	memset(c->bufs, 0, sizeof(c->bufs));
	if (c->map)
		munmap(c->map, c->map_size);
	c->map = NULL;
}

/* NBUF buffers of the current size in one pool, made again when the size changes. */
static void make_buffers(struct client *c)
{
	int32_t stride = c->w * 4;
	size_t one = (size_t)stride * (size_t)c->h;
	int fd = memfd_create("wlr-anim-client", MFD_CLOEXEC);
	struct wl_shm_pool *pool;

	free_buffers(c);
	if (fd < 0 || ftruncate(fd, (off_t)(one * NBUF)) < 0)
		die("memfd");
	c->map_size = one * NBUF;
	c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->map == MAP_FAILED)
		die("mmap");
	pool = wl_shm_create_pool(c->shm, fd, (int32_t)c->map_size);
	for (int i = 0; i < NBUF; i++) {
		c->bufs[i].px = (uint32_t *)((uint8_t *)c->map + one * (size_t)i);
		c->bufs[i].wl = wl_shm_pool_create_buffer(pool, (int32_t)(one * (size_t)i), c->w,
							  c->h, stride, WL_SHM_FORMAT_XRGB8888);
		wl_buffer_add_listener(c->bufs[i].wl, &buffer_listener, &c->bufs[i]);
	}
	wl_shm_pool_destroy(pool);
	close(fd);
	c->buf_w = c->w;
	c->buf_h = c->h;
}

/* Three row patterns (background, bits, complement), then whole rows copied: cheap enough
 * that at 1080p the client is never what limits the frame rate. */
static void paint(const struct client *c, uint32_t *px)
{
	uint32_t bg = c->counter & 1 ? 0xff505050u : 0xff303030u;
	size_t w = (size_t)c->w, row_bytes = w * 4;
	uint32_t *bits = px, *comp = px + w, *back = px + 2 * w;

	/* The patterns are built in rows 0..2 (background rows in the final picture) and
	 * copied from there; row 0..2 are rewritten last. */
	for (size_t x = 0; x < w; x++) {
		int bit = (int)(c->counter >> (BITS - 1 - x * BITS / w) & 1);

		bits[x] = bit ? 0xffffffffu : 0xff000000u;
		comp[x] = bit ? 0xff000000u : 0xffffffffu;
		back[x] = bg;
	}
	for (int32_t y = 3; y < c->h; y++) {
		const uint32_t *from = back;

		if (y >= c->h / 8 && y < 7 * c->h / 16)
			from = bits;
		else if (y >= 9 * c->h / 16 && y < 7 * c->h / 8)
			from = comp;
		memcpy(px + (size_t)y * w, from, row_bytes);
	}
	memcpy(bits, back, row_bytes);
	memcpy(comp, back, row_bytes);
}

static void draw(struct client *c);

static void frame_done(void *data, struct wl_callback *cb, uint32_t t);

static const struct wl_callback_listener frame_listener = { .done = frame_done };

/* The burst's last frame was shown: tell the test which counter that is. */
static void burst_finished(struct client *c)
{
	char line[32];
	int fd, n = snprintf(line, sizeof(line), "%u\n", c->counter);

	if (!c->fifo)
		return;
	fd = open(c->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		die(c->fifo);
	close(fd);
}

static void start_burst(struct client *c)
{
	c->burst_wanted = 0;
	c->bursting = 1;
	c->burst_left = c->burst - 1;
	c->counter++;
	draw(c);
}

/* A frame callback comes after the compositor composed the commit that asked for it. */
static void frame_done(void *data, struct wl_callback *cb, uint32_t t)
{
	struct client *c = data;

	(void)t;
	wl_callback_destroy(cb);
	c->frame_pending = 0;
	if (!c->burst) {
		c->counter++;
		draw(c);
	} else if (c->bursting && c->burst_left) {
		c->burst_left--;
		c->counter++;
		draw(c);
	} else if (c->bursting) {
		c->bursting = 0;
		burst_finished(c);
	} else if (c->burst_wanted) {
		start_burst(c);
	}
}

static void draw(struct client *c)
{
	struct buf *b = NULL;

	if (c->w != c->buf_w || c->h != c->buf_h)
		make_buffers(c);
	for (int i = 0; i < NBUF && !b; i++)
		if (!c->bufs[i].busy)
			b = &c->bufs[i];
	if (!b) {
		fprintf(stderr, "wlr-anim-client: the compositor holds all %d buffers\n", NBUF);
		exit(1);
	}
	paint(c, b->px);
	b->busy = 1;
	wl_surface_attach(c->surf, b->wl, 0, 0);
	wl_surface_damage_buffer(c->surf, 0, 0, c->w, c->h);
	if (!c->frame_pending) {
		wl_callback_add_listener(wl_surface_frame(c->surf), &frame_listener, c);
		c->frame_pending = 1;
	}
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

/* A signal arrived: SIGUSR1 starts a burst (if none runs), anything else ends the client. */
static void on_signal(struct client *c, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo != SIGUSR1) {
		c->running = 0;
		return;
	}
	if (!c->burst || c->bursting)
		return;
	/* A callback still pending belongs to an earlier commit: start after it, so the
	 * burst's callbacks are the burst's own. */
	if (c->frame_pending)
		c->burst_wanted = 1;
	else
		start_burst(c);
}

/* Wayland events and signals until the window is closed, the compositor goes or a
 * SIGTERM/SIGINT comes. */
static void run(struct client *c, int sfd)
{
	while (c->running) {
		struct pollfd p[2] = { { .fd = wl_display_get_fd(c->dpy), .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };

		while (wl_display_prepare_read(c->dpy) != 0)
			if (wl_display_dispatch_pending(c->dpy) < 0)
				return;
		if (wl_display_flush(c->dpy) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(c->dpy);
			return;
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			wl_display_cancel_read(c->dpy);
			return;
		}
		if (p[0].revents) {
			if (wl_display_read_events(c->dpy) < 0)
				return;
		} else {
			wl_display_cancel_read(c->dpy);
		}
		if (wl_display_dispatch_pending(c->dpy) < 0)
			return;
		if (p[1].revents)
			on_signal(c, sfd);
	}
}

static int parse_args(struct client *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--burst") && i + 1 < argc) {
			const char *d = argv[++i];

			/* 1..999, digits only. */
			c->burst = 0;
			for (; *d >= '0' && *d <= '9' && c->burst < 1000; d++)
				c->burst = c->burst * 10 + (unsigned)(*d - '0');
			if (*d || c->burst < 1 || c->burst > 999)
				return -1;
		} else if (!strcmp(argv[i], "--fifo") && i + 1 < argc) {
			c->fifo = argv[++i];
		} else if (!strcmp(argv[i], "--report") && i + 1 < argc) {
			c->report = argv[++i];
		} else {
			return -1;
		}
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct client c = { .running = 1 };
	struct wl_registry *reg;
	sigset_t mask;
	int sfd;
	double t0;

	if (parse_args(&c, argc, argv) < 0) {
		fprintf(stderr, "usage: wlr-anim-client [--burst N [--fifo PATH]] [--report PATH]\n");
		return 2;
	}
	/* Blocked before anything else, so a SIGUSR1 sent early waits instead of killing us. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	c.dpy = wl_display_connect(NULL);
	if (!c.dpy)
		die("cannot connect");
	reg = wl_display_get_registry(c.dpy);
	wl_registry_add_listener(reg, &reg_listener, &c);
	wl_display_roundtrip(c.dpy);
	if (!c.comp || !c.shm || !c.wm) {
		fprintf(stderr, "wlr-anim-client: compositor lacks wl_compositor/wl_shm/xdg_wm_base\n");
		return 1;
	}
	xdg_wm_base_add_listener(c.wm, &wm_listener, &c);
	c.surf = wl_compositor_create_surface(c.comp);
	c.xs = xdg_wm_base_get_xdg_surface(c.wm, c.surf);
	xdg_surface_add_listener(c.xs, &xs_listener, &c);
	c.top = xdg_surface_get_toplevel(c.xs);
	xdg_toplevel_add_listener(c.top, &top_listener, &c);
	xdg_toplevel_set_title(c.top, "framepush-wlr-anim");
	wl_surface_commit(c.surf);
	t0 = now_s();
	run(&c, sfd);
	if (c.report) {
		FILE *f = fopen(c.report, "we");

		if (f) {
			fprintf(f, "frames %u seconds %.3f\n", c.counter, now_s() - t0);
			fclose(f);
		}
	}
	free_buffers(&c);
	wl_display_disconnect(c.dpy);
	close(sfd);
	return 0;
}
