// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * demo-backend: the service the overload demo saturates. An HTTP/1.1 server with a
 * fixed pool of worker threads in front of a fixed pool of PostgreSQL connections (libpq):
 *
 *   GET /work    takes a DB connection (waiting while none is free), runs
 *                SELECT pg_sleep(query_ms * factor / 1000), gives it back, answers 200.
 *   GET /health  200 without touching the DB.
 *
 * The DB pool is the bottleneck by construction (db-pool < workers), as in the chain the
 * design starts from: DB pool saturates -> workers wait -> the accept queue grows. SIGUSR1
 * makes every query 3x slower (the "slow DB" phase), SIGUSR2 restores it.
 *
 * Workers block in accept() on the shared listening socket themselves, with no queue of our
 * own in between: connections no worker has taken wait in the kernel's accept queue, where
 * spillway's accept-queue signal (sock_diag) sees them. That keeps the zero-integration
 * variant honest.
 *
 * spillway integration, through libspillway-client:
 *   - every 50 ms: `pool db in_use=<connections held, time-weighted mean over the last
 *     200 ms (IN_USE_PERIODS)>
 *     capacity=<db-pool> waiting=<workers waiting for one, mean over the period>
 *     wait_ms=<longest wait for a connection in the last
 *     period, current waiters' wait so far included>` (max rather than p99: at the demo's
 *     rates a period holds a few dozen waits, where p99 is the max anyway);
 *   - on a kept-alive connection, each request after the first checks the shed state of its
 *     tier and is answered 503 with Retry-After while the tier is shed. The first request is
 *     not checked: the data plane admitted the connection's SYN moments ago, and checking it
 *     again would turn the data plane's refusals into 503s.
 *   - a request that finds no DB connection free checks its tier before it waits, and again
 *     when it gets one after waiting: while the data plane sheds a share of the tier, the
 *     request is refused (503, Retry-After) with that same probability instead of queueing.
 *     The data plane only refuses new connections; the requests it admitted before its first
 *     cut are already queued in front of tier 0 (at 3x capacity, 100 ms of reaction queue
 *     200 ms of work), and serving them keeps tier 0 waiting long after admission fell
 *     under capacity. Drawing against the admitted share (not refusing the whole tier)
 *     keeps a partly admitted tier's success near what the data plane gives it.
 *
 * A request's tier: the --tier-map entry with the longest prefix matching the client's
 * address (the same rule the data plane applies to the SYN), else the request's X-Tier
 * header, else --default-tier (0).
 *
 * Front mode (--upstream ADDR:PORT, no --db): the service of the two-hop demo's front host.
 * GET /work makes one call, GET /work on a new connection to the upstream, and answers 200
 * when the call got a 200, else 503 (Retry-After 1): the upstream refused (RST), timed out
 * (--upstream-timeout-ms) or answered an error. The call's socket carries the DSCP of the
 * request's tier (--upstream-dscp, IP_TOS / IPV6_TCLASS), so a next host that trusts this
 * one's marks classifies the call as this host classified the request. Calls are counted
 * per tier and outcome, printed on exit. The call names the tier in X-Tier too, for the
 * next hop's own shed checks.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <libpq-fe.h>
#include "spillway_client.h"
#include "demo_util.h"

/* A request's head must fit in this. */
#define HEAD_MAX 8192
/* The report period: two per daemon tick (100 ms), so the daemon never sees the pool stale. */
#define REPORT_EVERY_NS 50000000L
/*
 * in_use is reported as its mean over the last this many periods (200 ms), sliding. At the
 * demo's rates a 50 ms period holds about 10 pool takes at half the capacity: its mean use
 * swings by a sixth of the pool on arrival noise alone, and a short stall on the loaded
 * 2-core machine (load generators catching up on their schedule) filled a pool of 20 for a
 * whole period now and then, a reading of 1.12x the target that the controller rightly takes
 * for an overload. Over 200 ms such a burst is a reading among four. A real overload still
 * shows at once: wait_ms stays per period, and a queue is what a 3x step builds first.
 */
#define IN_USE_PERIODS 4
/* Tier-map entries at most; the demo needs one per tier (8 at most). */
#define TIER_MAP_MAX 64
/* What SIGUSR1 multiplies the query time by: the scenario's "DB slows 3x". */
#define SLOW_FACTOR 3
/* Tiers the front mode counts its calls for (include/spillway_abi.h SPW_MAX_TIERS). */
#define CALL_TIERS 8

struct tier_rule {
	int family;
	uint8_t addr[16];
	unsigned int prefix;
	unsigned int tier;
};

enum shed_check { SHED_KEEPALIVE, SHED_ALL, SHED_OFF };

/* How a front-mode call to the upstream ended. */
enum call_result { CALL_OK, CALL_REFUSED, CALL_TIMEOUT, CALL_FAILED, CALL_RESULTS };
static const char *const call_names[CALL_RESULTS] = {"ok", "refused", "timeout", "failed"};

