// SPDX-License-Identifier: GPL-2.0-only
/*
 * make chaos: faults injected one after another into a running spillway while real TCP runs
 * through it, each judged by the figures the failure promises are about:
 *
 *   resets    established connections that broke (goal 0): spillway never touches a flow in
 *             progress, whatever happens to the daemon;
 *   refused   new connections to a service that should admit them which failed or whose first
 *             SYN was lost (answered only after the 1 s retransmission) (goal 0);
 *   no prog   samples of the server's interface that found no XDP program, or nothing on its
 *             tcx egress chain, where the flow tracker sits, times the sampling period (goal 0);
 *   drift     the service's tracked connection count minus the connections really open, once
 *             the closes have settled (goal 0).
 *
 * Topology (tests/lib/netns.h, names ch-srv-<pid>-<n>, ch-cli-<pid>-<n>): spillwayd from the
 * build folder (tests/lib/daemon.h) in the server namespace, XDP native on its veth; the empty
 * XDP program on the client's veth, without which reject RSTs sent with XDP_TX never arrive.
 * Two services: `api` (port 8080) carries the traffic that runs through every fault, 16
 * long-lived connections doing echo round trips and short-lived connect-echo-close ones, from
 * a second pair of client addresses; `churn` (port 8081) is what the closes and the full
 * table are made of, from the client's own addresses with ports bound one by one and never
 * reused (a reused 4-tuple would meet the previous connection's TIME_WAIT).
 *
 * The faults, in order: kill -9 then restart (past the lease, so the fail-open path runs too);
 * SIGTERM then restart; SIGHUP 10/s for 10 s; a report flood (one sender, non-blocking, as fast
 * as it can for 10 s); 100,000 varied closes (FIN from either side, RST from either side, a
 * handshake abandoned before accept and one abandoned mid-way); an upgrade (the daemon of an
 * older commit, CHAOS_PREV_DAEMON, makes the pins and runs, then this build's daemon replaces it
 * on them, SIGTERM then start, as a package upgrade does); a full flow table (a fresh
 * daemon with flows.capacity 512, filled by held connections, then new flows and a tier's cap
 * checked against what the README says: admitted untracked, counted table_full, established
 * flows not evicted). CHAOS_CLOSES changes the number of closes (quick runs while developing).
 *
 * Exits 1 when any figure misses its goal (or a fault could not be run), after the table.
 * Needs root (namespaces, BPF).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
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
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "attach.h"
#include "daemon.h"
#include "netns.h"
#include "sockets.h"
#include "util.h"
#include "xdp_watch.h"
#include "empty_xdp.skel.h"

/* The services, in file order: the daemon numbers them from 1. */
#define SVC_API	   1
#define SVC_CHURN  2
#define API_PORT   8080
#define CHURN_PORT 8081

/* Long-lived connections of the traffic, half IPv4, half IPv6. */
#define NLONG 16
/* Pause of the traffic loop between short-lived connections: a few hundred a second. */
#define TRAFFIC_PAUSE_US 2000
/* How long a connect may take before it counts as refused: the first SYN retransmission. */
#define SYN_RETRANSMIT_MS 1000
/* How long a connect or an echo is waited for at all. */
#define IO_MS 3000
/* Loading and verifying the BPF objects takes a few hundred ms; a busy machine, more. */
#define READY_MS 15000
/* Traffic that runs on after a fault before its figures are taken: late effects show. */
#define AFTER_MS 1500
/* The attachment sampler's period. */
#define SAMPLE_US 1000
/* The daemon's lease (ms): kill -9 waits past it, so the fail-open path runs too. */
#define LEASE_MS 1000
/* The SIGHUP storm and the report flood. */
#define HUP_EVERY_MS 100
#define HUP_COUNT    100
#define FLOOD_MS     10000

/* The closes: how many by default, and how many at a time. */
#define CLOSES_DEFAULT 100000
#define BATCH	       250
/* Connections held open on churn through the closes: the true count the tracker must show. */
#define HELD 40
/*
 * How long the count may take to settle: a handshake abandoned mid-way is a SYN_SEEN flow
 * until syn_timeout (2 s here) and the next sweep (every 1 s), plus a margin.
 */
#define SETTLE_MS 8000

/* The full table: its capacity, connections beyond it, and a cap checked while full. */
#define SMALL_TABLE 512
#define FILL	    (SMALL_TABLE + 64)
#define CAP	    4
#define CAP_TRIES   8
/* The table of every other fault: far above what they hold at once. */
#define TABLE_DEFAULT 65536

/* Client ports the churn binds, per address: never reused within a run. */
#define CPORT_FIRST 10000
#define CPORT_LAST  60999

enum fault {
	F_KILL9,
	F_RESTART,
	F_HUP,
	F_FLOOD,
	F_CLOSES,
	F_UPGRADE,
	F_UPGRADE_ABI,
	F_FULL,
	F_COUNT,
};

static const char *const fault_name[F_COUNT] = {
    "kill -9, restart",	       "restart (SIGTERM)", "SIGHUP 10/s, 10 s",
    "report flood, 10 s",      "varied closes",	    "upgrade from the previous build",
    "upgrade across map ABIs", "full flow table",
};

struct row {
	bool ran;
	/*
	 * A window without a program is what the README documents for this fault (an upgrade
	 * across map ABIs is detach, then install): printed, not judged.
	 */
	bool gap_documented;
	bool failed; /* the fault could not be run as meant: note says why */
	uint64_t resets, refused, conns;
	uint64_t samples, absent;
	double no_prog_ms;
	bool has_drift;
	int64_t drift;
	char note[256];
};

static struct row rows[F_COUNT];

/* ---- traffic ------------------------------------------------------------------------------ */

struct traffic {
	pthread_t srv_th, cli_th;
	bool running;
	volatile int stop;
	int lfd[2]; /* api listeners, IPv4 and IPv6, in the server namespace */
	struct sockaddr_storage to[2], from[2];
	socklen_t to_len[2], from_len[2];
	char cli_ns[SPW_NETNS_NAME_LEN];
	/* Figures, updated with atomics by the client thread. */
	uint64_t long_rt, long_resets, short_ok, short_refused, short_resets;
	pthread_mutex_t lock;
	char last[256]; /* the last failure, for the table's note */
};

