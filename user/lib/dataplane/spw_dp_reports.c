// SPDX-License-Identifier: GPL-2.0-only
/* App reports and manual overrides: pinned maps no BPF program reads, shared by user space. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "spw_dataplane_priv.h"

int spw_dp_report_set(struct spw_dataplane *dp, const struct spw_report_key *key,
		      const struct spw_report *val)
{
	return bpf_map_update_elem(dp->maps.reports, key, val, BPF_ANY) ? -errno : 0;
}

int spw_dp_report_get(struct spw_dataplane *dp, const struct spw_report_key *key,
		      struct spw_report *val)
{
	return bpf_map_lookup_elem(dp->maps.reports, key, val) ? -errno : 0;
}

int spw_dp_report_del(struct spw_dataplane *dp, const struct spw_report_key *key)
{
	return bpf_map_delete_elem(dp->maps.reports, key) ? -errno : 0;
}

static bool svc_ok(uint32_t svc_id)
{
	return svc_id > SPW_SVC_NONE && svc_id < SPW_MAX_SERVICES;
}

int spw_dp_override_set(struct spw_dataplane *dp, uint32_t svc_id, const struct spw_override *o)
{
	if (!svc_ok(svc_id) || o->level > SPW_RANK_LIMIT || o->dry_run > 1)
		return -EINVAL;
	return bpf_map_update_elem(dp->maps.overrides, &svc_id, o, BPF_ANY) ? -errno : 0;
}

int spw_dp_override_get(struct spw_dataplane *dp, uint32_t svc_id, struct spw_override *o)
{
	if (!svc_ok(svc_id))
		return -EINVAL;
	return bpf_map_lookup_elem(dp->maps.overrides, &svc_id, o) ? -errno : 0;
}

int spw_dp_service_rec_get(struct spw_dataplane *dp, uint32_t svc_id, struct spw_service_rec *r)
{
	if (!svc_ok(svc_id))
		return -EINVAL;
	return bpf_map_lookup_elem(dp->maps.services, &svc_id, r) ? -errno : 0;
}

int spw_dp_service_rec_set(struct spw_dataplane *dp, uint32_t svc_id,
			   const struct spw_service_rec *r)
{
	if (!svc_ok(svc_id))
		return -EINVAL;
	return bpf_map_update_elem(dp->maps.services, &svc_id, r, BPF_ANY) ? -errno : 0;
}

int spw_dp_override_del(struct spw_dataplane *dp, uint32_t svc_id)
{
	if (!svc_ok(svc_id))
		return -EINVAL;
	return bpf_map_delete_elem(dp->maps.overrides, &svc_id) ? -errno : 0;
}

/* A read that fails says "maybe": the caller then looks each service up as before. */
bool spw_dp_overrides_any(struct spw_dataplane *dp)
{
	uint32_t key;

	return bpf_map_get_next_key(dp->maps.overrides, NULL, &key) == 0 || errno != ENOENT;
}

int spw_dp_reports_foreach(struct spw_dataplane *dp, spw_dp_report_fn fn, void *ctx)
{
	struct spw_report_key key, next;
	struct spw_report val;
	void *prev = NULL;
	int ret;

	while (!bpf_map_get_next_key(dp->maps.reports, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(dp->maps.reports, &key, &val))
			continue; /* removed meanwhile */
		ret = fn(&key, &val, ctx);
		if (ret)
			return ret;
	}
	return 0;
}
