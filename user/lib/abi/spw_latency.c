// SPDX-License-Identifier: GPL-2.0-only
/* Percentiles from the data plane's log2 latency histogram (pure: unit-tested without BPF). */
#include <errno.h>
#include "spillway_latency.h"
#include "spw_types.h"

int spw_latency_quantile(const struct spw_latency_hist *h, double q, double *us)
{
	double rank, below = 0, lo, hi;
	uint32_t b;

	if (!(q > 0 && q <= 1))
		return -EINVAL;
	if (!h->count)
		return -ENODATA;
	/* The rank-th smallest sample, 1-based, as Prometheus' histogram_quantile does. */
	rank = q * (double)h->count;
	for (b = 0; b < SPW_LAT_BUCKETS; b++) {
		if (!h->buckets[b] || below + (double)h->buckets[b] < rank) {
			below += (double)h->buckets[b];
			continue;
		}
		lo = (double)spw_latency_bucket_lower(b);
		hi = (double)spw_latency_bucket_lower(b + 1);
		/* Samples are assumed spread evenly inside their bucket. */
		*us = lo + (hi - lo) * (rank - below) / (double)h->buckets[b];
		return 0;
	}
	/* Rounding left the rank just past the last sample: it is the top of the last bucket. */
	for (b = SPW_LAT_BUCKETS; b-- > 0;) {
		if (h->buckets[b]) {
			*us = (double)spw_latency_bucket_lower(b + 1);
			return 0;
		}
	}
	return -ENODATA;
}
