// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy updates are atomic for the data plane: a writer thread flips a service's whole
 * policy between A and B (spw_dp_policy_set, and spw_dp_policies_set's batch) while this thread
 * runs SYNs through the program, one BPF_PROG_RUN each (repeat=1: a reject rewrites the packet in
 * place).
 *
 *   A: default tier 0, level 0, floor 32, every tier drops      -> tier 0 admitted: PASS
 *   B: default tier 2, level 0, floor 0, tier 2 rejects, 0 drops -> tier 2 rejected: TX
 *
 * The data plane reads the default tier first and the level, floor and action last, with the
 * rule, DSCP and salt lookups in between: that is the window a torn record would show in. A
 * packet that saw fields of both gets an outcome neither gives alone:
 *   A's tier 0 + B's floor 0 and action[0]           -> DROP
 *   B's tier 2 + A's action[2] (shed by either level) -> DROP
 * and the counters must show tier 0 admissions and tier 2 rejects only. Both pure outcomes must
 * be seen, or the test proved nothing; no mixed one may be.
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>
#include <cmocka.h>
#include <linux/pkt_cls.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define SVC_ID	 1
#define SVC_PORT 80
/* Tens of thousands of packets: enough flips land mid-lookup to catch a torn record. */
#define PACKETS 150000
/* Fewer completed flips than this and the race was hardly exercised. */
#define MIN_FLIPS 200
#define LEASE_NS  (600ULL * 1000000000ULL)
/* Rules and trusted hosts around the client, none of them the client (see add_near_misses). */
#define NEAR_MISSES 1024
#define CLIENT_HOST 7
#define CLIENT_ADDR "10.200.0.7"
#define CLIENT_DSCP 46
/* Client ports used per server address; PACKETS / PORTS server addresses in 192.0.2.0/24. */
#define PORTS 60000
/* Counters a correct run moves: tier-0 admitted, flood_guard, table_full; tier-2 shed. */
#define MAX_CHANGES 4

struct atomic_ctx {
	struct spw_fixture fx;
	enum spw_prog prog;
	struct spw_policy a, b;
	atomic_bool stop;
	atomic_ulong flips;
	int writer_err;
	cpu_set_t saved;  /* the thread's CPUs at setup, given back at teardown */
	int cpu[2], ncpu; /* the first two of them */
};

static void policy_pair(struct spw_policy *a, struct spw_policy *b)
{
	uint64_t lease = spw_now_ns() + LEASE_NS;

	spw_policy_init(a, 3, 0);
	a->lease_expires_ns = lease;
	a->admit_level = 0;
	a->floor_level = SPW_COHORTS;
	for (int i = 0; i < SPW_MAX_TIERS; i++)
		a->action[i] = SPW_ACTION_DROP;

	spw_policy_init(b, 3, 2);
	b->lease_expires_ns = lease;
	b->admit_level = 0;
	b->floor_level = 0;
	for (int i = 0; i < SPW_MAX_TIERS; i++)
		b->action[i] = i == 2 ? SPW_ACTION_REJECT : SPW_ACTION_DROP;
}

/*
 * Widens the window between the early read (default tier) and the late ones: the client
 * matches no rule but walks deep into a trie of /32 rules around it, and its DSCP is mapped
 * but it is not trusted, so a second deep walk (the trust trie) comes before the decision.
 */
static void add_near_misses(struct atomic_ctx *c)
{
	struct spw_cidr cidr;
	char text[32];

	for (unsigned int host = 0; host < NEAR_MISSES; host++) {
		if (host == CLIENT_HOST)
			continue;
		snprintf(text, sizeof(text), "10.200.%u.%u/32", host >> 8, host & 0xff);
		assert_int_equal(spw_fixture_cidr(text, &cidr), 0);
		assert_int_equal(spw_dp_rule_add(c->fx.dp, &cidr, 1, host + 1), 0);
		assert_int_equal(spw_dp_trusted_add(c->fx.dp, &cidr), 0);
	}
	assert_int_equal(spw_dp_dscp_set(c->fx.dp, CLIENT_DSCP, 1), 0);
}

/* A and B are each written one at a time and in a batch (what a daemon's tick does). */
static void *writer(void *arg)
{
	struct atomic_ctx *c = arg;
	const uint32_t id = SVC_ID;
	struct spw_policy p;

	for (uint32_t gen = 0; !atomic_load(&c->stop); gen++) {
		p = gen & 1 ? c->b : c->a;
		p.generation = gen;
		c->writer_err = gen & 2 ? spw_dp_policies_set(c->fx.dp, &id, &p, 1)
					: spw_dp_policy_set(c->fx.dp, SVC_ID, &p);
		if (c->writer_err)
			break;
		atomic_fetch_add(&c->flips, 1);
	}
	return NULL;
}

static int setup(void **state)
{
	static struct atomic_ctx ctx[2];
	struct atomic_ctx *c = &ctx[*(const enum spw_prog *)*state == SPW_PROG_XDP ? 0 : 1];

	memset(c, 0, sizeof(*c));
	c->prog = *(const enum spw_prog *)*state;
	if (pthread_getaffinity_np(pthread_self(), sizeof(c->saved), &c->saved))
		return -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && c->ncpu < 2; cpu++)
		if (CPU_ISSET(cpu, &c->saved))
			c->cpu[c->ncpu++] = cpu;
	if (spw_fixture_open(&c->fx))
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct atomic_ctx *c = *state;

	/* A failed assertion jumps past a test's own restore. */
	pthread_setaffinity_np(pthread_self(), sizeof(c->saved), &c->saved);
	spw_fixture_close(&c->fx);
	return 0;
}

