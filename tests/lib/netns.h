/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Network namespace topologies for tests with real sockets: a server and a client namespace
 * joined by one veth pair, nothing in the caller's namespace.
 *
 * Names are unique per process and per topology (spw-srv-<pid>-<n>), so concurrent runs and
 * leftovers of a killed run never collide. Every namespace is registered before it is created
 * and deleted by spw_topo_destroy(), and, as a backstop, at exit, on SIGINT/SIGTERM/SIGHUP/
 * SIGQUIT/SIGABRT and when a sanitizer aborts the process. Deleting a namespace removes its
 * veth end, and with it the pair.
 *
 * Sockets keep the namespace they were created in: spw_netns_socket() opens one inside a
 * namespace and every later call on it (bind, connect, send...) works from any thread in any
 * namespace. Anything else that resolves names or ifindexes in "the current namespace" (netlink
 * attach, if_nametoindex) goes through spw_netns_run().
 *
 * All functions return 0 (or a non-negative value) or a negative errno; they print what
 * failed on stderr. None of them is safe to call from more than one thread at a time.
 */
#ifndef SPW_TEST_NETNS_H
#define SPW_TEST_NETNS_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* "spw-srv-" + pid (at most 7 digits with the default pid_max of 2^22) + "-" + counter. */
#define SPW_NETNS_NAME_LEN 40
/* A program's own first part of the names, instead of "spw": at most this many letters. */
#define SPW_NETNS_PREFIX_MAX 8

/* Address strings with their prefix length, as `ip addr add` takes them. */
#define SPW_NETNS_ADDR_LEN (INET6_ADDRSTRLEN + 4)

enum spw_topo_side { SPW_TOPO_SRV, SPW_TOPO_CLI, SPW_TOPO_SIDES };

/* One end of the veth pair, in its own namespace. */
struct spw_topo_end {
	char ns[SPW_NETNS_NAME_LEN];
	char ifname[IF_NAMESIZE];
	int ifindex; /* as seen inside ns: the index netlink attaches expect there */
	struct in_addr v4;
	struct in6_addr v6;
	char v4_str[INET_ADDRSTRLEN];
	char v6_str[INET6_ADDRSTRLEN];
};

/*
 * 198.18.<n>.2/24 and fc00:5b:<n>::2/64 on the server's veth, .1 and ::1 on the client's, n
 * taken from the per-process counter. The subnets only have to be unique inside the pair's
 * namespaces, which nothing else uses.
 */
struct spw_topo {
	struct spw_topo_end end[SPW_TOPO_SIDES];
	unsigned int n;
	bool created;
};

/*
 * Creates both namespaces, the veth pair between them, brings lo and the veths up, assigns the
 * addresses (IPv6 without duplicate address detection, so they are usable at once) and turns off
 * TX checksum offload on both veths: a packet the XDP program sees or rewrites then carries a
 * complete checksum instead of a partial one the stack would fill in later. Waits until both
 * veths are running. On failure everything created so far is deleted again.
 */
int spw_topo_create(struct spw_topo *t);
/* Deletes both namespaces. Idempotent; never fails; safe on a zeroed or failed topology. */
void spw_topo_destroy(struct spw_topo *t);

/*
 * Runs fn(arg) with the calling thread in namespace ns, then moves the thread back, and
 * returns what fn returned (or a negative errno when the namespace could not be entered).
 * fn must return normally: a longjmp out of it (a failed cmocka assertion) would leave the
 * thread in ns. Aborts when the thread cannot be moved back, rather than running on in
 * the wrong namespace.
 */
int spw_netns_run(const char *ns, int (*fn)(void *arg), void *arg);

/* socket(domain, type, protocol) created inside ns: returns the fd or a negative errno. */
int spw_netns_socket(const char *ns, int domain, int type, int protocol);

/* The ifindex of ifname inside ns, or a negative errno. */
int spw_netns_ifindex(const char *ns, const char *ifname);

/* Turns TX checksum offload of ifname inside ns off (ethtool -K ifname tx off). */
int spw_netns_tx_csum_off(const char *ns, const char *ifname);

/* Is there a named namespace called name (in /run/netns)? */
bool spw_netns_exists(const char *name);

/*
 * The address of one end as a socket address with port (host order), for family AF_INET or
 * AF_INET6. Returns the length to pass to bind/connect, or a negative errno.
 */
int spw_topo_sockaddr(const struct spw_topo *t, enum spw_topo_side side, int family, uint16_t port,
		      struct sockaddr_storage *ss);

/* Adds cidr ("198.18.1.3/32") to side's veth: another source address for the clients. */
int spw_topo_addr_add(const struct spw_topo *t, enum spw_topo_side side, const char *cidr);

/*
 * Names this process's topologies "<prefix>-srv-<pid>-<n>" instead of "spw-srv-...": a program
 * whose namespaces an operator should tell apart (the chaos runs use "ch"). Lowercase letters
 * only; call it before the first spw_topo_create().
 */
int spw_netns_set_prefix(const char *prefix);

/* Deletes every namespace this process created and has not deleted yet. Never fails. */
void spw_netns_cleanup_all(void);

/* Runs `ip ARGS...` (NULL-terminated, without "ip" itself) and waits: 0 when it exited 0. */
int spw_netns_ip(const char *const *args);

#endif /* SPW_TEST_NETNS_H */
