// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP_TX frames a device failed to send. A reject is an XDP_TX of the rewritten packet; the
 * program's verdict is counted as a sent reject, but the driver may still drop the frame (on
 * a veth whose peer has no XDP program, every one). The kernel reports those drops only in
 * tracepoints: xdp_bulk_tx (veth, with the frames dropped in a flush) and xdp_exception (most
 * NIC drivers and generic XDP, one failed XDP_TX each). These programs count them per
 * interface into spw_tx_failed, only for interfaces user space entered there: one hash lookup,
 * and a tracepoint that fires for another interface writes nothing.
 *
 * tp_btf programs read the tracepoint's own arguments, typed by the kernel's BTF (kernel
 * >= 5.5 with BTF): no tracefs is needed. Only the fields below are read, relocated by
 * libbpf against the running kernel (CO-RE), so no vmlinux.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "maps.bpf.h"

struct net___spw {
	__u64 net_cookie;
} __attribute__((preserve_access_index));

struct net_device___spw {
	int ifindex;
	struct {
		struct net___spw *net;
	} nd_net;
} __attribute__((preserve_access_index));

static __always_inline void count_failed(const struct net_device___spw *dev, __u64 frames)
{
	struct spw_iface_key key = {};
	__u64 *n;

	key.ifindex = (__u32)BPF_CORE_READ(dev, ifindex);
	key.netns_cookie = BPF_CORE_READ(dev, nd_net.net, net_cookie);
	n = bpf_map_lookup_elem(&spw_tx_failed, &key);
	if (n)
		*n += frames; /* this CPU's slot: no atomic needed */
}

SEC("tp_btf/xdp_exception")
int BPF_PROG(spw_xdp_exception, const struct net_device___spw *dev, const void *prog, __u32 act)
{
	if (act == XDP_TX)
		count_failed(dev, 1);
	return 0;
}

SEC("tp_btf/xdp_bulk_tx")
int BPF_PROG(spw_xdp_bulk_tx, const struct net_device___spw *dev, int sent, int drops, int err)
{
	if (drops > 0)
		count_failed(dev, (__u64)drops);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
