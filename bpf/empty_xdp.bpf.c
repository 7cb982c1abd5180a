// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's baseline: an XDP program that does nothing, loaded beside spillway so
 * every figure is a ratio against the cost of BPF_PROG_RUN itself on this machine, in this run.
 * The netns tests also attach it to client veths: XDP_TX into a veth only arrives when the
 * peer has an XDP program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
