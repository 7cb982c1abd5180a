// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Kubernetes manifests of deploy/kubernetes/, checked offline. kubectl's client-side
 * dry-run still asks a server for the API's schema, so this is a schema of our own for the
 * fields that matter, with their types:
 *
 *   (a) every file is in kustomization.yaml and every listed file exists; each object has
 *       apiVersion, kind, metadata.name, and only keys Kubernetes knows for the parts used
 *       (a misspelt key is an error, not a default);
 *   (b) the DaemonSet: its selector matches the template's labels; hostNetwork with
 *       ClusterFirstWithHostNet; the ServiceAccount and ConfigMap it names are in the set, in
 *       its namespace; not privileged, no privilege escalation, capabilities ALL dropped and
 *       exactly BPF, NET_ADMIN, PERFMON added (SYS_ADMIN is the one other allowed); host
 *       mounts of /sys/fs/bpf and /run/spillway at the same paths; the ConfigMap mounted where
 *       --config points; a readiness probe on /healthz at the exporter's port, and the scrape
 *       annotations naming that port and /metrics; the supplemental group is the image's
 *       spillway group (deploy/container/Containerfile);
 *   (c) the ConfigMap's spillway.yaml passes the daemon's own config parser, listens on an
 *       address the kubelet's probe reaches (not loopback), and keeps its sockets and state
 *       under the /run/spillway mount;
 *   (d) the image is the release's (VERSION).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "cmd.h"
#include "ydoc.h"
#include "spw_config.h"
#include "util.h"

#define DIR_K8S	      SPW_SRC_ROOT "/deploy/kubernetes"
#define CONTAINERFILE SPW_SRC_ROOT "/deploy/container/Containerfile"
#define MAX_FILES     8

/* Every object of every manifest: which file, which document. */
struct obj {
	struct spw_ydocs *d;
	int i;
	const char *kind, *name, *ns;
	char file[64];
};

static struct spw_ydocs docs[MAX_FILES];
static struct obj objs[MAX_FILES * SPW_YDOC_MAX];
static int nfiles, nobjs;

/* ---- the schema --------------------------------------------------------------------------- */

enum ytype { T_STR, T_MAP, T_SEQ, T_ANY };

/* One key of an object: its type, and for a mapping or list of mappings, its own keys. */
struct field {
	const char *key;
	enum ytype type;
	const struct field *sub; /* a mapping's fields, or a list's items' (NULL: not checked) */
	bool seq_of_maps;
};

#define END                                                                                        \
	{                                                                                          \
		NULL, T_ANY, NULL, false                                                           \
	}

static const struct field labels_any[] = {END};
static const struct field metadata[] = {{"name", T_STR, NULL, false},
					{"namespace", T_STR, NULL, false},
					{"labels", T_MAP, NULL, false},
					{"annotations", T_MAP, NULL, false},
					END};
static const struct field http_get[] = {{"path", T_STR, NULL, false},
					{"port", T_STR, NULL, false},
					{"host", T_STR, NULL, false},
					{"scheme", T_STR, NULL, false},
					END};
static const struct field probe[] = {{"httpGet", T_MAP, http_get, false},
				     {"initialDelaySeconds", T_STR, NULL, false},
				     {"periodSeconds", T_STR, NULL, false},
				     {"failureThreshold", T_STR, NULL, false},
				     {"timeoutSeconds", T_STR, NULL, false},
				     {"successThreshold", T_STR, NULL, false},
				     END};
static const struct field caps[] = {{"add", T_SEQ, NULL, false}, {"drop", T_SEQ, NULL, false}, END};
static const struct field seccomp[] = {
    {"type", T_STR, NULL, false}, {"localhostProfile", T_STR, NULL, false}, END};
