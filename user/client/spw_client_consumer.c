// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libspillway-client: the pause/resume decision of a consumer (include/spillway_client.h,
 * part 3). spw_client_consumer_step() is the whole decision, pure: the caller hands it a
 * reading and a clock. spw_client_consumer_poll() only gathers the reading from the state
 * file and the clock and calls it.
 */
#include <errno.h>
#include <string.h>
#include "spw_client_priv.h"

#define NS_PER_MS 1000000ULL

SPW_API void spw_client_consumer_defaults(struct spw_consumer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pause_below_permille = SPW_CONSUMER_PAUSE_BELOW_PERMILLE;
	cfg->resume_permille = SPW_CONSUMER_RESUME_PERMILLE;
	cfg->pool_pause_permille = SPW_CONSUMER_POOL_PAUSE_PERMILLE;
	cfg->pool_resume_permille = SPW_CONSUMER_POOL_RESUME_PERMILLE;
	cfg->hold_ms = SPW_CONSUMER_HOLD_MS;
	cfg->jitter_ms = SPW_CONSUMER_JITTER_MS;
	cfg->max_inflight = SPW_CONSUMER_MAX_INFLIGHT;
}

static bool config_ok(const struct spw_consumer_config *cfg)
{
	/* Thresholds in order, so the clear band and the pause band never overlap. */
	return cfg->tier < SPW_MAX_TIERS && cfg->pause_below_permille >= 1 &&
	       cfg->pause_below_permille <= 1000 &&
	       cfg->resume_permille >= cfg->pause_below_permille && cfg->resume_permille <= 1000 &&
	       cfg->pool_pause_permille >= 1 && cfg->pool_pause_permille <= 1000 &&
	       cfg->pool_resume_permille <= cfg->pool_pause_permille && cfg->max_inflight >= 1 &&
	       (uint64_t)cfg->hold_ms + cfg->jitter_ms <= SPW_CONSUMER_WAIT_MAX_MS;
}

SPW_API int spw_client_consumer_init(struct spw_consumer *k, const struct spw_consumer_config *cfg,
				     uint64_t seed)
{
	if (!k || !cfg || !config_ok(cfg))
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->cfg = *cfg;
	k->rng = seed;
	return 0;
}

/* The pool's fill in thousandths; a pool over its capacity reads above 1000. */
static uint64_t fill_permille(const struct spw_consumer_pool *p)
{
	/* Clamped first: in_use * 1000 must not wrap. */
	uint64_t in_use = p->in_use > p->capacity * 2 ? p->capacity * 2 : p->in_use;

	return in_use * 1000 / p->capacity;
}

static unsigned int hint(const struct spw_consumer *k, uint16_t share)
{
	unsigned int n = (unsigned int)((uint64_t)k->cfg.max_inflight * share / 1000);

	return n ? n : 1;
}

/* The decision k stands at, for a reading judged to admit share. */
static void describe(const struct spw_consumer *k, uint16_t share, enum spw_consumer_why why,
		     struct spw_consumer_decision *out)
{
	memset(out, 0, sizeof(*out));
	out->paused = k->paused;
	out->admitted_permille = share;
	out->why = why;
	if (k->paused) {
		if (k->clearing) {
			out->why = SPW_CONSUMER_HOLD;
			out->resume_at_ns = k->resume_at_ns;
		}
	} else {
		out->concurrency = hint(k, share);
	}
}

SPW_API int spw_client_consumer_step(struct spw_consumer *k, const struct spw_consumer_input *in,
				     uint64_t now_ns, struct spw_consumer_decision *out)
{
	const struct spw_consumer_config *cfg;
	enum spw_consumer_why why;
	bool shed, full, clear;
	uint64_t fill = 0;
	uint16_t share;

	if (!k || !out)
		return -EINVAL;
	if (!in || in->admitted_permille > 1000 || (in->pool && !in->pool->capacity) ||
	    now_ns < k->last_ns) {
		/* Bad reading: say where k stands, change nothing. */
		describe(k, 1000, k->paused ? SPW_CONSUMER_SHED : SPW_CONSUMER_RUN, out);
		return -EINVAL;
	}
	cfg = &k->cfg;
	share = in->stale ? 1000 : in->admitted_permille;
	if (in->pool)
		fill = fill_permille(in->pool);
	shed = share < cfg->pause_below_permille;
	full = in->pool && fill > cfg->pool_pause_permille;
	clear = share >= cfg->resume_permille && (!in->pool || fill <= cfg->pool_resume_permille);

	if (!k->paused) {
		if (shed || full) {
			k->paused = true;
			k->clearing = false;
			k->pauses++;
		}
	} else if (!clear) {
		/* Anything short of clear, even inside the hysteresis band, starts over. */
		k->clearing = false;
	} else {
		if (!k->clearing) {
			uint64_t jitter = spw_client_rand_between(&k->rng, 0, cfg->jitter_ms);

			k->clearing = true;
			k->clear_since_ns = now_ns;
			k->resume_at_ns = now_ns + (cfg->hold_ms + jitter) * NS_PER_MS;
		}
		if (now_ns >= k->resume_at_ns) {
			k->paused = false;
			k->clearing = false;
			k->resumes++;
		}
	}
	k->last_ns = now_ns;
	if (in->stale)
		why = SPW_CONSUMER_FAIL_OPEN;
	else if (!k->paused)
		why = SPW_CONSUMER_RUN;
	else if (in->pool && fill > cfg->pool_resume_permille)
		why = SPW_CONSUMER_POOL;
	else
		why = SPW_CONSUMER_SHED;
	describe(k, share, why, out);
	return 0;
}

SPW_API int spw_client_consumer_poll(struct spw_client *c, struct spw_consumer *k,
				     const char *service, const struct spw_consumer_pool *pool,
				     struct spw_consumer_decision *out)
{
	struct spw_consumer_input in = {.pool = pool};
	struct spw_shed_state st;
	int err, serr;

	if (!c || !k || !service || !out || (pool && !pool->capacity)) {
		if (k && out)
			describe(k, 1000, k->paused ? SPW_CONSUMER_SHED : SPW_CONSUMER_RUN, out);
		return -EINVAL;
	}
	err = spw_client_shed_state(c, service, k->cfg.tier, &st);
	/*
	 * shed_state already fails open: an unknown service or tier, and a dry-run service, read
	 * as fully admitted (not shed); a stale daemon is said so.
	 */
	in.stale = st.stale;
	in.admitted_permille = st.shed ? st.admitted_permille : 1000;
	serr = spw_client_consumer_step(k, &in, spw_client_now_ns(), out);
	return serr ? serr : err;
}
