// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway beside xdp-filter on one veth, both through libxdp's multi-program dispatcher: the
 * daemon runs with xdp_dispatcher: libxdp, xdp-filter (xdp-tools) is loaded with one denied
 * port. Each program must keep doing its job whatever happens to the other:
 *   - xdp-filter's denied port is dropped (a port spillway does not serve, so only xdp-filter
 *     can be the one dropping it);
 *   - spillway's shed tier (a client address classified sheddable, shed by `policy set`) is
 *     refused and counted as shed_level; its admitted tier (another address, critical)
 *     connects;
 *   - a restart of the daemon swaps spillway's program (a new id, still one copy) and leaves
 *     xdp-filter attached and dropping; the log's measure of the overlap is printed;
 *   - xdp-filter unloaded and loaded again leaves spillway's program (the same id) attached
 *     and enforcing;
 *   - `spillway detach` removes spillway's program and nothing else.
 * And where libxdp cannot put spillway beside others, the daemon says so and holds nothing.
 *
 * xdp-filter and xdp-loader run with nsenter --net (the network namespace only): `ip netns
 * exec` would mount a /sys of its own, and their pins (the dispatcher's under
 * /sys/fs/bpf/xdp/, xdp-filter's under /sys/fs/bpf/xdp-filter/) would be invisible to the
 * daemon's libxdp, which would then see a program it cannot add to.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <xdp/libxdp.h>

#include "cmd.h"
#include "daemon.h"
#include "netns.h"
#include "sockets.h"
#include "util.h"

#define SVC_ID	 1
#define SVC_PORT 8080
/* The port xdp-filter denies; nothing of spillway's is there. */
#define DENY_PORT 9099
/* spillway's run priority: after xdp-filter's own (10), before libxdp's default (50). */
#define SPW_PRIO	 40
#define READY_TIMEOUT_MS 15000
/* A connect neither accepted nor refused by then had its SYNs dropped. */
#define DROP_WAIT_MS 1500
#define CONNECT_MS   3000
/* Three ticks of the daemon (100 ms): an override is in the pinned policy by then. */
#define SETTLE_MS 300
#define MAX_PROGS 10 /* libxdp's dispatcher has ten slots */

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	char cli[4096];
	char ns_path[64];		 /* /run/netns/<server namespace> for nsenter */
	char shed_addr[INET_ADDRSTRLEN]; /* the second client address: tier sheddable */
	int listen_svc, listen_deny;
	bool filter_loaded;
};

/* ---- what libxdp's dispatcher on the server veth holds ---- */

struct disp_view {
	int ifindex;
	bool dispatcher; /* libxdp's dispatcher (not one program alone) */
	int n;
	char names[MAX_PROGS][BPF_OBJ_NAME_LEN];
	uint32_t ids[MAX_PROGS];
	unsigned int prios[MAX_PROGS];
};

static int view_in_ns(void *arg)
{
	struct disp_view *v = arg;
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(v->ifindex);
	struct xdp_program *p = NULL;

	v->n = 0;
	v->dispatcher = false;
	if (libxdp_get_error(mp) || !mp)
		return 0;
	v->dispatcher = !xdp_multiprog__is_legacy(mp);
	if (!v->dispatcher) {
		p = xdp_multiprog__main_prog(mp);
		if (p) {
			snprintf(v->names[0], sizeof(v->names[0]), "%s", xdp_program__name(p));
			v->ids[0] = xdp_program__id(p);
			v->n = 1;
		}
	}
	while (v->dispatcher && v->n < MAX_PROGS && (p = xdp_multiprog__next_prog(p, mp))) {
		snprintf(v->names[v->n], sizeof(v->names[0]), "%s", xdp_program__name(p));
		v->ids[v->n] = xdp_program__id(p);
		v->prios[v->n] = xdp_program__run_prio(p);
		v->n++;
	}
	xdp_multiprog__close(mp);
	return 0;
}

