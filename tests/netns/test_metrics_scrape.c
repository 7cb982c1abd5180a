// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter of the real spillwayd (tests/lib/daemon.h), scraped as Prometheus would:
 *
 *   - /metrics passes `promtool check metrics` (exit 0, no lint problem printed);
 *   - the families carry what happened: an admitted TCP connect shows in new_flows_total and
 *     packets_total, the reported pool and queue show as reported, the signal as measured;
 *   - a burst of connects from the client namespace's one address (one host: one cohort of
 *     its tier) turns spillway_tier_skewed of that tier from 0 to 1, so the daemon feeds the
 *     law the data plane's per-rank counts; the tier nothing came from stays 0;
 *   - /v1/state parses as JSON and names the service, its tiers (with their totals and the
 *     skew) and its signal, with the wall-clock time of the read;
 *   - `spillway status` marks the same tier skewed, text and --json, from the state file;
 *   - /healthz still answers 200.
 *
 * One 3-tier TCP service in the server namespace of a veth pair (tests/lib/netns.h), the
 * daemon attached there in native XDP mode; the connect comes from the client namespace and is
 * admitted, so no XDP_TX reply needs the client-side program.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>

#include "cmd.h"
#include "daemon.h"
#include "netns.h"

#define SVC_ID		 1
#define SVC_PORT	 8080
#define TICK_MS		 100
#define READY_TIMEOUT_MS 15000
/* Counters are published every tick; latency and reports once a second: wait a few of those. */
#define FRESH_TIMEOUT_MS 5000
/* The test library's HTTP buffer (tests/lib/daemon.c): a body this long may be cut short. */
#define BODY_MAX 65536

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	int listen_fd;
	char body[BODY_MAX];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int group_setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(SVC_PORT)};
	char cfg[2048];
	int one = 1;

	if (!c)
		return -1;
	c->listen_fd = -1;
	*state = c;
	if (spw_topo_create(&c->topo))
		return -1;
	c->listen_fd = spw_netns_socket(c->topo.end[SPW_TOPO_SRV].ns, AF_INET, SOCK_STREAM, 0);
	sa.sin_addr = c->topo.end[SPW_TOPO_SRV].v4;
	if (c->listen_fd < 0 ||
	    setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(c->listen_fd, 16))
		return -1;
	if (spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, true))
		return -1;
	snprintf(cfg, sizeof(cfg),
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "tiers: [critical, standard, sheddable]\n"
		 "services:\n"
		 "  - name: api\n"
		 "    protocol: tcp\n"
		 "    port: %d\n"
		 "    default_tier: standard\n"
		 "    signals:\n"
		 "      - {pool: db, target: 0.85}\n"
		 "      - {queue_age: jobs, target: 500ms}\n"
		 "controller: {tick: %dms, lease: 1s, cohort_rotation: 1h, stale_after: 2s}\n",
		 c->topo.end[SPW_TOPO_SRV].ifname, SVC_PORT, TICK_MS);
	if (spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	struct test_ctx *c = *state;

	if (!c)
		return 0;
	spw_daemon_cleanup(&c->d);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	spw_topo_destroy(&c->topo);
	free(c);
	return 0;
}

/* One admitted connect from the client namespace, accepted and closed. */
static void connect_once(struct test_ctx *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(SVC_PORT)};
	int fd = spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, AF_INET, SOCK_STREAM, 0), a;

	assert_true(fd >= 0);
	sa.sin_addr = c->topo.end[SPW_TOPO_SRV].v4;
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	a = accept(c->listen_fd, NULL, NULL);
	assert_true(a >= 0);
	close(a);
	close(fd);
}

/* Waits until series reaches at least min (counters and reports are published per tick). */
static double wait_metric(struct test_ctx *c, const char *series, double min)
{
	double end = now_ms() + FRESH_TIMEOUT_MS, v = -1;

	while (now_ms() < end) {
		if (!spw_daemon_metric(&c->d, series, &v) && v >= min)
			return v;
		sleep_ms(TICK_MS / 2);
	}
	fail_msg("%s: %g after %d ms, expected >= %g", series, v, FRESH_TIMEOUT_MS, min);
	return v;
}

static void get(struct test_ctx *c, const char *path)
{
	int status = spw_daemon_http_get(&c->d, path, c->body, sizeof(c->body));

	assert_int_equal(status, 200);
	/* The test library's buffer would cut a longer body: the checks below need it whole. */
	assert_true(strlen(c->body) < sizeof(c->body) - 1);
}

