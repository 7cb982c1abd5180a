/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reject: turn the shed packet into its refusal, in place, and send it back where it came
 * from. TCP gets RST+ACK (the client's connect() fails at once with ECONNREFUSED); UDP gets
 * ICMP / ICMPv6 "administratively prohibited". Headers are written from scratch, so IPv4
 * options, IPv6 extension headers and TCP options of the original are gone; VLAN tags stay.
 *
 * Needs the context wrapper (ctx_*.bpf.h) included first.
 */
#ifndef SPW_REJECT_BPF_H
#define SPW_REJECT_BPF_H

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include "csum.bpf.h"
#include "parse.bpf.h"
#include "guard.bpf.h"

#define SPW_REPLY_TTL 64
#define SPW_IPV4_HLEN 20
#define SPW_IPV6_HLEN 40
#define SPW_TCP_HLEN  20
#define SPW_ICMP_HLEN 8
/* Largest Ethernet+VLAN header the parser accepts: 14 + 2 * 4. */
#define SPW_MAX_L2_LEN 22
/*
 * ICMPv6 quotes as much of the offending packet as fits (RFC 4443 2.4(c)); spillway quotes the
 * IP header, extension headers and UDP header, at most this many bytes, to keep the checksum
 * loop short. IPv4 always quotes the whole IP header plus 8 bytes (RFC 792), at most 68.
 */
#define SPW_ICMP6_QUOTE_MAX 240
#define SPW_DF		    0x4000

/*
 * The L2 length (14, 18 or 22) as the verifier can bound it. clang knows the value is small
 * and happily computes packet pointers from an earlier, unchecked copy of it; the empty asm
 * makes it forget, so the mask is done, and used, on the register that forms the pointer.
 */
static __always_inline __u32 spw_l3_bounded(__u32 l3)
{
	asm volatile("" : "+r"(l3));
	return l3 & 0x1f;
}

/* The one place that swaps a frame's MAC addresses. */
static __always_inline int spw_swap_macs(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	return 0;
}

/*
 * Writes an IP header at l3 from src to dst (16-byte forms) with payload_len bytes of nexthdr
 * behind it, and returns the pseudo-header sum the L4 checksum starts from (IPv4's own header
 * checksum is done here). Returns -1 when the header would not fit.
 */
static __always_inline __s64 spw_write_ip(void *data, void *data_end, __u32 l3, int is_v4,
					  __u8 nexthdr, __u16 payload_len, const __u8 *src,
					  const __u8 *dst)
{
	__u64 sum;

	l3 = spw_l3_bounded(l3);
	if (is_v4) {
		struct iphdr *iph = data + l3;
		__s64 s;
		struct {
			__u8 src[4];
			__u8 dst[4];
			__u8 zero;
			__u8 proto;
			__be16 len;
		} ph;

		if ((void *)(iph + 1) > data_end)
			return -1;
		iph->version = 4;
		iph->ihl = 5;
		iph->tos = 0;
		iph->tot_len = bpf_htons(SPW_IPV4_HLEN + payload_len);
		iph->id = 0;
		iph->frag_off = bpf_htons(SPW_DF);
		iph->ttl = SPW_REPLY_TTL;
		iph->protocol = nexthdr;
		iph->check = 0;
		__builtin_memcpy(&iph->saddr, src + 12, 4);
		__builtin_memcpy(&iph->daddr, dst + 12, 4);
		s = spw_csum_add(data, data_end, l3, SPW_IPV4_HLEN, 0);
		if (s < 0)
			return -1;
		iph->check = spw_csum_fold(s);
		if (nexthdr == IPPROTO_ICMP)
			return 0; /* ICMPv4 has no pseudo header */
		__builtin_memcpy(ph.src, src + 12, 4);
		__builtin_memcpy(ph.dst, dst + 12, 4);
		ph.zero = 0;
		ph.proto = nexthdr;
		ph.len = bpf_htons(payload_len);
		sum = spw_csum_add_buf(&ph, sizeof(ph) / 2, 0);
	} else {
		struct ipv6hdr *ip6 = data + l3;
		struct {
			__u8 src[16];
			__u8 dst[16];
			__be32 len;
			__u8 zero[3];
			__u8 nexthdr;
		} ph;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		*(__be32 *)ip6 = bpf_htonl(0x60000000); /* version 6, class 0, flow 0 */
		ip6->payload_len = bpf_htons(payload_len);
		ip6->nexthdr = nexthdr;
		ip6->hop_limit = SPW_REPLY_TTL;
		__builtin_memcpy(&ip6->saddr, src, 16);
		__builtin_memcpy(&ip6->daddr, dst, 16);
		__builtin_memcpy(ph.src, src, 16);
		__builtin_memcpy(ph.dst, dst, 16);
		ph.len = bpf_htonl(payload_len);
		ph.zero[0] = ph.zero[1] = ph.zero[2] = 0;
		ph.nexthdr = nexthdr;
		sum = spw_csum_add_buf(&ph, sizeof(ph) / 2, 0);
	}
	return sum;
}

/* The verifier wants the L2 length as a bounded number; the parser only makes these. */
static __always_inline int spw_l2_len_ok(__u32 l3)
{
	return l3 == ETH_HLEN || l3 == ETH_HLEN + 4 || l3 == ETH_HLEN + 8;
}

/*
 * What a reply needs of the packet it answers, copied out before the packet is rewritten.
 * Also the argument of spw_reject(), a global function: its own argument types are all the
 * verifier knows of it.
 */
struct spw_reply {
	__u8 saddr[SPW_ADDR_LEN]; /* the client: the reply's destination */
	__u8 daddr[SPW_ADDR_LEN];
	__be16 sport;
	__be16 dport;
	__u32 tcp_ack; /* host order: what the RST acks, the SYN's SEQ + LEN */
	__u16 l3_off;
	__u16 l4_off;
	__u8 is_v4;
	__u8 proto;
	__u8 pad[2];
};

/* RST+ACK for a SYN: seq 0, ack = the SYN's SEQ + LEN, no options, window 0. */
static __always_inline int spw_reject_tcp(spw_ctx_t *ctx, const struct spw_reply *pkt)
{
	const __u8 *saddr = pkt->saddr, *daddr = pkt->daddr;
	__u32 l3 = pkt->l3_off;
	__u32 iplen = pkt->is_v4 ? SPW_IPV4_HLEN : SPW_IPV6_HLEN;
	__u32 newlen;
	void *data, *data_end;
	struct tcphdr *th;
	__s64 sum;

	if (!spw_l2_len_ok(l3))
		return -1;
	newlen = l3 + iplen + SPW_TCP_HLEN;
	/* The SYN is at least this long: it had a full IP and TCP header, maybe more. */
	if (ctx_make_writable(ctx, newlen) || ctx_set_len(ctx, newlen))
		return -1;
	data = ctx_data(ctx);
	data_end = ctx_data_end(ctx);
	if (spw_swap_macs(data, data_end))
		return -1;
	sum = spw_write_ip(data, data_end, l3, pkt->is_v4, IPPROTO_TCP, SPW_TCP_HLEN, daddr, saddr);
	if (sum < 0)
		return -1;
	th = data + spw_l3_bounded(l3) + iplen;
	if ((void *)(th + 1) > data_end)
		return -1;
	__builtin_memset(th, 0, sizeof(*th));
	th->source = pkt->dport;
	th->dest = pkt->sport;
	th->ack_seq = bpf_htonl(pkt->tcp_ack);
	th->doff = 5;
	th->rst = 1;
	th->ack = 1;
	sum = spw_csum_add(data, data_end, l3 + iplen, SPW_TCP_HLEN, sum);
	if (sum < 0)
		return -1;
	th->check = spw_csum_fold(sum);
	return 0;
}

/* Moves the Ethernet header and VLAN tags from data + from to data (from > l3, no overlap). */
static __always_inline int spw_move_l2(void *data, void *data_end, __u32 from, __u32 l3)
{
	void *src = data + from;

	if (from > 64 || src + SPW_MAX_L2_LEN > data_end || data + SPW_MAX_L2_LEN > data_end)
		return -1;
	if (l3 == ETH_HLEN)
		__builtin_memcpy(data, src, ETH_HLEN);
	else if (l3 == ETH_HLEN + 4)
		__builtin_memcpy(data, src, ETH_HLEN + 4);
	else
		__builtin_memcpy(data, src, ETH_HLEN + 8);
	return 0;
}

/*
 * ICMP destination unreachable, administratively prohibited, quoting the original datagram.
 * The frame grows in front by the new IP and ICMP headers; the original IP header then sits
 * exactly where the quote belongs, so only the L2 header moves.
 */
static __always_inline int spw_reject_udp(spw_ctx_t *ctx, const struct spw_reply *pkt)
{
	const __u8 *saddr = pkt->saddr, *daddr = pkt->daddr;
	__u32 l3 = pkt->l3_off;
	__u32 iplen = pkt->is_v4 ? SPW_IPV4_HLEN : SPW_IPV6_HLEN;
	__u32 grow = iplen + SPW_ICMP_HLEN;
	__u32 quote = pkt->l4_off - pkt->l3_off + sizeof(struct udphdr);
	void *data, *data_end;
	struct icmphdr *ic;
	__s64 sum;

	if (!spw_l2_len_ok(l3) || pkt->l4_off < pkt->l3_off)
		return -1;
	if (quote > SPW_ICMP6_QUOTE_MAX)
		quote = SPW_ICMP6_QUOTE_MAX;
	if (ctx_make_writable(ctx, l3 + quote) || ctx_grow_head(ctx, grow) ||
	    ctx_set_len(ctx, l3 + grow + quote))
		return -1;
	data = ctx_data(ctx);
	data_end = ctx_data_end(ctx);
	if (spw_move_l2(data, data_end, grow, l3) || spw_swap_macs(data, data_end))
		return -1;
	sum =
	    spw_write_ip(data, data_end, l3, pkt->is_v4, pkt->is_v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
			 SPW_ICMP_HLEN + quote, daddr, saddr);
	if (sum < 0)
		return -1;
	ic = data + spw_l3_bounded(l3) + iplen;
	if ((void *)(ic + 1) > data_end)
		return -1;
	__builtin_memset(ic, 0, sizeof(*ic));
	if (pkt->is_v4) {
		ic->type = ICMP_DEST_UNREACH;
		ic->code = ICMP_PKT_FILTERED; /* 13: communication administratively prohibited */
	} else {
		ic->type = ICMPV6_DEST_UNREACH;
		ic->code = ICMPV6_ADM_PROHIBITED;
	}
	sum = spw_csum_add(data, data_end, l3 + iplen, SPW_ICMP_HLEN + quote, sum);
	if (sum < 0)
		return -1;
	ic->checksum = spw_csum_fold(sum);
	return 0;
}

/*
 * A shed packet to a group (a multicast or broadcast frame, or a multicast, reserved or
 * limited-broadcast IP address) is dropped, never answered: one spoofed datagram would draw a
 * reply from every member (RFC 1122 3.2.2 for ICMP; a TCP segment to a group is invalid).
 * Counted as reject_failed: the reply the tier's action asks for is not sent.
 */
static __always_inline int spw_to_group(spw_ctx_t *ctx, const struct spw_reply *r)
{
	__u8 *eth = ctx_data(ctx);

	if ((void *)(eth + 1) > ctx_data_end(ctx) || (eth[0] & 1))
		return 1;
	return r->is_v4 ? r->daddr[12] >= 224 : r->daddr[0] == 0xff;
}

/* What spw_reject() did: built the refusal, could not (or must not), or was over the limit. */
enum spw_reject_result {
	SPW_REJECT_READY = 0,
	SPW_REJECT_FAILED = -1,
	SPW_REJECT_LIMITED = 1,
};

/*
 * The ICMP rejects' budget (spw_globals icmp_rate, icmp_burst), as the kernel limits its own
 * ICMP errors (icmp_msgs_per_sec): a UDP flood at a shed service must not make the host send
 * one datagram back per datagram in. TCP resets are not limited: each answers a SYN a client
 * retransmits anyway, and the client needs it to stop.
 */
static __always_inline int spw_icmp_take(void)
{
	__u32 zero = 0;
	struct spw_globals *g = bpf_map_lookup_elem(&spw_globals, &zero);

	if (!g || !g->icmp_rate)
		return 1;
	return spw_pcpu_take(&spw_icmp_guard, g->icmp_rate, g->icmp_burst, bpf_ktime_get_ns());
}

/*
 * Rewrites the packet into its refusal; SPW_REJECT_READY when it is ready to bounce. A global
 * (noinline, non-static) function: the verifier checks it once, on its own, instead of once for
 * every path the parser can take to it, which would exceed its budget. Packet pointers held by
 * the caller are invalid afterwards. The budget is taken only for a reply that may be sent (not
 * to a group) and before the packet is touched: a limited datagram is dropped as it came.
 */
__noinline int spw_reject(spw_ctx_t *ctx, const struct spw_reply *r)
{
	if (!ctx || !r)
		return SPW_REJECT_FAILED;
	if (spw_to_group(ctx, r))
		return SPW_REJECT_FAILED;
	if (r->proto != IPPROTO_UDP)
		return spw_reject_tcp(ctx, r) ? SPW_REJECT_FAILED : SPW_REJECT_READY;
	if (!spw_icmp_take())
		return SPW_REJECT_LIMITED;
	return spw_reject_udp(ctx, r) ? SPW_REJECT_FAILED : SPW_REJECT_READY;
}

static __always_inline void spw_reply_of(const struct spw_pkt *pkt, const __u8 *saddr,
					 const __u8 *daddr, struct spw_reply *r)
{
	__builtin_memcpy(r->saddr, saddr, SPW_ADDR_LEN);
	__builtin_memcpy(r->daddr, daddr, SPW_ADDR_LEN);
	r->sport = pkt->sport;
	r->dport = pkt->dport;
	/* A reset answering a segment without ACK acks its SEQ + LEN (RFC 9293 3.10.7.1): the
	 * SYN, its data (fast open) and a FIN each count. */
	r->tcp_ack = pkt->tcp_seq_end;
	r->l3_off = pkt->l3_off;
	r->l4_off = pkt->l4_off;
	r->is_v4 = pkt->is_v4;
	r->proto = pkt->proto;
	r->pad[0] = r->pad[1] = 0;
}

#endif /* SPW_REJECT_BPF_H */
