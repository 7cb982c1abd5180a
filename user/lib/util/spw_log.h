/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The project's one logger: every user-space message goes through pr_warn/pr_info/pr_debug,
 * so one flag decides how chatty the daemon, the CLI and the tests are, and libbpf's own output
 * lands in the same stream instead of beside it.
 */
#ifndef SPW_LOG_H
#define SPW_LOG_H

#include <stdarg.h>
#include <stdio.h>

/* Ordered: a message is printed when its level is at or below the current one. */
enum spw_log_level {
	SPW_LOG_WARN = 0, /* something failed or was refused: always shown */
	SPW_LOG_INFO,	  /* what the program did: shown by default */
	SPW_LOG_DEBUG,	  /* details for a developer (-v) */
	SPW_LOG_VERBOSE,  /* libbpf's debug output too (-vv): very long (verifier logs) */
};

/* The default is SPW_LOG_INFO. Levels past SPW_LOG_VERBOSE are clamped to it. */
void spw_log_set_level(enum spw_log_level level);
enum spw_log_level spw_log_get_level(void);

/*
 * Where messages go; NULL restores stderr (the default). Tests capture output with this; the
 * programs never need it.
 */
void spw_log_set_stream(FILE *stream);

/*
 * Prints "LEVEL: message" when level is enabled. As in the kernel, fmt carries its own "\n"
 * (libbpf's messages already do). Keeps errno as it was.
 */
void spw_log(enum spw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void spw_vlog(enum spw_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define pr_warn(fmt, ...)  spw_log(SPW_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  spw_log(SPW_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) spw_log(SPW_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif /* SPW_LOG_H */
