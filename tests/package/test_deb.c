// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Debian packages on this machine, from build to purge, as an operator would use them:
 *
 *   (a) `make deb` builds spillway, libspillway-client0 and libspillway-client-dev; lintian
 *       reports no error and no warning that is not overridden; each package holds what it
 *       promises (the unit, the conffile, man pages, completion, the dashboard and alerts, the
 *       soname libspillway-client.so.0, headers and the pkg-config file);
 *   (b) `apt-get install ./spillway_*.deb ...` installs them: the spillway group exists, the
 *       installed unit passes `systemd-analyze verify`, and a program built with
 *       `pkg-config --cflags --libs libspillway-client` links the installed library;
 *   (c) the daemon started exactly as the installed unit says (tests/lib/unit_exec.h reads
 *       ExecStart=, Environment=, WatchdogSec=, the capability bounding set, the groups...):
 *       READY=1 arrives only once the XDP program is on the interface and /healthz answers 200
 *       right after it; WATCHDOG=1 comes at the tick's pace (one per tick the daemon counts);
 *       STATUS= is one line that says what is shed, and changes when a report makes it shed;
 *       the report socket belongs to the spillway group although the daemon has no CAP_CHOWN;
 *   (d) the unit's ExecReload= (config check, then SIGHUP) applies a new file with
 *       RELOADING=1 then READY=1, and fails on a broken file while the daemon keeps running;
 *   (e) an upgrade to a second build with a higher version while the daemon runs, then the
 *       restart postinst asks systemd for: the pinned counters carry over, the new daemon
 *       reports the new version, the modified conffile is kept, and a sampler asking the
 *       kernel every 200 us never finds the interface without a program, while it sees the
 *       program replaced;
 *   (f) `apt-get purge` (after the stop prerm asks for) removes the pins, /run/spillway and
 *       /etc/spillway, and the interface has no program left.
 *
 * What systemd itself adds (the sandboxing, the real watchdog and readiness) is
 * tests/package/test_systemd.c's. This test owns the spillway packages of the machine it runs
 * on: it purges them before and after. The daemon runs in the server namespace of a topology of
 * the test's own (tests/lib/netns.h) and attaches to its veth, never to a host interface; its
 * pins are the packaged ones, /sys/fs/bpf/spillway.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cmd.h"
#include "package_test.h"
#include "http.h"
#include "netns.h"
#include "packages.h"
#include "sockets.h"
#include "unit_exec.h"
#include "util.h"
#include "xdp_watch.h"
#include "spillway_abi.h"

#define UNIT_FILE "/lib/systemd/system/spillway.service"
#define CONF_FILE "/etc/spillway/spillway.yaml"
#define RUN_DIR	  "/run/spillway"
#define SVC_PORT  8080
/* The packaged config's exporter port; the test's config keeps it. */
#define METRICS_PORT 9478
#define TICK_MS	     100
/* Loading and verifying the programs takes about a second; a loaded machine takes longer. */
#define READY_MS 30000
#define WAIT_MS	 10000
#define IO_MS	 2000
/* The sampler's period: far below the time a restart takes (a few hundred ms). */
#define SAMPLE_US 200
/* New connections sent before and after the upgrade. */
#define FLOWS 20

struct test_ctx {
	struct spw_pkg_set v1, v2;
	bool built;
	struct spw_topo topo;
	struct spw_unit_exec x;
	struct spw_xdp_sampler w;
	struct spw_fds fds;
	char dir[64]; /* the test's files: logs, the client program */
	char log[PATH_MAX];
	char app[PATH_MAX];
	int lfd;
};

static struct test_ctx ctx;

static void log_dump(struct test_ctx *c)
{
	char *log = spw_read_file(c->log, NULL);

	fprintf(stderr, "---- spillwayd (%s) ----\n%s---- end ----\n", c->log, log ? log : "");
	free(log);
}

