/* framepush — portable fast converters (fixed point SDR, table PQ HDR) and the PQ table. */
#include "convert_internal.h"

#include <math.h>
#include <pthread.h>

void fp_sdr_rows_scalar(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);

		cv_sdr_span(&r, 0, job->w);
	}
}

void fp_hdr_rows_scalar(const struct fp_convert_job *job, uint32_t y0, uint32_t y1)
{
	for (uint32_t y = y0; y < y1; y += 2) {
		struct cv_rowpair r = cv_rowpair(job, y);

		cv_hdr_span(job->pq, &r, 0, job->w);
	}
}

static float pq_table[FP_PQ_TABLE_LEN];
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;

/* SMPTE ST 2084 inverse EOTF of scRGB linear light (1.0 = 80 nits). */
static double pq_of_scrgb(double v)
{
	const double m1 = 2610.0 / 16384.0, m2 = 2523.0 / 4096.0 * 128.0;
	const double c1 = 3424.0 / 4096.0, c2 = 2413.0 / 4096.0 * 32.0, c3 = 2392.0 / 4096.0 * 32.0;
	double p = pow(v / FP_SCRGB_PEAK, m1);

	return pow((c1 + c2 * p) / (1.0 + c3 * p), m2);
}

static float float_of_bits(uint32_t b)
{
	float f;

	memcpy(&f, &b, 4);
	return f;
}

static void pq_build(void)
{
	/* Bucket i spans [lo, hi); its upper edge is the next bucket's lower one, so each
	 * edge's PQ is computed once (the 40k-entry table costs ~2 ms at start-up, not 4). */
	double pq_lo = pq_of_scrgb(0.0);

	for (uint32_t i = 0; i < FP_PQ_ENTRIES; i++) {
		double hi = float_of_bits(FP_PQ_BASE_BITS + ((i + 1) << FP_PQ_SHIFT));
		double pq_hi = pq_of_scrgb(hi > FP_SCRGB_PEAK ? FP_SCRGB_PEAK : hi);

		/* Midpoint of the bucket's PQ range halves the worst lookup error. */
		pq_table[i] = (float)((pq_lo + pq_hi) * 0.5 * 65535.0);
		pq_lo = pq_hi;
	}
}

const float *fp_pq_table(void)
{
	pthread_once(&pq_once, pq_build);
	return pq_table;
}
