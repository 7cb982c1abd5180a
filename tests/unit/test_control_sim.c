// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control law in a closed loop with a simulated server (tests/lib/sim_loop.h): the law,
 * the pressure and the report-driven step exactly as spillwayd runs them, against a server of
 * C = 20,000 requests/s with a pool of 200 and 200 waiters beyond it, 3 tiers.
 *
 * "Within +-10 % of target" is measured on the server, not on what the law was fed: the mean
 * of pool saturation / target over the last 1 s (10 ticks) lies in [0.9, 1.1] at every tick
 * from the settle time to the end of the phase. The settle time is the earliest such time,
 * counted from the change: 1.0 s at best, when the first full window already passes.
 *
 * Each scenario runs with several seeds and must pass with every one: a pass is a property of
 * the law, not of one lucky draw of Poisson noise. SPW_SIM_SEEDS=N runs N seeds instead; the
 * figures printed are the worst over the seeds. SPW_SIM_TRACE=DIR writes the first seed's run
 * of each scenario tick by tick to DIR/NAME.tsv.
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
#include "sim_loop.h"

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define S(n)	      ((uint64_t)(n)*NSEC_PER_SEC)
#define MS(n)	      ((uint64_t)(n)*NSEC_PER_MSEC)
#define TICK_NS	      MS(100)
#define CEILING	      96
#define BAND_LO	      0.9
#define BAND_HI	      1.1

/* Seeds per scenario unless SPW_SIM_SEEDS says otherwise. */
#define DEFAULT_SEEDS 5

static unsigned int nseeds = DEFAULT_SEEDS;

static uint64_t seed_of(unsigned int i)
{
	return 0x5eed0000ULL + i * 7919ULL;
}

static struct sim_loop cur;

static int loop_teardown(void **state)
{
	(void)state;
	sim_loop_free(&cur);
	return 0;
}

static void start(struct sim_loop *l, const struct sim_loop_config *c)
{
	assert_int_equal(sim_loop_init(l, c), 0);
}

static void dump(const struct sim_loop *l, const char *name)
{
	const char *dir = getenv("SPW_SIM_TRACE");
	char path[512];
	FILE *f;
	size_t i;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s.tsv", dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "t\tfed\tmeasured\tlevel\tturns\n");
	for (i = 0; i < l->n; i++)
		fprintf(f, "%.1f\t%.4f\t%.4f\t%u\t%u\n", (double)l->rec[i].t_ns / NSEC_PER_SEC,
			l->rec[i].fed, l->rec[i].measured, l->rec[i].level, l->rec[i].turns);
	fclose(f);
}

static double secs(int64_t ns)
{
	return ns < 0 ? -1.0 : (double)ns / NSEC_PER_SEC;
}

static void worst_of(double *w, double v)
{
	if (v < 0 || *w < 0)
		*w = -1.0; /* "never" is the worst */
	else if (v > *w)
		*w = v;
}

static void farthest(double *w, double v)
{
	if (fabs(v - 1.0) > fabs(*w - 1.0))
		*w = v;
}

/* The level the law holds over ticks [from, to): the most frequent one. */
static uint32_t held_level(const struct sim_loop *l, size_t from, size_t to)
{
	uint32_t count[CEILING + 1] = {0}, best = 0, lv;
	size_t i;

	for (i = from; i < to && i < l->n; i++)
		if (l->rec[i].level <= CEILING)
			count[l->rec[i].level]++;
	for (lv = 0; lv <= CEILING; lv++)
		if (count[lv] > count[best])
			best = lv;
	return best;
}

/* First tick of [from, to) whose level is below the one before `from`; SIZE_MAX if none. */
static size_t first_cut(const struct sim_loop *l, size_t from, size_t to)
{
	uint32_t before = from ? l->rec[from - 1].level : CEILING;
	size_t i;

	for (i = from; i < to && i < l->n; i++)
		if (l->rec[i].level < before)
			return i;
	return SIZE_MAX;
}

/* Tier 0 never shed; tier 2 shed from no later than tier 1. */
static void check_tiers(const struct sim_loop *l, size_t from, size_t to)
{
	size_t i, first1 = SIZE_MAX, first2 = SIZE_MAX;

	for (i = from; i < to && i < l->n; i++) {
		assert_int_equal(l->rec[i].tier[0].shed, 0);
		if (first1 == SIZE_MAX && l->rec[i].tier[1].shed)
			first1 = i;
		if (first2 == SIZE_MAX && l->rec[i].tier[2].shed)
			first2 = i;
	}
	if (first1 != SIZE_MAX)
		assert_true(first2 <= first1);
}

/* What one step of the load showed. */
struct step_result {
	int64_t settle_ns;
	double worst;	    /* the 1 s mean farthest from target after settling */
	uint32_t first;	    /* level of the first cut */
	uint32_t held;	    /* the level held over the last 5 s */
	double goodput;	    /* completed / C from 2 s after the step */
	size_t rose_over;   /* ticks where the level rose on a reading over target */
	double first_cut_s; /* from the step to the first cut */
};

