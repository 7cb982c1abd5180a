// SPDX-License-Identifier: GPL-2.0-only
/*
 * The admission core through BPF_PROG_RUN: a table of described cases, each one crafted
 * packet against one configuration, with the verdict, every counter that moved and the output
 * bytes checked. Reject replies are read back field by field with the test's own parser and
 * RFC 1071 checksum code (tests/lib/pktbuild.c), which shares nothing with bpf/.
 *
 * Each case runs against a data plane of its own (fresh pin root, empty maps, zero counters),
 * so no case sees another's flows, buckets or counters. Cases marked .tc also run through the
 * TC ingress program, whose verdicts are TC_ACT_UNSPEC / TC_ACT_SHOT / TC_ACT_REDIRECT (reject).
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_dataplane.h"
#include "dpcheck.h"
#include "pktbuild.h"
#include "spw_fixture.h"

/*
 * The table states defaults once (CASE, POL, SYN4...) and lets each case override single
 * fields after them: that overriding is the point, so GCC's -Woverride-init (in -Wextra) is off
 * for this file.
 */
#pragma GCC diagnostic ignored "-Woverride-init"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define R(name)	      SPW_REASON_##name

/* Services of the default configuration. */
#define SVC_TCP	    1 /* TCP port 80, any local address */
#define SVC_UDP	    2 /* UDP port 53, any local address */
#define SVC_BOUND4  3 /* TCP port 80 on 192.0.2.10 only (besides SVC_TCP's wildcard) */
#define SVC_BOUND6  4 /* TCP port 80 on 2001:db8:2::10 only */
#define SVC_ONLY4   5 /* TCP port 8443 on 192.0.2.10, no wildcard service on that port */
#define SVC_BOUNDU  6 /* UDP port 5353 on 192.0.2.10 */
#define PORT_TCP    80
#define PORT_UDP    53
#define PORT_NONE   8080 /* no service */
#define PORT_ONLY   8443
#define PORT_BOUNDU 5353
#define CLIENT_PORT 40000
#define CLIENT_SEQ  0x12345678u

/* Clients far away: a reply that kept the client's TTL (23) instead of a fresh one shows. */
#define CLIENT_TTL 23

/* Cohort salt written before every case, so cohorts are computed, not assumed. */
#define SALT 0x5eed1234u
/* A second salt; a case using it checks it moves the client's cohort (see apply_salt). */
#define SALT2 0x0badcafeu

/* Lease of a valid policy: far longer than the test. */
#define LEASE_NS (600ULL * 1000000000ULL)
/* How far in the past an "old" bucket timestamp is: more than the burst's refill time. */
#define BUCKET_AGE_NS	(5ULL * 1000000000ULL)
#define BUCKET_AHEAD_NS (1000000000ULL)

/* The outcome of a packet, named for both hooks. */
enum verdict {
	V_PASS,
	V_DROP,
	V_REJECT, /* XDP_TX / TC_ACT_REDIRECT of the rewritten packet */
};

enum lease_cfg {
	LEASE_VALID,
	LEASE_PAST, /* the controller stopped renewing */
	LEASE_NONE, /* no policy at all for the services */
};

enum bucket_cfg {
	BUCKET_UNUSED,	  /* never touched: last_ns 0, a full bucket */
	BUCKET_EMPTY_NOW, /* no tokens, refilled just now */
	BUCKET_EMPTY_OLD, /* no tokens, last refill BUCKET_AGE_NS ago */
	/* A part of a token, refilled half a second ago: with 1/s, 0.6 + 0.5 and 0.3 + 0.5. */
	BUCKET_PART_ENOUGH,
	BUCKET_PART_SHORT,
	/* 1.5 tokens, last_ns BUCKET_AHEAD_NS from now: another CPU took a token under the lock
	 * with a clock read later than this packet's. */
	BUCKET_AHEAD,
};

struct svc_cfg {
	uint8_t proto;
	uint16_t port;
	const char *addr; /* NULL: any local address */
	uint32_t id;
};

struct rule_cfg {
	const char *cidr;
	uint8_t tier;
};

struct dscp_cfg {
	bool on;
	uint8_t dscp, tier;
};

/* The policy every configured service gets. */
struct pol_cfg {
	enum lease_cfg lease;
	uint8_t tier_count, default_tier, flags;
	int level; /* admit level; with level_rel, an offset to the cohort source's rank */
	bool level_rel;
	uint16_t floor;
	uint8_t action[SPW_MAX_TIERS];
	uint32_t rate[SPW_MAX_TIERS], burst[SPW_MAX_TIERS];
	enum bucket_cfg bucket; /* of every tier of every service */
};

struct expect {
	enum verdict verdict;
	uint32_t svc, tier;
	enum spw_reason reason;
};

struct tctx;

struct adm_case {
	const char *desc;
	bool tc; /* core case: also through TC ingress */
	struct pkt_spec pkt;
	const struct svc_cfg *svcs; /* NULL: default_svcs */
	const struct rule_cfg *rules;
	const char *const *trusted;
	struct dscp_cfg dscp[2];
	uint32_t salt;		/* 0: SALT */
	const char *cohort_src; /* level_rel: whose rank; NULL: the packet's source */
	struct pol_cfg pol;
	void (*pre)(struct tctx *t);  /* steps before the case's packet */
	void (*post)(struct tctx *t); /* checks after it */
	bool check_units;	      /* the expected tier's bucket after the packet */
	uint64_t units_after;
	struct expect want;
};

/* One cmocka test: a case through one hook. */
struct tctx {
	const struct adm_case *c;
	enum spw_prog prog;
	unsigned int index;	 /* of the test in the run */
	struct pkt_spec spec;	 /* the case's packet, with a client port of this test alone */
	struct spw_fixture *fx;	 /* shared by all tests */
	struct spw_policy pol;	 /* last written to every service */
	uint64_t bucket_last_ns; /* what apply_buckets wrote */
};

/* ------------------------------------------------------------------------------------- */
/* Configurations                                                                         */

static const struct svc_cfg default_svcs[] = {
    {IPPROTO_TCP, PORT_TCP, NULL, SVC_TCP},
    {IPPROTO_UDP, PORT_UDP, NULL, SVC_UDP},
    {0},
};

static const struct svc_cfg bound_svcs[] = {
    {IPPROTO_TCP, PORT_TCP, NULL, SVC_TCP},
    {IPPROTO_UDP, PORT_UDP, NULL, SVC_UDP},
    {IPPROTO_TCP, PORT_TCP, "192.0.2.10", SVC_BOUND4},
    {IPPROTO_TCP, PORT_TCP, "2001:db8:2::10", SVC_BOUND6},
    {IPPROTO_TCP, PORT_ONLY, "192.0.2.10", SVC_ONLY4},
    {IPPROTO_UDP, PORT_BOUNDU, "192.0.2.10", SVC_BOUNDU},
    {0},
};

/* Only address-bound services: traffic to other addresses is nobody's. */
static const struct svc_cfg bound_only_svcs[] = {
    {IPPROTO_TCP, PORT_ONLY, "192.0.2.10", SVC_ONLY4},
    {IPPROTO_TCP, PORT_ONLY, "2001:db8:2::10", SVC_BOUND6},
    {0},
};

/* Nested prefixes; with tier_count 4 and default tier 3 every level is told apart. */
static const struct rule_cfg rules_v4_nested[] = {
    {"10.0.0.0/8", 2}, {"10.1.0.0/16", 1}, {"10.1.2.0/24", 0}, {"10.1.2.99/32", 2}, {NULL, 0},
};

static const struct rule_cfg rules_v6_nested[] = {
    {"2001:db8::/32", 2},
    {"2001:db8:1::/48", 1},
    {"2001:db8:1:2::/64", 0},
    {"2001:db8:1:2::99/128", 2},
    {NULL, 0},
};

/* Tier 0 and tier 1 clients, for floors and per-tier actions. */
static const struct rule_cfg rules_tiers[] = {
    {"10.0.0.0/24", 0},	    {"10.0.1.0/24", 1}, {"2001:db8:a::/48", 0},
    {"2001:db8:b::/48", 1}, {NULL, 0},
};

/* A rule naming a tier the 3-tier services do not have. */
static const struct rule_cfg rules_tier7[] = {{"10.7.0.0/16", 7}, {NULL, 0}};

/* Overlaps the trusted /24 below: a CIDR rule beats a trusted DSCP. */
static const struct rule_cfg rules_over_trusted[] = {{"203.0.113.0/25", 1}, {NULL, 0}};

static const char *const trusted_srcs[] = {"203.0.113.0/24", "2001:db8:7::/48", NULL};

#define DSCP_EF	  46 /* mapped to tier 0 */
#define DSCP_AF11 10 /* mapped to tier 1 */
#define DSCP_CS1  8  /* mapped to tier 6, which 3-tier services do not have */
#define DSCP_MAP                                                                                   \
	{                                                                                          \
		{true, DSCP_EF, 0},                                                                \
		{                                                                                  \
			true, DSCP_AF11, 1                                                         \
		}                                                                                  \
	}

#define TRUSTED4   "203.0.113.5"
#define TRUSTED6   "2001:db8:7::5"
#define UNTRUSTED4 "198.51.100.7"
#define UNTRUSTED6 "2001:db8:100::7"

/* ------------------------------------------------------------------------------------- */
/* Packets                                                                                */

/* A Linux-like SYN to the TCP service. */
#define SYN4(...)                                                                                  \
	{                                                                                          \
		.family = 4, .proto = IPPROTO_TCP, .sport = CLIENT_PORT, .dport = PORT_TCP,        \
		.tcp_flags = PKT_TCP_SYN, .seq = CLIENT_SEQ, .tcp_opts_len = PKT_LINUX_SYN_OPTS,   \
		.ttl = CLIENT_TTL, __VA_ARGS__                                                     \
	}
