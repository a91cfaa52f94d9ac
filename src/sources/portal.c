/* framepush — the "portal" source backend: a desktop shared through xdg-desktop-portal's
 * ScreenCast interface, as PipeWire frames (GNOME, KDE, every wlroots compositor).
 *
 * portal_dbus.c asks for the screen (the user may be shown a dialog), portal_stream.c
 * receives the PipeWire stream, portal_copy.c does the pixels; this file binds them to the
 * backend table: each new picture is copied into a slot the host gave and published, the
 * negotiated size and layout are the display's descriptor (a change becomes the host's
 * ring recreate), and the stream or the session ending is the display going away.
 *
 * It runs as the desktop's user, never as root: the portal shares that user's screen. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend.h"
#include "common/log.h"
#include "common/util.h"
#include "framepush/pixel.h"
#include "portal_copy.h"
#include "portal_dbus.h"
#include "portal_stream.h"
#include "portal_token.h"
#include "spec.h"

/* The user's answer to the portal's dialog (or a desktop slow to grant) is awaited this
 * long by default; the host waits as long for the source's hello. */
#define ANSWER_TIMEOUT_S_DEFAULT 60u
#define ANSWER_TIMEOUT_S_MAX 600u
/* The first negotiated format: a stream that has none by then never will. */
#define FORMAT_TIMEOUT_NS (5 * FP_NSEC_PER_SEC)
#define CURSOR_UNDER_MAX (256 * 256 * 4)

/* The spec's options (check_spec parses them without a backend). */
struct portal_opts {
	char restore[PATH_MAX]; /* as given: "~/" not yet expanded; "" when none */
	int cursor, hdr;
	uint32_t timeout_s;
};

struct fp_backend {
	struct portal_opts opt;
	char restore_path[PATH_MAX]; /* opt.restore expanded */
	/* The session. */
	struct fp_portal *portal;
	struct fp_pw *pw;
	int epfd;
	struct fp_source *src;     /* during dispatch and after: for publishing */
	/* The display's descriptor: the negotiated stream. */
	uint32_t width, height, format;
	enum fp_portal_pix pix;
	bool negotiated;
	/* The last slot published into the current ring (the kick's and the pointer's source). */
	int last_slot;
	uint32_t last_gen;
	/* The pixels under the pointer as last drawn into last_slot. */
	uint8_t under[CURSOR_UNDER_MAX];
	int32_t under_x, under_y;
	uint32_t under_w, under_h;
	/* A picture that came while no usable ring was there (at the start, after a size
	 * change): kept, in the ring's format, and published when the ring arrives. A desktop
	 * that then stays idle sends nothing more, and the session would start black. */
	uint8_t *held;
	size_t held_cap;
	bool held_valid;
	int64_t held_ns;
	/* Counters. */
	uint64_t frames, held_frames, pointer_frames, kicks, no_slot, not_ready;
};

static int set_option(void *user, const char *key, const char *val)
{
	struct portal_opts *o = user;

	if (!strcmp(key, "restore")) {
		if (!*val || strlen(val) >= sizeof(o->restore))
			return -EINVAL;
		snprintf(o->restore, sizeof(o->restore), "%s", val);
		return 0;
	}
	if (!strcmp(key, "cursor"))
		return fp_spec_bool("portal source", key, val, &o->cursor);
	if (!strcmp(key, "hdr"))
		return fp_spec_bool("portal source", key, val, &o->hdr);
	if (!strcmp(key, "timeout"))
		return fp_spec_u32("portal source", key, val, 1, ANSWER_TIMEOUT_S_MAX, &o->timeout_s);
	fp_error("portal source: unknown option '%s' (restore, cursor, hdr, timeout)", key);
	return -ENOENT;
}

static int parse_opts(const char *spec, struct portal_opts *o)
{
	*o = (struct portal_opts){ .cursor = 1, .timeout_s = ANSWER_TIMEOUT_S_DEFAULT };
	return fp_spec_parse(spec, "portal source", set_option, o);
}

static int portal_check_spec(const char *spec)
{
	struct portal_opts o;

	return parse_opts(spec, &o);
}

/* ---- frames ---- */

/* Puts back what the pointer covered in the slot (copied from last_slot, pointer and all). */
static void restore_under(struct fp_backend *b, uint8_t *px, uint32_t stride)
{
	for (uint32_t y = 0; y < b->under_h; y++)
		memcpy(px + (size_t)(b->under_y + y) * stride + (size_t)b->under_x * 4,
		       b->under + (size_t)y * b->under_w * 4, (size_t)b->under_w * 4);
	b->under_w = b->under_h = 0;
}

