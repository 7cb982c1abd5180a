/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A simulated server for the control-law tests: discrete time, deterministic given a seed.
 *
 * New connections of each tier arrive as Poisson processes. The simulated data plane admits
 * one iff tier * 32 + cohort < level, the cohort drawn uniformly from 0..31 (the rank model of
 * include/spillway_abi.h). An admitted request holds one connection of a pool of M for a
 * service time of M / C seconds, so the pool serves at most C requests per second; when every
 * connection is busy it waits in a FIFO queue, and when the queue is full too the server
 * refuses it (counted apart from shedding: that is the overload spillway exists to prevent).
 *
 * The test reads what an app would report (pool in use, waiters, wait p99) per window, the
 * window being whatever ran since the previous sim_window_take(), usually one control tick.
 * All names start with sim_ (tests/lib/ is linked into every test).
 */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#define SIM_MAX_TIERS 8
#define SIM_COHORTS   32 /* cohorts per tier: SPW_COHORTS */

struct sim_config {
	double capacity;	    /* C: requests per second the pool serves when saturated */
	uint32_t pool_size;	    /* M: connections; service time is M / C */
	uint32_t queue_limit;	    /* waiters beyond the pool; 0: refuse when the pool is full */
	uint64_t dt_ns;		    /* time step; the service time is rounded to whole steps */
	uint32_t tiers;		    /* 1..SIM_MAX_TIERS */
	double rate[SIM_MAX_TIERS]; /* new connections per second, per tier */
	uint64_t seed;		    /* same seed, same run */
	/*
	 * Clients per tier: 0, many (each connection's cohort drawn uniformly); 1 to
	 * SIM_MAX_SOURCES, that many hosts (a proxy, a NAT, a front tier), each with one cohort
	 * and one host slot drawn from the seed, taking turns at random.
	 */
	uint32_t sources[SIM_MAX_TIERS];
};

#define SIM_MAX_SOURCES 16

/* Per-tier counts, new connections. offered = admitted + shed; admitted = started + waiting +
 * refused (refused: admitted by the level, turned away by the server's full queue). */
struct sim_counts {
	uint64_t offered;
	uint64_t admitted;
	uint64_t shed;
	uint64_t refused;
	uint64_t completed;
};

/* What happened since the previous sim_window_take() (or since creation). */
struct sim_window {
	uint64_t start_ns, end_ns;
	double in_use_mean;   /* time-averaged connections in use */
	double saturation;    /* in_use_mean / pool_size: what a pool reports as its fill */
	uint32_t in_use;      /* at the end of the window (a snapshot, noisier) */
	uint32_t pool_size;   /* at the end of the window */
	uint32_t waiting;     /* queue depth at the end of the window */
	double waiting_mean;  /* time-averaged queue depth */
	uint32_t waiting_max; /* largest queue depth seen */
	double wait_p99_ms;   /* wait for a connection, p99 over the requests that got one in
			       * the window; 0 when none did */
	uint64_t started;     /* requests that got a connection in the window */
	struct sim_counts tier[SIM_MAX_TIERS];
};

struct sim_server;

/* NULL on a bad config or no memory. */
struct sim_server *sim_create(const struct sim_config *cfg);
void sim_destroy(struct sim_server *s);

/* The data plane's admit level for new connections; from the next step on. */
void sim_set_level(struct sim_server *s, uint32_t level);
uint32_t sim_level(const struct sim_server *s);
/* The share of the cohort at the level that is admitted too, in 1/256 (0 after set_level). */
void sim_set_partial(struct sim_server *s, uint32_t partial);
/* Arrival rate of one tier, per second. */
void sim_set_rate(struct sim_server *s, uint32_t tier, double per_sec);
/* Capacity C (the pool slows down or speeds up): requests that start from now on take M/C. */
void sim_set_capacity(struct sim_server *s, double per_sec);
double sim_capacity(const struct sim_server *s);

/* Advances the simulation by ns (whole steps). */
void sim_run(struct sim_server *s, uint64_t ns);
uint64_t sim_now(const struct sim_server *s);

/* The window since the previous take; starts a new one. */
void sim_window_take(struct sim_server *s, struct sim_window *w);

/* Totals since creation, per tier. */
void sim_totals(const struct sim_server *s, uint32_t tier, struct sim_counts *out);
/* Totals since creation by rank (tier * SIM_COHORTS + cohort): admitted by the level, shed. */
void sim_rank_totals(const struct sim_server *s, uint64_t admitted[SIM_MAX_TIERS * SIM_COHORTS],
		     uint64_t shed[SIM_MAX_TIERS * SIM_COHORTS]);
/*
 * Sums since creation of connections in use and of waiters, step by step: the difference of
 * two readings divided by the steps between them is the mean over that time.
 */
void sim_integrals(const struct sim_server *s, uint64_t *busy, uint64_t *waiting);
/* Connections in use and waiters now. */
void sim_occupancy(const struct sim_server *s, uint32_t *in_use, uint32_t *waiting);
/* The pool's size (M). */
uint32_t sim_pool_size(const struct sim_server *s);
/* Quantile q (0..1) of the latency (wait + service) of a tier's requests, ms; 0 if none. */
double sim_latency_ms(const struct sim_server *s, uint32_t tier, double q);
/* Forgets the latencies so far: sim_latency_ms then tells of the requests started after. */
void sim_latency_reset(struct sim_server *s);

#endif /* SIM_SERVER_H */
