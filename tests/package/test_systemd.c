// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway.service under a real systemd: systemd 252 as PID 1 of a podman container made from
 * a Debian 12 root file system (tools/package/build-image.sh systemd), on the host network of a
 * test namespace (so the daemon attaches to the test's veth), with a bpffs folder of the test's
 * own as its /sys/fs/bpf. The container gets CAP_SYS_ADMIN because systemd needs it to build
 * each unit's sandbox (ProtectSystem= and the rest are mount namespaces), and the BPF
 * capabilities for the host kernel; the unit's own CapabilityBoundingSet= then narrows them for
 * the daemon. Everything goes through dpkg and systemctl, as on a host:
 *
 *   (a) dpkg -i starts the service (postinst): active with the default config, STATUS= shown;
 *   (b) systemctl reload applies a config that attaches to the veth; a broken file fails the
 *       reload and the service stays active;
 *   (c) Type=notify: when `systemctl restart` returns, the program is attached and /healthz
 *       answers 200 (the daemon takes most of a second to get there);
 *   (d) the watchdog: pings keep arriving (systemd's WatchdogTimestamp moves), and a daemon
 *       that stops (SIGSTOP) is killed and restarted by systemd within the (shortened)
 *       WatchdogSec;
 *   (e) dpkg -i of the higher version: postinst restarts the service, the new daemon reports
 *       the new version, the counters carry over, the veth never is without a program;
 *   (f) dpkg --purge stops the service, detaches, and removes the pins and /run/spillway.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cmd.h"
#include "http.h"
#include "package_test.h"
#include "packages.h"
#include "sockets.h"
#include "util.h"
#include "xdp_watch.h"

#define PODMAN	     SPW_SRC_ROOT "/tools/package/podman.sh"
#define SVC_PORT     8080
#define METRICS_PORT 9478
#define TICK_MS	     100
#define BOOT_MS	     60000
#define WAIT_MS	     15000
#define IO_MS	     2000
#define SAMPLE_US    200
#define FLOWS	     20
/* The watchdog of the drop-in that shortens it for (d): a few seconds of the test's time. */
#define SHORT_WATCHDOG_S 2

struct test_ctx {
	struct spw_pkg_set v1, v2;
	char image[256];
	char name[64];
	char dir[64];
	char bpffs[128];
	struct spw_topo topo;
	struct spw_xdp_sampler w;
	struct spw_fds fds;
	bool booted;
};

static struct test_ctx ctx;

/* sh -c cmd inside the container; its output into *out when out is not NULL. */
static int in_box(struct test_ctx *c, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int in_box(struct test_ctx *c, char **out, const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	assert_true(rc >= 0);
	const char *argv[] = {"bash", PODMAN, SPW_BUILD_DIR, "exec", c->name,
			      "sh",   "-c",   cmd,	     NULL};

	rc = out ? spw_cmd_capture(argv, out) : spw_cmd_run(argv);
	free(cmd);
	return rc;
}

/* One property of spillway.service, as `systemctl show` gives it. */
static void prop(struct test_ctx *c, const char *name, char *val, size_t len)
{
	char *out;

	assert_int_equal(in_box(c, &out, "systemctl show -p %s --value spillway.service", name), 0);
	snprintf(val, len, "%.*s", (int)strcspn(out, "\n"), out);
	free(out);
}

static long prop_long(struct test_ctx *c, const char *name)
{
	char v[64];

	prop(c, name, v, sizeof(v));
	return strtol(v, NULL, 10);
}

static void journal(struct test_ctx *c)
{
	in_box(c, NULL, "journalctl -u spillway --no-pager -n 40");
}

/* Copies text into the container as path. */
static void copy_in(struct test_ctx *c, const char *path, const char *text)
{
	char host[PATH_MAX], to[PATH_MAX];

	snprintf(host, sizeof(host), "%s/put", c->dir);
	snprintf(to, sizeof(to), "%s:%s", c->name, path);
	assert_int_equal(spw_write_file(host, text), 0);
	assert_int_equal(
	    spw_cmd_run((const char *const[]){"bash", PODMAN, SPW_BUILD_DIR, "cp", host, to, NULL}),
	    0);
}

static void config(struct test_ctx *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "services: [{name: api, port: %d}]\n"
		 "controller: {tick: %dms}\n"
		 "report: {socket: /run/spillway/report.sock, group: spillway}\n",
		 c->topo.end[SPW_TOPO_SRV].ifname, SVC_PORT, TICK_MS);
}

static int healthz(struct test_ctx *c)
{
	char body[128];

	return spw_http_get(srv_ns_of(&c->topo), METRICS_PORT, "/healthz", body, sizeof(body));
}

static double flows(struct test_ctx *c)
{
	double sum;

	assert_int_equal(spw_http_metric_sum(srv_ns_of(&c->topo), METRICS_PORT,
					     "spillway_new_flows_total{service=\"api\"", &sum),
			 0);
	return sum;
}

/* Polls prop until it differs from (or equals, with equal) val. */
static bool prop_wait(struct test_ctx *c, const char *name, const char *val, bool equal, int ms)
{
	double deadline = spw_now_ms() + ms;
	char now[256];

	do {
		prop(c, name, now, sizeof(now));
		if (!strcmp(now, val) == equal)
			return true;
		spw_sleep_ms(100);
	} while (spw_now_ms() < deadline);
	fprintf(stderr, "%s is \"%s\" after %d ms\n", name, now, ms);
	return false;
}

static int group_setup(void **state)
{
	struct test_ctx *c = &ctx;

	snprintf(c->dir, sizeof(c->dir), "/tmp/spw-systest-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->name, sizeof(c->name), "spw-systest-%d", (int)getpid());
	snprintf(c->bpffs, sizeof(c->bpffs), "/sys/fs/bpf/spw-systest-%d", (int)getpid());
	if (mkdir(c->bpffs, 0700) && errno != EEXIST)
		return -1;
	if (spw_topo_create(&c->topo))
		return -1;
	*state = c;
	return 0;
}

static int group_teardown(void **state)
{
	struct test_ctx *c = *state;

	spw_xdp_sampler_free(&c->w);
	spw_cmd_sh("bash '%s' '%s' rm --force --ignore --time 5 '%s' >/dev/null", PODMAN,
		   SPW_BUILD_DIR, c->name);
	spw_fds_close_all(&c->fds);
	spw_rm_tree(c->bpffs);
	spw_topo_destroy(&c->topo);
	spw_rm_tree(c->dir);
	return 0;
}

static void test_boot_and_install(void **state)
{
	struct test_ctx *c = *state;
	char vol_bpf[256], vol_v1[600], vol_v2[600], status[256], *out;
	double deadline;
	int rc;

	assert_int_equal(spw_pkg_build(SPW_SRC_ROOT, SPW_BUILD_DIR, &c->v1), 0);
	assert_int_equal(spw_pkg_build_upgrade(SPW_SRC_ROOT, SPW_BUILD_DIR, &c->v1, &c->v2), 0);
	assert_int_equal(
	    spw_pkg_image(SPW_SRC_ROOT, SPW_BUILD_DIR, "systemd", c->image, sizeof(c->image)), 0);
	snprintf(vol_bpf, sizeof(vol_bpf), "--volume=%s:/sys/fs/bpf", c->bpffs);
	snprintf(vol_v1, sizeof(vol_v1), "--volume=%s:/debs/v1:ro", c->v1.dir);
	snprintf(vol_v2, sizeof(vol_v2), "--volume=%s:/debs/v2:ro", c->v2.dir);
	char net[128];

	snprintf(net, sizeof(net), "--net=/var/run/netns/%s", srv_ns_of(&c->topo));
	rc = spw_cmd_run((const char *const[]){
	    "nsenter", net, "bash", PODMAN, SPW_BUILD_DIR, "run", "--detach", "--name", c->name,
	    "--systemd=always", "--network=host", "--cap-add=SYS_ADMIN,BPF,NET_ADMIN,PERFMON",
	    "--security-opt=seccomp=unconfined", vol_bpf, vol_v1, vol_v2, c->image, "/sbin/init",
	    NULL});
	assert_int_equal(rc, 0);
	c->booted = true;
	deadline = spw_now_ms() + BOOT_MS;
	for (;;) {
		rc = in_box(c, &out, "systemctl is-system-running");
		bool up = out && (strstr(out, "running") || strstr(out, "degraded"));

		free(out);
		if (up)
			break;
		if (spw_now_ms() > deadline)
			fail_msg("systemd did not come up within %d ms", BOOT_MS);
		spw_sleep_ms(200);
	}
	in_box(c, NULL, "systemctl --version | head -n1");

	/* postinst enables and starts the service, systemd being there. */
	assert_int_equal(in_box(c, NULL, "dpkg -i /debs/v1/%s_*.deb /debs/v1/%s_*.deb", SPW_PKG_LIB,
				SPW_PKG_DAEMON),
			 0);
	if (!prop_wait(c, "ActiveState", "active", true, WAIT_MS)) {
		journal(c);
		fail_msg("spillway.service is not active after dpkg -i");
	}
	prop(c, "StatusText", status, sizeof(status));
	printf("StatusText=%s\n", status);
	assert_string_equal(status, "0 services on 0 interfaces; admitting every tier");
	assert_int_equal(srv_xdp_id(&c->topo), 0);
}

static void test_reload(void **state)
{
	struct test_ctx *c = *state;
	char conf[1024], status[256];

	assert_true(c->booted);
	config(c, conf, sizeof(conf));
	copy_in(c, "/etc/spillway/spillway.yaml", conf);
	assert_int_equal(in_box(c, NULL, "systemctl reload spillway"), 0);
	prop(c, "StatusText", status, sizeof(status));
	if (!strstr(status, "1 service on 1 interface")) {
		journal(c);
		fail_msg("StatusText after the reload: %s", status);
	}
	assert_true(srv_xdp_id(&c->topo) > 0);
	assert_int_equal(healthz(c), 200);

	copy_in(c, "/etc/spillway/spillway.yaml", "services: [\n");
	assert_int_not_equal(in_box(c, NULL, "systemctl reload spillway"), 0);
	copy_in(c, "/etc/spillway/spillway.yaml", conf);
	prop(c, "ActiveState", status, sizeof(status));
	assert_string_equal(status, "active");
	assert_int_equal(healthz(c), 200);
}

static void test_notify_readiness(void **state)
{
	struct test_ctx *c = *state;
	long started, active;
	uint32_t id;
	int h;

	assert_true(c->booted);
	assert_int_equal(in_box(c, NULL, "systemctl restart spillway"), 0);
	/* Right when the start job is done: Type=notify waited for READY=1. */
	h = healthz(c);
	id = srv_xdp_id(&c->topo);
	started = prop_long(c, "ExecMainStartTimestampMonotonic");
	active = prop_long(c, "ActiveEnterTimestampMonotonic");
	printf("restart: active %.0f ms after the process started; /healthz %d; program %u\n",
	       (double)(active - started) / 1000, h, id);
	assert_int_equal(h, 200);
	assert_true(id > 0);
	assert_true(active > started);
}

static void test_watchdog(void **state)
{
	struct test_ctx *c = *state;
	char v[64], pid0[32], dropin[128];
	long t0, t1, restarts;

	assert_true(c->booted);
	prop(c, "WatchdogUSec", v, sizeof(v));
	assert_string_equal(v, "20s");
	/* systemd notes the time of each ping: it keeps moving, a tick apart. */
	t0 = prop_long(c, "WatchdogTimestampMonotonic");
	spw_sleep_ms(5 * TICK_MS);
	t1 = prop_long(c, "WatchdogTimestampMonotonic");
	printf("watchdog pings %ld us apart over 500 ms of reads\n", t1 - t0);
	assert_true(t0 > 0 && t1 > t0);

	/* A daemon that stops ticking: killed and restarted once the watchdog runs out. */
	snprintf(dropin, sizeof(dropin), "[Service]\nWatchdogSec=%ds\n", SHORT_WATCHDOG_S);
	assert_int_equal(in_box(c, NULL, "mkdir -p /etc/systemd/system/spillway.service.d"), 0);
	copy_in(c, "/etc/systemd/system/spillway.service.d/test-watchdog.conf", dropin);
	assert_int_equal(in_box(c, NULL, "systemctl daemon-reload && systemctl restart spillway"),
			 0);
	restarts = prop_long(c, "NRestarts");
	prop(c, "MainPID", pid0, sizeof(pid0));
	assert_int_equal(in_box(c, NULL, "kill -STOP %s", pid0), 0);
	if (!prop_wait(c, "MainPID", pid0, false, WAIT_MS) ||
	    !prop_wait(c, "ActiveState", "active", true, WAIT_MS)) {
		journal(c);
		fail_msg("the stopped daemon was not restarted");
	}
	assert_true(prop_long(c, "NRestarts") > restarts);
	assert_int_equal(
	    in_box(c, NULL, "journalctl -u spillway --no-pager | grep -q 'Watchdog timeout'"), 0);
	assert_int_equal(in_box(c, NULL,
				"rm -r /etc/systemd/system/spillway.service.d && "
				"systemctl daemon-reload && systemctl restart spillway"),
			 0);
	assert_int_equal(healthz(c), 200);
}

static void test_upgrade(void **state)
{
	struct test_ctx *c = *state;
	char pid0[32], pid1[32], series[512];
	double f0, f1, v;
	uint32_t id0;

	assert_true(c->booted);
	spw_fds_track(&c->fds, spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, SVC_PORT, 64));
	spw_topo_connect_n(&c->topo, &c->fds, SVC_PORT, FLOWS, false, IO_MS);
	f0 = flows(c);
	assert_true(f0 >= FLOWS);
	id0 = srv_xdp_id(&c->topo);
	prop(c, "MainPID", pid0, sizeof(pid0));
	assert_int_equal(spw_xdp_sampler_start(&c->w, srv_ns_of(&c->topo),
					       c->topo.end[SPW_TOPO_SRV].ifindex, SAMPLE_US),
			 0);
	/* postinst asks systemd to restart the service; dpkg returns once it is ready again. */
	assert_int_equal(in_box(c, NULL, "dpkg -i /debs/v2/%s_*.deb /debs/v2/%s_*.deb", SPW_PKG_LIB,
				SPW_PKG_DAEMON),
			 0);
	spw_sleep_ms(3 * TICK_MS);
	spw_xdp_sampler_stop(&c->w);
	prop(c, "MainPID", pid1, sizeof(pid1));
	printf(
	    "upgrade under systemd: pid %s -> %s; %llu samples, %llu without a program, %u ids\n",
	    pid0, pid1, (unsigned long long)c->w.s->samples, (unsigned long long)c->w.s->absent,
	    c->w.s->nids);
	assert_string_not_equal(pid0, pid1);
	assert_int_equal(c->w.s->errors, 0);
	assert_true(c->w.s->samples >= 100);
	assert_int_equal(c->w.s->absent, 0);
	assert_true(c->w.s->nids >= 2);
	assert_int_not_equal(srv_xdp_id(&c->topo), id0);
	snprintf(series, sizeof(series), "spillway_build_info{version=\"%s\"}", c->v2.version);
	assert_int_equal(spw_http_metric(srv_ns_of(&c->topo), METRICS_PORT, series, &v), 0);
	f1 = flows(c);
	spw_topo_connect_n(&c->topo, &c->fds, SVC_PORT, FLOWS, false, IO_MS);
	printf("new flows: %.0f before, %.0f after, %.0f after %d more\n", f0, f1, flows(c), FLOWS);
	assert_true(f1 >= f0);
	assert_true(flows(c) >= f1 + FLOWS);
}

static void test_purge(void **state)
{
	struct test_ctx *c = *state;
	char pins[256], active[64];
	struct stat st;

	assert_true(c->booted);
	snprintf(pins, sizeof(pins), "%s/spillway", c->bpffs);
	assert_int_equal(stat(pins, &st), 0);
	assert_int_equal(in_box(c, NULL, "dpkg --purge %s %s", SPW_PKG_DAEMON, SPW_PKG_LIB), 0);
	prop(c, "ActiveState", active, sizeof(active));
	assert_string_equal(active, "inactive");
	assert_int_not_equal(stat(pins, &st), 0);
	assert_int_equal(srv_xdp_id(&c->topo), 0);
	assert_int_not_equal(in_box(c, NULL, "test -e /run/spillway"), 0);
	assert_int_not_equal(in_box(c, NULL, "test -e /etc/spillway"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boot_and_install), cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_notify_readiness), cmocka_unit_test(test_watchdog),
	    cmocka_unit_test(test_upgrade),	     cmocka_unit_test(test_purge),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
