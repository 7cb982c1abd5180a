// SPDX-License-Identifier: GPL-2.0-only
/*
 * Client-side throttling through BPF_PROG_RUN: this host's SYNs to a throttled downstream go
 * through TC egress until the window is over its budget of K x accepts; the refused SYN must
 * come back as the RST+ACK the downstream would have sent, redirected to ingress and marked so
 * ingress does not count it as the downstream's. The downstream's SYN-ACKs and RSTs go through
 * TC ingress, which counts them. SYNs to a destination that is not a downstream, or to another
 * port of one, pass unchanged and count nothing.
 *
 * Downstreams also mark: every packet of this host's connections to one gets the DSCP of its
 * tier (the socket's cgroup, else the packet's mapped DSCP, else the default tier), with the
 * IPv4 header checksum right and ECN kept; the frame must be exactly the builder's with that
 * DSCP, and the IPv4 checksum is also checked by an RFC 1071 sum of the test's own.
 *
 * The RST is judged field by field here and by tests/lib/dpcheck.c, with checksums computed by
 * tests/lib/pktbuild.c (RFC 1071, nothing shared with bpf/). Every test runs for IPv4 and IPv6.
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "dpcheck.h"
#include "cgroup2.h"
#include "pktbuild.h"
#include "spw_fixture.h"

/* The downstream: the family's default destination, one port of it. */
#define DS_ID	    1
#define DS_PORT	    5432
#define OTHER_PORT  5433
#define DS_TIER	    1
#define K_CENTI	    200 /* K = 2 */
#define OTHER_DST4  "192.0.2.11"
#define OTHER_DST6  "2001:db8:2::11"
#define CLIENT_PORT 40000
#define CLIENT_SEQ  0x89abcdefu
/* One bucket, the whole window, far wider than a test: no rollover moves the budget. */
#define BUCKET_MS 3600000U
/* SYN-ACKs the downstream answers before the test's SYNs: a budget of K x this. */
#define ACCEPTS 5
/* With accepts 0 the nth attempt passes with probability 1/n: never this many in a row. */
#define MAX_ATTEMPTS 400
/* The mark bpf/throttle.bpf.h puts on its refusals ("SPWK"). */
#define THROTTLE_MARK 0x5350574bU
/* SYNs sent to destinations that are not throttled, after the downstream is over budget. */
#define OTHER_SYNS 50

struct tctx {
	int family;
	struct spw_fixture fx;
	uint16_t next_port;
	uint32_t next_seq;
};

static const int fam4 = 4, fam6 = 6;

/* Checks name the address family first: "[IPv6] failed: ...". */
#define CHECK(t, cond, fmt, ...)                                                                   \
	SPW_CHECK_IN(cond, #cond, "[IPv%d] ", fmt, (t)->family, ##__VA_ARGS__)
#define CHECK_OK(t, call) SPW_CHECK_OK_IN(call, #call, "[IPv%d] ", (t)->family)
#include "check.h"

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->family = *(const int *)*state;
	t->next_port = CLIENT_PORT;
	t->next_seq = CLIENT_SEQ;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;

	if (t)
		spw_fixture_close(&t->fx);
	free(t);
	*state = NULL;
	return 0;
}

static const char *ds_addr(const struct tctx *t)
{
	return t->family == 4 ? PKT_DEF_DADDR4 : PKT_DEF_DADDR6;
}

static const char *other_addr(const struct tctx *t)
{
	return t->family == 4 ? OTHER_DST4 : OTHER_DST6;
}

/*
 * A fresh data plane with the downstream (its address, /32 or /128, port DS_PORT): throttled
 * with a window bucket_ms wide (0: not throttled), flags and marks as given.
 */
static void build_ds(struct tctx *t, uint32_t bucket_ms, uint8_t flags,
		     const uint8_t mark[SPW_MAX_TIERS])
{
	struct spw_downstream ds = {.id = DS_ID,
				    .port = htons(DS_PORT),
				    .default_tier = DS_TIER,
				    .flags = flags,
				    .k_centi = K_CENTI,
				    .bucket_ms = bucket_ms};
	char cidr[64];
	struct spw_cidr c;

	memcpy(ds.mark, mark, sizeof(ds.mark));
	CHECK_OK(t, spw_fixture_open(&t->fx));
	snprintf(cidr, sizeof(cidr), "%s/%d", ds_addr(t), t->family == 4 ? 32 : 128);
	CHECK(t, spw_fixture_cidr(cidr, &c) == 0, "bad CIDR %s", cidr);
	CHECK_OK(t, spw_dp_downstream_set(t->fx.dp, &c, &ds));
}

