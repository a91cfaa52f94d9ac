/* framepush — the wlroots backend: wlr-screencopy into the ring's own memfds.
 *
 * The source is the only framepush process that talks to the compositor. Each ring slot
 * becomes a wl_shm pool (the slot memfd passed to the compositor) holding one wl_buffer, so
 * the compositor writes the pixels straight into the slot the host will read: no copy in
 * this process when the compositor's stride equals the ring's (the common case, where the
 * width is a multiple of 16). Otherwise the copy lands in a bounce buffer with the
 * compositor's stride and is copied row by row into a slot.
 *
 * Two screencopy frames are kept in flight, each with copy_with_damage into a slot of its
 * own: the compositor holds a frame until the output changes, so an idle output publishes
 * nothing, and while one copy is being published the other already waits for the next
 * commit. With one frame in flight, a commit that came while this process handled the
 * previous frame (published it, asked again, answered the buffer offer) was never copied:
 * on a busy host a 60 Hz output lost a good part of its frames. wlroots copies a commit
 * into the oldest waiting frame only (the copy clears this client's accumulated damage, so
 * the next frame waits for new damage); a frame not newer than the last published one is
 * dropped, so a compositor that copied one commit twice cannot publish it twice or out of
 * order. A kick moves a virtual pointer by +1 and back, which damages the (software) cursor
 * and makes the compositor compose a frame.
 *
 * Viewer input goes through the same virtual pointer (absolute motion at the output's size,
 * buttons, wheel detents) and a zwp_virtual_keyboard_v1 with a "us" keymap made at create,
 * before the sandbox; headless sway has no keyboard until that one exists.
 *
 * Spec keys: output=NAME (wl_output name, e.g. HEADLESS-1; default: the first output),
 * cursor=1 (draw the cursor into captures). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>
#include <xkbcommon/xkbcommon.h>

#include "common/log.h"
#include "common/util.h"
#include "backend.h"
#include "listing.h"
#include "spec.h"
#include "wlr-screencopy-unstable-v1-client-protocol.h"
#include "wlr-virtual-pointer-unstable-v1-client-protocol.h"
#include "virtual-keyboard-unstable-v1-client-protocol.h"

#define MAX_OUTPUTS 16
#define SCREENCOPY_VERSION 3u
#define VPOINTER_VERSION 2u
#define OUTPUT_VERSION 4u /* 4 brings the name event */
/* After a failed capture, wait before the next so a broken output is not a busy loop. */
#define RETRY_FAILED_NS (100 * FP_NSEC_PER_MSEC)
/* No free slot and no frame in flight: look again soon. */
#define RETRY_BUSY_NS (2 * FP_NSEC_PER_MSEC)
/* Screencopy frames in flight at most: one being published while the next one waits for
 * the commit after it. More would only hold ring slots; the host needs the latest. */
#define PIPE_DEPTH 2
/* What wlroots (and libinput) take as one wheel detent in axis units. */
#define WHEEL_STEP 15
/* The kick's pointer nudge: one wl_fixed unit, 1/256 px (see wlr_kick). */
#define KICK_STEP ((wl_fixed_t)1)

struct output {
	struct fp_backend *b;
	struct wl_output *wl;
	uint32_t global_name;
	char name[64];
	int32_t mode_w, mode_h;       /* current mode as sent, not yet validated */
	int32_t pending_w, pending_h; /* from mode events until done */
	int done;                     /* at least one done event seen */
};

/* One wl_shm pool + wl_buffer per slot, on the slot's memfd. */
struct slot_buf {
	struct wl_shm_pool *pool;
	struct wl_buffer *buf;
	uint32_t shm_format; /* the wl_buffer's format (created lazily per offered format) */
};

/* Our own buffer for a compositor whose stride differs from the ring's (one per frame in
 * flight: the compositor may write one while this process copies out of the other). */
struct bounce {
	int fd;
	uint8_t *map;
	size_t size;
	struct wl_shm_pool *pool;
	struct wl_buffer *buf;
	uint32_t w, h, stride, shm_format;
};

struct offer {
	int ok;
	uint32_t shm_format, w, h, stride;
};

/* One screencopy frame in flight. Its events carry a pointer to it, so each ready lands in
 * the slot (or bounce buffer) that frame's copy request named, whatever the order. */
struct capture {
	struct fp_backend *b;
	struct zwlr_screencopy_frame_v1 *frame; /* NULL: this entry is unused */
	struct offer offer;
	int slot;      /* the ring slot this frame fills, -1: none yet */
	int copying;   /* copy_with_damage sent */
	int bounce;    /* the compositor writes b->bounce[index of this capture] */
	uint32_t flags;
};

struct fp_backend {
	struct wl_display *dpy;
	struct wl_registry *reg;
	struct wl_shm *shm;
	struct zwlr_screencopy_manager_v1 *sc;
	uint32_t sc_version;
	struct zwlr_virtual_pointer_manager_v1 *vpm;
	struct zwlr_virtual_pointer_v1 *vp;
	/* Viewer keys: a virtual keyboard on the first seat with a "us" keymap, and our own
	 * xkb state of it (wlroots takes a virtual keyboard's modifiers from us, not from its
	 * keys). No keyboard (vk NULL): keys are dropped, counted, warned about once. */
	struct wl_seat *seat;
	struct zwp_virtual_keyboard_manager_v1 *vkm;
	struct zwp_virtual_keyboard_v1 *vk;
	struct xkb_context *xkb;
	struct xkb_keymap *keymap;
	struct xkb_state *kb_state;
	uint64_t keys_dropped, inputs;

	struct output outputs[MAX_OUTPUTS];
	size_t n_outputs;
	struct output *out;   /* the captured output */
	char want_output[64]; /* spec output=NAME, empty: first */
	int overlay_cursor;

	/* What we report to the host (the output's mode, or what screencopy offers). */
	uint32_t cap_w, cap_h;
	struct fp_source *src; /* set during dispatch: the listeners publish through it */

