// SPDX-License-Identifier: GPL-2.0-only
/*
 * include/spillway_rank.h: the cohort hash and rank arithmetic the data plane and
 * `spillway explain` share, and the counter/bucket index layout of spillway_abi.h.
 *
 * The statistical checks use a fixed-seed generator, so a run is reproducible: a failure is a
 * property of the hash, not bad luck on the day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "spillway_rank.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Chi-square critical value for 31 degrees of freedom (32 cohorts) at p = 0.001. A uniform
 * hash exceeds it once in a thousand seeds; a biased one (a cohort never used, or half the
 * prefixes in a few cohorts) exceeds it by orders of magnitude.
 */
#define CHI2_31_P001 61.10

static uint64_t rng_state;

/* splitmix64: tiny, fixed-seed, good enough to draw test prefixes. */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void v4(uint8_t addr[SPW_ADDR_LEN], uint32_t host_order)
{
	memset(addr, 0, SPW_ADDR_LEN);
	addr[10] = 0xff;
	addr[11] = 0xff;
	addr[12] = (uint8_t)(host_order >> 24);
	addr[13] = (uint8_t)(host_order >> 16);
	addr[14] = (uint8_t)(host_order >> 8);
	addr[15] = (uint8_t)host_order;
}

static void v6_random(uint8_t addr[SPW_ADDR_LEN])
{
	uint64_t hi = rng(), lo = rng();
	unsigned int i;

	for (i = 0; i < 8; i++) {
		addr[i] = (uint8_t)(hi >> (56 - 8 * i));
		addr[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
	/* Global unicast, and never the IPv4-mapped form by accident. */
	addr[0] = (uint8_t)(0x20 | (addr[0] & 0x0f));
}

static const uint32_t salts[] = {0, 1, 0x9e3779b9U, 0xdeadbeefU, 0xffffffffU, 0x00010000U};

static void test_addr_is_v4(void **state)
{
	uint8_t a[SPW_ADDR_LEN];

	(void)state;
	v4(a, 0x0a000001);
	assert_true(spw_addr_is_v4(a));
	v4(a, 0);
	assert_true(spw_addr_is_v4(a));
	a[10] = 0xfe; /* ::feff:0:0 is not mapped */
	assert_false(spw_addr_is_v4(a));
	v4(a, 0x0a000001);
	a[0] = 0x20;
	assert_false(spw_addr_is_v4(a));
	v4(a, 0x0a000001);
	a[9] = 0x01;
	assert_false(spw_addr_is_v4(a));
	memset(a, 0, sizeof(a));
	a[15] = 1; /* ::1 */
	assert_false(spw_addr_is_v4(a));
}

/*
 * Pins the hash to murmur3's finaliser and the cohort to its documented inputs. The expected
 * values were computed by a separate implementation (Python), not by this header; a change
 * here reshuffles every client's cohort on upgrade, so it must be deliberate.
 */
static void test_known_answers(void **state)
{
	static const struct {
		uint8_t addr[SPW_ADDR_LEN];
		uint32_t salt, cohort;
	} cases[] = {
	    {{[10] = 0xff, 0xff, 10, 0, 0, 1}, 0, 19},
	    {{[10] = 0xff, 0xff, 10, 0, 0, 1}, 0x9e3779b9U, 28},
	    {{[10] = 0xff, 0xff, 192, 0, 2, 200}, 1, 23},
	    {{[10] = 0xff, 0xff, 198, 51, 100, 7}, 0xdeadbeefU, 18},
	    {{0x20, 0x01, 0x0d, 0xb8, [15] = 1}, 0, 14},
	    {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, [15] = 5}, 0x9e3779b9U, 5},
	    {{[15] = 1}, 7, 30},
	};
	size_t i;

	(void)state;
	/* murmur3 fmix32 reference values. */
	assert_int_equal(spw_mix32(0), 0);
	assert_int_equal(spw_mix32(1), 0x514e28b7U);
	assert_int_equal(spw_mix32(0x12345678U), 0xe37cd1bcU);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(
		    spw_cohort(cases[i].addr, cases[i].salt, SPW_V6_COHORT_PREFIX_DEFAULT),
		    cases[i].cohort);
}

static void test_cohort_in_range(void **state)
{
	uint8_t a[SPW_ADDR_LEN];
	unsigned int i;

	(void)state;
	rng_state = 1;
	for (i = 0; i < 200000; i++) {
		uint32_t salt = (uint32_t)rng();

		if (i & 1)
			v4(a, (uint32_t)rng());
		else
			v6_random(a);
		assert_in_range(spw_cohort(a, salt, SPW_V6_COHORT_PREFIX_DEFAULT), 0,
				SPW_COHORTS - 1);
	}
}

/* Every host of a /24 (every address of a /64) shares its cohort: changing ports or hosts
 * inside the prefix does not escape shedding. */
static void test_same_prefix_same_cohort(void **state)
{
	uint8_t a[SPW_ADDR_LEN];
	unsigned int p, h, s;

	(void)state;
	rng_state = 2;
	for (p = 0; p < 256; p++) {
		uint32_t net = (uint32_t)rng() & 0xffffff00U;

		for (s = 0; s < ARRAY_SIZE(salts); s++) {
			uint32_t want;

			v4(a, net);
			want = spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT);
			for (h = 1; h < 256; h++) {
				v4(a, net | h);
				assert_int_equal(
				    spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT), want);
			}
		}
	}
	for (p = 0; p < 256; p++) {
		uint8_t base[SPW_ADDR_LEN];

		v6_random(base);
		for (s = 0; s < ARRAY_SIZE(salts); s++) {
			uint32_t want = spw_cohort(base, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT);

			for (h = 0; h < 64; h++) {
				uint64_t iid = rng();
				unsigned int i;

				memcpy(a, base, SPW_ADDR_LEN);
				for (i = 0; i < 8; i++)
					a[8 + i] = (uint8_t)(iid >> (8 * i));
				assert_int_equal(
				    spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT), want);
			}
		}
	}
}

