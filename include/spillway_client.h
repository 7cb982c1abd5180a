/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libspillway-client: what an application needs from spillway, with nothing but libc.
 *
 * 1. Report saturation: spw_client_report_pool() / spw_client_report_queue() send one report
 *    line (README, "report protocol") to the daemon's unix datagram socket. They never block
 *    and never raise SIGPIPE: when the daemon is down or behind, the report is dropped and the
 *    call says why at once (-ENOENT no socket, -ECONNREFUSED nobody bound, -EAGAIN queue full,
 *    -EACCES not allowed to write it).
 *
 * 2. Hear back: spw_client_shed_state() says whether new work of a tier should be refused
 *    now, with a Retry-After, read from the shed-state file the daemon publishes every tick
 *    (STATE_DIR/state, include/spillway_state.h) through mmap and a seqlock: no syscall and no
 *    lock per check, never a torn read, safe from any number of threads.
 *
 * Everything fails open: a daemon that is down, stale (nothing published for more than
 * SPW_CLIENT_STALE_TICKS ticks, or its data-plane lease has run out), a service the daemon
 * does not know, a tier it does not have, or a dry-run service: nothing is shed. The data
 * plane behaves the same way when its lease runs out.
 */
#ifndef SPILLWAY_CLIENT_H
#define SPILLWAY_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include "spillway_names.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPW_CLIENT_STATE_DIR	 SPW_STATE_DIR
#define SPW_CLIENT_REPORT_SOCKET SPW_REPORT_SOCKET
/* The daemon is stale after this many of its ticks without a publish. */
#define SPW_CLIENT_STALE_TICKS 3

struct spw_client;

/*
 * state_dir: where the daemon publishes its shed state (NULL: SPW_CLIENT_STATE_DIR);
 * report_socket: its report socket (NULL: SPW_CLIENT_REPORT_SOCKET). Succeeds when the daemon
 * is not running yet: the state file is looked for again later (at most once a second).
 * NULL with errno set on failure (ENOMEM, ENAMETOOLONG, EMFILE).
 */
struct spw_client *spw_client_open(const char *state_dir, const char *report_socket);
/* No other call on c may run or start once this is called. */
void spw_client_close(struct spw_client *c);

/*
 * One report each; names are what the daemon's config names: up to 31 of letters, digits,
 * '_', '.' and '-'. 0, -EINVAL for a bad name, or the send's -errno (see above). wait_ms and
 * waiting (pool), limit and age_ms (queue) are left out of the line when negative.
 */
int spw_client_report_pool(struct spw_client *c, const char *name, uint64_t in_use,
			   uint64_t capacity, int64_t waiting, int64_t wait_ms);
int spw_client_report_queue(struct spw_client *c, const char *name, uint64_t depth, int64_t limit,
			    int64_t age_ms);

struct spw_shed_state {
	/*
	 * New work of this tier should be refused now: the data plane does not admit every
	 * cohort of the tier (admitted_permille < 1000), the service is not in dry-run, and the
	 * state is fresh. Refusing the whole partly admitted tier on keep-alive connections is
	 * the conservative choice; an app that prefers to refuse only the share the data plane
	 * refuses draws against admitted_permille itself.
	 */
	bool shed;
	bool stale;		    /* the daemon is not publishing: shed is false (fail open) */
	bool dry_run;		    /* the service is in dry-run: shed is false */
	bool overridden;	    /* a manual override (spillway policy) sets the level */
	uint16_t admitted_permille; /* share of the tier's new flows admitted, 0..1000 */
	uint32_t retry_after_s;	    /* what to send in Retry-After: drawn in [lo, hi] per call,
				     * at least 1 when shed, 0 when not */
	uint32_t retry_lo_s, retry_hi_s; /* the daemon's range */
	double pressure; /* the service's pressure (1.0 = at target); NAN: no fresh signal */
};

/*
 * The state of tier (0 = most critical) of service for new work. Always fills out with a safe
 * answer. Returns 0 when out is the daemon's fresh word, -ESTALE when the daemon is not
 * publishing (no file, old file, expired lease), -ENOENT when the service is not in the
 * state, -ERANGE when the service has no such tier.
 */
int spw_client_shed_state(struct spw_client *c, const char *service, unsigned int tier,
			  struct spw_shed_state *out);

/* A service's overall state, for workers that size their concurrency and queue consumers. */
struct spw_service_state {
	double pressure;	    /* max value/target of its fresh signals; NAN: none fresh */
	bool shedding;		    /* some tier is not fully admitted (and not dry-run) */
	bool stale;		    /* as above: then shedding is false */
	uint16_t admitted_permille; /* share of all ranks admitted, 0..1000 (1000 when stale) */
};

/* Same returns as spw_client_shed_state(). */
int spw_client_service_state(struct spw_client *c, const char *service,
			     struct spw_service_state *out);

#ifdef __cplusplus
}
#endif

#endif /* SPILLWAY_CLIENT_H */
