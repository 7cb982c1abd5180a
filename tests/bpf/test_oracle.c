// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet oracle: random and mutated frames (tests/lib/oracle_gen.c) through BPF_PROG_RUN
 * on the XDP and the TC ingress programs, each against a data plane of its own, and through
 * the reference model (tests/lib/oracle_model.c) with a state of its own per program. For
 * every frame the verdict (pass / drop / refusal sent back), the counter it moved (packets
 * and bytes of its (service, tier slot, reason)) and, where a token bucket was asked, the
 * bucket's contents must equal the model's; every refusal is read back by a parser of its own
 * (tests/lib/pktbuild.c): a valid RST+ACK acking SEQ + LEN (SYN, data, FIN) or ICMP
 * administratively prohibited quoting the datagram, checksums right, addresses and ports
 * swapped. Every few thousand frames all counters, the active counts and the flow table's
 * size are compared whole.
 *
 * The IPv6 cohort prefix moves through /64, /48 and /56 at each clear of the tables.
 *
 *   SPW_ORACLE_PACKETS  frames (default 50000; `make fuzz` runs 1,000,000)
 *   SPW_ORACLE_SEED     PRNG seed (default: from the clock; printed, so a run can be repeated)
 *   SPW_ORACLE_BREAK    break rule N of the model on purpose, to see the oracle fail (1-3, see
 *                       om_break_rule)
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "oracle_gen.h"
#include "oracle_model.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define DEFAULT_PACKETS 50000
/* Frames between whole comparisons of the counters, active counts and table size. */
#define FULL_CHECK_EVERY 5000
/* Frames between clears of the flow tables: idle expiry is the sweep's, not modelled. */
#define CLEAR_EVERY 20000
/* Disagreements printed in full, with the packet. */
#define PRINT_MAX 12
/* Then one line each, up to this many. */
#define PRINT_BRIEF_MAX 1000
/* The lease: far past the run's end. */
#define LEASE_S 3600

enum { HOOK_XDP, HOOK_TC, HOOKS };
static const char *const hook_name[HOOKS] = {"xdp", "tc"};
static const enum spw_prog hook_prog[HOOKS] = {SPW_PROG_XDP, SPW_PROG_TC_INGRESS};

/*
 * Services of the configuration (see config()):
 *   web    TCP 80: tier 0 rate-limited, tier 1 shed in part by reject, tier 2 by drop
 *   dns    UDP 53: tier 0 capped, tier 1 rate-limited and rejected (ICMP), tier 2 dropped
 *   bound  TCP 80 on 192.0.2.10 only: tier 0 capped and rejected beyond its cap
 *   nopol  TCP and UDP 8080: no policy, fail open
 *   dry    TCP 53: dry run, everything would be shed
 */
#define SVC_WEB	  1
#define SVC_DNS	  2
#define SVC_BOUND 3
#define SVC_NOPOL 4
#define SVC_DRY	  5

/*
 * The IPv6 cohort prefixes, one after another at each clear of the tables: the generator's
 * IPv6 clients of one /48 sit in 16 /64s, which share a cohort only under /48 and /56.
 */
static const uint32_t v6_prefixes[] = {64, 48, 56};
#define NPREFIXES (sizeof(v6_prefixes) / sizeof(v6_prefixes[0]))

/* The (service, tier) buckets the oracle states before each frame. */
static const struct {
	uint32_t svc, tier;
} rated[] = {{SVC_WEB, 0}, {SVC_DNS, 1}};
#define NRATED (sizeof(rated) / sizeof(rated[0]))

struct hook {
	struct spw_fixture fx;
	struct om_state st;
	struct spw_count *want;		   /* the model's counters, SPW_COUNTER_ENTRIES */
	struct spw_count *got;		   /* scratch for whole reads */
	struct spw_rank_count *want_ranks; /* the model's per-rank counts, SPW_MAX_SERVICES */
	bool bucket_stale[NRATED];
};

