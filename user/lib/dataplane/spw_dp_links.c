// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where a pinned XDP link is. A link names its device itself, so detaching it works from any
 * network namespace; but its pin is named by ifindex, and an ifindex means a device only in
 * one namespace. Before detach acts on ifindex here (the TC programs beside the link, found by
 * ifindex), it asks whether the device with that ifindex here runs the link's program.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spw_dataplane_priv.h"

int spw_dp_xdp_link_where(struct spw_dataplane *dp, int ifindex, enum spw_link_where *where)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_link_info info = {0};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	/* The pin's name, as spw_dp_attach() gives it. */
	snprintf(path, sizeof(path), "%s/link_xdp_%d", dp->pin_root, ifindex);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if (info.type != BPF_LINK_TYPE_XDP)
		return -EPROTO;
	/* The device went away (or the link was detached): the link holds nothing now. */
	if (!info.xdp.ifindex) {
		*where = SPW_LINK_DEFUNCT;
		return 0;
	}
	/* In the caller's namespace: is the program there on ifindex the link's? */
	*where = SPW_LINK_ELSEWHERE;
	if ((int)info.xdp.ifindex == ifindex && !bpf_xdp_query(ifindex, 0, &q) &&
	    (q.prog_id == info.prog_id || q.drv_prog_id == info.prog_id ||
	     q.skb_prog_id == info.prog_id))
		*where = SPW_LINK_HERE;
	return 0;
}
