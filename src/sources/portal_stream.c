#include "portal_stream.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <linux/dma-buf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pipewire/pipewire.h>
#include <spa/debug/types.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/video/type-info.h>
#include <spa/pod/builder.h>
#include <spa/utils/result.h>

#include "common/log.h"
#include "common/util.h"

/* PipeWire's method macros (pw_loop_*, pw_core_add_listener: spa_interface_call) are GNU
 * statement expressions: that is the library's API, not ours to rewrite. gcc exempts
 * macros from system headers; clang needs telling, for this file only. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
#endif

/* A stream paused this long is a display that went away (a renegotiation pauses it for a
 * moment only). Well inside the 1 s a user may wait for the session to say so. */
#define PAUSE_GRACE_NS (400 * FP_NSEC_PER_MSEC)
/* Loop iterations per dispatch: the host's socket is polled between rounds. */
#define ITERATIONS_MAX 16
/* The pointer images kept: larger ones are ignored (a cursor is 24..256 px). */
#define CURSOR_MAX 256
#define CURSOR_META_SIZE(w, h) \
	(sizeof(struct spa_meta_cursor) + sizeof(struct spa_meta_bitmap) + (w) * (h) * 4u)
#define DRM_MOD_LINEAR 0ull
#define DAMAGE_REGIONS 16

struct fp_pw {
	struct pw_loop *loop;
	struct pw_context *ctx;
	struct pw_core *core;
	struct pw_stream *stream;
	struct spa_hook core_listener, stream_listener;
	const struct fp_pw_events *events;
	void *user;
	uint32_t node_id, fps;
	int prefer_hdr, cursor_meta, dmabuf_ok;
	bool ended, streaming_seen;
	int64_t paused_at;          /* 0: not paused after streaming */
	uint32_t width, height;
	enum fp_portal_pix pix;
	bool dmabuf;                /* the negotiated format carries a modifier */
	/* The pointer: its last image (straight alpha) and position. */
	uint8_t cursor_px[CURSOR_MAX * CURSOR_MAX * 4];
	struct fp_portal_cursor cursor;
	bool cursor_visible;
	struct fp_pw_stats stats;
	pthread_t owner;            /* the thread that polls the loop: the only one for frames */
};

static const struct { uint32_t spa; enum fp_portal_pix pix; } formats[] = {
	{ SPA_VIDEO_FORMAT_BGRx, FP_PORTAL_PIX_BGRX },
	{ SPA_VIDEO_FORMAT_BGRA, FP_PORTAL_PIX_BGRX },
	{ SPA_VIDEO_FORMAT_RGBx, FP_PORTAL_PIX_RGBX },
	{ SPA_VIDEO_FORMAT_RGBA, FP_PORTAL_PIX_RGBX },
	{ SPA_VIDEO_FORMAT_xRGB_210LE, FP_PORTAL_PIX_XRGB210 },
	{ SPA_VIDEO_FORMAT_ARGB_210LE, FP_PORTAL_PIX_XRGB210 },
	{ SPA_VIDEO_FORMAT_xBGR_210LE, FP_PORTAL_PIX_XBGR210 },
	{ SPA_VIDEO_FORMAT_ABGR_210LE, FP_PORTAL_PIX_XBGR210 },
	{ SPA_VIDEO_FORMAT_RGBA_F16, FP_PORTAL_PIX_RGBA16F },
};

static enum fp_portal_pix pix_of(uint32_t spa)
{
	for (size_t i = 0; i < FP_ARRAY_LEN(formats); i++)
		if (formats[i].spa == spa)
			return formats[i].pix;
	return FP_PORTAL_PIX_NONE;
}

static void end_stream(struct fp_pw *pw, const char *why)
{
	if (!pw->ended)
		fp_error("portal source: %s: the display is gone", why);
	pw->ended = true;
}

/* ---- negotiation ---- */

/* A render node is what a DMA-BUF producer allocates on; without one (this CI machine, a
 * pixman compositor) offering DMA-BUF only invites a negotiation that cannot succeed. */
static int have_render_node(void)
{
	DIR *d = opendir("/dev/dri");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, "renderD", 7);
	closedir(d);
	return found;
}

