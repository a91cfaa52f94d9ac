/* framepush — the test pattern backend: a synthetic display for tests and demos.
 *
 * Spec keys: pattern=moving|bars|solid, rgb=R/G/B (0..1 SDR, scRGB floats HDR), hdr=0|1,
 * flip-every=N (change the descriptor every N published frames: size and SDR/HDR alternate),
 * idle=1 (publish only when kicked), answer-kick=N (idle: ignore the first N-1 kicks),
 * mute=1 (publish nothing, even when kicked), hostile=scribble|scribble-status|
 * scribble-pixels|spam|steal-event|flood|desc-flip|forbidden-syscall (attack the host: random words over the
 * whole status block / over all of it but the descriptor words / into the published slot's
 * pixels; signal the event in a tight loop; take O_NONBLOCK off the shared eventfd and consume
 * every count; send junk messages on the socket in a tight loop; rewrite the descriptor in a
 * tight loop, alternating two HDR10 records; make a system call the sandbox forbids),
 * hostile-after=N (start the attack after N published frames), seed=N (the
 * attack's random sequence), max-cll=N, max-fall=N (cd/m2, 0..10000), mastering-max=NITS,
 * mastering-min=NITS (decimal, up to 4 places; 1..10000 and 0..10000): any of these makes the
 * source report its own HDR10 record (P3-D65 primaries; unset values 1000 / 0.0001 nits,
 * MaxCLL 1000, MaxFALL 400), hdr-meta=own (that record with the defaults), hdr-meta=bad (an
 * invalid record: MaxFALL above MaxCLL, min luminance above max) or hdr-meta=bad-present (a
 * valid record with presence word 2). Booleans are 0 or 1, numbers plain decimal; anything
 * else is refused. Every frame carries a signature. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/half.h"
#include "common/log.h"
#include "common/util.h"
#include "channel/desc.h"
#include "channel/event.h"
#include "sources/backend.h"
#include "channel/signature.h"
#include "sources/spec.h"

#define LUT_LEN 1024u

enum pattern { PATTERN_MOVING, PATTERN_BARS, PATTERN_SOLID };
enum hostile {
	HOSTILE_NONE,
	HOSTILE_SCRIBBLE,        /* every word of the status block */
	HOSTILE_SCRIBBLE_STATUS, /* every word but the descriptor: the session can go on */
	HOSTILE_SCRIBBLE_PIXELS, /* the published slot's pixels, after publish */
	HOSTILE_SPAM,
	HOSTILE_STEAL_EVENT,     /* clear O_NONBLOCK on the shared eventfd, consume every count */
	HOSTILE_FLOOD,           /* junk messages on the socket, as fast as it takes them */
	HOSTILE_DESC_FLIP,       /* the descriptor rewritten in a tight loop (seqlock test) */
	HOSTILE_FORBIDDEN,       /* a taken-over source reaching out: a new socket */
};
enum hdr_meta_mode { META_NONE, META_OWN, META_BAD, META_BAD_PRESENT };

struct fp_backend {
	enum pattern pattern;
	float rgb[3];
	int hdr, base_hdr;
	uint32_t width, height, base_width, base_height;
	uint32_t flip_every, published_in_ring, flips;
	int idle, kicks, mute, hold, hold_requested;
	uint32_t answer_kick, kicks_seen;
	int64_t period_ns, next_ns;
	uint32_t frame;
	/* LUT of one period of the moving pattern, twice so a row can copy without wrapping. */
	uint64_t lut[2 * LUT_LEN];
	int lut_hdr;

	/* The HDR10 record reported once, with the first descriptor (hdr-meta and friends). */
	enum hdr_meta_mode meta_mode;
	int meta_values;          /* a value key was given */
	struct fp_hdr_meta meta;
	int meta_reported;

