/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench_dataplane's parts (docs/benchmarks.md says what each figure is and how it is taken):
 * run.c times one case against the empty program, cases.c holds the cases and the packets and
 * flows they need, rules.c the generated CIDR rules, memory.c the kernel memory per flow, main.c
 * the table and the run.
 */
#ifndef SPW_BENCH_DP_H
#define SPW_BENCH_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <arpa/inet.h>
#include "spw_dataplane.h"
#include "pktbuild.h"

/* The one service the bench configures: TCP port 8080, service id 1, three tiers. */
#define BENCH_SVC_ID	  1
#define BENCH_SVC_PORT	  8080
#define BENCH_NONSVC_PORT 9090
#define BENCH_SPORT	  43210
#define BENCH_TIERS	  3
/* Sources without a rule get this tier; the admitted SYN's rule says 0, so a match shows. */
#define BENCH_DEFAULT_TIER 1
/* The tier the shed cases shed: the policy's admit level stops right below it. */
#define BENCH_SHED_TIER 2
/* Long enough to outlive the run (about a minute), short enough not to matter if it leaks. */
#define BENCH_LEASE_NS (600ULL * 1000000000ULL)

/* Repeat count of the call whose time is the fixed cost of a repeated call (see top). */
#define TINY_REPEAT 2
/* Tiny calls per round; their median is subtracted, so one odd call does not skew a round. */
#define TINY_CALLS 3
/* Repeat count of the calibration call, whose kernel-reported ns/packet sizes the rounds. */
#define CAL_REPEAT 100000
/* Bounds on the large repeat count: below, the fixed cost weighs; above, u32 and patience. */
#define MIN_REPEAT 100000
#define MAX_REPEAT (1U << 28)
/* Bounds on calls per round at repeat=1. */
#define MIN_CALLS 1000
#define MAX_CALLS 200000
/* Source ports of the insert case: one flow per call, all distinct within a round. */
#define UNIQUE_SPORT_BASE 10000
#define UNIQUE_MAX_CALLS  50000

/* Default rounds per figure, and clock time of one timed call or batch of calls. */
#define DEF_ROUNDS    7
#define MAX_ROUNDS    99
#define DEF_TARGET_MS 100

/* Rule sets measured; the generator makes the largest, the smaller is a prefix of it. */
#define RULES_10K  10000
#define RULES_100K 100000
#define RULES_MAX  RULES_100K

/* The clock figures are taken with: the thread's CPU time, or wall time with -w. */
extern clockid_t bench_clock;

/* One XDP program under test, and how many packets it has run (for the counter checks). */
struct prog {
	const char *name;
	int fd;
	uint64_t packets;
};

/* Which program a case times. */
enum prog_id {
	PROG_SPW,	  /* spillway as deployed: TCP flow tracking on */
	PROG_SPW_NOTRACK, /* the same maps, programs loaded with no_tcp_tracking */
	PROG_TC_EGRESS,	  /* spillway's TC egress (the server's side), against the empty TC one */
};

/* One generated CIDR rule. */
struct bench_rule {
	struct spw_cidr cidr;
	uint8_t tier;
};

struct bench {
	struct spw_dataplane *dp, *dp_notrack;
	struct empty_xdp *empty_skel;
	struct prog spw, spw_notrack, empty;
	struct prog tc_egress; /* the server's side of a tracked flow */
	struct prog empty_tc;  /* the baseline of the TC egress rows */
	/* Responses the service's latency histogram held before a round (the response row). */
	uint64_t lat_before;

	/* Packets a prep hook ran through the timed program, untimed (counted under prep_*). */
	uint64_t prep_packets;
	/* The tracked flow of the established rows, as set up and as last checked. */
	struct spw_flow_key flow_key;
	struct spw_flow flow_seen;

	/* RULES_MAX generated rules; the first rules_loaded of them are in the trie. */
	struct bench_rule *rules;
	unsigned int rules_loaded;
	/* The rule the last SYN case took its source from: a control row takes the same. */
	const struct bench_rule *syn_rule;

	struct spw_count *cnt_before, *cnt_after; /* SPW_COUNTER_ENTRIES each */

	unsigned int rounds;
	uint64_t target_ns;
	int cpu;
};

/* A TCP packet, built by the test packet builder from these fields. */
struct bench_pkt {
	uint8_t data[PKT_BUF_MAX];
	uint32_t len;
	char saddr[INET6_ADDRSTRLEN];
	char daddr[INET6_ADDRSTRLEN]; /* empty: the builder's default of the family */
	uint16_t sport, dport;
	uint8_t flags;	  /* PKT_TCP_* */
	uint16_t payload; /* bytes after the TCP header */
	uint8_t proto;	  /* 0: TCP; IPPROTO_UDP: a datagram (flags unused) */
};

enum run_mode {
	RUN_REPEAT, /* large repeat count, fixed cost subtracted: ns per packet */
	RUN_SINGLE, /* repeat=1 per call: ns per whole call, with its own empty baseline */
};

