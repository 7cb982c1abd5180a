// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket: STATE_DIR/control.sock, a unix stream socket only root may use (mode
 * 0600), for actions the daemon owns. A client sends one line ("reload") and gets one line
 * back: "ok: N services" or "error: FILE:LINE:COL: ..." (the running config then kept), and
 * the connection is closed.
 *
 * Clients are served one at a time from the event loop, with a short I/O timeout: only root
 * can connect, and a reload must be serialised with the tick anyway, so a thread would buy
 * nothing but locking.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "spwd.h"
#include "spw_log.h"

/* Longest command line accepted. */
#define CONTROL_LINE_MAX 256
/* A client that connects and then stalls holds the loop at most this long. */
#define CONTROL_IO_TIMEOUT_MS 500
/* Connections waiting while one is served. */
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

void spwd_control_close(struct spwd *d)
{
	if (d->controlfd >= 0)
		close(d->controlfd);
	d->controlfd = -1;
}

/* Reads one line (without its newline) into buf; false when none came in time. */
static bool read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = '\0';
	if (!memchr(buf, '\n', got) && got == len - 1)
		return false; /* longer than any command */
	buf[strcspn(buf, "\r\n")] = '\0';
	return got > 0;
}

static void answer(int fd, const char *line)
{
	size_t len = strlen(line);

	/* MSG_NOSIGNAL: a client gone before the answer must not kill the daemon. */
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		pr_debug("control client left before the answer\n");
}

static void serve_one(struct spwd *d, int fd)
{
	struct timeval tv = {0, CONTROL_IO_TIMEOUT_MS * 1000};
	char line[CONTROL_LINE_MAX], err[SPW_ERR_MAX], out[SPW_ERR_MAX + 16];

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!read_line(fd, line, sizeof(line))) {
		answer(fd, "error: expected one command line\n");
		return;
	}
	if (!strcmp(line, "reload")) {
		err[0] = '\0';
		if (spwd_reload(d, err, sizeof(err)))
			snprintf(out, sizeof(out), "error: %s\n", err[0] ? err : "reload failed");
		else
			snprintf(out, sizeof(out), "ok: %d services\n", d->cfg->nservices);
		answer(fd, out);
		return;
	}
	snprintf(out, sizeof(out), "error: unknown command '%.64s' (reload)\n", line);
	answer(fd, out);
}

void spwd_control_serve(struct spwd *d)
{
	int fd;

	/* Every connection waiting now; the listening socket is non-blocking. */
	while ((fd = accept4(d->controlfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		serve_one(d, fd);
		close(fd);
	}
}
