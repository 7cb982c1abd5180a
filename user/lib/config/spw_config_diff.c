// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a reload from one config to another would change, in lines an operator reads
 * (`spillway config diff FILE`, `spillway reload --dry-run`). Services are matched by name (a
 * reload keeps a service's id and control state by name), rules by prefix, interfaces by
 * name. Pure: no BPF calls.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "spw_config.h"
#include "spw_strnum.h"

/* Rule lines printed one by one; past that, counts only (100k rules change at once). */
#define DIFF_RULE_LINES 50

struct diff {
	spw_diff_fn say;
	void *ctx;
	int n;
};

__attribute__((format(printf, 2, 3))) static void say(struct diff *df, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	df->n++;
	df->say(df->ctx, line);
}

static const char *tier_name(const struct spw_config *c, unsigned int t)
{
	return t < (unsigned int)c->ntiers ? c->tiers[t] : "?";
}

static const char *action_name(uint8_t a)
{
	return a == SPW_ACTION_REJECT ? "reject" : "drop";
}

static void match_text(const struct spw_service_match *m, char *buf, size_t len)
{
	char addr[SPW_CIDR_STRLEN] = "";

	if (m->has_addr)
		spw_addr_format(m->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s%s%s/%u", addr, m->has_addr ? " " : "",
		 m->proto == IPPROTO_UDP ? "udp" : "tcp", m->port);
}

static void diff_duration(struct diff *df, const char *what, uint64_t a, uint64_t b)
{
	char x[SPW_DURATION_STRLEN], y[SPW_DURATION_STRLEN];

	if (a == b)
		return;
	spw_format_duration(a, x, sizeof(x));
	spw_format_duration(b, y, sizeof(y));
	say(df, "controller.%s: %s -> %s", what, x, y);
}

static void diff_tiers(struct diff *df, const struct spw_config *a, const struct spw_config *b)
{
	char x[256] = "", y[256] = "";
	int i;

	for (i = 0; i < a->ntiers; i++)
		snprintf(x + strlen(x), sizeof(x) - strlen(x), "%s%s", i ? ", " : "", a->tiers[i]);
	for (i = 0; i < b->ntiers; i++)
		snprintf(y + strlen(y), sizeof(y) - strlen(y), "%s%s", i ? ", " : "", b->tiers[i]);
	if (strcmp(x, y))
		say(df, "tiers: [%s] -> [%s]", x, y);
}

static const struct spw_config_service *service_named(const struct spw_config *c, const char *name)
{
	int i;

	for (i = 0; i < c->nservices; i++)
		if (!strcmp(c->services[i].name, name))
			return &c->services[i];
	return NULL;
}

/* Per-tier numbers (caps, rates), by tier name: tiers may be renamed or renumbered. */
static void diff_per_tier(struct diff *df, const char *svc, const char *what,
			  const struct spw_config *ca, const uint32_t *a,
			  const struct spw_config *cb, const uint32_t *b)
{
	int t, u;

	for (t = 0; t < cb->ntiers; t++) {
		u = spw_config_tier(ca, cb->tiers[t]);
		if (u < 0 || a[u] == b[t])
			continue;
		say(df, "service %s: %s %s: %" PRIu32 " -> %" PRIu32 "%s", svc, what, cb->tiers[t],
		    a[u], b[t], b[t] ? "" : " (none)");
	}
}

static const struct spw_signal *signal_like(const struct spw_config_service *s,
					    const struct spw_signal *g)
{
	int i;

	for (i = 0; i < s->nsignals; i++)
		if (s->signals[i].kind == g->kind && !strcmp(s->signals[i].source, g->source))
			return &s->signals[i];
	return NULL;
}

static void signal_text(const struct spw_signal *g, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", spw_signal_kind_name(g->kind), g->source[0] ? " " : "",
		 g->source);
}

/* A target as the file spells it: a number, or `learn`. */
static void target_text(const struct spw_signal *g, char *buf, size_t len)
{
	if (g->learn)
		snprintf(buf, len, "learn");
	else
		snprintf(buf, len, "%g", g->target);
}

static void diff_signals(struct diff *df, const struct spw_config_service *a,
			 const struct spw_config_service *b)
{
	const struct spw_signal *o;
	char name[96], was[32], now[32];
	int i;

	for (i = 0; i < b->nsignals; i++) {
		signal_text(&b->signals[i], name, sizeof(name));
		target_text(&b->signals[i], now, sizeof(now));
		o = signal_like(a, &b->signals[i]);
		if (!o) {
			say(df, "service %s: signal %s added (target %s)", b->name, name, now);
			continue;
		}
		target_text(o, was, sizeof(was));
		if (strcmp(was, now))
			say(df, "service %s: signal %s target %s -> %s", b->name, name, was, now);
	}
	for (i = 0; i < a->nsignals; i++) {
		if (signal_like(b, &a->signals[i]))
			continue;
		signal_text(&a->signals[i], name, sizeof(name));
		say(df, "service %s: signal %s removed", b->name, name);
	}
}

