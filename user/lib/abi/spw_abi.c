// SPDX-License-Identifier: GPL-2.0-only
/* The pure helpers over the ABI (spw_types.h): reason names, defaults, keys, the clock. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "spw_types.h"

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

void spw_policy_init(struct spw_policy *p, uint8_t tier_count, uint8_t default_tier)
{
	memset(p, 0, sizeof(*p));
	p->admit_level = SPW_RANK_LIMIT;
	p->floor_level = SPW_COHORTS;
	p->tier_count = tier_count;
	p->default_tier = default_tier;
}

int spw_report_key_make(struct spw_report_key *key, enum spw_report_kind kind, const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= SPW_REPORT_NAME_MAX ||
	    (kind != SPW_REPORT_POOL && kind != SPW_REPORT_QUEUE))
		return -EINVAL;
	/* Zeroed whole: hash keys compare every byte, padding included. */
	memset(key, 0, sizeof(*key));
	key->kind = kind;
	memcpy(key->name, name, len);
	return 0;
}
