// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket: STATE_DIR/control.sock, a unix stream socket only root may use (mode
 * 0600), for actions the daemon owns. A client sends one line and gets its answer, the
 * connection then closed: "reload" answers one line, "ok: N services", "partial: ..." or
 * "error: FILE:LINE:COL: ..." (the running config then kept); "diff [PATH]" answers a line
 * per change a reload of PATH (default: the daemon's config file) would make, then "ok: N
 * changes ..." or the file's error, and applies nothing.
 *
 * Clients are served from the event loop, a reload being serialised with the tick anyway; but
 * a client is never waited for: each connection is non-blocking in the loop's epoll, its line
 * gathered as it arrives, and one that has not sent it within CONTROL_IO_TIMEOUT_NS is closed
 * at the next tick. A client that connects and stalls so costs the loop nothing (a blocking
 * read held ticks and SIGTERM for the whole timeout).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "spw_config.h"
#include "spwd.h"
#include "spw_log.h"

/* A client that has not sent its line by then is closed. */
#define CONTROL_IO_TIMEOUT_NS (500 * 1000000ULL)
/* The longest answer: a diff's lines (the socket buffer takes it in one send). */
#define CONTROL_ANSWER_MAX (48 * 1024)
/* Connections waiting to be accepted. */
#define CONTROL_BACKLOG 8

int spwd_control_open(struct spwd *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old_mask;
	int fd, err;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", d->cfg->state_dir,
			     SPW_CONTROL_SOCK_NAME) >= sizeof(sa.sun_path)) {
		pr_warn("control socket path under %s is too long\n", d->cfg->state_dir);
		return -ENAMETOOLONG;
	}
	/* World-searchable: the shed-state file beside it is for every app to read. */
	if (mkdir(d->cfg->state_dir, 0755) && errno != EEXIST) {
		err = -errno;
		pr_warn("cannot create %s: %s\n", d->cfg->state_dir, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a previous run (never unlinked on a crash) would block bind. */
	unlink(sa.sun_path);
	/* Created 0600 rather than chmod'ed after: no window in which others may connect. */
	old_mask = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old_mask);
	if (!err && listen(fd, CONTROL_BACKLOG))
		err = -errno;
	if (err) {
		pr_warn("cannot listen on the control socket %s: %s\n", sa.sun_path,
			strerror(-err));
		close(fd);
		return err;
	}
	d->controlfd = fd;
	pr_info("control socket on %s\n", sa.sun_path);
	return 0;
}

static void conn_close(struct spwd *d, struct spwd_control_conn *cc)
{
	if (!cc->used)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, cc->fd, NULL);
	close(cc->fd);
	cc->used = false;
}

void spwd_control_close(struct spwd *d)
{
	int i;

	for (i = 0; i < SPWD_CONTROL_CONNS; i++)
		conn_close(d, &d->control_conns[i]);
	if (d->controlfd >= 0)
		close(d->controlfd);
	d->controlfd = -1;
}

static void answer(int fd, const char *line)
{
	size_t len = strlen(line);

	/* At most CONTROL_ANSWER_MAX into an empty socket buffer (a unix stream socket's is
	 * 200 KB): a non-blocking send takes it whole. MSG_NOSIGNAL: a client gone before
	 * the answer must not kill the daemon. */
	if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		pr_debug("control client left before the answer\n");
}

/* A multi-line answer, built before it is sent in one go. */
struct answer_buf {
	char text[CONTROL_ANSWER_MAX];
	size_t len;
	bool truncated;
};

static void add_line(void *ctx, const char *line)
{
	struct answer_buf *b = ctx;
	size_t n = strlen(line);

	/* Room kept for the last line, which says how it went. */
	if (b->len + n + 1 > sizeof(b->text) - SPW_ERR_MAX) {
		b->truncated = true;
		return;
	}
	memcpy(b->text + b->len, line, n);
	b->text[b->len + n] = '\n';
	b->len += n + 1;
}

/*
 * "diff [PATH]": what a reload of PATH (default: the daemon's own config file) would change
 * against the running config, one line each, then "ok: N changes (nothing applied)" or the
 * file's error. Nothing is applied.
 */
