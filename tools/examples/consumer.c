// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * example-consumer: a job consumer that pauses while its downstream is shed. It pulls jobs
 * from a PostgreSQL table with SELECT ... FOR UPDATE SKIP LOCKED (any number of consumers
 * share the table, none waits for another's rows), writes each to a slow HTTP service (the
 * example sink, slow_sink.c) and asks libspillway-client's consumer helper, before every pull,
 * whether the sink's tier is shed and how many jobs to keep in flight.
 *
 * What it promises:
 *   - at most --buffer jobs claimed from the table at once (queued plus in flight): the
 *     buffer is an array of that many slots, and a job is claimed only into a free slot;
 *   - at most the helper's concurrency hint in flight (at most --max-inflight), none while
 *     paused; a pause also hands the queued jobs back to the table for others;
 *   - a job leaves the table once: into spw_jobs_done when the sink applied it (a DELETE and
 *     an INSERT in one statement), or into spw_jobs_dead;
 *   - failures are told apart:
 *       retryable, not the job's fault: 503/429 (shed or over capacity; the job waits out
 *         Retry-After), no connection, a timeout, a broken answer: back to the table;
 *       failed, maybe the job's fault: another 5xx: back with a backoff, and into the dead
 *         letters after --max-failures of them (a poison job);
 *       non-retryable: a 4xx, or a payload too large to send: into the dead letters at once.
 *
 * Every request carries the job id as Idempotency-Key, so a sink that remembers ids applies a
 * job once even when a claim's lease (--lease-s) ran out under a stuck consumer and another
 * consumer sent it again. Retries say so (Retry-Attempt), so the sink can shed them first.
 *
 * Tables: `example-consumer --init --db ...` creates them:
 *   spw_jobs (id, payload, tries, failures, not_before, claimed_until, last_error)
 *   spw_jobs_done (id, payload, done_at), spw_jobs_dead (id, payload, failures, last_error)
 * Jobs go in with INSERT INTO spw_jobs (payload) VALUES (...).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <libpq-fe.h>
#include "example_http.h"

/* A payload must fit in this to be sent (the sink's limit too). */
#define PAYLOAD_MAX 1024
/* The decision is asked for this often, and the main loop wakes at least this often. */
#define POLL_MS 20
/* An empty table is looked at again this often when --exit-when-empty is given. */
#define EMPTY_CHECK_MS 100
/* A failed job's backoff: this, doubled per failure, at most BACKOFF_MAX_MS. */
#define BACKOFF_MS     100
#define BACKOFF_MAX_MS 10000
/* A retryable refusal without Retry-After waits this long. */
#define REQUEUE_MS  500
#define WORKERS_MAX 256

enum outcome {
	OUT_OK,	       /* 2xx: applied */
	OUT_RETRYABLE, /* 503/429, no connection, timeout, broken answer: not the job's fault */
	OUT_FAILED,    /* another 5xx: counted against the job */
	OUT_REJECTED,  /* 4xx: the job can never succeed */
};

enum slot_state {
	SLOT_FREE,
	SLOT_QUEUED,   /* claimed, waiting for a worker */
	SLOT_INFLIGHT, /* a worker sends it */
	SLOT_FINISHED, /* sent; the main loop records the outcome in the table */
};

struct slot {
	enum slot_state state;
	long long id;
	int tries, failures;
	char payload[PAYLOAD_MAX + 1];
	enum outcome outcome;
	unsigned int delay_ms; /* OUT_RETRYABLE: how long the job waits */
	char error[96];
};

