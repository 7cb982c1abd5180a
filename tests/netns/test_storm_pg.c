// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tier-0 connection reservation in front of a real PostgreSQL, against a connection storm.
 *
 * PostgreSQL runs in the server namespace with max_connections 20 and no superuser reserve
 * of its own, listening on the namespace's address; spillwayd attaches XDP (native) to the
 * server's veth with one service for port 5432. Two clients in the client namespace, told
 * apart only by their source address (both log in as the same role, so nothing in PostgreSQL
 * can tell them apart):
 *
 *   critical   the client veth's own address, 198.18.n.1 (libpq, the tier-0 application);
 *   sheddable  a second address on it, 198.18.n.3 (the storm: raw TCP and the protocol's
 *              startup packet, bound to that source).
 *
 * The storm opens connections as fast as it can from STORM_THREADS threads and holds every
 * one it gets; STORM_LEAD_MS later the tier-0 client starts connect-query-disconnect cycles.
 *
 *   reserved  connection_limit 17, reserve {critical: 4}: the storm is refused per SYN
 *             (shed_reserve, an RST from XDP) once the service holds 13 connections, so
 *             PostgreSQL never fills up: every tier-0 cycle succeeds, the first one included,
 *             PostgreSQL refuses nobody, and once tier 0 is done the storm holds exactly its
 *             share (13: not one refused beyond the reserve) and the data plane's count of
 *             the service's connections is back at 13 after hundreds of tier-0 closes;
 *   control   the same storm without the reservation fills all 20 slots: tier 0 is refused
 *             by PostgreSQL ("sorry, too many clients already"), its first connect included.
 *
 * A client that completes the handshake and never sends its startup packet holds a place in
 * the service's count only until syn_timeout (spillway establishes a flow on its first data;
 * see spw_flow_from_server), never the idle timeout: that is the last case, with
 * syn_timeout 2s and a sweep every second.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "spw_dataplane.h"
#include "daemon.h"
#include "netns.h"
#include "pg_front.h"
#include "util.h"

#define SVC_ID	 1 /* the only service in the file */
#define SVC_NAME "pg"
#define PG_PORT	 5432
/* PostgreSQL's slots, all of them open to the clients (superuser_reserved_connections 0). */
#define PG_MAX_CONNECTIONS 20
/* What spillway is told: 3 under max_connections, kept for the test's own unix socket. */
#define CONNECTION_LIMIT 17
#define RESERVE_CRITICAL 4
/* The storm's share: the service's connections below which a sheddable SYN is admitted. */
#define STORM_SHARE (CONNECTION_LIMIT - RESERVE_CRITICAL)

#define TIER_CRITICAL  0
#define TIER_SHEDDABLE 2

/* Storm threads; each holds what it gets, so a few fill PostgreSQL in well under a second. */
#define STORM_THREADS 4
/* More than PostgreSQL can give: every connection the storm could hold has a place. */
#define STORM_MAX 64
/* After a refusal, before the next try: the retry loop of an impatient client. */
#define STORM_PAUSE_US 1000
/* The storm starts this long before tier 0's first connect. */
#define STORM_LEAD_MS 1000
/* A connect, a startup packet or its answer that takes longer has hung. */
#define IO_TIMEOUT_MS 5000

/* Tier-0 cycles: connect, SELECT 1, disconnect; 99.9 % of them leaves one to fail. */
#define TIER0_CYCLES	     1000
#define TIER0_SUCCESS_PERMIL 999
/* The control run needs only to show the refusals. */
#define CONTROL_CYCLES 50
/* PostgreSQL's refusal when every slot is taken (SQLSTATE 53300). */
#define PG_TOO_MANY "too many clients"

/* After tier 0 is done, the storm fills what tier 0 gave back within this long. */
#define REFILL_MS 3000
/* Loading and verifying the BPF objects, and PostgreSQL's start, on a loaded machine. */
#define READY_TIMEOUT_MS 15000

/* The half-open case: a flow without data expires after syn_timeout, read by a sweep. */
#define SYN_TIMEOUT_MS 2000
#define SWEEP_MS       1000
/* syn_timeout, the sweep that finds it (up to one period later), and a slack. */
#define SILENT_EXPIRY_MS (SYN_TIMEOUT_MS + SWEEP_MS + 1500)

