/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libspillway's data-plane access: load, pin, attach, and typed reads and writes of every map.
 * This header and user/lib/dataplane/ are the only user-space code that knows the map layouts
 * and the only code that calls libbpf. Every function returns 0 or a negative errno.
 */
#ifndef SPW_DATAPLANE_H
#define SPW_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>
#include "spillway_abi.h"
#include "spillway_maps.h"
#include "spw_cidr.h"
#include "spw_types.h"

struct spw_dataplane;

/* Which BPF entry point. */
enum spw_prog {
	SPW_PROG_XDP,	     /* XDP ingress: the default attach */
	SPW_PROG_TC_INGRESS, /* TC ingress: fallback where XDP is not wanted */
	SPW_PROG_TC_EGRESS,  /* TC egress: server replies (flow tracking) */
	SPW_PROG_COUNT
};

struct spw_dp_opts {
	/* bpffs folder for maps and links; NULL means SPW_PIN_ROOT. Tests use their own. */
	const char *pin_root;
	/* Flow table entries, rounded up to a power of two; 0 means SPW_FLOWS_DEFAULT. Only
	 * used when the maps are created: a pinned table keeps its size. */
	uint32_t flow_capacity;
	/* Load the programs without TCP flow tracking (no counts, caps or latency for TCP). */
	bool no_tcp_tracking;
	/* TC programs as clsact filters even on kernels with tcx links (>= 6.6): what older
	 * kernels get anyway; tests use it to run that path here. */
	bool tc_clsact;
};

/*
 * Mount bpffs at /sys/fs/bpf when it is missing, create the pin root, load both BPF objects
 * and pin their maps, or reuse maps already pinned there (a restarted daemon keeps every
 * counter, policy and flow). Nothing is attached.
 */
int spw_dp_open(struct spw_dataplane **out, const struct spw_dp_opts *opts);
/*
 * The maps of a running install only, by their pins under pin_root (NULL: SPW_PIN_ROOT):
 * nothing is created, mounted or loaded, so it costs milliseconds where spw_dp_open() costs
 * the verifier's second. Every map read and write works; spw_dp_prog_fd() and so
 * spw_dp_attach() do not (-ENOENT). -ENOENT when a map is not pinned, -EPROTO when the pinned
 * maps are of another ABI version.
 */
int spw_dp_open_pinned(struct spw_dataplane **out, const char *pin_root);
/*
 * Is a data plane pinned under pin_root (NULL: SPW_PIN_ROOT), and may this process open it?
 * 0, -ENOENT when nothing is pinned there, -EPERM or -EACCES without the privileges. Opens
 * nothing else, so a caller can tell those apart before it opens or creates anything.
 */
int spw_dp_pinned_probe(const char *pin_root);
/* Frees user-space state; pinned maps and attached programs stay. NULL is fine. */
void spw_dp_close(struct spw_dataplane *dp);
/* Unpins every map and link under the pin root and removes the folder (detach-all). */
int spw_dp_unpin_all(struct spw_dataplane *dp);

int spw_dp_prog_fd(const struct spw_dataplane *dp, enum spw_prog prog);
const char *spw_dp_pin_root(const struct spw_dataplane *dp);

/*
 * Attach to an interface, beside any other XDP or TC programs there. XDP uses a bpf_link
 * pinned as link_xdp_IFINDEX, so it outlives the process; attaching again where a spillway
 * link is pinned replaces the program in place (no window without one). TC mode puts programs
 * on ingress and egress, the XDP modes on egress, where the flow tracker sees the server's
 * replies: tcx links at the head of the chain on kernels >= 6.6, else clsact filters at a
 * free handle and priority recorded in spw_attached. Detach removes what spillway put there
 * and nothing else.
 */
int spw_dp_attach(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode mode);
/* How the XDP modes attach (config xdp_dispatcher, xdp_priority); TC mode ignores it. */
struct spw_xdp_via {
	enum spw_xdp_dispatcher dispatcher;
	unsigned int priority; /* libxdp's run priority: lower runs first */
};
/*
 * spw_dp_attach() with the XDP modes through via: spillway's own link (what spw_dp_attach()
 * does), or one program of libxdp's dispatcher beside the others there, where attaching again
 * puts the new program in before the old one comes out (no moment without spillway; both run
 * in between). Moving between the two ways detaches first: a moment without spillway.
 */
