// SPDX-License-Identifier: GPL-2.0-only
/*
 * Admission with real sockets: a client and a server namespace joined by a veth pair, spillway
 * on the server's veth, the kernel's own TCP/UDP stacks on both ends. What the BPF tests check
 * packet by packet through BPF_PROG_RUN is checked here as a client sees it: connect() succeeds,
 * hangs, or fails with ECONNREFUSED; an established connection survives shedding; a UDP client
 * gets the ICMP error its socket reports.
 *
 * The client is put in tier 2 of a 3-tier service by a CIDR rule for its own address (the
 * service's default tier is 0, which the floor protects, so a rule that did not match would
 * show as "admitted" where "shed" is expected). Levels sit exactly at the client's rank:
 * rank + 1 admits it, rank sheds it, so the cohort the data plane hashes must be the one
 * spillway_rank.h computes.
 *
 * Each test builds and deletes its own topology and its own pin root. XDP runs in native mode
 * on the server's veth; the client's veth carries the empty XDP program, without which frames
 * sent back with XDP_TX never arrive (a veth drops XDP frames its peer has no XDP program for). TX
 * checksum offload is off on both veths (netns.c), so no packet the data plane sees or rewrites
 * carries a partial checksum that only the sending stack would have completed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spillway_rank.h"
#include "spw_dataplane.h"
#include "netns.h"
#include "attach.h"
#include "sockets.h"
#include "util.h"
#include "nfx.h"
#include "spw_fixture.h"
#include "empty_xdp.skel.h"

#define SVC_TCP	 1
#define SVC_UDP	 2
#define TCP_PORT 8080
#define UDP_PORT 9053

/* A 3-tier service, client in the most sheddable tier, unclassified traffic in tier 0. */
#define TIERS	     3
#define CLIENT_TIER  2
#define DEFAULT_TIER 0
/* One full tier: tier 0 is admitted whatever the level. */
#define FLOOR SPW_COHORTS
/* Long enough never to expire during a test, so a fail-open cannot pass for an admit. */
#define LEASE_NS (60ULL * 1000 * 1000 * 1000)

/*
 * A dropped SYN is retransmitted after 1 s; 1.5 s covers the first retransmission, which must
 * be dropped too. A reject must beat any retransmission by far: 500 ms, on a noisy machine.
 */
#define DROP_WAIT_MS  1500
#define REJECT_MAX_MS 500
/* Anything that should happen at once (accept, echo, an admitted connect) gets this long. */
#define IO_TIMEOUT_MS 3000
/* Round trips on an established connection after its tier is shed. */
#define ROUND_TRIPS 10
/* Round trips that show an admitted connection carries data. */
#define ECHO_ROUNDS 3

struct test_ctx {
	struct spw_nfx nfx;
	uint32_t salt;
	struct spw_fds fds; /* closed by the teardown, also after a failed assertion */
	int tcp_listen[2];  /* [0] IPv4, [1] IPv6, in the server namespace */
	int udp_server[2];
};

static const enum spw_attach_mode mode_xdp = SPW_ATTACH_XDP;
static const enum spw_attach_mode mode_tc = SPW_ATTACH_TC;

static int fam_idx(int family)
{
	return family == AF_INET6;
}

static const char *fam_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

static int sock_in(struct test_ctx *c, enum spw_topo_side side, int family, int type)
{
	return spw_fds_track(&c->fds, spw_nfx_socket(&c->nfx, side, family, type));
}

static socklen_t addr_of(struct test_ctx *c, enum spw_topo_side side, int family, uint16_t port,
			 struct sockaddr_storage *ss)
{
	int len = spw_nfx_addr(&c->nfx, side, family, port, ss);

	assert_true(len > 0);
	return (socklen_t)len;
}

/* The client's address in the data plane's 16-byte form. */
static void client_addr16(struct test_ctx *c, int family, uint8_t addr[SPW_ADDR_LEN])
{
	assert_int_equal(spw_nfx_client_addr16(&c->nfx, family, addr), 0);
}

