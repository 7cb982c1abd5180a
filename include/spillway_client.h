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
 * 3. Pause a consumer (spw_client_consumer_*) and 4. tell a refused client whether to retry
 *    (spw_client_retry_hint), both below.
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

/*
 * 3. Consumers that pause. A job or stream consumer asks, before it pulls more work, whether
 *    its downstream can take it: spw_client_consumer_poll() reads the shed state of the
 *    downstream's service for the tier the consumer's requests have there (and, when the
 *    consumer knows one, a pool's fill) and answers pause or run, and how many jobs to keep in
 *    flight. The decision has hysteresis, so a share that wobbles around a threshold does not
 *    make the consumer flap:
 *
 *    - running, it pauses when the tier's admitted share falls below pause_below_permille or
 *      the pool's fill rises above pool_pause;
 *    - paused, it resumes only after every reading has been clear (share >= resume_permille,
 *      fill <= pool_resume) for hold_ms plus a jitter drawn uniformly in [0, jitter_ms] once
 *      per clear spell, so many consumers paused by the same shed do not resume at once; any
 *      reading that is not clear starts the spell again;
 *    - running, the concurrency hint is max_inflight scaled by the admitted share, never
 *      below 1; paused, it is 0.
 *
 *    It fails open like the rest of the library: no fresh word from the daemon (stale), a
 *    service or tier it does not know, or a dry-run service count as fully admitted, so a
 *    consumer runs without spillway (after its hold, when it was paused).
 *
 *    spw_client_consumer_step() is the same decision from readings the caller gives and a
 *    clock the caller reads: pure, no file, no clock, for tests and for consumers that get
 *    the state some other way. One struct spw_consumer per consumer loop: not thread-safe.
 */
struct spw_consumer_config {
	unsigned int tier;	       /* the consumer's requests' tier at the downstream */
	uint16_t pause_below_permille; /* 1..1000: pause when the admitted share is below */
	uint16_t resume_permille;      /* pause_below..1000: a share at or above is clear */
	uint16_t pool_pause_permille;  /* 1..1000: pause when the pool's fill is above */
	uint16_t pool_resume_permille; /* ..pool_pause: a fill at or below is clear */
	uint32_t hold_ms;	       /* clear this long before resuming */
	uint32_t jitter_ms;	       /* plus a draw in [0, jitter_ms] */
	unsigned int max_inflight;     /* >= 1: jobs in flight when fully admitted */
};

/* What spw_client_consumer_defaults() fills in; the Python and Go clients use the same. */
#define SPW_CONSUMER_PAUSE_BELOW_PERMILLE 500
#define SPW_CONSUMER_RESUME_PERMILLE	  750
#define SPW_CONSUMER_POOL_PAUSE_PERMILLE  900
#define SPW_CONSUMER_POOL_RESUME_PERMILLE 750
#define SPW_CONSUMER_HOLD_MS		  2000
#define SPW_CONSUMER_JITTER_MS		  1000
#define SPW_CONSUMER_MAX_INFLIGHT	  8
/* hold_ms + jitter_ms are at most this (an hour): beyond, a typo rather than a choice. */
#define SPW_CONSUMER_WAIT_MAX_MS 3600000U

/* The consumer's own state; fill it with spw_client_consumer_init(), then leave it alone. */
struct spw_consumer {
	struct spw_consumer_config cfg;
	bool paused;
	bool clearing; /* paused, and every reading since clear_since_ns was clear */
	uint64_t clear_since_ns;
	uint64_t resume_at_ns; /* clearing: when the consumer resumes */
	uint64_t last_ns;      /* the clock of the last reading */
	uint64_t rng;
	uint64_t pauses, resumes; /* transitions so far, for the consumer's metrics */
};

/* What a pool reports (spw_client_report_pool's in_use and capacity). */
struct spw_consumer_pool {
	uint64_t in_use;
	uint64_t capacity; /* > 0 */
};

