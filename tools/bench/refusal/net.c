// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "spw_log.h"
#include "bench_util.h"
#include "refusal.h"

#define NETNS_DIR "/run/netns"
#define SH_MAX	  4096

int br_sh(const char *fmt, ...)
{
	char cmd[SH_MAX], out[SH_MAX];
	size_t got = 0, r;
	va_list ap;
	FILE *f;
	int st;

	/* In braces, so the redirection also holds after a here-document's last line. */
	strcpy(cmd, "{ ");
	va_start(ap, fmt);
	if (vsnprintf(cmd + 2, sizeof(cmd) - 16, fmt, ap) >= (int)sizeof(cmd) - 16) {
		va_end(ap);
		pr_warn("command too long: %.80s...\n", cmd);
		return -E2BIG;
	}
	va_end(ap);
	strcat(cmd, "\n} 2>&1");
	f = popen(cmd, "r");
	if (!f) {
		int err = -errno;

		pr_warn("cannot run %s: %s\n", cmd, strerror(-err));
		return err;
	}
	while ((r = fread(out + got, 1, sizeof(out) - 1 - got, f)) > 0)
		got += r;
	out[got] = 0;
	st = pclose(f);
	if (st < 0)
		return -errno;
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (st)
		pr_warn("`%s` failed (%d): %s\n", cmd, st, out);
	return st;
}

static int ns_fd(const char *name)
{
	char path[sizeof(NETNS_DIR) + BR_NAME_LEN + 1];
	int fd;

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		pr_warn("cannot open %s: %s\n", path, strerror(-fd));
	}
	return fd;
}

int br_enter(int fd)
{
	if (setns(fd, CLONE_NEWNET)) {
		int err = -errno;

		pr_warn("cannot enter a network namespace: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

/* The ifindex of the veth named like the namespace, seen from inside it. */
static int ifindex_in(struct br_net *n, int fd, const char *name)
{
	int idx, err;

	err = br_enter(fd);
	if (err)
		return err;
	idx = (int)if_nametoindex(name);
	err = idx ? 0 : -errno;
	if (br_enter(n->self_fd))
		abort(); /* running on in the bench's namespace would be worse than stopping */
	if (err)
		pr_warn("no interface %s: %s\n", name, strerror(-err));
	return err ?: idx;
}

/*
 * Two queues per veth end, so two senders on two CPUs land on two receive queues, each polled
 * on its sender's CPU (veth picks the queue by the CPU that transmits).
 */
int br_net_create(struct br_net *n)
{
	int pid = getpid(), err;

	snprintf(n->snd, sizeof(n->snd), "br-%d-s", pid);
	snprintf(n->rcv, sizeof(n->rcv), "br-%d-r", pid);
	snprintf(n->nft_table, sizeof(n->nft_table), "br_%d", pid);
	n->self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	n->snd_fd = n->rcv_fd = -1;
	if (n->self_fd < 0)
		return -errno;
	n->created = true;
	/* No IPv6 on the veths: their router solicitations would land among a trial's frames. */
	err = br_sh("ip netns add %s && ip netns add %s", n->snd, n->rcv);
	err = err
		  ?: br_sh("for ns in %s %s; do ip netns exec $ns sysctl -qw "
			   "net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 "
			   "|| exit 1; done",
			   n->snd, n->rcv);
	err =
	    err
		?: br_sh("ip link add %s address %s netns %s numtxqueues 2 numrxqueues 2 type veth "
			 "peer name %s address %s netns %s numtxqueues 2 numrxqueues 2",
			 n->snd, BR_CLI_MAC, n->snd, n->rcv, BR_SRV_MAC, n->rcv);
	err = err
		  ?: br_sh("ip -n %s link set lo up && ip -n %s link set %s up && "
			   "ip -n %s addr add %s/24 dev %s",
			   n->snd, n->snd, n->snd, n->snd, BR_CLI_ADDR, n->snd);
	err = err
		  ?: br_sh("ip -n %s link set lo up && ip -n %s link set %s up && "
			   "ip -n %s addr add %s/24 dev %s",
			   n->rcv, n->rcv, n->rcv, n->rcv, BR_SRV_ADDR, n->rcv);
	if (err)
		return err < 0 ? err : -EIO;
	n->snd_fd = ns_fd(n->snd);
	n->rcv_fd = ns_fd(n->rcv);
	if (n->snd_fd < 0 || n->rcv_fd < 0)
		return -ENOENT;
	n->snd_ifindex = ifindex_in(n, n->snd_fd, n->snd);
	n->rcv_ifindex = ifindex_in(n, n->rcv_fd, n->rcv);
	if (n->snd_ifindex < 0 || n->rcv_ifindex < 0)
		return -ENOENT;
	return 0;
}

/* Deleting the namespaces removes the veths and every rule and program on them. */
void br_net_destroy(struct br_net *n)
{
	if (!n->created)
		return;
	n->created = false;
	if (n->snd_fd >= 0)
		close(n->snd_fd);
	if (n->rcv_fd >= 0)
		close(n->rcv_fd);
	if (n->self_fd >= 0)
		close(n->self_fd);
	br_sh("ip netns del %s; ip netns del %s; true", n->snd, n->rcv);
}

/* Leftovers of a bench that was killed (SIGKILL skips cleanup): its pid no longer runs. */
void br_sweep_stale(void)
{
	struct dirent *de;
	DIR *d;

	d = opendir(NETNS_DIR);
	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid;
		char side;

		if (sscanf(de->d_name, "br-%d-%c", &pid, &side) != 2 || pid <= 0 || !kill(pid, 0) ||
		    errno != ESRCH)
			continue;
		pr_info("removing namespace %s of a bench that is gone\n", de->d_name);
		br_sh("ip netns del %s", de->d_name);
	}
	closedir(d);
	d = opendir("/sys/fs/bpf");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300];
		int pid;

		if (sscanf(de->d_name, "br-%d", &pid) != 1 || pid <= 0 || !kill(pid, 0) ||
		    errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", de->d_name);
		bench_remove_tree(path);
	}
	closedir(d);
}

int br_ksoftirqd_pid(int cpu)
{
	char want[32], path[300], comm[64];
	struct dirent *de;
	int pid = -ENOENT;
	DIR *d;

	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	d = opendir("/proc");
	if (!d)
		return -errno;
	while (pid < 0 && (de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			pid = atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return pid;
}

uint64_t br_ksoftirqd_ns(int pid)
{
	unsigned long long ns = 0;
	char path[64];
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

int br_tcp_in_segs(uint64_t *out)
{
	char names[1024], vals[1024];
	int err = -ENOENT;
	char *save_n, *save_v, *tn, *tv;
	FILE *f;

	f = fopen("/proc/thread-self/net/snmp", "r");
	if (!f)
		return -errno;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(names, "Tcp:", 4))
			continue;
		for (tn = strtok_r(names, " \n", &save_n), tv = strtok_r(vals, " \n", &save_v);
		     tn && tv;
		     tn = strtok_r(NULL, " \n", &save_n), tv = strtok_r(NULL, " \n", &save_v))
			if (!strcmp(tn, "InSegs")) {
				*out = strtoull(tv, NULL, 10);
				err = 0;
				break;
			}
		break;
	}
	fclose(f);
	return err;
}
