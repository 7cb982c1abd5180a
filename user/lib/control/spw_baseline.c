// SPDX-License-Identifier: GPL-2.0-only
/* Learned targets of delay signals: see spw_baseline.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "spw_baseline.h"
#include "spw_strnum.h"

void spw_baseline_init(struct spw_baseline *b)
{
	memset(b, 0, sizeof(*b));
	b->second_max = NAN;
	b->baseline = NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void recompute(struct spw_baseline *b)
{
	double sorted[SPW_BASELINE_SECONDS];

	if (b->n < SPW_BASELINE_MIN_SECONDS)
		return;
	memcpy(sorted, b->ring, b->n * sizeof(sorted[0]));
	qsort(sorted, b->n, sizeof(sorted[0]), cmp_double);
	b->baseline = b->n % 2 ? sorted[b->n / 2] : (sorted[b->n / 2 - 1] + sorted[b->n / 2]) / 2.0;
}

/* Ends the second under way: a quiet one with a value joins the ring. */
static void close_second(struct spw_baseline *b)
{
	if (!b->second_loud && !isnan(b->second_max)) {
		b->ring[b->head] = b->second_max;
		b->head = (b->head + 1) % SPW_BASELINE_SECONDS;
		if (b->n < SPW_BASELINE_SECONDS)
			b->n++;
		recompute(b);
	}
	b->second_max = NAN;
	b->second_loud = false;
}

void spw_baseline_observe(struct spw_baseline *b, double value, bool full_admission,
			  uint64_t now_ns)
{
	double target = spw_baseline_target(b);

	if (!b->second_start) {
		b->second_start = now_ns;
	} else if (now_ns < b->second_start) {
		/* A clock that went back is not a second passed; start again from now. */
		b->second_start = now_ns;
		b->second_max = NAN;
		b->second_loud = true;
	} else if (now_ns - b->second_start >= SPW_NSEC_PER_SEC) {
		close_second(b);
		b->second_start = now_ns;
	}
	if (!full_admission)
		b->second_loud = true;
	if (!isfinite(value) || value < 0.0)
		return; /* not a measurement: spw_pressure() ignores it too */
	if (!isnan(target) && value > SPW_BASELINE_QUIET * target)
		b->second_loud = true;
	if (value > 0.0 && (isnan(b->second_max) || value > b->second_max))
		b->second_max = value;
}

double spw_baseline_target(const struct spw_baseline *b)
{
	double t;

	if (isnan(b->baseline))
		return NAN;
	t = SPW_BASELINE_FACTOR * b->baseline;
	return t > SPW_BASELINE_MIN_TARGET_MS ? t : SPW_BASELINE_MIN_TARGET_MS;
}
