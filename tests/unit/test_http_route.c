// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter's request handling without a socket (user/spillwayd/http_route.c): the page of
 * each method and path, /healthz's status at the edge of its three ticks, and the listen
 * addresses the metrics config may hold.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "http_route.h"

static void test_route(void **state)
{
	(void)state;
	assert_int_equal(spwd_http_route("GET", "/healthz"), SPWD_HTTP_HEALTHZ);
	assert_int_equal(spwd_http_route("GET", "/metrics"), SPWD_HTTP_METRICS);
	assert_int_equal(spwd_http_route("GET", "/v1/state"), SPWD_HTTP_STATE);
	assert_int_equal(spwd_http_route("POST", "/metrics"), SPWD_HTTP_NOT_GET);
	assert_int_equal(spwd_http_route("get", "/metrics"), SPWD_HTTP_NOT_GET);
	assert_int_equal(spwd_http_route(NULL, "/metrics"), SPWD_HTTP_NOT_GET);
	assert_int_equal(spwd_http_route("GET", "/metrics/"), SPWD_HTTP_NOT_FOUND);
	assert_int_equal(spwd_http_route("GET", "//v1/state"), SPWD_HTTP_NOT_FOUND);
	assert_int_equal(spwd_http_route("GET", ""), SPWD_HTTP_NOT_FOUND);
	assert_int_equal(spwd_http_route("GET", NULL), SPWD_HTTP_NOT_FOUND);
}

static void expect_health(uint64_t now, uint64_t last, uint64_t tick, unsigned int status,
			  const char *body)
{
	char *got = NULL;

	assert_int_equal(spwd_http_health(now, last, tick, &got), status);
	assert_non_null(got);
	assert_string_equal(got, body);
	free(got);
}

static void test_health(void **state)
{
	const uint64_t s = 1000000000ULL, tick = 100000000ULL;

	(void)state;
	expect_health(10 * s, 10 * s - 3 * tick, tick, 200, "ok: last tick 0.300 s ago\n");
	expect_health(10 * s, 10 * s - 3 * tick - 1, tick, 503, "stalled: last tick 0.300 s ago\n");
	expect_health(10 * s, 0, tick, 503, "stalled: last tick -1.000 s ago\n");
	/* A last tick after now (clock read before the tick published) is stalled, not healthy. */
	expect_health(10 * s, 10 * s + 1, tick, 503, "stalled: last tick 18446744073.710 s ago\n");
}

static void test_listen(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	static const char *const bad[] = {
	    "127.0.0.1",     "127.0.0.1:",   "127.0.0.1:-1",	  "127.0.0.1:65536",
	    "127.0.0.1:80x", "[::1]",	     "::1:9478x",	  "[]:80",
	    "300.0.0.1:80",  "localhost:80", "[fe80::1%eth0]:80", ":80",
	};
	size_t i;

	(void)state;
	/* Port 0 is accepted: the kernel picks a free port, which the daemon reads back. */
	assert_int_equal(spwd_http_parse_listen("127.0.0.1:0", &ss), 0);
	assert_int_equal(ntohs(in4->sin_port), 0);
	assert_int_equal(spwd_http_parse_listen("127.0.0.1:9478", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 9478);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(spwd_http_parse_listen("[::1]:65535", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 65535);
	assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (spwd_http_parse_listen(bad[i], &ss) != -EINVAL)
			fail_msg("'%s' taken as a listen address", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route),
	    cmocka_unit_test(test_health),
	    cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
