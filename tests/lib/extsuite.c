// SPDX-License-Identifier: GPL-2.0-only
/* Other languages' test suites as cmocka results (extsuite.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "extsuite.h"

/* Longer names are cut: cmocka prints them, nothing else reads them. */
#define NAME_MAX_LEN 200

enum outcome { PASSED, FAILED, SKIPPED };

struct result {
	char name[NAME_MAX_LEN];
	enum outcome outcome;
};

struct suite {
	const char *group;
	struct result *results;
	size_t n, cap;
	int status;	/* wait status */
	int run_err;	/* errno when it could not run */
	char what[256]; /* the command, for messages */
};

static void one_result(void **state)
{
	const struct result *r = *state;

	if (r->outcome == SKIPPED)
		skip();
	if (r->outcome == FAILED)
		fail_msg("%s failed: its output is above", r->name);
}

static void suite_ran(void **state)
{
	const struct suite *s = *state;

	if (s->run_err)
		fail_msg("cannot run %s: %s", s->what, strerror(s->run_err));
	if (!s->n)
		fail_msg("%s reported no test (a build error or a crash: see above)", s->what);
	if (!WIFEXITED(s->status))
		fail_msg("%s was killed by signal %d", s->what, WTERMSIG(s->status));
	assert_int_equal(WEXITSTATUS(s->status), 0);
}

/* "--- PASS: NAME (0.01s)" at the start of a line: top-level tests only. */
static int parse_line(struct suite *s, const char *line)
{
	static const struct {
		const char *mark;
		enum outcome outcome;
	} marks[] = {{"--- PASS: ", PASSED}, {"--- FAIL: ", FAILED}, {"--- SKIP: ", SKIPPED}};
	struct result *r;
	size_t i, len;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (!strncmp(line, marks[i].mark, strlen(marks[i].mark)))
			break;
	if (i == sizeof(marks) / sizeof(marks[0]))
		return 0;
	line += strlen(marks[i].mark);
	len = strcspn(line, " \n");
	if (!len)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		r = realloc(s->results, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		s->results = r;
		s->cap = cap;
	}
	r = &s->results[s->n++];
	snprintf(r->name, sizeof(r->name), "%.*s", (int)len, line);
	r->outcome = marks[i].outcome;
	return 0;
}

static void run(struct suite *s, const char *cwd, char *const argv[])
{
	char line[4096];
	int pipefd[2];
	pid_t pid;
	FILE *out;

	if (pipe(pipefd)) {
		s->run_err = errno;
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		s->run_err = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		if (chdir(cwd)) {
			fprintf(stderr, "extsuite: cannot enter %s: %s\n", cwd, strerror(errno));
			_exit(127);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "extsuite: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		fputs(line, stdout);
		if (parse_line(s, line)) {
			s->run_err = ENOMEM;
			break;
		}
	}
	fflush(stdout);
	if (out)
		fclose(out);
	else
		close(pipefd[0]);
	while (waitpid(pid, &s->status, 0) < 0 && errno == EINTR)
		;
}

int spw_ext_suite_run(const char *group, const char *cwd, char *const argv[])
{
	struct suite s = {.group = group};
	struct CMUnitTest *tests;
	char ran_name[NAME_MAX_LEN];
	size_t i, off = 0;
	int failed;

	for (i = 0; argv[i] && off < sizeof(s.what); i++)
		off += (size_t)snprintf(s.what + off, sizeof(s.what) - off, "%s%s", i ? " " : "",
					argv[i]);
	printf("extsuite: %s: running `%s` in %s\n", group, s.what, cwd);
	run(&s, cwd, argv);
	tests = calloc(s.n + 1, sizeof(*tests));
	if (!tests) {
		fprintf(stderr, "extsuite: out of memory\n");
		free(s.results);
		return 1;
	}
	for (i = 0; i < s.n; i++)
		tests[i] = (struct CMUnitTest){.name = s.results[i].name,
					       .test_func = one_result,
					       .initial_state = &s.results[i]};
	snprintf(ran_name, sizeof(ran_name), "%s: the suite ran", group);
	tests[s.n] =
	    (struct CMUnitTest){.name = ran_name, .test_func = suite_ran, .initial_state = &s};
	failed = _cmocka_run_group_tests(group, tests, s.n + 1, NULL, NULL);
	free(tests);
	free(s.results);
	return failed;
}
