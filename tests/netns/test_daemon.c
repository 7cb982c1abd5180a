// SPDX-License-Identifier: GPL-2.0-only
/*
 * The real spillwayd against real sockets: what the daemon promises, checked as
 * a client and an operator see it.
 *
 *   (a) a pool reported 100 % saturated makes tier-2 SYNs shed within 2 ticks, while tier 0
 *       still connects; the level falls as the report arrives (well under a tick), and a
 *       tick without a new report does not count the stored one again;
 *   (b) reports back at 10 % restore admission within what the control law's recovery takes;
 *   (c) SIGHUP with a broken file: the error names file:line:column, the old config keeps
 *       being enforced and renewed; a fixed file with SIGHUP is then applied;
 *   (d) kill -9, then past the lease: everything is admitted, counted fail_open;
 *   (e) restart on the same pin root: counters continue, an established connection keeps
 *       exchanging data across kill and restart, and XDP stays attached throughout;
 *   (f) bad report lines are counted and logged and change nothing.
 *
 * Topology (tests/lib/netns.h): a server namespace, where spillwayd runs (tests/lib/daemon.h)
 * and attaches XDP in native mode to the server's veth, and a client namespace whose veth
 * carries the empty XDP program, without which the RSTs that reject sends back with XDP_TX
 * never arrive (a veth drops XDP frames its peer has no XDP program for). One 3-tier TCP service
 * with reject for tiers 1 and 2, so a shed SYN shows at once as ECONNREFUSED. Three clients, told
 * apart by the source:
 *
 *   tier 0  the client's IPv6 address, by a /128 rule;
 *   tier 1  the client's IPv4 address, by the service's default tier (no rule matches it);
 *   tier 2  a "probe" address 10.x.y.1, by the 10.0.0.0/8 rule.
 *
 * Within a tier, the law sheds cohorts from the last one down (rank = tier * 32 + cohort), so
 * the first tier-2 SYN shed is one of the last cohort. The probe is picked, once the daemon's
 * cohort salt is known, as an address whose /24 hashes into that cohort: then "the first shed
 * tier-2 SYN" is the probe's, whatever the law's step sizes, and its connect() measures the
 * reaction. cohort_rotation is long (1 h) so that the salt stays put during a test.
 *
 * The clock: tick 100 ms, lease 1 s (the validator's minimum is 3 ticks), stale_after 2 s.
 * Bounds are in ticks plus a slack for a noisy machine; every measured figure is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "spillway_rank.h"
#include "spw_control.h"
#include "spw_dataplane.h"
#include "daemon.h"
#include "netns.h"
#include "attach.h"
#include "report_pump.h"
#include "sockets.h"
#include "util.h"
#include "empty_xdp.skel.h"

/* The service: the first (only) one in the file, so the daemon gives it id 1. */
#define SVC_ID	 1
#define SVC_PORT 8080

/* The controller settings written into the config, in ms, and the law's view of them. */
#define TICK_MS	   100
#define LEASE_MS   1000
#define HYSTERESIS 0.1
#define TIERS	   3
#define CEILING	   (TIERS * SPW_COHORTS) /* full admission */
#define FLOOR	   SPW_COHORTS		 /* protect_tier0 (the default): tier 0 never shed */
#define TIER2_SHED (2 * SPW_COHORTS)	 /* at or below this level all of tier 2 is shed */

/* The pool signal's target and the two reports: 100 % is 1 / 0.85 = 1.18 times the target. */
#define POOL_TARGET "0.85"
#define REPORT_FULL "pool db in_use=100 capacity=100"
#define REPORT_LOW  "pool db in_use=10 capacity=100"

/* Loading and verifying two BPF objects takes a few hundred ms; a loaded machine, more. */
#define READY_TIMEOUT_MS 15000
/*
 * The promise is 2 ticks from report to shed SYN. The slack covers a late timer on a busy
 * 2-CPU machine running ASan tests; it is less than a tick, so 3 ticks would still fail.
 */
#define REACTION_TICKS	  2
#define REACTION_SLACK_MS 80
/*
 * A clear overload's report is acted on when it arrives: the policy changes in well under a
 * millisecond; the bound is the probe's resolution plus scheduling on a busy machine, and
 * under half a tick, where a daemon that waits for its tick lands half of the time.
 */
#define URGENT_MS 40
/* How often the probe tries while waiting for the shed: the resolution of the measurement. */
#define PROBE_EVERY_MS 5
/*
 * Recovery: the law's own recovery time (simulated from its defaults, see law_recovery_ticks),
 * plus one tick for the first low report to be read and one for the probe to see the policy,
 * plus this much for a noisy machine over a climb of a few seconds.
 */
#define RECOVERY_SLACK_MS 500
#define RECOVERY_PROBE_MS 20
/* How long states the law reaches in a few dozen ticks may take before the test gives up. */
#define GIVE_UP_MS 10000
/* Past the lease's expiry, before a fail-open is expected: clock reads and a late packet. */
#define LEASE_MARGIN_MS 20
/* Anything that should happen at once (accept, echo, an admitted connect) gets this long. */
#define IO_TIMEOUT_MS 3000
/* Round trips that show a connection still carries data. */
#define ROUND_TRIPS 3

/* The three clients, by tier. */
enum who { WHO_T0, WHO_T1, WHO_T2, WHO_COUNT };
static const char *const who_name[WHO_COUNT] = {"tier-0 client", "tier-1 client", "tier-2 probe"};

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	struct empty_xdp *empty;     /* on the client's veth */
	int listen_fd[2];	     /* IPv4, IPv6, in the server namespace */
	struct spw_fds fds;	     /* closed by the teardown, also after a failed assertion */
	char probe[INET_ADDRSTRLEN]; /* the tier-2 source, 10.x.y.1 */
	uint32_t probe_cohort;
	struct spw_law_params law; /* what the daemon computes for this config */
	struct spw_pump pump;	   /* the report sent every tick while waiting */
};

/* ---- the daemon's maps ------------------------------------------------------------------- */

static struct spw_policy policy(struct test_ctx *c)
{
	struct spw_policy p;

	assert_int_equal(spw_dp_policy_get(c->d.dp, SVC_ID, &p), 0);
	return p;
}

