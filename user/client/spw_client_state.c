// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libspillway-client: reading the shed state. Each check copies one service's head from the
 * mapped file under the seqlock (include/spillway_state.h) and judges the copy: a few hundred
 * bytes and no syscall, no lock, safe from any number of threads.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <sched.h>
#include <string.h>
#include "spw_client_priv.h"

/* What one check needs, copied consistently. The service's signals are left out. */
struct view {
	uint64_t updated_ns;
	uint32_t tick_ms;
	bool found;
	struct spw_state_service svc; /* up to, not including, signals */
};

#define SVC_HEAD offsetof(struct spw_state_service, signals)

static bool name_is(const char *in_file, const char *name, size_t len)
{
	/* NUL-padded in the file; len < SPW_STATE_NAME_MAX was checked by the caller. */
	return !memcmp(in_file, name, len) && !in_file[len];
}

/* 0 with v filled, or -ESTALE when there is no readable, current-format state. */
static int read_view(struct spw_client *c, const char *service, struct view *v)
{
	const struct spw_state_service *s;
	const struct spw_state_file *f;
	struct spw_map *m = __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE);
	size_t len = strlen(service);
	uint64_t now, deadline = 0;
	uint32_t s1, s2, n, i;
	int tries;

	if (!m)
		return -ESTALE;
	f = m->f;
	/* magic and version are written before the file is renamed in place: never change. */
	if (f->magic != SPW_STATE_MAGIC || f->version != SPW_STATE_VERSION)
		return -ESTALE;
	for (tries = 0;; tries++) {
		if (tries >= SPW_CLIENT_READ_SPINS) {
			now = spw_client_now_ns();
			if (!deadline) {
				deadline = now + SPW_CLIENT_READ_BUDGET_NS;
			} else if (now > deadline) {
				s1 = __atomic_load_n(&f->seq, __ATOMIC_RELAXED);
				if (s1 & 1)
					__atomic_store_n(&m->stuck_seq, s1, __ATOMIC_RELAXED);
				return -ESTALE;
			}
			sched_yield();
		}
		s1 = __atomic_load_n(&f->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			if (s1 == __atomic_load_n(&m->stuck_seq, __ATOMIC_RELAXED))
				return -ESTALE;
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
			continue;
		}
		v->found = false;
		v->updated_ns = f->updated_ns;
		v->tick_ms = f->tick_ms;
		/* Mid-write numbers are only bounded here; the seq check below discards them. */
		n = f->nservices;
		if (n > SPW_STATE_SERVICES)
			n = SPW_STATE_SERVICES;
		if (len < SPW_STATE_NAME_MAX) {
			for (i = 0; i < n; i++) {
				s = &f->services[i];
				if (name_is(s->name, service, len)) {
					memcpy(&v->svc, s, SVC_HEAD);
					v->found = true;
					break;
				}
			}
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&f->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return 0;
	}
}

/* Fresh: published within SPW_CLIENT_STALE_TICKS ticks and the data plane's lease holds. */
static bool fresh(const struct view *v, uint64_t now)
{
	uint64_t tick_ns =
	    (uint64_t)(v->tick_ms ? v->tick_ms : SPW_CLIENT_DEFAULT_TICK_MS) * 1000000ULL;

	if (!v->updated_ns || now - v->updated_ns > SPW_CLIENT_STALE_TICKS * tick_ns)
		return false; /* (a clock behind updated_ns wraps to huge: stale, fail open) */
	return !v->found || v->svc.lease_expires_ns > now;
}

/* Reads and judges; on -ESTALE it also looks for a replaced file (rate-limited). */
static int lookup(struct spw_client *c, const char *service, struct view *v)
{
	uint64_t now;
	int err;

	if (!c || !service)
		return -EINVAL;
	err = read_view(c, service, v);
	/* After the read: a clock read before it could be older than what it found. */
	now = spw_client_now_ns();
	if (!err && !fresh(v, now))
		err = -ESTALE;
	if (err == -ESTALE) {
		/* A new file (a daemon started or restarted) answers this very check. */
		if (!spw_client_look_for_file(c, now))
			return err;
		err = read_view(c, service, v);
		if (!err && !fresh(v, spw_client_now_ns()))
			err = -ESTALE;
		if (err)
			return err;
	}
	return v->found ? 0 : -ENOENT;
}

static double pressure_of(int64_t milli)
{
	return milli == SPW_STATE_NO_VALUE ? NAN : (double)milli / 1000.0;
}

SPW_API int spw_client_shed_state(struct spw_client *c, const char *service, unsigned int tier,
				  struct spw_shed_state *out)
{
	const struct spw_state_service *s;
	struct view v;
	int err;

	memset(out, 0, sizeof(*out));
	out->admitted_permille = 1000;
	out->pressure = NAN;
	err = lookup(c, service, &v);
	out->stale = err == -ESTALE;
	if (err)
		return err;
	s = &v.svc;
	out->pressure = pressure_of(s->pressure_milli);
	out->dry_run = s->flags & SPW_STATE_DRY_RUN;
	out->overridden = s->flags & SPW_STATE_OVERRIDDEN;
	out->retry_lo_s = s->retry_after_lo_s;
	out->retry_hi_s = s->retry_after_hi_s;
	if (tier >= s->tier_count || tier >= SPW_MAX_TIERS)
		return -ERANGE;
	out->admitted_permille = s->admitted_permille[tier];
	out->shed = out->admitted_permille < 1000 && !out->dry_run;
	if (out->shed) {
		/* A shed tier always gets a Retry-After, even when the range is 0 (override). */
		out->retry_after_s = spw_client_draw(s->retry_after_lo_s, s->retry_after_hi_s);
		if (!out->retry_after_s)
			out->retry_after_s = 1;
	}
	return 0;
}

SPW_API int spw_client_service_state(struct spw_client *c, const char *service,
				     struct spw_service_state *out)
{
	const struct spw_state_service *s;
	uint32_t eff;
	struct view v;
	int err;

	memset(out, 0, sizeof(*out));
	out->pressure = NAN;
	out->admitted_permille = 1000;
	err = lookup(c, service, &v);
	out->stale = err == -ESTALE;
	if (err)
		return err;
	s = &v.svc;
	out->pressure = pressure_of(s->pressure_milli);
	out->shedding = (s->flags & SPW_STATE_SHEDDING) && !(s->flags & SPW_STATE_DRY_RUN);
	eff = s->level > s->floor ? s->level : s->floor;
	if (s->ceiling && eff < s->ceiling)
		out->admitted_permille = (uint16_t)(eff * 1000U / s->ceiling);
	return 0;
}
