// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Python client's unit tests (clients/python/tests/test_*.py), run with Debian's python3
 * and counted one by one (tests/lib/extsuite.h): reports, the shed state and its fail-open
 * rules, torn reads, the HTTP example and the package, all against the daemon's own state
 * writer run as build/tests/clients/state_writer.
 */
#include <stdlib.h>
#include "extsuite.h"

int main(void)
{
	char *argv[] = {SPW_PYTHON, "tests/run.py", "test_*.py", NULL};

	setenv("SPW_STATE_WRITER", SPW_BUILD_DIR "/tests/clients/state_writer", 1);
	/* Byte code goes to the build folder, not beside the sources. */
	setenv("PYTHONPYCACHEPREFIX", SPW_BUILD_DIR "/python/pycache", 1);
	return spw_ext_suite_run("python client", SPW_SRC_ROOT "/clients/python", argv);
}
