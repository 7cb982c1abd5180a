// SPDX-License-Identifier: GPL-2.0-only
/*
 * Requests in flight and the oldest request's age as the real spillwayd reports them
 * (tests/lib/daemon.h): a TCP server in the server namespace of a veth pair takes requests
 * and holds them; /metrics must show exactly the held requests in flight, on their tier and
 * as the in_flight signal, and the oldest one's age as long as it has been held (to a slot
 * and a tick); answering them brings both back to 0.
 *
 * One 3-tier TCP service, the daemon attached in native XDP mode (the SYN must be tracked)
 * with its TC egress program seeing the responses. The targets are far above what the test
 * holds, so nothing is shed. Then, with ticks 5 s apart and an in_flight target the held
 * requests pass, the level must fall between ticks: the in-flight watch.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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
#include <cmocka.h>

#include "daemon.h"
#include "netns.h"
#include "sockets.h"
#include "spillway_abi.h"
#include "spillway_state.h"

#define SVC_ID		 1
#define SVC_PORT	 8080
#define TICK_MS		 100
#define READY_TIMEOUT_MS 15000
/* Metrics follow the maps within a tick; a loaded 2-core machine may take a few. */
#define FRESH_TIMEOUT_MS 5000
/* Requests the server holds at once, and how long before it answers the first ones. */
#define HELD	5
#define HOLD_MS 600

#define IN_FLIGHT_TIER "spillway_requests_in_flight{service=\"api\",tier=\"standard\"}"
#define IN_FLIGHT_SIG  "spillway_signal_value{service=\"api\",signal=\"in_flight\",source=\"\"}"
#define OLDEST_AGE     "spillway_oldest_request_age_seconds{service=\"api\"}"

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	int listen_fd;
	int cli[HELD], srv[HELD];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The scene with one service of the given signals and controller settings. */
static int setup_with(void **state, const char *signals, const char *controller)
{
	struct test_ctx *c = calloc(1, sizeof(*c));
	char cfg[2048];

	if (!c)
		return -1;
	c->listen_fd = -1;
	for (int i = 0; i < HELD; i++)
		c->cli[i] = c->srv[i] = -1;
	*state = c;
	if (spw_topo_create(&c->topo))
		return -1;
	c->listen_fd = spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, SVC_PORT, 16);
	if (c->listen_fd < 0)
		return -1;
	if (spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, true))
		return -1;
	snprintf(cfg, sizeof(cfg),
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "tiers: [critical, standard, sheddable]\n"
		 "services: [{name: api, port: %d, default_tier: standard,\n"
		 "            signals: [%s]}]\n"
		 "controller: {%s}\n",
		 c->topo.end[SPW_TOPO_SRV].ifname, SVC_PORT, signals, controller);
	return spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS) ? -1 : 0;
}

/* Targets far above what the test holds: measured, never shedding. */
static int setup(void **state)
{
	char controller[128];

	snprintf(controller, sizeof(controller),
		 "tick: %dms, lease: 1s, cohort_rotation: 1h, stale_after: 2s", TICK_MS);
	return setup_with(state, "{in_flight: 1000}, {oldest_request_age: 30s}", controller);
}

/*
 * A target the held requests pass (5 against 3, a clear overload) and ticks WATCH_TICK_S
 * apart: the tick would cut only seconds after the requests arrive, the in-flight watch
 * (a fifth of a tick) within about a second.
 */
#define WATCH_TICK_S 5
#define WATCH_TARGET 3
static int setup_watch(void **state)
{
	char controller[128], signals[64];

	snprintf(controller, sizeof(controller),
		 "tick: %ds, lease: %ds, cohort_rotation: 1h, stale_after: %ds", WATCH_TICK_S,
		 4 * WATCH_TICK_S, 2 * WATCH_TICK_S);
	snprintf(signals, sizeof(signals), "{in_flight: %d}", WATCH_TARGET);
	return setup_with(state, signals, controller);
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;

	if (!c)
		return 0;
	spw_daemon_cleanup(&c->d);
	for (int i = 0; i < HELD; i++) {
		if (c->cli[i] >= 0)
			close(c->cli[i]);
		if (c->srv[i] >= 0)
			close(c->srv[i]);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	spw_topo_destroy(&c->topo);
	free(c);
	return 0;
}

/* Waits until series reads want; fails with the last reading after FRESH_TIMEOUT_MS. */
static void wait_metric_is(struct test_ctx *c, const char *series, double want)
{
	double end = now_ms() + FRESH_TIMEOUT_MS, v = -1;

	while (now_ms() < end) {
		if (!spw_daemon_metric(&c->d, series, &v) && v == want)
			return;
		usleep(TICK_MS * 1000 / 2);
	}
	fail_msg("%s: %g after %d ms, want %g", series, v, FRESH_TIMEOUT_MS, want);
}

static void answer(struct test_ctx *c, int i)
{
	static const char resp[] = "200 at last";
	char buf[sizeof(resp)];

	spw_send_all(c->srv[i], resp, sizeof(resp));
	spw_recv_exact(c->cli[i], buf, sizeof(buf));
	assert_memory_equal(buf, resp, sizeof(resp));
}

/* HELD connections from the client namespace, each accepted by the server. */
static void connect_all(struct test_ctx *c)
{
	struct sockaddr_storage to;
	int len = spw_topo_sockaddr(&c->topo, SPW_TOPO_SRV, AF_INET, SVC_PORT, &to);

	assert_true(len > 0);
	for (int i = 0; i < HELD; i++) {
		c->cli[i] = spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, AF_INET, SOCK_STREAM, 0);
		assert_true(c->cli[i] >= 0);
		spw_sock_timeouts(c->cli[i], FRESH_TIMEOUT_MS);
		assert_int_equal(connect(c->cli[i], (struct sockaddr *)&to, (socklen_t)len), 0);
		c->srv[i] = accept(c->listen_fd, NULL, NULL);
		assert_true(c->srv[i] >= 0);
	}
}

