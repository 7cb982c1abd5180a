// SPDX-License-Identifier: GPL-2.0-only
/*
 * Client-side throttling end to end: the data plane on the client's veth (TC mode), a real
 * server behind the veth whose accept is slow (a backlog of 2, one accept every ACCEPT_MS, so
 * its kernel drops the SYNs it has no room for), and a client that tries ATTEMPTS connections
 * at a steady pace, each given up after GIVE_UP_MS (before the SYN's first retransmission).
 *
 * Throttled, connect() fails with ECONNREFUSED at once for most attempts (the RST made at TC
 * egress, redirected to ingress), and the server sees about K x its accepts in SYNs, counted by
 * a packet socket on its veth. Not throttled, no attempt is refused and the server sees them
 * all. Needs root (namespaces, BPF).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "spillway_abi.h"
#include "spillway_throttle.h"
#include "spw_dataplane.h"
#include "attach.h"
#include "check.h"
#include "netns.h"
#include "sockets.h"
#include "spw_fixture.h"
#include "util.h"

#define PORT	  5432
#define DS_ID	  1
#define K_CENTI	  SPW_THROTTLE_K_DEFAULT
#define BUCKET_MS SPW_THROTTLE_BUCKET_MS_DEFAULT
#define BACKLOG	  2
#define ACCEPT_MS 100
#define ATTEMPTS  600
/* One window's worth of attempts: after them the window is full and the throttle steady. */
#define WARMUP	   (BUCKET_MS / PACE_MS)
#define PACE_MS	   5
#define GIVE_UP_MS 400
/*
 * Margins for a loaded 2-core machine. A local refusal takes microseconds; a SYN the server
 * dropped would need a second (its retransmission), so anything under REFUSE_MAX_MS is the
 * throttle's. The server's SYNs may exceed K x accepts by the window's randomness and start.
 */
#define REFUSE_MAX_MS	200.0
#define SYN_SLACK	10
#define SYN_OVER_BUDGET 1.5

struct server {
	int lfd;
	volatile bool stop;
	bool running;
	pthread_t thr;
	unsigned int accepted;
};

struct tctx {
	struct spw_topo topo;
	struct spw_fixture fx;
	struct server srv;
	int pfd; /* packet socket on the server's veth */
};

struct tctx;

struct client_run {
	struct tctx *t;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	unsigned int attempts, connected, refused, timed_out, other;
	double max_refuse_ms;
	int first_other;
	/* Taken after WARMUP attempts: the server's SYNs so far, the accepts counted so far. */
	unsigned int warm_syns;
	uint64_t warm_accepts;
	int warm_err;
};

static unsigned int server_syns(struct tctx *t);

static void *accept_loop(void *arg)
{
	struct server *s = arg;

	while (!s->stop) {
		int fd;

		usleep(ACCEPT_MS * 1000);
		fd = accept(s->lfd, NULL, NULL);
		if (fd >= 0) {
			s->accepted++;
			close(fd);
		}
	}
	return NULL;
}

static void server_stop(struct server *s)
{
	if (s->running) {
		s->stop = true;
		pthread_join(s->thr, NULL);
		s->running = false;
	}
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->srv.lfd = -1;
	t->pfd = -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;

	if (!t)
		return 0;
	server_stop(&t->srv);
	if (t->pfd >= 0)
		close(t->pfd);
	spw_fixture_close(&t->fx);
	spw_topo_destroy(&t->topo);
	free(t);
	*state = NULL;
	return 0;
}

struct attach_args {
	struct spw_dataplane *dp;
	int ifindex;
};

static int attach_in_ns(void *arg)
{
	struct attach_args *a = arg;

	return spw_dp_attach(a->dp, a->ifindex, SPW_ATTACH_TC);
}

