// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_controller: how fast spillwayd reacts, and what it costs (`make bench-controller`).
 * Issue 4's goals: reaction from a report to the first shed SYN <= 2 ticks at p99; CPU per
 * tick <= 1 ms with 100,000 tracked flows; the stale-flow sweep <= 50 ms per 100,000 flows;
 * daemon RSS <= 32 MiB. A missed goal prints OVER and still exits 0 (a benchmark, not a
 * test); a run that could not measure what it names exits 1.
 *
 * Method, and why:
 * - The real daemon (build/spillwayd) runs as a child with a config this program writes into a
 *   mkdtemp folder: 20 TCP services (ports 8001..8020), each with its own pool signal at target
 *   0.85, default tier "sheddable", no interface (interfaces: []), the exporter on a free
 *   loopback port (the scrape figure, last, reloads to 8 services), the report socket and
 *   state folder in the temp folder, and a pin root of its own under /sys/fs/bpf.
 *   No network namespace: the daemon needs none when nothing is attached, and `ip netns exec`
 *   would remount /sys and hide its bpffs from us. The child gets its own process group (a
 *   Ctrl-C reaches only us, and we stop it in order) and SIGKILL when we die. Whatever
 *   happens, cleanup stops the daemon, unpins every map and removes the temp folder.
 * - Packets go through BPF_PROG_RUN on this process's own copy of the programs, opened with
 *   spw_dp_open() on the daemon's pin root: same maps, so the same decisions as an attached
 *   program would make. No traffic, no interface.
 * - Reaction: a trial sends one service a 100% pool report (and again every tick), then runs
 *   a tier-2 SYN through XDP every ~50 us (a new source port each time, so flow tracking never
 *   sees a retransmission of an admitted flow) until one is dropped, and checks that the drop
 *   was counted as shed_level for that service and tier. The source is taken from a /24 whose
 *   cohort is the tier's top one (31) under the current salt (re-read every run, it rotates):
 *   the first client the law sheds, since a cut lowers the level from the top rank down.
 *   Clients of lower cohorts follow over the next ticks at the law's pace, which
 *   tests/unit/test_control.c covers. Then the service gets 10% reports and recovers while
 *   the other services run their trials, round robin; a service is used again only once its
 *   policy is back at full admission. Each trial starts after a random delay within a tick,
 *   so reports land at every phase of the daemon's timer instead of right after a tick.
 *   Ticks are given two ways: ms / tick length, and the policy writes between the report
 *   and the drop (the service's policy generation, bumped by every tick's write and by a
 *   report acted on as it arrives, which a 100 % report is: then the SYN right after the
 *   report is already shed). The goal is judged on ms: p99 <= 2 tick lengths.
 * - Flows: before the trials, and again (after emptying the table) before the CPU figures,
 *   100,000 established flows are inserted into the pinned flow table from user space (batch
 *   update, valid spw_flow values, last_us fresh so no sweep removes them), and the active
 *   counts are bumped to match (atomically, on the mmapped spw_active, as the library's sweep
 *   decrements them): the table is consistent, as if the data plane had made the flows. So
 *   the trials run beside the daemon's 5 s sweep of a full-sized table.
 * - Tick CPU: the daemon's CPU time is read over a window of seconds from
 *   /proc/PID/task/TID/schedstat (the scheduler's ns, not utime+stime's 10 ms steps; those are
 *   printed too as a cross-check) and divided by the ticks it ran (the generation of service
 *   1's policy). No reports are sent during the windows: report datagrams cost per datagram,
 *   not per tick. One window per config (windows[]), switched by SIGHUP (the daemon keeps its
 *   state across a reload): the tick alone (sweep every 24 h: never within the window) has the
 *   goal, since the issue has the sweep "reported apart" with its own goal; the default sweep
 *   every 5 s, its cost amortised over 50 ticks, is shown beside it; then, for
 *   information and without the sweep, each service also reads its accept queue, its latency
 *   p99, and every signal kind, so a slow signal shows by itself.
 * - Sweep: spw_dp_flows_sweep() called here on the daemon's table (the daemon's own sweep is
 *   off by then), with the daemon's timeouts. Once with nothing to expire, then with every
 *   other flow stale (last_us 11 minutes old, past the 10 minute idle timeout), re-staled
 *   before each run; each run must report every flow scanned and exactly the stale half
 *   expired. Medians of several runs, wall time (CPU time beside it), scaled to 100,000 flows.
 * - RSS: VmRSS of the daemon (largest seen at the end of each tick window, with 20 services
 *   and the flows in its table) and its VmHWM, from /proc/PID/status.
 */
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
#include "pktbuild.h"
#include "bench_util.h"

/* Services the daemon controls: TCP ports BENCH_PORT_BASE.., one pool signal each. */
#define BENCH_SERVICES	20
#define BENCH_PORT_BASE 8001
/* The config's tiers: critical, standard, sheddable. Trials shed the last one. */
#define BENCH_TIERS	3
#define BENCH_SHED_TIER 2
#define BENCH_CEILING	(BENCH_TIERS * SPW_COHORTS) /* full admission */
/* The cohort a cut sheds first: the top of the tier. */
#define BENCH_TOP_COHORT (SPW_COHORTS - 1)

/* The daemon's tick (its default) and the timeouts of its sweep (their defaults). */
#define TICK_NS		   (100ULL * 1000000ULL)
#define SYN_TIMEOUT_NS	   (30ULL * 1000000000ULL)
#define IDLE_TIMEOUT_NS	   (600ULL * 1000000000ULL)
#define UDP_TIMEOUT_NS	   (60ULL * 1000000000ULL)
/* Sweep period of the first window (the default), and one that never comes within a run. */
#define SWEEP_DEFAULT_S	   5
#define SWEEP_NEVER	   "24h"
/* A stale flow's age: a minute past the idle timeout, so no rounding keeps it. */
#define STALE_AGE_US	   ((IDLE_TIMEOUT_NS / 1000) + 60ULL * 1000000ULL)

