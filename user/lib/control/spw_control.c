// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control law (spw_control.h): readings and demand in, admit level out. Pure arithmetic:
 * no BPF calls, no I/O, no clock reads (the caller passes now), so it is tested against a
 * simulated server (tests/unit/test_control*.c, tests/lib/sim_server.*) without privileges.
 *
 * Two estimates make the law aim instead of walk:
 *
 *   demand[t]  new flows per second tier t offers at full admission, from the data plane's
 *              counts. A tier partly shed offers passed / open-share (the flows its open
 *              cohorts let through, scaled: cohorts split a tier uniformly, and refused
 *              clients' retries do not inflate it); a tier shed all but a few cohorts offers
 *              what was counted, retries included, an estimate that falls slowly while the
 *              tier is shed (clients that back off, a caller's throttle, hide their demand;
 *              they do not end it). A tier whose load the per-rank counts show skewed over
 *              its cohorts (a few hosts: a front tier, a proxy, a NAT) is taken rank by rank
 *              instead, each open rank's demand what it let pass, each shed one's no more
 *              than it let pass when last open; a rank whose whole load would overload the
 *              service past two bands is shed whole, not admitted in a share (a share of a
 *              host is a draw).
 *              So rate_at(level), the flows a level admits, is a sum over ranks, and its
 *              inverse gives the level of any rate.
 *   capacity   new flows per second the service admits at pressure 1: the admitted rate
 *              divided by the pressure of the signals that grow in proportion to the load (a
 *              pool's fill: Little's law), learned from readings that are neither saturated
 *              nor taken while a change of level was still working through.
 *
 * Each new reading, with p its pressure and h the hysteresis:
 *
 *   saturated or p >= 1 + h   clear overload: cut to min(capacity x aim, what the reading
 *                             implies, rate / p, bounded by max_cut of the rate); with no
 *                             capacity estimate, what the reading implies alone
 *   1 < p < 1 + h             slight excess: once it has lasted confirm_ns, cut to rate x
 *                             aim / p, at least one rank
 *   p in [1 - h, 1]           hold: the band where a settled service sits
 *   p < 1 - h                 low: once it has lasted recover_after_ns, rise to where the
 *                             demand fits the capacity (full admission when all of it does)
 *   nothing that scales       delay signals only: the rate served while the delay was low
 *                             (of admissions older than the delay's lag) bounds the
 *                             capacity from below, and a level risen to and read overloaded
 *                             from above; a cut goes to the served rate, a rise probes past
 *                             it by a gain that doubles while it keeps fitting, and bisects
 *                             toward a level read overloaded a moment ago
 *   nothing fresh             after drift_after_ns, drift up drift_ranks a tick
 *
 * A level read in clear overload is remembered for OVER_MEMORY_NS: no rise goes past it in
 * that time unless the load has fallen since, the tiers let in with it. A rise is sized by
 * estimates of the demand per open cohort, and those are wrong for a while when the load through
 * the open cohorts changes without the demand changing (a few large client prefixes, the cohort
 * salt rotated): a momentary low reading then lifted the level past one just seen overloaded, and
 * tier 0 queued behind the admitted excess until the next cut.
 *
 * The level never rises on a reading over target, never moves twice on one reading, and
 * steps at most once per tick however often reports come, so the gain does not grow with the
 * report rate. Readings taken within settle_ns of a change show the level before it (the
 * pool still holds requests admitted before; a reporter averages over its period): they cut
 * again only when they are clear and still rising, and teach nothing about capacity.
 *
 * Saturated signals. A pool at 100 % (or over-full, as PostgreSQL's pg_stat_activity counts
 * reserved and starting backends) hides how far past capacity the load is, so its ratio says
 * little; being saturated says "clear overload" whatever the ratio. The cut then relies on the
 * capacity estimate; a second saturated reading at a level the estimate said would fit proves
 * the estimate too high (the database slowed down), and it is lowered to the admitted rate
 * over 1 + h.
 *
 * NAN pressure (nothing fresh: all stale or invalid) is not low and not high: spillway must
 * not keep shedding on nothing, so the service drifts back to full admission at the drift
 * pace, not at once.
 *
 * The level is kept fractional so that cuts smaller than a rank accumulate; the enforced level
 * is its integer part (a partial cohort counts as shed).
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "spw_control.h"

#define NSEC_PER_SEC 1000000000ULL

/*
 * The defaults were chosen against the simulated server of tests/unit/test_control.c (3 tiers
 * at 10/30/60 %, 100 ms ticks, pool fill target 0.85 or 0.95, hysteresis 0.1, reporters every
 * 50 ms to 1 s with jitter), over many seeds per scenario; the tests print the figures.
 *
 * aim 1 - h/3 (0.967 at h = 0.1): where a cut or a recovery aims the pressure. Inside the
 * band [1 - h, 1] with room on both sides: the reading noise of a pool of 20 averaged over
 * 100 ms is a few percent, so from 0.967 noise rarely leaves the band either way, and the pool
 * sits within 5 % of its target.
 */
#define DEFAULT_AIM_SHARE_OF_H (1.0 / 3.0)
/*
 * settle_ns 2 ticks: a pool reading shows requests admitted one service time and one report
 * period earlier (50 ms queries and a 200 ms mean in the demo); 200 ms after a change the
 * readings are mostly of the new level.
 */
#define DEFAULT_SETTLE_TICKS 2
/*
 * confirm_ns 500 ms: a slight excess (below 1 + h) is noise or a real few percent; half a
 * second of it is a trend. Timed, not counted, so a reporter at 200/s and one at 1/s are held
 * to the same evidence (the latter acts on its first reading after 500 ms).
 */
#define DEFAULT_CONFIRM_NS (500 * 1000000ULL)
/*
 * smooth_ns 200 ms: the band, a slight excess and a low reading are judged on readings
 * averaged over this long (by time, not by count, so 200 readings a second weigh what one
 * reading of 100 ms does). Clear overloads are judged on each reading: they cannot wait.
 */
#define DEFAULT_SMOOTH_NS (200 * 1000000ULL)
/*
 * recover_after_ns 200 ms: a low reading that is not a leftover of a change; one tick after
 * settle_ns has passed. Recovery then jumps to where demand fits the capacity, so after an
 * overload every tier is back within a few hundred ms of the queue draining.
 */
#define DEFAULT_RECOVER_AFTER_NS (200 * 1000000ULL)
/*
 * max_cut 0.5: without a capacity estimate, a reading's ratio is taken at its word only down
 * to half the admitted rate per step. A delay signal at 10x its target says the queue is long,
 * not that nine tenths of the load is excess.
 */
#define DEFAULT_MAX_CUT 0.5
/*
 * Demand is averaged over half a second: one tier's count in a 100 ms window carries the
 * Poisson noise of a few dozen to a few thousand flows, and a level set from a noisy demand
 * moves with the noise. A change too large to be noise (a window off by more than half the
 * estimate and by more than 5 standard deviations of its count) is taken at once: a 10x step
 * must be cut to its new size in one step, and the end of an overload let back in at once.
 */
#define DEFAULT_DEMAND_NS (500 * 1000000ULL)
#define DEMAND_JUMP_SHARE 0.5
#define DEMAND_JUMP_SIGMA 5.0
/*
 * A fall of the demand is taken once it has lasted this long (see fall_pending): longer than
 * the pause between two sets of clients, short against the 1 s in which the end of an
 * overload lets every tier back in.
 */
#define FALL_CONFIRM_NS (300 * 1000000ULL)
/*
 * A shed load's count falls without its demand falling when its clients back off: a calling
 * host's throttle refusing on its own side what this one refuses (spillway's client-side
 * throttling lets through about K x what is accepted), clients that honour Retry-After or give
 * up for a while. Taken as the demand gone, the rise it allows lets that load back in at once,
 * into the overload it was cut from, and the level turns every few hundred ms. So a shed
 * tier's fall past chance is taken over this long (smaller changes as every tier's are: a
 * slow fall alone would bias a noisy estimate upward), and a shed rank of a skewed tier, a few
 * flows a window whose falls never pass for more than chance, follows its count over this long
 * but for a rise past chance, taken at once; at once only when the load of the tiers let in fell
 * too (see open_load_fell): a throttle cannot hide those, as their attempts are all accepted. 2 s:
 * long against a throttle's reaction and the turns it caused (a few hundred ms), short enough that
 * a demand that did end is let back within seconds (test_law_hidden_demand_held: 6.4 s for a tier
 * of one host, 3.4 s for one of many).
 */
#define HIDDEN_DEMAND_NS (2 * NSEC_PER_SEC)
/*
 * A fall of the open tiers' flows is judged by the chance of a Poisson count that low, or
 * lower, at the expected rate: under this, it fell. Where even no flow at all would be that
 * likely (fewer than 6.6 expected: tier 0 alone at a few tens a second) no fall can be shown,
 * and the fall of the flows entering is taken as the load's.
 */
#define OPEN_FALL_P 0.00135 /* a normal distribution's 3 standard deviations */
/* Past this many expected, the normal approximation of the Poisson tail. */
#define OPEN_FALL_EXACT_MAX 100.0
/*
 * Capacity over a second of readings: each reading's estimate carries the Poisson noise of
 * 100 ms of admissions (10-15 % at a few hundred flows a second); a second of them a third
 * of that.
 */
#define DEFAULT_CAPACITY_NS (1000 * 1000000ULL)
/* Below a load pressure of 0.25 a pool's fill is mostly noise around a handful of requests. */
#define DEFAULT_LEARN_MIN 0.25
/*
 * With no signal, or only delay signals (wait, latency, queue age) whose values say nothing
 * about how much more load would fit: after 1 s (at least 3 ticks), one rank per tick for every
 * tier above the floor, floor to full in 32 ticks.
 */
#define DEFAULT_DRIFT_AFTER_NS	  (1 * NSEC_PER_SEC)
#define DEFAULT_DRIFT_AFTER_TICKS 3
#define DEFAULT_DRIFT_STEPS	  32
/*
 * A tier with fewer than this share of its cohorts open says too little of its own demand
 * through them (one or two cohorts: a couple of client prefixes): its demand is what was
 * offered, retries of refused clients included.
 */
#define MIN_OPEN_SHARE (4.0 / SPW_COHORTS)
/*
 * A reading's window admitted steadily when the rates of its two halves differ by at most
 * this share: Poisson noise of a few hundred flows is within it, a step of the load is not.
 */
#define STEADY_SHARE 0.25
/*
 * A tier's spread over its cohorts is judged uneven past 6 standard deviations of chance (a
 * false call now and then only spends a window on measured per-rank rates, which are noisier),
 * on windows of at least 16 flows through its open ranks.
 */
#define SKEW_SIGMA     6.0
#define SKEW_MIN_FLOWS 16.0
/*
 * A level in the band is trimmed to the capacity's aim when off it by this many ranks: more
 * than the capacity estimate's noise moves its aim (about one rank), so noise never trims.
 */
#define TRIM_RANKS 1.5
/*
 * How long clear readings must last to show an overload at a level the estimates say fits:
 * three readings of a 100 ms reporter, one of a reporter that averages over a second.
 */
#define DOUBT_NS (250 * 1000000ULL)
/* Bands of excess past which a saturated reading is acted on without doubt. */
#define DEEP_QUEUE_H 4
/* ... and by which one such reading may divide the capacity estimate at most. */
#define DEEP_QUEUE_MAX_CUT 2.0
/*
 * A share of a skewed tier's rank (a few hosts, each admitted whole or not) is drawn only when
 * all of the rank would be at most this many bands over target: a clear overload, cut at the
 * next reading, its queue a moment's. Past it the rank is shed whole (see level_for).
 */
#define SKEWED_SHARE_MAX_H 2
/* A clear reading below this share of the one before is an overload receding. */
#define FALLING_SHARE 0.9
/* A slight excess is acted on once its mean is past this share of the band over target. */
#define SLIGHT_SHARE_OF_H 0.25
/*
 * How long a level read in clear overload caps the rises: past the demand estimate's time
 * constant (500 ms) and the capacity's (1 s), so the estimates a rise is sized by are made of
 * readings after the overload before it may pass that level again.
 */
#define OVER_MEMORY_NS (2 * NSEC_PER_SEC)
/*
 * Delay signals only: a rise probes past the rate last served with the delay low by this
 * share first, doubled by each rise in a row (25 %, 50 %, then 100 % a rise): a delay is zero
 * until the capacity is reached and then grows without bound, so it says where the capacity
 * is not, never how far off it is. Small first probes keep an overshoot at the edge small;
 * doubling finds a capacity that tripled (a database fast again) in four rises instead of
 * the drift's thirty, and overshoots it by at most the last rise.
 */
/*
 * The span a low delay reading's proof of the served rate covers: long against the lag of
 * the delay (a 170 ms age target proves 83 % of a second's admissions), short against the
 * history (3.2 s) and against how fast a capacity changes.
 */
#define SERVED_SPAN_NS	(1 * NSEC_PER_SEC)
#define PROBE_GAIN	0.25
#define PROBE_GAIN_MAX	1.0
#define NEAR_EDGE_SHARE 0.5
/* Steps closer together than this share of a tick are one tick's (timer jitter). */
#define TICK_SLACK 0.75
/*
 * A reporter's period is taken into the settle time up to this: a reading may average over
 * its whole period (the demo's backend reports a 200 ms mean), so one taken less than a
 * period after a change still holds some of the old level. Beyond 2 s a signal is stale.
 */
#define MAX_INTERVAL_NS (2 * NSEC_PER_SEC)

void spw_law_defaults(struct spw_law_params *p, uint32_t floor, uint32_t ceiling, double hysteresis,
		      uint64_t tick_ns)
{
	uint64_t drift = DEFAULT_DRIFT_AFTER_NS;
	uint32_t ranks;

	memset(p, 0, sizeof(*p));
	if (floor > ceiling)
		floor = ceiling;
	p->floor = floor;
	p->ceiling = ceiling;
	p->hysteresis = hysteresis;
	p->tick_ns = tick_ns;
	p->aim = 1.0 - hysteresis * DEFAULT_AIM_SHARE_OF_H;
	p->settle_ns = DEFAULT_SETTLE_TICKS * tick_ns;
	p->confirm_ns = DEFAULT_CONFIRM_NS;
	p->smooth_ns = DEFAULT_SMOOTH_NS;
	p->recover_after_ns = DEFAULT_RECOVER_AFTER_NS;
	if (p->recover_after_ns < tick_ns)
		p->recover_after_ns = tick_ns;
	p->max_cut = DEFAULT_MAX_CUT;
	p->demand_ns = DEFAULT_DEMAND_NS;
	p->capacity_ns = DEFAULT_CAPACITY_NS;
	p->learn_min = DEFAULT_LEARN_MIN;
	if (tick_ns && drift < DEFAULT_DRIFT_AFTER_TICKS * tick_ns)
		drift = DEFAULT_DRIFT_AFTER_TICKS * tick_ns;
	p->drift_after_ns = drift;
	ranks = (ceiling - floor) / DEFAULT_DRIFT_STEPS;
	p->drift_ranks = ranks ? ranks : 1;
}

void spw_law_init(struct spw_law_state *s, const struct spw_law_params *p, uint32_t tiers)
{
	memset(s, 0, sizeof(*s));
	s->level = p->ceiling;
	s->tiers = tiers > SPW_MAX_TIERS ? SPW_MAX_TIERS : tiers;
	s->prev_pressure = NAN;
	s->smoothed = NAN;
}

void spw_law_resume(struct spw_law_state *s, const struct spw_law_params *p, double level,
		    double capacity)
{
	if (!(level >= p->floor))
		level = p->floor; /* NAN too */
	s->level = level > p->ceiling ? p->ceiling : level;
	/* Stamped 0: the first capacity learned replaces it outright. */
	s->capacity = capacity > 0 && isfinite(capacity) ? capacity : 0;
	s->capacity_ns = 0;
}

void spw_law_cohorts_moved(struct spw_law_state *s)
{
	memset(s->rank_seen_open, 0, sizeof(s->rank_seen_open));
}

/* The integer level enforced for a fractional one; the epsilon absorbs rounding (63.999..). */
static uint32_t enforced(double level)
{
	return (uint32_t)(level + 1e-9);
}

uint32_t spw_law_partial(const struct spw_law_state *s, const struct spw_law_params *p)
{
	double frac = s->level - (double)enforced(s->level);

	if (s->level >= p->ceiling || s->level < p->floor || !(frac > 0))
		return 0;
	return (uint32_t)(frac * SPW_PARTIAL_ONE) & (SPW_PARTIAL_ONE - 1);
}

/* Share (0..1) of tier t's cohorts a level admits, the floor applied. */
static double open_share(const struct spw_law_params *p, double level, uint32_t t)
{
	double eff = level > p->floor ? level : p->floor, open = eff - (double)t * SPW_COHORTS;

	if (open <= 0)
		return 0.0;
	return open >= SPW_COHORTS ? 1.0 : open / SPW_COHORTS;
}

/* 1 - e^(-dt / tau): the weight of a new sample dt after the last in an average over tau. */
static double ewma_weight(uint64_t dt_ns, uint64_t tau_ns)
{
	if (!tau_ns)
		return 1.0;
	return 1.0 - exp(-(double)dt_ns / (double)tau_ns);
}

/* Whether a window's count is too far from the expected one to be noise (see above). */
static bool demand_jumped(double expected, double counted)
{
	double diff = fabs(counted - expected);

	return diff > DEMAND_JUMP_SHARE * expected &&
	       diff > DEMAND_JUMP_SIGMA * sqrt(expected > 1.0 ? expected : 1.0);
}

/*
 * Whether the flows of the n ranks open all through a window (counts x, total sum) are
 * spread unevenly beyond chance: Pearson's statistic against an even spread, n - 1 degrees
 * of freedom, SKEW_SIGMA standard deviations over its mean. A few hosts put a whole tier in
 * one or two cohorts and score n times the total; many hosts' Poisson noise stays near n - 1.
 */
static bool ranks_skewed(const uint64_t *x, uint32_t n, double sum)
{
	double sq = 0, dof = (double)n - 1.0;
	uint32_t k;

	for (k = 0; k < n; k++)
		sq += (double)x[k] * (double)x[k];
	return (double)n / sum * sq - sum > dof + SKEW_SIGMA * sqrt(2.0 * dof);
}

/*
 * Where in tier t its load is, from a window's per-rank counts. A rank open all through the
 * window (below the lowest level enforced in it) let pass all it was offered, so what it
 * passed is its rate, also kept as what it let pass when last open (rank_passed); any other
 * rank's rate is what it was offered, retries of refused clients included. A rank newly open,
 * or one of a tier whose demand jumped, takes the window's count at once, and so does a shed
 * rank whose count rose past chance; a shed rank's other counts are averaged over
 * HIDDEN_DEMAND_NS (both ways: a few flows a window never fall past chance), an open rank's
 * like the tier's demand. Whether the tier is skewed is judged on windows with enough flows
 * through two or more open ranks and kept between them.
 */
static void observe_ranks(struct spw_law_state *s, const struct spw_law_params *p,
			  const struct spw_law_counts *c, uint32_t t, bool jumped, bool restart)
{
	double secs = (double)c->window_ns / NSEC_PER_SEC,
	       w = ewma_weight(c->window_ns, p->demand_ns),
	       w_hidden = ewma_weight(c->window_ns, HIDDEN_DEMAND_NS);
	double lmin = c->level_min > 0 && c->level_min < c->level ? c->level_min : c->level;
	const uint64_t *passed = &c->rank_passed[t * SPW_COHORTS];
	const uint64_t *shed = &c->rank_shed[t * SPW_COHORTS];
	double open_sum = 0;
	uint32_t open, k;

	if (!c->ranks_known) {
		s->rank_open[t] = 0;
		s->rank_skewed[t] = false;
		return;
	}
	open = (uint32_t)(open_share(p, lmin, t) * SPW_COHORTS + 1e-9);
	for (k = 0; k < SPW_COHORTS; k++) {
		double *rate = &s->rank_rate[t * SPW_COHORTS + k];
		double x = (double)(k < open ? passed[k] : passed[k] + shed[k]) / secs;

		if (k < open)
			open_sum += (double)passed[k];
		if (k >= open && !restart && s->demand_known &&
		    !(x > *rate && demand_jumped(*rate * secs, x * secs)))
			*rate += w_hidden * (x - *rate); /* shed: averaged over HIDDEN_DEMAND_NS */
		else if (jumped || (k < open && k >= s->rank_open[t]))
			*rate = x;
		else
			*rate += w * (x - *rate);
		if (k < open) {
			s->rank_passed[t * SPW_COHORTS + k] = *rate;
			s->rank_seen_open[t * SPW_COHORTS + k] = true;
		}
	}
	if (open >= 2 && open_sum >= SKEW_MIN_FLOWS)
		s->rank_skewed[t] = ranks_skewed(passed, open, open_sum);
	s->rank_open[t] = open;
}

/* New flows that entered the service in the window, shed or not. */
static double entering_in(const struct spw_law_state *s, const struct spw_law_counts *c)
{
	double sum = 0;
	uint32_t t;

	for (t = 0; t < s->tiers; t++)
		sum += (double)(c->passed[t] + c->shed[t]);
	return sum;
}

/*
 * Fewer flows entering, shed or not, is a load that fell: what was overloaded may fit now.
 * Counted over all cohorts, so a change of which cohorts are open (the salt rotated) is no
 * fall, where the demand estimated through the open cohorts can be.
 */
static bool entering_fell(const struct spw_law_state *s, const struct spw_law_counts *c)
{
	double expected = s->entering * (double)c->window_ns / NSEC_PER_SEC,
	       entering = entering_in(s, c);

	return s->demand_known && entering < expected && demand_jumped(expected, entering);
}

/* Adds window c to the sum of the windows before it in a (a->window_ns 0: none yet). */
static void add_window(struct spw_law_counts *a, const struct spw_law_counts *c)
{
	double lmin = c->level_min > 0 && c->level_min < c->level ? c->level_min : c->level,
	       amin = a->level_min > 0 && a->level_min < a->level ? a->level_min : a->level;
	uint32_t k;

	if (!a->window_ns) {
		*a = *c;
		return;
	}
	a->level = (a->level * (double)a->window_ns + c->level * (double)c->window_ns) /
		   (double)(a->window_ns + c->window_ns);
	a->level_min = lmin < amin ? lmin : amin;
	a->window_ns += c->window_ns;
	a->end_ns = c->end_ns;
	for (k = 0; k < SPW_MAX_TIERS; k++) {
		a->passed[k] += c->passed[k];
		a->shed[k] += c->shed[k];
		a->admitted[k] += c->admitted[k];
	}
	a->ranks_known = a->ranks_known && c->ranks_known;
	for (k = 0; k < SPW_RANK_LIMIT; k++) {
		a->rank_passed[k] += c->rank_passed[k];
		a->rank_shed[k] += c->rank_shed[k];
	}
}

/* P(X <= n) for X Poisson of mean m: summed exactly up to OPEN_FALL_EXACT_MAX, else normal. */
static double poisson_at_most(double n, double m)
{
	double term, sum;
	uint32_t k;

	if (m > OPEN_FALL_EXACT_MAX)
		return 0.5 * erfc((m - n - 0.5) / sqrt(2.0 * m));
	term = sum = exp(-m);
	for (k = 1; k <= (uint32_t)n; k++) {
		term *= m / (double)k;
		sum += term;
	}
	return sum;
}

/*
 * Whether the flows of the tiers open all through window c fell beyond noise from their
 * demand estimate, or too few were expected to tell (then true: the fall of the flows
 * entering is the load's). A confirmed fall of the flows entering with the open tiers' load
 * unchanged is shed clients backing off (see HIDDEN_DEMAND_NS), not the overload's end.
 */
static bool open_load_fell(const struct spw_law_state *s, const struct spw_law_params *p,
			   const struct spw_law_counts *c)
{
	double lmin = c->level_min > 0 && c->level_min < c->level ? c->level_min : c->level,
	       secs = (double)c->window_ns / NSEC_PER_SEC, expected = 0, counted = 0;
	uint32_t t;

	for (t = 0; t < s->tiers && open_share(p, lmin, t) >= 1.0; t++) {
		expected += s->demand[t] * secs;
		counted += (double)c->passed[t];
	}
	if (exp(-expected) >= OPEN_FALL_P)
		return true;
	if (!(counted < expected && expected - counted > DEMAND_JUMP_SHARE * expected))
		return false;
	return poisson_at_most(counted, expected) < OPEN_FALL_P;
}

/*
 * Whether this window's fall of the flows entering waits to be confirmed: the estimates keep
 * the demand before it until the fall has lasted FALL_CONFIRM_NS. A moment of no load (one set
 * of clients stops as the next starts, callers paused by a GC or a deploy) is no new demand:
 * taken at once it reads as an overload ended, and the rise it allows meets the load coming
 * back at full admission. A rise of the demand is taken at once, as a cut cannot wait.
 * The fall's windows are summed meanwhile; once confirmed, *whole holds them all.
 */
static bool fall_pending(struct spw_law_state *s, const struct spw_law_counts *c,
			 const struct spw_law_counts **whole)
{
	*whole = NULL;
	if (!entering_fell(s, c)) {
		s->fall_since_ns = 0;
		return false;
	}
	if (!s->fall_since_ns) {
		s->fall_since_ns = c->end_ns - c->window_ns;
		s->fall_counts.window_ns = 0;
	}
	add_window(&s->fall_counts, c);
	if (c->end_ns - s->fall_since_ns < FALL_CONFIRM_NS)
		return true;
	s->fall_since_ns = 0;
	*whole = &s->fall_counts;
	return false;
}

/* The window's admissions, which the capacity and served-rate estimates are read from. */
static void record_window(struct spw_law_state *s, const struct spw_law_counts *c)
{
	struct spw_law_window *w = &s->hist[s->hist_head];
	uint32_t t;

	w->end_ns = c->end_ns;
	w->len_ns = c->window_ns;
	w->admitted = 0;
	for (t = 0; t < s->tiers; t++)
		w->admitted += (double)c->admitted[t];
	s->hist_head = (s->hist_head + 1) % SPW_LAW_HISTORY;
	if (s->hist_len < SPW_LAW_HISTORY)
		s->hist_len++;
}

/*
 * The demand estimates, per tier, per rank and in all, from one window, or from the windows
 * of a confirmed fall of the flows entering, the tiers let in with them (restart): taken
 * whole, every tier at once. The fall is a new load (an overload that ended), and one window
 * of it carries too few flows of a small tier to prove its own fall beyond noise: 2 flows of
 * tier 0 where 12 were expected is within 5 standard deviations, and an estimate left at the
 * overload's demand sizes the rise after it as if tier 0 alone still filled the capacity. A
 * confirmed fall of the shed flows alone is a window like any other (see HIDDEN_DEMAND_NS).
 */
static void estimate_demand(struct spw_law_state *s, const struct spw_law_params *p,
			    const struct spw_law_counts *c, bool restart)
{
	double secs = (double)c->window_ns / NSEC_PER_SEC, entering = entering_in(s, c);
	uint32_t t;

	if (restart)
		s->over_ns = 0;
	for (t = 0; t < s->tiers; t++) {
		double share = open_share(p, c->level, t), offered, rate;
		bool jumped = false;

		if (share >= MIN_OPEN_SHARE)
			offered = (double)c->passed[t] / share;
		else
			offered = (double)(c->passed[t] + c->shed[t]);
		rate = offered / secs;
		if (share < MIN_OPEN_SHARE && !restart && s->demand_known && rate < s->demand[t] &&
		    demand_jumped(s->demand[t] * secs, offered)) {
			/* A shed tier's count: its clients may only have backed off. */
			s->demand[t] +=
			    ewma_weight(c->window_ns, HIDDEN_DEMAND_NS) * (rate - s->demand[t]);
		} else {
			jumped = restart || !s->demand_known ||
				 demand_jumped(s->demand[t] * secs, offered);
			if (jumped)
				s->demand[t] = rate;
			else
				s->demand[t] +=
				    ewma_weight(c->window_ns, p->demand_ns) * (rate - s->demand[t]);
		}
		observe_ranks(s, p, c, t, jumped, restart);
	}
	if (restart || !s->demand_known || demand_jumped(s->entering * secs, entering))
		s->entering = entering / secs;
	else
		s->entering +=
		    ewma_weight(c->window_ns, p->demand_ns) * (entering / secs - s->entering);
	s->demand_known = true;
}

void spw_law_observe(struct spw_law_state *s, const struct spw_law_params *p,
		     const struct spw_law_counts *c)
{
	const struct spw_law_counts *whole;

	if (!c->window_ns)
		return;
	record_window(s, c);
	if (!fall_pending(s, c, &whole))
		estimate_demand(s, p, whole ? whole : c, whole && open_load_fell(s, p, whole));
}

/*
 * New flows/s rank k of tier t offers. Many clients' addresses spread a tier evenly over its
 * cohorts: its demand over SPW_COHORTS. A skewed tier's open ranks offer what they let pass,
 * so a cohort that carries nothing is let in and the one that carries a front host's whole
 * tier is the one cut. A shed rank offers what it was offered, retries of its refused clients
 * included, and no more than it let pass when last open: its load may have fallen since (the
 * overload ended), and its retries are no demand. Not the tier's even share: a tier from one
 * host is all in one rank, the even share of what its open ranks let pass is nothing, and a
 * rise that takes it for free lets the whole tier back into the overload it was cut from.
 */
static double rank_demand(const struct spw_law_state *s, uint32_t t, uint32_t k)
{
	uint32_t r = t * SPW_COHORTS + k;
	double rate = s->rank_rate[r];

	if (!s->rank_skewed[t])
		return s->demand[t] / SPW_COHORTS;
	if (k < s->rank_open[t] || !s->rank_seen_open[r])
		return rate;
	return rate < s->rank_passed[r] ? rate : s->rank_passed[r];
}

double spw_law_rate_at(const struct spw_law_state *s, const struct spw_law_params *p, double level)
{
	double rate = 0;
	uint32_t t, k;

	if (!s->demand_known)
		return 0;
	for (t = 0; t < s->tiers; t++) {
		double open = open_share(p, level, t) * SPW_COHORTS;

		for (k = 0; k < SPW_COHORTS && (double)k < open; k++)
			rate += rank_demand(s, t, k) * (open - k >= 1.0 ? 1.0 : open - k);
	}
	return rate;
}

/*
 * The highest level whose admitted rate stays within rate, by the demand estimate: ranks that
 * carry nothing (no client of theirs) are let in, the first whose load does not fit is
 * admitted in the share that does. Except a rank of a skewed tier: it is a few hosts, and the
 * data plane admits each host of the rank at the level whole or not at all, so a share of it
 * is a draw between all and nothing (a tenth of a share admits a front host's whole tier one
 * time in ten, and the level turns each time it does). It is admitted whole when it fits
 * within rate over the aim (pressure 1, the top of the band a service is held in: shedding it
 * would leave the service below the band with room for its clients), and one admitted already
 * up to level_fits' bound, or a capacity estimate's noise would move it in and out from a
 * level in the band. Else a share is drawn only when all of it stays within
 * SKEWED_SHARE_MAX_H bands; past that it is shed whole.
 */
static double level_for(const struct spw_law_state *s, const struct spw_law_params *p, double rate)
{
	double cum = 0, level = p->ceiling, top = p->aim > 0 ? rate / p->aim : rate;
	bool whole = false;
	uint32_t r;

	for (r = 0; r < s->tiers * SPW_COHORTS; r++) {
		uint32_t t = r / SPW_COHORTS;
		double d = rank_demand(s, t, r % SPW_COHORTS),
		       keep = r < enforced(s->level) ? 1.0 + p->hysteresis / 2 : 1.0;

		if (!(d > 0 && cum + d > rate)) {
			cum += d;
			continue;
		}
		/* A skewed rank taken whole, and past it what else still fits the same way (a
		 * rank's leftover of a stray flow, which never decays to nothing). */
		if ((whole || s->rank_skewed[t]) && cum + d <= top * keep) {
			whole = true;
			cum += d;
			continue;
		}
		if (whole)
			level = (double)r;
		else if (!s->rank_skewed[t] ||
			 cum + d <= top * (1.0 + SKEWED_SHARE_MAX_H * p->hysteresis))
			level = (double)r + (rate - cum) / d;
		else
			level = (double)r; /* a skewed rank past two bands: shed whole */
		break;
	}
	if (level < p->floor)
		level = p->floor;
	if (level > p->ceiling)
		level = p->ceiling;
	return level;
}

/* Flows admitted over [from, to) by the history (windows cut in proportion), and how long of
 * that the history covers. */
static double admitted_between(const struct spw_law_state *s, uint64_t from, uint64_t to,
			       uint64_t *covered)
{
	double sum = 0;
	uint32_t i;

	*covered = 0;
	for (i = 0; i < s->hist_len; i++) {
		const struct spw_law_window *w =
		    &s->hist[(s->hist_head + SPW_LAW_HISTORY - 1 - i) % SPW_LAW_HISTORY];
		uint64_t a = w->end_ns - w->len_ns, b = w->end_ns, lo, hi;

		if (b <= from)
			break;
		lo = a > from ? a : from;
		hi = b < to ? b : to;
		if (hi <= lo || !w->len_ns)
			continue;
		sum += w->admitted * (double)(hi - lo) / (double)w->len_ns;
		*covered += hi - lo;
	}
	return sum;
}

/*
 * The admitted rate over [start, end) by the history, NAN when it covers less than half of
 * len. *steady tells whether both halves admitted at about the same rate: a reading of a
 * window in which the load changed says nothing of the capacity.
 */
static double window_rate(const struct spw_law_state *s, uint64_t start, uint64_t end, uint64_t len,
			  bool *steady)
{
	uint64_t mid = start + (end - start) / 2, c1, c2;
	double a1, a2, r1, r2;

	*steady = false;
	if (end < start + len / 2)
		return NAN;
	a1 = admitted_between(s, start, mid, &c1);
	a2 = admitted_between(s, mid, end, &c2);
	if (!c1 || !c2 || c1 + c2 < len / 2)
		return NAN;
	r1 = a1 / ((double)c1 / NSEC_PER_SEC);
	r2 = a2 / ((double)c2 / NSEC_PER_SEC);
	*steady = fabs(r1 - r2) <= STEADY_SHARE * (r1 > r2 ? r1 : r2);
	return (a1 + a2) / ((double)(c1 + c2) / NSEC_PER_SEC);
}

/* The window a reading stands for: its interval before it, at least a tick. */
static uint64_t reading_len(const struct spw_law_state *s, const struct spw_law_params *p)
{
	return s->interval_ns > p->tick_ns ? s->interval_ns : p->tick_ns;
}

/* The newest window's end in the history, 0 when there is none. */
static uint64_t history_end(const struct spw_law_state *s)
{
	if (!s->hist_len)
		return 0;
	return s->hist[(s->hist_head + SPW_LAW_HISTORY - 1) % SPW_LAW_HISTORY].end_ns;
}

/*
 * The admitted rate over the window a reading stands for (window_rate), NAN when the history
 * does not cover it. The counts may end before the reading (a report between ticks): the part
 * of its window they cover stands for it when that is at least half of it.
 */
static double reading_rate(const struct spw_law_state *s, const struct spw_law_params *p,
			   const struct spw_law_reading *r, bool *steady)
{
	uint64_t len = reading_len(s, p), end = history_end(s);

	*steady = false;
	if (!end || r->taken_ns < len)
		return NAN;
	return window_rate(s, r->taken_ns - len, r->taken_ns < end ? r->taken_ns : end, len,
			   steady);
}

/* How long after a change a reading may still show the level before it. */
static uint64_t settle_of(const struct spw_law_state *s, const struct spw_law_params *p)
{
	return s->interval_ns > p->settle_ns ? s->interval_ns : p->settle_ns;
}

/*
 * How long a run of readings that began with the one taken at since has lasted: each reading
 * stands for the interval before it, so one reading of a reporter that averages over a second
 * is a second of evidence.
 */
static uint64_t lasted(const struct spw_law_state *s, const struct spw_law_reading *r,
		       uint64_t since)
{
	return r->taken_ns - since + s->interval_ns;
}

/*
 * Learns the capacity from a reading that scales with the load: admitted rate over load
 * pressure, when the reading is not saturated (a full pool's fill no longer scales) and its
 * window admitted steadily.
 */
static void learn_capacity(struct spw_law_state *s, const struct spw_law_params *p,
			   const struct spw_law_reading *r)
{
	double a, obs;
	bool steady;

	if (r->saturated || !(r->load_pressure >= p->learn_min) || !isfinite(r->load_pressure))
		return;
	a = reading_rate(s, p, r, &steady);
	if (!(a > 0) || !steady)
		return;
	obs = a / r->load_pressure;
	/* An estimate lowered blindly by an overload gives way to the first clean reading. */
	if (!(s->capacity > 0) || s->capacity_lowered)
		s->capacity = obs;
	else
		s->capacity +=
		    ewma_weight(r->taken_ns - s->capacity_ns, p->capacity_ns) * (obs - s->capacity);
	s->capacity_ns = r->taken_ns;
	s->capacity_lowered = false;
}

/*
 * Whether the level admits what the capacity estimate fits, by the demand estimate (within
 * half the band's width over it): a clear overload there is noise or a capacity that fell,
 * not demand that rose.
 */
static bool level_fits(const struct spw_law_state *s, const struct spw_law_params *p, double level)
{
	return s->capacity > 0 && s->demand_known &&
	       spw_law_rate_at(s, p, level) <= s->capacity * (1.0 + p->hysteresis / 2);
}

/*
 * A confirmed overload at a level that fits: the capacity is lower than estimated. By how
 * much is not known (the waiters in a full pool's ratio are a backlog, not a rate; a delay
 * signal's ratio is no size at all), so it is lowered by the reading's excess, at least h and
 * at most 2h a reading: a halved capacity is found in three or four readings, and the first
 * clean reading after the overload replaces the guess (learn_capacity).
 */
static void lower_capacity(struct spw_law_state *s, const struct spw_law_params *p,
			   const struct spw_law_reading *r)
{
	double h = p->hysteresis, pr = r->saturated ? r->saturated_pressure : r->pressure, a;
	bool steady;

	a = reading_rate(s, p, r, &steady);
	if (!(a > 0))
		a = spw_law_rate_at(s, p, s->level);
	if (!(pr >= 1.0 + h))
		pr = 1.0 + h;
	/* Bounded: a reading's excess counts a backlog that drains once admission fits. A deep
	 * queue on a saturated pool is a capacity that fell by more (a database slowed 3x):
	 * halving at most per step reaches it in two instead of six. */
	if (r->saturated && pr >= 1.0 + DEEP_QUEUE_H * h)
		pr = pr > DEEP_QUEUE_MAX_CUT ? DEEP_QUEUE_MAX_CUT : pr;
	else if (pr > 1.0 + 2 * h)
		pr = 1.0 + 2 * h;
	if (a > 0 && (!(s->capacity > 0) || a / pr < s->capacity)) {
		s->capacity = a / pr;
		s->capacity_ns = r->taken_ns;
		s->capacity_lowered = true;
	}
}

/* A reading with no fresh signal that grows in proportion to the load: delays only. */
static bool delay_only(const struct spw_law_state *s, const struct spw_law_reading *r)
{
	return !(s->capacity > 0) && !(r->load_pressure > 0 && isfinite(r->load_pressure));
}

/*
 * Delay signals only: the rate a low reading proves the service serves. It shows that what
 * was admitted more than its lag ago is done (spw_law_reading.lag_ns), and nothing of what
 * came in after: at 1.7 times the capacity a 100 ms window reads low while the queue grows,
 * and taking its admitted rate as served made the next overload's cut land above the
 * capacity. The admissions of [taken - SERVED_SPAN_NS, taken - lag] all completed within the
 * span, so the service carries at least their count over the span, whatever the load did in
 * it. 0 when the history does not reach back.
 */
static double served_bound(const struct spw_law_state *s, const struct spw_law_params *p,
			   const struct spw_law_reading *r)
{
	uint64_t span = SERVED_SPAN_NS, covered;
	double done;

	if (s->interval_ns > span)
		span = s->interval_ns;
	if (p->tick_ns > span)
		span = p->tick_ns;
	if (r->taken_ns < span || r->lag_ns >= span / 2)
		return 0;
	done = admitted_between(s, r->taken_ns - span, r->taken_ns - r->lag_ns, &covered);
	/* A history shorter than the span: the bound over what it covers (and the lag). */
	if (covered < (span - r->lag_ns) / 2)
		return 0;
	return done / ((double)(covered + r->lag_ns) / NSEC_PER_SEC);
}

/*
 * Delay signals only: what a reading shows of the rate the service serves. A low one raises
 * the proven rate (served_bound); a clear overload at or below the rate proven before is a
 * capacity that fell, and the proof is void.
 */
static void learn_served(struct spw_law_state *s, const struct spw_law_params *p,
			 const struct spw_law_reading *r)
{
	bool steady, over = r->saturated || r->pressure >= 1.0 + p->hysteresis;
	double a;

	if (!delay_only(s, r))
		return;
	a = reading_rate(s, p, r, &steady);
	if (!(a > 0))
		return;
	if (over && s->served > 0 && a <= s->served) {
		/*
		 * Once, the proof was at the edge (a delay's noise there spans the band and more):
		 * lowered a band, so the cut it sizes is small. Twice before a low reading: the
		 * capacity fell, and the cut halves.
		 */
		s->served = s->served_lowered ? 0 : a / (1.0 + p->hysteresis);
		s->served_lowered = true;
		return;
	}
	if (over || !(r->pressure < 1.0 - p->hysteresis))
		return;
	a = served_bound(s, p, r);
	if (a > s->served)
		s->served = a;
	s->served_lowered = false;
	/*
	 * The overload remembered is over when the level it was read at reads low now (the
	 * capacity rose), or when all that enters fits in what was served (the demand fell):
	 * holding the rises below it would keep tiers shed for nothing.
	 */
	if (s->level >= s->over_level || s->entering <= s->served)
		s->over_ns = 0;
}

/* The level a clear overload cuts to (see the header comment). */
static double clear_cut(const struct spw_law_state *s, const struct spw_law_params *p,
			const struct spw_law_reading *r, double level, double lo)
{
	double pr = r->pressure, rate = spw_law_rate_at(s, p, level), implied, target;

	if (!(pr >= 1.0 + p->hysteresis))
		pr = 1.0 + p->hysteresis; /* saturated: at least a clear overload */
	if (!(rate > 0)) {
		/* No demand measured yet: cut the admitted range by the reading, bounded. */
		double keep = 1.0 / pr < 1.0 - p->max_cut ? 1.0 - p->max_cut : 1.0 / pr;

		return lo + (level - lo) * keep;
	}
	implied = rate / pr;
	if (implied < rate * (1.0 - p->max_cut))
		implied = rate * (1.0 - p->max_cut);
	target = implied;
	/*
	 * A delay over its target above a rate it was seen low at: that rate drains the queue
	 * (the capacity is past it). Nearer the edge than halving, it keeps what it serves; far
	 * past it (an overload's onset from a quiet level) it cuts deeper than halving, so the
	 * queue that formed while the delay grew drains in one step instead of three.
	 */
	if (delay_only(s, r) && s->served > 0 && s->served < rate)
		target = s->served * p->aim;
	/*
	 * With a capacity estimate a saturated reading is cut to it: a full pool's ratio counts
	 * the backlog waiting in front of it, which drains once admission fits, and taking it
	 * at its word would cut below the aim for a moment. A delay signal over while the pool
	 * still fits (a queue behind the pool) is cut by its ratio: the queue drains only while
	 * less than the capacity is admitted.
	 */
	if (s->capacity > 0 && (r->saturated || s->capacity * p->aim < target))
		target = s->capacity * p->aim;
	return level_for(s, p, target);
}

/*
 * Delay signals only: a low reading rises to the rate served with the delay low, and past it
 * by the probe's gain (at least the drift's ranks). A demand that all fits in what was served
 * is let in whole at once: the end of an overload.
 */
static double probe(const struct spw_law_state *s, const struct spw_law_params *p, double level)
{
	double gain = s->rise_gain > 0 ? s->rise_gain : PROBE_GAIN, base, next;

	/* A delay at half its target is a queue forming: the capacity is close, probe small. */
	if (s->smoothed >= NEAR_EDGE_SHARE)
		gain = p->hysteresis;
	base = spw_law_rate_at(s, p, level);
	if (s->served > base)
		base = s->served;
	if (!(base > 0))
		return level + p->drift_ranks;
	if (s->entering <= s->served || spw_law_rate_at(s, p, p->ceiling) <= s->served)
		return p->ceiling;
	next = level_for(s, p, base * (1.0 + gain));
	if (next < level + p->drift_ranks)
		next = level + p->drift_ranks;
	/* Below a level read overloaded a moment ago: halfway to it, bisecting the bracket. */
	if (s->over_ns && s->over_level > level) {
		double half = (level + s->over_level) / 2;

		/* At least the drift's ranks: halving a gap forever never reaches its end. */
		if (half < level + p->drift_ranks)
			half = level + p->drift_ranks < s->over_level ? level + p->drift_ranks
								      : s->over_level;
		if (next > half)
			next = half;
	}
	return next;
}

/* Where a low reading lets the level rise to. */
static double recovery(const struct spw_law_state *s, const struct spw_law_params *p,
		       const struct spw_law_reading *r, double level)
{
	double cap = s->capacity, a;
	bool steady;

	if (r->load_pressure >= 0 && isfinite(r->load_pressure)) {
		a = reading_rate(s, p, r, &steady);
		/*
		 * A report between ticks, its window not counted yet: the newest counts stand
		 * for it. A low fill changes slowly, and waiting for the tick would leave the
		 * rise to the next report, one report period later.
		 */
		if (isnan(a) && history_end(s) >= reading_len(s, p))
			a = window_rate(s, history_end(s) - reading_len(s, p), history_end(s),
					reading_len(s, p), &steady);
		if (!(cap > 0)) {
			if (!(a > 0))
				a = spw_law_rate_at(s, p, level);
			if (r->load_pressure > 0)
				cap = a / r->load_pressure;
		} else if (r->load_pressure < p->learn_min && a > 0 && steady) {
			/*
			 * Readings below learn_min never relearn the estimate, which may be one
			 * lowered by an overload that is over (a database slowed, then recovered):
			 * the steady admitted rate over such a reading shows the capacity is at
			 * least that much. Noisy at low fill, but a rise sized too high is cut back
			 * by the next reading, while one sized by the stale estimate climbs a few
			 * ranks a tick and keeps every tier shed for seconds after the overload.
			 * The rate is the open ranks' by the demand estimate, not the reading's
			 * window: at a few flows a window (tier 0 alone at the floor) one flow more
			 * or less halves or doubles it. An empty pool at that rate (nothing in use
			 * all through the report): the capacity is past any estimate, and the whole
			 * demand is let in.
			 */
			double served = s->demand_known ? spw_law_rate_at(s, p, level) : a;

			if (!(served <= cap * r->load_pressure))
				cap = r->load_pressure > 0 ? served / r->load_pressure : INFINITY;
		}
	}
	if (cap > 0)
		return level_for(s, p, cap * p->aim);
	return probe(s, p, level);
}

/*
 * A clear overload (saturated, or pressure >= 1 + h): where it cuts to. Right after a change
 * only one that is still growing is acted on. Otherwise at once when the demand estimate
 * agrees the level is past the capacity (demand rose), and once clear readings have lasted
 * DOUBT_NS and the smoothed pressure is past half the band when it says the level fits: one
 * clear reading there may be noise (a snapshot of a pool swings by more than the band), a run
 * of them with the mean over target is a capacity that fell, which is lowered first. A clear
 * reading well below the one before is an overload receding (a backlog draining after a cut): it is
 * held.
 */
static double clear_overload(struct spw_law_state *s, const struct spw_law_params *p,
			     const struct spw_law_reading *r, double level, double lo,
			     bool straddle)
{
	double pr = r->saturated && r->saturated_pressure > r->pressure ? r->saturated_pressure
									: r->pressure;
	bool rising =
	    !isnan(s->prev_pressure) && r->pressure > s->prev_pressure * (1.0 + p->hysteresis / 2);
	bool falling = s->clear_prev > 0 && pr < s->clear_prev * FALLING_SHARE;
	/* A saturated pool with a queue past DEEP_QUEUE_H bands is no snapshot's noise. */
	bool deep = r->saturated && pr >= 1.0 + DEEP_QUEUE_H * p->hysteresis;
	double next;

	if (straddle) {
		/*
		 * Only a cut that fell short: the overload grows past it and no estimate says
		 * the level fits (a rise is followed by higher readings, and noise rises too).
		 * A saturated reading is the backlog of the level before, unless it rose deep
		 * past the one that drew the cut: a flood's queue that grows by hundreds a tick
		 * is cut now, not once the settle time is over (at 10x, 200 ms of it queued 0.4 s
		 * of work in front of tier 0).
		 */
		if (!rising || (r->saturated && !deep) || s->last_move >= 0 ||
		    level_fits(s, p, level))
			return level;
		s->clear_prev = pr; /* the queue its backlog drains from */
	} else {
		/* Shrunk since the last clear reading: at a level that fits, a deep queue is the
		 * backlog of the level before draining, not a capacity that fell (that one grows
		 * the queue). Taken as one, the capacity halved under a flood's backlog and tier 1
		 * stayed shed for 3 s after it had drained. */
		bool draining = s->clear_prev > 0 && pr < s->clear_prev;

		s->clear_prev = pr;
		if (!s->clear_since_ns)
			s->clear_since_ns = r->taken_ns;
		if (falling)
			return level;
		if (level_fits(s, p, level)) {
			if (deep && draining)
				return level;
			/* A deep queue that grows is a capacity that fell (a database slowed): no
			 * doubt to wait out. */
			if (!deep && (lasted(s, r, s->clear_since_ns) < DOUBT_NS ||
				      !(s->smoothed >= 1.0 + p->hysteresis / 2)))
				return level;
			lower_capacity(s, p, r);
		}
	}
	next = clear_cut(s, p, r, level, lo);
	return next > level - 1.0 ? level - 1.0 : next; /* acted on, it always moves */
}

/*
 * A clear overload brackets the capacity from above: the level it was read at. With delay
 * signals only, one read at a level a cut led to, below the bracket remembered, is most
 * likely the backlog of the level before, still draining: the age of a queue stays high until
 * the queue is gone (at the floor it reads over for a second or more). It keeps the memory
 * alive but does not lower the bracket, or the next low reading would clear it at once and
 * the rises after would probe blind, past where the overload was read. A level the law rose
 * to and found overloaded is a new, lower bracket. A fill (a pool) shows the level it reads
 * once the settle time is past: every clear reading of it brackets.
 */
static void remember_over(struct spw_law_state *s, const struct spw_law_reading *r, double level)
{
	bool held = s->over_ns && r->taken_ns < s->over_ns + OVER_MEMORY_NS;

	if (!held || !delay_only(s, r) || s->last_move >= 0 || level > s->over_level)
		s->over_level = level;
	s->over_ns = r->taken_ns;
}

/* Whether the level may move now: at most once per tick, however often readings come. */
static bool may_move(const struct spw_law_state *s, const struct spw_law_params *p, uint64_t now_ns)
{
	return !s->moved_ns || now_ns < s->moved_ns ||
	       (double)(now_ns - s->moved_ns) >= TICK_SLACK * (double)p->tick_ns;
}

/* Records a new level: direction bookkeeping and the per-level state restarted. */
static void move_to(struct spw_law_state *s, double level, uint64_t now_ns)
{
	int dir = level < s->level ? -1 : level > s->level ? 1 : 0;

	if (!dir)
		return;
	s->moved_ns = now_ns ? now_ns : 1;
	if (dir < 0)
		s->rise_gain = PROBE_GAIN;
	else if (s->rise_gain < PROBE_GAIN_MAX)
		s->rise_gain = 2 * (s->rise_gain > 0 ? s->rise_gain : PROBE_GAIN);
	if (enforced(level) != enforced(s->level)) {
		s->changed_ns = now_ns ? now_ns : 1;
		s->smoothed = NAN;
		s->low_since_ns = 0;
		s->over_since_ns = 0;
		s->band_since_ns = 0;
		if (s->last_move && dir != s->last_move)
			s->direction_changes++;
		s->last_move = dir;
	}
	s->level = level;
}

/*
 * Starts or ends the runs of low, slightly-over and in-band readings, judged on the smoothed
 * pressure: a fast reporter's readings are each noisier (a pool's mean over 5 ms), and a run
 * of raw readings would break on noise that the slow reporter's readings average away.
 */
static void track_runs(struct spw_law_state *s, const struct spw_law_params *p,
		       const struct spw_law_reading *r, double h)
{
	double sm = s->smoothed;

	if (sm > 1.0 && !r->saturated) {
		if (!s->over_since_ns)
			s->over_since_ns = r->taken_ns;
	} else {
		s->over_since_ns = 0;
	}
	if (sm < 1.0 - h && !r->saturated) {
		if (!s->low_since_ns)
			s->low_since_ns = r->taken_ns;
	} else {
		s->low_since_ns = 0;
	}
	if (sm >= 1.0 - h && sm <= 1.0 && !r->saturated) {
		if (!s->band_since_ns)
			s->band_since_ns = r->taken_ns;
	} else {
		s->band_since_ns = 0;
	}
	(void)p;
}

uint32_t spw_law_step(struct spw_law_state *s, const struct spw_law_params *p,
		      const struct spw_law_reading *r, uint64_t now_ns)
{
	double lo = p->floor, hi = p->ceiling, level = s->level, h = p->hysteresis, pr, next;
	bool straddle;

	if (lo > hi)
		lo = hi;
	/* A state from before a reload may lie outside new bounds; NaN would poison it all. */
	if (isnan(level) || level > hi)
		level = hi;
	if (level < lo)
		level = lo;
	s->level = level;
	if (!(h >= 0.0))
		h = 0.0;
	if (h > 1.0)
		h = 1.0;
	pr = r->pressure;
	if (isnan(pr) || !r->taken_ns || pr < 0.0 || !isfinite(pr)) {
		/* Nothing fresh: drift back to full admission, slowly. */
		s->low_since_ns = 0;
		s->over_since_ns = 0;
		s->band_since_ns = 0;
		s->clear_since_ns = 0;
		if (!s->no_signal_ns)
			s->no_signal_ns = now_ns ? now_ns : 1;
		if (now_ns - s->no_signal_ns >= p->drift_after_ns && may_move(s, p, now_ns)) {
			next = level + p->drift_ranks;
			move_to(s, next > hi ? hi : next, now_ns);
		}
		return enforced(s->level);
	}
	s->no_signal_ns = 0;
	if (r->taken_ns <= s->read_ns)
		return enforced(level); /* stepped on already: a reading draws one decision */
	if (s->read_ns) {
		uint64_t gap = r->taken_ns - s->read_ns;

		if (gap > MAX_INTERVAL_NS)
			gap = MAX_INTERVAL_NS;
		s->interval_ns = s->interval_ns ? (s->interval_ns + gap) / 2 : gap;
	}
	s->read_ns = r->taken_ns;
	straddle = s->changed_ns && r->taken_ns < s->changed_ns + settle_of(s, p);
	if (!straddle) {
		learn_capacity(s, p, r);
		learn_served(s, p, r);
		/* Readings of this level only: the first one after a change starts the mean. */
		if (isnan(s->smoothed))
			s->smoothed = pr;
		else
			s->smoothed += ewma_weight(r->taken_ns - s->smoothed_ns, p->smooth_ns) *
				       (pr - s->smoothed);
		s->smoothed_ns = r->taken_ns;
		track_runs(s, p, r, h);
	}

	next = level;
	if (r->saturated || pr >= 1.0 + h) {
		if (!straddle)
			remember_over(s, r, level);
		next = clear_overload(s, p, r, level, lo, straddle);
	} else if (s->clear_since_ns = 0, s->clear_prev = 0, straddle) {
		/* A reading of the level before the change: nothing to judge this one by. */
	} else if (s->smoothed > 1.0) {
		/*
		 * Slight excess: cut once it has lasted and the smoothed pressure is past a quarter
		 * of the band (an excess smaller than that is noise about a level at target), to
		 * where its readings say it fits.
		 */
		double mean = s->smoothed;

		if (pr > 1.0 && s->capacity > 0 && s->demand_known && !level_fits(s, p, level)) {
			/* The estimates agree the level is past the capacity: no need to wait. */
			next = level_for(s, p, s->capacity * p->aim);
			if (next > level - 1.0)
				next = level - 1.0;
		} else if (lasted(s, r, s->over_since_ns) >= p->confirm_ns &&
			   mean >= 1.0 + h * SLIGHT_SHARE_OF_H) {
			/*
			 * To the capacity's aim when it is known: the run's mean is of readings
			 * chosen for being over target, and overstates the excess.
			 */
			double rate = spw_law_rate_at(s, p, level);

			if (s->capacity > 0 && s->demand_known)
				next = level_for(s, p, s->capacity * p->aim);
			else
				next = rate > 0 ? level_for(s, p, rate * p->aim / mean) : level;
			if (next > level - 1.0)
				next = level - 1.0;
		}
	} else if (s->smoothed < 1.0 - h) {
		/* Low: once it has lasted, rise to where the demand fits the capacity; never on a
		 * reading over target, whatever the mean. */
		if (pr <= 1.0 && lasted(s, r, s->low_since_ns) >= p->recover_after_ns) {
			next = recovery(s, p, r, level);
			if (next < level)
				next = level;
		}
	} else if (s->band_since_ns && s->capacity > 0 && s->demand_known &&
		   lasted(s, r, s->band_since_ns) >= p->confirm_ns) {
		/*
		 * In the band: trim to the capacity's aim when the level is off it by more than
		 * the estimates' noise, so that where a service settles does not depend on the
		 * path it came by (one recovery landing a rank high, another a rank low).
		 */
		double aimed = level_for(s, p, s->capacity * p->aim);

		if (fabs(aimed - level) >= TRIM_RANKS && (aimed < level || pr <= 1.0))
			next = aimed;
	}
	if (next > level && s->over_ns && r->taken_ns < s->over_ns + OVER_MEMORY_NS &&
	    next > s->over_level)
		next = s->over_level > level ? s->over_level : level;
	/* A fall of the demand not yet confirmed may be a pause: a rise waits to know. */
	if (next > level && s->fall_since_ns)
		next = level;
	if (next < lo)
		next = lo;
	if (next > hi)
		next = hi;
	if (next != level && may_move(s, p, now_ns))
		move_to(s, next, now_ns);
	s->prev_pressure = pr;
	return enforced(s->level);
}

/*
 * Retry-After. The soonest a shed client can be readmitted is once the overload ends and the
 * law has seen it end: recover_after, then a climb that, in the worst case (no capacity
 * estimate), takes (ceiling - level) / drift_ranks ticks. That is the low end of the hint, so
 * the more is shed the later clients come back; while the level is still falling the overload
 * is growing and the climb has not even started, so the hint doubles. The high end is twice
 * the low one: clients told the same thing spread their retries over the whole window instead
 * of coming back in one wave. Bounded at RETRY_MAX_S: beyond a few minutes the client's own
 * give-up policy is the better judge.
 */
#define RETRY_MAX_S	     300
#define RETRY_JITTER_FACTOR  2
#define RETRY_FALLING_FACTOR 2

void spw_retry_hint(uint32_t level, uint32_t prev_level, const struct spw_law_params *p,
		    uint32_t *lo_s, uint32_t *hi_s)
{
	uint32_t lo_level = p->floor < p->ceiling ? p->floor : p->ceiling;
	uint32_t ranks = p->drift_ranks ? p->drift_ranks : 1;
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
