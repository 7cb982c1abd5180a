/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which service a packet is for, and which tier and cohort its client belongs to.
 */
#ifndef SPW_CLASSIFY_BPF_H
#define SPW_CLASSIFY_BPF_H

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "spillway_rank.h"

/*
 * Service of a TCP/UDP packet, SPW_SVC_NONE when it has none. One array lookup decides for
 * traffic to ports no service uses; the hash of address-bound services is consulted only on
 * ports that have one.
 */
static __always_inline __u32 spw_service_of(const struct spw_pkt *pkt)
{
	__u32 slot = bpf_ntohs(pkt->dport) + (pkt->proto == IPPROTO_UDP ? SPW_PORT_SLOT_UDP : 0);
	struct spw_port *port = bpf_map_lookup_elem(&spw_ports, &slot);
	__u32 svc;

	if (!port)
		return SPW_SVC_NONE;
	svc = port->svc_id;
	if (port->flags & SPW_PORT_ADDR_BOUND) {
		struct spw_svc_addr_key key = {.proto = pkt->proto, .port = pkt->dport};
		__u8 saddr[SPW_ADDR_LEN];
		__u32 *bound;

		spw_pkt_addrs(pkt, saddr, key.addr);
		bound = bpf_map_lookup_elem(&spw_svc_addrs, &key);
		if (bound)
			svc = *bound;
	}
	/* A corrupt id from user space must not index past the counters. */
	if (svc >= SPW_MAX_SERVICES)
		return SPW_SVC_NONE;
	return svc;
}

/*
 * Service at a packet's destination address, for packets whose ports cannot be read: the
 * entry user space keeps under port 0 and protocol 0 for each address a service is bound to,
 * and under the all-zero address (never a packet's) when a service listens on every address.
 */
static __always_inline __u32 spw_service_at(const struct spw_pkt *pkt)
{
	struct spw_svc_addr_key key = {};
	__u8 saddr[SPW_ADDR_LEN];
	__u32 *svc;

	spw_pkt_addrs(pkt, saddr, key.addr);
	svc = bpf_map_lookup_elem(&spw_svc_addrs, &key);
	if (!svc) {
		__builtin_memset(key.addr, 0, SPW_ADDR_LEN);
		svc = bpf_map_lookup_elem(&spw_svc_addrs, &key);
	}
	if (!svc || *svc >= SPW_MAX_SERVICES)
		return SPW_SVC_NONE;
	return *svc;
}

/*
 * Tier of a new flow's client, in order: the longest matching source CIDR rule, the DSCP mark
 * when the source is trusted to set it, the service's default. Clamped below tier_count, so a
 * rule naming a tier the service does not have lands in its most sheddable tier.
 */
static __always_inline __u32 spw_tier_of(const struct spw_pkt *pkt, const __u8 *saddr,
					 const struct spw_policy *pol)
{
	struct spw_lpm_key key = {.prefixlen = SPW_ADDR_LEN * 8};
	struct spw_rule *rule;
	__u32 tier = pol->default_tier;
	__u32 dscp = pkt->dscp;
	__u32 count = pol->tier_count;

	/* An IPv6 packet from ::ffff:a.b.c.d is not the IPv4 client a.b.c.d (the trie holds
	 * IPv4 prefixes in that form): it gets no IPv4 rule's tier nor its trust. */
	if (!pkt->is_v4 && spw_addr_is_mapped(saddr))
		goto clamp;
	__builtin_memcpy(key.addr, saddr, SPW_ADDR_LEN);
	rule = bpf_map_lookup_elem(&spw_rules, &key);
	if (rule) {
		tier = rule->tier;
	} else {
		/* The DSCP table is an array lookup; the trust trie only when the mark maps. */
		__u8 *mapped = bpf_map_lookup_elem(&spw_dscp, &dscp);

		if (mapped && *mapped != SPW_DSCP_UNMAPPED &&
		    bpf_map_lookup_elem(&spw_trusted, &key))
			tier = *mapped;
	}
clamp:
	if (count == 0 || count > SPW_MAX_TIERS)
		count = SPW_MAX_TIERS;
	if (tier >= count)
		tier = count - 1;
	return tier;
}

/*
 * Is the source of a new flow exempt (the host's own addresses, configured probe and
 * management sources)? The key carries the packet's family, so an IPv6 packet from
 * ::ffff:a.b.c.d does not match the IPv4 entry a.b.c.d. Only new flows pay for this lookup.
 */
static __always_inline int spw_is_exempt(const struct spw_pkt *pkt, const __u8 *saddr)
{
	struct spw_exempt_key key = {
	    .prefixlen = SPW_EXEMPT_FAMILY_BITS + SPW_ADDR_LEN * 8,
	    .family = pkt->is_v4 ? SPW_EXEMPT_FAMILY_V4 : SPW_EXEMPT_FAMILY_V6,
	};

	/* An IPv4 source in a /16 no exempt prefix overlaps: one bit, no trie walk. */
	if (pkt->is_v4) {
		__u32 zero = 0, block = ((__u32)saddr[12] << 8 | saddr[13]) & (SPW_V4_BLOCKS - 1);
		const struct spw_v4_blocks *f = bpf_map_lookup_elem(&spw_exempt_v4, &zero);

		if (f && f->built && !((f->bits[block / 64] >> (block % 64)) & 1))
			return 0;
	}
	__builtin_memcpy(key.addr, saddr, SPW_ADDR_LEN);
	return bpf_map_lookup_elem(&spw_exempt, &key) != NULL;
}

static __always_inline const struct spw_globals *spw_globals_of(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&spw_globals, &zero);
}

/* The cohort and host slot hash the same prefix and salt: see spw_host_slot(). */
static __always_inline __u32 spw_cohort_of(const __u8 *saddr)
{
	const struct spw_globals *g = spw_globals_of();

	return g ? spw_cohort(saddr, g->cohort_salt, g->ipv6_cohort_prefix)
		 : spw_cohort(saddr, 0, 0);
}

static __always_inline __u32 spw_host_slot_of(const __u8 *saddr)
{
	const struct spw_globals *g = spw_globals_of();

	return g ? spw_host_slot(saddr, g->cohort_salt, g->ipv6_cohort_prefix)
		 : spw_host_slot(saddr, 0, 0);
}

#endif /* SPW_CLASSIFY_BPF_H */
