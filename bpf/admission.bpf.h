/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The admission core, written once against the context wrapper (ctx_xdp.bpf.h or
 * ctx_skb.bpf.h, included first) and compiled into the XDP and TC entry points:
 *
 *   parse -> service? -> known flow? -> tier -> exempt? -> lease? -> cohort -> level
 *         -> retransmission?
 *         -> bucket, caps -> admit / shed
 *
 * Anything not understood passes, counted. Only new flows are decided: a TCP SYN, or the first
 * packet of an unknown flow to a UDP service; packets of flows in progress always pass.
 */
#ifndef SPW_ADMISSION_BPF_H
#define SPW_ADMISSION_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "classify.bpf.h"
#include "policy.bpf.h"
#include "stats.bpf.h"
#include "reject.bpf.h"
#include "flow.bpf.h"
#include "recent.bpf.h"
#include "throttle.bpf.h"
#include "clock.bpf.h"

/* What the entry point should do with the packet, in hook-neutral terms. */
enum spw_verdict {
	SPW_VERDICT_PASS,
	SPW_VERDICT_DROP,
	SPW_VERDICT_BOUNCE, /* rewritten into a reply: send it back out */
};

/*
 * A SYN retransmitted by a client whose flow was admitted is not decided twice: it passes as
 * established on the flow's tier, spending no token and no place under a cap. Only a SYN the
 * filter may have seen before pays for the flow lookup; the rest are new for certain.
 */
static __always_inline struct spw_flow *spw_syn_retransmits(const struct spw_flow_key *key)
{
	if (!spw_recent_maybe(key))
		return NULL;
	return bpf_map_lookup_elem(&spw_flows, key);
}

/*
 * Decides a new flow of service svc. key, when not NULL, is where an admitted flow is
 * tracked (a TCP SYN with tracking on, any UDP flow); state is its first state. A SYN_SEEN
 * key may be a retransmission of a tracked flow: that is checked after the level, so a flood
 * the level sheds pays for one filter word and no table lookup, and before the bucket and
 * the caps, which a retransmission must not spend.
 *
 * The lease needs no precise clock: the cached coarse one (clock.bpf.h) is at most two ticks
 * behind and never ahead, so a lease of seconds is enforced at most a few ms past its expiry,
 * for the cost of a load. The precise clock is read only for a flow the level admits (bucket
 * and stamps).
 */
