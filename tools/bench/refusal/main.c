// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_refusal: what one refused SYN costs the CPU it arrives on, for spillway's refusals and
 * for what an administrator would write instead (nftables, iptables), beside a bare XDP_DROP.
 * The method is printed with the table (method() below).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spw_log.h"
#include "bench_util.h"
#include "pktbuild.h"
#include "refusal.h"

#define DEF_ROUNDS    7
#define DEF_SYNS      500000
#define DEF_MC_ROUNDS 5
#define MAX_ROUNDS    99
/* Frames one BPF_PROG_RUN call makes: the kernel runs them in batches of 64. */
#define MAX_SYNS (1U << 30)
/* The multi-CPU goal: two CPUs refuse at least this many times what one does. */
#define MC_GOAL 1.8
/* Time ksoftirqd gets to finish a trial's frames before its CPU time is read. */
#define SETTLE_US 5000

static struct bench *cleanup_b;

static void cleanup(void)
{
	struct bench *b = cleanup_b;

	if (!b)
		return;
	cleanup_b = NULL;
	br_dp_close(b);
	bench_remove_tree(b->pin_root);
	br_net_destroy(&b->net);
	bench_refusal__destroy(b->skel);
}

/* libbpf's own messages only with -v: a tc detach probes for a qdisc the veth may not have. */
static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!libbpf_verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static unsigned long env_ul(const char *name, unsigned long def, unsigned long lo, unsigned long hi)
{
	const char *v = getenv(name);
	char *end;
	unsigned long x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x < lo || x > hi) {
		pr_warn("%s=%s: want a number from %lu to %lu\n", name, v, lo, hi);
		exit(1);
	}
	return x;
}

/* The SYN the generator rewrites per frame: Linux's options, to the server's MAC and address. */
static size_t build_syn(uint8_t *buf, size_t cap)
{
	struct pkt_spec s = {
	    .saddr = BR_SHED_PREFIX,
	    .daddr = BR_SRV_ADDR,
	    .smac = {0x02, 0x62, 0x72, 0, 0, 0x02},
	    .dmac = {0x02, 0x62, 0x72, 0, 0, 0x01},
	    .sport = 40000,
	    .dport = BR_SVC_PORT,
	    .tcp_flags = PKT_TCP_SYN,
	    .seq = 0x12345678,
	    .tcp_opts_len = PKT_LINUX_SYN_OPTS,
	};

	return pkt_build(&s, buf, cap);
}

struct flood {
	struct bench *b;
	const uint8_t *frame;
	uint32_t len, n;
	int cpu;		  /* -1: stay where the caller is */
	pthread_barrier_t *start; /* NULL: start at once */
	int err;
};

/* n frames out of the sender's veth, from the sender's namespace. */
static int flood_run(struct bench *b, const uint8_t *frame, uint32_t len, uint32_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = n,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	int err;

	err = br_enter(b->net.snd_fd);
	if (err)
		return err;
	err = bpf_prog_test_run_opts(bpf_program__fd(b->skel->progs.gen_syn), &o);
	if (err)
		pr_warn("BPF_PROG_RUN of the generator failed: %s\n", strerror(-err));
	if (br_enter(b->net.self_fd))
		abort(); /* the bench's commands would run in the sender's namespace */
	return err;
}

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	int cpu;

	if (f->cpu >= 0 && bench_pin_cpu(f->cpu, &cpu))
		f->err = -EINVAL;
	if (f->start)
		pthread_barrier_wait(f->start);
	if (!f->err)
		f->err = flood_run(f->b, f->frame, f->len, f->n);
	return NULL;
}

/* One trial on the pinned CPU: CPU ns per frame, the thread's and ksoftirqd's, or < 0. */
static double trial(struct bench *b, enum br_kind k, const uint8_t *frame, uint32_t len, uint32_t n,
		    int ksoft_pid)
{
	uint64_t t0, t1, s0, s1;
	int err;

	b->skel->bss->send_frames = k != BR_CONTROL;
	err = br_refusal_up(b, k);
	err = err ?: br_mark(b);
	if (err) {
		br_refusal_down(b, k);
		return -1;
	}
	s0 = br_ksoftirqd_ns(ksoft_pid);
	t0 = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	err = flood_run(b, frame, len, n);
	t1 = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	usleep(SETTLE_US);
	s1 = br_ksoftirqd_ns(ksoft_pid);
	err = err ?: br_verify(b, k, n);
	br_refusal_down(b, k);
	if (err)
		return -1;
	return (double)(t1 - t0 + s1 - s0) / n;
}

