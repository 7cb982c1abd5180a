/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The coarse clock at the price of a load. bpf_ktime_get_coarse_ns is a helper call that
 * reads the timekeeper under its seqcount and converts a timespec (about a tenth of a shed
 * SYN's cost); bpf_jiffies64 is inlined by the verifier into one load (64-bit kernels, 5.5+).
 * The coarse clock only moves when jiffies do, so each CPU keeps the coarse time it read at
 * the current jiffy and reads the clock again only when jiffies have moved: once a tick per
 * CPU instead of once a packet.
 *
 * The value is never ahead of CLOCK_MONOTONIC, and behind it by about two ticks (the coarse
 * time read at a jiffy's first packet may predate that tick's timekeeping update; a
 * timekeeping CPU descheduled between the two stretches that, until the next jiffy): 8 ms at
 * HZ=250, against leases of seconds and idle stamps of flows that time out in seconds.
 */
#ifndef SPW_CLOCK_BPF_H
#define SPW_CLOCK_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct spw_clock_cache {
	__u64 jiffies;
	__u64 coarse_ns;
};

/* Per CPU, not pinned: each object (XDP, TC) keeps its own; a stale entry only ages a read. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spw_clock_cache);
} spw_clock_cache SEC(".maps");

static __always_inline __u64 spw_coarse_ns(void)
{
	__u32 zero = 0;
	struct spw_clock_cache *c = bpf_map_lookup_elem(&spw_clock_cache, &zero);
	__u64 j = bpf_jiffies64();

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->jiffies != j) {
		c->coarse_ns = bpf_ktime_get_coarse_ns();
		c->jiffies = j;
	}
	return c->coarse_ns;
}

#endif /* SPW_CLOCK_BPF_H */
