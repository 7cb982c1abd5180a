// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config's settings of the daemon itself: interfaces to attach to and how (the XDP
 * dispatcher and spillway's priority in it), the controller's periods and timeouts, the flow
 * table, the exporter, the report socket and the state folder.
 */
#include <stdio.h>
#include <string.h>
#include "spw_config_priv.h"
#include "spw_strnum.h"
#include "spillway_rank.h"

/* The tick's bounds: below 10 ms the tick costs more than it buys, above 10 s nothing reacts. */
#define TICK_MIN_NS (10 * SPW_NSEC_PER_MSEC)
#define TICK_MAX_NS (10 * SPW_NSEC_PER_SEC)
/* A lease must survive a late tick or two, or a busy host fails open between renewals. */
#define LEASE_MIN_TICKS 3
/* A lease is how long a dead controller keeps shedding: past 10 min that is an outage. */
#define LEASE_MAX_NS (10 * SPW_NSEC_PER_MIN)
/* Upper bounds of the slower periods: beyond them the setting is a mistake, not a choice. */
#define PERIOD_MAX_NS (24 * SPW_NSEC_PER_HOUR)
#define STALE_MAX_NS  SPW_NSEC_PER_HOUR
/*
 * Flow timeouts: at least twice SPW_FLOW_TOUCH_US, since a busy flow's timestamp is refreshed
 * only that often and a shorter timeout would expire live flows; at most what the data plane's
 * 32-bit microsecond stamps can measure.
 */
#define FLOW_TIMEOUT_MIN_NS (2ULL * SPW_FLOW_TOUCH_US * SPW_NSEC_PER_USEC)
#define FLOW_TIMEOUT_MAX_NS ((uint64_t)SPW_FLOW_TIMEOUT_MAX_US * SPW_NSEC_PER_USEC)
/*
 * libxdp takes any unsigned run priority; its programs use small ones (its default 50,
 * xdp-filter's 10). Past this bound the number is a typo, not an order.
 */
#define XDP_PRIORITY_MAX 65535
/* Flow table entries: 2^24 flows at up to 128 bytes each is already 2 GiB of kernel memory. */
#define FLOW_CAPACITY_MAX (1u << 24)

/* ---- interfaces ---- */

struct iface_aux {
	struct spw_config_iface *ifc;
	yaml_node_t *name; /* where the name was written */
};

static int iface_name(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct iface_aux *a = obj;
	const char *t;
	size_t len;
	int err;

	(void)key;
	err = cfg_scalar(x, "name", val, &t);
	if (err)
		return err;
	len = strlen(t);
	/* The kernel's dev_valid_name(): what it would refuse can never be found. */
	if (len >= IF_NAMESIZE || !strcmp(t, ".") || !strcmp(t, "..") ||
	    strpbrk(t, "/: \t\n\r\v\f"))
		return cfg_err(x, val,
			       "name: '%.*s' is not a valid interface name (1 to %d characters, "
			       "none of '/', ':' or spaces)",
			       CFG_QUOTE_MAX, t, IF_NAMESIZE - 1);
	memcpy(a->ifc->name, t, len + 1);
	a->name = val;
	return 0;
}

static int iface_mode(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct iface_aux *a = obj;
	const char *t;
	int err;

	(void)key;
	err = cfg_scalar(x, "mode", val, &t);
	if (err)
		return err;
	if (spw_attach_mode_parse(t, &a->ifc->mode)) {
		char modes[64];

		spw_attach_modes_text(modes, sizeof(modes));
		return cfg_err(x, val, "mode: unknown mode '%.*s' (%s)", CFG_QUOTE_MAX, t, modes);
	}
	return 0;
}

static const struct cfg_field iface_fields[] = {
    {"name", iface_name},
    {"mode", iface_mode},
};

int cfg_parse_interfaces(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct spw_config *c = x->c;
	yaml_node_t *names[SPW_MAX_IFACES];
	int i, j, n, err;

	(void)key;
	(void)obj;
	err = cfg_expect_list(x, "'interfaces'", val);
	if (err)
		return err;
	n = cfg_list_len(val);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);
		struct iface_aux a = {0};

		if (i == SPW_MAX_IFACES)
			return cfg_err(x, item, "interfaces: at most %d interfaces",
				       SPW_MAX_IFACES);
		a.ifc = &c->ifaces[i];
		a.ifc->mode = SPW_ATTACH_XDP;
		err = cfg_walk_map(x, item, "an interface", "in an interface", iface_fields,
				   sizeof(iface_fields) / sizeof(iface_fields[0]), &a);
		if (err)
			return err;
		if (!a.name)
			return cfg_err(x, item, "an interface needs a name");
		for (j = 0; j < i; j++)
			if (!strcmp(c->ifaces[j].name, a.ifc->name))
				return cfg_err(
				    x, a.name,
				    "name: interface '%s' is listed twice (first at line "
				    "%u)",
				    a.ifc->name, cfg_line(names[j]));
		names[i] = a.name;
		c->nifaces = i + 1;
	}
	return 0;
}

