// SPDX-License-Identifier: GPL-2.0-only
/*
 * The oldest outstanding request read from the start-time ring: ages exact to one slot and
 * never low, the count of every slot, the stamps' 32-bit wrap, an empty ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "spillway_abi.h"
#include "spw_request_age.h"

#define SLOT_US (1U << SPW_REQ_SLOT_SHIFT)

static uint64_t ring[SPW_REQ_SLOTS];

/* One more request started at start_us, as the data plane counts it. */
static void start(uint32_t start_us)
{
	ring[spw_req_age_index(0, start_us)]++;
}

static struct spw_request_ages read_at(uint32_t now_us)
{
	struct spw_request_ages a;

	spw_request_ages_read(ring, now_us, &a);
	return a;
}

/* The reported age is the true age or up to one slot more, never less. */
static void assert_age(uint32_t now_us, uint32_t oldest_start_us)
{
	struct spw_request_ages a = read_at(now_us);
	double truth = (double)(uint32_t)(now_us - oldest_start_us) / 1000.0;

	assert_true(a.oldest_ms >= truth);
	assert_true(a.oldest_ms < truth + SLOT_US / 1000.0);
}

static void test_empty(void **state)
{
	struct spw_request_ages a;

	(void)state;
	memset(ring, 0, sizeof(ring));
	a = read_at(123456789);
	assert_int_equal(a.outstanding, 0);
	assert_true(a.oldest_ms == 0.0);
}

/* Requests of many ages: the count of all, the age of the oldest, whichever slot it is in. */
static void test_oldest_of_many(void **state)
{
	const uint32_t now = 50000000;

	(void)state;
	memset(ring, 0, sizeof(ring));
	start(now - 1000);
	start(now - 1000);
	start(now - 300000);
	start(now - 40000);
	assert_int_equal(read_at(now).outstanding, 4);
	assert_age(now, now - 300000);
	/* Answering the oldest: the next one sets the age. */
	ring[spw_req_age_index(0, now - 300000)]--;
	assert_int_equal(read_at(now).outstanding, 3);
	assert_age(now, now - 40000);
	/* Just under the ring's span is still read as old as it is. */
	start(now - (SPW_REQ_SLOTS - 1) * SLOT_US);
	assert_age(now, now - (SPW_REQ_SLOTS - 1) * SLOT_US);
	/* A request in now's own slot is less than a slot old. */
	memset(ring, 0, sizeof(ring));
	start(now);
	assert_age(now, now);
	assert_true(read_at(now).oldest_ms < SLOT_US / 1000.0);
}

/* Stamps wrap every 2^32 us: a request started before the wrap read after it. */
static void test_wrap(void **state)
{
	const uint32_t started = UINT32_MAX - 5000, now = 200000;

	(void)state;
	memset(ring, 0, sizeof(ring));
	start(started);
	start(now - 10);
	assert_int_equal(read_at(now).outstanding, 2);
	assert_age(now, started);
}

/* The service's slots only: another service's requests are not its. */
static void test_index_per_service(void **state)
{
	(void)state;
	assert_int_equal(spw_req_age_index(1, 0) - spw_req_age_index(0, 0), SPW_REQ_SLOTS);
	assert_int_equal(spw_req_age_index(0, SLOT_US * SPW_REQ_SLOTS), 0);
	assert_int_equal(spw_req_age_index(0, SLOT_US * 3 + 1), 3);
	assert_true(spw_req_age_index(SPW_MAX_SERVICES - 1, UINT32_MAX) < SPW_REQ_AGE_ENTRIES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_oldest_of_many),
	    cmocka_unit_test(test_wrap),
	    cmocka_unit_test(test_index_per_service),
	};

	return cmocka_run_group_tests_name("request ages", tests, NULL, NULL);
}
