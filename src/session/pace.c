#include "pace.h"

#include <errno.h>
#include <math.h>
#include <time.h>

#include "common/util.h"

/* Ticks the capture loop may run late and still catch up, taking frames back to back: a
 * scheduling hiccup costs no frame, and no timestamp lags its capture by more than this. */
#define CATCH_UP_TICKS 2

void fp_pace_init(struct fp_pace *p, uint32_t fps, double duration, int64_t now)
{
	p->start = now;
	p->period = FP_NSEC_PER_SEC / fps;
	/* Any positive duration ends: one shorter than a frame is one frame, not 0, which
	 * means "until stopped". */
	p->total = duration > 0 ? (uint64_t)llround(duration * fps) : 0;
	if (duration > 0 && p->total == 0)
		p->total = 1;
	p->k = 0;
	p->skipped = 0;
}

bool fp_pace_more(const struct fp_pace *p)
{
	return p->total == 0 || p->k < p->total;
}

bool fp_pace_tick(struct fp_pace *p, int64_t now, int64_t *tick)
{
	int64_t t = p->start + (int64_t)p->k * p->period;

	/* Further behind than the catch-up window (a slow encoder, a stall): the ticks already
	 * past get no frame, so the output keeps wall-clock time instead of drifting late, and
	 * each is counted. */
	if (now >= t + (CATCH_UP_TICKS + 1) * p->period) {
		uint64_t late = (uint64_t)((now - t) / p->period);

		if (p->total && p->k + late >= p->total)
			late = p->total - p->k;
		p->k += late;
		p->skipped += late;
		if (!fp_pace_more(p))
			return false;
		t = p->start + (int64_t)p->k * p->period;
	}
	*tick = t;
	return true;
}

void fp_pace_advance(struct fp_pace *p)
{
	p->k++;
}

bool fp_pace_finished(const struct fp_pace *p)
{
	return p->total && p->k >= p->total;
}

int64_t fp_pace_end(const struct fp_pace *p)
{
	return p->start + (int64_t)p->total * p->period;
}

void fp_sleep_until(int64_t t, volatile sig_atomic_t *stop)
{
	struct timespec ts = { .tv_sec = t / FP_NSEC_PER_SEC, .tv_nsec = t % FP_NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		if (stop && *stop)
			return;
}
