/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A reference model of the data plane's ingress decision, in plain C: what the XDP and TC
 * ingress programs must answer for a frame (pass, drop, or a refusal sent back), which counter
 * (service, tier slot, reason) they must bump, and how the flow table, the active counts and
 * the tier's token bucket move. Written from the rules the data plane states (parse, classify,
 * decide), not from bpf/: the packet oracle (tests/bpf/test_oracle.c) runs both on the same
 * frames and any difference is a finding in one of them.
 *
 * Clock-free by design: the oracle gives policies a lease far in the future, turns the flood
 * guard and the ICMP reject limit off, and states the token bucket's contents before every packet
 * (with a refill time in the future, so no time elapses for it), so every decision is a function of
 * the frame and the state. The table never fills (the oracle's client and port pools are small);
 * idle expiry is not modelled (the oracle clears the table itself now and then).
 *
 * The cohort and host-slot hashes are the data plane's definition (spillway_rank.h, shared
 * with the CLI's `explain`): a hash is a given, not a rule to model.
 */
#ifndef SPW_ORACLE_MODEL_H
#define SPW_ORACLE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spillway_abi.h"

#define OM_MAX_SVCS   8
#define OM_MAX_PREFIX 16
/* Flow slots of the model's table: far more than the oracle's key pools can fill. */
#define OM_FLOW_SLOTS (1u << 17)

enum om_verdict {
	OM_PASS,
	OM_DROP,
	OM_BOUNCE, /* rewritten into a refusal and sent back */
};

struct om_service {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	bool bound; /* only traffic to addr */
	uint8_t addr[SPW_ADDR_LEN];
	uint32_t id;
};

/* A prefix over the 16-byte form (IPv4 mapped: an IPv4 /n is 96 + n). */
struct om_prefix {
	uint8_t addr[SPW_ADDR_LEN];
	uint8_t len;
	uint8_t tier; /* rules only */
	bool is_v4;   /* exempt only: the packet's family must match */
};

struct om_config {
	struct om_service svcs[OM_MAX_SVCS];
	int nsvcs;
	struct om_prefix rules[OM_MAX_PREFIX], trusted[OM_MAX_PREFIX], exempt[OM_MAX_PREFIX];
	int nrules, ntrusted, nexempt;
	uint8_t dscp_tier[64]; /* SPW_DSCP_UNMAPPED: none */
	uint32_t salt;
	uint32_t v6_prefix; /* IPv6 bits of a source its cohort and host slot hash */
	bool has_policy[SPW_MAX_SERVICES];
	struct spw_policy pol[SPW_MAX_SERVICES];
};

struct om_flow {
	struct spw_flow_key key;
	uint8_t used; /* 0 empty, 1 live, 2 deleted (the probe goes on past it) */
	uint8_t tier;
	uint16_t svc;
	uint32_t cli_nxt; /* TCP: the client sequence the server expects next */
};

struct om_state {
	struct om_flow *flows; /* OM_FLOW_SLOTS */
	uint32_t live;
	uint64_t active[SPW_MAX_SERVICES][SPW_TIER_SLOTS]; /* slot SPW_ACTIVE_TOTAL: the total */
	uint64_t units[SPW_MAX_SERVICES][SPW_MAX_TIERS];   /* the buckets, as the oracle set them */
};

/* What the frame is, as far as a reply needs it (filled when it parsed as TCP or UDP). */
struct om_facts {
	uint32_t l3_off, l4_off;
	bool is_v4;
	uint8_t proto;
	uint8_t saddr[SPW_ADDR_LEN], daddr[SPW_ADDR_LEN]; /* 16-byte forms */
	uint16_t sport, dport;				  /* host order */
	uint32_t seq;
	uint8_t tcp_flags;
	uint32_t payload_len; /* TCP payload by the IP length (frame length when it is 0) */
};

struct om_result {
	enum om_verdict verdict;
	uint32_t svc, tier_slot, reason; /* the one counter the packet moves */
	bool bucket_used;		 /* the (svc, tier) bucket was consulted */
	/* A new flow the level decided on: its rank, and whether it passed (spw_rank_counts). */
	bool ranked, rank_passed;
	uint32_t rank;
	struct om_facts f;
};

int om_state_init(struct om_state *st);
void om_state_free(struct om_state *st);
/* Forgets every flow and active count (the oracle cleared the data plane's table too). */
void om_state_clear(struct om_state *st);

/* Decides one ingress frame and moves the model's state as the data plane must. */
void om_decide(const struct om_config *cfg, struct om_state *st, const uint8_t *frame, size_t len,
	       struct om_result *out);

/*
 * Breaks one rule on purpose, the oracle's check that it can fail: 0 none, 1 no partial share
 * at the admit level, 2 the cap admits one flow too many, 3 a third VLAN tag is parsed.
 */
extern int om_break_rule;

#endif /* SPW_ORACLE_MODEL_H */
