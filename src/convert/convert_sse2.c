/* framepush — SSE2 kernels; the HDR one also serves the SSSE3 path (doc/convert.md).
 * Same fixed-point / table arithmetic as the scalar path (SDR bit-exact with it), 8 (SDR) or
 * 4 (HDR) pixels a row per step; the previous step's last column sum, kept in a register,
 * is the left chroma neighbour; the scalar span finishes each row pair. */
#include "convert_internal.h"

#include <emmintrin.h>

/* Sums dword pairs: [a0+a1, a2+a3, b0+b1, b2+b3] (phaddd without SSSE3). */
static inline __m128i hadd32(__m128i a, __m128i b)
{
	__m128 fa = _mm_castsi128_ps(a), fb = _mm_castsi128_ps(b);
	__m128i even = _mm_castps_si128(_mm_shuffle_ps(fa, fb, _MM_SHUFFLE(2, 0, 2, 0)));
	__m128i odd = _mm_castps_si128(_mm_shuffle_ps(fa, fb, _MM_SHUFFLE(3, 1, 3, 1)));

	return _mm_add_epi32(even, odd);
}

/* 4 BGRX pixels -> 4 luma (i32), also returning the 16-bit unpacked pixels for chroma. */
static inline __m128i luma4(__m128i v, __m128i *lo, __m128i *hi)
{
	const __m128i zero = _mm_setzero_si128();
	const __m128i yc = _mm_setr_epi16(FP_Y_B, FP_Y_G, FP_Y_R, 0, FP_Y_B, FP_Y_G, FP_Y_R, 0);
	__m128i s;

	*lo = _mm_unpacklo_epi8(v, zero);
	*hi = _mm_unpackhi_epi8(v, zero);
	s = hadd32(_mm_madd_epi16(*lo, yc), _mm_madd_epi16(*hi, yc));
	return _mm_srai_epi32(_mm_add_epi32(s, _mm_set1_epi32(FP_Y_BIAS)), 15);
}

/* Left-sited chroma of two blocks from column sums (16-bit B G R X, two pixels a vector):
 * v01 = columns 0-1, v23 = 2-3, prev's high half = column -1. Weights 1 2 1 -> [cb0 cr0 cb1
 * cr1]; the sums (<= 2040) fit i16 exactly, as in the scalar span. */
static inline __m128i chroma2(__m128i prev, __m128i v01, __m128i v23)
{
	const __m128i cbc = _mm_setr_epi16(FP_CB_B, FP_CB_G, FP_CB_R, 0, FP_CB_B, FP_CB_G, FP_CB_R, 0);
	const __m128i crc = _mm_setr_epi16(FP_CR_B, FP_CR_G, FP_CR_R, 0, FP_CR_B, FP_CR_G, FP_CR_R, 0);
	__m128i even = _mm_unpacklo_epi64(v01, v23), odd = _mm_unpackhi_epi64(v01, v23);
	__m128i left = _mm_unpackhi_epi64(prev, v01);
	__m128i blk = _mm_add_epi16(_mm_add_epi16(even, even), _mm_add_epi16(odd, left));
	__m128i c = hadd32(_mm_madd_epi16(blk, cbc), _mm_madd_epi16(blk, crc)); /* cb0 cb1 cr0 cr1 */

	c = _mm_shuffle_epi32(c, _MM_SHUFFLE(3, 1, 2, 0));
	return _mm_srai_epi32(_mm_add_epi32(c, _mm_set1_epi32(FP_C_BIAS)), FP_C_SHIFT);
}

/* Column 0's sum of one row pair in both halves: the left neighbour of block 0. */
static inline __m128i first_colsum(const struct cv_rowpair *r)
{
	const __m128i zero = _mm_setzero_si128();
	int32_t a, b;

	memcpy(&a, r->s0, 4);
	memcpy(&b, r->s1, 4);
	return _mm_add_epi16(_mm_unpacklo_epi8(_mm_set1_epi32(a), zero), _mm_unpacklo_epi8(_mm_set1_epi32(b), zero));
}

