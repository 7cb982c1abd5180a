// SPDX-License-Identifier: GPL-2.0-only
/*
 * libspillway-client against the daemon's own writer (spw_state_write.c): 4 reader threads
 * check the shed state while a writer publishes 1,000 states, each derived from one counter
 * (tests/lib/state_pattern.h) so that a mix of two states (a torn read) is an impossible
 * combination; reports return at once with the documented error when nobody listens; a stale
 * daemon means nothing is shed; a restarted daemon's new file is found.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include "spillway_client.h"
#include "spw_state_write.h"
#include "state_pattern.h"

#define PUBLISHES 1000
#define READERS	  4
#define TIERS	  SPW_STATE_PATTERN_TIERS
#define CEILING	  SPW_STATE_PATTERN_CEILING
/* A report call "returns at once" when it takes less than this. */
#define AT_ONCE_NS 10000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct fixture {
	char dir[64];
	struct spw_state_file *map;
	struct spw_state_file buf;
	struct spw_client *c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/spw-client-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spw_state_file_create(f->dir, &f->map), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	spw_client_close(f->c);
	spw_state_file_unmap(f->map);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void publish(struct fixture *f, uint32_t k, uint64_t updated_ns, uint8_t flags)
{
	spw_state_pattern(&f->buf, k, updated_ns, flags);
	spw_state_write(f->map, &f->buf);
}

static void test_admitted_permille(void **state)
{
	(void)state;
	assert_int_equal(spw_state_admitted_permille(96, 0, 0), 1000);
	assert_int_equal(spw_state_admitted_permille(96, 0, 2), 1000);
	assert_int_equal(spw_state_admitted_permille(80, 0, 2), 500);
	assert_int_equal(spw_state_admitted_permille(80, 0, 1), 1000);
	assert_int_equal(spw_state_admitted_permille(64, 0, 2), 0);
	assert_int_equal(spw_state_admitted_permille(33, 0, 1), 31);
	/* The floor protects tier 0 whatever the level. */
	assert_int_equal(spw_state_admitted_permille(0, 32, 0), 1000);
	assert_int_equal(spw_state_admitted_permille(0, 32, 1), 0);
	assert_int_equal(spw_state_admitted_permille(0, 0, 0), 0);
}

struct reader {
	struct spw_client *c;
	pthread_barrier_t *start;
	const volatile int *done;
	unsigned int tier;
	uint64_t checks, distinct, bad;
	uint32_t last_k;
	char why[160];
};

/* Every field must name the same k, and k never goes back. */
static void judge(struct reader *r, const struct spw_shed_state *o,
		  const struct spw_service_state *ss)
{
	uint32_t k = o->retry_lo_s, level = spw_state_pattern_level(k);
	uint16_t adm = spw_state_admitted_permille(level, 0, r->tier);
	bool ok = o->retry_hi_s == k + 10 && fabs(o->pressure * 1000.0 - 7.0 * k) < 0.5 &&
		  o->admitted_permille == adm && o->shed == (adm < 1000) && !o->stale &&
		  (!o->shed || (o->retry_after_s >= k && o->retry_after_s <= k + 10)) &&
		  k >= r->last_k &&
		  /* a second read, maybe of a later k: consistent in itself */
		  ss->shedding == (ss->admitted_permille < 1000) && !ss->stale;

	if (!ok && !r->bad++)
		snprintf(r->why, sizeof(r->why),
			 "k %u (last %u): hi %u pressure %f admitted %u (want %u) shed %d retry %u",
			 k, r->last_k, o->retry_hi_s, o->pressure, o->admitted_permille, adm,
			 o->shed, o->retry_after_s);
	if (k != r->last_k)
		r->distinct++;
	r->last_k = k;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct spw_service_state ss;
	struct spw_shed_state o;

	pthread_barrier_wait(r->start);
	while (!*r->done) {
		int e1 = spw_client_shed_state(r->c, "web", r->tier, &o), e2 = 0;

		if (e1 || (e2 = spw_client_service_state(r->c, "web", &ss))) {
			if (!r->bad++)
				snprintf(r->why, sizeof(r->why), "a check failed: %d %d", e1, e2);
			continue;
		}
		judge(r, &o, &ss);
		r->checks++;
	}
	return NULL;
}

