// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control law (spw_control.h) and pressure (spw_signal.h), edge by edge; the simulated
 * server on its own. The closed loop against the simulated server, reporters of every kind and
 * overloads up to 10x, is tests/unit/test_control_sim.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "spw_control.h"
#include "spw_signal.h"
#include "sim_server.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* This cmocka has no assert_double_equal. */
static double absd(double x)
{
	return x < 0 ? -x : x;
}

#define assert_near(a, b, eps) assert_true(absd((double)(a) - (double)(b)) <= (eps))

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* The daemon's defaults: tick and hysteresis. */
#define TICK_NS	   (100 * NSEC_PER_MSEC)
#define HYSTERESIS 0.1

/* The simulated server: C = 20,000 requests/s, a pool of 200, 3 tiers 10/30/60 %. */
#define CAPACITY    20000.0
#define POOL	    200
#define QUEUE_LIMIT 200
#define DT_NS	    NSEC_PER_MSEC
#define TIERS	    3
#define FLOOR	    32		 /* tier 0 protected */
#define CEILING	    (TIERS * 32) /* 96: everything admitted */
static const double tier_mix[TIERS] = {0.10, 0.30, 0.60};

/* The simulated server on its own: arrival rates, capacity, the level, determinism. */
static void test_sim_model(void **state)
{
	struct sim_config cfg = {
	    .capacity = CAPACITY,
	    .pool_size = POOL,
	    .queue_limit = QUEUE_LIMIT,
	    .dt_ns = DT_NS,
	    .tiers = TIERS,
	    .seed = 42,
	};
	struct sim_server *a, *b;
	struct sim_window wa, wb;
	uint64_t done = 0, admitted2 = 0, offered2 = 0;
	uint32_t t;

	(void)state;
	for (t = 0; t < TIERS; t++)
		cfg.rate[t] = 0.5 * CAPACITY * tier_mix[t];
	a = sim_create(&cfg);
	b = sim_create(&cfg);
	assert_non_null(a);
	assert_non_null(b);
	/* Half capacity, all admitted: Poisson means within 2 % (100,000 arrivals), no wait. */
	sim_run(a, 10 * NSEC_PER_SEC);
	sim_run(b, 10 * NSEC_PER_SEC);
	sim_window_take(a, &wa);
	sim_window_take(b, &wb);
	assert_near(wa.saturation, 0.5, 0.01);
	for (t = 0; t < TIERS; t++) {
		assert_near(wa.tier[t].offered, 10 * cfg.rate[t], 0.02 * 10 * cfg.rate[t]);
		assert_int_equal(wa.tier[t].shed, 0);
		assert_int_equal(wa.tier[t].refused, 0);
	}
	assert_near(sim_latency_ms(a, 0, 0.5), (double)POOL / CAPACITY * 1000, 1e-9); /* M/C */
	/* Same seed, same run. */
	assert_memory_equal(wa.tier, wb.tier, sizeof(wa.tier));
	assert_near(wa.in_use_mean, wb.in_use_mean, 0);
	/* Twice the capacity: the pool serves C, the queue fills, the rest is refused. */
	for (t = 0; t < TIERS; t++)
		sim_set_rate(a, t, 2 * CAPACITY * tier_mix[t]);
	sim_run(a, NSEC_PER_SEC);
	sim_window_take(a, &wa);
	sim_run(a, 10 * NSEC_PER_SEC);
	sim_window_take(a, &wa);
	for (t = 0; t < TIERS; t++)
		done += wa.tier[t].completed;
	assert_near(done, 10 * CAPACITY, 0.001 * 10 * CAPACITY);
	assert_true(wa.saturation > 0.999);
	assert_true(wa.tier[2].refused > 0);
	assert_true(wa.waiting_max == QUEUE_LIMIT);
	assert_near(wa.wait_p99_ms, QUEUE_LIMIT / CAPACITY * 1000, 2.0); /* a full queue's wait */
	/* Level 64: tier 2 shed entirely, tiers 0 and 1 not at all. */
	sim_set_level(a, 64);
	sim_run(a, NSEC_PER_SEC);
	sim_window_take(a, &wa);
	assert_int_equal(wa.tier[0].shed, 0);
	assert_int_equal(wa.tier[1].shed, 0);
	assert_int_equal(wa.tier[2].admitted, 0);
	assert_true(wa.tier[2].shed > 0);
	/* Level 80: half of tier 2's cohorts, so half its connections (+-2 %). */
	sim_set_level(a, 80);
	sim_run(a, 5 * NSEC_PER_SEC);
	sim_window_take(a, &wa);
	admitted2 = wa.tier[2].admitted;
	offered2 = wa.tier[2].offered;
	assert_near((double)admitted2 / offered2, 0.5, 0.02);
	/* Capacity halved: the pool serves C/2. */
	sim_set_level(a, CEILING);
	sim_set_capacity(a, CAPACITY / 2);
	sim_run(a, NSEC_PER_SEC);
	sim_window_take(a, &wa);
	sim_run(a, 10 * NSEC_PER_SEC);
	sim_window_take(a, &wa);
	for (done = 0, t = 0; t < TIERS; t++)
		done += wa.tier[t].completed;
	assert_near(done, 10 * CAPACITY / 2, 0.001 * 10 * CAPACITY / 2);
	sim_destroy(a);
	sim_destroy(b);
	/* Configs it cannot run. */
	cfg.tiers = 0;
	assert_null(sim_create(&cfg));
	cfg.tiers = SIM_MAX_TIERS + 1;
	assert_null(sim_create(&cfg));
	cfg.tiers = TIERS;
	cfg.capacity = 0;
	assert_null(sim_create(&cfg));
	assert_null(sim_create(NULL));
}

/* ---- spw_pressure ---- */

static void test_pressure_max_and_stale(void **state)
{
	struct spw_signal s[3] = {
	    {.kind = SPW_SIG_POOL, .target = 0.85, .value = 0.425, .updated_ns = 1000},
	    {.kind = SPW_SIG_ACCEPT_QUEUE, .target = 0.5, .value = 0.6, .updated_ns = 900},
	    {.kind = SPW_SIG_LATENCY_P99, .target = 200, .value = 100, .updated_ns = 0},
	};

	(void)state;
	/* The largest fresh ratio: 0.6 / 0.5. The never-measured latency is stale. */
	assert_near(spw_pressure(s, 3, 1000, 500), 1.2, 1e-12);
	assert_false(s[0].stale);
	assert_false(s[1].stale);
	assert_true(s[2].stale);
	/* Exactly stale_after old is still fresh; one ns more is not. */
	assert_near(spw_pressure(s, 3, 1400, 500), 1.2, 1e-12);
	assert_near(spw_pressure(s, 3, 1401, 500), 0.5, 1e-12);
	assert_true(s[1].stale);
	/* Nothing fresh: NAN, never 0 or full. */
	assert_true(isnan(spw_pressure(s, 3, 10000, 500)));
	assert_true(s[0].stale && s[1].stale && s[2].stale);
	/* A reading stamped after now (a report between the clock read and the tick) is fresh. */
	s[2].updated_ns = 2000;
	assert_near(spw_pressure(s, 3, 1900, 500), 0.5, 1e-12);
	assert_false(s[2].stale);
	/* No signals, or a bad count. */
	assert_true(isnan(spw_pressure(s, 0, 1000, 500)));
	assert_true(isnan(spw_pressure(NULL, 3, 1000, 500)));
	assert_true(isnan(spw_pressure(s, -1, 1000, 500)));
}

