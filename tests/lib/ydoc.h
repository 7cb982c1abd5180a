/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * YAML files as trees, for tests that check manifests: every document of a file (a stream of
 * "---"-separated ones), walked by key and index. Built on libyaml's document API. Nodes are
 * libyaml's, valid while their spw_ydocs lives. Lookups on a NULL node give NULL, so a path can
 * be followed in one expression and checked once at its end.
 */
#ifndef SPW_TEST_YDOC_H
#define SPW_TEST_YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* Documents a manifest file holds at the most. */
#define SPW_YDOC_MAX 16

struct spw_ydocs {
	yaml_document_t doc[SPW_YDOC_MAX];
	int n;
};

/*
 * Loads every document of path (empty ones are skipped). 0, or -EINVAL with "FILE:LINE: what"
 * in err when the file does not parse, -E2BIG past SPW_YDOC_MAX documents, or another negative
 * errno when it cannot be read.
 */
int spw_ydocs_load(struct spw_ydocs *d, const char *path, char *err, size_t errlen);
/* The same from a string (name for messages). */
int spw_ydocs_parse(struct spw_ydocs *d, const char *text, const char *name, char *err,
		    size_t errlen);
void spw_ydocs_free(struct spw_ydocs *d);

/* The root node of document i. */
yaml_node_t *spw_yroot(struct spw_ydocs *d, int i);
/* The value of key in mapping m, or NULL (also when m is not a mapping). */
yaml_node_t *spw_yget(struct spw_ydocs *d, int i, const yaml_node_t *m, const char *key);
/* Follows keys ("spec", "template", ...; NULL-terminated) from m. */
yaml_node_t *spw_ypath(struct spw_ydocs *d, int i, const yaml_node_t *m, ...);
/* Item k of a sequence, or NULL. */
yaml_node_t *spw_yitem(struct spw_ydocs *d, int i, const yaml_node_t *seq, int k);
/* Items of a sequence or pairs of a mapping; 0 for anything else. */
int spw_ylen(const yaml_node_t *n);
/* Key text of pair k of mapping m (NULL when the key is not a scalar), and its value. */
const char *spw_ykey(struct spw_ydocs *d, int i, const yaml_node_t *m, int k, yaml_node_t **val);
/* A scalar's text, or NULL for anything else (or a NULL node). */
const char *spw_ystr(const yaml_node_t *n);
/* Is n a scalar with exactly this text? */
bool spw_yis(const yaml_node_t *n, const char *text);
/* 1-based line of n, for messages; 0 for NULL. */
int spw_yline(const yaml_node_t *n);

#endif /* SPW_TEST_YDOC_H */
