/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one ABI shared by the BPF programs (bpf/) and user space (user/).
 *
 * Only fixed-width kernel types, enums, sizes, map names and structs with explicit padding
 * live here: no libc, no vmlinux.h. User space asserts every struct size (spw_abi_check.h), so
 * a layout change that would make the two sides disagree fails the build instead of the host.
 */
#ifndef SPILLWAY_ABI_H
#define SPILLWAY_ABI_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock */

/* Bumped whenever a map key or value layout changes; stored in spw_globals. */
#define SPW_ABI_VERSION 7

/* Priority classes: 0 is critical, N-1 the most sheddable; a policy has room for 8. */
#define SPW_MAX_TIERS 8
/* Counters keep one extra tier slot for packets that were never classified. */
#define SPW_TIER_SLOTS (SPW_MAX_TIERS + 1)
#define SPW_TIER_NONE  SPW_MAX_TIERS
/* Cohorts per tier: the unit in which a tier is shed and rotated. */
#define SPW_COHORTS 32
/*
 * The cohort at the admit level is admitted in part: a host whose slot (a hash of its whole
 * address, 0..SPW_PARTIAL_ONE-1) is below the policy's partial share. So the level has a
 * fraction, and a boundary cohort's load is not all or nothing.
 */
#define SPW_PARTIAL_ONE 256
/* Largest admit level: every rank of every tier is below it, so everything is admitted. */
#define SPW_RANK_LIMIT (SPW_MAX_TIERS * SPW_COHORTS)

/* Service ids 1..63; 0 means "not a service" and owns the counters of such traffic. */
#define SPW_MAX_SERVICES 64
#define SPW_SVC_NONE	 0

/* Port table: one slot per (protocol, port); TCP ports first, then UDP. */
#define SPW_PORT_SLOTS	  (2 * 65536)
#define SPW_PORT_SLOT_TCP 0
#define SPW_PORT_SLOT_UDP 65536

/* CIDR rules and trusted DSCP sources; sized for the 100k-rule benchmark with headroom. */
#define SPW_MAX_RULES	262144
#define SPW_MAX_TRUSTED 4096
/* Services bound to a local address (the rest match any local address by port). */
#define SPW_MAX_SVC_ADDRS 1024
/* DSCP is 6 bits. */
#define SPW_DSCP_VALUES 64
/* Flow table default size; user space may resize before load. */
#define SPW_FLOWS_DEFAULT 262144

/* Parser limits: deeper nesting than this is not understood, so it passes as malformed. */
#define SPW_MAX_VLAN_TAGS 2
#define SPW_MAX_IPV6_EXT  6

/* Where the maps and links are pinned unless the caller names another root. */
#define SPW_PIN_ROOT "/sys/fs/bpf/spillway"

/*
 * Why a packet went the way it went. The values index the counters and their names label
 * the metrics, so the list is written once and expanded for both (X-macro).
 */
#define SPW_REASONS(X)                                                                             \
	X(NOT_SERVICE, "not_service")	  /* not addressed to a configured service */              \
	X(ESTABLISHED, "established")	  /* packet of a flow already admitted */                  \
	X(ADMITTED, "admitted")		  /* new flow, admitted */                                 \
	X(SHED_LEVEL, "shed_level")	  /* new flow, rank at or above the admit level */         \
	X(SHED_CAP, "shed_cap")		  /* new flow, tier at its concurrency cap */              \
	X(SHED_RATE, "shed_rate")	  /* new flow, tier's token bucket empty */                \
	X(WOULD_SHED, "would_shed")	  /* dry run: would have been shed, passed */              \
	X(FAIL_OPEN, "fail_open")	  /* policy lease expired or missing: passed */            \
	X(MALFORMED, "malformed")	  /* not understood: passed untouched */                   \
	X(FRAGMENT, "fragment")		  /* a fragment with nothing to decide: passed */          \
	X(TABLE_FULL, "table_full")	  /* flow table full: admitted untracked */                \
	X(NOT_IP, "not_ip")		  /* neither IPv4 nor IPv6 (ARP, LLDP...): passed */       \
	X(FLOOD_GUARD, "flood_guard")	  /* insert rate-guarded: admitted untracked */            \
	X(REJECT_FAILED, "reject_failed") /* shed, reject reply not buildable: dropped */          \
	X(SHED_RESERVE, "shed_reserve")	  /* new flow, slots left are reserved for tiers above */  \
	X(MARKED_EGRESS, "marked_egress") /* TC egress: a server packet given its tier's DSCP */   \
	X(EXEMPT, "exempt")		  /* new flow from an exempt source: never refused */      \
	X(TINY_FRAGMENT, "tiny_fragment") /* to a service: first fragment without its L4 header */ \
	X(HEADER_CHAIN, "header_chain")	  /* to a service: IPv6 header chain past the walk */      \
	X(REJECT_LIMITED, "reject_limited") /* shed, ICMP reject over its rate limit: dropped */

