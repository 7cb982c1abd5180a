// SPDX-License-Identifier: GPL-2.0-only
#include <math.h>
#include "spw_reserve.h"

void spw_reserve_bounds(const uint32_t reserve[SPW_MAX_TIERS], int ntiers, uint64_t limit,
			uint32_t out[SPW_MAX_TIERS])
{
	uint64_t held = 0;
	int t;

	for (t = 0; t < SPW_MAX_TIERS; t++) {
		if (t >= ntiers)
			out[t] = 0;
		else if (!t)
			out[t] = UINT32_MAX;
		else
			out[t] = held >= limit			 ? 0
				 : limit - held > UINT32_MAX - 1 ? UINT32_MAX - 1
								 : (uint32_t)(limit - held);
		if (t < ntiers)
			held += reserve[t];
	}
}

void spw_inflight_bounds(double at_capacity, double guard, int ntiers, uint32_t out[SPW_MAX_TIERS])
{
	bool on = isfinite(at_capacity) && at_capacity > 0 && isfinite(guard) && guard > 0;
	int t;

	for (t = 0; t < SPW_MAX_TIERS; t++) {
		double share = guard - SPW_INFLIGHT_GUARD_STEP * (t - 1), n;

		if (!on || !t || t >= ntiers) {
			out[t] = 0;
			continue;
		}
		n = ceil(at_capacity * (share > 1.0 ? share : 1.0));
		out[t] = n >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	}
}
