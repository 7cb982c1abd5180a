// SPDX-License-Identifier: GPL-2.0-only
/*
 * Flow tracking through BPF_PROG_RUN: every state transition of the flow table, the exact
 * active counts, the concurrency cap, the latency histogram, the flood guard, a full table,
 * exempt sources, and libspillway's sweep and clear.
 *
 * Client packets go through the ingress program under test (XDP or TC ingress: every test
 * runs once with each), server packets through TC egress, which is where a host sees its own
 * replies. Each test has a data plane of its own (fresh pin root, empty maps), so no test sees
 * another's flows or counts. The flow table is read and, where a test needs a known timestamp,
 * written through the pinned map itself (<pin root>/spw_flows), not through libspillway: what
 * is checked is what the data plane keeps.
 *
 * Every ingress packet must move exactly one counter, the one named; egress counts only the
 * packets it marks (marked_egress).
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_latency.h"
#include "spillway_rank.h"
#include "spillway_recent.h"
#include "spw_dataplane.h"
#include "spw_request_age.h"
#include "dpcheck.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Services: two TCP (so clear is seen across services) and one UDP. */
#define SVC_TCP	  1
#define SVC_UDP	  2
#define SVC_TCP2  3
#define PORT_TCP  80
#define PORT_UDP  53
#define PORT_TCP2 443

/* Three tiers; unclassified clients land in the most sheddable one. */
#define TIERS	     3
#define DEFAULT_TIER 2
/* Clients of each tier (CIDR rules below), and the IPv6 client (default tier). */
#define CLI_T0	"10.0.0.5"
#define CLI_T1	"10.0.1.5"
#define CLI_T2	"198.51.100.7"
#define CLI_V6	"2001:db8:100::7"
#define RULE_T0 "10.0.0.0/24"
#define RULE_T1 "10.0.1.0/24"

/* Client ports: each flow of a test gets its own, counting up from here. */
#define CPORT 40000

/* A lease far longer than any test: a fail-open must never pass for an admit. */
#define LEASE_NS (600ULL * 1000000000ULL)

/* Flow table entries of most tests: far more than any test opens. */
#define TEST_TABLE 1024

/* Microseconds, as the flow table stamps them. */
#define US_PER_S 1000000U

/*
 * Sequence numbers of the default packets: the server acks the client's SYN (ISN + 1), as a
 * real server does, so its acks leave the tracker's window where the SYN put it.
 */
#define CLI_SEQ 0x1000u
#define SRV_SEQ 0x9000u
#define SRV_ACK (CLI_SEQ + 1)
#define CLI_ACK (SRV_SEQ + 1)

/* Payload of a data segment: any non-zero length is a request or a response. */
#define DATA_LEN 100

/* Bytes of padding a 54-byte frame gets on the wire to reach Ethernet's 60-byte minimum. */
#define ETH_PAD 6

enum verdict { V_PASS, V_DROP, V_REJECT };

/* Who sends: the client (the ingress program under test) or the server (TC egress). */
enum dir { CLI, SRV };

struct flow {
	int family;	 /* 4 or 6 */
	const char *cli; /* client address; the server is the family's default address */
	uint16_t cport;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port; /* the service's port */
	uint32_t svc;
	uint32_t tier; /* the tier the flow was admitted in */
	uint32_t cseq; /* the client's sequence number; 0: CLI_SEQ */
	uint32_t sack; /* the server's ack; 0: SRV_ACK */
};

struct fctx {
	enum spw_prog prog; /* ingress under test */
	struct spw_fixture fx;
	struct spw_dataplane *dp;
	uint32_t salt;
	uint16_t next_port;
	bool pinned_cpu; /* restore the affinity below in the teardown */
	cpu_set_t affinity;
};

static const enum spw_prog prog_xdp = SPW_PROG_XDP;
static const enum spw_prog prog_tc = SPW_PROG_TC_INGRESS;

static const char *hook(const struct fctx *t)
{
	return t->prog == SPW_PROG_XDP ? "xdp" : "tc";
}

/* Checks name the hook first: "[xdp] failed: ...". */
#define CHECK(t, cond, fmt, ...) SPW_CHECK_IN(cond, #cond, "[%s] ", fmt, hook(t), ##__VA_ARGS__)
#define CHECK_OK(t, call)	 SPW_CHECK_OK_IN(call, #call, "[%s] ", hook(t))
#include "check.h"

static const char *reason_str(unsigned int r)
{
	const char *s = spw_reason_name(r);

	return s ? s : "?";
}

static int verdict_code(enum spw_prog p, enum verdict v)
{
	static const int xdp[] = {[V_PASS] = XDP_PASS, [V_DROP] = XDP_DROP, [V_REJECT] = XDP_TX};
	static const int tc[] = {
	    [V_PASS] = TC_ACT_UNSPEC, [V_DROP] = TC_ACT_SHOT, [V_REJECT] = TC_ACT_REDIRECT};

	return p == SPW_PROG_XDP ? xdp[v] : tc[v];
}

/* CLOCK_MONOTONIC in microseconds, truncated to 32 bits: the flow table's stamps. */
static uint32_t now_us(void)
{
	return (uint32_t)(spw_now_ns() / 1000);
}

/* ---- configuration ----------------------------------------------------------------------- */

