// SPDX-License-Identifier: GPL-2.0-only
/*
 * A policy read by the data plane is one whole policy of the packet's own service, while a
 * writer rewrites the policies of several services back to back. Odd services shed every new
 * flow (level 0, floor 0: DROP), even ones never shed (PASS). The writer thread rewrites them
 * in turn, so a record freed by one service's update is the next candidate for the next
 * service's; a reader that kept a pointer into a record reused for another service decides
 * with that service's policy and gives the other verdict. This thread runs SYNs of every
 * service through the XDP program meanwhile (BPF_PROG_RUN, repeat=1) and checks each verdict
 * against its service's parity.
 *
 * Needs root (BPF_PROG_RUN, bpffs).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define SERVICES  10
#define BASE_PORT 8000
/* Enough packets that reused records land mid-decision many times on the old hash map. */
#define PACKETS 400000
/* Fewer completed rewrites than this and the race was hardly exercised. */
#define MIN_UPDATES 2000
#define LEASE_NS    (600ULL * 1000000000ULL)
/* Client ports per client address; PACKETS / PORTS client addresses in 10.201.0.0/16. */
#define PORTS 60000

struct swap_ctx {
	struct spw_fixture fx;
	struct spw_policy pol[SERVICES + 1];
	atomic_bool stop;
	atomic_ulong updates;
	int writer_err;
};

static int sheds_all(uint32_t svc)
{
	return svc & 1;
}

static void policy_of(struct spw_policy *p, uint32_t svc, uint64_t lease)
{
	spw_policy_init(p, 1, 0);
	p->lease_expires_ns = lease;
	if (sheds_all(svc)) {
		p->admit_level = 0;
		p->floor_level = 0;
	}
	for (int i = 0; i < SPW_MAX_TIERS; i++)
		p->action[i] = SPW_ACTION_DROP;
}

static void *writer(void *arg)
{
	struct swap_ctx *c = arg;
	struct spw_policy p;

	for (uint32_t gen = 0; !atomic_load(&c->stop); gen++) {
		uint32_t svc = 1 + gen % SERVICES;

		p = c->pol[svc];
		p.generation = gen;
		c->writer_err = spw_dp_policy_set(c->fx.dp, svc, &p);
		if (c->writer_err)
			break;
		atomic_fetch_add(&c->updates, 1);
	}
	return NULL;
}

static int setup(void **state)
{
	static struct swap_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	if (spw_fixture_open(&ctx.fx))
		return -1;
	*state = &ctx;
	return 0;
}

static int teardown(void **state)
{
	struct swap_ctx *c = *state;

	spw_fixture_close(&c->fx);
	return 0;
}

static void test_swap(void **state)
{
	struct swap_ctx *c = *state;
	struct pkt_spec spec = {.family = 4,
				.proto = IPPROTO_TCP,
				.tcp_flags = PKT_TCP_SYN,
				.seq = 1,
				.daddr = "192.0.2.1",
				.tcp_opts_len = PKT_LINUX_SYN_OPTS};
	unsigned long n_drop = 0, n_pass = 0, n_wrong = 0;
	uint64_t lease = spw_now_ns() + LEASE_NS;
	char saddr[INET_ADDRSTRLEN];
	uint8_t pkt[PKT_BUF_MAX];
	struct spw_run run;
	pthread_t thr;
	int err = 0;

	for (uint32_t svc = 1; svc <= SERVICES; svc++) {
		struct spw_service_match m = {.proto = IPPROTO_TCP,
					      .port = (uint16_t)(BASE_PORT + svc)};

		policy_of(&c->pol[svc], svc, lease);
		assert_int_equal(spw_dp_service_add(c->fx.dp, &m, svc), 0);
		assert_int_equal(spw_dp_policy_set(c->fx.dp, svc, &c->pol[svc]), 0);
	}
	assert_int_equal(pthread_create(&thr, NULL, writer, c), 0);

	for (unsigned int i = 0; i < PACKETS; i++) {
		uint32_t svc = 1 + i % SERVICES;
		int want;
		size_t len;

		spec.dport = (uint16_t)(BASE_PORT + svc);
		spec.sport = (uint16_t)(1024 + i % PORTS);
		snprintf(saddr, sizeof(saddr), "10.201.%u.%u", (i / PORTS) >> 8,
			 (i / PORTS) & 0xff);
		spec.saddr = saddr;
		len = pkt_build(&spec, pkt, sizeof(pkt));
		err = len ? spw_fixture_run(&c->fx, SPW_PROG_XDP, pkt, len, &run) : -EINVAL;
		if (err)
			break;
		want = sheds_all(svc) ? XDP_DROP : XDP_PASS;
		if (run.retval == XDP_DROP)
			n_drop++;
		else if (run.retval == XDP_PASS)
			n_pass++;
		if (run.retval != want && n_wrong++ < 5)
			print_error(
			    "packet %u of service %u: verdict %d, another service's policy\n", i,
			    svc, run.retval);
	}
	atomic_store(&c->stop, true);
	pthread_join(thr, NULL);

	print_message("    %lu updates, %lu drop, %lu pass, %lu with another service's policy\n",
		      atomic_load(&c->updates), n_drop, n_pass, n_wrong);
	assert_int_equal(err, 0);
	assert_int_equal(c->writer_err, 0);
	assert_true(atomic_load(&c->updates) >= MIN_UPDATES);
	assert_true(n_drop > 0);
	assert_true(n_pass > 0);
	assert_int_equal(n_wrong, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_swap, setup, teardown),
	};

	return cmocka_run_group_tests_name("bpf_policy_swap", tests, NULL, NULL);
}
