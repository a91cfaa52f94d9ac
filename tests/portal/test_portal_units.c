/* The portal backend's pure parts against references: every layout's copy into the ring
 * format, the pointer's blend and clipping, the restore-token file (atomic, 0600, refusals),
 * and the Wayland relay's one rewrite. Suite portal. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/display/wl_relay.h"
#include "framepush/pixel.h"
#include "portal_copy.h"
#include "portal_dbus.h"
#include "portal_token.h"

#define W 37 /* odd on purpose: no layout may assume even widths */
#define H 5

/* BGRx and RGBx are copied byte for byte with R and B in the ring's order. */
static void copy_8bit(void **state)
{
	uint8_t src[H][W * 4 + 12], dst[H][W * 4 + 4];

	(void)state;
	for (size_t y = 0; y < H; y++)
		for (size_t i = 0; i < sizeof(src[0]); i++)
			src[y][i] = (uint8_t)(y * 31 + i * 7);
	fp_portal_copy(&dst[0][0], sizeof(dst[0]), &src[0][0], sizeof(src[0]), W, H,
		       FP_PORTAL_PIX_BGRX);
	for (size_t y = 0; y < H; y++)
		assert_memory_equal(dst[y], src[y], W * 4);
	fp_portal_copy(&dst[0][0], sizeof(dst[0]), &src[0][0], sizeof(src[0]), W, H,
		       FP_PORTAL_PIX_RGBX);
	for (size_t y = 0; y < H; y++)
		for (size_t x = 0; x < W; x++) {
			assert_int_equal(dst[y][x * 4 + 0], src[y][x * 4 + 2]);
			assert_int_equal(dst[y][x * 4 + 1], src[y][x * 4 + 1]);
			assert_int_equal(dst[y][x * 4 + 2], src[y][x * 4 + 0]);
			assert_int_equal(dst[y][x * 4 + 3], 0xff);
		}
	/* RGBA_F16 is the ring's RGBA16F: 8 bytes a pixel, as they are, row by row. */
	{
		uint8_t hsrc[2][W * 8 + 16], hdst[2][W * 8];

		for (size_t i = 0; i < sizeof(hsrc); i++)
			(&hsrc[0][0])[i] = (uint8_t)(i * 13 + 5);
		fp_portal_copy(&hdst[0][0], sizeof(hdst[0]), &hsrc[0][0], sizeof(hsrc[0]), W, 2,
			       FP_PORTAL_PIX_RGBA16F);
		assert_memory_equal(hdst[0], hsrc[0], W * 8);
		assert_memory_equal(hdst[1], hsrc[1], W * 8);
	}
	assert_int_equal(fp_portal_pix_ring_format(FP_PORTAL_PIX_RGBX), FP_PIXFMT_XRGB8888);
	assert_int_equal(fp_portal_pix_ring_format(FP_PORTAL_PIX_RGBA16F), FP_PIXFMT_RGBA16F);
}

/* 10-bit words: each channel keeps its top 8 bits, in the ring's B,G,R order. */
static void copy_10bit(void **state)
{
	uint32_t src[W];
	uint8_t dst[W * 4];

	(void)state;
	for (uint32_t x = 0; x < W; x++) {
		uint32_t r = (x * 27u) & 1023u, g = (x * 13u + 500u) & 1023u, b = (1023u - x * 9u);

		src[x] = 3u << 30 | r << 20 | g << 10 | b; /* x:R:G:B */
	}
	fp_portal_copy(dst, sizeof(dst), (const uint8_t *)src, sizeof(src), W, 1,
		       FP_PORTAL_PIX_XRGB210);
	for (uint32_t x = 0; x < W; x++) {
		assert_int_equal(dst[x * 4 + 2], (src[x] >> 22) & 0xff);
		assert_int_equal(dst[x * 4 + 1], (src[x] >> 12) & 0xff);
		assert_int_equal(dst[x * 4 + 0], (src[x] >> 2) & 0xff);
	}
	fp_portal_copy(dst, sizeof(dst), (const uint8_t *)src, sizeof(src), W, 1,
		       FP_PORTAL_PIX_XBGR210);
	for (uint32_t x = 0; x < W; x++) {
		assert_int_equal(dst[x * 4 + 0], (src[x] >> 22) & 0xff); /* B is on top here */
		assert_int_equal(dst[x * 4 + 2], (src[x] >> 2) & 0xff);
	}
}

/* Straight alpha over the frame, rounded; clipped at every edge, a far-away or huge
 * position touches nothing. */
