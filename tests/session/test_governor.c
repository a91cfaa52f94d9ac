/* The encoder governor's decisions (src/session/governor.c), fed encode times the way the
 * sink feeds them, frame by frame: when it steps, when it must not, and that it cannot
 * oscillate on a machine at the edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "governor.h"

#define PERIOD 16666667       /* 60 fps */
#define MS 1000000

static const struct fp_governor_limits lim = { .high = 0.85, .low = 0.45 };

/* Feeds n frames of ns each; returns the first frame (1-based) at which the level changed,
 * 0 if it never did. */
static unsigned feed(struct fp_governor *g, unsigned n, int64_t ns)
{
	unsigned level = g->level;

	for (unsigned i = 1; i <= n; i++)
		if (fp_governor_frame(g, ns) != level)
			return i;
	return 0;
}

static void steady_within_budget_stays(void **state)
{
	struct fp_governor g;

	(void)state;
	fp_governor_init(&g, PERIOD, &lim, 2, 2);
	/* 70% of the period: neither over the high share nor under the low one. */
	assert_int_equal(feed(&g, 60 * 60, 70 * PERIOD / 100), 0);
	assert_int_equal(g.level, 2);
	assert_int_equal(g.steps_faster + g.steps_slower, 0);
}

static void overrun_steps_faster_within_two_windows(void **state)
{
	struct fp_governor g;
	unsigned at;

	(void)state;
	fp_governor_init(&g, PERIOD, &lim, 2, 2);
	at = feed(&g, 120, 95 * PERIOD / 100);
	/* The settle frames, then two windows of 15: about half a second at 60 fps. */
	assert_int_equal(at, FP_GOV_SETTLE + 2 * g.window);
	assert_int_equal(g.level, 1);
	assert_int_equal(g.steps_faster, 1);
	/* Still over after the step: one more, down to the fastest, and never below it. */
	assert_int_not_equal(feed(&g, 120, 95 * PERIOD / 100), 0);
	assert_int_equal(g.level, 0);
	assert_int_equal(feed(&g, 600, 3 * PERIOD), 0);
	assert_int_equal(g.level, 0);
}

/* A median frame of more than two periods is no hiccup: one window is enough. */
static void far_behind_steps_after_one_window(void **state)
{
	struct fp_governor g;

	(void)state;
	fp_governor_init(&g, PERIOD, &lim, 2, 2);
	/* The window closes on a quarter second of encoding: 5 frames of 50 ms. */
	assert_int_equal(feed(&g, 120, 3 * PERIOD), FP_GOV_SETTLE + 5);
	assert_int_equal(g.level, 1);
}

static void one_slow_window_or_keyframe_is_not_a_trend(void **state)
{
	struct fp_governor g;

	(void)state;
	fp_governor_init(&g, PERIOD, &lim, 2, 2);
	for (unsigned w = 0; w < 200; w++) {
		/* A keyframe costing 4 periods every 30 frames, the rest at 60%. */
		for (unsigned i = 0; i < 30; i++)
			fp_governor_frame(&g, i == 0 ? 4 * PERIOD : 60 * PERIOD / 100);
	}
	assert_int_equal(g.level, 2);
	/* One bad window alone (a hiccup), then good ones: no step. */
	feed(&g, g.window, 2 * PERIOD);
	assert_int_equal(feed(&g, 600, 60 * PERIOD / 100), 0);
	assert_int_equal(g.level, 2);
}

static void headroom_steps_slower_but_never_past_slowest(void **state)
{
	struct fp_governor g;
	unsigned at;

	(void)state;
	fp_governor_init(&g, PERIOD, &lim, 0, 2);
	/* Under the low share, but only a sustained stretch (5 s) earns a slower step. */
	at = feed(&g, 60 * 60, 20 * PERIOD / 100);
	assert_true(at >= 5 * 60);
	assert_true(at < 6 * 60);
	assert_int_equal(g.level, 1);
	assert_int_not_equal(feed(&g, 60 * 60, 20 * PERIOD / 100), 0);
	assert_int_equal(g.level, 2);
	/* The slowest allowed (what the user asked for) is a ceiling. */
	assert_int_equal(feed(&g, 60 * 60, 1 * MS), 0);
	assert_int_equal(g.level, 2);
	assert_int_equal(g.steps_slower, 2);
}

/* A machine where level 1 fits and level 2 does not: every slower try is undone, and each
 * undo doubles the calm needed before the next try, so the tries thin out. */
static void edge_machine_backs_off(void **state)
{
	struct fp_governor g;
	unsigned tries = 0;

	(void)state;
	fp_governor_init(&g, PERIOD, &lim, 1, 2);
	for (unsigned frame = 0; frame < 60 * 600; frame++) { /* ten minutes */
		unsigned before = g.level;
		unsigned after = fp_governor_frame(&g, g.level == 2 ? PERIOD : 30 * PERIOD / 100);

		tries += after > before;
	}
	/* Without the back-off: a try every ~5.5 s, ~100 in ten minutes. */
	assert_true(tries >= 2);
	assert_true(tries <= 14);
	assert_int_equal(g.steps_faster, tries - (g.level == 2));
}

static void slow_rates_have_a_minimum_window(void **state)
{
	struct fp_governor g;

	(void)state;
	fp_governor_init(&g, 1000000000, &lim, 1, 1); /* 1 fps */
	assert_int_equal(g.window, 4);
	fp_governor_init(&g, 1000000000 / 240, &lim, 1, 1);
	assert_int_equal(g.window, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(steady_within_budget_stays),
		cmocka_unit_test(overrun_steps_faster_within_two_windows),
		cmocka_unit_test(far_behind_steps_after_one_window),
		cmocka_unit_test(one_slow_window_or_keyframe_is_not_a_trend),
		cmocka_unit_test(headroom_steps_slower_but_never_past_slowest),
		cmocka_unit_test(edge_machine_backs_off),
		cmocka_unit_test(slow_rates_have_a_minimum_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