/* The throttled downstream, marking nothing. */
static void build(struct tctx *t)
{
	static const uint8_t none[SPW_MAX_TIERS];

	build_ds(t, BUCKET_MS, 0, none);
}

/* One TC run with skb->mark set to mark_in; *mark_out is skb->mark as the program left it. */
static void run_tc(struct tctx *t, enum spw_prog prog, const uint8_t *pkt, size_t len,
		   uint32_t mark_in, struct spw_run *out, uint32_t *mark_out)
{
	struct __sk_buff ctx_in = {.mark = mark_in}, ctx_out = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .ctx_in = &ctx_in,
		    .ctx_size_in = sizeof(ctx_in), .ctx_out = &ctx_out,
		    .ctx_size_out = sizeof(ctx_out), .repeat = 1);
	int err = bpf_prog_test_run_opts(spw_dp_prog_fd(t->fx.dp, prog), &opts);

	CHECK(t, err == 0, "test run: %s", strerror(errno));
	out->retval = (int)opts.retval;
	out->len = opts.data_size_out;
	if (mark_out)
		*mark_out = ctx_out.mark;
}

/* This host's SYN, with the options a Linux client sends, to dst:dport from a new port. */
static size_t syn_to(struct tctx *t, const char *dst, uint16_t dport, uint8_t *buf, uint32_t *seq)
{
	struct pkt_spec s = {.family = t->family,
			     .daddr = dst,
			     .sport = t->next_port++,
			     .dport = dport,
			     .tcp_flags = PKT_TCP_SYN,
			     .seq = t->next_seq,
			     .tcp_opts_len = PKT_LINUX_SYN_OPTS};
	size_t len;

	/* Seqs near the wrap too, so ack = seq + 1 is seen to wrap. */
	*seq = t->next_seq;
	t->next_seq += 0x3fffffffu;
	len = pkt_build(&s, buf, PKT_BUF_MAX);
	CHECK(t, len > 0, "building a SYN to %s", dst);
	return len;
}

/* The downstream's answer (SYN-ACK or RST+ACK) to this host, as ingress sees it. */
static size_t answer(struct tctx *t, uint8_t flags, uint8_t *buf)
{
	struct pkt_spec s = {.family = t->family,
			     .saddr = ds_addr(t),
			     .daddr = t->family == 4 ? PKT_DEF_SADDR4 : PKT_DEF_SADDR6,
			     .sport = DS_PORT,
			     .dport = t->next_port++,
			     .tcp_flags = flags,
			     .seq = 1000,
			     .ack = 2000};
	size_t len = pkt_build(&s, buf, PKT_BUF_MAX);

	CHECK(t, len > 0, "building an answer");
	return len;
}

static void counts(struct tctx *t, uint64_t out[SPW_MAX_TIERS][SPW_THR_KINDS])
{
	CHECK_OK(t, spw_dp_throttle_read(t->fx.dp, DS_ID, out));
}

/* The counts of every tier but DS_TIER are 0; DS_TIER's are as given. */
static void expect_counts(struct tctx *t, uint64_t req, uint64_t acc, uint64_t ref, uint64_t thr)
{
	const uint64_t want[SPW_THR_KINDS] = {[SPW_THR_REQUESTS] = req,
					      [SPW_THR_ACCEPTS] = acc,
					      [SPW_THR_REFUSALS] = ref,
					      [SPW_THR_THROTTLED] = thr};
	uint64_t n[SPW_MAX_TIERS][SPW_THR_KINDS];

	counts(t, n);
	for (int tier = 0; tier < SPW_MAX_TIERS; tier++)
		for (int k = 0; k < SPW_THR_KINDS; k++) {
			uint64_t w = tier == DS_TIER ? want[k] : 0;

			CHECK(t, n[tier][k] == w, "tier %d kind %d: count %llu, want %llu", tier, k,
			      (unsigned long long)n[tier][k], (unsigned long long)w);
		}
}

