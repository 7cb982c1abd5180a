/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flow tracking: the table of admitted flows, exact active counts per (service, tier), the
 * concurrency caps, requests in flight and their ages, response latency, and the flood guard
 * on inserts.
 *
 * Every increment of an active count is paired with exactly one decrement: the count goes up
 * when an entry is inserted, and down by whoever's delete of that entry succeeds (a FIN or RST
 * here, the idle sweep in user space); a delete that finds nothing decrements nothing. A flow
 * is counted twice, in its tier's slot and in the service's total (SPW_ACTIVE_TOTAL).
 */
#ifndef SPW_FLOW_BPF_H
#define SPW_FLOW_BPF_H

#include <linux/errno.h>
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "guard.bpf.h"
#include "spillway_latency.h"
#include "recent.bpf.h"
#include "clock.bpf.h"

/* Load-time knob: track TCP flows (counts, caps, latency). UDP flows are always tracked. */
const volatile __u8 spw_track_tcp = 1;

static __always_inline __u32 spw_us(__u64 now_ns)
{
	__u32 us = now_ns / 1000;

	return us ? us : 1; /* 0 means "no request pending" in req_us */
}

static __always_inline void spw_flow_key_of(const struct spw_pkt *pkt, const __u8 *saddr,
					    const __u8 *daddr, struct spw_flow_key *key)
{
	__builtin_memcpy(key->saddr, saddr, SPW_ADDR_LEN);
	__builtin_memcpy(key->daddr, daddr, SPW_ADDR_LEN);
	key->sport = pkt->sport;
	key->dport = pkt->dport;
	key->proto = pkt->proto;
	key->pad[0] = key->pad[1] = key->pad[2] = 0;
}

static __always_inline __u64 *spw_active_of(__u32 svc, __u32 tier)
{
	__u32 idx = spw_active_index(svc, tier);

	return bpf_map_lookup_elem(&spw_active, &idx);
}

/* The flood guard: a per-CPU budget of inserts, so spoofed SYNs cannot fill the table fast. */
static __always_inline int spw_guard_take(__u64 now)
{
	__u32 zero = 0;
	struct spw_globals *g = bpf_map_lookup_elem(&spw_globals, &zero);

	if (!g || !g->insert_rate)
		return 1;
	return spw_pcpu_take(&spw_guard, g->insert_rate, g->insert_burst, now);
}

/* Gives back the places spw_flow_open() took: the tier's and the service total's. */
static __always_inline void spw_active_put(__u64 *active, __u64 *total)
{
	__sync_fetch_and_add(active, -1);
	__sync_fetch_and_add(total, -1);
}

/*
 * Requests in flight: a flow's request is outstanding while req_us holds its stamp. The count
 * of its (service, tier) and its start-time slot move with req_us's own transitions, each
 * taken by an atomic exchange on the entry, so a CPU seeing the client's data and another
 * sending the response (or closing) cannot both count one request.
 */
/*
 * Not inlined: its keys would sit in the ingress program's own frame, which with
 * spw_reject()'s must stay within the verifier's 512 bytes (it had 0 to spare).
 */
static __noinline void spw_inflight_add(__u32 svc, __u32 tier, __u32 req_us, int delta)
{
	__u32 idx = spw_active_index(svc, tier & (SPW_MAX_TIERS - 1));
	__u32 aidx = spw_req_age_index(svc, req_us);
	__u64 *n, *age;

	if (svc >= SPW_MAX_SERVICES)
		return;
	n = bpf_map_lookup_elem(&spw_inflight, &idx);
	if (n)
		__sync_fetch_and_add(n, delta);
	age = bpf_map_lookup_elem(&spw_req_ages, &aidx);
	if (age)
		__sync_fetch_and_add(age, delta);
}

/*
 * Whether the service's requests in flight, all tiers summed, reach bound. Not inlined, for
 * the frame as spw_inflight_add(); only a flow whose tier has a bound pays its lookups.
 */
static __noinline int spw_inflight_reaches(__u32 svc, __u32 tiers, __u32 bound)
{
	__u64 sum = 0, *n;
	__u32 t, idx;

	if (svc >= SPW_MAX_SERVICES)
		return 0;
	for (t = 0; t < SPW_MAX_TIERS; t++) {
		if (t >= tiers)
			break;
		idx = spw_active_index(svc, t);
		n = bpf_map_lookup_elem(&spw_inflight, &idx);
		if (n)
			sum += *n;
	}
	return sum >= bound;
}

