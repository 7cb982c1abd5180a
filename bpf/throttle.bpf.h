/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Client-side throttling of downstreams: this host's new TCP connections to a configured
 * destination are counted at TC egress (requests, per tier) and the downstream's answers at
 * ingress (SYN-ACK = accept; RST and ICMP admin-prohibited = refusal; no answer = a request
 * without accept). include/spillway_throttle.h turns the window into the share of new
 * attempts to refuse; a refused SYN is rewritten into the RST+ACK the downstream would send
 * and handed to the same device's ingress, so the connecting socket gets ECONNREFUSED at once
 * and nothing leaves the host.
 *
 * Outgoing connections have no classifier of their own (the rules and trusted prefixes
 * classify clients of local services): their tier is the tier the config gives the local
 * socket's cgroup for the downstream, else the DSCP the packet carries when spw_dscp maps it
 * to a tier, else the downstream's default tier. Every packet is classified the same way, so
 * the marks of a downstream's tiers (written here too) need no per-connection state.
 *
 * Needs the context wrapper (ctx_*.bpf.h) included first.
 */
#ifndef SPW_THROTTLE_BPF_H
#define SPW_THROTTLE_BPF_H

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "mark.bpf.h"
#include "reject.bpf.h"
#include "spillway_throttle.h"

/* skb->mark of a refusal made here: ingress must not count it as the downstream's. */
#define SPW_THROTTLE_SKB_MARK 0x5350574bU /* "SPWK" */
#define SPW_NS_PER_MS	      1000000ULL

static __always_inline void spw_throttle_count(__u32 id, __u32 tier, __u32 kind)
{
	__u32 idx = spw_throttle_count_index(id, tier & (SPW_MAX_TIERS - 1), kind);
	__u64 *n;

	if (id >= SPW_MAX_DOWNSTREAMS)
		return;
	n = bpf_map_lookup_elem(&spw_thr_counts, &idx);
	if (n)
		*n += 1;
}

/* The downstream a connection to addr:port (16-byte form, network order) goes to, or NULL. */
static __always_inline struct spw_downstream *spw_downstream_of(const __u8 *addr, __be16 port)
{
	struct spw_lpm_key key = {.prefixlen = SPW_ADDR_LEN * 8};
	struct spw_downstream *ds;

	__builtin_memcpy(key.addr, addr, SPW_ADDR_LEN);
	ds = bpf_map_lookup_elem(&spw_downstreams, &key);
	if (!ds || (ds->port && ds->port != port) || !ds->id || ds->id >= SPW_MAX_DOWNSTREAMS)
		return NULL;
	return ds;
}

/* A set DSCP the config maps to a tier picks the tier; otherwise the downstream's default. */
static __always_inline __u32 spw_downstream_tier(const struct spw_downstream *ds, __u32 dscp)
{
	__u32 tier = ds->default_tier;

	if (dscp) {
		__u8 *mapped = bpf_map_lookup_elem(&spw_dscp, &dscp);

		if (mapped && *mapped != SPW_DSCP_UNMAPPED)
			tier = *mapped;
	}
	return tier & (SPW_MAX_TIERS - 1);
}

/* Counts an answer of kind from the downstream behind addr:port. */
static __always_inline void spw_throttle_answer(const __u8 *addr, __be16 port, __u32 dscp,
						__u32 kind)
{
	struct spw_downstream *ds = spw_downstream_of(addr, port);
	struct spw_throttle_win *win;
	__u32 id, bucket, prev_w;

	if (!ds)
		return;
	id = ds->id;
	spw_throttle_count(id, spw_downstream_tier(ds, dscp), kind);
	if (kind != SPW_THR_ACCEPTS || !ds->bucket_ms)
		return;
	bucket = spw_throttle_clock(bpf_ktime_get_ns() / SPW_NS_PER_MS, ds->bucket_ms, &prev_w);
	win = bpf_map_lookup_elem(&spw_throttle, &id);
	if (!win)
		return;
	bpf_spin_lock(&win->lock);
	spw_throttle_accept(win, bucket);
	bpf_spin_unlock(&win->lock);
}

/*
 * An ICMP destination-unreachable "administratively prohibited" about a TCP segment this host
 * sent: the quoted header names the downstream and its port.
 */