/* The downstream accepts ACCEPTS connections: TC ingress counts each SYN-ACK. */
static void feed_accepts(struct tctx *t)
{
	uint8_t pkt[PKT_BUF_MAX];
	struct spw_run run;

	for (int i = 0; i < ACCEPTS; i++) {
		size_t len = answer(t, PKT_TCP_SYN | PKT_TCP_ACK, pkt);

		run_tc(t, SPW_PROG_TC_INGRESS, pkt, len, 0, &run, NULL);
		CHECK(t, run.retval == TC_ACT_UNSPEC, "SYN-ACK %d: verdict %d", i, run.retval);
	}
	expect_counts(t, 0, ACCEPTS, 0, 0);
}

/* A SYN TC egress let go: verdict "no verdict" (the next program, then the wire), untouched. */
static void expect_passed(struct tctx *t, const struct spw_run *run, const uint8_t *syn, size_t len,
			  int i)
{
	CHECK(t, run->retval == TC_ACT_UNSPEC, "SYN %d: verdict %d, want TC_ACT_UNSPEC", i,
	      run->retval);
	CHECK(t, run->len == len && memcmp(run->data, syn, len) == 0, "SYN %d changed (%u bytes)",
	      i, run->len);
}

/*
 * The refusal of syn, checked here field by field against the SYN as built (not as parsed back
 * by the code under test's own idea of it), then by dpcheck's RST check.
 */
static void expect_refusal(struct tctx *t, const struct spw_run *run, uint32_t mark,
			   const uint8_t *syn, size_t syn_len, uint32_t seq)
{
	size_t alen = t->family == 4 ? 4 : 16;
	uint8_t local[16], remote[16];
	struct pkt_view in, r;
	char why[256];

	CHECK(t, run->retval == TC_ACT_REDIRECT, "verdict %d, want TC_ACT_REDIRECT (to ingress)",
	      run->retval);
	CHECK(t, mark == THROTTLE_MARK, "skb->mark %#x, want %#x", mark, THROTTLE_MARK);
	CHECK(t, pkt_parse(syn, syn_len, &in) == 0, "SYN does not parse");
	CHECK(t, pkt_parse(run->data, run->len, &r) == 0, "refusal does not parse");
	CHECK(t,
	      inet_pton(t->family == 4 ? AF_INET : AF_INET6,
			t->family == 4 ? PKT_DEF_SADDR4 : PKT_DEF_SADDR6, local) == 1,
	      "local address");
	CHECK(t, inet_pton(t->family == 4 ? AF_INET : AF_INET6, ds_addr(t), remote) == 1,
	      "remote address");
	CHECK(t, r.len == 14 + (t->family == 4 ? 20u : 40u) + 20u, "refusal is %zu bytes", r.len);
	CHECK(t, r.family == t->family && r.l4_proto == IPPROTO_TCP, "family %d proto %u", r.family,
	      r.l4_proto);
	CHECK(t, memcmp(r.dmac, in.smac, 6) == 0 && memcmp(r.smac, in.dmac, 6) == 0,
	      "MACs not swapped");
	CHECK(t, memcmp(r.saddr, remote, alen) == 0, "source is not the downstream");
	CHECK(t, memcmp(r.daddr, local, alen) == 0, "destination is not this host");
	CHECK(t, r.sport == DS_PORT && r.dport == in.sport, "ports %u->%u, want %u->%u", r.sport,
	      r.dport, DS_PORT, in.sport);
	CHECK(t, r.tcp_flags == (PKT_TCP_RST | PKT_TCP_ACK), "flags %#x, want RST|ACK",
	      r.tcp_flags);
	CHECK(t, r.ack == (uint32_t)(seq + 1), "ack %#x, want seq + 1 = %#x", r.ack, seq + 1);
	CHECK(t, r.seq == 0, "seq %u", r.seq);
	CHECK(t, r.doff == 5, "doff %u", r.doff);
	if (t->family == 4)
		CHECK(t, pkt_ipv4_csum_ok(run->data, run->len), "IPv4 header checksum wrong");
	CHECK(t, pkt_l4_csum_ok(run->data, run->len), "TCP checksum wrong");
	CHECK(t, spw_check_rst(syn, syn_len, run->data, run->len, why, sizeof(why)) == 0, "%s",
	      why);
}

/*
 * SYNs to the downstream until TC egress refuses one: the first K x accepts + 1 pass for
 * certain (the window holds no excess before each), later ones pass less and less often.
 * Returns how many were sent; the refusal is in *run, its SYN in syn.
 */
