/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The real spillwayd, run by a test: in a network namespace of the test's own, with a config
 * written from a string, its own pin root, report socket and state folder, and its stderr in a
 * file the test reads back.
 *
 * Each spw_daemon owns
 *   - a private folder /tmp/spw-dtest-<pid>-<n>-XXXXXX: the config, the log, the report socket
 *     and the state_dir;
 *   - a pin root /sys/fs/bpf/spw-dtest-<pid>-<n>, so runs never share maps with each other, with
 *     the BPF fixture (spw-test-*) or with a spillway installed on the host.
 * The daemon enters the namespace with setns(CLONE_NEWNET) between fork and exec and nothing
 * else: `ip netns exec` would also remount /sys in a private mount namespace, the daemon would
 * mount a bpffs of its own there, and its pins would be invisible to the test.
 *
 * Cleanup always runs: spw_daemon_cleanup() kills the daemon, unpins everything under the pin
 * root and removes the folder; the same runs at exit for daemons left behind, the daemon gets
 * SIGKILL when the test process dies (PR_SET_PDEATHSIG), and the next run removes pin roots
 * and folders of test processes that are gone.
 *
 * Functions return 0 (or a non-negative value) or a negative errno and print what failed on
 * stderr. Not thread-safe.
 */
#ifndef SPW_TEST_DAEMON_H
#define SPW_TEST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "netns.h"
#include "spw_dataplane.h"

/* Pin roots: this prefix, the pid, a per-process counter. */
#define SPW_DAEMON_PIN_PREFIX "/sys/fs/bpf/spw-dtest-"
/* Private folders: this prefix, the pid, the counter, then mkdtemp's six characters. */
#define SPW_DAEMON_DIR_PREFIX "/tmp/spw-dtest-"
/*
 * Paths under the folder: its own 40-odd characters plus a short file name. The report socket
 * must also fit a sockaddr_un (108 bytes), which this leaves room for.
 */
#define SPW_DAEMON_PATH_LEN 96
/* "127.0.0.1:" and a port. */
#define SPW_DAEMON_LISTEN_LEN 32
/*
 * Where the exporter listens inside the daemon's namespace. A namespace of the test's own has
 * every port free, so a fixed one is as good as a searched one.
 */
#define SPW_DAEMON_METRICS_PORT 9478

struct spw_daemon {
	char ns[SPW_NETNS_NAME_LEN]; /* the network namespace it runs in */
	char dir[SPW_DAEMON_PATH_LEN];
	char config[SPW_DAEMON_PATH_LEN];      /* dir/spillway.yaml */
	char log[SPW_DAEMON_PATH_LEN];	       /* dir/spillwayd.log: stdout and stderr, all runs */
	char report_sock[SPW_DAEMON_PATH_LEN]; /* dir/report.sock */
	char pin_root[SPW_DAEMON_PATH_LEN];
	char metrics[SPW_DAEMON_LISTEN_LEN]; /* "127.0.0.1:9478", or "" when off; the HTTP
						readers connect to its port */
	pid_t pid;			     /* 0 when not running */
	int status;			     /* wait status of the last run that ended */
	long run_start;			     /* log offset where the current run's output begins */
	long mark;			     /* log offset of spw_daemon_log_mark() */
	int report_fd;			     /* the test's end: an unbound unix datagram socket */
	struct spw_dataplane *dp; /* the daemon's maps, opened by the test once they exist */
	bool quiet;		  /* start it without -v: the benchmark times it as deployed */
	bool inited;
	struct spw_daemon *next_open; /* the exit backstop's list */
};

/*
 * Prepares d to run in namespace ns: makes the folder, picks the pin root. metrics: whether the
 * exporter listens (on 127.0.0.1:SPW_DAEMON_METRICS_PORT inside ns) or is off. d is zeroed
 * first. Nothing runs yet.
 */
int spw_daemon_init(struct spw_daemon *d, const char *ns, bool metrics);

/*
 * Writes the config file: yaml as given, then the sections that belong to this run (metrics,
 * report socket, state_dir), so yaml must not have those keys. Lines of yaml keep their numbers.
 * The file is replaced with rename(), so a daemon reloading at that moment reads the old file
 * or the new one, never half of one.
 */
int spw_daemon_write_config(struct spw_daemon *d, const char *yaml);
/* Replaces the config file with text exactly (a broken file, for reload tests). */
int spw_daemon_write_raw(struct spw_daemon *d, const char *text);

