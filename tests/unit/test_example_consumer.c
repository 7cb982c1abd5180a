// SPDX-License-Identifier: GPL-2.0-only
/*
 * The example consumer (tools/examples/consumer.c) end to end, without privileges beyond
 * running PostgreSQL as its own user: a throwaway cluster (initdb into a temp folder, a unix
 * socket there and no TCP), two consumers sharing one job table, the slow sink
 * (tools/examples/slow_sink.c) on loopback with a capacity of 4, and a shed-state file this
 * test publishes with the daemon's own writer, moving the sink's tier through four phases:
 *
 *   A  admitted                the consumers work
 *   B  shed (admitted 0)       they pause: no request reaches the sink, their buffers go
 *                              back to the table; refusals say Retry-After, or "don't retry"
 *                              to a client whose deadline ends before the earliest retry
 *   C  partly admitted (900)   clear, so they resume after hold + jitter, with the
 *                              concurrency hint scaled down: 1 each, 2 at the sink at most
 *   D  admitted                they drain the table and exit
 *
 * Throughout, the claimed rows (what the consumers hold) never exceed their two buffers and
 * the sink never has more than its capacity in service. At the end every job is in the done
 * or the dead-letter table, none twice, the sink applied each done job once, the poison job
 * (500 every time) is a dead letter after --max-failures tries, and the non-retryable ones (a
 * 422, a payload too large to send) are dead letters after one, and a job refused 503 more
 * times than that (retryable: not its fault) is done in the end, not a dead letter.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "pg_cluster.h"
#include "spw_state_write.h"
#include "util.h"

#define CONSUMERS    2
#define BUFFER	     8 /* per consumer */
#define MAX_INFLIGHT 2 /* per consumer: both together fill the sink's capacity */
#define CAPACITY     (CONSUMERS * MAX_INFLIGHT)
#define MAX_FAILURES 3
/* The "busy" job is refused 503 more often than a failing job may fail: never a dead letter. */
#define BUSY_REFUSALS (MAX_FAILURES + 2)
#define HOLD_MS	      300
#define JITTER_MS     300
#define SERVICE_MS    10
#define JOBS	      600 /* good ones; plus the poison, the invalid and the oversized job */
#define TIER	      1
/* Phase C's share: clear (>= the resume threshold, 750), and 2 * 900 / 1000 = 1 each. */
#define PARTIAL		 900
#define PARTIAL_INFLIGHT 1
/* Retry-After range the test publishes while shedding, s. */
#define RETRY_LO 1
#define RETRY_HI 2
/* Republished this often: the client calls a state stale after 3 ticks of 100 ms. */
#define PUBLISH_MS 50
/*
 * Margins for a loaded 2-core machine. A pause is seen within a poll (20 ms) and the jobs in
 * flight then end within a service time; a resume within hold + jitter after a clear reading.
 */
#define PAUSE_GRACE_MS 700
#define QUIET_MS       1000
#define RESUME_WAIT_MS 5000
#define DRAIN_WAIT_MS  40000

static struct {
	char dir[64], conninfo[160], port[8];
	struct spw_pg pg;
	struct spw_state_file *map;
	pthread_t publisher;
	volatile int publishing;
	volatile uint16_t admitted; /* the sink's tier 1, per mille */
	pid_t sink, consumers[CONSUMERS];
	char out[CONSUMERS][128];
	PGconn *db;
} T;

static PGresult *sql(const char *q)
{
	PGresult *r = PQexec(T.db, q);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("%s: %s", q, PQerrorMessage(T.db));
	return r;
}

static long sql_num(const char *q)
{
	PGresult *r = sql(q);
	long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);

	PQclear(r);
	return n;
}

