// SPDX-License-Identifier: GPL-2.0-only
/*
 * A server answering after 20 ms and 80 ms: the p50 of the response-latency histogram is in
 * the bucket of the delay. Needs root (namespaces, BPF).
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

static void check_p50(struct nctx *c, uint32_t tier, unsigned int delay_ms)
{
	struct spw_latency_hist h;
	double p50, p99;
	uint32_t want = spw_latency_bucket(delay_ms * 1000);

	CHECK_OK(c, spw_dp_latency_read(c->nfx.dp, SVC_TCP, tier, &h));
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
	check_p50(c, TIER_V4, 20);
	check_p50(c, TIER_V6, 80);
	CHECK_OK(c, spw_dp_latency_read(c->nfx.dp, SVC_TCP, 0, &h));
	CHECK(c, h.count == 0, "tier 0 has %llu samples", (unsigned long long)h.count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_latency_p50, setup, teardown,
						     (void *)&mode_tc),
	};

	raise_fd_limit();
	return cmocka_run_group_tests_name("netns flow tracking: latency", tests, NULL, NULL);
}
