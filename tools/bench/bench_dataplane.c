// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_dataplane: what spillway's XDP program costs per packet, as a ratio to an empty XDP
 * program run the same way on the same machine in the same run (`make bench-dataplane`).
 *
 * Method, and why:
 * - Packets go through BPF_PROG_RUN (bpf_prog_test_run_opts), no interface involved. The
 *   figures are for a hot cache: the same packet runs again and again, so the LPM trie nodes
 *   and map values it touches stay in L1/L2. Real traffic from many sources costs more.
 * - The duration BPF_PROG_RUN returns is whole ns per packet, too coarse against programs that
 *   cost a few ns. So ns per packet comes from the time around a call with a large repeat
 *   count, minus the time of the same call with a tiny repeat count, divided by the
 *   difference in repeats.
 * - The tiny call uses repeat=2, not 1: for XDP with repeat > 1 the kernel adds the program to
 *   the XDP dispatcher and removes it afterwards (bpf_prog_change_xdp), a fixed cost per call
 *   that a repeat=1 call does not pay and a large call does.
 * - The clock is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID); -w switches to wall time
 *   (CLOCK_MONOTONIC). The test run executes inside our syscall, so CPU time counts it to the
 *   ns, but leaves out what wall time adds: the two RCU grace periods the dispatcher change
 *   sleeps through (16 to 32 ms per call here, in jiffy steps) and the time slices other tasks
 *   get on our CPU mid-call. On this project's shared 2-CPU machine under load, wall time read
 *   up to twice the CPU time of the same call, varying from call to call: it measured the
 *   scheduler, while CPU time stayed within 1%.
 * - Each figure is measured in several rounds alternating the programs (empty, spillway,
 *   empty, ...), so drift of the machine hits both; the table shows medians.
 * - Rows marked * cannot repeat one packet: reject rewrites it into a RST, and an admitted SYN
 *   inserts its flow, so the same SYN again is a retransmission of a tracked flow. They run at
 *   repeat=1 per call (a new source port per call for the insert), and so does their empty
 *   baseline: both columns are whole syscalls and the ratio is not comparable with the other
 *   rows. The difference is what spillway adds, plus the cache misses of running one packet
 *   after a syscall: the shed-drop path also runs that way, as a control for that part.
 * - Two copies of the programs share one set of maps: as deployed (TCP flow tracking on), and
 *   loaded without TCP tracking. The table has a section per issue. Issue 2's goals predate
 *   flow tracking, so its rows run the copy without it (a repeated SYN is then decided every
 *   time); its goal-less shed rows run as deployed. Issue 3's rows run with tracking on.
 * - The tracked flows the issue 3 rows use are made by the data plane itself: the client's SYN
 *   through XDP, the server's SYN-ACK through the TC egress program, so each is an established
 *   flow in the table before any packet is timed, and is checked there (and after the run).
 *   The timed data packets of a flow after the first find its request already pending (req_us
 *   set), so they take the branch that reads the coarse clock: the first data packet of each
 *   request, which reads the precise one, is not what the row times.
 * - FIN with delete runs at repeat=1 too (a FIN deletes its flow): before each round's timed
 *   calls, untimed, one established flow per call is opened through the data plane (SYN via
 *   XDP, SYN-ACK via TC egress); each timed FIN then deletes one, and the active count must be
 *   back to 0 and the table empty after the round.
 * - Memory per tracked flow is read from the kernel, not timed: key and value sizes from
 *   bpf_map_info, the element and bucket headers of a preallocated hash from the kernel's BTF,
 *   and the memlock the kernel charges the map (/proc/self/fdinfo), also measured as the
 *   difference between two scratch maps of the same kind, to leave the fixed parts out.
 * - The process is pinned to one CPU: XDP test runs execute on the calling CPU, and a
 *   migration in the middle of a round would mix two CPUs' caches and frequencies.
 * - Before a case is timed, one packet is run and its verdict, output and counters checked;
 *   after it, the counters must show every timed packet under the expected service, tier and
 *   reason. A case that took another path (the lease ran out, a flow was found, a guard kicked
 *   in) gets no figure, and the run exits 1.
 *
 * To add a case, add a row to cases[] and, if it needs state, a setup hook (plus a prep hook
 * for per-call state and a verify hook for what the counters cannot show). Rows run in order;
 * rules are only ever added, so rows are ordered by the rule count they need.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "spw_log.h"
#include "spw_strnum.h"
#include "empty_xdp.skel.h"
#include "pktbuild.h"
#include "bench_util.h"

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

/* The clock figures are taken with (see top); rule loads and the total are wall time. */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

/* xorshift64*: reproducible rules and addresses for a given seed, no libc state. */
static uint64_t rng_state;

/* splitmix64 of the seed: xorshift's state must never be zero, or it stays zero. */
static void rng_seed(uint32_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng_state = (z ^ (z >> 31)) ?: 1;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

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
	struct prog tc_egress; /* the server's side of a tracked flow: never timed */

	/* The pinned maps themselves, opened by path: what the data plane keeps, as it keeps it. */
	int flows_fd, active_fd, latency_fd;
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
};

enum run_mode {
	RUN_REPEAT, /* large repeat count, fixed cost subtracted: ns per packet */
	RUN_SINGLE, /* repeat=1 per call: ns per whole call, with its own empty baseline */
};

/* Any tier slot: for a case that does not care which tier its packets are counted under. */
#define TIER_ANY UINT32_MAX

/* Whose goals a row answers to; the table has a section each. */
enum bench_issue {
	ISSUE_2, /* the data plane; its goals predate flow tracking */
	ISSUE_3, /* flow tracking */
};

/* When a verify hook runs. */
enum verify_at {
	AT_FIRST, /* after the one checked packet, before anything is timed */
	AT_ROUND, /* after each repeat=1 round (and the calibration batch) of the program */
	AT_END,	  /* after the last round */
};

struct bench_case {
	const char *name;
	enum bench_issue issue;
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

static const char *verdict_name(uint32_t v)
{
	switch (v) {
	case XDP_ABORTED:
		return "XDP_ABORTED";
	case XDP_DROP:
		return "XDP_DROP";
	case XDP_PASS:
		return "XDP_PASS";
	case XDP_TX:
		return "XDP_TX";
	case XDP_REDIRECT:
		return "XDP_REDIRECT";
	default:
		return "an unknown verdict";
	}
}

static double median(const double *v, unsigned int n)
{
	double s[MAX_ROUNDS > TINY_CALLS ? MAX_ROUNDS : TINY_CALLS];

	memcpy(s, v, n * sizeof(*v));
	return bench_median_sort(s, n);
}

static struct prog *case_prog(struct bench *b, const struct bench_case *c)
{
	return c->prog == PROG_SPW_NOTRACK ? &b->spw_notrack : &b->spw;
}

/*
 * One BPF_PROG_RUN call, timed with bench_clock. out may be NULL; both programs of a case
 * always run with the same arguments, so copy-in and copy-out are part of both figures alike.
 */
static int test_run(struct prog *pg, const struct bench_pkt *p, uint32_t repeat, uint8_t *out,
		    uint32_t *out_len, uint64_t *took_ns, uint32_t *retval, uint32_t *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->data, .data_size_in = p->len,
		    .data_out = out, .data_size_out = out ? PKT_BUF_MAX : 0, .repeat = repeat);
	uint64_t t0, t1;
	int err;

	t0 = bench_clock_ns(bench_clock);
	err = bpf_prog_test_run_opts(pg->fd, &opts);
	t1 = bench_clock_ns(bench_clock);
	if (err) {
		if (err == -EINTR && stop_requested)
			return err;
		pr_warn("BPF_PROG_RUN of the %s program failed: %s\n", pg->name, strerror(-err));
		return err;
	}
	pg->packets += repeat;
	if (took_ns)
		*took_ns = t1 - t0;
	if (retval)
		*retval = opts.retval;
	if (duration)
		*duration = opts.duration;
	if (out_len)
		*out_len = opts.data_size_out;
	return 0;
}

/* Runs at the expected verdict, or the figure would be for another path. */
static int expect_verdict(const struct prog *pg, const struct bench_case *c, uint32_t got,
			  uint32_t want)
{
	if (got == want)
		return 0;
	pr_warn("%s: the %s program returned %s (%u), expected %s\n", c->name, pg->name,
		verdict_name(got), got, verdict_name(want));
	return -EPROTO;
}

/*
 * One round in RUN_REPEAT mode: ns per packet = (time(repeat) - median time(TINY_REPEAT)) /
 * (repeat - TINY_REPEAT).
 */
static int round_repeat(struct prog *pg, const struct bench_case *c, const struct bench_pkt *p,
			uint32_t want, uint32_t repeat, double *ns)
{
	double tiny[TINY_CALLS];
	uint64_t took;
	uint32_t ret;
	int err, i;

	for (i = 0; i < TINY_CALLS; i++) {
		err = test_run(pg, p, TINY_REPEAT, NULL, NULL, &took, &ret, NULL);
		if (err)
			return err;
		err = expect_verdict(pg, c, ret, want);
		if (err)
			return err;
		tiny[i] = (double)took;
	}
	err = test_run(pg, p, repeat, NULL, NULL, &took, &ret, NULL);
	if (err)
		return err;
	err = expect_verdict(pg, c, ret, want);
	if (err)
		return err;
	*ns = ((double)took - median(tiny, TINY_CALLS)) / (double)(repeat - TINY_REPEAT);
	return 0;
}