/* ---- the storm: raw TCP and the startup packet, from the sheddable address ----------------- */

enum storm_outcome { STORM_HELD, STORM_SHED, STORM_PG_REFUSED, STORM_ERROR };

struct storm {
	const char *ns;
	struct sockaddr_in src, dst;
	bool send_startup; /* false: connect and stay silent (the half-open case) */
	int stop;	   /* __atomic: the threads end their loops */
	pthread_t th[STORM_THREADS];
	int nthreads;
	pthread_mutex_t lock; /* the fields below */
	int fds[STORM_MAX], held, peak;
	long attempts, shed, pg_refused, errors;
	int last_errno;
	char pg_msg[200];
};

static int recv_all(int fd, void *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, MSG_WAITALL);

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -ECONNRESET;
}

/* The protocol 3.0 startup packet: length, version, then name/value pairs and a 0. */
static size_t startup_packet(char *buf, size_t size)
{
	static const char params[] = "user\0postgres\0database\0postgres\0"
				     "application_name\0storm\0";
	uint32_t len = (uint32_t)(8 + sizeof(params)), v;

	if (len > size)
		return 0;
	v = htonl(len);
	memcpy(buf, &v, 4);
	v = htonl(3u << 16);
	memcpy(buf + 4, &v, 4);
	memcpy(buf + 8, params, sizeof(params)); /* its own NUL ends the list */
	return len;
}

/*
 * Reads the server's answer to the startup packet up to ReadyForQuery ('Z': the session is
 * PostgreSQL's, a slot taken) or an ErrorResponse ('E', whose message goes to msg).
 */
static enum storm_outcome read_answer(int fd, char *msg, size_t msg_len, int *err)
{
	char head[5], body[1024];
	uint32_t len;

	for (;;) {
		*err = recv_all(fd, head, sizeof(head));
		if (*err)
			return STORM_ERROR;
		memcpy(&len, head + 1, 4);
		len = ntohl(len);
		if (len < 4 || len - 4 > sizeof(body) - 1) {
			*err = -EPROTO;
			return STORM_ERROR;
		}
		*err = recv_all(fd, body, len - 4);
		if (*err)
			return STORM_ERROR;
		body[len - 4] = '\0';
		if (head[0] == 'Z')
			return STORM_HELD;
		if (head[0] == 'E') {
			/* Fields: a type byte, a string; 'M' is the message. */
			for (char *p = body; *p && p < body + len - 4; p += strlen(p + 1) + 2)
				if (*p == 'M')
					snprintf(msg, msg_len, "%s", p + 1);
			return STORM_PG_REFUSED;
		}
		if (head[0] == 'R' && len == 8 && memcmp(body, "\0\0\0\0", 4)) {
			*err = -EACCES; /* trust authentication asks for nothing */
			return STORM_ERROR;
		}
	}
}

/* One storm connection: STORM_HELD leaves it open in *fd. */
static enum storm_outcome storm_connect(struct storm *s, int *fd, char *msg, size_t msg_len,
					int *err)
{
	struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
	char pkt[128];
	size_t len = startup_packet(pkt, sizeof(pkt));
	enum storm_outcome o;

	*err = 0;
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0) {
		*err = -errno;
		return STORM_ERROR;
	}
	/* A blocking connect gives up after SO_SNDTIMEO. */
	setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(*fd, (struct sockaddr *)&s->src, sizeof(s->src)) ||
	    connect(*fd, (struct sockaddr *)&s->dst, sizeof(s->dst))) {
		*err = -errno;
		o = *err == -ECONNREFUSED ? STORM_SHED : STORM_ERROR;
	} else if (!s->send_startup) {
		return STORM_HELD;
	} else if (send(*fd, pkt, len, MSG_NOSIGNAL) != (ssize_t)len) {
		*err = -errno;
		o = STORM_ERROR;
	} else {
		o = read_answer(*fd, msg, msg_len, err);
		if (o == STORM_HELD)
			return o;
	}
	close(*fd);
	*fd = -1;
	return o;
}

