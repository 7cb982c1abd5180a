// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exempt sources through the real spillwayd (tests/lib/daemon.h) and real TCP connects, with
 * the client's tier shed in full by a manual override:
 *
 *   (a) exempt: [address 1/32]: a connect from address 1 is admitted, counted exempt (in the
 *       data plane's counter and in spillway_new_flows_total), while one from address 2, in
 *       the same tier, is refused; `spillway explain` says the same of each;
 *   (b) the config rewritten to exempt address 2 instead, and SIGHUP: now 2 connects and 1 is
 *       refused, and explain follows;
 *   (c) a bad exempt list on SIGHUP is refused and the running exempt set keeps working;
 *   (d) exempt_host_addresses: the daemon's namespace's own addresses are in spw_exempt, an
 *       address added to its interface is there after SIGHUP, and none of them is once the
 *       key is false (the configured prefixes stay). The host's own connections go over lo and
 *       never meet the XDP program on the veth, so this case reads the map instead of
 *       connecting.
 *
 * Topology (tests/lib/netns.h): spillwayd in the server namespace, XDP in native mode on its
 * veth; the client's veth carries the empty XDP program, without which the RSTs a reject sends
 * with XDP_TX never arrive. The client has two IPv4 sources: its veth's address (1) and .3 of
 * the same /24 (2), both in the service's default tier, standard. The override holds the level
 * at the floor (tier 0 admitted, standard and sheddable shed with reject), so a connect that is
 * not exempt is refused at once, whatever cohort the salt puts its source in. The tests run in
 * order and share one daemon.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "spillway_rank.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "cmd.h"
#include "daemon.h"
#include "netns.h"
#include "sockets.h"
#include "util.h"
#include "daemon_scene.h"

#define SVC_ID	 1
#define SVC_PORT 8080
#define TIER_STD 1 /* the default tier of the service: both sources */
#define TICK_MS	 100
/* Loading and verifying two BPF objects takes a few hundred ms; a loaded machine, more. */
#define READY_TIMEOUT_MS 15000
/* Anything that should happen at once (a reload, an admitted connect, a refusal). */
#define IO_TIMEOUT_MS 3000
/* The override outlives the test by far: the control law never takes over. */
#define OVERRIDE_NS (3600ULL * 1000000000ULL)
/* Level of the override: the floor, tier 0 only (rank < SPW_COHORTS). */
#define SHED_LEVEL SPW_COHORTS
/* Connects per source and case: more than one shows a retry is decided the same way. */
#define TRIES 3

/* The two client sources. */
enum src { SRC_1, SRC_2, SRC_COUNT };

struct test_ctx {
	struct daemon_scene scene; /* first: daemon_scene_group_setup() makes the context */
	char addr[SRC_COUNT][INET_ADDRSTRLEN];
	char host_extra[INET_ADDRSTRLEN]; /* (d): added to the server's veth later */
};
_Static_assert(offsetof(struct test_ctx, scene) == 0, "the scene begins the context");

/* ---- the config -------------------------------------------------------------------------- */

/* The config with exempt list `exempt` (YAML flow sequence text) and the host key as given. */
static void write_config(struct test_ctx *c, const char *exempt, bool host_addresses)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf),
			 "# spillwayd under tests/netns/test_exempt.c\n"
			 "interfaces: [{name: %s, mode: xdp}]\n"
			 "tiers: [critical, standard, sheddable]\n"
			 "exempt: %s\n"
			 "exempt_host_addresses: %s\n"
			 "services:\n"
			 "  - name: api\n"
			 "    protocol: tcp\n"
			 "    port: %d\n"
			 "    default_tier: standard\n"
			 "    shed_action: {standard: reject, sheddable: reject}\n"
			 "    signals:\n"
			 "      - {pool: db, target: 0.85}\n"
			 "controller: {tick: %dms, lease: 1s, cohort_rotation: 1h, "
			 "stale_after: 2s}\n",
			 c->scene.topo.end[SPW_TOPO_SRV].ifname, exempt,
			 host_addresses ? "true" : "false", SVC_PORT, TICK_MS);

	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(spw_daemon_write_config(&c->scene.d, buf), 0);
}

/* "[A/32]": the exempt list of one client source. */
static void exempt_of(struct test_ctx *c, enum src s, char *buf, size_t len)
{
	int n = snprintf(buf, len, "[%s/32]", c->addr[s]);

	assert_true(n > 0 && (size_t)n < len);
}