static int until_refused(struct tctx *t, struct spw_run *run, uint8_t *syn, size_t *syn_len,
			 uint32_t *seq, uint32_t *mark, int sure)
{
	for (int i = 0; i < MAX_ATTEMPTS; i++) {
		*syn_len = syn_to(t, ds_addr(t), DS_PORT, syn, seq);
		run_tc(t, SPW_PROG_TC_EGRESS, syn, *syn_len, 0, run, mark);
		if (run->retval != TC_ACT_UNSPEC) {
			CHECK(t, i >= sure, "SYN %d refused, within the budget of %d", i, sure);
			return i + 1;
		}
		expect_passed(t, run, syn, *syn_len, i);
	}
	fail_msg("[IPv%d] %d SYNs to a downstream with %d accepts, none refused", t->family,
		 MAX_ATTEMPTS, ACCEPTS);
	return 0;
}

static void test_refusal(void **state)
{
	struct tctx *t = *state;
	/* Budget K x accepts; the share is taken before each attempt counts. */
	const int sure = K_CENTI * ACCEPTS / 100 + 1;
	uint8_t syn[PKT_BUF_MAX], rst[SPW_FX_OUT_MAX];
	struct spw_run run, in;
	size_t syn_len, rst_len;
	uint32_t seq, mark = 0, mark_after;
	int sent;

	build(t);
	feed_accepts(t);
	sent = until_refused(t, &run, syn, &syn_len, &seq, &mark, sure);
	expect_refusal(t, &run, mark, syn, syn_len, seq);
	expect_counts(t, (uint64_t)sent, ACCEPTS, 0, 1);

	/* Redirected to ingress with its mark: passed to the stack, mark cleared, not counted. */
	rst_len = run.len;
	memcpy(rst, run.data, rst_len);
	run_tc(t, SPW_PROG_TC_INGRESS, rst, rst_len, mark, &in, &mark_after);
	CHECK(t, in.retval == TC_ACT_UNSPEC, "own refusal at ingress: verdict %d", in.retval);
	CHECK(t, mark_after == 0, "own refusal at ingress: mark %#x left", mark_after);
	expect_counts(t, (uint64_t)sent, ACCEPTS, 0, 1);
	/* The same RST without the mark is the downstream's refusal. */
	run_tc(t, SPW_PROG_TC_INGRESS, rst, rst_len, 0, &in, NULL);
	CHECK(t, in.retval == TC_ACT_UNSPEC, "downstream's RST at ingress: verdict %d", in.retval);
	expect_counts(t, (uint64_t)sent, ACCEPTS, 1, 1);
}

/* No accepts at all: the second attempt on is refused more and more often, and counted. */
static void test_refusal_no_accepts(void **state)
{
	struct tctx *t = *state;
	uint8_t syn[PKT_BUF_MAX];
	struct spw_run run;
	size_t syn_len;
	uint32_t seq, mark = 0;
	int sent, refused = 1;

	build(t);
	sent = until_refused(t, &run, syn, &syn_len, &seq, &mark, 1);
	expect_refusal(t, &run, mark, syn, syn_len, seq);
	/* Over a long excess nearly all are refused: of 100 more, far more than half. */
	for (int i = 0; i < 100; i++) {
		syn_len = syn_to(t, ds_addr(t), DS_PORT, syn, &seq);
		run_tc(t, SPW_PROG_TC_EGRESS, syn, syn_len, 0, &run, &mark);
		if (run.retval == TC_ACT_UNSPEC) {
			expect_passed(t, &run, syn, syn_len, sent + i);
			continue;
		}
		expect_refusal(t, &run, mark, syn, syn_len, seq);
		refused++;
	}
	CHECK(t, refused > 1 + 80, "%d of %d refused", refused, sent + 100);
	expect_counts(t, (uint64_t)sent + 100, 0, 0, (uint64_t)refused);
}

/*
 * With the downstream over budget, SYNs to another address and to another port of the same
 * address pass unchanged and count nothing.
 */
