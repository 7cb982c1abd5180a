// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_dataplane: what spillway's XDP program costs per packet, as a ratio to an empty XDP
 * program run the same way on the same machine in the same run (`make bench-dataplane`), and
 * the kernel memory per tracked flow. docs/benchmarks.md says how each figure is taken and
 * why; bench_dp.h names the parts.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
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
#include <linux/pkt_cls.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "spw_log.h"
#include "spw_strnum.h"
#include "empty_xdp.skel.h"
#include "dpcheck.h"
#include "pktbuild.h"
#include "bench_util.h"
#include "bench_dp.h"

/* The clock figures are taken with (docs/benchmarks.md); rule loads and the total are wall time. */
clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

/* ---- output ---- */

/* The footnote of the * rows. */
static const char *const star_note[] = {
    "*  repeat=1 per call (reject rewrites the packet, an admitted SYN inserts its\n",
    "   flow, a FIN deletes it; the repeat=1 drop row is their control): both\n",
    "   columns are whole BPF_PROG_RUN calls (syscall, copy in and out, one run)\n",
    "   against the empty program's own repeat=1 baseline, so that ratio is not\n",
    "   comparable with the other rows. +ns over the empty program's per-packet\n",
    "   cost is an upper bound, as it includes the cache misses of one packet per\n",
    "   syscall (compare the drop row with its control). Each FIN deletes one of\n",
    "   the established flows opened (untimed) before its round, one per call.\n",
};

static const char *const goals_title[] = {
    [GOALS_DATAPLANE] = "data-plane goals, with TCP tracking off (the goals predate it);\n"
			"   its rows without a goal run as deployed, tracking on",
    [GOALS_FLOWS] = "flow-tracking goals, TCP tracking on",
    [GOALS_EGRESS] = "the server's side: TC egress against an empty TC program, no goal",
};

static int case_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < case_count; i++)
		if (!strcmp(cases[i].name, name))
			return (int)i;
	return -1;
}

static void print_table(const struct bench *b, const struct result *res,
			const struct mem_report *mr, double elapsed_s)
{
	double empties[CASE_MAX], empty_pkt = 0;
	unsigned int i, n_empty = 0, over = 0, invalid = 0, starred = 0;
	int section = -1;
	struct utsname u;

	for (i = 0; i < case_count; i++)
		if (res[i].done && cases[i].mode == RUN_REPEAT && cases[i].prog != PROG_TC_EGRESS)
			empties[n_empty++] = res[i].empty_ns;
	if (n_empty)
		empty_pkt = median(empties, n_empty);
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");

	printf("\nspillway XDP data plane through BPF_PROG_RUN, kernel %s, pinned to CPU %d\n",
	       u.release, b->cpu);
	if (bench_clock == CLOCK_MONOTONIC)
		printf("ns per packet from wall time around large repeat counts (-w), median of "
		       "%u rounds\n",
		       b->rounds);
	else
		printf(
		    "ns per packet from this thread's CPU time around large repeat counts "
		    "(steadier\nthan wall time on this shared machine; -w for wall time), median "
		    "of %u rounds\n",
		    b->rounds);
	printf("alternating empty/spillway; hot cache (one packet repeated); trk: TCP tracking\n");
	printf("\n%-44s %3s %9s %9s %7s %7s %7s %7s  %s\n", "case", "trk", "spillway", "empty",
	       "ratio", "goal", "+ns", "spread", "result");
	for (i = 0; i < case_count; i++) {
		const struct bench_case *c = &cases[i];
		const struct result *r = &res[i];
		double ratio;
		char goal[16];

		if (!r->invalid && !r->done)
			continue;
		if ((int)c->goals != section) {
			section = (int)c->goals;
			printf("-- %s\n", goals_title[section]);
		}
		if (r->invalid) {
			printf("%-44s  no figure: did not run as named (see the warnings)\n",
			       c->name);
			invalid++;
			continue;
		}
		ratio = r->empty_ns > 0 ? r->spw_ns / r->empty_ns : 0;
		if (c->goal > 0)
			snprintf(goal, sizeof(goal), "<=%.3gx", c->goal);
		else
			snprintf(goal, sizeof(goal), "-");
		printf("%-44s %3s %9.1f %9.1f %6.2fx %7s %7.1f %6.1f%%  %s\n", c->name,
		       c->prog == PROG_SPW_NOTRACK ? "off" : "on", r->spw_ns, r->empty_ns, ratio,
		       goal, r->spw_ns - r->empty_ns,
		       r->spw_ns > 0 ? 100 * (r->spw_max - r->spw_min) / r->spw_ns : 0,
		       c->goal <= 0	  ? "-"
		       : ratio <= c->goal ? "ok"
					  : "OVER");
		if (c->goal > 0 && ratio > c->goal)
			over++;
		if (c->mode == RUN_SINGLE)
			starred++;
	}
	printf(
	    "\n+ns: spillway minus empty; spread: (max - min) / median of the spillway rounds\n");
	if (starred) {
		for (i = 0; i < sizeof(star_note) / sizeof(star_note[0]); i++)
			fputs(star_note[i], stdout);
		if (empty_pkt > 0)
			printf("   With %.1f ns per empty packet (median of the other rows), that "
			       "is:\n",
			       empty_pkt);
		for (i = 0; i < case_count; i++) {
			const struct result *r = &res[i];
			int k;

			/* The XDP rows' empty packet is no baseline for a TC row. */
			if (!r->done || cases[i].mode != RUN_SINGLE || empty_pkt <= 0 ||
			    cases[i].prog == PROG_TC_EGRESS)
				continue;
			printf("     %-42s %.2fx the empty program\n", cases[i].name,
			       (empty_pkt + r->spw_ns - r->empty_ns) / empty_pkt);
			k = cases[i].control ? case_index(cases[i].control) : -1;
			if (k >= 0 && res[k].done)
				printf("       minus its control (%s): %+.1f ns\n", cases[k].name,
				       (r->spw_ns - r->empty_ns) -
					   (res[k].spw_ns - res[k].empty_ns));
		}
	}
	if (mr->done)
		over += (unsigned int)memory_print(mr);
	else if (mr->tried)
		printf("\n-- flow-tracking goal: memory per tracked flow: NO FIGURE (see the "
		       "warnings)\n");
	printf("\n");
	for (i = 0; i < rule_load_count; i++)
		printf("rule load: %u -> %u rules in %.1f ms (%.2f us per spw_dp_rule_add)\n",
		       rule_loads[i].total - rule_loads[i].added, rule_loads[i].total,
		       rule_loads[i].ms, rule_loads[i].ms * 1000 / rule_loads[i].added);
	printf("total run time %.1f s\n\n", elapsed_s);
	if (over)
		printf("%u goal%s MISSED (OVER above)\n", over, over > 1 ? "s" : "");
	else
		printf("every goal met\n");
	if (invalid)
		printf("%u case%s gave NO FIGURE: %s not take the path named\n", invalid,
		       invalid > 1 ? "s" : "", invalid > 1 ? "they did" : "it did");
}

