// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_config: every bad file under tests/unit/config/ fails with exactly the message its first
 * line expects ("# expect: LINE:COLUMN: message"), the shipped example parses to the values
 * written in it, a minimal file gets every default, and small cases run from strings.
 *
 * The data is found from this file's own path (__FILE__), relative to the working folder
 * (tests/run-tests.sh runs from the repository root) or, failing that, to the test binary's
 * folder and its parents, so the test also runs from elsewhere.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "spw_config.h"
#include "spillway_rank.h"
#include "spw_strnum.h"
#include "util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* At least this many bad files: every kind of error has one. */
#define MIN_BAD_FILES 30
#define EXPECT_PREFIX "# expect: "

static char data_dir[PATH_MAX]; /* tests/unit/config */
static char root_dir[PATH_MAX]; /* the repository */

static bool is_dir(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* snprintf that says whether all of it fit (and keeps -Wformat-truncation out of the way). */
__attribute__((format(printf, 3, 4))) static bool fmt(char *out, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, len, f, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* Is base/unit/config the data folder? Sets data_dir and root_dir when it is. */
static bool try_base(const char *base, const char *unit)
{
	if (!fmt(data_dir, sizeof(data_dir), "%s%s%s/config", base, *base ? "/" : "", unit) ||
	    !is_dir(data_dir))
		return false;
	return fmt(root_dir, sizeof(root_dir), "%s%s%s/../..", base, *base ? "/" : "", unit);
}

/* Finds the data folder and the repository root; called once before the tests. */
static int find_dirs(void **state)
{
	const char *slash = strrchr(__FILE__, '/');
	char unit[PATH_MAX], base[PATH_MAX];
	ssize_t n;
	int up;

	(void)state;
	/* __FILE__ is tests/unit/test_config.c as the Makefile compiles it. */
	if (!fmt(unit, sizeof(unit), "%.*s", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : "."))
		return -1;
	if (try_base("", unit))
		return 0;
	if (unit[0] == '/')
		goto not_found;
	/* Not run from the root: walk up from the binary (build/tests/unit/test_config). */
	n = readlink("/proc/self/exe", base, sizeof(base) - 1);
	if (n <= 0)
		goto not_found;
	base[n] = '\0';
	for (up = 0; up < 8; up++) {
		char *s = strrchr(base, '/');

		if (!s)
			break;
		*s = '\0';
		if (try_base(base, unit))
			return 0;
	}
not_found:
	fprintf(stderr, "test data folder %s/config not found\n", unit);
	return -1;
}

static int yaml_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 5 && !strcmp(d->d_name + len - 5, ".yaml");
}

/* The first line of path, without its newline. */
static void first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_non_null(fgets(buf, (int)len, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void test_bad_files(void **state)
{
	struct dirent **names;
	int i, n, failed = 0;

	(void)state;
	n = scandir(data_dir, &names, yaml_file, alphasort);
	assert_true(n >= 0);
	print_message("  %d bad files in %s\n", n, data_dir);
	for (i = 0; i < n; i++) {
		char path[2 * PATH_MAX], line[SPW_ERR_MAX], want[3 * PATH_MAX], err[SPW_ERR_MAX];
		struct spw_config *c = (struct spw_config *)&c;
		int ret;

		snprintf(path, sizeof(path), "%s/%s", data_dir, names[i]->d_name);
		free(names[i]);
		first_line(path, line, sizeof(line));
		/* A file without its expectation is a broken test, not a pass. */
		if (strncmp(line, EXPECT_PREFIX, strlen(EXPECT_PREFIX))) {
			print_error("%s: first line is not '" EXPECT_PREFIX "LINE:COLUMN: ...'\n",
				    path);
			failed++;
			continue;
		}
		snprintf(want, sizeof(want), "%s:%s", path, line + strlen(EXPECT_PREFIX));
		memset(err, 'x', sizeof(err));
		ret = spw_config_load(path, &c, err, sizeof(err));
		if (ret != -EINVAL || c || strcmp(err, want)) {
			print_error("%s\n  want -EINVAL: %s\n  got  %d: %s\n", path, want, ret,
				    ret ? err : "(parsed)");
			failed++;
		}
		spw_config_free(c);
	}
	free(names);
	assert_int_equal(failed, 0);
	assert_true(n >= MIN_BAD_FILES);
}

/* 1-based line of the first line of text that contains needle. */
static uint32_t line_of(const char *text, const char *needle)
{
	const char *p = strstr(text, needle), *q;
	uint32_t line = 1;

	assert_non_null(p);
	for (q = text; q < p; q++)
		line += *q == '\n';
	return line;
}

static char *slurp(const char *path)
{
	long len = 0;
	char *buf = spw_read_file(path, &len);

	assert_non_null(buf);
	assert_true(len > 0);
	return buf;
}

static void assert_cidr(const struct spw_cidr *c, const char *text)
{
	char buf[SPW_CIDR_STRLEN];

	spw_cidr_format(c, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void assert_addr(const uint8_t addr[SPW_ADDR_LEN], const char *text)
{
	char buf[SPW_CIDR_STRLEN];

	spw_addr_format(addr, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void assert_learned(const struct spw_signal *s, enum spw_signal_kind kind)
{
	assert_int_equal(s->kind, kind);
	assert_string_equal(s->source, "");
	assert_true(s->learn);
	assert_true(isnan(s->target));	   /* no target until the daemon has learned one */
	assert_true(isnan(s->load_value)); /* all of the value: a 0 would read as no load */
}

/* What `auto` gives a TCP service. */
static void assert_auto_tcp(const struct spw_config_service *s)
{
	assert_int_equal(s->nsignals, 4);
	assert_int_equal(s->signals[0].kind, SPW_SIG_ACCEPT_QUEUE);
	assert_false(s->signals[0].learn);
	assert_true(s->signals[0].target == 0.5);
	assert_true(isnan(s->signals[0].load_value));
	assert_learned(&s->signals[1], SPW_SIG_LATENCY_P99);
	assert_learned(&s->signals[2], SPW_SIG_OLDEST_REQUEST_AGE);
	assert_learned(&s->signals[3], SPW_SIG_IN_FLIGHT);
}

static void assert_signal(const struct spw_signal *s, enum spw_signal_kind kind, const char *source,
			  double target)
{
	assert_false(s->learn);
	assert_int_equal(s->kind, kind);
	assert_string_equal(s->source, source);
	/* Targets are exact decimals or ns / 1e6: compare tightly, not with ==. */
	assert_true(s->target > target - 1e-9 && s->target < target + 1e-9);
	assert_int_equal(s->updated_ns, 0);
	assert_true(isnan(s->load_value)); /* not given until a pool's report splits it */
	assert_false(s->stale);
}

static void test_example(void **state)
{
	char path[2 * PATH_MAX], err[SPW_ERR_MAX];
	const struct spw_config_service *s;
	const struct spw_config_controller *k;
	struct spw_config *c;
	char *text;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/tools/spillway.example.yaml", root_dir);
	err[0] = '\0';
	if (spw_config_load(path, &c, err, sizeof(err)))
		fail_msg("the example config does not parse: %s", err);
	text = slurp(path);
	assert_string_equal(err, "");
	assert_string_equal(c->path, path);

	assert_int_equal(c->nifaces, 2);
	assert_string_equal(c->ifaces[0].name, "eth0");
	assert_int_equal(c->ifaces[0].mode, SPW_ATTACH_XDP);
	assert_string_equal(c->ifaces[1].name, "eth1");
	assert_int_equal(c->ifaces[1].mode, SPW_ATTACH_TC);
	assert_int_equal(c->xdp_dispatcher, SPW_XDP_VIA_LINK);

	assert_int_equal(c->ntiers, 3);
	assert_string_equal(c->tiers[0], "critical");
	assert_string_equal(c->tiers[1], "standard");
	assert_string_equal(c->tiers[2], "sheddable");

	assert_int_equal(c->nrules, 4);
	assert_cidr(&c->rules[0].cidr, "10.1.0.0/16");
	assert_int_equal(c->rules[0].tier, 0);
	assert_int_equal(c->rules[0].line, line_of(text, "{cidr: 10.1.0.0/16"));
	assert_cidr(&c->rules[1].cidr, "10.1.7.0/24");
	assert_int_equal(c->rules[1].tier, 0);
	assert_cidr(&c->rules[2].cidr, "192.168.0.0/16");
	assert_int_equal(c->rules[2].tier, 2);
	assert_cidr(&c->rules[3].cidr, "2001:db8::/32");
	assert_false(c->rules[3].cidr.is_v4);
	assert_int_equal(c->rules[3].tier, 1);
	assert_int_equal(c->rules[3].line, line_of(text, "{cidr: \"2001:db8::/32\""));

	assert_int_equal(c->ntrusted, 2);
	assert_cidr(&c->trusted[0], "10.0.0.0/8");
	assert_cidr(&c->trusted[1], "fd00::/8");
	for (i = 0; i < SPW_DSCP_VALUES; i++) {
		uint8_t want = i == 46 ? 0 : i == 26 ? 1 : i == 0 ? 2 : SPW_DSCP_UNMAPPED;

		assert_int_equal(c->dscp_tier[i], want);
	}

	assert_int_equal(c->nexempt, 2);
	assert_cidr(&c->exempt[0], "10.0.0.10/32");
	assert_true(c->exempt[0].is_v4);
	assert_cidr(&c->exempt[1], "fd00:1::/64");
	assert_false(c->exempt[1].is_v4);
	assert_true(c->exempt_host_addresses);

	assert_int_equal(c->nservices, 2);
	s = &c->services[0];
	assert_string_equal(s->name, "api");
	assert_int_equal(s->id, 1);
	assert_int_equal(s->match.proto, IPPROTO_TCP);
	assert_int_equal(s->match.port, 8080);
	assert_true(s->match.has_addr);
	assert_addr(s->match.addr, "10.0.0.5");
	assert_int_equal(s->default_tier, 1);
	assert_int_equal(s->action[0], SPW_ACTION_DROP);
	assert_int_equal(s->action[1], SPW_ACTION_REJECT);
	assert_int_equal(s->action[2], SPW_ACTION_DROP);
	assert_true(s->protect_tier0);
	assert_false(s->dry_run);
	assert_int_equal(s->max_conns[0], 0);
	assert_int_equal(s->max_conns[1], 0);
	assert_int_equal(s->max_conns[2], 200);
	assert_int_equal(s->rate_per_sec[0], 0);
	assert_int_equal(s->rate_per_sec[1], 2000);
	assert_int_equal(s->rate_per_sec[2], 500);
	assert_int_equal(s->burst[1], 0);
	assert_int_equal(s->burst[2], 1000);
	assert_int_equal(s->mark_egress[0], SPW_MARK_SET | 46);
	assert_int_equal(s->mark_egress[1], SPW_MARK_SET | 26);
	assert_int_equal(s->mark_egress[2], 0); /* not given: not marked */
	assert_int_equal(s->nsignals, 8);
	assert_signal(&s->signals[0], SPW_SIG_POOL, "db", 0.85);
	assert_signal(&s->signals[1], SPW_SIG_POOL_WAIT, "db", 50.0);
	assert_signal(&s->signals[2], SPW_SIG_QUEUE, "jobs", 0.8);
	assert_signal(&s->signals[3], SPW_SIG_QUEUE_AGE, "jobs", 2000.0);
	assert_signal(&s->signals[4], SPW_SIG_ACCEPT_QUEUE, "", 0.5);
	assert_signal(&s->signals[5], SPW_SIG_LATENCY_P99, "", 200.0);
	assert_learned(&s->signals[6], SPW_SIG_OLDEST_REQUEST_AGE);
	assert_signal(&s->signals[7], SPW_SIG_CONNECTIONS, "", 1000.0);

	s = &c->services[1];
	assert_string_equal(s->name, "dns");
	assert_int_equal(s->id, 2);
	assert_int_equal(s->match.proto, IPPROTO_UDP);
	assert_int_equal(s->match.port, 53);
	assert_false(s->match.has_addr);
	assert_int_equal(s->default_tier, 2);
	assert_true(s->protect_tier0);
	assert_int_equal(s->nsignals, 1);
	assert_signal(&s->signals[0], SPW_SIG_LATENCY_P99, "", 20.0);

	k = &c->controller;
	assert_int_equal(k->tick_ns, 100 * SPW_NSEC_PER_MSEC);
	assert_int_equal(k->lease_ns, 3 * SPW_NSEC_PER_SEC);
	assert_true(k->hysteresis == 0.1);
	assert_int_equal(k->cohort_rotation_ns, 10 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->stale_after_ns, 2 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->sweep_every_ns, 5 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->syn_timeout_ns, 30 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->idle_timeout_ns, 10 * SPW_NSEC_PER_MIN);
	assert_int_equal(k->udp_timeout_ns, 60 * SPW_NSEC_PER_SEC);
	assert_int_equal(c->flow_capacity, 262144);
	assert_int_equal(c->flood_insert_rate, 20000);
	assert_int_equal(c->ipv6_cohort_prefix, 64);
	assert_int_equal(c->icmp_rate, 1000);
	assert_int_equal(c->icmp_burst, 50);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9478");
	assert_string_equal(c->report_socket, "/run/spillway/report.sock");
	assert_string_equal(c->report_group, "spillway");
	assert_string_equal(c->state_dir, "/run/spillway");

	assert_int_equal(spw_config_tier(c, "critical"), 0);
	assert_int_equal(spw_config_tier(c, "sheddable"), 2);
	assert_int_equal(spw_config_tier(c, "gold"), -1);
	assert_int_equal(spw_config_tier(c, ""), -1);
	free(text);
	spw_config_free(c);
}

static struct spw_config *parse_ok(const char *text)
{
	char err[SPW_ERR_MAX] = "";
	struct spw_config *c = NULL;

	if (spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("should parse: %s\n---\n%s", err, text);
	assert_non_null(c);
	return c;
}

static void assert_defaults(const struct spw_config *c)
{
	const struct spw_config_controller *k = &c->controller;
	int i;

	assert_int_equal(c->nifaces, 0);
	assert_int_equal(c->ntiers, 3);
	assert_string_equal(c->tiers[0], "critical");
	assert_string_equal(c->tiers[1], "standard");
	assert_string_equal(c->tiers[2], "sheddable");
	assert_int_equal(c->nrules, 0);
	assert_null(c->rules);
	assert_int_equal(c->ntrusted, 0);
	assert_null(c->trusted);
	for (i = 0; i < SPW_DSCP_VALUES; i++)
		assert_int_equal(c->dscp_tier[i], SPW_DSCP_UNMAPPED);
	assert_int_equal(c->nexempt, 0);
	assert_null(c->exempt);
	assert_true(c->exempt_host_addresses);
	assert_int_equal(k->tick_ns, 100 * SPW_NSEC_PER_MSEC);
	assert_int_equal(k->lease_ns, 3 * SPW_NSEC_PER_SEC);
	assert_true(k->hysteresis == 0.1);
	assert_int_equal(k->cohort_rotation_ns, 10 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->stale_after_ns, 2 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->sweep_every_ns, 5 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->syn_timeout_ns, 30 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->idle_timeout_ns, 600 * SPW_NSEC_PER_SEC);
	assert_int_equal(k->udp_timeout_ns, 60 * SPW_NSEC_PER_SEC);
	assert_int_equal(c->flow_capacity, SPW_FLOWS_DEFAULT);
	assert_int_equal(c->flood_insert_rate, 20000);
	assert_true(c->flow_service_share == 0.5);
	assert_int_equal(c->ipv6_cohort_prefix, SPW_V6_COHORT_PREFIX_DEFAULT);
	assert_int_equal(c->icmp_rate, 1000); /* the kernel's icmp_msgs_per_sec */
	assert_int_equal(c->icmp_burst, 50);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9478");
	assert_string_equal(c->report_socket, "/run/spillway/report.sock");
	assert_string_equal(c->report_group, "");
	assert_string_equal(c->state_dir, "/run/spillway");
	assert_int_equal(c->xdp_dispatcher, SPW_XDP_VIA_LINK);
	assert_int_equal(c->xdp_priority, 50);
}

static void test_defaults(void **state)
{
	const struct spw_config_service *s;
	struct spw_config *c;
	int t;

	(void)state;
	c = parse_ok("services: [{name: web, port: 80}]\n");
	assert_string_equal(c->path, "t.yaml");
	assert_defaults(c);
	assert_int_equal(c->nservices, 1);
	s = &c->services[0];
	assert_string_equal(s->name, "web");
	assert_int_equal(s->id, 1);
	assert_int_equal(s->match.proto, IPPROTO_TCP);
	assert_int_equal(s->match.port, 80);
	assert_false(s->match.has_addr);
	assert_int_equal(s->default_tier, 2); /* the last tier */
	assert_true(s->protect_tier0);
	assert_false(s->dry_run);
	for (t = 0; t < SPW_MAX_TIERS; t++) {
		assert_int_equal(s->action[t], SPW_ACTION_DROP);
		assert_int_equal(s->max_conns[t], 0);
		assert_int_equal(s->rate_per_sec[t], 0);
		assert_int_equal(s->burst[t], 0);
		assert_int_equal(s->mark_egress[t], 0);
	}
	/* No signals key: the ones spillway measures itself, targets that need no number. */
	assert_auto_tcp(s);
	spw_config_free(c);

	/* Sections left empty (all entries commented out) are their defaults. */
	c = parse_ok("interfaces:\ntiers:\nclassify:\ndscp:\nexempt:\nservices:\ncontroller:\n"
		     "flows:\nmetrics:\nreport:\n");
	assert_defaults(c);
	assert_int_equal(c->nservices, 0);
	spw_config_free(c);

	c = parse_ok("{}");
	assert_defaults(c);
	spw_config_free(c);
}

/* Smaller good cases, each checking what it is about. */
static void test_good_strings(void **state)
{
	const struct spw_config_service *s;
	struct spw_config *c;

	(void)state;
	/* Custom tiers: the default tier is the last one, names are looked up as written. */
	c = parse_ok(
	    "tiers: [gold, silver]\nservices:\n  - {name: a, port: \"8080\", protocol: udp}\n");
	assert_int_equal(c->ntiers, 2);
	assert_string_equal(c->tiers[1], "silver");
	assert_string_equal(c->tiers[2], "");
	assert_int_equal(c->services[0].default_tier, 1);
	assert_int_equal(c->services[0].match.port, 8080);
	assert_int_equal(c->services[0].match.proto, IPPROTO_UDP);
	assert_int_equal(spw_config_tier(c, "critical"), -1);
	spw_config_free(c);

	/* The request signals of a UDP service: the tracker measures its datagrams too. */
	c = parse_ok("services:\n  - {name: d, port: 53, protocol: udp, signals: [{latency_p99: "
		     "20ms}, {in_flight: 50}, {oldest_request_age: 1s}]}\n");
	assert_int_equal(c->services[0].match.proto, IPPROTO_UDP);
	assert_int_equal(c->services[0].nsignals, 3);
	assert_signal(&c->services[0].signals[0], SPW_SIG_LATENCY_P99, "", 20.0);
	assert_signal(&c->services[0].signals[1], SPW_SIG_IN_FLIGHT, "", 50.0);
	assert_signal(&c->services[0].signals[2], SPW_SIG_OLDEST_REQUEST_AGE, "", 1000.0);
	spw_config_free(c);

	/* auto, written: the same as leaving signals out; UDP has no accept queue. */
	c = parse_ok("services:\n  - {name: a, port: 1, signals: [auto]}\n"
		     "  - {name: d, port: 53, protocol: udp, signals: [auto]}\n");
	assert_auto_tcp(&c->services[0]);
	assert_int_equal(c->services[1].nsignals, 3);
	assert_learned(&c->services[1].signals[0], SPW_SIG_LATENCY_P99);
	assert_learned(&c->services[1].signals[1], SPW_SIG_OLDEST_REQUEST_AGE);
	assert_learned(&c->services[1].signals[2], SPW_SIG_IN_FLIGHT);
	spw_config_free(c);

	/* auto beside signals of the list: a kind listed keeps its own target, in its place. */
	c = parse_ok("services:\n  - name: a\n    port: 1\n    signals:\n"
		     "      - {pool: db, target: 0.9}\n      - auto\n"
		     "      - {latency_p99: 80ms}\n");
	s = &c->services[0];
	assert_int_equal(s->nsignals, 5);
	assert_signal(&s->signals[0], SPW_SIG_POOL, "db", 0.9);
	assert_signal(&s->signals[1], SPW_SIG_LATENCY_P99, "", 80.0);
	assert_signal(&s->signals[2], SPW_SIG_ACCEPT_QUEUE, "", 0.5);
	assert_learned(&s->signals[3], SPW_SIG_OLDEST_REQUEST_AGE);
	assert_learned(&s->signals[4], SPW_SIG_IN_FLIGHT);
	spw_config_free(c);

	/* An empty list is no signal at all: caps and rates only, never shed on pressure. */
	c = parse_ok("services: [{name: a, port: 1, signals: []}]\n");
	assert_int_equal(c->services[0].nsignals, 0);
	spw_config_free(c);

	/* A single learned target, beside a typed one. */
	c = parse_ok("services: [{name: a, port: 1, signals: [{oldest_request_age: learn}, "
		     "{accept_queue: 0.25}]}]\n");
	s = &c->services[0];
	assert_int_equal(s->nsignals, 2);
	assert_learned(&s->signals[0], SPW_SIG_OLDEST_REQUEST_AGE);
	assert_signal(&s->signals[1], SPW_SIG_ACCEPT_QUEUE, "", 0.25);
	spw_config_free(c);

	/* Exempt sources of both families, nested ones, a bare address as a host prefix. */
	c = parse_ok("exempt:\n  - 10.0.0.0/8\n  - 10.1.2.3\n  - \"2001:db8::/32\"\n  - \"::1\"\n"
		     "exempt_host_addresses: false\n");
	assert_int_equal(c->nexempt, 4);
	assert_cidr(&c->exempt[0], "10.0.0.0/8");
	assert_int_equal(c->exempt[0].prefixlen, 96 + 8);
	assert_cidr(&c->exempt[1], "10.1.2.3/32");
	assert_true(c->exempt[1].is_v4);
	assert_cidr(&c->exempt[2], "2001:db8::/32");
	assert_false(c->exempt[2].is_v4);
	assert_int_equal(c->exempt[2].prefixlen, 32);
	assert_cidr(&c->exempt[3], "::1/128");
	assert_false(c->exempt_host_addresses);
	spw_config_free(c);
	c = parse_ok("exempt: []\nexempt_host_addresses: true\n");
	assert_int_equal(c->nexempt, 0);
	assert_null(c->exempt);
	assert_true(c->exempt_host_addresses);
	spw_config_free(c);

	/* Names are case sensitive, as metric labels are. */
	c = parse_ok("tiers: [Critical, critical]\n");
	assert_int_equal(spw_config_tier(c, "Critical"), 0);
	assert_int_equal(spw_config_tier(c, "critical"), 1);
	spw_config_free(c);

	/* Units of the targets: milliseconds for times, whatever the unit written. */
	c = parse_ok(
	    "services:\n  - name: a\n    port: 1\n    signals:\n"
	    "      - {pool_wait: db, target: 1.5s}\n      - {latency_p99: 250us}\n"
	    "      - {queue_age: q.main, target: 2m}\n      - {pool: 2nd-db, target: 1}\n");
	s = &c->services[0];
	assert_int_equal(s->nsignals, 4);
	assert_signal(&s->signals[0], SPW_SIG_POOL_WAIT, "db", 1500.0);
	assert_signal(&s->signals[1], SPW_SIG_LATENCY_P99, "", 0.25);
	assert_signal(&s->signals[2], SPW_SIG_QUEUE_AGE, "q.main", 120000.0);
	assert_signal(&s->signals[3], SPW_SIG_POOL, "2nd-db", 1.0);
	spw_config_free(c);

	/* The request signals: a count, and a duration in milliseconds. */
	c = parse_ok("services:\n  - name: a\n    port: 1\n    signals:\n"
		     "      - {in_flight: 64}\n      - {oldest_request_age: 0.25s}\n");
	s = &c->services[0];
	assert_int_equal(s->nsignals, 2);
	assert_signal(&s->signals[0], SPW_SIG_IN_FLIGHT, "", 64.0);
	assert_signal(&s->signals[1], SPW_SIG_OLDEST_REQUEST_AGE, "", 250.0);
	spw_config_free(c);

	/* Listen overflows: a rate, written as rates are elsewhere, stored per second. */
	c = parse_ok("services:\n  - name: a\n    port: 1\n    signals:\n"
		     "      - {listen_overflow: 5/s}\n      - {accept_queue: 0.5}\n");
	s = &c->services[0];
	assert_int_equal(s->nsignals, 2);
	assert_signal(&s->signals[0], SPW_SIG_LISTEN_OVERFLOW, "", 5.0);
	spw_config_free(c);
	c = parse_ok("services: [{name: a, port: 1, signals: [{listen_overflow: 30/m}]}]\n");
	assert_signal(&c->services[0].signals[0], SPW_SIG_LISTEN_OVERFLOW, "", 0.5);
	spw_config_free(c);

	/* Rates in other periods become whole flows per second; the guard can be turned off. */
	c = parse_ok(
	    "flows: {insert_rate: 'off', capacity: 1, service_share: 1}\nservices:\n"
	    "  - {name: a, port: 1, new_flow_rate: {critical: 1200/m, standard: 3600/h}}\n");
	assert_int_equal(c->flood_insert_rate, 0);
	assert_int_equal(c->flow_capacity, 1);
	assert_true(c->flow_service_share == 1.0);
	assert_int_equal(c->services[0].rate_per_sec[0], 20);
	assert_int_equal(c->services[0].rate_per_sec[1], 1);
	spw_config_free(c);

	/* Every IPv6 cohort prefix there is; the ICMP limit set, and turned off. */
	c = parse_ok("flows: {ipv6_cohort_prefix: 48}\nreject: {icmp_rate: 60/m, icmp_burst: 1}\n");
	assert_int_equal(c->ipv6_cohort_prefix, 48);
	assert_int_equal(c->icmp_rate, 1);
	assert_int_equal(c->icmp_burst, 1);
	spw_config_free(c);
	c = parse_ok("flows: {ipv6_cohort_prefix: 56}\nreject: {icmp_rate: 'off', icmp_burst: "
		     "65535}\n");
	assert_int_equal(c->ipv6_cohort_prefix, 56);
	assert_int_equal(c->icmp_rate, 0);
	assert_int_equal(c->icmp_burst, 65535);
	spw_config_free(c);
	c = parse_ok("flows: {ipv6_cohort_prefix: 64}\n");
	assert_int_equal(c->ipv6_cohort_prefix, 64);
	spw_config_free(c);

	/*
	 * IPv6 listen address, a quoted empty group (root's), the same port on two addresses
	 * and on no address, TCP and UDP on one port.
	 */
	c = parse_ok("metrics: {listen: '[::1]:9100'}\nreport: {group: \"\", socket: /tmp/s}\n"
		     "services:\n  - {name: a, port: 53}\n  - {name: b, port: 53, protocol: udp}\n"
		     "  - {name: c, port: 53, address: '2001:db8::1'}\n"
		     "  - {name: d, port: 53, address: 192.0.2.1}\n");
	assert_string_equal(c->metrics_listen, "[::1]:9100");
	assert_string_equal(c->report_group, "");
	assert_string_equal(c->report_socket, "/tmp/s");
	assert_int_equal(c->nservices, 4);
	assert_int_equal(c->services[3].id, 4);
	assert_true(c->services[2].match.has_addr);
	assert_addr(c->services[2].match.addr, "2001:db8::1");
	assert_addr(c->services[3].match.addr, "192.0.2.1");
	spw_config_free(c);

	/* The exporter turned off, either way. */
	c = parse_ok("metrics: {listen: off}\n");
	assert_string_equal(c->metrics_listen, "");
	spw_config_free(c);
	c = parse_ok("metrics: {listen: ''}\n");
	assert_string_equal(c->metrics_listen, "");
	spw_config_free(c);
	c = parse_ok("metrics: {listen: 0.0.0.0:80}\n");
	assert_string_equal(c->metrics_listen, "0.0.0.0:80");
	spw_config_free(c);
	/* Port 0: any free port, which the daemon prints and publishes. */
	c = parse_ok("metrics: {listen: '127.0.0.1:0'}\n");
	assert_string_equal(c->metrics_listen, "127.0.0.1:0");
	spw_config_free(c);

	/* Nested prefixes of one tier, IPv4 inside ::/0 of the same tier, a tier anchored. */
	c = parse_ok("classify:\n  - {cidr: '::/0', tier: &t standard}\n"
		     "  - {cidr: 10.0.0.0/8, tier: *t}\n  - {cidr: 10.1.0.0/16, tier: standard}\n");
	assert_int_equal(c->nrules, 3);
	assert_int_equal(c->rules[1].tier, 1);
	spw_config_free(c);

	/* Disjoint prefixes of different tiers, a rule written as a block mapping. */
	c = parse_ok("classify:\n  - {cidr: '2001:db8::/32', tier: &t standard}\n"
		     "  - {cidr: 10.0.0.0/8, tier: *t}\n  - {cidr: 10.1.0.0/16, tier: standard}\n"
		     "  - cidr: 172.16.0.0/12\n    tier: critical\n");
	assert_int_equal(c->nrules, 4);
	assert_int_equal(c->rules[1].tier, 1);
	assert_int_equal(c->rules[3].tier, 0);
	assert_int_equal(c->rules[3].line, 5);
	spw_config_free(c);

	/* Controller bounds: exactly 3 ticks of lease, exactly one tick of the rest. */
	c = parse_ok("controller: {tick: 1s, lease: 3s, cohort_rotation: 1s, stale_after: 1s,"
		     " sweep_every: 1s, hysteresis: 0, syn_timeout: 2s, idle_timeout: 30m}\n");
	assert_int_equal(c->controller.tick_ns, SPW_NSEC_PER_SEC);
	assert_true(c->controller.hysteresis == 0.0);
	assert_int_equal(c->controller.idle_timeout_ns, 30 * SPW_NSEC_PER_MIN);
	spw_config_free(c);

	/* Only len bytes are read: what follows in the buffer is not part of the file. */
	{
		const char *text = "state_dir: /a\nthis is not: [yaml";
		char err[SPW_ERR_MAX];

		assert_int_equal(spw_config_parse("t.yaml", text, 14, &c, err, sizeof(err)), 0);
		assert_string_equal(c->state_dir, "/a");
		spw_config_free(c);
	}
	spw_config_free(NULL);
}

struct bad_string {
	const char *text;
	const char *err; /* after "t.yaml:" */
};

/* Cases that read better inline than as files, including some the files do not cover. */
static const struct bad_string bad_strings[] = {
    {"downstreams: [{dest: 10.0.0.1}]", "1:15: a downstream needs a name"},
    {"downstreams: [{name: a}]", "1:15: downstream 'a' needs a dest (ADDR[:PORT] or CIDR)"},
    {"downstreams: [{name: a, dest: 10.0.0.1:0}]",
     "1:31: dest: '10.0.0.1:0': port must be a number 1..65535 (ADDR[:PORT] or CIDR, IPv6 as "
     "[ADDR]:PORT)"},
    {"downstreams: [{name: a, dest: 10.0.0.1/33}]",
     "1:31: dest: '10.0.0.1/33': prefix length 33 is longer than an IPv4 address (32) (ADDR[:PORT] "
     "or CIDR, "
     "IPv6 as [ADDR]:PORT)"},
    {"downstreams: [{name: a, dest: \"[::1\"}]",
     "1:31: dest: '[::1': '[' needs ']' and then ':PORT' or nothing (ADDR[:PORT] or CIDR, "
     "IPv6 as [ADDR]:PORT)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, k: 0.5}]",
     "1:44: k: 0.5 is out of range (1 .. 100: the downstream sees at most about K times what "
     "it accepts)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, window_s: 0}]",
     "1:51: window_s: 0 is out of range (1..3600)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, tier: gold}]",
     "1:47: tier: unknown tier 'gold' (tiers: critical, standard, sheddable)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, port: 1}]",
     "1:41: unknown key 'port' in a downstream (known keys: name, dest, k, window_s, tier, "
     "throttle, mark_egress, cgroups)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, mark_egress: {critical: 64}}]",
     "1:65: mark_egress: 64 is out of range (0..63)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, mark_egress: {gold: 1}}]",
     "1:55: mark_egress: unknown tier 'gold' (tiers: critical, standard, sheddable)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, cgroups: {a.service: critical}}]",
     "1:51: cgroups: 'a.service' must start with '/' (a path below the cgroup v2 root)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, cgroups: {/a/../b: critical}}]",
     "1:51: cgroups: '/a/../b' has an empty, '.' or '..' part"},
    {"downstreams: [{name: a, dest: 10.0.0.1, cgroups: {/a: gold}}]",
     "1:55: cgroups: unknown tier 'gold' (tiers: critical, standard, sheddable)"},
    {"downstreams: [{name: a, dest: 10.0.0.1, cgroups: [/a]}]",
     "1:50: 'cgroups' must be a mapping, not a list"},
    {"downstreams: [{name: a, dest: 10.0.0.1, throttle: maybe}]",
     "1:51: throttle: 'maybe' is not true or false"},
    {"downstreams:\n  - {name: a, dest: 10.0.0.1:80}\n  - {name: a, dest: 10.0.0.2}\n",
     "3:12: name: downstream 'a' is listed twice (first at line 2)"},
    {"downstreams:\n  - {name: a, dest: 10.0.0.1:80}\n  - {name: b, dest: 10.0.0.1:81}\n",
     "3:21: dest: the same address or prefix as downstream 'a' at line 2 (one downstream per "
     "prefix)"},
    {"", "1:1: the file is empty: no settings"},
    {"~\n", "1:1: the file is empty: no settings"},
    {"services: [{name: a, port: 1}]\n...\n---\n[1]\n",
     "3:1: a second YAML document: the file must hold exactly one"},
    {"[1, 2]", "1:1: the top level must be a mapping of settings, not a list"},
    {"tiers: critical", "1:8: 'tiers' must be a list, not a single value"},
    {"? [a]\n: 1\n", "1:3: a key must be a single value, not a list"},
    {"?\n: 1\n", "1:2: empty key"},
    {": 1\n", "1:1: YAML syntax: did not find expected key (while parsing a block mapping at "
	      "line 1, column 1)"},
    {"state_dir: [a]", "1:12: 'state_dir' must be a single value, not a list"},
    {"tiers: [a, b]\nservices: [{name: s, port: 1, default_tier: c}]\n",
     "2:45: default_tier: unknown tier 'c' (tiers: a, b)"},
    {"classify:\n  - {cidr: '::/0', tier: standard}\n  - {cidr: 10.0.0.0/8, tier: critical}\n",
     "3:12: cidr: 10.0.0.0/8 (tier critical) lies inside ::/0 (tier standard) at line 2: "
     "overlapping prefixes must name the same tier"},
    {"classify:\n  - {cidr: 10.0.0.0/8, tier: critical}\n  - {cidr: 10.0.0.0, tier: standard}\n",
     "3:12: cidr: 10.0.0.0/32 (tier standard) lies inside 10.0.0.0/8 (tier critical) at line 2: "
     "overlapping prefixes must name the same tier"},
    {"classify: [{cidr: 10.0.0.0/8, tier: critical, note: x}]\n",
     "1:47: unknown key 'note' in a classify rule (known keys: cidr, tier)"},
    {"classify: [{tier: critical}]\n", "1:12: a classify rule needs a cidr"},
    {"dscp: {trusted_sources: [10.0.0.0/8], map: {ef: critical}}\n",
     "1:45: map: DSCP 'ef' is not a whole number"},
    {"dscp: {trusted_sources: 10.0.0.0/8}\n",
     "1:25: 'trusted_sources' must be a list, not a single value"},
    {"exempt: 10.0.0.0/8\n", "1:9: 'exempt' must be a list, not a single value"},
    {"exempt: {a: 10.0.0.0/8}\n", "1:9: 'exempt' must be a list, not a mapping"},
    {"exempt: [10.0.0.256]\n", "1:10: exempt: '10.0.0.256' is not an IPv4 address"},
    {"exempt: [10.1.2.3/16]\n",
     "1:10: exempt: 10.1.2.3/16 has host bits set (did you mean 10.1.0.0/16?)"},
    {"exempt: [10.0.0.0/33]\n",
     "1:10: exempt: prefix length 33 is longer than an IPv4 address (32)"},
    {"exempt: [\"2001:db8::/129\"]\n",
     "1:10: exempt: prefix length 129 is longer than an IPv6 address (128)"},
    {"exempt: [\"fe80::1%eth0\"]\n", "1:10: exempt: 'fe80::1%eth0' is not an IPv6 address"},
    {"exempt: ['']\n", "1:10: exempt: empty address"},
    {"exempt: [[10.0.0.1]]\n", "1:10: 'exempt' must be a single value, not a list"},
    {"exempt:\n  - 10.0.0.1\n  - \"2001:db8::1\"\n  - 10.0.0.1/32\n",
     "4:5: exempt: 10.0.0.1/32 is already listed at line 2"},
    {"exempt:\n  - \"2001:db8::/32\"\n  - \"2001:0db8:0::/32\"\n",
     "3:5: exempt: 2001:db8::/32 is already listed at line 2"},
    {"exempt_host_addresses: yes\n", "1:24: exempt_host_addresses: 'yes' is not true or false"},
    {"exempt_host_addresses: [true]\n",
     "1:24: 'exempt_host_addresses' must be a single value, not a list"},
    {"services: [{name: a, port: -1}]\n", "1:28: port: -1 is out of range (1..65535)"},
    {"services: [{name: a, port: 1, signals: [{in_flight: 0}]}]\n",
     "1:53: in_flight: 0 is out of range (1..4294967295)"},
    {"services: [{name: a, port: 1, signals: [{in_flight: 2.5}]}]\n",
     "1:53: in_flight: '2.5' is not a whole number"},
    {"services: [{name: a, port: 1, signals: [{oldest_request_age: 100}]}]\n",
     "1:62: oldest_request_age: duration '100' has no unit (ns, us, ms, s, m or h)"},
    {"services: [{name: a, port: 1, signals: [{in_flight: 5}, {in_flight: 6}]}]\n",
     "1:58: signal in_flight is listed twice (first at line 1)"},
    {"services: [{name: a, port: 1, signals: [auto, auto]}]\n",
     "1:47: signals: auto is listed twice (first at line 1)"},
    {"services: [{name: a, port: 1, signals: [{accept_queue: learn}]}]\n",
     "1:56: accept_queue: only latency_p99, oldest_request_age and in_flight learn their target"},
    {"services: [{name: a, port: 1, signals: [{pool: db, target: learn}]}]\n",
     "1:60: target: 'learn' is not a decimal number (like 0.85)"},
    {"services: [{name: a, port: 1, signals: [automatic]}]\n",
     "1:41: a signal must be a mapping, not a single value"},
    {"services: [{name: a, port: 1, signals: [{listen_overflow: 1}]}]\n",
     "1:59: listen_overflow: rate '1' has no period (write 1/s, 1/m or 1/h)"},
    {"services: [{name: a, port: 1, signals: [{listen_overflow: 0/s}]}]\n",
     "1:59: listen_overflow: 0/s is not a rate above 0"},
    {"services: [{name: a, port: 1, signals: [{listen_overflow: 1/d}]}]\n",
     "1:59: listen_overflow: rate '1/d' has an unknown period 'd' (s, m or h)"},
    {"services: [{name: a, port: 1, protocol: udp, signals: [{listen_overflow: 1/s}]}]\n",
     "1:57: listen_overflow: a UDP service has no accept queue"},
    {"services: [{name: a, port: 80x}]\n", "1:28: port: '80x' is not a whole number"},
    {"services: [{name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, port: 1}]\n",
     "1:19: name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a valid service name (a letter, "
     "then letters, digits, '_', '-' or '.'; at most 31 characters)"},
    {"services: [{name: a, port: 1, address: 10.0.0.256}]\n",
     "1:40: address: '10.0.0.256' is not an IPv4 address"},
    {"services: [{name: a, port: 1, address: 0.0.0.0}]\n",
     "1:40: address: '0.0.0.0' is the any-address; leave address out to match every local "
     "address"},
    {"services: [{name: a, port: 1, protect_tier0: True}]\n",
     "1:46: protect_tier0: 'True' is not true or false"},
    {"services: [{name: a, port: 1, new_flow_rate: {critical: 500}}]\n",
     "1:57: new_flow_rate: rate '500' has no period (write 500/s, 500/m or 500/h)"},
    {"services: [{name: a, port: 1, new_flow_rate: {critical: 16777217/s}}]\n",
     "1:57: new_flow_rate: rate 16777217 per 1s is more than 16777216 per second"},
    {"services: [{name: a, port: 1, new_flow_burst: {critical: 0}}]\n",
     "1:58: new_flow_burst: 0 is out of range (1..16777216)"},
    {"services: [{name: a, port: 1, signals: [{pool: 'my pool', target: 0.5}]}]\n",
     "1:48: pool: 'my pool' is not a valid pool name (letters, digits, '_', '-' or '.'; at "
     "most 31 characters)"},
    {"services: [{name: a, port: 1, signals: [{queue_age: q, target: 0}]}]\n",
     "1:64: target: duration 0 is out of range (1us..1h)"},
    {"services: [{name: a, port: 1, signals: [{latency_p99: 2h}]}]\n",
     "1:55: latency_p99: duration 2h is out of range (1us..1h)"},
    {"services: [{name: a, port: 1, signals: [{connections: 0.5}]}]\n",
     "1:55: connections: '0.5' is not a whole number"},
    {"services: [{name: a, port: 1, signals: [{pool: db, target: .5}]}]\n",
     "1:60: target: '.5' is not a decimal number (like 0.85)"},
    {"services: [{name: a, port: 1, signals: [{pool: db, target: 1e-1}]}]\n",
     "1:60: target: '1e-1' is not a decimal number (like 0.85)"},
    {"services: [{name: a, port: 1, signals: [accept_queue]}]\n",
     "1:41: a signal must be a mapping, not a single value"},
    {"services: [{name: a, port: 1, signals: [{a: 1}, {b: 1}, {c: 1}]}]\n",
     "1:42: unknown signal 'a' (signals: pool, pool_wait, queue, queue_age, accept_queue, "
     "latency_p99, connections, in_flight, oldest_request_age, listen_overflow)"},
    {"controller: {tick: 10s, lease: 29s}\n", "1:32: lease: 29s is shorter than 3 ticks (30s)"},
    {"controller: {tick: 2s}\n", "1:13: lease: 3s is shorter than 3 ticks (6s)"},
    {"controller: {tick: 11s}\n", "1:20: tick: duration 11s is out of range (10ms..10s)"},
    {"controller: {lease: 11m}\n", "1:21: lease: duration 11m is out of range (1ns..10m)"},
    {"controller: {sweep_every: 50ms}\n",
     "1:27: sweep_every: 50ms is shorter than the tick (100ms)"},
    {"controller: {udp_timeout: 1s}\n", "1:27: udp_timeout: duration 1s is out of range (2s..30m)"},
    {"controller: {hysteresis: -0.1}\n",
     "1:26: hysteresis: '-0.1' is not a decimal number (like 0.85)"},
    {"flows: {capacity: 16777217}\n", "1:19: capacity: 16777217 is out of range (1..16777216)"},
    {"flows: {service_share: 0}\n", "1:24: service_share: 0 is not a fraction in (0, 1]"},
    {"flows: {service_share: 1.5}\n", "1:24: service_share: 1.5 is not a fraction in (0, 1]"},
    {"flows: {insert_rate: 16777217/s}\n",
     "1:22: insert_rate: rate 16777217 per 1s is more than 16777216 per second"},
    {"flows: {ipv6_cohort_prefix: 32}\n",
     "1:29: ipv6_cohort_prefix: 32 is not one of 48, 56 or 64"},
    {"flows: {ipv6_cohort_prefix: 63}\n",
     "1:29: ipv6_cohort_prefix: 63 is not one of 48, 56 or 64"},
    {"flows: {ipv6_cohort_prefix: 128}\n",
     "1:29: ipv6_cohort_prefix: 128 is not one of 48, 56 or 64"},
    {"flows: {ipv6_cohort_prefix: 129}\n",
     "1:29: ipv6_cohort_prefix: 129 is out of range (0..128)"},
    {"flows: {ipv6_cohort_prefix: /48}\n", "1:29: ipv6_cohort_prefix: '/48' is not a whole number"},
    {"reject: {icmp_rate: 0/s}\n",
     "1:21: icmp_rate: 0/s would answer no datagram at all (write 'off' to turn the limit off)"},
    {"reject: {icmp_rate: 1000}\n",
     "1:21: icmp_rate: rate '1000' has no period (write 1000/s, 1000/m or 1000/h)"},
    {"reject: {icmp_burst: 0}\n", "1:22: icmp_burst: 0 is out of range (1..65535)"},
    {"reject: {icmp_burst: 65536}\n", "1:22: icmp_burst: 65536 is out of range (1..65535)"},
    {"reject: {icmp_limit: 5}\n",
     "1:10: unknown key 'icmp_limit' in reject (known keys: icmp_rate, icmp_burst)"},
    {"metrics: {listen: '127.0.0.1:65536'}\n",
     "1:19: listen: port 65536 is out of range (0..65535)"},
    {"metrics: {listen: '127.0.0.1:'}\n", "1:19: listen: port no number given"},
    {"metrics: {listen: 'localhost:9478'}\n",
     "1:19: listen: 'localhost:9478' is not ADDRESS:PORT (like 127.0.0.1:9478 or [::1]:9478)"},
    {"report: {socket: /run/spillway/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock}\n",
     "1:18: socket: the path is longer than 107 characters"},
    {"report: {group: 'a:b'}\n", "1:17: group: 'a:b' is not a valid group name"},
    {"interfaces: [{name: eth0, mode: xdp, flags: 1}]\n",
     "1:38: unknown key 'flags' in an interface (known keys: name, mode)"},
    {"interfaces: [{name: eth0, mdoe: xdp}]\n",
     "1:27: unknown key 'mdoe' in an interface (did you mean 'mode'?)"},
    {"interfaces: [{mode: tc}]\n", "1:14: an interface needs a name"},
    {"services:\n  - {name: a, port: 80}\n  - {name: b, port: 81}\n  - {name: b, port: 80}\n",
     "4:12: name: service 'b' is listed twice (first at line 3)"},
    {"interfaces: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}, {name: f}, {name: g},"
     " {name: h}, {name: i}, {name: j}, {name: k}, {name: l}, {name: m}, {name: n}, {name: o},"
     " {name: p}, {name: q}]\n",
     "1:190: interfaces: at most 16 interfaces"},
    {"services:\n  - name: a\n    port: 1\n    signals:\n"
     "      - {pool: p1, target: 1}\n      - {pool: p2, target: 1}\n"
     "      - {pool: p3, target: 1}\n      - {pool: p4, target: 1}\n"
     "      - {pool: p5, target: 1}\n      - {pool: p6, target: 1}\n"
     "      - {pool: p7, target: 1}\n      - {pool: p8, target: 1}\n"
     "      - {pool: p9, target: 1}\n",
     "13:9: signals: at most 8 per service"},
};

/* downstreams: every dest form, the defaults, and the values as the data plane takes them. */
static void test_downstreams(void **state)
{
	struct spw_config *c =
	    parse_ok("downstreams:\n"
		     "  - {name: db, dest: 10.0.2.1:5432, k: 1.5, window_s: 3, tier: critical}\n"
		     "  - {name: net, dest: 10.0.3.0/24}\n"
		     "  - {name: v6, dest: \"[2001:db8::1]:443\"}\n"
		     "  - {name: v6net, dest: \"2001:db8:1::/48\"}\n");

	(void)state;
	assert_int_equal(c->ndownstreams, 4);
	assert_string_equal(c->downstreams[0].name, "db");
	assert_int_equal(c->downstreams[0].id, 1);
	assert_cidr(&c->downstreams[0].dest, "10.0.2.1/32");
	assert_int_equal(c->downstreams[0].port, 5432);
	assert_int_equal(c->downstreams[0].k_centi, 150);
	assert_int_equal(c->downstreams[0].bucket_ms, 3000);
	assert_int_equal(c->downstreams[0].default_tier, 0);
	assert_cidr(&c->downstreams[1].dest, "10.0.3.0/24");
	assert_int_equal(c->downstreams[1].port, 0);
	/* Defaults: K = 2, a one-second window, the most sheddable tier. */
	assert_int_equal(c->downstreams[1].k_centi, 200);
	assert_int_equal(c->downstreams[1].bucket_ms, 1000);
	assert_int_equal(c->downstreams[1].default_tier, 2);
	assert_cidr(&c->downstreams[2].dest, "2001:db8::1/128");
	assert_int_equal(c->downstreams[2].port, 443);
	assert_cidr(&c->downstreams[3].dest, "2001:db8:1::/48");
	assert_int_equal(c->downstreams[3].port, 0);
	assert_int_equal(c->downstreams[3].id, 4);
	for (int i = 0; i < 4; i++) {
		/* Defaults: throttled, nothing marked, no cgroup gives a tier. */
		assert_int_equal(c->downstreams[i].ncgroups, 0);
		for (int t = 0; t < SPW_MAX_TIERS; t++)
			assert_int_equal(c->downstreams[i].mark_egress[t], 0);
	}
	spw_config_free(c);
}

/* A downstream's marks, cgroups and throttle: false, as the data plane takes them. */
static void test_downstream_marks(void **state)
{
	struct spw_config *c =
	    parse_ok("downstreams:\n"
		     "  - name: back\n"
		     "    dest: 10.0.4.1:8080\n"
		     "    throttle: false\n"
		     "    mark_egress: {critical: 46, sheddable: 0}\n"
		     "    cgroups: {/system.slice/a.service: critical, /batch: sheddable}\n"
		     "  - {name: db, dest: 10.0.2.1:5432, throttle: true}\n");

	(void)state;
	assert_int_equal(c->ndownstreams, 2);
	assert_int_equal(c->downstreams[0].bucket_ms, 0);
	assert_int_equal(c->downstreams[0].mark_egress[0], SPW_MARK_SET | 46);
	assert_int_equal(c->downstreams[0].mark_egress[1], 0); /* not given: not marked */
	assert_int_equal(c->downstreams[0].mark_egress[2], SPW_MARK_SET | 0);
	assert_int_equal(c->downstreams[0].ncgroups, 2);
	assert_string_equal(c->downstreams[0].cgroups[0].path, "/system.slice/a.service");
	assert_int_equal(c->downstreams[0].cgroups[0].tier, 0);
	assert_string_equal(c->downstreams[0].cgroups[1].path, "/batch");
	assert_int_equal(c->downstreams[0].cgroups[1].tier, 2);
	assert_int_equal(c->downstreams[1].bucket_ms, 1000);
	spw_config_free(c);
}

/* Each case must fail with exactly its message; every mismatch is printed, then it fails. */
static void expect_bad_strings(const struct bad_string *cases, size_t n)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < n; i++) {
		const struct bad_string *b = &cases[i];
		char err[SPW_ERR_MAX], want[SPW_ERR_MAX + 16];
		struct spw_config *c = (struct spw_config *)&c;
		int ret;

		snprintf(want, sizeof(want), "t.yaml:%s", b->err);
		ret = spw_config_parse("t.yaml", b->text, strlen(b->text), &c, err, sizeof(err));
		if (ret != -EINVAL || c || strcmp(err, want)) {
			print_error("case %zu: %s\n  want -EINVAL: %s\n  got  %d: %s\n", i, b->text,
				    want, ret, ret ? err : "(parsed)");
			failed++;
		}
		spw_config_free(c);
	}
	assert_int_equal(failed, 0);
}

static void test_bad_strings(void **state)
{
	(void)state;
	expect_bad_strings(bad_strings, ARRAY_SIZE(bad_strings));
}

/* xdp_dispatcher and xdp_priority: the values they take, and the clear errors for the rest. */
static void test_xdp_dispatcher(void **state)
{
	static const struct bad_string bad[] = {
	    {"xdp_dispatcher: xdp-tools\n",
	     "1:17: xdp_dispatcher: unknown dispatcher 'xdp-tools' (link: spillway's own XDP "
	     "link, or libxdp: libxdp's multi-program dispatcher)"},
	    {"xdp_dispatcher: LIBXDP\n",
	     "1:17: xdp_dispatcher: unknown dispatcher 'LIBXDP' (link: spillway's own XDP link, "
	     "or libxdp: libxdp's multi-program dispatcher)"},
	    {"xdp_dispatcher: [libxdp]\n",
	     "1:17: 'xdp_dispatcher' must be a single value, not a list"},
	    {"xdp_dispatcher: libxdp\nxdp_priority: -1\n",
	     "2:15: xdp_priority: -1 is out of range (0..65535)"},
	    {"xdp_dispatcher: libxdp\nxdp_priority: 65536\n",
	     "2:15: xdp_priority: 65536 is out of range (0..65535)"},
	    {"xdp_dispatcher: libxdp\nxdp_priority: high\n",
	     "2:15: xdp_priority: 'high' is not a whole number"},
	    /* A priority orders nothing without the dispatcher, wherever the keys are written. */
	    {"xdp_priority: 10\n",
	     "1:15: xdp_priority: only libxdp's dispatcher runs programs in an order (set "
	     "xdp_dispatcher: libxdp, or remove xdp_priority)"},
	    {"xdp_priority: 10\nxdp_dispatcher: link\n",
	     "1:15: xdp_priority: only libxdp's dispatcher runs programs in an order (set "
	     "xdp_dispatcher: libxdp, or remove xdp_priority)"},
	    {"xdp_dispatcher: libxdp\nxdp_dispatcher: link\n",
	     "2:1: duplicate key 'xdp_dispatcher' (first at line 1)"},
	};
	struct spw_config *c;

	(void)state;
	c = parse_ok("xdp_dispatcher: libxdp\n");
	assert_int_equal(c->xdp_dispatcher, SPW_XDP_VIA_LIBXDP);
	assert_int_equal(c->xdp_priority, SPW_XDP_PRIORITY_DEFAULT);
	spw_config_free(c);
	/* Either order; 0 (first of all) and the bound are priorities too. */
	c = parse_ok("xdp_priority: 0\ninterfaces: [{name: eth0}]\nxdp_dispatcher: libxdp\n");
	assert_int_equal(c->xdp_dispatcher, SPW_XDP_VIA_LIBXDP);
	assert_int_equal(c->xdp_priority, 0);
	spw_config_free(c);
	c = parse_ok("xdp_dispatcher: libxdp\nxdp_priority: 65535\n");
	assert_int_equal(c->xdp_priority, 65535);
	spw_config_free(c);
	c = parse_ok("xdp_dispatcher: link\n");
	assert_int_equal(c->xdp_dispatcher, SPW_XDP_VIA_LINK);
	spw_config_free(c);
	expect_bad_strings(bad, ARRAY_SIZE(bad));
}

static void test_io_errors(void **state)
{
	char err[SPW_ERR_MAX], want[2 * PATH_MAX];
	struct spw_config *c = (struct spw_config *)&c;

	(void)state;
	assert_int_equal(spw_config_load("/nonexistent/spillway.yaml", &c, err, sizeof(err)),
			 -ENOENT);
	assert_null(c);
	assert_string_equal(err,
			    "/nonexistent/spillway.yaml: cannot open: No such file or directory");

	assert_int_equal(spw_config_load(data_dir, &c, err, sizeof(err)), -EISDIR);
	assert_null(c);
	snprintf(want, sizeof(want), "%s: not a regular file", data_dir);
	assert_string_equal(err, want);
}

/* A short or absent message buffer is cut, never overrun; the result code is unchanged. */
static void test_err_buffer(void **state)
{
	const char *text = "services: [{name: a, port: 0}]\n";
	char err[16];
	struct spw_config *c;

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, 12), -EINVAL);
	assert_string_equal(err, "t.yaml:1:28");
	assert_int_equal(err[12], 'x');
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, 1), -EINVAL);
	assert_string_equal(err, "");
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, NULL, 0), -EINVAL);
	assert_null(c);
	assert_int_equal(spw_config_parse("t.yaml", "x: [", 4, &c, NULL, 0), -EINVAL);
	assert_int_equal(spw_config_load("/nonexistent", &c, NULL, 0), -ENOENT);
}

