/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection reservation (pure): from a service's connection limit and the reserve each tier
 * keeps against the tiers below it, the bound on the service's active connections under which
 * the data plane admits a new flow of each tier (spw_policy.admit_below).
 */
#ifndef SPW_RESERVE_H
#define SPW_RESERVE_H

#include <stdint.h>
#include "spillway_abi.h"

/*
 * out[k] = limit - (reserve[0] + ... + reserve[k-1]), at least 0 (tier k admits nothing while
 * the limit is too small for the reserves above it); out[0] = UINT32_MAX: the top tier is
 * bounded only by the server itself. Tiers from ntiers on get 0.
 */
void spw_reserve_bounds(const uint32_t reserve[SPW_MAX_TIERS], int ntiers, uint64_t limit,
			uint32_t out[SPW_MAX_TIERS]);

#endif /* SPW_RESERVE_H */
