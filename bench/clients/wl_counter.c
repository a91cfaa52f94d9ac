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

#include "counter.h"
#include "wl_window.h"

struct client {
	struct fpc_window win; /* first: the window's callbacks get the client */
	uint32_t *row; /* one row of pixels, built per band and copied down it */
	uint32_t n;
	int waiting;   /* a frame is due but every buffer is busy */
};

static void draw(struct client *c);

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
		memcpy(px + (size_t)y * (uint32_t)c->win.w, c->row, (size_t)c->win.w * 4);
}

static void paint(struct client *c, uint32_t *px)
{
	uint32_t w = (uint32_t)c->win.w, half = (uint32_t)c->win.h / 2u;

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
	band(c, px, half, (uint32_t)c->win.h);
}

static void draw(struct client *c)
{
	struct fpc_window *win = &c->win;
	struct fpc_buf *b = fpc_window_free_buffer(win);

	/* All buffers on screen: draw when one comes back (released), not before. */
	c->waiting = !b;
	if (!b)
		return;
	paint(c, b->px);
	c->n++;
	b->busy = 1;
	wl_surface_attach(win->surf, b->wl, 0, 0);
	wl_surface_damage_buffer(win->surf, 0, 0, win->w, win->h);
	wl_callback_add_listener(wl_surface_frame(win->surf), &frame_listener, c);
	wl_surface_commit(win->surf);
}

static void released(struct fpc_window *win)
{
	struct client *c = (struct client *)win;

	if (c->waiting)
		draw(c);
}

static void configured(struct fpc_window *win)
{
	struct client *c = (struct client *)win;
	int first = !win->map;
	uint32_t *row;

	if (!first && win->w == win->buf_w && win->h == win->buf_h)
		return;
	row = realloc(c->row, (size_t)win->w * 4);
	if (!row || fpc_window_buffers(win) < 0) {
		fprintf(stderr, "fpb-wl-client: buffers of %dx%d: %s\n", win->w, win->h, strerror(errno));
		if (row)
			c->row = row;
		win->running = 0;
		return;
	}
	c->row = row;
	/* The first configure starts the frame loop; later ones resize it, and the pending
	 * frame callback (or release) keeps it going. */
	if (first || c->waiting)
		draw(c);
}

int main(int argc, char **argv)
{
	struct client c = { .win = { .configured = configured, .released = released } };

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: fpb-wl-client   (in a Wayland session: WAYLAND_DISPLAY)\n");
		return 2;
	}
	if (fpc_window_open(&c.win, "fpb-wl-client", "framepush-bench", 1) < 0)
		return 1;
	while (c.win.running && wl_display_dispatch(c.win.dpy) >= 0)
		;
	fpc_window_close(&c.win);
	free(c.row);
	return 0;
}