	/* The attached ring (scalars copied; pixels reached through fp_source_ring). */
	int attached;
	uint32_t ring_gen, ring_len, ring_w, ring_h, ring_stride;
	uint64_t slot_size;
	struct slot_buf slots[FP_RING_MAX];
	struct bounce bounce[PIPE_DEPTH];

	/* The frames in flight (unused entries have frame == NULL). */
	struct capture cap[PIPE_DEPTH];
	int64_t retry_at;      /* next request not before this (INT64_MAX: none pending) */
	int64_t last_pub_ts;   /* capture time of the last frame published (0: none yet) */

	int error; /* a fatal condition seen by a listener: dispatch returns it */

	/* Measurements, logged at the end: the compositor's commit (the ready timestamp) to
	 * the slot published here, i.e. its pixel read into our memfd, the wire, our fix-ups. */
	uint64_t frames, failed, bounce_frames, stale, timed, lat_ns_total;
	int64_t lat_ns_max;
};

/* ---- helpers ---- */

static void set_error(struct fp_backend *b, int err)
{
	if (!b->error)
		b->error = err;
}

static int size_valid(int64_t w, int64_t h)
{
	return w >= FP_WIDTH_MIN && w <= FP_WIDTH_MAX && h >= FP_HEIGHT_MIN && h <= FP_HEIGHT_MAX;
}

/* The 32-bit shm formats whose bytes we can turn into XRGB8888 (B,G,R,X): the first two are
 * the same bytes; the BGR ones need R and B swapped. */
static int format_ok(uint32_t f)
{
	return f == WL_SHM_FORMAT_XRGB8888 || f == WL_SHM_FORMAT_ARGB8888 ||
	       f == WL_SHM_FORMAT_XBGR8888 || f == WL_SHM_FORMAT_ABGR8888;
}

static int format_swapped(uint32_t f)
{
	return f == WL_SHM_FORMAT_XBGR8888 || f == WL_SHM_FORMAT_ABGR8888;
}

static void destroy_slot_bufs(struct fp_backend *b)
{
	for (unsigned i = 0; i < FP_RING_MAX; i++) {
		if (b->slots[i].buf)
			wl_buffer_destroy(b->slots[i].buf);
		if (b->slots[i].pool)
			wl_shm_pool_destroy(b->slots[i].pool);
		b->slots[i] = (struct slot_buf){ 0 };
	}
}

static void destroy_bounce(struct bounce *bb)
{
	if (bb->buf)
		wl_buffer_destroy(bb->buf);
	if (bb->pool)
		wl_shm_pool_destroy(bb->pool);
	if (bb->map)
		munmap(bb->map, bb->size);
	fp_close(&bb->fd);
	*bb = (struct bounce){ .fd = -1 };
}

/* Ends one frame in flight; its slot (if any, and if the ring is still the one it was
 * taken from: abort_slot) goes back unpublished. */
static void drop_capture(struct capture *c, int abort_slot)
{
	struct fp_backend *b = c->b;

	if (c->frame)
		zwlr_screencopy_frame_v1_destroy(c->frame);
	if (c->slot >= 0 && abort_slot && b->src)
		fp_source_abort(b->src, c->slot);
	*c = (struct capture){ .b = b, .slot = -1 };
}

static void drop_captures(struct fp_backend *b, int abort_slot)
{
	for (unsigned i = 0; i < PIPE_DEPTH; i++)
		drop_capture(&b->cap[i], abort_slot);
}

static unsigned captures_in_flight(const struct fp_backend *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < PIPE_DEPTH; i++)
		n += b->cap[i].frame != NULL;
	return n;
}

/* The descriptor the host should build rings for. */
static void report_size(struct fp_backend *b, uint32_t w, uint32_t h)
{
	if (w == b->cap_w && h == b->cap_h)
		return;
	fp_info("wlr source: output %s is now %ux%u (was %ux%u)", b->out->name, w, h, b->cap_w,
		b->cap_h);
	b->cap_w = w;
	b->cap_h = h;
	if (b->src)
		fp_source_set_descriptor(b->src, w, h, FP_PIXFMT_XRGB8888);
	/* Frames sized for the old mode are useless now; a new ring brings the next requests. */
	drop_captures(b, 1);
}

/* ---- wl_output ---- */

static void output_geometry(void *data, struct wl_output *o, int32_t x, int32_t y, int32_t pw,
			    int32_t ph, int32_t subpixel, const char *make, const char *model,
			    int32_t transform)
{
	(void)data; (void)o; (void)x; (void)y; (void)pw; (void)ph; (void)subpixel; (void)make;
	(void)model; (void)transform;
}

static void output_mode(void *data, struct wl_output *o, uint32_t flags, int32_t w, int32_t h,
			int32_t refresh)
{
	struct output *out = data;

	(void)o;
	(void)refresh;
	if (flags & WL_OUTPUT_MODE_CURRENT) {
		out->pending_w = w;
		out->pending_h = h;
	}
}

static void output_done(void *data, struct wl_output *o)
{
	struct output *out = data;
	struct fp_backend *b = out->b;

	(void)o;
	out->mode_w = out->pending_w;
	out->mode_h = out->pending_h;
	out->done = 1;
	if (out != b->out)
		return;
	if (!size_valid(out->mode_w, out->mode_h)) {
		fp_error("wlr source: output %s has a mode of %dx%d, outside %ux%u..%ux%u",
			 out->name, out->mode_w, out->mode_h, FP_WIDTH_MIN, FP_HEIGHT_MIN,
			 FP_WIDTH_MAX, FP_HEIGHT_MAX);
		set_error(b, -ERANGE);
		return;
	}
	report_size(b, (uint32_t)out->mode_w, (uint32_t)out->mode_h);
}

static void output_scale(void *data, struct wl_output *o, int32_t factor)
{
	(void)data; (void)o; (void)factor;
}

static void output_name(void *data, struct wl_output *o, const char *name)
{
	struct output *out = data;

	(void)o;
	snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
}

static void output_description(void *data, struct wl_output *o, const char *desc)
{
	(void)data; (void)o; (void)desc;
}

static const struct wl_output_listener output_listener = {
	.geometry = output_geometry,
	.mode = output_mode,
	.done = output_done,
	.scale = output_scale,
	.name = output_name,
	.description = output_description,
};

