/* framepush — per-frame signature the test source writes into its pixels (part of the
 * contract: the host verifies the test source's frames with it).
 *
 * The first 32 bytes of row 0 hold eight little-endian u32 words:
 *   magic, frame number, ring generation, width, height, format, checksum lo, checksum hi
 * The 64-bit checksum covers the first six words and a sample of the frame, placed by the
 * frame number so that a writer cannot be right only where a fixed sample looks (row bytes
 * = width * bpp; row 0's bytes start at 32, past the header):
 *   - the first and the last 16 bytes of every row;
 *   - in every row of 256 bytes or more, one 64-byte chunk: chunk (37 * y + frame) mod C of
 *     the C = (row bytes - 80) / 64 chunks from byte 64 on, so it moves from row to row and
 *     from frame to frame;
 *   - whole rows: every K-th row from row (frame mod K), K = ceil(row bytes * height /
 *     FP_SIG_ROWS_BYTES), at least 1: about FP_SIG_ROWS_BYTES of rows. A frame of at most
 *     FP_SIG_ROWS_BYTES (320x180 SDR) is thus covered byte for byte, and every row of a larger one once in K consecutive frames
 *     (1920x1080: K = 32 SDR, 64 HDR). Rows under 256 bytes are always taken whole.
 * What a valid checksum proves: the header is the one the writer wrote with these bytes (a
 * frame of another number, generation or geometry fails), and no sampled byte changed since
 * (up to a 64-bit checksum's chance). So a frame partly left from another one fails when a
 * byte that differs lies in the sample: at a row's end, in a row taken whole (a stale part
 * K rows tall always meets one) or in a row's chunk. The test source's moving pattern
 * changes every pixel every frame, so its frames torn along rows (a writer stopped part
 * way, a reader that overtook it, a stale row) always fail; a stale part inside rows and
 * under K rows tall may pass one frame. A whole old frame is intact: staleness is the
 * caller's test, sig->frame and sig->generation against the token it consumed. */
#ifndef FP_CHANNEL_SIGNATURE_H
#define FP_CHANNEL_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#define FP_SIG_MAGIC 0x47495346u /* "FSIG" */
#define FP_SIG_BYTES 32u
/* About how many bytes of whole rows a checksum covers (see above). */
#define FP_SIG_ROWS_BYTES (256u * 1024u)

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

/* Checksums the frame's sample and writes its signature in place. */
void fp_signature_write(uint8_t *pixels, size_t stride, uint32_t width, uint32_t height,
			uint32_t format, uint32_t frame, uint32_t generation);

/* Verifies a frame; fills *sig from the header when the magic is present. */
enum fp_sig_result fp_signature_check(const uint8_t *pixels, size_t stride, uint32_t width,
				      uint32_t height, uint32_t format, struct fp_signature *sig);

const char *fp_sig_result_name(enum fp_sig_result r);

#endif
