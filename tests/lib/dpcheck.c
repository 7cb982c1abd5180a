// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "dpcheck.h"
#include "pktbuild.h"

/* Says why and fails the check when cond does not hold. */
#define REQUIRE(cond, ...)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(why, whylen, __VA_ARGS__);                                        \
			return -EPROTO;                                                            \
		}                                                                                  \
	} while (0)

int spw_check_flow_key(const uint8_t *pkt, size_t len, struct spw_flow_key *k)
{
	struct pkt_view v;

	if (pkt_parse(pkt, len, &v) || (v.l4_proto != IPPROTO_TCP && v.l4_proto != IPPROTO_UDP))
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	if (v.family == 4) {
		k->saddr[10] = k->saddr[11] = 0xff;
		k->daddr[10] = k->daddr[11] = 0xff;
		memcpy(k->saddr + 12, v.saddr, 4);
		memcpy(k->daddr + 12, v.daddr, 4);
	} else {
		memcpy(k->saddr, v.saddr, SPW_ADDR_LEN);
		memcpy(k->daddr, v.daddr, SPW_ADDR_LEN);
	}
	k->sport = htons(v.sport);
	k->dport = htons(v.dport);
	k->proto = v.l4_proto;
	return 0;
}

static int views(const uint8_t *in, size_t in_len, const uint8_t *reply, size_t reply_len,
		 struct pkt_view *vi, struct pkt_view *vr, char *why, size_t whylen)
{
	REQUIRE(pkt_parse(in, in_len, vi) == 0, "the request does not parse");
	REQUIRE(pkt_parse(reply, reply_len, vr) == 0, "the reply does not parse (%zu bytes)",
		reply_len);
	return 0;
}

static int l2l3(const struct pkt_view *in, const struct pkt_view *r, uint8_t l4_proto, char *why,
		size_t whylen)
{
	size_t alen = in->family == 4 ? 4 : 16;

	REQUIRE(!memcmp(r->dmac, in->smac, 6) && !memcmp(r->smac, in->dmac, 6),
		"MAC addresses not swapped");
	REQUIRE(r->vlan_count == in->vlan_count, "%u tags, sent %u", r->vlan_count, in->vlan_count);
	for (unsigned int i = 0; i < in->vlan_count; i++)
		REQUIRE(r->vlans[i].tpid == in->vlans[i].tpid &&
			    r->vlans[i].tci == in->vlans[i].tci,
			"tag %u is %04x/%04x, sent %04x/%04x", i, r->vlans[i].tpid, r->vlans[i].tci,
			in->vlans[i].tpid, in->vlans[i].tci);
	REQUIRE(r->family == in->family, "reply is IPv%d to IPv%d", r->family, in->family);
	REQUIRE(!memcmp(r->saddr, in->daddr, alen) && !memcmp(r->daddr, in->saddr, alen),
		"IP addresses not swapped");
	REQUIRE(r->ttl >= SPW_REPLY_TTL_MIN, "TTL/hop limit %u: not a fresh one", r->ttl);
	REQUIRE(r->l4_proto == l4_proto, "L4 protocol %u, want %u", r->l4_proto, l4_proto);
	if (r->family == 4) {
		REQUIRE(r->ihl == 5, "ihl %u: IP options not removed", r->ihl);
		REQUIRE(r->tot_len == r->len - r->l3_off, "tot_len %u for %zu bytes", r->tot_len,
			r->len - r->l3_off);
		REQUIRE(!r->frag_offset && !r->frag_more, "reply is a fragment");
	} else {
		REQUIRE(r->ext_count == 0 && r->nexthdr == l4_proto,
			"next header %u, %u extension headers left", r->nexthdr, r->ext_count);
		REQUIRE(r->ip6_plen == r->len - r->l3_off - 40, "payload length %u for %zu bytes",
			r->ip6_plen, r->len - r->l3_off - 40);
	}
	return 0;
}

int spw_check_reply_l2l3(const uint8_t *in, size_t in_len, const uint8_t *reply, size_t reply_len,
			 uint8_t l4_proto, char *why, size_t whylen)
{
	struct pkt_view vi, vr;

	return views(in, in_len, reply, reply_len, &vi, &vr, why, whylen)
		   ?: l2l3(&vi, &vr, l4_proto, why, whylen);
}

int spw_check_rst(const uint8_t *in_pkt, size_t in_len, const uint8_t *reply, size_t reply_len,
		  char *why, size_t whylen)
{
	struct pkt_view in, r;
	uint32_t ack;
	int err;

	err = views(in_pkt, in_len, reply, reply_len, &in, &r, why, whylen)
		  ?: l2l3(&in, &r, IPPROTO_TCP, why, whylen);
	if (err)
		return err;
	REQUIRE(r.len == in.l3_off + (in.family == 4 ? 20u : 40u) + 20u,
		"RST is %zu bytes: not trimmed to headers", r.len);
	if (r.family == 4)
		REQUIRE(pkt_ipv4_csum_ok(reply, reply_len), "IPv4 header checksum wrong");
	REQUIRE(r.sport == in.dport && r.dport == in.sport, "ports %u->%u not swapped", r.sport,
		r.dport);
	REQUIRE(r.tcp_flags == (PKT_TCP_RST | PKT_TCP_ACK), "flags %#x, want RST|ACK", r.tcp_flags);
	REQUIRE(r.seq == 0, "seq %u, want 0 (the SYN had no ACK)", r.seq);
	/*
	 * A reset answering a segment without ACK acks SEG.SEQ + SEG.LEN (RFC 9293 3.10.7.1):
	 * the SYN, its data and a FIN each count. (A Linux client would take seq + 1 too, but a
	 * stack that checks the ack against SND.NXT would not.) The length is the IP datagram's.
	 */
	ack = in.seq + 1 + (uint32_t)in.payload_len + (in.tcp_flags & PKT_TCP_FIN ? 1u : 0u);
	REQUIRE(r.ack == ack, "ack %u, want %u (SEQ + LEN)", r.ack, ack);
	REQUIRE(r.doff == 5, "doff %u: options not trimmed", r.doff);
	REQUIRE(r.urg == 0, "urgent pointer %u", r.urg);
	REQUIRE(pkt_l4_csum_ok(reply, reply_len), "TCP checksum wrong");
	return 0;
}

int spw_check_active(struct spw_dataplane *dp, uint32_t svc, uint32_t tier, uint64_t want,
		     char *why, size_t whylen)
{
	uint64_t n;
	int err;

	err = spw_dp_active_read(dp, svc, tier, &n);
	if (err) {
		snprintf(why, whylen, "reading active[%u][%u]: %s", svc, tier, strerror(-err));
		return err;
	}
	/* A decrement of nothing shows as a count near 2^64, printed signed to be read. */
	REQUIRE(n == want, "active[%u][%u] = %lld, want %llu", svc, tier, (long long)n,
		(unsigned long long)want);
	return 0;
}
