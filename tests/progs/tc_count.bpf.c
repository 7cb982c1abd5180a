// SPDX-License-Identifier: GPL-2.0-only
/*
 * Another team's TC program, for the tests that attach spillway beside it: it counts the
 * packets it sees in each direction and passes them with TC_ACT_OK, as most TC programs do.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

__u64 seen_ingress;
__u64 seen_egress;

SEC("tc")
int count_ingress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&seen_ingress, 1);
	return TC_ACT_OK;
}

SEC("tc")
int count_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&seen_egress, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
