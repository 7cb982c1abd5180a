// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_accept_queue_read against the kernel's own numbers: listeners that never call accept(),
 * clients connected over loopback, all inside a namespace of the test's own, so no listener of
 * the machine can show up in a count.
 *
 * The namespace comes from spw_topo_create() (tests/lib/netns.h): its server side is a fresh
 * namespace with lo up, a unique name and cleanup on every exit path. Only that side is used;
 * the veth pair and the client namespace it also builds stay idle.
 *
 * What Linux reports for a listener (inet_diag, tcp_diag_get_info): idiag_rqueue is
 * sk_ack_backlog, the connections fully set up and waiting for accept(); idiag_wqueue is
 * sk_max_ack_backlog, listen()'s backlog as given (capped by net.core.somaxconn, 4096 in a new
 * namespace). The queue is full only when it is *longer* than the backlog (sk_acceptq_is_full
 * compares with >), so listen(fd, 8) takes 9 connections, and the fill can read 9/8.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "netns.h"
#include "sockets.h"
#include "util.h"
#include "spw_sockdiag.h"

#define PORT	   8080
#define OTHER_PORT 8081
#define BACKLOG	   8

/* Sockets one test opens at most: listeners, clients and accepted connections. */
/*
 * connect() on loopback returns once the SYN-ACK is in; the final ACK that moves the connection
 * into the accept queue may still be in the softirq backlog. Counts are polled this long.
 */
#define SETTLE_TIMEOUT_MS 2000
#define POLL_STEP_MS	  10
/* How long a connection that must not get in is given to get in anyway. */
#define NOT_ADMITTED_WAIT_MS 300
/* Blocking calls give up after this long, so a broken kernel path fails instead of hanging. */
#define IO_TIMEOUT_MS 3000

struct test_ctx {
	struct spw_topo topo;
	const char *ns;	    /* the server side's namespace: the only one used */
	struct spw_fds fds; /* closed by the teardown */
};

struct read_args {
	uint16_t port;
	struct spw_accept_queue q;
};

/* Runs inside the namespace: no assertion here, spw_netns_run must return normally. */
static int read_in_ns(void *arg)
{
	struct read_args *a = arg;

	return spw_accept_queue_read(a->port, &a->q);
}

/* The accept queues of port as the daemon would see them from inside the namespace. */
static struct spw_accept_queue read_queue(struct test_ctx *c, uint16_t port)
{
	struct read_args a;
	int err;

	memset(&a, 0x5a, sizeof(a)); /* a field the reader forgets to set shows as garbage */
	a.port = port;
	err = spw_netns_run(c->ns, read_in_ns, &a);
	if (err)
		fail_msg("spw_accept_queue_read(%u): %s", port, strerror(-err));
	print_message("  port %u: sockets %u queued %u backlog %u fill %.4f\n", port, a.q.sockets,
		      a.q.queued, a.q.backlog, a.q.fill);
	return a.q;
}

/* Reads until queued reaches want or the time is up; returns the last reading. */
static struct spw_accept_queue wait_queued(struct test_ctx *c, uint16_t port, uint32_t want)
{
	struct spw_accept_queue q = read_queue(c, port);

	for (int waited = 0; q.queued != want && waited < SETTLE_TIMEOUT_MS;
	     waited += POLL_STEP_MS) {
		spw_sleep_ms(POLL_STEP_MS);
		q = read_queue(c, port);
	}
	return q;
}

static void expect_queue(const struct spw_accept_queue *q, uint32_t sockets, uint32_t queued,
			 uint32_t backlog, double fill)
{
	assert_int_equal(q->sockets, sockets);
	assert_int_equal(q->queued, queued);
	assert_int_equal(q->backlog, backlog);
	/* Both sides divide the same small integers: equal to the last bit, bar rounding mode. */
	if (q->fill - fill > 1e-12 || fill - q->fill > 1e-12)
		fail_msg("fill %.6f, expected %.6f", q->fill, fill);
}

static socklen_t loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