static void method(const struct bench *b, int cpu, uint32_t n, unsigned int rounds)
{
	struct utsname u;

	uname(&u);
	printf("bench_refusal: CPU ns per refused SYN, kernel %s %s\n", u.release, u.machine);
	printf(
	    "method: veth pair %s | %s between two namespaces the bench creates (2 queues "
	    "each);\n"
	    "  the sender, pinned to CPU %d, makes %u SYNs per trial with BPF_PROG_RUN in "
	    "live-frame mode:\n"
	    "  a generator XDP program gives each a random source in " BR_SHED_PREFIX
	    "/%d (the shed prefix)\n"
	    "  and port and redirects it, so frames reach %s as XDP frames, as a NIC driver "
	    "hands them over;\n"
	    "  cost = sender thread CPU time + ksoftirqd/%d CPU time (schedstat), per SYN, minus "
	    "the\n"
	    "  sender-only control (the same frames made, dropped before they leave); softirq "
	    "work run on\n"
	    "  bh-enable is in the thread's time (no IRQ time accounting on this kernel).\n"
	    "  Trials alternate between the refusals in each of %u rounds (order rotated); "
	    "medians.\n"
	    "  Netfilter and TC trials run an XDP_PASS on %s (a veth takes XDP frames only "
	    "then),\n"
	    "  so theirs includes it and the skb the stack builds, as on a NIC. Rejects' RSTs "
	    "go back\n"
	    "  to an XDP_DROP on %s, on the same CPU. Every trial checks its frames arrived and "
	    "were\n"
	    "  refused (spillway's counters, the programs' counts, TCP InSegs of the server).\n"
	    "  netfilter: nft netdev ingress chain; iptables -t raw PREROUTING (%s);\n"
	    "  hashlimit: one bucket for the port, %d/s burst %d, above it DROP. spillway: "
	    "programs from\n"
	    "  build/, tier %d shed by level (drop, reject) or by a %d/s bucket (rate limit).\n",
	    b->net.snd, b->net.rcv, cpu, n, BR_SHED_LEN, b->net.rcv, cpu, rounds, b->net.rcv,
	    b->net.snd, "the iptables command", BR_RATE, BR_RATE, BR_SHED_TIER, BR_RATE);
}

static const char *met(double ratio, double goal)
{
	return ratio <= goal ? "met" : "UNMET";
}

