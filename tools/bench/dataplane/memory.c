// SPDX-License-Identifier: GPL-2.0-only
/* Kernel memory per tracked flow: sizes from the kernel, memlock as it charges it. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "spillway_abi.h"
#include "spillway_rank.h"
#include "spw_cidr.h"
#include "spw_dataplane.h"
#include "spw_log.h"
#include "spw_strnum.h"
#include "empty_xdp.skel.h"
#include "dpcheck.h"
#include "pktbuild.h"
#include "bench_util.h"
#include "bench_dp.h"

/* ---- memory per tracked flow ---- */

/*
 * Size of a kernel struct from the kernel's own BTF. With `member`, the first struct of that
 * name that has such a member: "bucket" names more than one struct in vmlinux.
 */
static long kernel_struct_size(const struct btf *btf, const char *name, const char *member)
{
	int n = (int)btf__type_cnt(btf), id, i;

	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_member *m;

		if (!btf_is_struct(t) || strcmp(btf__name_by_offset(btf, t->name_off), name))
			continue;
		if (!member)
			return t->size;
		m = btf_members(t);
		for (i = 0; i < btf_vlen(t); i++)
			if (!strcmp(btf__name_by_offset(btf, m[i].name_off), member))
				return t->size;
	}
	return -ENOENT;
}

/* memlock of a scratch hash map like the flow table, with n entries; closed again. */
static int scratch_memlock(const struct spw_dp_map_mem *like, uint32_t n, uint64_t *out)
{
	int err = spw_dp_scratch_memlock(like, n, out);

	if (err)
		pr_warn("creating a scratch hash map of %u entries failed: %s\n", n,
			strerror(-err));
	return err;
}

/* A map of the data plane as the kernel holds it, and the memory it charges for it. */
static int map_mem_of(struct bench *b, const char *name, struct spw_dp_map_mem *m)
{
	int err = spw_dp_map_mem(b->dp, name, m);

	if (err)
		pr_warn("reading the info and memlock of map %s failed: %s\n", name,
			strerror(-err));
	return err;
}

static uint64_t round_up8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

/*
 * Bytes per tracked flow, three ways: computed from the sizes (key, value, the kernel's element
 * and bucket headers), measured as the map's memlock over its entries, and measured as the
 * difference between two scratch maps of the same kind, which leaves the fixed parts out.
 * Plus the fixed cost of the active-count and latency maps.
 */
int memory_measure(struct bench *b, struct mem_report *mr)
{
	const struct spw_dp_map_mem *fi = &mr->flows;
	uint64_t lo_mem, hi_mem;
	struct btf *btf;
	int err;

	memset(mr, 0, sizeof(*mr));
	mr->tried = true;
	mr->ncpus = libbpf_num_possible_cpus();
	err = map_mem_of(b, SPW_MAP_NAME(flows), &mr->flows)
		  ?: map_mem_of(b, SPW_MAP_NAME(active), &mr->active)
		  ?: map_mem_of(b, SPW_MAP_NAME(latency), &mr->latency);
	if (err)
		return err;
	if (fi->type != BPF_MAP_TYPE_HASH || (fi->map_flags & BPF_F_NO_PREALLOC) ||
	    fi->key_size != sizeof(struct spw_flow_key) ||
	    fi->value_size != sizeof(struct spw_flow)) {
		pr_warn(
		    "the flow table is not the preallocated hash of spw_flow_key -> spw_flow this "
		    "bench computes for (type %u, flags 0x%x, key %u B, value %u B)\n",
		    fi->type, fi->map_flags, fi->key_size, fi->value_size);
		return -EPROTO;
	}
	btf = btf__load_vmlinux_btf();
	if (btf) {
		mr->elem_hdr = kernel_struct_size(btf, "htab_elem", "hash");
		mr->bucket = kernel_struct_size(btf, "bucket", "raw_lock");
		btf__free(btf);
	} else {
		mr->elem_hdr = mr->bucket = -errno;
		pr_warn("the kernel's BTF is not readable: %s; no computed figure\n",
			strerror(errno));
	}
	for (mr->n_buckets = 1; mr->n_buckets < fi->max_entries; mr->n_buckets <<= 1)
		;
	if (mr->elem_hdr > 0 && mr->bucket > 0)
		mr->computed =
		    (double)(mr->elem_hdr + round_up8(fi->key_size) + round_up8(fi->value_size)) +
		    (double)mr->bucket * (double)mr->n_buckets / fi->max_entries;
	mr->measured = (double)mr->flows.memlock / fi->max_entries;

	mr->scratch_hi = fi->max_entries;
	mr->scratch_lo = fi->max_entries / 2;
	err = scratch_memlock(fi, mr->scratch_lo, &lo_mem)
		  ?: scratch_memlock(fi, mr->scratch_hi, &hi_mem);
	if (err)
		return err;
	mr->marginal = ((double)hi_mem - (double)lo_mem) / (mr->scratch_hi - mr->scratch_lo);
	mr->done = true;
	return 0;
}