static void test_not_throttled(void **state)
{
	struct tctx *t = *state;
	uint8_t syn[PKT_BUF_MAX];
	struct spw_run run;
	size_t syn_len;
	uint32_t seq, mark = 0;
	uint64_t before[SPW_MAX_TIERS][SPW_THR_KINDS], after[SPW_MAX_TIERS][SPW_THR_KINDS];

	build(t);
	until_refused(t, &run, syn, &syn_len, &seq, &mark, 1);
	counts(t, before);
	for (int i = 0; i < OTHER_SYNS; i++) {
		syn_len = syn_to(t, i % 2 ? other_addr(t) : ds_addr(t),
				 i % 2 ? DS_PORT : OTHER_PORT, syn, &seq);
		run_tc(t, SPW_PROG_TC_EGRESS, syn, syn_len, 0, &run, &mark);
		expect_passed(t, &run, syn, syn_len, i);
		CHECK(t, mark == 0, "SYN %d marked %#x", i, mark);
	}
	counts(t, after);
	CHECK(t, memcmp(before, after, sizeof(before)) == 0, "counts moved");
}

/* The DSCPs the marking downstream writes per tier, and DSCPs the spw_dscp map names. */
#define MARK_T0	      46
#define MARK_T1	      26
#define DSCP_TO_T0    10 /* a packet carrying it is tier 0 */
#define DSCP_TO_T2    34 /* ... tier 2, which the downstream marks 0 */
#define DSCP_UNMAPPED 8	 /* names no tier: the downstream's default */
/* An ECN codepoint (ECT(1)) the mark must leave as it is. */
#define ECN_ECT1 1

/* Sets the ECN bits of a built frame, fixing the IPv4 header checksum by a sum of its own. */
static void set_ecn(const struct tctx *t, uint8_t *frame, size_t len, uint8_t ecn)
{
	struct pkt_view v;
	uint8_t *ip;

	CHECK(t, pkt_parse(frame, len, &v) == 0, "frame does not parse");
	ip = frame + v.l3_off;
	if (t->family == 4) {
		ip[1] = (uint8_t)((ip[1] & ~3) | ecn);
		ip[10] = ip[11] = 0;
		uint16_t c = (uint16_t)~pkt_fold16(pkt_sum16(ip, (size_t)v.ihl * 4, 0));

		/* The sum is of big-endian words: the checksum is stored the same way. */
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	} else {
		/* Traffic class: the low nibble of byte 0, the high nibble of byte 1. */
		ip[1] = (uint8_t)((ip[1] & ~0x30) | (ecn << 4));
	}
}

/* A packet of this host's connection from port sport to dst:dport, IP header DSCP and ECN. */
static size_t out_pkt(struct tctx *t, const char *dst, uint16_t dport, uint16_t sport,
		      uint8_t flags, uint16_t payload, uint8_t dscp, uint8_t ecn, uint8_t *buf)
{
	struct pkt_spec s = {.family = t->family,
			     .daddr = dst,
			     .sport = sport,
			     .dport = dport,
			     .tcp_flags = flags,
			     .seq = 0x1000u,
			     .ack = flags & PKT_TCP_ACK ? 0x2000u : 0,
			     .tcp_opts_len = flags & PKT_TCP_SYN ? PKT_LINUX_SYN_OPTS : 0,
			     .payload_len = payload,
			     .dscp = dscp};
	size_t len = pkt_build(&s, buf, PKT_BUF_MAX);

	CHECK(t, len > 0, "building a packet to %s", dst);
	set_ecn(t, buf, len, ecn);
	return len;
}

/* A data plane whose downstream marks tiers 0, 1 and 2 (the last with DSCP 0). */
static void build_marking(struct tctx *t, uint32_t bucket_ms, uint8_t flags)
{
	static const uint8_t marks[SPW_MAX_TIERS] = {SPW_MARK_SET | MARK_T0, SPW_MARK_SET | MARK_T1,
						     SPW_MARK_SET | 0};

	build_ds(t, bucket_ms, flags, marks);
	CHECK_OK(t, spw_dp_dscp_set(t->fx.dp, DSCP_TO_T0, 0));
	CHECK_OK(t, spw_dp_dscp_set(t->fx.dp, DSCP_TO_T2, 2));
}

static uint64_t marked(struct tctx *t, int tier)
{
	uint64_t n[SPW_MAX_TIERS][SPW_THR_KINDS];

	counts(t, n);
	return n[tier][SPW_THR_MARKED];
}

/*
 * pkt through TC egress comes out as want: same length, the IPv4 header checksum right by
 * the builder's verifier and by a sum of our own, the L4 checksum untouched and right, and
 * exactly want's bytes. The marked count of tier grows by one (or stays, for tier < 0).
 */
