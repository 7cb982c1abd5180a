/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Prometheus exporter's formatter (pure: no BPF calls, unit-tested from a hand-built
 * snapshot). spillwayd fills a snapshot in its tick, where the map reads already happen, and
 * the HTTP thread formats a copy of it: a scrape never reads a map and never holds the lock
 * the tick takes for longer than a memcpy.
 */
#ifndef SPW_METRICS_H
#define SPW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spillway_abi.h"
#include "spw_types.h"
#include "spw_signal.h"

/* spillway_controller_tick_duration_seconds upper bounds: 100 us .. 100 ms (goal: 1 ms). */
#define SPW_METRICS_TICK_BUCKETS 10
extern const double spw_metrics_tick_le[SPW_METRICS_TICK_BUCKETS];

/* Longest version string of spillway_build_info. */
#define SPW_METRICS_VERSION_MAX 32

struct spw_metrics_signal {
	char kind[SPW_SIGNAL_KIND_NAME_MAX]; /* spw_signal_kind_name() */
	char source[SPW_NAME_MAX];	     /* pool or queue name; "" for kernel-measured kinds */
	double value;			     /* NAN when never measured */
	double target;
	bool stale;
};

/* One (service, tier slot) row. */
struct spw_metrics_tier {
	struct spw_count counters[SPW_REASON_COUNT];
	uint64_t active;
	uint64_t inflight; /* requests awaiting their response */
	/* 1 when the law found the tier's new flows in few cohorts (few client hosts: a proxy,
	 * a NAT, a front tier) and cuts it by its counted per-rank demand; 0: spread evenly. */
	uint64_t skewed;
	struct spw_latency_hist lat;
	/* Per-second rates over the last second or so, for /v1/state (not exported). */
	double admitted_ps, shed_ps, would_shed_ps, fail_open_ps;
};

struct spw_metrics_service {
	char name[SPW_NAME_MAX];
	uint32_t id;
	uint32_t level, floor, ceiling;
	uint32_t partial;	  /* of SPW_PARTIAL_ONE: the share of the rank at the level */
	double capacity;	  /* new flows/s the law estimates the service carries; NAN: none */
	uint64_t conn_limit;	  /* connection limit of the reservation; 0: none */
	uint64_t conns;		  /* active connections of the service, all tiers */
	double oldest_request_ms; /* age of its oldest outstanding request; 0: none; NAN: unread */
	bool dry_run, overridden;
	double pressure; /* NAN when no signal is fresh */
	uint32_t retry_lo_s, retry_hi_s;
	uint64_t lease_expires_ns; /* CLOCK_MONOTONIC; 0 = no policy written */
	int nsignals;
	struct spw_metrics_signal signals[SPW_MAX_SIGNALS];
	/* Slots 0..ntiers-1, and SPW_TIER_NONE for packets never classified. */
	struct spw_metrics_tier tiers[SPW_TIER_SLOTS];
};

/* A pool or queue as the app reported it (spw_reports). */
struct spw_metrics_report {
	uint8_t kind; /* enum spw_report_kind */
	char name[SPW_REPORT_NAME_MAX + 1];
	struct spw_report r;
};

struct spw_metrics_snapshot {
	uint64_t now_ns; /* CLOCK_MONOTONIC at format time: lease remaining is relative to it */
	char version[SPW_METRICS_VERSION_MAX];
	int ntiers;
	char tiers[SPW_MAX_TIERS][SPW_NAME_MAX];
	/* Controller. */
	uint64_t ticks;
	uint64_t reports_ok, reports_bad;
	uint64_t tick_buckets[SPW_METRICS_TICK_BUCKETS]; /* per bucket, not cumulative */
	uint64_t tick_count;				 /* includes those above the last le */
	double tick_sum_s;
	double last_tick_unix_s; /* 0: no tick yet (not exported) */
	uint64_t tick_ns;	 /* configured tick, for /v1/state */
	uint64_t last_tick_ns;	 /* CLOCK_MONOTONIC of the last tick */
	/* Flow table: entries = sum of the active counts (exact, no table walk). */
	uint64_t flow_entries;
	uint32_t flow_capacity; /* 0: unknown (not exported) */
	/* The daemon and the interfaces it attached (pid, name and mode: /v1/state only). */
	uint32_t pid;
	int nifaces;
	struct {
		char name[16];	    /* IFNAMSIZ */
		int mode;	    /* enum spw_attach_mode */
		bool tx_counted;    /* XDP modes with the kernel's BTF: tx_failed is counted */
		uint64_t tx_failed; /* XDP_TX frames the interface failed to send (rejects) */
	} ifaces[16];
	/* Client-side throttling: per configured downstream, per tier (exported when counted). */
	int ndownstreams;
	struct {
		char name[SPW_NAME_MAX];
		uint64_t requests[SPW_MAX_TIERS];  /* SYNs to it, the throttled included */
		uint64_t accepts[SPW_MAX_TIERS];   /* SYN-ACKs from it */
		uint64_t throttled[SPW_MAX_TIERS]; /* SYNs refused locally */
		uint64_t marked[SPW_MAX_TIERS];	   /* packets to it given their tier's DSCP */
	} downstreams[SPW_MAX_DOWNSTREAMS - 1];
	/* Service id 0: traffic that is not a configured service (only non-zero rows are shown). */
	struct spw_metrics_tier none[SPW_TIER_SLOTS];
	int nreports;
	struct spw_metrics_report reports[SPW_MAX_REPORTS];
	int nservices;
	/* Last, so copies can stop after svcs[nservices - 1] (spw_metrics_snapshot_size). */
	struct spw_metrics_service svcs[SPW_MAX_SERVICES - 1];
};

/* Bytes of s that matter: everything up to its last service. */
size_t spw_metrics_snapshot_size(const struct spw_metrics_snapshot *s);

/* Adds one tick duration to the histogram fields of s. */
void spw_metrics_tick_observe(struct spw_metrics_snapshot *s, double seconds);

/*
 * Formats s in the Prometheus text format (version 0.0.4) into a malloc'ed, NUL-terminated
 * buffer (*out, length *len). 0 or -ENOMEM.
 */
int spw_metrics_format(const struct spw_metrics_snapshot *s, char **out, size_t *len);

#endif /* SPW_METRICS_H */
