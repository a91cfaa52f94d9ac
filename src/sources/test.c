/* framepush — the test pattern backend: a synthetic display for tests and demos.
 *
 * Spec keys: pattern=moving|bars|solid|clock, rgb=R/G/B (0..1 SDR, scRGB floats HDR), hdr=0|1,
 * flip-every=N (change the descriptor every N published frames: size and SDR/HDR alternate),
 * idle=1 (publish only when kicked), answer-kick=N (idle: ignore the first N-1 kicks),
 * mute=1 (publish nothing, even when kicked), max-cll=N, max-fall=N (cd/m2, 0..10000),
 * mastering-max=NITS, mastering-min=NITS (decimal, up to 4 places; 1..10000 and 0..10000):
 * any of these makes the source report its own HDR10 record (P3-D65 primaries; unset values
 * 1000 / 0.0001 nits, MaxCLL 1000, MaxFALL 400), hdr-meta=own (that record with the
 * defaults), hdr-meta=bad (an invalid record: MaxFALL above MaxCLL, min luminance above max)
 * or hdr-meta=bad-present (a valid record with presence word 2). Booleans are 0 or 1,
 * numbers plain decimal; anything else is refused. Every frame carries a signature.
 * pattern=clock is the moving pattern with its capture time stamped over the top left, in
 * blocks a browser reads back after encode, transport and decode (see stamp_clock).
 *
 * Attacks on the host and run-time controls are not here: the test peer
 * (tests/peers/framepush-source-test) adds them around these parts (sources/test.h). */
#include "test.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/half.h"
#include "common/log.h"
#include "common/util.h"
#include "channel/signature.h"
#include "spec.h"

#define WHAT "test source" /* names this backend in every spec error */
#define LUT_LEN 1024u

enum pattern { PATTERN_MOVING, PATTERN_BARS, PATTERN_SOLID, PATTERN_CLOCK };
enum hdr_meta_mode { META_NONE, META_OWN, META_BAD, META_BAD_PRESENT };

struct fp_backend {
	enum pattern pattern;
	float rgb[3];
	int hdr, base_hdr;
	uint32_t width, height, base_width, base_height;
	uint32_t flip_every, published_in_ring, flips;
	int idle, kicks, mute;
	uint32_t answer_kick, kicks_seen;
	int64_t period_ns, next_ns;
	uint32_t frame;
	/* One period of the moving pattern in the frame's pixel format, twice over: a run of
	 * up to LUT_LEN pixels from any phase is then one memcpy. */
	uint8_t period[2 * LUT_LEN * 8];
	int lut_hdr;

	/* The HDR10 record reported once, with the first descriptor (hdr-meta and friends). */
	enum hdr_meta_mode meta_mode;
	int meta_values;          /* a value key was given */
	struct fp_hdr_meta meta;
	int meta_reported;
};

static uint32_t fmt_of(const struct fp_backend *b)
{
	return b->hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888;
}

static uint64_t pack_pixel(int hdr, float r, float g, float bl)
{
	if (hdr)
		return (uint64_t)fp_half_from_float(r) | (uint64_t)fp_half_from_float(g) << 16 |
		       (uint64_t)fp_half_from_float(bl) << 32 | (uint64_t)0x3c00u << 48;
	{
		uint32_t R = (uint32_t)(r < 0 ? 0 : r > 1 ? 255 : r * 255.0f + 0.5f);
		uint32_t G = (uint32_t)(g < 0 ? 0 : g > 1 ? 255 : g * 255.0f + 0.5f);
		uint32_t B = (uint32_t)(bl < 0 ? 0 : bl > 1 ? 255 : bl * 255.0f + 0.5f);

		return 0xff000000u | R << 16 | G << 8 | B;
	}
}

static void hue(float t, float *r, float *g, float *b)
{
	float h = t * 6.0f, x = h - (float)(int)h;

	switch ((int)h % 6) {
	case 0: *r = 1; *g = x; *b = 0; break;
	case 1: *r = 1 - x; *g = 1; *b = 0; break;
	case 2: *r = 0; *g = 1; *b = x; break;
	case 3: *r = 0; *g = 1 - x; *b = 1; break;
	case 4: *r = x; *g = 0; *b = 1; break;
	default: *r = 1; *g = 0; *b = 1 - x; break;
	}
}