static void diff_service(struct diff *df, const struct spw_config *ca,
			 const struct spw_config_service *a, const struct spw_config *cb,
			 const struct spw_config_service *b)
{
	char x[SPW_CIDR_STRLEN + 16], y[SPW_CIDR_STRLEN + 16];
	int t, u;

	match_text(&a->match, x, sizeof(x));
	match_text(&b->match, y, sizeof(y));
	if (strcmp(x, y))
		say(df, "service %s: %s -> %s", b->name, x, y);
	if (strcmp(tier_name(ca, a->default_tier), tier_name(cb, b->default_tier)))
		say(df, "service %s: default_tier %s -> %s", b->name,
		    tier_name(ca, a->default_tier), tier_name(cb, b->default_tier));
	if (a->dry_run != b->dry_run)
		say(df, "service %s: dry_run %s -> %s", b->name, a->dry_run ? "on" : "off",
		    b->dry_run ? "on" : "off");
	if (a->protect_tier0 != b->protect_tier0)
		say(df, "service %s: protect_tier0 %s -> %s", b->name,
		    a->protect_tier0 ? "on" : "off", b->protect_tier0 ? "on" : "off");
	for (t = 0; t < cb->ntiers; t++) {
		u = spw_config_tier(ca, cb->tiers[t]);
		if (u >= 0 && a->action[u] != b->action[t])
			say(df, "service %s: shed_action %s: %s -> %s", b->name, cb->tiers[t],
			    action_name(a->action[u]), action_name(b->action[t]));
	}
	diff_per_tier(df, b->name, "max_connections", ca, a->max_conns, cb, b->max_conns);
	diff_per_tier(df, b->name, "rate", ca, a->rate_per_sec, cb, b->rate_per_sec);
	diff_per_tier(df, b->name, "burst", ca, a->burst, cb, b->burst);
	diff_per_tier(df, b->name, "reserve", ca, a->reserve, cb, b->reserve);
	if (a->in_flight_guard != b->in_flight_guard)
		say(df, "service %s: in_flight_guard %g -> %g", b->name, a->in_flight_guard,
		    b->in_flight_guard);
	if (a->connection_limit != b->connection_limit)
		say(df, "service %s: connection_limit %" PRIu32 " -> %" PRIu32, b->name,
		    a->connection_limit, b->connection_limit);
	if (strcmp(a->connection_pool, b->connection_pool))
		say(df, "service %s: connection_pool '%s' -> '%s'", b->name, a->connection_pool,
		    b->connection_pool);
	diff_signals(df, a, b);
}

static void diff_services(struct diff *df, const struct spw_config *a, const struct spw_config *b)
{
	const struct spw_config_service *o;
	char m[SPW_CIDR_STRLEN + 16];
	int i;

	for (i = 0; i < b->nservices; i++) {
		o = service_named(a, b->services[i].name);
		if (o) {
			diff_service(df, a, o, b, &b->services[i]);
			continue;
		}
		match_text(&b->services[i].match, m, sizeof(m));
		say(df, "service %s: added (%s)", b->services[i].name, m);
	}
	for (i = 0; i < a->nservices; i++)
		if (!service_named(b, a->services[i].name))
			say(df, "service %s: removed", a->services[i].name);
}

/* Rules sorted by prefix (address, then length): both sides walked once, O(n log n). */
static int rule_cmp(const void *x, const void *y)
{
	const struct spw_config_rule *a = x, *b = y;
	int c = memcmp(a->cidr.addr, b->cidr.addr, SPW_ADDR_LEN);

	return c ? c : (int)a->cidr.prefixlen - (int)b->cidr.prefixlen;
}

static struct spw_config_rule *sorted_rules(const struct spw_config *c)
{
	struct spw_config_rule *r = malloc(((size_t)c->nrules + 1) * sizeof(*r));

	if (!r)
		return NULL;
	if (c->nrules) {
		memcpy(r, c->rules, (size_t)c->nrules * sizeof(*r));
		qsort(r, (size_t)c->nrules, sizeof(*r), rule_cmp);
	}
	return r;
}

struct rule_counts {
	int added, removed, retiered, shown;
};

/* One rule's change: what ("added", "removed", "tier"), the old tier or "", the new or "". */
static void rule_line(struct diff *df, struct rule_counts *rc, const struct spw_cidr *cidr,
		      const char *what, const char *was, const char *now)
{
	char text[SPW_CIDR_STRLEN];

	if (rc->shown++ >= DIFF_RULE_LINES)
		return;
	spw_cidr_format(cidr, text, sizeof(text));
	if (was[0] && now[0])
		say(df, "rule %s: %s %s -> %s", text, what, was, now);
	else
		say(df, "rule %s: %s (%s)", text, what, was[0] ? was : now);
}

