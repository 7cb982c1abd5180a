// SPDX-License-Identifier: GPL-2.0-only
/*
 * The response-latency histogram, without BPF: include/spillway_latency.h's bucketing (the
 * same inline function the data plane compiles) and libspillway's spw_latency_quantile().
 *
 * Expected quantiles are worked out by hand in the comments, from the documented rule: the
 * rank-th smallest sample (rank = q * count), spread evenly inside its log2 bucket, where
 * bucket 0 is [0, 2) us and bucket b >= 1 is [2^b, 2^(b+1)) us.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "spillway_latency.h"
#include "spw_types.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Quantiles are computed in doubles; the hand-made values are exact to far below this. */
#define EPS 1e-6

static void hist_set(struct spw_latency_hist *h, const uint32_t *buckets, const uint64_t *counts,
		     size_t n)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		h->buckets[buckets[i]] = counts[i];
		h->count += counts[i];
	}
}

static double quantile_ok(const struct spw_latency_hist *h, double q)
{
	double us = -1;

	assert_int_equal(spw_latency_quantile(h, q, &us), 0);
	return us;
}

static void assert_near(double got, double want)
{
	if (fabs(got - want) > EPS)
		fail_msg("got %.6f us, want %.6f us", got, want);
}

/* ---- spw_latency_bucket ------------------------------------------------------------------ */

static void test_bucket_edges(void **state)
{
	static const struct {
		uint32_t us, bucket;
	} cases[] = {
	    {0, 0},	       /* "no time at all" shares bucket 0 with 1 us */
	    {1, 0},	       /* bucket 0 is [0, 2) */
	    {2, 1},	       /* first value of [2, 4) */
	    {3, 1},	       /* last value of [2, 4) */
	    {4, 2},	       /* first value of [4, 8) */
	    {1023, 9},	       /* last value of [512, 1024) */
	    {1024, 10},	       /* first value of [1024, 2048) */
	    {5000, 12},	       /* the BPF test's latency: [4096, 8192) */
	    {20000, 14},       /* the netns test's 20 ms: [16384, 32768) */
	    {80000, 16},       /* the netns test's 80 ms: [65536, 131072) */
	    {0x7fffffffu, 30}, /* last value of bucket 30 */
	    {0x80000000u, 31}, /* the top bucket starts at 2^31 */
	    {UINT32_MAX, 31},  /* and ends the 32-bit range: no bucket 32 */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (spw_latency_bucket(cases[i].us) != cases[i].bucket)
			fail_msg("bucket(%u) = %u, want %u", cases[i].us,
				 spw_latency_bucket(cases[i].us), cases[i].bucket);
}

/* Every power of two opens its bucket, the value below it closes the previous one. */
static void test_bucket_every_power(void **state)
{
	(void)state;
	for (uint32_t b = 1; b < SPW_LAT_BUCKETS; b++) {
		uint32_t p = 1U << b;

		assert_int_equal(spw_latency_bucket(p), b);
		assert_int_equal(spw_latency_bucket(p - 1), b - 1);
		assert_int_equal(spw_latency_bucket(p + (p - 1)), b); /* 2^(b+1) - 1 */
		/* The lower bound user space reports is the first value of the bucket. */
		assert_true(spw_latency_bucket_lower(b) == p);
		assert_true(spw_latency_bucket((uint32_t)spw_latency_bucket_lower(b)) == b);
	}
	assert_true(spw_latency_bucket_lower(0) == 0);
	/* Every bucket index is in the map's range, whatever the latency. */
	assert_true(spw_latency_bucket(UINT32_MAX) < SPW_LAT_BUCKETS);
}

/* ---- spw_latency_quantile ---------------------------------------------------------------- */

static void test_quantile_empty(void **state)
{
	struct spw_latency_hist h;
	double us = 0;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(spw_latency_quantile(&h, 0.5, &us), -ENODATA);
	assert_int_equal(spw_latency_quantile(&h, 1.0, &us), -ENODATA);
}

static void test_quantile_bad_q(void **state)
{
	static const uint32_t b[] = {10};
	static const uint64_t n[] = {4};
	const double bad[] = {0.0, -0.5, 1.0000001, 2.0, -INFINITY, INFINITY, NAN};
	struct spw_latency_hist h, empty;
	double us = 0;

	(void)state;
	hist_set(&h, b, n, 1);
	memset(&empty, 0, sizeof(empty));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (spw_latency_quantile(&h, bad[i], &us) != -EINVAL)
			fail_msg("q = %g accepted", bad[i]);
		/* A bad argument is reported as such even when there is no data. */
		if (spw_latency_quantile(&empty, bad[i], &us) != -EINVAL)
			fail_msg("q = %g on an empty histogram: not -EINVAL", bad[i]);
	}
}

/* Four samples in [1024, 2048): the rank-th of them sits rank/4 of the way through. */
static void test_quantile_one_bucket(void **state)
{
	static const uint32_t b[] = {10};
	static const uint64_t n[] = {4};
	struct spw_latency_hist h;

	(void)state;
	hist_set(&h, b, n, 1);
	assert_near(quantile_ok(&h, 0.25), 1024 + 1024 * 1.0 / 4); /* rank 1: 1280 */
	assert_near(quantile_ok(&h, 0.5), 1024 + 1024 * 2.0 / 4);  /* rank 2: 1536 */
	assert_near(quantile_ok(&h, 0.75), 1024 + 1024 * 3.0 / 4); /* rank 3: 1792 */
	assert_near(quantile_ok(&h, 1.0), 2048);		   /* rank 4: the bucket's top */
	assert_near(quantile_ok(&h, 0.1), 1024 + 1024 * 0.4 / 4);  /* rank 0.4: 1126.4 */
}