static __always_inline void spw_throttle_icmp(spw_ctx_t *ctx, const struct spw_pkt *pkt)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	/* ICMP header, quoted IPv6 header, quoted TCP ports: the most either family reads. */
	__u8 q[SPW_ICMP_HLEN + SPW_IPV6_HLEN + 4];
	__u8 addr[SPW_ADDR_LEN];
	__u32 off = pkt->l4_off, dscp;
	__be16 port;
	__u8 *ic;

	/* Bounded on the register that forms the pointer (see spw_l3_bounded), and one bounds
	 * check for the whole copy, so every read below is of the stack. */
	if (off > 0xff)
		return;
	asm volatile("" : "+r"(off));
	off &= 0xff;
	ic = data + off;
	if ((void *)(ic + sizeof(q)) > data_end)
		return;
	__builtin_memcpy(q, ic, sizeof(q));
	if (pkt->is_v4) {
		/* q + 8: the quoted IPv4 header, no options; then the TCP ports. */
		if (pkt->proto != IPPROTO_ICMP || q[0] != ICMP_DEST_UNREACH ||
		    q[1] != ICMP_PKT_FILTERED || q[8] != 0x45 || q[8 + 9] != IPPROTO_TCP)
			return;
		__builtin_memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		__builtin_memcpy(addr + 12, q + 8 + 16, 4);
		__builtin_memcpy(&port, q + 8 + SPW_IPV4_HLEN + 2, 2);
		dscp = q[8 + 1] >> 2;
	} else {
		/* q + 8: the quoted IPv6 header (next header at 6, destination at 24). */
		if (pkt->proto != IPPROTO_ICMPV6 || q[0] != ICMPV6_DEST_UNREACH ||
		    q[1] != ICMPV6_ADM_PROHIBITED || q[8 + 6] != IPPROTO_TCP)
			return;
		__builtin_memcpy(addr, q + 8 + 24, SPW_ADDR_LEN);
		__builtin_memcpy(&port, q + 8 + SPW_IPV6_HLEN + 2, 2);
		dscp = ((q[8] << 8 | q[9]) >> 6) & SPW_DSCP_MASK;
	}
	spw_throttle_answer(addr, port, dscp, SPW_THR_REFUSALS);
}

/*
 * At ingress, for every parsed packet: SYN-ACKs and RSTs from a downstream, and ICMP
 * refusals about one, are its answers. Other packets cost one flag test.
 */
static __always_inline void spw_throttle_ingress(spw_ctx_t *ctx, const struct spw_pkt *pkt,
						 int parsed)
{
	__u8 saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN];
	__u8 f = pkt->tcp_flags;

	if (parsed == SPW_PARSE_OTHER_L4) {
		if (pkt->proto == IPPROTO_ICMP || pkt->proto == IPPROTO_ICMPV6)
			spw_throttle_icmp(ctx, pkt);
		return;
	}
	if (parsed != SPW_PARSE_OK || pkt->proto != IPPROTO_TCP ||
	    !(f & (SPW_TCP_SYN | SPW_TCP_RST)))
		return;
	spw_pkt_addrs(pkt, saddr, daddr);
	if ((f & (SPW_TCP_SYN | SPW_TCP_ACK | SPW_TCP_RST)) == (SPW_TCP_SYN | SPW_TCP_ACK))
		spw_throttle_answer(saddr, pkt->sport, pkt->dscp, SPW_THR_ACCEPTS);
	else if (f & SPW_TCP_RST)
		spw_throttle_answer(saddr, pkt->sport, pkt->dscp, SPW_THR_REFUSALS);
}

/* Egress exists only at TC (ctx_skb.bpf.h). */
#ifdef SPW_CTX_SKB_BPF_H
/*
 * The tier of a packet this host sends to downstream ds: its socket's cgroup decides first
 * when the config gives cgroups a tier for ds. bpf_skb_cgroup_id reads the cgroup v2 id of the
 * skb's full socket (0 when there is none: a time-wait ACK, a packet being forwarded).
 */
static __always_inline __u32 spw_out_tier(struct __sk_buff *skb, const struct spw_downstream *ds,
					  __u32 dscp)
{
	if (ds->flags & SPW_DS_CGROUPS) {
		struct spw_out_cgroup_key key = {.downstream = ds->id};
		__u8 *tier;

		key.cgroup_id = bpf_skb_cgroup_id(skb);
		tier = key.cgroup_id ? bpf_map_lookup_elem(&spw_out_cgroups, &key) : NULL;
		if (tier)
			return *tier & (SPW_MAX_TIERS - 1);
	}
	return spw_downstream_tier(ds, dscp);
}

