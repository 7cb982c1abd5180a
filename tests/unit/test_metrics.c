// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter's formatter (user/lib/export/spw_metrics.c) from a hand-built snapshot, without BPF:
 * exact lines of a few families, label escaping, NaN, cumulative histogram buckets with +Inf,
 * and that output stays bounded (zero rows of unconfigured traffic are left out).
 * `promtool check metrics` on a real scrape is in tests/netns/test_metrics_scrape.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spillway_latency.h"
#include "spw_metrics.h"
#include "spw_totals_json.h"

static struct spw_metrics_snapshot *snap_new(void)
{
	struct spw_metrics_snapshot *s = calloc(1, sizeof(*s));
	struct spw_metrics_service *v;

	assert_non_null(s);
	snprintf(s->version, sizeof(s->version), "9.9.9");
	s->ntiers = 2;
	snprintf(s->tiers[0], sizeof(s->tiers[0]), "critical");
	snprintf(s->tiers[1], sizeof(s->tiers[1]), "bulk");
	s->nservices = 2;
	v = &s->svcs[0];
	snprintf(v->name, sizeof(v->name), "web");
	v->id = 1;
	v->level = 48; /* half of tier 1's 32 cohorts shed */
	v->partial = 64;
	v->capacity = 1234.5;
	v->conn_limit = 20;
	v->conns = 7;
	v->floor = 32;
	v->ceiling = 64;
	v->pressure = NAN;
	v->retry_lo_s = 2;
	v->retry_hi_s = 5;
	v->lease_expires_ns = 3500000000ULL;
	v->tiers[0].counters[SPW_REASON_ADMITTED] = (struct spw_count){5, 300};
	v->tiers[1].counters[SPW_REASON_SHED_LEVEL] = (struct spw_count){7, 420};
	v->tiers[1].active = 3;
	v->tiers[1].inflight = 2;
	v->tiers[1].skewed = 1;
	v->oldest_request_ms = 250;
	v->nsignals = 2;
	snprintf(v->signals[0].kind, sizeof(v->signals[0].kind), "pool");
	snprintf(v->signals[0].source, sizeof(v->signals[0].source), "db");
	v->signals[0].value = 0.5;
	v->signals[0].target = 0.8;
	snprintf(v->signals[1].kind, sizeof(v->signals[1].kind), "latency_p99");
	v->signals[1].value = NAN;
	v->signals[1].target = 200;
	v->signals[1].stale = true;
	/* A name with every character the text format must escape. */
	v = &s->svcs[1];
	snprintf(v->name, sizeof(v->name), "a\"b\\c\nd");
	v->id = 2;
	v->level = 64;
	v->floor = 32;
	v->ceiling = 64;
	v->pressure = 0.25;
	s->now_ns = 1000000000ULL;
	return s;
}

