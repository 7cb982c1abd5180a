// SPDX-License-Identifier: GPL-2.0-only
/*
 * Namespace topologies for the netns tests (see netns.h).
 *
 * Namespaces and links are made with `ip`, run through posix_spawn with an argument vector
 * (no shell, nothing to quote). Deleting a namespace is done here, not with `ip netns del`:
 * it is exactly what iproute2 does (detach the bind mount of /var/run/netns/NAME, unlink it),
 * and both calls are async-signal-safe, so the same code runs from a signal handler.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "netns.h"

extern char **environ;

/* Where iproute2 keeps named namespaces (a bind mount of each namespace's nsfs inode). */
#define NETNS_DIR "/var/run/netns"

/* Namespaces alive at once in one test process: two per topology, a few topologies at most. */
#define NETNS_REG_MAX 32

/* How long a fresh veth may take to report running (carrier on, qdisc attached). */
#define NETNS_RUNNING_TIMEOUT_MS 5000

/*
 * Paths of namespaces this process created, for the cleanup backstops. A slot's path is
 * written before its used flag is set, and the namespace is created only after that, so a
 * signal handler never sees a half-written path and never misses a created namespace.
 */
static char reg_path[NETNS_REG_MAX][sizeof(NETNS_DIR) + SPW_NETNS_NAME_LEN];
static volatile sig_atomic_t reg_used[NETNS_REG_MAX];

static unsigned int topo_counter;

/* The first part of the names: "spw" unless a program chose its own (spw_netns_set_prefix). */
static char ns_prefix[SPW_NETNS_PREFIX_MAX + 1] = "spw";

int spw_netns_set_prefix(const char *prefix)
{
	size_t n = strlen(prefix);

	if (!n || n > SPW_NETNS_PREFIX_MAX || strspn(prefix, "abcdefghijklmnopqrstuvwxyz") != n) {
		fprintf(stderr, "netns: prefix \"%s\" is not 1 to %d lowercase letters\n", prefix,
			SPW_NETNS_PREFIX_MAX);
		return -EINVAL;
	}
	snprintf(ns_prefix, sizeof(ns_prefix), "%s", prefix);
	return 0;
}

/* Only the fatal signals a test run is stopped with; SEGV and friends belong to cmocka/ASan. */
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};

/* Async-signal-safe: umount2 and unlink only. Errors are ignored: gone is gone. */
static void netns_delete_path(const char *path)
{
	umount2(path, MNT_DETACH);
	unlink(path);
}

static void reg_cleanup(void)
{
	for (int i = 0; i < NETNS_REG_MAX; i++) {
		if (reg_used[i]) {
			netns_delete_path(reg_path[i]);
			reg_used[i] = 0;
		}
	}
}

void spw_netns_cleanup_all(void)
{
	reg_cleanup();
}

static void on_fatal_signal(int sig)
{
	int saved = errno;

	reg_cleanup();
	/* SA_RESETHAND restored the default action; the raised signal is delivered on return. */
	raise(sig);
	errno = saved;
}

/* A sanitizer report ends in _exit(), which skips atexit handlers; this runs before it. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* Skips "<prefix>-srv-" or "<prefix>-cli-" at the start of name: what follows, or NULL. */
static const char *skip_role(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) != 0)
		return NULL;
	name += n;
	if (strncmp(name, "-srv-", 5) != 0 && strncmp(name, "-cli-", 5) != 0)
		return NULL;
	return name + 5;
}

/*
 * Is name one this helper makes (spw-srv-<pid>-<n> / spw-cli-<pid>-<n>, or with this
 * program's prefix)? Gives the pid.
 */
static bool parse_own_name(const char *name, long *pid)
{
	const char *rest = skip_role(name, "spw");
	char *end;
	long p;

	if (!rest)
		rest = skip_role(name, ns_prefix);
	if (!rest)
		return false;
	name = rest;
	errno = 0;
	p = strtol(name, &end, 10);
	if (errno || end == name || *end != '-' || p <= 0)
		return false;
	name = end + 1;
	if (*name < '0' || *name > '9')
		return false;
	strtoul(name, &end, 10);
	if (*end != '\0')
		return false;
	*pid = p;
	return true;
}

/*
 * Namespaces a killed run (SIGKILL, power cut) could not delete: ours by their name, and the
 * process that made them is gone. A live owner, whoever it is, keeps its namespaces.
 */