struct oracle {
	struct om_config cfg;
	struct hook h[HOOKS];
	struct og_rng rng;
	uint64_t packets, disagreements, bounces, checks, tc_refused;
	uint64_t by_reason[SPW_REASON_SLOTS];
};

static void prefix(struct om_prefix *p, const char *cidr, uint8_t tier)
{
	struct spw_cidr c;

	assert_int_equal(spw_fixture_cidr(cidr, &c), 0);
	memcpy(p->addr, c.addr, SPW_ADDR_LEN);
	p->len = c.prefixlen;
	p->is_v4 = c.is_v4;
	p->tier = tier;
}

static void service(struct om_config *c, uint8_t proto, uint16_t port, const char *addr,
		    uint32_t id)
{
	struct om_service *s = &c->svcs[c->nsvcs++];

	s->proto = proto;
	s->port = port;
	s->id = id;
	if (addr) {
		s->bound = true;
		assert_int_equal(spw_fixture_addr(addr, s->addr), 0);
	}
}

static struct spw_policy *policy(struct om_config *c, uint32_t id, uint8_t tiers,
				 uint8_t default_tier, uint16_t admit, uint16_t floor,
				 uint8_t partial)
{
	struct timespec ts;
	struct spw_policy *p = &c->pol[id];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->has_policy[id] = true;
	memset(p, 0, sizeof(*p));
	p->lease_expires_ns = ((uint64_t)ts.tv_sec + LEASE_S) * 1000000000ULL;
	p->tier_count = tiers;
	p->default_tier = default_tier;
	p->admit_level = admit;
	p->floor_level = floor;
	p->partial = partial;
	return p;
}

/* Services, rules, trusted and exempt sources, DSCP map and policies: the model's view. */
static void config(struct om_config *c)
{
	struct spw_policy *p;

	memset(c, 0, sizeof(*c));
	c->salt = 0x5eed0c1e;
	c->v6_prefix = v6_prefixes[0];
	memset(c->dscp_tier, SPW_DSCP_UNMAPPED, sizeof(c->dscp_tier));
	c->dscp_tier[46] = 0;
	c->dscp_tier[10] = 1;
	c->dscp_tier[8] = 6; /* past every service's tiers: clamped */

	service(c, IPPROTO_TCP, OG_PORT_HTTP, NULL, SVC_WEB);
	service(c, IPPROTO_UDP, OG_PORT_DNS, NULL, SVC_DNS);
	service(c, IPPROTO_TCP, OG_PORT_HTTP, OG_DADDR4_BOUND, SVC_BOUND);
	service(c, IPPROTO_TCP, OG_PORT_NOPOL, NULL, SVC_NOPOL);
	service(c, IPPROTO_UDP, OG_PORT_NOPOL, NULL, SVC_NOPOL);
	service(c, IPPROTO_TCP, OG_PORT_DNS, NULL, SVC_DRY);

	prefix(&c->rules[c->nrules++], "10.0.0.0/16", 0);
	prefix(&c->rules[c->nrules++], "10.1.0.0/16", 1);
	prefix(&c->rules[c->nrules++], "10.1.3.0/24", 0);
	prefix(&c->rules[c->nrules++], "10.7.0.0/16", 7);
	prefix(&c->rules[c->nrules++], "2001:db8:a::/48", 0);
	prefix(&c->rules[c->nrules++], "2001:db8:b::/48", 1);
	prefix(&c->rules[c->nrules++], "203.0.113.64/26", 2);
	prefix(&c->trusted[c->ntrusted++], "203.0.113.0/24", 0);
	prefix(&c->trusted[c->ntrusted++], "2001:db8:7::/48", 0);
	prefix(&c->exempt[c->nexempt++], "198.51.100.0/28", 0);
	prefix(&c->exempt[c->nexempt++], "2001:db8:e::/120", 0);

	/* Tier 0 admitted (rank < 32), tier 1 up to cohort 16, partly at 16, tier 2 shed. */
	p = policy(c, SVC_WEB, 3, 2, SPW_COHORTS + 16, SPW_COHORTS, 128);
	p->rate_per_sec[0] = 1;
	p->burst[0] = 4;
	p->action[1] = SPW_ACTION_REJECT;
	/* No floor; tier 0 capped at 8 flows, tier 1 admitted up to cohort 8 and rate-limited. */
	p = policy(c, SVC_DNS, 3, 2, SPW_COHORTS + 8, 0, 64);
	p->max_conns[0] = 8;
	p->rate_per_sec[1] = 2;
	p->burst[1] = 3;
	p->action[1] = SPW_ACTION_REJECT;
	/* Two tiers: tier 0 capped at 5 and rejected beyond, tier 1 up to cohort 8. */
	p = policy(c, SVC_BOUND, 2, 1, SPW_COHORTS + 8, 0, 0);
	p->max_conns[0] = 5;
	p->action[0] = p->action[1] = SPW_ACTION_REJECT;
	p = policy(c, SVC_DRY, 3, 2, 0, 0, 0);
	p->flags = SPW_POLICY_DRY_RUN;
	p->action[2] = SPW_ACTION_REJECT;
}

