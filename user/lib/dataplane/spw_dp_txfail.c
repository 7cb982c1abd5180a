// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rejects that leave, and rejects that do not. A reject in XDP mode is an XDP_TX; the driver
 * can still drop the frame after the program's verdict was counted. spillway_trace.bpf.c
 * counts those drops per interface from the kernel's tracepoints; this file enters the
 * interfaces spillway is attached to, keeps the tracepoint links pinned while any is, reads
 * the counts, and tells at attach whether a veth can carry XDP_TX at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spillway_trace.skel.h"
#include "spw_dataplane_priv.h"
#include "spw_log.h"

static void trace_link_path(const struct spw_dataplane *dp, const char *prog, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_trace_%s", dp->pin_root, prog);
}

/* The tag (hash of the instructions) of a program by fd; what tells two builds apart. */
static int prog_tag(int prog_fd, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}

/* Does the pinned link at path run a program with prog's instructions? */
static bool pinned_link_runs(const char *path, const struct bpf_program *prog)
{
	__u8 want[BPF_TAG_SIZE], got[BPF_TAG_SIZE];
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int link_fd, prog_fd = -1;
	bool same = false;

	link_fd = bpf_obj_get(path);
	if (link_fd < 0)
		return false;
	if (!bpf_obj_get_info_by_fd(link_fd, &info, &len))
		prog_fd = bpf_prog_get_fd_by_id(info.prog_id);
	if (prog_fd >= 0 && !prog_tag(prog_fd, got) && !prog_tag(bpf_program__fd(prog), want))
		same = !memcmp(got, want, sizeof(got));
	if (prog_fd >= 0)
		close(prog_fd);
	close(link_fd);
	return same;
}

/*
 * prog attached and pinned at link_trace_NAME. A link of the same program already there
 * stays (a restart neither loses nor double-counts a drop); one of another build is replaced
 * by renaming the new pin over it, which releases the old link.
 */
