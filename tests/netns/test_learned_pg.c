// SPDX-License-Identifier: GPL-2.0-only
/*
 * A service nobody measured, protected with no number in its config: a real PostgreSQL
 * behind spillwayd with no signals key (signals: [auto]), its latency targets learned.
 *
 * PostgreSQL runs in the server namespace; spillwayd attaches native XDP (with TC egress, so
 * responses are seen) to the server's veth, one service for port 5432 and no signals. In the
 * client namespace, APP_CONNS libpq connections from the client veth's own address (tier 0)
 * run `SELECT pg_sleep(d)` back to back; d is what the database takes per query.
 *
 *   learning  d = QUIET_MS: for the first seconds the learned signals have no target (NaN in
 *             /metrics) and nothing is shed; after LEARN_S both latency_p99 and
 *             oldest_request_age have targets of about 3x what a query takes;
 *   slow      d = SLOW_MS (10x): the queries' own latency, past the learned target, sheds the
 *             sheddable tier (a second address, raw TCP connects refused by spillway's RST),
 *             and the targets are not learned upward while it lasts;
 *   back      d = QUIET_MS again: the sheddable tier is admitted again.
 *
 * With `signals: []` (no signal) the same slow phase sheds nothing: the control case, which
 * is also what a service without a signals key got before auto.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "daemon.h"
#include "netns.h"
#include "pg_front.h"
#include "sockets.h"
#include "util.h"

#define SVC_ID		 1
#define SVC_NAME	 "pg"
#define PG_PORT		 5432
#define READY_TIMEOUT_MS 15000

/* Tier-0 connections running queries back to back. */
#define APP_CONNS 4
/* What a query takes: quiet, then ten times that. */
#define QUIET_MS 30
#define SLOW_MS	 300
/*
 * Learning: SPW_BASELINE_MIN_SECONDS (10) quiet seconds, the first second of the daemon's
 * clock, and slack for a loaded machine.
 */
#define LEARN_CHECK_MS	 3000
#define LEARN_TIMEOUT_MS 25000
/*
 * 3x a query plus PostgreSQL's and the veth's own time, on a loaded 2-core machine: low by
 * the latency buckets' error and the ticks that sample the oldest age, high by the machine.
 */
#define TARGET_LO_MS (3.0 * QUIET_MS * 0.7)
#define TARGET_HI_MS (3.0 * QUIET_MS * 3.0)
/* The slow queries' latency is seen within the latency window (1 s) and the law cuts at once. */
#define SHED_TIMEOUT_MS 6000
/* How long the slow phase lasts once shed, for the targets to show they did not move. */
#define SLOW_HOLD_MS 5000
/*
 * Quiet again: the latency window forgets the slow queries, the law rises after 200 ms of low
 * readings. Delay signals give no capacity estimate, so the level climbs by drift_ranks a
 * move (32 levels to the sheddable tier in about 6 s here) instead of jumping.
 */
#define BACK_TIMEOUT_MS 20000
/* A connect that has no answer by then was dropped, not refused. */
#define CONNECT_WAIT_MS 1000

#define SERIES(sig)                                                                                \
	"spillway_signal_target{service=\"" SVC_NAME "\",signal=\"" sig "\",source=\"\"}"

struct app {
	char conninfo[256];
	const char *ns;
	int delay_ms; /* __atomic */
	int stop;     /* __atomic */
	long queries, failures;
	pthread_t th[APP_CONNS];
};

struct test_ctx {
	struct pg_front front;
	struct app app;
};

_Static_assert(offsetof(struct test_ctx, front) == 0, "pg_front_group_setup() makes the context");

static int app_loop(void *arg)
{
	struct app *a = arg;
	PGconn *db = PQconnectdb(a->conninfo);

	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "test: app connect: %s", PQerrorMessage(db));
		__atomic_add_fetch(&a->failures, 1, __ATOMIC_RELAXED);
		PQfinish(db);
		return -1;
	}
	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
		char q[64];
		PGresult *r;

		snprintf(q, sizeof(q), "SELECT pg_sleep(%.3f)",
			 __atomic_load_n(&a->delay_ms, __ATOMIC_RELAXED) / 1000.0);
		r = PQexec(db, q);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			__atomic_add_fetch(&a->queries, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&a->failures, 1, __ATOMIC_RELAXED);
		PQclear(r);
	}
	PQfinish(db);
	return 0;
}

