// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config's services: what traffic is subject to admission, its static guards per tier,
 * and the signals that stand for its saturation. Targets are stored in the unit spw_signal.h
 * documents for each kind: fractions, milliseconds or a count.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "spw_config_priv.h"
#include "spw_strnum.h"

/* spw_strnum's and spw_cidr's reasons fit in this. */
#define REASON_MAX 256
/* Time targets below a microsecond cannot be measured; above an hour nothing is saturating. */
#define TIME_TARGET_MIN_NS SPW_NSEC_PER_USEC
#define TIME_TARGET_MAX_NS SPW_NSEC_PER_HOUR

enum target_unit {
	UNIT_FRACTION, /* (0, 1] */
	UNIT_MS,       /* a duration, stored in milliseconds */
	UNIT_COUNT,    /* a whole number >= 1 */
	UNIT_RATE,     /* events per time ("1/s", "30/m"), stored per second, > 0 */
};

struct signal_kind {
	const char *name; /* the key in the file, as spw_signal_kind_name() spells it */
	enum spw_signal_kind kind;
	const char *source; /* "pool" or "queue": the value names one, the target is apart */
	enum target_unit unit;
	/* The daemon measures it and `learn` takes its target from the service: a delay
	 * (spw_baseline.h) or the requests in flight at capacity (spw_concurrency.h). */
	bool learnable;
};

