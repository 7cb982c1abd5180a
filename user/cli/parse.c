// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI's command table and argument parsing. Pure: argv in, a struct spw_cli_req or one
 * message out, so every usage error is unit-tested without BPF (tests/unit/test_cli_parse.c).
 *
 * Words (commands, subcommands) may be shortened to any unambiguous prefix, as with `ip`;
 * numbers, durations, addresses and CIDRs are parsed strictly (spw_strnum, spw_cidr): a typo is
 * an error that names the value, never a different value.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include "spw_err.h"
#include "cli.h"
#include "spw_config.h"
#include "spw_strnum.h"

#define ERR_MAX 256

/* Bounds of the durations people type. */
#define INTERVAL_MIN_NS (10 * SPW_NSEC_PER_MSEC) /* below it, counter deltas are noise */
#define INTERVAL_MAX_NS (60 * SPW_NSEC_PER_SEC)
/* A manual override longer than a week belongs in the config, not in a forgotten command. */
#define OVERRIDE_MIN_NS (100 * SPW_NSEC_PER_MSEC)
#define OVERRIDE_MAX_NS (7 * 24 * SPW_NSEC_PER_HOUR)
/* `policy dry-run` without --for: long enough to watch, short enough not to be forgotten. */
#define DRYRUN_DEFAULT_NS SPW_NSEC_PER_HOUR
/* top --count: any bound is fine, it only has to stop a test. */
#define TOP_COUNT_MAX 1000000

/* ---- help texts ---------------------------------------------------------------------------- */

static const char main_help[] =
    "usage: spillway [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Commands (any unambiguous prefix works):\n"
    "  status            shed state, pressure, rates, connections, latency per service\n"
    "  top               status refreshed every second until q or Ctrl-C\n"
    "  explain ADDR PORT what a new flow from ADDR to PORT would get now, and why\n"
    "  rules list|add|del   source CIDR -> tier rules at run time\n"
    "  policy set|clear|dry-run   manual overrides with an expiry\n"
    "  report [--socket PATH] pool|queue NAME k=v...   send one report line to spillwayd\n"
    "  attach IFACE      attach the data plane to an interface\n"
    "  detach IFACE|--all --yes   detach (--all also removes every pinned map)\n"
    "  config check|diff FILE   validate a config file, or show what reloading it changes\n"
    "  reload [--dry-run]   ask spillwayd to reload its config (or only check it)\n"
    "  version           print the version\n"
    "  help [COMMAND]    this text, or a command's\n"
    "\n"
    "Global options:\n"
    "  --pin-root DIR    bpffs folder of the maps (default " SPW_PIN_ROOT ")\n"
    "  --state-dir DIR   spillwayd's state folder (default: the config's state_dir,\n"
    "                    else " SPW_STATE_DIR ")\n"
    "  --config FILE     spillwayd's config (default " SPW_CONFIG_DEFAULT_PATH ")\n"
    "  -v, --verbose     more detail\n"
    "  -h, --help        this text\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

static const char status_help[] =
    "usage: spillway status [--json] [--interval DURATION]\n"
    "\n"
    "Per service: mode, what is shed per tier, pressure per signal (stale ones flagged), new\n"
    "flows admitted and shed per second per tier (two counter reads DURATION apart, default\n"
    "1s), active connections and latency p50/p99 per tier, lease remaining, retry hint; and\n"
    "the interfaces with their attach mode. --json adds, per tier, totals since the maps\n"
    "were created (they outlive daemon restarts, as /metrics' counters), and the wall-clock\n"
    "time of the read (time_unix_ms). Needs root (the pinned maps).\n";

static const char top_help[] =
    "usage: spillway top [--interval DURATION] [--count N]\n"
    "\n"
    "status, refreshed every DURATION (default 1s) in place until q or Ctrl-C. When stdout\n"
    "is not a terminal, each refresh is printed below the last. --count N stops after N.\n";

static const char explain_help[] =
    "usage: spillway explain ADDR PORT [--proto tcp|udp] [--local ADDR] [--dscp N] [--json]\n"
    "\n"
    "What a new flow from client ADDR to service PORT would get now: the service, the tier\n"
    "and the rule that chose it, the cohort and rank, the decision (admitted, shed_level,\n"
    "shed_cap, shed_rate, fail_open) and the action. A DSCP mark cannot be known from an\n"
    "address: explain assumes none unless --dscp N says which. --local names the local\n"
    "address for services bound to one. Reads the token bucket without taking from it.\n";

