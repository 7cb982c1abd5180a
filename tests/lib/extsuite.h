/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test suites in other languages (the Python and Go clients) reported as cmocka results, so
 * tests/run-tests.sh counts each of their tests and a failing one fails `make test`.
 *
 * The suite is a command whose output marks each test's end with a line, as `go test -v`
 * does for its top-level tests (the Python suites' runner prints the same):
 *
 *   --- PASS: NAME (0.01s)      --- FAIL: NAME (0.01s)      --- SKIP: NAME (0.00s)
 *
 * Its output is shown as it runs. Each marked test becomes one cmocka test of that name:
 * passed, failed, or skipped (which the runner counts as failed). One more test, "NAME: the
 * suite ran", fails when the command could not run, exited non-zero, or marked no test, so a
 * suite that does not compile or crashes half-way fails too.
 */
#ifndef SPW_TEST_EXTSUITE_H
#define SPW_TEST_EXTSUITE_H

/*
 * Runs argv[0] (looked up in PATH) in folder cwd with the process's environment, then the
 * cmocka group named group over what it reported. Returns cmocka's result: the failed count.
 */
int spw_ext_suite_run(const char *group, const char *cwd, char *const argv[]);

#endif /* SPW_TEST_EXTSUITE_H */
