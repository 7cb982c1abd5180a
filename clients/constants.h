/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The constants the Python and Go clients need, taken from the C headers they mirror
 * (include/spillway_state.h, include/spillway_client.h, user/client/spw_client_priv.h) and
 * written out as source: clients/python/spillway/_layout.py and clients/go/layout.go are this
 * output, committed so that `pip install` and `go build` need no C compiler. A unit test
 * regenerates both and compares them with the committed files, so a header that moves a field
 * fails the build's tests until `make client-constants` is run.
 */
#ifndef SPW_CLIENT_CONSTANTS_H
#define SPW_CLIENT_CONSTANTS_H

#include <stdio.h>

enum spw_const_lang {
	SPW_CONST_PYTHON,
	SPW_CONST_GO,
};

/* Where each language's generated file lives, relative to the source root. */
#define SPW_CONST_PYTHON_FILE "clients/python/spillway/_layout.py"
#define SPW_CONST_GO_FILE     "clients/go/layout.go"

/* Writes the whole generated file for lang. 0, or -EIO when a write failed. */
int spw_const_emit(FILE *f, enum spw_const_lang lang);

#endif /* SPW_CLIENT_CONSTANTS_H */