int spw_dp_attach_via(struct spw_dataplane *dp, int ifindex, enum spw_attach_mode mode,
		      const struct spw_xdp_via *via);
int spw_dp_detach(struct spw_dataplane *dp, int ifindex);

/* Where the device of a pinned XDP link (link_xdp_IFINDEX) is, seen from the caller. */
enum spw_link_where {
	SPW_LINK_HERE,	    /* ifindex in the caller's network namespace runs the link's program */
	SPW_LINK_ELSEWHERE, /* the link holds a device, not this namespace's ifindex */
	SPW_LINK_DEFUNCT,   /* its device is gone: only the pin is left */
};
/* -ENOENT when no link is pinned for ifindex. */
int spw_dp_xdp_link_where(struct spw_dataplane *dp, int ifindex, enum spw_link_where *where);

/*
 * XDP_TX frames ifindex (in the calling thread's namespace) failed to send since spillway
 * first attached there in an XDP mode: rejects counted as sent that never left. Counted from
 * the kernel's xdp_exception and xdp_bulk_tx tracepoints (kernel BTF needed). -ENOENT when
 * nothing counts for ifindex (not attached in an XDP mode, or no BTF).
 */
int spw_dp_tx_failed_read(struct spw_dataplane *dp, int ifindex, uint64_t *frames);
/*
 * Can ifindex send XDP_TX frames? 0 as far as can be told (a NIC driver, or a veth whose peer
 * runs a native XDP program), -EPIPE for a veth whose peer runs none (it drops every XDP_TX
 * frame), another negative errno when it cannot be told.
 */
int spw_dp_xdp_tx_check(int ifindex);

/* Ensures bpffs is mounted at /sys/fs/bpf (mounts it when not). */
int spw_bpffs_ensure(void);

int spw_dp_service_add(struct spw_dataplane *dp, const struct spw_service_match *m,
		       uint32_t svc_id);
int spw_dp_service_del(struct spw_dataplane *dp, const struct spw_service_match *m);
/* Service id that owns traffic to (proto, port, local addr), 0 when none: as the data plane. */
int spw_dp_service_lookup(struct spw_dataplane *dp, uint8_t proto, uint16_t port,
			  const uint8_t addr[SPW_ADDR_LEN], uint32_t *svc_id);

/*
 * Removes every service, address binding and policy that is not in keep[] (with ids[]): what a
 * daemon restarted with a changed config must clean up. Kept entries are not touched, so their
 * traffic is enforced throughout.
 */
int spw_dp_services_prune(struct spw_dataplane *dp, const struct spw_service_match *keep,
			  const uint32_t *ids, int n);

/* Atomic replacement of a service's whole policy (see struct spw_policy). */
int spw_dp_policy_set(struct spw_dataplane *dp, uint32_t svc_id, const struct spw_policy *p);
/*
 * The same for n services at once (ids[i] gets p[i]), each policy replaced whole, in one
 * syscall (the batch ops of kernel 5.6, which the counter reads need too). A bad id or policy
 * is not written (-EINVAL once the others are); on any other error some may not be, and the
 * caller writes them one by one to learn which.
 */
int spw_dp_policies_set(struct spw_dataplane *dp, const uint32_t *ids, const struct spw_policy *p,
			uint32_t n);
int spw_dp_policy_get(struct spw_dataplane *dp, uint32_t svc_id, struct spw_policy *p);
/* The pinned record of a service id (spw_services): its name and learned capacity. */
int spw_dp_service_rec_get(struct spw_dataplane *dp, uint32_t svc_id, struct spw_service_rec *r);
int spw_dp_service_rec_set(struct spw_dataplane *dp, uint32_t svc_id,
			   const struct spw_service_rec *r);
int spw_dp_policy_del(struct spw_dataplane *dp, uint32_t svc_id);

/* Source CIDR -> tier rules. Adding an existing prefix replaces its tier. */
int spw_dp_rule_add(struct spw_dataplane *dp, const struct spw_cidr *c, uint8_t tier,
		    uint32_t rule_id);
int spw_dp_rule_del(struct spw_dataplane *dp, const struct spw_cidr *c);
/* Longest-prefix match, as the data plane does; -ENOENT when no rule covers addr. */
int spw_dp_rule_lookup(struct spw_dataplane *dp, const uint8_t addr[SPW_ADDR_LEN],
		       struct spw_rule *r);