/* ---- controller ---- */

/* The nodes of the settings that are checked against the tick once all are read. */
struct ctl_aux {
	yaml_node_t *lease, *cohort_rotation, *stale_after, *sweep_every;
};

static int ctl_tick(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return cfg_duration(x, "tick", val, TICK_MIN_NS, TICK_MAX_NS, &x->c->controller.tick_ns);
}

static int ctl_lease(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ctl_aux *a = obj;

	(void)key;
	a->lease = val;
	return cfg_duration(x, "lease", val, 1, LEASE_MAX_NS, &x->c->controller.lease_ns);
}

static int ctl_hysteresis(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	double h;
	int err;

	(void)key;
	(void)obj;
	err = cfg_decimal(x, "hysteresis", val, &h);
	if (err)
		return err;
	/* 1 or more would mean "recover only below zero pressure": never. */
	if (h >= 1.0)
		return cfg_err(x, val, "hysteresis: %s is not a fraction in [0, 1)", cfg_text(val));
	x->c->controller.hysteresis = h;
	return 0;
}

static int ctl_rotation(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ctl_aux *a = obj;

	(void)key;
	a->cohort_rotation = val;
	return cfg_duration(x, "cohort_rotation", val, 1, PERIOD_MAX_NS,
			    &x->c->controller.cohort_rotation_ns);
}

static int ctl_stale(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ctl_aux *a = obj;

	(void)key;
	a->stale_after = val;
	return cfg_duration(x, "stale_after", val, 1, STALE_MAX_NS,
			    &x->c->controller.stale_after_ns);
}

static int ctl_sweep(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct ctl_aux *a = obj;

	(void)key;
	a->sweep_every = val;
	return cfg_duration(x, "sweep_every", val, 1, PERIOD_MAX_NS,
			    &x->c->controller.sweep_every_ns);
}

static int ctl_syn(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return cfg_duration(x, "syn_timeout", val, FLOW_TIMEOUT_MIN_NS, FLOW_TIMEOUT_MAX_NS,
			    &x->c->controller.syn_timeout_ns);
}

static int ctl_idle(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return cfg_duration(x, "idle_timeout", val, FLOW_TIMEOUT_MIN_NS, FLOW_TIMEOUT_MAX_NS,
			    &x->c->controller.idle_timeout_ns);
}

static int ctl_udp(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return cfg_duration(x, "udp_timeout", val, FLOW_TIMEOUT_MIN_NS, FLOW_TIMEOUT_MAX_NS,
			    &x->c->controller.udp_timeout_ns);
}

static const struct cfg_field ctl_fields[] = {
    {"tick", ctl_tick},
    {"lease", ctl_lease},
    {"hysteresis", ctl_hysteresis},
    {"cohort_rotation", ctl_rotation},
    {"stale_after", ctl_stale},
    {"sweep_every", ctl_sweep},
    {"syn_timeout", ctl_syn},
    {"idle_timeout", ctl_idle},
    {"udp_timeout", ctl_udp},
};

/* Periods that act once per tick at best must not be shorter than one. */
static int at_least_tick(struct cfg_ctx *x, const char *key, yaml_node_t *val, uint64_t ns)
{
	char d[SPW_DURATION_STRLEN], t[SPW_DURATION_STRLEN];

	if (!val || ns >= x->c->controller.tick_ns)
		return 0;
	spw_format_duration(ns, d, sizeof(d));
	spw_format_duration(x->c->controller.tick_ns, t, sizeof(t));
	return cfg_err(x, val, "%s: %s is shorter than the tick (%s)", key, d, t);
}

int cfg_parse_controller(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct spw_config_controller *k = &x->c->controller;
	struct ctl_aux a = {0};
	int err;

	(void)key;
	(void)obj;
	err = cfg_walk_map(x, val, "'controller'", "in controller", ctl_fields,
			   sizeof(ctl_fields) / sizeof(ctl_fields[0]), &a);
	if (err)
		return err;
	/* Checked after the walk: the tick may be written after the settings it bounds. */
	if (k->lease_ns < LEASE_MIN_TICKS * k->tick_ns) {
		char l[SPW_DURATION_STRLEN], t[SPW_DURATION_STRLEN];

		spw_format_duration(k->lease_ns, l, sizeof(l));
		spw_format_duration(LEASE_MIN_TICKS * k->tick_ns, t, sizeof(t));
		/* Only a default lease can be short of a long tick: point at the tick then. */
		return cfg_err(x, a.lease ? a.lease : val,
			       "lease: %s is shorter than %d ticks (%s)", l, LEASE_MIN_TICKS, t);
	}
	err = at_least_tick(x, "cohort_rotation", a.cohort_rotation, k->cohort_rotation_ns);
	if (!err)
		err = at_least_tick(x, "stale_after", a.stale_after, k->stale_after_ns);
	if (!err)
		err = at_least_tick(x, "sweep_every", a.sweep_every, k->sweep_every_ns);
	return err;
}

