// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporter, the dashboard and the alert rules, checked with the ecosystem's own
 * tools instead of a parser of ours:
 *
 *   (a) promtool check rules tools/prometheus/alerts.yml and promtool test rules
 *       tests/prometheus/alerts_test.yml exit 0;
 *   (b) a real Prometheus (Debian's `prometheus`, tools/install-deps.sh) scrapes the real
 *       spillwayd every second while TCP traffic flows in a netns scenario, some of it admitted
 *       and some shed; through Prometheus' HTTP API:
 *         - the target is up and the alert rules loaded and evaluate without errors;
 *         - every family the exporter promises is there, with its labels (pool and queue
 *           families after a report);
 *         - counters increase between two points in time;
 *         - every PromQL expression of tools/grafana/spillway.json, and the query behind its
 *           service variable, returns data.
 *
 * Topology (tests/lib/netns.h): spillwayd runs in the server namespace (tests/lib/daemon.h)
 * with its exporter on 127.0.0.1:9478 there, and Prometheus runs in the same namespace,
 * listening on 127.0.0.1:PROM_PORT: the equivalent of `nsenter --net=/var/run/netns/NS
 * prometheus ...`, done with setns() between fork and exec. Neither uses `ip netns exec`, whose
 * private /sys would hide the daemon's pins. The client namespace's veth carries the empty XDP
 * program so the RSTs of rejected SYNs arrive (a veth drops XDP frames its peer has no XDP program
 * for). One 3-tier TCP service; clients told apart by source address:
 *
 *   critical   the client's IPv6 address, by a /128 rule;
 *   standard   the client's IPv4 address, the service's default tier;
 *   sheddable  SHED_SRC (10.1.1.1), by the 10.0.0.0/8 rule, rejected once its tier is shed.
 *
 * A pool reported 100 % busy drives the level down until the sheddable tier is refused.
 *
 * Files: sources are found through $SPW_SRC_ROOT, else the current folder, else three levels
 * above the binary (BUILD/tests/netns/test_prometheus with BUILD inside the tree).
 * Everything is removed in the teardown, which runs after a failed assertion too: Prometheus
 * (killed, and SIGKILLed by the kernel should this process die first), its folder, the daemon
 * with its pins and folder, the namespaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <jansson.h>

#include "attach.h"
#include "daemon.h"
#include "netns.h"
#include "report_pump.h"
#include "sockets.h"
#include "util.h"
#include "empty_xdp.skel.h"

#define SVC_ID	 1
#define SVC_PORT 8080
#define SVC_NAME "api"
#define SHED_SRC "10.1.1.1"

/* Prometheus' port in the server namespace: a namespace of the test's own has every port free. */
#define PROM_PORT 9090
/* Scrape and rule evaluation interval, in seconds: what the test waits on. */
#define SCRAPE_S 1
/*
 * $__rate_interval and $__interval of the dashboard's expressions: Grafana makes the first at
 * least 4 scrape intervals, so a rate has samples to work with.
 */
#define RATE_INTERVAL "5s"

#define TICK_MS		 100
#define READY_TIMEOUT_MS 15000
/* Prometheus loads its TSDB and rules in a second or two; a loaded machine takes longer. */
#define PROM_READY_MS 20000
/* Anything that should show in Prometheus within a few scrapes. */
#define SCRAPE_WAIT_MS 8000
/* The law takes a few ticks to shed a whole tier; give it ample time on a busy machine. */
#define SHED_WAIT_MS  10000
#define IO_TIMEOUT_MS 3000
/* Prometheus' answers: a few hundred series at most. */
#define HTTP_MAX (4 << 20)

#define REPORT_FULL  "pool db in_use=100 capacity=100 waiting=7 wait_ms=40"
#define REPORT_LOW   "pool db in_use=10 capacity=100 waiting=0 wait_ms=1"
#define REPORT_QUEUE "queue jobs depth=20 limit=100 age_ms=250"

static const char *const tier_names[] = {"critical", "standard", "sheddable"};

struct test_ctx {
	struct spw_topo topo;
	struct spw_daemon d;
	struct empty_xdp *empty;
	struct spw_fds fds;
	int lfd[2]; /* IPv4, IPv6 listeners in the server namespace */
	char root[PATH_MAX];
	char prom_dir[64];
	char prom_log[PATH_MAX];
	pid_t prom;
	struct spw_pump pump; /* the pool report sent every tick, with the queue report */
};

/* ---- source files ------------------------------------------------------------------------ */

static bool has_sources(const char *dir)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/tools/prometheus/alerts.yml", dir);
	return access(p, R_OK) == 0;
}

