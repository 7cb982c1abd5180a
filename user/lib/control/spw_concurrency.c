// SPDX-License-Identifier: GPL-2.0-only
/* The in_flight signal's learned target: see spw_concurrency.h. */
#include <math.h>
#include <string.h>
#include "spw_concurrency.h"
#include "spw_strnum.h"

void spw_concurrency_init(struct spw_concurrency *c)
{
	memset(c, 0, sizeof(*c));
	spw_baseline_init(&c->w0);
	c->last_rate = NAN;
}

/* The slot `back` places before the newest count kept (0: the newest). */
static uint32_t reading_back(const struct spw_conc_reading *m, uint32_t back)
{
	return (m->head + 2 * SPW_CONC_READINGS - 1 - back) % SPW_CONC_READINGS;
}

double spw_concurrency_reading(struct spw_conc_reading *m, double count, uint64_t now_ns,
			       uint64_t window_ns)
{
	double sum = 0, now;
	uint32_t i, n = 0;

	if (!isfinite(count) || count < 0)
		return count;
	/* A second read at the same instant (the watch's, then the step it calls) is one. */
	if (!m->n || m->ns[reading_back(m, 0)] != now_ns) {
		m->head = (m->head + 1) % SPW_CONC_READINGS;
		if (m->n < SPW_CONC_READINGS)
			m->n++;
	}
	m->ns[reading_back(m, 0)] = now_ns;
	m->count[reading_back(m, 0)] = count;
	for (i = 0; i < m->n; i++) {
		uint32_t k = reading_back(m, i);

		/* Newest first: the first one out of the window (or from a clock that went
		 * back) ends the mean; the newest is always in it. */
		if (i && (m->ns[k] > now_ns || now_ns - m->ns[k] > window_ns))
			break;
		sum += m->count[k];
		n++;
	}
	now = count - SPW_CONC_NOISE_SIGMAS * sqrt(count);
	return now > sum / n ? now : sum / n;
}

static void start_second(struct spw_concurrency *c, uint64_t completed, uint64_t now_ns)
{
	c->second_start = now_ns;
	c->done_start = completed;
	c->in_flight_sum = 0;
	c->readings = 0;
	c->full_admission = true;
}

/* The reading `back` places before the newest kept (0: the newest). */
static const struct spw_conc_sample *ring_back(const struct spw_concurrency *c, uint32_t back)
{
	return &c->ring[(c->head + 2 * SPW_CONC_RING - 1 - back) % SPW_CONC_RING];
}

/* Ends the second under way: what its mean in flight and its completions say. */
static void close_second(struct spw_concurrency *c, uint64_t completed, uint64_t now_ns)
{
	double secs = (double)(now_ns - c->second_start) / SPW_NSEC_PER_SEC;
	double x = (double)(completed - c->done_start) / secs;
	double l = c->readings ? c->in_flight_sum / c->readings : NAN;
	/* Little's law: the mean time a request spent in the service over the second, ms. */
	double w_ms = x > 0 && l > 0 ? 1000.0 * l / x : NAN;
	double w0 = c->w0.baseline;

	c->last_rate = x;
	/* A quiet second's rate (its time in service within the quiet bound, or still learning
	 * it): the service completed that much with nothing waiting. */
	if (c->full_admission && x > c->quiet_rate && (isnan(w0) || w_ms <= SPW_CONC_QUEUED * w0))
		c->quiet_rate = x;
	spw_baseline_observe(&c->w0, w_ms, c->full_admission, now_ns);
}

/*
 * The windows of readings ending with the newest: the capacity is learned from them
 * (spw_concurrency.h). One with a queue standing all through it ran at the capacity the
 * whole time: the longest of them, at least SPW_CONC_SHORTEST_NS, gives X. The half second
 * since the oldest reading at least SPW_CONC_WINDOW_NS old raises a known X and shows what
 * the service held without a queue.
 */