/* The id the data plane gives the service's traffic (0: none). */
static uint32_t service_id(struct test_ctx *c)
{
	uint8_t addr[SPW_ADDR_LEN];
	uint32_t svc = 0;

	assert_int_equal(spw_addr_parse(c->topo.end[SPW_TOPO_SRV].v4_str, addr, NULL), 0);
	assert_int_equal(spw_dp_service_lookup(c->d.dp, IPPROTO_TCP, SVC_PORT, addr, &svc), 0);
	return svc;
}

/* The level the data plane enforces now. */
static uint32_t level(struct test_ctx *c)
{
	struct spw_policy p = policy(c);

	return spw_effective_level(&p);
}

static uint64_t count(struct test_ctx *c, uint32_t tier, enum spw_reason r)
{
	struct spw_count n;

	assert_int_equal(spw_dp_counter_read(c->d.dp, SVC_ID, tier, r, &n), 0);
	return n.packets;
}

struct xdp_state {
	int ifindex;
	uint32_t prog_id;
	uint8_t mode;
};

static int xdp_query_in_ns(void *arg)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, o);
	struct xdp_state *x = arg;
	int err;

	err = bpf_xdp_query(x->ifindex, 0, &o);
	x->prog_id = o.drv_prog_id;
	x->mode = o.attach_mode;
	return err;
}

/* The XDP program on the server's veth, in native mode: its id, or 0 when none is there. */
static uint32_t xdp_prog(struct test_ctx *c)
{
	struct xdp_state x = {.ifindex = c->topo.end[SPW_TOPO_SRV].ifindex};

	assert_int_equal(spw_netns_run(c->topo.end[SPW_TOPO_SRV].ns, xdp_query_in_ns, &x), 0);
	return x.mode == XDP_ATTACHED_DRV ? x.prog_id : 0;
}

/* A delay in [0, tick): seeded per run, so runs see different phases. */
static int random_phase_ms(void)
{
	static bool seeded;

	if (!seeded) {
		srand((unsigned int)(getpid() ^ (unsigned int)spw_now_ms()));
		seeded = true;
	}
	return rand() % TICK_MS;
}

/* ---- the control law's own figures ------------------------------------------------------- */

/*
 * Ticks the law takes, from a service held at full saturation long enough to sit at the floor
 * with its smoothing settled, to full admission once the pressure reads `low`. Run on the law
 * itself (spw_law_defaults with the config's values, as the daemon does), so the bound follows
 * the law's constants when they change instead of copying them.
 */
/* A pool reading of pressure `pr` taken at `now`, as spw_pressure_read makes it. */
static struct spw_law_reading pool_reading(double pr, uint64_t now)
{
	double fill = pr * atof(POOL_TARGET);
	struct spw_law_reading r = {
	    .pressure = pr,
	    .load_pressure = fill >= 1.0 ? NAN : pr,
	    .saturated = fill >= 1.0,
	    .saturated_pressure = fill >= 1.0 ? pr : NAN,
	    .taken_ns = now,
	};

	return r;
}

static unsigned int law_recovery_ticks(const struct spw_law_params *p, double high, double low)
{
	uint64_t tick = p->tick_ns, now = tick;
	struct spw_law_reading r;
	struct spw_law_state s;
	unsigned int n;

	spw_law_init(&s, p, TIERS);
	for (int i = 0; i < 1000; i++, now += tick) {
		r = pool_reading(high, now);
		spw_law_step(&s, p, &r, now);
	}
	for (n = 1; n < 100000; n++, now += tick) {
		r = pool_reading(low, now);
		if (spw_law_step(&s, p, &r, now) >= p->ceiling)
			return n;
	}
	fail_msg("the law never recovers from pressure %.3f to %.3f", high, low);
	return 0;
}

/* Ticks at `high` from full admission until the level is at or below `below`. */
static unsigned int law_shed_ticks(const struct spw_law_params *p, double high, uint32_t below)
{
	uint64_t tick = p->tick_ns, now = tick;
	struct spw_law_reading r;
	struct spw_law_state s;
	unsigned int n;

	spw_law_init(&s, p, TIERS);
	for (n = 1; n < 100000; n++, now += tick) {
		r = pool_reading(high, now);
		if (spw_law_step(&s, p, &r, now) <= below)
			return n;
	}
	return 0;
}

static int who_family(enum who w)
{
	return w == WHO_T0 ? AF_INET6 : AF_INET;
}

/* The client's source address for w, and the server's address in the same family. */
static void who_addrs(struct test_ctx *c, enum who w, struct sockaddr_storage *src,
		      socklen_t *srclen, struct sockaddr_storage *dst, socklen_t *dstlen)
{
	int family = who_family(w);
	int len = spw_topo_sockaddr(&c->topo, SPW_TOPO_SRV, family, SVC_PORT, dst);

	assert_true(len > 0);
	*dstlen = (socklen_t)len;
	len = spw_topo_sockaddr(&c->topo, SPW_TOPO_CLI, family, 0, src);
	assert_true(len > 0);
	*srclen = (socklen_t)len;
	if (w == WHO_T2)
		assert_int_equal(
		    inet_pton(AF_INET, c->probe, &((struct sockaddr_in *)src)->sin_addr), 1);
}

/*
 * A non-blocking connect from w's source, waited for at most wait_ms. Returns SPW_CONN_OK,
 * SPW_CONN_PENDING or the negative errno it failed with; *ms is how long that took. The socket
 * is tracked and returned in *fd.
 */
static int try_connect(struct test_ctx *c, enum who w, int wait_ms, double *ms, int *fd)
{
	struct sockaddr_storage src, dst;
	socklen_t srclen, dstlen;

	who_addrs(c, w, &src, &srclen, &dst, &dstlen);
	*fd = spw_fds_track(
	    &c->fds, spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, who_family(w), SOCK_STREAM, 0));
	assert_int_equal(bind(*fd, (struct sockaddr *)&src, srclen), 0);
	return spw_connect_timed(*fd, &dst, dstlen, wait_ms, IO_TIMEOUT_MS, ms);
}

