/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The token bucket arithmetic, shared by the per-tier new-flow limit (global, spin-locked)
 * and the flood guard's insert budget (per CPU). Pure arithmetic: no helper calls, so it may
 * run under a bpf_spin_lock.
 */
#ifndef SPW_BUCKET_BPF_H
#define SPW_BUCKET_BPF_H

#include "spillway_abi.h"

/* A bucket's depth in units: burst tokens, 0 meaning one second's worth. */
static __always_inline __u64 spw_bucket_depth(__u64 rate, __u64 burst)
{
	return (burst ? burst : rate) * SPW_BUCKET_UNIT;
}

/* Puts one token back, never above the depth. */
static __always_inline void spw_bucket_put(__u64 *units, __u64 rate, __u64 burst)
{
	__u64 cap = spw_bucket_depth(rate, burst);

	*units = *units + SPW_BUCKET_UNIT < cap ? *units + SPW_BUCKET_UNIT : cap;
}

/*
 * Refills *units at rate tokens per second since *last_ns, up to burst tokens (0: one
 * second's worth), then takes one token. A bucket never used (last_ns 0) starts full.
 * Returns 1 when a token was taken.
 */
static __always_inline int spw_bucket_refill_take(__u64 *units, __u64 *last_ns, __u64 rate,
						  __u64 burst, __u64 now)
{
	__u64 cap = spw_bucket_depth(rate, burst);
	__u64 have, elapsed;
	int ok;

	if (*last_ns == 0) {
		have = cap;
	} else {
		elapsed = now > *last_ns ? now - *last_ns : 0;
		/* Capped so elapsed * rate cannot overflow: rates are at most SPW_RATE_MAX. */
		if (elapsed > SPW_BUCKET_MAX_ELAPSED_NS)
			elapsed = SPW_BUCKET_MAX_ELAPSED_NS;
		have = *units + elapsed * rate;
		if (have > cap)
			have = cap;
	}
	ok = have >= SPW_BUCKET_UNIT;
	if (ok)
		have -= SPW_BUCKET_UNIT;
	*units = have;
	/* units before last_ns, in this order: see spw_bucket_take's unlocked read. */
	asm volatile("" ::: "memory");
	/*
	 * now was read before the lock: another CPU may have refilled since with a later clock.
	 * Stored back, the earlier time would make the next refill count the time up to that
	 * CPU's again, tokens over the rate; this take had elapsed 0 and keeps that last_ns.
	 */
	if (now > *last_ns)
		*last_ns = now;
	return ok;
}

/*
 * True when a refill at now could not give a whole token: the bucket held less than one
 * (units) at last_ns and less than one token's time has passed since. Then the take would
 * refuse and its write would change nothing a later refill does not compute the same way
 * (the refill is linear in elapsed time below the SPW_BUCKET_MAX_ELAPSED_NS clamp, which only
 * ever gives fewer tokens, and the depth cannot be reached below one token), so
 * the refusal needs neither the lock nor the write. A bucket never used (last_ns 0) is full.
 */
static __always_inline int spw_bucket_surely_empty(__u64 units, __u64 last_ns, __u64 rate,
						   __u64 now)
{
	__u64 elapsed;

	if (last_ns == 0 || units >= SPW_BUCKET_UNIT || !rate)
		return 0;
	elapsed = now > last_ns ? now - last_ns : 0;
	if (elapsed >= SPW_BUCKET_UNIT / rate)
		return 0;
	return units + elapsed * rate < SPW_BUCKET_UNIT;
}

#endif /* SPW_BUCKET_BPF_H */
