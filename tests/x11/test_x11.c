/* The X11 source and the Xvfb display against real processes: a real Xvfb, the real
 * framepush-source --backend x11, and either a small host in the test (broker + ring, to read
 * the slot pixels the X server wrote) or the real capturer (NV12 out).
 *
 * An X client in the test draws known content; every wait is on an event (the ring's eventfd,
 * an X round trip), bounded by a deadline. Without Xvfb installed the tests skip. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <xcb/randr.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>
#include <xcb/xtest.h>

#include "channel/msg.h"
#include "channel/ring.h"
#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/convert.h"
#include "framepush/display.h"
#include "broker.h"
#include "harness.h"

static char source_exe[4096];

/* Everything a test starts; teardown stops it even when an assertion bailed out. */
struct fx {
	struct fp_display *d;
	xcb_connection_t *c;
	xcb_window_t root;
	xcb_gcontext_t gc;
	uint32_t w, h;
	struct fp_broker *b;
	struct fp_ring *ring;
	struct fp_capture *cap;
	uint32_t *frame, *want; /* packed w*h XRGB copies */
	uint64_t last_token;
};

static int have_xvfb(void)
{
	return access("/usr/bin/Xvfb", X_OK) == 0 || access("/usr/local/bin/Xvfb", X_OK) == 0;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fp_capture_close(f->cap);
	fp_ring_destroy(f->ring);
	fp_broker_destroy(f->b); /* hangs up: the source exits */
	if (f->c)
		xcb_disconnect(f->c);
	fp_display_destroy(f->d);
	free(f->frame);
	free(f->want);
	free(f);
	return 0;
}

static double ms_since(int64_t t0)
{
	return (double)(fp_now_ns() - t0) / 1e6;
}

/* ---- the X client ---- */

static void x_sync(struct fx *f)
{
	free(xcb_get_input_focus_reply(f->c, xcb_get_input_focus(f->c), NULL));
	assert_int_equal(xcb_connection_has_error(f->c), 0);
}

/* Starts Xvfb at w x h and connects the test's own X client to it. */
static void start_display(struct fx *f, uint32_t w, uint32_t h)
{
	struct fp_display_opts o = { .kind = "xvfb", .width = w, .height = h, .refresh_hz = 60 };
	const xcb_setup_t *setup;
	xcb_screen_t *scr;
	int64_t t0 = fp_now_ns();

	if (!have_xvfb())
		fpt_skip("Xvfb is not installed (Debian package xvfb)");
	assert_int_equal(fp_display_create(&f->d, &o), 0);
	assert_int_equal(fp_display_export_env(f->d), 0); /* its cookie: for us and the source */
	fp_info("test: Xvfb %ux%u ready as %s in %.1f ms", w, h, fp_display_name(f->d), ms_since(t0));
	assert_string_equal(fp_display_backend(f->d), "x11");
	f->c = xcb_connect(fp_display_name(f->d), NULL);
	assert_int_equal(xcb_connection_has_error(f->c), 0);
	setup = xcb_get_setup(f->c);
	scr = xcb_setup_roots_iterator(setup).data;
	assert_int_equal(scr->width_in_pixels, w);
	assert_int_equal(scr->height_in_pixels, h);
	f->root = scr->root;
	f->w = w;
	f->h = h;
	f->gc = xcb_generate_id(f->c);
	xcb_create_gc(f->c, f->gc, f->root, 0, NULL);
	/* XFixes needs its version handshake before GetCursorImage. */
	free(xcb_xfixes_query_version_reply(f->c, xcb_xfixes_query_version(f->c, 5, 0), NULL));
	free(xcb_test_get_version_reply(f->c, xcb_test_get_version(f->c, 2, 2), NULL));
	x_sync(f);
	f->frame = calloc((size_t)w * h, 4);
	f->want = calloc((size_t)w * h, 4);
	assert_non_null(f->frame);
	assert_non_null(f->want);
}

/* Fills a rectangle on the root (IncludeInferiors is moot: there are no windows) and in the
 * expected image. */
static void fill(struct fx *f, uint32_t rgb, int x, int y, int w, int h)
{
	xcb_rectangle_t r = { (int16_t)x, (int16_t)y, (uint16_t)w, (uint16_t)h };

	xcb_change_gc(f->c, f->gc, XCB_GC_FOREGROUND, &rgb);
	xcb_poly_fill_rectangle(f->c, f->root, f->gc, 1, &r);
	for (int j = y; j < y + h && j < (int)f->h; j++)
		for (int i = x; i < x + w && i < (int)f->w; i++)
			f->want[(size_t)j * f->w + i] = rgb;
}

