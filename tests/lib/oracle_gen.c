// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet oracle's generator (see oracle_gen.h). Frames are built by the tests' packet
 * builder (pktbuild.c), then mutated in place.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "oracle_gen.h"
#include "pktbuild.h"

void og_seed(struct og_rng *r, uint64_t seed)
{
	r->s = seed;
}

/* splitmix64: every seed, zero included, gives a full-period stream. */
uint64_t og_next(struct og_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t og_below(struct og_rng *r, uint32_t n)
{
	return n ? (uint32_t)(og_next(r) % n) : 0;
}

/* True with probability pct %. */
static bool chance(struct og_rng *r, uint32_t pct)
{
	return og_below(r, 100) < pct;
}

/*
 * Client prefixes: those of the oracle's rules (tier 0, tier 1, a tier past the service's
 * count), its trusted and exempt sources, IPv4-mapped IPv6, and unruled ones. A client is the
 * prefix and either a two-part host (a /24 or /64 of 16, 8 hosts each) or one number.
 */
struct og_prefix {
	const char *text;
	bool one_number;
	bool trusted;
};

static const struct og_prefix prefixes4[] = {
    {"10.0.", false, false},	{"10.1.", false, false},      {"10.7.", false, false},
    {"203.0.113.", true, true}, {"198.51.100.", true, false}, {"100.64.", false, false},
};

static const struct og_prefix prefixes6[] = {
    {"2001:db8:a:", false, false}, {"2001:db8:b:", false, false},  {"2001:db8:7:", false, true},
    {"2001:db8:e::", true, false}, {"::ffff:10.0.", false, false}, {"2001:db8:100:", false, false},
};

static void pick_saddr(struct og_rng *r, int fam, char *out, size_t n, bool *trusted)
{
	const struct og_prefix *p =
	    fam == 4 ? &prefixes4[og_below(r, 6)] : &prefixes6[og_below(r, 6)];
	bool dotted = fam == 4 || p->text[0] == ':';
	uint32_t a = og_below(r, 16), b = og_below(r, 8);

	*trusted = p->trusted;
	if (p->one_number)
		snprintf(out, n, dotted ? "%s%u" : "%s%x", p->text, a * 8 + b);
	else
		snprintf(out, n, dotted ? "%s%u.%u" : "%s%x::%x", p->text, a, b + 1);
}

static uint16_t pick_dport(struct og_rng *r, uint8_t *proto)
{
	uint32_t x = og_below(r, 100);

	if (x < 45) {
		*proto = chance(r, 92) ? IPPROTO_TCP : IPPROTO_UDP;
		return OG_PORT_HTTP;
	}
	if (x < 75) {
		*proto = chance(r, 85) ? IPPROTO_UDP : IPPROTO_TCP;
		return OG_PORT_DNS;
	}
	*proto = chance(r, 70) ? IPPROTO_TCP : IPPROTO_UDP;
	if (x < 87)
		return OG_PORT_NOPOL;
	if (x < 94)
		return OG_PORT_NONE;
	return (uint16_t)og_below(r, 65536);
}

/* The TCP segment's flags and payload: mostly what clients send, some of everything. */
static void pick_tcp(struct og_rng *r, struct pkt_spec *s)
{
	static const uint8_t opts[] = {0, 0, PKT_LINUX_SYN_OPTS, 12, 40};
	uint32_t x = og_below(r, 100);

	s->tcp_opts_len = opts[og_below(r, sizeof(opts))];
	if (x < 36) {
		s->tcp_flags = PKT_TCP_SYN;
	} else if (x < 41) {
		s->tcp_flags = PKT_TCP_SYN; /* fast open: data on the SYN */
		s->payload_len = (uint16_t)(1 + og_below(r, 100));
	} else if (x < 44) {
		s->tcp_flags = PKT_TCP_SYN | PKT_TCP_FIN;
		s->payload_len = (uint16_t)og_below(r, 3);
	} else if (x < 58) {
		s->tcp_flags = PKT_TCP_ACK;
	} else if (x < 72) {
		s->tcp_flags = PKT_TCP_PSH | PKT_TCP_ACK;
		s->payload_len = (uint16_t)(1 + og_below(r, 300));
	} else if (x < 82) {
		s->tcp_flags = PKT_TCP_FIN | PKT_TCP_ACK;
	} else if (x < 89) {
		s->tcp_flags = og_below(r, 2) ? PKT_TCP_RST : PKT_TCP_RST | PKT_TCP_ACK;
	} else if (x < 94) {
		s->tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	} else {
		s->tcp_flags = (uint8_t)og_next(r);
		s->payload_len = (uint16_t)og_below(r, 40);
	}
	s->seq = (uint32_t)og_next(r);
	s->ack = (uint32_t)og_next(r);
}

static void pick_layers(struct og_rng *r, struct pkt_spec *s)
{
	uint32_t v = og_below(r, 100);

	s->vlan_count = v < 75 ? 0 : v < 87 ? 1 : v < 97 ? 2 : 3;
	for (int i = 0; i < s->vlan_count; i++) {
		s->vlans[i].tpid = i == 0 && s->vlan_count > 1 ? PKT_ETH_P_8021AD : PKT_ETH_P_8021Q;
		s->vlans[i].tci = (uint16_t)og_below(r, 4096);
	}
	if (s->family == 4) {
		if (chance(r, 12))
			s->ip_opts_len = (uint8_t)(4 * og_below(r, 11));
		if (chance(r, 10)) {
			/* A later fragment, or a first one that says more follow. */
			s->frag_offset = chance(r, 60) ? (uint16_t)(1 + og_below(r, 200)) : 0;
			s->frag_more = chance(r, 70);
		}
		return;
	}
	if (chance(r, 30)) {
		static const uint8_t kinds[] = {PKT_EXT_HOPOPTS, PKT_EXT_ROUTING, PKT_EXT_DSTOPTS,
						PKT_EXT_FRAGMENT, PKT_EXT_AUTH};

		s->ext_count = (uint8_t)(1 + og_below(r, PKT_MAX_EXT));
		for (int i = 0; i < s->ext_count; i++) {
			struct pkt_ext *e = &s->ext[i];

			e->kind = kinds[og_below(r, sizeof(kinds))];
			e->len8 = (uint8_t)og_below(r, 3);
			if (e->kind == PKT_EXT_AUTH)
				e->len8 = (uint8_t)(2 * og_below(r, 3)); /* a multiple of 8 bytes */
			if (e->kind == PKT_EXT_FRAGMENT) {
				e->frag_offset =
				    chance(r, 40) ? (uint16_t)(1 + og_below(r, 100)) : 0;
				e->frag_more = chance(r, 70);
			}
		}
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Offset of the IP header after the frame's tags, 0 when it is not IP. */
static size_t ip_off(const uint8_t *b, size_t len)
{
	size_t off = 12;

	while (off + 2 <= len && (b[off] << 8 | b[off + 1]) != 0x0800 &&
	       (b[off] << 8 | b[off + 1]) != 0x86dd) {
		if ((b[off] << 8 | b[off + 1]) != 0x8100 && (b[off] << 8 | b[off + 1]) != 0x88a8)
			return 0;
		off += 4;
	}
	return off + 2 <= len ? off + 2 : 0;
}

/* Mutations of a built frame; returns the new length. */
static size_t mutate(struct og_rng *r, uint8_t *b, size_t len)
{
	size_t l3 = ip_off(b, len);

	/* A tiny first fragment (RFC 1858): the IP length ends 8 bytes into the L4 header. */
	if (l3 && len >= l3 + 20 && b[l3] >> 4 == 4 && chance(r, 3)) {
		size_t hl = (size_t)(b[l3] & 15) * 4, cut = l3 + hl + 8;

		if (cut <= len) {
			b[l3 + 6] = 0x20; /* MF, offset 0 */
			b[l3 + 7] = 0;
			put16(b + l3 + 2, (uint16_t)(hl + 8));
			len = cut;
		}
	}
	/* The IP length field says something else: shorter, zero (GSO), longer. */
	if (l3 && chance(r, 4)) {
		size_t at = len >= l3 + 1 && b[l3] >> 4 == 6 ? l3 + 4 : l3 + 2;

		if (at + 2 <= len)
			put16(b + at, og_below(r, 3) == 0 ? 0 : (uint16_t)og_below(r, 400));
	}
	if (chance(r, 8) && len > 14)
		len = 14 + og_below(r, (uint32_t)(len - 14));
	if (chance(r, 8)) {
		uint32_t flips = 1 + og_below(r, 3), span = len < 96 ? (uint32_t)len : 96;

		for (uint32_t i = 0; i < flips; i++) {
			uint32_t bit = og_below(r, span * 8);

			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
	/* Ethernet padding to the 60-byte minimum, or trailing bytes of any value. */
	if (chance(r, 12)) {
		size_t want = len < 60 && chance(r, 70) ? 60 : len + 1 + og_below(r, 16);
		bool zero = chance(r, 60);

		for (; len < want && len < OG_FRAME_MAX; len++)
			b[len] = zero ? 0 : (uint8_t)og_next(r);
	}
	return len;
}

size_t og_frame(struct og_rng *r, uint8_t *buf)
{
	char saddr[64], daddr[64];
	struct pkt_spec s;
	bool trusted;
	size_t len;
	uint32_t kind = og_below(r, 100);

	memset(&s, 0, sizeof(s));
	s.family = chance(r, 55) ? 4 : 6;
	if (kind < 2) {
		s.ethertype = chance(r, 70) ? PKT_ETH_P_ARP : PKT_ETH_P_LLDP;
		s.payload_len = 28 + (uint16_t)og_below(r, 20);
		pick_layers(r, &s);
		s.ip_opts_len = 0;
		s.frag_offset = 0;
		s.frag_more = false;
		s.ext_count = 0;
	} else {
		pick_saddr(r, s.family, saddr, sizeof(saddr), &trusted);
		/* A mapped source is an IPv6 packet's: keep the family. */
		snprintf(daddr, sizeof(daddr), "%s",
			 s.family == 4 ? (chance(r, 70) ? OG_DADDR4_BOUND : "192.0.2.11")
				       : (chance(r, 70) ? OG_DADDR6_BOUND : "2001:db8:2::11"));
		s.saddr = saddr;
		s.daddr = daddr;
		s.sport = (uint16_t)(40000 + og_below(r, 24));
		if (kind < 5) {
			s.proto = s.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
			s.payload_len = (uint16_t)og_below(r, 64);
		} else {
			s.dport = pick_dport(r, &s.proto);
			if (s.proto == IPPROTO_TCP)
				pick_tcp(r, &s);
			else
				s.payload_len = (uint16_t)og_below(r, 300);
		}
		if (trusted || chance(r, 10)) {
			static const uint8_t dscps[] = {46, 10, 8, 0, 34};

			s.dscp = dscps[og_below(r, sizeof(dscps))];
		}
		s.ttl = (uint8_t)(1 + og_below(r, 255));
		pick_layers(r, &s);
		if (chance(r, 2)) {
			s.set_doff = true;
			s.doff = (uint8_t)og_below(r, 16);
		}
		if (s.family == 4 && chance(r, 2)) {
			s.set_ihl = true;
			s.ihl = (uint8_t)og_below(r, 16);
		}
	}
	len = pkt_build(&s, buf, OG_FRAME_MAX);
	if (!len) {
		/* A spec the builder refuses (none should be): an ARP frame instead. */
		memset(&s, 0, sizeof(s));
		s.ethertype = PKT_ETH_P_ARP;
		s.payload_len = 28;
		len = pkt_build(&s, buf, OG_FRAME_MAX);
	}
	return mutate(r, buf, len);
}