static void find_root(struct test_ctx *c)
{
	const char *env = getenv("SPW_SRC_ROOT");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && has_sources(env)) {
		snprintf(c->root, sizeof(c->root), "%s", env);
		return;
	}
	if (getcwd(c->root, sizeof(c->root)) && has_sources(c->root))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(exe, '/');

		if (slash)
			*slash = '\0';
	}
	if (!has_sources(exe))
		fail_msg("cannot find tools/prometheus/alerts.yml: run from the source tree or set "
			 "SPW_SRC_ROOT");
	snprintf(c->root, sizeof(c->root), "%s", exe);
}

/* Runs argv (PATH searched), output inherited; returns the exit status, or -1. */
static int run(char *const argv[])
{
	extern char **environ;
	pid_t pid;
	int st;

	fflush(stdout);
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ))
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- Prometheus -------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void prom_start(struct test_ctx *c)
{
	char cfg[PATH_MAX], data[PATH_MAX], text[2 * PATH_MAX], nspath[128];
	char a_cfg[PATH_MAX + 32], a_data[PATH_MAX + 32], a_listen[64];
	char *argv[] = {"prometheus", a_cfg, a_data, a_listen, "--log.level=warn", NULL};
	int nsfd, logfd;

	snprintf(c->prom_dir, sizeof(c->prom_dir), "/tmp/spw-prom-%d-XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(c->prom_dir));
	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", c->prom_dir);
	snprintf(data, sizeof(data), "%s/data", c->prom_dir);
	snprintf(c->prom_log, sizeof(c->prom_log), "%s/prometheus.log", c->prom_dir);
	snprintf(text, sizeof(text),
		 "# Written by tests/netns/test_prometheus.c\n"
		 "global:\n"
		 "  scrape_interval: %ds\n"
		 "  scrape_timeout: %ds\n"
		 "  evaluation_interval: %ds\n"
		 "rule_files:\n"
		 "  - %s/tools/prometheus/alerts.yml\n"
		 "scrape_configs:\n"
		 "  - job_name: spillway\n"
		 "    static_configs:\n"
		 "      - targets: [\"%s\"]\n",
		 SCRAPE_S, SCRAPE_S, SCRAPE_S, c->root, c->d.metrics);
	write_file(cfg, text);
	snprintf(a_cfg, sizeof(a_cfg), "--config.file=%s", cfg);
	snprintf(a_data, sizeof(a_data), "--storage.tsdb.path=%s", data);
	snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%d", PROM_PORT);
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", c->topo.end[SPW_TOPO_SRV].ns);

	/* Opened before the fork: the child only calls async-signal-safe functions. */
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	assert_true(nsfd >= 0);
	logfd = open(c->prom_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(logfd >= 0);
	fflush(NULL);
	c->prom = fork();
	assert_true(c->prom >= 0);
	if (!c->prom) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setns(nsfd, CLONE_NEWNET) || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(nsfd);
	close(logfd);
}

static void prom_log_dump(struct test_ctx *c)
{
	char line[1024];
	FILE *f;

	if (!c->prom_log[0] || !(f = fopen(c->prom_log, "r")))
		return;
	fprintf(stderr, "---- %s\n", c->prom_log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "----\n");
	fclose(f);
}

static void prom_stop(struct test_ctx *c)
{
	double end;
	int st;

	if (c->prom <= 0)
		return;
	kill(c->prom, SIGTERM);
	end = spw_now_ms() + 5000;
	while (waitpid(c->prom, &st, WNOHANG) == 0) {
		if (spw_now_ms() > end) {
			kill(c->prom, SIGKILL);
			waitpid(c->prom, &st, 0);
			break;
		}
		spw_sleep_ms(20);
	}
	c->prom = 0;
}

/* ---- HTTP to Prometheus, from inside the namespace ------------------------------------- */

/* Percent-encodes s for a query string. */
static char *url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	assert_non_null(out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch)) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

/*
 * GET path from Prometheus with HTTP/1.0 (the server closes when done, no chunking). Returns
 * the status (or a negative errno) and the body in *body, malloc'ed, NUL-terminated.
 */
static int prom_get(struct test_ctx *c, const char *path, char **body)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PROM_PORT)};
	size_t len = 0, cap = 65536;
	char req[8192], *buf, *hdr_end;
	int fd, n, status = -EPROTO;

	*body = NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	fd = spw_netns_socket(c->topo.end[SPW_TOPO_SRV].ns, AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return fd;
	spw_sock_timeouts(fd, 10000);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		n = -errno;
		close(fd);
		return n;
	}
	spw_send_all(fd, req, (size_t)n);
	buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		ssize_t r;

		if (len + 1 >= cap) {
			assert_true(cap < HTTP_MAX);
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			n = -errno;
			free(buf);
			close(fd);
			return n;
		}
		if (!r)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	hdr_end = strstr(buf, "\r\n\r\n");
	if (hdr_end && sscanf(buf, "HTTP/%*s %d", &status) == 1) {
		*body = strdup(hdr_end + 4);
		assert_non_null(*body);
	}
	free(buf);
	return status;
}

