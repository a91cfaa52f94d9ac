/* framepush — per-frame signature the test source writes into its pixels (part of the
 * contract: the host verifies the test source's frames with it).
 *
 * The first 32 bytes of row 0 hold eight little-endian u32 words:
 *   magic, frame number, ring generation, width, height, format, checksum lo, checksum hi
 * The 64-bit checksum covers the first six words and a sample of the frame, placed by the
 * frame number so that a writer cannot be right only where a fixed sample looks (row bytes
 * = width * bpp; in row 0 "its start" means from byte 32, past the header):
 *   - the first and the last 16 bytes of every row;
 *   - 64 bytes inside every row, at a column that moves 37 chunks from row to row and one
 *     chunk from frame to frame (each row's whole inside once in that many frames);
 *   - whole rows: every K-th row from row (frame mod K), K the smallest step that keeps them
 *     within FP_SIG_ROWS_BYTES. A frame of at most FP_SIG_ROWS_BYTES (320x180 SDR) is thus
 *     covered byte for byte, and every row of a larger one once in K consecutive frames
 *     (1920x1080: K = 32 SDR, 64 HDR); rows under 256 bytes are always taken whole.
 * What a valid checksum proves: the header is the one the writer wrote with these bytes (a
 * frame of another number, generation or geometry fails), and no sampled byte changed since.
 * So a torn or partly stale frame fails when its stale part reaches the end of a row, or
 * covers K rows, or meets a sampled row or chunk. The test source's moving pattern changes
 * every pixel every frame, so any of its frames torn along rows (a writer stopped part way,
 * a stale row) fails; damage only inside rows and shorter than K rows may pass one frame.
 * A whole old frame is intact: staleness is the caller's test, sig->frame and
 * sig->generation against the token it consumed. */
#ifndef FP_CHANNEL_SIGNATURE_H
#define FP_CHANNEL_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#define FP_SIG_MAGIC 0x47495346u /* "FSIG" */
#define FP_SIG_BYTES 32u
/* Whole rows each checksum covers at most (see above). */
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
