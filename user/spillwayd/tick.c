// SPDX-License-Identifier: GPL-2.0-only
/*
 * One control tick: read every service's signals, compute pressure, step the control law (or
 * apply a manual override), write each policy whole with a renewed lease, rotate the cohort
 * salt when due, sweep stale flows when due.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/random.h>
#include "spwd.h"
#include "spw_log.h"
#include "spw_request_age.h"
#include "spw_reserve.h"
#include "spw_strnum.h"

/* The latency p99 signal looks at this much recent history. */
#define SPWD_LATENCY_WINDOW_NS 1000000000ULL

static bool report_of(struct spwd *d, enum spw_report_kind kind, const char *name,
		      struct spw_report *r)
{
	struct spw_report_key key;

	return !spw_report_key_make(&key, kind, name) && !spw_dp_report_get(d->dp, &key, r);
}

/* p99 of the responses seen since the window began; the window slides once it is full. */
static bool latency_p99_ms(struct spwd *d, struct spwd_service *s, uint64_t now, double *ms)
{
	struct spw_latency_hist now_h, delta = {};
	double us;
	uint32_t b;

	if (spw_dp_latency_read_service(d->dp, s->cfg->id, &now_h))
		return false;
	for (b = 0; b < SPW_LAT_BUCKETS; b++) {
		/* A reset map (after detach) must not give negative counts. */
		delta.buckets[b] = now_h.buckets[b] >= s->lat_base.buckets[b]
				       ? now_h.buckets[b] - s->lat_base.buckets[b]
				       : now_h.buckets[b];
		delta.count += delta.buckets[b];
	}
	if (!s->lat_base_ns || now - s->lat_base_ns >= SPWD_LATENCY_WINDOW_NS) {
		s->lat_base = now_h;
		s->lat_base_ns = now;
	}
	if (spw_latency_quantile(&delta, 0.99, &us))
		return false; /* no response in the window: nothing measured, not "0 ms" */
	*ms = us / 1000.0;
	return true;
}

/* Requests of the service awaiting their response, all its tiers. */
static bool in_flight(struct spwd *d, struct spwd_service *s, double *n)
{
	uint64_t sum;

	if (spw_dp_inflight_total(d->dp, s->cfg->id, (uint32_t)d->cfg->ntiers, &sum))
		return false;
	*n = (double)sum;
	return true;
}

/* The requests in flight the law reads: the mean of the counts of the last tick, at most
 * SPW_CONC_MEAN_MAX_NS (spw_concurrency_reading). */
static bool in_flight_reading(struct spwd *d, struct spwd_service *s, uint64_t now, double *n)
{
	uint64_t window = d->cfg->controller.tick_ns;

	if (!in_flight(d, s, n))
		return false;
	if (window > SPW_CONC_MEAN_MAX_NS)
		window = SPW_CONC_MEAN_MAX_NS;
	*n = spw_concurrency_reading(&s->in_flight_rd, *n, now, window);
	return true;
}

/*
 * The oldest outstanding request's age. Nothing outstanding is a measurement (0 ms: no queue),
 * not a missing one, unlike a latency window without responses.
 */
bool spwd_oldest_request_ms(struct spwd *d, struct spwd_service *s, uint64_t now, double *ms)
{
	uint64_t slots[SPW_REQ_SLOTS];
	struct spw_request_ages ages;

	if (s->oldest_ns != now) {
		if (spw_dp_req_ages_read(d->dp, s->cfg->id, slots))
			return false;
		spw_request_ages_read(slots, (uint32_t)(now / 1000), &ages);
		s->oldest_ms = ages.oldest_ms;
		s->oldest_ns = now;
	}
	*ms = s->oldest_ms;
	return true;
}

/*
 * Packets the service's listeners dropped per second since the last reading (their sk_drops,
 * from this tick's sock_diag dump). The first reading is only the base: a count since the
 * listener was created says nothing of the rate now. No listener is no measurement.
 */