/* GET path and parse the JSON answer; fails unless it is 200 with "status": "success". */
static json_t *prom_api(struct test_ctx *c, const char *path)
{
	json_error_t jerr;
	char *body;
	json_t *j;
	int st = prom_get(c, path, &body);

	if (st != 200)
		fail_msg("GET %s: %s: %s", path, st < 0 ? strerror(-st) : "HTTP error",
			 body ? body : "");
	j = json_loads(body, 0, &jerr);
	if (!j)
		fail_msg("GET %s: not JSON (%s): %.200s", path, jerr.text, body);
	free(body);
	if (strcmp(json_string_value(json_object_get(j, "status")) ?: "", "success"))
		fail_msg("GET %s: status is not success", path);
	return j;
}

/*
 * An instant query: the root object (json_decref it) and its data.result in *result, a vector
 * (array) or scalar.
 */
static json_t *prom_query(struct test_ctx *c, const char *expr, json_t **result)
{
	char *enc = url_encode(expr), *path;
	json_t *j;

	assert_true(asprintf(&path, "/api/v1/query?query=%s", enc) > 0);
	j = prom_api(c, path);
	free(path);
	free(enc);
	*result = json_object_get(json_object_get(j, "data"), "result");
	assert_non_null(*result);
	return j;
}

/* The value of a query that yields one series (or a scalar); NAN when it yields none. */
static double prom_value(struct test_ctx *c, const char *expr)
{
	json_t *res, *j = prom_query(c, expr, &res);
	json_t *val = NULL;
	double v = NAN;

	if (json_is_array(res) && json_array_size(res) > 0) {
		if (json_array_size(res) != 1)
			fail_msg("%s: %zu series, expected one", expr, json_array_size(res));
		val = json_object_get(json_array_get(res, 0), "value");
	} else if (!json_is_array(res)) {
		val = res;
	}
	if (val)
		v = strtod(json_string_value(json_array_get(val, 1)) ?: "nan", NULL);
	json_decref(j);
	return v;
}

/* ---- traffic ----------------------------------------------------------------------------- */

static void wait_pumping(struct test_ctx *c, int ms)
{
	spw_pump_wait(&c->pump, ms, 5);
}

/*
 * Polls expr until it is not NaN and cond(value, arg) holds, for at most ms; returns the last
 * value. With pumping, the reports keep going meanwhile.
 */
static double prom_wait(struct test_ctx *c, const char *expr, bool (*cond)(double, double),
			double arg, int ms, bool pumping)
{
	double end = spw_now_ms() + ms, v;

	for (;;) {
		v = prom_value(c, expr);
		if (!isnan(v) && cond(v, arg))
			return v;
		if (spw_now_ms() > end)
			return v;
		if (pumping)
			wait_pumping(c, 200);
		else
			spw_sleep_ms(200);
	}
}

static bool gt(double v, double arg)
{
	return v > arg;
}

static bool eq(double v, double arg)
{
	return v == arg;
}

/*
 * A connection from tier t's source (0 critical over IPv6, 1 standard, 2 sheddable from
 * SHED_SRC): SPW_CONN_OK (and the server side accepted in *srv), or the negative errno.
 */