/* The rank the data plane must give this client: tier 2, the cohort of its /24 or /64. */
static uint16_t client_rank(struct test_ctx *c, int family)
{
	uint8_t addr[SPW_ADDR_LEN];

	client_addr16(c, family, addr);
	return (uint16_t)spw_rank(CLIENT_TIER,
				  spw_cohort(addr, c->salt, SPW_V6_COHORT_PREFIX_DEFAULT));
}

static void set_policy(struct test_ctx *c, uint32_t svc, uint16_t admit_level, uint8_t action,
		       uint8_t flags)
{
	struct spw_policy p;

	spw_policy_init(&p, TIERS, DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.floor_level = FLOOR;
	p.admit_level = admit_level;
	p.flags = flags;
	for (int t = 0; t < SPW_MAX_TIERS; t++)
		p.action[t] = action;
	assert_int_equal(spw_dp_policy_set(c->nfx.dp, svc, &p), 0);
}

/* The lowest level that still admits the client: its own rank is the cut-off. */
static void admit_client(struct test_ctx *c, uint32_t svc, int family)
{
	set_policy(c, svc, client_rank(c, family) + 1, SPW_ACTION_DROP, 0);
}

/* The highest level that sheds the client: everything of tier 2 below its cohort still passes. */
static void shed_client(struct test_ctx *c, uint32_t svc, int family, uint8_t action, uint8_t flags)
{
	set_policy(c, svc, client_rank(c, family), action, flags);
}

/* Counters are compared against the fixture's mark, taken before each step. */
static void mark(struct test_ctx *c)
{
	assert_int_equal(spw_fixture_mark(&c->nfx.fx), 0);
}

/* Packets counted for (svc, client tier, reason) since the mark. */
static uint64_t moved(struct test_ctx *c, uint32_t svc, enum spw_reason r)
{
	struct spw_count d;

	assert_int_equal(spw_fixture_delta(&c->nfx.fx, svc, CLIENT_TIER, r, &d), 0);
	return d.packets;
}

/* ---- sockets ----------------------------------------------------------------------------- */

/*
 * A non-blocking connect from the client namespace, waited for at most wait_ms. Returns
 * SPW_CONN_OK, SPW_CONN_PENDING or the negative errno the connection failed with; *ms is how
 * long the outcome took. The socket is tracked and returned in *fd.
 */
static int try_connect(struct test_ctx *c, int family, int type, uint16_t port, int wait_ms,
		       double *ms, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(c, SPW_TOPO_SRV, family, port, &ss);

	*fd = sock_in(c, SPW_TOPO_CLI, family, type);
	return spw_connect_timed(*fd, &ss, len, wait_ms, IO_TIMEOUT_MS, ms);
}

static int accept_one(struct test_ctx *c, int family)
{
	int lfd = c->tcp_listen[fam_idx(family)], fd;

	assert_true(spw_sock_readable(lfd, IO_TIMEOUT_MS));
	fd = spw_fds_track(&c->fds, accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
	spw_sock_timeouts(fd, IO_TIMEOUT_MS);
	return fd;
}

/* Nothing completed the handshake: the server never saw the connection. */
static void assert_no_pending_accept(struct test_ctx *c, int family)
{
	assert_false(spw_sock_readable(c->tcp_listen[fam_idx(family)], 0));
}

/* Connects, expecting success at once, and returns the client and accepted server sockets. */
static void connect_ok(struct test_ctx *c, int family, int *cli, int *srv)
{
	double ms;
	int ret = try_connect(c, family, SOCK_STREAM, TCP_PORT, IO_TIMEOUT_MS, &ms, cli);

	if (ret != SPW_CONN_OK)
		fail_msg("%s connect: expected success, got %s after %.0f ms", fam_name(family),
			 ret == SPW_CONN_PENDING ? "no answer" : strerror(-ret), ms);
	*srv = accept_one(c, family);
}

/* ---- setup and teardown ------------------------------------------------------------------ */

static int listen_on(struct test_ctx *c, int family, int type, uint16_t port)
{
	return spw_fds_track(&c->fds, spw_topo_listen(&c->nfx.topo, family, type, port, 16));
}

static void add_client_rule(struct test_ctx *c, int family, uint32_t rule_id)
{
	assert_int_equal(spw_nfx_client_rule(&c->nfx, family, CLIENT_TIER, rule_id), 0);
}

static void add_service(struct test_ctx *c, uint8_t proto, uint16_t port, uint32_t svc)
{
	assert_int_equal(spw_nfx_service(&c->nfx, proto, port, svc), 0);
}

/*
 * cmocka skips the teardown when a setup fails, so the setup only allocates; the topology
 * and the data plane are built here, at the start of each test, where a failed assertion still
 * leads to the teardown.
 */
static struct test_ctx *build(void **state)
{
	struct test_ctx *c = *state;
	struct spw_globals g;

	assert_int_equal(spw_nfx_open(&c->nfx, c->nfx.mode, NULL), 0);

	add_service(c, IPPROTO_TCP, TCP_PORT, SVC_TCP);
	add_service(c, IPPROTO_UDP, UDP_PORT, SVC_UDP);
	add_client_rule(c, AF_INET, 1);
	add_client_rule(c, AF_INET6, 2);
	assert_int_equal(spw_dp_globals_get(c->nfx.dp, &g), 0);
	c->salt = g.cohort_salt;
	/* Everything admitted until a test says otherwise. */
	set_policy(c, SVC_TCP, SPW_RANK_LIMIT, SPW_ACTION_DROP, 0);
	set_policy(c, SVC_UDP, SPW_RANK_LIMIT, SPW_ACTION_DROP, 0);

	assert_int_equal(spw_nfx_attach(&c->nfx), 0);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		c->tcp_listen[f] = listen_on(c, family, SOCK_STREAM, TCP_PORT);
		c->udp_server[f] = listen_on(c, family, SOCK_DGRAM, UDP_PORT);
	}
	return c;
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->nfx.mode = *(const enum spw_attach_mode *)*state;
	*state = c;
	return 0;
}

/* Runs also after a failed assertion; also checks no namespace or pin is left behind. */
static int teardown(void **state)
{
	struct test_ctx *c = *state;
	int left;

	if (!c)
		return 0;
	spw_fds_close_all(&c->fds);
	left = spw_nfx_close(&c->nfx);
	free(c);
	*state = NULL;
	return left;
}

/* ---- the cases --------------------------------------------------------------------------- */

/* (a) Admitted exactly at the cut-off: the handshake completes and data flows both ways. */
static void test_admitted_connect(void **state)
{
	struct test_ctx *c = build(state);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, cli, srv;

		admit_client(c, SVC_TCP, family);
		mark(c);
		connect_ok(c, family, &cli, &srv);
		spw_round_trips(cli, srv, ECHO_ROUNDS, fam_name(family));
		/* One SYN, one decision; nothing shed, and the rest of the flow is no new flow. */
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_ADMITTED), 1);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_SHED_LEVEL), 0);
		/*
		 * The flow table gives later packets their tier: each data segment of the client
		 * is counted in tier 2. (Pure ACKs are not looked up and land in the no-tier row.)
		 */
		assert_true(moved(c, SVC_TCP, SPW_REASON_ESTABLISHED) >= ECHO_ROUNDS);
	}
}

