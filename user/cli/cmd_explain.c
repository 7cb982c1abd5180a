// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway explain ADDR PORT: the data plane's decision for a new flow, recomputed from the
 * pinned maps in the order bpf/admission.bpf.h takes it (policy, tier, exempt source, lease,
 * level, token bucket, concurrency cap, dry run, action), with spillway_rank.h's cohort and rank:
 * the same code the BPF side runs. Nothing is written: the bucket is read, not taken from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <jansson.h>
#include "cli_priv.h"
#include "spillway_rank.h"

struct explain {
	uint32_t svc;
	char svc_name[SPW_SERVICE_NAME_LEN + 1]; /* from the pinned service record; "" if none */
	bool has_policy;
	struct spw_policy pol;
	uint32_t tier, cohort, rank, level;
	char tier_name[SPW_STATE_NAME_MAX + 1]; /* from the state file; "" when not published */
	const char *tier_by;			/* "rule", "dscp", "default" */
	uint32_t rule_id;
	char rule_cidr[SPW_CIDR_STRLEN];
	/* The mark: --dscp, else 0, which is what unmarked traffic carries. */
	uint8_t dscp;
	bool dscp_assumed;
	/* The mark maps to a tier, but the source is not trusted: the mark is ignored. */
	bool dscp_untrusted;
	uint8_t dscp_mapped;
	enum spw_reason decision; /* as counted */
	const char *why;
	bool passes;
	const char *action; /* "pass", "drop", "reject" */
};

/* The bucket's refill and take of bpf/bucket.bpf.h, on a copy: would a token be there now? */
static bool bucket_has_token(const struct spw_bucket *b, uint64_t rate, uint64_t burst,
			     uint64_t now)
{
	uint64_t cap = (burst ? burst : rate) * SPW_BUCKET_UNIT, have, elapsed;

	if (b->last_ns == 0)
		return true;
	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	if (elapsed > SPW_BUCKET_MAX_ELAPSED_NS)
		elapsed = SPW_BUCKET_MAX_ELAPSED_NS;
	have = b->units + elapsed * rate;
	if (have > cap)
		have = cap;
	return have >= SPW_BUCKET_UNIT;
}

/* DSCP tier of a trusted source, as classify.bpf.h: the mark maps and the source is trusted. */
static bool dscp_tier(const struct spw_cli_req *req, struct spw_dataplane *dp, struct explain *e)
{
	uint8_t mapped;

	if (spw_dp_dscp_get(dp, e->dscp, &mapped) || mapped == SPW_DSCP_UNMAPPED)
		return false;
	if (spw_dp_trusted_lookup(dp, req->addr)) {
		e->dscp_untrusted = true;
		e->dscp_mapped = mapped;
		return false;
	}
	e->tier = mapped;
	return true;
}

/* The longest rule prefix covering the address: the one the trie's lookup matched. */
struct rule_match {
	struct spw_cidr host;
	int best_len;
	char *out;
};

static int match_rule(const struct spw_cidr *c, const struct spw_rule *r, void *ctx)
{
	struct rule_match *m = ctx;

	(void)r;
	if ((int)c->prefixlen > m->best_len && spw_cidr_contains(c, &m->host)) {
		m->best_len = c->prefixlen;
		spw_cidr_format(c, m->out, SPW_CIDR_STRLEN);
	}
	return 0;
}

static void rule_prefix(const struct spw_cli_req *req, struct spw_dataplane *dp, struct explain *e)
{
	struct rule_match m = {.best_len = -1, .out = e->rule_cidr};
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memcpy(m.host.addr, req->addr, SPW_ADDR_LEN);
	m.host.prefixlen = SPW_ADDR_LEN * 8;
	m.host.is_v4 = !memcmp(req->addr, v4_mapped, sizeof(v4_mapped));
	spw_dp_rules_foreach(dp, match_rule, &m);
}

/* Names of the service (pinned record) and tier (state file), when they can be had. */
static void names(const struct spw_cli_req *req, struct spw_dataplane *dp, struct explain *e)
{
	struct spw_service_rec rec;
	struct spw_state_file *st;

	if (!spw_dp_service_rec_get(dp, e->svc, &rec))
		snprintf(e->svc_name, sizeof(e->svc_name), "%.*s", (int)sizeof(rec.name), rec.name);
	if (!e->has_policy)
		return;
	st = calloc(1, sizeof(*st));
	if (st && !cli_state_read_opt(req, st, false) && e->tier < st->ntiers)
		snprintf(e->tier_name, sizeof(e->tier_name), "%.*s", SPW_STATE_NAME_MAX,
			 st->tiers[e->tier]);
	free(st);
}

