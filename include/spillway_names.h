/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * spillway's names, once: the version, the default paths the daemon, the CLI and the client
 * library agree on, and the attach modes as the config and the CLI spell them.
 */
#ifndef SPILLWAY_NAMES_H
#define SPILLWAY_NAMES_H

/* The Makefile passes its VERSION (a package build, the package's version) as -DSPW_VERSION. */
#ifndef SPW_VERSION
#define SPW_VERSION "0.1.0"
#endif

/* spillwayd's config unless -c names another. */
#define SPW_CONFIG_DEFAULT_PATH "/etc/spillway/spillway.yaml"
/* The state folder (config state_dir): the shed-state file and the control socket. */
#define SPW_STATE_DIR "/run/spillway"
/* The control socket's name in the state folder: root-only one-line commands (reload, diff). */
#define SPW_CONTROL_SOCK_NAME "control.sock"
/* The longest command line the control socket takes, newline included ("diff PATH"). */
#define SPW_CONTROL_LINE_MAX 512
/* The report socket apps write to (config report.socket). */
#define SPW_REPORT_SOCKET SPW_STATE_DIR "/report.sock"

/*
 * Attach modes: X(id, name), in enum spw_attach_mode's order. The names are the config's
 * `mode:` values and the CLI's `--mode` arguments.
 */
#define SPW_ATTACH_MODES(X)                                                                        \
	X(XDP, "xdp")		      /* native XDP (driver mode) */                               \
	X(XDP_GENERIC, "xdp-generic") /* skb-mode XDP: works everywhere, slower */                 \
	X(TC, "tc")		      /* clsact ingress + egress */

/*
 * How the XDP modes put the program on an interface: X(id, name), in enum
 * spw_xdp_dispatcher's order. The names are the config's `xdp_dispatcher:` values.
 */
#define SPW_XDP_DISPATCHERS(X)                                                                     \
	X(LINK, "link")	    /* spillway's own bpf_link: the interface's XDP hook is spillway's */  \
	X(LIBXDP, "libxdp") /* one program of libxdp's dispatcher, beside others */
/* libxdp's run priority when the config names none (its own default): lower runs first. */
#define SPW_XDP_PRIORITY_DEFAULT 50

#endif /* SPILLWAY_NAMES_H */