static void build_lut(struct fp_backend *b)
{
	uint32_t bpp = b->hdr ? 8 : 4;

	for (uint32_t i = 0; i < LUT_LEN; i++) {
		float r, g, bl;
		/* HDR: a brightness ramp up to 4.0 (320 nits) so values above 1.0 occur. */
		float scale = b->hdr ? 0.05f + 3.95f * (float)(i % 256) / 255.0f : 1.0f;
		uint64_t v;

		hue((float)i / LUT_LEN, &r, &g, &bl);
		v = pack_pixel(b->hdr, r * scale, g * scale, bl * scale);
		/* The low bpp bytes: the pixel in the frame's little-endian layout. */
		memcpy(b->period + (size_t)i * bpp, &v, bpp);
		memcpy(b->period + (size_t)(i + LUT_LEN) * bpp, &v, bpp);
	}
	b->lut_hdr = b->hdr;
}

static void render_body(struct fp_backend *b, uint8_t *px, size_t stride, uint32_t frame)
{
	static const float bars[7][3] = { { .75f, .75f, .75f }, { .75f, .75f, 0 }, { 0, .75f, .75f },
					  { 0, .75f, 0 },       { .75f, 0, .75f },  { .75f, 0, 0 },
					  { 0, 0, .75f } };
	uint32_t bpp = b->hdr ? 8 : 4;
	size_t row_bytes = (size_t)b->width * bpp;

	if (b->lut_hdr != b->hdr)
		build_lut(b);
	if (b->pattern != PATTERN_MOVING && b->pattern != PATTERN_CLOCK) {
		/* Bars and solid are the same on every row: build row 0, copy it down. */
		uint64_t v = pack_pixel(b->hdr, b->rgb[0], b->rgb[1], b->rgb[2]);
		int bar = -1;

		for (uint32_t x = 0; x < b->width; x++) {
			if (b->pattern == PATTERN_BARS && (int)((uint64_t)x * 7 / b->width) != bar) {
				const float *c = bars[(uint64_t)x * 7 / b->width];

				bar = (int)((uint64_t)x * 7 / b->width);
				v = pack_pixel(b->hdr, c[0], c[1], c[2]);
			}
			memcpy(px + (size_t)x * bpp, &v, bpp);
		}
		for (uint32_t y = 1; y < b->height; y++)
			memcpy(px + (size_t)y * stride, px, row_bytes);
		return;
	}
	for (uint32_t y = 0; y < b->height; y++) {
		/* Diagonal stripes that move every frame: every pixel changes, so a torn frame
		 * cannot hide in an unchanged region. Pixel x of row y is entry (x + 3y + 8 frame)
		 * mod LUT_LEN of the period: a row is runs of LUT_LEN pixels from one phase. */
		uint32_t phase = (y * 3u + frame * 8u) % LUT_LEN;
		uint8_t *row = px + (size_t)y * stride;

		for (uint32_t x = 0; x < b->width; x += LUT_LEN) {
			uint32_t n = b->width - x < LUT_LEN ? b->width - x : LUT_LEN;

			memcpy(row + (size_t)x * bpp, b->period + (size_t)phase * bpp, (size_t)n * bpp);
		}
	}
}

/* The clock stamp (pattern=clock): a grid of CLOCK_COLS x CLOCK_ROWS cells from the top left
 * corner, a cell W/16 wide and min(W/16, H/8) tall, each all white or all black: large flat
 * blocks keep their level through a low-bitrate encode and a downscale to a small <video>,
 * where digits or a barcode would smear. Cells in row-major order; the four corners are
 * references (white, black / black, white) that give a reader the two levels and prove it
 * found the grid. The other 60 cells carry bits 0..59 of
 *   ms (CLOCK_REALTIME in milliseconds, low 32 bits) | seq (frame number, low 16) << 32 |
 *   check << 48, white = 1,
 * check = CRC-16/CCITT-FALSE of ms (4 bytes LE) then seq (2 bytes LE), low 12 bits: a misread
 * cell is detected instead of trusted. Readers: tests/serve/clock.py (files), clock.js (the
 * page, for the browser tests and framepush-bench serve); they sample each cell's central
 * half. The time is taken before the frame is drawn, so a latency measured from it includes
 * the drawing (errs long, never short). */