/*
 * A request's first byte: counted only by the CPU whose exchange found none pending. Counted
 * before the stamp is published, so the CPU that ends it (which needs the stamp) always takes
 * away after the add: the counts never dip below zero, even for a moment. The rare loser of
 * the exchange (the same flow's data on two CPUs at once) gives its add back.
 */
static __always_inline void spw_request_start(struct spw_flow *f, __u32 now_us)
{
	spw_inflight_add(f->svc_id, f->tier, now_us, 1);
	if (__sync_val_compare_and_swap(&f->req_us, 0, now_us))
		spw_inflight_add(f->svc_id, f->tier, now_us, -1);
}

/* The request is answered or gone: returns its stamp (0: none was pending, nothing taken). */
static __always_inline __u32 spw_request_end(struct spw_flow *f)
{
	__u32 req_us = __sync_lock_test_and_set(&f->req_us, 0);

	if (req_us)
		spw_inflight_add(f->svc_id, f->tier, req_us, -1);
	return req_us;
}

/*
 * Opens a flow of an admitted client: takes a place under the tier's cap and one in the
 * service's total outside the reserve of the tiers above (its connections, and its requests
 * in flight), then inserts. Returns ADMITTED,
 * SHED_CAP or SHED_RESERVE (shed it), or FLOOD_GUARD / TABLE_FULL (admitted untracked).
 * A flow that cannot be tracked (the service's share of the table held, the table full, the
 * flood guard's budget spent) is shed when its tier has a cap: an uncounted flow would pass
 * the cap, and a cap is what a connection-limited server relies on.
 * A UDP flow's first datagram is its first request: the entry is inserted with it pending.
 */
static __always_inline __u32 spw_flow_open(const struct spw_flow_key *key, __u32 svc, __u32 tier,
					   __u32 cohort, __u8 state, const struct spw_policy *pol,
					   __u64 now, __u32 cli_nxt)
{
	__u32 cap = pol->max_conns[tier & (SPW_MAX_TIERS - 1)];
	__u32 below = pol->admit_below[tier & (SPW_MAX_TIERS - 1)];
	__u64 *active = spw_active_of(svc, tier), *total = spw_active_of(svc, SPW_ACTIVE_TOTAL);
	struct spw_flow flow = {
	    .last_us = spw_us(now),
	    .svc_id = svc,
	    .tier = tier,
	    .cohort = cohort,
	    .state = state,
	    .mark = pol->mark_egress[tier & (SPW_MAX_TIERS - 1)],
	    .cli_nxt = cli_nxt,
	};
	__u64 before, in_service;
	long err;

	if (!active || !total)
		return SPW_REASON_ADMITTED;
	/* Take the places first, then check: two CPUs can never both take the last one. */
	before = __sync_fetch_and_add(active, 1);
	in_service = __sync_fetch_and_add(total, 1);
	if (cap && before >= cap) {
		spw_active_put(active, total);
		return SPW_REASON_SHED_CAP;
	}
	if ((pol->flags & SPW_POLICY_RESERVE) && in_service >= below) {
		spw_active_put(active, total);
		return SPW_REASON_SHED_RESERVE;
	}
	if (pol->inflight_below[tier & (SPW_MAX_TIERS - 1)] &&
	    spw_inflight_reaches(svc, pol->tier_count,
				 pol->inflight_below[tier & (SPW_MAX_TIERS - 1)])) {
		spw_active_put(active, total);
		return SPW_REASON_SHED_RESERVE;
	}
	if (pol->max_tracked && in_service >= pol->max_tracked) {
		spw_active_put(active, total);
		return cap ? SPW_REASON_SHED_CAP : SPW_REASON_TABLE_FULL;
	}
	if (!spw_guard_take(now)) {
		spw_active_put(active, total);
		return cap ? SPW_REASON_SHED_CAP : SPW_REASON_FLOOD_GUARD;
	}
	/* Counted in flight before the entry holding the stamp is published, as
	 * spw_request_start() does, and given back if the insert fails. */
	if (state == SPW_FLOW_UDP) {
		flow.req_us = flow.last_us;
		spw_inflight_add(svc, tier, flow.req_us, 1);
	}
	/* Marked before the insert: a retransmission on another CPU that finds the entry
	 * finds the mark too, and an insert that fails leaves a false hit, never a miss. */
	if (state == SPW_FLOW_SYN_SEEN)
		spw_recent_mark(key);
	err = bpf_map_update_elem(&spw_flows, key, &flow, BPF_NOEXIST);
	if (err) {
		if (flow.req_us)
			spw_inflight_add(svc, tier, flow.req_us, -1);
		spw_active_put(active, total);
		/* -EEXIST: another CPU opened the same flow a moment earlier: it is tracked. */
		if (err == -EEXIST)
			return SPW_REASON_ADMITTED;
		return cap ? SPW_REASON_SHED_CAP : SPW_REASON_TABLE_FULL;
	}
	return SPW_REASON_ADMITTED;
}

