/* A test X client: a window over the whole screen whose colour changes every N ms (argv[1],
 * default 50), until it is killed or its display goes away. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <xcb/xcb.h>

int main(int argc, char **argv)
{
	int interval = argc > 1 ? atoi(argv[1]) : 50;
	xcb_connection_t *c = xcb_connect(NULL, NULL);
	xcb_screen_t *s;
	xcb_window_t w;
	xcb_gcontext_t gc;
	uint32_t frame = 0;

	if (xcb_connection_has_error(c)) {
		fprintf(stderr, "x11-client: cannot connect to $DISPLAY\n");
		return 1;
	}
	s = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
	w = xcb_generate_id(c);
	gc = xcb_generate_id(c);
	xcb_create_window(c, XCB_COPY_FROM_PARENT, w, s->root, 0, 0, s->width_in_pixels,
			  s->height_in_pixels, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual, 0, NULL);
	xcb_create_gc(c, gc, w, 0, NULL);
	xcb_map_window(c, w);
	for (;;) {
		struct pollfd p = { .fd = xcb_get_file_descriptor(c), .events = POLLIN };
		uint32_t colour = 0x102030u + (frame++ * 0x050301u & 0xffffffu);
		xcb_rectangle_t r = { 0, 0, s->width_in_pixels, s->height_in_pixels };
		xcb_generic_event_t *ev;

		xcb_change_gc(c, gc, XCB_GC_FOREGROUND, &colour);
		xcb_poly_fill_rectangle(c, w, gc, 1, &r);
		if (xcb_flush(c) <= 0 || xcb_connection_has_error(c))
			return 0; /* the display went away: done */
		poll(&p, 1, interval > 0 ? interval : 50);
		while ((ev = xcb_poll_for_event(c)))
			free(ev);
	}
}