static int build_pkt(struct bench_pkt *p);

/*
 * Empties the flow table, and checks it is empty: a flow left over from the previous round
 * would turn a SYN of this one into a retransmission.
 */
static int flows_empty(struct bench *b)
{
	static bool warned;
	uint64_t left = 0;
	uint32_t cap;
	int err, i;

	for (i = 0; i < 64; i++) {
		err = spw_dp_flows_clear(b->dp);
		if (!err)
			err = spw_dp_flow_count(b->dp, &left, &cap);
		if (err) {
			pr_warn("emptying the flow table failed: %s\n", strerror(-err));
			return err;
		}
		if (!left)
			return 0;
		if (!warned) {
			warned = true;
			pr_warn(
			    "spw_dp_flows_clear() left %llu flows in the table; clearing again\n",
			    (unsigned long long)left);
		}
	}
	pr_warn("the flow table still holds %llu flows after 64 clears\n",
		(unsigned long long)left);
	return -EBUSY;
}

/*
 * One round in RUN_SINGLE mode: ns per whole repeat=1 call, every verdict checked. With
 * unique_flows each call carries a new source port (the packet is rebuilt outside the timed
 * interval), and the flow table is emptied first, so every SYN is a new flow. The case's
 * prep and verify hooks run for its own program's rounds, outside the timed calls.
 */
static int round_single(struct bench *b, struct prog *pg, const struct bench_case *c,
			const struct bench_pkt *p, uint32_t want, uint32_t calls, double *ns)
{
	static struct bench_pkt q; /* 2 KiB: off the stack */
	bool own = pg == case_prog(b, c);
	uint8_t out[PKT_BUF_MAX];
	uint64_t took, total = 0;
	uint32_t ret, len, i;
	int err;

	q = *p;
	if (c->unique_flows) {
		err = flows_empty(b);
		if (err)
			return err;
	}
	if (own && c->prep) {
		err = c->prep(b, c, p, calls);
		if (err)
			return err;
	}
	for (i = 0; i < calls; i++) {
		if (c->unique_flows) {
			q.sport = (uint16_t)(UNIQUE_SPORT_BASE + i);
			err = build_pkt(&q);
			if (err)
				return err;
		}
		err = test_run(pg, &q, 1, out, &len, &took, &ret, NULL);
		if (err)
			return err;
		err = expect_verdict(pg, c, ret, want);
		if (err)
			return err;
		total += took;
	}
	if (own && c->verify) {
		err = c->verify(b, c, p, AT_ROUND, calls);
		if (err)
			return err;
	}
	*ns = (double)total / calls;
	return 0;
}

/*
 * Sizes a round to about target_ns. RUN_REPEAT: from the kernel's own ns/packet of a
 * calibration call (whole ns, but good enough to size). RUN_SINGLE: from a batch of calls.
 */
static int calibrate(struct bench *b, struct prog *pg, const struct bench_case *c,
		     const struct bench_pkt *p, uint32_t want, uint32_t *count)
{
	uint32_t dur, ret, max;
	uint64_t n;
	double ns;
	int err;

	if (c->mode == RUN_SINGLE) {
		err = round_single(b, pg, c, p, want, MIN_CALLS, &ns);
		if (err)
			return err;
		max = c->unique_flows ? UNIQUE_MAX_CALLS : MAX_CALLS;
		n = (uint64_t)((double)b->target_ns / (ns > 1 ? ns : 1));
		*count = n < MIN_CALLS ? MIN_CALLS : n > max ? max : (uint32_t)n;
		return 0;
	}
	err = test_run(pg, p, CAL_REPEAT, NULL, NULL, NULL, &ret, &dur);
	if (err)
		return err;
	err = expect_verdict(pg, c, ret, want);
	if (err)
		return err;
	n = b->target_ns / (dur ? dur : 1);
	*count = n < MIN_REPEAT ? MIN_REPEAT : n > MAX_REPEAT ? MAX_REPEAT : (uint32_t)n;
	return 0;
}

static int counters_snapshot(struct bench *b, struct spw_count *into)
{
	int err = spw_dp_counters_read_all(b->dp, into);

	if (err)
		pr_warn("reading the counters failed: %s\n", strerror(-err));
	return err;
}

static void tier_text(uint32_t tier, char *buf, size_t len)
{
	if (tier == TIER_ANY)
		snprintf(buf, len, "any");
	else
		snprintf(buf, len, "%u", tier);
}

/*
 * The counters moved by exactly `packets` under the case's (service, tier, reason), by
 * exactly `prep` under its prep hook's (service, prep_tier, prep_reason), and nowhere else.
 * Packets counted under another reason, even a few, mean part of what was timed took another
 * path, and the figure would be a blend.
 */
static int counters_expect(struct bench *b, const struct bench_case *c, uint64_t packets,
			   uint64_t prep, const char *when)
{
	uint64_t hit = 0, prep_hit = 0, other = 0;
	uint32_t svc, tier, reason;
	char want_tier[16];
	int err, shown = 0;

	err = counters_snapshot(b, b->cnt_after);
	if (err)
		return err;
	for (svc = 0; svc < SPW_MAX_SERVICES; svc++) {
		for (tier = 0; tier < SPW_TIER_SLOTS; tier++) {
			for (reason = 0; reason < SPW_REASON_SLOTS; reason++) {
				uint32_t idx = spw_counter_index(svc, tier, reason);
				uint64_t d = b->cnt_after[idx].packets - b->cnt_before[idx].packets;

				if (!d)
					continue;
				if (svc == c->svc && reason == c->reason &&
				    (c->tier == TIER_ANY || tier == c->tier)) {
					hit += d;
					continue;
				}
				if (c->prep && svc == c->svc && reason == c->prep_reason &&
				    tier == c->prep_tier) {
					prep_hit += d;
					continue;
				}
				other += d;
				if (shown++ < 4)
					pr_warn("%s: %s: %llu counted as service %u, tier slot %u, "
						"%s\n",
						c->name, when, (unsigned long long)d, svc, tier,
						spw_reason_name(reason) ?: "(unnamed reason)");
			}
		}
	}
	if (prep_hit != prep) {
		pr_warn("%s: %s: the %llu packets of the untimed preparation should count as "
			"service %u, tier %u, %s; found %llu there\n",
			c->name, when, (unsigned long long)prep, c->svc, c->prep_tier,
			spw_reason_name(c->prep_reason) ?: "?", (unsigned long long)prep_hit);
		return -EPROTO;
	}
	if (hit == packets && !other)
		return 0;
	tier_text(c->tier, want_tier, sizeof(want_tier));
	pr_warn("%s: %s: expected all %llu counted as service %u, tier %s, %s; found %llu there "
		"and %llu elsewhere\n",
		c->name, when, (unsigned long long)packets, c->svc, want_tier,
		spw_reason_name(c->reason) ?: "?", (unsigned long long)hit,
		(unsigned long long)other);
	return -EPROTO;
}

/* ---- rules ---- */

/* Sets the bits of addr from bit `from` (MSB first over the 16-byte form) on, at random. */
static void randomize_host_bits(uint8_t addr[SPW_ADDR_LEN], unsigned int from)
{
	unsigned int bit;

	for (bit = from; bit < SPW_ADDR_LEN * 8; bit++) {
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));

		if (rng_next() & (1ULL << 40))
			addr[bit / 8] |= mask;
		else
			addr[bit / 8] &= (uint8_t)~mask;
	}
}