static double metric_sum(struct test_ctx *c, const char *prefix)
{
	double sum;

	assert_int_equal(spw_http_metric_sum(srv_ns_of(&c->topo), METRICS_PORT, prefix, &sum), 0);
	return sum;
}

static void connect_n(struct test_ctx *c, int n)
{
	spw_topo_connect_n(&c->topo, &c->fds, SVC_PORT, n, true, IO_MS);
}

static void write_config(struct test_ctx *c, const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "# Written by tests/package/test_deb.c.\n"
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "services:\n"
		 "  - name: api\n"
		 "    port: %d\n"
		 "    shed_action: {standard: reject, sheddable: reject}\n"
		 "    signals: [{pool: db, target: 0.85}]\n"
		 "%s"
		 "controller: {tick: %dms}\n"
		 "metrics: {listen: \"127.0.0.1:%d\"}\n"
		 "report: {socket: " RUN_DIR "/report.sock, group: spillway}\n"
		 "state_dir: " RUN_DIR "\n",
		 c->topo.end[SPW_TOPO_SRV].ifname, SVC_PORT, extra, TICK_MS, METRICS_PORT);
	assert_int_equal(spw_write_file(CONF_FILE, text), 0);
}

/* Starts the daemon from the installed unit and waits for READY=1. */
static void start_unit(struct test_ctx *c)
{
	spw_unit_exec_cleanup(&c->x);
	assert_int_equal(spw_unit_exec_init(&c->x, UNIT_FILE, srv_ns_of(&c->topo), c->log), 0);
	assert_int_equal(spw_unit_exec_start(&c->x), 0);
	if (spw_unit_exec_wait(&c->x, "READY=1", READY_MS)) {
		log_dump(c);
		fail_msg("no READY=1 from the daemon started as the unit says");
	}
}

/* Waits until the last STATUS= contains want. */
static void wait_status(struct test_ctx *c, const char *want)
{
	double deadline = spw_now_ms() + WAIT_MS;

	while (spw_unit_exec_drain(&c->x), !strstr(c->x.last_status, want)) {
		if (spw_now_ms() > deadline)
			fail_msg("STATUS is \"%s\", not \"%s\" after %d ms", c->x.last_status, want,
				 WAIT_MS);
		spw_sleep_ms(10);
	}
}

static void run_ok(const char *what, int rc)
{
	if (rc)
		fail_msg("%s failed (status %d)", what, rc);
}

static void apt_install(const struct spw_pkg_set *s)
{
	/* The README's command: apt resolves the dependencies, from the archive if need be. */
	run_ok("apt-get install",
	       spw_cmd_sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
			  "--no-install-recommends -o Dpkg::Use-Pty=0 '%s' '%s' '%s'",
			  s->daemon, s->lib, s->dev));
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	struct test_ctx *c = &ctx;

	c->lfd = -1;
	c->x.notify_fd = -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/spw-debtest-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->log, sizeof(c->log), "%.63s/spillwayd.log", c->dir);
	snprintf(c->app, sizeof(c->app), "%.63s/reporter", c->dir);
	if (spw_pkg_purge_all()) {
		fprintf(stderr, "cannot purge the spillway packages installed before the test\n");
		return -1;
	}
	if (spw_topo_create(&c->topo))
		return -1;
	*state = c;
	return 0;
}

static int group_teardown(void **state)
{
	struct test_ctx *c = *state;

	spw_xdp_sampler_free(&c->w);
	spw_unit_exec_cleanup(&c->x);
	spw_fds_close_all(&c->fds);
	spw_pkg_purge_all();
	/* What purge should have removed, in case the test failed before it. */
	spw_rm_tree(SPW_PIN_ROOT);
	spw_rm_tree(RUN_DIR);
	spw_rm_tree("/etc/spillway");
	spw_topo_destroy(&c->topo);
	spw_rm_tree(c->dir);
	return 0;
}

/* ---- (a) build and lintian ------------------------------------------------------------------ */

