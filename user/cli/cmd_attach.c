// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway attach and detach. Interface names and ifindexes mean something only in one network
 * namespace: a daemon in a namespace attached to its devices there, and the same name or
 * ifindex here is another device. So detach acts only on what is recorded as spillway's, in
 * the namespace it was recorded in: the pinned XDP links (a link names its device itself; its
 * pin's ifindex is checked to be this namespace's device running the link's program), and TC
 * through the interfaces the daemon published in its shed-state file with its namespace and
 * their ifindexes. Run from another namespace, it refuses, names the namespace to enter when
 * it can, and touches nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include "cli_priv.h"

/* Where named network namespaces are (iproute2's `ip netns add`). */
#define NETNS_RUN_DIR "/run/netns"

int spw_cmd_attach(const struct spw_cli_req *req)
{
	struct spw_dataplane *dp;
	unsigned int ifindex = if_nametoindex(req->iface);
	int err;

	if (!ifindex) {
		fprintf(stderr, "spillway: no interface %s\n", req->iface);
		return SPW_EXIT_FAIL;
	}
	if (cli_open_dp(req, &dp, true))
		return SPW_EXIT_FAIL;
	err = spw_dp_attach(dp, (int)ifindex, req->mode);
	spw_dp_close(dp);
	if (err) {
		cli_dp_error(req, "cannot attach", err);
		return SPW_EXIT_FAIL;
	}
	printf("attached to %s (%s)\n", req->iface, spw_attach_mode_name(req->mode));
	return SPW_EXIT_OK;
}

static uint32_t netns_ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint32_t)st.st_ino;
}

/*
 * A path to the namespace ino for nsenter --net=: its name under /run/netns when it has one,
 * else the daemon's /proc/PID/ns/net while it runs. false when neither leads there.
 */
static bool netns_path(uint32_t ino, uint32_t pid, char *buf, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir = opendir(NETNS_RUN_DIR);

	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", de->d_name);
		if (netns_ino_of(path) == ino) {
			snprintf(buf, len, "%s", path);
			closedir(dir);
			return true;
		}
	}
	if (dir)
		closedir(dir);
	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	if (pid && netns_ino_of(path) == ino) {
		snprintf(buf, len, "%s", path);
		return true;
	}
	return false;
}

/*
 * The daemon's record, when there is one: st gets the state file, and the call fails (printed)
 * when that daemon's namespace is not this one. *have false: no record (no daemon published
 * one), which is not an error: then only the pinned links are known.
 */
static int check_netns(const struct spw_cli_req *req, struct spw_state_file *st, bool *have)
{
	uint32_t here = netns_ino_of("/proc/self/ns/net");
	char where[PATH_MAX];

	*have = !cli_state_read_opt(req, st, false);
	if (!*have || !st->netns_ino || st->netns_ino == here)
		return 0;
	cli_state_dir(req, where, sizeof(where)); /* for the message, unless a path is found */
	fprintf(stderr,
		"spillway: the data plane under %s was attached by spillwayd (pid %u) in "
		"another network namespace",
		req->pin_root, st->daemon_pid);
	if (st->nifaces)
		fprintf(stderr, " (%.*s%s)", 16, st->ifaces[0].name,
			st->nifaces > 1 ? " and others" : "");
	if (netns_path(st->netns_ino, st->daemon_pid, where, sizeof(where)))
		fprintf(stderr, ": run it there: nsenter --net=%s spillway ...\n", where);
	else
		fprintf(stderr,
			", which has no name here and no running daemon: run it from "
			"inside that namespace (if the namespace is gone, so are its "
			"devices: remove %s/%s and run again)\n",
			where, SPW_STATE_FILE);
	fprintf(stderr, "spillway: nothing was detached\n");
	return SPW_EXIT_FAIL;
}

/*
 * Is the recorded interface still the device the daemon attached to? A device that is gone,
 * or whose ifindex now has another name, is not touched.
 */
static bool same_device(const struct spw_state_iface *f, unsigned int *ifindex)
{
	char name[IF_NAMESIZE];

	if (!f->ifindex || !if_indextoname(f->ifindex, name) ||
	    strncmp(name, f->name, sizeof(f->name))) {
		printf("%.*s (ifindex %u) is gone: nothing to detach there\n", 16, f->name,
		       f->ifindex);
		return false;
	}
	*ifindex = f->ifindex;
	return true;
}

/* The ifindexes of the XDP links pinned under the pin root ("link_xdp_IFINDEX"). */
static int pinned_links(const struct spw_cli_req *req, int *ifindex, int max)
{
	struct dirent *de;
	DIR *dir = opendir(req->pin_root);
	int n = 0, i;

	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && n < max)
		if (sscanf(de->d_name, "link_xdp_%d", &i) == 1 && i > 0)
			ifindex[n++] = i;
	closedir(dir);
	return n;
}