static const struct signal_kind kinds[] = {
    {"pool", SPW_SIG_POOL, "pool", UNIT_FRACTION, false},
    {"pool_wait", SPW_SIG_POOL_WAIT, "pool", UNIT_MS, false},
    {"queue", SPW_SIG_QUEUE, "queue", UNIT_FRACTION, false},
    {"queue_age", SPW_SIG_QUEUE_AGE, "queue", UNIT_MS, false},
    {"accept_queue", SPW_SIG_ACCEPT_QUEUE, NULL, UNIT_FRACTION, false},
    {"latency_p99", SPW_SIG_LATENCY_P99, NULL, UNIT_MS, true},
    {"connections", SPW_SIG_CONNECTIONS, NULL, UNIT_COUNT, false},
    {"in_flight", SPW_SIG_IN_FLIGHT, NULL, UNIT_COUNT, true},
    {"oldest_request_age", SPW_SIG_OLDEST_REQUEST_AGE, NULL, UNIT_MS, true},
    /*
     * Drops per second at the service's listeners. A healthy listener drops nothing: any
     * sustained drop is clients refused by the kernel, retrying a second later. Default
     * target, were one given: 1/s, above a stray drop, far below the 85-90/s a test client
     * opening a connection every 30 ms against a full queue causes. Not in auto.
     */
    {"listen_overflow", SPW_SIG_LISTEN_OVERFLOW, NULL, UNIT_RATE, false},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* What one service's walk remembers beyond struct spw_config_service: nodes for messages. */
struct svc_aux {
	struct spw_config_service *s;
	yaml_node_t *name, *port, *default_tier, *listener, *limit, *reserve;
	yaml_node_t *burst[SPW_MAX_TIERS];
	yaml_node_t *signal_first[SPW_MAX_SIGNALS]; /* each signal's kind key */
	yaml_node_t *signals;			    /* the key; NULL: not given (auto) */
	yaml_node_t *auto_item;			    /* `auto` in the list */
};

/* A rate target, written as rates are elsewhere ("1/s", "30/m"): stored per second. */
static int parse_rate_target(struct cfg_ctx *x, const char *key, yaml_node_t *val, double *out)
{
	char why[REASON_MAX];
	struct spw_rate r;
	const char *t;
	int err;

	err = cfg_scalar(x, key, val, &t);
	if (err)
		return err;
	if (spw_parse_rate(t, &r, why, sizeof(why)))
		return cfg_err(x, val, "%s: %s", key, why);
	/* 0/s would make any single drop an infinite overload. */
	if (!r.count)
		return cfg_err(x, val, "%s: %s is not a rate above 0", key, t);
	*out = (double)r.count * (double)SPW_NSEC_PER_SEC / (double)r.period_ns;
	return 0;
}

static int parse_target(struct cfg_ctx *x, const char *key, enum target_unit unit, yaml_node_t *val,
			double *out)
{
	uint64_t ns;
	uint32_t n;
	int err;

	switch (unit) {
	case UNIT_FRACTION:
		err = cfg_decimal(x, key, val, out);
		if (err)
			return err;
		/* A fraction of capacity: 0 would shed forever, above 1 never. */
		if (*out <= 0.0 || *out > 1.0)
			return cfg_err(x, val, "%s: %s is not a fraction in (0, 1]", key,
				       cfg_text(val));
		return 0;
	case UNIT_MS:
		err = cfg_duration(x, key, val, TIME_TARGET_MIN_NS, TIME_TARGET_MAX_NS, &ns);
		if (!err)
			*out = (double)ns / (double)SPW_NSEC_PER_MSEC;
		return err;
	case UNIT_COUNT:
		err = cfg_u32(x, key, val, 1, UINT32_MAX, &n);
		if (!err)
			*out = n;
		return err;
	case UNIT_RATE:
		return parse_rate_target(x, key, val, out);
	}
	return -EINVAL;
}

/*
 * One signal: exactly one kind key; the pool and queue kinds name their source and take a
 * separate target ({pool: db, target: 0.85}), the kernel-measured kinds take the target as
 * their value ({accept_queue: 0.5}).
 */
static int parse_signal(struct cfg_ctx *x, struct svc_aux *a, yaml_node_t *item)
{
	struct spw_config_service *s = a->s;
	struct spw_signal *sig = &s->signals[s->nsignals];
	yaml_node_t *kind_key = NULL, *kind_val = NULL, *target_key = NULL, *target_val = NULL;
	const struct signal_kind *k = NULL;
	int i, n, err;
	size_t j;

	err = cfg_expect_map(x, "a signal", item);
	if (err)
		return err;
	n = cfg_map_len(item);
	for (i = 0; i < n; i++) {
		yaml_node_t *key, *val;
		const char *text;

		err = cfg_map_key(x, item, i, &text);
		if (err)
			return err;
		cfg_map_pair(x, item, i, &key, &val);
		if (!strcmp(text, "target")) {
			target_key = key;
			target_val = val;
			continue;
		}
		for (j = 0; j < NKINDS; j++)
			if (!strcmp(kinds[j].name, text))
				break;
		if (j == NKINDS) {
			const char *known[NKINDS];
			char hint[SPW_ERR_MAX];

			for (j = 0; j < NKINDS; j++)
				known[j] = kinds[j].name;
			cfg_hint(hint, sizeof(hint), text, known, NKINDS, "signals");
			return cfg_err(x, key, "unknown signal '%.*s'%s", CFG_QUOTE_MAX, text,
				       hint);
		}
		if (k)
			return cfg_err(x, key, "a signal has one kind: '%s' after '%s'", text,
				       k->name);
		k = &kinds[j];
		kind_key = key;
		kind_val = val;
	}
	if (!k)
		return cfg_err(x, item,
			       "a signal needs a kind (pool, pool_wait, queue, queue_age, "
			       "accept_queue, latency_p99, connections, in_flight, "
			       "oldest_request_age or listen_overflow)");

	memset(sig, 0, sizeof(*sig));
	sig->kind = k->kind;
	sig->load_value = NAN; /* all of value: only a pool's report splits it (tick.c) */
	if (k->source) {
		err = cfg_name(x, k->name, k->source, false, kind_val, sig->source);
		if (err)
			return err;
		if (!target_val)
			return cfg_err(x, item, "signal %s '%s' needs a target", k->name,
				       sig->source);
		err = parse_target(x, "target", k->unit, target_val, &sig->target);
	} else {
		if (target_key)
			return cfg_err(x, target_key,
				       "target: %s takes its target as its value ({%s: ...})",
				       k->name, k->name);
		if (kind_val->type == YAML_SCALAR_NODE && !strcmp(cfg_text(kind_val), "learn")) {
			if (!k->learnable)
				return cfg_err(x, kind_val,
					       "%s: only latency_p99, oldest_request_age and "
					       "in_flight learn their target",
					       k->name);
			sig->learn = true;
			sig->target = NAN;
			err = 0;
		} else {
			err = parse_target(x, k->name, k->unit, kind_val, &sig->target);
		}
	}
	if (err)
		return err;

	for (i = 0; i < s->nsignals; i++)
		if (s->signals[i].kind == sig->kind && !strcmp(s->signals[i].source, sig->source))
			return cfg_err(x, kind_key,
				       "signal %s%s%s%s is listed twice (first at line %u)",
				       k->name, k->source ? " '" : "", sig->source,
				       k->source ? "'" : "", cfg_line(a->signal_first[i]));
	if (sig->kind == SPW_SIG_ACCEPT_QUEUE || sig->kind == SPW_SIG_LISTEN_OVERFLOW)
		a->listener = kind_key;
	a->signal_first[s->nsignals++] = kind_key;
	return 0;
}

static int svc_signals(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;
	int i, n, err;

	a->signals = key;
	err = cfg_expect_list(x, "'signals'", val);
	if (err)
		return err;
	n = cfg_list_len(val);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);

		if (item->type == YAML_SCALAR_NODE && !strcmp(cfg_text(item), "auto")) {
			if (a->auto_item)
				return cfg_err(x, item,
					       "signals: auto is listed twice (first at "
					       "line %u)",
					       cfg_line(a->auto_item));
			a->auto_item = item;
			continue;
		}
		if (a->s->nsignals == SPW_MAX_SIGNALS)
			return cfg_err(x, item, "signals: at most %d per service", SPW_MAX_SIGNALS);
		err = parse_signal(x, a, item);
		if (err)
			return err;
	}
	return 0;
}

