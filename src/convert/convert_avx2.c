/* framepush — AVX2 (+F16C, FMA) kernels. SDR: 32 pixels of each row of a row pair per step,
 * pmaddubsw luma and pavgb chroma (left-sited, doc/convert.md). HDR: 16 pixels,
 * F16C decode, FMA matrix, PQ by gathers from the shared table. The scalar span finishes
 * each row. Built with -mavx2 -mf16c -mfma and only reached after the CPU check in
 * convert.c. */
#include "convert_internal.h"

#include <immintrin.h>

/* SDR luma in 8.8 fixed point with pmaddubsw: pixels are shuffled to B,G,R,G so that G's
 * weight is split over two signed bytes and each pair sum fits s16:
 *   B*16 + G*79 <= 24225,  R*47 + G*78 <= 31875.
 * The per-pixel sum (<= 56100) wraps in phaddw but is exact as u16. Weight rounding
 * (0.13, 0.24, 0.26 / 256 for B, G, R) costs < 0.4 code, inside the 1-code contract. */
#define Y8_B 16
#define Y8_G1 79
#define Y8_G2 78
#define Y8_R 47
#define Y8_BIAS ((16 << 8) + 128)

static inline __m256i luma_pairs(__m256i v)
{
	const __m256i shuf = _mm256_setr_epi8(0, 1, 2, 1, 4, 5, 6, 5, 8, 9, 10, 9, 12, 13, 14, 13,
					      0, 1, 2, 1, 4, 5, 6, 5, 8, 9, 10, 9, 12, 13, 14, 13);
	const __m256i coef = _mm256_setr_epi8(Y8_B, Y8_G1, Y8_R, Y8_G2, Y8_B, Y8_G1, Y8_R, Y8_G2,
					      Y8_B, Y8_G1, Y8_R, Y8_G2, Y8_B, Y8_G1, Y8_R, Y8_G2,
					      Y8_B, Y8_G1, Y8_R, Y8_G2, Y8_B, Y8_G1, Y8_R, Y8_G2,
					      Y8_B, Y8_G1, Y8_R, Y8_G2, Y8_B, Y8_G1, Y8_R, Y8_G2);

	return _mm256_maddubs_epi16(_mm256_shuffle_epi8(v, shuf), coef);
}

/* 16 pixels (a: 0-7, b: 8-15) -> u16 luma, order [0-3 8-11 | 4-7 12-15]. */
static inline __m256i luma16(__m256i a, __m256i b)
{
	__m256i s = _mm256_hadd_epi16(luma_pairs(a), luma_pairs(b));

	return _mm256_srli_epi16(_mm256_add_epi16(s, _mm256_set1_epi16(Y8_BIAS)), 8);
}

/* [B G R X] pair sums of pixels (0 1) and (2 3) of each lane. */
static inline __m256i pairs(__m256i v)
{
	const __m256i shuf = _mm256_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15,
					      0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);

	return _mm256_maddubs_epi16(_mm256_shuffle_epi8(v, shuf), _mm256_set1_epi8(1));
}

/* Left-sited chroma of 4 blocks from 8 row-averaged pixels m (pavgb of the row pair) and the
 * same one column to the left, `left` (pixels -1..6). left's pair sums (2i-1, 2i) plus m's
 * (2i, 2i+1) give the 1 2 1 weights (<= 1020, exact in i16).
 * pavgb rounds up: each averaged pixel is (row sum) / 2 + d, d in [0, 1/2], so the weighted
 * sum is (the scalar path's sum) / 2 + e, e in [0, 2]. With Q16 weights and >> 18, e costs at
 * most 2 * 28784 / 2^18 = 0.22 code, and since the Cb and Cr weights each sum to ~0, the
 * rounding bias cancels for grey.
 * Result: [cb0 cb1 cr0 cr1 | cb2 cb3 cr2 cr3] (i32; sdr32 interleaves after packing);
 * extreme blocks stay inside 16..240 (the filter is a convex combination). */
static inline __m256i chroma4(__m256i left, __m256i m)
{
	const __m256i cbc = _mm256_setr_epi16(FP_CB_B, FP_CB_G, FP_CB_R, 0, FP_CB_B, FP_CB_G, FP_CB_R, 0,
					      FP_CB_B, FP_CB_G, FP_CB_R, 0, FP_CB_B, FP_CB_G, FP_CB_R, 0);
	const __m256i crc = _mm256_setr_epi16(FP_CR_B, FP_CR_G, FP_CR_R, 0, FP_CR_B, FP_CR_G, FP_CR_R, 0,
					      FP_CR_B, FP_CR_G, FP_CR_R, 0, FP_CR_B, FP_CR_G, FP_CR_R, 0);
	__m256i blk = _mm256_add_epi16(pairs(m), pairs(left));
	__m256i c = _mm256_hadd_epi32(_mm256_madd_epi16(blk, cbc), _mm256_madd_epi16(blk, crc));

	return _mm256_srai_epi32(_mm256_add_epi32(c, _mm256_set1_epi32(FP_C_BIAS >> 1)), FP_C_SHIFT - 1);
}

