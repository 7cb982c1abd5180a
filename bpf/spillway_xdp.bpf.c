// SPDX-License-Identifier: GPL-2.0-only
/* XDP ingress entry point: the admission core on the driver's receive path. */
#include "ctx_xdp.bpf.h"
#include "admission.bpf.h"

SEC("xdp")
int spw_xdp_ingress(struct xdp_md *ctx)
{
	switch (spw_ingress(ctx)) {
	case SPW_VERDICT_DROP:
		return XDP_DROP;
	case SPW_VERDICT_BOUNCE:
		return XDP_TX;
	default:
		return XDP_PASS;
	}
}

char LICENSE[] SEC("license") = "GPL";
