// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Prometheus text format of a metrics snapshot (pure: unit-tested without BPF).
 *
 * Output stays bounded: every row of a configured service is shown (so rate() has a series from
 * the first scrape on, not from the first shed packet), but rows of traffic that is not a
 * configured service, and unclassified-tier rows, only when they counted something.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spillway_rank.h"
#include "spillway_latency.h"
#include "spw_metrics.h"

const double spw_metrics_tick_le[SPW_METRICS_TICK_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
};

/* The new-flow decisions: the reasons a new flow can get (spillway_new_flows_total). */
static const enum spw_reason decisions[] = {
    SPW_REASON_ADMITTED,     SPW_REASON_SHED_LEVEL, SPW_REASON_SHED_CAP,  SPW_REASON_SHED_RATE,
    SPW_REASON_SHED_RESERVE, SPW_REASON_WOULD_SHED, SPW_REASON_FAIL_OPEN, SPW_REASON_EXEMPT,
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

size_t spw_metrics_snapshot_size(const struct spw_metrics_snapshot *s)
{
	int n = s->nservices < 0 ? 0 : s->nservices;

	if (n > SPW_MAX_SERVICES - 1)
		n = SPW_MAX_SERVICES - 1;
	return offsetof(struct spw_metrics_snapshot, svcs) +
	       (size_t)n * sizeof(struct spw_metrics_service);
}

void spw_metrics_tick_observe(struct spw_metrics_snapshot *s, double seconds)
{
	unsigned int b;

	for (b = 0; b < SPW_METRICS_TICK_BUCKETS; b++) {
		if (seconds <= spw_metrics_tick_le[b]) {
			s->tick_buckets[b]++;
			break;
		}
	}
	s->tick_count++;
	s->tick_sum_s += seconds;
}

/* A label value: backslash, double quote and newline escaped, as the text format requires. */
static void esc(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* A sample value: the format spells the non-finite ones NaN, +Inf and -Inf. */
static void num(FILE *f, double v)
{
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else
		fprintf(f, " %.15g\n", v);
}

static void unum(FILE *f, uint64_t v)
{
	fprintf(f, " %llu\n", (unsigned long long)v);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *tier_name(const struct spw_metrics_snapshot *s, uint32_t slot)
{
	if (slot < (uint32_t)s->ntiers && slot < SPW_MAX_TIERS && s->tiers[slot][0])
		return s->tiers[slot];
	return "none";
}

/* name{service="S",tier="T" (the caller closes the braces). */
static void open_st(FILE *f, const char *name, const char *svc, const char *tier)
{
	fprintf(f, "%s{service=\"", name);
	esc(f, svc);
	fputs("\",tier=\"", f);
	esc(f, tier);
	fputc('"', f);
}

static void open_s(FILE *f, const char *name, const char *svc)
{
	fprintf(f, "%s{service=\"", name);
	esc(f, svc);
	fputc('"', f);
}

static bool row_nonzero(const struct spw_metrics_tier *t)
{
	unsigned int r;

	for (r = 0; r < SPW_REASON_COUNT; r++)
		if (t->counters[r].packets || t->counters[r].bytes)
			return true;
	return false;
}

static uint32_t ntiers_of(const struct spw_metrics_snapshot *s)
{
	return s->ntiers < 0 ? 0 : s->ntiers > SPW_MAX_TIERS ? SPW_MAX_TIERS : (uint32_t)s->ntiers;
}

/* Calls fn on every counter row that is shown: see the top of the file. */
typedef void (*row_fn)(FILE *f, const char *svc, const char *tier, const struct spw_metrics_tier *t,
		       const void *arg);

static void each_row(FILE *f, const struct spw_metrics_snapshot *s, row_fn fn, const void *arg)
{
	uint32_t nt = ntiers_of(s), slot;
	int i;

	for (i = 0; i < s->nservices; i++) {
		const struct spw_metrics_service *v = &s->svcs[i];

		for (slot = 0; slot < SPW_TIER_SLOTS; slot++)
			if (slot < nt || (slot == SPW_TIER_NONE && row_nonzero(&v->tiers[slot])))
				fn(f, v->name, tier_name(s, slot), &v->tiers[slot], arg);
	}
	for (slot = 0; slot < SPW_TIER_SLOTS; slot++)
		if (row_nonzero(&s->none[slot]))
			fn(f, "none", tier_name(s, slot), &s->none[slot], arg);
}

static void row_counts(FILE *f, const char *svc, const char *tier, const struct spw_metrics_tier *t,
		       const void *arg)
{
	bool bytes = *(const bool *)arg;
	unsigned int r;

	for (r = 0; r < SPW_REASON_COUNT; r++) {
		open_st(f, bytes ? "spillway_bytes_total" : "spillway_packets_total", svc, tier);
		fprintf(f, ",reason=\"%s\"}", spw_reason_name(r));
		unum(f, bytes ? t->counters[r].bytes : t->counters[r].packets);
	}
}

static void row_decisions(FILE *f, const char *svc, const char *tier,
			  const struct spw_metrics_tier *t, const void *arg)
{
	unsigned int i;

	(void)arg;
	for (i = 0; i < ARRAY_SIZE(decisions); i++) {
		open_st(f, "spillway_new_flows_total", svc, tier);
		fprintf(f, ",decision=\"%s\"}", spw_reason_name(decisions[i]));
		unum(f, t->counters[decisions[i]].packets);
	}
}

static void fmt_counters(FILE *f, const struct spw_metrics_snapshot *s)
{
	bool bytes = false;

	head(f, "spillway_packets_total", "counter",
	     "Packets seen by the data plane, by service, tier and reason (the verdict's why).");
	each_row(f, s, row_counts, &bytes);
	bytes = true;
	head(f, "spillway_bytes_total", "counter",
	     "Bytes seen by the data plane as received, by service, tier and reason.");
	each_row(f, s, row_counts, &bytes);
	head(f, "spillway_new_flows_total", "counter",
	     "New flows (TCP SYN, first UDP packet) by the decision taken on them.");
	each_row(f, s, row_decisions, NULL);
}

/* le of latency bucket b in seconds: the upper bound of bucket b, in us. */
static double lat_le_s(uint32_t b)
{
	return (double)spw_latency_bucket_lower(b + 1) / 1e6;
}

static void fmt_latency(FILE *f, const struct spw_metrics_snapshot *s)
{
	uint32_t nt = ntiers_of(s), t, b;
	int i;

	head(f, "spillway_response_latency_seconds", "histogram",
	     "Time from a request's first byte to the response's first byte, by service and tier. "
	     "Buckets are powers of two of microseconds (the data plane's finer sub-buckets "
	     "summed); _sum is estimated from sub-bucket midpoints (the last, open bucket at its "
	     "lower bound).");
	for (i = 0; i < s->nservices; i++) {
		const struct spw_metrics_service *v = &s->svcs[i];

		for (t = 0; t < nt; t++) {
			const struct spw_latency_hist *h = &v->tiers[t].lat;
			uint64_t cum = 0, total = 0;
			double sum_us = 0;

			for (b = 0; b < SPW_LAT_BUCKETS; b++) {
				double lo = (double)spw_latency_bucket_lower(b);
				double mid =
				    b + 1 < SPW_LAT_BUCKETS
					? (lo + (double)spw_latency_bucket_lower(b + 1)) / 2
					: lo;

				total += h->buckets[b];
				sum_us += (double)h->buckets[b] * mid;
			}
			/* The last bucket is open-ended: it is only in +Inf. Only bounds at a
			 * power of two are written: 32 series per histogram, not 240. */
			for (b = 0; b + 1 < SPW_LAT_BUCKETS; b++) {
				cum += h->buckets[b];
				if (!spw_latency_bucket_starts_octave(b + 1))
					continue;
				open_st(f, "spillway_response_latency_seconds_bucket", v->name,
					tier_name(s, t));
				fprintf(f, ",le=\"%.15g\"}", lat_le_s(b));
				unum(f, cum);
			}
			open_st(f, "spillway_response_latency_seconds_bucket", v->name,
				tier_name(s, t));
			fputs(",le=\"+Inf\"}", f);
			unum(f, total);
			open_st(f, "spillway_response_latency_seconds_sum", v->name,
				tier_name(s, t));
			fputc('}', f);
			num(f, sum_us / 1e6);
			open_st(f, "spillway_response_latency_seconds_count", v->name,
				tier_name(s, t));
			fputc('}', f);
			unum(f, total);
		}
	}
}

/* A gauge of one uint64_t field of every configured (service, tier) row, at off in the row. */
static void tier_count_gauge(FILE *f, const struct spw_metrics_snapshot *s, const char *name,
			     const char *help, size_t off)
{
	uint32_t nt = ntiers_of(s), t;
	int i;

	head(f, name, "gauge", help);
	for (i = 0; i < s->nservices; i++)
		for (t = 0; t < nt; t++) {
			const char *row = (const char *)&s->svcs[i].tiers[t];
			uint64_t v;

			memcpy(&v, row + off, sizeof(v));
			open_st(f, name, s->svcs[i].name, tier_name(s, t));
			fputc('}', f);
			unum(f, v);
		}
}

static void fmt_tiers(FILE *f, const struct spw_metrics_snapshot *s)
{
	uint32_t nt = ntiers_of(s), t;
	int i;

	tier_count_gauge(f, s, "spillway_active_connections",
			 "Flows the data plane tracks as open, by service and tier.",
			 offsetof(struct spw_metrics_tier, active));
	tier_count_gauge(f, s, "spillway_requests_in_flight",
			 "Requests whose first byte the data plane saw and whose response has not "
			 "begun, by service and tier.",
			 offsetof(struct spw_metrics_tier, inflight));
	tier_count_gauge(
	    f, s, "spillway_tier_skewed",
	    "1 when the tier's new flows sit in few cohorts (few client hosts) and the "
	    "control law cuts it by its per-rank counts; 0 when spread evenly.",
	    offsetof(struct spw_metrics_tier, skewed));
	head(
	    f, "spillway_tier_shed_ratio", "gauge",
	    "Fraction of the tier's cohorts the admit level sheds (0: all admitted, 1: all shed).");
	for (i = 0; i < s->nservices; i++)
		for (t = 0; t < nt; t++) {
			open_st(f, "spillway_tier_shed_ratio", s->svcs[i].name, tier_name(s, t));
			fputc('}', f);
			num(f,
			    (double)spw_tier_shed_cohorts(s->svcs[i].level, s->svcs[i].floor, t) /
				SPW_COHORTS);
		}
	/* Tier names are configurable: alerts find "the critical tier" by index, not by name. */
	head(f, "spillway_tier_info", "gauge",
	     "Index of each configured tier (0 is the critical tier, shed last); always 1.");
	for (i = 0; i < s->nservices; i++)
		for (t = 0; t < nt; t++) {
			open_st(f, "spillway_tier_info", s->svcs[i].name, tier_name(s, t));
			fprintf(f, ",index=\"%u\"}", t);
			unum(f, 1);
		}
}

/* One gauge per service from a field of it. */
#define SVC_GAUGE(f, s, family, help, expr)                                                        \
	do {                                                                                       \
		int i_;                                                                            \
		head(f, family, "gauge", help);                                                    \
		for (i_ = 0; i_ < (s)->nservices; i_++) {                                          \
			const struct spw_metrics_service *v = &(s)->svcs[i_];                      \
			open_s(f, family, v->name);                                                \
			fputc('}', f);                                                             \
			num(f, (double)(expr));                                                    \
		}                                                                                  \
	} while (0)

static void fmt_services(FILE *f, const struct spw_metrics_snapshot *s)
{
	int i;

	SVC_GAUGE(
	    f, s, "spillway_admit_level",
	    "Admit level enforced: a new flow is admitted iff tier * 32 + cohort is below it.",
	    v->level);
	SVC_GAUGE(f, s, "spillway_admit_level_max",
		  "Admit level of full admission (tiers * 32): the ceiling.", v->ceiling);
	SVC_GAUGE(f, s, "spillway_admit_level_min",
		  "Lowest admit level the controller may set (32 when tier 0 is protected).",
		  v->floor);
	SVC_GAUGE(f, s, "spillway_admit_partial_ratio",
		  "Share of the hosts of the rank at the admit level that are admitted too.",
		  (double)v->partial / SPW_PARTIAL_ONE);
	SVC_GAUGE(f, s, "spillway_capacity_new_flows_per_second",
		  "New flows per second the control law estimates the service carries at its "
		  "targets; NaN until learned.",
		  v->capacity);
	SVC_GAUGE(f, s, "spillway_connection_limit",
		  "Connections the service holds (connection_limit); the reservation keeps the "
		  "reserves of the tiers above free under it. 0: no reservation.",
		  (double)v->conn_limit);
	SVC_GAUGE(f, s, "spillway_service_connections",
		  "Active connections of the service, all tiers: what the reservation checks.",
		  (double)v->conns);
	SVC_GAUGE(f, s, "spillway_oldest_request_age_seconds",
		  "Age of the service's oldest request awaiting its response (to 8.2 ms, never "
		  "low); 0 when none is outstanding.",
		  v->oldest_request_ms / 1e3);
	SVC_GAUGE(f, s, "spillway_dry_run", "1 when decisions are counted but nothing is shed.",
		  v->dry_run ? 1 : 0);
	SVC_GAUGE(f, s, "spillway_override_active",
		  "1 while a manual override (spillway policy set) sets the level.",
		  v->overridden ? 1 : 0);
	SVC_GAUGE(f, s, "spillway_pressure",
		  "Largest value/target over the service's fresh signals; NaN when none is fresh.",
		  v->pressure);
	SVC_GAUGE(f, s, "spillway_lease_remaining_seconds",
		  "Time until the policy's lease expires and the data plane fails open.",
		  v->lease_expires_ns ? ((double)v->lease_expires_ns - (double)s->now_ns) / 1e9
				      : NAN);
	head(f, "spillway_retry_after_seconds", "gauge",
	     "Retry-After range handed to refused clients (bound min and max); 0 when nothing is "
	     "shed.");
	for (i = 0; i < s->nservices; i++) {
		open_s(f, "spillway_retry_after_seconds", s->svcs[i].name);
		fputs(",bound=\"min\"}", f);
		unum(f, s->svcs[i].retry_lo_s);
		open_s(f, "spillway_retry_after_seconds", s->svcs[i].name);
		fputs(",bound=\"max\"}", f);
		unum(f, s->svcs[i].retry_hi_s);
	}
}

enum sig_field { SIG_VALUE, SIG_TARGET, SIG_PRESSURE, SIG_STALE };

static void fmt_signal_family(FILE *f, const struct spw_metrics_snapshot *s, const char *name,
			      const char *help, enum sig_field which)
{
	int i, j;

	head(f, name, "gauge", help);
	for (i = 0; i < s->nservices; i++) {
		const struct spw_metrics_service *v = &s->svcs[i];

		for (j = 0; j < v->nsignals && j < SPW_MAX_SIGNALS; j++) {
			const struct spw_metrics_signal *g = &v->signals[j];
			double x;

			open_s(f, name, v->name);
			fputs(",signal=\"", f);
			esc(f, g->kind);
			fputs("\",source=\"", f);
			esc(f, g->source);
			fputs("\"}", f);
			switch (which) {
			case SIG_VALUE:
				x = g->value;
				break;
			case SIG_TARGET:
				x = g->target;
				break;
			case SIG_PRESSURE:
				x = g->target > 0 ? g->value / g->target : NAN;
				break;
			default:
				x = g->stale ? 1 : 0;
				break;
			}
			num(f, x);
		}
	}
}

static void fmt_signals(FILE *f, const struct spw_metrics_snapshot *s)
{
	fmt_signal_family(f, s, "spillway_signal_value",
			  "Last measured value of a signal, in its target's unit (fraction, ms, "
			  "count or per second); NaN when never measured.",
			  SIG_VALUE);
	fmt_signal_family(f, s, "spillway_signal_target", "Configured target of a signal.",
			  SIG_TARGET);
	fmt_signal_family(f, s, "spillway_signal_pressure",
			  "Signal value / target (1: at target); NaN when never measured.",
			  SIG_PRESSURE);
	fmt_signal_family(f, s, "spillway_signal_stale",
			  "1 when the signal is stale or not a measurement, and so ignored.",
			  SIG_STALE);
}

/* One family over the reports of a kind that carry a field (need: SPW_REPORT_HAS_*, 0: always). */
static void fmt_report_family(FILE *f, const struct spw_metrics_snapshot *s, const char *name,
			      const char *help, uint8_t kind, uint32_t need, size_t off,
			      double scale)
{
	const char *label = kind == SPW_REPORT_POOL ? "pool" : "queue";
	int i;

	head(f, name, "gauge", help);
	for (i = 0; i < s->nreports && i < SPW_MAX_REPORTS; i++) {
		const struct spw_metrics_report *m = &s->reports[i];
		uint64_t v;

		if (m->kind != kind || (need && !(m->r.present & need)))
			continue;
		memcpy(&v, (const char *)&m->r + off, sizeof(v));
		fprintf(f, "%s{%s=\"", name, label);
		esc(f, m->name);
		fputs("\"}", f);
		if (scale == 1)
			unum(f, v);
		else
			num(f, (double)v * scale);
	}
}

static void fmt_reports(FILE *f, const struct spw_metrics_snapshot *s)
{
	fmt_report_family(f, s, "spillway_pool_in_use", "Pool slots in use, as last reported.",
			  SPW_REPORT_POOL, 0, offsetof(struct spw_report, in_use), 1);
	fmt_report_family(f, s, "spillway_pool_capacity", "Pool capacity, as last reported.",
			  SPW_REPORT_POOL, 0, offsetof(struct spw_report, capacity), 1);
	fmt_report_family(f, s, "spillway_pool_waiting",
			  "Callers waiting for a pool slot, as last reported.", SPW_REPORT_POOL,
			  SPW_REPORT_HAS_WAITING, offsetof(struct spw_report, waiting), 1);
	fmt_report_family(f, s, "spillway_pool_wait_seconds",
			  "Wait for a pool slot (the app's p99 or max), as last reported.",
			  SPW_REPORT_POOL, SPW_REPORT_HAS_WAIT_MS,
			  offsetof(struct spw_report, wait_ms), 1e-3);
	fmt_report_family(f, s, "spillway_queue_depth", "Queue depth, as last reported.",
			  SPW_REPORT_QUEUE, 0, offsetof(struct spw_report, depth), 1);
	fmt_report_family(f, s, "spillway_queue_limit", "Queue limit, as last reported.",
			  SPW_REPORT_QUEUE, SPW_REPORT_HAS_LIMIT,
			  offsetof(struct spw_report, limit), 1);
	fmt_report_family(f, s, "spillway_queue_age_seconds",
			  "Age of the queue's oldest item, as last reported.", SPW_REPORT_QUEUE,
			  SPW_REPORT_HAS_AGE_MS, offsetof(struct spw_report, age_ms), 1e-3);
}

/* Only interfaces where the count exists: a missing count is not a zero. */
static void fmt_tx_failed(FILE *f, const struct spw_metrics_snapshot *s)
{
	int i;
	bool any = false;

	for (i = 0; i < s->nifaces && i < (int)(sizeof(s->ifaces) / sizeof(s->ifaces[0])); i++) {
		if (!s->ifaces[i].tx_counted)
			continue;
		if (!any)
			head(f, "spillway_xdp_tx_failed_total", "counter",
			     "XDP_TX frames (rejects) the interface failed to send, after the "
			     "program counted them sent.");
		any = true;
		fputs("spillway_xdp_tx_failed_total{interface=\"", f);
		esc(f, s->ifaces[i].name);
		fputs("\"}", f);
		unum(f, s->ifaces[i].tx_failed);
	}
}

static void fmt_throttle_family(FILE *f, const struct spw_metrics_snapshot *s, const char *name,
				const char *help, size_t off)
{
	uint32_t t, nt = ntiers_of(s);
	int i;

	if (!s->ndownstreams)
		return;
	head(f, name, "counter", help);
	for (i = 0; i < s->ndownstreams; i++) {
		const uint64_t *v = (const uint64_t *)((const char *)&s->downstreams[i] + off);

		for (t = 0; t < nt; t++) {
			fprintf(f, "%s{downstream=\"", name);
			esc(f, s->downstreams[i].name);
			fputs("\",tier=\"", f);
			esc(f, tier_name(s, t));
			fputs("\"}", f);
			unum(f, v[t]);
		}
	}
}

#define THROTTLE_OFF(field)                                                                        \
	offsetof(__typeof__(((struct spw_metrics_snapshot *)0)->downstreams[0]), field)

static void fmt_throttle(FILE *f, const struct spw_metrics_snapshot *s)
{
	fmt_throttle_family(f, s, "spillway_throttle_requests_total",
			    "New connections this host opened to a throttled downstream, the "
			    "throttled ones included.",
			    THROTTLE_OFF(requests));
	fmt_throttle_family(f, s, "spillway_throttle_accepts_total",
			    "SYN-ACKs a throttled downstream answered with.",
			    THROTTLE_OFF(accepts));
	fmt_throttle_family(f, s, "spillway_throttle_throttled_total",
			    "New connections to a downstream refused on this host (ECONNREFUSED); "
			    "they never left it.",
			    THROTTLE_OFF(throttled));
	fmt_throttle_family(
	    f, s, "spillway_downstream_marked_total",
	    "Packets of connections this host opened to a downstream that TC egress "
	    "gave their tier's DSCP (mark_egress).",
	    THROTTLE_OFF(marked));
}

static void fmt_controller(FILE *f, const struct spw_metrics_snapshot *s)
{
	uint64_t cum = 0;
	unsigned int b;

	head(f, "spillway_flow_table_entries", "gauge",
	     "Flows in the flow table, as the sum of the active counts (no table walk).");
	fputs("spillway_flow_table_entries", f);
	unum(f, s->flow_entries);
	if (s->flow_capacity) {
		head(f, "spillway_flow_table_capacity", "gauge", "Flow table capacity in entries.");
		fputs("spillway_flow_table_capacity", f);
		unum(f, s->flow_capacity);
	}
	fmt_tx_failed(f, s);
	head(f, "spillway_reports_total", "counter", "App report lines, by outcome.");
	fputs("spillway_reports_total{outcome=\"accepted\"}", f);
	unum(f, s->reports_ok);
	fputs("spillway_reports_total{outcome=\"rejected\"}", f);
	unum(f, s->reports_bad);
	head(f, "spillway_controller_ticks_total", "counter", "Control ticks run.");
	fputs("spillway_controller_ticks_total", f);
	unum(f, s->ticks);
	head(f, "spillway_controller_tick_duration_seconds", "histogram",
	     "Time one control tick takes (signals, law, policy writes, metric collection).");
	for (b = 0; b < SPW_METRICS_TICK_BUCKETS; b++) {
		cum += s->tick_buckets[b];
		fprintf(f, "spillway_controller_tick_duration_seconds_bucket{le=\"%.15g\"}",
			spw_metrics_tick_le[b]);
		unum(f, cum);
	}
	fputs("spillway_controller_tick_duration_seconds_bucket{le=\"+Inf\"}", f);
	unum(f, s->tick_count);
	fputs("spillway_controller_tick_duration_seconds_sum", f);
	num(f, s->tick_sum_s);
	fputs("spillway_controller_tick_duration_seconds_count", f);
	unum(f, s->tick_count);
	if (s->last_tick_unix_s > 0) {
		head(f, "spillway_controller_last_tick_timestamp_seconds", "gauge",
		     "Unix time of the last control tick.");
		fputs("spillway_controller_last_tick_timestamp_seconds", f);
		num(f, s->last_tick_unix_s);
	}
	head(f, "spillway_build_info", "gauge", "Always 1; the version is in the label.");
	fputs("spillway_build_info{version=\"", f);
	esc(f, s->version);
	fputs("\"} 1\n", f);
}

int spw_metrics_format(const struct spw_metrics_snapshot *s, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;
	fmt_counters(f, s);
	fmt_tiers(f, s);
	fmt_latency(f, s);
	fmt_services(f, s);
	fmt_signals(f, s);
	fmt_reports(f, s);
	fmt_throttle(f, s);
	fmt_controller(f, s);
	if (ferror(f)) {
		fclose(f);
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return fclose(f) ? -ENOMEM : 0;
}
