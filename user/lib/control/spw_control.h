/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control law: readings and demand in, admit level out (pure C, no BPF calls, tested
 * against a simulated server in tests/lib/sim_server.*).
 *
 * The level is a rank threshold (include/spillway_rank.h): a new flow is admitted iff
 * tier * 32 + cohort < level, and it never goes below the floor (the top of tier 0 when tier
 * 0 is protected). The law works in two steps:
 *
 *   how much: the rate of new flows the service carries at its target, estimated from the
 *             readings (admitted rate / pressure of the signals that grow with the load);
 *   who:      the level that admits that rate, found from the demand the data plane counts
 *             per tier and per rank (many clients split a tier evenly over its cohorts, so
 *             its demand is linear in its open cohorts; a few hosts put it in a few cohorts,
 *             and the per-rank counts say which).
 *
 * So a cut lands where the load fits in one step instead of walking there, and recovery
 * jumps back as soon as the measured demand fits. spw_control.c says why each rule and
 * constant is what it is.
 */
#ifndef SPW_CONTROL_H
#define SPW_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include "spillway_abi.h"

struct spw_law_params {
	uint32_t floor;	   /* lowest level: SPW_COHORTS protects tier 0, 0 protects none */
	uint32_t ceiling;  /* full admission: tier_count * SPW_COHORTS */
	double hysteresis; /* hold band [1 - h, 1]; a reading >= 1 + h is a clear overload */
	uint64_t tick_ns;  /* the daemon's tick: the law steps at most once per tick */
	/* The constants below have defaults (spw_law_defaults); spw_control.c says why. */
	double aim;		   /* pressure a cut or a recovery aims at, inside the band */
	uint64_t settle_ns;	   /* readings this soon after a change still show the old level */
	uint64_t confirm_ns;	   /* a slight excess must last this long before a cut */
	uint64_t smooth_ns;	   /* time constant of the smoothed pressure */
	uint64_t recover_after_ns; /* a low reading must last this long before a rise */
	double max_cut;		   /* without a capacity estimate, the largest share of the
				    * admitted rate one cut removes */
	uint64_t demand_ns;	   /* time constant of the demand estimate */
	uint64_t capacity_ns;	   /* time constant of the capacity estimate */
	double learn_min;	   /* smallest load pressure the capacity is learned from */
	/* With no signal at all, or only signals that do not scale with the load: */
	uint64_t drift_after_ns; /* wait before drifting up */
	uint32_t drift_ranks;	 /* ranks added per tick while drifting */
};

/* Defaults for the given floor, ceiling, hysteresis and tick. */
void spw_law_defaults(struct spw_law_params *p, uint32_t floor, uint32_t ceiling, double hysteresis,
		      uint64_t tick_ns);

/* A service's signals as the law reads them (spw_pressure_read fills one). */
struct spw_law_reading {
	double pressure;	   /* largest value / target of the fresh signals; NAN: none */
	double load_pressure;	   /* the same over fresh signals that grow in proportion to
				    * the admitted load and are not saturated; NAN: none */
	bool saturated;		   /* a fresh fill is at or past 1: a clear overload */
	double saturated_pressure; /* largest value / target of the saturated fills */
	/*
	 * The reading's time: the newest measurement among the signals over target when the
	 * reading is over (only a new measurement of an overload may draw another cut), else
	 * the newest fresh measurement; 0: nothing fresh.
	 */
	uint64_t taken_ns;
	/*
	 * How long a request admitted may sit in the service before a fresh delay signal shows
	 * it: a low reading proves nothing of the admissions in that last stretch (0: no delay
	 * signal, or none fresh). See spw_signal_shows_after_ms().
	 */
	uint64_t lag_ns;
};

/*
 * What the data plane counted for a service over one window: new flows the level let pass
 * (admitted, or refused afterwards by a cap, rate or reservation), new flows the level shed,
 * and new flows that entered the service.
 */
struct spw_law_counts {
	uint64_t passed[SPW_MAX_TIERS];
	uint64_t shed[SPW_MAX_TIERS];
	uint64_t admitted[SPW_MAX_TIERS];
	uint64_t end_ns;    /* the window's end */
	uint64_t window_ns; /* the window's length */
	double level;	    /* the level enforced during the window (time-weighted mean) */
	double level_min;   /* the lowest level enforced in it (0: level's) */
	/*
	 * The same new flows by rank (tier * SPW_COHORTS + cohort) the level let pass and shed;
	 * ranks_known false: not counted, cohorts are taken to split each tier uniformly.
	 */
	bool ranks_known;
	uint64_t rank_passed[SPW_RANK_LIMIT];
	uint64_t rank_shed[SPW_RANK_LIMIT];
};

/* Windows of admissions the law keeps: 3.2 s of 100 ms ticks, more than a stale signal. */
#define SPW_LAW_HISTORY 32

struct spw_law_window {
	uint64_t end_ns, len_ns;
	double admitted;
};

