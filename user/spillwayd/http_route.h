/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The exporter's request handling without libmicrohttpd: which page a request asks for, and
 * /healthz's answer, the listen address. Pure, so the fuzz harness calls it without a socket.
 */
#ifndef SPWD_HTTP_ROUTE_H
#define SPWD_HTTP_ROUTE_H

#include <stdint.h>
#include <sys/socket.h>

enum spwd_http_page {
	SPWD_HTTP_NOT_GET,   /* 405 */
	SPWD_HTTP_HEALTHZ,   /* /healthz */
	SPWD_HTTP_METRICS,   /* /metrics: Prometheus text */
	SPWD_HTTP_STATE,     /* /v1/state: JSON */
	SPWD_HTTP_NOT_FOUND, /* 404 */
};

/* Healthy while the last tick is at most this many ticks old. */
#define SPWD_HEALTHY_TICKS 3

/* The page for a method and a path (libmicrohttpd's url: no query string). NULL is neither. */
enum spwd_http_page spwd_http_route(const char *method, const char *url);

/*
 * /healthz: 200 while the last tick (last_tick_ns, 0 = none yet) is recent at now, else 503;
 * *body is a new string (free), NULL when out of memory (then 0 is returned).
 */
unsigned int spwd_http_health(uint64_t now, uint64_t last_tick_ns, uint64_t tick_ns, char **body);

/* metrics: {listen: ...}, "127.0.0.1:9478" or "[::1]:9478", into ss. 0 or -EINVAL. */
int spwd_http_parse_listen(const char *text, struct sockaddr_storage *ss);

#endif /* SPWD_HTTP_ROUTE_H */