static int pin_trace_link(struct spw_dataplane *dp, const char *name, struct bpf_program *prog)
{
	char path[PATH_MAX], tmp[PATH_MAX + 4];
	struct bpf_link *link;
	int err;

	trace_link_path(dp, name, path, sizeof(path));
	if (pinned_link_runs(path, prog))
		return 0;
	link = bpf_program__attach(prog);
	if (!link) {
		err = -errno;
		pr_warn("cannot attach to the %s tracepoint: %s\n", name, strerror(-err));
		return err;
	}
	/* bpffs refuses names with a dot in them */
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	err = bpf_obj_pin(bpf_link__fd(link), tmp) ? -errno : 0;
	if (!err && rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	if (err)
		pr_warn("cannot pin the %s tracepoint link at %s: %s\n", name, path,
			strerror(-err));
	bpf_link__destroy(link); /* the pin holds it from here */
	return err;
}

static void unpin_trace_link(struct spw_dataplane *dp, const char *name)
{
	char path[PATH_MAX];
	int fd;

	trace_link_path(dp, name, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	bpf_link_detach(fd);
	close(fd);
	unlink(path);
}

int spw_dp_tx_failed_watch(struct spw_dataplane *dp, const struct spw_iface_key *key)
{
	__u64 *zeros;
	int err;

	if (!dp->trace)
		return 0; /* said at open: no BTF, nothing to count with */
	zeros = calloc((size_t)dp->ncpus, sizeof(*zeros));
	if (!zeros)
		return -ENOMEM;
	/* BPF_NOEXIST: an interface watched already keeps its counts. */
	err = bpf_map_update_elem(dp->maps.tx_failed, key, zeros, BPF_NOEXIST) ? -errno : 0;
	free(zeros);
	if (err && err != -EEXIST) {
		pr_warn("cannot count XDP_TX failures of ifindex %u: %s\n", key->ifindex,
			strerror(-err));
		return err;
	}
	err = pin_trace_link(dp, "xdp_exception", dp->trace->progs.spw_xdp_exception);
	if (!err)
		err = pin_trace_link(dp, "xdp_bulk_tx", dp->trace->progs.spw_xdp_bulk_tx);
	return err;
}

int spw_dp_tx_failed_unwatch(struct spw_dataplane *dp, const struct spw_iface_key *key)
{
	struct spw_iface_key next;

	if (bpf_map_delete_elem(dp->maps.tx_failed, key) && errno != ENOENT)
		return -errno;
	/* The tracepoints fire for every interface: no reason to stay once none is ours. */
	if (bpf_map_get_next_key(dp->maps.tx_failed, NULL, &next) && errno == ENOENT) {
		unpin_trace_link(dp, "xdp_exception");
		unpin_trace_link(dp, "xdp_bulk_tx");
	}
	return 0;
}

int spw_dp_tx_failed_read(struct spw_dataplane *dp, int ifindex, uint64_t *frames)
{
	struct spw_iface_key key;
	__u64 *per_cpu;
	int err, i;

	err = spw_dp_iface_key(ifindex, &key);
	if (err)
		return err;
	per_cpu = calloc((size_t)dp->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	err = bpf_map_lookup_elem(dp->maps.tx_failed, &key, per_cpu) ? -errno : 0;
	*frames = 0;
	for (i = 0; !err && i < dp->ncpus; i++)
		*frames += per_cpu[i];
	free(per_cpu);
	return err;
}

/* What RTM_GETLINK says of a link: its kind, its peer (IFLA_LINK), its native XDP program. */
struct link_facts {
	char kind[16];
	int peer_ifindex;
	int peer_nsid;	   /* IFLA_LINK_NETNSID: the peer's namespace as ours names it; -1 ours */
	__u32 drv_prog_id; /* native (driver mode) XDP program, 0 when none */
};

static void parse_linkinfo(struct rtattr *nest, struct link_facts *f)
{
	int len = (int)RTA_PAYLOAD(nest);
	struct rtattr *a;

	for (a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			snprintf(f->kind, sizeof(f->kind), "%.*s", (int)RTA_PAYLOAD(a),
				 (char *)RTA_DATA(a));
}

static void parse_xdp(struct rtattr *nest, struct link_facts *f)
{
	int len = (int)RTA_PAYLOAD(nest);
	struct rtattr *a;
	__u8 attached = XDP_ATTACHED_NONE;
	__u32 prog_id = 0;

	for (a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_XDP_ATTACHED)
			attached = *(__u8 *)RTA_DATA(a);
		else if (a->rta_type == IFLA_XDP_DRV_PROG_ID)
			f->drv_prog_id = *(__u32 *)RTA_DATA(a);
		else if (a->rta_type == IFLA_XDP_PROG_ID)
			prog_id = *(__u32 *)RTA_DATA(a);
	}
	/* One program attached: the kernel sends only IFLA_XDP_PROG_ID, with its mode. */
	if (attached == XDP_ATTACHED_DRV)
		f->drv_prog_id = prog_id;
}

static void parse_link(struct nlmsghdr *nh, struct link_facts *f)
{
	int len = (int)IFLA_PAYLOAD(nh);
	struct rtattr *a;

	for (a = IFLA_RTA(NLMSG_DATA(nh)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_LINK)
			f->peer_ifindex = *(int *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINK_NETNSID)
			f->peer_nsid = *(int *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINKINFO)
			parse_linkinfo(a, f);
		else if (a->rta_type == IFLA_XDP)
			parse_xdp(a, f);
	}
}

/*
 * RTM_GETLINK of ifindex in this namespace, or (nsid >= 0) in the namespace our nsid names:
 * IFLA_TARGET_NETNSID (kernel >= 4.20) reads a veth's peer where it lives.
 */
static int link_facts(int ifindex, int nsid, struct link_facts *f)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr nsid_attr;
		int nsid;
	} req = {
	    .nh = {.nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST},
	    .ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex},
	    .nsid_attr = {.rta_len = RTA_LENGTH(sizeof(int)), .rta_type = IFLA_TARGET_NETNSID},
	    .nsid = nsid,
	};
	static char buf[16384]; /* one link's attributes; not reentrant, like the callers */
	struct nlmsghdr *nh;
	int fd, len, err = -EPROTO;

	memset(f, 0, sizeof(*f));
	f->peer_nsid = -1;
	req.nh.nlmsg_len = nsid >= 0 ? sizeof(req) : NLMSG_LENGTH(sizeof(struct ifinfomsg));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	len = send(fd, &req, req.nh.nlmsg_len, 0) < 0 ? -1 : (int)recv(fd, buf, sizeof(buf), 0);
	if (len < 0)
		err = -errno;
	close(fd);
	for (nh = (struct nlmsghdr *)buf; len > 0 && NLMSG_OK(nh, (unsigned int)len);
	     nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(nh))->error ?: -EPROTO;
		if (nh->nlmsg_type == RTM_NEWLINK) {
			parse_link(nh, f);
			err = 0;
		}
	}
	return err;
}

int spw_dp_xdp_tx_check(int ifindex)
{
	struct link_facts f, peer;
	int err;

	err = link_facts(ifindex, -1, &f);
	if (err)
		return err;
	if (strcmp(f.kind, "veth"))
		return 0; /* a NIC driver with native XDP transmits XDP_TX itself */
	if (f.peer_ifindex <= 0)
		return -ENOLINK;
	err = link_facts(f.peer_ifindex, f.peer_nsid, &peer);
	if (err)
		return err;
	/* veth_xdp_xmit() hands frames to the peer's XDP receive ring, which exists only while
	 * the peer runs a native XDP program; otherwise it drops them all. */
	return peer.drv_prog_id ? 0 : -EPIPE;
}
