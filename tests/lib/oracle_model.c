// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reference model of the ingress decision (see oracle_model.h). Each step is the rule as
 * the data plane states it:
 *
 *   Ethernet, at most two 802.1Q/802.1ad tags (a third: malformed); IPv4 with ihl >= 5, a
 *   total length covering the header, the header (options included) in the frame; a non-zero
 *   fragment offset is a fragment, offset 1 of TCP a tiny fragment. IPv6 with at most six
 *   extension headers (hop-by-hop, routing, fragment, AH, destination options; a seventh: a
 *   header chain), a fragment header with a non-zero offset is a fragment. TCP with doff >= 5
 *   and its options in the frame; UDP with its 8 bytes. Every header after the IP one ends
 *   within the datagram by its length field (Ethernet padding is no header): one cut off by
 *   it in a first fragment (offset 0, more to come) makes a tiny fragment, whose ports are
 *   read when the datagram holds them. Anything else cut short is malformed, anything else IP
 *   another L4 (no service), anything else not IP.
 *
 *   A tiny fragment or a header chain to a service (by its ports, else by its destination
 *   address: the first service bound there, else the first on every address) is dropped,
 *   whatever the policy; elsewhere it passes (a fragment, a malformed packet).
 *
 *   Service by (proto, destination port), an address-bound one winning over the port's
 *   wildcard. Only new flows are decided: a bare SYN (SYN without ACK and RST) or a UDP
 *   datagram of no tracked flow. Other TCP: a pure ACK passes untouched; otherwise it belongs
 *   to its flow: FIN or RST ends it when its own SEQ is in [cli_nxt - 65535, cli_nxt], where
 *   cli_nxt, the client sequence the server expects next, starts at the SYN's SEQ + LEN and
 *   moves with client data ahead of it by 1..65535 (the oracle runs no egress, whose server
 *   acks move it too).
 *
 *   New flow: no policy -> fail open. Tier: longest CIDR rule, else a trusted source's mapped
 *   DSCP, else the default; clamped below tier_count. Exempt source -> exempt. Rank = tier *
 *   cohorts + cohort, the cohort and the host slot of an IPv6 source those of its first
 *   v6_prefix bits: admitted below max(admit, floor), or at the admit level (when not below
 *   the floor) for the partial share of hosts. A SYN of a flow already tracked is its
 *   retransmission: established. Then the tier's bucket (a token per flow), then its cap (a
 *   token given back when the cap refuses). Shed: dry run passes, the tier's action drops or
 *   rejects (TCP RST+ACK, UDP ICMP administratively prohibited); a refusal to a group
 *   (multicast or broadcast MAC, IPv4 from 224.0.0.0, IPv6 ff00::/8) is dropped instead,
 *   counted reject_failed. An IPv6 source ::ffff:a.b.c.d matches no IPv4 rule or trust.
 */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "oracle_model.h"
#include "spillway_rank.h"

int om_break_rule;

#define ETH_LEN 14
/* TCP flags, byte 13 of the header. */
#define OM_TCP_FIN 0x01
#define OM_TCP_SYN 0x02
#define OM_TCP_RST 0x04
#define OM_TCP_ACK 0x10

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int om_state_init(struct om_state *st)
{
	memset(st, 0, sizeof(*st));
	st->flows = calloc(OM_FLOW_SLOTS, sizeof(*st->flows));
	return st->flows ? 0 : -1;
}

void om_state_free(struct om_state *st)
{
	free(st->flows);
	st->flows = NULL;
}

void om_state_clear(struct om_state *st)
{
	memset(st->flows, 0, OM_FLOW_SLOTS * sizeof(*st->flows));
	st->live = 0;
	memset(st->active, 0, sizeof(st->active));
}

/* ---------------------------------------------------------------------------------- */
/* The flow table: open addressing, deleted slots kept as markers until the next clear.  */

