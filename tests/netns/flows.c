// SPDX-License-Identifier: GPL-2.0-only
/* The flow-tracking scenarios' shared context and helpers (flows.h). */
#include "flows.h"

const enum spw_attach_mode mode_xdp = SPW_ATTACH_XDP;
const enum spw_attach_mode mode_tc = SPW_ATTACH_TC;

const char *mode_name(const struct nctx *c)
{
	return spw_nfx_mode_name(&c->nfx);
}

uint32_t tier_of(int family)
{
	return family == AF_INET6 ? TIER_V6 : TIER_V4;
}

/* ---- sockets ----------------------------------------------------------------------------- */

int track(struct nctx *c, int fd)
{
	CHECK(c, fd >= 0 && fd < MAX_FD, "socket: %s", fd < 0 ? strerror(-fd) : "fd too high");
	c->open_fd[fd] = true;
	return fd;
}

/* Closes a tracked socket; with rst, SO_LINGER 0 turns the close into a reset. */
void close_fd(struct nctx *c, int *fd, bool rst)
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

void set_nonblock(struct nctx *c, int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	CHECK(c, fl >= 0, "F_GETFL");
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	CHECK(c, fcntl(fd, F_SETFL, fl) == 0, "F_SETFL");
}

socklen_t addr_of(struct nctx *c, enum spw_topo_side side, int family, uint16_t port,
		  struct sockaddr_storage *ss)
{
	int len = spw_nfx_addr(&c->nfx, side, family, port, ss);

	CHECK(c, len > 0, "address: %s", strerror(-len));
	return (socklen_t)len;
}

uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * A non-blocking client socket in the client namespace, bound to the next unused port, with
 * connect() started. Returns the fd; *port is its port.
 */
int connect_start(struct nctx *c, int family, uint16_t *port)
{
	struct sockaddr_storage src, dst;
	socklen_t slen, dlen = addr_of(c, SPW_TOPO_SRV, family, TCP_PORT, &dst);
	int fd = track(c, spw_nfx_socket(&c->nfx, SPW_TOPO_CLI, family, SOCK_STREAM));
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
int connect_wait(int fd, int wait_ms)
{
	int r = spw_connect_wait(fd, wait_ms);

	return r == SPW_CONN_PENDING ? -ETIMEDOUT : r;
}

/* Accepts one connection from either listener, waiting up to wait_ms; -1 when none came. */
int accept_any(struct nctx *c, int wait_ms, uint16_t *peer_port)
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

void send_all(struct nctx *c, int fd, const char *buf, size_t len)
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

void first_byte(struct nctx *c, const struct conn *x)
{
	char b = 'h';

	send_all(c, x->cli, &b, 1);
	recv_exact(c, x->srv, &b, 1);
}

void recv_exact(struct nctx *c, int fd, char *buf, size_t len)
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

void set_policy(struct nctx *c, const uint32_t max_conns[SPW_MAX_TIERS])
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
	CHECK_OK(c, spw_dp_policy_set(c->nfx.dp, SVC_TCP, &p));
}

/* A rule putting one of the client's own addresses into a tier. */
void client_rule(struct nctx *c, int family, uint8_t tier, uint32_t id)
{
	CHECK_OK(c, spw_nfx_client_rule(&c->nfx, family, tier, id));
}

int listen_on(struct nctx *c, int family)
{
	/* Room for a whole batch of the tests' connections between accepts. */
	int fd = track(c, spw_topo_listen(&c->nfx.topo, family, SOCK_STREAM, TCP_PORT, 1024));

	set_nonblock(c, fd, true);
	return fd;
}

/*
 * Topology, data plane (flow table of capacity entries), attach, rules, policy, listeners.
 * Built in the test, not in a setup: cmocka skips the teardown of a failed setup.
 */
struct nctx *build(void **state, uint32_t capacity, uint8_t tier_v6)
{
	struct nctx *c = *state;
	const struct spw_dp_opts opts = {.flow_capacity = capacity};
	CHECK_OK(c, spw_nfx_open(&c->nfx, c->nfx.mode, &opts));
	CHECK_OK(c, spw_nfx_service(&c->nfx, IPPROTO_TCP, TCP_PORT, SVC_TCP));
	client_rule(c, AF_INET, TIER_V4, 1);
	client_rule(c, AF_INET6, tier_v6, 2);
	set_policy(c, NULL);

	CHECK_OK(c, spw_nfx_attach(&c->nfx));
	c->lfd[0] = listen_on(c, AF_INET);
	c->lfd[1] = listen_on(c, AF_INET6);
	return c;
}

int setup(void **state)
{
	struct nctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->nfx.mode = *(const enum spw_attach_mode *)*state;
	c->lfd[0] = c->lfd[1] = -1;
	c->next_port = CPORT_BASE;
	*state = c;
	return 0;
}

