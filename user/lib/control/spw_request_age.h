/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Outstanding requests of a service from the data plane's start-time ring (spw_req_ages):
 * how many, and how long the oldest has waited (pure, no BPF calls).
 */
#ifndef SPW_REQUEST_AGE_H
#define SPW_REQUEST_AGE_H

#include <stdint.h>

struct spw_request_ages {
	uint64_t outstanding; /* requests awaiting their response, all tiers */
	double oldest_ms;     /* age of the oldest of them; 0 when there is none */
};

/*
 * Reads a service's ring (SPW_REQ_SLOTS counters, spillway_abi.h) at now_us (CLOCK_MONOTONIC
 * in microseconds, truncated to 32 bits as the data plane stamps). The age is measured from
 * the start of the oldest non-empty slot, so it reads at most one slot (8.192 ms) high and
 * never low: a request is never younger than reported.
 */
void spw_request_ages_read(const uint64_t *slots, uint32_t now_us, struct spw_request_ages *out);

#endif /* SPW_REQUEST_AGE_H */
