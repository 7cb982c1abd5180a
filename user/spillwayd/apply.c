// SPDX-License-Identifier: GPL-2.0-only
/*
 * Applying a validated config to the data plane: exempt sources, services, CIDR rules, trusted
 * sources, DSCP map, flood guard, interfaces. Idempotent: applying the running config again changes
 * nothing, and applying a new one removes what the old one had and the new one does not.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "spwd.h"
#include "spw_log.h"

static const struct spw_config_service *find_service(const struct spw_config *cfg, const char *name)
{
	int i;

	for (i = 0; cfg && i < cfg->nservices; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	return NULL;
}

static bool same_match(const struct spw_service_match *a, const struct spw_service_match *b)
{
	return a->proto == b->proto && a->port == b->port && a->has_addr == b->has_addr &&
	       (!a->has_addr || !memcmp(a->addr, b->addr, SPW_ADDR_LEN));
}

void spwd_assign_ids(struct spwd *d, struct spw_config *cfg)
{
	char held[SPW_MAX_SERVICES][SPW_NAME_MAX];
	struct spw_service_rec r;
	uint32_t id;

	_Static_assert(SPW_NAME_MAX == SPW_SERVICE_NAME_LEN, "service names fit the record");
	memset(held, 0, sizeof(held));
	for (id = 1; id < SPW_MAX_SERVICES; id++)
		if (!spw_dp_service_rec_get(d->dp, id, &r))
			memcpy(held[id], r.name, SPW_NAME_MAX - 1);
	spw_config_assign_ids(cfg, (const char(*)[SPW_NAME_MAX])held);
}

/* Records that s holds its id; the learned capacity of a service kept there stays. */
static int hold_id(struct spwd *d, const struct spw_config_service *s)
{
	struct spw_service_rec r;
	int err;

	if (spw_dp_service_rec_get(d->dp, s->id, &r) || strncmp(r.name, s->name, sizeof(r.name))) {
		memset(&r, 0, sizeof(r));
		snprintf(r.name, sizeof(r.name), "%s", s->name);
		r.saved_ns = spw_now_ns();
	}
	err = spw_dp_service_rec_set(d->dp, s->id, &r);
	if (err)
		pr_warn("cannot record the id of service %s: %s\n", s->name, strerror(-err));
	return err;
}

static int apply_services(struct spwd *d, const struct spw_config *cfg,
			  const struct spw_config *old)
{
	const struct spw_config_service *s, *kept;
	int i, err;

	/* Old services first: one the new config drops (or moves) must stop matching. */
	for (i = 0; old && i < old->nservices; i++) {
		s = &old->services[i];
		kept = find_service(cfg, s->name);
		if (kept && kept->id == s->id && same_match(&kept->match, &s->match))
			continue;
		spw_dp_service_del(d->dp, &s->match);
		if (!kept || kept->id != s->id)
			spw_dp_policy_del(d->dp, s->id);
	}
	for (i = 0; i < cfg->nservices; i++) {
		s = &cfg->services[i];
		err = spw_dp_service_add(d->dp, &s->match, s->id);
		if (err) {
			pr_warn("cannot add service %s: %s\n", s->name, strerror(-err));
			return err;
		}
		err = hold_id(d, s);
		if (err)
			return err;
	}
	return 0;
}