static void expect_out(struct tctx *t, const char *what, const uint8_t *pkt, size_t len,
		       const uint8_t *want, int tier)
{
	uint64_t before = tier >= 0 ? marked(t, tier) : 0;
	uint64_t all_before[SPW_MAX_TIERS][SPW_THR_KINDS], all_after[SPW_MAX_TIERS][SPW_THR_KINDS];
	struct spw_run run;
	struct pkt_view v;

	counts(t, all_before);
	run_tc(t, SPW_PROG_TC_EGRESS, pkt, len, 0, &run, NULL);
	CHECK(t, run.retval == TC_ACT_UNSPEC, "%s: verdict %d", what, run.retval);
	CHECK(t, run.len == len, "%s: length %u, want %zu", what, run.len, len);
	CHECK(t, pkt_parse(run.data, run.len, &v) == 0, "%s: does not parse", what);
	if (t->family == 4) {
		CHECK(t, pkt_ipv4_csum_ok(run.data, run.len), "%s: IPv4 header checksum", what);
		CHECK(t, pkt_fold16(pkt_sum16(run.data + v.l3_off, (size_t)v.ihl * 4, 0)) == 0xffff,
		      "%s: IPv4 header does not sum to 0xffff", what);
	}
	CHECK(t, pkt_l4_csum_ok(run.data, run.len), "%s: TCP checksum", what);
	CHECK(t, !memcmp(run.data, want, len), "%s: frame differs from the expected one", what);
	counts(t, all_after);
	if (tier >= 0) {
		CHECK(t, marked(t, tier) == before + 1,
		      "%s: marked count of tier %d %llu, want %llu", what, tier,
		      (unsigned long long)marked(t, tier), (unsigned long long)before + 1);
		all_after[tier][SPW_THR_MARKED]--;
	}
	/* Nothing else counted: no request (unthrottled or not a SYN), no other tier. */
	for (int k = 0; k < SPW_MAX_TIERS; k++)
		all_before[k][SPW_THR_REQUESTS] = all_after[k][SPW_THR_REQUESTS];
	CHECK(t, !memcmp(all_before, all_after, sizeof(all_before)), "%s: other counts moved",
	      what);
}

/*
 * An unthrottled marking downstream: the SYN, data and pure ACKs of a connection to it get
 * their tier's DSCP, whatever DSCP and ECN the packet came with; packets to another address or
 * another port of the downstream's pass untouched and count nothing.
 */
static void test_mark_outgoing(void **state)
{
	struct tctx *t = *state;
	const struct {
		const char *what;
		uint8_t flags;
		uint16_t payload;
		uint8_t dscp_in, ecn, dscp_out;
		int tier;
	} cases[] = {
	    {"SYN, no DSCP: default tier", PKT_TCP_SYN, 0, 0, 0, MARK_T1, DS_TIER},
	    {"data, unmapped DSCP", PKT_TCP_ACK | PKT_TCP_PSH, 100, DSCP_UNMAPPED, 0, MARK_T1,
	     DS_TIER},
	    {"pure ACK, ECN kept", PKT_TCP_ACK, 0, 0, ECN_ECT1, MARK_T1, DS_TIER},
	    {"data, DSCP of tier 0", PKT_TCP_ACK | PKT_TCP_PSH, 64, DSCP_TO_T0, ECN_ECT1, MARK_T0,
	     0},
	    {"FIN, DSCP of tier 2: cleared", PKT_TCP_FIN | PKT_TCP_ACK, 0, DSCP_TO_T2, 0, 0, 2},
	    {"already the tier's DSCP", PKT_TCP_ACK, 0, MARK_T1, ECN_ECT1, MARK_T1, DS_TIER},
	};
	uint8_t pkt[PKT_BUF_MAX], want[PKT_BUF_MAX];
	size_t len;

	build_marking(t, 0, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, cases[i].flags, cases[i].payload,
			      cases[i].dscp_in, cases[i].ecn, pkt);
		CHECK(t,
		      out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, cases[i].flags, cases[i].payload,
			      cases[i].dscp_out, cases[i].ecn, want) == len,
		      "%s: want frame", cases[i].what);
		expect_out(t, cases[i].what, pkt, len, want, cases[i].tier);
	}
	/* Not the downstream: left as they are, nothing counted. */
	len = out_pkt(t, other_addr(t), DS_PORT, CLIENT_PORT, PKT_TCP_ACK, 10, DSCP_UNMAPPED,
		      ECN_ECT1, pkt);
	expect_out(t, "another address", pkt, len, pkt, -1);
	len = out_pkt(t, ds_addr(t), OTHER_PORT, CLIENT_PORT, PKT_TCP_SYN, 0, 0, 0, pkt);
	expect_out(t, "another port", pkt, len, pkt, -1);
}