/* Runs `warm` s at the config's load, steps to `to_c` for `phase` s. */
static void run_step(struct sim_loop *l, const struct sim_loop_config *c, uint64_t warm,
		     double to_c, uint64_t phase, struct step_result *r)
{
	size_t from, cut;

	start(l, c);
	sim_loop_run(l, warm);
	assert_int_equal(l->level, CEILING); /* nothing shed below capacity */
	from = l->n;
	sim_loop_set_load(l, to_c);
	sim_loop_run(l, phase);
	r->settle_ns = sim_loop_settle_ns(l, from, l->n, BAND_LO, BAND_HI, &r->worst);
	cut = first_cut(l, from, l->n);
	assert_true(cut != SIZE_MAX);
	r->first = l->rec[cut].level;
	r->first_cut_s = (double)(cut + 1 - from) * TICK_NS / NSEC_PER_SEC;
	r->held = held_level(l, l->n - 50, l->n);
	r->goodput = sim_loop_goodput(l, from + 20, l->n);
	r->rose_over = sim_loop_rose_over(l, 0, l->n);
	check_tiers(l, 0, l->n);
}

/*
 * (1) 0.5C -> 3C, 10/30/60 % mix, pool target 0.85, a report every 100 ms (the mean over the
 * interval, waiters included): settled within 2 s; the first cut within one tier of the level
 * held; tier 0 never shed, tier 2 before tier 1.
 */
static void test_step_3c(void **state)
{
	double settle = 0, worst = 1, first_s = 0;
	unsigned int i;
	int gap = 0;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		struct step_result r;

		sim_loop_defaults(&c, seed_of(i));
		run_step(&cur, &c, S(10), 3.0, S(20), &r);
		if (i == 0)
			dump(&cur, "step_3c");
		print_message("  seed %u: settled %.1f s, worst 1 s mean %.3f, first cut to %u "
			      "after %.1f s, held %u, goodput %.3f C\n",
			      i, secs(r.settle_ns), r.worst, r.first, r.first_cut_s, r.held,
			      r.goodput);
		assert_true(r.settle_ns >= 0 && r.settle_ns <= (int64_t)S(2));
		assert_true(abs((int)r.first - (int)r.held) <= 32);
		assert_int_equal(r.rose_over, 0);
		worst_of(&settle, secs(r.settle_ns));
		farthest(&worst, r.worst);
		worst_of(&first_s, r.first_cut_s);
		if (abs((int)r.first - (int)r.held) > gap)
			gap = abs((int)r.first - (int)r.held);
		sim_loop_free(&cur);
	}
	print_message("(1) 0.5C -> 3C: settled in %.1f s (worst of %u seeds; limit 2 s), worst 1 s "
		      "mean after %.3f; first cut %.1f s after the step, at most %d ranks from the "
		      "level held (limit 32, one tier)\n",
		      settle, nseeds, worst, first_s, gap);
}

/*
 * (2) 0.5C -> 10C with tier 0 at 0.5C (5/20/75 %), pool target 0.95: settled within 2 s, the
 * first cut within one tier of the level held, and goodput: completed requests per second
 * over C from 2 s after the step.
 */
static void test_step_10c(void **state)
{
	double settle = 0, worst = 1, good = 1;
	unsigned int i;
	int gap = 0;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		struct step_result r;

		sim_loop_defaults(&c, seed_of(i));
		c.mix[0] = 0.05;
		c.mix[1] = 0.20;
		c.mix[2] = 0.75;
		c.pool_target = 0.95;
		run_step(&cur, &c, S(10), 10.0, S(20), &r);
		if (i == 0)
			dump(&cur, "step_10c");
		print_message("  seed %u: settled %.1f s, worst 1 s mean %.3f, first cut to %u, "
			      "held %u, goodput %.3f C\n",
			      i, secs(r.settle_ns), r.worst, r.first, r.held, r.goodput);
		assert_true(r.settle_ns >= 0 && r.settle_ns <= (int64_t)S(2));
		assert_true(abs((int)r.first - (int)r.held) <= 32);
		assert_true(r.goodput >= 0.85);
		assert_int_equal(r.rose_over, 0);
		worst_of(&settle, secs(r.settle_ns));
		farthest(&worst, r.worst);
		if (r.goodput < good)
			good = r.goodput;
		if (abs((int)r.first - (int)r.held) > gap)
			gap = abs((int)r.first - (int)r.held);
		sim_loop_free(&cur);
	}
	print_message(
	    "(2) 0.5C -> 10C (tier 0 at 0.5C), target 0.95: settled in %.1f s (limit 2 s), "
	    "worst 1 s mean %.3f, first cut at most %d ranks from the level held, "
	    "goodput at least %.3f C (limit 0.85)\n",
	    settle, worst, gap, good);
}

/*
 * (3) Reporters of every pace: every 50, 100, 250, 500 and 1000 ms, each interval +-50 %,
 * not aligned to the ticks (a random phase per seed), step 0.5C -> 3C then back to 0.5C.
 * Settled within +-10 % within 2 s plus two report intervals; the level never rises on a
 * reading over target; full admission again within 1 s plus one interval of the drop.
 */
