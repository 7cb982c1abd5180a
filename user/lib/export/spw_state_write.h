/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The writer side of the shed-state file (include/spillway_state.h): creating it so no reader
 * ever sees a half-initialised file, and publishing a whole new state under the seqlock.
 * Shared by spillwayd (user/spillwayd/state_file.c) and the client library's tests, so the
 * tests exercise the daemon's own writer. No BPF calls.
 */
#ifndef SPW_STATE_WRITE_H
#define SPW_STATE_WRITE_H

#include <stdint.h>
#include "spillway_state.h"

/*
 * Creates DIR/state as a new file (mode 0644, sizeof(struct spw_state_file), header filled,
 * seq 0, nothing published yet) through a temp file renamed over the old one, and maps it
 * shared read-write. Always a new inode: readers still mapping an old file keep a valid
 * mapping (truncating the old file in place would SIGBUS them) and notice the change by its
 * age. Creates DIR (0755) when missing. 0 or -errno.
 */
int spw_state_file_create(const char *dir, struct spw_state_file **map);
void spw_state_file_unmap(struct spw_state_file *map);

/*
 * Publishes src's body (everything but magic, version and seq) into map under the seqlock:
 * seq odd, copy, seq even. One writer only (the daemon's loop thread).
 */
void spw_state_write(struct spw_state_file *map, const struct spw_state_file *src);

/*
 * Share of a tier's SPW_COHORTS cohorts that a new flow is admitted to, in thousandths:
 * a rank tier * 32 + cohort is admitted iff it is below max(level, floor).
 */
uint16_t spw_state_admitted_permille(uint32_t level, uint32_t floor, uint32_t tier);

#endif /* SPW_STATE_WRITE_H */