/* One reading, for spw_client_consumer_step(). */
struct spw_consumer_input {
	bool stale;		    /* no fresh word from the daemon: counts as fully admitted */
	uint16_t admitted_permille; /* the tier's admitted share, 0..1000 */
	const struct spw_consumer_pool *pool; /* NULL: no pool */
};

enum spw_consumer_why {
	SPW_CONSUMER_RUN,	/* running: nothing over its threshold */
	SPW_CONSUMER_FAIL_OPEN, /* running or resuming because the daemon's word is missing */
	SPW_CONSUMER_SHED,	/* paused: the tier's share is (or was, not yet clear) too low */
	SPW_CONSUMER_POOL,	/* paused: the pool is (or was, not yet clear) too full */
	SPW_CONSUMER_HOLD,	/* paused: clear, waiting out hold and jitter until resume_at_ns */
};

struct spw_consumer_decision {
	bool paused;
	unsigned int concurrency;   /* 0 while paused; 1..max_inflight while running */
	uint16_t admitted_permille; /* the share the hint was scaled by (1000 failing open) */
	enum spw_consumer_why why;
	uint64_t resume_at_ns; /* SPW_CONSUMER_HOLD: when it resumes; 0 otherwise */
};

/* Fills cfg with the SPW_CONSUMER_* defaults, tier 0. */
void spw_client_consumer_defaults(struct spw_consumer_config *cfg);
/* Starts running; seed picks the jitter sequence (any value). 0, or -EINVAL for a bad cfg. */
int spw_client_consumer_init(struct spw_consumer *k, const struct spw_consumer_config *cfg,
			     uint64_t seed);
/*
 * One decision from in at now_ns (any monotonic clock in ns, never going back). 0, or -EINVAL
 * for a bad reading (a share above 1000, a pool of capacity 0, a clock that went back): then
 * k is untouched and out is the decision k stood at.
 */
int spw_client_consumer_step(struct spw_consumer *k, const struct spw_consumer_input *in,
			     uint64_t now_ns, struct spw_consumer_decision *out);
/*
 * The decision from the daemon's state of service (k's tier) and pool (NULL: none), now.
 * Returns what spw_client_shed_state() returned (0, -ESTALE, -ENOENT, -ERANGE: the decision
 * fails open for all but 0), or -EINVAL for a bad argument or pool (k untouched).
 */
int spw_client_consumer_poll(struct spw_client *c, struct spw_consumer *k, const char *service,
			     const struct spw_consumer_pool *pool,
			     struct spw_consumer_decision *out);

/*
 * 4. Retry hints. A server that refuses a request tells the client whether to come back:
 *
 *    - A request marked as a retry (HTTP `Retry-Attempt: N` with N >= 1, gRPC
 *      `grpc-previous-rpc-attempts`) is refused while its tier is partly admitted; a first try
 *      is let through with the share the data plane admits (admitted_permille). Retries are
 *      shed first: they are the load a refusal creates, and the ones a client gives up on.
 *    - A tier admitted at 0 refuses everything; a tier fully admitted (or stale, dry-run,
 *      unknown) refuses nothing.
 *    - Refused, the client is told not to retry at all when even the earliest hinted retry
 *      (the daemon's retry_lo_s) comes after its deadline: retrying could not succeed in time,
 *      and would only add load. Otherwise it gets the jittered Retry-After of st.
 */
struct spw_retry_hint {
	bool refuse;
	bool dont_retry;	/* refused, and no retry fits in the client's deadline */
	uint32_t retry_after_s; /* refused and worth retrying: Retry-After, >= 1; else 0 */
};

/*
 * st: spw_client_shed_state() of the request's tier. attempt: 0 for a first try, N for the
 * Nth retry. deadline_ms: what the client has left (0: it gave none). 0, or -EINVAL for NULL
 * or an admitted share above 1000 (out then admits: fail open).
 */
int spw_client_retry_hint(const struct spw_shed_state *st, unsigned int attempt,
			  uint64_t deadline_ms, struct spw_retry_hint *out);

#ifdef __cplusplus
}
#endif

#endif /* SPILLWAY_CLIENT_H */