static int accept_one(struct test_ctx *c, enum who w)
{
	int lfd = c->listen_fd[who_family(w) == AF_INET6], fd;

	assert_true(spw_sock_readable(lfd, IO_TIMEOUT_MS));
	fd = spw_fds_track(&c->fds, accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
	spw_sock_timeouts(fd, IO_TIMEOUT_MS);
	return fd;
}

static const char *result_name(int r)
{
	return r == SPW_CONN_OK	       ? "a connection"
	       : r == SPW_CONN_PENDING ? "no answer"
				       : strerror(-r);
}

/*
 * One connection attempt, closed again: SPW_CONN_OK (the server accepted it), -ECONNREFUSED (shed
 * with reject), or anything else, which no case expects (the caller fails on it).
 */
static int attempt(struct test_ctx *c, enum who w)
{
	double ms;
	int fd, r = try_connect(c, w, IO_TIMEOUT_MS, &ms, &fd);

	if (r == SPW_CONN_OK)
		spw_fds_close(&c->fds, accept_one(c, w));
	spw_fds_close(&c->fds, fd);
	return r;
}

static void expect_admitted(struct test_ctx *c, enum who w, const char *when)
{
	int r = attempt(c, w);

	if (r != SPW_CONN_OK)
		fail_msg("%s: the %s got %s, expected a connection", when, who_name[w],
			 result_name(r));
}

static void expect_refused(struct test_ctx *c, enum who w, const char *when)
{
	int r = attempt(c, w);

	if (r != -ECONNREFUSED)
		fail_msg("%s: the %s got %s, expected %s", when, who_name[w], result_name(r),
			 strerror(ECONNREFUSED));
}

static void connect_ok(struct test_ctx *c, enum who w, int *cli, int *srv)
{
	double ms;
	int r = try_connect(c, w, IO_TIMEOUT_MS, &ms, cli);

	if (r != SPW_CONN_OK)
		fail_msg("the %s got %s after %.0f ms, expected a connection", who_name[w],
			 result_name(r), ms);
	*srv = accept_one(c, w);
}

/*
 * Repeats the probe until it is refused, reporting every tick, for at most give_up_ms.
 * Returns the ms from start_ms to the refusal; *first_drop_ms (may be NULL) gets when the
 * level was first seen below the ceiling (-1 if never). Each admitted attempt is accepted and
 * closed; the refusal counts one shed SYN (a refused client does not retransmit).
 */
static double probe_until_refused(struct test_ctx *c, double start_ms, int give_up_ms,
				  double *first_drop_ms)
{
	double drop = -1;

	for (;;) {
		int r;

		spw_pump(&c->pump);
		if (drop < 0 && level(c) < CEILING)
			drop = spw_now_ms() - start_ms;
		r = attempt(c, WHO_T2);
		if (r == -ECONNREFUSED)
			break;
		if (r != SPW_CONN_OK)
			fail_msg("the tier-2 probe got %s while waiting to be shed",
				 result_name(r));
		if (spw_now_ms() - start_ms > give_up_ms)
			fail_msg("the tier-2 probe is still admitted %d ms after saturation was "
				 "first reported (level %u)",
				 give_up_ms, level(c));
		spw_pump_wait(&c->pump, PROBE_EVERY_MS, 1);
	}
	if (first_drop_ms)
		*first_drop_ms = drop;
	return spw_now_ms() - start_ms;
}

/* Reports every tick until the level is at or below target; ms from start_ms to then. */
static double pump_until_level(struct test_ctx *c, double start_ms, uint32_t target)
{
	while (level(c) > target) {
		if (spw_now_ms() - start_ms > GIVE_UP_MS)
			fail_msg("level still %u, not at or below %u, %d ms after saturation was "
				 "first reported",
				 level(c), target, GIVE_UP_MS);
		spw_pump_wait(&c->pump, 1, 1);
	}
	return spw_now_ms() - start_ms;
}

/* ---- setup and teardown ------------------------------------------------------------------ */

static int listen_on(struct test_ctx *c, int family)
{
	return spw_fds_track(&c->fds, spw_topo_listen(&c->topo, family, SOCK_STREAM, SVC_PORT, 64));
}

/*
 * The config under test. dry_run and extra_rules vary between a reload's files; everything a
 * file must say about this run's paths is added by spw_daemon_write_config().
 */
static void make_config(struct test_ctx *c, char *buf, size_t len, const char *dry_run,
			const char *extra_rules)
{
	int n = snprintf(buf, len,
			 "# spillwayd under test (tests/netns/test_daemon.c)\n"
			 "interfaces: [{name: %s, mode: xdp}]\n"
			 "tiers: [critical, standard, sheddable]\n"
			 "classify:\n"
			 "  - {cidr: \"%s/128\", tier: critical}\n"
			 "  - {cidr: 10.0.0.0/8, tier: sheddable}\n"
			 "%s"
			 "services:\n"
			 "  - name: api\n"
			 "    protocol: tcp\n"
			 "    port: %d\n"
			 "    default_tier: standard\n"
			 "    shed_action: {standard: reject, sheddable: reject}\n"
			 "    dry_run: %s\n"
			 "    signals:\n"
			 "      - {pool: db, target: " POOL_TARGET "}\n"
			 /* Read every tick, always lower: the pool report sets the pressure. */
			 "      - {accept_queue: 0.5}\n"
			 "controller: {tick: %dms, lease: %dms, hysteresis: %.1f, "
			 "cohort_rotation: 1h, stale_after: 2s}\n",
			 c->topo.end[SPW_TOPO_SRV].ifname, c->topo.end[SPW_TOPO_CLI].v6_str,
			 extra_rules, SVC_PORT, dry_run, TICK_MS, LEASE_MS, HYSTERESIS);

	assert_true(n > 0 && (size_t)n < len);
}

/*
 * The probe: a source address whose /24 falls into the last cohort under the daemon's salt,
 * added to the client's veth, with a route back to it on the server's side.
 */
static void pick_probe(struct test_ctx *c)
{
	struct spw_globals g;
	char host[INET_ADDRSTRLEN + 4];
	uint8_t addr[SPW_ADDR_LEN];
	bool found = false;

	assert_int_equal(spw_dp_globals_get(c->d.dp, &g), 0);
	/* 10.a.b.0/24 prefixes: a cohort in 32 has a 1-(31/32)^n chance per n tries. */
	for (unsigned int i = 0; i < 65536 && !found; i++) {
		snprintf(c->probe, sizeof(c->probe), "10.%u.%u.1", 1 + i / 256, i % 256);
		assert_int_equal(spw_addr_parse(c->probe, addr, NULL), 0);
		c->probe_cohort = spw_cohort(addr, g.cohort_salt, g.ipv6_cohort_prefix);
		found = c->probe_cohort == SPW_COHORTS - 1;
	}
	assert_true(found);
	snprintf(host, sizeof(host), "%s/32", c->probe);
	{
		const char *add[] = {"-n",  c->topo.end[SPW_TOPO_CLI].ns,     "addr", "add", host,
				     "dev", c->topo.end[SPW_TOPO_CLI].ifname, NULL};
		const char *route[] = {
		    "-n",  c->topo.end[SPW_TOPO_SRV].ns,     "route", "add", host,
		    "dev", c->topo.end[SPW_TOPO_SRV].ifname, NULL};

		assert_int_equal(spw_netns_ip(add), 0);
		assert_int_equal(spw_netns_ip(route), 0);
	}
}

/*
 * cmocka skips the teardown when a setup fails, so the setup only allocates and everything is
 * built here, where a failed assertion still leads to the teardown.
 */
static struct test_ctx *build(void **state, const char *dry_run)
{
	struct test_ctx *c = *state;
	char bin[4096], cfg[4096];
	int err;

	/* The daemon binary first: without it nothing below means anything. */
	assert_int_equal(spw_daemon_binary(bin, sizeof(bin)), 0);
	assert_int_equal(spw_topo_create(&c->topo), 0);
	err = spw_topo_peer_xdp(&c->topo, &c->empty);
	if (err)
		fail_msg("empty XDP on the client veth: %s", strerror(-err));
	c->listen_fd[0] = listen_on(c, AF_INET);
	c->listen_fd[1] = listen_on(c, AF_INET6);

	assert_int_equal(spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, true), 0);
	make_config(c, cfg, sizeof(cfg), dry_run, "");
	assert_int_equal(spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS), 0);

	/* The daemon's numbering, as the data plane sees it. */
	assert_int_equal(service_id(c), SVC_ID);
	assert_int_not_equal(xdp_prog(c), 0);
	spw_law_defaults(&c->law, FLOOR, CEILING, HYSTERESIS, TICK_MS * 1000000ULL);
	pick_probe(c);
	return c;
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->listen_fd[0] = c->listen_fd[1] = -1;
	c->pump = (struct spw_pump){.d = &c->d, .period_ms = TICK_MS};
	*state = c;
	return 0;
}