static const struct spa_pod *format_pod(struct fp_pw *pw, struct spa_pod_builder *b,
					uint32_t spa, int with_modifier)
{
	struct spa_pod_frame f;
	struct spa_rectangle def = SPA_RECTANGLE(1920, 1080), min = SPA_RECTANGLE(1, 1),
			     max = SPA_RECTANGLE(16384, 16384);
	struct spa_fraction rate = SPA_FRACTION(pw->fps, 1), rmin = SPA_FRACTION(0, 1),
			    rmax = SPA_FRACTION(1000, 1);

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b, SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
			    SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
			    SPA_FORMAT_VIDEO_format, SPA_POD_Id(spa),
			    SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(&def, &min, &max),
			    SPA_FORMAT_VIDEO_framerate,
			    SPA_POD_CHOICE_RANGE_Fraction(&rate, &rmin, &rmax), 0);
	if (with_modifier) {
		/* LINEAR only: a layout the CPU can read after DMA_BUF_IOCTL_SYNC. */
		spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier, SPA_POD_PROP_FLAG_MANDATORY);
		spa_pod_builder_long(b, (int64_t)DRM_MOD_LINEAR);
	}
	return spa_pod_builder_pop(b, &f);
}

/* The offer, in preference order: DMA-BUF forms first (when possible), HDR first when
 * preferred, 8-bit BGR first otherwise (the ring's own layout: a plain copy). */
static uint32_t build_formats(struct fp_pw *pw, struct spa_pod_builder *b,
			      const struct spa_pod **params, uint32_t cap)
{
	static const uint32_t sdr[] = { SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRA,
		SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_RGBA, SPA_VIDEO_FORMAT_xRGB_210LE,
		SPA_VIDEO_FORMAT_ARGB_210LE, SPA_VIDEO_FORMAT_xBGR_210LE,
		SPA_VIDEO_FORMAT_ABGR_210LE };
	uint32_t order[FP_ARRAY_LEN(sdr) + 1], n_order = 0, n = 0;

	if (pw->prefer_hdr)
		order[n_order++] = SPA_VIDEO_FORMAT_RGBA_F16;
	for (size_t i = 0; i < FP_ARRAY_LEN(sdr); i++)
		order[n_order++] = sdr[i];
	if (!pw->prefer_hdr)
		order[n_order++] = SPA_VIDEO_FORMAT_RGBA_F16;
	for (int mod = pw->dmabuf_ok; mod >= 0; mod--)
		for (uint32_t i = 0; i < n_order && n < cap; i++)
			params[n++] = format_pod(pw, b, order[i], mod);
	return n;
}

/* spa_pod_builder_add_object() without its GNU statement expression: key/value pairs, 0
 * ended. */
static const struct spa_pod *add_object(struct spa_pod_builder *b, uint32_t type, uint32_t id,
					...)
{
	struct spa_pod_frame f;
	va_list ap;

	spa_pod_builder_push_object(b, &f, type, id);
	va_start(ap, id);
	spa_pod_builder_addv(b, ap);
	va_end(ap);
	return spa_pod_builder_pop(b, &f);
}