static void reap_stale(void)
{
	char path[sizeof(NETNS_DIR) + 256 + 1];
	struct dirent *de;
	DIR *d;
	long pid;

	d = opendir(NETNS_DIR);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!parse_own_name(de->d_name, &pid) || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), NETNS_DIR "/%s", de->d_name);
		fprintf(stderr, "netns: removing %s left by process %ld, which is gone\n", path,
			pid);
		netns_delete_path(path);
	}
	closedir(d);
}

static void netns_init_once(void)
{
	static bool done;
	struct sigaction sa, old;

	if (done)
		return;
	done = true;

	atexit(reg_cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(cleanup_signals[0]); i++) {
		/* A signal the runner ignores (nohup) or handles itself is left alone. */
		if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(cleanup_signals[i], &sa, NULL);
	}
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(reg_cleanup);
	reap_stale();
}

static int reg_add(const char *name)
{
	for (int i = 0; i < NETNS_REG_MAX; i++) {
		if (!reg_used[i]) {
			snprintf(reg_path[i], sizeof(reg_path[i]), NETNS_DIR "/%s", name);
			/* The path is complete before a signal handler can see the slot in use. */
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			reg_used[i] = 1;
			return 0;
		}
	}
	fprintf(stderr, "netns: more than %d namespaces at once\n", NETNS_REG_MAX);
	return -ENOSPC;
}

/* Deletes the namespace and forgets it; a name never registered is left alone. */
static void reg_delete(const char *name)
{
	char path[sizeof(reg_path[0])];

	if (!name[0])
		return;
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	for (int i = 0; i < NETNS_REG_MAX; i++) {
		if (reg_used[i] && strcmp(reg_path[i], path) == 0) {
			netns_delete_path(path);
			reg_used[i] = 0;
		}
	}
}

/* Names reach paths and argument vectors: keep them to a plain file name. */
static bool ns_name_ok(const char *ns)
{
	return ns && ns[0] && ns[0] != '.' && !strchr(ns, '/') && strlen(ns) < SPW_NETNS_NAME_LEN;
}

static const char *ip_path(void)
{
	static const char *const candidates[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip",
						 "/bin/ip"};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return "ip"; /* left to PATH */
}

/* Runs `ip ARGS...` (argv without argv[0], NULL-terminated) and waits for it. */
int spw_netns_ip(const char *const *args)
{
	const char *argv[24];
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	int err, status;
	pid_t pid;

	argv[n++] = ip_path();
	for (; *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	/* `ip` has nothing to read: keep it off the test's stdin. */
	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return -err;
	err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!err)
		err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		fprintf(stderr, "netns: cannot run %s: %s\n", argv[0], strerror(err));
		return -err;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err = -errno;
			fprintf(stderr, "netns: waiting for ip: %s\n", strerror(errno));
			return err;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;

	fprintf(stderr, "netns: failed (%s %d):", WIFEXITED(status) ? "exit" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", argv[i]);
	fputc('\n', stderr);
	return -EIO;
}

int spw_netns_run(const char *ns, int (*fn)(void *arg), void *arg)
{
	char path[sizeof(NETNS_DIR) + SPW_NETNS_NAME_LEN];
	int self, target, ret, err;

	if (!ns_name_ok(ns))
		return -EINVAL;
	/* setns() moves only the calling thread: remember this thread's namespace. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		fprintf(stderr, "netns: cannot open own namespace: %s\n", strerror(errno));
		return err;
	}
	snprintf(path, sizeof(path), NETNS_DIR "/%s", ns);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		err = -errno;
		fprintf(stderr, "netns: cannot open %s: %s\n", path, strerror(errno));
		close(self);
		return err;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		err = -errno;
		fprintf(stderr, "netns: cannot enter %s: %s\n", ns, strerror(errno));
		close(target);
		close(self);
		return err;
	}
	close(target);

	ret = fn(arg);

	if (setns(self, CLONE_NEWNET) < 0) {
		/* Running on in the test namespace would send traffic to the wrong place. */
		fprintf(stderr, "netns: cannot return from %s: %s\n", ns, strerror(errno));
		abort();
	}
	close(self);
	return ret;
}

struct socket_args {
	int domain, type, protocol;
};

static int socket_in_ns(void *arg)
{
	const struct socket_args *a = arg;
	int fd;

	/* CLOEXEC: a spawned `ip` must not hold the socket, and with it the namespace, open. */
	fd = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);
	return fd < 0 ? -errno : fd;
}

