// SPDX-License-Identifier: GPL-2.0-only
/*
 * App report lines (spw_report.h): a strict parser and its inverse.
 *
 * The line comes from a datagram, so it is a byte range, not a C string: it may hold a NUL or
 * lack one at the end, and both are handled before anything looks at it as text. Parsing goes
 * into locals and is copied out only when the whole line is good, so a refused line changes
 * nothing the caller holds. User text quoted in a message is cut short and stripped of control
 * bytes, because the daemon logs these messages and the sender is any local process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "spw_err.h"
#include "spw_report.h"
#include "spw_strnum.h"

/*
 * Largest value a field may carry. Reports are turned into ratios and milliseconds as doubles
 * by the signal code, and every whole number up to 2^53 is exact in a double; past it two
 * different reports could read as the same value.
 */
#define REPORT_NUM_MAX	   (1ULL << 53)
#define REPORT_NUM_MAX_STR "2^53 (9007199254740992)"

/* User text quoted in a message is cut to this many bytes: one bad line, one short log line. */
#define QUOTE_MAX 40
/* Room for a quoted token: QUOTE_MAX bytes, "..." and the NUL. */
#define QUOTE_BUF (QUOTE_MAX + 4)

struct report_field {
	const char *name;
	size_t off;	  /* of its __u64 in struct spw_report */
	uint32_t present; /* its SPW_REPORT_HAS_* bit; 0 for a required field */
};

struct report_kind {
	const char *word; /* first word of the line */
	enum spw_report_kind kind;
	const struct report_field *fields;
	size_t nfields;
	const char *field_list; /* for "unknown field" messages */
};

static const struct report_field pool_fields[] = {
    {"in_use", offsetof(struct spw_report, in_use), 0},
    {"capacity", offsetof(struct spw_report, capacity), 0},
    {"waiting", offsetof(struct spw_report, waiting), SPW_REPORT_HAS_WAITING},
    {"wait_ms", offsetof(struct spw_report, wait_ms), SPW_REPORT_HAS_WAIT_MS},
};

