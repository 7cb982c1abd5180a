// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * loadgen: an open-loop HTTP load generator for one tier of the overload demo.
 *
 * Open loop: requests start at Poisson arrival times drawn from a seeded PRNG, whatever the
 * server does, so an overloaded server sees the load grow instead of the clients politely
 * waiting (a closed loop hides overload: see "coordinated omission"). Each request is a new
 * TCP connection, bound to --source so the data plane classifies it by source address, and
 * the whole run is one thread with non-blocking sockets and epoll, so thousands can be in
 * flight at once.
 *
 * Outcomes: ok (2xx), refused (the connect got ECONNREFUSED: an RST, what spillway's reject
 * action sends), timeout (connect or response), http_5xx, and errors (anything else, by kind).
 * Latency of ok requests is measured from the scheduled start, so when the generator itself
 * falls behind, that shows in the latency too; how far behind it fell is reported apart
 * (behind, max_lag_ms) so a reader can tell a slow server from a slow client.
 *
 * --retries N makes it a naive client: a request refused (ECONNREFUSED) or answered 5xx is
 * tried again at once on a new connection, up to N more times, and only its last outcome is
 * counted (its latency still from the first scheduled start). offered counts the requests
 * the client meant to send, attempts every connection it opened: their ratio is the retry
 * amplification the client causes.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <jansson.h>
#include "demo_util.h"

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC  1000000000ULL
/* A request started later than this after its scheduled time counts as "behind". */
#define BEHIND_NS (10 * NSEC_PER_MSEC)
/* A response head larger than this is an error: the demo backend's heads are ~100 bytes. */
#define HEAD_MAX 2048
/* epoll events taken per wakeup; more just wait for the next round. */
#define EVENTS_MAX 1024
/*
 * Latency histogram: log-linear over microseconds. Below 2^SUB_BITS one bucket per us, then
 * 2^SUB_BITS buckets per power of two, so a bucket is at most 1/32 (3 %) of its value wide.
 * Values are capped at 2^LAT_MAX_BITS us (134 s), far above any timeout.
 */
#define SUB_BITS     5
#define SUB_COUNT    (1U << SUB_BITS)
#define LAT_MAX_BITS 27
#define HIST_BUCKETS ((LAT_MAX_BITS - SUB_BITS + 1) * SUB_COUNT)

enum outcome { OUT_OK, OUT_REFUSED, OUT_TIMEOUT, OUT_5XX, OUT_ERROR, OUT_COUNT };

/* Error kinds beyond errno values: they index err_kinds[] after the errno range. */
#define ERRNO_MAX	 160
#define ERR_EOF		 (ERRNO_MAX + 0) /* closed before a complete response */
#define ERR_BAD_RESPONSE (ERRNO_MAX + 1) /* not an HTTP/1.x status line, or head too large */
#define ERR_HTTP_OTHER	 (ERRNO_MAX + 2) /* a status that is neither 2xx nor 5xx */
#define ERR_KINDS	 (ERRNO_MAX + 3)

struct hist {
	uint64_t n;
	uint64_t b[HIST_BUCKETS];
};

struct counts {
	uint64_t offered;
	uint64_t out[OUT_COUNT];
	struct hist lat;
};

enum req_state { RS_CONNECTING, RS_SENDING, RS_READING };

struct req {
	int fd;
	enum req_state state;
	uint64_t sched_ns;    /* when it should have started: latency counts from here */
	uint64_t deadline_ns; /* of the phase it is in (connect or response) */
	struct req *prev, *next;
	size_t sent;
	size_t have; /* bytes of the head in buf */
	bool head_done;
	int status;
	long long body_left;  /* -1: no Content-Length, read to EOF */
	unsigned int attempt; /* 0: the first try, then each immediate retry */
	char buf[HEAD_MAX + 1];
};

/*
 * Requests waiting on a deadline. Every request in a list got the same timeout when it
 * entered it, and entered in time order, so each list is sorted by deadline: the head is the
 * next to expire and removal is O(1). No heap needed.
 */
struct req_list {
	struct req *head, *tail;
};

/* --source given this many times at most. */
#define SOURCES_MAX 64