static void *publisher_main(void *arg)
{
	static struct spw_state_file buf;
	struct spw_state_service *s = &buf.services[0];

	(void)arg;
	while (T.publishing) {
		uint64_t now = (uint64_t)(spw_now_ms() * 1e6);
		uint16_t adm = T.admitted;

		memset(&buf, 0, sizeof(buf));
		buf.nservices = 1;
		buf.tick_ms = 100;
		buf.ntiers = 3;
		buf.updated_ns = now;
		snprintf(s->name, sizeof(s->name), "sink");
		s->id = 1;
		s->tier_count = 3;
		s->ceiling = 3 * SPW_COHORTS;
		s->floor = SPW_COHORTS;
		/* Tier 1's cohorts as the share says; tier 2 shed whenever tier 1 is not whole. */
		s->level = (uint16_t)(SPW_COHORTS + adm * SPW_COHORTS / 1000 +
				      (adm == 1000 ? SPW_COHORTS : 0));
		s->admitted_permille[0] = 1000;
		s->admitted_permille[1] = adm;
		s->admitted_permille[2] = adm == 1000 ? 1000 : 0;
		s->flags = adm < 1000 ? SPW_STATE_SHEDDING : 0;
		s->pressure_milli = adm < 1000 ? 1500 : 500;
		s->retry_after_lo_s = adm < 1000 ? RETRY_LO : 0;
		s->retry_after_hi_s = adm < 1000 ? RETRY_HI : 0;
		s->lease_expires_ns = now + 3000000000ULL;
		spw_state_write(T.map, &buf);
		spw_sleep_ms(PUBLISH_MS);
	}
	return NULL;
}

