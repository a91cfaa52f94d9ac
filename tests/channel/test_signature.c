/* The test source's frame signature (channel/signature.h) over the real moving pattern
 * (fp_test_pattern_render, the code that fills the source's slots): intact frames pass; a
 * frame torn at any row or half row, one stale row, a stale block K rows tall, a forged or
 * old header, another generation or geometry all fail; a frame within FP_SIG_ROWS_BYTES is
 * covered byte for byte, and every row of a larger one within K frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"
#include "channel/signature.h"
#include "test.h"

#define GEN 7u /* the ring generation every frame here is signed with */

/* Two signed frames of the pattern, `cur` and `old` (an earlier frame the slot may still
 * hold), and a scratch frame to tear. */
struct frames {
	struct fp_backend *b;
	uint32_t w, h, fmt, n;
	size_t row, stride, size;
	uint8_t *cur, *old, *t;
};

static void draw(struct frames *f, uint8_t *px, uint32_t n)
{
	fp_test_pattern_render(f->b, px, f->stride, n);
	fp_signature_write(px, f->stride, f->w, f->h, f->fmt, n, GEN);
}

/* Frame n as cur and frame n - back as old, w x h, HDR or SDR. */
static void frames_init(struct frames *f, uint32_t w, uint32_t h, int hdr, uint32_t n,
			uint32_t back)
{
	struct fp_backend_args a = { .spec = hdr ? "hdr=1" : "hdr=0", .width = w, .height = h,
				     .fps = 60 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(fp_backend_test.create(&f->b, &a), 0);
	f->w = w, f->h = h, f->n = n;
	f->fmt = hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888;
	f->row = (size_t)w * fp_pixfmt_bpp(f->fmt);
	/* Padding past the row, as a ring's stride has: the signature must not read it. */
	f->stride = (f->row + 63) & ~(size_t)63;
	/* The last row ends the allocation: under ASan, a read past a row is an error. */
	f->size = f->stride * (h - 1) + f->row;
	f->cur = malloc(f->size);
	f->old = malloc(f->size);
	f->t = malloc(f->size);
	assert_non_null(f->cur);
	assert_non_null(f->old);
	assert_non_null(f->t);
	memset(f->cur, 0x5a, f->size);
	memset(f->old, 0xa5, f->size);
	draw(f, f->cur, n);
	draw(f, f->old, n - back);
}

static void frames_fini(struct frames *f)
{
	fp_backend_test.destroy(f->b);
	free(f->cur);
	free(f->old);
	free(f->t);
}

static enum fp_sig_result check(const struct frames *f, const uint8_t *px, struct fp_signature *sig)
{
	return fp_signature_check(px, f->stride, f->w, f->h, f->fmt, sig);
}

static void expect(const struct frames *f, const uint8_t *px, enum fp_sig_result want,
		   const char *what, uint32_t at)
{
	struct fp_signature sig;
	enum fp_sig_result r = check(f, px, &sig);

	if (r != want)
		fail_msg("%ux%u %s, frame %u, %s at %u: %s, want %s", f->w, f->h,
			 f->fmt == FP_PIXFMT_RGBA16F ? "HDR" : "SDR", f->n, what, at,
			 fp_sig_result_name(r), fp_sig_result_name(want));
}

static uint8_t *row_of(const struct frames *f, uint8_t *px, uint32_t y)
{
	return px + (size_t)y * f->stride;
}

static void intact_frames_pass(void **state)
{
	static const uint32_t sizes[][2] = { { 1920, 1080 }, { 320, 180 }, { 642, 37 }, { 8, 2 } };
	static const uint32_t numbers[] = { 1, 2, 1000, UINT32_MAX };

	(void)state;
	for (int hdr = 0; hdr <= 1; hdr++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (size_t k = 0; k < sizeof(numbers) / sizeof(numbers[0]); k++) {
				struct frames f;
				struct fp_signature sig;

				frames_init(&f, sizes[s][0], sizes[s][1], hdr, numbers[k], 1);
				assert_int_equal(check(&f, f.cur, &sig), FP_SIG_OK);
				assert_int_equal(sig.frame, numbers[k]);
				assert_int_equal(sig.generation, GEN);
				assert_int_equal(sig.width, f.w);
				assert_int_equal(sig.height, f.h);
				assert_int_equal(sig.format, f.fmt);
				frames_fini(&f);
			}
}

/* What the tear tests rely on: the pattern changes every pixel from one frame to the next
 * and to the frame a 4-slot ring held before, so no stale part can match the new frame. */
static void pattern_changes_every_pixel(void **state)
{
	(void)state;
	for (int hdr = 0; hdr <= 1; hdr++)
		for (uint32_t back = 1; back <= 4; back += 3) {
			struct frames f;
			uint32_t bpp;

			frames_init(&f, 1920, 1080, hdr, 500, back);
			bpp = fp_pixfmt_bpp(f.fmt);
			for (uint32_t y = 0; y < f.h; y++)
				for (size_t x = y ? 0 : FP_SIG_BYTES; x < f.row; x += bpp)
					if (!memcmp(row_of(&f, f.cur, y) + x, row_of(&f, f.old, y) + x, bpp))
						fail_msg("%s: pixel %zu,%u equals %u frames back",
							 hdr ? "HDR" : "SDR", x / bpp, y, back);
			frames_fini(&f);
		}
}

/* a's rows above the tear, b's from it down, the tear row itself half a, half b: every row
 * and both halves, walking the tear from the top to the bottom. Only all of a passes. */
static void tear_every_row(struct frames *f, const uint8_t *a, const uint8_t *b, const char *what)
{
	size_t half = (f->row / 2) & ~(size_t)3;

	memcpy(f->t, b, f->size);
	for (uint32_t y = 0; y < f->h; y++) {
		memcpy(row_of(f, f->t, y), a + (size_t)y * f->stride, half);
		expect(f, f->t, FP_SIG_BAD_SUM, what, y);
		memcpy(row_of(f, f->t, y) + half, a + (size_t)y * f->stride + half, f->row - half);
		expect(f, f->t, y + 1 == f->h ? FP_SIG_OK : FP_SIG_BAD_SUM, what, y);
	}
}

static void torn_at_every_row_fails(void **state)
{
	(void)state;
	for (int hdr = 0; hdr <= 1; hdr++)
		for (uint32_t back = 1; back <= 4; back += 3) {
			struct frames f;

			frames_init(&f, 1920, 1080, hdr, 77, back);
			/* The new frame's header over an old bottom (a stopped writer), and the old
			 * header over a new bottom (a reader that overtook the writer). */
			tear_every_row(&f, f.cur, f.old, "new top, old bottom, torn at row");
			tear_every_row(&f, f.old, f.cur, "old top, new bottom, torn at row");
			frames_fini(&f);
		}
}

/* One row left from the old frame (row 0: all but the header), each row in turn. */
static void stale_row_fails(void **state)
{
	(void)state;
	for (int hdr = 0; hdr <= 1; hdr++) {
		struct frames f;

		frames_init(&f, 1920, 1080, hdr, 123456, 1);
		memcpy(f.t, f.cur, f.size);
		for (uint32_t y = 0; y < f.h; y++) {
			size_t from = y ? 0 : FP_SIG_BYTES;

			memcpy(row_of(&f, f.t, y) + from, row_of(&f, f.old, y) + from, f.row - from);
			expect(&f, f.t, FP_SIG_BAD_SUM, "stale row", y);
			memcpy(row_of(&f, f.t, y), row_of(&f, f.cur, y), f.row);
		}
		expect(&f, f.t, FP_SIG_OK, "restored", 0);
		frames_fini(&f);
	}
}

/* A stale block inside the rows (clear of their sampled ends), K rows tall and 16 pixels
 * wide, wherever it starts: the whole rows the checksum takes meet it. */
static void stale_block_k_rows_tall_fails(void **state)
{
	(void)state;
	for (int hdr = 0; hdr <= 1; hdr++) {
		struct frames f;
		uint32_t bpp, k;

		frames_init(&f, 1920, 1080, hdr, 9, 1);
		bpp = fp_pixfmt_bpp(f.fmt);
		k = (uint32_t)(((uint64_t)f.row * f.h + FP_SIG_ROWS_BYTES - 1) / FP_SIG_ROWS_BYTES);
		assert_true(k > 1 && k < f.h); /* 1080p is sampled, not covered byte for byte */
		memcpy(f.t, f.cur, f.size);
		for (uint32_t y0 = 0; y0 + k <= f.h; y0 += 13)
			for (size_t x = 64; x + 16 * bpp <= f.row - 64; x += 517 * bpp) {
				for (uint32_t y = y0; y < y0 + k; y++)
					memcpy(row_of(&f, f.t, y) + x, row_of(&f, f.old, y) + x, 16 * bpp);
				expect(&f, f.t, FP_SIG_BAD_SUM, "stale block from row", y0);
				for (uint32_t y = y0; y < y0 + k; y++)
					memcpy(row_of(&f, f.t, y) + x, row_of(&f, f.cur, y) + x, 16 * bpp);
			}
		expect(&f, f.t, FP_SIG_OK, "restored", 0);
		frames_fini(&f);
	}
}

/* Header word i of px set to v. */
static void set_word(uint8_t *px, int i, uint32_t v)
{
	memcpy(px + 4 * i, &v, sizeof(v));
}

static void stale_or_forged_header_fails(void **state)
{
	struct fp_signature sig;
	struct frames f;

	(void)state;
	frames_init(&f, 1920, 1080, 0, 50, 1);
	/* A whole old frame is intact: its number tells the caller it is stale. */
	assert_int_equal(check(&f, f.old, &sig), FP_SIG_OK);
	assert_int_equal(sig.frame, 49);
	/* Old pixels presented under the new number, or under another generation. */
	memcpy(f.t, f.old, f.size);
	set_word(f.t, 1, 50);
	expect(&f, f.t, FP_SIG_BAD_SUM, "old frame renumbered", 0);
	memcpy(f.t, f.cur, f.size);
	set_word(f.t, 2, GEN + 1);
	expect(&f, f.t, FP_SIG_BAD_SUM, "generation rewritten", 0);
	/* Signed for another ring: intact, and its generation tells the caller. */
	fp_signature_write(f.t, f.stride, f.w, f.h, f.fmt, 50, GEN + 1);
	assert_int_equal(check(&f, f.t, &sig), FP_SIG_OK);
	assert_int_equal(sig.generation, GEN + 1);
	memcpy(f.t, f.cur, f.size);
	set_word(f.t, 6, 0);
	expect(&f, f.t, FP_SIG_BAD_SUM, "checksum zeroed", 0);
	memcpy(f.t, f.cur, f.size);
	set_word(f.t, 0, 0);
	expect(&f, f.t, FP_SIG_BAD_MAGIC, "magic cleared", 0);
	frames_fini(&f);
}

static void wrong_geometry_fails(void **state)
{
	struct fp_signature sig;
	struct frames f;

	(void)state;
	frames_init(&f, 640, 360, 0, 5, 1);
	assert_int_equal(fp_signature_check(f.cur, f.stride, 639, 360, f.fmt, &sig),
			 FP_SIG_BAD_GEOMETRY);
	assert_int_equal(sig.width, 640);
	assert_int_equal(fp_signature_check(f.cur, f.stride, 640, 359, f.fmt, &sig),
			 FP_SIG_BAD_GEOMETRY);
	assert_int_equal(fp_signature_check(f.cur, f.stride, 320, 360, FP_PIXFMT_RGBA16F, &sig),
			 FP_SIG_BAD_GEOMETRY);
	for (int i = 3; i <= 5; i++) {
		uint32_t v;

		memcpy(f.t, f.cur, f.size);
		memcpy(&v, f.t + 4 * i, sizeof(v));
		set_word(f.t, i, v + 1);
		expect(&f, f.t, FP_SIG_BAD_GEOMETRY, "geometry word", (uint32_t)i);
	}
	/* No rows but the header's: nothing to divide by zero. */
	fp_signature_write(f.t, f.stride, 640, 0, f.fmt, 5, GEN);
	assert_int_equal(fp_signature_check(f.t, f.stride, 640, 0, f.fmt, &sig), FP_SIG_OK);
	/* Too narrow to carry the 32-byte header: nothing to check. */
	assert_int_equal(fp_signature_check(f.cur, f.stride, 7, 2, f.fmt, &sig), FP_SIG_NONE);
	frames_fini(&f);
}

/* Any byte of frame a changed, one at a time (every `step`-th byte), fails. */
static void every_byte_counts(uint32_t w, uint32_t h, int hdr, size_t step)
{
	struct frames f;

	frames_init(&f, w, h, hdr, 3, 1);
	assert_true(f.row * f.h <= FP_SIG_ROWS_BYTES);
	memcpy(f.t, f.cur, f.size);
	for (uint32_t y = 0; y < f.h; y++)
		for (size_t x = y ? 0 : FP_SIG_BYTES; x < f.row; x += step) {
			row_of(&f, f.t, y)[x] ^= 0x10;
			expect(&f, f.t, FP_SIG_BAD_SUM, "one byte changed in row", y);
			row_of(&f, f.t, y)[x] ^= 0x10;
		}
	expect(&f, f.t, FP_SIG_OK, "restored", 0);
	frames_fini(&f);
}

/* The host's scribble test (a random word written into a published 320x180 slot) relies
 * on this: a frame that small is checksummed byte for byte. */
static void small_frame_covered_byte_for_byte(void **state)
{
	(void)state;
	every_byte_counts(64, 32, 0, 1);
	every_byte_counts(40, 20, 1, 1);
	every_byte_counts(320, 180, 0, 97);
	every_byte_counts(160, 100, 1, 89);
}

/* A byte in the middle of a 1080p row, far from its sampled ends, is checksummed in at least
 * one of K consecutive frames, for every row. */
static void every_row_covered_within_k_frames(void **state)
{
	struct frames f;
	uint32_t k, missed_in_one = 0;
	uint8_t *seen;

	(void)state;
	frames_init(&f, 1920, 1080, 0, 1000, 1);
	k = (uint32_t)((f.row * f.h + FP_SIG_ROWS_BYTES - 1) / FP_SIG_ROWS_BYTES);
	seen = calloc(f.h, 1);
	assert_non_null(seen);
	for (uint32_t n = 1000; n < 1000 + k; n++) {
		draw(&f, f.t, n);
		for (uint32_t y = 0; y < f.h; y++) {
			struct fp_signature sig;
			uint8_t *p = row_of(&f, f.t, y) + f.row / 2;

			*p ^= 1;
			if (check(&f, f.t, &sig) == FP_SIG_BAD_SUM)
				seen[y] = 1;
			else if (n == 1000)
				missed_in_one++;
			*p ^= 1;
		}
	}
	for (uint32_t y = 0; y < f.h; y++)
		if (!seen[y])
			fail_msg("row %u: a changed middle byte passed %u frames in a row", y, k);
	/* The sample is a sample: one frame alone does not see every row's middle. */
	assert_true(missed_in_one > 0);
	free(seen);
	frames_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(intact_frames_pass),
		cmocka_unit_test(pattern_changes_every_pixel),
		cmocka_unit_test(torn_at_every_row_fails),
		cmocka_unit_test(stale_row_fails),
		cmocka_unit_test(stale_block_k_rows_tall_fails),
		cmocka_unit_test(stale_or_forged_header_fails),
		cmocka_unit_test(wrong_geometry_fails),
		cmocka_unit_test(small_frame_covered_byte_for_byte),
		cmocka_unit_test(every_row_covered_within_k_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
