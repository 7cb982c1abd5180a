/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Client-side throttling arithmetic (adaptive throttling as Google's SRE book describes it),
 * written once for the data plane and for the unit tests: no libc, no BPF helpers, bounded
 * loops only.
 *
 * A downstream's window (struct spw_throttle_win) holds two generations of buckets: the
 * current one and the one before. The window is one bucket wide and slides smoothly: the
 * previous bucket's counts weigh by the part of it still inside the window (prev_w, in
 * 1/SPW_THROTTLE_W_ONE), as Cloudflare's sliding-window rate limiter estimates. Summing both
 * buckets whole instead would make the window shrink by half at every rollover, and the
 * downstream would see ~1.4 K x accepts. A new connection of tier t is refused locally with
 * the share
 *
 *     (E(t) - E(t - 1)) / (requests[t] + 1),   E(t) = max(0, requests[0..t] - K x accepts)
 *
 * where requests[0..t] are the attempts of tiers 0 to t in the window. The budget of K x
 * accepts goes to the most critical tiers first; with one tier this is the book's
 * max(0, (requests - K x accepts) / (requests + 1)), and over all tiers the refused total is
 * the same as the book's: only who is refused changes. Callers hold the record's lock.
 */
#ifndef SPILLWAY_THROTTLE_H
#define SPILLWAY_THROTTLE_H

#include "spillway_abi.h"

/* The refused share is a fraction of this: compared with 16 random bits. */
#define SPW_THROTTLE_ONE 65536U
/* K in hundredths: 200 is the book's K = 2 (the downstream sees at most ~2x what it accepts). */
#define SPW_THROTTLE_K_DEFAULT 200U
/* Bucket width, the window's width: the counts of the last second decide. */
#define SPW_THROTTLE_BUCKET_MS_DEFAULT 1000U
/* Weights of the previous bucket, and the counts read from the window, are in 1/256. */
#define SPW_THROTTLE_W_ONE 256U

/*
 * The bucket of time now_ms with buckets width_ms wide (> 0), and the weight of the previous
 * bucket: the part of the window (now_ms - width_ms, now_ms] that lies in it.
 */
static inline __u32 spw_throttle_clock(__u64 now_ms, __u32 width_ms, __u32 *prev_w)
{
	__u64 into = now_ms % width_ms;

	*prev_w = (__u32)(SPW_THROTTLE_W_ONE - into * SPW_THROTTLE_W_ONE / width_ms);
	return (__u32)(now_ms / width_ms);
}

/* Moves the window to bucket now: the generation now falls in restarts when it is older. */
static inline void spw_throttle_roll(struct spw_throttle_win *w, __u32 now)
{
	__u32 g = now & 1, t;

	if (w->bucket[g] == now)
		return;
	w->bucket[g] = now;
	w->accepts[g] = 0;
	for (t = 0; t < SPW_MAX_TIERS; t++)
		w->requests[g][t] = 0;
}

/* An attempt of tier (clamped to the tiers there are) in bucket now. */
static inline void spw_throttle_request(struct spw_throttle_win *w, __u32 tier, __u32 now)
{
	spw_throttle_roll(w, now);
	w->requests[now & 1][tier & (SPW_MAX_TIERS - 1)]++;
}

/* An accept (SYN-ACK) in bucket now. */
static inline void spw_throttle_accept(struct spw_throttle_win *w, __u32 now)
{
	spw_throttle_roll(w, now);
	w->accepts[now & 1]++;
}

/* A generation's count weighed into the window of bucket now, in 1/SPW_THROTTLE_W_ONE. */
static inline __u64 spw_throttle_weigh(const struct spw_throttle_win *w, __u32 g, __u32 now,
				       __u32 prev_w, __u32 n)
{
	if (w->bucket[g] == now)
		return (__u64)n * SPW_THROTTLE_W_ONE;
	if (w->bucket[g] + 1 == now)
		return (__u64)n * prev_w;
	return 0;
}

/* Attempts of tier t in the window, in 1/SPW_THROTTLE_W_ONE. */
static inline __u64 spw_throttle_requests(const struct spw_throttle_win *w, __u32 t, __u32 now,
					  __u32 prev_w)
{
	__u64 n = 0;
	__u32 g;

	for (g = 0; g < 2; g++)
		n += spw_throttle_weigh(w, g, now, prev_w, w->requests[g][t & (SPW_MAX_TIERS - 1)]);
	return n;
}

/* Accepts of all tiers in the window, in 1/SPW_THROTTLE_W_ONE. */
static inline __u64 spw_throttle_accepts(const struct spw_throttle_win *w, __u32 now, __u32 prev_w)
{
	__u64 n = 0;
	__u32 g;

	for (g = 0; g < 2; g++)
		n += spw_throttle_weigh(w, g, now, prev_w, w->accepts[g]);
	return n;
}

/* max(0, a - b) */
static inline __u64 spw_throttle_excess(__u64 a, __u64 b)
{
	return a > b ? a - b : 0;
}

/*
 * The share of tier's new attempts to refuse now, 0 .. SPW_THROTTLE_ONE, with K in hundredths
 * (k_centi). Counts are in hundredths too, so a fractional K needs no division but the last.
 */
static inline __u32 spw_throttle_share(const struct spw_throttle_win *w, __u32 tier, __u32 k_centi,
				       __u32 now, __u32 prev_w)
{
	__u64 budget = (__u64)k_centi * spw_throttle_accepts(w, now, prev_w);
	__u64 before = 0, mine = 0, share;
	__u32 t;

	tier &= SPW_MAX_TIERS - 1;
	for (t = 0; t < SPW_MAX_TIERS; t++) {
		__u64 n = spw_throttle_requests(w, t, now, prev_w);

		if (t < tier)
			before += n;
		else if (t == tier)
			mine = n;
	}
	share = spw_throttle_excess((before + mine) * 100, budget) -
		spw_throttle_excess(before * 100, budget);
	/* The book's requests + 1: one whole attempt, in the counts' 1/256. */
	share = share * SPW_THROTTLE_ONE / ((mine + SPW_THROTTLE_W_ONE) * 100);
	return share > SPW_THROTTLE_ONE ? SPW_THROTTLE_ONE : (__u32)share;
}

/* Refuse this attempt? rand is any 32 random bits; its low 16 are compared with the share. */
static inline int spw_throttle_refuse(__u32 share, __u32 rand)
{
	return (rand & (SPW_THROTTLE_ONE - 1)) < share;
}

#endif /* SPILLWAY_THROTTLE_H */