static void test_pressure_invalid(void **state)
{
	struct spw_signal s = {.kind = SPW_SIG_QUEUE_AGE, .target = 100, .updated_ns = 5};
	static const struct {
		enum spw_signal_kind kind;
		double target, value;
	} bad[] = {
	    {SPW_SIG_QUEUE_AGE, 100, NAN},
	    {SPW_SIG_QUEUE_AGE, 100, -1},
	    {SPW_SIG_QUEUE_AGE, 100, -0.0001},
	    {SPW_SIG_QUEUE_AGE, 100, INFINITY},
	    {SPW_SIG_QUEUE_AGE, 100, 1e300},
	    {SPW_SIG_QUEUE_AGE, 100, 100 * SPW_PRESSURE_MAX * 1.5},
	    {SPW_SIG_QUEUE_AGE, 0, 10}, /* targets: config validation's job, but */
	    {SPW_SIG_QUEUE_AGE, -5, 10},
	    {SPW_SIG_QUEUE_AGE, NAN, 10},
	    {SPW_SIG_QUEUE_AGE, INFINITY, 10},
	    {SPW_SIG_QUEUE_AGE, 1e-320, 10}, /* denormal target: ratio overflows */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		s.kind = bad[i].kind;
		s.target = bad[i].target;
		s.value = bad[i].value;
		s.stale = false;
		assert_true(isnan(spw_pressure(&s, 1, 10, 100)));
		assert_true(s.stale);
	}
	/* Edges that are measurements: 0, a full pool, a big but believable overload. */
	s.kind = SPW_SIG_POOL;
	s.target = 0.85;
	s.value = 0;
	assert_near(spw_pressure(&s, 1, 10, 100), 0.0, 0);
	s.value = 1.0;
	assert_near(spw_pressure(&s, 1, 10, 100), 1.0 / 0.85, 1e-12);
	/* Over-full: more in use than the pool has, as pg_stat_activity counts it. */
	s.value = 1.01;
	assert_near(spw_pressure(&s, 1, 10, 100), 1.01 / 0.85, 1e-12);
	assert_false(s.stale);
	s.kind = SPW_SIG_LATENCY_P99;
	s.target = 200;
	s.value = 200 * 1000.0;
	assert_near(spw_pressure(&s, 1, 10, 100), 1000.0, 1e-9);
	assert_false(s.stale);
}

static void test_signal_kind_names(void **state)
{
	static const char *const want[SPW_SIG_KIND_COUNT] = {
	    "pool",	   "pool_wait",	  "queue",     "queue_age",	     "accept_queue",
	    "latency_p99", "connections", "in_flight", "oldest_request_age", "listen_overflow",
	};
	int k;

	(void)state;
	for (k = 0; k < SPW_SIG_KIND_COUNT; k++)
		assert_string_equal(spw_signal_kind_name((enum spw_signal_kind)k), want[k]);
	assert_string_equal(spw_signal_kind_name(SPW_SIG_KIND_COUNT), "unknown");
	assert_string_equal(spw_signal_kind_name((enum spw_signal_kind) - 1), "unknown");
	/* Every name fits the metrics' field; the state file's 16 bytes cut the longest. */
	for (k = 0; k < SPW_SIG_KIND_COUNT; k++)
		assert_true(strlen(want[k]) < SPW_SIGNAL_KIND_NAME_MAX);
}

/* A kind read back from the state file's 16-byte field, whole or cut. */
static void test_signal_kind_spelling(void **state)
{
	char field[16];

	(void)state;
	/* What the daemon's snprintf() of "oldest_request_age" leaves in the field. */
	memcpy(field, "oldest_request_", 16);
	assert_string_equal(spw_signal_kind_spelling(field, sizeof(field)), "oldest_request_age");
	snprintf(field, sizeof(field), "%s", "pool");
	assert_string_equal(spw_signal_kind_spelling(field, sizeof(field)), "pool");
	snprintf(field, sizeof(field), "%s", "pool_wait");
	assert_string_equal(spw_signal_kind_spelling(field, sizeof(field)), "pool_wait");
	/* A prefix that is not cut is no kind: "queue_a" is not queue_age. */
	snprintf(field, sizeof(field), "%s", "queue_a");
	assert_null(spw_signal_kind_spelling(field, sizeof(field)));
	snprintf(field, sizeof(field), "%s", "nothing");
	assert_null(spw_signal_kind_spelling(field, sizeof(field)));
	/* Sixteen bytes without a NUL: read as far as the field goes. */
	memcpy(field, "oldest_request_a", 16);
	assert_string_equal(spw_signal_kind_spelling(field, sizeof(field)), "oldest_request_age");
}

/* ---- spw_pressure_read ---- */

