// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway status and top. The shed state (mode, level, pressure, signals, retry hint,
 * interfaces) comes from the state file spillwayd publishes every tick; rates, active
 * connections and latency from the pinned maps: rates are the difference of two counter reads
 * an interval apart, since the counters only ever grow.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "spillway_rank.h"
#include "cli_priv.h"
#include "spw_signal.h"
#include "spw_strnum.h"
#include "spw_totals_json.h"

struct tier_view {
	double admitted_ps, shed_ps, would_shed_ps, fail_open_ps;
	/* New flows per reason since the maps were created (the second read), as /metrics. */
	uint64_t totals[SPW_REASON_COUNT];
	uint64_t active;
	uint64_t inflight; /* requests awaiting their response */
	bool has_latency;
	double p50_ms, p99_ms;
	uint32_t shed_cohorts; /* of SPW_COHORTS */
};

struct svc_view {
	const struct spw_state_service *s;
	struct tier_view tiers[SPW_MAX_TIERS];
	bool has_policy;
	int64_t lease_left_ns; /* negative: expired (the data plane fails open) */
};

static double per_sec(const struct spw_count *a, const struct spw_count *b, uint32_t idx,
		      double secs)
{
	return (double)(b[idx].packets - a[idx].packets) / secs;
}

static void build_view(struct spw_dataplane *dp, const struct spw_state_service *s,
		       const struct spw_count *a, const struct spw_count *b, double secs,
		       struct svc_view *v)
{
	struct spw_latency_hist h;
	struct spw_policy p;
	uint32_t t, r, ntiers = s->tier_count > SPW_MAX_TIERS ? SPW_MAX_TIERS : s->tier_count;
	double us;

	memset(v, 0, sizeof(*v));
	v->s = s;
	for (t = 0; t < ntiers; t++) {
		struct tier_view *tv = &v->tiers[t];

		tv->admitted_ps =
		    per_sec(a, b, spw_counter_index(s->id, t, SPW_REASON_ADMITTED), secs);
		for (r = 0; r < SPW_REASON_COUNT; r++) {
			tv->totals[r] = b[spw_counter_index(s->id, t, r)].packets;
			if (spw_reason_refuses(r))
				tv->shed_ps += per_sec(a, b, spw_counter_index(s->id, t, r), secs);
		}
		tv->would_shed_ps =
		    per_sec(a, b, spw_counter_index(s->id, t, SPW_REASON_WOULD_SHED), secs);
		tv->fail_open_ps =
		    per_sec(a, b, spw_counter_index(s->id, t, SPW_REASON_FAIL_OPEN), secs);
		spw_dp_active_read(dp, s->id, t, &tv->active);
		spw_dp_inflight_read(dp, s->id, t, &tv->inflight);
		if (!spw_dp_latency_read(dp, s->id, t, &h) && !spw_latency_quantile(&h, 0.5, &us)) {
			tv->has_latency = true;
			tv->p50_ms = us / 1e3;
			spw_latency_quantile(&h, 0.99, &us);
			tv->p99_ms = us / 1e3;
		}
		tv->shed_cohorts = spw_tier_shed_cohorts(s->level, s->floor, t);
	}
	if (!spw_dp_policy_get(dp, s->id, &p)) {
		v->has_policy = true;
		v->lease_left_ns = (int64_t)(p.lease_expires_ns - spw_now_ns());
	}
}

static const char *mode_of(const struct spw_state_service *s)
{
	return s->flags & SPW_STATE_DRY_RUN ? "dry-run" : "enforce";
}

static json_t *milli_json(int64_t milli)
{
	return milli == SPW_STATE_NO_VALUE ? json_null() : json_real((double)milli / 1e3);
}