static void test_flip(void **state)
{
	struct atomic_ctx *c = *state;
	const int v_tx = c->prog == SPW_PROG_XDP ? XDP_TX : TC_ACT_REDIRECT;
	const int v_pass = c->prog == SPW_PROG_XDP ? XDP_PASS : TC_ACT_UNSPEC;
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = SVC_PORT};
	struct pkt_spec spec = {.family = 4,
				.proto = IPPROTO_TCP,
				.dport = SVC_PORT,
				.tcp_flags = PKT_TCP_SYN,
				.seq = 1,
				.tcp_opts_len = PKT_LINUX_SYN_OPTS};
	unsigned long n_tx = 0, n_pass = 0, n_other = 0;
	struct spw_fx_change ch[MAX_CHANGES];
	uint64_t total_bytes = 0, bytes = 0, counted_tx = 0, counted_pass = 0;
	char daddr[INET_ADDRSTRLEN];
	uint8_t pkt[PKT_BUF_MAX];
	struct spw_run run;
	pthread_t thr;
	int err = 0, n;

	policy_pair(&c->a, &c->b);
	assert_int_equal(spw_dp_service_add(c->fx.dp, &m, SVC_ID), 0);
	add_near_misses(c);
	assert_int_equal(spw_dp_policy_set(c->fx.dp, SVC_ID, &c->a), 0);
	assert_int_equal(spw_fixture_mark(&c->fx), 0);
	assert_int_equal(pthread_create(&thr, NULL, writer, c), 0);

	for (unsigned int i = 0; i < PACKETS; i++) {
		size_t len;

		/* A new 5-tuple each time: every SYN is a new flow, whatever is tracked. */
		spec.sport = (uint16_t)(1024 + i % PORTS);
		snprintf(daddr, sizeof(daddr), "192.0.2.%u", 10 + i / PORTS);
		spec.daddr = daddr;
		len = pkt_build(&spec, pkt, sizeof(pkt));
		total_bytes += len;
		err = len ? spw_fixture_run(&c->fx, c->prog, pkt, len, &run) : -EINVAL;
		if (err)
			break;
		if (run.retval == v_tx)
			n_tx++;
		else if (run.retval == v_pass)
			n_pass++;
		else if (n_other++ < 5)
			print_error("packet %u: verdict %d, a mix of A and B\n", i, run.retval);
	}
	atomic_store(&c->stop, true);
	pthread_join(thr, NULL);

	print_message("    %s: %lu flips, %lu pass (A), %lu reject (B), %lu mixed\n",
		      c->prog == SPW_PROG_XDP ? "xdp" : "tc", atomic_load(&c->flips), n_pass, n_tx,
		      n_other);
	assert_int_equal(err, 0);
	assert_int_equal(c->writer_err, 0);
	assert_true(atomic_load(&c->flips) >= MIN_FLIPS);
	assert_int_equal(n_other, 0);
	assert_true(n_tx > 0);
	assert_true(n_pass > 0);

	/*
	 * Every packet counted as what its outcome says: A's tier-0 admissions (tracked, or
	 * untracked when the flood guard or a full table says so: admitted all the same) and
	 * B's tier-2 sheds. A mix would add tier-0 sheds or move the tier-2 count.
	 */
	n = spw_fixture_changes(&c->fx, ch, MAX_CHANGES);
	assert_true(n > 0);
	for (int i = 0; i < n && i < MAX_CHANGES; i++) {
		print_message("    counter [%u][%u][%s] +%llu\n", ch[i].svc, ch[i].tier_slot,
			      spw_reason_name(ch[i].reason),
			      (unsigned long long)ch[i].delta.packets);
		bytes += ch[i].delta.bytes;
		if (ch[i].svc == SVC_ID && ch[i].tier_slot == 2 &&
		    ch[i].reason == SPW_REASON_SHED_LEVEL)
			counted_tx += ch[i].delta.packets;
		else if (ch[i].svc == SVC_ID && ch[i].tier_slot == 0 &&
			 (ch[i].reason == SPW_REASON_ADMITTED ||
			  ch[i].reason == SPW_REASON_FLOOD_GUARD ||
			  ch[i].reason == SPW_REASON_TABLE_FULL))
			counted_pass += ch[i].delta.packets;
		else
			fail_msg("counted on [%u][%u][%s]: neither A's nor B's outcome", ch[i].svc,
				 ch[i].tier_slot, spw_reason_name(ch[i].reason));
	}
	assert_true(n <= MAX_CHANGES);
	assert_int_equal(counted_tx, n_tx);
	assert_int_equal(counted_pass, n_pass);
	assert_int_equal(bytes, total_bytes);
}

