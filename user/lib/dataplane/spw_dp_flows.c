// SPDX-License-Identifier: GPL-2.0-only
/*
 * The flow table from user space: active and in-flight counts, latency histograms, the idle
 * sweep.
 *
 * The sweep keeps the data plane's promise that active counts never drift: an entry's place
 * is given back only by the delete that removed it, here as in the kernel, with an atomic
 * decrement on the mmapped counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "spw_dataplane_priv.h"

/* Entries read per batch syscall while sweeping. */
#define SPW_SWEEP_BATCH 4096

static bool slot_ok(uint32_t svc_id, uint32_t tier)
{
	return svc_id < SPW_MAX_SERVICES && tier < SPW_MAX_TIERS;
}

/*
 * A flow's places, as the data plane counts them: its tier's and its service's total, and
 * its outstanding request's in the in-flight count and its start-time slot.
 */
static void count_flow(struct spw_dataplane *dp, const struct spw_flow *f, int64_t delta)
{
	__atomic_fetch_add(&dp->active[spw_active_index(f->svc_id, f->tier)], (uint64_t)delta,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&dp->active[spw_active_index(f->svc_id, SPW_ACTIVE_TOTAL)],
			   (uint64_t)delta, __ATOMIC_RELAXED);
	if (!f->req_us)
		return;
	__atomic_fetch_add(&dp->inflight[spw_active_index(f->svc_id, f->tier)], (uint64_t)delta,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&dp->req_ages[spw_req_age_index(f->svc_id, f->req_us)], (uint64_t)delta,
			   __ATOMIC_RELAXED);
}

int spw_dp_active_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier_slot, uint64_t *out)
{
	if (svc_id >= SPW_MAX_SERVICES || tier_slot >= SPW_TIER_SLOTS)
		return -EINVAL;
	*out = __atomic_load_n(&dp->active[spw_active_index(svc_id, tier_slot)], __ATOMIC_RELAXED);
	return 0;
}

int spw_dp_inflight_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier, uint64_t *out)
{
	if (!slot_ok(svc_id, tier))
		return -EINVAL;
	*out = __atomic_load_n(&dp->inflight[spw_active_index(svc_id, tier)], __ATOMIC_RELAXED);
	return 0;
}

int spw_dp_inflight_total(struct spw_dataplane *dp, uint32_t svc_id, uint32_t ntiers, uint64_t *out)
{
	uint64_t n, sum = 0;
	uint32_t t;
	int err;

	for (t = 0; t < ntiers; t++) {
		err = spw_dp_inflight_read(dp, svc_id, t, &n);
		if (err)
			return err;
		sum += n;
	}
	*out = sum;
	return 0;
}

int spw_dp_req_ages_read(struct spw_dataplane *dp, uint32_t svc_id, uint64_t *slots)
{
	uint32_t i;

	if (svc_id >= SPW_MAX_SERVICES)
		return -EINVAL;
	for (i = 0; i < SPW_REQ_SLOTS; i++)
		slots[i] =
		    __atomic_load_n(&dp->req_ages[svc_id * SPW_REQ_SLOTS + i], __ATOMIC_RELAXED);
	return 0;
}

int spw_dp_latency_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier,
			struct spw_latency_hist *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	uint32_t keys[SPW_LAT_BUCKETS], in, outb, count = SPW_LAT_BUCKETS, i;
	__u64 *vals;
	int cpu, err = 0;

	if (!slot_ok(svc_id, tier))
		return -EINVAL;
	vals = calloc((size_t)SPW_LAT_BUCKETS * dp->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	/* One batch call for the row's buckets: the daemon reads every row every tick, and
	 * one lookup per bucket made that the tick's largest cost. A batch resumes *after* the
	 * key it is given (it walks with get_next_key), so the row's first index is preceded by
	 * the one before it, or by nothing for index 0. */
	in = spw_latency_index(svc_id, tier, 0);
	in -= in ? 1 : 0;
	if (bpf_map_lookup_batch(dp->maps.latency, spw_latency_index(svc_id, tier, 0) ? &in : NULL,
				 &outb, keys, vals, &count, &bopts) &&
	    errno != ENOENT) {
		err = -errno;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < count && i < SPW_LAT_BUCKETS; i++) {
		uint32_t b = keys[i] - spw_latency_index(svc_id, tier, 0);

		if (b >= SPW_LAT_BUCKETS)
			continue;
		for (cpu = 0; cpu < dp->ncpus; cpu++)
			out->buckets[b] += vals[(size_t)i * dp->ncpus + cpu];
		out->count += out->buckets[b];
	}
out:
	free(vals);
	return err;
}

