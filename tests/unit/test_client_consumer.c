// SPDX-License-Identifier: GPL-2.0-only
/*
 * libspillway-client's consumer decision (spw_client_consumer_*): pause when the downstream's
 * tier is shed or a pool is full, resume only after a clear hold plus a jitter, no flapping
 * under a share that wobbles across a threshold, a concurrency hint scaled by the admitted
 * share and never below 1 while running, bad readings refused without touching the state,
 * and a stale or missing state file failing open. The pure step runs on a fake clock; the poll
 * reads a state file written by the daemon's own writer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "spillway_client.h"
#include "spw_state_write.h"
#include "state_pattern.h"
#include "util.h"

#define MS	     1000000ULL
#define T0	     (1000 * MS) /* the fake clock starts here, away from 0 */
#define HOLD_MS	     SPW_CONSUMER_HOLD_MS
#define JITTER_MS    SPW_CONSUMER_JITTER_MS
#define MAX_INFLIGHT SPW_CONSUMER_MAX_INFLIGHT
/* Readings of the noise tests come this often, as a consumer polling every 100 ms would. */
#define NOISE_TICK_MS  100
#define NOISE_READINGS 6000 /* ten minutes of fake time */

static struct spw_consumer start(uint64_t seed)
{
	struct spw_consumer_config cfg;
	struct spw_consumer k;

	spw_client_consumer_defaults(&cfg);
	cfg.tier = 1;
	assert_int_equal(spw_client_consumer_init(&k, &cfg, seed), 0);
	return k;
}

static struct spw_consumer_decision step(struct spw_consumer *k, uint16_t share, uint64_t now)
{
	struct spw_consumer_input in = {.admitted_permille = share};
	struct spw_consumer_decision d;

	assert_int_equal(spw_client_consumer_step(k, &in, now, &d), 0);
	return d;
}

static struct spw_consumer_decision step_pool(struct spw_consumer *k, uint64_t in_use,
					      uint64_t capacity, uint64_t now)
{
	struct spw_consumer_pool pool = {.in_use = in_use, .capacity = capacity};
	struct spw_consumer_input in = {.admitted_permille = 1000, .pool = &pool};
	struct spw_consumer_decision d;

	assert_int_equal(spw_client_consumer_step(k, &in, now, &d), 0);
	return d;
}

static void test_bad_config(void **state)
{
	struct spw_consumer_config good, cfg;
	struct spw_consumer k;

	(void)state;
	spw_client_consumer_defaults(&good);
	assert_int_equal(spw_client_consumer_init(&k, &good, 1), 0);
	assert_false(k.paused);
	assert_int_equal(spw_client_consumer_init(NULL, &good, 1), -EINVAL);
	assert_int_equal(spw_client_consumer_init(&k, NULL, 1), -EINVAL);
#define BAD(field, value)                                                                          \
	do {                                                                                       \
		cfg = good;                                                                        \
		cfg.field = value;                                                                 \
		assert_int_equal(spw_client_consumer_init(&k, &cfg, 1), -EINVAL);                  \
	} while (0)
	BAD(tier, SPW_MAX_TIERS);
	BAD(pause_below_permille, 0);
	BAD(pause_below_permille, 1001);
	BAD(resume_permille, good.pause_below_permille - 1); /* bands would overlap */
	BAD(resume_permille, 1001);
	BAD(pool_pause_permille, 0);
	BAD(pool_pause_permille, 1001);
	BAD(pool_resume_permille, good.pool_pause_permille + 1);
	BAD(max_inflight, 0);
	BAD(hold_ms, SPW_CONSUMER_WAIT_MAX_MS);
#undef BAD
	/* The edges are fine: no band at all, one slot, no wait. */
	cfg = good;
	cfg.pause_below_permille = cfg.resume_permille = 1000;
	cfg.pool_resume_permille = 0;
	cfg.max_inflight = 1;
	cfg.hold_ms = cfg.jitter_ms = 0;
	assert_int_equal(spw_client_consumer_init(&k, &cfg, 1), 0);
}

