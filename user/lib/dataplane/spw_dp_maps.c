// SPDX-License-Identifier: GPL-2.0-only
/*
 * Typed reads and writes of the data plane's configuration maps: services, policies, rules,
 * trusted sources, DSCP, globals, token buckets. Input is checked here, before it can reach a
 * map, so a bad value is an -EINVAL and never a data plane that misbehaves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "spillway_rank.h"
#include "spw_dataplane_priv.h"

static int map_update(int fd, const void *key, const void *value, __u64 flags)
{
	return bpf_map_update_elem(fd, key, value, flags) ? -errno : 0;
}

static int map_lookup(int fd, const void *key, void *value)
{
	return bpf_map_lookup_elem(fd, key, value) ? -errno : 0;
}

static int map_delete(int fd, const void *key)
{
	return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

static bool svc_id_ok(uint32_t svc_id)
{
	return svc_id > SPW_SVC_NONE && svc_id < SPW_MAX_SERVICES;
}

static int port_slot(uint8_t proto, uint16_t port, uint32_t *slot)
{
	if (proto == IPPROTO_TCP)
		*slot = SPW_PORT_SLOT_TCP + port;
	else if (proto == IPPROTO_UDP)
		*slot = SPW_PORT_SLOT_UDP + port;
	else
		return -EINVAL;
	return 0;
}

static void svc_addr_key(const struct spw_service_match *m, struct spw_svc_addr_key *key)
{
	memset(key, 0, sizeof(*key));
	key->proto = m->proto;
	key->port = htons(m->port);
	memcpy(key->addr, m->addr, SPW_ADDR_LEN);
}

/*
 * The entry the data plane reads for packets whose ports it cannot read (a tiny fragment, an
 * IPv6 chain past its walk): protocol 0 and port 0, which no service has, and the service's
 * address, or the all-zero address for a service on every local address.
 */
void spw_dp_addr_marker_key(const struct spw_service_match *m, struct spw_svc_addr_key *key)
{
	memset(key, 0, sizeof(*key));
	if (m->has_addr)
		memcpy(key->addr, m->addr, SPW_ADDR_LEN);
}

/* The first service at the marker's address names it; later ones find it there. */
int spw_dp_addr_marker_add(struct spw_dataplane *dp, const struct spw_service_match *m,
			   uint32_t svc_id)
{
	struct spw_svc_addr_key key;
	int err;

	spw_dp_addr_marker_key(m, &key);
	err = map_update(dp->maps.svc_addrs, &key, &svc_id, BPF_NOEXIST);
	return err == -EEXIST ? 0 : err;
}

