#include "channel/signature.h"

#include <string.h>

#include "framepush/proto.h"

/* Four independent FNV-style lanes keep the multiply chains parallel (about 4x faster
 * than one lane); row bytes are always a multiple of 4. */
static uint64_t checksum(const uint8_t *pixels, size_t stride, uint32_t width, uint32_t height,
			 uint32_t bpp)
{
	const uint64_t k = 0x100000001b3ull;
	uint64_t h[4] = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 1, 2 };
	size_t row = (size_t)width * bpp;

	for (uint32_t y = 0; y < height; y++) {
		const uint8_t *p = pixels + (size_t)y * stride;
		size_t x = y == 0 ? FP_SIG_BYTES : 0;

		for (; x + 16 <= row; x += 16) {
			uint32_t w[4];

			memcpy(w, p + x, sizeof(w));
			h[0] = (h[0] ^ w[0]) * k;
			h[1] = (h[1] ^ w[1]) * k;
			h[2] = (h[2] ^ w[2]) * k;
			h[3] = (h[3] ^ w[3]) * k;
		}
		for (; x < row; x += 4) {
			uint32_t w;

			memcpy(&w, p + x, sizeof(w));
			h[0] = (h[0] ^ w) * k;
		}
		h[1] ^= y;
	}
	return h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
}

void fp_signature_write(uint8_t *pixels, size_t stride, uint32_t width, uint32_t height,
			uint32_t format, uint32_t frame, uint32_t generation)
{
	uint32_t bpp = fp_pixfmt_bpp(format);
	uint64_t sum;
	uint32_t w[8];

	if ((size_t)width * bpp < FP_SIG_BYTES)
		return;
	sum = checksum(pixels, stride, width, height, bpp);
	w[0] = FP_SIG_MAGIC;
	w[1] = frame;
	w[2] = generation;
	w[3] = width;
	w[4] = height;
	w[5] = format;
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
	memcpy(w, pixels, sizeof(w));
	if (w[0] != FP_SIG_MAGIC)
		return FP_SIG_BAD_MAGIC;
	sig->frame = w[1];
	sig->generation = w[2];
	sig->width = w[3];
	sig->height = w[4];
	sig->format = w[5];
	if (w[3] != width || w[4] != height || w[5] != format)
		return FP_SIG_BAD_GEOMETRY;
	sum = checksum(pixels, stride, width, height, bpp);
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
