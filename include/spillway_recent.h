/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The slot of a flow key in the recently-admitted filter (spw_recent): written once, compiled
 * into the BPF programs and into user space, so tests read the bits the data plane sets.
 */
#ifndef SPILLWAY_RECENT_H
#define SPILLWAY_RECENT_H

#include "spillway_rank.h"

/* Client address and port, local address and port, mixed into 0 .. SPW_RECENT_SLOTS - 1. */
static inline __u32 spw_recent_slot(const struct spw_flow_key *key)
{
	__u32 h =
	    spw_mix32(spw_be32_at(key->saddr + 12) ^ ((__u32)key->sport << 16 | (__u32)key->dport));

	/* IPv4 clients differ only in the last word; the others carry IPv6 clients and hosts
	 * with more than one local address. */
	h = spw_mix32(h ^ spw_be32_at(key->saddr) ^ spw_be32_at(key->saddr + 4) ^
		      spw_be32_at(key->saddr + 8));
	return spw_mix32(h ^ spw_be32_at(key->daddr + 12)) % SPW_RECENT_SLOTS;
}

/* The filter word holding the slot's two bits (one per generation), and those bits. */
static inline __u32 spw_recent_word_of(__u32 slot)
{
	return slot / 32;
}

static inline __u64 spw_recent_mask_of(__u32 slot)
{
	return 3ULL << ((slot % 32) * 2);
}

#endif /* SPILLWAY_RECENT_H */