static void test_held_requests(void **state)
{
	static const char req[] = "GET /held";
	struct test_ctx *c = *state;
	double first_sent, age, held_ms;
	char buf[sizeof(req)];

	connect_all(c);
	wait_metric_is(c, IN_FLIGHT_TIER, 0);

	first_sent = now_ms();
	for (int i = 0; i < HELD; i++) {
		spw_send_all(c->cli[i], req, sizeof(req));
		spw_recv_exact(c->srv[i], buf, sizeof(buf));
	}
	wait_metric_is(c, IN_FLIGHT_TIER, HELD);
	wait_metric_is(c, IN_FLIGHT_SIG, HELD);
	wait_metric_is(c, "spillway_requests_in_flight{service=\"api\",tier=\"critical\"}", 0);

	/* The oldest request's age, read while it is held: never below the time it has been
	 * held (the reading is at most a tick old, the ring reads at most a slot high). */
	while (now_ms() - first_sent < HOLD_MS)
		usleep(20000);
	assert_int_equal(spw_daemon_metric(&c->d, OLDEST_AGE, &age), 0);
	held_ms = now_ms() - first_sent;
	print_message("    %d requests held %.0f ms: oldest age %.0f ms\n", HELD, held_ms,
		      age * 1e3);
	assert_true(age * 1e3 >= HOLD_MS - 2 * TICK_MS);
	assert_true(age * 1e3 <= held_ms + (1U << SPW_REQ_SLOT_SHIFT) / 1e3);

	/* Two answered: three left, the oldest still as old; then all, and nothing waits. */
	answer(c, 0);
	answer(c, 1);
	wait_metric_is(c, IN_FLIGHT_TIER, HELD - 2);
	for (int i = 2; i < HELD; i++)
		answer(c, i);
	wait_metric_is(c, IN_FLIGHT_TIER, 0);
	wait_metric_is(c, IN_FLIGHT_SIG, 0);
	wait_metric_is(c, OLDEST_AGE, 0);

	/* A request outstanding when its connection closes is no longer in flight. */
	spw_send_all(c->cli[0], req, sizeof(req));
	spw_recv_exact(c->srv[0], buf, sizeof(buf));
	wait_metric_is(c, IN_FLIGHT_TIER, 1);
	close(c->cli[0]);
	c->cli[0] = -1;
	wait_metric_is(c, IN_FLIGHT_TIER, 0);
}

/*
 * Requests that pass the in_flight target are cut between ticks. The daemon ticks once as it
 * starts and is ready right after: the next tick is about WATCH_TICK_S away, the watch comes
 * a fifth of that after the requests.
 */
static void test_watch_cuts_between_ticks(void **state)
{
	static const char req[] = "GET /held";
	struct test_ctx *c = *state;
	struct spw_state_file *st = calloc(1, sizeof(*st));
	double sent, level = -1, full = -1, waited;
	char buf[sizeof(req)];

	assert_non_null(st);
	assert_int_equal(
	    spw_daemon_metric(&c->d, "spillway_admit_level_max{service=\"api\"}", &full), 0);
	connect_all(c);
	sent = now_ms();
	for (int i = 0; i < HELD; i++) {
		spw_send_all(c->cli[i], req, sizeof(req));
		spw_recv_exact(c->srv[i], buf, sizeof(buf));
	}
	/* The state file, not /metrics: the exporter's snapshot is taken at ticks. */
	while (now_ms() - sent < WATCH_TICK_S * 1e3) {
		if (!spw_daemon_state(&c->d, st) && st->nservices == 1 &&
		    (level = st->services[0].level) < full)
			break;
		usleep(20000);
	}
	free(st);
	waited = now_ms() - sent;
	print_message("    %d requests in flight against %d: level %g of %g after %.0f ms "
		      "(tick %d s)\n",
		      HELD, WATCH_TARGET, level, full, waited, WATCH_TICK_S);
	assert_true(level < full);
	/* A fifth of a tick is 1 s; the rest is a loaded machine's margin, half the tick. */
	assert_true(waited < WATCH_TICK_S * 1e3 / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_held_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_cuts_between_ticks, setup_watch, teardown),
	};

	return cmocka_run_group_tests_name("requests in flight, as the daemon reports them", tests,
					   NULL, NULL);
}