/* A TCP listener in the namespace; any address (:: dual-stack when v6only is 0) or loopback. */
static int listener(struct test_ctx *c, int family, uint16_t port, int backlog, bool any,
		    int v6only, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int fd = spw_fds_track(&c->fds, spw_netns_socket(c->ns, family, SOCK_STREAM, 0));
	int one = 1;

	if (any && family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_ANY);
	if (any && family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	if (family == AF_INET6)
		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)),
				 0);
	if (reuseport)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(fd, backlog), 0);
	spw_sock_timeouts(fd, IO_TIMEOUT_MS);
	return fd;
}

/* n clients connected to the loopback address of family, port; each connect() completes. */
static void connect_clients(struct test_ctx *c, int family, uint16_t port, int n)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);

	for (int i = 0; i < n; i++) {
		int fd = spw_fds_track(&c->fds, spw_netns_socket(c->ns, family, SOCK_STREAM, 0));

		spw_sock_timeouts(fd, IO_TIMEOUT_MS);
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			fail_msg("client %d to port %u: %s", i, port, strerror(errno));
	}
}

/* accept() everything waiting on fd without blocking; returns how many there were. */
static int accept_all(struct test_ctx *c, int fd)
{
	int n = 0, flags = fcntl(fd, F_GETFL);

	assert_true(flags >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			break;
		}
		spw_fds_track(&c->fds, cfd);
		n++;
	}
	assert_int_equal(fcntl(fd, F_SETFL, flags), 0);
	return n;
}

/* ---- setup and teardown ------------------------------------------------------------------ */

/*
 * cmocka skips the teardown when a setup fails, so the setup only allocates; the namespace is
 * built at the start of each test, where a failed assertion still leads to the teardown.
 */
static struct test_ctx *build(void **state)
{
	struct test_ctx *c = *state;

	assert_int_equal(spw_topo_create(&c->topo), 0);
	c->ns = c->topo.end[SPW_TOPO_SRV].ns;
	return c;
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	return 0;
}

/* Runs also after a failed assertion; checks that no namespace is left behind. */
static int teardown(void **state)
{
	struct test_ctx *c = *state;
	bool left;

	if (!c)
		return 0;
	spw_fds_close_all(&c->fds);
	spw_topo_destroy(&c->topo);
	left = spw_netns_exists(c->topo.end[SPW_TOPO_SRV].ns) ||
	       spw_netns_exists(c->topo.end[SPW_TOPO_CLI].ns);
	if (left)
		fprintf(stderr, "teardown: namespace %s or %s is still there\n",
			c->topo.end[SPW_TOPO_SRV].ns, c->topo.end[SPW_TOPO_CLI].ns);
	free(c);
	*state = NULL;
	return left ? -1 : 0;
}

/* ---- the cases --------------------------------------------------------------------------- */

/*
 * 5 connections on a backlog of 8: 5/8. A busier listener on the next port must not leak into
 * the count: the reader filters by port.
 */
static void test_fill_ipv4(void **state)
{
	struct test_ctx *c = build(state);
	struct spw_accept_queue q;

	listener(c, AF_INET, PORT, BACKLOG, false, 0, false);
	listener(c, AF_INET, OTHER_PORT, 4, false, 0, false);
	q = read_queue(c, PORT);
	expect_queue(&q, 1, 0, BACKLOG, 0.0);

	connect_clients(c, AF_INET, PORT, 5);
	connect_clients(c, AF_INET, OTHER_PORT, 3);
	q = wait_queued(c, PORT, 5);
	expect_queue(&q, 1, 5, BACKLOG, 5.0 / 8.0);
	q = wait_queued(c, OTHER_PORT, 3);
	expect_queue(&q, 1, 3, 4, 3.0 / 4.0);
}

struct read_many_args {
	uint16_t ports[3];
	struct spw_accept_queue q[3];
};

static int read_many_in_ns(void *arg)
{
	struct read_many_args *a = arg;

	return spw_accept_queue_read_ports(a->ports, 3, a->q);
}

