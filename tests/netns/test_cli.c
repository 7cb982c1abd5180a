// SPDX-License-Identifier: GPL-2.0-only
/*
 * The spillway CLI against the real spillwayd (tests/lib/daemon.h) in a network namespace of
 * its own, with real TCP connects from a client namespace:
 *
 *   - status --json: the tiers, interface, mode, lease and active connections the config and
 *     the open connections imply;
 *   - explain agrees with what the data plane did to a real connect from that address, for an
 *     admitted and a shed case;
 *   - policy set sheds at once and expires on time;
 *   - rules add changes the tier of the next connection, rules del changes it back;
 *   - report lines (sent by `spillway report`) move pressure, as status shows;
 *   - reload through the control socket: a broken file answers its file:line:col error and
 *     the running config stays; a good one answers "ok: 1 services";
 *   - read commands run as nobody fail with a message naming the privilege needed.
 *
 * One 3-tier TCP service with reject for standard and sheddable, so a shed SYN shows at once
 * as ECONNREFUSED. The client's IPv4 address is in the default tier (standard) unless a rule
 * says otherwise. Sheds in these tests cover whole tiers, so no case depends on the cohort the
 * salt puts the client in. The tests run in order and share one daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <net/if.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>
#include <bpf/libbpf.h>

#include "cmd.h"
#include "daemon.h"
#include "netns.h"
#include "spw_fixture.h"
#include "sockets.h"
#include "util.h"
#include "daemon_scene.h"

#define SVC_ID		 1
#define SVC_PORT	 8080
#define TICK_MS		 100
#define LEASE_MS	 1000
#define POOL_TARGET	 0.85
#define READY_TIMEOUT_MS 15000
/* A connect that is not refused or accepted by then is pending (not expected here). */
#define CONNECT_TIMEOUT_MS 2000
/* Connections kept open while status counts them. */
#define HELD_CONNS 2
/* policy set --for in the expiry test, and how late the end may be seen on a busy machine. */
#define OVERRIDE_MS	2000
#define EXPIRY_SLACK_MS 600
#define PROBE_EVERY_MS	20
#define OUT_MAX		65536
#define NOBODY		65534

struct test_ctx {
	struct daemon_scene scene; /* first: daemon_scene_group_setup() makes the context */
	char v4_32[INET_ADDRSTRLEN + 4];
};
_Static_assert(offsetof(struct test_ctx, scene) == 0, "the scene begins the context");

static struct test_ctx *ctx;

/* ---- running the CLI --------------------------------------------------------------------- */