int spw_dp_latency_read_service(struct spw_dataplane *dp, uint32_t svc_id,
				struct spw_latency_hist *out)
{
	uint32_t b;

	if (svc_id >= SPW_MAX_SERVICES || !dp->lat_svc)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (b = 0; b < SPW_LAT_BUCKETS; b++) {
		out->buckets[b] = __atomic_load_n(&dp->lat_svc[spw_latency_svc_index(svc_id, b)],
						  __ATOMIC_RELAXED);
		out->count += out->buckets[b];
	}
	return 0;
}

int spw_dp_flow_count(struct spw_dataplane *dp, uint64_t *entries, uint32_t *capacity)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	struct spw_flow_key key, next;
	void *prev = NULL;
	uint64_t n = 0;

	while (!bpf_map_get_next_key(dp->maps.flows, prev, &next)) {
		n++;
		key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		return -errno;
	*entries = n;
	if (bpf_obj_get_info_by_fd(dp->maps.flows, &info, &len))
		return -errno;
	*capacity = info.max_entries;
	return 0;
}

int spw_dp_flow_capacity(struct spw_dataplane *dp, uint32_t *capacity)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(dp->maps.flows, &info, &len))
		return -errno;
	*capacity = info.max_entries;
	return 0;
}

int spw_dp_flow_get(struct spw_dataplane *dp, const struct spw_flow_key *key, struct spw_flow *f)
{
	return bpf_map_lookup_elem(dp->maps.flows, key, f) ? -errno : 0;
}

int spw_dp_flow_replace(struct spw_dataplane *dp, const struct spw_flow_key *key,
			const struct spw_flow *f)
{
	return bpf_map_update_elem(dp->maps.flows, key, f, BPF_EXIST) ? -errno : 0;
}

int spw_dp_flows_foreach(struct spw_dataplane *dp, spw_dp_flow_fn fn, void *ctx)
{
	struct spw_flow_key k, next;
	struct spw_flow v;
	void *prev = NULL;
	int ret;

	while (!bpf_map_get_next_key(dp->maps.flows, prev, &next)) {
		if (!bpf_map_lookup_elem(dp->maps.flows, &next, &v)) {
			ret = fn(&next, &v, ctx);
			if (ret)
				return ret;
		}
		k = next;
		prev = &k;
	}
	return 0;
}

/* Entries written per batch syscall by spw_dp_flows_write(). */
#define SPW_WRITE_BATCH 8192

int spw_dp_flows_write(struct spw_dataplane *dp, const struct spw_flow_key *keys,
		       const struct spw_flow *vals, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint32_t done = 0, count, i;

	/* Marked first, as the data plane does: their retransmitted SYNs find the entries. */
	for (i = 0; i < n; i++)
		if (vals[i].state == SPW_FLOW_SYN_SEEN)
			spw_dp_recent_mark(dp, &keys[i]);
	while (done < n) {
		count = n - done < SPW_WRITE_BATCH ? n - done : SPW_WRITE_BATCH;
		if (bpf_map_update_batch(dp->maps.flows, keys + done, vals + done, &count, &opts))
			return -errno;
		done += count;
	}
	return 0;
}

int spw_dp_flows_insert(struct spw_dataplane *dp, const struct spw_flow_key *keys,
			const struct spw_flow *vals, uint32_t n)
{
	uint32_t i;
	int err;

	for (i = 0; i < n; i++)
		if (!slot_ok(vals[i].svc_id, vals[i].tier))
			return -EINVAL;
	err = spw_dp_flows_write(dp, keys, vals, n);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		count_flow(dp, &vals[i], 1);
	return 0;
}

int spw_dp_latency_write(struct spw_dataplane *dp, uint32_t idx, const uint64_t *per_cpu)
{
	if (idx >= SPW_LAT_ENTRIES)
		return -EINVAL;
	return bpf_map_update_elem(dp->maps.latency, &idx, per_cpu, BPF_ANY) ? -errno : 0;
}

int spw_dp_ncpus(const struct spw_dataplane *dp)
{
	return dp->ncpus;
}

/* Gives back the place of a flow this process removed. */
static void give_back(struct spw_dataplane *dp, const struct spw_flow *f)
{
	if (slot_ok(f->svc_id, f->tier))
		count_flow(dp, f, -1);
}