static uint32_t key_hash(const struct spw_flow_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static struct om_flow *flow_find(struct om_state *st, const struct spw_flow_key *k)
{
	for (uint32_t i = key_hash(k), n = 0; n < OM_FLOW_SLOTS; i++, n++) {
		struct om_flow *f = &st->flows[i & (OM_FLOW_SLOTS - 1)];

		if (!f->used)
			return NULL;
		if (f->used == 1 && !memcmp(&f->key, k, sizeof(*k)))
			return f;
	}
	return NULL;
}

static void flow_add(struct om_state *st, const struct spw_flow_key *k, uint32_t svc, uint32_t tier,
		     uint32_t cli_nxt)
{
	for (uint32_t i = key_hash(k), n = 0; n < OM_FLOW_SLOTS; i++, n++) {
		struct om_flow *f = &st->flows[i & (OM_FLOW_SLOTS - 1)];

		if (f->used == 1)
			continue;
		f->key = *k;
		f->used = 1;
		f->svc = (uint16_t)svc;
		f->tier = (uint8_t)tier;
		f->cli_nxt = cli_nxt;
		st->live++;
		st->active[svc][tier]++;
		st->active[svc][SPW_ACTIVE_TOTAL]++;
		return;
	}
}

static void flow_del(struct om_state *st, struct om_flow *f)
{
	f->used = 2;
	st->live--;
	st->active[f->svc][f->tier]--;
	st->active[f->svc][SPW_ACTIVE_TOTAL]--;
}

/* ---------------------------------------------------------------------------------- */
/* Parsing                                                                             */

enum om_parse {
	P_L4,	 /* TCP or UDP, header present */
	P_OTHER, /* IP, another protocol */
	P_FRAG,	 /* a later fragment */
	P_NOT_IP,
	P_MALFORMED,
	P_TINY,	      /* a tiny fragment, whose service is its destination address's */
	P_TINY_PORTS, /* a tiny fragment with its ports: its service is theirs */
	P_CHAIN,      /* an IPv6 chain longer than the walk */
};

static bool is_vlan(uint16_t t)
{
	return t == 0x8100 || t == 0x88a8;
}

static bool is_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

static void map_v4(uint8_t *dst, const uint8_t *a4)
{
	memset(dst, 0, 10);
	dst[10] = dst[11] = 0xff;
	memcpy(dst + 12, a4, 4);
}

/*
 * A header of need bytes (to the offset need) that is not all there: cut off by the datagram's
 * end in a first fragment (the rest comes in the next one), a tiny fragment; else malformed.
 */
static enum om_parse cut_short(size_t need, size_t ip_end, bool first_frag)
{
	return ip_end && need > ip_end && first_frag ? P_TINY : P_MALFORMED;
}

/* An L4 header cut short: a tiny fragment whose datagram holds the ports has them read. */
static enum om_parse l4_short(const uint8_t *p, size_t need, size_t lim, size_t ip_end,
			      bool first_frag, struct om_facts *f)
{
	size_t l4 = f->l4_off;

	if (cut_short(need, ip_end, first_frag) != P_TINY)
		return P_MALFORMED;
	if (l4 + 4 > lim)
		return P_TINY;
	f->sport = rd16(p + l4);
	f->dport = rd16(p + l4 + 2);
	return P_TINY_PORTS;
}

static enum om_parse parse(const uint8_t *p, size_t len, struct om_facts *f, uint8_t *dscp)
{
	size_t off = ETH_LEN, ip_end = 0, l4;
	bool first_frag = false;
	uint16_t type;
	uint8_t proto;

	if (len < ETH_LEN)
		return P_MALFORMED;
	type = rd16(p + 12);
	for (int tags = 0; is_vlan(type); tags++) {
		/* Broken rule 3: a third tag parsed. */
		if (tags == SPW_MAX_VLAN_TAGS + (om_break_rule == 3) || off + 4 > len)
			return P_MALFORMED;
		type = rd16(p + off + 2);
		off += 4;
	}
	f->l3_off = (uint32_t)off;
	if (type == 0x0800) {
		const uint8_t *ip = p + off;
		size_t hl;

		if (off + 20 > len || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
			return P_MALFORMED;
		hl = (size_t)(ip[0] & 15) * 4;
		if (rd16(ip + 2) < hl || off + hl > len)
			return P_MALFORMED;
		f->is_v4 = true;
		*dscp = ip[1] >> 2;
		if (rd16(ip + 2))
			ip_end = off + rd16(ip + 2);
		proto = ip[9];
		if (ip_end && ip_end < len)
			len = ip_end; /* Ethernet padding is not a header */
		map_v4(f->saddr, ip + 12);
		map_v4(f->daddr, ip + 16);
		/* Offset 1 (in 8-byte units) can only rewrite a first fragment's TCP flags. */
		if ((rd16(ip + 6) & 0x1fff) == 1 && proto == IPPROTO_TCP)
			return P_TINY;
		if (rd16(ip + 6) & 0x1fff)
			return P_FRAG;
		first_frag = rd16(ip + 6) & 0x2000;
		l4 = off + hl;
	} else if (type == 0x86dd) {
		const uint8_t *ip = p + off;
		size_t at = off + 40;
		int n;

		if (off + 40 > len || ip[0] >> 4 != 6)
			return P_MALFORMED;
		f->is_v4 = false;
		*dscp = (uint8_t)((rd16(ip) >> 4) & 0xff) >> 2;
		if (rd16(ip + 4))
			ip_end = off + 40 + rd16(ip + 4);
		if (ip_end && ip_end < len)
			len = ip_end;
		memcpy(f->saddr, ip + 8, 16);
		memcpy(f->daddr, ip + 24, 16);
		proto = ip[6];
		for (n = 0; is_ext(proto); n++) {
			size_t elen;

			if (n == SPW_MAX_IPV6_EXT)
				return P_CHAIN;
			if (at + 8 > len)
				return cut_short(at + 8, ip_end, first_frag);
			if (proto == 44) {
				if (rd16(p + at + 2) & 0xfff8)
					return P_FRAG;
				first_frag = p[at + 3] & 1;
				elen = 8;
			} else if (proto == 51) {
				elen = ((size_t)p[at + 1] + 2) * 4;
			} else {
				elen = ((size_t)p[at + 1] + 1) * 8;
			}
			if (at + elen > len)
				return cut_short(at + elen, ip_end, first_frag);
			proto = p[at];
			at += elen;
		}
		l4 = at;
	} else {
		return P_NOT_IP;
	}
	f->proto = proto;
	f->l4_off = (uint32_t)l4;
	if (proto == IPPROTO_TCP) {
		size_t doff, end;

		if (l4 + 20 > len)
			return l4_short(p, l4 + 20, len, ip_end, first_frag, f);
		if (p[l4 + 12] >> 4 < 5)
			return P_MALFORMED;
		doff = (size_t)(p[l4 + 12] >> 4) * 4;
		if (l4 + doff > len)
			return l4_short(p, l4 + doff, len, ip_end, first_frag, f);
		f->sport = rd16(p + l4);
		f->dport = rd16(p + l4 + 2);
		f->seq = rd32(p + l4 + 4);
		f->tcp_flags = p[l4 + 13];
		end = ip_end ? ip_end : len;
		f->payload_len = end > l4 + doff ? (uint32_t)(end - l4 - doff) : 0;
		return P_L4;
	}
	if (proto == IPPROTO_UDP) {
		if (l4 + 8 > len)
			return l4_short(p, l4 + 8, len, ip_end, first_frag, f);
		f->sport = rd16(p + l4);
		f->dport = rd16(p + l4 + 2);
		return P_L4;
	}
	return P_OTHER;
}

/* ---------------------------------------------------------------------------------- */
/* Classifying                                                                         */

static bool prefix_covers(const struct om_prefix *r, const uint8_t *a)
{
	unsigned int full = r->len / 8, rest = r->len % 8;

	if (memcmp(r->addr, a, full))
		return false;
	return !rest || ((r->addr[full] ^ a[full]) & (0xff00 >> rest)) == 0;
}

/* The longest prefix of list covering a, NULL when none does. */
static const struct om_prefix *longest(const struct om_prefix *list, int n, const uint8_t *a)
{
	const struct om_prefix *best = NULL;

	for (int i = 0; i < n; i++)
		if (prefix_covers(&list[i], a) && (!best || list[i].len > best->len))
			best = &list[i];
	return best;
}

static uint32_t service_of(const struct om_config *c, const struct om_facts *f)
{
	uint32_t wild = SPW_SVC_NONE;

	for (int i = 0; i < c->nsvcs; i++) {
		const struct om_service *s = &c->svcs[i];

		if (s->proto != f->proto || s->port != f->dport)
			continue;
		if (!s->bound)
			wild = s->id;
		else if (!memcmp(s->addr, f->daddr, SPW_ADDR_LEN))
			return s->id;
	}
	return wild;
}

/*
 * Service of a packet whose ports cannot be read, by its destination address: the first
 * service bound to it (any protocol, any port), else the first one on every address.
 */
static uint32_t service_at(const struct om_config *c, const struct om_facts *f)
{
	for (int i = 0; i < c->nsvcs; i++)
		if (c->svcs[i].bound && !memcmp(c->svcs[i].addr, f->daddr, SPW_ADDR_LEN))
			return c->svcs[i].id;
	for (int i = 0; i < c->nsvcs; i++)
		if (!c->svcs[i].bound)
			return c->svcs[i].id;
	return SPW_SVC_NONE;
}

static bool is_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, prefix, sizeof(prefix));
}

