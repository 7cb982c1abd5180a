# SPDX-License-Identifier: GPL-2.0-only
#
# Fuzzing (included by the Makefile). One libFuzzer harness per input the project parses,
# tests/fuzz/fuzz_TARGET.c, each an LLVMFuzzerTestOneInput:
#
#   make fuzz              every target for FUZZ_S seconds (default 60), under ASan and UBSan
#   make fuzz FUZZ_S=10 FUZZ_TARGETS="report cli"
#   make fuzz ORACLE_PACKETS=200000  the packet oracle's count (default 1,000,000)
#   make fuzz-oracle                 the packet oracle alone
#
# `make fuzz` builds them with clang -fsanitize=fuzzer,address,undefined (build/fuzz/), runs
# tools/fuzz/run.sh, and fails on any crash, leak or sanitizer report. `make tests` builds the
# same harnesses with replay.c instead of libFuzzer's driver, as unit tests
# (build/tests/unit/test_fuzz_TARGET): they replay the seed corpus and every regression case.

FUZZ_TARGETS ?= report config cli state http
FUZZ_S	?= 60
FUZZ_ALL := report config cli state http

# What the harnesses reach: the pure library, the CLI's parser, the client library, the
# exporter's request handling. An archive, so each harness links only what it calls (and
# libFuzzer's coverage counts only that).
# (Not the socket-diag reader: it parses the kernel's netlink answers, which clang's
# -Wsign-compare faults inside the UAPI's NLMSG_OK macro.)
FUZZ_LIB_SRCS := $(filter-out %/spw_sockdiag.c,$(LIB_PURE_SRCS)) user/cli/parse.c $(CLIENT_SRCS) \
	user/spillwayd/http_route.c
FUZZ_INC := -Itests/fuzz -Iuser/cli -Iuser/client -Iuser/spillwayd
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = $(CFLAGS) $(FUZZ_INC) $(FUZZ_SAN)

$(BUILD)/fuzz/obj/%.o: %.c
	$(call msg,CC-FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/libfuzzed.a: $(FUZZ_LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(BUILD)/fuzz/obj/tests/fuzz/fuzz_util.o \
		$(BUILD)/fuzz/libfuzzed.a
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(PURE_LDLIBS) -lpthread

# The replay build: gcc, the tests' sanitizers, a cmocka-style summary (tests/fuzz/replay.c).
$(BUILD)/san/tests/fuzz/%.o $(FUZZ_LIB_SRCS:%.c=$(BUILD)/san/%.o): TEST_CFLAGS += $(FUZZ_INC)
$(BUILD)/fuzz/libfuzzed-san.a: $(FUZZ_LIB_SRCS:%.c=$(BUILD)/san/%.o)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/san/tests/fuzz/replay_%.o: tests/fuzz/replay.c
	$(call msg,CC-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -DSPW_FUZZ_TARGET='"$*"' -DSPW_SRC_ROOT='"$(CURDIR)"' -c $< -o $@

FUZZ_REPLAYS := $(FUZZ_ALL:%=$(BUILD)/tests/unit/test_fuzz_%)
$(FUZZ_REPLAYS): $(BUILD)/tests/unit/test_fuzz_%: $(BUILD)/san/tests/fuzz/replay_%.o \
		$(BUILD)/san/tests/fuzz/fuzz_%.o $(BUILD)/san/tests/fuzz/fuzz_util.o \
		$(BUILD)/fuzz/libfuzzed-san.a
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $^ -o $@ $(PURE_LDLIBS) -lpthread
tests test-unit: $(FUZZ_REPLAYS)

# The packet oracle (tests/bpf/test_oracle.c, a short run of which is in the bpf layer of
# `make test`) runs its full count here: ORACLE_PACKETS random and mutated frames through the
# XDP and TC programs and the reference model (SPW_ORACLE_SEED repeats a run). Needs root.
# Any disagreement fails `make fuzz`, as a crash does.
ORACLE_PACKETS ?= 1000000

ORACLE_RUN = echo "==> packet oracle: $(ORACLE_PACKETS) packets"; \
	SPW_ORACLE_PACKETS=$(ORACLE_PACKETS) $(BUILD)/tests/bpf/test_oracle

.PHONY: fuzz fuzz-oracle
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%) $(BUILD)/tests/bpf/test_oracle
	$(Q)rc=0; \
	if [ -n "$(strip $(FUZZ_TARGETS))" ]; then \
		FUZZ_S=$(FUZZ_S) bash tools/fuzz/run.sh $(BUILD) $(FUZZ_TARGETS) || rc=1; \
	fi; \
	$(ORACLE_RUN) || rc=1; \
	exit $$rc

# The oracle alone (also `make fuzz FUZZ_TARGETS=`).
fuzz-oracle: $(BUILD)/tests/bpf/test_oracle
	$(Q)$(ORACLE_RUN)
