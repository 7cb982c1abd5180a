// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillway's config file (spw_config.h): reading, YAML syntax, defaults, the top level and
 * the tiers. classify and dscp are in spw_config_classify.c, services in spw_config_service.c,
 * the daemon's own settings in spw_config_daemon.c, the node helpers in spw_config_yaml.c.
 * The schema with every default is shown in tools/spillway.example.yaml, which the unit tests
 * parse.
 *
 * Nothing here touches the running system: a config is complete and valid, or it is an
 * error and nothing else, so the daemon can keep its running config when a reload fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "spw_config_priv.h"
#include "spw_strnum.h"
#include "spillway_rank.h"

/*
 * A config larger than this is not a config: 262144 CIDR rules written one per line take
 * about 16 MiB, so 64 MiB leaves room for comments and stops a wrong path (a log, a disk
 * image) before it is read into memory.
 */
#define CFG_FILE_MAX (64u << 20)

/* Defaults (spw_config.h). */
#define DEFAULT_INSERT_RATE 20000
/*
 * Half the flow table per service: a flood of one service (random UDP source ports, never
 * completed handshakes) leaves the other half to the others, whose caps and counts keep
 * working; a single service still has 131k flows of the default table.
 */
#define DEFAULT_SERVICE_SHARE 0.5
/* The kernel's own ICMP error limit (net.ipv4.icmp_msgs_per_sec, icmp_msgs_burst). */
#define DEFAULT_ICMP_RATE  1000
#define DEFAULT_ICMP_BURST 50
#define DEFAULT_LISTEN	   "127.0.0.1:9478"
#define DEFAULT_STATE_DIR  SPW_STATE_DIR
#define DEFAULT_SOCKET	   SPW_REPORT_SOCKET

static const char *const default_tiers[] = {"critical", "standard", "sheddable"};

static void set_defaults(struct spw_config *c)
{
	struct spw_config_controller *k = &c->controller;
	size_t i;

	for (i = 0; i < sizeof(default_tiers) / sizeof(default_tiers[0]); i++)
		snprintf(c->tiers[i], sizeof(c->tiers[i]), "%s", default_tiers[i]);
	c->ntiers = (int)i;
	memset(c->dscp_tier, SPW_DSCP_UNMAPPED, sizeof(c->dscp_tier));
	k->tick_ns = 100 * SPW_NSEC_PER_MSEC;
	k->lease_ns = 3 * SPW_NSEC_PER_SEC;
	k->hysteresis = 0.1;
	k->cohort_rotation_ns = 10 * SPW_NSEC_PER_SEC;
	k->stale_after_ns = 2 * SPW_NSEC_PER_SEC;
	k->sweep_every_ns = 5 * SPW_NSEC_PER_SEC;
	k->syn_timeout_ns = 30 * SPW_NSEC_PER_SEC;
	k->idle_timeout_ns = 10 * SPW_NSEC_PER_MIN;
	k->udp_timeout_ns = 60 * SPW_NSEC_PER_SEC;
	c->exempt_host_addresses = true;
	c->flow_capacity = SPW_FLOWS_DEFAULT;
	c->flood_insert_rate = DEFAULT_INSERT_RATE;
	c->flow_service_share = DEFAULT_SERVICE_SHARE;
	c->ipv6_cohort_prefix = SPW_V6_COHORT_PREFIX_DEFAULT;
	c->icmp_rate = DEFAULT_ICMP_RATE;
	c->icmp_burst = DEFAULT_ICMP_BURST;
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s", DEFAULT_LISTEN);
	snprintf(c->report_socket, sizeof(c->report_socket), "%s", DEFAULT_SOCKET);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", DEFAULT_STATE_DIR);
	c->xdp_dispatcher = SPW_XDP_VIA_LINK;
	c->xdp_priority = SPW_XDP_PRIORITY_DEFAULT;
}

int spw_config_tier(const struct spw_config *c, const char *name)
{
	int i;

	for (i = 0; i < c->ntiers; i++)
		if (!strcmp(c->tiers[i], name))
			return i;
	return -1;
}