/* Every rule, in the trie's order; fn returning non-zero stops the walk and is returned. */
typedef int (*spw_dp_rule_fn)(const struct spw_cidr *c, const struct spw_rule *r, void *ctx);
int spw_dp_rules_foreach(struct spw_dataplane *dp, spw_dp_rule_fn fn, void *ctx);

/* Sources whose DSCP marks are trusted. */
int spw_dp_trusted_add(struct spw_dataplane *dp, const struct spw_cidr *c);
int spw_dp_trusted_del(struct spw_dataplane *dp, const struct spw_cidr *c);
/* 0 when a trusted prefix covers addr (longest-prefix match), -ENOENT when none does. */
int spw_dp_trusted_lookup(struct spw_dataplane *dp, const uint8_t addr[SPW_ADDR_LEN]);
/* Exempt sources: never refused. is_v4 is the packet's family (a mapped IPv6 source is not
 * the IPv4 one). Lookup: 0 when an exempt prefix covers addr, -ENOENT when none does. */
int spw_dp_exempt_add(struct spw_dataplane *dp, const struct spw_cidr *c);
int spw_dp_exempt_lookup(struct spw_dataplane *dp, const uint8_t addr[SPW_ADDR_LEN], bool is_v4);
/* DSCP -> tier; tier SPW_DSCP_UNMAPPED removes the mapping. */
int spw_dp_dscp_set(struct spw_dataplane *dp, uint8_t dscp, uint8_t tier);
/* The tier DSCP maps to, SPW_DSCP_UNMAPPED when none. */
int spw_dp_dscp_get(struct spw_dataplane *dp, uint8_t dscp, uint8_t *tier);

/*
 * Remove every rule (trusted prefix) whose key is not in keep[0..n): what a reload must do
 * before it adds the file's. Kept prefixes are not touched, so their traffic keeps its tier.
 */
int spw_dp_rules_prune(struct spw_dataplane *dp, const struct spw_lpm_key *keep, int n);
int spw_dp_trusted_prune(struct spw_dataplane *dp, const struct spw_lpm_key *keep, int n);
int spw_dp_exempt_prune(struct spw_dataplane *dp, const struct spw_exempt_key *keep, int n);

/* A downstream TC egress throttles connections to (dest, ds->port); replaces the prefix's. */
int spw_dp_downstream_set(struct spw_dataplane *dp, const struct spw_cidr *dest,
			  const struct spw_downstream *ds);
/* Removes every downstream whose prefix is not in keep[0..n). */
int spw_dp_downstreams_prune(struct spw_dataplane *dp, const struct spw_lpm_key *keep, int n);
/*
 * Makes spw_out_cgroups hold exactly keys[i] -> tiers[i] (i < n): the new entries are written
 * first, then the ones no longer named removed, so a reload never leaves a kept cgroup untiered.
 */
int spw_dp_out_cgroups_replace(struct spw_dataplane *dp, const struct spw_out_cgroup_key *keys,
			       const uint8_t *tiers, int n);
/* Downstream id's counts per tier and kind (enum spw_throttle_kind), summed over CPUs. */
int spw_dp_throttle_read(struct spw_dataplane *dp, uint32_t id,
			 uint64_t out[SPW_MAX_TIERS][SPW_THR_KINDS]);

int spw_dp_globals_get(struct spw_dataplane *dp, struct spw_globals *g);
int spw_dp_globals_set(struct spw_dataplane *dp, const struct spw_globals *g);

/* Token bucket state of (service, tier): for tests and diagnostics. */
int spw_dp_bucket_get(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier,
		      struct spw_bucket *b);
int spw_dp_bucket_set(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier,
		      const struct spw_bucket *b);

int spw_dp_counter_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier_slot,
			enum spw_reason reason, struct spw_count *out);
/*
 * The counters of one service's first `tiers` tier slots, reasons [first, first + n) of each:
 * out has tiers * SPW_REASON_SLOTS entries, indexed by tier_slot * SPW_REASON_SLOTS + reason;
 * the entries of other reasons are left as they were. Only the entries asked for are copied:
 * the controller reads the configured tiers of every service every tick, and the kernel's
 * batch read copies each entry of a per-CPU map out on its own (96 entries a service were a
 * fifth of a 20-service tick). One syscall.
 */
