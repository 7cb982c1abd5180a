// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI's parser (user/cli/parse.c), without privileges: every command's good forms and the
 * exact message of every usage error: bad numbers, bad CIDRs, ambiguous prefixes, missing
 * arguments, unknown options. The parser is pure, so nothing here touches BPF or a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "cli.h"
#include "spw_strnum.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS      24

/* Splits line on spaces into argv (argv[0] = "spillway") and parses it. */
static enum spw_cli_parse_result parse(const char *line, struct spw_cli_req *req, char *err,
				       size_t errlen)
{
	static char buf[1024];
	static char *argv[MAX_ARGS + 2];
	int argc = 0;
	char *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", line);
	argv[argc++] = "spillway";
	for (tok = strtok_r(buf, " ", &save); tok && argc < MAX_ARGS;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return spw_cli_parse(argc, argv, req, err, errlen);
}

struct bad_case {
	const char *line;
	const char *err;
};

static const struct bad_case bad_cases[] = {
    /* Commands: missing, unknown, ambiguous prefixes. */
    {"", "no command given (try 'spillway help')"},
    {"frobnicate", "unknown command 'frobnicate'"},
    {"re", "ambiguous command 're': report, reload"},
    {"r", "ambiguous command 'r': rules, report, reload"},
    {"--bogus status", "spillway: unknown option '--bogus'"},
    {"-x status", "spillway: unknown option '-x'"},
    {"--pin-root", "spillway: option '--pin-root' needs an argument"},
    {"--state-dir= status", "spillway: an empty path was given to a global option"},
    /* status, top */
    {"status --bogus", "status: unknown option '--bogus'"},
    {"status extra", "status: unexpected argument 'extra'"},
    {"status --interval 5",
     "status: bad --interval: duration '5' has no unit (ns, us, ms, s, m or h)"},
    {"status --interval 1ms", "status: bad --interval: duration 1ms is out of range (10ms..1m)"},
    {"status --interval", "status: option '--interval' needs an argument"},
    {"top --count", "top: option '--count' needs an argument"},
    {"top --count 0", "top: bad --count: 0 is out of range (1..1000000)"},
    {"top --count 1x", "top: bad --count: '1x' is not a whole number"},
    {"top -n -3", "top: bad --count: -3 is out of range (1..1000000)"},
    {"top --json", "top: unknown option '--json'"},
    /* explain */
    {"explain", "explain: missing ADDR and PORT"},
    {"explain 10.0.0.1", "explain: missing PORT"},
    {"explain 10.0.0.1 80 90", "explain: unexpected argument '90'"},
    {"explain 10.0.0.256 80", "explain: bad address '10.0.0.256': not an IPv4 or IPv6 address"},
    {"explain 10.0.0.0/8 80", "explain: bad address '10.0.0.0/8': not an IPv4 or IPv6 address"},
    {"explain 10.0.0.1 http", "explain: bad port: 'http' is not a whole number"},
    {"explain 10.0.0.1 0", "explain: bad port: 0 is out of range (1..65535)"},
    {"explain 10.0.0.1 65536", "explain: bad port: 65536 is out of range (1..65535)"},
    {"explain 10.0.0.1 080x", "explain: bad port: '080x' is not a whole number"},
    {"explain 10.0.0.1 80 --proto sctp", "explain: bad --proto 'sctp' (tcp or udp)"},
    {"explain 10.0.0.1 80 --proto", "explain: option '--proto' needs an argument"},
    {"explain 10.0.0.1 80 --dscp 64", "explain: bad --dscp: 64 is out of range (0..63)"},
    {"explain 10.0.0.1 80 --dscp 0x2e", "explain: bad --dscp: '0x2e' is not a whole number"},
    {"explain 10.0.0.1 80 --local nowhere",
     "explain: bad --local 'nowhere': not an IPv4 or IPv6 address"},
    {"explain 10.0.0.1 80 --bogus", "explain: unknown option '--bogus'"},
    /* rules */
    {"rules", "rules: missing subcommand (list, add, del)"},
    {"rules frob", "rules: unknown subcommand 'frob'"},
    {"rules add", "rules add: missing CIDR and TIER"},
    {"rules add 10.0.0.0/8", "rules add: missing TIER"},
    {"rules add 10.0.0.0/8 gold extra", "rules add: unexpected argument 'extra'"},
    {"rules add 10.0.0.1/8 gold",
     "rules add: bad CIDR '10.0.0.1/8': 10.0.0.1/8 has host bits set (did you mean 10.0.0.0/8?)"},
    {"rules add 10.0.0.0/33 gold",
     "rules add: bad CIDR '10.0.0.0/33': prefix length 33 is longer than an IPv4 address (32)"},
    {"rules add 10.0.0.0/x gold",
     "rules add: bad CIDR '10.0.0.0/x': prefix length 'x' is not a number"},
    {"rules del", "rules del: missing CIDR"},
    {"rules del 2001:db8::1/32", "rules del: bad CIDR '2001:db8::1/32': 2001:db8::1/32 has host "
				 "bits set (did you mean 2001:db8::/32?)"},
    {"rules list --bogus", "rules: unknown option '--bogus'"},
    {"rules list x", "rules list: unexpected argument 'x'"},
    /* policy */
    {"policy", "policy: missing subcommand (set, clear, dry-run)"},
    {"policy s api", "policy set: missing --shed TIER[:PERCENT]"}, /* "s": only set */
    {"policy cl", "policy clear: missing SERVICE"},
    {"policy x api", "policy: unknown subcommand 'x'"},
    {"policy set", "policy set: missing SERVICE"},
    {"policy set api --for 1m", "policy set: missing --shed TIER[:PERCENT]"},
    {"policy set api --shed standard", "policy set: missing --for DURATION"},
    {"policy set api --shed standard:140 --for 1m",
     "policy set: bad --shed percent: 140 is out of range (0..100)"},
    {"policy set api --shed standard:4O --for 1m",
     "policy set: bad --shed percent: '4O' is not a whole number"},
    {"policy set api --shed :40 --for 1m", "policy set: bad --shed ':40': no tier name"},
    {"policy set api --shed standard --for 10",
     "policy set: bad --for: duration '10' has no unit (ns, us, ms, s, m or h)"},
    {"policy set api --shed standard --for 8d",
     "policy set: bad --for: duration '8d' has an unknown unit 'd' (ns, us, ms, s, m or h)"},
    {"policy set api --shed standard --for 200h",
     "policy set: bad --for: duration 200h is out of range (100ms..168h)"},
    {"policy clear", "policy clear: missing SERVICE"},
    {"policy clear api --for 1m", "policy clear: --for is not for policy clear"},
    {"policy clear api --shed x", "policy clear: --shed is only for policy set"},
    {"policy dry-run api", "policy dry-run: missing on|off"},
    {"policy dry-run api maybe", "policy dry-run: expected on or off, not 'maybe'"},
    /* report */
    {"report", "report: missing subcommand (pool, queue)"},
    {"report pool", "report pool: missing NAME"},
    {"report pool db in_use=3", "report pool: capacity=N is missing"},
    {"report --socket", "report: option '--socket' needs an argument"},
    {"report --socket= pool db in_use=1 capacity=2", "report: option '--socket' needs an argument"},
    {"report --sock /x pool db in_use=1 capacity=2", "report: unknown option '--sock'"},
    {"report --socket /x", "report: missing subcommand (pool, queue)"},
    /* attach, detach */
    {"attach", "attach: missing IFACE"},
    {"attach eth0 --mode native", "attach: bad --mode 'native' (xdp, xdp-generic or tc)"},
    {"attach a-very-long-interface-name",
     "attach: bad interface name 'a-very-long-interface-name'"},
    {"detach", "detach: missing IFACE (or --all --yes)"},
    {"detach --all", "detach: --all removes every program, map and counter: add --yes"},
    {"detach --all eth0 --yes", "detach: unexpected argument 'eth0'"},
    /* config, reload, version, help */
    {"config", "config: missing subcommand (check, diff)"},
    {"config check", "config check: missing FILE"},
    {"config diff", "config diff: missing FILE"},
    {"config diff a b", "config diff: unexpected argument 'b'"},
    {"reload --dryrun", "reload: unknown option '--dryrun'"},
    {"reload --dry-run now", "reload: unexpected argument 'now'"},
    {"config verify x", "config: unknown subcommand 'verify'"},
    {"reload now", "reload: unexpected argument 'now'"},
    {"version --bogus", "version: unknown option '--bogus'"},
    {"help frob", "unknown command 'frob'"},
};

static void test_bad(void **state)
{
	struct spw_cli_req req;
	char err[512];
	size_t i, failed = 0;

	(void)state;
	/* Every case is run and every mismatch printed before failing: one run shows them all. */
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		enum spw_cli_parse_result r = parse(bad_cases[i].line, &req, err, sizeof(err));

		if (r != SPW_CLI_USAGE || strcmp(err, bad_cases[i].err)) {
			print_error("'%s':\n  got  %d '%s'\n  want usage error '%s'\n",
				    bad_cases[i].line, r, err, bad_cases[i].err);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* --help everywhere, and help COMMAND. */
static void test_help(void **state)
{
	static const char *const lines[] = {
	    "--help",	      "-h",
	    "help",	      "help status",
	    "status --help",  "top --help",
	    "explain --help", "explain 1.2.3.4 80 --help",
	    "rules --help",   "rules add --help",
	    "policy --help",  "policy set --help",
	    "report --help",  "report pool x --help",
	    "attach --help",  "detach --help",
	    "config --help",  "config check --help",
	    "reload --help",  "version --help",
	    "help --help",    "he ex",
	};
	struct spw_cli_req req;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		if (parse(lines[i], &req, err, sizeof(err)) != SPW_CLI_HELP)
			fail_msg("'%s' is not help: %s", lines[i], err);
		assert_non_null(req.help);
		assert_non_null(strstr(req.help, "usage: spillway"));
	}
	parse("help explain", &req, err, sizeof(err));
	assert_non_null(strstr(req.help, "explain ADDR PORT"));
	assert_non_null(strstr(req.help, "DSCP"));
}

static enum spw_cli_parse_result ok(const char *line, struct spw_cli_req *req)
{
	char err[512];
	enum spw_cli_parse_result r = parse(line, req, err, sizeof(err));

	if (r != SPW_CLI_RUN)
		fail_msg("'%s': %s", line, err);
	return r;
}

static void test_globals_and_prefixes(void **state)
{
	struct spw_cli_req req;

	(void)state;
	ok("status", &req);
	assert_int_equal(req.cmd, SPW_CMD_STATUS);
	assert_string_equal(req.pin_root, SPW_PIN_ROOT);
	assert_string_equal(req.state_dir, SPW_STATE_DIR);
	assert_false(req.state_dir_set);
	assert_int_equal(req.interval_ns, SPW_NSEC_PER_SEC);
	ok("--pin-root /sys/fs/bpf/x --state-dir /tmp/s --config /tmp/c.yaml -v st --json "
	   "--interval 250ms",
	   &req);
	assert_int_equal(req.cmd, SPW_CMD_STATUS);
	assert_string_equal(req.pin_root, "/sys/fs/bpf/x");
	assert_string_equal(req.state_dir, "/tmp/s");
	assert_true(req.state_dir_set);
	assert_string_equal(req.config, "/tmp/c.yaml");
	assert_int_equal(req.verbose, 1);
	assert_true(req.json);
	assert_int_equal(req.interval_ns, 250 * SPW_NSEC_PER_MSEC);
	ok("t --count 3", &req);
	assert_int_equal(req.cmd, SPW_CMD_TOP);
	assert_int_equal(req.count, 3);
	ok("rel", &req);
	assert_int_equal(req.cmd, SPW_CMD_RELOAD);
	ok("rep queue jobs depth=4 limit=10", &req);
	assert_int_equal(req.cmd, SPW_CMD_REPORT);
	ok("v", &req);
	assert_int_equal(req.cmd, SPW_CMD_VERSION);
	/* A second parse in one process starts from scratch (getopt state is reset). */
	ok("status", &req);
	assert_false(req.json);
}

static void test_explain(void **state)
{
	static const uint8_t v4[SPW_ADDR_LEN] = {[10] = 0xff, [11] = 0xff, 10, 1, 2, 3};
	struct spw_cli_req req;

	(void)state;
	ok("explain 10.1.2.3 8080", &req);
	assert_int_equal(req.cmd, SPW_CMD_EXPLAIN);
	assert_memory_equal(req.addr, v4, SPW_ADDR_LEN);
	assert_int_equal(req.port, 8080);
	assert_int_equal(req.proto, IPPROTO_TCP);
	assert_int_equal(req.dscp, -1);
	assert_false(req.json);
	/* Options after the positionals too (GNU getopt permutes). */
	ok("ex 2001:db8::1 53 --proto udp --dscp 46 --json --local 10.0.0.5", &req);
	assert_int_equal(req.proto, IPPROTO_UDP);
	assert_int_equal(req.dscp, 46);
	assert_true(req.json);
	assert_true(req.has_local);
	assert_int_equal(req.addr[0], 0x20);
	assert_string_equal(req.addr_text, "2001:db8::1");
}

static void test_rules_policy(void **state)
{
	struct spw_cli_req req;

	(void)state;
	ok("rules list --json", &req);
	assert_int_equal(req.rules_op, SPW_RULES_LIST);
	assert_true(req.json);
	ok("ru a 10.0.0.0/8 sheddable", &req);
	assert_int_equal(req.rules_op, SPW_RULES_ADD);
	assert_int_equal(req.cidr.prefixlen, 96 + 8);
	assert_true(req.cidr.is_v4);
	assert_string_equal(req.tier, "sheddable");
	ok("rules d 2001:db8::/32", &req);
	assert_int_equal(req.rules_op, SPW_RULES_DEL);
	assert_int_equal(req.cidr.prefixlen, 32);

	ok("policy set api --shed standard:40 --for 90s", &req);
	assert_int_equal(req.policy_op, SPW_POLICY_SET);
	assert_string_equal(req.service, "api");
	assert_string_equal(req.tier, "standard");
	assert_int_equal(req.percent, 40);
	assert_int_equal(req.for_ns, 90 * SPW_NSEC_PER_SEC);
	ok("po se api --shed sheddable --for 1.5s", &req);
	assert_int_equal(req.percent, 100);
	assert_string_equal(req.tier, "sheddable");
	ok("policy clear api", &req);
	assert_int_equal(req.policy_op, SPW_POLICY_CLEAR);
	ok("policy dry-run api on", &req);
	assert_int_equal(req.policy_op, SPW_POLICY_DRYRUN);
	assert_true(req.dry_run_on);
	assert_int_equal(req.for_ns, SPW_NSEC_PER_HOUR);
	ok("policy d api off --for 5m", &req);
	assert_false(req.dry_run_on);
	assert_int_equal(req.for_ns, 5 * SPW_NSEC_PER_MIN);
}

static void test_others(void **state)
{
	struct spw_cli_req req;

	(void)state;
	ok("report pool db in_use=3 capacity=10 wait_ms=20", &req);
	assert_string_equal(req.report_line, "pool db in_use=3 capacity=10 wait_ms=20");
	assert_int_equal(req.report_key.kind, SPW_REPORT_POOL);
	assert_int_equal(req.report_val.in_use, 3);
	assert_int_equal(req.report_val.capacity, 10);
	assert_null(req.socket);
	ok("report --socket /tmp/r.sock pool db in_use=3 capacity=10", &req);
	assert_string_equal(req.socket, "/tmp/r.sock");
	assert_string_equal(req.report_line, "pool db in_use=3 capacity=10");
	ok("report --socket=/tmp/q.sock --config /etc/x.yaml queue jobs depth=4", &req);
	assert_string_equal(req.socket, "/tmp/q.sock");
	assert_string_equal(req.config, "/etc/x.yaml");
	assert_true(req.config_set);
	assert_string_equal(req.report_line, "queue jobs depth=4");
	/* After the subcommand, words are the line's: a name may start with '-'. */
	ok("report pool --socket in_use=3 capacity=10", &req);
	assert_null(req.socket);
	assert_string_equal(req.report_line, "pool --socket in_use=3 capacity=10");
	ok("attach eth0", &req);
	assert_int_equal(req.mode, SPW_ATTACH_XDP);
	assert_string_equal(req.iface, "eth0");
	ok("attach eth0 --mode xdp-generic", &req);
	assert_int_equal(req.mode, SPW_ATTACH_XDP_GENERIC);
	ok("a eth1 --mode tc", &req);
	assert_int_equal(req.mode, SPW_ATTACH_TC);
	ok("detach eth0", &req);
	assert_false(req.all);
	ok("detach --all --yes", &req);
	assert_true(req.all && req.yes);
	ok("config check /etc/spillway/spillway.yaml", &req);
	assert_int_equal(req.config_op, SPW_CONFIG_CHECK);
	assert_string_equal(req.file, "/etc/spillway/spillway.yaml");
	ok("c ch x.yaml", &req);
	assert_int_equal(req.cmd, SPW_CMD_CONFIG);
	ok("reload", &req);
	assert_false(req.dry_run);
	ok("reload --dry-run", &req);
	assert_true(req.dry_run);
	ok("config diff /etc/spillway/new.yaml", &req);
	assert_int_equal(req.config_op, SPW_CONFIG_DIFF);
	assert_string_equal(req.file, "/etc/spillway/new.yaml");
	ok("version", &req);
}

static void test_lookup(void **state)
{
	static const char *const names[] = {"status", "stop", "top"};
	char err[128];

	(void)state;
	assert_int_equal(spw_cli_lookup("status", names, 3, "word", err, sizeof(err)), 0);
	assert_int_equal(spw_cli_lookup("sta", names, 3, "word", err, sizeof(err)), 0);
	assert_int_equal(spw_cli_lookup("t", names, 3, "word", err, sizeof(err)), 2);
	assert_int_equal(spw_cli_lookup("st", names, 3, "word", err, sizeof(err)), -2);
	assert_string_equal(err, "ambiguous word 'st': status, stop");
	assert_int_equal(spw_cli_lookup("x", names, 3, "word", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown word 'x'");
	assert_int_equal(spw_cli_lookup("", names, 3, "word", err, sizeof(err)), -1);
	/* Truncated, never overflowing. */
	assert_int_equal(spw_cli_lookup("s", names, 3, "word", err, 12), -2);
	assert_int_equal(strlen(err), 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_globals_and_prefixes),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_rules_policy),
	    cmocka_unit_test(test_others),
	    cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