static void test_pause_hold_resume(void **state)
{
	struct spw_consumer k = start(7);
	struct spw_consumer_decision d;
	uint64_t t = T0, resume;

	(void)state;
	d = step(&k, 1000, t);
	assert_false(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_RUN);
	assert_int_equal(d.concurrency, MAX_INFLIGHT);
	d = step(&k, 400, t += 100 * MS);
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_SHED);
	assert_int_equal(d.concurrency, 0);
	assert_int_equal(d.resume_at_ns, 0);
	/* Clear: the hold starts, with its jitter drawn once. */
	d = step(&k, 1000, t += 100 * MS);
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_HOLD);
	resume = d.resume_at_ns;
	assert_true(resume >= t + HOLD_MS * MS && resume <= t + (HOLD_MS + JITTER_MS) * MS);
	for (uint64_t u = t + 100 * MS; u < resume; u += 100 * MS) {
		d = step(&k, 1000, u);
		assert_true(d.paused);
		assert_int_equal(d.resume_at_ns, resume); /* not drawn again */
	}
	d = step(&k, 1000, resume);
	assert_false(d.paused);
	assert_int_equal(d.concurrency, MAX_INFLIGHT);
	assert_int_equal(k.pauses, 1);
	assert_int_equal(k.resumes, 1);
}

static void test_hysteresis_band(void **state)
{
	struct spw_consumer k = start(7);
	struct spw_consumer_decision d;
	uint64_t t = T0;

	(void)state;
	/* Running, a share inside the band does not pause; it lowers the concurrency. */
	d = step(&k, 600, t);
	assert_false(d.paused);
	assert_int_equal(d.concurrency, MAX_INFLIGHT * 600 / 1000);
	d = step(&k, SPW_CONSUMER_PAUSE_BELOW_PERMILLE, t += MS);
	assert_false(d.paused);
	d = step(&k, SPW_CONSUMER_PAUSE_BELOW_PERMILLE - 1, t += MS);
	assert_true(d.paused);
	/* Paused, the same share inside the band does not resume, however long it lasts. */
	for (int i = 0; i < 100; i++) {
		d = step(&k, 600, t += 100 * MS);
		assert_true(d.paused);
		assert_int_equal(d.why, SPW_CONSUMER_SHED);
	}
	/* A clear spell cut short by one reading in the band starts over. */
	d = step(&k, SPW_CONSUMER_RESUME_PERMILLE, t += 100 * MS);
	assert_int_equal(d.why, SPW_CONSUMER_HOLD);
	uint64_t first_resume = d.resume_at_ns;
	d = step(&k, SPW_CONSUMER_RESUME_PERMILLE - 1, first_resume - MS);
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_SHED);
	t = first_resume;
	d = step(&k, 1000, t);
	assert_true(d.paused); /* would have resumed here without the interruption */
	assert_true(d.resume_at_ns >= t + HOLD_MS * MS);
	assert_int_equal(k.resumes, 0);
}

/*
 * A noisy share that crosses the pause threshold all the time. With one threshold the
 * consumer would switch on nearly every other reading; here it pauses once and stays paused
 * while the share never stays clear for a hold.
 */
static void test_no_flapping_under_noise(void **state)
{
	struct spw_consumer k = start(11);
	uint64_t rng = 12345, t = T0;
	unsigned int crossings = 0;
	bool below = false;

	(void)state;
	for (int i = 0; i < NOISE_READINGS; i++) {
		/* 350..749: across pause_below (500), just short of resume (750). */
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		uint16_t share = (uint16_t)(350 + (rng >> 33) % 400);
		bool b = share < SPW_CONSUMER_PAUSE_BELOW_PERMILLE;

		crossings += b != below;
		below = b;
		step(&k, share, t += NOISE_TICK_MS * MS);
	}
	assert_true(crossings > NOISE_READINGS / 4); /* the noise did cross, often */
	assert_int_equal(k.pauses, 1);
	assert_int_equal(k.resumes, 0);
}

/*
 * Mostly clear with rare dips: every run between pauses and every pause lasts at least what
 * the hold says, so the transitions are bounded by the dips and by time / hold.
 */
