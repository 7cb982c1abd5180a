// SPDX-License-Identifier: GPL-2.0-only
/*
 * Flow tracking with real TCP: a client and a server namespace joined by a veth pair,
 * spillway on the server's veth, the kernel's TCP stack on both ends.
 *
 *   (1) 2,000 connections closed in every way a connection ends: the active counts per tier
 *       return to exactly 0 (the idle ones after the sweep), and late packets of ended flows
 *       count nothing down twice;
 *   (2) a concurrency cap of N: the N+1th connection is refused, and admitted once one ends;
 *   (3) a server answering after 20 ms and 80 ms: the p50 of the histogram is in the bucket
 *       of the delay;
 *   (4) 500 established connections, then a spoofed-source SYN flood of 10x the flow table:
 *       the 500 stay tracked and counted, and a tier-0 client connects during the flood.
 *
 * Attach mode: TC (clsact ingress + egress) unless a test says otherwise. Flow tracking sees
 * the server's side (SYN-ACK, FIN, RST, responses) only at TC egress, and spw_dp_attach()
 * attaches an egress program only in TC mode: an XDP attach has ingress alone. Test (1) also
 * runs with an XDP attach, against the same expectations: the issue has the server's side seen
 * at TC egress whichever hook takes ingress, and that run shows whether an XDP attach does.
 *
 * The client's IPv4 and IPv6 addresses are put in different tiers by CIDR rules, so every
 * count is checked per tier. Client sockets bind ports of their own from a range no other
 * socket uses, so no 4-tuple is ever reused within a test (a reused tuple would meet the
 * previous connection's TIME_WAIT and make counts depend on timing).
 *
 * Spoofed sources are drawn from 198.18.0.0/15, the benchmarking range the topology also
 * uses, minus the topology's own /24; the frames go out of the client's veth only, inside
 * namespaces this test created, and the server has no route back to them.
 *
 * Needs root (namespaces, BPF).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_latency.h"
#include "spw_dataplane.h"
#include "netns.h"
#include "attach.h"
#include "sockets.h"
#include "util.h"
#include "pktbuild.h"
#include "spw_fixture.h"
#include "empty_xdp.skel.h"

/* The one service: its id and port. */
#define SVC_TCP	 1
#define TCP_PORT 8080

/* Three tiers: the client's IPv4 address in tier 1, its IPv6 address in tier 2. */
#define TIERS	3
#define TIER_V4 1
#define TIER_V6 2
/* Unclassified sources (the flood's) land in tier 2 unless a test says otherwise. */
#define DEFAULT_TIER 2
/* A lease far longer than any test: a fail-open must never pass for an admit. */
#define LEASE_NS (600ULL * 1000000000ULL)

/* Flow table of the tests that do not size it: far above the connections they open. */
#define TABLE_DEFAULT 16384

/* Anything that should happen at once gets this long on a busy 2-core machine. */
#define IO_TIMEOUT_MS 5000
/* A reject must beat the client's first SYN retransmission (1 s) by far. */
#define REJECT_MAX_MS 500
/* The data plane sees a packet microseconds after it is sent; counts settle within this. */
#define SETTLE_MS 5000

/* Client ports: each connection of a test binds the next one, never reused. */
#define CPORT_BASE 20000

/* Sockets a test may hold at once: 2 per connection, the flood test's 500 and some. */
#define MAX_FD 8192

struct nctx {
	enum spw_attach_mode mode;
	struct spw_topo topo;
	struct spw_fixture fx;
	bool fx_open;
	struct spw_dataplane *dp;
	bool attached;
	struct empty_xdp *empty; /* on the client's veth, XDP mode only */
	int lfd[2]; /* listening sockets, [0] IPv4, [1] IPv6 */
	uint16_t next_port;
	bool open_fd[MAX_FD]; /* sockets the teardown closes */
};

static const enum spw_attach_mode mode_xdp = SPW_ATTACH_XDP;
static const enum spw_attach_mode mode_tc = SPW_ATTACH_TC;

static const char *mode_name(const struct nctx *c)
{
	return c->mode == SPW_ATTACH_TC ? "tc" : "xdp";
}

#define CHECK(c, cond, fmt, ...)                                                                   \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg("[%s] failed: %s\n    " fmt, mode_name(c), #cond, ##__VA_ARGS__); \
	} while (0)

#define CHECK_OK(c, call)                                                                          \
	do {                                                                                       \
		int err_ = (call);                                                                 \
		CHECK(c, err_ == 0, "%s: %s", #call, strerror(-err_));                             \
	} while (0)

static uint32_t tier_of(int family)
{
	return family == AF_INET6 ? TIER_V6 : TIER_V4;
}

/* ---- sockets ----------------------------------------------------------------------------- */

static int track(struct nctx *c, int fd)
{
	CHECK(c, fd >= 0 && fd < MAX_FD, "socket: %s", fd < 0 ? strerror(-fd) : "fd too high");
	c->open_fd[fd] = true;
	return fd;
}

/* Closes a tracked socket; with rst, SO_LINGER 0 turns the close into a reset. */
static void close_fd(struct nctx *c, int *fd, bool rst)
{
	if (*fd < 0)
		return;
	if (rst) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};

		CHECK(c, setsockopt(*fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0,
		      "SO_LINGER: %s", strerror(errno));
	}
	c->open_fd[*fd] = false;
	close(*fd);
	*fd = -1;
}

static void set_nonblock(struct nctx *c, int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	CHECK(c, fl >= 0, "F_GETFL");
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	CHECK(c, fcntl(fd, F_SETFL, fl) == 0, "F_SETFL");
}

static socklen_t addr_of(struct nctx *c, enum spw_topo_side side, int family, uint16_t port,
			 struct sockaddr_storage *ss)
{
	int len = spw_topo_sockaddr(&c->topo, side, family, port, ss);

	CHECK(c, len > 0, "address: %s", strerror(-len));
	return (socklen_t)len;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * A non-blocking client socket in the client namespace, bound to the next unused port, with
 * connect() started. Returns the fd; *port is its port.
 */
static int connect_start(struct nctx *c, int family, uint16_t *port)
{
	struct sockaddr_storage src, dst;
	socklen_t slen, dlen = addr_of(c, SPW_TOPO_SRV, family, TCP_PORT, &dst);
	int fd = track(c, spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, family, SOCK_STREAM, 0));
	int one = 1;