static bool storm_stopping(struct storm *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

/* A storm thread, in the client's namespace: connect, hold, again, until told to stop. */
static int storm_loop(void *arg)
{
	struct storm *s = arg;
	char msg[sizeof(s->pg_msg)];
	enum storm_outcome o;
	int fd, err;

	while (!storm_stopping(s)) {
		msg[0] = '\0';
		o = storm_connect(s, &fd, msg, sizeof(msg), &err);
		pthread_mutex_lock(&s->lock);
		s->attempts++;
		if (o == STORM_HELD && s->held < STORM_MAX) {
			s->fds[s->held++] = fd;
			if (s->held > s->peak)
				s->peak = s->held;
		} else if (o == STORM_HELD) {
			close(fd);
		} else if (o == STORM_SHED) {
			s->shed++;
		} else if (o == STORM_PG_REFUSED) {
			s->pg_refused++;
			snprintf(s->pg_msg, sizeof(s->pg_msg), "%s", msg);
		} else {
			s->errors++;
			s->last_errno = -err;
		}
		pthread_mutex_unlock(&s->lock);
		if (o != STORM_HELD)
			usleep(STORM_PAUSE_US);
	}
	return 0;
}

static void *storm_thread(void *arg)
{
	struct storm *s = arg;

	if (spw_netns_run(s->ns, storm_loop, s) < 0)
		fprintf(stderr, "storm: cannot enter %s\n", s->ns);
	return NULL;
}

static int storm_held(struct storm *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->held;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Stops the threads; the connections stay held until storm_release(). Idempotent. */
static void storm_stop(struct storm *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	for (; s->nthreads > 0; s->nthreads--)
		pthread_join(s->th[s->nthreads - 1], NULL);
}

static void storm_release(struct storm *s)
{
	storm_stop(s);
	for (; s->held > 0; s->held--)
		close(s->fds[s->held - 1]);
}

/* ---- tier 0: libpq, from the client veth's own address ---------------------------------- */

struct tier0 {
	char conninfo[256];
	int cycles, ok, failed, too_many;
	bool first_ok;
	char first_err[256];
	double max_ms;
};

/* Connect, SELECT 1, disconnect: true when all of it worked, else the error in err. */
static bool tier0_cycle(const char *conninfo, char *err, size_t len)
{
	PGconn *db = PQconnectdb(conninfo);
	PGresult *r = NULL;
	bool ok = PQstatus(db) == CONNECTION_OK;

	if (ok) {
		r = PQexec(db, "SELECT 1");
		ok = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "1");
	}
	if (!ok)
		snprintf(err, len, "%s", PQerrorMessage(db));
	PQclear(r);
	PQfinish(db);
	return ok;
}

/* In the client's namespace: libpq connects from there, by the routing's own source. */
static int tier0_run(void *arg)
{
	struct tier0 *t = arg;
	char err[256];

	for (int i = 0; i < t->cycles; i++) {
		double t0 = spw_now_ms(), ms;
		bool ok;

		err[0] = '\0';
		ok = tier0_cycle(t->conninfo, err, sizeof(err));
		ms = spw_now_ms() - t0;
		if (ms > t->max_ms)
			t->max_ms = ms;
		if (!i) {
			t->first_ok = ok;
			snprintf(t->first_err, sizeof(t->first_err), "%s", err);
		}
		if (ok) {
			t->ok++;
		} else {
			t->failed++;
			t->too_many += !!strstr(err, PG_TOO_MANY);
		}
	}
	return 0;
}

/* ---- the scenario ----------------------------------------------------------------------- */

struct test_ctx {
	struct pg_front front; /* its sheddable address is the storm's source */
	struct storm storm;
};

_Static_assert(offsetof(struct test_ctx, front) == 0, "pg_front_group_setup() makes the context");

/* The config: classification by source, the service, and reservation when reserve is set. */
static void make_config(struct test_ctx *c, char *buf, size_t len, bool reserve)
{
	char reservation[128];
	int n;

	snprintf(reservation, sizeof(reservation),
		 "    connection_limit: %d\n    reserve: {critical: %d}\n", CONNECTION_LIMIT,
		 RESERVE_CRITICAL);
	n = snprintf(buf, len,
		     "# spillwayd under test (tests/netns/test_storm_pg.c)\n"
		     "interfaces: [{name: %s, mode: xdp}]\n"
		     "tiers: [critical, standard, sheddable]\n"
		     "classify:\n"
		     "  - {cidr: \"%s/32\", tier: critical}\n"
		     "  - {cidr: \"%s/32\", tier: sheddable}\n"
		     "services:\n"
		     "  - name: " SVC_NAME "\n"
		     "    protocol: tcp\n"
		     "    port: %d\n"
		     "    default_tier: standard\n"
		     "    shed_action: {standard: reject, sheddable: reject}\n"
		     "%s"
		     "controller: {tick: 100ms, lease: 3s, syn_timeout: %dms, "
		     "sweep_every: %dms}\n",
		     c->front.topo.end[SPW_TOPO_SRV].ifname, c->front.topo.end[SPW_TOPO_CLI].v4_str,
		     c->front.shed_addr, PG_PORT, reserve ? reservation : "", SYN_TIMEOUT_MS,
		     SWEEP_MS);

	assert_true(n > 0 && (size_t)n < len);
}

/* PostgreSQL with every slot open to clients. */
static void build(struct test_ctx *c, bool reserve)
{
	char cfg[4096], opts[128];

	snprintf(opts, sizeof(opts), "-c max_connections=%d -c superuser_reserved_connections=0",
		 PG_MAX_CONNECTIONS);
	pg_front_start(&c->front, PG_PORT, opts);
	make_config(c, cfg, sizeof(cfg), reserve);
	assert_int_equal(spw_daemon_launch(&c->front.d, cfg, SVC_ID, READY_TIMEOUT_MS), 0);
}

static void storm_start(struct test_ctx *c, bool send_startup, int threads)
{
	struct storm *s = &c->storm;

	s->ns = c->front.topo.end[SPW_TOPO_CLI].ns;
	s->send_startup = send_startup;
	s->src.sin_family = s->dst.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, c->front.shed_addr, &s->src.sin_addr), 1);
	s->dst.sin_addr = c->front.topo.end[SPW_TOPO_SRV].v4;
	s->dst.sin_port = htons(PG_PORT);
	for (; s->nthreads < threads; s->nthreads++)
		assert_int_equal(pthread_create(&s->th[s->nthreads], NULL, storm_thread, s), 0);
}

