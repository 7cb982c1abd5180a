/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scene of the netns tests that drive one spillwayd through its CLI for a whole group
 * (test_cli.c, test_exempt.c): a topology with the peer's XDP program on the client's veth (so
 * it passes the frames spillway sends back), an IPv4 listener on the service's port in the
 * server namespace, the daemon's handle, the connections a test keeps open, and the path of
 * the spillway CLI. The test initialises the daemon with the config it needs.
 */
#ifndef SPW_TEST_DAEMON_SCENE_H
#define SPW_TEST_DAEMON_SCENE_H

#include <stdint.h>
#include "daemon.h"
#include "netns.h"
#include "sockets.h"

struct empty_xdp;

struct daemon_scene {
	struct spw_topo topo;
	struct spw_daemon d;
	struct empty_xdp *empty; /* the peer's XDP program */
	int listen_fd;		 /* IPv4, in the server namespace */
	struct spw_fds fds;	 /* connections kept open, closed by the teardowns */
	char cli[4096];		 /* build/spillway */
};

/*
 * cmocka group setup, first part: a zeroed test context of ctx_size bytes, whose first member
 * is its struct daemon_scene, in *state; the CLI found, the topology made, the peer's program
 * attached, a listener on port. 0, or -1 (nothing left behind, *state NULL).
 */
int daemon_scene_group_setup(void **state, size_t ctx_size, uint16_t port);
/*
 * cmocka group teardown: the kept connections closed, the daemon finished
 * (spw_daemon_finish()), the listener, the peer's program, the topology and the context removed.
 */
int daemon_scene_group_teardown(void **state);

#endif /* SPW_TEST_DAEMON_SCENE_H */