static void test_no_torn_reads(void **state)
{
	struct fixture *f = *state;
	struct reader r[READERS] = {};
	pthread_barrier_t start;
	pthread_t th[READERS];
	volatile int done = 0;
	struct timespec gap = {.tv_nsec = 50000};
	uint32_t k;
	int i;

	publish(f, 1, now_ns(), 0);
	f->c = spw_client_open(f->dir, NULL);
	assert_non_null(f->c);
	pthread_barrier_init(&start, NULL, READERS + 1);
	for (i = 0; i < READERS; i++) {
		r[i] = (struct reader){.c = f->c,
				       .start = &start,
				       .done = &done,
				       .tier = (unsigned int)i % TIERS,
				       .last_k = 1};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
	}
	pthread_barrier_wait(&start);
	for (k = 2; k <= PUBLISHES; k++) {
		publish(f, k, now_ns(), 0);
		/* A short pause so readers also see states between publishes, not only mid-write.
		 */
		nanosleep(&gap, NULL);
	}
	done = 1;
	for (i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		print_message("reader %d: %llu checks, %llu states seen, last %u\n", i,
			      (unsigned long long)r[i].checks, (unsigned long long)r[i].distinct,
			      r[i].last_k);
		if (r[i].bad)
			fail_msg("reader %d saw %llu impossible states, first: %s", i,
				 (unsigned long long)r[i].bad, r[i].why);
		/* Progress: each reader followed the writer, not one frozen state. */
		assert_true(r[i].distinct >= 10);
	}
	pthread_barrier_destroy(&start);
}

static void test_stale_fails_open(void **state)
{
	struct fixture *f = *state;
	struct spw_service_state ss;
	struct spw_shed_state o;

	f->c = spw_client_open(f->dir, NULL);
	assert_non_null(f->c);
	/* Never published (seq 0, updated_ns 0): stale. */
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), -ESTALE);
	assert_true(o.stale);
	assert_false(o.shed);
	/* Tier 2 fully shed (level 64), fresh: shed. */
	publish(f, 64, now_ns(), 0);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), 0);
	assert_true(o.shed);
	assert_int_equal(o.admitted_permille, 0);
	assert_in_range(o.retry_after_s, 64, 74);
	assert_int_equal(spw_client_shed_state(f->c, "web", 1, &o), 0);
	assert_false(o.shed);
	/* The same state 4 ticks old: the daemon stopped publishing: not shed. */
	publish(f, 64, now_ns() - 4ULL * SPW_STATE_PATTERN_TICK_MS * 1000000ULL, 0);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), -ESTALE);
	assert_true(o.stale);
	assert_false(o.shed);
	assert_int_equal(o.retry_after_s, 0);
	assert_int_equal(spw_client_service_state(f->c, "web", &ss), -ESTALE);
	assert_false(ss.shedding);
	assert_int_equal(ss.admitted_permille, 1000);
	/* 2 ticks old: still fresh. */
	publish(f, 64, now_ns() - 2ULL * SPW_STATE_PATTERN_TICK_MS * 1000000ULL, 0);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), 0);
	assert_true(o.shed);
	/* Dry-run: counted, not shed. */
	publish(f, 64, now_ns(), SPW_STATE_DRY_RUN);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), 0);
	assert_true(o.dry_run);
	assert_false(o.shed);
	/* Unknown service, unknown tier: not shed. */
	publish(f, 64, now_ns(), 0);
	assert_int_equal(spw_client_shed_state(f->c, "api", 2, &o), -ENOENT);
	assert_false(o.shed);
	assert_int_equal(spw_client_shed_state(f->c, "web", TIERS, &o), -ERANGE);
	assert_false(o.shed);
	assert_int_equal(spw_client_service_state(f->c, "web", &ss), 0);
	assert_true(ss.shedding);
	assert_int_equal(ss.admitted_permille, 64 * 1000 / CEILING);
	assert_in_range(ss.pressure * 1000, 447.5, 448.5);
}

