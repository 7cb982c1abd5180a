// SPDX-License-Identifier: GPL-2.0-only
/*
 * spw_cidr: every accepted form with its exact 16-byte result, every rejected form with its
 * exact message. The expected bytes are written out by hand, not computed with inet_pton, so
 * the test does not share a mistake with the code.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "spw_cidr.h"

/* More addresses than a test machine has. */
#define SPW_HOST_ADDRS_TEST_MAX 256

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 32 hex digits -> 16 bytes; the tables below stay readable and independent of inet_pton. */
static void hex16(const char *hex, uint8_t out[SPW_ADDR_LEN])
{
	unsigned int i, b;

	assert_int_equal(strlen(hex), 32);
	for (i = 0; i < SPW_ADDR_LEN; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

struct good_case {
	const char *text;
	const char *hex;	/* the 16-byte form */
	unsigned int prefixlen; /* over the 16-byte form */
	bool is_v4;
	const char *formatted; /* spw_cidr_format's output */
};

static const struct good_case good[] = {
    {"10.1.0.0/16", "00000000000000000000ffff0a010000", 112, true, "10.1.0.0/16"},
    {"10.0.0.0/8", "00000000000000000000ffff0a000000", 104, true, "10.0.0.0/8"},
    {"192.168.1.7", "00000000000000000000ffffc0a80107", 128, true, "192.168.1.7/32"},
    {"192.168.1.7/32", "00000000000000000000ffffc0a80107", 128, true, "192.168.1.7/32"},
    {"0.0.0.0/0", "00000000000000000000ffff00000000", 96, true, "0.0.0.0/0"},
    {"255.255.255.255/32", "00000000000000000000ffffffffffff", 128, true, "255.255.255.255/32"},
    {"172.16.0.0/12", "00000000000000000000ffffac100000", 108, true, "172.16.0.0/12"},
    {"203.0.113.128/25", "00000000000000000000ffffcb007180", 121, true, "203.0.113.128/25"},
    /* A prefix length with a leading zero is still that number. */
    {"10.0.0.0/08", "00000000000000000000ffff0a000000", 104, true, "10.0.0.0/8"},
    {"2001:db8::/32", "20010db8000000000000000000000000", 32, false, "2001:db8::/32"},
    {"2001:db8:1:2::/64", "20010db8000100020000000000000000", 64, false, "2001:db8:1:2::/64"},
    {"::/0", "00000000000000000000000000000000", 0, false, "::/0"},
    {"::1", "00000000000000000000000000000001", 128, false, "::1/128"},
    {"fe80::1/128", "fe800000000000000000000000000001", 128, false, "fe80::1/128"},
    {"2001:DB8::/32", "20010db8000000000000000000000000", 32, false, "2001:db8::/32"},
    {"2001:db8::8000/113", "20010db8000000000000000000008000", 113, false, "2001:db8::8000/113"},
    /* Written as IPv6, an IPv4-mapped prefix stays IPv6 text but is the same 16 bytes. */
    {"::ffff:10.0.0.0/104", "00000000000000000000ffff0a000000", 104, false, "::ffff:10.0.0.0/104"},
};

static void test_good(void **state)
{
	char err[128], buf[SPW_CIDR_STRLEN];
	uint8_t want[SPW_ADDR_LEN];
	struct spw_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		const struct good_case *g = &good[i];

		print_message("  %s\n", g->text);
		err[0] = '\0';
		memset(&c, 0xaa, sizeof(c));
		assert_int_equal(spw_cidr_parse(g->text, &c, err, sizeof(err)), 0);
		assert_string_equal(err, ""); /* success writes no message */
		hex16(g->hex, want);
		assert_memory_equal(c.addr, want, SPW_ADDR_LEN);
		assert_int_equal(c.prefixlen, g->prefixlen);
		assert_int_equal(c.is_v4, g->is_v4);
		spw_cidr_format(&c, buf, sizeof(buf));
		assert_string_equal(buf, g->formatted);
	}
}

struct bad_case {
	const char *text;
	const char *err;
};

static const struct bad_case bad[] = {
    {"", "empty address"},
    {"/8", "missing address before '/'"},
    {"10.0.0.0/", "missing prefix length after '/'"},
    {"10.0.0.0/33", "prefix length 33 is longer than an IPv4 address (32)"},
    {"10.0.0.0/999999999999999999999",
     "prefix length 999999999999999999999 is longer than an IPv4 address (32)"},
    {"2001:db8::/129", "prefix length 129 is longer than an IPv6 address (128)"},
    {"10.0.0.0/+8", "prefix length '+8' is not a number"},
    {"10.0.0.0/-1", "prefix length '-1' is not a number"},
    {"10.0.0.0/ 8", "prefix length ' 8' is not a number"},
    {"10.0.0.0/8 ", "prefix length '8 ' is not a number"},
    {"10.0.0.0/8x", "prefix length '8x' is not a number"},
    {"10.0.0.0/0x8", "prefix length '0x8' is not a number"},
    {"10.0.0.0/8/8", "prefix length '8/8' is not a number"},
    {"10.0.0.0/2:", "prefix length '2:' is not a number"},
    {"10.0.0.0/abc", "prefix length 'abc' is not a number"},
    {"10.0.0.256/8", "'10.0.0.256' is not an IPv4 address"},
    {"10.1/16", "'10.1' is not an IPv4 address"},
    {"010.0.0.1", "'010.0.0.1' is not an IPv4 address"},
    {"1.2.3.4.5", "'1.2.3.4.5' is not an IPv4 address"},
    {" 10.0.0.0/8", "' 10.0.0.0' is not an IPv4 or IPv6 address"},
    {"10.0.0.0 /8", "'10.0.0.0 ' is not an IPv4 or IPv6 address"},
    {"+10.0.0.0/8", "'+10.0.0.0' is not an IPv4 or IPv6 address"},
    {"example.com", "'example.com' is not an IPv4 or IPv6 address"},
    {"2001:db8::g/32", "'2001:db8::g' is not an IPv6 address"},
    {"2001:db8:::/32", "'2001:db8:::' is not an IPv6 address"},
    {"fe80::1%eth0", "'fe80::1%eth0' is not an IPv6 address"},
    {"[::1]", "'[::1]' is not an IPv6 address"},
    {"10.1.2.3/16", "10.1.2.3/16 has host bits set (did you mean 10.1.0.0/16?)"},
    {"10.64.0.0/9", "10.64.0.0/9 has host bits set (did you mean 10.0.0.0/9?)"},
    {"10.0.0.128/24", "10.0.0.128/24 has host bits set (did you mean 10.0.0.0/24?)"},
    {"10.0.0.1/31", "10.0.0.1/31 has host bits set (did you mean 10.0.0.0/31?)"},
    {"10.0.0.1/0", "10.0.0.1/0 has host bits set (did you mean 0.0.0.0/0?)"},
    {"2001:db8::1/64", "2001:db8::1/64 has host bits set (did you mean 2001:db8::/64?)"},
    {"2001:db8::/16", "2001:db8::/16 has host bits set (did you mean 2001::/16?)"},
    {"::1/0", "::1/0 has host bits set (did you mean ::/0?)"},
    /* Longer than any address: must not overflow the copy buffer. */
    {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa/64",
     "'1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa' is not an IPv6 address"},
};

static void test_bad(void **state)
{
	struct spw_cidr c, untouched;
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		print_message("  '%s'\n", bad[i].text);
		memset(&c, 0x5a, sizeof(c));
		untouched = c;
		err[0] = '\0';
		assert_int_equal(spw_cidr_parse(bad[i].text, &c, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
		/* A rejected input leaves the output as it was: callers keep their old value. */
		assert_memory_equal(&c, &untouched, sizeof(c));
	}
}

static void test_null_and_small_err(void **state)
{
	struct spw_cidr c;
	char err[8];

	(void)state;
	assert_int_equal(spw_cidr_parse(NULL, &c, NULL, 0), -EINVAL);
	assert_int_equal(spw_cidr_parse("10.0.0.0/33", &c, NULL, 0), -EINVAL);
	/* A short buffer gets a truncated, still terminated message. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(spw_cidr_parse("", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "empty a");
}

static void test_addr_parse(void **state)
{
	uint8_t addr[SPW_ADDR_LEN], want[SPW_ADDR_LEN];
	bool v4 = false;

	(void)state;
	assert_int_equal(spw_addr_parse("198.51.100.9", addr, &v4), 0);
	hex16("00000000000000000000ffffc633640"
	      "9",
	      want);
	assert_memory_equal(addr, want, SPW_ADDR_LEN);
	assert_true(v4);

	assert_int_equal(spw_addr_parse("2001:db8::9", addr, &v4), 0);
	hex16("20010db8000000000000000000000009", want);
	assert_memory_equal(addr, want, SPW_ADDR_LEN);
	assert_false(v4);

	/* is_v4 may be NULL. */
	assert_int_equal(spw_addr_parse("10.0.0.1", addr, NULL), 0);

	/* A bare address only: prefixes and garbage are errors. */
	assert_int_equal(spw_addr_parse("10.0.0.0/8", addr, &v4), -EINVAL);
	assert_int_equal(spw_addr_parse("", addr, &v4), -EINVAL);
	assert_int_equal(spw_addr_parse(NULL, addr, &v4), -EINVAL);
	assert_int_equal(spw_addr_parse("10.0.0.1 ", addr, &v4), -EINVAL);
	assert_int_equal(spw_addr_parse("::1::", addr, &v4), -EINVAL);
}

static void test_addr_format(void **state)
{
	static const struct {
		const char *hex, *text;
	} cases[] = {
	    {"00000000000000000000ffff0a000001", "10.0.0.1"},
	    {"20010db8000000000000000000000001", "2001:db8::1"},
	    {"00000000000000000000000000000001", "::1"},
	    /* Not the mapped form (bytes 10-11 are not ff ff): stays IPv6. */
	    {"00000000000000000000fffe0a000001", "::fffe:a00:1"},
	};
	uint8_t addr[SPW_ADDR_LEN];
	char buf[SPW_CIDR_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		hex16(cases[i].hex, addr);
		spw_addr_format(addr, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

static void parse_ok(const char *text, struct spw_cidr *c)
{
	char err[128] = "";

	if (spw_cidr_parse(text, c, err, sizeof(err)))
		fail_msg("'%s' did not parse: %s", text, err);
}

static void test_contains(void **state)
{
	static const struct {
		const char *a, *b;
		bool want;
	} cases[] = {
	    {"10.0.0.0/8", "10.1.0.0/16", true},
	    {"10.0.0.0/8", "10.0.0.0/8", true},
	    {"10.1.0.0/16", "10.0.0.0/8", false}, /* narrower does not contain wider */
	    {"10.0.0.0/16", "10.0.0.0/8", false}, /* even when its bits all match */
	    {"10.0.0.0/8", "11.0.0.0/8", false},
	    {"10.0.0.0/8", "10.255.255.255", true},
	    {"10.128.0.0/9", "10.127.0.1", false}, /* differs in the partial byte */
	    {"10.128.0.0/9", "10.200.0.1", true},
	    {"0.0.0.0/0", "192.0.2.1", true},
	    {"0.0.0.0/0", "2001:db8::1", false}, /* IPv4 /0 is ::ffff:0:0/96 only */
	    {"2001:db8::/32", "2001:db8:ffff::/48", true},
	    {"2001:db8::/32", "2001:db9::/32", false},
	    /* As the LPM trie matches: an IPv6 ::/0 rule covers IPv4 clients too. */
	    {"::/0", "10.0.0.1", true},
	    {"::ffff:0.0.0.0/96", "10.0.0.1", true},
	};
	struct spw_cidr a, b;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		print_message("  %s contains %s: %d\n", cases[i].a, cases[i].b, cases[i].want);
		parse_ok(cases[i].a, &a);
		parse_ok(cases[i].b, &b);
		assert_int_equal(spw_cidr_contains(&a, &b), cases[i].want);
	}
}

static void test_to_key(void **state)
{
	uint8_t want[SPW_ADDR_LEN];
	struct spw_lpm_key key;
	struct spw_cidr c;

	(void)state;
	parse_ok("192.0.2.0/24", &c);
	memset(&key, 0xee, sizeof(key));
	spw_cidr_to_key(&c, &key);
	assert_int_equal(key.prefixlen, 120);
	hex16("00000000000000000000ffffc0000200", want);
	assert_memory_equal(key.addr, want, SPW_ADDR_LEN);

	parse_ok("2001:db8::/32", &c);
	spw_cidr_to_key(&c, &key);
	assert_int_equal(key.prefixlen, 32);
	hex16("20010db8000000000000000000000000", want);
	assert_memory_equal(key.addr, want, SPW_ADDR_LEN);
}

static void test_exempt_key(void **state)
{
	struct spw_exempt_key key;
	uint8_t want[SPW_ADDR_LEN];
	struct spw_cidr c;

	(void)state;
	parse_ok("192.0.2.0/24", &c);
	memset(&key, 0xee, sizeof(key));
	spw_cidr_to_exempt_key(&c, &key);
	assert_int_equal(key.prefixlen, SPW_EXEMPT_FAMILY_BITS + 120);
	assert_int_equal(key.family, SPW_EXEMPT_FAMILY_V4);
	hex16("00000000000000000000ffffc0000200", want);
	assert_memory_equal(key.addr, want, SPW_ADDR_LEN);
	assert_int_equal(key.pad[0] | key.pad[1] | key.pad[2], 0);

	/* The mapped form written as IPv6 is another family: it never matches the IPv4 entry. */
	parse_ok("::ffff:192.0.2.0/120", &c);
	spw_cidr_to_exempt_key(&c, &key);
	assert_int_equal(key.prefixlen, SPW_EXEMPT_FAMILY_BITS + 120);
	assert_int_equal(key.family, SPW_EXEMPT_FAMILY_V6);
	assert_memory_equal(key.addr, want, SPW_ADDR_LEN);
}

/* The host's addresses: host prefixes, each once, 127.0.0.1 among them, cut at max. */
static void test_host_addrs(void **state)
{
	struct spw_cidr all[SPW_HOST_ADDRS_TEST_MAX], one[2], loop;
	int n, i, j;
	bool lo = false;

	(void)state;
	parse_ok("127.0.0.1", &loop);
	n = spw_host_addrs(all, SPW_HOST_ADDRS_TEST_MAX);
	assert_true(n > 0 && n <= SPW_HOST_ADDRS_TEST_MAX);
	for (i = 0; i < n; i++) {
		assert_int_equal(all[i].prefixlen, 128);
		lo |= all[i].is_v4 && !memcmp(all[i].addr, loop.addr, SPW_ADDR_LEN);
		for (j = 0; j < i; j++)
			assert_false(all[j].is_v4 == all[i].is_v4 &&
				     !memcmp(all[j].addr, all[i].addr, SPW_ADDR_LEN));
	}
	assert_true(lo);
	memset(one, 0xee, sizeof(one));
	assert_int_equal(spw_host_addrs(one, 1), n);
	assert_memory_equal(&one[0], &all[0], sizeof(one[0]));
	assert_int_equal(one[1].prefixlen, 0xee);
}

/* Every IPv4 prefix length round-trips through format and parse. */
static void test_roundtrip_all_lengths(void **state)
{
	char text[SPW_CIDR_STRLEN], buf[SPW_CIDR_STRLEN], err[128];
	struct spw_cidr c, again;
	unsigned int n;

	(void)state;
	for (n = 0; n <= 32; n++) {
		uint32_t net = n ? 0xffffffffU << (32 - n) : 0;

		net &= 0xc6336409U; /* 198.51.100.9 with host bits cleared */
		snprintf(text, sizeof(text), "%u.%u.%u.%u/%u", net >> 24, (net >> 16) & 0xff,
			 (net >> 8) & 0xff, net & 0xff, n);
		if (spw_cidr_parse(text, &c, err, sizeof(err)))
			fail_msg("%s: %s", text, err);
		assert_int_equal(c.prefixlen, 96 + n);
		spw_cidr_format(&c, buf, sizeof(buf));
		assert_string_equal(buf, text);
		assert_int_equal(spw_cidr_parse(buf, &again, err, sizeof(err)), 0);
		assert_memory_equal(&again, &c, sizeof(c));
	}
	for (n = 0; n <= 128; n += 4) {
		snprintf(text, sizeof(text), "::/%u", n);
		assert_int_equal(spw_cidr_parse(text, &c, err, sizeof(err)), 0);
		assert_int_equal(c.prefixlen, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_null_and_small_err),
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_addr_format),
	    cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_to_key),
	    cmocka_unit_test(test_exempt_key),
	    cmocka_unit_test(test_host_addrs),
	    cmocka_unit_test(test_roundtrip_all_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
