/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The "recently admitted" filter: which SYNs may belong to a flow in the table. A SYN the
 * level sheds reads one word of a 32 KiB array here instead of probing the flow table's
 * megabytes of buckets (random tuples miss the cache there); only a hit pays for the lookup.
 *
 * Exact for retransmissions: a flow's two bits are set (one atomic OR) before its SYN_SEEN
 * entry is inserted, and user space clears one generation only syn_timeout after it cleared
 * the other, after its sweep removed the SYN_SEEN entries older than that; so while an entry
 * a SYN could retransmit lives, one of its bits is set. A false hit costs the lookup, never a
 * decision: the table has the last word.
 */
#ifndef SPW_RECENT_BPF_H
#define SPW_RECENT_BPF_H

#include "maps.bpf.h"
#include "spillway_recent.h"

/* The word holding the slot's two bits; NULL only if the map were smaller than its size. */
static __always_inline __u64 *spw_recent_word(const struct spw_flow_key *key, __u64 *mask)
{
	__u32 slot = spw_recent_slot(key), idx = spw_recent_word_of(slot);

	*mask = spw_recent_mask_of(slot);
	return bpf_map_lookup_elem(&spw_recent, &idx);
}

/* Whether a flow with this key may be in the table (0: it certainly is not). */
static __always_inline int spw_recent_maybe(const struct spw_flow_key *key)
{
	__u64 mask, *w = spw_recent_word(key, &mask);

	/* No filter is no proof of absence: look the table up. */
	return !w || (*w & mask);
}

/* Marks a flow about to be inserted; atomic, as other CPUs set bits of the same word. */
static __always_inline void spw_recent_mark(const struct spw_flow_key *key)
{
	__u64 mask, *w = spw_recent_word(key, &mask);

	/* Both bits already set (a busy client's ports come round): leave the line shared. */
	if (w && (*w & mask) != mask)
		__sync_fetch_and_or(w, mask);
}

#endif /* SPW_RECENT_BPF_H */