static const char rules_help[] =
    "usage: spillway rules list [--json]\n"
    "       spillway rules add CIDR TIER\n"
    "       spillway rules del CIDR\n"
    "\n"
    "Source CIDR -> tier rules at run time. They are kept until the next config reload,\n"
    "which replaces every rule with the file's.\n";

static const char policy_help[] =
    "usage: spillway policy set SERVICE --shed TIER[:PERCENT] --for DURATION\n"
    "       spillway policy clear SERVICE\n"
    "       spillway policy dry-run SERVICE on|off [--for DURATION]\n"
    "\n"
    "set: shed PERCENT (default 100) of TIER's cohorts and every tier after it, instead of\n"
    "what the controller decides, until DURATION has passed. clear: hand control back.\n"
    "dry-run on: count would-be sheds and shed nothing (default for 1h); the level is held\n"
    "where it is while it lasts. A service whose config says dry_run stays in dry run.\n";

static const char report_help[] =
    "usage: spillway report [--socket PATH | --config FILE] pool NAME in_use=N capacity=N\n"
    "                       [waiting=N] [wait_ms=N]\n"
    "       spillway report [--socket PATH | --config FILE] queue NAME depth=N [limit=N]\n"
    "                       [age_ms=N]\n"
    "\n"
    "Sends one report line to spillwayd's report socket: PATH, else the report.socket of\n"
    "FILE (or of the global --config), else of " SPW_CONFIG_DEFAULT_PATH " when readable,\n"
    "else " SPW_REPORT_SOCKET ".\n";

static const char attach_help[] =
    "usage: spillway attach IFACE [--mode xdp|xdp-generic|tc]\n"
    "\n"
    "Attaches the data plane to IFACE (default mode xdp). spillwayd attaches the config's\n"
    "interfaces itself; this is for one-off use and tests.\n";

static const char detach_help[] =
    "usage: spillway detach IFACE\n"
    "       spillway detach --all --yes\n"
    "\n"
    "Detaches from IFACE. --all detaches every interface and removes every pinned map and\n"
    "link (counters, flows, policies): it refuses without --yes. Only what is recorded as\n"
    "spillway's is touched: run from another network namespace than the daemon's, detach\n"
    "names the one to enter (nsenter --net=...) and touches nothing.\n";

static const char config_help[] =
    "usage: spillway config check FILE\n"
    "       spillway config diff FILE\n"
    "\n"
    "check: validates FILE as spillwayd would; errors read FILE:LINE:COL.\n"
    "diff: what a reload of FILE would change against spillwayd's running config (services,\n"
    "signals and targets, rules, tiers, DSCP, interfaces, controller; settings only a restart\n"
    "changes say so), one line each. Asks the daemon (its control socket, root only), which\n"
    "reads FILE: a path as the daemon sees it. Nothing is applied.\n";

static const char reload_help[] =
    "usage: spillway reload [--dry-run]\n"
    "\n"
    "Asks spillwayd (its control socket STATE_DIR/" SPW_CONTROL_SOCK_NAME
    ") to reload its config and\n"
    "prints its answer: \"ok: N services\"; \"partial: ...\" naming settings only a restart can\n"
    "change (exit 1); or the file:line:col error (the running config is then kept).\n"
    "--dry-run: checks the file the daemon would read and prints what a reload would change,\n"
    "applying nothing (exit 1 when the file is bad).\n";

static const char version_help[] = "usage: spillway version\n";

static const char help_help[] = "usage: spillway help [COMMAND]\n";

/* ---- helpers ------------------------------------------------------------------------------- */

