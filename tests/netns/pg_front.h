/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the netns tests of spillwayd in front of a real PostgreSQL share (test_learned_pg.c,
 * test_storm_pg.c): one throwaway cluster for the whole group (pg_cluster.h), and per test a
 * topology whose server namespace runs PostgreSQL on its address and spillwayd on its veth
 * (native XDP; an XDP program on the peer so the client's veth passes redirected frames), with
 * a second client address, .3 of the client's /24, for the sheddable tier.
 *
 * A test context begins with its struct pg_front: pg_front_group_setup() and
 * pg_front_group_teardown() make and remove the context and the cluster, pg_front_reset() and
 * pg_front_teardown() go in each test's setup and teardown, pg_front_start() where the test
 * builds its scene. The per-test functions fail the test (cmocka) on an error.
 */
#ifndef SPW_TEST_PG_FRONT_H
#define SPW_TEST_PG_FRONT_H

#include <arpa/inet.h>
#include "daemon.h"
#include "netns.h"
#include "pg_cluster.h"

struct empty_xdp;

struct pg_front {
	char dir[64]; /* the cluster's parent folder */
	struct spw_pg pg;
	struct spw_topo topo;
	struct spw_daemon d;
	struct empty_xdp *empty;	 /* the peer's XDP program */
	char shed_addr[INET_ADDRSTRLEN]; /* the sheddable client address */
};

/*
 * cmocka group setup: a zeroed test context of ctx_size bytes, whose first member is its struct
 * pg_front, in *state, and the group's cluster in a folder of its own made from dir_template
 * ("/tmp/spw-x-XXXXXX"). 0, or -1 (nothing left behind) when either could not be made.
 */
int pg_front_group_setup(void **state, size_t ctx_size, const char *dir_template);
/* cmocka group teardown: the cluster stopped, its folder and the context removed. */
int pg_front_group_teardown(void **state);

/* Before a test: nothing of a previous test's topology or daemon is left in f. */
void pg_front_reset(struct pg_front *f);

/*
 * The topology with the sheddable address, PostgreSQL started on the server's address and port
 * with pg_options after those ("-c max_connections=40"), and spillwayd initialised in the server
 * namespace, ready for spw_daemon_launch() with a config that names f->topo's interfaces.
 */
void pg_front_start(struct pg_front *f, int port, const char *pg_options);

/*
 * After a test: the daemon's log on stderr when it died (or SPW_TEST_LOGS is set), then
 * PostgreSQL, the daemon and the topology stopped and removed. The cluster stays.
 */
void pg_front_teardown(struct pg_front *f);

#endif /* SPW_TEST_PG_FRONT_H */