/* Another service at the removed one's address (any if !has_addr), or SPW_SVC_NONE. */
static int marker_heir(struct spw_dataplane *dp, const struct spw_service_match *m, uint32_t *heir)
{
	struct spw_svc_addr_key key, next;
	void *prev = NULL;
	struct spw_port p;
	uint32_t slot, id;

	*heir = SPW_SVC_NONE;
	if (!m->has_addr) {
		/* Rare (a service removed): a walk over the port array is affordable. */
		for (slot = 0; slot < SPW_PORT_SLOTS; slot++) {
			if (bpf_map_lookup_elem(dp->maps.ports, &slot, &p))
				return -errno;
			if (p.svc_id != SPW_SVC_NONE) {
				*heir = p.svc_id;
				return 0;
			}
		}
		return 0;
	}
	while (!bpf_map_get_next_key(dp->maps.svc_addrs, prev, &next)) {
		if (next.proto && !memcmp(next.addr, m->addr, SPW_ADDR_LEN) &&
		    !bpf_map_lookup_elem(dp->maps.svc_addrs, &next, &id)) {
			*heir = id;
			return 0;
		}
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

/* After svc_id left the address of m: the marker names a service still there, or goes. */
static int marker_del(struct spw_dataplane *dp, const struct spw_service_match *m, uint32_t svc_id)
{
	struct spw_svc_addr_key key;
	uint32_t cur, heir;
	int err;

	spw_dp_addr_marker_key(m, &key);
	if (map_lookup(dp->maps.svc_addrs, &key, &cur) || cur != svc_id)
		return 0;
	err = marker_heir(dp, m, &heir);
	if (err)
		return err;
	if (heir == SPW_SVC_NONE)
		return map_delete(dp->maps.svc_addrs, &key);
	return map_update(dp->maps.svc_addrs, &key, &heir, BPF_EXIST);
}

/* Is any address-bound service left on (proto, port)? Decides the port's ADDR_BOUND flag. */
static int addr_bound_left(struct spw_dataplane *dp, uint8_t proto, uint16_t port, bool *left)
{
	struct spw_svc_addr_key key, next;
	void *prev = NULL;

	*left = false;
	while (!bpf_map_get_next_key(dp->maps.svc_addrs, prev, &next)) {
		if (next.proto == proto && next.port == htons(port)) {
			*left = true;
			return 0;
		}
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

int spw_dp_service_add(struct spw_dataplane *dp, const struct spw_service_match *m, uint32_t svc_id)
{
	struct spw_svc_addr_key key;
	struct spw_port port;
	uint32_t slot;
	int err;

	if (!svc_id_ok(svc_id) || port_slot(m->proto, m->port, &slot))
		return -EINVAL;
	err = map_lookup(dp->maps.ports, &slot, &port);
	if (err)
		return err;
	if (!m->has_addr) {
		port.svc_id = svc_id;
		err = map_update(dp->maps.ports, &slot, &port, BPF_ANY);
		return err ? err : spw_dp_addr_marker_add(dp, m, svc_id);
	}
	/* The address entry first: the flag must never point the data plane at nothing. */
	svc_addr_key(m, &key);
	err = map_update(dp->maps.svc_addrs, &key, &svc_id, BPF_ANY);
	if (err)
		return err;
	port.flags |= SPW_PORT_ADDR_BOUND;
	err = map_update(dp->maps.ports, &slot, &port, BPF_ANY);
	return err ? err : spw_dp_addr_marker_add(dp, m, svc_id);
}

int spw_dp_service_del(struct spw_dataplane *dp, const struct spw_service_match *m)
{
	struct spw_svc_addr_key key;
	struct spw_port port;
	uint32_t slot, id;
	bool left;
	int err;

	if (port_slot(m->proto, m->port, &slot))
		return -EINVAL;
	err = map_lookup(dp->maps.ports, &slot, &port);
	if (err)
		return err;
	if (!m->has_addr) {
		if (!port.svc_id)
			return -ENOENT;
		id = port.svc_id;
		port.svc_id = SPW_SVC_NONE;
		err = map_update(dp->maps.ports, &slot, &port, BPF_ANY);
		return err ? err : marker_del(dp, m, id);
	}
	svc_addr_key(m, &key);
	err = map_lookup(dp->maps.svc_addrs, &key, &id);
	if (!err)
		err = map_delete(dp->maps.svc_addrs, &key);
	if (err)
		return err;
	err = marker_del(dp, m, id);
	if (err)
		return err;
	err = addr_bound_left(dp, m->proto, m->port, &left);
	if (err || left)
		return err;
	port.flags &= ~SPW_PORT_ADDR_BOUND;
	return map_update(dp->maps.ports, &slot, &port, BPF_ANY);
}

int spw_dp_service_lookup(struct spw_dataplane *dp, uint8_t proto, uint16_t port,
			  const uint8_t addr[SPW_ADDR_LEN], uint32_t *svc_id)
{
	struct spw_service_match m = {.proto = proto, .port = port, .has_addr = true};
	struct spw_svc_addr_key key;
	struct spw_port p;
	uint32_t slot, bound;
	int err;

	if (port_slot(proto, port, &slot))
		return -EINVAL;
	err = map_lookup(dp->maps.ports, &slot, &p);
	if (err)
		return err;
	*svc_id = p.svc_id;
	if (p.flags & SPW_PORT_ADDR_BOUND) {
		memcpy(m.addr, addr, SPW_ADDR_LEN);
		svc_addr_key(&m, &key);
		if (!map_lookup(dp->maps.svc_addrs, &key, &bound))
			*svc_id = bound;
	}
	if (*svc_id >= SPW_MAX_SERVICES)
		*svc_id = SPW_SVC_NONE;
	return 0;
}

static int policy_valid(const struct spw_policy *p)
{
	int t;

	if (p->tier_count < 1 || p->tier_count > SPW_MAX_TIERS ||
	    p->default_tier >= p->tier_count || p->admit_level > SPW_RANK_LIMIT ||
	    p->floor_level > SPW_RANK_LIMIT ||
	    (p->flags & ~(SPW_POLICY_DRY_RUN | SPW_POLICY_RESERVE)))
		return -EINVAL;
	for (t = 0; t < SPW_MAX_TIERS; t++) {
		if (p->action[t] != SPW_ACTION_DROP && p->action[t] != SPW_ACTION_REJECT)
			return -EINVAL;
		if (p->rate_per_sec[t] > SPW_RATE_MAX || p->burst[t] > SPW_RATE_MAX)
			return -EINVAL;
	}
	return 0;
}

/* Replaces a service's whole record under its lock: the data plane copies it out under it
 * whenever the stamp is not the one its per-CPU copy holds. */
static int policy_rec_write(struct spw_dataplane *dp, uint32_t svc_id,
			    const struct spw_policy_rec *rec)
{
	return map_update(dp->maps.policies, &svc_id, rec, BPF_F_LOCK);
}

int spw_dp_policy_set(struct spw_dataplane *dp, uint32_t svc_id, const struct spw_policy *p)
{
	struct spw_policy_rec rec = {.pol = *p};

	if (!svc_id_ok(svc_id) || policy_valid(p))
		return -EINVAL;
	rec.stamp = spw_policy_stamp_next();
	return policy_rec_write(dp, svc_id, &rec);
}

int spw_dp_policies_set(struct spw_dataplane *dp, const uint32_t *ids, const struct spw_policy *p,
			uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_F_LOCK);
	struct spw_policy_rec *recs;
	uint32_t keys[SPW_MAX_SERVICES], i, m = 0, count;
	int err = 0, bad = 0;

	if (n > SPW_MAX_SERVICES)
		return -EINVAL;
	if (!n)
		return 0;
	recs = calloc(n, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	/* A bad policy is refused alone: the others' leases are still renewed. */
	for (i = 0; i < n; i++) {
		if (!svc_id_ok(ids[i]) || policy_valid(&p[i])) {
			bad = -EINVAL;
			continue;
		}
		keys[m] = ids[i];
		recs[m].stamp = spw_policy_stamp_next();
		recs[m++].pol = p[i];
	}
	count = m;
	if (m && bpf_map_update_batch(dp->maps.policies, keys, recs, &count, &opts))
		err = -errno;
	free(recs);
	return err ? err : bad;
}

int spw_dp_policy_get(struct spw_dataplane *dp, uint32_t svc_id, struct spw_policy *p)
{
	struct spw_policy_rec rec;

	if (!svc_id_ok(svc_id))
		return -EINVAL;
	if (bpf_map_lookup_elem_flags(dp->maps.policies, &svc_id, &rec, BPF_F_LOCK))
		return -errno;
	if (!rec.stamp)
		return -ENOENT;
	*p = rec.pol;
	return 0;
}

int spw_dp_policy_del(struct spw_dataplane *dp, uint32_t svc_id)
{
	struct spw_policy_rec rec = {.stamp = 0};

	if (!svc_id_ok(svc_id))
		return -EINVAL;
	return policy_rec_write(dp, svc_id, &rec);
}

int spw_dp_rule_add(struct spw_dataplane *dp, const struct spw_cidr *c, uint8_t tier,
		    uint32_t rule_id)
{
	struct spw_rule rule = {.tier = tier, .rule_id = rule_id};
	struct spw_lpm_key key;

	if (tier >= SPW_MAX_TIERS || c->prefixlen > SPW_ADDR_LEN * 8)
		return -EINVAL;
	spw_cidr_to_key(c, &key);
	return map_update(dp->maps.rules, &key, &rule, BPF_ANY);
}

int spw_dp_rule_del(struct spw_dataplane *dp, const struct spw_cidr *c)
{
	struct spw_lpm_key key;

	spw_cidr_to_key(c, &key);
	return map_delete(dp->maps.rules, &key);
}

int spw_dp_rule_lookup(struct spw_dataplane *dp, const uint8_t addr[SPW_ADDR_LEN],
		       struct spw_rule *r)
{
	struct spw_lpm_key key = {.prefixlen = SPW_ADDR_LEN * 8};

	memcpy(key.addr, addr, SPW_ADDR_LEN);
	return map_lookup(dp->maps.rules, &key, r);
}

int spw_dp_trusted_add(struct spw_dataplane *dp, const struct spw_cidr *c)
{
	struct spw_lpm_key key;
	uint8_t yes = 1;

	if (c->prefixlen > SPW_ADDR_LEN * 8)
		return -EINVAL;
	spw_cidr_to_key(c, &key);
	return map_update(dp->maps.trusted, &key, &yes, BPF_ANY);
}

int spw_dp_trusted_del(struct spw_dataplane *dp, const struct spw_cidr *c)
{
	struct spw_lpm_key key;

	spw_cidr_to_key(c, &key);
	return map_delete(dp->maps.trusted, &key);
}

/* Largest LPM key of SPW_MAPS (spw_exempt_key); the walk copies keys into buffers this big. */
#define SPW_LPM_KEY_MAX sizeof(struct spw_exempt_key)

/*
 * Calls fn on each key of the LPM map fd (key_size bytes), in the trie's order; a nonzero
 * return ends the walk and is returned. fn must not delete: a delete restarts a trie walk.
 */
static int lpm_foreach(int fd, size_t key_size, int (*fn)(const void *key, void *ctx), void *ctx)
{
	/* A union: the callbacks read the key as the struct it is, aligned as that struct. */
	union {
		struct spw_lpm_key lpm;
		struct spw_exempt_key exempt;
		uint8_t bytes[SPW_LPM_KEY_MAX];
	} key, next;
	void *prev = NULL;
	int ret;

	if (key_size > SPW_LPM_KEY_MAX)
		return -EINVAL;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		memcpy(&key, &next, key_size);
		prev = &key;
		ret = fn(&key, ctx);
		if (ret)
			return ret;
	}
	return errno == ENOENT || !errno ? 0 : -errno;
}

/* Sets the bits of the IPv4 /16 blocks an exempt key of the IPv4 family overlaps. */
static void v4_blocks_mark(struct spw_v4_blocks *f, const struct spw_exempt_key *key)
{
	uint32_t len, first, n;

	if (key->family != SPW_EXEMPT_FAMILY_V4 || key->prefixlen < SPW_EXEMPT_FAMILY_BITS + 96)
		return;
	len = key->prefixlen - SPW_EXEMPT_FAMILY_BITS - 96; /* the IPv4 prefix length */
	first = (uint32_t)key->addr[12] << 8 | key->addr[13];
	n = len >= 16 ? 1 : 1U << (16 - len);
	first &= ~(n - 1);
	for (uint32_t b = first; b < first + n && b < SPW_V4_BLOCKS; b++)
		f->bits[b / 64] |= 1ULL << (b % 64);
}

static int v4_blocks_mark_key(const void *key, void *blocks)
{
	v4_blocks_mark(blocks, key);
	return 0;
}

/*
 * Fills the block bits from every key of the exempt trie. Written with built unset first
 * when it was unset, so no reader takes bits half written for built ones; a rewrite of built
 * bits only clears the bits of prefixes already deleted, and a reader of a torn copy sees
 * each byte old or new, never a bit of a live prefix clear.
 */
static int v4_blocks_rebuild(struct spw_dataplane *dp)
{
	struct spw_v4_blocks *f = calloc(1, sizeof(*f));
	uint32_t zero = 0;
	bool was_built;
	int err;

	if (!f)
		return -ENOMEM;
	err = map_lookup(dp->maps.exempt_v4, &zero, f);
	was_built = !err && f->built;
	memset(f, 0, sizeof(*f));
	err = lpm_foreach(dp->maps.exempt, sizeof(struct spw_exempt_key), v4_blocks_mark_key, f);
	if (!err && !was_built)
		err = map_update(dp->maps.exempt_v4, &zero, f, BPF_ANY);
	f->built = 1;
	err = err ?: map_update(dp->maps.exempt_v4, &zero, f, BPF_ANY);
	free(f);
	return err;
}

/*
 * Adds an exempt prefix. Its block bits are set before the trie holds it, so a clear bit
 * never hides an entry; until the bits were first built, the data plane asks the trie for
 * every source, so the first add only builds them, after its insert.
 */
int spw_dp_exempt_add(struct spw_dataplane *dp, const struct spw_cidr *c)
{
	struct spw_exempt_key key;
	struct spw_v4_blocks *f;
	uint32_t zero = 0;
	uint8_t yes = 1;
	int err;

	if (c->prefixlen > SPW_ADDR_LEN * 8)
		return -EINVAL;
	spw_cidr_to_exempt_key(c, &key);
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	err = map_lookup(dp->maps.exempt_v4, &zero, f);
	if (!err && f->built && key.family == SPW_EXEMPT_FAMILY_V4) {
		v4_blocks_mark(f, &key);
		err = map_update(dp->maps.exempt_v4, &zero, f, BPF_ANY);
	}
	if (!err)
		err = map_update(dp->maps.exempt, &key, &yes, BPF_ANY);
	if (!err && !f->built)
		err = v4_blocks_rebuild(dp);
	free(f);
	return err;
}

int spw_dp_exempt_lookup(struct spw_dataplane *dp, const uint8_t addr[SPW_ADDR_LEN], bool is_v4)
{
	struct spw_exempt_key key = {
	    .prefixlen = SPW_EXEMPT_FAMILY_BITS + SPW_ADDR_LEN * 8,
	    .family = is_v4 ? SPW_EXEMPT_FAMILY_V4 : SPW_EXEMPT_FAMILY_V6,
	};
	uint8_t yes;

	memcpy(key.addr, addr, SPW_ADDR_LEN);
	return map_lookup(dp->maps.exempt, &key, &yes);
}

int spw_dp_dscp_set(struct spw_dataplane *dp, uint8_t dscp, uint8_t tier)
{
	uint32_t key = dscp;

	if (dscp >= SPW_DSCP_VALUES || (tier >= SPW_MAX_TIERS && tier != SPW_DSCP_UNMAPPED))
		return -EINVAL;
	return map_update(dp->maps.dscp, &key, &tier, BPF_ANY);
}

int spw_dp_dscp_get(struct spw_dataplane *dp, uint8_t dscp, uint8_t *tier)
{
	uint32_t key = dscp;

	if (dscp >= SPW_DSCP_VALUES)
		return -EINVAL;
	return map_lookup(dp->maps.dscp, &key, tier);
}

int spw_dp_trusted_lookup(struct spw_dataplane *dp, const uint8_t addr[SPW_ADDR_LEN])
{
	struct spw_lpm_key key = {.prefixlen = SPW_ADDR_LEN * 8};
	uint8_t yes;

	memcpy(key.addr, addr, SPW_ADDR_LEN);
	return map_lookup(dp->maps.trusted, &key, &yes);
}

struct rules_walk {
	int fd;
	spw_dp_rule_fn fn;
	void *ctx;
};

static int rules_walk_key(const void *k, void *ctx)
{
	const struct spw_lpm_key *key = k;
	struct rules_walk *w = ctx;
	struct spw_rule rule;
	struct spw_cidr c;

	if (bpf_map_lookup_elem(w->fd, key, &rule))
		return 0; /* removed while we walked */
	memset(&c, 0, sizeof(c));
	memcpy(c.addr, key->addr, SPW_ADDR_LEN);
	c.prefixlen = (uint8_t)key->prefixlen;
	c.is_v4 = key->prefixlen >= SPW_V4_MAPPED_PREFIX && spw_addr_is_v4(key->addr);
	return w->fn(&c, &rule, w->ctx);
}

int spw_dp_rules_foreach(struct spw_dataplane *dp, spw_dp_rule_fn fn, void *ctx)
{
	struct rules_walk w = {dp->maps.rules, fn, ctx};

	return lpm_foreach(dp->maps.rules, sizeof(struct spw_lpm_key), rules_walk_key, &w);
}

/* qsort and bsearch take no context: the key size of the trie being pruned is set here. */
static _Thread_local size_t lpm_key_size;

static int lpm_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, lpm_key_size);
}

/* prune_lpm's walk: the wanted keys, sorted, and the stale ones found so far. */
struct lpm_prune {
	const uint8_t *sorted;
	size_t nwant, key_size;
	uint8_t *stale;
	size_t n, cap;
};

static int collect_stale(const void *key, void *ctx)
{
	struct lpm_prune *w = ctx;
	uint8_t *grown;

	if (bsearch(key, w->sorted, w->nwant, w->key_size, lpm_key_cmp))
		return 0;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		grown = realloc(w->stale, w->cap * w->key_size);
		if (!grown)
			return -ENOMEM;
		w->stale = grown;
	}
	memcpy(w->stale + w->n++ * w->key_size, key, w->key_size);
	return 0;
}

