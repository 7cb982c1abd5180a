// SPDX-License-Identifier: GPL-2.0-only
/* Removing services a config no longer names, without touching the ones it keeps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "spw_dataplane_priv.h"

static bool port_kept(uint32_t slot, const struct spw_service_match *keep, const uint32_t *ids,
		      int n, uint32_t svc_id, bool addr_bound)
{
	uint8_t proto = slot >= SPW_PORT_SLOT_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	uint16_t port = slot % 65536;
	int i;

	for (i = 0; i < n; i++) {
		if (keep[i].proto != proto || keep[i].port != port)
			continue;
		if (addr_bound ? keep[i].has_addr : (!keep[i].has_addr && ids[i] == svc_id))
			return true;
	}
	return false;
}

static int prune_ports(struct spw_dataplane *dp, const struct spw_service_match *keep,
		       const uint32_t *ids, int n)
{
	struct spw_port p;
	uint32_t slot;

	/* 131072 array lookups, once per daemon start: a few milliseconds. */
	for (slot = 0; slot < SPW_PORT_SLOTS; slot++) {
		if (bpf_map_lookup_elem(dp->maps.ports, &slot, &p))
			return -errno;
		if (!p.svc_id && !p.flags)
			continue;
		if (p.svc_id && !port_kept(slot, keep, ids, n, p.svc_id, false))
			p.svc_id = SPW_SVC_NONE;
		if ((p.flags & SPW_PORT_ADDR_BOUND) && !port_kept(slot, keep, ids, n, 0, true))
			p.flags &= ~SPW_PORT_ADDR_BOUND;
		if (bpf_map_update_elem(dp->maps.ports, &slot, &p, BPF_ANY))
			return -errno;
	}
	return 0;
}

static bool addr_kept(const struct spw_svc_addr_key *k, uint32_t id,
		      const struct spw_service_match *keep, const uint32_t *ids, int n)
{
	struct spw_svc_addr_key marker;
	int i;

	/* A marker (protocol 0) is kept while the service it names is kept at its address. */
	if (!k->proto) {
		for (i = 0; i < n; i++) {
			spw_dp_addr_marker_key(&keep[i], &marker);
			if (ids[i] == id && !memcmp(&marker, k, sizeof(marker)))
				return true;
		}
		return false;
	}
	for (i = 0; i < n; i++)
		if (keep[i].has_addr && keep[i].proto == k->proto &&
		    htons(keep[i].port) == k->port &&
		    !memcmp(keep[i].addr, k->addr, SPW_ADDR_LEN) && ids[i] == id)
			return true;
	return false;
}

static bool id_kept(uint32_t id, const uint32_t *ids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

int spw_dp_services_prune(struct spw_dataplane *dp, const struct spw_service_match *keep,
			  const uint32_t *ids, int n)
{
	struct spw_svc_addr_key akey, anext;
	uint32_t id, pkey;
	void *prev = NULL;
	int i, err;

	err = prune_ports(dp, keep, ids, n);
	if (err)
		return err;
	/* Hash walks restart after a delete; each delete shrinks the map, so this ends. */
	while (!bpf_map_get_next_key(dp->maps.svc_addrs, prev, &anext)) {
		akey = anext;
		prev = &akey;
		if (bpf_map_lookup_elem(dp->maps.svc_addrs, &akey, &id))
			continue;
		if (!addr_kept(&akey, id, keep, ids, n)) {
			bpf_map_delete_elem(dp->maps.svc_addrs, &akey);
			prev = NULL;
		}
	}
	/* A marker dropped above with its service: another kept there takes it over. */
	for (i = 0; i < n; i++) {
		err = spw_dp_addr_marker_add(dp, &keep[i], ids[i]);
		if (err)
			return err;
	}
	/* An array: every slot exists; a policy of a service no longer wanted is cleared. */
	for (pkey = SPW_SVC_NONE + 1; pkey < SPW_MAX_SERVICES; pkey++) {
		if (!id_kept(pkey, ids, n))
			spw_dp_policy_del(dp, pkey);
	}
	return 0;
}