/*
 * The daemon reads every service's queue in one dump per family: each port gets exactly what
 * a read of that port alone gives, and a port nobody listens on gets nothing.
 */
static void test_many_ports_one_dump(void **state)
{
	struct test_ctx *c = build(state);
	struct read_many_args a = {.ports = {PORT, OTHER_PORT, OTHER_PORT + 1}};
	struct spw_accept_queue one;
	int i;

	listener(c, AF_INET, PORT, BACKLOG, false, 0, false);
	listener(c, AF_INET6, OTHER_PORT, 4, false, 1, false);
	connect_clients(c, AF_INET, PORT, 5);
	connect_clients(c, AF_INET6, OTHER_PORT, 3);
	wait_queued(c, PORT, 5);
	wait_queued(c, OTHER_PORT, 3);
	memset(a.q, 0x5a, sizeof(a.q));
	assert_int_equal(spw_netns_run(c->ns, read_many_in_ns, &a), 0);
	for (i = 0; i < 3; i++) {
		one = read_queue(c, a.ports[i]);
		expect_queue(&a.q[i], one.sockets, one.queued, one.backlog, one.fill);
	}
	expect_queue(&a.q[0], 1, 5, BACKLOG, 5.0 / 8.0);
	expect_queue(&a.q[1], 1, 3, 4, 3.0 / 4.0);
	expect_queue(&a.q[2], 0, 0, 0, 0.0);
}

/*
 * An IPv6 listener next to an IPv4 one on the same port: both counted, queues and limits
 * summed, the fill that of the fuller one (3/8 > 2/16).
 */
static void test_ipv6_counted(void **state)
{
	struct test_ctx *c = build(state);
	struct spw_accept_queue q;

	listener(c, AF_INET6, PORT, BACKLOG, false, 1, false);
	listener(c, AF_INET, PORT, 16, false, 0, false);
	connect_clients(c, AF_INET6, PORT, 3);
	connect_clients(c, AF_INET, PORT, 2);
	q = wait_queued(c, PORT, 5);
	expect_queue(&q, 2, 5, BACKLOG + 16, 3.0 / 8.0);
}

/*
 * A dual-stack listener ([::], IPV6_V6ONLY off) takes IPv4 clients too: it is one socket and
 * must be counted once, not once per family dump.
 */
static void test_dual_stack_once(void **state)
{
	struct test_ctx *c = build(state);
	struct spw_accept_queue q;

	listener(c, AF_INET6, PORT, BACKLOG, true, 0, false);
	connect_clients(c, AF_INET, PORT, 2);
	connect_clients(c, AF_INET6, PORT, 2);
	q = wait_queued(c, PORT, 4);
	expect_queue(&q, 1, 4, BACKLOG, 4.0 / 8.0);
}

/*
 * Nothing listens: 0 sockets, and not an error. Sockets on the port in other states (bound but
 * not listening; an established connection whose local port it is) are not listeners.
 */
static void test_no_listener(void **state)
{
	struct test_ctx *c = build(state);
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, PORT, &ss);
	struct spw_accept_queue q;
	int fd, lfd;

	q = read_queue(c, PORT);
	expect_queue(&q, 0, 0, 0, 0.0);

	fd = spw_fds_track(&c->fds, spw_netns_socket(c->ns, AF_INET, SOCK_STREAM, 0));
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	q = read_queue(c, PORT);
	expect_queue(&q, 0, 0, 0, 0.0);
	spw_fds_close(&c->fds, fd);

	/* Listen, connect, accept, stop listening: the accepted connection stays on PORT. */
	lfd = listener(c, AF_INET, PORT, BACKLOG, false, 0, false);
	connect_clients(c, AF_INET, PORT, 1);
	q = wait_queued(c, PORT, 1);
	expect_queue(&q, 1, 1, BACKLOG, 1.0 / 8.0);
	assert_int_equal(accept_all(c, lfd), 1);
	spw_fds_close(&c->fds, lfd);
	q = read_queue(c, PORT);
	expect_queue(&q, 0, 0, 0, 0.0);
}