/* The 8 pixels starting one column left of p0 / p1, row-averaged: the left chroma neighbours
 * by unaligned loads (the lines are in L1 already), which cost no shuffle-port work, unlike an
 * alignr + lane permute per vector. Only for x > 0. */
static inline __m256i avg_left(const uint8_t *p0, const uint8_t *p1)
{
	return _mm256_avg_epu8(_mm256_loadu_si256((const __m256i *)(const void *)(p0 - 4)),
			       _mm256_loadu_si256((const __m256i *)(const void *)(p1 - 4)));
}

/* One row pair, 32 pixels: 8 loads (+ 8 shifted ones that hit the same lines), 2 x 32-byte
 * luma stores, one 32-byte CbCr store. */
static inline void sdr32(const struct cv_rowpair *r, uint32_t x)
{
	/* Qword order after the per-lane packs: [0-3 8-11 | 4-7 12-15] x 2 -> 0..31. */
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	const __m256i *p0 = (const __m256i *)(const void *)(r->s0 + 4 * (size_t)x);
	const __m256i *p1 = (const __m256i *)(const void *)(r->s1 + 4 * (size_t)x);
	__m256i a0 = _mm256_loadu_si256(p0), b0 = _mm256_loadu_si256(p0 + 1);
	__m256i c0 = _mm256_loadu_si256(p0 + 2), d0 = _mm256_loadu_si256(p0 + 3);
	__m256i a1 = _mm256_loadu_si256(p1), b1 = _mm256_loadu_si256(p1 + 1);
	__m256i c1 = _mm256_loadu_si256(p1 + 2), d1 = _mm256_loadu_si256(p1 + 3);
	const uint8_t *q0 = r->s0 + 4 * (size_t)x, *q1 = r->s1 + 4 * (size_t)x;
	__m256i y, c, ma, mb, mc, md, la;

	/* luma16 gives [0-3 8-11 | 4-7 12-15]; packus of two such adds 16-31 per lane. */
	y = _mm256_packus_epi16(luma16(a0, b0), luma16(c0, d0));
	_mm256_storeu_si256((__m256i *)(void *)(r->y0 + x), _mm256_permutevar8x32_epi32(y, order));
	y = _mm256_packus_epi16(luma16(a1, b1), luma16(c1, d1));
	_mm256_storeu_si256((__m256i *)(void *)(r->y1 + x), _mm256_permutevar8x32_epi32(y, order));

	ma = _mm256_avg_epu8(a0, a1);
	mb = _mm256_avg_epu8(b0, b1);
	mc = _mm256_avg_epu8(c0, c1);
	md = _mm256_avg_epu8(d0, d1);
	if (x == 0) { /* column -1 replicates column 0: [m0 m0-2 | m3-6] */
		la = _mm256_broadcastd_epi32(_mm256_castsi256_si128(ma));
		la = _mm256_alignr_epi8(ma, _mm256_permute2x128_si256(la, ma, 0x21), 12);
	} else {
		la = avg_left(q0, q1);
	}
	/* chroma4 gives block pairs [0 1 | 2 3]; packs -> [0 1 4 5 | 2 3 6 7] words, then packus
	 * -> dwords (block pairs) [0-1 4-5 8-9 12-13 | 2-3 6-7 10-11 14-15], each dword holding
	 * cb cb cr cr: one pshufb interleaves, the luma order fix sorts the pairs. */
	c = _mm256_packus_epi16(_mm256_packs_epi32(chroma4(la, ma), chroma4(avg_left(q0 + 32, q1 + 32), mb)),
				_mm256_packs_epi32(chroma4(avg_left(q0 + 64, q1 + 64), mc),
						   chroma4(avg_left(q0 + 96, q1 + 96), md)));
	c = _mm256_shuffle_epi8(c, _mm256_setr_epi8(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15,
						    0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15));
	_mm256_storeu_si256((__m256i *)(void *)(r->uv + x), _mm256_permutevar8x32_epi32(c, order));
}

void fp_sdr_rows_avx2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	uint32_t wv = job->w & ~31u;

	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);

		for (uint32_t x = 0; x < wv; x += 32)
			sdr32(&r, x);
		cv_sdr_span(&r, wv, job->w);
	}
}