/* Runs one new-flow SYN on the thread's which-th CPU (each CPU keeps its own copy). */
static int syn_on_cpu(struct atomic_ctx *c, int which, unsigned int i)
{
	struct pkt_spec spec = {.family = 4,
				.proto = IPPROTO_TCP,
				.daddr = "192.0.2.10",
				.dport = SVC_PORT,
				.sport = (uint16_t)(2048 + i),
				.tcp_flags = PKT_TCP_SYN,
				.seq = 1,
				.tcp_opts_len = PKT_LINUX_SYN_OPTS};
	uint8_t pkt[PKT_BUF_MAX];
	struct spw_run run;
	cpu_set_t set;
	size_t len = pkt_build(&spec, pkt, sizeof(pkt));

	CPU_ZERO(&set);
	CPU_SET(c->cpu[which], &set);
	if (!len || pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		return -1;
	if (spw_fixture_run(&c->fx, c->prog, pkt, len, &run))
		return -1;
	return (int)run.retval;
}

/* One new-flow SYN on each of the thread's CPUs, each answered want. */
static void syns_each_cpu(struct atomic_ctx *c, unsigned int *i, int want)
{
	for (int cpu = 0; cpu < c->ncpu; cpu++)
		assert_int_equal(syn_on_cpu(c, cpu, (*i)++), want);
}

/* The verdicts of a pass and of a bounced (rejected) packet in this context's program. */
static int verdict_pass(const struct atomic_ctx *c)
{
	return c->prog == SPW_PROG_XDP ? XDP_PASS : TC_ACT_UNSPEC;
}

static int verdict_tx(const struct atomic_ctx *c)
{
	return c->prog == SPW_PROG_XDP ? XDP_TX : TC_ACT_REDIRECT;
}

/* The service the per-CPU tests send to. */
static void add_service(struct atomic_ctx *c)
{
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = SVC_PORT};

	assert_int_equal(spw_dp_service_add(c->fx.dp, &m, SVC_ID), 0);
}

/*
 * The data plane decides from a per-CPU copy of the policy and copies the record again only
 * when its stamp changed. Every write must reach every CPU's next packet, even one that
 * changes nothing the copy could be told apart by (same lease, same generation), and a
 * deleted policy must fail open at once.
 */
static void test_each_write_seen_at_once(void **state)
{
	struct atomic_ctx *c = *state;
	struct spw_count n;
	unsigned int i = 0;

	policy_pair(&c->a, &c->b);
	c->a.generation = c->b.generation = 7;
	add_service(c);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(spw_dp_policy_set(c->fx.dp, SVC_ID, &c->a), 0);
		syns_each_cpu(c, &i, verdict_pass(c));
		/* B through the batch, the daemon's way; then A again one at a time. */
		assert_int_equal(spw_dp_policies_set(c->fx.dp, &(uint32_t){SVC_ID}, &c->b, 1), 0);
		syns_each_cpu(c, &i, verdict_tx(c));
	}
	assert_int_equal(spw_fixture_mark(&c->fx), 0);
	assert_int_equal(spw_dp_policy_del(c->fx.dp, SVC_ID), 0);
	syns_each_cpu(c, &i, verdict_pass(c));
	assert_int_equal(spw_fixture_delta(&c->fx, SVC_ID, SPW_TIER_NONE, SPW_REASON_FAIL_OPEN, &n),
			 0);
	assert_int_equal(n.packets, (uint64_t)c->ncpu);
}

