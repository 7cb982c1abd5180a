/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP GETs to a server listening on 127.0.0.1:port inside a network namespace (the daemon's
 * exporter, wherever it was started from): HTTP/1.0, one request per connection.
 */
#ifndef SPW_TEST_HTTP_H
#define SPW_TEST_HTTP_H

#include <stddef.h>

/*
 * GET path. Returns the HTTP status and the body in body (NUL-terminated, truncated to len),
 * or a negative errno (-ECONNREFUSED while nothing listens).
 */
int spw_http_get(const char *ns, int port, const char *path, char *body, size_t len);
/*
 * The value of one series of /metrics, named exactly as exposed
 * (`spillway_reports_total{outcome="rejected"}`): 0, -ENOENT when it is not there.
 */
int spw_http_metric(const char *ns, int port, const char *series, double *value);

/*
 * The sum of every series of /metrics whose name and labels start with prefix
 * (`spillway_new_flows_total{service="api"`): 0, or the failed GET's status or -errno.
 */
int spw_http_metric_sum(const char *ns, int port, const char *prefix, double *sum);

#endif /* SPW_TEST_HTTP_H */