/* ---- registry ---- */

static void registry_global(void *data, struct wl_registry *reg, uint32_t name,
			    const char *iface, uint32_t version)
{
	struct fp_backend *b = data;

	if (!strcmp(iface, wl_shm_interface.name) && !b->shm) {
		b->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	} else if (!strcmp(iface, zwlr_screencopy_manager_v1_interface.name) && !b->sc) {
		b->sc_version = version < SCREENCOPY_VERSION ? version : SCREENCOPY_VERSION;
		b->sc = wl_registry_bind(reg, name, &zwlr_screencopy_manager_v1_interface,
					 b->sc_version);
	} else if (!strcmp(iface, zwlr_virtual_pointer_manager_v1_interface.name) && !b->vpm) {
		b->vpm = wl_registry_bind(reg, name, &zwlr_virtual_pointer_manager_v1_interface,
					  version < VPOINTER_VERSION ? version : VPOINTER_VERSION);
	} else if (!strcmp(iface, wl_seat_interface.name) && !b->seat) {
		b->seat = wl_registry_bind(reg, name, &wl_seat_interface, 1);
	} else if (!strcmp(iface, zwp_virtual_keyboard_manager_v1_interface.name) && !b->vkm) {
		b->vkm = wl_registry_bind(reg, name, &zwp_virtual_keyboard_manager_v1_interface, 1);
	} else if (!strcmp(iface, wl_output_interface.name)) {
		struct output *out;

		if (b->n_outputs >= MAX_OUTPUTS) {
			fp_warn("wlr source: more than %d outputs; ignoring output global %u",
				MAX_OUTPUTS, name);
			return;
		}
		out = &b->outputs[b->n_outputs++];
		*out = (struct output){ .b = b, .global_name = name };
		snprintf(out->name, sizeof(out->name), "output-%u", name);
		out->wl = wl_registry_bind(reg, name, &wl_output_interface,
					   version < OUTPUT_VERSION ? version : OUTPUT_VERSION);
		wl_output_add_listener(out->wl, &output_listener, out);
	}
}

static void registry_global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	struct fp_backend *b = data;

	(void)reg;
	if (b->out && b->out->global_name == name) {
		/* Following another output would silently change what the user sees. */
		fp_error("wlr source: output %s was removed by the compositor", b->out->name);
		set_error(b, -ENODEV);
	}
}

static const struct wl_registry_listener registry_listener = {
	.global = registry_global,
	.global_remove = registry_global_remove,
};

/* ---- screencopy ---- */

static int ensure_slot_buf(struct fp_backend *b, int slot, uint32_t shm_format)
{
	struct slot_buf *s = &b->slots[slot];

	if (!s->pool)
		return -ENOTCONN;
	if (s->buf && s->shm_format == shm_format)
		return 0;
	if (s->buf)
		wl_buffer_destroy(s->buf);
	s->buf = wl_shm_pool_create_buffer(s->pool, 0, (int32_t)b->ring_w, (int32_t)b->ring_h,
					   (int32_t)b->ring_stride, shm_format);
	s->shm_format = shm_format;
	return s->buf ? 0 : -ENOMEM;
}

static int ensure_bounce(struct fp_backend *b, struct bounce *bb, const struct offer *o)
{
	size_t size = (size_t)o->stride * o->h;

	if (bb->buf && bb->w == o->w && bb->h == o->h && bb->stride == o->stride &&
	    bb->shm_format == o->shm_format)
		return 0;
	destroy_bounce(bb);
	bb->fd = memfd_create("framepush-wlr-bounce", MFD_CLOEXEC);
	if (bb->fd < 0)
		return -errno;
	if (ftruncate(bb->fd, (off_t)size) < 0)
		goto fail_errno;
	bb->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, bb->fd, 0);
	if (bb->map == MAP_FAILED) {
		bb->map = NULL;
		goto fail_errno;
	}
	bb->size = size;
	bb->pool = wl_shm_create_pool(b->shm, bb->fd, (int32_t)size);
	bb->buf = bb->pool ? wl_shm_pool_create_buffer(bb->pool, 0, (int32_t)o->w, (int32_t)o->h,
						       (int32_t)o->stride, o->shm_format)
			   : NULL;
	if (!bb->buf) {
		destroy_bounce(bb);
		return -ENOMEM;
	}
	bb->w = o->w;
	bb->h = o->h;
	bb->stride = o->stride;
	bb->shm_format = o->shm_format;
	if (bb == &b->bounce[0])
		fp_info("wlr source: compositor stride %u differs from the ring's %u; copying "
			"through a bounce buffer", o->stride, b->ring_stride);
	return 0;
fail_errno: {
	int e = -errno;

	destroy_bounce(bb);
	return e;
}
}

static void start_copy(struct capture *c);
static void offer_record(struct capture *c, uint32_t format, uint32_t w, uint32_t h,
			 uint32_t stride);

static void frame_buffer(void *data, struct zwlr_screencopy_frame_v1 *f, uint32_t format,
			 uint32_t w, uint32_t h, uint32_t stride)
{
	struct capture *c = data;

	/* Version 2 frames send exactly one shm offer and no buffer_done: copy on it. */
	if (zwlr_screencopy_frame_v1_get_version(f) < ZWLR_SCREENCOPY_FRAME_V1_BUFFER_DONE_SINCE_VERSION) {
		c->offer = (struct offer){ 0 };
		offer_record(c, format, w, h, stride);
		start_copy(c);
		return;
	}
	offer_record(c, format, w, h, stride);
}

static void offer_record(struct capture *c, uint32_t format, uint32_t w, uint32_t h,
			 uint32_t stride)
{
	/* Several offers may come (one per format); keep the first one we can use. Everything
	 * is checked here, before any of it sizes a buffer or a copy. */
	if (c->offer.ok || !format_ok(format))
		return;
	if (!size_valid(w, h) || stride % 4 || stride < w * 4u ||
	    (uint64_t)stride * h > (uint64_t)INT32_MAX) {
		fp_warn("wlr source: ignoring a screencopy offer of %ux%u stride %u", w, h, stride);
		return;
	}
	c->offer = (struct offer){ .ok = 1, .shm_format = format, .w = w, .h = h, .stride = stride };
}

