/* SPDX-License-Identifier: GPL-2.0-only */
/* What the spw_dp_*.c files share about an open data plane; nobody else includes this. */
#ifndef SPW_DATAPLANE_PRIV_H
#define SPW_DATAPLANE_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <bpf/libbpf.h>
#include "spillway_maps.h"
#include "spw_dataplane.h"

/* Interfaces whose libxdp program a data plane remembers: more than a config names. */
#define SPW_LIBXDP_OWN_MAX 32
/* Longest pin root: leaves room in a PATH_MAX buffer for any file name under it. */
#define SPW_PIN_ROOT_MAX 256

struct spillway_xdp;
struct spillway_tc;
struct spillway_trace;

/* One fd per map of SPW_MAPS; they belong to the XDP skeleton (the TC one shares them by pin). */
struct spw_dp_maps {
#define SPW_DP_MAP_FD(name, type, max, flags, key, value) int name;
	SPW_MAPS(SPW_DP_MAP_FD)
#undef SPW_DP_MAP_FD
};

struct spw_dataplane {
	struct spillway_xdp *xdp;
	struct spillway_tc *tc;
	struct spillway_trace *trace; /* XDP_TX failure counters; NULL without kernel BTF */
	struct spw_dp_maps maps;
	int ncpus;			/* possible CPUs: per-CPU values come in this many */
	struct spw_counter *percpu_buf; /* one counter entry's per-CPU values */
	__u64 *active;			/* spw_active, mmapped: atomic decrements from user space */
	size_t active_len;
	__u64 *lat_svc; /* spw_lat_svc, mmapped read-only: the latency signal's histograms */
	size_t lat_svc_len;
	__u64 *recent; /* spw_recent, mmapped: the sweep clears its generations */
	size_t recent_len;
	uint64_t recent_cleared_ns; /* when a generation was last cleared (or the map mapped) */
	unsigned int recent_gen;    /* the generation cleared next: 0 or 1 */
	__u64 *inflight; /* spw_inflight, mmapped: the sweep's decrements, the signal's reads */
	size_t inflight_len;
	__u64 *req_ages; /* spw_req_ages, mmapped likewise */
	size_t req_ages_len;
	char pin_root[SPW_PIN_ROOT_MAX];
	bool pinned_only; /* spw_dp_open_pinned(): the map fds are ours, no programs loaded */
	bool tc_clsact;	  /* spw_dp_opts.tc_clsact: clsact filters even where tcx exists */
	/* The programs this data plane put into libxdp's dispatcher, so a reload that changes
	 * nothing keeps them instead of loading the program again; a new process swaps its own
	 * in. Zeroed slots are free. */
	struct {
		__u32 prog_id;
		unsigned int prio;
	} libxdp_own[SPW_LIBXDP_OWN_MAX];
};

/* A zeroed data plane with its pin root and per-CPU read buffer; nothing opened yet. */
int spw_dp_alloc(struct spw_dataplane **out, const char *root);
/* mmaps spw_active, spw_lat_svc, spw_inflight, spw_req_ages and spw_recent (fds open). */
int spw_dp_map_active(struct spw_dataplane *dp);

/* The one message for pins of another ABI: what was found, what this build speaks, what to do. */
void spw_dp_warn_other_abi(const char *root, uint32_t found);
/*
 * Ages the recently-admitted filter after a sweep that started at sweep_ns and removed every
 * SYN_SEEN flow older than syn_timeout_ns: clears one generation if the other was cleared
 * more than syn_timeout_ns before sweep_ns. Returns whether it cleared one.
 */
bool spw_dp_recent_age(struct spw_dataplane *dp, uint64_t syn_timeout_ns, uint64_t sweep_ns);
/* Sets a flow's bits in the filter, as the data plane does before it inserts a SYN_SEEN flow. */
void spw_dp_recent_mark(struct spw_dataplane *dp, const struct spw_flow_key *key);
/* A map's fd by its pinned name, or a negative errno. */
typedef int (*spw_dp_map_fd_fn)(const char *name, void *ctx);
/*
 * Fills dp->maps from fd_of, map by map, checking each map's key and value sizes against the
 * ABI structs (-EPROTO when one differs); the first error stops it.
 */
int spw_dp_maps_fill(struct spw_dataplane *dp, spw_dp_map_fd_fn fd_of, void *ctx);
/* The fd of the map of SPW_MAPS called name, or -ENOENT. */
int spw_dp_map_fd(const struct spw_dataplane *dp, const char *name);

/* The svc_addrs entry read for packets without readable ports, by destination address. */
void spw_dp_addr_marker_key(const struct spw_service_match *m, struct spw_svc_addr_key *key);
int spw_dp_addr_marker_add(struct spw_dataplane *dp, const struct spw_service_match *m,
			   uint32_t svc_id);
/* Closes the map fds of a spw_dp_open_pinned() data plane; nothing otherwise. */
void spw_dp_close_pinned_fds(struct spw_dataplane *dp);

/*
 * The XDP object opened, not loaded: maps pinned by name under dp's pin root (reused when
 * there), the flow table sized, TCP tracking set. spw_dp_open() loads it as XDP; libxdp loads
 * another copy as an extension of its dispatcher.
 */
int spw_dp_xdp_open(const struct spw_dataplane *dp, uint32_t flows, bool track_tcp,
		    struct spillway_xdp **out);

/*
 * spillway's XDP program as one of libxdp's dispatcher on ifindex (mode XDP_MODE_SKB when
 * generic, else native) at run priority prio. Where rec holds spillway's program there
 * already, the new one goes in first and the old one out after, so the interface never runs
 * without spillway; one this data plane put there at the same priority is kept as it is.
 */
int spw_dp_libxdp_attach(struct spw_dataplane *dp, int ifindex, bool generic, unsigned int prio,
			 struct spw_attach_rec *rec);
/* Takes spillway's program (rec's) out of libxdp's dispatcher on ifindex, and nothing else. */
int spw_dp_libxdp_detach(struct spw_dataplane *dp, int ifindex, struct spw_attach_rec *rec);

/* The key of ifindex in the calling thread's network namespace. */
int spw_dp_iface_key(int ifindex, struct spw_iface_key *key);
/* spw_attached's record of key, zeroed (and *found false) when there is none. */
int spw_dp_attach_rec_get(struct spw_dataplane *dp, const struct spw_iface_key *key,
			  struct spw_attach_rec *rec, bool *found);

/*
 * spillway's TC program prog on where of ifindex, beside whatever else is there: replaces
 * spillway's own program in place when rec (or a pinned tcx link) says it is there already,
 * else adds a tcx link or, without tcx, a clsact filter; rec gets where it went.
 */
int spw_dp_tc_attach(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
		     enum spw_prog prog, struct spw_attach_rec *rec);
/* Removes spillway's TC program from where of ifindex, and nothing else; clears it in rec. */
int spw_dp_tc_detach(struct spw_dataplane *dp, int ifindex, enum bpf_tc_attach_point where,
		     struct spw_attach_rec *rec);

/*
 * Counts XDP_TX frames ifindex fails to send from now on (keeping what was counted before,
 * across restarts): its spw_tx_failed entry, and the tracepoint links, pinned once.
 */
int spw_dp_tx_failed_watch(struct spw_dataplane *dp, const struct spw_iface_key *key);
/* Stops counting for key; the tracepoint links go when no interface is left. */
int spw_dp_tx_failed_unwatch(struct spw_dataplane *dp, const struct spw_iface_key *key);

#endif /* SPW_DATAPLANE_PRIV_H */