int spw_dp_counters_read_service(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tiers,
				 uint32_t first, uint32_t n, struct spw_count *out);
/* One service's new flows by rank the level let pass and shed, summed over CPUs. */
int spw_dp_rank_counts_read(struct spw_dataplane *dp, uint32_t svc_id, struct spw_rank_count *out);
/* Every counter at once: out has SPW_COUNTER_ENTRIES entries, indexed by spw_counter_index. */
int spw_dp_counters_read_all(struct spw_dataplane *dp, struct spw_count *out);

/*
 * Active flows of (service, tier slot): exact, maintained by the data plane and the sweep.
 * Slot SPW_ACTIVE_TOTAL is the service's total, which the reservation bounds.
 */
int spw_dp_active_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier_slot,
		       uint64_t *out);

/*
 * Requests of (service, tier) awaiting their response: exact, maintained by the data plane and
 * the sweep (the service's total is the sum over its tiers).
 */
int spw_dp_inflight_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier, uint64_t *out);
/* The service's total over its tiers 0..ntiers-1, as the data plane's in-flight guard sums it. */
int spw_dp_inflight_total(struct spw_dataplane *dp, uint32_t svc_id, uint32_t ntiers,
			  uint64_t *out);
/*
 * The service's outstanding requests by start-time slot: slots has SPW_REQ_SLOTS entries,
 * indexed as spw_req_age_index() does (spw_request_age.h reads them). From shared memory.
 */
int spw_dp_req_ages_read(struct spw_dataplane *dp, uint32_t svc_id, uint64_t *slots);

int spw_dp_latency_read(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier,
			struct spw_latency_hist *out);
/* The latency histogram of a service, all tiers: from shared memory, no syscall. */
int spw_dp_latency_read_service(struct spw_dataplane *dp, uint32_t svc_id,
				struct spw_latency_hist *out);

/* Flow table entries now, and the table's capacity. */
int spw_dp_flow_count(struct spw_dataplane *dp, uint64_t *entries, uint32_t *capacity);
/* The table's capacity alone, without the walk spw_dp_flow_count() makes. */
int spw_dp_flow_capacity(struct spw_dataplane *dp, uint32_t *capacity);
/* One flow's entry; -ENOENT when the table has none for key. */
int spw_dp_flow_get(struct spw_dataplane *dp, const struct spw_flow_key *key, struct spw_flow *f);
/* Overwrites an existing entry (tests give a flow a known age); -ENOENT when there is none. */
int spw_dp_flow_replace(struct spw_dataplane *dp, const struct spw_flow_key *key,
			const struct spw_flow *f);
/*
 * Every flow, read-only (an update during a key walk can loop it); fn returning non-zero stops
 * the walk and is returned. An entry removed while walking is passed over.
 */
typedef int (*spw_dp_flow_fn)(const struct spw_flow_key *key, const struct spw_flow *f, void *ctx);
int spw_dp_flows_foreach(struct spw_dataplane *dp, spw_dp_flow_fn fn, void *ctx);
/*
 * Writes n flow entries in batches (new or existing); the active counts are not touched, and
 * SYN_SEEN ones are marked in the recently-admitted filter as the data plane marks them. For
 * benchmarks that need a full table without traffic.
 */
int spw_dp_flows_write(struct spw_dataplane *dp, const struct spw_flow_key *keys,
		       const struct spw_flow *vals, uint32_t n);
/*
 * Inserts n new flows as the data plane would have made them: written, each counted active,
 * and in flight when its req_us is set.
 */
int spw_dp_flows_insert(struct spw_dataplane *dp, const struct spw_flow_key *keys,
			const struct spw_flow *vals, uint32_t n);
/* Writes one latency slot's per-CPU values (spw_dp_ncpus() of them): tests of the reader. */
int spw_dp_latency_write(struct spw_dataplane *dp, uint32_t idx, const uint64_t *per_cpu);
/* Possible CPUs: per-CPU values come in this many. */
int spw_dp_ncpus(const struct spw_dataplane *dp);