/* Pool reports: capacity, and in_use for a saturated and for a quiet service. */
#define POOL_CAPACITY 100
#define POOL_FULL     100
#define POOL_LOW      10

/* Goals (issue 4). */
#define GOAL_REACTION_TICKS 2.0
#define GOAL_TICK_CPU_MS    1.0
#define GOAL_SWEEP_MS	    50.0 /* per GOAL_SWEEP_FLOWS */
#define GOAL_SWEEP_FLOWS    100000
#define GOAL_RSS_MIB	    32.0

/* Defaults of the options, and their bounds. */
#define DEF_TRIALS	100
#define MAX_TRIALS	1000
#define DEF_FLOWS	100000
#define MIN_FLOWS	1000
#define MAX_FLOWS	200000 /* the table holds SPW_FLOWS_DEFAULT (262144): room for the rest */
#define DEF_WINDOW_S	10
#define MAX_WINDOW_S	120
#define SWEEP_RUNS	5

/* A trial gives up after this many ticks without a shed SYN (recorded as a miss). */
#define TRIAL_TIMEOUT_TICKS 30
/* Pause between test runs while waiting for the shed: resolution far below a tick, and few
 * enough inserts (a few hundred per trial) to stay clear of the flood guard and table size. */
#define SPIN_PAUSE_NS 50000ULL
/* Longest wait for a service to recover before a trial, and for the daemon to start. */
#define READY_TIMEOUT_NS  (20ULL * 1000000000ULL)
#define START_TIMEOUT_NS  (20ULL * 1000000000ULL)
#define RELOAD_TIMEOUT_NS (10ULL * 1000000000ULL)
/* Ticks let pass after a reload before a window opens. */
#define SETTLE_TICKS 3
/* Flows per batch syscall when inserting. */
#define INSERT_BATCH 8192

/* Lines of the daemon's log shown when it fails. */
#define LOG_TAIL_LINES 20

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL };

	nanosleep(&ts, NULL); /* a signal cuts it short: callers check stop_requested */
}

/* splitmix64: trial delays only, no need for more. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* IPv4 address (host order) in the data plane's 16-byte IPv4-mapped form. */
static void v4_mapped(uint32_t ip, uint8_t out[SPW_ADDR_LEN])
{
	memset(out, 0, SPW_ADDR_LEN);
	out[10] = 0xff;
	out[11] = 0xff;
	out[12] = ip >> 24;
	out[13] = ip >> 16;
	out[14] = ip >> 8;
	out[15] = ip;
}

/* The daemon's configs: 20 services with a pool signal each, and what differs. */
enum cfg_kind {
	CFG_POOL_SWEEP,	   /* sweep every SWEEP_DEFAULT_S (the default) */
	CFG_POOL_NO_SWEEP, /* sweep never within the run; the same for all below */
	CFG_ACCEPT_QUEUE,  /* + accept_queue on each service (NETLINK_SOCK_DIAG) */
	CFG_LATENCY,	   /* + latency_p99 on each service (per-CPU histogram reads) */
	CFG_ALL_SIGNALS,   /* + accept_queue, latency_p99 and connections on each */
	CFG_SCRAPE,	   /* SCRAPE_SERVICES services only, for the scrape figure (issue 6) */
};

/* Scrape figure (issue 6): /metrics with this many services of 3 tiers, this many GETs. */
#define SCRAPE_SERVICES 8
#define SCRAPE_RUNS	200
/* Body buffer: 8 services x 3 tiers format to some 100 KiB. */
#define SCRAPE_BUF (4U << 20)

/* The tick-CPU windows, in the order they run; the second (the tick alone) has the goal. */
static const struct {
	enum cfg_kind cfg;
	const char *name;
} windows[] = {
	{ CFG_POOL_SWEEP, "pool signals, sweep every 5 s (default)" },
	{ CFG_POOL_NO_SWEEP, "pool signals, no sweep" },
	{ CFG_ACCEPT_QUEUE, "+ accept_queue, no sweep" },
	{ CFG_LATENCY, "+ latency_p99, no sweep" },
	{ CFG_ALL_SIGNALS, "every signal kind, no sweep" },
};
#define NWINDOWS (sizeof(windows) / sizeof(windows[0]))
#define WIN_SWEEP    0
#define WIN_NO_SWEEP 1

struct trial {
	double ms;	/* report sent -> first dropped SYN; INFINITY when it never came */
	uint32_t ticks; /* policy writes in between (ticks, plus an urgent write) */
};

/* Daemon CPU and ticks at one instant. */
struct cpu_sample {
	uint64_t sched_ns;  /* sum of its threads' sum_exec_runtime */
	uint64_t clk_ticks; /* utime + stime, in clock ticks */
	uint32_t generation;
	uint64_t at_ns;
};

struct window {
	const char *name;
	bool done;
	double ms_per_tick;
	double ms_per_tick_stat; /* from utime + stime */
	uint64_t ticks;
	double seconds;
};

struct sweep_fig {
	bool done;
	double wall_ms, cpu_ms; /* medians */
	double wall_min, wall_max;
	uint64_t scanned, expired;
};

struct bench {
	const char *daemon_path;
	bool daemon_verbose;
	uint32_t trials, nflows, window_s;

	char tmpdir[64];
	char cfg_path[128], cfg_tmp[128], sock_path[108], log_path[128];
	char pin_root[128];
	pid_t pid;
	bool daemon_dead;
	uint32_t reloads; /* SIGHUPs sent: the log must show as many "config reloaded" */

	struct spw_dataplane *dp;
	int prog_fd;
	int flows_fd;
	int active_fd;
	__u64 *active;
	size_t active_len;
	int report_fd;
	struct sockaddr_un report_sa;

