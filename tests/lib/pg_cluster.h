/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A throwaway PostgreSQL cluster for tests: initdb into a folder of the test's own (trust
 * authentication, fsync off), started with pg_ctl with the options the test gives, in the
 * caller's network namespace or in a named one, and stopped with -m immediate.
 *
 * PostgreSQL refuses to run as root: a root test runs every PostgreSQL command as the
 * postgres user (runuser), and the cluster's folder is that user's. The commands' output
 * goes to DIR/pg/<command>.log, the server's to DIR/pg/server.log; a failing command names
 * its log on stderr. The unix socket is in DIR/pg, so spw_pg_conninfo() reaches the cluster
 * from any namespace.
 *
 * No libpq here: the tests that talk to the cluster link it themselves. Functions return 0 or
 * a negative errno (a command's failure is -EIO). Not thread-safe.
 */
#ifndef SPW_TEST_PG_CLUSTER_H
#define SPW_TEST_PG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include "netns.h"

/* The folder below the caller's (at most 63 characters) plus "/pg". */
#define SPW_PG_DIR_LEN 80

struct spw_pg {
	char dir[SPW_PG_DIR_LEN]; /* PARENT/pg: data/, the logs, the unix socket */
	char bin[256];		  /* /usr/lib/postgresql/<newest>/bin */
	bool as_postgres;	  /* root: every command through runuser -u postgres */
	bool started;
};

/*
 * Makes parent/pg (parent must exist and be searchable by the postgres user) and runs initdb
 * there: trust authentication for the unix socket and loopback, the superuser postgres.
 */
int spw_pg_create(struct spw_pg *pg, const char *parent);

/*
 * The same in a folder of its own: parent (at most 63 characters) is a mkdtemp() template
 * ("/tmp/spw-x-XXXXXX"), rewritten to the folder made; the cluster trusts TCP from the test
 * topologies' addresses (198.18.0.0/15). spw_pg_remove_temp() stops it and removes the folder.
 */
int spw_pg_create_temp(struct spw_pg *pg, char *parent);
void spw_pg_remove_temp(struct spw_pg *pg, const char *parent);

/* Appends line (and a newline) to the cluster's pg_hba.conf: read at the next start. */
int spw_pg_hba_add(struct spw_pg *pg, const char *line);

/*
 * pg_ctl start, waited for: the server's options are "-k DIR -c fsync=off" and then options
 * (for example "-c listen_addresses=10.0.0.1 -c max_connections=20"; no TCP unless it says
 * listen_addresses). ns: a named network namespace to run it in (ip netns exec), or NULL.
 */
int spw_pg_start(struct spw_pg *pg, const char *ns, const char *options);

/* pg_ctl stop -m immediate, when started. Never fails; idempotent. */
void spw_pg_stop(struct spw_pg *pg);

/* "host=DIR user=postgres dbname=postgres": the superuser over the unix socket. */
void spw_pg_conninfo(const struct spw_pg *pg, char *buf, size_t len);

#endif /* SPW_TEST_PG_CLUSTER_H */
