/* wlr-input-client: a fullscreen Wayland window that reports the input it receives, one line
 * per event, for the input tests (and the browser tests of `framepush serve`). The output
 * contract is x11-input-client's (tests/x11/input_client.c):
 *
 *   ready W H               fullscreen over the W x H output (its current mode), with
 *                           keyboard focus
 *   motion X Y              pointer position (surface pixels are output pixels)
 *   button CODE 1|0 X Y     CODE: evdev (272 left, 273 right, 274 middle)
 *   wheel AXIS VALUE        AXIS 0 vertical, 1 horizontal; VALUE detents, + down/right
 *   key CODE 1|0 TEXT       CODE: evdev; TEXT: the UTF-8 of the press with the modifiers in
 *                           effect (xkbcommon, on the keymap the compositor sent), "-" for
 *                           none, a control character or a release; the rest of the line
 *
 * Lines go to stdout (flushed per line), or to the file named by argv[1] (a FIFO the test
 * reads). Runs until the compositor closes the window or goes away. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xkbcommon/xkbcommon.h>

#include "wl_window.h"

#define WIN_RGB 0x3366ccu

struct client {
	struct fpc_window win; /* first: the window's callbacks get the client */
	FILE *out;
	struct wl_seat *seat;
	struct wl_output *output;
	struct wl_pointer *pointer;
	struct wl_keyboard *keyboard;
	struct xkb_context *xkb;
	struct xkb_keymap *keymap;
	struct xkb_state *state;
	int32_t out_w, out_h;      /* the output's current mode */
	int focused, ready;
	wl_fixed_t x, y;           /* the pointer on our surface */
	int32_t discrete[2];       /* this pointer frame's wheel detents per axis */
	wl_fixed_t axis[2];        /* and its axis values, for a compositor without discrete */
};

static void emit(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fflush(c->out);
}

/* Ready once focused at the output's full size (sway may configure a first, smaller size
 * before it makes the window fullscreen). */
static void check_ready(struct client *c)
{
	if (c->ready || !c->focused || c->win.w != c->out_w || c->win.h != c->out_h)
		return;
	c->ready = 1;
	emit(c, "ready %d %d\n", c->win.w, c->win.h);
}

static void configured(struct fpc_window *win)
{
	struct client *c = (struct client *)win;
	struct fpc_buf *b;

	if (fpc_window_buffers(win) < 0 || !(b = fpc_window_free_buffer(win))) {
		fprintf(stderr, "wlr-input-client: no buffer: %s\n", strerror(errno));
		exit(1);
	}
	for (size_t i = 0; i < (size_t)win->w * (size_t)win->h; i++)
		b->px[i] = 0xff000000u | WIN_RGB;
	b->busy = 1;
	wl_surface_attach(win->surf, b->wl, 0, 0);
	wl_surface_damage_buffer(win->surf, 0, 0, win->w, win->h);
	wl_surface_commit(win->surf);
	check_ready(c);
}

/* ---- pointer ---- */

static void ptr_enter(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s,
		      wl_fixed_t x, wl_fixed_t y)
{
	struct client *c = data;

	(void)p, (void)serial, (void)s;
	c->x = x;
	c->y = y;
	emit(c, "motion %d %d\n", wl_fixed_to_int(x), wl_fixed_to_int(y));
}

static void ptr_leave(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s)
{
	(void)data, (void)p, (void)serial, (void)s;
}

static void ptr_motion(void *data, struct wl_pointer *p, uint32_t t, wl_fixed_t x, wl_fixed_t y)
{
	(void)p, (void)t;
	ptr_enter(data, NULL, 0, NULL, x, y);
}

static void ptr_button(void *data, struct wl_pointer *p, uint32_t serial, uint32_t t,
		       uint32_t button, uint32_t state)
{
	struct client *c = data;

	(void)p, (void)serial, (void)t;
	emit(c, "button %u %d %d %d\n", button, state == WL_POINTER_BUTTON_STATE_PRESSED,
	     wl_fixed_to_int(c->x), wl_fixed_to_int(c->y));
}

