// SPDX-License-Identifier: GPL-2.0-only
/*
 * The closed loop of the control-law tests (sim_loop.h). Events in time order: reports on the
 * app's schedule, ticks every tick_ns; the simulated server runs in between.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sim_loop.h"

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define WINDOW_TICKS  10 /* 1 s windows for the settle criterion */

/*
 * The defaults of the tests: C = 20,000 requests/s, a pool of 200 (service time 10 ms), 200
 * waiters beyond it, 1 ms steps, 3 tiers offered 10/30/60 % of the load; pool fill target
 * 0.85, hysteresis 0.1, 100 ms ticks, stale after 2 s; the app reports every 100 ms, the
 * mean over the interval with its waiters, 37 ms out of step with the ticks.
 */
void sim_loop_defaults(struct sim_loop_config *c, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->server.capacity = 20000.0;
	c->server.pool_size = 200;
	c->server.queue_limit = 200;
	c->server.dt_ns = NSEC_PER_MSEC;
	c->server.tiers = 3;
	c->server.seed = seed;
	c->mix[0] = 0.10;
	c->mix[1] = 0.30;
	c->mix[2] = 0.60;
	c->load_c = 0.5;
	c->pool_target = 0.85;
	c->wait_target_ms = 50.0;
	c->rep.period_ns = 100 * NSEC_PER_MSEC;
	c->rep.phase_ns = 37 * NSEC_PER_MSEC;
	c->tick_ns = 100 * NSEC_PER_MSEC;
	c->stale_after_ns = 2 * NSEC_PER_SEC;
	c->hysteresis = 0.1;
	c->floor = 32;
}

