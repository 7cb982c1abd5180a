// SPDX-License-Identifier: GPL-2.0-only
/*
 * The end-to-end proof of the overload demo (tools/demo/run.sh), and its promises
 * checked on the summary it writes (build/e2e/summary.json).
 *
 * The scenario: a real PostgreSQL, the demo backend with a pool of DB connections, three
 * client namespaces (tiers 0, 1, 2) sending open-loop load with a 10/30/60 % mix through
 * veths into the server namespace, where spillway's XDP program sits. Phases: 0.5C warm, 3C
 * overload, 3C with the DB 3x slower, 0.5C recover (C: the capacity the script measures).
 * Run twice, spillway off and on. Asserted with spillway on:
 *
 *   - overload and slow-DB phases: tier-0 success >= 99 %, and tier-0 p99 over the whole
 *     phase (its onset included) <= 3x the p99 of one request on an idle system at that
 *     phase's DB speed (the script measures both);
 *   - same phases: tier-1 success >= tier-2 success;
 *   - recover phase: every tier >= 99 % success for the requests sent from 5 s after its
 *     start (the load generator's per-second figures, by scheduled send time).
 *
 * The zero-integration variant (the backend neither reports nor reads the shed state;
 * spillway has the accept-queue and latency signals only), spillway on: tier-0 success >=
 * 97 % in overload. The baseline (spillway off) is printed, never asserted: it is expected to
 * be far worse.
 *
 * Phases are 20 s, as in `make demo`: the p99 of a phase includes the queue built in the
 * first ~100 ms of a 3x step, and the shorter the phase the larger that onset's share (at
 * 8 s, a hundred ms of slow tier-0 requests is already 1 % of the phase's). The whole test
 * takes about 5.5 minutes.
 *
 * Environment: SPW_E2E_PHASE_S (default 20) seconds per phase; SPW_E2E_SUMMARY=FILE checks
 * an existing summary (a full `make demo`'s) instead of running the integrated scenario.
 * Needs root (namespaces, XDP, PostgreSQL started as its own user).
 */
#include <errno.h>
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
#define T0_SUCCESS_MIN	  0.99
#define T0_P99_IDLE_X	  3.0
#define RECOVER_AFTER_S	  5
#define RECOVER_SUCC_MIN  0.99
#define ZI_T0_SUCCESS_MIN 0.97

static const char *const phases[] = {"warm", "overload", "slowdb", "recover"};

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
	for (p = 0; p < 4; p++)
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
static int e2e_check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("e2e: %s ", ok ? "ok:  " : "FAIL:");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return !ok;
}

static void test_e2e_integrated(void **state)
{
	const char *out = SPW_BUILD_DIR "/e2e";
	const char *speed[] = {"normal", "slow"};
	int failed = 0, p, t;
	double off, s0;
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

	for (p = 0; p < 2; p++) {
		const char *ph = phases[1 + p];
		json_t *c0 = cell(s, "on", ph, 0), *c1 = cell(s, "on", ph, 1),
		       *c2 = cell(s, "on", ph, 2);
		double lim = T0_P99_IDLE_X * idle_p99(s, speed[p]);

		failed += e2e_check(success(c0) >= T0_SUCCESS_MIN,
				    "%s: tier-0 success %.2f %% >= 99 %%", ph, 100 * success(c0));
		failed += e2e_check(num(c0, "p99_ms") >= 0 && num(c0, "p99_ms") <= lim,
				    "%s: tier-0 p99 %.1f ms <= 3 x idle p99 (%s DB) = %.1f ms", ph,
				    num(c0, "p99_ms"), speed[p], lim);
		failed += e2e_check(success(c1) >= success(c2),
				    "%s: tier-1 success %.2f %% >= tier-2 success %.2f %%", ph,
				    100 * success(c1), 100 * success(c2));
	}
	for (t = 0; t < TIERS; t++) {
		s0 = success_from(cell(s, "on", "recover", t), RECOVER_AFTER_S, &off);
		failed += e2e_check(
		    off > 0 && s0 >= RECOVER_SUCC_MIN,
		    "recover: tier-%d success from %d s on %.2f %% >= 99 %% (%.0f requests)", t,
		    RECOVER_AFTER_S, 100 * s0, off);
	}
	json_decref(s);
	fflush(stdout);
	assert_int_equal(failed, 0);
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
	failed = e2e_check(success(c0) >= ZI_T0_SUCCESS_MIN,
			   "zero integration, overload: tier-0 success %.2f %% >= 97 %%",
			   100 * success(c0));
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
