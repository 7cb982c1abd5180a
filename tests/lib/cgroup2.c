// SPDX-License-Identifier: GPL-2.0-only
/* cgroup v2 for tests: see cgroup2.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "cgroup2.h"

/* Room for a mount point and a test's cgroup path. */
#define CG2_PATH_MAX 512

const char *cg2_root(void)
{
	static const char *const roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	struct statfs fs;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (!statfs(roots[i], &fs) && fs.f_type == CGROUP2_SUPER_MAGIC)
			return roots[i];
	return NULL;
}

static int full_path(const char *path, char *out, size_t len)
{
	const char *root = cg2_root();

	if (!root)
		return -ENOTSUP;
	if ((size_t)snprintf(out, len, "%s%s", root, path) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int cg2_id(const char *path, uint64_t *id)
{
	char full[CG2_PATH_MAX];
	struct stat st;
	int err = full_path(path, full, sizeof(full));

	if (err)
		return err;
	if (stat(full, &st))
		return -errno;
	*id = (uint64_t)st.st_ino;
	return 0;
}

int cg2_self(char *path, size_t len)
{
	char line[CG2_PATH_MAX];
	FILE *f = fopen("/proc/self/cgroup", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	/* The v2 line is "0::PATH"; v1 hierarchies have a controller list between the colons. */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		err = (size_t)snprintf(path, len, "%s", line + 3) >= len ? -ENAMETOOLONG : 0;
		break;
	}
	fclose(f);
	return err;
}

int cg2_make(const char *path)
{
	char full[CG2_PATH_MAX];
	int err = full_path(path, full, sizeof(full));

	if (err)
		return err;
	return mkdir(full, 0755) && errno != EEXIST ? -errno : 0;
}

int cg2_enter(const char *path, pid_t pid)
{
	char full[CG2_PATH_MAX];
	FILE *f;
	int err = full_path(path, full, sizeof(full));

	if (err)
		return err;
	strncat(full, "/cgroup.procs", sizeof(full) - strlen(full) - 1);
	f = fopen(full, "w");
	if (!f)
		return -errno;
	err = fprintf(f, "%d\n", (int)pid) < 0 ? -EIO : 0;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

void cg2_remove(const char *path)
{
	char full[CG2_PATH_MAX];

	if (!full_path(path, full, sizeof(full)))
		rmdir(full);
}
