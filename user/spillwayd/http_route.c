// SPDX-License-Identifier: GPL-2.0-only
/* The exporter's request handling, pure (http_route.h); http.c answers with what it says. */
#include <stdbool.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "http_route.h"

enum spwd_http_page spwd_http_route(const char *method, const char *url)
{
	if (!method || strcmp(method, "GET"))
		return SPWD_HTTP_NOT_GET;
	if (!url)
		return SPWD_HTTP_NOT_FOUND;
	if (!strcmp(url, "/healthz"))
		return SPWD_HTTP_HEALTHZ;
	if (!strcmp(url, "/metrics"))
		return SPWD_HTTP_METRICS;
	if (!strcmp(url, "/v1/state"))
		return SPWD_HTTP_STATE;
	return SPWD_HTTP_NOT_FOUND;
}

unsigned int spwd_http_health(uint64_t now, uint64_t last_tick_ns, uint64_t tick_ns, char **body)
{
	bool healthy = last_tick_ns && now - last_tick_ns <= SPWD_HEALTHY_TICKS * tick_ns;

	if (asprintf(body, "%s: last tick %.3f s ago\n", healthy ? "ok" : "stalled",
		     last_tick_ns ? (double)(now - last_tick_ns) / 1e9 : -1.0) < 0) {
		*body = NULL;
		return 0;
	}
	return healthy ? 200 : 503;
}

/* "127.0.0.1:9478" or "[::1]:9478" into a socket address. */
int spwd_http_parse_listen(const char *text, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	unsigned long port;
	char *end;
	size_t hl;

	if (!colon)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	/* Port 0: the kernel picks a free one (spwd_http_start reads it back). */
	if (*end || colon[1] == '\0' || port > 65535)
		return -EINVAL;
	hl = colon - text;
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	return inet_pton(AF_INET, host, &in4->sin_addr) == 1 ? 0 : -EINVAL;
}