static void clear_host_bits(uint8_t addr[SPW_ADDR_LEN], unsigned int from)
{
	unsigned int bit;

	for (bit = from; bit < SPW_ADDR_LEN * 8; bit++)
		addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

/*
 * n random prefixes, none covering another, so the longest match for an address inside one
 * is that one rule and the check against spw_dp_rule_lookup() is exact. Half are IPv4, /24 to
 * /32, each inside its own /24 of 1.0.0.0-126.255.255.255 (10/8 left out); half IPv6, /48 to
 * /64, each inside its own /48 of 2a00::/16. IPv4 and IPv6 alternate, so any first k rules
 * are a mix too. Tiers are uniform over the service's three. The documentation ranges the
 * other packets come from (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) are
 * outside both, so only the packets meant to match a rule do.
 */
static int rules_generate(struct bench *b, unsigned int n, uint32_t seed)
{
	uint8_t *used = calloc(1U << 21, 1); /* one bit per IPv4 /24 */
	unsigned int i;

	b->rules = calloc(n, sizeof(*b->rules));
	if (!used || !b->rules) {
		free(used);
		pr_warn("out of memory for %u rules\n", n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct bench_rule *r = &b->rules[i];
		struct spw_cidr *c = &r->cidr;

		if (i % 2 == 0) {
			uint32_t blk, first;
			unsigned int len;

			do {
				blk = (uint32_t)(rng_next() >> 40); /* 24 bits: a /24 */
				first = blk >> 16;
			} while (first < 1 || first > 126 || first == 10 ||
				 (used[blk / 8] & (1U << (blk % 8))));
			used[blk / 8] |= (uint8_t)(1U << (blk % 8));
			len = 24 + (unsigned int)(rng_next() % 9);
			c->addr[10] = c->addr[11] = 0xff;
			c->addr[12] = (uint8_t)(blk >> 16);
			c->addr[13] = (uint8_t)(blk >> 8);
			c->addr[14] = (uint8_t)blk;
			c->prefixlen = (uint8_t)(SPW_V4_MAPPED_PREFIX + len);
			c->is_v4 = true;
		} else {
			/* spw_mix32 is a bijection: distinct i give distinct /48s. */
			uint32_t mid = spw_mix32((i / 2) ^ seed);
			unsigned int len = 48 + (unsigned int)(rng_next() % 17);

			c->addr[0] = 0x2a;
			c->addr[1] = 0x00;
			c->addr[2] = (uint8_t)(mid >> 24);
			c->addr[3] = (uint8_t)(mid >> 16);
			c->addr[4] = (uint8_t)(mid >> 8);
			c->addr[5] = (uint8_t)mid;
			c->prefixlen = (uint8_t)len;
			c->is_v4 = false;
		}
		/* Random bits below the parent block, then cleared below the prefix itself. */
		randomize_host_bits(c->addr, c->is_v4 ? SPW_V4_MAPPED_PREFIX + 24 : 48);
		clear_host_bits(c->addr, c->prefixlen);
		r->tier = (uint8_t)(rng_next() % BENCH_TIERS);
	}
	free(used);
	return 0;
}

struct rule_load {
	unsigned int total, added;
	double ms;
};

static struct rule_load rule_loads[4];
static unsigned int rule_load_count;

/* Loads rules until `want` are in the trie, and notes how long it took. */
static int rules_ensure(struct bench *b, unsigned int want)
{
	unsigned int from = b->rules_loaded, i;
	uint64_t t0;
	double ms;
	int err;

	if (want <= from)
		return 0;
	t0 = bench_mono_ns();
	for (i = from; i < want; i++) {
		if (stop_requested)
			return -EINTR;
		err = spw_dp_rule_add(b->dp, &b->rules[i].cidr, b->rules[i].tier, i + 1);
		if (err) {
			char text[SPW_CIDR_STRLEN];

			spw_cidr_format(&b->rules[i].cidr, text, sizeof(text));
			pr_warn("adding rule %u (%s) failed: %s\n", i + 1, text, strerror(-err));
			return err;
		}
	}
	ms = (double)(bench_mono_ns() - t0) / 1e6;
	b->rules_loaded = want;
	pr_info("%u rules loaded (%u new in %.1f ms, %.2f us per rule)\n", want, want - from, ms,
		ms * 1000 / (want - from));
	if (rule_load_count < sizeof(rule_loads) / sizeof(rule_loads[0]))
		rule_loads[rule_load_count++] = (struct rule_load){want, want - from, ms};
	return 0;
}

/*
 * A loaded IPv4 rule of the given tier, /28 or longer, picked at random: an address in it
 * sits at the bottom of the trie, not one step below the root, and random rather than the
 * first or last inserted.
 */
static const struct bench_rule *rule_pick(struct bench *b, uint8_t tier)
{
	unsigned int n = b->rules_loaded, start, k;

	if (!n)
		return NULL;
	start = (unsigned int)(rng_next() % n);
	for (k = 0; k < n; k++) {
		const struct bench_rule *r = &b->rules[(start + k) % n];

		if (r->tier == tier && r->cidr.is_v4 &&
		    r->cidr.prefixlen >= SPW_V4_MAPPED_PREFIX + 28)
			return r;
	}
	return NULL;
}

/* ---- packets and policy ---- */

static void addr_text(const uint8_t addr[SPW_ADDR_LEN], bool is_v4, char *buf, size_t len)
{
	if (is_v4)
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

/*
 * Builds p->data from p's fields with tests/lib/pktbuild: from p->saddr (IPv4 or IPv6) to
 * p->daddr, or to the builder's default destination of that family when it is empty.
 */
static int build_pkt(struct bench_pkt *p)
{
	struct pkt_spec spec = {
	    .family = strchr(p->saddr, ':') ? 6 : 4,
	    .saddr = p->saddr,
	    .daddr = p->daddr[0] ? p->daddr : NULL,
	    .proto = IPPROTO_TCP,
	    .sport = p->sport,
	    .dport = p->dport,
	    .tcp_flags = p->flags,
	    .seq = 0x12345678,
	    .payload_len = p->payload,
	};
	size_t len;

	if (p->flags & PKT_TCP_ACK) {
		spec.ack = 0x9abcdef0;
		spec.tcp_opts_len = 12; /* NOP, NOP, timestamps: every segment of a Linux flow */
	} else {
		spec.tcp_opts_len = PKT_LINUX_SYN_OPTS; /* as a Linux client's SYN */
	}
	len = pkt_build(&spec, p->data, sizeof(p->data));
	if (!len) {
		pr_warn("the packet builder refused a TCP packet from %s\n", p->saddr);
		return -EINVAL;
	}
	p->len = (uint32_t)len;
	return 0;
}

static int build_tcp(struct bench_pkt *p, const char *saddr, uint16_t dport, uint8_t flags,
		     uint16_t payload)
{
	snprintf(p->saddr, sizeof(p->saddr), "%s", saddr);
	p->daddr[0] = 0;
	p->sport = BENCH_SPORT;
	p->dport = dport;
	p->flags = flags;
	p->payload = payload;
	return build_pkt(p);
}

/* A SYN from a random host inside rule r, checked to match r as the data plane looks up. */
static int build_syn_from_rule(struct bench *b, const struct bench_case *c,
			       const struct bench_rule *r, struct bench_pkt *p)
{
	char text[INET6_ADDRSTRLEN], rule[SPW_CIDR_STRLEN];
	uint8_t addr[SPW_ADDR_LEN];
	struct spw_rule found;
	int err;

	memcpy(addr, r->cidr.addr, sizeof(addr));
	randomize_host_bits(addr, r->cidr.prefixlen);
	addr_text(addr, r->cidr.is_v4, text, sizeof(text));
	spw_cidr_format(&r->cidr, rule, sizeof(rule));
	err = build_tcp(p, text, BENCH_SVC_PORT, PKT_TCP_SYN, 0);
	if (err)
		return err;
	err = spw_dp_rule_lookup(b->dp, addr, &found);
	if (err || found.rule_id != (uint32_t)(r - b->rules) + 1 || found.tier != r->tier) {
		pr_warn("%s: source %s should match rule %u (%s, tier %u) but the lookup says %s\n",
			c->name, text, (unsigned int)(r - b->rules) + 1, rule, r->tier,
			err ? strerror(-err) : "another rule");
		return err ? err : -EPROTO;
	}
	pr_info("%s: source %s, inside rule %s (tier %u)\n", c->name, text, rule, r->tier);
	return 0;
}

/*
 * The service's policy for every case: three tiers, a lease valid for the run, and an admit
 * level that sheds all of tier 2, so admitted SYNs are decided under a policy that is
 * shedding something, as in production. No token bucket and no cap: those are other paths.
 * Rewritten before each case, which also renews the lease.
 */
static int policy_write(struct bench *b, uint8_t shed_action)
{
	struct spw_policy p;
	int err, t;

	spw_policy_init(&p, BENCH_TIERS, BENCH_DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + BENCH_LEASE_NS;
	p.admit_level = BENCH_SHED_TIER * SPW_COHORTS;
	for (t = 0; t < SPW_MAX_TIERS; t++) {
		p.action[t] = SPW_ACTION_DROP;
		p.rate_per_sec[t] = 0;
		p.max_conns[t] = 0;
	}
	p.action[BENCH_SHED_TIER] = shed_action;
	err = spw_dp_policy_set(b->dp, BENCH_SVC_ID, &p);
	if (err)
		pr_warn("setting the service's policy failed: %s\n", strerror(-err));
	return err;
}

static int setup_nonservice(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	(void)c;
	return policy_write(b, SPW_ACTION_DROP)
		   ?: build_tcp(p, "203.0.113.7", BENCH_NONSVC_PORT, PKT_TCP_SYN, 0);
}

/* ---- tracked flows ---- */

/* The client of the tracked flows: a documentation address no rule covers (default tier). */
#define BENCH_FLOW_SADDR "203.0.113.8"

/* The flow key of a client packet, as the data plane forms it (16-byte addresses). */
static int flow_key_of(const struct bench_pkt *p, struct spw_flow_key *k)
{
	struct pkt_view v;

	if (pkt_parse(p->data, p->len, &v) || v.l4_proto != IPPROTO_TCP) {
		pr_warn("the bench's own packet from %s does not parse back\n", p->saddr);
		return -EINVAL;
	}
	memset(k, 0, sizeof(*k));
	if (v.family == 4) {
		k->saddr[10] = k->saddr[11] = 0xff;
		k->daddr[10] = k->daddr[11] = 0xff;
		memcpy(k->saddr + 12, v.saddr, 4);
		memcpy(k->daddr + 12, v.daddr, 4);
	} else {
		memcpy(k->saddr, v.saddr, SPW_ADDR_LEN);
		memcpy(k->daddr, v.daddr, SPW_ADDR_LEN);
	}
	k->sport = htons(v.sport);
	k->dport = htons(v.dport);
	k->proto = IPPROTO_TCP;
	return 0;
}

/* 0 and the flow's entry as the data plane keeps it, -ENOENT when there is none. */
static int flow_get(struct bench *b, const struct spw_flow_key *k, struct spw_flow *f)
{
	int err;

	if (!bpf_map_lookup_elem(b->flows_fd, k, f))
		return 0;
	err = -errno;
	if (err != -ENOENT)
		pr_warn("reading the flow table failed: %s\n", strerror(-err));
	return err;
}

/* The flow of packet p is in the table: 0 and its entry, or -EPROTO (said why). */
static int flow_must(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
		     const char *when, struct spw_flow *f)
{
	struct spw_flow_key k;
	int err;

	err = flow_key_of(p, &k);
	if (!err)
		err = flow_get(b, &k, f);
	if (err == -ENOENT) {
		pr_warn("%s: %s: the flow from %s port %u is not in the flow table\n", c->name,
			when, p->saddr, p->sport);
		return -EPROTO;
	}
	return err;
}

/*
 * The active count of the bench service's tier is want. A decrement of nothing would show
 * as a count near 2^64: printed signed, so it reads as -1.
 */
static int expect_active(struct bench *b, const struct bench_case *c, uint32_t tier, uint64_t want,
			 const char *when)
{
	uint64_t n;
	int err;

	err = spw_dp_active_read(b->dp, BENCH_SVC_ID, tier, &n);
	if (err) {
		pr_warn("reading the active count failed: %s\n", strerror(-err));
		return err;
	}
	if (n == want)
		return 0;
	pr_warn("%s: %s: %lld active flows in tier %u, expected %llu\n", c->name, when,
		(long long)n, tier, (unsigned long long)want);
	return -EPROTO;
}

/* The flow table holds nothing and the tier's active count is 0. */
static int expect_no_flows(struct bench *b, const struct bench_case *c, uint32_t tier,
			   const char *when)
{
	uint64_t n;
	uint32_t cap;
	int err;

	err = expect_active(b, c, tier, 0, when);
	if (err)
		return err;
	err = spw_dp_flow_count(b->dp, &n, &cap);
	if (err) {
		pr_warn("counting the flow table's entries failed: %s\n", strerror(-err));
		return err;
	}
	if (!n)
		return 0;
	pr_warn("%s: %s: %llu flows left in the table, expected none\n", c->name, when,
		(unsigned long long)n);
	return -EPROTO;
}

/*
 * The server's SYN-ACK to the client packet cli, through the TC egress program, where a
 * host sees its own replies: it makes the client's admitted flow established. Never timed.
 */
static int server_synack(struct bench *b, const struct bench_case *c, const struct bench_pkt *cli)
{
	static struct bench_pkt s; /* 2 KiB: off the stack */
	uint32_t ret;
	int err;

	memset(&s, 0, sizeof(s));
	snprintf(s.saddr, sizeof(s.saddr), "%s",
		 cli->daddr[0]		   ? cli->daddr
		 : strchr(cli->saddr, ':') ? PKT_DEF_DADDR6
					   : PKT_DEF_DADDR4);
	snprintf(s.daddr, sizeof(s.daddr), "%s", cli->saddr);
	s.sport = cli->dport;
	s.dport = cli->sport;
	s.flags = PKT_TCP_SYN | PKT_TCP_ACK;
	err = build_pkt(&s);
	if (!err)
		err = test_run(&b->tc_egress, &s, 1, NULL, NULL, NULL, &ret, NULL);
	if (err)
		return err;
	if (ret != TC_ACT_OK) {
		pr_warn("%s: the TC egress program returned %u for the server's SYN-ACK, expected "
			"TC_ACT_OK\n",
			c->name, ret);
		return -EPROTO;
	}
	return 0;
}

/*
 * Opens an established flow through the data plane itself: the client's SYN through the
 * tracking XDP program (admitted, inserted), then the server's SYN-ACK through TC egress.
 */
static int flow_open(struct bench *b, const struct bench_case *c, const struct bench_pkt *syn)
{
	uint32_t ret;
	int err;

	err = test_run(&b->spw, syn, 1, NULL, NULL, NULL, &ret, NULL);
	if (!err)
		err = expect_verdict(&b->spw, c, ret, XDP_PASS);
	return err ?: server_synack(b, c, syn);
}

/*
 * The established rows' flow: the table emptied, then one flow opened as above and checked
 * in the table (established, its tier, no request pending) before anything is timed. p gets
 * the client's packet of that flow with the given flags and payload.
 */
static int setup_established(struct bench *b, const struct bench_case *c, struct bench_pkt *p,
			     uint8_t flags, uint16_t payload)
{
	static struct bench_pkt syn; /* 2 KiB: off the stack */
	struct spw_flow *f = &b->flow_seen;
	int err;

	err = flows_empty(b) ?: policy_write(b, SPW_ACTION_DROP)
				   ?: build_tcp(&syn, BENCH_FLOW_SADDR, BENCH_SVC_PORT, PKT_TCP_SYN, 0)
				   ?: flow_open(b, c, &syn) ?: flow_key_of(&syn, &b->flow_key)
				   ?: flow_must(b, c, &syn, "setup", f);
	if (err)
		return err;
	if (f->state != SPW_FLOW_ESTABLISHED || f->tier != BENCH_DEFAULT_TIER || f->req_us ||
	    f->svc_id != BENCH_SVC_ID) {
		pr_warn("%s: setup: the flow is in state %u, tier %u, service %u, req_us %u; "
			"expected established, tier %u, service %u, no request pending\n",
			c->name, f->state, f->tier, f->svc_id, f->req_us, BENCH_DEFAULT_TIER,
			BENCH_SVC_ID);
		return -EPROTO;
	}
	return build_tcp(p, BENCH_FLOW_SADDR, BENCH_SVC_PORT, flags, payload);
}

static int setup_pure_ack(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	return setup_established(b, c, p, PKT_TCP_ACK, 0);
}

static int setup_data(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	return setup_established(b, c, p, PKT_TCP_ACK | PKT_TCP_PSH, 128);
}

static int setup_fin(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	return setup_established(b, c, p, PKT_TCP_ACK | PKT_TCP_FIN, 0);
}

/* Without tracking, a data packet touches no flow: none is made. */
static int setup_data_notrack(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	(void)c;
	return policy_write(b, SPW_ACTION_DROP)
		   ?: build_tcp(p, BENCH_FLOW_SADDR, BENCH_SVC_PORT, PKT_TCP_ACK | PKT_TCP_PSH,
				128);
}

/* Pure ACKs skip the table: the flow is still there, byte for byte as set up. */
static int verify_pure_ack(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
			   enum verify_at at, uint32_t calls)
{
	const char *when = at == AT_FIRST ? "first packet" : "after the run";
	struct spw_flow f;
	int err;

	(void)calls;
	err = flow_must(b, c, p, when, &f);
	if (err)
		return err;
	if (memcmp(&f, &b->flow_seen, sizeof(f))) {
		pr_warn(
		    "%s: %s: the flow's entry changed (state %u, req_us %u, last_us %u): a pure "
		    "ACK should not touch it\n",
		    c->name, when, f.state, f.req_us, f.last_us);
		return -EPROTO;
	}
	return 0;
}

/*
 * The first data packet started a latency measurement (req_us set: the tracker's data path
 * ran); after the run the same request is still pending and the flow still established.
 */
static int verify_data(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
		       enum verify_at at, uint32_t calls)
{
	const char *when = at == AT_FIRST ? "first packet" : "after the run";
	struct spw_flow f;
	int err;

	(void)calls;
	err = flow_must(b, c, p, when, &f);
	if (err)
		return err;
	if (f.state != SPW_FLOW_ESTABLISHED || !f.req_us ||
	    (at != AT_FIRST && f.req_us != b->flow_seen.req_us)) {
		pr_warn("%s: %s: the flow is in state %u with req_us %u (was %u): expected "
			"established with %s\n",
			c->name, when, f.state, f.req_us, b->flow_seen.req_us,
			at == AT_FIRST ? "a request pending" : "the same request pending");
		return -EPROTO;
	}
	b->flow_seen = f;
	return 0;
}

/* Each SYN inserted its flow: the first one is in the table, a round's count is its calls. */
static int verify_insert(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
			 enum verify_at at, uint32_t calls)
{
	struct spw_flow f;
	int err;

	if (at == AT_ROUND)
		return expect_active(b, c, c->tier, calls, "after a round");
	if (at != AT_FIRST)
		return 0;
	err = flow_must(b, c, p, "first packet", &f);
	if (!err && (f.state != SPW_FLOW_SYN_SEEN || f.tier != c->tier)) {
		pr_warn("%s: first packet: the new flow is in state %u, tier %u; expected SYN "
			"seen, tier %u\n",
			c->name, f.state, f.tier, c->tier);
		err = -EPROTO;
	}
	return err;
}

/* The control of the insert row inserts nothing: the same SYNs, decided without tracking. */
static int verify_no_insert(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
			    enum verify_at at, uint32_t calls)
{
	struct spw_flow_key k;
	struct spw_flow f;
	int err;

	(void)calls;
	if (at == AT_ROUND)
		return expect_no_flows(b, c, c->tier, "after a round");
	err = flow_key_of(p, &k);
	if (!err)
		err = flow_get(b, &k, &f);
	if (!err) {
		pr_warn("%s: the SYN without tracking left a flow in the table\n", c->name);
		return -EPROTO;
	}
	return err == -ENOENT ? 0 : err;
}

/*
 * Before a FIN round: one established flow per call, opened through the data plane (SYN via
 * the case's XDP program, SYN-ACK via TC egress), on the source ports the timed FINs carry.
 */
static int prep_fin(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
		    uint32_t calls)
{
	static struct bench_pkt syn; /* 2 KiB: off the stack */
	struct prog *pg = case_prog(b, c);
	uint32_t i, ret;
	int err;

	syn = *p;
	syn.flags = PKT_TCP_SYN;
	syn.payload = 0;
	for (i = 0; i < calls; i++) {
		if (stop_requested)
			return -EINTR;
		syn.sport = (uint16_t)(UNIQUE_SPORT_BASE + i);
		err = build_pkt(&syn) ?: test_run(pg, &syn, 1, NULL, NULL, NULL, &ret, NULL);
		if (err)
			return err;
		b->prep_packets++;
		err = expect_verdict(pg, c, ret, XDP_PASS) ?: server_synack(b, c, &syn);
		if (err)
			return err;
	}
	return expect_active(b, c, c->prep_tier, calls, "after opening the round's flows");
}

/* Every FIN deleted its flow and gave its place back: nothing left, counts at 0. */
static int verify_fin(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
		      enum verify_at at, uint32_t calls)
{
	(void)p;
	(void)calls;
	return expect_no_flows(b, c, c->tier,
			       at == AT_FIRST	? "first packet"
			       : at == AT_ROUND ? "after a round"
						: "after the run");
}

static int setup_syn(struct bench *b, const struct bench_case *c, struct bench_pkt *p, uint8_t tier,
		     uint8_t shed_action)
{
	const struct bench_rule *r;
	int err;

	err = policy_write(b, shed_action);
	if (err)
		return err;
	r = rule_pick(b, tier);
	if (!r) {
		pr_warn("%s: no IPv4 rule of tier %u among the %u loaded\n", c->name, tier,
			b->rules_loaded);
		return -ENOENT;
	}
	b->syn_rule = r;
	return build_syn_from_rule(b, c, r, p);
}

/* A SYN from a source no rule covers (none are loaded yet): the service's default tier. */
static int setup_syn_norule(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	(void)c;
	return policy_write(b, SPW_ACTION_DROP)
		   ?: build_tcp(p, "203.0.113.9", BENCH_SVC_PORT, PKT_TCP_SYN, 0);
}

static int setup_syn_admit(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	/* Tier 0, not the default tier 1: the admitted counter's tier proves the rule matched. */
	return setup_syn(b, c, p, 0, SPW_ACTION_DROP);
}

/* The control of the insert row: a SYN from the same rule, when that row ran. */
static int setup_syn_admit_again(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	const struct bench_rule *r = b->syn_rule;
	int err;

	if (!r || r->tier != 0)
		return setup_syn_admit(b, c, p);
	err = policy_write(b, SPW_ACTION_DROP);
	return err ?: build_syn_from_rule(b, c, r, p);
}

static int setup_syn_drop(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	return setup_syn(b, c, p, BENCH_SHED_TIER, SPW_ACTION_DROP);
}

static int setup_syn_reject(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	return setup_syn(b, c, p, BENCH_SHED_TIER, SPW_ACTION_REJECT);
}

/* The reject's output is a RST+ACK back to the client with correct checksums. */
static int check_rst(const struct bench_pkt *in, const uint8_t *out, uint32_t len)
{
	struct pkt_view vi, vo;

	if (pkt_parse(in->data, in->len, &vi) || pkt_parse(out, len, &vo)) {
		pr_warn("the rejected SYN's output does not parse as a packet\n");
		return -EPROTO;
	}
	if (vo.l4_proto != IPPROTO_TCP || !(vo.tcp_flags & PKT_TCP_RST) || vo.sport != vi.dport ||
	    vo.dport != vi.sport || memcmp(vo.daddr, vi.saddr, 16) || vo.ack != vi.seq + 1 ||
	    (vo.family == 4 && !pkt_ipv4_csum_ok(out, len)) || !pkt_l4_csum_ok(out, len)) {
		pr_warn("the rejected SYN's output is not a RST+ACK back to the client with right "
			"checksums (flags 0x%02x, ports %u->%u)\n",
			vo.tcp_flags, vo.sport, vo.dport);
		return -EPROTO;
	}
	return 0;
}

/*
 * The cases, in the order they run. Rules are only added, never removed: `rules` is what a row
 * needs at least, and a row that needs some must come after every row that needs fewer (the
 * established and FIN paths never look at rules, so theirs is 0 wherever they run). Each row
 * answers to one issue's goals: issue 2's predate flow tracking and are measured without it;
 * issue 3's are with tracking on.
 */
static const struct bench_case cases[] = {
    /* ---- issue 2: the data plane (goals for the programs without TCP tracking) ---- */
    {
	/* Returns before anything tracking touches: the same path with tracking on. */
	.name = "non-service (TCP SYN to :9090)",
	.issue = ISSUE_2,
	.goal = 2.5,
	.prog = PROG_SPW_NOTRACK,
	.setup = setup_nonservice,
	.verdict = XDP_PASS,
	.svc = SPW_SVC_NONE,
	.tier = SPW_TIER_NONE,
	.reason = SPW_REASON_NOT_SERVICE,
    },
    {
	.name = "established, ACK + 128 B data (no tracking)",
	.issue = ISSUE_2,
	.goal = 3,
	.prog = PROG_SPW_NOTRACK,
	.setup = setup_data_notrack,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = SPW_TIER_NONE, /* no flow looked up, so no tier */
	.reason = SPW_REASON_ESTABLISHED,
    },
    {
	/* No goal: the fixed cost of a decision, to set the rule rows against. */
	.name = "SYN admitted, no rules (no tracking)",
	.issue = ISSUE_2,
	.prog = PROG_SPW_NOTRACK,
	.setup = setup_syn_norule,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_DEFAULT_TIER,
	.reason = SPW_REASON_ADMITTED,
    },
    {
	.name = "SYN admitted, 10k rules (no tracking)",
	.issue = ISSUE_2,
	.goal = 30,
	.prog = PROG_SPW_NOTRACK,
	.rules = RULES_10K,
	.setup = setup_syn_admit,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = 0,
	.reason = SPW_REASON_ADMITTED,
    },
    {
	.name = "SYN admitted, 100k rules (no tracking)",
	.issue = ISSUE_2,
	.goal = 40,
	.prog = PROG_SPW_NOTRACK,
	.rules = RULES_100K,
	.setup = setup_syn_admit,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = 0,
	.reason = SPW_REASON_ADMITTED,
    },
    {
	/* No goal; as deployed (tracking on: a shed SYN also misses one flow lookup). */
	.name = "SYN shed, drop, 100k rules",
	.issue = ISSUE_2,
	.rules = RULES_100K,
	.setup = setup_syn_drop,
	.verdict = XDP_DROP,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_SHED_TIER,
	.reason = SPW_REASON_SHED_LEVEL,
    },
    {
	/*
	 * The row above at repeat=1: how much of a starred row's +ns is the per-call mode (cold
	 * caches after the syscall) rather than the path. No goal.
	 */
	.name = "SYN shed, drop, 100k rules, repeat=1 *",
	.issue = ISSUE_2,
	.mode = RUN_SINGLE,
	.rules = RULES_100K,
	.setup = setup_syn_drop,
	.verdict = XDP_DROP,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_SHED_TIER,
	.reason = SPW_REASON_SHED_LEVEL,
    },
    {
	.name = "SYN shed, reject, 100k rules *",
	.issue = ISSUE_2,
	.mode = RUN_SINGLE,
	.rules = RULES_100K,
	.setup = setup_syn_reject,
	.verdict = XDP_TX,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_SHED_TIER,
	.reason = SPW_REASON_SHED_LEVEL,
	.check_out = check_rst,
    },
    /* ---- issue 3: flow tracking (tracking on) ---- */
    {
	.name = "established, pure ACK, tracked flow",
	.issue = ISSUE_3,
	.goal = 3,
	.setup = setup_pure_ack,
	.verify = verify_pure_ack,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = SPW_TIER_NONE, /* pure ACKs skip the flow table, so their tier is not known */
	.reason = SPW_REASON_ESTABLISHED,
    },
    {
	.name = "established, ACK + 128 B data, tracked flow",
	.issue = ISSUE_3,
	.goal = 5,
	.setup = setup_data,
	.verify = verify_data,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_DEFAULT_TIER, /* the flow's tier: proves the flow was found */
	.reason = SPW_REASON_ESTABLISHED,
    },
    {
	.name = "SYN admitted + insert, 100k rules *",
	.issue = ISSUE_3,
	.mode = RUN_SINGLE,
	.unique_flows = true,
	.rules = RULES_100K,
	.setup = setup_syn_admit,
	.verify = verify_insert,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = 0,
	.reason = SPW_REASON_ADMITTED,
	.control = "SYN admitted, 100k rules, no tracking *",
    },
    {
	/* The insert row's control: the same SYNs the same way, decided without tracking. */
	.name = "SYN admitted, 100k rules, no tracking *",
	.issue = ISSUE_3,
	.prog = PROG_SPW_NOTRACK,
	.mode = RUN_SINGLE,
	.unique_flows = true,
	.rules = RULES_100K,
	.setup = setup_syn_admit_again,
	.verify = verify_no_insert,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = 0,
	.reason = SPW_REASON_ADMITTED,
    },
    {
	.name = "FIN + delete, tracked flow *",
	.issue = ISSUE_3,
	.mode = RUN_SINGLE,
	.unique_flows = true,
	.setup = setup_fin,
	.prep = prep_fin,
	.prep_tier = BENCH_DEFAULT_TIER,
	.prep_reason = SPW_REASON_ADMITTED,
	.verify = verify_fin,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_DEFAULT_TIER, /* the flow's tier: proves the flow was found */
	.reason = SPW_REASON_ESTABLISHED,
    },
};

#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

/* ---- running a case ---- */

/*
 * Returns 0, -EPROTO when the case did not run as named (no figure; the others still run),
 * or another -errno when the run cannot go on.
 */
static int run_case(struct bench *b, const struct bench_case *c, struct result *res)
{
	double spw[MAX_ROUNDS], empty[MAX_ROUNDS];
	struct prog *pg = case_prog(b, c);
	uint32_t rep_spw, rep_empty, ret, out_len;
	static struct bench_pkt p; /* 2 KiB: off the stack */
	static uint8_t out[PKT_BUF_MAX];
	uint64_t base, prep_base;
	unsigned int r;
	int err;

	err = rules_ensure(b, c->rules);
	if (err)
		return err;
	memset(&p, 0, sizeof(p));
	err = c->setup(b, c, &p);
	if (err)
		return err;

	/* One packet first: verdict, output and counters, before anything is timed. */
	err = counters_snapshot(b, b->cnt_before);
	if (err)
		return err;
	base = pg->packets;
	prep_base = b->prep_packets;
	err = test_run(pg, &p, 1, out, &out_len, NULL, &ret, NULL);
	if (err)
		return err;
	err = expect_verdict(pg, c, ret, c->verdict);
	if (!err && c->check_out)
		err = c->check_out(&p, out, out_len);
	if (!err)
		err = counters_expect(b, c, pg->packets - base, 0, "first packet");
	if (!err && c->verify)
		err = c->verify(b, c, &p, AT_FIRST, 1);
	if (err)
		return err;
	err = test_run(&b->empty, &p, 1, NULL, NULL, NULL, &ret, NULL);
	if (err)
		return err;
	err = expect_verdict(&b->empty, c, ret, XDP_PASS);
	if (err)
		return err;

	err = calibrate(b, pg, c, &p, c->verdict, &rep_spw);
	if (!err)
		err = calibrate(b, &b->empty, c, &p, XDP_PASS, &rep_empty);
	if (err)
		return err;
	pr_info("%s: %u rounds of %s %u (spillway) and %u (empty)\n", c->name, b->rounds,
		c->mode == RUN_SINGLE ? "repeat=1 calls:" : "repeat", rep_spw, rep_empty);

	for (r = 0; r < b->rounds; r++) {
		if (c->mode == RUN_SINGLE) {
			err = round_single(b, &b->empty, c, &p, XDP_PASS, rep_empty, &empty[r]);
			if (!err)
				err = round_single(b, pg, c, &p, c->verdict, rep_spw, &spw[r]);
		} else {
			err = round_repeat(&b->empty, c, &p, XDP_PASS, rep_empty, &empty[r]);
			if (!err)
				err = round_repeat(pg, c, &p, c->verdict, rep_spw, &spw[r]);
		}
		if (err)
			return err;
		pr_debug("%s: round %u: spillway %.2f ns, empty %.2f ns\n", c->name, r + 1, spw[r],
			 empty[r]);
	}

	/* Every packet timed took the path named, not only the first. */
	err = counters_expect(b, c, pg->packets - base - (b->prep_packets - prep_base),
			      b->prep_packets - prep_base, "timed packets");
	if (!err && c->verify)
		err = c->verify(b, c, &p, AT_END, 0);
	if (err)
		return err;

	res->spw_ns = median(spw, b->rounds);
	res->empty_ns = median(empty, b->rounds);
	res->spw_min = res->spw_max = spw[0];
	for (r = 1; r < b->rounds; r++) {
		if (spw[r] < res->spw_min)
			res->spw_min = spw[r];
		if (spw[r] > res->spw_max)
			res->spw_max = spw[r];
	}
	res->done = true;
	return 0;
}

/* ---- memory per tracked flow ---- */

/* Issue 3's goal: bytes of kernel memory per tracked flow. */
#define FLOW_BYTES_GOAL 128

/* A map as the kernel describes it, and the memory it charges for it. */
struct map_mem {
	struct bpf_map_info info;
	uint64_t memlock; /* bytes: the "memlock:" line of the map's fdinfo, as bpftool shows */
};

struct mem_report {
	bool tried, done;
	struct map_mem flows, active, latency;
	int ncpus;	    /* possible CPUs: per-CPU maps hold a value for each */
	long elem_hdr;	    /* sizeof(struct htab_elem), from the kernel's BTF; < 0: unknown */
	long bucket;	    /* sizeof(struct bucket), the same way */
	uint64_t n_buckets; /* max_entries rounded up to a power of 2, as htab_map_alloc does */
	double computed;    /* bytes per flow, from the sizes above */
	double measured;    /* memlock / max_entries */
	double marginal;    /* memlock difference of two scratch maps alike / entries difference */
	uint32_t scratch_lo, scratch_hi;
	char fdinfo[64]; /* where memlock came from */
};

static int map_memlock(int fd, uint64_t *out)
{
	char path[64], line[256];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "memlock: %llu", &v) == 1) {
			*out = v;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int map_mem_of(int fd, const char *name, struct map_mem *m)
{
	__u32 len = sizeof(m->info);
	int err;

	memset(m, 0, sizeof(*m));
	if (bpf_obj_get_info_by_fd(fd, &m->info, &len)) {
		err = -errno;
		pr_warn("reading the info of map %s failed: %s\n", name, strerror(-err));
		return err;
	}
	err = map_memlock(fd, &m->memlock);
	if (err)
		pr_warn("reading the memlock of map %s from /proc/self/fdinfo failed: %s\n", name,
			strerror(-err));
	return err;
}

/*
 * Size of a kernel struct from the kernel's own BTF. With `member`, the first struct of that
 * name that has such a member: "bucket" names more than one struct in vmlinux.
 */
static long kernel_struct_size(const struct btf *btf, const char *name, const char *member)
{
	int n = (int)btf__type_cnt(btf), id, i;

	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_member *m;

		if (!btf_is_struct(t) || strcmp(btf__name_by_offset(btf, t->name_off), name))
			continue;
		if (!member)
			return t->size;
		m = btf_members(t);
		for (i = 0; i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, m[i].name_off), member))
				return t->size;
	}
	return -ENOENT;
}

/* memlock of a scratch hash map like the flow table, with n entries; closed again. */
static int scratch_memlock(const struct bpf_map_info *like, uint32_t n, uint64_t *out)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = like->map_flags);
	int fd, err;

	fd = bpf_map_create(like->type, "spw_bench_mem", like->key_size, like->value_size, n, &o);
	if (fd < 0) {
		err = -errno;
		pr_warn("creating a scratch hash map of %u entries failed: %s\n", n,
			strerror(-err));
		return err;
	}
	err = map_memlock(fd, out);
	close(fd);
	return err;
}

