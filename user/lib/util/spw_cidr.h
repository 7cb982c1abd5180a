/* SPDX-License-Identifier: GPL-2.0-only */
/* Address and CIDR parsing into the data plane's 16-byte form (pure, no BPF calls). */
#ifndef SPW_CIDR_H
#define SPW_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spillway_abi.h"

struct spw_cidr {
	uint8_t addr[SPW_ADDR_LEN]; /* IPv4 as IPv4-mapped IPv6; host bits cleared */
	uint8_t prefixlen;	    /* over the 16-byte form: an IPv4 /n is 96+n */
	bool is_v4;
};

/*
 * "10.1.0.0/16", "2001:db8::/32", or a bare address (a /32 or /128). Host bits set below the
 * prefix ("10.1.2.3/16") are an error, not silently cleared: the user meant something else.
 * On error returns -EINVAL and, when err is not NULL, writes a plain-words reason into it.
 */
int spw_cidr_parse(const char *text, struct spw_cidr *out, char *err, size_t errlen);
/* Parses a bare IPv4 or IPv6 address into the 16-byte form. */
int spw_addr_parse(const char *text, uint8_t addr[SPW_ADDR_LEN], bool *is_v4);
/* Formats back ("10.1.0.0/16"); buf of at least SPW_CIDR_STRLEN. */
#define SPW_CIDR_STRLEN 64
void spw_cidr_format(const struct spw_cidr *c, char *buf, size_t len);
void spw_addr_format(const uint8_t addr[SPW_ADDR_LEN], char *buf, size_t len);
/* Does a contain b (a's prefix covers all of b)? */
bool spw_cidr_contains(const struct spw_cidr *a, const struct spw_cidr *b);
/* The LPM trie key of a prefix. */
void spw_cidr_to_key(const struct spw_cidr *c, struct spw_lpm_key *key);
/* The exempt trie's key: the family first, so a mapped IPv6 prefix is not the IPv4 one. */
void spw_cidr_to_exempt_key(const struct spw_cidr *c, struct spw_exempt_key *key);
/*
 * The addresses of this network namespace's interfaces (getifaddrs), each once, as /32 and
 * /128 prefixes: the first max into out. Returns how many there are, which can be more than
 * max, or -errno.
 */
int spw_host_addrs(struct spw_cidr *out, int max);

#endif /* SPW_CIDR_H */
