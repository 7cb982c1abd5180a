// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control law (spw_control.h): pressure in, admit level out. Pure arithmetic: no BPF
 * calls, no I/O, no clock reads (the caller passes now), so it is tested against a simulated
 * server (tests/unit/test_control.c, tests/lib/sim_server.*) without privileges.
 *
 * Once per reading (every tick; spillwayd also steps as a report showing a clear overload
 * arrives, and never twice on one reading), with p the pressure (the largest value/target of
 * the fresh signals) and s the smoothed pressure (the mean of the readings taken at the
 * current level, see below):
 *
 *   p >= 1 + h                   clear overload: shed at once, by the excess p - 1
 *   1 < p < 1 + h                slight excess: shed by min(p, s) - 1 once s > 1 over at least
 *                                confirm_ticks readings at this level; hold until then
 *   s in [1 - h, 1], p <= 1      hold: the band where a settled service sits
 *   s < 1 - h, or p is NAN       low: once low for recover_after_ns in a row, recover
 *
 *   shed:    level -= clamp(shed_gain * excess * (level - floor),
 *                           min shed_min_ranks, max shed_max_fraction * level)
 *            (max twice that for a clear overload read again right after a cut: confirmed)
 *   recover: level += recover_ranks per tick, for as long as it stays low
 *
 * with h the hysteresis, and the level clamped to [floor, ceiling]. The cut is multiplicative
 * (a fraction of the range still admitted above the floor) and grows with the excess, so a
 * deep overload is cut in a few ticks and a slight one a cohort at a time; recovery is
 * additive and starts only after a sustained lull. Shedding more than needed for a while
 * costs some refused connections; shedding too little costs the service, so the law is quick
 * to shed and slow to give back.
 *
 * Why the slight excess waits for evidence. A reading is noisy: an app's pool in use over a
 * 100 ms tick carries the Poisson noise of the arrivals, 2-4 % of the reading at 10-20k
 * requests/s, more on smaller services. One cohort is worth a few percent of pressure too
 * (one rank of a tier carrying 60 % of 2C moves pressure by 4 %), so a level whose true
 * pressure is 0.95 reads above 1 every few ticks. A law acting on single readings walks down
 * through the band on noise alone, falls out of its bottom, recovers, and starts again: the
 * slow oscillation the tests forbid. Averaging about half a second of readings at the level
 * separates a level that is over from one that is merely noisy; a reading more than the band
 * width above target is not noise, and is acted on at once, so reaction to a real overload
 * costs nothing.
 *
 * Why the smoothed pressure restarts at every change, leaving out the first reading: readings
 * taken at another level say nothing about this one, and the first reading after a change
 * straddles both (requests still in service, the queue still draining). For the same reason
 * a first reading after a cut that is above 1 + h but clearly lower than the one before is not
 * acted on: the cut is working and the next reading tells how far (without this the pool's
 * backlog, which keeps it busy for a while after admission fell under capacity, draws one cut
 * too many and lands the level under the band). A backlog that takes several ticks to drain
 * still does; only a signal of the backlog itself (pool waiters) could tell it apart from an
 * overload that is still there.
 *
 * NAN (no fresh signal: all stale or invalid) counts as low: spillway must not keep shedding
 * on nothing, so a service whose signals went silent drifts back to full admission at the
 * recovery pace, not at once. A pressure that is negative, infinite or above
 * SPW_PRESSURE_MAX is not a measurement (spw_pressure() never returns one) and counts as NAN.
 *
 * The level is kept fractional so that cuts smaller than a rank accumulate; the enforced level
 * is its integer part (a partial cohort counts as shed).
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "spw_control.h"
#include "spw_signal.h"

#define NSEC_PER_SEC 1000000000ULL

