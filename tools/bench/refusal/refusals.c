// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spw_log.h"
#include "spw_types.h"
#include "refusal.h"

/*
 * Goals (ratios to the nft netdev drop and to the floor, in the same run): spillway's XDP drop
 * at most 0.3x netfilter and 2x the floor, a reject 0.5x, a rate-limited refusal 0.4x, TC 1.0x.
 */
const struct br_refusal br_refusals[BR_KINDS] = {
    [BR_CONTROL] = {BR_CONTROL, "sender only (control)", 0, 0},
    [BR_FLOOR] = {BR_FLOOR, "bare XDP_DROP (the floor)", 0, 0},
    [BR_SPW_XDP_DROP] = {BR_SPW_XDP_DROP, "spillway XDP drop", 0.3, 2.0},
    [BR_SPW_XDP_REJECT] = {BR_SPW_XDP_REJECT, "spillway XDP reject (RST)", 0.5, 0},
    [BR_SPW_XDP_RATE] = {BR_SPW_XDP_RATE, "spillway XDP rate limit", 0.4, 0},
    [BR_SPW_TC_DROP] = {BR_SPW_TC_DROP, "spillway TC drop", 1.0, 0},
    [BR_NFT_DROP] = {BR_NFT_DROP, "nft netdev ingress drop", 0, 0},
    [BR_IPT_RAW_DROP] = {BR_IPT_RAW_DROP, "iptables raw PREROUTING drop", 0, 0},
    [BR_IPT_HASHLIMIT] = {BR_IPT_HASHLIMIT, "iptables hashlimit", 0, 0},
};

/* The counters a spillway trial must move: its shed tier's, by the reason it names. */
static int shed_counts(struct bench *b, uint64_t *level, uint64_t *rate)
{
	struct spw_count c;
	int err;

	err = spw_dp_counter_read(b->dp, BR_SVC_ID, BR_SHED_TIER, SPW_REASON_SHED_LEVEL, &c);
	*level = c.packets;
	err = err ?: spw_dp_counter_read(b->dp, BR_SVC_ID, BR_SHED_TIER, SPW_REASON_SHED_RATE, &c);
	*rate = c.packets;
	if (err)
		pr_warn("reading spillway's counters failed: %s\n", strerror(-err));
	return err;
}

/*
 * spillway as the existing benchmarks set it up: its own pin root, the flood guard out of the
 * way, one service (tcp/8080), one rule putting the shed prefix in tier 2.
 */
/*
 * The host's own addresses exempt, as spillwayd's exempt_host_addresses (on by default)
 * makes them: the exempt trie a deployed shed path consults is never empty.
 */
static int exempt_host_addrs(struct bench *b)
{
	struct spw_cidr host[BR_EXEMPT_HOST_MAX];
	int n = spw_host_addrs(host, BR_EXEMPT_HOST_MAX), err = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n && i < BR_EXEMPT_HOST_MAX && !err; i++)
		err = spw_dp_exempt_add(b->dp, &host[i]);
	return err;
}

int br_dp_open(struct bench *b)
{
	struct spw_service_match m = {.proto = IPPROTO_TCP, .port = BR_SVC_PORT};
	struct spw_dp_opts o = {.pin_root = b->pin_root};
	struct spw_cidr c;
	char why[128];
	int err;

	snprintf(b->pin_root, sizeof(b->pin_root), "/sys/fs/bpf/br-%d", getpid());
	err = spw_dp_open(&b->dp, &o);
	if (err) {
		pr_warn("opening the data plane under %s failed: %s%s\n", b->pin_root,
			strerror(-err), err == -EPERM ? " (the benchmark needs root)" : "");
		return err;
	}
	err = spw_dp_flood_guard_set(b->dp, SPW_RATE_MAX, SPW_RATE_MAX);
	err = err ?: spw_dp_service_add(b->dp, &m, BR_SVC_ID);
	if (!err && spw_cidr_parse(BR_SHED_PREFIX "/16", &c, why, sizeof(why))) {
		pr_warn("bad shed prefix: %s\n", why);
		return -EINVAL;
	}
	err = err ?: spw_dp_rule_add(b->dp, &c, BR_SHED_TIER, 1);
	err = err ?: exempt_host_addrs(b);
	if (err)
		pr_warn("configuring the data plane failed: %s\n", strerror(-err));
	return err;
}

void br_dp_close(struct bench *b)
{
	if (!b->dp)
		return;
	spw_dp_unpin_all(b->dp);
	spw_dp_close(b->dp);
	b->dp = NULL;
}