/*
 * The lease is read against a coarse clock each CPU caches per jiffy (clock.bpf.h): a lease
 * that runs out while SYNs keep coming fails open on every CPU within a few ticks.
 */
static void test_lease_runs_out_mid_traffic(void **state)
{
	struct atomic_ctx *c = *state;
	/* Past the lease by more than two ticks at HZ=100, the slowest common setting. */
	const struct timespec past_expiry = {.tv_nsec = 150 * 1000000L};
	struct spw_count n;
	unsigned int i = 0;

	policy_pair(&c->a, &c->b);
	c->b.lease_expires_ns = spw_now_ns() + 100 * 1000000ULL;
	add_service(c);
	assert_int_equal(spw_dp_policy_set(c->fx.dp, SVC_ID, &c->b), 0);
	syns_each_cpu(c, &i, verdict_tx(c));
	while (spw_now_ns() < c->b.lease_expires_ns)
		nanosleep(&past_expiry, NULL);
	nanosleep(&past_expiry, NULL);
	assert_int_equal(spw_fixture_mark(&c->fx), 0);
	syns_each_cpu(c, &i, verdict_pass(c));
	assert_int_equal(spw_fixture_delta(&c->fx, SVC_ID, 2, SPW_REASON_FAIL_OPEN, &n), 0);
	assert_int_equal(n.packets, (uint64_t)c->ncpu);
}

/* A batch writes every good policy whole; a bad one is refused alone, its slot untouched. */
static void test_batch_refuses_bad_alone(void **state)
{
	struct atomic_ctx *c = *state;
	const uint32_t ids[4] = {SVC_ID, SPW_SVC_NONE, SVC_ID + 1, SVC_ID + 2};
	struct spw_policy p[4], got;

	policy_pair(&c->a, &c->b);
	p[0] = c->b;
	p[0].generation = 11;
	p[1] = c->a;
	p[2] = c->a;
	p[2].admit_level = SPW_RANK_LIMIT + 1;
	p[3] = c->a;
	p[3].generation = 13;
	assert_int_equal(spw_dp_policies_set(c->fx.dp, ids, p, 4), -EINVAL);
	assert_int_equal(spw_dp_policy_get(c->fx.dp, SVC_ID, &got), 0);
	assert_int_equal(got.generation, 11);
	assert_int_equal(got.default_tier, 2);
	assert_int_equal(got.action[2], SPW_ACTION_REJECT);
	assert_int_equal(spw_dp_policy_get(c->fx.dp, SVC_ID + 1, &got), -ENOENT);
	assert_int_equal(spw_dp_policy_get(c->fx.dp, SVC_ID + 2, &got), 0);
	assert_int_equal(got.generation, 13);
	assert_int_equal(got.default_tier, 0);
	assert_int_equal(spw_dp_policies_set(c->fx.dp, ids, p, 0), 0);
	assert_int_equal(spw_dp_policies_set(c->fx.dp, ids, p, SPW_MAX_SERVICES + 1), -EINVAL);
}

int main(void)
{
	static const enum spw_prog xdp = SPW_PROG_XDP, tc = SPW_PROG_TC_INGRESS;
	const struct CMUnitTest tests[] = {
	    {"[xdp] policy flipped A<->B under SYNs: A's or B's outcome, never a mix", test_flip,
	     setup, teardown, (void *)&xdp},
	    {"[tc] policy flipped A<->B under SYNs: A's or B's outcome, never a mix", test_flip,
	     setup, teardown, (void *)&tc},
	    {"[xdp] each policy write reaches every CPU's next SYN, same lease or not",
	     test_each_write_seen_at_once, setup, teardown, (void *)&xdp},
	    {"[tc] each policy write reaches every CPU's next SYN, same lease or not",
	     test_each_write_seen_at_once, setup, teardown, (void *)&tc},
	    {"[xdp] a lease that runs out mid-traffic fails open on every CPU within ticks",
	     test_lease_runs_out_mid_traffic, setup, teardown, (void *)&xdp},
	    {"[tc] a lease that runs out mid-traffic fails open on every CPU within ticks",
	     test_lease_runs_out_mid_traffic, setup, teardown, (void *)&tc},
	    {"a batch of policies: the good written whole, a bad one refused alone",
	     test_batch_refuses_bad_alone, setup, teardown, (void *)&xdp},
	};

	return cmocka_run_group_tests_name("bpf_policy_atomic", tests, NULL, NULL);
}