static uint64_t round_up8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

/*
 * Bytes per tracked flow, three ways: computed from the sizes (key, value, the kernel's element
 * and bucket headers), measured as the map's memlock over its entries, and measured as the
 * difference between two scratch maps of the same kind, which leaves the fixed parts out.
 * Plus the fixed cost of the active-count and latency maps.
 */
static int memory_measure(struct bench *b, struct mem_report *mr)
{
	const struct bpf_map_info *fi = &mr->flows.info;
	uint64_t lo_mem, hi_mem;
	struct btf *btf;
	int err;

	memset(mr, 0, sizeof(*mr));
	mr->tried = true;
	mr->ncpus = libbpf_num_possible_cpus();
	err = map_mem_of(b->flows_fd, SPW_MAP_NAME(flows), &mr->flows)
		  ?: map_mem_of(b->active_fd, SPW_MAP_NAME(active), &mr->active)
		  ?: map_mem_of(b->latency_fd, SPW_MAP_NAME(latency), &mr->latency);
	if (err)
		return err;
	snprintf(mr->fdinfo, sizeof(mr->fdinfo), "/proc/self/fdinfo/%d", b->flows_fd);
	if (fi->type != BPF_MAP_TYPE_HASH || (fi->map_flags & BPF_F_NO_PREALLOC) ||
	    fi->key_size != sizeof(struct spw_flow_key) ||
	    fi->value_size != sizeof(struct spw_flow)) {
		pr_warn(
		    "the flow table is not the preallocated hash of spw_flow_key -> spw_flow this "
		    "bench computes for (type %u, flags 0x%x, key %u B, value %u B)\n",
		    fi->type, fi->map_flags, fi->key_size, fi->value_size);
		return -EPROTO;
	}
	btf = btf__load_vmlinux_btf();
	if (btf) {
		mr->elem_hdr = kernel_struct_size(btf, "htab_elem", "hash");
		mr->bucket = kernel_struct_size(btf, "bucket", "raw_lock");
		btf__free(btf);
	} else {
		mr->elem_hdr = mr->bucket = -errno;
		pr_warn("the kernel's BTF is not readable: %s; no computed figure\n",
			strerror(errno));
	}
	for (mr->n_buckets = 1; mr->n_buckets < fi->max_entries; mr->n_buckets <<= 1)
		;
	if (mr->elem_hdr > 0 && mr->bucket > 0)
		mr->computed =
		    (double)(mr->elem_hdr + round_up8(fi->key_size) + round_up8(fi->value_size)) +
		    (double)mr->bucket * (double)mr->n_buckets / fi->max_entries;
	mr->measured = (double)mr->flows.memlock / fi->max_entries;

	mr->scratch_hi = fi->max_entries;
	mr->scratch_lo = fi->max_entries / 2;
	err = scratch_memlock(fi, mr->scratch_lo, &lo_mem)
		  ?: scratch_memlock(fi, mr->scratch_hi, &hi_mem);
	if (err)
		return err;
	mr->marginal = ((double)hi_mem - (double)lo_mem) / (mr->scratch_hi - mr->scratch_lo);
	mr->done = true;
	return 0;
}