static void frame_linux_dmabuf(void *data, struct zwlr_screencopy_frame_v1 *f, uint32_t format,
			       uint32_t w, uint32_t h)
{
	(void)data; (void)f; (void)format; (void)w; (void)h; /* shm only: the ring is memfds */
}

/* The wl_buffer this frame's copy goes into: its own slot's, or its own bounce buffer when
 * the compositor's stride is not the ring's. NULL (logged, error set) when none can be had. */
static struct wl_buffer *copy_target(struct capture *c)
{
	struct fp_backend *b = c->b;
	const struct offer *o = &c->offer;
	int r;

	if (o->stride != b->ring_stride) {
		struct bounce *bb = &b->bounce[c - b->cap];

		r = ensure_bounce(b, bb, o);
		if (r < 0) {
			fp_error("wlr source: bounce buffer %ux%u: %s", o->w, o->h, strerror(-r));
			set_error(b, r);
			return NULL;
		}
		c->bounce = 1;
		return bb->buf;
	}
	r = ensure_slot_buf(b, c->slot, o->shm_format);
	if (r < 0) {
		fp_error("wlr source: no wl_buffer for slot %d: %s", c->slot, strerror(-r));
		set_error(b, r);
		return NULL;
	}
	return b->slots[c->slot].buf;
}

static void start_copy(struct capture *c)
{
	struct fp_backend *b = c->b;
	const struct offer *o = &c->offer;
	struct wl_buffer *target;

	if (!o->ok) {
		fp_error("wlr source: the compositor offers no 32-bit XRGB/XBGR shm buffer for "
			 "output %s; cannot capture", b->out->name);
		drop_capture(c, 1);
		set_error(b, -ENOTSUP);
		return;
	}
	if (o->w != b->ring_w || o->h != b->ring_h) {
		/* The output changed under us (or its screencopy size is not its mode size):
		 * the capture size is the truth; the host recreates the ring. */
		report_size(b, o->w, o->h);
		drop_captures(b, 1);
		return;
	}
	/* The slot is taken now, for both paths, so a ready never waits for one. */
	c->slot = fp_source_acquire(b->src);
	if (c->slot < 0) {
		drop_capture(c, 0);
		/* Another frame in flight asks again when it is done; alone, look again soon. */
		if (!captures_in_flight(b))
			b->retry_at = fp_now_ns() + RETRY_BUSY_NS;
		return;
	}
	target = copy_target(c);
	if (!target) {
		drop_capture(c, 1);
		return;
	}
	c->copying = 1;
	zwlr_screencopy_frame_v1_copy_with_damage(c->frame, target);
}

static void frame_buffer_done(void *data, struct zwlr_screencopy_frame_v1 *f)
{
	struct capture *c = data;

	(void)f;
	if (c->frame && !c->copying)
		start_copy(c);
}

static void frame_flags(void *data, struct zwlr_screencopy_frame_v1 *f, uint32_t flags)
{
	struct capture *c = data;

	(void)f;
	c->flags = flags;
}

static void frame_damage(void *data, struct zwlr_screencopy_frame_v1 *f, uint32_t x, uint32_t y,
			 uint32_t w, uint32_t h)
{
	/* The whole frame is published either way: the host converts whole frames. */
	(void)data; (void)f; (void)x; (void)y; (void)w; (void)h;
}

/* Rows bottom-up (y_invert) and R/B order fixed in place, so the slot is XRGB8888 top-down. */
static void fix_layout(uint8_t *px, uint32_t w, uint32_t h, size_t stride, int flip, int swap)
{
	if (flip) {
		uint8_t tmp[4096];

		for (uint32_t y = 0; y < h / 2; y++) {
			uint8_t *a = px + (size_t)y * stride, *c = px + (size_t)(h - 1 - y) * stride;

			for (size_t off = 0; off < (size_t)w * 4; off += sizeof(tmp)) {
				size_t n = (size_t)w * 4 - off < sizeof(tmp) ? (size_t)w * 4 - off
									    : sizeof(tmp);

				memcpy(tmp, a + off, n);
				memcpy(a + off, c + off, n);
				memcpy(c + off, tmp, n);
			}
		}
	}
	if (swap) {
		for (uint32_t y = 0; y < h; y++) {
			uint8_t *row = px + (size_t)y * stride;

			for (uint32_t x = 0; x < w; x++) {
				uint8_t t = row[x * 4];

				row[x * 4] = row[x * 4 + 2];
				row[x * 4 + 2] = t;
			}
		}
	}
}

static void fill_pipeline(struct fp_backend *b);

/* The compositor's presentation time of the copied commit, if plausible, else now. */
static int64_t ready_time(uint32_t sec_hi, uint32_t sec_lo, uint32_t nsec, int64_t now)
{
	uint64_t sec = (uint64_t)sec_hi << 32 | sec_lo;

	/* wlroots stamps with CLOCK_MONOTONIC, our capture clock. Anything implausible (another
	 * clock, or garbage) falls back to now rather than confusing the host's pacing. */
	if (nsec < 1000000000u && sec < (uint64_t)INT64_MAX / (uint64_t)FP_NSEC_PER_SEC) {
		int64_t t = (int64_t)sec * FP_NSEC_PER_SEC + (int64_t)nsec;

		if (t <= now && now - t < FP_NSEC_PER_SEC)
			return t;
	}
	return now;
}