struct run {
	int status; /* exit code, or -1 when it did not exit normally */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static void slurp(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/*
 * Runs `spillway --pin-root P --state-dir S --config C ARGS...`; uid != 0 runs it as that
 * user (and group). Output goes to files, read back after the exit: no pipe can fill up.
 */
static void run_cli_in(struct test_ctx *c, const char *ns, uid_t uid, struct run *r,
		       const char *const *args);

static void run_cli_as(struct test_ctx *c, uid_t uid, struct run *r, const char *const *args)
{
	run_cli_in(c, NULL, uid, r, args);
}

/* The same, run in network namespace ns (NULL: this one), as nsenter --net would. */
static void run_cli_in(struct test_ctx *c, const char *ns, uid_t uid, struct run *r,
		       const char *const *args)
{
	const char *argv[32] = {c->scene.cli,	"--pin-root", c->scene.d.pin_root, "--state-dir",
				c->scene.d.dir, "--config",   c->scene.d.config};
	FILE *out = tmpfile(), *err = tmpfile();
	int n = 7, status;
	pid_t pid;

	assert_non_null(out);
	assert_non_null(err);
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char nspath[64];
		int nsfd;

		dup2(fileno(out), STDOUT_FILENO);
		dup2(fileno(err), STDERR_FILENO);
		if (ns) {
			snprintf(nspath, sizeof(nspath), "/run/netns/%s", ns);
			nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
			if (nsfd < 0 || setns(nsfd, CLONE_NEWNET))
				_exit(126);
		}
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(127);
		execv(c->scene.cli, (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	rewind(out);
	rewind(err);
	slurp(fileno(out), r->out, sizeof(r->out));
	slurp(fileno(err), r->err, sizeof(r->err));
	fclose(out);
	fclose(err);
}

#define CLI(c, r, ...)                                                                             \
	do {                                                                                       \
		const char *const args_[] = {__VA_ARGS__, NULL};                                   \
		run_cli_as(c, 0, r, args_);                                                        \
	} while (0)

/* Runs a command that must succeed; prints its output when it does not. */
#define CLI_OK(c, r, ...)                                                                          \
	do {                                                                                       \
		CLI(c, r, __VA_ARGS__);                                                            \
		if ((r)->status != 0)                                                              \
			fail_msg("spillway exited %d\nstdout: %s\nstderr: %s", (r)->status,        \
				 (r)->out, (r)->err);                                              \
	} while (0)

static json_t *json_of(struct run *r)
{
	json_error_t e;
	json_t *j = json_loads(r->out, 0, &e);

	if (!j)
		fail_msg("not JSON (%s): %s", e.text, r->out);
	return j;
}

static json_t *path(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		fail_msg("no '%s' in the JSON", key);
	return v;
}

static void make_config(struct test_ctx *c, char *buf, size_t len)
{
	int n =
	    snprintf(buf, len,
		     "# spillwayd under the CLI tests (tests/netns/test_cli.c)\n"
		     "interfaces: [{name: %s, mode: xdp}]\n"
		     "tiers: [critical, standard, sheddable]\n"
		     "classify:\n"
		     "  - {cidr: \"%s/128\", tier: critical}\n"
		     "services:\n"
		     "  - name: api\n"
		     "    protocol: tcp\n"
		     "    port: %d\n"
		     "    default_tier: standard\n"
		     "    shed_action: {standard: reject, sheddable: reject}\n"
		     "    signals:\n"
		     "      - {pool: db, target: %.2f}\n"
		     "controller: {tick: %dms, lease: %dms, cohort_rotation: 1h, "
		     "stale_after: 2s}\n",
		     c->scene.topo.end[SPW_TOPO_SRV].ifname, c->scene.topo.end[SPW_TOPO_CLI].v6_str,
		     SVC_PORT, POOL_TARGET, TICK_MS, LEASE_MS);

	assert_true(n > 0 && (size_t)n < len);
}

static int group_setup(void **state)
{
	struct test_ctx *c;
	char cfg[4096];

	if (daemon_scene_group_setup(state, sizeof(struct test_ctx), SVC_PORT))
		return -1;
	c = ctx = *state;
	snprintf(c->v4_32, sizeof(c->v4_32), "%s/32", c->scene.topo.end[SPW_TOPO_CLI].v4_str);
	if (spw_daemon_init(&c->scene.d, c->scene.topo.end[SPW_TOPO_SRV].ns, false))
		return -1;
	make_config(c, cfg, sizeof(cfg));
	if (spw_daemon_launch(&c->scene.d, cfg, SVC_ID, READY_TIMEOUT_MS))
		return -1;
	return 0;
}

static int test_teardown(void **state)
{
	struct test_ctx *c = *state;
	struct run r;

	spw_fds_close_all(&c->scene.fds);
	/* Whatever a failed test left, the next one starts without an override or extra rule. */
	CLI(c, &r, "policy", "clear", "api");
	CLI(c, &r, "rules", "del", c->v4_32);
	return 0;
}

/* ---- connects ---------------------------------------------------------------------------- */

enum outcome { ADMITTED, REFUSED, PENDING };

static const char *outcome_name(enum outcome o)
{
	return o == ADMITTED ? "admitted" : o == REFUSED ? "refused" : "pending";
}

/* A connect from the client's IPv4 address; keep: leave it open (tracked). */
static enum outcome try_connect(struct test_ctx *c, bool keep)
{
	struct sockaddr_storage ss;
	int len = spw_topo_sockaddr(&c->scene.topo, SPW_TOPO_SRV, AF_INET, SVC_PORT, &ss);
	int fd = spw_netns_socket(c->scene.topo.end[SPW_TOPO_CLI].ns, AF_INET, SOCK_STREAM, 0), r;
	enum outcome o;

	assert_true(len > 0);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	if (connect(fd, (struct sockaddr *)&ss, (socklen_t)len) == 0) {
		o = ADMITTED;
	} else {
		assert_int_equal(errno, EINPROGRESS);
		r = spw_connect_wait(fd, CONNECT_TIMEOUT_MS);
		o = r == SPW_CONN_OK ? ADMITTED : r == -ECONNREFUSED ? REFUSED : PENDING;
	}
	if (keep && o == ADMITTED)
		spw_fds_track(&c->scene.fds, fd);
	else
		close(fd);
	return o;
}

/* explain's JSON for the client's IPv4 address. */
static json_t *explain_client(struct test_ctx *c)
{
	char port[8];
	struct run *r = malloc(sizeof(*r));
	json_t *j;

	assert_non_null(r);
	snprintf(port, sizeof(port), "%d", SVC_PORT);
	CLI_OK(c, r, "explain", c->scene.topo.end[SPW_TOPO_CLI].v4_str, port, "--json");
	j = json_of(r);
	free(r);
	return j;
}

/* explain's decision, then a real connect: the two must agree. Returns the outcome. */
static enum outcome explain_then_connect(struct test_ctx *c, const char *want_decision,
					 json_int_t want_tier)
{
	json_t *j = explain_client(c);
	const char *decision = json_string_value(path(j, "decision"));
	bool passes = json_is_true(path(j, "passes"));
	const char *action = json_string_value(path(j, "action"));
	enum outcome o;

	assert_int_equal(json_integer_value(path(j, "service_id")), SVC_ID);
	assert_int_equal(json_integer_value(path(j, "tier")), want_tier);
	if (strcmp(decision, want_decision))
		fail_msg("explain says %s, expected %s", decision, want_decision);
	o = try_connect(c, false);
	printf("explain: %s (%s), connect: %s\n", decision, action, outcome_name(o));
	/* The data plane's answer: admitted passes; a shed with reject is refused at once. */
	if (passes)
		assert_int_equal(o, ADMITTED);
	else if (!strcmp(action, "reject"))
		assert_int_equal(o, REFUSED);
	else
		assert_int_equal(o, PENDING);
	json_decref(j);
	return o;
}

/* Writes yaml as the config, has the daemon reload it, and gives it ticks to apply it. */
static void reload_with(struct test_ctx *c, const char *yaml)
{
	struct run r;

	assert_int_equal(spw_daemon_write_config(&c->scene.d, yaml), 0);
	CLI_OK(c, &r, "reload");
	spw_sleep_ms(3 * TICK_MS);
}

/* explain's text for the client's IPv4 address, printed, into r. */
static void explain_text(struct test_ctx *c, struct run *r)
{
	char port[8];

	snprintf(port, sizeof(port), "%d", SVC_PORT);
	CLI_OK(c, r, "explain", c->scene.topo.end[SPW_TOPO_CLI].v4_str, port);
	printf("%s", r->out);
}

/* ---- the tests --------------------------------------------------------------------------- */

static void test_status_json(void **state)
{
	struct test_ctx *c = *state;
	struct run *r = malloc(sizeof(*r));
	json_t *j, *svc, *tiers, *names, *ifs;
	json_int_t lease;
	int i;

	assert_non_null(r);
	for (i = 0; i < HELD_CONNS; i++)
		assert_int_equal(try_connect(c, true), ADMITTED);
	CLI_OK(c, r, "status", "--json", "--interval", "200ms");
	j = json_of(r);
	names = path(j, "tier_names");
	assert_int_equal(json_array_size(names), 3);
	assert_string_equal(json_string_value(json_array_get(names, 0)), "critical");
	assert_string_equal(json_string_value(json_array_get(names, 2)), "sheddable");
	ifs = path(j, "interfaces");
	assert_int_equal(json_array_size(ifs), 1);
	assert_string_equal(json_string_value(path(json_array_get(ifs, 0), "name")),
			    c->scene.topo.end[SPW_TOPO_SRV].ifname);
	assert_string_equal(json_string_value(path(json_array_get(ifs, 0), "mode")), "xdp");
	assert_int_equal(json_array_size(path(j, "services")), 1);
	svc = json_array_get(path(j, "services"), 0);
	assert_string_equal(json_string_value(path(svc, "name")), "api");
	assert_int_equal(json_integer_value(path(svc, "id")), SVC_ID);
	assert_string_equal(json_string_value(path(svc, "mode")), "enforce");
	assert_false(json_is_true(path(svc, "overridden")));
	/* No pressure reported: nothing shed, full admission. */
	assert_int_equal(json_integer_value(path(path(svc, "shed"), "sheddable")), 0);
	assert_int_equal(json_integer_value(path(path(svc, "shed"), "critical")), 0);
	assert_int_equal(json_integer_value(path(svc, "level")), 3 * 32);
	/* The lease is renewed every tick for LEASE_MS. */
	lease = json_integer_value(path(svc, "lease_remaining_ms"));
	printf("lease remaining %lld ms\n", (long long)lease);
	assert_true(lease > 0 && lease <= LEASE_MS);
	/* The held connections are standard's (the default tier), and only those. */
	tiers = path(svc, "tiers");
	assert_int_equal(json_array_size(tiers), 3);
	assert_int_equal(json_integer_value(path(json_array_get(tiers, 1), "active")), HELD_CONNS);
	assert_int_equal(json_integer_value(path(json_array_get(tiers, 0), "active")), 0);
	assert_int_equal(json_integer_value(path(json_array_get(tiers, 2), "active")), 0);
	assert_string_equal(json_string_value(path(json_array_get(tiers, 1), "name")), "standard");
	/* Totals since the maps were created, beside the rates: the held connects at least. */
	{
		json_t *std = json_array_get(tiers, 1);
		json_int_t admitted = json_integer_value(path(std, "admitted_total"));
		json_int_t now_ms = (json_int_t)time(NULL) * 1000;
		json_int_t at_ms = json_integer_value(path(j, "time_unix_ms"));

		printf("standard admitted_total %lld, time_unix_ms %lld\n", (long long)admitted,
		       (long long)at_ms);
		assert_true(admitted >= HELD_CONNS);
		assert_int_equal(json_integer_value(path(path(std, "decisions_total"), "admitted")),
				 admitted);
		assert_int_equal(json_integer_value(path(std, "shed_total")), 0);
		/* The read's wall-clock time: within a few seconds of ours. */
		assert_true(at_ms > now_ms - 10000 && at_ms < now_ms + 10000);
		assert_true(json_number_value(path(j, "interval_s")) >= 0.19);
	}
	json_decref(j);

	/* The text form says the same in words. */
	CLI_OK(c, r, "status", "--interval", "100ms");
	assert_non_null(strstr(r->out, "service api (id 1): enforce"));
	assert_non_null(strstr(r->out, "shed: sheddable 0%, standard 0%, critical 0%"));

	/* top, stdout not a terminal: --count blocks, one after the other, no escape codes. */
	CLI_OK(c, r, "top", "--count", "2", "--interval", "100ms");
	assert_non_null(strstr(r->out, "service api"));
	assert_non_null(strstr(strstr(r->out, "service api") + 1, "service api"));
	assert_null(strchr(r->out, '\033'));
	free(r);
}

static void test_explain_and_policy_expiry(void **state)
{
	struct test_ctx *c = *state;
	struct run r;
	json_t *j;
	double set_at, admitted_at = 0;

	/* Admitted: standard, by the default tier. */
	explain_then_connect(c, "admitted", 1);
	j = explain_client(c);
	assert_string_equal(json_string_value(path(j, "tier_by")), "default");
	assert_true(json_is_null(path(j, "rule_id")));
	/* Named, not only numbered; no --dscp: DSCP 0 assumed, and said so. */
	assert_string_equal(json_string_value(path(j, "service")), "api");
	assert_string_equal(json_string_value(path(j, "tier_name")), "standard");
	assert_int_equal(json_integer_value(path(j, "dscp")), 0);
	assert_true(json_is_true(path(j, "dscp_assumed")));
	json_decref(j);
	{
		explain_text(c, &r);
		assert_non_null(strstr(r.out, "service: api (id 1)"));
		assert_non_null(strstr(r.out, "tier: standard (1), by the service's default tier"));
		assert_non_null(strstr(r.out, "DSCP 0 assumed"));
	}

	/* Shed: all of standard (and sheddable after it), for OVERRIDE_MS. */
	CLI_OK(c, &r, "policy", "set", "api", "--shed", "standard", "--for", "2s");
	set_at = spw_now_ms();
	assert_non_null(strstr(r.out, "level 32"));
	/* The daemon applies the override at its next tick. */
	spw_sleep_ms(3 * TICK_MS);
	explain_then_connect(c, "shed_level", 1);
	CLI_OK(c, &r, "status", "--interval", "10ms");
	assert_non_null(strstr(r.out, "manual override"));
	assert_non_null(strstr(r.out, "shed: sheddable 100%, standard 100%, critical 0%"));

	/* It ends by itself: connects are admitted again once OVERRIDE_MS has passed. */
	while (spw_now_ms() - set_at < OVERRIDE_MS + EXPIRY_SLACK_MS + 2000) {
		if (try_connect(c, false) == ADMITTED) {
			admitted_at = spw_now_ms();
			break;
		}
		spw_sleep_ms(PROBE_EVERY_MS);
	}
	assert_true(admitted_at > 0);
	printf("override of %d ms: admitted again after %.0f ms\n", OVERRIDE_MS,
	       admitted_at - set_at);
	assert_true(admitted_at - set_at >= OVERRIDE_MS - TICK_MS);
	assert_true(admitted_at - set_at <= OVERRIDE_MS + EXPIRY_SLACK_MS);
	explain_then_connect(c, "admitted", 1);
}

/*
 * The reservation, explained: a limit of 2 with 1 kept for critical leaves the standard
 * client one connection; with it held, explain says shed_reserve and the connect is refused.
 */
static void test_explain_reserve(void **state)
{
	struct test_ctx *c = *state;
	char cfg[4096], reserved[4200], *at;

	make_config(c, cfg, sizeof(cfg));
	at = strstr(cfg, "    signals:\n");
	assert_non_null(at);
	snprintf(reserved, sizeof(reserved),
		 "%.*s    connection_limit: 2\n"
		 "    reserve: {critical: 1}\n%s",
		 (int)(at - cfg), cfg, at);
	reload_with(c, reserved);
	assert_int_equal(try_connect(c, true), ADMITTED);
	explain_then_connect(c, "shed_reserve", 1);
	reload_with(c, cfg);
	explain_then_connect(c, "admitted", 1);
}

static void test_rules_change_tier(void **state)
{
	struct test_ctx *c = *state;
	struct run r;
	json_t *j;

	/* Shed only sheddable; the client, standard, still connects. */
	CLI_OK(c, &r, "policy", "set", "api", "--shed", "sheddable", "--for", "30s");
	spw_sleep_ms(3 * TICK_MS);
	explain_then_connect(c, "admitted", 1);

	CLI_OK(c, &r, "rules", "add", c->v4_32, "sheddable");
	assert_non_null(strstr(r.out, "next config reload"));
	CLI_OK(c, &r, "rules", "list", "--json");
	j = json_of(&r);
	assert_true(json_array_size(j) >= 2); /* the config's /128 and ours */
	json_decref(j);
	/* The next connection is sheddable's, and shed. */
	explain_then_connect(c, "shed_level", 2);
	j = explain_client(c);
	assert_string_equal(json_string_value(path(j, "tier_by")), "rule");
	assert_int_equal(json_integer_value(path(j, "rule_id")), 0); /* run time, not a line */
	/* The rule that chose it, by its prefix. */
	assert_string_equal(json_string_value(path(j, "rule_cidr")), c->v4_32);
	assert_string_equal(json_string_value(path(j, "tier_name")), "sheddable");
	json_decref(j);

	CLI_OK(c, &r, "rules", "del", c->v4_32);
	explain_then_connect(c, "admitted", 1);
	CLI_OK(c, &r, "policy", "clear", "api");
}

static void test_reload(void **state)
{
	struct test_ctx *c = *state;
	char cfg[4096], want[256];
	struct run r;

	/* An unclosed flow sequence: libyaml's error, with the daemon's file:line:col. */
	assert_int_equal(spw_daemon_write_raw(&c->scene.d, "interfaces: []\n"
							   "services:\n"
							   "  port: [\n"),
			 0);
	CLI(c, &r, "reload");
	printf("reload of a broken file: exit %d: %s", r.status, r.err);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "error: %s:", c->scene.d.config);
	assert_non_null(strstr(r.err, want));
	/* file:line:col: two numbers after the path. */
	{
		unsigned int line, col;

		assert_int_equal(sscanf(strstr(r.err, want) + strlen(want), "%u:%u:", &line, &col),
				 2);
		assert_true(line >= 1 && col >= 1);
	}
	/* The running config is kept: the service is still enforced with a fresh lease. */
	explain_then_connect(c, "admitted", 1);

	make_config(c, cfg, sizeof(cfg));
	assert_int_equal(spw_daemon_write_config(&c->scene.d, cfg), 0);
	CLI_OK(c, &r, "reload");
	assert_string_equal(r.out, "ok: 1 services\n");
}

static void test_report_moves_pressure(void **state)
{
	struct test_ctx *c = *state;
	struct run *r = malloc(sizeof(*r));
	json_t *j, *svc, *sig;
	double pressure;

	assert_non_null(r);
	CLI_OK(c, r, "report", "pool", "db", "in_use=10", "capacity=10");
	spw_sleep_ms(3 * TICK_MS);
	CLI_OK(c, r, "status", "--json", "--interval", "10ms");
	j = json_of(r);
	svc = json_array_get(path(j, "services"), 0);
	pressure = json_number_value(path(svc, "pressure"));
	printf("pressure after a full pool: %.3f\n", pressure);
	assert_true(fabs(pressure - 1.0 / POOL_TARGET) < 0.01);
	sig = json_array_get(path(svc, "signals"), 0);
	assert_string_equal(json_string_value(path(sig, "kind")), "pool");
	assert_string_equal(json_string_value(path(sig, "source")), "db");
	assert_true(fabs(json_number_value(path(sig, "value")) - 1.0) < 0.001);
	assert_false(json_is_true(path(sig, "stale")));
	json_decref(j);

	CLI_OK(c, r, "report", "pool", "db", "in_use=1", "capacity=10");
	spw_sleep_ms(3 * TICK_MS);
	CLI_OK(c, r, "status", "--json", "--interval", "10ms");
	j = json_of(r);
	svc = json_array_get(path(j, "services"), 0);
	pressure = json_number_value(path(svc, "pressure"));
	printf("pressure after a pool at 10%%: %.3f\n", pressure);
	assert_true(fabs(pressure - 0.1 / POOL_TARGET) < 0.01);
	json_decref(j);
	free(r);
}

/*
 * Unmarked traffic is DSCP 0. With the client trusted and DSCP 0 mapped to sheddable, and
 * sheddable shed, a plain connect is refused: explain without --dscp must say so too, naming
 * the mark that chose the tier.
 */
static void test_explain_dscp_zero(void **state)
{
	struct test_ctx *c = *state;
	char cfg[4096], marked[4400], *at;
	struct run r;
	json_t *j;

	make_config(c, cfg, sizeof(cfg));
	at = strstr(cfg, "services:\n");
	assert_non_null(at);
	snprintf(marked, sizeof(marked),
		 "%.*sdscp:\n  trusted_sources: [\"%s\"]\n  map: {0: sheddable}\n%s",
		 (int)(at - cfg), cfg, c->v4_32, at);
	reload_with(c, marked);
	CLI_OK(c, &r, "policy", "set", "api", "--shed", "sheddable", "--for", "30s");
	spw_sleep_ms(3 * TICK_MS);
	explain_then_connect(c, "shed_level", 2);
	j = explain_client(c);
	assert_string_equal(json_string_value(path(j, "tier_by")), "dscp");
	assert_true(json_is_true(path(j, "dscp_assumed")));
	json_decref(j);
	explain_text(c, &r);
	assert_non_null(strstr(r.out, "by DSCP mark 0 of a trusted source"));
	CLI_OK(c, &r, "policy", "clear", "api");
	reload_with(c, cfg);
	explain_then_connect(c, "admitted", 1);
}

/*
 * Looking before leaping: config diff FILE lists what a reload of FILE would change against
 * the running config, reload --dry-run does so for the daemon's own file (and reports its
 * error when it is broken), and neither applies anything.
 */
static void test_config_diff_and_dry_run(void **state)
{
	struct test_ctx *c = *state;
	char cfg[4096], changed[4096], other[SPW_DAEMON_PATH_LEN + 16], *at;
	struct run *r = malloc(sizeof(*r));

	assert_non_null(r);
	make_config(c, cfg, sizeof(cfg));
	snprintf(changed, sizeof(changed), "%s", cfg);
	at = strstr(changed, "target: 0.85");
	assert_non_null(at);
	memcpy(at, "target: 0.95", strlen("target: 0.95"));
	at = strstr(changed, "port: 8080");
	assert_non_null(at);
	memcpy(at, "port: 8081", strlen("port: 8081"));

	/* Another file: the daemon's stays as it is. */
	snprintf(other, sizeof(other), "%s/other.yaml", c->scene.d.dir);
	assert_int_equal(spw_write_file(other, changed), 0);
	CLI_OK(c, r, "config", "diff", other);
	printf("config diff:\n%s", r->out);
	assert_non_null(strstr(r->out, "service api: tcp/8080 -> tcp/8081\n"));
	assert_non_null(strstr(r->out, "service api: signal pool db target 0.85 -> 0.95\n"));
	/* The test's own sections (metrics, report, state_dir) are not in that file. */
	assert_non_null(strstr(r->out, "report.socket: "));
	assert_non_null(strstr(r->out, "(nothing applied)"));

	/* The daemon's own file, changed but not reloaded: --dry-run shows, applies nothing. */
	assert_int_equal(spw_daemon_write_config(&c->scene.d, changed), 0);
	CLI_OK(c, r, "reload", "--dry-run");
	printf("reload --dry-run:\n%s", r->out);
	assert_non_null(strstr(r->out, "service api: tcp/8080 -> tcp/8081\n"));
	assert_non_null(strstr(r->out, "ok: 2 changes from "));
	explain_then_connect(c, "admitted", 1); /* still port 8080's service */

	/* A broken file: its error, and still nothing applied. */
	assert_int_equal(spw_daemon_write_raw(&c->scene.d, "services:\n  port: [\n"), 0);
	CLI(c, r, "reload", "--dry-run");
	printf("reload --dry-run of a broken file: exit %d: %s", r->status, r->err);
	assert_int_equal(r->status, 1);
	assert_non_null(strstr(r->err, "error: "));
	assert_non_null(strstr(r->err, c->scene.d.config));
	explain_then_connect(c, "admitted", 1);

	assert_int_equal(spw_daemon_write_config(&c->scene.d, cfg), 0);
	CLI_OK(c, r, "reload", "--dry-run");
	assert_non_null(strstr(r->out, "ok: 0 changes from "));
	free(r);
}

/*
 * report --socket PATH sends to PATH, whatever the config says; --config FILE uses FILE's
 * report.socket, and a FILE that cannot be read is an error, not the default socket.
 */
static void test_report_socket(void **state)
{
	struct test_ctx *c = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/spw-rsock-XXXXXX", cfg[256], yaml[512], got[256];
	struct run r;
	ssize_t n;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/other.sock", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CLI_OK(c, &r, "report", "--socket", sa.sun_path, "pool", "other", "in_use=1", "capacity=4");
	n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "pool other in_use=1 capacity=4");

	/* A config of another instance: its report.socket is where the line goes. */
	snprintf(cfg, sizeof(cfg), "%s/other.yaml", dir);
	snprintf(yaml, sizeof(yaml), "report: {socket: %s}\n", sa.sun_path);
	assert_int_equal(spw_write_file(cfg, yaml), 0);
	CLI_OK(c, &r, "report", "--config", cfg, "queue", "jobs", "depth=3");
	n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "queue jobs depth=3");

	/* A named config that is not there: an error naming it, nothing sent anywhere. */
	snprintf(cfg, sizeof(cfg), "%s/missing.yaml", dir);
	CLI(c, &r, "report", "--config", cfg, "pool", "db", "in_use=1", "capacity=4");
	printf("report --config of a missing file: exit %d: %s", r.status, r.err);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "missing.yaml"));
	close(fd);
	spw_rm_tree(dir);
}

