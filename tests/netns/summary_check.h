/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The end-to-end tests' checks on a scenario's summary: each condition printed, met or not,
 * so one run shows every figure; the test fails at the end on the count.
 */
#ifndef SPW_TESTS_SUMMARY_CHECK_H
#define SPW_TESTS_SUMMARY_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Prints "WHO: ok:" or "WHO: FAIL:" and the condition; returns 1 when it failed. */
static inline __attribute__((format(printf, 3, 4))) int spw_summary_check(const char *who, bool ok,
									  const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s ", who, ok ? "ok:  " : "FAIL:");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return !ok;
}

/*
 * The phases follow each other without a gap: each tier's generator of a phase begins its
 * arrivals one phase length after the one of the phase before, within SPW_PHASE_GAP_MAX_S. A
 * pause between phases reads to the controller as the load going away: it rises (rightly,
 * after 300 ms) and meets the next phase's load at full admission, in the slow-DB phase with
 * the database 3x slower at the same moment. Started at the boundary instead of ahead of it,
 * the generators began 0.3-0.5 s late on a loaded machine, and tier 0's p99 in that phase
 * reached 958 ms.
 */
#define SPW_PHASE_GAP_MAX_S 0.05

/*
 * Checks the gaps of a run: first[p * tiers + t] is the first arrival of tier t in phase p
 * (s since the run began, NAN when the summary does not say). Returns 1 when it failed.
 */
static inline int spw_summary_phase_gaps(const char *who, const char *run, const double *first,
					 int phases, int tiers, double phase_s)
{
	double worst = 0;
	bool known = true;
	int p, t;

	for (p = 1; p < phases; p++)
		for (t = 0; t < tiers; t++) {
			double a = first[(p - 1) * tiers + t], b = first[p * tiers + t], gap;

			if (isnan(a) || isnan(b)) {
				known = false;
				continue;
			}
			gap = b - a - phase_s;
			if (fabs(gap) > fabs(worst))
				worst = gap;
		}
	return spw_summary_check(who, known && fabs(worst) <= SPW_PHASE_GAP_MAX_S,
				 "%s: each phase's arrivals begin as the last one's end, within "
				 "%.0f ms (largest gap %.1f ms%s)",
				 run, SPW_PHASE_GAP_MAX_S * 1e3, worst * 1e3,
				 known ? "" : "; first_arrival_s missing");
}

#endif
