// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter's input, collected in the tick: the tick already owns the map reads and the
 * per-service state, so it fills a snapshot (export/spw_metrics.h) and publishes it with one
 * memcpy under the lock. The HTTP thread copies it out and formats without the lock, so a slow
 * or frequent scraper costs the control loop nothing beyond that copy.
 *
 * Cadence: levels, signals and active counts every tick (no syscall); the report map walk
 * once per SPWD_METRICS_SLOW_NS, finer than any scrape interval. The per-CPU maps are the
 * exception: the whole counter map walk measured 2.4 ms on a 2-CPU VM, 13 times the rest of
 * the tick, and the per-tier latency histograms (a batch call of every bucket per service and
 * tier, each bucket copied out per CPU) a tenth of a 20-service tick even once a second
 * (bench-controller), so the HTTP thread reads both at scrape time
 * (spwd_metrics_fill_counters); the reads take no lock the tick needs, so they never delay a
 * tick, and no scraper means no cost.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "spillway_rank.h"
#include "spwd.h"
#include "spw_totals_json.h"
#include "spw_log.h"
#include "spw_metrics.h"

/* Latency, reports and rates are refreshed this often. */
#define SPWD_METRICS_SLOW_NS 1000000000ULL

int spwd_metrics_init(struct spwd *d, const char *version)
{
	uint32_t capacity;

	d->mbuild = calloc(1, sizeof(*d->mbuild));
	d->mpub = calloc(1, sizeof(*d->mpub));
	d->mcounters = calloc(SPW_COUNTER_ENTRIES, sizeof(*d->mcounters));
	d->mrate_base = calloc(SPW_COUNTER_ENTRIES, sizeof(*d->mrate_base));
	if (!d->mbuild || !d->mpub || !d->mcounters || !d->mrate_base) {
		spwd_metrics_close(d);
		return -ENOMEM;
	}
	snprintf(d->mbuild->version, sizeof(d->mbuild->version), "%s", version);
	d->mpub->nservices = 0;
	/* spw_dp_flow_count() would walk the whole table. */
	if (!spw_dp_flow_capacity(d->dp, &capacity))
		d->mbuild->flow_capacity = capacity;
	return 0;
}

void spwd_metrics_close(struct spwd *d)
{
	free(d->mbuild);
	free(d->mpub);
	free(d->mcounters);
	free(d->mrate_base);
	d->mbuild = d->mpub = NULL;
	d->mcounters = d->mrate_base = NULL;
}

static int collect_report(const struct spw_report_key *key, const struct spw_report *val, void *ctx)
{
	struct spw_metrics_snapshot *b = ctx;
	struct spw_metrics_report *m = &b->reports[b->nreports++];

	m->r = *val;
	m->kind = key->kind;
	memcpy(m->name, key->name, SPW_REPORT_NAME_MAX);
	m->name[SPW_REPORT_NAME_MAX] = '\0';
	return b->nreports >= SPW_MAX_REPORTS;
}

/* Every pool and queue in spw_reports, as reported (at most SPW_MAX_REPORTS: the map's size). */
static void collect_reports(struct spwd *d, struct spw_metrics_snapshot *b)
{
	b->nreports = 0;
	spw_dp_reports_foreach(d->dp, collect_report, b);
}

static double rate(const struct spw_count *now, const struct spw_count *base, uint32_t idx,
		   double secs)
{
	/* A reset map (after detach) must not give a negative rate. */
	return now[idx].packets >= base[idx].packets
		   ? (double)(now[idx].packets - base[idx].packets) / secs
		   : 0;
}

static void collect_service(struct spwd *d, struct spwd_service *s, struct spw_metrics_service *o,
			    uint64_t now)
{
	uint32_t id = s->cfg->id, t;
	int i;

	snprintf(o->name, sizeof(o->name), "%s", s->cfg->name);
	o->id = id;
	o->level = s->level;
	o->partial = s->partial;
	o->capacity = s->law.capacity > 0 ? s->law.capacity : NAN;
	o->conn_limit = s->conn_limit;
	if (spw_dp_active_read(d->dp, id, SPW_ACTIVE_TOTAL, &o->conns))
		o->conns = 0;
	if (!spwd_oldest_request_ms(d, s, now, &o->oldest_request_ms))
		o->oldest_request_ms = NAN;
	o->floor = s->law_params.floor;
	o->ceiling = s->law_params.ceiling;
	o->dry_run = s->dry_run;
	o->overridden = s->overridden;
	o->pressure = s->pressure;
	o->retry_lo_s = s->retry_lo_s;
	o->retry_hi_s = s->retry_hi_s;
	/* The lease write_policy() gave the data plane this tick. */
	o->lease_expires_ns = now + d->cfg->controller.lease_ns;
	o->nsignals = s->cfg->nsignals;
	for (i = 0; i < s->cfg->nsignals && i < SPW_MAX_SIGNALS; i++) {
		const struct spw_signal *g = &s->signals[i];
		struct spw_metrics_signal *os = &o->signals[i];

		snprintf(os->kind, sizeof(os->kind), "%s", spw_signal_kind_name(g->kind));
		snprintf(os->source, sizeof(os->source), "%s", g->source);
		os->value = g->updated_ns ? g->value : NAN;
		os->target = g->target;
		os->stale = g->stale;
	}
	for (t = 0; t < SPW_MAX_TIERS; t++) {
		struct spw_metrics_tier *ot = &o->tiers[t];

		if (spw_dp_active_read(d->dp, id, t, &ot->active))
			ot->active = 0;
		if (spw_dp_inflight_read(d->dp, id, t, &ot->inflight))
			ot->inflight = 0;
		ot->skewed = t < s->law.tiers && s->law.rank_skewed[t];
	}
}

