/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Running other programs from a test: dpkg, apt-get, podman, make, systemd-analyze. Each call
 * prints the command line on stderr first, so a failing test's log says what it ran.
 *
 * argv arrays are NULL-terminated, PATH is searched, stdin is /dev/null. Return values: the exit
 * status (0..255), 128 + the signal for a command killed by one, or a negative errno when it
 * could not be started. Not thread-safe.
 */
#ifndef SPW_TEST_CMD_H
#define SPW_TEST_CMD_H

#include <stddef.h>

/* Runs argv with this process's stdout and stderr. */
int spw_cmd_run(const char *const *argv);
/*
 * Runs argv with stdout and stderr captured into *out (malloc'ed, NUL-terminated; the caller
 * frees it, also on a non-zero status; NULL when the command could not be started).
 */
int spw_cmd_capture(const char *const *argv, char **out);
/* `sh -c` of the formatted line, output inherited: for pipelines and redirections. */
int spw_cmd_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, captured as spw_cmd_capture() does. */
int spw_cmd_sh_capture(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Is prog (a name searched in PATH, or a path) there and executable? */
int spw_cmd_exists(const char *prog);

/* Writes text to path (created or truncated, mode 0644): 0 or a negative errno. */
int spw_write_file(const char *path, const char *text);

#endif /* SPW_TEST_CMD_H */