/* ---- detach --all from another namespace ---------------------------------------------- */

struct ns_attach {
	struct spw_dataplane *dp;
	const char *ifname;
};

/* Inside the client's namespace: another instance's data plane there, in TC mode. */
static int attach_tc_here(void *arg)
{
	struct ns_attach *a = arg;
	unsigned int ifindex = if_nametoindex(a->ifname);

	return ifindex ? spw_dp_attach(a->dp, (int)ifindex, SPW_ATTACH_TC) : -ENODEV;
}

static int xdp_prog_here(void *arg)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, o);
	unsigned int ifindex = if_nametoindex(arg);

	if (!ifindex || bpf_xdp_query((int)ifindex, 0, &o))
		return -ENODEV;
	return (int)o.prog_id;
}

/* Does the other instance's TC ingress program still see the client's traffic? */
static bool other_instance_counts(struct test_ctx *c, struct spw_fixture *fx)
{
	struct sockaddr_storage ss;
	struct spw_fx_change ch[4];
	int len = spw_topo_sockaddr(&c->scene.topo, SPW_TOPO_CLI, AF_INET, 9, &ss), fd, i, moved;

	assert_true(len > 0);
	assert_int_equal(spw_fixture_mark(fx), 0);
	fd = spw_netns_socket(c->scene.topo.end[SPW_TOPO_SRV].ns, AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	for (i = 0; i < 5; i++)
		sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, (socklen_t)len);
	close(fd);
	spw_sleep_ms(50);
	moved = spw_fixture_changes(fx, ch, 4);
	assert_true(moved >= 0);
	return moved > 0;
}