/*
 * Whether the link pinned for ifindex (if any) holds this namespace's device of that ifindex:
 * 0 and *here, or SPW_EXIT_FAIL with a message when it holds another namespace's device.
 * *here false for a link whose device is gone: only its pin is left.
 */
static int link_here(const struct spw_cli_req *req, struct spw_dataplane *dp, int ifindex,
		     bool *here)
{
	enum spw_link_where where;
	int err = spw_dp_xdp_link_where(dp, ifindex, &where);

	*here = false;
	if (err == -ENOENT)
		return 0;
	if (err) {
		cli_dp_error(req, "cannot read a pinned XDP link", err);
		return SPW_EXIT_FAIL;
	}
	if (where == SPW_LINK_ELSEWHERE) {
		fprintf(stderr,
			"spillway: the XDP link pinned under %s for ifindex %d holds a device of "
			"another network namespace (ifindex %d here is another device): run detach "
			"in that namespace (nsenter --net=...)\nspillway: nothing was detached\n",
			req->pin_root, ifindex, ifindex);
		return SPW_EXIT_FAIL;
	}
	*here = where == SPW_LINK_HERE;
	return 0;
}

static int detach_all(const struct spw_cli_req *req, struct spw_dataplane *dp,
		      const struct spw_state_file *st, bool have)
{
	int links[SPW_STATE_IFACES * 4], nlinks, l;
	bool here[SPW_STATE_IFACES * 4];
	unsigned int ifindex;
	uint32_t i;
	int err;

	/* Every link checked before anything is detached: all here, or nothing touched. */
	nlinks = pinned_links(req, links, (int)(sizeof(links) / sizeof(links[0])));
	if (nlinks < 0) {
		cli_dp_error(req, "cannot list the pinned links", nlinks);
		return SPW_EXIT_FAIL;
	}
	for (l = 0; l < nlinks; l++)
		if (link_here(req, dp, links[l], &here[l]))
			return SPW_EXIT_FAIL;

	/* TC filters leave no pin behind: the daemon's record names their devices. */
	if (!have)
		printf("no shed-state file: only the pinned XDP links are known; TC filters a "
		       "spillwayd put on interfaces are not\n");
	for (i = 0; have && i < st->nifaces; i++) {
		if (!same_device(&st->ifaces[i], &ifindex))
			continue;
		err = spw_dp_detach(dp, (int)ifindex);
		if (err) {
			cli_dp_error(req, "cannot detach", err);
			return SPW_EXIT_FAIL;
		}
		printf("detached from %.*s\n", 16, st->ifaces[i].name);
	}
	/* A link whose device is gone only has its pin left, which unpinning removes. */
	for (l = 0, err = 0; l < nlinks && !err; l++)
		if (here[l])
			err = spw_dp_detach(dp, links[l]);
	if (!err)
		err = spw_dp_unpin_all(dp);
	if (err) {
		cli_dp_error(req, "cannot remove everything", err);
		return SPW_EXIT_FAIL;
	}
	printf("detached everywhere; every map and link under %s removed\n", req->pin_root);
	return SPW_EXIT_OK;
}

int spw_cmd_detach(const struct spw_cli_req *req)
{
	struct spw_state_file *st = calloc(1, sizeof(*st));
	struct spw_dataplane *dp;
	unsigned int ifindex;
	bool have;
	int ret, err;

	if (!st) {
		fprintf(stderr, "spillway: out of memory\n");
		return SPW_EXIT_FAIL;
	}
	/* Before anything is opened: from the wrong namespace, nothing is touched. */
	ret = check_netns(req, st, &have);
	if (!ret)
		ret = cli_open_dp(req, &dp, false);
	if (ret) {
		free(st);
		return ret;
	}
	if (req->all) {
		ret = detach_all(req, dp, st, have);
	} else {
		bool here;

		ifindex = if_nametoindex(req->iface);
		err = ifindex ? 0 : -ENODEV;
		ret = SPW_EXIT_OK;
		/* A link pinned for this ifindex that holds another namespace's device stays. */
		if (!err && link_here(req, dp, (int)ifindex, &here)) {
			spw_dp_close(dp);
			free(st);
			return SPW_EXIT_FAIL;
		}
		if (!err)
			err = spw_dp_detach(dp, (int)ifindex);
		if (err) {
			cli_dp_error(req, "cannot detach", err);
			ret = SPW_EXIT_FAIL;
		} else {
			printf("detached from %s\n", req->iface);
		}
	}
	spw_dp_close(dp);
	free(st);
	return ret;
}