static int policy_write(struct bench *b, enum br_kind k)
{
	struct spw_policy p;
	int err;

	spw_policy_init(&p, BR_TIERS, BR_DEFAULT_TIER);
	p.lease_expires_ns = spw_now_ns() + BR_LEASE_NS;
	if (k == BR_SPW_XDP_RATE) {
		/* Every tier is admitted by level; tier 2 gets BR_RATE new flows a second. */
		p.admit_level = BR_TIERS * SPW_COHORTS;
		p.rate_per_sec[BR_SHED_TIER] = BR_RATE;
		p.burst[BR_SHED_TIER] = BR_RATE;
	} else {
		p.admit_level = BR_SHED_TIER * SPW_COHORTS;
	}
	p.action[BR_SHED_TIER] = k == BR_SPW_XDP_REJECT ? SPW_ACTION_REJECT : SPW_ACTION_DROP;
	err = spw_dp_policy_set(b->dp, BR_SVC_ID, &p);
	if (err)
		pr_warn("setting the policy failed: %s\n", strerror(-err));
	return err;
}

static int xdp_attach(struct bench *b, struct bpf_program *prog)
{
	int err =
	    bpf_xdp_attach(b->net.rcv_ifindex, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, NULL);

	if (err)
		pr_warn("attaching %s to %s failed: %s\n", bpf_program__name(prog), b->net.rcv,
			strerror(-err));
	return err;
}

/* The match every netfilter rule uses: the flood's SYNs, as an administrator would write. */
#define IPT_MATCH "-i %s -s " BR_SHED_PREFIX "/16 -p tcp --dport %d --syn"

/* Sets up refusal k on the server's veth. The calling thread is in the bench's namespace. */
static int up(struct bench *b, enum br_kind k)
{
	const struct br_net *n = &b->net;
	struct bench_refusal *s = b->skel;

	switch (k) {
	case BR_CONTROL:
		return 0;
	case BR_FLOOR:
		return xdp_attach(b, s->progs.floor_drop);
	case BR_SPW_XDP_DROP:
	case BR_SPW_XDP_REJECT:
	case BR_SPW_XDP_RATE:
		return policy_write(b, k) ?: spw_dp_attach(b->dp, n->rcv_ifindex, SPW_ATTACH_XDP);
	case BR_SPW_TC_DROP:
		return policy_write(b, k) ?: xdp_attach(b, s->progs.pass_count)
					  ?: spw_dp_attach(b->dp, n->rcv_ifindex, SPW_ATTACH_TC);
	case BR_NFT_DROP:
		return xdp_attach(b, s->progs.pass_count)
			   ?: br_sh("ip netns exec %s nft -f - <<'EOF'\n"
				    "table netdev %s {\n"
				    "  chain ingress {\n"
				    "    type filter hook ingress device \"%s\" priority -500;\n"
				    "    ip saddr " BR_SHED_PREFIX
				    "/16 tcp dport %d tcp flags & (syn | ack) == syn drop\n"
				    "  }\n"
				    "}\n"
				    "EOF",
				    n->rcv, n->nft_table, n->rcv, BR_SVC_PORT);
	case BR_IPT_RAW_DROP:
		return xdp_attach(b, s->progs.pass_count)
			   ?: br_sh("ip netns exec %s iptables -t raw -A PREROUTING " IPT_MATCH
				    " -j DROP",
				    n->rcv, n->rcv, BR_SVC_PORT);
	case BR_IPT_HASHLIMIT:
		/* One bucket for the port, as spillway's is one per tier: above it, dropped. */
		return xdp_attach(b, s->progs.pass_count)
			   ?: br_sh("ip netns exec %s iptables -t raw -A PREROUTING " IPT_MATCH
				    " -m hashlimit --hashlimit-name %s --hashlimit-mode dstport"
				    " --hashlimit-above %d/sec --hashlimit-burst %d -j DROP",
				    n->rcv, n->rcv, BR_SVC_PORT, n->rcv, BR_RATE, BR_RATE);
	case BR_KINDS:
		break;
	}
	return -EINVAL;
}

int br_refusal_up(struct bench *b, enum br_kind k)
{
	int err;

	err = br_enter(b->net.rcv_fd);
	if (err)
		return err;
	err = up(b, k);
	if (br_enter(b->net.self_fd))
		abort(); /* the bench's commands would run in the wrong namespace */
	if (err)
		pr_warn("setting up \"%s\" failed\n", br_refusals[k].name);
	return err;
}