int spw_cli_lookup(const char *word, const char *const *names, int n, const char *what, char *err,
		   size_t errlen)
{
	size_t len = strlen(word), used;
	int i, found = -1, matches = 0;

	for (i = 0; i < n; i++) {
		if (!strcmp(word, names[i]))
			return i;
	}
	for (i = 0; len && i < n; i++) {
		if (!strncmp(word, names[i], len)) {
			found = i;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (!matches) {
		spw_set_err(err, errlen, "unknown %s '%s'", what, word);
		return -1;
	}
	used = (size_t)snprintf(err, errlen, "ambiguous %s '%s':", what, word);
	for (i = 0, matches = 0; i < n && used < errlen; i++) {
		if (!strncmp(word, names[i], len))
			used += (size_t)snprintf(err + used, errlen - used, "%s %s",
						 matches++ ? "," : "", names[i]);
	}
	return -2;
}

/*
 * getopt's own messages go to stderr and cannot be tested; with opterr off and ':' first in
 * the short options, this turns its '?' and ':' into ours.
 */
static void opt_error(const char *cmd, int c, int argc, char **argv, char *err, size_t errlen)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	int n = (int)strcspn(arg, "=");

	if (c == ':')
		spw_set_err(err, errlen, "%s: option '%.*s' needs an argument", cmd, n, arg);
	else if (optopt && optopt < 0x100)
		spw_set_err(err, errlen, "%s: unknown option '-%c'", cmd, optopt);
	else
		spw_set_err(err, errlen, "%s: unknown option '%.*s'", cmd, n, arg);
}

/* Positional arguments after getopt, for commands that take an exact count. */
static bool positionals(const char *cmd, int argc, char **argv, int want, const char *const *names,
			char *err, size_t errlen)
{
	int have = argc - optind;

	if (have < want) {
		spw_set_err(err, errlen, "%s: missing %s", cmd, names[have]);
		return false;
	}
	if (have > want) {
		spw_set_err(err, errlen, "%s: unexpected argument '%s'", cmd, argv[optind + want]);
		return false;
	}
	return true;
}

static bool parse_duration(const char *cmd, const char *opt, const char *text, uint64_t min,
			   uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	char why[ERR_MAX];

	if (spw_parse_duration_ns(text, min, max, out, why, sizeof(why))) {
		spw_set_err(err, errlen, "%s: bad %s: %s", cmd, opt, why);
		return false;
	}
	return true;
}

/*
 * Runs getopt_long over a command's argv (argv[0] is the command word), calling fn for each
 * option. Returns SPW_CLI_RUN, SPW_CLI_HELP or SPW_CLI_USAGE.
 */
typedef bool (*opt_fn)(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
		       size_t errlen);

static enum spw_cli_parse_result run_opts(struct spw_cli_req *req, const char *cmd, int argc,
					  char **argv, const struct option *longopts,
					  const char *shortopts, opt_fn fn, const char *help,
					  char *err, size_t errlen)
{
	int c;

	optind = 0; /* glibc: 0 re-initialises getopt completely (several parses per process) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'h') {
			req->help = help;
			return SPW_CLI_HELP;
		}
		if (c == '?' || c == ':') {
			opt_error(cmd, c, argc, argv, err, errlen);
			return SPW_CLI_USAGE;
		}
		if (!fn || !fn(req, cmd, c, optarg, err, errlen))
			return SPW_CLI_USAGE;
	}
	return SPW_CLI_RUN;
}

#define HELP_OPT                                                                                   \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}
#define JSON_OPT                                                                                   \
	{                                                                                          \
		"json", no_argument, NULL, 'j'                                                     \
	}
#define END_OPT                                                                                    \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

/* ---- status, top ----------------------------------------------------------------------------- */

static bool status_opt(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
		       size_t errlen)
{
	char why[ERR_MAX];

	switch (c) {
	case 'j':
		req->json = true;
		return true;
	case 'i':
		return parse_duration(cmd, "--interval", arg, INTERVAL_MIN_NS, INTERVAL_MAX_NS,
				      &req->interval_ns, err, errlen);
	case 'n':
		if (spw_parse_u32(arg, 1, TOP_COUNT_MAX, &req->count, why, sizeof(why))) {
			spw_set_err(err, errlen, "%s: bad --count: %s", cmd, why);
			return false;
		}
		return true;
	}
	return false;
}

static enum spw_cli_parse_result parse_status(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const struct option opts[] = {
	    JSON_OPT, {"interval", required_argument, NULL, 'i'}, HELP_OPT, END_OPT};
	enum spw_cli_parse_result r;

	r = run_opts(req, "status", argc, argv, opts, ":h", status_opt, status_help, err, errlen);
	if (r == SPW_CLI_RUN && !positionals("status", argc, argv, 0, NULL, err, errlen))
		return SPW_CLI_USAGE;
	return r;
}

static enum spw_cli_parse_result parse_top(struct spw_cli_req *req, int argc, char **argv,
					   char *err, size_t errlen)
{
	static const struct option opts[] = {{"interval", required_argument, NULL, 'i'},
					     {"count", required_argument, NULL, 'n'},
					     HELP_OPT,
					     END_OPT};
	enum spw_cli_parse_result r;

	r = run_opts(req, "top", argc, argv, opts, ":hn:", status_opt, top_help, err, errlen);
	if (r == SPW_CLI_RUN && !positionals("top", argc, argv, 0, NULL, err, errlen))
		return SPW_CLI_USAGE;
	return r;
}

/* ---- explain ------------------------------------------------------------------------------- */

static bool explain_opt(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
			size_t errlen)
{
	char why[ERR_MAX];

	switch (c) {
	case 'j':
		req->json = true;
		return true;
	case 'p':
		if (!strcmp(arg, "tcp")) {
			req->proto = IPPROTO_TCP;
		} else if (!strcmp(arg, "udp")) {
			req->proto = IPPROTO_UDP;
		} else {
			spw_set_err(err, errlen, "%s: bad --proto '%s' (tcp or udp)", cmd, arg);
			return false;
		}
		return true;
	case 'l':
		if (spw_addr_parse(arg, req->local, NULL)) {
			spw_set_err(err, errlen,
				    "%s: bad --local '%s': not an IPv4 or IPv6 address", cmd, arg);
			return false;
		}
		req->has_local = true;
		return true;
	case 'd':
		if (spw_parse_int(arg, 0, SPW_DSCP_VALUES - 1, &req->dscp, why, sizeof(why))) {
			spw_set_err(err, errlen, "%s: bad --dscp: %s", cmd, why);
			return false;
		}
		return true;
	}
	return false;
}

static enum spw_cli_parse_result parse_explain(struct spw_cli_req *req, int argc, char **argv,
					       char *err, size_t errlen)
{
	static const struct option opts[] = {JSON_OPT,
					     {"proto", required_argument, NULL, 'p'},
					     {"local", required_argument, NULL, 'l'},
					     {"dscp", required_argument, NULL, 'd'},
					     HELP_OPT,
					     END_OPT};
	static const char *const names[] = {"ADDR and PORT", "PORT"};
	enum spw_cli_parse_result r;
	char why[ERR_MAX];

	req->proto = IPPROTO_TCP;
	req->dscp = -1;
	r = run_opts(req, "explain", argc, argv, opts, ":h", explain_opt, explain_help, err,
		     errlen);
	if (r != SPW_CLI_RUN)
		return r;
	if (!positionals("explain", argc, argv, 2, names, err, errlen))
		return SPW_CLI_USAGE;
	req->addr_text = argv[optind];
	if (spw_addr_parse(req->addr_text, req->addr, &req->addr_v4)) {
		spw_set_err(err, errlen, "explain: bad address '%s': not an IPv4 or IPv6 address",
			    req->addr_text);
		return SPW_CLI_USAGE;
	}
	if (spw_parse_u16(argv[optind + 1], 1, 65535, &req->port, why, sizeof(why))) {
		spw_set_err(err, errlen, "explain: bad port: %s", why);
		return SPW_CLI_USAGE;
	}
	return SPW_CLI_RUN;
}

/* ---- rules --------------------------------------------------------------------------------- */

static bool json_opt(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
		     size_t errlen)
{
	(void)cmd, (void)arg, (void)err, (void)errlen;
	if (c == 'j')
		req->json = true;
	return c == 'j';
}

static bool parse_cidr(const char *cmd, const char *text, struct spw_cidr *out, char *err,
		       size_t errlen)
{
	char why[ERR_MAX];

	if (spw_cidr_parse(text, out, why, sizeof(why))) {
		spw_set_err(err, errlen, "%s: bad CIDR '%s': %s", cmd, text, why);
		return false;
	}
	return true;
}

/* The subcommand word of rules, policy, report, config: prefixes as for commands. */
static int subcommand(const char *cmd, int argc, char **argv, const char *const *names, int n,
		      char *err, size_t errlen)
{
	char why[ERR_MAX];
	int i;

	if (argc < 2) {
		spw_set_err(err, errlen, "%s: missing subcommand (", cmd);
		for (i = 0; i < n; i++)
			snprintf(err + strlen(err), errlen - strlen(err), "%s%s", i ? ", " : "",
				 names[i]);
		snprintf(err + strlen(err), errlen - strlen(err), ")");
		return -1;
	}
	i = spw_cli_lookup(argv[1], names, n, "subcommand", why, sizeof(why));
	if (i < 0)
		spw_set_err(err, errlen, "%s: %s", cmd, why);
	return i;
}

static bool is_help(int argc, char **argv)
{
	return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

static enum spw_cli_parse_result parse_rules(struct spw_cli_req *req, int argc, char **argv,
					     char *err, size_t errlen)
{
	static const char *const subs[] = {"list", "add", "del"};
	static const struct option opts[] = {JSON_OPT, HELP_OPT, END_OPT};
	static const char *const add_names[] = {"CIDR and TIER", "TIER"};
	static const char *const del_names[] = {"CIDR"};
	enum spw_cli_parse_result r;
	int sub;

	if (is_help(argc, argv)) {
		req->help = rules_help;
		return SPW_CLI_HELP;
	}
	sub = subcommand("rules", argc, argv, subs, 3, err, errlen);
	if (sub < 0)
		return SPW_CLI_USAGE;
	req->rules_op = (enum spw_cli_rules_op)sub;
	r = run_opts(req, "rules", argc - 1, argv + 1, opts, ":h", json_opt, rules_help, err,
		     errlen);
	if (r != SPW_CLI_RUN)
		return r;
	argc--, argv++;
	switch (req->rules_op) {
	case SPW_RULES_LIST:
		if (!positionals("rules list", argc, argv, 0, NULL, err, errlen))
			return SPW_CLI_USAGE;
		break;
	case SPW_RULES_ADD:
		if (!positionals("rules add", argc, argv, 2, add_names, err, errlen))
			return SPW_CLI_USAGE;
		req->cidr_text = argv[optind];
		if (!parse_cidr("rules add", req->cidr_text, &req->cidr, err, errlen))
			return SPW_CLI_USAGE;
		req->tier = argv[optind + 1];
		break;
	case SPW_RULES_DEL:
		if (!positionals("rules del", argc, argv, 1, del_names, err, errlen))
			return SPW_CLI_USAGE;
		req->cidr_text = argv[optind];
		if (!parse_cidr("rules del", req->cidr_text, &req->cidr, err, errlen))
			return SPW_CLI_USAGE;
		break;
	}
	return SPW_CLI_RUN;
}

/* ---- policy -------------------------------------------------------------------------------- */

static bool policy_opt(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
		       size_t errlen)
{
	char why[ERR_MAX];
	const char *colon;
	int n;

	switch (c) {
	case 's':
		if (req->policy_op != SPW_POLICY_SET) {
			spw_set_err(err, errlen, "%s: --shed is only for policy set", cmd);
			return false;
		}
		colon = strchr(arg, ':');
		req->percent = 100;
		if (colon) {
			if (spw_parse_u32(colon + 1, 0, 100, &req->percent, why, sizeof(why))) {
				spw_set_err(err, errlen, "%s: bad --shed percent: %s", cmd, why);
				return false;
			}
		}
		n = colon ? (int)(colon - arg) : (int)strlen(arg);
		if (!n || n >= (int)sizeof(req->tier_buf)) {
			spw_set_err(err, errlen, "%s: bad --shed '%s': no tier name", cmd, arg);
			return false;
		}
		snprintf(req->tier_buf, sizeof(req->tier_buf), "%.*s", n, arg);
		req->tier = req->tier_buf;
		return true;
	case 'f':
		req->for_set = true;
		return parse_duration(cmd, "--for", arg, OVERRIDE_MIN_NS, OVERRIDE_MAX_NS,
				      &req->for_ns, err, errlen);
	}
	return false;
}

static enum spw_cli_parse_result parse_policy(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const char *const subs[] = {"set", "clear", "dry-run"};
	static const struct option opts[] = {{"shed", required_argument, NULL, 's'},
					     {"for", required_argument, NULL, 'f'},
					     HELP_OPT,
					     END_OPT};
	static const char *const svc_names[] = {"SERVICE"};
	static const char *const dry_names[] = {"SERVICE and on|off", "on|off"};
	enum spw_cli_parse_result r;
	const char *cmd;
	int sub;

	if (is_help(argc, argv)) {
		req->help = policy_help;
		return SPW_CLI_HELP;
	}
	sub = subcommand("policy", argc, argv, subs, 3, err, errlen);
	if (sub < 0)
		return SPW_CLI_USAGE;
	req->policy_op = (enum spw_cli_policy_op)sub;
	cmd = sub == SPW_POLICY_SET	? "policy set"
	      : sub == SPW_POLICY_CLEAR ? "policy clear"
					: "policy dry-run";
	r = run_opts(req, cmd, argc - 1, argv + 1, opts, ":h", policy_opt, policy_help, err,
		     errlen);
	if (r != SPW_CLI_RUN)
		return r;
	argc--, argv++;
	switch (req->policy_op) {
	case SPW_POLICY_SET:
		if (!positionals(cmd, argc, argv, 1, svc_names, err, errlen))
			return SPW_CLI_USAGE;
		if (!req->tier) {
			spw_set_err(err, errlen, "%s: missing --shed TIER[:PERCENT]", cmd);
			return SPW_CLI_USAGE;
		}
		if (!req->for_set) {
			spw_set_err(err, errlen, "%s: missing --for DURATION", cmd);
			return SPW_CLI_USAGE;
		}
		break;
	case SPW_POLICY_CLEAR:
		if (req->for_set) {
			spw_set_err(err, errlen, "%s: --for is not for policy clear", cmd);
			return SPW_CLI_USAGE;
		}
		if (!positionals(cmd, argc, argv, 1, svc_names, err, errlen))
			return SPW_CLI_USAGE;
		break;
	case SPW_POLICY_DRYRUN:
		if (!positionals(cmd, argc, argv, 2, dry_names, err, errlen))
			return SPW_CLI_USAGE;
		if (!strcmp(argv[optind + 1], "on")) {
			req->dry_run_on = true;
		} else if (strcmp(argv[optind + 1], "off")) {
			spw_set_err(err, errlen, "%s: expected on or off, not '%s'", cmd,
				    argv[optind + 1]);
			return SPW_CLI_USAGE;
		}
		if (!req->for_set)
			req->for_ns = DRYRUN_DEFAULT_NS;
		break;
	}
	req->service = argv[optind];
	return SPW_CLI_RUN;
}

/* ---- report -------------------------------------------------------------------------------- */

static enum spw_cli_parse_result parse_report(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const char *const subs[] = {"pool", "queue"};
	char why[ERR_MAX];
	size_t used;
	int sub, i;

	if (is_help(argc, argv)) {
		req->help = report_help;
		return SPW_CLI_HELP;
	}
	/*
	 * Options only before the subcommand word: after it every word belongs to the line,
	 * and a pool name may start with '-'.
	 */
	while (argc >= 2 && !strncmp(argv[1], "--", 2)) {
		const char **dst = NULL;
		const char *val = NULL, *eq = strchr(argv[1], '=');
		size_t n = eq ? (size_t)(eq - argv[1]) : strlen(argv[1]);
		int words = 1;

		if (n == strlen("--socket") && !strncmp(argv[1], "--socket", n))
			dst = &req->socket;
		else if (n == strlen("--config") && !strncmp(argv[1], "--config", n))
			dst = &req->config;
		if (!dst) {
			spw_set_err(err, errlen, "report: unknown option '%.*s'", (int)n, argv[1]);
			return SPW_CLI_USAGE;
		}
		if (eq) {
			val = eq + 1;
		} else if (argc >= 3) {
			val = argv[2];
			words = 2;
		}
		if (!val || !*val) {
			spw_set_err(err, errlen, "report: option '%.*s' needs an argument", (int)n,
				    argv[1]);
			return SPW_CLI_USAGE;
		}
		*dst = val;
		if (dst == &req->config)
			req->config_set = true;
		argc -= words;
		argv += words;
	}
	sub = subcommand("report", argc, argv, subs, 2, err, errlen);
	if (sub < 0)
		return SPW_CLI_USAGE;
	if (argc < 3) {
		spw_set_err(err, errlen, "report %s: missing NAME", subs[sub]);
		return SPW_CLI_USAGE;
	}
	/* No getopt here: k=v words are the line itself, and names may start with '-'. */
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			req->help = report_help;
			return SPW_CLI_HELP;
		}
	}
	used = (size_t)snprintf(req->report_line, sizeof(req->report_line), "%s", subs[sub]);
	for (i = 2; i < argc && used < sizeof(req->report_line); i++)
		used += (size_t)snprintf(req->report_line + used, sizeof(req->report_line) - used,
					 " %s", argv[i]);
	if (used >= sizeof(req->report_line)) {
		spw_set_err(err, errlen, "report %s: the line is longer than %d bytes", subs[sub],
			    SPW_REPORT_LINE_MAX - 1);
		return SPW_CLI_USAGE;
	}
	/* The same parser as the daemon's: a line refused here would be refused there. */
	if (spw_report_parse(req->report_line, used, &req->report_key, &req->report_val, why,
			     sizeof(why))) {
		spw_set_err(err, errlen, "report %s: %s", subs[sub], why);
		return SPW_CLI_USAGE;
	}
	return SPW_CLI_RUN;
}

/* ---- attach, detach ------------------------------------------------------------------------ */

static bool attach_opt(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
		       size_t errlen)
{
	char modes[64];

	switch (c) {
	case 'm':
		if (!spw_attach_mode_parse(arg, &req->mode))
			return true;
		spw_attach_modes_text(modes, sizeof(modes));
		spw_set_err(err, errlen, "%s: bad --mode '%s' (%s)", cmd, arg, modes);
		return false;
	case 'a':
		req->all = true;
		return true;
	case 'y':
		req->yes = true;
		return true;
	}
	return false;
}

static bool parse_iface(const char *cmd, const char *name, char *err, size_t errlen)
{
	if (!*name || strlen(name) >= 16 || strchr(name, '/') || strchr(name, ' ')) {
		spw_set_err(err, errlen, "%s: bad interface name '%s'", cmd, name);
		return false;
	}
	return true;
}

static enum spw_cli_parse_result parse_attach(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"mode", required_argument, NULL, 'm'}, HELP_OPT, END_OPT};
	static const char *const names[] = {"IFACE"};
	enum spw_cli_parse_result r;

	req->mode = SPW_ATTACH_XDP;
	r = run_opts(req, "attach", argc, argv, opts, ":h", attach_opt, attach_help, err, errlen);
	if (r != SPW_CLI_RUN)
		return r;
	if (!positionals("attach", argc, argv, 1, names, err, errlen))
		return SPW_CLI_USAGE;
	req->iface = argv[optind];
	return parse_iface("attach", req->iface, err, errlen) ? SPW_CLI_RUN : SPW_CLI_USAGE;
}