/* The run-time knobs of spw_globals the model reads (salt, IPv6 prefix), the clock's off. */
static void set_globals(const struct om_config *c, struct spw_dataplane *dp)
{
	struct spw_globals g;

	assert_int_equal(spw_dp_globals_get(dp, &g), 0);
	g.cohort_salt = c->salt;
	g.ipv6_cohort_prefix = (uint8_t)c->v6_prefix;
	g.insert_rate = 0; /* no flood guard: its budget is a clock's */
	g.icmp_rate = 0;   /* no ICMP reject limit: the same (tests/bpf/test_admission has it) */
	assert_int_equal(spw_dp_globals_set(dp, &g), 0);
}

/* The same configuration into a data plane. */
static void apply(const struct om_config *c, struct spw_dataplane *dp)
{
	struct spw_cidr cidr;
	int i;

	for (i = 0; i < c->nsvcs; i++) {
		struct spw_service_match m = {.proto = c->svcs[i].proto,
					      .port = c->svcs[i].port,
					      .has_addr = c->svcs[i].bound};

		memcpy(m.addr, c->svcs[i].addr, SPW_ADDR_LEN);
		assert_int_equal(spw_dp_service_add(dp, &m, c->svcs[i].id), 0);
	}
	for (i = 0; i < SPW_MAX_SERVICES; i++)
		if (c->has_policy[i])
			assert_int_equal(spw_dp_policy_set(dp, (uint32_t)i, &c->pol[i]), 0);
#define CIDR_OF(p)                                                                                 \
	do {                                                                                       \
		memcpy(cidr.addr, (p)->addr, SPW_ADDR_LEN);                                        \
		cidr.prefixlen = (p)->len;                                                         \
		cidr.is_v4 = (p)->is_v4;                                                           \
	} while (0)
	for (i = 0; i < c->nrules; i++) {
		CIDR_OF(&c->rules[i]);
		assert_int_equal(spw_dp_rule_add(dp, &cidr, c->rules[i].tier, (uint32_t)i + 1), 0);
	}
	for (i = 0; i < c->ntrusted; i++) {
		CIDR_OF(&c->trusted[i]);
		assert_int_equal(spw_dp_trusted_add(dp, &cidr), 0);
	}
	for (i = 0; i < c->nexempt; i++) {
		CIDR_OF(&c->exempt[i]);
		assert_int_equal(spw_dp_exempt_add(dp, &cidr), 0);
	}
#undef CIDR_OF
	for (i = 0; i < 64; i++)
		if (c->dscp_tier[i] != SPW_DSCP_UNMAPPED)
			assert_int_equal(spw_dp_dscp_set(dp, (uint8_t)i, c->dscp_tier[i]), 0);
	set_globals(c, dp);
}

