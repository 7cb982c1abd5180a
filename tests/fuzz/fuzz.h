/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every fuzz harness shares. Each harness is one libFuzzer entry point: `make fuzz` links
 * it with libFuzzer's driver (clang -fsanitize=fuzzer), `make test` with replay.c, which feeds
 * it every file of its seed corpus and its regression cases.
 *
 * A harness aborts on a broken property (a parsed value that does not read back, an error
 * message without its NUL): abort() is a crash to both drivers.
 */
#ifndef SPW_FUZZ_H
#define SPW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a NUL-terminated string of its own (malloc'd), so ASan sees reads past it. */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif /* SPW_FUZZ_H */
