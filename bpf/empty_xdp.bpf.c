// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's baselines: an XDP program and a TC program that do nothing, loaded beside
 * spillway so every figure is a ratio against the cost of BPF_PROG_RUN itself on this machine,
 * in this run (a TC run builds an skb, so TC egress is set against the TC one).
 * The netns tests also attach it to client veths: XDP_TX into a veth only arrives when the
 * peer has an XDP program.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* As spillway's TC egress answers what it passes. */
SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
