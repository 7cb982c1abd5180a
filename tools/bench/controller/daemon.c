// SPDX-License-Identifier: GPL-2.0-only
/* The daemon under test: its config, reloads, and its CPU and memory from /proc. */
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

void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL};

	nanosleep(&ts, NULL); /* a signal cuts it short: callers check stop_requested */
}

/* splitmix64: trial delays only, no need for more. */
uint64_t rng_state;

uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* IPv4 address (host order) in the data plane's 16-byte IPv4-mapped form. */
void v4_mapped(uint32_t ip, uint8_t out[SPW_ADDR_LEN])
{
	memset(out, 0, SPW_ADDR_LEN);
	out[10] = 0xff;
	out[11] = 0xff;
	out[12] = ip >> 24;
	out[13] = ip >> 16;
	out[14] = ip >> 8;
	out[15] = ip;
}

/* ---- the daemon ------------------------------------------------------------------------ */

int write_config(struct bench *b, enum cfg_kind kind)
{
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);
	int i, err;

	if (!f)
		return -ENOMEM;
	fprintf(f, "interfaces: []\n"
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
		/* The data plane's own counts (mapped, no syscall) and the listeners' drops
		 * from the same sock_diag dump as the accept queue. */
		if (kind == CFG_ALL_SIGNALS)
			fprintf(f, "      - {connections: 1000000}\n"
				   "      - {in_flight: 100000}\n"
				   "      - {oldest_request_age: 500ms}\n"
				   "      - {listen_overflow: 5/s}\n");
	}
	fprintf(f,
		"controller:\n"
		"  tick: %llums\n"
		"  sweep_every: %s\n",
		(unsigned long long)(TICK_NS / 1000000ULL),
		kind == CFG_POOL_SWEEP ? "5s" : SWEEP_NEVER);
	if (fclose(f)) {
		free(yaml);
		return -ENOMEM;
	}
	err = spw_daemon_write_config(&b->d, yaml);
	free(yaml);
	return err;
}

/* False once the daemon has exited (said once, with its log). */
bool daemon_alive(struct bench *b)
{
	if (b->daemon_dead)
		return false;
	if (spw_daemon_alive(&b->d))
		return true;
	b->daemon_dead = true;
	pr_warn("spillwayd exited (wait status 0x%x)\n", b->d.status);
	spw_daemon_log_dump(&b->d);
	return false;
}

/* SIGHUP with a new config; waits for "config reloaded", fails at "config reload failed". */
int daemon_reload(struct bench *b, enum cfg_kind kind)
{
	uint64_t deadline = bench_mono_ns() + RELOAD_TIMEOUT_NS;
	int err = write_config(b, kind);

	if (err)
		return err;
	spw_daemon_log_mark(&b->d);
	err = spw_daemon_signal(&b->d, SIGHUP);
	if (err) {
		pr_warn("cannot signal spillwayd: %s\n", strerror(-err));
		return err;
	}
	while (!spw_daemon_log_has(&b->d, "config reloaded")) {
		if (stop_requested)
			return -EINTR;
		if (!daemon_alive(b))
			return -ESRCH;
		if (spw_daemon_log_has(&b->d, "config reload failed")) {
			pr_warn("spillwayd logged \"config reload failed\"\n");
			spw_daemon_log_dump(&b->d);
			return -EPROTO;
		}
		if (bench_mono_ns() > deadline) {
			pr_warn("spillwayd did not log \"config reloaded\" in time\n");
			spw_daemon_log_dump(&b->d);
			return -ETIMEDOUT;
		}
		sleep_ns(20000000ULL);
	}
	return 0;
}

/* ---- the daemon's state, from /proc and the maps ------------------------------------------ */

int read_cpu(struct bench *b, struct cpu_sample *s)
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
	snprintf(path, sizeof(path), "/proc/%d/task", (int)b->d.pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)b->d.pid,
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* a thread that just ended */
		if (fscanf(f, "%llu", &ns) == 1)
			s->sched_ns += ns;
		fclose(f);
	}
	closedir(dir);

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->d.pid);
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
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EIO;
	s->clk_ticks = ut + st;

	err = spw_dp_policy_get(b->dp, b->svc_id[0], &pol);
	if (err)
		return err;
	s->generation = pol.generation;
	s->at_ns = bench_mono_ns();
	return 0;
}

void read_rss(struct bench *b)
{
	char path[64], line[256];
	unsigned long long kib;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->d.pid);
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

int report_send(struct bench *b, int svc)
{
	char line[128];
	int err;

	snprintf(line, sizeof(line), "pool pool%02d in_use=%u capacity=%u", svc + 1,
		 b->pool_pct[svc] * POOL_CAPACITY / 100, POOL_CAPACITY);
	err = spw_daemon_report(&b->d, line);
	if (err)
		pr_warn("cannot send a report to %s: %s\n", b->d.report_sock, strerror(-err));
	return err;
}

/* Every service's current report, once a tick: no signal goes stale. */
int reports_refresh(struct bench *b, uint64_t now)
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