/* Runs also after a failed assertion; checks that nothing is left behind. */
static int teardown(void **state)
{
	struct test_ctx *c = *state;
	char pin_root[SPW_DAEMON_PATH_LEN], dir[SPW_DAEMON_PATH_LEN];
	bool left = false;
	struct stat st;

	if (!c)
		return 0;
	snprintf(pin_root, sizeof(pin_root), "%s", c->d.pin_root);
	snprintf(dir, sizeof(dir), "%s", c->d.dir);
	spw_fds_close_all(&c->fds);
	spw_daemon_finish(&c->d);
	empty_xdp__destroy(c->empty);
	spw_topo_destroy(&c->topo);

	if (spw_netns_exists(c->topo.end[SPW_TOPO_SRV].ns) ||
	    spw_netns_exists(c->topo.end[SPW_TOPO_CLI].ns)) {
		fprintf(stderr, "teardown: namespace %s or %s is still there\n",
			c->topo.end[SPW_TOPO_SRV].ns, c->topo.end[SPW_TOPO_CLI].ns);
		left = true;
	}
	if (pin_root[0] && stat(pin_root, &st) == 0) {
		fprintf(stderr, "teardown: pin root %s is still there\n", pin_root);
		left = true;
	}
	if (dir[0] && stat(dir, &st) == 0) {
		fprintf(stderr, "teardown: folder %s is still there\n", dir);
		left = true;
	}
	free(c);
	*state = NULL;
	return left ? -1 : 0;
}

/* ---- (f) bad report lines ---------------------------------------------------------------- */

static bool report_get(struct test_ctx *c, const char *name, struct spw_report *r)
{
	struct spw_report_key key;

	assert_int_equal(spw_report_key_make(&key, SPW_REPORT_POOL, name), 0);
	return spw_dp_report_get(c->d.dp, &key, r) == 0;
}

/* Waits until the daemon has stored a report of pool name (it stores as it reads). */
static void wait_report_stored(struct test_ctx *c, const char *name, struct spw_report *r)
{
	double t0 = spw_now_ms();

	while (!report_get(c, name, r)) {
		if (spw_now_ms() - t0 > IO_TIMEOUT_MS)
			fail_msg("the report of pool %s was not stored within %d ms", name,
				 IO_TIMEOUT_MS);
		spw_sleep_ms(1);
	}
}

static double metric(struct test_ctx *c, const char *series)
{
	double v = NAN;
	int err = spw_daemon_metric(&c->d, series, &v);

	if (err)
		fail_msg("metric %s: %s", series, strerror(-err));
	return v;
}

/* Polls a counter of /metrics until it reads want; fails after a few ticks, or past want. */
static void wait_metric(struct test_ctx *c, const char *series, double want)
{
	double t0 = spw_now_ms(), v;

	while ((v = metric(c, series)) < want) {
		if (spw_now_ms() - t0 > 3 * TICK_MS + IO_TIMEOUT_MS)
			break;
		spw_sleep_ms(TICK_MS / 10);
	}
	/* Whole numbers well below 2^53: exact in a double. */
	if (v != want)
		fail_msg("%s is %.0f, expected %.0f", series, v, want);
}

#define METRIC_REJECTED "spillway_reports_total{outcome=\"rejected\"}"
#define METRIC_ACCEPTED "spillway_reports_total{outcome=\"accepted\"}"

/*
 * Lines the parser refuses, each with something a lax parser would take: a saturated pool
 * followed by a second line, numbers that are not numbers, a pool lending more than it has.
 * None of them may change the stored report or the level.
 */
static const struct {
	const char *line;
	size_t len; /* 0: strlen */
} bad_lines[] = {
    {"pool db in_use=100 capacity=0", 0}, /* first: its reason is the one logged */
    {"pool db in_use=100 capacity=100\n\n", 0},
    {"pool db in_use=100 capacity=100\npool db in_use=100 capacity=100", 0},
    {"pool db in_use=nan capacity=100", 0},
    {"pool db in_use=1e2 capacity=100", 0},
    {"pool db in_use=100", 0},
    {"pool db in_use=100 capacity=100 colour=red", 0},
    {"flood db in_use=100 capacity=100", 0},
    {"pool db in_use=100\0 capacity=100", 31},
    {"", 0},
};
#define N_BAD (sizeof(bad_lines) / sizeof(bad_lines[0]))

