// SPDX-License-Identifier: GPL-2.0-only
/* Scrape: GETs of /metrics in a row against the daemon's exporter. */
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

/* ---- the scrape ---------------------------------------------------------------- */

/* One GET /metrics from the daemon's exporter; the body's length in *got. */
static int scrape_once(struct bench *b, char *buf, size_t len, size_t *got)
{
	int status = spw_daemon_http_get(&b->d, "/metrics", buf, len);

	if (status < 0)
		return status;
	*got = strlen(buf);
	return status == 200 ? 0 : -EPROTO;
}

/*
 * Scrape time: SCRAPE_RUNS sequential GETs of /metrics, connect to last byte, with
 * SCRAPE_SERVICES services of 3 tiers (a reload drops the others). What the tick pays for the
 * exporter (the snapshot it fills) is in the tick-CPU figures above, which run with it.
 */
int phase_scrape(struct bench *b)
{
	double ms[SCRAPE_RUNS];
	char *buf;
	uint64_t t0;
	size_t got = 0;
	int i, err;

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
			pr_warn("scrape of %s failed: %s\n", b->d.metrics, strerror(-err));
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
