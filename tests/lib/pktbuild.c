// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test packet builder and reader (see pktbuild.h). Written from the RFCs (791, 793, 768, 792,
 * 8200, 4443, 1071), sharing no code with bpf/: the tests judge the data plane's rewrites
 * with it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "pktbuild.h"

#define ETH_HDR	      14
#define VLAN_HDR      4
#define IPV4_HDR      20
#define IPV6_HDR      40
#define TCP_HDR	      20
#define UDP_HDR	      8
#define ICMP_HDR      8 /* type, code, checksum and the 4-byte rest of header */
#define FRAG_HDR      8 /* the IPv6 fragment header has a fixed size */
#define IPV4_OPTS_MAX 40
#define TCP_OPTS_MAX  40

#define IP_DF	   0x4000
#define IP_MF	   0x2000
#define IP_OFFMASK 0x1fff

/* Locally administered MACs: client and server of every default packet. */
static const uint8_t def_smac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t def_dmac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* RFC 1071 4.1: 16-bit big-endian words, an odd last byte is the high half of a word. */
uint32_t pkt_sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	size_t i;

	/* Below 64 KiB of data the 32-bit accumulator cannot overflow (32767 * 0xffff < 2^31). */
	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t pkt_fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header of RFC 793 (IPv4: 12 bytes) or RFC 8200 8.1 (IPv6: 40 bytes). */
