// SPDX-License-Identifier: GPL-2.0-only
/*
 * 2,000 connections closed in every way a connection ends: the active counts per tier return
 * to exactly 0 (the idle ones after the sweep), and late packets of ended flows count nothing
 * down twice. With a TC attach, and with an XDP one against the same expectations: the server's
 * side is seen at TC egress whichever hook takes ingress, and that run shows whether an XDP
 * attach does. Needs root (namespaces, BPF).
 */
#include "flows.h"

/* ---- (1) every way a connection ends ----------------------------------------------------- */

static const char *const end_names[END_MODES] = {
    "client FIN",	   "server FIN",	   "client RST", "server RST",
    "abort before accept", "abort during connect", "idle",
};

/* Connections opened and ended, a batch at a time. */
#define CONNS 2000
/* The sweep's idle timeout: the idle connections are older than this when it runs. */
#define IDLE_MS 1000
/* Long enough that nothing half-open is left to a SYN timeout in TC mode. */
#define SYN_LONG_MS 60000

/*
 * Why a batch's counts are off: its ended connections that are still in the table, by way of
 * ending and state.
 */
static void batch_fail(struct nctx *c, const struct conn *b, int n, const char *when,
		       const uint64_t want[SPW_MAX_TIERS], const uint64_t got[SPW_MAX_TIERS])
{
	unsigned int left[END_MODES][4] = {{0}};
	char extra[1024] = "";
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		struct spw_flow v;

		if (b[i].end != END_IDLE && !flow_of(c, b[i].family, b[i].port, &v))
			left[b[i].end][v.state < 4 ? v.state : 0]++;
	}
	for (int m = 0; m < END_MODES; m++)
		for (int st = 0; st < 4; st++)
			if (left[m][st] && off < sizeof(extra))
				off += (size_t)snprintf(extra + off, sizeof(extra) - off,
							"\n    ended by %s but still tracked: %u "
							"(state %s)",
							end_names[m], left[m][st],
							st == SPW_FLOW_SYN_SEEN	     ? "SYN_SEEN"
							: st == SPW_FLOW_ESTABLISHED ? "ESTABLISHED"
										     : "other");
	counts_fail(c, when, want, got, extra);
}

/* Ends the connection's first side, the one its mode names. */
static void end_first(struct nctx *c, struct conn *x)
{
	switch (x->end) {
	case END_CLI_FIN:
		close_fd(c, &x->cli, false);
		break;
	case END_SRV_FIN:
		close_fd(c, &x->srv, false);
		break;
	case END_CLI_RST:
		close_fd(c, &x->cli, true);
		break;
	case END_SRV_RST:
		close_fd(c, &x->srv, true);
		break;
	default:
		break;
	}
}