static void test_noise_with_dips_bounded(void **state)
{
	struct spw_consumer k = start(13);
	uint64_t rng = 99, t = T0, paused_at = 0;
	unsigned int dips = 0;
	bool was_paused = false;

	(void)state;
	for (int i = 0; i < NOISE_READINGS; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned int r = (unsigned int)((rng >> 33) % 1000);
		/* 2 % of readings dip to 100..499, the rest wobble in 750..1000. */
		uint16_t share = (uint16_t)(r < 20 ? 100 + r * 20 : 750 + r % 251);
		struct spw_consumer_decision d;

		dips += share < SPW_CONSUMER_PAUSE_BELOW_PERMILLE;
		d = step(&k, share, t += NOISE_TICK_MS * MS);
		if (d.paused && !was_paused)
			paused_at = t;
		if (!d.paused && was_paused)
			assert_true(t - paused_at >= HOLD_MS * MS);
		if (!d.paused)
			assert_true(d.concurrency >= MAX_INFLIGHT * 750 / 1000);
		was_paused = d.paused;
	}
	assert_true(k.pauses >= 10); /* the dips did pause it */
	assert_true(k.pauses <= dips);
	assert_true(k.pauses <= (uint64_t)NOISE_READINGS * NOISE_TICK_MS / HOLD_MS);
	assert_true(k.resumes + 1 >= k.pauses && k.resumes <= k.pauses);
}

static void test_concurrency_hint(void **state)
{
	struct spw_consumer_config cfg;
	struct spw_consumer k;
	uint64_t t = T0;

	(void)state;
	k = start(1);
	assert_int_equal(step(&k, 1000, t += MS).concurrency, 8);
	assert_int_equal(step(&k, 999, t += MS).concurrency, 7);
	assert_int_equal(step(&k, 750, t += MS).concurrency, 6);
	assert_int_equal(step(&k, 500, t += MS).concurrency, 4);
	/* Never 0 while running, however small the share and the maximum. */
	spw_client_consumer_defaults(&cfg);
	cfg.pause_below_permille = 1;
	cfg.max_inflight = 3;
	assert_int_equal(spw_client_consumer_init(&k, &cfg, 1), 0);
	assert_int_equal(step(&k, 300, t += MS).concurrency, 1);
	assert_int_equal(step(&k, 1, t += MS).concurrency, 1);
	assert_int_equal(step(&k, 0, t += MS).concurrency, 0); /* paused */
}

/* Resume delays over many consumers cover [hold, hold + jitter], and nothing outside it. */
static void test_jitter_bounds(void **state)
{
	uint64_t lo = UINT64_MAX, hi = 0, t = T0;
	unsigned int distinct = 0, seen[JITTER_MS + 1] = {0};

	(void)state;
	for (uint64_t seed = 1; seed <= 500; seed++) {
		struct spw_consumer k = start(seed * 0x9e3779b97f4a7c15ULL);
		struct spw_consumer_decision d;
		uint64_t delay_ms;

		step(&k, 0, t);
		d = step(&k, 1000, t + MS);
		delay_ms = (d.resume_at_ns - (t + MS)) / MS;
		assert_true(delay_ms >= HOLD_MS && delay_ms <= HOLD_MS + JITTER_MS);
		distinct += !seen[delay_ms - HOLD_MS]++;
		lo = delay_ms < lo ? delay_ms : lo;
		hi = delay_ms > hi ? delay_ms : hi;
	}
	assert_true(distinct > 200);
	assert_true(lo < HOLD_MS + JITTER_MS / 10);
	assert_true(hi > HOLD_MS + JITTER_MS * 9 / 10);

	/* No jitter: exactly the hold. */
	struct spw_consumer_config cfg;
	struct spw_consumer k;

	spw_client_consumer_defaults(&cfg);
	cfg.jitter_ms = 0;
	assert_int_equal(spw_client_consumer_init(&k, &cfg, 5), 0);
	step(&k, 0, t);
	assert_int_equal(step(&k, 1000, t + MS).resume_at_ns, t + MS + HOLD_MS * MS);
}

