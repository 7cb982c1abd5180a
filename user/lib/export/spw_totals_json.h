/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A tier's new-flow totals as JSON, the same fields for `spillway status --json` and the
 * daemon's /v1/state: counters since the maps were created, as /metrics counts them.
 */
#ifndef SPW_TOTALS_JSON_H
#define SPW_TOTALS_JSON_H

#include <stdint.h>
#include <jansson.h>
#include "spillway_abi.h"

/*
 * Sets admitted_total, shed_total (every refusing reason), would_shed_total, fail_open_total
 * and decisions_total (an object: reason name -> count) on tier from packets[reason].
 */
void spw_totals_json(json_t *tier, const uint64_t packets[SPW_REASON_COUNT]);

#endif /* SPW_TOTALS_JSON_H */