static const char *map_type_name(uint32_t type)
{
	return libbpf_bpf_map_type_str((enum bpf_map_type)type) ?: "?";
}

/* Returns 1 when the per-flow goal is missed. */
static int memory_print(const struct mem_report *mr)
{
	const struct bpf_map_info *fi = &mr->flows.info;
	const struct bpf_map_info *ai = &mr->active.info, *li = &mr->latency.info;
	bool over = mr->measured > FLOW_BYTES_GOAL;
	char text[64];

	printf("\n-- issue 3 goal: memory per tracked flow, %s (%s, preallocated, %u entries)\n",
	       SPW_MAP_NAME(flows), map_type_name(fi->type), fi->max_entries);
	printf("  %-40s %s\n", "", "from");
	snprintf(text, sizeof(text), "key %u B + value %u B", fi->key_size, fi->value_size);
	printf("  %-40s %s\n", text, "bpf_map_info of the pinned map");
	if (mr->computed > 0) {
		snprintf(text, sizeof(text), "+ element header %ld B", mr->elem_hdr);
		printf("  %-40s %s\n", text, "struct htab_elem, the kernel's BTF");
		snprintf(text, sizeof(text), "  = %llu B per element",
			 (unsigned long long)(mr->elem_hdr + round_up8(fi->key_size) +
					      round_up8(fi->value_size)));
		printf("  %-40s %s\n", text, "key and value rounded up to 8 B, as laid out");
		snprintf(text, sizeof(text), "+ bucket %ld B x %llu / %u", mr->bucket,
			 (unsigned long long)mr->n_buckets, fi->max_entries);
		printf("  %-40s %s\n", text, "struct bucket (BTF) x buckets / entries");
		snprintf(text, sizeof(text), "computed: %.1f B per flow", mr->computed);
		printf("  %-40s %s\n", text, "the sizes above");
	}
	snprintf(text, sizeof(text), "measured: %.1f B per flow", mr->measured);
	printf("  %-40s memlock / max_entries: %llu B, the \"memlock:\" line of\n", text,
	       (unsigned long long)mr->flows.memlock);
	printf("  %-40s %s (as bpftool map show prints it)\n", "", mr->fdinfo);
	if (mr->computed > 0)
		printf("  %-40s of which %.0f B fixed: struct bpf_htab, and per CPU\n", "",
		       (double)mr->flows.memlock - mr->computed * fi->max_entries);
	if (mr->computed > 0)
		printf("  %-40s (%d here) a spare element and lock flags\n", "", mr->ncpus);
	snprintf(text, sizeof(text), "marginal: %.1f B per flow", mr->marginal);
	printf("  %-40s memlock difference of two scratch maps alike,\n", text);
	printf("  %-40s %u and %u entries, / %u\n", "", mr->scratch_hi, mr->scratch_lo,
	       mr->scratch_hi - mr->scratch_lo);
	snprintf(text, sizeof(text), "goal <=%d B per flow (measured)", FLOW_BYTES_GOAL);
	printf("  %-40s %s\n", text, over ? "OVER" : "ok");
	printf("  fixed cost, not per flow (memlock from fdinfo):\n");
	snprintf(text, sizeof(text), "%s: %llu B", SPW_MAP_NAME(active),
		 (unsigned long long)mr->active.memlock);
	printf("    %-38s %s, %u x %u B%s\n", text, map_type_name(ai->type), ai->max_entries,
	       ai->value_size, ai->map_flags & BPF_F_MMAPABLE ? ", mmapable (page-rounded)" : "");
	snprintf(text, sizeof(text), "%s: %llu B", SPW_MAP_NAME(latency),
		 (unsigned long long)mr->latency.memlock);
	printf("    %-38s %s, %u x %u B x %d possible CPUs\n", text, map_type_name(li->type),
	       li->max_entries, li->value_size, mr->ncpus);
	return over;
}