static uint32_t tier_of(const struct om_config *c, const struct spw_policy *pol,
			const struct om_facts *f, uint8_t dscp)
{
	/* An IPv6 packet from ::ffff:a.b.c.d is not the IPv4 client a.b.c.d: no rule, no trust. */
	bool mapped = !f->is_v4 && is_mapped(f->saddr);
	const struct om_prefix *rule = mapped ? NULL : longest(c->rules, c->nrules, f->saddr);
	uint32_t tier = pol->default_tier;
	uint32_t count = pol->tier_count;

	if (rule)
		tier = rule->tier;
	else if (!mapped && c->dscp_tier[dscp] != SPW_DSCP_UNMAPPED &&
		 longest(c->trusted, c->ntrusted, f->saddr))
		tier = c->dscp_tier[dscp];
	if (count == 0 || count > SPW_MAX_TIERS)
		count = SPW_MAX_TIERS;
	return tier < count ? tier : count - 1;
}

static bool exempt(const struct om_config *c, const struct om_facts *f)
{
	for (int i = 0; i < c->nexempt; i++)
		if (c->exempt[i].is_v4 == f->is_v4 && prefix_covers(&c->exempt[i], f->saddr))
			return true;
	return false;
}

/*
 * The part of a source its cohort and host slot stand for: an IPv6 source by its first
 * v6_prefix bits (48, 56 or 64), every bit after them zeroed, so the /64 hash of the result is
 * the prefix's. The interface identifier goes too: ::20:0:ffff:a00:406 masked to /48 keeping
 * it would read as the IPv4 source 10.0.4.6. An IPv4-mapped source is kept whole.
 */
