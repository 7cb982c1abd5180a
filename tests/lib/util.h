/* SPDX-License-Identifier: GPL-2.0-only */
/* Small things every test layer needs: a clock in ms, sleeping, rm -r, a file, reaping. */
#ifndef SPW_TEST_UTIL_H
#define SPW_TEST_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in ms, fractional. */
double spw_now_ms(void);
/* Sleeps ms, resuming after signals. */
void spw_sleep_ms(unsigned int ms);
/*
 * rm -r, best effort, never fails: pins of bpffs and sockets alike go with unlink. Fine on an
 * empty string (does nothing) and on a path that does not exist.
 */
void spw_rm_tree(const char *path);
/*
 * The whole file at path, NUL-terminated, in a malloc'ed buffer (its length in *len when len is
 * not NULL); NULL with errno set when it cannot be read.
 */
char *spw_read_file(const char *path, long *len);

/*
 * Is the child *pid still running? When it has exited it is reaped: its wait status goes to
 * *status and *pid becomes 0. False for a pid of 0.
 */
bool spw_child_alive(pid_t *pid, int *status);

/* Raises the open-file limit to the hard limit: for tests that hold thousands of sockets. */
void spw_raise_fd_limit(void);

#endif /* SPW_TEST_UTIL_H */
