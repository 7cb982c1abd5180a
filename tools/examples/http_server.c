// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * example-http-server: a small blocking HTTP/1.1 server (a fixed pool of worker threads, each
 * serving one keep-alive connection at a time) that uses libspillway-client both ways:
 *
 *   - every 50 ms it reports its worker pool: `pool NAME in_use=<busy workers>
 *     capacity=<workers> waiting=<accepted connections no worker has taken yet>
 *     wait_ms=<longest such wait in the last period>`; a service whose config names the
 *     signal `pool NAME` then sheds when the workers are saturated;
 *   - for each request it asks whether the request's tier is shed, and answers 503 with
 *     Retry-After if so. XDP sheds new connections; this sheds requests on keep-alive
 *     connections that were admitted before the overload.
 *
 * The tier of a request is the X-Tier header (0 = most critical, as in the config's tier
 * list), else --tier. A real server would map its own notion (API key, route, client
 * network) to a tier; a header keeps the example short and testable with curl.
 *
 * GET /sleep/MS holds a worker MS milliseconds (at most 10 s): a way to make the pool busy.
 * Only the C library and libspillway-client: no libbpf, no privileges.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "example_http.h"

/* Accepted connections waiting for a worker; beyond this, new ones get a 503 at once. */
#define QUEUE_MAX 1024
/* A keep-alive connection idle this long is closed, so idle clients do not hold workers. */
#define IDLE_TIMEOUT_S 5
/* The report period: several per daemon tick (100 ms) so the daemon never sees it stale. */
#define REPORT_EVERY_NS 50000000ULL
#define SLEEP_MAX_MS	10000

static struct {
	struct spw_client *c;
	const char *service, *pool;
	unsigned int default_tier;
	int workers;
	/* The accept queue. */
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	int fds[QUEUE_MAX];
	uint64_t since_ns[QUEUE_MAX];
	int head, len;
	uint64_t max_wait_ns; /* since the last report */
	int busy;
} srv = {
    .service = "web",
    .pool = "http",
    .default_tier = 1,
    .workers = 8,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .nonempty = PTHREAD_COND_INITIALIZER,
};

/* extra: more header lines, each ending in \r\n ("" for none). */
static bool respond(int fd, int code, const char *reason, const char *extra, bool keep_alive,
		    const char *body)
{
	char head[320];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s"
		 "Connection: %s\r\n\r\n",
		 code, reason, strlen(body), extra, keep_alive ? "keep-alive" : "close");
	return example_write_all(fd, head, strlen(head)) &&
	       example_write_all(fd, body, strlen(body));
}

/* Handles one request whose head is buf[0..head_len); false when the connection must end. */
static bool handle(int fd, char *buf, size_t head_len, bool *keep_alive)
{
	char method[16], path[256], version[16], body[64], extra[64];
	struct spw_retry_hint hint;
	struct spw_shed_state st;
	unsigned long tier = srv.default_tier, ms;
	const char *v;
	char *end;
	size_t len;
	int bad;

	buf[head_len - 2] = '\0'; /* keeps the last header's \r\n for header() */
	if (sscanf(buf, "%15s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		respond(fd, 400, "Bad Request", "", false, "bad request\n");
		return false;
	}
	*keep_alive = strcmp(version, "HTTP/1.0")
			  ? !example_header_is(buf, "Connection", "close")
			  : example_header_is(buf, "Connection", "keep-alive");
	/* Bodies are not read: refusing them keeps the framing of the next request simple. */
	if ((v = example_header(buf, "Content-Length", &len)) && strtoul(v, NULL, 10) > 0) {
		respond(fd, 413, "Content Too Large", "", false, "no request bodies here\n");
		return false;
	}
	if (example_header(buf, "Transfer-Encoding", &len)) {
		respond(fd, 501, "Not Implemented", "", false, "no request bodies here\n");
		return false;
	}
	v = example_header(buf, "X-Tier", &len);
	if (v) {
		tier = strtoul(v, &end, 10);
		if (end == v || end != v + len || tier > 255) {
			respond(fd, 400, "Bad Request", "", *keep_alive, "bad X-Tier\n");
			return *keep_alive;
		}
	}
	/*
	 * The check: an mmap read, no syscall. Not shed when the daemon is down or does not know
	 * the service (the library fails open), so the server always works without spillway.
	 */
	spw_client_shed_state(srv.c, srv.service, (unsigned int)tier, &st);
	/* Retries are refused before first tries; a client that cannot wait is told not to retry.
	 */
	if (example_refuse(&st, buf, &hint, &bad)) {
		example_refusal_headers(&hint, extra, sizeof(extra));
		return respond(fd, 503, "Service Unavailable", extra, *keep_alive,
			       hint.dont_retry ? "overloaded, do not retry\n"
					       : "overloaded, retry later\n") &&
		       *keep_alive;
	}
	if (bad) {
		respond(fd, 400, "Bad Request", "", *keep_alive,
			"bad " EXAMPLE_RETRY_ATTEMPT " or " EXAMPLE_DEADLINE_MS "\n");
		return *keep_alive;
	}
	if (!strncmp(path, "/sleep/", 7)) {
		ms = strtoul(path + 7, NULL, 10);
		if (ms > SLEEP_MAX_MS)
			ms = SLEEP_MAX_MS;
		usleep((useconds_t)ms * 1000);
	}
	snprintf(body, sizeof(body), "ok tier=%lu\n", tier);
	return respond(fd, 200, "OK", "", *keep_alive, body) && *keep_alive;
}

static void serve(int fd)
{
	struct timeval idle = {.tv_sec = IDLE_TIMEOUT_S};
	char buf[EXAMPLE_HEAD_MAX + 1];
	bool keep_alive = true;
	size_t have = 0;
	long head_len;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	while (keep_alive) {
		head_len = example_read_head(fd, buf, &have);
		if (head_len < 0) {
			respond(fd, 431, "Request Header Fields Too Large", "", false,
				"header too large\n");
			return;
		}
		if (!head_len)
			return; /* closed, idle timeout, or error */
		if (!handle(fd, buf, (size_t)head_len, &keep_alive))
			return;
		/* Pipelined requests already read stay for the next round. */
		memmove(buf, buf + head_len, have - (size_t)head_len);
		have -= (size_t)head_len;
	}
}

static void *worker_main(void *arg)
{
	uint64_t waited;
	int fd;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&srv.lock);
		while (!srv.len)
			pthread_cond_wait(&srv.nonempty, &srv.lock);
		fd = srv.fds[srv.head];
		waited = example_now_ns() - srv.since_ns[srv.head];
		if (waited > srv.max_wait_ns)
			srv.max_wait_ns = waited;
		srv.head = (srv.head + 1) % QUEUE_MAX;
		srv.len--;
		srv.busy++;
		pthread_mutex_unlock(&srv.lock);
		serve(fd);
		close(fd);
		pthread_mutex_lock(&srv.lock);
		srv.busy--;
		pthread_mutex_unlock(&srv.lock);
	}
	return NULL;
}

