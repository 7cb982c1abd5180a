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
#include <bpf/bpf.h>
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

/* libspillway has no iterator over the rules: walk the pinned trie (a read-only walk). */
static int rules_list(const struct spw_cli_req *req)
{
	struct spw_lpm_key key, next, *prev = NULL;
	struct spw_state_file *st = calloc(1, sizeof(*st));
	json_t *arr = json_array();
	struct spw_rule rule;
	struct spw_cidr c;
	char cidr[SPW_CIDR_STRLEN], tier[SPW_STATE_NAME_MAX + 1];
	bool have;
	int fd, n = 0, err = 0;

	fd = cli_pinned_map(req, SPW_MAP_NAME(rules));
	if (fd < 0 || !st) {
		if (fd == -ENOENT)
			fprintf(stderr, "spillway: no data plane pinned under %s\n", req->pin_root);
		else
			cli_dp_error(req, "cannot open the rules", fd < 0 ? fd : -ENOMEM);
		free(st);
		json_decref(arr);
		return SPW_EXIT_FAIL;
	}
	/* Tier names are a nicety here: without the state file the numbers still say it. */
	have = !cli_state_read(req, st);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &rule))
			continue; /* removed while we walked */
		memset(&c, 0, sizeof(c));
		memcpy(c.addr, key.addr, SPW_ADDR_LEN);
		c.prefixlen = (uint8_t)key.prefixlen;
		c.is_v4 = key.prefixlen >= SPW_V4_MAPPED_PREFIX && spw_addr_is_v4(key.addr);
		spw_cidr_format(&c, cidr, sizeof(cidr));
		tier_name(st, have, rule.tier, tier, sizeof(tier));
		if (req->json) {
			json_t *o = json_object();

			json_object_set_new(o, "cidr", json_string(cidr));
			json_object_set_new(o, "tier", json_string(tier));
			json_object_set_new(o, "tier_index", json_integer(rule.tier));
			json_object_set_new(o, "config_line",
					    rule.rule_id ? json_integer(rule.rule_id)
							 : json_null());
			json_object_set_new(o, "runtime", json_boolean(!rule.rule_id));
			json_array_append_new(arr, o);
		} else {
			if (rule.rule_id)
				printf("%-43s %-12s config line %u\n", cidr, tier, rule.rule_id);
			else
				printf("%-43s %-12s run time\n", cidr, tier);
		}
		n++;
	}
	if (errno != ENOENT && errno)
		err = -errno;
	close(fd);
	if (req->json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else if (!n) {
		printf("no rules\n");
	}
	json_decref(arr);
	free(st);
	return err ? SPW_EXIT_FAIL : SPW_EXIT_OK;
}

int spw_cmd_rules(const struct spw_cli_req *req)
{
	struct spw_state_file *st;
	struct spw_dataplane *dp;
	int tier = 0, err, ret = SPW_EXIT_FAIL;

	if (req->rules_op == SPW_RULES_LIST) {
		struct spw_dataplane *probe;

		/* Same privilege and presence checks as every other read. */
		if (cli_open_dp(req, &probe, false))
			return SPW_EXIT_FAIL;
		spw_dp_close(probe);
		return rules_list(req);
	}
	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
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
