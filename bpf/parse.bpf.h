/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing: Ethernet, up to SPW_MAX_VLAN_TAGS VLAN tags, IPv4 (options), IPv6 (extension
 * headers up to SPW_MAX_IPV6_EXT deep), TCP, UDP. Every access goes through a cursor that checks
 * bounds first (xdp-tools parsing_helpers.h idea). The parser never writes to the packet.
 */
#ifndef SPW_PARSE_BPF_H
#define SPW_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "spillway_abi.h"

/* Enough of a packet for every header the parser walks in the common case (TC pulls this). */
#define SPW_PARSE_PULL_LEN 256

#define SPW_IP_MF     0x2000
#define SPW_IP_OFFSET 0x1fff
/* Some kernels' UAPI lacks NEXTHDR_*; these are the IANA numbers. */
#define SPW_NH_HOP	0
#define SPW_NH_ROUTING	43
#define SPW_NH_FRAGMENT 44
#define SPW_NH_AUTH	51
#define SPW_NH_DEST	60

#define SPW_TCP_FIN 0x01
#define SPW_TCP_SYN 0x02
#define SPW_TCP_RST 0x04
#define SPW_TCP_ACK 0x10

enum spw_parse_result {
	SPW_PARSE_OK,	     /* TCP or UDP with its header present */
	SPW_PARSE_OTHER_L4,  /* IP, but no TCP/UDP (ICMP, ESP...): never a service */
	SPW_PARSE_FRAGMENT,  /* not the first fragment: no ports to classify by */
	SPW_PARSE_NOT_IP,    /* ARP, LLDP, ...: not spillway's business */
	SPW_PARSE_MALFORMED, /* truncated or inconsistent: the kernel stack will judge */
	/*
	 * A first fragment without its whole L4 header (RFC 1858, RFC 7112), or a TCP fragment
	 * at offset 1 (it rewrites the first one's flags): the kernel reassembles a segment
	 * whose header the filter never saw.
	 */
	SPW_PARSE_TINY_FRAG,
	SPW_PARSE_TINY_FRAG_PORTS, /* SPW_PARSE_TINY_FRAG, with sport and dport read */
	/*
	 * An IPv6 header chain the walk cannot finish: longer than SPW_MAX_IPV6_EXT, or running
	 * past the bytes the program can read while the packet goes on. No ports.
	 */
	SPW_PARSE_HEADER_CHAIN,
};

struct spw_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* What the rest of the pipeline needs from a packet. Addresses are filled on demand. */
struct spw_pkt {
	void *l3;     /* IP header, valid until the packet is modified */
	__u32 len;    /* bytes as received, for the byte counters */
	__u16 l3_off; /* offset of the IP header: Ethernet plus VLAN tags */
	__u16 l4_off; /* offset of the TCP/UDP header */
	__be16 sport;
	__be16 dport;
	__u32 tcp_seq_end; /* host order: SEQ + LEN, the SYN and FIN counted (what acks it all) */
	__u32 tcp_ack;	   /* host order; 0 without the ACK flag */
	__u32 ip_end;	   /* offset where the IP datagram ends by its length field; 0: unknown */
	__u32 payload_len; /* TCP payload bytes (by the IP length: Ethernet padding is not data) */
	__u8 proto;	   /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 is_v4;
	__u8 dscp;
	__u8 tcp_flags;
};

/*
 * end is where the program can read; last is the offset from start of the IP datagram's last
 * byte by its length field, so bytes after it (Ethernet padding) are never taken for a header.
 * An unknown length (0) wraps to ~0, no limit: set without a branch, which would split the
 * verifier's states for the rest of the program.
 * What only the parse needs lives here, not in spw_pkt: fields the rest of the program never
 * reads would still split the verifier's states.
 */
struct spw_cursor {
	void *start;
	void *pos;
	void *end;
	__u32 last;
	__u32 first_frag; /* offset 0, more fragments follow */
};

/* The next len bytes, or NULL when the packet or its IP datagram ends first. */
static __always_inline void *cursor_take(struct spw_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	/* In 64 bits: a 32-bit operation on a pointer difference is refused by the verifier. */
	if ((__u64)(p + len - c->start) > (__u64)c->last + 1)
		return NULL;
	c->pos = p + len;
	return p;
}

/*
 * Why the next len bytes could not be taken: the datagram ends first (in a first fragment
 * the header goes on in the next one: tiny), the program cannot read as far as the packet
 * goes (TC pulls SPW_PARSE_PULL_LEN bytes: a header chain past them), or the packet is cut.
 */
static __always_inline int cursor_short(const struct spw_cursor *c, const struct spw_pkt *pkt,
					__u32 len)
{
	__u32 need = (__u32)(c->pos - c->start) + len;

	if (need - 1 > c->last)
		return c->first_frag ? SPW_PARSE_TINY_FRAG : SPW_PARSE_MALFORMED;
	if (need <= pkt->len)
		return SPW_PARSE_HEADER_CHAIN;
	return SPW_PARSE_MALFORMED;
}

