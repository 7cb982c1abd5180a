// SPDX-License-Identifier: GPL-2.0-only
/* Helpers of the fuzz harnesses (fuzz.h). */
#include <string.h>
#include "fuzz.h"

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