int spw_netns_socket(const char *ns, int domain, int type, int protocol)
{
	struct socket_args a = {domain, type, protocol};
	int fd;

	fd = spw_netns_run(ns, socket_in_ns, &a);
	if (fd < 0)
		fprintf(stderr, "netns: socket in %s: %s\n", ns, strerror(-fd));
	return fd;
}

static int ifindex_in_ns(void *arg)
{
	unsigned int idx = if_nametoindex(arg);

	return idx ? (int)idx : -errno;
}

int spw_netns_ifindex(const char *ns, const char *ifname)
{
	int ret = spw_netns_run(ns, ifindex_in_ns, (void *)ifname);

	if (ret < 0)
		fprintf(stderr, "netns: ifindex of %s in %s: %s\n", ifname, ns, strerror(-ret));
	return ret;
}

/* The legacy ethtool ioctl is all `ethtool -K DEV tx off` needs, without the ethtool binary. */
static int ethtool_cmd(const char *ifname, struct ethtool_value *ev)
{
	struct ifreq ifr;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (char *)ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int tx_csum_off_in_ns(void *arg)
{
	struct ethtool_value ev = {.cmd = ETHTOOL_STXCSUM, .data = 0};
	int err;

	err = ethtool_cmd(arg, &ev);
	if (err)
		return err;
	/* Read it back: a device that keeps offload on would make checksum checks meaningless. */
	ev.cmd = ETHTOOL_GTXCSUM;
	ev.data = 1;
	err = ethtool_cmd(arg, &ev);
	if (err)
		return err;
	return ev.data ? -EOPNOTSUPP : 0;
}

int spw_netns_tx_csum_off(const char *ns, const char *ifname)
{
	int err = spw_netns_run(ns, tx_csum_off_in_ns, (void *)ifname);

	if (err)
		fprintf(stderr, "netns: tx checksum offload off on %s in %s: %s\n", ifname, ns,
			strerror(-err));
	return err;
}

static int is_running_in_ns(void *arg)
{
	struct ifreq ifr;
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", (const char *)arg);
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -errno : !!(ifr.ifr_flags & IFF_RUNNING);
	close(fd);
	return ret;
}

/*
 * A veth set up reports carrier at once, but its queueing discipline is attached later by the
 * link watcher; until then the stack drops what it sends. IFF_RUNNING is set by that same
 * work, so waiting for it avoids losing the first SYN of a test to a noop qdisc.
 */
static int wait_running(const struct spw_topo_end *e)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	for (int waited = 0; waited <= NETNS_RUNNING_TIMEOUT_MS; waited += 10) {
		int ret = spw_netns_run(e->ns, is_running_in_ns, (void *)e->ifname);

		if (ret < 0)
			return ret;
		if (ret)
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "netns: %s in %s is not running after %d ms\n", e->ifname, e->ns,
		NETNS_RUNNING_TIMEOUT_MS);
	return -ETIMEDOUT;
}

bool spw_netns_exists(const char *name)
{
	char path[sizeof(NETNS_DIR) + SPW_NETNS_NAME_LEN];

	if (!ns_name_ok(name))
		return false;
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	return access(path, F_OK) == 0;
}

static int end_setup(struct spw_topo_end *e)
{
	char v4[SPW_NETNS_ADDR_LEN], v6[SPW_NETNS_ADDR_LEN];
	const char *lo_up[] = {"-n", e->ns, "link", "set", "dev", "lo", "up", NULL};
	const char *if_up[] = {"-n", e->ns, "link", "set", "dev", e->ifname, "up", NULL};
	const char *add4[] = {"-n", e->ns, "-4", "addr", "add", v4, "dev", e->ifname, NULL};
	/* nodad: a tentative address cannot be bound or used as a source for a second or so. */
	const char *add6[] = {"-n", e->ns, "-6",      "addr",  "add",
			      v6,   "dev", e->ifname, "nodad", NULL};
	int err;

	snprintf(v4, sizeof(v4), "%s/24", e->v4_str);
	snprintf(v6, sizeof(v6), "%s/64", e->v6_str);
	err = spw_netns_ip(lo_up);
	if (!err)
		err = spw_netns_ip(if_up);
	if (!err)
		err = spw_netns_tx_csum_off(e->ns, e->ifname);
	if (!err)
		err = spw_netns_ip(add4);
	if (!err)
		err = spw_netns_ip(add6);
	return err;
}