static struct {
	/* options */
	struct sockaddr_storage target, sources[SOURCES_MAX];
	socklen_t target_len, source_len[SOURCES_MAX];
	unsigned int nsources, next_source; /* connections take the sources in turn */
	const char *target_str;
	double rate;
	unsigned long duration_s;
	double start_at; /* --start-at: wall-clock seconds of the first arrival; 0 = at once */
	unsigned long tier;
	bool tier_given;
	const char *path;
	uint64_t connect_timeout_ns, timeout_ns;
	const char *json_path;
	bool live;
	unsigned long idle_n;  /* --measure-idle: 0 = load mode */
	unsigned long retries; /* --retries: immediate retries of a refused or 5xx request */
	uint64_t seed;

	/* run state */
	int ep;
	char request[512];
	size_t request_len;
	struct req_list connecting, responding;
	struct req *free_reqs;
	uint64_t inflight;
	uint64_t start_ns;
	double start_unix_s; /* the wall clock at start_ns: when the arrivals began */
	uint64_t behind, max_lag_ns;
	uint64_t attempts, retried; /* connections opened; requests that needed more than one */
	uint64_t unfinished;	    /* in flight when stopped by a signal */
	uint64_t connect_timeouts, response_timeouts; /* the two kinds of timeouts */
	struct counts total;
	struct counts *per_sec; /* by scheduled second: exact ratios once all are done */
	size_t nsec;
	struct counts live_now; /* completions in the current wall second, for --live */
	uint64_t live_offered;
	uint64_t err_kinds[ERR_KINDS];
	uint64_t rng;
} g = {
    .rate = 0,
    .path = "/work",
    .connect_timeout_ns = 1000 * NSEC_PER_MSEC,
    .timeout_ns = 3000 * NSEC_PER_MSEC,
    .ep = -1,
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* splitmix64: tiny, seedable, good enough for arrival times. */
static uint64_t rng_next(void)
{
	uint64_t z = (g.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The seed without --seed: from the tier and the source address. Generators of one tier on
 * several sources (the demo runs 4 per tier) must not share a stream: with one seed their
 * arrivals coincide, the sum is batches of 4 instead of a Poisson process, and at half the
 * capacity those batches filled a pool of 20 for whole 50 ms periods every second or two.
 * The same tier and source still give the same arrivals run after run.
 */
static uint64_t default_seed(void)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	unsigned int k;
	size_t i;

	for (k = 0; k < g.nsources; k++) {
		const unsigned char *b = (const unsigned char *)&g.sources[k];

		for (i = 0; i < g.source_len[k]; i++)
			h = (h ^ b[i]) * 1099511628211ULL;
	}
	return h ^ (1 + g.tier);
}

/* Exponential inter-arrival time of a Poisson process of rate g.rate, in ns. */
static uint64_t next_gap_ns(void)
{
	/* u in (0, 1]: never log(0). */
	double u = ((double)(rng_next() >> 11) + 1.0) / 9007199254740992.0;

	return (uint64_t)(-log(u) / g.rate * 1e9);
}

static unsigned int hist_index(uint64_t us)
{
	unsigned int k;

	if (us < SUB_COUNT)
		return (unsigned int)us;
	if (us >= (1ULL << LAT_MAX_BITS))
		us = (1ULL << LAT_MAX_BITS) - 1;
	k = 63 - (unsigned int)__builtin_clzll(us);
	return (k - SUB_BITS + 1) * SUB_COUNT +
	       (unsigned int)((us >> (k - SUB_BITS)) & (SUB_COUNT - 1));
}

/* Bucket i covers [*lo, *lo + *width) microseconds. */
static void hist_bounds(unsigned int i, uint64_t *lo, uint64_t *width)
{
	unsigned int k;

	if (i < SUB_COUNT) {
		*lo = i;
		*width = 1;
		return;
	}
	k = i / SUB_COUNT + SUB_BITS - 1;
	*width = 1ULL << (k - SUB_BITS);
	*lo = (SUB_COUNT + i % SUB_COUNT) * *width;
}

/* The middle of bucket i, in microseconds. */
static double hist_value(unsigned int i)
{
	uint64_t lo, width;

	hist_bounds(i, &lo, &width);
	return (double)lo + (double)width / 2;
}

/* The non-empty buckets as [from_us, to_us, count] (to exclusive), lowest first. */
static json_t *hist_json(const struct hist *h)
{
	json_t *a = json_array();
	uint64_t lo, width;
	unsigned int i;

	for (i = 0; a && i < HIST_BUCKETS; i++) {
		if (!h->b[i])
			continue;
		hist_bounds(i, &lo, &width);
		json_array_append_new(a, json_pack("[I, I, I]", (json_int_t)lo,
						   (json_int_t)(lo + width), (json_int_t)h->b[i]));
	}
	return a;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist_index(ns / 1000)]++;
	h->n++;
}

/* Percentile q (0..1) in ms; NAN when empty. */
static double hist_pct_ms(const struct hist *h, double q)
{
	uint64_t want, seen = 0;
	unsigned int i;

	if (!h->n)
		return NAN;
	want = (uint64_t)ceil(q * (double)h->n);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return hist_value(i) / 1000.0;
	}
	return hist_value(HIST_BUCKETS - 1) / 1000.0;
}

