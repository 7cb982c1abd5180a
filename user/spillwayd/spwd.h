/* SPDX-License-Identifier: GPL-2.0-only */
/* spillwayd's state, shared by its files: one process, one event loop, one of these. */
#ifndef SPWD_H
#define SPWD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "spw_config.h"
#include "spw_control.h"
#include "spw_dataplane.h"
#include "spw_metrics.h"
#include "spw_baseline.h"
#include "spw_concurrency.h"
#include "spw_signal.h"
#include "spw_sockdiag.h"
#include "spillway_state.h"

/* The control state of one configured service. */
struct spwd_service {
	const struct spw_config_service *cfg; /* points into spwd.cfg */
	struct spw_law_params law_params;
	struct spw_law_state law;
	struct spw_signal signals[SPW_MAX_SIGNALS];	/* cfg's signals with their last values */
	struct spw_baseline baselines[SPW_MAX_SIGNALS]; /* what a learned target learns from */
	double pressure;				/* NAN when no signal is fresh */
	uint32_t level;					/* what the data plane enforces now */
	uint32_t partial;   /* ... and the share of the next rank, of 256 */
	uint32_t law_level; /* what the law asked for */
	bool overridden;    /* a manual override set the level */
	bool dry_run;	    /* config or override: nothing shed */
	uint32_t retry_lo_s, retry_hi_s;
	uint32_t generation;
	/* Accept-queue signal: this tick's reading, taken for all services at once. */
	struct spw_accept_queue aq;
	bool aq_read;
	/* Latency p99 signal: histogram at the start of the current window. */
	struct spw_latency_hist lat_base;
	uint64_t lat_base_ns;
	/* The oldest outstanding request's age as last read, and when: the signal and the
	 * exporter read it in the same tick, and the ring walk is a thousand slots. */
	double oldest_ms;
	uint64_t oldest_ns;
	/* What a learned in_flight target learns from. */
	struct spw_concurrency conc;
	/* The counts in flight read lately (the watch's and the tick's): the law reads their
	 * mean over the last tick, 100 ms at most (spw_concurrency_reading). */
	struct spw_conc_reading in_flight_rd;
	/* Listen-overflow signal: the drop count at the last reading, and when (0: none yet). */
	uint64_t lo_drops;
	uint64_t lo_ns;
	/* Demand: the counters at the last observation, and the level enforced since. */
	uint64_t obs_passed[SPW_MAX_TIERS], obs_shed[SPW_MAX_TIERS], obs_admitted[SPW_MAX_TIERS];
	uint64_t obs_ns;		 /* 0: not observed yet (the first reading is the base) */
	double level_area;		 /* fine level x ns since obs_ns */
	double level_min;		 /* the lowest fine level enforced since obs_ns */
	uint64_t level_since_ns;	 /* when level_area was last extended */
	struct spw_rank_count obs_ranks; /* per-rank counts at the last observation */
	bool obs_ranks_ok;		 /* obs_ranks was read: the next window's deltas are good */
	/* Connection reservation: the limit in force (0: none) and its per-tier bounds. */
	uint64_t conn_limit;
	uint32_t admit_below[SPW_MAX_TIERS];
	/* Bounds on the requests in flight per tier (spw_inflight_bounds): 0, none. */
	uint32_t inflight_below[SPW_MAX_TIERS];
	uint64_t record_saved_ns; /* when the pinned service record was last written */
};

/* Control clients served at once, and the epoll tag of the first one's connection. */
#define SPWD_CONTROL_CONNS   8
#define SPWD_EV_CONTROL_CONN 16

/* A control client whose line is still arriving. */
struct spwd_control_conn {
	bool used;
	int fd;
	uint64_t since_ns; /* accepted then: closed when the line takes too long */
	size_t got;
	char buf[SPW_CONTROL_LINE_MAX];
};

/* What the exporter thread may read: copied under the lock at the end of each tick. */
struct spwd_snapshot {
	pthread_mutex_t lock;
	uint64_t last_tick_ns;
	uint64_t tick_ns;
	uint64_t ticks;
	uint64_t reports_ok, reports_bad;
};

