/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The shed-state file spillwayd publishes every tick (STATE_DIR/state, world-readable), read by
 * apps through libspillway-client and by `spillway status`. Readers mmap it and read under a
 * seqlock: no syscall and no lock per check, never a torn read.
 *
 * Seqlock protocol: the writer makes seq odd (release), writes, makes it even (release).
 * A reader loads seq (acquire); if odd, retries; copies what it needs; issues an acquire
 * fence; loads seq again; if it changed, retries.
 *
 * Fixed-width integers only: values are in thousandths (milli) where a fraction is needed.
 */
#ifndef SPILLWAY_STATE_H
#define SPILLWAY_STATE_H

#include <linux/types.h>
#include "spillway_abi.h"

#define SPW_STATE_MAGIC	   0x53575053U /* "SPWS" little-endian */
#define SPW_STATE_VERSION  1
#define SPW_STATE_FILE	   "state"
#define SPW_STATE_NAME_MAX 32
#define SPW_STATE_SIGNALS  8
#define SPW_STATE_SERVICES (SPW_MAX_SERVICES - 1)

/* Pressure and values are in thousandths; this marks "no value" (no fresh signal). */
#define SPW_STATE_NO_VALUE (-1LL)

enum spw_state_service_flags {
	SPW_STATE_SHEDDING = 1 << 0,   /* some tier is not fully admitted */
	SPW_STATE_OVERRIDDEN = 1 << 1, /* a manual override sets the level */
	SPW_STATE_DRY_RUN = 1 << 2,    /* decisions counted, nothing shed */
};

struct spw_state_signal {
	char kind[16];			 /* "pool", "accept_queue", ... (spw_signal_kind_name) */
	char source[SPW_STATE_NAME_MAX]; /* pool or queue name; empty otherwise */
	__s64 value_milli;		 /* SPW_STATE_NO_VALUE when never measured */
	__s64 target_milli;
	__u8 stale;
	__u8 pad[7];
};

struct spw_state_service {
	char name[SPW_STATE_NAME_MAX];
	__u32 id;
	__u16 level; /* admit level enforced now */
	__u16 floor;
	__u16 ceiling; /* tier_count * SPW_COHORTS: full admission */
	__u8 tier_count;
	__u8 flags;				/* enum spw_state_service_flags */
	__s64 pressure_milli;			/* SPW_STATE_NO_VALUE when no signal is fresh */
	__u32 retry_after_lo_s;			/* Retry-After range for refused clients; 0 when */
	__u32 retry_after_hi_s;			/*   nothing is shed */
	__u16 admitted_permille[SPW_MAX_TIERS]; /* share of each tier's cohorts admitted */
	__u64 lease_expires_ns;			/* CLOCK_MONOTONIC */
	__u32 nsignals;
	/* Bit t: tier t's new flows sit in few cohorts (few client hosts), so the law weighs its
	 * ranks by their own counts. Was padding: older daemons leave it 0, "not skewed". */
	__u8 skewed_tiers;
	__u8 pad[3];
	struct spw_state_signal signals[SPW_STATE_SIGNALS];
};

/* An interface spillway is attached to, as configured. */
struct spw_state_iface {
	char name[16]; /* IFNAMSIZ */
	__u8 mode;     /* 0 xdp, 1 xdp-generic, 2 tc (enum spw_attach_mode) */
	__u8 pad[3];
	__u32 ifindex; /* in the daemon's network namespace (netns_ino); 0: it did not exist */
};

#define SPW_STATE_IFACES 16

struct spw_state_file {
	__u32 magic;
	__u32 version;
	__u32 seq; /* seqlock, see above */
	__u32 nservices;
	__u64 updated_ns; /* CLOCK_MONOTONIC of the last publish */
	__u32 daemon_pid;
	__u32 tick_ms;
	__u32 ntiers;
	__u16
	    metrics_port; /* the exporter's TCP port, 0 when off (metrics.listen's :0 picks one) */
	__u16 pad;
	char tiers[SPW_MAX_TIERS][SPW_STATE_NAME_MAX];
	__u32 nifaces;
	/* The daemon's network namespace: the inode of its /proc/self/ns/net (nsfs inodes are
	 * 32-bit). Interface names and ifindexes mean something only there. 0: unknown. */
	__u32 netns_ino;
	struct spw_state_iface ifaces[SPW_STATE_IFACES];
	struct spw_state_service services[SPW_STATE_SERVICES];
};

#endif /* SPILLWAY_STATE_H */
