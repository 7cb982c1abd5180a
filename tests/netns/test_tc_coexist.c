// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway beside another team's TC programs on the same interface. The other program
 * (tests/progs/tc_count.bpf.c) is attached first, on ingress and egress of the server's veth,
 * where most libbpf programs go: a clsact filter at handle 1, priority 1, or a tcx link. Then
 * spillway attaches (twice: a restart replaces its programs in place), traffic flows both
 * ways, and spillway detaches. The other program must count that traffic throughout and still
 * count it after the detach; spillway's own counters must move while it is attached and stop
 * after the detach (so the detach removed it, and only it).
 *
 * Each case runs on a topology and a pin root of its own. The tcx cases need kernel >= 6.6;
 * the clsact cases are what older kernels get (spw_dp_opts.tc_clsact forces that path here).
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
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spw_dataplane.h"
#include "attach.h"
#include "netns.h"
#include "nfx.h"
#include "tc_count.skel.h"

/* Datagrams each way per round: enough to tell "counted" from ARP and IPv6 chatter. */
#define DATAGRAMS 20
/* A port nothing listens on: the datagrams only have to cross the hooks. */
#define SINK_PORT 9
/* enum bpf_attach_type values of kernel 6.6 (Debian 12's 6.1 headers lack them). */
#define TCX_INGRESS 46
#define TCX_EGRESS  47

enum other_kind { OTHER_CLSACT, OTHER_TCX };

struct coexist_case {
	const char *name;
	enum spw_attach_mode mode;
	bool force_clsact;     /* spillway as clsact filters, as kernels before 6.6 get it */
	enum other_kind other; /* how the other program is attached */
};

struct coexist_ctx {
	const struct coexist_case *c;
	struct spw_nfx nfx;
	struct tc_count *other;
	int other_links[2]; /* tcx links of the other program, -1 when none */
};

struct other_args {
	struct coexist_ctx *x;
	int ifindex;
};

/* The other program where libbpf's examples put theirs: clsact, handle 1, priority 1. */
static int other_clsact_in_ns(void *arg)
{
	struct other_args *a = arg;
	static const enum bpf_tc_attach_point where[2] = {BPF_TC_INGRESS, BPF_TC_EGRESS};
	int fds[2] = {bpf_program__fd(a->x->other->progs.count_ingress),
		      bpf_program__fd(a->x->other->progs.count_egress)};
	int i, err;

	for (i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex, .attach_point = where[i]);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1, .prog_fd = fds[i]);

		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			return err;
		err = bpf_tc_attach(&hook, &opts);
		if (err)
			return err;
	}
	return 0;
}

static int other_tcx_in_ns(void *arg)
{
	struct other_args *a = arg;
	static const int types[2] = {TCX_INGRESS, TCX_EGRESS};
	int fds[2] = {bpf_program__fd(a->x->other->progs.count_ingress),
		      bpf_program__fd(a->x->other->progs.count_egress)};
	int i;

	for (i = 0; i < 2; i++) {
		a->x->other_links[i] =
		    bpf_link_create(fds[i], a->ifindex, (enum bpf_attach_type)types[i], NULL);
		if (a->x->other_links[i] < 0)
			return -errno;
	}
	return 0;
}

/* Is the other program still on the server veth's ingress (clsact: at 1/1, as it was put)? */
static int other_query_in_ns(void *arg)
{
	struct other_args *a = arg;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_tc_query(&hook, &opts);
	if (err)
		return err;
	err =
	    bpf_obj_get_info_by_fd(bpf_program__fd(a->x->other->progs.count_ingress), &info, &len);
	if (err)
		return -errno;
	return opts.prog_id == info.id ? 0 : -ESTALE;
}

static uint64_t spillway_packets(struct spw_dataplane *dp)
{
	static struct spw_count all[SPW_COUNTER_ENTRIES];
	uint64_t sum = 0;
	size_t i;

	assert_int_equal(spw_dp_counters_read_all(dp, all), 0);
	for (i = 0; i < SPW_COUNTER_ENTRIES; i++)
		sum += all[i].packets;
	return sum;
}

/* DATAGRAMS from the client to the server and from the server to the client. */
static void traffic(struct coexist_ctx *x)
{
	struct sockaddr_storage to;
	int side, fd, len, i;
	char byte = 'x';

	for (side = 0; side < 2; side++) {
		enum spw_topo_side from = side ? SPW_TOPO_SRV : SPW_TOPO_CLI;

		fd = spw_nfx_socket(&x->nfx, from, AF_INET, SOCK_DGRAM);
		assert_true(fd >= 0);
		len = spw_nfx_addr(&x->nfx, side ? SPW_TOPO_CLI : SPW_TOPO_SRV, AF_INET, SINK_PORT,
				   &to);
		assert_true(len > 0);
		for (i = 0; i < DATAGRAMS; i++)
			assert_int_equal(
			    sendto(fd, &byte, 1, 0, (struct sockaddr *)&to, (socklen_t)len), 1);
		close(fd);
	}
	usleep(100 * 1000); /* the veth delivers in softirq: let the last ones land */
}

struct seen {
	uint64_t in, eg, spw;
};

