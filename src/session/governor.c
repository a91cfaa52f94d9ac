#include "governor.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define CALM_SECONDS 5u     /* of headroom before a slower step is tried */
#define CALM_MAX_SECONDS 60u
#define UNDO_SECONDS 10u    /* a faster step this soon after a slower one undoes it */
#define WINDOWS_PER_SECOND 4u
#define WINDOW_MIN 4u
#define FAR_BEHIND 2        /* frames: fewer make no median */

void fp_governor_init(struct fp_governor *g, int64_t period_ns, const struct fp_governor_limits *lim,
		      unsigned start, unsigned slowest)
{
	unsigned fps = period_ns > 0 ? (unsigned)((1000000000 + period_ns / 2) / period_ns) : 1;

	memset(g, 0, sizeof(*g));
	g->period_ns = period_ns;
	g->lim = *lim;
	g->level = start;
	g->slowest = slowest < start ? start : slowest;
	g->window = fps / WINDOWS_PER_SECOND;
	if (g->window < WINDOW_MIN)
		g->window = WINDOW_MIN;
	if (g->window > FP_GOV_WINDOW_MAX)
		g->window = FP_GOV_WINDOW_MAX;
	g->calm_needed = CALM_SECONDS * WINDOWS_PER_SECOND;
	g->settle = FP_GOV_SETTLE;
	g->windows_since_up = UINT64_MAX;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The median, not the mean: one keyframe in a window is not a trend. */
static int64_t window_median(struct fp_governor *g)
{
	int64_t s[FP_GOV_WINDOW_MAX];

	memcpy(s, g->sample, g->n * sizeof(s[0]));
	qsort(s, g->n, sizeof(s[0]), cmp_i64);
	return s[g->n / 2];
}

static unsigned step(struct fp_governor *g, unsigned level)
{
	if (level > g->level) {
		g->steps_slower++;
		g->windows_since_up = 0;
	} else {
		g->steps_faster++;
		/* The slower level did not hold: ask for twice the calm before the next try. */
		if (g->windows_since_up < UNDO_SECONDS * WINDOWS_PER_SECOND &&
		    g->calm_needed < CALM_MAX_SECONDS * WINDOWS_PER_SECOND)
			g->calm_needed *= 2;
	}
	g->level = level;
	g->over = g->under = 0;
	g->settle = FP_GOV_SETTLE;
	return level;
}

unsigned fp_governor_frame(struct fp_governor *g, int64_t encode_ns)
{
	int64_t median;

	if (g->settle) {
		g->settle--;
		return g->level;
	}
	g->sample[g->n++] = encode_ns;
	g->sum_ns += encode_ns;
	/* A window is a quarter second of frames, or of encoding when frames take so long that
	 * there are few: far behind, the step must not wait for a frame count. */
	if (g->n < g->window &&
	    (g->n < WINDOW_MIN || g->sum_ns < (int64_t)FP_NSEC_PER_SEC / WINDOWS_PER_SECOND))
		return g->level;
	g->sum_ns = 0;
	median = window_median(g);
	g->n = 0;
	g->last_median_ns = median;
	if (g->windows_since_up != UINT64_MAX)
		g->windows_since_up++;
	g->over = (double)median > g->lim.high * (double)g->period_ns ? g->over + 1 : 0;
	g->under = (double)median < g->lim.low * (double)g->period_ns ? g->under + 1 : 0;
	/* Two windows over the high share are a trend; one whose median frame takes more than
	 * FAR_BEHIND periods is one already, and every window waited loses frames. */
	if ((g->over >= 2 || median > FAR_BEHIND * g->period_ns) && g->level > 0)
		return step(g, g->level - 1);
	if (g->under >= g->calm_needed && g->level < g->slowest)
		return step(g, g->level + 1);
	return g->level;
}