#define CLOCK_COLS 16u
#define CLOCK_ROWS 4u

static uint16_t clock_crc(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xffff;

	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int k = 0; k < 8; k++)
			crc = (uint16_t)(crc & 0x8000 ? crc << 1 ^ 0x1021 : crc << 1);
	}
	return crc;
}

static uint64_t clock_word(uint32_t ms, uint32_t seq)
{
	const uint8_t bytes[6] = { (uint8_t)ms, (uint8_t)(ms >> 8), (uint8_t)(ms >> 16),
				   (uint8_t)(ms >> 24), (uint8_t)seq, (uint8_t)(seq >> 8) };
	uint64_t check = clock_crc(bytes, sizeof(bytes)) & 0xfffu;

	return (uint64_t)ms | (uint64_t)(seq & 0xffffu) << 32 | check << 48;
}

static void fill_cell(uint8_t *px, size_t stride, uint32_t bpp, uint32_t x0, uint32_t y0,
		      uint32_t w, uint32_t h, uint64_t v)
{
	uint8_t *row0 = px + (size_t)y0 * stride + (size_t)x0 * bpp;

	for (uint32_t x = 0; x < w; x++)
		memcpy(row0 + (size_t)x * bpp, &v, bpp);
	for (uint32_t y = 1; y < h; y++)
		memcpy(row0 + (size_t)y * stride, row0, (size_t)w * bpp);
}

static void stamp_clock(struct fp_backend *b, uint8_t *px, size_t stride, uint32_t frame,
			uint32_t ms)
{
	uint32_t bpp = b->hdr ? 8 : 4, cw = b->width / CLOCK_COLS;
	uint32_t ch = cw < b->height / 8 ? cw : b->height / 8;
	uint64_t white = pack_pixel(b->hdr, 1, 1, 1), black = pack_pixel(b->hdr, 0, 0, 0);
	uint64_t word = clock_word(ms, frame);
	unsigned bit = 0;

	for (uint32_t i = 0; i < CLOCK_COLS * CLOCK_ROWS; i++) {
		int on;

		if (i == 0 || i == CLOCK_COLS * CLOCK_ROWS - 1)
			on = 1;
		else if (i == CLOCK_COLS - 1 || i == CLOCK_COLS * (CLOCK_ROWS - 1))
			on = 0;
		else
			on = (int)(word >> bit++ & 1);
		fill_cell(px, stride, bpp, i % CLOCK_COLS * cw, i / CLOCK_COLS * ch, cw, ch,
			  on ? white : black);
	}
}

static uint32_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void render(struct fp_backend *b, uint8_t *px, size_t stride, uint32_t frame)
{
	uint32_t ms = b->pattern == PATTERN_CLOCK ? realtime_ms() : 0;

	render_body(b, px, stride, frame);
	if (b->pattern == PATTERN_CLOCK)
		stamp_clock(b, px, stride, frame, ms);
}

/* R/G/B as three finite floats a half float can hold (scRGB may be negative). */
static int parse_rgb(const char *key, const char *val, float rgb[3])
{
	const char *p = val;

	for (int i = 0; i < 3; i++) {
		char *end;
		float v;

		errno = 0;
		v = strtof(p, &end);
		if (end == p || errno || !isfinite(v) || fabsf(v) > 65504.0f ||
		    *end != (i < 2 ? '/' : '\0')) {
			fp_error("test source: %s=%s: expected R/G/B, three finite numbers "
				 "(0..1 SDR, scRGB HDR)", key, val);
			return -EINVAL;
		}
		rgb[i] = v;
		p = end + 1;
	}
	return 0;
}

