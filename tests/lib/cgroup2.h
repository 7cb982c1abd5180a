/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2 for tests: where the hierarchy is mounted, the id of a cgroup (what
 * bpf_skb_cgroup_id reports for a socket created in it), and a cgroup of the test's own that
 * a process can be moved into and that is removed again. Written apart from the daemon's
 * lookup (user/spillwayd/apply.c), so a test judges it rather than repeats it.
 */
#ifndef SPW_TEST_CGROUP2_H
#define SPW_TEST_CGROUP2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroup v2 mount ("/sys/fs/cgroup" or "/sys/fs/cgroup/unified"), or NULL when none. */
const char *cg2_root(void);
/* The id of the cgroup at path below the root (its kernfs node id). 0 or -errno. */
int cg2_id(const char *path, uint64_t *id);
/* The calling process's own cgroup v2 path, from /proc/self/cgroup. 0 or -errno. */
int cg2_self(char *path, size_t len);
/* Makes the cgroup path below the root (an existing one is fine). 0 or -errno. */
int cg2_make(const char *path);
/* Moves process pid into the cgroup path. 0 or -errno. */
int cg2_enter(const char *path, pid_t pid);
/* Removes the cgroup path (it must hold no process by then); never fails. */
void cg2_remove(const char *path);

#endif /* SPW_TEST_CGROUP2_H */