/* The topology, the data plane on the client's veth, the server and its packet socket. */
static void build(struct tctx *t, bool throttled)
{
	const struct spw_topo_end *cli = &t->topo.end[SPW_TOPO_CLI],
				  *srv = &t->topo.end[SPW_TOPO_SRV];
	struct attach_args a;
	struct sockaddr_storage ss;
	int len, one = 1;

	CHECK_OK(spw_topo_create(&t->topo));
	CHECK_OK(spw_fixture_open(&t->fx));
	a.dp = t->fx.dp;
	a.ifindex = cli->ifindex;
	CHECK_OK(spw_netns_run(cli->ns, attach_in_ns, &a));
	if (throttled) {
		struct spw_downstream ds = {.id = DS_ID,
					    .port = htons(PORT),
					    .default_tier = 0,
					    .k_centi = K_CENTI,
					    .bucket_ms = BUCKET_MS};
		char cidr[64];
		struct spw_cidr c;

		snprintf(cidr, sizeof(cidr), "%s/32", srv->v4_str);
		CHECK_OK(spw_fixture_cidr(cidr, &c));
		CHECK_OK(spw_dp_downstream_set(t->fx.dp, &c, &ds));
	}

	t->pfd = spw_topo_packet_socket(&t->topo, SPW_TOPO_SRV, 8 << 20);
	CHECK(t->pfd >= 0, "packet socket: %s", strerror(-t->pfd));

	t->srv.lfd = spw_netns_socket(srv->ns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(t->srv.lfd >= 0, "listen socket: %s", strerror(-t->srv.lfd));
	setsockopt(t->srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	len = spw_topo_sockaddr(&t->topo, SPW_TOPO_SRV, AF_INET, PORT, &ss);
	CHECK(len > 0, "server address");
	CHECK(bind(t->srv.lfd, (struct sockaddr *)&ss, (socklen_t)len) == 0, "bind: %s",
	      strerror(errno));
	CHECK(listen(t->srv.lfd, BACKLOG) == 0, "listen: %s", strerror(errno));
	CHECK(pthread_create(&t->srv.thr, NULL, accept_loop, &t->srv) == 0, "accept thread");
	t->srv.running = true;
}

struct pending {
	int fd;
	double t0;
};

/*
 * Resolves an attempt: connected, refused or failed otherwise, and closes it. err < 0: ask the
 * socket (SO_ERROR); else what connect() itself said.
 */
static void settle(struct client_run *r, struct pending *p, double now, int err)
{
	socklen_t l = sizeof(err);

	if (err < 0 && getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l))
		err = errno;
	if (!err) {
		r->connected++;
	} else if (err == ECONNREFUSED) {
		r->refused++;
		if (now - p->t0 > r->max_refuse_ms)
			r->max_refuse_ms = now - p->t0;
	} else {
		r->other++;
		r->first_other = err;
	}
	close(p->fd);
	p->fd = -1;
}

/*
 * The client, run inside its namespace: ATTEMPTS non-blocking connects PACE_MS apart, each
 * watched until it connects, is refused, or is GIVE_UP_MS old. No cmocka asserts in here.
 */
static int client_loop(void *arg)
{
	struct client_run *r = arg;
	static struct pending p[ATTEMPTS];
	struct pollfd pfds[ATTEMPTS];
	int idx[ATTEMPTS];
	unsigned int open = 0;
	double start = spw_now_ms();

	for (unsigned int i = 0; i < ATTEMPTS || open > 0;) {
		double now = spw_now_ms(), next = start + (double)i * PACE_MS;
		int n = 0, wait_ms;

		if (i == WARMUP && now >= next && !r->warm_syns) {
			uint64_t c[SPW_MAX_TIERS][SPW_THR_KINDS] = {{0}};

			r->warm_syns = server_syns(r->t);
			r->warm_err = spw_dp_throttle_read(r->t->fx.dp, DS_ID, c);
			r->warm_accepts = c[0][SPW_THR_ACCEPTS];
		}
		if (i < ATTEMPTS && now >= next) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

			if (fd < 0)
				return -errno;
			p[i].fd = fd;
			p[i].t0 = spw_now_ms();
			r->attempts++;
			open++;
			if (connect(fd, (struct sockaddr *)&r->dst, r->dst_len) == 0) {
				settle(r, &p[i], spw_now_ms(), 0);
				open--;
			} else if (errno != EINPROGRESS) {
				settle(r, &p[i], spw_now_ms(), errno);
				open--;
			}
			i++;
			continue;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (p[j].fd < 0)
				continue;
			if (now - p[j].t0 >= GIVE_UP_MS) {
				close(p[j].fd);
				p[j].fd = -1;
				r->timed_out++;
				open--;
				continue;
			}
			pfds[n] = (struct pollfd){.fd = p[j].fd, .events = POLLOUT};
			idx[n++] = (int)j;
		}
		wait_ms = i < ATTEMPTS ? (int)(next - now) + 1 : 5;
		if (wait_ms < 0)
			wait_ms = 0;
		if (poll(pfds, (nfds_t)n, wait_ms) > 0) {
			now = spw_now_ms();
			for (int k = 0; k < n; k++)
				if (pfds[k].revents) {
					settle(r, &p[idx[k]], now, -1);
					open--;
				}
		}
	}
	return 0;
}

/* Incoming SYNs (no ACK) to PORT the server's veth saw. */
static unsigned int server_syns(struct tctx *t)
{
	uint8_t buf[2048];
	unsigned int n = 0;

	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(t->pfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		const uint8_t *ip = buf + ETH_HLEN, *tcp;

		if (len < 0)
			break;
		if (from.sll_pkttype == PACKET_OUTGOING || len < ETH_HLEN + 20 + 20 ||
		    buf[12] != 0x08 || buf[13] != 0x00 || (ip[0] >> 4) != 4 || ip[9] != IPPROTO_TCP)
			continue;
		tcp = ip + (ip[0] & 0xf) * 4;
		if (tcp + 20 > buf + len || ((tcp[2] << 8) | tcp[3]) != PORT)
			continue;
		if ((tcp[13] & 0x12) == 0x02)
			n++;
	}
	return n;
}

