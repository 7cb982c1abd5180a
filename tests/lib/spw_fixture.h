/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The shared fixture of the tests that load the data plane: BPF tests, netns tests.
 *
 * Each fixture opens the real data plane (spw_dp_open) under its own pin root,
 * /sys/fs/bpf/spw-test-<pid>-<n>, so runs never share maps with each other or with a
 * spillway installed on the host, and starts from empty maps and zero counters. Closing
 * unpins everything and removes the folder; it never fails, and as a backstop it also runs at
 * exit for fixtures left open, and the next open sweeps folders of processes that died.
 *
 * Functions return 0 or a negative errno unless they say otherwise. Not thread-safe, except
 * spw_fixture_run*() (the policy-atomicity test runs packets against a writer thread).
 */
#ifndef SPW_TEST_FIXTURE_H
#define SPW_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include "spw_dataplane.h"

/* Pin roots: this prefix, the pid, a per-process counter. */
#define SPW_FX_PIN_PREFIX "/sys/fs/bpf/spw-test-"
#define SPW_FX_PIN_LEN	  64
/* Output room of one run: a test packet, plus what a reply may grow by (ICMP quotes). */
#define SPW_FX_OUT_MAX 4096

struct spw_fixture {
	struct spw_dataplane *dp;
	char pin_root[SPW_FX_PIN_LEN];
	struct spw_count *mark;	       /* counters at the last spw_fixture_mark() */
	struct spw_fixture *next_open; /* the exit backstop's list */
};

/*
 * Opens the data plane under a fresh pin root. fx must be zeroed or closed. On failure nothing
 * is left pinned.
 */
int spw_fixture_open(struct spw_fixture *fx);
/* The same with options (flow table size); opts->pin_root is ignored. */
int spw_fixture_open_opts(struct spw_fixture *fx, const struct spw_dp_opts *opts);
/* Unpins everything and frees; never fails. Idempotent, fine on a zeroed or failed fixture. */
void spw_fixture_close(struct spw_fixture *fx);

/*
 * cmocka setup and teardown of a test that wants a fresh fixture: *state gets one (a static
 * of the file, so tests run one at a time), closed again after. Setup returns -1 on failure.
 */
int spw_fixture_setup(void **state);
int spw_fixture_teardown(void **state);

/* The outcome of one BPF_PROG_RUN. */
struct spw_run {
	int retval;	      /* XDP_* or TC_ACT_* */
	uint32_t len;	      /* bytes in data: the packet as the program left it */
	uint32_t duration_ns; /* the kernel's mean per repetition, whole ns */
	uint8_t data[SPW_FX_OUT_MAX];
};

/*
 * Runs pkt once through one of the data plane's programs. The program type decides the
 * flavour: XDP runs on an xdp_buff, TC on an skb made from the frame (its protocol set by
 * eth_type_trans, as on a device); both return the packet as the program left it, so a reject's
 * rewrite is in out->data. The kernel refuses frames shorter than an Ethernet header (-EINVAL).
 */
int spw_fixture_run(struct spw_fixture *fx, enum spw_prog prog, const void *pkt, size_t len,
		    struct spw_run *out);
/* Any program by fd, repeat times (the packet is not restored between repetitions). */
int spw_fixture_run_fd(int prog_fd, const void *pkt, size_t len, uint32_t repeat,
		       struct spw_run *out);

/* Remembers every counter, as the base of the deltas below. */
int spw_fixture_mark(struct spw_fixture *fx);
/* One counter now, minus its value at the mark. */
int spw_fixture_delta(struct spw_fixture *fx, uint32_t svc, uint32_t tier_slot,
		      enum spw_reason reason, struct spw_count *delta);

/* A counter that moved since the mark. */
struct spw_fx_change {
	uint32_t svc, tier_slot, reason;
	struct spw_count delta;
};
/*
 * Every counter that moved since the mark, in index order, at most max of them in out.
 * Returns how many moved (possibly more than max), or a negative errno.
 */
int spw_fixture_changes(struct spw_fixture *fx, struct spw_fx_change *out, size_t max);

/* Text address or CIDR into the data plane's 16-byte form, with inet_pton only. */
int spw_fixture_addr(const char *text, uint8_t addr[SPW_ADDR_LEN]);
int spw_fixture_cidr(const char *text, struct spw_cidr *out);

#endif /* SPW_TEST_FIXTURE_H */
