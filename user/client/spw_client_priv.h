/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* libspillway-client's insides, shared by its files. libc only: no libbpf, no libspillway. */
#ifndef SPW_CLIENT_PRIV_H
#define SPW_CLIENT_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include "spillway_client.h"
#include "spillway_state.h"

#define SPW_API __attribute__((visibility("default")))

/*
 * The library's limits and timings. The Python and Go clients are generated from these too
 * (clients/constants.c), so they fail open and give up at the same points.
 */
/* The daemon's limits (user/lib/control/spw_report.h): checked here so a bad name fails at the app.
 */
#define SPW_CLIENT_NAME_MAX SPW_REPORT_NAME_MAX
#define SPW_CLIENT_LINE_MAX 512
/* A stale reader looks for a new file at most this often, over all threads of a client. */
#define SPW_CLIENT_LOOK_EVERY_NS 1000000000ULL
/*
 * A publish copies ~43 KB: microseconds. A reader that finds it mid-write spins this many
 * times, then yields (the writer may be preempted on this CPU), and gives up after
 * SPW_CLIENT_READ_BUDGET_NS: then the daemon died inside a publish (seq stuck odd), and the
 * check fails open. Later checks see the same stuck seq and fail open at once.
 */
#define SPW_CLIENT_READ_SPINS	  128
#define SPW_CLIENT_READ_BUDGET_NS 10000000ULL
/* Used when a file says 0 ms ticks (never from a sane daemon): the config's default. */
#define SPW_CLIENT_DEFAULT_TICK_MS 100

/* One mapping of one state file (one daemon run). */
struct spw_map {
	const struct spw_state_file *f;
	dev_t dev;
	ino_t ino;
	uint32_t stuck_seq;   /* atomic: an odd seq that stayed odd too long (writer died) */
	struct spw_map *next; /* retired mappings, unmapped at close */
};

struct spw_client {
	struct spw_map *cur;	 /* read with acquire loads; NULL: no file seen yet */
	struct spw_map *retired; /* under lock: readers may still be inside these */
	pthread_mutex_t lock;	 /* taken only to look for a new file, never per check */
	uint64_t next_look_ns;	 /* atomic: when a stale reader may look for a new file */
	char state_path[4096];
	struct sockaddr_un report_sa;
	socklen_t report_salen;
	int report_fd;
};

uint64_t spw_client_now_ns(void);
/*
 * Looks for a replaced or new state file, at most once a second over all threads. True when
 * it mapped a new one.
 */
bool spw_client_look_for_file(struct spw_client *c, uint64_t now);

/* xorshift64* (spw_client_rand.c): the next number of the sequence in *x (0 is reseeded). */
uint64_t spw_client_rand_next(uint64_t *x);
/* Uniform in [lo, hi] from *x; lo when hi <= lo. */
uint32_t spw_client_rand_between(uint64_t *x, uint32_t lo, uint32_t hi);
/* Uniform in [lo, hi] from a per-thread state seeded from the clock: safe from any thread. */
uint32_t spw_client_draw(uint32_t lo, uint32_t hi);

#endif /* SPW_CLIENT_PRIV_H */