struct spwd {
	struct spw_config *cfg;
	struct spw_dataplane *dp;
	const char *config_path;
	const char *pin_root; /* NULL: SPW_PIN_ROOT */
	struct spwd_service svcs[SPW_MAX_SERVICES - 1];
	int nsvcs;
	/* Event loop. */
	int epfd, timerfd, watchfd, sigfd, reportfd;
	int controlfd; /* control socket (spillway reload); -1 when not open */
	struct spwd_control_conn control_conns[SPWD_CONTROL_CONNS];
	bool stop;
	uint64_t last_rotation_ns, last_sweep_ns;
	uint64_t ticks;
	uint64_t reports_ok, reports_bad;
	uint64_t bad_logged_ns, bad_suppressed; /* log rate limit for bad report lines */
	uint64_t reports_expired_ns;		/* when old reports were last removed */
	struct spwd_snapshot snap;
	/* Exporter (metrics.c): built by the tick, published under snap.lock. */
	struct spw_metrics_snapshot *mbuild, *mpub;
	uint64_t mslow_ns; /* when the reports were last walked */
	/* The HTTP thread's own (MHD serves on one thread): counters read at scrape time. */
	struct spw_count *mcounters;  /* SPW_COUNTER_ENTRIES: the last read */
	struct spw_count *mrate_base; /* an older read, at least a second older, for rates */
	uint64_t mcounters_ns, mrate_ns;
	void *http;			  /* struct MHD_Daemon */
	uint16_t metrics_port;		  /* the exporter's port (metrics.listen :0 picks one) */
	struct spw_state_file *state;	  /* the shed-state file, mapped; NULL: not published */
	struct spw_state_file *state_buf; /* the next state, built before it is published */
	uint32_t netns_ino;		  /* this process's network namespace (state_file.c) */
	const struct spw_config *ifindex_cfg; /* the config ifindex[] was resolved for */
	uint32_t ifindex[SPW_MAX_IFACES];     /* its interfaces' ifindexes, 0: none such */
	uint32_t max_tracked; /* flows of one service the table may hold (policy), 0: no bound */
};

/* apply.c: make the data plane match cfg (exempt, services, rules, DSCP, flood guard, attach). */
int spwd_apply(struct spwd *d, const struct spw_config *cfg, const struct spw_config *old);
/*
 * Builds the per-service control state for cfg, keeping law state of services kept by name;
 * a service new to this process resumes from its pinned policy and record.
 */
void spwd_services_rebuild(struct spwd *d, const struct spw_config *cfg);
/* Gives cfg's services their ids by name, from the pinned records (spw_config_assign_ids). */
void spwd_assign_ids(struct spwd *d, struct spw_config *cfg);

/* tick.c: one control tick. */
void spwd_tick(struct spwd *d);
/*
 * Age of the service's oldest request awaiting its response, in ms (0: none), read from the
 * data plane's start-time ring at now (once per now: a second call reuses the reading); false
 * when the ring cannot be read.
 */
bool spwd_oldest_request_ms(struct spwd *d, struct spwd_service *s, uint64_t now, double *ms);
/* Logs spw_config_advise()'s advice on cfg as warnings (at start and on each reload). */
void spwd_log_advice(const struct spw_config *cfg);
/*
 * A report (kind, name) was just stored: services that read it step at once when it shows a
 * clear overload, instead of at the next tick (see control_service in tick.c).
 */
void spwd_report_arrived(struct spwd *d, enum spw_report_kind kind, const char *name);
/*
 * Between ticks (SPWD_WATCHES_PER_TICK times a tick): services whose requests in flight read a
 * clear overload step at once, as on a report, instead of at the next tick.
 */
void spwd_watch_in_flight(struct spwd *d);
/*
 * A 10C flood brings a tick's worth of capacity in a tenth of a tick: at 100 ms ticks,
 * 400 requests queued before the tick saw them, 1 s of queue in front of tier 0. Read five
 * times a tick (in flight is a load from the data plane's mapped counts, no syscall), a step
 * comes within 20 ms of the queue showing.
 */
