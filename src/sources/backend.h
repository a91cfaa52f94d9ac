/* framepush — a source backend: the only code that talks to a display.
 *
 * framepush-source drives one backend through this table; nothing above it knows which
 * display it is (test pattern, X11, wlroots, ...). */
#ifndef FP_SOURCES_BACKEND_H
#define FP_SOURCES_BACKEND_H

#include <stdint.h>
#include <stdio.h>

#include "framepush/input.h"
#include "framepush/proto.h"
#include "framepush/source.h"

struct fp_backend;

struct fp_backend_args {
	const char *spec;       /* backend options "key=value,..." (may be NULL) */
	uint32_t width, height; /* requested mode where the backend can choose */
	uint32_t fps;
	const char *display;    /* X display / Wayland socket, backend-specific */
};

struct fp_backend_impl {
	const char *name;
	int (*create)(struct fp_backend **out, const struct fp_backend_args *args);
	void (*destroy)(struct fp_backend *b);
	/* The display's current descriptor. */
	void (*describe)(struct fp_backend *b, uint32_t *width, uint32_t *height, uint32_t *format);
	/* An fd to poll for input (-1: none) and the next timer deadline (INT64_MAX: none). */
	int (*fd)(struct fp_backend *b);
	int64_t (*next_wakeup_ns)(struct fp_backend *b);
	/* Called when the fd is readable or the deadline passed: capture and publish if there
	 * is something new. A negative return ends the source. */
	int (*dispatch)(struct fp_backend *b, struct fp_source *src);
	/* The ring changed (NULL: detached); e.g. attach the slots to the display server. */
	int (*ring_changed)(struct fp_backend *b, const struct fp_source_ring *ring);
	/* Make the display compose a frame (idle desktops publish nothing otherwise). */
	void (*kick)(struct fp_backend *b);
	/* Optional (NULL: a view-only backend; events are dropped and counted). Injects one
	 * viewer input event, already validated (fp_input_event_valid), into the display;
	 * positions map to the display's size at the time it arrives (fp_input_pixel). 0, or
	 * -errno for an event the display did not take: counted, never the end of the source. */
	int (*input)(struct fp_backend *b, const struct fp_input_event *ev);
	/* Validates an option string without touching a display: the host runs it before it
	 * spawns the source, so a bad spec is a usage error, not a source that died. 0 or
	 * -EINVAL / -ENOENT with the reason logged. */
	int (*check_spec)(const char *spec);
	/* Optional (NULL: nothing to list): writes what the display offers (screens, outputs,
	 * modes; listing.h's format) to out, without capturing. display NULL: the
	 * environment's. 0, or -errno when the display could not be reached (logged). */
	int (*list)(const char *display, FILE *out);
};

extern const struct fp_backend_impl fp_backend_test;

/* The backends in this build, by name, e.g. "test, wlr, x11". */
extern const char *const fp_backends_built;

/* Looks a backend up by name; NULL when unknown. */
const struct fp_backend_impl *fp_backend_find(const char *name);

#endif