static void cohort_source(const uint8_t *saddr, uint32_t v6_prefix, uint8_t *out)
{
	memcpy(out, saddr, SPW_ADDR_LEN);
	if (spw_addr_is_v4(saddr))
		return;
	memset(out + 8, 0, 8);
	if (v6_prefix < 64)
		memset(out + v6_prefix / 8, 0, 8 - v6_prefix / 8);
}

/* Whether the level admits a flow of this rank from this cohort source (cohort_source). */
static bool level_admits(const struct spw_policy *pol, uint32_t rank, const uint8_t *src,
			 uint32_t salt)
{
	uint32_t admit = pol->admit_level, floor = pol->floor_level;
	uint32_t level = admit > floor ? admit : floor;

	if (rank < level)
		return true;
	if (om_break_rule == 1)
		return false; /* broken: no partial share at the admit level */
	/* Part of the rank at the admit level; the floor protects whole cohorts only. */
	return rank == level && admit >= floor && spw_host_slot(src, salt, 64) < pol->partial;
}

/* ---------------------------------------------------------------------------------- */
/* Deciding                                                                            */

static void key_of(const struct om_facts *f, struct spw_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->saddr, f->saddr, SPW_ADDR_LEN);
	memcpy(k->daddr, f->daddr, SPW_ADDR_LEN);
	k->sport = htons(f->sport);
	k->dport = htons(f->dport);
	k->proto = f->proto;
}

static void count(struct om_result *r, uint32_t svc, uint32_t tier, uint32_t reason,
		  enum om_verdict v)
{
	r->svc = svc;
	r->tier_slot = tier;
	r->reason = reason;
	r->verdict = v;
}

/* SEQ + LEN of a TCP segment: what acks it all, the SYN and the FIN counting one each. */
static uint32_t seq_end(const struct om_facts *f)
{
	return f->seq + f->payload_len + !!(f->tcp_flags & OM_TCP_SYN) +
	       !!(f->tcp_flags & OM_TCP_FIN);
}

