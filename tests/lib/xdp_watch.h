/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The XDP program of an interface inside a namespace: its id now, and a sampler, a child
 * process in that namespace that asks the kernel every period_us which program is attached and
 * counts the samples that found none (and the same for its tcx egress chain). An upgrade or a
 * restart that is meant to replace the program in place shows as several ids and not one absent
 * sample.
 */
#ifndef SPW_TEST_XDP_WATCH_H
#define SPW_TEST_XDP_WATCH_H

#include <stdint.h>
#include <sys/types.h>

/* Distinct program ids a sampler remembers; more are counted, not kept. */
#define SPW_XDP_WATCH_IDS 16

/* The id of the XDP program on ifindex in ns, in any mode, into *id (0: none). 0 or -errno. */
int spw_xdp_prog_id(const char *ns, int ifindex, uint32_t *id);

/* What a sampler saw; written by the child, read by the test. */
struct spw_xdp_samples {
	uint64_t samples;
	uint64_t absent;	 /* samples that found no program */
	uint64_t errors;	 /* queries that failed */
	double first_present_ms; /* spw_now_ms() of the first sample with a program; 0: none */
	double last_absent_ms;	 /* of the last sample without one; 0: none */
	uint32_t ids[SPW_XDP_WATCH_IDS];
	uint32_t nids; /* distinct ids seen, possibly more than kept */
	/*
	 * The same for the interface's tcx egress chain (kernels >= 6.6), where spillway's
	 * flow tracker sits in every attach mode: samples that found no program there, and
	 * queries that failed (an older kernel has no tcx).
	 */
	uint64_t tcx_egress_absent;
	uint64_t tcx_egress_errors;
	volatile int stop;
};

struct spw_xdp_sampler {
	pid_t pid;
	struct spw_xdp_samples *s; /* shared with the child */
};

/* Starts sampling ifindex in ns. 0 or a negative errno. */
int spw_xdp_sampler_start(struct spw_xdp_sampler *w, const char *ns, int ifindex,
			  unsigned int period_us);
/* Stops the child and waits for it; the results stay readable in w->s until _free. */
void spw_xdp_sampler_stop(struct spw_xdp_sampler *w);
void spw_xdp_sampler_free(struct spw_xdp_sampler *w);

#endif /* SPW_TEST_XDP_WATCH_H */