/* refusals/s of one refusal with one sender and with two on two CPUs: medians of the rounds. */
static int multi_cpu(struct bench *b, enum br_kind k, const uint8_t *frame, uint32_t len,
		     uint32_t n, unsigned int rounds, int cpu, double *one, double *two)
{
	double r1[MAX_ROUNDS], r2[MAX_ROUNDS];
	unsigned int r;
	int err, i;

	b->skel->bss->send_frames = 1;
	err = br_refusal_up(b, k);
	if (err)
		return err;
	for (r = 0; r < rounds && !stop_requested && !err; r++) {
		pthread_barrier_t bar;
		struct flood f[2];
		pthread_t th[2];
		uint64_t t0, t1;
		int senders;

		for (senders = 1; senders <= 2 && !err; senders++) {
			err = br_mark(b);
			if (err)
				break;
			pthread_barrier_init(&bar, NULL, senders + 1);
			for (i = 0; i < senders; i++) {
				f[i] = (struct flood){.b = b,
						      .frame = frame,
						      .len = len,
						      .n = n,
						      .cpu = senders == 1 ? cpu : i,
						      .start = &bar};
				pthread_create(&th[i], NULL, flood_thread, &f[i]);
			}
			pthread_barrier_wait(&bar);
			t0 = bench_mono_ns();
			for (i = 0; i < senders; i++) {
				pthread_join(th[i], NULL);
				err = err ?: f[i].err;
			}
			t1 = bench_mono_ns();
			pthread_barrier_destroy(&bar);
			usleep(SETTLE_US);
			err = err ?: br_verify(b, k, (uint64_t)n * senders);
			if (!err)
				(senders == 1 ? r1 : r2)[r] = (double)n * senders * 1e9 / (t1 - t0);
		}
	}
	br_refusal_down(b, k);
	if (err || r < rounds)
		return err ?: -EINTR;
	*one = bench_median_sort(r1, rounds);
	*two = bench_median_sort(r2, rounds);
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench bench;
	struct bench *b = &bench;
	double ns[BR_KINDS][MAX_ROUNDS], med[BR_KINDS], lo[BR_KINDS], hi[BR_KINDS];
	double one, two, f_one, f_two;
	uint8_t frame[PKT_BUF_MAX];
	unsigned int rounds, mc_rounds, r, i;
	uint32_t n, len;
	int cpu, ksoft, err = 0, opt;
	bool invalid = false, bad[BR_KINDS] = {false}, skipped[BR_KINDS] = {false};

	while ((opt = getopt(argc, argv, "vh")) != -1) {
		if (opt == 'v') {
			b->verbose = true;
			continue;
		}
		printf(
		    "usage: bench_refusal [-v]\n"
		    "  CPU ns per refused SYN: spillway's refusals, nftables, iptables and a bare\n"
		    "  XDP_DROP side by side on a veth pair. Needs root, nft and iptables.\n"
		    "  Exits 0 when goals are missed (it is a benchmark), 1 when a trial did not\n"
		    "  refuse what it names or the run failed.\n"
		    "  BR_ROUNDS (default %d), BR_SYNS per trial (default %d), BR_MC_ROUNDS\n"
		    "  (multi-CPU rounds, default %d); BR_ONLY=TEXT only the refusals whose\n"
		    "  name holds TEXT (and the control, floor and nft rows); BR_DEBUG=1 prints\n"
		    "  the veths' statistics when a trial fails; -v prints every trial's counts.\n",
		    DEF_ROUNDS, DEF_SYNS, DEF_MC_ROUNDS);
		return opt == 'h' ? 0 : 1;
	}
	libbpf_verbose = b->verbose;
	libbpf_set_print(libbpf_print);
	rounds = env_ul("BR_ROUNDS", DEF_ROUNDS, 1, MAX_ROUNDS);
	n = env_ul("BR_SYNS", DEF_SYNS, 1000, MAX_SYNS);
	mc_rounds = env_ul("BR_MC_ROUNDS", DEF_MC_ROUNDS, 1, MAX_ROUNDS);

	signal(SIGINT, bench_on_signal);
	signal(SIGTERM, bench_on_signal);
	signal(SIGHUP, bench_on_signal);
	cleanup_b = b;
	atexit(cleanup);

	len = build_syn(frame, sizeof(frame));
	if (!len || bench_pin_cpu(-1, &cpu))
		return 1;
	ksoft = br_ksoftirqd_pid(cpu);
	if (ksoft < 0)
		pr_warn("no ksoftirqd/%d: its time is not counted\n", cpu);
	b->skel = bench_refusal__open_and_load();
	if (!b->skel) {
		pr_warn("loading bench_refusal's programs failed: %s\n", strerror(errno));
		return 1;
	}
	br_sweep_stale();
	err = br_net_create(&b->net);
	err = err ?: br_dp_open(b);
	if (err)
		return 1;
	b->skel->bss->host_mask = (1U << (32 - BR_SHED_LEN)) - 1;
	b->skel->bss->out_ifindex = b->net.snd_ifindex;
	if (len != sizeof(b->skel->bss->tmpl)) {
		pr_warn("the SYN is %u bytes, the generator's template %zu\n", len,
			sizeof(b->skel->bss->tmpl));
		return 1;
	}
	memcpy(b->skel->bss->tmpl, frame, len);
	frame[len++] = 0; /* the byte the generator trims (see gen_syn) */
	/* The rejects' RSTs arrive at the sender's veth: they need a program there to land. */
	err = br_enter(b->net.snd_fd);
	if (err)
		return 1;
	err = bpf_xdp_attach(b->net.snd_ifindex, bpf_program__fd(b->skel->progs.rst_sink),
			     XDP_FLAGS_DRV_MODE, NULL);
	if (br_enter(b->net.self_fd))
		abort();
	if (err) {
		pr_warn("attaching the RST sink failed: %s\n", strerror(-err));
		return 1;
	}

	method(b, cpu, n, rounds);
	for (r = 0; r < rounds && !stop_requested && !bad[BR_CONTROL]; r++) {
		for (i = 0; i < BR_KINDS && !stop_requested; i++) {
			enum br_kind k = (i + r) % BR_KINDS;
			const char *only = getenv("BR_ONLY");

			if (only && k != BR_CONTROL && k != BR_FLOOR && k != BR_NFT_DROP &&
			    !strstr(br_refusals[k].name, only)) {
				skipped[k] = true;
				continue;
			}

			if (bad[k])
				continue;
			ns[k][r] = trial(b, k, frame, len, n, ksoft);
			if (ns[k][r] < 0) {
				/* No figure for it; the others still run, the exit status says it.
				 */
				bad[k] = invalid = true;
				continue;
			}
			if (b->verbose)
				fprintf(stderr, "  round %u %-30s %.1f ns/frame\n", r + 1,
					br_refusals[k].name, ns[k][r]);
		}
	}
	if (stop_requested || bad[BR_CONTROL]) {
		pr_warn(stop_requested ? "stopped\n" : "the control failed: no figures\n");
		return 1;
	}
	/* Each round's control is set against the same round's trials. */
	for (i = 0; i < BR_KINDS; i++) {
		double v[MAX_ROUNDS];

		if (bad[i] || skipped[i]) {
			med[i] = lo[i] = hi[i] = NAN;
			continue;
		}

		for (r = 0; r < rounds; r++)
			v[r] = i == BR_CONTROL ? ns[i][r] : ns[i][r] - ns[BR_CONTROL][r];
		med[i] = bench_median_sort(v, rounds);
		lo[i] = v[0];
		hi[i] = v[rounds - 1];
	}
	printf("\n| refusal | ns per SYN | min..max | vs nft netdev drop | vs floor | goal |\n"
	       "| --- | --- | --- | --- | --- | --- |\n");
	for (i = 0; i < BR_KINDS; i++) {
		const struct br_refusal *f = &br_refusals[i];
		double vn = med[i] / med[BR_NFT_DROP], vf = med[i] / med[BR_FLOOR];
		char goal[96] = "";

		if (bad[i]) {
			printf("| %s | no figure: a trial did not refuse what it names | | | | |\n",
			       f->name);
			continue;
		}
		if (skipped[i]) {
			printf("| %s | not run (BR_ONLY) | | | | |\n", f->name);
			continue;
		}
		if (i == BR_CONTROL) {
			printf("| %s | %.0f (not subtracted) | %.0f..%.0f | | | |\n", f->name,
			       med[i], lo[i], hi[i]);
			continue;
		}
		if (f->goal_nft && f->goal_floor)
			snprintf(goal, sizeof(goal), "<= %.1fx nft: %s; <= %.0fx floor: %s",
				 f->goal_nft, met(vn, f->goal_nft), f->goal_floor,
				 met(vf, f->goal_floor));
		else if (f->goal_nft)
			snprintf(goal, sizeof(goal), "<= %.1fx nft: %s", f->goal_nft,
				 met(vn, f->goal_nft));
		printf("| %s | %.0f | %.0f..%.0f | %.2fx | %.2fx | %s |\n", f->name, med[i], lo[i],
		       hi[i], vn, vf, goal);
	}

	printf("\nmulti-CPU: the flood over both CPUs (two senders, one per CPU, each to its own "
	       "veth queue),\n"
	       "  %u SYNs each, refusals/s by wall time against one sender on CPU %d; medians "
	       "of %u rounds\n",
	       n, cpu, mc_rounds);
	err = multi_cpu(b, BR_SPW_XDP_DROP, frame, len, n, mc_rounds, cpu, &one, &two);
	err = err ?: multi_cpu(b, BR_FLOOR, frame, len, n, mc_rounds, cpu, &f_one, &f_two);
	if (err) {
		pr_warn("the multi-CPU row failed: %s\n", strerror(-err));
		return 1;
	}
	printf("| refusal | one CPU (SYN/s) | two CPUs (SYN/s) | two vs one | goal |\n"
	       "| --- | --- | --- | --- | --- |\n"
	       "| spillway XDP drop | %.0f | %.0f | %.2fx | >= %.1fx: %s |\n"
	       "| bare XDP_DROP (the floor; sender included) | %.0f | %.0f | %.2fx | |\n",
	       one, two, two / one, MC_GOAL, two / one >= MC_GOAL ? "met" : "UNMET", f_one, f_two,
	       f_two / f_one);
	if (invalid)
		pr_warn("a trial did not refuse what it names: its row has no figure\n");
	return invalid ? 1 : 0;
}
