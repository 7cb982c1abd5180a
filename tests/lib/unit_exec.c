// SPDX-License-Identifier: GPL-2.0-only
/* A unit's service started as systemd would start it (see unit_exec.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cmd.h"
#include "unit_exec.h"
#include "util.h"

#define SVC "Service"
/* systemd's PATH for services (without /usr/local on a merged-/usr system, with it here). */
#define UNIT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Variables the child gets: the unit's Environment= plus what systemd itself sets. */
#define ENV_MAX 48

/* Capability names by number, as CapabilityBoundingSet= spells them. */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

/* What the child applies, worked out before the fork. */
struct plan {
	char *argv[SPW_UNIT_WORDS + 1];
	char *env[ENV_MAX + 2]; /* and WATCHDOG_PID, and the NULL */
	int nenv;
	bool keep_cap[NCAPS];
	bool bound; /* CapabilityBoundingSet= is set */
	bool nnp;
	gid_t groups[8];
	int ngroups;
	mode_t umask;
};

static const char *const refused[] = {
    "User",	     "Group",	 "DynamicUser", "EnvironmentFile", "WorkingDirectory",
    "RootDirectory", "RootImage"};

int spw_unit_exec_init(struct spw_unit_exec *x, const char *unit_path, const char *ns,
		       const char *log_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *wd;
	int one = 1, err;

	memset(x, 0, sizeof(*x));
	x->notify_fd = -1;
	err = spw_unit_load(&x->unit, unit_path);
	if (err) {
		fprintf(stderr, "unit_exec: cannot read %s: %s\n", unit_path, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (spw_unit_get(&x->unit, SVC, refused[i])) {
			fprintf(stderr,
				"unit_exec: %s sets %s=, which this emulation does not do\n",
				unit_path, refused[i]);
			return -ENOTSUP;
		}
	}
	wd = spw_unit_get(&x->unit, SVC, "WatchdogSec");
	if (wd) {
		int64_t us = spw_unit_usec(wd);

		if (us < 0) {
			fprintf(stderr, "unit_exec: WatchdogSec=%s is not a time span\n", wd);
			return -EINVAL;
		}
		x->watchdog_usec = (uint64_t)us;
	}
	snprintf(x->ns, sizeof(x->ns), "%s", ns);
	snprintf(x->log, sizeof(x->log), "%s", log_path);
	snprintf(x->dir, sizeof(x->dir), "/tmp/spw-notify-XXXXXX");
	if (!mkdtemp(x->dir)) {
		x->dir[0] = '\0';
		return -errno;
	}
	snprintf(x->sock_path, sizeof(x->sock_path), "%s/notify", x->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", x->sock_path);
	x->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->notify_fd < 0)
		return -errno;
	/* The sender's credentials with each datagram: NotifyAccess=main checks the pid. */
	if (setsockopt(x->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(x->notify_fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	return 0;
}

static int cap_number(const char *name)
{
	for (int i = 0; i < NCAPS; i++)
		if (!strcasecmp(name, cap_names[i]))
			return i;
	return -1;
}

static int add_env(struct plan *p, const char *kv)
{
	if (p->nenv == ENV_MAX || !(p->env[p->nenv] = strdup(kv)))
		return -E2BIG;
	p->nenv++;
	return 0;
}

static void plan_free(struct plan *p)
{
	spw_unit_words_free(p->argv, SPW_UNIT_WORDS);
	spw_unit_words_free(p->env, p->nenv);
}

static int plan_caps(struct spw_unit_exec *x, struct plan *p)
{
	char *words[NCAPS + 8];
	int n = spw_unit_list(&x->unit, SVC, "CapabilityBoundingSet", words, NCAPS + 8), err = 0;

	if (n < 0)
		return n;
	p->bound = n > 0;
	for (int i = 0; i < n; i++) {
		int c = cap_number(words[i]);

		if (words[i][0] == '~' || c < 0) {
			fprintf(stderr, "unit_exec: CapabilityBoundingSet: '%s' is not emulated\n",
				words[i]);
			err = -ENOTSUP;
			break;
		}
		p->keep_cap[c] = true;
	}
	spw_unit_words_free(words, n);
	return err;
}

static int plan_groups(struct spw_unit_exec *x, struct plan *p)
{
	char *words[8];
	int n = spw_unit_list(&x->unit, SVC, "SupplementaryGroups", words, 8), err = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct group *g = getgrnam(words[i]);

		/* systemd fails the start the same way (status 216/GROUP). */
		if (!g) {
			fprintf(stderr, "unit_exec: SupplementaryGroups: no group '%s'\n",
				words[i]);
			err = -ENOENT;
			break;
		}
		p->groups[p->ngroups++] = g->gr_gid;
	}
	spw_unit_words_free(words, n);
	return err;
}

static int plan_env(struct spw_unit_exec *x, struct plan *p)
{
	char *words[SPW_UNIT_WORDS], buf[sizeof(x->sock_path) + 32];
	int n = spw_unit_list(&x->unit, SVC, "Environment", words, SPW_UNIT_WORDS), err;

	if (n < 0)
		return n;
	err = add_env(p, UNIT_PATH);
	for (int i = 0; i < n && !err; i++)
		err = add_env(p, words[i]);
	spw_unit_words_free(words, n);
	snprintf(buf, sizeof(buf), "NOTIFY_SOCKET=%s", x->sock_path);
	if (!err)
		err = add_env(p, buf);
	if (!err && x->watchdog_usec) {
		snprintf(buf, sizeof(buf), "WATCHDOG_USEC=%llu",
			 (unsigned long long)x->watchdog_usec);
		err = add_env(p, buf);
	}
	return err;
}

/* RuntimeDirectory=: /run/NAME, made before the start, with RuntimeDirectoryMode=. */
static int make_runtime_dirs(struct spw_unit_exec *x)
{
	const char *mode_s = spw_unit_get(&x->unit, SVC, "RuntimeDirectoryMode");
	mode_t mode = mode_s ? (mode_t)strtoul(mode_s, NULL, 8) : 0755;
	char *words[8], path[PATH_MAX];
	int n = spw_unit_list(&x->unit, SVC, "RuntimeDirectory", words, 8), err = 0;

	for (int i = 0; i < n && !err; i++) {
		snprintf(path, sizeof(path), "/run/%s", words[i]);
		if ((mkdir(path, mode) && errno != EEXIST) || chmod(path, mode))
			err = -errno;
	}
	spw_unit_words_free(words, n > 0 ? n : 0);
	return n < 0 ? n : err;
}

static int make_plan(struct spw_unit_exec *x, struct plan *p)
{
	const char *start = spw_unit_get(&x->unit, SVC, "ExecStart");
	const char *nnp = spw_unit_get(&x->unit, SVC, "NoNewPrivileges");
	const char *um = spw_unit_get(&x->unit, SVC, "UMask");
	int n, err;

	memset(p, 0, sizeof(*p));
	p->umask = um ? (mode_t)strtoul(um, NULL, 8) : 022;
	p->nnp = nnp && (!strcmp(nnp, "yes") || !strcmp(nnp, "true") || !strcmp(nnp, "1"));
	if (!start) {
		fprintf(stderr, "unit_exec: the unit has no ExecStart=\n");
		return -EINVAL;
	}
	err = plan_env(x, p);
	if (!err)
		err = plan_caps(x, p);
	if (!err)
		err = plan_groups(x, p);
	if (err)
		return err;
	n = spw_unit_exec_argv(start, (const char *const *)p->env, p->argv, SPW_UNIT_WORDS);
	return n < 0 ? n : 0;
}

/* In the child, between fork and exec: the unit's execution environment, then the command. */
static void child(struct spw_unit_exec *x, struct plan *p, int nsfd, int logfd, int nullfd)
{
	char pidvar[32];
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setns(nsfd, CLONE_NEWNET))
		_exit(226); /* systemd's 226/NAMESPACE */
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(209); /* 209/STDOUT */
	close_range(3, ~0U, 0);
	if (p->ngroups && setgroups((size_t)p->ngroups, p->groups))
		_exit(216); /* 216/GROUP */
	umask(p->umask);
	if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		_exit(218); /* 218/CAPABILITIES */
	for (int c = 0; p->bound && c <= CAP_LAST_CAP; c++)
		if ((c >= NCAPS || !p->keep_cap[c]) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL)
			_exit(218);
	/* WATCHDOG_PID: the main process is this one, across the exec. */
	snprintf(pidvar, sizeof(pidvar), "WATCHDOG_PID=%d", (int)getpid());
	if (x->watchdog_usec)
		p->env[p->nenv++] = pidvar;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	execve(p->argv[0], p->argv, p->env);
	_exit(203); /* 203/EXEC */
}

int spw_unit_exec_start(struct spw_unit_exec *x)
{
	const char *memlock = spw_unit_get(&x->unit, SVC, "LimitMEMLOCK");
	char nspath[128];
	struct plan p;
	int nsfd = -1, logfd = -1, nullfd = -1, err;

	if (x->pid)
		return -EBUSY;
	memset(&x->n, 0, sizeof(x->n));
	x->nmsg = x->cursor = 0;
	x->last_status[0] = '\0';
	x->ready_ms = x->last_watchdog_ms = 0;
	err = make_plan(x, &p);
	if (!err)
		err = make_runtime_dirs(x);
	if (err)
		goto out;
	/* Raising it needs CAP_SYS_RESOURCE; kernels from 5.11 charge maps to the cgroup anyway. */
	if (memlock && !strcmp(memlock, "infinity")) {
		struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};

		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			fprintf(stderr, "unit_exec: LimitMEMLOCK=infinity not applied: %s\n",
				strerror(errno));
	}
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", x->ns);
	nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	logfd = open(x->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || logfd < 0 || nullfd < 0) {
		err = -errno;
		goto out;
	}
	fprintf(stderr, "unit_exec: starting");
	for (int i = 0; p.argv[i]; i++)
		fprintf(stderr, " %s", p.argv[i]);
	fprintf(stderr, " (in %s, log %s)\n", x->ns, x->log);
	fflush(NULL);
	x->pid = fork();
	if (x->pid < 0) {
		err = -errno;
		x->pid = 0;
		goto out;
	}
	if (x->pid == 0)
		child(x, &p, nsfd, logfd, nullfd);
out:
	for (int i = 0, fds[] = {nsfd, logfd, nullfd}; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	plan_free(&p);
	return err;
}

static bool has_line(const char *text, const char *want)
{
	size_t n = strlen(want);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, want, n) && (l[n] == '\n' || !l[n]))
			return true;
	return false;
}

