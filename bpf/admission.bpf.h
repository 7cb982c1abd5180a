/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The admission core, written once against the context wrapper (ctx_xdp.bpf.h or
 * ctx_skb.bpf.h, included first) and compiled into the XDP and TC entry points:
 *
 *   parse -> service? -> known flow? -> tier, cohort -> lease? -> level, bucket -> admit / shed
 *
 * Anything not understood passes, counted. Only new flows are decided: a TCP SYN, or the first
 * packet of an unknown flow to a UDP service; packets of flows in progress always pass.
 */
#ifndef SPW_ADMISSION_BPF_H
#define SPW_ADMISSION_BPF_H

#include <linux/errno.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "classify.bpf.h"
#include "policy.bpf.h"
#include "stats.bpf.h"
#include "reject.bpf.h"

/* What the entry point should do with the packet, in hook-neutral terms. */
enum spw_verdict {
	SPW_VERDICT_PASS,
	SPW_VERDICT_DROP,
	SPW_VERDICT_BOUNCE, /* rewritten into a reply: send it back out */
};

static __always_inline void spw_flow_key_of(const struct spw_pkt *pkt, const __u8 *saddr,
					    const __u8 *daddr, struct spw_flow_key *key)
{
	__builtin_memcpy(key->saddr, saddr, SPW_ADDR_LEN);
	__builtin_memcpy(key->daddr, daddr, SPW_ADDR_LEN);
	key->sport = pkt->sport;
	key->dport = pkt->dport;
	key->proto = pkt->proto;
	key->pad[0] = key->pad[1] = key->pad[2] = 0;
}

/*
 * Records an admitted UDP flow so its later packets pass without a decision. A full table
 * does not refuse the flow: it is admitted untracked and counted as table_full.
 */
static __always_inline __u32 spw_track_udp(const struct spw_flow_key *key, __u32 svc, __u32 tier,
					   __u32 cohort, __u64 now)
{
	struct spw_flow flow = {
		.first_ns = now,
		.last_ns = now,
		.svc_id = svc,
		.tier = tier,
		.cohort = cohort,
	};

	long err = bpf_map_update_elem(&spw_flows, key, &flow, BPF_NOEXIST);

	/* -EEXIST: another CPU tracked the same flow's first packet a moment earlier. */
	if (err && err != -EEXIST)
		return SPW_REASON_TABLE_FULL;
	return SPW_REASON_ADMITTED;
}

/* Decides a new flow of service svc. key is the UDP flow key, NULL for TCP. */
static __always_inline enum spw_verdict spw_new_flow(spw_ctx_t *ctx, const struct spw_pkt *pkt,
						     __u32 svc, const __u8 *saddr,
						     const __u8 *daddr,
						     const struct spw_flow_key *key)
{
	struct spw_policy *pol = bpf_map_lookup_elem(&spw_policies, &svc);
	__u32 tier, cohort, reason;
	__u64 now;

	if (!pol) {
		/* A service without a policy is a half-written config: never enforce it. */
		spw_count(svc, SPW_TIER_NONE, SPW_REASON_FAIL_OPEN, pkt->len);
		return SPW_VERDICT_PASS;
	}
	tier = spw_tier_of(pkt, saddr, pol);
	now = bpf_ktime_get_ns();
	if (now >= pol->lease_expires_ns) {
		/* The controller stopped renewing: a dead controller never leaves a host shedding. */
		spw_count(svc, tier, SPW_REASON_FAIL_OPEN, pkt->len);
		return SPW_VERDICT_PASS;
	}
	cohort = spw_cohort_of(saddr);
	reason = spw_decide(svc, tier, cohort, pol, now);
	if (reason == SPW_REASON_ADMITTED) {
		if (key)
			reason = spw_track_udp(key, svc, tier, cohort, now);
		spw_count(svc, tier, reason, pkt->len);
		return SPW_VERDICT_PASS;
	}
	if (pol->flags & SPW_POLICY_DRY_RUN) {
		spw_count(svc, tier, SPW_REASON_WOULD_SHED, pkt->len);
		return SPW_VERDICT_PASS;
	}
	if (pol->action[tier & (SPW_MAX_TIERS - 1)] != SPW_ACTION_REJECT) {
		spw_count(svc, tier, reason, pkt->len);
		return SPW_VERDICT_DROP;
	}
	if ((key ? spw_reject_udp(ctx, pkt, saddr, daddr) : spw_reject_tcp(ctx, pkt, saddr, daddr))) {
		spw_count(svc, tier, SPW_REASON_REJECT_FAILED, pkt->len);
		return SPW_VERDICT_DROP;
	}
	spw_count(svc, tier, reason, pkt->len);
	return SPW_VERDICT_BOUNCE;
}

