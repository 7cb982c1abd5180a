/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What both benchmarks need around their measurements: the stop flag a signal sets, clocks,
 * medians, CPU pinning, and removing a pin root or temp folder on the way out.
 */
#ifndef SPW_BENCH_UTIL_H
#define SPW_BENCH_UTIL_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

/* Set by bench_on_signal(): the loops check it and wind down, cleanup still runs. */
extern volatile sig_atomic_t stop_requested;

/* The handler to install for SIGINT/SIGTERM: only sets stop_requested. */
void bench_on_signal(int sig);

/* clk in ns. */
uint64_t bench_clock_ns(clockid_t clk);
/* CLOCK_MONOTONIC in ns. */
uint64_t bench_mono_ns(void);

/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/* Median of v[0..n), n > 0; sorts v in place. */
double bench_median_sort(double *v, unsigned int n);

/*
 * Pins the calling thread to CPU want, or with want < 0 to the last CPU it may run on (CPU 0
 * usually takes more of the interrupts and housekeeping). *cpu gets the CPU. 0 or -errno.
 */
int bench_pin_cpu(int want, int *cpu);

/*
 * Removes everything under path, then path itself: pinned maps and links are files on bpffs,
 * unlinking them unpins. Best effort: says what it could not remove, never fails. Goes at most
 * three folders deep. Fine on an empty string or a path that does not exist.
 */
void bench_remove_tree(const char *path);

#endif /* SPW_BENCH_UTIL_H */