enum spw_reason {
#define SPW_REASON_ENUM(name, str) SPW_REASON_##name,
	SPW_REASONS(SPW_REASON_ENUM)
#undef SPW_REASON_ENUM
	    SPW_REASON_COUNT
};

/* Reason slots per (service, tier) counter row: room to add reasons without a relayout. */
#define SPW_REASON_SLOTS 32

/* spw_counters value: per CPU, summed by user space over libbpf_num_possible_cpus(). */
struct spw_counter {
	__u64 packets;
	__u64 bytes; /* as received, before any reject rewrite */
};

/*
 * Counters: per CPU, one row per (service, tier slot), one entry per reason slot. Every
 * ingress packet is counted exactly once, so the ingress reasons of a row add up to the
 * traffic it saw; MARKED_EGRESS counts the server's packets TC egress marked, apart.
 */
#define SPW_COUNTER_ENTRIES (SPW_MAX_SERVICES * SPW_TIER_SLOTS * SPW_REASON_SLOTS)

static inline __u32 spw_counter_index(__u32 svc, __u32 tier_slot, __u32 reason)
{
	return (svc * SPW_TIER_SLOTS + tier_slot) * SPW_REASON_SLOTS + reason;
}

/*
 * spw_rank_counts value, one per service, per CPU: the new flows of each rank (tier * 32 +
 * cohort) the level let pass and shed. The per-tier counters say how much load a tier
 * carries; these say where in it, so the controller's cut lands where the admitted load fits
 * when a tier's clients are a few hosts (a proxy, a NAT, a front tier) instead of the
 * uniform spread cohorts give many hosts. Counted for SYNs the level decides on only.
 */
struct spw_rank_count {
	__u64 passed[SPW_RANK_LIMIT];
	__u64 shed[SPW_RANK_LIMIT];
};

/* What a shed tier gets. */
enum spw_action {
	SPW_ACTION_DROP = 0,   /* silence: the client's SYN retransmission backs off */
	SPW_ACTION_REJECT = 1, /* TCP RST / ICMP admin-prohibited: fail fast elsewhere */
};

/* spw_port.flags */
enum spw_port_flags {
	/* Some service on this port is bound to a local address: consult spw_svc_addrs. */
	SPW_PORT_ADDR_BOUND = 1 << 0,
};

/* spw_policy.flags */
enum spw_policy_flags {
	/* Decide and count as would_shed, but let every packet pass. */
	SPW_POLICY_DRY_RUN = 1 << 0,
	SPW_POLICY_RESERVE = 1 << 1, /* admit_below bounds every tier (0: none of it admitted) */
};

/*
 * Addresses are kept in one 16-byte form: IPv6 as is, IPv4 as IPv4-mapped IPv6
 * (::ffff:a.b.c.d), so one LPM trie and one flow key serve both families.
 */
#define SPW_ADDR_LEN	     16
#define SPW_V4_MAPPED_PREFIX 96 /* an IPv4 /n is the mapped /96+n */

/* spw_ports value: which service owns a (protocol, port) for any local address. */
struct spw_port {
	__u16 svc_id; /* SPW_SVC_NONE when only address-bound services use the port */
	__u16 flags;  /* enum spw_port_flags */
};

