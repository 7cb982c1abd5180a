// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Go client's unit tests (clients/go, `go test -v`), run with Debian's go offline and
 * counted one by one (tests/lib/extsuite.h): reports, the shed state and its fail-open rules,
 * torn reads, the middleware and the HTTP example, all against the daemon's own state writer
 * run as build/tests/clients/state_writer. `go vet` runs first, as `go test` does.
 */
#include <stdlib.h>
#include "extsuite.h"

int main(void)
{
	char *argv[] = {SPW_GO, "test", "-v", "-count=1", ".", NULL};

	setenv("SPW_STATE_WRITER", SPW_BUILD_DIR "/tests/clients/state_writer", 1);
	/* The module has no dependencies: nothing is ever downloaded. Caches stay in build/. */
	setenv("GOPROXY", "off", 1);
	setenv("GOFLAGS", "-mod=mod", 1);
	setenv("GOTOOLCHAIN", "local", 1);
	setenv("GOCACHE", SPW_BUILD_DIR "/go/cache", 1);
	setenv("GOPATH", SPW_BUILD_DIR "/go/path", 1);
	return spw_ext_suite_run("go client", SPW_SRC_ROOT "/clients/go", argv);
}