/* fork + exec with stdout to out_fd (or the test's), stderr the test's. */
static pid_t spawn(char *const argv[], int out_fd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		if (out_fd >= 0)
			dup2(out_fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* One HTTP exchange with the sink: the response's head (and body, it is short) in buf. */
static int http(const char *request, char *buf, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval t = {.tv_sec = 5};
	size_t have = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), code = -1;

	sa.sin_port = htons((uint16_t)atoi(T.port));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request))
		fail_msg("cannot talk to the sink: %s", strerror(errno));
	while (have + 1 < size && (n = read(fd, buf + have, size - 1 - have)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	close(fd);
	sscanf(buf, "HTTP/1.1 %d", &code);
	return code;
}

struct sink_stats {
	unsigned long requests, applied, duplicates, peak, in_service, over_capacity, shed,
	    shed_retries, dont_retry, failed, rejected, bad, busy;
};

static struct sink_stats stats(bool reset)
{
	char buf[1024];
	struct sink_stats s;
	const char *body;

	assert_int_equal(
	    http(reset ? "GET /stats/reset HTTP/1.1\r\n\r\n" : "GET /stats HTTP/1.1\r\n\r\n", buf,
		 sizeof(buf)),
	    200);
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	assert_int_equal(sscanf(body + 4,
				"requests=%lu applied=%lu duplicates=%lu peak=%lu in_service=%lu "
				"over_capacity=%lu shed=%lu shed_retries=%lu dont_retry=%lu "
				"failed=%lu rejected=%lu bad=%lu busy=%lu",
				&s.requests, &s.applied, &s.duplicates, &s.peak, &s.in_service,
				&s.over_capacity, &s.shed, &s.shed_retries, &s.dont_retry,
				&s.failed, &s.rejected, &s.bad, &s.busy),
			 13);
	return s;
}

/* Claimed rows: what the consumers hold now. Never more than their buffers. */
static void check_held(void)
{
	long held = sql_num("SELECT count(*) FROM spw_jobs WHERE claimed_until > now()");

	assert_true(held <= CONSUMERS * BUFFER);
}

/* Waits up to ms for cond (checking the bounds meanwhile); true when it came. */
#define WAIT_FOR(cond, ms)                                                                         \
	({                                                                                         \
		double until_ = spw_now_ms() + (ms);                                               \
		bool ok_;                                                                          \
		while (!(ok_ = (cond)) && spw_now_ms() < until_) {                                 \
			check_held();                                                              \
			spw_sleep_ms(20);                                                          \
		}                                                                                  \
		ok_;                                                                               \
	})

/* Lets ms pass, checking the bounds meanwhile. */
static void watch(unsigned int ms)
{
	double until = spw_now_ms() + ms;

	while (spw_now_ms() < until) {
		check_held();
		spw_sleep_ms(20);
	}
}

static int setup(void **state)
{
	char line[256];
	FILE *f;
	int fds[2];

	(void)state;
	strcpy(T.dir, "/tmp/spw-consumer-XXXXXX");
	assert_non_null(mkdtemp(T.dir));
	assert_int_equal(chmod(T.dir, 0755), 0);
	/* No TCP at all: the unix socket in the cluster's folder only. */
	assert_int_equal(spw_pg_create(&T.pg, T.dir), 0);
	assert_int_equal(spw_pg_start(&T.pg, NULL, "-c listen_addresses=''"), 0);
	spw_pg_conninfo(&T.pg, T.conninfo, sizeof(T.conninfo));
	T.db = PQconnectdb(T.conninfo);
	if (PQstatus(T.db) != CONNECTION_OK)
		fail_msg("cannot connect to the test cluster: %s", PQerrorMessage(T.db));

	/* The sink, on a free loopback port it prints. */
	assert_int_equal(spw_state_file_create(T.dir, &T.map), 0);
	T.admitted = 1000;
	T.publishing = 1;
	assert_int_equal(pthread_create(&T.publisher, NULL, publisher_main, NULL), 0);
	char cap[8], svc_ms[8];

	snprintf(cap, sizeof(cap), "%d", CAPACITY);
	snprintf(svc_ms, sizeof(svc_ms), "%d", SERVICE_MS);
	char *sink_argv[] = {SPW_BUILD_DIR "/example-slow-sink",
			     "--capacity",
			     cap,
			     "--service-ms",
			     svc_ms,
			     "--service",
			     "sink",
			     "--state-dir",
			     T.dir,
			     NULL};

	assert_int_equal(pipe(fds), 0);
	T.sink = spawn(sink_argv, fds[1]);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	assert_non_null(f);
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "listening on 127.0.0.1:%7[0-9]", T.port) != 1)
		fail_msg("the sink did not start: '%s'", line);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < CONSUMERS; i++)
		if (T.consumers[i] > 0) {
			kill(T.consumers[i], SIGKILL);
			waitpid(T.consumers[i], NULL, 0);
		}
	if (T.sink > 0) {
		kill(T.sink, SIGKILL);
		waitpid(T.sink, NULL, 0);
	}
	if (T.publishing) {
		T.publishing = 0;
		pthread_join(T.publisher, NULL);
	}
	if (T.map)
		spw_state_file_unmap(T.map);
	if (T.db)
		PQfinish(T.db);
	spw_pg_stop(&T.pg);
	spw_rm_tree(T.dir);
	return 0;
}

