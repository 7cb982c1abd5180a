// SPDX-License-Identifier: GPL-2.0-only
/*
 * The end-to-end proof of the overload demo (tools/demo/run.sh), and its promises
 * checked on the summary it writes (build/e2e/summary.json).
 *
 * The scenario: a real PostgreSQL, the demo backend with a pool of DB connections, three
 * client namespaces (tiers 0, 1, 2) sending open-loop load with a 10/30/60 % mix through
 * veths into the server namespace, where spillway's XDP program sits. Phases: 0.5C warm, 3C
 * overload, 3C with the DB 3x slower, 0.5C recover, 10C flood (mix 5/20/75 %: tier 0 alone
 * is 0.5C), 0.5C after (C: the capacity the script measures). Run twice, spillway off and
 * on. Asserted with spillway on:
 *
 *   - every phase: tier-0 success >= 99.9 %;
 *   - tier-0 p99 against the p99 of one request on an idle system at that phase's DB speed
 *     (the script measures both): <= 5x in overload (3C) and in the flood (10C), <= 3x with
 *     the slow DB, in every second of the phase but three (T0_P99_SECONDS_OVER_MAX), and over
 *     the whole phase within twice that. The goals (1.5x at 3C, 2x at 10C, over the whole
 *     phase) are printed as met or unmet: the onset of a 3x step, the queue built before the
 *     first cut, decides the phase's p99, and it ranged from 1.3x to 4.3x idle in runs here;
 *   - overload, slow DB and flood: tier-1 success >= tier-2 success;
 *   - overload and flood: goodput (all tiers' successes per second) >= 0.75 C (the goal,
 *     0.90 C, printed; measured 0.82-0.86 C: the backend answers 503 to admitted requests of
 *     a partly shed tier that would wait for a connection, about 6 % of C), and the
 *     first cut of the phase lands within one tier (32 levels) of the level it settles at
 *     (the median of the second half's samples): no drop to the floor when tier 1 fits;
 *   - recover and after (0.5C): every tier >= 99 % success for the requests sent from 1 s
 *     after the phase's start (the load generator's per-second figures, by send time);
 *   - in both runs (and in the zero-integration one) the phases follow each other without a
 *     pause: each tier's arrivals of a phase begin within 50 ms of the last phase's end
 *     (check_phase_gaps says why that matters).
 *
 * The zero-integration variant (the backend neither reports nor reads the shed state;
 * the service has no signals key, so signals: [auto]), spillway on: tier-0 success >=
 * 97 % in overload; the goals for it (tier-0 success 99.9 % and p99 within 2x idle in
 * overload and with the slow DB, 3x in the flood, goodput 0.85 C, tier 1 at least half of the
 * integrated run's) are printed as met or unmet. The baseline (spillway off) is printed, never
 * asserted: it is expected to be far worse.
 *
 * Phases are 20 s, as in `make demo`: the p99 of a phase includes the queue built in the
 * first ~100 ms of a 3x step, and the shorter the phase the larger that onset's share (at
 * 8 s, a hundred ms of slow tier-0 requests is already 1 % of the phase's). The whole test
 * takes about 8 minutes.
 *
 * Environment: SPW_E2E_PHASE_S (default 20) seconds per phase; SPW_E2E_SUMMARY=FILE checks
 * an existing summary (a full `make demo`'s) instead of running the integrated scenario.
 * Needs root (namespaces, XDP, PostgreSQL started as its own user).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "summary_check.h"

#ifndef SPW_SRC_ROOT
#error "SPW_SRC_ROOT (the source tree) is set by the Makefile"
#endif
#ifndef SPW_BUILD_DIR
#error "SPW_BUILD_DIR (the build folder) is set by the Makefile"
#endif

#define DEFAULT_PHASE_S "20"
/* Requests of the idle measurement: enough for a p99 that means something. */
#define IDLE_N 60
#define TIERS  3

/* The demo's promises, as thresholds. */
#define T0_SUCCESS_MIN 0.999
/* Asserted: what holds with a margin on a loaded 2-core machine (runs in the README). */
#define GOODPUT_C_MIN 0.75
/* Goals: printed as met or unmet, not asserted, until the law meets them reliably. */
#define GOODPUT_C_GOAL	  0.90
#define RECOVER_AFTER_S	  1
#define RECOVER_SUCC_MIN  0.99
#define ZI_T0_SUCCESS_MIN 0.97
/* Admit levels per tier (include/spillway_abi.h SPW_COHORTS): 96 all, 32 tier 0 only. */
#define TIER_LEVELS 32