/* SIGHUP, then waits for the log line that says how the reload went. */
static void reload_expect(struct test_ctx *c, const char *line)
{
	spw_daemon_log_mark(&c->scene.d);
	assert_int_equal(spw_daemon_signal(&c->scene.d, SIGHUP), 0);
	if (spw_daemon_log_wait(&c->scene.d, line, IO_TIMEOUT_MS)) {
		spw_daemon_log_dump(&c->scene.d);
		fail_msg("no \"%s\" in the log %d ms after SIGHUP", line, IO_TIMEOUT_MS);
	}
}

/* ---- the data plane's view --------------------------------------------------------------- */

static uint64_t count(struct test_ctx *c, enum spw_reason r)
{
	struct spw_count n;

	assert_non_null(c->scene.d.dp);
	assert_int_equal(spw_dp_counter_read(c->scene.d.dp, SVC_ID, TIER_STD, r, &n), 0);
	return n.packets;
}

/* Whether spw_exempt covers addr (text): 0 or -ENOENT. */
static int exempt_lookup(struct test_ctx *c, const char *text)
{
	uint8_t addr[SPW_ADDR_LEN];
	bool is_v4;

	assert_non_null(c->scene.d.dp);
	assert_int_equal(spw_addr_parse(text, addr, &is_v4), 0);
	return spw_dp_exempt_lookup(c->scene.d.dp, addr, is_v4);
}

/* The override is set and the daemon has written it into the policy. */
static void shed_standard(struct test_ctx *c)
{
	struct spw_override o = {.expires_ns = spw_now_ns() + OVERRIDE_NS, .level = SHED_LEVEL};
	double start = spw_now_ms();
	struct spw_policy p;

	assert_int_equal(spw_dp_override_set(c->scene.d.dp, SVC_ID, &o), 0);
	for (;;) {
		assert_int_equal(spw_dp_policy_get(c->scene.d.dp, SVC_ID, &p), 0);
		if (spw_effective_level(&p) == SHED_LEVEL && p.partial == 0)
			return;
		if (spw_now_ms() - start > IO_TIMEOUT_MS)
			fail_msg("the policy's level is %u, not the override's %u, %d ms later",
				 spw_effective_level(&p), SHED_LEVEL, IO_TIMEOUT_MS);
		spw_sleep_ms(10);
	}
}

/* ---- connects ---------------------------------------------------------------------------- */

static const char *result_name(int r)
{
	return r == SPW_CONN_OK	       ? "a connection"
	       : r == SPW_CONN_PENDING ? "no answer"
				       : strerror(-r);
}

/* One connect from source s to the service, closed again (accepted first when admitted). */
static int attempt(struct test_ctx *c, enum src s)
{
	struct sockaddr_storage src, dst;
	int dstlen = spw_topo_sockaddr(&c->scene.topo, SPW_TOPO_SRV, AF_INET, SVC_PORT, &dst);
	int srclen = spw_topo_sockaddr(&c->scene.topo, SPW_TOPO_CLI, AF_INET, 0, &src);
	int fd, r;
	double ms;

	assert_true(dstlen > 0 && srclen > 0);
	assert_int_equal(inet_pton(AF_INET, c->addr[s], &((struct sockaddr_in *)&src)->sin_addr),
			 1);
	fd = spw_fds_track(&c->scene.fds, spw_netns_socket(c->scene.topo.end[SPW_TOPO_CLI].ns,
							   AF_INET, SOCK_STREAM, 0));
	assert_int_equal(bind(fd, (struct sockaddr *)&src, (socklen_t)srclen), 0);
	r = spw_connect_timed(fd, &dst, (socklen_t)dstlen, IO_TIMEOUT_MS, IO_TIMEOUT_MS, &ms);
	if (r == SPW_CONN_OK) {
		int afd;

		assert_true(spw_sock_readable(c->scene.listen_fd, IO_TIMEOUT_MS));
		afd = spw_fds_track(&c->scene.fds,
				    accept4(c->scene.listen_fd, NULL, NULL, SOCK_CLOEXEC));
		spw_fds_close(&c->scene.fds, afd);
	}
	spw_fds_close(&c->scene.fds, fd);
	return r;
}

/*
 * TRIES connects from s, each admitted (exempt) or each refused, as `admitted` says; the
 * data plane's exempt and shed_level counters of the tier move by exactly that.
 */