/* Runs after failed assertions too; checks nothing is left behind. */
int teardown(void **state)
{
	struct nctx *c = *state;
	int left;

	if (!c)
		return 0;
	for (int fd = 0; fd < MAX_FD; fd++)
		if (c->open_fd[fd])
			close(fd);
	left = spw_nfx_close(&c->nfx);
	free(c);
	*state = NULL;
	return left;
}

/* ---- what the data plane holds ----------------------------------------------------------- */

uint64_t active(struct nctx *c, uint32_t tier)
{
	uint64_t n;

	CHECK_OK(c, spw_dp_active_read(c->nfx.dp, SVC_TCP, tier, &n));
	return n;
}

/* Waits until every tier's count is want[tier], at most SETTLE_MS; got is what it saw last. */
bool counts_reach(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], uint64_t got[SPW_MAX_TIERS])
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
void counts_fail(struct nctx *c, const char *when, const uint64_t want[SPW_MAX_TIERS],
		 const uint64_t got[SPW_MAX_TIERS], const char *extra)
{
	/* Signed: a count decremented below 0 reads as -1, not 18446744073709551615. */
	fail_msg("[%s] %s: active counts per tier 0/1/2 are %lld/%lld/%lld, want %llu/%llu/%llu%s",
		 mode_name(c), when, (long long)got[0], (long long)got[1], (long long)got[2],
		 (unsigned long long)want[0], (unsigned long long)want[1],
		 (unsigned long long)want[2], extra);
}

void wait_counts(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], const char *when)
{
	uint64_t got[SPW_MAX_TIERS];

	if (!counts_reach(c, want, got))
		counts_fail(c, when, want, got, "");
}

uint64_t table_entries(struct nctx *c)
{
	uint64_t n;
	uint32_t cap;

	CHECK_OK(c, spw_dp_flow_count(c->nfx.dp, &n, &cap));
	return n;
}

int count_state(const struct spw_flow_key *k, const struct spw_flow *v, void *by_state)
{
	(void)k;
	((uint64_t *)by_state)[v->state < 4 ? v->state : 0]++;
	return 0;
}

/* Entries of the table by state. */
void entries_by_state(struct nctx *c, uint64_t by_state[4])
{
	memset(by_state, 0, 4 * sizeof(*by_state));
	spw_dp_flows_foreach(c->nfx.dp, count_state, by_state);
}

/* The flow entry of a client connection (client port cport), or -ENOENT. */
int flow_of(struct nctx *c, int family, uint16_t cport, struct spw_flow *v)
{
	const struct spw_topo_end *cl = &c->nfx.topo.end[SPW_TOPO_CLI],
				  *sv = &c->nfx.topo.end[SPW_TOPO_SRV];
	struct spw_flow_key k;

	memset(&k, 0, sizeof(k));
	CHECK_OK(c, spw_fixture_addr(family == AF_INET ? cl->v4_str : cl->v6_str, k.saddr));
	CHECK_OK(c, spw_fixture_addr(family == AF_INET ? sv->v4_str : sv->v6_str, k.daddr));
	k.sport = htons(cport);
	k.dport = htons(TCP_PORT);
	k.proto = IPPROTO_TCP;
	return spw_dp_flow_get(c->nfx.dp, &k, v);
}

/* Packets counted for (tier, reason) since the fixture's mark. */
uint64_t moved(struct nctx *c, uint32_t tier, enum spw_reason r)
{
	struct spw_count d;

	CHECK_OK(c, spw_fixture_delta(&c->nfx.fx, SVC_TCP, tier, r, &d));
	return d.packets;
}

struct spw_sweep_stats sweep(struct nctx *c, uint64_t syn_ms, uint64_t idle_ms)
{
	const struct spw_sweep_opts o = {
	    .syn_timeout_ns = syn_ms * 1000000ULL,
	    .idle_timeout_ns = idle_ms * 1000000ULL,
	    .udp_timeout_ns = idle_ms * 1000000ULL,
	};
	struct spw_sweep_stats st;

	CHECK_OK(c, spw_dp_flows_sweep(c->nfx.dp, &o, &st));
	return st;
}

int connect_now(struct nctx *c, int family, uint16_t *port, int *fd, double *ms)
{
	double t0 = spw_now_ms();
	int err;

	*fd = connect_start(c, family, port);
	err = connect_wait(*fd, IO_TIMEOUT_MS);
	*ms = spw_now_ms() - t0;
	return err;
}

/* Connects and accepts; the pair must come up at once. */
void open_pair(struct nctx *c, int family, struct conn *x)
{
	double ms;
	int err = connect_now(c, family, &x->port, &x->cli, &ms);
	uint16_t peer;

	CHECK(c, err == 0, "connect (port %u): %s after %.0f ms", x->port, strerror(-err), ms);
	x->family = family;
	x->srv = accept_any(c, IO_TIMEOUT_MS, &peer);
	CHECK(c, x->srv >= 0 && peer == x->port, "accept: got port %u, want %u", peer, x->port);
}

/* Accepts until every connection of the batch that must reach the server has its socket. */
void accept_batch(struct nctx *c, struct conn *b, int n)
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
