// SPDX-License-Identifier: GPL-2.0-only
/* libbpf's and libxdp's messages routed into the one logger (spw_log.h), one level lower. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "spw_dataplane.h"
#include "spw_log.h"

/*
 * Netlink's explanations (extack) of errors the TC attach and detach expect and handle; libbpf
 * prints each as a warning. "Exclusivity flag on": bpf_tc_hook_create() asks for a new clsact
 * qdisc and one is there already (spillway's from an earlier start, or another program's),
 * which is then used. "Parent Qdisc doesn't exists": bpf_tc_detach() on an interface without
 * clsact, where there is nothing to remove. Read as errors at every start and detach, they
 * are not: they go to debug.
 */
static const char *const expected_extack[] = {
    "Exclusivity flag on, cannot modify",
    "Parent Qdisc doesn't exists",
};

static bool is_expected(const char *msg)
{
	size_t i;

	if (!strstr(msg, "Kernel error message: "))
		return false;
	for (i = 0; i < sizeof(expected_extack) / sizeof(expected_extack[0]); i++)
		if (strstr(msg, expected_extack[i]))
			return true;
	return false;
}

__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	enum spw_log_level ours;
	char msg[512];
	va_list copy;

	switch (level) {
	case LIBBPF_WARN:
		/* Formatted first, to tell the expected netlink complaints apart. */
		va_copy(copy, ap);
		vsnprintf(msg, sizeof(msg), fmt, copy);
		va_end(copy);
		ours = is_expected(msg) ? SPW_LOG_DEBUG : SPW_LOG_INFO;
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

/* libxdp's levels are libbpf's (its header says so): the same routing. */
__attribute__((format(printf, 2, 0))) static int libxdp_print(enum libxdp_print_level level,
							      const char *fmt, va_list ap)
{
	return libbpf_print((enum libbpf_print_level)level, fmt, ap);
}

void spw_log_install_libbpf(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
