/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The closed loop of the control-law tests and of bench-controller's simulated figures: the
 * simulated server (sim_server.h) behind the real law (spw_control.h) and pressure
 * (spw_signal.h), driven the way spillwayd drives them.
 *
 *   - an app reports its pool on its own schedule (a period with jitter, not aligned to the
 *     ticks): the pool's fill (its mean over the period or a snapshot), with or without its
 *     waiters, over-full or not, and optionally its wait p99 (a pool_wait signal);
 *   - each report steps the law as it arrives (the daemon's report path), the law moving the
 *     level at most once per tick;
 *   - every tick the data plane's counts of the tick (new flows passed and shed per tier) feed
 *     the law's demand estimate, the signals are read, and the law steps.
 *
 * Everything is recorded per tick, including what the server really did (its mean pool
 * saturation over the tick, over the target: "measured"), which is what the tests judge.
 * All names start with sim_ (tests/lib/ is linked into every test).
 */
#ifndef SIM_LOOP_H
#define SIM_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sim_server.h"
#include "spw_control.h"
#include "spw_signal.h"

struct sim_reporter {
	uint64_t period_ns; /* mean interval between reports */
	double jitter;	    /* each interval is period x (1 +- jitter), uniform */
	uint64_t phase_ns;  /* the first report's time */
	bool snapshot;	    /* in use at the instant, not the mean over the interval */
	bool no_waiting;    /* the report leaves out waiters (in_use and capacity only) */
	uint32_t overfull;  /* a full pool reports this many more in use (PostgreSQL counts
			     * reserved and starting backends) */
	bool wait_signal;   /* also report the wait p99, read by a pool_wait signal */
	bool wait_only;	    /* report the wait p99 alone: a delay signal, no pool fill (a
			     * service watched only by its latency) */
};

struct sim_loop_config {
	struct sim_config server;
	double mix[SIM_MAX_TIERS]; /* share of the load per tier */
	double load_c;		   /* offered load, as a multiple of the capacity */
	double pool_target;	   /* pool signal target (0.85) */
	double wait_target_ms;	   /* pool_wait signal target, with rep.wait_signal */
	struct sim_reporter rep;
	uint64_t tick_ns;
	uint64_t tick_phase_ns; /* the first tick's time, within the first tick */
	uint64_t stale_after_ns;
	double hysteresis;
	uint32_t floor;
	bool no_urgent; /* reports wait for the tick */
	bool no_ranks;	/* the law is not fed per-rank counts: it spreads each tier evenly */
	/*
	 * > 0: the clients are a calling host whose client-side throttle (spillway's, K this)
	 * refuses on its own side: each tick, tier t's arrivals are its intended rate less the
	 * share the throttle refuses by the last second's admissions (include/spillway_throttle.h,
	 * the budget of K x accepts to the most critical tiers first).
	 */
	double throttle_k;
};

/* One tick as the loop saw it. */
struct sim_rec {
	uint64_t t_ns;	 /* end of the tick */
	double fed;	 /* pressure of the reading the tick read (NAN: none fresh) */
	double measured; /* the server's mean pool saturation over the tick / target */
	uint32_t level;	 /* level at the end of the tick */
	uint32_t turns;	 /* the law's direction changes so far */
	bool rose_over;	 /* the level rose while the last fresh reading was over target */
	struct sim_counts tier[SIM_MAX_TIERS]; /* new connections during the tick */
	uint64_t completed;		       /* requests completed during the tick, all tiers */
};

struct sim_loop {
	struct sim_loop_config cfg;
	struct sim_server *sim;
	struct spw_law_params lp;
	struct spw_law_state law;
	struct spw_signal sig[2]; /* pool fill; pool wait p99 */
	int first_sig, nsig;	  /* the signals the service has: sig[first_sig..+nsig) */
	bool reporting;
	uint32_t level; /* enforced level */
	double fine;	/* the same with the partial share of the cohort at it */
	uint64_t rng;
	uint64_t next_report_ns, next_tick_ns;
	uint64_t rep_busy, rep_wait, rep_step_ns; /* integrals at the last report */
	uint64_t tick_busy, tick_wait;		  /* ... at the last tick */
	uint64_t level_since_ns;		  /* when the enforced level last changed */
	double level_area;			  /* level x ns since the last observation */
	double level_min;			  /* lowest level since the last observation */
	uint64_t obs_rank_admitted[SIM_MAX_TIERS * SIM_COHORTS]; /* per rank, at the last */
	uint64_t obs_rank_shed[SIM_MAX_TIERS * SIM_COHORTS];	 /* observation */
	uint64_t tick_started_ns, obs_ns;
	struct sim_counts tick_base[SIM_MAX_TIERS]; /* totals at the last tick */
	struct sim_counts obs_base[SIM_MAX_TIERS];  /* ... at the law's last observation */
	uint64_t completed_base;
	double last_fresh;		/* pressure of the newest reading taken */
	uint64_t reports, urgent_steps; /* reports; those that moved the level */
	struct sim_rec *rec;
	size_t n, cap;
};

/* Fills c with the defaults of the tests (see sim_loop.c); the caller then adjusts. */
void sim_loop_defaults(struct sim_loop_config *c, uint64_t seed);
/* 0, or -1 on a bad config or no memory. */
int sim_loop_init(struct sim_loop *l, const struct sim_loop_config *c);
void sim_loop_free(struct sim_loop *l);
void sim_loop_set_load(struct sim_loop *l, double load_c);
/* Runs for ns of simulated time (whole ticks), recording each tick. */
void sim_loop_run(struct sim_loop *l, uint64_t ns);

/*
 * The earliest time, counted from tick `from`, from which the 1 s (10-tick) mean of
 * `measured` stays within [lo, hi] until tick `to`; -1 when it is not in the band at the
 * end. *worst gets the window mean farthest from 1 after that. 1 s is the best possible.
 */
int64_t sim_loop_settle_ns(const struct sim_loop *l, size_t from, size_t to, double lo, double hi,
			   double *worst);
/* Completed requests per second over ticks [from, to), as a share of the capacity. */
double sim_loop_goodput(const struct sim_loop *l, size_t from, size_t to);
/* Ticks of [from, to) where the level rose while the last fresh reading was over target. */
size_t sim_loop_rose_over(const struct sim_loop *l, size_t from, size_t to);

#endif /* SIM_LOOP_H */