static __always_inline enum spw_verdict spw_new_flow(spw_ctx_t *ctx, const struct spw_pkt *pkt,
						     __u32 svc, const __u8 *saddr,
						     const __u8 *daddr,
						     const struct spw_flow_key *key, __u8 state)
{
	struct spw_policy *pol = spw_policy_read(svc);
	__u32 tier, cohort, reason;
	struct spw_reply reply;
	struct spw_flow *flow;
	int rejected;
	__u64 now;

	if (!pol) {
		/* A service without a policy is a half-written config: never enforce it. */
		spw_count(svc, SPW_TIER_NONE, SPW_REASON_FAIL_OPEN, pkt->len);
		return SPW_VERDICT_PASS;
	}
	tier = spw_tier_of(pkt, saddr, pol);
	if (spw_is_exempt(pkt, saddr)) {
		/* Exempt flows are not tracked: they take no place under a cap or a reservation,
		 * so probes and the host's own connections can neither be refused nor crowd out
		 * the clients the caps protect, and a flow the table never held can never make an
		 * active count drift. Their later packets pass as untracked established ones. */
		spw_count(svc, tier, SPW_REASON_EXEMPT, pkt->len);
		return SPW_VERDICT_PASS;
	}
	if (spw_coarse_ns() >= pol->lease_expires_ns) {
		/* The controller stopped renewing: a dead controller never leaves a host shedding.
		 */
		spw_count(svc, tier, SPW_REASON_FAIL_OPEN, pkt->len);
		return SPW_VERDICT_PASS;
	}
	cohort = spw_cohort_of(saddr);
	reason = spw_decide_level(tier, cohort, saddr, pol);
	if (key && state == SPW_FLOW_SYN_SEEN) {
		flow = spw_syn_retransmits(key);
		if (flow) {
			spw_count(svc, flow->tier & (SPW_MAX_TIERS - 1), SPW_REASON_ESTABLISHED,
				  pkt->len);
			return SPW_VERDICT_PASS;
		}
	}
	/* Under a dry run what the level would shed still reaches the service: it passed. */
	spw_count_rank(svc, spw_rank(tier, cohort),
		       reason == SPW_REASON_ADMITTED || (pol->flags & SPW_POLICY_DRY_RUN));
	if (reason == SPW_REASON_ADMITTED) {
		now = bpf_ktime_get_ns();
		reason = spw_decide_rate(svc, tier, pol, now);
		if (reason == SPW_REASON_ADMITTED && key) {
			/* The client's next byte: after the SYN and any data it carries. */
			reason = spw_flow_open(key, svc, tier, cohort, state, pol, now,
					       pkt->tcp_seq_end);
			if (reason == SPW_REASON_SHED_CAP || reason == SPW_REASON_SHED_RESERVE)
				spw_bucket_give(svc, tier, pol);
		}
	}
	if (reason == SPW_REASON_ADMITTED || reason == SPW_REASON_TABLE_FULL ||
	    reason == SPW_REASON_FLOOD_GUARD) {
		/* Not tracking a flow is never a reason to refuse it. */
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
	spw_reply_of(pkt, saddr, daddr, &reply);
	/* Also a packet to a group, never answered (see spw_to_group): dropped all the same. */
	rejected = spw_reject(ctx, &reply);
	if (rejected != SPW_REJECT_READY) {
		spw_count(svc, tier,
			  rejected == SPW_REJECT_LIMITED ? SPW_REASON_REJECT_LIMITED
							 : SPW_REASON_REJECT_FAILED,
			  pkt->len);
		return SPW_VERDICT_DROP;
	}
	spw_count(svc, tier, reason, pkt->len);
	return SPW_VERDICT_BOUNCE;
}

/*
 * Packets of a UDP service: known flows pass, the first packet of a new one is decided. A
 * client's datagram is a request unless one is pending (see spw_udp_from_server).
 */
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
		spw_flow_touch(flow, spw_flow_request_data(flow));
		spw_count(svc, flow->tier & (SPW_MAX_TIERS - 1), SPW_REASON_ESTABLISHED, pkt->len);
		return SPW_VERDICT_PASS;
	}
	return spw_new_flow(ctx, pkt, svc, saddr, daddr, &key, SPW_FLOW_UDP);
}

/* Packets of a TCP service: a bare SYN opens a flow, everything else belongs to one. */
static __always_inline enum spw_verdict spw_tcp(spw_ctx_t *ctx, const struct spw_pkt *pkt,
						__u32 svc)
{
	__u8 saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN];
	struct spw_flow_key key;
	__u32 tier;

	int bare_syn = (pkt->tcp_flags & (SPW_TCP_SYN | SPW_TCP_ACK | SPW_TCP_RST)) == SPW_TCP_SYN;

	/* Pure ACKs are most of a flow's packets and tell the tracker nothing: no lookup.
	 * Without tracking, only a bare SYN needs anything at all. */
	if ((!spw_track_tcp && !bare_syn) || spw_tcp_is_pure_ack(pkt)) {
		spw_count(svc, SPW_TIER_NONE, SPW_REASON_ESTABLISHED, pkt->len);
		return SPW_VERDICT_PASS;
	}
	spw_pkt_addrs(pkt, saddr, daddr);
	if (!spw_track_tcp)
		return spw_new_flow(ctx, pkt, svc, saddr, daddr, NULL, 0);
	spw_flow_key_of(pkt, saddr, daddr, &key);
	if (!bare_syn) {
		tier = spw_flow_from_client(pkt, &key);
		spw_count(svc, tier, SPW_REASON_ESTABLISHED, pkt->len);
		return SPW_VERDICT_PASS;
	}
	/* Decided, unless it retransmits the SYN of a flow already admitted (see there). */
	return spw_new_flow(ctx, pkt, svc, saddr, daddr, &key, SPW_FLOW_SYN_SEEN);
}

