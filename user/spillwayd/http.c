// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP side, on libmicrohttpd's own thread so a slow scrape never delays a tick:
 * /healthz answers 200 while the last tick is recent, 503 otherwise; /metrics (Prometheus text)
 * and /v1/state (JSON) come from the snapshot the tick publishes (metrics.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include "spwd.h"
#include "spw_log.h"

/* Healthy while the last tick is at most this many ticks old. */
#define SPWD_HEALTHY_TICKS 3
/*
 * Connection limits of the exporter. Any local user can open connections to it, and a
 * liveness probe that cannot reach /healthz restarts the daemon, so: at most this many at
 * once (each costs the daemon an fd, and the loop needs fds for reloads and clients), at most
 * SPWD_HTTP_PER_IP from one address (one source cannot take them all), and a connection that
 * sends nothing for SPWD_HTTP_IDLE_S seconds is closed (a scrape takes milliseconds).
 */
#define SPWD_HTTP_MAX_CONNS 512
#define SPWD_HTTP_PER_IP    32
#define SPWD_HTTP_IDLE_S    5

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, const char *type,
			       char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * /metrics and /v1/state format a copy of the snapshot the last tick published, so the lock is
 * held for a memcpy and the formatting (the expensive part) runs beside the loop.
 */
static enum MHD_Result serve_snapshot(struct MHD_Connection *conn, struct spwd *d, bool json)
{
	struct spw_metrics_snapshot *s = spwd_metrics_copy(d);
	char *body = NULL;
	size_t len;

	if (!s)
		return respond(conn, 503, "text/plain", strdup("no snapshot yet\n"));
	spwd_metrics_fill_counters(d, s);
	if (json)
		body = spwd_state_json(s);
	else if (spw_metrics_format(s, &body, &len))
		body = NULL;
	free(s);
	if (!body)
		return respond(conn, 500, "text/plain", strdup("out of memory\n"));
	return respond(conn, 200,
		       json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
		       body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	struct spwd *d = cls;
	struct spwd_snapshot s;
	uint64_t now = spw_now_ns();
	char *body = NULL;
	bool healthy;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(method, "GET"))
		return respond(conn, 405, "text/plain", strdup("only GET\n"));
	pthread_mutex_lock(&d->snap.lock);
	s = d->snap;
	pthread_mutex_unlock(&d->snap.lock);
	healthy = s.last_tick_ns && now - s.last_tick_ns <= SPWD_HEALTHY_TICKS * s.tick_ns;
	if (!strcmp(url, "/healthz")) {
		if (asprintf(&body, "%s: last tick %.3f s ago\n", healthy ? "ok" : "stalled",
			     s.last_tick_ns ? (double)(now - s.last_tick_ns) / 1e9 : -1.0) < 0)
			return MHD_NO;
		return respond(conn, healthy ? 200 : 503, "text/plain", body);
	}
	if (!strcmp(url, "/metrics"))
		return serve_snapshot(conn, d, false);
	if (!strcmp(url, "/v1/state"))
		return serve_snapshot(conn, d, true);
	return respond(conn, 404, "text/plain", strdup("not found\n"));
}

/* "127.0.0.1:9478" or "[::1]:9478" into a socket address. */
static int parse_listen(const char *text, struct sockaddr_storage *ss)
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

int spwd_http_start(struct spwd *d)
{
	struct sockaddr_storage ss;
	/*
	 * epoll, not select(): select() cannot watch an fd above FD_SETSIZE (1024), so with a
	 * thousand connections open, MHD would close every new one, the probe's included.
	 */
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	if (!d->cfg->metrics_listen[0])
		return 0; /* metrics: {listen: ""} turns the endpoint off */
	if (parse_listen(d->cfg->metrics_listen, &ss)) {
		pr_warn("metrics listen address %s is not HOST:PORT\n", d->cfg->metrics_listen);
		return -EINVAL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d->http = MHD_start_daemon(flags, 0, NULL, NULL, handle, d, MHD_OPTION_SOCK_ADDR, &ss,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SPWD_HTTP_MAX_CONNS,
				   MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				   (unsigned int)SPWD_HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
				   (unsigned int)SPWD_HTTP_IDLE_S, MHD_OPTION_END);
	if (!d->http) {
		pr_warn("cannot serve metrics on %s\n", d->cfg->metrics_listen);
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(d->http, MHD_DAEMON_INFO_BIND_PORT);
	d->metrics_port = info ? info->port : 0;
	pr_info("serving /metrics, /v1/state and /healthz on %s (port %u)\n",
		d->cfg->metrics_listen, (unsigned int)d->metrics_port);
	return 0;
}

void spwd_http_stop(struct spwd *d)
{
	if (d->http)
		MHD_stop_daemon(d->http);
	d->http = NULL;
	d->metrics_port = 0;
}