static void bad_reports(struct test_ctx *c)
{
	struct spw_report before, after, sentinel;
	uint64_t shed0 = count(c, 2, SPW_REASON_SHED_LEVEL);
	char *log;

	/* A good 10 % report first, so there is something a bad line could overwrite. */
	assert_int_equal(spw_daemon_report(&c->d, REPORT_LOW), 0);
	wait_report_stored(c, "db", &before);
	/* A fresh daemon: that one line is all it has been sent. */
	wait_metric(c, METRIC_ACCEPTED, 1);
	wait_metric(c, METRIC_REJECTED, 0);
	spw_daemon_log_mark(&c->d);

	for (size_t i = 0; i < N_BAD; i++) {
		size_t len = bad_lines[i].len ? bad_lines[i].len : strlen(bad_lines[i].line);

		assert_int_equal(spw_daemon_report_raw(&c->d, bad_lines[i].line, len), 0);
	}
	/* Datagrams are read in order: once this one is stored, every bad one was read. */
	assert_int_equal(spw_daemon_report(&c->d, "pool sentinel in_use=1 capacity=2"), 0);
	wait_report_stored(c, "sentinel", &sentinel);

	assert_true(report_get(c, "db", &after));
	if (memcmp(&before, &after, sizeof(before)))
		fail_msg("a refused line changed the stored report of pool db (in_use %llu -> "
			 "%llu, capacity %llu -> %llu)",
			 (unsigned long long)before.in_use, (unsigned long long)after.in_use,
			 (unsigned long long)before.capacity, (unsigned long long)after.capacity);
	/* The exporter serves what the last tick copied out: give it a tick or two. */
	wait_metric(c, METRIC_REJECTED, N_BAD);
	wait_metric(c, METRIC_ACCEPTED, 2);
	/* Logged with the parser's reason (the rest within the second are only counted). */
	if (spw_daemon_log_wait(&c->d, "capacity must be > 0", IO_TIMEOUT_MS)) {
		log = spw_daemon_log_since_mark(&c->d);
		fail_msg("the refused report is not in the log; since the lines were sent:\n%s",
			 log ? log : "(unreadable)");
	}
	/* Two ticks later nothing moved: the level is still full, nothing shed. */
	spw_pump_wait(&c->pump, 2 * TICK_MS, 1);
	assert_int_equal(level(c), CEILING);
	assert_int_equal(count(c, 2, SPW_REASON_SHED_LEVEL), shed0);
	assert_true(spw_daemon_alive(&c->d));
	expect_admitted(c, WHO_T2, "after bad report lines");
	printf("(f) %zu bad report lines: all counted as rejected, the first logged, the stored "
	       "report and the level unchanged\n",
	       N_BAD);
}

/* ---- the cases --------------------------------------------------------------------------- */

/* (f), (a), (b): one daemon through bad reports, saturation and recovery. */
static void test_shed_and_recover(void **state)
{
	struct test_ctx *c = build(state, "false");
	int phase_ms;
	double t0, react_ms, drop_ms, tier2_ms, floor_ms, up_ms = -1, probe_ms, full_ms, bound;
	uint64_t shed2_0, shed0_0, shed1_0;
	unsigned int recover_ticks;
	uint32_t start_level;

	/* Nothing reported yet: nothing measured, everything admitted. */
	for (int w = 0; w < WHO_COUNT; w++)
		expect_admitted(c, w, "before any report");

	bad_reports(c);

	/* (a) Saturation, reported every tick. */
	shed2_0 = count(c, 2, SPW_REASON_SHED_LEVEL);
	shed1_0 = count(c, 1, SPW_REASON_SHED_LEVEL);
	shed0_0 = count(c, 0, SPW_REASON_SHED_LEVEL);
	/*
	 * Reports land at a random phase of the daemon's timer, as an app's would: the steps
	 * before (waiting for the exporter's per-tick figures) end right after a tick, and
	 * starting from there would always measure the worst phase.
	 */
	phase_ms = random_phase_ms();
	spw_pump_wait(&c->pump, phase_ms, 1);
	t0 = spw_now_ms();
	spw_pump_start(&c->pump, REPORT_FULL);
	react_ms = probe_until_refused(c, t0, GIVE_UP_MS, &drop_ms);
	printf("(a) reaction: first tier-2 SYN (cohort %u) refused %.0f ms after the first "
	       "saturated report (%.2f ticks; level first seen below full after %.0f ms; report "
	       "sent after a random %d ms delay); law: %u tick(s) from full to the first shed "
	       "cohort\n",
	       c->probe_cohort, react_ms, react_ms / TICK_MS, drop_ms, phase_ms,
	       law_shed_ticks(&c->law, 1 / atof(POOL_TARGET), CEILING - 1));
	if (react_ms > REACTION_TICKS * TICK_MS + REACTION_SLACK_MS)
		fail_msg("tier-2 SYNs shed %.0f ms after saturation was reported: more than %d "
			 "ticks (+%d ms slack)",
			 react_ms, REACTION_TICKS, REACTION_SLACK_MS);
	/*
	 * A clear overload is acted on as the report arrives, not at the next tick: the level
	 * falls within a fraction of a tick whatever the timer's phase (a tick-bound daemon
	 * takes 0-100 ms, half a tick on average).
	 */
	if (drop_ms < 0 || drop_ms > URGENT_MS)
		fail_msg("the level fell %.0f ms after a saturated report: the report waited for "
			 "a tick (bound %d ms)",
			 drop_ms, URGENT_MS);
	/* Tier 0 is never shed while the floor protects it, whatever the level. */
	expect_admitted(c, WHO_T0, "right after the first shed");
	/*
	 * One report is one reading: without a new one, the ticks that follow do not count the
	 * stored report again (each would be a further cut of a pinned pool), although the
	 * accept-queue signal is read anew every tick.
	 */
	spw_pump_start(&c->pump, NULL);
	start_level = level(c);
	spw_sleep_ms(3 * TICK_MS);
	if (level(c) != start_level)
		fail_msg("the level went from %u to %u over 3 ticks without a new report",
			 start_level, level(c));
	spw_pump_start(&c->pump, REPORT_FULL);

	tier2_ms = pump_until_level(c, t0, TIER2_SHED);
	floor_ms = pump_until_level(c, t0, FLOOR);
	printf("(a) all of tier 2 shed after %.0f ms (%.1f ticks; law: %u), the floor reached "
	       "after %.0f ms (%.1f ticks; law: %u)\n",
	       tier2_ms, tier2_ms / TICK_MS,
	       law_shed_ticks(&c->law, 1 / atof(POOL_TARGET), TIER2_SHED), floor_ms,
	       floor_ms / TICK_MS, law_shed_ticks(&c->law, 1 / atof(POOL_TARGET), FLOOR));
	/* At the floor: tiers 1 and 2 refused, tier 0 served. */
	expect_admitted(c, WHO_T0, "at the floor");
	expect_refused(c, WHO_T1, "at the floor");
	expect_refused(c, WHO_T2, "at the floor");
	/* Every refusal was one SYN, counted where it belongs; tier 0 never. */
	assert_int_equal(count(c, 2, SPW_REASON_SHED_LEVEL) - shed2_0, 2);
	assert_int_equal(count(c, 1, SPW_REASON_SHED_LEVEL) - shed1_0, 1);
	assert_int_equal(count(c, 0, SPW_REASON_SHED_LEVEL) - shed0_0, 0);

	/* (b) Back to 10 %, reported every tick. */
	recover_ticks = law_recovery_ticks(&c->law, 1 / atof(POOL_TARGET), 0.1 / atof(POOL_TARGET));
	bound = (recover_ticks + 2) * TICK_MS + RECOVERY_SLACK_MS;
	start_level = level(c);
	t0 = spw_now_ms();
	spw_pump_start(&c->pump, REPORT_LOW);
	for (;;) {
		int r;

		if (up_ms < 0 && level(c) > start_level)
			up_ms = spw_now_ms() - t0;
		r = attempt(c, WHO_T2);
		if (r == SPW_CONN_OK)
			break;
		if (r != -ECONNREFUSED)
			fail_msg("the tier-2 probe got %s while recovering", result_name(r));
		if (spw_now_ms() - t0 > bound)
			fail_msg(
			    "the tier-2 probe is still refused %.0f ms after the pool came back "
			    "to 10 %% (level %u of %u; bound %.0f ms)",
			    spw_now_ms() - t0, level(c), CEILING, bound);
		spw_pump_wait(&c->pump, RECOVERY_PROBE_MS, 1);
	}
	probe_ms = spw_now_ms() - t0;
	while (level(c) < CEILING) {
		if (spw_now_ms() - t0 > bound)
			fail_msg("level %u, not back to full %.0f ms after the pool came back to "
				 "10 %%",
				 level(c), spw_now_ms() - t0);
		spw_pump_wait(&c->pump, 1, 1);
	}
	full_ms = spw_now_ms() - t0;
	printf("(b) recovery: law defaults recover_after %.0f ms, drift +%u ranks per tick: "
	       "%u ticks from the floor to full without a demand estimate (bound %.0f ms with 2 "
	       "ticks of delivery and %d ms slack); measured: level rising after %.0f ms, "
	       "tier-2 probe admitted after %.0f ms, full admission after %.0f ms\n",
	       c->law.recover_after_ns / 1e6, c->law.drift_ranks, recover_ticks, bound,
	       RECOVERY_SLACK_MS, up_ms, probe_ms, full_ms);
	for (int w = 0; w < WHO_COUNT; w++)
		expect_admitted(c, w, "after recovery");
	assert_true(spw_daemon_alive(&c->d));
}

