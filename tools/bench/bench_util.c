// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spw_log.h"
#include "bench_util.h"

/* Folders below the removed one that bench_remove_tree() descends into. */
#define REMOVE_MAX_DEPTH 3

volatile sig_atomic_t stop_requested;

void bench_on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

uint64_t bench_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t bench_mono_ns(void)
{
	return bench_clock_ns(CLOCK_MONOTONIC);
}

int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median_sort(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bench_pin_cpu(int want, int *cpu)
{
	cpu_set_t set;
	int i;

	if (want < 0) {
		if (sched_getaffinity(0, sizeof(set), &set)) {
			int err = -errno;

			pr_warn("reading the CPU affinity failed: %s\n", strerror(-err));
			return err;
		}
		for (i = CPU_SETSIZE - 1; i >= 0 && !CPU_ISSET(i, &set); i--)
			;
		want = i;
	}
	if (want < 0 || want >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(want, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		int err = -errno;

		pr_warn("pinning to CPU %d failed: %s\n", want, strerror(-err));
		return err;
	}
	*cpu = want;
	return 0;
}

static void remove_tree(const char *path, int depth)
{
	struct dirent *de;
	DIR *d;

	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		if (de->d_type == DT_DIR && depth < REMOVE_MAX_DEPTH)
			remove_tree(sub, depth + 1);
		else if (unlink(sub))
			pr_warn("could not remove %s: %s\n", sub, strerror(errno));
	}
	closedir(d);
	if (rmdir(path) && errno != ENOENT)
		pr_warn("could not remove %s: %s\n", path, strerror(errno));
}

void bench_remove_tree(const char *path)
{
	if (path[0])
		remove_tree(path, 0);
}