/* ---- setup and teardown ---- */

/*
 * The data plane under a private pin root, twice: as deployed, and the same maps with the
 * programs loaded without TCP tracking. The flood guard is set as high as it goes: its code
 * runs for every insert, as deployed, but never refuses one, which would be another path.
 */
static int open_dataplanes(struct bench *b, const char *pin_root)
{
	struct spw_dp_opts o = {.pin_root = pin_root};
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = BENCH_SVC_PORT};
	int err;

	err = spw_dp_open(&b->dp, &o);
	if (err) {
		pr_warn("opening the data plane under %s failed: %s%s\n", pin_root, strerror(-err),
			err == -EPERM ? " (the benchmark needs root)" : "");
		return err;
	}
	o.no_tcp_tracking = true;
	err = spw_dp_open(&b->dp_notrack, &o);
	if (err) {
		pr_warn("opening the data plane without TCP tracking failed: %s\n", strerror(-err));
		return err;
	}
	b->spw = (struct prog){.name = "spillway", .fd = spw_dp_prog_fd(b->dp, SPW_PROG_XDP)};
	b->spw_notrack = (struct prog){.name = "spillway (no TCP tracking)",
				       .fd = spw_dp_prog_fd(b->dp_notrack, SPW_PROG_XDP)};
	b->tc_egress = (struct prog){.name = "spillway TC egress",
				     .fd = spw_dp_prog_fd(b->dp, SPW_PROG_TC_EGRESS)};
	if (b->spw.fd < 0 || b->spw_notrack.fd < 0 || b->tc_egress.fd < 0) {
		pr_warn("the data plane has no XDP or no TC egress program\n");
		return -ENOENT;
	}
	b->empty_skel = empty_xdp__open_and_load();
	if (!b->empty_skel) {
		err = -errno;
		pr_warn("loading the empty XDP program failed: %s\n", strerror(-err));
		return err;
	}
	b->empty =
	    (struct prog){.name = "empty", .fd = bpf_program__fd(b->empty_skel->progs.empty_xdp)};
	b->empty_tc =
	    (struct prog){.name = "empty TC", .fd = bpf_program__fd(b->empty_skel->progs.empty_tc)};
	err = spw_dp_flood_guard_set(b->dp, SPW_RATE_MAX, SPW_RATE_MAX);
	if (err) {
		pr_warn("setting the flood guard failed: %s\n", strerror(-err));
		return err;
	}
	err = spw_dp_service_add(b->dp, &m, BENCH_SVC_ID);
	if (err)
		pr_warn("adding the service tcp/%d failed: %s\n", BENCH_SVC_PORT, strerror(-err));
	return err;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: bench_dataplane [-r ROUNDS] [-t MS] [-c CPU] [-s SEED] [-k TEXT] [-w] [-v]\n"
	    "  Measures spillway's XDP program per packet through BPF_PROG_RUN, as a ratio to\n"
	    "  an empty XDP program. Needs root. Exits 0 when goals are missed (it is a\n"
	    "  benchmark), 1 when a case did not take the path it names or the run failed.\n"
	    "  -r ROUNDS  rounds per figure, alternating the programs (default %d, max %d)\n"
	    "  -t MS      time of one timed call or batch (default %d)\n"
	    "  -c CPU     CPU to pin to (default: the last one allowed)\n"
	    "  -s SEED    seed for rules and addresses (default 1)\n"
	    "  -k TEXT    only the cases whose name contains TEXT\n"
	    "  -w         time with the wall clock instead of the thread's CPU time\n"
	    "  -v         print every round\n",
	    DEF_ROUNDS, MAX_ROUNDS, DEF_TARGET_MS);
}

