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
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "wl_window.h"

#define BITS 16

struct client {
	struct fpc_window win; /* first: the window's callbacks get the client */
	uint32_t counter;
	unsigned burst, burst_left;
	int bursting, burst_wanted;
	const char *fifo, *report;
	int frame_pending;
};

static void die(const char *what)
{
	fprintf(stderr, "wlr-anim-client: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Three row patterns (background, bits, complement), then whole rows copied: cheap enough
 * that at 1080p the client is never what limits the frame rate. */
static void paint(const struct client *c, uint32_t *px)
{
	uint32_t bg = c->counter & 1 ? 0xff505050u : 0xff303030u;
	size_t w = (size_t)c->win.w, row_bytes = w * 4;
	uint32_t *bits = px, *comp = px + w, *back = px + 2 * w;

	/* The patterns are built in rows 0..2 (background rows in the final picture) and
	 * copied from there; row 0..2 are rewritten last. */
	for (size_t x = 0; x < w; x++) {
		int bit = (int)(c->counter >> (BITS - 1 - x * BITS / w) & 1);

		bits[x] = bit ? 0xffffffffu : 0xff000000u;
		comp[x] = bit ? 0xff000000u : 0xffffffffu;
		back[x] = bg;
	}
	for (int32_t y = 3; y < c->win.h; y++) {
		const uint32_t *from = back;

		if (y >= c->win.h / 8 && y < 7 * c->win.h / 16)
			from = bits;
		else if (y >= 9 * c->win.h / 16 && y < 7 * c->win.h / 8)
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
	struct fpc_window *win = &c->win;
	struct fpc_buf *b;

	if (fpc_window_buffers(win) < 0)
		die("buffers");
	b = fpc_window_free_buffer(win);
	if (!b) {
		fprintf(stderr, "wlr-anim-client: the compositor holds all %d buffers\n", FPC_NBUF);
		exit(1);
	}
	paint(c, b->px);
	b->busy = 1;
	wl_surface_attach(win->surf, b->wl, 0, 0);
	wl_surface_damage_buffer(win->surf, 0, 0, win->w, win->h);
	if (!c->frame_pending) {
		wl_callback_add_listener(wl_surface_frame(win->surf), &frame_listener, c);
		c->frame_pending = 1;
	}
	wl_surface_commit(win->surf);
}

static void configured(struct fpc_window *win)
{
	draw((struct client *)win);
}

/* A signal arrived: SIGUSR1 starts a burst (if none runs), anything else ends the client. */
static void on_signal(struct client *c, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo != SIGUSR1) {
		c->win.running = 0;
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
	struct wl_display *dpy = c->win.dpy;

	while (c->win.running) {
		struct pollfd p[2] = { { .fd = wl_display_get_fd(dpy), .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };

		while (wl_display_prepare_read(dpy) != 0)
			if (wl_display_dispatch_pending(dpy) < 0)
				return;
		if (wl_display_flush(dpy) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(dpy);
			return;
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			wl_display_cancel_read(dpy);
			return;
		}
		if (p[0].revents) {
			if (wl_display_read_events(dpy) < 0)
				return;
		} else {
			wl_display_cancel_read(dpy);
		}
		if (wl_display_dispatch_pending(dpy) < 0)
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
	struct client c = { .win = { .configured = configured } };
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
	if (fpc_window_open(&c.win, "wlr-anim-client", "framepush-wlr-anim", 0) < 0)
		return 1;
	t0 = now_s();
	run(&c, sfd);
	if (c.report) {
		FILE *f = fopen(c.report, "we");

		if (f) {
			fprintf(f, "frames %u seconds %.3f\n", c.counter, now_s() - t0);
			fclose(f);
		}
	}
	fpc_window_close(&c.win);
	close(sfd);
	return 0;
}
