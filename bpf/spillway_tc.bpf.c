// SPDX-License-Identifier: GPL-2.0-only
/*
 * TC entry points: ingress runs the same admission core as XDP, for interfaces where XDP is
 * not wanted; egress sees the server's replies (flow tracking builds on it, and the tier
 * marks are written there) and this host's own new connections (client-side throttling,
 * throttle.bpf.h).
 *
 * What they pass they answer TC_ACT_UNSPEC, never TC_ACT_OK: in a tcx chain that is TCX_NEXT
 * and in a clsact filter chain "no verdict", so the other programs on the interface still run
 * after spillway's (TC_ACT_OK would end both chains at spillway). With nothing after it the
 * packet passes as with TC_ACT_OK.
 */
#include "ctx_skb.bpf.h"
#include "admission.bpf.h"
#include "mark.bpf.h"

SEC("tc")
int spw_tc_ingress(struct __sk_buff *skb)
{
	/* A refusal the throttle made at egress: the local stack's, not the downstream's. */
	if (skb->mark == SPW_THROTTLE_SKB_MARK) {
		skb->mark = 0;
		return TC_ACT_UNSPEC;
	}
	switch (spw_ingress(skb)) {
	case SPW_VERDICT_DROP:
		return TC_ACT_SHOT;
	case SPW_VERDICT_BOUNCE:
		return ctx_bounce(skb);
	default:
		return TC_ACT_UNSPEC;
	}
}

SEC("tc")
int spw_tc_egress(struct __sk_buff *skb)
{
	struct spw_flow_seen seen = {};
	struct spw_pkt pkt;
	int verdict = spw_outgoing_egress(skb);

	/* Only this host's own new connections to a throttled downstream are refused here; the
	 * connections it opens to downstreams are marked there too. */
	if (verdict >= 0)
		return verdict;
	/* Replies are never refused; flow tracking reads them here, and marks them. */
	spw_egress(skb, &pkt, &seen);
	spw_mark_egress(skb, &pkt, &seen);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