static bool listen_overflow_rate(struct spwd_service *s, uint64_t now, double *per_s)
{
	uint64_t prev = s->lo_drops, prev_ns = s->lo_ns;

	if (!s->aq_read || !s->aq.sockets)
		return false;
	s->lo_drops = s->aq.drops;
	s->lo_ns = now;
	if (!prev_ns || now <= prev_ns)
		return false;
	/* Fewer than before: a listener was replaced, and the new one counts from 0. */
	*per_s = (double)(s->aq.drops >= prev ? s->aq.drops - prev : s->aq.drops) * 1e9 /
		 (double)(now - prev_ns);
	return true;
}

/* A kernel-measured signal's new value, taken at now. */
static void measured(struct spw_signal *sig, double v, uint64_t now)
{
	sig->value = v;
	sig->updated_ns = now;
}

/* Refreshes one signal's value; a source with nothing new leaves updated_ns as it was. */
static void measure(struct spwd *d, struct spwd_service *s, struct spw_signal *sig, uint64_t now)
{
	struct spw_report r;
	uint64_t active;
	double v;

	switch (sig->kind) {
	case SPW_SIG_POOL:
		/* Waiters count: a full pool with a queue is further over than a full one. The
		 * connections in use alone are what grows with the admitted load. */
		if (report_of(d, SPW_REPORT_POOL, sig->source, &r) && r.capacity) {
			sig->value = (double)(r.in_use + r.waiting) / (double)r.capacity;
			sig->load_value = (double)r.in_use / (double)r.capacity;
			sig->updated_ns = r.updated_ns;
		}
		break;
	case SPW_SIG_POOL_WAIT:
		if (report_of(d, SPW_REPORT_POOL, sig->source, &r) &&
		    (r.present & SPW_REPORT_HAS_WAIT_MS)) {
			sig->value = (double)r.wait_ms;
			sig->updated_ns = r.updated_ns;
		}
		break;
	case SPW_SIG_QUEUE:
		if (report_of(d, SPW_REPORT_QUEUE, sig->source, &r) &&
		    (r.present & SPW_REPORT_HAS_LIMIT) && r.limit) {
			sig->value = (double)r.depth / (double)r.limit;
			sig->updated_ns = r.updated_ns;
		}
		break;
	case SPW_SIG_QUEUE_AGE:
		if (report_of(d, SPW_REPORT_QUEUE, sig->source, &r) &&
		    (r.present & SPW_REPORT_HAS_AGE_MS)) {
			sig->value = (double)r.age_ms;
			sig->updated_ns = r.updated_ns;
		}
		break;
	case SPW_SIG_ACCEPT_QUEUE:
		/* No listener is no measurement (the app restarting), not an empty queue. */
		if (s->aq_read && s->aq.sockets) {
			sig->value = s->aq.fill;
			sig->updated_ns = now;
		}
		break;
	case SPW_SIG_LATENCY_P99:
		if (latency_p99_ms(d, s, now, &v))
			measured(sig, v, now);
		break;
	case SPW_SIG_CONNECTIONS:
		if (!spw_dp_active_read(d->dp, s->cfg->id, SPW_ACTIVE_TOTAL, &active)) {
			sig->value = (double)active;
			sig->updated_ns = now;
		}
		break;
	case SPW_SIG_IN_FLIGHT:
		if (in_flight_reading(d, s, now, &v))
			measured(sig, v, now);
		break;
	case SPW_SIG_OLDEST_REQUEST_AGE:
		if (spwd_oldest_request_ms(d, s, now, &v))
			measured(sig, v, now);
		break;
	case SPW_SIG_LISTEN_OVERFLOW:
		if (listen_overflow_rate(s, now, &v))
			measured(sig, v, now);
		break;
	default:
		break;
	}
}

/* The policies a tick writes, in one batch at its end. */
struct policy_batch {
	uint32_t ids[SPW_MAX_SERVICES];
	struct spw_policy p[SPW_MAX_SERVICES];
	const struct spwd_service *svc[SPW_MAX_SERVICES];
	uint32_t n;
};