static void warp(struct fx *f, int x, int y)
{
	xcb_test_fake_input(f->c, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, f->root, (int16_t)x,
			    (int16_t)y, 0);
	x_sync(f);
}

/* The cursor as the server has it now, blended into the expected image the way a
 * premultiplied ARGB image goes over an opaque one. */
static void expect_cursor(struct fx *f)
{
	xcb_xfixes_get_cursor_image_reply_t *cr =
		xcb_xfixes_get_cursor_image_reply(f->c, xcb_xfixes_get_cursor_image(f->c), NULL);
	const uint32_t *img;

	assert_non_null(cr);
	img = xcb_xfixes_get_cursor_image_cursor_image(cr);
	for (int j = 0; j < cr->height; j++)
		for (int i = 0; i < cr->width; i++) {
			int x = cr->x - cr->xhot + i, y = cr->y - cr->yhot + j;
			uint32_t s = img[j * cr->width + i], a = s >> 24, *d, o = 0;

			if (x < 0 || y < 0 || x >= (int)f->w || y >= (int)f->h || !a)
				continue;
			d = &f->want[(size_t)y * f->w + x];
			for (int sh = 0; sh < 24; sh += 8) {
				uint32_t v = ((s >> sh) & 255u) + (((*d >> sh) & 255u) * (255u - a) + 127u) / 255u;
				o |= (v > 255 ? 255 : v) << sh;
			}
			*d = o;
		}
	free(cr);
}

/* ---- the in-test host: broker + ring, like the capturer but reading raw slots ---- */

static void expect_opened(struct fx *f)
{
	int64_t deadline = fp_now_ns() + 5 * FP_NSEC_PER_SEC;

	for (;;) {
		struct fp_msg_status m;
		int fds[FP_CHANNEL_MAX_FDS];
		size_t nfds;
		int n = fp_msg_recv(fp_broker_sock(f->b), &m, sizeof(m), fds, FP_CHANNEL_MAX_FDS,
				    &nfds, fp_ms_until(deadline));

		if (n == -EAGAIN)
			fail_msg("no STATUS for ring gen %u within 5 s", f->ring->generation);
		assert_true(n > 0);
		fp_msg_close_fds(fds, nfds);
		if (n != (int)sizeof(m) || m.hdr.type != FP_MSG_STATUS ||
		    m.generation != f->ring->generation)
			continue;
		if (m.status != FP_SRC_OPENED)
			fail_msg("source refused ring gen %u: %s detail %u", m.generation,
				 fp_source_status_name(m.status), m.detail);
		return;
	}
}

static void deliver_ring(struct fx *f, uint32_t w, uint32_t h)
{
	fp_ring_destroy(f->ring);
	f->ring = NULL;
	assert_int_equal(fp_ring_create(&f->ring, fp_ring_next_generation(), 1, 4, w, h,
					FP_PIXFMT_XRGB8888), 0);
	assert_int_equal(fp_ring_deliver(f->ring, fp_broker_sock(f->b)), 0);
	expect_opened(f);
	f->last_token = 0;
}

static void host_open_fps(struct fx *f, const char *fps)
{
	char *argv[] = { "--backend", "x11", "--display", (char *)fp_display_name(f->d),
			 "--fps", (char *)fps, NULL };
	struct fp_broker_opts o = { .source_exe = source_exe, .source_argv = argv, .spawn = 1 };
	const struct fp_msg_hello *hello;

	assert_int_equal(fp_broker_create(&f->b, &o), 0);
	hello = fp_broker_hello(f->b);
	assert_string_equal(hello->backend, "x11");
	assert_int_equal(hello->width, f->w);
	assert_int_equal(hello->height, f->h);
	assert_int_equal(hello->format, FP_PIXFMT_XRGB8888);
	deliver_ring(f, f->w, f->h);
}

static void host_open(struct fx *f)
{
	host_open_fps(f, "60");
}

static void kick(struct fx *f)
{
	struct fp_msg_header m = { FP_MSG_KICK, FP_PROTO_VERSION };

	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m)), 0);
}