#define SYN6(...) SYN4(.family = 6, __VA_ARGS__)
/* A DNS-sized query to the UDP service. */
#define UDP4(...)                                                                                  \
	{                                                                                          \
		.family = 4, .proto = IPPROTO_UDP, .sport = CLIENT_PORT, .dport = PORT_UDP,        \
		.payload_len = 32, .ttl = CLIENT_TTL, __VA_ARGS__                                  \
	}
#define UDP6(...) UDP4(.family = 6, __VA_ARGS__)

#define VLAN1 .vlan_count = 1, .vlans = {{PKT_ETH_P_8021Q, 100}}
#define QINQ  .vlan_count = 2, .vlans = {{PKT_ETH_P_8021AD, 10}, {PKT_ETH_P_8021Q, 200}}
#define VLAN3                                                                                      \
	.vlan_count = 3,                                                                           \
	.vlans = {{PKT_ETH_P_8021AD, 10}, {PKT_ETH_P_8021Q, 20}, {PKT_ETH_P_8021Q, 30}}
#define EXT(k)                                                                                     \
	{                                                                                          \
		.kind = (k)                                                                        \
	}
/* One more extension header than the walk reads (SPW_MAX_IPV6_EXT + 1). */
#define EXT7                                                                                       \
	EXT(PKT_EXT_HOPOPTS), EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_DSTOPTS),    \
	    EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_DSTOPTS)
/* The datagram ends n bytes into the L4 header; the frame after it is padding or nothing. */
#define CUT(n)	     .cut_l4 = true, .l4_kept = (n)
#define CUT_FRAME(n) CUT(n), .cut_frame = true
#define FRAG6(off, more)                                                                           \
	{                                                                                          \
		.kind = PKT_EXT_FRAGMENT, .frag_offset = (off), .frag_more = (more)                \
	}

/* Defaults: the default services, 3 tiers, default tier 2, everything admitted, tier 0 floor. */
#define CASE(...)                                                                                  \
	{                                                                                          \
		.pol = {.tier_count = 3,                                                           \
			.default_tier = 2,                                                         \
			.level = SPW_RANK_LIMIT,                                                   \
			.floor = SPW_COHORTS},                                                     \
		__VA_ARGS__                                                                        \
	}
#define WANT(v, svc, tier, reason)                                                                 \
	{                                                                                          \
		(v), (svc), (tier), R(reason)                                                      \
	}
/* Everything shed; the action of every tier. */
#define SHED_ALL(act) .pol.level = 0, .pol.floor = 0, .pol.action = {ACTS_##act}
#define ACTS_DROP     0
#define ACTS_REJECT   1, 1, 1, 1, 1, 1, 1, 1

#define NONE SPW_TIER_NONE

static void udp_established_pre(struct tctx *t);
static void udp_established_post(struct tctx *t);
static void bucket_not_behind_post(struct tctx *t);

/* ------------------------------------------------------------------------------------- */
/* The table                                                                              */

