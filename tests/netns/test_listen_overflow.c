// SPDX-License-Identifier: GPL-2.0-only
/*
 * The listen_overflow signal as the real spillwayd reports it (tests/lib/daemon.h): two TCP
 * services in the server namespace of a veth pair, each with a listen_overflow signal. One
 * listener has a backlog of 1 and never accepts, so once its accept queue holds two
 * connections the kernel drops every further SYN: its signal must read drops per second above
 * 0. The other accepts at once: its signal must be measured (fresh) and read 0 throughout,
 * although both get the same connections at the same time (the count is per port, not the
 * host-wide ListenOverflows). A third service, where nothing listens, is not measured: its
 * signal stays stale, never 0.
 *
 * The targets are far above what the test causes, so nothing is shed.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "daemon.h"
#include "netns.h"
#include "sockets.h"

#define SVC_ID		 1
#define FULL_PORT	 8471 /* backlog 1, never accepts */
#define PROMPT_PORT	 8472 /* accepts at once */
#define NONE_PORT	 8473 /* nothing listens */
#define TICK_MS		 200
#define READY_TIMEOUT_MS 15000
/* New connections to each port, one pair every CONN_GAP_MS: a storm of ~2.4 s. */
#define CONNS	    80
#define CONN_GAP_MS 30

#define FULL_SIG                                                                                   \
	"spillway_signal_value{service=\"acw-full\",signal=\"listen_overflow\",source=\"\"}"
#define PROMPT_SIG                                                                                 \
	"spillway_signal_value{service=\"acw-prompt\",signal=\"listen_overflow\",source=\"\"}"
#define PROMPT_STALE                                                                               \
	"spillway_signal_stale{service=\"acw-prompt\",signal=\"listen_overflow\",source=\"\"}"
#define NONE_STALE                                                                                 \
	"spillway_signal_stale{service=\"acw-none\",signal=\"listen_overflow\",source=\"\"}"

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	int full_fd, prompt_fd;
	pthread_t acceptor;
	bool acceptor_started;
	atomic_bool stop;
	atomic_int accepted;
	int cli[2 * CONNS];
	int ncli;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The prompt server: takes every connection as it arrives and closes it. */
static void *acceptor(void *arg)
{
	struct test_ctx *c = arg;

	while (!atomic_load(&c->stop)) {
		struct pollfd p = {.fd = c->prompt_fd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(c->prompt_fd, NULL, NULL);
		if (fd >= 0) {
			atomic_fetch_add(&c->accepted, 1);
			close(fd);
		}
	}
	return NULL;
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));
	char cfg[2048];

	if (!c)
		return -1;
	c->full_fd = c->prompt_fd = -1;
	*state = c;
	if (spw_topo_create(&c->topo))
		return -1;
	c->full_fd = spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, FULL_PORT, 1);
	c->prompt_fd = spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, PROMPT_PORT, 256);
	if (c->full_fd < 0 || c->prompt_fd < 0)
		return -1;
	if (pthread_create(&c->acceptor, NULL, acceptor, c))
		return -1;
	c->acceptor_started = true;
	if (spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, true))
		return -1;
	snprintf(cfg, sizeof(cfg),
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "tiers: [critical, standard]\n"
		 "services:\n"
		 "  - {name: acw-full, port: %d, signals: [{listen_overflow: 100000/s}]}\n"
		 "  - {name: acw-prompt, port: %d, signals: [{listen_overflow: 100000/s}]}\n"
		 "  - {name: acw-none, port: %d, signals: [{listen_overflow: 100000/s}]}\n"
		 "controller: {tick: %dms, lease: 1s, cohort_rotation: 1h, stale_after: 2s}\n",
		 c->topo.end[SPW_TOPO_SRV].ifname, FULL_PORT, PROMPT_PORT, NONE_PORT, TICK_MS);
	return spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS) ? -1 : 0;
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;

	if (!c)
		return 0;
	if (c->acceptor_started) {
		atomic_store(&c->stop, true);
		pthread_join(c->acceptor, NULL);
	}
	spw_daemon_cleanup(&c->d);
	for (int i = 0; i < c->ncli; i++)
		close(c->cli[i]);
	if (c->full_fd >= 0)
		close(c->full_fd);
	if (c->prompt_fd >= 0)
		close(c->prompt_fd);
	spw_topo_destroy(&c->topo);
	free(c);
	return 0;
}

/* A connect started toward port, left to the kernel (its SYN retransmits while dropped). */
static void start_connect(struct test_ctx *c, uint16_t port)
{
	struct sockaddr_storage to;
	int fd, len;

	len = spw_topo_sockaddr(&c->topo, SPW_TOPO_SRV, AF_INET, port, &to);
	assert_true(len > 0);
	fd =
	    spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	c->cli[c->ncli++] = fd;
	assert_true(connect(fd, (struct sockaddr *)&to, (socklen_t)len) == 0 ||
		    errno == EINPROGRESS);
}

/* The largest reading of series so far into *max; whether it was there and a number. */
static bool track_max(struct test_ctx *c, const char *series, double *max)
{
	double v;

	if (spw_daemon_metric(&c->d, series, &v) || isnan(v))
		return false;
	if (v > *max)
		*max = v;
	return true;
}

static void acw_overflow_per_service(void **state)
{
	struct test_ctx *c = *state;
	double full_max = 0, prompt_max = 0, stale = 1, none_stale = 0, end;
	int prompt_reads = 0;

	for (int i = 0; i < CONNS; i++) {
		start_connect(c, FULL_PORT);
		start_connect(c, PROMPT_PORT);
		track_max(c, FULL_SIG, &full_max);
		prompt_reads += track_max(c, PROMPT_SIG, &prompt_max);
		usleep(CONN_GAP_MS * 1000);
	}
	/* A tick or two after the last SYN: its drops may be in the next reading. */
	for (end = now_ms() + 3 * TICK_MS; now_ms() < end; usleep(TICK_MS * 1000 / 4)) {
		track_max(c, FULL_SIG, &full_max);
		prompt_reads += track_max(c, PROMPT_SIG, &prompt_max);
	}
	assert_int_equal(spw_daemon_metric(&c->d, PROMPT_STALE, &stale), 0);
	assert_int_equal(spw_daemon_metric(&c->d, NONE_STALE, &none_stale), 0);
	print_message("listen_overflow: full %.1f/s at most, prompt %.1f/s (%d connections "
		      "accepted, %d readings)\n",
		      full_max, prompt_max, atomic_load(&c->accepted), prompt_reads);
	if (full_max <= 0)
		spw_daemon_log_dump(&c->d);
	assert_true(full_max > 0);
	/* Measured, not missing: a 0 that is only an unread signal proves nothing. */
	assert_true(prompt_reads > 0);
	assert_true(stale == 0);
	assert_true(prompt_max == 0);
	assert_int_equal(atomic_load(&c->accepted), CONNS);
	assert_true(none_stale == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(acw_overflow_per_service, setup, teardown),
	};

	return cmocka_run_group_tests_name(
	    "listen overflows per service, as the daemon reports them", tests, NULL, NULL);
}
