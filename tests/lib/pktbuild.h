/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test packet builder and reader, shared by the BPF tests and the data-plane benchmark.
 *
 * pkt_build() turns a spec into an Ethernet frame with correct IPv4, TCP, UDP and ICMP
 * checksums, or into a deliberately malformed one (ihl/doff overrides, too many tags or
 * extension headers). pkt_parse() reads a frame back into plain fields for assertions, and the
 * checksum verifiers are written from RFC 1071 here, sharing nothing with bpf/, so a reply the
 * data plane rewrote is judged by code that did not write it.
 */
#ifndef SPW_PKTBUILD_H
#define SPW_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One tag more than the data plane parses (SPW_MAX_VLAN_TAGS), to build that malformed case. */
#define PKT_MAX_VLANS 3
/* Two more than SPW_MAX_IPV6_EXT, to build the too-deep chain and then some. */
#define PKT_MAX_EXT 8
/* MSS, SACK-permitted, timestamps, NOP, window scale: what a Linux client's SYN carries. */
#define PKT_LINUX_SYN_OPTS 20
/* A frame this size holds every packet the specs can describe (jumbo payloads excluded). */
#define PKT_BUF_MAX 2048

#define PKT_ETH_P_IP	 0x0800
#define PKT_ETH_P_IPV6	 0x86dd
#define PKT_ETH_P_ARP	 0x0806
#define PKT_ETH_P_8021Q	 0x8100
#define PKT_ETH_P_8021AD 0x88a8
#define PKT_ETH_P_LLDP	 0x88cc

/* TCP flags, as in byte 13 of the TCP header. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* IPv6 extension headers, by their next-header value. */
enum pkt_ext_kind {
	PKT_EXT_HOPOPTS = 0,
	PKT_EXT_ROUTING = 43,
	PKT_EXT_FRAGMENT = 44,
	PKT_EXT_AUTH = 51, /* AH: len8 is its Payload Len (4-byte units minus 2) */
	PKT_EXT_DSTOPTS = 60,
};

struct pkt_vlan {
	uint16_t tpid; /* PKT_ETH_P_8021Q or PKT_ETH_P_8021AD; 0 means 802.1Q */
	uint16_t tci;  /* PCP, DEI and VLAN id, as on the wire */
};

struct pkt_ext {
	uint8_t kind;	      /* enum pkt_ext_kind */
	uint8_t len8;	      /* hop-by-hop, dest-opts, routing: Hdr Ext Len (8-byte units - 1) */
	uint16_t frag_offset; /* fragment: offset in 8-byte units */
	bool frag_more;	      /* fragment: the M flag */
};

/*
 * What to build. A zeroed spec is an IPv4 TCP segment with no flags between the default
 * addresses; fields say only what differs. Bytes after a non-first fragment's IP header still
 * look like the L4 header: a parser that reads ports there is then caught classifying.
 */
struct pkt_spec {
	int family;	   /* 4 or 6; 0 means 4 */
	const char *saddr; /* textual address; NULL means a default of the family */
	const char *daddr;
	uint8_t smac[6]; /* all zero means a default */
	uint8_t dmac[6];
	uint16_t ethertype; /* non-zero: this ethertype, payload_len bytes after it, no IP */
	uint8_t vlan_count; /* tags before the IP header, outermost first */
	struct pkt_vlan vlans[PKT_MAX_VLANS];
	uint8_t proto;	      /* IPPROTO_TCP (also 0), _UDP, _ICMP (IPv4), _ICMPV6 (IPv6) */
	uint8_t dscp;	      /* 6 bits, in the TOS / traffic class byte */
	uint8_t ttl;	      /* TTL or hop limit; 0 means 64 */
	uint8_t ip_opts_len;  /* IPv4 options: multiple of 4, at most 40 */
	uint16_t frag_offset; /* IPv4 fragment offset, 8-byte units */
	bool frag_more;	      /* IPv4 MF */
	uint8_t ext_count;    /* IPv6 extension headers, in order */
	struct pkt_ext ext[PKT_MAX_EXT];
	uint16_t sport, dport; /* TCP/UDP ports; ICMP echo id = sport */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t tcp_opts_len; /* multiple of 4, at most 40; PKT_LINUX_SYN_OPTS as Linux sends */
	uint16_t payload_len; /* L4 payload bytes, a counting pattern */
	bool set_ihl;	      /* write ihl as given, whatever the header's real length */
	uint8_t ihl;
	bool set_doff; /* write doff as given, whatever the header's real length */
	uint8_t doff;
	/*
	 * The IP length field ends the datagram l4_kept bytes into the L4 header (0: before it),
	 * while the frame still carries the whole segment after it, as Ethernet padding would be:
	 * a tiny first fragment, or a datagram whose padding looks like TCP. The L4 checksum is
	 * the full segment's, as it would be once reassembled.
	 */
	bool cut_l4;
	uint16_t l4_kept;
	bool cut_frame; /* with cut_l4: the frame ends where the datagram does (no padding) */
};

