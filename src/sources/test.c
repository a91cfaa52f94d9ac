/* framepush — the test pattern backend: a synthetic display for tests and demos.
 *
 * Spec keys: pattern=moving|bars|solid, rgb=R/G/B (0..1 SDR, scRGB floats HDR), hdr=0|1,
 * flip-every=N (change the descriptor every N published frames: size and SDR/HDR alternate),
 * idle=1 (publish only when kicked), mute=1 (publish nothing, even when kicked),
 * hostile=scribble|spam (attack the host: scribble the status block / signal the event in a
 * tight loop). Every frame carries a signature. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/half.h"
#include "common/log.h"
#include "common/util.h"
#include "sources/backend.h"
#include "sources/signature.h"
#include "sources/spec.h"

#define LUT_LEN 1024u

enum pattern { PATTERN_MOVING, PATTERN_BARS, PATTERN_SOLID };
enum hostile { HOSTILE_NONE, HOSTILE_SCRIBBLE, HOSTILE_SPAM };

struct fp_backend {
	enum pattern pattern;
	float rgb[3];
	int hdr, base_hdr;
	uint32_t width, height, base_width, base_height;
	uint32_t flip_every, published_in_ring, flips;
	int idle, kicks, mute, hold, hold_requested;
	int64_t period_ns, next_ns;
	uint32_t frame;
	/* LUT of one period of the moving pattern, twice so a row can copy without wrapping. */
	uint64_t lut[2 * LUT_LEN];
	int lut_hdr;

	/* Hostile modes run on their own thread against the attached ring. */
	enum hostile hostile;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock;
	atomic_int stop;
	struct fp_status *status; /* under lock */
	int event_fd;             /* under lock */
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
	for (uint32_t i = 0; i < LUT_LEN; i++) {
		float r, g, bl;
		/* HDR: a brightness ramp up to 4.0 (320 nits) so values above 1.0 occur. */
		float scale = b->hdr ? 0.05f + 3.95f * (float)(i % 256) / 255.0f : 1.0f;

		hue((float)i / LUT_LEN, &r, &g, &bl);
		b->lut[i] = b->lut[i + LUT_LEN] = pack_pixel(b->hdr, r * scale, g * scale, bl * scale);
	}
	b->lut_hdr = b->hdr;
}

static void render(struct fp_backend *b, uint8_t *px, size_t stride)
{
	static const float bars[7][3] = { { .75f, .75f, .75f }, { .75f, .75f, 0 }, { 0, .75f, .75f },
					  { 0, .75f, 0 },       { .75f, 0, .75f },  { .75f, 0, 0 },
					  { 0, 0, .75f } };
	uint32_t bpp = b->hdr ? 8 : 4;
	size_t row_bytes = (size_t)b->width * bpp;

	if (b->lut_hdr != b->hdr)
		build_lut(b);
	if (b->pattern != PATTERN_MOVING) {
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
		uint8_t *row = px + (size_t)y * stride;

		for (uint32_t x = 0; x < b->width;) {
			/* Diagonal stripes that move every frame: every pixel changes, so a
			 * torn frame cannot hide in an unchanged region. */
			uint32_t o = (x + y * 3u + b->frame * 8u) % LUT_LEN;
			uint32_t n = LUT_LEN - o < b->width - x ? LUT_LEN - o : b->width - x;

			for (uint32_t k = 0; k < n; k++)
				memcpy(row + (size_t)(x + k) * bpp, &b->lut[o + k], bpp);
			x += n;
		}
	}
}