static void take(struct spw_unit_exec *x, const char *text)
{
	struct spw_notify_msg *m = &x->msg[x->nmsg++ % SPW_NOTIFY_KEEP];
	const char *st;

	m->at_ms = spw_now_ms();
	snprintf(m->text, sizeof(m->text), "%s", text);
	if (has_line(text, "READY=1")) {
		x->n.ready++;
		x->ready_ms = m->at_ms;
	}
	if (has_line(text, "WATCHDOG=1")) {
		x->n.watchdog++;
		x->last_watchdog_ms = m->at_ms;
	}
	x->n.reloading += has_line(text, "RELOADING=1");
	x->n.stopping += has_line(text, "STOPPING=1");
	for (st = text; st; st = strchr(st, '\n') ? strchr(st, '\n') + 1 : NULL) {
		if (!strncmp(st, "STATUS=", 7)) {
			x->n.status++;
			snprintf(x->last_status, sizeof(x->last_status), "%.*s",
				 (int)strcspn(st + 7, "\n"), st + 7);
		}
	}
}

void spw_unit_exec_drain(struct spw_unit_exec *x)
{
	char buf[SPW_NOTIFY_LEN], ctl[CMSG_SPACE(sizeof(struct ucred))];

	for (;;) {
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl,
				    .msg_controllen = sizeof(ctl)};
		struct cmsghdr *c;
		pid_t from = 0;
		ssize_t n = recvmsg(x->notify_fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			return;
		buf[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cr;

				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				from = cr.pid;
			}
		}
		if (!x->pid || from != x->pid) {
			x->n.foreign++;
			continue;
		}
		take(x, buf);
	}
}