	*port = c->next_port++;
	slen = addr_of(c, SPW_TOPO_CLI, family, *port, &src);
	CHECK(c, setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "REUSEADDR");
	CHECK(c, bind(fd, (struct sockaddr *)&src, slen) == 0, "bind port %u: %s", *port,
	      strerror(errno));
	set_nonblock(c, fd, true);
	CHECK(c, connect(fd, (struct sockaddr *)&dst, dlen) == 0 || errno == EINPROGRESS,
	      "connect: %s", strerror(errno));
	return fd;
}

/* Waits for a started connect: 0, the negative errno it failed with, or -ETIMEDOUT. */
static int connect_wait(int fd, int wait_ms)
{
	int r = spw_connect_wait(fd, wait_ms);

	return r == SPW_CONN_PENDING ? -ETIMEDOUT : r;
}

/* Accepts one connection from either listener, waiting up to wait_ms; -1 when none came. */
static int accept_any(struct nctx *c, int wait_ms, uint16_t *peer_port)
{
	struct pollfd p[2] = {
	    {.fd = c->lfd[0], .events = POLLIN},
	    {.fd = c->lfd[1], .events = POLLIN},
	};
	int n;

	for (;;) {
		for (int i = 0; i < 2; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			int fd = accept4(c->lfd[i], (struct sockaddr *)&ss, &len,
					 SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0) {
				*peer_port = port_of(&ss);
				return track(c, fd);
			}
			CHECK(c, errno == EAGAIN || errno == ECONNABORTED, "accept: %s",
			      strerror(errno));
		}
		do {
			n = poll(p, 2, wait_ms);
		} while (n < 0 && errno == EINTR);
		CHECK(c, n >= 0, "poll: %s", strerror(errno));
		if (n == 0)
			return -1;
	}
}

static void send_all(struct nctx *c, int fd, const char *buf, size_t len)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			CHECK(c, poll(&p, 1, IO_TIMEOUT_MS) == 1, "send: no room in time");
			continue;
		}
		CHECK(c, n > 0, "send: %s", strerror(errno));
		sent += (size_t)n;
	}
}

static void recv_exact(struct nctx *c, int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		CHECK(c, poll(&p, 1, IO_TIMEOUT_MS) == 1, "recv: nothing after %zu of %zu bytes",
		      got, len);
		n = recv(fd, buf + got, len - got, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		CHECK(c, n > 0, "recv: %s after %zu of %zu bytes", n ? strerror(errno) : "EOF", got,
		      len);
		got += (size_t)n;
	}
}

static void set_policy(struct nctx *c, const uint32_t max_conns[SPW_MAX_TIERS])
{
	struct spw_policy p;

	spw_policy_init(&p, TIERS, DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.admit_level = SPW_RANK_LIMIT;
	for (int t = 0; t < SPW_MAX_TIERS; t++) {
		/* Reject: a shed connect fails at once instead of retransmitting its SYN. */
		p.action[t] = SPW_ACTION_REJECT;
		p.max_conns[t] = max_conns ? max_conns[t] : 0;
	}
	CHECK_OK(c, spw_dp_policy_set(c->dp, SVC_TCP, &p));
}

/* A rule putting one of the client's own addresses into a tier. */
static void client_rule(struct nctx *c, int family, uint8_t tier, uint32_t id)
{
	const struct spw_topo_end *e = &c->topo.end[SPW_TOPO_CLI];
	struct spw_cidr cidr;

	CHECK_OK(c, spw_fixture_cidr(family == AF_INET ? e->v4_str : e->v6_str, &cidr));
	CHECK_OK(c, spw_dp_rule_add(c->dp, &cidr, tier, id));
}

static int listen_on(struct nctx *c, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(c, SPW_TOPO_SRV, family, TCP_PORT, &ss);
	int fd = track(c, spw_netns_socket(c->topo.end[SPW_TOPO_SRV].ns, family, SOCK_STREAM, 0));

	CHECK(c, bind(fd, (struct sockaddr *)&ss, len) == 0, "bind: %s", strerror(errno));
	/* Room for a whole batch of the tests' connections between accepts. */
	CHECK(c, listen(fd, 1024) == 0, "listen: %s", strerror(errno));
	set_nonblock(c, fd, true);
	return fd;
}

/*
 * Topology, data plane (flow table of capacity entries), attach, rules, policy, listeners.
 * Built in the test, not in a setup: cmocka skips the teardown of a failed setup.
 */
static struct nctx *build(void **state, uint32_t capacity, uint8_t tier_v6)
{
	struct nctx *c = *state;
	const struct spw_dp_opts opts = {.flow_capacity = capacity};
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = TCP_PORT};
	int err;

	CHECK_OK(c, spw_topo_create(&c->topo));
	CHECK_OK(c, spw_fixture_open_opts(&c->fx, &opts));
	c->fx_open = true;
	c->dp = c->fx.dp;

	CHECK_OK(c, spw_dp_service_add(c->dp, &m, SVC_TCP));
	client_rule(c, AF_INET, TIER_V4, 1);
	client_rule(c, AF_INET6, tier_v6, 2);
	set_policy(c, NULL);

	err = spw_topo_attach(&c->topo, c->dp, c->mode);
	CHECK(c, err == 0, "attach to %s: %s", c->topo.end[SPW_TOPO_SRV].ifname, strerror(-err));
	c->attached = true;
	if (c->mode != SPW_ATTACH_TC) {
		/* XDP_TX (reject) into a veth only arrives if the peer runs XDP too. */
		c->empty = empty_xdp__open_and_load();
		CHECK(c, c->empty != NULL, "empty XDP program");
		err = spw_topo_attach_xdp(&c->topo, SPW_TOPO_CLI, c->empty->progs.empty_xdp,
					  &c->empty->links.empty_xdp);
		CHECK(c, err == 0, "empty XDP on the client veth: %s", strerror(-err));
	}
	c->lfd[0] = listen_on(c, AF_INET);
	c->lfd[1] = listen_on(c, AF_INET6);
	return c;
}