static json_t *view_json(const struct spw_state_file *st, const struct svc_view *v)
{
	const struct spw_state_service *s = v->s;
	json_t *o = json_object(), *shed = json_object(), *sigs = json_array(),
	       *tiers = json_array();
	uint32_t t, i;

	json_object_set_new(o, "name", json_stringn(s->name, strnlen(s->name, sizeof(s->name))));
	json_object_set_new(o, "id", json_integer(s->id));
	json_object_set_new(o, "mode", json_string(mode_of(s)));
	json_object_set_new(o, "overridden", json_boolean(s->flags & SPW_STATE_OVERRIDDEN));
	json_object_set_new(o, "level", json_integer(s->level));
	json_object_set_new(o, "floor", json_integer(s->floor));
	json_object_set_new(o, "ceiling", json_integer(s->ceiling));
	json_object_set_new(o, "pressure", milli_json(s->pressure_milli));
	for (i = 0; i < s->nsignals && i < SPW_STATE_SIGNALS; i++) {
		const struct spw_state_signal *g = &s->signals[i];
		json_t *j = json_object();
		const char *kind;

		kind = spw_signal_kind_spelling(g->kind, sizeof(g->kind));
		json_object_set_new(j, "kind",
				    kind
					? json_string(kind)
					: json_stringn(g->kind, strnlen(g->kind, sizeof(g->kind))));
		json_object_set_new(j, "source",
				    json_stringn(g->source, strnlen(g->source, sizeof(g->source))));
		json_object_set_new(j, "value", milli_json(g->value_milli));
		json_object_set_new(j, "target", milli_json(g->target_milli));
		json_object_set_new(j, "stale", json_boolean(g->stale));
		json_array_append_new(sigs, j);
	}
	json_object_set_new(o, "signals", sigs);
	for (t = 0; t < s->tier_count && t < SPW_MAX_TIERS; t++) {
		const struct tier_view *tv = &v->tiers[t];
		json_t *j = json_object();
		const char *name = st->tiers[t];
		size_t nlen = strnlen(name, SPW_STATE_NAME_MAX);

		json_object_set_new(shed, name[0] ? name : "?",
				    json_integer(spw_shed_percent(tv->shed_cohorts)));
		json_object_set_new(j, "name", json_stringn(name, nlen));
		json_object_set_new(j, "shed_percent",
				    json_integer(spw_shed_percent(tv->shed_cohorts)));
		json_object_set_new(j, "shed_cohorts", json_integer(tv->shed_cohorts));
		json_object_set_new(j, "skewed", json_boolean(s->skewed_tiers & (1U << t)));
		json_object_set_new(j, "admitted_per_s", json_real(tv->admitted_ps));
		json_object_set_new(j, "shed_per_s", json_real(tv->shed_ps));
		json_object_set_new(j, "would_shed_per_s", json_real(tv->would_shed_ps));
		json_object_set_new(j, "fail_open_per_s", json_real(tv->fail_open_ps));
		spw_totals_json(j, tv->totals);
		json_object_set_new(j, "active", json_integer((json_int_t)tv->active));
		json_object_set_new(j, "in_flight", json_integer((json_int_t)tv->inflight));
		json_object_set_new(j, "latency_p50_ms",
				    tv->has_latency ? json_real(tv->p50_ms) : json_null());
		json_object_set_new(j, "latency_p99_ms",
				    tv->has_latency ? json_real(tv->p99_ms) : json_null());
		json_array_append_new(tiers, j);
	}
	json_object_set_new(o, "shed", shed);
	json_object_set_new(o, "tiers", tiers);
	json_object_set_new(o, "lease_remaining_ms",
			    v->has_policy ? json_integer(v->lease_left_ns / 1000000) : json_null());
	json_object_set_new(o, "retry_after_lo_s", json_integer(s->retry_after_lo_s));
	json_object_set_new(o, "retry_after_hi_s", json_integer(s->retry_after_hi_s));
	return o;
}

/* When the rates' second counter read was taken; totals are as of then. */
struct read_time {
	struct timespec wall; /* CLOCK_REALTIME */
	double interval_s;    /* between the two reads */
};

static json_t *status_json(const struct spw_state_file *st, const struct svc_view *views,
			   const struct read_time *rt, const int64_t *tx_failed)
{
	json_t *root = json_object(), *svcs = json_array(), *ifs = json_array(),
	       *tiers = json_array();
	uint32_t i;

	json_object_set_new(
	    root, "time_unix_ms",
	    json_integer((json_int_t)rt->wall.tv_sec * 1000 + rt->wall.tv_nsec / 1000000));
	json_object_set_new(root, "interval_s", json_real(rt->interval_s));
	json_object_set_new(root, "metrics_port",
			    st->metrics_port ? json_integer(st->metrics_port) : json_null());
	json_object_set_new(root, "daemon_pid", json_integer(st->daemon_pid));
	json_object_set_new(root, "tick_ms", json_integer(st->tick_ms));
	json_object_set_new(root, "state_age_ms",
			    json_integer((json_int_t)((spw_now_ns() - st->updated_ns) / 1000000)));
	for (i = 0; i < st->ntiers; i++)
		json_array_append_new(
		    tiers, json_stringn(st->tiers[i], strnlen(st->tiers[i], SPW_STATE_NAME_MAX)));
	json_object_set_new(root, "tier_names", tiers);
	for (i = 0; i < st->nifaces; i++) {
		json_t *j = json_object();

		json_object_set_new(
		    j, "name", json_stringn(st->ifaces[i].name, strnlen(st->ifaces[i].name, 16)));
		json_object_set_new(j, "mode",
				    json_string(spw_attach_mode_name(st->ifaces[i].mode)));
		json_object_set_new(j, "xdp_tx_failed",
				    tx_failed[i] >= 0 ? json_integer(tx_failed[i]) : json_null());
		json_array_append_new(ifs, j);
	}
	json_object_set_new(root, "interfaces", ifs);
	for (i = 0; i < st->nservices; i++)
		json_array_append_new(svcs, view_json(st, &views[i]));
	json_object_set_new(root, "services", svcs);
	return root;
}