static void expect(struct test_ctx *c, enum src s, bool admitted, const char *when)
{
	uint64_t ex = count(c, SPW_REASON_EXEMPT), shed = count(c, SPW_REASON_SHED_LEVEL);
	int want = admitted ? SPW_CONN_OK : -ECONNREFUSED;

	for (int i = 0; i < TRIES; i++) {
		int r = attempt(c, s);

		if (r != want)
			fail_msg("%s: a connect from %s got %s, expected %s", when, c->addr[s],
				 result_name(r), result_name(want));
	}
	assert_int_equal(count(c, SPW_REASON_EXEMPT) - ex, admitted ? TRIES : 0);
	assert_int_equal(count(c, SPW_REASON_SHED_LEVEL) - shed, admitted ? 0 : TRIES);
}

/* `spillway explain` of a connect from s: its text names decision. */
static void expect_explain(struct test_ctx *c, enum src s, const char *decision)
{
	char port[8], want[64];
	const char *argv[] = {c->scene.cli,  "--pin-root",   c->scene.d.pin_root,
			      "--state-dir", c->scene.d.dir, "explain",
			      c->addr[s],    port,	     NULL};
	char *out = NULL;
	int st;

	snprintf(port, sizeof(port), "%d", SVC_PORT);
	snprintf(want, sizeof(want), "decision: %s:", decision);
	st = spw_cmd_capture(argv, &out);
	if (st != 0 || !out || !strstr(out, want)) {
		char copy[4096];

		snprintf(copy, sizeof(copy), "%s", out ? out : "");
		free(out);
		fail_msg("explain %s exited %d without \"%s\":\n%s", c->addr[s], st, want, copy);
	}
	free(out);
}

/* ---- setup and teardown ------------------------------------------------------------------ */

static int group_setup(void **state)
{
	struct test_ctx *c;
	char host[INET_ADDRSTRLEN + 4];
	struct in_addr a;

	if (daemon_scene_group_setup(state, sizeof(struct test_ctx), SVC_PORT))
		return -1;
	c = *state;
	/* Source 2 (.3) and the server's later address (.9), beside the veths' .1 and .2. */
	snprintf(c->addr[SRC_1], sizeof(c->addr[SRC_1]), "%s",
		 c->scene.topo.end[SPW_TOPO_CLI].v4_str);
	a.s_addr = htonl((ntohl(c->scene.topo.end[SPW_TOPO_CLI].v4.s_addr) & 0xffffff00u) | 3);
	inet_ntop(AF_INET, &a, c->addr[SRC_2], sizeof(c->addr[SRC_2]));
	a.s_addr = htonl((ntohl(a.s_addr) & 0xffffff00u) | 9);
	inet_ntop(AF_INET, &a, c->host_extra, sizeof(c->host_extra));
	snprintf(host, sizeof(host), "%s/32", c->addr[SRC_2]);
	if (spw_topo_addr_add(&c->scene.topo, SPW_TOPO_CLI, host))
		return -1;
	return spw_daemon_init(&c->scene.d, c->scene.topo.end[SPW_TOPO_SRV].ns, true) ? -1 : 0;
}

/* ---- (a) one exempt source --------------------------------------------------------------- */

static void test_exempt_source(void **state)
{
	struct test_ctx *c = *state;
	char list[64], series[160];
	uint64_t ex;
	double v = -1;

	exempt_of(c, SRC_1, list, sizeof(list));
	write_config(c, list, true);
	assert_int_equal(spw_daemon_start(&c->scene.d), 0);
	assert_int_equal(spw_daemon_wait_ready(&c->scene.d, SVC_ID, READY_TIMEOUT_MS), 0);
	shed_standard(c);

	expect(c, SRC_2, false, "(a) standard shed, source 2 not exempt");
	expect(c, SRC_1, true, "(a) standard shed, source 1 exempt");
	expect(c, SRC_2, false, "(a) after source 1's connects");
	expect_explain(c, SRC_1, "exempt");
	expect_explain(c, SRC_2, "shed_level");

	/* The exporter shows the same count (it reads the counters at each scrape). */
	ex = count(c, SPW_REASON_EXEMPT);
	snprintf(series, sizeof(series),
		 "spillway_new_flows_total{service=\"api\",tier=\"standard\",decision=\"exempt\"}");
	assert_int_equal(spw_daemon_metric(&c->scene.d, series, &v), 0);
	if (v != (double)ex)
		fail_msg("%s is %.0f, the data plane counted %llu", series, v,
			 (unsigned long long)ex);
	assert_true(ex >= TRIES);
}