static int setup(void **state)
{
	struct nctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->mode = *(const enum spw_attach_mode *)*state;
	c->lfd[0] = c->lfd[1] = -1;
	c->next_port = CPORT_BASE;
	*state = c;
	return 0;
}

/* Runs after failed assertions too; checks nothing is left behind. */
static int teardown(void **state)
{
	struct nctx *c = *state;
	char pin_root[SPW_FX_PIN_LEN];
	bool ns_left, pins_left;
	struct stat st;

	if (!c)
		return 0;
	for (int fd = 0; fd < MAX_FD; fd++)
		if (c->open_fd[fd])
			close(fd);
	empty_xdp__destroy(c->empty);
	if (c->attached)
		spw_topo_detach(&c->topo, c->dp);
	snprintf(pin_root, sizeof(pin_root), "%s", c->fx.pin_root);
	if (c->fx_open)
		spw_fixture_close(&c->fx);
	spw_topo_destroy(&c->topo);
	ns_left = spw_netns_exists(c->topo.end[SPW_TOPO_SRV].ns) ||
		  spw_netns_exists(c->topo.end[SPW_TOPO_CLI].ns);
	pins_left = pin_root[0] && stat(pin_root, &st) == 0;
	if (ns_left)
		fprintf(stderr, "teardown: a namespace of %s is still there\n",
			c->topo.end[SPW_TOPO_SRV].ns);
	if (pins_left)
		fprintf(stderr, "teardown: pin root %s is still there\n", pin_root);
	free(c);
	*state = NULL;
	return ns_left || pins_left ? -1 : 0;
}

/* ---- what the data plane holds ----------------------------------------------------------- */

static uint64_t active(struct nctx *c, uint32_t tier)
{
	uint64_t n;

	CHECK_OK(c, spw_dp_active_read(c->dp, SVC_TCP, tier, &n));
	return n;
}

/* Waits until every tier's count is want[tier], at most SETTLE_MS; got is what it saw last. */
static bool counts_reach(struct nctx *c, const uint64_t want[SPW_MAX_TIERS],
			 uint64_t got[SPW_MAX_TIERS])
{
	double deadline = spw_now_ms() + SETTLE_MS;
	bool same;

	do {
		same = true;
		for (uint32_t t = 0; t < SPW_MAX_TIERS; t++) {
			got[t] = active(c, t);
			same = same && got[t] == want[t];
		}
		if (same)
			return true;
		spw_sleep_ms(1);
	} while (spw_now_ms() < deadline);
	return false;
}

/* Fails with both sets of counts, and why when the caller knows more (extra, may be ""). */
static void counts_fail(struct nctx *c, const char *when, const uint64_t want[SPW_MAX_TIERS],
			const uint64_t got[SPW_MAX_TIERS], const char *extra)
{
	/* Signed: a count decremented below 0 reads as -1, not 18446744073709551615. */
	fail_msg("[%s] %s: active counts per tier 0/1/2 are %lld/%lld/%lld, want %llu/%llu/%llu%s",
		 mode_name(c), when, (long long)got[0], (long long)got[1], (long long)got[2],
		 (unsigned long long)want[0], (unsigned long long)want[1],
		 (unsigned long long)want[2], extra);
}

static void wait_counts(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], const char *when)
{
	uint64_t got[SPW_MAX_TIERS];

	if (!counts_reach(c, want, got))
		counts_fail(c, when, want, got, "");
}

static uint64_t table_entries(struct nctx *c)
{
	uint64_t n;
	uint32_t cap;

	CHECK_OK(c, spw_dp_flow_count(c->dp, &n, &cap));
	return n;
}

static int count_state(const struct spw_flow_key *k, const struct spw_flow *v, void *by_state)
{
	(void)k;
	((uint64_t *)by_state)[v->state < 4 ? v->state : 0]++;
	return 0;
}

/* Entries of the table by state. */
static void entries_by_state(struct nctx *c, uint64_t by_state[4])
{
	memset(by_state, 0, 4 * sizeof(*by_state));
	spw_dp_flows_foreach(c->dp, count_state, by_state);
}

/* The flow entry of a client connection (client port cport), or -ENOENT. */
static int flow_of(struct nctx *c, int family, uint16_t cport, struct spw_flow *v)
{
	const struct spw_topo_end *cl = &c->topo.end[SPW_TOPO_CLI],
				  *sv = &c->topo.end[SPW_TOPO_SRV];
	struct spw_flow_key k;

	memset(&k, 0, sizeof(k));
	CHECK_OK(c, spw_fixture_addr(family == AF_INET ? cl->v4_str : cl->v6_str, k.saddr));
	CHECK_OK(c, spw_fixture_addr(family == AF_INET ? sv->v4_str : sv->v6_str, k.daddr));
	k.sport = htons(cport);
	k.dport = htons(TCP_PORT);
	k.proto = IPPROTO_TCP;
	return spw_dp_flow_get(c->dp, &k, v);
}

/* Packets counted for (tier, reason) since the fixture's mark. */
static uint64_t moved(struct nctx *c, uint32_t tier, enum spw_reason r)
{
	struct spw_count d;

	CHECK_OK(c, spw_fixture_delta(&c->fx, SVC_TCP, tier, r, &d));
	return d.packets;
}

static struct spw_sweep_stats sweep(struct nctx *c, uint64_t syn_ms, uint64_t idle_ms)
{
	const struct spw_sweep_opts o = {
	    .syn_timeout_ns = syn_ms * 1000000ULL,
	    .idle_timeout_ns = idle_ms * 1000000ULL,
	    .udp_timeout_ns = idle_ms * 1000000ULL,
	};
	struct spw_sweep_stats st;

	CHECK_OK(c, spw_dp_flows_sweep(c->dp, &o, &st));
	return st;
}

/* ---- (1) every way a connection ends ----------------------------------------------------- */

enum end_mode {
	END_CLI_FIN,	  /* client closes first */
	END_SRV_FIN,	  /* server closes first */
	END_CLI_RST,	  /* client resets (SO_LINGER 0) */
	END_SRV_RST,	  /* server resets */
	END_ABORT_ACCEPT, /* handshake done, client resets before the server accepted */
	END_ABORT_SYN,	  /* client closes while its SYN is in flight */
	END_IDLE,	  /* left open: the sweep's idle timeout ends it */
	END_MODES
};