/* A refusal to a group (multicast or broadcast frame, multicast or broadcast IP) is not sent. */
static bool to_group(const uint8_t *frame, const struct om_facts *f)
{
	if (frame[0] & 1)
		return true;
	return f->is_v4 ? f->daddr[12] >= 224 : f->daddr[0] == 0xff;
}

static void new_flow(const struct om_config *c, struct om_state *st, struct om_result *r,
		     uint32_t svc, uint8_t dscp, const struct spw_flow_key *k, const uint8_t *frame)
{
	const struct spw_policy *pol = &c->pol[svc];
	struct om_flow *known;
	uint32_t tier, rank, reason = SPW_REASON_ADMITTED;
	uint8_t src[SPW_ADDR_LEN];

	if (!c->has_policy[svc]) {
		count(r, svc, SPW_TIER_NONE, SPW_REASON_FAIL_OPEN, OM_PASS);
		return;
	}
	tier = tier_of(c, pol, &r->f, dscp);
	if (exempt(c, &r->f)) {
		count(r, svc, tier, SPW_REASON_EXEMPT, OM_PASS);
		return;
	}
	/* The oracle's leases never expire: no fail-open by lease here. */
	cohort_source(r->f.saddr, c->v6_prefix, src);
	rank = tier * SPW_COHORTS + spw_cohort(src, c->salt, 64);
	if (!level_admits(pol, rank, src, c->salt))
		reason = SPW_REASON_SHED_LEVEL;
	known = r->f.proto == IPPROTO_TCP ? flow_find(st, k) : NULL;
	if (known) {
		/* A retransmitted SYN of an admitted flow, whatever the level says now. */
		count(r, svc, known->tier, SPW_REASON_ESTABLISHED, OM_PASS);
		return;
	}
	r->ranked = true;
	r->rank = rank;
	r->rank_passed = reason == SPW_REASON_ADMITTED || (pol->flags & SPW_POLICY_DRY_RUN);
	if (reason == SPW_REASON_ADMITTED && pol->rate_per_sec[tier]) {
		r->bucket_used = true;
		if (st->units[svc][tier] >= SPW_BUCKET_UNIT)
			st->units[svc][tier] -= SPW_BUCKET_UNIT;
		else
			reason = SPW_REASON_SHED_RATE;
	}
	if (reason == SPW_REASON_ADMITTED) {
		uint32_t cap = pol->max_conns[tier];

		/* Broken rule 2: one flow past the cap. */
		if (cap && st->active[svc][tier] >= cap + (om_break_rule == 2)) {
			reason = SPW_REASON_SHED_CAP;
			if (pol->rate_per_sec[tier]) {
				uint64_t depth =
				    (uint64_t)(pol->burst[tier] ? pol->burst[tier]
								: pol->rate_per_sec[tier]) *
				    SPW_BUCKET_UNIT;
				uint64_t u = st->units[svc][tier] + SPW_BUCKET_UNIT;

				st->units[svc][tier] = u < depth ? u : depth;
			}
		} else if ((pol->flags & SPW_POLICY_RESERVE) &&
			   st->active[svc][SPW_ACTIVE_TOTAL] >= pol->admit_below[tier]) {
			reason = SPW_REASON_SHED_RESERVE;
		} else {
			flow_add(st, k, svc, tier, seq_end(&r->f));
		}
	}
	if (reason == SPW_REASON_ADMITTED)
		count(r, svc, tier, reason, OM_PASS);
	else if (pol->flags & SPW_POLICY_DRY_RUN)
		count(r, svc, tier, SPW_REASON_WOULD_SHED, OM_PASS);
	else if (pol->action[tier] == SPW_ACTION_REJECT && to_group(frame, &r->f))
		count(r, svc, tier, SPW_REASON_REJECT_FAILED, OM_DROP);
	else if (pol->action[tier] == SPW_ACTION_REJECT)
		count(r, svc, tier, reason, OM_BOUNCE);
	else
		count(r, svc, tier, reason, OM_DROP);
}

/*
 * A packet the filter cannot read whole (a tiny fragment, an IPv6 chain past the walk): to a
 * service (by its ports when read, else its destination address) dropped whatever the policy;
 * elsewhere passed, a tiny fragment as a fragment, a chain as malformed.
 */