static void counts_case(struct nctx *c)
{
	static struct conn conns[CONNS];
	uint64_t want[SPW_MAX_TIERS] = {0}, got[SPW_MAX_TIERS], admitted = 0, by_state[4];
	uint64_t idle_total = 0, ended[END_MODES] = {0};
	struct spw_sweep_stats st;
	double t0 = spw_now_ms();

	CHECK_OK(c, spw_fixture_mark(&c->nfx.fx));
	for (int base = 0; base < CONNS; base += BATCH) {
		struct conn *b = &conns[base];

		for (int i = 0; i < BATCH; i++) {
			int k = base + i;

			b[i].end = (enum end_mode)(k % END_MODES);
			/* Alternating per round of modes: every mode in both families. */
			b[i].family = (k / END_MODES) % 2 ? AF_INET6 : AF_INET;
			b[i].srv = -1;
			b[i].cli = connect_start(c, b[i].family, &b[i].port);
			if (b[i].end == END_ABORT_SYN)
				close_fd(c, &b[i].cli, false);
		}
		for (int i = 0; i < BATCH; i++) {
			int err;

			if (b[i].cli < 0)
				continue;
			err = connect_wait(b[i].cli, IO_TIMEOUT_MS);
			CHECK(c, err == 0, "connect from port %u: %s", b[i].port, strerror(-err));
			if (b[i].end == END_ABORT_ACCEPT)
				close_fd(c, &b[i].cli, true);
		}
		accept_batch(c, b, BATCH);

		/* First side: every connection but the idle ones has ended after this. */
		for (int i = 0; i < BATCH; i++) {
			end_first(c, &b[i]);
			ended[b[i].end]++;
			if (b[i].end == END_IDLE) {
				first_byte(c, &b[i]);
				want[tier_of(b[i].family)]++;
				idle_total++;
			}
		}
		if (!counts_reach(c, want, got))
			batch_fail(c, b, BATCH, "after the first close of a batch", want, got);
		/* The other side: its FIN (or nothing, after a reset) must count nothing down. */
		for (int i = 0; i < BATCH; i++) {
			if (b[i].end == END_IDLE)
				continue;
			close_fd(c, &b[i].cli, false);
			close_fd(c, &b[i].srv, false);
		}
		if (!counts_reach(c, want, got))
			batch_fail(c, b, BATCH, "after the second close of a batch", want, got);
	}
	admitted = moved(c, TIER_V4, SPW_REASON_ADMITTED) + moved(c, TIER_V6, SPW_REASON_ADMITTED);
	print_message("    %d connections in %.0f ms; %llu idle left open\n", CONNS,
		      spw_now_ms() - t0, (unsigned long long)idle_total);
	for (int m = 0; m < END_MODES; m++)
		print_message("      %-22s %llu\n", end_names[m], (unsigned long long)ended[m]);

	/* Every SYN was one decision, admitted and tracked; nothing was shed or left untracked. */
	CHECK(c, admitted == CONNS, "%llu admitted, want %d", (unsigned long long)admitted, CONNS);
	CHECK(c, moved(c, 0, SPW_REASON_ADMITTED) == 0, "tier 0 admitted something");
	for (uint32_t t = 0; t < TIERS; t++)
		CHECK(c,
		      !moved(c, t, SPW_REASON_TABLE_FULL) && !moved(c, t, SPW_REASON_FLOOD_GUARD) &&
			  !moved(c, t, SPW_REASON_SHED_CAP),
		      "tier %u: a flow went untracked or shed", t);

	/* Late packets (retransmitted FINs, TIME_WAIT ACKs) have had time: still exact. */
	spw_sleep_ms(IDLE_MS + 200);
	wait_counts(c, want, "before the sweep");
	entries_by_state(c, by_state);
	print_message("    table before the sweep: %llu SYN_SEEN, %llu ESTABLISHED\n",
		      (unsigned long long)by_state[SPW_FLOW_SYN_SEEN],
		      (unsigned long long)by_state[SPW_FLOW_ESTABLISHED]);
	CHECK(c, by_state[SPW_FLOW_ESTABLISHED] == idle_total && by_state[SPW_FLOW_SYN_SEEN] == 0,
	      "the %llu idle connections are not all in state ESTABLISHED",
	      (unsigned long long)idle_total);

	/* A long timeout removes nothing; the idle timeout removes exactly the idle ones. */
	st = sweep(c, SYN_LONG_MS, SYN_LONG_MS);
	CHECK(c, st.expired == 0, "a 60 s sweep expired %llu", (unsigned long long)st.expired);
	st = sweep(c, SYN_LONG_MS, IDLE_MS);
	CHECK(c, st.expired == idle_total, "the sweep expired %llu, want the %llu idle ones",
	      (unsigned long long)st.expired, (unsigned long long)idle_total);
	memset(want, 0, sizeof(want));
	wait_counts(c, want, "after the sweep");
	CHECK(c, table_entries(c) == 0, "%llu entries left", (unsigned long long)table_entries(c));

	/* The idle connections end now: their FINs find no entry and count nothing down. */
	for (int i = 0; i < CONNS; i++) {
		if (conns[i].end != END_IDLE)
			continue;
		close_fd(c, &conns[i].cli, false);
		close_fd(c, &conns[i].srv, false);
	}
	spw_sleep_ms(200);
	wait_counts(c, want, "after closing the swept connections");
	print_message("    total %.0f ms\n", spw_now_ms() - t0);
}

/*
 * (1) 2,000 connections, 7 ways of ending, both families (tiers 1 and 2), in batches of 100:
 * after each batch the counts are exactly the idle connections so far; after the sweep, 0.
 */
static void test_counts_return_to_zero(void **state)
{
	counts_case(build(state, TABLE_DEFAULT, TIER_V6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_counts_return_to_zero, setup, teardown,
						     (void *)&mode_tc),
	    cmocka_unit_test_prestate_setup_teardown(test_counts_return_to_zero, setup, teardown,
						     (void *)&mode_xdp),
	};

	spw_raise_fd_limit();
	return cmocka_run_group_tests_name("netns flow tracking: counts", tests, NULL, NULL);
}
