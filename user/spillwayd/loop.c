// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event loop: one thread, epoll over a periodic timerfd (the tick), a faster one (the
 * in-flight watch), a signalfd (SIGHUP reloads, SIGTERM/SIGINT stop) and the report socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include "spwd.h"
#include "spw_log.h"

/* epoll tags; control clients' connections are SPWD_EV_CONTROL_CONN and up. */
enum { EV_TIMER, EV_WATCH, EV_SIGNAL, EV_REPORT, EV_CONTROL };
_Static_assert(EV_CONTROL < SPWD_EV_CONTROL_CONN, "control connection tags overlap");

static int set_timer(int fd, uint64_t ns)
{
	struct itimerspec its = {
	    .it_interval = {.tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL},
	    .it_value = {.tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL},
	};

	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

static int set_tick(struct spwd *d)
{
	uint64_t ns = d->cfg->controller.tick_ns;
	int err = set_timer(d->timerfd, ns);

	return err ? err : set_timer(d->watchfd, ns / SPWD_WATCHES_PER_TICK);
}

static int watch(struct spwd *d, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
}

void spwd_block_signals(void)
{
	sigset_t mask;

	/* Before any thread starts: threads inherit the mask, and a thread that does not
	 * block SIGTERM would take it with the default action and kill the daemon. */
	loop_signals(&mask);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* A client closing a scrape mid-response must not kill us either. */
	signal(SIGPIPE, SIG_IGN);
}

int spwd_loop_init(struct spwd *d)
{
	sigset_t mask;
	int err;

	loop_signals(&mask);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->watchfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0 || d->watchfd < 0 || d->epfd < 0)
		return -errno;
	err = set_tick(d);
	if (!err)
		err = watch(d, d->timerfd, EV_TIMER);
	if (!err)
		err = watch(d, d->watchfd, EV_WATCH);
	if (!err)
		err = watch(d, d->sigfd, EV_SIGNAL);
	if (!err && d->reportfd >= 0)
		err = watch(d, d->reportfd, EV_REPORT);
	if (!err && d->controlfd >= 0)
		err = watch(d, d->controlfd, EV_CONTROL);
	return err;
}

