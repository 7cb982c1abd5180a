// SPDX-License-Identifier: GPL-2.0-only
/*
 * Advice on a config that loaded (spw_config.h): settings that are valid but do not behave as
 * an operator reading them would expect. Not errors, so the file still applies; `spillway
 * config check` prints them and spillwayd logs them at start and on every reload.
 */
#include <stdio.h>
#include "spw_config.h"
#include "spw_signal.h"

int spw_config_advise(const struct spw_config *c, spw_advice_fn say, void *ctx)
{
	char line[SPW_ERR_MAX];
	int n = 0, i, j;

	for (i = 0; i < c->nservices; i++) {
		const struct spw_config_service *s = &c->services[i];

		for (j = 0; j < s->nsignals; j++) {
			const struct spw_signal *sig = &s->signals[j];

			/* A fill at 1 is saturated, a clear overload whatever its target: with a
			 * target of 1 or more it is never over target before it is full, so the
			 * law only ever sees "full" or "fine" and holds the service at the edge. */
			if (!spw_signal_is_fill(sig->kind) || !(sig->target >= 1.0))
				continue;
			snprintf(
			    line, sizeof(line),
			    "%.256s: service %s: %s%s%s target %.3g: a fill cannot pass 1 before "
			    "it is full, so spillway acts only once it is full; a target such "
			    "as 0.85 leaves it room to shed before the queue forms",
			    c->path, s->name, spw_signal_kind_name(sig->kind),
			    sig->source[0] ? " " : "", sig->source, sig->target);
			say(ctx, line);
			n++;
		}
	}
	return n;
}