static char *format(const struct spw_metrics_snapshot *s)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(spw_metrics_format(s, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

/* line is present as a whole line. */
static void has_line(const char *out, const char *line)
{
	size_t n = strlen(line);
	const char *p = out;

	while ((p = strstr(p, line))) {
		if ((p == out || p[-1] == '\n') && p[n] == '\n')
			return;
		p++;
	}
	fail_msg("missing line: %s", line);
}

static void lacks(const char *out, const char *text)
{
	if (strstr(out, text))
		fail_msg("unexpected: %s", text);
}

static void test_counters(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out;

	(void)state;
	s->none[SPW_TIER_NONE].counters[SPW_REASON_NOT_SERVICE] = (struct spw_count){11, 999};
	out = format(s);
	has_line(out, "# HELP spillway_packets_total Packets seen by the data plane, by service, "
		      "tier and reason (the verdict's why).");
	has_line(out, "# TYPE spillway_packets_total counter");
	has_line(out,
		 "spillway_packets_total{service=\"web\",tier=\"critical\",reason=\"admitted\"} 5");
	has_line(out,
		 "spillway_bytes_total{service=\"web\",tier=\"critical\",reason=\"admitted\"} 300");
	/* Configured rows show zeros too: rate() has a series from the first scrape. */
	has_line(out,
		 "spillway_packets_total{service=\"web\",tier=\"bulk\",reason=\"fail_open\"} 0");
	has_line(
	    out,
	    "spillway_new_flows_total{service=\"web\",tier=\"bulk\",decision=\"shed_level\"} 7");
	has_line(out,
		 "spillway_new_flows_total{service=\"web\",tier=\"bulk\",decision=\"admitted\"} 0");
	/* A SYN the reservation refused is a new flow's decision like the others. */
	has_line(out, "spillway_new_flows_total{service=\"web\",tier=\"bulk\","
		      "decision=\"shed_reserve\"} 0");
	/* Unconfigured traffic: only its non-zero row, as service and tier "none". */
	has_line(
	    out,
	    "spillway_packets_total{service=\"none\",tier=\"none\",reason=\"not_service\"} 11");
	has_line(out,
		 "spillway_bytes_total{service=\"none\",tier=\"none\",reason=\"not_service\"} 999");
	lacks(out, "service=\"none\",tier=\"critical\"");
	/* The unclassified slot of a configured service only when it counted something. */
	lacks(out, "service=\"web\",tier=\"none\"");
	/* Established is not a new-flow decision. */
	lacks(out, "decision=\"established\"");
	has_line(out, "spillway_active_connections{service=\"web\",tier=\"bulk\"} 3");
	has_line(out, "spillway_requests_in_flight{service=\"web\",tier=\"bulk\"} 2");
	has_line(out, "spillway_requests_in_flight{service=\"web\",tier=\"critical\"} 0");
	has_line(out, "spillway_tier_skewed{service=\"web\",tier=\"bulk\"} 1");
	has_line(out, "spillway_tier_skewed{service=\"web\",tier=\"critical\"} 0");
	has_line(out, "spillway_oldest_request_age_seconds{service=\"web\"} 0.25");
	free(out);
	free(s);
}

static void test_escaping_and_nan(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out;

	(void)state;
	out = format(s);
	has_line(out, "spillway_admit_level{service=\"a\\\"b\\\\c\\nd\"} 64");
	has_line(out, "spillway_pressure{service=\"a\\\"b\\\\c\\nd\"} 0.25");
	has_line(out, "spillway_pressure{service=\"web\"} NaN");
	has_line(out,
		 "spillway_signal_value{service=\"web\",signal=\"latency_p99\",source=\"\"} NaN");
	has_line(
	    out,
	    "spillway_signal_pressure{service=\"web\",signal=\"latency_p99\",source=\"\"} NaN");
	has_line(out,
		 "spillway_signal_stale{service=\"web\",signal=\"latency_p99\",source=\"\"} 1");
	has_line(out, "spillway_signal_value{service=\"web\",signal=\"pool\",source=\"db\"} 0.5");
	has_line(out, "spillway_signal_target{service=\"web\",signal=\"pool\",source=\"db\"} 0.8");
	has_line(out,
		 "spillway_signal_pressure{service=\"web\",signal=\"pool\",source=\"db\"} 0.625");
	has_line(out, "spillway_signal_stale{service=\"web\",signal=\"pool\",source=\"db\"} 0");
	/* No raw newline may end up inside a label value: every line starts a sample or a comment.
	 */
	lacks(out, "\nd\"");
	free(out);
	free(s);
}

static void test_service_gauges(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out;

	(void)state;
	out = format(s);
	has_line(out, "spillway_admit_level{service=\"web\"} 48");
	has_line(out, "spillway_admit_level_max{service=\"web\"} 64");
	has_line(out, "spillway_admit_partial_ratio{service=\"web\"} 0.25");
	has_line(out, "spillway_capacity_new_flows_per_second{service=\"web\"} 1234.5");
	has_line(out, "spillway_connection_limit{service=\"web\"} 20");
	has_line(out, "spillway_service_connections{service=\"web\"} 7");
	has_line(out, "spillway_tier_shed_ratio{service=\"web\",tier=\"critical\"} 0");
	has_line(out, "spillway_tier_shed_ratio{service=\"web\",tier=\"bulk\"} 0.5");
	has_line(out, "spillway_dry_run{service=\"web\"} 0");
	has_line(out, "spillway_override_active{service=\"web\"} 0");
	has_line(out, "spillway_retry_after_seconds{service=\"web\",bound=\"min\"} 2");
	has_line(out, "spillway_retry_after_seconds{service=\"web\",bound=\"max\"} 5");
	has_line(out, "spillway_lease_remaining_seconds{service=\"web\"} 2.5");
	has_line(out, "spillway_build_info{version=\"9.9.9\"} 1");
	has_line(out, "spillway_reports_total{outcome=\"accepted\"} 0");
	has_line(out, "spillway_reports_total{outcome=\"rejected\"} 0");
	free(out);
	free(s);
}

static void test_latency_histogram(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	struct spw_latency_hist *h = &s->svcs[0].tiers[1].lat;
	char *out;

	(void)state;
	/* [0, 1) us: 1; [12, 13) us: 2; the open last bucket (>= 15 x 2^28 us): 1. */
	h->buckets[0] = 1;
	h->buckets[spw_latency_bucket(12)] = 2;
	h->buckets[SPW_LAT_BUCKETS - 1] = 1;
	h->count = 4;
	out = format(s);
	has_line(out, "# TYPE spillway_response_latency_seconds histogram");
	has_line(out, "spillway_response_latency_seconds_bucket{service=\"web\",tier=\"bulk\","
		      "le=\"1e-06\"} 1");
	has_line(out, "spillway_response_latency_seconds_bucket{service=\"web\",tier=\"bulk\","
		      "le=\"8e-06\"} 1");
	/* Only powers of two are bounds: the sub-buckets of [8, 16) are summed into le 16 us. */
	lacks(out, "le=\"1.3e-05\"");
	has_line(out, "spillway_response_latency_seconds_bucket{service=\"web\",tier=\"bulk\","
		      "le=\"1.6e-05\"} 3");
	has_line(out, "spillway_response_latency_seconds_bucket{service=\"web\",tier=\"bulk\","
		      "le=\"2147.483648\"} 3");
	/* The open bucket (from 2^31 us up) has no le of its own: it shows only in +Inf. */
	lacks(out, "le=\"4294.967296\"");
	has_line(out, "spillway_response_latency_seconds_bucket{service=\"web\",tier=\"bulk\","
		      "le=\"+Inf\"} 4");
	has_line(out, "spillway_response_latency_seconds_count{service=\"web\",tier=\"bulk\"} 4");
	/* Midpoints 0.5 us and 12.5 us, the open bucket at its lower bound 15 x 2^28 us. */
	has_line(out, "spillway_response_latency_seconds_sum{service=\"web\",tier=\"bulk\"} "
		      "4026.5318655");
	has_line(out,
		 "spillway_response_latency_seconds_count{service=\"web\",tier=\"critical\"} 0");
	has_line(out, "spillway_response_latency_seconds_bucket{service=\"web\",tier=\"critical\","
		      "le=\"+Inf\"} 0");
	free(out);
	free(s);
}

static void test_tick_histogram(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out;

	(void)state;
	spw_metrics_tick_observe(s, 0.00005); /* le 0.0001 */
	spw_metrics_tick_observe(s, 0.0003);  /* le 0.0005 */
	spw_metrics_tick_observe(s, 0.5);     /* above every bound: +Inf only */
	s->ticks = 3;
	out = format(s);
	has_line(out, "spillway_controller_tick_duration_seconds_bucket{le=\"0.0001\"} 1");
	has_line(out, "spillway_controller_tick_duration_seconds_bucket{le=\"0.00025\"} 1");
	has_line(out, "spillway_controller_tick_duration_seconds_bucket{le=\"0.0005\"} 2");
	has_line(out, "spillway_controller_tick_duration_seconds_bucket{le=\"0.1\"} 2");
	has_line(out, "spillway_controller_tick_duration_seconds_bucket{le=\"+Inf\"} 3");
	has_line(out, "spillway_controller_tick_duration_seconds_count 3");
	has_line(out, "spillway_controller_tick_duration_seconds_sum 0.50035");
	has_line(out, "spillway_controller_ticks_total 3");
	free(out);
	free(s);
}

static void test_reports(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out;

	(void)state;
	s->nreports = 2;
	s->reports[0].kind = SPW_REPORT_POOL;
	snprintf(s->reports[0].name, sizeof(s->reports[0].name), "db");
	s->reports[0].r = (struct spw_report){
	    .in_use = 7, .capacity = 10, .wait_ms = 250, .present = SPW_REPORT_HAS_WAIT_MS};
	s->reports[1].kind = SPW_REPORT_QUEUE;
	snprintf(s->reports[1].name, sizeof(s->reports[1].name), "jobs");
	s->reports[1].r =
	    (struct spw_report){.depth = 40,
				.limit = 100,
				.age_ms = 1500,
				.present = SPW_REPORT_HAS_LIMIT | SPW_REPORT_HAS_AGE_MS};
	out = format(s);
	has_line(out, "spillway_pool_in_use{pool=\"db\"} 7");
	has_line(out, "spillway_pool_capacity{pool=\"db\"} 10");
	has_line(out, "spillway_pool_wait_seconds{pool=\"db\"} 0.25");
	/* Not reported, not shown: an absent field is not a zero. */
	lacks(out, "spillway_pool_waiting{");
	has_line(out, "spillway_queue_depth{queue=\"jobs\"} 40");
	has_line(out, "spillway_queue_limit{queue=\"jobs\"} 100");
	has_line(out, "spillway_queue_age_seconds{queue=\"jobs\"} 1.5");
	free(out);
	free(s);
}

/* XDP_TX failures per interface, only where they are counted: a missing count is no zero. */
static void test_xdp_tx_failed(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out;

	(void)state;
	s->nifaces = 3;
	snprintf(s->ifaces[0].name, sizeof(s->ifaces[0].name), "eth0");
	s->ifaces[0].tx_counted = true;
	s->ifaces[0].tx_failed = 42;
	snprintf(s->ifaces[1].name, sizeof(s->ifaces[1].name), "veth1");
	s->ifaces[1].tx_counted = true;
	snprintf(s->ifaces[2].name, sizeof(s->ifaces[2].name), "tc0");
	out = format(s);
	has_line(out, "# TYPE spillway_xdp_tx_failed_total counter");
	has_line(out, "spillway_xdp_tx_failed_total{interface=\"eth0\"} 42");
	has_line(out, "spillway_xdp_tx_failed_total{interface=\"veth1\"} 0");
	lacks(out, "interface=\"tc0\"");
	free(out);
	s->nifaces = 1;
	s->ifaces[0].tx_counted = false;
	out = format(s);
	lacks(out, "spillway_xdp_tx_failed_total");
	free(out);
	free(s);
}

/* Every family has HELP and TYPE before its first sample, and appears in one block. */
static void test_help_and_type(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();
	char *out, *line, *save = NULL, typed[128] = "", seen[8192] = " ";

	(void)state;
	s->flow_capacity = 1024;
	s->last_tick_unix_s = 1700000000.5;
	out = format(s);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char fam[128], key[132];
		size_t n;

		if (!strncmp(line, "# TYPE ", 7)) {
			n = strcspn(line + 7, " ");
			snprintf(typed, sizeof(typed), "%.*s", (int)n, line + 7);
			snprintf(key, sizeof(key), " %s ", typed);
			if (strstr(seen, key))
				fail_msg("family %s typed twice", typed);
			strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
			continue;
		}
		if (line[0] == '#')
			continue;
		n = strcspn(line, "{ ");
		snprintf(fam, sizeof(fam), "%.*s", (int)n, line);
		if (strncmp(fam, typed, strlen(typed)) || !typed[0])
			fail_msg("sample %s outside its family's block (%s)", line, typed);
	}
	free(out);
	free(s);
}

/* A tier's totals as status --json and /v1/state give them: shed is every refusing reason. */
static void test_totals_json(void **state)
{
	uint64_t packets[SPW_REASON_COUNT] = {0};
	json_t *tier = json_object(), *by;

	(void)state;
	packets[SPW_REASON_ADMITTED] = 7;
	packets[SPW_REASON_SHED_LEVEL] = 3;
	packets[SPW_REASON_SHED_CAP] = 2;
	packets[SPW_REASON_SHED_RATE] = 1;
	packets[SPW_REASON_WOULD_SHED] = 5; /* passes: not shed */
	packets[SPW_REASON_FAIL_OPEN] = 4;
	spw_totals_json(tier, packets);
	assert_int_equal(json_integer_value(json_object_get(tier, "admitted_total")), 7);
	assert_int_equal(json_integer_value(json_object_get(tier, "shed_total")), 6);
	assert_int_equal(json_integer_value(json_object_get(tier, "would_shed_total")), 5);
	assert_int_equal(json_integer_value(json_object_get(tier, "fail_open_total")), 4);
	by = json_object_get(tier, "decisions_total");
	assert_int_equal(json_object_size(by), SPW_REASON_COUNT);
	assert_int_equal(json_integer_value(json_object_get(by, "shed_cap")), 2);
	json_decref(tier);
}

static void test_snapshot_size(void **state)
{
	struct spw_metrics_snapshot *s = snap_new();

	(void)state;
	assert_int_equal(spw_metrics_snapshot_size(s), offsetof(struct spw_metrics_snapshot, svcs) +
							   2 * sizeof(struct spw_metrics_service));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counters),	   cmocka_unit_test(test_escaping_and_nan),
	    cmocka_unit_test(test_service_gauges), cmocka_unit_test(test_latency_histogram),
	    cmocka_unit_test(test_tick_histogram), cmocka_unit_test(test_reports),
	    cmocka_unit_test(test_help_and_type),  cmocka_unit_test(test_snapshot_size),
	    cmocka_unit_test(test_totals_json),	   cmocka_unit_test(test_xdp_tx_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