/* ---- flows ---- */

static int flows_capacity(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return cfg_u32(x, "capacity", val, 1, FLOW_CAPACITY_MAX, &x->c->flow_capacity);
}

/*
 * A rate of the data plane's per-CPU budgets ("20000/s", or 'off': 0). 0 means "off" to the
 * data plane, so a rate that rounds to zero is an error, not silently no limit; zero_means
 * says what it would do instead, and how to turn the limit off.
 */
static int rate_or_off(struct cfg_ctx *x, const char *key, yaml_node_t *val, const char *zero_means,
		       uint32_t *out)
{
	char why[SPW_ERR_MAX];
	struct spw_rate r;
	uint64_t per_sec;
	const char *t;
	int err;

	err = cfg_scalar(x, key, val, &t);
	if (err)
		return err;
	if (!strcmp(t, "off")) {
		*out = 0;
		return 0;
	}
	if (spw_parse_rate(t, &r, why, sizeof(why)) ||
	    spw_rate_per_sec(&r, SPW_RATE_MAX, &per_sec, why, sizeof(why)))
		return cfg_err(x, val, "%s: %s", key, why);
	if (!per_sec)
		return cfg_err(x, val, "%s: %s would %s", key, t, zero_means);
	*out = (uint32_t)per_sec;
	return 0;
}

static int flows_insert_rate(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return rate_or_off(x, "insert_rate", val,
			   "track no flow at all (write 'off' to turn the flood guard off)",
			   &x->c->flood_insert_rate);
}

/*
 * How many leading bits of an IPv6 source make one client: a host given a /48 or /56 holds
 * 65536 or 256 /64s, and with /64 cohorts would hop from a shed cohort to an admitted one.
 */
static int flows_ipv6_cohort_prefix(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val,
				    void *obj)
{
	uint32_t bits;
	int err;

	(void)key;
	(void)obj;
	err = cfg_u32(x, "ipv6_cohort_prefix", val, 0, 128, &bits);
	if (err)
		return err;
	if (!spw_v6_cohort_prefix_ok(bits))
		return cfg_err(x, val, "ipv6_cohort_prefix: %u is not one of %s", bits,
			       SPW_V6_COHORT_PREFIXES_TEXT);
	x->c->ipv6_cohort_prefix = bits;
	return 0;
}

static int flows_service_share(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	double share;
	int err;

	(void)key;
	(void)obj;
	err = cfg_decimal(x, "service_share", val, &share);
	if (err)
		return err;
	if (!(share > 0.0) || share > 1.0)
		return cfg_err(x, val, "service_share: %s is not a fraction in (0, 1]",
			       cfg_text(val));
	x->c->flow_service_share = share;
	return 0;
}

static const struct cfg_field flows_fields[] = {
    {"capacity", flows_capacity},
    {"insert_rate", flows_insert_rate},
    {"service_share", flows_service_share},
    {"ipv6_cohort_prefix", flows_ipv6_cohort_prefix},
};

int cfg_parse_flows(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_map(x, val, "'flows'", "in flows", flows_fields,
			    sizeof(flows_fields) / sizeof(flows_fields[0]), obj);
}

/* ---- reject ---- */

static int reject_icmp_rate(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return rate_or_off(x, "icmp_rate", val,
			   "answer no datagram at all (write 'off' to turn the limit off)",
			   &x->c->icmp_rate);
}

static int reject_icmp_burst(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return cfg_u32(x, "icmp_burst", val, 1, SPW_ICMP_BURST_MAX, &x->c->icmp_burst);
}

static const struct cfg_field reject_fields[] = {
    {"icmp_rate", reject_icmp_rate},
    {"icmp_burst", reject_icmp_burst},
};

int cfg_parse_reject(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_map(x, val, "'reject'", "in reject", reject_fields,
			    sizeof(reject_fields) / sizeof(reject_fields[0]), obj);
}

/* ---- metrics, report, state_dir ---- */