static void test_pressure_read(void **state)
{
	struct spw_signal s[3] = {
	    {.kind = SPW_SIG_POOL,
	     .target = 0.8,
	     .value = 0.4,
	     .load_value = NAN,
	     .updated_ns = 900},
	    {.kind = SPW_SIG_POOL_WAIT, .target = 50, .value = 10, .updated_ns = 950},
	    {.kind = SPW_SIG_LATENCY_P99, .target = 200, .value = 120, .updated_ns = 980},
	};
	struct spw_law_reading r;

	(void)state;
	/* Under target: the latency (0.6) sets the pressure, the pool (0.5) the load pressure,
	 * the newest measurement the time. */
	assert_int_equal(spw_pressure_read(s, 3, 1000, 500, &r), 2);
	assert_near(r.pressure, 0.6, 1e-12);
	assert_near(r.load_pressure, 0.5, 1e-12);
	assert_false(r.saturated);
	assert_int_equal(r.taken_ns, 980);
	/* Waiters: the value counts them, the load pressure is what is in use alone. */
	s[0].value = 1.2;
	s[0].load_value = 0.9;
	assert_int_equal(spw_pressure_read(s, 3, 1000, 500, &r), 0);
	assert_near(r.pressure, 1.5, 1e-12);
	assert_true(r.saturated); /* a fill at or past 1 */
	assert_near(r.saturated_pressure, 1.5, 1e-12);
	/* Over target, the reading's time is the newest of the signals over target. */
	assert_int_equal(r.taken_ns, 900);
	/* Full with nothing else known: saturated, never a slight excess. */
	s[0].value = 1.0;
	s[0].load_value = NAN;
	spw_pressure_read(s, 1, 1000, 500, &r);
	assert_true(r.saturated);
	assert_near(r.pressure, 1.25, 1e-12);
	/* Over-full as pg_stat_activity counts it (23 of 21): still a measurement. */
	s[0].value = 23.0 / 21.0;
	spw_pressure_read(s, 1, 1000, 500, &r);
	assert_true(r.saturated);
	assert_near(r.pressure, 23.0 / 21.0 / 0.8, 1e-12);
	/* A delay signal alone says "over", not by how much: no load pressure from it. */
	s[0].updated_ns = 0;
	s[1].value = 100;
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_near(r.pressure, 2.0, 1e-12);
	assert_true(isnan(r.load_pressure));
	assert_false(r.saturated);
	/* Requests in flight grow with the load: 12 of a target of 20 is a load pressure of
	 * 0.6, unless the target follows the load (an early in_flight target): then the ratio
	 * is a delay's, and no load pressure. */
	s[2] = (struct spw_signal){.kind = SPW_SIG_IN_FLIGHT,
				   .target = 20,
				   .value = 12,
				   .load_value = NAN,
				   .updated_ns = 980};
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_near(r.load_pressure, 0.6, 1e-12);
	assert_false(r.saturated);
	/* Within noise past the target: still a load (22 of 20, 1.1). */
	s[2].value = 22;
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_near(r.load_pressure, 1.1, 1e-12);
	assert_false(r.saturated);
	/* A quarter past it a queue stands, as in a full pool with waiters: saturated, and the
	 * queue is no load the law may learn a capacity from. */
	s[2].value = 60;
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_true(r.saturated);
	assert_near(r.saturated_pressure, 3.0, 1e-12);
	assert_true(isnan(r.load_pressure));
	s[2].value = 12;
	s[2].target_follows_load = true;
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_near(r.pressure, 2.0, 1e-12);
	assert_true(isnan(r.load_pressure));
	/* A target that follows the load is no capacity: no queue is read past it. */
	s[2].value = 60;
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_false(r.saturated);
	/* Nothing fresh. */
	assert_int_equal(spw_pressure_read(s, 3, 100000, 500, &r), -1);
	assert_true(isnan(r.pressure));
	assert_int_equal(r.taken_ns, 0);
	assert_int_equal(r.lag_ns, 0);
}

/*
 * The lag of a reading: the shortest time in which one of its fresh delay signals shows a
 * queue. An age shows every request older than its value; a latency or a pool wait of
 * completed requests shows a wait once past its target; fills and counts are no time.
 */
static void test_pressure_lag(void **state)
{
	struct spw_signal s[3] = {
	    {.kind = SPW_SIG_ACCEPT_QUEUE, .target = 0.5, .value = 0.1, .updated_ns = 900},
	    {.kind = SPW_SIG_LATENCY_P99, .target = 170, .value = 60, .updated_ns = 950},
	    {.kind = SPW_SIG_OLDEST_REQUEST_AGE, .target = 170, .value = 55, .updated_ns = 980},
	};
	struct spw_law_reading r;

	(void)state;
	spw_pressure_read(s, 1, 1000, 500, &r);
	assert_int_equal(r.lag_ns, 0);
	spw_pressure_read(s, 2, 1000, 500, &r);
	assert_int_equal(r.lag_ns, 170 * 1000000ULL);
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_int_equal(r.lag_ns, 55 * 1000000ULL);
	/* A stale age proves nothing: the latency's target again. */
	s[2].updated_ns = 100;
	spw_pressure_read(s, 3, 1000, 500, &r);
	assert_int_equal(r.lag_ns, 170 * 1000000ULL);
	assert_true(isnan(spw_signal_shows_after_ms(&s[0])));
}

/* ---- spw_law_step edges ---- */

#define T(n) ((uint64_t)(n)*TICK_NS)

static void law3(struct spw_law_params *p, struct spw_law_state *s)
{
	spw_law_defaults(p, FLOOR, CEILING, HYSTERESIS, TICK_NS);
	spw_law_init(s, p, TIERS);
}

/* A fresh reading of one pool signal at time t: pressure p, saturated when fill >= 1. */
static struct spw_law_reading reading(double p, uint64_t t)
{
	struct spw_law_reading r = {
	    .pressure = p,
	    .load_pressure = p,
	    .saturated = false,
	    .saturated_pressure = NAN,
	    .taken_ns = t,
	};

	return r;
}

static struct spw_law_reading saturated(double p, uint64_t t)
{
	struct spw_law_reading r = reading(p, t);

	r.saturated = true;
	r.saturated_pressure = p;
	r.load_pressure = NAN;
	return r;
}

static const struct spw_law_reading nothing = {
    .pressure = NAN, .load_pressure = NAN, .saturated_pressure = NAN};

/* One tick of counts: `per_s` new flows per second offered per tier, the level as given. */
static void observe(struct spw_law_state *s, const struct spw_law_params *p, const double *per_s,
		    double level, uint64_t now)
{
	struct spw_law_counts c = {.end_ns = now, .window_ns = TICK_NS, .level = level};
	uint32_t t;

	for (t = 0; t < TIERS; t++) {
		double open = level - t * 32.0;
		double share = open <= 0 ? 0 : open >= 32 ? 1 : open / 32;

		if (t == 0 && level >= FLOOR)
			share = 1;
		c.passed[t] = (uint64_t)(per_s[t] * share / 10.0 + 0.5);
		c.shed[t] = (uint64_t)(per_s[t] / 10.0 + 0.5) - c.passed[t];
		c.admitted[t] = c.passed[t];
	}
	spw_law_observe(s, p, &c);
}

