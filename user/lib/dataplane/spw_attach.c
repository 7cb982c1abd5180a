// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attaching to interfaces. XDP goes through a bpf_link pinned under the pin root, so the
 * program stays when the daemon exits and a new daemon swaps its program in atomically with
 * bpf_link_update (never a window without one); or, when asked, through libxdp's dispatcher
 * beside other XDP programs (spw_attach_libxdp.c). TC programs go beside others
 * (spw_attach_tc.c). Every mode also puts the TC egress program on the interface: the flow
 * tracker reads the server's replies there. What went where is recorded per interface in
 * spw_attached, so detach removes spillway's programs and nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spw_dataplane_priv.h"
#include "spw_log.h"

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

int spw_dp_iface_key(int ifindex, struct spw_iface_key *key)
{
	socklen_t len = sizeof(key->netns_cookie);
	int fd, err = 0;

	memset(key, 0, sizeof(*key));
	key->ifindex = (__u32)ifindex;
	/* A socket belongs to the namespace of the thread that creates it. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &key->netns_cookie, &len))
		err = -errno;
	close(fd);
	if (err)
		pr_warn("cannot read the network namespace's cookie (kernel >= 5.14): %s\n",
			strerror(-err));
	return err;
}

int spw_dp_attach_rec_get(struct spw_dataplane *dp, const struct spw_iface_key *key,
			  struct spw_attach_rec *rec, bool *found)
{
	memset(rec, 0, sizeof(*rec));
	*found = !bpf_map_lookup_elem(dp->maps.attached, key, rec);
	if (!*found && errno != ENOENT)
		return -errno;
	return 0;
}

static int rec_put(struct spw_dataplane *dp, const struct spw_iface_key *key,
		   const struct spw_attach_rec *rec)
{
	if (bpf_map_update_elem(dp->maps.attached, key, rec, BPF_ANY)) {
		int err = -errno;

		pr_warn("cannot record the attach to ifindex %u: %s\n", key->ifindex,
			strerror(-err));
		return err;
	}
	return 0;
}

static int detach_xdp(struct spw_dataplane *dp, int ifindex)
{
	char path[PATH_MAX];
	int link_fd, err = 0;

	xdp_link_path(dp, ifindex, path, sizeof(path));
	link_fd = bpf_obj_get(path);
	if (link_fd < 0)
		return 0;
	/* Detach explicitly: another holder of the link must not keep it attached. */
	if (bpf_link_detach(link_fd) && errno != ENOLINK)
		err = -errno;
	close(link_fd);
	if (unlink(path) && !err)
		err = -errno;
	return err;
}

static bool mode_is_xdp(enum spw_attach_mode mode)
{
	return mode == SPW_ATTACH_XDP || mode == SPW_ATTACH_XDP_GENERIC;
}

/* spillway's XDP program off ifindex, whichever way it went on: its link, or libxdp's. */
static int detach_xdp_any(struct spw_dataplane *dp, int ifindex, struct spw_attach_rec *rec)
{
	int err = detach_xdp(dp, ifindex), e;

	e = spw_dp_libxdp_detach(dp, ifindex, rec);
	return err ? err : e;
}

/* What a mode change leaves behind of the old mode: the TC ingress program, or the XDP one. */
static int drop_old_mode(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode old,
			 enum spw_attach_mode mode, struct spw_attach_rec *rec)
{
	if (old == SPW_ATTACH_TC && mode_is_xdp(mode))
		return spw_dp_tc_detach(dp, ifindex, BPF_TC_INGRESS, rec);
	if (mode_is_xdp(old) && mode == SPW_ATTACH_TC)
		return detach_xdp_any(dp, ifindex, rec);
	return 0;
}

/*
 * The XDP program on in mode through via. Where spillway's is there already the other way, or
 * in libxdp's dispatcher in the other XDP mode, it comes off first: a device's XDP hook holds
 * one attach, so neither way can go in beside the other, and for that switch there is a
 * moment without spillway's program (said in the log).
 */
static int attach_xdp_via(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode mode,
			  const struct spw_xdp_via *via, bool had, struct spw_attach_rec *rec)
{
	bool generic = mode == SPW_ATTACH_XDP_GENERIC;
	int err;

	if (had && mode_is_xdp(rec->mode) &&
	    (rec->xdp_via != via->dispatcher ||
	     (via->dispatcher == SPW_XDP_VIA_LIBXDP && rec->mode != mode))) {
		pr_info("ifindex %d: moving spillway's XDP program from %s (%s) to %s (%s): it is "
			"off the interface until the new attach\n",
			ifindex, spw_xdp_dispatcher_name(rec->xdp_via),
			spw_attach_mode_name(rec->mode), spw_xdp_dispatcher_name(via->dispatcher),
			spw_attach_mode_name(mode));
		err = detach_xdp_any(dp, ifindex, rec);
		if (err)
			return err;
	}
	if (via->dispatcher == SPW_XDP_VIA_LIBXDP)
		return spw_dp_libxdp_attach(dp, ifindex, generic, via->priority, rec);
	rec->xdp_via = SPW_XDP_VIA_LINK;
	rec->xdp_prog_id = 0;
	return attach_xdp(dp, ifindex, generic);
}

