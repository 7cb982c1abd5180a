// SPDX-License-Identifier: GPL-2.0-only
/* The generated CIDR rules: reproducible for a seed, loaded in steps, timed as they load. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "spw_log.h"
#include "spw_strnum.h"
#include "empty_xdp.skel.h"
#include "dpcheck.h"
#include "pktbuild.h"
#include "bench_util.h"
#include "bench_dp.h"

/* xorshift64*: reproducible rules and addresses for a given seed, no libc state. */
static uint64_t rng_state;

/* splitmix64 of the seed: xorshift's state must never be zero, or it stays zero. */
void rng_seed(uint32_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng_state = (z ^ (z >> 31)) ?: 1;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- rules ---- */

/* Sets the bits of addr from bit `from` (MSB first over the 16-byte form) on, at random. */
void randomize_host_bits(uint8_t addr[SPW_ADDR_LEN], unsigned int from)
{
	unsigned int bit;

	for (bit = from; bit < SPW_ADDR_LEN * 8; bit++) {
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));

		if (rng_next() & (1ULL << 40))
			addr[bit / 8] |= mask;
		else
			addr[bit / 8] &= (uint8_t)~mask;
	}
}

static void clear_host_bits(uint8_t addr[SPW_ADDR_LEN], unsigned int from)
{
	unsigned int bit;

	for (bit = from; bit < SPW_ADDR_LEN * 8; bit++)
		addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

/*
 * n random prefixes, none covering another, so the longest match for an address inside one
 * is that one rule and the check against spw_dp_rule_lookup() is exact. Half are IPv4, /24 to
 * /32, each inside its own /24 of 1.0.0.0-126.255.255.255 (10/8 left out); half IPv6, /48 to
 * /64, each inside its own /48 of 2a00::/16. IPv4 and IPv6 alternate, so any first k rules
 * are a mix too. Tiers are uniform over the service's three. The documentation ranges the
 * other packets come from (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) are
 * outside both, so only the packets meant to match a rule do.
 */
int rules_generate(struct bench *b, unsigned int n, uint32_t seed)
{
	uint8_t *used = calloc(1U << 21, 1); /* one bit per IPv4 /24 */
	unsigned int i;

	b->rules = calloc(n, sizeof(*b->rules));
	if (!used || !b->rules) {
		free(used);
		pr_warn("out of memory for %u rules\n", n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct bench_rule *r = &b->rules[i];
		struct spw_cidr *c = &r->cidr;

		if (i % 2 == 0) {
			uint32_t blk, first;
			unsigned int len;

			do {
				blk = (uint32_t)(rng_next() >> 40); /* 24 bits: a /24 */
				first = blk >> 16;
			} while (first < 1 || first > 126 || first == 10 ||
				 (used[blk / 8] & (1U << (blk % 8))));
			used[blk / 8] |= (uint8_t)(1U << (blk % 8));
			len = 24 + (unsigned int)(rng_next() % 9);
			c->addr[10] = c->addr[11] = 0xff;
			c->addr[12] = (uint8_t)(blk >> 16);
			c->addr[13] = (uint8_t)(blk >> 8);
			c->addr[14] = (uint8_t)blk;
			c->prefixlen = (uint8_t)(SPW_V4_MAPPED_PREFIX + len);
			c->is_v4 = true;
		} else {
			/* spw_mix32 is a bijection: distinct i give distinct /48s. */
			uint32_t mid = spw_mix32((i / 2) ^ seed);
			unsigned int len = 48 + (unsigned int)(rng_next() % 17);

			c->addr[0] = 0x2a;
			c->addr[1] = 0x00;
			c->addr[2] = (uint8_t)(mid >> 24);
			c->addr[3] = (uint8_t)(mid >> 16);
			c->addr[4] = (uint8_t)(mid >> 8);
			c->addr[5] = (uint8_t)mid;
			c->prefixlen = (uint8_t)len;
			c->is_v4 = false;
		}
		/* Random bits below the parent block, then cleared below the prefix itself. */
		randomize_host_bits(c->addr, c->is_v4 ? SPW_V4_MAPPED_PREFIX + 24 : 48);
		clear_host_bits(c->addr, c->prefixlen);
		r->tier = (uint8_t)(rng_next() % BENCH_TIERS);
	}
	free(used);
	return 0;
}

struct rule_load rule_loads[RULE_LOADS_MAX];
unsigned int rule_load_count;

/* Loads rules until `want` are in the trie, and notes how long it took. */
int rules_ensure(struct bench *b, unsigned int want)
{
	unsigned int from = b->rules_loaded, i;
	uint64_t t0;
	double ms;
	int err;

	if (want <= from)
		return 0;
	t0 = bench_mono_ns();
	for (i = from; i < want; i++) {
		if (stop_requested)
			return -EINTR;
		err = spw_dp_rule_add(b->dp, &b->rules[i].cidr, b->rules[i].tier, i + 1);
		if (err) {
			char text[SPW_CIDR_STRLEN];

			spw_cidr_format(&b->rules[i].cidr, text, sizeof(text));
			pr_warn("adding rule %u (%s) failed: %s\n", i + 1, text, strerror(-err));
			return err;
		}
	}
	ms = (double)(bench_mono_ns() - t0) / 1e6;
	b->rules_loaded = want;
	pr_info("%u rules loaded (%u new in %.1f ms, %.2f us per rule)\n", want, want - from, ms,
		ms * 1000 / (want - from));
	if (rule_load_count < sizeof(rule_loads) / sizeof(rule_loads[0]))
		rule_loads[rule_load_count++] = (struct rule_load){want, want - from, ms};
	return 0;
}

/*
 * A loaded IPv4 rule of the given tier, /28 or longer, picked at random: an address in it
 * sits at the bottom of the trie, not one step below the root, and random rather than the
 * first or last inserted.
 */
const struct bench_rule *rule_pick(struct bench *b, uint8_t tier)
{
	unsigned int n = b->rules_loaded, start, k;

	if (!n)
		return NULL;
	start = (unsigned int)(rng_next() % n);
	for (k = 0; k < n; k++) {
		const struct bench_rule *r = &b->rules[(start + k) % n];

		if (r->tier == tier && r->cidr.is_v4 &&
		    r->cidr.prefixlen >= SPW_V4_MAPPED_PREFIX + 28)
			return r;
	}
	return NULL;
}