	uint32_t svc_id[BENCH_SERVICES];
	uint32_t pool_pct[BENCH_SERVICES]; /* what each service's reports say now */
	bool reporting;			   /* the reaction trials keep every signal fresh */
	uint64_t next_report_ns;

	/* Trial SYNs: the salt the source was picked for, its /24, and a running counter. */
	uint32_t salt;
	bool salt_known;
	uint32_t src_net;
	uint64_t syn_seq;

	/* Flows inserted for the tick and sweep figures. */
	struct spw_flow_key *keys;
	struct spw_flow *vals;
	double insert_ms;

	/* Results. */
	struct trial *res;
	uint32_t ntrials_done, timeouts;
	struct window win[NWINDOWS];
	double derived_sweep_ms;
	struct sweep_fig sweep_none, sweep_half;
	uint64_t rss_kib, hwm_kib;

	/* Scrape (issue 6): the exporter on a free loopback port, medians of SCRAPE_RUNS GETs. */
	char metrics_listen[32]; /* "127.0.0.1:PORT"; "off" when no port could be found */
	uint16_t metrics_port;
	bool scrape_done;
	double scrape_med_ms, scrape_p99_ms;
	size_t scrape_bytes;
};

/* ---- the daemon ------------------------------------------------------------------------ */

static int write_config(struct bench *b, enum cfg_kind kind)
{
	FILE *f;
	int i;

	f = fopen(b->cfg_tmp, "w");
	if (!f) {
		int err = -errno;

		pr_warn("cannot write the daemon's config %s: %s\n", b->cfg_tmp, strerror(-err));
		return err;
	}
	fprintf(f, "# written by bench_controller, removed when it ends\n"
		   "interfaces: []\n"
		   "tiers: [critical, standard, sheddable]\n"
		   "services:\n");
	for (i = 0; i < (kind == CFG_SCRAPE ? SCRAPE_SERVICES : BENCH_SERVICES); i++) {
		fprintf(f,
			"  - name: svc%02d\n"
			"    port: %d\n"
			"    default_tier: sheddable\n"
			"    signals:\n"
			"      - {pool: pool%02d, target: 0.85}\n",
			i + 1, BENCH_PORT_BASE + i, i + 1);
		/* Nothing listens, no response is timed, no target is reached: the signals
		 * are read every tick and the levels stay put. */
		if (kind == CFG_ACCEPT_QUEUE || kind == CFG_ALL_SIGNALS)
			fprintf(f, "      - {accept_queue: 0.5}\n");
		if (kind == CFG_LATENCY || kind == CFG_ALL_SIGNALS)
			fprintf(f, "      - {latency_p99: 200ms}\n");
		if (kind == CFG_ALL_SIGNALS)
			fprintf(f, "      - {connections: 1000000}\n");
	}
	fprintf(f,
		"controller:\n"
		"  tick: %llums\n"
		"  sweep_every: %s\n"
		"metrics: {listen: \"%s\"}\n"
		"report: {socket: %s}\n"
		"state_dir: %s\n",
		(unsigned long long)(TICK_NS / 1000000ULL),
		kind == CFG_POOL_SWEEP ? "5s" : SWEEP_NEVER,
		b->metrics_listen[0] ? b->metrics_listen : "off", b->sock_path, b->tmpdir);
	if (fclose(f)) {
		int err = -errno;

		pr_warn("cannot write the daemon's config %s: %s\n", b->cfg_tmp, strerror(-err));
		return err;
	}
	if (rename(b->cfg_tmp, b->cfg_path)) {
		int err = -errno;

		pr_warn("cannot move the config into place: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

static void log_tail(struct bench *b)
{
	char *lines[LOG_TAIL_LINES] = {};
	char buf[512];
	unsigned int n = 0, i;
	FILE *f = fopen(b->log_path, "r");

	if (!f)
		return;
	while (fgets(buf, sizeof(buf), f)) {
		free(lines[n % LOG_TAIL_LINES]);
		lines[n % LOG_TAIL_LINES] = strdup(buf);
		n++;
	}
	fclose(f);
	fprintf(stderr, "--- last lines of the daemon's log (%s) ---\n", b->log_path);
	for (i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++) {
		if (lines[i % LOG_TAIL_LINES])
			fputs(lines[i % LOG_TAIL_LINES], stderr);
	}
	fprintf(stderr, "---\n");
	for (i = 0; i < LOG_TAIL_LINES; i++)
		free(lines[i]);
}

/* False once the daemon has exited (said once, with its log). */
static bool daemon_alive(struct bench *b)
{
	int status;

	if (b->daemon_dead || b->pid <= 0)
		return false;
	if (waitpid(b->pid, &status, WNOHANG) != b->pid)
		return true;
	b->daemon_dead = true;
	b->pid = -1;
	if (WIFEXITED(status))
		pr_warn("spillwayd exited with status %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		pr_warn("spillwayd was killed by signal %d\n", WTERMSIG(status));
	log_tail(b);
	return false;
}

static int daemon_start(struct bench *b)
{
	char *argv[8];
	int argc = 0, fd;
	pid_t pid;

	argv[argc++] = (char *)b->daemon_path;
	argv[argc++] = "-c";
	argv[argc++] = b->cfg_path;
	argv[argc++] = "--pin-root";
	argv[argc++] = b->pin_root;
	if (b->daemon_verbose)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0) {
		int err = -errno;

		pr_warn("cannot start spillwayd: %s\n", strerror(-err));
		return err;
	}
	if (pid == 0) {
		/* Own process group: Ctrl-C reaches the bench, which stops the daemon in order.
		 * Killed with us, should we die without cleanup. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(b->daemon_path, argv);
		fprintf(stderr, "cannot run %s: %s\n", b->daemon_path, strerror(errno));
		_exit(127);
	}
	b->pid = pid;
	return 0;
}

/* SIGTERM, then SIGKILL if it has not gone within 3 s. */
static void daemon_stop(struct bench *b)
{
	uint64_t deadline;
	int status;

	if (b->pid <= 0)
		return;
	kill(b->pid, SIGTERM);
	deadline = bench_mono_ns() + 3000000000ULL;
	while (waitpid(b->pid, &status, WNOHANG) != b->pid) {
		if (bench_mono_ns() > deadline) {
			pr_warn("spillwayd ignored SIGTERM; killing it\n");
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			break;
		}
		sleep_ns(10000000ULL);
	}
	b->pid = -1;
}

static unsigned int log_count(struct bench *b, const char *needle)
{
	unsigned int n = 0;
	char buf[512];
	FILE *f = fopen(b->log_path, "r");

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		n += strstr(buf, needle) != NULL;
	fclose(f);
	return n;
}

/* Waits for the count-th log line with needle; a line with fail_needle fails at once. */
static int wait_log(struct bench *b, const char *needle, unsigned int count,
		    const char *fail_needle, uint64_t timeout_ns)
{
	uint64_t deadline = bench_mono_ns() + timeout_ns;

	while (log_count(b, needle) < count) {
		if (stop_requested)
			return -EINTR;
		if (!daemon_alive(b))
			return -ESRCH;
		if (fail_needle && log_count(b, fail_needle)) {
			pr_warn("spillwayd logged \"%s\"\n", fail_needle);
			log_tail(b);
			return -EPROTO;
		}
		if (bench_mono_ns() > deadline) {
			pr_warn("spillwayd did not log \"%s\" in time\n", needle);
			log_tail(b);
			return -ETIMEDOUT;
		}
		sleep_ns(20000000ULL);
	}
	return 0;
}

static int daemon_reload(struct bench *b, enum cfg_kind kind)
{
	int err = write_config(b, kind);

	if (err)
		return err;
	if (kill(b->pid, SIGHUP)) {
		err = -errno;
		pr_warn("cannot signal spillwayd: %s\n", strerror(-err));
		return err;
	}
	b->reloads++;
	return wait_log(b, "config reloaded", b->reloads, "config reload failed",
			RELOAD_TIMEOUT_NS);
}

/* ---- the daemon's state, from /proc and the maps ------------------------------------------ */

static int read_cpu(struct bench *b, struct cpu_sample *s)
{
	char path[PATH_MAX], buf[1024], *p;
	unsigned long long ns, ut, st;
	struct spw_policy pol;
	struct dirent *de;
	ssize_t n;
	FILE *f;
	DIR *dir;
	int fd, err;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%d/task", (int)b->pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)b->pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* a thread that just ended */
		if (fscanf(f, "%llu", &ns) == 1)
			s->sched_ns += ns;
		fclose(f);
	}
	closedir(dir);

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* Fields after the command name, which may hold spaces: state is field 3, utime 14. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -EIO;
	s->clk_ticks = ut + st;

	err = spw_dp_policy_get(b->dp, b->svc_id[0], &pol);
	if (err)
		return err;
	s->generation = pol.generation;
	s->at_ns = bench_mono_ns();
	return 0;
}

static void read_rss(struct bench *b)
{
	char path[64], line[256];
	unsigned long long kib;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1 && kib > b->rss_kib)
			b->rss_kib = kib;
		if (sscanf(line, "VmHWM: %llu kB", &kib) == 1 && kib > b->hwm_kib)
			b->hwm_kib = kib;
	}
	fclose(f);
}

/* ---- reports ------------------------------------------------------------------------------ */

static int report_send(struct bench *b, int svc)
{
	char line[128];
	int len;

	len = snprintf(line, sizeof(line), "pool pool%02d in_use=%u capacity=%u", svc + 1,
		       b->pool_pct[svc] * POOL_CAPACITY / 100, POOL_CAPACITY);
	if (sendto(b->report_fd, line, len, 0, (struct sockaddr *)&b->report_sa,
		   sizeof(b->report_sa)) != len) {
		int err = -errno;

		pr_warn("cannot send a report to %s: %s\n", b->sock_path, strerror(-err));
		return err;
	}
	return 0;
}

/* Every service's current report, once a tick: no signal goes stale. */
static int reports_refresh(struct bench *b, uint64_t now)
{
	int i, err;

	if (!b->reporting || now < b->next_report_ns)
		return 0;
	b->next_report_ns = now + TICK_NS;
	for (i = 0; i < BENCH_SERVICES; i++) {
		err = report_send(b, i);
		if (err)
			return err;
	}
	return 0;
}

/* ---- the flow table ----------------------------------------------------------------------- */

static int open_pinned(struct bench *b, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", b->pin_root, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		int err = -errno;

		pr_warn("cannot open the pinned map %s: %s\n", path, strerror(-err));
		return err;
	}
	return fd;
}

static void active_add(struct bench *b, const struct spw_flow *v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		__atomic_fetch_add(&b->active[v[i].svc_id * SPW_MAX_TIERS + v[i].tier], 1,
				   __ATOMIC_RELAXED);
}

static uint64_t active_sum(struct bench *b)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < SPW_ACTIVE_ENTRIES; i++)
		sum += __atomic_load_n(&b->active[i], __ATOMIC_RELAXED);
	return sum;
}