static const struct field sec_ctx[] = {{"privileged", T_STR, NULL, false},
				       {"allowPrivilegeEscalation", T_STR, NULL, false},
				       {"readOnlyRootFilesystem", T_STR, NULL, false},
				       {"runAsUser", T_STR, NULL, false},
				       {"runAsNonRoot", T_STR, NULL, false},
				       {"runAsGroup", T_STR, NULL, false},
				       {"capabilities", T_MAP, caps, false},
				       {"seccompProfile", T_MAP, seccomp, false},
				       END};
static const struct field port[] = {{"name", T_STR, NULL, false},
				    {"containerPort", T_STR, NULL, false},
				    {"hostPort", T_STR, NULL, false},
				    {"protocol", T_STR, NULL, false},
				    END};
static const struct field quantity[] = {
    {"cpu", T_STR, NULL, false}, {"memory", T_STR, NULL, false}, END};
static const struct field resources[] = {
    {"requests", T_MAP, quantity, false}, {"limits", T_MAP, quantity, false}, END};
static const struct field mount[] = {
    {"name", T_STR, NULL, false},     {"mountPath", T_STR, NULL, false},
    {"readOnly", T_STR, NULL, false}, {"mountPropagation", T_STR, NULL, false},
    {"subPath", T_STR, NULL, false},  END};
static const struct field container[] = {{"name", T_STR, NULL, false},
					 {"image", T_STR, NULL, false},
					 {"imagePullPolicy", T_STR, NULL, false},
					 {"command", T_SEQ, NULL, false},
					 {"args", T_SEQ, NULL, false},
					 {"env", T_SEQ, NULL, false},
					 {"ports", T_SEQ, port, true},
					 {"readinessProbe", T_MAP, probe, false},
					 {"livenessProbe", T_MAP, probe, false},
					 {"resources", T_MAP, resources, false},
					 {"securityContext", T_MAP, sec_ctx, false},
					 {"volumeMounts", T_SEQ, mount, true},
					 END};
static const struct field host_path[] = {
    {"path", T_STR, NULL, false}, {"type", T_STR, NULL, false}, END};
static const struct field cm_source[] = {{"name", T_STR, NULL, false},
					 {"items", T_SEQ, NULL, false},
					 {"defaultMode", T_STR, NULL, false},
					 END};
static const struct field volume[] = {{"name", T_STR, NULL, false},
				      {"hostPath", T_MAP, host_path, false},
				      {"configMap", T_MAP, cm_source, false},
				      END};
static const struct field toleration[] = {{"key", T_STR, NULL, false},
					  {"operator", T_STR, NULL, false},
					  {"value", T_STR, NULL, false},
					  {"effect", T_STR, NULL, false},
					  END};
static const struct field pod_sec[] = {{"supplementalGroups", T_SEQ, NULL, false},
				       {"runAsUser", T_STR, NULL, false},
				       {"fsGroup", T_STR, NULL, false},
				       END};
static const struct field pod_spec[] = {{"serviceAccountName", T_STR, NULL, false},
					{"automountServiceAccountToken", T_STR, NULL, false},
					{"hostNetwork", T_STR, NULL, false},
					{"dnsPolicy", T_STR, NULL, false},
					{"priorityClassName", T_STR, NULL, false},
					{"terminationGracePeriodSeconds", T_STR, NULL, false},
					{"tolerations", T_SEQ, toleration, true},
					{"securityContext", T_MAP, pod_sec, false},
					{"containers", T_SEQ, container, true},
					{"volumes", T_SEQ, volume, true},
					{"nodeSelector", T_MAP, NULL, false},
					END};
static const struct field template[] = {
    {"metadata", T_MAP, metadata, false}, {"spec", T_MAP, pod_spec, false}, END};
static const struct field selector[] = {{"matchLabels", T_MAP, labels_any + 0, false}, END};
static const struct field rolling[] = {
    {"maxUnavailable", T_STR, NULL, false}, {"maxSurge", T_STR, NULL, false}, END};
static const struct field strategy[] = {
    {"type", T_STR, NULL, false}, {"rollingUpdate", T_MAP, rolling, false}, END};
