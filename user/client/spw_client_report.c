// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libspillway-client: report lines (README, "report protocol"), one per datagram. A report is
 * a hint refreshed every few tens of milliseconds: losing one costs nothing, stalling the app
 * to deliver it would, so every send is non-blocking and its failure is returned, not retried.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "spw_client_priv.h"

static bool valid_name(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (!n || n >= SPW_CLIENT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static int send_line(struct spw_client *c, const char *line, int len)
{
	if (len < 0 || len >= SPW_CLIENT_LINE_MAX)
		return -EINVAL;
	/* MSG_NOSIGNAL: a datagram socket cannot raise SIGPIPE today; it says what we mean. */
	if (sendto(c->report_fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&c->report_sa, c->report_salen) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/* Appends " key=N" when v is not negative. */
static int opt_field(char *buf, size_t len, const char *key, int64_t v)
{
	return v < 0 ? 0 : snprintf(buf, len, " %s=%" PRId64, key, v);
}

SPW_API int spw_client_report_pool(struct spw_client *c, const char *name, uint64_t in_use,
				   uint64_t capacity, int64_t waiting, int64_t wait_ms)
{
	char line[SPW_CLIENT_LINE_MAX];
	int n;

	if (!c || !valid_name(name))
		return -EINVAL;
	n = snprintf(line, sizeof(line), "pool %s in_use=%" PRIu64 " capacity=%" PRIu64, name,
		     in_use, capacity);
	n += opt_field(line + n, sizeof(line) - (size_t)n, "waiting", waiting);
	n += opt_field(line + n, sizeof(line) - (size_t)n, "wait_ms", wait_ms);
	return send_line(c, line, n);
}

SPW_API int spw_client_report_queue(struct spw_client *c, const char *name, uint64_t depth,
				    int64_t limit, int64_t age_ms)
{
	char line[SPW_CLIENT_LINE_MAX];
	int n;

	if (!c || !valid_name(name))
		return -EINVAL;
	n = snprintf(line, sizeof(line), "queue %s depth=%" PRIu64, name, depth);
	n += opt_field(line + n, sizeof(line) - (size_t)n, "limit", limit);
	n += opt_field(line + n, sizeof(line) - (size_t)n, "age_ms", age_ms);
	return send_line(c, line, n);
}
