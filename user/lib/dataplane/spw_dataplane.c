// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opening the data plane: open -> size maps -> load (pinning or reusing maps) -> first-time
 * initialisation, with one cleanup path (libbpf-bootstrap's skeleton lifecycle).
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "spillway_xdp.skel.h"
#include "spillway_tc.skel.h"
#include "spillway_trace.skel.h"
#include "spw_abi_check.h"
#include "spw_dataplane_priv.h"
#include "spw_log.h"

/*
 * A flow table already pinned keeps its size: libbpf refuses to reuse a pinned map whose
 * definition differs, and a restart must never lose the flows. A new size applies after detach.
 */
static uint32_t pinned_flow_capacity(const char *root, uint32_t wanted)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, SPW_MAP_NAME(flows));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return wanted;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.max_entries != wanted) {
		pr_info("flow table is pinned with %u entries; keeping that size until detach\n",
			info.max_entries);
		wanted = info.max_entries;
	}
	close(fd);
	return wanted;
}

void spw_dp_warn_other_abi(const char *root, uint32_t found)
{
	pr_warn("maps pinned under %s are of ABI version %u, this build speaks %u; "
		"run `spillway detach` first\n",
		root, found, SPW_ABI_VERSION);
}

/*
 * The ABI version of the maps pinned under root, read before anything is loaded: libbpf
 * refuses to reuse a pinned map whose value size changed ("parameter mismatch", the flow
 * table of an older ABI) before this build could say why. abi_version has sat right after
 * cohort_salt in spw_globals since the first ABI. 0: nothing pinned, or maps still fresh.
 */
static int check_pinned_abi(const char *root)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), key = 0, found = 0;
	uint8_t value[256];
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", root, SPW_MAP_NAME(globals));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size > sizeof(value) ||
	    info.value_size < offsetof(struct spw_globals, abi_version) + sizeof(found) ||
	    bpf_map_lookup_elem(fd, &key, value))
		err = -EPROTO; /* not a spw_globals any build of spillway made */
	else
		memcpy(&found, value + offsetof(struct spw_globals, abi_version), sizeof(found));
	close(fd);
	if (err) {
		pr_warn("%s is not a map of any spillway build; run `spillway detach` first\n",
			path);
		return err;
	}
	if (found == SPW_ABI_VERSION || found == 0)
		return 0;
	spw_dp_warn_other_abi(root, found);
	return -EPROTO;
}

static uint32_t round_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1U << 31))
		p <<= 1;
	return p;
}

/* Every map of SPW_MAPS by its pinned name, and where its fd goes. */
static const struct {
	const char *name;
	size_t off; /* of its fd in struct spw_dp_maps */
} dp_maps[] = {
#define SPW_DP_MAP_ENTRY(name, type, max, flags, key, value)                                       \
	{SPW_MAP_NAME(name), offsetof(struct spw_dp_maps, name)},
    SPW_MAPS(SPW_DP_MAP_ENTRY)
#undef SPW_DP_MAP_ENTRY
};

static int *map_fd_slot(struct spw_dataplane *dp, size_t i)
{
	return (int *)((char *)&dp->maps + dp_maps[i].off);
}

/*
 * The layout the kernel holds for a map against the ABI structs: the BPF object is built by
 * clang for another target, and a pinned map may come from another build; a size that differs
 * would have every read and write of it corrupt memory, so the open fails instead.
 */
static int check_layout(const char *name, int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	int err;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	err = spw_map_layout_check(name, info.key_size, info.value_size);
	if (err)
		pr_warn(
		    "map %s has %u-byte keys and %u-byte values, not the layout of this build\n",
		    name, info.key_size, info.value_size);
	return err;
}