/* (c) SIGHUP: a broken file is refused and the old config kept; a fixed one applied. */
static void test_sighup(void **state)
{
	struct test_ctx *c = build(state, "false");
	char cfg[4096], where[SPW_DAEMON_PATH_LEN + 32], *log, *at, *eol, *bol;
	struct spw_policy p1, p2;
	struct spw_rule rule;
	uint8_t addr[SPW_ADDR_LEN];
	unsigned int line = 1, col;
	uint64_t would0, shed0;
	double t0, ms;

	/* Shedding under the running config, so "still enforced" can be seen. */
	t0 = spw_now_ms();
	spw_pump_start(&c->pump, REPORT_FULL);
	probe_until_refused(c, t0, GIVE_UP_MS, NULL);

	/* Invalid YAML: '@' is reserved and cannot start a plain scalar. */
	make_config(c, cfg, sizeof(cfg), "@false", "");
	at = strstr(cfg, "dry_run: @");
	assert_non_null(at);
	bol = at;
	while (bol > cfg && bol[-1] != '\n')
		bol--;
	for (const char *s = cfg; s < at; s++)
		line += *s == '\n';
	/* Columns count from 1, at the '@'. */
	col = (unsigned int)(at - bol) + (unsigned int)strlen("dry_run: ") + 1;
	snprintf(where, sizeof(where), "%s:%u:%u: ", c->d.config, line, col);
	assert_int_equal(spw_daemon_write_config(&c->d, cfg), 0);
	p1 = policy(c);
	spw_daemon_log_mark(&c->d);
	assert_int_equal(spw_daemon_signal(&c->d, SIGHUP), 0);
	if (spw_daemon_log_wait(&c->d, where, IO_TIMEOUT_MS)) {
		log = spw_daemon_log_since_mark(&c->d);
		fail_msg("no \"%s\" error after SIGHUP with a broken file; the log says:\n%s",
			 where, log ? log : "(unreadable)");
	}
	log = spw_daemon_log_since_mark(&c->d);
	assert_non_null(log);
	at = strstr(log, where);
	eol = strchr(at, '\n');
	printf("(c) broken file refused: %.*s\n", eol ? (int)(eol - at) : (int)strlen(at), at);
	free(log);

	/* The old config keeps being enforced and renewed: a few ticks' worth of renewals. */
	t0 = spw_now_ms();
	p2 = p1;
	do {
		if (spw_now_ms() - t0 > IO_TIMEOUT_MS)
			fail_msg(
			    "the lease was not renewed after the refused reload: %.0f ms later "
			    "after %d ms",
			    (p2.lease_expires_ns - p1.lease_expires_ns) / 1e6, IO_TIMEOUT_MS);
		spw_pump_wait(&c->pump, 1, 1);
		p2 = policy(c);
	} while (p2.lease_expires_ns < p1.lease_expires_ns + 3 * TICK_MS * 1000000ULL);
	assert_true(spw_daemon_alive(&c->d));
	assert_true(p2.generation > p1.generation);
	assert_true(p2.lease_expires_ns > spw_now_ns());
	assert_int_equal(p2.flags & SPW_POLICY_DRY_RUN, 0);
	assert_int_equal(service_id(c), SVC_ID);
	assert_int_equal(spw_addr_parse(c->probe, addr, NULL), 0);
	assert_int_equal(spw_dp_rule_lookup(c->d.dp, addr, &rule), 0);
	assert_int_equal(rule.tier, 2);
	expect_refused(c, WHO_T2, "after the refused reload");
	printf("(c) old config kept: lease renewed by %.0f ms in %.0f ms, generation %u -> %u, "
	       "tier 2 still refused\n",
	       (p2.lease_expires_ns - p1.lease_expires_ns) / 1e6, spw_now_ms() - t0, p1.generation,
	       p2.generation);

	/* A fixed file: dry run on, one more rule. Both must take effect. */
	make_config(c, cfg, sizeof(cfg), "true", "  - {cidr: 203.0.113.0/24, tier: standard}\n");
	assert_int_equal(spw_daemon_write_config(&c->d, cfg), 0);
	spw_daemon_log_mark(&c->d);
	t0 = spw_now_ms();
	assert_int_equal(spw_daemon_signal(&c->d, SIGHUP), 0);
	while (!(policy(c).flags & SPW_POLICY_DRY_RUN)) {
		if (spw_now_ms() - t0 > IO_TIMEOUT_MS)
			fail_msg("dry_run of the reloaded file is not in the policy after %d ms",
				 IO_TIMEOUT_MS);
		spw_pump_wait(&c->pump, 1, 1);
	}
	ms = spw_now_ms() - t0;
	assert_false(spw_daemon_log_has(&c->d, "reload failed"));
	assert_int_equal(spw_addr_parse("203.0.113.9", addr, NULL), 0);
	assert_int_equal(spw_dp_rule_lookup(c->d.dp, addr, &rule), 0);
	assert_int_equal(rule.tier, 1);
	/* Still saturated, so the level still sheds tier 2, but now only on paper. */
	assert_true(level(c) <= spw_rank(2, c->probe_cohort));
	would0 = count(c, 2, SPW_REASON_WOULD_SHED);
	shed0 = count(c, 2, SPW_REASON_SHED_LEVEL);
	expect_admitted(c, WHO_T2, "in dry run");
	assert_int_equal(count(c, 2, SPW_REASON_WOULD_SHED) - would0, 1);
	assert_int_equal(count(c, 2, SPW_REASON_SHED_LEVEL) - shed0, 0);
	assert_true(spw_daemon_alive(&c->d));
	printf("(c) fixed file applied %.0f ms after SIGHUP: dry run in the policy, the new rule "
	       "in the map, the shed tier-2 probe admitted as would_shed\n",
	       ms);
}

