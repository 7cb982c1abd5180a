// SPDX-License-Identifier: GPL-2.0-only
/* HTTP GETs to a server on loopback inside a namespace (see http.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "http.h"
#include "netns.h"

/* One request may take this long; a server that does not answer is not ready. */
#define HTTP_TIMEOUT_MS 1000
/* Room for a whole scrape: 8 services x 3 tiers is about 150 KB. */
#define HTTP_BUF_LEN (1024 * 1024)

static int http_exchange(int fd, int port, const char *path, char *buf, size_t len, size_t *got)
{
	struct timeval tv = {HTTP_TIMEOUT_MS / 1000, (HTTP_TIMEOUT_MS % 1000) * 1000};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[256];
	int n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	/* HTTP/1.0: the server closes after the answer, so end of file is end of body. */
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -EIO;
	*got = 0;
	while (*got < len - 1) {
		ssize_t r = recv(fd, buf + *got, len - 1 - *got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	buf[*got] = '\0';
	return 0;
}

int spw_http_get(const char *ns, int port, const char *path, char *body, size_t len)
{
	char *buf, *start;
	size_t got = 0;
	int fd, err, status;

	if (!len)
		return -EINVAL;
	buf = malloc(HTTP_BUF_LEN);
	if (!buf)
		return -ENOMEM;
	fd = spw_netns_socket(ns, AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		free(buf);
		return fd;
	}
	err = http_exchange(fd, port, path, buf, HTTP_BUF_LEN, &got);
	close(fd);
	if (err) {
		free(buf);
		return err; /* not listening yet: ECONNREFUSED, quietly */
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		free(buf);
		return -EPROTO;
	}
	start = strstr(buf, "\r\n\r\n");
	snprintf(body, len, "%s", start ? start + 4 : "");
	free(buf);
	return status;
}

int spw_http_metric(const char *ns, int port, const char *series, double *value)
{
	size_t slen = strlen(series);
	char *body = malloc(HTTP_BUF_LEN), *line, *end;
	int status, err = -ENOENT;

	if (!body)
		return -ENOMEM;
	status = spw_http_get(ns, port, "/metrics", body, HTTP_BUF_LEN);
	if (status != 200) {
		free(body);
		return status < 0 ? status : -EPROTO;
	}
	for (line = body; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		/* The series, then the space before the value: a longer name is another series. */
		if (strncmp(line, series, slen) || line[slen] != ' ')
			continue;
		errno = 0;
		*value = strtod(line + slen + 1, &end);
		err = errno || end == line + slen + 1 ? -EPROTO : 0;
		break;
	}
	free(body);
	return err;
}

int spw_http_metric_sum(const char *ns, int port, const char *prefix, double *sum)
{
	size_t plen = strlen(prefix);
	char *body = malloc(HTTP_BUF_LEN);
	int status;

	*sum = 0;
	if (!body)
		return -ENOMEM;
	status = spw_http_get(ns, port, "/metrics", body, HTTP_BUF_LEN);
	for (char *l = body; status == 200 && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		char *sp = strchr(l, ' ');

		if (!strncmp(l, prefix, plen) && sp && sp < strchr(l, '\n'))
			*sum += strtod(sp + 1, NULL);
	}
	free(body);
	return status == 200 ? 0 : status;
}