void fp_sdr_rows_sse2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	const __m128i cmin = _mm_set1_epi8(16), cmax = _mm_set1_epi8((char)240);
	uint32_t wv = job->w & ~7u;

	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);
		__m128i prev = wv ? first_colsum(&r) : _mm_setzero_si128();

		for (uint32_t x = 0; x < wv; x += 8) {
			__m128i l0a, h0a, l0b, h0b, l1a, h1a, l1b, h1b, ya, yb, c, v67;
			const uint8_t *p0 = r.s0 + 4 * (size_t)x, *p1 = r.s1 + 4 * (size_t)x;

			ya = luma4(_mm_loadu_si128((const __m128i *)p0), &l0a, &h0a);
			yb = luma4(_mm_loadu_si128((const __m128i *)(p0 + 16)), &l0b, &h0b);
			ya = _mm_packs_epi32(ya, yb);
			yb = luma4(_mm_loadu_si128((const __m128i *)p1), &l1a, &h1a);
			yb = _mm_packs_epi32(yb, luma4(_mm_loadu_si128((const __m128i *)(p1 + 16)), &l1b, &h1b));
			ya = _mm_packus_epi16(ya, yb);
			_mm_storel_epi64((__m128i *)(r.y0 + x), ya);
			_mm_storel_epi64((__m128i *)(r.y1 + x), _mm_unpackhi_epi64(ya, ya));

			l0a = _mm_add_epi16(l0a, l1a); /* column sums 0-1, 2-3, 4-5, 6-7 */
			h0a = _mm_add_epi16(h0a, h1a);
			l0b = _mm_add_epi16(l0b, l1b);
			v67 = _mm_add_epi16(h0b, h1b);
			c = _mm_packs_epi32(chroma2(prev, l0a, h0a), chroma2(h0a, l0b, v67));
			prev = v67;
			c = _mm_packus_epi16(c, c);
			c = _mm_min_epu8(_mm_max_epu8(c, cmin), cmax);
			_mm_storel_epi64((__m128i *)(r.uv + x), c);
		}
		cv_sdr_span(&r, wv, job->w);
	}
}

/* 4 halves (low 16 bits of each dword) -> floats, exact, NaN/Inf preserved. */
static inline __m128 half4(__m128i h)
{
	const __m128i em_mask = _mm_set1_epi32(0x7fff), inf = _mm_set1_epi32(0x7c00);
	__m128i em = _mm_and_si128(h, em_mask);
	__m128i sign = _mm_slli_epi32(_mm_andnot_si128(em_mask, h), 16);
	__m128i special = _mm_cmpgt_epi32(em, _mm_sub_epi32(inf, _mm_set1_epi32(1)));
	__m128 f = _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(em, 13)), _mm_set1_ps(0x1p112f));
	__m128i b = _mm_or_si128(_mm_castps_si128(f), sign);

	b = _mm_or_si128(b, _mm_and_si128(special, _mm_set1_epi32(0x7f800000)));
	return _mm_castsi128_ps(b);
}

static inline __m128 sanitize4(__m128 v)
{
	return _mm_and_ps(v, _mm_cmpge_ps(v, _mm_set1_ps(-FLT_MAX)));
}

static inline __m128 lookup4(const float *pq, __m128 v)
{
	const __m128 zero = _mm_setzero_ps(), peak = _mm_set1_ps((float)FP_SCRGB_PEAK);
	__m128i i;
	int32_t idx[4];

	/* max(v, +0) returns the second operand for -0.0, so the index never goes negative-huge. */
	v = _mm_min_ps(_mm_max_ps(v, zero), peak);
	i = _mm_srai_epi32(_mm_sub_epi32(_mm_castps_si128(v), _mm_set1_epi32((int)FP_PQ_BASE_BITS)),
			   FP_PQ_SHIFT);
	i = _mm_andnot_si128(_mm_srai_epi32(i, 31), i);
	_mm_storeu_si128((__m128i *)idx, i);
	return _mm_setr_ps(pq[idx[0]], pq[idx[1]], pq[idx[2]], pq[idx[3]]);
}

/* 4 RGBA16F pixels -> PQ R', G', B' as floats 0..65535. */
static inline void hdr4(const float *pq, const uint8_t *p, __m128 *r, __m128 *g, __m128 *b)
{
	const __m128i zero = _mm_setzero_si128();
	__m128i a = _mm_loadu_si128((const __m128i *)p), c = _mm_loadu_si128((const __m128i *)(p + 16));
	__m128i t0 = _mm_unpacklo_epi16(a, c), t1 = _mm_unpackhi_epi16(a, c);
	__m128i rg = _mm_unpacklo_epi16(t0, t1), ba = _mm_unpackhi_epi16(t0, t1);
	__m128 fr = sanitize4(half4(_mm_unpacklo_epi16(rg, zero)));
	__m128 fg = sanitize4(half4(_mm_unpackhi_epi16(rg, zero)));
	__m128 fb = sanitize4(half4(_mm_unpacklo_epi16(ba, zero)));

#define MAT(a0, a1, a2) _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_set1_ps((float)(a0)), fr), \
		_mm_mul_ps(_mm_set1_ps((float)(a1)), fg)), _mm_mul_ps(_mm_set1_ps((float)(a2)), fb))
	*r = lookup4(pq, MAT(FP_M00, FP_M01, FP_M02));
	*g = lookup4(pq, MAT(FP_M10, FP_M11, FP_M12));
	*b = lookup4(pq, MAT(FP_M20, FP_M21, FP_M22));