static void test_law_defaults(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;

	(void)state;
	law3(&p, &s);
	assert_int_equal(p.floor, FLOOR);
	assert_int_equal(p.ceiling, CEILING);
	assert_int_equal(p.tick_ns, TICK_NS);
	assert_near(p.hysteresis, HYSTERESIS, 0);
	/* Cuts and recoveries aim inside the hold band, not at its edge. */
	assert_true(p.aim > 1.0 - HYSTERESIS && p.aim < 1.0);
	assert_true(p.settle_ns >= TICK_NS && p.recover_after_ns >= TICK_NS);
	assert_true(p.max_cut > 0 && p.max_cut < 1);
	assert_int_equal(p.drift_ranks, 2); /* (96 - 32) / 32 */
	assert_near(s.level, CEILING, 0);
	assert_int_equal(s.direction_changes, 0);
	assert_int_equal(spw_law_partial(&s, &p), 0);
	/* A long tick: the recovery wait is at least a tick. */
	spw_law_defaults(&p, FLOOR, CEILING, HYSTERESIS, 2 * NSEC_PER_SEC);
	assert_true(p.recover_after_ns >= 2 * NSEC_PER_SEC);
	/* One tier, protected: floor == ceiling, nothing to shed. */
	spw_law_defaults(&p, 32, 32, HYSTERESIS, TICK_NS);
	spw_law_init(&s, &p, 1);
	assert_int_equal(spw_law_step(&s, &p,
				      &(struct spw_law_reading){.pressure = 5,
								.load_pressure = NAN,
								.saturated = true,
								.saturated_pressure = 5,
								.taken_ns = T(1)},
				      T(1)),
			 32);
	/* A floor above the ceiling is pulled down to it. */
	spw_law_defaults(&p, 64, 32, HYSTERESIS, TICK_NS);
	assert_int_equal(p.floor, 32);
}

/* A saturated service, read fresh every tick, is shed down to the floor and never below. */
static void test_law_floor(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;
	uint32_t level = CEILING, prev;
	struct spw_law_reading r;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 100; i++) {
		prev = level;
		r = saturated(50.0, T(i));
		level = spw_law_step(&s, &p, &r, T(i));
		assert_true(level <= prev);
		assert_true(level >= FLOOR);
	}
	assert_int_equal(level, FLOOR);
	/* Unprotected tier 0: all the way to 0, and no wrap below. */
	spw_law_defaults(&p, 0, CEILING, HYSTERESIS, TICK_NS);
	spw_law_init(&s, &p, TIERS);
	for (i = 1; i <= 200; i++) {
		r = saturated(50.0, T(i));
		level = spw_law_step(&s, &p, &r, T(i));
	}
	assert_int_equal(level, 0);
	assert_true(s.level >= 0.0);
}

/* Low readings: nothing to raise at full admission; from the floor, back up to the ceiling. */
static void test_law_ceiling(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	uint32_t level = 0;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 100; i++) {
		r = reading(0.1, T(i));
		assert_int_equal(spw_law_step(&s, &p, &r, T(i)), CEILING);
	}
	assert_int_equal(s.last_move, 0);
	spw_law_resume(&s, &p, FLOOR, 0);
	for (i = 101; i <= 400; i++) {
		r = reading(0.1, T(i));
		level = spw_law_step(&s, &p, &r, T(i));
		assert_true(level <= CEILING);
	}
	assert_int_equal(level, CEILING);
	assert_int_equal(spw_law_partial(&s, &p), 0);
}

/*
 * Reports faster than the tick: the level moves at most once per tick, and a reading already
 * stepped on (the same taken_ns) draws nothing more however often it is stepped again.
 */
static void test_law_once_per_tick_and_reading(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	uint32_t level, prev = CEILING, moves = 0;
	uint64_t now;
	int i, k;

	(void)state;
	law3(&p, &s);
	/* 100 clear readings inside each tick for 5 ticks: at most 5 moves. */
	for (i = 0; i < 5; i++) {
		uint32_t in_tick = 0;

		for (k = 0; k < 100; k++) {
			now = T(10 + i) + (uint64_t)k * NSEC_PER_MSEC;
			r = saturated(3.0, now);
			level = spw_law_step(&s, &p, &r, now);
			in_tick += level != prev;
			moves += level != prev;
			prev = level;
		}
		assert_true(in_tick <= 1);
	}
	assert_true(moves >= 1 && moves <= 5);
	/* One reading stepped on over many ticks: one cut, then nothing. */
	law3(&p, &s);
	r = saturated(3.0, T(1));
	prev = spw_law_step(&s, &p, &r, T(1));
	assert_true(prev < CEILING);
	for (i = 2; i <= 15; i++)
		assert_int_equal(spw_law_step(&s, &p, &r, T(i)), prev);
}

/* The level never rises on a step whose fresh reading is over target (random readings). */
static void test_law_no_rise_over_target(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;
	uint32_t level, prev;
	uint64_t now = 0, rng = 12345;
	int i, over = 0;

	(void)state;
	law3(&p, &s);
	prev = CEILING;
	for (i = 0; i < 20000; i++) {
		struct spw_law_reading r;
		double x;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		now += (rng >> 40) % (3 * TICK_NS / 2) + 1;
		x = (double)((rng >> 20) % 3000) / 1000.0;
		r = x >= 1.6 && (rng & 1) ? saturated(x, now) : reading(x, now);
		level = spw_law_step(&s, &p, &r, now);
		if (x > 1.0) {
			over++;
			assert_true(level <= prev);
		}
		assert_true(level >= FLOOR && level <= CEILING);
		prev = level;
	}
	assert_true(over > 5000);
}

/* With no fresh signal the level drifts up, slowly, after drift_after: never NaN, never stuck. */
static void test_law_nothing_fresh(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;
	uint32_t level = 0;
	uint64_t i, wait = 0;

	(void)state;
	law3(&p, &s);
	spw_law_resume(&s, &p, 50, 0);
	for (i = 1; i <= 200; i++) {
		level = spw_law_step(&s, &p, &nothing, T(i));
		if (level == 50)
			wait = i;
		assert_false(isnan(s.level));
	}
	assert_true(wait * TICK_NS >= p.drift_after_ns - TICK_NS);
	assert_int_equal(level, CEILING);
	/* A garbage pressure is taken as nothing fresh, not as a measurement. */
	law3(&p, &s);
	spw_law_resume(&s, &p, 50, 0);
	for (i = 1; i <= 5; i++) {
		struct spw_law_reading r = reading(-1.0, T(i));

		assert_int_equal(spw_law_step(&s, &p, &r, T(i)), 50);
		r = reading(INFINITY, T(i) + 1);
		assert_int_equal(spw_law_step(&s, &p, &r, T(i) + 1), 50);
	}
}