/*
 * The daemon lives in the server's namespace. detach --all run in another one (the client's,
 * where another spillway instance has its TC programs on a veth whose ifindex may well be the
 * server veth's) refuses, says which namespace to enter, and touches nothing: not the other
 * instance, not the daemon's pins or programs; without the daemon's record too, from what the
 * pinned XDP link says. Run in the daemon's namespace, it removes
 * everything of the daemon's and still nothing of the other's. Last: the daemon's data plane
 * is gone after it.
 */
static void test_detach_all_across_namespaces(void **state)
{
	struct test_ctx *c = *state;
	struct spw_fixture *other = calloc(1, sizeof(*other));
	struct run *r = malloc(sizeof(*r));
	struct ns_attach a;
	char want[128];
	int prog;

	assert_non_null(other);
	assert_non_null(r);
	assert_int_equal(spw_fixture_open(other), 0);
	a.dp = other->dp;
	a.ifname = c->scene.topo.end[SPW_TOPO_CLI].ifname;
	assert_int_equal(spw_netns_run(c->scene.topo.end[SPW_TOPO_CLI].ns, attach_tc_here, &a), 0);
	printf("ifindex of the server's veth %d, of the client's %d\n",
	       spw_netns_ifindex(c->scene.topo.end[SPW_TOPO_SRV].ns,
				 c->scene.topo.end[SPW_TOPO_SRV].ifname),
	       spw_netns_ifindex(c->scene.topo.end[SPW_TOPO_CLI].ns, a.ifname));
	assert_true(other_instance_counts(c, other));

	{
		const char *const args[] = {"detach", "--all", "--yes", NULL};

		run_cli_in(c, c->scene.topo.end[SPW_TOPO_CLI].ns, 0, r, args);
	}
	printf("detach --all from the client's namespace: exit %d: %s", r->status, r->err);
	assert_int_equal(r->status, 1);
	assert_non_null(strstr(r->err, "another network namespace"));
	snprintf(want, sizeof(want), "nsenter --net=/run/netns/%s",
		 c->scene.topo.end[SPW_TOPO_SRV].ns);
	assert_non_null(strstr(r->err, want));
	/* Nothing touched: the daemon's pins and XDP program, the other instance's TC. */
	assert_int_equal(spw_dp_pinned_probe(c->scene.d.pin_root), 0);
	prog = spw_netns_run(c->scene.topo.end[SPW_TOPO_SRV].ns, xdp_prog_here,
			     (void *)c->scene.topo.end[SPW_TOPO_SRV].ifname);
	assert_true(prog > 0);
	assert_true(other_instance_counts(c, other));

	/*
	 * Without the daemon's record (no state file where the CLI looks: a one-off `spillway
	 * attach` leaves none), the pinned XDP link itself tells: ifindex 2 here does not run
	 * its program, so the link holds another namespace's device. Still nothing touched.
	 */
	{
		char empty[] = "/tmp/spw-nostate-XXXXXX";
		const char *const args[] = {"--state-dir", empty, "detach", "--all", "--yes", NULL};

		assert_non_null(mkdtemp(empty));
		run_cli_in(c, c->scene.topo.end[SPW_TOPO_CLI].ns, 0, r, args);
		rmdir(empty);
	}
	printf("detach --all without a record, from the client's namespace: exit %d: %s", r->status,
	       r->err);
	assert_int_equal(r->status, 1);
	assert_non_null(strstr(r->err, "another network namespace"));
	assert_int_equal(spw_dp_pinned_probe(c->scene.d.pin_root), 0);
	assert_true(other_instance_counts(c, other));

	/* In the daemon's namespace: everything of the daemon's goes, nothing of the other's. */
	{
		const char *const args[] = {"detach", "--all", "--yes", NULL};

		run_cli_in(c, c->scene.topo.end[SPW_TOPO_SRV].ns, 0, r, args);
	}
	printf("detach --all in the daemon's namespace: exit %d: %s%s", r->status, r->out, r->err);
	assert_int_equal(r->status, 0);
	assert_int_equal(spw_dp_pinned_probe(c->scene.d.pin_root), -ENOENT);
	prog = spw_netns_run(c->scene.topo.end[SPW_TOPO_SRV].ns, xdp_prog_here,
			     (void *)c->scene.topo.end[SPW_TOPO_SRV].ifname);
	assert_int_equal(prog, 0);
	assert_true(other_instance_counts(c, other));
	spw_fixture_close(other);
	free(other);
	free(r);
}

