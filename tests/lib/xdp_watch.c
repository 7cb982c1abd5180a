// SPDX-License-Identifier: GPL-2.0-only
/* The XDP program of an interface, now and sampled over time (see xdp_watch.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netns.h"
#include "util.h"
#include "xdp_watch.h"

struct query {
	int ifindex;
	uint32_t id;
};

/* Any mode: a program in generic mode is as present as one in native mode. */
static int query_here(int ifindex, uint32_t *id)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, o);
	int err = bpf_xdp_query(ifindex, 0, &o);

	*id = o.prog_id ? o.prog_id : o.drv_prog_id ? o.drv_prog_id : o.skb_prog_id;
	return err;
}

static int query_in_ns(void *arg)
{
	struct query *q = arg;

	return query_here(q->ifindex, &q->id);
}

int spw_xdp_prog_id(const char *ns, int ifindex, uint32_t *id)
{
	struct query q = {.ifindex = ifindex};
	int err = spw_netns_run(ns, query_in_ns, &q);

	*id = q.id;
	return err;
}

/* BPF_TCX_EGRESS, by value: the UAPI headers of older distributions do not name it. */
#define XDP_WATCH_TCX_EGRESS 47

/* Programs on ifindex's tcx egress chain, or a negative errno. */
static int tcx_egress_count(int ifindex)
{
	LIBBPF_OPTS(bpf_prog_query_opts, o);
	int err = bpf_prog_query_opts(ifindex, (enum bpf_attach_type)XDP_WATCH_TCX_EGRESS, &o);

	return err ? err : (int)o.prog_cnt;
}

static void sample(struct spw_xdp_samples *s, int ifindex, unsigned int period_us)
{
	while (!s->stop) {
		uint32_t id, i;
		int tcx = tcx_egress_count(ifindex);

		if (tcx < 0)
			s->tcx_egress_errors++;
		else if (tcx == 0)
			s->tcx_egress_absent++;

		if (query_here(ifindex, &id)) {
			s->errors++;
		} else if (!id) {
			s->absent++;
			s->last_absent_ms = spw_now_ms();
		} else {
			if (!s->first_present_ms)
				s->first_present_ms = spw_now_ms();
			for (i = 0; i < s->nids && i < SPW_XDP_WATCH_IDS && s->ids[i] != id; i++)
				;
			if (i == s->nids || i == SPW_XDP_WATCH_IDS) {
				if (s->nids < SPW_XDP_WATCH_IDS)
					s->ids[s->nids] = id;
				s->nids++;
			}
		}
		__atomic_add_fetch(&s->samples, 1, __ATOMIC_RELEASE);
		usleep(period_us);
	}
}

int spw_xdp_sampler_start(struct spw_xdp_sampler *w, const char *ns, int ifindex,
			  unsigned int period_us)
{
	char path[64 + SPW_NETNS_NAME_LEN];
	pid_t parent = getpid();
	int fd, err;

	memset(w, 0, sizeof(*w));
	w->s = mmap(NULL, sizeof(*w->s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->s == MAP_FAILED) {
		w->s = NULL;
		return -errno;
	}
	memset(w->s, 0, sizeof(*w->s));
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "xdp_watch: cannot open %s: %s\n", path, strerror(errno));
		return err;
	}
	w->pid = fork();
	if (w->pid < 0) {
		err = -errno;
		close(fd);
		w->pid = 0;
		return err;
	}
	if (w->pid == 0) {
		/* A sampler outliving a crashed test would sample forever. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || setns(fd, CLONE_NEWNET))
			_exit(1);
		sample(w->s, ifindex, period_us);
		_exit(0);
	}
	close(fd);
	return 0;
}

void spw_xdp_sampler_stop(struct spw_xdp_sampler *w)
{
	if (!w->pid)
		return;
	w->s->stop = 1;
	while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
}

void spw_xdp_sampler_free(struct spw_xdp_sampler *w)
{
	if (w->pid) {
		kill(w->pid, SIGKILL);
		spw_xdp_sampler_stop(w);
	}
	if (w->s)
		munmap(w->s, sizeof(*w->s));
	w->s = NULL;
}