static void test_reporter_paces(void **state)
{
	static const unsigned int period_ms[] = {50, 100, 250, 500, 1000};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(period_ms) / sizeof(period_ms[0]); k++) {
		double settle = 0, worst = 1, back = 0;
		unsigned int i;

		for (i = 0; i < nseeds; i++) {
			uint64_t period = MS(period_ms[k]);
			struct sim_loop_config c;
			struct step_result r;
			size_t drop, j;
			char name[32];

			sim_loop_defaults(&c, seed_of(i));
			c.rep.period_ns = period;
			c.rep.jitter = 0.5;
			c.rep.phase_ns = (seed_of(i) * 7 + 13) % period;
			c.tick_phase_ns = (seed_of(i) * 11 + 29) % TICK_NS;
			run_step(&cur, &c, S(10), 3.0, S(20), &r);
			drop = cur.n;
			sim_loop_set_load(&cur, 0.5);
			sim_loop_run(&cur, S(5));
			for (j = drop; j < cur.n && cur.rec[j].level < CEILING; j++)
				;
			if (i == 0) {
				snprintf(name, sizeof(name), "pace_%ums", period_ms[k]);
				dump(&cur, name);
			}
			assert_true(j < cur.n);
			assert_true(r.settle_ns >= 0 &&
				    r.settle_ns <= (int64_t)(S(2) + 2 * period));
			assert_int_equal(sim_loop_rose_over(&cur, 0, cur.n), 0);
			assert_true((j + 1 - drop) * TICK_NS <= S(1) + period);
			worst_of(&settle, secs(r.settle_ns));
			farthest(&worst, r.worst);
			worst_of(&back, (double)(j + 1 - drop) * TICK_NS / NSEC_PER_SEC);
			sim_loop_free(&cur);
		}
		print_message("(3) reports every %4u ms +-50 %%: settled in %.1f s (limit %.1f s), "
			      "worst 1 s mean %.3f, no rise on a reading over target, full "
			      "admission %.1f s after the drop (limit %.1f s)\n",
			      period_ms[k], settle, 2.0 + 2.0 * period_ms[k] / 1000.0, worst, back,
			      1.0 + period_ms[k] / 1000.0);
	}
}

/*
 * (4) The report rate changes nothing: at a constant 2C, a reporter at 1 report/s and one at
 * 200 reports/s settle at the same level, +-1 cohort.
 */
static void test_report_rate(void **state)
{
	unsigned int i, worst = 0;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		uint32_t slow, fast;

		sim_loop_defaults(&c, seed_of(i));
		c.load_c = 2.0;
		c.rep.period_ns = MS(1000);
		start(&cur, &c);
		sim_loop_run(&cur, S(30));
		slow = held_level(&cur, cur.n - 100, cur.n);
		sim_loop_free(&cur);

		c.rep.period_ns = MS(5);
		start(&cur, &c);
		sim_loop_run(&cur, S(30));
		fast = held_level(&cur, cur.n - 100, cur.n);
		print_message("  seed %u: level held %u at 1 report/s, %u at 200 reports/s (%lu "
			      "reports, %lu urgent steps)\n",
			      i, slow, fast, (unsigned long)cur.reports,
			      (unsigned long)cur.urgent_steps);
		assert_true(abs((int)slow - (int)fast) <= 1);
		if ((unsigned int)abs((int)slow - (int)fast) > worst)
			worst = (unsigned int)abs((int)slow - (int)fast);
		sim_loop_free(&cur);
	}
	print_message("(4) 2C: 1 report/s and 200 reports/s hold levels at most %u rank apart "
		      "(limit 1)\n",
		      worst);
}

/* The server's pressure (saturation / target) over ticks [from, to): its mean and extremes. */
static void measured_range(const struct sim_loop *l, size_t from, size_t to, double *mean,
			   double *lo, double *hi)
{
	double sum = 0;
	size_t j;

	*lo = INFINITY;
	*hi = -INFINITY;
	for (j = from; j < to; j++) {
		sum += l->rec[j].measured;
		if (l->rec[j].measured < *lo)
			*lo = l->rec[j].measured;
		if (l->rec[j].measured > *hi)
			*hi = l->rec[j].measured;
	}
	*mean = to > from ? sum / (double)(to - from) : NAN;
}

/*
 * (5) Pools that count like PostgreSQL: a snapshot of connections in use, no waiters, and
 * over-full when full (3 more: reserved and starting backends). The over-full readings are
 * measurements, acted on within a few ticks of the step, and the service settles. A snapshot
 * of a pool of 200 at 85 % carries about 7 % of noise per reading, so after settling the law
 * is held to the server's mean over the last 15 s (within 5 % of the target) and to the level
 * (within one tier), not to every 1 s window: a window may graze the band's edge on a trim
 * drawn by noise.
 */
static void test_overfull_pool(void **state)
{
	double settle = 0, first = 0, worst_mean = 1, mean, lo, hi;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		struct step_result r;

		sim_loop_defaults(&c, seed_of(i));
		c.rep.snapshot = true;
		c.rep.no_waiting = true;
		c.rep.overfull = 3;
		run_step(&cur, &c, S(10), 3.0, S(20), &r);
		if (i == 0)
			dump(&cur, "overfull");
		measured_range(&cur, cur.n - 150, cur.n, &mean, &lo, &hi);
		print_message(
		    "  seed %u: first cut after %.1f s, in the band after %.1f s, held %u;"
		    " last 15 s: mean %.3f of target (ticks %.2f..%.2f)\n",
		    i, r.first_cut_s, secs(r.settle_ns), r.held, mean, lo, hi);
		assert_true(r.first_cut_s <= 0.3);
		assert_true(r.settle_ns >= 0);
		assert_true(mean >= 0.95 && mean <= 1.05);
		assert_int_equal(r.rose_over, 0);
		if (fabs(mean - 1) > fabs(worst_mean - 1))
			worst_mean = mean;
		worst_of(&settle, secs(r.settle_ns));
		worst_of(&first, r.first_cut_s);
		sim_loop_free(&cur);
	}
	print_message("(5) over-full snapshots (PostgreSQL-like), 0.5C -> 3C: first cut within "
		      "%.1f s (limit 0.3 s), in the band after %.1f s, mean of the last 15 s %.3f "
		      "of target (limit +-5 %%)\n",
		      first, settle, worst_mean);
}

/*
 * (6) A pool that reports only in_use and capacity, target 0.95: full reads 1.05, a slight
 * excess by its ratio, but saturated. It is cut at once, not after five readings.
 */