static void list_push(struct req_list *l, struct req *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static void list_del(struct req_list *l, struct req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
}

static struct req_list *list_of(struct req *r)
{
	return r->state == RS_CONNECTING ? &g.connecting : &g.responding;
}

static struct counts *sec_of(uint64_t sched_ns)
{
	size_t s = (size_t)((sched_ns - g.start_ns) / NSEC_PER_SEC);

	/* per_sec is sized for the whole schedule; idle mode may run past it. */
	return s < g.nsec ? &g.per_sec[s] : NULL;
}

static void count(struct counts *c, enum outcome o, uint64_t lat_ns)
{
	c->out[o]++;
	if (o == OUT_OK)
		hist_add(&c->lat, lat_ns);
}

/*
 * The end of a request. abort: close with an RST (SO_LINGER 0) instead of a FIN, so this
 * side keeps no TIME_WAIT: at thousands of connections per second from one source address,
 * TIME_WAIT would exhaust the ephemeral ports within a minute.
 */
static void start_attempt(uint64_t sched_ns, uint64_t now, unsigned int attempt);

static void finish(struct req *r, enum outcome o, int kind, bool abort)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	uint64_t now = demo_now_ns(), lat = now - r->sched_ns;
	struct counts *s = sec_of(r->sched_ns);
	unsigned int attempt = r->attempt;

	list_del(list_of(r), r);
	if (abort)
		setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(r->fd);
	if ((o == OUT_REFUSED || o == OUT_5XX) && attempt < g.retries) {
		/* A naive client: the same request again, at once, on a new connection. */
		g.inflight--;
		r->next = g.free_reqs;
		g.free_reqs = r;
		if (!attempt)
			g.retried++;
		start_attempt(r->sched_ns, now, attempt + 1);
		return;
	}
	count(&g.total, o, lat);
	count(&g.live_now, o, lat);
	if (s)
		count(s, o, lat);
	if (o == OUT_ERROR && kind >= 0 && kind < ERR_KINDS)
		g.err_kinds[kind]++;
	g.inflight--;
	r->next = g.free_reqs;
	g.free_reqs = r;
}

static void fail_errno(struct req *r, int err)
{
	if (err == ECONNREFUSED)
		finish(r, OUT_REFUSED, 0, false);
	else if (err == ETIMEDOUT)
		finish(r, OUT_TIMEOUT, 0, true);
	else
		finish(r, OUT_ERROR, err < ERRNO_MAX ? err : -1, true);
}

/* A request that fails before it has a socket in the lists. */
static void fail_early(uint64_t sched_ns, int err)
{
	struct counts *s = sec_of(sched_ns);

	g.total.out[OUT_ERROR]++;
	g.live_now.out[OUT_ERROR]++;
	if (s)
		s->out[OUT_ERROR]++;
	if (err > 0 && err < ERRNO_MAX)
		g.err_kinds[err]++;
}

static void start_request(uint64_t sched_ns, uint64_t now)
{
	struct counts *s = sec_of(sched_ns);
	uint64_t lag = now > sched_ns ? now - sched_ns : 0;

	g.total.offered++;
	g.live_offered++;
	if (s)
		s->offered++;
	if (lag > BEHIND_NS)
		g.behind++;
	if (lag > g.max_lag_ns)
		g.max_lag_ns = lag;
	start_attempt(sched_ns, now, 0);
}

