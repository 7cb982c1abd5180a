// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillwayd as an operator runs it, beside other instances and in front of local users:
 *
 *   (a) metrics.listen with port 0: the kernel's choice is logged, published in the state
 *       file, and serves /healthz;
 *   (b) a thousand idle connections to the exporter do not keep /healthz from answering;
 *   (c) SIGTERM: the process is gone within one tick;
 *   (d) a report sender faster than the daemon does not stop its ticks (the lease is renewed
 *       throughout);
 *   (e) a reload that cannot apply a changed metrics.listen, report.socket, state_dir or
 *       flows.capacity says so instead of answering ok;
 *   (f) report names expire once no longer reported: the map does not fill with old names;
 *   (g) TC attach and detach at the default log level print none of the kernel's expected
 *       complaints (clsact already there, or not there) that read as errors.
 *
 * One TCP service, no interface (nothing here needs a packet): the daemon runs in the server
 * namespace of a topology (tests/lib/netns.h) so its exporter's ports are its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "spillway_state.h"
#include "spw_dataplane.h"
#include "spw_report.h"
#include "daemon.h"
#include "netns.h"
#include "util.h"

#define SVC_ID		 1
#define TICK_MS		 100
#define READY_TIMEOUT_MS 15000
/* Idle connections held open against the exporter. */
#define IDLE_CONNS 1000
/* The report flood: sender processes, and how long they send. */
#define FLOOD_SENDERS 2
#define FLOOD_MS      3000
#define FLOOD_QLEN    100000
/* A report older than this many stale_after periods is removed (report_sock.c). */
#define STALE_MS 300

static const char base_yaml[] = "# spillwayd under tests/netns/test_daemon_ops.c\n"
				"interfaces: []\n"
				"services:\n"
				"  - name: api\n"
				"    protocol: tcp\n"
				"    port: 8080\n"
				"    signals:\n"
				"      - {pool: db, target: 0.85}\n"
				"controller: {tick: 100ms, lease: 1s, stale_after: 300ms}\n";

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
};

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	if (spw_topo_create(&c->topo))
		return -1;
	return spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, true) ? -1 : 0;
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;

	if (!c)
		return 0;
	if (c->d.inited && getenv("SPW_TEST_LOGS"))
		spw_daemon_log_dump(&c->d);
	spw_daemon_cleanup(&c->d);
	spw_topo_destroy(&c->topo);
	free(c);
	return 0;
}

static void launch(struct test_ctx *c)
{
	if (spw_daemon_launch(&c->d, base_yaml, SVC_ID, READY_TIMEOUT_MS))
		fail_msg("the daemon did not start");
}

/* ---- (a) port 0 -------------------------------------------------------------------------- */

static void test_metrics_port_zero(void **state)
{
	struct test_ctx *c = *state;
	struct spw_state_file *st = calloc(1, sizeof(*st));
	char body[256], *log, *at;
	unsigned int port = 0;

	assert_non_null(st);
	snprintf(c->d.metrics, sizeof(c->d.metrics), "127.0.0.1:0");
	assert_int_equal(spw_daemon_write_config(&c->d, base_yaml), 0);
	spw_daemon_log_mark(&c->d);
	assert_int_equal(spw_daemon_start(&c->d), 0);
	assert_int_equal(spw_daemon_log_wait(&c->d, "(port ", READY_TIMEOUT_MS), 0);
	log = spw_daemon_log_since_mark(&c->d);
	assert_non_null(log);
	at = strstr(log, "on 127.0.0.1:0 (port ");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "on 127.0.0.1:0 (port %u)", &port), 1);
	free(log);
	printf("metrics.listen 127.0.0.1:0: the daemon serves on port %u\n", port);
	assert_true(port > 0 && port <= 65535);
	/* From now on the HTTP readers use the chosen port. */
	snprintf(c->d.metrics, sizeof(c->d.metrics), "127.0.0.1:%u", port);
	assert_int_equal(spw_daemon_wait_ready(&c->d, SVC_ID, READY_TIMEOUT_MS), 0);
	assert_int_equal(spw_daemon_http_get(&c->d, "/healthz", body, sizeof(body)), 200);
	assert_int_equal(spw_daemon_state(&c->d, st), 0);
	assert_int_equal(st->metrics_port, port);
	free(st);
}

/* ---- (b) idle connections ---------------------------------------------------------------- */

struct idle_conns {
	int fds[IDLE_CONNS];
	int n;
	const char *src; /* the address they come from */
};