/*
 * Makes an LPM map hold only the wanted prefixes (values set by the caller afterwards); want
 * holds nwant keys of key_size bytes each. The wanted keys are sorted once and each key of the
 * trie looked up among them by bisection, in one walk of the trie that collects what is
 * stale, deleted after it (a delete during the walk would restart it): O((n + m) log m), where
 * comparing every key with every wanted one, and restarting after each batch of deletes, took
 * seconds at 100k rules (past the lease, at every start and reload).
 */
static int prune_lpm(int fd, const void *want, int nwant, size_t key_size)
{
	struct lpm_prune w = {.nwant = (size_t)nwant, .key_size = key_size};
	uint8_t *sorted;
	size_t i;
	int err;

	sorted = malloc(((size_t)nwant + 1) * key_size);
	if (!sorted)
		return -ENOMEM;
	lpm_key_size = key_size;
	if (nwant) {
		memcpy(sorted, want, (size_t)nwant * key_size);
		qsort(sorted, (size_t)nwant, key_size, lpm_key_cmp);
	}
	w.sorted = sorted;
	err = lpm_foreach(fd, key_size, collect_stale, &w);
	for (i = 0; !err && i < w.n; i++)
		if (bpf_map_delete_elem(fd, w.stale + i * key_size) && errno != ENOENT)
			err = -errno;
	free(sorted);
	free(w.stale);
	return err;
}