static enum spw_cli_parse_result parse_detach(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'}, {"yes", no_argument, NULL, 'y'}, HELP_OPT, END_OPT};
	static const char *const names[] = {"IFACE (or --all --yes)"};
	enum spw_cli_parse_result r;

	r = run_opts(req, "detach", argc, argv, opts, ":h", attach_opt, detach_help, err, errlen);
	if (r != SPW_CLI_RUN)
		return r;
	if (req->all) {
		if (!positionals("detach", argc, argv, 0, NULL, err, errlen))
			return SPW_CLI_USAGE;
		if (!req->yes) {
			spw_set_err(
			    err, errlen,
			    "detach: --all removes every program, map and counter: add --yes");
			return SPW_CLI_USAGE;
		}
		return SPW_CLI_RUN;
	}
	if (!positionals("detach", argc, argv, 1, names, err, errlen))
		return SPW_CLI_USAGE;
	req->iface = argv[optind];
	return parse_iface("detach", req->iface, err, errlen) ? SPW_CLI_RUN : SPW_CLI_USAGE;
}

/* ---- config, reload, version, help --------------------------------------------------------- */

static enum spw_cli_parse_result parse_config(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const char *const subs[] = {"check", "diff"};
	static const struct option opts[] = {HELP_OPT, END_OPT};
	static const char *const names[] = {"FILE"};
	enum spw_cli_parse_result r;
	const char *cmd;
	int sub;

	if (is_help(argc, argv)) {
		req->help = config_help;
		return SPW_CLI_HELP;
	}
	sub = subcommand("config", argc, argv, subs, 2, err, errlen);
	if (sub < 0)
		return SPW_CLI_USAGE;
	req->config_op = (enum spw_cli_config_op)sub;
	cmd = sub == SPW_CONFIG_CHECK ? "config check" : "config diff";
	r = run_opts(req, cmd, argc - 1, argv + 1, opts, ":h", NULL, config_help, err, errlen);
	if (r != SPW_CLI_RUN)
		return r;
	if (!positionals(cmd, argc - 1, argv + 1, 1, names, err, errlen))
		return SPW_CLI_USAGE;
	req->file = argv[1 + optind];
	return SPW_CLI_RUN;
}