static struct {
	PGconn *db;
	struct spw_client *c;
	struct spw_consumer k;
	const char *service;
	struct sockaddr_in sink;
	unsigned int buffer, max_inflight, max_failures, lease_s, timeout_ms;
	bool exit_when_empty;
	pthread_mutex_t lock;
	pthread_cond_t work, finished;
	struct slot *slots;
	/* Under lock. */
	unsigned int allowed, inflight, held, peak_held, peak_inflight;
	bool stop_workers;
	/* Main loop only. */
	unsigned long done, dead, requeued, failed, released, lost, db_errors;
} C = {
    .service = "sink",
    .buffer = 16,
    .max_inflight = 4,
    .max_failures = 3,
    .lease_s = 60,
    .timeout_ms = 5000,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .finished = PTHREAD_COND_INITIALIZER,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The sink's answer to one job. */
static enum outcome send_job(const struct slot *s, unsigned int *delay_ms, char *error,
			     size_t error_size)
{
	struct timeval t = {.tv_sec = C.timeout_ms / 1000, .tv_usec = (C.timeout_ms % 1000) * 1000};
	char head[EXAMPLE_HEAD_MAX + 1], attempt[48] = "";
	unsigned long retry_after = 0;
	size_t have = 0, len = strlen(s->payload);
	long head_len;
	int fd, code, n;

	*delay_ms = REQUEUE_MS;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(error, error_size, "socket: %s", strerror(errno));
		return OUT_RETRYABLE;
	}
	/* Linux bounds connect() by SO_SNDTIMEO too. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t));
	if (connect(fd, (struct sockaddr *)&C.sink, sizeof(C.sink))) {
		snprintf(error, error_size, "connect: %s", strerror(errno));
		close(fd);
		return OUT_RETRYABLE;
	}
	if (s->tries)
		snprintf(attempt, sizeof(attempt), EXAMPLE_RETRY_ATTEMPT ": %d\r\n", s->tries);
	n = snprintf(
	    head, sizeof(head),
	    "POST /job/%lld HTTP/1.1\r\nHost: sink\r\nX-Tier: %u\r\nIdempotency-Key: %lld\r\n"
	    "%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    s->id, C.k.cfg.tier, s->id, attempt, len);
	if (!example_write_all(fd, head, (size_t)n) || !example_write_all(fd, s->payload, len)) {
		snprintf(error, error_size, "send: %s", strerror(errno));
		close(fd);
		return OUT_RETRYABLE;
	}
	head_len = example_read_head(fd, head, &have);
	close(fd);
	if (head_len <= 0 || sscanf(head, "HTTP/1.%*d %d", &code) != 1) {
		snprintf(error, error_size, "no answer, or not HTTP");
		return OUT_RETRYABLE;
	}
	snprintf(error, error_size, "HTTP %d", code);
	if (code >= 200 && code < 300)
		return OUT_OK;
	if (code == 503 || code == 429) {
		if (example_header_is(head, EXAMPLE_NO_RETRY, "no"))
			*delay_ms = C.k.cfg.hold_ms; /* no retry fits its deadline: wait a hold */
		else if (example_header_num(head, "Retry-After", 86400, &retry_after) > 0)
			*delay_ms = (unsigned int)retry_after * 1000;
		return OUT_RETRYABLE;
	}
	return code >= 500 ? OUT_FAILED : OUT_REJECTED;
}

static void *worker_main(void *arg)
{
	unsigned int i;

	(void)arg;
	pthread_mutex_lock(&C.lock);
	while (!C.stop_workers) {
		struct slot *s = NULL;

		if (C.inflight < C.allowed)
			for (i = 0; i < C.buffer && !s; i++)
				if (C.slots[i].state == SLOT_QUEUED)
					s = &C.slots[i];
		if (!s) {
			pthread_cond_wait(&C.work, &C.lock);
			continue;
		}
		s->state = SLOT_INFLIGHT;
		if (++C.inflight > C.peak_inflight)
			C.peak_inflight = C.inflight;
		pthread_mutex_unlock(&C.lock);
		/* The slot is this worker's until it is FINISHED: no lock needed for its fields. */
		s->outcome = send_job(s, &s->delay_ms, s->error, sizeof(s->error));
		pthread_mutex_lock(&C.lock);
		s->state = SLOT_FINISHED;
		C.inflight--;
		pthread_cond_signal(&C.finished);
		pthread_cond_broadcast(&C.work); /* a freed flight slot may let another go */
	}
	pthread_mutex_unlock(&C.lock);
	return NULL;
}

