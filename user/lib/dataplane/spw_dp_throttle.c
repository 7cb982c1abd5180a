// SPDX-License-Identifier: GPL-2.0-only
/* Client-side throttling: the downstreams TC egress throttles, and what it counted of them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "spw_dataplane_priv.h"

int spw_dp_downstream_set(struct spw_dataplane *dp, const struct spw_cidr *dest,
			  const struct spw_downstream *ds)
{
	struct spw_lpm_key key;

	if (dest->prefixlen > SPW_ADDR_LEN * 8 || !ds->id || ds->id >= SPW_MAX_DOWNSTREAMS ||
	    ds->default_tier >= SPW_MAX_TIERS)
		return -EINVAL;
	spw_cidr_to_key(dest, &key);
	return bpf_map_update_elem(dp->maps.downstreams, &key, ds, BPF_ANY) ? -errno : 0;
}

/*
 * Removes every key of map fd (keys of ksz bytes, at most max of them) that is not one of
 * keep[0..n). The walk collects first and deletes after, so it stays valid.
 */
static int prune_keys(int fd, size_t ksz, int max, const void *keep, int n)
{
	/* The largest key pruned: an LPM key, a cgroup key. */
	uint8_t key[32], next[32], *gone;
	int i, ngone = 0, err = 0;
	void *prev = NULL;

	if (ksz > sizeof(key))
		return -EINVAL;
	gone = calloc((size_t)max, ksz);
	if (!gone)
		return -ENOMEM;
	while (ngone < max && !bpf_map_get_next_key(fd, prev, next)) {
		bool kept = false;

		for (i = 0; i < n && !kept; i++)
			kept = !memcmp((const uint8_t *)keep + (size_t)i * ksz, next, ksz);
		if (!kept)
			memcpy(gone + (size_t)ngone++ * ksz, next, ksz);
		memcpy(key, next, ksz);
		prev = key;
	}
	for (i = 0; i < ngone; i++)
		if (bpf_map_delete_elem(fd, gone + (size_t)i * ksz) && errno != ENOENT && !err)
			err = -errno;
	free(gone);
	return err;
}

int spw_dp_downstreams_prune(struct spw_dataplane *dp, const struct spw_lpm_key *keep, int n)
{
	return prune_keys(dp->maps.downstreams, sizeof(*keep), SPW_MAX_DOWNSTREAMS, keep, n);
}

int spw_dp_out_cgroups_replace(struct spw_dataplane *dp, const struct spw_out_cgroup_key *keys,
			       const uint8_t *tiers, int n)
{
	int i;

	if (n < 0 || n > SPW_MAX_OUT_CGROUPS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (tiers[i] >= SPW_MAX_TIERS || !keys[i].downstream ||
		    keys[i].downstream >= SPW_MAX_DOWNSTREAMS || keys[i].pad)
			return -EINVAL;
		if (bpf_map_update_elem(dp->maps.out_cgroups, &keys[i], &tiers[i], BPF_ANY))
			return -errno;
	}
	return prune_keys(dp->maps.out_cgroups, sizeof(*keys), SPW_MAX_OUT_CGROUPS, keys, n);
}

int spw_dp_throttle_read(struct spw_dataplane *dp, uint32_t id,
			 uint64_t out[SPW_MAX_TIERS][SPW_THR_KINDS])
{
	uint64_t *vals;
	uint32_t t, k, idx;
	int cpu, err = 0;

	if (!id || id >= SPW_MAX_DOWNSTREAMS)
		return -EINVAL;
	vals = calloc((size_t)dp->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (t = 0; t < SPW_MAX_TIERS && !err; t++)
		for (k = 0; k < SPW_THR_KINDS && !err; k++) {
			idx = spw_throttle_count_index(id, t, k);
			if (bpf_map_lookup_elem(dp->maps.thr_counts, &idx, vals)) {
				err = -errno;
				break;
			}
			out[t][k] = 0;
			for (cpu = 0; cpu < dp->ncpus; cpu++)
				out[t][k] += vals[cpu];
		}
	free(vals);
	return err;
}