static int connect_from(struct test_ctx *c, int t, int *cli, int *srv)
{
	int family = t == 0 ? AF_INET6 : AF_INET;
	struct sockaddr_storage src, dst;
	int slen = spw_topo_sockaddr(&c->topo, SPW_TOPO_CLI, family, 0, &src);
	int dlen = spw_topo_sockaddr(&c->topo, SPW_TOPO_SRV, family, SVC_PORT, &dst);
	double ms;
	int r;

	assert_true(slen > 0 && dlen > 0);
	if (t == 2)
		assert_int_equal(
		    inet_pton(AF_INET, SHED_SRC, &((struct sockaddr_in *)&src)->sin_addr), 1);
	*cli = spw_fds_track(
	    &c->fds, spw_netns_socket(c->topo.end[SPW_TOPO_CLI].ns, family, SOCK_STREAM, 0));
	assert_int_equal(bind(*cli, (struct sockaddr *)&src, (socklen_t)slen), 0);
	r = spw_connect_timed(*cli, &dst, (socklen_t)dlen, IO_TIMEOUT_MS, IO_TIMEOUT_MS, &ms);
	if (r != SPW_CONN_OK) {
		spw_fds_close(&c->fds, *cli);
		return r == SPW_CONN_PENDING ? -ETIMEDOUT : r;
	}
	assert_true(spw_sock_readable(c->lfd[family == AF_INET6], IO_TIMEOUT_MS));
	*srv =
	    spw_fds_track(&c->fds, accept4(c->lfd[family == AF_INET6], NULL, NULL, SOCK_CLOEXEC));
	spw_sock_timeouts(*srv, IO_TIMEOUT_MS);
	return SPW_CONN_OK;
}

/* An admitted connection with a few request/response exchanges (latency samples); kept open. */
static void admitted_exchange(struct test_ctx *c, int t, const char *tag)
{
	int cli, srv, r = connect_from(c, t, &cli, &srv);

	if (r != SPW_CONN_OK)
		fail_msg("%s: the %s client got %s, expected a connection", tag, tier_names[t],
			 strerror(-r));
	spw_round_trips(cli, srv, 3, tag);
}

/* ---- expectations: families ------------------------------------------------------------- */

struct family {
	const char *name;
	const char *labels[4]; /* the labels each series carries, NULL-terminated */
};

static const struct family families[] = {
    {"spillway_packets_total", {"service", "tier", "reason"}},
    {"spillway_bytes_total", {"service", "tier", "reason"}},
    {"spillway_new_flows_total", {"service", "tier", "decision"}},
    {"spillway_active_connections", {"service", "tier"}},
    {"spillway_response_latency_seconds_bucket", {"service", "tier", "le"}},
    {"spillway_response_latency_seconds_sum", {"service", "tier"}},
    {"spillway_response_latency_seconds_count", {"service", "tier"}},
    {"spillway_admit_level", {"service"}},
    {"spillway_admit_level_max", {"service"}},
    {"spillway_admit_partial_ratio", {"service"}},
    {"spillway_capacity_new_flows_per_second", {"service"}},
    {"spillway_connection_limit", {"service"}},
    {"spillway_service_connections", {"service"}},
    {"spillway_tier_shed_ratio", {"service", "tier"}},
    {"spillway_dry_run", {"service"}},
    {"spillway_override_active", {"service"}},
    {"spillway_pressure", {"service"}},
    /* The config has pool and queue signals only: each has a source. */
    {"spillway_signal_value", {"service", "signal", "source"}},
    {"spillway_signal_target", {"service", "signal", "source"}},
    {"spillway_signal_pressure", {"service", "signal", "source"}},
    {"spillway_signal_stale", {"service", "signal", "source"}},
    {"spillway_pool_in_use", {"pool"}},
    {"spillway_pool_capacity", {"pool"}},
    {"spillway_pool_waiting", {"pool"}},
    {"spillway_pool_wait_seconds", {"pool"}},
    {"spillway_queue_depth", {"queue"}},
    {"spillway_queue_limit", {"queue"}},
    {"spillway_queue_age_seconds", {"queue"}},
    {"spillway_retry_after_seconds", {"service", "bound"}},
    {"spillway_lease_remaining_seconds", {"service"}},
    {"spillway_flow_table_entries", {NULL}},
    {"spillway_flow_table_capacity", {NULL}},
    {"spillway_reports_total", {"outcome"}},
    {"spillway_controller_ticks_total", {NULL}},
    {"spillway_controller_tick_duration_seconds_bucket", {"le"}},
    {"spillway_controller_tick_duration_seconds_sum", {NULL}},
    {"spillway_controller_tick_duration_seconds_count", {NULL}},
    {"spillway_build_info", {"version"}},
};

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, list[i]))
			return true;
	return false;
}

