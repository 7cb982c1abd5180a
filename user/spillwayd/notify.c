// SPDX-License-Identifier: GPL-2.0-only
/*
 * The service manager's notification protocol (sd_notify(3), libsystemd): READY=1 once the
 * programs are attached and the first policy is written, WATCHDOG=1 from every tick (so a loop
 * that stops ticking is what the watchdog catches), STATUS= a one-line summary of what is shed,
 * RELOADING=1 around a reload and STOPPING=1 on the way out.
 *
 * Outside a Type=notify unit NOTIFY_SOCKET is unset: every call here is then one branch.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include "spwd.h"
#include "spw_log.h"
#include "spillway_rank.h"

/* systemctl status shows the line whole up to about a terminal's width; longer ones end "...". */
#define SPWD_STATUS_MAX 200
/* Room for READY=1, WATCHDOG=1 and the STATUS= line in one datagram. */
#define SPWD_NOTIFY_MAX (SPWD_STATUS_MAX + 64)

static struct {
	bool checked; /* the environment was read */
	bool on;      /* NOTIFY_SOCKET is set */
	bool ready;   /* READY=1 was sent (and not taken back by RELOADING=1) */
	bool failed;  /* a send failed: said once, not every tick */
	uint64_t watchdog_us;
	char status[SPWD_STATUS_MAX];
} nt;

/* Appends to buf at *off; past the end it stops and remembers that it was cut. */
static void put(char *buf, size_t len, size_t *off, bool *cut, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void put(char *buf, size_t len, size_t *off, bool *cut, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off) {
		*cut = true;
		buf[*off] = '\0';
		return;
	}
	*off += (size_t)n;
}

/*
 * "2 services on 1 interface; api sheds sheddable 100% standard 41%; web (dry run) would shed
 * sheddable 25%", or "...; admitting every tier". Pressure is left out on purpose: it changes
 * every tick, the shed shares only when the law steps, and the line is sent when it changes.
 */
static void status_line(const struct spwd *d, char *buf, size_t len)
{
	const struct spw_config *c = d->cfg;
	size_t off = 0;
	bool cut = false, any = false;
	int i, t;

	put(buf, len, &off, &cut, "%d service%s on %d interface%s", c->nservices,
	    c->nservices == 1 ? "" : "s", c->nifaces, c->nifaces == 1 ? "" : "s");
	for (i = 0; i < d->nsvcs; i++) {
		const struct spwd_service *s = &d->svcs[i];
		bool first = true;

		/* Tiers from the most sheddable up: the order in which they are shed. */
		for (t = c->ntiers - 1; t >= 0; t--) {
			uint32_t pct = spw_shed_percent(
			    spw_tier_shed_cohorts(s->level, s->law_params.floor, (uint32_t)t));

			if (!pct)
				continue;
			if (first)
				put(buf, len, &off, &cut, "; %s%s%s", s->cfg->name,
				    s->overridden ? " (override)" : "",
				    s->dry_run ? " (dry run) would shed" : " sheds");
			put(buf, len, &off, &cut, " %s %u%%", c->tiers[t], pct);
			first = false;
			any = true;
		}
	}
	if (!any)
		put(buf, len, &off, &cut, "; admitting every tier");
	if (cut && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

static void send_state(const char *msg)
{
	int ret = sd_notify(0, msg);

	if (ret < 0 && !nt.failed) {
		pr_warn("cannot notify the service manager: %s\n", strerror(-ret));
		nt.failed = true;
	} else if (ret > 0) {
		nt.failed = false;
	}
}

static void check_env(const struct spwd *d)
{
	uint64_t tick_us = d->cfg->controller.tick_ns / 1000;

	if (nt.checked)
		return;
	nt.checked = true;
	nt.on = getenv("NOTIFY_SOCKET") != NULL;
	if (sd_watchdog_enabled(0, &nt.watchdog_us) <= 0)
		nt.watchdog_us = 0;
	if (nt.watchdog_us && nt.watchdog_us < 2 * tick_us)
		pr_warn("the watchdog interval (%llu ms) is shorter than two ticks (%llu ms): "
			"raise WatchdogSec or shorten controller.tick\n",
			(unsigned long long)(nt.watchdog_us / 1000),
			(unsigned long long)(2 * tick_us / 1000));
}

/* One datagram: READY=1 when due, WATCHDOG=1 when watched, STATUS= when it changed or force. */
static void notify(const struct spwd *d, bool force_status)
{
	char status[SPWD_STATUS_MAX], msg[SPWD_NOTIFY_MAX];
	bool changed;

	check_env(d);
	if (!nt.on)
		return;
	status_line(d, status, sizeof(status));
	changed = force_status || !nt.ready || strcmp(status, nt.status);
	if (nt.ready && !nt.watchdog_us && !changed)
		return;
	snprintf(msg, sizeof(msg), "%s%s%s%s%s", nt.ready ? "" : "READY=1\n",
		 nt.watchdog_us ? "WATCHDOG=1\n" : "", changed ? "STATUS=" : "",
		 changed ? status : "", changed ? "\n" : "");
	send_state(msg);
	nt.ready = true;
	if (changed)
		memcpy(nt.status, status, sizeof(status));
}

void spwd_notify_tick(const struct spwd *d)
{
	notify(d, false);
}

void spwd_notify_reloading(const struct spwd *d)
{
	check_env(d);
	if (!nt.on)
		return;
	send_state("RELOADING=1\nSTATUS=reloading the config\n");
	nt.ready = false;
}

void spwd_notify_reloaded(const struct spwd *d)
{
	notify(d, true);
}

void spwd_notify_stopping(const struct spwd *d)
{
	check_env(d);
	if (nt.on)
		send_state("STOPPING=1\nSTATUS=stopping; programs stay attached until the lease "
			   "expires\n");
}