/*
 * The IPv6 cohort prefix: addresses of one /48 in different /64s share a cohort and a host
 * slot under /48 (and those of one /56 under /56), so a client holding the prefix cannot hop
 * out of a shed cohort, nor into the partial share of its own; under /64 they spread out.
 * Bits past the prefix never count, bits inside it do. A value that is not a configurable
 * prefix (0: maps made before the knob) is a /64.
 */
static void test_v6_cohort_prefix(void **state)
{
	uint8_t base[SPW_ADDR_LEN], a[SPW_ADDR_LEN];
	unsigned int p, h, s, split64 = 0, split48 = 0, pairs = 0;

	(void)state;
	rng_state = 48;
	for (p = 0; p < 256; p++) {
		v6_random(base);
		for (s = 0; s < ARRAY_SIZE(salts); s++) {
			uint32_t c48 = spw_cohort(base, salts[s], 48);
			uint32_t c56 = spw_cohort(base, salts[s], 56);
			uint32_t c64 = spw_cohort(base, salts[s], 64);
			uint32_t h48 = spw_host_slot(base, salts[s], 48);
			uint32_t h56 = spw_host_slot(base, salts[s], 56);

			assert_int_equal(spw_cohort(base, salts[s], 0), c64);
			assert_int_equal(spw_cohort(base, salts[s], 40), c64);
			assert_int_equal(spw_host_slot(base, salts[s], 0),
					 spw_host_slot(base, salts[s], 64));
			for (h = 0; h < 16; h++) {
				uint64_t r = rng();

				memcpy(a, base, SPW_ADDR_LEN);
				/* Another /64 of the same /56: byte 7 and the interface id. */
				a[7] = (uint8_t)(a[7] ^ (1 + (r & 0xfe)));
				memcpy(a + 8, &r, 8);
				assert_int_equal(spw_cohort(a, salts[s], 56), c56);
				assert_int_equal(spw_host_slot(a, salts[s], 56), h56);
				/* Another /56 of the same /48: byte 6 too. */
				a[6] = (uint8_t)(a[6] ^ (1 + ((r >> 8) & 0xfe)));
				assert_int_equal(spw_cohort(a, salts[s], 48), c48);
				assert_int_equal(spw_host_slot(a, salts[s], 48), h48);
				pairs++;
				split64 += spw_cohort(a, salts[s], 64) != c64;
				/* Another /48: byte 5. */
				a[5] ^= 1;
				split48 += spw_cohort(a, salts[s], 48) != c48;
			}
		}
	}
	/* A uniform hash splits 31 of 32 pairs; far fewer means the bits are ignored. */
	assert_true(split64 > pairs * 29 / 32);
	assert_true(split48 > pairs * 29 / 32);
}