static void view(struct test_ctx *c, struct disp_view *v)
{
	memset(v, 0, sizeof(*v));
	v->ifindex = c->topo.end[SPW_TOPO_SRV].ifindex;
	assert_int_equal(spw_netns_run(c->topo.end[SPW_TOPO_SRV].ns, view_in_ns, v), 0);
}

static int find(const struct disp_view *v, const char *prefix)
{
	int i, at = -1;

	for (i = 0; i < v->n; i++)
		if (!strncmp(v->names[i], prefix, strlen(prefix))) {
			if (at >= 0)
				fail_msg("two programs named %s* in the dispatcher", prefix);
			at = i;
		}
	return at;
}

static void print_view(const char *when, const struct disp_view *v)
{
	int i;

	printf("  %s: %s", when, v->dispatcher ? "libxdp's dispatcher:" : "no dispatcher:");
	for (i = 0; i < v->n; i++)
		printf(" %s (id %u, prio %u)", v->names[i], v->ids[i], v->prios[i]);
	printf("\n");
}

/* The hook holds libxdp's dispatcher, not one program alone. */
static void expect_dispatcher(struct test_ctx *c, struct disp_view *v, const char *when)
{
	view(c, v);
	print_view(when, v);
	if (!v->dispatcher)
		fail_msg("%s: the XDP hook holds %s alone, not libxdp's dispatcher: libxdp fell "
			 "back to one program because the kernel would not load its dispatcher's "
			 "extensions (BPF_PROG_TYPE_EXT; xdp-filter load -v says why)",
			 when, v->n ? v->names[0] : "nothing");
}

/* Both programs in one dispatcher, spillway's at SPW_PRIO; returns spillway's program id. */
static uint32_t expect_both(struct test_ctx *c, const char *when)
{
	struct disp_view v;
	int f, s;

	expect_dispatcher(c, &v, when);
	f = find(&v, "xdpfilt_");
	s = find(&v, "spw_xdp_ingress");
	if (f < 0 || s < 0)
		fail_msg("%s: want xdp-filter and spillway in the dispatcher", when);
	assert_int_equal(v.prios[s], SPW_PRIO);
	return v.ids[s];
}

/* ---- tools ---- */

static void nsrun(struct test_ctx *c, const char *const *args)
{
	const char *argv[16] = {"nsenter"};
	char net[96];
	int n = 1, rc;

	snprintf(net, sizeof(net), "--net=%s", c->ns_path);
	argv[n++] = net;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	rc = spw_cmd_run(argv);
	if (rc)
		fail_msg("%s %s ... exited %d", argv[2], argv[3], rc);
}

static void filter_load(struct test_ctx *c)
{
	char port[8];
	const char *load[] = {"xdp-filter", "load",   c->topo.end[SPW_TOPO_SRV].ifname,
			      "-m",	    "native", NULL};
	const char *deny[] = {"xdp-filter", "port", port, NULL};

	snprintf(port, sizeof(port), "%d", DENY_PORT);
	nsrun(c, load);
	c->filter_loaded = true;
	nsrun(c, deny);
}

static void filter_unload(struct test_ctx *c)
{
	const char *unload[] = {"xdp-filter", "unload", c->topo.end[SPW_TOPO_SRV].ifname, NULL};

	nsrun(c, unload);
	c->filter_loaded = false;
}

static void cli(struct test_ctx *c, const char *const *args)
{
	const char *argv[24] = {c->cli,	  "--pin-root", c->d.pin_root, "--state-dir",
				c->d.dir, "--config",	c->d.config};
	int n = 7, rc;

	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	rc = spw_cmd_run(argv);
	if (rc)
		fail_msg("spillway %s exited %d", argv[7], rc);
}

static void shed_sheddable(struct test_ctx *c)
{
	const char *set[] = {"policy", "set", "api", "--shed", "sheddable", "--for", "60s", NULL};

	cli(c, set);
	spw_sleep_ms(SETTLE_MS);
}

/* ---- traffic ---- */

