// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Python and Go clients' constants (clients/python/spillway/_layout.py,
 * clients/go/layout.go) are what clients/constants.c generates from the C headers today: a
 * header that moves, resizes or retypes a field the clients read, or changes a limit or a
 * timing of libspillway-client, fails here until `make client-constants` is run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../../clients/constants.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	*len = 0;
	for (;;) {
		if (*len + 4096 > cap) {
			char *p = realloc(buf, cap += 65536);

			if (!p)
				break;
			buf = p;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);

		*len += n;
		if (!n)
			break;
	}
	fclose(f);
	return buf;
}

static void check(enum spw_const_lang lang, const char *rel)
{
	char path[4096], *want = NULL, *have;
	size_t want_len = 0, have_len = 0, i, line = 1;
	FILE *mem = open_memstream(&want, &want_len);

	assert_non_null(mem);
	assert_int_equal(spw_const_emit(mem, lang), 0);
	fclose(mem);
	snprintf(path, sizeof(path), "%s/%s", SPW_SRC_ROOT, rel);
	have = read_file(path, &have_len);
	if (!have) {
		free(want);
		fail_msg("cannot read %s: run `make client-constants`", path);
	}
	for (i = 0; i < want_len && i < have_len && want[i] == have[i]; i++)
		line += want[i] == '\n';
	if (i != want_len || i != have_len) {
		free(want);
		free(have);
		fail_msg("%s differs from what the headers give at line %zu: run `make "
			 "client-constants` and commit it",
			 rel, line);
	}
	free(want);
	free(have);
}

static void test_python_constants(void **state)
{
	(void)state;
	check(SPW_CONST_PYTHON, SPW_CONST_PYTHON_FILE);
}

static void test_go_constants(void **state)
{
	(void)state;
	check(SPW_CONST_GO, SPW_CONST_GO_FILE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_python_constants),
	    cmocka_unit_test(test_go_constants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
