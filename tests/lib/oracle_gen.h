/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet oracle's generator: random and mutated Ethernet frames from a seeded PRNG, the
 * same seed giving the same frames. Valid TCP (SYN, SYN with data or FIN, ACK, data, FIN,
 * RST, SYN-ACK) and UDP over IPv4 and IPv6, ICMP, ARP; VLAN tags (up to one more than the data
 * plane parses), IPv4 options, IPv6 extension-header chains, AH included (up to two more than it
 * walks), fragments (first, tiny first, later), then mutations: truncation, bit flips, Ethernet
 * padding, a rewritten IP length. Clients, ports and services come from small pools, so flows
 * repeat (retransmitted SYNs, data and FIN of admitted flows) and the tables stay small.
 */
#ifndef SPW_ORACLE_GEN_H
#define SPW_ORACLE_GEN_H

#include <stddef.h>
#include <stdint.h>

/* Room for the largest frame the generator makes, padding included. */
#define OG_FRAME_MAX 2048

struct og_rng {
	uint64_t s;
};

void og_seed(struct og_rng *r, uint64_t seed);
uint64_t og_next(struct og_rng *r);
/* Uniform in [0, n). */
uint32_t og_below(struct og_rng *r, uint32_t n);

/* The destination ports the generator aims at (services and not); the oracle configures these. */
#define OG_PORT_HTTP  80
#define OG_PORT_DNS   53
#define OG_PORT_NOPOL 8080
#define OG_PORT_NONE  22
/* Local addresses: the first is the one the bound service listens on. */
#define OG_DADDR4_BOUND "192.0.2.10"
#define OG_DADDR6_BOUND "2001:db8:2::10"

/* One frame into buf (OG_FRAME_MAX bytes); returns its length (>= 14, the kernel's minimum). */
size_t og_frame(struct og_rng *r, uint8_t *buf);

#endif /* SPW_ORACLE_GEN_H */
