// SPDX-License-Identifier: GPL-2.0-only
/* The shared data-plane test fixture (see spw_fixture.h). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "spw_fixture.h"
#include "util.h"

/* Fixtures still open, unpinned at exit when a test forgot or failed before its teardown. */
static struct spw_fixture *open_list;
static unsigned int pin_counter;
static bool exit_hook_set;

/* Removes pin roots of test processes that died before their teardown (kill -9, abort). */
static void sweep_dead(void)
{
	DIR *d = opendir("/sys/fs/bpf");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[SPW_FX_PIN_LEN + 256];
		unsigned int n;
		int pid;

		if (sscanf(e->d_name, "spw-test-%d-%u", &pid, &n) != 2 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", e->d_name);
		spw_rm_tree(path);
	}
	closedir(d);
}

static void unlink_open(struct spw_fixture *fx)
{
	for (struct spw_fixture **p = &open_list; *p; p = &(*p)->next_open) {
		if (*p == fx) {
			*p = fx->next_open;
			break;
		}
	}
	fx->next_open = NULL;
}

static void close_all_at_exit(void)
{
	while (open_list)
		spw_fixture_close(open_list);
}

/* A pin root no one uses: a leftover of a recycled pid is skipped, not reused. */
static void pick_pin_root(struct spw_fixture *fx)
{
	struct stat st;

	do {
		snprintf(fx->pin_root, sizeof(fx->pin_root), SPW_FX_PIN_PREFIX "%d-%u",
			 (int)getpid(), pin_counter++);
	} while (stat(fx->pin_root, &st) == 0);
}

int spw_fixture_open_opts(struct spw_fixture *fx, const struct spw_dp_opts *opts)
{
	struct spw_dp_opts o = opts ? *opts : (struct spw_dp_opts){0};
	int err;

	memset(fx, 0, sizeof(*fx));
	err = spw_bpffs_ensure();
	if (err)
		return err;
	sweep_dead();
	pick_pin_root(fx);
	o.pin_root = fx->pin_root;
	fx->mark = calloc(SPW_COUNTER_ENTRIES, sizeof(*fx->mark));
	if (!fx->mark)
		return -ENOMEM;
	if (!exit_hook_set && atexit(close_all_at_exit) == 0)
		exit_hook_set = true;
	fx->next_open = open_list;
	open_list = fx;
	err = spw_dp_open(&fx->dp, &o);
	if (err) {
		fprintf(stderr, "fixture: opening the data plane under %s: %s\n", fx->pin_root,
			strerror(-err));
		spw_fixture_close(fx);
		return err;
	}
	return 0;
}

int spw_fixture_open(struct spw_fixture *fx)
{
	return spw_fixture_open_opts(fx, NULL);
}

void spw_fixture_close(struct spw_fixture *fx)
{
	unlink_open(fx);
	if (fx->dp) {
		int err = spw_dp_unpin_all(fx->dp);

		if (err)
			fprintf(stderr, "fixture: unpinning %s: %s (removing it by hand)\n",
				fx->pin_root, strerror(-err));
		spw_dp_close(fx->dp);
		fx->dp = NULL;
	}
	if (fx->pin_root[0])
		spw_rm_tree(fx->pin_root);
	fx->pin_root[0] = '\0';
	free(fx->mark);
	fx->mark = NULL;
}

int spw_fixture_run_fd(int prog_fd, const void *pkt, size_t len, uint32_t repeat,
		       struct spw_run *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .repeat = repeat);
	int err;

	out->retval = -1;
	out->len = 0;
	out->duration_ns = 0;
	if (prog_fd < 0)
		return -EBADF;
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err < 0 ? err : -EINVAL;
	out->retval = (int)opts.retval;
	out->len = opts.data_size_out;
	out->duration_ns = opts.duration;
	return 0;
}