static void test_pool(void **state)
{
	struct spw_consumer k = start(3);
	struct spw_consumer_decision d;
	uint64_t t = T0;

	(void)state;
	d = step_pool(&k, 900, 1000, t += MS); /* at pool_pause: not over */
	assert_false(d.paused);
	d = step_pool(&k, 901, 1000, t += MS);
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_POOL);
	d = step_pool(&k, 800, 1000, t += MS); /* inside the band: still paused */
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_POOL);
	d = step_pool(&k, 750, 1000, t += MS);
	assert_int_equal(d.why, SPW_CONSUMER_HOLD);
	/* A pool far over its capacity: paused, no overflow of the fill. */
	t = d.resume_at_ns;
	assert_false(step_pool(&k, 0, 1000, t).paused);
	d = step_pool(&k, UINT64_MAX, 3, t += MS);
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_POOL);
}

static void test_bad_input_keeps_state(void **state)
{
	struct spw_consumer k = start(9), before;
	struct spw_consumer_pool empty = {.in_use = 1, .capacity = 0};
	struct spw_consumer_input bad = {.admitted_permille = 1001};
	struct spw_consumer_decision d;
	uint64_t t = T0;

	(void)state;
	step(&k, 0, t);
	d = step(&k, 1000, t += MS);
	assert_int_equal(d.why, SPW_CONSUMER_HOLD);
	before = k;
	assert_int_equal(spw_client_consumer_step(&k, &bad, t + MS, &d), -EINVAL);
	assert_true(d.paused);
	assert_int_equal(d.concurrency, 0);
	assert_memory_equal(&k, &before, sizeof(k));
	bad.admitted_permille = 1000;
	bad.pool = &empty;
	assert_int_equal(spw_client_consumer_step(&k, &bad, t + MS, &d), -EINVAL);
	assert_memory_equal(&k, &before, sizeof(k));
	/* A clock that went back. */
	bad.pool = NULL;
	assert_int_equal(spw_client_consumer_step(&k, &bad, t - MS, &d), -EINVAL);
	assert_memory_equal(&k, &before, sizeof(k));
	assert_int_equal(spw_client_consumer_step(&k, NULL, t + MS, &d), -EINVAL);
	assert_int_equal(spw_client_consumer_step(NULL, &bad, t + MS, &d), -EINVAL);
	assert_int_equal(spw_client_consumer_step(&k, &bad, t + MS, NULL), -EINVAL);
	assert_memory_equal(&k, &before, sizeof(k));
	/* The good reading after them goes on from where it was. */
	d = step(&k, 1000, before.resume_at_ns);
	assert_false(d.paused);
}

static void test_stale_fails_open(void **state)
{
	struct spw_consumer k = start(4);
	struct spw_consumer_input in = {.stale = true, .admitted_permille = 0};
	struct spw_consumer_decision d;
	uint64_t t = T0;

	(void)state;
	/* A share of 0 from a stale daemon is no word at all: run at full concurrency. */
	assert_int_equal(spw_client_consumer_step(&k, &in, t, &d), 0);
	assert_false(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_FAIL_OPEN);
	assert_int_equal(d.concurrency, MAX_INFLIGHT);
	/* Paused when the daemon goes quiet: it resumes, after the hold like every resume. */
	step(&k, 0, t += MS);
	assert_int_equal(spw_client_consumer_step(&k, &in, t += MS, &d), 0);
	assert_true(d.paused);
	assert_true(d.resume_at_ns <= t + (HOLD_MS + JITTER_MS) * MS);
	assert_int_equal(spw_client_consumer_step(&k, &in, d.resume_at_ns, &d), 0);
	assert_false(d.paused);
	assert_int_equal(d.concurrency, MAX_INFLIGHT);
}

/* CLOCK_MONOTONIC in ns, as the daemon stamps its publishes. */
static uint64_t mono_ns(void)
{
	return (uint64_t)(spw_now_ms() * 1e6);
}

/* Pattern state k (service "web"), published age_ms ago. */
static void publish(struct spw_state_file *map, uint32_t k, uint64_t age_ms, uint8_t flags)
{
	static struct spw_state_file buf;

	spw_state_pattern(&buf, k, mono_ns() - age_ms * MS, flags);
	spw_state_write(map, &buf);
}

