/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the config parser (spw_config*.c), not part of libspillway's API.
 *
 * The parser loads the whole YAML document with libyaml's document API and then walks the node
 * tree against the schema. A tree rather than the event stream because validation needs to
 * look around: duplicate keys, the tier list before anything that names a tier, the tick before
 * the lease that must be longer than three of them, and every node keeps the mark that error
 * messages point at. Each walker stops at the first error: one precise message is worth more
 * than a cascade caused by the first.
 */
#ifndef SPW_CONFIG_PRIV_H
#define SPW_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "spw_config.h"

/* User text quoted in messages is cut here so one bad value cannot fill the message. */
#define CFG_QUOTE_MAX 64

struct cfg_ctx {
	const char *name; /* file name in messages */
	yaml_document_t *doc;
	struct spw_config *c;
	char *err;
	size_t errlen;
	yaml_node_t
	    *xdp_priority; /* where xdp_priority is written, checked against the dispatcher */
};

/* One key a mapping accepts, and what parses its value into obj. */
struct cfg_field {
	const char *key;
	int (*parse)(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj);
};

/* "FILE:LINE:COLUMN: message" at a node's start (1-based); always returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int cfg_err(struct cfg_ctx *x, const yaml_node_t *n,
						  const char *fmt, ...);
__attribute__((format(printf, 3, 4))) int cfg_err_mark(struct cfg_ctx *x, yaml_mark_t m,
						       const char *fmt, ...);

/* 1-based line of a node, for "first at line N" and the rule lines `explain` shows. */
static inline uint32_t cfg_line(const yaml_node_t *n)
{
	return (uint32_t)n->start_mark.line + 1;
}

yaml_node_t *cfg_node(struct cfg_ctx *x, int index);
/* Scalar text; only valid for scalar nodes. */
static inline const char *cfg_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An empty plain value ("key:" with nothing after it, "~", "null"). */
bool cfg_is_null(const yaml_node_t *n);
/* "a mapping", "a list", "a single value": the words type errors use. */
const char *cfg_kind(const yaml_node_t *n);

/*
 * The value of key as a scalar: an error when it is a list or mapping, empty, or holds a NUL
 * byte (which C strings would silently cut).
 */
int cfg_scalar(struct cfg_ctx *x, const char *key, yaml_node_t *val, const char **text);
/*
 * Checks val is a mapping (what names the value in messages). A null value is an empty
 * mapping: a section whose entries are all commented out means "the defaults".
 */
int cfg_expect_map(struct cfg_ctx *x, const char *what, yaml_node_t *val);
int cfg_expect_list(struct cfg_ctx *x, const char *what, yaml_node_t *val);
/* Number of items of a list or pairs of a mapping (0 for a null value). */
int cfg_list_len(const yaml_node_t *n);
yaml_node_t *cfg_list_item(struct cfg_ctx *x, const yaml_node_t *n, int i);
int cfg_map_len(const yaml_node_t *n);
void cfg_map_pair(struct cfg_ctx *x, const yaml_node_t *n, int i, yaml_node_t **key,
		  yaml_node_t **val);

/*
 * Checks the key of pair i of map is a single value, not a duplicate of an earlier key, and
 * returns its text.
 */
int cfg_map_key(struct cfg_ctx *x, const yaml_node_t *map, int i, const char **text);

/*
 * Walks a mapping: each key must be one of fields (where names the mapping in the unknown-key
 * message: "in controller", "in a service"), no key twice; the values are handed to the
 * fields' parsers in file order, so the first error in the file is the one reported.
 */
int cfg_walk_map(struct cfg_ctx *x, yaml_node_t *map, const char *what, const char *where,
		 const struct cfg_field *fields, size_t nfields, void *obj);

/* Appends " (did you mean 'X'?)" or " (LABEL: a, b, c)" to buf, for unknown-name messages. */
void cfg_hint(char *buf, size_t len, const char *word, const char *const *known, size_t nknown,
	      const char *label);

/* Parsers of single values: "KEY: reason" messages at val on failure. */
int cfg_bool(struct cfg_ctx *x, const char *key, yaml_node_t *val, bool *out);
int cfg_u32(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint32_t min, uint32_t max,
	    uint32_t *out);
int cfg_duration(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint64_t min_ns,
		 uint64_t max_ns, uint64_t *out);
/*
 * A plain decimal ("0.85", "1"): no sign, exponent, hex, inf or nan, which strtod would all
 * take. Range checks are the caller's, since whether the ends are open differs.
 */
int cfg_decimal(struct cfg_ctx *x, const char *key, yaml_node_t *val, double *out);
/* A DSCP to write (0..63), as a mark: SPW_MARK_SET | dscp (mark_egress values). */
int cfg_mark(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint8_t *out);
/* A tier by name: "unknown tier" with the configured list otherwise. */
int cfg_tier(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint8_t *out);
/*
 * A name people choose (tiers, services, pools, queues): metric labels and report-line words,
 * so letters, digits, '_', '-' or '.', shorter than SPW_NAME_MAX. Tier and service names
 * start with a letter, so a tier is never written as a number; pool and queue names follow
 * the report line's rule (spw_report.c), which lets them start with a digit.
 */
int cfg_name(struct cfg_ctx *x, const char *key, const char *what, bool letter_first,
	     yaml_node_t *val, char out[SPW_NAME_MAX]);

/*
 * Walks a mapping keyed by tier names (shed_action, max_connections, ...): unknown tiers and
 * duplicate keys are errors; each value goes to parse with its tier.
 */
int cfg_walk_tier_map(struct cfg_ctx *x, const char *what, yaml_node_t *map,
		      int (*parse)(struct cfg_ctx *x, uint8_t tier, yaml_node_t *key,
				   yaml_node_t *val, void *obj),
		      void *obj);

/* Top-level sections, as struct cfg_field parsers (key is the section's key, obj unused). */
#define CFG_SECTION(name)                                                                          \
	int cfg_parse_##name(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
/* spw_config_classify.c */
CFG_SECTION(classify);
CFG_SECTION(dscp);
CFG_SECTION(exempt);
CFG_SECTION(exempt_host_addresses);
/* spw_config_service.c */
CFG_SECTION(services);
/* spw_config_daemon.c */
CFG_SECTION(interfaces);
CFG_SECTION(controller);
CFG_SECTION(flows);
CFG_SECTION(reject);
CFG_SECTION(xdp_dispatcher);
CFG_SECTION(xdp_priority);
CFG_SECTION(metrics);
CFG_SECTION(report);
CFG_SECTION(state_dir);
/* spw_config_downstream.c */
CFG_SECTION(downstreams);

#endif /* SPW_CONFIG_PRIV_H */
