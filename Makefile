# SPDX-License-Identifier: GPL-2.0-only
#
# spillway build. Everything lands under build/; `make V=1` shows full commands.
#
#   make               BPF objects, skeletons, libspillway, programs
#   make deps          install the Debian packages everything needs (tools/install-deps.sh)
#   sudo make test     every test layer: lint, unit, bpf, netns, package (tests/run-tests.sh)
#   make check-format  the C sources against .clang-format (`make format` rewrites them)
#   make check-shell   the shell scripts against shellcheck's warnings
#   make bench-dataplane   BPF_PROG_RUN benchmark, ratios to an empty XDP program
#   make bench-refusal     CPU ns per refused SYN: spillway vs nftables/iptables on a veth
#   make fuzz          libFuzzer harnesses, FUZZ_S seconds each (tools/fuzz/fuzz.mk)
#   sudo make chaos    faults under traffic (daemon killed, restarted, signals, floods,
#                      closes, a full table): a table of figures, non-zero on a missed goal

BUILD	?= build
CC	?= cc
CLANG	?= clang
BPFTOOL	?= bpftool
ARCH	:= $(shell uname -m)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# BPF: UAPI headers are enough for XDP/TC, no vmlinux.h. The tracepoint program
# (spillway_trace) reads two kernel struct fields through CO-RE, declared locally.
# -mcpu=v3: atomic fetch-and-add (BPF_FETCH), which the concurrency caps need.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Werror -Iinclude -Ibpf \
	-I/usr/include/$(ARCH)-linux-gnu -MMD -MP

CFLAGS	?= -O2 -g
# libspillway's folders (user/lib/*/). All but dataplane/ make the pure library: no libbpf.
LIB_PURE_DIRS := util abi config control export
LIB_DIRS := $(LIB_PURE_DIRS) dataplane
CFLAGS	+= -std=gnu11 -fno-strict-aliasing -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
	-Iinclude $(addprefix -Iuser/lib/,$(LIB_DIRS)) -I$(BUILD)/bpf -MMD -MP -D_GNU_SOURCE
PURE_LDLIBS := -lyaml -ljansson -lm
# libxdp: the data plane's attach through libxdp's dispatcher (xdp_dispatcher: libxdp).
XDP_LDLIBS := $(shell pkg-config --libs libxdp 2>/dev/null || echo -lxdp)
LDLIBS	:= $(XDP_LDLIBS) -lbpf -lelf -lz $(PURE_LDLIBS)
# Tests also run under AddressSanitizer and UBSan.
SAN	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TEST_CFLAGS := $(CFLAGS) -Itests/lib -I$(BUILD)/tests/progs $(SAN)
TEST_LDLIBS := $(LDLIBS) -lcmocka -lpthread

BPF_OBJS := $(BUILD)/bpf/spillway_xdp.bpf.o $(BUILD)/bpf/spillway_tc.bpf.o \
	$(BUILD)/bpf/spillway_trace.bpf.o \
	$(BUILD)/bpf/empty_xdp.bpf.o $(BUILD)/bpf/bench_refusal.bpf.o
SKELS	 := $(BPF_OBJS:.bpf.o=.skel.h)