static void end_init(struct spw_topo_end *e, const char *role, const char *ifname, unsigned int pid,
		     unsigned int counter, unsigned int subnet, unsigned int host)
{
	snprintf(e->ns, sizeof(e->ns), "%s-%s-%u-%u", ns_prefix, role, pid, counter);
	snprintf(e->ifname, sizeof(e->ifname), "%s", ifname);
	e->ifindex = 0;
	/* 198.18.0.0/15: the benchmarking range (RFC 2544), routed nowhere. */
	snprintf(e->v4_str, sizeof(e->v4_str), "198.18.%u.%u", subnet, host);
	/* fc00:5b::/32-style unique local addresses, the same subnet number. */
	snprintf(e->v6_str, sizeof(e->v6_str), "fc00:5b:%x::%x", subnet, host);
	inet_pton(AF_INET, e->v4_str, &e->v4);
	inet_pton(AF_INET6, e->v6_str, &e->v6);
}

int spw_topo_create(struct spw_topo *t)
{
	struct spw_topo_end *srv = &t->end[SPW_TOPO_SRV], *cli = &t->end[SPW_TOPO_CLI];
	unsigned int counter;
	int err;

	netns_init_once();
	memset(t, 0, sizeof(*t));
	counter = topo_counter++;
	/* 1..254: a valid third octet whatever the counter. */
	t->n = counter % 254 + 1;
	end_init(srv, "srv", "spw-srv0", (unsigned int)getpid(), counter, t->n, 2);
	end_init(cli, "cli", "spw-cli0", (unsigned int)getpid(), counter, t->n, 1);

	/* Registered first: a signal between `ip netns add` and here must not leak one. */
	err = reg_add(srv->ns);
	if (!err) {
		err = reg_add(cli->ns);
		if (err)
			reg_delete(srv->ns);
	}
	if (err)
		return err;
	t->created = true;

	{
		const char *add_srv[] = {"netns", "add", srv->ns, NULL};
		const char *add_cli[] = {"netns", "add", cli->ns, NULL};
		/* Both ends are born in their namespaces: nothing appears in the caller's. */
		const char *veth[] = {"-n",    srv->ns, "link", "add",	srv->ifname,
				      "type",  "veth",	"peer", "name", cli->ifname,
				      "netns", cli->ns, NULL};

		err = spw_netns_ip(add_srv);
		if (!err)
			err = spw_netns_ip(add_cli);
		if (!err)
			err = spw_netns_ip(veth);
	}
	if (!err)
		err = end_setup(srv);
	if (!err)
		err = end_setup(cli);
	if (!err)
		err = wait_running(srv);
	if (!err)
		err = wait_running(cli);
	if (!err) {
		srv->ifindex = spw_netns_ifindex(srv->ns, srv->ifname);
		cli->ifindex = spw_netns_ifindex(cli->ns, cli->ifname);
		if (srv->ifindex < 0)
			err = srv->ifindex;
		else if (cli->ifindex < 0)
			err = cli->ifindex;
	}
	if (err) {
		fprintf(stderr, "netns: topology %u could not be built: %s\n", counter,
			strerror(-err));
		spw_topo_destroy(t);
	}
	return err;
}

void spw_topo_destroy(struct spw_topo *t)
{
	if (!t || !t->created)
		return;
	/* The veth pair goes with the namespace of either end, once its last socket is closed. */
	reg_delete(t->end[SPW_TOPO_SRV].ns);
	reg_delete(t->end[SPW_TOPO_CLI].ns);
	t->created = false;
}

int spw_topo_sockaddr(const struct spw_topo *t, enum spw_topo_side side, int family, uint16_t port,
		      struct sockaddr_storage *ss)
{
	const struct spw_topo_end *e;

	if (side != SPW_TOPO_SRV && side != SPW_TOPO_CLI)
		return -EINVAL;
	e = &t->end[side];
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = e->v4;
		return (int)sizeof(*sin);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = e->v6;
		return (int)sizeof(*sin6);
	}
	return -EAFNOSUPPORT;
}

int spw_topo_addr_add(const struct spw_topo *t, enum spw_topo_side side, const char *cidr)
{
	const char *add[] = {"-n",  t->end[side].ns,	 "addr", "add", cidr,
			     "dev", t->end[side].ifname, NULL};

	return spw_netns_ip(add);
}
