// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in_flight signal's learned target (spw_concurrency.h), fed the way spillwayd feeds it:
 * one reading a 100 ms tick, with the responses counted so far. A service of 20 requests at
 * once and 50 ms each (capacity 400/s): no target before its quiet time in service is known,
 * then the early target that follows the throughput, then 20 once a queue has shown the
 * capacity; a slowdown does not lower it nor, before it, teach one; a capacity learned low
 * rises; what was held without a queue reads low; a reset count or a shed second teaches
 * nothing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "spw_concurrency.h"

#define TICK_NS 100000000ULL

static uint64_t now_ns, completed;

/* seconds of ticks holding in_flight requests and completing rate per second. */
static void feed(struct spw_concurrency *c, double seconds, double in_flight, double rate,
		 bool full)
{
	uint64_t end = now_ns + (uint64_t)(seconds * 1e9);

	while (now_ns < end) {
		now_ns += TICK_NS;
		completed += (uint64_t)(rate * TICK_NS / 1e9 + 0.5);
		spw_concurrency_observe(c, in_flight, completed, full, now_ns);
	}
}

static void assert_near(double got, double want, double tolerance)
{
	if (!(fabs(got - want) <= tolerance)) {
		print_error("got %.4f, want %.4f +- %.4f\n", got, want, tolerance);
		fail();
	}
}

/* A learner that has seen nothing, at 5 s of the clock and 0 responses counted. */
static void fresh(struct spw_concurrency *c)
{
	now_ns = 5 * 1000000000ULL;
	completed = 0;
	spw_concurrency_init(c);
}

/* No capacity learned: the target is still the early one, a delay's ratio. */
static void assert_still_early(const struct spw_concurrency *c)
{
	bool early = false;

	assert_true(c->capacity == 0);
	spw_concurrency_target(c, &early);
	assert_true(early);
}

/* A service learned quiet: 10 in flight at 200/s, 50 ms each. */
static void quiet_service(struct spw_concurrency *c)
{
	fresh(c);
	feed(c, SPW_BASELINE_MIN_SECONDS + 3, 10.0, 200.0, true);
}

static void test_no_target_while_learning(void **state)
{
	struct spw_concurrency c;
	bool early = true;

	(void)state;
	fresh(&c);
	assert_true(isnan(spw_concurrency_target(&c, &early)));
	assert_false(early);
	feed(&c, SPW_BASELINE_MIN_SECONDS - 1, 10.0, 200.0, true);
	assert_true(isnan(spw_concurrency_target(&c, NULL)));
}

/* Before a queue is seen: three times what the service held, a delay's ratio. */
static void test_early_target_follows_the_throughput(void **state)
{
	struct spw_concurrency c;
	bool early = false;

	(void)state;
	quiet_service(&c);
	assert_near(c.w0.baseline, 50.0, 0.5);
	assert_near(spw_concurrency_target(&c, &early), SPW_CONC_EARLY * 10.0, 0.3);
	assert_true(early);
	/* The load doubles and fits: the target follows it a second later, no capacity. */
	feed(&c, 2.0, 20.0, 400.0, true);
	assert_near(spw_concurrency_target(&c, &early), SPW_CONC_EARLY * 20.0, 0.5);
	assert_true(early);
	assert_true(c.capacity == 0);
}

/* At low throughput the Poisson bound and the floor keep one request from reading 2x. */
static void test_early_target_floor(void **state)
{
	struct spw_concurrency c;

	(void)state;
	fresh(&c);
	feed(&c, SPW_BASELINE_MIN_SECONDS + 3, 1.0, 20.0, true); /* 50 ms, 1 held */
	assert_near(spw_concurrency_target(&c, NULL), SPW_CONC_EARLY_MIN, 1e-9);
	feed(&c, 2.0, 2.0, 40.0, true); /* 2 held: 2 + 5 x 1.41 = 9.1 > 4 x 2, > 8 */
	assert_near(spw_concurrency_target(&c, NULL), 2.0 + SPW_CONC_EARLY_SIGMAS * sqrt(2.0), 0.1);
}

