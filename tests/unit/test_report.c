// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_report: the exact key and value of every good line, the exact message of every bad one,
 * nothing written on a refusal, and spw_report_format's lines reading back to what they print.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "spw_report.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Outputs are preset to this byte so a refused line that writes them is caught. */
#define POISON 0x5a
/* 2^53, the largest value a field may carry. */
#define NUM_MAX 9007199254740992ULL

#define W  SPW_REPORT_HAS_WAITING
#define WM SPW_REPORT_HAS_WAIT_MS
#define L  SPW_REPORT_HAS_LIMIT
#define A  SPW_REPORT_HAS_AGE_MS

struct report_case {
	const char *line;
	size_t len;	 /* 0: strlen(line); set for lines with a NUL inside */
	const char *err; /* NULL: a good line, parsed to kind, name and v */
	uint8_t kind;
	const char *name;
	struct spw_report v;
};

#define POOL(n, ...)  .kind = SPW_REPORT_POOL, .name = n, .v = {__VA_ARGS__}
#define QUEUE(n, ...) .kind = SPW_REPORT_QUEUE, .name = n, .v = {__VA_ARGS__}
#define BAD(msg)      .err = msg

/* A 31-character name (the longest) and a 32-character one. */
#define NAME31 "abcdefghijklmnopqrstuvwxyz01234"
#define NAME32 "abcdefghijklmnopqrstuvwxyz012345"
/* 60 bytes of junk: quoted in messages as its first 40 and "...". */
#define JUNK60 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define JUNK40 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct report_case cases[] = {
    /* Good pools. */
    {"pool db in_use=3 capacity=10", 0, NULL, POOL("db", .in_use = 3, .capacity = 10)},
    {"pool db in_use=3 capacity=10\n", 0, NULL, POOL("db", .in_use = 3, .capacity = 10)},
    {"pool db in_use=3 capacity=10 waiting=2 wait_ms=40", 0, NULL,
     POOL("db", .in_use = 3, .capacity = 10, .waiting = 2, .wait_ms = 40, .present = W | WM)},
    {"pool db capacity=10 wait_ms=40 in_use=10", 0, NULL,
     POOL("db", .in_use = 10, .capacity = 10, .wait_ms = 40, .present = WM)},
    {"pool\tdb \t in_use=0\t\tcapacity=1   waiting=5\n", 0, NULL,
     POOL("db", .in_use = 0, .capacity = 1, .waiting = 5, .present = W)},
    {"pool A.b-c_9 in_use=9007199254740992 capacity=9007199254740992", 0, NULL,
     POOL("A.b-c_9", .in_use = NUM_MAX, .capacity = NUM_MAX)},
    {"pool " NAME31 " in_use=1 capacity=1", 0, NULL, POOL(NAME31, .in_use = 1, .capacity = 1)},
    {"pool x in_use=007 capacity=10", 0, NULL, POOL("x", .in_use = 7, .capacity = 10)},
    /* Over-full, as pg_stat_activity counts it: a measurement of a pool past full. */
    {"pool pg in_use=23 capacity=21", 0, NULL, POOL("pg", .in_use = 23, .capacity = 21)},
    {"pool db in_use=1 capacity=2 waiting=0 wait_ms=0", 0, NULL,
     POOL("db", .in_use = 1, .capacity = 2, .present = W | WM)},
    /* Good queues; a queue deeper than its limit is what the signal is there to see. */
    {"queue jobs depth=5", 0, NULL, QUEUE("jobs", .depth = 5)},
    {"queue jobs depth=5 limit=100 age_ms=250\n", 0, NULL,
     QUEUE("jobs", .depth = 5, .limit = 100, .age_ms = 250, .present = L | A)},
    {"queue jobs age_ms=0 depth=0", 0, NULL, QUEUE("jobs", .present = A)},
    {"queue jobs depth=500 limit=100", 0, NULL,
     QUEUE("jobs", .depth = 500, .limit = 100, .present = L)},
    {"queue jobs depth=5 limit=0", 0, NULL, QUEUE("jobs", .depth = 5, .present = L)},
    {"queue pool depth=1", 0, NULL, QUEUE("pool", .depth = 1)},

    /* The line as a whole. */
    {"", 0, BAD("empty line")},
    {"\n", 0, BAD("empty line")},
    {"pool db in_use=3 capacity=10\n\n", 0, BAD("more than one line (one report per line)")},
    {"pool db in_use=3\ncapacity=10", 0, BAD("more than one line (one report per line)")},
    {"pool db in_use=3\0 capacity=10", 29, BAD("line contains a NUL byte")},
    {"pool db in_use=3 capacity=10\0", 29, BAD("line contains a NUL byte")},
    {" pool db in_use=1 capacity=2", 0, BAD("space or tab at the start of the line")},
    {"pool db in_use=1 capacity=2 ", 0, BAD("space or tab at the end of the line")},
    {"pool db in_use=1 capacity=2\t\n", 0, BAD("space or tab at the end of the line")},
    {"pool db in_use=1 capacity=2\r\n", 0, BAD("capacity=2?: not a whole number")},

    /* Kind and name. */
    {"Pool db in_use=1 capacity=2", 0, BAD("unknown report 'Pool' (pool or queue)")},
    {"conn db in_use=1", 0, BAD("unknown report 'conn' (pool or queue)")},
    {"pool", 0, BAD("pool: no name")},
    {"queue\n", 0, BAD("queue: no name")},
    {"pool in_use=1 capacity=2", 0, BAD("pool: no name before 'in_use=1'")},
    {"pool d/b in_use=1 capacity=2", 0,
     BAD("pool name 'd/b': only letters, digits, '_', '.' and '-' are allowed")},
    {"queue caf\xc3\xa9 depth=1", 0,
     /* "?" "?" apart: "??'" is a trigraph. */
     BAD("queue name 'caf?"
	 "?': only letters, digits, '_', '.' and '-' are allowed")},
    {"pool " NAME32 " in_use=1 capacity=2", 0,
     BAD("pool name '" NAME32 "' is longer than 31 characters")},

    /* Numbers. */
    {"pool db in_use=abc capacity=10", 0, BAD("in_use=abc: not a whole number")},
    {"pool db in_use=-1 capacity=10", 0, BAD("in_use=-1: must not be negative")},
    {"pool db in_use=+1 capacity=10", 0, BAD("in_use=+1: not a whole number")},
    {"pool db in_use=0x10 capacity=100", 0, BAD("in_use=0x10: not a whole number")},
    {"pool db in_use=1.5 capacity=10", 0, BAD("in_use=1.5: not a whole number")},
    {"pool db in_use=1e3 capacity=10000", 0, BAD("in_use=1e3: not a whole number")},
    {"pool db in_use=nan capacity=10", 0, BAD("in_use=nan: not a whole number")},
    {"pool db in_use=1 capacity=inf", 0, BAD("capacity=inf: not a whole number")},
    {"pool db in_use=1 capacity=9007199254740993", 0,
     BAD("capacity=9007199254740993: more than 2^53 (9007199254740992)")},
    {"pool db in_use=1 capacity=99999999999999999999999", 0,
     BAD("capacity=99999999999999999999999: more than 2^53 (9007199254740992)")},
    {"pool db in_use= capacity=10", 0, BAD("in_use=: no value")},
    {"pool db in_use=1=2 capacity=10", 0, BAD("in_use=1=2: not a whole number")},
    {"pool db in_use=" JUNK60 " capacity=10", 0, BAD("in_use=" JUNK40 "...: not a whole number")},
    {"queue jobs depth=-5", 0, BAD("depth=-5: must not be negative")},
    {"queue jobs depth=1 age_ms=1.5", 0, BAD("age_ms=1.5: not a whole number")},

    /* Fields. */
    {"pool db in_use capacity=10", 0, BAD("'in_use' is not a field (NAME=NUMBER)")},
    {"pool db in_use = 1 capacity=10", 0, BAD("'in_use' is not a field (NAME=NUMBER)")},
    {"pool db =1 in_use=1 capacity=10", 0, BAD("'=1' is not a field (NAME=NUMBER)")},
    {"pool db in_use=1 capacity=2 \x1b[31m", 0, BAD("'?[31m' is not a field (NAME=NUMBER)")},
    {"pool db in_use=1 capacity=10 depth=3", 0,
     BAD("unknown field 'depth' for a pool (in_use, capacity, waiting, wait_ms)")},
    {"pool db In_use=1 capacity=10", 0,
     BAD("unknown field 'In_use' for a pool (in_use, capacity, waiting, wait_ms)")},
    {"queue jobs depth=1 in_use=1", 0,
     BAD("unknown field 'in_use' for a queue (depth, limit, age_ms)")},
    {"pool db in_use=1 in_use=2 capacity=10", 0, BAD("in_use given twice")},
    {"pool db in_use=1 capacity=10 waiting=1 waiting=1", 0, BAD("waiting given twice")},
    {"queue jobs depth=1 limit=2 limit=3", 0, BAD("limit given twice")},
    {"pool db in_use=1", 0, BAD("capacity=N is missing")},
    {"pool db capacity=10 waiting=1", 0, BAD("in_use=N is missing")},
    {"pool db", 0, BAD("in_use=N is missing")},
    {"queue jobs limit=10", 0, BAD("depth=N is missing")},

    /* Values that do not make sense together. */
    {"pool db in_use=0 capacity=0", 0, BAD("capacity must be > 0")},
    {"pool db in_use=1 capacity=0 waiting=4", 0, BAD("capacity must be > 0")},
};