/*
 * Deletes keys[0..n) in batch calls. A batch delete stops at the first key it cannot delete
 * (ENOENT: the data plane ended that flow a moment ago and gave its place back itself); every
 * key before it was removed here, so its place is given back here, exactly once. Returns how
 * many this call removed, or -errno.
 */
static long remove_flows(struct spw_dataplane *dp, struct spw_flow_key *keys,
			 const struct spw_flow *vals, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	uint32_t done = 0, count, i;
	long removed = 0;
	int ret;

	while (done < n) {
		count = n - done;
		ret = bpf_map_delete_batch(dp->maps.flows, &keys[done], &count, &bopts);
		if (ret && errno != ENOENT)
			return -errno;
		for (i = 0; i < count; i++)
			give_back(dp, &vals[done + i]);
		removed += count;
		done += count;
		if (ret)
			done++; /* the key that was already gone */
	}
	return removed;
}

static uint32_t timeout_us(const struct spw_sweep_opts *o, uint8_t state)
{
	uint64_t ns = state == SPW_FLOW_SYN_SEEN ? o->syn_timeout_ns
		      : state == SPW_FLOW_UDP	 ? o->udp_timeout_ns
						 : o->idle_timeout_ns;

	return ns / 1000;
}

/* Is this flow past its timeout? Stamps are 32-bit microseconds: compare differences. */
static bool flow_expired(const struct spw_sweep_opts *o, const struct spw_flow *f, uint32_t now_us)
{
	return o == NULL || (uint32_t)(now_us - f->last_us) > timeout_us(o, f->state);
}

/* Walks the table in batches; o NULL removes everything. */
static int sweep(struct spw_dataplane *dp, const struct spw_sweep_opts *o,
		 struct spw_sweep_stats *st)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	struct spw_flow_key *keys;
	struct spw_flow *vals;
	uint32_t batch_in, batch_out, count, i, n, now_us;
	uint64_t start_ns = spw_now_ns();
	bool first = true, last;
	int err = 0, ret;
	long removed;

	memset(st, 0, sizeof(*st));
	keys = calloc(SPW_SWEEP_BATCH, sizeof(*keys));
	vals = calloc(SPW_SWEEP_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	/* A hash batch cursor is a bucket index: deleting entries of a batch already read
	 * touches only buckets behind it, so the walk neither skips nor repeats entries. */
	for (;;) {
		count = SPW_SWEEP_BATCH;
		ret = bpf_map_lookup_batch(dp->maps.flows, first ? NULL : &batch_in, &batch_out,
					   keys, vals, &count, &bopts);
		if (ret && errno != ENOENT) {
			err = -errno;
			break;
		}
		last = ret != 0; /* ENOENT: this batch is the table's last */
		now_us = spw_now_ns() / 1000;
		/* Expired entries are packed to the front, then deleted in batch calls. A packet
		 * that refreshed one since it was read is removed all the same: its stamp moves at
		 * most once a second and timeouts are seconds long, so that is a flow just at its
		 * timeout, and its later packets pass untracked. */
		for (i = 0, n = 0; i < count; i++) {
			if (!flow_expired(o, &vals[i], now_us))
				continue;
			keys[n] = keys[i];
			vals[n] = vals[i];
			n++;
		}
		st->scanned += count;
		removed = remove_flows(dp, keys, vals, n);
		if (removed < 0) {
			err = removed;
			break;
		}
		st->expired += removed;
		if (last || count == 0)
			break;
		batch_in = batch_out;
		first = false;
	}
	/* Only a walk that removed every SYN_SEEN flow past syn_timeout may age the filter. */
	if (!err && o)
		spw_dp_recent_age(dp, o->syn_timeout_ns, start_ns);
out:
	free(keys);
	free(vals);
	return err;
}

int spw_dp_flows_sweep(struct spw_dataplane *dp, const struct spw_sweep_opts *o,
		       struct spw_sweep_stats *st)
{
	struct spw_sweep_stats unused;
	uint64_t max_ns = (uint64_t)SPW_FLOW_TIMEOUT_MAX_US * 1000;

	if (!o || !o->syn_timeout_ns || !o->idle_timeout_ns || !o->udp_timeout_ns ||
	    o->syn_timeout_ns > max_ns || o->idle_timeout_ns > max_ns || o->udp_timeout_ns > max_ns)
		return -EINVAL;
	return sweep(dp, o, st ? st : &unused);
}

int spw_dp_flows_clear(struct spw_dataplane *dp)
{
	struct spw_sweep_stats st;

	return sweep(dp, NULL, &st);
}