/* Linear BT.2020 values -> PQ * 65535 from the table (8 lookups, one gather). `biased` is
 * the table address minus its first index (FP_PQ_BASE_BITS >> FP_PQ_SHIFT) entries, so the
 * shifted float bits index it directly. No max(v, 0): negative values and -0.0 have the sign
 * bit, so their shifted bits are negative and the integer max sends them to entry 0; +Inf and
 * everything above the peak hit the last entry through the min. */
static inline __m256 pq_lookup8(const float *biased, __m256 v)
{
	__m256i i;

	v = _mm256_min_ps(v, _mm256_set1_ps((float)FP_SCRGB_PEAK));
	i = _mm256_srai_epi32(_mm256_castps_si256(v), FP_PQ_SHIFT);
	i = _mm256_max_epi32(i, _mm256_set1_epi32((int)(FP_PQ_BASE_BITS >> FP_PQ_SHIFT)));
	return _mm256_i32gather_ps(biased, i, 4);
}

static inline __m256 mat3(__m256 r, __m256 g, __m256 b, double m0, double m1, double m2)
{
	return _mm256_fmadd_ps(_mm256_set1_ps((float)m2), b,
			       _mm256_fmadd_ps(_mm256_set1_ps((float)m1), g,
					       _mm256_mul_ps(_mm256_set1_ps((float)m0), r)));
}

/* 8 RGBA16F pixels (64 bytes) -> PQ R', G', B' as floats 0..65535, pixel order. */
static inline void hdr8(const float *pq, const uint8_t *p, __m256 *r, __m256 *g, __m256 *b)
{
	/* per lane [R0 G0 B0 A0 R1 G1 B1 A1] -> dwords [R01 G01 B01 A01] */
	const __m256i shuf = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
					      0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
	const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	const __m256 lowest = _mm256_set1_ps(-FLT_MAX);
	__m256i a = _mm256_loadu_si256((const __m256i *)p), c = _mm256_loadu_si256((const __m256i *)(p + 32));
	__m256i rb, ga;
	__m256 fr, fg, fb;

	a = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(a, shuf), perm); /* R0-3 G0-3 | B0-3 A0-3 */
	c = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(c, shuf), perm);
	rb = _mm256_unpacklo_epi64(a, c); /* R0-7 | B0-7 */
	ga = _mm256_unpackhi_epi64(a, c); /* G0-7 | A0-7 */
	fr = _mm256_cvtph_ps(_mm256_castsi256_si128(rb));
	fg = _mm256_cvtph_ps(_mm256_castsi256_si128(ga));
	fb = _mm256_cvtph_ps(_mm256_extracti128_si256(rb, 1));
	/* NaN and -Inf -> 0 (the compare is false for both). */
	fr = _mm256_and_ps(fr, _mm256_cmp_ps(fr, lowest, _CMP_GE_OQ));
	fg = _mm256_and_ps(fg, _mm256_cmp_ps(fg, lowest, _CMP_GE_OQ));
	fb = _mm256_and_ps(fb, _mm256_cmp_ps(fb, lowest, _CMP_GE_OQ));

	/* Address arithmetic on an integer: the biased pointer is never dereferenced by C. */
	const float *biased = (const float *)(uintptr_t)((uintptr_t)pq - (FP_PQ_BASE_BITS >> FP_PQ_SHIFT) *
									   sizeof(float));

	*r = pq_lookup8(biased, mat3(fr, fg, fb, FP_M00, FP_M01, FP_M02));
	*g = pq_lookup8(biased, mat3(fr, fg, fb, FP_M10, FP_M11, FP_M12));
	*b = pq_lookup8(biased, mat3(fr, fg, fb, FP_M20, FP_M21, FP_M22));
}

static inline __m256 lin3(__m256 r, __m256 g, __m256 b, float cr, float cg, float cb, float add)
{
	return _mm256_fmadd_ps(_mm256_set1_ps(cb), b,
			       _mm256_fmadd_ps(_mm256_set1_ps(cg), g,
					       _mm256_fmadd_ps(_mm256_set1_ps(cr), r, _mm256_set1_ps(add))));
}

static inline __m256i luma_hdr8(__m256 r, __m256 g, __m256 b)
{
	return _mm256_cvtps_epi32(lin3(r, g, b, FP_HY_R, FP_HY_G, FP_HY_B, 64.0f));
}

/* Two i32 x 8 -> 16 u16 in order, clamped, << 6. */
static inline __m256i pack_p010(__m256i a, __m256i b, int lo, int hi)
{
	__m256i v = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);

	v = _mm256_min_epu16(_mm256_max_epu16(v, _mm256_set1_epi16((short)lo)), _mm256_set1_epi16((short)hi));
	return _mm256_slli_epi16(v, 6);
}

