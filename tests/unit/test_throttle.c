// SPDX-License-Identifier: GPL-2.0-only
/*
 * include/spillway_throttle.h: the client-side throttle's refused share and its two-bucket
 * window, as the data plane computes them. The simulation sends a retrying client's attempts
 * through the throttle to a downstream that accepts a fixed number per bucket and refuses the
 * rest, and checks what reaches it against K x accepts; the same run without a throttle (K so
 * large that nothing is ever refused) lets every attempt through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "spillway_throttle.h"

/* A bucket number far from 0, so "one bucket before" is never the zeroed record's 0. */
#define NOW 1000U
/* The previous bucket weighs in whole: the window's read at the start of bucket NOW. */
#define W SPW_THROTTLE_W_ONE
/* Shares compare as fractions of SPW_THROTTLE_ONE; rounding down loses less than one unit. */
#define SHARE(num, den) ((uint32_t)((uint64_t)(num)*SPW_THROTTLE_ONE / (den)))

static void requests(struct spw_throttle_win *w, uint32_t tier, uint32_t n, uint32_t now)
{
	while (n--)
		spw_throttle_request(w, tier, now);
}

static void accepts(struct spw_throttle_win *w, uint32_t n, uint32_t now)
{
	while (n--)
		spw_throttle_accept(w, now);
}

static void test_empty_window_refuses_nothing(void **state)
{
	struct spw_throttle_win w = {0};

	(void)state;
	for (uint32_t t = 0; t < SPW_MAX_TIERS; t++)
		assert_int_equal(spw_throttle_share(&w, t, SPW_THROTTLE_K_DEFAULT, NOW, W), 0);
}

/* Within K x accepts nothing is refused; beyond it, the book's formula. */
static void test_single_tier_is_the_books_formula(void **state)
{
	struct spw_throttle_win w = {0};

	(void)state;
	requests(&w, 0, 200, NOW);
	accepts(&w, 100, NOW);
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, NOW, W), 0);
	requests(&w, 0, 100, NOW);
	/* (300 - 2 x 100) / 301 */
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, NOW, W),
			 SHARE(100, 301));
	/* K = 1.5: (300 - 150) / 301 */
	assert_int_equal(spw_throttle_share(&w, 0, 150, NOW, W), SHARE(150, 301));
}

/* A downstream that accepts nothing: nearly every attempt is refused, never more than all. */
static void test_refusing_downstream_refuses_almost_all(void **state)
{
	struct spw_throttle_win w = {0};

	(void)state;
	requests(&w, 1, 100, NOW);
	assert_int_equal(spw_throttle_share(&w, 1, SPW_THROTTLE_K_DEFAULT, NOW, W),
			 SHARE(100, 101));
	assert_true(spw_throttle_share(&w, 1, 0, NOW, W) <= SPW_THROTTLE_ONE);
}

/* The budget goes to tier 0 first: the sheddable tier is refused while the critical is not. */
static void test_lowest_tiers_first(void **state)
{
	struct spw_throttle_win w = {0};

	(void)state;
	requests(&w, 0, 50, NOW);
	requests(&w, 2, 200, NOW);
	accepts(&w, 50, NOW); /* budget 100 */
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, NOW, W), 0);
	assert_int_equal(spw_throttle_share(&w, 1, SPW_THROTTLE_K_DEFAULT, NOW, W), 0);
	/* 250 - 100 over budget, all of it tier 2's */
	assert_int_equal(spw_throttle_share(&w, 2, SPW_THROTTLE_K_DEFAULT, NOW, W),
			 SHARE(150, 201));

	/* Tier 0 alone over the budget: it loses its excess, tier 2 loses everything it sends. */
	requests(&w, 0, 100, NOW);
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, NOW, W), SHARE(50, 151));
	assert_int_equal(spw_throttle_share(&w, 2, SPW_THROTTLE_K_DEFAULT, NOW, W),
			 SHARE(200, 201));
}

/* The window is the current bucket and the one before; older counts are forgotten. */
static void test_window_slides_by_buckets(void **state)
{
	struct spw_throttle_win w = {0};

	(void)state;
	requests(&w, 0, 100, NOW);
	requests(&w, 0, 100, NOW + 1);
	assert_int_equal(spw_throttle_requests(&w, 0, NOW + 1, W), 200 * W);
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, NOW + 1, W),
			 SHARE(200, 201));
	/* NOW's generation is reused at NOW + 2: only NOW + 1's attempts are left. */
	requests(&w, 0, 1, NOW + 2);
	assert_int_equal(spw_throttle_requests(&w, 0, NOW + 2, W), 101 * W);
	/* A window read long after the last write holds nothing, without any write. */
	assert_int_equal(spw_throttle_requests(&w, 0, NOW + 10, W), 0);
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, NOW + 10, W), 0);
	/* Accepts slide the same way. */
	accepts(&w, 7, NOW + 20);
	assert_int_equal(spw_throttle_accepts(&w, NOW + 21, W), 7 * W);
	assert_int_equal(spw_throttle_accepts(&w, NOW + 22, W), 0);
}

