// SPDX-License-Identifier: GPL-2.0-only
/* The cases of the per-packet table, and the packets, policies and flows they need. */
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
#include "dpcheck.h"
#include "pktbuild.h"
#include "bench_util.h"
#include "bench_dp.h"

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
int build_pkt(struct bench_pkt *p)
{
	struct pkt_spec spec = {
	    .family = strchr(p->saddr, ':') ? 6 : 4,
	    .saddr = p->saddr,
	    .daddr = p->daddr[0] ? p->daddr : NULL,
	    .proto = p->proto ? p->proto : IPPROTO_TCP,
	    .sport = p->sport,
	    .dport = p->dport,
	    .tcp_flags = p->flags,
	    .seq = 0x12345678,
	    .payload_len = p->payload,
	};
	size_t len;

	if (spec.proto == IPPROTO_UDP) {
		spec.tcp_flags = 0;
	} else if (p->flags & PKT_TCP_ACK) {
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
	if (spw_check_flow_key(p->data, p->len, k)) {
		pr_warn("the bench's own packet from %s does not parse back\n", p->saddr);
		return -EINVAL;
	}
	return 0;
}

/* 0 and the flow's entry as the data plane keeps it, -ENOENT when there is none. */
static int flow_get(struct bench *b, const struct spw_flow_key *k, struct spw_flow *f)
{
	int err;

	err = spw_dp_flow_get(b->dp, k, f);
	if (err && err != -ENOENT)
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
	char why[128];
	int err;

	err = spw_check_active(b->dp, BENCH_SVC_ID, tier, want, why, sizeof(why));
	if (err)
		pr_warn("%s: %s: %s\n", c->name, when, why);
	return err;
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

/* The server's packet of the flow of client packet cli: addresses and ports swapped. */
static int build_server(struct bench_pkt *p, const struct bench_pkt *cli, uint8_t flags,
			uint16_t payload)
{
	snprintf(p->saddr, sizeof(p->saddr), "%s",
		 cli->daddr[0]		   ? cli->daddr
		 : strchr(cli->saddr, ':') ? PKT_DEF_DADDR6
					   : PKT_DEF_DADDR4);
	snprintf(p->daddr, sizeof(p->daddr), "%s", cli->saddr);
	p->sport = cli->dport;
	p->dport = cli->sport;
	p->flags = flags;
	p->payload = payload;
	p->proto = cli->proto;
	return build_pkt(p);
}

/*
 * The server's side of the handshake of client packet cli's flow, through the TC egress
 * program, where a host sees its own replies: the SYN-ACK, then a greeting (the first data
 * either way is what makes a tracked flow established; no request is pending, so it is no
 * latency sample). Never timed.
 */
static int server_handshake(struct bench *b, const struct bench_case *c,
			    const struct bench_pkt *cli)
{
	static const struct {
		uint8_t flags;
		uint16_t payload;
		const char *what;
	} pkts[] = {
	    {PKT_TCP_SYN | PKT_TCP_ACK, 0, "SYN-ACK"},
	    {PKT_TCP_ACK | PKT_TCP_PSH, 64, "greeting"},
	};
	static struct bench_pkt s; /* 2 KiB: off the stack */
	uint32_t ret;
	int err;

	for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
		memset(&s, 0, sizeof(s));
		err = build_server(&s, cli, pkts[i].flags, pkts[i].payload)
			  ?: test_run(&b->tc_egress, &s, 1, NULL, NULL, NULL, &ret, NULL);
		if (err)
			return err;
		if ((int)ret != TC_ACT_UNSPEC) {
			pr_warn("%s: the TC egress program returned %d for the server's %s, "
				"expected TC_ACT_UNSPEC\n",
				c->name, (int)ret, pkts[i].what);
			return -EPROTO;
		}
	}
	return 0;
}

/*
 * Opens an established flow through the data plane itself: the client's SYN through the
 * tracking XDP program (admitted, inserted), then the server's SYN-ACK and greeting through
 * TC egress.
 */
static int flow_open(struct bench *b, const struct bench_case *c, const struct bench_pkt *syn)
{
	uint32_t ret;
	int err;

	err = test_run(&b->spw, syn, 1, NULL, NULL, NULL, &ret, NULL);
	if (!err)
		err = expect_verdict(&b->spw, c, ret, XDP_PASS);
	return err ?: server_handshake(b, c, syn);
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
 * the case's XDP program, SYN-ACK and greeting via TC egress), on the source ports the timed
 * FINs carry.
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
		err = expect_verdict(pg, c, ret, XDP_PASS) ?: server_handshake(b, c, &syn);
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

/* ---- the server's side, at TC egress ---- */

/* The server's data on the established flow, no request pending: a response's later segments. */
static int setup_server_data(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	static struct bench_pkt cli; /* 2 KiB: off the stack */
	int err;

	err = setup_established(b, c, &cli, PKT_TCP_ACK | PKT_TCP_PSH, 128);
	return err ?: build_server(p, &cli, PKT_TCP_ACK | PKT_TCP_PSH, 1024);
}

/* The flow is still established with no request pending: the path named, every time. */
static int verify_server_data(struct bench *b, const struct bench_case *c,
			      const struct bench_pkt *p, enum verify_at at, uint32_t calls)
{
	static struct bench_pkt cli; /* 2 KiB: off the stack */
	const char *when = at == AT_FIRST ? "first packet" : "after the run";
	struct spw_flow f;
	int err;

	(void)calls;
	err = build_server(&cli, p, PKT_TCP_ACK, 0) ?: flow_must(b, c, &cli, when, &f);
	if (err)
		return err;
	if (f.state != SPW_FLOW_ESTABLISHED || f.req_us) {
		pr_warn("%s: %s: the flow is in state %u with req_us %u: expected established "
			"with no request pending\n",
			c->name, when, f.state, f.req_us);
		return -EPROTO;
	}
	return 0;
}

/* The responses the bench service's latency histogram holds, all tiers. */
static int latency_count(struct bench *b, uint64_t *n)
{
	struct spw_latency_hist h;
	int err = spw_dp_latency_read_service(b->dp, BENCH_SVC_ID, &h);

	if (err)
		pr_warn("reading the latency histogram failed: %s\n", strerror(-err));
	*n = h.count;
	return err;
}

/*
 * The response row's flow: established, a request pending (the client's data through the
 * data plane, so the in-flight count holds it), and p the server's first data segment back.
 */
static int setup_response(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	static struct bench_pkt cli; /* 2 KiB: off the stack */
	uint32_t ret;
	int err;

	err = setup_established(b, c, &cli, PKT_TCP_ACK | PKT_TCP_PSH, 128)
		  ?: test_run(&b->spw, &cli, 1, NULL, NULL, NULL, &ret, NULL)
		  ?: expect_verdict(&b->spw, c, ret, XDP_PASS);
	if (!err)
		err = build_server(p, &cli, PKT_TCP_ACK | PKT_TCP_PSH, 1024)
			  ?: latency_count(b, &b->lat_before);
	return err;
}

/* The inserted flows of a response round: one per call, as the data plane makes them. */
static struct spw_flow_key prep_keys[UNIQUE_MAX_CALLS];
static struct spw_flow prep_vals[UNIQUE_MAX_CALLS];

/*
 * Before a response round: one established flow per call on the ports the timed responses
 * carry, written into the table (counted active as the data plane counts an insert), then
 * the client's request through the case's ingress program, untimed, so each timed packet is
 * the first response to a pending request.
 */
static int prep_response(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
			 uint32_t calls)
{
	static struct bench_pkt cli; /* 2 KiB: off the stack */
	uint32_t i, ret, now_us = (uint32_t)(bench_mono_ns() / 1000);
	int err;

	if (calls > UNIQUE_MAX_CALLS)
		return -E2BIG;
	err = build_server(&cli, p, PKT_TCP_ACK | PKT_TCP_PSH, 128);
	for (i = 0; !err && i < calls; i++) {
		cli.sport = (uint16_t)(UNIQUE_SPORT_BASE + i);
		err = build_pkt(&cli) ?: flow_key_of(&cli, &prep_keys[i]);
		prep_vals[i] = (struct spw_flow){
		    .last_us = now_us ? now_us : 1,
		    .svc_id = BENCH_SVC_ID,
		    .tier = BENCH_DEFAULT_TIER,
		    .state = SPW_FLOW_ESTABLISHED,
		};
	}
	if (!err)
		err = spw_dp_flows_insert(b->dp, prep_keys, prep_vals, calls);
	if (err) {
		pr_warn("%s: opening the round's flows failed: %s\n", c->name, strerror(-err));
		return err;
	}
	for (i = 0; i < calls; i++) {
		if (stop_requested)
			return -EINTR;
		cli.sport = (uint16_t)(UNIQUE_SPORT_BASE + i);
		err = build_pkt(&cli) ?: test_run(&b->spw, &cli, 1, NULL, NULL, NULL, &ret, NULL);
		if (err)
			return err;
		b->prep_packets++;
		err = expect_verdict(&b->spw, c, ret, XDP_PASS);
		if (err)
			return err;
	}
	return latency_count(b, &b->lat_before);
}

/* Every timed response took one latency sample and left nothing in flight. */
static int verify_response(struct bench *b, const struct bench_case *c, const struct bench_pkt *p,
			   enum verify_at at, uint32_t calls)
{
	uint64_t n, inflight;
	int err;

	(void)p;
	if (at == AT_END)
		return 0;
	err = latency_count(b, &n);
	if (!err)
		err = spw_dp_inflight_read(b->dp, BENCH_SVC_ID, BENCH_DEFAULT_TIER, &inflight);
	if (err)
		return err;
	if (n - b->lat_before != calls || inflight) {
		pr_warn("%s: %s: %llu latency samples taken by %u responses, %llu requests left "
			"in flight: expected one each, none left\n",
			c->name, at == AT_FIRST ? "first packet" : "after a round",
			(unsigned long long)(n - b->lat_before), calls,
			(unsigned long long)inflight);
		return -EPROTO;
	}
	return 0;
}

/* A UDP datagram the host sends from a port no service uses (a DNS query, QUIC): passed. */
static int setup_udp_nonservice(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	(void)b;
	(void)c;
	snprintf(p->saddr, sizeof(p->saddr), "%s", PKT_DEF_DADDR4);
	snprintf(p->daddr, sizeof(p->daddr), "%s", "203.0.113.53");
	p->sport = BENCH_NONSVC_PORT;
	p->dport = 53;
	p->payload = 64;
	p->proto = IPPROTO_UDP;
	return build_pkt(p);
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

/*
 * The insert row with the in-flight guard on for the SYN's tier (tier 1, as the daemon sets it
 * once a service's in_flight target is known): the bound is never reached, so the SYN is
 * admitted and inserted as in the insert row, and pays the sum of the tiers' counts.
 */
static int setup_syn_guarded(struct bench *b, const struct bench_case *c, struct bench_pkt *p)
{
	struct spw_policy pol;
	int err =
	    setup_syn(b, c, p, 1, SPW_ACTION_DROP) ?: spw_dp_policy_get(b->dp, BENCH_SVC_ID, &pol);

	if (err)
		return err;
	pol.inflight_below[1] = UINT32_MAX;
	err = spw_dp_policy_set(b->dp, BENCH_SVC_ID, &pol);
	if (err)
		pr_warn("setting the in-flight bound failed: %s\n", strerror(-err));
	return err;
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
	char why[256];
	int err;

	err = spw_check_rst(in->data, in->len, out, len, why, sizeof(why));
	if (err)
		pr_warn("the rejected SYN's output is not the RST+ACK to the client: %s\n", why);
	return err;
}

/*
 * The cases, in the order they run. Rules are only added, never removed: `rules` is what a row
 * needs at least, and a row that needs some must come after every row that needs fewer (the
 * established and FIN paths never look at rules, so theirs is 0 wherever they run). Each row
 * answers to one set of goals: the data plane's predate flow tracking and are measured
 * without it; flow tracking's are with tracking on.
 */
const struct bench_case cases[] = {
    /* ---- the data plane (goals for the programs without TCP tracking) ---- */
    {
	/* Returns before anything tracking touches: the same path with tracking on. */
	.name = "non-service (TCP SYN to :9090)",
	.goals = GOALS_DATAPLANE,
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
	.goals = GOALS_DATAPLANE,
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
	.goals = GOALS_DATAPLANE,
	.prog = PROG_SPW_NOTRACK,
	.setup = setup_syn_norule,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_DEFAULT_TIER,
	.reason = SPW_REASON_ADMITTED,
    },
    {
	.name = "SYN admitted, 10k rules (no tracking)",
	.goals = GOALS_DATAPLANE,
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
	.goals = GOALS_DATAPLANE,
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
	.goals = GOALS_DATAPLANE,
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
	.goals = GOALS_DATAPLANE,
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
	.goals = GOALS_DATAPLANE,
	.mode = RUN_SINGLE,
	.rules = RULES_100K,
	.setup = setup_syn_reject,
	.verdict = XDP_TX,
	.svc = BENCH_SVC_ID,
	.tier = BENCH_SHED_TIER,
	.reason = SPW_REASON_SHED_LEVEL,
	.check_out = check_rst,
    },
    /* ---- flow tracking (tracking on) ---- */
    {
	.name = "established, pure ACK, tracked flow",
	.goals = GOALS_FLOWS,
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
	.goals = GOALS_FLOWS,
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
	.goals = GOALS_FLOWS,
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
	.goals = GOALS_FLOWS,
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
	.name = "SYN admitted + insert, in-flight guard, 100k rules *",
	.goals = GOALS_FLOWS,
	.mode = RUN_SINGLE,
	.unique_flows = true,
	.rules = RULES_100K,
	.setup = setup_syn_guarded,
	.verify = verify_insert,
	.verdict = XDP_PASS,
	.svc = BENCH_SVC_ID,
	.tier = 1,
	.reason = SPW_REASON_ADMITTED,
	.control = "SYN admitted + insert, 100k rules *",
    },
    {
	.name = "FIN + delete, tracked flow *",
	.goals = GOALS_FLOWS,
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
    /* ---- the server's side at TC egress: it counts nothing (the counters must not move:
     * svc, tier and reason name no counter it could take), so the flow and the latency
     * histogram show the path instead ---- */
    {
	.name = "egress: UDP from a non-service port",
	.goals = GOALS_EGRESS,
	.prog = PROG_TC_EGRESS,
	.setup = setup_udp_nonservice,
	.verdict = (uint32_t)TC_ACT_UNSPEC,
	.svc = SPW_SVC_NONE,
	.tier = SPW_TIER_NONE,
	.reason = SPW_REASON_NOT_SERVICE,
    },
    {
	.name = "egress: data, tracked flow, no request",
	.goals = GOALS_EGRESS,
	.prog = PROG_TC_EGRESS,
	.setup = setup_server_data,
	.verify = verify_server_data,
	.verdict = (uint32_t)TC_ACT_UNSPEC,
	.svc = SPW_SVC_NONE,
	.tier = SPW_TIER_NONE,
	.reason = SPW_REASON_NOT_SERVICE,
    },
    {
	/* A new flow per call, its request made (untimed) before the round. */
	.name = "egress: response + latency sample *",
	.goals = GOALS_EGRESS,
	.prog = PROG_TC_EGRESS,
	.mode = RUN_SINGLE,
	.unique_flows = true,
	.setup = setup_response,
	.prep = prep_response,
	.prep_tier = BENCH_DEFAULT_TIER,
	.prep_reason = SPW_REASON_ESTABLISHED,
	.verify = verify_response,
	.verdict = (uint32_t)TC_ACT_UNSPEC,
	.svc = BENCH_SVC_ID, /* the prep's data is counted there, as established */
	.tier = SPW_TIER_NONE,
	.reason = SPW_REASON_NOT_SERVICE,
    },
};

const unsigned int case_count = sizeof(cases) / sizeof(cases[0]);
_Static_assert(sizeof(cases) / sizeof(cases[0]) <= CASE_MAX, "raise CASE_MAX");