/* One connection of a request: its first try (attempt 0) or an immediate retry. */
static void start_attempt(uint64_t sched_ns, uint64_t now, unsigned int attempt)
{
	int one = 1, fd, err;
	struct req *r;
	struct epoll_event ev;

	g.attempts++;
	fd = socket(g.target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail_early(sched_ns, errno);
		return;
	}
	/* The request is one small write: send it at once, not after a delayed-ACK wait. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (g.nsources) {
		unsigned int k = g.next_source++ % g.nsources;

		/*
		 * Without this, bind() reserves a source port for every socket whatever its
		 * destination, capping us at the size of the ephemeral range in flight; with it
		 * the port is chosen at connect(), per destination.
		 */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&g.sources[k], g.source_len[k])) {
			err = errno;
			close(fd);
			fail_early(sched_ns, err);
			return;
		}
	}
	r = g.free_reqs;
	if (r) {
		g.free_reqs = r->next;
	} else {
		r = malloc(sizeof(*r));
		if (!r) {
			close(fd);
			fail_early(sched_ns, ENOMEM);
			return;
		}
	}
	memset(r, 0, offsetof(struct req, buf));
	r->fd = fd;
	r->sched_ns = sched_ns;
	r->attempt = attempt;
	r->state = RS_CONNECTING;
	r->deadline_ns = now + g.connect_timeout_ns;
	r->body_left = -1;
	list_push(&g.connecting, r);
	g.inflight++;

	ev.events = EPOLLOUT;
	ev.data.ptr = r;
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev)) {
		fail_errno(r, errno);
		return;
	}
	/* Usually EINPROGRESS; the result arrives as EPOLLOUT (and SO_ERROR). */
	if (connect(fd, (struct sockaddr *)&g.target, g.target_len) && errno != EINPROGRESS)
		fail_errno(r, errno);
}

/* Parses the head in r->buf once complete; false on a malformed one. */
static bool parse_head(struct req *r, char *eoh)
{
	const char *v;
	char *end;
	size_t len;

	*eoh = '\0';
	if (strncmp(r->buf, "HTTP/1.", 7) || r->have < 12 || r->buf[8] != ' ')
		return false;
	r->status = (int)strtol(r->buf + 9, &end, 10);
	if (end != r->buf + 12 || r->status < 100 || r->status > 599)
		return false;
	/* demo_http_header wants the head's last \r\n kept. */
	eoh[0] = '\r';
	eoh[2] = '\0';
	v = demo_http_header(r->buf, "Content-Length", &len);
	if (v) {
		r->body_left = strtoll(v, &end, 10);
		if (end == v || r->body_left < 0)
			return false;
	}
	r->head_done = true;
	return true;
}

static void complete(struct req *r, bool eof)
{
	if (r->status >= 200 && r->status < 300)
		finish(r, OUT_OK, 0, !eof);
	else if (r->status >= 500)
		finish(r, OUT_5XX, 0, !eof);
	else
		finish(r, OUT_ERROR, ERR_HTTP_OTHER, !eof);
}

static void on_readable(struct req *r)
{
	char scratch[4096], *eoh;
	size_t off;
	ssize_t n;

	for (;;) {
		if (!r->head_done)
			n = recv(r->fd, r->buf + r->have, HEAD_MAX - r->have, 0);
		else
			n = recv(r->fd, scratch, sizeof(scratch), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				fail_errno(r, errno);
			return;
		}
		if (n == 0) {
			/* Without a Content-Length, the body ends at EOF. */
			if (r->head_done && r->body_left < 0)
				complete(r, true);
			else
				finish(r, OUT_ERROR, ERR_EOF, false);
			return;
		}
		if (r->head_done) {
			if (r->body_left >= 0) {
				r->body_left -= n;
				if (r->body_left <= 0) {
					complete(r, false);
					return;
				}
			}
			continue;
		}
		r->have += (size_t)n;
		r->buf[r->have] = '\0';
		eoh = strstr(r->buf, "\r\n\r\n");
		if (!eoh) {
			if (r->have == HEAD_MAX)
				finish(r, OUT_ERROR, ERR_BAD_RESPONSE, true);
			continue;
		}
		off = (size_t)(eoh - r->buf) + 4;
		if (!parse_head(r, eoh)) {
			finish(r, OUT_ERROR, ERR_BAD_RESPONSE, true);
			return;
		}
		if (r->body_left >= 0) {
			r->body_left -= (long long)(r->have - off);
			if (r->body_left <= 0) {
				complete(r, false);
				return;
			}
		}
	}
}

/* Sends what is left of the request; moves on to reading once it is all out. */
static void send_request(struct req *r)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
	ssize_t n;

	while (r->sent < g.request_len) {
		n = send(r->fd, g.request + r->sent, g.request_len - r->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* still EPOLLOUT */
		if (n < 0) {
			fail_errno(r, errno);
			return;
		}
		r->sent += (size_t)n;
	}
	r->state = RS_READING;
	if (epoll_ctl(g.ep, EPOLL_CTL_MOD, r->fd, &ev))
		fail_errno(r, errno);
}

