// SPDX-License-Identifier: GPL-2.0-only
/*
 * Learned targets of delay signals (spw_baseline.h), fed the way spillwayd feeds them: one
 * value a 100 ms tick. No target while learning; then 3x the median of the quiet seconds'
 * worst values; seconds shed or over half the target are not learned; a gradual slowdown
 * moves the target by at most 1.5x a window; a floor for sub-millisecond services.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "spw_baseline.h"

#define TICK_NS 100000000ULL

static uint64_t now_ns;

/* seconds of ticks, every tick reading value (ms), at full admission or not. */
static void feed(struct spw_baseline *b, double seconds, double value, bool full)
{
	uint64_t end = now_ns + (uint64_t)(seconds * 1e9);

	while (now_ns < end) {
		now_ns += TICK_NS;
		spw_baseline_observe(b, value, full, now_ns);
	}
}

static void assert_near(double got, double want)
{
	if (!(fabs(got - want) <= 1e-6 * want)) {
		print_error("got %.6f, want %.6f\n", got, want);
		fail();
	}
}

static void fresh(struct spw_baseline *b)
{
	now_ns = 5 * 1000000000ULL;
	spw_baseline_init(b);
}

static void test_learns_then_targets(void **state)
{
	struct spw_baseline b;

	(void)state;
	fresh(&b);
	assert_true(isnan(spw_baseline_target(&b)));
	/* Nine whole seconds are closed after 9.x s: still learning. */
	feed(&b, SPW_BASELINE_MIN_SECONDS - 0.5, 40.0, true);
	assert_true(isnan(spw_baseline_target(&b)));
	feed(&b, 1.0, 40.0, true);
	assert_near(spw_baseline_target(&b), SPW_BASELINE_FACTOR * 40.0);
}

/* The worst value of each second is what is learned; the median of those is the baseline. */
static void test_median_of_second_worst(void **state)
{
	struct spw_baseline b;
	int i;

	(void)state;
	fresh(&b);
	for (i = 0; i < 20; i++) {
		feed(&b, 0.5, 10.0, true);
		feed(&b, 0.5, i < 4 ? 900.0 : 50.0, true); /* four slow seconds: a GC pause */
	}
	assert_near(b.baseline, 50.0);
	assert_near(spw_baseline_target(&b), 150.0);
}

static void test_shed_seconds_not_learned(void **state)
{
	struct spw_baseline b;

	(void)state;
	fresh(&b);
	feed(&b, 30.0, 400.0, false); /* an overload from the start, shed all along */
	assert_true(isnan(spw_baseline_target(&b)));
	feed(&b, 12.0, 30.0, true);
	assert_near(spw_baseline_target(&b), 90.0);
	feed(&b, 120.0, 40.0, true);
	assert_near(b.baseline, 40.0); /* 40 <= half of 90: quiet, learned */
	/* One shed tick makes its second loud, whatever the values. */
	fresh(&b);
	feed(&b, 12.0, 30.0, true);
	for (int i = 0; i < 120; i++) {
		feed(&b, 0.9, 40.0, true);
		feed(&b, 0.1, 40.0, false);
	}
	assert_near(b.baseline, 30.0);
}

/* Over half the target is an overload building, not a new normal. */
static void test_overload_not_learned(void **state)
{
	struct spw_baseline b;

	(void)state;
	fresh(&b);
	feed(&b, 60.0, 50.0, true); /* target 150, quiet bound 75 */
	feed(&b, 300.0, 76.0, true);
	assert_near(spw_baseline_target(&b), 150.0);
	/* At the bound it is learned: the baseline moves, by 1.5x at most per window. */
	feed(&b, 300.0, 75.0, true);
	assert_near(spw_baseline_target(&b), 225.0);
}

static void test_floor_and_zero(void **state)
{
	struct spw_baseline b;

	(void)state;
	fresh(&b);
	feed(&b, 20.0, 0.3, true);
	assert_near(b.baseline, 0.3);
	assert_near(spw_baseline_target(&b), SPW_BASELINE_MIN_TARGET_MS);

	/* Nothing outstanding (0) and no reading (NAN) are not delays: nothing learned. */
	fresh(&b);
	feed(&b, 30.0, 0.0, true);
	feed(&b, 30.0, NAN, true);
	feed(&b, 30.0, -1.0, true);
	assert_true(isnan(spw_baseline_target(&b)));
	/* A sparse service: one tick a second with a request out is the second's value. */
	for (int i = 0; i < 12; i++) {
		feed(&b, 0.9, 0.0, true);
		feed(&b, 0.1, 20.0, true);
	}
	assert_near(spw_baseline_target(&b), 60.0);
}

static void test_clock_back(void **state)
{
	struct spw_baseline b;

	(void)state;
	fresh(&b);
	feed(&b, 12.0, 20.0, true);
	assert_near(spw_baseline_target(&b), 60.0);
	now_ns -= 3000000000ULL;
	feed(&b, 0.2, 1000.0, true); /* the second it restarts in is not learned */
	feed(&b, 60.0, 20.0, true);
	assert_near(spw_baseline_target(&b), 60.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learns_then_targets),
	    cmocka_unit_test(test_median_of_second_worst),
	    cmocka_unit_test(test_shed_seconds_not_learned),
	    cmocka_unit_test(test_overload_not_learned),
	    cmocka_unit_test(test_floor_and_zero),
	    cmocka_unit_test(test_clock_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