void br_refusal_down(struct bench *b, enum br_kind k)
{
	const struct br_net *n = &b->net;

	if (br_enter(n->rcv_fd))
		return;
	switch (k) {
	case BR_SPW_XDP_DROP:
	case BR_SPW_XDP_REJECT:
	case BR_SPW_XDP_RATE:
	case BR_SPW_TC_DROP:
		spw_dp_detach(b->dp, n->rcv_ifindex);
		break;
	case BR_NFT_DROP:
		br_sh("ip netns exec %s nft delete table netdev %s", n->rcv, n->nft_table);
		break;
	case BR_IPT_RAW_DROP:
	case BR_IPT_HASHLIMIT:
		br_sh("ip netns exec %s iptables -t raw -F PREROUTING", n->rcv);
		break;
	default:
		break;
	}
	/* Whatever XDP program is left (the floor, the pass-through under TC and netfilter). */
	bpf_xdp_detach(n->rcv_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (br_enter(n->self_fd))
		abort();
}

static uint64_t shed_level0, shed_rate0;

/* One of the programs' per-CPU counts, summed. */
static uint64_t hits_sum(const __u64 *hits, size_t n)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += hits[i];
	return sum;
}
#define HITS(b, name) hits_sum((b)->skel->bss->name, sizeof((b)->skel->bss->name) / sizeof(__u64))

int br_mark(struct bench *b)
{
	int err;

	b->floor_hits = HITS(b, floor_hits);
	b->pass_hits = HITS(b, pass_hits);
	b->rst_hits = HITS(b, rst_hits);
	err = shed_counts(b, &shed_level0, &shed_rate0);
	if (err)
		return err;
	err = br_enter(b->net.rcv_fd);
	if (err)
		return err;
	err = br_tcp_in_segs(&b->in_segs);
	if (br_enter(b->net.self_fd))
		abort();
	return err;
}

/*
 * Fewer than 1 in 100 SYNs may escape a refusal: the rate limits let BR_RATE a second pass, and
 * a random SYN may hit the tuple of a flow the rate limit admitted (a retransmission to spillway).
 */
#define LEAK_DIV 100

int br_verify(struct bench *b, enum br_kind k, uint64_t n)
{
	uint64_t floor = HITS(b, floor_hits) - b->floor_hits;
	uint64_t pass = HITS(b, pass_hits) - b->pass_hits;
	uint64_t rst = HITS(b, rst_hits) - b->rst_hits;
	uint64_t level, rate, segs = 0;
	const char *why = NULL;
	int err;

	err = shed_counts(b, &level, &rate);
	if (err)
		return err;
	level -= shed_level0;
	rate -= shed_rate0;
	err = br_enter(b->net.rcv_fd);
	if (err)
		return err;
	err = br_tcp_in_segs(&segs);
	if (br_enter(b->net.self_fd))
		abort();
	if (err)
		return err;
	segs -= b->in_segs;

	switch (k) {
	case BR_CONTROL:
		if (floor || pass || rst || level || rate)
			why = "frames left the sender";
		break;
	case BR_FLOOR:
		if (floor < n)
			why = "the floor did not see every frame";
		break;
	case BR_SPW_XDP_DROP:
	case BR_SPW_TC_DROP:
		if (level < n - n / LEAK_DIV)
			why = "spillway shed too few SYNs by level";
		else if (k == BR_SPW_TC_DROP && pass < n)
			why = "not every frame reached TC";
		break;
	case BR_SPW_XDP_REJECT:
		if (level < n - n / LEAK_DIV)
			why = "spillway shed too few SYNs by level";
		else if (rst < n - n / LEAK_DIV)
			why = "fewer RSTs than rejects reached the sender";
		break;
	case BR_SPW_XDP_RATE:
		if (rate < n - n / LEAK_DIV)
			why = "spillway's bucket refused too few SYNs";
		break;
	case BR_NFT_DROP:
	case BR_IPT_RAW_DROP:
	case BR_IPT_HASHLIMIT:
		if (pass < n)
			why = "not every frame reached the stack";
		break;
	case BR_KINDS:
		break;
	}
	if (!why && k != BR_CONTROL && segs > n / LEAK_DIV)
		why = "refused SYNs reached TCP";
	if (why || b->verbose)
		fprintf(stderr,
			"  %s: %s%s(of %llu: floor %llu, pass %llu, rst %llu, shed_level %llu, "
			"shed_rate %llu, TCP InSegs %llu)\n",
			br_refusals[k].name, why ?: "", why ? " " : "", (unsigned long long)n,
			(unsigned long long)floor, (unsigned long long)pass,
			(unsigned long long)rst, (unsigned long long)level,
			(unsigned long long)rate, (unsigned long long)segs);
	if (why && getenv("BR_DEBUG"))
		br_sh("ip netns exec %s ethtool -S %s >&2; ip netns exec %s ethtool -S %s >&2",
		      b->net.rcv, b->net.rcv, b->net.snd, b->net.snd);
	return why ? -EPROTO : 0;
}