static void set_buffer_params(struct fp_pw *pw)
{
	uint8_t buf[1024];
	struct spa_pod_builder b;
	const struct spa_pod *params[4];
	uint32_t n = 0, types = pw->dmabuf ? 1u << SPA_DATA_DmaBuf
					   : (1u << SPA_DATA_MemFd) | (1u << SPA_DATA_MemPtr);

	spa_pod_builder_init(&b, buf, sizeof(buf));

	params[n++] = add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
		SPA_PARAM_BUFFERS_buffers, SPA_POD_CHOICE_RANGE_Int(4, 2, 8),
		SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(1),
		SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int((int)types), 0);
	params[n++] = add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
		SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
		SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)), 0);
	params[n++] = add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
		SPA_PARAM_META_type, SPA_POD_Id(SPA_META_VideoDamage),
		SPA_PARAM_META_size, SPA_POD_CHOICE_RANGE_Int(
			sizeof(struct spa_meta_region) * DAMAGE_REGIONS,
			sizeof(struct spa_meta_region), sizeof(struct spa_meta_region) * DAMAGE_REGIONS),
		0);
	if (pw->cursor_meta)
		params[n++] = add_object(&b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
			SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Cursor),
			SPA_PARAM_META_size, SPA_POD_CHOICE_RANGE_Int(CURSOR_META_SIZE(64, 64),
				CURSOR_META_SIZE(1, 1), CURSOR_META_SIZE(CURSOR_MAX, CURSOR_MAX)), 0);
	pw_stream_update_params(pw->stream, params, n);
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param)
{
	struct fp_pw *pw = data;
	struct spa_video_info_raw info;
	uint32_t mtype, msub;

	if (id != SPA_PARAM_Format || !param)
		return;
	if (spa_format_parse(param, &mtype, &msub) < 0 || mtype != SPA_MEDIA_TYPE_video ||
	    msub != SPA_MEDIA_SUBTYPE_raw || spa_format_video_raw_parse(param, &info) < 0) {
		end_stream(pw, "the portal's stream negotiated a format that is not raw video");
		return;
	}
	pw->pix = pix_of(info.format);
	if (pw->pix == FP_PORTAL_PIX_NONE || info.size.width < 1 || info.size.height < 1 ||
	    info.size.width > 16384 || info.size.height > 16384) {
		fp_error("portal source: negotiated format %u %ux%u is not one we offered",
			 (unsigned)info.format, info.size.width, info.size.height);
		end_stream(pw, "the stream's format cannot be used");
		return;
	}
	pw->dmabuf = spa_pod_find_prop(param, NULL, SPA_FORMAT_VIDEO_modifier) != NULL;
	pw->width = info.size.width;
	pw->height = info.size.height;
	fp_info("portal source: stream format %s %ux%u%s, max %u/%u fps",
		spa_debug_type_find_short_name(spa_type_video_format, info.format), pw->width,
		pw->height, pw->dmabuf ? " (DMA-BUF, linear)" : " (shared memory)",
		info.max_framerate.num, info.max_framerate.denom);
	set_buffer_params(pw);
	pw->events->format(pw->user, pw->width, pw->height, pw->pix);
}

/* A DMA-BUF that cannot be read drops DMA-BUF from the offer for good and renegotiates. */
static void drop_dmabuf(struct fp_pw *pw, const char *why)
{
	uint8_t buf[4096];
	struct spa_pod_builder b;
	const struct spa_pod *params[32];
	uint32_t n;

	spa_pod_builder_init(&b, buf, sizeof(buf));
	fp_warn("portal source: %s: falling back to shared memory", why);
	pw->dmabuf_ok = 0;
	n = build_formats(pw, &b, params, FP_ARRAY_LEN(params));
	pw_stream_update_params(pw->stream, params, n);
}

/* ---- buffers ---- */

/* The producer's timestamp when it is plausible (CLOCK_MONOTONIC, not in the future, less
 * than a second old), else now: a foreign clock must not confuse the host's pacing. */
static int64_t capture_time(const struct spa_buffer *buf, int64_t now)
{
	const struct spa_meta_header *h =
		spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*h));

	if (h && h->pts > 0 && h->pts <= now && now - h->pts < FP_NSEC_PER_SEC)
		return h->pts;
	return now;
}

static bool corrupted(const struct spa_buffer *buf)
{
	const struct spa_meta_header *h =
		spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*h));

	return (h && (h->flags & SPA_META_HEADER_FLAG_CORRUPTED)) ||
	       (buf->datas[0].chunk->flags & SPA_CHUNK_FLAG_CORRUPTED);
}

/* Damage metadata that lists no region says nothing changed: no frame to publish. A
 * producer without the metadata damages everything. */
static bool undamaged(const struct spa_buffer *buf)
{
	const struct spa_meta *m = spa_buffer_find_meta(buf, SPA_META_VideoDamage);
	const struct spa_meta_region *r;

	if (!m || m->size < sizeof(*r))
		return false;
	r = m->data;
	return !spa_meta_region_is_valid(r);
}

/* Takes the pointer's image and position from the cursor metadata, every bound checked
 * against the metadata's own size (the producer writes it). 1 when it changed. */
