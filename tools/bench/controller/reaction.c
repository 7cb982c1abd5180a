// SPDX-License-Identifier: GPL-2.0-only
/* Reaction: from a saturated report to the first shed SYN, in ms and in policy writes. */
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

/* ---- the reaction trials ------------------------------------------------------------------ */

/* A /24 whose clients are in the top cohort under salt (about 32 candidates to try). */
static uint32_t top_cohort_net(uint32_t salt)
{
	uint8_t addr[SPW_ADDR_LEN];
	uint32_t net;

	/* 10.64.0.0/10: clear of everything else the bench or the tests use. */
	for (net = 0x0a400000; net < 0x0a800000; net += 0x100) {
		v4_mapped(net, addr);
		if (spw_cohort(addr, salt, SPW_V6_COHORT_PREFIX_DEFAULT) == BENCH_TOP_COHORT)
			return net;
	}
	return 0; /* 16384 /24s without one: a broken hash */
}

/*
 * One tier-2 SYN to service svc through XDP: a new (source, port) each time, from the top
 * cohort under the salt in force. *verdict is the XDP action.
 */
static int syn_run(struct bench *b, int svc, uint32_t *verdict)
{
	uint8_t pkt[PKT_BUF_MAX];
	char saddr[INET_ADDRSTRLEN];
	struct spw_globals g;
	struct pkt_spec spec = {
	    .family = 4,
	    .dport = BENCH_PORT_BASE + svc,
	    .tcp_flags = PKT_TCP_SYN,
	    .tcp_opts_len = PKT_LINUX_SYN_OPTS,
	};
	uint32_t ip;
	size_t len;
	int err;

	err = spw_dp_globals_get(b->dp, &g);
	if (err)
		return err;
	if (!b->salt_known || g.cohort_salt != b->salt) {
		b->src_net = top_cohort_net(g.cohort_salt);
		if (!b->src_net) {
			pr_warn("no /24 in 10.64.0.0/10 falls in cohort %d\n", BENCH_TOP_COHORT);
			return -EPROTO;
		}
		b->salt = g.cohort_salt;
		b->salt_known = true;
	}
	/* 64000 ports x 254 hosts: no flow key repeats within a run. */
	ip = b->src_net + 1 + (uint32_t)((b->syn_seq / 64000) % 254);
	spec.sport = 1024 + (uint16_t)(b->syn_seq % 64000);
	spec.seq = (uint32_t)rng_next();
	b->syn_seq++;
	snprintf(saddr, sizeof(saddr), "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
	spec.saddr = saddr;
	len = pkt_build(&spec, pkt, sizeof(pkt));
	if (!len) {
		pr_warn("cannot build the trial SYN\n");
		return -EINVAL;
	}
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len,
			    .repeat = 1);

		err = bpf_prog_test_run_opts(b->prog_fd, &opts);
		if (err) {
			if (!(err == -EINTR && stop_requested))
				pr_warn("BPF_PROG_RUN failed: %s\n", strerror(-err));
			return err;
		}
		*verdict = opts.retval;
	}
	return 0;
}

static int policy_of(struct bench *b, int svc, struct spw_policy *p)
{
	int err = spw_dp_policy_get(b->dp, b->svc_id[svc], p);

	if (err)
		pr_warn("cannot read the policy of svc%02d: %s\n", svc + 1, strerror(-err));
	return err;
}

/* Ready for a trial: quiet, back at full admission, with a live lease. */
static int svc_ready(struct bench *b, int svc, bool *ready)
{
	struct spw_policy p;
	int err;

	*ready = false;
	if (b->pool_pct[svc] != POOL_LOW)
		return 0;
	err = policy_of(b, svc, &p);
	if (err)
		return err;
	*ready = p.admit_level >= BENCH_CEILING && p.lease_expires_ns > spw_now_ns();
	return 0;
}

static uint64_t shed_count(struct bench *b, int svc)
{
	struct spw_count c = {};

	if (spw_dp_counter_read(b->dp, b->svc_id[svc], BENCH_SHED_TIER, SPW_REASON_SHED_LEVEL, &c))
		return UINT64_MAX;
	return c.packets;
}

/* Sleeps until `until`, sending the reports that fall due. */
int idle_until(struct bench *b, uint64_t until)
{
	uint64_t now;
	int err;

	while ((now = bench_mono_ns()) < until) {
		if (stop_requested)
			return -EINTR;
		err = reports_refresh(b, now);
		if (err)
			return err;
		sleep_ns(until - now < 1000000ULL ? until - now : 1000000ULL);
	}
	return 0;
}