enum phase { WARM, OVERLOAD, SLOWDB, RECOVER, FLOOD, AFTER, PHASES };
static const char *const phases[PHASES] = {"warm",    "overload", "slowdb",
					   "recover", "flood",	  "after"};

/* Per loaded phase: the DB speed of its idle p99, and tier 0's p99 bound as a multiple. */
static const struct {
	enum phase phase;
	const char *speed;
	double t0_p99_idle_x; /* asserted */
	double t0_p99_goal_x; /* the goal, reported */
} loaded[] = {
    {OVERLOAD, "normal", 5.0, 1.5},
    {SLOWDB, "slow", 3.0, 2.0},
    {FLOOD, "normal", 5.0, 2.0},
};

/*
 * Tier 0's p99 bound above is held second by second: at most this many seconds of the phase
 * have a p99 over it (or no success at all). One is the onset, the queue built before the
 * first cut. Two are the host's own: on a loaded 2-core machine the backend stalled for half
 * a second in the flood, its pool 3.2x over-full with tier 0 alone admitted at 0.5C, and the
 * two seconds the stall straddled had tier-0 p99s of 430 and 470 ms whatever the law did.
 * Without spillway every second is over (1.0-3.1 s here), and a law that overshoots and cuts
 * in a cycle has 6-9 (zero integration's overload and flood in a loaded run). The whole
 * phase's p99 stays within T0_P99_PHASE_X times the bound.
 */
#define T0_P99_SECONDS_OVER_MAX 3
#define T0_P99_PHASE_X		2.0

/* The capacity the first scenario measured, reused by the second (saves the stepped run). */
static long capacity;

/*
 * Runs the scenario; returns its exit status. runs: "off on", or "on" where the baseline
 * would only repeat the first scenario's.
 */
static int run_demo(const char *out, int zero_integration, const char *runs)
{
	char cmd[1024];
	const char *ps = getenv("SPW_E2E_PHASE_S");
	char c[32] = "";
	int rc;

	if (capacity > 0)
		snprintf(c, sizeof(c), "C=%ld ", capacity);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && %sPHASE_S=%s IDLE_N=%d QUIET=1 ZERO_INTEGRATION=%d RUNS='%s' "
		 "BUILD='%s' OUT='%s' bash tools/demo/run.sh",
		 SPW_SRC_ROOT, c, ps && *ps ? ps : DEFAULT_PHASE_S, IDLE_N, zero_integration, runs,
		 SPW_BUILD_DIR, out);
	fprintf(stderr, "e2e: %s\n", cmd);
	fflush(NULL);
	rc = system(cmd);
	return rc == -1 ? -errno : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static json_t *load_summary_file(const char *path)
{
	json_error_t err;
	json_t *s;

	s = json_load_file(path, 0, &err);
	if (!s)
		fail_msg("cannot read %s: %s (line %d)", path, err.text, err.line);
	return s;
}

static json_t *load_summary(const char *out)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/summary.json", out);
	return load_summary_file(path);
}

static json_t *cell(json_t *s, const char *run, const char *phase, int tier)
{
	json_t *t = json_array_get(
	    json_object_get(
		json_object_get(json_object_get(json_object_get(s, "runs"), run), "phases"), phase),
	    (size_t)tier);

	if (!t)
		fail_msg("summary has no run %s, phase %s, tier %d", run, phase, tier);
	return t;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : -1;
}

static double success(json_t *c)
{
	double off = num(c, "offered");

	return off > 0 ? num(c, "ok") / off : 0;
}

/* Success of the requests sent from second `from` of the phase on (per_second, send time). */
static double success_from(json_t *c, int from, double *offered)
{
	json_t *secs = json_object_get(c, "per_second"), *e;
	double off = 0, ok = 0;
	size_t i;

	json_array_foreach(secs, i, e)
	{
		if (num(e, "t") < from)
			continue;
		off += num(e, "offered");
		ok += num(e, "ok");
	}
	*offered = off;
	return off > 0 ? ok / off : 0;
}