static void on_event(struct req *r, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (r->state == RS_CONNECTING) {
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			fail_errno(r, err);
			return;
		}
		/* Connected: the response timeout starts now. */
		list_del(&g.connecting, r);
		r->state = RS_SENDING;
		r->deadline_ns = demo_now_ns() + g.timeout_ns;
		list_push(&g.responding, r);
		send_request(r);
		return;
	}
	if (r->state == RS_SENDING) {
		if (events & EPOLLERR) {
			getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			fail_errno(r, err ? err : EIO);
			return;
		}
		send_request(r);
		return;
	}
	on_readable(r);
}

static void expire(struct req_list *l, uint64_t now)
{
	while (l->head && l->head->deadline_ns <= now) {
		/* Which timeout says where the request waited: SYN queue or server. */
		if (l == &g.connecting)
			g.connect_timeouts++;
		else
			g.response_timeouts++;
		finish(l->head, OUT_TIMEOUT, 0, true);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void print_live(unsigned long t)
{
	double p99 = hist_pct_ms(&g.live_now.lat, 0.99);

	fprintf(stderr,
		"tier=%lu t=%lu offered=%" PRIu64 " ok=%" PRIu64 " refused=%" PRIu64
		" timeouts=%" PRIu64 " 5xx=%" PRIu64 " errors=%" PRIu64
		" p99_ms=%.1f inflight=%" PRIu64 " behind=%" PRIu64 "\n",
		g.tier, t, g.live_offered, g.live_now.out[OUT_OK], g.live_now.out[OUT_REFUSED],
		g.live_now.out[OUT_TIMEOUT], g.live_now.out[OUT_5XX], g.live_now.out[OUT_ERROR],
		isnan(p99) ? 0.0 : p99, g.inflight, g.behind);
	memset(&g.live_now, 0, sizeof(g.live_now));
	g.live_offered = 0;
}

/* Seconds since the epoch: --start-at is a wall-clock time, shared by every generator. */
static double wall_s(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/*
 * Sleeps until --start-at, so a scenario's phases follow each other without a gap however
 * long each generator took to start: the next phase's generators are started ahead and all
 * begin at the boundary. A time already past starts at once, and says by how much.
 */
static void wait_for_start(void)
{
	struct timespec at = {.tv_sec = (time_t)g.start_at,
			      .tv_nsec = (long)((g.start_at - floor(g.start_at)) * 1e9)};
	double late = wall_s() - g.start_at;

	if (late > 0.05)
		fprintf(stderr, "loadgen: --start-at is %.0f ms past: starting now\n", late * 1e3);
	while (!stop_requested &&
	       clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
		;
}

/*
 * The event loop. Load mode: start every request whose arrival time has come, then sleep
 * until the next arrival, deadline or live tick. Idle mode: one request at a time.
 */
static void run(void)
{
	struct epoll_event evs[EVENTS_MAX];
	uint64_t now, next_ns, end_ns, wake, next_live;
	unsigned long started = 0, live_t = 0;
	struct timespec ts;
	int n, i;

	if (g.start_at > 0 && !g.idle_n)
		wait_for_start();
	now = demo_now_ns();
	g.start_ns = now;
	g.start_unix_s = wall_s();
	next_ns = now;
	end_ns = g.idle_n ? UINT64_MAX : now + g.duration_s * NSEC_PER_SEC;
	if (!g.idle_n)
		next_ns += next_gap_ns();
	next_live = now + NSEC_PER_SEC;
	while (!stop_requested) {
		now = demo_now_ns();
		/* Expire first: the last requests may end here, and the checks below see that. */
		expire(&g.connecting, now);
		expire(&g.responding, now);
		if (g.idle_n) {
			if (!g.inflight && started < g.idle_n) {
				start_request(now, now);
				started++;
			}
			if (!g.inflight && started == g.idle_n)
				break;
		} else {
			while (next_ns <= now && next_ns < end_ns) {
				start_request(next_ns, now);
				next_ns += next_gap_ns();
			}
			if (next_ns >= end_ns && !g.inflight)
				break;
		}
		if (g.live && now >= next_live) {
			print_live(live_t++);
			next_live += NSEC_PER_SEC;
		}

		wake = next_ns < end_ns && !g.idle_n ? next_ns : UINT64_MAX;
		if (g.connecting.head)
			wake = min_u64(wake, g.connecting.head->deadline_ns);
		if (g.responding.head)
			wake = min_u64(wake, g.responding.head->deadline_ns);
		if (g.live)
			wake = min_u64(wake, next_live);
		if (g.idle_n && !g.inflight)
			wake = now;
		if (wake != UINT64_MAX)
			wake = wake > now ? wake - now : 0;
		/* epoll_pwait2: a ns timeout, so arrivals are not rounded to milliseconds. */
		ts.tv_sec = (time_t)(wake / NSEC_PER_SEC);
		ts.tv_nsec = (long)(wake % NSEC_PER_SEC);
		n = epoll_pwait2(g.ep, evs, EVENTS_MAX, wake == UINT64_MAX ? NULL : &ts, NULL);
		if (n < 0)
			continue; /* EINTR: the loop head sees stop_requested */
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
	}
	if (stop_requested) {
		/* Ended early: what is in flight has no outcome; say how much. */
		g.unfinished = g.inflight;
		while (g.connecting.head) {
			close(g.connecting.head->fd);
			list_del(&g.connecting, g.connecting.head);
		}
		while (g.responding.head) {
			close(g.responding.head->fd);
			list_del(&g.responding, g.responding.head);
		}
	}
}

static json_t *ms_or_null(double ms)
{
	return isnan(ms) ? json_null() : json_real(round(ms * 1000.0) / 1000.0);
}

static const char *err_kind_name(unsigned int k)
{
	const char *name;

	switch (k) {
	case ERR_EOF:
		return "eof";
	case ERR_BAD_RESPONSE:
		return "bad_response";
	case ERR_HTTP_OTHER:
		return "http_other";
	}
	name = strerrorname_np((int)k);
	return name ? name : "unknown";
}

static json_t *summary_json(void)
{
	json_t *o, *secs, *kinds;
	size_t s, last = 0;
	unsigned int k;
	struct counts *c;

	o = json_pack(
	    "{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "tier",
	    (json_int_t)g.tier, "rate", g.rate, "duration_s", (json_int_t)g.duration_s, "offered",
	    (json_int_t)g.total.offered, "ok", (json_int_t)g.total.out[OUT_OK], "refused",
	    (json_int_t)g.total.out[OUT_REFUSED], "timeouts", (json_int_t)g.total.out[OUT_TIMEOUT],
	    "http_5xx", (json_int_t)g.total.out[OUT_5XX], "errors",
	    (json_int_t)g.total.out[OUT_ERROR], "behind", (json_int_t)g.behind, "unfinished",
	    (json_int_t)g.unfinished, "max_lag_ms", round((double)g.max_lag_ns / 1e3) / 1e3);
	if (!o)
		return NULL;
	json_object_set_new(o, "p50_ms", ms_or_null(hist_pct_ms(&g.total.lat, 0.50)));
	json_object_set_new(o, "p99_ms", ms_or_null(hist_pct_ms(&g.total.lat, 0.99)));
	/* The whole latency distribution of the ok requests, for any other percentile. */
	json_object_set_new(o, "latency_hist_us", hist_json(&g.total.lat));
	json_object_set_new(o, "target", json_string(g.target_str));
	/* An integer: reals are written to 9 digits here, which would keep whole seconds only. */
	json_object_set_new(o, "start_unix_us", json_integer((json_int_t)(g.start_unix_s * 1e6)));
	json_object_set_new(o, "sources", json_integer((json_int_t)g.nsources));
	json_object_set_new(o, "connect_timeouts", json_integer((json_int_t)g.connect_timeouts));
	json_object_set_new(o, "response_timeouts", json_integer((json_int_t)g.response_timeouts));
	json_object_set_new(o, "retries", json_integer((json_int_t)g.retries));
	json_object_set_new(o, "attempts", json_integer((json_int_t)g.attempts));
	json_object_set_new(o, "retried", json_integer((json_int_t)g.retried));
	kinds = json_object();
	for (k = 0; k < ERR_KINDS; k++)
		if (g.err_kinds[k])
			json_object_set_new(kinds, err_kind_name(k),
					    json_integer((json_int_t)g.err_kinds[k]));
	json_object_set_new(o, "error_kinds", kinds);
	if (g.idle_n)
		return o;
	/* Seconds by scheduled start time; trailing empty seconds are left out. */
	for (s = 0; s < g.nsec; s++)
		if (g.per_sec[s].offered)
			last = s + 1;
	secs = json_array();
	for (s = 0; s < last; s++) {
		c = &g.per_sec[s];
		json_array_append_new(
		    secs,
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "t", (json_int_t)s,
			      "offered", (json_int_t)c->offered, "ok", (json_int_t)c->out[OUT_OK],
			      "refused", (json_int_t)c->out[OUT_REFUSED], "timeouts",
			      (json_int_t)c->out[OUT_TIMEOUT], "http_5xx",
			      (json_int_t)c->out[OUT_5XX], "errors", (json_int_t)c->out[OUT_ERROR],
			      "p99_ms", ms_or_null(hist_pct_ms(&c->lat, 0.99))));
	}
	json_object_set_new(o, "per_second", secs);
	return o;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: loadgen --target IP:PORT --rate R --duration S [--source IP] [options]\n"
	    "       loadgen --target IP:PORT --measure-idle N [--source IP] [options]\n"
	    "  --target IP:PORT          server (IPv4, or [IPv6]:PORT)\n"
	    "  --rate R                  mean requests per second (Poisson arrivals)\n"
	    "  --duration S              seconds of arrivals; in-flight requests then finish\n"
	    "  --start-at T              first arrival at wall-clock time T (seconds since the\n"
	    "                            epoch, fractions allowed); default: at once\n"
	    "  --source IP               bind connections to this source address; given\n"
	    "                            several times (up to 64), connections take them in turn\n"
	    "  --tier N                  label of the output; also sent as X-Tier: N\n"
	    "  --path P                  request path (default /work)\n"
	    "  --connect-timeout-ms MS   connect timeout (default 1000)\n"
	    "  --timeout-ms MS           response timeout, from connect to the last byte\n"
	    "                            (default 3000)\n"
	    "  --seed N                  PRNG seed (default: from the tier and --source)\n"
	    "  --json FILE               write the summary as JSON ('-': stdout)\n"
	    "  --live                    one line per second on stderr\n"
	    "  --measure-idle N          N requests one after another; prints p50/p99\n"
	    "  --retries N               retry a refused or 5xx request at once, up to N times\n"
	    "                            (default 0); only its last outcome is counted\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"target", required_argument, NULL, 'T'},
	    {"rate", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 'd'},
	    {"start-at", required_argument, NULL, 'A'},
	    {"source", required_argument, NULL, 's'},
	    {"tier", required_argument, NULL, 't'},
	    {"path", required_argument, NULL, 'p'},
	    {"connect-timeout-ms", required_argument, NULL, 'C'},
	    {"timeout-ms", required_argument, NULL, 'o'},
	    {"seed", required_argument, NULL, 'S'},
	    {"json", required_argument, NULL, 'j'},
	    {"live", no_argument, NULL, 'l'},
	    {"measure-idle", required_argument, NULL, 'I'},
	    {"retries", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sigaction sa = {.sa_handler = on_stop};
	bool have_target = false, have_rate = false, have_duration = false, seeded = false;
	unsigned int i;
	unsigned long v;
	struct rlimit rl;
	json_t *summary;
	int c, ret = 0;
	double p50, p99;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'T':
			if (!demo_parse_ip_port(optarg, &g.target, &g.target_len))
				goto bad;
			g.target_str = optarg;
			have_target = true;
			break;
		case 'r':
			if (!demo_parse_double(optarg, 0.001, 1e6, &g.rate))
				goto bad;
			have_rate = true;
			break;
		case 'd':
			if (!demo_parse_ulong(optarg, 1, 86400, &g.duration_s))
				goto bad;
			have_duration = true;
			break;
		case 'A':
			/* From 2001 to 2286: a typo, not a moment, outside that. */
			if (!demo_parse_double(optarg, 1e9, 1e10, &g.start_at))
				goto bad;
			break;
		case 's':
			if (g.nsources == SOURCES_MAX) {
				fprintf(stderr, "loadgen: at most %d --source\n", SOURCES_MAX);
				return 2;
			}
			if (!demo_parse_ip(optarg, &g.sources[g.nsources],
					   &g.source_len[g.nsources]))
				goto bad;
			g.nsources++;
			break;
		case 't':
			if (!demo_parse_ulong(optarg, 0, 255, &g.tier))
				goto bad;
			g.tier_given = true;
			break;
		case 'p':
			if (optarg[0] != '/' || strlen(optarg) > 256 || strpbrk(optarg, " \r\n"))
				goto bad;
			g.path = optarg;
			break;
		case 'C':
			if (!demo_parse_ulong(optarg, 1, 600000, &v))
				goto bad;
			g.connect_timeout_ns = v * NSEC_PER_MSEC;
			break;
		case 'o':
			if (!demo_parse_ulong(optarg, 1, 600000, &v))
				goto bad;
			g.timeout_ns = v * NSEC_PER_MSEC;
			break;
		case 'S':
			if (!demo_parse_ulong(optarg, 0, ULONG_MAX, &v))
				goto bad;
			g.seed = v;
			seeded = true;
			break;
		case 'j':
			g.json_path = optarg;
			break;
		case 'l':
			g.live = true;
			break;
		case 'I':
			if (!demo_parse_ulong(optarg, 1, 10000000, &g.idle_n))
				goto bad;
			break;
		case 'R':
			/* More than a handful is no longer a client, it is a flood. */
			if (!demo_parse_ulong(optarg, 0, 10, &g.retries))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || !have_target)
		goto usage;
	if (!g.idle_n && (!have_rate || !have_duration))
		goto usage;
	for (i = 0; i < g.nsources; i++) {
		if (g.sources[i].ss_family != g.target.ss_family) {
			fprintf(stderr,
				"loadgen: --source and --target are of different families\n");
			return 2;
		}
	}
	g.rng = seeded ? g.seed : default_seed();

	/* Thousands of sockets in flight: take every descriptor we are allowed. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Connection: close: one request per connection, as the scenario wants. */
	g.request_len = (size_t)snprintf(g.request, sizeof(g.request),
					 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n",
					 g.path, g.target_str);
	if (g.tier_given)
		g.request_len +=
		    (size_t)snprintf(g.request + g.request_len, sizeof(g.request) - g.request_len,
				     "X-Tier: %lu\r\n", g.tier);
	g.request_len +=
	    (size_t)snprintf(g.request + g.request_len, sizeof(g.request) - g.request_len, "\r\n");

	/* Room for every scheduled second, plus the timeouts' tail. */
	g.nsec = g.idle_n ? 0 : g.duration_s + 1;
	if (g.nsec) {
		g.per_sec = calloc(g.nsec, sizeof(*g.per_sec));
		if (!g.per_sec) {
			fprintf(stderr, "loadgen: out of memory\n");
			return 1;
		}
	}
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0) {
		fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
		return 1;
	}
	/* No SA_RESTART: the signal must interrupt epoll_pwait2. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	run();

	p50 = hist_pct_ms(&g.total.lat, 0.50);
	p99 = hist_pct_ms(&g.total.lat, 0.99);
	if (g.idle_n)
		printf("idle: requests=%" PRIu64 " ok=%" PRIu64 " p50_ms=%.3f p99_ms=%.3f\n",
		       g.total.offered, g.total.out[OUT_OK], p50, p99);
	else
		fprintf(stderr,
			"loadgen: tier=%lu rate=%.1f duration=%lus offered=%" PRIu64 " ok=%" PRIu64
			" refused=%" PRIu64 " timeouts=%" PRIu64 " 5xx=%" PRIu64 " errors=%" PRIu64
			" behind=%" PRIu64 " max_lag_ms=%.1f p50_ms=%.2f p99_ms=%.2f\n",
			g.tier, g.rate, g.duration_s, g.total.offered, g.total.out[OUT_OK],
			g.total.out[OUT_REFUSED], g.total.out[OUT_TIMEOUT], g.total.out[OUT_5XX],
			g.total.out[OUT_ERROR], g.behind, (double)g.max_lag_ns / 1e6, p50, p99);
	if (g.json_path) {
		summary = summary_json();
		if (!summary ||
		    (strcmp(g.json_path, "-")
			 ? json_dump_file(summary, g.json_path,
					  JSON_INDENT(1) | JSON_REAL_PRECISION(9))
			 : json_dumpf(summary, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(9)))) {
			fprintf(stderr, "loadgen: cannot write the JSON summary to %s\n",
				g.json_path);
			ret = 1;
		}
		if (!strcmp(g.json_path, "-"))
			putchar('\n');
		json_decref(summary);
	}
	/* Interrupted runs exit 0 too: the summary of what ran is the point. */
	return ret;
bad:
	for (const struct option *o = opts; o->name; o++)
		if (o->val == c)
			fprintf(stderr, "loadgen: bad value '%s' for --%s\n", optarg, o->name);
usage:
	usage(stderr);
	return 2;
}
