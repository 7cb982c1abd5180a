/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tier marks that travel: TC egress writes the DSCP of a flow's tier on the service's packets,
 * so a next hop that trusts this host's prefix classifies them the same way. The mark comes
 * from the flow entry the tracker has already looked up: no lookup of its own. The connections
 * this host opens are marked by their downstream's entry instead (throttle.bpf.h).
 */
#ifndef SPW_MARK_BPF_H
#define SPW_MARK_BPF_H

#include <stddef.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "flow.bpf.h"
#include "parse.bpf.h"
#include "stats.bpf.h"

/*
 * Writes dscp (0..63) into the packet's IP header, keeping ECN. IPv4 fixes the header
 * checksum incrementally over the 16-bit word holding the TOS byte; IPv6's traffic class has
 * no checksum (and TCP's pseudo header does not include it). Returns 1 when written.
 */
static __always_inline int spw_mark_write(struct __sk_buff *skb, const struct spw_pkt *pkt,
					  __u8 dscp)
{
	__u32 off = pkt->l3_off;
	__be16 old, new;

	if (off > SPW_PARSE_PULL_LEN)
		return 0;
	if (bpf_skb_load_bytes(skb, off, &old, sizeof(old)))
		return 0;
	if (pkt->is_v4) {
		/* version/ihl, then TOS = DSCP << 2 | ECN. */
		__u8 *b = (__u8 *)&new;

		new = old;
		b[1] = (__u8)(dscp << 2) | (b[1] & 0x03);
		if (new == old)
			return 1;
		if (bpf_l3_csum_replace(skb, off + offsetof(struct iphdr, check), old, new,
					sizeof(new)))
			return 0;
	} else {
		/* version(4) traffic class(8) flow label(20): DSCP is the class's top 6 bits. */
		__u16 h = bpf_ntohs(old);

		h = (h & 0xf03f) | ((__u16)dscp << 6);
		new = bpf_htons(h);
		if (new == old)
			return 1;
	}
	return !bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0);
}

/* Marks and counts a server packet of a flow whose entry says so. */
static __always_inline void spw_mark_egress(struct __sk_buff *skb, const struct spw_pkt *pkt,
					    const struct spw_flow_seen *seen)
{
	if (!(seen->mark & SPW_MARK_SET))
		return;
	if (spw_mark_write(skb, pkt, seen->mark & SPW_DSCP_MASK))
		spw_count(seen->svc, seen->tier, SPW_REASON_MARKED_EGRESS, pkt->len);
}

#endif /* SPW_MARK_BPF_H */