/* Rates of tier t of o over [base, c] (secs long), for /v1/state. */
static void tier_rates(struct spw_metrics_service *o, uint32_t t, const struct spw_count *c,
		       const struct spw_count *base, double secs)
{
	struct spw_metrics_tier *ot = &o->tiers[t];
	uint32_t id = o->id, r;

	ot->admitted_ps = rate(c, base, spw_counter_index(id, t, SPW_REASON_ADMITTED), secs);
	ot->shed_ps = 0;
	for (r = 0; r < SPW_REASON_COUNT; r++)
		if (spw_reason_refuses(r))
			ot->shed_ps += rate(c, base, spw_counter_index(id, t, r), secs);
	ot->would_shed_ps = rate(c, base, spw_counter_index(id, t, SPW_REASON_WOULD_SHED), secs);
	ot->fail_open_ps = rate(c, base, spw_counter_index(id, t, SPW_REASON_FAIL_OPEN), secs);
}

/* Rates are over at least this long: two scrapes in a row would give noise. */
#define SPWD_RATE_MIN_NS 1000000000ULL

void spwd_metrics_fill_counters(struct spwd *d, struct spw_metrics_snapshot *s)
{
	uint32_t slot, r, t;
	double secs = 0;
	int i;

	/* On a failed read the last good counters stay: counters must never go backwards. */
	if (!spw_dp_counters_read_all(d->dp, d->mcounters))
		d->mcounters_ns = s->now_ns;
	if (d->mrate_ns && d->mcounters_ns > d->mrate_ns)
		secs = (double)(d->mcounters_ns - d->mrate_ns) / 1e9;
	for (i = 0; i < s->nservices; i++) {
		struct spw_metrics_service *o = &s->svcs[i];

		if (o->id >= SPW_MAX_SERVICES)
			continue;
		for (slot = 0; slot < SPW_TIER_SLOTS; slot++)
			for (r = 0; r < SPW_REASON_COUNT; r++)
				o->tiers[slot].counters[r] =
				    d->mcounters[spw_counter_index(o->id, slot, r)];
		for (t = 0; secs > 0 && t < (uint32_t)s->ntiers && t < SPW_MAX_TIERS; t++)
			tier_rates(o, t, d->mcounters, d->mrate_base, secs);
		/* A failed read shows no latency rather than an old one as new. */
		for (t = 0; t < SPW_MAX_TIERS; t++)
			if (t >= (uint32_t)s->ntiers ||
			    spw_dp_latency_read(d->dp, o->id, t, &o->tiers[t].lat))
				memset(&o->tiers[t].lat, 0, sizeof(o->tiers[t].lat));
	}
	for (slot = 0; slot < SPW_TIER_SLOTS; slot++)
		for (r = 0; r < SPW_REASON_COUNT; r++)
			s->none[slot].counters[r] =
			    d->mcounters[spw_counter_index(SPW_SVC_NONE, slot, r)];
	if (d->mcounters_ns && d->mcounters_ns - d->mrate_ns >= SPWD_RATE_MIN_NS) {
		memcpy(d->mrate_base, d->mcounters, SPW_COUNTER_ENTRIES * sizeof(*d->mrate_base));
		d->mrate_ns = d->mcounters_ns;
	}
}

/* On a failed read a downstream keeps its last counts: counters never go backwards. */
static void collect_downstreams(struct spwd *d, struct spw_metrics_snapshot *b)
{
	uint64_t n[SPW_MAX_TIERS][SPW_THR_KINDS];
	uint32_t t;
	int i;

	for (i = 0; i < d->cfg->ndownstreams; i++) {
		const struct spw_config_downstream *c = &d->cfg->downstreams[i];

		if (strcmp(b->downstreams[i].name, c->name))
			memset(&b->downstreams[i], 0, sizeof(b->downstreams[i]));
		snprintf(b->downstreams[i].name, sizeof(b->downstreams[i].name), "%s", c->name);
		if (spw_dp_throttle_read(d->dp, c->id, n))
			continue;
		for (t = 0; t < SPW_MAX_TIERS; t++) {
			b->downstreams[i].requests[t] = n[t][SPW_THR_REQUESTS];
			b->downstreams[i].accepts[t] = n[t][SPW_THR_ACCEPTS];
			b->downstreams[i].throttled[t] = n[t][SPW_THR_THROTTLED];
			b->downstreams[i].marked[t] = n[t][SPW_THR_MARKED];
		}
	}
	b->ndownstreams = i;
}

