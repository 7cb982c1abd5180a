// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's latency bucketing against user space's decoding: tests/progs/latency_bucket
 * runs include/spillway_latency.h's spw_latency_bucket() as compiled for BPF and verified, on
 * values across the whole 32-bit range (0, every bucket's bounds and the values either side,
 * every power of two and its neighbours, the maximum, and random values spread over every
 * octave). Each must land in the bucket user space computes, and inside the bounds user space
 * decodes that bucket to (spw_latency_bucket_lower()). tests/bpf/test_flow.c checks the same
 * through the data plane's own response path, with measured times.
 *
 * Needs root (BPF).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spillway_latency.h"
#include "spw_fixture.h"
#include "latency_bucket.skel.h"

/* Random values on top of the chosen ones: 600 per octave on average. */
#define RANDOM_VALUES 20000
/* The smallest frame an XDP test run takes (an Ethernet header), with room. */
#define FRAME_LEN 64

struct ctx {
	struct latency_bucket *skel;
	uint32_t checked;
	bool seen[SPW_LAT_BUCKETS];
};

static uint32_t bpf_bucket(struct ctx *c, uint32_t us)
{
	static const uint8_t frame[FRAME_LEN];
	struct spw_run run;
	int err;

	c->skel->bss->in_us = us;
	c->skel->bss->out_bucket = UINT32_MAX;
	err = spw_fixture_run_fd(bpf_program__fd(c->skel->progs.latency_bucket), frame,
				 sizeof(frame), 1, &run);
	if (err || run.retval != XDP_PASS)
		fail_msg("test run for %u us: %s, retval %d", us, strerror(-err), run.retval);
	return c->skel->bss->out_bucket;
}

static void check(struct ctx *c, uint32_t us)
{
	uint32_t got = bpf_bucket(c, us), want = spw_latency_bucket(us);
	uint64_t lo, hi;

	if (got != want)
		fail_msg("%u us: the BPF program says bucket %u, user space %u", us, got, want);
	if (got >= SPW_LAT_BUCKETS)
		fail_msg("%u us: bucket %u, past the last (%u)", us, got, SPW_LAT_BUCKETS - 1);
	lo = spw_latency_bucket_lower(got);
	hi = spw_latency_bucket_lower(got + 1);
	if (us < lo || us >= hi)
		fail_msg("%u us: bucket %u, which decodes to [%llu, %llu) us", us, got,
			 (unsigned long long)lo, (unsigned long long)hi);
	c->seen[got] = true;
	c->checked++;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static void test_bpf_matches_user_space(void **state)
{
	struct ctx c = {0};
	uint32_t n = 0;

	(void)state;
	c.skel = latency_bucket__open_and_load();
	if (!c.skel)
		fail_msg("loading tests/progs/latency_bucket: %s", strerror(errno));

	check(&c, 0);
	check(&c, UINT32_MAX);
	check(&c, UINT32_MAX - 1);
	for (uint32_t b = 0; b < SPW_LAT_BUCKETS; b++) {
		uint64_t lo = spw_latency_bucket_lower(b), hi = spw_latency_bucket_lower(b + 1);

		check(&c, (uint32_t)lo);
		if (lo)
			check(&c, (uint32_t)(lo - 1));
		check(&c, (uint32_t)(hi - 1));
		check(&c, (uint32_t)(lo + (hi - lo) / 2));
	}
	for (uint32_t k = 0; k < 32; k++) {
		check(&c, 1U << k);
		check(&c, (1U << k) - 1);
		check(&c, (1U << k) + 1);
	}
	/* Log-uniform: a random octave, then a random value inside it. */
	for (int i = 0; i < RANDOM_VALUES; i++) {
		uint32_t k = rnd32() % 32, base = 1U << k;

		check(&c, base + (k ? rnd32() % base : 0));
	}
	for (uint32_t b = 0; b < SPW_LAT_BUCKETS; b++)
		n += c.seen[b];
	print_message("    %u values, %u of %u buckets reached, kernel and user space agree\n",
		      c.checked, n, SPW_LAT_BUCKETS);
	assert_int_equal(n, SPW_LAT_BUCKETS);
	latency_bucket__destroy(c.skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bpf_matches_user_space),
	};

	return cmocka_run_group_tests_name("latency buckets, BPF against user space", tests, NULL,
					   NULL);
}