int spw_dp_rules_prune(struct spw_dataplane *dp, const struct spw_lpm_key *keep, int n)
{
	return prune_lpm(dp->maps.rules, keep, n, sizeof(*keep));
}

int spw_dp_trusted_prune(struct spw_dataplane *dp, const struct spw_lpm_key *keep, int n)
{
	return prune_lpm(dp->maps.trusted, keep, n, sizeof(*keep));
}

/* The bits of deleted prefixes are cleared after the deletes (see v4_blocks_rebuild). */
int spw_dp_exempt_prune(struct spw_dataplane *dp, const struct spw_exempt_key *keep, int n)
{
	return prune_lpm(dp->maps.exempt, keep, n, sizeof(*keep)) ?: v4_blocks_rebuild(dp);
}

int spw_dp_globals_get(struct spw_dataplane *dp, struct spw_globals *g)
{
	uint32_t zero = 0;

	return map_lookup(dp->maps.globals, &zero, g);
}

int spw_dp_globals_set(struct spw_dataplane *dp, const struct spw_globals *g)
{
	uint32_t zero = 0;

	return map_update(dp->maps.globals, &zero, g, BPF_ANY);
}

static int bucket_key(uint32_t svc_id, uint32_t tier, uint32_t *key)
{
	if (!svc_id_ok(svc_id) || tier >= SPW_MAX_TIERS)
		return -EINVAL;
	*key = spw_bucket_index(svc_id, tier);
	return 0;
}

int spw_dp_bucket_get(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier,
		      struct spw_bucket *b)
{
	uint32_t key;

	if (bucket_key(svc_id, tier, &key))
		return -EINVAL;
	/* BPF_F_LOCK: read under the bucket's spin lock, never half an update. */
	return bpf_map_lookup_elem_flags(dp->maps.buckets, &key, b, BPF_F_LOCK) ? -errno : 0;
}

int spw_dp_bucket_set(struct spw_dataplane *dp, uint32_t svc_id, uint32_t tier,
		      const struct spw_bucket *b)
{
	uint32_t key;

	if (bucket_key(svc_id, tier, &key))
		return -EINVAL;
	return map_update(dp->maps.buckets, &key, b, BPF_F_LOCK);
}
