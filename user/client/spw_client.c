// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libspillway-client: opening and closing, and finding the daemon's state file (again). A
 * daemon restart renames a new file over the old one; readers keep their mapping of the old
 * one (still valid: unlinked files stay mapped), see it go stale, and only then look for the
 * new file here, so a check costs no syscall while the daemon runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "spw_client_priv.h"

uint64_t spw_client_now_ns(void)
{
	struct timespec ts;

	/* The daemon stamps CLOCK_MONOTONIC; glibc reads it through the vDSO, no syscall. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct spw_map *map_file(const char *path)
{
	struct spw_map *m;
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	/* A shorter file would SIGBUS us on the far pages: only map what the daemon made. */
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(struct spw_state_file)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(struct spw_state_file), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		munmap(p, sizeof(struct spw_state_file));
		return NULL;
	}
	m->f = p;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return m;
}

bool spw_client_look_for_file(struct spw_client *c, uint64_t now)
{
	uint64_t next = __atomic_load_n(&c->next_look_ns, __ATOMIC_RELAXED);
	struct spw_map *cur, *m = NULL;
	struct stat st;

	if (now < next ||
	    !__atomic_compare_exchange_n(&c->next_look_ns, &next, now + SPW_CLIENT_LOOK_EVERY_NS,
					 false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return false;
	if (pthread_mutex_trylock(&c->lock))
		return false;
	cur = c->cur;
	if (stat(c->state_path, &st) || (cur && cur->dev == st.st_dev && cur->ino == st.st_ino))
		goto out; /* no file, or the same one: the daemon is down or stuck */
	m = map_file(c->state_path);
	if (!m)
		goto out;
	/* Other threads may be reading the old mapping right now: keep it until close. */
	if (cur) {
		cur->next = c->retired;
		c->retired = cur;
	}
	__atomic_store_n(&c->cur, m, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&c->lock);
	return m != NULL;
}

SPW_API struct spw_client *spw_client_open(const char *state_dir, const char *report_socket)
{
	struct spw_client *c;
	int err;

	if (!state_dir)
		state_dir = SPW_CLIENT_STATE_DIR;
	if (!report_socket)
		report_socket = SPW_CLIENT_REPORT_SOCKET;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->report_fd = -1;
	if (snprintf(c->state_path, sizeof(c->state_path), "%s/%s", state_dir, SPW_STATE_FILE) >=
		(int)sizeof(c->state_path) ||
	    strlen(report_socket) >= sizeof(c->report_sa.sun_path)) {
		err = ENAMETOOLONG;
		goto fail;
	}
	c->report_sa.sun_family = AF_UNIX;
	strcpy(c->report_sa.sun_path, report_socket);
	c->report_salen = sizeof(c->report_sa);
	/* Unconnected: each send finds the socket by path, so a restarted daemon is found. */
	c->report_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->report_fd < 0) {
		err = errno;
		goto fail;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->cur = map_file(c->state_path); /* NULL is fine: the daemon may start later */
	return c;
fail:
	free(c);
	errno = err;
	return NULL;
}

SPW_API void spw_client_close(struct spw_client *c)
{
	struct spw_map *m, *next;

	if (!c)
		return;
	if (c->cur)
		c->cur->next = c->retired;
	for (m = c->cur ? c->cur : c->retired; m; m = next) {
		next = m->next;
		munmap((void *)m->f, sizeof(struct spw_state_file));
		free(m);
	}
	if (c->report_fd >= 0)
		close(c->report_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