/* Builds "classify:" with n rules 10.x.y.0/24 (all one tier) plus extra at the end. */
static char *many_rules(int n, const char *extra)
{
	size_t cap = (size_t)n * 48 + strlen(extra) + 64, off;
	char *t = malloc(cap);
	int i;

	assert_non_null(t);
	off = (size_t)snprintf(t, cap, "classify:\n");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(t + off, cap - off,
					"  - {cidr: 10.%d.%d.0/24, tier: sheddable}\n",
					(i >> 8) & 0xff, i & 0xff);
	snprintf(t + off, cap - off, "%s", extra);
	return t;
}

/*
 * 65536 rules parse and the overlap check stays fast (a quadratic check would take minutes);
 * a conflict after them is found with its line.
 */
static void test_many_rules(void **state)
{
	char err[SPW_ERR_MAX];
	struct spw_config *c;
	struct timespec t0, t1;
	double secs;
	char *text;

	(void)state;
	text = many_rules(65536, "");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("  65536 rules parsed in %.2f s (sanitizers on)\n", secs);
	assert_int_equal(c->nrules, 65536);
	assert_cidr(&c->rules[65535].cidr, "10.255.255.0/24");
	assert_int_equal(c->rules[65535].line, 65537);
	assert_true(secs < 30.0);
	spw_config_free(c);
	free(text);

	/* Two conflicts: the one whose later rule comes first in the file is reported. */
	text = many_rules(65536, "  - {cidr: 10.7.0.0/16, tier: critical}\n"
				 "  - {cidr: 10.3.3.0/24, tier: sheddable}\n");
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	assert_string_equal(err, "t.yaml:65538:12: cidr: 10.7.0.0/16 (tier critical) contains "
				 "10.7.0.0/24 (tier sheddable) at line 1794: overlapping prefixes "
				 "must name the same tier");
	free(text);
}

