// SPDX-License-Identifier: GPL-2.0-only
/* Tick CPU: the daemon's CPU per tick over windows of seconds, one per config. */
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

/* The tick-CPU windows, in the order they run; the second (the tick with reported signals)
 * and the last (every kind the daemon measures itself too) have the goal. */
const struct window_def windows[NWINDOWS] = {
    {CFG_POOL_SWEEP, "pool signals, sweep every 5 s (default)"},
    {CFG_POOL_NO_SWEEP, "pool signals, no sweep"},
    {CFG_ACCEPT_QUEUE, "+ accept_queue, no sweep"},
    {CFG_LATENCY, "+ latency_p99, no sweep"},
    {CFG_ALL_SIGNALS, "every signal kind, no sweep"},
};

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

int phase_tick_cpu(struct bench *b)
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
