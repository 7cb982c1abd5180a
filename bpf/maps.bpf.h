/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of the data plane, one line each. All are pinned by name under the pin root, so
 * the XDP and TC objects, the CLI and a restarted daemon share one set. Keys, values and sizes
 * come from include/spillway_abi.h.
 */
#ifndef SPW_MAPS_BPF_H
#define SPW_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "spillway_abi.h"

/* (protocol, port) -> service for any local address; an array: the one lookup non-service traffic pays. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPW_PORT_SLOTS);
	__type(key, __u32);
	__type(value, struct spw_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_ports SEC(".maps");

/* (protocol, port, local address) -> service, for services bound to one address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPW_MAX_SVC_ADDRS);
	__type(key, struct spw_svc_addr_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_svc_addrs SEC(".maps");

/* service -> policy; no prealloc, so an update swaps whole records under RCU (atomic). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPW_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct spw_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_policies SEC(".maps");

/* source prefix -> tier (IPv4 mapped into IPv6); LPM tries require no prealloc. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SPW_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct spw_lpm_key);
	__type(value, struct spw_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_rules SEC(".maps");

/* source prefixes whose DSCP marks are trusted to pick a tier. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SPW_MAX_TRUSTED);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct spw_lpm_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_trusted SEC(".maps");

/* DSCP -> tier, SPW_DSCP_UNMAPPED when the mark names no tier. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPW_DSCP_VALUES);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_dscp SEC(".maps");

/* run-time knobs the daemon rotates (cohort salt); one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spw_globals);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_globals SEC(".maps");

/* (service, tier) -> new-flow token bucket; shared by all CPUs, so spin-locked. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPW_MAX_SERVICES * SPW_MAX_TIERS);
	__type(key, __u32);
	__type(value, struct spw_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_buckets SEC(".maps");

/* [service][tier slot][reason] -> packets, bytes; per CPU, no atomics on the hot path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPW_COUNTER_ENTRIES);
	__type(key, __u32);
	__type(value, struct spw_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_counters SEC(".maps");

/* client 5-tuple -> admitted flow; user space may resize it before the first load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPW_FLOWS_DEFAULT);
	__type(key, struct spw_flow_key);
	__type(value, struct spw_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_flows SEC(".maps");

/* (service, tier) -> active flows; mmapable so the sweep's decrements are atomic too. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPW_ACTIVE_ENTRIES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_active SEC(".maps");

/* [service][tier][log2 us] -> responses; per CPU, summed by readers. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPW_LAT_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_latency SEC(".maps");

/* per-CPU budget of new flow entries: a SYN flood cannot take the whole table at once. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spw_insert_guard);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_insert_guard SEC(".maps");

/* (kind, name) -> last app report; read by the daemon and CLI, no program uses it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPW_MAX_REPORTS);
	__type(key, struct spw_report_key);
	__type(value, struct spw_report);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_reports SEC(".maps");

/* service -> manual level override with expiry; read by the daemon each tick. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SPW_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct spw_override);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} spw_overrides SEC(".maps");

#endif /* SPW_MAPS_BPF_H */