static void *app_thread(void *arg)
{
	struct app *a = arg;

	spw_netns_run(a->ns, app_loop, a);
	return NULL;
}

static void app_start(struct test_ctx *c)
{
	struct app *a = &c->app;

	a->ns = c->front.topo.end[SPW_TOPO_CLI].ns;
	snprintf(a->conninfo, sizeof(a->conninfo),
		 "host=%s port=%d user=postgres dbname=postgres connect_timeout=5",
		 c->front.topo.end[SPW_TOPO_SRV].v4_str, PG_PORT);
	__atomic_store_n(&a->delay_ms, QUIET_MS, __ATOMIC_RELAXED);
	for (int i = 0; i < APP_CONNS; i++)
		assert_int_equal(pthread_create(&a->th[i], NULL, app_thread, a), 0);
}

static void app_stop(struct app *a)
{
	if (!a->ns)
		return;
	__atomic_store_n(&a->stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < APP_CONNS; i++)
		pthread_join(a->th[i], NULL);
	a->ns = NULL;
}

/* One raw TCP connect from the sheddable address: 0 admitted, -ECONNREFUSED shed. */
struct probe {
	const struct test_ctx *c;
	int result;
};

static int probe_run(void *arg)
{
	struct probe *p = arg;
	struct sockaddr_storage dst;
	struct sockaddr_in src = {.sin_family = AF_INET};
	int fd, len;
	double ms;

	len = spw_topo_sockaddr(&p->c->front.topo, SPW_TOPO_SRV, AF_INET, PG_PORT, &dst);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || len < 0)
		return p->result = -EIO;
	inet_pton(AF_INET, p->c->front.shed_addr, &src.sin_addr);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src))) {
		close(fd);
		return p->result = -errno;
	}
	p->result = spw_connect_timed(fd, &dst, (socklen_t)len, CONNECT_WAIT_MS, 1000, &ms);
	close(fd);
	return 0;
}

static int probe(const struct test_ctx *c)
{
	struct probe p = {.c = c, .result = -EIO};

	assert_int_equal(spw_netns_run(c->front.topo.end[SPW_TOPO_CLI].ns, probe_run, &p), 0);
	return p.result;
}

static double metric(struct test_ctx *c, const char *series)
{
	double v = NAN;

	if (spw_daemon_metric(&c->front.d, series, &v))
		return NAN;
	return v;
}

/* Probes every 200 ms until one gives want (0 or -ECONNREFUSED); the ms it took, or -1. */
static double probe_until(const struct test_ctx *c, int want, int timeout_ms)
{
	double t0 = spw_now_ms();

	while (spw_now_ms() - t0 < timeout_ms) {
		if (probe(c) == want)
			return spw_now_ms() - t0;
		spw_sleep_ms(200);
	}
	return -1;
}

static void make_config(struct test_ctx *c, char *buf, size_t len, bool no_signals)
{
	int n =
	    snprintf(buf, len,
		     "# spillwayd under test (tests/netns/test_learned_pg.c)\n"
		     "interfaces: [{name: %s, mode: xdp}]\n"
		     "tiers: [critical, standard, sheddable]\n"
		     "classify:\n"
		     "  - {cidr: \"%s/32\", tier: critical}\n"
		     "  - {cidr: \"%s/32\", tier: sheddable}\n"
		     "services:\n"
		     "  - name: " SVC_NAME "\n"
		     "    port: %d\n"
		     "    default_tier: standard\n"
		     "    shed_action: {standard: reject, sheddable: reject}\n"
		     "%s"
		     "controller: {tick: 100ms, lease: 3s}\n",
		     c->front.topo.end[SPW_TOPO_SRV].ifname, c->front.topo.end[SPW_TOPO_CLI].v4_str,
		     c->front.shed_addr, PG_PORT, no_signals ? "    signals: []\n" : "");

	assert_true(n > 0 && (size_t)n < len);
}

static void build(struct test_ctx *c, bool no_signals)
{
	char cfg[4096];

	pg_front_start(&c->front, PG_PORT, "-c max_connections=40");
	make_config(c, cfg, sizeof(cfg), no_signals);
	assert_int_equal(spw_daemon_launch(&c->front.d, cfg, SVC_ID, READY_TIMEOUT_MS), 0);
}

