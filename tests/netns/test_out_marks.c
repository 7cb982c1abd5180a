// SPDX-License-Identifier: GPL-2.0-only
/*
 * Marks on the connections a host opens, end to end: spillwayd runs in the client's namespace
 * (TC mode on its veth) with a config whose downstreams name the server's addresses at one
 * port, unthrottled, with a DSCP per tier and a cgroup of the test's own as tier critical. The
 * client opens real TCP connections; a packet socket on the server's veth (the next hop's
 * view) must see every packet of a connection to the downstream with its tier's DSCP (the
 * downstream's default tier, or critical for a socket made in the test's cgroup), with a valid
 * IPv4 header checksum, and the server must receive the data (its stack drops a segment whose
 * IPv4 header checksum is wrong). Connections to another port keep the DSCP the app set.
 * Both families. The exporter counts the marks per downstream and tier. Needs root
 * (namespaces, BPF, cgroup v2).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include "cgroup2.h"
#include "check.h"
#include "daemon.h"
#include "netns.h"
#include "pktbuild.h"
#include "sockets.h"
#include "util.h"

#define PORT_MARKED 7001 /* the downstreams' port */
#define PORT_OTHER  7002 /* not a downstream: left alone */
/* The config's marks: tier standard is the downstreams' default, critical the cgroup's. */
#define DSCP_CRITICAL 46
#define DSCP_STANDARD 26
/* What the app itself sets on the connections to the other port: must arrive as is. */
#define DSCP_APP	 8
#define READY_TIMEOUT_MS 15000
#define CONNECT_MS	 3000
#define IO_MS		 3000
/* A connection's packets the server side sees at least: SYN, the handshake's ACK, data. */
#define MIN_PACKETS 3
#define MESSAGE	    "hello, downstream"

struct tctx {
	struct spw_topo topo;
	struct spw_daemon d;
	char cgroup[64];  /* the test's own cgroup, below the cgroup v2 root */
	char home[256];	  /* the cgroup this process came from, to go back to */
	int listen[2][2]; /* [IPv4, IPv6][marked port, other port] */
	int pfd;	  /* packet socket on the server's veth */
};

static int teardown(void **state)
{
	struct tctx *t = *state;

	if (!t)
		return 0;
	if (t->home[0])
		cg2_enter(t->home, getpid());
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 2; p++)
			if (t->listen[f][p] >= 0)
				close(t->listen[f][p]);
	if (t->pfd >= 0)
		close(t->pfd);
	spw_daemon_cleanup(&t->d);
	spw_topo_destroy(&t->topo);
	if (t->cgroup[0])
		cg2_remove(t->cgroup);
	free(t);
	*state = NULL;
	return 0;
}

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->pfd = -1;
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 2; p++)
			t->listen[f][p] = -1;
	*state = t;
	return 0;
}

/* The topology, the server's listeners and packet socket, the test's cgroup, the daemon. */
static void build(struct tctx *t)
{
	const struct spw_topo_end *cli = &t->topo.end[SPW_TOPO_CLI],
				  *srv = &t->topo.end[SPW_TOPO_SRV];
	char yaml[2048];

	CHECK(cg2_root() != NULL, "no cgroup v2 mounted at /sys/fs/cgroup(/unified)");
	CHECK_OK(cg2_self(t->home, sizeof(t->home)));
	snprintf(t->cgroup, sizeof(t->cgroup), "/spw-outmark-%d", (int)getpid());
	CHECK_OK(cg2_make(t->cgroup));
	CHECK_OK(spw_topo_create(&t->topo));
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 2; p++) {
			t->listen[f][p] =
			    spw_topo_listen(&t->topo, f ? AF_INET6 : AF_INET, SOCK_STREAM,
					    p ? PORT_OTHER : PORT_MARKED, 16);
			CHECK(t->listen[f][p] >= 0, "listen: %s", strerror(-t->listen[f][p]));
		}
	t->pfd = spw_topo_packet_socket(&t->topo, SPW_TOPO_SRV, 8 << 20);
	CHECK(t->pfd >= 0, "packet socket: %s", strerror(-t->pfd));

	snprintf(yaml, sizeof(yaml),
		 "interfaces: [{name: %s, mode: tc}]\n"
		 "downstreams:\n"
		 "  - name: back\n"
		 "    dest: %s:%d\n"
		 "    throttle: false\n"
		 "    tier: standard\n"
		 "    mark_egress: {critical: %d, standard: %d}\n"
		 "    cgroups: {%s: critical}\n"
		 "  - name: back6\n"
		 "    dest: \"[%s]:%d\"\n"
		 "    throttle: false\n"
		 "    tier: standard\n"
		 "    mark_egress: {critical: %d, standard: %d}\n"
		 "    cgroups: {%s: critical}\n",
		 cli->ifname, srv->v4_str, PORT_MARKED, DSCP_CRITICAL, DSCP_STANDARD, t->cgroup,
		 srv->v6_str, PORT_MARKED, DSCP_CRITICAL, DSCP_STANDARD, t->cgroup);
	CHECK_OK(spw_daemon_init(&t->d, cli->ns, true));
	CHECK_OK(spw_daemon_launch(&t->d, yaml, 0, READY_TIMEOUT_MS));
}

/*
 * Every packet the server's veth saw from the client's port cport to port: how many, and
 * whether all carried dscp (and, IPv4, a right header checksum). Reads what is queued.
 */