/* ---- output ---- */

/* The footnote of the * rows. */
static const char *const star_note[] = {
    "*  repeat=1 per call (reject rewrites the packet, an admitted SYN inserts its\n",
    "   flow, a FIN deletes it; the repeat=1 drop row is their control): both\n",
    "   columns are whole BPF_PROG_RUN calls (syscall, copy in and out, one run)\n",
    "   against the empty program's own repeat=1 baseline, so that ratio is not\n",
    "   comparable with the other rows. +ns over the empty program's per-packet\n",
    "   cost is an upper bound, as it includes the cache misses of one packet per\n",
    "   syscall (compare the drop row with its control). Each FIN deletes one of\n",
    "   the established flows opened (untimed) before its round, one per call.\n",
};

static const char *const issue_title[] = {
    [ISSUE_2] = "issue 2 goals: the data plane, with TCP tracking off (the goals predate it);\n"
		"   its rows without a goal run as deployed, tracking on",
    [ISSUE_3] = "issue 3 goals: flow tracking, TCP tracking on",
};

static int case_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < CASE_COUNT; i++)
		if (!strcmp(cases[i].name, name))
			return (int)i;
	return -1;
}

static void print_table(const struct bench *b, const struct result *res,
			const struct mem_report *mr, double elapsed_s)
{
	double empties[CASE_COUNT], empty_pkt = 0;
	unsigned int i, n_empty = 0, over = 0, invalid = 0, starred = 0;
	int section = -1;
	struct utsname u;

	for (i = 0; i < CASE_COUNT; i++)
		if (res[i].done && cases[i].mode == RUN_REPEAT)
			empties[n_empty++] = res[i].empty_ns;
	if (n_empty)
		empty_pkt = median(empties, n_empty);
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");

	printf("\nspillway XDP data plane through BPF_PROG_RUN, kernel %s, pinned to CPU %d\n",
	       u.release, b->cpu);
	if (bench_clock == CLOCK_MONOTONIC)
		printf("ns per packet from wall time around large repeat counts (-w), median of "
		       "%u rounds\n",
		       b->rounds);
	else
		printf(
		    "ns per packet from this thread's CPU time around large repeat counts "
		    "(steadier\nthan wall time on this shared machine; -w for wall time), median "
		    "of %u rounds\n",
		    b->rounds);
	printf("alternating empty/spillway; hot cache (one packet repeated); trk: TCP tracking\n");
	printf("\n%-44s %3s %9s %9s %7s %7s %7s %7s  %s\n", "case", "trk", "spillway", "empty",
	       "ratio", "goal", "+ns", "spread", "result");
	for (i = 0; i < CASE_COUNT; i++) {
		const struct bench_case *c = &cases[i];
		const struct result *r = &res[i];
		double ratio;
		char goal[16];

		if (!r->invalid && !r->done)
			continue;
		if ((int)c->issue != section) {
			section = (int)c->issue;
			printf("-- %s\n", issue_title[section]);
		}
		if (r->invalid) {
			printf("%-44s  no figure: did not run as named (see the warnings)\n",
			       c->name);
			invalid++;
			continue;
		}
		ratio = r->empty_ns > 0 ? r->spw_ns / r->empty_ns : 0;
		if (c->goal > 0)
			snprintf(goal, sizeof(goal), "<=%.3gx", c->goal);
		else
			snprintf(goal, sizeof(goal), "-");
		printf("%-44s %3s %9.1f %9.1f %6.2fx %7s %7.1f %6.1f%%  %s\n", c->name,
		       c->prog == PROG_SPW_NOTRACK ? "off" : "on", r->spw_ns, r->empty_ns, ratio,
		       goal, r->spw_ns - r->empty_ns,
		       r->spw_ns > 0 ? 100 * (r->spw_max - r->spw_min) / r->spw_ns : 0,
		       c->goal <= 0	  ? "-"
		       : ratio <= c->goal ? "ok"
					  : "OVER");
		if (c->goal > 0 && ratio > c->goal)
			over++;
		if (c->mode == RUN_SINGLE)
			starred++;
	}
	printf(
	    "\n+ns: spillway minus empty; spread: (max - min) / median of the spillway rounds\n");
	if (starred) {
		for (i = 0; i < sizeof(star_note) / sizeof(star_note[0]); i++)
			fputs(star_note[i], stdout);
		if (empty_pkt > 0)
			printf("   With %.1f ns per empty packet (median of the other rows), that "
			       "is:\n",
			       empty_pkt);
		for (i = 0; i < CASE_COUNT; i++) {
			const struct result *r = &res[i];
			int k;

			if (!r->done || cases[i].mode != RUN_SINGLE || empty_pkt <= 0)
				continue;
			printf("     %-42s %.2fx the empty program\n", cases[i].name,
			       (empty_pkt + r->spw_ns - r->empty_ns) / empty_pkt);
			k = cases[i].control ? case_index(cases[i].control) : -1;
			if (k >= 0 && res[k].done)
				printf("       minus its control (%s): %+.1f ns\n", cases[k].name,
				       (r->spw_ns - r->empty_ns) -
					   (res[k].spw_ns - res[k].empty_ns));
		}
	}
	if (mr->done)
		over += (unsigned int)memory_print(mr);
	else if (mr->tried)
		printf(
		    "\n-- issue 3 goal: memory per tracked flow: NO FIGURE (see the warnings)\n");
	printf("\n");
	for (i = 0; i < rule_load_count; i++)
		printf("rule load: %u -> %u rules in %.1f ms (%.2f us per spw_dp_rule_add)\n",
		       rule_loads[i].total - rule_loads[i].added, rule_loads[i].total,
		       rule_loads[i].ms, rule_loads[i].ms * 1000 / rule_loads[i].added);
	printf("total run time %.1f s\n\n", elapsed_s);
	if (over)
		printf("%u goal%s MISSED (OVER above)\n", over, over > 1 ? "s" : "");
	else
		printf("every goal met\n");
	if (invalid)
		printf("%u case%s gave NO FIGURE: %s not take the path named\n", invalid,
		       invalid > 1 ? "s" : "", invalid > 1 ? "they did" : "it did");
}