static void set_policy(struct fctx *t, uint32_t svc, const uint32_t max_conns[TIERS],
		       uint8_t action, uint16_t admit_level)
{
	struct spw_policy p;

	spw_policy_init(&p, TIERS, DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.admit_level = admit_level;
	for (int i = 0; i < SPW_MAX_TIERS; i++)
		p.action[i] = action;
	for (int i = 0; max_conns && i < TIERS; i++)
		p.max_conns[i] = max_conns[i];
	CHECK_OK(t, spw_dp_policy_set(t->dp, svc, &p));
}

static void add_rule(struct fctx *t, const char *cidr, uint8_t tier, uint32_t id)
{
	struct spw_cidr c;

	CHECK(t, spw_fixture_cidr(cidr, &c) == 0, "bad CIDR %s", cidr);
	CHECK_OK(t, spw_dp_rule_add(t->dp, &c, tier, id));
}

static void add_service(struct fctx *t, uint8_t proto, uint16_t port, uint32_t svc)
{
	struct spw_service_match m = {.proto = proto, .port = port};

	CHECK_OK(t, spw_dp_service_add(t->dp, &m, svc));
}

static struct fctx *build_opts(void **state, const struct spw_dp_opts *opts)
{
	struct fctx *t = *state;
	struct spw_globals g;

	CHECK_OK(t, spw_fixture_open_opts(&t->fx, opts));
	t->dp = t->fx.dp;
	add_service(t, IPPROTO_TCP, PORT_TCP, SVC_TCP);
	add_service(t, IPPROTO_UDP, PORT_UDP, SVC_UDP);
	add_service(t, IPPROTO_TCP, PORT_TCP2, SVC_TCP2);
	add_rule(t, RULE_T0, 0, 1);
	add_rule(t, RULE_T1, 1, 2);
	/* Everything admitted, no caps, until a test says otherwise. */
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	set_policy(t, SVC_UDP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	set_policy(t, SVC_TCP2, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	CHECK_OK(t, spw_dp_globals_get(t->dp, &g));
	t->salt = g.cohort_salt;
	return t;
}

/* cmocka skips the teardown when a setup fails: the fixture is built in the test itself. */
static struct fctx *build(void **state)
{
	/* Small: the kernel preallocates every entry, and each test opens its own table. */
	const struct spw_dp_opts opts = {.flow_capacity = TEST_TABLE};

	return build_opts(state, &opts);
}

static int setup(void **state)
{
	struct fctx *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->prog = *(const enum spw_prog *)*state;
	t->next_port = CPORT;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct fctx *t = *state;
	char root[SPW_FX_PIN_LEN];
	int left;

	if (!t)
		return 0;
	if (t->pinned_cpu)
		sched_setaffinity(0, sizeof(t->affinity), &t->affinity);
	snprintf(root, sizeof(root), "%s", t->fx.pin_root);
	spw_fixture_close(&t->fx);
	left = root[0] && access(root, F_OK) == 0;
	if (left)
		fprintf(stderr, "teardown: pin root %s is still there\n", root);
	free(t);
	*state = NULL;
	return left ? -1 : 0;
}

/* ---- flows and packets ------------------------------------------------------------------- */

/* A new TCP flow of the main service from cli, with a client port of its own. */
static struct flow tcp_flow(struct fctx *t, const char *cli, uint32_t tier)
{
	struct flow f = {
	    .family = strchr(cli, ':') ? 6 : 4,
	    .cli = cli,
	    .cport = t->next_port++,
	    .proto = IPPROTO_TCP,
	    .port = PORT_TCP,
	    .svc = SVC_TCP,
	    .tier = tier,
	};
	return f;
}

static struct flow udp_flow(struct fctx *t, const char *cli, uint32_t tier)
{
	struct flow f = tcp_flow(t, cli, tier);

	f.proto = IPPROTO_UDP;
	f.port = PORT_UDP;
	f.svc = SVC_UDP;
	return f;
}

static const char *srv_addr(const struct flow *f)
{
	return f->family == 6 ? PKT_DEF_DADDR6 : PKT_DEF_DADDR4;
}

static size_t build_pkt(struct fctx *t, const struct flow *f, enum dir d, uint8_t flags,
			uint16_t payload, uint8_t *buf, size_t cap)
{
	struct pkt_spec s = {
	    .family = f->family,
	    .saddr = d == CLI ? f->cli : srv_addr(f),
	    .daddr = d == CLI ? srv_addr(f) : f->cli,
	    .proto = f->proto,
	    .sport = d == CLI ? f->cport : f->port,
	    .dport = d == CLI ? f->port : f->cport,
	    .tcp_flags = flags,
	    .seq = d == CLI ? (f->cseq ? f->cseq : CLI_SEQ) : SRV_SEQ,
	    .ack = !(flags & PKT_TCP_ACK) ? 0
		   : d == CLI		  ? CLI_ACK
		   : f->sack		  ? f->sack
					  : SRV_ACK,
	    /* A SYN as Linux sends it: the options must not confuse the payload length. */
	    .tcp_opts_len = flags & PKT_TCP_SYN ? PKT_LINUX_SYN_OPTS : 0,
	    .payload_len = payload,
	};
	size_t len = pkt_build(&s, buf, cap);

	CHECK(t, len > 0, "the packet spec does not build");
	return len;
}

/* The flow's key: the client side, addresses in the 16-byte form, ports in network order. */
static void flow_key(struct fctx *t, const struct flow *f, struct spw_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	CHECK(t, spw_fixture_addr(f->cli, k->saddr) == 0, "bad address %s", f->cli);
	CHECK(t, spw_fixture_addr(srv_addr(f), k->daddr) == 0, "bad address %s", srv_addr(f));
	k->sport = htons(f->cport);
	k->dport = htons(f->port);
	k->proto = f->proto;
}

/* 0 and the entry, or -ENOENT. */
static int flow_get(struct fctx *t, const struct flow *f, struct spw_flow *v)
{
	struct spw_flow_key k;

	int err;

	flow_key(t, f, &k);
	err = spw_dp_flow_get(t->dp, &k, v);
	if (err) {
		CHECK(t, err == -ENOENT, "flow lookup: %s", strerror(-err));
		return -ENOENT;
	}
	return 0;
}

static struct spw_flow flow_must(struct fctx *t, const struct flow *f)
{
	struct spw_flow v;

	CHECK(t, flow_get(t, f, &v) == 0, "flow from %s port %u is not in the table", f->cli,
	      f->cport);
	return v;
}

static void flow_gone(struct fctx *t, const struct flow *f)
{
	struct spw_flow v;

	CHECK(t, flow_get(t, f, &v) == -ENOENT,
	      "flow from %s port %u is still in the table (state %u)", f->cli, f->cport, v.state);
}

static bool flow_unchanged(struct fctx *t, const struct flow *f, const struct spw_flow *before)
{
	struct spw_flow v = flow_must(t, f);

	return !memcmp(&v, before, sizeof(v));
}

/* Overwrites an existing entry: how a test gives a flow a known age or a pending request. */
static void flow_put(struct fctx *t, const struct flow *f, const struct spw_flow *v)
{
	struct spw_flow_key k;

	int err;

	flow_key(t, f, &k);
	err = spw_dp_flow_replace(t->dp, &k, v);
	CHECK(t, err == 0, "flow update: %s", strerror(-err));
}

static void expect_active(struct fctx *t, uint32_t svc, uint32_t tier, uint64_t want)
{
	char why[128];

	CHECK(t, spw_check_active(t->dp, svc, tier, want, why, sizeof(why)) == 0, "%s", why);
}

/* Every (service, tier) count of the test's services is 0. */
static void expect_all_idle(struct fctx *t)
{
	static const uint32_t svcs[] = {SVC_TCP, SVC_UDP, SVC_TCP2};

	/* SPW_ACTIVE_TOTAL included: every place given back is given back in the total too. */
	for (size_t i = 0; i < ARRAY_SIZE(svcs); i++)
		for (uint32_t tier = 0; tier < SPW_TIER_SLOTS; tier++)
			expect_active(t, svcs[i], tier, 0);
}

static uint64_t table_entries(struct fctx *t)
{
	uint64_t n;
	uint32_t cap;

	CHECK_OK(t, spw_dp_flow_count(t->dp, &n, &cap));
	return n;
}

/* Exactly one counter moved since the mark: [svc][tier][reason], by one packet of len bytes. */
static void expect_counted(struct fctx *t, uint32_t svc, uint32_t tier, enum spw_reason r,
			   size_t len)
{
	struct spw_fx_change ch[4];
	int n = spw_fixture_changes(&t->fx, ch, ARRAY_SIZE(ch));

	CHECK(t, n >= 0, "reading counters: %s", strerror(-n));
	for (int i = 0; i < n && i < (int)ARRAY_SIZE(ch); i++)
		if (n != 1 || ch[i].svc != svc || ch[i].tier_slot != tier || ch[i].reason != r)
			print_message("    counter moved: [%u][%u][%s] +%llu\n", ch[i].svc,
				      ch[i].tier_slot, reason_str(ch[i].reason),
				      (unsigned long long)ch[i].delta.packets);
	CHECK(t, n == 1, "%d counters moved, want exactly [%u][%u][%s]", n, svc, tier,
	      reason_str(r));
	CHECK(t, ch[0].svc == svc && ch[0].tier_slot == tier && ch[0].reason == r,
	      "counted on [%u][%u][%s], want [%u][%u][%s]", ch[0].svc, ch[0].tier_slot,
	      reason_str(ch[0].reason), svc, tier, reason_str(r));
	CHECK(t, ch[0].delta.packets == 1 && ch[0].delta.bytes == len, "+%llu packets +%llu bytes",
	      (unsigned long long)ch[0].delta.packets, (unsigned long long)ch[0].delta.bytes);
}

/* Runs a frame through the ingress program: verdict and the one counter it must move. */
static void ingress_frame(struct fctx *t, const uint8_t *pkt, size_t len, enum verdict v,
			  uint32_t svc, uint32_t tier, enum spw_reason r)
{
	struct spw_run run;
	struct pkt_view in, out;

	CHECK_OK(t, spw_fixture_mark(&t->fx));
	CHECK_OK(t, spw_fixture_run(&t->fx, t->prog, pkt, len, &run));
	CHECK(t, run.retval == verdict_code(t->prog, v), "verdict %d, want %d", run.retval,
	      verdict_code(t->prog, v));
	expect_counted(t, svc, tier, r, len);
	if (v != V_REJECT) {
		CHECK(t, run.len == len && !memcmp(run.data, pkt, len), "packet modified");
		return;
	}
	/* The admission tests check the reply byte by byte; here only that it is a reset. */
	CHECK(t, pkt_parse(pkt, len, &in) == 0 && pkt_parse(run.data, run.len, &out) == 0,
	      "reply does not parse");
	CHECK(t,
	      out.tcp_flags == (PKT_TCP_RST | PKT_TCP_ACK) && out.sport == in.dport &&
		  out.dport == in.sport,
	      "reply is not the client's RST (flags %#x)", out.tcp_flags);
}

/* A client packet of flow f. */
static void cli(struct fctx *t, const struct flow *f, uint8_t flags, uint16_t payload,
		enum verdict v, uint32_t tier, enum spw_reason r)
{
	uint8_t pkt[PKT_BUF_MAX];
	size_t len = build_pkt(t, f, CLI, flags, payload, pkt, sizeof(pkt));

	ingress_frame(t, pkt, len, v, f->svc, tier, r);
}

/* A server packet of flow f, through TC egress: always passed, never counted, untouched. */
static void srv(struct fctx *t, const struct flow *f, uint8_t flags, uint16_t payload)
{
	uint8_t pkt[PKT_BUF_MAX];
	size_t len = build_pkt(t, f, SRV, flags, payload, pkt, sizeof(pkt));
	struct spw_run run;
	int n;

	CHECK_OK(t, spw_fixture_mark(&t->fx));
	CHECK_OK(t, spw_fixture_run(&t->fx, SPW_PROG_TC_EGRESS, pkt, len, &run));
	CHECK(t, run.retval == TC_ACT_UNSPEC, "egress verdict %d, want TC_ACT_UNSPEC", run.retval);
	CHECK(t, run.len == len && !memcmp(run.data, pkt, len), "egress modified the packet");
	n = spw_fixture_changes(&t->fx, NULL, 0);
	CHECK(t, n == 0, "egress moved %d counters", n);
}

/* A bare SYN that must be admitted and tracked. */
static void open_syn(struct fctx *t, const struct flow *f)
{
	cli(t, f, PKT_TCP_SYN, 0, V_PASS, f->tier, SPW_REASON_ADMITTED);
}

/*
 * SYN, the server's SYN-ACK, then the server's first data (a greeting: no request pending, no
 * latency sample): an established flow.
 */
static void open_est(struct fctx *t, const struct flow *f)
{
	open_syn(t, f);
	srv(t, f, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	srv(t, f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	CHECK(t, flow_must(t, f).state == SPW_FLOW_ESTABLISHED, "not established");
}

/* The established flow's client FIN, counted on its tier, ending it. */
static void close_fin(struct fctx *t, const struct flow *f)
{
	cli(t, f, PKT_TCP_FIN | PKT_TCP_ACK, 0, V_PASS, f->tier, SPW_REASON_ESTABLISHED);
	flow_gone(t, f);
}

/* Gives the flow a last activity age_us ago (and keeps the rest). */
static void flow_age(struct fctx *t, const struct flow *f, uint32_t age_us)
{
	struct spw_flow v = flow_must(t, f);

	v.last_us = now_us() - age_us;
	flow_put(t, f, &v);
}

/* ---- state transitions ------------------------------------------------------------------- */

/* A bare SYN of a service: decided, admitted, and an entry in SYN_SEEN with everything set. */
static void test_syn_opens(void **state)
{
	struct fctx *t = build(state);
	const struct {
		const char *cli;
		uint32_t tier;
	} cases[] = {{CLI_T2, 2}, {CLI_V6, 2}, {CLI_T1, 1}, {CLI_T0, 0}};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct flow f = tcp_flow(t, cases[i].cli, cases[i].tier);
		uint8_t addr[SPW_ADDR_LEN];
		uint32_t t0, t1;
		struct spw_flow v;

		t0 = now_us();
		open_syn(t, &f);
		t1 = now_us();
		v = flow_must(t, &f);
		CHECK(t, v.state == SPW_FLOW_SYN_SEEN, "%s: state %u, want SYN_SEEN", f.cli,
		      v.state);
		CHECK(t, v.svc_id == SVC_TCP && v.tier == f.tier, "%s: svc %u tier %u", f.cli,
		      v.svc_id, v.tier);
		CHECK_OK(t, spw_fixture_addr(f.cli, addr));
		CHECK(t, v.cohort == spw_cohort(addr, t->salt, SPW_V6_COHORT_PREFIX_DEFAULT),
		      "%s: cohort %u, want %u", f.cli, v.cohort,
		      spw_cohort(addr, t->salt, SPW_V6_COHORT_PREFIX_DEFAULT));
		CHECK(t, v.req_us == 0, "%s: a request pending before any data", f.cli);
		/* Stamped with the same clock user space reads, at the moment of the SYN. */
		CHECK(t, v.last_us - t0 <= t1 - t0, "%s: last_us %u outside [%u, %u]", f.cli,
		      v.last_us, t0, t1);
	}
	/* Two tier-2 flows, one each in tiers 1 and 0: the counts are per (service, tier). */
	expect_active(t, SVC_TCP, 2, 2);
	expect_active(t, SVC_TCP, 1, 1);
	expect_active(t, SVC_TCP, 0, 1);
	CHECK(t, table_entries(t) == 4, "%llu entries, want 4",
	      (unsigned long long)table_entries(t));
}

/*
 * The SYN-ACK establishes nothing and restamps nothing: a flow is established by the first
 * data of either side (the server's, at TC egress, or the client's), which restamps it. A
 * handshake that never carries data stays SYN_SEEN and is swept at syn_timeout, so spoofed or
 * abandoned SYNs the server answers do not hold places for the idle timeout.
 */
static void test_data_establishes(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T2, 2), g = tcp_flow(t, CLI_V6, 2);
	struct flow h = tcp_flow(t, CLI_T2, 2), unknown = tcp_flow(t, CLI_T1, 1);
	struct spw_sweep_stats st;
	struct spw_flow v;
	uint32_t t0;

	for (int i = 0; i < 2; i++) {
		struct flow *x = i ? &g : &f;

		open_syn(t, x);
		/* An old stamp shows who writes it. */
		flow_age(t, x, 5 * US_PER_S);
		v = flow_must(t, x);
		srv(t, x, PKT_TCP_SYN | PKT_TCP_ACK, 0);
		CHECK(t, flow_unchanged(t, x, &v), "%s: the SYN-ACK changed the entry", x->cli);
		t0 = now_us();
		if (i) /* the client speaks first (a request) ... */
			cli(t, x, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 2,
			    SPW_REASON_ESTABLISHED);
		else /* ... or the server does (a greeting) */
			srv(t, x, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
		v = flow_must(t, x);
		CHECK(t, v.state == SPW_FLOW_ESTABLISHED, "%s: state %u after data", x->cli,
		      v.state);
		CHECK(t, v.last_us - t0 <= now_us() - t0, "%s: last_us not restamped", x->cli);
		CHECK(t, v.svc_id == SVC_TCP && v.tier == 2, "%s: entry changed", x->cli);
	}
	expect_active(t, SVC_TCP, 2, 2);

	/* A handshake without data: SYN_SEEN whatever the SYN-ACKs, swept at syn_timeout. */
	open_syn(t, &h);
	srv(t, &h, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	srv(t, &h, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	CHECK(t, flow_must(t, &h).state == SPW_FLOW_SYN_SEEN, "a SYN-ACK established it");
	expect_active(t, SVC_TCP, 2, 3);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 3);
	flow_age(t, &h, 2 * US_PER_S);
	flow_age(t, &f, 2 * US_PER_S);
	{
		struct spw_sweep_opts o = {
		    .syn_timeout_ns = 1000000000ULL,
		    .idle_timeout_ns = 600000000000ULL,
		    .udp_timeout_ns = 60000000000ULL,
		};

		CHECK_OK(t, spw_dp_flows_sweep(t->dp, &o, &st));
	}
	CHECK(t, st.expired == 1, "the sweep expired %llu, want the one SYN_SEEN flow",
	      (unsigned long long)st.expired);
	flow_gone(t, &h);
	flow_must(t, &f);
	expect_active(t, SVC_TCP, 2, 2);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 2);

	/* Data of a flow the table does not hold creates nothing. */
	srv(t, &unknown, PKT_TCP_SYN | PKT_TCP_ACK, 0);
	srv(t, &unknown, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	flow_gone(t, &unknown);
	CHECK(t, table_entries(t) == 2, "entries %llu", (unsigned long long)table_entries(t));
	expect_active(t, SVC_TCP, 1, 0);
}

/* One way a flow ends. */
struct close_case {
	const char *desc;
	int family;
	bool established; /* SYN-ACK seen before the close */
	enum dir who;
	uint8_t flags;
	uint16_t payload;
};

static const struct close_case close_cases[] = {
    {"client FIN", 4, true, CLI, PKT_TCP_FIN | PKT_TCP_ACK, 0},
    {"client FIN with data", 4, true, CLI, PKT_TCP_FIN | PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN},
    {"server FIN", 4, true, SRV, PKT_TCP_FIN | PKT_TCP_ACK, 0},
    {"server FIN with data", 4, true, SRV, PKT_TCP_FIN | PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN},
    {"client RST", 4, true, CLI, PKT_TCP_RST, 0},
    {"client RST+ACK", 4, true, CLI, PKT_TCP_RST | PKT_TCP_ACK, 0},
    {"server RST+ACK", 4, true, SRV, PKT_TCP_RST | PKT_TCP_ACK, 0},
    {"server RST", 4, true, SRV, PKT_TCP_RST, 0},
    {"client RST before the SYN-ACK (aborted connect)", 4, false, CLI, PKT_TCP_RST, 0},
    {"server RST+ACK to the SYN (nothing listening)", 4, false, SRV, PKT_TCP_RST | PKT_TCP_ACK, 0},
    {"IPv6 client FIN", 6, true, CLI, PKT_TCP_FIN | PKT_TCP_ACK, 0},
    {"IPv6 server FIN", 6, true, SRV, PKT_TCP_FIN | PKT_TCP_ACK, 0},
    {"IPv6 client RST", 6, true, CLI, PKT_TCP_RST | PKT_TCP_ACK, 0},
    {"IPv6 server RST", 6, true, SRV, PKT_TCP_RST | PKT_TCP_ACK, 0},
};

/* The close packet; a client's is counted established on tier (SPW_TIER_NONE: untracked). */
static void close_pkt(struct fctx *t, const struct close_case *c, const struct flow *f,
		      uint32_t tier)
{
	if (c->who == CLI)
		cli(t, f, c->flags, c->payload, V_PASS, tier, SPW_REASON_ESTABLISHED);
	else
		srv(t, f, c->flags, c->payload);
}

/*
 * FIN or RST from either side ends the flow and gives its place back, exactly once: the
 * retransmitted FIN, the other side's FIN and a late RST find nothing and count nothing down.
 */
static void test_close_paths(void **state)
{
	struct fctx *t = build(state);

	for (size_t i = 0; i < ARRAY_SIZE(close_cases); i++) {
		const struct close_case *c = &close_cases[i];
		struct flow f = tcp_flow(t, c->family == 6 ? CLI_V6 : CLI_T2, 2);

		print_message("    case: %s\n", c->desc);
		if (c->established)
			open_est(t, &f);
		else
			open_syn(t, &f);
		expect_active(t, SVC_TCP, 2, 1);

		close_pkt(t, c, &f, f.tier);
		flow_gone(t, &f);
		expect_active(t, SVC_TCP, 2, 0);

		/* After the end: the same packet again, then both sides' FIN and RST. */
		close_pkt(t, c, &f, SPW_TIER_NONE);
		cli(t, &f, PKT_TCP_FIN | PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE,
		    SPW_REASON_ESTABLISHED);
		srv(t, &f, PKT_TCP_FIN | PKT_TCP_ACK, 0);
		cli(t, &f, PKT_TCP_RST, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
		srv(t, &f, PKT_TCP_RST, 0);
		flow_gone(t, &f);
		expect_active(t, SVC_TCP, 2, 0);
		CHECK(t, table_entries(t) == 0, "%s: %llu entries left", c->desc,
		      (unsigned long long)table_entries(t));
	}
}

/*
 * A client FIN or RST ends the flow only near the sequence the server expects next: one
 * outside the window (the kernel ignores it, RFC 5961; a blind spoofer's) leaves the flow and
 * its place under the cap. The window follows the SYN, the client's data within it and the
 * server's acks; a spoofed segment far ahead does not drag it along.
 */
static void test_end_in_window(void **state)
{
	struct fctx *t = build(state);
	static const uint8_t ends[] = {PKT_TCP_RST, PKT_TCP_RST | PKT_TCP_ACK,
				       PKT_TCP_FIN | PKT_TCP_ACK};
	/* Far away, one past the next byte (the kernel answers a challenge ACK), one too old. */
	static const uint32_t outside[] = {0x80000000u, 1, -(SPW_TCP_END_WINDOW + 1)};

	for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
		struct flow f = tcp_flow(t, i == 1 ? CLI_V6 : CLI_T2, 2);
		uint32_t nxt = CLI_SEQ + 1;

		print_message("    end flags %#x\n", ends[i]);
		open_syn(t, &f);
		CHECK(t, flow_must(t, &f).cli_nxt == nxt, "cli_nxt %#x after the SYN, want %#x",
		      flow_must(t, &f).cli_nxt, nxt);
		for (size_t j = 0; j < ARRAY_SIZE(outside); j++) {
			f.cseq = nxt + outside[j];
			cli(t, &f, ends[i], 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
			CHECK(t, flow_get(t, &f, &(struct spw_flow){0}) == 0,
			      "an end at next %+d ended the flow", (int32_t)outside[j]);
			expect_active(t, SVC_TCP, 2, 1);
		}
		/* The client's data within the window moves it ... */
		f.cseq = nxt;
		cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 2, SPW_REASON_ESTABLISHED);
		nxt += DATA_LEN;
		CHECK(t, flow_must(t, &f).cli_nxt == nxt, "cli_nxt %#x after data, want %#x",
		      flow_must(t, &f).cli_nxt, nxt);
		/* ... a spoofed segment far ahead does not, nor does an end just after it ... */
		f.cseq = nxt + 0x40000000u;
		cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 2, SPW_REASON_ESTABLISHED);
		CHECK(t, flow_must(t, &f).cli_nxt == nxt, "spoofed data moved cli_nxt to %#x",
		      flow_must(t, &f).cli_nxt);
		f.cseq += DATA_LEN;
		cli(t, &f, ends[i], 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
		flow_must(t, &f);
		/* ... and the server's ack does (it got bytes the filter did not see). */
		f.sack = nxt + 5000;
		srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
		nxt += 5000;
		CHECK(t, flow_must(t, &f).cli_nxt == nxt, "cli_nxt %#x after the server's ack",
		      flow_must(t, &f).cli_nxt);
		expect_active(t, SVC_TCP, 2, 1);
		/* Behind the next byte within the window (the kernel's own lags): the end. */
		f.cseq = nxt - 1000;
		cli(t, &f, ends[i], 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
		flow_gone(t, &f);
		expect_active(t, SVC_TCP, 2, 0);
	}
}

/*
 * A SYN whose 5-tuple is tracked is a retransmission: it passes as established on the
 * flow's tier without a decision, so it neither counts twice nor is shed when its tier is.
 */
static void test_syn_retransmit(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T2, 2), e = tcp_flow(t, CLI_T2, 2);
	struct flow n = tcp_flow(t, CLI_T2, 2);
	struct spw_flow before;

	open_syn(t, &f);
	before = flow_must(t, &f);
	cli(t, &f, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	CHECK(t, flow_unchanged(t, &f, &before), "entry changed");
	expect_active(t, SVC_TCP, 2, 1);

	open_est(t, &e);
	cli(t, &e, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	CHECK(t, flow_must(t, &e).state == SPW_FLOW_ESTABLISHED, "state changed");
	expect_active(t, SVC_TCP, 2, 2);

	/* Tier 2 shed with reject (the floor keeps tier 0): its flows in progress still pass. */
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_REJECT, 0);
	cli(t, &f, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	cli(t, &e, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	expect_active(t, SVC_TCP, 2, 2);
	/* A new flow of the same client is decided, and shed. */
	cli(t, &n, PKT_TCP_SYN, 0, V_REJECT, 2, SPW_REASON_SHED_LEVEL);
	flow_gone(t, &n);
	expect_active(t, SVC_TCP, 2, 2);
}

/*
 * A pure ACK (no SYN/FIN/RST, no payload by the IP length) skips the table: counted without a
 * tier, the entry untouched even when its stamp is old enough to be refreshed by anything else.
 * A data segment, by contrast, is looked up: counted on the flow's tier, restamped, and starts
 * a request.
 */
static void test_pure_ack(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T1, 1);
	uint8_t pkt[PKT_BUF_MAX + ETH_PAD];
	struct spw_flow before, v;
	size_t len;
	uint32_t t0;

	open_est(t, &f);
	flow_age(t, &f, 2 * US_PER_S); /* older than SPW_FLOW_TOUCH_US: a touch would show */
	before = flow_must(t, &f);

	cli(t, &f, PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	/* A window update with PSH is no data either. */
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	/* The 54-byte ACK as it arrives from the wire: padded to 60 bytes, still no payload. */
	len = build_pkt(t, &f, CLI, PKT_TCP_ACK, 0, pkt, PKT_BUF_MAX);
	CHECK(t, len == 54, "a pure IPv4 ACK is %zu bytes", len);
	memset(pkt + len, 0, ETH_PAD);
	ingress_frame(t, pkt, len + ETH_PAD, V_PASS, SVC_TCP, SPW_TIER_NONE,
		      SPW_REASON_ESTABLISHED);
	/* The server's pure ACK is skipped at egress too. */
	srv(t, &f, PKT_TCP_ACK, 0);
	CHECK(t, flow_unchanged(t, &f, &before),
	      "a pure ACK changed the entry (last_us %u -> %u, req_us %u -> %u)", before.last_us,
	      flow_must(t, &f).last_us, before.req_us, flow_must(t, &f).req_us);

	t0 = now_us();
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	v = flow_must(t, &f);
	CHECK(t, v.last_us - t0 <= now_us() - t0, "data did not restamp the flow");
	CHECK(t, v.req_us - t0 <= now_us() - t0, "data did not start a request (req_us %u)",
	      v.req_us);
	expect_active(t, SVC_TCP, 1, 1);
}

/* UDP: the first packet is decided and opens a flow in state UDP; later ones are established. */
static void test_udp_first_packet(void **state)
{
	struct fctx *t = build(state);
	struct flow f = udp_flow(t, CLI_T2, 2), g = udp_flow(t, CLI_V6, 2);
	struct flow h = udp_flow(t, CLI_T0, 0);
	struct spw_flow v;

	cli(t, &f, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	v = flow_must(t, &f);
	CHECK(t, v.state == SPW_FLOW_UDP && v.svc_id == SVC_UDP && v.tier == 2,
	      "state %u svc %u tier %u", v.state, v.svc_id, v.tier);
	expect_active(t, SVC_UDP, 2, 1);

	cli(t, &f, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ESTABLISHED);
	cli(t, &f, 0, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	expect_active(t, SVC_UDP, 2, 1);
	/* The server's datagrams answer requests (see test_udp_latency) but change no state:
	 * UDP flows end by the sweep. */
	srv(t, &f, 0, DATA_LEN);
	CHECK(t, flow_must(t, &f).state == SPW_FLOW_UDP, "state changed");

	cli(t, &g, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	cli(t, &h, 0, DATA_LEN, V_PASS, 0, SPW_REASON_ADMITTED);
	CHECK(t, flow_must(t, &g).state == SPW_FLOW_UDP, "IPv6 UDP flow state");
	expect_active(t, SVC_UDP, 2, 2);
	expect_active(t, SVC_UDP, 0, 1);
	expect_active(t, SVC_TCP, 2, 0);
	CHECK(t, table_entries(t) == 3, "entries %llu", (unsigned long long)table_entries(t));
}

/*
 * Concurrency cap of 2 on tier 2: the third concurrent flow is shed with the tier's action
 * and counted shed_cap, without an entry or a place; other tiers are not capped; once one of
 * the two ends, the next flow is admitted.
 */
static void cap_case(void **state, uint8_t action)
{
	static const uint32_t caps[TIERS] = {0, 0, 2};
	struct fctx *t = build(state);
	struct flow a = tcp_flow(t, CLI_T2, 2), b = tcp_flow(t, CLI_V6, 2);
	struct flow c = tcp_flow(t, CLI_T2, 2), z = tcp_flow(t, CLI_T0, 0);
	enum verdict shed = action == SPW_ACTION_REJECT ? V_REJECT : V_DROP;

	set_policy(t, SVC_TCP, caps, action, SPW_RANK_LIMIT);
	open_syn(t, &a);
	open_est(t, &b);
	expect_active(t, SVC_TCP, 2, 2);

	cli(t, &c, PKT_TCP_SYN, 0, shed, 2, SPW_REASON_SHED_CAP);
	flow_gone(t, &c);
	expect_active(t, SVC_TCP, 2, 2); /* the place taken to check was given back */
	/* The client retries: still at the cap. */
	cli(t, &c, PKT_TCP_SYN, 0, shed, 2, SPW_REASON_SHED_CAP);
	expect_active(t, SVC_TCP, 2, 2);

	/* Flows at the cap are not shed: their retransmitted SYNs pass. */
	cli(t, &a, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	/* Tier 0 has no cap. */
	open_syn(t, &z);
	expect_active(t, SVC_TCP, 0, 1);
	/* Another service's tier 2 has a count of its own. */
	{
		struct flow o = tcp_flow(t, CLI_T2, 2);

		o.port = PORT_TCP2;
		o.svc = SVC_TCP2;
		open_syn(t, &o);
		expect_active(t, SVC_TCP2, 2, 1);
	}

	/* One closes (a SYN_SEEN flow, by the server's RST): the next one is admitted. */
	srv(t, &a, PKT_TCP_RST | PKT_TCP_ACK, 0);
	expect_active(t, SVC_TCP, 2, 1);
	open_syn(t, &c);
	expect_active(t, SVC_TCP, 2, 2);
	/* ... and the cap holds again. */
	{
		struct flow d = tcp_flow(t, CLI_T2, 2);

		cli(t, &d, PKT_TCP_SYN, 0, shed, 2, SPW_REASON_SHED_CAP);
		flow_gone(t, &d);
	}
	/* Closing an established one works the same way. */
	close_fin(t, &b);
	expect_active(t, SVC_TCP, 2, 1);
	{
		struct flow d = tcp_flow(t, CLI_T2, 2);

		open_syn(t, &d);
	}
	expect_active(t, SVC_TCP, 2, 2);
}

/*
 * A rate limit and a cap on the same tier: the token a flow took is given back when the cap
 * then sheds it, so the rate counts flows admitted, not attempts. Tier 2: cap 1, 1 flow/s
 * with a burst of 2 (the test runs in milliseconds: the refill adds a few thousandths of a
 * token). Without the give-back the third SYN finds the bucket empty and is shed_rate.
 */
static void test_cap_returns_token(void **state)
{
	static const uint32_t caps[TIERS] = {0, 0, 1};
	struct fctx *t = build(state);
	struct flow a = tcp_flow(t, CLI_T2, 2), b = tcp_flow(t, CLI_T2, 2),
		    c = tcp_flow(t, CLI_T2, 2);
	struct spw_policy p;
	struct spw_bucket bk;

	set_policy(t, SVC_TCP, caps, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	p.rate_per_sec[2] = 1;
	p.burst[2] = 2;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));

	open_syn(t, &a); /* 2 tokens -> 1, the one place taken */
	cli(t, &b, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_CAP);
	CHECK_OK(t, spw_dp_bucket_get(t->dp, SVC_TCP, 2, &bk));
	CHECK(t, bk.units >= SPW_BUCKET_UNIT && bk.units < 2 * SPW_BUCKET_UNIT,
	      "after a cap shed the bucket holds %llu units, want the 1 token it had",
	      (unsigned long long)bk.units);
	/* Again and again: at the cap, never at the rate. */
	cli(t, &b, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_CAP);
	cli(t, &c, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_CAP);
	/* The place frees: the kept token admits the next flow. */
	srv(t, &a, PKT_TCP_RST | PKT_TCP_ACK, 0);
	open_syn(t, &b);
	/* Now the bucket is empty: the rate sheds, before the cap is even looked at. */
	cli(t, &c, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_RATE);
}

static void test_cap_drop(void **state)
{
	cap_case(state, SPW_ACTION_DROP);
}

static void test_cap_reject(void **state)
{
	cap_case(state, SPW_ACTION_REJECT);
}

/* ---- latency ----------------------------------------------------------------------------- */

static struct spw_latency_hist hist(struct fctx *t, uint32_t svc, uint32_t tier)
{
	struct spw_latency_hist h;

	CHECK_OK(t, spw_dp_latency_read(t->dp, svc, tier, &h));
	return h;
}

/*
 * Exactly one sample was added to (svc, tier) since before, in a bucket of [lo_us, hi_us]:
 * the true latency is known to lie there, measured around the packet.
 */
static uint32_t expect_one_sample(struct fctx *t, const struct spw_latency_hist *before,
				  uint32_t svc, uint32_t tier, uint32_t lo_us, uint32_t hi_us)
{
	struct spw_latency_hist h = hist(t, svc, tier);
	uint32_t got = SPW_LAT_BUCKETS;

	CHECK(t, h.count == before->count + 1, "%llu samples added, want 1",
	      (unsigned long long)(h.count - before->count));
	for (uint32_t b = 0; b < SPW_LAT_BUCKETS; b++)
		if (h.buckets[b] != before->buckets[b])
			got = b;
	CHECK(t, got >= spw_latency_bucket(lo_us) && got <= spw_latency_bucket(hi_us),
	      "sample in bucket %u, want bucket %u (latency %u..%u us)", got,
	      spw_latency_bucket(lo_us), lo_us, hi_us);
	return got;
}

static void expect_no_sample(struct fctx *t, const struct spw_latency_hist *before, uint32_t svc,
			     uint32_t tier)
{
	struct spw_latency_hist h = hist(t, svc, tier);

	CHECK(t, !memcmp(&h, before, sizeof(h)), "%llu samples added, want none",
	      (unsigned long long)(h.count - before->count));
}

/*
 * The histogram bucket of a known latency: a flow's pending request is written with a stamp
 * a known time in the past, then the server's first data segment goes through TC egress. The
 * latency is that time plus however long the run took to start; the bucket must be the one of
 * the known time (the check allows the next bucket only if the run itself took long enough to
 * reach it, which the measured upper bound shows).
 */
static void test_latency_known_bucket(void **state)
{
	/* From 0 to the top bucket: 2^32 - 1 us less a second, so the run's own time cannot
	 * wrap the u32 difference past the top. */
	static const uint32_t delays_us[] = {5000, 300000, 3 * US_PER_S,	 40,
					     1,	   0,	   UINT32_MAX - US_PER_S};
	struct fctx *t = build(state);

	for (size_t i = 0; i < ARRAY_SIZE(delays_us); i++) {
		uint32_t tier = (uint32_t)i % TIERS, d = delays_us[i], b;
		const char *cl = tier == 0 ? CLI_T0 : tier == 1 ? CLI_T1 : CLI_T2;
		struct flow f = tcp_flow(t, cl, tier);
		struct spw_latency_hist before;
		uint8_t pkt[PKT_BUF_MAX];
		struct spw_run run;
		struct spw_flow v;
		uint32_t req;
		size_t len;

		open_est(t, &f);
		before = hist(t, SVC_TCP, tier);
		len = build_pkt(t, &f, SRV, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, pkt, sizeof(pkt));
		v = flow_must(t, &f);
		/* Stamped right before the run: nothing slow (counter reads) in between. */
		req = now_us() - d;
		v.req_us = req ? req : 1; /* 0 would mean "no request": one chance in 2^32 */
		flow_put(t, &f, &v);
		CHECK_OK(t, spw_fixture_run(&t->fx, SPW_PROG_TC_EGRESS, pkt, len, &run));
		CHECK(t, run.retval == TC_ACT_UNSPEC, "egress verdict %d", run.retval);
		b = expect_one_sample(t, &before, SVC_TCP, tier, d, now_us() - v.req_us);
		print_message("    %u us -> bucket %u [%llu, %llu) us\n", d, b,
			      (unsigned long long)spw_latency_bucket_lower(b),
			      (unsigned long long)spw_latency_bucket_lower(b + 1));
		CHECK(t, flow_must(t, &f).req_us == 0, "request not cleared by the response");

		/* The rest of the response is no new sample. */
		before = hist(t, SVC_TCP, tier);
		srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
		srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
		expect_no_sample(t, &before, SVC_TCP, tier);
	}
	CHECK(t, hist(t, SVC_TCP, 0).buckets[SPW_LAT_BUCKETS - 1] == 1,
	      "2^32 - 1 us less a second not in the top bucket");
	/* The 5 ms sample of tier 0 is in 5000's bucket whatever the run took. */
	CHECK(t, hist(t, SVC_TCP, 0).buckets[spw_latency_bucket(5000)] == 1,
	      "5000 us not in bucket %u", spw_latency_bucket(5000));
	CHECK(t, hist(t, SVC_TCP, 1).buckets[spw_latency_bucket(300000)] == 1,
	      "300000 us not in bucket %u", spw_latency_bucket(300000));
	CHECK(t, hist(t, SVC_TCP, 2).buckets[spw_latency_bucket(3 * US_PER_S)] == 1,
	      "3 s not in bucket %u", spw_latency_bucket(3 * US_PER_S));
	/* The service's own histogram (the daemon's signal, shared memory) is the tiers' sum. */
	{
		struct spw_latency_hist all;

		CHECK_OK(t, spw_dp_latency_read_service(t->dp, SVC_TCP, &all));
		CHECK(t, all.count == ARRAY_SIZE(delays_us),
		      "service histogram holds %llu samples, want %zu",
		      (unsigned long long)all.count, ARRAY_SIZE(delays_us));
		for (uint32_t b = 0; b < SPW_LAT_BUCKETS; b++) {
			uint64_t sum = 0;

			for (uint32_t tier = 0; tier < TIERS; tier++)
				sum += hist(t, SVC_TCP, tier).buckets[b];
			CHECK(t, all.buckets[b] == sum, "bucket %u: service %llu, tiers %llu", b,
			      (unsigned long long)all.buckets[b], (unsigned long long)sum);
		}
	}
}

/*
 * The measurement as packets make it: client data starts a request (a second data segment
 * before the answer does not restart it), the server's first data ends it; server data with
 * no request pending, pure ACKs and the SYN-ACK are no samples.
 */
static void test_latency_request_response(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T1, 1);
	struct spw_latency_hist before = hist(t, SVC_TCP, 1);
	uint32_t req, lo;

	open_est(t, &f);
	/* Server speaks first (a banner): nothing to measure. */
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_no_sample(t, &before, SVC_TCP, 1);

	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	req = flow_must(t, &f).req_us;
	CHECK(t, req != 0, "no request pending after client data");
	usleep(3000);
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	CHECK(t, flow_must(t, &f).req_us == req, "second segment restarted the request");
	/* Pure ACKs either way are no response. */
	srv(t, &f, PKT_TCP_ACK, 0);
	cli(t, &f, PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	expect_no_sample(t, &before, SVC_TCP, 1);
	CHECK(t, flow_must(t, &f).req_us == req, "a pure ACK ended the request");

	lo = now_us() - req; /* at least 3 ms: from the first segment, not the second */
	CHECK(t, lo >= 3000, "only %u us since the request", lo);
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_one_sample(t, &before, SVC_TCP, 1, lo, now_us() - req);
	CHECK(t, flow_must(t, &f).req_us == 0, "request not cleared");

	/* The next request is measured again. */
	before = hist(t, SVC_TCP, 1);
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	req = flow_must(t, &f).req_us;
	lo = now_us() - req;
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_one_sample(t, &before, SVC_TCP, 1, lo, now_us() - req);
	/* Only the flow's own (service, tier) histogram moved. */
	for (uint32_t tier = 0; tier < SPW_MAX_TIERS; tier++)
		CHECK(t, tier == 1 || hist(t, SVC_TCP, tier).count == 0, "tier %u has samples",
		      tier);
}

/*
 * spw_dp_latency_read() returns a row exactly as the map holds it: every bucket, 0 and 31
 * included, summed over CPUs, and nothing of the neighbouring rows. The whole map is written
 * through its pin with a value unique to each (index, CPU), so a row read one slot off, or a
 * CPU left out, shows.
 */
static void test_latency_read_exact(void **state)
{
	static const uint32_t rows[][2] = {
	    {SVC_TCP, 2}, {SVC_TCP, 0}, {0, 0}, {SPW_MAX_SERVICES - 1, SPW_MAX_TIERS - 1}};
	struct fctx *t = build(state);
	int ncpus = libbpf_num_possible_cpus(), err;
	uint64_t *vals;

	CHECK(t, ncpus > 0, "CPU count");
	vals = calloc((size_t)ncpus, sizeof(*vals));
	CHECK(t, vals != NULL, "calloc");
	for (uint32_t idx = 0; idx < SPW_LAT_ENTRIES; idx++) {
		for (int cpu = 0; cpu < ncpus; cpu++)
			vals[cpu] = (uint64_t)idx * 64 + (uint64_t)cpu + 1;
		err = spw_dp_latency_write(t->dp, idx, vals);
		if (err)
			fail_msg("writing latency slot %u: %s", idx, strerror(-err));
	}
	free(vals);

	for (size_t r = 0; r < ARRAY_SIZE(rows); r++) {
		struct spw_latency_hist h = hist(t, rows[r][0], rows[r][1]);
		uint64_t sum = 0;

		for (uint32_t b = 0; b < SPW_LAT_BUCKETS; b++) {
			uint64_t idx = spw_latency_index(rows[r][0], rows[r][1], b);
			uint64_t want = idx * 64 * (uint64_t)ncpus +
					(uint64_t)ncpus * (uint64_t)(ncpus + 1) / 2;

			CHECK(t, h.buckets[b] == want, "row [%u][%u] bucket %u: %llu, want %llu",
			      rows[r][0], rows[r][1], b, (unsigned long long)h.buckets[b],
			      (unsigned long long)want);
			sum += want;
		}
		CHECK(t, h.count == sum, "row [%u][%u]: count %llu, want %llu", rows[r][0],
		      rows[r][1], (unsigned long long)h.count, (unsigned long long)sum);
	}
}

/* ---- flood guard and full table ---------------------------------------------------------- */

/* The flood guard's budget is per CPU: the test keeps to one CPU so it sees one budget. */
static void pin_to_cpu(struct fctx *t, int cpu)
{
	cpu_set_t one;

	if (!t->pinned_cpu) {
		CHECK(t, sched_getaffinity(0, sizeof(t->affinity), &t->affinity) == 0,
		      "sched_getaffinity: %s", strerror(errno));
		t->pinned_cpu = true;
	}
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CHECK(t, sched_setaffinity(0, sizeof(one), &one) == 0, "pinning to CPU %d: %s", cpu,
	      strerror(errno));
}

/* The first two CPUs this process may run on; second is -1 when there is only one. */
static void two_cpus(struct fctx *t, int *first, int *second)
{
	cpu_set_t set;

	CHECK(t, sched_getaffinity(0, sizeof(set), &set) == 0, "sched_getaffinity");
	*first = *second = -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (*first < 0)
			*first = c;
		else if (*second < 0)
			*second = c;
	}
	CHECK(t, *first >= 0, "no CPU to run on");
}

/* Flood guard burst: new entries a CPU may make at once. */
#define GUARD_BURST 4
/* One entry per second: nothing refills during the few milliseconds of the test. */
#define GUARD_RATE 1

/*
 * With the insert budget spent, new flows are admitted untracked (reason flood_guard) and
 * take no place; tracked flows stay and still end normally; a tier-0 client gets through too.
 */
static void test_flood_guard(void **state)
{
	struct fctx *t = build(state);
	struct flow tracked[GUARD_BURST], over = tcp_flow(t, CLI_T2, 2);
	struct flow crit = tcp_flow(t, CLI_T0, 0), u = udp_flow(t, CLI_T2, 2);
	int cpu0, cpu1;

	two_cpus(t, &cpu0, &cpu1);
	pin_to_cpu(t, cpu0);
	CHECK_OK(t, spw_dp_flood_guard_set(t->dp, GUARD_RATE, GUARD_BURST));

	for (int i = 0; i < GUARD_BURST; i++) {
		tracked[i] = tcp_flow(t, CLI_T2, 2);
		open_est(t, &tracked[i]);
	}
	expect_active(t, SVC_TCP, 2, GUARD_BURST);

	cli(t, &over, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_FLOOD_GUARD);
	flow_gone(t, &over);
	cli(t, &crit, PKT_TCP_SYN, 0, V_PASS, 0, SPW_REASON_FLOOD_GUARD);
	flow_gone(t, &crit);
	cli(t, &u, 0, DATA_LEN, V_PASS, 2, SPW_REASON_FLOOD_GUARD);
	flow_gone(t, &u);
	expect_active(t, SVC_TCP, 2, GUARD_BURST);
	expect_active(t, SVC_TCP, 0, 0);
	expect_active(t, SVC_UDP, 2, 0);

	/* The untracked flow's packets pass without a tier; its FIN counts nothing down. */
	cli(t, &over, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, SPW_TIER_NONE,
	    SPW_REASON_ESTABLISHED);
	cli(t, &over, PKT_TCP_FIN | PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	expect_active(t, SVC_TCP, 2, GUARD_BURST);

	/* The tracked flows are all still there and still end normally. */
	for (int i = 0; i < GUARD_BURST; i++)
		CHECK(t, flow_must(t, &tracked[i]).state == SPW_FLOW_ESTABLISHED, "flow %d", i);
	close_fin(t, &tracked[0]);
	expect_active(t, SVC_TCP, 2, GUARD_BURST - 1);
	/* A close gives back a place, not an insert: the budget is still spent. */
	{
		struct flow again = tcp_flow(t, CLI_T2, 2);

		cli(t, &again, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_FLOOD_GUARD);
	}

	/* The budget is per CPU: another CPU has its own. */
	if (cpu1 >= 0) {
		struct flow other = tcp_flow(t, CLI_T2, 2);

		pin_to_cpu(t, cpu1);
		open_syn(t, &other);
		expect_active(t, SVC_TCP, 2, GUARD_BURST);
		pin_to_cpu(t, cpu0);
	}

	/* Guard off: tracked again. */
	CHECK_OK(t, spw_dp_flood_guard_set(t->dp, 0, 0));
	open_syn(t, &crit);
	expect_active(t, SVC_TCP, 0, 1);
}

/* Table entries for the full-table test: small enough to fill with a handful of SYNs. */
#define SMALL_TABLE 4

/* A full table admits new flows untracked (reason table_full); its flows are unaffected. */
static void test_table_full(void **state)
{
	const struct spw_dp_opts opts = {.flow_capacity = SMALL_TABLE};
	struct fctx *t = build_opts(state, &opts);
	struct flow f[SMALL_TABLE], over = tcp_flow(t, CLI_T2, 2);
	struct flow u = udp_flow(t, CLI_T0, 0);
	uint64_t entries;
	uint32_t cap;

	CHECK_OK(t, spw_dp_flow_count(t->dp, &entries, &cap));
	CHECK(t, cap == SMALL_TABLE && entries == 0, "capacity %u, entries %llu", cap,
	      (unsigned long long)entries);
	for (int i = 0; i < SMALL_TABLE; i++) {
		f[i] = tcp_flow(t, i % 2 ? CLI_V6 : CLI_T2, 2);
		open_est(t, &f[i]);
	}
	CHECK_OK(t, spw_dp_flow_count(t->dp, &entries, &cap));
	CHECK(t, entries == SMALL_TABLE, "%llu entries", (unsigned long long)entries);

	cli(t, &over, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_TABLE_FULL);
	flow_gone(t, &over);
	cli(t, &u, 0, DATA_LEN, V_PASS, 0, SPW_REASON_TABLE_FULL);
	flow_gone(t, &u);
	expect_active(t, SVC_TCP, 2, SMALL_TABLE);
	expect_active(t, SVC_UDP, 0, 0);
	for (int i = 0; i < SMALL_TABLE; i++)
		CHECK(t, flow_must(t, &f[i]).state == SPW_FLOW_ESTABLISHED, "flow %d evicted", i);
	/* The untracked flow's FIN finds nothing. */
	cli(t, &over, PKT_TCP_FIN | PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	expect_active(t, SVC_TCP, 2, SMALL_TABLE);

	/* A place frees up: the next new flow is tracked. */
	close_fin(t, &f[1]);
	expect_active(t, SVC_TCP, 2, SMALL_TABLE - 1);
	{
		struct flow next = tcp_flow(t, CLI_T2, 2);

		open_syn(t, &next);
	}
	expect_active(t, SVC_TCP, 2, SMALL_TABLE);
	CHECK(t, table_entries(t) == SMALL_TABLE, "entries %llu",
	      (unsigned long long)table_entries(t));
}

/*
 * A service's share of the table (policy max_tracked): past it the service's new flows are
 * admitted untracked, and another service's still tracked, so one service's flood cannot
 * take every entry and with them the others' caps and counts.
 */
static void test_service_share(void **state)
{
	struct fctx *t = build(state);
	struct flow a = tcp_flow(t, CLI_T2, 2), b = tcp_flow(t, CLI_T1, 1),
		    over = tcp_flow(t, CLI_T2, 2), u = udp_flow(t, CLI_T0, 0);
	struct spw_policy p;

	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	p.max_tracked = 2;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	open_syn(t, &a);
	open_syn(t, &b);
	cli(t, &over, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_TABLE_FULL);
	flow_gone(t, &over);
	expect_active(t, SVC_TCP, 2, 1);
	expect_active(t, SVC_TCP, 1, 1);
	/* Another service has its own share: its flow is tracked. */
	cli(t, &u, 0, DATA_LEN, V_PASS, 0, SPW_REASON_ADMITTED);
	expect_active(t, SVC_UDP, 0, 1);
	/* A place of the service frees: its next flow is tracked again. */
	close_fin(t, &a);
	open_syn(t, &over);
	expect_active(t, SVC_TCP, 2, 1);
}

/*
 * A flow that cannot be tracked cannot be held to a cap: a capped tier sheds it (shed_cap)
 * where an uncapped one admits it untracked, with the table full and past the service's
 * share alike. Before, a full table let a tier capped at 1 open flows without limit.
 */
static void test_cap_untrackable(void **state)
{
	static const uint32_t caps[TIERS] = {0, 0, 8};
	const struct spw_dp_opts opts = {.flow_capacity = SMALL_TABLE};
	struct fctx *t = build_opts(state, &opts);
	struct flow f[SMALL_TABLE], capped = tcp_flow(t, CLI_T2, 2),
				    uncapped = tcp_flow(t, CLI_T1, 1);
	struct spw_policy p;

	set_policy(t, SVC_TCP, caps, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	for (int i = 0; i < SMALL_TABLE; i++) {
		f[i] = tcp_flow(t, CLI_T1, 1);
		open_est(t, &f[i]);
	}
	cli(t, &capped, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_CAP);
	flow_gone(t, &capped);
	expect_active(t, SVC_TCP, 2, 0);
	cli(t, &uncapped, PKT_TCP_SYN, 0, V_PASS, 1, SPW_REASON_TABLE_FULL);
	/* Room in the table, none in the service's share: the same. */
	close_fin(t, &f[0]);
	close_fin(t, &f[1]);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	p.max_tracked = SMALL_TABLE - 2;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	cli(t, &capped, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_CAP);
	cli(t, &uncapped, PKT_TCP_SYN, 0, V_PASS, 1, SPW_REASON_TABLE_FULL);
	expect_active(t, SVC_TCP, 2, 0);
}

/* ---- sweep and clear --------------------------------------------------------------------- */

/* Sweep timeouts are given in nanoseconds. */
#define MS_NS 1000000ULL
#define S_NS  1000000000ULL

static struct spw_sweep_stats sweep(struct fctx *t, uint64_t syn_ns, uint64_t idle_ns,
				    uint64_t udp_ns)
{
	const struct spw_sweep_opts o = {
	    .syn_timeout_ns = syn_ns,
	    .idle_timeout_ns = idle_ns,
	    .udp_timeout_ns = udp_ns,
	};
	struct spw_sweep_stats st;

	CHECK_OK(t, spw_dp_flows_sweep(t->dp, &o, &st));
	return st;
}

static void expect_swept(struct fctx *t, const struct spw_sweep_stats *st, uint64_t scanned,
			 uint64_t expired)
{
	CHECK(t, st->scanned == scanned && st->expired == expired,
	      "sweep scanned %llu expired %llu, want %llu and %llu",
	      (unsigned long long)st->scanned, (unsigned long long)st->expired,
	      (unsigned long long)scanned, (unsigned long long)expired);
}

/*
 * Each state has its own timeout: half-open SYNs, idle established flows, UDP flows. Stamps
 * are set 2 s in the past directly in the table, so nothing sleeps; each sweep removes exactly
 * the state whose timeout it shortens, and gives back exactly its place.
 */
static void test_sweep_by_state(void **state)
{
	struct fctx *t = build(state);
	struct flow syn = tcp_flow(t, CLI_T2, 2), est = tcp_flow(t, CLI_T1, 1);
	struct flow udp = udp_flow(t, CLI_T0, 0);
	struct spw_sweep_stats st;

	open_syn(t, &syn);
	open_est(t, &est);
	cli(t, &udp, 0, DATA_LEN, V_PASS, 0, SPW_REASON_ADMITTED);
	flow_age(t, &syn, 2 * US_PER_S);
	flow_age(t, &est, 2 * US_PER_S);
	flow_age(t, &udp, 2 * US_PER_S);

	/* Nothing is older than 10 s. */
	st = sweep(t, 10 * S_NS, 10 * S_NS, 10 * S_NS);
	expect_swept(t, &st, 3, 0);

	st = sweep(t, 1 * S_NS, 10 * S_NS, 10 * S_NS);
	expect_swept(t, &st, 3, 1);
	flow_gone(t, &syn);
	expect_active(t, SVC_TCP, 2, 0);
	expect_active(t, SVC_TCP, 1, 1);

	st = sweep(t, 1 * S_NS, 1 * S_NS, 10 * S_NS);
	expect_swept(t, &st, 2, 1);
	flow_gone(t, &est);
	expect_active(t, SVC_TCP, 1, 0);
	expect_active(t, SVC_UDP, 0, 1);

	st = sweep(t, 1 * S_NS, 1 * S_NS, 1 * S_NS);
	expect_swept(t, &st, 1, 1);
	flow_gone(t, &udp);
	expect_all_idle(t);

	/* A swept flow's late FIN or RST, or the server's, counts nothing down twice. */
	cli(t, &est, PKT_TCP_FIN | PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	srv(t, &est, PKT_TCP_FIN | PKT_TCP_ACK, 0);
	srv(t, &syn, PKT_TCP_RST | PKT_TCP_ACK, 0);
	expect_all_idle(t);
	/* A swept UDP flow's next packet is a new flow, decided and counted again. */
	cli(t, &udp, 0, DATA_LEN, V_PASS, 0, SPW_REASON_ADMITTED);
	expect_active(t, SVC_UDP, 0, 1);
}

/*
 * A flow refreshed by traffic is not expired, while one of the same age without traffic is.
 * Stamps are refreshed at most once per SPW_FLOW_TOUCH_US, so the flows start 2 s old.
 */
static void test_sweep_refreshed_kept(void **state)
{
	struct fctx *t = build(state);
	struct flow busy = tcp_flow(t, CLI_T2, 2), idle = tcp_flow(t, CLI_T2, 2);
	struct flow served = tcp_flow(t, CLI_T2, 2);
	struct flow ubusy = udp_flow(t, CLI_T2, 2), uidle = udp_flow(t, CLI_T2, 2);
	struct spw_sweep_stats st;

	open_est(t, &busy);
	open_est(t, &idle);
	open_est(t, &served);
	cli(t, &ubusy, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	cli(t, &uidle, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	flow_age(t, &busy, 2 * US_PER_S);
	flow_age(t, &idle, 2 * US_PER_S);
	flow_age(t, &served, 2 * US_PER_S);
	flow_age(t, &ubusy, 2 * US_PER_S);
	flow_age(t, &uidle, 2 * US_PER_S);

	cli(t, &busy, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 2, SPW_REASON_ESTABLISHED);
	srv(t, &served, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN); /* a download: server data only */
	cli(t, &ubusy, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ESTABLISHED);

	st = sweep(t, 1 * S_NS, 1 * S_NS, 1 * S_NS);
	expect_swept(t, &st, 5, 2);
	flow_must(t, &busy);
	flow_must(t, &served);
	flow_must(t, &ubusy);
	flow_gone(t, &idle);
	flow_gone(t, &uidle);
	expect_active(t, SVC_TCP, 2, 2);
	expect_active(t, SVC_UDP, 2, 1);
}

/*
 * The stamps the data plane writes and the clock the sweep reads agree: a flow opened just now
 * survives a 1 s timeout, and the same flow is expired once it really is idle past a short one.
 */
static void test_sweep_real_clock(void **state)
{
	struct fctx *t = build(state);
	struct flow syn = tcp_flow(t, CLI_T2, 2), est = tcp_flow(t, CLI_V6, 2);
	struct flow udp = udp_flow(t, CLI_T1, 1);
	struct spw_sweep_stats st;

	open_syn(t, &syn);
	open_est(t, &est);
	cli(t, &udp, 0, DATA_LEN, V_PASS, 1, SPW_REASON_ADMITTED);
	st = sweep(t, 1 * S_NS, 1 * S_NS, 1 * S_NS);
	expect_swept(t, &st, 3, 0);

	usleep(250000);
	st = sweep(t, 100 * MS_NS, 100 * MS_NS, 100 * MS_NS);
	expect_swept(t, &st, 3, 3);
	expect_all_idle(t);
	CHECK(t, table_entries(t) == 0, "entries left");
}

/* The filter's pinned map; the caller closes it. */
static int recent_fd(struct fctx *t)
{
	char path[SPW_FX_PIN_LEN + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/spw_recent", t->fx.pin_root);
	fd = bpf_obj_get(path);
	CHECK(t, fd >= 0, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

/* Flow f's filter word index and the shift of its two bits in that word. */
static uint32_t recent_slot_of(struct fctx *t, const struct flow *f, unsigned int *shift)
{
	struct spw_flow_key k;
	uint32_t slot;

	flow_key(t, f, &k);
	slot = spw_recent_slot(&k);
	*shift = (unsigned int)__builtin_ctzll(spw_recent_mask_of(slot));
	return spw_recent_word_of(slot);
}

/* f's two filter bits, 0 .. 3 (bit 0: generation 0). */
static unsigned int recent_bits(struct fctx *t, const struct flow *f)
{
	unsigned int shift;
	uint32_t idx = recent_slot_of(t, f, &shift);
	uint64_t w = 0;
	int fd = recent_fd(t);

	CHECK(t, bpf_map_lookup_elem(fd, &idx, &w) == 0, "filter read: %s", strerror(errno));
	close(fd);
	return (unsigned int)(w >> shift) & 3;
}

/* Sets f's two filter bits to bits, leaving the rest of the word. */
static void recent_set(struct fctx *t, const struct flow *f, unsigned int bits)
{
	unsigned int shift;
	uint32_t idx = recent_slot_of(t, f, &shift);
	uint64_t w = 0;
	int fd = recent_fd(t);

	CHECK(t, bpf_map_lookup_elem(fd, &idx, &w) == 0, "filter read: %s", strerror(errno));
	w = (w & ~(3ULL << shift)) | ((uint64_t)bits << shift);
	CHECK(t, bpf_map_update_elem(fd, &idx, &w, BPF_ANY) == 0, "filter write: %s",
	      strerror(errno));
	close(fd);
}

/*
 * The recently-admitted filter stands in front of the table for SYNs: an admitted SYN sets
 * both of its bits; a shed SYN whose bits are set is looked up (a retransmission passes, a
 * false hit is still shed: the table has the last word); a shed SYN whose bits are clear is
 * shed without a lookup, which the test shows by clearing a tracked flow's bits by hand.
 */
static void test_recent_filter(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T2, 2), n = tcp_flow(t, CLI_T2, 2);
	struct flow u = udp_flow(t, CLI_T2, 2);

	CHECK(t, recent_bits(t, &f) == 0, "bits set before the SYN");
	open_syn(t, &f);
	CHECK(t, recent_bits(t, &f) == 3, "admitted SYN left bits %u, want both",
	      recent_bits(t, &f));
	/* UDP flows are looked up by every packet: they need no mark. */
	cli(t, &u, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	CHECK(t, recent_bits(t, &u) == 0, "a UDP flow was marked");

	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, 0);
	cli(t, &f, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	/* A fresh SYN: refused, nothing inserted, its bits untouched. */
	cli(t, &n, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	flow_gone(t, &n);
	CHECK(t, recent_bits(t, &n) == 0, "a shed SYN was marked");
	/* A false hit costs the lookup and nothing else. */
	recent_set(t, &n, 3);
	cli(t, &n, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	flow_gone(t, &n);
	/* Either generation's bit is enough for the lookup. */
	recent_set(t, &f, 1);
	cli(t, &f, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	recent_set(t, &f, 2);
	cli(t, &f, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	/* No bit: the SYN is decided without a lookup, so even a tracked flow's is shed. */
	recent_set(t, &f, 0);
	cli(t, &f, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	flow_must(t, &f);
	expect_active(t, SVC_TCP, 2, 1);
}

/* Flow f's retransmitted SYN while its tier is shed: passes while f is tracked. */
static bool retransmit_while_tracked(struct fctx *t, const struct flow *f)
{
	struct spw_flow v;

	if (flow_get(t, f, &v))
		return false;
	cli(t, f, PKT_TCP_SYN, 0, V_PASS, f->tier, SPW_REASON_ESTABLISHED);
	return true;
}

/*
 * The sweep ages the filter with the real clock and never opens a false miss. A flow marked
 * just before a sweep that clears a generation keeps the other bit, and the next sweep at
 * once clears nothing (a clear waits a syn_timeout for the other); while the flow is in the
 * table its retransmitted SYN passes though its tier is shed, sweep after sweep; once swept,
 * later sweeps clear its bits, so the filter does not fill up.
 */
static void test_recent_ageing(void **state)
{
	const uint64_t syn_ns = 200 * MS_NS;
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T2, 2);
	int sweeps, tracked = 0;

	/* The data plane was mapped more than a syn_timeout ago: the next sweep clears. */
	usleep(250000);
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	open_syn(t, &f);
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, 0);
	sweep(t, syn_ns, 600 * S_NS, 600 * S_NS);
	CHECK(t, recent_bits(t, &f) == 1 || recent_bits(t, &f) == 2,
	      "a sweep due to clear left bits %u, want one generation", recent_bits(t, &f));
	CHECK(t, retransmit_while_tracked(t, &f), "the flow was swept at once");
	sweep(t, syn_ns, 600 * S_NS, 600 * S_NS);
	CHECK(t, recent_bits(t, &f) != 0, "two clears less than a syn_timeout apart");
	for (sweeps = 0; sweeps < 300 && retransmit_while_tracked(t, &f); sweeps++) {
		tracked++;
		usleep(10000);
		sweep(t, syn_ns, 600 * S_NS, 600 * S_NS);
	}
	CHECK(t, sweeps < 300, "the flow outlived %d sweeps of its syn_timeout", sweeps);
	for (sweeps = 0; sweeps < 300 && recent_bits(t, &f); sweeps++) {
		usleep(10000);
		sweep(t, syn_ns, 600 * S_NS, 600 * S_NS);
	}
	CHECK(t, recent_bits(t, &f) == 0, "a swept flow's bits were never cleared (%u)",
	      recent_bits(t, &f));
	cli(t, &f, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	print_message("    %d retransmissions passed while tracked\n", tracked);
}

/* Timeouts of 0 or past what 32-bit microsecond stamps can measure are refused. */
static void test_sweep_args(void **state)
{
	struct fctx *t = build(state);
	const uint64_t max = (uint64_t)SPW_FLOW_TIMEOUT_MAX_US * 1000;
	const struct spw_sweep_opts bad[] = {
	    {0, S_NS, S_NS},	   {S_NS, 0, S_NS},	  {S_NS, S_NS, 0},
	    {max + 1, S_NS, S_NS}, {S_NS, max + 1, S_NS}, {S_NS, S_NS, max + 1},
	};
	struct flow f = tcp_flow(t, CLI_T2, 2);
	struct spw_sweep_stats st;

	open_syn(t, &f);
	flow_age(t, &f, 2 * US_PER_S);
	CHECK(t, spw_dp_flows_sweep(t->dp, NULL, &st) == -EINVAL, "NULL options accepted");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(t, spw_dp_flows_sweep(t->dp, &bad[i], &st) == -EINVAL, "options %zu accepted",
		      i);
	flow_must(t, &f);
	/* The longest allowed timeouts are accepted; NULL stats too. */
	{
		const struct spw_sweep_opts ok = {max, max, max};

		CHECK_OK(t, spw_dp_flows_sweep(t->dp, &ok, NULL));
	}
	flow_must(t, &f);
	expect_active(t, SVC_TCP, 2, 1);
}

/* ---- requests in flight ------------------------------------------------------------------ */

/*
 * The service's requests in flight, read both ways: the tier's exact count, and the start-time
 * ring's total (which must agree with the sum of the tiers). Returns the ring's reading.
 */
static struct spw_request_ages expect_inflight(struct fctx *t, uint32_t svc, uint32_t tier,
					       uint64_t want)
{
	uint64_t slots[SPW_REQ_SLOTS];
	struct spw_request_ages ages;
	uint64_t n, sum = 0;

	CHECK_OK(t, spw_dp_inflight_read(t->dp, svc, tier, &n));
	/* A decrement with nothing to take would wrap to 2^64 - 1, not read as -1. */
	CHECK(t, n == want, "service %u tier %u: %llu requests in flight, want %llu", svc, tier,
	      (unsigned long long)n, (unsigned long long)want);
	for (uint32_t k = 0; k < SPW_MAX_TIERS; k++) {
		CHECK_OK(t, spw_dp_inflight_read(t->dp, svc, k, &n));
		sum += n;
	}
	CHECK_OK(t, spw_dp_req_ages_read(t->dp, svc, slots));
	spw_request_ages_read(slots, now_us(), &ages);
	CHECK(t, ages.outstanding == sum, "ring holds %llu requests, the tiers %llu",
	      (unsigned long long)ages.outstanding, (unsigned long long)sum);
	CHECK(t, ages.outstanding || ages.oldest_ms == 0, "no request, yet an age of %.3f ms",
	      ages.oldest_ms);
	return ages;
}

/*
 * The oldest request in flight of the test's TCP service is the one stamped req_us: its age
 * as the ring reads it is its true age (taken before and after the read) or at most one slot
 * more, never less.
 */
static void expect_oldest(struct fctx *t, uint32_t tier, uint64_t n, uint32_t req_us)
{
	double lo = (now_us() - req_us) / 1000.0, hi;
	struct spw_request_ages ages = expect_inflight(t, SVC_TCP, tier, n);

	hi = (now_us() - req_us) / 1000.0 + (1U << SPW_REQ_SLOT_SHIFT) / 1000.0;
	CHECK(t, ages.oldest_ms >= lo && ages.oldest_ms <= hi,
	      "oldest request %.3f ms old, want %.3f..%.3f ms", ages.oldest_ms, lo, hi);
}

/*
 * A request's first byte counts it in flight, its response's first byte takes it away; more
 * segments of either, pure ACKs and a response with no request move nothing, so the count
 * never goes below zero; the oldest age grows while it waits.
 */
static void test_inflight_request_response(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T1, 1), g = tcp_flow(t, CLI_T1, 1);

	open_est(t, &f);
	expect_inflight(t, SVC_TCP, 1, 0);
	/* A greeting the server sends unasked is no response to count down. */
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_inflight(t, SVC_TCP, 1, 0);

	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	expect_inflight(t, SVC_TCP, 1, 1);
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	srv(t, &f, PKT_TCP_ACK, 0);
	cli(t, &f, PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	expect_inflight(t, SVC_TCP, 1, 1);

	/* A second flow's request: two in flight, the first one the oldest. */
	usleep(20000);
	open_est(t, &g);
	cli(t, &g, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	expect_oldest(t, 1, 2, flow_must(t, &f).req_us);
	expect_inflight(t, SVC_TCP, 0, 0);
	expect_inflight(t, SVC_TCP, 2, 0);

	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_oldest(t, 1, 1, flow_must(t, &g).req_us);
	/* More of the response, and a second response with no request: nothing below zero. */
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_inflight(t, SVC_TCP, 1, 1);
	srv(t, &g, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_inflight(t, SVC_TCP, 1, 0);
	srv(t, &g, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_inflight(t, SVC_TCP, 1, 0);

	/* The next request counts again. */
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	expect_inflight(t, SVC_TCP, 1, 1);
	close_fin(t, &f);
	close_fin(t, &g);
	expect_inflight(t, SVC_TCP, 1, 0);
}

/*
 * A flow that ends with its request outstanding takes it out of flight, whichever side ends
 * it and however (the client's FIN or RST, the server's), and the sweep does the same for an
 * idle one; a late FIN of an ended flow takes nothing twice.
 */
static void test_inflight_close_outstanding(void **state)
{
	static const struct {
		bool server;
		uint8_t flags;
	} ends[] = {
	    {false, PKT_TCP_FIN | PKT_TCP_ACK},
	    {false, PKT_TCP_RST},
	    {true, PKT_TCP_FIN | PKT_TCP_ACK},
	    {true, PKT_TCP_RST | PKT_TCP_ACK},
	};
	struct fctx *t = build(state);
	struct spw_sweep_stats st;
	struct flow f;

	for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
		f = tcp_flow(t, CLI_T0, 0);
		open_est(t, &f);
		cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 0, SPW_REASON_ESTABLISHED);
		expect_inflight(t, SVC_TCP, 0, 1);
		if (ends[i].server)
			srv(t, &f, ends[i].flags, 0);
		else
			cli(t, &f, ends[i].flags, 0, V_PASS, 0, SPW_REASON_ESTABLISHED);
		flow_gone(t, &f);
		expect_inflight(t, SVC_TCP, 0, 0);
		srv(t, &f, PKT_TCP_FIN | PKT_TCP_ACK, 0);
		expect_inflight(t, SVC_TCP, 0, 0);
	}

	f = tcp_flow(t, CLI_T2, 2);
	open_est(t, &f);
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 2, SPW_REASON_ESTABLISHED);
	expect_inflight(t, SVC_TCP, 2, 1);
	flow_age(t, &f, 2 * US_PER_S);
	st = sweep(t, 1 * S_NS, 1 * S_NS, 1 * S_NS);
	expect_swept(t, &st, 1, 1);
	expect_inflight(t, SVC_TCP, 2, 0);
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_inflight(t, SVC_TCP, 2, 0);
	expect_all_idle(t);
}

/*
 * UDP, as packets make it: a client's datagram is a request unless one is pending (the first
 * datagram of the flow included), the server's next datagram back is its response, empty
 * datagrams included; more datagrams back are no samples. A request never answered leaves
 * the in-flight count by the sweep, with no sample. The same with TCP tracking off: UDP flows
 * are tracked either way.
 */
static void udp_latency_case(void **state, bool track_tcp)
{
	const struct spw_dp_opts opts = {.flow_capacity = TEST_TABLE,
					 .no_tcp_tracking = !track_tcp};
	struct fctx *t = build_opts(state, &opts);
	struct flow f = udp_flow(t, CLI_T1, 1), g = udp_flow(t, CLI_V6, 2);
	struct spw_latency_hist before = hist(t, SVC_UDP, 1), all;
	struct spw_sweep_stats st;
	uint32_t req, lo;

	cli(t, &f, 0, DATA_LEN, V_PASS, 1, SPW_REASON_ADMITTED);
	req = flow_must(t, &f).req_us;
	CHECK(t, req != 0, "no request pending after the flow's first datagram");
	expect_inflight(t, SVC_UDP, 1, 1);
	usleep(3000);
	cli(t, &f, 0, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	CHECK(t, flow_must(t, &f).req_us == req, "a second datagram restarted the request");
	expect_inflight(t, SVC_UDP, 1, 1);
	expect_no_sample(t, &before, SVC_UDP, 1);

	lo = now_us() - req; /* at least 3 ms: from the first datagram, not the second */
	CHECK(t, lo >= 3000, "only %u us since the request", lo);
	srv(t, &f, 0, DATA_LEN);
	expect_one_sample(t, &before, SVC_UDP, 1, lo, now_us() - req);
	CHECK(t, flow_must(t, &f).req_us == 0, "request not cleared by the response");
	expect_inflight(t, SVC_UDP, 1, 0);
	/* More of the answer: no request pending, no sample, nothing below zero. */
	before = hist(t, SVC_UDP, 1);
	srv(t, &f, 0, DATA_LEN);
	srv(t, &f, 0, 0);
	expect_no_sample(t, &before, SVC_UDP, 1);
	expect_inflight(t, SVC_UDP, 1, 0);

	/* The next request, an empty datagram each way, is measured again. */
	cli(t, &f, 0, 0, V_PASS, 1, SPW_REASON_ESTABLISHED);
	req = flow_must(t, &f).req_us;
	CHECK(t, req != 0, "an empty datagram started no request");
	lo = now_us() - req;
	srv(t, &f, 0, 0);
	expect_one_sample(t, &before, SVC_UDP, 1, lo, now_us() - req);
	expect_inflight(t, SVC_UDP, 1, 0);

	/* IPv6, tier 2: a request never answered is swept out of flight, with no sample. */
	cli(t, &g, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	expect_inflight(t, SVC_UDP, 2, 1);
	before = hist(t, SVC_UDP, 2);
	flow_age(t, &g, 2 * US_PER_S);
	st = sweep(t, 100 * S_NS, 100 * S_NS, 1 * S_NS);
	expect_swept(t, &st, 2, 1);
	flow_gone(t, &g);
	expect_inflight(t, SVC_UDP, 2, 0);
	srv(t, &g, 0, DATA_LEN);
	expect_no_sample(t, &before, SVC_UDP, 2);

	/* Only the UDP service's tier 1 has samples, in its own histogram and the service's. */
	for (uint32_t tier = 0; tier < SPW_MAX_TIERS; tier++) {
		CHECK(t, tier == 1 || hist(t, SVC_UDP, tier).count == 0, "UDP tier %u has samples",
		      tier);
		CHECK(t, hist(t, SVC_TCP, tier).count == 0, "TCP tier %u has samples", tier);
	}
	CHECK_OK(t, spw_dp_latency_read_service(t->dp, SVC_UDP, &all));
	CHECK(t, all.count == 2, "UDP service histogram holds %llu samples, want 2",
	      (unsigned long long)all.count);
}

static void test_udp_latency(void **state)
{
	udp_latency_case(state, true);
}

static void test_udp_latency_no_tcp_tracking(void **state)
{
	udp_latency_case(state, false);
}

/* Clear removes every flow of every service, tier and state, and gives every place back. */
static void test_flows_clear(void **state)
{
	struct fctx *t = build(state);
	struct flow a = tcp_flow(t, CLI_T0, 0), b = tcp_flow(t, CLI_T1, 1);
	struct flow c = tcp_flow(t, CLI_V6, 2), u = udp_flow(t, CLI_T2, 2);
	struct flow o = tcp_flow(t, CLI_T2, 2);

	o.port = PORT_TCP2;
	o.svc = SVC_TCP2;
	open_syn(t, &a);
	open_est(t, &b);
	open_est(t, &c);
	open_syn(t, &o);
	cli(t, &u, 0, DATA_LEN, V_PASS, 2, SPW_REASON_ADMITTED);
	CHECK(t, table_entries(t) == 5, "entries %llu", (unsigned long long)table_entries(t));

	CHECK_OK(t, spw_dp_flows_clear(t->dp));
	CHECK(t, table_entries(t) == 0, "entries %llu", (unsigned long long)table_entries(t));
	expect_all_idle(t);
	/* Late packets of cleared flows count nothing down. */
	cli(t, &b, PKT_TCP_FIN | PKT_TCP_ACK, 0, V_PASS, SPW_TIER_NONE, SPW_REASON_ESTABLISHED);
	srv(t, &c, PKT_TCP_RST, 0);
	expect_all_idle(t);
	/* Clearing an empty table is fine. */
	CHECK_OK(t, spw_dp_flows_clear(t->dp));
	/* And the table works as before. */
	open_syn(t, &a);
	expect_active(t, SVC_TCP, 0, 1);
}

/*
 * The tier is decided at the first packet and kept for the flow's life: after the client's
 * CIDR rule moves it to tier 0 (and later disappears), its flow's packets are still counted
 * on tier 1, and its end gives back the tier-1 place, while a new flow of the same client is
 * tier 0.
 */
static void test_tier_kept(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T1, 1), g = tcp_flow(t, CLI_T1, 1);
	struct flow n = tcp_flow(t, CLI_T1, 0);
	struct spw_cidr c;

	open_est(t, &f);
	open_est(t, &g);
	expect_active(t, SVC_TCP, 1, 2);

	add_rule(t, RULE_T1, 0, 2); /* replaces the tier-1 rule */
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	cli(t, &f, PKT_TCP_SYN, 0, V_PASS, 1, SPW_REASON_ESTABLISHED);
	open_syn(t, &n);
	expect_active(t, SVC_TCP, 1, 2);
	expect_active(t, SVC_TCP, 0, 1);
	CHECK(t, flow_must(t, &f).tier == 1, "the flow's tier changed");

	close_fin(t, &f);
	expect_active(t, SVC_TCP, 1, 1);
	expect_active(t, SVC_TCP, 0, 1);

	/* The rule gone altogether (default tier 2): the server's FIN ends g on tier 1. */
	CHECK_OK(t, spw_fixture_cidr(RULE_T1, &c));
	CHECK_OK(t, spw_dp_rule_del(t->dp, &c));
	cli(t, &g, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	srv(t, &g, PKT_TCP_FIN | PKT_TCP_ACK, 0);
	flow_gone(t, &g);
	expect_active(t, SVC_TCP, 1, 0);
	expect_active(t, SVC_TCP, 2, 0);
	expect_active(t, SVC_TCP, 0, 1);
}

/* A policy of SVC_TCP with the reservation on: tier k admitted while the total is below[k]. */
static void set_reserve(struct fctx *t, const uint32_t below[TIERS], uint8_t action)
{
	struct spw_policy p;

	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	p.flags |= SPW_POLICY_RESERVE;
	for (int i = 0; i < TIERS; i++) {
		p.admit_below[i] = below[i];
		p.action[i] = action;
	}
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
}

/*
 * Reservation: a service with 4 connections, 1 kept for tier 0 and 1 more for tiers 0-1. A
 * tier-2 storm takes 2 and is then shed_reserve (the place it took to check given back, in
 * its tier and in the total); tier 1 gets the third; tier 0 the fourth and beyond (its bound
 * is the server's). A close frees a place for the tier whose bound it drops under.
 */
static void reserve_case(void **state, uint8_t action)
{
	static const uint32_t below[TIERS] = {UINT32_MAX, 3, 2};
	struct fctx *t = build(state);
	enum verdict shed = action == SPW_ACTION_REJECT ? V_REJECT : V_DROP;
	struct flow a = tcp_flow(t, CLI_T2, 2), b = tcp_flow(t, CLI_V6, 2);
	struct flow c = tcp_flow(t, CLI_T2, 2), d = tcp_flow(t, CLI_T1, 1);
	struct flow e = tcp_flow(t, CLI_T1, 1), z = tcp_flow(t, CLI_T0, 0);
	struct flow z2 = tcp_flow(t, CLI_T0, 0);

	set_policy(t, SVC_TCP, NULL, action, SPW_RANK_LIMIT);
	set_reserve(t, below, action);
	open_syn(t, &a);
	open_est(t, &b);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 2);
	cli(t, &c, PKT_TCP_SYN, 0, shed, 2, SPW_REASON_SHED_RESERVE);
	flow_gone(t, &c);
	expect_active(t, SVC_TCP, 2, 2);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 2);
	/* Flows already admitted are never refused: a retransmitted SYN passes. */
	cli(t, &a, PKT_TCP_SYN, 0, V_PASS, 2, SPW_REASON_ESTABLISHED);
	open_syn(t, &d);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 3);
	cli(t, &e, PKT_TCP_SYN, 0, shed, 1, SPW_REASON_SHED_RESERVE);
	open_syn(t, &z);
	open_syn(t, &z2);
	expect_active(t, SVC_TCP, 0, 2);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 5);
	/* Another service is not bound by this one's total. */
	{
		struct flow o = tcp_flow(t, CLI_T2, 2);

		o.port = PORT_TCP2;
		o.svc = SVC_TCP2;
		open_syn(t, &o);
		expect_active(t, SVC_TCP2, SPW_ACTIVE_TOTAL, 1);
	}
	/* Tier 0's two close: 3 left, tier 1 still at its bound, tier 2 further. */
	close_fin(t, &z);
	srv(t, &z2, PKT_TCP_RST | PKT_TCP_ACK, 0);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 3);
	cli(t, &e, PKT_TCP_SYN, 0, shed, 1, SPW_REASON_SHED_RESERVE);
	/* One of tier 2's closes: tier 1 fits under 3 again, tier 2 not under 2. */
	close_fin(t, &b);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 2);
	cli(t, &c, PKT_TCP_SYN, 0, shed, 2, SPW_REASON_SHED_RESERVE);
	open_syn(t, &e);
	expect_active(t, SVC_TCP, 1, 2);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 3);
}

/* Exempt sources (default tier 2, like CLI_T2 and CLI_V6, which are not exempt). */
#define CLI_EX4	   "198.51.100.9"
#define CLI_EX6	   "2001:db8:e::9"
#define EXEMPT4	   "198.51.100.9/32"
#define EXEMPT6	   "2001:db8:e::/64"
#define CLI_MAPPED "::ffff:198.51.100.9" /* EXEMPT4's address in an IPv6 packet: not exempt */

/* Adds an exempt prefix (text). */
static void exempt_add(struct fctx *t, const char *cidr)
{
	struct spw_cidr c;

	CHECK(t, spw_fixture_cidr(cidr, &c) == 0, "bad CIDR %s", cidr);
	CHECK_OK(t, spw_dp_exempt_add(t->dp, &c));
}

/* A new flow from f's source is passed as exempt: counted so, and never tracked. */
static void expect_exempt(struct fctx *t, struct flow *f)
{
	cli(t, f, f->proto == IPPROTO_TCP ? PKT_TCP_SYN : 0, f->proto == IPPROTO_TCP ? 0 : DATA_LEN,
	    V_PASS, f->tier, SPW_REASON_EXEMPT);
	flow_gone(t, f);
}

/*
 * Exempt sources are never refused: with tier 2 shed in turn by the level, a concurrency cap,
 * an empty token bucket and the reservation, new flows from the exempt IPv4 host and IPv6
 * prefix pass, counted exempt, without a flow entry or an active count (so they take no place
 * under a cap), while a source of the same tier that is not exempt is refused by the same
 * check. An IPv6 packet from the mapped form of the exempt IPv4 address is not exempt.
 */
static void test_exempt(void **state)
{
	static const uint32_t caps[TIERS] = {0, 0, 1};
	static const uint32_t below[TIERS] = {UINT32_MAX, 0, 0};
	struct fctx *t = build(state);
	struct flow ex4 = tcp_flow(t, CLI_EX4, 2), ex6 = tcp_flow(t, CLI_EX6, 2);
	struct flow exu = udp_flow(t, CLI_EX4, 2), mapped = tcp_flow(t, CLI_MAPPED, 2);
	struct flow other = tcp_flow(t, CLI_T2, 2), other6 = tcp_flow(t, CLI_V6, 2);
	struct flow otheru = udp_flow(t, CLI_T2, 2), held = tcp_flow(t, CLI_T2, 2);
	const struct spw_bucket empty = {.last_ns = spw_now_ns()};
	struct spw_bucket bk;
	struct spw_policy p;

	exempt_add(t, EXEMPT4);
	exempt_add(t, EXEMPT6);

	/* The level sheds everything (tier 0 too: no floor). */
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, 0);
	set_policy(t, SVC_UDP, NULL, SPW_ACTION_DROP, 0);
	expect_exempt(t, &ex4);
	expect_exempt(t, &ex6);
	expect_exempt(t, &exu);
	cli(t, &other, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	cli(t, &other6, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	cli(t, &otheru, 0, DATA_LEN, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	cli(t, &mapped, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	/* The exempt client's retry is decided again, and passes again. */
	expect_exempt(t, &ex4);

	/* A cap of 1 on tier 2, held by another client. */
	set_policy(t, SVC_TCP, caps, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	open_syn(t, &held);
	cli(t, &other, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_CAP);
	ex4.cport = t->next_port++;
	expect_exempt(t, &ex4);
	ex6.cport = t->next_port++;
	expect_exempt(t, &ex6);
	expect_active(t, SVC_TCP, 2, 1);
	srv(t, &held, PKT_TCP_RST | PKT_TCP_ACK, 0);

	/* An empty bucket: 1 new flow a second, none left now. */
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	p.rate_per_sec[2] = 1;
	p.burst[2] = 1;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	CHECK_OK(t, spw_dp_bucket_set(t->dp, SVC_TCP, 2, &empty));
	cli(t, &other, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_RATE);
	ex4.cport = t->next_port++;
	expect_exempt(t, &ex4);
	/* No token taken: the bucket holds the few units its refill gave, not one less. */
	CHECK_OK(t, spw_dp_bucket_get(t->dp, SVC_TCP, 2, &bk));
	CHECK(t, bk.units < SPW_BUCKET_UNIT, "bucket holds %llu units",
	      (unsigned long long)bk.units);

	/* The reservation leaves tier 2 no place at all. */
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_REJECT, SPW_RANK_LIMIT);
	set_reserve(t, below, SPW_ACTION_REJECT);
	cli(t, &other, PKT_TCP_SYN, 0, V_REJECT, 2, SPW_REASON_SHED_RESERVE);
	ex6.cport = t->next_port++;
	expect_exempt(t, &ex6);
	expect_all_idle(t);
}

/* spw_exempt_v4, read or written whole through its pin. */
static void exempt_blocks_io(struct fctx *t, struct spw_v4_blocks *f, bool write)
{
	char path[SPW_FX_PIN_LEN + 32];
	uint32_t zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/spw_exempt_v4", t->fx.pin_root);
	fd = bpf_obj_get(path);
	CHECK(t, fd >= 0, "cannot open %s: %s", path, strerror(errno));
	CHECK(t,
	      !(write ? bpf_map_update_elem(fd, &zero, f, BPF_ANY)
		      : bpf_map_lookup_elem(fd, &zero, f)),
	      "%s spw_exempt_v4: %s", write ? "writing" : "reading", strerror(errno));
	close(fd);
}

static bool block_bit(const struct spw_v4_blocks *f, unsigned int a, unsigned int b)
{
	unsigned int block = a << 8 | b;

	return (f->bits[block / 64] >> (block % 64)) & 1;
}

static unsigned int block_bits(const struct spw_v4_blocks *f)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < SPW_V4_BLOCK_WORDS; i++)
		n += (unsigned int)__builtin_popcountll(f->bits[i]);
	return n;
}

/*
 * IPv4 sources in a /16 no exempt prefix overlaps are decided not exempt on one bit of
 * spw_exempt_v4, without the trie: the bits cover exactly the blocks of the exempt IPv4
 * prefixes (a /32 one block, a /12 sixteen, an IPv6 prefix none), a prune clears the blocks
 * it emptied, and a map whose bits were never built (created beside an older trie) leaves
 * the decision to the trie. With tier 2 shed by the level, the exempt sources pass and their
 * neighbours outside the prefixes, in the same block and in the next ones, are shed.
 */
static void test_exempt_v4_blocks(void **state)
{
	struct fctx *t = build(state);
	struct flow in32 = tcp_flow(t, "10.1.2.3", 2), near = tcp_flow(t, "10.1.2.4", 2);
	struct flow in12 = tcp_flow(t, "172.31.255.1", 2), below = tcp_flow(t, "172.15.255.1", 2);
	struct flow above = tcp_flow(t, "172.32.0.1", 2), v6 = tcp_flow(t, "2001:db8:e::9", 2);
	struct spw_v4_blocks *f = calloc(1, sizeof(*f));
	struct spw_exempt_key keep;
	struct spw_cidr c;

	CHECK(t, f != NULL, "out of memory");
	exempt_add(t, "10.1.2.3/32");
	exempt_add(t, "172.16.0.0/12");
	exempt_add(t, "2001:db8:e::/64");
	exempt_blocks_io(t, f, false);
	CHECK(t, f->built == 1, "built %llu", (unsigned long long)f->built);
	CHECK(t, block_bit(f, 10, 1) && block_bit(f, 172, 16) && block_bit(f, 172, 31),
	      "a block of an exempt prefix without its bit");
	CHECK(t, !block_bit(f, 172, 15) && !block_bit(f, 172, 32) && !block_bit(f, 10, 2),
	      "a block outside every exempt prefix with its bit");
	CHECK(t, block_bits(f) == 17, "%u blocks marked, want 1 + 16", block_bits(f));

	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, 0);
	expect_exempt(t, &in32);
	expect_exempt(t, &in12);
	expect_exempt(t, &v6);
	cli(t, &near, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	cli(t, &below, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	cli(t, &above, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);

	/* Only the /12 kept: the /32's block is cleared, and its host is shed. */
	CHECK(t, spw_fixture_cidr("172.16.0.0/12", &c) == 0, "bad CIDR");
	spw_cidr_to_exempt_key(&c, &keep);
	CHECK_OK(t, spw_dp_exempt_prune(t->dp, &keep, 1));
	exempt_blocks_io(t, f, false);
	CHECK(t, !block_bit(f, 10, 1) && block_bits(f) == 16, "after the prune: %u blocks, 10.1 %s",
	      block_bits(f), block_bit(f, 10, 1) ? "set" : "clear");
	in32.cport = t->next_port++;
	cli(t, &in32, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	in12.cport = t->next_port++;
	expect_exempt(t, &in12);

	/* Bits never built: the trie decides for every source, exempt ones included. */
	memset(f, 0, sizeof(*f));
	exempt_blocks_io(t, f, true);
	in12.cport = t->next_port++;
	expect_exempt(t, &in12);
	above.cport = t->next_port++;
	cli(t, &above, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	/* The next add builds them again from the whole trie. */
	exempt_add(t, "10.1.2.3/32");
	exempt_blocks_io(t, f, false);
	CHECK(t, f->built == 1 && block_bits(f) == 17, "rebuilt: built %llu, %u blocks",
	      (unsigned long long)f->built, block_bits(f));
	free(f);
	expect_all_idle(t);
}

/* A service's counters read alone are its rows of the whole table (the daemon's demand). */
static void test_counters_of_service(void **state)
{
	struct fctx *t = build(state);
	struct flow a = tcp_flow(t, CLI_T2, 2), z = tcp_flow(t, CLI_T0, 0);
	struct spw_count *all = calloc(SPW_COUNTER_ENTRIES, sizeof(*all));
	struct spw_count one[SPW_TIER_SLOTS * SPW_REASON_SLOTS];
	uint32_t moved = 0;

	assert_non_null(all);
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	open_est(t, &a);
	open_syn(t, &z);
	memset(one, 0, sizeof(one));
	CHECK_OK(t, spw_dp_counters_read_all(t->dp, all));
	CHECK_OK(t, spw_dp_counters_read_service(t->dp, SVC_TCP, SPW_TIER_SLOTS, 0,
						 SPW_REASON_SLOTS, one));
	for (uint32_t i = 0; i < SPW_TIER_SLOTS * SPW_REASON_SLOTS; i++) {
		const struct spw_count *w = &all[spw_counter_index(SVC_TCP, 0, 0) + i];

		CHECK(t, one[i].packets == w->packets && one[i].bytes == w->bytes,
		      "entry %u: %llu packets alone, %llu in the table", i,
		      (unsigned long long)one[i].packets, (unsigned long long)w->packets);
		moved += one[i].packets != 0;
	}
	CHECK(t, moved >= 2, "only %u counters of the service moved", moved);
	/* A part of each row: those reasons as in the table, the rest untouched (marked). */
	for (uint32_t i = 0; i < SPW_TIER_SLOTS * SPW_REASON_SLOTS; i++)
		one[i].packets = UINT64_MAX;
	CHECK_OK(t,
		 spw_dp_counters_read_service(t->dp, SVC_TCP, 3, SPW_REASON_ESTABLISHED, 2, one));
	for (uint32_t i = 0; i < SPW_TIER_SLOTS * SPW_REASON_SLOTS; i++) {
		uint32_t tier = i / SPW_REASON_SLOTS, r = i % SPW_REASON_SLOTS;
		bool asked = tier < 3 && (r == SPW_REASON_ESTABLISHED || r == SPW_REASON_ADMITTED);
		uint64_t want =
		    asked ? all[spw_counter_index(SVC_TCP, 0, 0) + i].packets : UINT64_MAX;

		CHECK(t, one[i].packets == want, "tier %u reason %u: %llu packets, want %llu", tier,
		      r, (unsigned long long)one[i].packets, (unsigned long long)want);
	}
	CHECK(t,
	      all[spw_counter_index(SVC_TCP, 2, SPW_REASON_ADMITTED)].packets +
		      all[spw_counter_index(SVC_TCP, 0, SPW_REASON_ADMITTED)].packets >
		  0,
	      "no admission counted in tier 0 or 2: the part read proves nothing");
	CHECK(t,
	      spw_dp_counters_read_service(t->dp, SVC_TCP, 0, 0, SPW_REASON_SLOTS, one) ==
		      -EINVAL &&
		  spw_dp_counters_read_service(t->dp, SPW_SVC_NONE, 1, 0, SPW_REASON_SLOTS, one) ==
		      -EINVAL &&
		  spw_dp_counters_read_service(t->dp, SVC_TCP, 1, 30, 3, one) == -EINVAL &&
		  spw_dp_counters_read_service(t->dp, SVC_TCP, 1, 0, 0, one) == -EINVAL,
	      "bad arguments accepted");
	free(all);
}

static void test_reserve_drop(void **state)
{
	reserve_case(state, SPW_ACTION_DROP);
}

static void test_reserve_reject(void **state)
{
	reserve_case(state, SPW_ACTION_REJECT);
}

/*
 * The bound on requests in flight: tier 1 admitted while the service holds fewer than 2 (all
 * tiers summed), tier 2 fewer than 1, tier 0 unbounded. Two requests in flight, one of tier 1
 * and one of tier 0: new flows of tiers 1 and 2 are shed_reserve (the places they took to
 * check given back), tier 0's is admitted. Each response lets the next tier in again.
 */
static void test_inflight_bound(void **state)
{
	struct fctx *t = build(state);
	struct flow f = tcp_flow(t, CLI_T1, 1), g = tcp_flow(t, CLI_T0, 0);
	struct flow a = tcp_flow(t, CLI_T2, 2), b = tcp_flow(t, CLI_T1, 1);
	struct flow z = tcp_flow(t, CLI_T0, 0);
	struct spw_policy p;

	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	p.inflight_below[1] = 2;
	p.inflight_below[2] = 1;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	open_est(t, &f);
	open_est(t, &g);
	/* Nothing in flight: a tier-2 flow opens (and stays without a request). */
	open_syn(t, &a);
	close_fin(t, &a);
	cli(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 1, SPW_REASON_ESTABLISHED);
	cli(t, &g, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN, V_PASS, 0, SPW_REASON_ESTABLISHED);
	expect_inflight(t, SVC_TCP, 1, 1);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 2);
	cli(t, &a, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_RESERVE);
	cli(t, &b, PKT_TCP_SYN, 0, V_DROP, 1, SPW_REASON_SHED_RESERVE);
	flow_gone(t, &a);
	flow_gone(t, &b);
	expect_active(t, SVC_TCP, 1, 1);
	expect_active(t, SVC_TCP, 2, 0);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 2);
	open_syn(t, &z);
	/* Tier 0's request answered: one in flight, tier 1 fits under 2, tier 2 not under 1. */
	srv(t, &g, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	cli(t, &a, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_RESERVE);
	open_syn(t, &b);
	/* The last one answered: tier 2 again. */
	srv(t, &f, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);
	expect_inflight(t, SVC_TCP, 1, 0);
	open_syn(t, &a);
}

/* Without SPW_POLICY_RESERVE the bounds are not read: zeros there shed nothing. */
static void test_reserve_off(void **state)
{
	struct fctx *t = build(state);
	struct flow a = tcp_flow(t, CLI_T2, 2);
	struct spw_policy p;

	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, SPW_RANK_LIMIT);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	memset(p.admit_below, 0, sizeof(p.admit_below));
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	open_syn(t, &a);
	expect_active(t, SVC_TCP, SPW_ACTIVE_TOTAL, 1);
}

/*
 * The partial share: a client whose rank is the admit level is admitted iff its host slot is
 * below the policy's partial; below the level always, above never. The floor has no partial.
 */
static void test_partial_rank(void **state)
{
	struct fctx *t = build(state);
	uint8_t addr[SPW_ADDR_LEN];
	uint32_t rank, slot;
	struct spw_policy p;
	struct flow f;

	CHECK_OK(t, spw_fixture_addr(CLI_T2, addr));
	rank = spw_rank(2, spw_cohort(addr, t->salt, SPW_V6_COHORT_PREFIX_DEFAULT));
	slot = spw_host_slot(addr, t->salt, SPW_V6_COHORT_PREFIX_DEFAULT);
	set_policy(t, SVC_TCP, NULL, SPW_ACTION_DROP, (uint16_t)rank);
	CHECK_OK(t, spw_dp_policy_get(t->dp, SVC_TCP, &p));
	/* Its slot just outside the share: shed. */
	p.partial = (uint8_t)slot;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	f = tcp_flow(t, CLI_T2, 2);
	cli(t, &f, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	/* Just inside: admitted (a slot of 255 cannot be: the share is at most 255/256). */
	if (slot < 255) {
		p.partial = (uint8_t)(slot + 1);
		CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
		f = tcp_flow(t, CLI_T2, 2);
		open_syn(t, &f);
	}
	/* One rank lower: the partial share applies to the level's rank only. */
	p.admit_level = (uint16_t)(rank - 1);
	p.partial = 255;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	f = tcp_flow(t, CLI_T2, 2);
	cli(t, &f, PKT_TCP_SYN, 0, V_DROP, 2, SPW_REASON_SHED_LEVEL);
	/* The floor wins over a lower admit level, and whole: no partial rank above it. */
	CHECK_OK(t, spw_fixture_addr(CLI_T1, addr));
	p.floor_level =
	    (uint16_t)spw_rank(1, spw_cohort(addr, t->salt, SPW_V6_COHORT_PREFIX_DEFAULT));
	p.admit_level = 0;
	p.partial = 255;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	f = tcp_flow(t, CLI_T1, 1);
	cli(t, &f, PKT_TCP_SYN, 0, V_DROP, 1, SPW_REASON_SHED_LEVEL);
}

/*
 * Tier marks: with mark_egress in the policy, a flow opened afterwards carries its tier's
 * DSCP, and TC egress writes it on the server's packets of the flow (IPv4 with the header
 * checksum fixed, IPv6 in the traffic class), counted as marked_egress on the tier. The
 * rewritten frame must be exactly what the packet builder makes with that DSCP. A flow
 * opened before the marks were configured, and a pure ACK (never looked up), are left as
 * they are.
 */
static void test_mark_egress(void **state)
{
	struct fctx *t = build(state);
	const struct {
		const char *cli;
		uint32_t tier;
		uint8_t dscp;
	} cases[] = {{CLI_T0, 0, 46}, {CLI_T1, 1, 26}, {CLI_T2, 2, 10}, {CLI_V6, 2, 10}};
	uint8_t pkt[PKT_BUF_MAX], want[PKT_BUF_MAX];
	struct flow before = tcp_flow(t, CLI_T0, 0);
	struct spw_fx_change ch[4];
	struct spw_policy p;
	struct spw_run run;
	size_t len;
	int n;

	open_syn(t, &before);
	spw_policy_init(&p, TIERS, DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.admit_level = SPW_RANK_LIMIT;
	p.mark_egress[0] = SPW_MARK_SET | 46;
	p.mark_egress[1] = SPW_MARK_SET | 26;
	p.mark_egress[2] = SPW_MARK_SET | 10;
	CHECK_OK(t, spw_dp_policy_set(t->dp, SVC_TCP, &p));
	/* Opened unmarked: its entry says so, and its packets stay as they are. */
	srv(t, &before, PKT_TCP_ACK | PKT_TCP_PSH, DATA_LEN);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct flow f = tcp_flow(t, cases[i].cli, cases[i].tier);
		struct pkt_view v;

		open_syn(t, &f);
		CHECK(t, flow_must(t, &f).mark == (SPW_MARK_SET | cases[i].dscp),
		      "%s: flow mark %#x", f.cli, flow_must(t, &f).mark);
		for (int k = 0; k < 2; k++) {
			/* The SYN-ACK, then data: every packet that is looked up is marked. */
			uint8_t flags = k ? PKT_TCP_ACK | PKT_TCP_PSH : PKT_TCP_SYN | PKT_TCP_ACK;
			uint16_t payload = k ? DATA_LEN : 0;
			struct pkt_spec s;

			len = build_pkt(t, &f, SRV, flags, payload, pkt, sizeof(pkt));
			CHECK_OK(t, spw_fixture_mark(&t->fx));
			CHECK_OK(t, spw_fixture_run(&t->fx, SPW_PROG_TC_EGRESS, pkt, len, &run));
			CHECK(t, run.retval == TC_ACT_UNSPEC, "egress verdict %d", run.retval);
			CHECK(t, run.len == len, "egress changed the length");
			CHECK(t, pkt_parse(run.data, run.len, &v) == 0,
			      "marked packet does not parse");
			CHECK(t, v.dscp == cases[i].dscp, "%s: DSCP %u, want %u", f.cli, v.dscp,
			      cases[i].dscp);
			CHECK(t, f.family == 6 || pkt_ipv4_csum_ok(run.data, run.len),
			      "%s: IPv4 header checksum wrong after the mark", f.cli);
			CHECK(t, pkt_l4_csum_ok(run.data, run.len), "%s: TCP checksum wrong",
			      f.cli);
			/* Nothing else moved: the frame is the builder's with that DSCP. */
			memset(&s, 0, sizeof(s));
			s = (struct pkt_spec){
			    .family = f.family,
			    .saddr = srv_addr(&f),
			    .daddr = f.cli,
			    .proto = IPPROTO_TCP,
			    .sport = f.port,
			    .dport = f.cport,
			    .tcp_flags = flags,
			    .seq = SRV_SEQ,
			    .ack = SRV_ACK,
			    .tcp_opts_len = flags & PKT_TCP_SYN ? PKT_LINUX_SYN_OPTS : 0,
			    .payload_len = payload,
			    .dscp = cases[i].dscp,
			};
			CHECK(t, pkt_build(&s, want, sizeof(want)) == len,
			      "want frame does not build");
			CHECK(t, !memcmp(run.data, want, len), "%s: more than the DSCP changed",
			      f.cli);
			n = spw_fixture_changes(&t->fx, ch, ARRAY_SIZE(ch));
			CHECK(t,
			      n == 1 && ch[0].svc == SVC_TCP && ch[0].tier_slot == f.tier &&
				  ch[0].reason == SPW_REASON_MARKED_EGRESS &&
				  ch[0].delta.packets == 1,
			      "%s: %d counters moved, want marked_egress on tier %u", f.cli, n,
			      f.tier);
		}
		/* A pure ACK is never looked up: it is not marked (nor counted). */
		srv(t, &f, PKT_TCP_ACK, 0);
	}
}

#define BOTH(fn)                                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&prog_xdp),          \
	    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&prog_tc)
/* Tests of TC egress and user space only: the ingress program does not matter. */
#define ONCE(fn) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&prog_xdp)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_syn_opens),
	    BOTH(test_data_establishes),
	    BOTH(test_close_paths),
	    BOTH(test_end_in_window),
	    BOTH(test_syn_retransmit),
	    BOTH(test_recent_filter),
	    ONCE(test_recent_ageing),
	    BOTH(test_pure_ack),
	    BOTH(test_udp_first_packet),
	    BOTH(test_cap_drop),
	    BOTH(test_cap_reject),
	    BOTH(test_cap_returns_token),
	    ONCE(test_latency_known_bucket),
	    BOTH(test_latency_request_response),
	    ONCE(test_latency_read_exact),
	    BOTH(test_udp_latency),
	    BOTH(test_udp_latency_no_tcp_tracking),
	    BOTH(test_flood_guard),
	    BOTH(test_table_full),
	    BOTH(test_service_share),
	    BOTH(test_cap_untrackable),
	    BOTH(test_sweep_by_state),
	    BOTH(test_sweep_refreshed_kept),
	    ONCE(test_sweep_real_clock),
	    ONCE(test_sweep_args),
	    BOTH(test_flows_clear),
	    BOTH(test_inflight_request_response),
	    BOTH(test_inflight_close_outstanding),
	    BOTH(test_tier_kept),
	    BOTH(test_reserve_drop),
	    BOTH(test_reserve_reject),
	    ONCE(test_reserve_off),
	    ONCE(test_inflight_bound),
	    ONCE(test_counters_of_service),
	    BOTH(test_exempt),
	    BOTH(test_exempt_v4_blocks),
	    BOTH(test_partial_rank),
	    ONCE(test_mark_egress),
	};

	return cmocka_run_group_tests_name("flow tracking", tests, NULL, NULL);
}