/* The level's fraction is the partial share of the next rank, in 1/256. */
static void test_law_partial_and_resume(void **state)
{
	struct spw_law_params p;
	struct spw_law_state s;

	(void)state;
	law3(&p, &s);
	spw_law_resume(&s, &p, 60.5, 400.0);
	assert_near(s.level, 60.5, 1e-12);
	assert_int_equal(spw_law_partial(&s, &p), 128);
	assert_near(s.capacity, 400.0, 1e-12);
	spw_law_resume(&s, &p, 60.25, 0);
	assert_int_equal(spw_law_partial(&s, &p), 64);
	spw_law_resume(&s, &p, 61, 0);
	assert_int_equal(spw_law_partial(&s, &p), 0);
	/* Out of range and NaN levels are clamped; a NaN or negative capacity is "unknown". */
	spw_law_resume(&s, &p, 500, NAN);
	assert_near(s.level, CEILING, 0);
	assert_near(s.capacity, 0, 0);
	assert_int_equal(spw_law_partial(&s, &p), 0);
	spw_law_resume(&s, &p, NAN, -3);
	assert_near(s.level, FLOOR, 0);
	assert_near(s.capacity, 0, 0);
	spw_law_resume(&s, &p, 3, 0);
	assert_near(s.level, FLOOR, 0);
}

/*
 * Demand: a tier's offered rate is learned from what its open cohorts let pass, so the rate a
 * level admits is known even for the cohorts it sheds.
 */
static void test_law_demand(void **state)
{
	static const double per_s[TIERS] = {100, 300, 600};
	struct spw_law_params p;
	struct spw_law_state s;
	int i;

	(void)state;
	law3(&p, &s);
	assert_near(spw_law_rate_at(&s, &p, CEILING), 0, 0);
	/* Observed at level 80: tier 2 half open. */
	for (i = 1; i <= 40; i++)
		observe(&s, &p, per_s, 80, T(i));
	assert_true(s.demand_known);
	assert_near(s.demand[0], 100, 5);
	assert_near(s.demand[1], 300, 10);
	assert_near(s.demand[2], 600, 20);
	assert_near(spw_law_rate_at(&s, &p, CEILING), 1000, 30);
	assert_near(spw_law_rate_at(&s, &p, 64), 400, 15);
	assert_near(spw_law_rate_at(&s, &p, 72), 550, 20);
	/* The floor is open whatever the level. */
	assert_near(spw_law_rate_at(&s, &p, 0), 100, 5);
}

/*
 * A clear overload cuts to where the demand fits in one step: 3x the capacity, measured by a
 * pool that scales with the load, with the demand known, lands within one tier of the level
 * that admits capacity x aim, not at the floor.
 */
static void test_law_cut_by_demand(void **state)
{
	static const double per_s[TIERS] = {100, 300, 600};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	double want_rate, got;
	uint32_t level;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 40; i++)
		observe(&s, &p, per_s, CEILING, T(i));
	/* 1000/s admitted against a capacity of 500/s: the pool reads 2x its target. */
	r = reading(2.0, T(40));
	level = spw_law_step(&s, &p, &r, T(40));
	want_rate = 500 * p.aim;
	got = spw_law_rate_at(&s, &p, s.level);
	print_message("cut from 96 to %u (%.2f): admits %.0f/s, wants %.0f/s\n", level, s.level,
		      got, want_rate);
	assert_true(level >= 32 + 16 && level <= 64 + 16);
	assert_near(got, want_rate, 0.25 * want_rate);
}

/*
 * One tick of counts where tier 1's open cohorts carry `through` of their uniform share of its
 * load (a few large client prefixes; the cohort salt rotated): the demand estimated through
 * them is off, while the flows entering, shed or not, are as before.
 */
static void observe_lumpy(struct spw_law_state *s, const struct spw_law_params *p,
			  const double *per_s, double level, double through, uint64_t now)
{
	struct spw_law_counts c = {.end_ns = now, .window_ns = TICK_NS, .level = level};
	uint32_t t;

	for (t = 0; t < TIERS; t++) {
		double open = level - t * 32.0;
		double share = open <= 0 ? 0 : open >= 32 ? 1 : open / 32;
		uint64_t entering = (uint64_t)(per_s[t] / 10.0 + 0.5);

		if (t == 0)
			share = 1;
		if (t == 1)
			share *= through;
		c.passed[t] = (uint64_t)((double)entering * share + 0.5);
		c.shed[t] = entering - c.passed[t];
		c.admitted[t] = c.passed[t];
	}
	spw_law_observe(s, p, &c);
}

/*
 * A level just read in clear overload is not passed again on one low reading while the load
 * through the open cohorts looks smaller than it is; once the flows entering fall (the load
 * ended), the level rises at once.
 */
static void test_law_no_rise_past_overload(void **state)
{
	static const double per_s[TIERS] = {100, 300, 600}, after[TIERS] = {10, 30, 60};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	double overloaded;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 40; i++)
		observe(&s, &p, per_s, CEILING, T(i));
	r = reading(2.0, T(40));
	spw_law_step(&s, &p, &r, T(40));
	for (i = 41; i <= 44; i++)
		observe(&s, &p, per_s, s.level, T(i));
	/* Still full at the level it cut to: that level is an overload. */
	overloaded = s.level;
	r = saturated(1.1, T(44));
	spw_law_step(&s, &p, &r, T(44));
	print_message("overload read at level %.1f, now %.1f\n", overloaded, s.level);
	/* Tier 1's open cohorts now carry a third of their share: the pool reads low. */
	for (i = 45; i <= 60; i++) {
		observe_lumpy(&s, &p, per_s, s.level, 1.0 / 3, T(i));
		r = reading(0.6, T(i));
		spw_law_step(&s, &p, &r, T(i));
		assert_true(s.level <= overloaded);
	}
	/* The load falls tenfold: what was overloaded fits now. */
	for (i = 61; i <= 66; i++) {
		observe(&s, &p, after, s.level, T(i));
		r = reading(0.1, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	print_message("after the load fell: level %.1f\n", s.level);
	assert_true(s.level > overloaded);
}

/*
 * The end of an overload at the floor (tier 0 alone admitted): tier 0 falls from 12 flows a
 * window to 2, a fall no one window proves beyond chance. Once the fall of all that enters
 * is confirmed (300 ms), every tier's demand is what the fall's windows counted, tier 0's
 * included: an estimate left near the overload's 120/s sized the rise after it as if tier 0
 * alone still filled the capacity (the demo: 32 -> 33 -> 38 -> 96, over a second).
 */
static void test_law_fall_taken_whole(void **state)
{
	static const double before[TIERS] = {120, 360, 720}, after[TIERS] = {20, 60, 120};
	struct spw_law_params p;
	struct spw_law_state s;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 40; i++)
		observe(&s, &p, before, FLOOR, T(i));
	assert_near(s.demand[0], 120, 10);
	for (i = 41; i <= 43; i++)
		observe(&s, &p, after, FLOOR, T(i));
	print_message("demand after the fall: %.0f/%.0f/%.0f per s\n", s.demand[0], s.demand[1],
		      s.demand[2]);
	assert_true(s.fall_since_ns == 0); /* confirmed */
	assert_near(s.demand[0], 20, 5);
	assert_near(s.demand[1], 60, 10);
	assert_near(s.demand[2], 120, 20);
	assert_near(spw_law_rate_at(&s, &p, CEILING), 200, 30);
}

