// SPDX-License-Identifier: GPL-2.0-only
/*
 * The app report socket: unix datagrams, one line each. A bad line is counted and logged at
 * most once a second (with how many were suppressed), never fatal, and changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "spwd.h"
#include "spw_log.h"
#include "spw_report.h"

#define SPWD_BAD_LOG_EVERY_NS 1000000000ULL
/*
 * Datagrams taken per loop turn. A sender faster than the daemon keeps the socket readable
 * for ever: draining to EAGAIN would then never return to epoll, and the tick, signals and
 * the control socket would wait behind it (the lease runs out, SIGTERM goes unanswered). The
 * socket is level-triggered, so what is left is taken in the next turn, after the rest.
 * About a millisecond of work at a few microseconds a line.
 */
#define SPWD_REPORTS_PER_TURN 256
/*
 * A report not renewed for this many stale_after periods is removed: its signal went stale
 * long before (the signal keeps its own last value and age, so nothing reads it as zero), and
 * names an app stopped reporting (a renamed pool, random names) would otherwise hold places
 * of the map for ever and, once it is full, keep every new name out. Checked once a second.
 */
#define SPWD_REPORT_EXPIRE_STALE    10
#define SPWD_REPORT_EXPIRE_EVERY_NS 1000000000ULL

static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	/* World-searchable: apps in the report group must reach the socket inside. */
	if (mkdir(dirname(dir), 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int spwd_report_open(struct spwd *d)
{
	const char *path = d->cfg->report_socket;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct group *gr;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	err = make_parent(path);
	if (err) {
		pr_warn("cannot create the folder of %s: %s\n", path, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a previous run (we never unlink on a crash) would block bind. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		pr_warn("cannot bind the report socket %s: %s\n", path, strerror(-err));
		close(fd);
		return err;
	}
	if (d->cfg->report_group[0]) {
		gr = getgrnam(d->cfg->report_group);
		if (!gr)
			pr_warn("report group %s does not exist; the socket stays root's\n",
				d->cfg->report_group);
		else if (chown(path, 0, gr->gr_gid))
			pr_warn("cannot give %s to group %s: %s\n", path, d->cfg->report_group,
				strerror(errno));
	}
	chmod(path, 0660);
	d->reportfd = fd;
	pr_info("listening for reports on %s\n", path);
	return 0;
}

void spwd_report_close(struct spwd *d)
{
	if (d->reportfd >= 0)
		close(d->reportfd);
	d->reportfd = -1;
}

int spwd_report_line(struct spwd *d, const char *line, size_t len)
{
	struct spw_report_key key;
	struct spw_report val;
	char err[256];
	uint64_t now = spw_now_ns();
	int ret;

	ret = spw_report_parse(line, len, &key, &val, err, sizeof(err));
	if (!ret) {
		val.updated_ns = now;
		ret = spw_dp_report_set(d->dp, &key, &val);
		if (ret)
			snprintf(err, sizeof(err), "cannot store it: %s", strerror(-ret));
	}
	if (!ret) {
		d->reports_ok++;
		spwd_report_arrived(d, (enum spw_report_kind)key.kind, key.name);
		return 0;
	}
	d->reports_bad++;
	if (now - d->bad_logged_ns >= SPWD_BAD_LOG_EVERY_NS) {
		pr_warn("report refused: %s (%llu more refused since the last message)\n", err,
			(unsigned long long)d->bad_suppressed);
		d->bad_logged_ns = now;
		d->bad_suppressed = 0;
	} else {
		d->bad_suppressed++;
	}
	return -EINVAL;
}

void spwd_report_drain(struct spwd *d)
{
	char buf[SPW_REPORT_LINE_MAX + 1];
	ssize_t n;
	int i;

	for (i = 0; i < SPWD_REPORTS_PER_TURN; i++) {
		/* One byte more than a line may have: a longer datagram is seen as too long. */
		n = recv(d->reportfd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0)
			return; /* EAGAIN: drained; anything else: try again next wakeup */
		spwd_report_line(d, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n);
	}
}

struct expire_walk {
	uint64_t older_than_ns;
	struct spw_report_key keys[SPW_MAX_REPORTS];
	int n;
};

static int collect_expired(const struct spw_report_key *key, const struct spw_report *val,
			   void *ctx)
{
	struct expire_walk *w = ctx;

	if (val->updated_ns < w->older_than_ns && w->n < SPW_MAX_REPORTS)
		w->keys[w->n++] = *key;
	return 0;
}

void spwd_reports_expire(struct spwd *d, uint64_t now)
{
	uint64_t ttl = SPWD_REPORT_EXPIRE_STALE * d->cfg->controller.stale_after_ns;
	static struct expire_walk w; /* one loop thread; too big for its stack */
	int i;

	if (now - d->reports_expired_ns < SPWD_REPORT_EXPIRE_EVERY_NS || now < ttl)
		return;
	d->reports_expired_ns = now;
	/* Collected first, deleted after: a delete during the key walk could restart it. */
	w.older_than_ns = now - ttl;
	w.n = 0;
	spw_dp_reports_foreach(d->dp, collect_expired, &w);
	for (i = 0; i < w.n; i++)
		spw_dp_report_del(d->dp, &w.keys[i]);
	if (w.n)
		pr_debug("%d reports expired (not renewed for %llu ms)\n", w.n,
			 (unsigned long long)(ttl / 1000000));
}
