// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway explain ADDR PORT: the data plane's decision for a new flow, recomputed from the
 * pinned maps in the order bpf/admission.bpf.h takes it (policy, tier, lease, level, token
 * bucket, concurrency cap, dry run, action), with spillway_rank.h's cohort and rank: the same
 * code the BPF side runs. Nothing is written: the bucket is read, not taken from.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <jansson.h>
#include "cli_priv.h"
#include "spillway_rank.h"

struct explain {
	uint32_t svc;
	bool has_policy;
	struct spw_policy pol;
	uint32_t tier, cohort, rank, level;
	const char *tier_by; /* "rule", "dscp", "default" */
	uint32_t rule_id;
	char rule_cidr[SPW_CIDR_STRLEN];
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
static bool dscp_tier(const struct spw_cli_req *req, struct spw_dataplane *dp, uint32_t *tier)
{
	uint8_t mapped;

	if (spw_dp_dscp_get(dp, (uint8_t)req->dscp, &mapped) || mapped == SPW_DSCP_UNMAPPED)
		return false;
	if (spw_dp_trusted_lookup(dp, req->addr))
		return false;
	*tier = mapped;
	return true;
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
	} else if (req->dscp >= 0 && dscp_tier(req, dp, &e->tier)) {
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
	e->cohort = spw_cohort(req->addr, g.cohort_salt);
	e->rank = spw_rank(e->tier, e->cohort);
	e->level = spw_effective_level(&e->pol);

	now = spw_now_ns();
	e->decision = SPW_REASON_ADMITTED;
	e->why = "rank below the admit level, token and connection slot available";
	if (now >= e->pol.lease_expires_ns) {
		e->decision = SPW_REASON_FAIL_OPEN;
		e->why = "the policy's lease has expired (spillwayd not renewing): fails open";
	} else if (!spw_level_admits(&e->pol, e->rank, spw_host_slot(req->addr, g.cohort_salt))) {
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
	}
	if (e->decision == SPW_REASON_ADMITTED || e->decision == SPW_REASON_FAIL_OPEN) {
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
		snprintf(buf, len, "CIDR rule at config line %u", e->rule_id);
	else if (!strcmp(e->tier_by, "rule"))
		snprintf(buf, len, "CIDR rule added at run time (spillway rules add)");
	else if (!strcmp(e->tier_by, "dscp"))
		snprintf(buf, len, "DSCP mark of a trusted source");
	else
		snprintf(buf, len, "default tier");
}

int spw_cmd_explain(const struct spw_cli_req *req)
{
	const char *proto = req->proto == IPPROTO_UDP ? "udp" : "tcp";
	struct spw_dataplane *dp;
	struct explain e;
	char by[96];
	int err;

	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
	err = decide(req, dp, &e);
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
		json_object_set_new(o, "dscp",
				    req->dscp >= 0 ? json_integer(req->dscp) : json_null());
		if (e.has_policy) {
			json_object_set_new(o, "tier", json_integer(e.tier));
			json_object_set_new(o, "tier_by", json_string(e.tier_by));
			json_object_set_new(o, "rule_id",
					    !strcmp(e.tier_by, "rule") ? json_integer(e.rule_id)
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
	if (req->dscp >= 0)
		printf(" marked DSCP %d\n", req->dscp);
	else
		printf(
		    "\n  (a DSCP mark cannot be known from an address: none assumed; --dscp N)\n");
	if (e.svc == SPW_SVC_NONE) {
		printf("  service: none\n  decision: %s: %s\n", spw_reason_name(e.decision), e.why);
		return SPW_EXIT_OK;
	}
	printf("  service: id %u\n", e.svc);
	if (e.has_policy) {
		tier_by_text(&e, by, sizeof(by));
		printf("  tier: %u, by %s\n", e.tier, by);
		printf("  cohort: %u, rank %u, admit level %u\n", e.cohort, e.rank, e.level);
	}
	printf("  decision: %s: %s\n  action: %s\n", spw_reason_name(e.decision), e.why, e.action);
	return SPW_EXIT_OK;
}