static const struct adm_case cases[] = {
    /* Admit, drop, reject: the core, through both hooks. */
    CASE(.desc = "IPv4 SYN, level admits all: passes, admitted in the default tier", .tc = true,
	 .pkt = SYN4(), .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv6 SYN, level admits all: passes, admitted", .tc = true, .pkt = SYN6(),
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv4 UDP first packet, level admits all: admitted", .tc = true, .pkt = UDP4(),
	 .want = WANT(V_PASS, SVC_UDP, 2, ADMITTED)),
    CASE(.desc = "IPv6 UDP first packet, level admits all: admitted", .pkt = UDP6(),
	 .want = WANT(V_PASS, SVC_UDP, 2, ADMITTED)),
    CASE(.desc = "IPv4 SYN, level 0, action drop: dropped, shed_level", .tc = true, .pkt = SYN4(),
	 SHED_ALL(DROP), .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 SYN, level 0, action drop: dropped, shed_level", .tc = true, .pkt = SYN6(),
	 SHED_ALL(DROP), .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 UDP first packet, level 0, action drop: dropped", .pkt = UDP4(),
	 SHED_ALL(DROP), .want = WANT(V_DROP, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 UDP first packet, level 0, action drop: dropped", .pkt = UDP6(),
	 SHED_ALL(DROP), .want = WANT(V_DROP, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN, level 0, action reject: RST+ACK back", .tc = true, .pkt = SYN4(),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 SYN, level 0, action reject: RST+ACK back", .tc = true, .pkt = SYN6(),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN in an 802.1Q tag, reject: RST keeps the tag", .tc = true,
	 .pkt = SYN4(VLAN1), SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN in 802.1ad+802.1Q tags, reject: RST keeps both tags", .tc = true,
	 .pkt = SYN4(QINQ), SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 SYN in an 802.1Q tag, reject: RST keeps the tag", .pkt = SYN6(VLAN1),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN with 12 bytes of IP options, reject: RST without options", .tc = true,
	 .pkt = SYN4(.ip_opts_len = 12), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN with 40 bytes of IP options, reject: RST without options",
	 .pkt = SYN4(.ip_opts_len = 40), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 SYN behind hop-by-hop and dest-opts headers, reject: RST without them",
	 .tc = true,
	 .pkt = SYN6(.ext_count = 2, .ext = {EXT(PKT_EXT_HOPOPTS), EXT(PKT_EXT_DSTOPTS)}),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 SYN behind hop-by-hop, routing (24 B) and dest-opts, reject: RST",
	 .pkt = SYN6(.ext_count = 3, .ext = {EXT(PKT_EXT_HOPOPTS),
					     {.kind = PKT_EXT_ROUTING, .len8 = 2},
					     EXT(PKT_EXT_DSTOPTS)}),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN without TCP options, reject: RST", .pkt = SYN4(.tcp_opts_len = 0),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN with 40 bytes of TCP options, reject: RST with doff 5",
	 .pkt = SYN4(.tcp_opts_len = 40), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 SYN carrying 64 bytes of data (fast open), reject: RST without them",
	 .pkt = SYN4(.payload_len = 64), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    /* A group is never answered: one spoofed datagram would draw a reply from every member. */
    CASE(.desc = "UDP to IPv4 multicast 224.0.0.251, reject: dropped, no ICMP", .tc = true,
	 .pkt = UDP4(.daddr = "224.0.0.251"), SHED_ALL(REJECT),
	 .want = WANT(V_DROP, SVC_UDP, 2, REJECT_FAILED)),
    CASE(.desc = "UDP to 255.255.255.255, reject: dropped, no ICMP",
	 .pkt = UDP4(.daddr = "255.255.255.255", .dmac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
	 SHED_ALL(REJECT), .want = WANT(V_DROP, SVC_UDP, 2, REJECT_FAILED)),
    CASE(.desc = "UDP to IPv6 multicast ff02::fb, reject: dropped, no ICMPv6",
	 .pkt = UDP6(.daddr = "ff02::fb"), SHED_ALL(REJECT),
	 .want = WANT(V_DROP, SVC_UDP, 2, REJECT_FAILED)),
    CASE(.desc = "UDP in a broadcast frame (subnet broadcast address), reject: dropped",
	 .pkt = UDP4(.dmac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), SHED_ALL(REJECT),
	 .want = WANT(V_DROP, SVC_UDP, 2, REJECT_FAILED)),
    CASE(.desc = "SYN in a multicast frame, reject: dropped, no RST", .tc = true,
	 .pkt = SYN4(.dmac = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}), SHED_ALL(REJECT),
	 .want = WANT(V_DROP, SVC_TCP, 2, REJECT_FAILED)),
    CASE(.desc = "IPv4 SYN with seq 0xffffffff, reject: RST ack wraps to 0",
	 .pkt = SYN4(.seq = 0xffffffffu), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 UDP, reject: ICMP 3/13 quoting IP header + 8 bytes", .tc = true,
	 .pkt = UDP4(), SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 UDP, reject: ICMPv6 1/1 quoting the packet", .tc = true, .pkt = UDP6(),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 UDP in an 802.1Q tag, reject: ICMP keeps the tag", .pkt = UDP4(VLAN1),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 UDP with 8 bytes of IP options, reject: ICMP quotes them too",
	 .pkt = UDP4(.ip_opts_len = 8), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 UDP with 1000 bytes of data, reject: ICMP quotes only header + 8",
	 .pkt = UDP4(.payload_len = 1000), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 UDP behind a dest-opts header, reject: ICMPv6 quotes the chain",
	 .pkt = UDP6(.ext_count = 1, .ext = {EXT(PKT_EXT_DSTOPTS)}), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 UDP with 1400 bytes of data, reject: ICMPv6 stays under 1280 bytes",
	 .pkt = UDP6(.payload_len = 1400), SHED_ALL(REJECT),
	 .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),

    /* The action is per tier. */
    CASE(.desc = "tier 1 rejects, tier 2 drops: a tier-1 client gets a RST", .tc = true,
	 .pkt = SYN4(.saddr = "10.0.1.5"), .rules = rules_tiers, .pol.level = 0, .pol.floor = 0,
	 .pol.action = {[1] = SPW_ACTION_REJECT}, .want = WANT(V_REJECT, SVC_TCP, 1, SHED_LEVEL)),
    CASE(.desc = "tier 1 rejects, tier 2 drops: a tier-2 client is dropped", .tc = true,
	 .pkt = SYN4(), .rules = rules_tiers, .pol.level = 0, .pol.floor = 0,
	 .pol.action = {[1] = SPW_ACTION_REJECT}, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),

    /* Tier by source CIDR: longest prefix wins, IPv4 and IPv6 in one trie. */
    CASE(.desc = "IPv6 source ::ffff:10.1.2.3 is not the IPv4 client: no IPv4 rule, default tier",
	 .pkt = SYN6(.saddr = "::ffff:10.1.2.3"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 3, ADMITTED)),
    CASE(.desc = "IPv6 source ::ffff:203.0.113.5 marks EF: not the trusted IPv4 source, shed",
	 .pkt = SYN6(.saddr = "::ffff:203.0.113.5", .dscp = DSCP_EF), .trusted = trusted_srcs,
	 .dscp = DSCP_MAP, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 source in /8, /16 and /24 rules: the /24's tier 0",
	 .pkt = SYN4(.saddr = "10.1.2.3"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),
    CASE(.desc = "IPv4 source with a /32 rule inside the /24: the /32's tier 2",
	 .pkt = SYN4(.saddr = "10.1.2.99"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv4 source in /8 and /16 rules: the /16's tier 1",
	 .pkt = SYN4(.saddr = "10.1.3.3"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 1, ADMITTED)),
    CASE(.desc = "IPv4 source in the /8 rule only: tier 2", .pkt = SYN4(.saddr = "10.200.0.1"),
	 .rules = rules_v4_nested, .pol.tier_count = 4, .pol.default_tier = 3,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv4 source in no rule: the service's default tier 3",
	 .pkt = SYN4(.saddr = "11.0.0.1"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 3, ADMITTED)),
    CASE(.desc = "IPv6 source in /32, /48 and /64 rules: the /64's tier 0",
	 .pkt = SYN6(.saddr = "2001:db8:1:2::3"), .rules = rules_v6_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),
    CASE(.desc = "IPv6 source with a /128 rule inside the /64: the /128's tier 2",
	 .pkt = SYN6(.saddr = "2001:db8:1:2::99"), .rules = rules_v6_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv6 source in /32 and /48 rules: the /48's tier 1",
	 .pkt = SYN6(.saddr = "2001:db8:1:3::3"), .rules = rules_v6_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 1, ADMITTED)),
    CASE(.desc = "IPv6 source in no rule: the default tier 3", .pkt = SYN6(.saddr = "2001:dead::1"),
	 .rules = rules_v6_nested, .pol.tier_count = 4, .pol.default_tier = 3,
	 .want = WANT(V_PASS, SVC_TCP, 3, ADMITTED)),
    CASE(.desc = "IPv6 source 0a01:0203::5 does not match the IPv4 rule 10.1.2.0/24",
	 .pkt = SYN6(.saddr = "a01:203::5"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, .want = WANT(V_PASS, SVC_TCP, 3, ADMITTED)),
    CASE(.desc = "a CIDR tier shed at level 0: counted on the rule's tier", .tc = true,
	 .pkt = SYN4(.saddr = "10.1.3.3"), .rules = rules_v4_nested, .pol.tier_count = 4,
	 .pol.default_tier = 3, SHED_ALL(DROP), .want = WANT(V_DROP, SVC_TCP, 1, SHED_LEVEL)),
    CASE(.desc = "rule tier 7 on a 3-tier service: clamped to its last tier 2",
	 .pkt = SYN4(.saddr = "10.7.0.1"), .rules = rules_tier7, .pol.default_tier = 0,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "UDP tier by CIDR: IPv4 /24 rule gives tier 0", .pkt = UDP4(.saddr = "10.1.2.3"),
	 .rules = rules_v4_nested, .pol.tier_count = 4, .pol.default_tier = 3,
	 .want = WANT(V_PASS, SVC_UDP, 0, ADMITTED)),

    /* DSCP: honoured only from trusted sources, after CIDR rules. Level 0, floor 32. */
    CASE(.desc = "trusted IPv4 source marks EF (tier 0): admitted under the floor", .tc = true,
	 .pkt = SYN4(.saddr = TRUSTED4, .dscp = DSCP_EF), .trusted = trusted_srcs, .dscp = DSCP_MAP,
	 .pol.level = 0, .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),
    CASE(.desc = "untrusted IPv4 source marks EF: ignored, default tier, shed", .tc = true,
	 .pkt = SYN4(.saddr = UNTRUSTED4, .dscp = DSCP_EF), .trusted = trusted_srcs,
	 .dscp = DSCP_MAP, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "trusted IPv4 source with an unmapped DSCP: default tier",
	 .pkt = SYN4(.saddr = TRUSTED4, .dscp = 0), .trusted = trusted_srcs, .dscp = DSCP_MAP,
	 .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "trusted IPv4 source marks AF11 (tier 1): tier 1",
	 .pkt = SYN4(.saddr = TRUSTED4, .dscp = DSCP_AF11), .trusted = trusted_srcs,
	 .dscp = DSCP_MAP, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 1, SHED_LEVEL)),
    CASE(.desc = "trusted source marks EF but a CIDR rule says tier 1: the rule wins",
	 .pkt = SYN4(.saddr = TRUSTED4, .dscp = DSCP_EF), .trusted = trusted_srcs, .dscp = DSCP_MAP,
	 .rules = rules_over_trusted, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 1, SHED_LEVEL)),
    CASE(.desc = "trusted IPv6 source marks EF: tier 0, admitted under the floor",
	 .pkt = SYN6(.saddr = TRUSTED6, .dscp = DSCP_EF), .trusted = trusted_srcs, .dscp = DSCP_MAP,
	 .pol.level = 0, .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),
    CASE(.desc = "untrusted IPv6 source marks EF: default tier, shed",
	 .pkt = SYN6(.saddr = UNTRUSTED6, .dscp = DSCP_EF), .trusted = trusted_srcs,
	 .dscp = DSCP_MAP, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "trusted source marks a DSCP mapped to tier 6: clamped to tier 2",
	 .pkt = SYN4(.saddr = TRUSTED4, .dscp = DSCP_CS1), .trusted = trusted_srcs,
	 .dscp = {{true, DSCP_CS1, 6}}, .pol.default_tier = 0,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "trusted IPv4 UDP client marks EF: tier 0",
	 .pkt = UDP4(.saddr = TRUSTED4, .dscp = DSCP_EF), .trusted = trusted_srcs, .dscp = DSCP_MAP,
	 .pol.level = 0, .want = WANT(V_PASS, SVC_UDP, 0, ADMITTED)),

    /* Cohort cut-offs: the level set just above and at the client's rank. */
    CASE(.desc = "IPv4 level = rank + 1: admitted", .tc = true, .pkt = SYN4(),
	 .pol.level_rel = true, .pol.level = 1, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv4 level = rank: shed", .tc = true, .pkt = SYN4(), .pol.level_rel = true,
	 .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv6 level = rank + 1: admitted", .pkt = SYN6(), .pol.level_rel = true,
	 .pol.level = 1, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv6 level = rank: shed", .pkt = SYN6(), .pol.level_rel = true, .pol.level = 0,
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 neighbour in the same /24, level = the first client's rank: shed",
	 .pkt = SYN4(.saddr = "198.51.100.200"), .cohort_src = "198.51.100.7",
	 .pol.level_rel = true, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 neighbour in the same /24, level = first client's rank + 1: admitted",
	 .pkt = SYN4(.saddr = "198.51.100.200"), .cohort_src = "198.51.100.7",
	 .pol.level_rel = true, .pol.level = 1, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv6 neighbour in the same /64, level = the first client's rank: shed",
	 .pkt = SYN6(.saddr = "2001:db8:100::beef:1"), .cohort_src = "2001:db8:100::7",
	 .pol.level_rel = true, .pol.level = 0, .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "another salt moves the cohort: level = rank under SALT2 + 1 admits",
	 .pkt = SYN4(), .salt = SALT2, .pol.level_rel = true, .pol.level = 1,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "another salt moves the cohort: level = rank under SALT2 sheds", .pkt = SYN4(),
	 .salt = SALT2, .pol.level_rel = true, .pol.level = 0,
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "tier-1 client: level = 32 + cohort + 1 admits", .pkt = SYN4(.saddr = "10.0.1.5"),
	 .rules = rules_tiers, .pol.level_rel = true, .pol.level = 1,
	 .want = WANT(V_PASS, SVC_TCP, 1, ADMITTED)),
    CASE(.desc = "tier-1 client: level = 32 + cohort sheds", .pkt = SYN4(.saddr = "10.0.1.5"),
	 .rules = rules_tiers, .pol.level_rel = true, .pol.level = 0,
	 .want = WANT(V_DROP, SVC_TCP, 1, SHED_LEVEL)),
    CASE(.desc = "UDP level = rank, reject: ICMP", .pkt = UDP4(), .pol.level_rel = true,
	 .pol.level = 0, .pol.action = {ACTS_REJECT},
	 .want = WANT(V_REJECT, SVC_UDP, 2, SHED_LEVEL)),

    /* The floor protects tier 0 whatever the level. */
    CASE(.desc = "admit level 0, floor 32: a tier-0 client is still admitted", .tc = true,
	 .pkt = SYN4(.saddr = "10.0.0.9"), .rules = rules_tiers, .pol.level = 0,
	 .pol.action = {ACTS_REJECT}, .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),
    CASE(.desc = "admit level 0, floor 32: a tier-1 client is shed", .tc = true,
	 .pkt = SYN4(.saddr = "10.0.1.9"), .rules = rules_tiers, .pol.level = 0,
	 .want = WANT(V_DROP, SVC_TCP, 1, SHED_LEVEL)),
    CASE(.desc = "admit level 0, floor 0: even tier 0 is shed", .pkt = SYN4(.saddr = "10.0.0.9"),
	 .rules = rules_tiers, .pol.level = 0, .pol.floor = 0,
	 .want = WANT(V_DROP, SVC_TCP, 0, SHED_LEVEL)),
    CASE(.desc = "admit level 0, floor 64: tier 1 is protected too",
	 .pkt = SYN4(.saddr = "10.0.1.9"), .rules = rules_tiers, .pol.level = 0,
	 .pol.floor = 2 * SPW_COHORTS, .want = WANT(V_PASS, SVC_TCP, 1, ADMITTED)),
    CASE(.desc = "IPv6 tier-0 client under admit level 0, floor 32: admitted",
	 .pkt = SYN6(.saddr = "2001:db8:a::9"), .rules = rules_tiers, .pol.level = 0,
	 .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),

    /* The tier's token bucket. */
    CASE(.desc = "bucket empty, refilled just now, 1/s: shed_rate, dropped", .tc = true,
	 .pkt = SYN4(), .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_EMPTY_NOW,
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_RATE)),
    CASE(.desc = "bucket empty, refilled just now, action reject: shed_rate, RST", .tc = true,
	 .pkt = SYN4(), .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_EMPTY_NOW,
	 .pol.action = {ACTS_REJECT}, .want = WANT(V_REJECT, SVC_TCP, 2, SHED_RATE)),
    CASE(.desc = "bucket empty 5 s ago at 1/s, burst 2: refilled to 2, admitted, 1 left",
	 .tc = true, .pkt = SYN4(), .pol.rate = {[2] = 1}, .pol.burst = {[2] = 2},
	 .pol.bucket = BUCKET_EMPTY_OLD, .check_units = true, .units_after = 1 * SPW_BUCKET_UNIT,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    /* Less than a token held, but the time since makes it one: the unlocked read of an
     * empty bucket must count both. */
    CASE(.desc = "0.6 of a token at 1/s, 0.5 s ago: 1.1 now, admitted", .tc = true, .pkt = SYN4(),
	 .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_PART_ENOUGH,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "0.3 of a token at 1/s, 0.5 s ago: 0.8 now, shed_rate", .tc = true, .pkt = SYN4(),
	 .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_PART_SHORT,
	 /* Refused on the unlocked read: the bucket is left as it was, not refilled to 0.8. */
	 .check_units = true, .units_after = SPW_BUCKET_UNIT * 3 / 10,
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_RATE)),
    /* Stored back, this packet's earlier clock would count the time up to the other CPU's
     * again at the next refill: over the rate. */
    CASE(.desc = "a take whose clock is behind last_ns: admitted, last_ns not moved back",
	 .tc = true, .pkt = SYN4(), .pol.rate = {[2] = 1}, .pol.burst = {[2] = 2},
	 .pol.bucket = BUCKET_AHEAD, .check_units = true, .units_after = SPW_BUCKET_UNIT / 2,
	 .post = bucket_not_behind_post, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "burst 0 is one second's worth: 3/s refilled to 3, admitted, 2 left",
	 .pkt = SYN4(), .pol.rate = {[2] = 3}, .pol.bucket = BUCKET_EMPTY_OLD, .check_units = true,
	 .units_after = 2 * SPW_BUCKET_UNIT, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "rate 0 means no limit: an empty bucket admits", .pkt = SYN4(),
	 .pol.bucket = BUCKET_EMPTY_NOW, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "a bucket never used (last_ns 0) starts full: admitted", .pkt = SYN4(),
	 .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_UNUSED,
	 .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "level sheds before the bucket is asked: shed_level, not shed_rate", .pkt = SYN4(),
	 SHED_ALL(DROP), .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_EMPTY_NOW,
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "only tier 2 is rate-limited: a tier-0 client passes an empty bucket",
	 .pkt = SYN4(.saddr = "10.0.0.9"), .rules = rules_tiers, .pol.rate = {[2] = 1},
	 .pol.bucket = BUCKET_EMPTY_NOW, .want = WANT(V_PASS, SVC_TCP, 0, ADMITTED)),
    CASE(.desc = "UDP first packet, bucket empty: shed_rate", .pkt = UDP4(), .pol.rate = {[2] = 1},
	 .pol.bucket = BUCKET_EMPTY_NOW, .want = WANT(V_DROP, SVC_UDP, 2, SHED_RATE)),
    CASE(.desc = "IPv6 SYN, bucket empty: shed_rate", .pkt = SYN6(), .pol.rate = {[2] = 1},
	 .pol.bucket = BUCKET_EMPTY_NOW, .want = WANT(V_DROP, SVC_TCP, 2, SHED_RATE)),

    /* Dry run: decided and counted, never enforced. */
    CASE(.desc = "dry run, level 0, drop: passes, would_shed", .tc = true, .pkt = SYN4(),
	 SHED_ALL(DROP), .pol.flags = SPW_POLICY_DRY_RUN,
	 .want = WANT(V_PASS, SVC_TCP, 2, WOULD_SHED)),
    CASE(.desc = "dry run, level 0, reject: passes untouched, no RST", .tc = true, .pkt = SYN4(),
	 SHED_ALL(REJECT), .pol.flags = SPW_POLICY_DRY_RUN,
	 .want = WANT(V_PASS, SVC_TCP, 2, WOULD_SHED)),
    CASE(.desc = "dry run, level admits: admitted as usual", .pkt = SYN4(),
	 .pol.flags = SPW_POLICY_DRY_RUN, .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "dry run, empty bucket: passes, would_shed", .pkt = SYN4(),
	 .pol.flags = SPW_POLICY_DRY_RUN, .pol.rate = {[2] = 1}, .pol.bucket = BUCKET_EMPTY_NOW,
	 .want = WANT(V_PASS, SVC_TCP, 2, WOULD_SHED)),
    CASE(.desc = "dry run, IPv6 UDP, reject: passes, no ICMP", .pkt = UDP6(), SHED_ALL(REJECT),
	 .pol.flags = SPW_POLICY_DRY_RUN, .want = WANT(V_PASS, SVC_UDP, 2, WOULD_SHED)),

    /* Leases: a policy past its expiry, or none at all, is not enforced. */
    CASE(.desc = "lease expired, level 0, reject: passes, fail_open", .tc = true, .pkt = SYN4(),
	 SHED_ALL(REJECT), .pol.lease = LEASE_PAST, .want = WANT(V_PASS, SVC_TCP, 2, FAIL_OPEN)),
    CASE(.desc = "lease expired, IPv6: passes, fail_open", .pkt = SYN6(), SHED_ALL(DROP),
	 .pol.lease = LEASE_PAST, .want = WANT(V_PASS, SVC_TCP, 2, FAIL_OPEN)),
    CASE(.desc = "lease expired, UDP, reject: passes, fail_open", .pkt = UDP4(), SHED_ALL(REJECT),
	 .pol.lease = LEASE_PAST, .want = WANT(V_PASS, SVC_UDP, 2, FAIL_OPEN)),
    CASE(.desc = "service without a policy: passes, fail_open (no tier)", .tc = true, .pkt = SYN4(),
	 .pol.lease = LEASE_NONE, .want = WANT(V_PASS, SVC_TCP, NONE, FAIL_OPEN)),
    CASE(.desc = "UDP service without a policy: passes, fail_open", .pkt = UDP6(),
	 .pol.lease = LEASE_NONE, .want = WANT(V_PASS, SVC_UDP, NONE, FAIL_OPEN)),

    /* Packets of established flows pass even when the level sheds everything. */
    CASE(.desc = "TCP ACK to a service shedding everything: passes, established", .tc = true,
	 .pkt = SYN4(.tcp_flags = PKT_TCP_ACK, .tcp_opts_len = 0), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "TCP PSH+ACK with 100 bytes: passes, established",
	 .pkt =
	     SYN4(.tcp_flags = PKT_TCP_PSH | PKT_TCP_ACK, .tcp_opts_len = 12, .payload_len = 100),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "SYN-ACK is not a new flow: passes, established",
	 .pkt = SYN4(.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "FIN+ACK: passes, established",
	 .pkt = SYN4(.tcp_flags = PKT_TCP_FIN | PKT_TCP_ACK, .tcp_opts_len = 0), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "RST: passes, established",
	 .pkt = SYN4(.tcp_flags = PKT_TCP_RST, .tcp_opts_len = 0), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "IPv6 ACK: passes, established",
	 .pkt = SYN6(.tcp_flags = PKT_TCP_ACK, .tcp_opts_len = 0), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "ACK in 802.1ad+802.1Q tags: passes, established",
	 .pkt = SYN4(QINQ, .tcp_flags = PKT_TCP_ACK, .tcp_opts_len = 0), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SVC_TCP, NONE, ESTABLISHED)),
    CASE(.desc = "UDP: a later packet of an admitted flow passes a level that sheds all",
	 .tc = true, .pkt = UDP4(), .pre = udp_established_pre, .post = udp_established_post,
	 .want = WANT(V_PASS, SVC_UDP, 2, ESTABLISHED)),
    CASE(.desc = "IPv6 UDP: a later packet of an admitted flow passes as established",
	 .pkt = UDP6(), .pre = udp_established_pre, .post = udp_established_post,
	 .want = WANT(V_PASS, SVC_UDP, 2, ESTABLISHED)),

    /* Services bound to a local address, beside wildcard ones. */
    CASE(.desc = "port 80 to the bound address 192.0.2.10: the bound service", .svcs = bound_svcs,
	 .pkt = SYN4(.daddr = "192.0.2.10"), .want = WANT(V_PASS, SVC_BOUND4, 2, ADMITTED)),
    CASE(.desc = "port 80 to another address: the wildcard service", .svcs = bound_svcs,
	 .pkt = SYN4(.daddr = "192.0.2.11"), .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "IPv6 port 80 to the bound address: the bound service", .svcs = bound_svcs,
	 .pkt = SYN6(.daddr = "2001:db8:2::10"), .want = WANT(V_PASS, SVC_BOUND6, 2, ADMITTED)),
    CASE(.desc = "IPv6 port 80 to another address: the wildcard service", .svcs = bound_svcs,
	 .pkt = SYN6(.daddr = "2001:db8:2::11"), .want = WANT(V_PASS, SVC_TCP, 2, ADMITTED)),
    CASE(.desc = "bound-only port to its address: the service, shed", .svcs = bound_svcs,
	 .pkt = SYN4(.daddr = "192.0.2.10", .dport = PORT_ONLY), SHED_ALL(DROP),
	 .want = WANT(V_DROP, SVC_ONLY4, 2, SHED_LEVEL)),
    CASE(.desc = "bound-only port to another address: not a service", .svcs = bound_svcs,
	 .pkt = SYN4(.daddr = "192.0.2.11", .dport = PORT_ONLY), SHED_ALL(DROP),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "bound UDP port to its address: the service", .svcs = bound_svcs,
	 .pkt = UDP4(.daddr = "192.0.2.10", .dport = PORT_BOUNDU),
	 .want = WANT(V_PASS, SVC_BOUNDU, 2, ADMITTED)),
    CASE(.desc = "bound UDP port over IPv6 (bound to an IPv4 address only): not a service",
	 .svcs = bound_svcs, .pkt = UDP6(.daddr = "2001:db8:2::10", .dport = PORT_BOUNDU),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),

    /* Not for a service, not IP. */
    CASE(.desc = "IPv4 SYN to a port without a service: not_service", .tc = true,
	 .pkt = SYN4(.dport = PORT_NONE), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "IPv6 SYN to a port without a service: not_service",
	 .pkt = SYN6(.dport = PORT_NONE), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "UDP to the TCP service's port: not_service", .pkt = UDP4(.dport = PORT_TCP),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "TCP SYN to the UDP service's port: not_service", .pkt = SYN4(.dport = PORT_UDP),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "ICMP echo request: not_service",
	 .pkt = {.proto = IPPROTO_ICMP, .sport = 7, .payload_len = 56}, SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "ICMPv6 echo request: not_service",
	 .pkt = {.family = 6, .proto = IPPROTO_ICMPV6, .sport = 7, .payload_len = 56},
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_SERVICE)),
    CASE(.desc = "ARP: not_ip", .tc = true, .pkt = {.ethertype = PKT_ETH_P_ARP, .payload_len = 28},
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_IP)),
    CASE(.desc = "ARP in an 802.1Q tag: not_ip",
	 .pkt = {.ethertype = PKT_ETH_P_ARP, .payload_len = 28, VLAN1}, SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_IP)),
    CASE(.desc = "LLDP: not_ip", .pkt = {.ethertype = PKT_ETH_P_LLDP, .payload_len = 40},
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, NOT_IP)),

    /* Malformed: passes untouched, counted, whatever the policy says. */
    CASE(.desc = "IPv4 ihl 4: malformed", .tc = true, .pkt = SYN4(.set_ihl = true, .ihl = 4),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "IPv4 ihl 0: malformed", .pkt = SYN4(.set_ihl = true, .ihl = 0), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "IPv4 ihl 15, leaving no room for the TCP header: malformed",
	 .pkt = SYN4(.set_ihl = true, .ihl = 15), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "TCP doff 4: malformed", .tc = true, .pkt = SYN4(.set_doff = true, .doff = 4),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "TCP doff 0: malformed", .pkt = SYN4(.set_doff = true, .doff = 0),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "TCP doff 15, past the end of the segment: malformed",
	 .pkt = SYN4(.set_doff = true, .doff = 15), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "IPv6 TCP doff 4: malformed", .pkt = SYN6(.set_doff = true, .doff = 4),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    /* A chain longer than the walk hides the ports: decided by the destination address. */
    CASE(.desc = "IPv6 with 7 extension headers (limit 6) to a service's address: dropped",
	 .tc = true, .pkt = SYN6(.ext_count = SPW_MAX_IPV6_EXT + 1, .ext = {EXT7}),
	 .want = WANT(V_DROP, SVC_TCP, NONE, HEADER_CHAIN)),
    CASE(.desc = "IPv6 with 7 extension headers to an address-bound service's address: dropped",
	 .svcs = bound_only_svcs, .pkt = SYN6(.dport = PORT_ONLY, .ext_count = 7, .ext = {EXT7}),
	 .want = WANT(V_DROP, SVC_BOUND6, NONE, HEADER_CHAIN)),
    CASE(.desc = "IPv6 with 7 extension headers to an address no service uses: malformed",
	 .svcs = bound_only_svcs,
	 .pkt = SYN6(.daddr = "2001:db8:2::99", .dport = PORT_ONLY, .ext_count = 7, .ext = {EXT7}),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "IPv6 with exactly 6 extension headers: understood, rejected with a RST",
	 .pkt = SYN6(.ext_count = SPW_MAX_IPV6_EXT,
		     .ext = {EXT(PKT_EXT_HOPOPTS), EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_ROUTING),
			     EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_DSTOPTS), EXT(PKT_EXT_DSTOPTS)}),
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "3 VLAN tags (limit 2): malformed", .tc = true, .pkt = SYN4(VLAN3),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),

    /* Fragments: the first is classified by its ports, later ones pass. */
    CASE(.desc = "IPv4 later fragment (offset 1480, MF) that looks like a SYN: fragment",
	 .tc = true, .pkt = SYN4(.frag_offset = 185, .frag_more = true), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv4 last fragment (offset 1480, no MF): fragment",
	 .pkt = SYN4(.frag_offset = 185), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv4 later UDP fragment: fragment", .pkt = UDP4(.frag_offset = 1),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv4 first fragment (offset 0, MF): classified by ports, shed", .tc = true,
	 .pkt = SYN4(.frag_more = true), SHED_ALL(DROP),
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),
    CASE(.desc = "IPv4 first UDP fragment: classified, admitted", .pkt = UDP4(.frag_more = true),
	 .want = WANT(V_PASS, SVC_UDP, 2, ADMITTED)),
    CASE(.desc = "IPv6 fragment header with offset 1480: fragment", .tc = true,
	 .pkt = SYN6(.ext_count = 1, .ext = {FRAG6(185, true)}), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv6 fragment with offset behind a hop-by-hop header: fragment",
	 .pkt = UDP6(.ext_count = 2, .ext = {EXT(PKT_EXT_HOPOPTS), FRAG6(2, false)}),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv6 first fragment (offset 0, M): classified by ports, shed",
	 .pkt = SYN6(.ext_count = 1, .ext = {FRAG6(0, true)}), SHED_ALL(DROP),
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),

    /* Tiny first fragments (RFC 1858, RFC 7112): reassembled into a segment nobody decided,
     * so to a service they are dropped whatever the policy; elsewhere they pass. */
    CASE(.desc = "IPv4 first fragment with 8 bytes of TCP, padded frame: dropped", .tc = true,
	 .pkt = SYN4(.frag_more = true, CUT(8)),
	 .want = WANT(V_DROP, SVC_TCP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv4 first fragment with 8 bytes of TCP, frame ends there: dropped", .tc = true,
	 .pkt = SYN4(.frag_more = true, CUT_FRAME(8)),
	 .want = WANT(V_DROP, SVC_TCP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv4 first fragment with the TCP header but not its options: dropped",
	 .pkt = SYN4(.frag_more = true, CUT_FRAME(24)),
	 .want = WANT(V_DROP, SVC_TCP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv4 tiny first fragment to a port no service uses: passes, fragment",
	 .pkt = SYN4(.dport = PORT_NONE, .frag_more = true, CUT_FRAME(8)), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv4 UDP first fragment with 4 bytes of UDP to the service: dropped",
	 .pkt = UDP4(.frag_more = true, CUT_FRAME(4)),
	 .want = WANT(V_DROP, SVC_UDP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv4 first fragment without ports to an address-bound service's address: dropped",
	 .svcs = bound_only_svcs, .pkt = SYN4(.dport = PORT_ONLY, .frag_more = true, CUT_FRAME(0)),
	 .want = WANT(V_DROP, SVC_ONLY4, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv4 first fragment without ports to an address no service uses: passes",
	 .svcs = bound_only_svcs,
	 .pkt = SYN4(.daddr = "192.0.2.99", .dport = PORT_ONLY, .frag_more = true, CUT_FRAME(0)),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv4 TCP fragment at offset 1 (rewrites the first one's flags): dropped",
	 .tc = true, .pkt = SYN4(.frag_offset = 1, .frag_more = true),
	 .want = WANT(V_DROP, SVC_TCP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv4 TCP fragment at offset 1 to an address no service uses: fragment",
	 .svcs = bound_only_svcs, .pkt = SYN4(.daddr = "192.0.2.99", .frag_offset = 1),
	 SHED_ALL(REJECT), .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv4 TCP fragment at offset 2: fragment, passes", .tc = true,
	 .pkt = SYN4(.frag_offset = 2, .frag_more = true), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, FRAGMENT)),
    CASE(.desc = "IPv6 first fragment ending inside the TCP header (RFC 7112): dropped", .tc = true,
	 .pkt = SYN6(.ext_count = 1, .ext = {FRAG6(0, true)}, CUT(8)),
	 .want = WANT(V_DROP, SVC_TCP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv6 first fragment ending after its options header, before TCP: dropped",
	 .pkt = SYN6(.ext_count = 2, .ext = {FRAG6(0, true), EXT(PKT_EXT_DSTOPTS)}, CUT_FRAME(0)),
	 .want = WANT(V_DROP, SVC_TCP, NONE, TINY_FRAGMENT)),
    CASE(.desc = "IPv6 atomic fragment (offset 0, no M) is whole: classified, shed",
	 .pkt = SYN6(.ext_count = 1, .ext = {FRAG6(0, false)}), SHED_ALL(DROP),
	 .want = WANT(V_DROP, SVC_TCP, 2, SHED_LEVEL)),

    /* The IP length ends the datagram: what follows in the frame is padding, never TCP. */
    CASE(.desc = "IPv4 SYN whose IP length ends inside the TCP header: malformed", .tc = true,
	 .pkt = SYN4(CUT(12)), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
    CASE(.desc = "IPv6 SYN whose payload length ends inside the TCP options: malformed",
	 .pkt = SYN6(CUT(24)), SHED_ALL(REJECT),
	 .want = WANT(V_PASS, SPW_SVC_NONE, NONE, MALFORMED)),
};

/* ------------------------------------------------------------------------------------- */
/* Failing with the case's description                                                    */

static const char *hook_name(enum spw_prog p)
{
	return p == SPW_PROG_XDP ? "xdp" : "tc";
}

/* Checks name the hook and the case first: "[xdp] <case>\n    failed: ...". */
#define CHECK(t, cond, fmt, ...)                                                                   \
	SPW_CHECK_IN(cond, #cond, "[%s] %s\n    ", fmt, hook_name((t)->prog), (t)->c->desc,        \
		     ##__VA_ARGS__)
#define CHECK_OK(t, call)                                                                          \
	SPW_CHECK_OK_IN(call, #call, "[%s] %s\n    ", hook_name((t)->prog), (t)->c->desc)
#include "check.h"

static int verdict_code(enum spw_prog p, enum verdict v)
{
	static const int xdp[] = {[V_PASS] = XDP_PASS, [V_DROP] = XDP_DROP, [V_REJECT] = XDP_TX};
	static const int tc[] = {
	    [V_PASS] = TC_ACT_UNSPEC, [V_DROP] = TC_ACT_SHOT, [V_REJECT] = TC_ACT_REDIRECT};

	return p == SPW_PROG_XDP ? xdp[v] : tc[v];
}

static const char *reason_str(unsigned int r)
{
	const char *s = spw_reason_name(r);

	return s ? s : "?";
}

/* ------------------------------------------------------------------------------------- */
/* Configuration of one case                                                              */

static const struct svc_cfg *svcs_of(const struct adm_case *c)
{
	return c->svcs ? c->svcs : default_svcs;
}

static uint32_t salt_of(const struct adm_case *c)
{
	return c->salt ? c->salt : SALT;
}

static void addr_of(struct tctx *t, const char *text, uint8_t addr[SPW_ADDR_LEN])
{
	CHECK(t, spw_fixture_addr(text, addr) == 0, "bad address %s in the table", text);
}

static const char *saddr_text(const struct pkt_spec *s)
{
	if (s->saddr)
		return s->saddr;
	return s->family == 6 ? PKT_DEF_SADDR6 : PKT_DEF_SADDR4;
}

/* Writes the salt; a case about another salt must use one that moves its client's cohort. */
static void apply_salt(struct tctx *t)
{
	uint8_t src[SPW_ADDR_LEN];
	struct spw_globals g;

	CHECK_OK(t, spw_dp_globals_get(t->fx->dp, &g));
	g.cohort_salt = salt_of(t->c);
	CHECK_OK(t, spw_dp_globals_set(t->fx->dp, &g));
	if (t->c->salt && t->c->salt != SALT) {
		addr_of(t, saddr_text(&t->c->pkt), src);
		CHECK(t,
		      spw_cohort(src, t->c->salt, SPW_V6_COHORT_PREFIX_DEFAULT) !=
			  spw_cohort(src, SALT, SPW_V6_COHORT_PREFIX_DEFAULT),
		      "pick another salt: this one proves nothing about the salt being read");
	}
}

static void apply_classes(struct tctx *t)
{
	const struct adm_case *c = t->c;
	struct spw_cidr cidr;

	for (const struct svc_cfg *s = svcs_of(c); s->id; s++) {
		struct spw_service_match m = {.proto = s->proto, .port = s->port};

		if (s->addr) {
			m.has_addr = true;
			addr_of(t, s->addr, m.addr);
		}
		CHECK_OK(t, spw_dp_service_add(t->fx->dp, &m, s->id));
	}
	for (const struct rule_cfg *r = c->rules; r && r->cidr; r++) {
		CHECK(t, spw_fixture_cidr(r->cidr, &cidr) == 0, "bad rule %s", r->cidr);
		CHECK_OK(t,
			 spw_dp_rule_add(t->fx->dp, &cidr, r->tier, (uint32_t)(r - c->rules) + 1));
	}
	for (const char *const *tr = c->trusted; tr && *tr; tr++) {
		CHECK(t, spw_fixture_cidr(*tr, &cidr) == 0, "bad trusted prefix %s", *tr);
		CHECK_OK(t, spw_dp_trusted_add(t->fx->dp, &cidr));
	}
	for (size_t i = 0; i < ARRAY_SIZE(c->dscp); i++)
		if (c->dscp[i].on)
			CHECK_OK(t, spw_dp_dscp_set(t->fx->dp, c->dscp[i].dscp, c->dscp[i].tier));
}

/* The admit level of the case: absolute, or relative to a client's rank in the expected tier. */
static uint16_t level_of(struct tctx *t)
{
	const struct adm_case *c = t->c;
	uint8_t src[SPW_ADDR_LEN];
	long level;

	if (!c->pol.level_rel)
		return (uint16_t)c->pol.level;
	addr_of(t, c->cohort_src ? c->cohort_src : saddr_text(&c->pkt), src);
	level = (long)spw_rank(c->want.tier,
			       spw_cohort(src, salt_of(c), SPW_V6_COHORT_PREFIX_DEFAULT)) +
		c->pol.level;
	CHECK(t, level >= 0 && level <= SPW_RANK_LIMIT, "level %ld out of range", level);
	/* A floor above the level would decide instead of the level under test. */
	CHECK(t, level >= c->pol.floor, "the floor %u masks the level %ld", c->pol.floor, level);
	return (uint16_t)level;
}

static void write_policy(struct tctx *t)
{
	for (const struct svc_cfg *s = svcs_of(t->c); s->id; s++)
		CHECK_OK(t, spw_dp_policy_set(t->fx->dp, s->id, &t->pol));
}

static void apply_policy(struct tctx *t)
{
	const struct pol_cfg *pc = &t->c->pol;
	uint64_t now = spw_now_ns();
	struct spw_policy *p = &t->pol;

	if (pc->lease == LEASE_NONE)
		return;
	spw_policy_init(p, pc->tier_count, pc->default_tier);
	p->admit_level = level_of(t);
	p->floor_level = pc->floor;
	p->flags = pc->flags;
	memcpy(p->action, pc->action, sizeof(p->action));
	memcpy(p->rate_per_sec, pc->rate, sizeof(p->rate_per_sec));
	memcpy(p->burst, pc->burst, sizeof(p->burst));
	/* Monotonic time is well past a second after boot: "now - 1 s" is a real past. */
	p->lease_expires_ns = pc->lease == LEASE_PAST ? now - 1000000000ULL : now + LEASE_NS;
	write_policy(t);
}

/* Last, right before the packet: an "empty just now" bucket must not refill a token first. */
static void apply_buckets(struct tctx *t)
{
	const struct pol_cfg *pc = &t->c->pol;
	struct spw_bucket b = {0};

	if (pc->bucket == BUCKET_UNUSED)
		return;
	b.last_ns = spw_now_ns();
	if (pc->bucket == BUCKET_EMPTY_OLD)
		b.last_ns -= BUCKET_AGE_NS;
	if (pc->bucket == BUCKET_PART_ENOUGH || pc->bucket == BUCKET_PART_SHORT) {
		b.last_ns -= SPW_BUCKET_UNIT / 2;
		b.units = pc->bucket == BUCKET_PART_ENOUGH ? SPW_BUCKET_UNIT * 6 / 10
							   : SPW_BUCKET_UNIT * 3 / 10;
	}
	if (pc->bucket == BUCKET_AHEAD) {
		b.last_ns += BUCKET_AHEAD_NS;
		b.units = SPW_BUCKET_UNIT * 3 / 2;
	}
	t->bucket_last_ns = b.last_ns;
	for (const struct svc_cfg *s = svcs_of(t->c); s->id; s++)
		for (uint32_t tier = 0; tier < SPW_MAX_TIERS; tier++)
			CHECK_OK(t, spw_dp_bucket_set(t->fx->dp, s->id, tier, &b));
}

/* ------------------------------------------------------------------------------------- */
/* Output checks                                                                          */

static void check_rst(struct tctx *t, const uint8_t *in_pkt, size_t in_len,
		      const struct spw_run *run)
{
	char why[256];

	CHECK(t, spw_check_rst(in_pkt, in_len, run->data, run->len, why, sizeof(why)) == 0, "%s",
	      why);
}

static void check_icmp(struct tctx *t, const uint8_t *in_pkt, size_t in_len,
		       const struct spw_run *run)
{
	struct pkt_view in, r;
	size_t quote, in_ip_len;
	char why[256];

	CHECK(t, pkt_parse(in_pkt, in_len, &in) == 0, "test packet does not parse");
	CHECK(t, pkt_parse(run->data, run->len, &r) == 0, "ICMP reply does not parse (%u bytes)",
	      run->len);
	CHECK(t,
	      spw_check_reply_l2l3(in_pkt, in_len, run->data, run->len,
				   in.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, why,
				   sizeof(why)) == 0,
	      "%s", why);
	quote = r.payload_len;
	in_ip_len = in.l4_off + in.l4_len - in.l3_off;
	if (r.family == 4) {
		CHECK(t, pkt_ipv4_csum_ok(run->data, run->len), "IPv4 header checksum wrong");
		CHECK(t, r.icmp_type == 3 && r.icmp_code == 13,
		      "ICMP %u/%u, want 3/13 (administratively prohibited)", r.icmp_type,
		      r.icmp_code);
		/* RFC 792: the internet header plus the first 64 bits of its data. */
		CHECK(t, quote == in.ihl * 4u + 8, "quote of %zu bytes, want %u", quote,
		      in.ihl * 4u + 8);
	} else {
		CHECK(t, r.icmp_type == 1 && r.icmp_code == 1,
		      "ICMPv6 %u/%u, want 1/1 (administratively prohibited)", r.icmp_type,
		      r.icmp_code);
		/* RFC 4443 2.4(c): as much as fits in 1280 bytes, at least up to the ports. */
		CHECK(t, quote >= in.l4_off - in.l3_off + 8 && quote <= in_ip_len,
		      "quote of %zu bytes, want %zu..%zu", quote, in.l4_off - in.l3_off + 8,
		      in_ip_len);
		CHECK(t, r.len - r.l3_off <= 1280, "ICMPv6 reply of %zu bytes exceeds 1280",
		      r.len - r.l3_off);
	}
	CHECK(t, r.payload_off + quote == r.len, "bytes after the quote");
	CHECK(t, !memcmp(run->data + r.l4_off + 4, "\0\0\0\0", 4), "unused field not zero");
	CHECK(t, !memcmp(run->data + r.payload_off, in_pkt + in.l3_off, quote),
	      "quote is not the start of the original IP packet");
	CHECK(t, pkt_l4_csum_ok(run->data, run->len), "ICMP checksum wrong");
}

/* ------------------------------------------------------------------------------------- */
/* Running packets                                                                        */

static void print_changes(const struct spw_fx_change *ch, int n, size_t max)
{
	for (int i = 0; i < n && i < (int)max; i++)
		print_message("    counter moved: [%u][%u][%s] +%llu packets +%llu bytes\n",
			      ch[i].svc, ch[i].tier_slot, reason_str(ch[i].reason),
			      (unsigned long long)ch[i].delta.packets,
			      (unsigned long long)ch[i].delta.bytes);
}

/* Runs one packet and checks verdict, counters (exactly one moved) and output. */
static void step(struct tctx *t, const struct pkt_spec *spec, const struct expect *w)
{
	uint8_t pkt[PKT_BUF_MAX];
	struct spw_fx_change ch[4];
	struct spw_run run;
	size_t len = pkt_build(spec, pkt, sizeof(pkt));
	int n;

	CHECK(t, len > 0, "the packet spec does not build");
	CHECK_OK(t, spw_fixture_mark(t->fx));
	CHECK_OK(t, spw_fixture_run(t->fx, t->prog, pkt, len, &run));
	CHECK(t, run.retval == verdict_code(t->prog, w->verdict), "verdict %d, want %d", run.retval,
	      verdict_code(t->prog, w->verdict));

	n = spw_fixture_changes(t->fx, ch, ARRAY_SIZE(ch));
	CHECK(t, n >= 0, "reading counters: %s", strerror(-n));
	if (n != 1 || ch[0].svc != w->svc || ch[0].tier_slot != w->tier ||
	    ch[0].reason != w->reason)
		print_changes(ch, n, ARRAY_SIZE(ch));
	CHECK(t, n == 1, "%d counters moved, want exactly [%u][%u][%s]", n, w->svc, w->tier,
	      reason_str(w->reason));
	CHECK(t, ch[0].svc == w->svc && ch[0].tier_slot == w->tier && ch[0].reason == w->reason,
	      "counted on [%u][%u][%s], want [%u][%u][%s]", ch[0].svc, ch[0].tier_slot,
	      reason_str(ch[0].reason), w->svc, w->tier, reason_str(w->reason));
	CHECK(t, ch[0].delta.packets == 1 && ch[0].delta.bytes == len,
	      "+%llu packets +%llu bytes, want +1 +%zu", (unsigned long long)ch[0].delta.packets,
	      (unsigned long long)ch[0].delta.bytes, len);

	if (w->verdict != V_REJECT) {
		/* What spillway does not reject it does not touch. */
		CHECK(t, run.len == len && !memcmp(run.data, pkt, len),
		      "packet modified (%u bytes out of %zu in)", run.len, len);
	} else if ((spec->proto ? spec->proto : IPPROTO_TCP) == IPPROTO_TCP) {
		check_rst(t, pkt, len, &run);
	} else {
		check_icmp(t, pkt, len, &run);
	}
}

static void run_case(void **state)
{
	struct tctx *t = *state;
	const struct adm_case *c = t->c;

	apply_salt(t);
	apply_classes(t);
	apply_policy(t);
	if (c->pre)
		c->pre(t);
	apply_buckets(t);
	step(t, &t->spec, &c->want);
	if (c->check_units) {
		struct spw_bucket b;

		CHECK_OK(t, spw_dp_bucket_get(t->fx->dp, c->want.svc, c->want.tier, &b));
		CHECK(t, b.units == c->units_after, "bucket holds %llu units, want %llu",
		      (unsigned long long)b.units, (unsigned long long)c->units_after);
	}
	if (c->post)
		c->post(t);
}

static void bucket_not_behind_post(struct tctx *t)
{
	struct spw_bucket b;

	CHECK_OK(t, spw_dp_bucket_get(t->fx->dp, t->c->want.svc, t->c->want.tier, &b));
	CHECK(t, b.last_ns == t->bucket_last_ns, "last_ns %llu after the take, want %llu",
	      (unsigned long long)b.last_ns, (unsigned long long)t->bucket_last_ns);
}

/* The flow's first packet admitted, then the level drops to shed everything. */
static void udp_established_pre(struct tctx *t)
{
	struct expect first = {V_PASS, t->c->want.svc, t->c->want.tier, R(ADMITTED)};

	step(t, &t->spec, &first);
	t->pol.admit_level = 0;
	t->pol.floor_level = 0;
	write_policy(t);
}

/* A new flow (another source port) is still decided, and shed. */
static void udp_established_post(struct tctx *t)
{
	struct expect other = {V_DROP, t->c->want.svc, t->c->want.tier, R(SHED_LEVEL)};
	struct pkt_spec s = t->spec;

	s.sport++;
	step(t, &s, &other);
}

/* ------------------------------------------------------------------------------------- */
/* Tests outside the table                                                                */

/*
 * One data plane for the whole run: loading it costs about half a second, against
 * microseconds per case. Cases stay independent all the same: each one's configuration is
 * removed again by its teardown (and checked gone), counters are compared as deltas, and each
 * test uses a client port of its own, so the UDP flows one case leaves in the flow table
 * match no other case's packets.
 */
static struct spw_fixture shared_fx;

static int group_setup(void **state)
{
	(void)state;
	return spw_fixture_open(&shared_fx) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	spw_fixture_close(&shared_fx);
	return 0;
}

/* Client ports start here, two per test: the UDP cases also use port + 1. */
#define SPORT_BASE 20000

static int fx_setup(void **state)
{
	struct tctx *t = *state;

	t->fx = &shared_fx;
	t->spec = t->c->pkt;
	t->spec.sport = (uint16_t)(SPORT_BASE + 2 * t->index);
	return 0;
}

/* A delete that finds nothing to delete is fine: a failed case may have stopped halfway. */
static int undo_err(int err)
{
	return err == -ENOENT ? 0 : err;
}

/* Removes everything run_case() may have written, then checks that none of it is left. */
static int fx_teardown(void **state)
{
	struct tctx *t = *state;
	const struct adm_case *c = t->c;
	struct spw_dataplane *dp = t->fx->dp;
	const struct spw_bucket full = {0};
	struct spw_cidr cidr;
	struct spw_rule rule;
	int err = 0;

	for (const struct svc_cfg *sv = svcs_of(c); sv->id; sv++) {
		struct spw_service_match m = {.proto = sv->proto, .port = sv->port};
		uint32_t id = 0;

		if (sv->addr) {
			m.has_addr = true;
			err |= spw_fixture_addr(sv->addr, m.addr);
		}
		err |= undo_err(spw_dp_service_del(dp, &m));
		err |= undo_err(spw_dp_policy_del(dp, sv->id));
		for (uint32_t tier = 0; tier < SPW_MAX_TIERS; tier++)
			err |= spw_dp_bucket_set(dp, sv->id, tier, &full);
		err |= spw_dp_service_lookup(dp, m.proto, m.port, m.addr, &id);
		if (id != SPW_SVC_NONE)
			fprintf(stderr, "teardown: service %u still found after delete\n", id);
		err |= id != SPW_SVC_NONE;
	}
	for (const struct rule_cfg *r = c->rules; r && r->cidr; r++) {
		err |= spw_fixture_cidr(r->cidr, &cidr);
		err |= undo_err(spw_dp_rule_del(dp, &cidr));
		if (spw_dp_rule_lookup(dp, cidr.addr, &rule) != -ENOENT) {
			fprintf(stderr, "teardown: rule %s still matches after delete\n", r->cidr);
			err = -1;
		}
	}
	for (const char *const *tr = c->trusted; tr && *tr; tr++) {
		err |= spw_fixture_cidr(*tr, &cidr);
		err |= undo_err(spw_dp_trusted_del(dp, &cidr));
	}
	for (size_t i = 0; i < ARRAY_SIZE(c->dscp); i++)
		if (c->dscp[i].on)
			err |= spw_dp_dscp_set(dp, c->dscp[i].dscp, SPW_DSCP_UNMAPPED);
	if (err)
		fprintf(stderr, "teardown of \"%s\" left state behind\n", c->desc);
	return err ? -1 : 0;
}

/*
 * Truncation at every length from 14 bytes (BPF_PROG_RUN refuses frames shorter than an
 * Ethernet header with -EINVAL, so 0..13 cannot be run) up to one byte short of the whole
 * packet: every cut passes untouched, counted malformed, under a policy that would reject.
 * The whole packet is then rejected, so the cut packets are exactly the ones not understood.
 */
/*
 * The skb flavour of BPF_PROG_RUN (TC programs) refuses with -EINVAL an untagged IPv4 or IPv6
 * frame too short for the fixed IP header (seen on 6.18: it reads the header to set up the
 * test socket), so those cuts never reach the TC program. XDP runs them all; a tagged frame
 * is not looked into, so its cuts all reach TC too.
 */
static bool skb_run_refuses(const uint8_t *pkt, size_t cut)
{
	uint16_t type = (uint16_t)(pkt[12] << 8 | pkt[13]);

	return (type == PKT_ETH_P_IP && cut < 14 + 20) || (type == PKT_ETH_P_IPV6 && cut < 14 + 40);
}

static void truncate_each(struct tctx *t, const struct pkt_spec *spec)
{
	unsigned int refused = 0;
	uint8_t pkt[PKT_BUF_MAX];
	size_t len = pkt_build(spec, pkt, sizeof(pkt));
	struct spw_run run;

	CHECK(t, len > 14, "the packet spec does not build");
	for (size_t cut = 14; cut < len; cut++) {
		struct spw_fx_change ch[2];
		int n, err;

		CHECK_OK(t, spw_fixture_mark(t->fx));
		err = spw_fixture_run(t->fx, t->prog, pkt, cut, &run);
		if (t->prog != SPW_PROG_XDP && err == -EINVAL && skb_run_refuses(pkt, cut)) {
			refused++;
			continue;
		}
		CHECK(t, err == 0, "cut to %zu of %zu bytes: %s", cut, len, strerror(-err));
		n = spw_fixture_changes(t->fx, ch, ARRAY_SIZE(ch));
		CHECK(t, run.retval == verdict_code(t->prog, V_PASS),
		      "cut to %zu of %zu bytes: verdict %d", cut, len, run.retval);
		CHECK(t, run.len == cut && !memcmp(run.data, pkt, cut),
		      "cut to %zu of %zu bytes: packet modified", cut, len);
		CHECK(t,
		      n == 1 && ch[0].svc == SPW_SVC_NONE && ch[0].tier_slot == SPW_TIER_NONE &&
			  ch[0].reason == R(MALFORMED) && ch[0].delta.packets == 1 &&
			  ch[0].delta.bytes == cut,
		      "cut to %zu of %zu bytes: %d counters moved, first [%u][%u][%s] +%llu", cut,
		      len, n, n > 0 ? ch[0].svc : 0, n > 0 ? ch[0].tier_slot : 0,
		      n > 0 ? reason_str(ch[0].reason) : "-",
		      n > 0 ? (unsigned long long)ch[0].delta.bytes : 0ULL);
	}
	if (refused)
		print_message("    %u cuts refused by the kernel's skb test run\n", refused);
	CHECK_OK(t, spw_fixture_run(t->fx, t->prog, pkt, len, &run));
	CHECK(t, run.retval == verdict_code(t->prog, V_REJECT), "whole packet: verdict %d",
	      run.retval);
}

static const struct pkt_spec trunc_specs[] = {
    SYN4(),
    SYN6(),
    SYN4(QINQ, .ip_opts_len = 8),
    SYN6(VLAN1, .ext_count = 2, .ext = {EXT(PKT_EXT_HOPOPTS), EXT(PKT_EXT_DSTOPTS)}),
};

static const char *const trunc_names[] = {
    "IPv4 SYN with Linux options",
    "IPv6 SYN with Linux options",
    "IPv4 SYN with options, in two tags, with IP options",
    "IPv6 SYN with options, in a tag, behind two extension headers",
};

static void test_truncation(void **state)
{
	struct tctx *t = *state;

	apply_salt(t);
	apply_classes(t);
	apply_policy(t);
	for (size_t i = 0; i < ARRAY_SIZE(trunc_specs); i++) {
		print_message("    truncating: %s\n", trunc_names[i]);
		truncate_each(t, &trunc_specs[i]);
	}
}

static const struct adm_case trunc_case =
    CASE(.desc = "truncation at every length of a TCP SYN with options: malformed, untouched",
	 SHED_ALL(REJECT), .want = WANT(V_REJECT, SVC_TCP, 2, SHED_LEVEL));

/*
 * The test's own checksum code against published values, so a bug in it cannot hide behind
 * the builder sharing it: RFC 1071's worked sum, and a well-known IPv4 header (checksum b861).
 */
static void test_checksum_vectors(void **state)
{
	static const uint8_t rfc1071[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	static const uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				     0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	uint8_t frame[14 + 0x73] = {[12] = 0x08, [13] = 0x00}; /* tot_len 0x73 */
	uint8_t pkt[PKT_BUF_MAX];
	size_t len;

	(void)state;
	assert_int_equal(pkt_fold16(pkt_sum16(rfc1071, sizeof(rfc1071), 0)), 0xddf2);
	memcpy(frame + 14, ip, sizeof(ip));
	assert_true(pkt_ipv4_csum_ok(frame, sizeof(frame)));
	frame[14 + 8] = 0x3f; /* TTL changed, checksum not */
	assert_false(pkt_ipv4_csum_ok(frame, sizeof(frame)));

	/* Built packets verify, and one flipped bit anywhere in the segment is caught. */
	len = pkt_build(&(struct pkt_spec)SYN4(.payload_len = 3), pkt, sizeof(pkt));
	assert_true(len > 0 && pkt_ipv4_csum_ok(pkt, len) && pkt_l4_csum_ok(pkt, len));
	pkt[len - 1] ^= 0x10;
	assert_false(pkt_l4_csum_ok(pkt, len));
	len = pkt_build(&(struct pkt_spec)UDP6(.ext_count = 1, .ext = {EXT(PKT_EXT_HOPOPTS)}), pkt,
			sizeof(pkt));
	assert_true(len > 0 && pkt_l4_csum_ok(pkt, len));
	pkt[len - 20] ^= 0x01;
	assert_false(pkt_l4_csum_ok(pkt, len));
}

/* The table covers the data plane: enough cases, each described, none twice. */
static void test_table(void **state)
{
	size_t tc = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		tc += cases[i].tc;
	print_message("    %zu cases, %zu of them also through TC ingress\n", ARRAY_SIZE(cases),
		      tc);
	assert_true(ARRAY_SIZE(cases) >= 60);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_non_null(cases[i].desc);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cases[i].desc, cases[j].desc))
				fail_msg("two cases named \"%s\"", cases[i].desc);
	}
}

int main(void)
{
	/* Two tests per core case at most, plus the truncation tests and two checks. */
	size_t max = 2 * ARRAY_SIZE(cases) + 4, n = 0;
	struct CMUnitTest *tests = calloc(max, sizeof(*tests));
	struct tctx *states = calloc(max, sizeof(*states));
	char **names = calloc(max, sizeof(*names));
	int failed;

	if (!tests || !states || !names)
		return 1;
	tests[n++] = (struct CMUnitTest){.name = "table: at least 60 described cases",
					 .test_func = test_table};
	tests[n++] = (struct CMUnitTest){.name = "checksum code against published vectors",
					 .test_func = test_checksum_vectors};
	for (int hook = 0; hook < 2; hook++) {
		states[n] = (struct tctx){.c = &trunc_case,
					  .prog = hook ? SPW_PROG_TC_INGRESS : SPW_PROG_XDP,
					  .index = (unsigned int)n};
		if (asprintf(&names[n], "[%s] %s", hook_name(states[n].prog), trunc_case.desc) < 0)
			return 1;
		tests[n] = (struct CMUnitTest){.name = names[n],
					       .test_func = test_truncation,
					       .setup_func = fx_setup,
					       .teardown_func = fx_teardown,
					       .initial_state = &states[n]};
		n++;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		for (int hook = 0; hook < (cases[i].tc ? 2 : 1); hook++) {
			states[n] = (struct tctx){.c = &cases[i],
						  .prog = hook ? SPW_PROG_TC_INGRESS : SPW_PROG_XDP,
						  .index = (unsigned int)n};
			if (asprintf(&names[n], "[%s] %s", hook_name(states[n].prog),
				     cases[i].desc) < 0)
				return 1;
			tests[n] = (struct CMUnitTest){.name = names[n],
						       .test_func = run_case,
						       .setup_func = fx_setup,
						       .teardown_func = fx_teardown,
						       .initial_state = &states[n]};
			n++;
		}
	}
	failed = _cmocka_run_group_tests("bpf_admission", tests, n, group_setup, group_teardown);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(states);
	free(tests);
	return failed;
}
