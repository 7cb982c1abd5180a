// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config parser's node helpers (spw_config_priv.h): positioned errors, type checks,
 * mapping walks with unknown- and duplicate-key checks, and the single-value parsers. Numbers,
 * durations and rates go through spw_strnum so the file and the CLI accept the same spellings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spw_config_priv.h"
#include "spw_strnum.h"

/* Reasons from spw_strnum and spw_cidr fit in this. */
#define REASON_MAX 256
/* Keys and names longer than this get no "did you mean": nothing that long is a typo of ours. */
#define HINT_WORD_MAX 64

__attribute__((format(printf, 3, 0))) static int cfg_verr(struct cfg_ctx *x, yaml_mark_t m,
							  const char *fmt, va_list ap)
{
	int n;

	if (!x->err || !x->errlen)
		return -EINVAL;
	n = snprintf(x->err, x->errlen, "%s:%zu:%zu: ", x->name, m.line + 1, m.column + 1);
	if (n >= 0 && (size_t)n < x->errlen)
		vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	return -EINVAL;
}

int cfg_err_mark(struct cfg_ctx *x, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(x, m, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cfg_err(struct cfg_ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(x, n->start_mark, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

yaml_node_t *cfg_node(struct cfg_ctx *x, int index)
{
	return yaml_document_get_node(x->doc, index);
}

bool cfg_is_null(const yaml_node_t *n)
{
	const char *t;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	t = cfg_text(n);
	return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
	       !strcmp(t, "NULL");
}

const char *cfg_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

/* what is a phrase ("'tick'", "a tier name"): the subject of the message. */
static int scalar_of(struct cfg_ctx *x, const char *what, yaml_node_t *val, const char **text)
{
	if (val->type != YAML_SCALAR_NODE)
		return cfg_err(x, val, "%s must be a single value, not %s", what, cfg_kind(val));
	if (cfg_is_null(val))
		return cfg_err(x, val, "%s has no value", what);
	/* A "\0" escape is valid YAML; C strings would end there and read another value. */
	if (strlen(cfg_text(val)) != val->data.scalar.length)
		return cfg_err(x, val, "%s contains a NUL byte", what);
	*text = cfg_text(val);
	return 0;
}

int cfg_scalar(struct cfg_ctx *x, const char *key, yaml_node_t *val, const char **text)
{
	char what[HINT_WORD_MAX + 3];

	snprintf(what, sizeof(what), "'%s'", key);
	return scalar_of(x, what, val, text);
}

int cfg_expect_map(struct cfg_ctx *x, const char *what, yaml_node_t *val)
{
	if (val->type == YAML_MAPPING_NODE || cfg_is_null(val))
		return 0;
	return cfg_err(x, val, "%s must be a mapping, not %s", what, cfg_kind(val));
}

int cfg_expect_list(struct cfg_ctx *x, const char *what, yaml_node_t *val)
{
	if (val->type == YAML_SEQUENCE_NODE || cfg_is_null(val))
		return 0;
	return cfg_err(x, val, "%s must be a list, not %s", what, cfg_kind(val));
}

int cfg_list_len(const yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *cfg_list_item(struct cfg_ctx *x, const yaml_node_t *n, int i)
{
	return cfg_node(x, n->data.sequence.items.start[i]);
}

int cfg_map_len(const yaml_node_t *n)
{
	if (n->type != YAML_MAPPING_NODE)
		return 0;
	return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

void cfg_map_pair(struct cfg_ctx *x, const yaml_node_t *n, int i, yaml_node_t **key,
		  yaml_node_t **val)
{
	*key = cfg_node(x, n->data.mapping.pairs.start[i].key);
	*val = cfg_node(x, n->data.mapping.pairs.start[i].value);
}

int cfg_map_key(struct cfg_ctx *x, const yaml_node_t *map, int i, const char **text)
{
	yaml_node_t *key, *val, *prev, *pval;
	int j, err;

	cfg_map_pair(x, map, i, &key, &val);
	if (cfg_is_null(key))
		return cfg_err(x, key, "empty key");
	err = scalar_of(x, "a key", key, text);
	if (err)
		return err;
	/*
	 * libyaml keeps every pair of a mapping, duplicates included, and most readers take the
	 * last one: a key written twice is almost always an edit gone wrong, so say so. Mappings
	 * here are small (at most 64 pairs, the DSCP map), so the quadratic scan costs nothing.
	 */
	for (j = 0; j < i; j++) {
		cfg_map_pair(x, map, j, &prev, &pval);
		if (prev->type == YAML_SCALAR_NODE && !strcmp(cfg_text(prev), *text))
			return cfg_err(x, key, "duplicate key '%.*s' (first at line %u)",
				       CFG_QUOTE_MAX, *text, cfg_line(prev));
	}
	return 0;
}

/* Optimal string alignment distance: edits plus adjacent swaps ("prot" is 1 from "port"). */
static size_t osa_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	uint8_t d[HINT_WORD_MAX + 1][HINT_WORD_MAX + 1]; /* distances are at most HINT_WORD_MAX */

	if (la > HINT_WORD_MAX || lb > HINT_WORD_MAX)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = (uint8_t)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (uint8_t)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned int cost = a[i - 1] != b[j - 1], v;

			v = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < v)
				v = d[i][j - 1] + 1u;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < v)
				v = d[i - 2][j - 2] + 1u;
			d[i][j] = (uint8_t)v;
		}
	}
	return d[la][lb];
}

void cfg_hint(char *buf, size_t len, const char *word, const char *const *known, size_t nknown,
	      const char *label)
{
	size_t i, best = SIZE_MAX, best_i = 0, off;

	for (i = 0; i < nknown; i++) {
		size_t d = osa_distance(word, known[i]);

		if (d < best) {
			best = d;
			best_i = i;
		}
	}
	/* Two edits catch the usual typos; shorter words would match anything at that range. */
	if (best <= 2 && best < strlen(word) && best < strlen(known[best_i])) {
		snprintf(buf, len, " (did you mean '%s'?)", known[best_i]);
		return;
	}
	off = (size_t)snprintf(buf, len, " (%s: ", label);
	for (i = 0; i < nknown && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", known[i]);
	if (off < len)
		snprintf(buf + off, len - off, ")");
}

int cfg_walk_map(struct cfg_ctx *x, yaml_node_t *map, const char *what, const char *where,
		 const struct cfg_field *fields, size_t nfields, void *obj)
{
	const char *known[24];
	int i, n, err;
	size_t f;

	err = cfg_expect_map(x, what, map);
	if (err)
		return err;
	n = cfg_map_len(map);
	for (i = 0; i < n; i++) {
		yaml_node_t *key, *val;
		const char *text;

		err = cfg_map_key(x, map, i, &text);
		if (err)
			return err;
		cfg_map_pair(x, map, i, &key, &val);
		for (f = 0; f < nfields; f++)
			if (!strcmp(fields[f].key, text))
				break;
		if (f == nfields) {
			char hint[SPW_ERR_MAX];

			for (f = 0; f < nfields && f < sizeof(known) / sizeof(known[0]); f++)
				known[f] = fields[f].key;
			cfg_hint(hint, sizeof(hint), text, known, f, "known keys");
			return cfg_err(x, key, "unknown key '%.*s' %s%s", CFG_QUOTE_MAX, text,
				       where, hint);
		}
		err = fields[f].parse(x, key, val, obj);
		if (err)
			return err;
	}
	return 0;
}

int cfg_bool(struct cfg_ctx *x, const char *key, yaml_node_t *val, bool *out)
{
	const char *t;
	int err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	/* Only the two words: YAML 1.1's yes/no/on/off are how "no" became false in Norway. */
	if (!strcmp(t, "true"))
		*out = true;
	else if (!strcmp(t, "false"))
		*out = false;
	else
		return cfg_err(x, val, "%s: '%.*s' is not true or false", key, CFG_QUOTE_MAX, t);
	return 0;
}

int cfg_u32(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint32_t min, uint32_t max,
	    uint32_t *out)
{
	char why[REASON_MAX];
	const char *t;
	int err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	if (spw_parse_u32(t, min, max, out, why, sizeof(why)))
		return cfg_err(x, val, "%s: %s", key, why);
	return 0;
}

int cfg_duration(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint64_t min_ns,
		 uint64_t max_ns, uint64_t *out)
{
	char why[REASON_MAX];
	const char *t;
	int err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	if (spw_parse_duration_ns(t, min_ns, max_ns, out, why, sizeof(why)))
		return cfg_err(x, val, "%s: %s", key, why);
	return 0;
}

int cfg_decimal(struct cfg_ctx *x, const char *key, yaml_node_t *val, double *out)
{
	const char *t, *p;
	char *end;
	int err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	p = t;
	if (*p < '0' || *p > '9')
		goto bad;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		goto bad;
	/*
	 * The syntax is checked above, so strtod only converts; it cannot meet a locale's decimal
	 * comma because nothing in spillway calls setlocale().
	 */
	*out = strtod(t, &end);
	return 0;
bad:
	return cfg_err(x, val, "%s: '%.*s' is not a decimal number (like 0.85)", key, CFG_QUOTE_MAX,
		       t);
}

int cfg_tier(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint8_t *out)
{
	const char *known[SPW_MAX_TIERS];
	char hint[SPW_ERR_MAX];
	const char *t;
	int i, err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	i = spw_config_tier(x->c, t);
	if (i >= 0) {
		*out = (uint8_t)i;
		return 0;
	}
	for (i = 0; i < x->c->ntiers; i++)
		known[i] = x->c->tiers[i];
	cfg_hint(hint, sizeof(hint), t, known, (size_t)x->c->ntiers, "tiers");
	return cfg_err(x, val, "%s: unknown tier '%.*s'%s", key, CFG_QUOTE_MAX, t, hint);
}

static bool name_char(char ch, bool first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
		return true;
	if (first)
		return false;
	return (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
}

int cfg_name(struct cfg_ctx *x, const char *key, const char *what, bool letter_first,
	     yaml_node_t *val, char out[SPW_NAME_MAX])
{
	char phrase[HINT_WORD_MAX];
	const char *t;
	size_t i, len;
	int err;

	/* "a tier name must be a single value": the key may be a list's, not this value's. */
	snprintf(phrase, sizeof(phrase), "a %s name", what);
	err = scalar_of(x, phrase, val, &t);
	if (err)
		return err;
	len = strlen(t);
	for (i = 0; i < len; i++)
		if (!name_char(t[i], letter_first && i == 0))
			break;
	if (i < len || len >= SPW_NAME_MAX)
		return cfg_err(x, val,
			       "%s: '%.*s' is not a valid %s name (%sletters, digits, '_', '-' or "
			       "'.'; at most %d characters)",
			       key, CFG_QUOTE_MAX, t, what, letter_first ? "a letter, then " : "",
			       SPW_NAME_MAX - 1);
	memcpy(out, t, len + 1);
	return 0;
}

int cfg_mark(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint8_t *out)
{
	uint32_t dscp;
	int err;

	/* DSCP is the top 6 bits of the IPv4 TOS and of the IPv6 traffic class. */
	err = cfg_u32(x, key, val, 0, SPW_DSCP_MASK, &dscp);
	if (err)
		return err;
	*out = (uint8_t)(SPW_MARK_SET | dscp);
	return 0;
}

int cfg_walk_tier_map(struct cfg_ctx *x, const char *what, yaml_node_t *map,
		      int (*parse)(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key,
				   yaml_node_t *val, void *obj),
		      void *obj)
{
	char phrase[HINT_WORD_MAX + 3];
	int i, n, err;

	snprintf(phrase, sizeof(phrase), "'%s'", what);
	err = cfg_expect_map(x, phrase, map);
	if (err)
		return err;
	n = cfg_map_len(map);
	for (i = 0; i < n; i++) {
		yaml_node_t *key, *val;
		const char *text;
		uint8_t tier;

		err = cfg_map_key(x, map, i, &text);
		if (err)
			return err;
		cfg_map_pair(x, map, i, &key, &val);
		err = cfg_tier(x, what, key, &tier);
		if (err)
			return err;
		err = parse(x, tier, key, val, obj);
		if (err)
			return err;
	}
	return 0;
}