/* Inside the daemon's namespace: connect from src to the exporter and send nothing. */
static int open_idle(void *arg)
{
	struct idle_conns *ic = arg;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(SPW_DAEMON_METRICS_PORT)};
	struct sockaddr_in from = {.sin_family = AF_INET};
	int fd;

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	inet_pton(AF_INET, ic->src, &from.sin_addr);
	for (ic->n = 0; ic->n < IDLE_CONNS; ic->n++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		/* Any 127/8 address is local on lo: another local user, another source. */
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) ||
		    connect(fd, (struct sockaddr *)&to, sizeof(to))) {
			close(fd);
			return -errno;
		}
		ic->fds[ic->n] = fd;
	}
	return 0;
}

static void close_idle(struct idle_conns *ic)
{
	while (ic->n > 0)
		close(ic->fds[--ic->n]);
}

/* How long /healthz takes to answer 200, in ms; fails when it does not within limit_ms. */
static double healthz_ms(struct test_ctx *c, double limit_ms)
{
	double t0 = spw_now_ms();
	char body[256];
	int status;

	for (;;) {
		status = spw_daemon_http_get(&c->d, "/healthz", body, sizeof(body));
		if (status == 200)
			return spw_now_ms() - t0;
		if (spw_now_ms() - t0 > limit_ms)
			fail_msg("/healthz: %d after %.0f ms", status, spw_now_ms() - t0);
		spw_sleep_ms(10);
	}
}

static void test_idle_connections(void **state)
{
	struct test_ctx *c = *state;
	struct idle_conns *ic = calloc(1, sizeof(*ic));
	struct rlimit rl;
	double ms;

	assert_non_null(ic);
	/* The test itself holds a thousand fds. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < IDLE_CONNS + 256) {
		rl.rlim_cur = rl.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
		assert_true(rl.rlim_cur >= IDLE_CONNS + 256);
	}
	launch(c);
	ic->src = "127.0.0.2";
	assert_int_equal(spw_netns_run(c->d.ns, open_idle, ic), 0);
	spw_sleep_ms(200); /* the exporter has seen (and limited) them */
	ms = healthz_ms(c, 1000);
	printf("%d idle connections from %s: /healthz from 127.0.0.1 in %.1f ms\n", ic->n, ic->src,
	       ms);
	close_idle(ic);

	/* From the probe's own address: the idle timeout frees the places within seconds. */
	ic->src = "127.0.0.1";
	assert_int_equal(spw_netns_run(c->d.ns, open_idle, ic), 0);
	spw_sleep_ms(200);
	ms = healthz_ms(c, 8000);
	printf("%d idle connections from %s: /healthz answered after %.0f ms\n", ic->n, ic->src,
	       ms);
	close_idle(ic);
	free(ic);
}

/* ---- (c) SIGTERM ------------------------------------------------------------------------- */