/* spw_svc_addrs key: a service bound to one local address. */
struct spw_svc_addr_key {
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad0;
	__be16 port;
	__u32 pad1;
	__u8 addr[SPW_ADDR_LEN];
};

/* spw_rules and spw_trusted key: an LPM trie prefix over the 16-byte address form. */
struct spw_lpm_key {
	__u32 prefixlen;
	__u8 addr[SPW_ADDR_LEN];
};

/* spw_rules value: the tier a source prefix belongs to, and which rule said so. */
struct spw_rule {
	__u8 tier;
	__u8 pad[3];
	__u32 rule_id; /* user space's handle, shown by `spillway explain` */
};

/*
 * Exempt sources (spw_exempt): the host's own addresses and configured management and probe
 * sources, which no level, cap, rate or reservation refuses. The key leads with the address
 * family, so an IPv6 packet from an IPv4-mapped source (::ffff:a.b.c.d) can never match an
 * IPv4 entry, as it would in the 16-byte form alone; prefixlen counts the family byte.
 */
#define SPW_MAX_EXEMPT	       4096
#define SPW_EXEMPT_FAMILY_V4   4
#define SPW_EXEMPT_FAMILY_V6   6
#define SPW_EXEMPT_FAMILY_BITS 8

struct spw_exempt_key {
	__u32 prefixlen; /* SPW_EXEMPT_FAMILY_BITS + the prefix over the 16-byte form */
	__u8 family;	 /* SPW_EXEMPT_FAMILY_V4 or SPW_EXEMPT_FAMILY_V6 */
	__u8 addr[SPW_ADDR_LEN];
	__u8 pad[3]; /* never inside a prefix: at most 8 + 128 of the 160 bits */
};

/*
 * spw_exempt_v4's one value: a bit per IPv4 /16 block, set when an exempt prefix of the IPv4
 * family overlaps the block. A source in a block whose bit is clear is not exempt, decided
 * without a walk of the exempt trie (whose IPv4 entries all share the 96 mapped bits, so even
 * a few host addresses make that walk several nodes deep). Writers set a prefix's bits before
 * they insert it and recompute them all after they delete, so a clear bit always means no
 * entry; built is 0 until user space first filled the bits from the trie (a map created
 * beside an older trie), and then the trie is asked for every source.
 */
#define SPW_V4_BLOCKS	   65536
#define SPW_V4_BLOCK_WORDS (SPW_V4_BLOCKS / 64)

struct spw_v4_blocks {
	__u64 built;
	__u64 bits[SPW_V4_BLOCK_WORDS];
};

/* spw_dscp value for a DSCP with no tier mapped. */
#define SPW_DSCP_UNMAPPED 0xff

/*
 * A service's policy: everything the data plane needs to decide a new flow of the service is
 * in this one record, written whole under the lock of its struct spw_policy_rec and copied
 * out whole under it into each CPU's copy, which the decision reads.
 */
struct spw_policy {
	__u64 lease_expires_ns;	    /* CLOCK_MONOTONIC; at or past it the policy fails open */
	__u16 admit_level;	    /* a new flow is admitted iff rank < max(admit, floor) */
	__u16 floor_level;	    /* SPW_COHORTS protects all of tier 0 whatever the level */
	__u8 default_tier;	    /* tier when no CIDR rule or trusted DSCP decides */
	__u8 tier_count;	    /* tiers in use (1..8); classified tiers are clamped below it */
	__u8 flags;		    /* enum spw_policy_flags */
	__u8 partial;		    /* hosts of the rank at the admit level admitted, of 256 */
	__u8 action[SPW_MAX_TIERS]; /* enum spw_action, per tier */
	__u32 rate_per_sec[SPW_MAX_TIERS]; /* new flows per second per tier; 0 = no limit */
	__u32 burst[SPW_MAX_TIERS];	   /* bucket depth in flows; 0 means one second's worth */
	__u32 max_conns[SPW_MAX_TIERS];	   /* active flows per tier; 0 = no cap */
	/* With SPW_POLICY_RESERVE, a new flow of tier k is admitted only while the service's
	 * active flows are below admit_below[k]: the slots above are the reserve of the tiers
	 * before k. */
	__u32 admit_below[SPW_MAX_TIERS];
	__u32 generation; /* bumped by each writer update, for diagnostics */
	/* DSCP TC egress writes on the service's packets of a flow of each tier, copied into the
	 * flow when it opens: SPW_MARK_SET | dscp, 0 = leave the packets as they are. */
	__u8 mark_egress[SPW_MAX_TIERS];
	/*
	 * Flows of the service the table may hold, 0 = no bound: one service's flood (random UDP
	 * source ports, handshakes never completed) cannot fill the table for every service.
	 * Past it a new flow of the service is admitted untracked (table_full), or shed
	 * (shed_cap) when its tier has a cap: only a counted flow can be held to a cap.
	 */
	__u32 max_tracked;
	/*
	 * A new flow of tier k is admitted only while the service's requests in flight (all
	 * tiers) are below inflight_below[k], 0 = no bound: between two of the controller's
	 * ticks a flood queues no more in front of the tiers above than that. Refused as
	 * shed_reserve: the concurrency past the bound is the reserve of the tiers above.
	 */
	__u32 inflight_below[SPW_MAX_TIERS];
};