/* Any tier slot: for a case that does not care which tier its packets are counted under. */
#define TIER_ANY UINT32_MAX

/* Whose goals a row answers to; the table has a section each. */
enum bench_goals {
	GOALS_DATAPLANE, /* the data plane; its goals predate flow tracking */
	GOALS_FLOWS,	 /* flow tracking */
	GOALS_EGRESS,	 /* the server's side at TC egress: no goal, printed */
};

/* When a verify hook runs. */
enum verify_at {
	AT_FIRST, /* after the one checked packet, before anything is timed */
	AT_ROUND, /* after each repeat=1 round (and the calibration batch) of the program */
	AT_END,	  /* after the last round */
};

struct bench_case {
	const char *name;
	enum bench_goals goals;
	double goal; /* highest acceptable ratio to the empty program; 0 = no goal */
	enum prog_id prog;
	enum run_mode mode;
	bool unique_flows;  /* RUN_SINGLE: a new source port, so a new flow, per call */
	unsigned int rules; /* CIDR rules that must be loaded when the case runs */
	/* Builds the packet and sets the policy; may run packets to create state. */
	int (*setup)(struct bench *b, const struct bench_case *c, struct bench_pkt *p);
	/*
	 * RUN_SINGLE: state for `calls` calls, made before the timed calls of the program's
	 * round (not the empty program's), untimed. Packets it runs through the program count
	 * under (svc, prep_tier, prep_reason) and in b->prep_packets.
	 */
	int (*prep)(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
		    uint32_t calls);
	uint32_t prep_tier;
	enum spw_reason prep_reason;
	/* Checks state the counters cannot show (the flow table, active counts). */
	int (*verify)(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
		      enum verify_at at, uint32_t calls);
	/* What must happen to every packet of the case. */
	uint32_t verdict;
	uint32_t svc;
	uint32_t tier; /* or TIER_ANY */
	enum spw_reason reason;
	/* Checks the output packet of the verification run; NULL when nothing to check. */
	int (*check_out)(const struct bench_pkt *in, const uint8_t *out, uint32_t len);
	/* A row whose +ns this row's +ns is set against in the notes (same mode, one change). */
	const char *control;
};

struct result {
	double spw_ns, empty_ns; /* medians */
	double spw_min, spw_max; /* spread of the spillway rounds */
	bool done;
	bool invalid; /* ran, but not as named: no figure */
};

/* The flow-tracking goal: bytes of kernel memory per tracked flow. */
#define FLOW_BYTES_GOAL 128

struct mem_report {
	bool tried, done;
	struct spw_dp_map_mem flows, active, latency;
	int ncpus;	    /* possible CPUs: per-CPU maps hold a value for each */
	long elem_hdr;	    /* sizeof(struct htab_elem), from the kernel's BTF; < 0: unknown */
	long bucket;	    /* sizeof(struct bucket), the same way */
	uint64_t n_buckets; /* max_entries rounded up to a power of 2, as htab_map_alloc does */
	double computed;    /* bytes per flow, from the sizes above */
	double measured;    /* memlock / max_entries */
	double marginal;    /* memlock difference of two scratch maps alike / entries difference */
	uint32_t scratch_lo, scratch_hi;
};

/* A rule load the table reports: from total - added to total rules, in ms. */
struct rule_load {
	unsigned int total, added;
	double ms;
};
#define RULE_LOADS_MAX 4
extern struct rule_load rule_loads[RULE_LOADS_MAX];
extern unsigned int rule_load_count;

/* The cases, in the order they run (cases.c). */
#define CASE_MAX 40
extern const struct bench_case cases[];
extern const unsigned int case_count;

int build_pkt(struct bench_pkt *p);
int flows_empty(struct bench *b);
struct prog *case_prog(struct bench *b, const struct bench_case *c);
struct prog *case_empty(struct bench *b, const struct bench_case *c);
uint32_t case_empty_verdict(const struct bench_case *c);
int expect_verdict(const struct prog *pg, const struct bench_case *c, uint32_t got, uint32_t want);
double median(const double *v, unsigned int n);
int memory_measure(struct bench *b, struct mem_report *mr);
int memory_print(const struct mem_report *mr);
void randomize_host_bits(uint8_t addr[SPW_ADDR_LEN], unsigned int from);
void rng_seed(uint32_t seed);
const struct bench_rule *rule_pick(struct bench *b, uint8_t tier);
int rules_ensure(struct bench *b, unsigned int want);
int rules_generate(struct bench *b, unsigned int n, uint32_t seed);
int run_case(struct bench *b, const struct bench_case *c, struct result *res);
int test_run(struct prog *pg, const struct bench_pkt *p, uint32_t repeat, uint8_t *out,
	     uint32_t *out_len, uint64_t *took_ns, uint32_t *retval, uint32_t *duration);

#endif /* SPW_BENCH_DP_H */
