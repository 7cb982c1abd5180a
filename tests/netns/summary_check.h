/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The end-to-end tests' checks on a scenario's summary: each condition printed, met or not,
 * so one run shows every figure; the test fails at the end on the count.
 */
#ifndef SPW_TESTS_SUMMARY_CHECK_H
#define SPW_TESTS_SUMMARY_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Prints "WHO: ok:" or "WHO: FAIL:" and the condition; returns 1 when it failed. */
static inline __attribute__((format(printf, 3, 4))) int spw_summary_check(const char *who, bool ok,
									  const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s ", who, ok ? "ok:  " : "FAIL:");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return !ok;
}

#endif
