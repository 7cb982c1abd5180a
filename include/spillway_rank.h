/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cohort and rank: written once, compiled into the BPF programs and into user space, so
 * `spillway explain` computes exactly what the data plane does.
 */
#ifndef SPILLWAY_RANK_H
#define SPILLWAY_RANK_H

#include "spillway_abi.h"

/* murmur3's 32-bit finaliser: full avalanche in a few multiplies, fine for the verifier. */
static inline __u32 spw_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

static inline __u32 spw_be32_at(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | (__u32)p[3];
}

static inline int spw_addr_is_v4(const __u8 *addr)
{
	return addr[0] == 0 && addr[1] == 0 && addr[2] == 0 && addr[3] == 0 && addr[4] == 0 &&
	       addr[5] == 0 && addr[6] == 0 && addr[7] == 0 && addr[8] == 0 && addr[9] == 0 &&
	       addr[10] == 0xff && addr[11] == 0xff;
}

/* The IPv6 cohort prefixes a config may name, and the default: the /64 one host holds. */
#define SPW_V6_COHORT_PREFIX_DEFAULT 64
#define SPW_V6_COHORT_PREFIXES_TEXT  "48, 56 or 64"

static inline int spw_v6_cohort_prefix_ok(__u32 prefix)
{
	return prefix == 48 || prefix == 56 || prefix == 64;
}

/*
 * The second 32-bit word of an IPv6 source that its cohort and host slot hash, as a mask: the
 * address's first `prefix` bits are the unit one client holds (a /64 by default; a provider
 * handing out /56 or /48 makes that the unit). Only 48, 56 and 64 are configurable; any other
 * value (0: maps made before the knob) is a /64. Constant masks, no variable shift: the
 * verifier sees a branch, not an unbounded shift.
 */
static inline __u32 spw_v6_mask(__u32 prefix)
{
	if (prefix == 48)
		return 0xffff0000U;
	if (prefix == 56)
		return 0xffffff00U;
	return 0xffffffffU;
}

/*
 * Cohort of a client: its /24 (IPv4) or its /v6_prefix (IPv6, see spw_v6_mask) hashed with the
 * epoch salt. Clients of one prefix share a cohort, so one host cannot escape shedding by
 * changing its source port or its address inside the prefix it holds, and a new salt
 * reshuffles which prefixes are shed first.
 */
static inline __u32 spw_cohort(const __u8 *addr, __u32 salt, __u32 v6_prefix)
{
	__u32 w0, w1;

	if (spw_addr_is_v4(addr)) {
		w0 = spw_be32_at(addr + 12) & 0xffffff00U;
		w1 = 0x0000ffffU; /* keeps 10.0.0.0/24 apart from the IPv6 prefix 0a00:0000::/64 */
	} else {
		w0 = spw_be32_at(addr);
		w1 = spw_be32_at(addr + 4) & spw_v6_mask(v6_prefix);
	}
	return spw_mix32(spw_mix32(w0 ^ salt) ^ w1) % SPW_COHORTS;
}

/*
 * Host slot of a client (0..SPW_PARTIAL_ONE-1): what admits part of the cohort at the admit
 * level. Finer than the cohort (an IPv4 host; an IPv6 prefix, the unit one client holds),
 * seeded apart from it so the slots split every cohort evenly, and salted: a slot is no
 * standing privilege either. IPv6 hashes the same prefix as the cohort: with a /48 cohort and
 * /64 slots, a client holding the /48 would try its /64s until one had a slot inside the
 * partial share and pass at every level that admits any part of its cohort.
 */
static inline __u32 spw_host_slot(const __u8 *addr, __u32 salt, __u32 v6_prefix)
{
	__u32 seed = salt ^ 0x9e3779b9U;

	if (spw_addr_is_v4(addr))
		return spw_mix32(spw_be32_at(addr + 12) ^ seed) % SPW_PARTIAL_ONE;
	return spw_mix32(spw_mix32(spw_be32_at(addr) ^ seed) ^
			 (spw_be32_at(addr + 4) & spw_v6_mask(v6_prefix))) %
	       SPW_PARTIAL_ONE;
}

static inline __u32 spw_rank(__u32 tier, __u32 cohort)
{
	return tier * SPW_COHORTS + cohort;
}

/* The level the data plane enforces: the floor wins over a lower admit level. */
static inline __u32 spw_effective_level(const struct spw_policy *p)
{
	return p->admit_level > p->floor_level ? p->admit_level : p->floor_level;
}

/*
 * Whether a client of rank `rank` (host slot `slot`) passes the level of a policy: below the
 * effective level, or at the admit level with its slot inside the partial share. The floor
 * has no partial rank: it protects whole cohorts.
 */
static inline int spw_level_admits(const struct spw_policy *p, __u32 rank, __u32 slot)
{
	__u32 eff = spw_effective_level(p);

	if (rank < eff)
		return 1;
	return rank == eff && p->admit_level >= p->floor_level && slot < p->partial;
}

/*
 * Cohorts of `tier` a policy sheds (0..SPW_COHORTS): its ranks at or above the effective
 * level. Written once for the daemon's state file, the exporter and the CLI.
 */
static inline __u32 spw_tier_shed_cohorts(__u32 level, __u32 floor, __u32 tier)
{
	__u32 eff = level > floor ? level : floor, base = tier * SPW_COHORTS;

	if (eff <= base)
		return SPW_COHORTS;
	if (eff - base >= SPW_COHORTS)
		return 0;
	return SPW_COHORTS - (eff - base);
}

/* The same as a rounded percentage, as status and /v1/state show it. */
static inline __u32 spw_shed_percent(__u32 cohorts)
{
	return (cohorts * 100 + SPW_COHORTS / 2) / SPW_COHORTS;
}

#endif /* SPILLWAY_RANK_H */
