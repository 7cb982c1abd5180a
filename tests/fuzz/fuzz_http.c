// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter's request handling (user/spillwayd/http_route.c), without a socket. The input
 * is up to three lines: "METHOD URL" (the request as libmicrohttpd hands it over), "NOW
 * LAST_TICK TICK" in nanoseconds (the health check's clock and snapshot), and a metrics listen
 * address. Every request gets a page, /healthz a status and a body.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "http_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *lines[3] = {NULL, NULL, NULL}, *save = NULL;
	char *p, *method, *url, *body = NULL;
	uint64_t now = 0, last = 0, tick = 0;
	struct sockaddr_storage ss;
	enum spwd_http_page page;
	unsigned int status;
	int i = 0;

	for (p = strtok_r(text, "\n", &save); p && i < 3; p = strtok_r(NULL, "\n", &save))
		lines[i++] = p;
	method = lines[0];
	url = method ? strchr(method, ' ') : NULL;
	if (url)
		*url++ = '\0';
	page = spwd_http_route(method, url);
	FUZZ_CHECK(page >= SPWD_HTTP_NOT_GET && page <= SPWD_HTTP_NOT_FOUND);
	if (page != SPWD_HTTP_NOT_GET)
		FUZZ_CHECK(!strcmp(method, "GET"));
	if (lines[1])
		sscanf(lines[1], "%" SCNu64 " %" SCNu64 " %" SCNu64, &now, &last, &tick);
	if (page == SPWD_HTTP_HEALTHZ) {
		status = spwd_http_health(now, last, tick, &body);
		FUZZ_CHECK(body && (status == 200 || status == 503));
		FUZZ_CHECK(!strncmp(body, status == 200 ? "ok: " : "stalled: ", 4));
		free(body);
	}
	if (lines[2] && !spwd_http_parse_listen(lines[2], &ss))
		FUZZ_CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	free(text);
	return 0;
}