void spwd_metrics_collect(struct spwd *d, uint64_t now)
{
	struct spw_metrics_snapshot *b = d->mbuild;
	struct timespec wall;
	uint64_t entries = 0, a;
	uint32_t t;
	bool slow;
	int i;

	if (!b)
		return;
	slow = !d->mslow_ns || now - d->mslow_ns >= SPWD_METRICS_SLOW_NS;
	b->ntiers = d->cfg->ntiers;
	for (i = 0; i < d->cfg->ntiers && i < SPW_MAX_TIERS; i++)
		snprintf(b->tiers[i], sizeof(b->tiers[i]), "%s", d->cfg->tiers[i]);
	b->pid = (uint32_t)getpid();
	for (i = 0; i < d->cfg->nifaces && i < 16; i++) {
		snprintf(b->ifaces[i].name, sizeof(b->ifaces[i].name), "%s",
			 d->cfg->ifaces[i].name);
		b->ifaces[i].mode = (int)d->cfg->ifaces[i].mode;
		b->ifaces[i].tx_counted = !spw_dp_tx_failed_read(
		    d->dp, (int)if_nametoindex(d->cfg->ifaces[i].name), &b->ifaces[i].tx_failed);
	}
	b->nifaces = i;
	collect_downstreams(d, b);
	for (i = 0; i < d->nsvcs; i++)
		collect_service(d, &d->svcs[i], &b->svcs[i], now);
	b->nservices = d->nsvcs;
	/* Every service id, configured or not: a flow of a removed service still has its entry. */
	for (i = 0; i < SPW_MAX_SERVICES; i++)
		for (t = 0; t < SPW_MAX_TIERS; t++)
			if (!spw_dp_active_read(d->dp, (uint32_t)i, t, &a))
				entries += a;
	b->flow_entries = entries;
	if (slow) {
		collect_reports(d, b);
		d->mslow_ns = now;
	}
	b->ticks = d->ticks;
	b->reports_ok = d->reports_ok;
	b->reports_bad = d->reports_bad;
	b->tick_ns = d->cfg->controller.tick_ns;
	b->last_tick_ns = now;
	clock_gettime(CLOCK_REALTIME, &wall);
	b->last_tick_unix_s = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
	/* The tick's own cost, collection included; the copy below is the only part left out. */
	spw_metrics_tick_observe(b, (double)(spw_now_ns() - now) / 1e9);
	pthread_mutex_lock(&d->snap.lock);
	memcpy(d->mpub, b, spw_metrics_snapshot_size(b));
	pthread_mutex_unlock(&d->snap.lock);
}

struct spw_metrics_snapshot *spwd_metrics_copy(struct spwd *d)
{
	struct spw_metrics_snapshot *c;

	if (!d->mpub)
		return NULL;
	/* Allocated outside the lock; copied within it. Whole size: the count may grow. */
	c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_lock(&d->snap.lock);
	memcpy(c, d->mpub, spw_metrics_snapshot_size(d->mpub));
	pthread_mutex_unlock(&d->snap.lock);
	c->now_ns = spw_now_ns();
	return c;
}

/* ---- /v1/state: what `spillway status --json` shows, with its field names ------------------ */