/* Left-sited weighted sums of 8 blocks from column sums va (columns 0-7), vb (8-15) and
 * *carry, whose lane 0 is column -1: s = (v[2i-1] + v[2i]) + (v[2i] + v[2i+1]), the scalar
 * span's order, in block order. The left-shifted copies come from a rotate and a blend; hadd
 * of columns 0-7 and 8-15 gives blocks [0 1 4 5 | 2 3 6 7], the qword permute sorts them. */
static inline __m256 sited8(__m256 va, __m256 vb, __m256 *carry)
{
	const __m256i rot = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
	__m256 ra = _mm256_permutevar8x32_ps(va, rot), rb = _mm256_permutevar8x32_ps(vb, rot);
	__m256 la = _mm256_blend_ps(ra, *carry, 1), lb = _mm256_blend_ps(rb, ra, 1);
	__m256 s = _mm256_hadd_ps(_mm256_add_ps(la, va), _mm256_add_ps(lb, vb));

	*carry = rb;
	return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xd8));
}

void fp_hdr_rows_avx2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	uint32_t wv = job->w & ~15u;

	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);
		__m256 carry_r = _mm256_setzero_ps(), carry_g = carry_r, carry_b = carry_r; /* sited8 carries */

		for (uint32_t x = 0; x < wv; x += 16) {
			const uint8_t *p0 = r.s0 + 8 * (size_t)x, *p1 = r.s1 + 8 * (size_t)x;
			__m256 r0a, g0a, b0a, r0b, g0b, b0b, r1a, g1a, b1a, r1b, g1b, b1b;
			__m256 sr, sg, sb, cb, cr;
			__m256i c;

			hdr8(job->pq, p0, &r0a, &g0a, &b0a);
			hdr8(job->pq, p0 + 64, &r0b, &g0b, &b0b);
			hdr8(job->pq, p1, &r1a, &g1a, &b1a);
			hdr8(job->pq, p1 + 64, &r1b, &g1b, &b1b);
			_mm256_storeu_si256((__m256i *)(r.y0 + 2 * (size_t)x),
					    pack_p010(luma_hdr8(r0a, g0a, b0a), luma_hdr8(r0b, g0b, b0b), 64, 940));
			_mm256_storeu_si256((__m256i *)(r.y1 + 2 * (size_t)x),
					    pack_p010(luma_hdr8(r1a, g1a, b1a), luma_hdr8(r1b, g1b, b1b), 64, 940));

			r0a = _mm256_add_ps(r0a, r1a); /* column sums */
			g0a = _mm256_add_ps(g0a, g1a);
			b0a = _mm256_add_ps(b0a, b1a);
			r0b = _mm256_add_ps(r0b, r1b);
			g0b = _mm256_add_ps(g0b, g1b);
			b0b = _mm256_add_ps(b0b, b1b);
			if (x == 0) { /* column -1 replicates column 0 */
				carry_r = _mm256_broadcastss_ps(_mm256_castps256_ps128(r0a));
				carry_g = _mm256_broadcastss_ps(_mm256_castps256_ps128(g0a));
				carry_b = _mm256_broadcastss_ps(_mm256_castps256_ps128(b0a));
			}
			sr = sited8(r0a, r0b, &carry_r);
			sg = sited8(g0a, g0b, &carry_g);
			sb = sited8(b0a, b0b, &carry_b);
			cb = lin3(sr, sg, sb, FP_HCB_R, FP_HCB_G, FP_HCB_B, 512.0f);
			cr = lin3(sr, sg, sb, FP_HCR_R, FP_HCR_G, FP_HCR_B, 512.0f);
			/* unpack per lane: [cb0 cr0 cb1 cr1 | cb4 ..] and [cb2 cr2 cb3 cr3 | cb6 ..];
			 * packus (per lane) then yields blocks 0-3 | 4-7 in order. */
			{
				__m256i ib = _mm256_cvtps_epi32(cb), ir = _mm256_cvtps_epi32(cr);

				c = _mm256_packus_epi32(_mm256_unpacklo_epi32(ib, ir), _mm256_unpackhi_epi32(ib, ir));
			}
			c = _mm256_min_epu16(_mm256_max_epu16(c, _mm256_set1_epi16(64)), _mm256_set1_epi16(960));
			_mm256_storeu_si256((__m256i *)(r.uv + 2 * (size_t)x), _mm256_slli_epi16(c, 6));
		}
		cv_hdr_span(job->pq, &r, wv, job->w);
	}
}
