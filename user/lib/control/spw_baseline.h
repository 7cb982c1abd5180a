/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A delay signal's target learned from the service itself (pure, no BPF calls).
 *
 * `{latency_p99: learn}` and `{oldest_request_age: learn}` need no number from the operator:
 * the target is SPW_BASELINE_FACTOR x the service's own delay while it is quiet, so a service
 * nobody measured is still protected against the queue that builds in front of it.
 *
 * What is learned: the largest value of each second (the second's worst p99 or oldest age)
 * over the last SPW_BASELINE_SECONDS quiet seconds; the baseline is their median, so a few
 * slow seconds (a GC pause, a cold cache) do not raise it. A second is
 * quiet when the service was admitted in full for the whole of it and every value of the
 * second stayed at or under SPW_BASELINE_QUIET of the target in force: an overload is never
 * learned as normal. A service that slows down while it is not shed moves its baseline by at
 * most the quiet bound (1.5x) a window; a step beyond that is read as the overload it is.
 *
 * Until SPW_BASELINE_MIN_SECONDS quiet seconds are seen the signal has no target and is not
 * acted on (spw_baseline_target() returns NAN): the service's other signals protect it
 * meanwhile. A default target in its place would shed forever a service slower than it, and
 * that service would then never be quiet enough to learn. While learning, every second at
 * full admission is quiet: there is no target yet to be over.
 */
#ifndef SPW_BASELINE_H
#define SPW_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

/* Quiet seconds the median is taken over: a minute, long against a burst, short against a
 * deploy that changes the service's speed. */
#define SPW_BASELINE_SECONDS 60
/* Quiet seconds before the first target: long enough that the median is not one burst. */
#define SPW_BASELINE_MIN_SECONDS 10
/*
 * Target = this x baseline. A quiet service's worst second is already in the baseline; three
 * times it is a queue as long as two of its own response times, which is what a 3x overload
 * builds in about a tick, well before tier 0 waits behind it.
 */
#define SPW_BASELINE_FACTOR 3.0
/* A second is quiet only at or under this share of the target (1.5x the baseline). */
#define SPW_BASELINE_QUIET 0.5
/*
 * The least learned target, ms. Below it a scheduling hiccup of a loaded host (a 2-core
 * machine's run queue delays a response by 10-20 ms) would read as an overload of a
 * sub-millisecond service.
 */
#define SPW_BASELINE_MIN_TARGET_MS 25.0

struct spw_baseline {
	double second_max;     /* largest value of the second under way; NAN: none yet */
	uint64_t second_start; /* CLOCK_MONOTONIC ns the second began; 0: not begun */
	bool second_loud;      /* the second had a value over the quiet bound, or a shed */
	double ring[SPW_BASELINE_SECONDS];
	uint32_t n, head; /* quiet seconds kept; where the next goes */
	double baseline;  /* median of ring; NAN before SPW_BASELINE_MIN_SECONDS */
};

void spw_baseline_init(struct spw_baseline *b);

/*
 * One measured value at now_ns. full_admission: the service admitted every tier since the
 * previous call. value 0 (nothing outstanding) is not a delay of the service and is not
 * learned, but does not make the second loud either.
 */
void spw_baseline_observe(struct spw_baseline *b, double value, bool full_admission,
			  uint64_t now_ns);

/* The target in force: factor x baseline, at least the minimum; NAN while learning. */
double spw_baseline_target(const struct spw_baseline *b);

#endif /* SPW_BASELINE_H */
