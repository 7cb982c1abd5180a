// SPDX-License-Identifier: GPL-2.0-only
/*
 * 500 established connections, then a spoofed-source SYN flood of 10x the flow table: the 500
 * stay tracked and counted, and a tier-0 client connects during the flood.
 *
 * Spoofed sources are drawn from 198.18.0.0/15, the benchmarking range the topology also
 * uses, minus the topology's own /24; the frames go out of the client's veth only, inside
 * namespaces this test created, and the server has no route back to them. Needs root
 * (namespaces, BPF).
 */
#include "flows.h"

/* ---- (4) SYN flood ----------------------------------------------------------------------- */

/* Test (4): a 2,048-entry table, 10 times that many SYNs over 3 s, in 10 ms slices. */
#define FLOOD_TABLE    2048
#define FLOOD_FRAMES   (10 * FLOOD_TABLE)
#define FLOOD_MS       3000
#define FLOOD_SLICE_MS 10
/* Connections established before the flood. */
#define ESTABLISHED_N 500
/* The flood guard: new entries per second per CPU, and its burst. */
#define GUARD_RATE  100
#define GUARD_BURST 100
/* 198.18.0.0/15: 2^17 addresses. */
#define SPOOF_SPACE (1U << 17)
/* The unguarded fill: twice the table, in chunks the veth's backlog (1000) takes. */
#define FILL_FRAMES (2 * FLOOD_TABLE)
#define FILL_CHUNK  256
/* The tier-0 connect starts this far into the flood. */
#define CRIT_AT_MS 1000

struct flood {
	int fd;
	struct sockaddr_ll to;
	uint8_t smac[6], dmac[6];
	char daddr[INET_ADDRSTRLEN];
	unsigned int subnet; /* the topology's own 198.18.<subnet>.0/24: never spoofed */
	uint32_t next;	     /* index into the permutation of the spoofed space */
	uint64_t sent;
};