/* One statement with text parameters: the rows it touched, or -1 (said why). */
static long exec(const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(C.db, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	long rows = -1;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		rows = strtol(PQcmdTuples(r), NULL, 10);
	else
		fprintf(stderr, "example-consumer: %s", PQerrorMessage(C.db));
	PQclear(r);
	if (rows < 0) {
		C.db_errors++;
		if (PQstatus(C.db) == CONNECTION_BAD)
			PQreset(C.db);
	}
	return rows;
}

static const char *SQL_DONE =
    "WITH j AS (DELETE FROM spw_jobs WHERE id = $1 RETURNING id, payload) "
    "INSERT INTO spw_jobs_done (id, payload) SELECT id, payload FROM j";
static const char *SQL_DEAD =
    "WITH j AS (DELETE FROM spw_jobs WHERE id = $1 RETURNING id, payload, failures) "
    "INSERT INTO spw_jobs_dead (id, payload, failures, last_error) "
    "SELECT id, payload, failures + $2::int, $3 FROM j";
/* Back to the table: $2 more failures, retry after $3 ms. */
static const char *SQL_AGAIN =
    "UPDATE spw_jobs SET tries = tries + 1, failures = failures + $2::int, last_error = $4, "
    "claimed_until = NULL, not_before = now() + make_interval(secs => $3::int / 1000.0) "
    "WHERE id = $1";
/* Never sent (a pause): back as it was. */
static const char *SQL_RELEASE = "UPDATE spw_jobs SET claimed_until = NULL WHERE id = $1";
static const char *SQL_CLAIM =
    "UPDATE spw_jobs SET claimed_until = now() + make_interval(secs => $2::int) "
    "WHERE id IN (SELECT id FROM spw_jobs WHERE not_before <= now() AND "
    "(claimed_until IS NULL OR claimed_until < now()) ORDER BY id LIMIT $1 "
    "FOR UPDATE SKIP LOCKED) RETURNING id, payload, tries, failures";

/* Back to the table, with failures_add more failures, to be tried after delay_ms. */
static long again(const struct slot *s, const char *id, int failures_add, unsigned int delay_ms)
{
	char n[16], delay[16];
	const char *p[4] = {id, n, delay, s->error};

	snprintf(n, sizeof(n), "%d", failures_add);
	snprintf(delay, sizeof(delay), "%u", delay_ms);
	return exec(SQL_AGAIN, 4, p);
}

/* Records a finished job (or, release, a queued one never sent). True when it is settled. */
static bool settle(const struct slot *s, bool release)
{
	char id[24];
	const char *p[3] = {id, "1", s->error};
	unsigned int backoff;
	long rows;

	snprintf(id, sizeof(id), "%lld", s->id);
	if (release) {
		rows = exec(SQL_RELEASE, 1, p);
		C.released += rows > 0;
	} else if (s->outcome == OUT_OK) {
		rows = exec(SQL_DONE, 1, p);
		C.done += rows > 0;
	} else if (s->outcome == OUT_RETRYABLE) {
		rows = again(s, id, 0, s->delay_ms);
		C.requeued += rows > 0;
	} else if (s->outcome == OUT_FAILED && (unsigned int)s->failures + 1 < C.max_failures) {
		backoff = BACKOFF_MS << (s->failures < 10 ? s->failures : 10);
		rows = again(s, id, 1, backoff < BACKOFF_MAX_MS ? backoff : BACKOFF_MAX_MS);
		C.failed += rows > 0;
	} else {
		/* Rejected, or failed for the last time it may: a dead letter. */
		rows = exec(SQL_DEAD, 3, p);
		C.dead += rows > 0;
	}
	/* 0 rows: the job is no longer ours (its lease ran out and another consumer has it). */
	C.lost += rows == 0;
	return rows >= 0;
}

/* Claims up to n jobs into free slots. */
static void claim(unsigned int n)
{
	char limit[16], lease[16];
	const char *p[2] = {limit, lease};
	unsigned int i = 0, row, rows;
	PGresult *r;

	snprintf(limit, sizeof(limit), "%u", n);
	snprintf(lease, sizeof(lease), "%u", C.lease_s);
	r = PQexecParams(C.db, SQL_CLAIM, 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "example-consumer: claiming jobs: %s", PQerrorMessage(C.db));
		PQclear(r);
		C.db_errors++;
		if (PQstatus(C.db) == CONNECTION_BAD)
			PQreset(C.db);
		return;
	}
	rows = (unsigned int)PQntuples(r);
	pthread_mutex_lock(&C.lock);
	for (row = 0; row < rows; row++) {
		struct slot *s;
		const char *payload = PQgetvalue(r, (int)row, 1);

		while (C.slots[i].state != SLOT_FREE)
			i++; /* LIMIT n <= the free slots: there is one */
		s = &C.slots[i];
		s->id = strtoll(PQgetvalue(r, (int)row, 0), NULL, 10);
		s->tries = atoi(PQgetvalue(r, (int)row, 2));
		s->failures = atoi(PQgetvalue(r, (int)row, 3));
		s->error[0] = '\0';
		if (strlen(payload) > PAYLOAD_MAX) {
			/* Never sendable: straight to the dead letters, without a worker. */
			s->payload[0] = '\0';
			s->outcome = OUT_REJECTED;
			snprintf(s->error, sizeof(s->error), "payload over %d bytes", PAYLOAD_MAX);
			s->state = SLOT_FINISHED;
		} else {
			strcpy(s->payload, payload);
			s->state = SLOT_QUEUED;
		}
		C.held++;
	}
	if (C.held > C.peak_held)
		C.peak_held = C.held;
	pthread_cond_broadcast(&C.work);
	pthread_mutex_unlock(&C.lock);
	PQclear(r);
}

