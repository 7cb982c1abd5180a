// SPDX-License-Identifier: GPL-2.0-only
/* systemd unit files as the tests read them (see unitfile.h). */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unitfile.h"

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int add(struct spw_unit *u, const char *section, const char *key, const char *value)
{
	struct spw_unit_entry *e;

	if (u->n == SPW_UNIT_MAX)
		return -E2BIG;
	e = &u->e[u->n];
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value);
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		return -ENOMEM;
	}
	u->n++;
	return 0;
}

static int append(char **buf, size_t *len, const char *s, size_t n)
{
	char *more = realloc(*buf, *len + n + 1);

	if (!more)
		return -ENOMEM;
	memcpy(more + *len, s, n + 1);
	*buf = more;
	*len += n;
	return 0;
}

int spw_unit_load(struct spw_unit *u, const char *path)
{
	char section[64] = "", *line = NULL, *joined = NULL;
	size_t cap = 0, jlen = 0;
	int err = 0;
	FILE *f;

	memset(u, 0, sizeof(*u));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!err && getline(&line, &cap, f) >= 0) {
		char *l = trim(line), *eq;
		size_t n = strlen(l);

		/* A continued line: collect up to the one that does not end in '\'. */
		bool cont = n && l[n - 1] == '\\';

		if (cont)
			l[n - 1] = ' ';
		if (cont || joined) {
			err = append(&joined, &jlen, l, n);
			if (err)
				break;
			if (cont)
				continue;
			l = joined;
		}
		if (!*l || *l == '#' || *l == ';') {
			/* nothing */
		} else if (*l == '[') {
			char *close = strchr(l, ']');

			if (!close || close - l - 1 >= (long)sizeof(section))
				err = -EINVAL;
			else
				snprintf(section, sizeof(section), "%.*s", (int)(close - l - 1),
					 l + 1);
		} else if (!section[0] || !(eq = strchr(l, '='))) {
			err = -EINVAL;
		} else {
			*eq = '\0';
			err = add(u, section, trim(l), trim(eq + 1));
		}
		free(joined);
		joined = NULL;
		jlen = 0;
	}
	free(joined);
	free(line);
	fclose(f);
	if (err)
		spw_unit_free(u);
	return err;
}

void spw_unit_free(struct spw_unit *u)
{
	for (int i = 0; i < u->n; i++) {
		free(u->e[i].section);
		free(u->e[i].key);
		free(u->e[i].value);
	}
	u->n = 0;
}

int spw_unit_all(const struct spw_unit *u, const char *section, const char *key, const char **vals,
		 int max)
{
	int n = 0;

	for (int i = 0; i < u->n; i++) {
		if (strcmp(u->e[i].section, section) || strcmp(u->e[i].key, key))
			continue;
		if (!u->e[i].value[0]) { /* "Key=" resets the list */
			n = 0;
			continue;
		}
		if (n < max)
			vals[n] = u->e[i].value;
		n++;
	}
	return n;
}

const char *spw_unit_get(const struct spw_unit *u, const char *section, const char *key)
{
	const char *vals[SPW_UNIT_MAX];
	int n = spw_unit_all(u, section, key, vals, SPW_UNIT_MAX);

	return n > 0 ? vals[n - 1] : NULL;
}

void spw_unit_words_free(char **words, int n)
{
	for (int i = 0; i < n; i++) {
		free(words[i]);
		words[i] = NULL;
	}
}

int spw_unit_split(const char *value, char **words, int max)
{
	const char *p = value;
	int n = 0;

	for (;;) {
		char *w, quote = 0;
		size_t len = 0;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return n;
		if (n == max) {
			spw_unit_words_free(words, n);
			return -E2BIG;
		}
		w = malloc(strlen(p) + 1);
		if (!w) {
			spw_unit_words_free(words, n);
			return -ENOMEM;
		}
		for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
			if (!quote && (*p == '"' || *p == '\''))
				quote = *p;
			else if (quote && *p == quote)
				quote = 0;
			else
				w[len++] = *p;
		}
		w[len] = '\0';
		words[n++] = w;
	}
}

int spw_unit_list(const struct spw_unit *u, const char *section, const char *key, char **words,
		  int max)
{
	const char *vals[SPW_UNIT_MAX];
	int nv = spw_unit_all(u, section, key, vals, SPW_UNIT_MAX), n = 0;

	for (int i = 0; i < nv && i < SPW_UNIT_MAX; i++) {
		int got = spw_unit_split(vals[i], words + n, max - n);

		if (got < 0) {
			spw_unit_words_free(words, n);
			return got;
		}
		n += got;
	}
	return n;
}

static const char *var(const char *const *vars, const char *name, size_t len)
{
	for (int i = 0; vars && vars[i]; i++)
		if (!strncmp(vars[i], name, len) && vars[i][len] == '=')
			return vars[i] + len + 1;
	return "";
}

/* $NAME and ${NAME} in w replaced; a new string. */
static char *expand(const char *w, const char *const *vars)
{
	size_t cap = strlen(w) + 1, len = 0;
	char *out = malloc(cap);

	for (const char *p = w; out && *p;) {
		const char *val = NULL;
		size_t vlen, nlen = 0;

		if (p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
			nlen = (size_t)(strchr(p, '}') - p - 2);
			val = var(vars, p + 2, nlen);
			p += nlen + 3;
		} else if (p[0] == '$' && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
			while (isalnum((unsigned char)p[1 + nlen]) || p[1 + nlen] == '_')
				nlen++;
			val = var(vars, p + 1, nlen);
			p += nlen + 1;
		}
		vlen = val ? strlen(val) : 1;
		if (len + vlen + 1 > cap) {
			char *more = realloc(out, (cap = len + vlen + 1 + cap));

			if (!more) {
				free(out);
				return NULL;
			}
			out = more;
		}
		if (val) {
			memcpy(out + len, val, vlen);
		} else {
			out[len] = *p++;
		}
		len += vlen;
	}
	if (out)
		out[len] = '\0';
	return out;
}

int spw_unit_exec_argv(const char *value, const char *const *vars, char **argv, int max)
{
	char *words[SPW_UNIT_WORDS];
	int n = spw_unit_split(value, words, SPW_UNIT_WORDS);

	if (n < 0)
		return n;
	if (n >= max) {
		spw_unit_words_free(words, n);
		return -E2BIG;
	}
	for (int i = 0; i < n; i++) {
		const char *w = words[i];

		if (i == 0)
			w += strspn(w, "-@:+!");
		argv[i] = expand(w, vars);
		if (!argv[i]) {
			spw_unit_words_free(argv, i);
			spw_unit_words_free(words, n);
			return -ENOMEM;
		}
	}
	argv[n] = NULL;
	spw_unit_words_free(words, n);
	return n;
}

int64_t spw_unit_usec(const char *span)
{
	static const struct {
		const char *unit;
		int64_t us;
	} units[] = {
	    {"us", 1},	       {"ms", 1000},	{"s", 1000000},	     {"sec", 1000000},
	    {"min", 60000000}, {"m", 60000000}, {"h", 3600000000LL}, {"", 1000000},
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(span, &end);
	if (errno || end == span || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit))
			return (int64_t)(v * (double)units[i].us);
	return -1;
}
