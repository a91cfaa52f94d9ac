/* framepush — the X11 backend: an X screen captured through MIT-SHM straight into the ring.
 *
 * Every ring slot memfd is attached to the X server (ShmAttachFd), so ShmGetImage makes the
 * server write the root window's pixels into the slot itself: no copy in this process. The
 * one exception is a ring whose stride is not width * 4 (a width that is not a multiple of
 * 16): ShmGetImage writes tightly packed rows, so the image goes to a private scratch
 * segment and the rows are copied into the slot at the ring's stride.
 *
 * Frames are published only when something changed: DAMAGE on the root (screen content),
 * XInput2 raw motion (the pointer moved), XFixes cursor notify (the cursor shape changed),
 * or a kick from the host. An idle desktop publishes nothing. The cursor is not part of
 * GetImage (X draws it as a sprite on top), so each frame gets the XFixes cursor image
 * blended in at the pointer position.
 *
 * RandR screen changes are reported to the host as a new descriptor; until the host's new
 * ring arrives, one frame of the new size goes through the format guard (dropped, counted)
 * and the pending change is captured into the new ring as soon as it is attached. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xcb/damage.h>
#include <xcb/randr.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>
#include <xcb/xinput.h>
#include <xcb/xtest.h>

#include "common/log.h"
#include "common/util.h"
#include "backend.h"
#include "listing.h"
#include "spec.h"

/* XFixes cursor images larger than this are not a cursor we should trust (themes top out at
 * 256 px; the bound keeps a hostile server from making us walk a huge buffer). */
#define CURSOR_MAX 1024u

struct fp_backend {
	xcb_connection_t *c;
	xcb_window_t root;
	uint8_t root_depth;
	uint32_t width, height; /* the screen as last described to the host */

	xcb_damage_damage_t damage;
	uint8_t damage_event, randr_event, xfixes_event, xi_opcode;
	int have_randr, have_xtest, have_xi;

	/* The attached ring: one X shm segment per slot. */
	uint32_t generation, nseg;
	xcb_shm_seg_t seg[FP_RING_MAX];
	int have_ring; /* the source library holds a ring (attached or not) */
	int attached;  /* its slots are segments of the X server */
	/* Stride != width * 4: ShmGetImage goes here, rows are copied into the slot. */
	xcb_shm_seg_t scratch_seg;
	uint8_t *scratch;
	size_t scratch_size;

	/* What is pending: a capture is due when any of these is set. */
	int damaged, moved, kicked;
	int size_pending;   /* RandR said the screen changed: re-read the root geometry */
	int guard_dropped;  /* the ring has the old size; a frame was dropped, wait for a new ring */
	int64_t period_ns, next_capture_ns;

	int lost_logged;

	/* Measurements, logged at the end. */
	uint64_t captures, copies;
	int64_t get_image_ns_total, get_image_ns_max;
};

static const char *display_name(const char *d)
{
	if (d && *d)
		return d;
	d = getenv("DISPLAY");
	return d ? d : "(unset)";
}

/* One line for an X error: which request failed and how. */
static void log_x_error(const char *what, const xcb_generic_error_t *e)
{
	fp_warn("x11: %s failed: X error %u (request %u.%u, resource 0x%x)", what, e->error_code,
		e->major_code, e->minor_code, e->resource_id);
}

/* Waits for a checked request; 0 or -EIO with the X error logged. */
static int check(xcb_connection_t *c, xcb_void_cookie_t ck, const char *what)
{
	xcb_generic_error_t *e = xcb_request_check(c, ck);

	if (!e)
		return xcb_connection_has_error(c) ? -EPIPE : 0;
	log_x_error(what, e);
	free(e);
	return -EIO;
}

/* ---- ring attachment ---- */

static void detach_all(struct fp_backend *b)
{
	for (uint32_t i = 0; i < b->nseg; i++)
		xcb_shm_detach(b->c, b->seg[i]);
	b->nseg = 0;
	b->attached = 0;
	if (b->scratch) {
		xcb_shm_detach(b->c, b->scratch_seg);
		munmap(b->scratch, b->scratch_size);
		b->scratch = NULL;
		b->scratch_size = 0;
	}
	xcb_flush(b->c);
}

/* Hands the server its own copy of fd as a new segment: xcb closes the fd it sends, and the
 * ring's fds belong to the source library. */
