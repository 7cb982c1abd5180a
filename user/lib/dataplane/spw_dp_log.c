// SPDX-License-Identifier: GPL-2.0-only
/* libbpf's messages routed into the one logger (spw_log.h), one level lower. */
#include <stdarg.h>
#include <bpf/libbpf.h>
#include "spw_dataplane.h"
#include "spw_log.h"

__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	enum spw_log_level ours;

	switch (level) {
	case LIBBPF_WARN:
		ours = SPW_LOG_INFO;
		break;
	case LIBBPF_INFO:
		ours = SPW_LOG_DEBUG;
		break;
	default:
		ours = SPW_LOG_VERBOSE;
		break;
	}
	spw_vlog(ours, fmt, ap);
	return 0;
}

void spw_log_install_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
