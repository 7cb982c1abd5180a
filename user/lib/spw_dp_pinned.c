// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opening a running install's maps without loading any program (spw_dp_open_pinned()).
 *
 * spw_dp_open() loads both BPF objects, and the verifier takes about a second of CPU for
 * them. A reader (`spillway status`, a sampler calling it every second) needs none of that:
 * the maps are pinned by name, so bpf_obj_get() on each is enough. On a busy two-core host
 * the full open stole enough CPU from the application to fill its DB pool, and spillway shed
 * on the load its own CLI caused.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spw_dataplane_priv.h"
#include "spw_log.h"

static const struct {
	const char *name;
	size_t off; /* of its fd in struct spw_dp_maps */
} pinned_maps[] = {
    {SPW_MAP_PORTS, offsetof(struct spw_dp_maps, ports)},
    {SPW_MAP_SVC_ADDRS, offsetof(struct spw_dp_maps, svc_addrs)},
    {SPW_MAP_POLICIES, offsetof(struct spw_dp_maps, policies)},
    {SPW_MAP_RULES, offsetof(struct spw_dp_maps, rules)},
    {SPW_MAP_TRUSTED, offsetof(struct spw_dp_maps, trusted)},
    {SPW_MAP_DSCP, offsetof(struct spw_dp_maps, dscp)},
    {SPW_MAP_GLOBALS, offsetof(struct spw_dp_maps, globals)},
    {SPW_MAP_BUCKETS, offsetof(struct spw_dp_maps, buckets)},
    {SPW_MAP_COUNTERS, offsetof(struct spw_dp_maps, counters)},
    {SPW_MAP_FLOWS, offsetof(struct spw_dp_maps, flows)},
    {SPW_MAP_ACTIVE, offsetof(struct spw_dp_maps, active)},
    {SPW_MAP_LATENCY, offsetof(struct spw_dp_maps, latency)},
    {SPW_MAP_GUARD, offsetof(struct spw_dp_maps, guard)},
    {SPW_MAP_REPORTS, offsetof(struct spw_dp_maps, reports)},
    {SPW_MAP_OVERRIDES, offsetof(struct spw_dp_maps, overrides)},
};

static int *map_fd_slot(struct spw_dataplane *dp, size_t i)
{
	return (int *)((char *)&dp->maps + pinned_maps[i].off);
}

void spw_dp_close_pinned_fds(struct spw_dataplane *dp)
{
	size_t i;

	if (!dp->pinned_only)
		return;
	for (i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
		int *fd = map_fd_slot(dp, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int spw_dp_open_pinned(struct spw_dataplane **out, const char *pin_root)
{
	const char *root = pin_root ? pin_root : SPW_PIN_ROOT;
	struct spw_dataplane *dp;
	struct spw_globals g;
	char path[PATH_MAX];
	size_t i;
	int err;

	*out = NULL;
	err = spw_dp_alloc(&dp, root);
	if (err)
		return err;
	dp->pinned_only = true;
	for (i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++)
		*map_fd_slot(dp, i) = -1;
	for (i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, pinned_maps[i].name);
		*map_fd_slot(dp, i) = bpf_obj_get(path);
		if (*map_fd_slot(dp, i) < 0) {
			err = -errno;
			goto cleanup;
		}
	}
	err = spw_dp_map_active(dp);
	if (err)
		goto cleanup;
	/* Maps of another build would be read with the wrong layouts: refuse, as spw_dp_open(). */
	err = spw_dp_globals_get(dp, &g);
	if (err)
		goto cleanup;
	if (g.abi_version != SPW_ABI_VERSION) {
		pr_warn("maps pinned under %s are of ABI version %u, this build speaks %u\n", root,
			g.abi_version, SPW_ABI_VERSION);
		err = -EPROTO;
		goto cleanup;
	}
	*out = dp;
	return 0;

cleanup:
	spw_dp_close(dp);
	return err;
}
