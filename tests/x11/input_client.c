/* x11-input-client: a window over the whole X screen that reports the input it receives, one
 * line per event, for the input tests (and the browser tests of `framepush serve`):
 *
 *   ready W H               mapped at 0,0 over the whole W x H screen, with keyboard focus
 *   motion X Y              pointer position (window pixels are screen pixels)
 *   button CODE 1|0 X Y     CODE: evdev (272 left, 273 right, 274 middle); 1 press, 0 release
 *   wheel AXIS VALUE        AXIS 0 vertical, 1 horizontal; VALUE detents, + down/right
 *   key CODE 1|0 TEXT       CODE: evdev (X keycode - 8); TEXT: the UTF-8 the press produced
 *                           with the modifiers held, "-" for none, a control character or a
 *                           release. TEXT is the rest of the line (a space is " ").
 *
 * Lines go to stdout (flushed per line), or to the file named by argv[1] (a FIFO the test
 * reads). Runs until its display goes away or it is killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

#define BTN_LEFT 0x110
#define BTN_RIGHT 0x111
#define BTN_MIDDLE 0x112

/* The text of a press as UTF-8: XLookupString gives Latin-1 for the core keymap. */
static void press_text(XKeyEvent *e, char *out, size_t cap)
{
	char latin1[16];
	KeySym sym;
	int n = XLookupString(e, latin1, (int)sizeof(latin1) - 1, &sym, NULL);
	size_t o = 0;

	for (int i = 0; i < n && o + 3 < cap; i++) {
		unsigned char ch = (unsigned char)latin1[i];

		if (ch < 0x20 || ch == 0x7f)
			continue; /* Return, Tab, BackSpace, Escape, Ctrl+letter: no text */
		if (ch < 0x80) {
			out[o++] = (char)ch;
		} else {
			out[o++] = (char)(0xc0 | ch >> 6);
			out[o++] = (char)(0x80 | (ch & 0x3f));
		}
	}
	if (!o)
		out[o++] = '-';
	out[o] = '\0';
}

static void on_button(FILE *out, const XButtonEvent *e, int pressed)
{
	static const int code[] = { 0, BTN_LEFT, BTN_MIDDLE, BTN_RIGHT };

	if (e->button >= 1 && e->button <= 3) {
		fprintf(out, "button %d %d %d %d\n", code[e->button], pressed, e->x, e->y);
	} else if (e->button >= 4 && e->button <= 7 && pressed) {
		/* One press per detent; its release says nothing more. */
		fprintf(out, "wheel %d %d\n", e->button >= 6, e->button % 2 ? 1 : -1);
	}
}

static void on_event(FILE *out, Display *dpy, Window win, XEvent *ev, int *ready)
{
	char text[64];

	switch (ev->type) {
	case MapNotify:
		/* Viewable now: focus can be set (no window manager would do it). */
		XSetInputFocus(dpy, win, RevertToParent, CurrentTime);
		break;
	case FocusIn:
		if (!*ready && ev->xfocus.window == win) {
			XWindowAttributes a;

			XGetWindowAttributes(dpy, win, &a);
			fprintf(out, "ready %d %d\n", a.width, a.height);
			*ready = 1;
		}
		break;
	case MotionNotify:
		fprintf(out, "motion %d %d\n", ev->xmotion.x, ev->xmotion.y);
		break;
	case ButtonPress:
	case ButtonRelease:
		on_button(out, &ev->xbutton, ev->type == ButtonPress);
		break;
	case KeyPress:
		press_text(&ev->xkey, text, sizeof(text));
		fprintf(out, "key %u 1 %s\n", ev->xkey.keycode - 8u, text);
		break;
	case KeyRelease:
		fprintf(out, "key %u 0 -\n", ev->xkey.keycode - 8u);
		break;
	default:
		break;
	}
	fflush(out);
}

int main(int argc, char **argv)
{
	FILE *out = argc > 1 ? fopen(argv[1], "we") : stdout;
	Display *dpy;
	XSetWindowAttributes wa = { .override_redirect = True, .background_pixel = 0x3366cc };
	Window win;
	int scr, ready = 0;

	if (!out) {
		perror("x11-input-client: output");
		return 1;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "x11-input-client: cannot open display $DISPLAY\n");
		return 1;
	}
	scr = DefaultScreen(dpy);
	wa.event_mask = StructureNotifyMask | FocusChangeMask | PointerMotionMask |
			ButtonPressMask | ButtonReleaseMask | KeyPressMask | KeyReleaseMask;
	/* Override-redirect at 0,0 over the whole screen: window pixels are screen pixels. */
	win = XCreateWindow(dpy, RootWindow(dpy, scr), 0, 0, (unsigned)DisplayWidth(dpy, scr),
			    (unsigned)DisplayHeight(dpy, scr), 0, CopyFromParent, InputOutput,
			    CopyFromParent, CWOverrideRedirect | CWBackPixel | CWEventMask, &wa);
	XMapRaised(dpy, win);
	for (;;) {
		XEvent ev;

		/* XNextEvent returns only with an event; a lost display exits in Xlib's handler. */
		XNextEvent(dpy, &ev);
		on_event(out, dpy, win, &ev, &ready);
	}
}
