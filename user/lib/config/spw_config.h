/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * spillway's configuration: one YAML file (libyaml), parsed and validated completely before
 * anything is applied, so a bad file never replaces a good one. Errors read
 * "FILE:LINE:COLUMN: what is wrong". Pure: no BPF calls.
 */
#ifndef SPW_CONFIG_H
#define SPW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "spillway_abi.h"
#include "spw_cidr.h"
#include "spw_types.h"
#include "spw_signal.h"

#define SPW_MAX_IFACES 16
#define SPW_ERR_MAX    512
/*
 * Exempt prefixes the file may list, and host addresses the daemon adds to them: together at
 * most half of spw_exempt (SPW_MAX_EXEMPT), so a reload, which adds the new set before it
 * removes what the old one had, always fits in the map.
 */
#define SPW_EXEMPT_CONFIG_MAX (SPW_MAX_EXEMPT / 4)
#define SPW_EXEMPT_HOST_MAX   (SPW_MAX_EXEMPT / 4)

struct spw_config_iface {
	char name[IF_NAMESIZE];
	enum spw_attach_mode mode; /* xdp | xdp-generic | tc */
};

struct spw_config_rule {
	struct spw_cidr cidr;
	uint8_t tier;
	uint32_t line; /* where it was written: `spillway explain` names the rule */
};

/*
 * A queue of half what the service holds at its capacity in front of tier 0, at most, from
 * the tiers below it: half a service time of wait (25 ms for 50 ms requests), within the
 * 2x-idle p99 a protected tier 0 is promised, and past the aim (0.97 of it) by more than a
 * Poisson count's 2 sigma for a pool of 20 (19.3 +- 8.8), so a service at its aim is
 * rarely refused by it.
 */
#define SPW_CONFIG_IN_FLIGHT_GUARD 1.5

struct spw_config_service {
	char name[SPW_NAME_MAX];
	uint32_t id; /* the data plane's service id: 1.. (see spw_config_assign_ids) */
	struct spw_service_match match;
	uint8_t default_tier;
	uint8_t action[SPW_MAX_TIERS]; /* enum spw_action; default drop */
	bool protect_tier0;	       /* default true: the level never goes below tier 0's top */
	bool dry_run;
	uint32_t max_conns[SPW_MAX_TIERS];    /* 0 = no cap */
	uint32_t rate_per_sec[SPW_MAX_TIERS]; /* 0 = no limit */
	uint32_t burst[SPW_MAX_TIERS];
	/* DSCP written at TC egress on the service's packets per tier: SPW_MARK_SET | dscp,
	 * 0 = not marked (the policy's mark_egress as is). */
	uint8_t mark_egress[SPW_MAX_TIERS];
	/*
	 * Connection reservation: the service holds connection_limit connections (or as many
	 * as the pool named by connection_pool reports as its capacity), and reserve[t] of them
	 * are kept for tiers 0..t against the tiers below t. 0 / empty: no reservation.
	 */
	uint32_t connection_limit;
	char connection_pool[SPW_NAME_MAX];
	uint32_t reserve[SPW_MAX_TIERS];
	/*
	 * Bound on the requests in flight under which tier 1 is admitted, as a multiple of what
	 * the service holds at its capacity (the in_flight signal's target; spw_reserve.h):
	 * default SPW_CONFIG_IN_FLIGHT_GUARD, 0 = off.
	 */
	double in_flight_guard;
	struct spw_signal signals[SPW_MAX_SIGNALS];
	int nsignals;
};

/* Local cgroups one downstream may give a tier of their own (a downstream's cgroups:). */
#define SPW_DS_CGROUPS_MAX 16
/* A cgroup v2 path below the hierarchy's root, "/" first: room for systemd's slice names. */
#define SPW_CGROUP_PATH_MAX 256

struct spw_config_out_cgroup {
	char path[SPW_CGROUP_PATH_MAX]; /* below the cgroup v2 root, e.g. /system.slice/x.service */
	uint8_t tier;
};

/*
 * A destination this host connects to (downstreams:): its new connections pass the
 * client-side throttle, and their packets may be marked with their tier's DSCP.
 */
struct spw_config_downstream {
	char name[SPW_NAME_MAX];
	uint32_t id;	      /* the data plane's downstream id: 1.. in file order */
	struct spw_cidr dest; /* the destination address or prefix */
	uint16_t port;	      /* 0 = any port */
	uint8_t default_tier; /* tier of a SYN without a mapped DSCP; default the last tier */
	uint32_t k_centi;     /* K in hundredths, default 200 */
	uint32_t bucket_ms;   /* the window, window_s x 1000, default 1000; 0: throttle: false */
	/* DSCP written on the connections' packets per tier: SPW_MARK_SET | dscp, 0 = none. */
	uint8_t mark_egress[SPW_MAX_TIERS];
	struct spw_config_out_cgroup cgroups[SPW_DS_CGROUPS_MAX]; /* tier by local cgroup */
	int ncgroups;
};

/*
 * A downstream's dest: "ADDR[:PORT]", "CIDR", IPv6 with a port as "[ADDR]:PORT". Returns 0 or
 * -EINVAL with a plain-words reason in why.
 */