/* ---- setup and teardown ---- */

/*
 * A map of the data plane by its pin: the bench reads the flow table as the data plane keeps
 * it, and the kernel's memory figures of the maps, without going through libspillway.
 */
static int map_open(struct bench *b, const char *name, int *fd)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", spw_dp_pin_root(b->dp), name);
	*fd = bpf_obj_get(path);
	if (*fd >= 0)
		return 0;
	err = -errno;
	pr_warn("opening the pinned map %s failed: %s\n", path, strerror(-err));
	return err;
}

/*
 * The data plane under a private pin root, twice: as deployed, and the same maps with the
 * programs loaded without TCP tracking. The flood guard is set as high as it goes: its code
 * runs for every insert, as deployed, but never refuses one, which would be another path.
 */
static int open_dataplanes(struct bench *b, const char *pin_root)
{
	struct spw_dp_opts o = {.pin_root = pin_root};
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = BENCH_SVC_PORT};
	int err;

	err = spw_dp_open(&b->dp, &o);
	if (err) {
		pr_warn("opening the data plane under %s failed: %s%s\n", pin_root, strerror(-err),
			err == -EPERM ? " (the benchmark needs root)" : "");
		return err;
	}
	o.no_tcp_tracking = true;
	err = spw_dp_open(&b->dp_notrack, &o);
	if (err) {
		pr_warn("opening the data plane without TCP tracking failed: %s\n", strerror(-err));
		return err;
	}
	b->spw = (struct prog){.name = "spillway", .fd = spw_dp_prog_fd(b->dp, SPW_PROG_XDP)};
	b->spw_notrack = (struct prog){.name = "spillway (no TCP tracking)",
				       .fd = spw_dp_prog_fd(b->dp_notrack, SPW_PROG_XDP)};
	b->tc_egress = (struct prog){.name = "spillway TC egress",
				     .fd = spw_dp_prog_fd(b->dp, SPW_PROG_TC_EGRESS)};
	if (b->spw.fd < 0 || b->spw_notrack.fd < 0 || b->tc_egress.fd < 0) {
		pr_warn("the data plane has no XDP or no TC egress program\n");
		return -ENOENT;
	}
	err = map_open(b, SPW_MAP_NAME(flows), &b->flows_fd) ?: map_open(b, SPW_MAP_NAME(active), &b->active_fd)
			  ?: map_open(b, SPW_MAP_NAME(latency), &b->latency_fd);
	if (err)
		return err;
	b->empty_skel = empty_xdp__open_and_load();
	if (!b->empty_skel) {
		err = -errno;
		pr_warn("loading the empty XDP program failed: %s\n", strerror(-err));
		return err;
	}
	b->empty =
	    (struct prog){.name = "empty", .fd = bpf_program__fd(b->empty_skel->progs.empty_xdp)};
	err = spw_dp_flood_guard_set(b->dp, SPW_RATE_MAX, SPW_RATE_MAX);
	if (err) {
		pr_warn("setting the flood guard failed: %s\n", strerror(-err));
		return err;
	}
	err = spw_dp_service_add(b->dp, &m, BENCH_SVC_ID);
	if (err)
		pr_warn("adding the service tcp/%d failed: %s\n", BENCH_SVC_PORT, strerror(-err));
	return err;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bench_dataplane [-r ROUNDS] [-t MS] [-c CPU] [-s SEED] [-k TEXT] [-w] [-v]\n"
	    "  Measures spillway's XDP program per packet through BPF_PROG_RUN, as a ratio to\n"
	    "  an empty XDP program. Needs root. Exits 0 when goals are missed (it is a\n"
	    "  benchmark), 1 when a case did not take the path it names or the run failed.\n"
	    "  -r ROUNDS  rounds per figure, alternating the programs (default %d, max %d)\n"
	    "  -t MS      time of one timed call or batch (default %d)\n"
	    "  -c CPU     CPU to pin to (default: the last one allowed)\n"
	    "  -s SEED    seed for rules and addresses (default 1)\n"
	    "  -k TEXT    only the cases whose name contains TEXT\n"
	    "  -w         time with the wall clock instead of the thread's CPU time\n"
	    "  -v         print every round\n",
	    DEF_ROUNDS, MAX_ROUNDS, DEF_TARGET_MS);
}

