// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway's TC programs beside other TC programs on the same interface.
 *
 * On kernels >= 6.6 each program goes in as a tcx link at the head of the interface's tcx
 * chain, pinned as link_tcx_{in,eg}_IFINDEX: the link is spillway's own object, so replacing
 * and detaching it can never touch another program. The programs answer TC_ACT_UNSPEC
 * (TCX_NEXT) for what they pass, so the programs after them, tcx or clsact, still run.
 *
 * Older kernels (Debian 12's 6.1) have no tcx: the programs become clsact filters at the
 * head of priority 1 under a handle the kernel picks free (never replacing a filter that is
 * there), recorded in spw_attached. Replace and detach go only to the recorded place and only while
 * the filter there still runs a spillway program.
 *
 * libbpf 1.1 (Debian 12) has no tcx API, but its bpf_link_create() passes an attach type it
 * does not know straight to the kernel, which is all a tcx link needs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spw_dataplane_priv.h"
#include "spw_log.h"

/* enum bpf_attach_type values of kernel 6.6's UAPI; Debian 12's 6.1 headers lack them. */
#define SPW_BPF_TCX_INGRESS 46
#define SPW_BPF_TCX_EGRESS  47
/* Link flag of kernel 6.6: with no relative program given, insert at the head of the chain. */
#define SPW_BPF_F_BEFORE (1U << 3)

/* The clsact priority spillway asks for: the first one to run. */
#define SPW_TC_PRIORITY 1
/* Where spillway's filters sat before placement was recorded: adopted when still ours. */
#define SPW_TC_OLD_HANDLE   1
#define SPW_TC_OLD_PRIORITY 1

static const char *where_name(enum bpf_tc_attach_point where)
{
	return where == BPF_TC_INGRESS ? "ingress" : "egress";
}

static void tcx_link_path(const struct spw_dataplane *dp, int ifindex,
			  enum bpf_tc_attach_point where, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_tcx_%s_%d", dp->pin_root, where == BPF_TC_INGRESS ? "in" : "eg",
		 ifindex);
}

/* The clsact place recorded for where: handle and priority, or 0 when none. */
static __u32 *rec_handle(struct spw_attach_rec *rec, enum bpf_tc_attach_point where)
{
	return where == BPF_TC_INGRESS ? &rec->ingress_handle : &rec->egress_handle;
}

static __u16 *rec_prio(struct spw_attach_rec *rec, enum bpf_tc_attach_point where)
{
	return where == BPF_TC_INGRESS ? &rec->ingress_prio : &rec->egress_prio;
}

/* Is prog_id one of spillway's TC programs? Names are what survives a reload of the object. */
static bool prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       (!strcmp(info.name, "spw_tc_ingress") || !strcmp(info.name, "spw_tc_egress"));
	close(fd);
	return ours;
}

/* Does the clsact filter at (handle, prio) run a spillway program? */
static bool clsact_is_ours(int ifindex, enum bpf_tc_attach_point where, __u32 handle, __u16 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);

	return handle && prio && !bpf_tc_query(&hook, &opts) && prog_is_ours(opts.prog_id);
}

/* A new clsact filter where the kernel finds room: never in place of another one. */
static int clsact_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd,
			 struct spw_attach_rec *rec)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd);
	__u32 *handle = rec_handle(rec, where);
	__u16 *prio = rec_prio(rec, where);
	int err;

	if (clsact_is_ours(ifindex, where, *handle, *prio)) {
		/* Ours from an earlier run: swap the program in place, no window without one. */
		opts.handle = *handle;
		opts.priority = *prio;
		opts.flags = BPF_TC_F_REPLACE;
		err = bpf_tc_attach(&hook, &opts);
		if (err)
			pr_warn("cannot replace spillway's TC %s filter on ifindex %d: %s\n",
				where_name(where), ifindex, strerror(-err));
		return err;
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("cannot create the clsact qdisc on ifindex %d: %s\n", ifindex,
			strerror(-err));
		return err;
	}
	/* Priority 1 runs first, and a new cls_bpf filter goes to the head of its priority's
	 * list: spillway sees every packet before the filters already there, and passes on
	 * (TC_ACT_UNSPEC) what it does not refuse. Handle 0: the kernel picks a free one and
	 * echoes it back into opts, so no filter there is replaced. */
	opts.priority = SPW_TC_PRIORITY;
	err = bpf_tc_attach(&hook, &opts);
	if (err == -EINVAL) {
		/* Priority 1 holds another classifier kind or protocol, which cannot share it. */
		pr_warn("TC %s priority %u of ifindex %d holds a non-BPF filter: spillway's "
			"filter goes after it and sees only what it passes on\n",
			where_name(where), SPW_TC_PRIORITY, ifindex);
		opts.priority = 0;
		err = bpf_tc_attach(&hook, &opts);
	}
	if (err) {
		pr_warn("cannot attach the TC %s program to ifindex %d: %s\n", where_name(where),
			ifindex, strerror(-err));
		return err;
	}
	*handle = opts.handle;
	*prio = (__u16)opts.priority;
	rec->tc_kind = SPW_TC_CLSACT;
	pr_debug("TC %s filter on ifindex %d: handle %u priority %u\n", where_name(where), ifindex,
		 *handle, *prio);
	return 0;
}

