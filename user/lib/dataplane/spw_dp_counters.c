// SPDX-License-Identifier: GPL-2.0-only
/* Reading the per-CPU counters: the kernel keeps one copy per possible CPU; sum them here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "spw_dataplane_priv.h"

static void sum_cpus(const struct spw_counter *percpu, int ncpus, struct spw_count *out)
{
	int cpu;

	out->packets = 0;
	out->bytes = 0;
	for (cpu = 0; cpu < ncpus; cpu++) {
		out->packets += percpu[cpu].packets;
		out->bytes += percpu[cpu].bytes;
	}
}

int spw_dp_counter_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier_slot,
			enum spw_reason reason, struct spw_count *out)
{
	uint32_t idx;

	if (svc_id >= SPW_MAX_SERVICES || tier_slot >= SPW_TIER_SLOTS ||
	    (unsigned int)reason >= SPW_REASON_SLOTS)
		return -EINVAL;
	idx = spw_counter_index(svc_id, tier_slot, reason);
	if (bpf_map_lookup_elem(dp->maps.counters, &idx, dp->percpu_buf))
		return -errno;
	sum_cpus(dp->percpu_buf, dp->ncpus, out);
	return 0;
}

/* Entries per batch syscall: a scrape reads all counters in a handful of calls. */
#define SPW_COUNTER_BATCH 1024

/*
 * Counters [first, first + n) into out[0..n), summed over CPUs, in batch calls. An array's
 * batch continues after the key it is given, so a range not at 0 starts one key before it;
 * ENOENT marks the last batch, which still carries entries.
 */
static int read_range(struct spw_dataplane *dp, uint32_t first, uint32_t n, struct spw_count *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t keys[SPW_COUNTER_BATCH], prev = first - 1, next, count, i, done = 0;
	struct spw_counter *vals;
	int err = 0;

	/* Sized to the range: the daemon reads a few rows per service every tick. */
	vals = calloc((size_t)(n < SPW_COUNTER_BATCH ? n : SPW_COUNTER_BATCH) * dp->ncpus,
		      sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (done < n) {
		count = n - done < SPW_COUNTER_BATCH ? n - done : SPW_COUNTER_BATCH;
		err = bpf_map_lookup_batch(dp->maps.counters, first || done ? &prev : NULL, &next,
					   keys, vals, &count, &opts);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (i = 0; i < count; i++)
			if (keys[i] >= first && keys[i] - first < n)
				sum_cpus(&vals[(size_t)i * dp->ncpus], dp->ncpus,
					 &out[keys[i] - first]);
		done += count;
		prev = next; /* the last key it read */
		if (err || !count) {
			err = 0;
			break;
		}
	}
	free(vals);
	return err;
}

int spw_dp_counters_read_service(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tiers,
				 uint32_t first, uint32_t n, struct spw_count *out)
{
	struct spw_count span[SPW_TIER_SLOTS * SPW_REASON_SLOTS];
	uint32_t t;
	int err;

	if (svc_id == SPW_SVC_NONE || svc_id >= SPW_MAX_SERVICES || !tiers ||
	    tiers > SPW_TIER_SLOTS || !n || first >= SPW_REASON_SLOTS ||
	    n > SPW_REASON_SLOTS - first)
		return -EINVAL;
	/* One call from the first tier's first reason to the last tier's last: a syscall costs
	 * as much as some 50 entries copied, so the entries between the rows' parts are read
	 * too, into span, and dropped. */
	memset(span, 0, sizeof(span)); /* an entry the read does not return counts 0 */
	err = read_range(dp, spw_counter_index(svc_id, 0, first),
			 (tiers - 1) * SPW_REASON_SLOTS + n, &span[first]);
	if (err)
		return err;
	for (t = 0; t < tiers; t++)
		memcpy(&out[t * SPW_REASON_SLOTS + first], &span[t * SPW_REASON_SLOTS + first],
		       n * sizeof(*out));
	return 0;
}

int spw_dp_rank_counts_read(struct spw_dataplane *dp, uint32_t svc_id, struct spw_rank_count *out)
{
	struct spw_rank_count *percpu;
	int cpu, err = 0;
	uint32_t r;

	if (svc_id == SPW_SVC_NONE || svc_id >= SPW_MAX_SERVICES)
		return -EINVAL;
	/* 4 KiB a CPU: allocated per read rather than kept, as only the controller reads it. */
	percpu = calloc((size_t)dp->ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->maps.rank_counts, &svc_id, percpu)) {
		err = -errno;
	} else {
		memset(out, 0, sizeof(*out));
		for (cpu = 0; cpu < dp->ncpus; cpu++)
			for (r = 0; r < SPW_RANK_LIMIT; r++) {
				out->passed[r] += percpu[cpu].passed[r];
				out->shed[r] += percpu[cpu].shed[r];
			}
	}
	free(percpu);
	return err;
}

int spw_dp_counters_read_all(struct spw_dataplane *dp, struct spw_count *out)
{
	return read_range(dp, 0, SPW_COUNTER_ENTRIES, out);
}