static void hex(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x%s", p[i], i % 32 == 31 ? "\n    " : "");
	fprintf(stderr, "\n");
}

static const char *reason_name(uint32_t r)
{
	static const char *const names[] = {
#define NAME(n, s) s,
	    SPW_REASONS(NAME)
#undef NAME
	};

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static const char *verdict_name(int v)
{
	return v == OM_PASS ? "pass" : v == OM_DROP ? "drop" : v == OM_BOUNCE ? "refusal" : "?";
}

/* What a program's return value means, -1 when it is none of the three. */
static int verdict_of(int hook, int retval)
{
	if (hook == HOOK_XDP)
		return retval == XDP_PASS   ? OM_PASS
		       : retval == XDP_DROP ? OM_DROP
		       : retval == XDP_TX   ? OM_BOUNCE
					    : -1;
	return retval == TC_ACT_UNSPEC	   ? OM_PASS
	       : retval == TC_ACT_SHOT	   ? OM_DROP
	       : retval == TC_ACT_REDIRECT ? OM_BOUNCE
					   : -1;
}

/* ---------------------------------------------------------------------------------- */
/* The refusal, read back with the tests' own parser                                    */

static int why_fail(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int why_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool addr_is(const struct pkt_view *v, const uint8_t *a16, bool saddr)
{
	const uint8_t *got = saddr ? v->saddr : v->daddr;

	return v->family == 4 ? !memcmp(got, a16 + 12, 4) : !memcmp(got, a16, 16);
}

/*
 * Is out the refusal of frame in (whose parse the model gave in f): Ethernet addresses
 * swapped and the tags kept, IP addresses swapped, a fresh TTL, no options or extension
 * headers, lengths that match, checksums right; TCP: RST+ACK, seq 0, ports swapped, acking
 * SEQ + LEN (the SYN, its data, a FIN); UDP: ICMP administratively prohibited quoting the IP
 * header and the L4 header's 8 bytes (IPv6: at most 240 bytes of it).
 */
static int check_refusal(const uint8_t *in, size_t in_len, const struct om_facts *f,
			 const uint8_t *out, size_t out_len, char *why, size_t n)
{
	size_t iph = f->is_v4 ? 20 : 40, quote, want_len;
	struct pkt_view v;

	if (pkt_parse(out, out_len, &v))
		return why_fail(why, n, "the refusal does not parse");
	if (memcmp(out, in + 6, 6) || memcmp(out + 6, in, 6))
		return why_fail(why, n, "MAC addresses not swapped");
	if (f->l3_off > in_len || memcmp(out + 12, in + 12, f->l3_off - 12))
		return why_fail(why, n, "VLAN tags / ethertype not kept");
	if (v.l3_off != f->l3_off || v.family != (f->is_v4 ? 4 : 6))
		return why_fail(why, n, "IP header not where the request's was");
	if (!addr_is(&v, f->daddr, true) || !addr_is(&v, f->saddr, false))
		return why_fail(why, n, "IP addresses not swapped");
	if (v.ttl < 64)
		return why_fail(why, n, "TTL %u, not a fresh one", v.ttl);
	if (f->is_v4 &&
	    (v.ihl != 5 || v.frag_more || v.frag_offset || !pkt_ipv4_csum_ok(out, out_len)))
		return why_fail(why, n, "IPv4 header: ihl %u, fragment bits, or checksum", v.ihl);
	if (!f->is_v4 && v.ext_count)
		return why_fail(why, n, "IPv6 extension headers in the refusal");
	if (!pkt_l4_csum_ok(out, out_len))
		return why_fail(why, n, "L4 checksum wrong");
	if (f->proto == IPPROTO_TCP) {
		uint32_t ack = f->seq + 1 + f->payload_len + (f->tcp_flags & PKT_TCP_FIN ? 1 : 0);

		want_len = f->l3_off + iph + 20;
		if (v.l4_proto != IPPROTO_TCP || out_len != want_len || v.l4_len != 20)
			return why_fail(why, n, "not a bare TCP segment: proto %u, %zu bytes",
					v.l4_proto, out_len);
		if (v.sport != f->dport || v.dport != f->sport)
			return why_fail(why, n, "ports %u->%u not swapped", v.sport, v.dport);
		if (v.tcp_flags != (PKT_TCP_RST | PKT_TCP_ACK) || v.seq != 0 || v.doff != 5)
			return why_fail(why, n, "flags 0x%02x seq %u doff %u, not RST+ACK seq 0",
					v.tcp_flags, v.seq, v.doff);
		if (v.ack != ack)
			return why_fail(why, n,
					"ack %u, not SEQ+LEN %u (seq %u, %u bytes, flags 0x%02x)",
					v.ack, ack, f->seq, f->payload_len, f->tcp_flags);
		return 0;
	}
	quote = f->l4_off - f->l3_off + 8;
	if (quote > 240)
		quote = 240;
	want_len = f->l3_off + iph + 8 + quote;
	if (v.l4_proto != (f->is_v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) || out_len != want_len)
		return why_fail(why, n, "not an ICMP refusal of %zu bytes: proto %u, %zu bytes",
				want_len, v.l4_proto, out_len);
	if (f->is_v4 ? v.icmp_type != 3 || v.icmp_code != 13 : v.icmp_type != 1 || v.icmp_code != 1)
		return why_fail(why, n, "ICMP type %u code %u", v.icmp_type, v.icmp_code);
	if (f->l3_off + quote > in_len || memcmp(out + f->l3_off + iph + 8, in + f->l3_off, quote))
		return why_fail(why, n, "the quote is not the request's first %zu bytes", quote);
	return 0;
}

/* ---------------------------------------------------------------------------------- */
/* The run                                                                               */

static void disagree(struct oracle *o, int hk, const uint8_t *frame, size_t len,
		     const struct om_result *m, int got_verdict, const char *what)
{
	o->disagreements++;
	if (o->disagreements > PRINT_MAX) {
		if (o->disagreements <= PRINT_BRIEF_MAX)
			fprintf(stderr,
				"DISAGREEMENT #%" PRIu64 " at packet %" PRIu64 " on %s: %s\n",
				o->disagreements, o->packets, hook_name[hk], what);
		return;
	}
	fprintf(stderr,
		"DISAGREEMENT #%" PRIu64 " at packet %" PRIu64 " on %s: %s\n"
		"  model:   %s, counter svc %u tier %u %s\n  program: %s\n  packet (%zu bytes): ",
		o->disagreements, o->packets, hook_name[hk], what, verdict_name(m->verdict), m->svc,
		m->tier_slot, reason_name(m->reason), verdict_name(got_verdict), len);
	hex(frame, len);
}

/* Each service's new flows by rank, passed and shed by the level, against the model's. */
static void check_ranks(struct oracle *o, int hk)
{
	struct hook *h = &o->h[hk];
	struct spw_rank_count got;

	for (uint32_t s = 0; s < SPW_MAX_SERVICES; s++) {
		struct spw_rank_count *want = &h->want_ranks[s];

		if (s == SPW_SVC_NONE)
			continue;
		assert_int_equal(spw_dp_rank_counts_read(h->fx.dp, s, &got), 0);
		for (uint32_t r = 0; r < SPW_RANK_LIMIT; r++) {
			if (got.passed[r] == want->passed[r] && got.shed[r] == want->shed[r])
				continue;
			o->disagreements++;
			if (o->disagreements <= PRINT_MAX)
				fprintf(stderr,
					"DISAGREEMENT on %s by packet %" PRIu64
					": svc %u rank %u passed %" PRIu64 " shed %" PRIu64
					", model %" PRIu64 " / %" PRIu64 "\n",
					hook_name[hk], o->packets, s, r, (uint64_t)got.passed[r],
					(uint64_t)got.shed[r], (uint64_t)want->passed[r],
					(uint64_t)want->shed[r]);
		}
		*want = got; /* judge what follows afresh */
	}
}

/* Every counter, active count, per-rank count and the table's size against the model's. */
static void full_check(struct oracle *o, int hk)
{
	struct hook *h = &o->h[hk];
	uint64_t entries;
	uint32_t cap;
	char what[160];

	o->checks++;
	assert_int_equal(spw_dp_counters_read_all(h->fx.dp, h->got), 0);
	for (uint32_t i = 0; i < SPW_COUNTER_ENTRIES; i++) {
		if (h->got[i].packets == h->want[i].packets && h->got[i].bytes == h->want[i].bytes)
			continue;
		o->disagreements++;
		if (o->disagreements <= PRINT_MAX)
			fprintf(stderr,
				"DISAGREEMENT on %s by packet %" PRIu64
				": counter svc %u tier %u %s is "
				"%" PRIu64 " packets %" PRIu64 " bytes, model %" PRIu64
				" / %" PRIu64 "\n",
				hook_name[hk], o->packets, i / SPW_REASON_SLOTS / SPW_TIER_SLOTS,
				i / SPW_REASON_SLOTS % SPW_TIER_SLOTS,
				reason_name(i % SPW_REASON_SLOTS), h->got[i].packets,
				h->got[i].bytes, h->want[i].packets, h->want[i].bytes);
		h->want[i] = h->got[i]; /* judge what follows afresh */
	}
	for (uint32_t s = 0; s < SPW_MAX_SERVICES; s++) {
		if (!o->cfg.has_policy[s])
			continue;
		for (uint32_t t = 0; t < SPW_TIER_SLOTS; t++) {
			uint64_t act;

			assert_int_equal(spw_dp_active_read(h->fx.dp, s, t, &act), 0);
			if (act == h->st.active[s][t])
				continue;
			snprintf(what, sizeof(what),
				 "active count of svc %u tier %u is %" PRIu64 ", model %" PRIu64, s,
				 t, act, h->st.active[s][t]);
			o->disagreements++;
			if (o->disagreements <= PRINT_MAX)
				fprintf(stderr, "DISAGREEMENT on %s by packet %" PRIu64 ": %s\n",
					hook_name[hk], o->packets, what);
		}
	}
	check_ranks(o, hk);
	assert_int_equal(spw_dp_flow_count(h->fx.dp, &entries, &cap), 0);
	if (entries != h->st.live) {
		o->disagreements++;
		if (o->disagreements <= PRINT_MAX)
			fprintf(stderr,
				"DISAGREEMENT on %s by packet %" PRIu64 ": %" PRIu64
				" flows in the table, model %u\n",
				hook_name[hk], o->packets, entries, h->st.live);
	}
}

/*
 * States the rate-limited buckets for the next frame, the same for both hooks: now and then
 * new contents (from empty to full), else what the model says they hold; the data plane's copy
 * is rewritten wherever a frame used it, with a refill stamp in the future, so the program
 * sees no time elapsed.
 */
static void set_buckets(struct oracle *o)
{
	bool reroll = og_below(&o->rng, 4) == 0;

	for (size_t i = 0; i < NRATED; i++) {
		uint32_t svc = rated[i].svc, tier = rated[i].tier;
		uint64_t units =
		    og_below(&o->rng, o->cfg.pol[svc].burst[tier] + 1) * SPW_BUCKET_UNIT;

		for (int hk = 0; hk < HOOKS; hk++) {
			struct hook *h = &o->h[hk];
			struct spw_bucket b = {0};

			if (reroll) {
				h->st.units[svc][tier] = units;
				h->bucket_stale[i] = true;
			}
			if (!h->bucket_stale[i])
				continue;
			b.units = h->st.units[svc][tier];
			b.last_ns = UINT64_MAX;
			assert_int_equal(spw_dp_bucket_set(h->fx.dp, svc, tier, &b), 0);
			h->bucket_stale[i] = false;
		}
	}
}

static void one_frame(struct oracle *o, int hk, const uint8_t *frame, size_t len)
{
	struct hook *h = &o->h[hk];
	struct spw_run run;
	struct om_result m;
	struct spw_count c;
	uint32_t idx;
	int v, err;
	char why[200];

	err = spw_fixture_run(&h->fx, hook_prog[hk], frame, len, &run);
	if (err == -EINVAL && hk == HOOK_TC && len < 14 + 40) {
		/* The kernel builds no skb of an IP frame shorter than its IP header: such a
		 * frame never reaches TC, nothing to compare. */
		o->tc_refused++;
		return;
	}
	if (err) {
		fprintf(stderr, "BPF_PROG_RUN on %s refused a %zu-byte frame: %s\n  ",
			hook_name[hk], len, strerror(-err));
		hex(frame, len);
	}
	assert_int_equal(err, 0);
	om_decide(&o->cfg, &h->st, frame, len, &m);
	v = verdict_of(hk, run.retval);
	idx = spw_counter_index(m.svc, m.tier_slot, m.reason);
	h->want[idx].packets++;
	h->want[idx].bytes += len;
	if (m.ranked && m.rank_passed)
		h->want_ranks[m.svc].passed[m.rank]++;
	else if (m.ranked)
		h->want_ranks[m.svc].shed[m.rank]++;
	if (hk == HOOK_XDP)
		o->by_reason[m.reason]++;
	if (v != (int)m.verdict) {
		snprintf(why, sizeof(why), "verdict (return value %d)", run.retval);
		disagree(o, hk, frame, len, &m, v, why);
	} else if (v == OM_BOUNCE) {
		o->bounces++;
		if (check_refusal(frame, len, &m.f, run.data, run.len, why, sizeof(why))) {
			disagree(o, hk, frame, len, &m, v, why);
			fprintf(stderr, "  refusal (%u bytes): ", run.len);
			hex(run.data, run.len);
		}
	}
	assert_int_equal(spw_dp_counter_read(h->fx.dp, m.svc, m.tier_slot, m.reason, &c), 0);
	if (c.packets != h->want[idx].packets || c.bytes != h->want[idx].bytes) {
		snprintf(why, sizeof(why),
			 "the model's counter is %" PRIu64 " packets %" PRIu64
			 " bytes, the program's %" PRIu64 " / %" PRIu64,
			 h->want[idx].packets, h->want[idx].bytes, c.packets, c.bytes);
		disagree(o, hk, frame, len, &m, v, why);
		h->want[idx] = c;
	}
	if (m.bucket_used) {
		for (size_t i = 0; i < NRATED; i++) {
			struct spw_bucket b;

			if (rated[i].svc != m.svc || rated[i].tier != m.tier_slot)
				continue;
			h->bucket_stale[i] = true;
			assert_int_equal(spw_dp_bucket_get(h->fx.dp, m.svc, m.tier_slot, &b), 0);
			if (b.units != h->st.units[m.svc][m.tier_slot]) {
				snprintf(why, sizeof(why),
					 "bucket holds %" PRIu64 " units, model %" PRIu64,
					 (uint64_t)b.units, h->st.units[m.svc][m.tier_slot]);
				disagree(o, hk, frame, len, &m, v, why);
				h->st.units[m.svc][m.tier_slot] = b.units;
			}
		}
	}
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "%s=%s is not a number\n", name, s);
		exit(2);
	}
	return v;
}