/* Waits until both learned targets are numbers; the ms it took from the start of traffic. */
static double wait_learned(struct test_ctx *c, double t0)
{
	while (spw_now_ms() - t0 < LEARN_TIMEOUT_MS) {
		if (!isnan(metric(c, SERIES("latency_p99"))) &&
		    !isnan(metric(c, SERIES("oldest_request_age"))))
			return spw_now_ms() - t0;
		spw_sleep_ms(250);
	}
	return -1;
}

static void assert_target_range(const char *what, double ms)
{
	printf("    %s target %.1f ms (band %.0f..%.0f)\n", what, ms, TARGET_LO_MS, TARGET_HI_MS);
	assert_true(ms >= TARGET_LO_MS && ms <= TARGET_HI_MS);
}

static void test_learned_targets_shed_a_slow_database(void **state)
{
	struct test_ctx *c = *state;
	double t0, learned_ms, shed_ms, back_ms, lat, age;

	build(c, false);
	t0 = spw_now_ms();
	app_start(c);

	/* Learning: no target yet, and nothing shed meanwhile. */
	spw_sleep_ms(LEARN_CHECK_MS);
	assert_true(isnan(metric(c, SERIES("latency_p99"))));
	assert_true(isnan(metric(c, SERIES("oldest_request_age"))));
	assert_int_equal(probe(c), 0);

	learned_ms = wait_learned(c, t0);
	printf("    learned after %.1f s of queries\n", learned_ms / 1e3);
	assert_true(learned_ms > 0);
	lat = metric(c, SERIES("latency_p99"));
	age = metric(c, SERIES("oldest_request_age"));
	assert_target_range("latency_p99", lat);
	assert_target_range("oldest_request_age", age);
	assert_int_equal(probe(c), 0);

	/* The database slows tenfold: its own latency is the overload signal. */
	__atomic_store_n(&c->app.delay_ms, SLOW_MS, __ATOMIC_RELAXED);
	shed_ms = probe_until(c, -ECONNREFUSED, SHED_TIMEOUT_MS);
	printf("    slow database: sheddable refused after %.1f s\n", shed_ms / 1e3);
	assert_true(shed_ms >= 0);
	spw_sleep_ms(SLOW_HOLD_MS);
	assert_int_equal(probe(c), -ECONNREFUSED);
	/* An overload is not learned as the new normal. */
	assert_true(metric(c, SERIES("latency_p99")) == lat);
	assert_true(metric(c, SERIES("oldest_request_age")) == age);

	__atomic_store_n(&c->app.delay_ms, QUIET_MS, __ATOMIC_RELAXED);
	back_ms = probe_until(c, 0, BACK_TIMEOUT_MS);
	printf("    quiet again: sheddable admitted after %.1f s\n", back_ms / 1e3);
	assert_true(back_ms >= 0);
	app_stop(&c->app);
	printf("    %ld queries, %ld failed\n", c->app.queries, c->app.failures);
	assert_int_equal(c->app.failures, 0);
}

/* No signal: the same slow database is never shed (what no signals key meant before auto). */
static void test_no_signal_sheds_nothing(void **state)
{
	struct test_ctx *c = *state;

	build(c, true);
	app_start(c);
	spw_sleep_ms(LEARN_CHECK_MS);
	__atomic_store_n(&c->app.delay_ms, SLOW_MS, __ATOMIC_RELAXED);
	assert_true(probe_until(c, -ECONNREFUSED, SHED_TIMEOUT_MS) < 0);
	app_stop(&c->app);
}

static int group_setup(void **state)
{
	return pg_front_group_setup(state, sizeof(struct test_ctx), "/tmp/spw-learnpg-XXXXXX");
}

static int setup(void **state)
{
	struct test_ctx *c = *state;

	pg_front_reset(&c->front);
	memset(&c->app, 0, sizeof(c->app));
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;

	app_stop(&c->app);
	pg_front_teardown(&c->front);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_learned_targets_shed_a_slow_database, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_signal_sheds_nothing, setup, teardown),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("netns learned targets in front of PostgreSQL", tests,
					   group_setup, pg_front_group_teardown);
}
