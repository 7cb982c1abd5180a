/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the data plane, once: bpf/maps.bpf.h defines them from this list, user space
 * keeps one fd per entry (struct spw_dp_maps), opens them by pin and checks at open that the
 * loaded object's key and value sizes are the ones below, and the ABI test walks it.
 *
 * X(name, type, max_entries, map_flags, key, value): the BPF identifier and the pinned name
 * are spw_<name>; type is BPF_MAP_TYPE_<type>. Keys, values and sizes come from
 * spillway_abi.h.
 */
#ifndef SPILLWAY_MAPS_H
#define SPILLWAY_MAPS_H

#include "spillway_abi.h"

#define SPW_MAPS(X)                                                                                \
	/* (protocol, port) -> service for any local address; an array: the one lookup             \
	 * non-service traffic pays. */                                                            \
	X(ports, ARRAY, SPW_PORT_SLOTS, 0, __u32, struct spw_port)                                 \
	/* (protocol, port, local address) -> service, for services bound to one address. */       \
	X(svc_addrs, HASH, SPW_MAX_SVC_ADDRS, 0, struct spw_svc_addr_key, __u32)                   \
	/* service -> policy; spin-locked records read and written whole (atomic). */              \
	X(policies, ARRAY, SPW_MAX_SERVICES, 0, __u32, struct spw_policy_rec)                      \
	/* source prefix -> tier (IPv4 mapped into IPv6); LPM tries require no prealloc. */        \
	X(rules, LPM_TRIE, SPW_MAX_RULES, BPF_F_NO_PREALLOC, struct spw_lpm_key, struct spw_rule)  \
	/* source prefixes whose DSCP marks are trusted to pick a tier. */                         \
	X(trusted, LPM_TRIE, SPW_MAX_TRUSTED, BPF_F_NO_PREALLOC, struct spw_lpm_key, __u8)         \
	/* (family, source prefix) -> 1: exempt sources, admitted whatever the policy says. */     \
	X(exempt, LPM_TRIE, SPW_MAX_EXEMPT, BPF_F_NO_PREALLOC, struct spw_exempt_key, __u8)        \
	/* the IPv4 /16 blocks exempt prefixes overlap: most sources skip the exempt trie. */      \
	X(exempt_v4, ARRAY, 1, 0, __u32, struct spw_v4_blocks)                                     \
	/* DSCP -> tier, SPW_DSCP_UNMAPPED when the mark names no tier. */                         \
	X(dscp, ARRAY, SPW_DSCP_VALUES, 0, __u32, __u8)                                            \
	/* run-time knobs the daemon rotates (cohort salt); one entry. */                          \
	X(globals, ARRAY, 1, 0, __u32, struct spw_globals)                                         \
	/* (service, tier) -> new-flow token bucket; shared by all CPUs, so spin-locked. */        \
	X(buckets, ARRAY, SPW_MAX_SERVICES *SPW_MAX_TIERS, 0, __u32, struct spw_bucket)            \
	/* [service][tier slot][reason] -> packets, bytes; per CPU, no atomics on the hot path. */ \
	X(counters, PERCPU_ARRAY, SPW_COUNTER_ENTRIES, 0, __u32, struct spw_counter)               \
	/* client 5-tuple -> admitted flow; user space may resize it before the first load. */     \
	X(flows, HASH, SPW_FLOWS_DEFAULT, 0, struct spw_flow_key, struct spw_flow)                 \
	/* flow-key hash -> two generation bits: may this SYN be a tracked flow's? Mmapable, so    \
	 * the sweep clears a generation with atomics beside the data plane's atomic OR. */        \
	X(recent, ARRAY, SPW_RECENT_WORDS, BPF_F_MMAPABLE, __u32, __u64)                           \
	/* service -> new flows by rank the level let pass and shed; per CPU, summed by readers.   \
	 */                                                                                        \
	X(rank_counts, PERCPU_ARRAY, SPW_MAX_SERVICES, 0, __u32, struct spw_rank_count)            \
	/* (service, tier) -> active flows; mmapable so the sweep's decrements are atomic too. */  \
	X(active, ARRAY, SPW_ACTIVE_ENTRIES, BPF_F_MMAPABLE, __u32, __u64)                         \
	/* (service, tier) -> requests awaiting their response; mmapable, atomics. */              \
	X(inflight, ARRAY, SPW_INFLIGHT_ENTRIES, BPF_F_MMAPABLE, __u32, __u64)                     \
	/* [service][start-time slot] -> requests awaiting their response; mmapable, atomics. */   \
	X(req_ages, ARRAY, SPW_REQ_AGE_ENTRIES, BPF_F_MMAPABLE, __u32, __u64)                      \
	/* [service][tier][latency bucket] -> responses; per CPU, summed by readers. */            \
	X(latency, PERCPU_ARRAY, SPW_LAT_ENTRIES, 0, __u32, __u64)                                 \
	/* [service][latency bucket] -> responses of all tiers; shared, mmapped by the daemon. */  \
	X(lat_svc, ARRAY, SPW_LAT_SVC_ENTRIES, BPF_F_MMAPABLE, __u32, __u64)                       \
	/* per-CPU budget of new flow entries: a SYN flood cannot take the whole table at once. */ \
	X(guard, PERCPU_ARRAY, 1, 0, __u32, struct spw_insert_guard)                               \
	/* per-CPU budget of ICMP rejects: a UDP flood at a shed service draws few replies. */     \
	X(icmp_guard, PERCPU_ARRAY, 1, 0, __u32, struct spw_insert_guard)                          \
	/* (kind, name) -> last app report; read by the daemon and CLI, no program uses it. */     \
	X(reports, HASH, SPW_MAX_REPORTS, 0, struct spw_report_key, struct spw_report)             \
	/* service -> manual level override with expiry; read by the daemon each tick. */          \
	X(overrides, HASH, SPW_MAX_SERVICES, 0, __u32, struct spw_override)                        \
	/* service id -> the service's name and learned capacity, across daemon restarts. */       \
	X(services, ARRAY, SPW_MAX_SERVICES, 0, __u32, struct spw_service_rec)                     \
	/* interface -> how spillway's TC programs sit there; user space only. */                  \
	X(attached, HASH, SPW_MAX_ATTACHED, 0, struct spw_iface_key, struct spw_attach_rec)        \
	/* interface -> XDP_TX frames its driver failed to send; the tracepoint programs count,    \
	 * per CPU, only interfaces user space entered. */                                         \
	X(tx_failed, PERCPU_HASH, SPW_MAX_ATTACHED, 0, struct spw_iface_key, __u64)                \
	/* destination prefix -> downstream whose new connections TC egress throttles. */          \
	X(downstreams, LPM_TRIE, SPW_MAX_DOWNSTREAMS, BPF_F_NO_PREALLOC, struct spw_lpm_key,       \
	  struct spw_downstream)                                                                   \
	/* downstream id -> its throttle window; shared by all CPUs, so spin-locked. */            \
	X(throttle, ARRAY, SPW_MAX_DOWNSTREAMS, 0, __u32, struct spw_throttle_win)                 \
	/* [downstream][tier][kind] -> count; per CPU, summed by readers. */                       \
	X(thr_counts, PERCPU_ARRAY, SPW_THROTTLE_COUNT_ENTRIES, 0, __u32, __u64)                   \
	/* (local cgroup, downstream) -> tier of the cgroup's connections to the downstream. */    \
	X(out_cgroups, HASH, SPW_MAX_OUT_CGROUPS, 0, struct spw_out_cgroup_key, __u8)

/* The pinned name of map `name` of SPW_MAPS: SPW_MAP_NAME(flows) is "spw_flows". */
#define SPW_MAP_NAME(name) "spw_" #name

#endif /* SPILLWAY_MAPS_H */
