/* framepush — converter internals shared by the scalar, SSE2, SSSE3 and AVX2 kernels.
 * Private helpers carry a cv_ prefix; half floats decode with common/half.h.
 *
 * Everything here is static inline or a plain declaration so that the per-ISA static
 * libraries need no symbol from libframepush (no link-order cycle); the PQ table reaches
 * them through the job.
 */
#ifndef FP_CONVERT_INTERNAL_H
#define FP_CONVERT_INTERNAL_H

#include <float.h>
#include <stdint.h>
#include <string.h>

#include "common/half.h"

/* ---- SDR: BT.709 limited range, fixed point ----
 * Y  = 16  + 219/255 * (Kr R + Kg G + Kb B)                   R,G,B = 0..255 codes
 * Cb = 128 + 224/255 * (B - Y') / (2 (1 - Kb))                Y' = Kr R + Kg G + Kb B
 * Cr = 128 + 224/255 * (R - Y') / (2 (1 - Kr))
 * Chroma is left-sited (doc/convert.md): block i of a row pair takes columns 2i-1, 2i, 2i+1
 * with weights 1, 2, 1 in both rows (column -1 replicates column 0). Scalar and SSE2: luma
 * uses Q15 weights; chroma works on the weighted SUM of those 6 pixels (= 8 x the filtered
 * value), so Q16 weights and a >> 19 give it exactly; weight rounding costs < 0.02 code.
 * (SSSE3 and AVX2 use 8.8 pmaddubsw luma and pavgb chroma: convert_avx2.c.) */
#define FP_KR 0.2126
#define FP_KB 0.0722
#define FP_KG (1.0 - FP_KR - FP_KB)
#define FP_QROUND(x) ((int32_t)((x) < 0 ? (x) - 0.5 : (x) + 0.5))

#define FP_Y_B FP_QROUND(FP_KB * 219.0 / 255.0 * 32768.0)
#define FP_Y_G FP_QROUND(FP_KG * 219.0 / 255.0 * 32768.0)
#define FP_Y_R FP_QROUND(FP_KR * 219.0 / 255.0 * 32768.0)
#define FP_Y_BIAS ((16 << 15) + (1 << 14))

#define FP_CB_B FP_QROUND(0.5 * 224.0 / 255.0 * 65536.0)
#define FP_CB_G FP_QROUND(-FP_KG / (2.0 * (1.0 - FP_KB)) * 224.0 / 255.0 * 65536.0)
#define FP_CB_R FP_QROUND(-FP_KR / (2.0 * (1.0 - FP_KB)) * 224.0 / 255.0 * 65536.0)
#define FP_CR_B FP_QROUND(-FP_KB / (2.0 * (1.0 - FP_KR)) * 224.0 / 255.0 * 65536.0)
#define FP_CR_G FP_QROUND(-FP_KG / (2.0 * (1.0 - FP_KR)) * 224.0 / 255.0 * 65536.0)
#define FP_CR_R FP_QROUND(0.5 * 224.0 / 255.0 * 65536.0)
#define FP_C_SHIFT 19
#define FP_C_BIAS ((128 << FP_C_SHIFT) + (1 << (FP_C_SHIFT - 1)))

/* ---- HDR: scRGB -> BT.2020 -> PQ -> BT.2020 NCL limited 10-bit ---- */
/* BT.709 -> BT.2020 primaries (BT.2087), linear light. Every entry is positive, so +Inf in
 * any input channel gives +Inf (never NaN) once NaN and -Inf inputs are zeroed. */
#define FP_M00 0.627403895934699
#define FP_M01 0.329283038377884
#define FP_M02 0.043313065687417
#define FP_M10 0.069097289358232
#define FP_M11 0.919540395075459
#define FP_M12 0.011362315566309
#define FP_M20 0.016391438875150
#define FP_M21 0.088013307877226
#define FP_M22 0.895595253247624
#define FP_SCRGB_PEAK 125.0 /* 10000 nits / 80 nits */

