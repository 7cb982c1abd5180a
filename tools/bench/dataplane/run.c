// SPDX-License-Identifier: GPL-2.0-only
/* Timing one case: rounds of spillway and the empty program alternated, checked by the counters. */
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

double median(const double *v, unsigned int n)
{
	double s[MAX_ROUNDS > TINY_CALLS ? MAX_ROUNDS : TINY_CALLS];

	memcpy(s, v, n * sizeof(*v));
	return bench_median_sort(s, n);
}

struct prog *case_prog(struct bench *b, const struct bench_case *c)
{
	return c->prog == PROG_SPW_NOTRACK ? &b->spw_notrack
	       : c->prog == PROG_TC_EGRESS ? &b->tc_egress
					   : &b->spw;
}

/* The empty program of the case's hook, and what it answers. */
struct prog *case_empty(struct bench *b, const struct bench_case *c)
{
	return c->prog == PROG_TC_EGRESS ? &b->empty_tc : &b->empty;
}

uint32_t case_empty_verdict(const struct bench_case *c)
{
	return c->prog == PROG_TC_EGRESS ? (uint32_t)TC_ACT_UNSPEC : XDP_PASS;
}

/*
 * One BPF_PROG_RUN call, timed with bench_clock. out may be NULL; both programs of a case
 * always run with the same arguments, so copy-in and copy-out are part of both figures alike.
 */
int test_run(struct prog *pg, const struct bench_pkt *p, uint32_t repeat, uint8_t *out,
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
int expect_verdict(const struct prog *pg, const struct bench_case *c, uint32_t got, uint32_t want)
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

/*
 * Empties the flow table, and checks it is empty: a flow left over from the previous round
 * would turn a SYN of this one into a retransmission.
 */
int flows_empty(struct bench *b)
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
			/* A server's packet carries the client's port as its destination. */
			if (c->prog == PROG_TC_EGRESS)
				q.dport = (uint16_t)(UNIQUE_SPORT_BASE + i);
			else
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
	/* TC egress counts nothing but marks, and the bench's flows carry none: every packet
	 * it ran must have left the counters as they were (prep packets ran at ingress). */
	if (c->prog == PROG_TC_EGRESS)
		packets = 0;
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

/* ---- running a case ---- */

/*
 * Returns 0, -EPROTO when the case did not run as named (no figure; the others still run),
 * or another -errno when the run cannot go on.
 */
int run_case(struct bench *b, const struct bench_case *c, struct result *res)
{
	double spw[MAX_ROUNDS], empty_ns[MAX_ROUNDS];
	struct prog *pg = case_prog(b, c), *empty = case_empty(b, c);
	uint32_t empty_verdict = case_empty_verdict(c);
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
	err = test_run(empty, &p, 1, NULL, NULL, NULL, &ret, NULL);
	if (err)
		return err;
	err = expect_verdict(empty, c, ret, empty_verdict);
	if (err)
		return err;

	err = calibrate(b, pg, c, &p, c->verdict, &rep_spw);
	if (!err)
		err = calibrate(b, empty, c, &p, empty_verdict, &rep_empty);
	if (err)
		return err;
	pr_info("%s: %u rounds of %s %u (spillway) and %u (empty)\n", c->name, b->rounds,
		c->mode == RUN_SINGLE ? "repeat=1 calls:" : "repeat", rep_spw, rep_empty);

	for (r = 0; r < b->rounds; r++) {
		if (c->mode == RUN_SINGLE) {
			err = round_single(b, empty, c, &p, empty_verdict, rep_empty, &empty_ns[r]);
			if (!err)
				err = round_single(b, pg, c, &p, c->verdict, rep_spw, &spw[r]);
		} else {
			err = round_repeat(empty, c, &p, empty_verdict, rep_empty, &empty_ns[r]);
			if (!err)
				err = round_repeat(pg, c, &p, c->verdict, rep_spw, &spw[r]);
		}
		if (err)
			return err;
		pr_debug("%s: round %u: spillway %.2f ns, empty %.2f ns\n", c->name, r + 1, spw[r],
			 empty_ns[r]);
	}

	/* Every packet timed took the path named, not only the first. */
	err = counters_expect(b, c, pg->packets - base - (b->prep_packets - prep_base),
			      b->prep_packets - prep_base, "timed packets");
	if (!err && c->verify)
		err = c->verify(b, c, &p, AT_END, 0);
	if (err)
		return err;

	res->spw_ns = median(spw, b->rounds);
	res->empty_ns = median(empty_ns, b->rounds);
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
