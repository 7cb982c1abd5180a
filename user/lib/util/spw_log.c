// SPDX-License-Identifier: GPL-2.0-only
/* The one logger (spw_log.h). Modelled on xdp-tools lib/util/logging.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include "spw_log.h"

/*
 * Read with relaxed atomics: the HTTP exporter logs from its own thread while the event loop
 * may change the level (SIGHUP reload), and a torn or stale read of one int is harmless but
 * still a data race without them.
 */
static int log_level = SPW_LOG_INFO;
static FILE *log_stream; /* NULL means stderr, which is not a constant initialiser */

static const char *const level_prefix[] = {
    [SPW_LOG_WARN] = "warning",
    [SPW_LOG_INFO] = "info",
    [SPW_LOG_DEBUG] = "debug",
    [SPW_LOG_VERBOSE] = "debug",
};

void spw_log_set_level(enum spw_log_level level)
{
	if ((int)level < SPW_LOG_WARN)
		level = SPW_LOG_WARN;
	if (level > SPW_LOG_VERBOSE)
		level = SPW_LOG_VERBOSE;
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum spw_log_level spw_log_get_level(void)
{
	return (enum spw_log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void spw_log_set_stream(FILE *stream)
{
	__atomic_store_n(&log_stream, stream, __ATOMIC_RELAXED);
}

void spw_vlog(enum spw_log_level level, const char *fmt, va_list ap)
{
	int saved_errno = errno; /* callers log before they return -errno */
	FILE *out;

	if ((int)level < SPW_LOG_WARN || (int)level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	out = __atomic_load_n(&log_stream, __ATOMIC_RELAXED);
	if (!out)
		out = stderr;
	/* One lock around prefix and message, so lines of two threads do not interleave. */
	flockfile(out);
	fprintf(out, "%s: ", level_prefix[level]);
	vfprintf(out, fmt, ap);
	funlockfile(out);
	errno = saved_errno;
}

void spw_log(enum spw_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	spw_vlog(level, fmt, ap);
	va_end(ap);
}