#define FP_KR2020 0.2627
#define FP_KB2020 0.0593
#define FP_KG2020 (1.0 - FP_KR2020 - FP_KB2020)

/* Linear -> PQ table, indexed by the float bits of the clipped linear value: 1024 buckets per
 * octave from 2^-32 (PQ < 0.02 code) up to 125. Entries are PQ * 65535 as floats (156 KiB,
 * in L2; float entries save the AVX2 kernel a mask and a convert per lookup), each the
 * midpoint of its bucket's PQ range, so the table error is <= max dPQ/dlnL (0.109) *
 * ln(1 + 2^-10) / 2 = 5.3e-5 in PQ, i.e. < 0.05 code after the worst 10-bit chroma gain
 * (896). 256 buckets per octave (40 KiB, in L1) measured ~6 % faster in cache and the same
 * at 1080p, but put 4x as many codes one off the exact value (doc/convert.md). */
#define FP_PQ_BASE_BITS 0x2F800000u /* 2^-32 */
#define FP_PQ_SHIFT 13
#define FP_PQ_ENTRIES 39889u
#define FP_PQ_TABLE_LEN FP_PQ_ENTRIES

/* Y'CbCr from PQ samples scaled to 0..65535 (luma: per pixel; chroma: the [1 2 1] x 2-row
 * weighted sum, 8 x the filtered value). */
#define FP_HY_R ((float)(876.0 * FP_KR2020 / 65535.0))
#define FP_HY_G ((float)(876.0 * FP_KG2020 / 65535.0))
#define FP_HY_B ((float)(876.0 * FP_KB2020 / 65535.0))
#define FP_HCB_S (896.0 / (2.0 * (1.0 - FP_KB2020)) / (8.0 * 65535.0))
#define FP_HCR_S (896.0 / (2.0 * (1.0 - FP_KR2020)) / (8.0 * 65535.0))
#define FP_HCB_R ((float)(-FP_KR2020 * FP_HCB_S))
#define FP_HCB_G ((float)(-FP_KG2020 * FP_HCB_S))
#define FP_HCB_B ((float)((1.0 - FP_KB2020) * FP_HCB_S))
#define FP_HCR_R ((float)((1.0 - FP_KR2020) * FP_HCR_S))
#define FP_HCR_G ((float)(-FP_KG2020 * FP_HCR_S))
#define FP_HCR_B ((float)(-FP_KB2020 * FP_HCR_S))

struct fp_convert_job {
	const uint8_t *src;
	size_t src_stride;
	uint32_t w, h;
	uint8_t *dst[2];
	size_t dst_stride[2];
	const float *pq; /* FP_PQ_TABLE_LEN entries */
};

/* Converts rows [y0, y1); y0 is even, y1 is even or h. */
typedef void (*fp_convert_rows_fn)(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);

void fp_sdr_rows_scalar(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);
void fp_hdr_rows_scalar(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);
void fp_sdr_rows_sse2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);
void fp_hdr_rows_sse2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);
void fp_sdr_rows_ssse3(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);
void fp_sdr_rows_avx2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);
void fp_hdr_rows_avx2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1);

/* Builds the table once per process (thread-safe); never fails. */
const float *fp_pq_table(void);

/* Row pointers of one row pair; for an odd last row, row 1 aliases row 0 (edge replication)
 * and its luma is written to row 0 again with identical values. */
struct cv_rowpair {
	const uint8_t *s0, *s1;
	uint8_t *y0, *y1, *uv;
};

static inline struct cv_rowpair cv_rowpair(const struct fp_convert_job *job, uint32_t y)
{
	struct cv_rowpair r;

	r.s0 = job->src + (size_t)y * job->src_stride;
	r.y0 = job->dst[0] + (size_t)y * job->dst_stride[0];
	r.s1 = y + 1 < job->h ? r.s0 + job->src_stride : r.s0;
	r.y1 = y + 1 < job->h ? r.y0 + job->dst_stride[0] : r.y0;
	r.uv = job->dst[1] + (size_t)(y / 2) * job->dst_stride[1];
	return r;
}

