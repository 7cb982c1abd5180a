// SPDX-License-Identifier: GPL-2.0-only
/*
 * TC entry points: ingress runs the same admission core as XDP, for interfaces where XDP is
 * not wanted; egress sees the server's replies (flow tracking builds on it).
 */
#include "ctx_skb.bpf.h"
#include "admission.bpf.h"

SEC("tc")
int spw_tc_ingress(struct __sk_buff *skb)
{
	switch (spw_ingress(skb)) {
	case SPW_VERDICT_DROP:
		return TC_ACT_SHOT;
	case SPW_VERDICT_BOUNCE:
		return ctx_bounce(skb);
	default:
		return TC_ACT_OK;
	}
}

SEC("tc")
int spw_tc_egress(struct __sk_buff *skb)
{
	/* Replies are never refused; flow tracking reads them here. */
	spw_egress(skb);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