static int run_trial(struct bench *b, int svc, struct trial *t)
{
	uint64_t t0, now, deadline, shed0, shed1;
	struct spw_policy p0, p1;
	uint32_t verdict, runs = 0;
	int err;

	/* A random phase against the daemon's timer. */
	err = idle_until(b, bench_mono_ns() + rng_next() % TICK_NS);
	if (err)
		return err;
	shed0 = shed_count(b, svc);
	err = policy_of(b, svc, &p0);
	if (err)
		return err;

	b->pool_pct[svc] = POOL_FULL;
	t0 = bench_mono_ns();
	err = report_send(b, svc);
	if (err)
		return err;
	deadline = t0 + TRIAL_TIMEOUT_TICKS * TICK_NS;
	t->ms = INFINITY;
	for (;;) {
		err = syn_run(b, svc, &verdict);
		if (err)
			return err;
		now = bench_mono_ns();
		if (verdict == XDP_DROP) {
			t->ms = (double)(now - t0) / 1e6;
			break;
		}
		if (verdict != XDP_PASS) {
			pr_warn("svc%02d: a tier-2 SYN got XDP action %u, not pass or drop\n",
				svc + 1, verdict);
			return -EPROTO;
		}
		if (runs++ == 0 && now - t0 > TICK_NS / 2) {
			/* Only a slow first run can blur this; say so rather than guess. */
			pr_warn("svc%02d: the first SYN took %.1f ms to run\n", svc + 1,
				(double)(now - t0) / 1e6);
		}
		if (now > deadline) {
			pr_warn("svc%02d: no SYN shed within %d ticks of a 100%% report\n", svc + 1,
				TRIAL_TIMEOUT_TICKS);
			b->timeouts++;
			break;
		}
		if (stop_requested)
			return -EINTR;
		err = reports_refresh(b, now);
		if (err)
			return err;
		sleep_ns(SPIN_PAUSE_NS);
	}
	err = policy_of(b, svc, &p1);
	if (err)
		return err;
	t->ticks = p1.generation - p0.generation;

	/* Back to quiet at once: the service recovers while the others run. */
	b->pool_pct[svc] = POOL_LOW;
	err = report_send(b, svc);
	if (err)
		return err;

	if (isfinite(t->ms)) {
		shed1 = shed_count(b, svc);
		if (shed0 == UINT64_MAX || shed1 != shed0 + 1) {
			pr_warn(
			    "svc%02d: the dropped SYN was not counted as shed_level of tier %d\n",
			    svc + 1, BENCH_SHED_TIER);
			return -EPROTO;
		}
		/* Shed by this trial's report, not by a level left from before it. */
		if (p0.admit_level < BENCH_CEILING) {
			pr_warn("svc%02d: the trial started below full admission (level %u)\n",
				svc + 1, p0.admit_level);
			return -EPROTO;
		}
	}
	return 0;
}

int phase_reaction(struct bench *b)
{
	uint64_t waited_since;
	int next = 0, k, svc, err;
	uint32_t i;
	bool ready;

	/* With the flows in the table: the daemon sweeps them every second meanwhile. */
	err = flows_fill(b);
	if (err)
		return err;
	pr_info("reaction: %u trials over %d services\n", b->trials, BENCH_SERVICES);
	for (k = 0; k < BENCH_SERVICES; k++)
		b->pool_pct[k] = POOL_LOW;
	b->reporting = true;
	b->next_report_ns = 0;
	err = reports_refresh(b, bench_mono_ns());
	if (err)
		return err;

	for (i = 0; i < b->trials; i++) {
		waited_since = bench_mono_ns();
		for (;;) {
			svc = -1;
			for (k = 0; k < BENCH_SERVICES && svc < 0; k++) {
				err = svc_ready(b, (next + k) % BENCH_SERVICES, &ready);
				if (err)
					return err;
				if (ready)
					svc = (next + k) % BENCH_SERVICES;
			}
			if (svc >= 0)
				break;
			if (!daemon_alive(b))
				return -ESRCH;
			if (bench_mono_ns() - waited_since > READY_TIMEOUT_NS) {
				pr_warn("no service recovered to full admission within %llu s\n",
					(unsigned long long)(READY_TIMEOUT_NS / 1000000000ULL));
				return -ETIMEDOUT;
			}
			err = idle_until(b, bench_mono_ns() + 5000000ULL);
			if (err)
				return err;
		}
		next = svc + 1;
		err = run_trial(b, svc, &b->res[i]);
		if (err)
			return err;
		b->ntrials_done++;
	}
	return 0;
}