/* Waits for a publish newer than the last one read; 1 got one, 0 timed out. */
static int wait_publish(struct fx *f, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;

	for (;;) {
		struct pollfd p = { .fd = f->ring->event_fd, .events = POLLIN };
		uint64_t v;

		if (fp_ring_latest(f->ring) != f->last_token &&
		    fp_token_unpack(fp_ring_latest(f->ring)).generation == f->ring->generation)
			return 1;
		if (poll(&p, 1, fp_ms_until(deadline)) == 0)
			return 0;
		if (read(f->ring->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			fail_msg("eventfd read: %s", strerror(errno));
	}
}

/* Copies the newest published slot into f->frame (packed rows). */
static void read_latest(struct fx *f)
{
	for (int tries = 0; tries < 100; tries++) {
		uint64_t tok = fp_ring_latest(f->ring);
		struct fp_token t = fp_token_unpack(tok);

		assert_int_equal(t.generation, f->ring->generation);
		assert_true(t.slot < f->ring->ring_len);
		if (fp_ring_slot_acquire(f->ring, t.slot, 50 * FP_NSEC_PER_MSEC) < 0)
			continue;
		/* A newer publish while we waited for the slot: the slot may hold it; start over. */
		if (fp_ring_latest(f->ring) != tok) {
			fp_ring_slot_release(f->ring, t.slot);
			continue;
		}
		for (uint32_t y = 0; y < f->h; y++)
			memcpy(f->frame + (size_t)y * f->w, f->ring->slot[t.slot] + (size_t)y * f->ring->stride,
			       (size_t)f->w * 4);
		fp_ring_slot_release(f->ring, t.slot);
		f->last_token = tok;
		return;
	}
	fail_msg("could not read the latest slot");
}

/* Mismatching pixels (the X byte is undefined in XRGB8888); the first one in *at. */
static size_t mismatches(const struct fx *f, size_t *at)
{
	size_t n = 0;

	for (size_t i = 0; i < (size_t)f->w * f->h; i++)
		if ((f->frame[i] ^ f->want[i]) & 0xffffffu) {
			if (!n)
				*at = i;
			n++;
		}
	return n;
}

/* Waits (bounded) for a published frame equal to f->want, pixel for pixel. */
static void expect_frame(struct fx *f, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
	size_t bad = 0, at = 0;
	int frames = 0;

	while (wait_publish(f, fp_ms_until(deadline))) {
		read_latest(f);
		frames++;
		bad = mismatches(f, &at);
		if (!bad)
			return;
	}
	if (!frames)
		fail_msg("no frame published within %d ms", timeout_ms);
	fail_msg("%zu of %u pixels differ after %d frames; first at (%zu,%zu): got %06x want %06x",
		 bad, f->w * f->h, frames, at % f->w, at / f->w, f->frame[at] & 0xffffffu,
		 f->want[at] & 0xffffffu);
}

/* ---- tests ---- */

/* Known content: 200 random rectangles of 9 colours over a background, edge rows and
 * columns, the pointer off-centre; drawn under a server grab so a capture sees all or
 * nothing of it. f->want gets the same pixels (the cursor is added by the caller). */
static void draw_known(struct fx *f)
{
	static const uint32_t colours[] = { 0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x000000,
					    0x123456, 0xfedcba, 0x808080, 0x01fe7f };
	uint32_t w = f->w, h = f->h;
	uint64_t x = 0x243f6a8885a308d3ull;

	warp(f, (int)w / 2 + 3, (int)h / 2 + 5);
	/* Grabbed: the source's ShmGetImage waits until the whole drawing is done. */
	xcb_grab_server(f->c);
	fill(f, 0x204060, 0, 0, (int)w, (int)h);
	for (int i = 0; i < 200; i++) {
		int rx, ry, rw, rh;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		rx = (int)(x % w);
		ry = (int)((x >> 16) % h);
		rw = 1 + (int)((x >> 32) % 300);
		rh = 1 + (int)((x >> 44) % 200);
		fill(f, colours[(x >> 56) % FP_ARRAY_LEN(colours)], rx, ry, rw, rh);
	}
	/* Edge pixels: the first and last column and row. */
	fill(f, 0xff00ff, 0, 0, 1, (int)h);
	fill(f, 0x00ffff, (int)w - 1, 0, 1, (int)h);
	fill(f, 0xffff00, 0, (int)h - 1, (int)w, 1);
	xcb_ungrab_server(f->c);
	x_sync(f);
}

/* Known content drawn after the source attached: the DAMAGE it causes publishes a frame
 * whose slot pixels, written by the X server, equal the drawing plus the cursor. */
static void pixels_exact(struct fx *f, uint32_t w, uint32_t h)
{
	int64_t t0;

	start_display(f, w, h);
	host_open(f);
	assert_int_equal(f->ring->stride % 64, 0);
	fp_info("test: %ux%u ring stride %u (%s)", w, h, f->ring->stride,
		f->ring->stride == w * 4 ? "direct ShmGetImage into the slot" : "scratch + row copy");
	draw_known(f);
	t0 = fp_now_ns();
	expect_cursor(f);
	expect_frame(f, 5000);
	fp_info("test: %ux%u frame matched pixel for pixel %.1f ms after the drawing", w, h,
		ms_since(t0));
}

static void pixels_exact_1080p(void **state)
{
	pixels_exact(*state, 1920, 1080);
}

/* 1366 * 4 = 5464 is not a multiple of 64: the ring's stride is 5504 and the source takes
 * its scratch-segment path. */
static void pixels_exact_odd_stride(void **state)
{
	pixels_exact(*state, 1366, 768);
}

/* An idle Xvfb publishes nothing; a kick publishes. */
static void idle_then_kick(void **state)
{
	struct fx *f = *state;
	struct pollfd p;
	uint64_t after_kick;
	int64_t t0;

	start_display(f, 320, 240);
	host_open(f);
	p.fd = f->ring->event_fd;
	p.events = POLLIN;
	t0 = fp_now_ns();
	assert_int_equal(poll(&p, 1, 2000), 0);
	assert_true(ms_since(t0) >= 1990.0);
	assert_int_equal(f->ring->status->frames_published, 0);
	assert_int_equal(fp_ring_latest(f->ring), 0);

	t0 = fp_now_ns();
	kick(f);
	assert_int_equal(wait_publish(f, 2000), 1);
	fp_info("test: kick to publish %.1f ms", ms_since(t0));
	read_latest(f);
	/* The kick's pointer nudge is net zero and its raw motion is folded into the kick's
	 * capture: afterwards the display is idle again. */
	after_kick = f->ring->status->frames_published;
	assert_true(after_kick >= 1);
	t0 = fp_now_ns();
	assert_int_equal(wait_publish(f, 1000), 0);
	fp_info("test: %llu frame(s) for one kick, then none for %.0f ms",
		(unsigned long long)after_kick, ms_since(t0));
	assert_int_equal(f->ring->status->frames_published, after_kick);
	assert_int_equal(f->ring->status->frames_dropped, 0);
}

/* The real capturer on an idle Xvfb: its attach gate kicks at 600 ms and passes. */
static void capturer_attach_gate_idle(void **state)
{
	struct fx *f = *state;
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "x11", .width = 640, .height = 360, .fps = 60,
		.convert_threads = 1, .verify_signatures = 0,
	};
	struct fp_capture_stats st;
	int64_t t0;

	start_display(f, 640, 360);
	o.display = fp_display_name(f->d);
	t0 = fp_now_ns();
	if (fp_capture_open(&f->cap, &o, NULL, 0) < 0)
		fail_msg("capture open on idle Xvfb failed");
	fp_info("test: capture open on idle Xvfb took %.1f ms", ms_since(t0));
	fp_capture_get_stats(f->cap, &st);
	assert_true(st.kicks >= 1);
	assert_true(ms_since(t0) >= 550.0);
	assert_true(ms_since(t0) < 4000.0);
}

static int limited(double v)
{
	return (int)(v + 0.5);
}

/* BT.709 limited range codes of an sRGB colour. */
static void bt709(uint32_t rgb, int *y, int *cb, int *cr)
{
	double r = ((rgb >> 16) & 255) / 255.0, g = ((rgb >> 8) & 255) / 255.0, b = (rgb & 255) / 255.0;
	double yy = 0.2126 * r + 0.7152 * g + 0.0722 * b;

	*y = limited(16 + 219 * yy);
	*cb = limited(128 + 224 * (b - yy) / 1.8556);
	*cr = limited(128 + 224 * (r - yy) / 1.5748);
}

/* Quadrants of known colours through the capturer: NV12 codes within +-1 of BT.709. */
static void capturer_nv12_bt709(void **state)
{
	static const uint32_t quad[4] = { 0xff0000, 0x00ff00, 0x0000ff, 0xc86432 };
	struct fx *f = *state;
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "x11", .width = 640, .height = 360, .fps = 60,
		.convert_threads = 1, .verify_signatures = 0,
	};
	const struct fp_yuv_frame *fr = NULL;
	int64_t deadline;
	char why[256] = "no frame";

	start_display(f, 640, 360);
	o.display = fp_display_name(f->d);
	warp(f, 639, 359); /* the cursor far from every sample point */
	assert_int_equal(fp_capture_open(&f->cap, &o, NULL, 0), 0);
	for (int q = 0; q < 4; q++)
		fill(f, quad[q], (q & 1) * 320, (q >> 1) * 180, 320, 180);
	x_sync(f);
	deadline = fp_now_ns() + 5 * FP_NSEC_PER_SEC;
	while (fp_now_ns() < deadline) {
		int ok = 1;

		assert_int_equal(fp_capture_next_frame(f->cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC, &fr), 0);
		assert_int_equal(fr->format, FP_YUV_NV12);
		assert_int_equal(fr->width, 640);
		assert_int_equal(fr->height, 360);
		for (int q = 0; q < 4 && ok; q++) {
			int x = (q & 1) * 320 + 160, y = (q >> 1) * 180 + 90, wy, wcb, wcr;
			int gy = fr->data[0][(size_t)y * fr->stride[0] + x];
			int gcb = fr->data[1][(size_t)(y / 2) * fr->stride[1] + (size_t)(x / 2) * 2];
			int gcr = fr->data[1][(size_t)(y / 2) * fr->stride[1] + (size_t)(x / 2) * 2 + 1];

			bt709(quad[q], &wy, &wcb, &wcr);
			if (abs(gy - wy) > 1 || abs(gcb - wcb) > 1 || abs(gcr - wcr) > 1) {
				snprintf(why, sizeof(why), "colour %06x: got Y/Cb/Cr %d/%d/%d, want %d/%d/%d",
					 quad[q], gy, gcb, gcr, wy, wcb, wcr);
				ok = 0;
			}
		}
		if (ok)
			return;
	}
	fail_msg("NV12 never matched BT.709 within 5 s: %s", why);
}

