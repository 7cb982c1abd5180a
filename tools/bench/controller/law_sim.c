// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control law against the simulated server (tests/lib/sim_loop.*), as the unit tests run
 * it but over more seeds, for the figures a platform team asks first: how long after a step to
 * 10x the capacity the service is back within +-10 % of its target, and what share of the
 * capacity is served (goodput) while it is 3x and 10x overloaded. Pure C, no daemon: seconds
 * of simulated time in milliseconds of CPU.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sim_loop.h"
#include "bench_ctl.h"

#define LAW_TICKS_WARM	100 /* 10 s at 0.5C first */
#define LAW_TICKS_PHASE 200 /* then 20 s at the step */
#define LAW_GOOD_SKIP	20  /* goodput from 2 s after the step */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : NAN;
}

/* One seed of a step from 0.5C to `to_c` with the tier mix of `mix`: settle time, goodput. */
static int step(uint64_t seed, double to_c, const double *mix, double *settle_s, double *good)
{
	struct sim_loop_config c;
	struct sim_loop l;
	double worst;
	int64_t settle;
	size_t from;

	sim_loop_defaults(&c, seed);
	memcpy(c.mix, mix, 3 * sizeof(*mix));
	c.pool_target = BENCH_LAW_TARGET;
	if (sim_loop_init(&l, &c))
		return -1;
	sim_loop_run(&l, LAW_TICKS_WARM * c.tick_ns);
	from = l.n;
	sim_loop_set_load(&l, to_c);
	sim_loop_run(&l, LAW_TICKS_PHASE * c.tick_ns);
	settle = sim_loop_settle_ns(&l, from, l.n, 0.9, 1.1, &worst);
	*settle_s = settle < 0 ? INFINITY : (double)settle / 1e9;
	*good = sim_loop_goodput(&l, from + LAW_GOOD_SKIP, l.n);
	sim_loop_free(&l);
	return 0;
}

int bench_law_sim(struct bench_law *out)
{
	static const double mix3[3] = {0.10, 0.30, 0.60}, mix10[3] = {0.05, 0.20, 0.75};
	double settle10[BENCH_LAW_SEEDS], good3[BENCH_LAW_SEEDS], good10[BENCH_LAW_SEEDS], s3;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < BENCH_LAW_SEEDS; i++) {
		uint64_t seed = 0xbe9c0000ULL + i * 104729ULL;

		if (step(seed, 3.0, mix3, &s3, &good3[i]) ||
		    step(seed, 10.0, mix10, &settle10[i], &good10[i]))
			return -1;
	}
	out->seeds = BENCH_LAW_SEEDS;
	out->settle10_median_s = median(settle10, BENCH_LAW_SEEDS);
	out->settle10_worst_s = settle10[BENCH_LAW_SEEDS - 1]; /* sorted by median() */
	out->good3_median = median(good3, BENCH_LAW_SEEDS);
	out->good3_min = good3[0];
	out->good10_median = median(good10, BENCH_LAW_SEEDS);
	out->good10_min = good10[0];
	out->done = true;
	return 0;
}