static const struct field ds_spec[] = {{"selector", T_MAP, selector, false},
				       {"updateStrategy", T_MAP, strategy, false},
				       {"template", T_MAP, template, false},
				       {"minReadySeconds", T_STR, NULL, false},
				       END};

#define TOP(extra...)                                                                              \
	{"apiVersion", T_STR, NULL, false}, {"kind", T_STR, NULL, false},                          \
	    {"metadata", T_MAP, metadata, false}, extra, END

static const struct field daemonset[] = {TOP({"spec", T_MAP, ds_spec, false})};
static const struct field configmap[] = {TOP({"data", T_MAP, NULL, false})};
static const struct field serviceaccount[] = {
    TOP({"automountServiceAccountToken", T_STR, NULL, false})};
static const struct field namespace_[] = {TOP({"spec", T_MAP, NULL, false})};
static const struct field kustomization[] = {
    {"apiVersion", T_STR, NULL, false}, {"kind", T_STR, NULL, false},
    {"resources", T_SEQ, NULL, false},	{"images", T_SEQ, NULL, false},
    {"namespace", T_STR, NULL, false},	END};

static const struct {
	const char *kind, *api;
	const struct field *fields;
} kinds[] = {
    {"DaemonSet", "apps/v1", daemonset},
    {"ConfigMap", "v1", configmap},
    {"ServiceAccount", "v1", serviceaccount},
    {"Namespace", "v1", namespace_},
    {"Kustomization", "kustomize.config.k8s.io/v1beta1", kustomization},
};

static bool type_ok(const yaml_node_t *n, enum ytype t)
{
	return t == T_ANY || (t == T_STR && n->type == YAML_SCALAR_NODE) ||
	       (t == T_MAP && n->type == YAML_MAPPING_NODE) ||
	       (t == T_SEQ && n->type == YAML_SEQUENCE_NODE);
}

/* Every key of m is in fields, with the right type; recursively. */
static void check_fields(const struct obj *o, const yaml_node_t *m, const struct field *fields,
			 const char *where)
{
	yaml_node_t *v;

	if (fields == labels_any)
		return;
	for (int k = 0; k < spw_ylen(m); k++) {
		const char *key = spw_ykey(o->d, o->i, m, k, &v);
		const struct field *f = fields;
		char path[256];

		while (key && f->key && strcmp(f->key, key))
			f++;
		if (!key || !f->key)
			fail_msg("%s:%d: %s: unknown key '%s'", o->file, spw_yline(v), where,
				 key ? key : "?");
		snprintf(path, sizeof(path), "%s.%s", where, key);
		if (!type_ok(v, f->type))
			fail_msg("%s:%d: %s has the wrong type", o->file, spw_yline(v), path);
		if (!f->sub)
			continue;
		if (f->seq_of_maps) {
			for (int j = 0; j < spw_ylen(v); j++) {
				yaml_node_t *it = spw_yitem(o->d, o->i, v, j);

				if (it->type != YAML_MAPPING_NODE)
					fail_msg("%s:%d: %s[%d] is not a mapping", o->file,
						 spw_yline(it), path, j);
				check_fields(o, it, f->sub, path);
			}
		} else {
			check_fields(o, v, f->sub, path);
		}
	}
}

/* ---- loading ------------------------------------------------------------------------------ */

static int setup(void **state)
{
	char err[512], path[512];
	struct dirent *e;
	DIR *dir = opendir(DIR_K8S);

	(void)state;
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);

		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
			continue;
		if (nfiles == MAX_FILES) {
			fprintf(stderr, "more than %d manifests\n", MAX_FILES);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", DIR_K8S, e->d_name);
		if (spw_ydocs_load(&docs[nfiles], path, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		for (int i = 0; i < docs[nfiles].n; i++) {
			struct obj *o = &objs[nobjs++];
			yaml_node_t *root = spw_yroot(&docs[nfiles], i);

			o->d = &docs[nfiles];
			o->i = i;
			snprintf(o->file, sizeof(o->file), "%s", e->d_name);
			o->kind = spw_ystr(spw_yget(o->d, i, root, "kind"));
			o->name = spw_ystr(spw_ypath(o->d, i, root, "metadata", "name", NULL));
			o->ns = spw_ystr(spw_ypath(o->d, i, root, "metadata", "namespace", NULL));
		}
		nfiles++;
	}
	closedir(dir);
	return nfiles ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nfiles; i++)
		spw_ydocs_free(&docs[i]);
	return 0;
}