static enum spw_cli_parse_result parse_noargs(struct spw_cli_req *req, const char *cmd,
					      const char *help, int argc, char **argv, char *err,
					      size_t errlen)
{
	static const struct option opts[] = {HELP_OPT, END_OPT};
	enum spw_cli_parse_result r;

	r = run_opts(req, cmd, argc, argv, opts, ":h", NULL, help, err, errlen);
	if (r == SPW_CLI_RUN && !positionals(cmd, argc, argv, 0, NULL, err, errlen))
		return SPW_CLI_USAGE;
	return r;
}

static bool reload_opt(struct spw_cli_req *req, const char *cmd, int c, const char *arg, char *err,
		       size_t errlen)
{
	(void)cmd, (void)arg, (void)err, (void)errlen;
	if (c == 'n')
		req->dry_run = true;
	return c == 'n';
}

static enum spw_cli_parse_result parse_reload(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"dry-run", no_argument, NULL, 'n'}, HELP_OPT, END_OPT};
	enum spw_cli_parse_result r;

	r = run_opts(req, "reload", argc, argv, opts, ":h", reload_opt, reload_help, err, errlen);
	if (r == SPW_CLI_RUN && !positionals("reload", argc, argv, 0, NULL, err, errlen))
		return SPW_CLI_USAGE;
	return r;
}

