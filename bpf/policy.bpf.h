/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The decision for a new flow in two steps: the admit level (rank against the level, floor
 * protecting tier 0), then, for a flow the level admits, the tier's optional token bucket.
 */
#ifndef SPW_POLICY_BPF_H
#define SPW_POLICY_BPF_H

#include "maps.bpf.h"
#include "spillway_rank.h"
#include "classify.bpf.h"
#include "bucket.bpf.h"

/*
 * The new-flow bucket of (svc, tier), NULL when the tier has no rate limit; *rate its rate.
 * The bucket is global, not per CPU: a per-CPU split would let a rate of 10/s admit 10/s
 * per core.
 */
static __always_inline struct spw_bucket *spw_bucket_of(__u32 svc, __u32 tier,
							const struct spw_policy *pol, __u64 *rate)
{
	__u32 idx = spw_bucket_index(svc, tier);

	if (tier >= SPW_MAX_TIERS)
		return NULL;
	*rate = pol->rate_per_sec[tier];
	if (!*rate)
		return NULL;
	return bpf_map_lookup_elem(&spw_buckets, &idx);
}

/*
 * Takes one token from (svc, tier)'s bucket if it has one (1 also when there is no limit).
 * Refill and take happen under the bucket's spin lock; no helper may be called inside it.
 */
static __always_inline int spw_bucket_take(__u32 svc, __u32 tier, const struct spw_policy *pol,
					   __u64 now)
{
	struct spw_bucket *b;
	__u64 rate;
	int ok;

	b = spw_bucket_of(svc, tier, pol, &rate);
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
	struct spw_bucket *b;
	__u64 rate;

	b = spw_bucket_of(svc, tier, pol, &rate);
	if (!b)
		return;
	bpf_spin_lock(&b->lock);
	spw_bucket_put(&b->units, rate, pol->burst[tier]);
	bpf_spin_unlock(&b->lock);
}

/*
 * SPW_REASON_ADMITTED or SPW_REASON_SHED_LEVEL: the rank against the level. The host slot is
 * hashed only for the one rank that is admitted in part: every other flow is decided by its
 * rank. No clock and no write: a flood the level sheds pays for nothing else here.
 */
static __always_inline __u32 spw_decide_level(__u32 tier, __u32 cohort, const __u8 *saddr,
					      const struct spw_policy *pol)
{
	__u32 rank = spw_rank(tier, cohort), slot = SPW_PARTIAL_ONE;

	if (rank == spw_effective_level(pol) && pol->partial)
		slot = spw_host_slot(saddr, spw_salt());
	return spw_level_admits(pol, rank, slot) ? SPW_REASON_ADMITTED : SPW_REASON_SHED_LEVEL;
}

/* SPW_REASON_ADMITTED or SPW_REASON_SHED_RATE: a flow the level admits takes a token. */
static __always_inline __u32 spw_decide_rate(__u32 svc, __u32 tier, const struct spw_policy *pol,
					     __u64 now)
{
	return spw_bucket_take(svc, tier, pol, now) ? SPW_REASON_ADMITTED : SPW_REASON_SHED_RATE;
}

#endif /* SPW_POLICY_BPF_H */
