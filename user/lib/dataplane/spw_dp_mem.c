// SPDX-License-Identifier: GPL-2.0-only
/* Kernel memory of the maps, as the kernel charges it: what bench-dataplane reports per flow. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "spw_dataplane_priv.h"

static int fd_memlock(int fd, uint64_t *out)
{
	char path[64], line[256];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "memlock: %llu", &v) == 1) {
			*out = v;
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

int spw_dp_map_mem(struct spw_dataplane *dp, const char *name, struct spw_dp_map_mem *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = spw_dp_map_fd(dp, name);

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	m->type = info.type;
	m->map_flags = info.map_flags;
	m->key_size = info.key_size;
	m->value_size = info.value_size;
	m->max_entries = info.max_entries;
	snprintf(m->fdinfo, sizeof(m->fdinfo), "/proc/self/fdinfo/%d", fd);
	return fd_memlock(fd, &m->memlock);
}

int spw_dp_scratch_memlock(const struct spw_dp_map_mem *like, uint32_t n, uint64_t *memlock)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = like->map_flags);
	int fd, err;

	fd = bpf_map_create((enum bpf_map_type)like->type, "spw_bench_mem", like->key_size,
			    like->value_size, n, &o);
	if (fd < 0)
		return -errno;
	err = fd_memlock(fd, memlock);
	close(fd);
	return err;
}