/* A label's value must be one of a known set: names the test configured, enums. */
static void check_label_value(const char *fam, const char *label, const char *v)
{
	static const char *const decisions[] = {"admitted",  "shed_level",   "shed_cap",
						"shed_rate", "shed_reserve", "would_shed",
						"fail_open", "exempt"};
	static const char *const bounds[] = {"min", "max"};
	/* signal: the kind; source: the pool or queue it reads (no label for kernel kinds). */
	static const char *const kinds[] = {
	    "pool",	   "pool_wait",	  "queue",     "queue_age",	     "accept_queue",
	    "latency_p99", "connections", "in_flight", "oldest_request_age", "listen_overflow"};
	static const char *const sources[] = {"db", "jobs"};

	/*
	 * Packets outside any service, or counted before their tier is known (tier slot
	 * SPW_TIER_NONE), carry "none".
	 */
	bool none_ok = strstr(fam, "spillway_packets_") || strstr(fam, "spillway_bytes_") ||
		       strstr(fam, "spillway_new_flows_");

	if (!strcmp(label, "service") && strcmp(v, SVC_NAME) && !(none_ok && !strcmp(v, "none")))
		fail_msg("%s: service=\"%s\", expected \"%s\"", fam, v, SVC_NAME);
	if (!strcmp(label, "tier") && !in_list(v, tier_names, 3) &&
	    !(none_ok && !strcmp(v, "none")))
		fail_msg("%s: tier=\"%s\" is none of the configured tiers", fam, v);
	if (!strcmp(label, "decision") &&
	    !in_list(v, decisions, sizeof(decisions) / sizeof(decisions[0])))
		fail_msg("%s: decision=\"%s\" is not a decision", fam, v);
	if (!strcmp(label, "bound") && !in_list(v, bounds, 2))
		fail_msg("%s: bound=\"%s\", expected min or max", fam, v);
	if (!strcmp(label, "signal") && !in_list(v, kinds, 7))
		fail_msg("%s: signal=\"%s\" is not a signal kind", fam, v);
	if (!strcmp(label, "source") && !in_list(v, sources, 2))
		fail_msg("%s: source=\"%s\", expected a reported pool or queue", fam, v);
	if ((!strcmp(label, "pool") && strcmp(v, "db")) ||
	    (!strcmp(label, "queue") && strcmp(v, "jobs")))
		fail_msg("%s: %s=\"%s\" was never reported", fam, label, v);
}

static void check_family(struct test_ctx *c, const struct family *f)
{
	char expr[160];
	json_t *res, *j;
	size_t i, n_svc = 0;
	json_t *s;

	snprintf(expr, sizeof(expr), "{__name__=\"%s\",job=\"spillway\"}", f->name);
	j = prom_query(c, expr, &res);
	if (!json_array_size(res))
		fail_msg("family %s: no series in Prometheus", f->name);
	for (i = 0; (s = json_array_get(res, i)); i++) {
		json_t *m = json_object_get(s, "metric");
		const char *svc = json_string_value(json_object_get(m, "service"));

		n_svc += svc && !strcmp(svc, SVC_NAME);

		for (const char *const *l = f->labels; *l; l++) {
			const char *v = json_string_value(json_object_get(m, *l));

			if (!v || !*v)
				fail_msg("family %s: a series without the label %s (%zu series)",
					 f->name, *l, json_array_size(res));
			check_label_value(f->name, *l, v);
		}
	}
	if (f->labels[0] && !strcmp(f->labels[0], "service") && !n_svc)
		fail_msg("family %s: no series of service %s", f->name, SVC_NAME);
	printf("  %-50s %3zu series\n", f->name, json_array_size(res));
	json_decref(j);
}

/* ---- expectations: the dashboard -------------------------------------------------------- */

/* expr with Grafana's variables replaced; NULL-free, malloc'ed. */
static char *substitute(const char *expr)
{
	static const char *const vars[][2] = {
	    {"${service}", SVC_NAME},
	    {"$service", SVC_NAME},
	    {"${__rate_interval}", RATE_INTERVAL},
	    {"$__rate_interval", RATE_INTERVAL},
	    {"${__interval}", RATE_INTERVAL},
	    {"$__interval", RATE_INTERVAL},
	    {"$__range", "1m"},
	};
	char *s = strdup(expr);

	assert_non_null(s);
	for (size_t v = 0; v < sizeof(vars) / sizeof(vars[0]); v++) {
		char *at;

		while ((at = strstr(s, vars[v][0]))) {
			char *n;

			*at = '\0';
			assert_true(asprintf(&n, "%s%s%s", s, vars[v][1], at + strlen(vars[v][0])) >
				    0);
			free(s);
			s = n;
		}
	}
	if (strchr(s, '$'))
		fail_msg("dashboard expression with a variable the test does not know: %s", expr);
	return s;
}