static void test_saturated_only(void **state)
{
	double settle = 0, first = 0;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		struct step_result r;

		sim_loop_defaults(&c, seed_of(i));
		c.rep.no_waiting = true;
		c.pool_target = 0.95;
		run_step(&cur, &c, S(10), 3.0, S(20), &r);
		if (i == 0)
			dump(&cur, "saturated_only");
		print_message("  seed %u: first cut after %.1f s to %u, settled %.1f s, held %u\n",
			      i, r.first_cut_s, r.first, secs(r.settle_ns), r.held);
		assert_true(r.first_cut_s <= 0.2);
		assert_true(r.settle_ns >= 0 && r.settle_ns <= (int64_t)S(2));
		worst_of(&settle, secs(r.settle_ns));
		worst_of(&first, r.first_cut_s);
		sim_loop_free(&cur);
	}
	print_message("(6) in_use and capacity only, target 0.95: first cut within %.1f s of the "
		      "step, settled in %.1f s (limit 2 s)\n",
		      first, settle);
}

/*
 * Ticks from `from` until the level is at the ceiling, which it then holds to the end of the
 * run (asserted); *rises counts the rises on the way, the one to the ceiling included.
 */
static size_t ticks_to_full(const struct sim_loop *l, size_t from, unsigned int *rises)
{
	size_t j, k;

	*rises = 1;
	for (j = from; j < l->n && l->rec[j].level < CEILING; j++)
		*rises += j > from && l->rec[j].level > l->rec[j - 1].level;
	assert_true(j < l->n);
	for (k = j; k < l->n; k++)
		assert_int_equal(l->rec[k].level, CEILING);
	return j + 1 - from;
}

/* (7) Load back to 0.5C after 3C: full admission within 1 s, and it stays there. */
static void test_load_drop(void **state)
{
	double worst = 0;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		struct sim_counts c0, c1;
		unsigned int rises;
		uint32_t before;
		size_t from, ticks;

		sim_loop_defaults(&c, seed_of(i));
		c.load_c = 3.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(20));
		before = cur.level;
		assert_true(before < CEILING);
		from = cur.n;
		sim_loop_set_load(&cur, 0.5);
		sim_loop_run(&cur, S(10));
		ticks = ticks_to_full(&cur, from, &rises);
		print_message("  seed %u: level %u -> %u in %.1f s\n", i, before, CEILING,
			      (double)ticks * TICK_NS / NSEC_PER_SEC);
		assert_true(ticks * TICK_NS <= S(1));
		worst_of(&worst, (double)ticks * TICK_NS / NSEC_PER_SEC);
		sim_totals(cur.sim, 2, &c0);
		sim_loop_run(&cur, S(1));
		sim_totals(cur.sim, 2, &c1);
		assert_int_equal(c1.shed, c0.shed);
		sim_loop_free(&cur);
	}
	print_message("(7) 3C -> 0.5C: full admission %.1f s after the drop (worst of %u seeds, "
		      "limit 1 s)\n",
		      worst, nseeds);
}

/*
 * (8) The database slows down: capacity halves at 2C, the app also reporting its pool wait
 * p99 (target 50 ms): re-settled within 2 s.
 */
static void test_capacity_halves(void **state)
{
	double settle = 0, worst = 1;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		double w;
		int64_t st;
		size_t from;

		sim_loop_defaults(&c, seed_of(i));
		c.load_c = 2.0;
		c.rep.wait_signal = true;
		start(&cur, &c);
		sim_loop_run(&cur, S(30));
		from = cur.n;
		sim_set_capacity(cur.sim, c.server.capacity / 2);
		sim_loop_run(&cur, S(20));
		if (i == 0)
			dump(&cur, "capacity_halves");
		st = sim_loop_settle_ns(&cur, from, cur.n, BAND_LO, BAND_HI, &w);
		print_message("  seed %u: re-settled in %.1f s at level %u, worst 1 s mean %.3f\n",
			      i, secs(st), cur.level, w);
		assert_true(st >= 0 && st <= (int64_t)S(2));
		assert_int_equal(sim_loop_rose_over(&cur, 0, cur.n), 0);
		check_tiers(&cur, 0, cur.n);
		worst_of(&settle, secs(st));
		farthest(&worst, w);
		sim_loop_free(&cur);
	}
	print_message("(8) capacity C -> C/2 at 2C: re-settled in %.1f s (limit 2 s), worst 1 s "
		      "mean after %.3f\n",
		      settle, worst);
}

/* The overload demo's server and reporter: C = 400/s over a pool of 20 with 44 waiters (64
 * workers), a report every 50 ms. */
static void at_demo_scale(struct sim_loop_config *c)
{
	c->server.capacity = 400.0;
	c->server.pool_size = 20;
	c->server.queue_limit = 44;
	c->rep.period_ns = MS(50);
}

/*
 * The database slows 3x under 3C, then is fast again as the load falls to 0.5C: the level's
 * ticks from the drop to full admission (which it then holds) and the rises on the way, worst
 * over the seeds; demo_scale: the server and reporter of (8c). The capacity estimate was lowered
 * during the slowdown and the low readings after it (fill under learn_min) never relearn it: a
 * recovery sized by that estimate climbs a few ranks a tick and keeps tiers 1 and 2 shed for
 * seconds.
 */
