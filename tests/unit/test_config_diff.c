// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_config_diff(): what a reload from one config to another changes, line by line: nothing
 * for the same file, each kind of change named once, services matched by name whatever their
 * order, and 100k changed rules summed up (sorted once, not compared pairwise; the time is
 * printed, not asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "spw_config.h"

struct lines {
	char text[64][512];
	int n, total;
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;

	if (l->n < 64)
		snprintf(l->text[l->n++], sizeof(l->text[0]), "%s", line);
	l->total++;
}

static bool has(const struct lines *l, const char *line)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->text[i], line))
			return true;
	return false;
}

static struct spw_config *parse(const char *text)
{
	char err[SPW_ERR_MAX] = "";
	struct spw_config *c = NULL;

	if (spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("should parse: %s\n---\n%s", err, text);
	return c;
}

static int diff(const char *a, const char *b, struct lines *l)
{
	struct spw_config *x = parse(a), *y = parse(b);
	int n;

	memset(l, 0, sizeof(*l));
	n = spw_config_diff(x, y, collect, l);
	spw_config_free(x);
	spw_config_free(y);
	return n;
}

static const char base[] = "interfaces: [{name: eth0, mode: xdp}]\n"
			   "classify:\n"
			   "  - {cidr: 10.0.0.0/8, tier: critical}\n"
			   "  - {cidr: 192.168.0.0/16, tier: sheddable}\n"
			   "services:\n"
			   "  - name: api\n"
			   "    port: 8080\n"
			   "    shed_action: {sheddable: reject}\n"
			   "    signals:\n"
			   "      - {pool: db, target: 0.85}\n"
			   "  - name: jobs\n"
			   "    port: 9000\n"
			   "controller: {tick: 100ms}\n";

static void print(const struct lines *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		printf("  %s\n", l->text[i]);
}

static void test_same(void **state)
{
	static const char reordered[] = "interfaces: [{name: eth0, mode: xdp}]\n"
					"classify:\n"
					"  - {cidr: 192.168.0.0/16, tier: sheddable}\n"
					"  - {cidr: 10.0.0.0/8, tier: critical}\n"
					"services:\n"
					"  - name: jobs\n"
					"    port: 9000\n"
					"  - name: api\n"
					"    port: 8080\n"
					"    shed_action: {sheddable: reject}\n"
					"    signals:\n"
					"      - {pool: db, target: 0.85}\n"
					"controller: {tick: 100ms}\n";
	struct lines *l = malloc(sizeof(*l));

	(void)state;
	assert_non_null(l);
	assert_int_equal(diff(base, base, l), 0);
	/* Order is not a change: services by name, rules by prefix. */
	assert_int_equal(diff(base, reordered, l), 0);
	free(l);
}

static void test_each_change(void **state)
{
	static const char changed[] = "interfaces: [{name: eth0, mode: tc}, {name: eth1}]\n"
				      "classify:\n"
				      "  - {cidr: 10.0.0.0/8, tier: standard}\n"
				      "  - {cidr: 172.16.0.0/12, tier: sheddable}\n"
				      "services:\n"
				      "  - name: api\n"
				      "    port: 8081\n"
				      "    shed_action: {sheddable: drop}\n"
				      "    max_connections: {standard: 100}\n"
				      "    signals:\n"
				      "      - {pool: db, target: 0.9}\n"
				      "      - {queue: mail, target: 0.5}\n"
				      "  - name: web\n"
				      "    port: 80\n"
				      "controller: {tick: 200ms}\n"
				      "flows: {service_share: 0.25, ipv6_cohort_prefix: 48}\n"
				      "reject: {icmp_rate: 10/s, icmp_burst: 5}\n"
				      "metrics: {listen: '127.0.0.1:9100'}\n";
	static const char *const want[] = {
	    "service api: tcp/8080 -> tcp/8081",
	    "service api: shed_action sheddable: reject -> drop",
	    "service api: max_connections standard: 0 -> 100",
	    "service api: signal pool db target 0.85 -> 0.9",
	    "service api: signal queue mail added (target 0.5)",
	    "service web: added (tcp/80)",
	    "service jobs: removed",
	    "rule 10.0.0.0/8: tier critical -> standard",
	    "rule 172.16.0.0/12: added (sheddable)",
	    "rule 192.168.0.0/16: removed (sheddable)",
	    "interface eth0: mode xdp -> tc",
	    "interface eth1: added (xdp)",
	    "controller.tick: 100ms -> 200ms",
	    "flows.service_share: 0.5 -> 0.25",
	    "flows.ipv6_cohort_prefix: /64 -> /48",
	    "reject.icmp_rate: 1000/s -> 10/s",
	    "reject.icmp_burst: 50 -> 5",
	    "metrics.listen: 127.0.0.1:9478 -> 127.0.0.1:9100 (a reload keeps the running value: "
	    "needs a restart)",
	};
	struct lines *l = malloc(sizeof(*l));
	size_t i;
	int n;

	(void)state;
	assert_non_null(l);
	n = diff(base, changed, l);
	print(l);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!has(l, want[i]))
			fail_msg("missing: %s", want[i]);
	assert_int_equal(n, (int)(sizeof(want) / sizeof(want[0])));
	free(l);
}

