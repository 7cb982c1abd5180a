/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The assertions of the cmocka tests: a false condition fails the running test with the
 * condition's text and a message, "failed: <cond>\n    <message>".
 *
 * CHECK(cond, fmt, ...) and CHECK_OK(call), for a call that returns 0 or a negative errno (its
 * failure names the call and strerror), serve a test that runs each case once. A test that runs
 * its cases in several modes names the mode first: it defines its own CHECK(ctx, cond, fmt, ...)
 * and CHECK_OK(ctx, call) on SPW_CHECK_IN and SPW_CHECK_OK_IN before it includes this header,
 * which then leaves them alone.
 */
#ifndef SPW_TEST_CHECK_H
#define SPW_TEST_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/*
 * Fails unless cond, with where_fmt (a string literal) first: the arguments are where_fmt's,
 * then fmt's. cond_text is the condition's text as a string literal (#cond in the caller, so
 * macros in it read as written); it becomes part of the format, so a '%' in it fails the build
 * under -Wformat rather than printing garbage.
 */
#define SPW_CHECK_IN(cond, cond_text, where_fmt, fmt, ...)                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg(where_fmt "failed: " cond_text "\n    " fmt, ##__VA_ARGS__);      \
	} while (0)

/* Fails unless call returns 0, naming call_text and strerror of what it returned. */
#define SPW_CHECK_OK_IN(call, call_text, where_fmt, ...)                                           \
	do {                                                                                       \
		int err_ = (call);                                                                 \
		SPW_CHECK_IN(err_ == 0, "err_ == 0", where_fmt, "%s: %s", ##__VA_ARGS__,           \
			     call_text, strerror(-err_));                                          \
	} while (0)

#ifndef CHECK
#define CHECK(cond, fmt, ...) SPW_CHECK_IN(cond, #cond, "", fmt, ##__VA_ARGS__)
#define CHECK_OK(call)	      SPW_CHECK_OK_IN(call, #call, "")
#endif

#endif /* SPW_TEST_CHECK_H */
