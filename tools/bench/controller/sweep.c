// SPDX-License-Identifier: GPL-2.0-only
/* Sweep: the library's sweep of the daemon's table, fresh and half stale. */
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

/* ---- the sweep ---------------------------------------------------------------------------- */

/* p-th percentile by nearest rank: the smallest value with at least p of them at or below. */
double percentile(double *v, int n, double p)
{
	int k;

	qsort(v, n, sizeof(*v), bench_cmp_double);
	k = (int)ceil(p * n);
	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1];
}

static int sweep_once(struct bench *b, double *wall_ms, double *cpu_ms, struct spw_sweep_stats *st)
{
	const struct spw_sweep_opts o = {
	    .syn_timeout_ns = SYN_TIMEOUT_NS,
	    .idle_timeout_ns = IDLE_TIMEOUT_NS,
	    .udp_timeout_ns = UDP_TIMEOUT_NS,
	};
	uint64_t w0, c0;
	int err;

	w0 = bench_mono_ns();
	c0 = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	err = spw_dp_flows_sweep(b->dp, &o, st);
	*cpu_ms = (double)(bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6;
	*wall_ms = (double)(bench_mono_ns() - w0) / 1e6;
	if (err)
		pr_warn("the sweep failed: %s\n", strerror(-err));
	return err;
}

static void sweep_fig_set(struct sweep_fig *f, double *wall, double *cpu, int n)
{
	f->wall_ms = bench_median_sort(wall, n); /* sorts wall */
	f->wall_min = wall[0];
	f->wall_max = wall[n - 1];
	f->cpu_ms = bench_median_sort(cpu, n);
	f->done = true;
}

int phase_sweep(struct bench *b)
{
	double wall[SWEEP_RUNS], cpu[SWEEP_RUNS];
	struct spw_flow_key *skeys;
	struct spw_flow *svals;
	struct spw_sweep_stats st;
	uint32_t i, nstale = b->nflows / 2, now_us;
	int run, err = 0;

	/* Nothing to expire: every flow is fresh (refreshed first, the windows took a while). */
	now_us = (uint32_t)(spw_now_ns() / 1000);
	for (i = 0; i < b->nflows; i++)
		b->vals[i].last_us = now_us;
	err = flows_write(b, b->keys, b->vals, b->nflows, false);
	if (err)
		return err;
	for (run = 0; run < SWEEP_RUNS; run++) {
		err = sweep_once(b, &wall[run], &cpu[run], &st);
		if (err)
			return err;
		if (st.scanned != b->nflows || st.expired) {
			pr_warn("a sweep of %u fresh flows scanned %llu and expired %llu\n",
				b->nflows, (unsigned long long)st.scanned,
				(unsigned long long)st.expired);
			return -EPROTO;
		}
		if (stop_requested)
			return -EINTR;
	}
	sweep_fig_set(&b->sweep_none, wall, cpu, SWEEP_RUNS);
	b->sweep_none.scanned = st.scanned;

	/* Half stale: every other flow, re-staled (re-inserted after the first run) each time. */
	skeys = calloc(nstale, sizeof(*skeys));
	svals = calloc(nstale, sizeof(*svals));
	if (!skeys || !svals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nstale; i++) {
		skeys[i] = b->keys[2 * i];
		svals[i] = b->vals[2 * i];
	}
	for (run = 0; run < SWEEP_RUNS; run++) {
		now_us = (uint32_t)(spw_now_ns() / 1000);
		for (i = 0; i < nstale; i++)
			svals[i].last_us = now_us - (uint32_t)STALE_AGE_US;
		/* After the first run they are new again: the last run removed them. */
		err = flows_write(b, skeys, svals, nstale, run > 0);
		if (err)
			goto out;
		err = sweep_once(b, &wall[run], &cpu[run], &st);
		if (err)
			goto out;
		if (st.scanned != b->nflows || st.expired != nstale) {
			pr_warn("a sweep of %u flows, %u stale, scanned %llu and expired %llu\n",
				b->nflows, nstale, (unsigned long long)st.scanned,
				(unsigned long long)st.expired);
			err = -EPROTO;
			goto out;
		}
		if (active_sum(b) != b->nflows - nstale) {
			pr_warn("active counts add up to %llu with %u flows in the table\n",
				(unsigned long long)active_sum(b), b->nflows - nstale);
			err = -EPROTO;
			goto out;
		}
		if (stop_requested) {
			err = -EINTR;
			goto out;
		}
	}
	sweep_fig_set(&b->sweep_half, wall, cpu, SWEEP_RUNS);
	b->sweep_half.scanned = st.scanned;
	b->sweep_half.expired = st.expired;
out:
	free(skeys);
	free(svals);
	return err;
}