static const struct report_field queue_fields[] = {
    {"depth", offsetof(struct spw_report, depth), 0},
    {"limit", offsetof(struct spw_report, limit), SPW_REPORT_HAS_LIMIT},
    {"age_ms", offsetof(struct spw_report, age_ms), SPW_REPORT_HAS_AGE_MS},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct report_kind report_kinds[] = {
    {"pool", SPW_REPORT_POOL, pool_fields, ARRAY_SIZE(pool_fields),
     "in_use, capacity, waiting, wait_ms"},
    {"queue", SPW_REPORT_QUEUE, queue_fields, ARRAY_SIZE(queue_fields), "depth, limit, age_ms"},
};

/* At most this many fields per kind: the "seen" set below is a bit mask. */
_Static_assert(ARRAY_SIZE(pool_fields) <= 32 && ARRAY_SIZE(queue_fields) <= 32,
	       "seen mask is 32 bits");

/* s[0..n) made safe to print: control and non-ASCII bytes become '?', long text is cut. */
static const char *quote(char buf[QUOTE_BUF], const char *s, size_t n)
{
	size_t i, m = n > QUOTE_MAX ? QUOTE_MAX : n;

	for (i = 0; i < m; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n > m) {
		memcpy(buf + m, "...", 3);
		m += 3;
	}
	buf[m] = '\0';
	return buf;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Next run of non-blank bytes at or after *pos, as [*tok, *tok + *toklen); false at the end. */
static bool next_token(const char *line, size_t len, size_t *pos, const char **tok, size_t *toklen)
{
	size_t i = *pos, start;

	while (i < len && is_blank(line[i]))
		i++;
	if (i == len)
		return false;
	start = i;
	while (i < len && !is_blank(line[i]))
		i++;
	*tok = line + start;
	*toklen = i - start;
	*pos = i;
	return true;
}

static bool token_is(const char *tok, size_t toklen, const char *word)
{
	return strlen(word) == toklen && !memcmp(tok, word, toklen);
}

static int check_name(const struct report_kind *k, const char *name, size_t n, char *err,
		      size_t errlen)
{
	char q[QUOTE_BUF];
	size_t i;

	if (n >= SPW_REPORT_NAME_MAX) {
		spw_set_err(err, errlen, "%s name '%s' is longer than %d characters", k->word,
			    quote(q, name, n), SPW_REPORT_NAME_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!is_name_char(name[i])) {
			spw_set_err(
			    err, errlen,
			    "%s name '%s': only letters, digits, '_', '.' and '-' are allowed",
			    k->word, quote(q, name, n));
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The fields are __u64 (unsigned long long) and uint64_t is unsigned long here: accessing one
 * through a pointer to the other breaks strict aliasing, and gcc -O2 then reads stale values.
 * memcpy is the defined way.
 */
static void field_set(struct spw_report *val, const struct report_field *f, uint64_t v)
{
	__u64 u = v;

	memcpy((char *)val + f->off, &u, sizeof(u));
}

static uint64_t field_get(const struct spw_report *val, const struct report_field *f)
{
	__u64 u;

	memcpy(&u, (const char *)val + f->off, sizeof(u));
	return u;
}

/* One "key=value" token into val; seen and val->present record it. */
static int parse_field(const struct report_kind *k, const char *tok, size_t toklen,
		       struct spw_report *val, uint32_t *seen, char *err, size_t errlen)
{
	/* The whole line fits SPW_REPORT_LINE_MAX, so any value does too. */
	char num[SPW_REPORT_LINE_MAX + 1];
	const struct report_field *f = NULL;
	const char *eq = memchr(tok, '=', toklen);
	char q[QUOTE_BUF];
	size_t keylen, vlen, i;
	uint64_t v;
	int ret;

	/* "in_use = 3" and "=3" are not fields: say what a field looks like. */
	if (!eq || eq == tok) {
		spw_set_err(err, errlen, "'%s' is not a field (NAME=NUMBER)",
			    quote(q, tok, toklen));
		return -EINVAL;
	}
	keylen = (size_t)(eq - tok);
	for (i = 0; i < k->nfields; i++) {
		if (token_is(tok, keylen, k->fields[i].name)) {
			f = &k->fields[i];
			break;
		}
	}
	if (!f) {
		spw_set_err(err, errlen, "unknown field '%s' for a %s (%s)", quote(q, tok, keylen),
			    k->word, k->field_list);
		return -EINVAL;
	}
	if (*seen & (1U << i)) {
		spw_set_err(err, errlen, "%s given twice", f->name);
		return -EINVAL;
	}

	vlen = toklen - keylen - 1;
	if (!vlen) {
		spw_set_err(err, errlen, "%s=: no value", f->name);
		return -EINVAL;
	}
	memcpy(num, eq + 1, vlen);
	num[vlen] = '\0';
	/* spw_parse_u64 refuses signs, blanks, hex, fractions, nan, inf; the messages are ours. */
	ret = spw_parse_u64(num, 0, REPORT_NUM_MAX, &v, NULL, 0);
	if (ret == -ERANGE && num[0] == '-') {
		spw_set_err(err, errlen, "%s=%s: must not be negative", f->name,
			    quote(q, num, vlen));
		return -EINVAL;
	}
	if (ret == -ERANGE) {
		spw_set_err(err, errlen, "%s=%s: more than " REPORT_NUM_MAX_STR, f->name,
			    quote(q, num, vlen));
		return -EINVAL;
	}
	if (ret) {
		spw_set_err(err, errlen, "%s=%s: not a whole number", f->name, quote(q, num, vlen));
		return -EINVAL;
	}
	field_set(val, f, v);
	val->present |= f->present;
	*seen |= 1U << i;
	return 0;
}

/* What a report must satisfy beyond its syntax; shared by the parser and the formatter. */
static int check_values(const struct report_kind *k, const struct spw_report *val, char *err,
			size_t errlen)
{
	if (k->kind == SPW_REPORT_POOL) {
		/* A fill of in_use / 0 means nothing: neither empty nor full. */
		if (!val->capacity) {
			spw_set_err(err, errlen, "capacity must be > 0");
			return -EINVAL;
		}
		/* in_use above capacity is kept: PostgreSQL's pg_stat_activity counts reserved
		 * and starting backends beside max_connections, exactly when it is busiest. The
		 * pool is full and then some, a measurement, not an error. */
	}
	return 0;
}

int spw_report_parse(const char *line, size_t len, struct spw_report_key *key,
		     struct spw_report *val, char *err, size_t errlen)
{
	const struct report_kind *k = NULL;
	struct spw_report_key nk;
	struct spw_report nv;
	const char *tok, *name;
	size_t pos = 0, toklen, namelen, i;
	uint32_t seen = 0;
	char q[QUOTE_BUF];
	int ret;

	spw_set_err(err, errlen, "%s", "");
	if (!line || !key || !val) {
		spw_set_err(err, errlen, "no line given");
		return -EINVAL;
	}
	if (len > SPW_REPORT_LINE_MAX) {
		spw_set_err(err, errlen, "line is longer than %d bytes", SPW_REPORT_LINE_MAX);
		return -EINVAL;
	}
	/* A C-string reader would stop at the NUL and act on half a line. */
	if (memchr(line, '\0', len)) {
		spw_set_err(err, errlen, "line contains a NUL byte");
		return -EINVAL;
	}
	if (len && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len)) {
		spw_set_err(err, errlen, "more than one line (one report per line)");
		return -EINVAL;
	}
	if (!len) {
		spw_set_err(err, errlen, "empty line");
		return -EINVAL;
	}
	if (is_blank(line[0])) {
		spw_set_err(err, errlen, "space or tab at the start of the line");
		return -EINVAL;
	}
	if (is_blank(line[len - 1])) {
		spw_set_err(err, errlen, "space or tab at the end of the line");
		return -EINVAL;
	}

	next_token(line, len, &pos, &tok, &toklen);
	for (i = 0; i < ARRAY_SIZE(report_kinds); i++) {
		if (token_is(tok, toklen, report_kinds[i].word)) {
			k = &report_kinds[i];
			break;
		}
	}
	if (!k) {
		spw_set_err(err, errlen, "unknown report '%s' (pool or queue)",
			    quote(q, tok, toklen));
		return -EINVAL;
	}

	if (!next_token(line, len, &pos, &name, &namelen)) {
		spw_set_err(err, errlen, "%s: no name", k->word);
		return -EINVAL;
	}
	/* "pool in_use=1 ...": a field where the name should be is a forgotten name. */
	if (memchr(name, '=', namelen)) {
		spw_set_err(err, errlen, "%s: no name before '%s'", k->word,
			    quote(q, name, namelen));
		return -EINVAL;
	}
	ret = check_name(k, name, namelen, err, errlen);
	if (ret)
		return ret;

	memset(&nv, 0, sizeof(nv));
	while (next_token(line, len, &pos, &tok, &toklen)) {
		ret = parse_field(k, tok, toklen, &nv, &seen, err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < k->nfields; i++) {
		if (!k->fields[i].present && !(seen & (1U << i))) {
			spw_set_err(err, errlen, "%s=N is missing", k->fields[i].name);
			return -EINVAL;
		}
	}
	ret = check_values(k, &nv, err, errlen);
	if (ret)
		return ret;

	/* Whole key zeroed: the pinned map is a hash, compared byte for byte, padding included. */
	memset(&nk, 0, sizeof(nk));
	nk.kind = (__u8)k->kind;
	memcpy(nk.name, name, namelen);
	*key = nk;
	*val = nv;
	return 0;
}

int spw_report_format(const struct spw_report_key *key, const struct spw_report *val, char *buf,
		      size_t len)
{
	const struct report_kind *k = NULL;
	uint32_t own_bits = 0;
	size_t i, namelen, used;
	const char *nul;
	int n;

	if (!key || !val || !buf || !len)
		return -EINVAL;
	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(report_kinds); i++)
		if (report_kinds[i].kind == key->kind)
			k = &report_kinds[i];
	if (!k)
		return -EINVAL;
	/* The key may come from the pinned map, which a sidecar writes: trust nothing in it. */
	nul = memchr(key->name, '\0', sizeof(key->name));
	if (!nul || nul == key->name)
		return -EINVAL;
	namelen = (size_t)(nul - key->name);
	if (check_name(k, key->name, namelen, NULL, 0))
		return -EINVAL;
	/*
	 * Bytes after the NUL or in pad[] make a different hash key from the one the parser
	 * builds for the same line: the daemon would never look it up, so it has no line.
	 */
	for (i = namelen; i < sizeof(key->name); i++)
		if (key->name[i])
			return -EINVAL;
	for (i = 0; i < sizeof(key->pad); i++)
		if (key->pad[i])
			return -EINVAL;

	/*
	 * Refuse what the line cannot carry rather than print a line that reads back as something
	 * else: a value of the other kind, an optional value without its bit, a number too large.
	 */
	for (i = 0; i < ARRAY_SIZE(report_kinds); i++) {
		const struct report_kind *o = &report_kinds[i];

		for (size_t j = 0; j < o->nfields; j++) {
			const struct report_field *f = &o->fields[j];
			uint64_t v = field_get(val, f);

			if (o == k)
				own_bits |= f->present;
			if (v > REPORT_NUM_MAX)
				return -EINVAL;
			if (o != k && v)
				return -EINVAL;
			if (o == k && f->present && v && !(val->present & f->present))
				return -EINVAL;
		}
	}
	if (val->present & ~own_bits)
		return -EINVAL;
	if (check_values(k, val, NULL, 0))
		return -EINVAL;

	n = snprintf(buf, len, "%s %.*s", k->word, (int)namelen, key->name);
	if (n < 0 || (size_t)n >= len)
		goto too_small;
	used = (size_t)n;
	for (i = 0; i < k->nfields; i++) {
		const struct report_field *f = &k->fields[i];

		if (f->present && !(val->present & f->present))
			continue;
		n = snprintf(buf + used, len - used, " %s=%llu", f->name,
			     (unsigned long long)field_get(val, f));
		if (n < 0 || (size_t)n >= len - used)
			goto too_small;
		used += (size_t)n;
	}
	return 0;

too_small:
	buf[0] = '\0';
	return -ENOSPC;
}