/* A TCP connect from the client side (from src when not NULL) to the server at port. */
static int connect_from(struct test_ctx *c, const char *src, uint16_t port, int wait_ms)
{
	struct sockaddr_storage to;
	int fd, len, r;
	double ms;

	fd = spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (src) {
		struct sockaddr_in from = {.sin_family = AF_INET};

		assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	}
	len = spw_topo_sockaddr(&c->topo, SPW_TOPO_SRV, AF_INET, port, &to);
	assert_true(len > 0);
	r = spw_connect_timed(fd, &to, (socklen_t)len, wait_ms, 1000, &ms);
	close(fd);
	return r;
}

/* Accepts and closes what the listener has queued, so its backlog never fills. */
static void drain(int listen_fd)
{
	int fd;

	while (spw_sock_readable(listen_fd, 0) && (fd = accept(listen_fd, NULL, NULL)) >= 0)
		close(fd);
}

static uint64_t shed_count(struct test_ctx *c)
{
	struct spw_count n;

	assert_int_equal(spw_dp_counter_read(c->d.dp, SVC_ID, 2, SPW_REASON_SHED_LEVEL, &n), 0);
	return n.packets;
}

/* Each program doing its job: filter drops DENY_PORT, spillway sheds sheddable, admits critical. */
static void expect_traffic(struct test_ctx *c, const char *when, bool filter, bool spillway)
{
	uint64_t shed0 = shed_count(c);
	int r;

	r = connect_from(c, NULL, SVC_PORT, CONNECT_MS);
	if (r != SPW_CONN_OK)
		fail_msg("%s: the admitted (critical) client could not connect: %d", when, r);
	r = connect_from(c, c->shed_addr, SVC_PORT, spillway ? DROP_WAIT_MS : CONNECT_MS);
	if (r != (spillway ? SPW_CONN_PENDING : SPW_CONN_OK))
		fail_msg("%s: the sheddable client's connect came to %d, want %s", when, r,
			 spillway ? "dropped (spillway sheds it)" : "connected (no spillway)");
	if (spillway && shed_count(c) == shed0)
		fail_msg("%s: spillway counted no shed_level SYN of the sheddable tier", when);
	r = connect_from(c, NULL, DENY_PORT, filter ? DROP_WAIT_MS : CONNECT_MS);
	if (r != (filter ? SPW_CONN_PENDING : SPW_CONN_OK))
		fail_msg("%s: the connect to port %d came to %d, want %s", when, DENY_PORT, r,
			 filter ? "dropped (xdp-filter denies it)" : "connected (no xdp-filter)");
	drain(c->listen_svc);
	drain(c->listen_deny);
	printf("  %s: admitted passes, %s, %s\n", when,
	       spillway ? "sheddable shed by spillway" : "sheddable passes (spillway gone)",
	       filter ? "denied port dropped by xdp-filter" : "port passes (xdp-filter gone)");
}

/* ---- fixture ---- */