static uint32_t pseudo_sum(int family, const uint8_t *saddr, const uint8_t *daddr, uint8_t proto,
			   size_t l4_len)
{
	size_t alen = family == 4 ? 4 : 16;
	uint32_t sum = 0;

	sum = pkt_sum16(saddr, alen, sum);
	sum = pkt_sum16(daddr, alen, sum);
	/* Both forms add up to the protocol plus the length, as words. */
	sum += proto;
	sum += (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
	return sum;
}

/* -------------------------------------------------------------------------------------- */
/* Building                                                                                */

static int family_of(const struct pkt_spec *s)
{
	return s->family ? s->family : 4;
}

static uint8_t proto_of(const struct pkt_spec *s)
{
	return s->proto ? s->proto : IPPROTO_TCP;
}

static size_t l4_hdr_len(const struct pkt_spec *s)
{
	switch (proto_of(s)) {
	case IPPROTO_TCP:
		return TCP_HDR + s->tcp_opts_len;
	case IPPROTO_UDP:
		return UDP_HDR;
	default:
		return ICMP_HDR;
	}
}

static size_t ext_len(const struct pkt_ext *e)
{
	if (e->kind == PKT_EXT_AUTH)
		return ((size_t)e->len8 + 2) * 4;
	return e->kind == PKT_EXT_FRAGMENT ? FRAG_HDR : ((size_t)e->len8 + 1) * 8;
}

static bool spec_valid(const struct pkt_spec *s)
{
	int fam = family_of(s);
	uint8_t proto = proto_of(s);

	if (fam != 4 && fam != 6)
		return false;
	if (s->vlan_count > PKT_MAX_VLANS || s->ext_count > PKT_MAX_EXT)
		return false;
	if (s->ethertype)
		return true;
	if (fam == 6 && (s->ip_opts_len || s->frag_offset || s->frag_more || s->set_ihl))
		return false;
	if (fam == 4 && s->ext_count)
		return false;
	if (s->ip_opts_len % 4 || s->ip_opts_len > IPV4_OPTS_MAX || s->frag_offset > IP_OFFMASK)
		return false;
	if (s->tcp_opts_len % 4 || s->tcp_opts_len > TCP_OPTS_MAX)
		return false;
	for (int i = 0; i < s->ext_count; i++) {
		uint8_t k = s->ext[i].kind;

		if (k != PKT_EXT_HOPOPTS && k != PKT_EXT_ROUTING && k != PKT_EXT_FRAGMENT &&
		    k != PKT_EXT_DSTOPTS && k != PKT_EXT_AUTH)
			return false;
		if (s->ext[i].frag_offset > IP_OFFMASK)
			return false;
	}
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		return true;
	return (fam == 4 && proto == IPPROTO_ICMP) || (fam == 6 && proto == IPPROTO_ICMPV6);
}

static bool parse_addrs(const struct pkt_spec *s, uint8_t *saddr, uint8_t *daddr)
{
	int fam = family_of(s);
	int af = fam == 4 ? AF_INET : AF_INET6;
	const char *src = s->saddr ? s->saddr : fam == 4 ? PKT_DEF_SADDR4 : PKT_DEF_SADDR6;
	const char *dst = s->daddr ? s->daddr : fam == 4 ? PKT_DEF_DADDR4 : PKT_DEF_DADDR6;

	return inet_pton(af, src, saddr) == 1 && inet_pton(af, dst, daddr) == 1;
}

/* Ethernet header and tags; returns the bytes written. */
static size_t put_eth(const struct pkt_spec *s, uint8_t *p, uint16_t ethertype)
{
	size_t off = 12;

	memcpy(p, all_zero(s->dmac, 6) ? def_dmac : s->dmac, 6);
	memcpy(p + 6, all_zero(s->smac, 6) ? def_smac : s->smac, 6);
	for (int i = 0; i < s->vlan_count; i++) {
		put16(p + off, s->vlans[i].tpid ? s->vlans[i].tpid : PKT_ETH_P_8021Q);
		put16(p + off + 2, s->vlans[i].tci);
		off += VLAN_HDR;
	}
	put16(p + off, ethertype);
	return off + 2;
}

/* Router Alert (RFC 2113) then NOPs: options a router may meet, that change nothing. */
static void put_ipv4_opts(uint8_t *p, size_t len)
{
	static const uint8_t ra[4] = {0x94, 0x04, 0x00, 0x00};

	memset(p, 0x01, len);
	if (len >= sizeof(ra))
		memcpy(p, ra, sizeof(ra));
}

static size_t put_ipv4(const struct pkt_spec *s, uint8_t *p, const uint8_t *saddr,
		       const uint8_t *daddr, size_t l4_total)
{
	size_t hlen = IPV4_HDR + s->ip_opts_len;
	uint16_t frag = s->frag_offset | (s->frag_more ? IP_MF : 0);

	/* Unfragmented TCP from Linux carries DF (path MTU discovery). */
	if (!s->frag_offset && !s->frag_more)
		frag |= IP_DF;
	p[0] = 0x40 | ((s->set_ihl ? s->ihl : hlen / 4) & 0x0f);
	p[1] = (uint8_t)(s->dscp << 2);
	put16(p + 2, (uint16_t)(hlen + l4_total));
	put16(p + 4, 0x1234);
	put16(p + 6, frag);
	p[8] = s->ttl ? s->ttl : 64;
	p[9] = proto_of(s);
	put16(p + 10, 0);
	memcpy(p + 12, saddr, 4);
	memcpy(p + 16, daddr, 4);
	put_ipv4_opts(p + IPV4_HDR, s->ip_opts_len);
	put16(p + 10, (uint16_t)~pkt_fold16(pkt_sum16(p, hlen, 0)));
	return hlen;
}

static size_t put_ipv6(const struct pkt_spec *s, uint8_t *p, const uint8_t *saddr,
		       const uint8_t *daddr, size_t payload)
{
	put32(p, 6u << 28 | (uint32_t)(s->dscp << 2) << 20);
	put16(p + 4, (uint16_t)payload);
	p[6] = s->ext_count ? s->ext[0].kind : proto_of(s);
	p[7] = s->ttl ? s->ttl : 64;
	memcpy(p + 8, saddr, 16);
	memcpy(p + 24, daddr, 16);
	return IPV6_HDR;
}

static void put_ext(const struct pkt_ext *e, uint8_t *p, uint8_t next)
{
	size_t len = ext_len(e);

	memset(p, 0, len);
	p[0] = next;
	switch (e->kind) {
	case PKT_EXT_FRAGMENT:
		put16(p + 2, (uint16_t)(e->frag_offset << 3 | (e->frag_more ? 1 : 0)));
		put32(p + 4, 0xabcd);
		break;
	case PKT_EXT_AUTH:
		/* Payload Len in 4-byte units minus 2; an SPI and a sequence number, no ICV. */
		p[1] = e->len8;
		put32(p + 4, 0x5151);
		break;
	case PKT_EXT_ROUTING:
		p[1] = e->len8;
		/* Type 253 is for experiments (RFC 4727); with segments left 0 it is skipped. */
		p[2] = 253;
		break;
	default:
		/* Hop-by-hop and destination options: one PadN filling the header. */
		p[1] = e->len8;
		p[2] = 1;
		p[3] = (uint8_t)(len - 4);
		break;
	}
}

static size_t put_ext_chain(const struct pkt_spec *s, uint8_t *p)
{
	size_t off = 0;

	for (int i = 0; i < s->ext_count; i++) {
		uint8_t next = i + 1 < s->ext_count ? s->ext[i + 1].kind : proto_of(s);

		put_ext(&s->ext[i], p + off, next);
		off += ext_len(&s->ext[i]);
	}
	return off;
}

/* MSS, SACK-permitted, timestamps, NOP, wscale (Linux's order), NOP-padded beyond 20. */
static void put_tcp_opts(uint8_t *p, size_t len)
{
	static const uint8_t linux_syn[PKT_LINUX_SYN_OPTS] = {
	    0x02, 0x04, 0x05, 0xb4,			    /* MSS 1460 */
	    0x04, 0x02,					    /* SACK permitted */
	    0x08, 0x0a, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0, /* timestamps */
	    0x01,					    /* NOP */
	    0x03, 0x03, 0x07,				    /* window scale 7 */
	};

	memset(p, 0x01, len);
	if (len >= sizeof(linux_syn))
		memcpy(p, linux_syn, sizeof(linux_syn));
	else if (len >= 4)
		memcpy(p, linux_syn, 4);
}

static void put_l4_hdr(const struct pkt_spec *s, uint8_t *p, size_t l4_total)
{
	size_t hlen = l4_hdr_len(s);

	memset(p, 0, hlen);
	switch (proto_of(s)) {
	case IPPROTO_TCP:
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put32(p + 4, s->seq);
		put32(p + 8, s->ack);
		p[12] = (uint8_t)((s->set_doff ? s->doff : hlen / 4) << 4);
		p[13] = s->tcp_flags;
		put16(p + 14, 64240); /* Linux's initial window */
		put_tcp_opts(p + TCP_HDR, s->tcp_opts_len);
		break;
	case IPPROTO_UDP:
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, (uint16_t)l4_total);
		break;
	default:
		/* Echo request; id and sequence from the port and seq fields. */
		p[0] = proto_of(s) == IPPROTO_ICMP ? 8 : 128;
		put16(p + 4, s->sport);
		put16(p + 6, (uint16_t)s->seq);
		break;
	}
}