/* dpkg-deb -c of deb holds every path of want (as "./path" entries). */
static void assert_contents(const char *deb, const char *const *want)
{
	char *list;

	assert_int_equal(spw_cmd_capture((const char *const[]){"dpkg-deb", "-c", deb, NULL}, &list),
			 0);
	for (int i = 0; want[i]; i++) {
		char entry[512];

		snprintf(entry, sizeof(entry), " ./%s", want[i]);
		if (!strstr(list, entry))
			fail_msg("%s does not hold %s", deb, want[i]);
	}
	free(list);
}

static void test_build_lintian_contents(void **state)
{
	struct test_ctx *c = *state;
	char path[PATH_MAX], *lint, *out;
	int rc;

	run_ok("make deb", spw_pkg_build(SPW_SRC_ROOT, SPW_BUILD_DIR, &c->v1));
	run_ok("the upgrade build",
	       spw_pkg_build_upgrade(SPW_SRC_ROOT, SPW_BUILD_DIR, &c->v1, &c->v2));
	c->built = true;
	assert_string_equal(c->v1.version, SPW_VERSION);
	run_ok("dpkg --compare-versions",
	       spw_cmd_run((const char *const[]){"dpkg", "--compare-versions", c->v2.version, "gt",
						 c->v1.version, NULL}));

	/* Lintian's output as build-deb.sh saved it: overridden tags are not in it. */
	snprintf(path, sizeof(path), "%s/lintian.txt", c->v1.dir);
	lint = spw_read_file(path, NULL);
	assert_non_null(lint);
	for (char *l = lint; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, "E: ", 3) || !strncmp(l, "W: ", 3))
			fail_msg("lintian: %.*s", (int)strcspn(l, "\n"), l);
	free(lint);

	assert_contents(c->v1.daemon,
			(const char *const[]){
			    "usr/sbin/spillwayd", "usr/bin/spillway",
			    "lib/systemd/system/spillway.service", "etc/spillway/spillway.yaml",
			    "usr/share/man/man8/spillwayd.8.gz", "usr/share/man/man8/spillway.8.gz",
			    "usr/share/bash-completion/completions/spillway",
			    "usr/share/spillway/grafana/spillway.json",
			    "usr/share/spillway/prometheus/alerts.yml", NULL});
	assert_contents(c->v1.lib, (const char *const[]){"usr/lib/", NULL});
	assert_contents(c->v1.dev, (const char *const[]){"usr/include/spillway_client.h",
							 "usr/include/spillway_names.h",
							 "usr/include/spillway_state.h",
							 "usr/include/spillway_abi.h", NULL});
	rc = spw_cmd_sh_capture(&out,
				"dpkg-deb -c '%s'; dpkg-deb -c '%s'; dpkg-deb -I '%s' conffiles",
				c->v1.lib, c->v1.dev, c->v1.daemon);
	assert_int_equal(rc, 0);
	/* The soname the package is named after, the development link and pkg-config file. */
	assert_non_null(strstr(out, "/libspillway-client.so.0\n"));
	assert_non_null(strstr(out, "/libspillway-client.so -> libspillway-client.so.0"));
	assert_non_null(strstr(out, "/pkgconfig/libspillway-client.pc\n"));
	assert_non_null(strstr(out, "/etc/spillway/spillway.yaml"));
	free(out);
}

/* ---- (b) install ----------------------------------------------------------------------------- */

static const char reporter_src[] =
    "/* Reports the pool db as ARGV[1] % busy through the installed library. */\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <spillway_client.h>\n"
    "int main(int argc, char **argv)\n"
    "{\n"
    "	struct spw_client *c = spw_client_open(NULL, NULL);\n"
    "	int err;\n"
    "	if (!c || argc != 2)\n"
    "		return 2;\n"
    "	err = spw_client_report_pool(c, \"db\", strtoull(argv[1], NULL, 10), 100, 0, 1);\n"
    "	spw_client_close(c);\n"
    "	printf(\"report: %d\\n\", err);\n"
    "	return err ? 1 : 0;\n"
    "}\n";