/*
 * The defaults were chosen against the simulated server of tests/unit/test_control.c (C =
 * 20,000 requests/s, a pool of 200 with 200 waiters, 3 tiers at 10/30/60 %, 100 ms ticks,
 * pool saturation at target 0.85, hysteresis 0.1), then checked over 300 seeds per scenario
 * and on noisier (C = 10,000) and deeper-queued variants; the test prints the figures.
 *
 * shed_gain 0.7: a pool saturation signal cannot read above 1 / target (1.18 at 0.85)
 * however deep the overload, so while the pool is pinned at 100 % each tick cuts
 * 0.18 * 0.7 = 12 % of the range above the floor: 3x capacity is brought under in about 9
 * ticks, and the last cut taken while still pinned lands at most 12 % of the range below the
 * saturation edge, inside the band for the usual tier mixes. Once the pool is no longer pinned
 * the reading is proportional to the excess and 0.7 removes a little less than the excess,
 * approaching the band from above rather than jumping past it. 1.0 settled the 3x step 0.4 s
 * sooner, but its last pinned cut from full admission at 2C landed under the band (0.90) in
 * nearly every run, and a cohort too low after the capacity halved in a third of them; 0.5
 * was 0.3 s slower on the 3x step.
 */
#define DEFAULT_SHED_GAIN 0.7
/*
 * shed_max_fraction 0.25: a signal far above target (latency at 10x its target) would
 * otherwise cut most of the range in one tick on what may be one outlier. A quarter of the
 * level per tick still halves admission in under 3 ticks (300 ms). The reading right after
 * a cut, when still clearly over and not falling, is not an outlier: it confirms the
 * overload, and its cut may be twice as large (CONFIRMED_BOUND_FACTOR, half the level). A
 * wait or queue signal grows the longer admission stays over capacity (at 3x capacity the
 * queue gains 200 ms of work every 100 ms); with a quarter per step it took 4 steps to reach
 * tier 0 alone in the demo while the queue ahead of tier 0 grew to 300 ms, with half it takes
 * 2. The pool saturation signal (at most 1.18) never reaches either bound.
 */
#define DEFAULT_SHED_MAX_FRACTION 0.25
#define CONFIRMED_BOUND_FACTOR	  2.0
/*
 * shed_min_ranks 1: near p = 1 the proportional cut is a fraction of a rank; one cohort per
 * confirmed excess guarantees progress against a persistent slight overload.
 */
#define DEFAULT_SHED_MIN_RANKS 1
/*
 * recover_after_ns 1 s (at least 3 ticks): ten 100 ms ticks of a low smoothed pressure is a
 * trend, not a lull between bursts, and short enough that recovery, which follows, completes
 * within a few seconds of the load going away (2.7 s from 2C to 0.5C in the tests).
 */
#define DEFAULT_RECOVER_AFTER_NS    (1 * NSEC_PER_SEC)
#define DEFAULT_RECOVER_AFTER_TICKS 3
/*
 * recover_ranks: one rank per tick for every tier above the floor, so a climb from the floor
 * to full admission takes 32 ticks (3.2 s at 100 ms) whatever the tier count. With 3 tiers
 * that is 2 ranks a tick, which for most load mixes moves pressure by less than the band's
 * width, so a climb stops in the band instead of jumping over it.
 */
#define DEFAULT_RECOVER_STEPS 32
/*
 * smooth_weight 0.1: the smoothed pressure is a plain mean of the readings at the level for
 * the first 10, then an exponential one over about the last second (weight 0.1 per tick):
 * its noise is a quarter of a single reading's, so a level whose true pressure sits one
 * cohort under target essentially never reads above 1 on noise, while a real slight overload
 * (a few percent) still shows within a second or two.
 */
#define DEFAULT_SMOOTH_WEIGHT 0.1
/*
 * confirm_ticks 5: a slight excess is acted on after 5 readings at the level (plus the one
 * straddling the change), 0.6 s at 100 ms: the mean of 5 readings has less than half the
 * noise of one. With 3 the law took noise for excess and cut a cohort too many in about 1 %
 * of the runs after the capacity halved (the noisiest scenario); the slight excess it waits
 * on is inside the tolerance anyway.
 */
#define DEFAULT_CONFIRM_TICKS 5
/*
 * A first reading after a cut whose excess is below this fraction of the excess before it
 * shows the cut taking effect (see above): 10 % is more than the jitter of a pinned pool
 * (its reading varies by under 1 % while saturated, so a deep overload keeps being cut every
 * tick) and less than the fall seen when admission has just dropped under capacity and only
 * the backlog keeps the pool busy.
 */