/* A queue at the capacity: the target is what the service holds there, 400/s x 50 ms. */
static void test_queue_teaches_the_capacity(void **state)
{
	struct spw_concurrency c;
	bool early = true;

	(void)state;
	quiet_service(&c);
	/* At full admission still (the law has not cut yet): the seconds are judged by W0. */
	feed(&c, 3.0, 100.0, 400.0, true);
	assert_near(c.capacity, 400.0, 1.0);
	assert_near(spw_concurrency_target(&c, &early), 20.0, 0.1);
	assert_false(early);
	/* The quiet W0 did not learn the overload's 250 ms. */
	assert_near(c.w0.baseline, 50.0, 0.5);
}

/* One tick's reading: in_flight held, rate completed per second over the tick before it. */
static void tick(struct spw_concurrency *c, double in_flight, double rate)
{
	feed(c, TICK_NS / 1e9, in_flight, rate, false);
}

/*
 * An overload's onset as the demo shows it (3x from half the capacity): the tick that sees
 * the queue completed half its time at the quiet rate, the law cuts in the next, and the
 * queue drains within two ticks to the few requests of what is still admitted. Only the
 * ticks with the queue standing at both ends ran at the capacity; a half second around them
 * holds the quiet time before and the cut after (it learned 300/s here, 0.75 of it, and the
 * law held the service there for seconds).
 */
static void test_onset_teaches_the_whole_capacity(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	tick(&c, 60.0, 300.0);
	tick(&c, 59.0, 400.0);
	tick(&c, 24.0, 400.0);
	feed(&c, 2.0, 6.0, 120.0, false);
	assert_near(c.capacity, 400.0, 10.0);
	assert_near(spw_concurrency_target(&c, NULL), 20.0, 0.5);
}

/*
 * A burst that one tick sees (60 in flight, then the quiet 10 again) stood no longer than
 * the reading: no window ran with a queue all through it, so no capacity is learned (the
 * half second's mean, 20 in flight at 220/s, read as a queue at 220/s: 11 held, and a
 * service at half its capacity read 0.9 of it).
 */
static void test_one_tick_burst_teaches_no_capacity(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	tick(&c, 60.0, 300.0);
	feed(&c, 2.0, 10.0, 200.0, true);
	assert_still_early(&c);
}

/* A database 3x slower: a third of the completions and 3x the time, the same 20 held. */
static void test_slowdown_keeps_the_target(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	feed(&c, 1.0, 100.0, 400.0, false);
	feed(&c, 20.0, 60.0, 133.0, false);
	assert_near(spw_concurrency_target(&c, NULL), 20.0, 0.1);
}

/*
 * A database 3x slower (130/s) before any queue: the time in service triples with fewer
 * completions, a slower service (or a stall), not a queue. No capacity is learned from it
 * (one of 130/s would be 6.5 held, and shed the service once it is fast again); the early
 * target follows the slower rate.
 */
static void test_slowdown_teaches_no_capacity(void **state)
{
	struct spw_concurrency c;
	bool early = false;

	(void)state;
	quiet_service(&c);
	feed(&c, 3.0, 20.0, 130.0, false);
	assert_true(c.capacity == 0);
	assert_near(spw_concurrency_target(&c, &early), SPW_CONC_EARLY * 0.050 * 130.0, 0.3);
	assert_true(early);
}

/*
 * The first queue learned 300/s (its windows held the cut that ended it): 15 held. The law
 * lets in more and the service completes 400/s, each window a little past W0 (65 ms: no
 * queue proven, none ruled out): the target follows each half second up to the capacity.
 */
static void test_capacity_learned_low_rises(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	feed(&c, 1.0, 100.0, 300.0, false);
	assert_near(spw_concurrency_target(&c, NULL), 15.0, 0.1);
	feed(&c, 1.0, 26.0, 400.0, false);
	assert_near(spw_concurrency_target(&c, NULL), 20.0, 0.1);
}

/*
 * A queue proved 300/s (15 held), then a closed loop of clients ran at 340/s with no queue
 * (17 in flight, 50 ms each): X rose to 340 without a queue proving it, and the 17 the
 * service held read 0.85 at most, under the band. A closed loop holds its own count whatever
 * the service does, and a target equal to it (W0 x 340 = 17) held it at a pressure of 1, the
 * tiers shed never let back in.
 */
static void test_held_without_queue_reads_low(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	feed(&c, 1.0, 100.0, 300.0, false);
	feed(&c, 2.0, 17.0, 340.0, false);
	assert_near(c.capacity, 340.0, 1.0);
	assert_near(spw_concurrency_target(&c, NULL), 17.0 / SPW_CONC_CARRIED, 0.01);
}

