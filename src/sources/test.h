/* framepush — the test pattern backend's parts, for a driver that adds to them.
 *
 * framepush-source runs the pattern as fp_backend_test. The test peer (tests/peers) runs the
 * same pattern with test-only controls and attacks around it: it calls these parts instead
 * of carrying a copy, and the product's backend table has no hook for it. The object is the
 * one fp_backend_test.create made. Not installed. */
#ifndef FP_SOURCES_TEST_H
#define FP_SOURCES_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* The next frame, if one is due (timer, or a kick when idle): rendered and signed into an
 * acquired slot of the current ring, not yet published. Returns the slot, or -1 when there
 * is nothing to publish (not due, muted, no ring, no free slot, or a mode the ring does not
 * have yet). Call it on every dispatch: it also keeps the timer going. */
int fp_test_pattern_draw(struct fp_backend *b, struct fp_source *src);
/* Draws frame number `frame` of the pattern in the current mode into px (height rows of
 * stride bytes), unsigned: what fp_test_pattern_draw puts into a slot before it signs it.
 * For the benchmark and the signature tests, which need the real pattern without a ring. */
void fp_test_pattern_render(struct fp_backend *b, uint8_t *px, size_t stride, uint32_t frame);
/* Publishes a slot fp_test_pattern_draw returned: fp_source_publish()'s result. */
int fp_test_pattern_publish(struct fp_backend *b, struct fp_source *src, int slot);
/* After a successful publish: counts it for flip-every. */
void fp_test_pattern_published(struct fp_backend *b, struct fp_source *src);

/* The display becomes width x height, HDR (RGBA16F) or SDR: a new descriptor. */
void fp_test_pattern_set_mode(struct fp_backend *b, struct fp_source *src, uint32_t width,
			      uint32_t height, int hdr);
/* The spec keys idle= and mute=, changed while the source runs. */
void fp_test_pattern_set_idle(struct fp_backend *b, int idle);
void fp_test_pattern_set_mute(struct fp_backend *b, int mute);

#endif