/* In spw_policy.mark_egress and spw_flow.mark: a DSCP (its low 6 bits) is to be written. */
#define SPW_MARK_SET  0x80
#define SPW_DSCP_MASK 0x3f

/*
 * spw_policies value, indexed by service id. The map is an array, so a record never moves or
 * serves another service; writers replace it with BPF_F_LOCK and the data plane copies it out
 * under the same lock into a per-CPU copy, so a decision uses one whole policy of its own
 * service.
 * (Records of a hash map without prealloc are reused at once on kernels >= 6.1, before the
 * readers of the old one are done.)
 *
 * stamp is 0 for a service with no policy, else a value each write makes new
 * (spw_policy_stamp_after: never 1, which builds before stamps always wrote): the data plane
 * keeps a per-CPU copy of each service's policy and takes the lock only when the record's
 * stamp is not its copy's, so the shed path writes no line another CPU reads. A writer that
 * kept the stamp would leave the copies as they are: only the daemon writes policies, and it
 * attaches its own build's programs before its first write.
 */
struct spw_policy_rec {
	struct bpf_spin_lock lock;
	__u32 stamp;
	struct spw_policy pol;
};

/*
 * Client-side throttling of a downstream (a destination this host connects to): two
 * generations of buckets (SPW_THROTTLE_BUCKET_MS_DEFAULT wide), the current one and the one
 * before, of the connection attempts per tier (egress SYNs, the ones refused locally
 * included) and of the accepts (SYN-ACKs) of all tiers. include/spillway_throttle.h does the
 * arithmetic, for the data plane and for the unit tests. One record per downstream, shared by all
 * CPUs and updated under its lock, so a generation is rolled over exactly once.
 */
struct spw_throttle_win {
	struct bpf_spin_lock lock;
	__u32 bucket[2]; /* bucket number each generation counts; gen = bucket & 1 */
	__u32 requests[2][SPW_MAX_TIERS]; /* attempts per generation and tier */
	__u32 accepts[2];		  /* accepts per generation, all tiers */
	__u32 reserved;
};

/* Downstreams this host throttles its connections to; id 0 is unused (no downstream). */
#define SPW_MAX_DOWNSTREAMS 64

/*
 * spw_downstreams value, keyed by the destination prefix (spw_lpm_key): this host's outgoing
 * connections to it (and to port, when not 0). Their tier is, in order: the tier of the local
 * socket's cgroup in spw_out_cgroups (when SPW_DS_CGROUPS is set), the DSCP the packet
 * carries when spw_dscp maps it, default_tier. With bucket_ms > 0 a new TCP connection is
 * counted in window id of spw_throttle and may be refused locally; with mark[tier] set, TC
 * egress writes that DSCP on every packet of the connection.
 */