/*
 * A queue proved 400/s; then the pool runs full with nothing waiting (20 in flight at 400/s,
 * 50 ms each). The target stays what the queue proved, 20: the floor would put it at 23.5,
 * and the law, reading 400/s at 20 of 23.5, would take the capacity for 470/s.
 */
static void test_queue_proven_capacity_has_no_floor(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	feed(&c, 1.0, 100.0, 400.0, false);
	feed(&c, 2.0, 20.0, 400.0, false);
	assert_near(spw_concurrency_target(&c, NULL), 20.0, 0.1);
}

/*
 * Responses counted from 0 again (the data plane's maps were replaced): no window spans the
 * reset, so no rate is taken across it (an unsigned difference would read about 4e19/s).
 */
static void test_reset_count_learns_nothing(void **state)
{
	struct spw_concurrency c;

	(void)state;
	quiet_service(&c);
	completed = 0;
	feed(&c, 1.0, 100.0, 200.0, false);
	assert_near(c.capacity, 200.0, 1.0);
}

/* A service shed all along is never quiet: its time in service is not learned. */
static void test_shed_seconds_teach_no_w0(void **state)
{
	struct spw_concurrency c;

	(void)state;
	fresh(&c);
	feed(&c, 3 * SPW_BASELINE_MIN_SECONDS, 10.0, 200.0, false);
	assert_true(isnan(spw_concurrency_target(&c, NULL)));
	assert_true(c.capacity == 0);
}

/*
 * The law's reading of the counts: their mean over the last tick, so a service holding 16 on
 * average that reads 25 once (2 sigma) reads no clear overload against 21; a queue growing
 * past the noise (62 after 10, 10, 20) is read as it stands less that noise.
 */
static void test_reading_is_a_mean_unless_past_the_noise(void **state)
{
	struct spw_conc_reading m = {0};
	uint64_t t = 1000 * TICK_NS, step = TICK_NS / 5;

	(void)state;
	assert_near(spw_concurrency_reading(&m, 16.0, t, TICK_NS), 16.0, 1e-9);
	assert_near(spw_concurrency_reading(&m, 12.0, t += step, TICK_NS), 14.0, 1e-9);
	assert_near(spw_concurrency_reading(&m, 20.0, t += step, TICK_NS), 16.0, 1e-9);
	assert_near(spw_concurrency_reading(&m, 25.0, t += step, TICK_NS), 18.25, 1e-9);
	/* Read again at the same instant: one reading, the newer count. */
	assert_near(spw_concurrency_reading(&m, 21.0, t, TICK_NS), 17.25, 1e-9);
	/* Six readings a tick: the oldest leaves the window as the next comes. */
	spw_concurrency_reading(&m, 16.0, t += step, TICK_NS);
	spw_concurrency_reading(&m, 16.0, t += step, TICK_NS);
	assert_near(spw_concurrency_reading(&m, 10.0, t += step, TICK_NS), 15.833, 1e-3);
	assert_near(spw_concurrency_reading(&m, 62.0, t += step, TICK_NS), 62.0 - 2.0 * sqrt(62.0),
		    1e-9);
	/* A clock that went back: the new count alone. */
	assert_near(spw_concurrency_reading(&m, 10.0, t - 10 * TICK_NS, TICK_NS), 10.0, 1e-9);
	/* Nothing measured passes through, and counts nothing. */
	assert_true(isnan(spw_concurrency_reading(&m, NAN, t, TICK_NS)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_target_while_learning),
	    cmocka_unit_test(test_early_target_follows_the_throughput),
	    cmocka_unit_test(test_early_target_floor),
	    cmocka_unit_test(test_queue_teaches_the_capacity),
	    cmocka_unit_test(test_onset_teaches_the_whole_capacity),
	    cmocka_unit_test(test_one_tick_burst_teaches_no_capacity),
	    cmocka_unit_test(test_slowdown_keeps_the_target),
	    cmocka_unit_test(test_slowdown_teaches_no_capacity),
	    cmocka_unit_test(test_capacity_learned_low_rises),
	    cmocka_unit_test(test_held_without_queue_reads_low),
	    cmocka_unit_test(test_queue_proven_capacity_has_no_floor),
	    cmocka_unit_test(test_reset_count_learns_nothing),
	    cmocka_unit_test(test_shed_seconds_teach_no_w0),
	    cmocka_unit_test(test_reading_is_a_mean_unless_past_the_noise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