static int svc_name(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	a->name = val;
	return cfg_name(x, "name", "service", true, val, a->s->name);
}

static int svc_protocol(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;
	const char *t;
	int err;

	(void)key;
	err = cfg_scalar(x, "protocol", val, &t);
	if (err)
		return err;
	if (!strcmp(t, "tcp"))
		a->s->match.proto = IPPROTO_TCP;
	else if (!strcmp(t, "udp"))
		a->s->match.proto = IPPROTO_UDP;
	else
		return cfg_err(x, val, "protocol: unknown protocol '%.*s' (tcp or udp)",
			       CFG_QUOTE_MAX, t);
	return 0;
}

static int svc_port(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;
	uint32_t port;
	int err;

	(void)key;
	a->port = val;
	err = cfg_u32(x, "port", val, 1, 65535, &port);
	if (!err)
		a->s->match.port = (uint16_t)port;
	return err;
}

static int svc_address(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	static const uint8_t zero[SPW_ADDR_LEN], v4_any[SPW_ADDR_LEN] = {[10] = 0xff, [11] = 0xff};
	struct svc_aux *a = obj;
	char why[REASON_MAX];
	struct spw_cidr c;
	const char *t;
	int err;

	(void)key;
	err = cfg_scalar(x, "address", val, &t);
	if (err)
		return err;
	if (strchr(t, '/'))
		return cfg_err(x, val, "address: '%.*s' is a prefix; a service binds one address",
			       CFG_QUOTE_MAX, t);
	if (spw_cidr_parse(t, &c, why, sizeof(why)))
		return cfg_err(x, val, "address: %s", why);
	/* No packet is addressed to the any-address: the service would never match. */
	if (!memcmp(c.addr, zero, SPW_ADDR_LEN) || !memcmp(c.addr, v4_any, SPW_ADDR_LEN))
		return cfg_err(x, val,
			       "address: '%s' is the any-address; leave address out to match "
			       "every local address",
			       t);
	a->s->match.has_addr = true;
	memcpy(a->s->match.addr, c.addr, SPW_ADDR_LEN);
	return 0;
}

static int svc_default_tier(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	a->default_tier = val;
	return cfg_tier(x, "default_tier", val, &a->s->default_tier);
}

static int action_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val,
		      void *obj)
{
	struct svc_aux *a = obj;
	const char *t;
	int err;

	(void)key;
	err = cfg_scalar(x, "shed_action", val, &t);
	if (err)
		return err;
	if (!strcmp(t, "drop"))
		a->s->action[tier] = SPW_ACTION_DROP;
	else if (!strcmp(t, "reject"))
		a->s->action[tier] = SPW_ACTION_REJECT;
	else
		return cfg_err(x, val, "shed_action: unknown action '%.*s' (drop or reject)",
			       CFG_QUOTE_MAX, t);
	return 0;
}

