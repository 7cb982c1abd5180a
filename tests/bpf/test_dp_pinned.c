// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_dp_open_pinned(): a running install's maps by their pins, no program loaded (what the
 * CLI's read commands use). Checked against a fixture's full spw_dp_open(): what one handle
 * writes the other reads, counters the program moves read the same through both, programs
 * are refused, and a missing pin or another ABI version is an error, not fresh maps.
 *
 * Needs root (bpffs, BPF_PROG_RUN).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <net/if.h>

#include "spillway_abi.h"
#include "spw_dataplane.h"
#include "pktbuild.h"
#include "spw_fixture.h"

#define SVC_ID	 3
#define SVC_PORT 8080

/* Both handles see one set of maps: writes cross over in both directions. */
static void test_pinned_shares_maps(void **state)
{
	struct spw_fixture *fx = *state;
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = SVC_PORT};
	struct spw_policy p, got;
	struct spw_dataplane *ro;
	uint8_t addr[SPW_ADDR_LEN] = {0};
	uint32_t id = 0;

	assert_int_equal(spw_dp_service_add(fx->dp, &m, SVC_ID), 0);
	spw_policy_init(&p, 3, 1);
	p.admit_level = 77;
	p.generation = 5;
	assert_int_equal(spw_dp_policy_set(fx->dp, SVC_ID, &p), 0);

	assert_int_equal(spw_dp_open_pinned(&ro, fx->pin_root), 0);
	assert_int_equal(spw_dp_service_lookup(ro, IPPROTO_TCP, SVC_PORT, addr, &id), 0);
	assert_int_equal(id, SVC_ID);
	assert_int_equal(spw_dp_policy_get(ro, SVC_ID, &got), 0);
	assert_int_equal(got.admit_level, 77);
	assert_int_equal(got.generation, 5);

	/* And the other way: a write through the pinned handle is what the full one reads. */
	p.admit_level = 12;
	p.generation = 6;
	assert_int_equal(spw_dp_policy_set(ro, SVC_ID, &p), 0);
	assert_int_equal(spw_dp_policy_get(fx->dp, SVC_ID, &got), 0);
	assert_int_equal(got.admit_level, 12);
	assert_int_equal(got.generation, 6);
	assert_string_equal(spw_dp_pin_root(ro), fx->pin_root);
	spw_dp_close(ro);
	/* Closing the pinned handle left the maps (and the full handle) alone. */
	assert_int_equal(spw_dp_policy_get(fx->dp, SVC_ID, &got), 0);
	assert_int_equal(got.admit_level, 12);
}

/* Per-CPU counters the program moves read the same through either handle. */
static void test_pinned_reads_counters(void **state)
{
	struct spw_fixture *fx = *state;
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = SVC_PORT};
	struct pkt_spec spec = {.family = 4,
				.proto = IPPROTO_TCP,
				.dport = SVC_PORT,
				.tcp_flags = PKT_TCP_SYN,
				.seq = 1,
				.tcp_opts_len = PKT_LINUX_SYN_OPTS};
	struct spw_count full, pinned, before;
	struct spw_dataplane *ro;
	uint8_t pkt[PKT_BUF_MAX];
	struct spw_policy p;
	struct spw_run run;
	size_t len;
	int i;

	spw_dp_service_add(fx->dp, &m, SVC_ID);
	spw_policy_init(&p, 3, 0);
	p.lease_expires_ns = UINT64_MAX; /* a live policy: the admission path counts */
	assert_int_equal(spw_dp_policy_set(fx->dp, SVC_ID, &p), 0);
	assert_int_equal(spw_dp_open_pinned(&ro, fx->pin_root), 0);
	assert_int_equal(spw_dp_counter_read(ro, SVC_ID, 0, SPW_REASON_ADMITTED, &before), 0);
	for (i = 0; i < 7; i++) {
		spec.sport = (uint16_t)(40000 + i);
		len = pkt_build(&spec, pkt, sizeof(pkt));
		assert_true(len > 0);
		assert_int_equal(spw_fixture_run(fx, SPW_PROG_XDP, pkt, len, &run), 0);
		assert_int_equal(run.retval, XDP_PASS);
	}
	assert_int_equal(spw_dp_counter_read(fx->dp, SVC_ID, 0, SPW_REASON_ADMITTED, &full), 0);
	assert_int_equal(spw_dp_counter_read(ro, SVC_ID, 0, SPW_REASON_ADMITTED, &pinned), 0);
	assert_int_equal(pinned.packets - before.packets, 7);
	assert_int_equal(pinned.packets, full.packets);
	assert_int_equal(pinned.bytes, full.bytes);
	spw_dp_close(ro);
}

/* No program is loaded: attach is refused before it touches the interface. */
static void test_pinned_has_no_programs(void **state)
{
	struct spw_fixture *fx = *state;
	struct spw_dataplane *ro;
	int lo = (int)if_nametoindex("lo");

	assert_true(lo > 0);
	assert_int_equal(spw_dp_open_pinned(&ro, fx->pin_root), 0);
	assert_int_equal(spw_dp_prog_fd(ro, SPW_PROG_XDP), -ENOENT);
	assert_int_equal(spw_dp_prog_fd(ro, SPW_PROG_TC_EGRESS), -ENOENT);
	assert_int_equal(spw_dp_attach(ro, lo, SPW_ATTACH_XDP_GENERIC), -ENOENT);
	assert_true(spw_dp_prog_fd(fx->dp, SPW_PROG_XDP) >= 0);
	spw_dp_close(ro);
}

/* Nothing pinned: an error, and nothing created (a reader must never make maps). */
static void test_pinned_missing(void **state)
{
	struct spw_dataplane *ro = (struct spw_dataplane *)1;
	char root[96];

	(void)state;
	snprintf(root, sizeof(root), SPW_FX_PIN_PREFIX "absent-%d", (int)getpid());
	assert_int_equal(spw_dp_open_pinned(&ro, root), -ENOENT);
	assert_null(ro);
	assert_int_equal(access(root, F_OK), -1);
}

/* Maps of another ABI version would be read with the wrong layouts. */
static void test_pinned_abi_mismatch(void **state)
{
	struct spw_fixture *fx = *state;
	struct spw_dataplane *ro = NULL;
	struct spw_globals g, saved;

	assert_int_equal(spw_dp_globals_get(fx->dp, &saved), 0);
	g = saved;
	g.abi_version = SPW_ABI_VERSION + 1;
	assert_int_equal(spw_dp_globals_set(fx->dp, &g), 0);
	assert_int_equal(spw_dp_open_pinned(&ro, fx->pin_root), -EPROTO);
	assert_null(ro);
	assert_int_equal(spw_dp_globals_set(fx->dp, &saved), 0);
	assert_int_equal(spw_dp_open_pinned(&ro, fx->pin_root), 0);
	spw_dp_close(ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pinned_shares_maps, spw_fixture_setup,
					    spw_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_pinned_reads_counters, spw_fixture_setup,
					    spw_fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_pinned_has_no_programs, spw_fixture_setup,
					    spw_fixture_teardown),
	    cmocka_unit_test(test_pinned_missing),
	    cmocka_unit_test_setup_teardown(test_pinned_abi_mismatch, spw_fixture_setup,
					    spw_fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
