// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "empty_xdp.skel.h"

struct attach_args {
	struct spw_dataplane *dp;
	const struct bpf_program *prog;
	int ifindex;
	enum spw_attach_mode mode;
	struct bpf_link *link;
};

static int attach_in_ns(void *arg)
{
	struct attach_args *a = arg;

	return spw_dp_attach(a->dp, a->ifindex, a->mode);
}

static int detach_in_ns(void *arg)
{
	struct attach_args *a = arg;

	return spw_dp_detach(a->dp, a->ifindex);
}

static int xdp_in_ns(void *arg)
{
	struct attach_args *a = arg;

	a->link = bpf_program__attach_xdp(a->prog, a->ifindex);
	return a->link ? 0 : -errno;
}

int spw_topo_attach(const struct spw_topo *t, struct spw_dataplane *dp, enum spw_attach_mode mode)
{
	struct attach_args a = {.dp = dp, .ifindex = t->end[SPW_TOPO_SRV].ifindex, .mode = mode};

	return spw_netns_run(t->end[SPW_TOPO_SRV].ns, attach_in_ns, &a);
}

int spw_topo_detach(const struct spw_topo *t, struct spw_dataplane *dp)
{
	struct attach_args a = {.dp = dp, .ifindex = t->end[SPW_TOPO_SRV].ifindex};

	return spw_netns_run(t->end[SPW_TOPO_SRV].ns, detach_in_ns, &a);
}

int spw_topo_attach_xdp(const struct spw_topo *t, enum spw_topo_side side,
			const struct bpf_program *prog, struct bpf_link **link)
{
	struct attach_args a = {.prog = prog, .ifindex = t->end[side].ifindex};
	int err = spw_netns_run(t->end[side].ns, xdp_in_ns, &a);

	if (!err)
		*link = a.link;
	return err;
}

int spw_topo_peer_xdp(const struct spw_topo *t, struct empty_xdp **empty)
{
	int err;

	*empty = empty_xdp__open_and_load();
	if (!*empty) {
		err = -errno;
		fprintf(stderr, "loading the empty XDP program: %s\n", strerror(-err));
		return err;
	}
	err = spw_topo_attach_xdp(t, SPW_TOPO_CLI, (*empty)->progs.empty_xdp,
				  &(*empty)->links.empty_xdp);
	if (err)
		fprintf(stderr, "empty XDP on the client veth %s: %s\n",
			t->end[SPW_TOPO_CLI].ifname, strerror(-err));
	return err;
}