/*
 * A packet whose headers the filter cannot read whole but the kernel will (a tiny first
 * fragment, a TCP fragment at offset 1, an IPv6 chain past the walk) could carry a SYN that
 * nobody decides. To a service (by its ports when it has them, else by its destination
 * address) it is dropped whatever the policy says: no stack sends such packets for a
 * legitimate reason, and the kernel itself discards IPv6 first fragments without their upper
 * layer header. Elsewhere it passes as it always did.
 */
static __always_inline enum spw_verdict spw_unreadable(const struct spw_pkt *pkt, int ret)
{
	__u32 svc = ret == SPW_PARSE_TINY_FRAG_PORTS ? spw_service_of(pkt) : spw_service_at(pkt);
	int tiny = ret != SPW_PARSE_HEADER_CHAIN;

	if (svc == SPW_SVC_NONE) {
		spw_count(SPW_SVC_NONE, SPW_TIER_NONE,
			  tiny ? SPW_REASON_FRAGMENT : SPW_REASON_MALFORMED, pkt->len);
		return SPW_VERDICT_PASS;
	}
	spw_count(svc, SPW_TIER_NONE, tiny ? SPW_REASON_TINY_FRAGMENT : SPW_REASON_HEADER_CHAIN,
		  pkt->len);
	return SPW_VERDICT_DROP;
}

static __always_inline enum spw_verdict spw_ingress(spw_ctx_t *ctx)
{
	struct spw_pkt pkt = {};
	__u32 svc;
	int ret;

	ctx_prepare_parse(ctx, SPW_PARSE_PULL_LEN);
	pkt.len = ctx_len(ctx);
	ret = spw_parse(ctx_data(ctx), ctx_data_end(ctx), &pkt);
	spw_throttle_ingress(ctx, &pkt, ret);
	if (ret >= SPW_PARSE_TINY_FRAG)
		return spw_unreadable(&pkt, ret);
	if (ret != SPW_PARSE_OK) {
		__u32 reason = ret == SPW_PARSE_OTHER_L4   ? SPW_REASON_NOT_SERVICE
			       : ret == SPW_PARSE_FRAGMENT ? SPW_REASON_FRAGMENT
			       : ret == SPW_PARSE_NOT_IP   ? SPW_REASON_NOT_IP
							   : SPW_REASON_MALFORMED;

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
	return spw_tcp(ctx, &pkt, svc);
}

/*
 * Server replies, at TC egress: only the flow tracker reads them, and nothing is refused.
 * The flow key is the client's view, so source and destination swap. UDP flows are tracked
 * whatever spw_track_tcp says, so their replies are read in either case.
 */
static __always_inline void spw_egress(spw_ctx_t *ctx, struct spw_pkt *out,
				       struct spw_flow_seen *seen)
{
	__u8 saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN];
	struct spw_pkt pkt = {};
	struct spw_flow_key key;
	struct spw_port *port;
	__u32 slot;

	ctx_prepare_parse(ctx, SPW_PARSE_PULL_LEN);
	pkt.len = ctx_len(ctx);
	if (spw_parse(ctx_data(ctx), ctx_data_end(ctx), &pkt) != SPW_PARSE_OK)
		return;
	if (pkt.proto == IPPROTO_TCP && (!spw_track_tcp || spw_tcp_is_pure_ack(&pkt)))
		return;
	/* Replies come from the service's port: one array lookup skips everything else. */
	slot = bpf_ntohs(pkt.sport) + (pkt.proto == IPPROTO_UDP ? SPW_PORT_SLOT_UDP : 0);
	port = bpf_map_lookup_elem(&spw_ports, &slot);
	if (!port || (!port->svc_id && !(port->flags & SPW_PORT_ADDR_BOUND)))
		return;
	spw_pkt_addrs(&pkt, saddr, daddr);
	__builtin_memcpy(key.saddr, daddr, SPW_ADDR_LEN);
	__builtin_memcpy(key.daddr, saddr, SPW_ADDR_LEN);
	key.sport = pkt.dport;
	key.dport = pkt.sport;
	key.proto = pkt.proto;
	key.pad[0] = key.pad[1] = key.pad[2] = 0;
	if (pkt.proto == IPPROTO_UDP) {
		spw_udp_from_server(&key);
		return;
	}
	spw_flow_from_server(&pkt, &key, seen);
	*out = pkt;
}

#endif /* SPW_ADMISSION_BPF_H */
