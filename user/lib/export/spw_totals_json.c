// SPDX-License-Identifier: GPL-2.0-only
/* A tier's totals as JSON (spw_totals_json.h). */
#include "spw_totals_json.h"
#include "spw_types.h"

void spw_totals_json(json_t *tier, const uint64_t packets[SPW_REASON_COUNT])
{
	json_t *by_reason = json_object();
	uint64_t shed = 0;
	unsigned int r;

	for (r = 0; r < SPW_REASON_COUNT; r++) {
		json_object_set_new(by_reason, spw_reason_name(r),
				    json_integer((json_int_t)packets[r]));
		if (spw_reason_refuses(r))
			shed += packets[r];
	}
	json_object_set_new(tier, "admitted_total",
			    json_integer((json_int_t)packets[SPW_REASON_ADMITTED]));
	json_object_set_new(tier, "shed_total", json_integer((json_int_t)shed));
	json_object_set_new(tier, "would_shed_total",
			    json_integer((json_int_t)packets[SPW_REASON_WOULD_SHED]));
	json_object_set_new(tier, "fail_open_total",
			    json_integer((json_int_t)packets[SPW_REASON_FAIL_OPEN]));
	json_object_set_new(tier, "decisions_total", by_reason);
}