static int read_cursor(struct fp_pw *pw, const struct spa_buffer *buf)
{
	const struct spa_meta *m = spa_buffer_find_meta(buf, SPA_META_Cursor);
	const struct spa_meta_cursor *c;
	const struct spa_meta_bitmap *bm;
	int changed;

	if (!m || m->size < sizeof(*c))
		return 0;
	c = m->data;
	if (!spa_meta_cursor_is_valid(c))
		return 0;
	changed = !pw->cursor_visible || c->position.x - c->hotspot.x != pw->cursor.x ||
		  c->position.y - c->hotspot.y != pw->cursor.y;
	pw->cursor.x = c->position.x - c->hotspot.x;
	pw->cursor.y = c->position.y - c->hotspot.y;
	pw->cursor_visible = true;
	if (c->bitmap_offset < sizeof(*c) || c->bitmap_offset > m->size - sizeof(*bm))
		return changed;
	bm = SPA_PTROFF(c, c->bitmap_offset, const struct spa_meta_bitmap);
	if (!spa_meta_bitmap_is_valid(bm))
		return changed;
	if (bm->offset == 0) { /* an invisible pointer */
		pw->cursor_visible = false;
		return 1;
	}
	if ((bm->format != SPA_VIDEO_FORMAT_BGRA && bm->format != SPA_VIDEO_FORMAT_RGBA) ||
	    bm->size.width > CURSOR_MAX || bm->size.height > CURSOR_MAX || bm->stride < 0 ||
	    (uint32_t)bm->stride < bm->size.width * 4u || bm->offset < sizeof(*bm) ||
	    (uint64_t)c->bitmap_offset + bm->offset + (uint64_t)bm->stride * bm->size.height >
		    m->size) {
		pw->stats.bad++;
		return changed;
	}
	for (uint32_t y = 0; y < bm->size.height; y++)
		memcpy(pw->cursor_px + (size_t)y * bm->size.width * 4,
		       SPA_PTROFF(bm, bm->offset + (size_t)y * (uint32_t)bm->stride, const uint8_t),
		       (size_t)bm->size.width * 4);
	pw->cursor = (struct fp_portal_cursor){ .px = pw->cursor_px, .width = bm->size.width,
		.height = bm->size.height, .stride = bm->size.width * 4,
		.rgba = bm->format == SPA_VIDEO_FORMAT_RGBA, .x = pw->cursor.x, .y = pw->cursor.y };
	return 1;
}

/* The picture of buf, mapped and checked to hold width x height of the layout: NULL when
 * it does not (counted) or has no picture. *map and *map_len: a DMA-BUF mapping to undo. */
static const uint8_t *picture(struct fp_pw *pw, const struct spa_buffer *buf, uint32_t *stride,
			      void **map, size_t *map_len)
{
	const struct spa_data *d = &buf->datas[0];
	uint32_t row = pw->width * fp_portal_pix_bpp(pw->pix);
	uint64_t need;
	const uint8_t *base = d->data;

	*map = NULL;
	if (!d->chunk || d->chunk->size == 0 || (d->chunk->flags & SPA_CHUNK_FLAG_EMPTY))
		return NULL;
	*stride = d->chunk->stride > 0 ? (uint32_t)d->chunk->stride : row;
	need = (uint64_t)d->chunk->offset + (uint64_t)*stride * (pw->height - 1) + row;
	if (*stride < row || need > d->maxsize) {
		pw->stats.bad++;
		return NULL;
	}
	if (d->type == SPA_DATA_DmaBuf && !base) {
		struct dma_buf_sync sync = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };

		*map_len = (size_t)d->mapoffset + d->maxsize;
		*map = mmap(NULL, *map_len, PROT_READ, MAP_SHARED, (int)d->fd, 0);
		if (*map == MAP_FAILED) {
			*map = NULL;
			drop_dmabuf(pw, "a DMA-BUF could not be mapped");
			return NULL;
		}
		ioctl((int)d->fd, DMA_BUF_IOCTL_SYNC, &sync);
		base = (const uint8_t *)*map + d->mapoffset;
	}
	return base ? base + d->chunk->offset : NULL;
}

static void unmap_picture(const struct spa_buffer *buf, void *map, size_t len)
{
	struct dma_buf_sync sync = { DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ };

	if (!map)
		return;
	ioctl((int)buf->datas[0].fd, DMA_BUF_IOCTL_SYNC, &sync);
	munmap(map, len);
}

/* Hands one buffer's worth to the backend: the picture when it has one that is new, the
 * pointer when it moved. */
