// SPDX-License-Identifier: GPL-2.0-only
/* bpffs: spillway mounts it itself, since a fresh host or container may not have it. */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "spw_dataplane.h"
#include "spw_log.h"

#define SPW_BPFFS_MOUNT "/sys/fs/bpf"

static int is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC;
}

int spw_bpffs_ensure(void)
{
	int ret = is_bpffs(SPW_BPFFS_MOUNT);

	if (ret == 1)
		return 0;
	if (ret == -ENOENT && mkdir(SPW_BPFFS_MOUNT, 0700) && errno != EEXIST) {
		ret = -errno;
		pr_warn("cannot create %s: %s\n", SPW_BPFFS_MOUNT, strerror(-ret));
		return ret;
	}
	if (mount("bpf", SPW_BPFFS_MOUNT, "bpf", 0, "mode=0700")) {
		ret = -errno;
		pr_warn("cannot mount bpffs at %s: %s\n", SPW_BPFFS_MOUNT, strerror(-ret));
		return ret;
	}
	pr_info("mounted bpffs at %s\n", SPW_BPFFS_MOUNT);
	return 0;
}
