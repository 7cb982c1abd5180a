/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The netns tests' fixture: a client and a server namespace joined by a veth pair
 * (netns.h), a data plane under a pin root of its own (spw_fixture.h), spillway attached to the
 * server's veth in one mode, and in the XDP modes the empty XDP program on the client's veth,
 * without which XDP_TX (a reject) from the server's side never arrives.
 *
 * cmocka skips the teardown of a setup that failed, so a test's setup only allocates its
 * context, and the test builds the fixture (spw_nfx_open, spw_nfx_attach) where a failed
 * assertion still reaches the teardown. spw_nfx_close() undoes whatever was built, also half
 * of it. Functions return 0 or a negative errno and say on stderr what failed.
 */
#ifndef SPW_TEST_NFX_H
#define SPW_TEST_NFX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "netns.h"
#include "spw_dataplane.h"
#include "spw_fixture.h"

struct empty_xdp;

struct spw_nfx {
	enum spw_attach_mode mode;
	struct spw_topo topo;
	struct spw_fixture fx;
	bool fx_open;
	struct spw_dataplane *dp; /* fx.dp once open */
	bool attached;
	struct empty_xdp *empty; /* on the client's veth, XDP modes only */
};

/* The topology and the data plane (opts may be NULL); mode is what spw_nfx_attach() uses. */
int spw_nfx_open(struct spw_nfx *n, enum spw_attach_mode mode, const struct spw_dp_opts *opts);
/* spillway on the server's veth in n->mode; in the XDP modes the empty program on the client's. */
int spw_nfx_attach(struct spw_nfx *n);
/*
 * Detaches, closes the data plane, deletes the namespaces, then checks that none of them and
 * no pin is left: 0, or -1 with what is left said on stderr. Safe on a zeroed fixture.
 */
int spw_nfx_close(struct spw_nfx *n);

/* "tc" or "xdp": the tag of a failure message. */
const char *spw_nfx_mode_name(const struct spw_nfx *n);
/* A socket inside side's namespace: the fd or a negative errno. */
int spw_nfx_socket(const struct spw_nfx *n, enum spw_topo_side side, int family, int type);
/* side's address of family with port: the length for bind/connect, or a negative errno. */
int spw_nfx_addr(const struct spw_nfx *n, enum spw_topo_side side, int family, uint16_t port,
		 struct sockaddr_storage *ss);
/* The client's own address of family in the data plane's 16-byte form. */
int spw_nfx_client_addr16(const struct spw_nfx *n, int family, uint8_t addr[SPW_ADDR_LEN]);
/* A CIDR rule putting the client's own address of family into tier. */
int spw_nfx_client_rule(struct spw_nfx *n, int family, uint8_t tier, uint32_t rule_id);
/* A service on (proto, port), any local address. */
int spw_nfx_service(struct spw_nfx *n, uint8_t proto, uint16_t port, uint32_t svc_id);

#endif /* SPW_TEST_NFX_H */