static int svc_shed_action(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_tier_map(x, "shed_action", val, action_one, obj);
}

static int svc_protect(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	return cfg_bool(x, "protect_tier0", val, &a->s->protect_tier0);
}

static int svc_dry_run(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	return cfg_bool(x, "dry_run", val, &a->s->dry_run);
}

static int svc_in_flight_guard(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;
	double g;
	int err;

	(void)key;
	if (val->type == YAML_SCALAR_NODE && !strcmp(cfg_text(val), "off")) {
		a->s->in_flight_guard = 0;
		return 0;
	}
	err = cfg_decimal(x, "in_flight_guard", val, &g);
	if (err)
		return err;
	/* Under 1 it would refuse a service below its capacity; past 100 it bounds nothing. */
	if (!(g >= 1.0 && g <= 100.0))
		return cfg_err(x, val,
			       "in_flight_guard: %s is not a multiple in [1, 100] of the requests "
			       "in flight at capacity (or off)",
			       cfg_text(val));
	a->s->in_flight_guard = g;
	return 0;
}

static int conns_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	/* 0 is "no cap" to the data plane: written here it would mean the opposite of a cap. */
	return cfg_u32(x, "max_connections", val, 1, UINT32_MAX, &a->s->max_conns[tier]);
}

static int svc_max_conns(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_tier_map(x, "max_connections", val, conns_one, obj);
}

static int mark_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	return cfg_mark(x, "mark_egress", val, &a->s->mark_egress[tier]);
}

static int svc_mark_egress(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_tier_map(x, "mark_egress", val, mark_one, obj);
}

static int rate_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;
	char why[REASON_MAX];
	struct spw_rate r;
	uint64_t per_sec;
	const char *t;
	int err;

	(void)key;
	err = cfg_scalar(x, "new_flow_rate", val, &t);
	if (err)
		return err;
	/* The data plane's buckets count whole flows per second, up to SPW_RATE_MAX. */
	if (spw_parse_rate(t, &r, why, sizeof(why)) ||
	    spw_rate_per_sec(&r, SPW_RATE_MAX, &per_sec, why, sizeof(why)))
		return cfg_err(x, val, "new_flow_rate: %s", why);
	/* 0 is "no limit" to the data plane, the opposite of what a zero rate says. */
	if (!per_sec)
		return cfg_err(x, val,
			       "new_flow_rate: %s admits no flow at all; leave the tier out for "
			       "no limit",
			       t);
	a->s->rate_per_sec[tier] = (uint32_t)per_sec;
	return 0;
}

static int svc_rate(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_tier_map(x, "new_flow_rate", val, rate_one, obj);
}

static int burst_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	a->burst[tier] = key;
	/* Bounded like the rate, so burst * SPW_BUCKET_UNIT stays far inside 64 bits. */
	return cfg_u32(x, "new_flow_burst", val, 1, SPW_RATE_MAX, &a->s->burst[tier]);
}

static int svc_burst(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_tier_map(x, "new_flow_burst", val, burst_one, obj);
}

static int limit_pool(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	(void)key;
	return cfg_name(x, "pool", "pool", false, val, a->s->connection_pool);
}

static const struct cfg_field limit_fields[] = {
    {"pool", limit_pool},
};

/* connection_limit: N, or {pool: NAME} for a pool whose capacity is the server's limit. */
static int svc_conn_limit(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	a->limit = key;
	if (val->type == YAML_MAPPING_NODE) {
		int err = cfg_walk_map(x, val, "connection_limit", "in connection_limit",
				       limit_fields, 1, a);

		if (!err && !a->s->connection_pool[0])
			err = cfg_err(x, val, "connection_limit: {pool: NAME} names a pool");
		return err;
	}
	return cfg_u32(x, "connection_limit", val, 1, UINT32_MAX, &a->s->connection_limit);
}