int spw_fixture_run(struct spw_fixture *fx, enum spw_prog prog, const void *pkt, size_t len,
		    struct spw_run *out)
{
	return spw_fixture_run_fd(spw_dp_prog_fd(fx->dp, prog), pkt, len, 1, out);
}

int spw_fixture_mark(struct spw_fixture *fx)
{
	return spw_dp_counters_read_all(fx->dp, fx->mark);
}

int spw_fixture_delta(struct spw_fixture *fx, uint32_t svc, uint32_t tier_slot,
		      enum spw_reason reason, struct spw_count *delta)
{
	const struct spw_count *base;
	struct spw_count now;
	int err;

	if (svc >= SPW_MAX_SERVICES || tier_slot >= SPW_TIER_SLOTS || reason >= SPW_REASON_SLOTS)
		return -EINVAL;
	err = spw_dp_counter_read(fx->dp, svc, tier_slot, reason, &now);
	if (err)
		return err;
	base = &fx->mark[spw_counter_index(svc, tier_slot, reason)];
	delta->packets = now.packets - base->packets;
	delta->bytes = now.bytes - base->bytes;
	return 0;
}

int spw_fixture_changes(struct spw_fixture *fx, struct spw_fx_change *out, size_t max)
{
	struct spw_count *now = calloc(SPW_COUNTER_ENTRIES, sizeof(*now));
	int n = 0, err;

	if (!now)
		return -ENOMEM;
	err = spw_dp_counters_read_all(fx->dp, now);
	if (err) {
		free(now);
		return err;
	}
	for (uint32_t i = 0; i < SPW_COUNTER_ENTRIES; i++) {
		struct spw_count d = {
		    .packets = now[i].packets - fx->mark[i].packets,
		    .bytes = now[i].bytes - fx->mark[i].bytes,
		};

		if (!d.packets && !d.bytes)
			continue;
		if ((size_t)n < max) {
			out[n].svc = i / SPW_REASON_SLOTS / SPW_TIER_SLOTS;
			out[n].tier_slot = i / SPW_REASON_SLOTS % SPW_TIER_SLOTS;
			out[n].reason = i % SPW_REASON_SLOTS;
			out[n].delta = d;
		}
		n++;
	}
	free(now);
	return n;
}

int spw_fixture_addr(const char *text, uint8_t addr[SPW_ADDR_LEN])
{
	memset(addr, 0, SPW_ADDR_LEN);
	if (inet_pton(AF_INET6, text, addr) == 1)
		return 0;
	/* IPv4 as IPv4-mapped IPv6: ::ffff:a.b.c.d, the ABI's one address form. */
	addr[10] = 0xff;
	addr[11] = 0xff;
	return inet_pton(AF_INET, text, addr + 12) == 1 ? 0 : -EINVAL;
}

int spw_fixture_cidr(const char *text, struct spw_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned int plen;
	int err;

	if (alen >= INET6_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	memset(out, 0, sizeof(*out));
	err = spw_fixture_addr(buf, out->addr);
	if (err)
		return err;
	out->is_v4 = !strchr(buf, ':');
	plen = out->is_v4 ? 32 : 128;
	if (slash && (sscanf(slash + 1, "%u", &plen) != 1 || plen > (out->is_v4 ? 32u : 128u)))
		return -EINVAL;
	out->prefixlen = (uint8_t)(out->is_v4 ? SPW_V4_MAPPED_PREFIX + plen : plen);
	/* Host bits cleared: the tests write canonical prefixes, this only keeps keys canonical. */
	for (unsigned int bit = out->prefixlen; bit < SPW_ADDR_LEN * 8; bit++)
		out->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	return 0;
}

int spw_fixture_setup(void **state)
{
	static struct spw_fixture fx;

	memset(&fx, 0, sizeof(fx));
	if (spw_fixture_open(&fx))
		return -1;
	*state = &fx;
	return 0;
}

int spw_fixture_teardown(void **state)
{
	spw_fixture_close(*state);
	return 0;
}
