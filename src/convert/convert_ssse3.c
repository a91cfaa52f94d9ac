/* framepush — SSSE3 SDR kernel: the AVX2 kernel's arithmetic (pmaddubsw luma in 8.8 fixed
 * point, pavgb + pmaddwd chroma) at 128 bits, 8 pixels of each row per step. HDR has no
 * SSSE3-specific kernel: the SSSE3 path uses the SSE2 one (see doc/convert.md). */
#include "convert_internal.h"

#include <tmmintrin.h>

/* Weights and error bounds: see convert_avx2.c. */
#define Y8_B 16
#define Y8_G1 79
#define Y8_G2 78
#define Y8_R 47
#define Y8_BIAS ((16 << 8) + 128)

static inline __m128i luma_pairs(__m128i v)
{
	const __m128i shuf = _mm_setr_epi8(0, 1, 2, 1, 4, 5, 6, 5, 8, 9, 10, 9, 12, 13, 14, 13);
	const __m128i coef = _mm_setr_epi8(Y8_B, Y8_G1, Y8_R, Y8_G2, Y8_B, Y8_G1, Y8_R, Y8_G2,
					   Y8_B, Y8_G1, Y8_R, Y8_G2, Y8_B, Y8_G1, Y8_R, Y8_G2);

	return _mm_maddubs_epi16(_mm_shuffle_epi8(v, shuf), coef);
}

/* 8 pixels (a: 0-3, b: 4-7) -> u16 luma in order. */
static inline __m128i luma8(__m128i a, __m128i b)
{
	__m128i s = _mm_hadd_epi16(luma_pairs(a), luma_pairs(b));

	return _mm_srli_epi16(_mm_add_epi16(s, _mm_set1_epi16(Y8_BIAS)), 8);
}

/* [B G R X] pair sums of pixels (0 1) and (2 3) of a 4-pixel vector. */
static inline __m128i pairs(__m128i v)
{
	const __m128i shuf = _mm_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);

	return _mm_maddubs_epi16(_mm_shuffle_epi8(v, shuf), _mm_set1_epi8(1));
}

/* Left-sited chroma of 2 blocks from row-averaged pixels m (columns 0-3) and left (columns
 * -1..2) -> [cb0 cr0 cb1 cr1] (i32). The pairs (-1 0) and (0 1) add up to the 1 2 1 weights;
 * pavgb rounding costs <= 0.22 code (convert_avx2.c). */
static inline __m128i chroma2(__m128i left, __m128i m)
{
	const __m128i cbc = _mm_setr_epi16(FP_CB_B, FP_CB_G, FP_CB_R, 0, FP_CB_B, FP_CB_G, FP_CB_R, 0);
	const __m128i crc = _mm_setr_epi16(FP_CR_B, FP_CR_G, FP_CR_R, 0, FP_CR_B, FP_CR_G, FP_CR_R, 0);
	__m128i blk = _mm_add_epi16(pairs(m), pairs(left));
	__m128i c = _mm_hadd_epi32(_mm_madd_epi16(blk, cbc), _mm_madd_epi16(blk, crc));

	c = _mm_shuffle_epi32(c, _MM_SHUFFLE(3, 1, 2, 0));
	return _mm_srai_epi32(_mm_add_epi32(c, _mm_set1_epi32(FP_C_BIAS >> 1)), FP_C_SHIFT - 1);
}

void fp_sdr_rows_ssse3(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	uint32_t wv = job->w & ~7u;

	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);

		for (uint32_t x = 0; x < wv; x += 8) {
			const uint8_t *p0 = r.s0 + 4 * (size_t)x, *p1 = r.s1 + 4 * (size_t)x;
			__m128i a0 = _mm_loadu_si128((const __m128i *)p0);
			__m128i b0 = _mm_loadu_si128((const __m128i *)(p0 + 16));
			__m128i a1 = _mm_loadu_si128((const __m128i *)p1);
			__m128i b1 = _mm_loadu_si128((const __m128i *)(p1 + 16));
			__m128i yy = _mm_packus_epi16(luma8(a0, b0), luma8(a1, b1));
			__m128i ma = _mm_avg_epu8(a0, a1), mb = _mm_avg_epu8(b0, b1), la, c;

			/* Left neighbours by loads one column back (same lines, no shuffle work);
			 * column -1 replicates column 0. */
			if (x == 0)
				la = _mm_alignr_epi8(ma, _mm_shuffle_epi32(ma, 0), 12);
			else
				la = _mm_avg_epu8(_mm_loadu_si128((const __m128i *)(p0 - 4)),
						  _mm_loadu_si128((const __m128i *)(p1 - 4)));
			c = _mm_packs_epi32(chroma2(la, ma),
					    chroma2(_mm_avg_epu8(_mm_loadu_si128((const __m128i *)(p0 + 12)),
								 _mm_loadu_si128((const __m128i *)(p1 + 12))), mb));
			_mm_storel_epi64((__m128i *)(r.y0 + x), yy);
			_mm_storel_epi64((__m128i *)(r.y1 + x), _mm_unpackhi_epi64(yy, yy));
			_mm_storel_epi64((__m128i *)(r.uv + x), _mm_packus_epi16(c, c));
		}
		cv_sdr_span(&r, wv, job->w);
	}
}