static bool table_empty(void)
{
	PGresult *r = PQexec(C.db, "SELECT count(*) FROM spw_jobs");
	bool empty = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "0");

	PQclear(r);
	return empty;
}

static const char *SQL_INIT =
    "CREATE TABLE IF NOT EXISTS spw_jobs (id bigserial PRIMARY KEY, payload text NOT NULL, "
    "tries int NOT NULL DEFAULT 0, failures int NOT NULL DEFAULT 0, "
    "not_before timestamptz NOT NULL DEFAULT now(), claimed_until timestamptz, last_error text);"
    "CREATE TABLE IF NOT EXISTS spw_jobs_done (id bigint PRIMARY KEY, payload text NOT NULL, "
    "done_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS spw_jobs_dead (id bigint PRIMARY KEY, payload text NOT NULL, "
    "failures int NOT NULL, last_error text, dead_at timestamptz NOT NULL DEFAULT now());";

/* Settles every finished job, and, when paused (or stopping), hands queued ones back. */
static void settle_all(bool give_back)
{
	unsigned int i;

	for (i = 0; i < C.buffer; i++) {
		struct slot *s = &C.slots[i];
		enum slot_state st;

		pthread_mutex_lock(&C.lock);
		st = s->state;
		/* Taken from the workers' sight first: none may start a job being handed back. */
		if (st == SLOT_QUEUED && give_back)
			s->state = SLOT_FINISHED;
		pthread_mutex_unlock(&C.lock);
		if (st != SLOT_FINISHED && !(st == SLOT_QUEUED && give_back))
			continue;
		if (!settle(s, st == SLOT_QUEUED)) {
			/* The database is away: keep the job, try again next round. */
			pthread_mutex_lock(&C.lock);
			s->state = st;
			pthread_mutex_unlock(&C.lock);
			continue;
		}
		pthread_mutex_lock(&C.lock);
		s->state = SLOT_FREE;
		C.held--;
		pthread_mutex_unlock(&C.lock);
	}
}

static void wait_finished(unsigned int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&C.lock);
	pthread_cond_timedwait(&C.finished, &C.lock, &until);
	pthread_mutex_unlock(&C.lock);
}