/* Ends a flow; only the delete that removed the entry gives its place back. */
static __always_inline void spw_flow_close(const struct spw_flow_key *key, struct spw_flow *f)
{
	/* Copied first: a deleted element of a preallocated table can be reused at once. */
	__u32 svc = f->svc_id, tier = f->tier;
	__u64 *active, *total;

	/* Before the delete, for the same reason: after it the entry may be another flow's. A
	 * closing flow's request is not answered: it leaves the in-flight count unmeasured. A
	 * request another CPU starts between this and the delete (the client's data racing the
	 * flow's end on two CPUs) would stay counted: the window is a few instructions. */
	if (f->req_us)
		spw_request_end(f);
	if (bpf_map_delete_elem(&spw_flows, key))
		return;
	active = spw_active_of(svc, tier);
	total = spw_active_of(svc, SPW_ACTIVE_TOTAL);
	if (active && total)
		spw_active_put(active, total);
}

/* Refreshes last_us for the idle sweep, writing at most once per SPW_FLOW_TOUCH_US. */
static __always_inline void spw_flow_touch(struct spw_flow *f, __u32 now_us)
{
	/* Signed: a coarse-clock stamp may be ticks behind a precise one already stored, and
	 * an unsigned difference would then wrap and rewrite the entry on every packet. */
	if ((__s32)(now_us - f->last_us) >= (__s32)SPW_FLOW_TOUCH_US)
		f->last_us = now_us;
}

static __always_inline void spw_latency_record(__u32 svc, __u32 tier, __u32 us)
{
	__u32 bucket = spw_latency_bucket(us);
	__u32 idx = spw_latency_index(svc, tier & (SPW_MAX_TIERS - 1), bucket);
	__u32 sidx = spw_latency_svc_index(svc, bucket);
	__u64 *slot;

	if (svc >= SPW_MAX_SERVICES)
		return;
	slot = bpf_map_lookup_elem(&spw_latency, &idx);
	if (slot)
		*slot += 1;
	slot = bpf_map_lookup_elem(&spw_lat_svc, &sidx);
	if (slot)
		__sync_fetch_and_add(slot, 1);
}

/*
 * A client's request data on a tracked flow (TCP data, any UDP datagram): starts a request
 * unless one is pending. Returns the time to stamp the flow's activity with. The precise
 * clock only where a latency sample starts; the idle stamp needs no more than the cached
 * coarse one (clock.bpf.h: a load).
 */
static __always_inline __u32 spw_flow_request_data(struct spw_flow *f)
{
	__u32 now_us;

	if (!f->req_us) {
		now_us = spw_us(bpf_ktime_get_ns());
		spw_request_start(f, now_us);
	} else {
		now_us = spw_us(spw_coarse_ns());
	}
	return now_us;
}

/* The server's first data after a request: its response, one latency sample. */
static __always_inline void spw_flow_response(struct spw_flow *f, __u32 now_us)
{
	__u32 req_us = spw_request_end(f);

	/* 0: another CPU ended it between the caller's test and the exchange (a close). */
	if (req_us)
		spw_latency_record(f->svc_id, f->tier, now_us - req_us);
}

/* A TCP packet with nothing for the tracker: no SYN/FIN/RST and no payload (a pure ACK). */
static __always_inline int spw_tcp_is_pure_ack(const struct spw_pkt *pkt)
{
	return !(pkt->tcp_flags & (SPW_TCP_SYN | SPW_TCP_FIN | SPW_TCP_RST)) && !pkt->payload_len;
}

/*
 * Moves the client's next expected sequence forward to nxt, when nxt is ahead of it by at
 * most SPW_TCP_END_WINDOW: a spoofed segment far ahead must not drag the window to where its
 * own RST would then fall.
 */
static __always_inline void spw_flow_client_upto(struct spw_flow *f, __u32 nxt)
{
	__u32 ahead = nxt - f->cli_nxt;

	if (ahead && ahead <= SPW_TCP_END_WINDOW)
		f->cli_nxt = nxt;
}

/*
 * A client packet (ingress) of a TCP flow, other than a SYN and a pure ACK: FIN or RST ends
 * the flow when its sequence is in [cli_nxt - SPW_TCP_END_WINDOW, cli_nxt] (one outside is
 * ignored by the kernel, so the connection lives on and keeps its place); data starts a
 * latency measurement unless a request is already pending. Returns the flow's tier,
 * SPW_TIER_NONE when the flow is not tracked.
 */