/* The storm from its start, then tier-0 cycles; the storm keeps going until storm_stop(). */
static void storm_then_tier0(struct test_ctx *c, struct tier0 *t, int cycles)
{
	double t0;

	memset(t, 0, sizeof(*t));
	t->cycles = cycles;
	snprintf(t->conninfo, sizeof(t->conninfo),
		 "hostaddr=%s port=%d user=postgres dbname=postgres application_name=tier0 "
		 "sslmode=disable gssencmode=disable connect_timeout=%d",
		 c->front.topo.end[SPW_TOPO_SRV].v4_str, PG_PORT, IO_TIMEOUT_MS / 1000);
	storm_start(c, true, STORM_THREADS);
	spw_sleep_ms(STORM_LEAD_MS);
	printf("storm: %d connections held after %d ms (%ld attempts)\n", storm_held(&c->storm),
	       STORM_LEAD_MS, c->storm.attempts);
	t0 = spw_now_ms();
	assert_int_equal(spw_netns_run(c->front.topo.end[SPW_TOPO_CLI].ns, tier0_run, t), 0);
	printf("tier 0: %d of %d cycles ok (first %s), %d refused with '" PG_TOO_MANY
	       "', slowest %.1f ms, %.1f s in all\n",
	       t->ok, t->cycles, t->first_ok ? "ok" : "failed", t->too_many, t->max_ms,
	       (spw_now_ms() - t0) / 1000);
	if (t->failed)
		printf("tier 0's first error: %s\n", t->first_err[0] ? t->first_err : "(none)");
}

static void storm_report(struct storm *s, double ms)
{
	pthread_mutex_lock(&s->lock);
	printf("storm: %ld attempts in %.1f s (%.0f/s): %d held (peak %d), %ld shed by spillway, "
	       "%ld refused by PostgreSQL%s%s%s, %ld other errors (last: %s)\n",
	       s->attempts, ms / 1000, s->attempts * 1000.0 / ms, s->held, s->peak, s->shed,
	       s->pg_refused, s->pg_refused ? " ('" : "", s->pg_msg, s->pg_refused ? "')" : "",
	       s->errors, s->errors ? strerror(s->last_errno) : "none");
	pthread_mutex_unlock(&s->lock);
}

