// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attaching to interfaces. XDP goes through a bpf_link pinned under the pin root, so the
 * program stays when the daemon exits and a new daemon swaps its program in atomically with
 * bpf_link_update (never a window without one). TC goes through clsact filters, which stay
 * until removed. Every mode also puts the TC egress program on the interface: the flow
 * tracker reads the server's replies there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spw_dataplane_priv.h"
#include "spw_log.h"

/* Handle and priority of spillway's TC filters: fixed, so replace and detach find them. */
#define SPW_TC_HANDLE	1
#define SPW_TC_PRIORITY 1

static void xdp_link_path(const struct spw_dataplane *dp, int ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_xdp_%d", dp->pin_root, ifindex);
}

static int attach_xdp(struct spw_dataplane *dp, int ifindex, bool generic)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int prog_fd = spw_dp_prog_fd(dp, SPW_PROG_XDP);
	char path[PATH_MAX];
	int link_fd, err;

	xdp_link_path(dp, ifindex, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		/* Already attached by an earlier run: replace the program in place. */
		err = bpf_link_update(link_fd, prog_fd, NULL);
		err = err ? -errno : 0;
		close(link_fd);
		if (err)
			pr_warn("cannot replace the XDP program on ifindex %d: %s\n", ifindex,
				strerror(-err));
		return err;
	}
	lopts.flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lopts);
	if (link_fd < 0) {
		err = -errno;
		pr_warn("cannot attach XDP (%s mode) to ifindex %d: %s\n",
			generic ? "generic" : "native", ifindex, strerror(-err));
		return err;
	}
	err = bpf_obj_pin(link_fd, path) ? -errno : 0;
	if (err)
		pr_warn("cannot pin the XDP link at %s: %s\n", path, strerror(-err));
	close(link_fd); /* without the pin this also detaches: no half-done attach */
	return err;
}

static int tc_attach_one(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
			 enum spw_prog prog)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SPW_TC_HANDLE, .priority = SPW_TC_PRIORITY,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = spw_dp_prog_fd(dp, prog));
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("cannot create the clsact qdisc on ifindex %d: %s\n", ifindex,
			strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		pr_warn("cannot attach the TC %s program to ifindex %d: %s\n",
			where == BPF_TC_INGRESS ? "ingress" : "egress", ifindex, strerror(-err));
	return err;
}

static int tc_detach_one(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SPW_TC_HANDLE, .priority = SPW_TC_PRIORITY);
	int err = bpf_tc_detach(&hook, &opts);

	/* Nothing of ours there (or no clsact at all) is what detach wants anyway. */
	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

int spw_dp_attach(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode mode)
{
	int err;

	if (ifindex <= 0)
		return -EINVAL;
	if (spw_dp_prog_fd(dp, SPW_PROG_XDP) < 0)
		return -ENOENT; /* opened with spw_dp_open_pinned(): no program to attach */
	switch (mode) {
	case SPW_ATTACH_XDP:
	case SPW_ATTACH_XDP_GENERIC:
		/* XDP sees only ingress; the flow tracker also needs the server's side (SYN-ACK,
		 * FIN/RST, responses), which only TC egress sees. */
		err = tc_attach_one(dp, ifindex, BPF_TC_EGRESS, SPW_PROG_TC_EGRESS);
		if (err)
			return err;
		err = attach_xdp(dp, ifindex, mode == SPW_ATTACH_XDP_GENERIC);
		if (err)
			tc_detach_one(ifindex, BPF_TC_EGRESS);
		return err;
	case SPW_ATTACH_TC:
		err = tc_attach_one(dp, ifindex, BPF_TC_INGRESS, SPW_PROG_TC_INGRESS);
		if (!err)
			err = tc_attach_one(dp, ifindex, BPF_TC_EGRESS, SPW_PROG_TC_EGRESS);
		if (err)
			tc_detach_one(ifindex, BPF_TC_INGRESS);
		return err;
	default:
		return -EINVAL;
	}
}

int spw_dp_detach(struct spw_dataplane *dp, int ifindex)
{
	char path[PATH_MAX];
	int link_fd, err = 0, tc_err;

	xdp_link_path(dp, ifindex, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		/* Detach explicitly: another holder of the link must not keep it attached. */
		if (bpf_link_detach(link_fd) && errno != ENOLINK)
			err = -errno;
		close(link_fd);
		if (unlink(path) && !err)
			err = -errno;
	}
	tc_err = tc_detach_one(ifindex, BPF_TC_INGRESS);
	if (!err)
		err = tc_err;
	tc_err = tc_detach_one(ifindex, BPF_TC_EGRESS);
	if (!err)
		err = tc_err;
	return err;
}