static void deliver(struct fp_pw *pw, struct pw_buffer *b, int pointer_moved)
{
	struct spa_buffer *buf = b->buffer;
	struct fp_pw_frame f = { .width = pw->width, .height = pw->height, .pix = pw->pix,
				 .pointer_moved = pointer_moved };
	void *map = NULL;
	size_t map_len = 0;
	bool still;

	if (corrupted(buf)) {
		pw->stats.corrupted++;
		return;
	}
	still = undamaged(buf);
	f.px = still ? NULL : picture(pw, buf, &f.stride, &map, &map_len);
	if (still)
		pw->stats.undamaged++;
	else if (!f.px)
		pw->stats.cursor_only++;
	f.capture_ns = capture_time(buf, fp_now_ns());
	f.cursor = pw->cursor_meta && pw->cursor_visible ? &pw->cursor : NULL;
	if (f.px || pointer_moved)
		pw->events->frame(pw->user, &f);
	if (f.px)
		unmap_picture(buf, map, map_len);
}

static void on_process(void *data)
{
	struct fp_pw *pw = data;
	struct pw_buffer *b, *newest = NULL;
	int moved = 0;

	/* Frames go into slots the main thread maps and unmaps: from any other thread that is
	 * a race with a ring recreate. Never expected (the loop is entered: see fp_pw_open). */
	if (!pthread_equal(pthread_self(), pw->owner)) {
		end_stream(pw, "PipeWire called the frame callback from a foreign thread");
		return;
	}
	/* Everything queued now: the pointer from each, the picture from the newest that has
	 * one; every other buffer goes straight back. */
	while ((b = pw_stream_dequeue_buffer(pw->stream))) {
		const struct spa_data *d = &b->buffer->datas[0];

		pw->stats.buffers++;
		if (b->buffer->n_datas < 1) {
			pw->stats.bad++;
			pw_stream_queue_buffer(pw->stream, b);
			continue;
		}
		moved |= pw->cursor_meta ? read_cursor(pw, b->buffer) : 0;
		if (!d->chunk || d->chunk->size == 0) {
			pw_stream_queue_buffer(pw->stream, b);
			continue;
		}
		if (newest) {
			pw->stats.superseded++;
			pw_stream_queue_buffer(pw->stream, newest);
		}
		newest = b;
	}
	if (newest) {
		deliver(pw, newest, moved);
		pw_stream_queue_buffer(pw->stream, newest);
	} else if (moved) {
		struct fp_pw_frame f = { .width = pw->width, .height = pw->height, .pix = pw->pix,
			.capture_ns = fp_now_ns(), .pointer_moved = 1,
			.cursor = pw->cursor_visible ? &pw->cursor : NULL };

		pw->stats.cursor_only++;
		pw->events->frame(pw->user, &f);
	}
}

/* ---- the stream's life ---- */

static void on_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state,
			     const char *error)
{
	struct fp_pw *pw = data;

	(void)old;
	fp_debug("portal source: stream %s -> %s", pw_stream_state_as_string(old),
		 pw_stream_state_as_string(state));
	switch (state) {
	case PW_STREAM_STATE_ERROR:
		fp_error("portal source: the PipeWire stream failed: %s", error ? error : "?");
		end_stream(pw, "the stream failed");
		break;
	case PW_STREAM_STATE_UNCONNECTED:
		end_stream(pw, "the PipeWire stream was disconnected");
		break;
	case PW_STREAM_STATE_PAUSED:
		if (pw->streaming_seen && !pw->paused_at)
			pw->paused_at = fp_now_ns();
		break;
	case PW_STREAM_STATE_STREAMING:
		pw->streaming_seen = true;
		pw->paused_at = 0;
		break;
	default:
		break;
	}
}

static void on_core_error(void *data, uint32_t id, int seq, int res, const char *message)
{
	struct fp_pw *pw = data;

	(void)seq;
	if (id != PW_ID_CORE)
		return;
	fp_error("portal source: PipeWire: %s (%s)", message ? message : "error",
		 strerror(res < 0 ? -res : res));
	if (res == -EPIPE)
		end_stream(pw, "PipeWire went away");
}

static const struct pw_stream_events stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = on_state_changed,
	.param_changed = on_param_changed,
	.process = on_process,
};

static const struct pw_core_events core_events = {
	PW_VERSION_CORE_EVENTS,
	.error = on_core_error,
};