/* Connects to the daemon's control socket (a client that has sent nothing yet). */
static int control_connect(struct test_ctx *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s/%s",
				     SPW_DAEMON_PATH_LEN, c->d.dir,
				     SPW_CONTROL_SOCK_NAME) < sizeof(sa.sun_path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* "reload" on the control socket; the daemon's one-line answer into answer. */
static void control_reload(struct test_ctx *c, char *answer, size_t len)
{
	int fd = control_connect(c);
	ssize_t n;

	assert_int_equal(write(fd, "reload\n", 7), 7);
	n = read(fd, answer, len - 1);
	close(fd);
	assert_true(n > 0);
	answer[n] = '\0';
	printf("reload answer: %s", answer);
}

/*
 * As deployed: attached to an interface, the exporter on, and an operator's control client
 * connected that has not sent its line yet (it held the loop for its whole I/O timeout).
 */
static void test_sigterm_within_a_tick(void **state)
{
	struct test_ctx *c = *state;
	double t0, worst = 0, ms;
	char yaml[2048];
	int status, i, fd;

	snprintf(yaml, sizeof(yaml), "interfaces: [{name: %s, mode: xdp}]\n%s",
		 c->topo.end[SPW_TOPO_SRV].ifname, strstr(base_yaml, "services:"));
	assert_int_equal(spw_daemon_launch(&c->d, yaml, SVC_ID, READY_TIMEOUT_MS), 0);
	for (i = 0; i < 3; i++) {
		if (i) {
			assert_int_equal(spw_daemon_start(&c->d), 0);
			assert_int_equal(spw_daemon_wait_ready(&c->d, SVC_ID, READY_TIMEOUT_MS), 0);
		}
		fd = control_connect(c);
		spw_sleep_ms(20); /* accepted by now */
		t0 = spw_now_ms();
		assert_int_equal(kill(c->d.pid, SIGTERM), 0);
		while (waitpid(c->d.pid, &status, 0) < 0)
			assert_int_equal(errno, EINTR);
		ms = spw_now_ms() - t0;
		c->d.pid = 0;
		close(fd);
		printf("SIGTERM to exit: %.1f ms (tick %d ms)\n", ms, TICK_MS);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (ms > worst)
			worst = ms;
	}
	assert_true(worst <= TICK_MS);
}

/* ---- (d) report flood -------------------------------------------------------------------- */

/* Batches of datagrams per sendmmsg(): a sender much cheaper per line than the daemon. */
#define FLOOD_BATCH 64

static void flood(const char *sock, double until_ms)
{
	static char line[] = "pool db in_use=1 capacity=10";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov = {.iov_base = line, .iov_len = sizeof(line) - 1};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < FLOOD_BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &sa;
		msgs[i].msg_hdr.msg_namelen = sizeof(sa);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* Non-blocking, retried at once: the socket's queue is refilled as soon as the daemon
	 * takes a line, so it never finds the queue empty while the flood lasts. */
	while (fd >= 0 && spw_now_ms() < until_ms)
		sendmmsg(fd, msgs, FLOOD_BATCH, MSG_DONTWAIT);
	_exit(0);
}

/*
 * In the daemon's namespace: a deep datagram queue (net.unix.max_dgram_qlen, per namespace),
 * as a host with bursty reporters sets it. With the default of 10 a sender blocks so often
 * that the drain finds the queue empty now and then; a deep one it never empties.
 */
static int deep_unix_queue(void *arg)
{
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "w");
	int err = 0;

	(void)arg;
	if (!f)
		return -errno;
	if (fprintf(f, "%d\n", FLOOD_QLEN) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static void test_report_flood_keeps_ticking(void **state)
{
	struct test_ctx *c = *state;
	struct spw_policy p;
	pid_t pids[FLOOD_SENDERS];
	double end, worst_left = 1e9, left;
	uint64_t now;
	int i, samples = 0, status;

	assert_int_equal(spw_netns_run(c->d.ns, deep_unix_queue, NULL), 0);
	launch(c);
	end = spw_now_ms() + FLOOD_MS;
	for (i = 0; i < FLOOD_SENDERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (!pids[i])
			flood(c->d.report_sock, end);
	}
	/* The lease is renewed every tick: how close did it come to running out? */
	while (spw_now_ms() < end) {
		assert_int_equal(spw_dp_policy_get(c->d.dp, SVC_ID, &p), 0);
		now = spw_now_ns();
		left = p.lease_expires_ns > now ? (double)(p.lease_expires_ns - now) / 1e6 : 0;
		if (left < worst_left)
			worst_left = left;
		samples++;
		spw_sleep_ms(10);
	}
	for (i = 0; i < FLOOD_SENDERS; i++)
		while (waitpid(pids[i], &status, 0) < 0)
			assert_int_equal(errno, EINTR);
	{
		double ok = 0;

		spw_daemon_metric(&c->d, "spillway_reports_total{outcome=\"accepted\"}", &ok);
		printf("report flood (%d senders, %d ms): %.0f reports taken; least lease left "
		       "%.0f ms of 1000 over %d samples\n",
		       FLOOD_SENDERS, FLOOD_MS, ok, worst_left, samples);
	}
	/* A tick renews it to 1000 ms: more than 5 ticks without one is a stalled loop. */
	assert_true(worst_left >= 1000 - 5 * TICK_MS);
	assert_true(spw_daemon_alive(&c->d));
}

/* ---- (e) reload of what cannot change at run time ----------------------------------------- */

static void test_reload_says_what_it_kept(void **state)
{
	struct test_ctx *c = *state;
	char yaml[2048], answer[512];

	launch(c);
	snprintf(yaml, sizeof(yaml), "%sflows: {capacity: 4096}\n", base_yaml);
	assert_int_equal(spw_daemon_write_config(&c->d, yaml), 0);
	/* The tail the helper adds names this run's listen, socket and state_dir: change them. */
	{
		char *text = spw_read_file(c->d.config, NULL), *out = malloc(8192), *at;

		assert_non_null(text);
		assert_non_null(out);
		at = strstr(text, "# Added by tests/lib/daemon.c");
		assert_non_null(at);
		snprintf(out, 8192,
			 "%.*smetrics: {listen: \"127.0.0.1:9479\"}\n"
			 "report: {socket: \"%s/other.sock\"}\n"
			 "state_dir: \"%s/other\"\n",
			 (int)(at - text), text, c->d.dir, c->d.dir);
		assert_int_equal(spw_daemon_write_raw(&c->d, out), 0);
		free(text);
		free(out);
	}
	control_reload(c, answer, sizeof(answer));
	assert_null(strstr(answer, "ok:"));
	assert_non_null(strstr(answer, "metrics.listen"));
	assert_non_null(strstr(answer, "report.socket"));
	assert_non_null(strstr(answer, "state_dir"));
	assert_non_null(strstr(answer, "flows.capacity"));
	/* What runs is what ran: the exporter on its port, reports on their socket. */
	assert_int_equal(spw_daemon_report(&c->d, "pool db in_use=1 capacity=10"), 0);
	healthz_ms(c, 1000);
}

/* ---- (f) report names expire ------------------------------------------------------------- */

static void test_report_names_expire(void **state)
{
	struct test_ctx *c = *state;
	struct spw_report_key key;
	struct spw_report r;
	char line[128];
	double t0;
	int i, err;

	launch(c);
	/* More names over time than the map holds: each goes quiet after one report. */
	for (i = 0; i < SPW_MAX_REPORTS; i++) {
		snprintf(line, sizeof(line), "pool old%d in_use=1 capacity=10", i);
		assert_int_equal(spw_daemon_report(&c->d, line), 0);
	}
	assert_int_equal(spw_report_key_make(&key, SPW_REPORT_POOL, "old0"), 0);
	t0 = spw_now_ms();
	do {
		spw_sleep_ms(100);
		err = spw_dp_report_get(c->d.dp, &key, &r);
	} while (!err && spw_now_ms() - t0 < 20 * STALE_MS);
	printf("a report name not renewed: removed after %.0f ms (stale_after %d ms)\n",
	       spw_now_ms() - t0, STALE_MS);
	assert_int_equal(err, -ENOENT);
	/* The places are free: a new name is stored. */
	assert_int_equal(spw_daemon_report(&c->d, "pool fresh in_use=1 capacity=10"), 0);
	assert_int_equal(spw_report_key_make(&key, SPW_REPORT_POOL, "fresh"), 0);
	t0 = spw_now_ms();
	while (spw_dp_report_get(c->d.dp, &key, &r) && spw_now_ms() - t0 < 2000)
		spw_sleep_ms(10);
	assert_int_equal(spw_dp_report_get(c->d.dp, &key, &r), 0);
}

/* ---- (g) libbpf's expected complaints ----------------------------------------------------- */

/*
 * At the daemon's default level (info), attaching in TC mode and detaching again (a reload
 * that drops the interface) must not print the kernel's complaints about an existing or a
 * missing clsact qdisc: they are expected, handled, and read as errors.
 */
static void test_no_netlink_noise(void **state)
{
	struct test_ctx *c = *state;
	char yaml[2048], *log;
	char answer[256];
	bool noisy, attached;
	int i;

	c->d.quiet = true;
	snprintf(yaml, sizeof(yaml), "interfaces: [{name: %s, mode: tc}]\n%s",
		 c->topo.end[SPW_TOPO_SRV].ifname, strstr(base_yaml, "services:"));
	assert_int_equal(spw_daemon_launch(&c->d, yaml, SVC_ID, READY_TIMEOUT_MS), 0);
	/* A restart attaches where its programs already are; then a reload detaches. */
	assert_int_equal(spw_daemon_stop(&c->d, 5000), 0);
	assert_int_equal(spw_daemon_start(&c->d), 0);
	assert_int_equal(spw_daemon_wait_ready(&c->d, SVC_ID, READY_TIMEOUT_MS), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(spw_daemon_write_config(&c->d, i ? yaml : base_yaml), 0);
		control_reload(c, answer, sizeof(answer));
		assert_non_null(strstr(answer, "ok:"));
	}
	c->d.mark = 0; /* both runs: a start marks its own beginning */
	log = spw_daemon_log_since_mark(&c->d);
	assert_non_null(log);
	printf("%s", log);
	noisy = strstr(log, "Exclusivity flag on") || strstr(log, "Parent Qdisc doesn't exists") ||
		strstr(log, "Kernel error message");
	attached = strstr(log, "attached to ") != NULL;
	free(log);
	assert_true(attached);
	assert_false(noisy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_metrics_port_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_connections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sigterm_within_a_tick, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report_flood_keeps_ticking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_says_what_it_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report_names_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_netlink_noise, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
