// SPDX-License-Identifier: GPL-2.0-only
/*
 * Address and CIDR parsing (spw_cidr.h). inet_pton does the address syntax, which is strict
 * already (no "10.1" shorthand, no octal octets, no zone ids); this file adds the prefix length
 * and the checks that make a typo an error instead of a different rule.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "spw_err.h"
#include "spillway_rank.h"
#include "spw_cidr.h"

/* Longest address text inet_pton can accept: INET6_ADDRSTRLEN counts the terminating NUL. */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN - 1)
/* Quoted user text in messages is cut here so one bad line cannot flood the log. */
#define QUOTE_MAX 64

static void map_v4(const struct in_addr *in, uint8_t addr[SPW_ADDR_LEN])
{
	memset(addr, 0, 10);
	addr[10] = 0xff;
	addr[11] = 0xff;
	memcpy(addr + 12, &in->s_addr, 4);
}

/* Parses exactly len bytes of text as an address; 0 or -EINVAL. */
static int addr_parse_n(const char *text, size_t len, uint8_t addr[SPW_ADDR_LEN], bool *is_v4)
{
	char buf[ADDR_TEXT_MAX + 1];
	struct in6_addr in6;
	struct in_addr in;

	if (len == 0 || len > ADDR_TEXT_MAX)
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';

	/* A colon is what tells IPv6 apart; inet_pton also rejects a stray one in IPv4. */
	if (!memchr(buf, ':', len)) {
		if (inet_pton(AF_INET, buf, &in) != 1)
			return -EINVAL;
		map_v4(&in, addr);
		*is_v4 = true;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &in6) != 1)
		return -EINVAL;
	memcpy(addr, in6.s6_addr, SPW_ADDR_LEN);
	*is_v4 = false;
	return 0;
}

int spw_addr_parse(const char *text, uint8_t addr[SPW_ADDR_LEN], bool *is_v4)
{
	bool v4;
	int err;

	if (!text)
		return -EINVAL;
	err = addr_parse_n(text, strlen(text), addr, &v4);
	if (!err && is_v4)
		*is_v4 = v4;
	return err;
}

/* Does any bit at or past prefixlen (in the 16-byte form) stay set? */
static bool host_bits_set(const uint8_t addr[SPW_ADDR_LEN], unsigned int prefixlen)
{
	unsigned int i;

	for (i = 0; i < SPW_ADDR_LEN; i++) {
		unsigned int first = i * 8; /* bit number of this byte's top bit */
		uint8_t mask;

		if (first + 8 <= prefixlen)
			continue;
		mask = first >= prefixlen ? 0xff : (uint8_t)(0xff >> (prefixlen - first));
		if (addr[i] & mask)
			return true;
	}
	return false;
}

static void clear_host_bits(uint8_t addr[SPW_ADDR_LEN], unsigned int prefixlen)
{
	unsigned int i;

	for (i = 0; i < SPW_ADDR_LEN; i++) {
		unsigned int first = i * 8;

		if (first + 8 <= prefixlen)
			continue;
		addr[i] &= first >= prefixlen ? 0 : (uint8_t)(0xff << (8 - (prefixlen - first)));
	}
}

int spw_cidr_parse(const char *text, struct spw_cidr *out, char *err, size_t errlen)
{
	const char *slash, *p;
	unsigned int plen = 0, max, len;
	uint8_t addr[SPW_ADDR_LEN];
	size_t alen;
	bool v4;

	if (!text || !*text) {
		spw_set_err(err, errlen, "empty address");
		return -EINVAL;
	}
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0) {
		spw_set_err(err, errlen, "missing address before '/'");
		return -EINVAL;
	}
	if (addr_parse_n(text, alen, addr, &v4)) {
		const char *what = "an IPv4 or IPv6";

		/* Name the family the user evidently meant, so the message points at the typo. */
		if (memchr(text, ':', alen))
			what = "an IPv6";
		else if (strspn(text, "0123456789.") >= alen)
			what = "an IPv4";

		spw_set_err(err, errlen, "'%.*s' is not %s address",
			    (int)(alen > QUOTE_MAX ? QUOTE_MAX : alen), text, what);
		return -EINVAL;
	}
	max = v4 ? 32 : 128;

	if (!slash) {
		plen = max;
	} else {
		p = slash + 1;
		if (!*p) {
			spw_set_err(err, errlen, "missing prefix length after '/'");
			return -EINVAL;
		}
		/* Digits only: strtoul would accept "+8", " 8" and "-1" (as a huge number). */
		for (len = 0; p[len]; len++) {
			if (p[len] < '0' || p[len] > '9') {
				spw_set_err(err, errlen, "prefix length '%.*s' is not a number",
					    QUOTE_MAX, p);
				return -EINVAL;
			}
			if (plen <= 128) /* saturate: anything past 128 is too long already */
				plen = plen * 10 + (unsigned int)(p[len] - '0');
		}
		if (plen > max) {
			spw_set_err(err, errlen,
				    "prefix length %.*s is longer than an %s address (%u)",
				    QUOTE_MAX, p, v4 ? "IPv4" : "IPv6", max);
			return -EINVAL;
		}
	}

	if (v4)
		plen += SPW_V4_MAPPED_PREFIX;
	if (host_bits_set(addr, plen)) {
		struct spw_cidr want = {.prefixlen = (uint8_t)plen, .is_v4 = v4};
		char buf[SPW_CIDR_STRLEN];

		memcpy(want.addr, addr, SPW_ADDR_LEN);
		clear_host_bits(want.addr, plen);
		spw_cidr_format(&want, buf, sizeof(buf));
		spw_set_err(err, errlen, "%.*s has host bits set (did you mean %s?)", QUOTE_MAX,
			    text, buf);
		return -EINVAL;
	}

	memcpy(out->addr, addr, SPW_ADDR_LEN);
	out->prefixlen = (uint8_t)plen;
	out->is_v4 = v4;
	return 0;
}