/* Each target of each panel (rows nest theirs): its expr must return data. */
static void check_panels(struct test_ctx *c, json_t *panels, int *n)
{
	size_t i, k;
	json_t *p, *t;

	for (i = 0; (p = json_array_get(panels, i)); i++) {
		json_t *targets = json_object_get(p, "targets");

		check_panels(c, json_object_get(p, "panels"), n);
		for (k = 0; (t = json_array_get(targets, k)); k++) {
			const char *e = json_string_value(json_object_get(t, "expr"));
			const char *title = json_string_value(json_object_get(p, "title"));
			json_t *res, *j;
			char *q;

			if (!e)
				continue;
			q = substitute(e);
			j = prom_query(c, q, &res);
			if (json_is_array(res) && !json_array_size(res))
				fail_msg("dashboard panel \"%s\": no data for %s", title, q);
			printf("  %-40.40s %3zu series  %s\n", title,
			       json_is_array(res) ? json_array_size(res) : 1, q);
			json_decref(j);
			free(q);
			(*n)++;
		}
	}
}

/* The query variables' label_values(METRIC, LABEL) must list the service. */
static void check_variables(struct test_ctx *c, json_t *dash)
{
	json_t *vars = json_object_get(json_object_get(dash, "templating"), "list");
	size_t i;
	json_t *v;

	for (i = 0; (v = json_array_get(vars, i)); i++) {
		const char *def = json_string_value(json_object_get(v, "definition"));
		char metric[128], label[64], path[512], *enc;
		json_t *j, *vals, *x;
		bool found = false;
		size_t k;

		if (!def || strcmp(json_string_value(json_object_get(v, "type")) ?: "", "query"))
			continue;
		if (sscanf(def, "label_values(%127[^,], %63[^)])", metric, label) != 2)
			fail_msg("variable %s: cannot read %s",
				 json_string_value(json_object_get(v, "name")), def);
		enc = url_encode(metric);
		snprintf(path, sizeof(path), "/api/v1/label/%s/values?match%%5B%%5D=%s", label,
			 enc);
		free(enc);
		j = prom_api(c, path);
		vals = json_object_get(j, "data");
		for (k = 0; (x = json_array_get(vals, k)); k++)
			found |= !strcmp(json_string_value(x) ?: "", SVC_NAME);
		if (!found)
			fail_msg("dashboard variable %s (%s) does not list %s",
				 json_string_value(json_object_get(v, "name")), def, SVC_NAME);
		printf("  variable %s = %s: lists %s\n",
		       json_string_value(json_object_get(v, "name")), def, SVC_NAME);
		json_decref(j);
	}
}

/* ---- setup and teardown ------------------------------------------------------------------ */

static void build(struct test_ctx *c)
{
	char bin[PATH_MAX], cfg[4096], host[32];
	int n;

	assert_int_equal(spw_daemon_binary(bin, sizeof(bin)), 0);
	assert_int_equal(spw_topo_create(&c->topo), 0);
	assert_int_equal(spw_topo_peer_xdp(&c->topo, &c->empty), 0);
	c->lfd[0] =
	    spw_fds_track(&c->fds, spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, SVC_PORT, 64));
	c->lfd[1] =
	    spw_fds_track(&c->fds, spw_topo_listen(&c->topo, AF_INET6, SOCK_STREAM, SVC_PORT, 64));
	snprintf(host, sizeof(host), "%s/32", SHED_SRC);
	{
		const char *add[] = {"-n",  c->topo.end[SPW_TOPO_CLI].ns,     "addr", "add", host,
				     "dev", c->topo.end[SPW_TOPO_CLI].ifname, NULL};
		const char *route[] = {
		    "-n",  c->topo.end[SPW_TOPO_SRV].ns,     "route", "add", host,
		    "dev", c->topo.end[SPW_TOPO_SRV].ifname, NULL};

		assert_int_equal(spw_netns_ip(add), 0);
		assert_int_equal(spw_netns_ip(route), 0);
	}

	assert_int_equal(spw_daemon_init(&c->d, c->topo.end[SPW_TOPO_SRV].ns, true), 0);
	n = snprintf(cfg, sizeof(cfg),
		     "# spillwayd under test (tests/netns/test_prometheus.c)\n"
		     "interfaces: [{name: %s, mode: xdp}]\n"
		     "tiers: [critical, standard, sheddable]\n"
		     "classify:\n"
		     "  - {cidr: \"%s/128\", tier: critical}\n"
		     "  - {cidr: 10.0.0.0/8, tier: sheddable}\n"
		     "services:\n"
		     "  - name: " SVC_NAME "\n"
		     "    protocol: tcp\n"
		     "    port: %d\n"
		     "    default_tier: standard\n"
		     "    shed_action: {standard: reject, sheddable: reject}\n"
		     "    signals:\n"
		     "      - {pool: db, target: 0.85}\n"
		     "      - {queue: jobs, target: 0.9}\n"
		     "controller: {tick: %dms, lease: 1s, cohort_rotation: 1h, stale_after: 2s}\n",
		     c->topo.end[SPW_TOPO_SRV].ifname, c->topo.end[SPW_TOPO_CLI].v6_str, SVC_PORT,
		     TICK_MS);
	assert_true(n > 0 && (size_t)n < sizeof(cfg));
	assert_int_equal(spw_daemon_launch(&c->d, cfg, SVC_ID, READY_TIMEOUT_MS), 0);

	prom_start(c);
}

