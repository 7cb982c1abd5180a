// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ICMP rejects' budget through BPF_PROG_RUN: datagrams a reject tier sheds are answered
 * with ICMP / ICMPv6 administratively prohibited while this CPU's bucket has tokens (the first
 * `burst` of a flood), then dropped unanswered and counted reject_limited, on XDP and TC,
 * IPv4 and IPv6. With the limit off every one is answered; TCP resets are never limited.
 *
 * The bucket is per CPU and BPF_PROG_RUN runs on the caller's CPU, so the test pins itself to
 * one. At 1 token a second no token comes back while a case runs (it takes milliseconds).
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define SVC_UDP	 1
#define SVC_TCP	 2
#define PORT	 53
#define RATE	 1 /* per second: no refill within a case */
#define BURST	 5
#define FLOOD	 (4 * BURST) /* datagrams sent: more than the burst */
#define LEASE_NS (3600ULL * 1000000000ULL)

struct lcase {
	const char *name;
	enum spw_prog prog;
	int family;
	uint8_t proto;
	uint32_t rate; /* 0: the limit off */
	uint32_t want_answered;
};

static const struct lcase cases[] = {
    {"xdp udp4 limited", SPW_PROG_XDP, 4, IPPROTO_UDP, RATE, BURST},
    {"xdp udp6 limited", SPW_PROG_XDP, 6, IPPROTO_UDP, RATE, BURST},
    {"tc udp4 limited", SPW_PROG_TC_INGRESS, 4, IPPROTO_UDP, RATE, BURST},
    {"tc udp6 limited", SPW_PROG_TC_INGRESS, 6, IPPROTO_UDP, RATE, BURST},
    {"xdp udp4 limit off", SPW_PROG_XDP, 4, IPPROTO_UDP, 0, FLOOD},
    {"xdp tcp4 never limited", SPW_PROG_XDP, 4, IPPROTO_TCP, RATE, FLOOD},
    {"tc tcp6 never limited", SPW_PROG_TC_INGRESS, 6, IPPROTO_TCP, RATE, FLOOD},
};

/* Pins the test to the CPU it runs on: the bucket it drains is that CPU's. */
static void pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	assert_true(cpu >= 0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

/* Every tier of svc shed, by reject. */
static void shed_all(struct spw_fixture *fx, uint32_t svc)
{
	struct spw_policy p;
	int t;

	spw_policy_init(&p, 3, 2);
	p.admit_level = 0;
	p.floor_level = 0;
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	for (t = 0; t < SPW_MAX_TIERS; t++)
		p.action[t] = SPW_ACTION_REJECT;
	assert_int_equal(spw_dp_policy_set(fx->dp, svc, &p), 0);
}

static void add_service(struct spw_fixture *fx, uint8_t proto, uint32_t svc)
{
	struct spw_service_match m = {.proto = proto, .port = PORT};

	assert_int_equal(spw_dp_service_add(fx->dp, &m, svc), 0);
	shed_all(fx, svc);
}

static bool is_bounce(enum spw_prog prog, int retval)
{
	return prog == SPW_PROG_XDP ? retval == XDP_TX : retval == TC_ACT_REDIRECT;
}

static bool is_drop(enum spw_prog prog, int retval)
{
	return prog == SPW_PROG_XDP ? retval == XDP_DROP : retval == TC_ACT_SHOT;
}

/* The refusal of a datagram: ICMP(v6) administratively prohibited, checksums right. */
static void check_icmp(const struct lcase *c, const struct spw_run *run)
{
	struct pkt_view v;

	assert_int_equal(pkt_parse(run->data, run->len, &v), 0);
	assert_true(pkt_l4_csum_ok(run->data, run->len));
	if (c->family == 4) {
		assert_int_equal(v.l4_proto, IPPROTO_ICMP);
		assert_int_equal(v.icmp_type, ICMP_DEST_UNREACH);
		assert_int_equal(v.icmp_code, ICMP_PKT_FILTERED);
	} else {
		assert_int_equal(v.l4_proto, IPPROTO_ICMPV6);
		assert_int_equal(v.icmp_type, ICMPV6_DEST_UNREACH);
		assert_int_equal(v.icmp_code, ICMPV6_ADM_PROHIBITED);
	}
}

static void run_case(const struct lcase *c)
{
	struct spw_fixture fx = {0};
	struct spw_count shed, limited;
	uint8_t pkt[PKT_BUF_MAX];
	uint32_t svc = c->proto == IPPROTO_UDP ? SVC_UDP : SVC_TCP;
	uint32_t i, answered = 0, dropped = 0;
	static struct spw_run run;

	printf("case: %s\n", c->name);
	assert_int_equal(spw_fixture_open(&fx), 0);
	add_service(&fx, c->proto, svc);
	assert_int_equal(spw_dp_reject_limit_set(fx.dp, c->rate, BURST), 0);
	assert_int_equal(spw_fixture_mark(&fx), 0);
	for (i = 0; i < FLOOD; i++) {
		struct pkt_spec s = {.family = c->family,
				     .proto = c->proto,
				     .sport = (uint16_t)(20000 + i),
				     .dport = PORT,
				     .tcp_flags = PKT_TCP_SYN,
				     .seq = 1000 + i,
				     .payload_len = c->proto == IPPROTO_UDP ? 32 : 0};
		size_t len = pkt_build(&s, pkt, sizeof(pkt));

		assert_true(len > 0);
		assert_int_equal(spw_fixture_run(&fx, c->prog, pkt, len, &run), 0);
		if (is_bounce(c->prog, run.retval)) {
			/* Answered only while the bucket lasts: never after the first drop. */
			assert_int_equal(dropped, 0);
			if (c->proto == IPPROTO_UDP)
				check_icmp(c, &run);
			answered++;
		} else {
			assert_true(is_drop(c->prog, run.retval));
			dropped++;
		}
	}
	assert_int_equal(answered, c->want_answered);
	assert_int_equal(dropped, FLOOD - c->want_answered);
	/* Shed all the same: answered ones count their shed reason, the rest reject_limited. */
	assert_int_equal(spw_fixture_delta(&fx, svc, 2, SPW_REASON_SHED_LEVEL, &shed), 0);
	assert_int_equal(spw_fixture_delta(&fx, svc, 2, SPW_REASON_REJECT_LIMITED, &limited), 0);
	assert_int_equal(shed.packets, c->want_answered);
	assert_int_equal(limited.packets, FLOOD - c->want_answered);
	spw_fixture_close(&fx);
}

static void test_reject_limit(void **state)
{
	size_t i;

	(void)state;
	pin_cpu();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* The setter refuses what spw_globals cannot hold. */
static void test_reject_limit_bounds(void **state)
{
	struct spw_fixture fx = {0};
	struct spw_globals g;

	(void)state;
	assert_int_equal(spw_fixture_open(&fx), 0);
	assert_int_equal(spw_dp_reject_limit_set(fx.dp, SPW_RATE_MAX + 1, 1), -EINVAL);
	assert_int_equal(spw_dp_reject_limit_set(fx.dp, 1, SPW_ICMP_BURST_MAX + 1), -EINVAL);
	assert_int_equal(spw_dp_reject_limit_set(fx.dp, SPW_RATE_MAX, SPW_ICMP_BURST_MAX), 0);
	assert_int_equal(spw_dp_globals_get(fx.dp, &g), 0);
	assert_int_equal(g.icmp_rate, SPW_RATE_MAX);
	assert_int_equal(g.icmp_burst, SPW_ICMP_BURST_MAX);
	spw_fixture_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reject_limit),
	    cmocka_unit_test(test_reject_limit_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