int spw_dp_maps_fill(struct spw_dataplane *dp, spw_dp_map_fd_fn fd_of, void *ctx)
{
	size_t i;
	int fd, err;

	for (i = 0; i < sizeof(dp_maps) / sizeof(dp_maps[0]); i++) {
		fd = fd_of(dp_maps[i].name, ctx);
		if (fd < 0)
			return fd;
		*map_fd_slot(dp, i) = fd;
		err = check_layout(dp_maps[i].name, fd);
		if (err)
			return err;
	}
	return 0;
}

int spw_dp_map_fd(const struct spw_dataplane *dp, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(dp_maps) / sizeof(dp_maps[0]); i++)
		if (!strcmp(dp_maps[i].name, name))
			return *(const int *)((const char *)&dp->maps + dp_maps[i].off);
	return -ENOENT;
}

void spw_dp_close_pinned_fds(struct spw_dataplane *dp)
{
	size_t i;

	if (!dp->pinned_only)
		return;
	for (i = 0; i < sizeof(dp_maps) / sizeof(dp_maps[0]); i++) {
		int *fd = map_fd_slot(dp, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

/* The skeleton's own fd of a map: the XDP object holds every map (TC shares them by pin). */
static int skeleton_map_fd(const char *name, void *obj)
{
	int fd = bpf_object__find_map_fd_by_name(obj, name);

	return fd < 0 ? -ENOENT : fd;
}

/* mmaps a whole BPF_F_MMAPABLE array, rounded up to pages as the kernel maps it. */
static int map_shared(int fd, size_t bytes, int prot, const char *what, void **ptr, size_t *len)
{
	long page = sysconf(_SC_PAGESIZE);

	*len = (bytes + page - 1) / page * page;
	*ptr = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	if (*ptr == MAP_FAILED) {
		int err = -errno;

		*ptr = NULL;
		pr_warn("cannot map the %s: %s\n", what, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * The sweep decrements active and in-flight counts and clears the recently-admitted filter's
 * generations with atomics on the maps' memory, as the kernel does; the daemon's latency and
 * request signals read them the same way, without a syscall.
 */
int spw_dp_map_active(struct spw_dataplane *dp)
{
	int err;

	err = map_shared(dp->maps.lat_svc, SPW_LAT_SVC_ENTRIES * sizeof(__u64), PROT_READ,
			 "latency histograms", (void **)&dp->lat_svc, &dp->lat_svc_len);
	if (!err)
		err = map_shared(dp->maps.active, SPW_ACTIVE_ENTRIES * sizeof(__u64),
				 PROT_READ | PROT_WRITE, "active-flow counts", (void **)&dp->active,
				 &dp->active_len);
	if (!err)
		err = map_shared(dp->maps.inflight, SPW_INFLIGHT_ENTRIES * sizeof(__u64),
				 PROT_READ | PROT_WRITE, "in-flight request counts",
				 (void **)&dp->inflight, &dp->inflight_len);
	if (!err)
		err = map_shared(dp->maps.req_ages, SPW_REQ_AGE_ENTRIES * sizeof(__u64),
				 PROT_READ | PROT_WRITE, "request start times",
				 (void **)&dp->req_ages, &dp->req_ages_len);
	if (!err)
		err = map_shared(dp->maps.recent, SPW_RECENT_WORDS * sizeof(__u64),
				 PROT_READ | PROT_WRITE, "recently-admitted filter",
				 (void **)&dp->recent, &dp->recent_len);
	/* A previous process may have cleared a generation a moment ago: wait a whole
	 * syn_timeout from here before clearing one. */
	dp->recent_cleared_ns = spw_now_ns();
	return err;
}

/*
 * Maps created a moment ago hold zeros, and a zero DSCP entry would mean "tier 0": mark every
 * DSCP unmapped and pick a first cohort salt. Pinned maps from a running install are left as
 * they are, so a restart changes nothing the data plane sees.
 */
static int init_fresh_maps(struct spw_dataplane *dp)
{
	struct spw_globals g;
	uint8_t unmapped = SPW_DSCP_UNMAPPED;
	uint32_t i;
	int err;

	err = spw_dp_globals_get(dp, &g);
	if (err)
		return err;
	if (g.abi_version == SPW_ABI_VERSION)
		return 0;
	if (g.abi_version != 0) {
		spw_dp_warn_other_abi(dp->pin_root, g.abi_version);
		return -EPROTO;
	}
	for (i = 0; i < SPW_DSCP_VALUES; i++) {
		if (bpf_map_update_elem(dp->maps.dscp, &i, &unmapped, BPF_ANY))
			return -errno;
	}
	if (getrandom(&g.cohort_salt, sizeof(g.cohort_salt), 0) != sizeof(g.cohort_salt))
		g.cohort_salt = (uint32_t)spw_now_ns();
	g.salt_rotated_ns = spw_now_ns();
	g.abi_version = SPW_ABI_VERSION;
	return spw_dp_globals_set(dp, &g);
}

static int make_pin_root(const char *root)
{
	if (mkdir(root, 0700) && errno != EEXIST) {
		int err = -errno;

		pr_warn("cannot create pin folder %s: %s\n", root, strerror(-err));
		return err;
	}
	return 0;
}

int spw_dp_alloc(struct spw_dataplane **out, const char *root)
{
	struct spw_dataplane *dp;
	size_t i;
	int err;

	*out = NULL;
	if (strlen(root) >= sizeof(dp->pin_root))
		return -ENAMETOOLONG;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	strcpy(dp->pin_root, root);
	for (i = 0; i < sizeof(dp_maps) / sizeof(dp_maps[0]); i++)
		*map_fd_slot(dp, i) = -1;
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus <= 0) {
		err = dp->ncpus ? dp->ncpus : -EINVAL;
		goto fail;
	}
	dp->percpu_buf = calloc(dp->ncpus, sizeof(*dp->percpu_buf));
	if (!dp->percpu_buf) {
		err = -ENOMEM;
		goto fail;
	}
	*out = dp;
	return 0;
fail:
	free(dp);
	return err;
}

/*
 * The XDP_TX failure counters (spillway_trace.bpf.c) need the kernel's BTF; without it
 * spillway still works, and says that failed rejects go uncounted.
 */
static void load_trace(struct spw_dataplane *dp, const struct bpf_object_open_opts *oopts,
		       uint32_t flows)
{
	int err;

	dp->trace = spillway_trace__open_opts(oopts);
	if (!dp->trace) {
		err = -errno;
		goto fail;
	}
	bpf_map__set_max_entries(dp->trace->maps.spw_flows, flows);
	err = spillway_trace__load(dp->trace);
	if (!err)
		return;
	spillway_trace__destroy(dp->trace);
	dp->trace = NULL;
fail:
	pr_warn("cannot load the XDP_TX failure counters (they need the kernel's BTF): %s; "
		"rejects a device fails to send are not counted\n",
		strerror(-err));
}

int spw_dp_xdp_open(const struct spw_dataplane *dp, uint32_t flows, bool track_tcp,
		    struct spillway_xdp **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = dp->pin_root);
	struct spillway_xdp *xdp;
	int err;

	xdp = spillway_xdp__open_opts(&oopts);
	if (!xdp) {
		err = -errno;
		pr_warn("cannot open the XDP program: %s\n", strerror(-err));
		return err;
	}
	bpf_map__set_max_entries(xdp->maps.spw_flows, flows);
	xdp->rodata->spw_track_tcp = track_tcp;
	*out = xdp;
	return 0;
}

int spw_dp_open(struct spw_dataplane **out, const struct spw_dp_opts *opts)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	const char *root = opts && opts->pin_root ? opts->pin_root : SPW_PIN_ROOT;
	uint32_t flows = opts && opts->flow_capacity ? opts->flow_capacity : SPW_FLOWS_DEFAULT;
	struct spw_dataplane *dp;
	int err;

	*out = NULL;
	if (strlen(root) >= sizeof(dp->pin_root))
		return -ENAMETOOLONG;
	err = spw_bpffs_ensure();
	if (err)
		return err;
	err = make_pin_root(root);
	if (err)
		return err;
	err = check_pinned_abi(root);
	if (err)
		return err;
	err = spw_dp_alloc(&dp, root);
	if (err)
		return err;
	/* The kernel sizes a hash's bucket array to the next power of two: any other size pays
	 * for buckets it cannot fill (136 bytes a flow instead of 120 at 2^17 + 1). */
	flows = round_pow2(flows);
	flows = pinned_flow_capacity(root, flows);
	oopts.pin_root_path = dp->pin_root;
	dp->tc_clsact = opts && opts->tc_clsact;

	err = spw_dp_xdp_open(dp, flows, !(opts && opts->no_tcp_tracking), &dp->xdp);
	if (err)
		goto cleanup;
	err = spillway_xdp__load(dp->xdp);
	if (err) {
		pr_warn("cannot load the XDP program: %s\n", strerror(-err));
		goto cleanup;
	}
	/* The TC object declares the same maps; pinned by name, it picks up the XDP ones. */
	dp->tc = spillway_tc__open_opts(&oopts);
	if (!dp->tc) {
		err = -errno;
		pr_warn("cannot open the TC programs: %s\n", strerror(-err));
		goto cleanup;
	}
	bpf_map__set_max_entries(dp->tc->maps.spw_flows, flows);
	dp->tc->rodata->spw_track_tcp = dp->xdp->rodata->spw_track_tcp;
	err = spillway_tc__load(dp->tc);
	if (err) {
		pr_warn("cannot load the TC programs: %s\n", strerror(-err));
		goto cleanup;
	}
	load_trace(dp, &oopts, flows);
	err = spw_dp_maps_fill(dp, skeleton_map_fd, dp->xdp->obj);
	if (err)
		goto cleanup;
	err = spw_dp_map_active(dp);
	if (err)
		goto cleanup;
	err = init_fresh_maps(dp);
	if (err)
		goto cleanup;
	*out = dp;
	return 0;

cleanup:
	spw_dp_close(dp);
	return err;
}

void spw_dp_close(struct spw_dataplane *dp)
{
	if (!dp)
		return;
	if (dp->active)
		munmap(dp->active, dp->active_len);
	if (dp->lat_svc)
		munmap(dp->lat_svc, dp->lat_svc_len);
	if (dp->recent)
		munmap(dp->recent, dp->recent_len);
	if (dp->inflight)
		munmap(dp->inflight, dp->inflight_len);
	if (dp->req_ages)
		munmap(dp->req_ages, dp->req_ages_len);
	spw_dp_close_pinned_fds(dp);
	spillway_trace__destroy(dp->trace);
	spillway_tc__destroy(dp->tc);
	spillway_xdp__destroy(dp->xdp);
	free(dp->percpu_buf);
	free(dp);
}

int spw_dp_unpin_all(struct spw_dataplane *dp)
{
	struct dirent *de;
	char path[PATH_MAX];
	int err = 0;
	DIR *dir;

	dir = opendir(dp->pin_root);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dp->pin_root, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(dir);
	if (rmdir(dp->pin_root) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

int spw_dp_prog_fd(const struct spw_dataplane *dp, enum spw_prog prog)
{
	if (dp->pinned_only)
		return -ENOENT; /* spw_dp_open_pinned() loads no program */
	switch (prog) {
	case SPW_PROG_XDP:
		return bpf_program__fd(dp->xdp->progs.spw_xdp_ingress);
	case SPW_PROG_TC_INGRESS:
		return bpf_program__fd(dp->tc->progs.spw_tc_ingress);
	case SPW_PROG_TC_EGRESS:
		return bpf_program__fd(dp->tc->progs.spw_tc_egress);
	default:
		return -EINVAL;
	}
}

const char *spw_dp_pin_root(const struct spw_dataplane *dp)
{
	return dp->pin_root;
}