/* A list of n copies of item, after head: for the size limits. */
static char *repeat(const char *head, const char *item, int n)
{
	size_t cap = strlen(head) + (size_t)n * strlen(item) + 1, off;
	char *t = malloc(cap);
	int i;

	assert_non_null(t);
	off = (size_t)snprintf(t, cap, "%s", head);
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(t + off, cap - off, "%s", item);
	return t;
}

/* The map sizes of the data plane are the limits; the first item past one is named. */
static void test_limits(void **state)
{
	char err[SPW_ERR_MAX];
	struct spw_config *c;
	char *text;

	(void)state;
	text = repeat("classify:\n", "  - {cidr: 10.0.0.0/8, tier: critical}\n", SPW_MAX_RULES + 1);
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:262146:5: classify: at most 262144 rules");
	free(text);

	text = repeat("dscp:\n  trusted_sources:\n", "    - 10.0.0.0/8\n", SPW_MAX_TRUSTED + 1);
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:4099:7: trusted_sources: at most 4096 prefixes");
	free(text);

	text = repeat("exempt:\n", "  - 10.0.0.0/8\n", SPW_EXEMPT_CONFIG_MAX + 1);
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:1026:5: exempt: at most 1024 prefixes");
	free(text);

	/* At the limit itself, a repeat is what is wrong. */
	text = repeat("dscp:\n  trusted_sources:\n", "    - 10.0.0.0/8\n", SPW_MAX_TRUSTED);
	assert_int_equal(spw_config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:4:7: trusted_sources: 10.0.0.0/8 is already listed at "
				 "line 3");
	free(text);
}

