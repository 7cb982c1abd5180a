// SPDX-License-Identifier: GPL-2.0-only
/*
 * The DaemonSet's image, built and run the way deploy/kubernetes/daemonset.yaml says:
 *
 *   (a) `make image`'s build: the Containerfile on a Debian root file system made by
 *       mmdebstrap, with podman, no registry and no network;
 *   (b) the container runs with the manifest's settings, translated to podman's: the host
 *       network (a test namespace's, entered with nsenter, as a node's would be), its
 *       capabilities (drop ALL, add those listed), no privilege escalation, a read-only root,
 *       the seccomp profile, the user and supplemental groups, the host mounts (bpffs and
 *       /run/spillway, each a folder of the test's own) and the ConfigMap's files (the
 *       interface renamed to the test's veth). Like the kubelet, the test polls the readiness
 *       probe until it answers 200; then the program is on the veth, /metrics serves the
 *       release's build_info and counts the test's connections, the pins are in the host's
 *       bpffs folder and the report socket belongs to the supplemental group;
 *   (c) a rollout (the pod stopped with SIGTERM, a new one started): a sampler never finds the
 *       veth without a program while it sees the program replaced, and the counters carry over.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cmd.h"
#include "package_test.h"
#include "http.h"
#include "netns.h"
#include "packages.h"
#include "sockets.h"
#include "util.h"
#include "xdp_watch.h"
#include "ydoc.h"

#define MANIFEST  SPW_SRC_ROOT "/deploy/kubernetes/daemonset.yaml"
#define CONFIGMAP SPW_SRC_ROOT "/deploy/kubernetes/configmap.yaml"
#define PODMAN	  SPW_SRC_ROOT "/tools/package/podman.sh"
/* The ConfigMap names the nodes' interface; the test's veth takes its place. */
#define NODE_IFACE "eth0"
#define SVC_PORT   8080
#define READY_MS   60000
#define IO_MS	   2000
#define SAMPLE_US  200
#define FLOWS	   20
/* podman run's arguments at the most. */
#define ARGS_MAX 64

struct test_ctx {
	struct spw_pkg_set debs;
	char image[256];
	struct spw_topo topo;
	struct spw_ydocs ds, cm;
	struct spw_xdp_sampler w;
	struct spw_fds fds;
	char dir[64];	      /* the test's files */
	char bpffs[128];      /* the host's /sys/fs/bpf, as the container sees it */
	char names[2][64];    /* the two pods' containers */
	char *args[ARGS_MAX]; /* podman run ... for the manifest's container */
	int nargs;
	int probe_port;
	const char *probe_path;
	bool built, running;
};

static struct test_ctx ctx;

static void arg(struct test_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct test_ctx *c, const char *fmt, ...)
{
	va_list ap;

	assert_true(c->nargs < ARGS_MAX - 1);
	va_start(ap, fmt);
	assert_true(vasprintf(&c->args[c->nargs++], fmt, ap) >= 0);
	va_end(ap);
}

static yaml_node_t *ds_at(struct test_ctx *c, const yaml_node_t *from, ...)
{
	const yaml_node_t *n = from ? from : spw_yroot(&c->ds, 0);
	const char *key;
	va_list ap;

	va_start(ap, from);
	while (n && (key = va_arg(ap, const char *)))
		n = spw_yget(&c->ds, 0, n, key);
	va_end(ap);
	return (yaml_node_t *)n;
}

/* Writes the ConfigMap's files into dir, the nodes' interface replaced by the veth. */
static void write_configmap(struct test_ctx *c, const char *dir)
{
	yaml_node_t *data = spw_ypath(&c->cm, 0, spw_yroot(&c->cm, 0), "data", NULL), *v;

	assert_true(spw_ylen(data) > 0);
	for (int k = 0; k < spw_ylen(data); k++) {
		const char *key = spw_ykey(&c->cm, 0, data, k, &v), *text = spw_ystr(v), *at;
		char path[PATH_MAX + 256], *out;
		size_t n = 0;

		assert_non_null(key);
		assert_non_null(text);
		out = malloc(strlen(text) * 2 + 64);
		assert_non_null(out);
		for (const char *p = text; *p;) {
			at = strstr(p, "name: " NODE_IFACE);
			if (!at) {
				n += (size_t)sprintf(out + n, "%s", p);
				break;
			}
			n += (size_t)sprintf(out + n, "%.*sname: %s", (int)(at - p), p,
					     c->topo.end[SPW_TOPO_SRV].ifname);
			p = at + strlen("name: " NODE_IFACE);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, key);
		assert_int_equal(spw_write_file(path, out), 0);
		free(out);
	}
}

