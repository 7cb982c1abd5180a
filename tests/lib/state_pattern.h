/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shed states numbered by one counter k, for tests of the state file's readers (the C, Python
 * and Go clients): every field a reader sees names k, so a read that mixes two publishes (a
 * torn read) is an impossible combination.
 *
 * State k: service "web" sits at index k % 5 among fillers (so its lookup races with names
 * moving), level k % 97 (0..96, floor 0), pressure 7k milli, Retry-After [k, k + 10] s,
 * SPW_STATE_PATTERN_TIERS tiers with their admitted share from the level, a lease 10 ticks past
 * updated_ns, 1 s ticks. Long ticks because a state "published now" must still be fresh (3 ticks)
 * when a loaded machine deschedules the test between its publish and its read: with 100 ms
 * ticks that happened (a Go client test read a stale state 300 ms after the publish).
 */
#ifndef SPW_TEST_STATE_PATTERN_H
#define SPW_TEST_STATE_PATTERN_H

#include <stdint.h>
#include "spillway_state.h"

/* Tiers of the test service: ranks 0..95, full admission at 96. */
#define SPW_STATE_PATTERN_TIERS	  3
#define SPW_STATE_PATTERN_CEILING (SPW_STATE_PATTERN_TIERS * SPW_COHORTS)
#define SPW_STATE_PATTERN_TICK_MS 1000

/* Fills b (zeroed first) with state k, published at updated_ns, flags added to each service. */
void spw_state_pattern(struct spw_state_file *b, uint32_t k, uint64_t updated_ns, uint8_t flags);
/* The level of state k. */
uint32_t spw_state_pattern_level(uint32_t k);

#endif /* SPW_TEST_STATE_PATTERN_H */