/* (b) Shed with drop: the SYN and its retransmission vanish, connect() stays pending. */
static void test_shed_drop_times_out(void **state)
{
	struct test_ctx *c = build(state);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, fd;
		double ms;
		int ret;

		shed_client(c, SVC_TCP, family, SPW_ACTION_DROP, 0);
		mark(c);
		ret = try_connect(c, family, SOCK_STREAM, TCP_PORT, DROP_WAIT_MS, &ms, &fd);
		if (ret != SPW_CONN_PENDING)
			fail_msg("%s connect while shed (drop): expected no answer, got %s after "
				 "%.0f ms",
				 fam_name(family), ret ? strerror(-ret) : "a connection", ms);
		spw_fds_close(&c->fds, fd);
		assert_no_pending_accept(c, family);
		/* At least the first SYN; its retransmission at 1 s was not let through either. */
		assert_true(moved(c, SVC_TCP, SPW_REASON_SHED_LEVEL) >= 1);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_ADMITTED), 0);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_WOULD_SHED), 0);
	}
}

static void expect_refused(struct test_ctx *c, int family, int type, uint16_t port,
			   int expect_errno)
{
	double ms;
	int fd, ret;

	ret = try_connect(c, family, type, port, DROP_WAIT_MS, &ms, &fd);
	if (ret != -expect_errno)
		fail_msg("%s connect while shed (reject): expected %s, got %s after %.0f ms",
			 fam_name(family), strerror(expect_errno),
			 ret == SPW_CONN_PENDING ? "no answer"
			 : ret == SPW_CONN_OK	 ? "a connection"
						 : strerror(-ret),
			 ms);
	if (ms >= REJECT_MAX_MS)
		fail_msg("%s reject took %.0f ms (limit %d)", fam_name(family), ms, REJECT_MAX_MS);
}