static int parse_opt_u32(char opt, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char err[128];

	if (spw_parse_u32(text, min, max, out, err, sizeof(err))) {
		pr_warn("-%c: %s\n", opt, err);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct result res[CASE_COUNT];
	static struct mem_report mem;
	struct bench b = {.rounds = DEF_ROUNDS, .flows_fd = -1, .active_fd = -1, .latency_fd = -1};
	uint32_t target_ms = DEF_TARGET_MS, cpu = UINT32_MAX, seed = 1;
	const char *only = NULL;
	/* A second signal is fatal (SA_RESETHAND): Ctrl-C twice always stops the process. */
	struct sigaction sa = {.sa_handler = bench_on_signal, .sa_flags = SA_RESETHAND};
	uint64_t t_start = bench_mono_ns();
	char pin_root[PATH_MAX] = "";
	bool failed = false;
	unsigned int i;
	int opt, err = 0;

	spw_log_install_libbpf();
	while ((opt = getopt(argc, argv, "r:t:c:s:k:wvh")) != -1) {
		switch (opt) {
		case 'r':
			err = parse_opt_u32('r', optarg, 1, MAX_ROUNDS, &b.rounds);
			break;
		case 't':
			err = parse_opt_u32('t', optarg, 10, 10000, &target_ms);
			break;
		case 'c':
			err = parse_opt_u32('c', optarg, 0, CPU_SETSIZE - 1, &cpu);
			break;
		case 's':
			err = parse_opt_u32('s', optarg, 0, UINT32_MAX, &seed);
			break;
		case 'k':
			only = optarg;
			break;
		case 'w':
			bench_clock = CLOCK_MONOTONIC;
			break;
		case 'v':
			spw_log_set_level(SPW_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
		if (err)
			return 1;
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	b.target_ns = (uint64_t)target_ms * 1000000ULL;
	rng_seed(seed);

	/* No SA_RESTART: a signal interrupts a long BPF_PROG_RUN (-EINTR), then cleanup runs. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (bench_pin_cpu(cpu == UINT32_MAX ? -1 : (int)cpu, &b.cpu))
		return 1;
	pr_info("pinned to CPU %d\n", b.cpu);

	err = rules_generate(&b, RULES_MAX, seed);
	if (err)
		goto out;
	b.cnt_before = calloc(SPW_COUNTER_ENTRIES, sizeof(*b.cnt_before));
	b.cnt_after = calloc(SPW_COUNTER_ENTRIES, sizeof(*b.cnt_after));
	if (!b.cnt_before || !b.cnt_after) {
		pr_warn("out of memory for the counters\n");
		err = -ENOMEM;
		goto out;
	}

	/* A pin root of its own: the bench never touches a running spillway's maps. */
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/spw-bench-%d-%llx", (int)getpid(),
		 (unsigned long long)bench_mono_ns());
	err = open_dataplanes(&b, pin_root);
	if (err)
		goto out;

	for (i = 0; i < CASE_COUNT; i++) {
		if (only && !strstr(cases[i].name, only))
			continue;
		pr_info("case %u/%zu: %s\n", i + 1, CASE_COUNT, cases[i].name);
		err = run_case(&b, &cases[i], &res[i]);
		if (err == -EPROTO && !stop_requested) {
			pr_warn("%s: no figure: it did not take the path it names\n",
				cases[i].name);
			res[i].invalid = true;
			failed = true;
			err = 0;
			continue;
		}
		if (err)
			break;
	}
	if (stop_requested)
		pr_warn("interrupted\n");
	else if (err)
		pr_warn("stopped at \"%s\": %s\n", cases[i].name, strerror(-err));
	else if (memory_measure(&b, &mem))
		failed = true;
	print_table(&b, res, &mem, (double)(bench_mono_ns() - t_start) / 1e9);

out:
	/* Unpin through the handle, or by hand if that fails or the open never finished. */
	if (b.flows_fd >= 0)
		close(b.flows_fd);
	if (b.active_fd >= 0)
		close(b.active_fd);
	if (b.latency_fd >= 0)
		close(b.latency_fd);
	empty_xdp__destroy(b.empty_skel);
	if (b.dp && !spw_dp_unpin_all(b.dp))
		pin_root[0] = 0;
	bench_remove_tree(pin_root);
	spw_dp_close(b.dp_notrack);
	spw_dp_close(b.dp);
	free(b.cnt_before);
	free(b.cnt_after);
	free(b.rules);
	return err || failed ? 1 : 0;
}
