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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spw_dataplane_priv.h"
#include "spw_log.h"

/* A map's fd by its pin under the root (ctx). */
static int pinned_map_fd(const char *name, void *root)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", (const char *)root, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int spw_dp_pinned_probe(const char *pin_root)
{
	int fd =
	    pinned_map_fd(SPW_MAP_NAME(policies), (void *)(pin_root ? pin_root : SPW_PIN_ROOT));

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int spw_dp_open_pinned(struct spw_dataplane **out, const char *pin_root)
{
	const char *root = pin_root ? pin_root : SPW_PIN_ROOT;
	struct spw_dataplane *dp;
	struct spw_globals g;
	int err;

	*out = NULL;
	err = spw_dp_alloc(&dp, root);
	if (err)
		return err;
	dp->pinned_only = true;
	err = spw_dp_maps_fill(dp, pinned_map_fd, dp->pin_root);
	if (err)
		goto cleanup;
	err = spw_dp_map_active(dp);
	if (err)
		goto cleanup;
	/* Maps of another build would be read with the wrong layouts: refuse, as spw_dp_open(). */
	err = spw_dp_globals_get(dp, &g);
	if (err)
		goto cleanup;
	if (g.abi_version != SPW_ABI_VERSION) {
		spw_dp_warn_other_abi(root, g.abi_version);
		err = -EPROTO;
		goto cleanup;
	}
	*out = dp;
	return 0;

cleanup:
	spw_dp_close(dp);
	return err;
}