static __always_inline int spw_parse_eth(struct spw_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = cursor_take(c, sizeof(*eth));
	struct spw_vlan_hdr *vlan;
	__be16 p;
	int i;

	if (!eth)
		return SPW_PARSE_MALFORMED;
	p = eth->h_proto;
#pragma unroll
	for (i = 0; i < SPW_MAX_VLAN_TAGS; i++) {
		if (p != bpf_htons(ETH_P_8021Q) && p != bpf_htons(ETH_P_8021AD))
			break;
		vlan = cursor_take(c, sizeof(*vlan));
		if (!vlan)
			return SPW_PARSE_MALFORMED;
		p = vlan->encap_proto;
	}
	/* A third tag is deeper than spillway looks: pass it rather than guess. */
	if (p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD))
		return SPW_PARSE_MALFORMED;
	*proto = p;
	return SPW_PARSE_OK;
}

static __always_inline int spw_parse_ipv4(struct spw_cursor *c, struct spw_pkt *pkt)
{
	struct iphdr *iph = cursor_take(c, sizeof(*iph));
	__u32 hlen;
	__u16 frag;

	if (!iph)
		return SPW_PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return SPW_PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	if (bpf_ntohs(iph->tot_len) < hlen)
		return SPW_PARSE_MALFORMED;
	/* Skip the options: the cursor moves to the end of the real header. */
	c->pos = (void *)iph;
	if (!cursor_take(c, hlen))
		return SPW_PARSE_MALFORMED;
	pkt->l3 = iph;
	pkt->is_v4 = 1;
	/* tot_len 0 is a GSO super-packet (BIG TCP): its length is the frame's. */
	pkt->ip_end = iph->tot_len ? (void *)iph - c->start + bpf_ntohs(iph->tot_len) : 0;
	c->last = pkt->ip_end - 1;
	pkt->dscp = iph->tos >> 2;
	pkt->proto = iph->protocol;
	frag = bpf_ntohs(iph->frag_off);
	/* Offset 1 can only be meant to overwrite the first fragment's TCP flags (RFC 1858). */
	if ((frag & SPW_IP_OFFSET) == 1 && iph->protocol == IPPROTO_TCP)
		return SPW_PARSE_TINY_FRAG;
	/* Later fragments carry no ports; the first one (offset 0) is classified as usual. */
	if (frag & SPW_IP_OFFSET)
		return SPW_PARSE_FRAGMENT;
	c->first_frag = frag & SPW_IP_MF;
	return SPW_PARSE_OK;
}

static __always_inline int spw_parse_ipv6(struct spw_cursor *c, struct spw_pkt *pkt)
{
	struct ipv6hdr *ip6 = cursor_take(c, sizeof(*ip6));
	__u8 *ext;
	__u8 nh;
	int i;

	if (!ip6)
		return SPW_PARSE_MALFORMED;
	if (ip6->version != 6)
		return SPW_PARSE_MALFORMED;
	pkt->l3 = ip6;
	pkt->is_v4 = 0;
	/* payload_len 0 is a jumbogram or a GSO super-packet: its length is the frame's. */
	pkt->ip_end = ip6->payload_len
			  ? (void *)ip6 - c->start + sizeof(*ip6) + bpf_ntohs(ip6->payload_len)
			  : 0;
	c->last = pkt->ip_end - 1;
	/* Traffic class straddles the first two bytes; DSCP is its upper six bits. */
	pkt->dscp = ((ip6->priority << 4) | (ip6->flow_lbl[0] >> 4)) >> 2;
	nh = ip6->nexthdr;

	/* Bounded walk: the verifier needs it, and a longer chain is not worth understanding. */
#pragma unroll
	for (i = 0; i < SPW_MAX_IPV6_EXT; i++) {
		if (nh != SPW_NH_HOP && nh != SPW_NH_ROUTING && nh != SPW_NH_FRAGMENT &&
		    nh != SPW_NH_AUTH && nh != SPW_NH_DEST)
			break;
		ext = cursor_take(c, 8);
		if (!ext)
			return cursor_short(c, pkt, 8);
		if (nh == SPW_NH_FRAGMENT) {
			/* Offset is the upper 13 bits of bytes 2-3, M the lowest bit. */
			__u16 frag = ((__u16)ext[2] << 8) | ext[3];

			if (frag & 0xfff8)
				return SPW_PARSE_FRAGMENT;
			c->first_frag = frag & 1;
		} else {
			/* AH counts 4-byte units minus 2; the others 8-byte units minus 1. */
			__u32 len =
			    nh == SPW_NH_AUTH ? ((__u32)ext[1] + 2) * 4 : ((__u32)ext[1] + 1) * 8;

			c->pos = ext;
			if (!cursor_take(c, len))
				return cursor_short(c, pkt, len);
		}
		nh = ext[0];
	}
	/* Deeper than the walk: the kernel reads on to a header the filter never saw. */
	if (nh == SPW_NH_HOP || nh == SPW_NH_ROUTING || nh == SPW_NH_FRAGMENT ||
	    nh == SPW_NH_AUTH || nh == SPW_NH_DEST)
		return SPW_PARSE_HEADER_CHAIN;
	pkt->proto = nh;
	return SPW_PARSE_OK;
}

