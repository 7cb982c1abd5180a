// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway policy set|clear|dry-run: manual overrides through the pinned spw_overrides map.
 * The daemon reads it every tick and enforces the override's level (and dry-run flag) instead
 * of the control law's until it expires, so an override outlives the CLI and cannot outlive
 * its expiry: a forgotten `policy set` ends by itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_priv.h"
#include "spw_strnum.h"

/*
 * The admit level that sheds percent of tier's cohorts and every tier after it: cohorts go
 * from the last one down, as the control law sheds them (rank = tier * 32 + cohort).
 */
static uint32_t level_for(uint32_t tier, uint32_t percent)
{
	uint32_t shed = (percent * SPW_COHORTS + 50) / 100;

	return tier * SPW_COHORTS + (SPW_COHORTS - shed);
}

int spw_cmd_policy(const struct spw_cli_req *req)
{
	const struct spw_state_service *svc;
	struct spw_override o = {}, cur;
	struct spw_state_file *st;
	struct spw_dataplane *dp;
	char dur[SPW_DURATION_STRLEN];
	uint64_t now;
	uint32_t id;
	bool has_cur;
	int tier, err, ret = SPW_EXIT_FAIL;

	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
	st = calloc(1, sizeof(*st));
	if (!st || cli_state_read(req, st) || cli_service_id(st, req->service, &id, &svc))
		goto out;
	now = spw_now_ns();
	has_cur = !spw_dp_override_get(dp, id, &cur) && cur.expires_ns > now;
	spw_format_duration(req->for_ns, dur, sizeof(dur));
	switch (req->policy_op) {
	case SPW_POLICY_SET:
		tier = cli_tier_index(st, req->tier);
		if (tier < 0)
			goto out;
		if (tier >= svc->tier_count) {
			fprintf(stderr, "spillway: %s has %u tiers; %s is not one of them\n",
				req->service, svc->tier_count, req->tier);
			goto out;
		}
		o.level = (uint16_t)level_for((uint32_t)tier, req->percent);
		o.expires_ns = now + req->for_ns;
		/* A dry run switched on earlier stays on: set changes the level only. */
		o.dry_run = has_cur ? cur.dry_run : 0;
		err = spw_dp_override_set(dp, id, &o);
		if (err) {
			cli_dp_error(req, "cannot write the override", err);
			goto out;
		}
		printf("%s: shedding %u%% of %s and every tier after it (level %u) for %s\n",
		       req->service, req->percent, req->tier, o.level, dur);
		if (o.level < svc->floor)
			printf("note: the floor (%u) protects the first tier: the data plane "
			       "enforces level %u\n",
			       svc->floor, svc->floor);
		break;
	case SPW_POLICY_CLEAR:
		err = spw_dp_override_del(dp, id);
		if (err && err != -ENOENT) {
			cli_dp_error(req, "cannot remove the override", err);
			goto out;
		}
		printf("%s: %s\n", req->service,
		       err ? "no override was set"
			   : "override removed; the controller decides again");
		break;
	case SPW_POLICY_DRYRUN:
		if (!req->dry_run_on) {
			if (!has_cur || !cur.dry_run) {
				printf("%s: no dry-run override is on\n", req->service);
				break;
			}
			cur.dry_run = 0;
			err = spw_dp_override_set(dp, id, &cur);
			if (err) {
				cli_dp_error(req, "cannot write the override", err);
				goto out;
			}
			printf("%s: dry-run override off; the override's level %u stays until it "
			       "expires (spillway policy clear hands control back)\n",
			       req->service, cur.level);
			break;
		}
		/*
		 * An override always carries a level: hold the one in force (a manual one, or
		 * the controller's now), so switching dry run on does not change what is decided.
		 */
		o.level = has_cur ? cur.level : svc->level;
		o.dry_run = 1;
		o.expires_ns = now + req->for_ns;
		err = spw_dp_override_set(dp, id, &o);
		if (err) {
			cli_dp_error(req, "cannot write the override", err);
			goto out;
		}
		printf("%s: dry run on for %s (level held at %u): sheds are counted as would_shed "
		       "and nothing is shed\n",
		       req->service, dur, o.level);
		break;
	}
	ret = SPW_EXIT_OK;
out:
	free(st);
	spw_dp_close(dp);
	return ret;
}