struct spw_law_state {
	double level; /* kept fractional so small steps accumulate; enforced: its integer part */
	uint32_t tiers;
	/* Demand, from spw_law_observe: */
	double demand[SPW_MAX_TIERS]; /* new flows/s each tier offers at full admission */
	bool demand_known;
	/*
	 * Where in each tier the demand is, from the per-rank counts: the first rank_open[t]
	 * ranks of tier t were open all through the last window and rank_rate holds what each
	 * let pass (new flows/s), the others' what each was offered. Used for the tiers whose
	 * load is skewed over their cohorts (a few hosts); the others' is spread evenly.
	 * rank_passed holds what each rank let pass the last time it was open all through a
	 * window (rank_seen_open: it has been), so a rank shed since is not taken at its
	 * offered count alone, which counts the retries of its refused clients.
	 */
	double rank_rate[SPW_RANK_LIMIT];
	double rank_passed[SPW_RANK_LIMIT];
	bool rank_seen_open[SPW_RANK_LIMIT];
	uint32_t rank_open[SPW_MAX_TIERS];
	bool rank_skewed[SPW_MAX_TIERS];
	struct spw_law_window hist[SPW_LAW_HISTORY]; /* admissions, newest at hist_head - 1 */
	uint32_t hist_head, hist_len;
	/* Capacity: new flows/s the service admits at pressure 1; 0 until learned. */
	double capacity;
	uint64_t capacity_ns;
	bool capacity_lowered; /* last set by saturation, not learned */
	/*
	 * Delay signals only (no capacity): the highest new flows/s admitted steadily while the
	 * delay stayed low, a lower bound of the capacity; 0 when none, or when an overload was
	 * read at or below it since (the capacity fell). And the gain of the next probe past it,
	 * doubled by each rise and restarted by each cut.
	 */
	double served;
	bool served_lowered; /* by an overload since the last low reading */
	double rise_gain;
	/* Readings: */
	uint64_t read_ns;	    /* taken_ns of the newest reading stepped on */
	uint64_t interval_ns;	    /* time between readings (smoothed): a reporter's period,
				     * over which its readings may average */
	uint64_t moved_ns;	    /* when the level last moved (once per tick at most) */
	uint64_t changed_ns;	    /* when the enforced level last changed */
	uint64_t low_since_ns;	    /* first of a run of low readings; 0: not low */
	uint64_t over_since_ns;	    /* first of a run of slight excesses; 0: none */
	double smoothed;	    /* pressure averaged over smooth_ns, readings of this level
				     * only (NAN: none yet) */
	uint64_t smoothed_ns;	    /* the last reading in it */
	uint64_t band_since_ns;	    /* first of a run of readings in the band */
	uint64_t no_signal_ns;	    /* since when nothing was fresh; 0: something is */
	double prev_pressure;	    /* the last fresh reading */
	uint64_t clear_since_ns;    /* first of a run of clear overloads (those straddling a
				     * change left out); 0: none */
	double clear_prev;	    /* the pressure of the last of them */
	double entering;	    /* new flows/s entering the service, shed or not */
	uint64_t fall_since_ns;	    /* start of a run of windows with fewer entering, not yet
				     * taken as the demand (rises wait); 0: none */
	double over_level;	    /* the level a clear overload was last read at */
	uint64_t over_ns;	    /* when; 0: none remembered (or the demand fell since) */
	int last_move;		    /* -1 cut, +1 raise, 0 before any */
	uint32_t direction_changes; /* since init: oscillation diagnostics (tests, metrics) */
	/* The windows since fall_since_ns, summed: taken whole once the fall is confirmed. */
	struct spw_law_counts fall_counts;
};

/* Starts at full admission (the ceiling), knowing nothing of demand or capacity. */
void spw_law_init(struct spw_law_state *s, const struct spw_law_params *p, uint32_t tiers);
/*
 * After spw_law_init, starts from a level enforced before (its fraction is the partial share
 * of 256) and a capacity learned before (0: none): a restarted daemon resumes from the pinned
 * policy and service record instead of opening the gates in the middle of an overload.
 */
void spw_law_resume(struct spw_law_state *s, const struct spw_law_params *p, double level,
		    double capacity);

/*
 * The cohort salt rotated: every host is in another cohort now, so what a rank let pass when
 * last open says nothing of the hosts it holds (a rank that held nothing may hold a front
 * host's whole tier). Until each rank is open again, its shed count is its demand.
 */
void spw_law_cohorts_moved(struct spw_law_state *s);

/* Feeds one window of the data plane's counts (every tick). */
void spw_law_observe(struct spw_law_state *s, const struct spw_law_params *p,
		     const struct spw_law_counts *c);

/*
 * Steps the law on a reading: call it every tick and as each report arrives. A reading is
 * judged once (one already stepped on changes nothing), and the level moves at most once per
 * tick however often reports come, so the gain does not grow with the report rate. Returns
 * the integer level to enforce, within [floor, ceiling].
 */
uint32_t spw_law_step(struct spw_law_state *s, const struct spw_law_params *p,
		      const struct spw_law_reading *r, uint64_t now_ns);

/*
 * The share of the cohort at the enforced level that is admitted too, in 1/256: the level's
 * fraction, so that a level between two ranks admits between their loads (the data plane
 * admits the hosts of that cohort whose slot is below it). 0 at the ceiling.
 */
uint32_t spw_law_partial(const struct spw_law_state *s, const struct spw_law_params *p);

/* The new flows per second the level admits, by the demand estimate (0: demand unknown). */
double spw_law_rate_at(const struct spw_law_state *s, const struct spw_law_params *p, double level);

/*
 * The Retry-After an app should hand a refused client: seconds, with a jitter range so that
 * clients told to come back do not all come back at once. Longer when more is shed and when
 * the level is still falling. lo <= hi, both 0 when nothing is shed.
 */
void spw_retry_hint(uint32_t level, uint32_t prev_level, const struct spw_law_params *p,
		    uint32_t *lo_s, uint32_t *hi_s);

#endif /* SPW_CONTROL_H */