static void *reporter_main(void *arg)
{
	struct timespec period = {.tv_nsec = REPORT_EVERY_NS};
	uint64_t wait_ms, waiting, busy;
	bool warned = false;
	int err;

	(void)arg;
	for (;;) {
		nanosleep(&period, NULL);
		pthread_mutex_lock(&srv.lock);
		busy = (uint64_t)srv.busy;
		waiting = (uint64_t)srv.len;
		/* Connections still queued count with their wait so far. */
		if (srv.len && example_now_ns() - srv.since_ns[srv.head] > srv.max_wait_ns)
			srv.max_wait_ns = example_now_ns() - srv.since_ns[srv.head];
		wait_ms = srv.max_wait_ns / 1000000;
		srv.max_wait_ns = 0;
		pthread_mutex_unlock(&srv.lock);
		/* Never blocks; a daemon that is down just misses the report. */
		err = spw_client_report_pool(srv.c, srv.pool, busy, (uint64_t)srv.workers,
					     (int64_t)waiting, (int64_t)wait_ms);
		if (err && !warned)
			fprintf(stderr,
				"example-http-server: reports are not delivered: %s "
				"(said once)\n",
				strerror(-err));
		warned = warned || err;
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: example-http-server [options]\n"
	    "  -p, --port N            listen on N (default 8080), all addresses\n"
	    "  -w, --workers N         worker threads (default 8)\n"
	    "  -s, --service NAME      spillway service to check (default web)\n"
	    "  -P, --pool NAME         pool name to report (default http)\n"
	    "  -t, --tier N            tier of requests without X-Tier (default 1)\n"
	    "      --state-dir DIR     spillway's state folder (default " SPW_CLIENT_STATE_DIR ")\n"
	    "      --report-socket P   spillway's report socket (default " SPW_CLIENT_REPORT_SOCKET
	    ")\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"workers", required_argument, NULL, 'w'},
	    {"service", required_argument, NULL, 's'},
	    {"pool", required_argument, NULL, 'P'},
	    {"tier", required_argument, NULL, 't'},
	    {"state-dir", required_argument, NULL, 'D'},
	    {"report-socket", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *state_dir = NULL, *report_socket = NULL;
	unsigned long port = 8080, v;
	unsigned int bound;
	pthread_t th;
	int c, lfd, fd, i;

	while ((c = getopt_long(argc, argv, "p:w:s:P:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!example_parse_num(optarg, 1, 65535, &port))
				goto bad;
			break;
		case 'w':
			if (!example_parse_num(optarg, 1, 4096, &v))
				goto bad;
			srv.workers = (int)v;
			break;
		case 's':
			srv.service = optarg;
			break;
		case 'P':
			srv.pool = optarg;
			break;
		case 't':
			if (!example_parse_num(optarg, 0, 255, &v))
				goto bad;
			srv.default_tier = (unsigned int)v;
			break;
		case 'D':
			state_dir = optarg;
			break;
		case 'R':
			report_socket = optarg;
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
	lfd = example_serve_start("example-http-server", state_dir, report_socket, port, false,
				  &srv.c, &bound);
	if (lfd < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < srv.workers; i++)
		if (pthread_create(&th, NULL, worker_main, NULL) == 0)
			pthread_detach(th);
	if (pthread_create(&th, NULL, reporter_main, NULL) == 0)
		pthread_detach(th);
	printf("listening on port %lu: %d workers, service %s, pool %s\n", port, srv.workers,
	       srv.service, srv.pool);
	fflush(stdout);
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* EINTR, ECONNABORTED, EMFILE: keep serving what we have */
		pthread_mutex_lock(&srv.lock);
		if (srv.len == QUEUE_MAX) {
			pthread_mutex_unlock(&srv.lock);
			respond(fd, 503, "Service Unavailable", "Retry-After: 1\r\n", false,
				"queue full\n");
			close(fd);
			continue;
		}
		i = (srv.head + srv.len) % QUEUE_MAX;
		srv.fds[i] = fd;
		srv.since_ns[i] = example_now_ns();
		srv.len++;
		pthread_cond_signal(&srv.nonempty);
		pthread_mutex_unlock(&srv.lock);
	}
bad:
	fprintf(stderr, "example-http-server: bad value '%s' for -%c\n", optarg, c);
usage:
	usage(stderr);
	return 2;
}