/* Offset of the checksum field in the L4 header. */
static size_t l4_csum_off(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	default:
		return 2;
	}
}

static void put_l4_csum(const struct pkt_spec *s, uint8_t *l4, size_t l4_total,
			const uint8_t *saddr, const uint8_t *daddr)
{
	uint8_t proto = proto_of(s);
	uint32_t sum = 0;
	uint16_t csum;

	if (proto != IPPROTO_ICMP)
		sum = pseudo_sum(family_of(s), saddr, daddr, proto, l4_total);
	csum = (uint16_t)~pkt_fold16(pkt_sum16(l4, l4_total, sum));
	/* RFC 768: a computed zero is sent as all ones (zero means "no checksum"). */
	if (proto == IPPROTO_UDP && csum == 0)
		csum = 0xffff;
	put16(l4 + l4_csum_off(proto), csum);
}

static void put_pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)i;
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	uint8_t saddr[16], daddr[16];
	size_t l2, l3, ext = 0, l4_total, ip_l4, total;
	int fam = family_of(s);

	if (!spec_valid(s))
		return 0;
	l2 = ETH_HDR + (size_t)s->vlan_count * VLAN_HDR;
	if (s->ethertype) {
		if (l2 + s->payload_len > cap)
			return 0;
		put_eth(s, buf, s->ethertype);
		put_pattern(buf + l2, s->payload_len);
		return l2 + s->payload_len;
	}
	if (!parse_addrs(s, saddr, daddr))
		return 0;
	l3 = fam == 4 ? IPV4_HDR + s->ip_opts_len : IPV6_HDR;
	for (int i = 0; i < s->ext_count; i++)
		ext += ext_len(&s->ext[i]);
	l4_total = l4_hdr_len(s) + s->payload_len;
	total = l2 + l3 + ext + l4_total;
	if (total > cap || ext + l4_total > 0xffff || (s->cut_l4 && s->l4_kept > l4_total))
		return 0;
	ip_l4 = s->cut_l4 ? s->l4_kept : l4_total;

	put_eth(s, buf, fam == 4 ? PKT_ETH_P_IP : PKT_ETH_P_IPV6);
	/* L4 first: IPv4's header checksum does not cover it, the L4 checksum covers the IPs. */
	put_l4_hdr(s, buf + l2 + l3 + ext, l4_total);
	put_pattern(buf + l2 + l3 + ext + l4_hdr_len(s), s->payload_len);
	put_l4_csum(s, buf + l2 + l3 + ext, l4_total, saddr, daddr);
	if (fam == 4) {
		put_ipv4(s, buf + l2, saddr, daddr, ip_l4);
	} else {
		put_ipv6(s, buf + l2, saddr, daddr, ext + ip_l4);
		put_ext_chain(s, buf + l2 + l3);
	}
	return s->cut_l4 && s->cut_frame ? l2 + l3 + ext + ip_l4 : total;
}