/* Halfway through a bucket, the previous one counts half; the clock says so. */
static void test_previous_bucket_fades(void **state)
{
	struct spw_throttle_win w = {0};
	uint32_t prev_w, b;

	(void)state;
	b = spw_throttle_clock(5500, 1000, &prev_w);
	assert_int_equal(b, 5);
	assert_int_equal(prev_w, W / 2);
	assert_int_equal(spw_throttle_clock(5000, 1000, &prev_w), 5);
	assert_int_equal(prev_w, W);
	requests(&w, 0, 100, 4);
	requests(&w, 0, 10, 5);
	assert_int_equal(spw_throttle_requests(&w, 0, 5, W / 2), 60 * W);
	/* 60 attempts, none accepted: 60 / 61 */
	assert_int_equal(spw_throttle_share(&w, 0, SPW_THROTTLE_K_DEFAULT, 5, W / 2),
			 SHARE(60, 61));
}

/* Out-of-range tiers are clamped into the record, never written past it. */
static void test_tier_clamped(void **state)
{
	struct spw_throttle_win w = {0};

	(void)state;
	requests(&w, SPW_MAX_TIERS + 3, 5, NOW);
	assert_int_equal(spw_throttle_requests(&w, 3, NOW, W), 5 * W);
}

static uint64_t rng_state = 1;

/* splitmix64, fixed seed: the simulation is the same every run. */
static uint32_t rng32(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)(z ^ (z >> 31));
}

struct sim_result {
	uint64_t attempts, reached, accepted;
};

/*
 * buckets of attempts per bucket (a client retrying at once on every refusal) against a
 * downstream that accepts capacity per bucket (one second), spread evenly: a token bucket
 * of depth one refilled at that rate, as a server with a fixed rate of work would accept.
 */
static struct sim_result simulate(uint32_t k_centi, uint32_t buckets, uint32_t per_bucket,
				  uint32_t capacity)
{
	struct spw_throttle_win w = {0};
	struct sim_result r = {0};

	/* Tokens in 1/1000 of an accept: capacity per 1000 ms adds capacity per ms. */
	uint64_t tokens = 1000, last_ms = (uint64_t)NOW * 1000;

	for (uint32_t b = NOW; b < NOW + buckets; b++) {
		for (uint32_t i = 0; i < per_bucket; i++) {
			uint64_t ms = (uint64_t)b * 1000 + i * 1000 / per_bucket;
			uint32_t prev_w, at;

			/* Attempts spread evenly over the bucket (1000 ms wide). */
			at = spw_throttle_clock(ms, 1000, &prev_w);
			tokens += (ms - last_ms) * capacity;
			if (tokens > 1000)
				tokens = 1000;
			last_ms = ms;
			r.attempts++;
			spw_throttle_request(&w, 2, at);
			if (spw_throttle_refuse(spw_throttle_share(&w, 2, k_centi, at, prev_w),
						rng32()))
				continue;
			r.reached++;
			if (tokens >= 1000) {
				tokens -= 1000;
				r.accepted++;
				spw_throttle_accept(&w, at);
			}
		}
	}
	return r;
}

static void test_retry_storm_reaches_k_times_accepts(void **state)
{
	/* 20 buckets of 1000 attempts, 20 accepted per bucket. */
	struct sim_result on = simulate(SPW_THROTTLE_K_DEFAULT, 20, 1000, 20);
	struct sim_result off = simulate(UINT32_MAX / 2, 20, 1000, 20);

	(void)state;
	print_message("    throttled: %llu attempts, %llu reached, %llu accepted\n",
		      (unsigned long long)on.attempts, (unsigned long long)on.reached,
		      (unsigned long long)on.accepted);
	print_message("    no throttle: %llu attempts, %llu reached, %llu accepted\n",
		      (unsigned long long)off.attempts, (unsigned long long)off.reached,
		      (unsigned long long)off.accepted);
	/* At most about K x accepts, with 20 % slack for the coin tosses and the first bucket. */
	assert_true(on.reached * 100 <= on.accepted * 2 * 120);
	/* Never starved: with K = 2 the downstream still sees twice what it accepts, so it keeps
	 * well over a third of its capacity busy (half here, with arrivals at random). */
	assert_true(on.accepted * 100 >= 20ULL * 20 * 40);
	assert_int_equal(off.reached, off.attempts);
	assert_int_equal(off.accepted, 20 * 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_window_refuses_nothing),
	    cmocka_unit_test(test_single_tier_is_the_books_formula),
	    cmocka_unit_test(test_refusing_downstream_refuses_almost_all),
	    cmocka_unit_test(test_lowest_tiers_first),
	    cmocka_unit_test(test_window_slides_by_buckets),
	    cmocka_unit_test(test_previous_bucket_fades),
	    cmocka_unit_test(test_tier_clamped),
	    cmocka_unit_test(test_retry_storm_reaches_k_times_accepts),
	};

	return cmocka_run_group_tests_name("client-side throttle arithmetic", tests, NULL, NULL);
}