static void print_milli(FILE *f, int64_t milli)
{
	if (milli == SPW_STATE_NO_VALUE)
		fprintf(f, "-");
	else
		fprintf(f, "%.3f", (double)milli / 1e3);
}

static void status_text(FILE *f, const struct spw_state_file *st, const struct svc_view *views,
			const int64_t *tx_failed)
{
	char dur[SPW_DURATION_STRLEN];
	uint32_t i, t, n;

	for (i = 0; i < st->nservices; i++) {
		const struct svc_view *v = &views[i];
		const struct spw_state_service *s = v->s;

		n = s->tier_count > SPW_MAX_TIERS ? SPW_MAX_TIERS : s->tier_count;
		fprintf(f, "service %.*s (id %u): %s%s, level %u (floor %u, full %u)\n",
			SPW_STATE_NAME_MAX, s->name, s->id, mode_of(s),
			s->flags & SPW_STATE_OVERRIDDEN ? ", manual override" : "", s->level,
			s->floor, s->ceiling);
		/* Most sheddable first: the order in which tiers go. */
		fprintf(f, "  shed: ");
		for (t = n; t-- > 0;)
			fprintf(f, "%.*s %u%%%s%s", SPW_STATE_NAME_MAX, st->tiers[t],
				spw_shed_percent(v->tiers[t].shed_cohorts),
				s->skewed_tiers & (1U << t) ? " (skewed: few client cohorts)" : "",
				t ? ", " : "\n");
		fprintf(f, "  pressure ");
		print_milli(f, s->pressure_milli);
		fprintf(f, "\n");
		for (t = 0; t < s->nsignals && t < SPW_STATE_SIGNALS; t++) {
			const struct spw_state_signal *g = &s->signals[t];
			const char *kind = spw_signal_kind_spelling(g->kind, sizeof(g->kind));

			fprintf(f, "    %.*s%s%.*s: ", kind ? SPW_SIGNAL_KIND_NAME_MAX : 16,
				kind ? kind : g->kind, g->source[0] ? " " : "", SPW_STATE_NAME_MAX,
				g->source);
			print_milli(f, g->value_milli);
			fprintf(f, " / target ");
			print_milli(f, g->target_milli);
			fprintf(f, "%s\n", g->stale ? " (stale: ignored)" : "");
		}
		fprintf(f, "  %-12s %11s %9s %11s %10s %7s %9s %9s %9s\n", "tier", "admitted/s",
			"shed/s", "would-shed", "fail-open", "active", "in flight", "p50 ms",
			"p99 ms");
		for (t = 0; t < n; t++) {
			const struct tier_view *tv = &v->tiers[t];

			fprintf(f, "  %-12.*s %11.1f %9.1f %11.1f %10.1f %7llu %9llu",
				SPW_STATE_NAME_MAX, st->tiers[t], tv->admitted_ps, tv->shed_ps,
				tv->would_shed_ps, tv->fail_open_ps, (unsigned long long)tv->active,
				(unsigned long long)tv->inflight);
			if (tv->has_latency)
				fprintf(f, " %9.3f %9.3f\n", tv->p50_ms, tv->p99_ms);
			else
				fprintf(f, " %9s %9s\n", "-", "-");
		}
		if (!v->has_policy) {
			fprintf(f, "  lease: no policy (new flows pass as fail_open)");
		} else if (v->lease_left_ns <= 0) {
			fprintf(f, "  lease: expired (new flows pass as fail_open)");
		} else {
			spw_format_duration((uint64_t)v->lease_left_ns / 1000000 * 1000000, dur,
					    sizeof(dur));
			fprintf(f, "  lease: %s left", dur);
		}
		if (s->retry_after_hi_s)
			fprintf(f, ", retry after %u-%u s\n", s->retry_after_lo_s,
				s->retry_after_hi_s);
		else
			fprintf(f, ", nothing to retry\n");
	}
	fprintf(f, "interfaces:");
	for (i = 0; i < st->nifaces; i++) {
		fprintf(f, " %.*s (%s", 16, st->ifaces[i].name,
			spw_attach_mode_name(st->ifaces[i].mode));
		if (tx_failed[i] > 0)
			fprintf(f, ", %lld rejects failed to send", (long long)tx_failed[i]);
		fputc(')', f);
	}
	fprintf(f, "%s\n", st->nifaces ? "" : " none");
}

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Sleeps ns, or less when q is typed (top) or a stop signal arrives. Returns true to go on.
 */
