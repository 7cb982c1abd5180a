// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IPv6 cohort prefix through BPF_PROG_RUN: with ipv6_cohort_prefix 48, SYNs from 32
 * different /64s of one /48 all get the verdict of the /48 at a partial admit level (its
 * cohort's rank, with the share just above or just below the /48's host slot), on XDP and TC:
 * a client holding the /48 cannot hop /64s out of shedding. With the default /64 the same
 * sources are decided each by its own /64, as the shared hash says, and not all alike.
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_dataplane.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define SVC	 1
#define PORT	 443
#define TIER	 2 /* the service's default tier: no rules */
#define SOURCES	 32
#define LEASE_NS (3600ULL * 1000000000ULL)

/* Source n: the /64 2001:db8:48:n::/64 of the /48 2001:db8:48::/48. */
static void source(unsigned int n, char *text, size_t len)
{
	snprintf(text, len, "2001:db8:48:%x::7", n);
}

static void set_level(struct spw_fixture *fx, uint32_t rank, uint8_t partial)
{
	struct spw_policy p;

	spw_policy_init(&p, 3, TIER);
	p.admit_level = (uint16_t)rank;
	p.floor_level = 0;
	p.partial = partial;
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	assert_int_equal(spw_dp_policy_set(fx->dp, SVC, &p), 0);
}

/* 1 when the SYN from source n passed, 0 when it was dropped. */
static int admitted(struct spw_fixture *fx, enum spw_prog prog, unsigned int n, uint16_t sport)
{
	static struct spw_run run;
	uint8_t pkt[PKT_BUF_MAX];
	char src[64];
	struct pkt_spec s = {.family = 6, .dport = PORT, .sport = sport, .tcp_flags = PKT_TCP_SYN};
	size_t len;

	source(n, src, sizeof(src));
	s.saddr = src;
	len = pkt_build(&s, pkt, sizeof(pkt));
	assert_true(len > 0);
	assert_int_equal(spw_fixture_run(fx, prog, pkt, len, &run), 0);
	/* XDP_PASS and TC_ACT_SHOT are both 2: each program by its own codes. */
	if (prog == SPW_PROG_XDP) {
		assert_true(run.retval == XDP_PASS || run.retval == XDP_DROP);
		return run.retval == XDP_PASS;
	}
	assert_true(run.retval == TC_ACT_UNSPEC || run.retval == TC_ACT_SHOT);
	return run.retval == TC_ACT_UNSPEC;
}

static void test_one_48_one_verdict(void **state)
{
	static const enum spw_prog progs[] = {SPW_PROG_XDP, SPW_PROG_TC_INGRESS};
	struct spw_fixture fx = {0};
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = PORT};
	struct spw_globals g;
	uint8_t a[SPW_ADDR_LEN];
	uint32_t rank, slot;
	uint16_t sport = 30000;
	char src[64];
	unsigned int n, pi, inside, differ64 = 0;

	(void)state;
	assert_int_equal(spw_fixture_open(&fx), 0);
	assert_int_equal(spw_dp_service_add(fx.dp, &m, SVC), 0);
	assert_int_equal(spw_dp_cohort_prefix_set(fx.dp, 48), 0);
	assert_int_equal(spw_dp_cohort_prefix_set(fx.dp, 40), -EINVAL);
	assert_int_equal(spw_dp_globals_get(fx.dp, &g), 0);
	assert_int_equal(g.ipv6_cohort_prefix, 48);
	source(0, src, sizeof(src));
	assert_int_equal(spw_fixture_addr(src, a), 0);
	rank = spw_rank(TIER, spw_cohort(a, g.cohort_salt, 48));
	slot = spw_host_slot(a, g.cohort_salt, 48);
	/* Just outside the share (every source shed), then just inside (every one admitted). */
	for (inside = 0; inside < 2; inside++) {
		if (inside && slot == SPW_PARTIAL_ONE - 1)
			break; /* a share is at most 255/256: no slot 255 is ever inside */
		set_level(&fx, rank, (uint8_t)(slot + inside));
		for (pi = 0; pi < 2; pi++)
			for (n = 0; n < SOURCES; n++)
				if (admitted(&fx, progs[pi], n, sport++) != (int)inside)
					fail_msg("/64 %u of the /48, program %u: not the /48's "
						 "verdict (%s; rank %u, slot %u)",
						 n, pi, inside ? "admit" : "shed", rank, slot);
	}

	/*
	 * Back to /64: each source by its own /64, and they do not all agree. The level is the
	 * middle cohort's, half a share: whatever the salt, about half the sources pass.
	 */
	assert_int_equal(spw_dp_cohort_prefix_set(fx.dp, 64), 0);
	set_level(&fx, spw_rank(TIER, SPW_COHORTS / 2), SPW_PARTIAL_ONE / 2);
	for (n = 0; n < SOURCES; n++) {
		struct spw_policy p;
		int want;

		source(n, src, sizeof(src));
		assert_int_equal(spw_fixture_addr(src, a), 0);
		assert_int_equal(spw_dp_policy_get(fx.dp, SVC, &p), 0);
		want = spw_level_admits(&p, spw_rank(TIER, spw_cohort(a, g.cohort_salt, 64)),
					spw_host_slot(a, g.cohort_salt, 64));
		for (pi = 0; pi < 2; pi++)
			assert_int_equal(admitted(&fx, progs[pi], n, sport++), want);
		differ64 += want != 0;
	}
	/* All 32 on one side of the middle: a chance of 2^-31. */
	assert_true(differ64 > 0 && differ64 < SOURCES);
	spw_fixture_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_48_one_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
