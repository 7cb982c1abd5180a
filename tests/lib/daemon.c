// SPDX-License-Identifier: GPL-2.0-only
/* The real spillwayd under a test's control (see daemon.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "daemon.h"
#include "http.h"
#include "spillway_state.h"
#include "util.h"

/* Where iproute2 keeps named namespaces (netns.c creates them there). */
#define NETNS_DIR "/var/run/netns"

/* How often the pollers below look again: a tenth of the shortest tick the config allows. */
#define POLL_STEP_MS 1

static struct spw_daemon *open_list;
static unsigned int daemon_counter;
static bool exit_hook_set;

/*
 * Pin roots and folders of test processes that died before their cleanup (kill -9, a crash):
 * named by the pid, removed once that pid is gone. A live owner keeps its own.
 */
static void sweep_dead_in(const char *parent, const char *prefix)
{
	size_t plen = strlen(prefix);
	struct dirent *e;
	DIR *dir = opendir(parent);

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char path[PATH_MAX];
		unsigned int n;
		int pid;

		if (strncmp(e->d_name, prefix, plen) ||
		    sscanf(e->d_name + plen, "%d-%u", &pid, &n) != 2 || pid <= 0 || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		fprintf(stderr, "daemon: removing %s left by process %d, which is gone\n", path,
			pid);
		spw_rm_tree(path);
	}
	closedir(dir);
}

static void sweep_dead(void)
{
	/* The prefixes are "/sys/fs/bpf/spw-dtest-" and "/tmp/spw-dtest-": split at the slash. */
	sweep_dead_in("/sys/fs/bpf", strrchr(SPW_DAEMON_PIN_PREFIX, '/') + 1);
	sweep_dead_in("/tmp", strrchr(SPW_DAEMON_DIR_PREFIX, '/') + 1);
}

static void cleanup_all_at_exit(void)
{
	while (open_list)
		spw_daemon_cleanup(open_list);
}

static void list_remove(struct spw_daemon *d)
{
	for (struct spw_daemon **p = &open_list; *p; p = &(*p)->next_open) {
		if (*p == d) {
			*p = d->next_open;
			break;
		}
	}
	d->next_open = NULL;
}

static int path_in(const struct spw_daemon *d, char *out, const char *file)
{
	if (snprintf(out, SPW_DAEMON_PATH_LEN, "%s/%s", d->dir, file) >= SPW_DAEMON_PATH_LEN)
		return -ENAMETOOLONG;
	return 0;
}

