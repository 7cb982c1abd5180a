// SPDX-License-Identifier: GPL-2.0-only
/* The flow table the tick and sweep figures run beside: filled from user space, consistent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_dataplane.h"
#include "spw_log.h"
#include "spw_strnum.h"
#include "daemon.h"
#include "netns.h"
#include "pktbuild.h"
#include "bench_util.h"
#include "bench_ctl.h"

/* ---- the flow table ----------------------------------------------------------------------- */

/* Flows the active counts hold, over every (service, tier). */
uint64_t active_sum(struct bench *b)
{
	uint64_t sum = 0, n;
	uint32_t svc, tier;

	for (svc = 0; svc < SPW_MAX_SERVICES; svc++)
		for (tier = 0; tier < SPW_MAX_TIERS; tier++)
			if (!spw_dp_active_read(b->dp, svc, tier, &n))
				sum += n;
	return sum;
}

int flows_write(struct bench *b, const struct spw_flow_key *keys, const struct spw_flow *vals,
		uint32_t n, bool insert)
{
	int err = insert ? spw_dp_flows_insert(b->dp, keys, vals, n)
			 : spw_dp_flows_write(b->dp, keys, vals, n);

	if (err)
		pr_warn("cannot insert flows into the table: %s\n", strerror(-err));
	return err;
}

/*
 * nflows established TCP flows from 172.16.0.0/12 sources, spread over the services and tiers,
 * fresh: what the data plane would have made, active counts included.
 */
static int flows_insert(struct bench *b)
{
	struct spw_globals g;
	uint32_t i, ip, now_us;
	uint64_t t0;
	int err;

	if (!b->keys)
		b->keys = calloc(b->nflows, sizeof(*b->keys));
	if (!b->vals)
		b->vals = calloc(b->nflows, sizeof(*b->vals));
	if (!b->keys || !b->vals) {
		pr_warn("out of memory for %u flows\n", b->nflows);
		return -ENOMEM;
	}
	err = spw_dp_globals_get(b->dp, &g);
	if (err)
		return err;
	now_us = (uint32_t)(spw_now_ns() / 1000);
	for (i = 0; i < b->nflows; i++) {
		struct spw_flow_key *k = &b->keys[i];
		struct spw_flow *v = &b->vals[i];
		int svc = i % BENCH_SERVICES;

		ip = 0xac100000 + (i >> 10); /* 1024 ports per source: unique keys */
		v4_mapped(ip, k->saddr);
		v4_mapped(0xc000020a, k->daddr); /* 192.0.2.10 */
		k->sport = htons(1024 + (i & 1023));
		k->dport = htons(BENCH_PORT_BASE + svc);
		k->proto = IPPROTO_TCP;
		v->last_us = now_us;
		v->svc_id = b->svc_id[svc];
		v->tier = (i / BENCH_SERVICES) % BENCH_TIERS;
		v->cohort = spw_cohort(k->saddr, g.cohort_salt, g.ipv6_cohort_prefix);
		v->state = SPW_FLOW_ESTABLISHED;
	}
	t0 = bench_mono_ns();
	err = flows_write(b, b->keys, b->vals, b->nflows, true);
	if (err)
		return err;
	b->insert_ms = (double)(bench_mono_ns() - t0) / 1e6;
	return 0;
}

/* Empties the table (the trials' SYNs are flows too), then fills it with the bench's flows. */
int flows_fill(struct bench *b)
{
	int err;

	err = spw_dp_flows_clear(b->dp);
	if (err) {
		pr_warn("cannot empty the flow table: %s\n", strerror(-err));
		return err;
	}
	if (active_sum(b)) {
		pr_warn("active counts are %llu with the table empty\n",
			(unsigned long long)active_sum(b));
		return -EPROTO;
	}
	pr_info("inserting %u flows\n", b->nflows);
	return flows_insert(b);
}