/*
 * A SYN to a throttled downstream is a request; refused, it becomes the RST+ACK for the local
 * socket and goes to this device's ingress. Returns the TC verdict for a refused SYN, or -1
 * to let the packet go on.
 */
static __always_inline int spw_throttle_syn(struct __sk_buff *skb, const struct spw_pkt *pkt,
					    const __u8 *saddr, const __u8 *daddr,
					    const struct spw_downstream *ds, __u32 tier)
{
	struct spw_throttle_win *win;
	struct spw_reply r;
	__u32 id = ds->id, k = ds->k_centi, bucket, prev_w, share, rnd;

	bucket = spw_throttle_clock(bpf_ktime_get_ns() / SPW_NS_PER_MS, ds->bucket_ms, &prev_w);
	win = bpf_map_lookup_elem(&spw_throttle, &id);
	if (!win)
		return -1;
	/* No helper may run under the lock: draw the random bits first. */
	rnd = bpf_get_prandom_u32();
	bpf_spin_lock(&win->lock);
	share = spw_throttle_share(win, tier, k, bucket, prev_w);
	spw_throttle_request(win, tier, bucket);
	bpf_spin_unlock(&win->lock);
	spw_throttle_count(id, tier, SPW_THR_REQUESTS);
	if (!spw_throttle_refuse(share, rnd))
		return -1;
	spw_reply_of(pkt, saddr, daddr, &r);
	spw_throttle_count(id, tier, SPW_THR_THROTTLED);
	/* A rewrite that failed half way leaves no packet worth sending: the socket's SYN
	 * retransmission tries again, as after a loss. */
	if (spw_reject(skb, &r))
		return TC_ACT_SHOT;
	skb->mark = SPW_THROTTLE_SKB_MARK;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/*
 * At TC egress, every packet this host sends to a downstream: a new TCP connection may be
 * throttled (spw_throttle_syn), and a packet of a tier the downstream marks gets that tier's
 * DSCP. To a downstream of any port, a packet from a local service's port is the service's
 * reply to a client, not a connection this host opened: left to the service's own marks.
 * Returns the TC verdict for a refused SYN, or -1 to let the packet go on.
 */
static __always_inline int spw_outgoing_egress(struct __sk_buff *skb)
{
	__u8 saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN];
	struct spw_downstream *ds;
	struct spw_pkt pkt = {};
	__u32 tier, slot;
	__u8 mark;
	int verdict;

	ctx_prepare_parse(skb, SPW_PARSE_PULL_LEN);
	pkt.len = ctx_len(skb);
	if (spw_parse(ctx_data(skb), ctx_data_end(skb), &pkt) != SPW_PARSE_OK)
		return -1;
	spw_pkt_addrs(&pkt, saddr, daddr);
	ds = spw_downstream_of(daddr, pkt.dport);
	if (!ds)
		return -1;
	if (!ds->port) {
		struct spw_port *port;

		slot = bpf_ntohs(pkt.sport) + (pkt.proto == IPPROTO_UDP ? SPW_PORT_SLOT_UDP : 0);
		port = bpf_map_lookup_elem(&spw_ports, &slot);
		if (port && (port->svc_id || (port->flags & SPW_PORT_ADDR_BOUND)))
			return -1;
	}
	tier = spw_out_tier(skb, ds, pkt.dscp);
	if (ds->bucket_ms && pkt.proto == IPPROTO_TCP &&
	    (pkt.tcp_flags & (SPW_TCP_SYN | SPW_TCP_ACK | SPW_TCP_RST)) == SPW_TCP_SYN) {
		verdict = spw_throttle_syn(skb, &pkt, saddr, daddr, ds, tier);
		if (verdict >= 0)
			return verdict;
	}
	mark = ds->mark[tier & (SPW_MAX_TIERS - 1)];
	if ((mark & SPW_MARK_SET) && spw_mark_write(skb, &pkt, mark & SPW_DSCP_MASK))
		spw_throttle_count(ds->id, tier, SPW_THR_MARKED);
	return -1;
}
#endif

#endif /* SPW_THROTTLE_BPF_H */
