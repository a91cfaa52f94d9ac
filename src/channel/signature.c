#include "channel/signature.h"

#include <string.h>

#include "framepush/proto.h"

/* What a row contributes (signature.h says what that proves). Rows narrower than
 * SIG_SPLIT_ROW are taken whole: their sample would be most of them anyway. */
#define SIG_EDGE 16u      /* bytes at each end of a row */
#define SIG_CHUNK 64u     /* interior bytes of a row, at a column that walks */
#define SIG_INTERIOR 64u  /* where the walking chunk may start: past row 0's header */
#define SIG_SPLIT_ROW 256u
#define SIG_ROW_STEP 37u  /* chunks between the columns of neighbouring rows */

struct sig_hash {
	uint64_t h[4];
};

static const uint64_t fnv_prime = 0x100000001b3ull;

/* Four independent FNV-style lanes keep the multiply chains parallel (about 4x faster than
 * one lane). n is a multiple of 4: row bytes and every sampled piece are. */
static void mix(struct sig_hash *s, const uint8_t *p, size_t n)
{
	size_t x = 0;

	for (; x + 16 <= n; x += 16) {
		uint32_t w[4];

		memcpy(w, p + x, sizeof(w));
		s->h[0] = (s->h[0] ^ w[0]) * fnv_prime;
		s->h[1] = (s->h[1] ^ w[1]) * fnv_prime;
		s->h[2] = (s->h[2] ^ w[2]) * fnv_prime;
		s->h[3] = (s->h[3] ^ w[3]) * fnv_prime;
	}
	for (; x < n; x += 4) {
		uint32_t w;

		memcpy(&w, p + x, sizeof(w));
		s->h[0] = (s->h[0] ^ w) * fnv_prime;
	}
}

/* Every `every`-th row, from row frame % every, is taken whole: about FP_SIG_ROWS_BYTES
 * of rows, and all of a frame that small. */
static uint32_t whole_row_step(size_t row, uint32_t height)
{
	uint64_t bytes = (uint64_t)row * height;

	/* At least 1, also for an empty frame: it is a divisor. */
	if (bytes <= FP_SIG_ROWS_BYTES)
		return 1;
	return (uint32_t)((bytes + FP_SIG_ROWS_BYTES - 1) / FP_SIG_ROWS_BYTES);
}

static void mix_row(struct sig_hash *s, const uint8_t *p, size_t row, uint32_t y, uint32_t frame,
		    int whole)
{
	/* Row 0 starts past the header, which the header words stand for. */
	size_t start = y == 0 ? FP_SIG_BYTES : 0;

	if (whole || row < SIG_SPLIT_ROW) {
		mix(s, p + start, row - start);
	} else {
		size_t chunks = (row - SIG_EDGE - SIG_INTERIOR) / SIG_CHUNK;
		size_t at = SIG_INTERIOR + ((uint64_t)y * SIG_ROW_STEP + frame) % chunks * SIG_CHUNK;

		mix(s, p + start, SIG_EDGE);
		mix(s, p + at, SIG_CHUNK);
		mix(s, p + row - SIG_EDGE, SIG_EDGE);
	}
	/* Binds the bytes to their row: rows swapped or shifted do not sum the same. */
	s->h[1] = (s->h[1] ^ y) * fnv_prime;
}

/* The checksum of header words w[0..5] and the sample of the frame they describe. */
static uint64_t checksum(const uint8_t *pixels, size_t stride, const uint32_t w[6], uint32_t bpp)
{
	struct sig_hash s = { { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 1, 2 } };
	uint32_t frame = w[1], height = w[4];
	size_t row = (size_t)w[3] * bpp;
	uint32_t every = whole_row_step(row, height);
	uint32_t first = frame % every;

	mix(&s, (const uint8_t *)w, 6 * sizeof(uint32_t));
	for (uint32_t y = 0; y < height; y++)
		mix_row(&s, pixels + (size_t)y * stride, row, y, frame, y % every == first);
	return s.h[0] ^ (s.h[1] * 3) ^ (s.h[2] * 5) ^ (s.h[3] * 7);
}

void fp_signature_write(uint8_t *pixels, size_t stride, uint32_t width, uint32_t height,
			uint32_t format, uint32_t frame, uint32_t generation)
{
	uint32_t bpp = fp_pixfmt_bpp(format);
	uint64_t sum;
	uint32_t w[8];

	if ((size_t)width * bpp < FP_SIG_BYTES)
		return;
	w[0] = FP_SIG_MAGIC;
	w[1] = frame;
	w[2] = generation;
	w[3] = width;
	w[4] = height;
	w[5] = format;
	sum = checksum(pixels, stride, w, bpp);
	w[6] = (uint32_t)sum;
	w[7] = (uint32_t)(sum >> 32);
	memcpy(pixels, w, sizeof(w));
}

enum fp_sig_result fp_signature_check(const uint8_t *pixels, size_t stride, uint32_t width,
				      uint32_t height, uint32_t format, struct fp_signature *sig)
{
	uint32_t bpp = fp_pixfmt_bpp(format);
	uint64_t sum;
	uint32_t w[8];

	memset(sig, 0, sizeof(*sig));
	if (bpp == 0 || (size_t)width * bpp < FP_SIG_BYTES)
		return FP_SIG_NONE;
	/* One copy of the header: everything below uses it, never the slot's bytes again. */
	memcpy(w, pixels, sizeof(w));
	if (w[0] != FP_SIG_MAGIC)
		return FP_SIG_BAD_MAGIC;
	sig->frame = w[1];
	sig->generation = w[2];
	sig->width = w[3];
	sig->height = w[4];
	sig->format = w[5];
	/* The sample is placed by the caller's geometry: the header's must equal it. */
	if (w[3] != width || w[4] != height || w[5] != format)
		return FP_SIG_BAD_GEOMETRY;
	sum = checksum(pixels, stride, w, bpp);
	if (w[6] != (uint32_t)sum || w[7] != (uint32_t)(sum >> 32))
		return FP_SIG_BAD_SUM;
	return FP_SIG_OK;
}

const char *fp_sig_result_name(enum fp_sig_result r)
{
	switch (r) {
	case FP_SIG_OK: return "ok";
	case FP_SIG_NONE: return "none";
	case FP_SIG_BAD_MAGIC: return "bad-magic";
	case FP_SIG_BAD_SUM: return "bad-checksum";
	case FP_SIG_BAD_GEOMETRY: return "bad-geometry";
	}
	return "?";
}
