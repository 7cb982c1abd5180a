/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench_controller's parts (docs/benchmarks.md says what each figure is and how it is taken):
 * daemon.c runs spillwayd and reads its CPU and memory, flows.c fills its flow table,
 * reaction.c, tick_cpu.c, sweep.c, scrape.c and rules.c take one figure each, main.c prints
 * the table.
 */
#ifndef SPW_BENCH_CTL_H
#define SPW_BENCH_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include "spw_dataplane.h"
#include "daemon.h"
#include "netns.h"

/* Services the daemon controls: TCP ports BENCH_PORT_BASE.., one pool signal each. */
#define BENCH_SERVICES	20
#define BENCH_PORT_BASE 8001
/* The config's tiers: critical, standard, sheddable. Trials shed the last one. */
#define BENCH_TIERS	3
#define BENCH_SHED_TIER 2
#define BENCH_CEILING	(BENCH_TIERS * SPW_COHORTS) /* full admission */
/* The cohort a cut sheds first: the top of the tier. */
#define BENCH_TOP_COHORT (SPW_COHORTS - 1)

/* The daemon's tick (its default) and the timeouts of its sweep (their defaults). */
#define TICK_NS		(100ULL * 1000000ULL)
#define SYN_TIMEOUT_NS	(30ULL * 1000000000ULL)
#define IDLE_TIMEOUT_NS (600ULL * 1000000000ULL)
#define UDP_TIMEOUT_NS	(60ULL * 1000000000ULL)
/* Sweep period of the first window (the default), and one that never comes within a run. */
#define SWEEP_DEFAULT_S 5
#define SWEEP_NEVER	"24h"
/* A stale flow's age: a minute past the idle timeout, so no rounding keeps it. */
#define STALE_AGE_US ((IDLE_TIMEOUT_NS / 1000) + 60ULL * 1000000ULL)

/* Pool reports: capacity, and in_use for a saturated and for a quiet service. */
#define POOL_CAPACITY 100
#define POOL_FULL     100
#define POOL_LOW      10

/* Goals. */
#define GOAL_REACTION_TICKS 2.0
#define GOAL_TICK_CPU_MS    1.0
#define GOAL_SWEEP_MS	    50.0 /* per GOAL_SWEEP_FLOWS */
#define GOAL_SWEEP_FLOWS    100000
#define GOAL_RSS_MIB	    32.0

/* Defaults of the options, and their bounds. */
#define DEF_TRIALS   100
#define MAX_TRIALS   1000
#define DEF_FLOWS    100000
#define MIN_FLOWS    1000
#define MAX_FLOWS    200000 /* the table holds SPW_FLOWS_DEFAULT (262144): room for the rest */
#define DEF_WINDOW_S 10
#define MAX_WINDOW_S 120
#define SWEEP_RUNS   5

/* A trial gives up after this many ticks without a shed SYN (recorded as a miss). */
#define TRIAL_TIMEOUT_TICKS 30
/* Pause between test runs while waiting for the shed: resolution far below a tick, and few
 * enough inserts (a few hundred per trial) to stay clear of the flood guard and table size. */
#define SPIN_PAUSE_NS 50000ULL
/* Longest wait for a service to recover before a trial, and for the daemon to start. */
#define READY_TIMEOUT_NS  (20ULL * 1000000000ULL)
#define START_TIMEOUT_NS  (20ULL * 1000000000ULL)
#define RELOAD_TIMEOUT_NS (10ULL * 1000000000ULL)
/* Ticks let pass after a reload before a window opens. */
#define SETTLE_TICKS 3

/* The daemon's configs: 20 services with a pool signal each, and what differs. */
enum cfg_kind {
	CFG_POOL_SWEEP,	   /* sweep every SWEEP_DEFAULT_S (the default) */
	CFG_POOL_NO_SWEEP, /* sweep never within the run; the same for all below */
	CFG_ACCEPT_QUEUE,  /* + accept_queue on each service (NETLINK_SOCK_DIAG) */
	CFG_LATENCY,	   /* + latency_p99 on each service (per-CPU histogram reads) */
	CFG_ALL_SIGNALS,   /* every kind the daemon measures itself, on each */
	CFG_SCRAPE,	   /* SCRAPE_SERVICES services only, for the scrape figure */
};

/* Scrape figure: /metrics with this many services of 3 tiers, this many GETs. */
#define SCRAPE_SERVICES 8
#define SCRAPE_RUNS	200
/* Body buffer: 8 services x 3 tiers format to some 100 KiB. */
#define SCRAPE_BUF (4U << 20)

/* The tick-CPU windows, in the order they run (tick_cpu.c); the second and last have the goal. */
struct window_def {
	enum cfg_kind cfg;
	const char *name;
};
#define NWINDOWS	5
#define WIN_SWEEP	0
#define WIN_NO_SWEEP	1
#define WIN_ALL_SIGNALS 4
extern const struct window_def windows[NWINDOWS];

struct trial {
	double ms;	/* report sent -> first dropped SYN; INFINITY when it never came */
	uint32_t ticks; /* policy writes in between (ticks, plus an urgent write) */
};