static bool wait_interval(uint64_t ns, bool keys)
{
	struct timespec end, now;
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	char c;
	int ms;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(ns / SPW_NSEC_PER_SEC);
	end.tv_nsec += (long)(ns % SPW_NSEC_PER_SEC);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (!stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms =
		    (int)((end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000);
		if (ms <= 0)
			return true;
		if (poll(&pfd, keys ? 1 : 0, ms) > 0 && read(STDIN_FILENO, &c, 1) == 1 &&
		    (c == 'q' || c == 'Q'))
			return false;
		if (keys && (pfd.revents & (POLLHUP | POLLERR)))
			keys = false; /* stdin closed: only time and signals stop us now */
	}
	return false;
}

/* Each interface's XDP_TX failures (rejects that never left), -1 where none are counted. */
static void iface_tx_failed(struct spw_dataplane *dp, const struct spw_state_file *st, int64_t *out)
{
	uint64_t n;
	uint32_t i;
	char name[17];

	for (i = 0; i < st->nifaces && i < SPW_STATE_IFACES; i++) {
		snprintf(name, sizeof(name), "%.*s", 16, st->ifaces[i].name);
		out[i] = spw_dp_tx_failed_read(dp, (int)if_nametoindex(name), &n) ? -1 : (int64_t)n;
	}
}

/* Reads counters, waits, reads again, renders. Returns an exit code; *go false to stop. */
static int one_round(const struct spw_cli_req *req, struct spw_dataplane *dp, bool keys, bool *go,
		     bool clear)
{
	int64_t tx_failed[SPW_STATE_IFACES];
	struct spw_count *a, *b;
	struct spw_state_file *st;
	struct svc_view *views;
	struct timespec t0, t1;
	struct read_time rt;
	double secs;
	uint32_t i;
	int err, ret = SPW_EXIT_FAIL;

	a = calloc(SPW_COUNTER_ENTRIES, sizeof(*a));
	b = calloc(SPW_COUNTER_ENTRIES, sizeof(*b));
	st = calloc(1, sizeof(*st));
	views = calloc(SPW_STATE_SERVICES, sizeof(*views));
	if (!a || !b || !st || !views) {
		fprintf(stderr, "spillway: out of memory\n");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = spw_dp_counters_read_all(dp, a);
	if (err) {
		cli_dp_error(req, "cannot read the counters", err);
		goto out;
	}
	*go = wait_interval(req->interval_ns, keys);
	if (!*go && stop) {
		ret = SPW_EXIT_OK;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_REALTIME, &rt.wall);
	err = spw_dp_counters_read_all(dp, b);
	if (err) {
		cli_dp_error(req, "cannot read the counters", err);
		goto out;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	rt.interval_s = secs;
	if (cli_state_read(req, st))
		goto out;
	for (i = 0; i < st->nservices; i++)
		build_view(dp, &st->services[i], a, b, secs, &views[i]);
	iface_tx_failed(dp, st, tx_failed);
	if (req->json) {
		json_t *root = status_json(st, views, &rt, tx_failed);

		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
		json_decref(root);
	} else {
		if (clear)
			fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
		status_text(stdout, st, views, tx_failed);
		if (!clear && req->cmd == SPW_CMD_TOP)
			fputc('\n', stdout);
	}
	fflush(stdout);
	ret = SPW_EXIT_OK;
out:
	free(a);
	free(b);
	free(st);
	free(views);
	return ret;
}

int spw_cmd_status(const struct spw_cli_req *req)
{
	struct spw_dataplane *dp;
	bool go;
	int ret;

	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
	ret = one_round(req, dp, false, &go, false);
	spw_dp_close(dp);
	return ret;
}

int spw_cmd_top(const struct spw_cli_req *req)
{
	struct sigaction sa = {.sa_handler = on_stop};
	struct termios saved, raw;
	struct spw_dataplane *dp;
	bool keys = isatty(STDIN_FILENO), clear = isatty(STDOUT_FILENO), go = true, tty_set = false;
	uint32_t n = 0;
	int ret = SPW_EXIT_OK;

	if (cli_open_dp(req, &dp, false))
		return SPW_EXIT_FAIL;
	/* No SA_RESTART: poll() must return at Ctrl-C so the terminal is restored at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (keys && !tcgetattr(STDIN_FILENO, &saved)) {
		/* q without Enter, and without echoing it into the screen. */
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tty_set = !tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	while (go && !stop && (!req->count || n < req->count)) {
		ret = one_round(req, dp, keys, &go, clear);
		if (ret)
			break;
		n++;
	}
	if (tty_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	spw_dp_close(dp);
	return ret;
}