static struct seen seen_now(struct coexist_ctx *x)
{
	struct seen s = {
	    .in = __atomic_load_n(&x->other->bss->seen_ingress, __ATOMIC_RELAXED),
	    .eg = __atomic_load_n(&x->other->bss->seen_egress, __ATOMIC_RELAXED),
	    .spw = spillway_packets(x->nfx.dp),
	};
	return s;
}

/* The other program saw a round of traffic() both ways between before and after. */
static void expect_other_saw(const struct coexist_case *c, const struct seen *before,
			     const struct seen *after, const char *when)
{
	if (after->in - before->in < DATAGRAMS || after->eg - before->eg < DATAGRAMS)
		fail_msg("%s: %s the other program saw %llu in, %llu out of %d each way", c->name,
			 when, (unsigned long long)(after->in - before->in),
			 (unsigned long long)(after->eg - before->eg), DATAGRAMS);
}

static int setup(void **state)
{
	struct coexist_ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	x->other_links[0] = x->other_links[1] = -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct coexist_ctx *x = *state;
	int rc = spw_nfx_close(&x->nfx), i;

	for (i = 0; i < 2; i++)
		if (x->other_links[i] >= 0)
			close(x->other_links[i]);
	tc_count__destroy(x->other);
	free(x);
	return rc;
}

static void run_case(void **state, const struct coexist_case *c)
{
	struct coexist_ctx *x = *state;
	struct spw_dp_opts opts = {.tc_clsact = c->force_clsact};
	struct other_args a = {.x = x};
	struct seen s0, s1, s2, detached;
	int err;

	x->c = c;
	assert_int_equal(spw_nfx_open(&x->nfx, c->mode, &opts), 0);
	a.ifindex = x->nfx.topo.end[SPW_TOPO_SRV].ifindex;
	x->other = tc_count__open_and_load();
	assert_non_null(x->other);
	err = spw_netns_run(x->nfx.topo.end[SPW_TOPO_SRV].ns,
			    c->other == OTHER_TCX ? other_tcx_in_ns : other_clsact_in_ns, &a);
	if (err)
		fail_msg("%s: attaching the other program: %s%s", c->name, strerror(-err),
			 c->other == OTHER_TCX ? " (tcx links need kernel >= 6.6)" : "");

	/* Attach, and attach again as a restarted daemon does. */
	assert_int_equal(spw_nfx_attach(&x->nfx), 0);
	assert_int_equal(spw_topo_attach(&x->nfx.topo, x->nfx.dp, c->mode), 0);
	s0 = seen_now(x);
	traffic(x);
	s1 = seen_now(x);
	expect_other_saw(c, &s0, &s1, "with spillway attached");
	if (s1.spw - s0.spw < DATAGRAMS)
		fail_msg("%s: spillway counted %llu of %d datagrams in", c->name,
			 (unsigned long long)(s1.spw - s0.spw), DATAGRAMS);

	assert_int_equal(spw_topo_detach(&x->nfx.topo, x->nfx.dp), 0);
	x->nfx.attached = false;
	/*
	 * spillway's count as the detach left it: a packet of the host's own (neighbour
	 * discovery) may still reach the program between the read of s1 and the detach.
	 */
	detached = seen_now(x);
	if (c->other == OTHER_CLSACT) {
		err = spw_netns_run(x->nfx.topo.end[SPW_TOPO_SRV].ns, other_query_in_ns, &a);
		if (err)
			fail_msg("%s: after spillway's detach the other filter at 1/1 is %s",
				 c->name, err == -ESTALE ? "another program" : strerror(-err));
	}
	traffic(x);
	s2 = seen_now(x);
	expect_other_saw(c, &s1, &s2, "after spillway's detach");
	if (s2.spw != detached.spw)
		fail_msg("%s: spillway still counted %llu packets after its detach", c->name,
			 (unsigned long long)(s2.spw - detached.spw));
}

static void test_tc_tcx_beside_clsact(void **state)
{
	static const struct coexist_case c = {"tc mode, tcx, beside a clsact filter", SPW_ATTACH_TC,
					      false, OTHER_CLSACT};
	run_case(state, &c);
}

static void test_tc_clsact_beside_clsact(void **state)
{
	static const struct coexist_case c = {"tc mode, clsact, beside a clsact filter",
					      SPW_ATTACH_TC, true, OTHER_CLSACT};
	run_case(state, &c);
}

static void test_xdp_clsact_beside_clsact(void **state)
{
	static const struct coexist_case c = {"xdp mode, clsact egress, beside a clsact filter",
					      SPW_ATTACH_XDP, true, OTHER_CLSACT};
	run_case(state, &c);
}

static void test_xdp_tcx_beside_clsact(void **state)
{
	static const struct coexist_case c = {"xdp mode, tcx egress, beside a clsact filter",
					      SPW_ATTACH_XDP, false, OTHER_CLSACT};
	run_case(state, &c);
}

static void test_tc_tcx_beside_tcx(void **state)
{
	static const struct coexist_case c = {"tc mode, tcx, beside a tcx link", SPW_ATTACH_TC,
					      false, OTHER_TCX};
	run_case(state, &c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tc_tcx_beside_clsact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tc_clsact_beside_clsact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xdp_clsact_beside_clsact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xdp_tcx_beside_clsact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tc_tcx_beside_tcx, setup, teardown),
	};

	return cmocka_run_group_tests_name("tc_coexist", tests, NULL, NULL);
}
