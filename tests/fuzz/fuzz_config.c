// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config loader (spw_config_parse, what spw_config_load runs on a file's text): any bytes
 * give a config or an error "name:line:column: message", never a crash or a leak. A config it
 * takes also goes through what the daemon does next with one: advice and service ids.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "spw_config.h"

static void no_advice(void *ctx, const char *advice)
{
	(void)ctx;
	FUZZ_CHECK(advice && advice[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char held[SPW_MAX_SERVICES][SPW_NAME_MAX];
	struct spw_config *c = NULL;
	char err[SPW_ERR_MAX];
	char *text = malloc(size ? size : 1);
	int rc;

	if (!text)
		abort();
	memcpy(text, data, size);
	err[0] = '\0';
	rc = spw_config_parse("fuzz.yaml", text, size, &c, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && !c);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && !strncmp(err, "fuzz.yaml", 9));
	} else {
		FUZZ_CHECK(c);
		spw_config_advise(c, no_advice, NULL);
		spw_config_assign_ids(c, (const char(*)[SPW_NAME_MAX])held);
		spw_config_free(c);
	}
	free(text);
	return 0;
}