	/* Hostile modes run on their own thread against the attached ring. */
	enum hostile hostile;
	uint32_t hostile_after, seed;
	uint64_t published_total;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock;
	pthread_cond_t armed_cond;
	atomic_int stop;
	int armed;                /* under lock: hostile_after frames were published */
	struct fp_status *status; /* under lock */
	int event_fd;             /* under lock */
	int sock_fd;              /* the thread's own copy of the host socket (flood) */
	int steal_fd;             /* under lock: the stealer's own copy of the eventfd */
	uint8_t *slots[FP_RING_MAX]; /* under lock: the thread's own writable slot mappings */
	uint32_t ring_len;        /* under lock */
	uint64_t slot_size;       /* under lock */
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

/* Strict value parsers: a typo in a test spec must fail the source, not silently test
 * something else. Each names the key and the value it refuses.
 *
 * val must be one of names (NULL-terminated); *out becomes first + its index, so the
 * names list each enum in declaration order from its value `first`. */
static int parse_choice(const char *key, const char *val, const char *const *names, int first,
			int *out)
{
	char want[160] = "";
	size_t n = 0;

	for (int i = 0; names[i]; i++) {
		if (!strcmp(val, names[i])) {
			*out = first + i;
			return 0;
		}
		n += (size_t)snprintf(want + n, n < sizeof(want) ? sizeof(want) - n : 0, "%s%s",
				      i ? ", " : "", names[i]);
	}
	fp_error("test source: %s=%s: expected one of %s", key, val, want);
	return -EINVAL;
}

static int parse_bool(const char *key, const char *val, int *out)
{
	static const char *const names[] = { "0", "1", NULL };

	return parse_choice(key, val, names, 0, out);
}

static int parse_u32(const char *key, const char *val, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;

	if (fp_parse_uint(val, min, max, &v) < 0) {
		fp_error("test source: %s=%s: expected a decimal integer %u..%u", key, val, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
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
		r = parse_u32(key, val, 0, 10000, &v);
		if (r == 0)
			*(!strcmp(key, "max-cll") ? &b->meta.max_cll : &b->meta.max_fall) = (uint16_t)v;
		b->meta_values = 1;
		return r;
	} else if (!strcmp(key, "mastering-max")) {
		b->meta_values = 1;
		return parse_nits(key, val, 10000, 100000000, &b->meta.max_luminance);
	} else if (!strcmp(key, "mastering-min")) {
		b->meta_values = 1;
		return parse_nits(key, val, 0, 100000000, &b->meta.min_luminance);
	} else if (!strcmp(key, "hdr-meta")) {
		static const char *const names[] = { "own", "bad", "bad-present", NULL };
		int v, r = parse_choice(key, val, names, META_OWN, &v);

		if (r == 0)
			b->meta_mode = (enum hdr_meta_mode)v;
		return r;
	} else if (!strcmp(key, "pattern")) {
		static const char *const names[] = { "moving", "bars", "solid", NULL };
		int v, r = parse_choice(key, val, names, PATTERN_MOVING, &v);

		if (r == 0)
			b->pattern = (enum pattern)v;
		return r;
	} else if (!strcmp(key, "rgb")) {
		return parse_rgb(key, val, b->rgb);
	} else if (!strcmp(key, "hdr")) {
		int r = parse_bool(key, val, &b->hdr);

		b->base_hdr = b->hdr;
		return r;
	} else if (!strcmp(key, "flip-every")) {
		return parse_u32(key, val, 0, 1000000, &b->flip_every);
	} else if (!strcmp(key, "idle")) {
		return parse_bool(key, val, &b->idle);
	} else if (!strcmp(key, "answer-kick")) {
		return parse_u32(key, val, 1, 1000, &b->answer_kick);
	} else if (!strcmp(key, "mute")) {
		return parse_bool(key, val, &b->mute);
	} else if (!strcmp(key, "hostile")) {
		static const char *const names[] = { "scribble", "scribble-status", "scribble-pixels",
						     "spam", "steal-event", "flood", "desc-flip",
						     "forbidden-syscall", NULL };
		int v, r = parse_choice(key, val, names, HOSTILE_SCRIBBLE, &v);

		if (r == 0)
			b->hostile = (enum hostile)v;
		return r;
	} else if (!strcmp(key, "hostile-after")) {
		return parse_u32(key, val, 0, 1000000000, &b->hostile_after);
	} else if (!strcmp(key, "seed")) {
		return parse_u32(key, val, 0, UINT32_MAX, &b->seed);
	} else {
		fp_error("test source: unknown option '%s' (pattern, rgb, hdr, flip-every, idle, "
			 "answer-kick, mute, hostile, hostile-after, seed, max-cll, max-fall, "
			 "mastering-max, mastering-min, hdr-meta)", key);
		return -ENOENT;
	}
	return 0;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* One random word into the published slot. Under the lock, which the dispatch holds while it
 * renders and publishes: the latest slot is then complete and the source does not write it
 * again before the next publish, so a frame the host gets whole is one the source signed. */
static void scribble_pixels(struct fp_backend *b, uint64_t *x)
{
	uint64_t latest = atomic_load_explicit((_Atomic uint64_t *)(void *)&b->status->latest,
					       memory_order_acquire);
	struct fp_token tok = fp_token_unpack(latest);
	uint32_t v = (uint32_t)xorshift(x);
	uint64_t off;

	if (tok.generation == 0 || tok.slot >= b->ring_len || !b->slots[tok.slot] ||
	    b->slot_size < 4)
		return;
	off = (xorshift(x) % (b->slot_size / 4)) * 4;
	memcpy(b->slots[tok.slot] + off, &v, sizeof(v));
}

/* Takes O_NONBLOCK off the eventfd the host shares and reads every count the moment it
 * appears: a host that reads it after its own poll() then finds nothing, and blocks if it
 * trusted the flag. test_destroy writes once to get this thread out of its read. */
static void steal_event(struct fp_backend *b)
{
	int fd;

	pthread_mutex_lock(&b->lock);
	fd = b->event_fd >= 0 ? fcntl(b->event_fd, F_DUPFD_CLOEXEC, 0) : -1;
	b->steal_fd = fd;
	pthread_mutex_unlock(&b->lock);
	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	fp_info("test source: took O_NONBLOCK off the shared eventfd; consuming every count");
	while (!atomic_load(&b->stop)) {
		uint64_t v;

		if (read(fd, &v, sizeof(v)) < 0)
			break;
	}
	pthread_mutex_lock(&b->lock);
	b->steal_fd = -1;
	close(fd);
	pthread_mutex_unlock(&b->lock);
}

/* Junk the protocol does not allow (a wrong type, then an oversized packet), as fast as the
 * socket takes it, until the host hangs up. */
static void flood(struct fp_backend *b)
{
	char junk[512] = { 0 };
	uint32_t type = 0xdead;
	unsigned long sent = 0;

	memcpy(junk, &type, sizeof(type));
	while (!atomic_load(&b->stop) && b->sock_fd >= 0) {
		ssize_t n = send(b->sock_fd, junk, sent % 2 ? sizeof(junk) : 8,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN)
			break;
		if (n < 0)
			nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
		else
			sent++;
	}
	fp_info("test source: flood ended after %lu junk messages", sent);
}

/* Two HDR10 records of the same mode that differ in every value: a host that takes a
 * mixture of them would hold a record neither of them is. */
void fp_test_desc_flip_records(struct fp_hdr_meta rec[2])
{
	for (int i = 0; i < 2; i++)
		rec[i] = (struct fp_hdr_meta){
			.present = FP_HDR_META_PRESENT,
			.red_x = (uint16_t)(34000 + i), .red_y = (uint16_t)(16000 + i),
			.green_x = (uint16_t)(13250 + i), .green_y = (uint16_t)(34500 + i),
			.blue_x = (uint16_t)(7500 + i), .blue_y = (uint16_t)(3000 + i),
			.white_x = (uint16_t)(15635 + i), .white_y = (uint16_t)(16450 + i),
			.max_luminance = 10000000u + (uint32_t)i * 1000u,
			.min_luminance = 1u + (uint32_t)i,
			.max_cll = (uint16_t)(1000 + i * 100), .max_fall = (uint16_t)(400 + i * 100),
		};
}

static void desc_flip(struct fp_backend *b)
{
	struct fp_hdr_meta rec[2];
	uint32_t serial = 0;
	unsigned long writes = 0;

	fp_test_desc_flip_records(rec);
	while (!atomic_load(&b->stop)) {
		pthread_mutex_lock(&b->lock);
		/* An odd count per burst, so bursts end on each record in turn; the pause is the
		 * host's chance to read a complete one. */
		for (int i = 0; b->status && i < 4095; i++) {
			struct fp_desc d = { .width = b->width, .height = b->height, .format = fmt_of(b),
					     .hdr = rec[writes++ & 1] };

			/* Past the library's own serial, so the host takes each as new. */
			if (!serial)
				serial = b->status->desc_serial + 1000;
			serial = fp_desc_next_serial(serial);
			fp_desc_write(b->status, &d, serial);
		}
		pthread_mutex_unlock(&b->lock);
		nanosleep(&(struct timespec){ .tv_nsec = 300000 }, NULL);
	}
	fp_info("test source: rewrote the descriptor %lu times", writes);
}

static void *hostile_thread(void *arg)
{
	struct fp_backend *b = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (b->seed ? b->seed : (uint64_t)getpid());
	/* The descriptor words (desc_width..desc_serial) are spared by scribble-status; the HDR
	 * record (desc_hdr) is not: the host reads it only with a new serial, so no scribble
	 * of it is ever taken. */
	const size_t desc_first = offsetof(struct fp_status, desc_width) / 4;
	const size_t desc_last = offsetof(struct fp_status, desc_serial) / 4;

	pthread_mutex_lock(&b->lock);
	while (!b->armed && !atomic_load(&b->stop))
		pthread_cond_wait(&b->armed_cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	switch (b->hostile) {
	case HOSTILE_STEAL_EVENT:
		steal_event(b);
		return NULL;
	case HOSTILE_FLOOD:
		flood(b);
		return NULL;
	case HOSTILE_DESC_FLIP:
		desc_flip(b);
		return NULL;
	case HOSTILE_FORBIDDEN: {
		/* Attached, so sandboxed: the kernel kills the process on this call. */
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		fp_error("test source: socket() after attach returned %d: the sandbox is missing", fd);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	default:
		break;
	}
	while (!atomic_load(&b->stop)) {
		pthread_mutex_lock(&b->lock);
		if (b->hostile == HOSTILE_SCRIBBLE_PIXELS) {
			if (b->status)
				scribble_pixels(b, &x);
			pthread_mutex_unlock(&b->lock);
			/* Some frames get through whole, some not: both paths are exercised. */
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			continue;
		}
		for (int i = 0; i < 4096; i++) {
			uint64_t one = 1;

			xorshift(&x);
			if ((b->hostile == HOSTILE_SCRIBBLE || b->hostile == HOSTILE_SCRIBBLE_STATUS) &&
			    b->status) {
				uint32_t *words = (uint32_t *)(void *)b->status;
				size_t n = sizeof(*b->status) / 4, w = (x >> 32) % n;

				if (b->hostile == HOSTILE_SCRIBBLE_STATUS && w >= desc_first &&
				    w <= desc_last)
					continue;
				atomic_store_explicit((_Atomic uint32_t *)&words[w], (uint32_t)x,
						      memory_order_relaxed);
			} else if (b->hostile == HOSTILE_SPAM && b->event_fd >= 0) {
				if (write(b->event_fd, &one, sizeof(one)) < 0)
					break;
			}
		}
		pthread_mutex_unlock(&b->lock);
	}
	return NULL;
}

static void unmap_ring(struct fp_backend *b)
{
	for (uint32_t i = 0; i < FP_RING_MAX; i++) {
		if (b->slots[i])
			munmap(b->slots[i], b->slot_size);
		b->slots[i] = NULL;
	}
	if (b->status)
		munmap(b->status, sizeof(*b->status));
	b->status = NULL;
	b->ring_len = 0;
	fp_close(&b->event_fd);
}

static void test_destroy(struct fp_backend *b)
{
	if (!b)
		return;
	if (b->thread_started) {
		pthread_mutex_lock(&b->lock);
		atomic_store(&b->stop, 1);
		pthread_cond_broadcast(&b->armed_cond);
		/* A stealer blocked in read() on the eventfd needs one count to see stop (on its
		 * own fd: the ring's copy is closed by the detach before this runs). */
		if (b->hostile == HOSTILE_STEAL_EVENT && b->steal_fd >= 0)
			(void)!write(b->steal_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
		pthread_mutex_unlock(&b->lock);
		pthread_join(b->thread, NULL);
	}
	unmap_ring(b);
	fp_close(&b->sock_fd);
	pthread_cond_destroy(&b->armed_cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Completes the record from the spec: P3-D65 primaries, defaults for what was not given.
 * An inconsistent pair is refused like a bad value (hdr-meta=bad is the way to send one). */
static int finish_hdr_meta(struct fp_backend *b)
{
	struct fp_hdr_meta *m = &b->meta;

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
	m->present = FP_HDR_META_PRESENT;
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
		m->present = 2;
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
	b->meta.max_luminance = b->meta.min_luminance = UINT32_MAX;
	b->meta.max_cll = b->meta.max_fall = UINT16_MAX;
	r = fp_spec_parse(spec, "test source", set_option, b);
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
	b->base_width = b->width = args->width ? args->width : 1920;
	b->base_height = b->height = args->height ? args->height : 1080;
	b->period_ns = FP_NSEC_PER_SEC / (args->fps ? args->fps : 60);
	b->lut_hdr = -1;
	b->event_fd = b->sock_fd = b->steal_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->armed_cond, NULL);
	r = configure(b, args->spec);
	if (r < 0) {
		test_destroy(b);
		return r;
	}
	b->next_ns = fp_now_ns();
	b->armed = b->hostile_after == 0;
	if (b->hostile != HOSTILE_NONE) {
		if (pthread_create(&b->thread, NULL, hostile_thread, b) != 0) {
			test_destroy(b);
			return -EAGAIN;
		}
		b->thread_started = 1;
	}
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

/* Test hook: a writer wedged inside the slot the host is about to read. The frame is
 * announced as a publish would, but the slot word stays the source's, so the host finds the
 * newest token's slot held (and, once the source is killed, abandoned). */
static void hold_slot(struct fp_backend *b, struct fp_source *src, int slot)
{
	const struct fp_source_ring *ring = fp_source_ring(src);
	struct fp_status *st = fp_source_status_block(src);
	int r;

	atomic_store_explicit((_Atomic uint64_t *)(void *)&st->latest,
			      fp_token_pack(ring->generation, fp_source_next_seq(src), (uint32_t)slot),
			      memory_order_release);
	r = fp_event_signal(ring->event_fd);
	if (r < 0 && r != -EAGAIN)
		fp_warn("test source: cannot signal the held frame: %s", strerror(-r));
	b->hold = 1;
	b->hold_requested = 0;
	fp_info("test source: holding published slot %d; publishing nothing more", slot);
}

static int test_dispatch(struct fp_backend *b, struct fp_source *src)
{
	const struct fp_source_ring *ring = fp_source_ring(src);
	int64_t now = fp_now_ns();
	int slot, r = 0;

	if (b->hostile == HOSTILE_FLOOD && b->sock_fd < 0)
		b->sock_fd = fcntl(fp_source_fd(src), F_DUPFD_CLOEXEC, 0); /* before the thread arms */
	if (b->meta_mode != META_NONE && !b->meta_reported) {
		/* Before any frame (this runs from the first loop, attached or not): the library
		 * writes it with the descriptor into this ring and every later one. */
		fp_source_set_hdr_meta(src, &b->meta);
		b->meta_reported = 1;
	}
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
	if (b->hostile == HOSTILE_SCRIBBLE_PIXELS)
		pthread_mutex_lock(&b->lock); /* see scribble_pixels */
	render(b, ring->slot[slot], ring->stride);
	fp_signature_write(ring->slot[slot], ring->stride, b->width, b->height, fmt_of(b),
			   fp_source_next_seq(src), ring->generation);
	/* The frame exists once it is complete, as a compositor's frame does at present time:
	 * that is its capture time, and latency downstream is measured from it. */
	if (b->hold_requested)
		hold_slot(b, src, slot);
	else
		r = fp_source_publish(src, slot, b->width, b->height, fmt_of(b), fp_now_ns());
	if (b->hostile == HOSTILE_SCRIBBLE_PIXELS)
		pthread_mutex_unlock(&b->lock);
	/* Take the count straight back: the host woke for it, and finds nothing to read. */
	if (b->hostile == HOSTILE_STEAL_EVENT && b->armed)
		fp_event_consume(ring->event_fd);
	if (b->hold || r < 0)
		return 0;
	if (!b->armed && ++b->published_total >= b->hostile_after) {
		pthread_mutex_lock(&b->lock);
		b->armed = 1;
		pthread_cond_broadcast(&b->armed_cond);
		pthread_mutex_unlock(&b->lock);
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
	unmap_ring(b);
	if (ring) {
		void *p = mmap(NULL, sizeof(*b->status), PROT_READ | PROT_WRITE, MAP_SHARED,
			       ring->status_fd, 0);

		b->status = p == MAP_FAILED ? NULL : p;
		b->event_fd = fcntl(ring->event_fd, F_DUPFD_CLOEXEC, 0);
		b->slot_size = ring->slot_size;
		b->ring_len = ring->ring_len;
		for (uint32_t i = 0; b->hostile == HOSTILE_SCRIBBLE_PIXELS && i < ring->ring_len; i++) {
			p = mmap(NULL, ring->slot_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 ring->slot_fd[i], 0);
			b->slots[i] = p == MAP_FAILED ? NULL : p;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void test_kick(struct fp_backend *b)
{
	/* answer-kick=N: a display that wakes up only on the Nth nudge. */
	if (++b->kicks_seen >= b->answer_kick)
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
	.check_spec = test_check_spec,
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
