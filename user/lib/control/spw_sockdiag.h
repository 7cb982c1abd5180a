/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Accept-queue fill of listening TCP sockets, read from the kernel with NETLINK_SOCK_DIAG:
 * no app change needed. For a listener, inet_diag reports the accept queue's current length
 * (idiag_rqueue) and its limit, the backlog (idiag_wqueue), and with the socket's memory info
 * the packets the listener dropped (sk_drops: SYNs and handshake ACKs the kernel refused, an
 * accept queue overflow above all).
 */
#ifndef SPW_SOCKDIAG_H
#define SPW_SOCKDIAG_H

#include <stdint.h>

struct spw_accept_queue {
	uint32_t sockets; /* listeners found on the port (IPv4 and IPv6, SO_REUSEPORT groups) */
	uint32_t queued;  /* connections waiting for accept(), summed */
	uint32_t backlog; /* their limits, summed */
	double fill;	  /* the fullest listener's queued / backlog: the one that drops first */
	/*
	 * Packets the listeners dropped, summed, since each was created: tcp_listendrop(), which
	 * the kernel calls for a SYN or an ACK refused on a full accept queue (the host-wide
	 * ListenOverflows), a full SYN queue without syncookies, or a child it could not set up.
	 */
	uint64_t drops;
};

/*
 * Listeners on local TCP port `port` (host order) in the caller's network namespace.
 * 0 with sockets == 0 when nothing listens; -errno when the netlink query fails.
 */
int spw_accept_queue_read(uint16_t port, struct spw_accept_queue *out);
/* The same for n ports at once (out[i] for ports[i]): one dump per family for all of them. */
int spw_accept_queue_read_ports(const uint16_t *ports, int n, struct spw_accept_queue *out);

#endif /* SPW_SOCKDIAG_H */