/* Keeps what the pointer will cover, then draws it (8-bit frames only: an HDR frame gets
 * no pointer, rather than an sRGB one in linear light). */
static void draw_pointer(struct fp_backend *b, uint8_t *px, uint32_t stride,
			 const struct fp_portal_cursor *c)
{
	int64_t x0 = c->x < 0 ? 0 : c->x, y0 = c->y < 0 ? 0 : c->y;
	int64_t x1 = (int64_t)c->x + c->width, y1 = (int64_t)c->y + c->height;

	b->under_w = b->under_h = 0;
	if (b->format != FP_PIXFMT_XRGB8888)
		return;
	x1 = x1 > b->width ? b->width : x1;
	y1 = y1 > b->height ? b->height : y1;
	if (x1 <= x0 || y1 <= y0 || (x1 - x0) * (y1 - y0) * 4 > CURSOR_UNDER_MAX)
		return;
	b->under_x = (int32_t)x0;
	b->under_y = (int32_t)y0;
	b->under_w = (uint32_t)(x1 - x0);
	b->under_h = (uint32_t)(y1 - y0);
	for (uint32_t y = 0; y < b->under_h; y++)
		memcpy(b->under + (size_t)y * b->under_w * 4,
		       px + (size_t)(b->under_y + y) * stride + (size_t)b->under_x * 4,
		       (size_t)b->under_w * 4);
	fp_portal_blend_cursor(px, stride, b->width, b->height, c);
}

/* The ring to publish into, when it is there and matches the negotiated stream (after a
 * change the host's new ring is still on its way: frames wait for it). */
static const struct fp_source_ring *usable_ring(struct fp_backend *b)
{
	const struct fp_source_ring *ring = b->src ? fp_source_ring(b->src) : NULL;

	if (!ring || ring->width != b->width || ring->height != b->height ||
	    ring->format != b->format || ring->stride < b->width * fp_pixfmt_bpp(b->format) ||
	    (uint64_t)ring->stride * b->height > ring->slot_size) {
		b->not_ready++;
		return NULL;
	}
	if (b->last_gen != ring->generation)
		b->last_slot = -1;
	return ring;
}

/* A slot filled from the last published one (a kick, or the pointer alone moved). */
static int repeat_last(struct fp_backend *b, const struct fp_source_ring *ring, int slot)
{
	if (b->last_slot < 0)
		return -1;
	memcpy(ring->slot[slot], ring->slot[b->last_slot], (size_t)ring->stride * b->height);
	restore_under(b, ring->slot[slot], ring->stride);
	return 0;
}

static void publish(struct fp_backend *b, const struct fp_source_ring *ring, int slot,
		    int64_t capture_ns)
{
	if (fp_source_publish(b->src, slot, b->width, b->height, b->format, capture_ns) < 0)
		return;
	b->last_slot = slot;
	b->last_gen = ring->generation;
}

static void hold(struct fp_backend *b, const struct fp_pw_frame *f)
{
	size_t stride = (size_t)f->width * fp_pixfmt_bpp(fp_portal_pix_ring_format(f->pix));
	size_t need = stride * f->height;

	if (need > b->held_cap) {
		free(b->held);
		b->held = malloc(need);
		b->held_cap = b->held ? need : 0;
		if (!b->held)
			return;
	}
	fp_portal_copy(b->held, stride, f->px, f->stride, f->width, f->height, f->pix);
	b->held_valid = true;
	b->held_ns = f->capture_ns;
}

/* Publishes the held picture once the ring for it is there. */
static void flush_held(struct fp_backend *b)
{
	const struct fp_source_ring *ring;
	size_t row = (size_t)b->width * fp_pixfmt_bpp(b->format);
	int slot;

	if (!b->held_valid || !(ring = usable_ring(b)))
		return;
	slot = fp_source_acquire(b->src);
	if (slot < 0)
		return;
	for (uint32_t y = 0; y < b->height; y++)
		memcpy(ring->slot[slot] + (size_t)y * ring->stride, b->held + y * row, row);
	b->held_valid = false;
	b->held_frames++;
	publish(b, ring, slot, b->held_ns);
}