/* (c) Shed with reject: the RST+ACK arrives and connect() fails at once. */
static void reject_both_families(struct test_ctx *c)
{
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;

		shed_client(c, SVC_TCP, family, SPW_ACTION_REJECT, 0);
		mark(c);
		expect_refused(c, family, SOCK_STREAM, TCP_PORT, ECONNREFUSED);
		assert_no_pending_accept(c, family);
		/* A refused client does not retransmit: exactly one SYN was seen. */
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_SHED_LEVEL), 1);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_REJECT_FAILED), 0);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_ADMITTED), 0);
	}
}

static void test_shed_reject_refused(void **state)
{
	reject_both_families(build(state));
}

/*
 * (d) Established flows are never shed: the level drops to the floor (tiers 1 and 2 shed,
 * reject so a wrongly treated packet would reset the connection at once) and the open
 * connection keeps echoing, while a new connection of the same client is refused.
 */
static void test_established_survives_shed(void **state)
{
	struct test_ctx *c = build(state);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, cli, srv;

		set_policy(c, SVC_TCP, SPW_RANK_LIMIT, SPW_ACTION_REJECT, 0);
		connect_ok(c, family, &cli, &srv);
		spw_round_trips(cli, srv, 2, "before");

		/* 0: the floor alone decides, which keeps tier 0 and sheds the rest. */
		set_policy(c, SVC_TCP, 0, SPW_ACTION_REJECT, 0);
		mark(c);
		expect_refused(c, family, SOCK_STREAM, TCP_PORT, ECONNREFUSED);
		spw_round_trips(cli, srv, ROUND_TRIPS, "after");
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_SHED_LEVEL), 1);
		/* Each client data segment of the round trips passed as established, in tier 2. */
		assert_true(moved(c, SVC_TCP, SPW_REASON_ESTABLISHED) >= ROUND_TRIPS);
	}
}

/* (e) Dry run: a client that would be shed connects, and the decision is only counted. */
static void test_dry_run(void **state)
{
	struct test_ctx *c = build(state);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, cli, srv;

		shed_client(c, SVC_TCP, family, SPW_ACTION_REJECT, SPW_POLICY_DRY_RUN);
		mark(c);
		connect_ok(c, family, &cli, &srv);
		spw_round_trips(cli, srv, ECHO_ROUNDS, "dry run");
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_WOULD_SHED), 1);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_SHED_LEVEL), 0);
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_ADMITTED), 0);
	}
}

