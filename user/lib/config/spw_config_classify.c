// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config's classify, dscp and exempt sections: source CIDR -> tier rules, the sources whose
 * DSCP marks are trusted, DSCP -> tier, and the sources nothing refuses.
 *
 * The data plane takes the longest matching prefix, so two rules where one prefix contains the
 * other and they name different tiers would not be an error to it. They are rejected here
 * anyway: such a pair is usually a copy-paste slip, and a tier that silently depends on prefix
 * lengths is hard to read back from the file. Nested prefixes naming the same tier are fine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "spw_config_priv.h"
#include "spw_strnum.h"

/* spw_cidr_parse's reasons fit in this. */
#define REASON_MAX 256
/* A key of this file in quotes, for "'KEY' must be a list". */
#define KEY_QUOTED_MAX 32
/* Prefixes that strictly nest: /0 .. /128 over the 16-byte form. */
#define NEST_MAX (8 * SPW_ADDR_LEN + 1)

static int parse_cidr(struct cfg_ctx *x, const char *key, yaml_node_t *val, struct spw_cidr *out)
{
	char why[REASON_MAX];
	const char *t;
	int err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	if (spw_cidr_parse(t, out, why, sizeof(why)))
		return cfg_err(x, val, "%s: %s", key, why);
	return 0;
}

/* A prefix as written in the file, with where it was written, for sorting and messages. */
struct prefix_ref {
	const struct spw_cidr *cidr;
	const yaml_node_t *node;
	int idx; /* position in the file */
	uint8_t tier;
};

/* Address order, a prefix before the longer prefixes it contains, then file order. */
static int prefix_cmp(const void *pa, const void *pb)
{
	const struct prefix_ref *a = pa, *b = pb;
	int d = memcmp(a->cidr->addr, b->cidr->addr, SPW_ADDR_LEN);

	if (d)
		return d;
	if (a->cidr->prefixlen != b->cidr->prefixlen)
		return a->cidr->prefixlen < b->cidr->prefixlen ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool same_prefix(const struct spw_cidr *a, const struct spw_cidr *b)
{
	return a->prefixlen == b->prefixlen && !memcmp(a->addr, b->addr, SPW_ADDR_LEN);
}

/* A conflicting pair; the one reported is the pair whose later rule comes first in the file. */
struct conflict {
	const struct prefix_ref *outer, *inner; /* outer contains inner */
};

static int later_idx(const struct conflict *k)
{
	return k->outer->idx > k->inner->idx ? k->outer->idx : k->inner->idx;
}

static void consider(struct conflict *best, const struct prefix_ref *outer,
		     const struct prefix_ref *inner)
{
	struct conflict k = {outer, inner};

	if (!best->outer || later_idx(&k) < later_idx(best))
		*best = k;
}

/*
 * Finds prefixes listed twice and, when check_tiers, nested prefixes with different tiers,
 * in O(n log n): after sorting, the prefixes that contain a given one are exactly those on a
 * stack of open prefixes, which nest, so the stack is at most NEST_MAX deep. The whole
 * quadratic comparison would take minutes at SPW_MAX_RULES.
 */
static int check_prefixes(struct cfg_ctx *x, struct prefix_ref *refs, int n, bool check_tiers,
			  const char *key)
{
	const struct prefix_ref *stack[NEST_MAX];
	struct conflict best = {0};
	char a[SPW_CIDR_STRLEN], b[SPW_CIDR_STRLEN];
	const struct prefix_ref *later, *earlier;
	int i, depth = 0, s;

	qsort(refs, (size_t)n, sizeof(*refs), prefix_cmp);
	for (i = 0; i < n; i++) {
		const struct prefix_ref *r = &refs[i];

		while (depth && !spw_cidr_contains(stack[depth - 1]->cidr, r->cidr))
			depth--;
		for (s = 0; s < depth; s++)
			if (same_prefix(stack[s]->cidr, r->cidr) ||
			    (check_tiers && stack[s]->tier != r->tier))
				consider(&best, stack[s], r);
		/* A repeat is not pushed: its first listing stands for it, so nesting holds. */
		if (!depth || !same_prefix(stack[depth - 1]->cidr, r->cidr))
			stack[depth++] = r;
	}
	if (!best.outer)
		return 0;

	later = best.outer->idx > best.inner->idx ? best.outer : best.inner;
	earlier = later == best.outer ? best.inner : best.outer;
	spw_cidr_format(later->cidr, a, sizeof(a));
	spw_cidr_format(earlier->cidr, b, sizeof(b));
	if (same_prefix(best.outer->cidr, best.inner->cidr))
		return cfg_err(x, later->node, "%s: %s is already listed at line %u", key, a,
			       cfg_line(earlier->node));
	return cfg_err(x, later->node,
		       "%s: %s (tier %s) %s %s (tier %s) at line %u: overlapping prefixes must "
		       "name the same tier",
		       key, a, x->c->tiers[later->tier],
		       later == best.inner ? "lies inside" : "contains", b,
		       x->c->tiers[earlier->tier], cfg_line(earlier->node));
}

/* ---- classify ---- */

struct rule_aux {
	struct spw_config_rule *rule;
	yaml_node_t *cidr, *tier;
};

static int rule_cidr(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct rule_aux *a = obj;

	(void)key;
	a->cidr = val;
	return parse_cidr(x, "cidr", val, &a->rule->cidr);
}

static int rule_tier(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct rule_aux *a = obj;

	(void)key;
	a->tier = val;
	return cfg_tier(x, "tier", val, &a->rule->tier);
}

static const struct cfg_field rule_fields[] = {
    {"cidr", rule_cidr},
    {"tier", rule_tier},
};

int cfg_parse_classify(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct spw_config *c = x->c;
	struct prefix_ref *refs;
	int i, n, err;

	(void)key;
	(void)obj;
	err = cfg_expect_list(x, "'classify'", val);
	if (err)
		return err;
	n = cfg_list_len(val);
	if (n > SPW_MAX_RULES)
		return cfg_err(x, cfg_list_item(x, val, SPW_MAX_RULES),
			       "classify: at most %d rules", SPW_MAX_RULES);
	if (!n)
		return 0;
	c->rules = calloc((size_t)n, sizeof(*c->rules));
	refs = calloc((size_t)n, sizeof(*refs));
	if (!c->rules || !refs) {
		free(refs);
		snprintf(x->err, x->errlen, "%s: out of memory", x->name);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);
		struct rule_aux a = {.rule = &c->rules[i]};

		err = cfg_walk_map(x, item, "a classify rule", "in a classify rule", rule_fields,
				   sizeof(rule_fields) / sizeof(rule_fields[0]), &a);
		if (!err && !a.cidr)
			err = cfg_err(x, item, "a classify rule needs a cidr");
		if (!err && !a.tier)
			err = cfg_err(x, item, "a classify rule needs a tier");
		if (err) {
			free(refs);
			return err;
		}
		a.rule->line = cfg_line(item);
		refs[i] = (struct prefix_ref){&a.rule->cidr, a.cidr, i, a.rule->tier};
		c->nrules = i + 1;
	}
	err = check_prefixes(x, refs, n, true, "cidr");
	free(refs);
	return err;
}