static int apply_prefixes(struct spwd *d, const struct spw_config *cfg)
{
	struct spw_lpm_key *keys;
	int i, err = 0, n = cfg->nrules > cfg->ntrusted ? cfg->nrules : cfg->ntrusted;

	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < cfg->nrules; i++)
		spw_cidr_to_key(&cfg->rules[i].cidr, &keys[i]);
	err = spw_dp_rules_prune(d->dp, keys, cfg->nrules);
	for (i = 0; !err && i < cfg->nrules; i++)
		err = spw_dp_rule_add(d->dp, &cfg->rules[i].cidr, cfg->rules[i].tier,
				      cfg->rules[i].line);
	if (err) {
		pr_warn("cannot load the CIDR rules: %s\n", strerror(-err));
		goto out;
	}
	for (i = 0; i < cfg->ntrusted; i++)
		spw_cidr_to_key(&cfg->trusted[i], &keys[i]);
	err = spw_dp_trusted_prune(d->dp, keys, cfg->ntrusted);
	for (i = 0; !err && i < cfg->ntrusted; i++)
		err = spw_dp_trusted_add(d->dp, &cfg->trusted[i]);
	if (err)
		pr_warn("cannot load the trusted DSCP sources: %s\n", strerror(-err));
out:
	free(keys);
	return err;
}

/*
 * Each service's share of the flow table, from the table's real size (a pinned table keeps
 * the size it was made with): written into every policy from the next tick.
 */
static void set_max_tracked(struct spwd *d, const struct spw_config *cfg)
{
	uint32_t table = 0;

	d->max_tracked = 0;
	if (cfg->flow_service_share >= 1.0 || spw_dp_flow_capacity(d->dp, &table) || !table)
		return;
	d->max_tracked = (uint32_t)(cfg->flow_service_share * table);
	if (!d->max_tracked)
		d->max_tracked = 1;
}

/*
 * The exempt set: the configured prefixes and, unless turned off, the host's own addresses as
 * they are now. The new set is added before what only the old one had is removed, so a source
 * exempt before and after a reload is never refused in between, and a failed add leaves the
 * old entries in place (the caller then applies the old config again).
 */
static int apply_exempt(const struct spwd *d, const struct spw_config *cfg)
{
	int i, n = cfg->nexempt, host = 0, err = 0;
	struct spw_exempt_key *keys;
	struct spw_cidr *all;

	all = calloc((size_t)cfg->nexempt + SPW_EXEMPT_HOST_MAX, sizeof(*all));
	keys = calloc((size_t)cfg->nexempt + SPW_EXEMPT_HOST_MAX, sizeof(*keys));
	if (!all || !keys) {
		err = -ENOMEM;
		goto out;
	}
	if (cfg->nexempt)
		memcpy(all, cfg->exempt, (size_t)cfg->nexempt * sizeof(*all));
	if (cfg->exempt_host_addresses) {
		host = spw_host_addrs(all + n, SPW_EXEMPT_HOST_MAX);
		if (host < 0) {
			err = host;
			pr_warn("cannot list the host's addresses to exempt: %s\n", strerror(-err));
			goto out;
		}
		if (host > SPW_EXEMPT_HOST_MAX)
			pr_warn("the host has %d addresses; only the first %d are exempt\n", host,
				SPW_EXEMPT_HOST_MAX);
		n += host < SPW_EXEMPT_HOST_MAX ? host : SPW_EXEMPT_HOST_MAX;
	}
	for (i = 0; !err && i < n; i++) {
		spw_cidr_to_exempt_key(&all[i], &keys[i]);
		err = spw_dp_exempt_add(d->dp, &all[i]);
	}
	if (!err)
		err = spw_dp_exempt_prune(d->dp, keys, n);
	if (err)
		pr_warn("cannot load the exempt sources: %s\n", strerror(-err));
	else
		pr_debug("exempt: %d configured prefixes, %d host addresses\n", cfg->nexempt,
			 n - cfg->nexempt);
out:
	free(keys);
	free(all);
	return err;
}

/*
 * Where the cgroup v2 hierarchy is mounted: the unified mount of current systems (Debian 12),
 * or the "unified" one of hosts that still mount the v1 controllers at /sys/fs/cgroup. The
 * downstreams' cgroups paths are below it.
 */
static const char *const cgroup2_roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};

/*
 * The id bpf_skb_cgroup_id reports for the cgroup v2 at path: the kernfs node id, which is
 * the directory's inode number on 64-bit hosts. -ENOTSUP when no cgroup v2 is mounted.
 */
