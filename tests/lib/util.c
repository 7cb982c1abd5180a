// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Open folders nftw may hold at once: pin roots and test folders are shallow. */
#define RM_TREE_FDS 8

double spw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void spw_sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void spw_rm_tree(const char *path)
{
	if (path[0])
		nftw(path, rm_entry, RM_TREE_FDS, FTW_DEPTH | FTW_PHYS);
}
