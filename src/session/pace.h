/* framepush — the session's output clock: ticks at start + k / fps on CLOCK_MONOTONIC (the
 * capture clock, fp_now_ns). A loop up to CATCH_UP_TICKS late takes its frames back to back;
 * further behind, the ticks already past are skipped and counted, so the output keeps
 * wall-clock time and a duration means seconds. Private to the session module. */
#ifndef FP_SESSION_PACE_H
#define FP_SESSION_PACE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct fp_pace {
	int64_t start, period;  /* ns */
	uint64_t total;         /* ticks in the duration; 0: no end */
	uint64_t k;             /* the tick due next */
	uint64_t skipped;       /* ticks given no frame because the loop was behind */
};

/* A clock at fps from now, for duration seconds (0: no end). fps must be > 0. */
void fp_pace_init(struct fp_pace *p, uint32_t fps, double duration, int64_t now);

/* Whether the duration still has a tick to take. */
bool fp_pace_more(const struct fp_pace *p);

/* The time of the tick to take a frame on now: the one due next or, when now is beyond the
 * catch-up window, the first one not yet past (the ones in between count as skipped).
 * Returns false when the skip used up the duration. */
bool fp_pace_tick(struct fp_pace *p, int64_t now, int64_t *tick);

/* The tick was taken: the next one is due. */
void fp_pace_advance(struct fp_pace *p);

/* Whether the duration was used up (as opposed to a stop or an error). */
bool fp_pace_finished(const struct fp_pace *p);

/* The end of the last tick's period: a 2 s session ends 2 s after it started. */
int64_t fp_pace_end(const struct fp_pace *p);

/* Sleeps until t on the capture clock, or until *stop (may be NULL) is set by a signal. */
void fp_sleep_until(int64_t t, volatile sig_atomic_t *stop);

#endif