static double idle_p99(json_t *s, const char *speed)
{
	return num(json_object_get(json_object_get(s, "idle"), speed), "p99_ms");
}

static void print_run(json_t *s, const char *run)
{
	int p, t;

	if (!json_object_get(json_object_get(s, "runs"), run))
		return;
	printf("e2e: spillway %s\n", run);
	printf("  %-9s %4s %8s %8s %8s %8s %7s %8s %8s\n", "phase", "tier", "offered", "ok",
	       "refused", "timeouts", "succ%", "p50_ms", "p99_ms");
	for (p = 0; p < PHASES; p++)
		for (t = 0; t < TIERS; t++) {
			json_t *c = cell(s, run, phases[p], t);

			printf("  %-9s %4d %8.0f %8.0f %8.0f %8.0f %7.1f %8.1f %8.1f\n", phases[p],
			       t, num(c, "offered"), num(c, "ok"), num(c, "refused"),
			       num(c, "timeouts"), 100 * success(c), num(c, "p50_ms"),
			       num(c, "p99_ms"));
		}
}

static void print_summary(json_t *s)
{
	printf("e2e: capacity C = %.0f req/s, phases of %.0f s; idle p99 %.1f ms (normal DB), "
	       "%.1f ms (slow DB)\n",
	       num(s, "capacity_rps"), num(s, "phase_s"), idle_p99(s, "normal"),
	       idle_p99(s, "slow"));
	print_run(s, "off"); /* the baseline: printed, not asserted */
	print_run(s, "on");
	fflush(stdout);
}

/* Checks one condition, printing it either way; returns 1 when it failed. */
#define e2e_check(...) spw_summary_check("e2e", __VA_ARGS__)

/* The gaps between the phases of a run (spw_summary_phase_gaps). */
static int check_phase_gaps(json_t *s, const char *run)
{
	double first[PHASES * TIERS];
	int p, t;

	/* A summary of one run (RUNS=on): the other's gaps are not there to check. */
	if (!json_object_get(json_object_get(s, "runs"), run))
		return 0;
	for (p = 0; p < PHASES; p++)
		for (t = 0; t < TIERS; t++) {
			json_t *v = json_object_get(cell(s, run, phases[p], t), "first_arrival_s");

			first[p * TIERS + t] = json_is_number(v) ? json_number_value(v) : NAN;
		}
	return spw_summary_phase_gaps("e2e", run, first, PHASES, TIERS, num(s, "phase_s"));
}

/* All tiers' successes per second of a phase, as a share of the capacity. */
static double goodput_c(json_t *s, const char *run, const char *phase)
{
	double ok = 0, dur = num(cell(s, run, phase, 0), "duration_s");
	int t;

	for (t = 0; t < TIERS; t++)
		ok += num(cell(s, run, phase, t), "ok");
	return dur > 0 && num(s, "capacity_rps") > 0 ? ok / dur / num(s, "capacity_rps") : 0;
}

/* Seconds of a cell (by send time) whose p99 is over lim_ms or that had no success; -1
 * without per-second figures. */