static void test_xdp_dispatcher(void **state)
{
	static const char libxdp[] = "interfaces: [{name: eth0, mode: xdp}]\n"
				     "xdp_dispatcher: libxdp\n";
	static const char libxdp40[] = "interfaces: [{name: eth0, mode: xdp}]\n"
				       "xdp_dispatcher: libxdp\nxdp_priority: 40\n";
	static const char link[] = "interfaces: [{name: eth0, mode: xdp}]\n";
	struct lines *l = malloc(sizeof(*l));

	(void)state;
	assert_non_null(l);
	/* A reload applies both: it attaches through the dispatcher the file names. */
	assert_int_equal(diff(link, libxdp, l), 1);
	assert_string_equal(l->text[0], "xdp_dispatcher: link -> libxdp");
	assert_int_equal(diff(libxdp, libxdp40, l), 1);
	assert_string_equal(l->text[0], "xdp_priority: 50 -> 40");
	assert_int_equal(diff(libxdp40, link, l), 2);
	assert_true(has(l, "xdp_dispatcher: libxdp -> link"));
	assert_true(has(l, "xdp_priority: 40 -> 50"));
	assert_int_equal(diff(libxdp40, libxdp40, l), 0);
	free(l);
}

static void test_tiers_and_dscp(void **state)
{
	static const char a[] = "tiers: [critical, standard, sheddable]\n"
				"dscp: {trusted_sources: [10.0.0.0/8], map: {46: critical}}\n"
				"services: [{name: api, port: 8080}]\n";
	static const char b[] =
	    "tiers: [critical, standard, bulk, sheddable]\n"
	    "dscp: {trusted_sources: [10.1.0.0/16], map: {46: standard, 0: bulk}}\n"
	    "services: [{name: api, port: 8080}]\n";
	struct lines *l = malloc(sizeof(*l));

	(void)state;
	assert_non_null(l);
	diff(a, b, l);
	print(l);
	assert_true(has(l, "tiers: [critical, standard, sheddable] -> [critical, standard, bulk, "
			   "sheddable]"));
	assert_true(has(l, "dscp 46: critical -> standard"));
	assert_true(has(l, "dscp 0: none -> bulk"));
	assert_true(has(l, "dscp trusted source 10.1.0.0/16: added"));
	assert_true(has(l, "dscp trusted source 10.0.0.0/8: removed"));
	free(l);
}

static void test_exempt(void **state)
{
	static const char a[] = "exempt: [10.0.0.10, \"fd00::/64\"]\n"
				"services: [{name: api, port: 8080}]\n";
	static const char b[] = "exempt: [\"fd00::/64\", 192.0.2.0/24]\n"
				"exempt_host_addresses: false\n"
				"services: [{name: api, port: 8080}]\n";
	struct lines *l = malloc(sizeof(*l));

	(void)state;
	assert_non_null(l);
	assert_int_equal(diff(a, b, l), 3);
	print(l);
	assert_true(has(l, "exempt source 192.0.2.0/24: added"));
	assert_true(has(l, "exempt source 10.0.0.10/32: removed"));
	assert_true(has(l, "exempt_host_addresses: true -> false"));
	free(l);
}

/* 100k rules, every one retiered: summed up after 50 lines, in well under a second. */
static void test_many_rules(void **state)
{
	const int nrules = 100000;
	size_t cap = (size_t)nrules * 48 + 256;
	char *a = malloc(cap), *b = malloc(cap);
	struct lines *l = malloc(sizeof(*l));
	struct timespec t0, t1;
	size_t la, lb;
	int i, n;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(l);
	la = (size_t)snprintf(a, cap, "classify:\n");
	lb = (size_t)snprintf(b, cap, "classify:\n");
	/* The two files list the rules in opposite orders. */
	for (i = 0; i < nrules; i++) {
		int j = nrules - 1 - i;

		la += (size_t)snprintf(a + la, cap - la,
				       "  - {cidr: %d.%d.%d.0/24, tier: critical}\n",
				       10 + i / 65536, i / 256 % 256, i % 256);
		lb += (size_t)snprintf(b + lb, cap - lb,
				       "  - {cidr: %d.%d.%d.0/24, tier: standard}\n",
				       10 + j / 65536, j / 256 % 256, j % 256);
	}
	snprintf(a + la, cap - la, "services: [{name: api, port: 8080}]\n");
	snprintf(b + lb, cap - lb, "services: [{name: api, port: 8080}]\n");
	{
		struct spw_config *x = parse(a), *y = parse(b);

		memset(l, 0, sizeof(*l));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		n = spw_config_diff(x, y, collect, l);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		spw_config_free(x);
		spw_config_free(y);
	}
	printf("  %d rules retiered: %d lines in %.3f s (sanitizers on)\n", nrules, n,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_int_equal(n, 51);
	assert_true(has(l, "rules: 0 added, 0 removed, 100000 with another tier (99950 not "
			   "listed)"));
	free(a);
	free(b);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same),	   cmocka_unit_test(test_each_change),
	    cmocka_unit_test(test_xdp_dispatcher), cmocka_unit_test(test_tiers_and_dscp),
	    cmocka_unit_test(test_exempt),	   cmocka_unit_test(test_many_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
