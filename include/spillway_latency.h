/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The response-latency histogram's bucketing, written once for the BPF side (which fills it)
 * and user space (which turns it into percentiles and Prometheus buckets).
 */
#ifndef SPILLWAY_LATENCY_H
#define SPILLWAY_LATENCY_H

#include "spillway_abi.h"

/*
 * Buckets: each power of two is split in SPW_LAT_SUB linear sub-buckets, so a bucket is at
 * most 1/8 of its lower bound wide and a quantile read from it is within 12.5 % of the true
 * value whatever the distribution inside (plain log2 buckets were 100 % wide: 10k responses
 * spread over 135-145 ms read a p99 of 261 ms). Below 2 * SPW_LAT_SUB us every microsecond
 * has its own bucket. 240 buckets cover the whole 32-bit range.
 */
#define SPW_LAT_SUB_SHIFT 3
#define SPW_LAT_SUB	  (1U << SPW_LAT_SUB_SHIFT)

/* floor(log2(us)) for us >= 1, in a few branches the verifier follows. */
static inline __u32 spw_log2_u32(__u32 us)
{
	__u32 b = 0;

	if (us >= 1U << 16) {
		b += 16;
		us >>= 16;
	}
	if (us >= 1U << 8) {
		b += 8;
		us >>= 8;
	}
	if (us >= 1U << 4) {
		b += 4;
		us >>= 4;
	}
	if (us >= 1U << 2) {
		b += 2;
		us >>= 2;
	}
	if (us >= 1U << 1)
		b += 1;
	return b;
}

/* Bucket of a latency in microseconds. */
static inline __u32 spw_latency_bucket(__u32 us)
{
	__u32 e;

	if (us < SPW_LAT_SUB)
		return us;
	e = spw_log2_u32(us); /* >= SPW_LAT_SUB_SHIFT */
	return SPW_LAT_SUB * (e - SPW_LAT_SUB_SHIFT + 1) +
	       ((us >> (e - SPW_LAT_SUB_SHIFT)) & (SPW_LAT_SUB - 1));
}

/* Smallest latency (us) of bucket b; bucket b spans [lower(b), lower(b + 1)). */
static inline __u64 spw_latency_bucket_lower(__u32 b)
{
	__u32 e;

	if (b < SPW_LAT_SUB)
		return b;
	e = b / SPW_LAT_SUB + SPW_LAT_SUB_SHIFT - 1;
	return (__u64)(SPW_LAT_SUB + b % SPW_LAT_SUB) << (e - SPW_LAT_SUB_SHIFT);
}

/*
 * Whether bucket b starts at a power of two (1, 2, 4, ...): the bounds exported to
 * Prometheus, which needs a handful of buckets per series, not 240.
 */
static inline int spw_latency_bucket_starts_octave(__u32 b)
{
	__u64 lo = spw_latency_bucket_lower(b);

	return lo && !(lo & (lo - 1));
}

#endif /* SPILLWAY_LATENCY_H */