static int attach_fd(struct fp_backend *b, int fd, xcb_shm_seg_t *seg, const char *what)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (dup_fd < 0)
		return -errno;
	*seg = xcb_generate_id(b->c);
	return check(b->c, xcb_shm_attach_fd_checked(b->c, *seg, dup_fd, 0), what);
}

static int attach_scratch(struct fp_backend *b, uint32_t w, uint32_t h)
{
	size_t size = (size_t)w * 4u * h;
	int fd = memfd_create("framepush-x11-scratch", MFD_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	b->scratch = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (b->scratch == MAP_FAILED) {
		r = -errno;
		b->scratch = NULL;
		close(fd);
		return r;
	}
	b->scratch_size = size;
	r = attach_fd(b, fd, &b->scratch_seg, "ShmAttachFd (scratch)");
	close(fd);
	if (r < 0) {
		/* Nothing attached: do not let detach_all detach an unknown segment. */
		munmap(b->scratch, size);
		b->scratch = NULL;
		b->scratch_size = 0;
	}
	return r;
}

/* ---- events ---- */

static void handle_event(struct fp_backend *b, const xcb_generic_event_t *ev)
{
	uint8_t type = ev->response_type & 0x7f;

	if (type == 0) {
		/* An error for a request sent unchecked (detach, subtract, fake input): it does
		 * not break the capture, but it must not pass silently either. */
		log_x_error("request", (const xcb_generic_error_t *)(const void *)ev);
		return;
	}
	if (type == b->damage_event + XCB_DAMAGE_NOTIFY) {
		b->damaged = 1;
	} else if (b->have_randr && type == b->randr_event + XCB_RANDR_SCREEN_CHANGE_NOTIFY) {
		b->size_pending = 1;
	} else if (type == b->xfixes_event + XCB_XFIXES_CURSOR_NOTIFY) {
		b->moved = 1; /* a new cursor shape is a visible change */
	} else if (type == XCB_GE_GENERIC && b->have_xi) {
		const xcb_ge_generic_event_t *ge = (const xcb_ge_generic_event_t *)(const void *)ev;

		if (ge->extension == b->xi_opcode && ge->event_type == XCB_INPUT_RAW_MOTION)
			b->moved = 1;
	}
}

/* Handles every event xcb holds. read_socket = 0 takes only what xcb already read (so a
 * caller about to sleep in poll() sees events that arrived during a reply wait and would
 * otherwise sit in xcb's queue while the fd stays quiet). */
static int drain(struct fp_backend *b, int read_socket)
{
	xcb_generic_event_t *ev;

	while ((ev = read_socket ? xcb_poll_for_event(b->c) : xcb_poll_for_queued_event(b->c))) {
		handle_event(b, ev);
		free(ev);
	}
	if (xcb_connection_has_error(b->c)) {
		if (!b->lost_logged)
			fp_error("x11: connection to the X server lost (error %d)",
				 xcb_connection_has_error(b->c));
		b->lost_logged = 1;
		return -EPIPE;
	}
	return 0;
}

/* ---- setup ---- */

static int desc_ok(uint32_t w, uint32_t h)
{
	return w >= FP_WIDTH_MIN && w <= FP_WIDTH_MAX && h >= FP_HEIGHT_MIN && h <= FP_HEIGHT_MAX;
}

/* The root must be 24/32-bit TrueColor with 8-bit R/G/B at bits 16/8/0, 32 bits per pixel,
 * little-endian images: exactly the bytes B,G,R,X of XRGB8888, so the server's pixels can
 * land in the ring unconverted. */
static int check_format(struct fp_backend *b, const xcb_setup_t *setup, const xcb_screen_t *scr)
{
	const xcb_visualtype_t *vis = NULL;
	uint32_t bpp = 0;

	if (scr->root_depth != 24 && scr->root_depth != 32) {
		fp_error("x11: root depth %u is not supported (need 24 or 32 bit TrueColor)",
			 scr->root_depth);
		return -ENOTSUP;
	}
	for (xcb_format_iterator_t f = xcb_setup_pixmap_formats_iterator(setup); f.rem; xcb_format_next(&f))
		if (f.data->depth == scr->root_depth)
			bpp = f.data->bits_per_pixel;
	for (xcb_depth_iterator_t d = xcb_screen_allowed_depths_iterator(scr); d.rem && !vis;
	     xcb_depth_next(&d)) {
		if (d.data->depth != scr->root_depth)
			continue;
		for (xcb_visualtype_iterator_t v = xcb_depth_visuals_iterator(d.data); v.rem;
		     xcb_visualtype_next(&v))
			if (v.data->visual_id == scr->root_visual) {
				vis = v.data;
				break;
			}
	}
	if (bpp != 32 || !vis || vis->_class != XCB_VISUAL_CLASS_TRUE_COLOR ||
	    vis->red_mask != 0xff0000u || vis->green_mask != 0xff00u || vis->blue_mask != 0xffu ||
	    setup->image_byte_order != XCB_IMAGE_ORDER_LSB_FIRST) {
		fp_error("x11: root visual is not XRGB8888 (depth %u, %u bpp, class %d, masks "
			 "%06x/%06x/%06x, %s-endian images); only 24/32-bit TrueColor is supported",
			 scr->root_depth, bpp, vis ? vis->_class : -1, vis ? vis->red_mask : 0,
			 vis ? vis->green_mask : 0, vis ? vis->blue_mask : 0,
			 setup->image_byte_order == XCB_IMAGE_ORDER_LSB_FIRST ? "little" : "big");
		return -ENOTSUP;
	}
	b->root_depth = scr->root_depth;
	return 0;
}

static const xcb_query_extension_reply_t *extension(struct fp_backend *b, xcb_extension_t *ext,
						    const char *name, int required)
{
	const xcb_query_extension_reply_t *q = xcb_get_extension_data(b->c, ext);

	if (!q || !q->present) {
		if (required)
			fp_error("x11: the X server lacks the %s extension", name);
		else
			fp_info("x11: the X server lacks %s; going on without it", name);
		return NULL;
	}
	return q;
}

/* MIT-SHM 1.2 is the fd-passing version: without it the server cannot map the ring. */
static int setup_shm(struct fp_backend *b, const xcb_query_extension_reply_t *q)
{
	xcb_generic_error_t *e = NULL;
	xcb_shm_query_version_reply_t *v =
		xcb_shm_query_version_reply(b->c, xcb_shm_query_version(b->c), &e);
	int ok = v && (v->major_version > 1 || (v->major_version == 1 && v->minor_version >= 2));

	(void)q;
	if (!ok)
		fp_error("x11: MIT-SHM %u.%u cannot take memfds (need 1.2; is the display local?)",
			 v ? v->major_version : 0, v ? v->minor_version : 0);
	free(v);
	free(e);
	return ok ? 0 : -ENOTSUP;
}

static int setup_damage(struct fp_backend *b, const xcb_query_extension_reply_t *q)
{
	xcb_generic_error_t *e = NULL;
	/* DAMAGE requires the version handshake before any other request. */
	xcb_damage_query_version_reply_t *v =
		xcb_damage_query_version_reply(b->c, xcb_damage_query_version(b->c, 1, 1), &e);

	free(e);
	if (!v) {
		fp_error("x11: DAMAGE version query failed");
		return -ENOTSUP;
	}
	free(v);
	b->damage_event = q->first_event;
	return 0;
}

static int setup_xfixes(struct fp_backend *b, const xcb_query_extension_reply_t *q)
{
	xcb_generic_error_t *e = NULL;
	xcb_xfixes_query_version_reply_t *v =
		xcb_xfixes_query_version_reply(b->c, xcb_xfixes_query_version(b->c, 5, 0), &e);
	int ok = v && v->major_version >= 2; /* cursor notify and images */

	free(e);
	if (!ok)
		fp_error("x11: XFIXES %u is too old for cursor images (need 2)",
			 v ? v->major_version : 0);
	free(v);
	b->xfixes_event = q->first_event;
	return ok ? 0 : -ENOTSUP;
}

static int setup_randr(struct fp_backend *b, const xcb_query_extension_reply_t *q)
{
	xcb_generic_error_t *e = NULL;
	xcb_randr_query_version_reply_t *v =
		xcb_randr_query_version_reply(b->c, xcb_randr_query_version(b->c, 1, 2), &e);

	free(e);
	if (v) {
		b->have_randr = 1;
		b->randr_event = q->first_event;
	}
	free(v);
	return 0;
}

static int setup_xtest(struct fp_backend *b, const xcb_query_extension_reply_t *q)
{
	xcb_generic_error_t *e = NULL;
	xcb_test_get_version_reply_t *v =
		xcb_test_get_version_reply(b->c, xcb_test_get_version(b->c, 2, 2), &e);

	(void)q;
	free(e);
	b->have_xtest = v != NULL;
	free(v);
	return 0;
}

/* Raw events reach the root whatever window the pointer is over (XI 2.1+). */
static int setup_xi(struct fp_backend *b, const xcb_query_extension_reply_t *q)
{
	xcb_generic_error_t *e = NULL;
	xcb_input_xi_query_version_reply_t *v =
		xcb_input_xi_query_version_reply(b->c, xcb_input_xi_query_version(b->c, 2, 2), &e);

	free(e);
	if (v && (v->major_version > 2 || (v->major_version == 2 && v->minor_version >= 1))) {
		b->have_xi = 1;
		b->xi_opcode = q->major_opcode;
	}
	free(v);
	return 0;
}

/* One X extension: a required one missing or refusing its version ends the backend; an
 * optional one only says what is lost (in its name) and stays off. */
static const struct x11_extension {
	xcb_extension_t *id;
	const char *name;
	int required;
	/* The version handshake and what the backend keeps: 0 or -ENOTSUP. */
	int (*setup)(struct fp_backend *b, const xcb_query_extension_reply_t *q);
} x11_extensions[] = {
	{ &xcb_shm_id, "MIT-SHM", 1, setup_shm },
	{ &xcb_damage_id, "DAMAGE", 1, setup_damage },
	{ &xcb_xfixes_id, "XFIXES", 1, setup_xfixes },
	{ &xcb_randr_id, "RANDR (screen size changes will not be followed)", 0, setup_randr },
	{ &xcb_test_id, "XTEST (kicks will not move the pointer; input is dropped)", 0, setup_xtest },
	{ &xcb_input_id, "XInputExtension (pointer motion alone will not publish)", 0, setup_xi },
};

/* Damage on the root, cursor changes, and what the optional extensions give. */
static int select_events(struct fp_backend *b)
{
	int r;

	b->damage = xcb_generate_id(b->c);
	r = check(b->c, xcb_damage_create_checked(b->c, b->damage, b->root,
						 XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY),
		  "DamageCreate on the root");
	if (r < 0) {
		b->damage = XCB_NONE;
		return r;
	}
	r = check(b->c, xcb_xfixes_select_cursor_input_checked(b->c, b->root,
		       XCB_XFIXES_CURSOR_NOTIFY_MASK_DISPLAY_CURSOR), "XFixesSelectCursorInput");
	if (r < 0)
		return r;
	if (b->have_randr) {
		r = check(b->c, xcb_randr_select_input_checked(b->c, b->root,
			       XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE), "RRSelectInput");
		if (r < 0)
			return r;
	}
	if (b->have_xi) {
		struct {
			xcb_input_event_mask_t head;
			uint32_t mask;
		} m = { { XCB_INPUT_DEVICE_ALL_MASTER, 1 }, XCB_INPUT_XI_EVENT_MASK_RAW_MOTION };

		r = check(b->c, xcb_input_xi_select_events_checked(b->c, b->root, 1, &m.head),
			  "XISelectEvents (raw motion)");
		if (r < 0)
			return r;
	}
	return 0;
}

static int setup_extensions(struct fp_backend *b)
{
	int r;

	for (size_t i = 0; i < FP_ARRAY_LEN(x11_extensions); i++)
		xcb_prefetch_extension_data(b->c, x11_extensions[i].id);
	for (size_t i = 0; i < FP_ARRAY_LEN(x11_extensions); i++) {
		const struct x11_extension *x = &x11_extensions[i];
		const xcb_query_extension_reply_t *q = extension(b, x->id, x->name, x->required);

		if (!q && x->required)
			return -ENOTSUP;
		if (q && x->setup(b, q) < 0)
			return -ENOTSUP;
	}
	r = select_events(b);
	if (r < 0)
		return r;
	/* DamageCreate on a window reports the whole window at once; that is not a change, and
	 * an idle desktop must publish nothing. Subtract it, and once the round trip proves the
	 * server has sent everything up to here, forget what those events set. */
	xcb_damage_subtract(b->c, b->damage, XCB_NONE, XCB_NONE);
	free(xcb_get_input_focus_reply(b->c, xcb_get_input_focus(b->c), NULL));
	r = drain(b, 1);
	b->damaged = b->moved = b->kicked = b->size_pending = 0;
	return r;
}

static void x11_destroy(struct fp_backend *b)
{
	if (!b)
		return;
	if (b->c) {
		if (b->captures)
			fp_info("x11: %llu frames captured (%llu via scratch copy); ShmGetImage "
				"%.2f ms average, %.2f ms max",
				(unsigned long long)b->captures, (unsigned long long)b->copies,
				(double)b->get_image_ns_total / (double)b->captures / 1e6,
				(double)b->get_image_ns_max / 1e6);
		if (!xcb_connection_has_error(b->c)) {
			detach_all(b);
			if (b->damage != XCB_NONE)
				xcb_damage_destroy(b->c, b->damage);
			xcb_flush(b->c);
		} else if (b->scratch) {
			munmap(b->scratch, b->scratch_size);
		}
		/* Disconnecting frees every server-side resource of ours anyway. */
		xcb_disconnect(b->c);
	}
	free(b);
}

static int no_options(void *user, const char *key, const char *val)
{
	(void)user;
	(void)val;
	fp_error("x11 source: unknown option '%s' (it has none)", key);
	return -ENOENT;
}

static int x11_check_spec(const char *spec)
{
	return fp_spec_parse(spec, "x11 source", no_options, NULL);
}

static int x11_create(struct fp_backend **out, const struct fp_backend_args *args)
{
	struct fp_backend *b = calloc(1, sizeof(*b));
	const xcb_setup_t *setup;
	xcb_screen_iterator_t it;
	int screen = 0, r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	r = x11_check_spec(args->spec);
	if (r < 0) {
		free(b);
		return r;
	}
	b->period_ns = FP_NSEC_PER_SEC / (args->fps ? args->fps : FP_MODE_DEFAULT_HZ);
	b->damage = XCB_NONE;
	b->c = xcb_connect(args->display && *args->display ? args->display : NULL, &screen);
	if (xcb_connection_has_error(b->c)) {
		fp_error("x11: cannot connect to X display '%s' (error %d)",
			 display_name(args->display), xcb_connection_has_error(b->c));
		x11_destroy(b);
		return -ECONNREFUSED;
	}
	setup = xcb_get_setup(b->c);
	it = xcb_setup_roots_iterator(setup);
	for (int i = 0; i < screen && it.rem; i++)
		xcb_screen_next(&it);
	if (!it.rem || screen < 0) {
		fp_error("x11: display '%s' has no screen %d", display_name(args->display), screen);
		x11_destroy(b);
		return -ENODEV;
	}
	b->root = it.data->root;
	b->width = it.data->width_in_pixels;
	b->height = it.data->height_in_pixels;
	if (!desc_ok(b->width, b->height)) {
		fp_error("x11: screen %ux%u is outside %ux%u..%ux%u", b->width, b->height,
			 FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX);
		x11_destroy(b);
		return -ERANGE;
	}
	r = check_format(b, setup, it.data);
	if (r == 0)
		r = setup_extensions(b);
	if (r < 0) {
		x11_destroy(b);
		return r;
	}
	fp_info("x11: display '%s' screen %d: %ux%u depth %u%s%s%s",
		display_name(args->display), screen, b->width, b->height, b->root_depth,
		b->have_randr ? ", RandR" : "", b->have_xi ? ", XI2 raw motion" : "",
		b->have_xtest ? ", XTEST" : "");
	*out = b;
	return 0;
}

static void x11_describe(struct fp_backend *b, uint32_t *w, uint32_t *h, uint32_t *fmt)
{
	*w = b->width;
	*h = b->height;
	*fmt = FP_PIXFMT_XRGB8888;
}

static int x11_fd(struct fp_backend *b)
{
	return xcb_get_file_descriptor(b->c);
}

static int64_t x11_next_wakeup(struct fp_backend *b)
{
	/* Events read during a reply wait sit in xcb's queue with the fd quiet: take them now,
	 * or the source would sleep on a pending change. */
	if (drain(b, 0) < 0 || b->size_pending)
		return 0;
	if (b->guard_dropped || !b->have_ring)
		return INT64_MAX; /* nothing can be captured until the host's next ring */
	if (b->damaged || b->moved || b->kicked)
		return b->next_capture_ns;
	return INT64_MAX;
}

/* Re-reads the root size after a RandR notify and tells the host when it changed. */
static int follow_size(struct fp_backend *b, struct fp_source *src)
{
	xcb_generic_error_t *e = NULL;
	xcb_get_geometry_reply_t *g =
		xcb_get_geometry_reply(b->c, xcb_get_geometry(b->c, b->root), &e);
	uint32_t w, h;

	b->size_pending = 0;
	if (!g) {
		if (e)
			log_x_error("GetGeometry on the root", e);
		free(e);
		return xcb_connection_has_error(b->c) ? -EPIPE : 0;
	}
	w = g->width;
	h = g->height;
	free(g);
	if (w == b->width && h == b->height)
		return 0;
	if (!desc_ok(w, h)) {
		fp_error("x11: screen changed to %ux%u, outside %ux%u..%ux%u; stopping", w, h,
			 FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX);
		return -ERANGE;
	}
	fp_info("x11: screen changed from %ux%u to %ux%u", b->width, b->height, w, h);
	b->width = w;
	b->height = h;
	b->damaged = 1; /* the whole screen is new */
	fp_source_set_descriptor(src, w, h, FP_PIXFMT_XRGB8888);
	return 0;
}

/* Blends the premultiplied ARGB cursor over the frame at the pointer minus the hotspot,
 * clipped to the screen. */
static void composite_cursor(uint8_t *px, size_t stride, uint32_t w, uint32_t h,
			     const xcb_xfixes_get_cursor_image_reply_t *cr, const uint32_t *img)
{
	int64_t x0 = (int64_t)cr->x - cr->xhot, y0 = (int64_t)cr->y - cr->yhot;

	for (uint32_t j = 0; j < cr->height; j++) {
		int64_t y = y0 + j;

		if (y < 0 || y >= (int64_t)h)
			continue;
		for (uint32_t i = 0; i < cr->width; i++) {
			int64_t x = x0 + i;
			uint32_t s = img[(size_t)j * cr->width + i], a = s >> 24, d, o = 0;
			uint8_t *p;

			if (x < 0 || x >= (int64_t)w || a == 0)
				continue;
			p = px + (size_t)y * stride + (size_t)x * 4u;
			memcpy(&d, p, 4);
			for (unsigned sh = 0; sh < 24; sh += 8) {
				uint32_t v = ((s >> sh) & 0xffu) +
					     (((d >> sh) & 0xffu) * (255u - a) + 127u) / 255u;

				/* Premultiplied colour never exceeds alpha; a server that says
				 * otherwise gets clamped, not wrapped. */
				o |= (v > 255u ? 255u : v) << sh;
			}
			o |= d & 0xff000000u;
			memcpy(p, &o, 4);
		}
	}
}

/* Captures the root into `slot`; 0 published, 1 not captured (retry later), <0 fatal. */
static int capture(struct fp_backend *b, struct fp_source *src, const struct fp_source_ring *ring,
		   int slot)
{
	xcb_generic_error_t *e = NULL, *ce = NULL;
	xcb_shm_get_image_cookie_t ic;
	xcb_xfixes_get_cursor_image_cookie_t cc;
	xcb_shm_get_image_reply_t *img;
	xcb_xfixes_get_cursor_image_reply_t *cur;
	uint8_t *px = ring->slot[slot];
	int64_t t0, dt;
	int direct = !b->scratch;

	/* Subtract before reading: damage drawn after this request re-arms the notify, so a
	 * change during the capture is never lost. */
	xcb_damage_subtract(b->c, b->damage, XCB_NONE, XCB_NONE);
	t0 = fp_now_ns();
	ic = xcb_shm_get_image(b->c, b->root, 0, 0, (uint16_t)b->width, (uint16_t)b->height,
			       ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP,
			       direct ? b->seg[slot] : b->scratch_seg, 0);
	cc = xcb_xfixes_get_cursor_image(b->c);
	img = xcb_shm_get_image_reply(b->c, ic, &e);
	dt = fp_now_ns() - t0;
	cur = xcb_xfixes_get_cursor_image_reply(b->c, cc, &ce);
	if (!img) {
		if (e && e->error_code == XCB_MATCH)
			fp_debug("x11: the screen changed under ShmGetImage; re-reading its size");
		else if (e)
			log_x_error("ShmGetImage", e);
		free(e);
		free(ce);
		free(cur);
		fp_source_abort(src, slot);
		if (xcb_connection_has_error(b->c))
			return -EPIPE;
		b->size_pending = 1; /* BadMatch when the screen shrank under us */
		return 1;
	}
	if (img->depth != b->root_depth || img->size != (uint32_t)b->width * 4u * b->height) {
		fp_warn("x11: ShmGetImage returned depth %u, %u bytes; expected depth %u, %u bytes",
			img->depth, img->size, b->root_depth, b->width * 4u * b->height);
		free(img);
		free(ce);
		free(cur);
		fp_source_abort(src, slot);
		return 1;
	}
	free(img);
	b->captures++;
	b->get_image_ns_total += dt;
	if (dt > b->get_image_ns_max)
		b->get_image_ns_max = dt;
	if (!direct) {
		size_t row = (size_t)b->width * 4u;

		for (uint32_t y = 0; y < b->height; y++)
			memcpy(px + (size_t)y * ring->stride, b->scratch + y * row, row);
		b->copies++;
	}
	if (cur) {
		uint32_t n = (uint32_t)xcb_xfixes_get_cursor_image_cursor_image_length(cur);

		if (cur->width <= CURSOR_MAX && cur->height <= CURSOR_MAX &&
		    (uint64_t)cur->width * cur->height <= n)
			composite_cursor(px, ring->stride, b->width, b->height, cur,
					 xcb_xfixes_get_cursor_image_cursor_image(cur));
		else
			fp_warn("x11: ignoring a %ux%u cursor image with %u pixels", cur->width,
				cur->height, n);
	} else if (ce) {
		log_x_error("XFixesGetCursorImage", ce);
	}
	free(cur);
	free(ce);
	b->damaged = b->moved = b->kicked = 0;
	b->next_capture_ns = t0 + b->period_ns;
	fp_source_publish(src, slot, b->width, b->height, FP_PIXFMT_XRGB8888, t0);
	return 0;
}

static int x11_dispatch(struct fp_backend *b, struct fp_source *src)
{
	const struct fp_source_ring *ring;
	int64_t now;
	int slot, r;

	r = drain(b, 1);
	if (r < 0)
		return r;
	if (b->size_pending) {
		r = follow_size(b, src);
		if (r < 0)
			return r;
	}
	ring = fp_source_ring(src);
	if (!ring || !(b->damaged || b->moved || b->kicked) || b->guard_dropped)
		return 0;
	now = fp_now_ns();
	if (now < b->next_capture_ns)
		return 0; /* at most fps captures a second; next_wakeup brings us back */
	if (ring->width != b->width || ring->height != b->height ||
	    ring->format != FP_PIXFMT_XRGB8888 || !b->attached || ring->generation != b->generation) {
		/* The ring still has the old mode: the format guard drops (and counts) one frame;
		 * the pending change is captured once the host's new ring is attached. */
		slot = fp_source_acquire(src);
		if (slot >= 0)
			fp_source_publish(src, slot, b->width, b->height, FP_PIXFMT_XRGB8888, now);
		b->guard_dropped = 1;
		return 0;
	}
	fp_debug("x11: capturing (damage %d, pointer %d, kick %d)", b->damaged, b->moved, b->kicked);
	slot = fp_source_acquire(src);
	if (slot < 0) {
		/* No free slot (the host reads one, the latest is unread): try next period. */
		b->next_capture_ns = now + b->period_ns;
		return 0;
	}
	r = capture(b, src, ring, slot);
	if (r == 1)
		b->next_capture_ns = now + b->period_ns;
	return r < 0 ? r : 0;
}

static int x11_ring_changed(struct fp_backend *b, const struct fp_source_ring *ring)
{
	int r;

	if (xcb_connection_has_error(b->c))
		return -EPIPE;
	detach_all(b);
	b->guard_dropped = 0;
	b->have_ring = ring != NULL;
	if (!ring)
		return 0;
	b->generation = ring->generation;
	if (ring->width != b->width || ring->height != b->height ||
	    ring->format != FP_PIXFMT_XRGB8888 || ring->ring_len > FP_RING_MAX ||
	    (uint64_t)ring->stride * ring->height > ring->slot_size ||
	    ring->stride < ring->width * 4u) {
		/* A ring for another mode (the screen changed meanwhile): dispatch drops into the
		 * guard and the host recreates it from our descriptor. */
		fp_info("x11: ring gen %u is %ux%u format %u, the screen is %ux%u; not attaching",
			ring->generation, ring->width, ring->height, ring->format, b->width,
			b->height);
		return 0;
	}
	for (uint32_t i = 0; i < ring->ring_len; i++) {
		r = attach_fd(b, ring->slot_fd[i], &b->seg[i], "ShmAttachFd (ring slot)");
		if (r < 0)
			goto err_detach;
		b->nseg = i + 1;
	}
	if (ring->stride != ring->width * 4u) {
		r = attach_scratch(b, ring->width, ring->height);
		if (r < 0)
			goto err_detach;
		fp_info("x11: ring stride %u != %u (width %u): capturing through a scratch "
			"segment and copying rows", ring->stride, ring->width * 4u, ring->width);
	}
	b->attached = 1;
	fp_debug("x11: %u ring slots of gen %u attached to the X server", b->nseg, b->generation);
	return 0;

err_detach:
	fp_error("x11: the X server cannot map the ring (%s); MIT-SHM fd passing needs a local "
		 "display and the same machine", strerror(-r));
	detach_all(b);
	return r;
}

/* Nudges the pointer by one pixel and back (XTEST), so a compositing desktop has a reason
 * to compose, and makes the next dispatch capture once: DAMAGE does not see cursor-only
 * changes on every server (Xvfb's software cursor). The round trip makes the server process
 * the fake input first, so the raw motion it causes is consumed here and the kick yields one
 * capture, not two. */
static void x11_kick(struct fp_backend *b)
{
	b->kicked = 1;
	if (b->have_xtest && !xcb_connection_has_error(b->c)) {
		xcb_query_pointer_reply_t *p =
			xcb_query_pointer_reply(b->c, xcb_query_pointer(b->c, b->root), NULL);

		if (p && p->same_screen) {
			int16_t x = p->root_x, y = p->root_y;
			int16_t nx = (uint32_t)x + 1u < b->width ? (int16_t)(x + 1) : (int16_t)(x - 1);

			xcb_test_fake_input(b->c, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, b->root,
					    nx, y, 0);
			xcb_test_fake_input(b->c, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, b->root,
					    x, y, 0);
			free(xcb_get_input_focus_reply(b->c, xcb_get_input_focus(b->c), NULL));
		}
		free(p);
		(void)drain(b, 1);
	}
}

/* ---- input (XTEST) ---- */

/* X core pointer buttons: 1 left, 2 middle, 3 right; the wheel is buttons 4/5 (up/down) and
 * 6/7 (left/right), one press and release per detent. */
static uint8_t x_button(uint32_t evdev)
{
	return evdev == FP_BTN_LEFT ? 1 : evdev == FP_BTN_MIDDLE ? 2 : 3;
}

static void fake(struct fp_backend *b, uint8_t type, uint8_t detail, int16_t x, int16_t y)
{
	xcb_test_fake_input(b->c, type, detail, XCB_CURRENT_TIME, b->root, x, y, 0);
}

static int x11_input(struct fp_backend *b, const struct fp_input_event *ev)
{
	uint8_t wheel;

	if (!b->have_xtest)
		return -ENOTSUP;
	switch (ev->type) {
	case FP_INPUT_MOTION:
		/* Absolute on the root (detail 0), at the screen's size now. */
		fake(b, XCB_MOTION_NOTIFY, 0, (int16_t)fp_input_pixel(ev->x, b->width),
		     (int16_t)fp_input_pixel(ev->y, b->height));
		break;
	case FP_INPUT_BUTTON:
		fake(b, ev->value ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE, x_button(ev->code), 0, 0);
		break;
	case FP_INPUT_WHEEL:
		wheel = ev->code == FP_WHEEL_VERTICAL ? (ev->value > 0 ? 5 : 4)
						       : (ev->value > 0 ? 7 : 6);
		for (int32_t i = 0; i < (ev->value > 0 ? ev->value : -ev->value); i++) {
			fake(b, XCB_BUTTON_PRESS, wheel, 0, 0);
			fake(b, XCB_BUTTON_RELEASE, wheel, 0, 0);
		}
		break;
	case FP_INPUT_KEY:
		/* X keycodes are evdev codes + 8 on every server with the evdev rules (Xorg's
		 * evdev/libinput drivers, Xvfb's default "evdev" XKB rules): the keymap maps
		 * keycode 38 to 'a' because KEY_A is 30. X keycodes stop at 255. */
		if (ev->code + 8u > 255u)
			return -ERANGE;
		fake(b, ev->value ? XCB_KEY_PRESS : XCB_KEY_RELEASE, (uint8_t)(ev->code + 8u), 0, 0);
		break;
	default:
		return -EINVAL;
	}
	/* Now, not at the next capture: a viewer's click must not wait on a frame. */
	return xcb_flush(b->c) > 0 ? 0 : -EPIPE;
}

const struct fp_backend_impl fp_backend_x11 = {
	.name = "x11",
	.check_spec = x11_check_spec,
	.create = x11_create,
	.destroy = x11_destroy,
	.describe = x11_describe,
	.fd = x11_fd,
	.next_wakeup_ns = x11_next_wakeup,
	.dispatch = x11_dispatch,
	.ring_changed = x11_ring_changed,
	.kick = x11_kick,
	.input = x11_input,
	.list = fp_x11_list,
};