static void test_install(void **state)
{
	struct test_ctx *c = *state;
	char src[PATH_MAX], version[SPW_PKG_FIELD_LEN], *out;
	bool found;

	assert_true(c->built);
	apt_install(&c->v1);
	assert_true(spw_pkg_installed(SPW_PKG_DAEMON, version, sizeof(version)));
	assert_string_equal(version, c->v1.version);
	assert_true(spw_pkg_installed(SPW_PKG_LIB, NULL, 0));
	assert_true(spw_pkg_installed(SPW_PKG_DEV, NULL, 0));
	assert_non_null(getgrnam("spillway"));
	assert_true(exists(CONF_FILE));
	/* The default config attaches nowhere, and it is what `config check` accepts. */
	run_ok("spillway config check",
	       spw_cmd_run((const char *const[]){"spillway", "config", "check", CONF_FILE, NULL}));
	run_ok("systemd-analyze verify",
	       spw_cmd_run((const char *const[]){"systemd-analyze", "verify", UNIT_FILE, NULL}));

	/* A program of an app, built against the installed -dev package alone. */
	snprintf(src, sizeof(src), "%s/reporter.c", c->dir);
	assert_int_equal(spw_write_file(src, reporter_src), 0);
	run_ok("building against libspillway-client",
	       spw_cmd_sh("cc -Wall -Werror -o '%s' '%s' $(pkg-config --cflags --libs "
			  "libspillway-client)",
			  c->app, src));
	/* Found by the dynamic linker in the system's library path (/lib is /usr/lib here). */
	assert_int_equal(spw_cmd_sh_capture(&out, "ldd '%s'", c->app), 0);
	found = strstr(out, "libspillway-client.so.0 => /") && !strstr(out, "not found");
	if (!found)
		fprintf(stderr, "ldd %s:\n%s", c->app, out);
	free(out);
	assert_true(found);
}

/* ---- (c) the unit's start, readiness, watchdog, status --------------------------------------- */

static void test_start_ready_after_attach(void **state)
{
	struct test_ctx *c = *state;
	char body[256];
	struct stat st;
	struct group *g;
	double t0;
	uint32_t id;
	int status;

	assert_true(spw_pkg_installed(SPW_PKG_DAEMON, NULL, 0));
	write_config(c, "");
	c->lfd =
	    spw_fds_track(&c->fds, spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, SVC_PORT, 64));
	assert_int_equal(srv_xdp_id(&c->topo), 0);
	t0 = spw_now_ms();
	start_unit(c);
	/*
	 * Right at READY=1 the program is on the interface and the first tick ran (the exporter
	 * is healthy). Loading and verifying takes most of the time to READY, so a READY sent
	 * before the attach would find no program here.
	 */
	id = srv_xdp_id(&c->topo);
	status = spw_http_get(srv_ns_of(&c->topo), METRICS_PORT, "/healthz", body, sizeof(body));
	printf("READY=1 %.0f ms after the start; program %u; /healthz %d\n", c->x.ready_ms - t0, id,
	       status);
	assert_true(id > 0);
	assert_int_equal(status, 200);
	assert_int_equal(c->x.n.ready, 1);
	assert_int_equal(c->x.n.foreign, 0);

	/* SupplementaryGroups= lets the daemon, without CAP_CHOWN, hand the socket over. */
	g = getgrnam("spillway");
	assert_non_null(g);
	assert_int_equal(stat(RUN_DIR "/report.sock", &st), 0);
	assert_int_equal(st.st_gid, g->gr_gid);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(stat(RUN_DIR, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755); /* RuntimeDirectoryMode= */
}