static int reserve_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val,
		       void *obj)
{
	struct svc_aux *a = obj;

	if (tier + 1 >= x->c->ntiers)
		return cfg_err(x, key,
			       "reserve: tier '%s' is the lowest; a reserve keeps slots for a "
			       "tier against the tiers below it",
			       x->c->tiers[tier]);
	return cfg_u32(x, "reserve", val, 1, UINT32_MAX, &a->s->reserve[tier]);
}

static int svc_reserve(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct svc_aux *a = obj;

	a->reserve = key;
	return cfg_walk_tier_map(x, "reserve", val, reserve_one, obj);
}

/* A reserve needs a limit to be kept under, and the limit must leave every tier a slot. */
static int check_reservation(struct cfg_ctx *x, struct svc_aux *a)
{
	struct spw_config_service *s = a->s;
	uint64_t held = 0;
	int t;

	if (!a->reserve && !a->limit)
		return 0;
	if (!a->reserve)
		return cfg_err(x, a->limit,
			       "connection_limit: needs a reserve ({%s: N}) to keep for the tiers "
			       "above the others",
			       x->c->tiers[0]);
	if (!a->limit)
		return cfg_err(x, a->reserve,
			       "reserve: needs connection_limit (a number, or {pool: NAME})");
	for (t = 0; t + 1 < x->c->ntiers; t++)
		held += s->reserve[t];
	if (s->connection_limit && held >= s->connection_limit)
		return cfg_err(
		    x, a->reserve,
		    "reserve: %llu of connection_limit %u leaves tier '%s' no connection",
		    (unsigned long long)held, s->connection_limit, x->c->tiers[x->c->ntiers - 1]);
	return 0;
}

static const struct cfg_field svc_fields[] = {
    {"name", svc_name},
    {"protocol", svc_protocol},
    {"port", svc_port},
    {"address", svc_address},
    {"default_tier", svc_default_tier},
    {"shed_action", svc_shed_action},
    {"protect_tier0", svc_protect},
    {"dry_run", svc_dry_run},
    {"max_connections", svc_max_conns},
    {"mark_egress", svc_mark_egress},
    {"new_flow_rate", svc_rate},
    {"new_flow_burst", svc_burst},
    {"connection_limit", svc_conn_limit},
    {"reserve", svc_reserve},
    {"in_flight_guard", svc_in_flight_guard},
    {"signals", svc_signals},
};

/*
 * `signals: [auto]`, or no signals key at all: what spillway measures itself, with targets
 * that need no knowledge of the service. The accept queue's fill at half its backlog (a
 * backlog half full is a queue the app does not drain, whatever its speed); the response
 * time and the oldest outstanding request against the service's own quiet figures
 * (spw_baseline.h), the second acting as the queue builds, before the responses that waited
 * in it complete; the requests in flight against what the service holds at its capacity
 * (spw_concurrency.h), learned in its first overload: a count that grows with the load, so
 * the law sizes its cuts from it as from a reported pool, and one that a queue moves within a
 * tick. A kind the list names itself keeps its own target. `signals: []` is no signal: counts,
 * caps and rates only.
 */
static const struct spw_signal auto_signals[] = {
    {.kind = SPW_SIG_ACCEPT_QUEUE, .target = 0.5, .load_value = NAN},
    {.kind = SPW_SIG_LATENCY_P99, .target = NAN, .learn = true, .load_value = NAN},
    {.kind = SPW_SIG_OLDEST_REQUEST_AGE, .target = NAN, .learn = true, .load_value = NAN},
    {.kind = SPW_SIG_IN_FLIGHT, .target = NAN, .learn = true, .load_value = NAN},
};

static int add_auto_signals(struct cfg_ctx *x, struct svc_aux *a, yaml_node_t *item)
{
	struct spw_config_service *s = a->s;
	size_t i;
	int j;

	for (i = 0; i < sizeof(auto_signals) / sizeof(auto_signals[0]); i++) {
		const struct spw_signal *sig = &auto_signals[i];

		if (sig->kind == SPW_SIG_ACCEPT_QUEUE && s->match.proto != IPPROTO_TCP)
			continue; /* a UDP socket has no accept queue */
		for (j = 0; j < s->nsignals; j++)
			if (s->signals[j].kind == sig->kind)
				break;
		if (j < s->nsignals)
			continue;
		if (s->nsignals == SPW_MAX_SIGNALS)
			return cfg_err(x, a->auto_item ? a->auto_item : item,
				       "signals: auto adds %s, past the %d signals of a service",
				       spw_signal_kind_name(sig->kind), SPW_MAX_SIGNALS);
		s->signals[s->nsignals++] = *sig;
	}
	return 0;
}