static void make_config(struct test_ctx *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "xdp_dispatcher: libxdp\n"
		 "xdp_priority: %d\n"
		 "classify:\n"
		 "  - {cidr: %s/32, tier: critical}\n"
		 "  - {cidr: %s/32, tier: sheddable}\n"
		 "services:\n"
		 "  - {name: api, port: %d, default_tier: standard}\n",
		 c->topo.end[SPW_TOPO_SRV].ifname, SPW_PRIO, c->topo.end[SPW_TOPO_CLI].v4_str,
		 c->shed_addr, SVC_PORT);
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));
	char bin[4096], cidr[INET_ADDRSTRLEN + 4];
	unsigned int a, b, d3;

	if (!c || spw_topo_create(&c->topo))
		return -1;
	*state = c;
	c->listen_svc = c->listen_deny = -1;
	snprintf(c->ns_path, sizeof(c->ns_path), "/run/netns/%s", c->topo.end[SPW_TOPO_SRV].ns);
	/* The client's .1 is critical; .3 beside it is sheddable. */
	if (sscanf(c->topo.end[SPW_TOPO_CLI].v4_str, "%u.%u.%u.", &a, &b, &d3) != 3)
		return -1;
	snprintf(c->shed_addr, sizeof(c->shed_addr), "%u.%u.%u.3", a, b, d3);
	snprintf(cidr, sizeof(cidr), "%s/24", c->shed_addr);
	if (spw_topo_addr_add(&c->topo, SPW_TOPO_CLI, cidr))
		return -1;
	c->listen_svc = spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, SVC_PORT, 64);
	c->listen_deny = spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, DENY_PORT, 64);
	if (c->listen_svc < 0 || c->listen_deny < 0)
		return -1;
	if (spw_daemon_binary(bin, sizeof(bin)))
		return -1;
	snprintf(c->cli, sizeof(c->cli), "%s/spillway", dirname(bin));
	if (access(c->cli, X_OK) || !spw_cmd_exists("xdp-filter") ||
	    !spw_cmd_exists("xdp-loader")) {
		fprintf(stderr, "missing: %s, xdp-filter or xdp-loader (tools/install-deps.sh)\n",
			c->cli);
		return -1;
	}
	return spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, false);
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;
	const char *argv[] = {
	    "nsenter", c->ns_path, "xdp-loader", "unload", c->topo.end[SPW_TOPO_SRV].ifname,
	    "--all",   NULL};
	char net[96];

	if (!c)
		return 0;
	spw_daemon_cleanup(&c->d);
	/* Whatever is left in the dispatcher (both programs after a failure) and its pins. */
	snprintf(net, sizeof(net), "--net=%s", c->ns_path);
	argv[1] = net;
	if (c->topo.created) {
		if (c->filter_loaded) {
			const char *fu[] = {"nsenter",
					    net,
					    "xdp-filter",
					    "unload",
					    c->topo.end[SPW_TOPO_SRV].ifname,
					    NULL};

			spw_cmd_run(fu);
		}
		spw_cmd_run(argv);
	}
	if (c->listen_svc >= 0)
		close(c->listen_svc);
	if (c->listen_deny >= 0)
		close(c->listen_deny);
	spw_topo_destroy(&c->topo);
	free(c);
	return 0;
}

static void test_beside_xdp_filter(void **state)
{
	struct test_ctx *c = *state;
	const char *detach[] = {"detach", c->topo.end[SPW_TOPO_SRV].ifname, NULL};
	uint32_t id0, id1, id2;
	struct disp_view v;
	char cfg[1024];
	char *log;

	/* The other team's program first, with its denied port. */
	filter_load(c);
	make_config(c, cfg, sizeof(cfg));
	view(c, &v);
	print_view("xdp-filter loaded", &v);
	if (!v.dispatcher) {
		/*
		 * This kernel refuses libxdp's dispatcher (its slots are BPF_PROG_TYPE_EXT
		 * programs; here their load fails with EPERM, as does any freplace program), so
		 * no two XDP programs can share the hook by any means. What spillway must do then
		 * is the documented refusal, with xdp-filter left alone and still dropping.
		 */
		printf(
		    "  NOTE: this kernel loads no extension program: libxdp attached xdp-filter "
		    "alone, so coexistence cannot be shown here; checking the refusal instead\n");
		spw_daemon_log_mark(&c->d);
		assert_true(spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS) < 0);
		assert_true(spw_daemon_log_has(&c->d, "that is not libxdp's dispatcher"));
		view(c, &v);
		assert_true(find(&v, "xdpfilt_") == 0 && v.n == 1);
		assert_int_equal(connect_from(c, NULL, DENY_PORT, DROP_WAIT_MS), SPW_CONN_PENDING);
		return;
	}
	assert_int_equal(spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS), 0);
	id0 = expect_both(c, "daemon started");
	shed_sheddable(c);
	expect_traffic(c, "daemon started", true, true);

	/* A restart swaps spillway's program in and leaves xdp-filter's alone. */
	assert_true(spw_daemon_stop(&c->d, 5000) == 0);
	spw_daemon_log_mark(&c->d);
	assert_int_equal(spw_daemon_start(&c->d), 0);
	assert_int_equal(spw_daemon_wait_ready(&c->d, SVC_ID, READY_TIMEOUT_MS), 0);
	id1 = expect_both(c, "daemon restarted");
	if (id1 == id0)
		fail_msg("the restarted daemon kept the old program (id %u): no swap", id0);
	log = spw_daemon_log_since_mark(&c->d);
	assert_non_null(log);
	if (!strstr(log, "both copies ran for"))
		fail_msg("the restart did not say how long both copies ran:\n%s", log);
	printf("  restart: %.120s\n", strstr(log, "ifindex"));
	free(log);
	shed_sheddable(c);
	expect_traffic(c, "daemon restarted", true, true);

	/* xdp-filter unloaded: spillway alone in the dispatcher, the same program. */
	filter_unload(c);
	expect_dispatcher(c, &v, "xdp-filter unloaded");
	assert_true(find(&v, "spw_xdp_ingress") >= 0);
	assert_int_equal(v.ids[find(&v, "spw_xdp_ingress")], id1);
	assert_true(find(&v, "xdpfilt_") < 0);
	expect_traffic(c, "xdp-filter unloaded", false, true);

	/* And loaded again beside it. */
	filter_load(c);
	id2 = expect_both(c, "xdp-filter loaded again");
	assert_int_equal(id2, id1);
	expect_traffic(c, "xdp-filter loaded again", true, true);

	/* spillway's detach takes its program out and nothing else. */
	cli(c, detach);
	expect_dispatcher(c, &v, "spillway detached");
	assert_true(find(&v, "spw_xdp_ingress") < 0);
	assert_true(find(&v, "xdpfilt_") >= 0);
	expect_traffic(c, "spillway detached", true, false);
}

