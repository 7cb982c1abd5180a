/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The bits of HTTP/1.1 the examples share (the HTTP server, the slow sink and the consumer
 * that writes to it): whole writes, a header lookup, strict numbers, and the retry hint a
 * refused request is answered with. Blocking sockets, heads only up to EXAMPLE_HEAD_MAX.
 */
#ifndef EXAMPLE_HTTP_H
#define EXAMPLE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spillway_client.h"

/* A request's or response's head (first line and headers) must fit in this. */
#define EXAMPLE_HEAD_MAX 8192

/*
 * The headers of the retry protocol (README, "Retry hints"): a client marks a retry with
 * Retry-Attempt (1 for the first retry) and may say how long it still waits for an answer
 * with X-Deadline-Ms; a refusal carries Retry-After, or X-Spillway-Retry: no when no retry
 * can succeed before that deadline.
 */
#define EXAMPLE_RETRY_ATTEMPT "Retry-Attempt"
#define EXAMPLE_DEADLINE_MS   "X-Deadline-Ms"
#define EXAMPLE_NO_RETRY      "X-Spillway-Retry"

uint64_t example_now_ns(void);
/* send() all of p, without SIGPIPE; false when the peer is gone. */
bool example_write_all(int fd, const char *p, size_t n);
/*
 * The value of header name in head (NUL-terminated, its lines end in \r\n, the first line is
 * the request or status line), or NULL; its length in *len.
 */
const char *example_header(const char *head, const char *name, size_t *len);
bool example_header_is(const char *head, const char *name, const char *value);
/*
 * The header's value as a number in [0, max]: 1 when found and valid (in *out), 0 when absent
 * (*out untouched), -1 when present but not such a number.
 */
int example_header_num(const char *head, const char *name, unsigned long max, unsigned long *out);
/* Strict decimal in [min, max]: no sign, no trailing text. */
bool example_parse_num(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/*
 * Reads until the end of a head ("\r\n\r\n") into buf (EXAMPLE_HEAD_MAX + 1 bytes), which
 * already holds *have bytes. The head's length with buf NUL-terminated after it, 0 when the peer
 * closed or timed out first, -1 when the head does not fit.
 */
long example_read_head(int fd, char *buf, size_t *have);
/*
 * A refusal's answer for a request's tier state st, its Retry-Attempt and X-Deadline-Ms in
 * head: true with *hint filled when the request is to be refused (spw_client_retry_hint).
 * -1 in *bad when a header is malformed (then the request is refused with 400 by the caller).
 */
bool example_refuse(const struct spw_shed_state *st, const char *head, struct spw_retry_hint *hint,
		    int *bad);
/*
 * A listening TCP socket on port (0: any free one) of loopback, or of every IPv4 address
 * when !loopback_only; the port it got in *bound. The socket, or -errno.
 */
int example_listen(unsigned int port, bool loopback_only, unsigned int *bound);
/*
 * A server's start: the spillway client opened (spw_client_open(state_dir, report_socket)) in
 * *c, then example_listen(port, loopback_only, bound). The listening socket, or -1 after saying
 * on stderr, as prog, which step failed.
 */
int example_serve_start(const char *prog, const char *state_dir, const char *report_socket,
			unsigned long port, bool loopback_only, struct spw_client **c,
			unsigned int *bound);
/* The refusal's extra header lines (Retry-After or the no-retry mark) for hint, in buf. */
void example_refusal_headers(const struct spw_retry_hint *hint, char *buf, size_t size);

#endif /* EXAMPLE_HTTP_H */
