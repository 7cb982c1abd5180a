// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway: the CLI. Parses the whole command line first (parse.c, pure), then runs the
 * command; usage errors exit 2 before anything is touched.
 */
#include <stdio.h>
#include "cli.h"
#include "spw_log.h"

typedef int (*exec_fn)(const struct spw_cli_req *req);

/* help never runs: its parse always answers. */
static const exec_fn execs[SPW_CMD_COUNT] = {
#define CLI_EXEC(id, name, exec) [SPW_CMD_##id] = exec,
    SPW_CLI_COMMANDS(CLI_EXEC)
#undef CLI_EXEC
};

int main(int argc, char **argv)
{
	struct spw_cli_req req;
	char err[512];

	switch (spw_cli_parse(argc, argv, &req, err, sizeof(err))) {
	case SPW_CLI_HELP:
		fputs(req.help, stdout);
		return SPW_EXIT_OK;
	case SPW_CLI_USAGE:
		fprintf(stderr, "spillway: %s\n", err);
		fprintf(stderr, "Try 'spillway help' or 'spillway COMMAND --help'.\n");
		return SPW_EXIT_USAGE;
	case SPW_CLI_RUN:
		break;
	}
	/* libbpf's probing chatter is not for a CLI user: warnings only, unless -v. */
	spw_log_set_level(req.verbose ? SPW_LOG_INFO + req.verbose - 1 : SPW_LOG_WARN);
	spw_log_install_libbpf();
	if (!execs[req.cmd])
		return SPW_EXIT_USAGE;
	return execs[req.cmd](&req);
}