/* Every counter, for "not reset" comparisons. */
static struct spw_count *counters(struct test_ctx *c)
{
	struct spw_count *all = calloc(SPW_COUNTER_ENTRIES, sizeof(*all));

	assert_non_null(all);
	assert_int_equal(spw_dp_counters_read_all(c->d.dp, all), 0);
	return all;
}

/* (d) kill -9 and fail-open after the lease, (e) restart on the same pin root. */
static void test_kill_and_restart(void **state)
{
	struct test_ctx *c = build(state, "false");
	uint64_t fo[WHO_COUNT], adm0, shed2, lease_ns;
	uint32_t prog_before, prog_after, samples = 0;
	struct spw_count *before, *after;
	struct spw_globals g1, g2;
	struct spw_policy p;
	size_t back = SIZE_MAX;
	int cli, srv, ready, kept = 0;
	double t_kill, t0, left_ms;

	/* A connection admitted before anything happens, kept open through it all. */
	connect_ok(c, WHO_T2, &cli, &srv);
	spw_round_trips(cli, srv, ROUND_TRIPS, "before the overload");

	t0 = spw_now_ms();
	spw_pump_start(&c->pump, REPORT_FULL);
	probe_until_refused(c, t0, GIVE_UP_MS, NULL);
	spw_round_trips(cli, srv, ROUND_TRIPS, "while its tier is shed");
	prog_before = xdp_prog(c);
	assert_int_not_equal(prog_before, 0);
	assert_int_equal(spw_dp_globals_get(c->d.dp, &g1), 0);

	/* (d) */
	assert_int_equal(spw_daemon_kill9(&c->d), 0);
	t_kill = spw_now_ms();
	c->pump.line = NULL; /* nobody listens */
	/* No writer is left: this is the last lease. Until it expires, the last policy holds. */
	p = policy(c);
	lease_ns = p.lease_expires_ns;
	expect_refused(c, WHO_T2, "right after kill -9, within the lease");
	/* Measured after the refusal: it happened with at least this much of the lease left. */
	left_ms = ((double)lease_ns - (double)spw_now_ns()) / 1e6;
	assert_true(left_ms > 0);
	spw_round_trips(cli, srv, ROUND_TRIPS, "after kill -9");
	assert_int_equal(xdp_prog(c), prog_before);
	while (spw_now_ns() < lease_ns + LEASE_MARGIN_MS * 1000000ULL)
		spw_sleep_ms(1);
	for (int w = 0; w < WHO_COUNT; w++)
		fo[w] = count(c, w, SPW_REASON_FAIL_OPEN);
	shed2 = count(c, 2, SPW_REASON_SHED_LEVEL);
	for (int w = 0; w < WHO_COUNT; w++)
		expect_admitted(c, w, "past the lease of a killed daemon");
	for (int w = 0; w < WHO_COUNT; w++)
		assert_int_equal(count(c, w, SPW_REASON_FAIL_OPEN) - fo[w], 1);
	assert_int_equal(count(c, 2, SPW_REASON_SHED_LEVEL), shed2);
	spw_round_trips(cli, srv, ROUND_TRIPS, "past the lease");
	assert_int_equal(xdp_prog(c), prog_before);
	printf("(d) kill -9: tier 2 still refused with %.0f ms of the lease left; every tier "
	       "admitted as fail_open %.0f ms after the kill\n",
	       left_ms, spw_now_ms() - t_kill);

	/* (e) Restart; XDP is checked all along, as often as the loop turns. */
	before = counters(c);
	assert_int_equal(spw_daemon_start(&c->d), 0);
	t0 = spw_now_ms();
	for (;;) {
		uint32_t id = xdp_prog(c);

		samples++;
		if (!id) {
			free(before);
			fail_msg("no XDP program on %s %.1f ms into the restart",
				 c->topo.end[SPW_TOPO_SRV].ifname, spw_now_ms() - t0);
		}
		ready = spw_daemon_poll_ready(&c->d, SVC_ID);
		if (ready < 0 || (!ready && spw_now_ms() - t0 > READY_TIMEOUT_MS)) {
			free(before);
			fail_msg("the restarted daemon is not ready (%s)",
				 ready < 0 ? strerror(-ready) : "timeout");
		}
		if (ready)
			break;
		spw_sleep_ms(1);
	}
	prog_after = xdp_prog(c);
	after = counters(c);
	for (size_t i = 0; i < SPW_COUNTER_ENTRIES; i++) {
		if (after[i].packets < before[i].packets || after[i].bytes < before[i].bytes) {
			back = i;
			break;
		}
		kept += before[i].packets != 0;
	}
	if (back != SIZE_MAX) {
		const char *r = spw_reason_name(back % SPW_REASON_SLOTS);
		unsigned long long was = before[back].packets, is = after[back].packets;

		free(before);
		free(after);
		fail_msg("counter (service %zu, tier %zu, %s) went back from %llu to %llu packets "
			 "across the restart",
			 back / (SPW_TIER_SLOTS * SPW_REASON_SLOTS),
			 back / SPW_REASON_SLOTS % SPW_TIER_SLOTS, r ? r : "?", was, is);
	}
	printf(
	    "(e) restart ready in %.0f ms, XDP attached in all %u samples (program %u -> %u); "
	    "%d counters kept (tier-2 shed_level %llu, fail_open %llu)\n",
	    spw_now_ms() - t0, samples, prog_before, prog_after, kept,
	    (unsigned long long)after[spw_counter_index(SVC_ID, 2, SPW_REASON_SHED_LEVEL)].packets,
	    (unsigned long long)after[spw_counter_index(SVC_ID, 2, SPW_REASON_FAIL_OPEN)].packets);
	free(before);
	free(after);
	assert_int_not_equal(prog_after, 0);
	assert_true(count(c, 2, SPW_REASON_SHED_LEVEL) >= shed2 && shed2 > 0);

	/* The connection from before the overload, the kill and the restart still works. */
	spw_round_trips(cli, srv, ROUND_TRIPS, "after the restart");
	/* The lease is renewed: a new flow is decided again, not failed open. */
	adm0 = count(c, 0, SPW_REASON_ADMITTED);
	fo[0] = count(c, 0, SPW_REASON_FAIL_OPEN);
	expect_admitted(c, WHO_T0, "after the restart");
	assert_int_equal(count(c, 0, SPW_REASON_ADMITTED) - adm0, 1);
	assert_int_equal(count(c, 0, SPW_REASON_FAIL_OPEN), fo[0]);
	assert_int_equal(spw_dp_globals_get(c->d.dp, &g2), 0);
	/* The salt epoch (cohort_rotation: 1h here) continues across a restart: a shed client
	 * stays shed for its epoch instead of being reshuffled by every daemon start. */
	if (g1.cohort_salt != g2.cohort_salt)
		fail_msg("(e) the restart re-rolled the cohort salt");
	assert_true(spw_daemon_alive(&c->d));
}