static void prom_wait_ready(struct test_ctx *c)
{
	double t0 = spw_now_ms();
	char *body = NULL;
	int st;

	for (;;) {
		int ws;

		st = prom_get(c, "/-/ready", &body);
		free(body);
		if (st == 200)
			break;
		if (waitpid(c->prom, &ws, WNOHANG) == c->prom) {
			c->prom = 0;
			prom_log_dump(c);
			fail_msg("prometheus exited (status 0x%x) before it was ready", ws);
		}
		if (spw_now_ms() - t0 > PROM_READY_MS) {
			prom_log_dump(c);
			fail_msg("prometheus not ready after %d ms", PROM_READY_MS);
		}
		spw_sleep_ms(100);
	}
	printf("prometheus ready in %.0f ms\n", spw_now_ms() - t0);
}

static int setup(void **state)
{
	struct test_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->pump = (struct spw_pump){.d = &c->d, .period_ms = TICK_MS, .line2 = REPORT_QUEUE};
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *c = *state;

	if (!c)
		return 0;
	spw_fds_close_all(&c->fds);
	prom_stop(c);
	if (getenv("SPW_TEST_LOGS"))
		prom_log_dump(c);
	if (c->prom_dir[0])
		spw_rm_tree(c->prom_dir);
	spw_daemon_finish(&c->d);
	empty_xdp__destroy(c->empty);
	spw_topo_destroy(&c->topo);
	free(c);
	*state = NULL;
	return 0;
}

/* ---- the tests --------------------------------------------------------------------------- */

static void test_promtool_rules(void **state)
{
	struct test_ctx *c = *state;
	char rules[PATH_MAX + 64], tests[PATH_MAX + 64];
	char *check[] = {"promtool", "check", "rules", rules, NULL};
	char *unit[] = {"promtool", "test", "rules", tests, NULL};

	find_root(c);
	snprintf(rules, sizeof(rules), "%s/tools/prometheus/alerts.yml", c->root);
	snprintf(tests, sizeof(tests), "%s/tests/prometheus/alerts_test.yml", c->root);
	assert_int_equal(run(check), 0);
	assert_int_equal(run(unit), 0);
}

/* Counters that must grow while traffic flows and the controller runs. */
static const char *const growing[] = {
    "sum(spillway_controller_ticks_total)",
    "sum(spillway_controller_tick_duration_seconds_count)",
    "sum(spillway_reports_total{outcome=\"accepted\"})",
    "sum(spillway_packets_total{service=\"" SVC_NAME "\"})",
    "sum(spillway_bytes_total{service=\"" SVC_NAME "\"})",
    "sum(spillway_new_flows_total{service=\"" SVC_NAME "\",decision=\"admitted\"})",
    "sum(spillway_new_flows_total{service=\"" SVC_NAME "\",decision=~\"shed_.*\"})",
    "sum(spillway_response_latency_seconds_count{service=\"" SVC_NAME "\"})",
};
#define N_GROWING (sizeof(growing) / sizeof(growing[0]))

