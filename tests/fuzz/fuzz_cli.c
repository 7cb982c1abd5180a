// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI's argument parser (spw_cli_parse). The input is the arguments after "spillway",
 * separated by NUL bytes; each gets a buffer of its own so a read past one is an ASan report.
 * Every result is a command, help text, or a usage error with its message.
 */
#include <string.h>
#include "fuzz.h"
#include "cli.h"

#define FUZZ_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_ARGS + 2];
	struct spw_cli_req req;
	enum spw_cli_parse_result r;
	char err[512];
	size_t at = 0;
	int argc = 1, i;

	argv[0] = fuzz_strndup((const uint8_t *)"spillway", 8);
	while (at < size && argc <= FUZZ_ARGS) {
		const uint8_t *nul = memchr(data + at, '\0', size - at);
		size_t len = nul ? (size_t)(nul - (data + at)) : size - at;

		argv[argc++] = fuzz_strndup(data + at, len);
		at += len + 1;
	}
	argv[argc] = NULL;
	memset(&req, 0, sizeof(req));
	err[0] = '\0';
	r = spw_cli_parse(argc, argv, &req, err, sizeof(err));
	switch (r) {
	case SPW_CLI_RUN:
		FUZZ_CHECK(req.cmd < SPW_CMD_COUNT);
		FUZZ_CHECK(spw_cli_cmd_name(req.cmd) != NULL);
		break;
	case SPW_CLI_HELP:
		FUZZ_CHECK(req.help && req.help[0]);
		break;
	case SPW_CLI_USAGE:
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
		break;
	default:
		FUZZ_CHECK(!"spw_cli_parse returned something else");
	}
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