/* The line with control bytes escaped, for the progress output. */
static const char *printable(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static void expect_key(const struct spw_report_key *key, uint8_t kind, const char *name)
{
	struct spw_report_key want;

	/* Built by hand, not with spw_report_key_make: no sharing with the code under test. */
	memset(&want, 0, sizeof(want));
	want.kind = kind;
	memcpy(want.name, name, strlen(name));
	/* Byte for byte: NUL padding and pad[] zero, since the pinned map hashes every byte. */
	assert_memory_equal(key, &want, sizeof(want));
}

static void test_table(void **state)
{
	struct spw_report_key key, poison_key;
	struct spw_report val, poison_val;
	char err[256], shown[600];
	size_t i, good = 0, bad = 0;

	(void)state;
	memset(&poison_key, POISON, sizeof(poison_key));
	memset(&poison_val, POISON, sizeof(poison_val));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct report_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->line);
		int ret;

		print_message("  \"%s\"\n", printable(c->line, len, shown, sizeof(shown)));
		key = poison_key;
		val = poison_val;
		memset(err, POISON, sizeof(err));
		ret = spw_report_parse(c->line, len, &key, &val, err, sizeof(err));
		if (!c->err) {
			if (ret)
				print_error("unexpected error: %s\n", err);
			assert_int_equal(ret, 0);
			assert_string_equal(err, "");
			expect_key(&key, c->kind, c->name);
			assert_memory_equal(&val, &c->v, sizeof(val));
			good++;
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_string_equal(err, c->err);
			/* A refused line changes nothing. */
			assert_memory_equal(&key, &poison_key, sizeof(key));
			assert_memory_equal(&val, &poison_val, sizeof(val));
			bad++;
		}
	}
	/* The brief asks for 30 at least; keep both kinds well represented. */
	assert_true(good >= 10);
	assert_true(bad >= 30);
}