static void test_families(void **state)
{
	struct test_ctx *c = *state;
	double v;

	assert_int_equal(
	    spw_daemon_report(&c->d, "pool db in_use=5 capacity=10 waiting=2 wait_ms=40"), 0);
	assert_int_equal(spw_daemon_report(&c->d, "queue jobs depth=3 limit=100 age_ms=250"), 0);
	connect_once(c);
	wait_metric(
	    c, "spillway_new_flows_total{service=\"api\",tier=\"standard\",decision=\"admitted\"}",
	    1);
	wait_metric(
	    c, "spillway_packets_total{service=\"api\",tier=\"standard\",reason=\"admitted\"}", 1);
	assert_true(wait_metric(c, "spillway_pool_in_use{pool=\"db\"}", 5) == 5);
	assert_true(wait_metric(c, "spillway_pool_capacity{pool=\"db\"}", 10) == 10);
	assert_true(wait_metric(c, "spillway_pool_waiting{pool=\"db\"}", 2) == 2);
	assert_true(wait_metric(c, "spillway_pool_wait_seconds{pool=\"db\"}", 0.04) == 0.04);
	assert_true(wait_metric(c, "spillway_queue_depth{queue=\"jobs\"}", 3) == 3);
	assert_true(wait_metric(c, "spillway_queue_age_seconds{queue=\"jobs\"}", 0.25) == 0.25);
	wait_metric(c, "spillway_signal_value{service=\"api\",signal=\"pool\",source=\"db\"}", 0.5);
	wait_metric(c, "spillway_reports_total{outcome=\"accepted\"}", 2);
	wait_metric(c, "spillway_controller_ticks_total", 1);
	wait_metric(c, "spillway_controller_tick_duration_seconds_count", 1);
	assert_int_equal(spw_daemon_metric(&c->d, "spillway_admit_level_max{service=\"api\"}", &v),
			 0);
	assert_true(v == 96);
	assert_int_equal(spw_daemon_metric(&c->d, "spillway_flow_table_capacity", &v), 0);
	assert_true(v > 0);
	assert_int_equal(
	    spw_daemon_metric(&c->d, "spillway_lease_remaining_seconds{service=\"api\"}", &v), 0);
	assert_true(v > 0 && v <= 1.0);
	assert_int_equal(spw_daemon_metric(&c->d, "spillway_build_info{version=\"0.1.0\"}", &v), 0);
	assert_true(v == 1);
}

/*
 * The law judges a tier's spread from a window with at least 16 new flows in it (a tick here):
 * bursts of 64 connects, until the gauge turns or the wait runs out.
 */
#define BURST 64

static void test_one_host_skewed(void **state)
{
	struct test_ctx *c = *state;
	const char *skewed = "spillway_tier_skewed{service=\"api\",tier=\"standard\"}";
	double end = now_ms() + FRESH_TIMEOUT_MS, v = -1;
	int i;

	assert_int_equal(spw_daemon_metric(&c->d, skewed, &v), 0);
	assert_true(v == 0);
	while (now_ms() < end) {
		for (i = 0; i < BURST; i++)
			connect_once(c);
		sleep_ms(TICK_MS);
		if (!spw_daemon_metric(&c->d, skewed, &v) && v == 1)
			break;
	}
	assert_true(v == 1);
	assert_int_equal(spw_daemon_metric(
			     &c->d, "spillway_tier_skewed{service=\"api\",tier=\"sheddable\"}", &v),
			 0);
	assert_true(v == 0);
}

/* `spillway status` of this daemon (its pins, state file and config), output in *out. */
static void status_of(struct test_ctx *c, bool json, char **out)
{
	char cli[SPW_DAEMON_PATH_LEN];
	const char *argv[] = {cli,
			      "--pin-root",
			      c->d.pin_root,
			      "--state-dir",
			      c->d.dir,
			      "--config",
			      c->d.config,
			      "status",
			      "--interval",
			      "10ms",
			      json ? "--json" : NULL,
			      NULL};
	int st;

	assert_int_equal(spw_daemon_cli_binary(cli, sizeof(cli)), 0);
	st = spw_cmd_capture(argv, out);
	if (st)
		fail_msg("spillway status exited %d: %s", st, *out ? *out : "");
}