static void ptr_axis(void *data, struct wl_pointer *p, uint32_t t, uint32_t axis, wl_fixed_t v)
{
	struct client *c = data;

	(void)p, (void)t;
	if (axis <= 1)
		c->axis[axis] += v;
}

static void ptr_discrete(void *data, struct wl_pointer *p, uint32_t axis, int32_t discrete)
{
	struct client *c = data;

	(void)p;
	if (axis <= 1)
		c->discrete[axis] += discrete;
}

/* One line per axis that moved in this frame: detents, or axis units of 15 per detent. */
static void ptr_frame(void *data, struct wl_pointer *p)
{
	struct client *c = data;

	(void)p;
	for (int a = 0; a < 2; a++) {
		int32_t d = c->discrete[a] ? c->discrete[a] : wl_fixed_to_int(c->axis[a]) / 15;

		if (d)
			emit(c, "wheel %d %d\n", a, d);
		c->discrete[a] = 0;
		c->axis[a] = 0;
	}
}

static void ptr_source(void *data, struct wl_pointer *p, uint32_t source)
{
	(void)data, (void)p, (void)source;
}

static void ptr_stop(void *data, struct wl_pointer *p, uint32_t t, uint32_t axis)
{
	(void)data, (void)p, (void)t, (void)axis;
}

static const struct wl_pointer_listener pointer_listener = {
	.enter = ptr_enter, .leave = ptr_leave, .motion = ptr_motion, .button = ptr_button,
	.axis = ptr_axis, .frame = ptr_frame, .axis_source = ptr_source, .axis_stop = ptr_stop,
	.axis_discrete = ptr_discrete,
};

/* ---- keyboard ---- */

static void kb_keymap(void *data, struct wl_keyboard *k, uint32_t format, int fd, uint32_t size)
{
	struct client *c = data;
	char *map;

	(void)k;
	if (format != WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1) {
		close(fd);
		return;
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	xkb_state_unref(c->state);
	xkb_keymap_unref(c->keymap);
	/* A keymap string ends with its NUL inside size. */
	c->keymap = xkb_keymap_new_from_buffer(c->xkb, map, strnlen(map, size),
					       XKB_KEYMAP_FORMAT_TEXT_V1, XKB_KEYMAP_COMPILE_NO_FLAGS);
	munmap(map, size);
	c->state = c->keymap ? xkb_state_new(c->keymap) : NULL;
}

static void kb_enter(void *data, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s,
		     struct wl_array *keys)
{
	struct client *c = data;

	(void)k, (void)serial, (void)s, (void)keys;
	c->focused = 1;
	check_ready(c);
}

static void kb_leave(void *data, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s)
{
	(void)k, (void)serial, (void)s;
	((struct client *)data)->focused = 0;
}

static void kb_key(void *data, struct wl_keyboard *k, uint32_t serial, uint32_t t, uint32_t key,
		   uint32_t state)
{
	struct client *c = data;
	char text[64] = "";

	(void)k, (void)serial, (void)t;
	if (state != WL_KEYBOARD_KEY_STATE_PRESSED) {
		emit(c, "key %u 0 -\n", key);
		return;
	}
	if (c->state)
		xkb_state_key_get_utf8(c->state, key + 8, text, sizeof(text));
	/* No text, or a control character (Return, Tab, Escape, Ctrl+letter). */
	if ((unsigned char)text[0] < 0x20 || text[0] == 0x7f)
		snprintf(text, sizeof(text), "-");
	emit(c, "key %u 1 %s\n", key, text);
}

/* The compositor's word on the modifiers is the one text is made with. */
static void kb_modifiers(void *data, struct wl_keyboard *k, uint32_t serial, uint32_t dep,
			 uint32_t lat, uint32_t lock, uint32_t group)
{
	struct client *c = data;

	(void)k, (void)serial;
	if (c->state)
		xkb_state_update_mask(c->state, dep, lat, lock, 0, 0, group);
}

static void kb_repeat(void *data, struct wl_keyboard *k, int32_t rate, int32_t delay)
{
	(void)data, (void)k, (void)rate, (void)delay;
}

static const struct wl_keyboard_listener keyboard_listener = {
	.keymap = kb_keymap, .enter = kb_enter, .leave = kb_leave, .key = kb_key,
	.modifiers = kb_modifiers, .repeat_info = kb_repeat,
};

/* ---- seat and output ---- */

static void seat_caps(void *data, struct wl_seat *seat, uint32_t caps)
{
	struct client *c = data;

	if ((caps & WL_SEAT_CAPABILITY_POINTER) && !c->pointer) {
		c->pointer = wl_seat_get_pointer(seat);
		wl_pointer_add_listener(c->pointer, &pointer_listener, c);
	}
	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && !c->keyboard) {
		c->keyboard = wl_seat_get_keyboard(seat);
		wl_keyboard_add_listener(c->keyboard, &keyboard_listener, c);
	}
}