static void test_prometheus_scrape(void **state)
{
	struct test_ctx *c = *state;
	double before[N_GROWING], t0, v;
	json_t *dash, *j, *x, *groups;
	json_error_t jerr;
	char path[PATH_MAX + 64];
	int cli, srv, r, n = 0, n_rules = 0;
	size_t i, k;

	find_root(c);
	build(c);
	prom_wait_ready(c);

	/* Admitted traffic on two tiers, kept open; reports at low saturation. */
	c->pump.line = REPORT_LOW;
	admitted_exchange(c, 0, "critical, before");
	admitted_exchange(c, 1, "standard, before");
	admitted_exchange(c, 2, "sheddable, before");
	v = prom_wait(c, "up{job=\"spillway\"}", eq, 1, SCRAPE_WAIT_MS, true);
	if (v != 1) {
		j = prom_api(c, "/api/v1/targets");
		x = json_array_get(json_object_get(json_object_get(j, "data"), "activeTargets"), 0);
		fail_msg("Prometheus does not scrape spillwayd: up = %g, last error: %s", v,
			 json_string_value(json_object_get(x, "lastError")) ?: "?");
	}
	/* The pool report made it into a scrape: then the first sample of everything is in. */
	v = prom_wait(c, "sum(spillway_pool_in_use)", gt, 0, SCRAPE_WAIT_MS, true);
	if (!(v > 0))
		fail_msg("spillway_pool_in_use never showed the reported pool (value %g)", v);
	v = prom_wait(c, "sum(spillway_new_flows_total{decision=\"admitted\"})", gt, 2,
		      SCRAPE_WAIT_MS, true);
	for (i = 0; i < N_GROWING; i++) {
		before[i] = prom_value(c, growing[i]);
		printf("before: %-70s %g\n", growing[i], before[i]);
	}

	/* Saturation: the sheddable tier is refused (reject sends an RST). */
	c->pump.line = REPORT_FULL;
	t0 = spw_now_ms();
	for (;;) {
		r = connect_from(c, 2, &cli, &srv);
		if (r == -ECONNREFUSED)
			break;
		if (r != SPW_CONN_OK)
			fail_msg("the sheddable client got %s while waiting to be shed",
				 strerror(-r));
		spw_fds_close(&c->fds, srv);
		spw_fds_close(&c->fds, cli);
		if (spw_now_ms() - t0 > SHED_WAIT_MS)
			fail_msg("the sheddable tier is still admitted %d ms into saturation",
				 SHED_WAIT_MS);
		wait_pumping(c, 20);
	}
	printf("sheddable tier refused %.0f ms after the first full report\n", spw_now_ms() - t0);
	for (int s = 0; s < 3; s++) {
		r = connect_from(c, 2, &cli, &srv);
		assert_int_equal(r, -ECONNREFUSED);
	}
	admitted_exchange(c, 0, "critical, under pressure");
	admitted_exchange(c, 0, "critical, under pressure, again");

	/* Every counter grows within a few scrapes. */
	for (i = 0; i < N_GROWING; i++) {
		v = prom_wait(c, growing[i], gt, isnan(before[i]) ? 0 : before[i], SCRAPE_WAIT_MS,
			      true);
		printf("after:  %-70s %g\n", growing[i], v);
		if (!(v > (isnan(before[i]) ? 0 : before[i])))
			fail_msg("%s did not increase: %g, then %g", growing[i], before[i], v);
	}
	/* A few more scrapes under pressure, so each rate window holds several samples. */
	wait_pumping(c, 3 * SCRAPE_S * 1000);

	printf("families:\n");
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		check_family(c, &families[i]);

	snprintf(path, sizeof(path), "%s/tools/grafana/spillway.json", c->root);
	dash = json_load_file(path, 0, &jerr);
	if (!dash)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
	printf("dashboard:\n");
	check_variables(c, dash);
	check_panels(c, json_object_get(dash, "panels"), &n);
	json_decref(dash);
	assert_true(n > 0);
	printf("%d dashboard expressions returned data\n", n);

	/* The alert rules loaded into the real server and evaluate without errors. */
	j = prom_api(c, "/api/v1/rules");
	groups = json_object_get(json_object_get(j, "data"), "groups");
	for (i = 0; (x = json_array_get(groups, i)); i++) {
		json_t *rules = json_object_get(x, "rules"), *rule;

		for (k = 0; (rule = json_array_get(rules, k)); k++) {
			const char *h = json_string_value(json_object_get(rule, "health"));

			if (h && strcmp(h, "ok") && strcmp(h, "unknown"))
				fail_msg("rule %s: health %s: %s",
					 json_string_value(json_object_get(rule, "name")), h,
					 json_string_value(json_object_get(rule, "lastError"))
					     ?: "");
			n_rules++;
		}
	}
	json_decref(j);
	printf("%d alert rules loaded into Prometheus\n", n_rules);
	assert_true(n_rules >= 6);
	assert_true(spw_daemon_alive(&c->d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_promtool_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus_scrape, setup, teardown),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("netns prometheus", tests, NULL, NULL);
}
