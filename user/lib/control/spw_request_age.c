// SPDX-License-Identifier: GPL-2.0-only
/*
 * The oldest outstanding request from the start-time ring (spw_request_age.h). Walks the
 * ring once from the slot after now's (the oldest start times it can hold) towards now's.
 */
#include "spillway_abi.h"
#include "spw_request_age.h"

void spw_request_ages_read(const uint64_t *slots, uint32_t now_us, struct spw_request_ages *out)
{
	uint32_t now_slot = now_us >> SPW_REQ_SLOT_SHIFT, back, slot;

	out->outstanding = 0;
	out->oldest_ms = 0;
	for (back = SPW_REQ_SLOTS; back-- > 0;) {
		slot = now_slot - back;
		if (!slots[slot & (SPW_REQ_SLOTS - 1)])
			continue;
		/* Unsigned: the slot's start may be before the 32-bit stamps wrapped. */
		if (!out->outstanding)
			out->oldest_ms =
			    (double)(uint32_t)(now_us - (slot << SPW_REQ_SLOT_SHIFT)) / 1000.0;
		out->outstanding += slots[slot & (SPW_REQ_SLOTS - 1)];
	}
}