/* The bits that make the prefix do matter: neighbouring /24s and /64s spread out. */
static void test_prefix_bits_matter(void **state)
{
	uint32_t seen_v4 = 0, seen_v6 = 0;
	uint8_t a[SPW_ADDR_LEN];
	unsigned int i;

	(void)state;
	for (i = 0; i < 256; i++) {
		v4(a, 0xc6336400U ^ (i << 8)); /* third octet varies */
		seen_v4 |= 1U << spw_cohort(a, 0x9e3779b9U, SPW_V6_COHORT_PREFIX_DEFAULT);
		memset(a, 0, sizeof(a));
		a[0] = 0x20;
		a[1] = 0x01;
		a[7] = (uint8_t)i; /* last byte of the /64 varies */
		seen_v6 |= 1U << spw_cohort(a, 0x9e3779b9U, SPW_V6_COHORT_PREFIX_DEFAULT);
	}
	/* 256 draws over 32 cohorts miss one with probability ~ 32 * e^-8: all are hit. */
	assert_int_equal(seen_v4, 0xffffffffU);
	assert_int_equal(seen_v6, 0xffffffffU);
}

/*
 * A new salt reshuffles: about 31/32 of prefixes change cohort, and prefixes that shared a
 * cohort are split up. The second matters as much: a salt that only relabelled cohorts (a
 * rotation or xor of the cohort number) would move everyone yet shed the same groups together.
 */
static void test_salt_reshuffles(void **state)
{
	enum { N = 2048 };
	static uint32_t ca[N], cb[N];
	uint8_t a[SPW_ADDR_LEN];
	unsigned int s, i, j;

	(void)state;
	rng_state = 3;
	for (s = 0; s + 1 < ARRAY_SIZE(salts); s++) {
		unsigned int same_v4 = 0, same_v6 = 0, pairs = 0, together = 0;

		for (i = 0; i < N; i++) {
			v4(a, (uint32_t)rng() & 0xffffff00U);
			ca[i] = spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT);
			cb[i] = spw_cohort(a, salts[s + 1], SPW_V6_COHORT_PREFIX_DEFAULT);
			same_v4 += ca[i] == cb[i];
			v6_random(a);
			same_v6 += spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT) ==
				   spw_cohort(a, salts[s + 1], SPW_V6_COHORT_PREFIX_DEFAULT);
		}
		for (i = 0; i < N; i++)
			for (j = i + 1; j < N; j++)
				if (ca[i] == ca[j]) {
					pairs++;
					together += cb[i] == cb[j];
				}
		print_message("  salt %#x -> %#x: unchanged v4 %u, v6 %u of %u; "
			      "still together %u of %u pairs\n",
			      salts[s], salts[s + 1], same_v4, same_v6, N, together, pairs);
		/* Expected N/32 = 64 (sd ~8) unchanged; a salt that barely mixes keeps most. */
		assert_in_range(same_v4, 0, N / 16);
		assert_in_range(same_v6, 0, N / 16);
		/* Expected pairs/32; a relabelling keeps all of them together. */
		assert_in_range(together, 0, pairs / 16);
	}
}

static double chi_square(const unsigned int *bins, unsigned int nbins, unsigned int total)
{
	double expected = (double)total / nbins, chi2 = 0;
	unsigned int i;

	for (i = 0; i < nbins; i++) {
		double d = bins[i] - expected;

		chi2 += d * d / expected;
	}
	return chi2;
}

static void check_uniform(const char *what, const unsigned int *bins, unsigned int total)
{
	double chi2 = chi_square(bins, SPW_COHORTS, total);

	print_message("  %s: chi-square %.1f (bound %.1f)\n", what, chi2, CHI2_31_P001);
	if (chi2 > CHI2_31_P001)
		fail_msg("%s: cohorts not uniform, chi-square %.1f > %.1f", what, chi2,
			 CHI2_31_P001);
}