static int set_option(void *user, const char *key, const char *val)
{
	struct fp_backend *b = user;

	if (!strcmp(key, "pattern")) {
		if (!strcmp(val, "moving"))
			b->pattern = PATTERN_MOVING;
		else if (!strcmp(val, "bars"))
			b->pattern = PATTERN_BARS;
		else if (!strcmp(val, "solid"))
			b->pattern = PATTERN_SOLID;
		else
			return -EINVAL;
	} else if (!strcmp(key, "rgb")) {
		if (sscanf(val, "%f/%f/%f", &b->rgb[0], &b->rgb[1], &b->rgb[2]) != 3)
			return -EINVAL;
	} else if (!strcmp(key, "hdr")) {
		b->hdr = b->base_hdr = !strcmp(val, "1");
	} else if (!strcmp(key, "flip-every")) {
		b->flip_every = (uint32_t)strtoul(val, NULL, 10);
	} else if (!strcmp(key, "idle")) {
		b->idle = !strcmp(val, "1");
	} else if (!strcmp(key, "mute")) {
		b->mute = !strcmp(val, "1");
	} else if (!strcmp(key, "hostile")) {
		if (!strcmp(val, "scribble"))
			b->hostile = HOSTILE_SCRIBBLE;
		else if (!strcmp(val, "spam"))
			b->hostile = HOSTILE_SPAM;
		else
			return -EINVAL;
	} else {
		fp_error("test source: unknown option '%s' (pattern, rgb, hdr, flip-every, idle, mute, hostile)", key);
		return -ENOENT;
	}
	return 0;
}

static void *hostile_thread(void *arg)
{
	struct fp_backend *b = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();

	while (!atomic_load(&b->stop)) {
		pthread_mutex_lock(&b->lock);
		for (int i = 0; i < 4096; i++) {
			uint64_t one = 1;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (b->hostile == HOSTILE_SCRIBBLE && b->status) {
				uint32_t *words = (uint32_t *)(void *)b->status;
				size_t n = sizeof(*b->status) / 4;

				atomic_store_explicit((_Atomic uint32_t *)&words[(x >> 32) % n],
						      (uint32_t)x, memory_order_relaxed);
			} else if (b->hostile == HOSTILE_SPAM && b->event_fd >= 0) {
				if (write(b->event_fd, &one, sizeof(one)) < 0)
					break;
			}
		}
		pthread_mutex_unlock(&b->lock);
	}
	return NULL;
}

static int test_create(struct fp_backend **out, const struct fp_backend_args *args)
{
	struct fp_backend *b = calloc(1, sizeof(*b));
	int r;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->rgb[0] = b->rgb[1] = b->rgb[2] = 0.5f;
	b->base_width = b->width = args->width ? args->width : 1920;
	b->base_height = b->height = args->height ? args->height : 1080;
	b->period_ns = FP_NSEC_PER_SEC / (args->fps ? args->fps : 60);
	b->lut_hdr = -1;
	b->event_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	r = fp_spec_parse(args->spec, "test source", set_option, b);
	if (r == -ENOENT)
		r = -EINVAL;
	if (r < 0) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return r;
	}
	b->next_ns = fp_now_ns();
	if (b->hostile != HOSTILE_NONE) {
		if (pthread_create(&b->thread, NULL, hostile_thread, b) != 0) {
			pthread_mutex_destroy(&b->lock);
			free(b);
			return -EAGAIN;
		}
		b->thread_started = 1;
	}
	*out = b;
	return 0;
}