/* The host folder that stands for hostPath path in this test. */
static const char *host_dir(struct test_ctx *c, const char *path, char *buf, size_t len)
{
	if (!strcmp(path, "/sys/fs/bpf"))
		return c->bpffs;
	snprintf(buf, len, "%s/host%s", c->dir, path);
	assert_int_equal(spw_cmd_sh("mkdir -p '%s'", buf), 0);
	return buf;
}

/* podman run's arguments from the DaemonSet's (only) container and its pod. */
static void translate(struct test_ctx *c)
{
	yaml_node_t *spec = ds_at(c, NULL, "spec", "template", "spec", NULL);
	yaml_node_t *ctr = spw_yitem(&c->ds, 0, ds_at(c, spec, "containers", NULL), 0);
	yaml_node_t *sc = ds_at(c, ctr, "securityContext", NULL), *vols, *mounts, *list;
	const char *seccomp = spw_ystr(ds_at(c, sc, "seccompProfile", "type", NULL));
	char buf[PATH_MAX];

	assert_non_null(ctr);
	arg(c, "nsenter");
	arg(c, "--net=/var/run/netns/%s", srv_ns_of(&c->topo));
	arg(c, "bash");
	arg(c, "%s", PODMAN);
	arg(c, "%s", SPW_BUILD_DIR);
	arg(c, "run");
	arg(c, "--detach");
	arg(c, "--name");
	c->args[c->nargs++] = NULL; /* the container's name, set per run */
	assert_true(spw_yis(ds_at(c, spec, "hostNetwork", NULL), "true"));
	arg(c, "--network=host");
	assert_false(spw_yis(ds_at(c, sc, "privileged", NULL), "true"));
	list = ds_at(c, sc, "capabilities", "drop", NULL);
	for (int i = 0; i < spw_ylen(list); i++)
		arg(c, "--cap-drop=%s", spw_ystr(spw_yitem(&c->ds, 0, list, i)));
	list = ds_at(c, sc, "capabilities", "add", NULL);
	for (int i = 0; i < spw_ylen(list); i++)
		arg(c, "--cap-add=%s", spw_ystr(spw_yitem(&c->ds, 0, list, i)));
	if (spw_yis(ds_at(c, sc, "allowPrivilegeEscalation", NULL), "false"))
		arg(c, "--security-opt=no-new-privileges");
	if (spw_yis(ds_at(c, sc, "readOnlyRootFilesystem", NULL), "true"))
		arg(c, "--read-only");
	/* RuntimeDefault is the runtime's own profile: podman's when nothing is said. */
	if (seccomp && !strcmp(seccomp, "Unconfined"))
		arg(c, "--security-opt=seccomp=unconfined");
	if (ds_at(c, sc, "runAsUser", NULL))
		arg(c, "--user=%s", spw_ystr(ds_at(c, sc, "runAsUser", NULL)));
	list = ds_at(c, spec, "securityContext", "supplementalGroups", NULL);
	for (int i = 0; i < spw_ylen(list); i++)
		arg(c, "--group-add=%s", spw_ystr(spw_yitem(&c->ds, 0, list, i)));

	vols = ds_at(c, spec, "volumes", NULL);
	mounts = ds_at(c, ctr, "volumeMounts", NULL);
	for (int i = 0; i < spw_ylen(mounts); i++) {
		yaml_node_t *m = spw_yitem(&c->ds, 0, mounts, i), *vol = NULL;
		const char *name = spw_ystr(ds_at(c, m, "name", NULL));
		const char *to = spw_ystr(ds_at(c, m, "mountPath", NULL)), *from;
		bool ro = spw_yis(ds_at(c, m, "readOnly", NULL), "true");

		for (int j = 0; j < spw_ylen(vols); j++)
			if (spw_yis(ds_at(c, spw_yitem(&c->ds, 0, vols, j), "name", NULL), name))
				vol = spw_yitem(&c->ds, 0, vols, j);
		assert_non_null(vol);
		if (ds_at(c, vol, "hostPath", NULL)) {
			from = host_dir(c, spw_ystr(ds_at(c, vol, "hostPath", "path", NULL)), buf,
					sizeof(buf));
		} else {
			assert_non_null(ds_at(c, vol, "configMap", NULL));
			snprintf(buf, sizeof(buf), "%s/configmap-%s", c->dir, name);
			assert_int_equal(spw_cmd_sh("mkdir -p '%s'", buf), 0);
			write_configmap(c, buf);
			from = buf;
		}
		arg(c, "--volume=%s:%s%s", from, to, ro ? ":ro" : "");
	}
	arg(c, "%s", c->image);
	list = ds_at(c, ctr, "args", NULL);
	for (int i = 0; i < spw_ylen(list); i++)
		arg(c, "%s", spw_ystr(spw_yitem(&c->ds, 0, list, i)));
	c->args[c->nargs] = NULL;

	c->probe_path = spw_ystr(ds_at(c, ctr, "readinessProbe", "httpGet", "path", NULL));
	c->probe_port =
	    atoi(spw_ystr(ds_at(c, ctr, "readinessProbe", "httpGet", "port", NULL)) ?: "0");
	assert_non_null(c->probe_path);
	assert_true(c->probe_port > 0);
}

