// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shed-state file (include/spillway_state.h): every tick the daemon publishes what it
 * decided for each service, so apps answer 429/503 themselves on keep-alive connections XDP
 * cannot shed, and the CLI shows status without a round trip to the daemon.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include "spwd.h"
#include "spw_log.h"
#include "spw_state_write.h"

int spwd_state_open(struct spwd *d)
{
	int err;

	struct stat st;

	d->state_buf = calloc(1, sizeof(*d->state_buf));
	if (!d->state_buf)
		return -ENOMEM;
	/* Published so that `spillway detach --all` run elsewhere knows it is elsewhere. */
	if (!stat("/proc/self/ns/net", &st))
		d->netns_ino = (uint32_t)st.st_ino;
	err = spw_state_file_create(d->cfg->state_dir, &d->state);
	if (err) {
		pr_warn("cannot create the shed-state file in %s: %s\n", d->cfg->state_dir,
			strerror(-err));
		free(d->state_buf);
		d->state_buf = NULL;
		return err;
	}
	pr_info("publishing the shed state in %s/%s\n", d->cfg->state_dir, SPW_STATE_FILE);
	return 0;
}

void spwd_state_close(struct spwd *d)
{
	/* The file stays: readers see it age and fail open; a restart replaces it. */
	spw_state_file_unmap(d->state);
	d->state = NULL;
	free(d->state_buf);
	d->state_buf = NULL;
}

/* Thousandths of a measurement; "no value" for what is not a number we can show. */
static int64_t milli(double v)
{
	if (!isfinite(v) || fabs(v) > 9e15)
		return SPW_STATE_NO_VALUE;
	return llround(v * 1000.0);
}

static void fill_service(struct spwd *d, const struct spwd_service *s, struct spw_state_service *o,
			 uint64_t tick_ns)
{
	const struct spw_config_service *c = s->cfg;
	uint32_t t, i;

	snprintf(o->name, sizeof(o->name), "%s", c->name);
	o->id = c->id;
	o->level = (uint16_t)s->level;
	o->floor = (uint16_t)s->law_params.floor;
	o->ceiling = (uint16_t)s->law_params.ceiling;
	o->tier_count = (uint8_t)d->cfg->ntiers;
	o->flags = (s->level < s->law_params.ceiling ? SPW_STATE_SHEDDING : 0) |
		   (s->overridden ? SPW_STATE_OVERRIDDEN : 0) |
		   (s->dry_run ? SPW_STATE_DRY_RUN : 0);
	o->pressure_milli = milli(s->pressure);
	o->retry_after_lo_s = s->retry_lo_s;
	o->retry_after_hi_s = s->retry_hi_s;
	o->skewed_tiers = 0;
	for (t = 0; t < (uint32_t)d->cfg->ntiers && t < SPW_MAX_TIERS; t++) {
		o->admitted_permille[t] =
		    spw_state_admitted_permille(s->level, s->law_params.floor, t);
		if (t < s->law.tiers && s->law.rank_skewed[t])
			o->skewed_tiers |= (uint8_t)(1U << t);
	}
	/* The lease write_policy() gave the data plane this tick. */
	o->lease_expires_ns = tick_ns + d->cfg->controller.lease_ns;
	o->nsignals = (uint32_t)c->nsignals;
	for (i = 0; i < o->nsignals && i < SPW_STATE_SIGNALS; i++) {
		const struct spw_signal *g = &s->signals[i];
		struct spw_state_signal *os = &o->signals[i];

		snprintf(os->kind, sizeof(os->kind), "%s", spw_signal_kind_name(g->kind));
		snprintf(os->source, sizeof(os->source), "%s", g->source);
		os->value_milli = g->updated_ns ? milli(g->value) : SPW_STATE_NO_VALUE;
		os->target_milli = milli(g->target);
		os->stale = g->stale;
	}
}

void spwd_state_publish(struct spwd *d)
{
	struct spw_state_file *b = d->state_buf;
	uint64_t tick_ns = d->snap.last_tick_ns; /* written by this thread only */
	int i;

	if (!d->state)
		return;
	memset(b, 0, sizeof(*b));
	for (i = 0; i < d->nsvcs && i < SPW_STATE_SERVICES; i++)
		fill_service(d, &d->svcs[i], &b->services[i], tick_ns);
	b->nservices = (uint32_t)i;
	b->daemon_pid = (uint32_t)getpid();
	b->tick_ms = (uint32_t)(d->cfg->controller.tick_ns / 1000000);
	b->ntiers = (uint32_t)d->cfg->ntiers;
	b->metrics_port = d->metrics_port;
	for (i = 0; i < d->cfg->ntiers && i < SPW_MAX_TIERS; i++)
		snprintf(b->tiers[i], sizeof(b->tiers[i]), "%s", d->cfg->tiers[i]);
	/* Resolved once per config (an ioctl each), as apply.c resolved them to attach. */
	if (d->ifindex_cfg != d->cfg) {
		for (i = 0; i < d->cfg->nifaces && i < SPW_MAX_IFACES; i++)
			d->ifindex[i] = if_nametoindex(d->cfg->ifaces[i].name);
		d->ifindex_cfg = d->cfg;
	}
	for (i = 0; i < d->cfg->nifaces && i < SPW_STATE_IFACES && i < SPW_MAX_IFACES; i++) {
		snprintf(b->ifaces[i].name, sizeof(b->ifaces[i].name), "%s",
			 d->cfg->ifaces[i].name);
		b->ifaces[i].mode = (uint8_t)d->cfg->ifaces[i].mode;
		b->ifaces[i].ifindex = d->ifindex[i];
	}
	b->nifaces = (uint32_t)i;
	b->netns_ino = d->netns_ino;
	/* Last: readers judge freshness by it, so it covers everything above. */
	b->updated_ns = spw_now_ns();
	spw_state_write(d->state, b);
}