static enum spw_cli_parse_result parse_version(struct spw_cli_req *req, int argc, char **argv,
					       char *err, size_t errlen)
{
	return parse_noargs(req, "version", version_help, argc, argv, err, errlen);
}

static enum spw_cli_parse_result parse_help(struct spw_cli_req *req, int argc, char **argv,
					    char *err, size_t errlen);

/* ---- the command table --------------------------------------------------------------------- */

typedef enum spw_cli_parse_result (*parse_fn)(struct spw_cli_req *req, int argc, char **argv,
					      char *err, size_t errlen);

static const struct {
	const char *name;
	parse_fn parse;
	const char *help;
} commands[SPW_CMD_COUNT] = {
#define CLI_COMMAND(id, name, exec) [SPW_CMD_##id] = {#name, parse_##name, name##_help},
    SPW_CLI_COMMANDS(CLI_COMMAND)
#undef CLI_COMMAND
};

static int find_command(const char *word, char *err, size_t errlen)
{
	const char *names[SPW_CMD_COUNT];
	int i;

	for (i = 0; i < SPW_CMD_COUNT; i++)
		names[i] = commands[i].name;
	return spw_cli_lookup(word, names, SPW_CMD_COUNT, "command", err, errlen);
}

static enum spw_cli_parse_result parse_help(struct spw_cli_req *req, int argc, char **argv,
					    char *err, size_t errlen)
{
	int i;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && strcmp(argv[1], "--help"))) {
		spw_set_err(err, errlen, "help: unexpected argument '%s'", argv[argc - 1]);
		return SPW_CLI_USAGE;
	}
	req->help = main_help;
	if (argc == 2 && strcmp(argv[1], "--help")) {
		i = find_command(argv[1], err, errlen);
		if (i < 0)
			return SPW_CLI_USAGE;
		req->help = commands[i].help;
	}
	return SPW_CLI_HELP;
}

