/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection reservation (pure): from a service's connection limit and the reserve each tier
 * keeps against the tiers below it, the bound on the service's active connections under which
 * the data plane admits a new flow of each tier (spw_policy.admit_below).
 */
#ifndef SPW_RESERVE_H
#define SPW_RESERVE_H

#include <stdbool.h>
#include <stdint.h>
#include "spillway_abi.h"

/*
 * out[k] = limit - (reserve[0] + ... + reserve[k-1]), at least 0 (tier k admits nothing while
 * the limit is too small for the reserves above it); out[0] = UINT32_MAX: the top tier is
 * bounded only by the server itself. Tiers from ntiers on get 0.
 */
void spw_reserve_bounds(const uint32_t reserve[SPW_MAX_TIERS], int ntiers, uint64_t limit,
			uint32_t out[SPW_MAX_TIERS]);

/*
 * The requests a service may hold in flight, all tiers summed, under which the data plane
 * admits a new flow of each tier (spw_policy.inflight_below), from the count the service
 * holds at its capacity (the in_flight signal's learned or typed target). The control law
 * sets the level once a tick; between ticks a flood's onset queues in front of every tier
 * (at 10x capacity, 80 requests each 20 ms for a service holding 20), and the law's cut
 * comes after it. The bound caps that queue in the kernel, per new flow: tier 1 is admitted
 * while fewer than guard x at_capacity are in flight, each tier below it
 * SPW_INFLIGHT_GUARD_STEP x at_capacity fewer, never under at_capacity itself (the lowest
 * tier first: a full service with a queue past it is refused to it). Tier 0 is unbounded
 * (0), as are tiers from ntiers on, and every tier when at_capacity is not a positive
 * count (not learned yet) or guard is 0 (off).
 */
#define SPW_INFLIGHT_GUARD_STEP 0.25
void spw_inflight_bounds(double at_capacity, double guard, int ntiers, uint32_t out[SPW_MAX_TIERS]);

#endif /* SPW_RESERVE_H */