/* Codes more than 1 away from the reference in one plane (Y: w x h, CbCr: interleaved);
 * the first one's byte index in *at. */
static size_t plane_off(const uint8_t *got, size_t gstride, const uint8_t *ref, size_t rstride,
			uint32_t row_bytes, uint32_t rows, size_t *at, int *g, int *r)
{
	size_t n = 0;

	for (uint32_t y = 0; y < rows; y++)
		for (uint32_t i = 0; i < row_bytes; i++) {
			int a = got[(size_t)y * gstride + i], b = ref[(size_t)y * rstride + i];

			if (abs(a - b) > 1) {
				if (!n) {
					*at = (size_t)y * row_bytes + i;
					*g = a;
					*r = b;
				}
				n++;
			}
		}
	return n;
}

/* The known 1080p content through the real capturer: every Y and CbCr code of the NV12
 * frame is within 1 of the float64 reference converter run on the expected pixels (drawing
 * plus cursor), i.e. the whole path X server -> slot -> converter, not just a few samples. */
static void capturer_nv12_ref_1080p(void **state)
{
	struct fx *f = *state;
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "x11", .width = 1920, .height = 1080, .fps = 60,
		.convert_threads = 1, .verify_signatures = 0,
	};
	struct fp_yuv_frame ref = { 0 };
	const struct fp_yuv_frame *fr;
	char why[256] = "no frame";
	int64_t deadline;
	int frames = 0;

	start_display(f, 1920, 1080);
	o.display = fp_display_name(f->d);
	assert_int_equal(fp_capture_open(&f->cap, &o, NULL, 0), 0);
	draw_known(f);
	expect_cursor(f);
	assert_int_equal(fp_yuv_frame_alloc(&ref, FP_YUV_NV12, f->w, f->h), 0);
	fp_convert_ref_xrgb_to_nv12((const uint8_t *)f->want, (size_t)f->w * 4, f->w, f->h, &ref);
	deadline = fp_now_ns() + 5 * FP_NSEC_PER_SEC;
	while (fp_now_ns() < deadline) {
		size_t ny, nc, at = 0, cat = 0;
		int gy = 0, ry = 0, gc = 0, rc = 0;
		int r = fp_capture_next_frame(f->cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC, &fr);

		if (r < 0) {
			fp_yuv_frame_free(&ref);
			fail_msg("next_frame failed: %s", fp_capture_error(f->cap));
		}
		if (fr->repeated)
			continue;
		frames++;
		assert_int_equal(fr->format, FP_YUV_NV12);
		assert_int_equal(fr->width, 1920);
		assert_int_equal(fr->height, 1080);
		ny = plane_off(fr->data[0], fr->stride[0], ref.data[0], ref.stride[0], 1920, 1080,
			       &at, &gy, &ry);
		nc = plane_off(fr->data[1], fr->stride[1], ref.data[1], ref.stride[1], 1920, 540,
			       &cat, &gc, &rc);
		if (!ny && !nc) {
			fp_info("test: 1080p NV12 within 1 of the reference at every code (fresh frame %d)",
				frames);
			fp_yuv_frame_free(&ref);
			return;
		}
		snprintf(why, sizeof(why),
			 "%zu Y codes off by > 1 (first at (%zu,%zu): %d, reference %d), %zu CbCr codes "
			 "(first at byte (%zu,%zu): %d, reference %d)", ny, at % 1920, at / 1920, gy, ry,
			 nc, cat % 1920, cat / 1920, gc, rc);
	}
	fp_yuv_frame_free(&ref);
	fail_msg("no frame within 1 of the reference in 5 s (%d fresh frames): %s", frames, why);
}

