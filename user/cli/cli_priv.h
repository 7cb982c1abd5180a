/* SPDX-License-Identifier: GPL-2.0-only */
/* What the CLI's command files share at execution time (util.c): maps, state file, names. */
#ifndef SPW_CLI_PRIV_H
#define SPW_CLI_PRIV_H

#include <stdbool.h>
#include "cli.h"
#include "spillway_state.h"

/*
 * Opens the data plane pinned under req->pin_root. Refuses (with a message) when nothing is
 * pinned there, rather than creating maps as spw_dp_open() would for a daemon, and names the
 * privilege when the caller lacks it. programs: load the BPF programs too (attach needs them;
 * about a second of verifier CPU); otherwise only the pinned maps are opened (milliseconds).
 * Returns 0 or SPW_EXIT_FAIL.
 */
int cli_open_dp(const struct spw_cli_req *req, struct spw_dataplane **dp, bool programs);

/* The daemon's state folder: --state-dir, else the config's state_dir, else the default. */
void cli_state_dir(const struct spw_cli_req *req, char *buf, size_t len);

/* A consistent copy of the shed-state file (seqlock). 0, or -errno with a message printed. */
int cli_state_read(const struct spw_cli_req *req, struct spw_state_file *st);
/* The same; say false: nothing printed (a reader that does without the state file). */
int cli_state_read_opt(const struct spw_cli_req *req, struct spw_state_file *st, bool say);

/* Service id and tier count of SERVICE, from the state file. 0 or SPW_EXIT_FAIL (printed). */
int cli_service_id(const struct spw_state_file *st, const char *name, uint32_t *id,
		   const struct spw_state_service **svc);
/* Tier index of a tier name (exact, or a number), -1 with a message when unknown. */
int cli_tier_index(const struct spw_state_file *st, const char *name);

/* Prints "spillway: what: strerror" naming the privilege for EPERM/EACCES. */
void cli_dp_error(const struct spw_cli_req *req, const char *what, int err);

#endif /* SPW_CLI_PRIV_H */
