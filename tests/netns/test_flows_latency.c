// SPDX-License-Identifier: GPL-2.0-only
/*
 * A server answering after 20 ms and 80 ms, over TCP and over UDP: the p50 of the
 * response-latency histogram is in the bucket of the delay. Needs root (namespaces, BPF).
 */
#include "flows.h"

/* ---- (3) latency ------------------------------------------------------------------------- */

/* Requests per connection: the p50 of 10 is the 5th, far from either end. */
#define REQUESTS 10

/*
 * Request, the server waits delay_ms, response; one at a time. The client's request is seen
 * at ingress, the response at egress, delay_ms apart plus scheduling.
 */
static void serve_with_delay(struct nctx *c, const struct conn *x, unsigned int delay_ms)
{
	static const char req[] = "GET /slow", resp[] = "200 after a while";
	char buf[64];

	for (int i = 0; i < REQUESTS; i++) {
		send_all(c, x->cli, req, sizeof(req));
		recv_exact(c, x->srv, buf, sizeof(req));
		spw_sleep_ms(delay_ms);
		send_all(c, x->srv, resp, sizeof(resp));
		recv_exact(c, x->cli, buf, sizeof(resp));
		CHECK(c, !memcmp(buf, resp, sizeof(resp)), "response garbled");
	}
}

static void check_p50(struct nctx *c, uint32_t svc, uint32_t tier, unsigned int delay_ms)
{
	struct spw_latency_hist h;
	double p50, p99;
	uint32_t want = spw_latency_bucket(delay_ms * 1000);

	CHECK_OK(c, spw_dp_latency_read(c->nfx.dp, svc, tier, &h));
	CHECK(c, h.count == REQUESTS, "tier %u: %llu samples, want one per request (%d)", tier,
	      (unsigned long long)h.count, REQUESTS);
	CHECK_OK(c, spw_latency_quantile(&h, 0.5, &p50));
	CHECK_OK(c, spw_latency_quantile(&h, 0.99, &p99));
	print_message("    %u ms server: p50 %.0f us, p99 %.0f us (bucket %u: [%llu, %llu) us)\n",
		      delay_ms, p50, p99, want, (unsigned long long)spw_latency_bucket_lower(want),
		      (unsigned long long)spw_latency_bucket_lower(want + 1));
	/* No response comes before the server's delay; a sleep overshoots by little, and the
	 * buckets are at most 1/8 wide: the p50 lies within a quarter above the delay. */
	for (uint32_t b = 0; b < want; b++)
		CHECK(c, h.buckets[b] == 0, "%llu samples in bucket %u, below the %u ms delay",
		      (unsigned long long)h.buckets[b], b, delay_ms);
	CHECK(c, p50 >= delay_ms * 1000.0 * 0.97 && p50 <= delay_ms * 1000.0 * 1.25,
	      "p50 %.0f us for a %u ms server", p50, delay_ms);
}

/*
 * (3) A 20 ms server on the IPv4 connection (tier 1), an 80 ms one on IPv6 (tier 2): one sample
 * per request, none before its server's delay, and the p50 within a quarter above the delay.
 */
static void test_latency_p50(void **state)
{
	struct nctx *c = build(state, TABLE_DEFAULT, TIER_V6);
	struct conn a, b;
	struct spw_latency_hist h;

	open_pair(c, AF_INET, &a);
	open_pair(c, AF_INET6, &b);
	serve_with_delay(c, &a, 20);
	serve_with_delay(c, &b, 80);
	check_p50(c, SVC_TCP, TIER_V4, 20);
	check_p50(c, SVC_TCP, TIER_V6, 80);
	CHECK_OK(c, spw_dp_latency_read(c->nfx.dp, SVC_TCP, 0, &h));
	CHECK(c, h.count == 0, "tier 0 has %llu samples", (unsigned long long)h.count);
}

/* The UDP service beside the TCP one: its id and port. */
#define SVC_UDP	 2
#define UDP_PORT 9053

/*
 * Datagrams, one request at a time: the client's datagram, the server's answer delay_ms later
 * to the address it came from. Requests 2.. are the flow's later datagrams; the first opens
 * the flow, and is a request too.
 */