static void on_frame(void *user, const struct fp_pw_frame *f)
{
	struct fp_backend *b = user;
	const struct fp_source_ring *ring;
	int slot;

	if (f->width != b->width || f->height != b->height || f->pix != b->pix)
		return;
	ring = usable_ring(b);
	if (!ring) {
		if (f->px)
			hold(b, f);
		return;
	}
	b->held_valid = false; /* a newer picture goes straight in */
	slot = fp_source_acquire(b->src);
	if (slot < 0) {
		b->no_slot++;
		return;
	}
	if (f->px) {
		fp_portal_copy(ring->slot[slot], ring->stride, f->px, f->stride, f->width, f->height,
			       f->pix);
		b->under_w = b->under_h = 0;
		b->frames++;
	} else if (repeat_last(b, ring, slot) < 0) {
		fp_source_abort(b->src, slot);
		return;
	} else {
		b->pointer_frames++;
	}
	if (f->cursor)
		draw_pointer(b, ring->slot[slot], ring->stride, f->cursor);
	publish(b, ring, slot, f->capture_ns);
}

static void on_format(void *user, uint32_t width, uint32_t height, enum fp_portal_pix pix)
{
	struct fp_backend *b = user;
	uint32_t format = fp_portal_pix_ring_format(pix);
	bool changed = b->negotiated && (width != b->width || height != b->height ||
					 format != b->format);

	if (changed)
		fp_info("portal source: the stream is now %ux%u format %u (was %ux%u format %u)",
			width, height, format, b->width, b->height, b->format);
	b->width = width;
	b->height = height;
	b->format = format;
	b->pix = pix;
	b->negotiated = true;
	b->held_valid = false;
	b->last_slot = -1;
	b->under_w = b->under_h = 0;
	if (changed && b->src)
		fp_source_set_descriptor(b->src, width, height, format);
}

static const struct fp_pw_events pw_events = { .format = on_format, .frame = on_frame };

/* ---- the session ---- */

/* The restore token to pass (none on a first run), read from the spec's file. */
static int load_token(struct fp_backend *b, char *token, size_t cap)
{
	int r;

	token[0] = '\0';
	if (!b->opt.restore[0])
		return 0;
	r = fp_portal_token_path(b->opt.restore, b->restore_path, sizeof(b->restore_path));
	if (r == 0)
		r = fp_portal_token_read(b->restore_path, token, cap);
	if (r == 0)
		fp_info("portal source: no restore token in %s yet: the portal asks, and the "
			"token it gives is kept there", b->restore_path);
	return r < 0 ? r : 0;
}

/* The token just granted replaces the one passed (tokens are single use). */
static void save_token(struct fp_backend *b, const struct fp_portal_grant *g)
{
	if (!b->restore_path[0])
		return;
	if (!g->restore_token[0]) {
		fp_warn("portal source: the portal gave no restore token: it will ask next time");
		return;
	}
	if (fp_portal_token_write(b->restore_path, g->restore_token) == 0)
		fp_info("portal source: restore token saved in %s", b->restore_path);
}

/* Runs the loop until the stream's first format: the host's ring is made for it. */
static int wait_format(struct fp_backend *b)
{
	int64_t deadline = fp_now_ns() + FORMAT_TIMEOUT_NS;

	while (!b->negotiated) {
		struct epoll_event ev;
		int r = fp_pw_dispatch(b->pw);

		if (r < 0)
			return r;
		if (b->negotiated)
			break;
		if (fp_now_ns() >= deadline) {
			fp_error("portal source: the stream negotiated no format within %lld ms",
				 (long long)(FORMAT_TIMEOUT_NS / FP_NSEC_PER_MSEC));
			return -ETIMEDOUT;
		}
		if (epoll_wait(b->epfd, &ev, 1, fp_ms_until(deadline)) < 0 && errno != EINTR)
			return -errno;
		r = fp_portal_dispatch(b->portal);
		if (r < 0)
			return r;
	}
	return 0;
}