static void policy_write_failed(const struct spwd_service *s, int err)
{
	pr_warn("cannot write the policy of %s: %s\n", s->cfg->name, strerror(-err));
}

/*
 * One syscall for the tick's policies; when it fails, each is written on its own, so every
 * good policy still gets its renewed lease and each failure is logged with its service.
 */
static void write_policy_batch(struct spwd *d, const struct policy_batch *b)
{
	uint32_t i;
	int err;

	if (!spw_dp_policies_set(d->dp, b->ids, b->p, b->n))
		return;
	for (i = 0; i < b->n; i++) {
		err = spw_dp_policy_set(d->dp, b->ids[i], &b->p[i]);
		if (err)
			policy_write_failed(b->svc[i], err);
	}
}

/*
 * The service's whole policy with a renewed lease, written at once, or added to batch when
 * one is given (a tick: 20 services were 20 syscalls, a twentieth of the tick).
 */
static void write_policy(struct spwd *d, struct spwd_service *s, bool dry_run, uint64_t now,
			 struct policy_batch *batch)
{
	const struct spw_config_service *c = s->cfg;
	struct spw_policy p;
	int err;

	spw_policy_init(&p, d->cfg->ntiers, c->default_tier);
	p.admit_level = s->level;
	p.partial = (uint8_t)s->partial;
	p.floor_level = c->protect_tier0 ? SPW_COHORTS : 0;
	p.lease_expires_ns = now + d->cfg->controller.lease_ns;
	p.flags = dry_run ? SPW_POLICY_DRY_RUN : 0;
	memcpy(p.action, c->action, sizeof(p.action));
	memcpy(p.rate_per_sec, c->rate_per_sec, sizeof(p.rate_per_sec));
	memcpy(p.burst, c->burst, sizeof(p.burst));
	memcpy(p.max_conns, c->max_conns, sizeof(p.max_conns));
	memcpy(p.mark_egress, c->mark_egress, sizeof(p.mark_egress));
	p.max_tracked = d->max_tracked;
	if (s->conn_limit) {
		p.flags |= SPW_POLICY_RESERVE;
		memcpy(p.admit_below, s->admit_below, sizeof(p.admit_below));
	}
	memcpy(p.inflight_below, s->inflight_below, sizeof(p.inflight_below));
	p.generation = ++s->generation;
	if (batch && batch->n < SPW_MAX_SERVICES) {
		batch->ids[batch->n] = c->id;
		batch->svc[batch->n] = s;
		batch->p[batch->n++] = p;
		return;
	}
	err = spw_dp_policy_set(d->dp, c->id, &p);
	if (err)
		policy_write_failed(s, err);
}

/*
 * Which signal moved the level, with its reading: "why did it shed?" is the first question an
 * operator asks, and the pressure alone does not say which of a service's signals it was.
 */
/* The fresh signal that sets the pressure (the largest value / target), NULL when none is. */
static const struct spw_signal *deciding_signal(const struct spwd_service *s)
{
	const struct spw_signal *top = NULL;
	int i;

	for (i = 0; i < s->cfg->nsignals; i++) {
		const struct spw_signal *sig = &s->signals[i];

		if (!sig->stale && (!top || sig->value / sig->target > top->value / top->target))
			top = sig;
	}
	return top;
}

static void log_level_change(const struct spwd_service *s, uint32_t prev)
{
	const struct spw_signal *top = deciding_signal(s);

	if (s->overridden)
		pr_debug("%s: level %u -> %u (manual override)\n", s->cfg->name, prev, s->level);
	else if (top)
		/* The estimates the move was sized by: a capacity, or with delay signals only the
		 * rate served while the delay was low (0: none yet); the demand at full admission
		 * and what the new level admits of it (new flows/s). */
		pr_debug("%s: level %u -> %u (pressure %.3f: %s%s%s %.3f, target %.3f; %s %.0f/s, "
			 "demand %.0f/s, admitted %.0f/s)\n",
			 s->cfg->name, prev, s->level, s->pressure, spw_signal_kind_name(top->kind),
			 top->source[0] ? " " : "", top->source, top->value, top->target,
			 s->law.capacity > 0 ? "capacity" : "served",
			 s->law.capacity > 0 ? s->law.capacity : s->law.served,
			 spw_law_rate_at(&s->law, &s->law_params, s->law_params.ceiling),
			 spw_law_rate_at(&s->law, &s->law_params, s->law.level));
	else
		pr_debug("%s: level %u -> %u (no fresh signal)\n", s->cfg->name, prev, s->level);
}

