// SPDX-License-Identifier: GPL-2.0-only
/*
 * Advice on a config that loaded (spw_config.h): settings that are valid but do not behave as
 * an operator reading them would expect. Not errors, so the file still applies; `spillway
 * config check` prints them and spillwayd logs them at start and on every reload.
 */
#include <stdio.h>
#include "spw_config.h"
#include "spw_signal.h"

/*
 * Signals whose value cannot pass 1 (a fill fraction). The control law sheds at once only on
 * a reading at or above 1 + hysteresis times the target; below that it waits for confirm_ticks
 * readings. A target above 1 / (1 + hysteresis) puts even a full pool under that line, so a
 * saturated pool is treated as a slight excess and the first cut comes 5 readings late.
 */
static bool bounded_fraction(enum spw_signal_kind kind)
{
	return kind == SPW_SIG_POOL || kind == SPW_SIG_QUEUE || kind == SPW_SIG_ACCEPT_QUEUE;
}

int spw_config_advise(const struct spw_config *c, spw_advice_fn say, void *ctx)
{
	double h = c->controller.hysteresis, full_line = 1.0 / (1.0 + h);
	char line[SPW_ERR_MAX];
	int n = 0, i, j;

	for (i = 0; i < c->nservices; i++) {
		const struct spw_config_service *s = &c->services[i];

		for (j = 0; j < s->nsignals; j++) {
			const struct spw_signal *sig = &s->signals[j];

			if (!bounded_fraction(sig->kind) || !(sig->target > full_line))
				continue;
			snprintf(
			    line, sizeof(line),
			    "%.256s: service %s: %s%s%s target %.3g is above 1 / (1 + "
			    "hysteresis) = %.3g: when full it reads only %.3g times the target, "
			    "a slight excess, so the first cut waits for several readings "
			    "instead of coming at once",
			    c->path, s->name, spw_signal_kind_name(sig->kind),
			    sig->source[0] ? " " : "", sig->source, sig->target, full_line,
			    1.0 / sig->target);
			say(ctx, line);
			n++;
		}
	}
	return n;
}