static int watch_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int start_session(struct fp_backend *b, const struct fp_backend_args *args)
{
	struct fp_portal_grant g;
	char token[FP_PORTAL_TOKEN_MAX + 2];
	struct fp_portal_opts po = { .bus_address = args->display, .restore_token = token,
		.persist = b->opt.restore[0] != '\0', .cursor = b->opt.cursor,
		.deadline_ns = fp_now_ns() + (int64_t)b->opt.timeout_s * FP_NSEC_PER_SEC };
	int r = load_token(b, token, sizeof(token));

	if (r == 0)
		r = fp_portal_open(&b->portal, &po, &g);
	if (r < 0)
		return r;
	save_token(b, &g);
	r = fp_pw_open(&b->pw, &(struct fp_pw_opts){ .fd = g.pw_fd, .node_id = g.node_id,
		.fps = args->fps, .prefer_hdr = b->opt.hdr,
		.cursor_meta = g.cursor_mode == FP_PORTAL_CURSOR_METADATA, .events = &pw_events,
		.user = b });
	if (r == 0)
		r = watch_fd(b->epfd, fp_pw_fd(b->pw));
	if (r == 0)
		r = watch_fd(b->epfd, fp_portal_fd(b->portal));
	return r < 0 ? r : wait_format(b);
}

static void portal_destroy(struct fp_backend *b)
{
	struct fp_pw_stats st = { 0 };

	if (!b)
		return;
	if (b->pw) {
		fp_pw_stats(b->pw, &st);
		fp_info("portal source: %llu frames published (%llu held for the ring, %llu for "
			"the pointer alone, %llu kicks); %llu buffers, %llu superseded by a newer one, %llu corrupted, %llu "
			"undamaged, %llu malformed; %llu without a free slot, %llu before the ring",
			(unsigned long long)b->frames, (unsigned long long)b->held_frames,
			(unsigned long long)b->pointer_frames,
			(unsigned long long)b->kicks, (unsigned long long)st.buffers,
			(unsigned long long)st.superseded, (unsigned long long)st.corrupted,
			(unsigned long long)st.undamaged, (unsigned long long)st.bad,
			(unsigned long long)b->no_slot, (unsigned long long)b->not_ready);
	}
	fp_pw_close(b->pw);
	fp_portal_close(b->portal);
	fp_close(&b->epfd);
	free(b->held);
	free(b);
}

static int portal_create(struct fp_backend **out, const struct fp_backend_args *args)
{
	struct fp_backend *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->last_slot = -1;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0) {
		free(b);
		return -errno;
	}
	r = parse_opts(args->spec, &b->opt);
	if (r == 0 && geteuid() == 0) {
		fp_error("portal source: refusing to run as root: the portal shares the screen of "
			 "the desktop's user; run framepush as that user");
		r = -EPERM;
	}
	if (r == 0)
		r = start_session(b, args);
	if (r < 0) {
		portal_destroy(b);
		return r;
	}
	*out = b;
	return 0;
}

static void portal_describe(struct fp_backend *b, uint32_t *w, uint32_t *h, uint32_t *fmt)
{
	*w = b->width;
	*h = b->height;
	*fmt = b->format;
}

static int portal_fd(struct fp_backend *b)
{
	return b->epfd;
}

static int64_t portal_next_wakeup(struct fp_backend *b)
{
	return fp_pw_next_wakeup(b->pw);
}

static int portal_dispatch(struct fp_backend *b, struct fp_source *src)
{
	int r;

	b->src = src;
	r = fp_portal_dispatch(b->portal);
	if (r == 0)
		r = fp_pw_dispatch(b->pw);
	if (r == 0)
		flush_held(b);
	return r;
}

static int portal_ring_changed(struct fp_backend *b, const struct fp_source_ring *ring)
{
	/* The old ring is unmapped: nothing of it may be copied from again. */
	b->last_slot = -1;
	b->under_w = b->under_h = 0;
	(void)ring;
	return 0;
}

/* The compositor composes only on damage, so an idle desktop sends nothing: the host's
 * kick gets the last picture again. */
static void portal_kick(struct fp_backend *b)
{
	const struct fp_source_ring *ring = usable_ring(b);
	int slot;

	if (!ring || b->last_slot < 0)
		return;
	slot = fp_source_acquire(b->src);
	if (slot < 0)
		return;
	memcpy(ring->slot[slot], ring->slot[b->last_slot], (size_t)ring->stride * b->height);
	b->kicks++;
	publish(b, ring, slot, fp_now_ns());
}

const struct fp_backend_impl fp_backend_portal = {
	.name = "portal",
	.check_spec = portal_check_spec,
	.create = portal_create,
	.destroy = portal_destroy,
	.describe = portal_describe,
	.fd = portal_fd,
	.next_wakeup_ns = portal_next_wakeup,
	.dispatch = portal_dispatch,
	.ring_changed = portal_ring_changed,
	.kick = portal_kick,
};