/*
 * The report kind a signal reads, or -1 for the signals the daemon measures itself (each
 * tick; in flight between ticks too).
 */
static int report_kind_of(enum spw_signal_kind kind)
{
	switch (kind) {
	case SPW_SIG_POOL:
	case SPW_SIG_POOL_WAIT:
		return SPW_REPORT_POOL;
	case SPW_SIG_QUEUE:
	case SPW_SIG_QUEUE_AGE:
		return SPW_REPORT_QUEUE;
	default:
		return -1;
	}
}

/*
 * What the service holds in flight at its capacity: the in_flight signal's target, unless it
 * is still learning or follows the load (an early target is a queue of three times the load:
 * no capacity). NAN: none.
 */
static double in_flight_at_capacity(const struct spwd_service *s)
{
	int i;

	for (i = 0; i < s->cfg->nsignals; i++) {
		const struct spw_signal *sig = &s->signals[i];

		if (sig->kind == SPW_SIG_IN_FLIGHT)
			return sig->target_follows_load ? NAN : sig->target;
	}
	return NAN;
}

/*
 * The connection limit in force: the configured number, or the capacity the named pool last
 * reported (kept while the pool is silent: the server's limit does not go away with its
 * reporter). Sets the per-tier bounds of the reservation, and those on the requests in
 * flight (in_flight_guard) from the in_flight target.
 */
static void update_reservation(struct spwd *d, struct spwd_service *s)
{
	const struct spw_config_service *c = s->cfg;
	struct spw_report r;

	if (c->connection_limit)
		s->conn_limit = c->connection_limit;
	else if (c->connection_pool[0] && report_of(d, SPW_REPORT_POOL, c->connection_pool, &r) &&
		 r.capacity)
		s->conn_limit = r.capacity;
	if (s->conn_limit)
		spw_reserve_bounds(c->reserve, d->cfg->ntiers, s->conn_limit, s->admit_below);
	spw_inflight_bounds(in_flight_at_capacity(s), c->in_flight_guard, d->cfg->ntiers,
			    s->inflight_below);
}

/* The fine level the data plane enforces: the level and the partial share of the next rank. */
static double fine_level(const struct spwd_service *s)
{
	return (double)s->level + (double)s->partial / SPW_PARTIAL_ONE;
}

/* Extends the time-weighted level of the window to now: before every change of the level. */
static void account_level(struct spwd_service *s, uint64_t now)
{
	if (s->level_since_ns)
		s->level_area += fine_level(s) * (double)(now - s->level_since_ns);
	if (fine_level(s) < s->level_min)
		s->level_min = fine_level(s);
	s->level_since_ns = now;
}

/* A counter's count since base; one that went back (maps recreated) starts a new base. */
static uint64_t counted_since(uint64_t now, uint64_t base)
{
	return now >= base ? now - base : now;
}

/*
 * The window's per-rank counts into w, as deltas of the data plane's totals. A failed read
 * leaves w->ranks_known false (the law then spreads each tier uniformly) and the next window
 * starts from a new base.
 */
