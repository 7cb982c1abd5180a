// SPDX-License-Identifier: GPL-2.0-only
/*
 * Saturation signals and pressure (spw_signal.h): pure arithmetic, no BPF calls, no I/O.
 *
 * Pressure is max(value / target) over the fresh signals of a service. What is not fresh, or
 * not a measurement at all, is left out and flagged stale, so the controller never acts on a
 * reading it cannot trust: a missing signal is neither "idle" (0) nor "overloaded" (full).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "spw_control.h"
#include "spw_signal.h"

static const char *const kind_names[SPW_SIG_KIND_COUNT] = {
    [SPW_SIG_POOL] = "pool",
    [SPW_SIG_POOL_WAIT] = "pool_wait",
    [SPW_SIG_QUEUE] = "queue",
    [SPW_SIG_QUEUE_AGE] = "queue_age",
    [SPW_SIG_ACCEPT_QUEUE] = "accept_queue",
    [SPW_SIG_LATENCY_P99] = "latency_p99",
    [SPW_SIG_CONNECTIONS] = "connections",
    [SPW_SIG_IN_FLIGHT] = "in_flight",
    [SPW_SIG_OLDEST_REQUEST_AGE] = "oldest_request_age",
    [SPW_SIG_LISTEN_OVERFLOW] = "listen_overflow",
};

const char *spw_signal_kind_name(enum spw_signal_kind kind)
{
	if ((unsigned int)kind >= SPW_SIG_KIND_COUNT || !kind_names[kind])
		return "unknown";
	return kind_names[kind];
}

const char *spw_signal_kind_spelling(const char *field, size_t len)
{
	size_t n = strnlen(field, len), i;

	for (i = 0; i < SPW_SIG_KIND_COUNT; i++) {
		const char *k = kind_names[i];

		/* Cut: the field was full (its last byte the NUL), the name longer than it. */
		if (k && !strncmp(k, field, n) && (!k[n] || (n + 1 >= len && strlen(k) > n)))
			return k;
	}
	return NULL;
}

bool spw_signal_scales_with_load(enum spw_signal_kind kind)
{
	/* Requests in flight are the service's concurrency, throughput x response time: below
	 * capacity they grow with the admitted rate as the connections held do. */
	return kind == SPW_SIG_POOL || kind == SPW_SIG_CONNECTIONS || kind == SPW_SIG_IN_FLIGHT;
}

bool spw_signal_is_fill(enum spw_signal_kind kind)
{
	return kind == SPW_SIG_POOL || kind == SPW_SIG_QUEUE || kind == SPW_SIG_ACCEPT_QUEUE;
}

/* A delay past this (a minute) proves nothing of any window the law keeps. */
#define SPW_LAG_MAX_MS 60000.0

double spw_signal_shows_after_ms(const struct spw_signal *sig)
{
	switch (sig->kind) {
	case SPW_SIG_OLDEST_REQUEST_AGE:
	case SPW_SIG_QUEUE_AGE:
		return sig->value;
	case SPW_SIG_LATENCY_P99:
	case SPW_SIG_POOL_WAIT:
		return sig->target;
	default:
		return NAN;
	}
}

/*
 * The ratio a signal contributes, or NAN when its numbers are not a measurement: a target
 * that is not a positive finite number (config validation rejects those, but a zeroed struct
 * must not divide by zero), a value that is NaN, infinite or negative (a capacity-0 pool
 * reads 0/0 or N/0), or a ratio beyond SPW_PRESSURE_MAX (spw_signal.h: a unit error or a
 * corrupt report, not an overload; the law bounds its step per tick anyway, so this decides
 * whether the signal counts, not how hard it pushes).
 */
static double signal_ratio(const struct spw_signal *sig)
{
	double r;

	if (!isfinite(sig->target) || sig->target <= 0.0)
		return NAN;
	if (!isfinite(sig->value) || sig->value < 0.0)
		return NAN;
	r = sig->value / sig->target;
	if (!isfinite(r) || r > SPW_PRESSURE_MAX)
		return NAN;
	return r;
}

