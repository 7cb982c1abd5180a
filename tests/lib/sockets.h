/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sockets of the namespace tests: the ones a test keeps for its teardown to close, timeouts,
 * connects waited for with a deadline, listeners on a topology's server side, echo round trips.
 *
 * Functions that return void or a socket fail the running cmocka test on an error; the ones
 * that return an int result say so. Not thread-safe.
 */
#ifndef SPW_TEST_SOCKETS_H
#define SPW_TEST_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netns.h"

/* Sockets one test holds at once at the most: a few connections and their listeners. */
#define SPW_FDS_MAX 64

/* Sockets the teardown closes. Zeroed is empty. */
struct spw_fds {
	int fd[SPW_FDS_MAX];
	int n;
};

/* Keeps fd (which must be >= 0: a negative errno fails the test) and returns it. */
int spw_fds_track(struct spw_fds *s, int fd);
/* Closes one tracked socket before the teardown; fails the test when fd is not tracked. */
void spw_fds_close(struct spw_fds *s, int fd);
/* Closes every tracked socket. Never fails. */
void spw_fds_close_all(struct spw_fds *s);

/* SO_RCVTIMEO and SO_SNDTIMEO of ms: a blocking call gives up instead of hanging. */
void spw_sock_timeouts(int fd, int ms);
void spw_sock_nonblock(int fd, bool on);
/* Is there something to read (or a connection to accept) within wait_ms? */
bool spw_sock_readable(int fd, int wait_ms);

/* What a connect came to by its deadline; anything else is the negative errno it failed with. */
enum spw_conn_result {
	SPW_CONN_OK = 0,
	SPW_CONN_PENDING = 1, /* still no answer at the deadline: SYNs dropped */
};

/* Waits up to wait_ms for a started non-blocking connect: SPW_CONN_* or a negative errno. */
int spw_connect_wait(int fd, int wait_ms);
/*
 * connect() without blocking, waited for at most wait_ms: SPW_CONN_* or the negative errno it
 * failed with; *ms is how long the outcome took. A connected socket is blocking again, with
 * spw_sock_timeouts(io_timeout_ms). A datagram socket connects at once (nothing is sent).
 */
int spw_connect_timed(int fd, const struct sockaddr_storage *to, socklen_t len, int wait_ms,
		      int io_timeout_ms, double *ms);

/*
 * A socket of type bound to the server side's address of family, port, inside its namespace;
 * a stream socket also listens with backlog. Returns the fd or a negative errno (said on stderr).
 */
int spw_topo_listen(const struct spw_topo *t, int family, int type, uint16_t port, int backlog);

/*
 * A non-blocking raw packet socket (ETH_P_ALL) bound to side's veth inside its namespace, its
 * receive buffer forced to rcvbuf bytes so that a burst is not lost before the test reads it:
 * every frame the veth sees. Returns the fd or a negative errno (said on stderr).
 */
int spw_topo_packet_socket(const struct spw_topo *t, enum spw_topo_side side, int rcvbuf);

/*
 * n new TCP connections from the client side to the server side's IPv4 address at port, each
 * closed again: n new flows for the data plane. Each must connect, or with refused_ok be
 * refused (a shed SYN rejected with an RST); anything else, a hang above all, fails the test.
 */
void spw_topo_connect_n(const struct spw_topo *t, struct spw_fds *fds, uint16_t port, int n,
			bool refused_ok, int wait_ms);

/* send() until all of buf is out, MSG_NOSIGNAL; fails the test on an error. */
void spw_send_all(int fd, const void *buf, size_t len);
/* recv() until len bytes are in; fails the test on an error or EOF. */
void spw_recv_exact(int fd, void *buf, size_t len);
/* Client writes, server echoes back, n times; each message is checked byte for byte. */
void spw_round_trips(int cli, int srv, int n, const char *tag);

#endif /* SPW_TEST_SOCKETS_H */