/* 65536 /24s over 32 cohorts: random ones, every /24 of one /8, and random /64s. */
static void test_distribution(void **state)
{
	const unsigned int n = 65536;
	unsigned int bins[SPW_COHORTS];
	uint8_t a[SPW_ADDR_LEN];
	unsigned int s, i;
	char what[64];

	(void)state;
	rng_state = 4;
	for (s = 0; s < ARRAY_SIZE(salts); s++) {
		memset(bins, 0, sizeof(bins));
		for (i = 0; i < n; i++) {
			v4(a, (uint32_t)rng() & 0xffffff00U);
			bins[spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT)]++;
		}
		snprintf(what, sizeof(what), "random /24s, salt %#x", salts[s]);
		check_uniform(what, bins, n);

		/* Real clients cluster: all of 10.0.0.0/8 differs only in the low 16 bits. */
		memset(bins, 0, sizeof(bins));
		for (i = 0; i < n; i++) {
			v4(a, 0x0a000000U | (i << 8));
			bins[spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT)]++;
		}
		snprintf(what, sizeof(what), "every /24 of 10/8, salt %#x", salts[s]);
		check_uniform(what, bins, n);

		memset(bins, 0, sizeof(bins));
		for (i = 0; i < n; i++) {
			v6_random(a);
			bins[spw_cohort(a, salts[s], SPW_V6_COHORT_PREFIX_DEFAULT)]++;
		}
		snprintf(what, sizeof(what), "random /64s, salt %#x", salts[s]);
		check_uniform(what, bins, n);
	}
}

/*
 * An IPv4 /24 and the IPv6 /64 that starts with the same bytes (10.1.2.0/24 and
 * 0a01:0200::/64) hash different words, so they agree only by chance, 1 in 32.
 */
static void test_v4_v6_apart(void **state)
{
	const unsigned int n = 65536;
	uint8_t a4[SPW_ADDR_LEN], a6[SPW_ADDR_LEN];
	unsigned int i, same = 0;
	uint32_t salt;

	(void)state;
	rng_state = 5;
	for (i = 0; i < n; i++) {
		uint32_t net = (uint32_t)rng() & 0xffffff00U;

		v4(a4, net);
		memset(a6, 0, sizeof(a6));
		memcpy(a6, a4 + 12, 4);
		same += spw_cohort(a4, 0x9e3779b9U, SPW_V6_COHORT_PREFIX_DEFAULT) ==
			spw_cohort(a6, 0x9e3779b9U, SPW_V6_COHORT_PREFIX_DEFAULT);
	}
	print_message("  same cohort: %u of %u (chance: %u)\n", same, n, n / SPW_COHORTS);
	/* Expected 2048, sd ~44. */
	assert_in_range(same, 0, n / SPW_COHORTS + 300);

	/* One fixed pair across salts: not stuck together either. */
	same = 0;
	v4(a4, 0x0a000000U);
	memset(a6, 0, sizeof(a6));
	a6[0] = 0x0a;
	for (salt = 0; salt < 4096; salt++)
		same += spw_cohort(a4, salt * 0x9e3779b9U, SPW_V6_COHORT_PREFIX_DEFAULT) ==
			spw_cohort(a6, salt * 0x9e3779b9U, SPW_V6_COHORT_PREFIX_DEFAULT);
	assert_in_range(same, 0, 4096 / SPW_COHORTS + 64); /* expected 128, sd ~11 */
}

static void test_rank_layout(void **state)
{
	unsigned int t, c;

	(void)state;
	assert_int_equal(spw_rank(0, 0), 0);
	assert_int_equal(spw_rank(1, 0), SPW_COHORTS);
	assert_int_equal(spw_rank(2, 5), 2 * SPW_COHORTS + 5);
	/* Ranks of all tiers and cohorts are distinct, ordered tier-major, below the limit. */
	for (t = 0; t < SPW_MAX_TIERS; t++)
		for (c = 0; c < SPW_COHORTS; c++) {
			assert_int_equal(spw_rank(t, c), t * SPW_COHORTS + c);
			assert_true(spw_rank(t, c) < SPW_RANK_LIMIT);
		}
	assert_int_equal(spw_rank(SPW_MAX_TIERS - 1, SPW_COHORTS - 1), SPW_RANK_LIMIT - 1);
}