static const char *map_type_name(uint32_t type)
{
	return libbpf_bpf_map_type_str((enum bpf_map_type)type) ?: "?";
}

/* Returns 1 when the per-flow goal is missed. */
int memory_print(const struct mem_report *mr)
{
	const struct spw_dp_map_mem *fi = &mr->flows;
	const struct spw_dp_map_mem *ai = &mr->active, *li = &mr->latency;
	bool over = mr->measured > FLOW_BYTES_GOAL;
	char text[64];

	printf(
	    "\n-- flow-tracking goal: memory per tracked flow, %s (%s, preallocated, %u entries)\n",
	    SPW_MAP_NAME(flows), map_type_name(fi->type), fi->max_entries);
	printf("  %-40s %s\n", "", "from");
	snprintf(text, sizeof(text), "key %u B + value %u B", fi->key_size, fi->value_size);
	printf("  %-40s %s\n", text, "bpf_map_info of the pinned map");
	if (mr->computed > 0) {
		snprintf(text, sizeof(text), "+ element header %ld B", mr->elem_hdr);
		printf("  %-40s %s\n", text, "struct htab_elem, the kernel's BTF");
		snprintf(text, sizeof(text), "  = %llu B per element",
			 (unsigned long long)(mr->elem_hdr + round_up8(fi->key_size) +
					      round_up8(fi->value_size)));
		printf("  %-40s %s\n", text, "key and value rounded up to 8 B, as laid out");
		snprintf(text, sizeof(text), "+ bucket %ld B x %llu / %u", mr->bucket,
			 (unsigned long long)mr->n_buckets, fi->max_entries);
		printf("  %-40s %s\n", text, "struct bucket (BTF) x buckets / entries");
		snprintf(text, sizeof(text), "computed: %.1f B per flow", mr->computed);
		printf("  %-40s %s\n", text, "the sizes above");
	}
	snprintf(text, sizeof(text), "measured: %.1f B per flow", mr->measured);
	printf("  %-40s memlock / max_entries: %llu B, the \"memlock:\" line of\n", text,
	       (unsigned long long)mr->flows.memlock);
	printf("  %-40s %s (as bpftool map show prints it)\n", "", mr->flows.fdinfo);
	if (mr->computed > 0)
		printf("  %-40s of which %.0f B fixed: struct bpf_htab, and per CPU\n", "",
		       (double)mr->flows.memlock - mr->computed * fi->max_entries);
	if (mr->computed > 0)
		printf("  %-40s (%d here) a spare element and lock flags\n", "", mr->ncpus);
	snprintf(text, sizeof(text), "marginal: %.1f B per flow", mr->marginal);
	printf("  %-40s memlock difference of two scratch maps alike,\n", text);
	printf("  %-40s %u and %u entries, / %u\n", "", mr->scratch_hi, mr->scratch_lo,
	       mr->scratch_hi - mr->scratch_lo);
	snprintf(text, sizeof(text), "goal <=%d B per flow (measured)", FLOW_BYTES_GOAL);
	printf("  %-40s %s\n", text, over ? "OVER" : "ok");
	printf("  fixed cost, not per flow (memlock from fdinfo):\n");
	snprintf(text, sizeof(text), "%s: %llu B", SPW_MAP_NAME(active),
		 (unsigned long long)mr->active.memlock);
	printf("    %-38s %s, %u x %u B%s\n", text, map_type_name(ai->type), ai->max_entries,
	       ai->value_size, ai->map_flags & BPF_F_MMAPABLE ? ", mmapable (page-rounded)" : "");
	snprintf(text, sizeof(text), "%s: %llu B", SPW_MAP_NAME(latency),
		 (unsigned long long)mr->latency.memlock);
	printf("    %-38s %s, %u x %u B x %d possible CPUs\n", text, map_type_name(li->type),
	       li->max_entries, li->value_size, mr->ncpus);
	return over;
}
