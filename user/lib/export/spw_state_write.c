// SPDX-License-Identifier: GPL-2.0-only
/* The shed-state file's writer: atomic creation and seqlock publishing (spw_state_write.h). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "spillway_rank.h"
#include "spw_state_write.h"

int spw_state_file_create(const char *dir, struct spw_state_file **map)
{
	struct spw_state_file *m, hdr = {
				      .magic = SPW_STATE_MAGIC,
				      .version = SPW_STATE_VERSION,
				  };
	char tmp[4096], path[4096];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, SPW_STATE_FILE) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, SPW_STATE_FILE) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* World-searchable: any app reads the state inside. */
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* mkostemp makes it 0600; the file is for every local app to read. */
	if (fchmod(fd, 0644) || ftruncate(fd, sizeof(struct spw_state_file)))
		goto fail;
	/* The header goes in before the rename: a reader that opens the file sees it whole. */
	if (pwrite(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		if (!errno)
			errno = EIO;
		goto fail;
	}
	if (rename(tmp, path))
		goto fail;
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	*map = m;
	return 0;
fail:
	err = -errno;
	unlink(tmp);
	close(fd);
	return err;
}

void spw_state_file_unmap(struct spw_state_file *map)
{
	if (map)
		munmap(map, sizeof(*map));
}

void spw_state_write(struct spw_state_file *map, const struct spw_state_file *src)
{
	const size_t body = offsetof(struct spw_state_file, nservices);
	uint32_t seq = __atomic_load_n(&map->seq, __ATOMIC_RELAXED);

	/*
	 * Odd first, and the fence keeps the body's stores after it: a reader that sees any new
	 * byte also sees seq changed on its second load (it pairs with the reader's acquire
	 * fence). The body is copied with plain stores, as the kernel's seqlocks do: readers
	 * never trust what they copied until seq says nothing moved.
	 */
	__atomic_store_n(&map->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy((char *)map + body, (const char *)src + body, sizeof(*map) - body);
	__atomic_store_n(&map->seq, seq + 2, __ATOMIC_RELEASE);
}

uint16_t spw_state_admitted_permille(uint32_t level, uint32_t floor, uint32_t tier)
{
	return (uint16_t)((SPW_COHORTS - spw_tier_shed_cohorts(level, floor, tier)) * 1000 /
			  SPW_COHORTS);
}
