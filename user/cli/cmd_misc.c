// SPDX-License-Identifier: GPL-2.0-only
/* spillway report, config check|diff, reload, version. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "cli_priv.h"
#include "spw_config.h"

/* How long `reload` waits for the daemon's answer: a reload re-applies every map. */
#define RELOAD_TIMEOUT_S 10
/* The daemon's longest answer (a diff's lines), with room to spare. */
#define ANSWER_MAX (64 * 1024)

/*
 * Where to send: --socket, else the report.socket of the config (one named with --config must
 * be read: a typo must not send the line to another daemon's socket), else the default's.
 */
static int report_socket(const struct spw_cli_req *req, char *buf, size_t len)
{
	struct spw_config *cfg;
	char err[SPW_ERR_MAX];

	if (req->socket) {
		snprintf(buf, len, "%s", req->socket);
		return 0;
	}
	if (req->config_set || !access(req->config, R_OK)) {
		if (spw_config_load(req->config, &cfg, err, sizeof(err))) {
			fprintf(stderr, "spillway: %s\n", err);
			return -EINVAL;
		}
		snprintf(buf, len, "%s", cfg->report_socket);
		spw_config_free(cfg);
		return 0;
	}
	/* A config parsed from nothing carries the defaults. */
	if (!spw_config_parse("defaults", "{}", 2, &cfg, err, sizeof(err))) {
		snprintf(buf, len, "%s", cfg->report_socket);
		spw_config_free(cfg);
		return 0;
	}
	snprintf(buf, len, "%s", SPW_REPORT_SOCKET);
	return 0;
}

int spw_cmd_report(const struct spw_cli_req *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[sizeof(sa.sun_path) + 1];
	size_t len = strlen(req->report_line);
	int fd;

	if (report_socket(req, path, sizeof(path)))
		return SPW_EXIT_FAIL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "spillway: report socket path %s is too long\n", path);
		return SPW_EXIT_FAIL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, req->report_line, len, 0, (struct sockaddr *)&sa, sizeof(sa)) !=
			  (ssize_t)len) {
		fprintf(stderr, "spillway: cannot send the report to %s: %s%s\n", path,
			strerror(errno),
			errno == EACCES ? " (the socket is for root and the config's report group)"
			: errno == ENOENT || errno == ECONNREFUSED ? " (is spillwayd running?)"
								   : "");
		if (fd >= 0)
			close(fd);
		return SPW_EXIT_FAIL;
	}
	close(fd);
	printf("sent: %s\n", req->report_line);
	return SPW_EXIT_OK;
}

/* Advice does not fail the check: the file is valid and would apply as it is. */
static void print_advice(void *ctx, const char *advice)
{
	(void)ctx;
	fprintf(stderr, "warning: %s\n", advice);
}

/*
 * Sends one command line to spillwayd's control socket and prints its answer: every line but
 * the last on stdout; the last ("ok: ...", "partial: ...", "error: ...") on stdout when it
 * starts with "ok", else on stderr. Returns the exit code.
 */
static int control_request(const struct spw_cli_req *req, const char *line)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = RELOAD_TIMEOUT_S};
	char dir[PATH_MAX], *answer, *last;
	size_t got = 0, len = strlen(line);
	ssize_t n;
	int fd, ret;

	cli_state_dir(req, dir, sizeof(dir));
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
			     SPW_CONTROL_SOCK_NAME) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "spillway: control socket path under %s is too long\n", dir);
		return SPW_EXIT_FAIL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, line, len) != (ssize_t)len) {
		fprintf(stderr, "spillway: cannot reach spillwayd at %s: %s%s\n", sa.sun_path,
			strerror(errno),
			errno == EACCES ? " (the control socket is root's)"
			: errno == ENOENT || errno == ECONNREFUSED ? " (is spillwayd running?)"
								   : "");
		if (fd >= 0)
			close(fd);
		return SPW_EXIT_FAIL;
	}
	answer = malloc(ANSWER_MAX);
	if (!answer) {
		close(fd);
		fprintf(stderr, "spillway: out of memory\n");
		return SPW_EXIT_FAIL;
	}
	/* The daemon closes the connection after its answer: read to the end. */
	while (got < ANSWER_MAX - 1 && (n = read(fd, answer + got, ANSWER_MAX - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	answer[got] = '\0';
	if (!got) {
		free(answer);
		fprintf(stderr, "spillway: spillwayd did not answer within %d s\n",
			RELOAD_TIMEOUT_S);
		return SPW_EXIT_FAIL;
	}
	while (got && answer[got - 1] == '\n')
		answer[--got] = '\0';
	last = strrchr(answer, '\n');
	last = last ? last + 1 : answer;
	fwrite(answer, 1, (size_t)(last - answer), stdout);
	ret = strncmp(last, "ok", 2) ? SPW_EXIT_FAIL : SPW_EXIT_OK;
	fprintf(ret ? stderr : stdout, "%s\n", last);
	free(answer);
	return ret;
}

int spw_cmd_config(const struct spw_cli_req *req)
{
	char path[PATH_MAX], line[SPW_CONTROL_LINE_MAX];
	struct spw_config *cfg;
	char err[SPW_ERR_MAX];

	if (req->config_op == SPW_CONFIG_DIFF) {
		/* The daemon reads the file: name it as it does, from the root. */
		if (!realpath(req->file, path)) {
			fprintf(stderr, "spillway: %s: %s\n", req->file, strerror(errno));
			return SPW_EXIT_FAIL;
		}
		if ((size_t)snprintf(line, sizeof(line), "diff %s\n", path) >= sizeof(line)) {
			fprintf(stderr, "spillway: %s: a path longer than %d bytes\n", path,
				SPW_CONTROL_LINE_MAX - 7);
			return SPW_EXIT_FAIL;
		}
		return control_request(req, line);
	}
	if (spw_config_load(req->file, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return SPW_EXIT_FAIL;
	}
	printf("%s: ok: %d services, %d tiers, %d rules, %d interfaces\n", req->file,
	       cfg->nservices, cfg->ntiers, cfg->nrules, cfg->nifaces);
	spw_config_advise(cfg, print_advice, NULL);
	spw_config_free(cfg);
	return SPW_EXIT_OK;
}

int spw_cmd_reload(const struct spw_cli_req *req)
{
	/* --dry-run: the file the daemon would read, checked and compared, nothing applied. */
	return control_request(req, req->dry_run ? "diff\n" : "reload\n");
}

int spw_cmd_version(const struct spw_cli_req *req)
{
	(void)req;
	printf("spillway %s (ABI %d)\n", SPW_VERSION, SPW_ABI_VERSION);
	return SPW_EXIT_OK;
}
