/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control law: pressure in, admit level out (pure C, no BPF calls, unit-tested against a
 * simulated server in tests/lib/sim_server.*).
 *
 * The level is a rank threshold (include/spillway_abi.h): a new flow is admitted iff
 * tier * 32 + cohort < level. Lowering it sheds the most sheddable tier cohort by cohort,
 * then the next, and it never goes below the floor (the top of tier 0 when tier 0 is
 * protected). The law sheds fast (multiplicative steps that grow with pressure, bounded per
 * tick) and recovers slowly (additive steps once pressure has stayed below 1 - hysteresis for
 * a while), so it settles without oscillating.
 */
#ifndef SPW_CONTROL_H
#define SPW_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct spw_law_params {
	uint32_t floor;	   /* lowest level: SPW_COHORTS protects tier 0, 0 protects none */
	uint32_t ceiling;  /* full admission: tier_count * SPW_COHORTS */
	double hysteresis; /* recover only below 1 - hysteresis (0.1) */
	uint64_t tick_ns;  /* the daemon's tick (100 ms) */
	/* The constants below have defaults (spw_law_defaults); see spw_control.c for why. */
	double shed_gain; /* fraction of the admitted range cut per unit of excess pressure */
	double shed_max_fraction;  /* bound on one tick's cut, as a fraction of the level */
	uint32_t shed_min_ranks;   /* smallest cut when over target: progress even near 1.0 */
	uint64_t recover_after_ns; /* pressure must stay low this long before raising */
	uint32_t recover_ranks;	   /* additive raise per tick while recovering */
	/* spw_control.c says why: */
	double smooth_weight;	/* weight of a new reading in the smoothed pressure (0.1) */
	uint32_t confirm_ticks; /* readings at a level before a slight excess (below
				 * 1 + hysteresis) is acted on (5) */
};

/* Defaults for the given floor, ceiling, hysteresis and tick. */
void spw_law_defaults(struct spw_law_params *p, uint32_t floor, uint32_t ceiling, double hysteresis,
		      uint64_t tick_ns);

struct spw_law_state {
	double level;		    /* kept fractional so small steps accumulate */
	uint64_t low_since_ns;	    /* when pressure went below 1 - hysteresis; 0 = not low */
	int last_direction;	    /* -1 shed, +1 recover, 0 hold */
	uint32_t direction_changes; /* since init: oscillation diagnostics (tests, metrics) */
	int last_move;		    /* direction of the last change (-1, +1), 0 before any; a
				     * change against it counts in direction_changes */
	double smoothed;	    /* mean pressure of the readings at the current level, the
				     * first after a change left out */
	uint32_t samples;	    /* fresh readings since the last change of level */
	double prev_pressure;	    /* the last fresh reading */
};

/* Starts at full admission (the ceiling). */
void spw_law_init(struct spw_law_state *s, const struct spw_law_params *p);

/*
 * One tick. pressure is spw_pressure()'s result (NAN: no fresh signal, treated as low so the
 * service recovers rather than stays shed on nothing). Returns the integer level to enforce,
 * always within [floor, ceiling]. The hold band is judged on the pressure smoothed over the
 * readings at the current level; a reading at or above 1 + hysteresis sheds at once.
 */
uint32_t spw_law_step(struct spw_law_state *s, const struct spw_law_params *p, double pressure,
		      uint64_t now_ns);

/*
 * The Retry-After an app should hand a refused client: seconds, with a jitter range so that
 * clients told to come back do not all come back at once. Longer when more is shed and when
 * the level is still falling. lo <= hi, both 0 when nothing is shed.
 */
void spw_retry_hint(uint32_t level, uint32_t prev_level, const struct spw_law_params *p,
		    uint32_t *lo_s, uint32_t *hi_s);

#endif /* SPW_CONTROL_H */
