// SPDX-License-Identifier: GPL-2.0-only
/*
 * Client-side throttling through BPF_PROG_RUN: this host's SYNs to a throttled downstream go
 * through TC egress until the window is over its budget of K x accepts; the refused SYN must
 * come back as the RST+ACK the downstream would have sent, redirected to ingress and marked so
 * ingress does not count it as the downstream's. The downstream's SYN-ACKs and RSTs go through
 * TC ingress, which counts them. SYNs to a destination that is not a downstream, or to another
 * port of one, pass unchanged and count nothing.
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

#define CHECK(t, cond, fmt, ...)                                                                   \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg("[IPv%d] failed: %s\n    " fmt, (t)->family, #cond,               \
				 ##__VA_ARGS__);                                                   \
	} while (0)

#define CHECK_OK(t, call)                                                                          \
	do {                                                                                       \
		int err_ = (call);                                                                 \
		CHECK(t, err_ == 0, "%s: %s", #call, strerror(-err_));                             \
	} while (0)

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

/* A fresh data plane with the downstream (its address, /32 or /128, port DS_PORT). */
static void build(struct tctx *t)
{
	struct spw_downstream ds = {.id = DS_ID,
				    .port = htons(DS_PORT),
				    .default_tier = DS_TIER,
				    .k_centi = K_CENTI,
				    .bucket_ms = BUCKET_MS};
	char cidr[64];
	struct spw_cidr c;

	CHECK_OK(t, spw_fixture_open(&t->fx));
	snprintf(cidr, sizeof(cidr), "%s/%d", ds_addr(t), t->family == 4 ? 32 : 128);
	CHECK(t, spw_fixture_cidr(cidr, &c) == 0, "bad CIDR %s", cidr);
	CHECK_OK(t, spw_dp_downstream_set(t->fx.dp, &c, &ds));
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

#define BOTH(fn)                                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&fam4),              \
	    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&fam6)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_refusal),
	    BOTH(test_refusal_no_accepts),
	    BOTH(test_not_throttled),
	};

	return cmocka_run_group_tests_name("client-side throttling", tests, NULL, NULL);
}
