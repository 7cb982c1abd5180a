// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run-time knobs of spw_globals the config sets: the flood guard, the ICMP rejects' budget
 * and the IPv6 cohort prefix. Each setter reads the entry whole and writes it back with only
 * its own fields changed, so the salt the daemon rotates is never undone.
 */
#include <errno.h>
#include "spillway_rank.h"
#include "spw_dataplane_priv.h"

enum knob {
	KNOB_INSERT,
	KNOB_ICMP,
	KNOB_V6_PREFIX,
};

static int knob_set(struct spw_dataplane *dp, enum knob k, uint32_t a, uint32_t b)
{
	struct spw_globals g;
	int err;

	err = spw_dp_globals_get(dp, &g);
	if (err)
		return err;
	switch (k) {
	case KNOB_INSERT:
		g.insert_rate = a;
		g.insert_burst = b;
		break;
	case KNOB_ICMP:
		g.icmp_rate = a;
		g.icmp_burst = (uint16_t)b;
		break;
	case KNOB_V6_PREFIX:
		g.ipv6_cohort_prefix = (uint8_t)a;
		break;
	}
	return spw_dp_globals_set(dp, &g);
}

int spw_dp_flood_guard_set(struct spw_dataplane *dp, uint32_t rate, uint32_t burst)
{
	if (rate > SPW_RATE_MAX || burst > SPW_RATE_MAX)
		return -EINVAL;
	return knob_set(dp, KNOB_INSERT, rate, burst);
}

int spw_dp_reject_limit_set(struct spw_dataplane *dp, uint32_t rate, uint32_t burst)
{
	if (rate > SPW_RATE_MAX || burst > SPW_ICMP_BURST_MAX)
		return -EINVAL;
	return knob_set(dp, KNOB_ICMP, rate, burst);
}

int spw_dp_cohort_prefix_set(struct spw_dataplane *dp, uint32_t v6_prefix)
{
	if (!spw_v6_cohort_prefix_ok(v6_prefix))
		return -EINVAL;
	return knob_set(dp, KNOB_V6_PREFIX, v6_prefix, 0);
}
