// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tier marks over real TCP: with mark_egress in the service's policy, the server's kernel
 * answers a connection from each family, TC egress on its veth writes the tier's DSCP, and a
 * packet socket in the client's namespace (the next hop's view) sees that DSCP on the server's
 * data segments, with a valid IPv4 header checksum; the client's TCP stack receives the data
 * (it drops a segment whose IPv4 header checksum is wrong). The marks are counted as
 * marked_egress on the flow's tier. Needs root (namespaces, BPF).
 */
#include <linux/if_ether.h>
#include "flows.h"

/* The DSCPs of the client's tiers: IPv4 lands in TIER_V4, IPv6 in TIER_V6. */
#define DSCP_V4 26
#define DSCP_V6 10
/* The server's greeting: data, so the segment is one the tracker looks up. */
/* A family as the messages name it. */
#define NAME(af) ((af) == AF_INET6 ? "IPv6" : "IPv4")
#define GREETING "hello from the server"

/* The DSCP of the first server data segment to cport seen on fd within wait_ms, or -1. */
static int server_data_dscp(struct nctx *c, int fd, int af, uint16_t cport, int wait_ms,
			    bool *csum_ok)
{
	int family = af == AF_INET6 ? 6 : 4;
	double until = spw_now_ms() + wait_ms;
	uint8_t buf[2048];

	while (spw_now_ms() < until) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct pkt_view v;
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0 || pkt_parse(buf, (size_t)n, &v) || v.family != family ||
		    v.l4_proto != IPPROTO_TCP || v.sport != TCP_PORT || v.dport != cport ||
		    !v.payload_len)
			continue;
		*csum_ok = family == 6 || pkt_ipv4_csum_ok(buf, (size_t)n);
		return v.dscp;
	}
	CHECK(c, false, "no server data segment to port %u seen in %d ms", cport, wait_ms);
	return -1;
}

static void test_marks_seen_by_next_hop(void **state)
{
	struct nctx *c = build(state, TABLE_DEFAULT, TIER_V6);
	const struct spw_topo_end *cl = &c->nfx.topo.end[SPW_TOPO_CLI];
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = cl->ifindex};
	const struct {
		int family; /* AF_INET or AF_INET6 */
		uint32_t tier;
		int dscp;
	} cases[] = {{AF_INET, TIER_V4, DSCP_V4}, {AF_INET6, TIER_V6, DSCP_V6}};
	struct spw_policy p;
	int fd;

	spw_policy_init(&p, TIERS, DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.admit_level = SPW_RANK_LIMIT;
	p.mark_egress[TIER_V4] = SPW_MARK_SET | DSCP_V4;
	p.mark_egress[TIER_V6] = SPW_MARK_SET | DSCP_V6;
	CHECK_OK(c, spw_dp_policy_set(c->nfx.dp, SVC_TCP, &p));
	fd = track(c, spw_netns_socket(cl->ns, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
	CHECK(c, bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == 0, "bind packet socket: %s",
	      strerror(errno));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[sizeof(GREETING) - 1];
		struct conn x = {0};
		bool csum_ok = false;
		int dscp;

		CHECK_OK(c, spw_fixture_mark(&c->nfx.fx));
		open_pair(c, cases[i].family, &x);
		send_all(c, x.srv, GREETING, sizeof(GREETING) - 1);
		recv_exact(c, x.cli, got, sizeof(got));
		CHECK(c, !memcmp(got, GREETING, sizeof(got)), "%s: greeting garbled",
		      NAME(cases[i].family));
		dscp = server_data_dscp(c, fd, cases[i].family, x.port, IO_TIMEOUT_MS, &csum_ok);
		print_message("    %s: the client sees DSCP %d on the server's data\n",
			      NAME(cases[i].family), dscp);
		CHECK(c, dscp == cases[i].dscp, "%s: DSCP %d, want %d", NAME(cases[i].family), dscp,
		      cases[i].dscp);
		CHECK(c, csum_ok, "%s: IPv4 header checksum wrong", NAME(cases[i].family));
		CHECK(c, moved(c, cases[i].tier, SPW_REASON_MARKED_EGRESS) >= 1,
		      "%s: no marked_egress counted on tier %u", NAME(cases[i].family),
		      cases[i].tier);
		close_fd(c, &x.cli, false);
		close_fd(c, &x.srv, false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_marks_seen_by_next_hop, setup, teardown,
						     (void *)&mode_tc),
	};

	return cmocka_run_group_tests_name("netns flow tracking: tier marks", tests, NULL, NULL);
}