/*
 * A count of requests in flight this far past a target that stands for the service's capacity
 * (learned or typed, not one that follows the load) is read as holding a queue. It is no bound
 * past the noise: near its capacity the demo's service read 9 to 34 against a target of 20
 * (100 ms means, 0.92 of it admitted), queues forming and draining. Below it the count is read
 * as load, and the capacity learned from a reading with a short queue in it errs low.
 */
#define SPW_IN_FLIGHT_QUEUED 1.25

/*
 * Whether a count reads as a full service with a queue, as a pool's fill past 1 does: its
 * excess is a backlog that waits, not a load served, so the law neither learns a capacity
 * from it (the queue would read as load, and the capacity as admitted over queue) nor takes
 * its ratio as the size of the cut.
 */
static bool queued_count(const struct spw_signal *sig, double r)
{
	return sig->kind == SPW_SIG_IN_FLIGHT && !sig->target_follows_load &&
	       r >= SPW_IN_FLIGHT_QUEUED;
}

int spw_pressure_read(struct spw_signal *sigs, int n, uint64_t now_ns, uint64_t stale_after_ns,
		      struct spw_law_reading *out)
{
	uint64_t newest = 0, newest_over = 0;
	bool have_lag = false;
	int i, top = -1;

	out->pressure = NAN;
	out->load_pressure = NAN;
	out->saturated = false;
	out->saturated_pressure = NAN;
	out->taken_ns = 0;
	out->lag_ns = 0;
	if (!sigs || n <= 0)
		return -1;
	if (n > SPW_MAX_SIGNALS)
		n = SPW_MAX_SIGNALS; /* a service has at most that many: a larger n is garbage */
	for (i = 0; i < n; i++) {
		struct spw_signal *sig = &sigs[i];
		/*
		 * A measurement stamped after now (read between the tick's clock read and this
		 * call) is fresh, not 2^64 ns old.
		 */
		uint64_t age = sig->updated_ns > now_ns ? 0 : now_ns - sig->updated_ns;
		bool saturated;
		double r, lag;

		sig->stale = true;
		if (!sig->updated_ns || age > stale_after_ns)
			continue;
		r = signal_ratio(sig);
		if (isnan(r))
			continue; /* ignored exactly like a stale reading */
		sig->stale = false;
		saturated =
		    spw_signal_is_fill(sig->kind) ? sig->value >= 1.0 : queued_count(sig, r);
		if (saturated) {
			out->saturated = true;
			if (isnan(out->saturated_pressure) || r > out->saturated_pressure)
				out->saturated_pressure = r;
		}
		if (isnan(out->pressure) || r > out->pressure) {
			out->pressure = r;
			top = i;
		}
		if (!saturated && !sig->target_follows_load &&
		    spw_signal_scales_with_load(sig->kind)) {
			double lr = r;

			if (isfinite(sig->load_value) && sig->load_value >= 0 &&
			    sig->load_value <= sig->value)
				lr = sig->load_value / sig->target;
			if (isnan(out->load_pressure) || lr > out->load_pressure)
				out->load_pressure = lr;
		}
		lag = spw_signal_shows_after_ms(sig);
		if (lag >= 0 && lag <= SPW_LAG_MAX_MS) {
			uint64_t ns = (uint64_t)(lag * 1e6);

			/* Each signal proves on its own: the one that shows a queue soonest. */
			if (!have_lag || ns < out->lag_ns)
				out->lag_ns = ns;
			have_lag = true;
		}
		if (sig->updated_ns > newest)
			newest = sig->updated_ns;
		if ((saturated || r > 1.0) && sig->updated_ns > newest_over)
			newest_over = sig->updated_ns;
	}
	out->taken_ns = newest_over ? newest_over : newest;
	return top;
}

double spw_pressure(struct spw_signal *sigs, int n, uint64_t now_ns, uint64_t stale_after_ns)
{
	struct spw_law_reading r;

	spw_pressure_read(sigs, n, now_ns, stale_after_ns, &r);
	return r.pressure;
}