void spwd_loop_close(struct spwd *d)
{
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	if (d->watchfd >= 0)
		close(d->watchfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	d->epfd = d->timerfd = d->watchfd = d->sigfd = -1;
}

static void log_advice(void *ctx, const char *advice)
{
	(void)ctx;
	pr_warn("%s\n", advice);
}

void spwd_log_advice(const struct spw_config *cfg)
{
	spw_config_advise(cfg, log_advice, NULL);
}

/* Appends "what (running X, file Y)" to kept, separated by "; ". */
static void note_kept(char *kept, size_t len, const char *what, const char *running,
		      const char *file)
{
	size_t used = strlen(kept);

	if (used < len)
		snprintf(kept + used, len - used,
			 "%s%s: kept %s until a restart (the file says %s)", used ? "; " : "", what,
			 running[0] ? running : "off", file[0] ? file : "off");
}

static void keep_string(char *kept, size_t len, const char *what, char *file_val,
			const char *running, size_t size)
{
	if (!strcmp(file_val, running))
		return;
	note_kept(kept, len, what, running, file_val);
	snprintf(file_val, size, "%s", running);
}

/*
 * What a running daemon cannot change: the exporter's and the report socket's addresses and
 * group, the state folder (apps have the state file mapped, the CLI finds the control socket
 * there), and the flow table's size (a pinned map keeps its size: only detach --all and a
 * restart make a new one). cfg gets the running values, kept the list of them.
 */
static void keep_restart_only(struct spwd *d, struct spw_config *cfg, const struct spw_config *old,
			      char *kept, size_t len)
{
	char running[32], file[32];
	uint32_t table = 0, want = 1;

	kept[0] = '\0';
	keep_string(kept, len, "metrics.listen", cfg->metrics_listen, old->metrics_listen,
		    sizeof(cfg->metrics_listen));
	keep_string(kept, len, "report.socket", cfg->report_socket, old->report_socket,
		    sizeof(cfg->report_socket));
	keep_string(kept, len, "report.group", cfg->report_group, old->report_group,
		    sizeof(cfg->report_group));
	keep_string(kept, len, "state_dir", cfg->state_dir, old->state_dir, sizeof(cfg->state_dir));
	if (cfg->flow_capacity != old->flow_capacity) {
		/* As spw_dp_open() sizes it: the next power of two. */
		while (want < cfg->flow_capacity && want < (1U << 31))
			want <<= 1;
		if (spw_dp_flow_capacity(d->dp, &table) || table != want) {
			snprintf(running, sizeof(running), "%u entries", table);
			snprintf(file, sizeof(file), "%u", cfg->flow_capacity);
			note_kept(kept, len, "flows.capacity", running, file);
			if (strlen(kept) < len)
				snprintf(kept + strlen(kept), len - strlen(kept),
					 ": a pinned table keeps its size until detach --all");
			cfg->flow_capacity = old->flow_capacity;
		}
	}
}

static int reload_config(struct spwd *d, char *err, size_t errlen, char *kept, size_t keptlen)
{
	struct spw_config *cfg, *old = d->cfg;
	int ret;

	kept[0] = '\0';
	ret = spw_config_load(d->config_path, &cfg, err, errlen);
	if (ret) {
		pr_warn("config reload failed, keeping the running config: %s\n", err);
		return ret;
	}
	keep_restart_only(d, cfg, old, kept, keptlen);
	/* The records hold the running config's ids: a kept service keeps its id. */
	spwd_assign_ids(d, cfg);
	ret = spwd_apply(d, cfg, old);
	if (ret) {
		snprintf(err, errlen, "cannot apply the new config (%s); the running one is kept",
			 strerror(-ret));
		pr_warn("%s\n", err);
		spwd_apply(d, old, cfg);
		spw_config_free(cfg);
		kept[0] = '\0';
		return ret;
	}
	spwd_services_rebuild(d, cfg);
	spwd_log_advice(cfg);
	d->cfg = cfg;
	spw_config_free(old);
	/* The interfaces may be others now (and cfg may sit where old did). */
	d->ifindex_cfg = NULL;
	set_tick(d);
	pr_info("config reloaded from %s: %d services\n", d->config_path, cfg->nservices);
	if (kept[0])
		pr_warn("config reload: %s\n", kept);
	return 0;
}

int spwd_reload(struct spwd *d, char *err, size_t errlen, char *kept, size_t keptlen)
{
	int ret;

	spwd_notify_reloading(d);
	ret = reload_config(d, err, errlen, kept, keptlen);
	/* Ready again either way: a refused file leaves the running config in force. */
	spwd_notify_reloaded(d);
	return ret;
}

static void on_signal(struct spwd *d)
{
	struct signalfd_siginfo si;
	char err[SPW_ERR_MAX], kept[SPW_ERR_MAX];

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			spwd_reload(d, err, sizeof(err), kept, sizeof(kept));
		} else {
			pr_info(
			    "signal %d: exiting; programs stay attached, the lease then expires\n",
			    si.ssi_signo);
			spwd_notify_stopping(d);
			d->stop = true;
		}
	}
}

int spwd_loop_run(struct spwd *d)
{
	struct epoll_event evs[8];
	uint64_t expirations;
	int i, n;

	spwd_tick(d); /* a first policy with a fresh lease right away */
	while (!d->stop) {
		n = epoll_wait(d->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u64) {
			case EV_TIMER:
				/* Late by several ticks: run one, not a burst of catch-ups. */
				if (read(d->timerfd, &expirations, sizeof(expirations)) > 0) {
					spwd_tick(d);
					spwd_control_expire(d, spw_now_ns());
					spwd_reports_expire(d, spw_now_ns());
				}
				break;
			case EV_WATCH:
				if (read(d->watchfd, &expirations, sizeof(expirations)) > 0)
					spwd_watch_in_flight(d);
				break;
			case EV_SIGNAL:
				on_signal(d);
				break;
			case EV_REPORT:
				spwd_report_drain(d);
				break;
			case EV_CONTROL:
				spwd_control_serve(d);
				break;
			default:
				spwd_control_conn_ready(
				    d, (int)(evs[i].data.u64 - SPWD_EV_CONTROL_CONN));
				break;
			}
		}
	}
	return 0;
}
