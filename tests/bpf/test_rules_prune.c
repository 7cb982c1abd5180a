// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_dp_rules_prune() and spw_dp_trusted_prune(): the LPM tries keep exactly the wanted
 * prefixes, whatever the order of the wanted list (it is sorted, not walked in file order),
 * with wanted prefixes absent from the trie, duplicates in the list, IPv4 and IPv6, and an
 * empty list (everything goes). Kept entries keep their values. The speed of it at 100k and
 * 262k rules is bench_controller's to measure.
 *
 * Needs root (bpffs).
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

#include "spillway_abi.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "spw_fixture.h"

#define NRULES 5000

/* Rule i: an IPv4 /24 for even i, an IPv6 /64 for odd i; all distinct. */
static void rule_cidr(int i, struct spw_cidr *c)
{
	char text[64];

	if (i % 2)
		snprintf(text, sizeof(text), "2001:db8:%x:%x::/64", i / 65536, i % 65536);
	else
		snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 256 % 256, i % 256);
	assert_int_equal(spw_cidr_parse(text, c, NULL, 0), 0);
}

struct walk {
	int n;
	bool seen[NRULES];
	bool wrong_tier;
};

/* Finds which rule a trie entry is by its rule_id (i + 1) and checks its tier. */
static int visit(const struct spw_cidr *c, const struct spw_rule *r, void *ctx)
{
	struct walk *w = ctx;
	struct spw_cidr want;
	int i = (int)r->rule_id - 1;

	assert_true(i >= 0 && i < NRULES);
	rule_cidr(i, &want);
	assert_int_equal(c->prefixlen, want.prefixlen);
	assert_memory_equal(c->addr, want.addr, SPW_ADDR_LEN);
	if (r->tier != (uint8_t)(i % 3))
		w->wrong_tier = true;
	w->seen[i] = true;
	w->n++;
	return 0;
}

static void test_prune_keeps_exactly_the_wanted(void **state)
{
	struct spw_fixture *fx = *state;
	struct spw_lpm_key *keep = calloc(NRULES * 2, sizeof(*keep));
	struct walk *w = calloc(1, sizeof(*w));
	struct spw_cidr c;
	int i, n = 0, kept = 0;

	assert_non_null(keep);
	assert_non_null(w);
	for (i = 0; i < NRULES; i++) {
		rule_cidr(i, &c);
		assert_int_equal(spw_dp_rule_add(fx->dp, &c, (uint8_t)(i % 3), (uint32_t)i + 1), 0);
	}
	/* Every third rule wanted, listed backwards, each twice; and prefixes never added. */
	for (i = NRULES - 1; i >= 0; i--) {
		if (i % 3)
			continue;
		rule_cidr(i, &c);
		spw_cidr_to_key(&c, &keep[n++]);
		spw_cidr_to_key(&c, &keep[n++]);
		kept++;
	}
	assert_int_equal(spw_cidr_parse("192.0.2.0/24", &c, NULL, 0), 0);
	spw_cidr_to_key(&c, &keep[n++]);
	assert_int_equal(spw_dp_rules_prune(fx->dp, keep, n), 0);
	assert_int_equal(spw_dp_rules_foreach(fx->dp, visit, w), 0);
	printf("%d rules, %d wanted: %d left\n", NRULES, kept, w->n);
	assert_int_equal(w->n, kept);
	for (i = 0; i < NRULES; i++)
		assert_int_equal(w->seen[i], i % 3 == 0);
	assert_false(w->wrong_tier);

	/* Nothing wanted: the trie empties. */
	assert_int_equal(spw_dp_rules_prune(fx->dp, keep, 0), 0);
	memset(w, 0, sizeof(*w));
	assert_int_equal(spw_dp_rules_foreach(fx->dp, visit, w), 0);
	assert_int_equal(w->n, 0);
	free(keep);
	free(w);
}

static void test_trusted_prune(void **state)
{
	struct spw_fixture *fx = *state;
	static const uint8_t in_first[SPW_ADDR_LEN] = {[10] = 0xff, [11] = 0xff, 10, 0, 0, 9};
	static const uint8_t in_second[SPW_ADDR_LEN] = {[10] = 0xff, [11] = 0xff, 10, 0, 1, 9};
	struct spw_lpm_key keep;
	struct spw_cidr c;

	rule_cidr(0, &c); /* 10.0.0.0/24 */
	assert_int_equal(spw_dp_trusted_add(fx->dp, &c), 0);
	spw_cidr_to_key(&c, &keep);
	assert_int_equal(spw_cidr_parse("10.0.1.0/24", &c, NULL, 0), 0);
	assert_int_equal(spw_dp_trusted_add(fx->dp, &c), 0);
	assert_int_equal(spw_dp_trusted_lookup(fx->dp, in_second), 0);
	assert_int_equal(spw_dp_trusted_prune(fx->dp, &keep, 1), 0);
	assert_int_equal(spw_dp_trusted_lookup(fx->dp, in_first), 0);
	assert_int_equal(spw_dp_trusted_lookup(fx->dp, in_second), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prune_keeps_exactly_the_wanted, spw_fixture_setup,
					    spw_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_trusted_prune, spw_fixture_setup,
					    spw_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
