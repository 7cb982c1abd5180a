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
#include <stdint.h>

/* Names of pools, queues and services: what a report line or the config may use. */
#define SPW_NAME_MAX 32
/* Signals one service may name. */
#define SPW_MAX_SIGNALS 8

enum spw_signal_kind {
	SPW_SIG_POOL,	      /* pool NAME: in_use / capacity, target a fraction (0.85) */
	SPW_SIG_POOL_WAIT,    /* pool NAME: wait_ms, target in ms (50) */
	SPW_SIG_QUEUE,	      /* queue NAME: depth / limit, target a fraction */
	SPW_SIG_QUEUE_AGE,    /* queue NAME: age_ms, target in ms */
	SPW_SIG_ACCEPT_QUEUE, /* the service's listen sockets: backlog fill, target a fraction */
	SPW_SIG_LATENCY_P99,  /* the data plane's response latency p99, target in ms */
	SPW_SIG_CONNECTIONS,  /* active connections of the service (all tiers), target a count */
	SPW_SIG_KIND_COUNT
};

/* Config and metrics spelling of a kind ("pool", "accept_queue", ...). */
const char *spw_signal_kind_name(enum spw_signal_kind kind);

/* One signal of a service, as configured and as last measured. */
struct spw_signal {
	enum spw_signal_kind kind;
	char source[SPW_NAME_MAX]; /* pool or queue name; empty for kernel-measured kinds */
	double target;		   /* > 0 */
	double value;		   /* last measured value, in the target's unit */
	uint64_t updated_ns;	   /* CLOCK_MONOTONIC of the last measurement; 0 = never */
	bool stale;		   /* set by spw_pressure() */
};

/*
 * The largest value / target taken as a measurement. Real
 * overloads stay far below it (a latency 1000 times its target is 1e3); above it the number is
 * a unit error or a corrupt report, and spw_pressure() ignores that signal like a stale one.
 */
#define SPW_PRESSURE_MAX 1e6

/*
 * Pressure of a service: max(value / target) over signals measured within stale_after_ns of
 * now_ns. Flags each signal's staleness. Returns NAN when no signal is fresh: the controller
 * then has nothing to act on and recovers (see spw_law_step).
 * A signal whose numbers are not a measurement (target not a positive finite number; value NaN,
 * infinite or negative; a pool fraction above 1; a ratio above SPW_PRESSURE_MAX) is ignored and
 * flagged stale too: the report parser rejects such values, this is the second line.
 */
double spw_pressure(struct spw_signal *sigs, int n, uint64_t now_ns, uint64_t stale_after_ns);

#endif /* SPW_SIGNAL_H */