/* Idle timeouts of the sweep, by flow state; each at most SPW_FLOW_TIMEOUT_MAX_US. */
struct spw_sweep_opts {
	uint64_t syn_timeout_ns;  /* SYN admitted, never answered */
	uint64_t idle_timeout_ns; /* established TCP without data either way */
	uint64_t udp_timeout_ns;  /* UDP flow without a packet from the client */
};
struct spw_sweep_stats {
	uint64_t scanned;
	uint64_t expired; /* removed by this sweep, their active counts given back */
};
/*
 * Removes flows idle past their timeout and gives back their places in the active counts.
 * The daemon calls it every tick; also safe beside the data plane (a flow the data plane ends
 * at the same moment is counted down once, by whichever delete removed it).
 */
int spw_dp_flows_sweep(struct spw_dataplane *dp, const struct spw_sweep_opts *o,
		       struct spw_sweep_stats *st);
/* Removes every flow (detach, tests), giving back their active counts. */
int spw_dp_flows_clear(struct spw_dataplane *dp);

/*
 * Flood guard: at most rate new flow entries per second per CPU (burst deep, 0: one second's
 * worth); beyond it new flows are admitted untracked and counted as flood_guard. 0 turns it off.
 */
int spw_dp_flood_guard_set(struct spw_dataplane *dp, uint32_t rate, uint32_t burst);
/*
 * ICMP rejects: at most rate per second per CPU (burst deep, 0: one second's worth, at most
 * SPW_ICMP_BURST_MAX); past it a shed datagram is dropped unanswered, counted reject_limited.
 * 0 turns the limit off.
 */
int spw_dp_reject_limit_set(struct spw_dataplane *dp, uint32_t rate, uint32_t burst);
/* The IPv6 prefix (48, 56 or 64) a source's cohort and host slot are hashed from. */
int spw_dp_cohort_prefix_set(struct spw_dataplane *dp, uint32_t v6_prefix);

/* App reports of pools and queues (pinned, so the CLI and sidecars see them too). */
int spw_dp_report_set(struct spw_dataplane *dp, const struct spw_report_key *key,
		      const struct spw_report *val);
/* -ENOENT when nothing was reported under that (kind, name). */
int spw_dp_report_get(struct spw_dataplane *dp, const struct spw_report_key *key,
		      struct spw_report *val);
/* Removes one report (it expired); -ENOENT when there is none. */
int spw_dp_report_del(struct spw_dataplane *dp, const struct spw_report_key *key);
/* Every report; fn returning non-zero stops the walk and is returned. */
typedef int (*spw_dp_report_fn)(const struct spw_report_key *key, const struct spw_report *val,
				void *ctx);
int spw_dp_reports_foreach(struct spw_dataplane *dp, spw_dp_report_fn fn, void *ctx);

/* Manual level overrides (`spillway policy set`); the daemon enforces them until expiry. */
int spw_dp_override_set(struct spw_dataplane *dp, uint32_t svc_id, const struct spw_override *o);
int spw_dp_override_get(struct spw_dataplane *dp, uint32_t svc_id, struct spw_override *o);
int spw_dp_override_del(struct spw_dataplane *dp, uint32_t svc_id);
/* Whether any override is stored, expired ones included (one syscall, not one per service). */
bool spw_dp_overrides_any(struct spw_dataplane *dp);

/*
 * Routes libbpf's messages into this logger one level lower: libbpf's warnings are often
 * expected (probing features, an absent pinned map that is then created), so they show as info;
 * its info shows as debug, and its debug (verifier logs) only at SPW_LOG_VERBOSE.
 */
void spw_log_install_libbpf(void);

/* A map as the kernel holds it, and the memory it charges for it: the benchmark's input. */
struct spw_dp_map_mem {
	uint32_t type; /* enum bpf_map_type */
	uint32_t map_flags, key_size, value_size, max_entries;
	uint64_t memlock; /* bytes: the "memlock:" line of the map's fdinfo, as bpftool shows */
	char fdinfo[64];  /* where memlock came from */
};
/* The map of SPW_MAPS called name (SPW_MAP_NAME(flows)); -ENOENT when there is none. */
int spw_dp_map_mem(struct spw_dataplane *dp, const char *name, struct spw_dp_map_mem *m);
/* The memlock of a scratch map laid out like `like` with n entries, created and closed again. */
int spw_dp_scratch_memlock(const struct spw_dp_map_mem *like, uint32_t n, uint64_t *memlock);

#endif /* SPW_DATAPLANE_H */