static void cursor_blend(void **state)
{
	uint8_t frame[8][8 * 4], px[4 * 4 * 4];
	struct fp_portal_cursor c = { .px = px, .width = 4, .height = 4, .stride = 16 };

	(void)state;
	memset(frame, 100, sizeof(frame));
	for (int i = 0; i < 16; i++) {
		px[i * 4 + 0] = 200; px[i * 4 + 1] = 0; px[i * 4 + 2] = 50;
		px[i * 4 + 3] = (uint8_t)(i == 0 ? 0 : i == 1 ? 255 : 128);
	}
	c.x = -1, c.y = -1; /* pixel (1,1) of the image lands on (0,0) */
	fp_portal_blend_cursor(&frame[0][0], sizeof(frame[0]), 8, 8, &c);
	/* image pixel 5 (x 1, y 1), alpha 128: 200*128+100*127 = 38100 -> (38100+127)/255 */
	assert_int_equal(frame[0][0], (200 * 128 + 100 * 127 + 127) / 255);
	assert_int_equal(frame[0][2], (50 * 128 + 100 * 127 + 127) / 255);
	assert_int_equal(frame[0][3 * 4], 100); /* outside the image */
	c.rgba = 1, c.x = 6, c.y = 6; /* R and B swapped, clipped to 2x2 */
	fp_portal_blend_cursor(&frame[0][0], sizeof(frame[0]), 8, 8, &c);
	assert_int_equal(frame[6][6 * 4 + 0], 100); /* alpha 0 */
	assert_int_equal(frame[6][7 * 4 + 0], 50);  /* alpha 255, rgba: B from byte 2 */
	assert_int_equal(frame[6][7 * 4 + 2], 200);
	memset(frame, 7, sizeof(frame));
	c.x = INT32_MAX - 1, c.y = 0;
	fp_portal_blend_cursor(&frame[0][0], sizeof(frame[0]), 8, 8, &c);
	c.x = INT32_MIN, c.y = INT32_MIN;
	fp_portal_blend_cursor(&frame[0][0], sizeof(frame[0]), 8, 8, &c);
	for (size_t i = 0; i < sizeof(frame); i++)
		assert_int_equal((&frame[0][0])[i], 7);
}

static char dir[] = "/tmp/fpt-portal-XXXXXX";

static void token_file(void **state)
{
	char path[256], buf[300];
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/portal.token", dir);
	assert_int_equal(fp_portal_token_read(path, buf, sizeof(buf)), 0); /* none yet */
	assert_int_equal(fp_portal_token_write(path, "7bb0963d-10ea"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fp_portal_token_read(path, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "7bb0963d-10ea");
	assert_int_equal(fp_portal_token_write(path, "second"), 0); /* replaced */
	assert_int_equal(fp_portal_token_read(path, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "second");
	/* Malformed content is not sent to the portal: it asks instead. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "two words\n", 10), 10);
	close(fd);
	assert_int_equal(fp_portal_token_read(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* A symlink planted in its place is refused, not followed. */
	unlink(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_true(fp_portal_token_read(path, buf, sizeof(buf)) < 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	assert_false(fp_portal_token_valid(""));
	assert_false(fp_portal_token_valid("a\tb"));
	assert_true(fp_portal_token_valid("abc-DEF_012"));
}

static size_t msg(uint8_t *p, uint32_t obj, uint32_t op, const uint32_t *args, size_t n)
{
	uint32_t hdr[2] = { obj, (uint32_t)(8 + n * 4) << 16 | op };

	memcpy(p, hdr, 8);
	memcpy(p + 8, args, n * 4);
	return 8 + n * 4;
}

/* The relay learns the registry, the manager and a frame from the client's requests, and
 * adds linux_dmabuf (opcode 5, same size, XR24) after that frame's shm buffer event only. */
static void relay_rewrite(void **state)
{
	struct fp_wl_relay_conn c = { 0 };
	uint8_t req[256], ev[256], out[512];
	size_t n = 0, used, w;
	/* bind(name 7, "zwlr_screencopy_manager_v1" (27 bytes with NUL, padded to 28), v3, id 9) */
	uint32_t bind[11] = { 7, 27 };

	(void)state;
	memcpy(&bind[2], "zwlr_screencopy_manager_v1", 27);
	bind[9] = 3;
	bind[10] = 9;
	n += msg(req + n, 1, 1, (uint32_t[]){ 2 }, 1);       /* get_registry -> 2 */
	n += msg(req + n, 2, 0, bind, 11);                    /* bind the manager as 9 */
	n += msg(req + n, 9, 0, (uint32_t[]){ 12, 0, 5 }, 3); /* capture_output -> frame 12 */
	assert_int_equal(fp_wl_relay_requests(&c, req, n + 3), n); /* a partial tail waits */
	assert_int_equal(c.manager, 9);
	assert_int_equal(c.manager_version, 3);
	n = msg(ev, 12, 0, (uint32_t[]){ 1, 640, 480, 2560 }, 4); /* buffer: XRGB8888 */
	n += msg(ev + n, 13, 0, (uint32_t[]){ 1, 640, 480, 2560 }, 4); /* not a frame */
	w = fp_wl_relay_events(&c, ev, n, out, &used);
	assert_int_equal(used, n);
	assert_int_equal(w, n + 20);
	assert_memory_equal(out, ev, 24);
	assert_int_equal(((uint32_t *)out)[6], 12);
	assert_int_equal(((uint32_t *)out)[7], 20u << 16 | 5u);
	assert_int_equal(((uint32_t *)out)[8], 0x34325258u);
	assert_int_equal(((uint32_t *)out)[9], 640);
	assert_int_equal(((uint32_t *)out)[10], 480);
	assert_memory_equal(out + 44, ev + 24, 24);
	/* After ready the frame is forgotten: a stale id gets nothing added. */
	n = msg(ev, 12, 2, (uint32_t[]){ 0, 0, 0 }, 3);
	n += msg(ev + n, 12, 0, (uint32_t[]){ 1, 640, 480, 2560 }, 4);
	assert_int_equal(fp_wl_relay_events(&c, ev, n, out, &used), n);
	/* A message claiming more than the limit is never taken as complete. */
	((uint32_t *)ev)[1] = 0xffffu << 16;
	assert_int_equal(fp_wl_relay_events(&c, ev, 8, out, &used), 0);
	assert_int_equal(used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy_8bit),     cmocka_unit_test(copy_10bit),
		cmocka_unit_test(cursor_blend),  cmocka_unit_test(token_file),
		cmocka_unit_test(relay_rewrite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
