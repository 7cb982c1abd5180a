// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rules: what every start and reload does to the CIDR trie before it adds the file's rules,
 * spw_dp_rules_prune(), with 20k, 100k and 262k (the trie's size) rules, and the old way of
 * doing it side by side in the same run as the baseline: every trie key compared with every
 * wanted key, the walk restarted after each batch of 256 deletes. The baseline runs at 20k
 * and 100k only: at 262k it would take half a minute.
 *
 * On a data plane of its own (own pin root), so the daemon's maps are not touched.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "spw_dataplane.h"
#include "spw_log.h"
#include "bench_util.h"
#include "bench_ctl.h"

const uint32_t bench_rule_sizes[BENCH_RULE_SIZES] = {20000, 100000, SPW_MAX_RULES};

/* The baseline: the pruning spw_dp_rules_prune() replaced, as it was. */
static int prune_quadratic(int fd, const struct spw_lpm_key *want, int nwant)
{
	struct spw_lpm_key key, next, stale[256];
	void *prev = NULL;
	int i, n = 0;
	bool found;

	for (;;) {
		n = 0;
		prev = NULL;
		while (n < (int)(sizeof(stale) / sizeof(stale[0])) &&
		       !bpf_map_get_next_key(fd, prev, &next)) {
			found = false;
			for (i = 0; i < nwant && !found; i++)
				found = !memcmp(&want[i], &next, sizeof(next));
			if (!found)
				stale[n++] = next;
			key = next;
			prev = &key;
		}
		if (!n)
			return 0;
		for (i = 0; i < n; i++)
			if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT)
				return -errno;
	}
}

/* Rule i: 10.0.0.0/8 cut into /24s, then 11.0.0.0/8 (262144 fit in four /8s). */
static void rule_of(uint32_t i, struct spw_cidr *c)
{
	uint32_t ip = (10U << 24) + (i << 8);

	memset(c, 0, sizeof(*c));
	c->addr[10] = c->addr[11] = 0xff;
	c->addr[12] = (uint8_t)(ip >> 24);
	c->addr[13] = (uint8_t)(ip >> 16);
	c->addr[14] = (uint8_t)(ip >> 8);
	c->prefixlen = SPW_V4_MAPPED_PREFIX + 24;
	c->is_v4 = true;
}

static int fill(struct spw_dataplane *dp, uint32_t n, struct spw_lpm_key *keys)
{
	struct spw_cidr c;
	uint32_t i, j;
	int err;

	for (i = 0; i < n; i++) {
		rule_of(i, &c);
		err = spw_dp_rule_add(dp, &c, (uint8_t)(i % BENCH_TIERS), i + 1);
		if (err)
			return err;
		spw_cidr_to_key(&c, &keys[i]);
	}
	/* The wanted list in no particular order (a file lists rules as people write them). */
	for (i = n - 1; i > 0; i--) {
		struct spw_lpm_key t = keys[i];

		j = (uint32_t)(rng_next() % (i + 1));
		keys[i] = keys[j];
		keys[j] = t;
	}
	return 0;
}

static double timed_prune(struct spw_dataplane *dp, int fd, const struct spw_lpm_key *keys,
			  uint32_t n, bool baseline, int *err)
{
	uint64_t t0 = bench_mono_ns();

	*err = baseline ? prune_quadratic(fd, keys, (int)n) : spw_dp_rules_prune(dp, keys, (int)n);
	return (double)(bench_mono_ns() - t0) / 1e6;
}

int phase_rules(struct bench *b)
{
	struct spw_dp_opts o = {0};
	struct spw_dataplane *dp = NULL;
	struct spw_lpm_key *keys;
	char root[PATH_MAX], pin[PATH_MAX + 16];
	uint64_t t0;
	int i, fd = -1, err;

	snprintf(root, sizeof(root), "/sys/fs/bpf/spw-bench-rules-%d", (int)getpid());
	o.pin_root = root;
	keys = calloc(SPW_MAX_RULES, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	err = spw_dp_open(&dp, &o);
	if (err) {
		pr_warn("rules: cannot open a data plane under %s: %s\n", root, strerror(-err));
		goto out;
	}
	snprintf(pin, sizeof(pin), "%s/%s", root, SPW_MAP_NAME(rules));
	fd = bpf_obj_get(pin);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < BENCH_RULE_SIZES && !stop_requested; i++) {
		struct bench_rules *r = &b->rules[i];
		uint32_t n = bench_rule_sizes[i];

		pr_info("rules: %u\n", n);
		t0 = bench_mono_ns();
		err = fill(dp, n, keys);
		if (err)
			goto out;
		r->add_ms = (double)(bench_mono_ns() - t0) / 1e6;
		/* Every rule wanted, nothing stale: a start or reload with an unchanged file. */
		r->prune_ms = timed_prune(dp, fd, keys, n, false, &err);
		if (err)
			goto out;
		if (n <= BENCH_RULE_BASELINE_MAX) {
			r->baseline_ms = timed_prune(dp, fd, keys, n, true, &err);
			if (err)
				goto out;
		}
		/* Half wanted: a file that drops every other rule. */
		r->prune_half_ms = timed_prune(dp, fd, keys, n / 2, false, &err);
		if (err)
			goto out;
		r->n = n;
		/* Empty again for the next size. */
		timed_prune(dp, fd, keys, 0, false, &err);
		if (err)
			goto out;
	}
out:
	if (err)
		pr_warn("rules: %s\n", strerror(-err));
	if (fd >= 0)
		close(fd);
	if (dp)
		spw_dp_unpin_all(dp);
	spw_dp_close(dp);
	bench_remove_tree(root);
	free(keys);
	return err;
}
