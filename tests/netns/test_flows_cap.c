// SPDX-License-Identifier: GPL-2.0-only
/*
 * A concurrency cap of N: the N+1th connection is refused, and admitted once one ends. Needs
 * root (namespaces, BPF).
 */
#include "flows.h"

/* ---- (2) the cap ------------------------------------------------------------------------- */

/* The cap of test (2): small, so the test opens few connections. */
#define CAP 5

static void expect_refused(struct nctx *c, int family)
{
	uint16_t port, peer;
	double ms;
	int fd, err = connect_now(c, family, &port, &fd, &ms);

	CHECK(c, err == -ECONNREFUSED, "connect at the cap: %s after %.0f ms, want ECONNREFUSED",
	      err ? strerror(-err) : "connected", ms);
	CHECK(c, ms < REJECT_MAX_MS, "the reject took %.0f ms", ms);
	close_fd(c, &fd, false);
	CHECK(c, accept_any(c, 0, &peer) < 0, "a shed connection reached accept()");
}

/*
 * (2) A cap of 5 on the IPv4 client's tier, action reject: the 6th concurrent connection is
 * refused at once (and counted shed_cap) while another tier still connects; once one of the 5
 * ends, by FIN or by the server's reset, the next is admitted, and the cap holds again.
 */
static void test_cap(void **state)
{
	static const uint32_t caps[SPW_MAX_TIERS] = {[TIER_V4] = CAP};
	struct nctx *c = build(state, TABLE_DEFAULT, TIER_V6);
	struct conn x[CAP + 2], v6;
	uint64_t want[SPW_MAX_TIERS] = {0};

	set_policy(c, caps);
	CHECK_OK(c, spw_fixture_mark(&c->nfx.fx));
	for (int i = 0; i < CAP; i++)
		open_pair(c, AF_INET, &x[i]);
	want[TIER_V4] = CAP;
	wait_counts(c, want, "at the cap");

	expect_refused(c, AF_INET);
	CHECK(c, moved(c, TIER_V4, SPW_REASON_SHED_CAP) == 1, "shed_cap %llu, want 1",
	      (unsigned long long)moved(c, TIER_V4, SPW_REASON_SHED_CAP));
	/* The cap is the tier's: tier 2 connects meanwhile. */
	open_pair(c, AF_INET6, &v6);
	want[TIER_V6] = 1;
	wait_counts(c, want, "tier 2 beside the capped tier");

	/* One ends by the client's FIN: a place is free, the next connection takes it. */
	close_fd(c, &x[0].cli, false);
	want[TIER_V4] = CAP - 1;
	wait_counts(c, want, "after a client FIN");
	open_pair(c, AF_INET, &x[CAP]);
	want[TIER_V4] = CAP;
	wait_counts(c, want, "at the cap again");
	expect_refused(c, AF_INET);

	/* One ends by the server's reset (seen at egress): admitted again. */
	close_fd(c, &x[1].srv, true);
	want[TIER_V4] = CAP - 1;
	wait_counts(c, want, "after a server RST");
	open_pair(c, AF_INET, &x[CAP + 1]);
	want[TIER_V4] = CAP;
	wait_counts(c, want, "at the cap a third time");
	expect_refused(c, AF_INET);
	CHECK(c, moved(c, TIER_V4, SPW_REASON_SHED_CAP) == 3, "shed_cap %llu, want 3",
	      (unsigned long long)moved(c, TIER_V4, SPW_REASON_SHED_CAP));
	CHECK(c, moved(c, TIER_V4, SPW_REASON_ADMITTED) == CAP + 2, "admitted %llu, want %d",
	      (unsigned long long)moved(c, TIER_V4, SPW_REASON_ADMITTED), CAP + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_cap, setup, teardown, (void *)&mode_tc),
	};

	spw_raise_fd_limit();
	return cmocka_run_group_tests_name("netns flow tracking: cap", tests, NULL, NULL);
}
