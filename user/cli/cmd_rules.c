// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway rules list|add|del: source CIDR -> tier rules at run time. They live in the same
 * LPM trie as the config's rules (rule_id 0 marks them: config rules carry their line, which
 * is never 0), so the next reload, which makes the trie match the file, removes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cli_priv.h"
#include "spillway_rank.h"

#define RELOAD_NOTE "kept until the next config reload, which replaces the rules with the file's"

static const char *tier_name(const struct spw_state_file *st, bool have, uint32_t t, char *buf,
			     size_t len)
{
	if (have && t < st->ntiers && st->tiers[t][0])
		snprintf(buf, len, "%.*s", SPW_STATE_NAME_MAX, st->tiers[t]);
	else
		snprintf(buf, len, "%u", t);
	return buf;
}

struct rules_list {
	const struct spw_cli_req *req;
	const struct spw_state_file *st;
	bool have;
	json_t *arr;
	int n;
};

static int list_one(const struct spw_cidr *c, const struct spw_rule *rule, void *ctx)
{
	struct rules_list *l = ctx;
	char cidr[SPW_CIDR_STRLEN], tier[SPW_STATE_NAME_MAX + 1];

	spw_cidr_format(c, cidr, sizeof(cidr));
	tier_name(l->st, l->have, rule->tier, tier, sizeof(tier));
	if (l->req->json) {
		json_t *o = json_object();

		json_object_set_new(o, "cidr", json_string(cidr));
		json_object_set_new(o, "tier", json_string(tier));
		json_object_set_new(o, "tier_index", json_integer(rule->tier));
		json_object_set_new(o, "config_line",
				    rule->rule_id ? json_integer(rule->rule_id) : json_null());
		json_object_set_new(o, "runtime", json_boolean(!rule->rule_id));
		json_array_append_new(l->arr, o);
	} else {
		if (rule->rule_id)
			printf("%-43s %-12s config line %u\n", cidr, tier, rule->rule_id);
		else
			printf("%-43s %-12s run time\n", cidr, tier);
	}
	l->n++;
	return 0;
}

static int rules_list(const struct spw_cli_req *req, struct spw_dataplane *dp)
{
	struct spw_state_file *st = calloc(1, sizeof(*st));
	struct rules_list l = {.req = req, .st = st, .arr = json_array()};
	int err;

	if (!st) {
		cli_dp_error(req, "cannot open the rules", -ENOMEM);
		json_decref(l.arr);
		return SPW_EXIT_FAIL;
	}
	/* Tier names are a nicety here: without the state file the numbers still say it. */
	l.have = !cli_state_read(req, st);
	err = spw_dp_rules_foreach(dp, list_one, &l);
	if (req->json) {
		json_dumpf(l.arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else if (!l.n) {
		printf("no rules\n");
	}
	json_decref(l.arr);
	free(st);
	return err ? SPW_EXIT_FAIL : SPW_EXIT_OK;
}

int spw_cmd_rules(const struct spw_cli_req *req)
{
	struct spw_state_file *st;
	struct spw_dataplane *dp;
	int tier = 0, err, ret = SPW_EXIT_FAIL;

	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
	if (req->rules_op == SPW_RULES_LIST) {
		ret = rules_list(req, dp);
		spw_dp_close(dp);
		return ret;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out;
	if (req->rules_op == SPW_RULES_ADD) {
		if (cli_state_read(req, st))
			goto out;
		tier = cli_tier_index(st, req->tier);
		if (tier < 0)
			goto out;
		err = spw_dp_rule_add(dp, &req->cidr, (uint8_t)tier, 0);
		if (err) {
			cli_dp_error(req, "cannot add the rule", err);
			goto out;
		}
		printf("rule %s -> %s added; " RELOAD_NOTE "\n", req->cidr_text, req->tier);
	} else {
		err = spw_dp_rule_del(dp, &req->cidr);
		if (err == -ENOENT) {
			fprintf(stderr, "spillway: no rule for %s\n", req->cidr_text);
			goto out;
		}
		if (err) {
			cli_dp_error(req, "cannot remove the rule", err);
			goto out;
		}
		printf("rule %s removed; " RELOAD_NOTE "\n", req->cidr_text);
	}
	ret = SPW_EXIT_OK;
out:
	free(st);
	spw_dp_close(dp);
	return ret;
}
