// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* gen-client-constants --python|--go: prints the generated constants file (constants.h). */
#include <stdio.h>
#include <string.h>
#include "constants.h"

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--python"))
		return spw_const_emit(stdout, SPW_CONST_PYTHON) ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "--go"))
		return spw_const_emit(stdout, SPW_CONST_GO) ? 1 : 0;
	fprintf(stderr, "usage: gen-client-constants --python|--go\n");
	return 2;
}
