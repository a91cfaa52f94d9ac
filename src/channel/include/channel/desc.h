/* framepush — the display descriptor in the status block, under a seqlock.
 *
 * The source rewrites the descriptor whenever its display changes, and the host may read it
 * at any moment. desc_serial is odd while a write is under way and even (never 0) once it
 * is complete, so a host never acts on a mixture of two descriptors: a spurious recreate to
 * a size nobody reported, or half of one HDR10 record and half of another. */
#ifndef FP_CHANNEL_DESC_H
#define FP_CHANNEL_DESC_H

#include <stdint.h>

#include "framepush/proto.h"

struct fp_desc {
	uint32_t width, height, format;
	struct fp_hdr_meta hdr;
};

/* The serial after s: even, never 0 (0 means "never written"). */
uint32_t fp_desc_next_serial(uint32_t s);

/* Source: writes d as serial (even, from fp_desc_next_serial). */
void fp_desc_write(struct fp_status *st, const struct fp_desc *d, uint32_t serial);

/* Host: copies the descriptor into *d. Returns its serial when the copy is one complete
 * write, 0 when none was ever written or a write was under way (try again later). Never
 * waits: a source that keeps the serial odd only delays its own descriptor. */
uint32_t fp_desc_read(const struct fp_status *st, struct fp_desc *d);

#endif