void spw_addr_format(const uint8_t addr[SPW_ADDR_LEN], char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!len)
		return;
	/* Mapped addresses print as IPv4: that is how they were written and how clients see them.
	 */
	if (spw_addr_is_v4(addr))
		inet_ntop(AF_INET, addr + 12, tmp, sizeof(tmp));
	else
		inet_ntop(AF_INET6, addr, tmp, sizeof(tmp));
	snprintf(buf, len, "%s", tmp);
}

void spw_cidr_format(const struct spw_cidr *c, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned int plen = c->prefixlen;

	if (!len)
		return;
	if (c->is_v4) {
		inet_ntop(AF_INET, c->addr + 12, tmp, sizeof(tmp));
		plen -= plen >= SPW_V4_MAPPED_PREFIX ? SPW_V4_MAPPED_PREFIX : plen;
	} else {
		inet_ntop(AF_INET6, c->addr, tmp, sizeof(tmp));
	}
	snprintf(buf, len, "%s/%u", tmp, plen);
}

bool spw_cidr_contains(const struct spw_cidr *a, const struct spw_cidr *b)
{
	unsigned int full = a->prefixlen / 8, rest = a->prefixlen % 8;
	uint8_t mask;

	/* Bitwise over the 16-byte form, as the LPM trie matches: ::/0 covers IPv4 too. */
	if (a->prefixlen > b->prefixlen)
		return false;
	if (memcmp(a->addr, b->addr, full))
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->addr[full] & mask) == (b->addr[full] & mask);
}

void spw_cidr_to_key(const struct spw_cidr *c, struct spw_lpm_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = c->prefixlen;
	memcpy(key->addr, c->addr, SPW_ADDR_LEN);
}

void spw_cidr_to_exempt_key(const struct spw_cidr *c, struct spw_exempt_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = SPW_EXEMPT_FAMILY_BITS + c->prefixlen;
	key->family = c->is_v4 ? SPW_EXEMPT_FAMILY_V4 : SPW_EXEMPT_FAMILY_V6;
	memcpy(key->addr, c->addr, SPW_ADDR_LEN);
}

int spw_host_addrs(struct spw_cidr *out, int max)
{
	struct ifaddrs *all, *a;
	int n = 0;

	if (getifaddrs(&all))
		return -errno;
	for (a = all; a; a = a->ifa_next) {
		struct spw_cidr c = {.prefixlen = SPW_ADDR_LEN * 8};
		int i;

		/* An interface without an address (or of another family) has nothing to add. */
		if (!a->ifa_addr)
			continue;
		if (a->ifa_addr->sa_family == AF_INET) {
			map_v4(&((const struct sockaddr_in *)(const void *)a->ifa_addr)->sin_addr,
			       c.addr);
			c.is_v4 = true;
		} else if (a->ifa_addr->sa_family == AF_INET6) {
			memcpy(c.addr,
			       ((const struct sockaddr_in6 *)(const void *)a->ifa_addr)
				   ->sin6_addr.s6_addr,
			       SPW_ADDR_LEN);
		} else {
			continue;
		}
		/* One address on several interfaces (or listed twice) is one entry. */
		for (i = 0; i < n && i < max; i++)
			if (out[i].is_v4 == c.is_v4 && !memcmp(out[i].addr, c.addr, SPW_ADDR_LEN))
				break;
		if (i < n && i < max)
			continue;
		if (n < max)
			out[n] = c;
		n++;
	}
	freeifaddrs(all);
	return n;
}