static const char *const end_names[END_MODES] = {
    "client FIN",	   "server FIN",	   "client RST", "server RST",
    "abort before accept", "abort during connect", "idle",
};

struct conn {
	int cli, srv;
	int family;
	uint16_t port;
	enum end_mode end;
};

/* Connections of test (1), the 2,000; opened and ended a batch at a time. */
#define CONNS 2000
#define BATCH 100
/* The sweep's idle timeout: the idle connections are older than this when it runs. */
#define IDLE_MS 1000
/* Long enough that nothing half-open is left to a SYN timeout in TC mode. */
#define SYN_LONG_MS 60000

/* Accepts until every connection of the batch that must reach the server has its socket. */
static void accept_batch(struct nctx *c, struct conn *b, int n)
{
	double deadline = spw_now_ms() + IO_TIMEOUT_MS;
	int missing = 0;

	for (int i = 0; i < n; i++)
		missing += b[i].end != END_ABORT_ACCEPT && b[i].end != END_ABORT_SYN;
	while (missing > 0) {
		uint16_t port;
		int fd = accept_any(c, (int)(deadline - spw_now_ms()), &port), i;

		CHECK(c, fd >= 0, "%d connections never reached accept()", missing);
		for (i = 0; i < n; i++)
			if (b[i].port == port && b[i].srv < 0 && b[i].end != END_ABORT_ACCEPT &&
			    b[i].end != END_ABORT_SYN)
				break;
		if (i == n) {
			/* An aborted connection the server still had queued: close it too. */
			close_fd(c, &fd, false);
			continue;
		}
		b[i].srv = fd;
		missing--;
	}
}

/*
 * Why a batch's counts are off: its ended connections that are still in the table, by way of
 * ending and state.
 */
static void batch_fail(struct nctx *c, const struct conn *b, int n, const char *when,
		       const uint64_t want[SPW_MAX_TIERS], const uint64_t got[SPW_MAX_TIERS])
{
	unsigned int left[END_MODES][4] = {{0}};
	char extra[1024] = "";
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		struct spw_flow v;

		if (b[i].end != END_IDLE && !flow_of(c, b[i].family, b[i].port, &v))
			left[b[i].end][v.state < 4 ? v.state : 0]++;
	}
	for (int m = 0; m < END_MODES; m++)
		for (int st = 0; st < 4; st++)
			if (left[m][st] && off < sizeof(extra))
				off += (size_t)snprintf(extra + off, sizeof(extra) - off,
							"\n    ended by %s but still tracked: %u "
							"(state %s)",
							end_names[m], left[m][st],
							st == SPW_FLOW_SYN_SEEN	     ? "SYN_SEEN"
							: st == SPW_FLOW_ESTABLISHED ? "ESTABLISHED"
										     : "other");
	counts_fail(c, when, want, got, extra);
}

/* Ends the connection's first side, the one its mode names. */
static void end_first(struct nctx *c, struct conn *x)
{
	switch (x->end) {
	case END_CLI_FIN:
		close_fd(c, &x->cli, false);
		break;
	case END_SRV_FIN:
		close_fd(c, &x->srv, false);
		break;
	case END_CLI_RST:
		close_fd(c, &x->cli, true);
		break;
	case END_SRV_RST:
		close_fd(c, &x->srv, true);
		break;
	default:
		break;
	}
}

static void counts_case(struct nctx *c)
{
	static struct conn conns[CONNS];
	uint64_t want[SPW_MAX_TIERS] = {0}, got[SPW_MAX_TIERS], admitted = 0, by_state[4];
	uint64_t idle_total = 0, ended[END_MODES] = {0};
	struct spw_sweep_stats st;
	double t0 = spw_now_ms();

	CHECK_OK(c, spw_fixture_mark(&c->fx));
	for (int base = 0; base < CONNS; base += BATCH) {
		struct conn *b = &conns[base];

		for (int i = 0; i < BATCH; i++) {
			int k = base + i;

			b[i].end = (enum end_mode)(k % END_MODES);
			/* Alternating per round of modes: every mode in both families. */
			b[i].family = (k / END_MODES) % 2 ? AF_INET6 : AF_INET;
			b[i].srv = -1;
			b[i].cli = connect_start(c, b[i].family, &b[i].port);
			if (b[i].end == END_ABORT_SYN)
				close_fd(c, &b[i].cli, false);
		}
		for (int i = 0; i < BATCH; i++) {
			int err;

			if (b[i].cli < 0)
				continue;
			err = connect_wait(b[i].cli, IO_TIMEOUT_MS);
			CHECK(c, err == 0, "connect from port %u: %s", b[i].port, strerror(-err));
			if (b[i].end == END_ABORT_ACCEPT)
				close_fd(c, &b[i].cli, true);
		}
		accept_batch(c, b, BATCH);

		/* First side: every connection but the idle ones has ended after this. */
		for (int i = 0; i < BATCH; i++) {
			end_first(c, &b[i]);
			ended[b[i].end]++;
			if (b[i].end == END_IDLE) {
				want[tier_of(b[i].family)]++;
				idle_total++;
			}
		}
		if (!counts_reach(c, want, got))
			batch_fail(c, b, BATCH, "after the first close of a batch", want, got);
		/* The other side: its FIN (or nothing, after a reset) must count nothing down. */
		for (int i = 0; i < BATCH; i++) {
			if (b[i].end == END_IDLE)
				continue;
			close_fd(c, &b[i].cli, false);
			close_fd(c, &b[i].srv, false);
		}
		if (!counts_reach(c, want, got))
			batch_fail(c, b, BATCH, "after the second close of a batch", want, got);
	}
	admitted = moved(c, TIER_V4, SPW_REASON_ADMITTED) + moved(c, TIER_V6, SPW_REASON_ADMITTED);
	print_message("    %d connections in %.0f ms; %llu idle left open\n", CONNS,
		      spw_now_ms() - t0, (unsigned long long)idle_total);
	for (int m = 0; m < END_MODES; m++)
		print_message("      %-22s %llu\n", end_names[m], (unsigned long long)ended[m]);

	/* Every SYN was one decision, admitted and tracked; nothing was shed or left untracked. */
	CHECK(c, admitted == CONNS, "%llu admitted, want %d", (unsigned long long)admitted, CONNS);
	CHECK(c, moved(c, 0, SPW_REASON_ADMITTED) == 0, "tier 0 admitted something");
	for (uint32_t t = 0; t < TIERS; t++)
		CHECK(c,
		      !moved(c, t, SPW_REASON_TABLE_FULL) && !moved(c, t, SPW_REASON_FLOOD_GUARD) &&
			  !moved(c, t, SPW_REASON_SHED_CAP),
		      "tier %u: a flow went untracked or shed", t);

	/* Late packets (retransmitted FINs, TIME_WAIT ACKs) have had time: still exact. */
	spw_sleep_ms(IDLE_MS + 200);
	wait_counts(c, want, "before the sweep");
	entries_by_state(c, by_state);
	print_message("    table before the sweep: %llu SYN_SEEN, %llu ESTABLISHED\n",
		      (unsigned long long)by_state[SPW_FLOW_SYN_SEEN],
		      (unsigned long long)by_state[SPW_FLOW_ESTABLISHED]);
	CHECK(c, by_state[SPW_FLOW_ESTABLISHED] == idle_total && by_state[SPW_FLOW_SYN_SEEN] == 0,
	      "the %llu idle connections are not all in state ESTABLISHED",
	      (unsigned long long)idle_total);

	/* A long timeout removes nothing; the idle timeout removes exactly the idle ones. */
	st = sweep(c, SYN_LONG_MS, SYN_LONG_MS);
	CHECK(c, st.expired == 0, "a 60 s sweep expired %llu", (unsigned long long)st.expired);
	st = sweep(c, SYN_LONG_MS, IDLE_MS);
	CHECK(c, st.expired == idle_total, "the sweep expired %llu, want the %llu idle ones",
	      (unsigned long long)st.expired, (unsigned long long)idle_total);
	memset(want, 0, sizeof(want));
	wait_counts(c, want, "after the sweep");
	CHECK(c, table_entries(c) == 0, "%llu entries left", (unsigned long long)table_entries(c));

	/* The idle connections end now: their FINs find no entry and count nothing down. */
	for (int i = 0; i < CONNS; i++) {
		if (conns[i].end != END_IDLE)
			continue;
		close_fd(c, &conns[i].cli, false);
		close_fd(c, &conns[i].srv, false);
	}
	spw_sleep_ms(200);
	wait_counts(c, want, "after closing the swept connections");
	print_message("    total %.0f ms\n", spw_now_ms() - t0);
}