const char *spw_cli_cmd_name(enum spw_cli_cmd_id id)
{
	return (unsigned int)id < SPW_CMD_COUNT ? commands[id].name : "?";
}

const char *spw_cli_main_help(void)
{
	return main_help;
}

enum spw_cli_parse_result spw_cli_parse(int argc, char **argv, struct spw_cli_req *req, char *err,
					size_t errlen)
{
	static const struct option opts[] = {
	    {"pin-root", required_argument, NULL, 'P'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"config", required_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    HELP_OPT,
	    END_OPT,
	};
	int c, i;

	memset(req, 0, sizeof(*req));
	req->pin_root = SPW_PIN_ROOT;
	req->state_dir = SPW_STATE_DIR;
	req->config = SPW_CONFIG_DEFAULT_PATH;
	req->interval_ns = SPW_NSEC_PER_SEC;
	req->dscp = -1;
	err[0] = '\0';

	optind = 0;
	opterr = 0;
	/* '+': global options end at the command word; the command's own come after it. */
	while ((c = getopt_long(argc, argv, "+:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			req->pin_root = optarg;
			break;
		case 'S':
			req->state_dir = optarg;
			req->state_dir_set = true;
			break;
		case 'C':
			req->config = optarg;
			req->config_set = true;
			break;
		case 'v':
			req->verbose++;
			break;
		case 'h':
			req->help = main_help;
			return SPW_CLI_HELP;
		default:
			opt_error("spillway", c, argc, argv, err, errlen);
			return SPW_CLI_USAGE;
		}
	}
	if (!*req->pin_root || !*req->state_dir || !*req->config) {
		spw_set_err(err, errlen, "spillway: an empty path was given to a global option");
		return SPW_CLI_USAGE;
	}
	if (optind >= argc) {
		spw_set_err(err, errlen, "no command given (try 'spillway help')");
		return SPW_CLI_USAGE;
	}
	i = find_command(argv[optind], err, errlen);
	if (i < 0)
		return SPW_CLI_USAGE;
	req->cmd = (enum spw_cli_cmd_id)i;
	argc -= optind;
	argv += optind;
	return commands[i].parse(req, argc, argv, err, errlen);
}
