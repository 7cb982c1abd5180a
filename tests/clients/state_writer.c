// SPDX-License-Identifier: GPL-2.0-only
/*
 * state-writer DIR: the daemon's shed-state writer (user/lib/spw_state_write.c) under the
 * control of a Python or Go client test, one command per line on stdin, one answer line each
 * on stdout:
 *
 *   publish K AGE_MS FLAGS   state K of tests/lib/state_pattern.h, published AGE_MS ago
 *   burst FROM TO GAP_US     states FROM..TO published now, GAP_US apart   -> "ok N"
 *   expired K                state K published now, but with a data-plane lease that has run out
 *   restart                  a new file renamed over the old one, as a restarted daemon makes
 *   stuck                    seq left odd, as by a daemon that died inside a publish
 *   expect K TIER            "ok LEVEL ADMITTED_PERMILLE" of state K for TIER: a reader's truth
 *   admitted LEVEL FLOOR TIER  "ok ADMITTED_PERMILLE": the daemon's rule, for checking its states
 *   quit
 *
 * Answers are "ok" (with numbers where shown) or "error: what". It creates DIR/state at start
 * (nothing published: seq 0, updated 0) and leaves it behind: the test removes DIR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "spw_state_write.h"
#include "state_pattern.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct spw_state_file buf;

static void publish(struct spw_state_file *map, uint32_t k, uint64_t updated_ns, uint8_t flags)
{
	spw_state_pattern(&buf, k, updated_ns, flags);
	spw_state_write(map, &buf);
}

int main(int argc, char **argv)
{
	struct spw_state_file *map = NULL;
	unsigned int k, to, gap_us, age_ms, flags, tier;
	char line[256];
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: state-writer DIR\n");
		return 2;
	}
	err = spw_state_file_create(argv[1], &map);
	if (err) {
		fprintf(stderr, "state-writer: cannot create the state file in %s: %s\n", argv[1],
			strerror(-err));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "publish %u %u %u", &k, &age_ms, &flags) == 3) {
			publish(map, k, now_ns() - (uint64_t)age_ms * 1000000ULL, (uint8_t)flags);
			puts("ok");
		} else if (sscanf(line, "burst %u %u %u", &k, &to, &gap_us) == 3) {
			struct timespec gap = {.tv_nsec = (long)gap_us * 1000L};
			unsigned int n = 0;

			for (; k <= to; k++, n++) {
				publish(map, k, now_ns(), 0);
				nanosleep(&gap, NULL);
			}
			printf("ok %u\n", n);
		} else if (sscanf(line, "expired %u", &k) == 1) {
			uint64_t now = now_ns();

			spw_state_pattern(&buf, k, now, 0);
			for (unsigned int i = 0; i < buf.nservices; i++)
				buf.services[i].lease_expires_ns = now - 1000000ULL;
			spw_state_write(map, &buf);
			puts("ok");
		} else if (!strcmp(line, "restart\n")) {
			spw_state_file_unmap(map);
			map = NULL;
			err = spw_state_file_create(argv[1], &map);
			if (err) {
				printf("error: %s\n", strerror(-err));
				return 1;
			}
			puts("ok");
		} else if (!strcmp(line, "stuck\n")) {
			__atomic_store_n(&map->seq, map->seq | 1, __ATOMIC_RELEASE);
			puts("ok");
		} else if (sscanf(line, "expect %u %u", &k, &tier) == 2) {
			printf("ok %u %u\n", spw_state_pattern_level(k),
			       spw_state_admitted_permille(spw_state_pattern_level(k), 0, tier));
		} else if (sscanf(line, "admitted %u %u %u", &k, &to, &tier) == 3) {
			printf("ok %u\n", spw_state_admitted_permille(k, to, tier));
		} else if (!strcmp(line, "quit\n")) {
			break;
		} else {
			printf("error: unknown command: %s", line);
		}
	}
	spw_state_file_unmap(map);
	return 0;
}
