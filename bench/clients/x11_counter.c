/* fpb-x11-client — the pipeline bench's X client: a window over the whole screen showing a
 * frame counter (clients/counter.h), a new value RATE times a second from a timer, until it
 * is killed or the display goes away.
 *
 * Each frame is drawn into a pixmap and then copied to the window in one request: the X
 * server runs one request at a time, so a capturer's GetImage sees a whole frame, never
 * half of one (a torn frame would read as a wrong counter).
 *
 * usage: fpb-x11-client [RATE_HZ]   (default 60) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <poll.h>
#include <unistd.h>
#include <xcb/xcb.h>

#include "common/util.h"
#include "counter.h"

struct xclient {
	xcb_connection_t *c;
	xcb_window_t win;
	xcb_pixmap_t pix;
	xcb_gcontext_t gc;
	uint16_t w, h;
};

static void fill(struct xclient *x, uint32_t rgb, const xcb_rectangle_t *r, uint32_t n)
{
	xcb_change_gc(x->c, x->gc, XCB_GC_FOREGROUND, &rgb);
	xcb_poly_fill_rectangle(x->c, x->pix, x->gc, n, r);
}

static xcb_rectangle_t rect(uint32_t x0, uint32_t y0, uint32_t x1, uint32_t y1)
{
	return (xcb_rectangle_t){ (int16_t)x0, (int16_t)y0, (uint16_t)(x1 - x0),
				  (uint16_t)(y1 - y0) };
}

static void draw(struct xclient *x, uint32_t n)
{
	xcb_rectangle_t on[FPB_COLS * FPB_ROWS], off[FPB_COLS * FPB_ROWS];
	uint32_t non = 0, noff = 0, half = x->h / 2u;

	for (unsigned row = 0; row < FPB_ROWS; row++)
		for (unsigned col = 0; col < FPB_COLS; col++) {
			xcb_rectangle_t r = rect(fpb_edge(x->w, FPB_COLS, col),
						 fpb_edge(half, FPB_ROWS, row),
						 fpb_edge(x->w, FPB_COLS, col + 1),
						 fpb_edge(half, FPB_ROWS, row + 1));

			if (fpb_cell_on(n, col, row))
				on[non++] = r;
			else
				off[noff++] = r;
		}
	fill(x, FPB_WHITE, on, non);
	fill(x, FPB_BLACK, off, noff);
	for (unsigned i = 0; i < FPB_STRIPES; i++) {
		xcb_rectangle_t r = rect(fpb_edge(x->w, FPB_STRIPES, i), half,
					 fpb_edge(x->w, FPB_STRIPES, i + 1), x->h);

		fill(x, fpb_stripe_rgb(n, i), &r, 1);
	}
	xcb_copy_area(x->c, x->pix, x->win, x->gc, 0, 0, 0, 0, x->w, x->h);
}

static int setup(struct xclient *x)
{
	xcb_screen_t *s;

	x->c = xcb_connect(NULL, NULL);
	if (xcb_connection_has_error(x->c)) {
		fprintf(stderr, "fpb-x11-client: cannot connect to $DISPLAY\n");
		return -1;
	}
	s = xcb_setup_roots_iterator(xcb_get_setup(x->c)).data;
	x->w = s->width_in_pixels;
	x->h = s->height_in_pixels;
	x->win = xcb_generate_id(x->c);
	x->pix = xcb_generate_id(x->c);
	x->gc = xcb_generate_id(x->c);
	xcb_create_window(x->c, XCB_COPY_FROM_PARENT, x->win, s->root, 0, 0, x->w, x->h, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual, 0, NULL);
	xcb_create_pixmap(x->c, s->root_depth, x->pix, x->win, x->w, x->h);
	xcb_create_gc(x->c, x->gc, x->pix, 0, NULL);
	xcb_map_window(x->c, x->win);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long hz = 60;
	struct xclient x = { 0 };
	struct itimerspec its = { 0 };
	uint32_t n = 0;
	int tfd;

	if (argc > 2 || (argc == 2 && fp_parse_uint(argv[1], 1, 1000, &hz) < 0)) {
		fprintf(stderr, "usage: fpb-x11-client [RATE_HZ 1..1000]\n");
		return 2;
	}
	if (setup(&x) < 0)
		return 1;
	/* A periodic timer, not poll(interval): the rate does not drift with the drawing time. */
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	its.it_interval.tv_sec = (time_t)((int64_t)hz == 1);
	its.it_interval.tv_nsec = (long)(FP_NSEC_PER_SEC / (int64_t)hz % FP_NSEC_PER_SEC);
	its.it_value = its.it_interval;
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
		perror("fpb-x11-client: timerfd");
		return 1;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = tfd, .events = POLLIN },
				       { .fd = xcb_get_file_descriptor(x.c), .events = POLLIN } };
		xcb_generic_event_t *ev;
		uint64_t ticks;

		draw(&x, n++);
		if (xcb_flush(x.c) <= 0 || xcb_connection_has_error(x.c))
			return 0; /* the display went away: done */
		/* One new value per wakeup, however many ticks passed: the counter counts drawn
		 * frames, so a late client shows as fewer fresh frames, not as a jump. */
		do {
			if (poll(p, 2, -1) < 0)
				continue; /* EINTR */
			while ((ev = xcb_poll_for_event(x.c)))
				free(ev);
			if (xcb_connection_has_error(x.c))
				return 0;
		} while (!(p[0].revents & POLLIN));
		if (read(tfd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
			return 1;
	}
}