static struct {
	/* options */
	struct sockaddr_storage listen_addr;
	socklen_t listen_len;
	const char *listen_str;
	unsigned long workers, db_pool, query_ms, backlog, default_tier, idle_timeout_s;
	const char *db, *service, *pool_name, *state_dir, *report_socket;
	bool no_report;
	enum shed_check shed_check;
	struct tier_rule rules[TIER_MAP_MAX];
	unsigned int nrules;
	/* front mode */
	bool front;
	struct sockaddr_storage upstream;
	socklen_t upstream_len;
	const char *upstream_str;
	unsigned long upstream_timeout_ms;
	int dscp[CALL_TIERS]; /* -1: the tier's calls are not marked */
	atomic_uint_least64_t calls[CALL_TIERS][CALL_RESULTS];

	struct spw_client *c;
	int lfd;
	atomic_int factor;
	atomic_bool stopping;

	/* The DB pool: a stack of free connections under one lock. */
	pthread_mutex_t db_lock;
	pthread_cond_t db_free;
	PGconn **conns;
	unsigned int *free_idx;
	unsigned int nfree;
	unsigned int waiting;
	uint64_t *wait_since; /* per worker: when it started waiting, 0 when not */
	uint64_t max_wait_ns; /* longest completed wait since the last report */
	/*
	 * Time integrals of in_use and waiting since the last report (connection-ns,
	 * waiter-ns), advanced at every change of either under db_lock: the report carries
	 * their time-weighted means over its period (see reporter_main).
	 */
	uint64_t in_use_ns, waiting_ns;
	uint64_t acc_since; /* when the integrals were last advanced */

	/* Each worker's current connection, so SIGTERM can end keep-alive reads. */
	pthread_mutex_t fd_lock;
	int *cur_fd;

	/* Totals, printed on exit. */
	atomic_uint_least64_t requests, ok, shed, db_errors;
} B = {
    .workers = 32,
    .db_pool = 8,
    .query_ms = 10,
    .backlog = 128,
    .idle_timeout_s = 5,
    .upstream_timeout_ms = 1000,
    .dscp = {-1, -1, -1, -1, -1, -1, -1, -1},
    .service = "demo",
    .pool_name = "db",
    .lfd = -1,
    .db_lock = PTHREAD_MUTEX_INITIALIZER,
    .db_free = PTHREAD_COND_INITIALIZER,
    .fd_lock = PTHREAD_MUTEX_INITIALIZER,
};

static bool send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* One response, head and body in a single send so it leaves in one segment. */
static bool reply(int fd, int code, const char *reason, const char *body, unsigned int retry_after,
		  bool keep_alive)
{
	char out[512];
	int n;

	n = snprintf(out, sizeof(out),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n", code,
		     reason, strlen(body));
	if (retry_after)
		n += snprintf(out + n, sizeof(out) - (size_t)n, "Retry-After: %u\r\n", retry_after);
	n += snprintf(out + n, sizeof(out) - (size_t)n, "Connection: %s\r\n\r\n%s",
		      keep_alive ? "keep-alive" : "close", body);
	return n < (int)sizeof(out) && send_all(fd, out, (size_t)n);
}