#define CUT_WORKING 0.9

void spw_law_defaults(struct spw_law_params *p, uint32_t floor, uint32_t ceiling, double hysteresis,
		      uint64_t tick_ns)
{
	uint64_t after = DEFAULT_RECOVER_AFTER_NS;
	uint32_t ranks;

	memset(p, 0, sizeof(*p));
	if (floor > ceiling)
		floor = ceiling;
	p->floor = floor;
	p->ceiling = ceiling;
	p->hysteresis = hysteresis;
	p->tick_ns = tick_ns;
	p->shed_gain = DEFAULT_SHED_GAIN;
	p->shed_max_fraction = DEFAULT_SHED_MAX_FRACTION;
	p->shed_min_ranks = DEFAULT_SHED_MIN_RANKS;
	if (tick_ns && after < DEFAULT_RECOVER_AFTER_TICKS * tick_ns)
		after = DEFAULT_RECOVER_AFTER_TICKS * tick_ns;
	p->recover_after_ns = after;
	ranks = (ceiling - floor) / DEFAULT_RECOVER_STEPS;
	p->recover_ranks = ranks ? ranks : 1;
	p->smooth_weight = DEFAULT_SMOOTH_WEIGHT;
	p->confirm_ticks = DEFAULT_CONFIRM_TICKS;
}

void spw_law_init(struct spw_law_state *s, const struct spw_law_params *p)
{
	memset(s, 0, sizeof(*s));
	s->level = p->ceiling;
	s->smoothed = NAN;
	s->prev_pressure = NAN;
}

/* The integer level enforced for a fractional one; the epsilon absorbs rounding (63.999..). */
static uint32_t enforced(double level)
{
	return (uint32_t)(level + 1e-9);
}

/*
 * The level after a cut for an excess pressure of `excess` (> 0): at most shed_max_fraction
 * of the level, or CONFIRMED_BOUND_FACTOR times that for a confirmed overload (see
 * DEFAULT_SHED_MAX_FRACTION).
 */
static double shed(const struct spw_law_params *p, double level, double lo, double excess,
		   bool confirmed)
{
	double cut = p->shed_gain * excess * (level - lo);
	double bound = p->shed_max_fraction * level * (confirmed ? CONFIRMED_BOUND_FACTOR : 1.0);

	if (cut > bound)
		cut = bound;
	if (cut < p->shed_min_ranks)
		cut = p->shed_min_ranks;
	if (!(cut > 0.0))
		cut = 0.0;
	return level - cut < lo ? lo : level - cut;
}