static int diff_rules(struct diff *df, const struct spw_config *a, const struct spw_config *b)
{
	struct spw_config_rule *ra = sorted_rules(a), *rb = sorted_rules(b);
	struct rule_counts rc = {0};
	int i = 0, j = 0, c;

	if (!ra || !rb) {
		free(ra);
		free(rb);
		return -1;
	}
	while (i < a->nrules || j < b->nrules) {
		c = i == a->nrules ? 1 : j == b->nrules ? -1 : rule_cmp(&ra[i], &rb[j]);
		if (c < 0) {
			rc.removed++;
			rule_line(df, &rc, &ra[i].cidr, "removed", tier_name(a, ra[i].tier), "");
			i++;
		} else if (c > 0) {
			rc.added++;
			rule_line(df, &rc, &rb[j].cidr, "added", "", tier_name(b, rb[j].tier));
			j++;
		} else {
			if (strcmp(tier_name(a, ra[i].tier), tier_name(b, rb[j].tier))) {
				rc.retiered++;
				rule_line(df, &rc, &rb[j].cidr, "tier", tier_name(a, ra[i].tier),
					  tier_name(b, rb[j].tier));
			}
			i++, j++;
		}
	}
	if (rc.shown > DIFF_RULE_LINES)
		say(df, "rules: %d added, %d removed, %d with another tier (%d not listed)",
		    rc.added, rc.removed, rc.retiered, rc.shown - DIFF_RULE_LINES);
	free(ra);
	free(rb);
	return 0;
}

static bool has_cidr(const struct spw_cidr *list, int n, const struct spw_cidr *c)
{
	int i;

	for (i = 0; i < n; i++)
		if (list[i].prefixlen == c->prefixlen &&
		    !memcmp(list[i].addr, c->addr, SPW_ADDR_LEN))
			return true;
	return false;
}

/* "WHAT PREFIX: added" for each prefix only b lists, "...: removed" for each only a lists. */
static void diff_prefix_list(struct diff *df, const char *what, const struct spw_cidr *a, int na,
			     const struct spw_cidr *b, int nb)
{
	char text[SPW_CIDR_STRLEN];
	int i;

	for (i = 0; i < nb; i++) {
		if (has_cidr(a, na, &b[i]))
			continue;
		spw_cidr_format(&b[i], text, sizeof(text));
		say(df, "%s %s: added", what, text);
	}
	for (i = 0; i < na; i++) {
		if (has_cidr(b, nb, &a[i]))
			continue;
		spw_cidr_format(&a[i], text, sizeof(text));
		say(df, "%s %s: removed", what, text);
	}
}

static void diff_dscp(struct diff *df, const struct spw_config *a, const struct spw_config *b)
{
	int i;

	for (i = 0; i < SPW_DSCP_VALUES; i++) {
		const char *x =
		    a->dscp_tier[i] == SPW_DSCP_UNMAPPED ? "none" : tier_name(a, a->dscp_tier[i]);
		const char *y =
		    b->dscp_tier[i] == SPW_DSCP_UNMAPPED ? "none" : tier_name(b, b->dscp_tier[i]);

		if (strcmp(x, y))
			say(df, "dscp %d: %s -> %s", i, x, y);
	}
	diff_prefix_list(df, "dscp trusted source", a->trusted, a->ntrusted, b->trusted,
			 b->ntrusted);
}

static void diff_exempt(struct diff *df, const struct spw_config *a, const struct spw_config *b)
{
	diff_prefix_list(df, "exempt source", a->exempt, a->nexempt, b->exempt, b->nexempt);
	if (a->exempt_host_addresses != b->exempt_host_addresses)
		say(df, "exempt_host_addresses: %s -> %s",
		    a->exempt_host_addresses ? "true" : "false",
		    b->exempt_host_addresses ? "true" : "false");
}

static const struct spw_config_iface *iface_named(const struct spw_config *c, const char *name)
{
	int i;

	for (i = 0; i < c->nifaces; i++)
		if (!strcmp(c->ifaces[i].name, name))
			return &c->ifaces[i];
	return NULL;
}