static void udp_serve_with_delay(struct nctx *c, int family, unsigned int delay_ms)
{
	static const char req[] = "QUERY", resp[] = "ANSWER after a while";
	int cli =
	    track(c, spw_netns_socket(c->nfx.topo.end[SPW_TOPO_CLI].ns, family, SOCK_DGRAM, 0));
	int srv = track(c, spw_topo_listen(&c->nfx.topo, family, SOCK_DGRAM, UDP_PORT, 0));
	struct sockaddr_storage dst, from;
	socklen_t dlen = addr_of(c, SPW_TOPO_SRV, family, UDP_PORT, &dst), flen;
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
	char buf[64];

	CHECK(c, cli >= 0 && srv >= 0, "UDP sockets: %s", strerror(errno));
	CHECK(c,
	      !setsockopt(cli, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) &&
		  !setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
	      "SO_RCVTIMEO: %s", strerror(errno));
	CHECK(c, !connect(cli, (struct sockaddr *)&dst, dlen), "connect: %s", strerror(errno));
	for (int i = 0; i < REQUESTS; i++) {
		CHECK(c, send(cli, req, sizeof(req), 0) == (ssize_t)sizeof(req), "send: %s",
		      strerror(errno));
		flen = sizeof(from);
		CHECK(c,
		      recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) ==
			  (ssize_t)sizeof(req),
		      "server recvfrom: %s", strerror(errno));
		spw_sleep_ms(delay_ms);
		CHECK(c,
		      sendto(srv, resp, sizeof(resp), 0, (struct sockaddr *)&from, flen) ==
			  (ssize_t)sizeof(resp),
		      "sendto: %s", strerror(errno));
		CHECK(c, recv(cli, buf, sizeof(buf), 0) == (ssize_t)sizeof(resp), "recv: %s",
		      strerror(errno));
		CHECK(c, !memcmp(buf, resp, sizeof(resp)), "response garbled");
	}
}

/*
 * (3b) The same over UDP: a 20 ms server for the IPv4 client (tier 1), 80 ms for IPv6 (tier
 * 2), one sample per request (the flow's first datagram included), none in flight after.
 */
static void test_udp_latency_p50(void **state)
{
	struct nctx *c = build(state, TABLE_DEFAULT, TIER_V6);
	struct spw_latency_hist h;
	struct spw_policy p;
	uint64_t n;

	CHECK_OK(c, spw_nfx_service(&c->nfx, IPPROTO_UDP, UDP_PORT, SVC_UDP));
	spw_policy_init(&p, TIERS, DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.admit_level = SPW_RANK_LIMIT;
	CHECK_OK(c, spw_dp_policy_set(c->nfx.dp, SVC_UDP, &p));
	udp_serve_with_delay(c, AF_INET, 20);
	udp_serve_with_delay(c, AF_INET6, 80);
	check_p50(c, SVC_UDP, TIER_V4, 20);
	check_p50(c, SVC_UDP, TIER_V6, 80);
	for (uint32_t tier = 0; tier < TIERS; tier++) {
		CHECK_OK(c, spw_dp_inflight_read(c->nfx.dp, SVC_UDP, tier, &n));
		CHECK(c, n == 0, "tier %u: %llu UDP requests still in flight", tier,
		      (unsigned long long)n);
	}
	CHECK_OK(c, spw_dp_latency_read(c->nfx.dp, SVC_UDP, 0, &h));
	CHECK(c, h.count == 0, "tier 0 has %llu samples", (unsigned long long)h.count);
	CHECK_OK(c, spw_dp_latency_read(c->nfx.dp, SVC_TCP, TIER_V4, &h));
	CHECK(c, h.count == 0, "the TCP service has %llu samples", (unsigned long long)h.count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_latency_p50, setup, teardown,
						     (void *)&mode_tc),
	    cmocka_unit_test_prestate_setup_teardown(test_udp_latency_p50, setup, teardown,
						     (void *)&mode_tc),
	    cmocka_unit_test_prestate_setup_teardown(test_udp_latency_p50, setup, teardown,
						     (void *)&mode_xdp),
	};

	spw_raise_fd_limit();
	return cmocka_run_group_tests_name("netns flow tracking: latency", tests, NULL, NULL);
}