struct spw_downstream {
	__u32 id;	   /* 1 .. SPW_MAX_DOWNSTREAMS - 1 */
	__be16 port;	   /* 0 = any port */
	__u8 default_tier; /* < SPW_MAX_TIERS */
	__u8 flags;	   /* enum spw_downstream_flags */
	__u32 k_centi;	   /* K in hundredths: 200 = 2.0 */
	__u32 bucket_ms;   /* the throttle window's width; 0 = not throttled */
	/* DSCP written on the connection's packets per tier: SPW_MARK_SET | dscp, 0 = none. */
	__u8 mark[SPW_MAX_TIERS];
};

/* spw_downstream.flags */
enum spw_downstream_flags {
	/* Some local cgroup has a tier for this downstream: look the socket's cgroup up. */
	SPW_DS_CGROUPS = 1 << 0,
};

/* Local cgroups given a tier for their connections to a downstream (spw_out_cgroups). */
#define SPW_MAX_OUT_CGROUPS 1024

/* spw_out_cgroups key: a cgroup v2 id (its directory's inode) and a downstream id. */
struct spw_out_cgroup_key {
	__u64 cgroup_id;
	__u32 downstream; /* spw_downstream.id */
	__u32 pad;
};

/* What the throttle counts per downstream and tier (spw_thr_counts). */
enum spw_throttle_kind {
	SPW_THR_REQUESTS,  /* outgoing SYNs, the throttled ones included */
	SPW_THR_ACCEPTS,   /* SYN-ACKs back from the downstream */
	SPW_THR_REFUSALS,  /* RSTs and ICMP admin-prohibited back from the downstream */
	SPW_THR_THROTTLED, /* SYNs refused locally: never left the host */
	SPW_THR_MARKED,	   /* packets to the downstream given their tier's DSCP */
	SPW_THR_KINDS,
};

#define SPW_THROTTLE_COUNT_ENTRIES (SPW_MAX_DOWNSTREAMS * SPW_MAX_TIERS * SPW_THR_KINDS)

static inline __u32 spw_throttle_count_index(__u32 id, __u32 tier, __u32 kind)
{
	return (id * SPW_MAX_TIERS + tier) * SPW_THR_KINDS + kind;
}

/* spw_globals value (single entry): knobs the daemon rotates at run time. */
struct spw_globals {
	__u32 cohort_salt;     /* mixed into the cohort hash; rotated every epoch */
	__u32 abi_version;     /* SPW_ABI_VERSION of whoever initialised the maps */
	__u64 salt_rotated_ns; /* CLOCK_MONOTONIC of the last rotation */
	__u32 insert_rate;     /* flood guard: new flow entries per second per CPU; 0 = no limit */
	__u32 insert_burst;    /* flood guard bucket depth; 0 means one second's worth */
	/* Zero in maps an older daemon made (these 8 bytes were reserved): /64 cohorts, no
	 * ICMP limit, what it did. */
	__u8 ipv6_cohort_prefix; /* 48, 56 or 64 (0 and anything else: 64), see spw_v6_mask() */
	__u8 pad;
	__u16 icmp_burst; /* ICMP reject bucket depth; 0 means one second's worth */
	__u32 icmp_rate;  /* ICMP rejects per second per CPU; 0 = no limit */
};

/* icmp_burst is 16 bits: the room the reserved field had. */
#define SPW_ICMP_BURST_MAX 65535

/*
 * Token bucket scale: one new flow costs this many units, so refill can be computed in whole
 * numbers from nanoseconds (units added = elapsed_ns * rate_per_sec).
 */
#define SPW_BUCKET_UNIT 1000000000ULL
/* Elapsed time counted per refill is capped so elapsed * rate cannot overflow 64 bits. */
#define SPW_BUCKET_MAX_ELAPSED_NS (1ULL << 36)
/* Rates above this (2^24 flows/s) are rejected by user space; with the cap, no overflow. */
#define SPW_RATE_MAX (1U << 24)

/* spw_buckets value, one per (service, tier): the new-flow token bucket's state. */
struct spw_bucket {
	struct bpf_spin_lock lock; /* the bucket is shared by all CPUs: refill+take is one step */
	__u32 pad;
	__u64 units;   /* tokens * SPW_BUCKET_UNIT */
	__u64 last_ns; /* CLOCK_MONOTONIC of the last refill; 0 = full */
};