/*
 * Where libxdp cannot put spillway beside others, the daemon says why and holds nothing:
 * libxdp attaches one program alone, without its dispatcher, where the kernel cannot run the
 * dispatcher, and LIBXDP_SKIP_DISPATCHER=1 makes it do that on any kernel. An XDP program
 * alone on the hook (xdp-filter so loaded) stays, and keeps dropping; spillway alone would
 * keep every other program off the interface, so it comes off again.
 */
static void test_never_alone(void **state)
{
	struct test_ctx *c = *state;
	struct disp_view v;
	char cfg[1024];

	make_config(c, cfg, sizeof(cfg));
	assert_int_equal(setenv("LIBXDP_SKIP_DISPATCHER", "1", 1), 0);
	filter_load(c);
	assert_int_equal(unsetenv("LIBXDP_SKIP_DISPATCHER"), 0);
	view(c, &v);
	print_view("xdp-filter loaded alone", &v);
	assert_false(v.dispatcher);
	assert_true(find(&v, "xdpfilt_") == 0);
	spw_daemon_log_mark(&c->d);
	assert_true(spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS) < 0);
	assert_true(spw_daemon_log_has(&c->d, "that is not libxdp's dispatcher"));
	view(c, &v);
	print_view("daemon refused", &v);
	assert_false(v.dispatcher);
	assert_true(find(&v, "xdpfilt_") == 0 && v.n == 1);
	assert_int_equal(connect_from(c, NULL, DENY_PORT, DROP_WAIT_MS), SPW_CONN_PENDING);
	filter_unload(c);

	/* Nothing on the hook, and libxdp would attach spillway alone. */
	assert_int_equal(setenv("LIBXDP_SKIP_DISPATCHER", "1", 1), 0);
	spw_daemon_log_mark(&c->d);
	assert_true(spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS) < 0);
	assert_int_equal(unsetenv("LIBXDP_SKIP_DISPATCHER"), 0);
	assert_true(spw_daemon_log_has(&c->d, "libxdp attached spillway alone instead"));
	view(c, &v);
	print_view("daemon refused to be alone", &v);
	assert_int_equal(v.n, 0);
	assert_int_equal(connect_from(c, c->shed_addr, SVC_PORT, CONNECT_MS), SPW_CONN_OK);
	drain(c->listen_svc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_never_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_beside_xdp_filter, setup, teardown),
	};

	return cmocka_run_group_tests_name("xdp_coexist", tests, NULL, NULL);
}