/* spw_config_advise(): what it says, collected. */
struct advice {
	int n;
	char last[SPW_ERR_MAX];
};

static void collect(void *ctx, const char *line)
{
	struct advice *a = ctx;

	a->n++;
	snprintf(a->last, sizeof(a->last), "%s", line);
}

static int advice_for(const char *signals, const char *controller, struct advice *a)
{
	char text[1024];
	struct spw_config *c;
	int n;

	snprintf(text, sizeof(text), "services:\n  - name: api\n    port: 8080\n    signals:\n%s%s",
		 signals, controller);
	c = parse_ok(text);
	memset(a, 0, sizeof(*a));
	n = spw_config_advise(c, collect, a);
	spw_config_free(c);
	assert_int_equal(n, a->n);
	return n;
}

static void test_advice(void **state)
{
	struct advice a;

	(void)state;
	/* A fill target of 1: never over target before it is full. */
	assert_int_equal(advice_for("      - {pool: db, target: 1}\n", "", &a), 1);
	assert_string_equal(a.last,
			    "t.yaml: service api: pool db target 1: a fill cannot pass 1 before it "
			    "is full, so spillway acts only once it is full; a target such as 0.85 "
			    "leaves it room to shed before the queue forms");
	/* A full pool is a clear overload whatever the target below 1: 0.95 is fine now. */
	assert_int_equal(advice_for("      - {pool: db, target: 0.95}\n", "", &a), 0);
	assert_int_equal(
	    advice_for("      - {pool: db, target: 0.85}\n", "controller: {hysteresis: 0.2}\n", &a),
	    0);
	/* Other fills too; time and count signals have no ceiling, so no advice. */
	assert_int_equal(advice_for("      - {accept_queue: 1}\n"
				    "      - {pool_wait: db, target: 10ms}\n"
				    "      - {latency_p99: 200ms}\n"
				    "      - {connections: 50}\n",
				    "", &a),
			 1);
	assert_non_null(strstr(a.last, "service api: accept_queue target 1:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_files),	cmocka_unit_test(test_example),
	    cmocka_unit_test(test_defaults),	cmocka_unit_test(test_good_strings),
	    cmocka_unit_test(test_downstreams), cmocka_unit_test(test_downstream_marks),
	    cmocka_unit_test(test_bad_strings), cmocka_unit_test(test_xdp_dispatcher),
	    cmocka_unit_test(test_io_errors),	cmocka_unit_test(test_err_buffer),
	    cmocka_unit_test(test_many_rules),	cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_advice),
	};

	return cmocka_run_group_tests(tests, find_dirs, NULL);
}
