// SPDX-License-Identifier: GPL-2.0-only
/*
 * spillwayd: the controller. Loads (or reuses) the data plane, applies the config, then runs
 * one event loop that turns saturation signals into shed policy every tick. It never detaches
 * on exit: programs stay, the lease expires, and enforcement fails open.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "spwd.h"
#include "spw_log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: spillwayd [--config FILE] [--pin-root DIR] [-v] [-q]\n"
		"\n"
		"  -c, --config FILE    configuration (default " SPW_CONFIG_DEFAULT_PATH ")\n"
		"      --pin-root DIR   bpffs folder of maps and links (default " SPW_PIN_ROOT ")\n"
		"                       another root runs a separate instance (tests)\n"
		"  -v, --verbose        more detail (twice: libbpf's too)\n"
		"  -q, --quiet          warnings only\n"
		"  -V, --version        print the version\n"
		"  -h, --help           this text\n"
		"\n"
		"Signals: SIGHUP reloads the config (a bad file is reported and the running\n"
		"config kept); SIGTERM/SIGINT exit and leave the programs attached.\n");
}

static int parse_args(struct spwd *d, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"pin-root", required_argument, NULL, 'p'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int level = SPW_LOG_INFO, c;

	d->config_path = SPW_CONFIG_DEFAULT_PATH;
	while ((c = getopt_long(argc, argv, "c:vqVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'p':
			d->pin_root = optarg;
			break;
		case 'v':
			level++;
			break;
		case 'q':
			level = SPW_LOG_WARN;
			break;
		case 'V':
			printf("spillwayd %s\n", SPW_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "spillwayd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	spw_log_set_level(level);
	return 0;
}

static void keep_configured_only(struct spwd *d)
{
	struct spw_service_match keep[SPW_MAX_SERVICES];
	uint32_t ids[SPW_MAX_SERVICES];
	int i, err;

	for (i = 0; i < d->cfg->nservices; i++) {
		keep[i] = d->cfg->services[i].match;
		ids[i] = d->cfg->services[i].id;
	}
	/* A restart with a changed file: services of the old one must not linger in the maps. */
	err = spw_dp_services_prune(d->dp, keep, ids, d->cfg->nservices);
	if (err)
		pr_warn("cannot remove services that are no longer configured: %s\n",
			strerror(-err));
}

int main(int argc, char **argv)
{
	static struct spwd d = {
	    .epfd = -1,
	    .timerfd = -1,
	    .watchfd = -1,
	    .sigfd = -1,
	    .reportfd = -1,
	    .controlfd = -1,
	    .snap = {.lock = PTHREAD_MUTEX_INITIALIZER},
	};
	struct spw_dp_opts dpo = {};
	struct spw_globals g;
	char err[SPW_ERR_MAX];
	int ret;

	if (parse_args(&d, argc, argv))
		return 2;
	spwd_block_signals();
	spw_log_install_libbpf();
	ret = spw_config_load(d.config_path, &d.cfg, err, sizeof(err));
	if (ret) {
		pr_warn("%s\n", err);
		return 1;
	}
	spwd_log_advice(d.cfg);
	dpo.pin_root = d.pin_root;
	dpo.flow_capacity = d.cfg->flow_capacity;
	ret = spw_dp_open(&d.dp, &dpo);
	if (ret) {
		pr_warn("cannot load the data plane: %s\n", strerror(-ret));
		goto out;
	}
	pr_info("data plane ready under %s\n", spw_dp_pin_root(d.dp));
	/* The salt epoch continues across restarts: a shed client stays shed for its epoch. */
	if (!spw_dp_globals_get(d.dp, &g) && g.salt_rotated_ns && g.salt_rotated_ns <= spw_now_ns())
		d.last_rotation_ns = g.salt_rotated_ns;
	spwd_assign_ids(&d, d.cfg);
	keep_configured_only(&d);
	ret = spwd_apply(&d, d.cfg, NULL);
	if (ret)
		goto out;
	spwd_services_rebuild(&d, d.cfg);
	/* Not fatal: enforcement does not need it, and apps fail open without it. */
	spwd_state_open(&d);
	ret = spwd_metrics_init(&d, SPW_VERSION);
	if (!ret)
		ret = spwd_report_open(&d);
	if (!ret)
		ret = spwd_control_open(&d);
	if (!ret)
		ret = spwd_http_start(&d);
	if (!ret)
		ret = spwd_loop_init(&d);
	if (!ret) {
		pr_info("running: %d services, tick %.0f ms\n", d.cfg->nservices,
			d.cfg->controller.tick_ns / 1e6);
		ret = spwd_loop_run(&d);
	}
out:
	spwd_http_stop(&d);
	spwd_loop_close(&d);
	spwd_report_close(&d);
	spwd_control_close(&d);
	spwd_state_close(&d);
	spwd_metrics_close(&d);
	spw_dp_close(d.dp);
	spw_config_free(d.cfg);
	return ret ? 1 : 0;
}