/* accept() everything: the queue is empty again, the listener still counted, fill 0. */
static void test_accept_drains(void **state)
{
	struct test_ctx *c = build(state);
	struct spw_accept_queue q;
	int lfd;

	lfd = listener(c, AF_INET, PORT, BACKLOG, false, 0, false);
	connect_clients(c, AF_INET, PORT, 5);
	q = wait_queued(c, PORT, 5);
	expect_queue(&q, 1, 5, BACKLOG, 5.0 / 8.0);
	assert_int_equal(accept_all(c, lfd), 5);
	q = read_queue(c, PORT);
	expect_queue(&q, 1, 0, BACKLOG, 0.0);
}

/*
 * The kernel's accounting at the edge: listen(fd, 8) holds 9 connections (full means longer
 * than the backlog), so the fill reaches 9/8; the 10th SYN is dropped and its connect() hangs.
 */
static void test_overfull(void **state)
{
	struct test_ctx *c = build(state);
	struct sockaddr_storage ss;
	socklen_t len = loopback(AF_INET, PORT, &ss);
	struct spw_accept_queue q;
	int fd;

	listener(c, AF_INET, PORT, BACKLOG, false, 0, false);
	connect_clients(c, AF_INET, PORT, BACKLOG + 1);
	q = wait_queued(c, PORT, BACKLOG + 1);
	expect_queue(&q, 1, BACKLOG + 1, BACKLOG, 9.0 / 8.0);

	fd = spw_fds_track(&c->fds,
			   spw_netns_socket(c->ns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), -1);
	assert_int_equal(errno, EINPROGRESS);
	spw_sleep_ms(NOT_ADMITTED_WAIT_MS);
	q = read_queue(c, PORT);
	expect_queue(&q, 1, BACKLOG + 1, BACKLOG, 9.0 / 8.0);
	/* Its SYN would be retransmitted into the next test's timing otherwise. */
	spw_fds_close(&c->fds, fd);
}

/*
 * A SO_REUSEPORT group (backlogs 8 and 6): both listeners counted; the kernel spreads
 * connections by hash, so each one's share is learned afterwards by accepting from it, and the
 * fill must be the fuller one's. Each backlog holds all 6 clients (a queue takes backlog + 1):
 * with a backlog of 4, an unlucky hash sent 6 of 6 one way and the 6th SYN was dropped.
 */
static void test_reuseport_group(void **state)
{
	struct test_ctx *c = build(state);
	struct spw_accept_queue q;
	int l8, l6, n8, n6;
	double f8, f6;

	l8 = listener(c, AF_INET, PORT, 8, false, 0, true);
	l6 = listener(c, AF_INET, PORT, 6, false, 0, true);
	connect_clients(c, AF_INET, PORT, 6);
	q = wait_queued(c, PORT, 6);
	n8 = accept_all(c, l8);
	n6 = accept_all(c, l6);
	print_message("  reuseport split: %d on backlog 8, %d on backlog 6\n", n8, n6);
	assert_int_equal(n8 + n6, 6);
	f8 = n8 / 8.0;
	f6 = n6 / 6.0;
	expect_queue(&q, 2, 6, 14, f8 > f6 ? f8 : f6);
}

/* listen(fd, 0) still queues one connection: its limit counts as 1, the fill stays finite. */
static void test_backlog_zero(void **state)
{
	struct test_ctx *c = build(state);
	struct spw_accept_queue q;

	listener(c, AF_INET, PORT, 0, false, 0, false);
	q = read_queue(c, PORT);
	expect_queue(&q, 1, 0, 0, 0.0);
	connect_clients(c, AF_INET, PORT, 1);
	q = wait_queued(c, PORT, 1);
	expect_queue(&q, 1, 1, 0, 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fill_ipv4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dual_stack_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_listener, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept_drains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overfull, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reuseport_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backlog_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_ports_one_dump, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
