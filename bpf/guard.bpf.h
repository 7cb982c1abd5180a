/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-CPU budgets on the paths a flood drives: the flood guard's inserts into the flow table
 * and the ICMP rejects sent for shed datagrams. Per CPU and run with preemption off, so no
 * lock and no atomics: the ceiling is the rate times the CPUs a flood is spread over.
 */
#ifndef SPW_GUARD_BPF_H
#define SPW_GUARD_BPF_H

#include "maps.bpf.h"
#include "bucket.bpf.h"

/* Takes a token of this CPU's bucket in map (a one-entry PERCPU_ARRAY); 1 when taken. */
static __always_inline int spw_pcpu_take(void *map, __u64 rate, __u64 burst, __u64 now)
{
	__u32 zero = 0;
	struct spw_insert_guard *b = bpf_map_lookup_elem(map, &zero);

	if (!b)
		return 1;
	return spw_bucket_refill_take(&b->units, &b->last_ns, rate, burst, now);
}

#endif /* SPW_GUARD_BPF_H */