/* Publishes the finished copy of c (its slot is then the host's to read). */
static void publish_capture(struct capture *c, int64_t ts, int64_t now)
{
	struct fp_backend *b = c->b;
	const struct fp_source_ring *ring = fp_source_ring(b->src);
	int slot = c->slot;

	if (c->bounce) {
		const struct bounce *bb = &b->bounce[c - b->cap];

		for (uint32_t y = 0; y < b->ring_h; y++)
			memcpy(ring->slot[slot] + (size_t)y * b->ring_stride,
			       bb->map + (size_t)y * bb->stride, (size_t)b->ring_w * 4);
		b->bounce_frames++;
	}
	fix_layout(ring->slot[slot], b->ring_w, b->ring_h, b->ring_stride,
		   (c->flags & ZWLR_SCREENCOPY_FRAME_V1_FLAGS_Y_INVERT) != 0,
		   format_swapped(c->offer.shm_format));
	c->slot = -1; /* published: never aborted */
	fp_source_publish(b->src, slot, b->ring_w, b->ring_h, FP_PIXFMT_XRGB8888, ts);
	b->last_pub_ts = ts;
	b->frames++;
	if (ts != now) {
		int64_t lat = fp_now_ns() - ts;

		b->timed++;
		b->lat_ns_total += (uint64_t)lat;
		if (lat > b->lat_ns_max)
			b->lat_ns_max = lat;
	}
}

static void frame_ready(void *data, struct zwlr_screencopy_frame_v1 *f, uint32_t sec_hi,
			uint32_t sec_lo, uint32_t nsec)
{
	struct capture *c = data;
	struct fp_backend *b = c->b;
	const struct fp_source_ring *ring = b->src ? fp_source_ring(b->src) : NULL;
	int64_t now = fp_now_ns(), ts = ready_time(sec_hi, sec_lo, nsec, now);

	(void)f;
	if (!ring || ring->generation != b->ring_gen || ring->width != b->ring_w ||
	    ring->height != b->ring_h || c->slot < 0) {
		/* The ring went away while the copy ran: nothing to publish into. */
		drop_capture(c, 0);
	} else if (ts <= b->last_pub_ts) {
		/* Not newer than what the host has: the same commit copied twice, or frames
		 * finished out of order. Publishing it would step the picture back. */
		if (b->stale++ < 5)
			fp_warn("wlr source: a capture of output %s is not newer than the last "
				"one published; dropped", b->out->name);
		drop_capture(c, 1);
	} else {
		publish_capture(c, ts, now);
		drop_capture(c, 0);
	}
	fill_pipeline(b);
}

static void frame_failed(void *data, struct zwlr_screencopy_frame_v1 *f)
{
	struct capture *c = data;
	struct fp_backend *b = c->b;

	(void)f;
	if (b->failed++ < 5)
		fp_warn("wlr source: the compositor failed a capture of output %s", b->out->name);
	drop_capture(c, 1);
	b->retry_at = fp_now_ns() + RETRY_FAILED_NS;
}

static const struct zwlr_screencopy_frame_v1_listener frame_listener = {
	.buffer = frame_buffer,
	.flags = frame_flags,
	.ready = frame_ready,
	.failed = frame_failed,
	.damage = frame_damage,
	.linux_dmabuf = frame_linux_dmabuf,
	.buffer_done = frame_buffer_done,
};

/* Frames the ring can feed at once: the latest published slot stays the host's to read and
 * the host may be converting one more, so a 3-slot ring keeps one frame in flight. */
static unsigned pipe_depth(const struct fp_backend *b)
{
	unsigned spare = b->ring_len > 2 ? b->ring_len - 2 : 1;

	return spare < PIPE_DEPTH ? spare : PIPE_DEPTH;
}

/* Asks for frames until pipe_depth() are in flight. Each asks the compositor for its buffer
 * offer; the copy request (and the slot) follows in start_copy. */
static void fill_pipeline(struct fp_backend *b)
{
	if (!b->attached || b->error || b->retry_at != INT64_MAX)
		return;
	/* A ring of another size than the output waits for the host to recreate it. */
	if (b->ring_w != b->cap_w || b->ring_h != b->cap_h)
		return;
	for (unsigned i = 0; i < PIPE_DEPTH && captures_in_flight(b) < pipe_depth(b); i++) {
		struct capture *c = &b->cap[i];

		if (c->frame)
			continue;
		c->frame = zwlr_screencopy_manager_v1_capture_output(b->sc, b->overlay_cursor,
								      b->out->wl);
		if (!c->frame) {
			set_error(b, -ENOMEM);
			return;
		}
		zwlr_screencopy_frame_v1_add_listener(c->frame, &frame_listener, c);
	}
}

/* ---- backend table ---- */

static int set_option(void *user, const char *key, const char *val)
{
	struct fp_backend *b = user;

	if (!strcmp(key, "output")) {
		if (strlen(val) >= sizeof(b->want_output))
			return -EINVAL;
		snprintf(b->want_output, sizeof(b->want_output), "%s", val);
	} else if (!strcmp(key, "cursor")) {
		if (strcmp(val, "0") && strcmp(val, "1"))
			return -EINVAL;
		b->overlay_cursor = !strcmp(val, "1");
	} else {
		fp_error("wlr source: unknown option '%s' (output, cursor)", key);
		return -ENOENT;
	}
	return 0;
}

static int wlr_check_spec(const char *spec)
{
	struct fp_backend *scratch = calloc(1, sizeof(*scratch));
	int r;

	if (!scratch)
		return -ENOMEM;
	r = fp_spec_parse(spec, "wlr source", set_option, scratch);
	free(scratch);
	return r;
}