static const struct obj *find(const char *kind, const char *name)
{
	for (int i = 0; i < nobjs; i++)
		if (objs[i].kind && !strcmp(objs[i].kind, kind) &&
		    (!name || (objs[i].name && !strcmp(objs[i].name, name))))
			return &objs[i];
	fail_msg("no %s%s%s in %s", kind, name ? " " : "", name ? name : "", DIR_K8S);
	return NULL;
}

static yaml_node_t *at(const struct obj *o, const yaml_node_t *from, ...)
{
	const yaml_node_t *n = from ? from : spw_yroot(o->d, o->i);
	const char *key;
	va_list ap;

	va_start(ap, from);
	while (n && (key = va_arg(ap, const char *)))
		n = spw_yget(o->d, o->i, n, key);
	va_end(ap);
	return (yaml_node_t *)n;
}

/* ---- (a) ---------------------------------------------------------------------------------- */

static void test_schema(void **state)
{
	const struct obj *k = find("Kustomization", NULL);
	yaml_node_t *res = at(k, NULL, "resources", NULL);

	(void)state;
	for (int i = 0; i < nobjs; i++) {
		const struct obj *o = &objs[i];
		size_t j;

		assert_non_null(o->kind);
		for (j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++)
			if (!strcmp(o->kind, kinds[j].kind))
				break;
		if (j == sizeof(kinds) / sizeof(kinds[0]))
			fail_msg("%s: kind %s is not one this test knows", o->file, o->kind);
		if (!spw_yis(at(o, NULL, "apiVersion", NULL), kinds[j].api))
			fail_msg("%s: %s is not %s", o->file, o->kind, kinds[j].api);
		if (strcmp(o->kind, "Kustomization") && !o->name)
			fail_msg("%s: %s has no metadata.name", o->file, o->kind);
		check_fields(o, spw_yroot(o->d, o->i), kinds[j].fields, o->kind);
	}
	/* Every manifest is applied by `kubectl apply -k`, and nothing missing is listed. */
	for (int f = 0; f < nobjs; f++) {
		bool listed = !strcmp(objs[f].file, "kustomization.yaml");

		for (int r = 0; r < spw_ylen(res); r++)
			listed |= spw_yis(spw_yitem(k->d, k->i, res, r), objs[f].file);
		if (!listed)
			fail_msg("%s is not in kustomization.yaml", objs[f].file);
	}
	for (int r = 0; r < spw_ylen(res); r++) {
		const char *name = spw_ystr(spw_yitem(k->d, k->i, res, r));
		bool there = false;

		for (int f = 0; f < nobjs; f++)
			there |= name && !strcmp(objs[f].file, name);
		if (!there)
			fail_msg("kustomization.yaml lists %s, which is not there", name);
	}
}

/* ---- (b), (c), (d) ------------------------------------------------------------------------- */

/* The value of key in a list of {name: ..., key: ...} mappings, by name. */
static yaml_node_t *by_name(const struct obj *o, yaml_node_t *list, const char *name)
{
	for (int i = 0; i < spw_ylen(list); i++) {
		yaml_node_t *it = spw_yitem(o->d, o->i, list, i);

		if (spw_yis(spw_yget(o->d, o->i, it, "name"), name))
			return it;
	}
	return NULL;
}

static bool seq_has(const struct obj *o, yaml_node_t *seq, const char *v)
{
	for (int i = 0; i < spw_ylen(seq); i++)
		if (spw_yis(spw_yitem(o->d, o->i, seq, i), v))
			return true;
	return false;
}

