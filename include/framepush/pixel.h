/* framepush — what a pixel means: the source pixel formats and the display's HDR10 colour
 * volume. The lowest layer: the channel's contract, the converters, the capturer and the
 * encoders all use these one definitions. */
#ifndef FRAMEPUSH_PIXEL_H
#define FRAMEPUSH_PIXEL_H

#include <stddef.h>
#include <stdint.h>

/* Pixel formats of a source frame (a ring slot). The values are on the wire (proto.h). */
enum fp_pixfmt {
	FP_PIXFMT_NONE = 0,
	FP_PIXFMT_XRGB8888 = 1, /* SDR: bytes B,G,R,X; sRGB-encoded BT.709 */
	FP_PIXFMT_RGBA16F = 2,  /* HDR: 4 x IEEE half, scRGB linear, BT.709 primaries, 1.0 = 80 nits */
};

/* Bytes per pixel of fmt; 0 for a value that is not a format (a peer's word, unchecked). */
static inline uint32_t fp_pixfmt_bpp(uint32_t fmt)
{
	return fmt == FP_PIXFMT_XRGB8888 ? 4u : fmt == FP_PIXFMT_RGBA16F ? 8u : 0u;
}

/* SMPTE ST 2086 mastering display colour volume + CTA-861.3 content light level, in the
 * units the HEVC SEI, x265 and SVT-AV1 take (exact integers, no float rounding on the way to
 * the bitstream): chromaticity in 0.00002 steps (0.708 -> 35400), luminance in 0.0001 cd/m2
 * steps (1000 nits -> 10000000), light levels in cd/m2. It is also the wire layout of the
 * record a source reports (proto.h pins every offset). All zero means "not given". */
#define FP_HDR10_CHROMA_DEN 50000u /* chromaticity 1.0 */
#define FP_HDR10_LUMA_DEN 10000u   /* 1 cd/m2 */

struct fp_hdr10 {
	uint16_t red_x, red_y, green_x, green_y, blue_x, blue_y;
	uint16_t white_x, white_y;
	uint32_t max_luminance;  /* 0.0001 cd/m2 */
	uint32_t min_luminance;  /* 0.0001 cd/m2 */
	uint16_t max_cll;        /* cd/m2 */
	uint16_t max_fall;       /* cd/m2 */
};

/* The baseline used when a display gives no record of its own: BT.2020 primaries, D65
 * white, a 1000 / 0.0001 nit mastering display, MaxCLL 1000, MaxFALL 400. */
extern const struct fp_hdr10 fp_hdr10_generic;

/* m unless it is all zero ("not given"), else &fp_hdr10_generic: the one place that rule
 * lives. */
const struct fp_hdr10 *fp_hdr10_or_generic(const struct fp_hdr10 *m);

/* Why m cannot be used, or NULL when it is valid. The limits are what ST 2086 / CTA-861.3
 * can express and x265 / SVT-AV1 accept. */
const char *fp_hdr10_problem(const struct fp_hdr10 *m);

#endif
