// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * example-slow-sink: the slow downstream the example consumer (consumer.c) writes to. An HTTP
 * server with a fixed capacity of requests in service at once and a fixed service time, that
 * applies each job once (the job id is its idempotency key) and counts what it saw, so a test
 * can check what the consumer promises:
 *
 *   POST /job/ID      apply job ID (its body is the payload): 200 applied (or applied before:
 *                     counted as a duplicate), 500 when the payload is "poison" (a handler
 *                     that fails on it every time), 503 without Retry-After the first N
 *                     times job ID is sent when the payload is "busy:N" (a refusal that is
 *                     not the job's fault, counted as busy), 422 when it is "invalid" (never
 *                     applicable), 503 over capacity or while the request's tier is shed
 *   GET /probe        only the admission check: 200, or 503 as above
 *   GET /stats        counters, one "name=value" line; GET /stats/reset also restarts the peak
 *                     of requests in service from the number in service now
 *
 * Shedding comes from spillway's state file, as in http_server.c: the tier is X-Tier (else
 * --tier), retries (Retry-Attempt >= 1) are refused before first tries, and a client whose
 * X-Deadline-Ms ends before the earliest hinted retry is told not to retry at all.
 *
 * A quota (--rate N jobs a second, a token bucket holding RATE_BURST_S seconds of it) stands
 * for a downstream that can apply only so many jobs a second, as an API quota does: a job
 * beyond it is refused 503 before any work and counted as over_rate. SIGUSR1 divides the
 * quota by --slow-factor (the sink's own downstream slowed), SIGUSR2 restores it. With
 * --report-socket the sink reports the bucket to spillway every REPORT_MS as a pool named as
 * its service: in_use = the tokens spent, capacity = the bucket, so its fill rises while jobs
 * come faster than the quota refills it, and spillway sheds the sink's callers before the
 * bucket is empty.
 *
 * One thread per connection, Connection: close: the sink is about counting, not speed.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "example_http.h"

/* Job ids the sink remembers: ids at or above this are refused with 422. */
#define JOB_ID_MAX (1UL << 20)
/* A request's body (the job's payload) must fit in this. */
#define BODY_MAX 1024
/* A client silent this long is dropped, so a stuck client does not hold a thread. */
#define IO_TIMEOUT_S 5
/* The quota's bucket holds this many seconds of it: the burst a caller may send at once. */
#define RATE_BURST_S 1.0
/* The bucket is reported to spillway this often (its tick is 100 ms by default). */
#define REPORT_MS 50

static struct {
	struct spw_client *c;
	const char *service;
	unsigned long tier, capacity, service_ms, rate, slow_factor;
	const char *report_socket;
	pthread_mutex_t lock;
	/* The quota's bucket (rate 0: none), under lock; slow is set by the signal handlers. */
	double tokens, burst;
	uint64_t refilled_ns;
	volatile sig_atomic_t slow;
	unsigned char applied[JOB_ID_MAX / 8];
	/* Times each job id was refused as "busy:N", at most 255. */
	unsigned char busy_seen[JOB_ID_MAX];
	/* The counters of GET /stats, under lock. */
	unsigned long in_service, peak, requests, applied_n, duplicates, over_capacity, shed,
	    shed_retries, dont_retry, failed, rejected, bad, busy, over_rate;
} sink = {
    .service = "sink",
    .tier = 1,
    .capacity = 4,
    .service_ms = 10,
    .slow_factor = 3,
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

static void reply(int fd, int code, const char *reason, const char *extra, const char *body)
{
	char head[320];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s"
		 "Connection: close\r\n\r\n",
		 code, reason, strlen(body), extra);
	if (example_write_all(fd, head, strlen(head)))
		example_write_all(fd, body, strlen(body));
}

static void count(unsigned long *n)
{
	pthread_mutex_lock(&sink.lock);
	(*n)++;
	pthread_mutex_unlock(&sink.lock);
}

static void stats(int fd, bool reset)
{
	char body[512];

	pthread_mutex_lock(&sink.lock);
	snprintf(body, sizeof(body),
		 "requests=%lu applied=%lu duplicates=%lu peak=%lu in_service=%lu "
		 "over_capacity=%lu shed=%lu shed_retries=%lu dont_retry=%lu failed=%lu "
		 "rejected=%lu bad=%lu busy=%lu over_rate=%lu rate=%lu slow=%d\n",
		 sink.requests, sink.applied_n, sink.duplicates, sink.peak, sink.in_service,
		 sink.over_capacity, sink.shed, sink.shed_retries, sink.dont_retry, sink.failed,
		 sink.rejected, sink.bad, sink.busy, sink.over_rate, sink.rate, (int)sink.slow);
	if (reset)
		sink.peak = sink.in_service;
	pthread_mutex_unlock(&sink.lock);
	reply(fd, 200, "OK", "", body);
}

/* Reads the body after a head of head_len bytes in buf (have bytes read): its length, or -1. */
static long read_body(int fd, const char *buf, size_t head_len, size_t have, char *body)
{
	unsigned long len = 0;
	size_t got = have - head_len;
	ssize_t n;

	if (example_header_num(buf, "Content-Length", BODY_MAX, &len) < 0 || got > len)
		return -1;
	memcpy(body, buf + head_len, got);
	while (got < len) {
		n = recv(fd, body + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	body[len] = '\0';
	return (long)len;
}

/* Applies job id with payload: the HTTP status. In service for service_ms first. */
static int apply(unsigned long id, const char *payload)
{
	unsigned long busy_n;
	bool dup;

	usleep((useconds_t)sink.service_ms * 1000);
	if (!strncmp(payload, "busy:", 5) && id < JOB_ID_MAX &&
	    example_parse_num(payload + 5, 0, 255, &busy_n)) {
		pthread_mutex_lock(&sink.lock);
		dup = sink.busy_seen[id] < busy_n; /* refuse this time */
		if (dup) {
			sink.busy_seen[id]++;
			sink.busy++;
		}
		pthread_mutex_unlock(&sink.lock);
		if (dup)
			return 503;
	}
	if (!strcmp(payload, "poison")) {
		count(&sink.failed);
		return 500;
	}
	if (!strcmp(payload, "invalid") || id >= JOB_ID_MAX) {
		count(&sink.rejected);
		return 422;
	}
	pthread_mutex_lock(&sink.lock);
	dup = sink.applied[id / 8] & (1U << (id % 8));
	sink.applied[id / 8] |= (unsigned char)(1U << (id % 8));
	if (dup)
		sink.duplicates++;
	else
		sink.applied_n++;
	pthread_mutex_unlock(&sink.lock);
	return 200;
}

static void on_slow(int sig)
{
	sink.slow = sig == SIGUSR1;
}

/* Refills the bucket to now at the quota in force. Under lock. */
static void refill(void)
{
	uint64_t now = example_now_ns();
	double rate = (double)sink.rate / (sink.slow ? (double)sink.slow_factor : 1.0);

	sink.burst = rate * RATE_BURST_S;
	sink.tokens += rate * (double)(now - sink.refilled_ns) / 1e9;
	if (sink.tokens > sink.burst)
		sink.tokens = sink.burst;
	sink.refilled_ns = now;
}

/* Takes one token of the quota: false (counted) when the bucket is empty. Under lock. */
static bool take_token(void)
{
	if (!sink.rate)
		return true;
	refill();
	if (sink.tokens < 1.0) {
		sink.over_rate++;
		return false;
	}
	sink.tokens -= 1.0;
	return true;
}

static void *reporter_main(void *arg)
{
	struct spw_client *rc = arg;
	uint64_t in_use, cap;

	for (;;) {
		pthread_mutex_lock(&sink.lock);
		refill();
		/* Whole tokens, rounded: 0 <= tokens <= burst, so in_use <= cap. */
		cap = (uint64_t)(sink.burst + 0.5);
		in_use = (uint64_t)(sink.burst - sink.tokens + 0.5);
		pthread_mutex_unlock(&sink.lock);
		/* Dropped while the daemon is down: the next report says it again. */
		spw_client_report_pool(rc, sink.service, in_use, cap ? cap : 1, -1, -1);
		usleep(REPORT_MS * 1000);
	}
	return NULL;
}

static void serve(int fd)
{
	char buf[EXAMPLE_HEAD_MAX + 1], method[8], path[64], body[BODY_MAX + 1], extra[64];
	struct spw_retry_hint hint;
	struct spw_shed_state st;
	unsigned long tier = sink.tier, id, attempt = 0;
	size_t have = 0;
	long head_len;
	bool busy;
	int bad, code;

	head_len = example_read_head(fd, buf, &have);
	if (head_len <= 0 || sscanf(buf, "%7s %63s", method, path) != 2) {
		count(&sink.bad);
		reply(fd, 400, "Bad Request", "", "bad request\n");
		return;
	}
	if (!strcmp(method, "GET") && !strncmp(path, "/stats", 6)) {
		stats(fd, !strcmp(path, "/stats/reset"));
		return;
	}
	count(&sink.requests);
	if (example_header_num(buf, "X-Tier", 255, &tier) < 0) {
		count(&sink.bad);
		reply(fd, 400, "Bad Request", "", "bad X-Tier\n");
		return;
	}
	spw_client_shed_state(sink.c, sink.service, (unsigned int)tier, &st);
	if (example_refuse(&st, buf, &hint, &bad)) {
		pthread_mutex_lock(&sink.lock);
		sink.shed++;
		sink.shed_retries +=
		    example_header_num(buf, EXAMPLE_RETRY_ATTEMPT, 1000, &attempt) > 0 &&
		    attempt > 0;
		sink.dont_retry += hint.dont_retry;
		pthread_mutex_unlock(&sink.lock);
		example_refusal_headers(&hint, extra, sizeof(extra));
		reply(fd, 503, "Service Unavailable", extra, "shed\n");
		return;
	}
	if (bad) {
		count(&sink.bad);
		reply(fd, 400, "Bad Request", "",
		      "bad " EXAMPLE_RETRY_ATTEMPT " or " EXAMPLE_DEADLINE_MS "\n");
		return;
	}
	if (!strcmp(method, "GET") && !strcmp(path, "/probe")) {
		reply(fd, 200, "OK", "", "admitted\n");
		return;
	}
	if (strcmp(method, "POST") || strncmp(path, "/job/", 5) ||
	    !example_parse_num(path + 5, 0, ULONG_MAX, &id) ||
	    read_body(fd, buf, (size_t)head_len, have, body) < 0) {
		count(&sink.bad);
		reply(fd, 400, "Bad Request", "", "POST /job/ID with a payload\n");
		return;
	}
	/* The capacity: a request beyond it is refused, and counted, before any work. */
	pthread_mutex_lock(&sink.lock);
	busy = sink.in_service >= sink.capacity;
	if (busy) {
		sink.over_capacity++;
	} else if (!take_token()) {
		busy = true;
	} else if (++sink.in_service > sink.peak) {
		sink.peak = sink.in_service;
	}
	pthread_mutex_unlock(&sink.lock);
	if (busy) {
		reply(fd, 503, "Service Unavailable", "Retry-After: 1\r\n", "over capacity\n");
		return;
	}
	code = apply(id, body);
	pthread_mutex_lock(&sink.lock);
	sink.in_service--;
	pthread_mutex_unlock(&sink.lock);
	if (code == 200)
		reply(fd, 200, "OK", "", "applied\n");
	else if (code == 503)
		reply(fd, 503, "Service Unavailable", "", "busy, try later\n");
	else if (code == 500)
		reply(fd, 500, "Internal Server Error", "", "the handler failed\n");
	else
		reply(fd, 422, "Unprocessable Content", "", "not a job this sink can apply\n");
}

static void *conn_main(void *arg)
{
	struct timeval t = {.tv_sec = IO_TIMEOUT_S};
	int fd = (int)(intptr_t)arg;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t));
	serve(fd);
	close(fd);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: example-slow-sink [options]\n"
	    "  -p, --port N          listen on 127.0.0.1:N (default 0: any free port, printed)\n"
	    "  -c, --capacity N      requests in service at once (default 4)\n"
	    "  -m, --service-ms MS   service time of a job (default 10)\n"
	    "  -r, --rate N          jobs a second at most (default 0: no quota)\n"
	    "      --slow-factor F   the quota is divided by F after SIGUSR1, until SIGUSR2\n"
	    "                        (default 3)\n"
	    "      --report-socket P report the quota's bucket to spillway there as a pool named\n"
	    "                        as the service\n"
	    "  -s, --service NAME    spillway service to check (default sink)\n"
	    "  -t, --tier N          tier of requests without X-Tier (default 1)\n"
	    "      --state-dir DIR   spillway's state folder (default " SPW_CLIENT_STATE_DIR ")\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"capacity", required_argument, NULL, 'c'},
	    {"service-ms", required_argument, NULL, 'm'},
	    {"rate", required_argument, NULL, 'r'},
	    {"slow-factor", required_argument, NULL, 'F'},
	    {"report-socket", required_argument, NULL, 'R'},
	    {"service", required_argument, NULL, 's'},
	    {"tier", required_argument, NULL, 't'},
	    {"state-dir", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *state_dir = NULL;
	unsigned long port = 0;
	unsigned int bound;
	int c, lfd, fd;
	pthread_t th;

	while ((c = getopt_long(argc, argv, "p:c:m:r:s:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!example_parse_num(optarg, 0, 65535, &port))
				goto bad;
			break;
		case 'c':
			if (!example_parse_num(optarg, 1, 1024, &sink.capacity))
				goto bad;
			break;
		case 'm':
			if (!example_parse_num(optarg, 0, 10000, &sink.service_ms))
				goto bad;
			break;
		case 'r':
			if (!example_parse_num(optarg, 0, 1000000, &sink.rate))
				goto bad;
			break;
		case 'F':
			if (!example_parse_num(optarg, 1, 1000, &sink.slow_factor))
				goto bad;
			break;
		case 'R':
			sink.report_socket = optarg;
			break;
		case 's':
			sink.service = optarg;
			break;
		case 't':
			if (!example_parse_num(optarg, 0, 255, &sink.tier))
				goto bad;
			break;
		case 'D':
			state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	lfd =
	    example_serve_start("example-slow-sink", state_dir, NULL, port, true, &sink.c, &bound);
	if (lfd < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_slow);
	signal(SIGUSR2, on_slow);
	sink.refilled_ns = example_now_ns();
	sink.tokens = (double)sink.rate * RATE_BURST_S;
	if (sink.report_socket) {
		struct spw_client *rc = spw_client_open(state_dir, sink.report_socket);

		if (!rc || pthread_create(&th, NULL, reporter_main, rc)) {
			fprintf(stderr, "example-slow-sink: cannot start the reporter\n");
			return 1;
		}
		pthread_detach(th);
	}
	printf("listening on 127.0.0.1:%u: capacity %lu, %lu ms a job, %lu jobs/s, service %s\n",
	       bound, sink.capacity, sink.service_ms, sink.rate, sink.service);
	fflush(stdout);
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* EINTR, ECONNABORTED, EMFILE: keep serving what we have */
		if (pthread_create(&th, NULL, conn_main, (void *)(intptr_t)fd)) {
			reply(fd, 503, "Service Unavailable", "Retry-After: 1\r\n", "no thread\n");
			close(fd);
			continue;
		}
		pthread_detach(th);
	}
bad:
	fprintf(stderr, "example-slow-sink: bad value '%s' for -%c\n", optarg, c);
usage:
	usage(stderr);
	return 2;
}