/* Pads "pool db in_use=1 capacity=2" with blanks in the middle to exactly n bytes. */
static void make_padded(char *buf, size_t n)
{
	const char *head = "pool db in_use=1", *tail = " capacity=2";
	size_t hl = strlen(head), tl = strlen(tail);

	memcpy(buf, head, hl);
	memset(buf + hl, '\t', n - hl - tl);
	memcpy(buf + n - tl, tail, tl);
	buf[n] = '\0';
}

static void test_length_limit(void **state)
{
	char line[SPW_REPORT_LINE_MAX + 2], err[128];
	struct spw_report_key key;
	struct spw_report val;

	(void)state;
	make_padded(line, SPW_REPORT_LINE_MAX);
	assert_int_equal(spw_report_parse(line, SPW_REPORT_LINE_MAX, &key, &val, err, sizeof(err)),
			 0);
	expect_key(&key, SPW_REPORT_POOL, "db");
	assert_int_equal(val.in_use, 1);
	assert_int_equal(val.capacity, 2);

	/* The limit counts every byte received, the newline too. */
	make_padded(line, SPW_REPORT_LINE_MAX - 1);
	strcat(line, "\n");
	assert_int_equal(spw_report_parse(line, SPW_REPORT_LINE_MAX, &key, &val, err, sizeof(err)),
			 0);
	make_padded(line, SPW_REPORT_LINE_MAX);
	strcat(line, "\n");
	assert_int_equal(
	    spw_report_parse(line, SPW_REPORT_LINE_MAX + 1, &key, &val, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line is longer than 512 bytes");
	make_padded(line, SPW_REPORT_LINE_MAX + 1);
	assert_int_equal(
	    spw_report_parse(line, SPW_REPORT_LINE_MAX + 1, &key, &val, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line is longer than 512 bytes");
}

/* The length given is what is read: bytes after it (no NUL in a datagram) are not looked at. */
static void test_not_nul_terminated(void **state)
{
	const char buf[] = {'q', 'u', 'e', 'u', 'e', ' ', 'q', ' ', 'd',
			    'e', 'p', 't', 'h', '=', '4', '2', 'x', 'y'};
	struct spw_report_key key;
	struct spw_report val;
	char err[128];

	(void)state;
	assert_int_equal(spw_report_parse(buf, 16, &key, &val, err, sizeof(err)), 0);
	expect_key(&key, SPW_REPORT_QUEUE, "q");
	assert_int_equal(val.depth, 42);
	assert_int_equal(spw_report_parse(buf, 17, &key, &val, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "depth=42x: not a whole number");
}

static void test_err_buffer(void **state)
{
	const char *bad = "pool db in_use=abc capacity=10";
	struct spw_report_key key;
	struct spw_report val;
	char err[8];

	(void)state;
	/* No buffer: still refused, nothing written anywhere. */
	assert_int_equal(spw_report_parse(bad, strlen(bad), &key, &val, NULL, 0), -EINVAL);
	/* A short buffer holds the start of the message, terminated. */
	memset(err, POISON, sizeof(err));
	assert_int_equal(spw_report_parse(bad, strlen(bad), &key, &val, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "in_use=");
	assert_int_equal(spw_report_parse(NULL, 0, &key, &val, NULL, 0), -EINVAL);
	assert_int_equal(spw_report_parse("pool db in_use=1 capacity=1", 27, NULL, &val, NULL, 0),
			 -EINVAL);
}

static void roundtrip(const struct spw_report_key *key, const struct spw_report *val)
{
	char line[SPW_REPORT_LINE_MAX], err[128];
	struct spw_report_key key2;
	struct spw_report val2;

	assert_int_equal(spw_report_format(key, val, line, sizeof(line)), 0);
	if (spw_report_parse(line, strlen(line), &key2, &val2, err, sizeof(err)))
		fail_msg("'%s' does not read back: %s", line, err);
	assert_memory_equal(&key2, key, sizeof(key2));
	assert_memory_equal(&val2, val, sizeof(val2));
}

static void test_format_exact(void **state)
{
	struct spw_report_key key;
	struct spw_report val;
	char line[128];

	(void)state;
	memset(&key, 0, sizeof(key));
	key.kind = SPW_REPORT_POOL;
	strcpy(key.name, "db");
	memset(&val, 0, sizeof(val));
	val.in_use = 3;
	val.capacity = 10;
	assert_int_equal(spw_report_format(&key, &val, line, sizeof(line)), 0);
	assert_string_equal(line, "pool db in_use=3 capacity=10");
	val.wait_ms = 40;
	val.present = SPW_REPORT_HAS_WAIT_MS;
	assert_int_equal(spw_report_format(&key, &val, line, sizeof(line)), 0);
	assert_string_equal(line, "pool db in_use=3 capacity=10 wait_ms=40");
	/* updated_ns is the daemon's, not the app's: never on the line, never an obstacle. */
	val.updated_ns = 123456789;
	assert_int_equal(spw_report_format(&key, &val, line, sizeof(line)), 0);
	assert_string_equal(line, "pool db in_use=3 capacity=10 wait_ms=40");

	memset(&key, 0, sizeof(key));
	key.kind = SPW_REPORT_QUEUE;
	strcpy(key.name, NAME31);
	memset(&val, 0, sizeof(val));
	val.depth = NUM_MAX;
	val.present = SPW_REPORT_HAS_LIMIT | SPW_REPORT_HAS_AGE_MS;
	assert_int_equal(spw_report_format(&key, &val, line, sizeof(line)), 0);
	assert_string_equal(line, "queue " NAME31 " depth=9007199254740992 limit=0 age_ms=0");
}

/* Every good line of the table, formatted and parsed again, is the same key and value. */
static void test_format_roundtrip_table(void **state)
{
	struct spw_report_key key;
	struct spw_report val;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct report_case *c = &cases[i];

		if (c->err)
			continue;
		assert_int_equal(spw_report_parse(c->line, strlen(c->line), &key, &val, NULL, 0),
				 0);
		roundtrip(&key, &val);
		n++;
	}
	assert_true(n >= 10);
}

/* Every combination of optional fields, with values at the edges. */
static void test_format_roundtrip_combinations(void **state)
{
	static const uint64_t values[] = {0, 1, 9, 10, 4294967296ULL, NUM_MAX - 1, NUM_MAX};
	struct spw_report_key key;
	struct spw_report val;
	size_t a, b;
	uint32_t bits;

	(void)state;
	memset(&key, 0, sizeof(key));
	key.kind = SPW_REPORT_POOL;
	strcpy(key.name, "p.o-o_l");
	for (bits = 0; bits < 4; bits++) {
		for (a = 0; a < ARRAY_SIZE(values); a++) {
			for (b = 1; b < ARRAY_SIZE(values); b++) {
				if (values[a] > values[b])
					continue;
				memset(&val, 0, sizeof(val));
				val.in_use = values[a];
				val.capacity = values[b];
				val.present = bits;
				if (bits & W)
					val.waiting = values[b];
				if (bits & WM)
					val.wait_ms = values[a];
				roundtrip(&key, &val);
			}
		}
	}
	memset(&key, 0, sizeof(key));
	key.kind = SPW_REPORT_QUEUE;
	strcpy(key.name, "q");
	for (bits = 0; bits < 4; bits++) {
		for (a = 0; a < ARRAY_SIZE(values); a++) {
			memset(&val, 0, sizeof(val));
			val.depth = values[a];
			val.present = bits << 2; /* L and A are bits 2 and 3 */
			if (val.present & L)
				val.limit = values[ARRAY_SIZE(values) - 1 - a];
			if (val.present & A)
				val.age_ms = values[a];
			roundtrip(&key, &val);
		}
	}
}

/* What a line cannot carry is refused, never printed as something that reads back otherwise. */
static void test_format_refuses(void **state)
{
	struct spw_report_key key, good_key;
	struct spw_report val, good_val;
	char line[64];

	(void)state;
	memset(&good_key, 0, sizeof(good_key));
	good_key.kind = SPW_REPORT_POOL;
	strcpy(good_key.name, "db");
	memset(&good_val, 0, sizeof(good_val));
	good_val.in_use = 1;
	good_val.capacity = 2;

#define REFUSED(ret_expected)                                                                      \
	do {                                                                                       \
		memset(line, POISON, sizeof(line));                                                \
		assert_int_equal(spw_report_format(&key, &val, line, sizeof(line)), ret_expected); \
		assert_string_equal(line, "");                                                     \
	} while (0)

	key = good_key, val = good_val, key.kind = 0;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, key.kind = 3;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, key.name[0] = '\0';
	REFUSED(-EINVAL);
	key = good_key, val = good_val, strcpy(key.name, "d b");
	REFUSED(-EINVAL);
	/* No NUL inside the name field: a sidecar's bad key must not be read past its end. */
	key = good_key, val = good_val, memset(key.name, 'x', sizeof(key.name));
	REFUSED(-EINVAL);
	/* Not NUL-padded, or pad[] set: a different hash key than the parser makes. */
	key = good_key, val = good_val, key.name[5] = 'z';
	REFUSED(-EINVAL);
	key = good_key, val = good_val, key.pad[1] = 1;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, val.capacity = 0, val.in_use = 0;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, val.capacity = NUM_MAX + 1;
	REFUSED(-EINVAL);
	/* A value of the other kind, an optional value without its bit, a bit of the other kind. */
	key = good_key, val = good_val, val.depth = 1;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, val.waiting = 5;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, val.present = SPW_REPORT_HAS_LIMIT;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, val.present = 1U << 7;
	REFUSED(-EINVAL);
	key = good_key, val = good_val, key.kind = SPW_REPORT_QUEUE;
	REFUSED(-EINVAL); /* in_use/capacity on a queue */

	/* Too small a buffer: -ENOSPC and an empty string, never half a line. */
	key = good_key, val = good_val;
	memset(line, POISON, sizeof(line));
	assert_int_equal(spw_report_format(&key, &val, line, 20), -ENOSPC);
	assert_string_equal(line, "");
	assert_int_equal(spw_report_format(&key, &val, line, strlen("pool db in_use=1 capacity=2")),
			 -ENOSPC);
	assert_int_equal(
	    spw_report_format(&key, &val, line, strlen("pool db in_use=1 capacity=2") + 1), 0);
	assert_string_equal(line, "pool db in_use=1 capacity=2");
	assert_int_equal(spw_report_format(&key, &val, line, 0), -EINVAL);
#undef REFUSED
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_length_limit),
	    cmocka_unit_test(test_not_nul_terminated),
	    cmocka_unit_test(test_err_buffer),
	    cmocka_unit_test(test_format_exact),
	    cmocka_unit_test(test_format_roundtrip_table),
	    cmocka_unit_test(test_format_roundtrip_combinations),
	    cmocka_unit_test(test_format_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