static inline __u32 spw_bucket_index(__u32 svc, __u32 tier)
{
	return svc * SPW_MAX_TIERS + tier;
}

/* spw_flows key: the client side of a flow, as seen at ingress. */
struct spw_flow_key {
	__u8 saddr[SPW_ADDR_LEN];
	__u8 daddr[SPW_ADDR_LEN];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* Flow states (spw_flow.state). */
enum spw_flow_state {
	SPW_FLOW_SYN_SEEN = 1, /* client SYN admitted, no data seen yet: expires on syn_timeout */
	SPW_FLOW_ESTABLISHED = 2, /* data from either side: the handshake completed */
	SPW_FLOW_UDP = 3,	  /* a UDP flow: ends only by idle timeout */
};

/*
 * spw_flows value: 20 bytes (24 as the kernel stores it), so key + value + the kernel's
 * per-element header (48) stay within the 128 bytes per flow the design allows: 112. Times are
 * CLOCK_MONOTONIC in microseconds, truncated to 32 bits: they are only ever compared as
 * differences, which survive the wrap (every 71 minutes) as long as timeouts stay below
 * SPW_FLOW_TIMEOUT_MAX_US.
 */
struct spw_flow {
	__u32 last_us; /* last activity, refreshed at most once per SPW_FLOW_TOUCH_US */
	__u32 req_us;  /* first client data byte of a request not yet answered; 0 = none */
	__u16 svc_id;
	__u8 tier;
	__u8 cohort;
	__u8 state; /* enum spw_flow_state */
	__u8 mark;  /* the policy's mark_egress of the tier when the flow opened */
	__u8 pad[2];
	/*
	 * TCP: the sequence number the server expects next from the client, as far as the
	 * tracker knows (the SYN's + 1, the client's data, the server's acks). A client FIN or
	 * RST ends the flow only near it (SPW_TCP_END_WINDOW): the kernel ignores one outside
	 * its window (RFC 5961), and so must the active counts.
	 */
	__u32 cli_nxt;
};

/*
 * How far behind the client's next sequence a client FIN or RST may be and still end the
 * flow: the largest window without scaling. The kernel's own next expected byte is never
 * ahead of the furthest client byte the filter saw, so a genuine end lies in
 * [cli_nxt - window, cli_nxt]; a blind spoofer hits this range once in 65536 tries.
 */
#define SPW_TCP_END_WINDOW 65535U

/*
 * The "recently admitted" filter in front of the flow table (spw_recent): a bit array of
 * flow-key hashes that a SYN reads before it pays for a flow lookup. Each hash owns two bits
 * of one word, one per generation; the data plane sets both, before it inserts a SYN_SEEN
 * flow, and the sweep clears one generation at a time, at least syn_timeout after it cleared
 * the other and only after it removed the SYN_SEEN entries that old (see spw_dp_flows_sweep).
 * 4096 words are 32 KiB, small enough to stay in a core's L2; 131072 slots, so tens of
 * thousands of half-open flows make a false hit (which costs one lookup) unlikely.
 */
#define SPW_RECENT_WORDS 4096
#define SPW_RECENT_SLOTS (SPW_RECENT_WORDS * 32)
/* The two generations: even bits and odd bits of every word. */
#define SPW_RECENT_GEN0 0x5555555555555555ULL
#define SPW_RECENT_GEN1 0xaaaaaaaaaaaaaaaaULL

/* A flow's last_us is rewritten at most this often: the write is not free on a hot path. */
#define SPW_FLOW_TOUCH_US 1000000U
/* Longest idle/half-open timeout the 32-bit microsecond stamps can measure, with margin. */
#define SPW_FLOW_TIMEOUT_MAX_US (30U * 60U * 1000000U)

/*
 * Active flows per (service, tier slot): exact counts, shared atomics (the caps need them
 * global). Slot SPW_ACTIVE_TOTAL holds the service's total, which the reservation checks.
 */
#define SPW_ACTIVE_TOTAL   SPW_TIER_NONE
#define SPW_ACTIVE_ENTRIES (SPW_MAX_SERVICES * SPW_TIER_SLOTS)

static inline __u32 spw_active_index(__u32 svc, __u32 tier_slot)
{
	return svc * SPW_TIER_SLOTS + tier_slot;
}

/*
 * Response latency: a histogram per (service, tier) in microseconds, each power of two split
 * in 8 linear sub-buckets (include/spillway_latency.h has the bounds); 240 buckets cover the
 * 32-bit range. Per CPU: 64 x 8 x 240 x 8 bytes = 960 KiB per CPU.
 */
#define SPW_LAT_BUCKETS 240
#define SPW_LAT_ENTRIES (SPW_MAX_SERVICES * SPW_MAX_TIERS * SPW_LAT_BUCKETS)

static inline __u32 spw_latency_index(__u32 svc, __u32 tier, __u32 bucket)
{
	return (svc * SPW_MAX_TIERS + tier) * SPW_LAT_BUCKETS + bucket;
}

/*
 * The same per service, all tiers together, in one shared mmapable array: what the daemon's
 * latency signal reads every tick without a syscall (reading 240 per-CPU buckets of every
 * tier of 20 services cost 4 ms a tick). Incremented atomically; only responses touch it.
 */
#define SPW_LAT_SVC_ENTRIES (SPW_MAX_SERVICES * SPW_LAT_BUCKETS)

static inline __u32 spw_latency_svc_index(__u32 svc, __u32 bucket)
{
	return svc * SPW_LAT_BUCKETS + bucket;
}

/*
 * Requests in flight per (service, tier slot): flows whose request's first byte has been seen
 * and whose response has not begun (spw_flow.req_us set). Exact, shared atomics like the
 * active counts: only the CPU that moved req_us from 0 to a stamp adds, and only the one that
 * moved it back to 0 (response, close, sweep) takes away. The tier slots are counted; the
 * service's total is their sum (one atomic fewer per request), so SPW_ACTIVE_TOTAL stays 0.
 */
#define SPW_INFLIGHT_ENTRIES SPW_ACTIVE_ENTRIES

/*
 * The same requests by the time they started, per service: a ring of SPW_REQ_SLOTS counters,
 * each covering 2^SPW_REQ_SLOT_SHIFT microseconds (8.192 ms) of start times, 8.4 s in all.
 * The oldest non-empty slot behind now is the age of the oldest outstanding request, to one
 * slot: a CoDel-style sojourn time read in one pass over 1024 counters without a syscall and
 * without walking the flow table, for one more atomic add at a request's start and end (64 x
 * 1024 x 8 bytes = 512 KiB; an array's elements are 8-byte aligned anyway). A request
 * outstanding longer than the ring's span shares a slot with younger ones and reads younger
 * (the age saturates near the span, far above any target). 2^32 us divides by the ring's
 * span, so the 32-bit stamps index it consistently across their wrap.
 */
#define SPW_REQ_SLOT_SHIFT  13
#define SPW_REQ_SLOTS	    1024
#define SPW_REQ_AGE_ENTRIES (SPW_MAX_SERVICES * SPW_REQ_SLOTS)

static inline __u32 spw_req_age_index(__u32 svc, __u32 req_us)
{
	return svc * SPW_REQ_SLOTS + ((req_us >> SPW_REQ_SLOT_SHIFT) & (SPW_REQ_SLOTS - 1));
}

/*
 * spw_guard and spw_icmp_guard value: per CPU, a token bucket's state (the flood guard's
 * budget of new table entries; the ICMP rejects' budget).
 */
struct spw_insert_guard {
	__u64 units;   /* tokens * SPW_BUCKET_UNIT */
	__u64 last_ns; /* CLOCK_MONOTONIC of the last refill; 0 = full */
};

/*
 * Reported pools and queues, kept in a pinned map (spw_reports): the daemon writes what apps
 * send to its socket, the CLI reads it, and a privileged sidecar may write it directly.
 * No BPF program reads it; it lives here so every reader agrees on the layout.
 */
#define SPW_MAX_REPORTS	    256
#define SPW_REPORT_NAME_MAX 32

enum spw_report_kind {
	SPW_REPORT_POOL = 1,
	SPW_REPORT_QUEUE = 2,
};

struct spw_report_key {
	__u8 kind; /* enum spw_report_kind */
	__u8 pad[3];
	char name[SPW_REPORT_NAME_MAX]; /* NUL-padded */
};

struct spw_report {
	__u64 updated_ns; /* CLOCK_MONOTONIC when it arrived */
	__u64 in_use;	  /* pool */
	__u64 capacity;	  /* pool: > 0 */
	__u64 waiting;	  /* pool: callers waiting for a slot */
	__u64 wait_ms;	  /* pool: wait time (the app's p99 or max) */
	__u64 depth;	  /* queue */
	__u64 limit;	  /* queue: 0 = unbounded (no fill signal) */
	__u64 age_ms;	  /* queue: age of the oldest item */
	__u32 present;	  /* SPW_REPORT_HAS_* bits: which optional fields the line carried */
	__u32 reserved;
};

enum spw_report_fields {
	SPW_REPORT_HAS_WAITING = 1 << 0,
	SPW_REPORT_HAS_WAIT_MS = 1 << 1,
	SPW_REPORT_HAS_LIMIT = 1 << 2,
	SPW_REPORT_HAS_AGE_MS = 1 << 3,
};

/*
 * Manual override of a service's level (`spillway policy set`), pinned in spw_overrides:
 * the daemon enforces it instead of the control law until it expires.
 */
struct spw_override {
	__u64 expires_ns; /* CLOCK_MONOTONIC */
	__u16 level;	  /* admit level to enforce */
	__u8 dry_run;	  /* 1: dry-run on, 0: as configured */
	__u8 pad[5];
};

/* Longest service name, terminator included (the config's names are shorter). */
#define SPW_SERVICE_NAME_LEN 32

/*
 * spw_services value, keyed by service id: which configured service holds the id and what its
 * controller had learned, so a restarted daemon gives every service its id back (counters,
 * caps and active counts are keyed by id) and resumes where it was. name[0] == 0: free.
 */
struct spw_service_rec {
	char name[SPW_SERVICE_NAME_LEN];
	__u64 capacity_mfps; /* learned capacity in new flows per 1000 s; 0 = not learned */
	__u64 saved_ns;	     /* CLOCK_MONOTONIC when it was written */
};

/* Interfaces spillway can be attached to at once (spw_attached, spw_tx_failed entries). */
#define SPW_MAX_ATTACHED 64

/*
 * An interface as the kernel names it: ifindexes repeat across network namespaces, so the
 * namespace's cookie (SO_NETNS_COOKIE, the kernel's net->net_cookie) is part of the key.
 */
struct spw_iface_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u32 pad;
};