static inline uint8_t cv_sdr_luma(const uint8_t *p)
{
	return (uint8_t)((FP_Y_B * p[0] + FP_Y_G * p[1] + FP_Y_R * p[2] + FP_Y_BIAS) >> 15);
}

static inline uint8_t cv_clamp_u8(int32_t v, int32_t lo, int32_t hi)
{
	return (uint8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* B, G, R of column x summed over the row pair. */
static inline void cv_sdr_colsum(const struct cv_rowpair *r, uint32_t x, int32_t v[3])
{
	for (int k = 0; k < 3; k++)
		v[k] = r->s0[4 * (size_t)x + k] + r->s1[4 * (size_t)x + k];
}

/* Scalar SDR for pixels [x, w) of a row pair (x even): the SIMD kernels' tail. The left
 * neighbour of block x/2 is column x - 1 (column 0 at the edge); the next block's is this
 * block's right column, carried in vl. */
static inline void cv_sdr_span(const struct cv_rowpair *r, uint32_t x, uint32_t w)
{
	int32_t vl[3], vc[3], vr[3];

	cv_sdr_colsum(r, x ? x - 1 : 0, vl);
	for (; x < w; x += 2) {
		uint32_t x1 = x + 1 < w ? x + 1 : x;
		int32_t s[3];

		cv_sdr_colsum(r, x, vc);
		cv_sdr_colsum(r, x1, vr);
		for (int k = 0; k < 3; k++) {
			s[k] = vl[k] + 2 * vc[k] + vr[k];
			vl[k] = vr[k];
		}
		r->y0[x] = cv_sdr_luma(r->s0 + 4 * (size_t)x);
		r->y0[x1] = cv_sdr_luma(r->s0 + 4 * (size_t)x1);
		r->y1[x] = cv_sdr_luma(r->s1 + 4 * (size_t)x);
		r->y1[x1] = cv_sdr_luma(r->s1 + 4 * (size_t)x1);
		/* Arithmetic >> of a positive sum: the bias keeps it >= 16 << 19. */
		r->uv[x] = cv_clamp_u8((FP_CB_B * s[0] + FP_CB_G * s[1] + FP_CB_R * s[2] + FP_C_BIAS) >> FP_C_SHIFT,
				       16, 240);
		r->uv[x + 1] = cv_clamp_u8((FP_CR_B * s[0] + FP_CR_G * s[1] + FP_CR_R * s[2] + FP_C_BIAS) >> FP_C_SHIFT,
					   16, 240);
	}
}

/* NaN and -Inf become 0; everything else (negatives, +Inf) passes to the matrix. */
static inline float cv_sanitize(float v)
{
	return v >= -FLT_MAX ? v : 0.0f; /* false for NaN and -Inf */
}

/* Linear scRGB (already in [0, 125], +0.0 not -0.0) -> PQ * 65535 via the table. */
static inline float cv_pq_lookup(const float *pq, float v)
{
	uint32_t b;

	memcpy(&b, &v, 4);
	return pq[b < FP_PQ_BASE_BITS ? 0 : (b - FP_PQ_BASE_BITS) >> FP_PQ_SHIFT];
}

static inline float cv_clip_peak(float v)
{
	/* "v > 0" (not fmaxf) so that -0.0 becomes +0.0: its bits would index past the table. */
	v = v > 0.0f ? v : 0.0f;
	return v < (float)FP_SCRGB_PEAK ? v : (float)FP_SCRGB_PEAK;
}

static inline void cv_put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline uint32_t cv_round_clamp10(float v, uint32_t lo, uint32_t hi)
{
	int32_t i = (int32_t)(v + 0.5f);

	return (uint32_t)(i < (int32_t)lo ? lo : i > (int32_t)hi ? hi : (uint32_t)i) << 6;
}

/* One RGBA16F pixel -> PQ R', G', B' (0..65535). */
static inline void cv_hdr_pixel_pq(const float *pq, const uint8_t *p, float out[3])
{
	float r = cv_sanitize(fp_half_to_float((uint16_t)(p[0] | p[1] << 8)));
	float g = cv_sanitize(fp_half_to_float((uint16_t)(p[2] | p[3] << 8)));
	float b = cv_sanitize(fp_half_to_float((uint16_t)(p[4] | p[5] << 8)));

	out[0] = cv_pq_lookup(pq, cv_clip_peak((float)FP_M00 * r + (float)FP_M01 * g + (float)FP_M02 * b));
	out[1] = cv_pq_lookup(pq, cv_clip_peak((float)FP_M10 * r + (float)FP_M11 * g + (float)FP_M12 * b));
	out[2] = cv_pq_lookup(pq, cv_clip_peak((float)FP_M20 * r + (float)FP_M21 * g + (float)FP_M22 * b));
}

static inline void cv_hdr_luma(uint8_t *out, const float p[3])
{
	cv_put_le16(out, cv_round_clamp10(64.0f + FP_HY_R * p[0] + FP_HY_G * p[1] + FP_HY_B * p[2],
					  64, 940));
}

/* PQ R', G', B' of column x summed over the row pair. */
static inline void cv_hdr_colsum(const float *pq, const struct cv_rowpair *r, uint32_t x, float v[3])
{
	float t[3], b[3];

	cv_hdr_pixel_pq(pq, r->s0 + 8 * (size_t)x, t);
	cv_hdr_pixel_pq(pq, r->s1 + 8 * (size_t)x, b);
	for (int k = 0; k < 3; k++)
		v[k] = t[k] + b[k];
}

/* Scalar HDR for pixels [x, w) of a row pair (x even): the SIMD kernels' tail. Chroma sums
 * (vl + vc) + (vc + vr) in this order, as the SIMD kernels do, so that the sums match. */
static inline void cv_hdr_span(const float *pq, const struct cv_rowpair *r, uint32_t x, uint32_t w)
{
	float vl[3];

	cv_hdr_colsum(pq, r, x ? x - 1 : 0, vl);
	for (; x < w; x += 2) {
		uint32_t x1 = x + 1 < w ? x + 1 : x;
		float a[3], b[3], c[3], d[3], s[3];

		cv_hdr_pixel_pq(pq, r->s0 + 8 * (size_t)x, a);
		cv_hdr_pixel_pq(pq, r->s0 + 8 * (size_t)x1, b);
		cv_hdr_pixel_pq(pq, r->s1 + 8 * (size_t)x, c);
		cv_hdr_pixel_pq(pq, r->s1 + 8 * (size_t)x1, d);
		cv_hdr_luma(r->y0 + 2 * (size_t)x, a);
		cv_hdr_luma(r->y0 + 2 * (size_t)x1, b);
		cv_hdr_luma(r->y1 + 2 * (size_t)x, c);
		cv_hdr_luma(r->y1 + 2 * (size_t)x1, d);
		for (int k = 0; k < 3; k++) {
			float vc = a[k] + c[k], vr = b[k] + d[k];

			s[k] = (vl[k] + vc) + (vc + vr);
			vl[k] = vr;
		}
		cv_put_le16(r->uv + 2 * (size_t)x,
			    cv_round_clamp10(512.0f + FP_HCB_R * s[0] + FP_HCB_G * s[1] + FP_HCB_B * s[2], 64, 960));
		cv_put_le16(r->uv + 2 * (size_t)x + 2,
			    cv_round_clamp10(512.0f + FP_HCR_R * s[0] + FP_HCR_G * s[1] + FP_HCR_B * s[2], 64, 960));
	}
}

#endif