static void observe_ranks(struct spwd *d, struct spwd_service *s, struct spw_law_counts *w)
{
	struct spw_rank_count now_c;
	uint32_t r;
	bool ok = !spw_dp_rank_counts_read(d->dp, s->cfg->id, &now_c);

	w->ranks_known = ok && s->obs_ranks_ok;
	for (r = 0; w->ranks_known && r < SPW_RANK_LIMIT; r++) {
		w->rank_passed[r] = counted_since(now_c.passed[r], s->obs_ranks.passed[r]);
		w->rank_shed[r] = counted_since(now_c.shed[r], s->obs_ranks.shed[r]);
	}
	if (ok)
		s->obs_ranks = now_c;
	s->obs_ranks_ok = ok;
}

/* Widens [*lo, *hi] to hold every reason of r. */
static void widen_span(const enum spw_reason *r, size_t n, uint32_t *lo, uint32_t *hi)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*lo = (uint32_t)r[i] < *lo ? (uint32_t)r[i] : *lo;
		*hi = (uint32_t)r[i] > *hi ? (uint32_t)r[i] : *hi;
	}
}

/*
 * Feeds the law the data plane's counts since the last observation: what the level let pass
 * (admitted, or refused after it by a cap, a rate or the reservation), what the level shed,
 * and what entered the service. Every tick, and before a step between ticks that may cut, so
 * a cut sees the demand of now.
 */
static void observe(struct spwd *d, struct spwd_service *s, uint64_t now)
{
	static const enum spw_reason past_level[] = {
	    SPW_REASON_ADMITTED,   SPW_REASON_TABLE_FULL, SPW_REASON_FLOOD_GUARD,
	    SPW_REASON_SHED_CAP,   SPW_REASON_SHED_RATE,  SPW_REASON_SHED_RESERVE,
	    SPW_REASON_WOULD_SHED, SPW_REASON_FAIL_OPEN,
	};
	static const enum spw_reason entered[] = {
	    SPW_REASON_ADMITTED,   SPW_REASON_TABLE_FULL, SPW_REASON_FLOOD_GUARD,
	    SPW_REASON_WOULD_SHED, SPW_REASON_FAIL_OPEN,
	};
	static const enum spw_reason shed_level = SPW_REASON_SHED_LEVEL;
	struct spw_count c[SPW_TIER_SLOTS * SPW_REASON_SLOTS];
	struct spw_law_counts w = {.end_ns = now};
	uint32_t t, k, lo = SPW_REASON_SLOTS, hi = 0;

	/* Only the span of the reasons read below is copied out of the kernel. */
	widen_span(past_level, sizeof(past_level) / sizeof(past_level[0]), &lo, &hi);
	widen_span(entered, sizeof(entered) / sizeof(entered[0]), &lo, &hi);
	widen_span(&shed_level, 1, &lo, &hi);
	memset(c, 0, sizeof(c));
	if (spw_dp_counters_read_service(d->dp, s->cfg->id, (uint32_t)d->cfg->ntiers, lo,
					 hi - lo + 1, c))
		return; /* nothing read: the next window covers this one too */
	account_level(s, now);
	w.window_ns = s->obs_ns ? now - s->obs_ns : 0;
	w.level = w.window_ns ? s->level_area / (double)w.window_ns : fine_level(s);
	w.level_min = s->level_min;
	observe_ranks(d, s, &w);
	for (t = 0; t < (uint32_t)d->cfg->ntiers; t++) {
		const struct spw_count *row = &c[t * SPW_REASON_SLOTS];
		uint64_t passed = 0, shed = row[shed_level].packets, admitted = 0;

		for (k = 0; k < sizeof(past_level) / sizeof(past_level[0]); k++)
			passed += row[past_level[k]].packets;
		for (k = 0; k < sizeof(entered) / sizeof(entered[0]); k++)
			admitted += row[entered[k]].packets;
		w.passed[t] = counted_since(passed, s->obs_passed[t]);
		w.shed[t] = counted_since(shed, s->obs_shed[t]);
		w.admitted[t] = counted_since(admitted, s->obs_admitted[t]);
		s->obs_passed[t] = passed;
		s->obs_shed[t] = shed;
		s->obs_admitted[t] = admitted;
	}
	if (w.window_ns)
		spw_law_observe(&s->law, &s->law_params, &w);
	s->obs_ns = now;
	s->level_area = 0;
	s->level_min = fine_level(s); /* in force as the next window starts */
}