/* Pointer motion alone (XTEST, no kick, no damage) publishes, and the cursor is where the
 * pointer is. */
static void cursor_follows_pointer(void **state)
{
	struct fx *f = *state;
	uint32_t grey = 0x808080;
	size_t at;

	start_display(f, 640, 480);
	fill(f, grey, 0, 0, 640, 480);
	warp(f, 100, 100);
	host_open(f);
	kick(f);
	assert_int_equal(wait_publish(f, 2000), 1);
	read_latest(f);
	memcpy(f->want, f->frame, (size_t)f->w * f->h * 4);

	warp(f, 400, 300);
	if (!wait_publish(f, 2000))
		fail_msg("moving the pointer published nothing within 2 s");
	read_latest(f);
	/* Around the old position the cursor is gone, around the new one it appeared. */
	{
		int old_changed = 0, new_changed = 0, old_had = 0, new_has = 0;

		for (int j = -16; j < 16; j++)
			for (int i = -16; i < 16; i++) {
				size_t o = (size_t)(100 + j) * f->w + (size_t)(100 + i);
				size_t n = (size_t)(300 + j) * f->w + (size_t)(400 + i);

				old_had += (f->want[o] & 0xffffffu) != grey;
				old_changed += ((f->want[o] ^ f->frame[o]) & 0xffffffu) != 0;
				new_has += (f->frame[n] & 0xffffffu) != grey;
				new_changed += ((f->want[n] ^ f->frame[n]) & 0xffffffu) != 0;
				assert_int_equal(f->frame[o] & 0xffffffu, grey);
			}
		fp_info("test: cursor pixels: %d at the old position before, %d at the new after",
			old_had, new_has);
		assert_true(old_had > 0 && old_changed > 0);
		assert_true(new_has > 0 && new_changed > 0);
	}
	/* Everything away from the two positions is untouched. */
	for (size_t i = 0; i < (size_t)f->w * f->h; i++)
		f->want[i] = grey;
	f->last_token = 0; /* not a publish wait: compare the frame we have */
	expect_cursor(f);
	assert_int_equal(mismatches(f, &at), 0);
}

