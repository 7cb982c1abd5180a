/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The in_flight signal's learned target: the number of requests the service holds at once
 * when it runs at its capacity, with no queue (pure, no BPF calls).
 *
 * A server limited by a pool of N (database connections, workers) holds at most N requests in
 * service; more in flight wait. Little's law gives N from what the data plane measures:
 * N = X x W0, the completions per second the service manages while a queue stands (X, its
 * capacity) times the time a request spends in it when nothing waits (W0, learned while the
 * service is quiet as in-flight / completions, each second's mean). The target is then a count
 * that grows in proportion to the load admitted (the law learns the capacity from it, as from
 * a pool's fill, and cuts to it in one step) and that an overload crosses within a tick: the
 * queue is counted as it forms, not once its requests complete. A database that slows down
 * keeps the same N (its pool is as large), so the target holds through a slowdown that a
 * latency target would have to relearn.
 *
 * What is learned:
 *   W0  as spw_baseline.h learns a delay: the median of quiet seconds (full admission, the
 *       value within its quiet bound), after SPW_BASELINE_MIN_SECONDS of them;
 *   X   the completions per second of the longest window (SPW_CONC_SHORTEST_NS to
 *       SPW_CONC_WINDOW_NS) with a queue standing all through it: each of its readings held
 *       at least SPW_CONC_QUEUED x W0 x its rate, and it completed no fewer than the busiest
 *       quiet second (the service ran at its capacity; a longer time with fewer completions
 *       is a stall or a slower service, with nothing waiting). The highest such rate is
 *       kept, and once one is known the highest of any half second raises it. All through,
 *       not on average: an overload's onset queues for a tick or two before the cut it draws
 *       drains the queue, and a half second around them held the quiet time before and the
 *       cut after (judged on its mean, the demo learned 0.5 of the capacity, then rose to it
 *       over 15 s while the law held the tiers out). No window completes much more than
 *       the capacity (those in service at its start finish in it too: 10 % more at most for
 *       a half second of 50 ms requests), so X stays near it, and one learned low rises as
 *       the law lets more in.
 *   and, while X is past what a queue proved (more than SPW_CONC_PROVEN_SLACK x the most a
 *       window queued all through completed: X was raised by a half second with nothing
 *       waiting, or never proved), at least what a half second held without a queue (its
 *       mean time in the service within SPW_CONC_UNQUEUED x W0), over SPW_CONC_CARRIED: a
 *       service proven to hold that much reads low there, so the law lets the tiers back in.
 *       Without it a closed loop of c clients (pgbench, a connection pool in front) whose X
 *       was raised to its own throughput reads W0 x X = c, a pressure of 1 for ever, and the
 *       tiers shed then never come back. Not once a queue proved X: a pool full with nothing
 *       waiting also holds about W0 x X, and the floor put the target 1.18x past it (24 for
 *       a pool of 20 in the demo), so the law's capacity, admitted rate over in flight per
 *       target, read 1.18x the real one, and each rise queued past the pool.
 * Before X is known (the service has not queued yet) the target follows the throughput: a
 * queue of three times what the service held in the last second (SPW_CONC_EARLY x W0 x its
 * completions per second), and never within a Poisson count's 5 sigma of it. A 3x overload
 * crosses it within a tick (in flight grows by the excess rate, completions do not: in the
 * demo, 3x from half the capacity with 50 ms requests, about 45 ms after the onset), long
 * before the oldest
 * request's age or the completed responses' p99 show the queue; a step of the load that
 * fits and triples at most (0.3 to 0.9 of the capacity) reads 0.75 at its worst, a second,
 * before the target follows it. Its ratio is a delay's, W / W0 over SPW_CONC_EARLY, not a
 * load's: the law does not size a capacity from it (spw_signal.target_follows_load).
 * Until W0 is known the target is NAN and the signal is not acted on.
 */
#ifndef SPW_CONCURRENCY_H
#define SPW_CONCURRENCY_H

#include <stdbool.h>
#include <stdint.h>
#include "spw_baseline.h"

/* A half second's mean time in the service past this x W0 had a queue: the service was full. */
#define SPW_CONC_QUEUED 1.5
/* ... and one within this x W0 had none: the requests it held fit in the service. */
#define SPW_CONC_UNQUEUED 1.1
/* The target keeps what fits this far under it: below the hold band's 1 - h (0.9). */
#define SPW_CONC_CARRIED 0.85
/* X within this of a queue's rate is the queue's: a half second completes up to 10 % past
 * the capacity (those in service at its start finish in it too). */
#define SPW_CONC_PROVEN_SLACK 1.1
/*
 * The least target, requests. Below it one request more or less swings the pressure by more
 * than a quarter, and a service that fast (4 in flight at its capacity) queues nothing that
 * matters before the delay signals see it.
 */
#define SPW_CONC_MIN_TARGET 4.0
/* The target before X is known: this x what the service held in the last second (a queue of
 * three times it: a tripled load that fits reads 0.75, under the band). */
#define SPW_CONC_EARLY 4.0
/* ... and at least this many above it, in standard deviations of a Poisson count. */
#define SPW_CONC_EARLY_SIGMAS 5.0
/* ... and at least this many requests (1 held: 8, for a 1e-6 chance of a false reading). */
#define SPW_CONC_EARLY_MIN 8.0

/* The shortest window a queue all through it teaches X from: a tick at the default 100 ms,
 * less its timer's jitter (about 40 completions of a pool of 20 at 50 ms, within a few %). */
#define SPW_CONC_SHORTEST_NS 90000000ULL
/* The window the capacity is measured over, and the readings kept for it: 64 readings span
 * 640 ms at the shortest tick the config allows (10 ms). */
#define SPW_CONC_WINDOW_NS 500000000ULL
#define SPW_CONC_RING	   64

struct spw_conc_sample {
	uint64_t ns, completed;
	double in_flight;
};

struct spw_concurrency {
	struct spw_baseline w0; /* quiet seconds' mean time in service, ms */
	uint64_t second_start;	/* CLOCK_MONOTONIC ns the second under way began; 0: none */
	uint64_t done_start;	/* completions counted when it began */
	double in_flight_sum;	/* in-flight readings of the second, summed */
	uint32_t readings;
	bool full_admission; /* the whole second */
	double capacity;     /* X: completions/s at the capacity; 0 while unknown */
	double queued_rate;  /* the most completions/s of a window queued all through */
	double held;	     /* the most a half second held in flight without a queue */
	double last_rate;    /* completions/s of the last second closed; NAN: none */
	double quiet_rate;   /* the most completions/s of a quiet second: a proven rate */
	struct spw_conc_sample ring[SPW_CONC_RING]; /* the last readings, oldest first from head */
	uint32_t head, nring;
};

void spw_concurrency_init(struct spw_concurrency *c);

/*
 * The requests in flight the law reads, from the count read now. A count read at one instant
 * carries the noise of arrivals: a service holding 16 on average reads 7 to 25 from one
 * reading to the next (a Poisson count's 2 sigma), and against a target of 21 every fourth
 * tick read a clear overload and cut, the next a low one and rose (the demo, zero
 * integration, 3C: levels 46-60 every 0.4 s). So the reading is the mean of the counts read
 * within window_ns of now (a tick: the watch's and the tick's, 6 of them at 100 ms ticks),
 * unless the count now is past it by more than SPW_CONC_NOISE_SIGMAS of its own Poisson
 * noise: a queue growing at an overload's onset is read as it stands, less that noise (at 3x,
 * 80 more a tick). At most SPW_CONC_READINGS counts are kept; a count read at the instant of
 * the last one replaces it. Zeroed: no counts yet.
 */
#define SPW_CONC_READINGS 16
/*
 * The longest window the daemon averages over: the default tick. A longer tick's window would
 * hold seconds of counts, and a queue standing for a second would read as a fraction of itself
 * (5 held against a target of 3, 5 s ticks: the watch cut after 4 s instead of 1).
 */
#define SPW_CONC_MEAN_MAX_NS 100000000ULL
struct spw_conc_reading {
	uint64_t ns[SPW_CONC_READINGS];
	double count[SPW_CONC_READINGS];
	uint32_t head, n;
};
#define SPW_CONC_NOISE_SIGMAS 2.0
double spw_concurrency_reading(struct spw_conc_reading *m, double count, uint64_t now_ns,
			       uint64_t window_ns);

/*
 * One tick's reading at now_ns: requests in flight, the service's completions counted since
 * the data plane started (a count that went back is a reset map: the second starts again),
 * and whether every tier was admitted since the previous call.
 */
void spw_concurrency_observe(struct spw_concurrency *c, double in_flight, uint64_t completed,
			     bool full_admission, uint64_t now_ns);

/*
 * The target in force: W0 x X, at least SPW_CONC_MIN_TARGET and, while X is past what a
 * queue proved, held / SPW_CONC_CARRIED;
 * before X is known the early
 * target, and *early set (early may be NULL); NAN while W0 is unknown.
 */
double spw_concurrency_target(const struct spw_concurrency *c, bool *early);

#endif /* SPW_CONCURRENCY_H */