static int flows_update(struct bench *b, struct spw_flow_key *keys, struct spw_flow *vals,
			uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	uint32_t done = 0, count;

	while (done < n) {
		count = n - done < INSERT_BATCH ? n - done : INSERT_BATCH;
		if (bpf_map_update_batch(b->flows_fd, keys + done, vals + done, &count, &opts)) {
			int err = -errno;

			pr_warn("cannot insert flows into the table: %s\n", strerror(-err));
			return err;
		}
		done += count;
	}
	return 0;
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
		v->cohort = spw_cohort(k->saddr, g.cohort_salt);
		v->state = SPW_FLOW_ESTABLISHED;
	}
	t0 = bench_mono_ns();
	err = flows_update(b, b->keys, b->vals, b->nflows);
	if (err)
		return err;
	b->insert_ms = (double)(bench_mono_ns() - t0) / 1e6;
	active_add(b, b->vals, b->nflows);
	return 0;
}

/* Empties the table (the trials' SYNs are flows too), then fills it with the bench's flows. */
static int flows_fill(struct bench *b)
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

/* ---- the reaction trials ------------------------------------------------------------------ */

/* A /24 whose clients are in the top cohort under salt (about 32 candidates to try). */
static uint32_t top_cohort_net(uint32_t salt)
{
	uint8_t addr[SPW_ADDR_LEN];
	uint32_t net;

	/* 10.64.0.0/10: clear of everything else the bench or the tests use. */
	for (net = 0x0a400000; net < 0x0a800000; net += 0x100) {
		v4_mapped(net, addr);
		if (spw_cohort(addr, salt) == BENCH_TOP_COHORT)
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
	snprintf(saddr, sizeof(saddr), "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
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

	if (spw_dp_counter_read(b->dp, b->svc_id[svc], BENCH_SHED_TIER, SPW_REASON_SHED_LEVEL,
				&c))
		return UINT64_MAX;
	return c.packets;
}

/* Sleeps until `until`, sending the reports that fall due. */
static int idle_until(struct bench *b, uint64_t until)
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
			pr_warn("svc%02d: the dropped SYN was not counted as shed_level of tier %d\n",
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

static int phase_reaction(struct bench *b)
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

/* ---- tick CPU ----------------------------------------------------------------------------- */

static int measure_window(struct bench *b, struct window *w)
{
	struct cpu_sample s0, s1;
	uint64_t end;
	long hz = sysconf(_SC_CLK_TCK);
	int err;

	/* Let a reload's own work pass before the window opens. */
	err = idle_until(b, bench_mono_ns() + SETTLE_TICKS * TICK_NS);
	if (err)
		return err;
	err = read_cpu(b, &s0);
	if (err)
		return err;
	end = s0.at_ns + (uint64_t)b->window_s * 1000000000ULL;
	while (bench_mono_ns() < end) {
		if (stop_requested)
			return -EINTR;
		if (!daemon_alive(b))
			return -ESRCH;
		sleep_ns(100000000ULL);
	}
	err = read_cpu(b, &s1);
	if (err)
		return err;
	read_rss(b);
	w->ticks = s1.generation - s0.generation;
	w->seconds = (double)(s1.at_ns - s0.at_ns) / 1e9;
	if (!w->ticks) {
		pr_warn("%s: the daemon ran no tick in %.1f s\n", w->name, w->seconds);
		return -EPROTO;
	}
	w->ms_per_tick = (double)(s1.sched_ns - s0.sched_ns) / 1e6 / (double)w->ticks;
	w->ms_per_tick_stat =
		(double)(s1.clk_ticks - s0.clk_ticks) * 1000.0 / (double)hz / (double)w->ticks;
	w->done = true;
	pr_info("%s: %llu ticks in %.1f s, %.3f ms CPU per tick\n", w->name,
		(unsigned long long)w->ticks, w->seconds, w->ms_per_tick);
	return 0;
}

static double percentile(double *v, int n, double p);

static int phase_tick_cpu(struct bench *b)
{
	unsigned int i;
	int err;

	/* From here on no reports: they cost per datagram, not per tick (signals go stale). */
	b->reporting = false;
	err = flows_fill(b);
	if (err)
		return err;
	for (i = 0; i < NWINDOWS; i++) {
		/* The daemon starts with the first config. */
		if (i > 0) {
			err = daemon_reload(b, windows[i].cfg);
			if (err)
				return err;
		}
		b->win[i].name = windows[i].name;
		err = measure_window(b, &b->win[i]);
		if (err)
			return err;
	}
	/* What the daemon's own sweep cost, from the difference of the first two windows. */
	b->derived_sweep_ms = (b->win[WIN_SWEEP].ms_per_tick - b->win[WIN_NO_SWEEP].ms_per_tick) *
			      (double)(SWEEP_DEFAULT_S * 1000000000ULL / TICK_NS);
	/* The sweep figures need the daemon's own sweep off. */
	return daemon_reload(b, CFG_POOL_NO_SWEEP);
}

/* ---- the scrape (issue 6) ---------------------------------------------------------------- */

/*
 * A free loopback port for the exporter: bound to port 0, read back, closed. The daemon binds
 * it a moment later; another process taking it in between makes the daemon fail to start,
 * which the run reports.
 */
static void pick_metrics_port(struct bench *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len)) {
		b->metrics_port = ntohs(sa.sin_port);
		snprintf(b->metrics_listen, sizeof(b->metrics_listen), "127.0.0.1:%u",
			 b->metrics_port);
	}
	if (fd >= 0)
		close(fd);
}

/* One GET /metrics over HTTP/1.0 (the server closes: end of file is end of body). */
static int scrape_once(struct bench *b, char *buf, size_t len, size_t *got)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(b->metrics_port) };
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		err = -errno;
		goto out;
	}
	*got = 0;
	while (*got < len - 1 && (n = recv(fd, buf + *got, len - 1 - *got, 0)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		*got += (size_t)n;
	}
	buf[*got] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) || !strstr(buf, " 200 "))
		err = -EPROTO;