struct ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	struct empty_xdp *empty;
	struct traffic tr;
	int churn_lfd[2];
	uint16_t next_port[2]; /* churn client ports, IPv4 and IPv6 */
	char alias[2][SPW_NETNS_ADDR_LEN];
	char cfg[4096];
};

static struct ctx C;

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void inc(uint64_t *p)
{
	__atomic_add_fetch(p, 1, __ATOMIC_RELAXED);
}

static void tr_note(struct traffic *t, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t->lock);
	va_start(ap, fmt);
	vsnprintf(t->last, sizeof(t->last), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t->lock);
}

/* Waits for fd to be ready for ev within ms: 0, -ETIMEDOUT, or a negative errno. */
static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* The outcome of a started non-blocking connect, waited for at most ms. */
static int connect_result(int fd, int ms)
{
	int r = spw_connect_wait(fd, ms);

	return r == SPW_CONN_PENDING ? -ETIMEDOUT : r;
}

/*
 * A connection from `from` (port 0: the kernel's choice at connect time) to `to`, in the
 * calling thread's namespace. Returns the non-blocking fd, or a negative errno: a connect that
 * failed, or took the SYN's retransmission (-ETIME).
 */
static int connect_from(const struct sockaddr_storage *from, socklen_t from_len,
			const struct sockaddr_storage *to, socklen_t to_len)
{
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, err;
	double t0;

	if (fd < 0)
		return -errno;
	/* The port is picked at connect, per destination: the whole range for each. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)from, from_len)) {
		err = -errno;
		close(fd);
		return err;
	}
	t0 = spw_now_ms();
	if (connect(fd, (const struct sockaddr *)to, to_len) && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	err = connect_result(fd, IO_MS);
	if (!err && spw_now_ms() - t0 >= SYN_RETRANSMIT_MS)
		err = -ETIME;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Sends a message and waits for its echo: 0 or a negative errno (-ECONNABORTED: EOF). */
static int round_trip(int fd, uint64_t seq)
{
	char out[16], in[16];
	size_t got = 0;
	int err;

	snprintf(out, sizeof(out), "%015llx", (unsigned long long)seq);
	if (send(fd, out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out))
		return errno ? -errno : -EIO;
	while (got < sizeof(in)) {
		ssize_t n;

		err = wait_fd(fd, POLLIN, IO_MS);
		if (err)
			return err;
		n = recv(fd, in + got, sizeof(in) - got, 0);
		if (n == 0)
			return -ECONNABORTED;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return memcmp(in, out, sizeof(in)) ? -EBADMSG : 0;
}

/* The echo server of api: accepts and echoes until stopped. */
static void *server_main(void *arg)
{
	struct traffic *t = arg;
	struct epoll_event ev[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	char buf[4096];

	if (ep < 0)
		return NULL;
	for (int i = 0; i < 2; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.fd = t->lfd[i]};

		epoll_ctl(ep, EPOLL_CTL_ADD, t->lfd[i], &e);
	}
	while (!t->stop) {
		int n = epoll_wait(ep, ev, 64, 50);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == t->lfd[0] || fd == t->lfd[1]) {
				int c;

				while ((c = accept4(fd, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event e = {.events = EPOLLIN, .data.fd = c};

					epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
				}
				continue;
			}
			for (;;) {
				ssize_t r = recv(fd, buf, sizeof(buf), 0);

				if (r > 0) {
					/* Messages are small: the send buffer takes them whole. */
					send(fd, buf, (size_t)r, MSG_NOSIGNAL);
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				close(fd); /* EOF or error: epoll forgets a closed fd */
				break;
			}
		}
	}
	close(ep);
	return NULL;
}

static int enter_ns(const char *ns)
{
	char path[64 + SPW_NETNS_NAME_LEN];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

static int traffic_connect(struct traffic *t, int f)
{
	return connect_from(&t->from[f], t->from_len[f], &t->to[f], t->to_len[f]);
}

/* The clients: long-lived connections in turn, a short-lived one between each turn. */
static void *client_main(void *arg)
{
	struct traffic *t = arg;
	int longs[NLONG];
	uint64_t seq = 0;

	/* This thread only: its sockets are the client namespace's. */
	if (enter_ns(t->cli_ns)) {
		tr_note(t, "client thread: cannot enter %s", t->cli_ns);
		return NULL;
	}
	for (int i = 0; i < NLONG; i++) {
		longs[i] = traffic_connect(t, i % 2);
		if (longs[i] < 0) {
			inc(&t->short_refused);
			tr_note(t, "long-lived connect: %s", strerror(-longs[i]));
		}
	}
	while (!t->stop) {
		int i = (int)(seq % NLONG), f = (int)(seq / NLONG % 2), fd, err;

		if (longs[i] < 0) {
			longs[i] = traffic_connect(t, i % 2);
			if (longs[i] < 0) {
				inc(&t->short_refused);
				tr_note(t, "long-lived reconnect: %s", strerror(-longs[i]));
			}
		} else if ((err = round_trip(longs[i], seq)) != 0) {
			inc(&t->long_resets);
			tr_note(t, "long-lived connection %d (%s): %s", i, i % 2 ? "IPv6" : "IPv4",
				strerror(-err));
			close(longs[i]);
			longs[i] = -1;
		} else {
			inc(&t->long_rt);
		}
		fd = traffic_connect(t, f);
		if (fd < 0) {
			inc(&t->short_refused);
			tr_note(t, "short-lived connect (%s): %s", f ? "IPv6" : "IPv4",
				strerror(-fd));
		} else if ((err = round_trip(fd, seq)) != 0) {
			inc(&t->short_resets);
			tr_note(t, "short-lived connection (%s): %s", f ? "IPv6" : "IPv4",
				strerror(-err));
			close(fd);
		} else {
			inc(&t->short_ok);
			close(fd);
		}
		seq++;
		usleep(TRAFFIC_PAUSE_US);
	}
	for (int i = 0; i < NLONG; i++)
		if (longs[i] >= 0)
			close(longs[i]);
	return NULL;
}

static int traffic_start(struct traffic *t)
{
	t->stop = 0;
	if (pthread_create(&t->srv_th, NULL, server_main, t))
		return -EAGAIN;
	if (pthread_create(&t->cli_th, NULL, client_main, t)) {
		t->stop = 1;
		pthread_join(t->srv_th, NULL);
		return -EAGAIN;
	}
	t->running = true;
	return 0;
}

static void traffic_stop(struct traffic *t)
{
	if (!t->running)
		return;
	t->stop = 1;
	pthread_join(t->cli_th, NULL);
	pthread_join(t->srv_th, NULL);
	t->running = false;
}

struct tsnap {
	uint64_t long_rt, long_resets, short_ok, short_refused, short_resets;
};

static struct tsnap tsnap(struct traffic *t)
{
	struct tsnap s = {ld(&t->long_rt), ld(&t->long_resets), ld(&t->short_ok),
			  ld(&t->short_refused), ld(&t->short_resets)};

	return s;
}

/* ---- a fault's measurement ---------------------------------------------------------------- */

struct run {
	struct row *r;
	struct tsnap before;
	struct spw_xdp_sampler w;
	bool sampling;
	double t0;
};

static void row_fail(struct row *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return; /* the first reason is the one worth reading */
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}

static void row_note(struct row *r, const char *fmt, ...)
{
	size_t n = strlen(r->note);
	va_list ap;

	if (r->failed || n + 3 >= sizeof(r->note))
		return;
	if (n)
		n += (size_t)snprintf(r->note + n, sizeof(r->note) - n, "; ");
	va_start(ap, fmt);
	vsnprintf(r->note + n, sizeof(r->note) - n, fmt, ap);
	va_end(ap);
}

/* The sampling period as measured: samples over the time they took. */
static double sample_ms(const struct row *r, double elapsed_ms)
{
	return r->samples ? elapsed_ms / (double)r->samples : 0;
}

static void run_begin(struct run *x, enum fault f)
{
	int err;

	memset(x, 0, sizeof(*x));
	x->r = &rows[f];
	x->r->ran = true;
	pthread_mutex_lock(&C.tr.lock);
	C.tr.last[0] = '\0';
	pthread_mutex_unlock(&C.tr.lock);
	x->before = tsnap(&C.tr);
	x->t0 = spw_now_ms();
	err = spw_xdp_sampler_start(&x->w, C.topo.end[SPW_TOPO_SRV].ns,
				    C.topo.end[SPW_TOPO_SRV].ifindex, SAMPLE_US);
	if (err)
		row_fail(x->r, "attachment sampler: %s", strerror(-err));
	else
		x->sampling = true;
	printf("chaos: %s ...\n", fault_name[f]);
	fflush(stdout);
}

static void run_end(struct run *x)
{
	struct row *r = x->r;
	struct tsnap a;

	spw_sleep_ms(AFTER_MS);
	if (x->sampling) {
		struct spw_xdp_samples *s = x->w.s;

		spw_xdp_sampler_stop(&x->w);
		r->samples = s->samples;
		/* Either hook missing is a window without spillway on the interface. */
		r->absent = s->absent > s->tcx_egress_absent ? s->absent : s->tcx_egress_absent;
		r->no_prog_ms = (double)r->absent * sample_ms(r, spw_now_ms() - x->t0);
		if (s->errors || s->tcx_egress_errors)
			row_fail(r, "attachment queries failed: %llu XDP, %llu tcx",
				 (unsigned long long)s->errors,
				 (unsigned long long)s->tcx_egress_errors);
		spw_xdp_sampler_free(&x->w);
	}
	a = tsnap(&C.tr);
	r->resets +=
	    (a.long_resets - x->before.long_resets) + (a.short_resets - x->before.short_resets);
	r->refused += a.short_refused - x->before.short_refused;
	r->conns += a.short_ok - x->before.short_ok;
	pthread_mutex_lock(&C.tr.lock);
	if (C.tr.last[0])
		row_note(r, "%s", C.tr.last);
	pthread_mutex_unlock(&C.tr.lock);
	if (!C.d.pid || !spw_daemon_alive(&C.d))
		row_fail(r, "the daemon is not running after the fault");
	else if (spw_daemon_wait_ready(&C.d, SVC_API, READY_MS))
		row_fail(r, "the daemon renews no lease after the fault");
}

/* ---- setup -------------------------------------------------------------------------------- */

static void make_config(char *buf, size_t len, uint32_t capacity)
{
	/* The cap is the full table's check; elsewhere churn's sheddable (IPv6) flows are many. */
	char cap[64] = "";
	int n;

	if (capacity == SMALL_TABLE)
		snprintf(cap, sizeof(cap), "    max_connections: {sheddable: %d}\n", CAP);
	n = snprintf(buf, len,
		     "# spillwayd under chaos (tests/chaos/chaos.c)\n"
		     "interfaces: [{name: %s, mode: xdp}]\n"
		     "tiers: [critical, standard, sheddable]\n"
		     "classify:\n"
		     "  - {cidr: \"%s/128\", tier: sheddable}\n"
		     "services:\n"
		     "  - name: api\n"
		     "    protocol: tcp\n"
		     "    port: %d\n"
		     "    default_tier: standard\n"
		     "    signals:\n"
		     "      - {pool: db, target: 0.85}\n"
		     "  - name: churn\n"
		     "    protocol: tcp\n"
		     "    port: %d\n"
		     "    default_tier: standard\n"
		     "    shed_action: {sheddable: reject}\n"
		     "%s"
		     "    signals: []\n"
		     "controller: {tick: 100ms, lease: %dms, stale_after: 2s, sweep_every: 1s, "
		     "syn_timeout: 2s}\n"
		     "flows: {capacity: %u}\n",
		     C.topo.end[SPW_TOPO_SRV].ifname, C.topo.end[SPW_TOPO_CLI].v6_str, API_PORT,
		     CHURN_PORT, cap, LEASE_MS, capacity);

	assert_true(n > 0 && (size_t)n < len);
}

static int listen_srv(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	int len = spw_topo_sockaddr(&C.topo, SPW_TOPO_SRV, family, port, &ss), one = 1;
	int fd = spw_netns_socket(C.topo.end[SPW_TOPO_SRV].ns, family,
				  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(len > 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, (socklen_t)len), 0);
	assert_int_equal(listen(fd, 4096), 0);
	return fd;
}

static int sysctl_in_ns(void *arg)
{
	const char *const *kv = arg;
	FILE *f = fopen(kv[0], "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(kv[1], f) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

static int launch(uint32_t capacity)
{
	int err = spw_daemon_init(&C.d, C.topo.end[SPW_TOPO_SRV].ns, false);

	if (err)
		return err;
	make_config(C.cfg, sizeof(C.cfg), capacity);
	return spw_daemon_launch(&C.d, C.cfg, SVC_API, READY_MS);
}

static int group_setup(void **state)
{
	const char *range[] = {"/proc/sys/net/ipv4/ip_local_port_range", "1024 65000"};
	struct traffic *t = &C.tr;
	char bin[4096];
	int err;

	(void)state;
	spw_raise_fd_limit();
	if (spw_netns_set_prefix("ch") || spw_daemon_binary(bin, sizeof(bin)))
		return -1;
	if (spw_topo_create(&C.topo))
		return -1;
	C.empty = empty_xdp__open_and_load();
	if (!C.empty)
		return -1;
	err = spw_topo_attach_xdp(&C.topo, SPW_TOPO_CLI, C.empty->progs.empty_xdp,
				  &C.empty->links.empty_xdp);
	if (err) {
		fprintf(stderr, "chaos: empty XDP on the client veth: %s\n", strerror(-err));
		return -1;
	}
	/* The traffic's own client addresses: its ephemeral ports never meet the churn's. */
	snprintf(C.alias[0], sizeof(C.alias[0]), "198.18.%u.3", C.topo.n);
	snprintf(C.alias[1], sizeof(C.alias[1]), "fc00:5b:%x::3", C.topo.n);
	for (int f = 0; f < 2; f++) {
		char cidr[SPW_NETNS_ADDR_LEN + 8];
		/* nodad: an IPv6 address is usable at once, not tentative for a second. */
		const char *add[] = {"-n",
				     C.topo.end[SPW_TOPO_CLI].ns,
				     "addr",
				     "add",
				     cidr,
				     "dev",
				     C.topo.end[SPW_TOPO_CLI].ifname,
				     f ? "nodad" : NULL,
				     NULL};

		snprintf(cidr, sizeof(cidr), "%s/%d", C.alias[f], f ? 128 : 32);
		if (spw_netns_ip(add))
			return -1;
	}
	if (spw_netns_run(C.topo.end[SPW_TOPO_CLI].ns, sysctl_in_ns, (void *)range))
		return -1;
	for (int f = 0; f < 2; f++) {
		int family = f ? AF_INET6 : AF_INET;
		int len = spw_topo_sockaddr(&C.topo, SPW_TOPO_SRV, family, API_PORT, &t->to[f]);

		if (len < 0)
			return -1;
		t->to_len[f] = (socklen_t)len;
		memset(&t->from[f], 0, sizeof(t->from[f]));
		if (f) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&t->from[f];

			a->sin6_family = AF_INET6;
			inet_pton(AF_INET6, C.alias[f], &a->sin6_addr);
			t->from_len[f] = sizeof(*a);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&t->from[f];

			a->sin_family = AF_INET;
			inet_pton(AF_INET, C.alias[f], &a->sin_addr);
			t->from_len[f] = sizeof(*a);
		}
		t->lfd[f] = listen_srv(family, API_PORT);
		C.churn_lfd[f] = listen_srv(family, CHURN_PORT);
		C.next_port[f] = CPORT_FIRST;
	}
	snprintf(t->cli_ns, sizeof(t->cli_ns), "%s", C.topo.end[SPW_TOPO_CLI].ns);
	pthread_mutex_init(&t->lock, NULL);
	/* The daemon's numbering is the file's order: the ids below are the services. */
	if (launch(TABLE_DEFAULT))
		return -1;
	if (traffic_start(t))
		return -1;
	/* Warm up: the first connections made and the first round trips done. */
	spw_sleep_ms(1000);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	traffic_stop(&C.tr);
	if (C.d.inited && getenv("SPW_TEST_LOGS"))
		spw_daemon_log_dump(&C.d);
	spw_daemon_cleanup(&C.d);
	empty_xdp__destroy(C.empty);
	spw_topo_destroy(&C.topo);
	return 0;
}

/* ---- daemon faults ------------------------------------------------------------------------ */

static void restart(struct row *r)
{
	int err = spw_daemon_start(&C.d);

	if (err) {
		row_fail(r, "restart: %s", strerror(-err));
		return;
	}
	if (spw_daemon_wait_ready(&C.d, SVC_API, READY_MS))
		row_fail(r, "the restarted daemon was not ready within %d ms", READY_MS);
}

static void test_kill9(void **state)
{
	struct run x;
	double t0;

	(void)state;
	run_begin(&x, F_KILL9);
	t0 = spw_now_ms();
	if (spw_daemon_kill9(&C.d))
		row_fail(x.r, "kill -9 failed");
	/* Past the lease: the data plane fails open, and the restart takes over from there. */
	spw_sleep_ms(LEASE_MS + 500);
	restart(x.r);
	row_note(x.r, "down %.0f ms (lease %d ms)", spw_now_ms() - t0, LEASE_MS);
	run_end(&x);
}

static void test_restart(void **state)
{
	struct run x;
	double t0;
	int rc;

	(void)state;
	run_begin(&x, F_RESTART);
	t0 = spw_now_ms();
	rc = spw_daemon_stop(&C.d, 3000);
	if (rc)
		row_fail(x.r, "SIGTERM: the daemon exited with %d", rc);
	restart(x.r);
	row_note(x.r, "stop to ready %.0f ms", spw_now_ms() - t0);
	run_end(&x);
}

/* Occurrences of needle in the log since the mark. */
static int log_count(const char *needle)
{
	char *log = spw_daemon_log_since_mark(&C.d), *p;
	int n = 0;

	if (!log)
		return -1;
	for (p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

static void test_hup_storm(void **state)
{
	struct run x;
	int sent = 0;

	(void)state;
	run_begin(&x, F_HUP);
	spw_daemon_log_mark(&C.d);
	for (int i = 0; i < HUP_COUNT; i++) {
		if (spw_daemon_signal(&C.d, SIGHUP) == 0)
			sent++;
		spw_sleep_ms(HUP_EVERY_MS);
	}
	/* Signals that arrive during a reload merge into one: fewer reloads than signals. */
	spw_sleep_ms(500);
	row_note(x.r, "%d SIGHUP, %d reloads logged", sent, log_count("config reloaded"));
	run_end(&x);
}

struct flood {
	char path[SPW_DAEMON_PATH_LEN];
	double until;
	uint64_t sent, full, errors;
};

static void *flood_main(void *arg)
{
	static const char line[] = "pool db in_use=10 capacity=100";
	struct flood *f = arg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		f->errors++;
		return NULL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	while (spw_now_ms() < f->until) {
		/* The clock is read once per 64 lines: the sender spends its time sending. */
		for (int i = 0; i < 64; i++) {
			if (sendto(fd, line, sizeof(line) - 1, 0, (struct sockaddr *)&sa,
				   sizeof(sa)) >= 0)
				f->sent++;
			else if (errno == EAGAIN)
				f->full++;
			else
				f->errors++;
		}
	}
	close(fd);
	return NULL;
}

static void test_report_flood(void **state)
{
	struct flood f = {0};
	pthread_t th;
	struct run x;

	(void)state;
	run_begin(&x, F_FLOOD);
	snprintf(f.path, sizeof(f.path), "%s", C.d.report_sock);
	f.until = spw_now_ms() + FLOOD_MS;
	if (pthread_create(&th, NULL, flood_main, &f)) {
		row_fail(x.r, "no flood thread");
	} else {
		pthread_join(th, NULL);
		row_note(x.r, "%llu lines sent, %llu times the queue was full",
			 (unsigned long long)f.sent, (unsigned long long)f.full);
		if (f.errors)
			row_fail(x.r, "%llu sends failed", (unsigned long long)f.errors);
	}
	run_end(&x);
}

/* ---- the churn: connections ended in every way -------------------------------------------- */

enum end_mode {
	E_CLI_FIN,
	E_SRV_FIN,
	E_CLI_RST,
	E_SRV_RST,
	E_ABANDON_ACCEPT, /* handshake done, the client resets before the server accepts */
	E_ABANDON_SYN,	  /* the client closes while its SYN is in flight */
	E_MODES,
	E_HOLD = E_MODES, /* kept open, carrying data: the true count */
};

static const char *const end_name[E_MODES] = {
    "client FIN",
    "server FIN",
    "client RST",
    "server RST",
    "abandoned before accept",
    "abandoned in the handshake",
};

struct cconn {
	int cli, srv, f;
	uint16_t port;
	enum end_mode end;
};

struct churn {
	struct cconn *c; /* the batch */
	int n;
	/* What went wrong: a connect that failed, data that did not arrive, lost accepts. */
	uint64_t refused, resets, closes[E_MODES];
	char last[160];
};

static int16_t idx_of[2][65536]; /* a batch's connection by client port; -1: none */

static void close_rst(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void close_fd(int *fd, bool rst)
{
	if (*fd < 0)
		return;
	if (rst)
		close_rst(*fd);
	else
		close(*fd);
	*fd = -1;
}

static void churn_note(struct churn *ch, const char *what, int err)
{
	snprintf(ch->last, sizeof(ch->last), "churn %s: %s", what, strerror(-err));
}

/* A started connect from the client's own address, the family's next unused port. */
static int churn_start(struct cconn *k)
{
	struct sockaddr_storage from, to;
	int family = k->f ? AF_INET6 : AF_INET, fd, err, fl, tl;

	if (C.next_port[k->f] > CPORT_LAST)
		return -ENOSPC;
	k->port = C.next_port[k->f]++;
	fl = spw_topo_sockaddr(&C.topo, SPW_TOPO_CLI, family, k->port, &from);
	tl = spw_topo_sockaddr(&C.topo, SPW_TOPO_SRV, family, CHURN_PORT, &to);
	if (fl < 0 || tl < 0)
		return -EINVAL;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&from, (socklen_t)fl) ||
	    (connect(fd, (struct sockaddr *)&to, (socklen_t)tl) && errno != EINPROGRESS)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static uint16_t peer_port(int fd, int *f)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &l))
		return 0;
	*f = ss.ss_family == AF_INET6;
	return ntohs(*f ? ((struct sockaddr_in6 *)&ss)->sin6_port
			: ((struct sockaddr_in *)&ss)->sin_port);
}

/* Accepts the batch's connections (want of them) from both listeners; strays are closed. */
static void churn_accept(struct churn *ch, int want)
{
	struct pollfd p[2] = {{.fd = C.churn_lfd[0], .events = POLLIN},
			      {.fd = C.churn_lfd[1], .events = POLLIN}};
	double deadline = spw_now_ms() + IO_MS;
	int got = 0;

	/* Past want, one more look without waiting: the abandoned ones queued meanwhile. */
	for (bool last = false; !last;) {
		last = got >= want || spw_now_ms() >= deadline;
		if (poll(p, 2, last ? 0 : 50) <= 0)
			continue;
		for (int l = 0; l < 2; l++) {
			int fd, f;

			while ((fd = accept4(C.churn_lfd[l], NULL, NULL,
					     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				uint16_t port = peer_port(fd, &f);
				int i = port ? idx_of[f][port] : -1;

				if (i < 0 || ch->c[i].srv >= 0) {
					close(fd); /* an abandoned handshake that completed */
					continue;
				}
				ch->c[i].srv = fd;
				/* An abandoned one that arrives anyway is closed with its batch. */
				got += ch->c[i].end != E_ABANDON_SYN &&
				       ch->c[i].end != E_ABANDON_ACCEPT;
			}
		}
	}
}

/* One byte from the client, read by the server: the tracker counts the flow established. */
static int first_byte(struct cconn *k)
{
	char b = 'x';
	int err;

	if (send(k->cli, &b, 1, MSG_NOSIGNAL) != 1)
		return -errno;
	err = wait_fd(k->srv, POLLIN, IO_MS);
	if (err)
		return err;
	if (recv(k->srv, &b, 1, 0) != 1)
		return errno ? -errno : -ECONNABORTED;
	return 0;
}

/*
 * Opens the batch ch->c[0..n) (each with its end mode and family set), brings each as far as
 * its mode says, and ends it (E_HOLD: left open, both sockets kept). Runs in the client's
 * namespace.
 */
static void churn_batch(struct churn *ch)
{
	int want = 0;

	for (int i = 0; i < ch->n; i++) {
		struct cconn *k = &ch->c[i];

		k->srv = -1;
		k->cli = churn_start(k);
		if (k->cli < 0) {
			ch->refused++;
			churn_note(ch, "connect", k->cli);
			continue;
		}
		idx_of[k->f][k->port] = (int16_t)i;
		if (k->end == E_ABANDON_SYN)
			close_fd(&k->cli, false);
	}
	for (int i = 0; i < ch->n; i++) {
		struct cconn *k = &ch->c[i];
		int err;

		if (k->cli < 0)
			continue;
		err = connect_result(k->cli, IO_MS);
		if (err) {
			ch->refused++;
			churn_note(ch, "connect", err);
			close_fd(&k->cli, false);
			continue;
		}
		if (k->end == E_ABANDON_ACCEPT)
			close_fd(&k->cli, true);
		else
			want++;
	}
	churn_accept(ch, want);
	for (int i = 0; i < ch->n; i++) {
		struct cconn *k = &ch->c[i];
		int err = 0;

		if (k->end == E_ABANDON_SYN || (k->cli < 0 && k->end != E_ABANDON_ACCEPT))
			goto done;
		if (k->srv < 0) {
			/* A reset child may leave the accept queue before the server gets to it. */
			if (k->end != E_ABANDON_ACCEPT) {
				ch->refused++;
				snprintf(ch->last, sizeof(ch->last),
					 "churn: a connection never accepted");
			}
			goto done;
		}
		if (k->end != E_ABANDON_ACCEPT)
			err = first_byte(k);
		if (err) {
			ch->resets++;
			churn_note(ch, "first byte", err);
		}
		switch (k->end) {
		case E_CLI_FIN:
			close_fd(&k->cli, false);
			break;
		case E_SRV_FIN:
			close_fd(&k->srv, false);
			break;
		case E_CLI_RST:
			close_fd(&k->cli, true);
			break;
		case E_SRV_RST:
			close_fd(&k->srv, true);
			break;
		default:
			break;
		}
	done:
		if (k->end < E_MODES)
			ch->closes[k->end]++;
		if (k->port)
			idx_of[k->f][k->port] = -1;
	}
	if (ch->c[0].end == E_HOLD)
		return;
	/* The other side: after a reset, nothing; after a FIN, the answering FIN. */
	for (int i = 0; i < ch->n; i++) {
		close_fd(&ch->c[i].cli, false);
		close_fd(&ch->c[i].srv, false);
	}
}

/* Connections of churn in total, as the data plane counts them. */
static int64_t churn_active(void)
{
	uint64_t n = 0;

	if (!C.d.dp || spw_dp_active_read(C.d.dp, SVC_CHURN, SPW_ACTIVE_TOTAL, &n))
		return -1;
	return (int64_t)n;
}

/* Waits until churn's count is want: the difference left at the end (0: settled). */
static int64_t settle(int64_t want, double *ms)
{
	double t0 = spw_now_ms();
	int64_t got;

	while ((got = churn_active()) != want && spw_now_ms() - t0 < SETTLE_MS)
		spw_sleep_ms(20);
	*ms = spw_now_ms() - t0;
	return got - want;
}

/* Holds n connections of family f (-1: alternating) open with data: appended to held. */
struct holds {
	struct cconn c[FILL + CAP_TRIES + HELD];
	int n;
};

static void hold(struct churn *ch, struct holds *h, int n, int f)
{
	while (n > 0) {
		int m = n < BATCH ? n : BATCH;

		ch->c = &h->c[h->n];
		ch->n = m;
		for (int i = 0; i < m; i++) {
			ch->c[i].end = E_HOLD;
			ch->c[i].f = f < 0 ? (h->n + i) % 2 : f;
			ch->c[i].port = 0;
		}
		churn_batch(ch);
		h->n += m;
		n -= m;
	}
}

static void release(struct holds *h)
{
	for (int i = 0; i < h->n; i++) {
		close_fd(&h->c[i].cli, false);
		close_fd(&h->c[i].srv, false);
	}
	h->n = 0;
}

/* Every held connection still carries a byte; returns how many did not. */
static uint64_t held_alive(struct churn *ch, struct holds *h)
{
	uint64_t bad = 0;

	for (int i = 0; i < h->n; i++) {
		int err;

		if (h->c[i].cli < 0 || h->c[i].srv < 0)
			continue;
		err = first_byte(&h->c[i]);
		if (err) {
			bad++;
			churn_note(ch, "held connection", err);
		}
	}
	return bad;
}

struct closes_job {
	int total;
	struct churn ch;
	struct holds *h;
	int64_t drift_at_once;
	int64_t drift, drift_after_release;
	double settle_ms;
};

static int closes_in_ns(void *arg)
{
	static struct cconn batch[BATCH];
	struct closes_job *j = arg;
	struct churn *ch = &j->ch;
	double ms;

	hold(ch, j->h, HELD, -1);
	for (int base = 0; base < j->total; base += BATCH) {
		ch->c = batch;
		ch->n = j->total - base < BATCH ? j->total - base : BATCH;
		for (int i = 0; i < ch->n; i++) {
			int k = base + i;

			batch[i].end = (enum end_mode)(k % E_MODES);
			/* Alternating per round of modes: every mode in both families. */
			batch[i].f = (k / E_MODES) % 2;
			batch[i].port = 0;
		}
		churn_batch(ch);
	}
	j->drift_at_once = churn_active() - HELD;
	j->drift = settle(HELD, &j->settle_ms);
	ch->resets += held_alive(ch, j->h);
	release(j->h);
	j->drift_after_release = settle(0, &ms);
	return 0;
}

static int closes_total(void)
{
	const char *s = getenv("CHAOS_CLOSES");
	long n = s ? strtol(s, NULL, 10) : CLOSES_DEFAULT;

	/* The ports a run can bind: each family's range once. */
	if (n < E_MODES || n > 2L * (CPORT_LAST - CPORT_FIRST + 1) - 2 * FILL)
		n = CLOSES_DEFAULT;
	return (int)n;
}

static void test_closes(void **state)
{
	static struct holds h;
	struct closes_job j = {.total = closes_total(), .h = &h};
	struct run x;
	double t0;
	int err;

	(void)state;
	memset(idx_of, 0xff, sizeof(idx_of));
	run_begin(&x, F_CLOSES);
	t0 = spw_now_ms();
	err = spw_netns_run(C.topo.end[SPW_TOPO_CLI].ns, closes_in_ns, &j);
	if (err)
		row_fail(x.r, "the churn could not run: %s", strerror(-err));
	x.r->resets += j.ch.resets;
	x.r->refused += j.ch.refused;
	x.r->has_drift = true;
	x.r->drift = j.drift ? j.drift : j.drift_after_release;
	printf("chaos: %d closes in %.0f ms:", j.total, spw_now_ms() - t0);
	for (int m = 0; m < E_MODES; m++)
		printf(" %s %llu%s", end_name[m], (unsigned long long)j.ch.closes[m],
		       m + 1 < E_MODES ? "," : "\n");
	row_note(x.r,
		 "%d closes beside %d held; drift %+lld at once, %+lld after %.1f s, "
		 "%+lld once the held ones closed",
		 j.total, HELD, (long long)j.drift_at_once, (long long)j.drift, j.settle_ms / 1000,
		 (long long)j.drift_after_release);
	if (j.ch.last[0])
		row_note(x.r, "%s", j.ch.last);
	run_end(&x);
}

/* ---- upgrade ------------------------------------------------------------------------------ */

/*
 * A fresh daemon of another build on fresh pins (the traffic restarted, so its connections are
 * that build's flows): prev is its binary, NULL for this build's.
 */
static int relaunch(const char *prev, uint32_t capacity, bool foreign_abi)
{
	int err;

	traffic_stop(&C.tr);
	spw_daemon_stop(&C.d, 3000);
	spw_daemon_cleanup(&C.d);
	if (prev)
		setenv("SPW_DAEMON", prev, 1);
	else
		unsetenv("SPW_DAEMON");
	if (foreign_abi) {
		/* This build cannot open pins of another ABI: the log says when it runs. */
		err = spw_daemon_init(&C.d, C.topo.end[SPW_TOPO_SRV].ns, false);
		make_config(C.cfg, sizeof(C.cfg), capacity);
		if (!err)
			err = spw_daemon_write_config(&C.d, C.cfg);
		spw_daemon_log_mark(&C.d);
		if (!err)
			err = spw_daemon_start(&C.d);
		if (!err)
			err = spw_daemon_log_wait(&C.d, "running: ", READY_MS);
	} else {
		err = launch(capacity);
	}
	unsetenv("SPW_DAEMON");
	if (!err)
		err = traffic_start(&C.tr);
	/* The traffic's connections made and carrying data before the fault begins. */
	spw_sleep_ms(1000);
	return err;
}

/*
 * How an upgrade row begins: the daemon of an older build, the binary named by environment
 * variable env (on pins of another ABI when foreign_abi), relaunched on the pins and running,
 * the row of fault f begun, then that daemon stopped with SIGTERM at *t0. The older binary's
 * path; NULL when it could not run, the row then failed (naming it as `older`) and ended.
 */
static const char *upgrade_begin(struct run *x, enum fault f, const char *env, bool foreign_abi,
				 const char *older, double *t0)
{
	const char *prev = getenv(env);
	int err = -ENOENT, rc;

	if (prev && access(prev, X_OK) == 0)
		err = relaunch(prev, TABLE_DEFAULT, foreign_abi);
	run_begin(x, f);
	if (err) {
		row_fail(x->r, "%s's daemon (%s=%s): %s", older, env, prev ? prev : "unset",
			 strerror(-err));
		run_end(x);
		return NULL;
	}
	*t0 = spw_now_ms();
	rc = spw_daemon_stop(&C.d, 3000);
	if (rc)
		row_fail(x->r, "SIGTERM: %s exited with %d", older, rc);
	return prev;
}

/*
 * The previous build (CHAOS_PREV_DAEMON, which `make chaos` builds from an older commit) makes
 * the pins and runs; this build's daemon replaces it on the same pins, as a package upgrade
 * does: SIGTERM, then the new binary.
 */
static void test_upgrade(void **state)
{
	const char *prev;
	struct run x;
	double t0;

	(void)state;
	memset(idx_of, 0xff, sizeof(idx_of));
	prev = upgrade_begin(&x, F_UPGRADE, "CHAOS_PREV_DAEMON", false, "the previous build", &t0);
	if (!prev)
		return;
	restart(x.r);
	row_note(x.r, "%s replaced, stop to ready %.0f ms, %u program ids seen", prev,
		 spw_now_ms() - t0, x.w.s ? x.w.s->nids : 0);
	run_end(&x);
}

/*
 * The daemon of the last build before the newest ABI change (CHAOS_PREV_ABI_DAEMON) makes the
 * pins and runs; this build's daemon is started on them after a SIGTERM. The README says what
 * happens: pins of another ABI are refused (the old programs stay attached, failing open after
 * their lease), and the upgrade is detach, then install, with a few seconds without a program.
 * The refusal is checked, then the detach (the pins removed, as `spillway detach --all` does)
 * and the install are timed; the gap is printed, not judged.
 */
static void test_upgrade_abi(void **state)
{
	struct run x;
	double t0, t_refused;
	bool refused = false;

	(void)state;
	if (!upgrade_begin(&x, F_UPGRADE_ABI, "CHAOS_PREV_ABI_DAEMON", true, "the older-ABI build",
			   &t0))
		return;
	/* The test's handle on the old maps would be read as the new daemon's. */
	spw_dp_close(C.d.dp);
	C.d.dp = NULL;
	spw_daemon_log_mark(&C.d);
	if (spw_daemon_start(&C.d)) {
		row_fail(x.r, "this build's daemon did not start");
		run_end(&x);
		return;
	}
	while (spw_daemon_alive(&C.d) && spw_now_ms() - t0 < READY_MS &&
	       spw_daemon_poll_ready(&C.d, SVC_API) == 0)
		spw_sleep_ms(10);
	if (!spw_daemon_alive(&C.d)) {
		refused = spw_daemon_log_has(&C.d, "ABI version");
		if (!refused)
			row_fail(x.r, "this build's daemon exited on the old pins without naming "
				      "the ABI");
	}
	t_refused = spw_now_ms();
	if (refused) {
		x.r->gap_documented = true;
		/* What `spillway detach --all` does: the pins go, and with them the links. */
		spw_rm_tree(C.d.pin_root);
		restart(x.r);
		row_note(x.r, "ABI pins refused as documented; detach and install took %.0f ms",
			 spw_now_ms() - t_refused);
	} else {
		row_note(x.r, "the old pins were taken over (one ABI?), stop to ready %.0f ms",
			 spw_now_ms() - t0);
	}
	run_end(&x);
}

/* ---- the full flow table ------------------------------------------------------------------ */

static uint64_t counter(uint32_t svc, uint32_t tier, enum spw_reason r)
{
	struct spw_count *all = calloc(SPW_COUNTER_ENTRIES, sizeof(*all));
	uint64_t n = 0;

	if (all && C.d.dp && !spw_dp_counters_read_all(C.d.dp, all))
		n = all[spw_counter_index(svc, tier, r)].packets;
	free(all);
	return n;
}

struct full_job {
	struct churn ch;
	struct holds *h;
	uint64_t entries, table_full, cap_admitted, cap_shed, dead;
	uint32_t capacity;
	int64_t drift;
	double settle_ms;
};

static int full_in_ns(void *arg)
{
	struct full_job *j = arg;
	uint64_t tf0 = counter(SVC_CHURN, 1, SPW_REASON_TABLE_FULL);
	uint64_t sc0 = counter(SVC_CHURN, 2, SPW_REASON_SHED_CAP);
	int first_cap;

	/* Standard tier (IPv4): past the table's capacity. */
	hold(&j->ch, j->h, FILL, 0);
	j->table_full = counter(SVC_CHURN, 1, SPW_REASON_TABLE_FULL) - tf0;
	if (spw_dp_flow_count(C.d.dp, &j->entries, &j->capacity))
		j->entries = UINT64_MAX;
	/* Sheddable (IPv6), capped at CAP, while the table is full. */
	first_cap = j->h->n;
	hold(&j->ch, j->h, CAP_TRIES, 1);
	for (int i = first_cap; i < j->h->n; i++)
		j->cap_admitted += j->h->c[i].srv >= 0;
	j->cap_shed = counter(SVC_CHURN, 2, SPW_REASON_SHED_CAP) - sc0;
	/* A cap refusal is a rejected connect, which the churn counted as refused: not here. */
	j->ch.refused -= j->cap_shed <= j->ch.refused ? j->cap_shed : 0;
	j->dead = held_alive(&j->ch, j->h);
	release(j->h);
	j->drift = settle(0, &j->settle_ms);
	return 0;
}

static void test_full_table(void **state)
{
	static struct holds h;
	struct full_job j = {.h = &h};
	struct run x;
	int err;

	(void)state;
	/* A table's size is fixed when its maps are made: a fresh daemon on fresh pins. */
	err = relaunch(NULL, SMALL_TABLE, false);
	memset(idx_of, 0xff, sizeof(idx_of));
	run_begin(&x, F_FULL);
	if (err) {
		row_fail(x.r, "no daemon with a small table: %s", strerror(-err));
		run_end(&x);
		return;
	}
	err = spw_netns_run(C.topo.end[SPW_TOPO_CLI].ns, full_in_ns, &j);
	if (err)
		row_fail(x.r, "the fill could not run: %s", strerror(-err));
	x.r->resets += j.ch.resets + j.dead;
	x.r->refused += j.ch.refused;
	x.r->has_drift = true;
	x.r->drift = j.drift;
	row_note(x.r,
		 "%d held into a table of %u: %llu entries, %llu admitted untracked (table_full); "
		 "tier cap %d while full: %llu of %d admitted, %llu shed_cap",
		 FILL, j.capacity, (unsigned long long)j.entries, (unsigned long long)j.table_full,
		 CAP, (unsigned long long)j.cap_admitted, CAP_TRIES,
		 (unsigned long long)j.cap_shed);
	if (!j.table_full)
		row_fail(x.r, "the table never filled: no flow admitted untracked");
	if (j.entries > j.capacity)
		row_fail(x.r, "%llu entries in a table of %u", (unsigned long long)j.entries,
			 j.capacity);
	/*
	 * What the README says of a full table (or a service past its share of it): a capped
	 * tier sheds the flows it cannot count, since an uncounted flow would pass its cap.
	 */
	if (j.cap_admitted)
		row_fail(x.r, "a tier capped at %d admitted %llu flows it could not track", CAP,
			 (unsigned long long)j.cap_admitted);
	if (j.ch.last[0])
		row_note(x.r, "%s", j.ch.last);
	run_end(&x);
}

/* ---- the table ---------------------------------------------------------------------------- */

static bool row_ok(const struct row *r)
{
	return r->ran && !r->failed && !r->resets && !r->refused &&
	       (!r->absent || r->gap_documented) && (!r->has_drift || !r->drift);
}

static int print_table(void)
{
	int bad = 0;

	printf("\n| fault | new connections | resets | refused | no program (ms; samples) | "
	       "drift | result |\n| --- | --- | --- | --- | --- | --- | --- |\n");
	for (int f = 0; f < F_COUNT; f++) {
		const struct row *r = &rows[f];
		char drift[32] = "-";

		if (r->has_drift)
			snprintf(drift, sizeof(drift), "%+lld", (long long)r->drift);
		bad += !row_ok(r);
		if (!r->ran) {
			printf("| %s | - | - | - | - | - | not run |\n", fault_name[f]);
			continue;
		}
		printf("| %s | %llu | %llu | %llu | %.0f; %llu/%llu | %s | %s |\n", fault_name[f],
		       (unsigned long long)r->conns, (unsigned long long)r->resets,
		       (unsigned long long)r->refused, r->no_prog_ms, (unsigned long long)r->absent,
		       (unsigned long long)r->samples, drift,
		       !row_ok(r)  ? "MISSED"
		       : r->absent ? "ok (gap documented)"
				   : "ok");
	}
	printf("\nnotes:\n");
	for (int f = 0; f < F_COUNT; f++)
		if (rows[f].note[0])
			printf("  %s: %s\n", fault_name[f], rows[f].note);
	printf("chaos: %d of %d faults missed a goal\n", bad, F_COUNT);
	return bad;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill9),	cmocka_unit_test(test_restart),
	    cmocka_unit_test(test_hup_storm),	cmocka_unit_test(test_report_flood),
	    cmocka_unit_test(test_closes),	cmocka_unit_test(test_upgrade),
	    cmocka_unit_test(test_upgrade_abi), cmocka_unit_test(test_full_table),
	};
	int rc;

	/* Progress shows as it happens, also through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = cmocka_run_group_tests_name("chaos", tests, group_setup, group_teardown);
	return print_table() || rc ? 1 : 0;
}