/* Xvfb's mode is fixed: set_mode says so; spawn runs a client inside the display. */
static void xvfb_mode_fixed_and_spawn(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "xdpyinfo", NULL };
	char *missing[] = { "fpt-no-such-program", NULL };
	pid_t pid;

	start_display(f, 320, 240);
	assert_int_equal(fp_display_set_mode(f->d, 640, 480, 60), -ENOTSUP);
	/* A name found nowhere fails at once, with no child left behind. */
	assert_int_equal(fp_display_spawn(f->d, missing, &pid), -ENOENT);
	if (access("/usr/bin/xdpyinfo", X_OK) != 0)
		return;
	/* xdpyinfo exits 0 only if DISPLAY named a server it could open. */
	assert_int_equal(fp_display_spawn(f->d, argv, &pid), 0);
	assert_int_equal(fpt_exit_code(fpt_wait(pid, 10000)), 0);
}

/* The pid of the Xvfb our display started: our only Xvfb child. */
static pid_t find_xvfb_child(void)
{
	char cmd[128], line[64];
	pid_t found = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ps -o pid= -o comm= --ppid %d", (int)getpid());
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		int pid;
		char comm[32];

		if (sscanf(line, "%d %31s", &pid, comm) == 2 && !strcmp(comm, "Xvfb"))
			found = pid;
	}
	pclose(p);
	return found;
}

/* Destroy stops spawned applications and the server, and reaps them. */
static void xvfb_destroy_stops_everything(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "sleep", "60", NULL };
	char sock[64];
	pid_t app, server;
	int64_t t0;

	start_display(f, 320, 240);
	assert_int_equal(fp_display_spawn(f->d, argv, &app), 0);
	server = find_xvfb_child();
	assert_true(server > 0);
	snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%s", fp_display_name(f->d) + 1);
	assert_int_equal(access(sock, F_OK), 0);
	xcb_disconnect(f->c);
	f->c = NULL;
	t0 = fp_now_ns();
	fp_display_destroy(f->d);
	f->d = NULL;
	fp_info("test: display destroyed in %.1f ms", ms_since(t0));
	assert_true(ms_since(t0) < 7000.0);
	/* Reaped: neither pid exists any more (a zombie would still answer kill 0). */
	assert_int_equal(kill(app, 0), -1);
	assert_int_equal(kill(server, 0), -1);
	/* SIGTERM let Xvfb remove its socket. */
	assert_int_not_equal(access(sock, F_OK), 0);
}