/* Until stopped, or (exit_when_empty) the table and the buffer are empty. */
static void run(void)
{
	struct spw_consumer_decision d;
	uint64_t next_empty_check = 0, now;
	unsigned int free_slots;

	while (!stop) {
		spw_client_consumer_poll(C.c, &C.k, C.service, NULL, &d);
		pthread_mutex_lock(&C.lock);
		C.allowed = d.concurrency;
		pthread_cond_broadcast(&C.work);
		pthread_mutex_unlock(&C.lock);
		settle_all(d.paused);
		pthread_mutex_lock(&C.lock);
		free_slots = C.buffer - C.held;
		pthread_mutex_unlock(&C.lock);
		if (!d.paused && free_slots)
			claim(free_slots);
		now = example_now_ns();
		if (C.exit_when_empty && !C.held && now >= next_empty_check) {
			if (table_empty())
				break;
			next_empty_check = now + EMPTY_CHECK_MS * 1000000ULL;
		}
		wait_finished(POLL_MS);
	}
	/* Stopping: nothing new starts, what is in flight finishes and is recorded. */
	pthread_mutex_lock(&C.lock);
	C.allowed = 0;
	pthread_mutex_unlock(&C.lock);
	for (;;) {
		settle_all(true);
		pthread_mutex_lock(&C.lock);
		free_slots = C.held;
		pthread_mutex_unlock(&C.lock);
		if (!free_slots)
			break;
		wait_finished(POLL_MS);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: example-consumer --db CONNINFO [--init | options]\n"
		"  -d, --db CONNINFO       PostgreSQL connection (libpq conninfo or URI)\n"
		"      --init              create the tables if missing, and exit\n"
		"  -k, --sink ADDR:PORT    the sink (IPv4, default 127.0.0.1:8081)\n"
		"  -s, --service NAME      the sink's spillway service (default sink)\n"
		"  -t, --tier N            the tier of this consumer's requests there (default 1)\n"
		"      --state-dir DIR     spillway's state folder (default " SPW_CLIENT_STATE_DIR
		")\n"
		"  -b, --buffer N          jobs claimed at once at most (default 16)\n"
		"  -i, --max-inflight N    jobs in flight when fully admitted (default 4)\n"
		"  -f, --max-failures N    failures before a job is a dead letter (default 3)\n"
		"      --pause-below PERMILLE  pause when the tier's admitted share is below\n"
		"                          (default %u; 1000: whenever it is not whole)\n"
		"      --resume-at PERMILLE    a share this high or more is clear (default %u)\n"
		"      --hold-ms MS        clear this long before resuming (default %u)\n"
		"      --jitter-ms MS      plus up to this (default %u)\n"
		"      --lease-s S         a claim lasts this long (default 60)\n"
		"      --timeout-ms MS     connect, send and answer timeout (default 5000)\n"
		"      --exit-when-empty   exit once the table and the buffer are empty\n"
		"On exit it prints one line: consumer: done=N dead=N ... peak_held=N buffer=N\n",
		SPW_CONSUMER_PAUSE_BELOW_PERMILLE, SPW_CONSUMER_RESUME_PERMILLE,
		SPW_CONSUMER_HOLD_MS, SPW_CONSUMER_JITTER_MS);
}

static bool parse_sink(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) ||
	    !example_parse_num(colon + 1, 1, 65535, &port))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