/* Throttled and marking: a SYN the throttle lets go leaves marked, and both are counted. */
static void test_mark_throttled(void **state)
{
	struct tctx *t = *state;
	uint8_t pkt[PKT_BUF_MAX], want[PKT_BUF_MAX];
	uint64_t n[SPW_MAX_TIERS][SPW_THR_KINDS];
	struct spw_run run;
	size_t len;

	build_marking(t, BUCKET_MS, 0);
	/* The first attempt of an empty window is never refused. */
	len = out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, PKT_TCP_SYN, 0, 0, 0, pkt);
	out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, PKT_TCP_SYN, 0, MARK_T1, 0, want);
	run_tc(t, SPW_PROG_TC_EGRESS, pkt, len, 0, &run, NULL);
	CHECK(t, run.retval == TC_ACT_UNSPEC, "SYN: verdict %d", run.retval);
	CHECK(t, run.len == len && !memcmp(run.data, want, len), "SYN not marked as expected");
	counts(t, n);
	CHECK(t, n[DS_TIER][SPW_THR_REQUESTS] == 1 && n[DS_TIER][SPW_THR_MARKED] == 1,
	      "requests %llu, marked %llu, want 1 and 1",
	      (unsigned long long)n[DS_TIER][SPW_THR_REQUESTS],
	      (unsigned long long)n[DS_TIER][SPW_THR_MARKED]);
}

/*
 * The socket's cgroup decides first. BPF_PROG_RUN gives the skb a socket of its own, made in
 * the cgroup of the process that runs the test: an entry for that cgroup and the downstream
 * makes the packet tier 0 whatever its DSCP; an entry of another cgroup, or of another
 * downstream, changes nothing.
 */
static void test_mark_cgroup(void **state)
{
	struct tctx *t = *state;
	uint8_t pkt[PKT_BUF_MAX], want_t0[PKT_BUF_MAX], want_t1[PKT_BUF_MAX];
	struct spw_out_cgroup_key keys[2];
	const uint8_t tiers[2] = {0, 0};
	char self[256];
	uint64_t id;
	size_t len;

	CHECK(t, cg2_self(self, sizeof(self)) == 0, "no cgroup v2 path in /proc/self/cgroup");
	CHECK(t, cg2_id(self, &id) == 0, "cgroup %s: no id", self);
	build_marking(t, 0, SPW_DS_CGROUPS);
	len = out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, PKT_TCP_ACK, 20, DSCP_UNMAPPED, 0, pkt);
	out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, PKT_TCP_ACK, 20, MARK_T0, 0, want_t0);
	out_pkt(t, ds_addr(t), DS_PORT, CLIENT_PORT, PKT_TCP_ACK, 20, MARK_T1, 0, want_t1);

	/* Another cgroup, and this one for another downstream: the default tier. */
	keys[0] = (struct spw_out_cgroup_key){.cgroup_id = id + 1000003, .downstream = DS_ID};
	keys[1] = (struct spw_out_cgroup_key){.cgroup_id = id, .downstream = DS_ID + 1};
	CHECK_OK(t, spw_dp_out_cgroups_replace(t->fx.dp, keys, tiers, 2));
	expect_out(t, "other cgroups", pkt, len, want_t1, DS_TIER);
	/* This cgroup: tier 0. */
	keys[0] = (struct spw_out_cgroup_key){.cgroup_id = id, .downstream = DS_ID};
	CHECK_OK(t, spw_dp_out_cgroups_replace(t->fx.dp, keys, tiers, 1));
	expect_out(t, "own cgroup", pkt, len, want_t0, 0);
	/* Replaced by nothing: the default tier again. */
	CHECK_OK(t, spw_dp_out_cgroups_replace(t->fx.dp, keys, tiers, 0));
	expect_out(t, "cgroups removed", pkt, len, want_t1, DS_TIER);
}

#define BOTH(fn)                                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&fam4),              \
	    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&fam6)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_refusal),	      BOTH(test_refusal_no_accepts), BOTH(test_not_throttled),
	    BOTH(test_mark_outgoing), BOTH(test_mark_throttled),     BOTH(test_mark_cgroup),
	};

	return cmocka_run_group_tests_name("client-side throttling", tests, NULL, NULL);
}