/* Bytes after the TCP header (which ends at data_off), by the IP length when there is one. */
static __always_inline __u32 spw_tcp_payload_len(const struct spw_pkt *pkt, __u32 data_off)
{
	__u32 end = pkt->ip_end ? pkt->ip_end : pkt->len;

	return end > data_off ? end - data_off : 0;
}

/*
 * An L4 header that is not all there (see cursor_short). Of a first fragment too short for
 * it, the ports are read when its datagram holds them: enough to tell whose it is.
 */
static __always_inline int spw_l4_short(struct spw_cursor *c, struct spw_pkt *pkt, __u32 len)
{
	int ret = cursor_short(c, pkt, len);
	__be16 *ports;

	if (ret != SPW_PARSE_TINY_FRAG)
		return ret;
	ports = cursor_take(c, 4);
	if (ports) {
		pkt->sport = ports[0];
		pkt->dport = ports[1];
		return SPW_PARSE_TINY_FRAG_PORTS;
	}
	return SPW_PARSE_TINY_FRAG;
}

static __always_inline int spw_parse_l4(struct spw_cursor *c, struct spw_pkt *pkt, void *data)
{
	struct tcphdr *th;
	struct udphdr *uh;

	pkt->l4_off = c->pos - data;
	if (pkt->proto == IPPROTO_TCP) {
		th = cursor_take(c, sizeof(*th));
		if (!th)
			return spw_l4_short(c, pkt, sizeof(*th));
		if (th->doff < 5)
			return SPW_PARSE_MALFORMED;
		/* Options must be there too: a header cut short is not a header. */
		c->pos = th;
		if (!cursor_take(c, th->doff * 4))
			return spw_l4_short(c, pkt, th->doff * 4);
		pkt->sport = th->source;
		pkt->dport = th->dest;
		pkt->tcp_ack = th->ack ? bpf_ntohl(th->ack_seq) : 0;
		pkt->tcp_flags = ((__u8 *)th)[13];
		pkt->payload_len = spw_tcp_payload_len(pkt, c->pos - data);
		pkt->tcp_seq_end = bpf_ntohl(th->seq) + pkt->payload_len +
				   !!(pkt->tcp_flags & SPW_TCP_SYN) +
				   !!(pkt->tcp_flags & SPW_TCP_FIN);
		return SPW_PARSE_OK;
	}
	if (pkt->proto == IPPROTO_UDP) {
		uh = cursor_take(c, sizeof(*uh));
		if (!uh)
			return spw_l4_short(c, pkt, sizeof(*uh));
		pkt->sport = uh->source;
		pkt->dport = uh->dest;
		return SPW_PARSE_OK;
	}
	return SPW_PARSE_OTHER_L4;
}

static __always_inline int spw_parse(void *data, void *data_end, struct spw_pkt *pkt)
{
	struct spw_cursor c = {.start = data, .pos = data, .end = data_end, .last = ~0U};
	__be16 proto;
	int ret;

	ret = spw_parse_eth(&c, &proto);
	if (ret != SPW_PARSE_OK)
		return ret;
	pkt->l3_off = c.pos - data;
	if (proto == bpf_htons(ETH_P_IP))
		ret = spw_parse_ipv4(&c, pkt);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = spw_parse_ipv6(&c, pkt);
	else
		return SPW_PARSE_NOT_IP;
	if (ret != SPW_PARSE_OK)
		return ret;
	return spw_parse_l4(&c, pkt, data);
}

/* ::ffff:a.b.c.d, the 16-byte form of an IPv4 address. */
static __always_inline void spw_addr_from_v4(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* Is a in the IPv4-mapped form, ::ffff:0:0/96? */
static __always_inline int spw_addr_is_mapped(const __u8 *a)
{
	__u8 zero = 0;
	int i;

	/* Byte by byte: the caller's address need not be aligned for wider loads. */
#pragma unroll
	for (i = 0; i < 10; i++)
		zero |= a[i];
	return !zero && a[10] == 0xff && a[11] == 0xff;
}

/* Source and destination in the 16-byte form; the packet must not have been modified yet. */
static __always_inline void spw_pkt_addrs(const struct spw_pkt *pkt, __u8 *saddr, __u8 *daddr)
{
	if (pkt->is_v4) {
		struct iphdr *iph = pkt->l3;

		spw_addr_from_v4(saddr, iph->saddr);
		spw_addr_from_v4(daddr, iph->daddr);
	} else {
		struct ipv6hdr *ip6 = pkt->l3;

		__builtin_memcpy(saddr, &ip6->saddr, SPW_ADDR_LEN);
		__builtin_memcpy(daddr, &ip6->daddr, SPW_ADDR_LEN);
	}
}

#endif /* SPW_PARSE_BPF_H */