static void wlr_destroy(struct fp_backend *b)
{
	if (!b)
		return;
	if (b->frames)
		fp_info("wlr source: %llu frames captured (%llu via bounce buffer), %llu failed, "
			"%llu not newer than the last; compositor commit to published: mean %.2f ms, "
			"max %.2f ms (%llu timed)",
			(unsigned long long)b->frames, (unsigned long long)b->bounce_frames,
			(unsigned long long)b->failed, (unsigned long long)b->stale,
			b->timed ? (double)b->lat_ns_total / (double)b->timed / 1e6 : 0.0,
			(double)b->lat_ns_max / 1e6, (unsigned long long)b->timed);
	b->src = NULL;
	drop_captures(b, 0);
	destroy_slot_bufs(b);
	for (unsigned i = 0; i < PIPE_DEPTH; i++)
		destroy_bounce(&b->bounce[i]);
	if (b->inputs || b->keys_dropped)
		fp_info("wlr source: %llu input events injected, %llu keys dropped (no virtual "
			"keyboard)", (unsigned long long)b->inputs,
			(unsigned long long)b->keys_dropped);
	if (b->vk)
		zwp_virtual_keyboard_v1_destroy(b->vk);
	if (b->vkm)
		zwp_virtual_keyboard_manager_v1_destroy(b->vkm); /* no request: the proxy only */
	if (b->seat)
		wl_seat_destroy(b->seat);
	xkb_state_unref(b->kb_state);
	xkb_keymap_unref(b->keymap);
	xkb_context_unref(b->xkb);
	if (b->vp)
		zwlr_virtual_pointer_v1_destroy(b->vp);
	if (b->vpm)
		zwlr_virtual_pointer_manager_v1_destroy(b->vpm);
	if (b->sc)
		zwlr_screencopy_manager_v1_destroy(b->sc);
	for (size_t i = 0; i < b->n_outputs; i++) {
		if (wl_output_get_version(b->outputs[i].wl) >= WL_OUTPUT_RELEASE_SINCE_VERSION)
			wl_output_release(b->outputs[i].wl);
		else
			wl_output_destroy(b->outputs[i].wl);
	}
	if (b->shm)
		wl_shm_destroy(b->shm);
	if (b->reg)
		wl_registry_destroy(b->reg);
	if (b->dpy) {
		wl_display_flush(b->dpy);
		wl_display_disconnect(b->dpy);
	}
	free(b);
}

/* Connects and learns the globals and the outputs' first modes; the two protocols a capture
 * cannot do without must be there. */
static int connect_compositor(struct fp_backend *b, const char *display)
{
	int r;

	/* NULL means $WAYLAND_DISPLAY; a name is relative to $XDG_RUNTIME_DIR; an absolute
	 * path is used as is (libwayland's own rules). */
	b->dpy = wl_display_connect(display);
	if (!b->dpy) {
		r = errno ? -errno : -ECONNREFUSED;
		fp_error("wlr source: cannot connect to Wayland display '%s': %s",
			 display ? display : "$WAYLAND_DISPLAY", strerror(-r));
		return r;
	}
	b->reg = wl_display_get_registry(b->dpy);
	wl_registry_add_listener(b->reg, &registry_listener, b);
	/* Two round trips: the globals, then the outputs' first mode/name/done. */
	if (wl_display_roundtrip(b->dpy) < 0 || wl_display_roundtrip(b->dpy) < 0) {
		r = -(wl_display_get_error(b->dpy) ? wl_display_get_error(b->dpy) : EPIPE);
		fp_error("wlr source: compositor connection failed during setup: %s", strerror(-r));
		return r;
	}
	if (!b->sc || b->sc_version < 2) {
		fp_error("wlr source: the compositor does not offer zwlr_screencopy_manager_v1 "
			 "version >= 2 (copy_with_damage); is it wlroots-based?");
		return -ENOTSUP;
	}
	if (!b->shm) {
		fp_error("wlr source: the compositor offers no wl_shm");
		return -ENOTSUP;
	}
	return 0;
}

/* The output asked for (output=NAME), else the first; its mode is the capture size. */
static int pick_output(struct fp_backend *b)
{
	for (size_t i = 0; i < b->n_outputs && !b->out; i++)
		if (!b->want_output[0] || !strcmp(b->outputs[i].name, b->want_output))
			b->out = &b->outputs[i];
	if (!b->out) {
		fp_error("wlr source: %s", b->want_output[0] ? "no output of that name" : "no outputs");
		if (b->want_output[0])
			for (size_t i = 0; i < b->n_outputs; i++)
				fp_error("wlr source:   output '%s' (wanted '%s')", b->outputs[i].name,
					 b->want_output);
		return -ENODEV;
	}
	if (!b->out->done || !size_valid(b->out->mode_w, b->out->mode_h)) {
		fp_error("wlr source: output %s has no usable mode (%dx%d)", b->out->name,
			 b->out->mode_w, b->out->mode_h);
		return -ERANGE;
	}
	b->cap_w = (uint32_t)b->out->mode_w;
	b->cap_h = (uint32_t)b->out->mode_h;
	return 0;
}

/* A virtual pointer to make an idle output compose (kicks); optional. */
static void create_kick_pointer(struct fp_backend *b)
{
	if (!b->vpm) {
		fp_warn("wlr source: no zwlr_virtual_pointer_manager_v1: kicks cannot make an idle "
			"output compose; frames come only when something changes");
		return;
	}
	/* Tied to our output where the compositor can, so +1/-1 moves stay on it. */
	if (zwlr_virtual_pointer_manager_v1_get_version(b->vpm) >=
	    ZWLR_VIRTUAL_POINTER_MANAGER_V1_CREATE_VIRTUAL_POINTER_WITH_OUTPUT_SINCE_VERSION)
		b->vp = zwlr_virtual_pointer_manager_v1_create_virtual_pointer_with_output(
			b->vpm, NULL, b->out->wl);
	else
		b->vp = zwlr_virtual_pointer_manager_v1_create_virtual_pointer(b->vpm, NULL);
}

/* The "us" keymap (evdev rules, pc105) as text in a sealed memfd, with our state of it. Made
 * in create, before the sandbox: compiling reads the XKB files under /usr/share/X11/xkb,
 * which the sandbox refuses to open. The fd, or -errno. */
static int make_keymap(struct fp_backend *b, uint32_t *size)
{
	const struct xkb_rule_names names = { .rules = "evdev", .model = "pc105", .layout = "us" };
	char *text;
	size_t len, off = 0;
	int fd;

	/* Not $XKB_DEFAULT_*: a viewer types on the keymap the browser's codes were mapped to. */
	b->xkb = xkb_context_new(XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
	b->keymap = b->xkb ? xkb_keymap_new_from_names(b->xkb, &names, XKB_KEYMAP_COMPILE_NO_FLAGS)
			   : NULL;
	b->kb_state = b->keymap ? xkb_state_new(b->keymap) : NULL;
	text = b->kb_state ? xkb_keymap_get_as_string(b->keymap, XKB_KEYMAP_FORMAT_TEXT_V1) : NULL;
	if (!text)
		return -ENOENT;
	len = strlen(text) + 1; /* with its NUL, as a wl_keyboard keymap is */
	fd = memfd_create("framepush-keymap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	while (fd >= 0 && off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			fp_close(&fd);
		off += n > 0 ? (size_t)n : 0;
	}
	free(text);
	/* Sealed: the compositor maps it, and nothing can change it under the compositor. */
	if (fd >= 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
					       F_SEAL_SEAL) < 0)
		fp_close(&fd);
	if (fd < 0)
		return -errno;
	*size = (uint32_t)len;
	return fd;
}