out:
	close(fd);
	return err;
}

/*
 * Scrape time: SCRAPE_RUNS sequential GETs of /metrics, connect to last byte, with
 * SCRAPE_SERVICES services of 3 tiers (a reload drops the others). What the tick pays for the
 * exporter (the snapshot it fills) is in the tick-CPU figures above, which run with it.
 */
static int phase_scrape(struct bench *b)
{
	double ms[SCRAPE_RUNS];
	char *buf;
	uint64_t t0;
	size_t got = 0;
	int i, err;

	if (!b->metrics_port) {
		pr_warn("scrape: no free loopback port for the exporter, no figure\n");
		return 0;
	}
	err = daemon_reload(b, CFG_SCRAPE);
	if (err)
		return err;
	/* Latency and reports are refreshed once a second: let the snapshot hold them. */
	sleep_ns(1500000000ULL);
	buf = malloc(SCRAPE_BUF);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < SCRAPE_RUNS && !stop_requested; i++) {
		t0 = bench_mono_ns();
		err = scrape_once(b, buf, SCRAPE_BUF, &got);
		if (err) {
			pr_warn("scrape of 127.0.0.1:%u failed: %s\n", b->metrics_port,
				strerror(-err));
			free(buf);
			return err;
		}
		ms[i] = (double)(bench_mono_ns() - t0) / 1e6;
	}
	free(buf);
	if (i < SCRAPE_RUNS)
		return -EINTR;
	b->scrape_p99_ms = percentile(ms, SCRAPE_RUNS, 0.99);
	b->scrape_med_ms = bench_median_sort(ms, SCRAPE_RUNS);
	b->scrape_bytes = got;
	b->scrape_done = true;
	return 0;
}

