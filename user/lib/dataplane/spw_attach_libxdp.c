// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP through libxdp's multi-program dispatcher (config xdp_dispatcher: libxdp), so spillway
 * runs beside xdp-filter or another team's program on one interface. The dispatcher is an XDP
 * program that calls its component programs in order of run priority; each component is a
 * freplace extension (BPF_PROG_TYPE_EXT) of one of its slots, and libxdp pins the dispatcher and
 * the components' links under /sys/fs/bpf/xdp/, so they outlive the process.
 *
 * spillway's XDP object is loaded as XDP by spw_dp_open() (the link mode and BPF_PROG_RUN use
 * that one). An extension must be loaded for its target, so here a second copy of the same
 * object is opened: the same pinned maps (reused by name), the same read-only settings, handed
 * to libxdp unloaded, which sets its type and target and loads it.
 *
 * libxdp 1.3 replaces a component only by rebuilding the dispatcher: every attach and detach
 * builds a new dispatcher with the programs that stay and swaps it in atomically. It has no
 * call that swaps one component for another in one rebuild, so a restart attaches its new
 * program first and detaches the old one after: for the time between the two rebuilds both
 * copies run (the first one's verdict stands; a packet it passes also goes through the
 * second), and there is no moment without spillway.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "spw_dataplane_priv.h"
#include "spw_log.h"
#include "spillway_xdp.skel.h"

static enum xdp_attach_mode xdp_mode(bool generic)
{
	return generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

/* Does libxdp's dispatcher on ifindex run the program with id in mode? */
static bool in_dispatcher(int ifindex, __u32 id, enum xdp_attach_mode mode)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p = NULL;
	bool found = false;

	if (libxdp_get_error(mp) || !mp)
		return false;
	if (!xdp_multiprog__is_legacy(mp) && xdp_multiprog__attach_mode(mp) == mode)
		while (!found && (p = xdp_multiprog__next_prog(p, mp)))
			found = xdp_program__id(p) == id;
	xdp_multiprog__close(mp);
	return found;
}

/*
 * What is on ifindex's XDP hook, as libxdp sees it: 1 when libxdp's dispatcher, 0 when nothing,
 * -EBUSY when a program that is no dispatcher (loaded by ip link, a bpf_link, or libxdp's own
 * fallback to one program alone); main_id gets that program's id.
 */
static int hook_kind(int ifindex, __u32 *main_id)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *main;
	int kind;

	*main_id = 0;
	if (libxdp_get_error(mp) || !mp)
		return 0;
	main = xdp_multiprog__main_prog(mp);
	*main_id = main ? xdp_program__id(main) : 0;
	kind = xdp_multiprog__is_legacy(mp) ? -EBUSY : 1;
	xdp_multiprog__close(mp);
	return *main_id ? kind : 0;
}

/*
 * libxdp attaches one program alone, without its dispatcher, when the kernel cannot run the
 * dispatcher (no freplace, or the kernel refuses to load extensions): spillway would then hold
 * the hook exclusively, the opposite of what was asked. Undone here, with the reason.
 */
static int refuse_alone(int ifindex, struct xdp_program *prog, enum xdp_attach_mode mode)
{
	__u32 main_id;

	if (hook_kind(ifindex, &main_id) != -EBUSY || main_id != xdp_program__id(prog))
		return 0;
	xdp_program__detach(prog, ifindex, mode, 0);
	pr_warn("libxdp could not run its dispatcher on ifindex %d (the kernel refused to load or "
		"attach an extension program: freplace needs kernel >= 5.10 with BTF, CAP_BPF, "
		"CAP_PERFMON and CAP_NET_ADMIN, and no LSM denying BPF_PROG_TYPE_EXT); libxdp "
		"attached spillway alone instead, which would keep every other XDP program off the "
		"interface, so spillway detached again; use xdp_dispatcher: link, or mode tc\n",
		ifindex);
	return -EOPNOTSUPP;
}

static int own_slot(const struct spw_dataplane *dp, __u32 id)
{
	int i;

	for (i = 0; id && i < SPW_LIBXDP_OWN_MAX; i++)
		if (dp->libxdp_own[i].prog_id == id)
			return i;
	return -1;
}

static void own_remember(struct spw_dataplane *dp, __u32 old_id, __u32 id, unsigned int prio)
{
	int i = own_slot(dp, old_id), j;

	for (j = 0; i < 0 && j < SPW_LIBXDP_OWN_MAX; j++)
		if (!dp->libxdp_own[j].prog_id)
			i = j;
	if (i < 0)
		return; /* nothing remembered: the next reload swaps the program again */
	dp->libxdp_own[i].prog_id = id;
	dp->libxdp_own[i].prio = prio;
}

