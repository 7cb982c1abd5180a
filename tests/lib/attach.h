/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Attaching programs to a topology's veths. Netlink resolves ifindexes in the calling thread's
 * namespace, so each of these runs inside the end's namespace (spw_netns_run). 0 or a negative
 * errno.
 */
#ifndef SPW_TEST_ATTACH_H
#define SPW_TEST_ATTACH_H

#include <bpf/libbpf.h>
#include "netns.h"
#include "spw_dataplane.h"

/* The data plane on the server's veth, in mode. */
int spw_topo_attach(const struct spw_topo *t, struct spw_dataplane *dp, enum spw_attach_mode mode);
int spw_topo_detach(const struct spw_topo *t, struct spw_dataplane *dp);

/*
 * An XDP program on side's veth; *link gets the link (store it in the skeleton's links to have
 * it destroyed with the skeleton). The trivial XDP_PASS on the client's veth is what lets
 * XDP_TX from the server's arrive: a veth drops XDP frames its peer has no XDP program for.
 */
int spw_topo_attach_xdp(const struct spw_topo *t, enum spw_topo_side side,
			const struct bpf_program *prog, struct bpf_link **link);

struct empty_xdp;
/*
 * Loads the empty XDP program and attaches it to the client's veth: what a reject of the
 * server side's XDP needs to arrive. *empty (destroyed with empty_xdp__destroy) is set even
 * when the attach fails, so the caller's cleanup frees it.
 */
int spw_topo_peer_xdp(const struct spw_topo *t, struct empty_xdp **empty);

#endif /* SPW_TEST_ATTACH_H */