/* ---- prefix lists: dscp.trusted_sources, exempt ---- */

/*
 * A list of source prefixes under key, at most max of them, into *out and *n. Nesting is
 * harmless in these lists (trust is trust, exempt is exempt): only a repeat is a slip worth
 * naming.
 */
static int parse_prefix_list(struct cfg_ctx *x, const char *key, yaml_node_t *val, int max,
			     struct spw_cidr **out, int *nout)
{
	char what[KEY_QUOTED_MAX];
	struct prefix_ref *refs;
	int i, n, err;

	snprintf(what, sizeof(what), "'%s'", key);
	err = cfg_expect_list(x, what, val);
	if (err)
		return err;
	n = cfg_list_len(val);
	if (n > max)
		return cfg_err(x, cfg_list_item(x, val, max), "%s: at most %d prefixes", key, max);
	if (!n)
		return 0;
	*out = calloc((size_t)n, sizeof(**out));
	refs = calloc((size_t)n, sizeof(*refs));
	if (!*out || !refs) {
		free(refs);
		snprintf(x->err, x->errlen, "%s: out of memory", x->name);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);

		err = parse_cidr(x, key, item, &(*out)[i]);
		if (err) {
			free(refs);
			return err;
		}
		refs[i] = (struct prefix_ref){&(*out)[i], item, i, 0};
		*nout = i + 1;
	}
	err = check_prefixes(x, refs, n, false, key);
	free(refs);
	return err;
}

int cfg_parse_exempt(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return parse_prefix_list(x, "exempt", val, SPW_EXEMPT_CONFIG_MAX, &x->c->exempt,
				 &x->c->nexempt);
}

int cfg_parse_exempt_host_addresses(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val,
				    void *obj)
{
	(void)key;
	(void)obj;
	return cfg_bool(x, "exempt_host_addresses", val, &x->c->exempt_host_addresses);
}

/* ---- dscp ---- */

static int parse_trusted(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return parse_prefix_list(x, "trusted_sources", val, SPW_MAX_TRUSTED, &x->c->trusted,
				 &x->c->ntrusted);
}

static int parse_dscp_map(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	yaml_node_t **map_node = obj;
	yaml_node_t *first[SPW_DSCP_VALUES] = {0};
	char why[REASON_MAX];
	int i, n, err;

	(void)key;
	err = cfg_expect_map(x, "'map'", val);
	if (err)
		return err;
	*map_node = val;
	n = cfg_map_len(val);
	for (i = 0; i < n; i++) {
		yaml_node_t *k, *v;
		const char *text;
		uint8_t dscp, tier;

		err = cfg_map_key(x, val, i, &text);
		if (err)
			return err;
		cfg_map_pair(x, val, i, &k, &v);
		if (spw_parse_u8(text, 0, SPW_DSCP_VALUES - 1, &dscp, why, sizeof(why)))
			return cfg_err(x, k, "map: DSCP %s", why);
		/* "46" and "046" are different keys to YAML and the same mark to a packet. */
		if (first[dscp])
			return cfg_err(x, k, "map: DSCP %u is mapped twice (first at line %u)",
				       dscp, cfg_line(first[dscp]));
		first[dscp] = k;
		err = cfg_tier(x, "map", v, &tier);
		if (err)
			return err;
		x->c->dscp_tier[dscp] = tier;
	}
	return 0;
}

static const struct cfg_field dscp_fields[] = {
    {"trusted_sources", parse_trusted},
    {"map", parse_dscp_map},
};

int cfg_parse_dscp(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	yaml_node_t *map = NULL;
	int err, i;

	(void)key;
	(void)obj;
	err = cfg_walk_map(x, val, "'dscp'", "in dscp", dscp_fields,
			   sizeof(dscp_fields) / sizeof(dscp_fields[0]), &map);
	if (err || !map || x->c->ntrusted)
		return err;
	/* The data plane reads a mark only from a trusted source: this map would never apply. */
	for (i = 0; i < SPW_DSCP_VALUES; i++)
		if (x->c->dscp_tier[i] != SPW_DSCP_UNMAPPED)
			return cfg_err(x, map,
				       "map: DSCP marks are read only from trusted_sources, and "
				       "none are listed");
	return 0;
}