/*
 * (1) 2,000 connections, 7 ways of ending, both families (tiers 1 and 2), in batches of 100:
 * after each batch the counts are exactly the idle connections so far; after the sweep, 0.
 */
static void test_counts_return_to_zero(void **state)
{
	counts_case(build(state, TABLE_DEFAULT, TIER_V6));
}

/* ---- (2) the cap ------------------------------------------------------------------------- */

/* The cap of test (2): small, so the test opens few connections. */
#define CAP 5

static int connect_now(struct nctx *c, int family, uint16_t *port, int *fd, double *ms)
{
	double t0 = spw_now_ms();
	int err;

	*fd = connect_start(c, family, port);
	err = connect_wait(*fd, IO_TIMEOUT_MS);
	*ms = spw_now_ms() - t0;
	return err;
}

/* Connects and accepts; the pair must come up at once. */
static void open_pair(struct nctx *c, int family, struct conn *x)
{
	double ms;
	int err = connect_now(c, family, &x->port, &x->cli, &ms);
	uint16_t peer;

	CHECK(c, err == 0, "connect (port %u): %s after %.0f ms", x->port, strerror(-err), ms);
	x->family = family;
	x->srv = accept_any(c, IO_TIMEOUT_MS, &peer);
	CHECK(c, x->srv >= 0 && peer == x->port, "accept: got port %u, want %u", peer, x->port);
}

static void expect_refused(struct nctx *c, int family)
{
	uint16_t port, peer;
	double ms;
	int fd, err = connect_now(c, family, &port, &fd, &ms);

	CHECK(c, err == -ECONNREFUSED, "connect at the cap: %s after %.0f ms, want ECONNREFUSED",
	      err ? strerror(-err) : "connected", ms);
	CHECK(c, ms < REJECT_MAX_MS, "the reject took %.0f ms", ms);
	close_fd(c, &fd, false);
	CHECK(c, accept_any(c, 0, &peer) < 0, "a shed connection reached accept()");
}

/*
 * (2) A cap of 5 on the IPv4 client's tier, action reject: the 6th concurrent connection is
 * refused at once (and counted shed_cap) while another tier still connects; once one of the 5
 * ends, by FIN or by the server's reset, the next is admitted, and the cap holds again.
 */
static void test_cap(void **state)
{
	static const uint32_t caps[SPW_MAX_TIERS] = {[TIER_V4] = CAP};
	struct nctx *c = build(state, TABLE_DEFAULT, TIER_V6);
	struct conn x[CAP + 2], v6;
	uint64_t want[SPW_MAX_TIERS] = {0};

	set_policy(c, caps);
	CHECK_OK(c, spw_fixture_mark(&c->fx));
	for (int i = 0; i < CAP; i++)
		open_pair(c, AF_INET, &x[i]);
	want[TIER_V4] = CAP;
	wait_counts(c, want, "at the cap");

	expect_refused(c, AF_INET);
	CHECK(c, moved(c, TIER_V4, SPW_REASON_SHED_CAP) == 1, "shed_cap %llu, want 1",
	      (unsigned long long)moved(c, TIER_V4, SPW_REASON_SHED_CAP));
	/* The cap is the tier's: tier 2 connects meanwhile. */
	open_pair(c, AF_INET6, &v6);
	want[TIER_V6] = 1;
	wait_counts(c, want, "tier 2 beside the capped tier");

	/* One ends by the client's FIN: a place is free, the next connection takes it. */
	close_fd(c, &x[0].cli, false);
	want[TIER_V4] = CAP - 1;
	wait_counts(c, want, "after a client FIN");
	open_pair(c, AF_INET, &x[CAP]);
	want[TIER_V4] = CAP;
	wait_counts(c, want, "at the cap again");
	expect_refused(c, AF_INET);

	/* One ends by the server's reset (seen at egress): admitted again. */
	close_fd(c, &x[1].srv, true);
	want[TIER_V4] = CAP - 1;
	wait_counts(c, want, "after a server RST");
	open_pair(c, AF_INET, &x[CAP + 1]);
	want[TIER_V4] = CAP;
	wait_counts(c, want, "at the cap a third time");
	expect_refused(c, AF_INET);
	CHECK(c, moved(c, TIER_V4, SPW_REASON_SHED_CAP) == 3, "shed_cap %llu, want 3",
	      (unsigned long long)moved(c, TIER_V4, SPW_REASON_SHED_CAP));
	CHECK(c, moved(c, TIER_V4, SPW_REASON_ADMITTED) == CAP + 2, "admitted %llu, want %d",
	      (unsigned long long)moved(c, TIER_V4, SPW_REASON_ADMITTED), CAP + 2);
}

