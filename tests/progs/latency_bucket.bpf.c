// SPDX-License-Identifier: GPL-2.0-only
/*
 * The latency bucketing as the BPF compiler and verifier see it: the data plane's own inline
 * function (include/spillway_latency.h) on a value the test writes, its bucket read back, so
 * a test can hold the kernel's bucketing against user space's decoding value by value.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "spillway_latency.h"

__u32 in_us;
__u32 out_bucket;

SEC("xdp")
int latency_bucket(struct xdp_md *ctx)
{
	out_bucket = spw_latency_bucket(in_us);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
