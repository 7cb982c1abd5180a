// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libspillway-client: what a server tells a client it refuses (include/spillway_client.h,
 * part 4): retries are shed before first tries, and no retry is asked for that cannot come
 * in time.
 */
#include <errno.h>
#include <string.h>
#include "spw_client_priv.h"

SPW_API int spw_client_retry_hint(const struct spw_shed_state *st, unsigned int attempt,
				  uint64_t deadline_ms, struct spw_retry_hint *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!st || st->admitted_permille > 1000)
		return -EINVAL;
	/* st->shed is false when stale, dry-run, unknown, or the tier is fully admitted. */
	if (!st->shed)
		return 0;
	if (st->admitted_permille > 0 && !attempt) {
		/* A first try gets the share of the tier the data plane admits new flows to. */
		if (spw_client_draw(0, 999) < st->admitted_permille)
			return 0;
	}
	out->refuse = true;
	if (deadline_ms && (uint64_t)st->retry_lo_s * 1000 >= deadline_ms) {
		out->dont_retry = true;
		return 0;
	}
	out->retry_after_s = st->retry_after_s ? st->retry_after_s : 1;
	return 0;
}