int main(int argc, char **argv)
{
	enum {
		O_INIT = 256,
		O_STATE,
		O_PAUSE,
		O_RESUME,
		O_HOLD,
		O_JITTER,
		O_LEASE,
		O_TIMEOUT,
		O_EXIT
	};
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"init", no_argument, NULL, O_INIT},
	    {"sink", required_argument, NULL, 'k'},
	    {"service", required_argument, NULL, 's'},
	    {"tier", required_argument, NULL, 't'},
	    {"state-dir", required_argument, NULL, O_STATE},
	    {"buffer", required_argument, NULL, 'b'},
	    {"max-inflight", required_argument, NULL, 'i'},
	    {"max-failures", required_argument, NULL, 'f'},
	    {"pause-below", required_argument, NULL, O_PAUSE},
	    {"resume-at", required_argument, NULL, O_RESUME},
	    {"hold-ms", required_argument, NULL, O_HOLD},
	    {"jitter-ms", required_argument, NULL, O_JITTER},
	    {"lease-s", required_argument, NULL, O_LEASE},
	    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
	    {"exit-when-empty", no_argument, NULL, O_EXIT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *state_dir = NULL, *sink = "127.0.0.1:8081";
	struct spw_consumer_config cfg;
	pthread_t workers[WORKERS_MAX];
	unsigned long v;
	bool init = false;
	unsigned int i;
	int c, err;

	spw_client_consumer_defaults(&cfg);
	cfg.tier = 1;
	while ((c = getopt_long(argc, argv, "d:k:s:t:b:i:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case O_INIT:
			init = true;
			break;
		case 'k':
			sink = optarg;
			break;
		case 's':
			C.service = optarg;
			break;
		case 't':
			if (!example_parse_num(optarg, 0, 255, &v))
				goto bad;
			cfg.tier = (unsigned int)v;
			break;
		case O_STATE:
			state_dir = optarg;
			break;
		case 'b':
			if (!example_parse_num(optarg, 1, 65536, &v))
				goto bad;
			C.buffer = (unsigned int)v;
			break;
		case 'i':
			if (!example_parse_num(optarg, 1, WORKERS_MAX, &v))
				goto bad;
			C.max_inflight = (unsigned int)v;
			break;
		case 'f':
			if (!example_parse_num(optarg, 1, 1000, &v))
				goto bad;
			C.max_failures = (unsigned int)v;
			break;
		case O_PAUSE:
			if (!example_parse_num(optarg, 1, 1000, &v))
				goto bad;
			cfg.pause_below_permille = (uint16_t)v;
			break;
		case O_RESUME:
			if (!example_parse_num(optarg, 1, 1000, &v))
				goto bad;
			cfg.resume_permille = (uint16_t)v;
			break;
		case O_HOLD:
			if (!example_parse_num(optarg, 0, SPW_CONSUMER_WAIT_MAX_MS, &v))
				goto bad;
			cfg.hold_ms = (uint32_t)v;
			break;
		case O_JITTER:
			if (!example_parse_num(optarg, 0, SPW_CONSUMER_WAIT_MAX_MS, &v))
				goto bad;
			cfg.jitter_ms = (uint32_t)v;
			break;
		case O_LEASE:
			if (!example_parse_num(optarg, 1, 86400, &v))
				goto bad;
			C.lease_s = (unsigned int)v;
			break;
		case O_TIMEOUT:
			if (!example_parse_num(optarg, 1, 600000, &v))
				goto bad;
			C.timeout_ms = (unsigned int)v;
			break;
		case O_EXIT:
			C.exit_when_empty = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || !db)
		goto usage;
	if (!parse_sink(sink, &C.sink)) {
		fprintf(stderr, "example-consumer: bad --sink '%s': want IPv4:PORT\n", sink);
		return 2;
	}
	cfg.max_inflight = C.max_inflight;
	err = spw_client_consumer_init(&C.k, &cfg, example_now_ns() ^ (uint64_t)getpid() << 32);
	if (err) {
		fprintf(stderr,
			"example-consumer: bad settings: a tier of at most 7, --resume-at at "
			"least --pause-below, hold + jitter of at most %u ms\n",
			SPW_CONSUMER_WAIT_MAX_MS);
		return 2;
	}
	C.db = PQconnectdb(db);
	if (PQstatus(C.db) != CONNECTION_OK) {
		fprintf(stderr, "example-consumer: cannot connect to the database: %s",
			PQerrorMessage(C.db));
		return 1;
	}
	if (init) {
		PGresult *r = PQexec(C.db, SQL_INIT);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		if (!ok)
			fprintf(stderr, "example-consumer: creating the tables: %s",
				PQerrorMessage(C.db));
		PQclear(r);
		PQfinish(C.db);
		return ok ? 0 : 1;
	}
	C.c = spw_client_open(state_dir, NULL);
	C.slots = calloc(C.buffer, sizeof(*C.slots));
	if (!C.c || !C.slots) {
		fprintf(stderr, "example-consumer: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (i = 0; i < C.max_inflight; i++)
		if (pthread_create(&workers[i], NULL, worker_main, NULL)) {
			fprintf(stderr, "example-consumer: cannot start a worker\n");
			return 1;
		}
	run();
	pthread_mutex_lock(&C.lock);
	C.stop_workers = true;
	pthread_cond_broadcast(&C.work);
	pthread_mutex_unlock(&C.lock);
	for (i = 0; i < C.max_inflight; i++)
		pthread_join(workers[i], NULL);
	printf("consumer: done=%lu dead=%lu requeued=%lu failed=%lu released=%lu lost=%lu "
	       "db_errors=%lu peak_held=%u buffer=%u peak_inflight=%u pauses=%llu resumes=%llu\n",
	       C.done, C.dead, C.requeued, C.failed, C.released, C.lost, C.db_errors, C.peak_held,
	       C.buffer, C.peak_inflight, (unsigned long long)C.k.pauses,
	       (unsigned long long)C.k.resumes);
	PQfinish(C.db);
	spw_client_close(C.c);
	free(C.slots);
	return 0;
bad:
	fprintf(stderr, "example-consumer: bad value '%s' for -%c\n", optarg, c);
usage:
	usage(stderr);
	return 2;
}
