/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the flow-tracking scenarios over real TCP share (test_flows_*.c): the context over the
 * netns fixture (nfx.h), sockets bound to ports never reused, the listeners, the policy, and
 * reads of what the data plane holds. A client and a server namespace joined by a veth pair,
 * spillway on the server's veth, the kernel's TCP stack on both ends.
 *
 * Attach mode: TC (clsact ingress + egress) unless a test says otherwise. Flow tracking sees
 * the server's side (SYN-ACK, FIN, RST, responses) only at TC egress, which every attach mode
 * puts on the interface (test_flows_latency's UDP case runs in XDP mode too).
 *
 * The client's IPv4 and IPv6 addresses are put in different tiers by CIDR rules, so every
 * count is checked per tier. Client sockets bind ports of their own from a range no other
 * socket uses, so no 4-tuple is ever reused within a test (a reused tuple would meet the
 * previous connection's TIME_WAIT and make counts depend on timing).
 */
#ifndef SPW_TEST_FLOWS_H
#define SPW_TEST_FLOWS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_latency.h"
#include "spw_dataplane.h"
#include "netns.h"
#include "attach.h"
#include "sockets.h"
#include "util.h"
#include "pktbuild.h"
#include "spw_fixture.h"
#include "nfx.h"

/* The one service: its id and port. */
#define SVC_TCP	 1
#define TCP_PORT 8080

/* Three tiers: the client's IPv4 address in tier 1, its IPv6 address in tier 2. */
#define TIERS	3
#define TIER_V4 1
#define TIER_V6 2
/* Unclassified sources (the flood's) land in tier 2 unless a test says otherwise. */
#define DEFAULT_TIER 2
/* A lease far longer than any test: a fail-open must never pass for an admit. */
#define LEASE_NS (600ULL * 1000000000ULL)

/* Flow table of the tests that do not size it: far above the connections they open. */
#define TABLE_DEFAULT 16384

/* Anything that should happen at once gets this long on a busy 2-core machine. */
#define IO_TIMEOUT_MS 5000
/* A reject must beat the client's first SYN retransmission (1 s) by far. */
#define REJECT_MAX_MS 500
/* The data plane sees a packet microseconds after it is sent; counts settle within this. */
#define SETTLE_MS 5000

/* Client ports: each connection of a test binds the next one, never reused. */
#define CPORT_BASE 20000

/* Sockets a test may hold at once: 2 per connection, the flood test's 500 and some. */
#define MAX_FD 8192

struct nctx {
	struct spw_nfx nfx;
	int lfd[2]; /* listening sockets, [0] IPv4, [1] IPv6 */
	uint16_t next_port;
	bool open_fd[MAX_FD]; /* sockets the teardown closes */
};

/* The modes a test runs in: its prestate. */
extern const enum spw_attach_mode mode_xdp, mode_tc;

/* Checks name the attach mode first: "[tc] failed: ...". */
#define CHECK(c, cond, fmt, ...)                                                                   \
	SPW_CHECK_IN(cond, #cond, "[%s] ", fmt, mode_name(c), ##__VA_ARGS__)
#define CHECK_OK(c, call) SPW_CHECK_OK_IN(call, #call, "[%s] ", mode_name(c))
#include "check.h"

enum end_mode {
	END_CLI_FIN,	  /* client closes first */
	END_SRV_FIN,	  /* server closes first */
	END_CLI_RST,	  /* client resets (SO_LINGER 0) */
	END_SRV_RST,	  /* server resets */
	END_ABORT_ACCEPT, /* handshake done, client resets before the server accepted */
	END_ABORT_SYN,	  /* client closes while its SYN is in flight */
	END_IDLE,	  /* left open: the sweep's idle timeout ends it */
	END_MODES
};

/* Connections opened and ended a batch at a time. */
#define BATCH 100

struct conn {
	int cli, srv;
	int family;
	uint16_t port;
	enum end_mode end;
};

int accept_any(struct nctx *c, int wait_ms, uint16_t *peer_port);
struct nctx *build(void **state, uint32_t capacity, uint8_t tier_v6);
void close_fd(struct nctx *c, int *fd, bool rst);
int connect_start(struct nctx *c, int family, uint16_t *port);
int connect_wait(int fd, int wait_ms);
void counts_fail(struct nctx *c, const char *when, const uint64_t want[SPW_MAX_TIERS],
		 const uint64_t got[SPW_MAX_TIERS], const char *extra);
bool counts_reach(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], uint64_t got[SPW_MAX_TIERS]);
void entries_by_state(struct nctx *c, uint64_t by_state[4]);
int flow_of(struct nctx *c, int family, uint16_t cport, struct spw_flow *v);
uint64_t moved(struct nctx *c, uint32_t tier, enum spw_reason r);
struct spw_sweep_stats sweep(struct nctx *c, uint64_t syn_ms, uint64_t idle_ms);
uint64_t table_entries(struct nctx *c);
uint32_t tier_of(int family);
void wait_counts(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], const char *when);
const char *mode_name(const struct nctx *c);
uint32_t tier_of(int family);
int track(struct nctx *c, int fd);
void close_fd(struct nctx *c, int *fd, bool rst);
void set_nonblock(struct nctx *c, int fd, bool on);
socklen_t addr_of(struct nctx *c, enum spw_topo_side side, int family, uint16_t port,
		  struct sockaddr_storage *ss);
uint16_t port_of(const struct sockaddr_storage *ss);
int connect_start(struct nctx *c, int family, uint16_t *port);
int connect_wait(int fd, int wait_ms);
int accept_any(struct nctx *c, int wait_ms, uint16_t *peer_port);
void send_all(struct nctx *c, int fd, const char *buf, size_t len);
void recv_exact(struct nctx *c, int fd, char *buf, size_t len);
/*
 * One byte from the client, read by the server: the connection carries data, which is what
 * the tracker counts as established (a handshake alone stays SYN_SEEN until syn_timeout).
 */
void first_byte(struct nctx *c, const struct conn *x);
void set_policy(struct nctx *c, const uint32_t max_conns[SPW_MAX_TIERS]);
void client_rule(struct nctx *c, int family, uint8_t tier, uint32_t id);
int listen_on(struct nctx *c, int family);
struct nctx *build(void **state, uint32_t capacity, uint8_t tier_v6);
int setup(void **state);
int teardown(void **state);
uint64_t active(struct nctx *c, uint32_t tier);
bool counts_reach(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], uint64_t got[SPW_MAX_TIERS]);
void counts_fail(struct nctx *c, const char *when, const uint64_t want[SPW_MAX_TIERS],
		 const uint64_t got[SPW_MAX_TIERS], const char *extra);
void wait_counts(struct nctx *c, const uint64_t want[SPW_MAX_TIERS], const char *when);
uint64_t table_entries(struct nctx *c);
int count_state(const struct spw_flow_key *k, const struct spw_flow *v, void *by_state);
void entries_by_state(struct nctx *c, uint64_t by_state[4]);
int flow_of(struct nctx *c, int family, uint16_t cport, struct spw_flow *v);
uint64_t moved(struct nctx *c, uint32_t tier, enum spw_reason r);
struct spw_sweep_stats sweep(struct nctx *c, uint64_t syn_ms, uint64_t idle_ms);
int connect_now(struct nctx *c, int family, uint16_t *port, int *fd, double *ms);
void open_pair(struct nctx *c, int family, struct conn *x);
void accept_batch(struct nctx *c, struct conn *b, int n);

#endif /* SPW_TEST_FLOWS_H */
