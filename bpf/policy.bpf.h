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
 * Each CPU's copy of each service's policy, with the record's stamp when it was copied: too
 * big for the program's stack beside the parse state, and per CPU so that reading it writes
 * no line another CPU reads. Not pinned, so the XDP and TC objects each have their own:
 * neither program nests on a CPU with itself, so a copy is never rewritten mid-use.
 */
struct spw_policy_copy {
	__u32 stamp;
	__u32 pad;
	struct spw_policy pol;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPW_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct spw_policy_copy);
} spw_policy_copies SEC(".maps");

/*
 * Service svc's policy, one whole policy of this service however often the daemon rewrites
 * it; NULL when the service has no policy. The record's lock (a shared line written by every
 * taker, and irqs off around it) is taken only when the record's stamp is not the copy's:
 * once per CPU per write, the daemon writing each service once a tick. The stamp is read
 * without the lock, so a write in progress (the kernel copies bytes) may show a mix of old
 * and new bytes, which can equal the copy's stamp: then this packet is decided by the copy,
 * an older policy of this service but a whole one, and the next packet after the write sees
 * the new stamp. Only loads and stores run inside the lock, as the verifier requires.
 */
static __always_inline struct spw_policy *spw_policy_read(__u32 svc)
{
	struct spw_policy_rec *rec = bpf_map_lookup_elem(&spw_policies, &svc);
	struct spw_policy_copy *c = bpf_map_lookup_elem(&spw_policy_copies, &svc);
	__u32 stamp;

	if (!rec || !c)
		return NULL;
	stamp = *(volatile __u32 *)&rec->stamp;
	if (!stamp)
		return NULL;
	if (stamp == c->stamp)
		return &c->pol;
	bpf_spin_lock(&rec->lock);
	stamp = rec->stamp;
	c->pol = rec->pol;
	bpf_spin_unlock(&rec->lock);
	c->stamp = stamp;
	return stamp ? &c->pol : NULL;
}

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
 *
 * A flood over the rate finds the bucket empty: such a SYN is refused on two reads, without
 * the lock (a line every CPU writes, irqs off around it). last_ns is read before units, and
 * a writer stores units before last_ns: on x86 (stores and loads each in order) a read
 * racing a write sees the old last_ns with either units, which only overstates what the
 * bucket holds and sends the SYN to the locked take. Where stores or loads may pass each
 * other (arm64; the barrier orders only the compiler) the race can understate it: one SYN
 * refused that a token was there for, never one admitted over the rate.
 */
static __always_inline int spw_bucket_take(__u32 svc, __u32 tier, const struct spw_policy *pol,
					   __u64 now)
{
	struct spw_bucket *b;
	__u64 rate, last;
	int ok;

	b = spw_bucket_of(svc, tier, pol, &rate);
	if (!b)
		return 1;
	last = *(volatile __u64 *)&b->last_ns;
	if (spw_bucket_surely_empty(*(volatile __u64 *)&b->units, last, rate, now))
		return 0;
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
		slot = spw_host_slot_of(saddr);
	return spw_level_admits(pol, rank, slot) ? SPW_REASON_ADMITTED : SPW_REASON_SHED_LEVEL;
}

/* SPW_REASON_ADMITTED or SPW_REASON_SHED_RATE: a flow the level admits takes a token. */
static __always_inline __u32 spw_decide_rate(__u32 svc, __u32 tier, const struct spw_policy *pol,
					     __u64 now)
{
	return spw_bucket_take(svc, tier, pol, now) ? SPW_REASON_ADMITTED : SPW_REASON_SHED_RATE;
}

#endif /* SPW_POLICY_BPF_H */