static void test_effective_level(void **state)
{
	static const struct {
		uint16_t admit, floor, want;
	} cases[] = {
	    {0, 0, 0},
	    {96, 32, 96}, /* level above the floor: the level */
	    {10, 32, 32}, /* below the floor: the floor wins */
	    {32, 32, 32},
	    {0, SPW_COHORTS, SPW_COHORTS},
	    {SPW_RANK_LIMIT, 0, SPW_RANK_LIMIT},
	    {0, SPW_RANK_LIMIT, SPW_RANK_LIMIT},
	    {0xffff, 0, 0xffff}, /* no truncation of 16-bit values */
	    {1, 0xffff, 0xffff},
	};
	struct spw_policy p;
	unsigned int i, c;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&p, 0, sizeof(p));
		p.admit_level = cases[i].admit;
		p.floor_level = cases[i].floor;
		assert_int_equal(spw_effective_level(&p), cases[i].want);
	}

	/* What the floor is for: at admit level 0, a floor of SPW_COHORTS still admits every
	 * tier-0 cohort and nothing of tier 1. */
	memset(&p, 0, sizeof(p));
	p.admit_level = 0;
	p.floor_level = SPW_COHORTS;
	for (c = 0; c < SPW_COHORTS; c++) {
		assert_true(spw_rank(0, c) < spw_effective_level(&p));
		assert_false(spw_rank(1, c) < spw_effective_level(&p));
	}
	/* Lowering the level by one sheds exactly the last cohort of the last tier in use. */
	p.floor_level = SPW_COHORTS;
	p.admit_level = 3 * SPW_COHORTS - 1;
	assert_false(spw_rank(2, SPW_COHORTS - 1) < spw_effective_level(&p));
	assert_true(spw_rank(2, SPW_COHORTS - 2) < spw_effective_level(&p));
}

/* Every (service, tier slot, reason) has its own counter, and together they fill the map. */
static void test_counter_index(void **state)
{
	uint8_t *seen = calloc(SPW_COUNTER_ENTRIES, 1);
	unsigned int s, t, r, n = 0;

	(void)state;
	assert_non_null(seen);
	for (s = 0; s < SPW_MAX_SERVICES; s++)
		for (t = 0; t < SPW_TIER_SLOTS; t++)
			for (r = 0; r < SPW_REASON_SLOTS; r++) {
				uint32_t idx = spw_counter_index(s, t, r);

				assert_in_range(idx, 0, SPW_COUNTER_ENTRIES - 1);
				if (seen[idx])
					fail_msg("index %u used by two counters (svc %u tier %u "
						 "reason %u)",
						 idx, s, t, r);
				seen[idx] = 1;
				n++;
			}
	assert_int_equal(n, SPW_COUNTER_ENTRIES);
	for (s = 0; s < SPW_COUNTER_ENTRIES; s++)
		assert_int_equal(seen[s], 1);
	free(seen);

	/* Every reason there is has a slot; the unclassified tier is inside the row. */
	assert_true(SPW_REASON_COUNT <= SPW_REASON_SLOTS);
	assert_true(SPW_TIER_NONE < SPW_TIER_SLOTS);
	assert_int_equal(
	    spw_counter_index(SPW_MAX_SERVICES - 1, SPW_TIER_NONE, SPW_REASON_SLOTS - 1),
	    SPW_COUNTER_ENTRIES - 1);
}

static void test_bucket_index(void **state)
{
	uint8_t seen[SPW_MAX_SERVICES * SPW_MAX_TIERS] = {0};
	unsigned int s, t;

	(void)state;
	for (s = 0; s < SPW_MAX_SERVICES; s++)
		for (t = 0; t < SPW_MAX_TIERS; t++) {
			uint32_t idx = spw_bucket_index(s, t);

			assert_in_range(idx, 0, ARRAY_SIZE(seen) - 1);
			assert_int_equal(seen[idx], 0);
			seen[idx] = 1;
		}
	for (s = 0; s < ARRAY_SIZE(seen); s++)
		assert_int_equal(seen[s], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_is_v4),
	    cmocka_unit_test(test_known_answers),
	    cmocka_unit_test(test_cohort_in_range),
	    cmocka_unit_test(test_same_prefix_same_cohort),
	    cmocka_unit_test(test_prefix_bits_matter),
	    cmocka_unit_test(test_v6_cohort_prefix),
	    cmocka_unit_test(test_salt_reshuffles),
	    cmocka_unit_test(test_distribution),
	    cmocka_unit_test(test_v4_v6_apart),
	    cmocka_unit_test(test_rank_layout),
	    cmocka_unit_test(test_effective_level),
	    cmocka_unit_test(test_counter_index),
	    cmocka_unit_test(test_bucket_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