/* Keeps the learned capacity in the pinned record (once a second), for a restarted daemon. */
static void save_record(struct spwd *d, struct spwd_service *s, uint64_t now)
{
	struct spw_service_rec r;

	if (s->record_saved_ns && now - s->record_saved_ns < SPW_NSEC_PER_SEC)
		return;
	s->record_saved_ns = now;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", s->cfg->name);
	r.capacity_mfps = s->law.capacity > 0 ? (uint64_t)(s->law.capacity * 1000.0) : 0;
	r.saved_ns = now;
	spw_dp_service_rec_set(d->dp, s->cfg->id, &r);
}

/*
 * The in_flight target learned (spw_concurrency.h) from the tick's reading and the responses
 * the data plane counted: its latency histogram counts every response it times.
 */
static void learn_in_flight(struct spwd *d, struct spwd_service *s, struct spw_signal *sig,
			    double value, bool full, uint64_t now)
{
	struct spw_latency_hist h;
	bool learning = isnan(sig->target), was_early = learning || sig->target_follows_load;

	if (spw_dp_latency_read_service(d->dp, s->cfg->id, &h))
		return;
	spw_concurrency_observe(&s->conc, value, h.count, full, now);
	sig->target = spw_concurrency_target(&s->conc, &sig->target_follows_load);
	if (learning && sig->target_follows_load)
		pr_info("%s: in_flight learned: %.1f ms in service when quiet; until the capacity "
			"is seen, %.1f requests\n",
			s->cfg->name, s->conc.w0.baseline, sig->target);
	else if (was_early && !isnan(sig->target) && !sig->target_follows_load)
		pr_info("%s: in_flight learned: %.1f ms in service when quiet, %.0f responses/s "
			"at capacity, target %.1f requests\n",
			s->cfg->name, s->conc.w0.baseline, s->conc.capacity, sig->target);
}

/*
 * Learned targets follow the signal's quiet values (spw_baseline.h). Called after the tick's
 * measurements and before the law steps, with the level enforced since the last tick.
 */
static void learn_targets(struct spwd *d, struct spwd_service *s, uint64_t now)
{
	bool full = s->level >= s->law_params.ceiling && !s->partial;
	int i;

	for (i = 0; i < s->cfg->nsignals; i++) {
		struct spw_signal *sig = &s->signals[i];
		struct spw_baseline *b = &s->baselines[i];
		bool learning = isnan(sig->target);
		double value = sig->updated_ns == now ? sig->value : NAN;

		if (!sig->learn)
			continue;
		if (sig->kind == SPW_SIG_IN_FLIGHT) {
			learn_in_flight(d, s, sig, value, full, now);
			continue;
		}
		spw_baseline_observe(b, value, full, now);
		sig->target = spw_baseline_target(b);
		if (learning && !isnan(sig->target))
			pr_info("%s: %s learned: %.1f ms when quiet, target %.1f ms\n",
				s->cfg->name, spw_signal_kind_name(sig->kind), b->baseline,
				sig->target);
	}
}

/*
 * Measures, steps the law and writes the policy; true when the enforced level changed.
 * urgent: called between ticks, as a report arrives or when the watch finds the requests in
 * flight over (spwd_watch_in_flight): only the reported signals and in flight (a mapped
 * count) are read again. Every such call steps the law: it judges each reading once and
 * moves at most once per tick, so a fast reporter does not raise the gain and a slow one is
 * acted on as its report lands instead of up to a tick later (at 3x capacity every 100 ms of
 * delay queues 200 ms of work in front of tier 0).
 */
/*
 * overrides: whether the overrides map may hold one (a tick checks once for all services;
 * most ticks find it empty, and a lookup per service was a twentieth of a 20-service tick).
 * batch: where a tick gathers the policies it writes (NULL: write now).
 */