static int decide(const struct spw_cli_req *req, struct spw_dataplane *dp, struct explain *e)
{
	static const uint8_t any[SPW_ADDR_LEN];
	struct spw_globals g;
	struct spw_rule rule;
	struct spw_bucket b;
	uint64_t now, active;
	uint32_t count;
	int err;

	memset(e, 0, sizeof(*e));
	e->dscp_assumed = req->dscp < 0;
	e->dscp = e->dscp_assumed ? 0 : (uint8_t)req->dscp;
	err = spw_dp_service_lookup(dp, req->proto, req->port, req->has_local ? req->local : any,
				    &e->svc);
	if (err)
		return err;
	if (e->svc == SPW_SVC_NONE) {
		e->decision = SPW_REASON_NOT_SERVICE;
		e->why = "no service on this port: spillway lets it pass untouched";
		e->passes = true;
		e->action = "pass";
		return 0;
	}
	err = spw_dp_policy_get(dp, e->svc, &e->pol);
	if (err == -ENOENT) {
		e->decision = SPW_REASON_FAIL_OPEN;
		e->why = "the service has no policy (half-written config): fails open";
		e->passes = true;
		e->action = "pass";
		e->tier = SPW_TIER_NONE;
		return 0;
	}
	if (err)
		return err;
	e->has_policy = true;

	e->tier = e->pol.default_tier;
	e->tier_by = "default";
	if (!spw_dp_rule_lookup(dp, req->addr, &rule)) {
		e->tier = rule.tier;
		e->tier_by = "rule";
		e->rule_id = rule.rule_id;
		rule_prefix(req, dp, e);
	} else if (dscp_tier(req, dp, e)) {
		e->tier_by = "dscp";
	}
	count = e->pol.tier_count;
	if (count == 0 || count > SPW_MAX_TIERS)
		count = SPW_MAX_TIERS;
	if (e->tier >= count)
		e->tier = count - 1;

	err = spw_dp_globals_get(dp, &g);
	if (err)
		return err;
	e->cohort = spw_cohort(req->addr, g.cohort_salt, g.ipv6_cohort_prefix);
	e->rank = spw_rank(e->tier, e->cohort);
	e->level = spw_effective_level(&e->pol);

	now = spw_now_ns();
	e->decision = SPW_REASON_ADMITTED;
	e->why = "rank below the admit level, token and connection slot available";
	if (!spw_dp_exempt_lookup(dp, req->addr, req->addr_v4)) {
		e->decision = SPW_REASON_EXEMPT;
		e->why = "the source is exempt (config exempt, or a host address): never refused";
	} else if (now >= e->pol.lease_expires_ns) {
		e->decision = SPW_REASON_FAIL_OPEN;
		e->why = "the policy's lease has expired (spillwayd not renewing): fails open";
	} else if (!spw_level_admits(
		       &e->pol, e->rank,
		       spw_host_slot(req->addr, g.cohort_salt, g.ipv6_cohort_prefix))) {
		e->decision = SPW_REASON_SHED_LEVEL;
		e->why = e->rank == e->level && e->pol.partial
			     ? "rank at the admit level, host outside its partial share"
			     : "rank at or above the admit level";
	} else if (e->pol.rate_per_sec[e->tier] && !spw_dp_bucket_get(dp, e->svc, e->tier, &b) &&
		   !bucket_has_token(&b, e->pol.rate_per_sec[e->tier], e->pol.burst[e->tier],
				     now)) {
		e->decision = SPW_REASON_SHED_RATE;
		e->why = "the tier's new-flow token bucket is empty";
	} else if (e->pol.max_conns[e->tier] && !spw_dp_active_read(dp, e->svc, e->tier, &active) &&
		   active >= e->pol.max_conns[e->tier]) {
		e->decision = SPW_REASON_SHED_CAP;
		e->why = "the tier is at its concurrency cap";
	} else if ((e->pol.flags & SPW_POLICY_RESERVE) &&
		   !spw_dp_active_read(dp, e->svc, SPW_ACTIVE_TOTAL, &active) &&
		   active >= e->pol.admit_below[e->tier]) {
		e->decision = SPW_REASON_SHED_RESERVE;
		e->why = "the service's connections left are reserved for the tiers above";
	} else if (e->pol.inflight_below[e->tier] &&
		   !spw_dp_inflight_total(dp, e->svc, e->pol.tier_count, &active) &&
		   active >= e->pol.inflight_below[e->tier]) {
		e->decision = SPW_REASON_SHED_RESERVE;
		e->why = "the service's requests in flight are past the bound its tier is admitted "
			 "under (in_flight_guard)";
	}
	if (e->decision == SPW_REASON_ADMITTED || e->decision == SPW_REASON_FAIL_OPEN ||
	    e->decision == SPW_REASON_EXEMPT) {
		e->passes = true;
		e->action = "pass";
	} else if (e->pol.flags & SPW_POLICY_DRY_RUN) {
		e->decision = SPW_REASON_WOULD_SHED;
		e->why = "dry run: would be shed, passes";
		e->passes = true;
		e->action = "pass";
	} else {
		e->action = e->pol.action[e->tier] == SPW_ACTION_REJECT ? "reject" : "drop";
	}
	return 0;
}