/* Builds the frame into buf; returns its length, or 0 when the spec is invalid or cap too small. */
size_t pkt_build(const struct pkt_spec *spec, uint8_t *buf, size_t cap);

/* A frame read back. Addresses are raw bytes: 4 for IPv4 (in addr[0..3]), 16 for IPv6. */
struct pkt_view {
	size_t len; /* frame length */
	uint8_t dmac[6], smac[6];
	uint8_t vlan_count;
	struct pkt_vlan vlans[PKT_MAX_VLANS];
	uint16_t ethertype; /* after the tags */
	int family;	    /* 4, 6, or 0 when not IP */
	size_t l3_off;
	uint8_t saddr[16], daddr[16];
	uint8_t dscp, ttl; /* TTL or hop limit */
	/* IPv4 */
	uint8_t ihl;
	uint16_t tot_len, ip_id, frag_offset, ip_csum;
	bool frag_more, dont_frag;
	/* IPv6 */
	uint16_t ip6_plen; /* payload length field */
	uint8_t nexthdr;   /* the fixed header's next header */
	uint8_t ext_count; /* extension headers walked */
	/* L4: l4_len is the IP datagram's L4 bytes, per the IP length field */
	uint8_t l4_proto;
	size_t l4_off, l4_len;
	uint16_t sport, dport, l4_csum;
	uint32_t seq, ack;
	uint8_t doff, tcp_flags;
	uint16_t window, urg;
	uint16_t udp_len;
	uint8_t icmp_type, icmp_code;
	size_t payload_off, payload_len; /* after the L4 header (ICMP: after its 8 bytes) */
};

/*
 * Reads a frame. Returns 0, or -EINVAL when a header is cut short, a length field points past
 * the frame, or a header is impossible (ihl < 5, doff < 5). Non-IP frames parse (family 0).
 */
int pkt_parse(const uint8_t *buf, size_t len, struct pkt_view *v);

/* RFC 1071 one's-complement sum of len bytes, not folded, not complemented, added to sum. */
uint32_t pkt_sum16(const void *data, size_t len, uint32_t sum);
/* Folds a sum to 16 bits. A correct checksummed region folds to 0xffff. */
uint16_t pkt_fold16(uint32_t sum);

/* The IPv4 header checksum of the frame is right. False for non-IPv4 or unparseable frames. */
bool pkt_ipv4_csum_ok(const uint8_t *buf, size_t len);
/* The TCP, UDP, ICMP or ICMPv6 checksum of the frame is right (pseudo-header included). */
bool pkt_l4_csum_ok(const uint8_t *buf, size_t len);

/* The default addresses a NULL saddr/daddr stands for. */
#define PKT_DEF_SADDR4 "198.51.100.7"
#define PKT_DEF_DADDR4 "192.0.2.10"
#define PKT_DEF_SADDR6 "2001:db8:100::7"
#define PKT_DEF_DADDR6 "2001:db8:2::10"

#endif /* SPW_PKTBUILD_H */