static void test_oracle(void **state)
{
	struct oracle *o = calloc(1, sizeof(*o));
	struct timespec t0, t1;
	uint64_t seed, n;
	uint8_t frame[OG_FRAME_MAX];
	double secs;
	int hk;

	(void)state;
	assert_non_null(o);
	clock_gettime(CLOCK_REALTIME, &t0);
	seed = env_u64("SPW_ORACLE_SEED", ((uint64_t)t0.tv_sec << 20) ^ (uint64_t)t0.tv_nsec ^
					      ((uint64_t)getpid() << 40));
	n = env_u64("SPW_ORACLE_PACKETS", DEFAULT_PACKETS);
	om_break_rule = (int)env_u64("SPW_ORACLE_BREAK", 0);
	printf("oracle: seed %" PRIu64 " (SPW_ORACLE_SEED=%" PRIu64 " repeats this run), %" PRIu64
	       " packets%s\n",
	       seed, seed, n, om_break_rule ? ", a model rule broken on purpose" : "");
	og_seed(&o->rng, seed);
	config(&o->cfg);
	for (hk = 0; hk < HOOKS; hk++) {
		struct hook *h = &o->h[hk];

		assert_int_equal(spw_fixture_open(&h->fx), 0);
		assert_int_equal(om_state_init(&h->st), 0);
		h->want = calloc(SPW_COUNTER_ENTRIES, sizeof(*h->want));
		h->got = calloc(SPW_COUNTER_ENTRIES, sizeof(*h->got));
		assert_non_null(h->want);
		assert_non_null(h->got);
		h->want_ranks = calloc(SPW_MAX_SERVICES, sizeof(*h->want_ranks));
		assert_non_null(h->want_ranks);
		apply(&o->cfg, h->fx.dp);
		for (size_t i = 0; i < NRATED; i++)
			h->bucket_stale[i] = true; /* a bucket never used is full: state it */
		/* Counters the fixture's open may have started: the model starts from them. */
		assert_int_equal(spw_dp_counters_read_all(h->fx.dp, h->want), 0);
		for (uint32_t s = 0; s < SPW_MAX_SERVICES; s++)
			assert_true(s == SPW_SVC_NONE ||
				    !spw_dp_rank_counts_read(h->fx.dp, s, &h->want_ranks[s]));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (o->packets = 0; o->packets < n;) {
		size_t len = og_frame(&o->rng, frame);

		/* Both hooks see the same frame and the same bucket contents. */
		set_buckets(o);
		o->packets++;
		for (hk = 0; hk < HOOKS; hk++)
			one_frame(o, hk, frame, len);
		if (o->packets % FULL_CHECK_EVERY == 0 || o->packets == n)
			for (hk = 0; hk < HOOKS; hk++)
				full_check(o, hk);
		if (o->packets % CLEAR_EVERY == 0) {
			o->cfg.v6_prefix = v6_prefixes[(o->packets / CLEAR_EVERY) % NPREFIXES];
			for (hk = 0; hk < HOOKS; hk++) {
				assert_int_equal(spw_dp_flows_clear(o->h[hk].fx.dp), 0);
				om_state_clear(&o->h[hk].st);
				full_check(o, hk);
				set_globals(&o->cfg, o->h[hk].fx.dp);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("oracle: %" PRIu64 " packets through xdp and tc in %.1f s (%.0f packets/s per "
	       "hook), %" PRIu64 " refusals checked, %" PRIu64 " whole comparisons, %" PRIu64
	       " short frames the kernel runs through XDP only\n",
	       o->packets, secs, secs > 0 ? (double)o->packets / secs : 0.0, o->bounces, o->checks,
	       o->tc_refused);
	printf("oracle: by reason (xdp):");
	for (uint32_t r = 0; r < SPW_REASON_COUNT; r++)
		if (o->by_reason[r])
			printf(" %s %" PRIu64, reason_name(r), o->by_reason[r]);
	printf("\noracle: %" PRIu64 " disagreements%s\n", o->disagreements,
	       o->disagreements ? " (seed above repeats them)" : "");
	fflush(stdout);
	for (hk = 0; hk < HOOKS; hk++) {
		spw_fixture_close(&o->h[hk].fx);
		om_state_free(&o->h[hk].st);
		free(o->h[hk].want);
		free(o->h[hk].got);
		free(o->h[hk].want_ranks);
	}
	n = o->disagreements;
	free(o);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oracle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