static double metric(struct test_ctx *c, const char *series)
{
	double v = -1;

	if (spw_daemon_metric(&c->front.d, series, &v))
		fail_msg("%s is not in /metrics", series);
	return v;
}

static uint64_t count(struct test_ctx *c, uint32_t tier, enum spw_reason r)
{
	struct spw_count n;

	assert_int_equal(spw_dp_counter_read(c->front.d.dp, SVC_ID, tier, r, &n), 0);
	return n.packets;
}

/* The storm's connections as PostgreSQL lists them (over the unix socket, outside spillway). */
static long pg_storm_sessions(struct test_ctx *c)
{
	char conninfo[160];
	PGconn *db;
	PGresult *r;
	long n = -1;

	spw_pg_conninfo(&c->front.pg, conninfo, sizeof(conninfo));
	db = PQconnectdb(conninfo);
	if (PQstatus(db) == CONNECTION_OK) {
		r = PQexec(db, "SELECT count(*) FROM pg_stat_activity "
			       "WHERE application_name = 'storm'");
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	} else {
		fprintf(stderr, "test: cannot reach PostgreSQL: %s", PQerrorMessage(db));
	}
	PQfinish(db);
	return n;
}

/* Waits up to ms for the storm to hold n connections. */
static bool storm_reaches(struct storm *s, int n, int ms)
{
	double until = spw_now_ms() + ms;

	while (storm_held(s) < n && spw_now_ms() < until)
		spw_sleep_ms(10);
	return storm_held(s) >= n;
}

static void test_reserve_keeps_tier0(void **state)
{
	struct test_ctx *c = *state;
	struct tier0 t;
	double start = spw_now_ms(), shed, conns;

	build(c, true);
	assert_int_equal(metric(c, "spillway_connection_limit{service=\"" SVC_NAME "\"}"),
			 CONNECTION_LIMIT);
	storm_then_tier0(c, &t, TIER0_CYCLES);
	/* Tier 0 is done; the storm fills what tier 0 gave back, and no more. */
	assert_true(storm_reaches(&c->storm, STORM_SHARE, REFILL_MS));
	spw_sleep_ms(300);
	storm_stop(&c->storm);
	storm_report(&c->storm, spw_now_ms() - start);

	shed = metric(c, "spillway_new_flows_total{service=\"" SVC_NAME
			 "\",tier=\"sheddable\",decision=\"shed_reserve\"}");
	conns = metric(c, "spillway_service_connections{service=\"" SVC_NAME "\"}");
	printf("data plane: %.0f sheddable SYNs shed_reserve (%" PRIu64 " in the counters), "
	       "tier 0 shed_reserve %" PRIu64 ", service connections %.0f, PostgreSQL lists %ld "
	       "storm sessions\n",
	       shed, count(c, TIER_SHEDDABLE, SPW_REASON_SHED_RESERVE),
	       count(c, TIER_CRITICAL, SPW_REASON_SHED_RESERVE), conns, pg_storm_sessions(c));

	assert_true(t.first_ok);
	assert_true(t.ok * 1000 >= t.cycles * TIER0_SUCCESS_PERMIL);
	assert_int_equal(c->storm.pg_refused, 0);
	assert_int_equal(c->storm.errors, 0);
	/* Its share exactly: never more, and all of it once tier 0 holds nothing. */
	assert_int_equal(c->storm.peak, STORM_SHARE);
	assert_int_equal(c->storm.held, STORM_SHARE);
	assert_int_equal(pg_storm_sessions(c), STORM_SHARE);
	assert_true(shed > 0);
	assert_true(count(c, TIER_SHEDDABLE, SPW_REASON_SHED_RESERVE) > 0);
	assert_int_equal(count(c, TIER_CRITICAL, SPW_REASON_SHED_RESERVE), 0);
	/* Hundreds of tier-0 closes later, the exact count is the storm's alone. */
	assert_int_equal(conns, STORM_SHARE);
}