/* -------------------------------------------------------------------------------------- */
/* Reading                                                                                 */

static int parse_l4(const uint8_t *b, struct pkt_view *v)
{
	const uint8_t *p = b + v->l4_off;

	switch (v->l4_proto) {
	case IPPROTO_TCP:
		if (v->l4_len < TCP_HDR)
			return -EINVAL;
		v->sport = get16(p);
		v->dport = get16(p + 2);
		v->seq = get32(p + 4);
		v->ack = get32(p + 8);
		v->doff = p[12] >> 4;
		v->tcp_flags = p[13];
		v->window = get16(p + 14);
		v->l4_csum = get16(p + 16);
		v->urg = get16(p + 18);
		if (v->doff < 5 || v->doff * 4u > v->l4_len)
			return -EINVAL;
		v->payload_off = v->l4_off + v->doff * 4u;
		break;
	case IPPROTO_UDP:
		if (v->l4_len < UDP_HDR)
			return -EINVAL;
		v->sport = get16(p);
		v->dport = get16(p + 2);
		v->udp_len = get16(p + 4);
		v->l4_csum = get16(p + 6);
		v->payload_off = v->l4_off + UDP_HDR;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (v->l4_len < ICMP_HDR)
			return -EINVAL;
		v->icmp_type = p[0];
		v->icmp_code = p[1];
		v->l4_csum = get16(p + 2);
		v->payload_off = v->l4_off + ICMP_HDR;
		break;
	default:
		v->payload_off = v->l4_off;
		break;
	}
	v->payload_len = v->l4_off + v->l4_len - v->payload_off;
	return 0;
}

static int parse_ipv4(const uint8_t *b, size_t len, struct pkt_view *v)
{
	const uint8_t *p = b + v->l3_off;
	size_t room = len - v->l3_off;
	uint16_t frag;

	if (room < IPV4_HDR || p[0] >> 4 != 4)
		return -EINVAL;
	v->family = 4;
	v->ihl = p[0] & 0x0f;
	v->dscp = p[1] >> 2;
	v->tot_len = get16(p + 2);
	v->ip_id = get16(p + 4);
	frag = get16(p + 6);
	v->frag_offset = frag & IP_OFFMASK;
	v->frag_more = frag & IP_MF;
	v->dont_frag = frag & IP_DF;
	v->ttl = p[8];
	v->l4_proto = p[9];
	v->ip_csum = get16(p + 10);
	memcpy(v->saddr, p + 12, 4);
	memcpy(v->daddr, p + 16, 4);
	if (v->ihl < 5 || v->ihl * 4u > room || v->tot_len < v->ihl * 4u || v->tot_len > room)
		return -EINVAL;
	v->l4_off = v->l3_off + v->ihl * 4u;
	v->l4_len = v->tot_len - v->ihl * 4u;
	/* A later fragment carries no L4 header. */
	if (v->frag_offset)
		return 0;
	return parse_l4(b, v);
}