static int clsact_detach(int ifindex, enum bpf_tc_attach_point where, __u32 handle, __u16 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
	int err;

	/* A filter that is gone, or that is no longer ours (removed and its place reused by
	 * someone else), is not spillway's to remove. */
	if (!clsact_is_ours(ifindex, where, handle, prio))
		return 0;
	err = bpf_tc_detach(&hook, &opts);
	return err == -ENOENT ? 0 : err;
}

/* 0 with *done set when a pinned tcx link of ours is there and now runs prog_fd. */
static int tcx_replace(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
		       int prog_fd, bool *done)
{
	char path[PATH_MAX];
	int link_fd, err;

	*done = false;
	tcx_link_path(dp, ifindex, where, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd < 0)
		return 0;
	err = bpf_link_update(link_fd, prog_fd, NULL) ? -errno : 0;
	close(link_fd);
	if (err)
		pr_warn("cannot replace the TC %s program on ifindex %d: %s\n", where_name(where),
			ifindex, strerror(-err));
	*done = !err;
	return err;
}

/* -EINVAL when the kernel has no tcx (before 6.6: it rejects the attach type). */
static int tcx_attach(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
		      int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = SPW_BPF_F_BEFORE);
	int type = where == BPF_TC_INGRESS ? SPW_BPF_TCX_INGRESS : SPW_BPF_TCX_EGRESS;
	char path[PATH_MAX];
	int link_fd, err;

	link_fd = bpf_link_create(prog_fd, ifindex, (enum bpf_attach_type)type, &lopts);
	if (link_fd < 0)
		return -errno;
	tcx_link_path(dp, ifindex, where, path, sizeof(path));
	err = bpf_obj_pin(link_fd, path) ? -errno : 0;
	if (err)
		pr_warn("cannot pin the TC %s link at %s: %s\n", where_name(where), path,
			strerror(-err));
	close(link_fd); /* without the pin this also detaches: no half-done attach */
	return err;
}

int spw_dp_tc_attach(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
		     enum spw_prog prog, struct spw_attach_rec *rec)
{
	int prog_fd = spw_dp_prog_fd(dp, prog);
	bool done;
	int err;

	err = tcx_replace(dp, ifindex, where, prog_fd, &done);
	if (err || done) {
		if (done)
			rec->tc_kind = SPW_TC_TCX;
		return err;
	}
	/* Filters of a build that did not record its place sat at one fixed place: adopt them,
	 * or the tcx link below would run spillway twice. */
	if (!*rec_handle(rec, where) &&
	    clsact_is_ours(ifindex, where, SPW_TC_OLD_HANDLE, SPW_TC_OLD_PRIORITY)) {
		*rec_handle(rec, where) = SPW_TC_OLD_HANDLE;
		*rec_prio(rec, where) = SPW_TC_OLD_PRIORITY;
		rec->tc_kind = SPW_TC_CLSACT;
	}
	if (rec->tc_kind == SPW_TC_CLSACT || dp->tc_clsact)
		return clsact_attach(ifindex, where, prog_fd, rec);
	err = tcx_attach(dp, ifindex, where, prog_fd);
	if (err == -EINVAL) {
		pr_info("kernel without tcx links (they need 6.6): clsact filter on ifindex %d\n",
			ifindex);
		return clsact_attach(ifindex, where, prog_fd, rec);
	}
	if (err) {
		pr_warn("cannot attach the TC %s program to ifindex %d: %s\n", where_name(where),
			ifindex, strerror(-err));
		return err;
	}
	rec->tc_kind = SPW_TC_TCX;
	return 0;
}

int spw_dp_tc_detach(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
		     struct spw_attach_rec *rec)
{
	char path[PATH_MAX];
	int link_fd, err = 0;
	__u32 handle = *rec_handle(rec, where);
	__u16 prio = *rec_prio(rec, where);

	tcx_link_path(dp, ifindex, where, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		/* Detach explicitly: another holder of the link must not keep it attached. */
		if (bpf_link_detach(link_fd) && errno != ENOLINK)
			err = -errno;
		close(link_fd);
		if (unlink(path) && !err)
			err = -errno;
	}
	if (!handle) {
		handle = SPW_TC_OLD_HANDLE;
		prio = SPW_TC_OLD_PRIORITY;
	}
	if (!err)
		err = clsact_detach(ifindex, where, handle, prio);
	if (!err) {
		*rec_handle(rec, where) = 0;
		*rec_prio(rec, where) = 0;
	}
	return err;
}