static void slow_db_recovery(bool demo_scale, const char *name, size_t *worst_ticks,
			     unsigned int *worst_rises)
{
	unsigned int i;

	*worst_ticks = 0;
	*worst_rises = 0;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		unsigned int rises;
		uint32_t before;
		size_t from, ticks;

		sim_loop_defaults(&c, seed_of(i));
		c.pool_target = 0.95;
		c.rep.wait_signal = true;
		if (demo_scale) {
			at_demo_scale(&c);
			c.server.sources[0] = 1;
			c.server.sources[1] = 16;
			c.server.sources[2] = 16;
		}
		c.load_c = 3.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(10));
		sim_set_capacity(cur.sim, c.server.capacity / 3);
		sim_loop_run(&cur, S(20));
		before = cur.level;
		assert_true(before < CEILING);
		from = cur.n;
		sim_set_capacity(cur.sim, c.server.capacity);
		sim_loop_set_load(&cur, 0.5);
		sim_loop_run(&cur, S(10));
		if (i == 0)
			dump(&cur, name);
		ticks = ticks_to_full(&cur, from, &rises);
		print_message("  seed %u: level %u -> %u in %.1f s, %u rises\n", i, before, CEILING,
			      (double)ticks * TICK_NS / NSEC_PER_SEC, rises);
		if (ticks > *worst_ticks)
			*worst_ticks = ticks;
		if (rises > *worst_rises)
			*worst_rises = rises;
		sim_loop_free(&cur);
	}
}

/* (8b) The slow database's recovery: full admission within 1 s of the drop, in one rise. */
static void test_slow_db_recovers(void **state)
{
	unsigned int rises;
	size_t ticks;

	(void)state;
	slow_db_recovery(false, "slow_db_recovers", &ticks, &rises);
	print_message("(8b) DB 3x slower at 3C, then fast at 0.5C: full admission %.1f s after the "
		      "drop in %u rises (worst of %u seeds, limit 1 s)\n",
		      (double)ticks * TICK_NS / NSEC_PER_SEC, rises, nseeds);
	assert_true(ticks * TICK_NS <= S(1));
	/* Each rise waits out a settle time: on a reporter slower than these ticks each costs a
	 * report period, so the demand that fits is reached in one. */
	assert_int_equal(rises, 1);
}

/*
 * (8c) The same at the overload demo's scale, where each 100 ms window counts a few flows of
 * a tier instead of hundreds: C = 400/s over a pool of 20 with 44 waiters (64 workers), a
 * report every 50 ms, tier 0 from one client host and tiers 1 and 2 from 16 each. After the
 * drop tier 0 offers 2 flows a window where it offered 12: a fall no single window proves
 * beyond noise, and an estimate still of the overload's demand sized the rises after it
 * (seen in the demo: 32 -> 33 -> 38 -> 96, full admission 1.12 s after the drop). Within
 * 0.8 s, in at most two rises: the demo's promise is every tier from 1 s on, and a real
 * reporter and data plane add their delays to the law's.
 */
static void test_slow_db_recovers_small(void **state)
{
	unsigned int rises;
	size_t ticks;

	(void)state;
	slow_db_recovery(true, "slow_db_recovers_small", &ticks, &rises);
	print_message("(8c) the same at C = 400/s, a pool of 20: full admission %.1f s after the "
		      "drop in %u rises (worst of %u seeds, limit 0.8 s)\n",
		      (double)ticks * TICK_NS / NSEC_PER_SEC, rises, nseeds);
	assert_true(ticks * TICK_NS <= MS(800));
	assert_true(rises <= 2);
}

/* (9) Constant 2C for 5 minutes: within +-10 % throughout, at most 2 turns a minute. */
static void test_constant_2c(void **state)
{
	unsigned int i, worst_turns = 0;
	double worst = 1;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		unsigned int m, turns[5];
		double w;
		int64_t st;

		sim_loop_defaults(&c, seed_of(i));
		c.load_c = 2.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(300));
		if (i == 0)
			dump(&cur, "constant_2c");
		st = sim_loop_settle_ns(&cur, 0, cur.n, BAND_LO, BAND_HI, &w);
		for (m = 0; m < 5; m++) {
			size_t a = 20 + m * 600, b = a + 600 < cur.n ? a + 600 : cur.n;

			turns[m] = cur.rec[b - 1].turns - cur.rec[a].turns;
			assert_true(turns[m] <= 2);
			if (turns[m] > worst_turns)
				worst_turns = turns[m];
		}
		print_message(
		    "  seed %u: settled in %.1f s at %u, turns per minute %u %u %u %u %u, "
		    "worst 1 s mean %.3f\n",
		    i, secs(st), cur.level, turns[0], turns[1], turns[2], turns[3], turns[4], w);
		assert_true(st >= 0 && st <= (int64_t)S(2));
		farthest(&worst, w);
		sim_loop_free(&cur);
	}
	print_message("(9) 2C for 5 min: at most %u changes of direction in a minute (limit 2), "
		      "every 1 s mean within %.3f of target\n",
		      worst_turns, fabs(worst - 1.0));
}

/*
 * (10) The app stops reporting: the level is held while the last reading is fresh, the signal
 * is flagged stale after stale_after and ignored, and the level drifts back to full.
 */
