/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Compile-time checks of the ABI shared with the BPF programs (include/spillway_abi.h).
 *
 * The BPF objects are built by clang for the bpf target and user space by the host compiler;
 * a struct that lays out differently on the two (implicit padding, a changed field) would
 * corrupt every map access silently. Pinning each size and key offset here turns such a
 * change into a build error: update these numbers, and SPW_ABI_VERSION, on purpose.
 * Include it from user-space code that reads or writes the maps; tests/unit/test_abi_sizes.c
 * does, so the unit tests fail to build if it breaks.
 */
#ifndef SPW_ABI_CHECK_H
#define SPW_ABI_CHECK_H

#include <stddef.h>
#include "spillway_maps.h"

#define SPW_ABI_SIZE(type, size)                                                                   \
	_Static_assert(sizeof(type) == (size), #type " is not " #size " bytes")
#define SPW_ABI_OFF(type, field, off)                                                              \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " is not at offset " #off)

/*
 * Row sizes of the latency histograms: a changed bucket count is a changed layout of two
 * pinned maps (and of what each bucket index means), though no struct moves.
 */
_Static_assert(SPW_LAT_BUCKETS == 240, "the latency histogram is not 240 buckets a row");
_Static_assert(SPW_LAT_ENTRIES == SPW_MAX_SERVICES * SPW_MAX_TIERS * 240,
	       "spw_latency is not 240 buckets per (service, tier)");
_Static_assert(SPW_LAT_SVC_ENTRIES == SPW_MAX_SERVICES * 240,
	       "spw_lat_svc is not 240 buckets per service");

SPW_ABI_SIZE(struct spw_port, 4);
SPW_ABI_OFF(struct spw_port, svc_id, 0);
SPW_ABI_OFF(struct spw_port, flags, 2);

SPW_ABI_SIZE(struct spw_svc_addr_key, 24);
SPW_ABI_OFF(struct spw_svc_addr_key, proto, 0);
SPW_ABI_OFF(struct spw_svc_addr_key, port, 2);
SPW_ABI_OFF(struct spw_svc_addr_key, addr, 8);

/* The LPM trie reads prefixlen as the first 4 bytes and matches the data right after it. */
SPW_ABI_SIZE(struct spw_lpm_key, 20);
SPW_ABI_OFF(struct spw_lpm_key, prefixlen, 0);
SPW_ABI_OFF(struct spw_lpm_key, addr, 4);

SPW_ABI_SIZE(struct spw_rule, 8);

SPW_ABI_SIZE(struct spw_throttle_win, 88);
SPW_ABI_OFF(struct spw_throttle_win, bucket, 4);
SPW_ABI_OFF(struct spw_throttle_win, requests, 12);
SPW_ABI_OFF(struct spw_throttle_win, accepts, 76);
SPW_ABI_SIZE(struct spw_downstream, 24);
SPW_ABI_OFF(struct spw_downstream, port, 4);
SPW_ABI_OFF(struct spw_downstream, default_tier, 6);
SPW_ABI_OFF(struct spw_downstream, k_centi, 8);
SPW_ABI_OFF(struct spw_downstream, bucket_ms, 12);
SPW_ABI_OFF(struct spw_downstream, mark, 16);
SPW_ABI_SIZE(struct spw_out_cgroup_key, 16);
SPW_ABI_OFF(struct spw_out_cgroup_key, downstream, 8);
SPW_ABI_OFF(struct spw_rule, tier, 0);
SPW_ABI_OFF(struct spw_rule, rule_id, 4);

SPW_ABI_SIZE(struct spw_policy_rec, 208);
SPW_ABI_OFF(struct spw_policy_rec, stamp, 4);
SPW_ABI_OFF(struct spw_policy_rec, pol, 8);

SPW_ABI_SIZE(struct spw_policy, 200);
SPW_ABI_OFF(struct spw_policy, lease_expires_ns, 0);
SPW_ABI_OFF(struct spw_policy, admit_level, 8);
SPW_ABI_OFF(struct spw_policy, floor_level, 10);
SPW_ABI_OFF(struct spw_policy, default_tier, 12);
SPW_ABI_OFF(struct spw_policy, tier_count, 13);
SPW_ABI_OFF(struct spw_policy, flags, 14);
SPW_ABI_OFF(struct spw_policy, partial, 15);
SPW_ABI_OFF(struct spw_policy, action, 16);
SPW_ABI_OFF(struct spw_policy, rate_per_sec, 24);
SPW_ABI_OFF(struct spw_policy, burst, 56);
SPW_ABI_OFF(struct spw_policy, max_conns, 88);
SPW_ABI_OFF(struct spw_policy, admit_below, 120);
SPW_ABI_OFF(struct spw_policy, generation, 152);
SPW_ABI_OFF(struct spw_policy, mark_egress, 156);
SPW_ABI_OFF(struct spw_policy, max_tracked, 164);
SPW_ABI_OFF(struct spw_policy, inflight_below, 168);

SPW_ABI_SIZE(struct spw_service_rec, 48);
SPW_ABI_OFF(struct spw_service_rec, capacity_mfps, 32);

SPW_ABI_SIZE(struct spw_globals, 32);

SPW_ABI_SIZE(struct spw_iface_key, 16);
SPW_ABI_OFF(struct spw_iface_key, ifindex, 8);

SPW_ABI_SIZE(struct spw_attach_rec, 24);
SPW_ABI_OFF(struct spw_attach_rec, ingress_prio, 2);
SPW_ABI_OFF(struct spw_attach_rec, ingress_handle, 8);
SPW_ABI_OFF(struct spw_attach_rec, egress_handle, 12);
SPW_ABI_OFF(struct spw_attach_rec, xdp_via, 6);
SPW_ABI_OFF(struct spw_attach_rec, xdp_prog_id, 16);
SPW_ABI_OFF(struct spw_globals, cohort_salt, 0);
SPW_ABI_OFF(struct spw_globals, abi_version, 4);
SPW_ABI_OFF(struct spw_globals, salt_rotated_ns, 8);
SPW_ABI_OFF(struct spw_globals, insert_rate, 16);
SPW_ABI_OFF(struct spw_globals, insert_burst, 20);
SPW_ABI_OFF(struct spw_globals, ipv6_cohort_prefix, 24);
SPW_ABI_OFF(struct spw_globals, icmp_burst, 26);
SPW_ABI_OFF(struct spw_globals, icmp_rate, 28);

/* The spin lock must sit in the value itself, first, 4 bytes: the verifier's rule. */
SPW_ABI_SIZE(struct spw_bucket, 24);
SPW_ABI_OFF(struct spw_bucket, lock, 0);
SPW_ABI_OFF(struct spw_bucket, units, 8);
SPW_ABI_OFF(struct spw_bucket, last_ns, 16);

SPW_ABI_SIZE(struct spw_flow_key, 40);
SPW_ABI_OFF(struct spw_flow_key, saddr, 0);
SPW_ABI_OFF(struct spw_flow_key, daddr, 16);
SPW_ABI_OFF(struct spw_flow_key, sport, 32);
SPW_ABI_OFF(struct spw_flow_key, dport, 34);
SPW_ABI_OFF(struct spw_flow_key, proto, 36);

/* 20 bytes: with the 40-byte key and the kernel's element header, under 128 bytes a flow. */
SPW_ABI_SIZE(struct spw_flow, 20);
SPW_ABI_OFF(struct spw_flow, last_us, 0);
SPW_ABI_OFF(struct spw_flow, req_us, 4);
SPW_ABI_OFF(struct spw_flow, svc_id, 8);
SPW_ABI_OFF(struct spw_flow, tier, 10);
SPW_ABI_OFF(struct spw_flow, cohort, 11);
SPW_ABI_OFF(struct spw_flow, state, 12);
SPW_ABI_OFF(struct spw_flow, mark, 13);
SPW_ABI_OFF(struct spw_flow, cli_nxt, 16);

SPW_ABI_SIZE(struct spw_exempt_key, 24);
SPW_ABI_SIZE(struct spw_v4_blocks, 8200);
SPW_ABI_OFF(struct spw_exempt_key, family, 4);
SPW_ABI_OFF(struct spw_exempt_key, addr, 5);

SPW_ABI_SIZE(struct spw_insert_guard, 16);
SPW_ABI_SIZE(struct spw_counter, 16);
SPW_ABI_SIZE(struct spw_rank_count, 4096);

SPW_ABI_SIZE(struct spw_report_key, 36);
SPW_ABI_OFF(struct spw_report_key, name, 4);
SPW_ABI_SIZE(struct spw_report, 72);
SPW_ABI_OFF(struct spw_report, present, 64);
SPW_ABI_SIZE(struct spw_override, 16);
SPW_ABI_OFF(struct spw_override, level, 8);

/* Index spaces: a reason or tier past its slots would write into the next row's counters. */
_Static_assert(SPW_REASON_COUNT <= SPW_REASON_SLOTS, "more reasons than counter slots");
_Static_assert(SPW_TIER_NONE < SPW_TIER_SLOTS, "unclassified tier slot outside the row");
_Static_assert(SPW_RANK_LIMIT <= 0xffff, "admit_level is 16 bits");
_Static_assert(SPW_MAX_TIERS <= 0xff && SPW_COHORTS <= 0xff, "tier and cohort are 8 bits");
/* spw_cohort() takes a 32-bit hash modulo SPW_COHORTS: unbiased only for a power of two. */
_Static_assert((SPW_COHORTS & (SPW_COHORTS - 1)) == 0, "cohorts must be a power of two");

#endif /* SPW_ABI_CHECK_H */