static int metrics_listen(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	char host[SPW_CIDR_STRLEN], why[SPW_ERR_MAX];
	const char *t, *colon, *h = NULL;
	uint8_t addr[SPW_ADDR_LEN];
	size_t hlen = 0;
	uint16_t port;
	int err;

	(void)key;
	(void)obj;
	/* 'off' or a quoted "" turns the exporter off (the daemon reads an empty listen so). */
	if (val->type == YAML_SCALAR_NODE && !cfg_is_null(val) && !val->data.scalar.length) {
		x->c->metrics_listen[0] = '\0';
		return 0;
	}
	err = cfg_scalar(x, "listen", val, &t);
	if (err)
		return err;
	if (!strcmp(t, "off")) {
		x->c->metrics_listen[0] = '\0';
		return 0;
	}
	/* IPv6 needs brackets: without them the port's colon is one more address colon. */
	if (t[0] == '[') {
		colon = strstr(t, "]:");
		if (colon) {
			h = t + 1;
			hlen = (size_t)(colon - h);
			colon++;
		}
	} else {
		colon = strchr(t, ':');
		if (colon && !strchr(colon + 1, ':')) {
			h = t;
			hlen = (size_t)(colon - t);
		}
	}
	if (h && hlen < sizeof(host)) {
		memcpy(host, h, hlen);
		host[hlen] = '\0';
	}
	if (!h || hlen >= sizeof(host) || spw_addr_parse(host, addr, NULL) ||
	    strlen(t) >= sizeof(x->c->metrics_listen))
		return cfg_err(x, val,
			       "listen: '%.*s' is not ADDRESS:PORT (like 127.0.0.1:9478 or "
			       "[::1]:9478)",
			       CFG_QUOTE_MAX, t);
	/* Port 0 asks for any free port: tests and instances side by side need it. */
	if (spw_parse_u16(colon + 1, 0, 65535, &port, why, sizeof(why)))
		return cfg_err(x, val, "listen: port %s", why);
	snprintf(x->c->metrics_listen, sizeof(x->c->metrics_listen), "%s", t);
	return 0;
}

static const struct cfg_field metrics_fields[] = {
    {"listen", metrics_listen},
};

int cfg_parse_metrics(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_map(x, val, "'metrics'", "in metrics", metrics_fields,
			    sizeof(metrics_fields) / sizeof(metrics_fields[0]), obj);
}

/* An absolute path that fits out (a unix socket path has no room to spare). */
static int abs_path(struct cfg_ctx *x, const char *key, yaml_node_t *val, char *out, size_t len)
{
	const char *t;
	int err = cfg_scalar(x, key, val, &t);

	if (err)
		return err;
	/* Under systemd the daemon runs from /: a relative path would move when run by hand. */
	if (t[0] != '/')
		return cfg_err(x, val, "%s: '%.*s' is not an absolute path", key, CFG_QUOTE_MAX, t);
	if (strlen(t) >= len)
		return cfg_err(x, val, "%s: the path is longer than %zu characters", key, len - 1);
	memcpy(out, t, strlen(t) + 1);
	return 0;
}

static int report_socket(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return abs_path(x, "socket", val, x->c->report_socket, sizeof(x->c->report_socket));
}

static int report_group(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	const char *t;
	size_t len;
	int err;

	(void)key;
	(void)obj;
	/* A quoted "" is the documented way to say "root's group": allowed, not an empty value. */
	if (val->type == YAML_SCALAR_NODE && !cfg_is_null(val) && !val->data.scalar.length) {
		x->c->report_group[0] = '\0';
		return 0;
	}
	err = cfg_scalar(x, "group", val, &t);
	if (err)
		return err;
	len = strlen(t);
	/* What useradd/groupadd accept, roughly: no ':' or '/', no leading '-'. */
	if (len >= sizeof(x->c->report_group) || t[0] == '-' ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
		return cfg_err(x, val, "group: '%.*s' is not a valid group name", CFG_QUOTE_MAX, t);
	memcpy(x->c->report_group, t, len + 1);
	return 0;
}

static const struct cfg_field report_fields[] = {
    {"socket", report_socket},
    {"group", report_group},
};

int cfg_parse_report(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	return cfg_walk_map(x, val, "'report'", "in report", report_fields,
			    sizeof(report_fields) / sizeof(report_fields[0]), obj);
}

int cfg_parse_state_dir(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	return abs_path(x, "state_dir", val, x->c->state_dir, sizeof(x->c->state_dir));
}

/* ---- xdp_dispatcher, xdp_priority ---- */

int cfg_parse_xdp_dispatcher(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	const char *t;
	int err;

	(void)key;
	(void)obj;
	err = cfg_scalar(x, "xdp_dispatcher", val, &t);
	if (err)
		return err;
	if (spw_xdp_dispatcher_parse(t, &x->c->xdp_dispatcher))
		return cfg_err(x, val,
			       "xdp_dispatcher: unknown dispatcher '%.*s' (link: spillway's own "
			       "XDP link, or libxdp: libxdp's multi-program dispatcher)",
			       CFG_QUOTE_MAX, t);
	return 0;
}

int cfg_parse_xdp_priority(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)key;
	(void)obj;
	x->xdp_priority = val;
	return cfg_u32(x, "xdp_priority", val, 0, XDP_PRIORITY_MAX, &x->c->xdp_priority);
}
