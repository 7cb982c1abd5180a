// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config's downstreams section: destinations this host connects to whose new connections
 * pass the client-side throttle at TC egress, and whose packets TC egress may mark with the
 * DSCP of their tier (mark_egress, as a service's), the tier coming from the local cgroup of
 * the connecting socket when cgroups names it.
 *
 *   downstreams:
 *     - {name: db, dest: 10.0.2.1:5432, k: 2.0, window_s: 1, tier: standard}
 *     - {name: api, dest: "[2001:db8::1]:443"}
 *     - {name: cache, dest: 10.0.3.0/24}
 *     - name: back
 *       dest: 10.0.4.1:8080
 *       throttle: false
 *       mark_egress: {critical: 46, standard: 26, sheddable: 0}
 *       cgroups: {/system.slice/checkout.service: critical}
 *
 * dest is ADDR[:PORT] or a CIDR (IPv6 with a port in brackets). The data plane finds a
 * downstream by the longest matching prefix of the destination address, so two downstreams
 * with the same prefix are an error even when their ports differ.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "spw_config_priv.h"
#include "spw_strnum.h"
#include "spillway_throttle.h"

/* spw_cidr_parse's reasons fit in this. */
#define REASON_MAX 256
/* K above this refuses nothing a real downstream would notice; below 1 it starves it. */
#define K_MIN 1.0
#define K_MAX 100.0
/* The window: at least a second's worth of answers, at most an hour. */
#define WINDOW_S_MIN 1
#define WINDOW_S_MAX 3600

struct ds_aux {
	struct spw_config_downstream *d;
	yaml_node_t *name, *dest;
	bool throttle; /* throttle: false leaves the connections unthrottled (marks only) */
};

static int ds_name(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;

	(void)key;
	a->name = val;
	return cfg_name(x, "name", "a downstream name", true, val, a->d->name);
}

/*
 * "ADDR", "ADDR:PORT", "CIDR", "CIDR:PORT" for IPv4; "ADDR" / "CIDR" or "[ADDR]:PORT" /
 * "[CIDR]:PORT" for IPv6. Splits off the port, then the rest is a CIDR.
 */
int spw_downstream_dest_parse(const char *t, struct spw_cidr *cidr, uint16_t *port, char *why,
			      size_t whylen)
{
	char buf[SPW_CIDR_STRLEN];
	const char *colon = strrchr(t, ':'), *ptext = NULL;
	size_t len = strlen(t);
	unsigned long p;
	char *end;

	if (t[0] == '[') {
		const char *close = strchr(t, ']');

		if (!close || (close[1] && close[1] != ':'))
			return snprintf(why, whylen, "'[' needs ']' and then ':PORT' or nothing"),
			       -EINVAL;
		len = (size_t)(close - t - 1);
		t++;
		ptext = close[1] ? close + 2 : NULL;
	} else if (colon && strchr(t, ':') == colon) {
		/* One colon: IPv4 with a port (IPv6 has at least two). */
		len = (size_t)(colon - t);
		ptext = colon + 1;
	}
	if (len >= sizeof(buf))
		return snprintf(why, whylen, "address too long"), -EINVAL;
	memcpy(buf, t, len);
	buf[len] = 0;
	*port = 0;
	if (ptext) {
		errno = 0;
		p = strtoul(ptext, &end, 10);
		if (!*ptext || *end || errno || p < 1 || p > 65535 || *ptext < '0' || *ptext > '9')
			return snprintf(why, whylen, "port must be a number 1..65535"), -EINVAL;
		*port = (uint16_t)p;
	}
	return spw_cidr_parse(buf, cidr, why, whylen);
}

static int ds_dest(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;
	char why[REASON_MAX];
	const char *t;
	int err;

	(void)key;
	err = cfg_scalar(x, "dest", val, &t);
	if (err)
		return err;
	if (spw_downstream_dest_parse(t, &a->d->dest, &a->d->port, why, sizeof(why)))
		return cfg_err(x, val,
			       "dest: '%.*s': %s (ADDR[:PORT] or CIDR, IPv6 as [ADDR]:PORT)",
			       CFG_QUOTE_MAX, t, why);
	a->dest = val;
	return 0;
}

static int ds_k(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;
	double k;
	int err;

	(void)key;
	err = cfg_decimal(x, "k", val, &k);
	if (err)
		return err;
	if (k < K_MIN || k > K_MAX)
		return cfg_err(x, val,
			       "k: %g is out of range (%g .. %g: the downstream sees at most "
			       "about K times what it accepts)",
			       k, K_MIN, K_MAX);
	a->d->k_centi = (uint32_t)(k * 100 + 0.5);
	return 0;
}

static int ds_window(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;
	uint32_t s;
	int err;

	(void)key;
	err = cfg_u32(x, "window_s", val, WINDOW_S_MIN, WINDOW_S_MAX, &s);
	if (err)
		return err;
	a->d->bucket_ms = s * 1000;
	return 0;
}

static int ds_tier(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;

	(void)key;
	return cfg_tier(x, "tier", val, &a->d->default_tier);
}

static int ds_throttle(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;

	(void)key;
	return cfg_bool(x, "throttle", val, &a->throttle);
}

static int ds_mark_one(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key, yaml_node_t *val,
		       void *obj)
{
	struct ds_aux *a = obj;

	(void)key;
	return cfg_mark(x, "mark_egress", val, &a->d->mark_egress[tier]);
}

static int ds_mark_egress(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_tier_map(x, "mark_egress", val, ds_mark_one, obj);
}

/*
 * A cgroup v2 path below the root: "/" first, no "." or ".." component, no empty one, so the
 * daemon resolves it under the cgroup mount and nowhere else.
 */
static const char *cgroup_path_why(const char *p)
{
	const char *c;

	if (p[0] != '/')
		return "must start with '/' (a path below the cgroup v2 root)";
	if (strlen(p) >= SPW_CGROUP_PATH_MAX)
		return "is too long";
	for (c = p; *c; c++) {
		if (*c != '/')
			continue;
		if (c[1] == '/' || (c[1] == '.' && (!c[2] || c[2] == '/')) ||
		    (c[1] == '.' && c[2] == '.' && (!c[3] || c[3] == '/')))
			return "has an empty, '.' or '..' part";
	}
	return NULL;
}

static int ds_cgroups(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ds_aux *a = obj;
	struct spw_config_downstream *d = a->d;
	int i, n, err;

	(void)key;
	err = cfg_expect_map(x, "'cgroups'", val);
	if (err)
		return err;
	n = cfg_map_len(val);
	if (n > SPW_DS_CGROUPS_MAX)
		return cfg_err(x, val, "cgroups: at most %d cgroups a downstream",
			       SPW_DS_CGROUPS_MAX);
	for (i = 0; i < n; i++) {
		struct spw_config_out_cgroup *g = &d->cgroups[i];
		yaml_node_t *k, *v;
		const char *path, *why;
		int j;

		err = cfg_map_key(x, val, i, &path);
		if (err)
			return err;
		cfg_map_pair(x, val, i, &k, &v);
		why = cgroup_path_why(path);
		if (why)
			return cfg_err(x, k, "cgroups: '%.*s' %s", CFG_QUOTE_MAX, path, why);
		for (j = 0; j < i; j++)
			if (!strcmp(d->cgroups[j].path, path))
				return cfg_err(x, k, "cgroups: '%.*s' is listed twice",
					       CFG_QUOTE_MAX, path);
		err = cfg_tier(x, "cgroups", v, &g->tier);
		if (err)
			return err;
		snprintf(g->path, sizeof(g->path), "%s", path);
		d->ncgroups = i + 1;
	}
	return 0;
}

static const struct cfg_field ds_fields[] = {
    {"name", ds_name},
    {"dest", ds_dest},
    {"k", ds_k},
    {"window_s", ds_window},
    {"tier", ds_tier},
    {"throttle", ds_throttle},
    {"mark_egress", ds_mark_egress},
    {"cgroups", ds_cgroups},
};

int cfg_parse_downstreams(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	yaml_node_t *names[SPW_MAX_DOWNSTREAMS - 1], *dests[SPW_MAX_DOWNSTREAMS - 1];
	struct spw_config *c = x->c;
	int i, j, n, err;

	(void)key;
	(void)obj;
	err = cfg_expect_list(x, "'downstreams'", val);
	if (err)
		return err;
	n = cfg_list_len(val);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);
		struct spw_config_downstream *d;
		struct ds_aux a = {.throttle = true};

		/* Downstream id 0 means "none" to the data plane. */
		if (i == SPW_MAX_DOWNSTREAMS - 1)
			return cfg_err(x, item, "downstreams: at most %d downstreams",
				       SPW_MAX_DOWNSTREAMS - 1);
		d = &c->downstreams[i];
		memset(d, 0, sizeof(*d));
		d->id = (uint32_t)i + 1;
		d->k_centi = SPW_THROTTLE_K_DEFAULT;
		d->bucket_ms = SPW_THROTTLE_BUCKET_MS_DEFAULT;
		/* Unmarked connections are the most sheddable: a DSCP mark can only raise them. */
		d->default_tier = (uint8_t)(c->ntiers - 1);
		a.d = d;
		err = cfg_walk_map(x, item, "a downstream", "in a downstream", ds_fields,
				   sizeof(ds_fields) / sizeof(ds_fields[0]), &a);
		if (err)
			return err;
		if (!a.name)
			return cfg_err(x, item, "a downstream needs a name");
		if (!a.throttle)
			d->bucket_ms = 0;
		if (!a.dest)
			return cfg_err(
			    x, item, "downstream '%s' needs a dest (ADDR[:PORT] or CIDR)", d->name);
		for (j = 0; j < i; j++) {
			const struct spw_config_downstream *o = &c->downstreams[j];

			if (!strcmp(o->name, d->name))
				return cfg_err(x, a.name,
					       "name: downstream '%s' is listed twice (first at "
					       "line %u)",
					       d->name, cfg_line(names[j]));
			if (o->dest.prefixlen == d->dest.prefixlen &&
			    !memcmp(o->dest.addr, d->dest.addr, SPW_ADDR_LEN))
				return cfg_err(
				    x, a.dest,
				    "dest: the same address or prefix as downstream '%s' "
				    "at line %u (one downstream per prefix)",
				    o->name, cfg_line(dests[j]));
		}
		names[i] = a.name;
		dests[i] = a.dest;
		c->ndownstreams = i + 1;
	}
	return 0;
}