static void unreadable(const struct om_config *c, struct om_result *r, enum om_parse kind)
{
	uint32_t svc = kind == P_TINY_PORTS ? service_of(c, &r->f) : service_at(c, &r->f);
	bool tiny = kind != P_CHAIN;

	if (svc == SPW_SVC_NONE || svc >= SPW_MAX_SERVICES)
		count(r, SPW_SVC_NONE, SPW_TIER_NONE,
		      tiny ? SPW_REASON_FRAGMENT : SPW_REASON_MALFORMED, OM_PASS);
	else
		count(r, svc, SPW_TIER_NONE,
		      tiny ? SPW_REASON_TINY_FRAGMENT : SPW_REASON_HEADER_CHAIN, OM_DROP);
}

void om_decide(const struct om_config *c, struct om_state *st, const uint8_t *frame, size_t len,
	       struct om_result *r)
{
	struct spw_flow_key k;
	struct om_flow *fl;
	uint8_t dscp = 0, fl_bits;
	enum om_parse kind;
	uint32_t svc;

	memset(r, 0, sizeof(*r));
	kind = parse(frame, len, &r->f, &dscp);
	switch (kind) {
	case P_L4:
		break;
	case P_OTHER:
		count(r, SPW_SVC_NONE, SPW_TIER_NONE, SPW_REASON_NOT_SERVICE, OM_PASS);
		return;
	case P_FRAG:
		count(r, SPW_SVC_NONE, SPW_TIER_NONE, SPW_REASON_FRAGMENT, OM_PASS);
		return;
	case P_NOT_IP:
		count(r, SPW_SVC_NONE, SPW_TIER_NONE, SPW_REASON_NOT_IP, OM_PASS);
		return;
	case P_TINY:
	case P_TINY_PORTS:
	case P_CHAIN:
		unreadable(c, r, kind);
		return;
	default:
		count(r, SPW_SVC_NONE, SPW_TIER_NONE, SPW_REASON_MALFORMED, OM_PASS);
		return;
	}
	svc = service_of(c, &r->f);
	if (svc == SPW_SVC_NONE || svc >= SPW_MAX_SERVICES) {
		count(r, SPW_SVC_NONE, SPW_TIER_NONE, SPW_REASON_NOT_SERVICE, OM_PASS);
		return;
	}
	key_of(&r->f, &k);
	if (r->f.proto == IPPROTO_UDP) {
		fl = flow_find(st, &k);
		if (fl)
			count(r, svc, fl->tier, SPW_REASON_ESTABLISHED, OM_PASS);
		else
			new_flow(c, st, r, svc, dscp, &k, frame);
		return;
	}
	fl_bits = r->f.tcp_flags;
	if ((fl_bits & (OM_TCP_SYN | OM_TCP_ACK | OM_TCP_RST)) == OM_TCP_SYN) {
		new_flow(c, st, r, svc, dscp, &k, frame);
		return;
	}
	/* Not a new flow. A pure ACK (no SYN, FIN, RST, no payload) is not even looked up. */
	if (!(fl_bits & (OM_TCP_SYN | OM_TCP_FIN | OM_TCP_RST)) && !r->f.payload_len) {
		count(r, svc, SPW_TIER_NONE, SPW_REASON_ESTABLISHED, OM_PASS);
		return;
	}
	fl = flow_find(st, &k);
	if (!fl) {
		count(r, svc, SPW_TIER_NONE, SPW_REASON_ESTABLISHED, OM_PASS);
		return;
	}
	count(r, svc, fl->tier, SPW_REASON_ESTABLISHED, OM_PASS);
	if (fl_bits & (OM_TCP_FIN | OM_TCP_RST)) {
		/* The segment's own SEQ (its end less data and FIN): near cli_nxt or ignored. */
		uint32_t seq = seq_end(&r->f) - r->f.payload_len - !!(fl_bits & OM_TCP_FIN);

		if (fl->cli_nxt - seq <= SPW_TCP_END_WINDOW)
			flow_del(st, fl);
	} else if (r->f.payload_len) {
		/* Client data moves cli_nxt forward, by at most the window. */
		uint32_t ahead = seq_end(&r->f) - fl->cli_nxt;

		if (ahead && ahead <= SPW_TCP_END_WINDOW)
			fl->cli_nxt = seq_end(&r->f);
	}
}
