// SPDX-License-Identifier: GPL-2.0-only
/* Running other programs from a test (see cmd.h). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cmd.h"

extern char **environ;

static void show(const char *const *argv)
{
	fputs("+", stderr);
	for (int i = 0; argv[i]; i++)
		fprintf(stderr, " %s", argv[i]);
	fputc('\n', stderr);
	fflush(NULL);
}

static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -ECHILD;
}

/* Spawns argv with stdin from /dev/null and, when out_fd >= 0, stdout and stderr to it. */
static int spawn(const char *const *argv, int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int err;

	show(argv);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
		posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
	}
	/* No socket of the test may live on in what it starts (a daemon, podman's conmon). */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		fprintf(stderr, "cmd: cannot run %s: %s\n", argv[0], strerror(err));
	return -err;
}

static int wait_for(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status_of(st);
}

int spw_cmd_run(const char *const *argv)
{
	pid_t pid;
	int err = spawn(argv, -1, &pid);

	return err ? err : wait_for(pid);
}

int spw_cmd_capture(const char *const *argv, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int p[2], err, rc;
	pid_t pid;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC)) {
		free(buf);
		return -errno;
	}
	err = spawn(argv, p[1], &pid);
	close(p[1]);
	if (err) {
		close(p[0]);
		free(buf);
		return err;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *more = realloc(buf, cap * 2);

			if (!more)
				break; /* keep what fits; the status still says how it ended */
			buf = more;
			cap *= 2;
		}
		n = read(p[0], buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	buf[len] = '\0';
	rc = wait_for(pid);
	*out = buf;
	return rc;
}

/* sh -c LINE, captured into *out when out is not NULL. */
static int vsh(char **out, const char *fmt, va_list ap)
{
	char *line = NULL;
	int rc;

	if (vasprintf(&line, fmt, ap) < 0)
		return -ENOMEM;
	if (out)
		rc = spw_cmd_capture((const char *const[]){"sh", "-c", line, NULL}, out);
	else
		rc = spw_cmd_run((const char *const[]){"sh", "-c", line, NULL});
	free(line);
	return rc;
}

int spw_cmd_sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsh(NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int spw_cmd_sh_capture(char **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	*out = NULL;
	va_start(ap, fmt);
	rc = vsh(out, fmt, ap);
	va_end(ap);
	return rc;
}

int spw_cmd_exists(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
		if (access(buf, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

int spw_write_file(const char *path, const char *text)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), err = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) && !err)
		err = -errno;
	return err;
}