/* Bucket 0 is [0, 2), not [1, 2): two samples, the median is 1 us. */
static void test_quantile_bucket0(void **state)
{
	static const uint32_t b[] = {0};
	static const uint64_t n[] = {2};
	struct spw_latency_hist h;

	(void)state;
	hist_set(&h, b, n, 1);
	assert_near(quantile_ok(&h, 0.5), 1.0);
	assert_near(quantile_ok(&h, 1.0), 2.0);
}

/* The top bucket's upper edge is 2^32 us: no overflow to 0 in its interpolation. */
static void test_quantile_top_bucket(void **state)
{
	static const uint32_t b[] = {31};
	static const uint64_t n[] = {1};
	struct spw_latency_hist h;

	(void)state;
	hist_set(&h, b, n, 1);
	assert_near(quantile_ok(&h, 0.5), 2147483648.0 + 2147483648.0 * 0.5); /* 3221225472 */
	assert_near(quantile_ok(&h, 1.0), 4294967296.0);
}

/*
 * 100 samples: 40 in [16, 32), 40 in [1024, 2048), 20 in [2^20, 2^21); an empty bucket in
 * between is skipped.
 *   p40: rank 40, the last of bucket 4                -> 16 + 16 * 40/40 = 32
 *   p50: rank 50, the 10th of the 40 in bucket 10     -> 1024 + 1024 * 10/40 = 1280
 *   p80: rank 80, the last of bucket 10               -> 2048
 *   p90: rank 90, the 10th of the 20 in bucket 20     -> 2^20 + 2^20 * 10/20 = 1572864
 *   p99: rank 99, the 19th of the 20 in bucket 20     -> 2^20 + 2^20 * 19/20 = 2044723.2
 *   p1:  rank 1, the 1st of the 40 in bucket 4        -> 16 + 16 * 1/40 = 16.4
 */
static void test_quantile_across_buckets(void **state)
{
	static const uint32_t b[] = {4, 10, 20};
	static const uint64_t n[] = {40, 40, 20};
	struct spw_latency_hist h;

	(void)state;
	hist_set(&h, b, n, ARRAY_SIZE(b));
	assert_near(quantile_ok(&h, 0.40), 32);
	assert_near(quantile_ok(&h, 0.50), 1280);
	assert_near(quantile_ok(&h, 0.80), 2048);
	assert_near(quantile_ok(&h, 0.90), 1572864);
	assert_near(quantile_ok(&h, 0.99), 2044723.2);
	assert_near(quantile_ok(&h, 0.01), 16.4);
}

/*
 * Typical service: 1000 responses, 990 in [16384, 32768) (about 20 ms) and 10 slow ones in
 * [131072, 262144).
 *   p50: rank 500 of the 990  -> 16384 + 16384 * 500/990 = 24658.747474...
 *   p99: rank 990, the last of the fast ones -> 32768
 *   p99.5: rank 995, the 5th of the 10 slow ones -> 131072 + 131072 * 5/10 = 196608
 */
static void test_quantile_p50_p99(void **state)
{
	static const uint32_t b[] = {14, 17};
	static const uint64_t n[] = {990, 10};
	struct spw_latency_hist h;

	(void)state;
	hist_set(&h, b, n, ARRAY_SIZE(b));
	assert_near(quantile_ok(&h, 0.5), 16384 + 16384 * 500.0 / 990);
	assert_near(quantile_ok(&h, 0.99), 32768);
	assert_near(quantile_ok(&h, 0.995), 196608);
	assert_near(quantile_ok(&h, 1.0), 262144);
}

/* Quantiles never decrease with q, and stay inside the occupied range. */
static void test_quantile_monotonic(void **state)
{
	static const uint32_t b[] = {0, 3, 9, 13, 22, 31};
	static const uint64_t n[] = {7, 1, 250, 3, 40, 2};
	struct spw_latency_hist h;
	double prev = 0;

	(void)state;
	hist_set(&h, b, n, ARRAY_SIZE(b));
	for (int i = 1; i <= 1000; i++) {
		double us = quantile_ok(&h, i / 1000.0);

		if (us < prev)
			fail_msg("q %.3f: %.3f us, below q %.3f's %.3f us", i / 1000.0, us,
				 (i - 1) / 1000.0, prev);
		assert_true(us >= 0 && us <= 4294967296.0);
		prev = us;
	}
	assert_near(prev, 4294967296.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket_edges),
	    cmocka_unit_test(test_bucket_every_power),
	    cmocka_unit_test(test_quantile_empty),
	    cmocka_unit_test(test_quantile_bad_q),
	    cmocka_unit_test(test_quantile_one_bucket),
	    cmocka_unit_test(test_quantile_bucket0),
	    cmocka_unit_test(test_quantile_top_bucket),
	    cmocka_unit_test(test_quantile_across_buckets),
	    cmocka_unit_test(test_quantile_p50_p99),
	    cmocka_unit_test(test_quantile_monotonic),
	};

	return cmocka_run_group_tests_name("latency histogram", tests, NULL, NULL);
}
