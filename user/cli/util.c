// SPDX-License-Identifier: GPL-2.0-only
/* The CLI's execution helpers: opening the data plane, reading the shed-state file, names. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "cli_priv.h"
#include "spw_config.h"
#include "spw_strnum.h"

/* A reader racing a writer retries; past this many the writer is wedged, not busy. */
#define STATE_READ_TRIES 1000

void cli_dp_error(const struct spw_cli_req *req, const char *what, int err)
{
	if (err == -EPERM || err == -EACCES)
		fprintf(stderr,
			"spillway: %s: %s: the pinned maps under %s need root "
			"(CAP_BPF and CAP_SYS_ADMIN)\n",
			what, strerror(-err), req->pin_root);
	else
		fprintf(stderr, "spillway: %s: %s\n", what, strerror(-err));
}

int cli_open_dp(const struct spw_cli_req *req, struct spw_dataplane **dp, bool programs)
{
	struct spw_dp_opts o = {.pin_root = req->pin_root};
	int err;

	/*
	 * Probe one pinned map first: without privileges that fails with EPERM/EACCES, which
	 * names the real problem, and when nothing is pinned, spw_dp_open() would create a fresh
	 * set of maps nobody enforces, which is never what a CLI user means.
	 */
	err = spw_dp_pinned_probe(req->pin_root);
	if (err) {
		if (err == -ENOENT)
			fprintf(stderr,
				"spillway: no data plane pinned under %s (is spillwayd running? "
				"--pin-root names another)\n",
				req->pin_root);
		else
			cli_dp_error(req, "cannot open the pinned maps", err);
		return SPW_EXIT_FAIL;
	}
	/* Only attach needs the programs; loading them costs the verifier's second of CPU. */
	err = programs ? spw_dp_open(dp, &o) : spw_dp_open_pinned(dp, req->pin_root);
	if (err) {
		cli_dp_error(req, "cannot open the data plane", err);
		return SPW_EXIT_FAIL;
	}
	return 0;
}

void cli_state_dir(const struct spw_cli_req *req, char *buf, size_t len)
{
	struct spw_config *cfg;
	char err[SPW_ERR_MAX];

	snprintf(buf, len, "%s", req->state_dir);
	if (req->state_dir_set)
		return;
	/* The daemon publishes where its config says: follow it when the file is readable. */
	if (!access(req->config, R_OK) && !spw_config_load(req->config, &cfg, err, sizeof(err))) {
		if (cfg->state_dir[0])
			snprintf(buf, len, "%s", cfg->state_dir);
		spw_config_free(cfg);
	}
}

int cli_state_read(const struct spw_cli_req *req, struct spw_state_file *st)
{
	return cli_state_read_opt(req, st, true);
}

int cli_state_read_opt(const struct spw_cli_req *req, struct spw_state_file *st, bool say)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	const struct spw_state_file *map;
	struct stat sb;
	uint32_t seq;
	int fd, err, i;

	cli_state_dir(req, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, SPW_STATE_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (say)
			fprintf(stderr, "spillway: cannot read the shed state %s: %s%s\n", path,
				strerror(-err), err == -ENOENT ? " (is spillwayd running?)" : "");
		return err;
	}
	if (fstat(fd, &sb) || (size_t)sb.st_size < sizeof(*st)) {
		close(fd);
		if (say)
			fprintf(stderr, "spillway: %s is not a shed-state file of this version\n",
				path);
		return -EPROTO;
	}
	map = mmap(NULL, sizeof(*st), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		err = -errno;
		if (say)
			fprintf(stderr, "spillway: cannot map %s: %s\n", path, strerror(-err));
		return err;
	}
	err = -EAGAIN;
	for (i = 0; i < STATE_READ_TRIES; i++) {
		/* The seqlock of spillway_state.h: odd means a write is under way. */
		seq = __atomic_load_n(&map->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		memcpy(st, map, sizeof(*st));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&map->seq, __ATOMIC_RELAXED) == seq) {
			err = 0;
			break;
		}
	}
	munmap((void *)map, sizeof(*st));
	if (err) {
		if (say)
			fprintf(stderr, "spillway: %s changed under every read\n", path);
		return err;
	}
	if (st->magic != SPW_STATE_MAGIC || st->version != SPW_STATE_VERSION) {
		if (say)
			fprintf(stderr, "spillway: %s is not a shed-state file of this version\n",
				path);
		return -EPROTO;
	}
	if (st->nservices > SPW_STATE_SERVICES)
		st->nservices = SPW_STATE_SERVICES;
	if (st->ntiers > SPW_MAX_TIERS)
		st->ntiers = SPW_MAX_TIERS;
	if (st->nifaces > SPW_STATE_IFACES)
		st->nifaces = SPW_STATE_IFACES;
	return 0;
}

int cli_service_id(const struct spw_state_file *st, const char *name, uint32_t *id,
		   const struct spw_state_service **svc)
{
	uint32_t i;

	for (i = 0; i < st->nservices; i++) {
		if (!strncmp(st->services[i].name, name, sizeof(st->services[i].name))) {
			*id = st->services[i].id;
			if (svc)
				*svc = &st->services[i];
			return 0;
		}
	}
	fprintf(stderr, "spillway: no service named '%s' (spillway status lists them)\n", name);
	return SPW_EXIT_FAIL;
}

int cli_tier_index(const struct spw_state_file *st, const char *name)
{
	uint32_t i;

	for (i = 0; i < st->ntiers; i++) {
		if (!strncmp(st->tiers[i], name, sizeof(st->tiers[i])))
			return (int)i;
	}
	fprintf(stderr, "spillway: no tier named '%s' (tiers:", name);
	for (i = 0; i < st->ntiers; i++)
		fprintf(stderr, "%s %.*s", i ? "," : "", (int)sizeof(st->tiers[i]), st->tiers[i]);
	fprintf(stderr, ")\n");
	return -1;
}