#undef MAT
}

static inline __m128 lin3(__m128 r, __m128 g, __m128 b, float cr, float cg, float cb, float add)
{
	return _mm_add_ps(_mm_add_ps(_mm_add_ps(_mm_set1_ps(add), _mm_mul_ps(_mm_set1_ps(cr), r)),
				     _mm_mul_ps(_mm_set1_ps(cg), g)),
			  _mm_mul_ps(_mm_set1_ps(cb), b));
}

/* Left-sited weighted sums of blocks 0 and 1 from column sums v (columns 0-3) and prev
 * (column -1 in lane 3): [s0, s1, s0, s1], s = (v[2i-1] + v[2i]) + (v[2i] + v[2i+1]), the
 * scalar span's order. */
static inline __m128 sited2(__m128 prev, __m128 v)
{
	__m128 even = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 0, 2, 0));
	__m128 odd = _mm_shuffle_ps(v, v, _MM_SHUFFLE(3, 1, 3, 1));
	__m128 left = _mm_shuffle_ps(prev, v, _MM_SHUFFLE(1, 1, 3, 3)); /* p3 p3 v1 v1 */

	left = _mm_shuffle_ps(left, left, _MM_SHUFFLE(2, 0, 2, 0));
	return _mm_add_ps(_mm_add_ps(left, even), _mm_add_ps(even, odd));
}

static inline __m128i clamp_shift(__m128i v16, int lo, int hi)
{
	v16 = _mm_min_epi16(_mm_max_epi16(v16, _mm_set1_epi16((short)lo)), _mm_set1_epi16((short)hi));
	return _mm_slli_epi16(v16, 6);
}

void fp_hdr_rows_sse2(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	uint32_t wv = job->w & ~3u;

	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);
		__m128 pr = _mm_setzero_ps(), pg = pr, pb = pr; /* previous column sums */

		for (uint32_t x = 0; x < wv; x += 4) {
			__m128 r0, g0, b0, r1, g1, b1, sr, sg, sb, cb, cr;
			__m128i yy, c;

			hdr4(job->pq, r.s0 + 8 * (size_t)x, &r0, &g0, &b0);
			hdr4(job->pq, r.s1 + 8 * (size_t)x, &r1, &g1, &b1);
			yy = _mm_packs_epi32(_mm_cvtps_epi32(lin3(r0, g0, b0, FP_HY_R, FP_HY_G, FP_HY_B, 64.0f)),
					     _mm_cvtps_epi32(lin3(r1, g1, b1, FP_HY_R, FP_HY_G, FP_HY_B, 64.0f)));
			yy = clamp_shift(yy, 64, 940);
			_mm_storel_epi64((__m128i *)(r.y0 + 2 * (size_t)x), yy);
			_mm_storel_epi64((__m128i *)(r.y1 + 2 * (size_t)x), _mm_unpackhi_epi64(yy, yy));

			r0 = _mm_add_ps(r0, r1);
			g0 = _mm_add_ps(g0, g1);
			b0 = _mm_add_ps(b0, b1);
			if (x == 0) { /* column -1 replicates column 0 */
				pr = _mm_shuffle_ps(r0, r0, 0);
				pg = _mm_shuffle_ps(g0, g0, 0);
				pb = _mm_shuffle_ps(b0, b0, 0);
			}
			sr = sited2(pr, r0);
			sg = sited2(pg, g0);
			sb = sited2(pb, b0);
			pr = r0;
			pg = g0;
			pb = b0;
			cb = lin3(sr, sg, sb, FP_HCB_R, FP_HCB_G, FP_HCB_B, 512.0f);
			cr = lin3(sr, sg, sb, FP_HCR_R, FP_HCR_G, FP_HCR_B, 512.0f);
			c = _mm_cvtps_epi32(_mm_unpacklo_ps(cb, cr));
			c = clamp_shift(_mm_packs_epi32(c, c), 64, 960);
			_mm_storel_epi64((__m128i *)(r.uv + 2 * (size_t)x), c);
		}
		cv_hdr_span(job->pq, &r, wv, job->w);
	}
}