static void test_no_file_then_restart(void **state)
{
	struct fixture *f = *state;
	struct spw_shed_state o;
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", f->dir, SPW_STATE_FILE);
	assert_int_equal(unlink(path), 0);
	f->c = spw_client_open(f->dir, NULL);
	assert_non_null(f->c);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), -ESTALE);
	assert_false(o.shed);
	/* The daemon starts: a new file. The client looked less than a second ago. */
	spw_state_file_unmap(f->map);
	assert_int_equal(spw_state_file_create(f->dir, &f->map), 0);
	publish(f, 64, now_ns(), 0);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), -ESTALE);
	usleep(1100000);
	publish(f, 64, now_ns(), 0); /* the daemon kept publishing meanwhile */
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), 0);
	assert_true(o.shed);
	/* Restart: the old file goes stale; the new one is found at the next look. */
	publish(f, 64, now_ns() - 4ULL * SPW_STATE_PATTERN_TICK_MS * 1000000ULL, 0);
	spw_state_file_unmap(f->map);
	assert_int_equal(spw_state_file_create(f->dir, &f->map), 0);
	publish(f, 80, now_ns(), 0);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), -ESTALE); /* looked < 1 s ago */
	assert_false(o.shed);
	usleep(1100000);
	publish(f, 80, now_ns(), 0);
	assert_int_equal(spw_client_shed_state(f->c, "web", 2, &o), 0);
	assert_int_equal(o.admitted_permille, 500);
	assert_true(o.shed);
}

/* Runs call and checks it took less than AT_ONCE_NS; returns its result. */
#define TIMED(call)                                                                                \
	({                                                                                         \
		uint64_t t0_ = now_ns();                                                           \
		int r_ = (call);                                                                   \
		uint64_t dt_ = now_ns() - t0_;                                                     \
		if (dt_ >= AT_ONCE_NS)                                                             \
			fail_msg("%s took %llu us", #call, (unsigned long long)(dt_ / 1000));      \
		r_;                                                                                \
	})

static void test_reports(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char sock[128], line[600];
	ssize_t n;
	int fd, i, r = 0;

	snprintf(sock, sizeof(sock), "%s/report.sock", f->dir);
	f->c = spw_client_open(f->dir, sock);
	assert_non_null(f->c);
	/* Daemon never started: no socket file. */
	assert_int_equal(TIMED(spw_client_report_pool(f->c, "db", 3, 10, 0, 5)), -ENOENT);
	assert_int_equal(TIMED(spw_client_report_queue(f->c, "jobs", 3, 100, -1)), -ENOENT);
	/* Bad names fail at the app, before any send. */
	assert_int_equal(spw_client_report_pool(f->c, "a b", 1, 2, -1, -1), -EINVAL);
	assert_int_equal(spw_client_report_pool(f->c, "", 1, 2, -1, -1), -EINVAL);
	assert_int_equal(spw_client_report_pool(f->c, "x\npool y", 1, 2, -1, -1), -EINVAL);
	assert_int_equal(
	    spw_client_report_pool(f->c, "0123456789012345678901234567890123", 1, 2, -1, -1),
	    -EINVAL);

	/* A daemon that is up but does not read: lines arrive as documented, then EAGAIN. */
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(spw_client_report_pool(f->c, "db", 3, 10, 2, 5), 0);
	n = recv(fd, line, sizeof(line) - 1, 0);
	assert_true(n > 0);
	line[n] = '\0';
	assert_string_equal(line, "pool db in_use=3 capacity=10 waiting=2 wait_ms=5");
	assert_int_equal(spw_client_report_queue(f->c, "jobs", 7, -1, 120), 0);
	n = recv(fd, line, sizeof(line) - 1, 0);
	assert_true(n > 0);
	line[n] = '\0';
	assert_string_equal(line, "queue jobs depth=7 age_ms=120");
	for (i = 0; i < 100000; i++) {
		r = TIMED(spw_client_report_pool(f->c, "db", 3, 10, 0, 5));
		if (r)
			break;
	}
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(TIMED(spw_client_report_pool(f->c, "db", 3, 10, 0, 5)), -EAGAIN);
	/* The daemon died: the socket file stays, nobody is bound. */
	close(fd);
	assert_int_equal(TIMED(spw_client_report_pool(f->c, "db", 3, 10, 0, 5)), -ECONNREFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_admitted_permille),
	    cmocka_unit_test_setup_teardown(test_no_torn_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_fails_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_file_then_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