/*
 * One tick of counts where each tier comes from one host (a front tier calling this one), all
 * of tier t's flows in cohort cohort[t], passed when its rank is under the level; or, cohort
 * NULL, from many hosts spread evenly over the cohorts (ranks not counted).
 */
static const uint32_t host_cohort[TIERS] = {5, 30, 3};

static void observe_hosts(struct spw_law_state *s, const struct spw_law_params *p,
			  const double *per_s, const uint32_t *cohort, uint64_t now)
{
	struct spw_law_counts c = {.end_ns = now, .window_ns = TICK_NS, .level = s->level};
	uint32_t t;

	if (!cohort) {
		observe(s, p, per_s, s->level, now);
		return;
	}
	c.ranks_known = true;
	for (t = 0; t < TIERS; t++) {
		uint32_t r = t * 32 + cohort[t];
		uint64_t n = (uint64_t)(per_s[t] / 10.0 + 0.5);

		if (r < (uint32_t)s->level || t == 0)
			c.passed[t] = c.rank_passed[r] = c.admitted[t] = n;
		else
			c.shed[t] = c.rank_shed[r] = n;
	}
	spw_law_observe(s, p, &c);
}

/*
 * Backpressure that crossed a host: this service sheds tier 2, and the caller's client-side
 * throttle then refuses most of tier 2's calls on its own side, so they stop arriving here,
 * while tiers 0 and 1 keep coming; the pool reads low (tier 2 shed). Tier 2's demand is
 * hidden, not gone: a rise that takes it for gone lets the whole of it back into the database
 * it was cut from, the caller resumes, and the level turns every few hundred ms (seen across
 * two hosts: 61 <-> 96 through a slow database, "demand 25/s" read at 61). Read as gone by:
 * a shed rank of a skewed tier counted at most the tier's even share (nothing when its open
 * ranks carry nothing), a shed tier's count taken at once, and the confirmed fall of the
 * flows entering taken whole. For the first second no level is a clear overload (past the
 * capacity of 250/s by the band) by the demand before the throttle; if the calls stay away
 * (the demand ended) the level is back at full within 8 s.
 */
/* The new flows/s a level admits of the warm load below, tier 2 from one host or many. */
static double admitted_at(const double *per_s, bool one_host, double level)
{
	double share2 = (level - 64) / 32;

	if (one_host)
		share2 = level > 64 + host_cohort[2] ? 1 : 0;
	if (share2 < 0)
		share2 = 0;
	return per_s[0] + per_s[1] + per_s[2] * (share2 > 1 ? 1 : share2);
}

static void hidden_demand_held(bool one_host, double level)
{
	static const double warm[TIERS] = {30, 180, 720}, throttled[TIERS] = {30, 180, 10};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	int i, full_at = 0;

	law3(&p, &s);
	for (i = 1; i <= 40; i++)
		observe_hosts(&s, &p, warm, one_host ? host_cohort : NULL, T(i));
	assert_true(s.rank_skewed[2] == one_host);
	/* Cut where tiers 0 and 1 fit a capacity of 250/s and tier 2 does not. */
	spw_law_resume(&s, &p, level, 250);
	for (i = 41; i <= 45; i++)
		observe_hosts(&s, &p, warm, one_host ? host_cohort : NULL, T(i));
	for (i = 46; i <= 130; i++) {
		observe_hosts(&s, &p, throttled, one_host ? host_cohort : NULL, T(i));
		r = reading(0.84, T(i));
		spw_law_step(&s, &p, &r, T(i));
		if (i <= 56 && admitted_at(warm, one_host, s.level) > 250 * (1 + HYSTERESIS))
			print_message("tick %d: level %.1f admits %.0f/s (demand at full %.0f/s)\n",
				      i - 45, s.level, admitted_at(warm, one_host, s.level),
				      spw_law_rate_at(&s, &p, CEILING));
		if (i <= 56)
			assert_true(admitted_at(warm, one_host, s.level) <= 250 * (1 + HYSTERESIS));
		if (!full_at && s.level >= CEILING)
			full_at = i - 45;
	}
	print_message("%s: tier 2's calls stopped, full admission after %.1f s\n",
		      one_host ? "one host a tier" : "many hosts", full_at / 10.0);
	assert_true(full_at > 10 && full_at <= 80);
}

static void test_law_hidden_demand_held(void **state)
{
	(void)state;
	hidden_demand_held(true, 64 + host_cohort[2]);
	hidden_demand_held(false, 64);
}

/*
 * The cohort salt rotates (every 10 s by default): tier 2's one host, shed in rank 67, is in
 * rank 84 from then on, a rank that was open and let nothing pass. What it let pass then is no
 * bound on what it holds now: bounded so, the host's whole tier read as nothing, and once the
 * old rank's estimate had decayed (7 s) the level rose past 84 and let it in. Told of the
 * rotation, the law takes the rank's shed count as its demand and keeps it shed.
 */
static void test_law_cohorts_moved(void **state)
{
	static const double load[TIERS] = {30, 180, 720};
	static const uint32_t moved[TIERS] = {5, 30, 20};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	double top = 0;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 40; i++)
		observe_hosts(&s, &p, load, host_cohort, T(i));
	spw_law_resume(&s, &p, 64 + host_cohort[2], 250);
	for (i = 41; i <= 45; i++)
		observe_hosts(&s, &p, load, host_cohort, T(i));
	spw_law_cohorts_moved(&s);
	for (i = 46; i <= 150; i++) {
		observe_hosts(&s, &p, load, moved, T(i));
		r = reading(0.84, T(i));
		spw_law_step(&s, &p, &r, T(i));
		if (s.level > top)
			top = s.level;
	}
	print_message("after the rotation: highest level %.1f (tier 2's host at rank %u)\n", top,
		      64 + moved[2]);
	assert_true(top <= 64 + moved[2]);
}

/*
 * A skewed rank taken whole (all of it fits at pressure 1, not at the aim), and a rank above
 * it that once let a stray flow pass: its estimate decays and never reaches nothing, and the
 * level stopped at it, shedding the ranks above with room for them. What fits at pressure 1
 * past the rank taken whole is admitted too: full admission.
 */