/* The X server going away ends the source with an error, promptly: it is its only display. */
static void source_exits_when_server_dies(void **state)
{
	struct fx *f = *state;
	struct pollfd p;
	char why[96] = "";
	siginfo_t si;
	pid_t server;
	int64_t t0;

	start_display(f, 320, 240);
	host_open(f);
	server = find_xvfb_child();
	assert_true(server > 0);
	t0 = fp_now_ns();
	assert_int_equal(kill(server, SIGKILL), 0);
	p.fd = fp_broker_pidfd(f->b);
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 3000), 1);
	fp_info("test: source gone %.1f ms after the X server died", ms_since(t0));
	/* Readable pidfd: the exit is (about to be) reapable. waitid on it waits for exactly
	 * that event, leaving the child for the broker to reap (WNOWAIT). */
	assert_int_equal(waitid(P_PIDFD, (id_t)fp_broker_pidfd(f->b), &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(fp_broker_source_exit(f->b, why, sizeof(why)), 1);
	assert_string_equal(why, "exited with status 1");
}

/* RandR on Xvfb: it keeps its framebuffer but lets the screen shrink inside it once its
 * only CRTC (which covers the whole framebuffer) is switched off. Skips where it cannot. */
static void shrink_screen(struct fx *f, uint16_t w, uint16_t h)
{
	xcb_randr_get_screen_resources_reply_t *res;
	xcb_randr_set_crtc_config_reply_t *cc;
	xcb_generic_error_t *e = NULL;

	free(xcb_randr_query_version_reply(f->c, xcb_randr_query_version(f->c, 1, 2), NULL));
	res = xcb_randr_get_screen_resources_reply(f->c, xcb_randr_get_screen_resources(f->c, f->root),
						   NULL);
	assert_non_null(res);
	assert_true(res->num_crtcs >= 1);
	cc = xcb_randr_set_crtc_config_reply(f->c, xcb_randr_set_crtc_config(
		f->c, xcb_randr_get_screen_resources_crtcs(res)[0], XCB_CURRENT_TIME,
		res->config_timestamp, 0, 0, XCB_NONE, XCB_RANDR_ROTATION_ROTATE_0, 0, NULL), &e);
	free(res);
	if (!cc || cc->status != XCB_RANDR_SET_CONFIG_SUCCESS) {
		free(cc);
		free(e);
		fpt_skip("Xvfb would not switch its CRTC off");
	}
	free(cc);
	e = xcb_request_check(f->c, xcb_randr_set_screen_size_checked(f->c, f->root, w, h,
								      (uint32_t)w * 254 / 960,
								      (uint32_t)h * 254 / 960));
	if (e) {
		unsigned code = e->error_code;

		free(e);
		fpt_skip("Xvfb refused RRSetScreenSize (X error %u)", code);
	}
}

/* RandR: a root size change becomes a new descriptor; the old ring only sees a dropped
 * frame; the new ring gets frames of the new size. */
static void randr_resize(void **state)
{
	struct fx *f = *state;
	uint32_t serial;
	int64_t deadline;

	start_display(f, 640, 480);
	fill(f, 0x336699, 0, 0, 640, 480);
	x_sync(f);
	host_open(f);
	serial = f->ring->status->desc_serial;
	shrink_screen(f, 480, 320);
	deadline = fp_now_ns() + 3 * FP_NSEC_PER_SEC;
	while (__atomic_load_n(&f->ring->status->desc_serial, __ATOMIC_ACQUIRE) == serial &&
	       fp_now_ns() < deadline) {
		struct pollfd p = { .fd = f->ring->event_fd, .events = POLLIN };
		poll(&p, 1, 20); /* the descriptor has no event of its own: a bounded re-check */
	}
	assert_int_not_equal(f->ring->status->desc_serial, serial);
	assert_int_equal(f->ring->status->desc_width, 480);
	assert_int_equal(f->ring->status->desc_height, 320);
	/* Nothing of the wrong size reached the old ring: the one frame the source tried went
	 * through the format guard. */
	assert_int_equal(fp_token_unpack(fp_ring_latest(f->ring)).seq, 0);
	assert_int_equal(f->ring->status->frames_dropped, 1);
	f->w = 480;
	f->h = 320;
	deliver_ring(f, 480, 320);
	/* The pending change is captured into the new ring without a kick... */
	assert_int_equal(wait_publish(f, 2000), 1);
	read_latest(f);
	assert_int_equal(f->ring->status->frames_dropped, 0);
	/* ...and the new size is captured pixel for pixel (the resize repainted the root). */
	fill(f, 0x336699, 0, 0, 480, 320);
	fill(f, 0xff8000, 479, 0, 1, 320);
	fill(f, 0x00ff80, 0, 319, 480, 1);
	x_sync(f);
	expect_cursor(f);
	expect_frame(f, 3000);
}

/* The same resize through the real capturer: it recreates the ring from the source's new
 * descriptor and no frame of a size other than the current one is ever handed out. */
static void capturer_follows_resize(void **state)
{
	struct fx *f = *state;
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "x11", .width = 640, .height = 480, .fps = 60,
		.convert_threads = 1, .verify_signatures = 0,
	};
	const struct fp_yuv_frame *fr;
	struct fp_capture_stats st;
	int64_t deadline;
	int small = 0, big_after_small = 0, big = 0;

	start_display(f, 640, 480);
	o.display = fp_display_name(f->d);
	assert_int_equal(fp_capture_open(&f->cap, &o, NULL, 0), 0);
	assert_int_equal(fp_capture_next_frame(f->cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC, &fr), 0);
	assert_int_equal(fr->width, 640);
	shrink_screen(f, 480, 320);
	deadline = fp_now_ns() + 5 * FP_NSEC_PER_SEC;
	while (small < 10 && fp_now_ns() < deadline) {
		int r = fp_capture_next_frame(f->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &fr);

		if (r < 0)
			fail_msg("next_frame failed: %s", fp_capture_error(f->cap));
		if (fr->width == 480 && fr->height == 320)
			small++;
		else if (fr->width == 640 && fr->height == 480) {
			big++;
			big_after_small += small > 0;
		} else
			fail_msg("a %ux%u frame", fr->width, fr->height);
	}
	fp_capture_get_stats(f->cap, &st);
	fp_info("test: %d old-size frames, then %d new-size; %llu recreate(s), %llu kicks", big,
		small, (unsigned long long)st.recreates, (unsigned long long)st.kicks);
	assert_int_equal(small, 10);
	assert_int_equal(big_after_small, 0);
	assert_int_equal(st.recreates, 1);
	assert_int_equal(st.stale_rejected, 0);
}

