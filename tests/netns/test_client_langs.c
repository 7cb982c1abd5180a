// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Python and Go clients against the real spillwayd (tests/lib/daemon.h): the daemon runs
 * attached in native XDP mode in the server namespace of a veth pair (tests/lib/netns.h), with
 * one 3-tier service "web" whose signal is the pool "db", ticking every 10 ms. Each language's
 * daemon suite (clients/python/tests/netns_*.py; clients/go, build tag netns) then checks
 * through its client that reports move pressure, that the shed state flips while a tier is
 * shed and back when it recovers, that a stopped daemon fails open, that its HTTP example
 * answers 503 + Retry-After while its tier is shed, and that 1,000 publishes of the daemon
 * are read with no torn read. Each of their tests is one cmocka result (tests/lib/extsuite.h).
 *
 * The suites find the daemon through the environment: SPW_TEST_STATE_DIR, SPW_TEST_REPORT_SOCKET,
 * SPW_TEST_DAEMON_PID, SPW_TEST_TICK_MS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "daemon.h"
#include "extsuite.h"
#include "netns.h"

#define SVC_ID	 1
#define SVC_PORT 8080
/* The shortest tick the config allows: 1,000 publishes in about 10 s. */
#define TICK_MS		 10
#define READY_TIMEOUT_MS 15000

static struct spw_topo topo;
static struct spw_daemon d;

static void daemon_started(void **state)
{
	(void)state;
	fail_msg("the daemon did not start: its log is above");
}

static int start_daemon(void)
{
	char cfg[2048];

	if (spw_topo_create(&topo) || spw_daemon_init(&d, topo.end[SPW_TOPO_SRV].ns, false))
		return -1;
	/* stale_after 200 ms: a pool no longer reported stops counting soon, so tiers recover. */
	snprintf(cfg, sizeof(cfg),
		 "interfaces: [{name: %s, mode: xdp}]\n"
		 "tiers: [critical, standard, sheddable]\n"
		 "services:\n"
		 "  - name: web\n"
		 "    protocol: tcp\n"
		 "    port: %d\n"
		 "    default_tier: standard\n"
		 "    signals:\n"
		 "      - {pool: db, target: 0.85}\n"
		 "controller: {tick: %dms, lease: 1s, cohort_rotation: 1h, stale_after: 200ms}\n",
		 topo.end[SPW_TOPO_SRV].ifname, SVC_PORT, TICK_MS);
	if (spw_daemon_launch(&d, cfg, SVC_ID, READY_TIMEOUT_MS))
		return -1;
	return 0;
}

int main(void)
{
	char *python[] = {SPW_PYTHON, "tests/run.py", "netns_*.py", NULL};
	char *go[] = {SPW_GO, "test", "-v", "-count=1", "-tags", "netns", "-run", "^TestRealDaemon",
		      ".",    NULL};
	char pid[16], tick[16];
	int failed = 0;

	if (start_daemon()) {
		const struct CMUnitTest tests[] = {cmocka_unit_test(daemon_started)};

		spw_daemon_log_dump(&d);
		failed = cmocka_run_group_tests_name("client suites", tests, NULL, NULL);
		goto out;
	}
	snprintf(pid, sizeof(pid), "%d", (int)d.pid);
	snprintf(tick, sizeof(tick), "%d", TICK_MS);
	setenv("SPW_TEST_STATE_DIR", d.dir, 1);
	setenv("SPW_TEST_REPORT_SOCKET", d.report_sock, 1);
	setenv("SPW_TEST_DAEMON_PID", pid, 1);
	setenv("SPW_TEST_TICK_MS", tick, 1);
	setenv("SPW_STATE_WRITER", SPW_BUILD_DIR "/tests/clients/state_writer", 1);
	setenv("PYTHONPYCACHEPREFIX", SPW_BUILD_DIR "/python/pycache", 1);
	failed +=
	    spw_ext_suite_run("python client, real daemon", SPW_SRC_ROOT "/clients/python", python);
	setenv("GOPROXY", "off", 1);
	setenv("GOFLAGS", "-mod=mod", 1);
	setenv("GOTOOLCHAIN", "local", 1);
	setenv("GOCACHE", SPW_BUILD_DIR "/go/cache", 1);
	setenv("GOPATH", SPW_BUILD_DIR "/go/path", 1);
	failed += spw_ext_suite_run("go client, real daemon", SPW_SRC_ROOT "/clients/go", go);
	if (failed)
		spw_daemon_log_dump(&d);
out:
	spw_daemon_cleanup(&d);
	spw_topo_destroy(&topo);
	return failed;
}