/* ---- the sweep ---------------------------------------------------------------------------- */

/* p-th percentile by nearest rank: the smallest value with at least p of them at or below. */
static double percentile(double *v, int n, double p)
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

static int phase_sweep(struct bench *b)
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
	err = flows_update(b, b->keys, b->vals, b->nflows);
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
		err = flows_update(b, skeys, svals, nstale);
		if (err)
			goto out;
		if (run > 0)
			active_add(b, svals, nstale); /* the last run removed them */
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

/* ---- the table ---------------------------------------------------------------------------- */

static unsigned int print_row(const char *name, const char *measured, const char *goal,
			      int verdict)
{
	/* verdict: 1 met, 0 missed, -1 information (no goal), -2 no figure */
	static const char *const words[] = { "NO FIGURE", "-", "OVER", "ok" };

	printf("%-50s %-26s %-12s %s\n", name, measured, goal, words[verdict + 2]);
	return verdict == 0;
}

static unsigned int print_table(struct bench *b, double elapsed_s)
{
	double tick_ms = (double)TICK_NS / 1e6, scale = (double)GOAL_SWEEP_FLOWS / b->nflows;
	double ms[MAX_TRIALS], ticks[MAX_TRIALS], med, p99, tmed, tp99;
	char text[96], goal[32], name[80];
	unsigned int over = 0, n = b->ntrials_done, i;
	struct utsname u;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	printf("\nspillwayd controller benchmark: %d TCP services with a pool signal each, tick "
	       "%.0f ms, kernel %s, %ld CPUs\n",
	       BENCH_SERVICES, tick_ms, u.release, ncpu);
	printf("SYNs through BPF_PROG_RUN on the daemon's maps; daemon CPU from "
	       "/proc/PID/task/*/schedstat\n\n");
	printf("%-50s %-26s %-12s %s\n", "figure", "measured", "goal", "");

	/* Reaction. */
	for (i = 0; i < n; i++) {
		ms[i] = b->res[i].ms;
		ticks[i] = b->res[i].ticks;
	}
	snprintf(goal, sizeof(goal), "<= %.0f ticks", GOAL_REACTION_TICKS);
	if (n) {
		med = bench_median_sort(ms, n);
		p99 = percentile(ms, n, 0.99);
		tmed = bench_median_sort(ticks, n);
		tp99 = percentile(ticks, n, 0.99);
		snprintf(name, sizeof(name), "reaction, report -> first shed SYN, median (%u)", n);
		snprintf(text, sizeof(text), "%.1f ms = %.2f ticks (%.0f)", med, med / tick_ms,
			 tmed);
		print_row(name, text, "", -1);
		snprintf(text, sizeof(text), "%.1f ms = %.2f ticks (%.0f)", p99, p99 / tick_ms,
			 tp99);
		over += print_row("reaction, p99", text, goal, p99 <= GOAL_REACTION_TICKS * tick_ms);
	} else {
		over += print_row("reaction, report -> first shed SYN", "", goal, -2);
	}

	/* Tick CPU. */
	snprintf(goal, sizeof(goal), "<= %.0f ms", GOAL_TICK_CPU_MS);
	for (i = 0; i < NWINDOWS; i++) {
		const struct window *w = &b->win[i];
		/* The sweep has its own goal below (issue 4: "reported apart"). */
		bool has_goal = i == WIN_NO_SWEEP;

		snprintf(name, sizeof(name), "%s%s",
			 has_goal || i == WIN_SWEEP ? "tick CPU, " : "  info: ", windows[i].name);
		snprintf(text, sizeof(text), "%.3f ms", w->ms_per_tick);
		if (has_goal)
			over += print_row(name, w->done ? text : "", goal,
					  w->done ? w->ms_per_tick <= GOAL_TICK_CPU_MS : -2);
		else if (w->done)
			print_row(name, text, "", -1);
	}
	if (b->win[WIN_SWEEP].done && b->win[WIN_NO_SWEEP].done) {
		snprintf(text, sizeof(text), "%.1f ms", b->derived_sweep_ms);
		print_row("  info: the daemon's sweep, from the two above", text, "", -1);
	}

	/* Sweep. */
	snprintf(goal, sizeof(goal), "<= %.0f ms", GOAL_SWEEP_MS);
	snprintf(name, sizeof(name), "sweep, %u flows, none stale (per 100k)", b->nflows);
	if (b->sweep_none.done) {
		snprintf(text, sizeof(text), "%.1f ms (CPU %.1f)", b->sweep_none.wall_ms * scale,
			 b->sweep_none.cpu_ms * scale);
		over += print_row(name, text, goal, b->sweep_none.wall_ms * scale <= GOAL_SWEEP_MS);
	} else {
		over += print_row(name, "", goal, -2);
	}
	snprintf(name, sizeof(name), "sweep, %u flows, half stale (per 100k)", b->nflows);
	if (b->sweep_half.done) {
		snprintf(text, sizeof(text), "%.1f ms (CPU %.1f)", b->sweep_half.wall_ms * scale,
			 b->sweep_half.cpu_ms * scale);
		over += print_row(name, text, goal, b->sweep_half.wall_ms * scale <= GOAL_SWEEP_MS);
	} else {
		over += print_row(name, "", goal, -2);
	}

	/* RSS. */
	snprintf(goal, sizeof(goal), "<= %.0f MiB", GOAL_RSS_MIB);
	snprintf(name, sizeof(name), "daemon RSS, %d services, %u flows", BENCH_SERVICES,
		 b->nflows);
	if (b->rss_kib) {
		snprintf(text, sizeof(text), "%.1f MiB (peak %.1f)", b->rss_kib / 1024.0,
			 b->hwm_kib / 1024.0);
		over += print_row(name, text, goal, b->rss_kib / 1024.0 <= GOAL_RSS_MIB);
	} else {
		over += print_row(name, "", goal, -2);
	}

	printf("\nnotes:\n");
	if (n)
		printf("  reaction: (N) = policy writes between report and drop; %u of %u "
		       "trials timed out (> %d ticks); SYN source in the tier's top cohort; "
		       "%llu SYNs run\n",
		       b->timeouts, n, TRIAL_TIMEOUT_TICKS, (unsigned long long)b->syn_seq);
	if (b->win[0].done)
		printf("  tick CPU: %u flows in the table, no reports during the windows\n",
		       b->nflows);
	for (i = 0; i < NWINDOWS; i++) {
		if (b->win[i].done)
			printf("  %-38s %4llu ticks in %4.1f s; utime+stime says %.2f ms/tick\n",
			       b->win[i].name, (unsigned long long)b->win[i].ticks,
			       b->win[i].seconds, b->win[i].ms_per_tick_stat);
	}
	if (b->scrape_done)
		printf("  scrape: %d services x 3 tiers, %d GETs of /metrics in a row, %zu bytes "
		       "each; median %.3f ms, p99 %.3f ms\n",
		       SCRAPE_SERVICES, SCRAPE_RUNS, b->scrape_bytes, b->scrape_med_ms,
		       b->scrape_p99_ms);
	if (b->insert_ms > 0)
		printf("  inserting %u flows (batch update): %.1f ms\n", b->nflows, b->insert_ms);
	if (b->sweep_none.done)
		printf("  sweep, none stale: wall %.1f..%.1f ms over %d runs, %llu scanned\n",
		       b->sweep_none.wall_min, b->sweep_none.wall_max, SWEEP_RUNS,
		       (unsigned long long)b->sweep_none.scanned);
	if (b->sweep_half.done)
		printf("  sweep, half stale: wall %.1f..%.1f ms over %d runs, %llu scanned, "
		       "%llu expired\n",
		       b->sweep_half.wall_min, b->sweep_half.wall_max, SWEEP_RUNS,
		       (unsigned long long)b->sweep_half.scanned,
		       (unsigned long long)b->sweep_half.expired);
	printf("\ntotal run time %.1f s\n", elapsed_s);
	if (over)
		printf("%u goal%s MISSED (OVER above)\n", over, over > 1 ? "s" : "");
	return over;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_controller [-d SPILLWAYD] [-n TRIALS] [-f FLOWS] [-w SECONDS] [-v]\n"
		"\n"
		"  -d, --daemon PATH    spillwayd to run (default: spillwayd beside this program)\n"
		"  -n, --trials N       reaction trials (default %d, at most %d)\n"
		"  -f, --flows N        flows in the table for the CPU and sweep figures\n"
		"                       (default %d, %d..%d, even)\n"
		"  -w, --window S       seconds per tick-CPU window (default %d); five windows\n"
		"  -v, --verbose        the daemon logs at debug level (its log is removed after)\n"
		"  -h, --help           this text\n"
		"\n"
		"Runs as root: it starts the daemon on a pin root of its own under /sys/fs/bpf and\n"
		"removes everything when it ends, Ctrl-C included. A missed goal prints OVER and\n"
		"exits 0; a figure that could not be measured exits 1.\n",
		DEF_TRIALS, MAX_TRIALS, DEF_FLOWS, MIN_FLOWS, MAX_FLOWS, DEF_WINDOW_S);
}