#define SPWD_WATCHES_PER_TICK 5

/* report_sock.c: the app report socket. */
int spwd_report_open(struct spwd *d);
void spwd_report_close(struct spwd *d);
void spwd_report_drain(struct spwd *d);
/* Removes reports not renewed for a long while (at most once a second); called every tick. */
void spwd_reports_expire(struct spwd *d, uint64_t now);
/* Applies one report line (also used by tests through the socket); 0 or -EINVAL. */
int spwd_report_line(struct spwd *d, const char *line, size_t len);

/* loop.c. spwd_block_signals() must run before any thread is started. */
void spwd_block_signals(void);
int spwd_loop_init(struct spwd *d);
int spwd_loop_run(struct spwd *d);
void spwd_loop_close(struct spwd *d);
/*
 * Re-reads the config file; a bad file is reported and the running config kept. Returns 0, or
 * a negative errno with what went wrong in err ("FILE:LINE:COL: ...") for the control socket.
 * Settings only a restart can change (metrics.listen, report.socket and .group, state_dir,
 * flows.capacity) keep their running values: kept then lists them ("" when none was changed).
 */
int spwd_reload(struct spwd *d, char *err, size_t errlen, char *kept, size_t keptlen);

/* control_sock.c: STATE_DIR/control.sock, root only: one-line commands ("reload", "diff"). */
int spwd_control_open(struct spwd *d);
/* Accepts waiting clients into the loop's epoll (tags SPWD_EV_CONTROL_CONN + slot). */
void spwd_control_serve(struct spwd *d);
/* A client's connection is readable: gathers its line, runs it when whole. */
void spwd_control_conn_ready(struct spwd *d, int slot);
/* Closes clients that have not sent their line in time; called every tick. */
void spwd_control_expire(struct spwd *d, uint64_t now);
void spwd_control_close(struct spwd *d);

/* state_file.c: the shed-state file apps and the CLI read (include/spillway_state.h). */
int spwd_state_open(struct spwd *d);
/* Publishes every service's state; call once per tick after all services are controlled. */
void spwd_state_publish(struct spwd *d);
void spwd_state_close(struct spwd *d);

/* metrics.c: the exporter's snapshot, filled at the end of each tick. */
int spwd_metrics_init(struct spwd *d, const char *version);
void spwd_metrics_close(struct spwd *d);
/* now: the tick's start, so the tick's own duration is observed too. */
void spwd_metrics_collect(struct spwd *d, uint64_t now);
/* HTTP thread: reads the counters and latency histograms into s (a copy), with /v1/state's
 * rates. */
void spwd_metrics_fill_counters(struct spwd *d, struct spw_metrics_snapshot *s);
/* A malloc'ed copy of the last published snapshot, now_ns set; NULL when none or no memory. */
struct spw_metrics_snapshot *spwd_metrics_copy(struct spwd *d);
/* /v1/state's JSON text (malloc'ed; NULL on error): `spillway status --json`'s fields. */
char *spwd_state_json(const struct spw_metrics_snapshot *s);

/*
 * notify.c: the service manager's sd_notify protocol (nothing without NOTIFY_SOCKET). The first
 * tick sends READY=1, every tick WATCHDOG=1 when the unit has a watchdog, and STATUS= when the
 * summary changed; a reload is bracketed by RELOADING=1 and READY=1; an exit sends STOPPING=1.
 */
void spwd_notify_tick(const struct spwd *d);
void spwd_notify_reloading(const struct spwd *d);
void spwd_notify_reloaded(const struct spwd *d);
void spwd_notify_stopping(const struct spwd *d);

/* http.c: /healthz, /metrics and /v1/state beside the loop, on its own thread. */
int spwd_http_start(struct spwd *d);
void spwd_http_stop(struct spwd *d);

#endif /* SPWD_H */
