/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The response-latency histogram's bucketing, written once for the BPF side (which fills it)
 * and user space (which turns it into percentiles and Prometheus buckets).
 */
#ifndef SPILLWAY_LATENCY_H
#define SPILLWAY_LATENCY_H

#include "spillway_abi.h"

/* Bucket of a latency in microseconds: floor(log2(us)), with 0 and 1 in bucket 0. */
static inline __u32 spw_latency_bucket(__u32 us)
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

/* Smallest latency (us) of bucket b; bucket b spans [lower(b), lower(b + 1)). */
static inline __u64 spw_latency_bucket_lower(__u32 b)
{
	return b == 0 ? 0 : 1ULL << b;
}

#endif /* SPILLWAY_LATENCY_H */
