/* Runs a fuzz target on N deterministic pseudo-random inputs (no libFuzzer needed), so
 * every build, including the sanitizer build, exercises it as a test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "framepush/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern unsigned long fp_fuzz_status_count[FP_SRC_STATUS_MAX + 1];

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	uint64_t x = 0x243f6a8885a308d3ull;
	uint8_t buf[256];

	for (unsigned long i = 0; i < n; i++) {
		size_t len;

		x ^= x << 13; /* advance even when the last input was empty, or it stays empty */
		x ^= x >> 7;
		x ^= x << 17;
		len = (size_t)((x >> 29) % sizeof(buf));

		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[k] = (uint8_t)x;
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz smoke: %lu inputs, no crash, no fd leak; statuses:", n);
	for (int s = 0; s <= FP_SRC_STATUS_MAX; s++)
		printf(" %d:%lu", s, fp_fuzz_status_count[s]);
	printf("\n");
	/* A run that never got past the first check would prove nothing. */
	return fp_fuzz_status_count[FP_SRC_OPENED] && fp_fuzz_status_count[FP_SRC_BAD_SIZE] &&
			       fp_fuzz_status_count[FP_SRC_NO_SEALS] &&
			       fp_fuzz_status_count[FP_SRC_CONTROL_WRITABLE] &&
			       fp_fuzz_status_count[FP_SRC_BAD_EVENT]
		       ? 0
		       : 1;
}