static void expect_seen(struct tctx *t, const char *what, int family, uint16_t cport, uint16_t port,
			int dscp)
{
	uint8_t buf[2048];
	int n = 0, wrong = 0, bad_csum = 0, last = -1;
	ssize_t len;

	while ((len = recv(t->pfd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct pkt_view v;

		if (pkt_parse(buf, (size_t)len, &v) || v.family != family ||
		    v.l4_proto != IPPROTO_TCP || v.sport != cport || v.dport != port)
			continue;
		n++;
		if (v.dscp != dscp) {
			wrong++;
			last = v.dscp;
		}
		if (family == 4 && !pkt_ipv4_csum_ok(buf, (size_t)len))
			bad_csum++;
	}
	CHECK(n >= MIN_PACKETS, "%s: %d packets of the connection seen, want >= %d", what, n,
	      MIN_PACKETS);
	CHECK(!wrong, "%s: %d of %d packets with DSCP %d, want %d", what, wrong, n, last, dscp);
	CHECK(!bad_csum, "%s: %d of %d packets with a wrong IPv4 header checksum", what, bad_csum,
	      n);
}

/*
 * One connection from the client to port, its socket made in cgroup (NULL: this process's
 * own) with app_dscp set on it by the app (0: none): connect, send, the server receives.
 */
static void one_connection(struct tctx *t, const char *what, int family, uint16_t port,
			   const char *cgroup, int app_dscp, int want_dscp)
{
	int af = family == 6 ? AF_INET6 : AF_INET, fd, afd;
	int lfd = t->listen[family == 6][port == PORT_OTHER];
	struct sockaddr_storage to, me;
	socklen_t mlen = sizeof(me);
	char got[sizeof(MESSAGE)];
	uint16_t cport;
	double ms;
	int len;

	/* A socket belongs to the cgroup of the process that made it, for its whole life. */
	if (cgroup)
		CHECK_OK(cg2_enter(cgroup, getpid()));
	fd = spw_netns_socket(t->topo.end[SPW_TOPO_CLI].ns, af, SOCK_STREAM, 0);
	if (cgroup)
		CHECK_OK(cg2_enter(t->home, getpid()));
	CHECK(fd >= 0, "%s: socket: %s", what, strerror(-fd));
	if (app_dscp) {
		int tos = app_dscp << 2;

		CHECK(setsockopt(fd, af == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
				 af == AF_INET ? IP_TOS : IPV6_TCLASS, &tos, sizeof(tos)) == 0,
		      "%s: IP_TOS: %s", what, strerror(errno));
	}
	len = spw_topo_sockaddr(&t->topo, SPW_TOPO_SRV, af, port, &to);
	CHECK(len > 0, "%s: server address", what);
	CHECK(spw_connect_timed(fd, &to, (socklen_t)len, CONNECT_MS, IO_MS, &ms) == SPW_CONN_OK,
	      "%s: connect failed", what);
	CHECK(getsockname(fd, (struct sockaddr *)&me, &mlen) == 0, "%s: getsockname", what);
	cport = ntohs(af == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
				    : ((struct sockaddr_in6 *)&me)->sin6_port);
	spw_send_all(fd, MESSAGE, sizeof(MESSAGE));
	spw_sock_nonblock(lfd, false);
	spw_sock_timeouts(lfd, IO_MS);
	afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0, "%s: accept: %s", what, strerror(errno));
	spw_sock_timeouts(afd, IO_MS);
	spw_recv_exact(afd, got, sizeof(got));
	CHECK(!memcmp(got, MESSAGE, sizeof(got)), "%s: the server got other bytes", what);
	close(afd);
	close(fd);
	/* Let the last segments reach the packet socket. */
	usleep(100 * 1000);
	expect_seen(t, what, family, cport, port, want_dscp);
}

static double metric(struct tctx *t, const char *ds, const char *tier)
{
	char series[128];
	double v = -1;

	snprintf(series, sizeof(series),
		 "spillway_downstream_marked_total{downstream=\"%s\",tier=\"%s\"}", ds, tier);
	CHECK_OK(spw_daemon_metric(&t->d, series, &v));
	return v;
}

static void test_out_marks(void **state)
{
	struct tctx *t = *state;

	build(t);
	for (int family = 4; family <= 6; family += 2) {
		char what[64];

		snprintf(what, sizeof(what), "IPv%d, the downstream's default tier", family);
		one_connection(t, what, family, PORT_MARKED, NULL, 0, DSCP_STANDARD);
		snprintf(what, sizeof(what), "IPv%d, the app's own DSCP replaced", family);
		one_connection(t, what, family, PORT_MARKED, NULL, DSCP_APP, DSCP_STANDARD);
		snprintf(what, sizeof(what), "IPv%d, from the critical cgroup", family);
		one_connection(t, what, family, PORT_MARKED, t->cgroup, 0, DSCP_CRITICAL);
		snprintf(what, sizeof(what), "IPv%d, not a downstream, app DSCP", family);
		one_connection(t, what, family, PORT_OTHER, NULL, DSCP_APP, DSCP_APP);
		snprintf(what, sizeof(what), "IPv%d, not a downstream, no DSCP", family);
		one_connection(t, what, family, PORT_OTHER, t->cgroup, 0, 0);
	}
	/* Two connections of each family at standard, one critical: at least 3 packets each. */
	CHECK(metric(t, "back", "standard") >= 2 * MIN_PACKETS, "back standard: %g",
	      metric(t, "back", "standard"));
	CHECK(metric(t, "back", "critical") >= MIN_PACKETS, "back critical: %g",
	      metric(t, "back", "critical"));
	CHECK(metric(t, "back6", "critical") >= MIN_PACKETS, "back6 critical: %g",
	      metric(t, "back6", "critical"));
	CHECK(metric(t, "back", "sheddable") == 0, "back sheddable: %g",
	      metric(t, "back", "sheddable"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_out_marks, setup, teardown),
	};

	return cmocka_run_group_tests_name("outgoing tier marks", tests, NULL, NULL);
}