int spw_downstream_dest_parse(const char *text, struct spw_cidr *cidr, uint16_t *port, char *why,
			      size_t whylen);

struct spw_config_controller {
	uint64_t tick_ns;	     /* default 100ms */
	uint64_t lease_ns;	     /* default 3s; longer than several ticks */
	double hysteresis;	     /* default 0.1 */
	uint64_t cohort_rotation_ns; /* default 10s */
	uint64_t stale_after_ns;     /* default 2s */
	uint64_t sweep_every_ns;     /* default 5s: a sweep reads the whole flow table */
	uint64_t syn_timeout_ns;     /* default 30s */
	uint64_t idle_timeout_ns;    /* default 600s */
	uint64_t udp_timeout_ns;     /* default 60s */
};

struct spw_config {
	char path[4096];
	struct spw_config_iface ifaces[SPW_MAX_IFACES];
	int nifaces;
	char tiers[SPW_MAX_TIERS][SPW_NAME_MAX]; /* default: critical, standard, sheddable */
	int ntiers;
	struct spw_config_rule *rules;
	int nrules;
	struct spw_cidr *trusted; /* dscp.trusted_sources */
	int ntrusted;
	uint8_t dscp_tier[SPW_DSCP_VALUES]; /* SPW_DSCP_UNMAPPED when not mapped */
	struct spw_cidr *exempt;	    /* exempt: sources no level, cap or rate refuses */
	int nexempt;
	bool exempt_host_addresses; /* default true: the host's own addresses are exempt too */
	struct spw_config_service services[SPW_MAX_SERVICES - 1];
	int nservices;
	struct spw_config_downstream downstreams[SPW_MAX_DOWNSTREAMS - 1];
	int ndownstreams;
	struct spw_config_controller controller;
	uint32_t flow_capacity;	     /* flows: {capacity: N}, default SPW_FLOWS_DEFAULT */
	uint32_t flood_insert_rate;  /* flows: {insert_rate: 20000/s} per CPU; 0 = off */
	double flow_service_share;   /* flows: {service_share: 0.5}: of the table, per service */
	uint32_t ipv6_cohort_prefix; /* flows: {ipv6_cohort_prefix: 64}: 48, 56 or 64 */
	uint32_t icmp_rate;	     /* reject: {icmp_rate: 1000/s} per CPU; 0 = off */
	uint32_t icmp_burst;	     /* reject: {icmp_burst: 50} */
	char metrics_listen[64];     /* "127.0.0.1:9478" */
	char report_socket[108];     /* sun_path: /run/spillway/report.sock */
	char report_group[64];	     /* empty: root's group */
	char state_dir[256];	     /* /run/spillway: shed-state file, control socket */
	/* How the XDP modes attach: spillway's own link (default) or libxdp's dispatcher,
	 * where xdp_priority orders the programs (lower runs first). */
	enum spw_xdp_dispatcher xdp_dispatcher;
	uint32_t xdp_priority; /* default SPW_XDP_PRIORITY_DEFAULT */
};

/*
 * Parses and validates path. On success *out is a new config (spw_config_free). On failure
 * returns -EINVAL (or -errno for I/O) and err holds "path:line:column: message".
 */
int spw_config_load(const char *path, struct spw_config **out, char *err, size_t errlen);
/* The same from a string (tests); name is used in messages as the file name. */
int spw_config_parse(const char *name, const char *text, size_t len, struct spw_config **out,
		     char *err, size_t errlen);
void spw_config_free(struct spw_config *c);

/*
 * Advice on a loaded config: valid settings that do not do what they seem to (a fill target
 * above 1 / (1 + hysteresis)). Calls say once per piece of advice, a line "path: service
 * NAME: ..." without a newline; returns how many there were.
 */
typedef void (*spw_advice_fn)(void *ctx, const char *advice);
int spw_config_advise(const struct spw_config *c, spw_advice_fn say, void *ctx);

/*
 * Gives every service its data-plane id by name: held[id] names the service that held id
 * before (the pinned records of a previous daemon, or the running config; "" when free, index
 * 0 unused), and a service named there gets that id back, whatever its place in the file. The
 * others take the lowest ids nobody holds, then the lowest ids of services no longer listed.
 * Without it ids follow the file's order, so reordering services and restarting would move
 * counters, caps and active counts to another service.
 */
void spw_config_assign_ids(struct spw_config *c, const char (*held)[SPW_NAME_MAX]);

/*
 * What a reload from `from` to `to` would change: calls fn once per change with a line like
 * "service api: port tcp/8080 -> tcp/8081" or "rule 10.0.0.0/8: tier standard -> critical"
 * (services by name, rules by prefix, interfaces by name; past 50 rule lines, a count).
 * Settings only a restart changes say so. Returns how many lines, -1 without memory.
 */
typedef void (*spw_diff_fn)(void *ctx, const char *line);
int spw_config_diff(const struct spw_config *from, const struct spw_config *to, spw_diff_fn fn,
		    void *ctx);

/* Tier index of a configured tier name, -1 when unknown. */
int spw_config_tier(const struct spw_config *c, const char *name);

#endif /* SPW_CONFIG_H */