static void test_stale_signal(void **state)
{
	double worst = 0;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		size_t from, j, full = SIZE_MAX;
		uint64_t last;
		uint32_t held;

		sim_loop_defaults(&c, seed_of(i));
		c.load_c = 2.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(30));
		held = cur.level;
		last = cur.sig[0].updated_ns;
		from = cur.n;
		cur.reporting = false;
		sim_loop_run(&cur, S(10));
		for (j = from; j < cur.n; j++) {
			const struct sim_rec *r = &cur.rec[j];

			if (r->t_ns - last <= c.stale_after_ns) {
				assert_true(r->level + 1 >= held && r->level <= held + 1);
			} else {
				assert_true(isnan(r->fed)); /* ignored, not read as 0 or as full */
				if (full == SIZE_MAX && r->level == CEILING)
					full = j;
			}
		}
		assert_true(cur.sig[0].stale);
		assert_true(full != SIZE_MAX);
		print_message("  seed %u: level %u held, full admission %.1f s after the last "
			      "report\n",
			      i, held, (double)(cur.rec[full].t_ns - last) / NSEC_PER_SEC);
		assert_true(cur.rec[full].t_ns - last - c.stale_after_ns <= S(5));
		worst_of(&worst, (double)(cur.rec[full].t_ns - last) / NSEC_PER_SEC);
		sim_loop_free(&cur);
	}
	print_message("(10) stale signal: level held until stale_after (2 s), then ignored; full "
		      "admission %.1f s after the last report\n",
		      worst);
}

/*
 * (11) Readings that are not measurements (NaN, negative, infinite, huge; what a pool of
 * capacity 0 gives) are ignored like stale ones and leave the level alone.
 */
static void test_invalid_readings(void **state)
{
	static const double bad[] = {NAN, -0.3, -INFINITY, INFINITY, 1e300};
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		double zero = 0.0;
		uint32_t held;
		size_t k;
		int n;

		sim_loop_defaults(&c, seed_of(i));
		c.load_c = 2.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(30));
		held = cur.level;
		cur.reporting = false;
		for (n = 0; n < 7; n++) {
			cur.sig[0].value = n < 5 ? bad[n] : n == 5 ? 0.0 / zero : 150.0 / zero;
			cur.sig[0].updated_ns = sim_now(cur.sim) + TICK_NS; /* fresh at the tick */
			sim_loop_run(&cur, TICK_NS);
			assert_true(cur.sig[0].stale);
			assert_true(isnan(cur.rec[cur.n - 1].fed));
			assert_int_equal(cur.level, held);
		}
		cur.reporting = true;
		sim_loop_run(&cur, S(5));
		for (k = cur.n - 30; k < cur.n; k++)
			assert_true(cur.rec[k].level + 2 >= held && cur.rec[k].level <= held + 2);
		sim_loop_free(&cur);
	}
	print_message("(11) NaN, -0.3, -inf, inf, 1e300, 0/0, 150/0 for 7 ticks: ignored, "
		      "flagged stale, level unchanged (%u seeds)\n",
		      nseeds);
}

/* Ticks from `from` until the level first reaches the ceiling; -1 when it never does. */
static int64_t first_full(const struct sim_loop *l, size_t from)
{
	size_t j;

	for (j = from; j < l->n; j++)
		if (l->rec[j].level >= CEILING)
			return (int64_t)(j + 1 - from);
	return -1;
}

/*
 * (12) Only a delay signal: the app reports its pool wait p99 (target 3 ms, a queue of about
 * 60 waiters) and nothing that scales with the load, as a service watched by its latency
 * alone. A delay says "over", never by how much, so the law has no capacity to size a rise
 * by. At 3C tier 0 is never shed; when the load falls back to 0.5C, full admission within
 * 2 s: rises sized by the rate they were seen to serve, not a rank or two a tick (which
 * took 6 s and more from this level).
 */
static void test_delay_only_load_drop(void **state)
{
	double worst = 0, goodput = 1;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		uint32_t before;
		int64_t ticks;
		size_t from;
		double g;

		sim_loop_defaults(&c, seed_of(i));
		c.rep.wait_only = true;
		c.wait_target_ms = 3.0;
		c.load_c = 3.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(20));
		g = sim_loop_goodput(&cur, 50, cur.n);
		before = cur.level;
		assert_true(before < CEILING);
		check_tiers(&cur, 0, cur.n);
		from = cur.n;
		sim_loop_set_load(&cur, 0.5);
		sim_loop_run(&cur, S(10));
		if (i == 0)
			dump(&cur, "delay_only_load_drop");
		ticks = first_full(&cur, from);
		print_message("  seed %u: goodput at 3C %.3f C, level %u -> %u in %.1f s\n", i, g,
			      before, CEILING, secs(ticks * (int64_t)TICK_NS));
		assert_true(ticks >= 0 && ticks * TICK_NS <= S(2));
		worst_of(&worst, secs(ticks * (int64_t)TICK_NS));
		if (g < goodput)
			goodput = g;
		sim_loop_free(&cur);
	}
	print_message("(12) delay signal only, 3C -> 0.5C: full admission %.1f s after the drop "
		      "(worst of %u seeds, limit 2 s); goodput at 3C at least %.3f C\n",
		      worst, nseeds, goodput);
}

/*
 * (13) Only a delay signal, the database 3x slower under 2C and then fast again with the
 * load unchanged: the level climbs back to what the restored capacity serves. Goodput over
 * the 10 s after the database recovers is at least 0.78 C (about 0.68 C with a rise of two
 * ranks a tick; the climb probes where the capacity went, so it cannot be 1), tier 0 is
 * never shed.
 */