static json_t *real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *service_json(const struct spw_metrics_snapshot *s,
			    const struct spw_metrics_service *v)
{
	json_t *o = json_object(), *shed = json_object(), *sigs = json_array(),
	       *tiers = json_array();
	uint32_t t, nt = s->ntiers > SPW_MAX_TIERS ? SPW_MAX_TIERS : (uint32_t)s->ntiers;
	uint64_t packets[SPW_REASON_COUNT];
	double us;
	int i;

	json_object_set_new(o, "name", json_string(v->name));
	json_object_set_new(o, "id", json_integer(v->id));
	json_object_set_new(o, "mode", json_string(v->dry_run ? "dry-run" : "enforce"));
	json_object_set_new(o, "overridden", json_boolean(v->overridden));
	json_object_set_new(o, "level", json_integer(v->level));
	json_object_set_new(o, "floor", json_integer(v->floor));
	json_object_set_new(o, "ceiling", json_integer(v->ceiling));
	json_object_set_new(o, "pressure", real_or_null(v->pressure));
	for (i = 0; i < v->nsignals && i < SPW_MAX_SIGNALS; i++) {
		const struct spw_metrics_signal *g = &v->signals[i];
		json_t *j = json_object();

		json_object_set_new(j, "kind", json_string(g->kind));
		json_object_set_new(j, "source", json_string(g->source));
		json_object_set_new(j, "value", real_or_null(g->value));
		json_object_set_new(j, "target", real_or_null(g->target));
		json_object_set_new(j, "stale", json_boolean(g->stale));
		json_array_append_new(sigs, j);
	}
	json_object_set_new(o, "signals", sigs);
	for (t = 0; t < nt; t++) {
		const struct spw_metrics_tier *tv = &v->tiers[t];
		uint32_t sc = spw_tier_shed_cohorts(v->level, v->floor, t);
		bool has_lat = !spw_latency_quantile(&tv->lat, 0.5, &us);
		json_t *j = json_object();

		json_object_set_new(shed, s->tiers[t][0] ? s->tiers[t] : "?",
				    json_integer(spw_shed_percent(sc)));
		json_object_set_new(j, "name", json_string(s->tiers[t]));
		json_object_set_new(j, "shed_percent", json_integer(spw_shed_percent(sc)));
		json_object_set_new(j, "shed_cohorts", json_integer(sc));
		json_object_set_new(j, "admitted_per_s", json_real(tv->admitted_ps));
		json_object_set_new(j, "shed_per_s", json_real(tv->shed_ps));
		json_object_set_new(j, "would_shed_per_s", json_real(tv->would_shed_ps));
		json_object_set_new(j, "fail_open_per_s", json_real(tv->fail_open_ps));
		for (i = 0; i < SPW_REASON_COUNT; i++)
			packets[i] = tv->counters[i].packets;
		spw_totals_json(j, packets);
		json_object_set_new(j, "active", json_integer((json_int_t)tv->active));
		json_object_set_new(j, "skewed", json_boolean(tv->skewed));
		json_object_set_new(j, "latency_p50_ms",
				    has_lat ? json_real(us / 1e3) : json_null());
		if (has_lat && !spw_latency_quantile(&tv->lat, 0.99, &us))
			json_object_set_new(j, "latency_p99_ms", json_real(us / 1e3));
		else
			json_object_set_new(j, "latency_p99_ms", json_null());
		json_array_append_new(tiers, j);
	}
	json_object_set_new(o, "shed", shed);
	json_object_set_new(o, "tiers", tiers);
	json_object_set_new(
	    o, "lease_remaining_ms",
	    v->lease_expires_ns
		? json_integer(((json_int_t)v->lease_expires_ns - (json_int_t)s->now_ns) / 1000000)
		: json_null());
	json_object_set_new(o, "retry_after_lo_s", json_integer(v->retry_lo_s));
	json_object_set_new(o, "retry_after_hi_s", json_integer(v->retry_hi_s));
	return o;
}

char *spwd_state_json(const struct spw_metrics_snapshot *s)
{
	json_t *root = json_object(), *svcs = json_array(), *ifs = json_array(),
	       *tiers = json_array();
	struct timespec wall;
	char *text;
	int i;

	/* The counters were read for this request just now (spwd_metrics_fill_counters). */
	clock_gettime(CLOCK_REALTIME, &wall);
	json_object_set_new(root, "time_unix_ms",
			    json_integer((json_int_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000));
	json_object_set_new(root, "daemon_pid", json_integer(s->pid));
	json_object_set_new(root, "tick_ms", json_integer((json_int_t)(s->tick_ns / 1000000)));
	json_object_set_new(root, "state_age_ms",
			    json_integer(s->last_tick_ns
					     ? (json_int_t)((s->now_ns - s->last_tick_ns) / 1000000)
					     : -1));
	for (i = 0; i < s->ntiers && i < SPW_MAX_TIERS; i++)
		json_array_append_new(tiers, json_string(s->tiers[i]));
	json_object_set_new(root, "tier_names", tiers);
	for (i = 0; i < s->nifaces && i < 16; i++) {
		json_t *j = json_object();
		int m = s->ifaces[i].mode;

		json_object_set_new(j, "name", json_string(s->ifaces[i].name));
		json_object_set_new(j, "mode", json_string(spw_attach_mode_name((unsigned int)m)));
		json_object_set_new(j, "xdp_tx_failed",
				    s->ifaces[i].tx_counted
					? json_integer((json_int_t)s->ifaces[i].tx_failed)
					: json_null());
		json_array_append_new(ifs, j);
	}
	json_object_set_new(root, "interfaces", ifs);
	for (i = 0; i < s->nservices; i++)
		json_array_append_new(svcs, service_json(s, &s->svcs[i]));
	json_object_set_new(root, "services", svcs);
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	return text;
}
