// SPDX-License-Identifier: GPL-2.0-only
/*
 * Simulated server (sim_server.h). Time advances in steps of dt; within a step, in order:
 * requests whose service ends complete and free their connection, waiters take the free
 * connections in FIFO order, then the step's new connections arrive, are admitted or shed by
 * the level, and start, wait or are refused. Occupancy is sampled after that, so it is the
 * occupancy during the step.
 *
 * Arrivals are counted, not timed: a tier's count per step is Poisson(rate * dt), drawn with
 * Knuth's product-of-uniforms method. No libm (the tests do not link it): e^-x is computed
 * here. The cost is one uniform per arrival, so five simulated minutes at 40,000 connections
 * per second take a fraction of a second.
 */
#include <stdlib.h>
#include <string.h>
#include "sim_server.h"

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* Latency histograms have one bin per step; the last bin collects everything longer. */
#define SIM_LAT_BINS 16384
/*
 * Knuth's method multiplies uniforms until the product drops below e^-mean: beyond a mean of
 * a few hundred e^-mean nears the smallest double, so larger means are drawn as sums of
 * Poisson variables of at most this mean (a sum of Poissons is Poisson).
 */
#define SIM_POISSON_CHUNK 200.0
/* Waiters: far more than any test needs, and the queue's entry count cannot overflow. */
#define SIM_QUEUE_MAX (1U << 24)

struct sim_qentry {
	uint64_t step; /* arrival step */
	uint32_t tier;
	uint32_t count;
};

struct sim_server {
	struct sim_config cfg;
	uint64_t step;
	uint32_t level;
	uint32_t partial; /* share of the cohort at the level admitted, in 1/256 */
	double capacity;
	uint32_t svc_steps; /* service time in steps: M / C rounded, at least 1 */

	/* Completion ring: ring[slot * tiers + tier] requests end at the step of that slot. */
	uint32_t *ring;
	uint32_t ring_len; /* power of two, > svc_steps */
	uint32_t in_use;

	/* FIFO of waiters, in entries of (arrival step, tier, count). */
	struct sim_qentry *queue;
	uint32_t q_cap, q_head, q_len; /* entries */
	uint32_t waiting;	       /* requests */

	/* Arrivals: e^-mean of each tier's Poisson per step, and its chunk count. */
	double mean[SIM_MAX_TIERS];
	double exp_neg[SIM_MAX_TIERS];
	uint32_t chunks[SIM_MAX_TIERS];
	uint64_t rng;
	uint64_t rank_rng; /* cohorts of connections decided by their tier alone */
	uint64_t cohort_bits;
	uint32_t cohort_left;

	/* Hosts of the tiers with few clients (cfg.sources): cohort and host slot of each. */
	uint32_t src_cohort[SIM_MAX_TIERS][SIM_MAX_SOURCES];
	uint32_t src_slot[SIM_MAX_TIERS][SIM_MAX_SOURCES];

	struct sim_counts total[SIM_MAX_TIERS];
	uint64_t rank_admitted[SIM_MAX_TIERS * SIM_COHORTS];
	uint64_t rank_shed[SIM_MAX_TIERS * SIM_COHORTS];
	uint64_t busy_total, wait_total;
	uint64_t *lat; /* [tier][SIM_LAT_BINS], latency in steps, requests that started */

	/* Current window. */
	uint64_t w_start_step;
	uint64_t w_busy_sum, w_wait_sum;
	uint32_t w_wait_max;
	uint64_t w_started;
	uint64_t *w_wait;    /* [SIM_LAT_BINS]: wait in steps of requests started in the window */
	uint32_t w_wait_top; /* highest bin used, to clear cheaply */
	struct sim_counts w_tier[SIM_MAX_TIERS];
};