static bool control_service(struct spwd *d, struct spwd_service *s, uint64_t now, bool urgent,
			    bool overrides, struct policy_batch *batch)
{
	struct spw_law_reading r;
	struct spw_override o;
	uint32_t prev = s->level, prev_partial = s->partial;
	bool dry_run = s->cfg->dry_run;
	int i;

	/* Between ticks: the reports, and the requests in flight (a mapped count: no syscall). */
	for (i = 0; i < s->cfg->nsignals; i++)
		if (!urgent || report_kind_of(s->signals[i].kind) >= 0 ||
		    s->signals[i].kind == SPW_SIG_IN_FLIGHT)
			measure(d, s, &s->signals[i], now);
	if (!urgent)
		learn_targets(d, s, now);
	spw_pressure_read(s->signals, s->cfg->nsignals, now, d->cfg->controller.stale_after_ns, &r);
	s->pressure = r.pressure;
	if (!urgent || r.saturated || r.pressure >= 1.0 + s->law_params.hysteresis)
		observe(d, s, now);
	account_level(s, now);
	/* The law keeps running under an override, so handing back control is smooth. */
	s->law_level = spw_law_step(&s->law, &s->law_params, &r, now);
	s->level = s->law_level;
	s->partial = spw_law_partial(&s->law, &s->law_params);
	s->overridden = false;
	if (overrides && !spw_dp_override_get(d->dp, s->cfg->id, &o) && o.expires_ns > now) {
		s->level = o.level;
		s->partial = 0;
		dry_run = dry_run || o.dry_run;
		s->overridden = true;
	}
	if (urgent && s->level == prev && s->partial == prev_partial)
		return false; /* the tick renews the lease; nothing to write between ticks */
	update_reservation(d, s);
	spw_retry_hint(s->level, prev, &s->law_params, &s->retry_lo_s, &s->retry_hi_s);
	if (s->level != prev)
		log_level_change(s, prev);
	s->dry_run = dry_run;
	write_policy(d, s, dry_run, now, batch);
	if (!urgent)
		save_record(d, s, now);
	return s->level != prev;
}

/* Whether a signal of s reads the report (kind, name). */
static bool uses_report(const struct spwd_service *s, enum spw_report_kind kind, const char *name)
{
	int i;

	for (i = 0; i < s->cfg->nsignals; i++)
		if (report_kind_of(s->signals[i].kind) == (int)kind &&
		    !strncmp(s->signals[i].source, name, sizeof(s->signals[i].source)))
			return true;
	return false;
}

void spwd_report_arrived(struct spwd *d, enum spw_report_kind kind, const char *name)
{
	uint64_t now = spw_now_ns();
	bool changed = false;
	int i;

	for (i = 0; i < d->nsvcs; i++)
		if (uses_report(&d->svcs[i], kind, name))
			changed |= control_service(d, &d->svcs[i], now, true, true, NULL);
	/* Apps read the shed state from the file: they must hear of the cut now too. */
	if (changed)
		spwd_state_publish(d);
}

/* Whether s's requests in flight read a clear overload now. */
static bool in_flight_over(struct spwd *d, struct spwd_service *s, uint64_t now)
{
	double v, over = 1.0 + s->law_params.hysteresis;
	int i;

	for (i = 0; i < s->cfg->nsignals; i++) {
		const struct spw_signal *sig = &s->signals[i];

		if (sig->kind == SPW_SIG_IN_FLIGHT)
			return sig->target > 0 && in_flight_reading(d, s, now, &v) &&
			       v >= over * sig->target;
	}
	return false;
}

void spwd_watch_in_flight(struct spwd *d)
{
	uint64_t now = spw_now_ns();
	bool changed = false;
	int i;

	for (i = 0; i < d->nsvcs; i++)
		if (in_flight_over(d, &d->svcs[i], now))
			changed |= control_service(d, &d->svcs[i], now, true, true, NULL);
	if (changed)
		spwd_state_publish(d);
}