/* ---- (3) latency ------------------------------------------------------------------------- */

/* Requests per connection: the p50 of 10 is the 5th, far from either end. */
#define REQUESTS 10

/*
 * Request, the server waits delay_ms, response; one at a time. The client's request is seen
 * at ingress, the response at egress, delay_ms apart plus scheduling.
 */
static void serve_with_delay(struct nctx *c, const struct conn *x, unsigned int delay_ms)
{
	static const char req[] = "GET /slow", resp[] = "200 after a while";
	char buf[64];

	for (int i = 0; i < REQUESTS; i++) {
		send_all(c, x->cli, req, sizeof(req));
		recv_exact(c, x->srv, buf, sizeof(req));
		spw_sleep_ms(delay_ms);
		send_all(c, x->srv, resp, sizeof(resp));
		recv_exact(c, x->cli, buf, sizeof(resp));
		CHECK(c, !memcmp(buf, resp, sizeof(resp)), "response garbled");
	}
}

static void check_p50(struct nctx *c, uint32_t tier, unsigned int delay_ms)
{
	struct spw_latency_hist h;
	double p50, p99;
	uint32_t want = spw_latency_bucket(delay_ms * 1000);

	CHECK_OK(c, spw_dp_latency_read(c->dp, SVC_TCP, tier, &h));
	CHECK(c, h.count == REQUESTS, "tier %u: %llu samples, want one per request (%d)", tier,
	      (unsigned long long)h.count, REQUESTS);
	CHECK_OK(c, spw_latency_quantile(&h, 0.5, &p50));
	CHECK_OK(c, spw_latency_quantile(&h, 0.99, &p99));
	print_message("    %u ms server: p50 %.0f us, p99 %.0f us (bucket %u: [%llu, %llu) us)\n",
		      delay_ms, p50, p99, want, (unsigned long long)spw_latency_bucket_lower(want),
		      (unsigned long long)spw_latency_bucket_lower(want + 1));
	CHECK(c,
	      p50 >= (double)spw_latency_bucket_lower(want) &&
		  p50 <= (double)spw_latency_bucket_lower(want + 1),
	      "p50 %.0f us is not in bucket %u of %u ms", p50, want, delay_ms);
	CHECK(c, h.buckets[want] * 2 > h.count, "only %llu of %llu samples in bucket %u",
	      (unsigned long long)h.buckets[want], (unsigned long long)h.count, want);
}

/*
 * (3) A 20 ms server on the IPv4 connection (tier 1), an 80 ms one on IPv6 (tier 2): one sample
 * per request, and the p50 in [16384, 32768) and [65536, 131072) us respectively.
 */
static void test_latency_p50(void **state)
{
	struct nctx *c = build(state, TABLE_DEFAULT, TIER_V6);
	struct conn a, b;
	struct spw_latency_hist h;

	open_pair(c, AF_INET, &a);
	open_pair(c, AF_INET6, &b);
	serve_with_delay(c, &a, 20);
	serve_with_delay(c, &b, 80);
	check_p50(c, TIER_V4, 20);
	check_p50(c, TIER_V6, 80);
	CHECK_OK(c, spw_dp_latency_read(c->dp, SVC_TCP, 0, &h));
	CHECK(c, h.count == 0, "tier 0 has %llu samples", (unsigned long long)h.count);
}

/* ---- (4) SYN flood ----------------------------------------------------------------------- */

/* Test (4): a 2,048-entry table, 10 times that many SYNs over 3 s, in 10 ms slices. */
#define FLOOD_TABLE    2048
#define FLOOD_FRAMES   (10 * FLOOD_TABLE)
#define FLOOD_MS       3000
#define FLOOD_SLICE_MS 10
/* Connections established before the flood, the 500. */
#define ESTABLISHED_N 500
/* The flood guard: new entries per second per CPU, and its burst. */
#define GUARD_RATE  100
#define GUARD_BURST 100
/* 198.18.0.0/15: 2^17 addresses. */
#define SPOOF_SPACE (1U << 17)
/* The unguarded fill: twice the table, in chunks the veth's backlog (1000) takes. */
#define FILL_FRAMES (2 * FLOOD_TABLE)
#define FILL_CHUNK  256
/* The tier-0 connect starts this far into the flood. */
#define CRIT_AT_MS 1000

struct flood {
	int fd;
	struct sockaddr_ll to;
	uint8_t smac[6], dmac[6];
	char daddr[INET_ADDRSTRLEN];
	unsigned int subnet; /* the topology's own 198.18.<subnet>.0/24: never spoofed */
	uint32_t next;	     /* index into the permutation of the spoofed space */
	uint64_t sent;
};