bool spw_unit_exec_alive(struct spw_unit_exec *x)
{
	if (!x->pid)
		return false;
	/* Its last words first: they were sent before it exited, and drain needs its pid. */
	spw_unit_exec_drain(x);
	return spw_child_alive(&x->pid, &x->status);
}

void spw_unit_exec_mark(struct spw_unit_exec *x)
{
	spw_unit_exec_drain(x);
	x->cursor = x->nmsg;
}

int spw_unit_exec_wait(struct spw_unit_exec *x, const char *want, int timeout_ms)
{
	double deadline = spw_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {x->notify_fd, POLLIN, 0};

		spw_unit_exec_drain(x);
		/* Messages the ring no longer holds cannot be looked at. */
		if (x->nmsg - x->cursor > SPW_NOTIFY_KEEP)
			x->cursor = x->nmsg - SPW_NOTIFY_KEEP;
		while (x->cursor < x->nmsg)
			if (has_line(x->msg[x->cursor++ % SPW_NOTIFY_KEEP].text, want))
				return 0;
		if (!spw_unit_exec_alive(x)) {
			fprintf(stderr, "unit_exec: the main process exited before \"%s\"\n", want);
			return -ESRCH;
		}
		if (spw_now_ms() > deadline) {
			fprintf(stderr, "unit_exec: no \"%s\" within %d ms\n", want, timeout_ms);
			return -ETIMEDOUT;
		}
		poll(&pfd, 1, 20);
	}
}