# libspillway.a: the pure library's objects and dataplane/'s (libbpf).
LIB_PURE_SRCS := $(foreach d,$(LIB_PURE_DIRS),$(wildcard user/lib/$(d)/*.c))
LIB_DP_SRCS := $(wildcard user/lib/dataplane/*.c)
LIB_SRCS := $(LIB_PURE_SRCS) $(LIB_DP_SRCS)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
LIB_PURE_SAN_OBJS := $(LIB_PURE_SRCS:%.c=$(BUILD)/san/%.o)
LIB	 := $(BUILD)/libspillway.a
LIB_SAN	 := $(BUILD)/libspillway-san.a
LIB_PURE_SAN := $(BUILD)/libspillway-pure-san.a

# BPF programs of the tests' own (other teams' programs the attach tests run spillway beside),
# with skeletons the tests include.
TEST_BPF_OBJS := $(patsubst tests/progs/%.bpf.c,$(BUILD)/tests/progs/%.bpf.o,\
	$(wildcard tests/progs/*.bpf.c))
TEST_SKELS := $(TEST_BPF_OBJS:.bpf.o=.skel.h)

TESTLIB_SRCS := $(wildcard tests/lib/*.c)
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(BUILD)/san/%.o)

UNIT_TESTS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS   := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(wildcard tests/bpf/test_*.c))
NETNS_TESTS := $(patsubst tests/netns/%.c,$(BUILD)/tests/netns/%,$(wildcard tests/netns/test_*.c))
TESTS	    := $(UNIT_TESTS) $(BPF_TESTS) $(NETNS_TESTS)

BENCHES	 := $(BUILD)/bench_dataplane
BENCHES	 += $(BUILD)/bench_controller
BENCHES	 += $(BUILD)/bench_refusal
PROGS	 := $(BUILD)/spillwayd
SPWD_SRCS := $(wildcard user/spillwayd/*.c)
SPWD_OBJS := $(SPWD_SRCS:%.c=$(BUILD)/obj/%.o)
PROGS	 += $(BUILD)/spillway
CLI_SRCS := $(wildcard user/cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)

# make install: PREFIX and DESTDIR as usual.
PREFIX	?= /usr/local
DESTDIR	?=

.PHONY: all deps test tests test-unit test-bpf test-netns bench-dataplane clean \
	check-format check-shell format lint
.DELETE_ON_ERROR:
.SECONDARY:

all: $(SKELS) $(LIB) $(PROGS) $(BENCHES)

deps:
	$(Q)bash tools/install-deps.sh

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/progs/%.bpf.o: tests/progs/%.bpf.c
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/progs/%.skel.h: $(BUILD)/tests/progs/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@.tmp && mv $@.tmp $@

# User-space objects see the generated skeletons.
$(BUILD)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c | $(SKELS) $(TEST_SKELS)
	$(call msg,CC-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SAN): $(LIB_SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_PURE_SAN): $(LIB_PURE_SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/san/tests/%.o $(TESTLIB_OBJS) $(LIB_SAN)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $^ -o $@ $(TEST_LDLIBS)

# The unit tests link the whole pure library and no libbpf: a BPF call in util/, abi/,
# config/, control/ or export/ is a link error of every unit test. They get the tests/lib
# helpers that do not need the data plane.
TESTLIB_DP := attach daemon dpcheck nfx report_pump spw_fixture xdp_watch
UNIT_TESTLIB_OBJS := $(filter-out $(TESTLIB_DP:%=$(BUILD)/san/tests/lib/%.o),$(TESTLIB_OBJS))
$(UNIT_TESTS): $(BUILD)/tests/unit/%: $(BUILD)/san/tests/unit/%.o $(UNIT_TESTLIB_OBJS) $(LIB_PURE_SAN)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(filter-out $(LIB_PURE_SAN),$^) \
		-Wl,--whole-archive $(LIB_PURE_SAN) -Wl,--no-whole-archive -o $@ $(UNIT_LDLIBS)
UNIT_LDLIBS = $(PURE_LDLIBS) -lcmocka -lpthread

# The benchmark is built without sanitizers: it measures. It crafts packets with the tests'
# packet builder.
$(BUILD)/obj/tools/bench/%.o: CFLAGS += -Itests/lib -Itools/bench
# Each benchmark is a folder of parts, one per figure, over the tests' packet builder and
# checks (tests/lib/pktbuild.c, dpcheck.c).
BENCH_SHARED_OBJS := $(BUILD)/obj/tools/bench/bench_util.o $(BUILD)/obj/tests/lib/pktbuild.o \
	$(BUILD)/obj/tests/lib/dpcheck.o
BENCH_DP_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/bench/dataplane/*.c))
$(BUILD)/bench_dataplane: $(BENCH_DP_OBJS) $(BENCH_SHARED_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lm

# The controller benchmark runs the real daemon: reaction, tick CPU, sweep, RSS, scrape.
.PHONY: bench-controller
# It runs the daemon as the netns tests do (tests/lib/daemon.c, netns.c).
BENCH_CTL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/bench/controller/*.c))
# The law's figures run it in the simulated server (tests/lib/sim_loop.c, sim_server.c).
$(BUILD)/bench_controller: $(BENCH_CTL_OBJS) $(BENCH_SHARED_OBJS) $(BUILD)/obj/tests/lib/daemon.o \
		$(BUILD)/obj/tests/lib/http.o $(BUILD)/obj/tests/lib/netns.o $(BUILD)/obj/tests/lib/util.o \
		$(BUILD)/obj/tests/lib/sim_loop.o $(BUILD)/obj/tests/lib/sim_server.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lm

bench-controller: $(BUILD)/bench_controller $(BUILD)/spillwayd
	$(Q)$(BUILD)/bench_controller --daemon $(BUILD)/spillwayd

# The refusal benchmark floods a veth pair in two namespaces it creates, against spillway's
# programs and against nftables/iptables rules (tools/bench/refusal).
.PHONY: bench-refusal
BENCH_REF_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/bench/refusal/*.c))
$(BUILD)/bench_refusal: $(BENCH_REF_OBJS) $(BUILD)/obj/tools/bench/bench_util.o \
		$(BUILD)/obj/tests/lib/pktbuild.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lpthread

bench-refusal: $(BUILD)/bench_refusal
	$(Q)$(BUILD)/bench_refusal

$(BUILD)/spillwayd: $(SPWD_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lmicrohttpd -ljansson -lpthread

# libspillway-client: libc only, so any app links it; static and shared. Its
# objects are position-independent and export only the API (SPW_API).
CLIENT_SRCS := $(wildcard user/client/*.c)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/pic/%.o)
CLIENT_SAN_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/san/%.o)
# The shared one's soname is libspillway-client.so.$(CLIENT_SOVERSION) (the package
# libspillway-client0), raised on an incompatible ABI change; libspillway-client.so is the
# link `-lspillway-client` finds at build time.
CLIENT_SOVERSION := 0
CLIENT_SONAME := libspillway-client.so.$(CLIENT_SOVERSION)
CLIENT_LIBS := $(BUILD)/libspillway-client.a $(BUILD)/$(CLIENT_SONAME) $(BUILD)/libspillway-client.so
all: $(CLIENT_LIBS) $(BUILD)/example-http-server $(BUILD)/example-slow-sink \
	$(BUILD)/example-consumer

$(BUILD)/pic/%.o: %.c
	$(call msg,CC-PIC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/libspillway-client.a: $(CLIENT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/$(CLIENT_SONAME): $(CLIENT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(CLIENT_SONAME) -Wl,--no-undefined $^ \
		-o $@ -lm -lpthread

$(BUILD)/libspillway-client.so: $(BUILD)/$(CLIENT_SONAME)
	$(Q)ln -sf $(CLIENT_SONAME) $@

$(BUILD)/tests/unit/test_client $(BUILD)/tests/unit/test_client_consumer \
	$(BUILD)/tests/unit/test_client_retry: $(CLIENT_SAN_OBJS)

# The example links the static client library and nothing of spillway's own.
$(BUILD)/example-http-server: $(BUILD)/obj/tools/examples/http_server.o \
		$(BUILD)/obj/tools/examples/example_http.o $(BUILD)/libspillway-client.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lm -lpthread
# The consumer example (libpq) and the slow sink it writes to share the HTTP bits.
$(BUILD)/example-slow-sink: $(BUILD)/obj/tools/examples/slow_sink.o \
		$(BUILD)/obj/tools/examples/example_http.o $(BUILD)/libspillway-client.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lm -lpthread
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
$(BUILD)/obj/tools/examples/consumer.o: CFLAGS += $(PQ_CFLAGS)
$(BUILD)/example-consumer: $(BUILD)/obj/tools/examples/consumer.o \
		$(BUILD)/obj/tools/examples/example_http.o $(BUILD)/libspillway-client.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lpq -lm -lpthread

# The Python and Go clients (clients/python, clients/go). Their constants are generated from
# the C headers by clients/constants.c and committed, so pip and go need no C compiler;
# `make client-constants` writes them again and tests/unit/test_client_constants says when
# they are out of date. The suites run through cmocka wrappers (tests/lib/extsuite.h):
# Debian's python3, and Debian's go offline (GOPROXY=off; caches under build/go).
PYTHON	?= /usr/bin/python3
GO	?= go
CLIENT_SUITE_CFLAGS := -DSPW_SRC_ROOT='"$(CURDIR)"' -DSPW_BUILD_DIR='"$(abspath $(BUILD))"' \
	-DSPW_PYTHON='"$(PYTHON)"' -DSPW_GO='"$(GO)"'
all: $(BUILD)/gen-client-constants
$(BUILD)/gen-client-constants: $(BUILD)/obj/clients/constants.o $(BUILD)/obj/clients/gen_constants.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@
.PHONY: client-constants
client-constants: $(BUILD)/gen-client-constants
	$(Q)$< --python >clients/python/spillway/_layout.py
	$(Q)$< --go >clients/go/layout.go
$(BUILD)/tests/unit/test_client_constants: $(BUILD)/san/clients/constants.o
$(BUILD)/san/tests/unit/test_client_constants.o $(BUILD)/san/tests/unit/test_client_python.o \
	$(BUILD)/san/tests/unit/test_client_go.o $(BUILD)/san/tests/netns/test_client_langs.o: \
	TEST_CFLAGS += $(CLIENT_SUITE_CFLAGS)
$(BUILD)/tests/unit/test_client_python $(BUILD)/tests/unit/test_client_go: \
	| $(BUILD)/tests/clients/state_writer
$(BUILD)/tests/netns/test_client_langs: | $(BUILD)/spillwayd $(BUILD)/tests/clients/state_writer

# The overload demo's programs: the open-loop load generator and the demo backend
# (HTTP server over a libpq pool, reporting through the static client library). They share
# tools/demo/demo_util.h.
DEMO_PROGS := $(BUILD)/loadgen $(BUILD)/demo-backend
all: $(DEMO_PROGS)
$(BUILD)/obj/tools/loadgen/%.o $(BUILD)/obj/tools/demo/%.o: CFLAGS += -Itools/demo
$(BUILD)/obj/tools/demo/backend.o: CFLAGS += $(PQ_CFLAGS)

$(BUILD)/loadgen: $(BUILD)/obj/tools/loadgen/loadgen.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -ljansson -lpthread -lm

$(BUILD)/demo-backend: $(BUILD)/obj/tools/demo/backend.o $(BUILD)/libspillway-client.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ -lpq -lpthread -lm

# The CLI; its parser is pure, so the parse tests link it alone.
$(BUILD)/spillway: $(CLI_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -ljansson
$(BUILD)/obj/user/cli/%.o: CFLAGS += -Iuser/cli
$(BUILD)/san/user/cli/%.o: TEST_CFLAGS += -Iuser/cli
$(BUILD)/tests/unit/test_cli_parse: $(BUILD)/san/user/cli/parse.o
$(BUILD)/san/tests/unit/test_cli_parse.o: TEST_CFLAGS += -Iuser/cli
# The CLI's lists against its help, completion and man page, read from the source tree.
$(BUILD)/tests/unit/test_cli_docs: $(BUILD)/san/user/cli/parse.o
$(BUILD)/san/tests/unit/test_cli_docs.o: TEST_CFLAGS += -Iuser/cli -DSPW_SRC_ROOT='"$(CURDIR)"'
$(BUILD)/tests/netns/test_cli: TEST_LDLIBS += -ljansson
# The exporter's request handling is pure too (user/spillwayd/http_route.c).
$(BUILD)/tests/unit/test_http_route: $(BUILD)/san/user/spillwayd/http_route.o
$(BUILD)/san/tests/unit/test_http_route.o: TEST_CFLAGS += -Iuser/spillwayd
$(BUILD)/tests/netns/test_cli: | $(BUILD)/spillwayd $(BUILD)/spillway
# spillway beside xdp-filter: the daemon, and the CLI for policy set and detach.
$(BUILD)/tests/netns/test_xdp_coexist: | $(BUILD)/spillwayd $(BUILD)/spillway

# The flow-tracking scenarios share their context and helpers (tests/netns/flows.c).
$(filter $(BUILD)/tests/netns/test_flows_%,$(NETNS_TESTS)): $(BUILD)/san/tests/netns/flows.o

# The daemon test runs the real daemon.
$(BUILD)/tests/netns/test_daemon: | $(BUILD)/spillwayd
# The outgoing marks run it too: its config and its loading of the cgroups are under test.
$(BUILD)/tests/netns/test_out_marks: | $(BUILD)/spillwayd
# So do the operator's tests (port 0, idle connections, SIGTERM, report floods, reloads).
$(BUILD)/tests/netns/test_daemon_ops: | $(BUILD)/spillwayd
# The exempt-source test: real connects through the daemon, reloads by SIGHUP, explain.
$(BUILD)/tests/netns/test_exempt: | $(BUILD)/spillwayd $(BUILD)/spillway
# The exporter's scrape test runs it too, parses /v1/state, and runs `spillway status`.
$(BUILD)/tests/netns/test_metrics_scrape: | $(BUILD)/spillwayd $(BUILD)/spillway
$(BUILD)/tests/netns/test_metrics_scrape: TEST_LDLIBS += -ljansson
# The Prometheus test runs the daemon, promtool and prometheus; reads JSON.
$(BUILD)/tests/netns/test_prometheus: TEST_LDLIBS += -ljansson
$(BUILD)/tests/netns/test_prometheus: | $(BUILD)/spillwayd

# The example consumer's test runs it, the sink and a throwaway PostgreSQL (libpq).
$(BUILD)/san/tests/unit/test_example_consumer.o: TEST_CFLAGS += $(PQ_CFLAGS) \
	-DSPW_BUILD_DIR='"$(abspath $(BUILD))"'
$(BUILD)/tests/unit/test_example_consumer: UNIT_LDLIBS += -lpq
$(BUILD)/tests/unit/test_example_consumer: | $(BUILD)/example-consumer $(BUILD)/example-slow-sink
# The tests that drive one daemon through the CLI share their scene (tests/netns/daemon_scene.c).
$(BUILD)/tests/netns/test_cli $(BUILD)/tests/netns/test_exempt: \
	$(BUILD)/san/tests/netns/daemon_scene.o
# The tests of spillwayd in front of a real PostgreSQL share their scene (tests/netns/pg_front.c).
$(BUILD)/tests/netns/test_storm_pg $(BUILD)/tests/netns/test_learned_pg: \
	$(BUILD)/san/tests/netns/pg_front.o
# The connection storm against a real PostgreSQL runs the daemon; its tier-0 client is libpq.
$(BUILD)/san/tests/netns/test_storm_pg.o: TEST_CFLAGS += $(PQ_CFLAGS)
$(BUILD)/tests/netns/test_storm_pg: TEST_LDLIBS += -lpq
$(BUILD)/tests/netns/test_storm_pg: | $(BUILD)/spillwayd
$(BUILD)/san/tests/netns/test_learned_pg.o: TEST_CFLAGS += $(PQ_CFLAGS)
$(BUILD)/tests/netns/test_learned_pg: TEST_LDLIBS += -lpq
$(BUILD)/tests/netns/test_learned_pg: | $(BUILD)/spillwayd

tests: $(TESTS)

# make chaos: faults injected into a running spillwayd while real TCP runs through it, a table
# of resets, refusals, time without a program and count drift (tests/chaos/chaos.c). Needs root;
# about 3 minutes. Not part of `make test`: it is a measurement with figures, run on its own.
CHAOS := $(BUILD)/tests/chaos/chaos
tests: $(CHAOS)
$(CHAOS): | $(BUILD)/spillwayd
# The upgrade faults start from the daemons of older commits, each built once into
# $(BUILD)/chaos-prev-* by tools/chaos/prev-build.sh: CHAOS_PREV, the commit before HEAD (one
# map ABI: replaced in place), and CHAOS_PREV_ABI, the last commit before the newest change of
# SPW_ABI_VERSION (pins of another ABI: the README's detach-then-install path).
CHAOS_PREV ?= HEAD~1
CHAOS_PREV_ABI ?= $(shell git log -1 --format=%H -G'define SPW_ABI_VERSION' -- \
	include/spillway_abi.h 2>/dev/null)~1
.PHONY: chaos
chaos: all $(CHAOS)
	$(Q)prev=$$(bash tools/chaos/prev-build.sh "$(CHAOS_PREV)" $(abspath $(BUILD))/chaos-prev) && \
	prev_abi=$$(bash tools/chaos/prev-build.sh "$(CHAOS_PREV_ABI)" \
		$(abspath $(BUILD))/chaos-prev-abi) && \
	CHAOS_PREV_DAEMON=$$prev CHAOS_PREV_ABI_DAEMON=$$prev_abi $(CHAOS)

# The README's test command: installs what is missing, builds, runs every layer.
test:
	$(Q)bash tools/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all tests
	$(Q)bash tests/run-tests.sh $(BUILD)

# The overload demo: installs what is missing, builds, runs tools/demo/run.sh
# (spillway off, then on; summary in build/e2e/, plot build/e2e/demo.png). Needs root.
# `make demo ZERO_INTEGRATION=1`: the backend reports nothing, spillway uses accept-queue and
# latency signals only. PHASE_S=N shortens the phases (default 20 s).
# `make demo HOPS=2`: the two-hop scenario (tools/demo/hops.sh; summary in build/e2e/hops/).
ZERO_INTEGRATION ?= 0
HOPS ?= 1
.PHONY: demo
demo:
	$(Q)bash tools/install-deps.sh
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/loadgen $(BUILD)/demo-backend
	$(Q)HOPS=$(HOPS) ZERO_INTEGRATION=$(ZERO_INTEGRATION) BUILD=$(BUILD) bash tools/demo/run.sh

# The overload demo as an end-to-end test (tests/netns/test_e2e.c): runs
# tools/demo/run.sh with the demo's programs and the daemon, asserts on build/e2e/summary.json.
$(BUILD)/tests/netns/test_e2e: TEST_LDLIBS += -ljansson
$(BUILD)/tests/netns/test_e2e: | $(BUILD)/spillwayd $(BUILD)/spillway $(DEMO_PROGS)
$(BUILD)/san/tests/netns/test_e2e.o: TEST_CFLAGS += -DSPW_SRC_ROOT='"$(CURDIR)"' \
	-DSPW_BUILD_DIR='"$(abspath $(BUILD))"'
# The two-hop scenario as an end-to-end test (tests/netns/test_hops.c): runs
# tools/demo/hops.sh, asserts on build/e2e/hops/summary.json.
$(BUILD)/tests/netns/test_hops: TEST_LDLIBS += -ljansson
$(BUILD)/tests/netns/test_hops: | $(BUILD)/spillwayd $(BUILD)/spillway $(DEMO_PROGS) \
	$(BUILD)/example-consumer $(BUILD)/example-slow-sink
$(BUILD)/san/tests/netns/test_hops.o: TEST_CFLAGS += -DSPW_SRC_ROOT='"$(CURDIR)"' \
	-DSPW_BUILD_DIR='"$(abspath $(BUILD))"'
# Only the end-to-end test, with the demo's output: `sudo make e2e`.
.PHONY: e2e
e2e: all $(BUILD)/tests/netns/test_e2e
	$(Q)$(BUILD)/tests/netns/test_e2e

# Layout: every C source and header git tracks (every one below the source folders outside a
# checkout) as .clang-format lays it out. `make format` rewrites them so; `make lint` is the
# test runner's lint layer, which `make test` runs first and counts like the others.
CLANG_FORMAT ?= clang-format
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find bpf include user tests tools -name '*.[ch]')
check-format:
	$(Q)$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)
	@echo "check-format: $(words $(FORMAT_SRCS)) files laid out as .clang-format says"
format:
	$(Q)$(CLANG_FORMAT) -i $(FORMAT_SRCS)
# Shell: every script git tracks (the demo, CI, packaging, the maintainer scripts, the bash
# completion) free of shellcheck's warnings and errors (its style notes are not enforced).
SHELL_SRCS = $(shell git ls-files '*.sh' '*.bash' .ci/run 'debian/*.postinst' 'debian/*.postrm' \
	'debian/*.prerm' 2>/dev/null || find tools tests debian .ci -name '*.sh' -o -name '*.bash' \
	-o -name run -o -name '*.postinst' -o -name '*.postrm' -o -name '*.prerm')
check-shell:
	$(Q)shellcheck -x -S warning $(SHELL_SRCS)
	@echo "check-shell: $(words $(SHELL_SRCS)) scripts free of shellcheck warnings"
lint:
	$(Q)bash tests/run-tests.sh $(BUILD) lint

test-unit: $(UNIT_TESTS)
	$(Q)bash tests/run-tests.sh $(BUILD) unit
test-bpf: all $(BPF_TESTS)
	$(Q)bash tests/run-tests.sh $(BUILD) bpf
test-netns: all $(NETNS_TESTS)
	$(Q)bash tests/run-tests.sh $(BUILD) netns

bench-dataplane: $(BUILD)/bench_dataplane
	$(Q)$(BUILD)/bench_dataplane

clean:
	rm -rf $(BUILD)

include tools/fuzz/fuzz.mk

# ---- Install, Debian packages, container image, and their tests --------------------------
#
#   make install       programs, man pages, completion, the unit, dashboards, the client library
#   make deb           the Debian packages into $(BUILD)/deb/ (tools/package/build-deb.sh)
#   make image         the DaemonSet image, from a Debian rootfs (tools/package/build-image.sh)
#   sudo make test-package   the package layer: install, upgrade, purge; systemd; the image

# The release, as include/spillway_names.h says; a package build passes the package's version
# (debian/rules), which the binaries then print.
VERSION	?= $(shell sed -n 's/^\#define SPW_VERSION "\(.*\)"$$/\1/p' include/spillway_names.h)
CFLAGS	+= -DSPW_VERSION='"$(VERSION)"'
TEST_CFLAGS += -DSPW_VERSION='"$(VERSION)"'
# dpkg-buildflags' CPPFLAGS (_FORTIFY_SOURCE) and LDFLAGS (relro, now) in a package build; the
# -z options may come after the objects.
CFLAGS	+= $(CPPFLAGS)
$(BUILD)/spillwayd $(BUILD)/spillway: LDLIBS += $(LDFLAGS)
# sd_notify: READY, WATCHDOG and STATUS for the Type=notify unit (user/spillwayd/notify.c).
$(BUILD)/spillwayd: LDLIBS += -lsystemd

BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR	?= $(PREFIX)/share
MANDIR	?= $(DATADIR)/man
# The daemon reads /etc/spillway/spillway.yaml unless told otherwise, whatever the prefix.
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

$(BUILD)/libspillway-client.pc: tools/pkgconfig/libspillway-client.pc.in
	$(call msg,GEN,$@)
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# What `make install` installs, built: a package build asks for exactly this.
.PHONY: programs install
programs: $(BUILD)/spillwayd $(BUILD)/spillway $(CLIENT_LIBS) $(BUILD)/libspillway-client.pc

# The unit names /usr/sbin and /usr/bin, the packaged paths; another prefix gets its own paths.
# The default config attaches nowhere and is installed only where there is none.
install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(DATADIR)/spillway/grafana $(DESTDIR)$(DATADIR)/spillway/prometheus \
		$(DESTDIR)$(SYSCONFDIR)/spillway
	install -m 0755 $(BUILD)/spillway $(DESTDIR)$(BINDIR)/spillway
	install -m 0755 $(BUILD)/spillwayd $(DESTDIR)$(SBINDIR)/spillwayd
	install -m 0644 man/spillway.8 man/spillwayd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 tools/completion/spillway.bash \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/spillway
	install -m 0644 $(BUILD)/libspillway-client.a $(BUILD)/$(CLIENT_SONAME) $(DESTDIR)$(LIBDIR)/
	ln -sf $(CLIENT_SONAME) $(DESTDIR)$(LIBDIR)/libspillway-client.so
	install -m 0644 $(BUILD)/libspillway-client.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	@# The state header (for readers of the state file) needs the ABI header it includes.
	install -m 0644 include/spillway_client.h include/spillway_names.h include/spillway_state.h \
		include/spillway_abi.h \
		$(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|/usr/sbin/spillwayd|$(SBINDIR)/spillwayd|g' -e 's|/usr/bin/spillway |$(BINDIR)/spillway |g' \
		-e 's|/etc/spillway/|$(SYSCONFDIR)/spillway/|g' deploy/systemd/spillway.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/spillway.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/spillway.service
	install -m 0644 tools/grafana/spillway.json $(DESTDIR)$(DATADIR)/spillway/grafana/
	install -m 0644 tools/prometheus/alerts.yml $(DESTDIR)$(DATADIR)/spillway/prometheus/
	[ -e $(DESTDIR)$(SYSCONFDIR)/spillway/spillway.yaml ] || \
		install -m 0644 deploy/spillway.yaml $(DESTDIR)$(SYSCONFDIR)/spillway/spillway.yaml

.PHONY: deb image test-package
# From a copy of the tree, so a package build never writes into it; skipped when nothing
# changed since the last build.
deb:
	$(Q)bash tools/install-deps.sh
	$(Q)bash tools/package/build-deb.sh $(BUILD)/deb

image: deb
	$(Q)bash tools/package/build-image.sh $(BUILD)

# The package layer (tests/package/): root, network namespaces, dpkg, podman.
PACKAGE_TESTS := $(patsubst tests/package/%.c,$(BUILD)/tests/package/%,$(wildcard tests/package/test_*.c))
tests: $(PACKAGE_TESTS)
# They build what they install through make, and find the files they check in the tree.
$(BUILD)/san/tests/package/%.o $(BUILD)/san/tests/unit/test_deploy_%.o: \
	TEST_CFLAGS += -DSPW_SRC_ROOT='"$(CURDIR)"' -DSPW_BUILD_DIR='"$(abspath $(BUILD))"'
test-package: all $(PACKAGE_TESTS)
	$(Q)bash tests/run-tests.sh $(BUILD) package

# Not inside the package builds' trees and the container image store (tools/package/): their
# folders named *.d are not dependency files.
-include $(shell find $(BUILD) \( -path '$(BUILD)/containers' -o -path '$(BUILD)/deb*' -o \
	-path '$(BUILD)/image' \) -prune -o -name '*.d' -type f -print 2>/dev/null)