static int parse_ipv6(const uint8_t *b, size_t len, struct pkt_view *v)
{
	const uint8_t *p = b + v->l3_off;
	size_t room = len - v->l3_off, off, end;
	uint8_t nh;

	if (room < IPV6_HDR || p[0] >> 4 != 6)
		return -EINVAL;
	v->family = 6;
	v->dscp = (uint8_t)((get16(p) >> 4) & 0xff) >> 2;
	v->ip6_plen = get16(p + 4);
	v->nexthdr = p[6];
	v->ttl = p[7];
	memcpy(v->saddr, p + 8, 16);
	memcpy(v->daddr, p + 24, 16);
	if (IPV6_HDR + (size_t)v->ip6_plen > room)
		return -EINVAL;
	end = v->l3_off + IPV6_HDR + v->ip6_plen;
	off = v->l3_off + IPV6_HDR;
	nh = v->nexthdr;
	while (nh == PKT_EXT_HOPOPTS || nh == PKT_EXT_ROUTING || nh == PKT_EXT_FRAGMENT ||
	       nh == PKT_EXT_DSTOPTS || nh == PKT_EXT_AUTH) {
		size_t elen;

		if (off + 8 > end)
			return -EINVAL;
		elen = nh == PKT_EXT_FRAGMENT ? FRAG_HDR
		       : nh == PKT_EXT_AUTH   ? ((size_t)b[off + 1] + 2) * 4
					      : ((size_t)b[off + 1] + 1) * 8;
		if (off + elen > end)
			return -EINVAL;
		v->ext_count++;
		if (nh == PKT_EXT_FRAGMENT) {
			v->frag_offset = get16(b + off + 2) >> 3;
			v->frag_more = b[off + 3] & 1;
		}
		nh = b[off];
		off += elen;
	}
	v->l4_proto = nh;
	v->l4_off = off;
	v->l4_len = end - off;
	if (v->frag_offset)
		return 0;
	return parse_l4(b, v);
}

int pkt_parse(const uint8_t *b, size_t len, struct pkt_view *v)
{
	size_t off = 12;
	uint16_t type;

	memset(v, 0, sizeof(*v));
	v->len = len;
	if (len < ETH_HDR)
		return -EINVAL;
	memcpy(v->dmac, b, 6);
	memcpy(v->smac, b + 6, 6);
	type = get16(b + off);
	off += 2;
	while (type == PKT_ETH_P_8021Q || type == PKT_ETH_P_8021AD) {
		if (v->vlan_count == PKT_MAX_VLANS || off + VLAN_HDR > len)
			return -EINVAL;
		v->vlans[v->vlan_count].tpid = type;
		v->vlans[v->vlan_count].tci = get16(b + off);
		v->vlan_count++;
		type = get16(b + off + 2);
		off += VLAN_HDR;
	}
	v->ethertype = type;
	v->l3_off = off;
	if (type == PKT_ETH_P_IP)
		return parse_ipv4(b, len, v);
	if (type == PKT_ETH_P_IPV6)
		return parse_ipv6(b, len, v);
	return 0;
}

/* -------------------------------------------------------------------------------------- */
/* Verifying: a checksummed region, checksum included, sums to all ones (RFC 1071 sec. 1).  */

bool pkt_ipv4_csum_ok(const uint8_t *buf, size_t len)
{
	struct pkt_view v;

	if (pkt_parse(buf, len, &v) || v.family != 4)
		return false;
	return pkt_fold16(pkt_sum16(buf + v.l3_off, v.ihl * 4u, 0)) == 0xffff;
}

bool pkt_l4_csum_ok(const uint8_t *buf, size_t len)
{
	struct pkt_view v;
	uint32_t sum = 0;

	if (pkt_parse(buf, len, &v) || !v.family || v.frag_offset)
		return false;
	switch (v.l4_proto) {
	case IPPROTO_UDP:
		/* Zero means "not computed" over IPv4 (forbidden over IPv6): never right here. */
		if (!v.l4_csum)
			return false;
		/* fall through */
	case IPPROTO_TCP:
	case IPPROTO_ICMPV6:
		sum = pseudo_sum(v.family, v.saddr, v.daddr, v.l4_proto, v.l4_len);
		break;
	case IPPROTO_ICMP:
		/* ICMPv4 sums its message only, no pseudo-header (RFC 792). */
		if (v.family != 4)
			return false;
		break;
	default:
		return false;
	}
	if (v.l4_proto == IPPROTO_ICMPV6 && v.family != 6)
		return false;
	return pkt_fold16(pkt_sum16(buf + v.l4_off, v.l4_len, sum)) == 0xffff;
}
