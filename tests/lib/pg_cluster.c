// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "pg_cluster.h"
#include "util.h"

/* Runs the shell line fmt as PostgreSQL's user when root, its output into DIR/<what>.log. */
static int pg_run(struct spw_pg *pg, const char *what, const char *prefix, const char *fmt, ...)
{
	char cmd[1024], line[1400];
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof(line), "%s%s%s >>'%s/%s.log' 2>&1", prefix,
		     pg->as_postgres ? "runuser -u postgres -- " : "", cmd, pg->dir, what);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	rc = system(line);
	if (rc) {
		fprintf(stderr, "pg: %s failed (%d): %s (see %s/%s.log)\n", what, rc, cmd, pg->dir,
			what);
		return -EIO;
	}
	return 0;
}

/* The newest major version installed: it sorts last once it has as many digits. */
static int find_bin(struct spw_pg *pg)
{
	glob_t g;

	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g)) {
		fprintf(stderr, "pg: no /usr/lib/postgresql/*/bin/initdb (apt-get install "
				"postgresql)\n");
		return -ENOENT;
	}
	snprintf(pg->bin, sizeof(pg->bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
	*strrchr(pg->bin, '/') = '\0';
	globfree(&g);
	return 0;
}

int spw_pg_create(struct spw_pg *pg, const char *parent)
{
	struct passwd *pw;
	int n, err;

	memset(pg, 0, sizeof(*pg));
	n = snprintf(pg->dir, sizeof(pg->dir), "%s/pg", parent);
	if (n < 0 || (size_t)n >= sizeof(pg->dir))
		return -ENAMETOOLONG;
	err = find_bin(pg);
	if (err)
		return err;
	if (mkdir(pg->dir, 0700)) {
		err = -errno;
		fprintf(stderr, "pg: cannot make %s: %s\n", pg->dir, strerror(errno));
		return err;
	}
	pg->as_postgres = geteuid() == 0;
	if (pg->as_postgres) {
		pw = getpwnam("postgres");
		if (!pw) {
			fprintf(stderr, "pg: running as root needs the postgres user (apt-get "
					"install postgresql)\n");
			return -ENOENT;
		}
		if (chown(pg->dir, pw->pw_uid, pw->pw_gid)) {
			err = -errno;
			fprintf(stderr, "pg: cannot give %s to postgres: %s\n", pg->dir,
				strerror(errno));
			return err;
		}
	}
	return pg_run(pg, "initdb", "", "'%s/initdb' -D '%s/data' --auth=trust -U postgres",
		      pg->bin, pg->dir);
}

int spw_pg_hba_add(struct spw_pg *pg, const char *line)
{
	char path[SPW_PG_DIR_LEN + 32];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/data/pg_hba.conf", pg->dir);
	f = fopen(path, "a");
	if (!f || fprintf(f, "%s\n", line) < 0)
		err = -errno;
	if (f && fclose(f) && !err)
		err = -errno;
	if (err)
		fprintf(stderr, "pg: cannot append to %s: %s\n", path, strerror(-err));
	return err;
}

int spw_pg_start(struct spw_pg *pg, const char *ns, const char *options)
{
	char prefix[SPW_NETNS_NAME_LEN + 24] = "";
	int err;

	if (ns)
		snprintf(prefix, sizeof(prefix), "ip netns exec '%s' ", ns);
	err = pg_run(pg, "pg_ctl", prefix,
		     "'%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t 30 -o "
		     "\"-k '%s' -c fsync=off %s\" start",
		     pg->bin, pg->dir, pg->dir, pg->dir, options);
	if (err)
		return err;
	pg->started = true;
	return 0;
}

void spw_pg_stop(struct spw_pg *pg)
{
	/* pg_ctl stop only signals the postmaster (by the pid in its file): any namespace. */
	if (pg->started)
		pg_run(pg, "pg_ctl", "", "'%s/pg_ctl' -D '%s/data' -m immediate -w -t 30 stop",
		       pg->bin, pg->dir);
	pg->started = false;
}

void spw_pg_conninfo(const struct spw_pg *pg, char *buf, size_t len)
{
	snprintf(buf, len, "host=%s user=postgres dbname=postgres", pg->dir);
}

int spw_pg_create_temp(struct spw_pg *pg, char *parent)
{
	int err;

	if (!mkdtemp(parent) || chmod(parent, 0755)) {
		err = -errno;
		fprintf(stderr, "pg: cannot make %s: %s\n", parent, strerror(errno));
		return err;
	}
	err = spw_pg_create(pg, parent);
	return err ? err : spw_pg_hba_add(pg, "host all all 198.18.0.0/15 trust");
}

void spw_pg_remove_temp(struct spw_pg *pg, const char *parent)
{
	spw_pg_stop(pg);
	spw_rm_tree(parent);
}