/* Checks that need the whole service: the file may list its keys in any order. */
static int check_service(struct cfg_ctx *x, struct svc_aux *a, yaml_node_t *item)
{
	struct spw_config_service *s = a->s;
	int t;

	if (!a->name)
		return cfg_err(x, item, "a service needs a name");
	if (!a->port)
		return cfg_err(x, item, "service '%s' needs a port", s->name);
	for (t = 0; t < SPW_MAX_TIERS; t++)
		if (a->burst[t] && !s->rate_per_sec[t])
			return cfg_err(
			    x, a->burst[t],
			    "new_flow_burst: tier '%s' has no new_flow_rate to burst above",
			    x->c->tiers[t]);
	/* The signals of a listen socket's accept queue (the last one listed is named). */
	if (a->listener && s->match.proto != IPPROTO_TCP)
		return cfg_err(x, a->listener, "%s: a UDP service has no accept queue",
			       cfg_text(a->listener));
	if (!a->default_tier)
		s->default_tier = (uint8_t)(x->c->ntiers - 1);
	if (!a->signals || a->auto_item) {
		int err = add_auto_signals(x, a, item);

		if (err)
			return err;
	}
	return check_reservation(x, a);
}

static bool same_match(const struct spw_service_match *a, const struct spw_service_match *b)
{
	return a->proto == b->proto && a->port == b->port && a->has_addr == b->has_addr &&
	       (!a->has_addr || !memcmp(a->addr, b->addr, SPW_ADDR_LEN));
}

int cfg_parse_services(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	yaml_node_t *names[SPW_MAX_SERVICES - 1], *ports[SPW_MAX_SERVICES - 1];
	struct spw_config *c = x->c;
	int i, j, n, err;

	(void)key;
	(void)obj;
	err = cfg_expect_list(x, "'services'", val);
	if (err)
		return err;
	n = cfg_list_len(val);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);
		struct svc_aux a = {0};
		struct spw_config_service *s;

		/* Service id 0 means "not a service" to the data plane: 63 are left. */
		if (i == SPW_MAX_SERVICES - 1)
			return cfg_err(x, item, "services: at most %d services",
				       SPW_MAX_SERVICES - 1);
		s = &c->services[i];
		memset(s, 0, sizeof(*s));
		s->id = (uint32_t)i + 1;
		s->match.proto = IPPROTO_TCP;
		s->protect_tier0 = true;
		s->in_flight_guard = SPW_CONFIG_IN_FLIGHT_GUARD;
		a.s = s;
		err = cfg_walk_map(x, item, "a service", "in a service", svc_fields,
				   sizeof(svc_fields) / sizeof(svc_fields[0]), &a);
		if (!err)
			err = check_service(x, &a, item);
		if (err)
			return err;

		/* Names first: a repeated name is the likelier slip and the plainer message. */
		for (j = 0; j < i; j++)
			if (!strcmp(c->services[j].name, s->name))
				return cfg_err(
				    x, a.name,
				    "name: service '%s' is listed twice (first at line %u)",
				    s->name, cfg_line(names[j]));
		for (j = 0; j < i; j++) {
			char addr[SPW_CIDR_STRLEN] = "";

			if (!same_match(&c->services[j].match, &s->match))
				continue;
			if (s->match.has_addr) {
				strcpy(addr, " on ");
				spw_addr_format(s->match.addr, addr + 4, sizeof(addr) - 4);
			}
			return cfg_err(x, a.port,
				       "port: %s port %u%s is already taken by service '%s' (line "
				       "%u)",
				       s->match.proto == IPPROTO_TCP ? "tcp" : "udp", s->match.port,
				       addr, c->services[j].name, cfg_line(ports[j]));
		}
		names[i] = a.name;
		ports[i] = a.port;
		c->nservices = i + 1;
	}
	return 0;
}
