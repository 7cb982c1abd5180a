/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench_refusal's parts: net.c builds and removes the two namespaces and the veth pair, runs
 * ip/nft/iptables in them and reads the CPU and TCP counters; refusals.c sets up and takes down
 * each refusal on the server's veth and checks that its trial refused what it says; main.c
 * floods, alternates the trials and prints the table.
 */
#ifndef SPW_BENCH_REFUSAL_H
#define SPW_BENCH_REFUSAL_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "spw_dataplane.h"
#include "bench_refusal.skel.h"

/* The service and the policy: sources in the shed prefix are tier 2, tier 2 is shed. */
#define BR_SVC_ID	1
#define BR_SVC_PORT	8080
#define BR_TIERS	3
#define BR_DEFAULT_TIER 1
#define BR_SHED_TIER	2
#define BR_SHED_PREFIX	"100.64.0.0"
#define BR_SHED_LEN	16
/* The refused flood's addresses: the server's veth and the sender's, and their MACs. */
#define BR_SRV_ADDR "192.0.2.1"
/* At most this many of the host's addresses exempt (see exempt_host_addrs). */
#define BR_EXEMPT_HOST_MAX 64
#define BR_CLI_ADDR	   "192.0.2.2"
#define BR_SRV_MAC	   "02:62:72:00:00:01"
#define BR_CLI_MAC	   "02:62:72:00:00:02"
/* What the rate-limited refusals (spillway's bucket, hashlimit) let through per second. */
#define BR_RATE 100
/* Long enough to outlive any run. */
#define BR_LEASE_NS (3600ULL * 1000000000ULL)

/* Namespace and veth names: "br-" + pid + "-s" (sender) or "-r" (receiver). */
#define BR_NAME_LEN IF_NAMESIZE

struct br_net {
	char snd[BR_NAME_LEN], rcv[BR_NAME_LEN]; /* namespace = veth name of each side */
	char nft_table[BR_NAME_LEN];		 /* netdev table name (no '-' allowed unquoted) */
	int self_fd, snd_fd, rcv_fd;		 /* network namespace fds */
	int snd_ifindex, rcv_ifindex;		 /* each as seen in its namespace */
	bool created;
};

/* One refusal under test. */
enum br_kind {
	BR_CONTROL, /* the sender alone: frames made, then dropped before they leave */
	BR_FLOOR,
	BR_SPW_XDP_DROP,
	BR_SPW_XDP_REJECT,
	BR_SPW_XDP_RATE,
	BR_SPW_TC_DROP,
	BR_NFT_DROP,
	BR_IPT_RAW_DROP,
	BR_IPT_HASHLIMIT,
	BR_KINDS
};

struct br_refusal {
	enum br_kind kind;
	const char *name;
	double goal_nft; /* highest ratio to the nft drop; 0: no goal */
	double goal_floor;
};
extern const struct br_refusal br_refusals[BR_KINDS];

struct bench {
	struct br_net net;
	struct spw_dataplane *dp;
	char pin_root[64];
	struct bench_refusal *skel;
	struct spw_count *cnt_before, *cnt_after; /* SPW_COUNTER_ENTRIES each */
	uint64_t in_segs;			  /* TCP InSegs of the server's namespace */
	uint64_t floor_hits, pass_hits, rst_hits; /* at the trial's start */
	bool verbose;
};

/* net.c */
int br_net_create(struct br_net *n);
void br_net_destroy(struct br_net *n);
/* Deletes the namespaces of benches that were killed before their cleanup ran. */
void br_sweep_stale(void);
/* Moves the calling thread into a namespace (fd from struct br_net). 0 or -errno. */
int br_enter(int ns_fd);
/* `sh -c` of the line; its output is shown only when it fails. The exit status or -errno. */
int br_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ns of ksoftirqd/cpu on the CPU so far (schedstat); 0 when it cannot be read. */
uint64_t br_ksoftirqd_ns(int pid);
int br_ksoftirqd_pid(int cpu);
/* TCP InSegs of the calling thread's namespace, or -errno. */
int br_tcp_in_segs(uint64_t *out);

/* refusals.c */
int br_dp_open(struct bench *b);
void br_dp_close(struct bench *b);
int br_refusal_up(struct bench *b, enum br_kind k);
void br_refusal_down(struct bench *b, enum br_kind k);
/* Before and after a trial of n frames: 0 when the trial refused what it names, else -EPROTO. */
int br_mark(struct bench *b);
int br_verify(struct bench *b, enum br_kind k, uint64_t n);

#endif /* SPW_BENCH_REFUSAL_H */