static int hwaddr_of(struct nctx *c, const struct spw_topo_end *e, uint8_t mac[6])
{
	int fd = spw_netns_socket(e->ns, AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	int err = 0;

	CHECK(c, fd >= 0, "socket in %s", e->ns);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", e->ifname);
	/* Device ioctls resolve the name in the socket's namespace. */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static void flood_open(struct nctx *c, struct flood *f)
{
	const struct spw_topo_end *cl = &c->nfx.topo.end[SPW_TOPO_CLI];

	memset(f, 0, sizeof(*f));
	CHECK_OK(c, hwaddr_of(c, cl, f->smac));
	CHECK_OK(c, hwaddr_of(c, &c->nfx.topo.end[SPW_TOPO_SRV], f->dmac));
	/* Protocol 0: this socket only sends, it receives nothing. */
	f->fd = track(c, spw_netns_socket(cl->ns, AF_PACKET, SOCK_RAW, 0));
	f->to.sll_family = AF_PACKET;
	f->to.sll_ifindex = cl->ifindex;
	f->to.sll_halen = 6;
	memcpy(f->to.sll_addr, f->dmac, 6);
	snprintf(f->daddr, sizeof(f->daddr), "%s", c->nfx.topo.end[SPW_TOPO_SRV].v4_str);
	f->subnet = c->nfx.topo.n;
}

/*
 * The next spoofed source: an odd multiplier walks all of 2^17 without repeating, so every
 * SYN is a new 5-tuple; the topology's /24 and .0/.255 hosts are skipped.
 */
static void spoof_next(struct flood *f, char *buf, size_t len)
{
	uint32_t h, third;

	do {
		h = (f->next++ * 2654435761u + 12345u) & (SPOOF_SPACE - 1);
		third = (h >> 8) & 0xff;
	} while ((h < 65536 && third == f->subnet) || (h & 0xff) == 0 || (h & 0xff) == 255);
	snprintf(buf, len, "198.%u.%u.%u", 18 + (h >> 16), third, h & 0xff);
}

static void flood_send(struct nctx *c, struct flood *f, int frames)
{
	for (int i = 0; i < frames; i++) {
		char src[INET_ADDRSTRLEN];
		struct pkt_spec s = {
		    .family = 4,
		    .saddr = src,
		    .daddr = f->daddr,
		    .sport = (uint16_t)(1024 + (f->next * 7919u) % 60000),
		    .dport = TCP_PORT,
		    .tcp_flags = PKT_TCP_SYN,
		    .seq = f->next * 2654435761u,
		    .tcp_opts_len = PKT_LINUX_SYN_OPTS,
		};
		uint8_t frame[PKT_BUF_MAX];
		size_t len;

		spoof_next(f, src, sizeof(src));
		memcpy(s.smac, f->smac, 6);
		memcpy(s.dmac, f->dmac, 6);
		len = pkt_build(&s, frame, sizeof(frame));
		CHECK(c, len > 0, "flood frame does not build");
		CHECK(c,
		      sendto(f->fd, frame, len, 0, (struct sockaddr *)&f->to, sizeof(f->to)) ==
			  (ssize_t)len,
		      "AF_PACKET send: %s", strerror(errno));
		f->sent++;
	}
}

/*
 * (4) 500 established connections (tier 1), then 20,480 SYNs from spoofed sources (tier 2)
 * over 3 s against a 2,048-entry table with a flood guard of 100 inserts/s per CPU; 1 s in,
 * a tier-0 client (the client's IPv6 address) connects. All 500 must still be in the table,
 * established and counted, and still carry data; the tier-0 connect must succeed.
 */
static void test_syn_flood(void **state)
{
	struct nctx *c = build(state, FLOOD_TABLE, 0);
	static struct conn est[ESTABLISHED_N];
	uint64_t guarded, tracked, full, entries;
	struct conn crit = {.cli = -1, .srv = -1};
	double t0, crit_t0 = 0, crit_ms = -1;
	uint16_t crit_port = 0, peer;
	int crit_err = -EINPROGRESS;
	struct flood f;
	int ncpus = libbpf_num_possible_cpus();

	for (int base = 0; base < ESTABLISHED_N; base += BATCH) {
		for (int i = base; i < base + BATCH; i++) {
			est[i].family = AF_INET;
			est[i].srv = -1;
			est[i].end = END_IDLE;
			est[i].cli = connect_start(c, AF_INET, &est[i].port);
		}
		for (int i = base; i < base + BATCH; i++) {
			int err = connect_wait(est[i].cli, IO_TIMEOUT_MS);

			CHECK(c, err == 0, "connect %d: %s", i, strerror(-err));
		}
		accept_batch(c, &est[base], BATCH);
		for (int i = base; i < base + BATCH; i++)
			first_byte(c, &est[i]);
	}
	{
		uint64_t want[SPW_MAX_TIERS] = {[TIER_V4] = ESTABLISHED_N};

		wait_counts(c, want, "500 established");
	}
	/*
	 * The guard goes on once the 500 are in: a burst of 100 legitimate connects is more than
	 * its budget of 100 per CPU, and those would be admitted untracked, by design.
	 */
	CHECK_OK(c, spw_dp_flood_guard_set(c->nfx.dp, GUARD_RATE, GUARD_BURST));

	CHECK_OK(c, spw_fixture_mark(&c->nfx.fx));
	flood_open(c, &f);
	t0 = spw_now_ms();
	for (int slice = 0; f.sent < FLOOD_FRAMES; slice++) {
		double due = t0 + (slice + 1) * FLOOD_SLICE_MS;
		uint64_t per = FLOOD_FRAMES * FLOOD_SLICE_MS / FLOOD_MS;

		if (per > FLOOD_FRAMES - f.sent)
			per = FLOOD_FRAMES - f.sent;
		flood_send(c, &f, (int)per);
		if (crit.cli < 0 && crit_ms < 0 && spw_now_ms() - t0 >= CRIT_AT_MS) {
			crit_t0 = spw_now_ms();
			crit.cli = connect_start(c, AF_INET6, &crit_port);
		}
		if (crit.cli >= 0 && crit_ms < 0) {
			crit_err = connect_wait(crit.cli, 0);
			if (crit_err == 0)
				crit_ms = spw_now_ms() - crit_t0;
		}
		if (spw_now_ms() < due)
			spw_sleep_ms((unsigned int)(due - spw_now_ms()));
	}
	print_message("    flood: %llu SYNs in %.0f ms; tier-0 connect %s after %.0f ms\n",
		      (unsigned long long)f.sent, spw_now_ms() - t0,
		      crit_ms >= 0 ? "succeeded" : "still pending", crit_ms);
	CHECK(c, crit.cli >= 0 && crit_ms >= 0,
	      "the tier-0 connect did not succeed during the flood: %s", strerror(-crit_err));
	crit.srv = accept_any(c, IO_TIMEOUT_MS, &peer);
	CHECK(c, crit.srv >= 0 && peer == crit_port, "tier-0 connection not accepted");

	spw_sleep_ms(100); /* the last frames through the veth */
	guarded = moved(c, DEFAULT_TIER, SPW_REASON_FLOOD_GUARD);
	tracked = moved(c, DEFAULT_TIER, SPW_REASON_ADMITTED);
	full = moved(c, DEFAULT_TIER, SPW_REASON_TABLE_FULL);
	entries = table_entries(c);
	print_message("    flood SYNs: %llu tracked, %llu flood_guard, %llu table_full; %llu "
		      "entries of %d; tier-0 SYN: %llu admitted, %llu flood_guard\n",
		      (unsigned long long)tracked, (unsigned long long)guarded,
		      (unsigned long long)full, (unsigned long long)entries, FLOOD_TABLE,
		      (unsigned long long)moved(c, 0, SPW_REASON_ADMITTED),
		      (unsigned long long)moved(c, 0, SPW_REASON_FLOOD_GUARD));
	/* The flood arrived and was decided: each SYN a new flow, admitted tracked or not. */
	CHECK(c, tracked + guarded + full >= f.sent * 9 / 10, "only %llu of %llu SYNs decided",
	      (unsigned long long)(tracked + guarded + full), (unsigned long long)f.sent);
	CHECK(c, guarded > 0, "the flood guard never engaged");
	/* Inserts stayed within the guard's budget: burst plus refill, per CPU. */
	CHECK(c, tracked <= (uint64_t)ncpus * (GUARD_BURST + GUARD_RATE * (FLOOD_MS / 1000 + 2)),
	      "%llu flood flows tracked: more than the guard allows", (unsigned long long)tracked);
	CHECK(c, active(c, DEFAULT_TIER) == tracked, "tier 2 count %llu, %llu tracked",
	      (unsigned long long)active(c, DEFAULT_TIER), (unsigned long long)tracked);

	/* All 500 are still tracked, established and counted. */
	CHECK(c, entries >= ESTABLISHED_N, "%llu entries", (unsigned long long)entries);
	CHECK(c, active(c, TIER_V4) == ESTABLISHED_N, "tier 1 count %lld, want %d",
	      (long long)active(c, TIER_V4), ESTABLISHED_N);
	for (int i = 0; i < ESTABLISHED_N; i++) {
		struct spw_flow v;
		int err = flow_of(c, AF_INET, est[i].port, &v);

		CHECK(c, err == 0, "connection %d (port %u) is no longer tracked: %s", i,
		      est[i].port, strerror(-err));
		CHECK(c, v.state == SPW_FLOW_ESTABLISHED && v.tier == TIER_V4,
		      "connection %d: state %u tier %u", i, v.state, v.tier);
	}
	/* ... and they still work. */
	for (int i = 0; i < ESTABLISHED_N; i++) {
		char byte = (char)i, back;

		send_all(c, est[i].cli, &byte, 1);
		recv_exact(c, est[i].srv, &back, 1);
		CHECK(c, back == byte, "connection %d garbled", i);
	}

	/*
	 * Without the guard the flood fills the table: new flows are then admitted untracked
	 * (table_full), and still none of the 500 is pushed out, nor a tier-0 client refused.
	 */
	CHECK_OK(c, spw_dp_flood_guard_set(c->nfx.dp, 0, 0));
	CHECK_OK(c, spw_fixture_mark(&c->nfx.fx));
	for (int i = 0; i < FILL_FRAMES / FILL_CHUNK; i++) {
		flood_send(c, &f, FILL_CHUNK);
		spw_sleep_ms(2); /* lets the receiving veth's backlog drain */
	}
	spw_sleep_ms(100);
	entries = table_entries(c);
	full = moved(c, DEFAULT_TIER, SPW_REASON_TABLE_FULL);
	print_message("    fill: %d SYNs, %llu tracked, %llu table_full; %llu entries of %d\n",
		      FILL_FRAMES, (unsigned long long)moved(c, DEFAULT_TIER, SPW_REASON_ADMITTED),
		      (unsigned long long)full, (unsigned long long)entries, FLOOD_TABLE);
	CHECK(c, entries == FLOOD_TABLE && full > 0, "the table did not fill: %llu entries",
	      (unsigned long long)entries);
	{
		struct conn crit2 = {.cli = -1, .srv = -1};

		open_pair(c, AF_INET6, &crit2);
		CHECK(c, moved(c, 0, SPW_REASON_TABLE_FULL) == 1,
		      "the tier-0 SYN on a full table: not admitted untracked");
	}
	CHECK(c, active(c, TIER_V4) == ESTABLISHED_N, "tier 1 count %lld on a full table",
	      (long long)active(c, TIER_V4));
	for (int i = 0; i < ESTABLISHED_N; i++) {
		struct spw_flow v;

		CHECK(c, flow_of(c, AF_INET, est[i].port, &v) == 0,
		      "connection %d pushed out of a full table", i);
	}

	/* The flood's half-open entries go with the SYN timeout; the 500 stay. */
	spw_sleep_ms(1100);
	sweep(c, 1000, 60000);
	CHECK(c, active(c, DEFAULT_TIER) == 0, "tier 2 count %lld after the sweep",
	      (long long)active(c, DEFAULT_TIER));
	CHECK(c, active(c, TIER_V4) == ESTABLISHED_N, "tier 1 count %lld after the sweep",
	      (long long)active(c, TIER_V4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate_setup_teardown(test_syn_flood, setup, teardown,
						     (void *)&mode_tc),
	};

	spw_raise_fd_limit();
	return cmocka_run_group_tests_name("netns flow tracking: SYN flood", tests, NULL, NULL);
}