static void test_watchdog_and_status(void **state)
{
	struct test_ctx *c = *state;
	double t0, t1;
	unsigned int w0, w1;

	assert_true(c->x.pid > 0);
	assert_true(c->x.watchdog_usec >= 2ULL * TICK_MS * 1000);
	spw_unit_exec_drain(&c->x);
	w0 = c->x.n.watchdog;
	t0 = metric_sum(c, "spillway_controller_ticks_total");
	spw_sleep_ms(2000);
	t1 = metric_sum(c, "spillway_controller_ticks_total");
	spw_unit_exec_drain(&c->x);
	w1 = c->x.n.watchdog;
	printf("over 2 s: %u WATCHDOG=1, %.0f ticks\n", w1 - w0, t1 - t0);
	/*
	 * One per tick: the two reads are a scrape apart, so allow a tick or two either way. A
	 * starved daemon runs late ticks once, not as catch-ups: 20 ticks is the most, not the
	 * least.
	 */
	assert_true(t1 - t0 >= 5 && t1 - t0 <= 22);
	assert_true(fabs((double)(w1 - w0) - (t1 - t0)) <= 2);

	assert_string_equal(c->x.last_status, "1 service on 1 interface; admitting every tier");
	/* A saturated pool, reported through the installed library: the law sheds; STATUS says. */
	run_ok("the reporter", spw_cmd_run((const char *const[]){c->app, "100", NULL}));
	wait_status(c, "; api sheds sheddable ");
	assert_null(strchr(c->x.last_status, '\n'));
	printf("STATUS=%s\n", c->x.last_status);
	run_ok("the reporter", spw_cmd_run((const char *const[]){c->app, "10", NULL}));
}

/* ---- (d) reload ------------------------------------------------------------------------------ */

static void test_reload(void **state)
{
	struct test_ctx *c = *state;
	char *good;
	int rc;

	assert_true(c->x.pid > 0);
	write_config(c, "  - {name: web, port: 8081}\n");
	spw_unit_exec_mark(&c->x);
	assert_int_equal(spw_unit_exec_run(&c->x, "ExecReload"), 0);
	assert_int_equal(spw_unit_exec_wait(&c->x, "RELOADING=1", WAIT_MS), 0);
	assert_int_equal(spw_unit_exec_wait(&c->x, "READY=1", WAIT_MS), 0);
	wait_status(c, "2 services on 1 interface");

	/* A file that does not parse fails the reload before any signal; the daemon runs on. */
	good = spw_read_file(CONF_FILE, NULL);
	assert_non_null(good);
	assert_int_equal(spw_write_file(CONF_FILE, "services: [\n"), 0);
	rc = spw_unit_exec_run(&c->x, "ExecReload");
	assert_int_equal(spw_write_file(CONF_FILE, good), 0);
	free(good);
	assert_int_not_equal(rc, 0);
	spw_sleep_ms(3 * TICK_MS);
	assert_true(spw_unit_exec_alive(&c->x));
	assert_int_equal(c->x.n.reloading, 1);
	assert_non_null(strstr(c->x.last_status, "2 services on 1 interface"));
}

/* ---- (e) upgrade ----------------------------------------------------------------------------- */