static void test_destroy(struct fp_backend *b)
{
	if (!b)
		return;
	if (b->thread_started) {
		atomic_store(&b->stop, 1);
		pthread_join(b->thread, NULL);
	}
	if (b->status)
		munmap(b->status, sizeof(*b->status));
	fp_close(&b->event_fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
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

static void flip(struct fp_backend *b, struct fp_source *src)
{
	b->flips++;
	if (b->flips & 1) {
		/* Three quarters of the size, rounded to even, and the other dynamic range. */
		b->width = (b->base_width * 3 / 4) & ~1u;
		b->height = (b->base_height * 3 / 4) & ~1u;
		b->hdr = !b->base_hdr;
	} else {
		b->width = b->base_width;
		b->height = b->base_height;
		b->hdr = b->base_hdr;
	}
	b->published_in_ring = 0;
	fp_info("test source: display changes to %ux%u %s", b->width, b->height,
		b->hdr ? "HDR" : "SDR");
	fp_source_set_descriptor(src, b->width, b->height, fmt_of(b));
}

static int test_dispatch(struct fp_backend *b, struct fp_source *src)
{
	const struct fp_source_ring *ring = fp_source_ring(src);
	int64_t now = fp_now_ns();
	int slot;

	if (b->idle) {
		if (!b->kicks)
			return 0;
		b->kicks = 0;
	} else {
		if (now < b->next_ns)
			return 0;
		b->next_ns += b->period_ns;
		if (b->next_ns < now) /* fell behind (stopped, slow host): do not burst */
			b->next_ns = now + b->period_ns;
	}
	b->frame++;
	if (!ring || b->mute || b->hold)
		return 0;
	slot = fp_source_acquire(src);
	if (slot < 0)
		return 0; /* no free slot: the host holds one and the latest is unread */
	if (ring->width != b->width || ring->height != b->height || ring->format != fmt_of(b)) {
		/* The ring still has the old mode; the guard drops and counts the frame. */
		fp_source_publish(src, slot, b->width, b->height, fmt_of(b), now);
		return 0;
	}
	render(b, ring->slot[slot], ring->stride);
	fp_signature_write(ring->slot[slot], ring->stride, b->width, b->height, fmt_of(b),
			   fp_source_next_seq(src), ring->generation);
	/* The frame exists once it is complete, as a compositor's frame does at present time:
	 * that is its capture time, and latency downstream is measured from it. */
	if (fp_source_publish(src, slot, b->width, b->height, fmt_of(b), fp_now_ns()) < 0)
		return 0;
	if (b->hold == 0 && b->hold_requested) {
		/* Test hook: a writer wedged inside the slot the host is about to read. */
		uint32_t free_word = FP_SLOT_FREE;

		atomic_compare_exchange_strong(
			(_Atomic uint32_t *)(void *)&fp_source_status_block(src)->slot_owner[slot],
			&free_word, FP_SLOT_SOURCE);
		b->hold = 1;
		return 0;
	}
	if (b->flip_every && ++b->published_in_ring >= b->flip_every)
		flip(b, src);
	return 0;
}

/* The hostile thread works on its own mapping and fd copies, so the source library can
 * unmap a detached ring without pulling memory from under the thread. */
static int test_ring_changed(struct fp_backend *b, const struct fp_source_ring *ring)
{
	b->published_in_ring = 0;
	if (b->hostile == HOSTILE_NONE)
		return 0;
	pthread_mutex_lock(&b->lock);
	if (b->status)
		munmap(b->status, sizeof(*b->status));
	b->status = NULL;
	fp_close(&b->event_fd);
	if (ring) {
		void *p = mmap(NULL, sizeof(*b->status), PROT_READ | PROT_WRITE, MAP_SHARED,
			       ring->status_fd, 0);

		b->status = p == MAP_FAILED ? NULL : p;
		b->event_fd = fcntl(ring->event_fd, F_DUPFD_CLOEXEC, 0);
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void test_kick(struct fp_backend *b)
{
	b->kicks = 1;
}

static void test_config(struct fp_backend *b, struct fp_source *src, const struct fp_msg_config *c)
{
	switch (c->op) {
	case FP_CONFIG_SET_DESC:
		if (c->width && c->height) {
			b->width = c->width;
			b->height = c->height;
			b->hdr = c->format == FP_PIXFMT_RGBA16F;
			fp_source_set_descriptor(src, b->width, b->height, fmt_of(b));
		}
		break;
	case FP_CONFIG_SET_IDLE:
		b->idle = c->arg0 != 0;
		b->next_ns = fp_now_ns();
		break;
	case FP_CONFIG_SET_MUTE:
		b->mute = c->arg0 != 0;
		break;
	case FP_CONFIG_HOLD_SLOT:
		b->hold_requested = 1;
		break;
	default:
		break;
	}
}

const struct fp_backend_impl fp_backend_test = {
	.name = "test",
	.create = test_create,
	.destroy = test_destroy,
	.describe = test_describe,
	.fd = test_fd,
	.next_wakeup_ns = test_next_wakeup,
	.dispatch = test_dispatch,
	.ring_changed = test_ring_changed,
	.kick = test_kick,
	.config = test_config,
};