/* Starts a pod of the DaemonSet (container name names[i]) and waits until it is ready. */
static void start_pod(struct test_ctx *c, int i)
{
	char body[256];
	double deadline = spw_now_ms() + READY_MS, t0 = spw_now_ms();
	int status = 0;

	c->args[8] = c->names[i];
	assert_int_equal(spw_cmd_run((const char *const *)c->args), 0);
	c->running = true;
	/* As the kubelet does: the readiness probe until it answers 200. */
	while ((status = spw_http_get(srv_ns_of(&c->topo), c->probe_port, c->probe_path, body,
				      sizeof(body))) != 200) {
		if (spw_now_ms() > deadline) {
			spw_cmd_sh("bash '%s' '%s' logs '%s'", PODMAN, SPW_BUILD_DIR, c->names[i]);
			fail_msg("%s answered %d, not 200, for %d ms", c->probe_path, status,
				 READY_MS);
		}
		spw_sleep_ms(50);
	}
	printf("pod %s ready %.0f ms after podman run\n", c->names[i], spw_now_ms() - t0);
}

static void stop_pod(struct test_ctx *c, int i)
{
	/* SIGTERM, as the kubelet sends it; then the container is gone. */
	assert_int_equal(spw_cmd_sh("bash '%s' '%s' stop --time 10 '%s' && bash '%s' '%s' rm '%s'",
				    PODMAN, SPW_BUILD_DIR, c->names[i], PODMAN, SPW_BUILD_DIR,
				    c->names[i]),
			 0);
}

static double metric_sum(struct test_ctx *c, const char *prefix)
{
	double sum;

	assert_int_equal(spw_http_metric_sum(srv_ns_of(&c->topo), c->probe_port, prefix, &sum), 0);
	return sum;
}

static void connect_n(struct test_ctx *c, int n)
{
	spw_topo_connect_n(&c->topo, &c->fds, SVC_PORT, n, true, IO_MS);
}