static void test_control_without_reserve(void **state)
{
	struct test_ctx *c = *state;
	struct tier0 t;
	double start = spw_now_ms();

	build(c, false);
	storm_then_tier0(c, &t, CONTROL_CYCLES);
	storm_stop(&c->storm);
	storm_report(&c->storm, spw_now_ms() - start);

	/* The storm took every slot, and PostgreSQL refused the rest: tier 0 first of all. */
	assert_int_equal(c->storm.peak, PG_MAX_CONNECTIONS);
	assert_true(c->storm.pg_refused > 0);
	assert_false(t.first_ok);
	assert_non_null(strstr(t.first_err, PG_TOO_MANY));
	assert_true(t.ok * 1000 < t.cycles * TIER0_SUCCESS_PERMIL);
	assert_true(t.too_many > 0);
	assert_int_equal(count(c, TIER_SHEDDABLE, SPW_REASON_SHED_RESERVE), 0);
}

/*
 * Handshakes that never carry data: the storm connects and stays silent. They count against
 * the storm's share while they last (so the share is spent on them, not on tier 0's reserve),
 * and they stop counting at syn_timeout, read by the next sweep: the share is free again
 * although the sockets are still open.
 */
static void test_silent_handshakes_expire(void **state)
{
	struct test_ctx *c = *state;
	struct tier0 t;
	double filled, freed = -1;

	build(c, true);
	storm_start(c, false, 1);
	assert_true(storm_reaches(&c->storm, STORM_SHARE, REFILL_MS));
	filled = spw_now_ms();
	spw_sleep_ms(200);
	assert_int_equal(storm_held(&c->storm), STORM_SHARE);
	storm_stop(&c->storm);
	/* Tier 0 still connects: the silent flows hold the storm's share, not the reserve. */
	memset(&t, 0, sizeof(t));
	t.cycles = 1;
	snprintf(t.conninfo, sizeof(t.conninfo),
		 "hostaddr=%s port=%d user=postgres dbname=postgres sslmode=disable "
		 "gssencmode=disable connect_timeout=%d",
		 c->front.topo.end[SPW_TOPO_SRV].v4_str, PG_PORT, IO_TIMEOUT_MS / 1000);
	assert_int_equal(spw_netns_run(c->front.topo.end[SPW_TOPO_CLI].ns, tier0_run, &t), 0);
	assert_true(t.first_ok);

	while (spw_now_ms() - filled < SILENT_EXPIRY_MS) {
		double conns = metric(c, "spillway_service_connections{service=\"" SVC_NAME "\"}");

		if (conns == 0) {
			freed = spw_now_ms() - filled;
			break;
		}
		spw_sleep_ms(50);
	}
	printf("silent handshakes: %d held, counted until %.0f ms after the last one "
	       "(syn_timeout %d ms, sweep every %d ms)\n",
	       c->storm.held, freed, SYN_TIMEOUT_MS, SWEEP_MS);
	assert_true(freed >= SYN_TIMEOUT_MS - 200);
	/* The storm's share is free again, all of it, while the silent sockets stay open. */
	__atomic_store_n(&c->storm.stop, 0, __ATOMIC_RELAXED);
	storm_start(c, false, 1);
	assert_true(storm_reaches(&c->storm, 2 * STORM_SHARE, REFILL_MS));
	spw_sleep_ms(200);
	assert_int_equal(storm_held(&c->storm), 2 * STORM_SHARE);
}

static int group_setup(void **state)
{
	return pg_front_group_setup(state, sizeof(struct test_ctx), "/tmp/spw-stormpg-XXXXXX");
}

static int setup(void **state)
{
	struct test_ctx *c = *state;

	pg_front_reset(&c->front);
	memset(&c->storm, 0, sizeof(c->storm));
	return pthread_mutex_init(&c->storm.lock, NULL) ? -1 : 0;
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;

	storm_release(&c->storm);
	pthread_mutex_destroy(&c->storm.lock);
	pg_front_teardown(&c->front);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reserve_keeps_tier0, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_control_without_reserve, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_silent_handshakes_expire, setup, teardown),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("netns storm against PostgreSQL", tests, group_setup,
					   pg_front_group_teardown);
}
