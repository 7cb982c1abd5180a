// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connection reservation (config `connection_limit` and `reserve`, spw_reserve_bounds), the
 * bound on requests in flight (config `in_flight_guard`, spw_inflight_bounds) and service ids
 * by name (spw_config_assign_ids).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "spw_config.h"
#include "spw_reserve.h"

static struct spw_config *parse(const char *text, char *err, size_t errlen)
{
	struct spw_config *c = NULL;

	err[0] = '\0';
	if (spw_config_parse("t.yaml", text, strlen(text), &c, err, errlen))
		return NULL;
	return c;
}

static void test_config_reserve(void **state)
{
	char err[SPW_ERR_MAX];
	struct spw_config *c;

	(void)state;
	c = parse("services: [{name: pg, port: 5432, connection_limit: 20,\n"
		  "            reserve: {critical: 4, standard: 2}}]\n",
		  err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->services[0].connection_limit, 20);
	assert_int_equal(c->services[0].reserve[0], 4);
	assert_int_equal(c->services[0].reserve[1], 2);
	assert_int_equal(c->services[0].reserve[2], 0);
	assert_string_equal(c->services[0].connection_pool, "");
	spw_config_free(c);
	/* The limit a pool reports. */
	c = parse("services: [{name: pg, port: 5432, connection_limit: {pool: pg},\n"
		  "            reserve: {critical: 3}}]\n",
		  err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->services[0].connection_limit, 0);
	assert_string_equal(c->services[0].connection_pool, "pg");
	spw_config_free(c);
	/* No reservation by default. */
	c = parse("services: [{name: pg, port: 5432}]\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->services[0].connection_limit, 0);
	assert_int_equal(c->services[0].reserve[0], 0);
	spw_config_free(c);
}

static void test_config_reserve_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"services: [{name: s, port: 1, reserve: {critical: 2}}]\n",
	     "t.yaml:1:31: reserve: needs connection_limit (a number, or {pool: NAME})"},
	    {"services: [{name: s, port: 1, connection_limit: 5}]\n",
	     "t.yaml:1:31: connection_limit: needs a reserve ({critical: N}) to keep for the "
	     "tiers above the others"},
	    {"services: [{name: s, port: 1, connection_limit: 5, reserve: {critical: 3, "
	     "standard: 2}}]\n",
	     "t.yaml:1:52: reserve: 5 of connection_limit 5 leaves tier 'sheddable' no "
	     "connection"},
	    {"services: [{name: s, port: 1, connection_limit: 5, reserve: {sheddable: 1}}]\n",
	     "t.yaml:1:62: reserve: tier 'sheddable' is the lowest; a reserve keeps slots for a "
	     "tier against the tiers below it"},
	    {"services: [{name: s, port: 1, connection_limit: 0, reserve: {critical: 1}}]\n",
	     "t.yaml:1:49: connection_limit: 0 is out of range (1..4294967295)"},
	    {"services: [{name: s, port: 1, connection_limit: {}, reserve: {critical: 1}}]\n",
	     "t.yaml:1:49: connection_limit: {pool: NAME} names a pool"},
	    {"services: [{name: s, port: 1, connection_limit: {pool: 'a b'}, reserve: "
	     "{critical: 1}}]\n",
	     "t.yaml:1:56: pool: 'a b' is not a valid pool name (letters, digits, '_', '-' or "
	     "'.'; at most 31 characters)"},
	    {"services: [{name: s, port: 1, connection_limit: 9, reserve: {gold: 1}}]\n",
	     "t.yaml:1:62: reserve: unknown tier 'gold' (tiers: critical, standard, sheddable)"},
	};
	char err[SPW_ERR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct spw_config *c = parse(bad[i].text, err, sizeof(err));

		if (c)
			fail_msg("accepted: %s", bad[i].text);
		print_message("  %s\n", err);
		assert_string_equal(err, bad[i].err);
	}
}

static void test_bounds(void **state)
{
	static const uint32_t reserve[SPW_MAX_TIERS] = {4, 2};
	uint32_t out[SPW_MAX_TIERS];

	(void)state;
	spw_reserve_bounds(reserve, 3, 20, out);
	assert_int_equal(out[0], UINT32_MAX);
	assert_int_equal(out[1], 16);
	assert_int_equal(out[2], 14);
	assert_int_equal(out[3], 0);
	/* A reported limit smaller than the reserves: the tiers below admit nothing. */
	spw_reserve_bounds(reserve, 3, 5, out);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 0);
	spw_reserve_bounds(reserve, 3, 3, out);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 0);
	/* A limit past 32 bits stays below the top tier's "unbounded". */
	spw_reserve_bounds(reserve, 3, (uint64_t)1 << 40, out);
	assert_int_equal(out[1], UINT32_MAX - 1);
	/* One tier: nothing below it to bound. */
	spw_reserve_bounds(reserve, 1, 20, out);
	assert_int_equal(out[0], UINT32_MAX);
	assert_int_equal(out[1], 0);
}