/* How spillway's TC programs sit on an interface (spw_attach_rec.tc_kind). */
enum spw_tc_kind {
	SPW_TC_NONE = 0,   /* no TC program of spillway's there */
	SPW_TC_TCX = 1,	   /* tcx links (kernel >= 6.6), pinned as link_tcx_{in,eg}_IFINDEX */
	SPW_TC_CLSACT = 2, /* clsact filters at the handles and priorities recorded here */
};

/*
 * spw_attached value: what spillway put on an interface, so that a restart replaces its own
 * programs in place and detach removes them and nothing else. User space only.
 */
struct spw_attach_rec {
	__u8 mode;	    /* enum spw_attach_mode of the last attach */
	__u8 tc_kind;	    /* enum spw_tc_kind */
	__u16 ingress_prio; /* clsact: priority of the ingress filter; 0 = none (XDP modes) */
	__u16 egress_prio;  /* clsact: priority of the egress filter */
	__u8 xdp_via;	    /* XDP modes: enum spw_xdp_dispatcher (0 = spillway's own link) */
	__u8 pad;
	__u32 ingress_handle; /* clsact: handle of the ingress filter */
	__u32 egress_handle;  /* clsact: handle of the egress filter */
	__u32 xdp_prog_id;    /* libxdp: id of spillway's program in the dispatcher */
	__u32 reserved;
};

#endif /* SPILLWAY_ABI_H */
