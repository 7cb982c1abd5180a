// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The HTTP bits the examples share (example_http.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "example_http.h"

uint64_t example_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool example_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

const char *example_header(const char *head, const char *name, size_t *len)
{
	size_t n = strlen(name);
	const char *p = strstr(head, "\r\n");

	for (; p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end || strncasecmp(line, name, n) || line[n] != ':')
			continue;
		line += n + 1;
		while (*line == ' ' || *line == '\t')
			line++;
		*len = (size_t)(end - line);
		return line;
	}
	return NULL;
}

bool example_header_is(const char *head, const char *name, const char *value)
{
	size_t len;
	const char *v = example_header(head, name, &len);

	return v && len == strlen(value) && !strncasecmp(v, value, len);
}

bool example_parse_num(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}

int example_header_num(const char *head, const char *name, unsigned long max, unsigned long *out)
{
	char num[24];
	size_t len;
	const char *v = example_header(head, name, &len);

	if (!v)
		return 0;
	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, v, len);
	num[len] = '\0';
	return example_parse_num(num, 0, max, out) ? 1 : -1;
}

long example_read_head(int fd, char *buf, size_t *have)
{
	char *eoh;
	ssize_t n;

	for (;;) {
		buf[*have] = '\0';
		eoh = strstr(buf, "\r\n\r\n");
		if (eoh)
			return (long)(eoh - buf) + 4;
		if (*have == EXAMPLE_HEAD_MAX)
			return -1;
		n = recv(fd, buf + *have, EXAMPLE_HEAD_MAX - *have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0; /* closed, timed out, or failed */
		*have += (size_t)n;
	}
}

bool example_refuse(const struct spw_shed_state *st, const char *head, struct spw_retry_hint *hint,
		    int *bad)
{
	/* Attempts and deadlines beyond these are nonsense, not numbers to compute with. */
	unsigned long attempt = 0, deadline_ms = 0;

	*bad = 0;
	if (example_header_num(head, EXAMPLE_RETRY_ATTEMPT, 1000, &attempt) < 0 ||
	    example_header_num(head, EXAMPLE_DEADLINE_MS, 86400000UL, &deadline_ms) < 0) {
		*bad = -1;
		return false;
	}
	/* X-Deadline-Ms: 0 reads as no deadline, as spw_client_retry_hint() takes it. */
	spw_client_retry_hint(st, (unsigned int)attempt, deadline_ms, hint);
	return hint->refuse;
}

void example_refusal_headers(const struct spw_retry_hint *hint, char *buf, size_t size)
{
	if (hint->dont_retry)
		snprintf(buf, size, EXAMPLE_NO_RETRY ": no\r\n");
	else
		snprintf(buf, size, "Retry-After: %u\r\n", hint->retry_after_s);
}

int example_serve_start(const char *prog, const char *state_dir, const char *report_socket,
			unsigned long port, bool loopback_only, struct spw_client **c,
			unsigned int *bound)
{
	int lfd;

	*c = spw_client_open(state_dir, report_socket);
	if (!*c) {
		fprintf(stderr, "%s: cannot open the spillway client: %s\n", prog, strerror(errno));
		return -1;
	}
	lfd = example_listen((unsigned int)port, loopback_only, bound);
	if (lfd < 0) {
		fprintf(stderr, "%s: cannot listen on port %lu: %s\n", prog, port, strerror(-lfd));
		return -1;
	}
	return lfd;
}

int example_listen(unsigned int port, bool loopback_only, unsigned int *bound)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(loopback_only ? INADDR_LOOPBACK : INADDR_ANY),
	};
	socklen_t salen = sizeof(sa);
	int fd, one = 1, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 256) ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen)) {
		err = -errno;
		close(fd);
		return err;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}