/* The guard on by default at 1.5, `off`, a multiple, and what is refused. */
static void test_config_in_flight_guard(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"services: [{name: s, port: 1, in_flight_guard: 0.5}]\n",
	     "t.yaml:1:48: in_flight_guard: 0.5 is not a multiple in [1, 100] of the requests "
	     "in flight at capacity (or off)"},
	    {"services: [{name: s, port: 1, in_flight_guard: on}]\n",
	     "t.yaml:1:48: in_flight_guard: 'on' is not a decimal number (like 0.85)"},
	};
	char err[SPW_ERR_MAX];
	struct spw_config *c;
	size_t i;

	(void)state;
	c = parse("services: [{name: a, port: 1}, {name: b, port: 2, in_flight_guard: off},\n"
		  "           {name: c, port: 3, in_flight_guard: 2.5}]\n",
		  err, sizeof(err));
	assert_non_null(c);
	assert_true(c->services[0].in_flight_guard == SPW_CONFIG_IN_FLIGHT_GUARD);
	assert_true(c->services[1].in_flight_guard == 0);
	assert_true(c->services[2].in_flight_guard == 2.5);
	spw_config_free(c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = parse(bad[i].text, err, sizeof(err));
		if (c)
			fail_msg("accepted: %s", bad[i].text);
		print_message("  %s\n", err);
		assert_string_equal(err, bad[i].err);
	}
}

/*
 * Tier 1 under 1.5x what the service holds at its capacity, tier 2 a quarter less, tier 3
 * and below never under 1x; tier 0 and the tiers past ntiers unbounded; nothing while the
 * count at capacity is unknown or the guard is off.
 */
static void test_inflight_bounds(void **state)
{
	uint32_t out[SPW_MAX_TIERS];
	int t;

	(void)state;
	spw_inflight_bounds(20, 1.5, 5, out);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 30);
	assert_int_equal(out[2], 25);
	assert_int_equal(out[3], 20);
	assert_int_equal(out[4], 20);
	assert_int_equal(out[5], 0);
	/* A fraction of a request rounds up: the bound admits what the multiple allows. */
	spw_inflight_bounds(20.3, 1.5, 3, out);
	assert_int_equal(out[1], 31);
	assert_int_equal(out[2], 26);
	spw_inflight_bounds(NAN, 1.5, 3, out);
	for (t = 0; t < SPW_MAX_TIERS; t++)
		assert_int_equal(out[t], 0);
	spw_inflight_bounds(20, 0, 3, out);
	for (t = 0; t < SPW_MAX_TIERS; t++)
		assert_int_equal(out[t], 0);
	spw_inflight_bounds(1e12, 1.5, 3, out);
	assert_int_equal(out[1], UINT32_MAX);
}

static void test_ids_by_name(void **state)
{
	char held[SPW_MAX_SERVICES][SPW_NAME_MAX];
	char err[SPW_ERR_MAX];
	struct spw_config *c;

	(void)state;
	memset(held, 0, sizeof(held));
	c = parse("services: [{name: a, port: 1}, {name: b, port: 2}, {name: c, port: 3}]\n", err,
		  sizeof(err));
	assert_non_null(c);
	/* Nothing held: file order. */
	spw_config_assign_ids(c, (const char(*)[SPW_NAME_MAX])held);
	assert_int_equal(c->services[0].id, 1);
	assert_int_equal(c->services[1].id, 2);
	assert_int_equal(c->services[2].id, 3);
	/* A previous daemon had c at 1, a at 5, and x (gone) at 2: c and a keep theirs, b takes
	 * the lowest id nobody held (3), not x's. */
	strcpy(held[1], "c");
	strcpy(held[2], "x");
	strcpy(held[5], "a");
	spw_config_assign_ids(c, (const char(*)[SPW_NAME_MAX])held);
	assert_int_equal(c->services[0].id, 5);
	assert_int_equal(c->services[1].id, 3);
	assert_int_equal(c->services[2].id, 1);
	spw_config_free(c);
	/* Every id held by someone else: the lowest ids of services no longer listed. */
	for (int i = 1; i < SPW_MAX_SERVICES; i++)
		snprintf(held[i], SPW_NAME_MAX, "old%d", i);
	c = parse("services: [{name: a, port: 1}, {name: b, port: 2}]\n", err, sizeof(err));
	assert_non_null(c);
	strcpy(held[7], "b");
	spw_config_assign_ids(c, (const char(*)[SPW_NAME_MAX])held);
	assert_int_equal(c->services[0].id, 1);
	assert_int_equal(c->services[1].id, 7);
	spw_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_reserve),  cmocka_unit_test(test_config_reserve_errors),
	    cmocka_unit_test(test_bounds),	    cmocka_unit_test(test_config_in_flight_guard),
	    cmocka_unit_test(test_inflight_bounds), cmocka_unit_test(test_ids_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