static int cgroup_id_of(const char *path, uint64_t *id)
{
	char full[64 + SPW_CGROUP_PATH_MAX];
	const char *root = NULL;
	struct statfs fs;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(cgroup2_roots) / sizeof(cgroup2_roots[0]) && !root; i++)
		if (!statfs(cgroup2_roots[i], &fs) && fs.f_type == CGROUP2_SUPER_MAGIC)
			root = cgroup2_roots[i];
	if (!root)
		return -ENOTSUP;
	snprintf(full, sizeof(full), "%s%s", root, path);
	if (stat(full, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (uint64_t)st.st_ino;
	return 0;
}

/*
 * The downstreams' cgroups. A cgroup that does not exist (yet: its service has not started)
 * gives nothing a tier, said once per apply; a reload picks it up.
 */
static int apply_out_cgroups(struct spwd *d, const struct spw_config *cfg, uint8_t *flags)
{
	struct spw_out_cgroup_key *keys;
	uint8_t *tiers;
	int i, j, n = 0, err;

	keys = calloc(SPW_MAX_OUT_CGROUPS, sizeof(*keys));
	tiers = calloc(SPW_MAX_OUT_CGROUPS, sizeof(*tiers));
	if (!keys || !tiers) {
		free(keys);
		free(tiers);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->ndownstreams; i++) {
		const struct spw_config_downstream *c = &cfg->downstreams[i];

		for (j = 0; j < c->ncgroups && n < SPW_MAX_OUT_CGROUPS; j++) {
			uint64_t id = 0;

			err = cgroup_id_of(c->cgroups[j].path, &id);
			if (err) {
				pr_warn("downstream %s: cgroup %s: %s%s; its connections get the "
					"downstream's tier until a reload finds it\n",
					c->name, c->cgroups[j].path, strerror(-err),
					err == -ENOTSUP ? " (no cgroup v2 at /sys/fs/cgroup)" : "");
				continue;
			}
			keys[n] = (struct spw_out_cgroup_key){.cgroup_id = id, .downstream = c->id};
			tiers[n++] = c->cgroups[j].tier;
			flags[i] |= SPW_DS_CGROUPS;
		}
	}
	err = spw_dp_out_cgroups_replace(d->dp, keys, tiers, n);
	if (err)
		pr_warn("cannot load the downstreams' cgroups: %s\n", strerror(-err));
	free(keys);
	free(tiers);
	return err;
}

static int apply_downstreams(struct spwd *d, const struct spw_config *cfg)
{
	struct spw_lpm_key keys[SPW_MAX_DOWNSTREAMS];
	uint8_t flags[SPW_MAX_DOWNSTREAMS] = {0};
	int i, err;

	for (i = 0; i < cfg->ndownstreams; i++)
		spw_cidr_to_key(&cfg->downstreams[i].dest, &keys[i]);
	err = spw_dp_downstreams_prune(d->dp, keys, cfg->ndownstreams);
	/* Cgroups before their downstreams: a flag set never points at a missing entry. */
	if (!err)
		err = apply_out_cgroups(d, cfg, flags);
	for (i = 0; !err && i < cfg->ndownstreams; i++) {
		const struct spw_config_downstream *c = &cfg->downstreams[i];
		struct spw_downstream ds = {
		    .id = c->id,
		    .port = htons(c->port),
		    .default_tier = c->default_tier,
		    .flags = flags[i],
		    .k_centi = c->k_centi,
		    .bucket_ms = c->bucket_ms,
		};

		memcpy(ds.mark, c->mark_egress, sizeof(ds.mark));
		err = spw_dp_downstream_set(d->dp, &c->dest, &ds);
	}
	if (err)
		pr_warn("cannot load the downstreams: %s\n", strerror(-err));
	return err;
}

static int apply_dscp(struct spwd *d, const struct spw_config *cfg)
{
	int i, err;

	for (i = 0; i < SPW_DSCP_VALUES; i++) {
		err = spw_dp_dscp_set(d->dp, i, cfg->dscp_tier[i]);
		if (err)
			return err;
	}
	return 0;
}

static enum spw_attach_mode iface_mode(const struct spw_config *cfg, const char *name, bool *found)
{
	int i;

	*found = false;
	for (i = 0; cfg && i < cfg->nifaces; i++) {
		if (!strcmp(cfg->ifaces[i].name, name)) {
			*found = true;
			return cfg->ifaces[i].mode;
		}
	}
	return SPW_ATTACH_XDP;
}

static int apply_ifaces(struct spwd *d, const struct spw_config *cfg, const struct spw_config *old)
{
	const struct spw_xdp_via via = {cfg->xdp_dispatcher, cfg->xdp_priority};
	bool found;
	int i, err, ifindex;

	/* An interface the new config drops, or moves to another mode, is detached first. */
	for (i = 0; old && i < old->nifaces; i++) {
		enum spw_attach_mode mode = iface_mode(cfg, old->ifaces[i].name, &found);

		if (found && mode == old->ifaces[i].mode)
			continue;
		ifindex = if_nametoindex(old->ifaces[i].name);
		if (ifindex > 0 && !spw_dp_detach(d->dp, ifindex))
			pr_info("detached from %s\n", old->ifaces[i].name);
	}
	for (i = 0; i < cfg->nifaces; i++) {
		ifindex = if_nametoindex(cfg->ifaces[i].name);
		if (!ifindex) {
			pr_warn("interface %s does not exist\n", cfg->ifaces[i].name);
			return -ENODEV;
		}
		err = spw_dp_attach_via(d->dp, ifindex, cfg->ifaces[i].mode, &via);
		if (err)
			return err;
		if (cfg->ifaces[i].mode == SPW_ATTACH_TC || via.dispatcher == SPW_XDP_VIA_LINK)
			pr_info("attached to %s (%s)\n", cfg->ifaces[i].name,
				spw_attach_mode_name(cfg->ifaces[i].mode));
		else
			pr_info("attached to %s (%s, libxdp's dispatcher, priority %u)\n",
				cfg->ifaces[i].name, spw_attach_mode_name(cfg->ifaces[i].mode),
				via.priority);
	}
	return 0;
}

int spwd_apply(struct spwd *d, const struct spw_config *cfg, const struct spw_config *old)
{
	int err;

	/* Exempt sources first: a service must never match before its probes are exempt. */
	err = apply_exempt(d, cfg);
	if (!err)
		err = apply_services(d, cfg, old);
	if (!err)
		err = apply_prefixes(d, cfg);
	if (!err)
		err = apply_dscp(d, cfg);
	if (!err)
		err = apply_downstreams(d, cfg);
	if (!err)
		err = spw_dp_flood_guard_set(d->dp, cfg->flood_insert_rate, 0);
	if (!err)
		err = spw_dp_reject_limit_set(d->dp, cfg->icmp_rate, cfg->icmp_burst);
	if (!err)
		err = spw_dp_cohort_prefix_set(d->dp, cfg->ipv6_cohort_prefix);
	if (!err)
		set_max_tracked(d, cfg);
	if (!err)
		err = apply_ifaces(d, cfg, old);
	return err;
}

/* Signals still configured keep their last measurement: a reload is not a reporting gap. */
static void keep_measurements(struct spwd_service *s, const struct spwd_service *old)
{
	int i, j;

	for (i = 0; i < s->cfg->nsignals; i++) {
		for (j = 0; j < old->cfg->nsignals; j++) {
			const struct spw_signal *o = &old->signals[j];

			if (o->kind == s->signals[i].kind &&
			    !strcmp(o->source, s->signals[i].source)) {
				s->signals[i].value = o->value;
				s->signals[i].updated_ns = o->updated_ns;
				/* A target learned is kept while the file still asks to learn it.
				 */
				if (s->signals[i].learn && o->learn) {
					s->signals[i].target = o->target;
					s->signals[i].target_follows_load = o->target_follows_load;
					s->baselines[i] = old->baselines[j];
					/* What in_flight learns from is the service's, one at most.
					 */
					if (o->kind == SPW_SIG_IN_FLIGHT)
						s->conc = old->conc;
				}
				break;
			}
		}
	}
}

/*
 * A service this process has not controlled yet starts where the pinned policy says the data
 * plane is (a daemon restarted in an overload must not open the gates), with the capacity its
 * record kept. A policy of another tier layout, or none, starts at full admission.
 */
static void resume(struct spwd *d, struct spwd_service *s)
{
	struct spw_service_rec r;
	struct spw_policy p;
	double capacity = 0;

	if (spw_dp_policy_get(d->dp, s->cfg->id, &p) || p.tier_count != s->law.tiers)
		return;
	if (!spw_dp_service_rec_get(d->dp, s->cfg->id, &r) &&
	    !strncmp(r.name, s->cfg->name, sizeof(r.name)))
		capacity = (double)r.capacity_mfps / 1000.0;
	spw_law_resume(&s->law, &s->law_params,
		       (double)p.admit_level + (double)p.partial / SPW_PARTIAL_ONE, capacity);
	s->level = (uint32_t)s->law.level;
	s->partial = spw_law_partial(&s->law, &s->law_params);
	s->law_level = s->level;
	s->generation = p.generation;
	if (s->level < s->law_params.ceiling)
		pr_info("%s: resuming at level %u (+%u/256) from the pinned policy\n", s->cfg->name,
			s->level, s->partial);
}

void spwd_services_rebuild(struct spwd *d, const struct spw_config *cfg)
{
	struct spwd_service fresh[SPW_MAX_SERVICES - 1];
	int i, j;

	memset(fresh, 0, sizeof(fresh));
	for (i = 0; i < cfg->nservices; i++) {
		const struct spw_config_service *c = &cfg->services[i];
		struct spwd_service *s = &fresh[i];
		uint32_t floor = c->protect_tier0 ? SPW_COHORTS : 0;

		s->cfg = c;
		spw_law_defaults(&s->law_params, floor, cfg->ntiers * SPW_COHORTS,
				 cfg->controller.hysteresis, cfg->controller.tick_ns);
		spw_law_init(&s->law, &s->law_params, (uint32_t)cfg->ntiers);
		memcpy(s->signals, c->signals, sizeof(s->signals));
		for (j = 0; j < SPW_MAX_SIGNALS; j++)
			spw_baseline_init(&s->baselines[j]);
		spw_concurrency_init(&s->conc);
		s->pressure = NAN;
		s->level = s->law_params.ceiling;
		/* A service kept across a reload keeps its law state and measurements. */
		for (j = 0; j < d->nsvcs; j++) {
			struct spwd_service *o = &d->svcs[j];

			if (strcmp(o->cfg->name, c->name))
				continue;
			if (o->law.tiers == s->law.tiers) {
				s->law = o->law;
				if (s->law.level > s->law_params.ceiling)
					s->law.level = s->law_params.ceiling;
			}
			s->level = o->level;
			s->partial = o->partial;
			s->generation = o->generation;
			s->lat_base = o->lat_base;
			s->lat_base_ns = o->lat_base_ns;
			if (o->cfg->match.port == c->match.port) {
				s->lo_drops = o->lo_drops;
				s->lo_ns = o->lo_ns;
			}
			keep_measurements(s, o);
			break;
		}
		if (j == d->nsvcs)
			resume(d, s);
	}
	memcpy(d->svcs, fresh, sizeof(fresh));
	d->nsvcs = cfg->nservices;
}
