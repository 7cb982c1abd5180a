/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checks of what the data plane made: its reply packets, its flow keys, its active counts. The
 * BPF tests assert on them and the benchmarks refuse a figure when one fails, so both judge a
 * packet or a flow the same way.
 *
 * Each check returns 0, or -EPROTO with the first thing that is wrong in why ("ports 80->80
 * not swapped"), or another negative errno when it could not look.
 */
#ifndef SPW_TEST_DPCHECK_H
#define SPW_TEST_DPCHECK_H

#include <stddef.h>
#include <stdint.h>
#include "spw_dataplane.h"

/* A reply's TTL or hop limit is a fresh one, not the request's decremented. */
#define SPW_REPLY_TTL_MIN 64

/*
 * The flow key the data plane forms for client packet pkt: 16-byte addresses (IPv4 mapped),
 * ports in network order. -EINVAL when pkt does not parse as TCP or UDP.
 */
int spw_check_flow_key(const uint8_t *pkt, size_t len, struct spw_flow_key *k);

/*
 * Is reply, a packet the data plane built from request in, its answer at layers 2 and 3: MAC
 * and IP addresses swapped, the VLAN tags kept, a fresh TTL, protocol l4_proto, no IP options,
 * extension headers or fragment bits, lengths that match the frame?
 */
int spw_check_reply_l2l3(const uint8_t *in, size_t in_len, const uint8_t *reply, size_t reply_len,
			 uint8_t l4_proto, char *why, size_t whylen);

/*
 * Is reply the RST+ACK the data plane answers SYN in with: a reply as above, trimmed to
 * headers, ports swapped, seq 0, acking the SYN, options cleared, checksums right?
 */
int spw_check_rst(const uint8_t *in, size_t in_len, const uint8_t *reply, size_t reply_len,
		  char *why, size_t whylen);

/* The active count of (svc, tier) is want. */
int spw_check_active(struct spw_dataplane *dp, uint32_t svc, uint32_t tier, uint64_t want,
		     char *why, size_t whylen);

#endif /* SPW_TEST_DPCHECK_H */