static void diff_ifaces(struct diff *df, const struct spw_config *a, const struct spw_config *b)
{
	const struct spw_config_iface *o;
	int i;

	for (i = 0; i < b->nifaces; i++) {
		o = iface_named(a, b->ifaces[i].name);
		if (!o)
			say(df, "interface %s: added (%s)", b->ifaces[i].name,
			    spw_attach_mode_name(b->ifaces[i].mode));
		else if (o->mode != b->ifaces[i].mode)
			say(df, "interface %s: mode %s -> %s", b->ifaces[i].name,
			    spw_attach_mode_name(o->mode), spw_attach_mode_name(b->ifaces[i].mode));
	}
	for (i = 0; i < a->nifaces; i++)
		if (!iface_named(b, a->ifaces[i].name))
			say(df, "interface %s: removed (detached)", a->ifaces[i].name);
	if (a->xdp_dispatcher != b->xdp_dispatcher)
		say(df, "xdp_dispatcher: %s -> %s", spw_xdp_dispatcher_name(a->xdp_dispatcher),
		    spw_xdp_dispatcher_name(b->xdp_dispatcher));
	if (a->xdp_priority != b->xdp_priority)
		say(df, "xdp_priority: %" PRIu32 " -> %" PRIu32, a->xdp_priority, b->xdp_priority);
}

static void diff_restart_only(struct diff *df, const struct spw_config *a,
			      const struct spw_config *b)
{
	static const char later[] = " (a reload keeps the running value: needs a restart)";

	if (strcmp(a->metrics_listen, b->metrics_listen))
		say(df, "metrics.listen: %s -> %s%s",
		    a->metrics_listen[0] ? a->metrics_listen : "off",
		    b->metrics_listen[0] ? b->metrics_listen : "off", later);
	if (strcmp(a->report_socket, b->report_socket))
		say(df, "report.socket: %s -> %s%s", a->report_socket, b->report_socket, later);
	if (strcmp(a->report_group, b->report_group))
		say(df, "report.group: '%s' -> '%s'%s", a->report_group, b->report_group, later);
	if (strcmp(a->state_dir, b->state_dir))
		say(df, "state_dir: %s -> %s%s", a->state_dir, b->state_dir, later);
	if (a->flow_capacity != b->flow_capacity)
		say(df,
		    "flows.capacity: %" PRIu32 " -> %" PRIu32 " (a pinned table keeps its size "
		    "until detach --all)",
		    a->flow_capacity, b->flow_capacity);
}

int spw_config_diff(const struct spw_config *from, const struct spw_config *to, spw_diff_fn fn,
		    void *ctx)
{
	const struct spw_config_controller *x = &from->controller, *y = &to->controller;
	struct diff df = {.say = fn, .ctx = ctx};

	diff_tiers(&df, from, to);
	diff_services(&df, from, to);
	if (diff_rules(&df, from, to))
		return -1;
	diff_dscp(&df, from, to);
	diff_exempt(&df, from, to);
	diff_ifaces(&df, from, to);
	diff_duration(&df, "tick", x->tick_ns, y->tick_ns);
	diff_duration(&df, "lease", x->lease_ns, y->lease_ns);
	diff_duration(&df, "cohort_rotation", x->cohort_rotation_ns, y->cohort_rotation_ns);
	diff_duration(&df, "stale_after", x->stale_after_ns, y->stale_after_ns);
	diff_duration(&df, "sweep_every", x->sweep_every_ns, y->sweep_every_ns);
	diff_duration(&df, "syn_timeout", x->syn_timeout_ns, y->syn_timeout_ns);
	diff_duration(&df, "idle_timeout", x->idle_timeout_ns, y->idle_timeout_ns);
	diff_duration(&df, "udp_timeout", x->udp_timeout_ns, y->udp_timeout_ns);
	if (x->hysteresis != y->hysteresis)
		say(&df, "controller.hysteresis: %g -> %g", x->hysteresis, y->hysteresis);
	if (from->flood_insert_rate != to->flood_insert_rate)
		say(&df, "flows.insert_rate: %" PRIu32 "/s -> %" PRIu32 "/s",
		    from->flood_insert_rate, to->flood_insert_rate);
	if (from->flow_service_share != to->flow_service_share)
		say(&df, "flows.service_share: %g -> %g", from->flow_service_share,
		    to->flow_service_share);
	if (from->ipv6_cohort_prefix != to->ipv6_cohort_prefix)
		say(&df, "flows.ipv6_cohort_prefix: /%" PRIu32 " -> /%" PRIu32,
		    from->ipv6_cohort_prefix, to->ipv6_cohort_prefix);
	if (from->icmp_rate != to->icmp_rate)
		say(&df, "reject.icmp_rate: %" PRIu32 "/s -> %" PRIu32 "/s", from->icmp_rate,
		    to->icmp_rate);
	if (from->icmp_burst != to->icmp_burst)
		say(&df, "reject.icmp_burst: %" PRIu32 " -> %" PRIu32, from->icmp_burst,
		    to->icmp_burst);
	diff_restart_only(&df, from, to);
	return df.n;
}