static uint64_t loop_rand(struct sim_loop *l)
{
	uint64_t z = (l->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double loop_uniform(struct sim_loop *l)
{
	return (double)(loop_rand(l) >> 11) * (1.0 / 9007199254740992.0);
}

/* Rounded to the server's step, at least one step. */
static uint64_t to_steps(const struct sim_loop *l, uint64_t ns)
{
	uint64_t dt = l->cfg.server.dt_ns, n = (ns + dt / 2) / dt;

	return (n ? n : 1) * dt;
}

/* Enforces what the law asks: its level and the partial share of the cohort at it. */
static void set_level(struct sim_loop *l, uint32_t level)
{
	uint32_t partial = spw_law_partial(&l->law, &l->lp);
	double fine = level + (double)partial / SPW_PARTIAL_ONE;
	uint64_t now = sim_now(l->sim);

	if (fine == l->fine)
		return;
	l->level_area += l->fine * (double)(now - l->level_since_ns);
	l->level_since_ns = now;
	l->level = level;
	l->fine = fine;
	if (fine < l->level_min)
		l->level_min = fine;
	sim_set_level(l->sim, level);
	sim_set_partial(l->sim, partial);
}

void sim_loop_set_load(struct sim_loop *l, double load_c)
{
	uint32_t t;

	l->cfg.load_c = load_c;
	for (t = 0; t < l->cfg.server.tiers; t++)
		sim_set_rate(l->sim, t, load_c * l->cfg.server.capacity * l->cfg.mix[t]);
}

int sim_loop_init(struct sim_loop *l, const struct sim_loop_config *c)
{
	uint32_t t;

	memset(l, 0, sizeof(*l));
	l->cfg = *c;
	l->sim = sim_create(&c->server);
	if (!l->sim)
		return -1;
	l->rng = c->server.seed ^ 0xa5a5a5a5a5a5a5a5ULL;
	sim_loop_set_load(l, c->load_c);
	spw_law_defaults(&l->lp, c->floor, c->server.tiers * SIM_COHORTS, c->hysteresis,
			 c->tick_ns);
	spw_law_init(&l->law, &l->lp, c->server.tiers);
	l->level = c->server.tiers * SIM_COHORTS;
	l->fine = l->level;
	l->level_min = l->fine;
	sim_set_level(l->sim, l->level);
	l->sig[0].kind = SPW_SIG_POOL;
	strcpy(l->sig[0].source, "db");
	l->sig[0].target = c->pool_target;
	l->sig[0].load_value = NAN;
	l->sig[1].kind = SPW_SIG_POOL_WAIT;
	strcpy(l->sig[1].source, "db");
	l->sig[1].target = c->wait_target_ms;
	l->sig[1].load_value = NAN;
	l->first_sig = c->rep.wait_only ? 1 : 0;
	l->nsig = c->rep.wait_signal && !c->rep.wait_only ? 2 : 1;
	l->reporting = true;
	l->next_report_ns = to_steps(l, c->rep.phase_ns);
	/* Events fall on the server's steps, or the loop would wait for a time it never reaches. */
	l->next_tick_ns =
	    c->tick_ns + (c->tick_phase_ns % c->tick_ns) / c->server.dt_ns * c->server.dt_ns;
	for (t = 0; t < c->server.tiers; t++) {
		sim_totals(l->sim, t, &l->tick_base[t]);
		l->obs_base[t] = l->tick_base[t];
	}
	return 0;
}

void sim_loop_free(struct sim_loop *l)
{
	sim_destroy(l->sim);
	free(l->rec);
	l->sim = NULL;
	l->rec = NULL;
}

/*
 * Feeds the law the counts since the last observation, as the daemon does every tick and
 * before a step between ticks.
 */
static void observe(struct sim_loop *l, uint64_t now)
{
	struct spw_law_counts c = {.end_ns = now, .window_ns = now - l->obs_ns};
	uint64_t ra[SIM_MAX_TIERS * SIM_COHORTS], rs[SIM_MAX_TIERS * SIM_COHORTS];
	uint32_t t, r;

	l->level_area += l->fine * (double)(now - l->level_since_ns);
	l->level_since_ns = now;
	c.level = c.window_ns ? l->level_area / (double)c.window_ns : l->fine;
	c.level_min = l->level_min;
	/* The per-rank counts, as the data plane's spw_rank_counts gives them to the daemon. */
	sim_rank_totals(l->sim, ra, rs);
	c.ranks_known = !l->cfg.no_ranks;
	for (r = 0; r < SIM_MAX_TIERS * SIM_COHORTS; r++) {
		c.rank_passed[r] = ra[r] - l->obs_rank_admitted[r];
		c.rank_shed[r] = rs[r] - l->obs_rank_shed[r];
		l->obs_rank_admitted[r] = ra[r];
		l->obs_rank_shed[r] = rs[r];
	}
	for (t = 0; t < l->cfg.server.tiers; t++) {
		struct sim_counts now_c;

		sim_totals(l->sim, t, &now_c);
		c.passed[t] = now_c.admitted - l->obs_base[t].admitted;
		c.shed[t] = now_c.shed - l->obs_base[t].shed;
		c.admitted[t] = now_c.admitted - l->obs_base[t].admitted;
		l->obs_base[t] = now_c;
	}
	if (c.window_ns)
		spw_law_observe(&l->law, &l->lp, &c);
	l->obs_ns = now;
	l->level_area = 0;
	l->level_min = l->fine;
}

/* The app's report: its pool as the reporter's kind sees it, and maybe its wait p99. */
static void report(struct sim_loop *l, uint64_t now)
{
	const struct sim_reporter *rep = &l->cfg.rep;
	uint32_t pool = sim_pool_size(l->sim), in_use_now, waiting_now;
	uint64_t busy, wait, steps = (now - l->rep_step_ns) / l->cfg.server.dt_ns;
	double in_use, waiting;
	struct sim_window w;

	sim_integrals(l->sim, &busy, &wait);
	sim_occupancy(l->sim, &in_use_now, &waiting_now);
	if (rep->snapshot || !steps) {
		in_use = in_use_now;
		waiting = waiting_now;
	} else {
		in_use = (double)(busy - l->rep_busy) / (double)steps;
		waiting = (double)(wait - l->rep_wait) / (double)steps;
	}
	l->rep_busy = busy;
	l->rep_wait = wait;
	l->rep_step_ns = now;
	sim_window_take(l->sim, &w);
	if (!l->reporting)
		return;
	if (rep->no_waiting)
		waiting = 0;
	if (rep->overfull && in_use >= pool - 0.5)
		in_use += rep->overfull;
	l->sig[0].value = (in_use + waiting) / pool;
	l->sig[0].load_value = in_use / pool;
	l->sig[0].updated_ns = now;
	if ((rep->wait_signal || rep->wait_only) &&
	    w.started) { /* no request got a connection: no wait measured */
		l->sig[1].value = w.wait_p99_ms;
		l->sig[1].updated_ns = now;
	}
	l->reports++;
	if (!l->cfg.no_urgent) {
		struct spw_law_reading r;
		uint32_t before = l->level;

		spw_pressure_read(l->sig + l->first_sig, l->nsig, now, l->cfg.stale_after_ns, &r);
		l->last_fresh = r.pressure;
		/* A cut between ticks needs the demand of now: the counts so far, as the daemon. */
		if (r.saturated || r.pressure >= 1.0 + l->lp.hysteresis)
			observe(l, now);
		set_level(l, spw_law_step(&l->law, &l->lp, &r, now));
		l->urgent_steps += l->level != before;
	}
}

static struct sim_rec *rec_add(struct sim_loop *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct sim_rec *grown = realloc(l->rec, cap * sizeof(*grown));

		if (!grown)
			abort(); /* a test helper: no memory is not a result */
		l->rec = grown;
		l->cap = cap;
	}
	return &l->rec[l->n++];
}

/* The calling host's throttle (throttle_k): the arrival rates for the next tick. */
static void throttle(struct sim_loop *l)
{
	uint32_t tiers = l->cfg.server.tiers, t;
	double accepts = 0, secs, budget, requests = 0, refused_before = 0;
	size_t i, n = l->n < 10 ? l->n : 10;

	for (i = l->n - n; i < l->n; i++)
		for (t = 0; t < tiers; t++)
			accepts += (double)l->rec[i].tier[t].admitted;
	secs = (double)n * (double)l->cfg.tick_ns / 1e9;
	budget = l->cfg.throttle_k * accepts;
	for (t = 0; t < tiers; t++) {
		double intent = l->cfg.load_c * l->cfg.server.capacity * l->cfg.mix[t], e, share;

		requests += intent * secs;
		e = requests > budget ? requests - budget : 0;
		share = (e - refused_before) / (intent * secs + 1);
		refused_before = e;
		if (share > 1)
			share = 1;
		sim_set_rate(l->sim, t, intent * (1 - share));
	}
}

static void tick(struct sim_loop *l, uint64_t now)
{
	uint32_t tiers = l->cfg.server.tiers, t, before = l->level;
	uint64_t busy, wait, steps, completed = 0, window = now - l->tick_started_ns;
	struct spw_law_reading r;
	struct sim_rec *rec;

	observe(l, now);
	rec = rec_add(l);
	memset(rec, 0, sizeof(*rec));
	for (t = 0; t < tiers; t++) {
		struct sim_counts now_c;

		sim_totals(l->sim, t, &now_c);
		rec->tier[t].offered = now_c.offered - l->tick_base[t].offered;
		rec->tier[t].admitted = now_c.admitted - l->tick_base[t].admitted;
		rec->tier[t].shed = now_c.shed - l->tick_base[t].shed;
		rec->tier[t].refused = now_c.refused - l->tick_base[t].refused;
		rec->tier[t].completed = now_c.completed - l->tick_base[t].completed;
		completed += rec->tier[t].completed;
		l->tick_base[t] = now_c;
	}
	spw_pressure_read(l->sig + l->first_sig, l->nsig, now, l->cfg.stale_after_ns, &r);
	if (!isnan(r.pressure))
		l->last_fresh = r.pressure;
	set_level(l, spw_law_step(&l->law, &l->lp, &r, now));

	sim_integrals(l->sim, &busy, &wait);
	steps = window / l->cfg.server.dt_ns;
	rec->t_ns = now;
	rec->fed = r.pressure;
	rec->measured = steps ? (double)(busy - l->tick_busy) / (double)steps /
				    sim_pool_size(l->sim) / l->cfg.pool_target
			      : 0;
	rec->level = l->level;
	rec->turns = l->law.direction_changes;
	rec->rose_over = l->level > before && !isnan(r.pressure) && r.pressure > 1.0;
	rec->completed = completed;
	l->tick_busy = busy;
	l->tick_wait = wait;
	l->tick_started_ns = now;
	if (l->cfg.throttle_k > 0 && l->n >= 10)
		throttle(l);
}

void sim_loop_run(struct sim_loop *l, uint64_t ns)
{
	uint64_t end = sim_now(l->sim) + ns;

	for (;;) {
		uint64_t next =
		    l->next_report_ns < l->next_tick_ns ? l->next_report_ns : l->next_tick_ns;
		uint64_t now = sim_now(l->sim);

		if (next > end) {
			sim_run(l->sim, end - now);
			return;
		}
		if (next > now)
			sim_run(l->sim, next - now);
		now = sim_now(l->sim);
		if (l->next_report_ns <= now) {
			double j = l->cfg.rep.jitter * (2.0 * loop_uniform(l) - 1.0);

			report(l, now);
			l->next_report_ns =
			    now + to_steps(l, (uint64_t)((double)l->cfg.rep.period_ns * (1.0 + j)));
		}
		if (l->next_tick_ns <= now) {
			tick(l, now);
			l->next_tick_ns += l->cfg.tick_ns;
		}
	}
}

static double window_mean(const struct sim_loop *l, size_t first)
{
	double sum = 0;
	size_t i;

	for (i = first; i < first + WINDOW_TICKS; i++)
		sum += l->rec[i].measured;
	return sum / WINDOW_TICKS;
}

int64_t sim_loop_settle_ns(const struct sim_loop *l, size_t from, size_t to, double lo, double hi,
			   double *worst)
{
	size_t j, settled = SIZE_MAX;

	*worst = 1.0;
	if (to > l->n || to < from + WINDOW_TICKS)
		return -1;
	for (j = to - WINDOW_TICKS + 1; j-- > from;) {
		double m = window_mean(l, j);

		if (m < lo || m > hi)
			break;
		settled = j;
	}
	if (settled == SIZE_MAX)
		return -1;
	for (j = settled; j + WINDOW_TICKS <= to; j++) {
		double m = window_mean(l, j);

		if (fabs(m - 1.0) > fabs(*worst - 1.0))
			*worst = m;
	}
	return (int64_t)(settled + WINDOW_TICKS - from) * (int64_t)l->cfg.tick_ns;
}

double sim_loop_goodput(const struct sim_loop *l, size_t from, size_t to)
{
	uint64_t done = 0;
	size_t i;

	if (to <= from || to > l->n)
		return 0;
	for (i = from; i < to; i++)
		done += l->rec[i].completed;
	return (double)done / ((double)(to - from) * (double)l->cfg.tick_ns / NSEC_PER_SEC) /
	       l->cfg.server.capacity;
}

size_t sim_loop_rose_over(const struct sim_loop *l, size_t from, size_t to)
{
	size_t i, n = 0;

	for (i = from; i < to && i < l->n; i++)
		n += l->rec[i].rose_over;
	return n;
}