static int hwaddr_of(struct nctx *c, const struct spw_topo_end *e, uint8_t mac[6])
{
	int fd = spw_netns_socket(e->ns, AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	int err = 0;

	CHECK(c, fd >= 0, "socket in %s", e->ns);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", e->ifname);
	/* Device ioctls resolve the name in the socket's namespace. */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static void flood_open(struct nctx *c, struct flood *f)
{
	const struct spw_topo_end *cl = &c->topo.end[SPW_TOPO_CLI];

	memset(f, 0, sizeof(*f));
	CHECK_OK(c, hwaddr_of(c, cl, f->smac));
	CHECK_OK(c, hwaddr_of(c, &c->topo.end[SPW_TOPO_SRV], f->dmac));
	/* Protocol 0: this socket only sends, it receives nothing. */
	f->fd = track(c, spw_netns_socket(cl->ns, AF_PACKET, SOCK_RAW, 0));
	f->to.sll_family = AF_PACKET;
	f->to.sll_ifindex = cl->ifindex;
	f->to.sll_halen = 6;
	memcpy(f->to.sll_addr, f->dmac, 6);
	snprintf(f->daddr, sizeof(f->daddr), "%s", c->topo.end[SPW_TOPO_SRV].v4_str);
	f->subnet = c->topo.n;
}

/*
 * The next spoofed source: an odd multiplier walks all of 2^17 without repeating, so every
 * SYN is a new 5-tuple; the topology's /24 and .0/.255 hosts are skipped.
 */
static void spoof_next(struct flood *f, char *buf, size_t len)
{
	uint32_t h, third;

	do {
		h = (f->next++ * 2654435761u + 12345u) & (SPOOF_SPACE - 1);
		third = (h >> 8) & 0xff;
	} while ((h < 65536 && third == f->subnet) || (h & 0xff) == 0 || (h & 0xff) == 255);
	snprintf(buf, len, "198.%u.%u.%u", 18 + (h >> 16), third, h & 0xff);
}

static void flood_send(struct nctx *c, struct flood *f, int frames)
{
	for (int i = 0; i < frames; i++) {
		char src[INET_ADDRSTRLEN];
		struct pkt_spec s = {
		    .family = 4,
		    .saddr = src,
		    .daddr = f->daddr,
		    .sport = (uint16_t)(1024 + (f->next * 7919u) % 60000),
		    .dport = TCP_PORT,
		    .tcp_flags = PKT_TCP_SYN,
		    .seq = f->next * 2654435761u,
		    .tcp_opts_len = PKT_LINUX_SYN_OPTS,
		};
		uint8_t frame[PKT_BUF_MAX];
		size_t len;

		spoof_next(f, src, sizeof(src));
		memcpy(s.smac, f->smac, 6);
		memcpy(s.dmac, f->dmac, 6);
		len = pkt_build(&s, frame, sizeof(frame));
		CHECK(c, len > 0, "flood frame does not build");
		CHECK(c,
		      sendto(f->fd, frame, len, 0, (struct sockaddr *)&f->to, sizeof(f->to)) ==
			  (ssize_t)len,
		      "AF_PACKET send: %s", strerror(errno));
		f->sent++;
	}
}

/*
 * (4) 500 established connections (tier 1), then 20,480 SYNs from spoofed sources (tier 2)
 * over 3 s against a 2,048-entry table with a flood guard of 100 inserts/s per CPU; 1 s in,
 * a tier-0 client (the client's IPv6 address) connects. All 500 must still be in the table,
 * established and counted, and still carry data; the tier-0 connect must succeed.
 */
static void test_syn_flood(void **state)
{
	struct nctx *c = build(state, FLOOD_TABLE, 0);
	static struct conn est[ESTABLISHED_N];
	uint64_t guarded, tracked, full, entries;
	struct conn crit = {.cli = -1, .srv = -1};
	double t0, crit_t0 = 0, crit_ms = -1;
	uint16_t crit_port = 0, peer;
	int crit_err = -EINPROGRESS;
	struct flood f;
	int ncpus = libbpf_num_possible_cpus();

	for (int base = 0; base < ESTABLISHED_N; base += BATCH) {
		for (int i = base; i < base + BATCH; i++) {
			est[i].family = AF_INET;
			est[i].srv = -1;
			est[i].end = END_IDLE;
			est[i].cli = connect_start(c, AF_INET, &est[i].port);
		}
		for (int i = base; i < base + BATCH; i++) {
			int err = connect_wait(est[i].cli, IO_TIMEOUT_MS);

			CHECK(c, err == 0, "connect %d: %s", i, strerror(-err));
		}
		accept_batch(c, &est[base], BATCH);
	}
	{
		uint64_t want[SPW_MAX_TIERS] = {[TIER_V4] = ESTABLISHED_N};

		wait_counts(c, want, "500 established");
	}
	/*
	 * The guard goes on once the 500 are in: a burst of 100 legitimate connects is more than
	 * its budget of 100 per CPU, and those would be admitted untracked, by design.
	 */
	CHECK_OK(c, spw_dp_flood_guard_set(c->dp, GUARD_RATE, GUARD_BURST));

	CHECK_OK(c, spw_fixture_mark(&c->fx));
	flood_open(c, &f);
	t0 = spw_now_ms();
	for (int slice = 0; f.sent < FLOOD_FRAMES; slice++) {
		double due = t0 + (slice + 1) * FLOOD_SLICE_MS;
		uint64_t per = FLOOD_FRAMES * FLOOD_SLICE_MS / FLOOD_MS;

		if (per > FLOOD_FRAMES - f.sent)
			per = FLOOD_FRAMES - f.sent;
		flood_send(c, &f, (int)per);
		if (crit.cli < 0 && crit_ms < 0 && spw_now_ms() - t0 >= CRIT_AT_MS) {
			crit_t0 = spw_now_ms();
			crit.cli = connect_start(c, AF_INET6, &crit_port);
		}
		if (crit.cli >= 0 && crit_ms < 0) {
			crit_err = connect_wait(crit.cli, 0);
			if (crit_err == 0)
				crit_ms = spw_now_ms() - crit_t0;
		}
		if (spw_now_ms() < due)
			spw_sleep_ms((unsigned int)(due - spw_now_ms()));
	}
	print_message("    flood: %llu SYNs in %.0f ms; tier-0 connect %s after %.0f ms\n",
		      (unsigned long long)f.sent, spw_now_ms() - t0,
		      crit_ms >= 0 ? "succeeded" : "still pending", crit_ms);
	CHECK(c, crit.cli >= 0 && crit_ms >= 0,
	      "the tier-0 connect did not succeed during the flood: %s", strerror(-crit_err));
	crit.srv = accept_any(c, IO_TIMEOUT_MS, &peer);
	CHECK(c, crit.srv >= 0 && peer == crit_port, "tier-0 connection not accepted");

	spw_sleep_ms(100); /* the last frames through the veth */
	guarded = moved(c, DEFAULT_TIER, SPW_REASON_FLOOD_GUARD);
	tracked = moved(c, DEFAULT_TIER, SPW_REASON_ADMITTED);
	full = moved(c, DEFAULT_TIER, SPW_REASON_TABLE_FULL);
	entries = table_entries(c);
	print_message("    flood SYNs: %llu tracked, %llu flood_guard, %llu table_full; %llu "
		      "entries of %d; tier-0 SYN: %llu admitted, %llu flood_guard\n",
		      (unsigned long long)tracked, (unsigned long long)guarded,
		      (unsigned long long)full, (unsigned long long)entries, FLOOD_TABLE,
		      (unsigned long long)moved(c, 0, SPW_REASON_ADMITTED),
		      (unsigned long long)moved(c, 0, SPW_REASON_FLOOD_GUARD));
	/* The flood arrived and was decided: each SYN a new flow, admitted tracked or not. */
	CHECK(c, tracked + guarded + full >= f.sent * 9 / 10, "only %llu of %llu SYNs decided",
	      (unsigned long long)(tracked + guarded + full), (unsigned long long)f.sent);
	CHECK(c, guarded > 0, "the flood guard never engaged");
	/* Inserts stayed within the guard's budget: burst plus refill, per CPU. */
	CHECK(c, tracked <= (uint64_t)ncpus * (GUARD_BURST + GUARD_RATE * (FLOOD_MS / 1000 + 2)),
	      "%llu flood flows tracked: more than the guard allows", (unsigned long long)tracked);
	CHECK(c, active(c, DEFAULT_TIER) == tracked, "tier 2 count %llu, %llu tracked",
	      (unsigned long long)active(c, DEFAULT_TIER), (unsigned long long)tracked);

	/* All 500 are still tracked, established and counted. */
	CHECK(c, entries >= ESTABLISHED_N, "%llu entries", (unsigned long long)entries);
	CHECK(c, active(c, TIER_V4) == ESTABLISHED_N, "tier 1 count %lld, want %d",
	      (long long)active(c, TIER_V4), ESTABLISHED_N);
	for (int i = 0; i < ESTABLISHED_N; i++) {
		struct spw_flow v;
		int err = flow_of(c, AF_INET, est[i].port, &v);

		CHECK(c, err == 0, "connection %d (port %u) is no longer tracked: %s", i,
		      est[i].port, strerror(-err));
		CHECK(c, v.state == SPW_FLOW_ESTABLISHED && v.tier == TIER_V4,
		      "connection %d: state %u tier %u", i, v.state, v.tier);
	}
	/* ... and they still work. */
	for (int i = 0; i < ESTABLISHED_N; i++) {
		char byte = (char)i, back;

		send_all(c, est[i].cli, &byte, 1);
		recv_exact(c, est[i].srv, &back, 1);
		CHECK(c, back == byte, "connection %d garbled", i);
	}

	/*
	 * Without the guard the flood fills the table: new flows are then admitted untracked
	 * (table_full), and still none of the 500 is pushed out, nor a tier-0 client refused.
	 */
	CHECK_OK(c, spw_dp_flood_guard_set(c->dp, 0, 0));
	CHECK_OK(c, spw_fixture_mark(&c->fx));
	for (int i = 0; i < FILL_FRAMES / FILL_CHUNK; i++) {
		flood_send(c, &f, FILL_CHUNK);
		spw_sleep_ms(2); /* lets the receiving veth's backlog drain */
	}
	spw_sleep_ms(100);
	entries = table_entries(c);
	full = moved(c, DEFAULT_TIER, SPW_REASON_TABLE_FULL);
	print_message("    fill: %d SYNs, %llu tracked, %llu table_full; %llu entries of %d\n",
		      FILL_FRAMES, (unsigned long long)moved(c, DEFAULT_TIER, SPW_REASON_ADMITTED),
		      (unsigned long long)full, (unsigned long long)entries, FLOOD_TABLE);
	CHECK(c, entries == FLOOD_TABLE && full > 0, "the table did not fill: %llu entries",
	      (unsigned long long)entries);
	{
		struct conn crit2 = {.cli = -1, .srv = -1};

		open_pair(c, AF_INET6, &crit2);
		CHECK(c, moved(c, 0, SPW_REASON_TABLE_FULL) == 1,
		      "the tier-0 SYN on a full table: not admitted untracked");
	}
	CHECK(c, active(c, TIER_V4) == ESTABLISHED_N, "tier 1 count %lld on a full table",
	      (long long)active(c, TIER_V4));
	for (int i = 0; i < ESTABLISHED_N; i++) {
		struct spw_flow v;

		CHECK(c, flow_of(c, AF_INET, est[i].port, &v) == 0,
		      "connection %d pushed out of a full table", i);
	}

	/* The flood's half-open entries go with the SYN timeout; the 500 stay. */
	spw_sleep_ms(1100);
	sweep(c, 1000, 60000);
	CHECK(c, active(c, DEFAULT_TIER) == 0, "tier 2 count %lld after the sweep",
	      (long long)active(c, DEFAULT_TIER));
	CHECK(c, active(c, TIER_V4) == ESTABLISHED_N, "tier 1 count %lld after the sweep",
	      (long long)active(c, TIER_V4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_counts_return_to_zero, setup, teardown,
						     (void *)&mode_tc),
	    cmocka_unit_test_prestate_setup_teardown(test_counts_return_to_zero, setup, teardown,
						     (void *)&mode_xdp),
	    cmocka_unit_test_prestate_setup_teardown(test_cap, setup, teardown, (void *)&mode_tc),
	    cmocka_unit_test_prestate_setup_teardown(test_latency_p50, setup, teardown,
						     (void *)&mode_tc),
	    cmocka_unit_test_prestate_setup_teardown(test_syn_flood, setup, teardown,
						     (void *)&mode_tc),
	};
	struct rlimit rl;

	/* Up to 2 sockets per connection held at once; ask for the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return cmocka_run_group_tests_name("netns flow tracking", tests, NULL, NULL);
}