/* A virtual keyboard for viewer keys; optional: without one keys are dropped, the pointer
 * still works. */
static void create_keyboard(struct fp_backend *b)
{
	uint32_t size = 0;
	int fd;

	if (!b->vkm || !b->seat) {
		fp_warn("wlr source: no %s: viewer keys will be dropped",
			b->vkm ? "wl_seat" : "zwp_virtual_keyboard_manager_v1");
		return;
	}
	fd = make_keymap(b, &size);
	if (fd < 0) {
		fp_warn("wlr source: cannot make the \"us\" keymap for the virtual keyboard (%s): "
			"viewer keys will be dropped", strerror(-fd));
		return;
	}
	b->vk = zwp_virtual_keyboard_manager_v1_create_virtual_keyboard(b->vkm, b->seat);
	/* libwayland sends a duplicate of fd: ours is closed at once. */
	zwp_virtual_keyboard_v1_keymap(b->vk, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1, fd, size);
	close(fd);
}

static int wlr_create(struct fp_backend **out, const struct fp_backend_args *args)
{
	struct fp_backend *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < PIPE_DEPTH; i++) {
		b->bounce[i].fd = -1;
		b->cap[i] = (struct capture){ .b = b, .slot = -1 };
	}
	b->retry_at = INT64_MAX;
	if ((r = fp_spec_parse(args->spec, "wlr source", set_option, b)) < 0 ||
	    (r = connect_compositor(b, args->display)) < 0 || (r = pick_output(b)) < 0)
		goto err_destroy;
	create_kick_pointer(b);
	create_keyboard(b);
	fp_info("wlr source: output %s %ux%u, screencopy v%u%s%s", b->out->name, b->cap_w,
		b->cap_h, b->sc_version, b->vp ? ", virtual pointer for kicks and input" : "",
		b->vk ? ", virtual keyboard" : "");
	*out = b;
	return 0;

err_destroy:
	wlr_destroy(b);
	return r;
}

static void wlr_describe(struct fp_backend *b, uint32_t *w, uint32_t *h, uint32_t *fmt)
{
	*w = b->cap_w;
	*h = b->cap_h;
	*fmt = FP_PIXFMT_XRGB8888;
}

static int wlr_fd(struct fp_backend *b)
{
	return wl_display_get_fd(b->dpy);
}

static int64_t wlr_next_wakeup(struct fp_backend *b)
{
	return b->retry_at;
}

static int connection_error(struct fp_backend *b)
{
	int err = wl_display_get_error(b->dpy);
	const struct wl_interface *iface = NULL;
	uint32_t id = 0;

	if (err == EPROTO) {
		uint32_t code = wl_display_get_protocol_error(b->dpy, &iface, &id);

		fp_error("wlr source: protocol error %u on %s@%u; the compositor closed the "
			 "connection", code, iface ? iface->name : "?", id);
	} else {
		fp_error("wlr source: the compositor connection is gone: %s",
			 strerror(err ? err : EPIPE));
	}
	return -(err ? err : EPIPE);
}

static int wlr_dispatch(struct fp_backend *b, struct fp_source *src)
{
	struct pollfd p = { .fd = wl_display_get_fd(b->dpy), .events = POLLIN };
	int r = 0;

	b->src = src;
	/* The canonical non-blocking read: queue what is pending, read only if readable. */
	while (wl_display_prepare_read(b->dpy) != 0) {
		if (wl_display_dispatch_pending(b->dpy) < 0)
			goto conn;
	}
	if (wl_display_flush(b->dpy) < 0 && errno != EAGAIN) {
		wl_display_cancel_read(b->dpy);
		goto conn;
	}
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
		if (wl_display_read_events(b->dpy) < 0)
			goto conn;
	} else {
		wl_display_cancel_read(b->dpy);
	}
	if (wl_display_dispatch_pending(b->dpy) < 0)
		goto conn;
	if (b->error) {
		r = b->error;
		goto out;
	}
	if (b->retry_at != INT64_MAX && fp_now_ns() >= b->retry_at) {
		b->retry_at = INT64_MAX;
		fill_pipeline(b);
	}
	if (wl_display_flush(b->dpy) < 0 && errno != EAGAIN)
		goto conn;
	r = b->error;
	goto out;
conn:
	r = connection_error(b);
out:
	b->src = NULL;
	return r;
}

static int wlr_ring_changed(struct fp_backend *b, const struct fp_source_ring *ring)
{
	/* The old ring is already unmapped by the source library: forget its slot, never abort
	 * it (that would touch the new ring's ownership words). */
	drop_captures(b, 0);
	destroy_slot_bufs(b);
	b->attached = 0;
	if (!ring) {
		if (b->dpy)
			wl_display_flush(b->dpy);
		return 0;
	}
	if (ring->format != FP_PIXFMT_XRGB8888 || ring->ring_len > FP_RING_MAX ||
	    ring->slot_size > (uint64_t)INT32_MAX || ring->stride < ring->width * 4u ||
	    (uint64_t)ring->stride * ring->height > ring->slot_size) {
		fp_error("wlr source: ring gen %u is not usable (%ux%u format %u stride %u size %llu)",
			 ring->generation, ring->width, ring->height, ring->format, ring->stride,
			 (unsigned long long)ring->slot_size);
		return 0; /* publish nothing into it; the host's recovery timeout reports it */
	}
	for (uint32_t i = 0; i < ring->ring_len; i++) {
		/* The compositor maps the memfd itself; the seals keep its size fixed. */
		b->slots[i].pool = wl_shm_create_pool(b->shm, ring->slot_fd[i], (int32_t)ring->slot_size);
		if (!b->slots[i].pool) {
			destroy_slot_bufs(b);
			return -ENOMEM;
		}
	}
	b->attached = 1;
	b->ring_gen = ring->generation;
	b->ring_len = ring->ring_len;
	b->ring_w = ring->width;
	b->ring_h = ring->height;
	b->ring_stride = ring->stride;
	b->slot_size = ring->slot_size;
	b->retry_at = INT64_MAX; /* a new ring is a fresh start: ask at once */
	fill_pipeline(b);
	if (wl_display_flush(b->dpy) < 0 && errno != EAGAIN)
		return connection_error(b);
	return 0;
}

