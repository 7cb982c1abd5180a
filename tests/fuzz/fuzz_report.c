// SPDX-License-Identifier: GPL-2.0-only
/*
 * The report line parser (spw_report_parse), on the bytes of one datagram. A line it takes must
 * format back (spw_report_format) to a line that parses to the same key and value; a line it
 * refuses must leave a message.
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"
#include "spw_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spw_report_key key, key2;
	struct spw_report val, val2;
	char err[256], line[SPW_REPORT_LINE_MAX + 1];
	/* Its own buffer, exactly size long: a read past the datagram is an ASan report. */
	char *buf = malloc(size ? size : 1);
	int rc;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	memset(&key, 0, sizeof(key));
	memset(&val, 0, sizeof(val));
	err[0] = '\0';
	rc = spw_report_parse(buf, size, &key, &val, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
		free(buf);
		return 0;
	}
	FUZZ_CHECK(spw_report_format(&key, &val, line, sizeof(line)) == 0);
	memset(&key2, 0, sizeof(key2));
	memset(&val2, 0, sizeof(val2));
	FUZZ_CHECK(spw_report_parse(line, strlen(line), &key2, &val2, err, sizeof(err)) == 0);
	FUZZ_CHECK(!memcmp(&key, &key2, sizeof(key)));
	val2.updated_ns = val.updated_ns;
	FUZZ_CHECK(!memcmp(&val, &val2, sizeof(val)));
	free(buf);
	return 0;
}