uint32_t spw_law_step(struct spw_law_state *s, const struct spw_law_params *p, double pressure,
		      uint64_t now_ns)
{
	double lo = p->floor, hi = p->ceiling, level = s->level, h = p->hysteresis, judged;
	bool fresh;
	int dir = 0;

	if (lo > hi)
		lo = hi;
	/* A state from before a reload may lie outside new bounds; NaN would poison it all. */
	if (isnan(level) || level > hi)
		level = hi;
	if (level < lo)
		level = lo;
	if (!isfinite(pressure) || pressure < 0.0 || pressure > SPW_PRESSURE_MAX)
		pressure = NAN; /* not a measurement: as if no signal were fresh */
	if (!(h >= 0.0))
		h = 0.0;
	if (h > 1.0)
		h = 1.0;
	fresh = !isnan(pressure);

	/*
	 * samples counts the readings since the last change; the first one straddles the change
	 * and stays out of the mean, which is plain for 1 / smooth_weight readings, then
	 * exponential.
	 */
	if (fresh) {
		if (s->samples < UINT32_MAX)
			s->samples++;
		if (s->samples == 2) {
			s->smoothed = pressure;
		} else if (s->samples > 2) {
			double w = 1.0 / (s->samples - 1);

			if (w < p->smooth_weight)
				w = p->smooth_weight;
			s->smoothed += w * (pressure - s->smoothed);
		}
	}
	/* The band is judged on the smoothed pressure once there is one. */
	judged = s->samples >= 2 ? s->smoothed : pressure;

	if (fresh && pressure >= 1.0 + h &&
	    !(s->last_direction < 0 && s->samples == 1 &&
	      pressure - 1.0 < CUT_WORKING * (s->prev_pressure - 1.0))) {
		/*
		 * Clear overload (and not a cut still taking effect): shed now. The first
		 * reading after a cut, still clearly over and not falling, confirms the
		 * overload: its cut may be twice the bound of a lone reading.
		 */
		bool confirmed = s->last_direction < 0 && s->samples == 1;

		s->low_since_ns = 0;
		level = shed(p, level, lo, pressure - 1.0, confirmed);
	} else if (fresh && pressure > 1.0) {
		/* Slight excess: shed once the level's smoothed pressure agrees. */
		double excess = (pressure < judged ? pressure : judged) - 1.0;

		s->low_since_ns = 0;
		if (s->samples > p->confirm_ticks && excess > 0.0)
			level = shed(p, level, lo, excess, false);
	} else if (!fresh || judged < 1.0 - h) {
		/* Low, or nothing to go by: recover once that has lasted recover_after_ns. */
		if (!s->low_since_ns)
			s->low_since_ns = now_ns ? now_ns : 1; /* 0 means "not low" */
		if (now_ns >= s->low_since_ns && now_ns - s->low_since_ns >= p->recover_after_ns) {
			level += p->recover_ranks;
			if (level > hi)
				level = hi;
		}
	} else {
		s->low_since_ns = 0; /* in the band: hold */
	}

	if (level < s->level)
		dir = -1;
	else if (level > s->level)
		dir = 1;
	if (dir) {
		if (s->last_move && dir != s->last_move)
			s->direction_changes++;
		s->last_move = dir;
		s->samples = 0;
	}
	s->last_direction = dir;
	if (fresh)
		s->prev_pressure = pressure;
	s->level = level;
	return enforced(level);
}

/*
 * Retry-After. The soonest a shed client can be readmitted is the time the law takes to
 * climb back to the ceiling once the pressure is gone: recover_after, then
 * (ceiling - level) / recover_ranks ticks. That is the low end of the hint, so the more is
 * shed the later clients come back; while the level is still falling the overload is
 * growing and the climb has not even started, so the hint doubles. The high end is twice
 * the low one: clients told the same thing spread their retries over the whole window
 * instead of coming back in one wave. Bounded at RETRY_MAX_S: beyond a few minutes the
 * client's own give-up policy is the better judge.
 */
#define RETRY_MAX_S	     300
#define RETRY_JITTER_FACTOR  2
#define RETRY_FALLING_FACTOR 2

void spw_retry_hint(uint32_t level, uint32_t prev_level, const struct spw_law_params *p,
		    uint32_t *lo_s, uint32_t *hi_s)
{
	uint32_t lo_level = p->floor < p->ceiling ? p->floor : p->ceiling;
	uint32_t ranks = p->recover_ranks ? p->recover_ranks : 1;
	uint32_t steps, lo, hi;
	double secs;

	*lo_s = 0;
	*hi_s = 0;
	if (level >= p->ceiling)
		return;
	if (level < lo_level)
		level = lo_level;
	steps = (p->ceiling - level + ranks - 1) / ranks;
	/* In floating point: absurd parameters saturate at the bound instead of wrapping. */
	secs = ((double)p->recover_after_ns + (double)steps * (double)p->tick_ns) / NSEC_PER_SEC;
	if (level < prev_level)
		secs *= RETRY_FALLING_FACTOR;
	if (!(secs < RETRY_MAX_S))
		secs = RETRY_MAX_S;
	lo = (uint32_t)secs;
	if (lo < secs)
		lo++; /* whole seconds, rounded up */
	if (lo < 1)
		lo = 1;
	hi = lo * RETRY_JITTER_FACTOR;
	*lo_s = lo;
	*hi_s = hi < RETRY_MAX_S ? hi : RETRY_MAX_S;
}