static int group_setup(void **state)
{
	struct test_ctx *c = &ctx;
	char err[512];

	snprintf(c->dir, sizeof(c->dir), "/tmp/spw-imgtest-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->bpffs, sizeof(c->bpffs), "/sys/fs/bpf/spw-imgtest-%d", (int)getpid());
	snprintf(c->names[0], sizeof(c->names[0]), "spw-imgtest-%d-a", (int)getpid());
	snprintf(c->names[1], sizeof(c->names[1]), "spw-imgtest-%d-b", (int)getpid());
	if (mkdir(c->bpffs, 0700) && errno != EEXIST)
		return -1;
	if (spw_ydocs_load(&c->ds, MANIFEST, err, sizeof(err)) ||
	    spw_ydocs_load(&c->cm, CONFIGMAP, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (spw_topo_create(&c->topo))
		return -1;
	*state = c;
	return 0;
}

static int group_teardown(void **state)
{
	struct test_ctx *c = *state;

	spw_xdp_sampler_free(&c->w);
	for (int i = 0; i < 2 && c->running; i++)
		spw_cmd_sh("bash '%s' '%s' rm --force --ignore '%s' >/dev/null", PODMAN,
			   SPW_BUILD_DIR, c->names[i]);
	spw_fds_close_all(&c->fds);
	/* Unpinning the XDP link, which nothing holds any more, detaches the program. */
	spw_rm_tree(c->bpffs);
	spw_topo_destroy(&c->topo);
	spw_rm_tree(c->dir);
	for (int i = 0; i < c->nargs; i++)
		if (i != 8)
			free(c->args[i]);
	spw_ydocs_free(&c->ds);
	spw_ydocs_free(&c->cm);
	return 0;
}

static void test_image_builds(void **state)
{
	struct test_ctx *c = *state;
	char want[512];

	assert_int_equal(spw_pkg_build(SPW_SRC_ROOT, SPW_BUILD_DIR, &c->debs), 0);
	assert_int_equal(
	    spw_pkg_image(SPW_SRC_ROOT, SPW_BUILD_DIR, "daemonset", c->image, sizeof(c->image)), 0);
	snprintf(want, sizeof(want), "localhost/spillway:%s", c->debs.version);
	assert_string_equal(c->image, want);
	/* The image the manifest names is the one built. */
	assert_true(spw_yis(
	    ds_at(c,
		  spw_yitem(&c->ds, 0,
			    ds_at(c, NULL, "spec", "template", "spec", "containers", NULL), 0),
		  "image", NULL),
	    c->image));
	c->built = true;
}

static void test_runs_attaches_serves_metrics(void **state)
{
	struct test_ctx *c = *state;
	char series[512], path[PATH_MAX], run_dir[PATH_MAX];
	double v, flows;
	struct stat st;
	int lfd;

	assert_true(c->built);
	translate(c);
	lfd = spw_fds_track(&c->fds, spw_topo_listen(&c->topo, AF_INET, SOCK_STREAM, SVC_PORT, 64));
	(void)lfd;
	assert_int_equal(srv_xdp_id(&c->topo), 0);
	start_pod(c, 0);
	assert_true(srv_xdp_id(&c->topo) > 0);

	snprintf(series, sizeof(series), "spillway_build_info{version=\"%s\"}", c->debs.version);
	assert_int_equal(spw_http_metric(srv_ns_of(&c->topo), c->probe_port, series, &v), 0);
	assert_true(v == 1);
	connect_n(c, FLOWS);
	flows = metric_sum(c, "spillway_new_flows_total{service=\"api\"");
	printf("new flows counted: %.0f\n", flows);
	assert_true(flows >= FLOWS);

	/* The maps are pinned in the node's bpffs, which outlives the pod. */
	snprintf(path, sizeof(path), "%s/spillway/spw_counters", c->bpffs);
	assert_int_equal(stat(path, &st), 0);
	/* The report socket is the supplemental group's: apps with that group may report. */
	snprintf(run_dir, sizeof(run_dir), "%s/host/run/spillway/report.sock", c->dir);
	assert_int_equal(stat(run_dir, &st), 0);
	assert_int_equal(
	    st.st_gid,
	    (gid_t)atoi(spw_ystr(spw_yitem(&c->ds, 0,
					   ds_at(c, NULL, "spec", "template", "spec",
						 "securityContext", "supplementalGroups", NULL),
					   0))));
	assert_int_equal(st.st_mode & 0777, 0660);
}

static void test_rollout_keeps_program_and_counters(void **state)
{
	struct test_ctx *c = *state;
	double before, after;
	uint32_t id0;

	assert_true(c->running);
	before = metric_sum(c, "spillway_new_flows_total{service=\"api\"");
	id0 = srv_xdp_id(&c->topo);
	assert_int_equal(spw_xdp_sampler_start(&c->w, srv_ns_of(&c->topo),
					       c->topo.end[SPW_TOPO_SRV].ifindex, SAMPLE_US),
			 0);
	stop_pod(c, 0);
	start_pod(c, 1);
	spw_sleep_ms(300);
	spw_xdp_sampler_stop(&c->w);
	printf("rollout: %llu samples, %llu without a program, %u program ids (%u before)\n",
	       (unsigned long long)c->w.s->samples, (unsigned long long)c->w.s->absent,
	       c->w.s->nids, id0);
	assert_int_equal(c->w.s->errors, 0);
	assert_true(c->w.s->samples >= 100);
	assert_int_equal(c->w.s->absent, 0);
	assert_true(c->w.s->nids >= 2);
	after = metric_sum(c, "spillway_new_flows_total{service=\"api\"");
	assert_true(after >= before);
	connect_n(c, FLOWS);
	assert_true(metric_sum(c, "spillway_new_flows_total{service=\"api\"") >= after + FLOWS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_image_builds),
	    cmocka_unit_test(test_runs_attaches_serves_metrics),
	    cmocka_unit_test(test_rollout_keeps_program_and_counters),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
