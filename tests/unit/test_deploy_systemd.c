// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shipped systemd unit, deploy/systemd/spillway.service, read as systemd reads it:
 *
 *   (a) it runs the daemon as the package installs it: Type=notify (the daemon's sd_notify),
 *       the default config path, a watchdog at least two of the longest ticks the config
 *       allows, a restart policy, a reload that checks the file and then sends SIGHUP;
 *   (b) its capabilities are CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (CAP_SYS_ADMIN the only
 *       other one allowed), its sandbox keeps everything read-only but bpffs and its runtime
 *       directory (which is the client library's state folder), home folders are hidden,
 *       no new privileges;
 *   (c) `systemd-analyze security --offline=yes` scores it at most MAX_EXPOSURE, and the README
 *       prints the score it measures.
 *
 * Whether the unit really starts under systemd with this sandbox is tests/package's to show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmd.h"
#include "unitfile.h"
#include "spillway_client.h"
#include "spw_config.h"
#include "util.h"

#define UNIT SPW_SRC_ROOT "/deploy/systemd/spillway.service"
#define SVC  "Service"
/* The hardening this unit has reached: a regression past it fails. */
#define MAX_EXPOSURE 2.5
/* The config's longest tick (controller.tick), in us. */
#define MAX_TICK_US 10000000LL

static struct spw_unit u;

static int setup(void **state)
{
	(void)state;
	return spw_unit_load(&u, UNIT);
}

static int teardown(void **state)
{
	(void)state;
	spw_unit_free(&u);
	return 0;
}

static const char *get(const char *key)
{
	const char *v = spw_unit_get(&u, SVC, key);

	if (!v)
		fail_msg("%s sets no %s=", UNIT, key);
	return v;
}

static void test_runs_the_daemon(void **state)
{
	char *argv[SPW_UNIT_WORDS + 1];
	const char *reload[4];
	int n;

	(void)state;
	assert_string_equal(get("Type"), "notify");
	n = spw_unit_exec_argv(get("ExecStart"), NULL, argv, SPW_UNIT_WORDS);
	assert_int_equal(n, 3);
	assert_string_equal(argv[0], "/usr/sbin/spillwayd");
	assert_string_equal(argv[1], "--config");
	assert_string_equal(argv[2], SPW_CONFIG_DEFAULT_PATH);
	spw_unit_words_free(argv, n);
	assert_true(spw_unit_usec(get("WatchdogSec")) >= 2 * MAX_TICK_US);
	assert_true(!strcmp(get("Restart"), "always") || !strcmp(get("Restart"), "on-failure"));
	/* The file is checked first, then SIGHUP: the daemon's reload. */
	n = spw_unit_all(&u, SVC, "ExecReload", reload, 4);
	assert_int_equal(n, 2);
	assert_non_null(strstr(reload[0], "spillway config check " SPW_CONFIG_DEFAULT_PATH));
	assert_string_equal(reload[1], "/bin/kill -HUP $MAINPID");
}

static bool has_word(char **w, int n, const char *want)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(w[i], want))
			return true;
	return false;
}

static void test_capabilities_and_sandbox(void **state)
{
	static const char *const allowed[] = {"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON",
					      "CAP_SYS_ADMIN"};
	char *w[64];
	int n;

	(void)state;
	n = spw_unit_list(&u, SVC, "CapabilityBoundingSet", w, 64);
	assert_true(n >= 3);
	for (int i = 0; i < 3; i++)
		assert_true(has_word(w, n, allowed[i]));
	for (int i = 0; i < n; i++) {
		bool ok = false;

		for (size_t j = 0; j < sizeof(allowed) / sizeof(allowed[0]); j++)
			ok |= !strcmp(w[i], allowed[j]);
		if (!ok)
			fail_msg("CapabilityBoundingSet has %s", w[i]);
	}
	spw_unit_words_free(w, n);
	assert_null(spw_unit_get(&u, SVC, "AmbientCapabilities"));

	assert_string_equal(get("NoNewPrivileges"), "yes");
	assert_string_equal(get("ProtectSystem"), "strict");
	assert_string_equal(get("ProtectHome"), "yes");
	n = spw_unit_list(&u, SVC, "ReadWritePaths", w, 64);
	assert_true(has_word(w, n, "/sys/fs/bpf"));
	spw_unit_words_free(w, n);
	/* It would make bpffs read-only with no way back (systemd 252). */
	assert_null(spw_unit_get(&u, SVC, "ProtectKernelTunables"));
	/* The runtime directory is where apps look for the daemon. */
	assert_string_equal("/run/"
			    "spillway",
			    SPW_CLIENT_STATE_DIR);
	assert_string_equal(get("RuntimeDirectory"), "spillway");
	assert_string_equal(get("SupplementaryGroups"), "spillway");
}

static void test_security_score(void **state)
{
	char *out, *readme, *p, line[128];
	double score;
	int rc;

	(void)state;
	rc = spw_cmd_capture((const char *const[]){"systemd-analyze", "security", "--offline=yes",
						   "--no-pager", UNIT, NULL},
			     &out);
	p = out ? strstr(out, "Overall exposure level for spillway.service: ") : NULL;
	if (rc || !p || sscanf(p, "Overall exposure level for spillway.service: %lf", &score) != 1)
		fail_msg("systemd-analyze security (status %d) printed no score:\n%s", rc,
			 out ? out : "");
	free(out);
	printf("systemd-analyze security: exposure %.1f\n", score);
	assert_true(score <= MAX_EXPOSURE);

	readme = spw_read_file(SPW_SRC_ROOT "/README.md", NULL);
	assert_non_null(readme);
	snprintf(line, sizeof(line), "Overall exposure level for spillway.service: %.1f", score);
	p = strstr(readme, line);
	free(readme);
	if (!p)
		fail_msg("README.md does not print the measured score (\"%s\")", line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runs_the_daemon),
	    cmocka_unit_test(test_capabilities_and_sandbox),
	    cmocka_unit_test(test_security_score),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
