// SPDX-License-Identifier: GPL-2.0-only
/* Reason names, expanded from the one list in the ABI, and the data plane's clock. */
#include <time.h>
#include "spw_dataplane.h"

static const char *const reason_names[SPW_REASON_COUNT] = {
#define SPW_REASON_NAME(name, str) [SPW_REASON_##name] = str,
	SPW_REASONS(SPW_REASON_NAME)
#undef SPW_REASON_NAME
};

_Static_assert(SPW_REASON_COUNT <= SPW_REASON_SLOTS, "more reasons than counter slots");

const char *spw_reason_name(unsigned int reason)
{
	return reason < SPW_REASON_COUNT ? reason_names[reason] : NULL;
}

/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: leases and bucket stamps are on this clock. */
uint64_t spw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
