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
#include <microhttpd.h>
#include "http_route.h"
#include "spwd.h"
#include "spw_log.h"

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
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!body)
		return MHD_NO; /* strdup or asprintf out of memory */
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
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
	char *body = NULL;
	unsigned int status;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	switch (spwd_http_route(method, url)) {
	case SPWD_HTTP_NOT_GET:
		return respond(conn, 405, "text/plain", strdup("only GET\n"));
	case SPWD_HTTP_HEALTHZ:
		pthread_mutex_lock(&d->snap.lock);
		s = d->snap;
		pthread_mutex_unlock(&d->snap.lock);
		status = spwd_http_health(spw_now_ns(), s.last_tick_ns, s.tick_ns, &body);
		if (!body)
			return MHD_NO;
		return respond(conn, status, "text/plain", body);
	case SPWD_HTTP_METRICS:
		return serve_snapshot(conn, d, false);
	case SPWD_HTTP_STATE:
		return serve_snapshot(conn, d, true);
	case SPWD_HTTP_NOT_FOUND:
		break;
	}
	return respond(conn, 404, "text/plain", strdup("not found\n"));
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
	if (spwd_http_parse_listen(d->cfg->metrics_listen, &ss)) {
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