/* Level 32 (pattern state 32): tier 0 admitted, tier 1 not at all. */
#define SHED_TIER1 32

/* The poll against a state file the daemon's writer makes: what each reading comes to. */
static void test_poll_state_file(void **state)
{
	char dir[64] = "/tmp/spw-consumer-XXXXXX";
	struct spw_consumer_pool empty = {0};
	struct spw_state_file *map;
	struct spw_consumer_config cfg;
	struct spw_consumer_decision d;
	struct spw_consumer k;
	struct spw_client *c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	c = spw_client_open(dir, NULL);
	assert_non_null(c);
	spw_client_consumer_defaults(&cfg);
	cfg.tier = 1;
	cfg.hold_ms = cfg.jitter_ms = 0; /* resume at the first clear reading: no waiting here */
	assert_int_equal(spw_client_consumer_init(&k, &cfg, 1), 0);
	/* No file at all: fail open. */
	assert_int_equal(spw_client_consumer_poll(c, &k, "web", NULL, &d), -ESTALE);
	assert_false(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_FAIL_OPEN);

	assert_int_equal(spw_state_file_create(dir, &map), 0);
	spw_sleep_ms(1100); /* the client looks for a new file at most once a second */
	publish(map, SHED_TIER1, 0, 0);
	assert_int_equal(spw_client_consumer_poll(c, &k, "web", NULL, &d), 0);
	assert_true(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_SHED);
	/* Tier 0 of the same state is admitted. */
	k.cfg.tier = 0;
	assert_int_equal(spw_client_consumer_poll(c, &k, "web", NULL, &d), 0);
	assert_false(d.paused);
	k.cfg.tier = 1;
	assert_true(spw_client_consumer_poll(c, &k, "web", NULL, &d) == 0 && d.paused);
	/* An unknown service: fail open. */
	assert_int_equal(spw_client_consumer_poll(c, &k, "nosuch", NULL, &d), -ENOENT);
	assert_false(d.paused);
	/* Dry-run: the data plane sheds nothing, so neither does the consumer. */
	assert_true(spw_client_consumer_poll(c, &k, "web", NULL, &d) == 0 && d.paused);
	publish(map, SHED_TIER1, 0, SPW_STATE_DRY_RUN);
	assert_int_equal(spw_client_consumer_poll(c, &k, "web", NULL, &d), 0);
	assert_false(d.paused);
	/* Shed again, then the daemon stops publishing: the state file goes stale. */
	publish(map, SHED_TIER1, 0, 0);
	assert_true(spw_client_consumer_poll(c, &k, "web", NULL, &d) == 0 && d.paused);
	publish(map, SHED_TIER1, 10000, 0);
	assert_int_equal(spw_client_consumer_poll(c, &k, "web", NULL, &d), -ESTALE);
	assert_false(d.paused);
	assert_int_equal(d.why, SPW_CONSUMER_FAIL_OPEN);
	assert_int_equal(d.concurrency, SPW_CONSUMER_MAX_INFLIGHT);
	/* Bad arguments change nothing. */
	publish(map, SHED_TIER1, 0, 0);
	assert_int_equal(spw_client_consumer_poll(c, &k, "web", &empty, &d), -EINVAL);
	assert_int_equal(spw_client_consumer_poll(c, &k, NULL, NULL, &d), -EINVAL);
	assert_int_equal(spw_client_consumer_poll(NULL, &k, "web", NULL, &d), -EINVAL);
	assert_false(d.paused);
	assert_int_equal(k.pauses, 4);

	spw_client_close(c);
	spw_state_file_unmap(map);
	spw_rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_pause_hold_resume),
	    cmocka_unit_test(test_hysteresis_band),
	    cmocka_unit_test(test_no_flapping_under_noise),
	    cmocka_unit_test(test_noise_with_dips_bounded),
	    cmocka_unit_test(test_concurrency_hint),
	    cmocka_unit_test(test_jitter_bounds),
	    cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_bad_input_keeps_state),
	    cmocka_unit_test(test_stale_fails_open),
	    cmocka_unit_test(test_poll_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