/*
 * (f) UDP with reject: ICMP destination unreachable, code 13 (communication administratively
 * prohibited), which Linux reports as EHOSTUNREACH (icmp_err_convert[ICMP_PKT_FILTERED]); for
 * ICMPv6 destination unreachable, code 1 (administratively prohibited), EACCES
 * (icmpv6_err_convert). Both are hard errors, so a connected UDP socket returns them from the
 * next recv() without IP_RECVERR.
 */
static void udp_reject_both_families(struct test_ctx *c)
{
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, expect = f ? EACCES : EHOSTUNREACH;
		int srv = c->udp_server[f], fd, err;
		const char msg[] = "datagram";
		char buf[64];
		double ms, t0;
		ssize_t n;

		/* Admitted first: the path works, so an error below can only be the reject. */
		admit_client(c, SVC_UDP, family);
		assert_int_equal(try_connect(c, family, SOCK_DGRAM, UDP_PORT, 0, &ms, &fd),
				 SPW_CONN_OK);
		spw_send_all(fd, msg, sizeof(msg));
		assert_true(spw_sock_readable(srv, IO_TIMEOUT_MS));
		assert_int_equal(recv(srv, buf, sizeof(buf), 0), sizeof(msg));

		/* A new socket is a new source port, so a new flow that must be decided. */
		shed_client(c, SVC_UDP, family, SPW_ACTION_REJECT, 0);
		mark(c);
		assert_int_equal(try_connect(c, family, SOCK_DGRAM, UDP_PORT, 0, &ms, &fd),
				 SPW_CONN_OK);
		t0 = spw_now_ms();
		spw_send_all(fd, msg, sizeof(msg));
		spw_sock_nonblock(fd, true);
		/* The error shows as POLLERR; no wait result to check, recv() says what came. */
		(void)spw_sock_readable(fd, DROP_WAIT_MS);
		n = recv(fd, buf, sizeof(buf), 0);
		err = n < 0 ? errno : 0;
		ms = spw_now_ms() - t0;
		if (n >= 0 || err != expect)
			fail_msg("%s UDP while shed (reject): expected %s, got %s after %.0f ms",
				 fam_name(family), strerror(expect),
				 n >= 0 ? "a datagram" : strerror(err), ms);
		if (ms >= REJECT_MAX_MS)
			fail_msg("%s UDP reject took %.0f ms (limit %d)", fam_name(family), ms,
				 REJECT_MAX_MS);
		assert_false(spw_sock_readable(srv, 0));
		assert_int_equal(moved(c, SVC_UDP, SPW_REASON_SHED_LEVEL), 1);
		assert_int_equal(moved(c, SVC_UDP, SPW_REASON_REJECT_FAILED), 0);
	}
}

static void test_udp_reject_icmp(void **state)
{
	udp_reject_both_families(build(state));
}

/*
 * (g) TC mode: the same core, the reply redirected out of the veth instead of XDP_TX; no
 * program on the client's veth, since a redirected skb needs none to arrive.
 */
static void test_tc_admit_reject(void **state)
{
	struct test_ctx *c = build(state);

	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET, cli, srv;

		admit_client(c, SVC_TCP, family);
		mark(c);
		connect_ok(c, family, &cli, &srv);
		spw_round_trips(cli, srv, ECHO_ROUNDS, "tc");
		assert_int_equal(moved(c, SVC_TCP, SPW_REASON_ADMITTED), 1);
	}
	reject_both_families(c);
	udp_reject_both_families(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_admitted_connect, setup, teardown,
						     (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_shed_drop_times_out, setup, teardown,
						     (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_shed_reject_refused, setup, teardown,
						     (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_established_survives_shed, setup,
						     teardown, (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_dry_run, setup, teardown,
						     (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_udp_reject_icmp, setup, teardown,
						     (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_tc_admit_reject, setup, teardown,
						     (void *)&mode_tc),
	};

	return cmocka_run_group_tests_name("netns admission", tests, NULL, NULL);
}