static int opt_u32(const char *name, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char err[128];

	if (spw_parse_u32(text, min, max, out, err, sizeof(err))) {
		fprintf(stderr, "bench_controller: --%s: %s\n", name, err);
		return -EINVAL;
	}
	return 0;
}

static const char *default_daemon(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n <= 0)
		return "build/spillwayd";
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) + sizeof("/spillwayd") > sizeof(path))
		return "build/spillwayd";
	strcpy(slash, "/spillwayd");
	return path;
}

static int setup(struct bench *b)
{
	char tmpl[] = "/tmp/spw-cbench.XXXXXX";
	struct spw_dp_opts dpo = {};
	uint8_t daddr[SPW_ADDR_LEN];
	int i, err;

	if (!mkdtemp(tmpl)) {
		err = -errno;
		pr_warn("cannot create a temp folder: %s\n", strerror(-err));
		return err;
	}
	snprintf(b->tmpdir, sizeof(b->tmpdir), "%s", tmpl);
	snprintf(b->cfg_path, sizeof(b->cfg_path), "%s/spillway.yaml", b->tmpdir);
	snprintf(b->cfg_tmp, sizeof(b->cfg_tmp), "%s/spillway.yaml.tmp", b->tmpdir);
	snprintf(b->sock_path, sizeof(b->sock_path), "%s/report.sock", b->tmpdir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/spillwayd.log", b->tmpdir);
	/* Unique per run: pid and time. */
	snprintf(b->pin_root, sizeof(b->pin_root), "/sys/fs/bpf/spw-cbench-%d-%llx", (int)getpid(),
		 (unsigned long long)bench_clock_ns(CLOCK_REALTIME));

	err = write_config(b, CFG_POOL_SWEEP);
	if (err)
		return err;
	err = daemon_start(b);
	if (err)
		return err;
	/* After "running" the maps are pinned and the services applied. */
	err = wait_log(b, "running:", 1, NULL, START_TIMEOUT_NS);
	if (err)
		return err;

	dpo.pin_root = b->pin_root;
	err = spw_dp_open(&b->dp, &dpo);
	if (err) {
		pr_warn("cannot open the daemon's data plane under %s: %s\n", b->pin_root,
			strerror(-err));
		return err;
	}
	b->prog_fd = spw_dp_prog_fd(b->dp, SPW_PROG_XDP);
	b->flows_fd = open_pinned(b, SPW_MAP_NAME(flows));
	if (b->flows_fd < 0)
		return b->flows_fd;
	b->active_fd = open_pinned(b, SPW_MAP_NAME(active));
	if (b->active_fd < 0)
		return b->active_fd;
	b->active_len = SPW_ACTIVE_ENTRIES * sizeof(__u64);
	b->active = mmap(NULL, b->active_len, PROT_READ | PROT_WRITE, MAP_SHARED, b->active_fd, 0);
	if (b->active == MAP_FAILED) {
		err = -errno;
		b->active = NULL;
		pr_warn("cannot map the active-flow counts: %s\n", strerror(-err));
		return err;
	}

	/* Which id the daemon gave each port, and that its policy is live. */
	v4_mapped(0xc000020a, daddr);
	for (i = 0; i < BENCH_SERVICES; i++) {
		struct spw_policy p;

		err = spw_dp_service_lookup(b->dp, IPPROTO_TCP, BENCH_PORT_BASE + i, daddr,
					    &b->svc_id[i]);
		if (!err && !b->svc_id[i])
			err = -ENOENT;
		if (!err)
			err = spw_dp_policy_get(b->dp, b->svc_id[i], &p);
		if (!err && (p.tier_count != BENCH_TIERS || p.lease_expires_ns <= spw_now_ns()))
			err = -EPROTO;
		if (err) {
			pr_warn("port %d: no live service policy from the daemon: %s\n",
				BENCH_PORT_BASE + i, strerror(-err));
			return err;
		}
	}

	b->report_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (b->report_fd < 0) {
		err = -errno;
		pr_warn("cannot create a unix socket: %s\n", strerror(-err));
		return err;
	}
	b->report_sa.sun_family = AF_UNIX;
	snprintf(b->report_sa.sun_path, sizeof(b->report_sa.sun_path), "%s", b->sock_path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "daemon", required_argument, NULL, 'd' }, { "trials", required_argument, NULL, 'n' },
		{ "flows", required_argument, NULL, 'f' },  { "window", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },	    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = {
		.trials = DEF_TRIALS, .nflows = DEF_FLOWS, .window_s = DEF_WINDOW_S,
		.pid = -1, .flows_fd = -1, .active_fd = -1, .report_fd = -1,
	};
	struct sigaction sa = { .sa_handler = bench_on_signal };
	uint64_t t_start = bench_mono_ns();
	int c, err = 0;
	bool failed = false;

	b.daemon_path = default_daemon();
	while ((c = getopt_long(argc, argv, "d:n:f:w:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			b.daemon_path = optarg;
			break;
		case 'n':
			if (opt_u32("trials", optarg, 1, MAX_TRIALS, &b.trials))
				return 1;
			break;
		case 'f':
			if (opt_u32("flows", optarg, MIN_FLOWS, MAX_FLOWS, &b.nflows))
				return 1;
			if (b.nflows % 2) {
				fprintf(stderr, "bench_controller: --flows: must be even\n");
				return 1;
			}
			break;
		case 'w':
			if (opt_u32("window", optarg, 1, MAX_WINDOW_S, &b.window_s))
				return 1;
			break;
		case 'v':
			b.daemon_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (access(b.daemon_path, X_OK)) {
		fprintf(stderr, "bench_controller: cannot run %s: %s (build it: make)\n",
			b.daemon_path, strerror(errno));
		return 1;
	}
	b.res = calloc(b.trials, sizeof(*b.res));
	if (!b.res)
		return 1;
	rng_state = bench_clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
	spw_log_install_libbpf();

	/* No SA_RESTART: a signal cuts sleeps short, then cleanup runs. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	pick_metrics_port(&b);
	err = setup(&b);
	if (!err)
		err = phase_reaction(&b);
	if (!err)
		err = phase_tick_cpu(&b);
	if (!err) {
		pr_info("sweep: %d runs each over %u flows\n", SWEEP_RUNS, b.nflows);
		err = phase_sweep(&b);
	}
	if (!err)
		err = phase_scrape(&b);
	if (!err && !daemon_alive(&b))
		err = -ESRCH;
	if (stop_requested)
		pr_warn("interrupted\n");
	else if (err)
		pr_warn("the benchmark stopped: %s\n", strerror(-err));
	failed = err != 0;
	if (b.ntrials_done)
		print_table(&b, (double)(bench_mono_ns() - t_start) / 1e9);

	/* Cleanup, whatever happened: the daemon, the pins, the temp folder. */
	daemon_stop(&b);
	if (b.report_fd >= 0)
		close(b.report_fd);
	if (b.active)
		munmap(b.active, b.active_len);
	if (b.active_fd >= 0)
		close(b.active_fd);
	if (b.flows_fd >= 0)
		close(b.flows_fd);
	/* Unpin through the handle; by hand what that leaves: no pinned state outlives the run. */
	if (!b.dp || spw_dp_unpin_all(b.dp))
		bench_remove_tree(b.pin_root);
	spw_dp_close(b.dp);
	/* The config, log and socket, and whatever the daemon left in its state folder. */
	bench_remove_tree(b.tmpdir);
	free(b.keys);
	free(b.vals);
	free(b.res);
	return failed ? 1 : 0;
}