static bool rule_matches(const struct tier_rule *r, const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	unsigned int full, rest;

	if (ss->ss_family != r->family)
		return false;
	a = r->family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr
				 : ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	full = r->prefix / 8;
	rest = r->prefix % 8;
	if (memcmp(a, r->addr, full))
		return false;
	return !rest || !((a[full] ^ r->addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

/* The tier of the longest matching --tier-map prefix; -1 when none matches. */
static int tier_of_addr(const struct sockaddr_storage *ss)
{
	int best = -1, best_prefix = -1;
	unsigned int i;

	for (i = 0; i < B.nrules; i++)
		if ((int)B.rules[i].prefix > best_prefix && rule_matches(&B.rules[i], ss)) {
			best = (int)B.rules[i].tier;
			best_prefix = (int)B.rules[i].prefix;
		}
	return best;
}

/* "CIDR=TIER,CIDR=TIER,...", IPv4 or IPv6; a bare address is a full-length prefix. */
static bool parse_tier_map(const char *arg)
{
	char *item, *save = NULL, *eq, *slash, s[1024];
	struct sockaddr_storage ss;
	struct tier_rule *r;
	unsigned long prefix, tier;
	socklen_t len;

	/* A copy: strtok_r writes into its string, and argv is what ps shows. */
	if (strlen(arg) >= sizeof(s))
		return false;
	strcpy(s, arg);
	for (item = strtok_r(s, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (B.nrules == TIER_MAP_MAX)
			return false;
		eq = strchr(item, '=');
		if (!eq || !demo_parse_ulong(eq + 1, 0, 255, &tier))
			return false;
		*eq = '\0';
		slash = strchr(item, '/');
		if (slash)
			*slash = '\0';
		if (!demo_parse_ip(item, &ss, &len))
			return false;
		r = &B.rules[B.nrules++];
		r->family = ss.ss_family;
		if (r->family == AF_INET)
			memcpy(r->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		else
			memcpy(r->addr, ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, 16);
		if (!slash)
			prefix = r->family == AF_INET ? 32 : 128;
		else if (!demo_parse_ulong(slash + 1, 0, r->family == AF_INET ? 32 : 128, &prefix))
			return false;
		r->prefix = (unsigned int)prefix;
		r->tier = (unsigned int)tier;
	}
	return B.nrules > 0;
}

/* Under db_lock, before in_use or waiting changes: adds their value since acc_since. */
static void pool_advance(uint64_t now)
{
	if (now > B.acc_since) {
		B.in_use_ns += (uint64_t)(B.db_pool - B.nfree) * (now - B.acc_since);
		B.waiting_ns += (uint64_t)B.waiting * (now - B.acc_since);
		B.acc_since = now;
	}
}

/*
 * Whether a request of tier that would queue for the pool is refused now: with the
 * probability the data plane refuses new flows of the tier (see the header). An mmap read, no
 * syscall; fails open (never refused) when the daemon is down or does not know us.
 */
static bool queued_request_shed(unsigned int tier, uint32_t *retry_s)
{
	static __thread unsigned int seed; /* per worker thread: rand_r needs no lock */
	struct spw_shed_state st;

	if (!B.c || B.shed_check == SHED_OFF)
		return false;
	spw_client_shed_state(B.c, B.service, tier, &st);
	if (!seed)
		seed = (unsigned int)demo_now_ns() | 1;
	if (!st.shed || (unsigned int)rand_r(&seed) % 1000 < st.admitted_permille)
		return false;
	*retry_s = st.retry_after_s ? st.retry_after_s : 1;
	return true;
}

/* Under db_lock: hands connection i to the next waiter. */
static void db_put_locked(unsigned int i)
{
	pool_advance(demo_now_ns());
	B.free_idx[B.nfree++] = i;
	pthread_cond_signal(&B.db_free);
}

/*
 * A free DB connection, waiting for one; its index, or -1 when the request is shed instead
 * (queued_request_shed(), checked before waiting and again after; *retry_s set).
 */
static int db_take(unsigned int worker, unsigned int tier, uint32_t *retry_s)
{
	uint64_t t0 = demo_now_ns(), waited, now;
	bool waited_for_one = false;
	unsigned int i;

	pthread_mutex_lock(&B.db_lock);
	if (!B.nfree) {
		if (queued_request_shed(tier, retry_s)) {
			pthread_mutex_unlock(&B.db_lock);
			return -1;
		}
		pool_advance(demo_now_ns());
		B.waiting++;
		B.wait_since[worker] = t0;
		while (!B.nfree)
			pthread_cond_wait(&B.db_free, &B.db_lock);
		pool_advance(demo_now_ns());
		B.waiting--;
		B.wait_since[worker] = 0;
		waited_for_one = true;
	}
	now = demo_now_ns();
	pool_advance(now);
	i = B.free_idx[--B.nfree];
	waited = now - t0;
	if (waited > B.max_wait_ns)
		B.max_wait_ns = waited;
	/* The level may have fallen while it waited: the connection goes to the next waiter. */
	if (waited_for_one && queued_request_shed(tier, retry_s)) {
		db_put_locked(i);
		pthread_mutex_unlock(&B.db_lock);
		return -1;
	}
	pthread_mutex_unlock(&B.db_lock);
	return (int)i;
}

static void db_give(unsigned int i)
{
	pthread_mutex_lock(&B.db_lock);
	db_put_locked(i);
	pthread_mutex_unlock(&B.db_lock);
}

enum work_result { WORK_OK, WORK_DB_ERROR, WORK_SHED };

/* "D0,D1,...": the DSCP (0..63) of each tier's calls, tier 0 first. */
static bool parse_dscp_list(const char *arg)
{
	char s[128], *item, *save = NULL;
	unsigned long v;
	unsigned int t = 0;

	if (strlen(arg) >= sizeof(s))
		return false;
	strcpy(s, arg);
	for (item = strtok_r(s, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (t == CALL_TIERS || !demo_parse_ulong(item, 0, 63, &v))
			return false;
		B.dscp[t++] = (int)v;
	}
	return t > 0;
}

/*
 * One call to the upstream on a new connection, blocking, bounded by --upstream-timeout-ms
 * (connect, and each send and receive). The upstream closes after its answer (Connection:
 * close), so this side reads to EOF and keeps no TIME_WAIT.
 */
static enum call_result call_upstream(unsigned int tier)
{
	struct timeval tv = {.tv_sec = (time_t)(B.upstream_timeout_ms / 1000),
			     .tv_usec = (suseconds_t)(B.upstream_timeout_ms % 1000) * 1000};
	enum call_result res = CALL_FAILED;
	char buf[HEAD_MAX + 1];
	size_t have = 0;
	ssize_t n;
	int fd, tos, one = 1, code;

	fd = socket(B.upstream.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CALL_FAILED;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (tier < CALL_TIERS && B.dscp[tier] >= 0) {
		/* The DSCP is the upper 6 bits of the TOS / traffic class; ECN stays 0. */
		tos = B.dscp[tier] << 2;
		if (B.upstream.ss_family == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
		else
			setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	}
	if (connect(fd, (struct sockaddr *)&B.upstream, B.upstream_len)) {
		/* A blocking connect past SO_SNDTIMEO fails with EINPROGRESS. */
		res = errno == ECONNREFUSED			   ? CALL_REFUSED
		      : errno == EINPROGRESS || errno == ETIMEDOUT ? CALL_TIMEOUT
								   : CALL_FAILED;
		goto out;
	}
	/* X-Tier: the next hop's app learns the tier its data plane takes from the DSCP. */
	n = snprintf(buf, sizeof(buf),
		     "GET /work HTTP/1.1\r\nHost: upstream\r\nConnection: close\r\n"
		     "X-Tier: %u\r\n\r\n",
		     tier);
	if (!send_all(fd, buf, (size_t)n))
		goto out;
	while (have < HEAD_MAX) {
		n = recv(fd, buf + have, HEAD_MAX - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			res = CALL_TIMEOUT;
			goto out;
		}
		if (n < 0 && errno == ECONNRESET) {
			res = CALL_REFUSED;
			goto out;
		}
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &code) == 1 && code == 200)
		res = CALL_OK;
out:
	close(fd);
	return res;
}

/* The unit of work: hold a DB connection for the query's time, unless shed while queued. */
static enum work_result do_work(unsigned int worker, unsigned int tier, uint32_t *retry_s)
{
	static atomic_bool warned;
	char sql[64];
	int i;
	PGconn *conn;
	PGresult *res;
	bool ok;

	if (B.front) {
		enum call_result r = call_upstream(tier);

		atomic_fetch_add(&B.calls[tier < CALL_TIERS ? tier : CALL_TIERS - 1][r], 1);
		*retry_s = 1;
		return r == CALL_OK ? WORK_OK : WORK_SHED;
	}
	i = db_take(worker, tier, retry_s);
	if (i < 0)
		return WORK_SHED;
	conn = B.conns[i];

	snprintf(sql, sizeof(sql), "SELECT pg_sleep(%.6f)",
		 (double)B.query_ms * atomic_load(&B.factor) / 1000.0);
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok && !atomic_exchange(&warned, true))
		fprintf(stderr, "demo-backend: query failed: %s(said once)\n",
			PQerrorMessage(conn));
	PQclear(res);
	/* A dropped DB connection is re-made here, so one restart does not lose a pool slot. */
	if (PQstatus(conn) == CONNECTION_BAD)
		PQreset(conn);
	db_give((unsigned int)i);
	return ok ? WORK_OK : WORK_DB_ERROR;
}

/* The tier of this request: the address rule, else X-Tier, else the default. */
static unsigned int request_tier(int addr_tier, const char *head)
{
	unsigned long t;
	const char *v;
	char num[8];
	size_t len;

	if (addr_tier >= 0)
		return (unsigned int)addr_tier;
	v = demo_http_header(head, "X-Tier", &len);
	if (v && len && len < sizeof(num)) {
		memcpy(num, v, len);
		num[len] = '\0';
		if (demo_parse_ulong(num, 0, 255, &t))
			return (unsigned int)t;
	}
	return (unsigned int)B.default_tier;
}

static bool header_has(const char *head, const char *name, const char *value)
{
	size_t len;
	const char *v = demo_http_header(head, name, &len);

	return v && len == strlen(value) && !strncasecmp(v, value, len);
}

/* 503 with Retry-After for a request of a shed tier; false when the connection must end. */
static bool reply_shed(int fd, uint32_t retry_s, bool keep_alive)
{
	atomic_fetch_add(&B.shed, 1);
	return reply(fd, 503, "Service Unavailable", "overloaded, retry later\n", retry_s,
		     keep_alive) &&
	       keep_alive;
}

/*
 * One request whose head is buf[0..head_len), nth on its connection (0 = first). false when
 * the connection must end after it.
 */
static bool handle(int fd, char *buf, size_t head_len, unsigned long nth, int addr_tier,
		   unsigned int worker)
{
	char method[16], path[256], version[16];
	struct spw_shed_state st;
	bool keep_alive, check;
	uint32_t retry_s = 1;
	unsigned int tier;
	const char *v;
	size_t len;

	buf[head_len - 2] = '\0'; /* keeps the last header's \r\n for demo_http_header() */
	atomic_fetch_add(&B.requests, 1);
	if (sscanf(buf, "%15s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		reply(fd, 400, "Bad Request", "bad request\n", 0, false);
		return false;
	}
	keep_alive = strcmp(version, "HTTP/1.0") ? !header_has(buf, "Connection", "close")
						 : header_has(buf, "Connection", "keep-alive");
	if (atomic_load(&B.stopping))
		keep_alive = false;
	/* No request bodies: skipping them keeps the framing of the next request trivial. */
	if (((v = demo_http_header(buf, "Content-Length", &len)) && strtoul(v, NULL, 10) > 0) ||
	    demo_http_header(buf, "Transfer-Encoding", &len)) {
		reply(fd, 413, "Content Too Large", "no request bodies\n", 0, false);
		return false;
	}
	if (strcmp(method, "GET")) {
		reply(fd, 405, "Method Not Allowed", "GET only\n", 0, keep_alive);
		return keep_alive;
	}
	if (!strcmp(path, "/health"))
		return reply(fd, 200, "OK", "ok\n", 0, keep_alive) && keep_alive;
	if (strcmp(path, "/work"))
		return reply(fd, 404, "Not Found", "no such path\n", 0, keep_alive) && keep_alive;

	tier = request_tier(addr_tier, buf);
	check = B.c && (B.shed_check == SHED_ALL || (B.shed_check == SHED_KEEPALIVE && nth > 0));
	/* An mmap read, no syscall; fails open when the daemon is down or does not know us. */
	if (check) {
		spw_client_shed_state(B.c, B.service, tier, &st);
		if (st.shed)
			return reply_shed(fd, st.retry_after_s ? st.retry_after_s : 1, keep_alive);
	}
	switch (do_work(worker, tier, &retry_s)) {
	case WORK_SHED:
		return reply_shed(fd, retry_s, keep_alive);
	case WORK_DB_ERROR:
		atomic_fetch_add(&B.db_errors, 1);
		return reply(fd, 500, "Internal Server Error", "database error\n", 0, keep_alive) &&
		       keep_alive;
	default:
		atomic_fetch_add(&B.ok, 1);
		return reply(fd, 200, "OK", "done\n", 0, keep_alive) && keep_alive;
	}
}

static void serve(int fd, int addr_tier, unsigned int worker)
{
	struct timeval idle = {.tv_sec = (time_t)B.idle_timeout_s};
	char buf[HEAD_MAX + 1];
	size_t have = 0, head_len;
	unsigned long nth = 0;
	char *eoh;
	ssize_t n;

	/* An idle keep-alive client must not hold a worker for ever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	for (;;) {
		buf[have] = '\0';
		eoh = strstr(buf, "\r\n\r\n");
		if (eoh) {
			head_len = (size_t)(eoh - buf) + 4;
			if (!handle(fd, buf, head_len, nth++, addr_tier, worker))
				return;
			/* A pipelined request read already stays for the next round. */
			memmove(buf, buf + head_len, have - head_len);
			have -= head_len;
			continue;
		}
		if (have == HEAD_MAX) {
			reply(fd, 431, "Request Header Fields Too Large", "head too large\n", 0,
			      false);
			return;
		}
		n = recv(fd, buf + have, HEAD_MAX - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* closed, idle, or shut down by SIGTERM */
		have += (size_t)n;
	}
}

static void *worker_main(void *arg)
{
	unsigned int w = (unsigned int)(uintptr_t)arg;
	struct sockaddr_storage peer;
	socklen_t plen;
	int fd, one = 1;

	while (!atomic_load(&B.stopping)) {
		plen = sizeof(peer);
		fd = accept4(B.lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		if (fd < 0) {
			/* EINVAL after shutdown() at SIGTERM; EMFILE etc.: back off a little. */
			if (errno != EINTR && errno != ECONNABORTED && !atomic_load(&B.stopping))
				usleep(1000);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&B.fd_lock);
		B.cur_fd[w] = fd;
		pthread_mutex_unlock(&B.fd_lock);
		/* stopping is set before the SIGTERM path scans cur_fd: no connection is missed. */
		if (!atomic_load(&B.stopping))
			serve(fd, tier_of_addr(&peer), w);
		pthread_mutex_lock(&B.fd_lock);
		B.cur_fd[w] = -1;
		pthread_mutex_unlock(&B.fd_lock);
		close(fd);
	}
	return NULL;
}

static void *reporter_main(void *arg)
{
	struct timespec period = {.tv_nsec = REPORT_EVERY_NS};
	uint64_t now, wait_ns, in_use, waiting, span, start;
	uint64_t use_ns[IN_USE_PERIODS] = {0}, use_span[IN_USE_PERIODS] = {0}, sum_ns, sum_span;
	bool warned = false;
	unsigned int w, slot = 0, k;
	int err;

	(void)arg;
	pthread_mutex_lock(&B.db_lock);
	start = B.acc_since = demo_now_ns();
	B.in_use_ns = B.waiting_ns = 0;
	pthread_mutex_unlock(&B.db_lock);
	while (!atomic_load(&B.stopping)) {
		nanosleep(&period, NULL);
		now = demo_now_ns();
		pthread_mutex_lock(&B.db_lock);
		/*
		 * in_use and waiting: time-weighted means (in_use over the last IN_USE_PERIODS
		 * periods, waiting over this one), rounded, not the values at this instant. A
		 * snapshot samples one moment of a pool whose occupancy swings with every arrival:
		 * at half the capacity, with Poisson arrivals, the pool is briefly full now and
		 * then, and a snapshot taken then reads 100 % although the pool served everything
		 * without a wait; the controller would shed on that noise. The mean over the period
		 * is the pool's utilisation (Little: arrival rate x hold time), which is what the
		 * pool target (a fill fraction) is about, and it stays at 100 % under a real
		 * overload. The wait is different: wait_ms stays the period's longest wait (current
		 * waiters included), because a queue that forms is what must show at once, and a
		 * mean would dilute a few long waits among many zero ones.
		 */
		pool_advance(now);
		span = now - start;
		if (!span)
			span = 1;
		use_ns[slot] = B.in_use_ns;
		use_span[slot] = span;
		slot = (slot + 1) % IN_USE_PERIODS;
		for (k = 0, sum_ns = sum_span = 0; k < IN_USE_PERIODS; k++) {
			sum_ns += use_ns[k];
			sum_span += use_span[k];
		}
		in_use = (sum_ns + sum_span / 2) / sum_span;
		if (in_use > B.db_pool)
			in_use = B.db_pool;
		waiting = (B.waiting_ns + span / 2) / span;
		B.in_use_ns = B.waiting_ns = 0;
		start = now;
		wait_ns = B.max_wait_ns;
		/* A waiter stuck for the whole period must show, not only finished waits. */
		for (w = 0; w < B.workers; w++)
			if (B.wait_since[w] && now - B.wait_since[w] > wait_ns)
				wait_ns = now - B.wait_since[w];
		B.max_wait_ns = 0;
		pthread_mutex_unlock(&B.db_lock);
		/* Never blocks; a daemon that is down just misses the report. */
		err = spw_client_report_pool(B.c, B.pool_name, in_use, B.db_pool, (int64_t)waiting,
					     (int64_t)(wait_ns / 1000000));
		if (err && !warned)
			fprintf(stderr, "demo-backend: reports are not delivered: %s (said once)\n",
				strerror(-err));
		warned = warned || err;
	}
	return NULL;
}

static int db_connect_all(unsigned long wait_s)
{
	uint64_t give_up = demo_now_ns() + wait_s * 1000000000ULL;
	unsigned int i;

	for (i = 0; i < B.db_pool; i++) {
		for (;;) {
			B.conns[i] = PQconnectdb(B.db);
			if (B.conns[i] && PQstatus(B.conns[i]) == CONNECTION_OK)
				break;
			/* The database may still be starting: try again until --db-wait-s. */
			if (demo_now_ns() > give_up) {
				fprintf(stderr, "demo-backend: cannot connect to the database: %s",
					B.conns[i] ? PQerrorMessage(B.conns[i])
						   : "out of memory\n");
				PQfinish(B.conns[i]);
				B.conns[i] = NULL;
				return -1;
			}
			PQfinish(B.conns[i]);
			usleep(200000);
		}
		B.free_idx[B.nfree++] = i;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: demo-backend --listen IP:PORT --db CONNINFO [options]\n"
	    "       demo-backend --listen IP:PORT --upstream IP:PORT [options]\n"
	    "  --listen IP:PORT        address to serve on ([IPv6]:PORT for IPv6)\n"
	    "  --workers N             worker threads (default 32)\n"
	    "  --db-pool M             DB connections (default 8)\n"
	    "  --db CONNINFO           libpq connection string\n"
	    "  --db-wait-s S           keep trying to connect to the DB this long (default 10)\n"
	    "  --query-ms X            pg_sleep per request, ms (default 10; x3 after SIGUSR1)\n"
	    "  --service NAME          spillway service of the shed checks (default demo)\n"
	    "  --pool-name NAME        pool name in reports (default db)\n"
	    "  --report-socket PATH    spillway's report socket (default %s)\n"
	    "  --state-dir DIR         spillway's state folder (default %s)\n"
	    "  --no-report             send no pool reports\n"
	    "  --shed-check MODE       keepalive (default): requests after the first on a\n"
	    "                          connection, and requests that would wait for the pool;\n"
	    "                          all: every request; off: never\n"
	    "  --tier-map CIDR=T,...   client networks to tiers (longest prefix wins)\n"
	    "  --default-tier N        tier without a map match or X-Tier header (default 0)\n"
	    "  --backlog B             listen backlog (default 128)\n"
	    "  --idle-timeout-s S      close idle keep-alive connections after S s (default 5)\n"
	    "  --upstream IP:PORT      front mode: /work calls GET /work there instead of the DB\n"
	    "  --upstream-timeout-ms MS  the call's connect, send and receive bound (default "
	    "1000)\n"
	    "  --upstream-dscp D0,D1,...  DSCP (0..63) of each tier's calls, tier 0 first\n"
	    "Signals: SIGUSR1 DB 3x slower, SIGUSR2 normal, SIGTERM/SIGINT clean exit.\n",
	    SPW_CLIENT_REPORT_SOCKET, SPW_CLIENT_STATE_DIR);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'L'},
	    {"workers", required_argument, NULL, 'w'},
	    {"db-pool", required_argument, NULL, 'm'},
	    {"db", required_argument, NULL, 'D'},
	    {"db-wait-s", required_argument, NULL, 'W'},
	    {"query-ms", required_argument, NULL, 'q'},
	    {"service", required_argument, NULL, 's'},
	    {"pool-name", required_argument, NULL, 'P'},
	    {"report-socket", required_argument, NULL, 'R'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"no-report", no_argument, NULL, 'n'},
	    {"shed-check", required_argument, NULL, 'c'},
	    {"tier-map", required_argument, NULL, 'M'},
	    {"default-tier", required_argument, NULL, 't'},
	    {"backlog", required_argument, NULL, 'b'},
	    {"idle-timeout-s", required_argument, NULL, 'i'},
	    {"upstream", required_argument, NULL, 'U'},
	    {"upstream-timeout-ms", required_argument, NULL, 'u'},
	    {"upstream-dscp", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long db_wait_s = 10;
	pthread_t *threads = NULL, reporter;
	bool have_listen = false, reporting = false;
	int c, one = 1, sig, ret = 1;
	unsigned int i;
	sigset_t set;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			if (!demo_parse_ip_port(optarg, &B.listen_addr, &B.listen_len))
				goto bad;
			B.listen_str = optarg;
			have_listen = true;
			break;
		case 'w':
			if (!demo_parse_ulong(optarg, 1, 4096, &B.workers))
				goto bad;
			break;
		case 'm':
			if (!demo_parse_ulong(optarg, 1, 1024, &B.db_pool))
				goto bad;
			break;
		case 'D':
			B.db = optarg;
			break;
		case 'W':
			if (!demo_parse_ulong(optarg, 0, 3600, &db_wait_s))
				goto bad;
			break;
		case 'q':
			if (!demo_parse_ulong(optarg, 0, 60000, &B.query_ms))
				goto bad;
			break;
		case 's':
			B.service = optarg;
			break;
		case 'P':
			B.pool_name = optarg;
			break;
		case 'R':
			B.report_socket = optarg;
			break;
		case 'S':
			B.state_dir = optarg;
			break;
		case 'n':
			B.no_report = true;
			break;
		case 'c':
			if (!strcmp(optarg, "keepalive"))
				B.shed_check = SHED_KEEPALIVE;
			else if (!strcmp(optarg, "all"))
				B.shed_check = SHED_ALL;
			else if (!strcmp(optarg, "off"))
				B.shed_check = SHED_OFF;
			else
				goto bad;
			break;
		case 'M':
			if (!parse_tier_map(optarg))
				goto bad;
			break;
		case 't':
			if (!demo_parse_ulong(optarg, 0, 255, &B.default_tier))
				goto bad;
			break;
		case 'b':
			if (!demo_parse_ulong(optarg, 1, 65535, &B.backlog))
				goto bad;
			break;
		case 'i':
			if (!demo_parse_ulong(optarg, 1, 3600, &B.idle_timeout_s))
				goto bad;
			break;
		case 'U':
			if (!demo_parse_ip_port(optarg, &B.upstream, &B.upstream_len))
				goto bad;
			B.upstream_str = optarg;
			B.front = true;
			break;
		case 'u':
			if (!demo_parse_ulong(optarg, 1, 600000, &B.upstream_timeout_ms))
				goto bad;
			break;
		case 'd':
			if (!parse_dscp_list(optarg))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || !have_listen || (B.db != NULL) == B.front)
		goto usage;
	if (B.front)
		B.db_pool = 1; /* no DB: the pool's arrays stay allocated, never used */

	/*
	 * Every thread inherits this mask; the main thread takes the signals with sigwait(), so
	 * no handler runs inside a worker holding the pool lock.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	atomic_store(&B.factor, 1);

	B.conns = calloc(B.db_pool, sizeof(*B.conns));
	B.free_idx = calloc(B.db_pool, sizeof(*B.free_idx));
	B.wait_since = calloc(B.workers, sizeof(*B.wait_since));
	B.cur_fd = malloc(B.workers * sizeof(*B.cur_fd));
	threads = calloc(B.workers, sizeof(*threads));
	if (!B.conns || !B.free_idx || !B.wait_since || !B.cur_fd || !threads) {
		fprintf(stderr, "demo-backend: out of memory\n");
		goto out;
	}
	for (i = 0; i < B.workers; i++)
		B.cur_fd[i] = -1;

	/* Shed checks need the client even with --no-report; it fails open without a daemon. */
	B.c = spw_client_open(B.state_dir, B.report_socket);
	if (!B.c) {
		fprintf(stderr, "demo-backend: cannot open the spillway client: %s\n",
			strerror(errno));
		goto out;
	}
	if (!B.front && db_connect_all(db_wait_s))
		goto out;

	B.lfd = socket(B.listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (B.lfd < 0 || setsockopt(B.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(B.lfd, (struct sockaddr *)&B.listen_addr, B.listen_len) ||
	    listen(B.lfd, (int)B.backlog)) {
		fprintf(stderr, "demo-backend: cannot listen on %s: %s\n", B.listen_str,
			strerror(errno));
		goto out;
	}
	for (i = 0; i < B.workers; i++)
		if (pthread_create(&threads[i], NULL, worker_main, (void *)(uintptr_t)i)) {
			fprintf(stderr, "demo-backend: cannot start worker %u\n", i);
			B.workers = i; /* join only those that run */
			atomic_store(&B.stopping, true);
			shutdown(B.lfd, SHUT_RDWR);
			goto join;
		}
	if (!B.no_report && !B.front)
		reporting = !pthread_create(&reporter, NULL, reporter_main, NULL);
	if (B.front)
		printf("demo-backend: listening on %s: %lu workers, front of %s (timeout %lu ms), "
		       "service %s\n",
		       B.listen_str, B.workers, B.upstream_str, B.upstream_timeout_ms, B.service);
	else
		printf("demo-backend: listening on %s: %lu workers, db pool %lu, query %lu ms, "
		       "service %s%s\n",
		       B.listen_str, B.workers, B.db_pool, B.query_ms, B.service,
		       B.no_report ? ", not reporting" : "");
	fflush(stdout);

	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1 || sig == SIGUSR2) {
			atomic_store(&B.factor, sig == SIGUSR1 ? SLOW_FACTOR : 1);
			fprintf(stderr, "demo-backend: DB queries now take %lu ms\n",
				B.query_ms * (unsigned long)atomic_load(&B.factor));
			continue;
		}
		break;
	}
	/*
	 * Clean stop: no new connections (shutdown() wakes the workers blocked in accept()),
	 * requests in progress are answered, then each kept-alive connection ends at its next
	 * read (SHUT_RD makes it return 0).
	 */
	atomic_store(&B.stopping, true);
	shutdown(B.lfd, SHUT_RDWR);
	pthread_mutex_lock(&B.fd_lock);
	for (i = 0; i < B.workers; i++)
		if (B.cur_fd[i] >= 0)
			shutdown(B.cur_fd[i], SHUT_RD);
	pthread_mutex_unlock(&B.fd_lock);
join:
	for (i = 0; i < B.workers; i++)
		pthread_join(threads[i], NULL);
	if (reporting)
		pthread_join(reporter, NULL);
	fprintf(stderr,
		"demo-backend: exiting: %" PRIu64 " requests, %" PRIu64 " ok, %" PRIu64
		" shed (503), %" PRIu64 " DB errors\n",
		(uint64_t)atomic_load(&B.requests), (uint64_t)atomic_load(&B.ok),
		(uint64_t)atomic_load(&B.shed), (uint64_t)atomic_load(&B.db_errors));
	for (i = 0; B.front && i < CALL_TIERS; i++) {
		uint64_t n[CALL_RESULTS], sum = 0;
		unsigned int k;

		for (k = 0; k < CALL_RESULTS; k++)
			sum += n[k] = atomic_load(&B.calls[i][k]);
		if (!sum)
			continue;
		fprintf(stderr, "demo-backend: calls tier=%u", i);
		for (k = 0; k < CALL_RESULTS; k++)
			fprintf(stderr, " %s=%" PRIu64, call_names[k], n[k]);
		fputc('\n', stderr);
	}
	ret = 0;
out:
	if (B.lfd >= 0)
		close(B.lfd);
	for (i = 0; B.conns && i < B.db_pool; i++)
		PQfinish(B.conns[i]);
	if (B.c)
		spw_client_close(B.c);
	free(B.conns);
	free(B.free_idx);
	free(B.wait_since);
	free(B.cur_fd);
	free(threads);
	return ret;
bad:
	for (const struct option *o = opts; o->name; o++)
		if (o->val == c)
			fprintf(stderr, "demo-backend: bad value '%s' for --%s\n", optarg, o->name);
usage:
	usage(stderr);
	return 2;
}