int spw_unit_exec_run(struct spw_unit_exec *x, const char *key)
{
	const char *vals[16];
	char mainpid[32];
	int n = spw_unit_all(&x->unit, SVC, key, vals, 16), rc = 0;

	snprintf(mainpid, sizeof(mainpid), "MAINPID=%d", (int)x->pid);
	for (int i = 0; i < n && i < 16 && !rc; i++) {
		char *argv[SPW_UNIT_WORDS + 1];
		int words = spw_unit_exec_argv(vals[i], (const char *const[]){mainpid, NULL}, argv,
					       SPW_UNIT_WORDS);

		if (words < 0)
			return words;
		rc = spw_cmd_run((const char *const *)argv);
		spw_unit_words_free(argv, words);
	}
	return rc;
}

int spw_unit_exec_stop(struct spw_unit_exec *x, int timeout_ms)
{
	double deadline = spw_now_ms() + timeout_ms;

	if (!x->pid)
		return -ESRCH;
	kill(x->pid, SIGTERM);
	while (spw_unit_exec_alive(x)) {
		if (spw_now_ms() > deadline) {
			kill(x->pid, SIGKILL);
			waitpid(x->pid, NULL, 0);
			x->pid = 0;
			return -ETIMEDOUT;
		}
		spw_sleep_ms(5);
	}
	return WIFEXITED(x->status) ? WEXITSTATUS(x->status) : -EINTR;
}

void spw_unit_exec_cleanup(struct spw_unit_exec *x)
{
	if (x->pid) {
		kill(x->pid, SIGKILL);
		waitpid(x->pid, NULL, 0);
		x->pid = 0;
	}
	if (x->notify_fd >= 0)
		close(x->notify_fd);
	x->notify_fd = -1;
	if (x->sock_path[0])
		unlink(x->sock_path);
	if (x->dir[0])
		rmdir(x->dir);
	x->sock_path[0] = x->dir[0] = '\0';
	spw_unit_free(&x->unit);
}