static void test_upgrade_keeps_state_and_program(void **state)
{
	struct test_ctx *c = *state;
	char series[SPW_PKG_FIELD_LEN + 64], version[SPW_PKG_FIELD_LEN], *conf_before, *conf_after;
	double flows0, flows1, flows2, v;
	uint32_t id0;
	int rc;

	assert_true(c->x.pid > 0);
	/*
	 * The watchdog test left the law shedding, then reported the pool idle: the law lifts the
	 * shed over some ticks. Connections sent before that may be the ones it refuses.
	 */
	wait_status(c, "; admitting every tier");
	connect_n(c, FLOWS);
	flows0 = metric_sum(c, "spillway_new_flows_total{service=\"api\"");
	assert_true(flows0 >= FLOWS);
	id0 = srv_xdp_id(&c->topo);
	conf_before = spw_read_file(CONF_FILE, NULL);
	assert_non_null(conf_before);

	assert_int_equal(spw_xdp_sampler_start(&c->w, srv_ns_of(&c->topo),
					       c->topo.end[SPW_TOPO_SRV].ifindex, SAMPLE_US),
			 0);
	/* The new files land while the old daemon runs, ... */
	apt_install(&c->v2);
	assert_true(spw_unit_exec_alive(&c->x));
	/* ... then what postinst has systemd do: restart, from the unit the new package brought. */
	rc = spw_unit_exec_stop(&c->x, WAIT_MS);
	assert_int_equal(rc, 0);
	assert_true(c->x.n.stopping >= 1);
	start_unit(c);
	spw_sleep_ms(5 * TICK_MS);
	spw_xdp_sampler_stop(&c->w);

	printf("upgrade: %llu samples, %llu without a program, %u program ids (%u before)\n",
	       (unsigned long long)c->w.s->samples, (unsigned long long)c->w.s->absent,
	       c->w.s->nids, id0);
	assert_int_equal(c->w.s->errors, 0);
	assert_true(c->w.s->samples >= 100);
	assert_int_equal(c->w.s->absent, 0);
	assert_true(c->w.s->nids >= 2); /* replaced in place, not just left alone */
	assert_int_not_equal(srv_xdp_id(&c->topo), id0);

	assert_true(spw_pkg_installed(SPW_PKG_DAEMON, version, sizeof(version)));
	assert_string_equal(version, c->v2.version);
	snprintf(series, sizeof(series), "spillway_build_info{version=\"%s\"}", c->v2.version);
	assert_int_equal(spw_http_metric(srv_ns_of(&c->topo), METRICS_PORT, series, &v), 0);
	assert_true(v == 1);
	/* The operator's config survived: dpkg kept the modified conffile. */
	conf_after = spw_read_file(CONF_FILE, NULL);
	assert_non_null(conf_after);
	assert_string_equal(conf_after, conf_before);
	free(conf_before);
	free(conf_after);

	/* The counters are the pinned ones: no reset, and they go on counting. */
	flows1 = metric_sum(c, "spillway_new_flows_total{service=\"api\"");
	connect_n(c, FLOWS);
	flows2 = metric_sum(c, "spillway_new_flows_total{service=\"api\"");
	printf("new flows: %.0f before the upgrade, %.0f after, %.0f after %d more\n", flows0,
	       flows1, flows2, FLOWS);
	assert_true(flows1 >= flows0);
	assert_true(flows2 >= flows1 + FLOWS);
}

/* ---- (f) purge ------------------------------------------------------------------------------- */

static void test_purge(void **state)
{
	struct test_ctx *c = *state;

	assert_true(spw_pkg_installed(SPW_PKG_DAEMON, NULL, 0));
	assert_true(exists(SPW_PIN_ROOT));
	/* What prerm has systemd do first: stop the service. */
	if (c->x.pid)
		assert_int_equal(spw_unit_exec_stop(&c->x, WAIT_MS), 0);
	assert_true(srv_xdp_id(&c->topo) > 0); /* a stopped daemon leaves its program */
	run_ok("apt-get purge",
	       spw_cmd_sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o Dpkg::Use-Pty=0 "
			  "%s %s %s",
			  SPW_PKG_DAEMON, SPW_PKG_LIB, SPW_PKG_DEV));
	assert_false(spw_pkg_installed(SPW_PKG_DAEMON, NULL, 0));
	assert_false(spw_pkg_installed(SPW_PKG_LIB, NULL, 0));
	assert_false(exists(SPW_PIN_ROOT));
	assert_false(exists(RUN_DIR));
	assert_false(exists("/etc/spillway"));
	assert_int_equal(srv_xdp_id(&c->topo), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_lintian_contents),
	    cmocka_unit_test(test_install),
	    cmocka_unit_test(test_start_ready_after_attach),
	    cmocka_unit_test(test_watchdog_and_status),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_upgrade_keeps_state_and_program),
	    cmocka_unit_test(test_purge),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