static void run_diff(struct spwd *d, int fd, const char *path)
{
	static struct answer_buf b; /* one loop thread; too big for its stack */
	struct spw_config *cfg;
	char err[SPW_ERR_MAX];
	int n;

	b.len = 0;
	b.truncated = false;
	if (!*path)
		path = d->config_path;
	if (spw_config_load(path, &cfg, err, sizeof(err))) {
		snprintf(b.text, sizeof(b.text), "error: %s\n", err);
		answer(fd, b.text);
		return;
	}
	n = spw_config_diff(d->cfg, cfg, add_line, &b);
	spw_config_free(cfg);
	if (b.truncated)
		add_line(&b, "... (more changes than one answer holds)");
	snprintf(b.text + b.len, sizeof(b.text) - b.len,
		 n < 0 ? "error: out of memory\n" : "ok: %d changes from %s (nothing applied)\n", n,
		 path);
	answer(fd, b.text);
}

static void run_command(struct spwd *d, int fd, const char *line)
{
	char err[SPW_ERR_MAX], kept[SPW_ERR_MAX], out[2 * SPW_ERR_MAX + 32];

	if (!strcmp(line, "diff") || !strncmp(line, "diff ", 5)) {
		run_diff(d, fd, line[4] ? line + 5 : "");
		return;
	}

	if (!strcmp(line, "reload")) {
		err[0] = kept[0] = '\0';
		if (spwd_reload(d, err, sizeof(err), kept, sizeof(kept)))
			snprintf(out, sizeof(out), "error: %s\n", err[0] ? err : "reload failed");
		else if (kept[0])
			snprintf(out, sizeof(out), "partial: %d services; %s\n", d->cfg->nservices,
				 kept);
		else
			snprintf(out, sizeof(out), "ok: %d services\n", d->cfg->nservices);
		answer(fd, out);
		return;
	}
	snprintf(out, sizeof(out), "error: unknown command '%.64s' (reload, diff [PATH])\n", line);
	answer(fd, out);
}

/* Reads what the client sent so far; runs its command once the line is whole. */
void spwd_control_conn_ready(struct spwd *d, int slot)
{
	struct spwd_control_conn *cc;
	char *nl;
	ssize_t n;

	if (slot < 0 || slot >= SPWD_CONTROL_CONNS || !d->control_conns[slot].used)
		return;
	cc = &d->control_conns[slot];
	n = read(cc->fd, cc->buf + cc->got, sizeof(cc->buf) - 1 - cc->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		cc->got += (size_t)n;
	cc->buf[cc->got] = '\0';
	nl = memchr(cc->buf, '\n', cc->got);
	if (nl) {
		*nl = '\0';
		cc->buf[strcspn(cc->buf, "\r")] = '\0';
		run_command(d, cc->fd, cc->buf);
	} else if (cc->got == sizeof(cc->buf) - 1 || n <= 0) {
		/* Longer than any command, or the client closed before the end of its line. */
		answer(cc->fd, "error: expected one command line\n");
	} else {
		return;
	}
	conn_close(d, cc);
}

void spwd_control_serve(struct spwd *d)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct spwd_control_conn *cc;
	int fd, i;

	/* Every connection waiting now; the listening socket is non-blocking. */
	while ((fd = accept4(d->controlfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		for (i = 0; i < SPWD_CONTROL_CONNS && d->control_conns[i].used; i++)
			;
		if (i == SPWD_CONTROL_CONNS) {
			answer(fd, "error: busy: too many control clients at once\n");
			close(fd);
			continue;
		}
		cc = &d->control_conns[i];
		ev.data.u64 = SPWD_EV_CONTROL_CONN + (uint64_t)i;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			pr_warn("cannot watch a control client: %s\n", strerror(errno));
			close(fd);
			continue;
		}
		cc->fd = fd;
		cc->used = true;
		cc->got = 0;
		cc->since_ns = spw_now_ns();
	}
}

void spwd_control_expire(struct spwd *d, uint64_t now)
{
	int i;

	for (i = 0; i < SPWD_CONTROL_CONNS; i++) {
		struct spwd_control_conn *cc = &d->control_conns[i];

		if (cc->used && now - cc->since_ns >= CONTROL_IO_TIMEOUT_NS) {
			answer(cc->fd, "error: expected one command line\n");
			conn_close(d, cc);
		}
	}
}