/* Packets of a UDP service: known flows pass, the first packet of a new one is decided. */
static __always_inline enum spw_verdict spw_udp(spw_ctx_t *ctx, const struct spw_pkt *pkt,
						__u32 svc)
{
	__u8 saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN];
	struct spw_flow_key key;
	struct spw_flow *flow;

	spw_pkt_addrs(pkt, saddr, daddr);
	spw_flow_key_of(pkt, saddr, daddr, &key);
	flow = bpf_map_lookup_elem(&spw_flows, &key);
	if (flow) {
		__u64 now = bpf_ktime_get_ns();

		/* Refresh for the idle sweep, but not on every packet: the write is not free. */
		if (now - flow->last_ns > SPW_FLOW_TOUCH_NS)
			flow->last_ns = now;
		spw_count(svc, flow->tier & (SPW_MAX_TIERS - 1), SPW_REASON_ESTABLISHED, pkt->len);
		return SPW_VERDICT_PASS;
	}
	return spw_new_flow(ctx, pkt, svc, saddr, daddr, &key);
}

static __always_inline enum spw_verdict spw_ingress(spw_ctx_t *ctx)
{
	struct spw_pkt pkt = {};
	__u32 svc;
	int ret;

	ctx_prepare_parse(ctx, SPW_PARSE_PULL_LEN);
	pkt.len = ctx_len(ctx);
	ret = spw_parse(ctx_data(ctx), ctx_data_end(ctx), &pkt);
	if (ret != SPW_PARSE_OK) {
		__u32 reason = ret == SPW_PARSE_OTHER_L4 ? SPW_REASON_NOT_SERVICE :
			       ret == SPW_PARSE_FRAGMENT ? SPW_REASON_FRAGMENT :
			       ret == SPW_PARSE_NOT_IP	 ? SPW_REASON_NOT_IP :
							   SPW_REASON_MALFORMED;

		spw_count(SPW_SVC_NONE, SPW_TIER_NONE, reason, pkt.len);
		return SPW_VERDICT_PASS;
	}
	svc = spw_service_of(&pkt);
	if (svc == SPW_SVC_NONE) {
		spw_count(SPW_SVC_NONE, SPW_TIER_NONE, SPW_REASON_NOT_SERVICE, pkt.len);
		return SPW_VERDICT_PASS;
	}
	if (pkt.proto == IPPROTO_UDP)
		return spw_udp(ctx, &pkt, svc);
	/* Only a bare SYN opens a flow; SYN-ACK, ACK, data, FIN and RST belong to one. */
	if ((pkt.tcp_flags & (SPW_TCP_SYN | SPW_TCP_ACK | SPW_TCP_RST)) != SPW_TCP_SYN) {
		spw_count(svc, SPW_TIER_NONE, SPW_REASON_ESTABLISHED, pkt.len);
		return SPW_VERDICT_PASS;
	}
	{
		__u8 saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN];

		spw_pkt_addrs(&pkt, saddr, daddr);
		return spw_new_flow(ctx, &pkt, svc, saddr, daddr, NULL);
	}
}

#endif /* SPW_ADMISSION_BPF_H */