static void test_delay_only_capacity_back(void **state)
{
	double worst = 2;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct sim_loop_config c;
		size_t from;
		double g;

		sim_loop_defaults(&c, seed_of(i));
		c.rep.wait_only = true;
		c.wait_target_ms = 3.0;
		c.load_c = 2.0;
		start(&cur, &c);
		sim_loop_run(&cur, S(10));
		sim_set_capacity(cur.sim, c.server.capacity / 3);
		sim_loop_run(&cur, S(20));
		from = cur.n;
		sim_set_capacity(cur.sim, c.server.capacity);
		sim_loop_run(&cur, S(10));
		if (i == 0)
			dump(&cur, "delay_only_capacity_back");
		g = sim_loop_goodput(&cur, from, cur.n);
		print_message(
		    "  seed %u: goodput over the 10 s after the recovery %.3f C (the first "
		    "5 s %.3f C)\n",
		    i, g, sim_loop_goodput(&cur, from, from + 50));
		check_tiers(&cur, 0, cur.n);
		if (g < worst)
			worst = g;
		assert_true(g >= 0.78);
		sim_loop_free(&cur);
	}
	print_message("(13) delay signal only, DB 3x slower at 2C then fast: goodput over the 10 s "
		      "after %.3f C (worst of %u seeds, limit 0.78)\n",
		      worst, nseeds);
}

/*
 * (14) A tier from a few hosts, as behind a front tier, a proxy or a NAT: tier 2 is six hosts
 * (six cohorts at most), 0.5C -> 1.4C, where the cut lands inside tier 2: settled within 2 s
 * with every seed. Spread evenly over its cohorts, tier 2's demand says a cut to a share of
 * its ranks admits that share of it, when it admits the hosts in those ranks: all of it, or
 * none. The same runs without per-rank counts are printed beside it: with 4 seeds of 20 they
 * settle after 5.6 to 20 s (the whole run), and tier 0 waits behind the excess until they do.
 */
static void run_few_hosts(bool no_ranks, uint64_t seed, struct step_result *r)
{
	struct sim_loop_config c;

	sim_loop_defaults(&c, seed);
	c.server.sources[2] = 6;
	c.no_ranks = no_ranks;
	run_step(&cur, &c, S(10), 1.4, S(20), r);
}

static void test_few_hosts(void **state)
{
	double settle = 0, even_settle = 0;
	unsigned int i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		struct step_result r, even;

		run_few_hosts(true, seed_of(i), &even);
		sim_loop_free(&cur);
		run_few_hosts(false, seed_of(i), &r);
		if (i == 0)
			dump(&cur, "few_hosts");
		print_message("  seed %u: settled %.1f s, first cut to %u, held %u (spread evenly: "
			      "settled %.1f s, first cut to %u, held %u)\n",
			      i, secs(r.settle_ns), r.first, r.held, secs(even.settle_ns),
			      even.first, even.held);
		assert_true(r.settle_ns >= 0 && r.settle_ns <= (int64_t)S(2));
		assert_int_equal(r.rose_over, 0);
		worst_of(&settle, secs(r.settle_ns));
		worst_of(&even_settle, secs(even.settle_ns));
		sim_loop_free(&cur);
	}
	print_message("(14) tier 2 from six hosts, 0.5C -> 1.4C: settled in %.1f s (worst of %u "
		      "seeds, limit 2 s); spread evenly over its cohorts: %.1f s\n",
		      settle, nseeds, even_settle);
}

/*
 * (15) The load pauses for a moment between two overloads (one set of clients stops, the next
 * starts a moment later) and the database slows 3x as it comes back: 3C settled, no load for
 * 100 or 200 ms, then 3C at C/3. The level held before the pause serves 3x what the slow pool
 * can; a rise in the pause lets the load back in at full admission, and the server refuses
 * what its queue cannot hold until the law has cut back. Judged against the same step without
 * a pause (same seed): requests the server refused (admitted by the level, turned away by a
 * full queue) at most 1.5x as many over the 10 s after, and re-settled within 2 s.
 */
static uint64_t run_pause(uint64_t seed, uint64_t pause, int64_t *settle, uint32_t *top)
{
	struct sim_loop_config c;
	uint64_t refused = 0;
	struct sim_counts a;
	size_t from, i;
	double w;

	sim_loop_defaults(&c, seed);
	c.load_c = 3.0;
	c.pool_target = 0.95;
	c.rep.wait_signal = true;
	start(&cur, &c);
	sim_loop_run(&cur, S(20));
	assert_true(cur.level < CEILING);
	from = cur.n;
	for (i = 0; i < 3; i++) {
		sim_totals(cur.sim, (uint32_t)i, &a);
		refused -= a.refused;
	}
	sim_loop_set_load(&cur, 0.0);
	sim_loop_run(&cur, pause);
	sim_set_capacity(cur.sim, c.server.capacity / 3);
	sim_loop_set_load(&cur, 3.0);
	sim_loop_run(&cur, S(10));
	for (i = 0; i < 3; i++) {
		sim_totals(cur.sim, (uint32_t)i, &a);
		refused += a.refused;
	}
	*top = 0;
	for (i = from; i < cur.n; i++)
		if (cur.rec[i].level > *top)
			*top = cur.rec[i].level;
	*settle = sim_loop_settle_ns(&cur, from, cur.n, BAND_LO, BAND_HI, &w);
	check_tiers(&cur, 0, cur.n);
	return refused;
}

static void test_pause_then_slow_db(void **state)
{
	static const uint64_t pauses[] = {MS(100), MS(200)};
	double worst_ratio = 0, worst_settle = 0;
	unsigned int g, i;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		uint64_t base;
		uint32_t top;
		int64_t st;

		base = run_pause(seed_of(i), 0, &st, &top);
		sim_loop_free(&cur);
		for (g = 0; g < sizeof(pauses) / sizeof(pauses[0]); g++) {
			uint64_t refused = run_pause(seed_of(i), pauses[g], &st, &top);
			double ratio = (double)refused / (double)(base ? base : 1);

			if (i == 0 && g == 0)
				dump(&cur, "pause_then_slow_db");
			print_message(
			    "  seed %u, pause %3.0f ms: highest level after %u, refused %lu "
			    "(%lu without the pause), re-settled %.1f s\n",
			    i, (double)pauses[g] / NSEC_PER_MSEC, top, (unsigned long)refused,
			    (unsigned long)base, secs(st));
			assert_true(ratio <= 1.5);
			assert_true(st >= 0 && st <= (int64_t)S(2));
			if (ratio > worst_ratio)
				worst_ratio = ratio;
			worst_of(&worst_settle, secs(st));
			sim_loop_free(&cur);
		}
	}
	print_message("(15) 3C, a pause of 100-200 ms, then 3C with the DB 3x slower: %.2fx the "
		      "server's refusals of the same step without the pause (limit 1.5x), "
		      "re-settled in %.1f s (limit 2 s)\n",
		      worst_ratio, worst_settle);
}