static void test_law_whole_rank_then_leftovers(void **state)
{
	static const double load[TIERS] = {30, 180, 200};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 40; i++) {
		struct spw_law_counts c = {.end_ns = T(i), .window_ns = TICK_NS, .level = CEILING};
		uint32_t t;

		c.ranks_known = true;
		for (t = 0; t < TIERS; t++) {
			uint32_t rk = t * 32 + host_cohort[t];

			c.passed[t] = c.rank_passed[rk] = c.admitted[t] =
			    (uint64_t)(load[t] / 10.0 + 0.5);
		}
		if (i == 20) { /* one stray flow of tier 2 in cohort 26 */
			c.passed[2]++;
			c.admitted[2]++;
			c.rank_passed[64 + 26]++;
		}
		spw_law_observe(&s, &p, &c);
	}
	assert_true(s.rank_skewed[2]);
	assert_true(s.rank_rate[64 + 26] > 0);
	/* 410/s offered: over capacity x aim, within the capacity (pressure 1). */
	spw_law_resume(&s, &p, 64, 415);
	for (i = 41; i <= 50; i++) {
		observe_hosts(&s, &p, load, host_cohort, T(i));
		/* A low reading that teaches nothing of the capacity (a delay below target). */
		r = reading(0.5, T(i));
		r.load_pressure = NAN;
		spw_law_step(&s, &p, &r, T(i));
	}
	print_message("level %.1f (the stray flow's rank %u, estimate %.3f/s)\n", s.level, 64 + 26,
		      s.rank_rate[64 + 26]);
	assert_near(s.level, CEILING, 0);
}

/*
 * The load stops, tier 0 included, where tier 0 is small: 3 flows a window, 9 expected over
 * the 300 ms that confirm the fall. A fall of 9 flows does not pass 3 standard deviations of
 * chance (9), so a normal-approximation test could never show it, and the stop read as shed
 * clients backing off: the shed tiers' demand kept, the level rose in three steps over 0.9 s
 * as each tier's open cohorts showed it empty. Counted exactly (9 expected, none seen: a
 * chance of 0.01 %), the stop is the load's: full admission in one rise.
 */
static void test_law_small_open_tiers_fall(void **state)
{
	static const double load[TIERS] = {25, 300, 720}, none[TIERS] = {0, 0, 0};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	unsigned int rises = 0;
	int i, full_at = 0;

	(void)state;
	law3(&p, &s);
	spw_law_resume(&s, &p, FLOOR, 200);
	for (i = 1; i <= 20; i++)
		observe(&s, &p, load, s.level, T(i));
	for (i = 21; i <= 40; i++) {
		double before = s.level;

		observe(&s, &p, none, s.level, T(i));
		r = reading(0.05, T(i));
		spw_law_step(&s, &p, &r, T(i));
		rises += s.level > before;
		if (!full_at && s.level >= CEILING)
			full_at = i - 20;
	}
	print_message("the load stopped at the floor: full admission after %d ticks, %u rises\n",
		      full_at, rises);
	assert_true(full_at > 0 && full_at <= 4);
	assert_int_equal(rises, 1);
}

/*
 * A capacity estimate of a slow database (100/s) while the database is fast again (400/s) at
 * 0.5C: the pool at the floor reads `fill` of its target. A rise sized by the stale estimate
 * stops where 100/s fits, and the low readings after it, below learn_min, never relearn it.
 * The admitted rate over the fill says the capacity is past it; taken at each of
 * `reports_at` (ns after each tick: 0 at the tick, else between ticks, when the tick's counts
 * end before the report's window does), full admission is reached in one rise.
 */
static void stale_capacity_recovers(double fill, uint64_t reports_at)
{
	static const double load[TIERS] = {20, 60, 120};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	unsigned int rises = 0;
	double prev;
	int i;

	law3(&p, &s);
	spw_law_resume(&s, &p, FLOOR, 100);
	for (i = 1; i <= 10; i++)
		observe(&s, &p, load, FLOOR, T(i));
	for (i = 11; i <= 30; i++) {
		observe(&s, &p, load, s.level, T(i));
		r = reading(fill, T(i) + reports_at);
		prev = s.level;
		spw_law_step(&s, &p, &r, T(i) + reports_at);
		rises += s.level > prev;
	}
	print_message("fill %.2f, reports %llu ms after the tick: level %.1f in %u rises\n", fill,
		      (unsigned long long)(reports_at / NSEC_PER_MSEC), s.level, rises);
	assert_near(s.level, CEILING, 0);
	assert_int_equal(rises, 1);
}

static void test_law_stale_capacity_recovers(void **state)
{
	(void)state;
	stale_capacity_recovers(0.05, 0);
	/* A report 70 ms after the tick: its 100 ms window is counted for 30 ms only. */
	stale_capacity_recovers(0.05, 70 * NSEC_PER_MSEC);
	/* A pool empty all through the report: the capacity is past any estimate. */
	stale_capacity_recovers(0.0, 0);
}

/* A fresh reading of delay signals only (an age, a latency): nothing that scales with the
 * load, and a queue shows in it only after lag_ms. */
static struct spw_law_reading delay_reading(double p, double lag_ms, uint64_t t)
{
	struct spw_law_reading r = reading(p, t);

	r.load_pressure = NAN;
	r.lag_ns = (uint64_t)(lag_ms * NSEC_PER_MSEC);
	return r;
}

/*
 * Delay signals only: a low reading proves only what was admitted more than its lag ago. The
 * load tripled 200 ms ago, all of it admitted; an age target of 170 ms cannot show that yet.
 * The rate served stays near the 300/s of the second before, not the 1000/s of the last two
 * ticks (taken as served, the next overload's cut landed past the capacity).
 */
