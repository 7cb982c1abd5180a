// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ageing the recently-admitted filter (spw_recent) that a shed SYN reads before it pays for
 * a flow lookup. The data plane sets both of a flow's bits before it inserts the SYN_SEEN
 * entry; here one generation is cleared at a time, and only when the other was cleared more
 * than syn_timeout before a sweep that has just removed every SYN_SEEN entry older than
 * syn_timeout. A flow marked before clear k keeps its other bit until clear k + 1, and the
 * sweep before clear k + 1 started more than syn_timeout after clear k, so it removed the
 * entry first: the filter never misses a flow still in the table as SYN_SEEN.
 */
#include <stdbool.h>
#include <stdint.h>
#include "spillway_recent.h"
#include "spw_dataplane_priv.h"

/* Stamps are truncated microseconds: this much margin keeps "older than" strict. */
#define SPW_RECENT_MARGIN_NS 2000000ULL

bool spw_dp_recent_age(struct spw_dataplane *dp, uint64_t syn_timeout_ns, uint64_t sweep_ns)
{
	uint64_t keep = dp->recent_gen ? SPW_RECENT_GEN0 : SPW_RECENT_GEN1;
	size_t i;

	if (!dp->recent ||
	    sweep_ns <= dp->recent_cleared_ns + syn_timeout_ns + SPW_RECENT_MARGIN_NS)
		return false;
	/* Atomic: data-plane CPUs OR bits into the same words meanwhile. */
	for (i = 0; i < SPW_RECENT_WORDS; i++)
		__atomic_fetch_and(&dp->recent[i], keep, __ATOMIC_RELAXED);
	dp->recent_gen ^= 1;
	/* Read after the last word: the next clear waits syn_timeout from the end of this one. */
	dp->recent_cleared_ns = spw_now_ns();
	return true;
}

void spw_dp_recent_mark(struct spw_dataplane *dp, const struct spw_flow_key *key)
{
	__u32 slot = spw_recent_slot(key);

	if (dp->recent)
		__atomic_fetch_or(&dp->recent[spw_recent_word_of(slot)], spw_recent_mask_of(slot),
				  __ATOMIC_RELAXED);
}