/* Copies the executable src into dir as "spillway" (mode 0755); its path into out. */
static int copy_file(const char *src, const char *dir, char *out, size_t outlen)
{
	char buf[65536];
	ssize_t n;
	int in, fd, err = 0;

	snprintf(out, outlen, "%s/spillway", dir);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0) {
		err = -errno;
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
	if (n < 0)
		err = -errno;
	close(in);
	if (fchmod(fd, 0755) && !err)
		err = -errno;
	close(fd);
	return err;
}

static void test_nobody(void **state)
{
	static const char *const reads[][4] = {
	    {"status", NULL},
	    {"explain", "10.0.0.1", "8080", NULL},
	    {"rules", "list", NULL},
	};
	struct test_ctx *c = *state;
	struct run *r = malloc(sizeof(*r));
	char own[sizeof(c->scene.cli)], dir[] = "/tmp/spw-cli-XXXXXX";
	size_t i;

	assert_non_null(r);
	/*
	 * nobody must be able to reach the binary: a checkout under a private folder (CI clones
	 * into a mktemp -d, mode 0700) would make exec fail with 127 before the CLI says anything.
	 * Run a copy from a world-searchable folder instead.
	 */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(own, sizeof(own), "%s", c->scene.cli);
	assert_int_equal(copy_file(own, dir, c->scene.cli, sizeof(c->scene.cli)), 0);
	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		run_cli_as(c, NOBODY, r, reads[i]);
		printf("as nobody: spillway %s: exit %d: %s", reads[i][0], r->status, r->err);
		assert_int_equal(r->status, 1);
		assert_non_null(strstr(r->err, "CAP_BPF"));
		assert_non_null(strstr(r->err, "root"));
	}
	snprintf(c->scene.cli, sizeof(c->scene.cli), "%s", own);
	spw_rm_tree(dir);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_status_json, test_teardown),
	    cmocka_unit_test_teardown(test_explain_and_policy_expiry, test_teardown),
	    cmocka_unit_test_teardown(test_rules_change_tier, test_teardown),
	    cmocka_unit_test_teardown(test_explain_reserve, test_teardown),
	    cmocka_unit_test_teardown(test_reload, test_teardown),
	    cmocka_unit_test_teardown(test_explain_dscp_zero, test_teardown),
	    cmocka_unit_test_teardown(test_report_socket, test_teardown),
	    cmocka_unit_test_teardown(test_config_diff_and_dry_run, test_teardown),
	    /* After every test that expects admission: the level the law is left at after a full
	     * pool, then a report gone stale, is the law's to hold, not a clean slate. */
	    cmocka_unit_test_teardown(test_report_moves_pressure, test_teardown),
	    cmocka_unit_test_teardown(test_nobody, test_teardown),
	    cmocka_unit_test_teardown(test_detach_all_across_namespaces, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, daemon_scene_group_teardown);
}