static void test_law_served_lags(void **state)
{
	static const double before[TIERS] = {30, 90, 180}, now_s[TIERS] = {100, 300, 600};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 20; i++) {
		observe(&s, &p, before, CEILING, T(i));
		r = delay_reading(0.3, 60, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	print_message("served at 300/s: %.0f/s\n", s.served);
	assert_true(s.served >= 250 && s.served <= 310);
	for (i = 21; i <= 22; i++) {
		observe(&s, &p, now_s, CEILING, T(i));
		r = delay_reading(0.5, 170, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	print_message("200 ms of 1000/s later, the delay still low: served %.0f/s\n", s.served);
	assert_true(s.served <= 400);
}

/*
 * Delay signals only: after a cut, the age of the queue the level before built stays over
 * target until the queue is gone. Those readings, at the levels the cuts led to, are that
 * backlog: the level the overload was read at after a rise stays the bracket, and the rises
 * after it stop short of it while the overload is remembered.
 */
static void test_law_backlog_keeps_bracket(void **state)
{
	static const double per_s[TIERS] = {100, 300, 600};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	double bracket;
	int i;

	(void)state;
	law3(&p, &s);
	spw_law_resume(&s, &p, 48, 0);
	/* Low readings until the first rise; it goes past the capacity: the next reading is
	 * clear, and the level it is read at is the bracket. */
	for (i = 1; i <= 20 && s.level <= 48; i++) {
		observe(&s, &p, per_s, s.level, T(i));
		r = delay_reading(0.3, 60, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	bracket = s.level;
	assert_true(bracket > 48 && bracket < CEILING);
	for (; i <= 22; i++) {
		observe(&s, &p, per_s, s.level, T(i));
		r = delay_reading(1.5, 255, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	assert_true(s.level < bracket);
	/* The backlog drains for a second: over target, not rising, at the levels cut to. */
	for (i = 23; i <= 31; i++) {
		observe(&s, &p, per_s, s.level, T(i));
		r = delay_reading(1.5, 255, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	print_message("overload read at %.1f after a rise; cut to %.1f; bracket %.1f\n", bracket,
		      s.level, s.over_level);
	assert_near(s.over_level, bracket, 1e-9);
	/* Drained: low readings; within the overload's memory no rise reaches the bracket. */
	for (i = 32; i <= 45; i++) {
		observe(&s, &p, per_s, s.level, T(i));
		r = delay_reading(0.3, 60, T(i));
		spw_law_step(&s, &p, &r, T(i));
		assert_true(s.level < bracket);
	}
}

/*
 * A flood (a pool, or requests in flight past their capacity's target) whose first reading
 * came while the window held little of it: the demand estimate is the onset's, the cut falls
 * short. The next reading, within the settle time, is saturated and has grown fivefold: it
 * is cut at once, not a settle time later. Then the backlog drains at a level that fits:
 * deep but shrinking, it is no capacity that fell, and the estimate stays.
 */
static void test_law_flood_cut_then_backlog(void **state)
{
	static const double quiet[TIERS] = {40, 120, 240}, onset[TIERS] = {60, 500, 1000},
			    flood[TIERS] = {100, 1500, 3000};
	struct spw_law_params p;
	struct spw_law_state s;
	struct spw_law_reading r;
	double first, cap;
	int i;

	(void)state;
	law3(&p, &s);
	for (i = 1; i <= 40; i++) {
		observe(&s, &p, quiet, CEILING, T(i));
		r = reading(0.8, T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	cap = s.capacity;
	print_message("capacity learned: %.0f/s\n", cap);
	assert_near(cap, 500, 25);
	observe(&s, &p, onset, CEILING, T(41));
	r = saturated(1.5, T(41));
	spw_law_step(&s, &p, &r, T(41));
	first = s.level;
	assert_true(first < CEILING && first > 32);
	observe(&s, &p, flood, first, T(42));
	r = saturated(8.0, T(42));
	spw_law_step(&s, &p, &r, T(42));
	print_message("onset cut to %.1f, the flood's next reading to %.1f (admits %.0f/s)\n",
		      first, s.level, spw_law_rate_at(&s, &p, s.level));
	assert_true(s.level < first);
	assert_true(spw_law_rate_at(&s, &p, s.level) <= cap * (1.0 + p.hysteresis));
	/* The backlog drains: deep, each reading below the one before. */
	for (i = 43; i <= 48; i++) {
		observe(&s, &p, flood, s.level, T(i));
		r = saturated(8.0 - 0.3 * (i - 42), T(i));
		spw_law_step(&s, &p, &r, T(i));
	}
	print_message("after the backlog: capacity %.0f/s, level %.1f\n", s.capacity, s.level);
	assert_near(s.capacity, cap, 1e-9);
}

/* ---- spw_retry_hint ---- */

static void test_retry_hint(void **state)
{
	struct spw_law_params p;
	uint32_t lo, hi, flo, fhi, prev_lo = 0, level;

	(void)state;
	spw_law_defaults(&p, FLOOR, CEILING, HYSTERESIS, TICK_NS);
	/* Nothing shed: no hint. */
	lo = hi = 99;
	spw_retry_hint(CEILING, CEILING, &p, &lo, &hi);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	spw_retry_hint(CEILING, 40, &p, &lo, &hi);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	/* The more is shed, the longer: never shorter for a lower level; lo <= hi always; still
	 * falling is longer than steady. */
	for (level = CEILING - 1; level + 1 > 0; level--) {
		spw_retry_hint(level, level, &p, &lo, &hi);
		assert_true(lo >= 1 && lo <= hi && hi == 2 * lo);
		assert_true(lo >= prev_lo);
		prev_lo = lo;
		spw_retry_hint(level, level + 1, &p, &flo, &fhi);
		assert_true(flo >= lo && fhi >= hi && flo <= fhi);
	}
	/* Absurd parameters stay bounded. */
	p.recover_after_ns = UINT64_MAX / 2;
	spw_retry_hint(40, 41, &p, &lo, &hi);
	assert_true(lo >= 1 && lo <= hi && hi <= 3600);
	p.recover_after_ns = 0;
	p.tick_ns = 0;
	p.drift_ranks = 0;
	spw_retry_hint(95, 95, &p, &lo, &hi);
	assert_true(lo >= 1 && lo <= hi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pressure_max_and_stale),
	    cmocka_unit_test(test_pressure_invalid),
	    cmocka_unit_test(test_signal_kind_names),
	    cmocka_unit_test(test_signal_kind_spelling),
	    cmocka_unit_test(test_pressure_read),
	    cmocka_unit_test(test_pressure_lag),
	    cmocka_unit_test(test_law_defaults),
	    cmocka_unit_test(test_law_floor),
	    cmocka_unit_test(test_law_ceiling),
	    cmocka_unit_test(test_law_once_per_tick_and_reading),
	    cmocka_unit_test(test_law_no_rise_over_target),
	    cmocka_unit_test(test_law_nothing_fresh),
	    cmocka_unit_test(test_law_partial_and_resume),
	    cmocka_unit_test(test_law_demand),
	    cmocka_unit_test(test_law_cut_by_demand),
	    cmocka_unit_test(test_law_no_rise_past_overload),
	    cmocka_unit_test(test_law_fall_taken_whole),
	    cmocka_unit_test(test_law_hidden_demand_held),
	    cmocka_unit_test(test_law_cohorts_moved),
	    cmocka_unit_test(test_law_whole_rank_then_leftovers),
	    cmocka_unit_test(test_law_small_open_tiers_fall),
	    cmocka_unit_test(test_law_stale_capacity_recovers),
	    cmocka_unit_test(test_law_served_lags),
	    cmocka_unit_test(test_law_backlog_keeps_bracket),
	    cmocka_unit_test(test_law_flood_cut_then_backlog),
	    cmocka_unit_test(test_retry_hint),
	    cmocka_unit_test(test_sim_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
