// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shared ABI (include/spillway_abi.h). spw_abi_check.h fails the build when a size or
 * offset moves; this adds what _Static_assert cannot say: no implicit padding anywhere, and
 * the reason names that label the metrics.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "spw_abi_check.h"
#include "spw_types.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Every byte of each struct belongs to a named field or explicit padding: the fields' sizes
 * add up to the struct size, so the compiler inserted nothing that the BPF side might lay out
 * differently.
 */
#define FSZ(type, field) sizeof(((type *)0)->field)

static void test_no_implicit_padding(void **state)
{
	(void)state;
	assert_int_equal(FSZ(struct spw_port, svc_id) + FSZ(struct spw_port, flags),
			 sizeof(struct spw_port));
	assert_int_equal(FSZ(struct spw_svc_addr_key, proto) + FSZ(struct spw_svc_addr_key, pad0) +
			     FSZ(struct spw_svc_addr_key, port) +
			     FSZ(struct spw_svc_addr_key, pad1) +
			     FSZ(struct spw_svc_addr_key, addr),
			 sizeof(struct spw_svc_addr_key));
	assert_int_equal(FSZ(struct spw_lpm_key, prefixlen) + FSZ(struct spw_lpm_key, addr),
			 sizeof(struct spw_lpm_key));
	assert_int_equal(FSZ(struct spw_rule, tier) + FSZ(struct spw_rule, pad) +
			     FSZ(struct spw_rule, rule_id),
			 sizeof(struct spw_rule));
	assert_int_equal(
	    FSZ(struct spw_policy, lease_expires_ns) + FSZ(struct spw_policy, admit_level) +
		FSZ(struct spw_policy, floor_level) + FSZ(struct spw_policy, default_tier) +
		FSZ(struct spw_policy, tier_count) + FSZ(struct spw_policy, flags) +
		FSZ(struct spw_policy, partial) + FSZ(struct spw_policy, action) +
		FSZ(struct spw_policy, rate_per_sec) + FSZ(struct spw_policy, burst) +
		FSZ(struct spw_policy, max_conns) + FSZ(struct spw_policy, admit_below) +
		FSZ(struct spw_policy, generation) + FSZ(struct spw_policy, mark_egress) +
		FSZ(struct spw_policy, max_tracked) + FSZ(struct spw_policy, inflight_below),
	    sizeof(struct spw_policy));
	assert_int_equal(
	    FSZ(struct spw_globals, cohort_salt) + FSZ(struct spw_globals, abi_version) +
		FSZ(struct spw_globals, salt_rotated_ns) + FSZ(struct spw_globals, insert_rate) +
		FSZ(struct spw_globals, insert_burst) +
		FSZ(struct spw_globals, ipv6_cohort_prefix) + FSZ(struct spw_globals, pad) +
		FSZ(struct spw_globals, icmp_burst) + FSZ(struct spw_globals, icmp_rate),
	    sizeof(struct spw_globals));
	assert_int_equal(FSZ(struct spw_bucket, lock) + FSZ(struct spw_bucket, pad) +
			     FSZ(struct spw_bucket, units) + FSZ(struct spw_bucket, last_ns),
			 sizeof(struct spw_bucket));
	assert_int_equal(FSZ(struct spw_flow_key, saddr) + FSZ(struct spw_flow_key, daddr) +
			     FSZ(struct spw_flow_key, sport) + FSZ(struct spw_flow_key, dport) +
			     FSZ(struct spw_flow_key, proto) + FSZ(struct spw_flow_key, pad),
			 sizeof(struct spw_flow_key));
	assert_int_equal(FSZ(struct spw_flow, last_us) + FSZ(struct spw_flow, req_us) +
			     FSZ(struct spw_flow, svc_id) + FSZ(struct spw_flow, tier) +
			     FSZ(struct spw_flow, cohort) + FSZ(struct spw_flow, state) +
			     FSZ(struct spw_flow, mark) + FSZ(struct spw_flow, pad) +
			     FSZ(struct spw_flow, cli_nxt),
			 sizeof(struct spw_flow));
}

/*
 * Reason values index the counters and their names are metric labels that dashboards and
 * alerts match on: renumbering or renaming one is a visible change, so it is pinned here.
 */
static void test_reasons(void **state)
{
	static const char *const want[] = {
	    "not_service",   "established", "admitted",	     "shed_level",    "shed_cap",
	    "shed_rate",     "would_shed",  "fail_open",     "malformed",     "fragment",
	    "table_full",    "not_ip",	    "flood_guard",   "reject_failed", "shed_reserve",
	    "marked_egress", "exempt",	    "tiny_fragment", "header_chain",  "reject_limited",
	};
	static const char *const got[] = {
#define REASON_NAME(name, str) [SPW_REASON_##name] = str,
	    SPW_REASONS(REASON_NAME)
#undef REASON_NAME
	};
	size_t i;

	(void)state;
	assert_int_equal(SPW_REASON_COUNT, ARRAY_SIZE(want));
	assert_int_equal(ARRAY_SIZE(got), ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++)
		assert_string_equal(got[i], want[i]);
	assert_true(SPW_REASON_COUNT <= SPW_REASON_SLOTS);
}

/* Sizes the maps and the data plane's loops are built from. */
static void test_constants(void **state)
{
	(void)state;
	assert_int_equal(SPW_ADDR_LEN, 16);
	assert_int_equal(SPW_V4_MAPPED_PREFIX, 96);
	assert_int_equal(SPW_COHORTS, 32);
	assert_int_equal(SPW_RANK_LIMIT, SPW_MAX_TIERS * SPW_COHORTS);
	assert_int_equal(SPW_COUNTER_ENTRIES, SPW_MAX_SERVICES * SPW_TIER_SLOTS * SPW_REASON_SLOTS);
	assert_int_equal(SPW_PORT_SLOT_UDP, 65536);
	assert_int_equal(SPW_PORT_SLOTS, 2 * 65536);
	/* Token bucket: the largest refill (capped elapsed x largest rate) fits in 64 bits. */
	assert_true((unsigned __int128)SPW_BUCKET_MAX_ELAPSED_NS * SPW_RATE_MAX <= UINT64_MAX);
	/* Every map name (all of SPW_MAPS) carries the project prefix and fits BPF_OBJ_NAME_LEN (16
	 * with NUL). */
	{
		static const char *const names[] = {
#define MAP_NAME(name, type, max, flags, key, value) SPW_MAP_NAME(name),
		    SPW_MAPS(MAP_NAME)
#undef MAP_NAME
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(names); i++) {
			assert_int_equal(strncmp(names[i], "spw_", 4), 0);
			assert_true(strlen(names[i]) < 16);
		}
	}
}

/* The open-time check of the kernel's map layouts: every map of the list, by its own sizes. */
static void test_map_layout_check(void **state)
{
	(void)state;
#define CHECK_LAYOUT(name, type, max, flags, key, value)                                           \
	assert_int_equal(spw_map_layout_check(SPW_MAP_NAME(name), sizeof(key), sizeof(value)), 0); \
	assert_int_equal(spw_map_layout_check(SPW_MAP_NAME(name), sizeof(key), sizeof(value) + 8), \
			 -EPROTO);                                                                 \
	assert_int_equal(spw_map_layout_check(SPW_MAP_NAME(name), sizeof(key) + 4, sizeof(value)), \
			 -EPROTO);
	SPW_MAPS(CHECK_LAYOUT)
#undef CHECK_LAYOUT
	assert_int_equal(spw_map_layout_check("spw_nomap", 4, 4), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_implicit_padding),
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_constants),
	    cmocka_unit_test(test_map_layout_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