/* Daemon CPU and ticks at one instant. */
struct cpu_sample {
	uint64_t sched_ns;  /* sum of its threads' sum_exec_runtime */
	uint64_t clk_ticks; /* utime + stime, in clock ticks */
	uint32_t generation;
	uint64_t at_ns;
};

struct window {
	const char *name;
	bool done;
	double ms_per_tick;
	double ms_per_tick_stat; /* from utime + stime */
	uint64_t ticks;
	double seconds;
};

struct sweep_fig {
	bool done;
	double wall_ms, cpu_ms; /* medians */
	double wall_min, wall_max;
	uint64_t scanned, expired;
};

/* The law in the simulated server (law_sim.c): seeds, and the pool target it is run at. */
#define BENCH_LAW_SEEDS	  40
#define BENCH_LAW_TARGET  0.95
#define GOAL_LAW_SETTLE_S 2.0
#define GOAL_LAW_GOODPUT  0.90

struct bench_law {
	bool done;
	unsigned int seeds;
	double settle10_median_s, settle10_worst_s; /* 0.5C -> 10C, back within +-10 % */
	double good3_median, good3_min;		    /* completed / C at 3C, from 2 s on */
	double good10_median, good10_min;	    /* the same at 10C (tier 0 at 0.5C) */
};

/* 0, or -1 when the simulation could not run (no memory). */
int bench_law_sim(struct bench_law *out);

/* Rules (rules.c): trie sizes, the largest the baseline runs at, and the goal at the largest. */
#define BENCH_RULE_SIZES	3
#define BENCH_RULE_BASELINE_MAX 100000
/* A third of the default lease: a start or reload with a full trie renews in time. */
#define GOAL_PRUNE_FULL_MS 1000.0
extern const uint32_t bench_rule_sizes[BENCH_RULE_SIZES];

struct bench_rules {
	uint32_t n;	      /* 0: not measured */
	double add_ms;	      /* n spw_dp_rule_add() calls */
	double prune_ms;      /* every rule wanted (nothing stale) */
	double prune_half_ms; /* half wanted: n / 2 deleted */
	double baseline_ms;   /* the old pruning, nothing stale; 0 when not run */
};

struct bench {
	const char *daemon_path;
	bool daemon_verbose;
	uint32_t trials, nflows, window_s;

	/* The daemon, in a network namespace of its own (tests/lib/daemon.h). */
	struct spw_topo topo;
	struct spw_daemon d;
	bool daemon_dead;

	struct spw_dataplane *dp; /* the daemon's maps and programs: d.dp */
	int prog_fd;

	uint32_t svc_id[BENCH_SERVICES];
	uint32_t pool_pct[BENCH_SERVICES]; /* what each service's reports say now */
	bool reporting;			   /* the reaction trials keep every signal fresh */
	uint64_t next_report_ns;

	/* Trial SYNs: the salt the source was picked for, its /24, and a running counter. */
	uint32_t salt;
	bool salt_known;
	uint32_t src_net;
	uint64_t syn_seq;

	/* Flows inserted for the tick and sweep figures. */
	struct spw_flow_key *keys;
	struct spw_flow *vals;
	double insert_ms;

	/* Results. */
	struct trial *res;
	uint32_t ntrials_done, timeouts;
	struct window win[NWINDOWS];
	double derived_sweep_ms;
	struct sweep_fig sweep_none, sweep_half;
	uint64_t rss_kib, hwm_kib;

	struct bench_law law;

	bool rules_only; /* --rules-only: no daemon, the rules figures alone */
	struct bench_rules rules[BENCH_RULE_SIZES];

	/* Scrape: medians of SCRAPE_RUNS GETs of the daemon's exporter. */
	bool scrape_done;
	double scrape_med_ms, scrape_p99_ms;
	size_t scrape_bytes;
};

uint64_t active_sum(struct bench *b);
bool daemon_alive(struct bench *b);
int daemon_reload(struct bench *b, enum cfg_kind kind);
int flows_fill(struct bench *b);
int flows_write(struct bench *b, const struct spw_flow_key *keys, const struct spw_flow *vals,
		uint32_t n, bool insert);
int idle_until(struct bench *b, uint64_t until);
double percentile(double *v, int n, double p);
int phase_tick_cpu(struct bench *b);
int phase_reaction(struct bench *b);
int phase_scrape(struct bench *b);
int phase_rules(struct bench *b);
int phase_sweep(struct bench *b);
int read_cpu(struct bench *b, struct cpu_sample *s);
void read_rss(struct bench *b);
int report_send(struct bench *b, int svc);
int reports_refresh(struct bench *b, uint64_t now);
/* splitmix64 state and step: the reaction trials' random delays. */
extern uint64_t rng_state;
uint64_t rng_next(void);
void sleep_ns(uint64_t ns);
void v4_mapped(uint32_t ip, uint8_t out[SPW_ADDR_LEN]);
int write_config(struct bench *b, enum cfg_kind kind);

#endif /* SPW_BENCH_CTL_H */