static void rotate_salt(struct spwd *d, uint64_t now)
{
	struct spw_globals g;
	int i;

	if (now - d->last_rotation_ns < d->cfg->controller.cohort_rotation_ns)
		return;
	d->last_rotation_ns = now;
	if (spw_dp_globals_get(d->dp, &g))
		return;
	if (getrandom(&g.cohort_salt, sizeof(g.cohort_salt), GRND_NONBLOCK) !=
	    sizeof(g.cohort_salt))
		g.cohort_salt = g.cohort_salt * 2654435761U + (uint32_t)now;
	g.salt_rotated_ns = now;
	if (spw_dp_globals_set(d->dp, &g))
		return;
	for (i = 0; i < d->nsvcs; i++)
		spw_law_cohorts_moved(&d->svcs[i].law);
}

static void sweep_flows(struct spwd *d, uint64_t now)
{
	const struct spw_config_controller *c = &d->cfg->controller;
	struct spw_sweep_opts o = {
	    .syn_timeout_ns = c->syn_timeout_ns,
	    .idle_timeout_ns = c->idle_timeout_ns,
	    .udp_timeout_ns = c->udp_timeout_ns,
	};
	struct spw_sweep_stats st;
	int err;

	if (now - d->last_sweep_ns < c->sweep_every_ns)
		return;
	d->last_sweep_ns = now;
	err = spw_dp_flows_sweep(d->dp, &o, &st);
	if (err)
		pr_warn("flow sweep failed: %s\n", strerror(-err));
	else if (st.expired)
		pr_debug("flow sweep: %llu of %llu flows idle past their timeout\n",
			 (unsigned long long)st.expired, (unsigned long long)st.scanned);
}

/*
 * Accept queues (and their listeners' drops) of every TCP service that uses them, in one
 * sock_diag dump per family: a dump
 * per service cost about 35 us each, most of a 20-service tick.
 */
static void read_accept_queues(struct spwd *d)
{
	struct spw_accept_queue aq[SPW_MAX_SERVICES];
	uint16_t ports[SPW_MAX_SERVICES];
	int idx[SPW_MAX_SERVICES];
	int i, j, n = 0;

	for (i = 0; i < d->nsvcs; i++) {
		struct spwd_service *s = &d->svcs[i];

		s->aq_read = false;
		if (s->cfg->match.proto != IPPROTO_TCP)
			continue;
		for (j = 0; j < s->cfg->nsignals; j++) {
			if (s->cfg->signals[j].kind == SPW_SIG_ACCEPT_QUEUE ||
			    s->cfg->signals[j].kind == SPW_SIG_LISTEN_OVERFLOW) {
				ports[n] = s->cfg->match.port;
				idx[n++] = i;
				break;
			}
		}
	}
	if (!n || spw_accept_queue_read_ports(ports, n, aq))
		return; /* nothing measured this tick: the signal ages toward stale */
	for (i = 0; i < n; i++) {
		d->svcs[idx[i]].aq = aq[i];
		d->svcs[idx[i]].aq_read = true;
	}
}

void spwd_tick(struct spwd *d)
{
	uint64_t now = spw_now_ns();
	bool overrides = spw_dp_overrides_any(d->dp);
	struct policy_batch batch;
	int i;

	batch.n = 0;
	read_accept_queues(d);
	for (i = 0; i < d->nsvcs; i++)
		control_service(d, &d->svcs[i], now, false, overrides, &batch);
	write_policy_batch(d, &batch);
	rotate_salt(d, now);
	sweep_flows(d, now);
	d->ticks++;
	pthread_mutex_lock(&d->snap.lock);
	d->snap.last_tick_ns = now;
	d->snap.tick_ns = d->cfg->controller.tick_ns;
	d->snap.ticks = d->ticks;
	d->snap.reports_ok = d->reports_ok;
	d->snap.reports_bad = d->reports_bad;
	pthread_mutex_unlock(&d->snap.lock);
	spwd_state_publish(d);
	spwd_metrics_collect(d, now);
	spwd_notify_tick(d);
}
