// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_policy_stamp_next: the stamp that tells the data plane's per-CPU policy copies a record
 * changed. A stamp reused while a copy still holds it would leave that CPU on an old policy,
 * so stamps taken from several threads are all different and never 0 ("no policy") or 1 (what
 * builds before stamps wrote), and a first stamp is the clock's (so a restarted writer is past
 * its old ones).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "spw_types.h"

#define THREADS	   3
#define PER_THREAD 100000

static uint32_t stamps[THREADS][PER_THREAD];

static void *take(void *arg)
{
	uint32_t *out = arg;

	for (int i = 0; i < PER_THREAD; i++)
		out[i] = spw_policy_stamp_next();
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void test_unique_across_threads(void **state)
{
	pthread_t thr[THREADS];
	uint32_t *all = &stamps[0][0];

	(void)state;
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&thr[t], NULL, take, stamps[t]), 0);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(thr[t], NULL), 0);
	/* Each thread's own stamps go forward (wrap-aware), faster than the clock if need be. */
	for (int t = 0; t < THREADS; t++)
		for (int i = 1; i < PER_THREAD; i++)
			assert_true((int32_t)(stamps[t][i] - stamps[t][i - 1]) > 0);
	qsort(all, (size_t)THREADS * PER_THREAD, sizeof(*all), cmp_u32);
	for (size_t i = 0; i < (size_t)THREADS * PER_THREAD; i++) {
		assert_true(all[i] > 1);
		if (i)
			assert_int_not_equal(all[i], all[i - 1]);
	}
}

static void test_not_behind_the_clock(void **state)
{
	uint32_t before = (uint32_t)(spw_now_ns() / 1000), s;

	(void)state;
	s = spw_policy_stamp_next();
	assert_true((int32_t)(s - before) >= 0);
}

/*
 * The rule itself, clock given: a first stamp is the clock's whatever half of the 32-bit
 * range it is in (a restarted writer starts past its old stamps), later ones never go back
 * (wrap-aware), and 0 and 1 never come out.
 */
static void test_after(void **state)
{
	(void)state;
	assert_int_equal(spw_policy_stamp_after(0, 0x90000000u), 0x90000000u);
	assert_int_equal(spw_policy_stamp_after(0, 0x10000000u), 0x10000000u);
	assert_int_equal(spw_policy_stamp_after(0, 0), 2);
	assert_int_equal(spw_policy_stamp_after(0, 1), 2);
	assert_int_equal(spw_policy_stamp_after(500, 400), 501);
	assert_int_equal(spw_policy_stamp_after(500, 500), 501);
	assert_int_equal(spw_policy_stamp_after(500, 900), 900);
	/* Across the wrap: 0x10 is ahead of 0xfffffff0. */
	assert_int_equal(spw_policy_stamp_after(0xfffffff0u, 0x10), 0x10);
	assert_int_equal(spw_policy_stamp_after(0x10, 0xfffffff0u), 0x11);
	assert_int_equal(spw_policy_stamp_after(0xffffffffu, 0xfffffff0u), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_after),
	    cmocka_unit_test(test_unique_across_threads),
	    cmocka_unit_test(test_not_behind_the_clock),
	};

	return cmocka_run_group_tests_name("policy_stamp", tests, NULL, NULL);
}
