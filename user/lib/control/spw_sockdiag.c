// SPDX-License-Identifier: GPL-2.0-only
/*
 * Accept-queue fill from NETLINK_SOCK_DIAG (spw_sockdiag.h), as `ss -ltn 'sport = :PORT'` reads
 * it: one SOCK_DIAG_BY_FAMILY dump of TCP listeners per address family.
 *
 * Cost: the request asks for listeners only (idiag_states = TCPF_LISTEN), so the kernel walks its
 * listening hash and never the established one, and it sets id.idiag_sport, which the kernel's
 * listener walk compares before it builds a message (inet_diag_dump_icsk), so only the port's
 * listeners come back. One extension is requested, INET_DIAG_SKMEMINFO (36 bytes more per
 * listener), for the listener's drop count (SK_MEMINFO_DROPS, kernel >= 4.6). The port is
 * checked again here, which also covers a kernel that ignored the field.
 *
 * For a listener the kernel fills idiag_rqueue with sk_ack_backlog (connections fully set up,
 * waiting for accept()) and idiag_wqueue with sk_max_ack_backlog (listen()'s backlog, capped by
 * net.core.somaxconn). Half-open connections (SYN_RECV) are not in either number.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "spw_sockdiag.h"

/*
 * Receive buffer. The kernel fills each dump datagram up to the larger of about 8 KiB and the
 * largest buffer this socket has offered to recvmsg(), never past 32 KiB, so with this size a
 * datagram never arrives cut short (MSG_TRUNC is still checked). A listener's answer is 124 bytes
 * on Linux 6.18 (the message and a few attributes the kernel adds unasked): this holds over 250.
 */
#define NL_BUF_SIZE 32768

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

/* SK_MEMINFO_DROPS of a listener's answer, 0 when the kernel sent no memory info. */
static uint32_t listener_drops(const struct nlmsghdr *h)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	uint32_t drops;

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != INET_DIAG_SKMEMINFO ||
		    RTA_PAYLOAD(a) < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))
			continue;
		memcpy(&drops, (const uint32_t *)RTA_DATA(a) + SK_MEMINFO_DROPS, sizeof(drops));
		return drops;
	}
	return 0;
}

static void account(struct spw_accept_queue *out, const struct nlmsghdr *h)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	/*
	 * listen(fd, 0) gives a limit of 0, yet Linux still queues one connection (it drops only
	 * when the queue is longer than the limit): count such a limit as 1 so the fill stays
	 * finite and reads 1.0 when that one slot is taken.
	 */
	double limit = m->idiag_wqueue ? (double)m->idiag_wqueue : 1.0;
	double fill = (double)m->idiag_rqueue / limit;

	out->sockets++;
	out->queued += m->idiag_rqueue;
	out->backlog += m->idiag_wqueue;
	out->drops += listener_drops(h);
	if (fill > out->fill)
		out->fill = fill;
}

static int send_req(int fd, uint8_t family, uint16_t port, uint32_t seq)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct diag_req req;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nlh.nlmsg_seq = seq;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = 1U << TCP_LISTEN;
	req.r.idiag_ext = 1U << (INET_DIAG_SKMEMINFO - 1);
	req.r.id.idiag_sport = htons(port);

	do {
		n = sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(req) ? 0 : -EIO;
}

/*
 * Reads the dump answering request seq until NLMSG_DONE, adding each listener on ports[i] to
 * out[i]. Returns 0 or -errno (the kernel's own error when it refused the request).
 */
static int recv_dump(int fd, const uint16_t *ports, int n_ports, uint32_t seq,
		     struct spw_accept_queue *out)
{
	/* Aligned for the nlmsghdr and inet_diag_msg casts below. */
	union {
		struct nlmsghdr nlh;
		char buf[NL_BUF_SIZE];
	} u;

	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = u.buf, .iov_len = sizeof(u.buf)};
		struct msghdr msg = {
		    .msg_name = &from,
		    .msg_namelen = sizeof(from),
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		};
		struct nlmsghdr *h;
		ssize_t n;
		int len;

		n = recvmsg(fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		/* Only the kernel (port id 0) answers a dump; anything else is not ours to read. */
		if (msg.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;

		len = (int)n;
		for (h = &u.nlh; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				/* DONE carries the dump's result: an error ends it early. */
				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
					int res;

					memcpy(&res, NLMSG_DATA(h), sizeof(res));
					if (res < 0)
						return res;
				}
				return 0;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EIO;
				/* error 0 is an ack; a dump ends with DONE, so keep reading. */
				if (e->error)
					return e->error;
				continue;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);

				int p;

				for (p = 0; p < n_ports && m->idiag_state == TCP_LISTEN; p++)
					if (m->id.idiag_sport == htons(ports[p]))
						account(&out[p], h);
			}
		}
		if (len)
			return -EIO; /* a message cut in the middle: the reply cannot be trusted */
	}
}

int spw_accept_queue_read_ports(const uint16_t *ports, int n, struct spw_accept_queue *out)
{
	static const uint8_t families[] = {AF_INET, AF_INET6};
	struct spw_accept_queue *acc;
	int fd, err = 0;
	size_t i;

	if (!ports || !out || n <= 0)
		return -EINVAL;
	acc = calloc((size_t)n, sizeof(*acc));
	if (!acc)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		err = -errno;
		goto out;
	}

	for (i = 0; i < sizeof(families) / sizeof(families[0]) && !err; i++) {
		/* A fresh socket per call: the sequence number only tells its two dumps apart. */
		uint32_t seq = (uint32_t)i + 1;

		/*
		 * A dual-stack AF_INET6 listener that also takes IPv4 is reported once, in the IPv6
		 * dump: the kernel filters each dump by the socket's family. One port: the kernel
		 * filters by it; several: one dump of every listener (port 0), split here, which
		 * costs one dump per family per tick instead of one per service.
		 */
		err = send_req(fd, families[i], n == 1 ? ports[0] : 0, seq);
		if (!err)
			err = recv_dump(fd, ports, n, seq, acc);
		/* No IPv6 diag handler (no IPv6 in this kernel): no IPv6 listener either. */
		if (err == -ENOENT && families[i] == AF_INET6)
			err = 0;
	}
	close(fd);
	if (!err)
		memcpy(out, acc, (size_t)n * sizeof(*acc));
out:
	free(acc);
	return err;
}

int spw_accept_queue_read(uint16_t port, struct spw_accept_queue *out)
{
	return spw_accept_queue_read_ports(&port, 1, out);
}