/* Nits as decimal with at most 4 places, into 0.0001 cd/m2 units (exact, no float). */
static int parse_nits(const char *key, const char *val, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	const char *p = val;
	int digits = 0, places = -1;

	for (; *p; p++) {
		if (*p == '.' && places < 0 && digits) {
			places = 0;
			continue;
		}
		if (*p < '0' || *p > '9' || places >= 4 || ++digits > 9)
			break;
		v = v * 10 + (uint64_t)(*p - '0');
		if (places >= 0)
			places++;
	}
	for (int i = places < 0 ? 0 : places; i < 4; i++)
		v *= 10;
	if (*p || !digits || places == 0 || v < min || v > max) {
		fp_error("test source: %s=%s: expected nits %u.%04u..%u (at most 4 decimals)", key, val,
			 min / 10000, min % 10000, max / 10000);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int set_option(void *user, const char *key, const char *val)
{
	struct fp_backend *b = user;
	uint32_t v;
	int r;

	if (!strcmp(key, "max-cll") || !strcmp(key, "max-fall")) {
		r = fp_spec_u32(WHAT, key, val, 0, 10000, &v);
		if (r == 0)
			*(!strcmp(key, "max-cll") ? &b->meta.rec.max_cll : &b->meta.rec.max_fall) = (uint16_t)v;
		b->meta_values = 1;
		return r;
	} else if (!strcmp(key, "mastering-max")) {
		b->meta_values = 1;
		return parse_nits(key, val, 10000, 100000000, &b->meta.rec.max_luminance);
	} else if (!strcmp(key, "mastering-min")) {
		b->meta_values = 1;
		return parse_nits(key, val, 0, 100000000, &b->meta.rec.min_luminance);
	} else if (!strcmp(key, "hdr-meta")) {
		static const char *const names[] = { "own", "bad", "bad-present", NULL };
		int v, r = fp_spec_choice(WHAT, key, val, names, META_OWN, &v);

		if (r == 0)
			b->meta_mode = (enum hdr_meta_mode)v;
		return r;
	} else if (!strcmp(key, "pattern")) {
		static const char *const names[] = { "moving", "bars", "solid", "clock", NULL };
		int v, r = fp_spec_choice(WHAT, key, val, names, PATTERN_MOVING, &v);

		if (r == 0)
			b->pattern = (enum pattern)v;
		return r;
	} else if (!strcmp(key, "rgb")) {
		return parse_rgb(key, val, b->rgb);
	} else if (!strcmp(key, "hdr")) {
		int r = fp_spec_bool(WHAT, key, val, &b->hdr);

		b->base_hdr = b->hdr;
		return r;
	} else if (!strcmp(key, "flip-every")) {
		return fp_spec_u32(WHAT, key, val, 0, 1000000, &b->flip_every);
	} else if (!strcmp(key, "idle")) {
		return fp_spec_bool(WHAT, key, val, &b->idle);
	} else if (!strcmp(key, "answer-kick")) {
		return fp_spec_u32(WHAT, key, val, 1, 1000, &b->answer_kick);
	} else if (!strcmp(key, "mute")) {
		return fp_spec_bool(WHAT, key, val, &b->mute);
	} else {
		fp_error("test source: unknown option '%s' (pattern, rgb, hdr, flip-every, idle, "
			 "answer-kick, mute, max-cll, max-fall, mastering-max, mastering-min, "
			 "hdr-meta)", key);
		return -ENOENT;
	}
	return 0;
}

static void test_destroy(struct fp_backend *b)
{
	free(b);
}

/* Completes the record from the spec: P3-D65 primaries, defaults for what was not given.
 * An inconsistent pair is refused like a bad value (hdr-meta=bad is the way to send one). */
static int finish_hdr_meta(struct fp_backend *b)
{
	struct fp_hdr10 *m = &b->meta.rec;

	if (b->meta_values && b->meta_mode == META_NONE)
		b->meta_mode = META_OWN;
	if (b->meta_mode == META_NONE)
		return 0;
	if (m->max_luminance == UINT32_MAX)
		m->max_luminance = 10000000;
	if (m->min_luminance == UINT32_MAX)
		m->min_luminance = 1;
	if (m->max_cll == UINT16_MAX)
		m->max_cll = 1000;
	if (m->max_fall == UINT16_MAX)
		m->max_fall = m->max_cll < 400 ? m->max_cll : 400;
	/* DCI-P3 with D65 white, in 0.00002 steps. */
	m->red_x = 34000, m->red_y = 16000;
	m->green_x = 13250, m->green_y = 34500;
	m->blue_x = 7500, m->blue_y = 3000;
	m->white_x = 15635, m->white_y = 16450;
	b->meta.present = FP_HDR_META_PRESENT;
	if (b->meta_mode == META_OWN && m->min_luminance >= m->max_luminance) {
		fp_error("test source: mastering-min=%u.%04u is not below mastering-max=%u.%04u "
			 "(expected min < max)", m->min_luminance / 10000, m->min_luminance % 10000,
			 m->max_luminance / 10000, m->max_luminance % 10000);
		return -EINVAL;
	}
	if (b->meta_mode == META_OWN && m->max_fall > m->max_cll) {
		fp_error("test source: max-fall=%u is above max-cll=%u (expected max-fall <= max-cll)",
			 m->max_fall, m->max_cll);
		return -EINVAL;
	}
	if (b->meta_mode == META_BAD) {
		/* Two faults, each enough for the host to refuse the record. */
		m->max_cll = 100;
		m->max_fall = 200;
		m->min_luminance = m->max_luminance + 1;
	} else if (b->meta_mode == META_BAD_PRESENT) {
		b->meta.present = 2;
	}
	return 0;
}

/* The defaults, then the spec over them: shared by create and check_spec. */
static int configure(struct fp_backend *b, const char *spec)
{
	int r;

	b->rgb[0] = b->rgb[1] = b->rgb[2] = 0.5f;
	b->answer_kick = 1;
	/* "Not given" marks (above every accepted value): finish_hdr_meta fills defaults. */
	b->meta.rec.max_luminance = b->meta.rec.min_luminance = UINT32_MAX;
	b->meta.rec.max_cll = b->meta.rec.max_fall = UINT16_MAX;
	r = fp_spec_parse(spec, WHAT, set_option, b);
	if (r == -ENOENT)
		r = -EINVAL;
	return r ? r : finish_hdr_meta(b);
}

static int test_check_spec(const char *spec)
{
	struct fp_backend *scratch = calloc(1, sizeof(*scratch));
	int r;

	if (!scratch)
		return -ENOMEM;
	r = configure(scratch, spec);
	free(scratch);
	return r;
}

static int test_create(struct fp_backend **out, const struct fp_backend_args *args)
{
	struct fp_backend *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->base_width = b->width = args->width ? args->width : FP_MODE_DEFAULT_WIDTH;
	b->base_height = b->height = args->height ? args->height : FP_MODE_DEFAULT_HEIGHT;
	b->period_ns = FP_NSEC_PER_SEC / (args->fps ? args->fps : FP_MODE_DEFAULT_HZ);
	b->lut_hdr = -1;
	r = configure(b, args->spec);
	if (r < 0) {
		test_destroy(b);
		return r;
	}
	b->next_ns = fp_now_ns();
	*out = b;
	return 0;
}

static void test_describe(struct fp_backend *b, uint32_t *w, uint32_t *h, uint32_t *fmt)
{
	*w = b->width;
	*h = b->height;
	*fmt = fmt_of(b);
}

static int test_fd(struct fp_backend *b)
{
	(void)b;
	return -1;
}

static int64_t test_next_wakeup(struct fp_backend *b)
{
	if (b->idle && !b->kicks)
		return INT64_MAX;
	return b->idle ? 0 : b->next_ns;
}

void fp_test_pattern_set_mode(struct fp_backend *b, struct fp_source *src, uint32_t width,
			      uint32_t height, int hdr)
{
	b->width = width;
	b->height = height;
	b->hdr = hdr;
	fp_source_set_descriptor(src, b->width, b->height, fmt_of(b));
}

void fp_test_pattern_set_idle(struct fp_backend *b, int idle)
{
	b->idle = idle;
	b->next_ns = fp_now_ns();
}

void fp_test_pattern_set_mute(struct fp_backend *b, int mute)
{
	b->mute = mute;
}

static void flip(struct fp_backend *b, struct fp_source *src)
{
	b->flips++;
	b->published_in_ring = 0;
	/* Odd flips: three quarters of the size, rounded to even, and the other dynamic range. */
	if (b->flips & 1)
		fp_test_pattern_set_mode(b, src, (b->base_width * 3 / 4) & ~1u,
					 (b->base_height * 3 / 4) & ~1u, !b->base_hdr);
	else
		fp_test_pattern_set_mode(b, src, b->base_width, b->base_height, b->base_hdr);
	fp_info("test source: display changes to %ux%u %s", b->width, b->height,
		b->hdr ? "HDR" : "SDR");
}

/* Whether a frame is due now: the timer, or a kick when idle. */
static int frame_due(struct fp_backend *b, int64_t now)
{
	if (b->idle) {
		if (!b->kicks)
			return 0;
		b->kicks = 0;
		return 1;
	}
	if (now < b->next_ns)
		return 0;
	b->next_ns += b->period_ns;
	if (b->next_ns < now) /* fell behind (stopped, slow host): do not burst */
		b->next_ns = now + b->period_ns;
	return 1;
}

int fp_test_pattern_draw(struct fp_backend *b, struct fp_source *src)
{
	const struct fp_source_ring *ring = fp_source_ring(src);
	int64_t now = fp_now_ns();
	int slot;

	if (b->meta_mode != META_NONE && !b->meta_reported) {
		/* Before any frame (this runs from the first loop, attached or not): the library
		 * writes it with the descriptor into this ring and every later one. */
		fp_source_set_hdr_meta(src, &b->meta);
		b->meta_reported = 1;
	}
	if (!frame_due(b, now))
		return -1;
	b->frame++;
	if (!ring || b->mute)
		return -1;
	slot = fp_source_acquire(src);
	if (slot < 0)
		return -1; /* no free slot: the host holds one and the latest is unread */
	if (ring->width != b->width || ring->height != b->height || ring->format != fmt_of(b)) {
		/* The ring still has the old mode; the guard drops and counts the frame. */
		fp_source_publish(src, slot, b->width, b->height, fmt_of(b), now);
		return -1;
	}
	render(b, ring->slot[slot], ring->stride, b->frame);
	fp_signature_write(ring->slot[slot], ring->stride, b->width, b->height, fmt_of(b),
			   fp_source_next_seq(src), ring->generation);
	return slot;
}

void fp_test_pattern_render(struct fp_backend *b, uint8_t *px, size_t stride, uint32_t frame)
{
	render(b, px, stride, frame);
}

int fp_test_pattern_publish(struct fp_backend *b, struct fp_source *src, int slot)
{
	/* The frame exists once it is complete, as a compositor's frame does at present time:
	 * that is its capture time, and latency downstream is measured from it. */
	return fp_source_publish(src, slot, b->width, b->height, fmt_of(b), fp_now_ns());
}

void fp_test_pattern_published(struct fp_backend *b, struct fp_source *src)
{
	if (b->flip_every && ++b->published_in_ring >= b->flip_every)
		flip(b, src);
}

static int test_dispatch(struct fp_backend *b, struct fp_source *src)
{
	int slot = fp_test_pattern_draw(b, src);

	if (slot >= 0 && fp_test_pattern_publish(b, src, slot) == 0)
		fp_test_pattern_published(b, src);
	return 0;
}

static int test_ring_changed(struct fp_backend *b, const struct fp_source_ring *ring)
{
	(void)ring;
	b->published_in_ring = 0;
	return 0;
}

static void test_kick(struct fp_backend *b)
{
	/* answer-kick=N: a display that wakes up only on the Nth nudge. */
	if (++b->kicks_seen >= b->answer_kick)
		b->kicks = 1;
}

const struct fp_backend_impl fp_backend_test = {
	.name = "test",
	.check_spec = test_check_spec,
	.create = test_create,
	.destroy = test_destroy,
	.describe = test_describe,
	.fd = test_fd,
	.next_wakeup_ns = test_next_wakeup,
	.dispatch = test_dispatch,
	.ring_changed = test_ring_changed,
	.kick = test_kick,
};