/* DAMAGE-driven capture at 1080p: how long from a drawing to its publish, 60 times, with
 * the source's rate limit out of the way (--fps 1000). */
static void damage_latency_1080p(void **state)
{
	struct fx *f = *state;
	double total = 0, worst = 0;
	int n = 60;

	start_display(f, 1920, 1080);
	host_open_fps(f, "1000");
	for (int i = 0; i < n; i++) {
		int64_t t0;
		double ms;

		fill(f, 0x010101u * (uint32_t)(i * 4), (i * 37) % 1800, (i * 23) % 1000, 120, 80);
		x_sync(f);
		t0 = fp_now_ns();
		assert_int_equal(wait_publish(f, 2000), 1);
		ms = ms_since(t0);
		read_latest(f);
		total += ms;
		worst = ms > worst ? ms : worst;
	}
	fp_info("test: 1080p drawing to publish: %.2f ms average, %.2f ms worst over %d frames",
		total / n, worst, n);
	assert_true(total / n < 100.0);
}

/* Each test gets its own fixture, torn down even when it fails: no display or source outlives it. */
#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(pixels_exact_1080p),
		FX_TEST(pixels_exact_odd_stride),
		FX_TEST(idle_then_kick),
		FX_TEST(capturer_attach_gate_idle),
		FX_TEST(capturer_nv12_bt709),
		FX_TEST(capturer_nv12_ref_1080p),
		FX_TEST(cursor_follows_pointer),
		FX_TEST(xvfb_mode_fixed_and_spawn),
		FX_TEST(xvfb_destroy_stops_everything),
		FX_TEST(source_exits_when_server_dies),
		FX_TEST(randr_resize),
		FX_TEST(capturer_follows_resize),
		FX_TEST(damage_latency_1080p),
	};

	fp_log_init("test-x11");
	/* FPT_FILTER=name runs one test (cmocka's own filter), for debugging. */
	if (getenv("FPT_FILTER"))
		cmocka_set_test_filter(getenv("FPT_FILTER"));
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	return fpt_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
