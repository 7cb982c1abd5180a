/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * App reports: one line per datagram on the report socket (or `spillway report`, or the C
 * client library), parsed strictly here (pure, no I/O):
 *
 *   pool NAME in_use=N capacity=N [waiting=N] [wait_ms=N]
 *   queue NAME depth=N [limit=N] [age_ms=N]
 *
 * A bad line is refused with a reason and changes nothing: never a crash, never a guess.
 */
#ifndef SPW_REPORT_H
#define SPW_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "spillway_abi.h"

/* Longest report line accepted (one datagram). */
#define SPW_REPORT_LINE_MAX 512

/* Parses one line (a trailing "\n" is allowed, nothing else after it). 0 or -EINVAL with err. */
int spw_report_parse(const char *line, size_t len, struct spw_report_key *key,
		     struct spw_report *val, char *err, size_t errlen);

/* Formats a report back into its line ("pool db in_use=3 capacity=10 ..."), for the CLI. */
int spw_report_format(const struct spw_report_key *key, const struct spw_report *val, char *buf,
		      size_t len);

#endif /* SPW_REPORT_H */