static __always_inline __u32 spw_flow_from_client(const struct spw_pkt *pkt,
						  const struct spw_flow_key *key)
{
	struct spw_flow *f = bpf_map_lookup_elem(&spw_flows, key);
	__u32 tier, now_us;

	if (!f)
		return SPW_TIER_NONE;
	tier = f->tier & (SPW_MAX_TIERS - 1);
	if (pkt->tcp_flags & (SPW_TCP_FIN | SPW_TCP_RST)) {
		/* The segment's own SEQ: its end less the data and the FIN (no SYN comes here). */
		__u32 seq = pkt->tcp_seq_end - pkt->payload_len - (pkt->tcp_flags & SPW_TCP_FIN);

		if (f->cli_nxt - seq <= SPW_TCP_END_WINDOW)
			spw_flow_close(key, f);
		return tier;
	}
	if (!pkt->payload_len)
		return tier;
	spw_flow_client_upto(f, pkt->tcp_seq_end);
	now_us = spw_flow_request_data(f);
	if (f->state == SPW_FLOW_SYN_SEEN) {
		/* The client's data: the handshake completed (see spw_flow_from_server). */
		f->state = SPW_FLOW_ESTABLISHED;
		f->last_us = now_us;
	}
	spw_flow_touch(f, now_us);
	return tier;
}

/* What the egress lookup of a flow tells the marker (mark 0: not a tracked flow). */
struct spw_flow_seen {
	__u32 svc;
	__u32 tier;
	__u8 mark;
};

/*
 * A server packet (TC egress) of a TCP flow, other than a pure ACK: FIN or RST ends it, the
 * first data after a request is the response (latency sample). A flow is established by the
 * first data of either side, not by the SYN-ACK: the server answers every SYN (SYN cookies
 * included), so spoofed and abandoned handshakes would otherwise hold their places under the
 * caps and the reservation for the idle timeout instead of expiring on syn_timeout. The
 * SYN-ACK does not restamp a SYN_SEEN flow either: retransmitted ones would keep it alive.
 * The client's handshake ACK would be the exact moment, but pure ACKs are never looked up
 * (most of a flow's packets): a connection that never sends data either way expires at
 * syn_timeout, and its later packets pass untracked, never refused.
 */
static __always_inline void spw_flow_from_server(const struct spw_pkt *pkt,
						 const struct spw_flow_key *key,
						 struct spw_flow_seen *seen)
{
	struct spw_flow *f = bpf_map_lookup_elem(&spw_flows, key);
	__u32 now_us;

	if (!f)
		return;
	/* Copied before a close: a deleted element of a preallocated table can be reused. */
	seen->mark = f->mark;
	seen->svc = f->svc_id;
	seen->tier = f->tier & (SPW_MAX_TIERS - 1);
	/* The server's own end is the truth: no window to check. */
	if (pkt->tcp_flags & (SPW_TCP_FIN | SPW_TCP_RST)) {
		spw_flow_close(key, f);
		return;
	}
	/* Its ack is exactly the client byte it expects next: the window follows it. */
	if (pkt->tcp_ack && (__s32)(pkt->tcp_ack - f->cli_nxt) > 0)
		f->cli_nxt = pkt->tcp_ack;
	if (f->state == SPW_FLOW_SYN_SEEN && !pkt->payload_len)
		return;
	now_us = spw_us(bpf_ktime_get_ns());
	if (f->state == SPW_FLOW_SYN_SEEN) {
		f->state = SPW_FLOW_ESTABLISHED;
		f->last_us = now_us;
	}
	if (pkt->payload_len && f->req_us)
		spw_flow_response(f, now_us);
	spw_flow_touch(f, now_us);
}

/*
 * A server datagram (TC egress) of a UDP flow: the first one after a client's request is its
 * response (latency sample); the client's next datagram starts the next request. A UDP flow
 * has no handshake and no end: it expires by the idle sweep, which also takes a request still
 * outstanding then out of the in-flight count. The marks are written on TCP flows only.
 */
static __always_inline void spw_udp_from_server(const struct spw_flow_key *key)
{
	struct spw_flow *f = bpf_map_lookup_elem(&spw_flows, key);
	__u32 now_us;

	if (!f)
		return;
	/* As at ingress: the precise clock only where a sample is taken. */
	if (f->req_us) {
		now_us = spw_us(bpf_ktime_get_ns());
		spw_flow_response(f, now_us);
	} else {
		now_us = spw_us(spw_coarse_ns());
	}
	spw_flow_touch(f, now_us);
}

#endif /* SPW_FLOW_BPF_H */
