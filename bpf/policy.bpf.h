/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The decision for a new flow: admit level (rank against the level, floor protecting tier 0),
 * then the tier's optional new-flow token bucket.
 */
#ifndef SPW_POLICY_BPF_H
#define SPW_POLICY_BPF_H

#include "maps.bpf.h"
#include "spillway_rank.h"
#include "bucket.bpf.h"

/*
 * Takes one token from (svc, tier)'s bucket if it has one. The bucket is global, not per CPU:
 * a per-CPU split would let a rate of 10/s admit 10/s per core. Refill and take happen under
 * the bucket's spin lock; no helper may be called inside it.
 */
static __always_inline int spw_bucket_take(__u32 svc, __u32 tier, const struct spw_policy *pol,
					   __u64 now)
{
	__u32 idx = spw_bucket_index(svc, tier);
	struct spw_bucket *b;
	__u64 rate;
	int ok;

	if (tier >= SPW_MAX_TIERS)
		return 1;
	rate = pol->rate_per_sec[tier];
	if (!rate)
		return 1;
	b = bpf_map_lookup_elem(&spw_buckets, &idx);
	if (!b)
		return 1;
	bpf_spin_lock(&b->lock);
	ok = spw_bucket_refill_take(&b->units, &b->last_ns, rate, pol->burst[tier], now);
	bpf_spin_unlock(&b->lock);
	return ok;
}

/*
 * Gives back the token spw_bucket_take() took for a flow that was shed after all (the
 * concurrency cap): the rate limits flows admitted, so a refused one must not spend it.
 */
static __always_inline void spw_bucket_give(__u32 svc, __u32 tier, const struct spw_policy *pol)
{
	__u32 idx = spw_bucket_index(svc, tier);
	struct spw_bucket *b;
	__u64 rate;

	if (tier >= SPW_MAX_TIERS)
		return;
	rate = pol->rate_per_sec[tier];
	if (!rate)
		return;
	b = bpf_map_lookup_elem(&spw_buckets, &idx);
	if (!b)
		return;
	bpf_spin_lock(&b->lock);
	spw_bucket_put(&b->units, rate, pol->burst[tier]);
	bpf_spin_unlock(&b->lock);
}

/* SPW_REASON_ADMITTED, SPW_REASON_SHED_LEVEL or SPW_REASON_SHED_RATE. */
static __always_inline __u32 spw_decide(__u32 svc, __u32 tier, __u32 cohort,
					const struct spw_policy *pol, __u64 now)
{
	if (spw_rank(tier, cohort) >= spw_effective_level(pol))
		return SPW_REASON_SHED_LEVEL;
	if (!spw_bucket_take(svc, tier, pol, now))
		return SPW_REASON_SHED_RATE;
	return SPW_REASON_ADMITTED;
}

#endif /* SPW_POLICY_BPF_H */
