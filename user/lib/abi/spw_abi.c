// SPDX-License-Identifier: GPL-2.0-only
/* The pure helpers over the ABI (spw_types.h): reason names, defaults, keys, the clock. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "spillway_maps.h"
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

bool spw_reason_refuses(unsigned int reason)
{
	switch (reason) {
	case SPW_REASON_SHED_LEVEL:
	case SPW_REASON_SHED_CAP:
	case SPW_REASON_SHED_RATE:
	case SPW_REASON_SHED_RESERVE:
	case SPW_REASON_REJECT_FAILED:
		return true;
	default:
		return false;
	}
}

/* bpf_ktime_get_ns() is CLOCK_MONOTONIC: leases and bucket stamps are on this clock. */
uint64_t spw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The stamp after prev (0: none yet in this process) at now_us: now_us, or prev + 1 when
 * now_us is not ahead of prev (wrap-aware); never 0 ("no policy") nor 1 (what writers before
 * stamps always wrote, so a record of theirs is never taken for one of ours). Stamps of one
 * process differ from each other within any 2^31 us (about 36 minutes); a value can come
 * back after the 32-bit microsecond clock wraps (71.6 minutes). A per-CPU copy holding that
 * very value from that long ago would then be used until the service's next write, one tick
 * later: the daemon writes every service every tick. A restarted writer starts at the clock.
 */
uint32_t spw_policy_stamp_after(uint32_t prev, uint32_t now_us)
{
	uint32_t next = now_us;

	if (prev && (int32_t)(next - prev) <= 0)
		next = prev + 1;
	return next > 1 ? next : 2;
}

uint32_t spw_policy_stamp_next(void)
{
	static _Atomic uint32_t last;
	uint32_t prev = atomic_load(&last), next;

	do
		next = spw_policy_stamp_after(prev, (uint32_t)(spw_now_ns() / 1000));
	while (!atomic_compare_exchange_weak(&last, &prev, next));
	return next;
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

static const char *const attach_mode_names[SPW_ATTACH_MODE_COUNT] = {
#define SPW_ATTACH_MODE_NAME(id, name) [SPW_ATTACH_##id] = name,
    SPW_ATTACH_MODES(SPW_ATTACH_MODE_NAME)
#undef SPW_ATTACH_MODE_NAME
};

const char *spw_attach_mode_name(unsigned int mode)
{
	return mode < SPW_ATTACH_MODE_COUNT ? attach_mode_names[mode] : "?";
}

/* The index of name in names[n], -EINVAL when it is none of them. */
static int name_index(const char *const *names, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -EINVAL;
}

int spw_attach_mode_parse(const char *name, enum spw_attach_mode *mode)
{
	int i = name_index(attach_mode_names, SPW_ATTACH_MODE_COUNT, name);

	if (i < 0)
		return i;
	*mode = (enum spw_attach_mode)i;
	return 0;
}

static const char *const xdp_dispatcher_names[SPW_XDP_DISPATCHER_COUNT] = {
#define SPW_XDP_DISPATCHER_NAME(id, name) [SPW_XDP_VIA_##id] = name,
    SPW_XDP_DISPATCHERS(SPW_XDP_DISPATCHER_NAME)
#undef SPW_XDP_DISPATCHER_NAME
};

const char *spw_xdp_dispatcher_name(unsigned int via)
{
	return via < SPW_XDP_DISPATCHER_COUNT ? xdp_dispatcher_names[via] : "?";
}

int spw_xdp_dispatcher_parse(const char *name, enum spw_xdp_dispatcher *via)
{
	int i = name_index(xdp_dispatcher_names, SPW_XDP_DISPATCHER_COUNT, name);

	if (i < 0)
		return i;
	*via = (enum spw_xdp_dispatcher)i;
	return 0;
}

void spw_attach_modes_text(char *buf, size_t len)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < SPW_ATTACH_MODE_COUNT && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 !i				 ? ""
					 : i + 1 < SPW_ATTACH_MODE_COUNT ? ", "
									 : " or ",
					 attach_mode_names[i]);
}

static const struct {
	const char *name;
	uint32_t key_size, value_size;
} map_layouts[] = {
#define SPW_MAP_LAYOUT(name, type, max, flags, key, value)                                         \
	{SPW_MAP_NAME(name), sizeof(key), sizeof(value)},
    SPW_MAPS(SPW_MAP_LAYOUT)
#undef SPW_MAP_LAYOUT
};

int spw_map_layout_check(const char *name, uint32_t key_size, uint32_t value_size)
{
	size_t i;

	for (i = 0; i < sizeof(map_layouts) / sizeof(map_layouts[0]); i++) {
		if (strcmp(name, map_layouts[i].name))
			continue;
		return key_size == map_layouts[i].key_size &&
			       value_size == map_layouts[i].value_size
			   ? 0
			   : -EPROTO;
	}
	return -ENOENT;
}
