/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Saturation signals and pressure (pure, no BPF calls).
 *
 * A service names the signals that stand for its saturation, each with a target. Pressure is
 * the largest value/target over the fresh ones. A signal not refreshed within stale_after is
 * ignored and flagged: never read as 0 (which would admit everything into an overload) nor as
 * full (which would shed on a reporting hiccup).
 */
#ifndef SPW_SIGNAL_H
#define SPW_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names of pools, queues and services: what a report line or the config may use. */
#define SPW_NAME_MAX 32
/* Signals one service may name. */
#define SPW_MAX_SIGNALS 8

enum spw_signal_kind {
	SPW_SIG_POOL,	   /* pool NAME: (in_use + waiting) / capacity, target a fraction (0.85) */
	SPW_SIG_POOL_WAIT, /* pool NAME: wait_ms, target in ms (50) */
	SPW_SIG_QUEUE,	   /* queue NAME: depth / limit, target a fraction */
	SPW_SIG_QUEUE_AGE, /* queue NAME: age_ms, target in ms */
	SPW_SIG_ACCEPT_QUEUE, /* the service's listen sockets: backlog fill, target a fraction */
	SPW_SIG_LATENCY_P99,  /* the data plane's response latency p99, target in ms */
	SPW_SIG_CONNECTIONS,  /* active connections of the service (all tiers), target a count */
	SPW_SIG_IN_FLIGHT,    /* requests awaiting their response (all tiers), target a count */
	SPW_SIG_OLDEST_REQUEST_AGE, /* age of the oldest of them, target in ms */
	SPW_SIG_LISTEN_OVERFLOW, /* SYNs/ACKs dropped on the service's full accept queue, per s */
	SPW_SIG_KIND_COUNT
};

/* Config and metrics spelling of a kind ("pool", "accept_queue", ...). */
const char *spw_signal_kind_name(enum spw_signal_kind kind);
/* Room for the longest spelling and its NUL. */
#define SPW_SIGNAL_KIND_NAME_MAX 24

/*
 * The spelling of a kind from a fixed field of len bytes that may have cut it (the state
 * file's 16 bytes hold 15 characters: "oldest_request_age" reads "oldest_request_"): the whole
 * name, or NULL when the field names no kind.
 */
const char *spw_signal_kind_spelling(const char *field, size_t len);

/* One signal of a service, as configured and as last measured. */
struct spw_signal {
	enum spw_signal_kind kind;
	char source[SPW_NAME_MAX]; /* pool or queue name; empty for kernel-measured kinds */
	double target;		   /* > 0; NAN while a learned target is still learning */
	bool learn;		   /* the target is learned from the service (spw_baseline.h) */
	/*
	 * The target follows the load (an in_flight target before the service's capacity is
	 * known, spw_concurrency.h): the ratio is a delay's, and the law learns no capacity
	 * from it although the kind scales with the load.
	 */
	bool target_follows_load;
	double value; /* last measured value, in the target's unit */
	/*
	 * The part of value that grows in proportion to the admitted load, for the kinds that
	 * scale with it (spw_signal_scales_with_load): a pool's connections in use without its
	 * waiters (a backlog, not a rate). NAN: all of value, or not given.
	 */
	double load_value;
	uint64_t updated_ns; /* CLOCK_MONOTONIC of the last measurement; 0 = never */
	bool stale;	     /* set by spw_pressure() */
};

/*
 * Whether a kind's value grows in proportion to the load admitted into the service (a pool's
 * fill and the connections held: Little's law), so that admitted rate / pressure estimates
 * the rate the service carries at its target. Delay signals (wait, age, latency, an accept
 * queue's backlog) stay near zero below capacity and grow without bound above it: they say
 * that the service is over, not by how much.
 */
bool spw_signal_scales_with_load(enum spw_signal_kind kind);

/*
 * Whether a kind is a fill (pool, queue, accept queue: a count over a limit), which is
 * saturated at 1: a full pool's ratio hides how far past capacity the load is.
 */
bool spw_signal_is_fill(enum spw_signal_kind kind);

/*
 * The largest value / target taken as a measurement. Real
 * overloads stay far below it (a latency 1000 times its target is 1e3); above it the number is
 * a unit error or a corrupt report, and spw_pressure() ignores that signal like a stale one.
 */
#define SPW_PRESSURE_MAX 1e6

/*
 * Pressure of a service: max(value / target) over signals measured within stale_after_ns of
 * now_ns. Flags each signal's staleness. Returns NAN when no signal is fresh: the controller
 * then has nothing to act on (see spw_law_step).
 * A signal whose numbers are not a measurement (target not a positive finite number; value NaN,
 * infinite or negative; a ratio above SPW_PRESSURE_MAX) is ignored and flagged stale too: the
 * report parser rejects such values, this is the second line. A fill above 1 (a pool with
 * waiters, or over-full as PostgreSQL counts it) is a measurement: the pool is full and then
 * some.
 */
double spw_pressure(struct spw_signal *sigs, int n, uint64_t now_ns, uint64_t stale_after_ns);

/*
 * How long, in ms, a request may wait in the service before this signal reads over its
 * target: an age of the oldest waiting (oldest_request_age, queue_age) shows every request
 * older than its value, so a reading of D says all admitted more than D ago are done; a
 * delay of completed requests (latency_p99, pool_wait) shows a wait once it is past the
 * target. NAN for kinds that are no time (fills, counts, rates).
 */
double spw_signal_shows_after_ms(const struct spw_signal *sig);

struct spw_law_reading;

/*
 * The same, as the control law reads it: pressure, the pressure of the fresh signals that
 * scale with the load and are not saturated, whether a fresh fill is saturated (>= 1; an
 * in_flight count past its capacity's target by a quarter: a queue stands), the
 * newest fresh measurement's time, and the shortest time in which a fresh delay signal shows a
 * queue (lag_ns). Returns the index of the signal that sets the
 * pressure, -1 when none is fresh.
 */
int spw_pressure_read(struct spw_signal *sigs, int n, uint64_t now_ns, uint64_t stale_after_ns,
		      struct spw_law_reading *out);

#endif /* SPW_SIGNAL_H */
