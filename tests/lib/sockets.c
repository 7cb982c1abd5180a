// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/time.h>
#include <cmocka.h>

#include "sockets.h"
#include "util.h"

/* One echo round trip's message: the tag and a counter. */
#define ROUND_TRIP_LEN 80

int spw_fds_track(struct spw_fds *s, int fd)
{
	assert_true(fd >= 0);
	assert_true(s->n < SPW_FDS_MAX);
	s->fd[s->n++] = fd;
	return fd;
}

void spw_fds_close(struct spw_fds *s, int fd)
{
	for (int i = 0; i < s->n; i++) {
		if (s->fd[i] == fd) {
			s->fd[i] = s->fd[--s->n];
			close(fd);
			return;
		}
	}
	fail_msg("socket %d is not tracked", fd);
}

void spw_fds_close_all(struct spw_fds *s)
{
	while (s->n > 0)
		close(s->fd[--s->n]);
}

void spw_sock_timeouts(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

void spw_sock_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK), 0);
}

bool spw_sock_readable(int fd, int wait_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;

	do {
		n = poll(&p, 1, wait_ms);
	} while (n < 0 && errno == EINTR);
	assert_true(n >= 0);
	return n > 0;
}

int spw_connect_wait(int fd, int wait_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0, n;

	do {
		n = poll(&p, 1, wait_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return SPW_CONN_PENDING;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

int spw_connect_timed(int fd, const struct sockaddr_storage *to, socklen_t len, int wait_ms,
		      int io_timeout_ms, double *ms)
{
	double t0;
	int r = 0;

	spw_sock_nonblock(fd, true);
	t0 = spw_now_ms();
	if (connect(fd, (const struct sockaddr *)to, len)) {
		if (errno != EINPROGRESS) {
			r = -errno;
			*ms = spw_now_ms() - t0;
			return r;
		}
		r = spw_connect_wait(fd, wait_ms);
	}
	*ms = spw_now_ms() - t0;
	if (r != SPW_CONN_OK)
		return r;
	spw_sock_nonblock(fd, false);
	spw_sock_timeouts(fd, io_timeout_ms);
	return SPW_CONN_OK;
}

int spw_topo_listen(const struct spw_topo *t, int family, int type, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	int len = spw_topo_sockaddr(t, SPW_TOPO_SRV, family, port, &ss);
	int fd, err;

	if (len < 0)
		return len;
	fd = spw_netns_socket(t->end[SPW_TOPO_SRV].ns, family, type, 0);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) ||
	    (type == SOCK_STREAM && listen(fd, backlog))) {
		err = -errno;
		fprintf(stderr, "listening on port %u in %s: %s\n", port, t->end[SPW_TOPO_SRV].ns,
			strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

int spw_topo_packet_socket(const struct spw_topo *t, enum spw_topo_side side, int rcvbuf)
{
	const struct spw_topo_end *e = &t->end[side];
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = e->ifindex};
	int fd = spw_netns_socket(e->ns, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	int err;

	if (fd < 0) {
		fprintf(stderr, "packet socket in %s: %s\n", e->ns, strerror(-fd));
		return fd;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf))) {
		err = -errno;
		fprintf(stderr, "SO_RCVBUFFORCE %d on a packet socket: %s\n", rcvbuf,
			strerror(-err));
		close(fd);
		return err;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		err = -errno;
		fprintf(stderr, "binding a packet socket to %s in %s: %s\n", e->ifname, e->ns,
			strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

void spw_send_all(int fd, const void *buf, size_t len)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = send(fd, (const char *)buf + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("send: %s after %zu of %zu bytes", strerror(errno), sent, len);
		sent += (size_t)n;
	}
}

void spw_recv_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("recv: %s after %zu of %zu bytes", n ? strerror(errno) : "EOF",
				 got, len);
		got += (size_t)n;
	}
}

void spw_round_trips(int cli, int srv, int n, const char *tag)
{
	char msg[ROUND_TRIP_LEN], buf[ROUND_TRIP_LEN];

	for (int i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof(msg), "%s, round trip %d", tag, i);

		spw_send_all(cli, msg, (size_t)len);
		spw_recv_exact(srv, buf, (size_t)len);
		assert_memory_equal(buf, msg, (size_t)len);
		spw_send_all(srv, buf, (size_t)len);
		spw_recv_exact(cli, buf, (size_t)len);
		assert_memory_equal(buf, msg, (size_t)len);
	}
}

void spw_topo_connect_n(const struct spw_topo *t, struct spw_fds *fds, uint16_t port, int n,
			bool refused_ok, int wait_ms)
{
	struct sockaddr_storage dst;
	int len = spw_topo_sockaddr(t, SPW_TOPO_SRV, AF_INET, port, &dst);

	assert_true(len > 0);
	for (int i = 0; i < n; i++) {
		int fd = spw_fds_track(
		    fds, spw_netns_socket(t->end[SPW_TOPO_CLI].ns, AF_INET, SOCK_STREAM, 0));
		double ms;
		int r = spw_connect_timed(fd, &dst, (socklen_t)len, wait_ms, wait_ms, &ms);

		if (r != SPW_CONN_OK && !(refused_ok && r == -ECONNREFUSED))
			fail_msg("connection %d of %d: %s", i + 1, n,
				 r == SPW_CONN_PENDING ? "no answer" : strerror(-r));
		spw_fds_close(fds, fd);
	}
}