/* ---- tiers ---- */

static int parse_tiers(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct spw_config *c = x->c;
	yaml_node_t *first[SPW_MAX_TIERS];
	int i, j, n, err;

	(void)key;
	(void)obj;
	err = cfg_expect_list(x, "'tiers'", val);
	if (err)
		return err;
	/* A null value means the default tiers, as for every other section. */
	if (cfg_is_null(val))
		return 0;
	n = cfg_list_len(val);
	if (n == 0)
		return cfg_err(x, val, "tiers: at least one tier is needed");
	for (i = 0; i < n; i++) {
		yaml_node_t *item = cfg_list_item(x, val, i);

		if (i == SPW_MAX_TIERS)
			return cfg_err(x, item, "tiers: at most %d tiers", SPW_MAX_TIERS);
		err = cfg_name(x, "tiers", "tier", true, item, c->tiers[i]);
		if (err)
			return err;
		for (j = 0; j < i; j++)
			if (!strcmp(c->tiers[j], c->tiers[i]))
				return cfg_err(x, item,
					       "tiers: '%s' is listed twice (first at line %u)",
					       c->tiers[i], cfg_line(first[j]));
		first[i] = item;
	}
	for (; i < SPW_MAX_TIERS; i++)
		memset(c->tiers[i], 0, sizeof(c->tiers[i]));
	c->ntiers = n;
	return 0;
}

/* ---- top level ---- */

static int skip(struct cfg_ctx *x, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	(void)x;
	(void)key;
	(void)val;
	(void)obj;
	return 0;
}

/* In the order the example file shows them. */
static const struct cfg_field top_fields[] = {
    {"interfaces", cfg_parse_interfaces},
    {"tiers", parse_tiers},
    {"classify", cfg_parse_classify},
    {"dscp", cfg_parse_dscp},
    {"exempt", cfg_parse_exempt},
    {"exempt_host_addresses", cfg_parse_exempt_host_addresses},
    {"services", cfg_parse_services},
    {"controller", cfg_parse_controller},
    {"flows", cfg_parse_flows},
    {"reject", cfg_parse_reject},
    {"metrics", cfg_parse_metrics},
    {"report", cfg_parse_report},
    {"state_dir", cfg_parse_state_dir},
    {"downstreams", cfg_parse_downstreams},
    {"xdp_dispatcher", cfg_parse_xdp_dispatcher},
    {"xdp_priority", cfg_parse_xdp_priority},
};
#define NTOP (sizeof(top_fields) / sizeof(top_fields[0]))

static int parse_root(struct cfg_ctx *x, yaml_node_t *root)
{
	struct cfg_field pass[NTOP];
	size_t i;
	int err;

	if (root->type != YAML_MAPPING_NODE)
		return cfg_err(x, root, "the top level must be a mapping of settings, not %s",
			       cfg_kind(root));
	/*
	 * Pass 1 checks every key and reads the tiers, which classify, dscp and services name
	 * wherever they appear in the file; pass 2 reads the rest in file order.
	 */
	for (i = 0; i < NTOP; i++) {
		pass[i] = top_fields[i];
		if (strcmp(pass[i].key, "tiers"))
			pass[i].parse = skip;
	}
	err = cfg_walk_map(x, root, "the top level", "at the top level", pass, NTOP, NULL);
	if (err)
		return err;
	for (i = 0; i < NTOP; i++) {
		pass[i] = top_fields[i];
		if (!strcmp(pass[i].key, "tiers"))
			pass[i].parse = skip;
	}
	err = cfg_walk_map(x, root, "the top level", "at the top level", pass, NTOP, NULL);
	if (err)
		return err;
	/* Only libxdp's dispatcher orders programs: a priority for spillway's own link, which
	 * holds the hook alone, would be a setting that does nothing. */
	if (x->xdp_priority && x->c->xdp_dispatcher != SPW_XDP_VIA_LIBXDP)
		return cfg_err(x, x->xdp_priority,
			       "xdp_priority: only libxdp's dispatcher runs programs in an order "
			       "(set xdp_dispatcher: libxdp, or remove xdp_priority)");
	return 0;
}