static int parse_opt_u32(char opt, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char err[128];

	if (spw_parse_u32(text, min, max, out, err, sizeof(err))) {
		pr_warn("-%c: %s\n", opt, err);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct result res[CASE_MAX];
	static struct mem_report mem;
	struct bench b = {.rounds = DEF_ROUNDS};
	uint32_t target_ms = DEF_TARGET_MS, cpu = UINT32_MAX, seed = 1;
	const char *only = NULL;
	/* A second signal is fatal (SA_RESETHAND): Ctrl-C twice always stops the process. */
	struct sigaction sa = {.sa_handler = bench_on_signal, .sa_flags = SA_RESETHAND};
	uint64_t t_start = bench_mono_ns();
	char pin_root[PATH_MAX] = "";
	bool failed = false;
	unsigned int i;
	int opt, err = 0;

	spw_log_install_libbpf();
	while ((opt = getopt(argc, argv, "r:t:c:s:k:wvh")) != -1) {
		switch (opt) {
		case 'r':
			err = parse_opt_u32('r', optarg, 1, MAX_ROUNDS, &b.rounds);
			break;
		case 't':
			err = parse_opt_u32('t', optarg, 10, 10000, &target_ms);
			break;
		case 'c':
			err = parse_opt_u32('c', optarg, 0, CPU_SETSIZE - 1, &cpu);
			break;
		case 's':
			err = parse_opt_u32('s', optarg, 0, UINT32_MAX, &seed);
			break;
		case 'k':
			only = optarg;
			break;
		case 'w':
			bench_clock = CLOCK_MONOTONIC;
			break;
		case 'v':
			spw_log_set_level(SPW_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
		if (err)
			return 1;
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	b.target_ns = (uint64_t)target_ms * 1000000ULL;
	rng_seed(seed);

	/* No SA_RESTART: a signal interrupts a long BPF_PROG_RUN (-EINTR), then cleanup runs. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (bench_pin_cpu(cpu == UINT32_MAX ? -1 : (int)cpu, &b.cpu))
		return 1;
	pr_info("pinned to CPU %d\n", b.cpu);

	err = rules_generate(&b, RULES_MAX, seed);
	if (err)
		goto out;
	b.cnt_before = calloc(SPW_COUNTER_ENTRIES, sizeof(*b.cnt_before));
	b.cnt_after = calloc(SPW_COUNTER_ENTRIES, sizeof(*b.cnt_after));
	if (!b.cnt_before || !b.cnt_after) {
		pr_warn("out of memory for the counters\n");
		err = -ENOMEM;
		goto out;
	}

	/* A pin root of its own: the bench never touches a running spillway's maps. */
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/spw-bench-%d-%llx", (int)getpid(),
		 (unsigned long long)bench_mono_ns());
	err = open_dataplanes(&b, pin_root);
	if (err)
		goto out;

	for (i = 0; i < case_count; i++) {
		if (only && !strstr(cases[i].name, only))
			continue;
		pr_info("case %u/%u: %s\n", i + 1, case_count, cases[i].name);
		err = run_case(&b, &cases[i], &res[i]);
		if (err == -EPROTO && !stop_requested) {
			pr_warn("%s: no figure: it did not take the path it names\n",
				cases[i].name);
			res[i].invalid = true;
			failed = true;
			err = 0;
			continue;
		}
		if (err)
			break;
	}
	if (stop_requested)
		pr_warn("interrupted\n");
	else if (err)
		pr_warn("stopped at \"%s\": %s\n", cases[i].name, strerror(-err));
	else if (memory_measure(&b, &mem))
		failed = true;
	print_table(&b, res, &mem, (double)(bench_mono_ns() - t_start) / 1e9);

out:
	/* Unpin through the handle, or by hand if that fails or the open never finished. */
	empty_xdp__destroy(b.empty_skel);
	if (b.dp && !spw_dp_unpin_all(b.dp))
		pin_root[0] = 0;
	bench_remove_tree(pin_root);
	spw_dp_close(b.dp_notrack);
	spw_dp_close(b.dp);
	free(b.cnt_before);
	free(b.cnt_after);
	free(b.rules);
	return err || failed ? 1 : 0;
}