/* The host path mounted at path, through the volume the mount names. */
static const char *host_mount(const struct obj *ds, yaml_node_t *ctr, yaml_node_t *vols,
			      const char *path)
{
	yaml_node_t *mounts = at(ds, ctr, "volumeMounts", NULL);

	for (int i = 0; i < spw_ylen(mounts); i++) {
		yaml_node_t *m = spw_yitem(ds->d, ds->i, mounts, i);

		if (spw_yis(at(ds, m, "mountPath", NULL), path))
			return spw_ystr(at(ds, by_name(ds, vols, spw_ystr(at(ds, m, "name", NULL))),
					   "hostPath", "path", NULL));
	}
	return NULL;
}

static void test_daemonset(void **state)
{
	const struct obj *ds = find("DaemonSet", "spillway"), *cm, *sa;
	yaml_node_t *spec = at(ds, NULL, "spec", "template", "spec", NULL), *ctr, *vols, *args, *sc,
		    *add, *labels, *match, *m, *cmvol = NULL;
	char *cf, gid[16], err[512], conf_dir[256] = "", conf_file[64] = "", listen_port[16];
	const char *conf = NULL, *listen, *colon;
	struct spw_config *cfg;
	int ret;

	(void)state;
	/* Selector and labels. */
	match = at(ds, NULL, "spec", "selector", "matchLabels", NULL);
	labels = at(ds, NULL, "spec", "template", "metadata", "labels", NULL);
	assert_true(spw_ylen(match) > 0);
	for (int k = 0; k < spw_ylen(match); k++) {
		const char *key = spw_ykey(ds->d, ds->i, match, k, &m);

		if (!spw_yis(spw_yget(ds->d, ds->i, labels, key), spw_ystr(m)))
			fail_msg("the template has no label %s=%s", key, spw_ystr(m));
	}
	assert_true(spw_yis(at(ds, spec, "hostNetwork", NULL), "true"));
	assert_true(spw_yis(at(ds, spec, "dnsPolicy", NULL), "ClusterFirstWithHostNet"));
	sa = find("ServiceAccount", spw_ystr(at(ds, spec, "serviceAccountName", NULL)));
	assert_string_equal(sa->ns, ds->ns);

	/* The container's privileges. */
	assert_int_equal(spw_ylen(at(ds, spec, "containers", NULL)), 1);
	ctr = spw_yitem(ds->d, ds->i, at(ds, spec, "containers", NULL), 0);
	sc = at(ds, ctr, "securityContext", NULL);
	assert_true(spw_yis(at(ds, sc, "privileged", NULL), "false"));
	assert_true(spw_yis(at(ds, sc, "allowPrivilegeEscalation", NULL), "false"));
	assert_true(seq_has(ds, at(ds, sc, "capabilities", "drop", NULL), "ALL"));
	add = at(ds, sc, "capabilities", "add", NULL);
	assert_true(seq_has(ds, add, "BPF") && seq_has(ds, add, "NET_ADMIN") &&
		    seq_has(ds, add, "PERFMON"));
	for (int i = 0; i < spw_ylen(add); i++) {
		const char *c = spw_ystr(spw_yitem(ds->d, ds->i, add, i));

		if (!c || (strcmp(c, "BPF") && strcmp(c, "NET_ADMIN") && strcmp(c, "PERFMON") &&
			   strcmp(c, "SYS_ADMIN")))
			fail_msg("the container adds capability %s", c ? c : "?");
	}

	/* Host mounts at the paths the daemon uses, and the ConfigMap where --config points. */
	vols = at(ds, spec, "volumes", NULL);
	assert_string_equal(host_mount(ds, ctr, vols, "/sys/fs/bpf"), "/sys/fs/bpf");
	assert_string_equal(host_mount(ds, ctr, vols, "/run/spillway"), "/run/spillway");
	args = at(ds, ctr, "args", NULL);
	for (int i = 0; i + 1 < spw_ylen(args); i++)
		if (spw_yis(spw_yitem(ds->d, ds->i, args, i), "--config"))
			conf = spw_ystr(spw_yitem(ds->d, ds->i, args, i + 1));
	assert_non_null(conf);
	assert_non_null(strrchr(conf, '/'));
	snprintf(conf_dir, sizeof(conf_dir), "%.*s", (int)(strrchr(conf, '/') - conf), conf);
	snprintf(conf_file, sizeof(conf_file), "%s", strrchr(conf, '/') + 1);
	for (int i = 0; i < spw_ylen(at(ds, ctr, "volumeMounts", NULL)); i++) {
		m = spw_yitem(ds->d, ds->i, at(ds, ctr, "volumeMounts", NULL), i);
		if (spw_yis(at(ds, m, "mountPath", NULL), conf_dir))
			cmvol = at(ds, by_name(ds, vols, spw_ystr(at(ds, m, "name", NULL))),
				   "configMap", NULL);
	}
	if (!cmvol)
		fail_msg("no ConfigMap is mounted at %s", conf_dir);
	cm = find("ConfigMap", spw_ystr(at(ds, cmvol, "name", NULL)));
	assert_string_equal(cm->ns, ds->ns);

	/* (c) The config the daemon will read passes its own parser. */
	ret = spw_config_parse("configmap.yaml", spw_ystr(at(cm, NULL, "data", conf_file, NULL)),
			       strlen(spw_ystr(at(cm, NULL, "data", conf_file, NULL)) ?: ""), &cfg,
			       err, sizeof(err));
	if (ret)
		fail_msg("the ConfigMap's %s: %s", conf_file, err);
	listen = cfg->metrics_listen;
	colon = strrchr(listen, ':');
	assert_non_null(colon);
	snprintf(listen_port, sizeof(listen_port), "%s", colon + 1);
	if (!strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]", 5))
		fail_msg("metrics.listen %s: the kubelet's probe comes to the node's address",
			 listen);
	assert_int_equal(strncmp(cfg->report_socket, "/run/spillway/", 14), 0);
	assert_string_equal(cfg->state_dir, "/run/spillway");
	spw_config_free(cfg);

	/* The probe, the port and the scrape annotations all name the exporter. */
	assert_true(spw_yis(at(ds, ctr, "readinessProbe", "httpGet", "path", NULL), "/healthz"));
	assert_true(spw_yis(at(ds, ctr, "readinessProbe", "httpGet", "port", NULL), listen_port));
	assert_true(spw_yis(
	    at(ds, spw_yitem(ds->d, ds->i, at(ds, ctr, "ports", NULL), 0), "containerPort", NULL),
	    listen_port));
	m = at(ds, NULL, "spec", "template", "metadata", "annotations", NULL);
	assert_true(spw_yis(spw_yget(ds->d, ds->i, m, "prometheus.io/scrape"), "true"));
	assert_true(spw_yis(spw_yget(ds->d, ds->i, m, "prometheus.io/port"), listen_port));
	assert_true(spw_yis(spw_yget(ds->d, ds->i, m, "prometheus.io/path"), "/metrics"));

	/* The supplemental group is the image's spillway group. */
	cf = spw_read_file(CONTAINERFILE, NULL);
	assert_non_null(cf);
	assert_non_null(strstr(cf, "ARG SPILLWAY_GID="));
	snprintf(gid, sizeof(gid), "%.*s", (int)strcspn(strstr(cf, "ARG SPILLWAY_GID=") + 17, "\n"),
		 strstr(cf, "ARG SPILLWAY_GID=") + 17);
	free(cf);
	assert_true(seq_has(ds, at(ds, spec, "securityContext", "supplementalGroups", NULL), gid));

	/* (d) The release's image. */
	assert_true(spw_yis(at(ds, ctr, "image", NULL), "localhost/spillway:" SPW_VERSION));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schema),
	    cmocka_unit_test(test_daemonset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
