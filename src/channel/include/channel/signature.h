/* framepush — per-frame signature the test source writes into its pixels (part of the
 * contract: the host verifies the test source's frames with it).
 *
 * The first 32 bytes of row 0 hold eight little-endian u32 words:
 *   magic, frame number, ring generation, width, height, format, checksum lo, checksum hi
 * The checksum covers every other pixel byte of the frame (row bytes = width * bpp), so a
 * consumer can prove a frame is whole (not torn), of the generation it expects, and new. */
#ifndef FP_CHANNEL_SIGNATURE_H
#define FP_CHANNEL_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#define FP_SIG_MAGIC 0x47495346u /* "FSIG" */
#define FP_SIG_BYTES 32u

struct fp_signature {
	uint32_t frame, generation, width, height, format;
};

enum fp_sig_result {
	FP_SIG_OK = 0,
	FP_SIG_NONE,       /* frame too narrow to carry a signature */
	FP_SIG_BAD_MAGIC,  /* not a signed frame (garbage, unwritten slot) */
	FP_SIG_BAD_SUM,    /* torn or corrupted */
	FP_SIG_BAD_GEOMETRY,
};

/* Checksums the frame and writes its signature in place. */
void fp_signature_write(uint8_t *pixels, size_t stride, uint32_t width, uint32_t height,
			uint32_t format, uint32_t frame, uint32_t generation);

/* Verifies a frame; fills *sig from the header when the magic is present. */
enum fp_sig_result fp_signature_check(const uint8_t *pixels, size_t stride, uint32_t width,
				      uint32_t height, uint32_t format, struct fp_signature *sig);

const char *fp_sig_result_name(enum fp_sig_result r);

#endif
