/* framepush fuzz targets: the fuzzer's input read as a stream of values. Reads past its end
 * give zeros, so every input, however short, builds a whole test case. */
#ifndef FP_FUZZ_BYTES_H
#define FP_FUZZ_BYTES_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_bytes {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_take(struct fuzz_bytes *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

/* Four bytes, big-endian. */
static inline uint32_t fuzz_take32(struct fuzz_bytes *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | fuzz_take(in);
	return v;
}

#endif
