// SPDX-License-Identifier: GPL-2.0-only
/* YAML files as trees (see ydoc.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ydoc.h"
#include "util.h"

int spw_ydocs_parse(struct spw_ydocs *d, const char *text, const char *name, char *err,
		    size_t errlen)
{
	yaml_parser_t p;
	int ret = 0;

	memset(d, 0, sizeof(*d));
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	for (;;) {
		yaml_document_t *doc = &d->doc[d->n];

		if (!yaml_parser_load(&p, doc)) {
			snprintf(err, errlen, "%s:%zu: %s", name, p.problem_mark.line + 1,
				 p.problem ? p.problem : "does not parse");
			ret = -EINVAL;
			break;
		}
		if (!yaml_document_get_root_node(doc)) { /* the end of the stream */
			yaml_document_delete(doc);
			break;
		}
		if (++d->n == SPW_YDOC_MAX) {
			snprintf(err, errlen, "%s: more than %d documents", name, SPW_YDOC_MAX);
			ret = -E2BIG;
			break;
		}
	}
	yaml_parser_delete(&p);
	if (ret)
		spw_ydocs_free(d);
	return ret;
}

int spw_ydocs_load(struct spw_ydocs *d, const char *path, char *err, size_t errlen)
{
	char *text = spw_read_file(path, NULL);
	int ret;

	memset(d, 0, sizeof(*d));
	if (!text) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = spw_ydocs_parse(d, text, path, err, errlen);
	free(text);
	return ret;
}

void spw_ydocs_free(struct spw_ydocs *d)
{
	for (int i = 0; i < d->n; i++)
		yaml_document_delete(&d->doc[i]);
	d->n = 0;
}

yaml_node_t *spw_yroot(struct spw_ydocs *d, int i)
{
	return i >= 0 && i < d->n ? yaml_document_get_root_node(&d->doc[i]) : NULL;
}

const char *spw_ykey(struct spw_ydocs *d, int i, const yaml_node_t *m, int k, yaml_node_t **val)
{
	yaml_node_pair_t *pair;

	*val = NULL;
	if (!m || m->type != YAML_MAPPING_NODE || k < 0 || k >= spw_ylen(m))
		return NULL;
	pair = m->data.mapping.pairs.start + k;
	*val = yaml_document_get_node(&d->doc[i], pair->value);
	return spw_ystr(yaml_document_get_node(&d->doc[i], pair->key));
}

yaml_node_t *spw_yget(struct spw_ydocs *d, int i, const yaml_node_t *m, const char *key)
{
	yaml_node_t *val;

	for (int k = 0; k < spw_ylen(m); k++) {
		const char *name = spw_ykey(d, i, m, k, &val);

		if (name && !strcmp(name, key))
			return val;
	}
	return NULL;
}

yaml_node_t *spw_ypath(struct spw_ydocs *d, int i, const yaml_node_t *m, ...)
{
	yaml_node_t *n = (yaml_node_t *)m;
	const char *key;
	va_list ap;

	va_start(ap, m);
	while (n && (key = va_arg(ap, const char *)))
		n = spw_yget(d, i, n, key);
	va_end(ap);
	return n;
}

yaml_node_t *spw_yitem(struct spw_ydocs *d, int i, const yaml_node_t *seq, int k)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE || k < 0 || k >= spw_ylen(seq))
		return NULL;
	return yaml_document_get_node(&d->doc[i], seq->data.sequence.items.start[k]);
}

int spw_ylen(const yaml_node_t *n)
{
	if (!n)
		return 0;
	if (n->type == YAML_SEQUENCE_NODE)
		return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (n->type == YAML_MAPPING_NODE)
		return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	return 0;
}

const char *spw_ystr(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool spw_yis(const yaml_node_t *n, const char *text)
{
	const char *s = spw_ystr(n);

	return s && !strcmp(s, text);
}

int spw_yline(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}