static void learn_capacity(struct spw_concurrency *c)
{
	const struct spw_conc_sample *now = ring_back(c, 0);
	double l = 0, w0 = c->w0.baseline, least = now->in_flight, queued = 0;
	uint32_t i, n = 0;

	if (isnan(w0))
		return;
	for (i = 1; i < c->nring; i++) {
		const struct spw_conc_sample *o = ring_back(c, i);
		uint64_t span = now->ns - o->ns;
		double x;

		l += ring_back(c, i - 1)->in_flight;
		n++;
		if (o->in_flight < least)
			least = o->in_flight;
		x = (double)(now->completed - o->completed) * SPW_NSEC_PER_SEC / (double)span;
		if (!(x > 0))
			continue;
		/*
		 * Little's law at each reading: more in flight than SPW_CONC_QUEUED x W0 at the
		 * window's rate is a queue, when the window completed at least what a quiet second
		 * did (fewer is a stall or a slower service: the time grows with nothing waiting,
		 * and its rate is no capacity). Judged on the least reading, not the mean: one
		 * tick that sees a burst lifts a half second's mean past the bound while the
		 * window mostly ran at the quiet rate.
		 */
		if (span >= SPW_CONC_SHORTEST_NS && 1000.0 * least / x >= SPW_CONC_QUEUED * w0 &&
		    x >= c->quiet_rate)
			queued = x;
		if (span >= SPW_CONC_WINDOW_NS) {
			l /= n;
			if (c->capacity > 0 && x > c->capacity)
				c->capacity = x;
			if (1000.0 * l / x <= SPW_CONC_UNQUEUED * w0 && l > c->held)
				c->held = l;
			break;
		}
	}
	if (queued > c->queued_rate)
		c->queued_rate = queued;
	if (queued > c->capacity)
		c->capacity = queued;
}

void spw_concurrency_observe(struct spw_concurrency *c, double in_flight, uint64_t completed,
			     bool full_admission, uint64_t now_ns)
{
	/* The admission since the last reading is the second under way's, even if this reading
	 * closes it. */
	if (!full_admission)
		c->full_admission = false;
	if (!c->second_start || now_ns < c->second_start || completed < c->done_start) {
		/* The first reading, a clock that went back or a reset count: no second to judge.
		 */
		start_second(c, completed, now_ns);
	} else if (now_ns - c->second_start >= SPW_NSEC_PER_SEC) {
		close_second(c, completed, now_ns);
		start_second(c, completed, now_ns);
	}
	if (!isfinite(in_flight) || in_flight < 0)
		return;
	c->in_flight_sum += in_flight;
	c->readings++;
	if (c->nring && (now_ns <= ring_back(c, 0)->ns || completed < ring_back(c, 0)->completed))
		c->nring = 0; /* a clock that went back or a reset count: a new window */
	c->ring[c->head] = (struct spw_conc_sample){now_ns, completed, in_flight};
	c->head = (c->head + 1) % SPW_CONC_RING;
	if (c->nring < SPW_CONC_RING)
		c->nring++;
	learn_capacity(c);
}

double spw_concurrency_target(const struct spw_concurrency *c, bool *early)
{
	double w0_s = c->w0.baseline / 1000.0, held, t;

	if (early)
		*early = false;
	if (isnan(w0_s))
		return NAN;
	if (c->capacity > 0) {
		t = w0_s * c->capacity;
		if (c->capacity > SPW_CONC_PROVEN_SLACK * c->queued_rate &&
		    t < c->held / SPW_CONC_CARRIED)
			t = c->held / SPW_CONC_CARRIED;
		return t > SPW_CONC_MIN_TARGET ? t : SPW_CONC_MIN_TARGET;
	}
	if (early)
		*early = true;
	held = isfinite(c->last_rate) ? w0_s * c->last_rate : 0;
	t = SPW_CONC_EARLY * held;
	if (t < held + SPW_CONC_EARLY_SIGMAS * sqrt(held))
		t = held + SPW_CONC_EARLY_SIGMAS * sqrt(held);
	return t > SPW_CONC_EARLY_MIN ? t : SPW_CONC_EARLY_MIN;
}