/* Native XDP on a veth can attach where XDP_TX cannot leave: say so at once. */
static void warn_no_xdp_tx(int ifindex)
{
	int err = spw_dp_xdp_tx_check(ifindex);

	if (err == -EPIPE)
		pr_warn(
		    "ifindex %d is a veth whose peer runs no native XDP program: it drops every "
		    "XDP_TX frame, so rejects never arrive (counted as XDP_TX failures); attach "
		    "an XDP program to the peer, or use mode xdp-generic or tc\n",
		    ifindex);
	else if (err)
		pr_debug("cannot tell whether ifindex %d can send XDP_TX: %s\n", ifindex,
			 strerror(-err));
}

int spw_dp_attach(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode mode)
{
	static const struct spw_xdp_via link = {.dispatcher = SPW_XDP_VIA_LINK};

	return spw_dp_attach_via(dp, ifindex, mode, &link);
}

int spw_dp_attach_via(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode mode,
		      const struct spw_xdp_via *via)
{
	struct spw_iface_key key;
	struct spw_attach_rec rec;
	bool had;
	int err;

	if (ifindex <= 0 || mode >= SPW_ATTACH_MODE_COUNT ||
	    via->dispatcher >= SPW_XDP_DISPATCHER_COUNT)
		return -EINVAL;
	if (spw_dp_prog_fd(dp, SPW_PROG_XDP) < 0)
		return -ENOENT; /* opened with spw_dp_open_pinned(): no program to attach */
	err = spw_dp_iface_key(ifindex, &key);
	if (!err)
		err = spw_dp_attach_rec_get(dp, &key, &rec, &had);
	if (err)
		return err;
	/* XDP sees only ingress; the flow tracker also needs the server's side (SYN-ACK,
	 * FIN/RST, responses), which only TC egress sees: every mode puts that there. */
	err = spw_dp_tc_attach(dp, ifindex, BPF_TC_EGRESS, SPW_PROG_TC_EGRESS, &rec);
	if (err)
		goto fail;
	if (mode_is_xdp(mode))
		err = attach_xdp_via(dp, ifindex, mode, via, had, &rec);
	else
		err = spw_dp_tc_attach(dp, ifindex, BPF_TC_INGRESS, SPW_PROG_TC_INGRESS, &rec);
	if (err)
		goto fail;
	if (had && rec.mode != mode) {
		err = drop_old_mode(dp, ifindex, (enum spw_attach_mode)rec.mode, mode, &rec);
		if (err)
			pr_warn("cannot remove the %s attach from ifindex %d: %s\n",
				spw_attach_mode_name(rec.mode), ifindex, strerror(-err));
	}
	rec.mode = (__u8)mode;
	err = rec_put(dp, &key, &rec);
	if (err)
		return err;
	/* Rejects leave by XDP_TX only in the XDP modes; TC redirects them. */
	if (!mode_is_xdp(mode))
		return spw_dp_tx_failed_unwatch(dp, &key);
	if (spw_dp_tx_failed_watch(dp, &key))
		pr_warn("XDP_TX failures of ifindex %d are not counted\n", ifindex);
	if (mode == SPW_ATTACH_XDP)
		warn_no_xdp_tx(ifindex);
	return 0;
fail:
	/* Undo only an attach that found nothing of spillway's there: an earlier one stays. */
	if (!had)
		spw_dp_tc_detach(dp, ifindex, BPF_TC_EGRESS, &rec);
	else
		rec_put(dp, &key, &rec);
	return err;
}

int spw_dp_detach(struct spw_dataplane *dp, int ifindex)
{
	struct spw_iface_key key;
	struct spw_attach_rec rec;
	int err, e;
	bool had;

	err = spw_dp_iface_key(ifindex, &key);
	if (!err)
		err = spw_dp_attach_rec_get(dp, &key, &rec, &had);
	if (err)
		return err;
	err = detach_xdp_any(dp, ifindex, &rec);
	e = spw_dp_tc_detach(dp, ifindex, BPF_TC_INGRESS, &rec);
	if (!err)
		err = e;
	e = spw_dp_tc_detach(dp, ifindex, BPF_TC_EGRESS, &rec);
	if (!err)
		err = e;
	e = spw_dp_tx_failed_unwatch(dp, &key);
	if (!err)
		err = e;
	if (err)
		rec_put(dp, &key, &rec); /* what is left stays recorded for the next detach */
	else if (had && bpf_map_delete_elem(dp->maps.attached, &key) && errno != ENOENT)
		err = -errno;
	return err;
}
