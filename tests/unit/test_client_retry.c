// SPDX-License-Identifier: GPL-2.0-only
/*
 * libspillway-client's retry hints (spw_client_retry_hint): retries are refused while a tier
 * is partly admitted and first tries get the admitted share; a tier admitted at 0 refuses
 * everything; a refusal says "don't retry" when even the earliest hinted retry is past the
 * client's deadline; a state that sheds nothing refuses nothing; bad input fails open. The
 * states come from a real state file (the daemon's writer) through spw_client_shed_state().
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
#include "spillway_client.h"
#include "spw_state_write.h"
#include "state_pattern.h"
#include "util.h"

/* Draws per share check: the admitted fraction is within 0.05 of the share w.p. 1 - 1e-12. */
#define DRAWS 4000

struct fixture {
	char dir[64];
	struct spw_state_file *map;
	struct spw_client *c;
};

/* CLOCK_MONOTONIC in ns, as the daemon stamps its publishes. */
static uint64_t mono_ns(void)
{
	return (uint64_t)(spw_now_ms() * 1e6);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/spw-retry-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spw_state_file_create(f->dir, &f->map), 0);
	f->c = spw_client_open(f->dir, NULL);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	spw_client_close(f->c);
	spw_state_file_unmap(f->map);
	spw_rm_tree(f->dir);
	free(f);
	return 0;
}

/*
 * The shed state of tier 1 of "web" at pattern state k: level k, Retry-After [k, k + 10] s.
 * Tier 1's share is (k - 32) / 32 for k in 32..64.
 */
static struct spw_shed_state tier1_at(struct fixture *f, uint32_t k)
{
	static struct spw_state_file buf;
	struct spw_shed_state st;

	spw_state_pattern(&buf, k, mono_ns(), 0);
	spw_state_write(f->map, &buf);
	assert_int_equal(spw_client_shed_state(f->c, "web", 1, &st), 0);
	return st;
}

static unsigned int admitted_of(const struct spw_shed_state *st, unsigned int attempt)
{
	struct spw_retry_hint h;
	unsigned int n = 0;

	for (int i = 0; i < DRAWS; i++) {
		assert_int_equal(spw_client_retry_hint(st, attempt, 0, &h), 0);
		if (!h.refuse) {
			assert_int_equal(h.retry_after_s, 0);
			n++;
		} else {
			assert_false(h.dont_retry);
			assert_true(h.retry_after_s >= st->retry_lo_s &&
				    h.retry_after_s <= st->retry_hi_s);
		}
	}
	return n;
}

static void test_not_shed_refuses_nothing(void **state)
{
	struct fixture *f = *state;
	struct spw_shed_state st = tier1_at(f, 96); /* full admission */

	assert_false(st.shed);
	assert_int_equal(admitted_of(&st, 0), DRAWS);
	assert_int_equal(admitted_of(&st, 3), DRAWS);
}

static void test_retries_shed_first(void **state)
{
	struct fixture *f = *state;
	/* Level 56: 24 of tier 1's 32 cohorts admitted, 750 per mille. */
	struct spw_shed_state st = tier1_at(f, 56);
	unsigned int first;

	assert_true(st.shed);
	assert_int_equal(st.admitted_permille, 750);
	first = admitted_of(&st, 0);
	assert_in_range(first, DRAWS * 700 / 1000, DRAWS * 800 / 1000);
	assert_int_equal(admitted_of(&st, 1), 0);
	assert_int_equal(admitted_of(&st, 5), 0);
	/* Nearly closed: first tries still get their small share, retries nothing. */
	st = tier1_at(f, 33);
	assert_int_equal(st.admitted_permille, 31);
	assert_in_range(admitted_of(&st, 0), 1, DRAWS * 81 / 1000);
	assert_int_equal(admitted_of(&st, 1), 0);
}

static void test_closed_tier_refuses_all(void **state)
{
	struct fixture *f = *state;
	struct spw_shed_state st = tier1_at(f, 32);

	assert_int_equal(st.admitted_permille, 0);
	assert_int_equal(admitted_of(&st, 0), 0);
	assert_int_equal(admitted_of(&st, 1), 0);
}

static void test_deadline_dont_retry(void **state)
{
	struct fixture *f = *state;
	struct spw_shed_state st = tier1_at(f, 32); /* Retry-After in [32, 42] s */
	struct spw_retry_hint h;

	/* 5 s left: even the earliest retry, in 32 s, is too late. */
	assert_int_equal(spw_client_retry_hint(&st, 0, 5000, &h), 0);
	assert_true(h.refuse);
	assert_true(h.dont_retry);
	assert_int_equal(h.retry_after_s, 0);
	/* Exactly at the deadline is too late as well. */
	assert_int_equal(spw_client_retry_hint(&st, 0, 32000, &h), 0);
	assert_true(h.dont_retry);
	/* A minute left: worth retrying, after the hinted wait. */
	assert_int_equal(spw_client_retry_hint(&st, 1, 60000, &h), 0);
	assert_true(h.refuse);
	assert_false(h.dont_retry);
	assert_in_range(h.retry_after_s, 32, 42);
	/* No deadline given: a retry hint. */
	assert_int_equal(spw_client_retry_hint(&st, 0, 0, &h), 0);
	assert_false(h.dont_retry);
	assert_true(h.retry_after_s >= 32);
	/* A tier that is not shed ignores the deadline. */
	st = tier1_at(f, 96);
	assert_int_equal(spw_client_retry_hint(&st, 2, 1, &h), 0);
	assert_false(h.refuse);
	assert_false(h.dont_retry);
}

static void test_bad_input_fails_open(void **state)
{
	struct fixture *f = *state;
	struct spw_shed_state st = tier1_at(f, 32);
	struct spw_retry_hint h;

	assert_int_equal(spw_client_retry_hint(NULL, 0, 0, &h), -EINVAL);
	assert_false(h.refuse);
	assert_int_equal(spw_client_retry_hint(&st, 0, 0, NULL), -EINVAL);
	st.admitted_permille = 1001;
	assert_int_equal(spw_client_retry_hint(&st, 1, 0, &h), -EINVAL);
	assert_false(h.refuse);
	/* A stale daemon's state sheds nothing. */
	static struct spw_state_file buf;

	spw_state_pattern(&buf, 32, mono_ns() - 10000000000ULL, 0);
	spw_state_write(f->map, &buf);
	assert_int_equal(spw_client_shed_state(f->c, "web", 1, &st), -ESTALE);
	assert_int_equal(spw_client_retry_hint(&st, 3, 100, &h), 0);
	assert_false(h.refuse);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_not_shed_refuses_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retries_shed_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_tier_refuses_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline_dont_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input_fails_open, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