int spw_daemon_init(struct spw_daemon *d, const char *ns, bool metrics)
{
	struct stat st;
	unsigned int n;
	int fd, err;

	memset(d, 0, sizeof(*d));
	d->report_fd = -1;
	if (!ns || strlen(ns) >= sizeof(d->ns))
		return -EINVAL;
	snprintf(d->ns, sizeof(d->ns), "%s", ns);
	if (!exit_hook_set && atexit(cleanup_all_at_exit) == 0)
		exit_hook_set = true;
	sweep_dead();

	/* A pin root nobody uses: a leftover of a recycled pid is skipped, not reused. */
	do {
		n = daemon_counter++;
		snprintf(d->pin_root, sizeof(d->pin_root), SPW_DAEMON_PIN_PREFIX "%d-%u",
			 (int)getpid(), n);
	} while (stat(d->pin_root, &st) == 0);
	snprintf(d->dir, sizeof(d->dir), SPW_DAEMON_DIR_PREFIX "%d-%u-XXXXXX", (int)getpid(), n);
	if (!mkdtemp(d->dir)) {
		err = -errno;
		fprintf(stderr, "daemon: cannot make a folder %s: %s\n", d->dir, strerror(errno));
		d->dir[0] = '\0';
		return err;
	}
	/* Registered as soon as there is something to remove. */
	d->inited = true;
	d->next_open = open_list;
	open_list = d;

	err = path_in(d, d->config, "spillway.yaml");
	if (!err)
		err = path_in(d, d->log, "spillwayd.log");
	if (!err)
		err = path_in(d, d->report_sock, "report.sock");
	if (err) {
		fprintf(stderr, "daemon: paths under %s are too long\n", d->dir);
		goto fail;
	}
	if (metrics)
		snprintf(d->metrics, sizeof(d->metrics), "127.0.0.1:%d", SPW_DAEMON_METRICS_PORT);

	fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "daemon: cannot create %s: %s\n", d->log, strerror(errno));
		goto fail;
	}
	close(fd);
	d->report_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->report_fd < 0) {
		err = -errno;
		fprintf(stderr, "daemon: report socket: %s\n", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	spw_daemon_cleanup(d);
	return err;
}

static int write_file(struct spw_daemon *d, const char *text, const char *tail)
{
	char tmp[SPW_DAEMON_PATH_LEN + 8];
	FILE *f;
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", d->config);
	f = fopen(tmp, "we");
	if (!f) {
		err = -errno;
		fprintf(stderr, "daemon: cannot write %s: %s\n", tmp, strerror(errno));
		return err;
	}
	fputs(text, f);
	if (tail)
		fputs(tail, f);
	if (fflush(f) || ferror(f))
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	/* rename is atomic: a reload racing with this write reads one file or the other. */
	if (!err && rename(tmp, d->config))
		err = -errno;
	if (err) {
		fprintf(stderr, "daemon: cannot write %s: %s\n", d->config, strerror(-err));
		unlink(tmp);
	}
	return err;
}

int spw_daemon_write_config(struct spw_daemon *d, const char *yaml)
{
	char tail[3 * SPW_DAEMON_PATH_LEN + 256];
	size_t len = strlen(yaml);

	/* Quoted: a path with a ':' or a '#' must not change the YAML's meaning. */
	snprintf(tail, sizeof(tail),
		 "%s"
		 "# Added by tests/lib/daemon.c for this run.\n"
		 "metrics: {listen: \"%s\"}\n"
		 "report: {socket: \"%s\"}\n"
		 "state_dir: \"%s\"\n",
		 len && yaml[len - 1] != '\n' ? "\n" : "", d->metrics[0] ? d->metrics : "off",
		 d->report_sock, d->dir);
	return write_file(d, yaml, tail);
}

int spw_daemon_write_raw(struct spw_daemon *d, const char *text)
{
	return write_file(d, text, NULL);
}

int spw_daemon_binary(char *buf, size_t len)
{
	const char *env = getenv("SPW_DAEMON");
	char self[PATH_MAX];
	ssize_t n;

	if (env && env[0]) {
		snprintf(buf, len, "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return -errno;
		self[n] = '\0';
		/* BUILD/tests/LAYER/test_x: three levels up is BUILD. */
		for (int i = 0; i < 3; i++) {
			char *slash = strrchr(self, '/');

			if (!slash)
				return -ENOENT;
			*slash = '\0';
		}
		if (snprintf(buf, len, "%s/spillwayd", self) >= (int)len)
			return -ENAMETOOLONG;
	}
	if (access(buf, X_OK)) {
		int err = -errno;

		fprintf(stderr,
			"daemon: %s is missing or not executable (%s): build it with "
			"`make build/spillwayd` (part of `make all`), or set SPW_DAEMON\n",
			buf, strerror(errno));
		return err;
	}
	return 0;
}

int spw_daemon_cli_binary(char *buf, size_t len)
{
	char daemon[PATH_MAX], *slash;
	int err = spw_daemon_binary(daemon, sizeof(daemon));

	if (err)
		return err;
	slash = strrchr(daemon, '/');
	if (snprintf(buf, len, "%.*s/spillway", slash ? (int)(slash - daemon) : 1,
		     slash ? daemon : ".") >= (int)len)
		return -ENAMETOOLONG;
	if (access(buf, X_OK)) {
		err = -errno;
		fprintf(stderr,
			"daemon: %s is missing or not executable (%s): build it with "
			"`make build/spillway` (part of `make all`)\n",
			buf, strerror(errno));
		return err;
	}
	return 0;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (long)st.st_size;
}

int spw_daemon_start(struct spw_daemon *d)
{
	char bin[PATH_MAX], nspath[sizeof(NETNS_DIR) + SPW_NETNS_NAME_LEN];
	pid_t parent = getpid(), pid;
	int nsfd, logfd, nullfd, err;

	if (!d->inited)
		return -EINVAL;
	if (d->pid) {
		fprintf(stderr, "daemon: already running as %d\n", (int)d->pid);
		return -EBUSY;
	}
	err = spw_daemon_binary(bin, sizeof(bin));
	if (err)
		return err;
	snprintf(nspath, sizeof(nspath), NETNS_DIR "/%s", d->ns);
	/* Everything the child needs is opened here: between fork and exec only syscalls. */
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	logfd = open(d->log, O_WRONLY | O_APPEND | O_CLOEXEC);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || logfd < 0 || nullfd < 0) {
		err = -errno;
		fprintf(stderr, "daemon: cannot open %s, %s or /dev/null: %s\n", nspath, d->log,
			strerror(errno));
		goto out;
	}
	d->run_start = file_size(d->log);
	d->mark = d->run_start;

	pid = fork();
	if (pid < 0) {
		err = -errno;
		fprintf(stderr, "daemon: fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		const char *argv[] = {
		    bin, "-c", d->config, "--pin-root", d->pin_root, d->quiet ? NULL : "-v", NULL};
		sigset_t none;

		/* A daemon outliving a crashed test would keep a namespace's veth shedding. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* Only the network namespace: bpffs and /sys stay the test's (see daemon.h). */
		if (setns(nsfd, CLONE_NEWNET))
			_exit(126);
		if (dup2(nullfd, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
		    dup2(logfd, STDERR_FILENO) < 0)
			_exit(125);
		/* No socket of the test may live on in the daemon (and keep a connection up). */
		close_range(3, ~0U, 0);
		/* The test's handlers and mask are not the daemon's business. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	d->pid = pid;
	d->status = 0;
	err = 0;
out:
	if (nsfd >= 0)
		close(nsfd);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	return err;
}

bool spw_daemon_alive(struct spw_daemon *d)
{
	return spw_child_alive(&d->pid, &d->status);
}

static void describe_exit(const struct spw_daemon *d)
{
	if (WIFEXITED(d->status))
		fprintf(stderr, "daemon: spillwayd exited with status %d\n",
			WEXITSTATUS(d->status));
	else if (WIFSIGNALED(d->status))
		fprintf(stderr, "daemon: spillwayd was killed by signal %d\n", WTERMSIG(d->status));
}

/* The current run's log: from its start. */
static char *read_log_from(struct spw_daemon *d, long from)
{
	long size = file_size(d->log), len;
	char *buf;
	FILE *f;

	if (from > size)
		from = size;
	len = size - from;
	buf = malloc((size_t)len + 1);
	if (!buf)
		return NULL;
	f = fopen(d->log, "re");
	if (!f || fseek(f, from, SEEK_SET)) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	len = (long)fread(buf, 1, (size_t)len, f);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static bool log_has_from(struct spw_daemon *d, long from, const char *needle)
{
	char *log = read_log_from(d, from);
	bool found = log && strstr(log, needle);

	free(log);
	return found;
}

int spw_daemon_poll_ready(struct spw_daemon *d, uint32_t svc_id)
{
	struct spw_dp_opts o = {.pin_root = d->pin_root};
	struct spw_policy p;
	char body[256];
	int err;

	if (!spw_daemon_alive(d)) {
		describe_exit(d);
		spw_daemon_log_dump(d);
		return -ESRCH;
	}
	/*
	 * /healthz answers 200 only once this process has ticked: the exporter is per process,
	 * so an answer cannot come from a run before a restart. Without the exporter, the log
	 * line printed right before the loop's first tick has to do.
	 */
	if (d->metrics[0]) {
		if (spw_daemon_http_get(d, "/healthz", body, sizeof(body)) != 200)
			return 0;
	} else if (!log_has_from(d, d->run_start, "running: ")) {
		return 0;
	}
	if (!d->dp) {
		/* The maps exist now (the daemon loads before it serves): reuse them by pin. */
		err = spw_dp_open(&d->dp, &o);
		if (err) {
			fprintf(stderr, "daemon: opening the maps under %s: %s\n", d->pin_root,
				strerror(-err));
			return err;
		}
	}
	if (!svc_id)
		return 1;
	if (spw_dp_policy_get(d->dp, svc_id, &p))
		return 0;
	return p.lease_expires_ns > spw_now_ns();
}

int spw_daemon_wait_ready(struct spw_daemon *d, uint32_t svc_id, int timeout_ms)
{
	double deadline = spw_now_ms() + timeout_ms;
	int ret;

	for (;;) {
		ret = spw_daemon_poll_ready(d, svc_id);
		if (ret)
			return ret < 0 ? ret : 0;
		if (spw_now_ms() > deadline)
			break;
		spw_sleep_ms(POLL_STEP_MS);
	}
	fprintf(stderr, "daemon: not ready after %d ms\n", timeout_ms);
	spw_daemon_log_dump(d);
	return -ETIMEDOUT;
}

int spw_daemon_launch(struct spw_daemon *d, const char *yaml, uint32_t svc_id, int timeout_ms)
{
	return spw_daemon_write_config(d, yaml) ?: spw_daemon_start(d)
						 ?: spw_daemon_wait_ready(d, svc_id, timeout_ms);
}

int spw_daemon_signal(struct spw_daemon *d, int sig)
{
	if (!d->pid)
		return -ESRCH;
	return kill(d->pid, sig) ? -errno : 0;
}

static int reap(struct spw_daemon *d)
{
	int status;

	while (waitpid(d->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			int err = -errno;

			d->pid = 0;
			return err;
		}
	}
	d->status = status;
	d->pid = 0;
	return 0;
}

int spw_daemon_kill9(struct spw_daemon *d)
{
	if (!d->pid)
		return -ESRCH;
	kill(d->pid, SIGKILL);
	return reap(d);
}

int spw_daemon_stop(struct spw_daemon *d, int timeout_ms)
{
	double deadline = spw_now_ms() + timeout_ms;
	int err = spw_daemon_signal(d, SIGTERM);

	if (err)
		return err;
	while (spw_daemon_alive(d)) {
		if (spw_now_ms() > deadline) {
			fprintf(stderr, "daemon: still running %d ms after SIGTERM; killing it\n",
				timeout_ms);
			spw_daemon_kill9(d);
			return -ETIMEDOUT;
		}
		spw_sleep_ms(POLL_STEP_MS);
	}
	if (WIFEXITED(d->status))
		return WEXITSTATUS(d->status);
	return -EINTR;
}

int spw_daemon_report_raw(struct spw_daemon *d, const void *buf, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ssize_t n;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->report_sock);
	n = sendto(d->report_fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
	if (n < 0) {
		int err = -errno;

		fprintf(stderr, "daemon: report to %s: %s\n", d->report_sock, strerror(errno));
		return err;
	}
	return n == (ssize_t)len ? 0 : -EMSGSIZE;
}

int spw_daemon_report(struct spw_daemon *d, const char *line)
{
	return spw_daemon_report_raw(d, line, strlen(line));
}

void spw_daemon_log_mark(struct spw_daemon *d)
{
	d->mark = file_size(d->log);
}

char *spw_daemon_log_since_mark(struct spw_daemon *d)
{
	return read_log_from(d, d->mark);
}

bool spw_daemon_log_has(struct spw_daemon *d, const char *needle)
{
	return log_has_from(d, d->mark, needle);
}

int spw_daemon_log_wait(struct spw_daemon *d, const char *needle, int timeout_ms)
{
	double deadline = spw_now_ms() + timeout_ms;

	while (!spw_daemon_log_has(d, needle)) {
		if (spw_now_ms() > deadline) {
			fprintf(stderr, "daemon: no \"%s\" in the log after %d ms\n", needle,
				timeout_ms);
			return -ETIMEDOUT;
		}
		spw_sleep_ms(POLL_STEP_MS);
	}
	return 0;
}

void spw_daemon_log_dump(struct spw_daemon *d)
{
	char *log = read_log_from(d, 0);

	fprintf(stderr, "---- spillwayd log (%s) ----\n%s---- end of log ----\n", d->log,
		log ? log : "(unreadable)\n");
	free(log);
}

/* The exporter's port: what d->metrics says (a test that asked for :0 stores the chosen one). */
static uint16_t metrics_port(const struct spw_daemon *d)
{
	const char *colon = strrchr(d->metrics, ':');

	return colon ? (uint16_t)atoi(colon + 1) : SPW_DAEMON_METRICS_PORT;
}

int spw_daemon_http_get(struct spw_daemon *d, const char *path, char *body, size_t len)
{
	if (!d->metrics[0])
		return -EINVAL;
	return spw_http_get(d->ns, metrics_port(d), path, body, len);
}

int spw_daemon_metric(struct spw_daemon *d, const char *series, double *value)
{
	if (!d->metrics[0])
		return -EINVAL;
	return spw_http_metric(d->ns, metrics_port(d), series, value);
}

void spw_daemon_finish(struct spw_daemon *d)
{
	if (!d || !d->inited)
		return;
	if ((d->pid && !spw_daemon_alive(d)) || getenv("SPW_TEST_LOGS"))
		spw_daemon_log_dump(d);
	spw_daemon_cleanup(d);
}

void spw_daemon_cleanup(struct spw_daemon *d)
{
	if (!d || !d->inited)
		return;
	if (d->pid)
		spw_daemon_kill9(d);
	if (d->dp) {
		/* Unpinning the XDP link, which nothing else holds now, detaches the program. */
		int err = spw_dp_unpin_all(d->dp);

		if (err)
			fprintf(stderr, "daemon: unpinning %s: %s (removing it by hand)\n",
				d->pin_root, strerror(-err));
		spw_dp_close(d->dp);
		d->dp = NULL;
	}
	spw_rm_tree(d->pin_root);
	if (d->report_fd >= 0)
		close(d->report_fd);
	d->report_fd = -1;
	spw_rm_tree(d->dir);
	list_remove(d);
	d->inited = false;
}

int spw_daemon_state(struct spw_daemon *d, struct spw_state_file *st)
{
	char path[SPW_DAEMON_PATH_LEN + 16];
	void *map;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->dir, SPW_STATE_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	map = mmap(NULL, sizeof(*st), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	memcpy(st, map, sizeof(*st));
	munmap(map, sizeof(*st));
	return st->magic == SPW_STATE_MAGIC ? 0 : -EPROTO;
}
