/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-CPU counters: one increment per packet, no atomics on the hot path. */
#ifndef SPW_STATS_BPF_H
#define SPW_STATS_BPF_H

#include "maps.bpf.h"

static __always_inline void spw_count(__u32 svc, __u32 tier_slot, __u32 reason, __u32 bytes)
{
	__u32 idx = spw_counter_index(svc, tier_slot, reason);
	struct spw_counter *c = bpf_map_lookup_elem(&spw_counters, &idx);

	/* Only an index past the map can miss, and spw_counter_index cannot make one. */
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* A new flow the level decided on, by its rank: passed (admitted by the level) or shed. */
static __always_inline void spw_count_rank(__u32 svc, __u32 rank, int passed)
{
	struct spw_rank_count *c = bpf_map_lookup_elem(&spw_rank_counts, &svc);

	if (!c)
		return; /* a service id past the map: spw_new_flow's callers never pass one */
	rank &= SPW_RANK_LIMIT - 1;
	if (passed)
		c->passed[rank]++;
	else
		c->shed[rank]++;
}

#endif /* SPW_STATS_BPF_H */
