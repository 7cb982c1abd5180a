/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The spillway CLI: `spillway [GLOBAL OPTIONS] COMMAND [ARGS]`.
 *
 * Every command line is first parsed into a struct spw_cli_req by spw_cli_parse() (parse.c),
 * which is pure: no BPF calls, no files, no sockets, so tests/unit/test_cli_parse.c checks every
 * message without privileges. Only then does main.c run the command's exec
 * function, which reads the pinned maps, the shed-state file or the daemon's sockets.
 */
#ifndef SPW_CLI_H
#define SPW_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "spillway_abi.h"
#include "spillway_cli.h"
#include "spillway_names.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "spw_report.h"

/* Exit codes (the man page lists them). */
enum { SPW_EXIT_OK = 0, SPW_EXIT_FAIL = 1, SPW_EXIT_USAGE = 2 };

/* What spw_cli_parse() found. */
enum spw_cli_parse_result {
	SPW_CLI_RUN,   /* a command to execute */
	SPW_CLI_HELP,  /* --help: the help text is in req->help, print it and exit 0 */
	SPW_CLI_USAGE, /* a usage error: the message is in err, exit 2 */
};

enum spw_cli_cmd_id {
#define SPW_CLI_CMD_ENUM(id, name, exec) SPW_CMD_##id,
	SPW_CLI_COMMANDS(SPW_CLI_CMD_ENUM)
#undef SPW_CLI_CMD_ENUM
	    SPW_CMD_COUNT
};

enum spw_cli_rules_op { SPW_RULES_LIST, SPW_RULES_ADD, SPW_RULES_DEL };
enum spw_cli_policy_op { SPW_POLICY_SET, SPW_POLICY_CLEAR, SPW_POLICY_DRYRUN };
enum spw_cli_config_op { SPW_CONFIG_CHECK, SPW_CONFIG_DIFF };

/* Longest argument text the request keeps a copy of (names, paths are pointers into argv). */
#define SPW_CLI_ARG_MAX 64

/* One parsed command line. Strings point into argv, which outlives the request. */
struct spw_cli_req {
	enum spw_cli_cmd_id cmd;
	const char *help; /* SPW_CLI_HELP: the text to print */
	/* Global options. */
	const char *pin_root;  /* --pin-root, default SPW_PIN_ROOT */
	const char *state_dir; /* --state-dir, default SPW_STATE_DIR */
	const char *config;    /* --config, default SPW_CONFIG_DEFAULT_PATH */
	bool state_dir_set, config_set;
	int verbose;
	/* Read commands. */
	bool json;
	uint64_t interval_ns; /* status/top: time between the two counter reads */
	uint32_t count;	      /* top: screens to show, 0 = until q or Ctrl-C */
	/* explain */
	const char *addr_text;
	uint8_t addr[SPW_ADDR_LEN];
	bool addr_v4; /* typed as IPv4: a packet of that family */
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	bool has_local;
	uint8_t local[SPW_ADDR_LEN];
	int dscp; /* -1: no mark assumed */
	/* rules */
	enum spw_cli_rules_op rules_op;
	struct spw_cidr cidr;
	const char *cidr_text;
	const char *tier; /* a tier name, resolved against the running config at execution */
	char tier_buf[SPW_CLI_ARG_MAX]; /* policy set --shed: the name before the colon */
	/* policy */
	enum spw_cli_policy_op policy_op;
	const char *service;
	uint32_t percent; /* --shed TIER[:PERCENT], default 100 */
	uint64_t for_ns;
	bool for_set;
	bool dry_run_on;
	/* report */
	const char *socket; /* --socket: the report socket, before any config's */
	char report_line[SPW_REPORT_LINE_MAX];
	struct spw_report_key report_key;
	struct spw_report report_val;
	/* attach / detach */
	const char *iface;
	enum spw_attach_mode mode;
	bool all, yes;
	/* config check|diff */
	enum spw_cli_config_op config_op;
	const char *file;
	/* reload --dry-run: check and diff, apply nothing */
	bool dry_run;
};

/*
 * Parses argv (argv[0] is the program) into req. Returns SPW_CLI_RUN, SPW_CLI_HELP (req->help
 * set) or SPW_CLI_USAGE with a one-line message in err ("explain: bad port 'x': ..."). Pure.
 */
enum spw_cli_parse_result spw_cli_parse(int argc, char **argv, struct spw_cli_req *req, char *err,
					size_t errlen);

/* The name of a command, as in the command table. */
const char *spw_cli_cmd_name(enum spw_cli_cmd_id id);
/* The top-level help text. */
const char *spw_cli_main_help(void);

/*
 * Finds word in names[0..n): an exact match, or the one name it is a prefix of. Returns the
 * index, -1 when none matches, -2 when several do (err then lists them: "ambiguous command
 * 're': report, reload"). what names the kind of word for the messages ("command").
 */
int spw_cli_lookup(const char *word, const char *const *names, int n, const char *what, char *err,
		   size_t errlen);

/* Command implementations (one file per family). Each returns an exit code. */
int spw_cmd_status(const struct spw_cli_req *req);
int spw_cmd_top(const struct spw_cli_req *req);
int spw_cmd_explain(const struct spw_cli_req *req);
int spw_cmd_rules(const struct spw_cli_req *req);
int spw_cmd_policy(const struct spw_cli_req *req);
int spw_cmd_report(const struct spw_cli_req *req);
int spw_cmd_attach(const struct spw_cli_req *req);
int spw_cmd_detach(const struct spw_cli_req *req);
int spw_cmd_config(const struct spw_cli_req *req);
int spw_cmd_reload(const struct spw_cli_req *req);
int spw_cmd_version(const struct spw_cli_req *req);

#endif /* SPW_CLI_H */
