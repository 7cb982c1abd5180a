// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rejects that do not leave. spillway in native XDP mode on the server's veth of a pair whose
 * client end runs no XDP program: a veth drops every XDP_TX frame then, so each reject (an
 * XDP_TX of the rewritten SYN) is counted shed by the data plane yet never reaches the client.
 * The XDP_TX failure count of the interface must say exactly how many, the attach-time check
 * must say the veth cannot carry XDP_TX, and a re-attach (a restarted daemon) must keep the
 * count. Once the client's end runs an XDP program the rejects arrive (connect() is refused
 * at once), the check says so, and the failure count stays where it was. After detach nothing
 * counts for the interface.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spw_dataplane.h"
#include "attach.h"
#include "netns.h"
#include "nfx.h"
#include "sockets.h"
#include "util.h"
#include "empty_xdp.skel.h"

#define SVC	 1
#define PORT	 8080
#define TIERS	 3
#define TIER	 0 /* the service's default tier: the client's, with no rule */
#define LEASE_NS (60ULL * 1000 * 1000 * 1000)
/* Shorter than the first SYN retransmission (1 s): exactly one SYN, one reject. */
#define ONE_SYN_MS 400
/* A reject that arrives beats any retransmission by far, on a loaded machine too. */
#define REJECT_MAX_MS 500
#define IO_TIMEOUT_MS 3000

struct test_ctx {
	struct spw_nfx nfx;
	struct empty_xdp *peer_xdp;
	struct spw_fds fds;
};

struct ns_call {
	struct spw_dataplane *dp;
	int ifindex;
	uint64_t frames;
};

static int read_in_ns(void *arg)
{
	struct ns_call *a = arg;

	return spw_dp_tx_failed_read(a->dp, a->ifindex, &a->frames);
}

static int check_in_ns(void *arg)
{
	struct ns_call *a = arg;

	return spw_dp_xdp_tx_check(a->ifindex);
}

static struct ns_call srv_call(struct test_ctx *c)
{
	struct ns_call a = {.dp = c->nfx.dp, .ifindex = c->nfx.topo.end[SPW_TOPO_SRV].ifindex};

	return a;
}

/* The server interface's XDP_TX failure count; fails the test when nothing counts there. */
static uint64_t tx_failed(struct test_ctx *c)
{
	struct ns_call a = srv_call(c);
	int err = spw_netns_run(c->nfx.topo.end[SPW_TOPO_SRV].ns, read_in_ns, &a);

	if (err)
		fail_msg("reading the XDP_TX failure count: %s", strerror(-err));
	return a.frames;
}

static int tx_check(struct test_ctx *c)
{
	struct ns_call a = srv_call(c);

	return spw_netns_run(c->nfx.topo.end[SPW_TOPO_SRV].ns, check_in_ns, &a);
}

static uint64_t rejects_since_mark(struct test_ctx *c)
{
	struct spw_count d;

	assert_int_equal(spw_fixture_delta(&c->nfx.fx, SVC, TIER, SPW_REASON_SHED_LEVEL, &d), 0);
	return d.packets;
}

/* One connect from the client; its outcome (SPW_CONN_* or -errno) and how long it took. */
static int connect_once(struct test_ctx *c, int wait_ms, double *ms)
{
	struct sockaddr_storage ss;
	int len = spw_nfx_addr(&c->nfx, SPW_TOPO_SRV, AF_INET, PORT, &ss);
	int fd =
	    spw_fds_track(&c->fds, spw_nfx_socket(&c->nfx, SPW_TOPO_CLI, AF_INET, SOCK_STREAM));

	assert_true(len > 0);
	return spw_connect_timed(fd, &ss, (socklen_t)len, wait_ms, IO_TIMEOUT_MS, ms);
}

static void shed_everything(struct test_ctx *c)
{
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = PORT};
	struct spw_policy p;
	int t;

	assert_int_equal(spw_dp_service_add(c->nfx.dp, &m, SVC), 0);
	spw_policy_init(&p, TIERS, TIER);
	p.lease_expires_ns = spw_now_ns() + LEASE_NS;
	p.floor_level = 0;
	p.admit_level = 0;
	for (t = 0; t < SPW_MAX_TIERS; t++)
		p.action[t] = SPW_ACTION_REJECT;
	assert_int_equal(spw_dp_policy_set(c->nfx.dp, SVC, &p), 0);
}

static void test_rejects_a_veth_cannot_send(void **state)
{
	struct test_ctx *c = *state;
	uint64_t failed, rejects;
	struct ns_call a;
	double ms;
	int ret;

	assert_int_equal(spw_nfx_open(&c->nfx, SPW_ATTACH_XDP, NULL), 0);
	shed_everything(c);
	/* spillway alone: nothing on the client's end. */
	assert_int_equal(spw_topo_attach(&c->nfx.topo, c->nfx.dp, SPW_ATTACH_XDP), 0);
	c->nfx.attached = true;
	assert_int_equal(tx_check(c), -EPIPE);
	assert_int_equal(tx_failed(c), 0);

	assert_int_equal(spw_fixture_mark(&c->nfx.fx), 0);
	ret = connect_once(c, ONE_SYN_MS, &ms);
	if (ret != SPW_CONN_PENDING)
		fail_msg("connect without an XDP program on the client's veth: %s after %.0f ms, "
			 "want no answer",
			 ret ? strerror(-ret) : "connected", ms);
	rejects = rejects_since_mark(c);
	failed = tx_failed(c);
	assert_true(rejects >= 1);
	if (failed != rejects)
		fail_msg("%llu rejects sent with XDP_TX, none arrived, %llu counted as failed",
			 (unsigned long long)rejects, (unsigned long long)failed);

	/* A restarted daemon attaches again: the count stays. */
	assert_int_equal(spw_topo_attach(&c->nfx.topo, c->nfx.dp, SPW_ATTACH_XDP), 0);
	assert_int_equal(tx_failed(c), failed);

	/* With an XDP program on the client's end the rejects arrive, and none fails. */
	assert_int_equal(spw_topo_peer_xdp(&c->nfx.topo, &c->peer_xdp), 0);
	assert_int_equal(tx_check(c), 0);
	assert_int_equal(spw_fixture_mark(&c->nfx.fx), 0);
	ret = connect_once(c, REJECT_MAX_MS, &ms);
	if (ret != -ECONNREFUSED)
		fail_msg("connect with an XDP program on the client's veth: %s after %.0f ms, want "
			 "ECONNREFUSED",
			 ret == SPW_CONN_PENDING ? "no answer"
			 : ret			 ? strerror(-ret)
						 : "connected",
			 ms);
	assert_true(rejects_since_mark(c) >= 1);
	assert_int_equal(tx_failed(c), failed);

	assert_int_equal(spw_topo_detach(&c->nfx.topo, c->nfx.dp), 0);
	c->nfx.attached = false;
	a = srv_call(c);
	assert_int_equal(spw_netns_run(c->nfx.topo.end[SPW_TOPO_SRV].ns, read_in_ns, &a), -ENOENT);
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;
	int rc;

	spw_fds_close_all(&c->fds);
	empty_xdp__destroy(c->peer_xdp);
	rc = spw_nfx_close(&c->nfx);
	free(c);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rejects_a_veth_cannot_send, setup, teardown),
	};

	return cmocka_run_group_tests_name("xdp_tx_fail", tests, NULL, NULL);
}