static void run_case(struct tctx *t, bool throttled, struct client_run *r, unsigned int *syns)
{
	int len;

	build(t, throttled);
	memset(r, 0, sizeof(*r));
	r->t = t;
	len = spw_topo_sockaddr(&t->topo, SPW_TOPO_SRV, AF_INET, PORT, &r->dst);
	CHECK(len > 0, "server address");
	r->dst_len = (socklen_t)len;
	CHECK_OK(spw_netns_run(t->topo.end[SPW_TOPO_CLI].ns, client_loop, r));
	server_stop(&t->srv);
	*syns = r->warm_syns + server_syns(t);
	CHECK(r->attempts == ATTEMPTS, "%u attempts", r->attempts);
	CHECK(r->other == 0, "%u attempts failed otherwise (first: %s)", r->other,
	      strerror(r->first_other));
}

static void test_thr_on(void **state)
{
	struct tctx *t = *state;
	struct client_run r;
	uint64_t n[SPW_MAX_TIERS][SPW_THR_KINDS];
	unsigned int syns, steady;
	double budget;

	run_case(t, true, &r, &syns);
	CHECK_OK(spw_dp_throttle_read(t->fx.dp, DS_ID, n));
	printf("throttled: %u attempts, %u connected, %u refused (max %.2f ms), %u timed out; "
	       "server saw %u SYNs, accepted %u; counted %llu requests, %llu accepts, %llu "
	       "throttled\n",
	       r.attempts, r.connected, r.refused, r.max_refuse_ms, r.timed_out, syns,
	       t->srv.accepted, (unsigned long long)n[0][SPW_THR_REQUESTS],
	       (unsigned long long)n[0][SPW_THR_ACCEPTS],
	       (unsigned long long)n[0][SPW_THR_THROTTLED]);
	CHECK(r.refused >= ATTEMPTS / 2, "only %u of %u refused", r.refused, ATTEMPTS);
	CHECK(r.max_refuse_ms < REFUSE_MAX_MS, "a refusal took %.1f ms", r.max_refuse_ms);
	CHECK(n[0][SPW_THR_REQUESTS] == ATTEMPTS, "requests %llu",
	      (unsigned long long)n[0][SPW_THR_REQUESTS]);
	CHECK(n[0][SPW_THR_THROTTLED] == r.refused, "throttled %llu, refused %u",
	      (unsigned long long)n[0][SPW_THR_THROTTLED], r.refused);
	CHECK(n[0][SPW_THR_ACCEPTS] >= r.connected, "accepts %llu < connected %u",
	      (unsigned long long)n[0][SPW_THR_ACCEPTS], r.connected);
	/* Every SYN not refused here reached the server; none that was refused did. */
	CHECK(syns == ATTEMPTS - r.refused, "server saw %u SYNs, %u were not refused", syns,
	      ATTEMPTS - r.refused);
	/* Steady (the window full): the server sees about K x what it accepts. The first window
	 * lets more through, the throttle's share being taken of a window still filling. */
	CHECK_OK(r.warm_err);
	steady = syns - r.warm_syns;
	budget = (double)K_CENTI / 100.0 * (double)(n[0][SPW_THR_ACCEPTS] - r.warm_accepts);
	printf("steady: server saw %u SYNs for %llu accepts (K x accepts = %.0f); first window: "
	       "%u SYNs for %llu accepts\n",
	       steady, (unsigned long long)(n[0][SPW_THR_ACCEPTS] - r.warm_accepts), budget,
	       r.warm_syns, (unsigned long long)r.warm_accepts);
	CHECK(steady <= budget * SYN_OVER_BUDGET + SYN_SLACK,
	      "steady: server saw %u SYNs for K x accepts = %.0f", steady, budget);
	CHECK(budget > 0, "no accepts after the first window");
}

static void test_thr_off(void **state)
{
	struct tctx *t = *state;
	struct client_run r;
	unsigned int syns;

	run_case(t, false, &r, &syns);
	printf("not throttled: %u attempts, %u connected, %u refused, %u timed out; server saw %u "
	       "SYNs, accepted %u\n",
	       r.attempts, r.connected, r.refused, r.timed_out, syns, t->srv.accepted);
	CHECK(r.refused == 0, "%u refused without throttling", r.refused);
	CHECK(syns == ATTEMPTS, "server saw %u SYNs of %u", syns, ATTEMPTS);
	CHECK(r.connected > 0 && r.timed_out > ATTEMPTS / 2,
	      "%u connected, %u timed out: the server was not slow", r.connected, r.timed_out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_thr_on, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thr_off, setup, teardown),
	};

	return cmocka_run_group_tests_name("netns client-side throttling", tests, NULL, NULL);
}