/*
 * (g) A crash-restart in the middle of an overload resumes where the data plane was instead of
 * opening the gates, and a service keeps its id by name when the file moves it: here the
 * restarted daemon reads a file with another service listed before it.
 */
static void test_restart_resumes(void **state)
{
	struct test_ctx *c = build(state, "false");
	char cfg[4096], moved[4608], *at;
	struct spw_service_rec rec;
	struct spw_policy p;
	uint32_t before, after, other = 0;
	double t0;

	t0 = spw_now_ms();
	spw_pump_start(&c->pump, REPORT_FULL);
	probe_until_refused(c, t0, GIVE_UP_MS, NULL);
	spw_pump_wait(&c->pump, 5 * TICK_MS, 1);
	assert_int_equal(spw_daemon_kill9(&c->d), 0);
	c->pump.line = NULL;
	before = level(c);
	assert_true(before < CEILING);
	/* Past stale_after, the pinned report is no reading: what the new daemon starts from is
	 * then all it knows (a fresh report would rightly move it at once). */
	spw_sleep_ms(2000 + 2 * TICK_MS);

	make_config(c, cfg, sizeof(cfg), "false", "");
	at = strstr(cfg, "services:\n");
	assert_non_null(at);
	at += strlen("services:\n");
	snprintf(moved, sizeof(moved), "%.*s  - {name: other, port: %d}\n%s", (int)(at - cfg), cfg,
		 SVC_PORT + 1, at);
	assert_int_equal(spw_daemon_write_config(&c->d, moved), 0);
	spw_daemon_log_mark(&c->d);
	assert_int_equal(spw_daemon_start(&c->d), 0);
	assert_int_equal(spw_daemon_wait_ready(&c->d, SVC_ID, READY_TIMEOUT_MS), 0);
	/* The first policies of the new daemon, before any report reached it. */
	p = policy(c);
	after = spw_effective_level(&p);
	assert_int_equal(spw_dp_service_rec_get(c->d.dp, SVC_ID, &rec), 0);
	for (uint32_t id = 1; id < SPW_MAX_SERVICES; id++) {
		struct spw_service_rec r;

		if (!spw_dp_service_rec_get(c->d.dp, id, &r) && !strcmp(r.name, "other"))
			other = id;
	}
	printf("(g) restart in an overload: level %u before the kill, %u in the restarted "
	       "daemon's first policy; 'api' kept id %u with 'other' listed first (id %u)\n",
	       before, after, SVC_ID, other);
	assert_string_equal(rec.name, "api");
	assert_int_equal(service_id(c), SVC_ID);
	assert_true(other != 0 && other != SVC_ID);
	assert_int_equal(after, before);
	expect_refused(c, WHO_T2, "right after the restart");
	assert_int_equal(spw_daemon_log_wait(&c->d, "resuming at level", IO_TIMEOUT_MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shed_and_recover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sighup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill_and_restart, setup, teardown),
	};

	/* Measurements go to stdout as they come, between cmocka's lines. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("netns daemon", tests, NULL, NULL);
}
