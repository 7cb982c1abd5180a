// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI's command list (include/spillway_cli.h), the attach modes and the version
 * (include/spillway_names.h) against what a user reads: the help text, the bash completion
 * (tools/completion/spillway.bash) and the man page (man/spillway.8). A command or mode added
 * to a list and forgotten in one of them fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "cli.h"
#include "util.h"

#ifndef SPW_SRC_ROOT
#error "SPW_SRC_ROOT must name the source tree (the Makefile defines it)"
#endif

static const char *const command_names[] = {
#define CMD_NAME(id, name, exec) #name,
    SPW_CLI_COMMANDS(CMD_NAME)
#undef CMD_NAME
};
#define NCOMMANDS (sizeof(command_names) / sizeof(command_names[0]))

/* A whole file of the source tree, NUL-terminated; the test fails when it cannot be read. */
static char *read_source(const char *rel)
{
	char path[512];
	long len = 0;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", SPW_SRC_ROOT, rel);
	buf = spw_read_file(path, &len);
	if (!buf || len <= 0)
		fail_msg("cannot read %s", path);
	return buf;
}

/* The words of s[0..n) separated by white space, as a bash word list. */
static bool has_word(const char *s, size_t n, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '"'))
			i++;
		if (i + wl <= n && !strncmp(s + i, word, wl) &&
		    (i + wl == n || strchr(" \t\n\"", s[i + wl])))
			return true;
		while (i < n && !strchr(" \t\n\"", s[i]))
			i++;
	}
	return false;
}

/* The span of text from the first `from` to the next `to` after it. */
static const char *span(const char *text, const char *from, const char *to, size_t *n)
{
	const char *a = strstr(text, from), *b;

	if (!a)
		fail_msg("'%s' not found", from);
	a += strlen(from);
	b = strstr(a, to);
	if (!b)
		fail_msg("'%s' not found after '%s'", to, from);
	*n = (size_t)(b - a);
	return a;
}

static void test_help_names_every_command(void **state)
{
	const char *help = spw_cli_main_help();
	char line[64];
	size_t i;

	(void)state;
	for (i = 0; i < NCOMMANDS; i++) {
		snprintf(line, sizeof(line), "\n  %s ", command_names[i]);
		if (!strstr(help, line))
			fail_msg("main help does not list '%s'", command_names[i]);
		assert_string_equal(spw_cli_cmd_name((enum spw_cli_cmd_id)i), command_names[i]);
	}
}

static void test_completion_names_every_command_and_mode(void **state)
{
	char *text = read_source("tools/completion/spillway.bash");
	const char *words;
	size_t i, n;

	(void)state;
	words = span(text, "if [[ -z $cmd ]]; then\n\t\t_spillway_offer", "return", &n);
	for (i = 0; i < NCOMMANDS; i++) {
		if (!has_word(words, n, command_names[i]))
			fail_msg("completion does not offer command '%s'", command_names[i]);
	}
	words = span(text, "--mode)", ";;", &n);
	for (i = 0; i < SPW_ATTACH_MODE_COUNT; i++) {
		if (!has_word(words, n, spw_attach_mode_name(i)))
			fail_msg("completion does not offer --mode %s", spw_attach_mode_name(i));
	}
	free(text);
}

/* The man page with roff's font changes and escaped hyphens taken out. */
static char *man_text(void)
{
	char *raw = read_source("man/spillway.8"), *out = raw, *in = raw;

	while (*in) {
		if (in[0] == '\\' && in[1] == 'f' && in[2]) {
			in += 3;
		} else if (in[0] == '\\' && in[1] == '-') {
			*out++ = '-';
			in += 2;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return raw;
}

static void test_man_page_names_every_command_and_mode(void **state)
{
	char *man = man_text();
	char entry[160], modes[128];
	size_t i, used = 0;

	(void)state;
	for (i = 0; i < NCOMMANDS; i++) {
		bool found;

		snprintf(entry, sizeof(entry), "\n.TP\n.B %s ", command_names[i]);
		found = strstr(man, entry);
		snprintf(entry, sizeof(entry), "\n.TP\n.B %s\n", command_names[i]);
		if (!found && !strstr(man, entry))
			fail_msg("man/spillway.8 has no entry for '%s'", command_names[i]);
	}
	for (i = 0; i < SPW_ATTACH_MODE_COUNT; i++)
		used += (size_t)snprintf(modes + used, sizeof(modes) - used, "%s%s", i ? "|" : "",
					 spw_attach_mode_name(i));
	snprintf(entry, sizeof(entry), "--mode %s]", modes);
	if (!strstr(man, entry))
		fail_msg("man/spillway.8 does not spell the modes as '%s'", entry);
	free(man);
}

/* Both man pages' title lines carry the version the programs print (SPW_VERSION). */
static void test_man_pages_name_the_version(void **state)
{
	static const char *const pages[] = {"man/spillway.8", "man/spillwayd.8"};
	char want[64];

	(void)state;
	snprintf(want, sizeof(want), "\"spillway %s\"", SPW_VERSION);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		char *page = read_source(pages[i]), *th = strstr(page, "\n.TH ");
		char *eol = th ? strchr(th + 1, '\n') : NULL;

		if (!th || !eol)
			fail_msg("%s has no .TH line", pages[i]);
		*eol = '\0';
		if (!strstr(th, want))
			fail_msg("%s: %s does not name %s", pages[i], th + 1, want);
		free(page);
	}
}

static void test_attach_help_names_every_mode(void **state)
{
	char *argv[] = {"spillway", "attach", "--help", NULL};
	struct spw_cli_req req;
	char err[256], want[128];
	size_t i, used;

	(void)state;
	assert_int_equal(spw_cli_parse(3, argv, &req, err, sizeof(err)), SPW_CLI_HELP);
	used = (size_t)snprintf(want, sizeof(want), "--mode ");
	for (i = 0; i < SPW_ATTACH_MODE_COUNT; i++)
		used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s", i ? "|" : "",
					 spw_attach_mode_name(i));
	if (!strstr(req.help, want))
		fail_msg("attach --help does not spell the modes as '%s'", want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help_names_every_command),
	    cmocka_unit_test(test_completion_names_every_command_and_mode),
	    cmocka_unit_test(test_man_page_names_every_command_and_mode),
	    cmocka_unit_test(test_attach_help_names_every_mode),
	    cmocka_unit_test(test_man_pages_name_the_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