static void start_consumers(void)
{
	char sink[32], buffer[8], inflight[8], failures[8], hold[8], jitter[8];
	int i, fd;

	snprintf(sink, sizeof(sink), "127.0.0.1:%s", T.port);
	snprintf(buffer, sizeof(buffer), "%d", BUFFER);
	snprintf(inflight, sizeof(inflight), "%d", MAX_INFLIGHT);
	snprintf(failures, sizeof(failures), "%d", MAX_FAILURES);
	snprintf(hold, sizeof(hold), "%d", HOLD_MS);
	snprintf(jitter, sizeof(jitter), "%d", JITTER_MS);
	for (i = 0; i < CONSUMERS; i++) {
		char *argv[] = {SPW_BUILD_DIR "/example-consumer",
				"--db",
				T.conninfo,
				"--sink",
				sink,
				"--service",
				"sink",
				"--tier",
				"1",
				"--state-dir",
				T.dir,
				"--buffer",
				buffer,
				"--max-inflight",
				inflight,
				"--max-failures",
				failures,
				"--hold-ms",
				hold,
				"--jitter-ms",
				jitter,
				"--exit-when-empty",
				NULL};

		snprintf(T.out[i], sizeof(T.out[i]), "%s/consumer%d.out", T.dir, i);
		fd = open(T.out[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		T.consumers[i] = spawn(argv, fd);
		close(fd);
	}
}

static void test_consumer_pauses_and_loses_nothing(void **state)
{
	char *init_argv[] = {SPW_BUILD_DIR "/example-consumer", "--db", T.conninfo, "--init", NULL};
	char buf[1024], q[256];
	struct sink_stats a, b, c, d;
	unsigned long done_total = 0;
	int status, i;
	pid_t pid;

	(void)state;
	pid = spawn(init_argv, -1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(
	    q, sizeof(q),
	    "INSERT INTO spw_jobs (payload) SELECT 'job ' || g FROM generate_series(1, %d) g; "
	    "INSERT INTO spw_jobs (payload) VALUES ('poison'), ('invalid'), (repeat('x', 2000)), "
	    "('busy:%d')",
	    JOBS, BUSY_REFUSALS);
	PQclear(sql(q));
	start_consumers();

	/* A: working. */
	assert_true(WAIT_FOR(stats(false).applied >= 50, 10000));

	/* B: shed. Once the pause is seen and the jobs in flight are done, nothing reaches it. */
	T.admitted = 0;
	spw_sleep_ms(PAUSE_GRACE_MS);
	a = stats(false);
	assert_true(a.applied < JOBS); /* still work to do: the pause is a real one */
	watch(QUIET_MS);
	b = stats(false);
	assert_int_equal(b.requests, a.requests);
	assert_int_equal(b.in_service, 0);
	/* Their buffers went back to the table for others. */
	assert_int_equal(sql_num("SELECT count(*) FROM spw_jobs WHERE claimed_until > now()"), 0);
	/* Refusals: a retry hint, or "don't retry" to a client that cannot wait for it. */
	assert_int_equal(http("GET /probe HTTP/1.1\r\nX-Tier: 1\r\n\r\n", buf, sizeof(buf)), 503);
	assert_non_null(strstr(buf, "Retry-After: "));
	assert_int_equal(http("GET /probe HTTP/1.1\r\nX-Tier: 1\r\nX-Deadline-Ms: 500\r\n\r\n", buf,
			      sizeof(buf)),
			 503);
	assert_non_null(strstr(buf, "X-Spillway-Retry: no"));
	assert_null(strstr(buf, "Retry-After"));
	assert_int_equal(http("GET /probe HTTP/1.1\r\nX-Tier: 0\r\n\r\n", buf, sizeof(buf)), 200);
	assert_int_equal(
	    http("GET /probe HTTP/1.1\r\nX-Tier: 1\r\nRetry-Attempt: x\r\n\r\n", buf, sizeof(buf)),
	    400); /* bad input: said so, and counted */
	assert_true(a.peak <= CAPACITY);

	/* C: partly admitted, clear: they resume after hold + jitter, 1 in flight each. */
	stats(true);
	T.admitted = PARTIAL;
	assert_true(WAIT_FOR(stats(false).applied > b.applied + 60, RESUME_WAIT_MS));
	/* Retries are refused while the tier is partly admitted; first tries mostly pass. */
	for (i = 0; i < 10; i++)
		assert_int_equal(
		    http("GET /probe HTTP/1.1\r\nX-Tier: 1\r\nRetry-Attempt: 1\r\n\r\n", buf,
			 sizeof(buf)),
		    503);
	c = stats(true);
	assert_true(c.peak <= CONSUMERS * PARTIAL_INFLIGHT);
	assert_true(c.shed_retries >= 10);

	/* D: admitted: they drain the table and exit. */
	T.admitted = 1000;
	for (i = 0; i < CONSUMERS; i++) {
		double until = spw_now_ms() + DRAIN_WAIT_MS;

		while ((pid = waitpid(T.consumers[i], &status, WNOHANG)) == 0 &&
		       spw_now_ms() < until) {
			check_held();
			spw_sleep_ms(50);
		}
		if (pid != T.consumers[i])
			fail_msg("consumer %d did not drain the table in %d ms", i, DRAIN_WAIT_MS);
		T.consumers[i] = 0;
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	d = stats(false);
	printf("  sink: requests=%lu applied=%lu duplicates=%lu peak=%lu (phase C %lu) shed=%lu "
	       "(retries %lu) failed=%lu rejected=%lu over_capacity=%lu\n",
	       d.requests, d.applied, d.duplicates, d.peak, c.peak, d.shed, d.shed_retries,
	       d.failed, d.rejected, d.over_capacity);

	/* Nothing lost, nothing twice. */
	long done = sql_num("SELECT count(*) FROM spw_jobs_done"),
	     dead = sql_num("SELECT count(*) FROM spw_jobs_dead");

	assert_int_equal(sql_num("SELECT count(*) FROM spw_jobs"), 0);
	assert_int_equal(done, JOBS + 1); /* and the busy one */
	assert_int_equal(dead, 3);
	assert_int_equal(
	    sql_num("SELECT count(*) FROM spw_jobs_done d JOIN spw_jobs_dead x USING (id)"), 0);
	assert_int_equal(d.applied, (unsigned long)done);
	/* Retryable refusals (503, more of them than --max-failures) never count as failures. */
	assert_int_equal(d.busy, BUSY_REFUSALS);
	assert_int_equal(sql_num("SELECT count(*) FROM spw_jobs_done WHERE payload LIKE 'busy:%'"),
			 1);
	assert_int_equal(d.duplicates, 0);
	/* The poison job failed --max-failures times, the non-retryable ones once. */
	assert_int_equal(sql_num("SELECT failures FROM spw_jobs_dead WHERE payload = 'poison'"),
			 MAX_FAILURES);
	assert_int_equal(d.failed, MAX_FAILURES);
	assert_int_equal(sql_num("SELECT failures FROM spw_jobs_dead WHERE payload = 'invalid'"),
			 1);
	assert_int_equal(sql_num("SELECT failures FROM spw_jobs_dead WHERE length(payload) = 2000"),
			 1);
	assert_int_equal(d.rejected, 1); /* the oversized one never left its consumer */
	/* The sink never had more than its capacity in service, and never refused for it. */
	assert_true(d.peak <= CAPACITY);
	assert_int_equal(d.over_capacity, 0);
	assert_int_equal(d.bad, 1); /* the probe above */
	/* Each consumer's own account: within its buffer, and the done jobs add up. */
	for (i = 0; i < CONSUMERS; i++) {
		unsigned long n_done, n_lost, peak_held, buffer, peak_inflight, pauses;
		char *out = spw_read_file(T.out[i], NULL);

		assert_non_null(out);
		const char *line = strstr(out, "consumer: ");

		assert_non_null(line);
		printf("  %s", line);
		assert_int_equal(sscanf(line, "consumer: done=%lu", &n_done), 1);
		assert_int_equal(sscanf(strstr(line, "lost="), "lost=%lu", &n_lost), 1);
		assert_int_equal(sscanf(strstr(line, "peak_held="),
					"peak_held=%lu buffer=%lu peak_inflight=%lu pauses=%lu",
					&peak_held, &buffer, &peak_inflight, &pauses),
				 4);
		assert_int_equal(n_lost, 0);
		assert_true(peak_held <= BUFFER && peak_held > 0);
		assert_int_equal(buffer, BUFFER);
		assert_true(peak_inflight <= MAX_INFLIGHT);
		assert_true(pauses >= 1);
		done_total += n_done;
		free(out);
	}
	assert_int_equal(done_total, (unsigned long)done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_consumer_pauses_and_loses_nothing, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