static int connect_stream(struct fp_pw *pw)
{
	uint8_t buf[8192];
	struct spa_pod_builder b;
	const struct spa_pod *params[32];
	uint32_t n;

	spa_pod_builder_init(&b, buf, sizeof(buf));
	pw->stream = pw_stream_new(pw->core, "framepush",
				   pw_properties_new(PW_KEY_MEDIA_TYPE, "Video",
						     PW_KEY_MEDIA_CATEGORY, "Capture",
						     PW_KEY_MEDIA_ROLE, "Screen", NULL));
	if (!pw->stream)
		return -errno ? -errno : -ENOMEM;
	pw_stream_add_listener(pw->stream, &pw->stream_listener, &stream_events, pw);
	n = build_formats(pw, &b, params, FP_ARRAY_LEN(params));
	return pw_stream_connect(pw->stream, PW_DIRECTION_INPUT, pw->node_id,
				 PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, n);
}

int fp_pw_open(struct fp_pw **out, const struct fp_pw_opts *o)
{
	struct fp_pw *pw = calloc(1, sizeof(*pw));
	int fd = o->fd, r;

	*out = NULL;
	if (!pw) {
		close(fd);
		return -ENOMEM;
	}
	pw_init(NULL, NULL);
	*pw = (struct fp_pw){ .events = o->events, .user = o->user, .node_id = o->node_id,
		.fps = o->fps, .prefer_hdr = o->prefer_hdr, .cursor_meta = o->cursor_meta,
		.dmabuf_ok = have_render_node() };
	pw->loop = pw_loop_new(NULL);
	/* Entered for good, by this thread: PipeWire's data thread hands the process callback
	 * to this loop with pw_loop_invoke, which runs it on the calling thread at once when no
	 * thread is in the loop, and then frames were copied into slots the main thread was
	 * unmapping (a crash at a ring recreate). Entered, it queues them for our dispatch. */
	if (pw->loop)
		pw_loop_enter(pw->loop);
	pw->owner = pthread_self();
	/* No mlock of the buffers: a renegotiation maps new ones after the sandbox is on,
	 * and a source has no business pinning memory. */
	pw->ctx = pw->loop ? pw_context_new(pw->loop,
		pw_properties_new("mem.allow-mlock", "false", NULL), 0) : NULL;
	/* The core owns fd from here, failing or not. */
	pw->core = pw->ctx ? pw_context_connect_fd(pw->ctx, fd, NULL, 0) : NULL;
	if (!pw->core) {
		r = -errno ? -errno : -ENOMEM;
		if (!pw->ctx)
			close(fd);
		fp_error("portal source: cannot connect to PipeWire on the portal's fd: %s",
			 strerror(-r));
		fp_pw_close(pw);
		return r;
	}
	pw_core_add_listener(pw->core, &pw->core_listener, &core_events, pw);
	r = connect_stream(pw);
	if (r < 0) {
		fp_error("portal source: cannot connect a stream to node %u: %s", o->node_id,
			 strerror(-r));
		fp_pw_close(pw);
		return r;
	}
	*out = pw;
	return 0;
}

void fp_pw_close(struct fp_pw *pw)
{
	if (!pw)
		return;
	if (pw->stream) {
		spa_hook_remove(&pw->stream_listener);
		pw_stream_destroy(pw->stream);
	}
	if (pw->core) {
		spa_hook_remove(&pw->core_listener);
		pw_core_disconnect(pw->core);
	}
	if (pw->ctx)
		pw_context_destroy(pw->ctx);
	if (pw->loop) {
		pw_loop_leave(pw->loop);
		pw_loop_destroy(pw->loop);
	}
	free(pw);
	pw_deinit();
}

int fp_pw_fd(const struct fp_pw *pw)
{
	return pw_loop_get_fd(pw->loop);
}

int64_t fp_pw_next_wakeup(const struct fp_pw *pw)
{
	return pw->paused_at && !pw->ended ? pw->paused_at + PAUSE_GRACE_NS : INT64_MAX;
}

int fp_pw_dispatch(struct fp_pw *pw)
{
	for (int i = 0; i < ITERATIONS_MAX && !pw->ended; i++)
		if (pw_loop_iterate(pw->loop, 0) <= 0)
			break;
	if (pw->paused_at && fp_now_ns() - pw->paused_at >= PAUSE_GRACE_NS)
		end_stream(pw, "the PipeWire stream paused (the desktop stopped sharing)");
	return pw->ended ? -ESHUTDOWN : 0;
}

void fp_pw_stats(const struct fp_pw *pw, struct fp_pw_stats *out)
{
	*out = pw->stats;
}