/*
 * (16) Every tier from one host, as behind a front service that calls this one, and that host
 * throttles its own calls by what this one accepts (spillway's client-side throttle, K = 2),
 * at the two-hop demo's scale: C = 400/s over a pool of 20, 0.6C in 10/30/60 %, then the
 * database 3x slower. Tiers 0 and 1 fit the slow capacity, tier 2's one host does not. Three
 * things turned the level every few hundred ms, and tier 0 queued behind each turn: a share
 * of tier 2's rank admits its one host whole or not at all (a tenth of a share, all of it one
 * time in ten); a rank shed all through counted at most the tier's even share, nothing when
 * its open ranks carry nothing; and the throttle keeps tier 2's calls away while it is shed,
 * which read as its demand gone. Judged from 2 s after the slowdown for 13 s: tier 0's p99 at
 * most 2x the slow database's service time (150 ms), the two-hop goal; tier 0 never shed.
 * 20 seeds before: 186-464 ms (8 over 300), up to 11 turns in the 13 s.
 */
static void run_front_host(uint64_t seed, double *p99_ms, uint32_t *turns, double *goodput)
{
	struct sim_loop_config c;
	uint32_t t;
	size_t from;

	sim_loop_defaults(&c, seed);
	c.pool_target = 0.95;
	c.rep.wait_signal = true;
	at_demo_scale(&c);
	for (t = 0; t < 3; t++)
		c.server.sources[t] = 1;
	c.throttle_k = 2.0;
	c.load_c = 0.6;
	start(&cur, &c);
	sim_loop_run(&cur, S(10));
	sim_set_capacity(cur.sim, c.server.capacity / 3);
	sim_loop_run(&cur, S(2));
	sim_latency_reset(cur.sim);
	from = cur.n;
	sim_loop_run(&cur, S(13));
	*p99_ms = sim_latency_ms(cur.sim, 0, 0.99);
	*turns = cur.rec[cur.n - 1].turns - cur.rec[from - 1].turns;
	*goodput = sim_loop_goodput(&cur, from, cur.n) * 3;
	check_tiers(&cur, 0, cur.n);
}

static void test_front_host_slow_db(void **state)
{
	double worst = 0, least = 1;
	unsigned int i, most = 0;

	(void)state;
	for (i = 0; i < nseeds; i++) {
		uint32_t turns;
		double p99, goodput;

		run_front_host(seed_of(i), &p99, &turns, &goodput);
		if (i == 0)
			dump(&cur, "front_host_slow_db");
		print_message("  seed %u: tier-0 p99 %.0f ms, %u turns, goodput %.2f of the slow "
			      "capacity\n",
			      i, p99, turns, goodput);
		assert_true(p99 <= 300.0);
		worst_of(&worst, p99);
		if (turns > most)
			most = turns;
		if (goodput < least)
			least = goodput;
		sim_loop_free(&cur);
	}
	print_message(
	    "(16) one host a tier behind a throttling front, DB 3x slower at 0.6C: tier-0 "
	    "p99 %.0f ms (limit 300 ms, 2x the slow service time), at most %u turns in "
	    "13 s, goodput at least %.2f of the slow capacity (worst of %u seeds)\n",
	    worst, most, least, nseeds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_step_3c, loop_teardown),
	    cmocka_unit_test_teardown(test_step_10c, loop_teardown),
	    cmocka_unit_test_teardown(test_reporter_paces, loop_teardown),
	    cmocka_unit_test_teardown(test_report_rate, loop_teardown),
	    cmocka_unit_test_teardown(test_overfull_pool, loop_teardown),
	    cmocka_unit_test_teardown(test_saturated_only, loop_teardown),
	    cmocka_unit_test_teardown(test_load_drop, loop_teardown),
	    cmocka_unit_test_teardown(test_capacity_halves, loop_teardown),
	    cmocka_unit_test_teardown(test_slow_db_recovers, loop_teardown),
	    cmocka_unit_test_teardown(test_slow_db_recovers_small, loop_teardown),
	    cmocka_unit_test_teardown(test_constant_2c, loop_teardown),
	    cmocka_unit_test_teardown(test_stale_signal, loop_teardown),
	    cmocka_unit_test_teardown(test_invalid_readings, loop_teardown),
	    cmocka_unit_test_teardown(test_delay_only_load_drop, loop_teardown),
	    cmocka_unit_test_teardown(test_delay_only_capacity_back, loop_teardown),
	    cmocka_unit_test_teardown(test_few_hosts, loop_teardown),
	    cmocka_unit_test_teardown(test_pause_then_slow_db, loop_teardown),
	    cmocka_unit_test_teardown(test_front_host_slow_db, loop_teardown),
	};
	const char *env = getenv("SPW_SIM_SEEDS");

	if (env && atoi(env) > 0)
		nseeds = (unsigned int)atoi(env);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
