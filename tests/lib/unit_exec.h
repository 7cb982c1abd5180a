/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A unit's service started the way systemd would start it, on a host without systemd as PID 1:
 * the command of ExecStart= with Environment=, NOTIFY_SOCKET pointing at a datagram socket the
 * test reads (only the main process's messages count, NotifyAccess=main), WATCHDOG_USEC from
 * WatchdogSec=, the capability bounding set of CapabilityBoundingSet= (as root without file
 * capabilities, the permitted set after exec is exactly that), NoNewPrivileges=,
 * SupplementaryGroups=, UMask= and RuntimeDirectory= (with its mode). Output goes to a log
 * file, as to the journal. ExecReload= commands run with $MAINPID.
 *
 * Not emulated, and left to a test under a real systemd: the file-system and kernel
 * sandboxing (ProtectSystem= and the like), seccomp filters, cgroups. A unit that sets what
 * would change who the process is or what it sees (User=, Group=, DynamicUser=,
 * EnvironmentFile=, WorkingDirectory=, RootDirectory=) is refused, so the emulation never
 * silently runs something other than what the unit says.
 *
 * The process runs in a network namespace (setns only, as tests/lib/daemon.h explains).
 */
#ifndef SPW_TEST_UNIT_EXEC_H
#define SPW_TEST_UNIT_EXEC_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "unitfile.h"

/* The last notifications kept, with the time each arrived. */
#define SPW_NOTIFY_KEEP 64
#define SPW_NOTIFY_LEN	512

struct spw_notify_msg {
	double at_ms; /* spw_now_ms() */
	char text[SPW_NOTIFY_LEN];
};

struct spw_notify_counts {
	unsigned int ready, watchdog, reloading, stopping, status;
	unsigned int foreign; /* datagrams from another process than the main one: ignored */
};

struct spw_unit_exec {
	struct spw_unit unit;
	char dir[64]; /* the notify socket's folder */
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int notify_fd;
	char log[PATH_MAX];
	char ns[64];
	pid_t pid;
	int status; /* wait status of the run that ended last */
	uint64_t watchdog_usec;
	struct spw_notify_counts n;
	struct spw_notify_msg msg[SPW_NOTIFY_KEEP]; /* a ring: the newest at (nmsg - 1) % KEEP */
	unsigned int nmsg;
	unsigned int cursor; /* the next message a wait looks at */
	char last_status[SPW_NOTIFY_LEN];
	double ready_ms, last_watchdog_ms;
};

/* Reads the unit file and makes the notify socket. 0 or a negative errno (said on stderr). */
int spw_unit_exec_init(struct spw_unit_exec *x, const char *unit_path, const char *ns,
		       const char *log_path);
/* Starts ExecStart=; the counts and messages of a previous run are cleared. */
int spw_unit_exec_start(struct spw_unit_exec *x);
/* Reads every notification that arrived. */
void spw_unit_exec_drain(struct spw_unit_exec *x);
/* Reads what arrived, and makes the next wait look only at what arrives after this. */
void spw_unit_exec_mark(struct spw_unit_exec *x);
/*
 * Waits up to timeout_ms for a notification holding the assignment want ("READY=1"): the
 * first after the previous wait's match (or the mark, or the start), so waits in a row find
 * messages in the order they came. 0, -ETIMEDOUT, or -ESRCH when the main process exited
 * first.
 */
int spw_unit_exec_wait(struct spw_unit_exec *x, const char *want, int timeout_ms);
/*
 * Runs each command of key (ExecReload=, ExecStop=) in order, as systemd does, with $MAINPID;
 * stops at the first that fails. Returns its status (0 when all succeeded).
 */
int spw_unit_exec_run(struct spw_unit_exec *x, const char *key);
/* Is the main process alive? Reaps it when it exited. */
bool spw_unit_exec_alive(struct spw_unit_exec *x);
/* SIGTERM, then up to timeout_ms for the exit (SIGKILL after): the exit status or -errno. */
int spw_unit_exec_stop(struct spw_unit_exec *x, int timeout_ms);
/* Kills what runs and removes the notify socket; the RuntimeDirectory stays, as under systemd. */
void spw_unit_exec_cleanup(struct spw_unit_exec *x);

#endif /* SPW_TEST_UNIT_EXEC_H */