static int seconds_over(json_t *c, double lim_ms)
{
	json_t *secs = json_object_get(c, "per_second"), *e;
	int over = 0;
	size_t i;

	if (!json_array_size(secs))
		return -1;
	json_array_foreach(secs, i, e)
	{
		if (num(e, "offered") > 0 && (num(e, "ok") <= 0 || num(e, "p99_ms") > lim_ms))
			over++;
	}
	return over;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median admit level of the samples in [from, to) s of the run; -1 without samples. */
static double median_level(json_t *s, const char *run, double from, double to)
{
	json_t *samples =
		   json_object_get(json_object_get(json_object_get(s, "runs"), run), "samples"),
	       *e;
	double v[512];
	size_t i, n = 0;

	json_array_foreach(samples, i, e)
	{
		if (n < sizeof(v) / sizeof(v[0]) && num(e, "t") >= from && num(e, "t") < to &&
		    num(e, "level") >= 0)
			v[n++] = num(e, "level");
	}
	if (!n)
		return -1;
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* The level the first cut in [from, to) s of the run landed at; -1 when nothing was cut. */
static double first_cut(json_t *s, const char *run, double from, double to)
{
	json_t *levels =
		   json_object_get(json_object_get(json_object_get(s, "runs"), run), "levels"),
	       *e;
	size_t i;

	json_array_foreach(levels, i, e)
	{
		if (num(e, "t") >= from && num(e, "t") < to && num(e, "to") < num(e, "from"))
			return num(e, "to");
	}
	return -1;
}

/* A goal not yet asserted: printed met or unmet, never failing the test. */
static void e2e_goal(bool met, const char *fmt, ...)
{
	va_list ap;

	printf("e2e: goal %s ", met ? "met:  " : "UNMET:");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void test_e2e_integrated(void **state)
{
	const char *out = SPW_BUILD_DIR "/e2e";
	int failed = 0, p, t;
	double off, s0;
	size_t i;
	json_t *s;

	(void)state;
	if (getenv("SPW_E2E_SUMMARY")) {
		s = load_summary_file(getenv("SPW_E2E_SUMMARY"));
	} else {
		assert_int_equal(run_demo(out, 0, "off on"), 0);
		s = load_summary(out);
	}
	capacity = (long)num(s, "capacity_rps");
	print_summary(s);

	failed += check_phase_gaps(s, "off") + check_phase_gaps(s, "on");
	for (p = 0; p < PHASES; p++) {
		json_t *c0 = cell(s, "on", phases[p], 0);

		failed += e2e_check(success(c0) >= T0_SUCCESS_MIN,
				    "%s: tier-0 success %.2f %% >= %.1f %%", phases[p],
				    100 * success(c0), 100 * T0_SUCCESS_MIN);
	}
	for (i = 0; i < sizeof(loaded) / sizeof(loaded[0]); i++) {
		const char *ph = phases[loaded[i].phase];
		json_t *c0 = cell(s, "on", ph, 0), *c1 = cell(s, "on", ph, 1),
		       *c2 = cell(s, "on", ph, 2);
		double lim = loaded[i].t0_p99_idle_x * idle_p99(s, loaded[i].speed);

		int over = seconds_over(c0, lim);

		failed += e2e_check(
		    num(c0, "p99_ms") >= 0 && num(c0, "p99_ms") <= T0_P99_PHASE_X * lim &&
			over >= 0 && over <= T0_P99_SECONDS_OVER_MAX,
		    "%s: tier-0 p99 %.1f ms <= %.0f x %.1f ms, and %d of its seconds over %.1f ms "
		    "(%.1f x idle p99, %s DB), <= %d",
		    ph, num(c0, "p99_ms"), T0_P99_PHASE_X, lim, over, lim, loaded[i].t0_p99_idle_x,
		    loaded[i].speed, T0_P99_SECONDS_OVER_MAX);
		e2e_goal(num(c0, "p99_ms") <=
			     loaded[i].t0_p99_goal_x * idle_p99(s, loaded[i].speed),
			 "%s: tier-0 p99 %.1f ms <= %.1f x idle p99 = %.1f ms", ph,
			 num(c0, "p99_ms"), loaded[i].t0_p99_goal_x,
			 loaded[i].t0_p99_goal_x * idle_p99(s, loaded[i].speed));
		failed += e2e_check(success(c1) >= success(c2),
				    "%s: tier-1 success %.2f %% >= tier-2 success %.2f %%", ph,
				    100 * success(c1), 100 * success(c2));
	}
	for (p = OVERLOAD; p <= FLOOD; p += FLOOD - OVERLOAD) {
		double start = num(cell(s, "on", phases[p], 0), "start_s"), len = num(s, "phase_s"),
		       g = goodput_c(s, "on", phases[p]),
		       settled = median_level(s, "on", start + len / 2, start + len),
		       cut = first_cut(s, "on", start, start + len);

		failed +=
		    e2e_check(g >= GOODPUT_C_MIN, "%s: goodput %.3f C >= %.2f C (off: %.3f C)",
			      phases[p], g, GOODPUT_C_MIN,
			      json_object_get(json_object_get(s, "runs"), "off")
				  ? goodput_c(s, "off", phases[p])
				  : NAN);
		e2e_goal(g >= GOODPUT_C_GOAL, "%s: goodput %.3f C >= %.2f C", phases[p], g,
			 GOODPUT_C_GOAL);
		failed +=
		    e2e_check(settled >= 0 && cut >= 0 && cut >= settled - TIER_LEVELS &&
				  cut <= settled + TIER_LEVELS,
			      "%s: first cut to level %.0f within %d of the settled level %.0f",
			      phases[p], cut, TIER_LEVELS, settled);
	}
	for (p = RECOVER; p <= AFTER; p += AFTER - RECOVER)
		for (t = 0; t < TIERS; t++) {
			s0 = success_from(cell(s, "on", phases[p], t), RECOVER_AFTER_S, &off);
			failed += e2e_check(off > 0 && s0 >= RECOVER_SUCC_MIN,
					    "%s: tier-%d success from %d s on %.2f %% >= 99 %% "
					    "(%.0f requests)",
					    phases[p], t, RECOVER_AFTER_S, 100 * s0, off);
		}
	json_decref(s);
	fflush(stdout);
	assert_int_equal(failed, 0);
}

/* Zero integration's goals, as far as the law meets them: printed, not asserted. */
static const struct {
	enum phase phase;
	const char *speed;
	double t0_p99_goal_x;
} zi_goals[] = {
    {OVERLOAD, "normal", 2.0},
    {SLOWDB, "slow", 2.0},
    {FLOOD, "normal", 3.0},
};
#define ZI_GOODPUT_C_GOAL 0.85
/* Tier 1's share of the integrated run's tier-1 successes it should keep in overload. */
#define ZI_T1_OF_INTEGRATED 0.5

static void zero_integration_goals(json_t *s)
{
	json_t *integrated = NULL;
	size_t i;
	double g;
	FILE *f;

	for (i = 0; i < sizeof(zi_goals) / sizeof(zi_goals[0]); i++) {
		const char *ph = phases[zi_goals[i].phase];
		json_t *c0 = cell(s, "on", ph, 0);
		double lim = zi_goals[i].t0_p99_goal_x * idle_p99(s, zi_goals[i].speed);

		e2e_goal(success(c0) >= T0_SUCCESS_MIN,
			 "zero integration, %s: tier-0 success %.2f %% >= %.1f %%", ph,
			 100 * success(c0), 100 * T0_SUCCESS_MIN);
		e2e_goal(num(c0, "p99_ms") >= 0 && num(c0, "p99_ms") <= lim,
			 "zero integration, %s: tier-0 p99 %.1f ms <= %.1f x idle p99 = %.1f ms",
			 ph, num(c0, "p99_ms"), zi_goals[i].t0_p99_goal_x, lim);
	}
	g = goodput_c(s, "on", "overload");
	e2e_goal(g >= ZI_GOODPUT_C_GOAL, "zero integration, overload: goodput %.3f C >= %.2f C", g,
		 ZI_GOODPUT_C_GOAL);
	/* The integrated scenario's summary, when this run made one before. */
	f = fopen(SPW_BUILD_DIR "/e2e/summary.json", "r");
	if (f) {
		fclose(f);
		integrated = load_summary(SPW_BUILD_DIR "/e2e");
	}
	if (integrated) {
		double zi = success(cell(s, "on", "overload", 1)),
		       full = success(cell(integrated, "on", "overload", 1));

		e2e_goal(zi >= ZI_T1_OF_INTEGRATED * full,
			 "zero integration, overload: tier-1 success %.1f %% >= half the "
			 "integrated run's %.1f %%",
			 100 * zi, 100 * full);
		json_decref(integrated);
	}
}

static void test_e2e_zero_integration(void **state)
{
	const char *out = SPW_BUILD_DIR "/e2e/zero-integration";
	json_t *s, *c0;
	int failed;

	(void)state;
	assert_int_equal(run_demo(out, 1, "on"), 0);
	s = load_summary(out);
	print_summary(s);
	c0 = cell(s, "on", "overload", 0);
	failed = check_phase_gaps(s, "on");
	failed += e2e_check(success(c0) >= ZI_T0_SUCCESS_MIN,
			    "zero integration, overload: tier-0 success %.2f %% >= 97 %%",
			    100 * success(c0));
	zero_integration_goals(s);
	json_decref(s);
	fflush(stdout);
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_e2e_integrated),
	    cmocka_unit_test(test_e2e_zero_integration),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* With a summary given, only its check: the scenario is not run. */
	if (getenv("SPW_E2E_SUMMARY")) {
		const struct CMUnitTest one[] = {cmocka_unit_test(test_e2e_integrated)};

		return cmocka_run_group_tests(one, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
