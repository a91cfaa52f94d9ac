/* Runs a fuzz target on N deterministic pseudo-random inputs and on every corpus file named
 * after N (no libFuzzer needed), so every build, the sanitizer builds included, exercises it
 * as a test. The target's fp_fuzz_smoke_verdict() then says whether the inputs got deep
 * enough to prove anything. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fp_fuzz_smoke_verdict(unsigned long inputs);

static void run_file(const char *path)
{
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "fuzz smoke: cannot read %s\n", path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	uint64_t x = 0x243f6a8885a308d3ull;
	uint8_t buf[256];

	for (int i = 2; i < argc; i++)
		run_file(argv[i]);
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
	return fp_fuzz_smoke_verdict(n + (unsigned long)(argc > 2 ? argc - 2 : 0));
}
