/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The spillway CLI's commands, once: X(id, name, exec). The parser's table (name, parse_<name>,
 * <name>_help), the command enum and main.c's exec table are expanded from it, and
 * tests/unit/test_cli_docs.c checks that the help text, the bash completion and the man page
 * name every command. exec is NULL for help, which the parser always answers.
 */
#ifndef SPILLWAY_CLI_H
#define SPILLWAY_CLI_H

#define SPW_CLI_COMMANDS(X)                                                                        \
	X(STATUS, status, spw_cmd_status)                                                          \
	X(TOP, top, spw_cmd_top)                                                                   \
	X(EXPLAIN, explain, spw_cmd_explain)                                                       \
	X(RULES, rules, spw_cmd_rules)                                                             \
	X(POLICY, policy, spw_cmd_policy)                                                          \
	X(REPORT, report, spw_cmd_report)                                                          \
	X(ATTACH, attach, spw_cmd_attach)                                                          \
	X(DETACH, detach, spw_cmd_detach)                                                          \
	X(CONFIG, config, spw_cmd_config)                                                          \
	X(RELOAD, reload, spw_cmd_reload)                                                          \
	X(VERSION, version, spw_cmd_version)                                                       \
	X(HELP, help, NULL)

#endif /* SPILLWAY_CLI_H */