/* splitmix64: small, fast and well mixed; plenty for arrival noise. */
static uint64_t sim_rand_from(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t sim_rand(struct sim_server *s)
{
	return sim_rand_from(&s->rng);
}

/* Uniform in (0, 1]: never 0, so a product of them never sticks at 0. */
static double sim_uniform(struct sim_server *s)
{
	return (double)((sim_rand(s) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* Cohort 0..31: five bits at a time out of one 64-bit draw (12 cohorts per draw). */
static uint32_t sim_cohort(struct sim_server *s)
{
	uint32_t c;

	if (!s->cohort_left) {
		s->cohort_bits = sim_rand(s);
		s->cohort_left = 12;
	}
	c = (uint32_t)(s->cohort_bits & (SIM_COHORTS - 1));
	s->cohort_bits >>= 5;
	s->cohort_left--;
	return c;
}

/* e^-x for 0 <= x <= SIM_POISSON_CHUNK: halve x below 1/64, Taylor series, square back. */
static double sim_exp_neg(double x)
{
	double r = 1.0, term = 1.0;
	int halvings = 0, i;

	while (x > 1.0 / 64) {
		x /= 2;
		halvings++;
	}
	for (i = 1; i <= 8; i++) {
		term *= -x / i;
		r += term;
	}
	while (halvings--)
		r *= r;
	return r;
}

static uint32_t sim_poisson_chunk(struct sim_server *s, double exp_neg)
{
	double prod = sim_uniform(s);
	uint32_t k = 0;

	while (prod > exp_neg) {
		k++;
		prod *= sim_uniform(s);
	}
	return k;
}

static uint32_t sim_poisson(struct sim_server *s, uint32_t tier)
{
	uint32_t i, n = 0;

	if (s->mean[tier] <= 0.0)
		return 0;
	for (i = 0; i < s->chunks[tier]; i++)
		n += sim_poisson_chunk(s, s->exp_neg[tier]);
	return n;
}

static void sim_set_mean(struct sim_server *s, uint32_t tier, double per_sec)
{
	double mean = per_sec > 0 ? per_sec * (double)s->cfg.dt_ns / NSEC_PER_SEC : 0.0;
	uint32_t chunks = 1;

	while (mean / chunks > SIM_POISSON_CHUNK)
		chunks++;
	s->cfg.rate[tier] = per_sec > 0 ? per_sec : 0.0;
	s->mean[tier] = mean;
	s->chunks[tier] = chunks;
	s->exp_neg[tier] = sim_exp_neg(mean / chunks);
}

static uint32_t sim_service_steps(const struct sim_server *s, double capacity)
{
	double steps = (double)s->cfg.pool_size / capacity * NSEC_PER_SEC / (double)s->cfg.dt_ns;
	uint32_t n = (uint32_t)(steps + 0.5);

	return n ? n : 1;
}

/* Makes the completion ring long enough for svc_steps, keeping what is pending. */
static int sim_ring_fit(struct sim_server *s, uint32_t svc_steps)
{
	uint32_t len = 16, tiers = s->cfg.tiers, i, t;
	uint32_t *ring;

	while (len <= svc_steps)
		len *= 2;
	if (s->ring && len <= s->ring_len)
		return 0;
	ring = calloc((size_t)len * tiers, sizeof(*ring));
	if (!ring)
		return -1;
	if (s->ring) {
		/* Pending completions lie in the next ring_len steps. */
		for (i = 0; i < s->ring_len; i++) {
			uint64_t step = s->step + i;
			uint32_t from = (uint32_t)(step & (s->ring_len - 1));
			uint32_t to = (uint32_t)(step & (len - 1));

			for (t = 0; t < tiers; t++)
				ring[to * tiers + t] = s->ring[from * tiers + t];
		}
		free(s->ring);
	}
	s->ring = ring;
	s->ring_len = len;
	return 0;
}

struct sim_server *sim_create(const struct sim_config *cfg)
{
	struct sim_server *s;
	uint32_t t;

	if (!cfg || cfg->tiers < 1 || cfg->tiers > SIM_MAX_TIERS || !cfg->pool_size ||
	    cfg->pool_size > SIM_QUEUE_MAX || cfg->queue_limit > SIM_QUEUE_MAX ||
	    !(cfg->capacity > 0) || !cfg->dt_ns)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->rng = cfg->seed;
	s->rank_rng = cfg->seed ^ 0x9e3779b97f4a7c15ULL;
	s->capacity = cfg->capacity;
	s->level = cfg->tiers * SIM_COHORTS;
	s->svc_steps = sim_service_steps(s, cfg->capacity);
	/* Each entry holds at least one request; one spare entry per tier for a step's merge. */
	s->q_cap = cfg->queue_limit + SIM_MAX_TIERS;
	s->queue = calloc(s->q_cap, sizeof(*s->queue));
	s->lat = calloc((size_t)SIM_MAX_TIERS * SIM_LAT_BINS, sizeof(*s->lat));
	s->w_wait = calloc(SIM_LAT_BINS, sizeof(*s->w_wait));
	if (!s->queue || !s->lat || !s->w_wait || sim_ring_fit(s, s->svc_steps)) {
		sim_destroy(s);
		return NULL;
	}
	for (t = 0; t < cfg->tiers; t++) {
		uint32_t h;

		sim_set_mean(s, t, cfg->rate[t]);
		if (cfg->sources[t] > SIM_MAX_SOURCES) {
			sim_destroy(s);
			return NULL;
		}
		for (h = 0; h < cfg->sources[t]; h++) {
			s->src_cohort[t][h] =
			    (uint32_t)(sim_rand_from(&s->rank_rng) & (SIM_COHORTS - 1));
			s->src_slot[t][h] = (uint32_t)(sim_rand_from(&s->rank_rng) & 0xff);
		}
	}
	return s;
}

void sim_destroy(struct sim_server *s)
{
	if (!s)
		return;
	free(s->ring);
	free(s->queue);
	free(s->lat);
	free(s->w_wait);
	free(s);
}

void sim_set_level(struct sim_server *s, uint32_t level)
{
	s->level = level;
	s->partial = 0;
}

void sim_set_partial(struct sim_server *s, uint32_t partial)
{
	s->partial = partial > 256 ? 256 : partial;
}

uint32_t sim_level(const struct sim_server *s)
{
	return s->level;
}

void sim_set_rate(struct sim_server *s, uint32_t tier, double per_sec)
{
	if (tier < s->cfg.tiers)
		sim_set_mean(s, tier, per_sec);
}

void sim_set_capacity(struct sim_server *s, double per_sec)
{
	uint32_t steps;

	if (!(per_sec > 0))
		return;
	steps = sim_service_steps(s, per_sec);
	if (sim_ring_fit(s, steps))
		abort(); /* a test helper: no memory is not a result */
	s->capacity = per_sec;
	s->svc_steps = steps;
}

double sim_capacity(const struct sim_server *s)
{
	return s->capacity;
}

uint64_t sim_now(const struct sim_server *s)
{
	return s->step * s->cfg.dt_ns;
}

/* n requests of a tier that arrived at step `arrived` get a connection now. */
static void sim_start(struct sim_server *s, uint32_t tier, uint32_t n, uint64_t arrived)
{
	uint64_t wait = s->step - arrived, lat = wait + s->svc_steps;
	uint32_t slot = (uint32_t)((s->step + s->svc_steps) & (s->ring_len - 1));

	s->ring[slot * s->cfg.tiers + tier] += n;
	s->in_use += n;
	s->lat[tier * SIM_LAT_BINS + (lat < SIM_LAT_BINS ? lat : SIM_LAT_BINS - 1)] += n;
	if (wait >= SIM_LAT_BINS)
		wait = SIM_LAT_BINS - 1;
	s->w_wait[wait] += n;
	if (wait > s->w_wait_top)
		s->w_wait_top = (uint32_t)wait;
	s->w_started += n;
}

static void sim_enqueue(struct sim_server *s, uint32_t tier, uint32_t n)
{
	struct sim_qentry *tail;

	if (s->q_len) {
		tail = &s->queue[(s->q_head + s->q_len - 1) % s->q_cap];
		if (tail->step == s->step && tail->tier == tier) {
			tail->count += n;
			s->waiting += n;
			return;
		}
	}
	tail = &s->queue[(s->q_head + s->q_len) % s->q_cap];
	tail->step = s->step;
	tail->tier = tier;
	tail->count = n;
	s->q_len++;
	s->waiting += n;
}

static void sim_step(struct sim_server *s)
{
	uint32_t tiers = s->cfg.tiers, slot = (uint32_t)(s->step & (s->ring_len - 1));
	uint32_t *done = &s->ring[slot * tiers];
	uint32_t i, t;

	for (t = 0; t < tiers; t++) {
		s->total[t].completed += done[t];
		s->w_tier[t].completed += done[t];
		s->in_use -= done[t];
		done[t] = 0;
	}
	while (s->q_len && s->in_use < s->cfg.pool_size) {
		struct sim_qentry *e = &s->queue[s->q_head];
		uint32_t n = s->cfg.pool_size - s->in_use;

		if (n > e->count)
			n = e->count;
		sim_start(s, e->tier, n, e->step);
		e->count -= n;
		s->waiting -= n;
		if (!e->count) {
			s->q_head = (s->q_head + 1) % s->q_cap;
			s->q_len--;
		}
	}
	/* Tiers take turns arriving first, so none gets the free connections every time. */
	for (i = 0; i < tiers; i++) {
		uint32_t n, admitted = 0, k, start, queued;
		int64_t open;

		t = (uint32_t)((s->step + i) % tiers);
		n = sim_poisson(s, t);
		if (!n)
			continue;
		/*
		 * Ranks of tier t are t*32 .. t*32+31: the first `open` cohorts are admitted, and
		 * of the cohort at the level, the hosts whose slot is below the partial share.
		 */
		open = (int64_t)s->level - (int64_t)t * SIM_COHORTS;
		for (k = 0; k < n; k++) {
			uint32_t c;
			bool in;

			if (s->cfg.sources[t]) {
				uint32_t h = (uint32_t)(sim_rand(s) % s->cfg.sources[t]);

				c = s->src_cohort[t][h];
				in = open >= SIM_COHORTS ||
				     (open >= 0 &&
				      (c < (uint32_t)open ||
				       (c == (uint32_t)open && s->src_slot[t][h] < s->partial)));
			} else if (open >= 0 && open < SIM_COHORTS) {
				c = sim_cohort(s);
				in = c < (uint32_t)open ||
				     (c == (uint32_t)open && (sim_rand(s) & 0xff) < s->partial);
			} else {
				/* Decided by the tier alone: the cohort only says where it counts,
				 * drawn from its own stream so a seed's arrivals and decisions do
				 * not depend on it. */
				c = (uint32_t)(sim_rand_from(&s->rank_rng) & (SIM_COHORTS - 1));
				in = open >= SIM_COHORTS;
			}
			admitted += in;
			if (in)
				s->rank_admitted[t * SIM_COHORTS + c]++;
			else
				s->rank_shed[t * SIM_COHORTS + c]++;
		}
		s->total[t].offered += n;
		s->w_tier[t].offered += n;
		s->total[t].shed += n - admitted;
		s->w_tier[t].shed += n - admitted;
		s->total[t].admitted += admitted;
		s->w_tier[t].admitted += admitted;
		if (!admitted)
			continue;
		start = s->in_use < s->cfg.pool_size ? s->cfg.pool_size - s->in_use : 0;
		if (start > admitted)
			start = admitted;
		if (start)
			sim_start(s, t, start, s->step);
		queued = admitted - start;
		if (queued > s->cfg.queue_limit - s->waiting)
			queued = s->cfg.queue_limit - s->waiting;
		if (queued)
			sim_enqueue(s, t, queued);
		s->total[t].refused += admitted - start - queued;
		s->w_tier[t].refused += admitted - start - queued;
	}
	s->w_busy_sum += s->in_use;
	s->w_wait_sum += s->waiting;
	s->busy_total += s->in_use;
	s->wait_total += s->waiting;
	if (s->waiting > s->w_wait_max)
		s->w_wait_max = s->waiting;
	s->step++;
}

void sim_run(struct sim_server *s, uint64_t ns)
{
	uint64_t steps = ns / s->cfg.dt_ns;

	while (steps--)
		sim_step(s);
}

void sim_window_take(struct sim_server *s, struct sim_window *w)
{
	uint64_t steps = s->step - s->w_start_step, want, seen = 0;
	uint32_t b;

	memset(w, 0, sizeof(*w));
	w->start_ns = s->w_start_step * s->cfg.dt_ns;
	w->end_ns = sim_now(s);
	w->pool_size = s->cfg.pool_size;
	w->in_use = s->in_use;
	w->waiting = s->waiting;
	w->waiting_max = s->w_wait_max;
	if (steps) {
		w->in_use_mean = (double)s->w_busy_sum / (double)steps;
		w->waiting_mean = (double)s->w_wait_sum / (double)steps;
	}
	w->saturation = w->in_use_mean / s->cfg.pool_size;
	w->started = s->w_started;
	if (s->w_started) {
		/* The smallest wait that 99 % of the requests did not exceed. */
		want = s->w_started - s->w_started / 100;
		for (b = 0; b <= s->w_wait_top; b++) {
			seen += s->w_wait[b];
			if (seen >= want)
				break;
		}
		w->wait_p99_ms = (double)b * (double)s->cfg.dt_ns / NSEC_PER_MSEC;
	}
	memcpy(w->tier, s->w_tier, sizeof(w->tier));

	memset(s->w_wait, 0, (s->w_wait_top + 1) * sizeof(*s->w_wait));
	memset(s->w_tier, 0, sizeof(s->w_tier));
	s->w_wait_top = 0;
	s->w_started = 0;
	s->w_busy_sum = 0;
	s->w_wait_sum = 0;
	s->w_wait_max = s->waiting;
	s->w_start_step = s->step;
}

void sim_totals(const struct sim_server *s, uint32_t tier, struct sim_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (tier < s->cfg.tiers)
		*out = s->total[tier];
}

void sim_rank_totals(const struct sim_server *s, uint64_t admitted[SIM_MAX_TIERS * SIM_COHORTS],
		     uint64_t shed[SIM_MAX_TIERS * SIM_COHORTS])
{
	memcpy(admitted, s->rank_admitted, sizeof(s->rank_admitted));
	memcpy(shed, s->rank_shed, sizeof(s->rank_shed));
}

void sim_integrals(const struct sim_server *s, uint64_t *busy, uint64_t *waiting)
{
	*busy = s->busy_total;
	*waiting = s->wait_total;
}

void sim_occupancy(const struct sim_server *s, uint32_t *in_use, uint32_t *waiting)
{
	*in_use = s->in_use;
	*waiting = s->waiting;
}

uint32_t sim_pool_size(const struct sim_server *s)
{
	return s->cfg.pool_size;
}

double sim_latency_ms(const struct sim_server *s, uint32_t tier, double q)
{
	const uint64_t *h;
	uint64_t n = 0, seen = 0, want;
	uint32_t b;

	if (tier >= s->cfg.tiers)
		return 0.0;
	h = &s->lat[tier * SIM_LAT_BINS];
	for (b = 0; b < SIM_LAT_BINS; b++)
		n += h[b];
	if (!n)
		return 0.0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	want = (uint64_t)(q * (double)n);
	if (!want)
		want = 1;
	for (b = 0; b < SIM_LAT_BINS; b++) {
		seen += h[b];
		if (seen >= want)
			break;
	}
	return (double)b * (double)s->cfg.dt_ns / NSEC_PER_MSEC;
}

void sim_latency_reset(struct sim_server *s)
{
	memset(s->lat, 0, (size_t)s->cfg.tiers * SIM_LAT_BINS * sizeof(*s->lat));
}