static int detach_id(int ifindex, __u32 id)
{
	struct xdp_program *p = xdp_program__from_id(id);
	int err = (int)libxdp_get_error(p);

	/* The program is gone already (someone unloaded every program): nothing of ours left. */
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	err = xdp_program__detach(p, ifindex, XDP_MODE_UNSPEC, 0);
	xdp_program__close(p);
	return err == -ENOENT ? 0 : err;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int spw_dp_libxdp_attach(struct spw_dataplane *dp, int ifindex, bool generic, unsigned int prio,
			 struct spw_attach_rec *rec)
{
	__u32 old_id = rec->xdp_via == SPW_XDP_VIA_LIBXDP ? rec->xdp_prog_id : 0;
	enum xdp_attach_mode mode = xdp_mode(generic);
	struct xdp_program *prog = NULL;
	struct spillway_xdp *xdp = NULL;
	int slot = own_slot(dp, old_id);
	uint64_t attached_us;
	__u32 id;
	int err;

	/* A reload that changes nothing here keeps the program this process put in. */
	if (slot >= 0 && dp->libxdp_own[slot].prio == prio && in_dispatcher(ifindex, old_id, mode))
		return 0;
	err = spw_dp_xdp_open(dp, bpf_map__max_entries(dp->xdp->maps.spw_flows),
			      dp->xdp->rodata->spw_track_tcp, &xdp);
	if (err)
		return err;
	prog = xdp_program__from_bpf_obj(xdp->obj, NULL);
	err = (int)libxdp_get_error(prog);
	if (err) {
		prog = NULL;
		pr_warn("cannot hand the XDP program to libxdp: %s\n", strerror(-err));
		goto out;
	}
	err = xdp_program__set_run_prio(prog, prio);
	if (!err)
		err = xdp_program__attach(prog, ifindex, mode, 0);
	if (err == -EBUSY && hook_kind(ifindex, &id) == -EBUSY) {
		pr_warn("ifindex %d runs an XDP program (id %u) that is not libxdp's dispatcher "
			"(attached by ip link, a bpf_link, or libxdp's fallback to one program "
			"alone): nothing can go beside it; load it through libxdp (xdp-loader, "
			"xdp-filter) on a kernel that runs the dispatcher, or use xdp_dispatcher: "
			"link\n",
			ifindex, id);
		goto out;
	}
	if (!err)
		err = refuse_alone(ifindex, prog, mode);
	if (err == -EOPNOTSUPP)
		goto out;
	if (err) {
		pr_warn("cannot attach XDP (%s mode) through libxdp's dispatcher to ifindex %d: "
			"%s\n",
			generic ? "generic" : "native", ifindex, strerror(-err));
		goto out;
	}
	attached_us = now_us();
	id = xdp_program__id(prog);
	if (old_id && old_id != id) {
		err = detach_id(ifindex, old_id);
		if (err) {
			/* Both stay in; the record names the new one, the old one is stray. */
			pr_warn("cannot take spillway's earlier program (id %u) out of libxdp's "
				"dispatcher on ifindex %d: %s\n",
				old_id, ifindex, strerror(-err));
			err = 0;
		} else {
			pr_info(
			    "ifindex %d: spillway's program swapped in libxdp's dispatcher; both "
			    "copies ran for %llu us\n",
			    ifindex, (unsigned long long)(now_us() - attached_us));
		}
	}
	rec->xdp_via = SPW_XDP_VIA_LIBXDP;
	rec->xdp_prog_id = id;
	own_remember(dp, old_id, id, prio);
out:
	/* The dispatcher's pinned link holds the program now; our fds go. */
	xdp_program__close(prog);
	spillway_xdp__destroy(xdp);
	return err;
}

int spw_dp_libxdp_detach(struct spw_dataplane *dp, int ifindex, struct spw_attach_rec *rec)
{
	int slot, err;

	if (rec->xdp_via != SPW_XDP_VIA_LIBXDP || !rec->xdp_prog_id)
		return 0;
	err = detach_id(ifindex, rec->xdp_prog_id);
	if (err)
		return err;
	slot = own_slot(dp, rec->xdp_prog_id);
	if (slot >= 0)
		dp->libxdp_own[slot].prog_id = 0;
	rec->xdp_via = SPW_XDP_VIA_LINK;
	rec->xdp_prog_id = 0;
	return 0;
}
