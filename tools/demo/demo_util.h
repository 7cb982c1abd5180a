/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Small helpers shared by the overload demo's programs (tools/demo/backend.c and
 * tools/loadgen/loadgen.c): the monotonic clock, strict number and address parsing, and a
 * header lookup in an HTTP head. Header-only (static inline) so each program stays one
 * object and the Makefile rules stay trivial.
 */
#ifndef SPILLWAY_DEMO_UTIL_H
#define SPILLWAY_DEMO_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static inline uint64_t demo_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The whole of s is a decimal number in [min, max]. */
static inline bool demo_parse_ulong(const char *s, unsigned long min, unsigned long max,
				    unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && end != s && !*end && *s != '-' && *out >= min && *out <= max;
}

/* The whole of s is a finite number in [min, max]. */
static inline bool demo_parse_double(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= min && *out <= max;
}

/*
 * An address without port ("10.0.0.1", "fd00::1") into ss, port 0. The length to pass to
 * bind()/connect() goes to *len.
 */
static inline bool demo_parse_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		*len = sizeof(*in4);
		return true;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

/* "IPv4:PORT" or "[IPv6]:PORT" into ss. */
static inline bool demo_parse_ip_port(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	unsigned long port;
	size_t n;

	if (!colon || !demo_parse_ulong(colon + 1, 1, 65535, &port))
		return false;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (!demo_parse_ip(host, ss, len))
		return false;
	/* sin_port and sin6_port sit at the same offset. */
	((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	return true;
}

/*
 * The value of header name in an HTTP head (NUL-terminated, starting with the request or
 * status line, lines ending in \r\n), leading blanks skipped, length to *len; NULL when
 * absent.
 */
static inline const char *demo_http_header(const char *head, const char *name, size_t *len)
{
	size_t n = strlen(name);
	const char *line = strstr(head, "\r\n"), *end, *v;

	while (line) {
		line += 2;
		end = strstr(line, "\r\n");
		if (!end || end == line)
			return NULL; /* the blank line ends the head */
		if (!strncasecmp(line, name, n) && line[n] == ':') {
			v = line + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			*len = (size_t)(end - v);
			return v;
		}
		line = end;
	}
	return NULL;
}

#endif /* SPILLWAY_DEMO_UTIL_H */