static void tier_by_text(const struct explain *e, char *buf, size_t len)
{
	if (!strcmp(e->tier_by, "rule") && e->rule_id)
		snprintf(buf, len, "CIDR rule %s (config line %u)", e->rule_cidr, e->rule_id);
	else if (!strcmp(e->tier_by, "rule"))
		snprintf(buf, len, "CIDR rule %s, added at run time (spillway rules add)",
			 e->rule_cidr);
	else if (!strcmp(e->tier_by, "dscp"))
		snprintf(buf, len, "DSCP mark %u of a trusted source", e->dscp);
	else if (e->dscp_untrusted)
		snprintf(buf, len,
			 "the service's default tier (DSCP %u maps to tier %u, but the source is "
			 "not a trusted one: the mark is ignored)",
			 e->dscp, e->dscp_mapped);
	else
		snprintf(buf, len,
			 "the service's default tier (no rule covers the address, no "
			 "DSCP mapping applies)");
}

int spw_cmd_explain(const struct spw_cli_req *req)
{
	const char *proto = req->proto == IPPROTO_UDP ? "udp" : "tcp";
	struct spw_dataplane *dp;
	struct explain e;
	char by[192];
	int err;

	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
	err = decide(req, dp, &e);
	if (!err && e.svc != SPW_SVC_NONE)
		names(req, dp, &e);
	spw_dp_close(dp);
	if (err) {
		cli_dp_error(req, "cannot read the data plane", err);
		return SPW_EXIT_FAIL;
	}
	if (req->json) {
		json_t *o = json_object();

		json_object_set_new(o, "address", json_string(req->addr_text));
		json_object_set_new(o, "port", json_integer(req->port));
		json_object_set_new(o, "proto", json_string(proto));
		json_object_set_new(o, "service_id", json_integer(e.svc));
		json_object_set_new(o, "service",
				    e.svc_name[0] ? json_string(e.svc_name) : json_null());
		json_object_set_new(o, "dscp", json_integer(e.dscp));
		json_object_set_new(o, "dscp_assumed", json_boolean(e.dscp_assumed));
		if (e.has_policy) {
			bool by_rule = !strcmp(e.tier_by, "rule");

			json_object_set_new(o, "tier", json_integer(e.tier));
			json_object_set_new(o, "tier_name",
					    e.tier_name[0] ? json_string(e.tier_name)
							   : json_null());
			json_object_set_new(o, "tier_by", json_string(e.tier_by));
			json_object_set_new(o, "rule_id",
					    by_rule ? json_integer(e.rule_id) : json_null());
			json_object_set_new(o, "rule_cidr",
					    by_rule && e.rule_cidr[0] ? json_string(e.rule_cidr)
								      : json_null());
			json_object_set_new(o, "cohort", json_integer(e.cohort));
			json_object_set_new(o, "rank", json_integer(e.rank));
			json_object_set_new(o, "level", json_integer(e.level));
			json_object_set_new(o, "dry_run",
					    json_boolean(e.pol.flags & SPW_POLICY_DRY_RUN));
		}
		json_object_set_new(o, "decision", json_string(spw_reason_name(e.decision)));
		json_object_set_new(o, "passes", json_boolean(e.passes));
		json_object_set_new(o, "action", json_string(e.action));
		json_object_set_new(o, "why", json_string(e.why));
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		return SPW_EXIT_OK;
	}
	printf("new %s flow from %s to port %u", proto, req->addr_text, req->port);
	if (e.dscp_assumed)
		printf(", DSCP 0 assumed\n  (unmarked traffic carries DSCP 0; --dscp N for another "
		       "mark)\n");
	else
		printf(" marked DSCP %u\n", e.dscp);
	if (e.svc == SPW_SVC_NONE) {
		printf("  service: none\n  decision: %s: %s\n", spw_reason_name(e.decision), e.why);
		return SPW_EXIT_OK;
	}
	if (e.svc_name[0])
		printf("  service: %s (id %u)\n", e.svc_name, e.svc);
	else
		printf("  service: id %u (no name recorded)\n", e.svc);
	if (e.has_policy) {
		tier_by_text(&e, by, sizeof(by));
		if (e.tier_name[0])
			printf("  tier: %s (%u), by %s\n", e.tier_name, e.tier, by);
		else
			printf("  tier: %u, by %s\n", e.tier, by);
		printf("  cohort: %u, rank %u, admit level %u\n", e.cohort, e.rank, e.level);
	}
	printf("  decision: %s: %s\n  action: %s\n", spw_reason_name(e.decision), e.why, e.action);
	return SPW_EXIT_OK;
}