static void seat_name(void *data, struct wl_seat *seat, const char *name)
{
	(void)data, (void)seat, (void)name;
}

static const struct wl_seat_listener seat_listener = { .capabilities = seat_caps,
						       .name = seat_name };

static void out_geometry(void *data, struct wl_output *o, int32_t x, int32_t y, int32_t pw,
			 int32_t ph, int32_t sub, const char *make, const char *model, int32_t tr)
{
	(void)data, (void)o, (void)x, (void)y, (void)pw, (void)ph, (void)sub, (void)make;
	(void)model, (void)tr;
}

static void out_mode(void *data, struct wl_output *o, uint32_t flags, int32_t w, int32_t h,
		     int32_t refresh)
{
	struct client *c = data;

	(void)o, (void)refresh;
	if (flags & WL_OUTPUT_MODE_CURRENT) {
		c->out_w = w;
		c->out_h = h;
		check_ready(c);
	}
}

static const struct wl_output_listener output_listener = { .geometry = out_geometry,
							   .mode = out_mode };

static void reg_global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
		       uint32_t version)
{
	struct client *c = data;

	if (!strcmp(iface, wl_seat_interface.name) && !c->seat) {
		/* 5: axis_discrete, so a wheel detent is told apart from a smooth scroll. */
		c->seat = wl_registry_bind(reg, name, &wl_seat_interface, version < 5 ? version : 5);
		wl_seat_add_listener(c->seat, &seat_listener, c);
	} else if (!strcmp(iface, wl_output_interface.name) && !c->output) {
		c->output = wl_registry_bind(reg, name, &wl_output_interface, 1);
		wl_output_add_listener(c->output, &output_listener, c);
	}
}

static void reg_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	(void)data, (void)reg, (void)name;
}

static const struct wl_registry_listener reg_listener = { .global = reg_global,
							  .global_remove = reg_remove };

int main(int argc, char **argv)
{
	struct client c = { .win = { .configured = configured } };

	c.out = argc > 1 ? fopen(argv[1], "we") : stdout;
	c.xkb = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	if (!c.out || !c.xkb) {
		fprintf(stderr, "wlr-input-client: %s\n", !c.out ? strerror(errno) : "no xkb context");
		return 1;
	}
	setvbuf(c.out, NULL, _IOLBF, 0);
	if (fpc_window_open(&c.win, "wlr-input-client", "framepush-input-test", 1) < 0)
		return 1;
	wl_registry_add_listener(wl_display_get_registry(c.win.dpy), &reg_listener, &c);
	while (c.win.running && wl_display_dispatch(c.win.dpy) >= 0)
		;
	fpc_window_close(&c.win);
	return 0;
}
