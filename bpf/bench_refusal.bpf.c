// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_refusal's own programs (tools/bench/refusal): the SYN generator the sender runs through
 * BPF_PROG_RUN in live-frame mode, so frames reach the server's veth as XDP frames the way a NIC
 * driver hands them over; the bare XDP_DROP that is the floor; the XDP_PASS the netfilter and TC
 * trials need on the server's veth (a veth only takes XDP frames while it runs an XDP program);
 * and the sink on the sender's veth that takes the rejects' RSTs. Each counts what it saw, so the
 * bench can tell that every trial's frames arrived.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Set by the bench before a trial. */
__u32 out_ifindex; /* the sender's veth: redirected frames arrive at its peer */
__u32 send_frames; /* 0: the sender-only control, every frame dropped after being made */
__u32 host_mask;   /* source host bits drawn at random, host order */
/*
 * The SYN's headers (Ethernet, IPv4, TCP with Linux's options), written over every frame:
 * live frames keep what the last run left in the page, and a reject rewrites it into a RST.
 */
#define TMPL_LEN (14 + 20 + 40)
__u8 tmpl[TMPL_LEN];

/*
 * Frames each program saw, per CPU: one 64-byte line per CPU, so two CPUs refusing at once
 * share nothing (user space sums the lines).
 */
#define CNT_CPUS   64
#define CNT_STRIDE 8
__u64 floor_hits[CNT_CPUS * CNT_STRIDE], pass_hits[CNT_CPUS * CNT_STRIDE],
    rst_hits[CNT_CPUS * CNT_STRIDE];

static __always_inline void count(__u64 *hits)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu < CNT_CPUS)
		hits[cpu * CNT_STRIDE]++;
}

/* RFC 1624: the checksum after a 32-bit field (two 16-bit words) changed from old to new. */
static __always_inline __u16 csum_update(__u16 check, __u32 old, __u32 new)
{
	__u32 s = (__u16)~check;

	s += (~old & 0xffff) + (~old >> 16) + (new & 0xffff) + (new >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* The template with a fresh random source inside the shed prefix and a random source port. */
SEC("xdp")
int gen_syn(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp = (void *)(ip + 1);
	__u32 r = bpf_get_prandom_u32();
	__u32 old_a, new_a;
	__u16 old_p, new_p;

	/*
	 * The bench hands over one byte more than the SYN, trimmed here: the frame's length is
	 * then taken from this run every time. Left as it was, the kernel would keep the length
	 * of the frame struct in the page, and a reject's XDP_TX writes the RST's length there.
	 */
	if (data + TMPL_LEN != end) {
		if (bpf_xdp_adjust_tail(ctx, TMPL_LEN - (int)(end - data)))
			return XDP_ABORTED;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		ip = data + sizeof(struct ethhdr);
		tcp = (void *)(ip + 1);
	}
	if (data + TMPL_LEN > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, tmpl, TMPL_LEN);
	old_a = ip->saddr;
	new_a = bpf_htonl((bpf_ntohl(old_a) & ~host_mask) | (r & host_mask));
	old_p = tcp->source;
	new_p = bpf_htons(1024 + (__u16)(r >> 16) % 60000);
	ip->saddr = new_a;
	tcp->source = new_p;
	ip->check = csum_update(ip->check, old_a, new_a);
	/* The pseudo-header holds the source address too. */
	tcp->check = csum_update(csum_update(tcp->check, old_a, new_a), old_p, new_p);
	if (!send_frames)
		return XDP_DROP;
	return bpf_redirect(out_ifindex, 0);
}

SEC("xdp")
int floor_drop(struct xdp_md *ctx)
{
	count(floor_hits);
	return XDP_DROP;
}

SEC("xdp")
int pass_count(struct xdp_md *ctx)
{
	count(pass_hits);
	return XDP_PASS;
}

SEC("xdp")
int rst_sink(struct xdp_md *ctx)
{
	count(rst_hits);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
