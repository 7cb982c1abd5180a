/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * systemd unit files, read the way systemd reads what the tests need of them: [Section]
 * headers, Key=Value lines (comments with '#' or ';', a trailing '\' continues a line),
 * repeated keys, and an empty assignment that resets a list. Words split on blanks with
 * "double" and 'single' quotes, as ExecStart= and Environment= are.
 */
#ifndef SPW_TEST_UNITFILE_H
#define SPW_TEST_UNITFILE_H

#include <stddef.h>
#include <stdint.h>

/* Assignments a unit holds at the most, and words of one value. */
#define SPW_UNIT_MAX   256
#define SPW_UNIT_WORDS 32

struct spw_unit_entry {
	char *section;
	char *key;
	char *value;
};

struct spw_unit {
	struct spw_unit_entry e[SPW_UNIT_MAX];
	int n;
};

/* 0, or a negative errno (-E2BIG past SPW_UNIT_MAX, -EINVAL for a line outside a section). */
int spw_unit_load(struct spw_unit *u, const char *path);
void spw_unit_free(struct spw_unit *u);

/* The last value of key in section, or NULL when it is not set (or reset). */
const char *spw_unit_get(const struct spw_unit *u, const char *section, const char *key);
/*
 * Every value of key in section since the last empty assignment, in order, into vals (at most
 * max). Returns how many there are (which may exceed max).
 */
int spw_unit_all(const struct spw_unit *u, const char *section, const char *key, const char **vals,
		 int max);
/*
 * The words of every value of key (the union of lists such as CapabilityBoundingSet=), each
 * malloc'ed into words (at most max); returns the count. Free with spw_unit_words_free().
 */
int spw_unit_list(const struct spw_unit *u, const char *section, const char *key, char **words,
		  int max);

/* Splits value into words (malloc'ed each); returns the count, or -E2BIG past max. */
int spw_unit_split(const char *value, char **words, int max);
void spw_unit_words_free(char **words, int n);

/*
 * An Exec*= value as argv: the prefixes systemd takes ('-', '@', ':', '+', '!') dropped from the
 * program, $NAME and ${NAME} replaced from vars ("NAME=value" strings, NULL-terminated; an
 * unknown name becomes empty). Returns the word count (argv NULL-terminated), or -E2BIG.
 */
int spw_unit_exec_argv(const char *value, const char *const *vars, char **argv, int max);

/* A time span ("20s", "500ms", "1min", "2h", a bare number of seconds) in us; -1 when bad. */
int64_t spw_unit_usec(const char *span);

#endif /* SPW_TEST_UNITFILE_H */