static void wlr_kick(struct fp_backend *b)
{
	uint32_t t = (uint32_t)(fp_now_ns() / FP_NSEC_PER_MSEC);

	if (!b->vp)
		return;
	/* Both moves damage the cursor, and the pointer ends where it was. A client cannot
	 * read the pointer's position (x11 asks the server and turns back at the right edge),
	 * so the step is what no edge can clamp: wlroots keeps the pointer in [0, width) and
	 * clamps only at width or beyond, so a pointer resting at width - 1 (where the edge
	 * leaves it) goes 1/256 px right and back exactly. A whole pixel right from there
	 * was clamped, and the move back left it one pixel further left every kick. */
	zwlr_virtual_pointer_v1_motion(b->vp, t, KICK_STEP, 0);
	zwlr_virtual_pointer_v1_frame(b->vp);
	zwlr_virtual_pointer_v1_motion(b->vp, t, -KICK_STEP, 0);
	zwlr_virtual_pointer_v1_frame(b->vp);
	/* Frames may be waiting for a free slot or the ring; this is a good moment to ask. */
	fill_pipeline(b);
	wl_display_flush(b->dpy);
}

/* ---- input ---- */

static void inject_key(struct fp_backend *b, uint32_t t, const struct fp_input_event *ev)
{
	zwp_virtual_keyboard_v1_key(b->vk, t, ev->code, ev->value ? WL_KEYBOARD_KEY_STATE_PRESSED
								  : WL_KEYBOARD_KEY_STATE_RELEASED);
	/* wlroots does not derive a virtual keyboard's modifiers from its keys: without this,
	 * Shift would be pressed but never in effect. xkb keycodes are evdev + 8. */
	xkb_state_update_key(b->kb_state, ev->code + 8u, ev->value ? XKB_KEY_DOWN : XKB_KEY_UP);
	zwp_virtual_keyboard_v1_modifiers(
		b->vk, xkb_state_serialize_mods(b->kb_state, XKB_STATE_MODS_DEPRESSED),
		xkb_state_serialize_mods(b->kb_state, XKB_STATE_MODS_LATCHED),
		xkb_state_serialize_mods(b->kb_state, XKB_STATE_MODS_LOCKED),
		xkb_state_serialize_layout(b->kb_state, XKB_STATE_LAYOUT_EFFECTIVE));
}

static void inject_wheel(struct fp_backend *b, uint32_t t, const struct fp_input_event *ev)
{
	uint32_t axis = ev->code == FP_WHEEL_VERTICAL ? WL_POINTER_AXIS_VERTICAL_SCROLL
						      : WL_POINTER_AXIS_HORIZONTAL_SCROLL;

	/* A wheel, in whole detents: clients that count clicks get discrete steps, the others
	 * 15 units per detent, as from a real wheel. Positive is down/right on both. */
	zwlr_virtual_pointer_v1_axis_source(b->vp, WL_POINTER_AXIS_SOURCE_WHEEL);
	zwlr_virtual_pointer_v1_axis_discrete(b->vp, t, axis,
					      wl_fixed_from_int(WHEEL_STEP * ev->value), ev->value);
	zwlr_virtual_pointer_v1_frame(b->vp);
}

static int wlr_input(struct fp_backend *b, const struct fp_input_event *ev)
{
	uint32_t t = (uint32_t)(fp_now_ns() / FP_NSEC_PER_MSEC);

	if (!b->vp && ev->type != FP_INPUT_KEY)
		return -ENOTSUP;
	switch (ev->type) {
	case FP_INPUT_MOTION:
		/* In pixels of the output's size now, on the output the pointer is tied to. */
		zwlr_virtual_pointer_v1_motion_absolute(b->vp, t, fp_input_pixel(ev->x, b->cap_w),
							fp_input_pixel(ev->y, b->cap_h), b->cap_w,
							b->cap_h);
		zwlr_virtual_pointer_v1_frame(b->vp);
		break;
	case FP_INPUT_BUTTON:
		/* Buttons are evdev codes on the wire too. */
		zwlr_virtual_pointer_v1_button(b->vp, t, ev->code,
					       ev->value ? WL_POINTER_BUTTON_STATE_PRESSED
							 : WL_POINTER_BUTTON_STATE_RELEASED);
		zwlr_virtual_pointer_v1_frame(b->vp);
		break;
	case FP_INPUT_WHEEL:
		inject_wheel(b, t, ev);
		break;
	case FP_INPUT_KEY:
		if (!b->vk) {
			b->keys_dropped++; /* warned about once, at create */
			return 0;
		}
		inject_key(b, t, ev);
		break;
	default:
		return -EINVAL;
	}
	b->inputs++;
	/* Now, not at the next capture: a viewer's click must not wait on a frame. */
	if (wl_display_flush(b->dpy) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

const struct fp_backend_impl fp_backend_wlr = {
	.name = "wlr",
	.check_spec = wlr_check_spec,
	.create = wlr_create,
	.destroy = wlr_destroy,
	.describe = wlr_describe,
	.fd = wlr_fd,
	.next_wakeup_ns = wlr_next_wakeup,
	.dispatch = wlr_dispatch,
	.ring_changed = wlr_ring_changed,
	.kick = wlr_kick,
	.input = wlr_input,
	.list = fp_wlr_list,
};
