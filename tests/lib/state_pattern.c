// SPDX-License-Identifier: GPL-2.0-only
/* Shed states numbered by one counter (state_pattern.h). */
#include <stdio.h>
#include <string.h>
#include "state_pattern.h"
#include "spw_state_write.h"

/* Services before "web" at most; it moves among them with k. */
#define FILLERS 5

uint32_t spw_state_pattern_level(uint32_t k)
{
	return k % (SPW_STATE_PATTERN_CEILING + 1);
}

void spw_state_pattern(struct spw_state_file *b, uint32_t k, uint64_t updated_ns, uint8_t flags)
{
	uint32_t idx = k % FILLERS, i, t;
	struct spw_state_service *s;

	memset(b, 0, sizeof(*b));
	b->nservices = idx + 2;
	for (i = 0; i < b->nservices; i++) {
		s = &b->services[i];
		snprintf(s->name, sizeof(s->name), i == idx ? "web" : "filler%u", i);
		s->id = i + 1;
		s->level = (uint16_t)spw_state_pattern_level(k);
		s->floor = 0;
		s->ceiling = SPW_STATE_PATTERN_CEILING;
		s->tier_count = SPW_STATE_PATTERN_TIERS;
		s->flags = flags | (s->level < SPW_STATE_PATTERN_CEILING ? SPW_STATE_SHEDDING : 0);
		s->pressure_milli = 7 * (int64_t)k;
		s->retry_after_lo_s = k;
		s->retry_after_hi_s = k + 10;
		for (t = 0; t < SPW_STATE_PATTERN_TIERS; t++)
			s->admitted_permille[t] = spw_state_admitted_permille(s->level, 0, t);
		s->lease_expires_ns = updated_ns + 10ULL * SPW_STATE_PATTERN_TICK_MS * 1000000ULL;
	}
	b->tick_ms = SPW_STATE_PATTERN_TICK_MS;
	b->ntiers = SPW_STATE_PATTERN_TIERS;
	b->daemon_pid = k;
	b->updated_ns = updated_ns;
}