/*
 * The daemon binary: $SPW_DAEMON when set, else spillwayd in the build folder this test binary
 * lives in (BUILD/tests/LAYER/test_x -> BUILD/spillwayd). Fails with a message naming the
 * make target when it is missing or not executable.
 */
int spw_daemon_binary(char *buf, size_t len);

/* The CLI, spillway, beside that daemon binary: fails with a message when it is missing. */
int spw_daemon_cli_binary(char *buf, size_t len);

/*
 * Starts `spillwayd -c CONFIG --pin-root PIN_ROOT -v` in the namespace (without -v when
 * d->quiet), output to the log.
 */
int spw_daemon_start(struct spw_daemon *d);

/*
 * Whether the current run is ready: it has ticked (its /healthz answers 200, or without the
 * exporter its log says it is running), and when svc_id is not 0 that service's policy is
 * pinned with a lease in the future. Opens d->dp on the first success. Returns 1 when ready,
 * 0 when not yet, a negative errno when the daemon exited (its log is printed).
 */
int spw_daemon_poll_ready(struct spw_daemon *d, uint32_t svc_id);
/* Polls the above until ready or timeout_ms passed (-ETIMEDOUT, the log printed). */
int spw_daemon_wait_ready(struct spw_daemon *d, uint32_t svc_id, int timeout_ms);

/*
 * The three steps of most tests at once: writes yaml as the config (spw_daemon_write_config),
 * starts the daemon and waits until it is ready for svc_id (spw_daemon_wait_ready).
 */
int spw_daemon_launch(struct spw_daemon *d, const char *yaml, uint32_t svc_id, int timeout_ms);
/* Is the current run still alive? Reaps it (status in d->status) when it has exited. */
bool spw_daemon_alive(struct spw_daemon *d);
int spw_daemon_signal(struct spw_daemon *d, int sig);
/* SIGKILL and reap: the daemon gets no chance to clean anything up. */
int spw_daemon_kill9(struct spw_daemon *d);
/*
 * SIGTERM, then waits up to timeout_ms for the exit (SIGKILL after that, -ETIMEDOUT).
 * Returns the exit code, or a negative errno.
 */
int spw_daemon_stop(struct spw_daemon *d, int timeout_ms);

/* Sends one datagram to the report socket: a line as an app would (no newline added). */
int spw_daemon_report(struct spw_daemon *d, const char *line);
int spw_daemon_report_raw(struct spw_daemon *d, const void *buf, size_t len);

/* Remembers the log's current end: the _since_mark readers look only after it. */
void spw_daemon_log_mark(struct spw_daemon *d);
/* The log after the mark, NUL-terminated, malloc'ed (NULL on error). */
char *spw_daemon_log_since_mark(struct spw_daemon *d);
/* Does the log after the mark contain needle? */
bool spw_daemon_log_has(struct spw_daemon *d, const char *needle);
/* Polls the log after the mark for needle: 0, or -ETIMEDOUT after timeout_ms. */
int spw_daemon_log_wait(struct spw_daemon *d, const char *needle, int timeout_ms);
/* Prints the whole log on stderr with a header: for a failing test's diagnostics. */
void spw_daemon_log_dump(struct spw_daemon *d);
/*
 * The end of a test's daemon: its log on stderr first when it died by itself during the test (a
 * failure worth its log) or SPW_TEST_LOGS is set, then spw_daemon_cleanup(). Does nothing to a
 * daemon never initialised.
 */
void spw_daemon_finish(struct spw_daemon *d);

/*
 * GET path from the exporter, from inside the namespace. Returns the HTTP status and the body
 * in body (NUL-terminated, truncated to len), or a negative errno.
 */
int spw_daemon_http_get(struct spw_daemon *d, const char *path, char *body, size_t len);
/*
 * The value of one series of /metrics, named exactly as exposed
 * (`spillway_reports_total{outcome="rejected"}`): 0, -ENOENT when it is not there.
 */
int spw_daemon_metric(struct spw_daemon *d, const char *series, double *value);

struct spw_state_file;
/*
 * A copy of the daemon's shed-state file (its state_dir's SPW_STATE_FILE), published as
 * levels change, between ticks too: 0, -errno when it cannot be read, -EPROTO when it is not
 * one.
 */
int spw_daemon_state(struct spw_daemon *d, struct spw_state_file *st);

/* Kills the daemon, unpins everything, removes the folder. Never fails; idempotent. */
void spw_daemon_cleanup(struct spw_daemon *d);

#endif /* SPW_TEST_DAEMON_H */