/* Line and column of a byte offset, for reader errors, which libyaml reports by offset only. */
static yaml_mark_t offset_mark(const char *text, size_t len, size_t offset)
{
	yaml_mark_t m = {0};
	size_t i;

	for (i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	m.index = offset;
	return m;
}

static int yaml_error(struct cfg_ctx *x, const yaml_parser_t *p, const char *text, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		snprintf(x->err, x->errlen, "%s: out of memory", x->name);
		return -ENOMEM;
	case YAML_READER_ERROR:
		if (p->problem_value != -1)
			return cfg_err_mark(x, offset_mark(text, len, p->problem_offset),
					    "YAML syntax: %s (byte 0x%02x)", problem,
					    (unsigned int)p->problem_value & 0xff);
		return cfg_err_mark(x, offset_mark(text, len, p->problem_offset), "YAML syntax: %s",
				    problem);
	default:
		/* libyaml's context names what it was reading and where that started. */
		if (p->context)
			return cfg_err_mark(x, p->problem_mark,
					    "YAML syntax: %s (%s at line %zu, column %zu)", problem,
					    p->context, p->context_mark.line + 1,
					    p->context_mark.column + 1);
		return cfg_err_mark(x, p->problem_mark, "YAML syntax: %s", problem);
	}
}

int spw_config_parse(const char *name, const char *text, size_t len, struct spw_config **out,
		     char *err, size_t errlen)
{
	struct cfg_ctx x = {.name = name, .err = err, .errlen = errlen};
	yaml_document_t doc, extra;
	yaml_parser_t parser;
	struct spw_config *c;
	yaml_node_t *root;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	snprintf(c->path, sizeof(c->path), "%s", name);
	set_defaults(c);
	x.c = c;
	x.doc = &doc;

	if (!yaml_parser_initialize(&parser)) {
		free(c);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = yaml_error(&x, &parser, text, len);
		goto out_parser;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || cfg_is_null(root)) {
		ret = cfg_err_mark(&x, doc.start_mark, "the file is empty: no settings");
		goto out_doc;
	}
	/* A second document would be ignored by a plain load: a concatenated file is an error. */
	if (!yaml_parser_load(&parser, &extra)) {
		ret = yaml_error(&x, &parser, text, len);
		goto out_doc;
	}
	if (yaml_document_get_root_node(&extra)) {
		ret = cfg_err_mark(&x, extra.start_mark,
				   "a second YAML document: the file must hold exactly one");
		yaml_document_delete(&extra);
		goto out_doc;
	}
	yaml_document_delete(&extra);
	ret = parse_root(&x, root);

out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	if (ret) {
		spw_config_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	size_t cap, got = 0;
	struct stat st;
	char *b;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > CFG_FILE_MAX) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: larger than %u MiB: not a config file", path,
			 CFG_FILE_MAX >> 20);
		goto out;
	}
	/* One byte more than the size: a file that grows while read is seen growing. */
	cap = (size_t)st.st_size + 1;
	b = malloc(cap);
	if (!b) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, b + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
			free(b);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap) {
			ret = -EAGAIN;
			snprintf(err, errlen, "%s: changed while being read", path);
			free(b);
			goto out;
		}
	}
	*buf = b;
	*len = got;
	ret = 0;
out:
	close(fd);
	return ret;
}

int spw_config_load(const char *path, struct spw_config **out, char *err, size_t errlen)
{
	size_t len = 0;
	char *text = NULL;
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	ret = read_file(path, &text, &len, err, errlen);
	if (ret)
		return ret;
	ret = spw_config_parse(path, text, len, out, err, errlen);
	free(text);
	/*
	 * A large file's node tree is many small allocations; hand the freed memory back so a
	 * reload does not leave the daemon's resident size at the parse's peak.
	 */
	malloc_trim(0);
	return ret;
}

void spw_config_free(struct spw_config *c)
{
	if (!c)
		return;
	free(c->rules);
	free(c->trusted);
	free(c->exempt);
	free(c);
}