/* ---- (b) SIGHUP moves the exemption ------------------------------------------------------ */

static void test_reload_moves(void **state)
{
	struct test_ctx *c = *state;
	char list[64];

	exempt_of(c, SRC_2, list, sizeof(list));
	write_config(c, list, true);
	reload_expect(c, "config reloaded from");
	assert_int_equal(exempt_lookup(c, c->addr[SRC_1]), -ENOENT);
	assert_int_equal(exempt_lookup(c, c->addr[SRC_2]), 0);

	expect(c, SRC_2, true, "(b) after the reload that exempts source 2");
	expect(c, SRC_1, false, "(b) after the reload that no longer exempts source 1");
	expect_explain(c, SRC_2, "exempt");
	expect_explain(c, SRC_1, "shed_level");
}

/* ---- (c) a bad file keeps the running exempt set ----------------------------------------- */

static void test_bad_reload_keeps(void **state)
{
	struct test_ctx *c = *state;

	/* Both: one bad entry refuses the whole file, the good one is not applied either. */
	{
		char list[96];
		int n = snprintf(list, sizeof(list), "[%s/32, 198.18.300.1/32]", c->addr[SRC_1]);

		assert_true(n > 0 && (size_t)n < sizeof(list));
		write_config(c, list, true);
	}
	reload_expect(c, "config reload failed");
	assert_int_equal(exempt_lookup(c, c->addr[SRC_1]), -ENOENT);
	assert_int_equal(exempt_lookup(c, c->addr[SRC_2]), 0);

	expect(c, SRC_2, true, "(c) after a refused reload, source 2 still exempt");
	expect(c, SRC_1, false, "(c) after a refused reload, source 1 still not exempt");
	assert_true(spw_daemon_alive(&c->scene.d));
}

/* ---- (d) the host's own addresses -------------------------------------------------------- */

static void test_host_addresses(void **state)
{
	struct test_ctx *c = *state;
	const struct spw_topo_end *srv = &c->scene.topo.end[SPW_TOPO_SRV];
	char list[64], host[INET_ADDRSTRLEN + 4];

	/* Read at start: the server's veth addresses and lo's; not the client's. */
	assert_int_equal(exempt_lookup(c, srv->v4_str), 0);
	assert_int_equal(exempt_lookup(c, srv->v6_str), 0);
	assert_int_equal(exempt_lookup(c, "127.0.0.1"), 0);
	assert_int_equal(exempt_lookup(c, "::1"), 0);
	assert_int_equal(exempt_lookup(c, c->addr[SRC_1]), -ENOENT);
	/* The IPv4 address as an IPv6 packet's mapped source is another address. */
	{
		char mapped[INET6_ADDRSTRLEN];

		snprintf(mapped, sizeof(mapped), "::ffff:%s", srv->v4_str);
		assert_int_equal(exempt_lookup(c, mapped), -ENOENT);
	}

	/* Read again on SIGHUP: an address added since is exempt. */
	assert_int_equal(exempt_lookup(c, c->host_extra), -ENOENT);
	snprintf(host, sizeof(host), "%s/32", c->host_extra);
	assert_int_equal(spw_topo_addr_add(&c->scene.topo, SPW_TOPO_SRV, host), 0);
	exempt_of(c, SRC_2, list, sizeof(list));
	write_config(c, list, true);
	reload_expect(c, "config reloaded from");
	assert_int_equal(exempt_lookup(c, c->host_extra), 0);

	/* Turned off: the host's addresses go, the configured source stays. */
	write_config(c, list, false);
	reload_expect(c, "config reloaded from");
	assert_int_equal(exempt_lookup(c, c->host_extra), -ENOENT);
	assert_int_equal(exempt_lookup(c, srv->v4_str), -ENOENT);
	assert_int_equal(exempt_lookup(c, srv->v6_str), -ENOENT);
	assert_int_equal(exempt_lookup(c, "127.0.0.1"), -ENOENT);
	assert_int_equal(exempt_lookup(c, c->addr[SRC_2]), 0);
	expect(c, SRC_2, true, "(d) host addresses off, source 2 still exempt");
	expect(c, SRC_1, false, "(d) host addresses off, source 1 still not exempt");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exempt_source),
	    cmocka_unit_test(test_reload_moves),
	    cmocka_unit_test(test_bad_reload_keeps),
	    cmocka_unit_test(test_host_addresses),
	};

	return cmocka_run_group_tests(tests, group_setup, daemon_scene_group_teardown);
}