/* The state file carries the skew to `spillway status`, text and JSON, as /metrics has it. */
static void test_status_shows_skew(void **state)
{
	struct test_ctx *c = *state;
	json_t *root, *tiers;
	json_error_t err;
	char *out = NULL;

	status_of(c, true, &out);
	root = json_loads(out, 0, &err);
	if (!root)
		fail_msg("status --json is not JSON: %s: %s", err.text, out);
	tiers = json_object_get(json_array_get(json_object_get(root, "services"), 0), "tiers");
	assert_int_equal(json_array_size(tiers), 3);
	assert_true(json_is_false(json_object_get(json_array_get(tiers, 0), "skewed")));
	assert_true(json_is_true(json_object_get(json_array_get(tiers, 1), "skewed")));
	assert_true(json_is_false(json_object_get(json_array_get(tiers, 2), "skewed")));
	json_decref(root);
	free(out);
	out = NULL;
	status_of(c, false, &out);
	if (!strstr(out, "standard 0% (skewed: few client cohorts)") ||
	    strstr(out, "critical 0% (skewed"))
		fail_msg("status does not mark tier standard alone as skewed:\n%s", out);
	free(out);
}

/* promtool reads the scrape on stdin; lint problems go to its output, errors to its status. */
static void test_promtool(void **state)
{
	struct test_ctx *c = *state;
	char in[] = "/tmp/spw-metrics-XXXXXX", cmd[256], out[4096] = "";
	FILE *f;
	size_t n;
	int fd, st;

	if (system("command -v promtool >/dev/null 2>&1"))
		fail_msg("promtool is missing: tools/install-deps.sh installs it (prometheus)");
	get(c, "/metrics");
	fd = mkstemp(in);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, c->body, strlen(c->body)), (ssize_t)strlen(c->body));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", in);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	st = pclose(f);
	unlink(in);
	if (!WIFEXITED(st) || WEXITSTATUS(st) || n)
		fail_msg("promtool check metrics: status %d, said:\n%s", st, out);
}

static void test_state_json(void **state)
{
	struct test_ctx *c = *state;
	json_t *root, *svcs, *s, *tiers, *sigs;
	json_error_t err;

	get(c, "/v1/state");
	root = json_loads(c->body, 0, &err);
	if (!root)
		fail_msg("/v1/state is not JSON: %s at line %d: %s", err.text, err.line, c->body);
	svcs = json_object_get(root, "services");
	assert_true(json_is_array(svcs));
	assert_int_equal(json_array_size(svcs), 1);
	s = json_array_get(svcs, 0);
	assert_string_equal(json_string_value(json_object_get(s, "name")), "api");
	assert_int_equal(json_integer_value(json_object_get(s, "ceiling")), 96);
	assert_string_equal(json_string_value(json_object_get(s, "mode")), "enforce");
	tiers = json_object_get(s, "tiers");
	assert_int_equal(json_array_size(tiers), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tiers, 2), "name")),
			    "sheddable");
	/* Totals beside the rates, as status --json has them, and the read's wall time. */
	{
		json_t *t0 = json_array_get(tiers, 0), *by = json_object_get(t0, "decisions_total");
		json_int_t at = json_integer_value(json_object_get(root, "time_unix_ms"));
		json_int_t now = (json_int_t)time(NULL) * 1000;

		assert_true(json_is_integer(json_object_get(t0, "admitted_total")));
		assert_true(json_is_integer(json_object_get(t0, "shed_total")));
		assert_true(json_is_object(by));
		assert_int_equal(json_integer_value(json_object_get(by, "admitted")),
				 json_integer_value(json_object_get(t0, "admitted_total")));
		assert_true(at > now - 10000 && at < now + 10000);
		/* test_one_host_skewed found tier "standard" in one cohort. */
		assert_true(json_is_false(json_object_get(t0, "skewed")));
		assert_true(json_is_true(json_object_get(json_array_get(tiers, 1), "skewed")));
	}
	sigs = json_object_get(s, "signals");
	assert_int_equal(json_array_size(sigs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 0), "kind")),
			    "pool");
	assert_true(json_integer_value(json_object_get(s, "lease_remaining_ms")) > 0);
	assert_int_equal(json_array_size(json_object_get(root, "tier_names")), 3);
	assert_int_equal(json_integer_value(json_object_get(root, "tick_ms")), TICK_MS);
	json_decref(root);
	assert_int_equal(spw_daemon_http_get(&c->d, "/healthz", c->body, sizeof(c->body)), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_families),	      cmocka_unit_test(test_one_host_skewed),
	    cmocka_unit_test(test_status_shows_skew), cmocka_unit_test(test_promtool),
	    cmocka_unit_test(test_state_json),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
