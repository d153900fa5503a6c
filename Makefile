# chainlab: build, test and benchmark the node and the simulator.
# Quiet unless V=1. Warnings are errors when WERROR=1 (CI sets it).

CC      ?= cc
PKGS    := libmicrohttpd libcurl jansson libcrypto sqlite3
CFLAGS  ?= -O2 -g
SAN     ?=
# Project flags live in XCFLAGS so that CFLAGS=... on the command line only changes optimisation.
XCFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -MMD -MP -pthread
XCFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
ifeq ($(WERROR),1)
XCFLAGS += -Werror
endif
ifeq ($(CI),true)
XCFLAGS += -Werror
endif

B       ?= build
PYTHON  := /usr/bin/python3
# Every failure is reported (no -x), each one short: the assertion, this repository's frames and
# the node log tails (tests/integration/conftest.py trims library frames). Each test's files (node
# logs, sim run folders) stay in $(B)/test-runs/<test>/ until the next run.
PYTEST_FLAGS := -q -p no:cacheprovider --tb=short -rs
VERSION := 0.1.0
XCFLAGS += -DCHAINLAB_VERSION='"$(VERSION)"'
ALL_CFLAGS = $(XCFLAGS) $(CFLAGS) $(SAN)

ifeq ($(V),1)
Q :=
else
Q := @
endif

NODE_SRC := $(filter-out node/main.c,$(wildcard node/*.c))
SIM_SRC  := $(filter-out sim/main.c,$(wildcard sim/*.c))
NODE_OBJ := $(NODE_SRC:%.c=$(B)/%.o)
SIM_OBJ  := $(SIM_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(B)/tools/%)
PROGS    := $(B)/chainlab-node $(if $(wildcard sim/main.c),$(B)/chainlab-sim)

.PHONY: all deps check check-large check-under-load unit unit-bins integration sanitize tsan bench experiments soak \
        demo clean format format-check fuzz
.DEFAULT_GOAL := all
.SECONDARY:

all: $(PROGS) $(TOOL_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Inode -Isim -c -o $@ $<

$(B)/libnode.a: $(NODE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/libsim.a: $(SIM_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/chainlab-node: $(B)/node/main.o $(B)/libnode.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/chainlab-sim: $(B)/sim/main.o $(B)/libsim.a $(B)/libnode.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libsim.a $(B)/libnode.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs check 2>/dev/null)

$(B)/tools/%: $(B)/tools/%.o $(B)/libnode.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	$(Q)sh tools/deps.sh

# Everything CI runs: install what is missing, build, unit tests, integration tests.
check: deps
	$(Q)$(MAKE) --no-print-directory all $(TEST_BIN)
	$(Q)$(MAKE) --no-print-directory unit integration

# A 2,000-node scenario through the link layer (tests/integration/test_large.py): not in `make
# check`; CI runs it once.
check-large: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)CHAINLAB_BUILD=$(abspath $(B)) CHAINLAB_LARGE=1 $(PYTHON) -m pytest $(PYTEST_FLAGS) -s \
	    --basetemp=$(abspath $(B))/test-runs-large tests/integration/test_large.py $(PYTEST_ARGS)

# make check 5 times, make sanitize and make tsan 3 times each, on a clean clone of HEAD while two
# CPU hogs run (tools/check_under_load.sh; CHECK_RUNS, SANITIZER_RUNS and HOGS change the counts).
check-under-load: deps
	$(Q)bash tools/check_under_load.sh

unit: $(TEST_BIN)
	$(Q)set -e; for t in $(TEST_BIN); do CK_DEFAULT_TIMEOUT=30 ./$$t; done

integration: all
	$(Q)CHAINLAB_BUILD=$(abspath $(B)) $(PYTHON) -m pytest $(PYTEST_FLAGS) --basetemp=$(abspath $(B))/test-runs \
	    tests/integration $(PYTEST_ARGS)

# Unit and integration tests under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	$(Q)$(MAKE) --no-print-directory B=build/sanitize CFLAGS="-O1 -g" \
	    SAN="-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    all unit integration

# ThreadSanitizer over everything that runs threads: the unit tests, every scenario in
# scenarios/ (sim and nodes built with TSan), the concurrency stress test
# (tests/integration/test_stress.py) and chainlab-sim serve's API (tests/integration/test_serve.py). Any report ends that process with exit 66 and fails the
# run (the pytest harness also fails a test whose node logged a report). No suppressions: the
# tree runs clean. With many bits of mmap randomness (vm.mmap_rnd_bits 32), gcc 12's TSan stops at
# start with "unexpected memory mapping": when any of a few probes does, everything runs without
# ASLR (setarch -R, which every child inherits).
# TSAN_STORM_S: seconds each storm of the stress test lasts (1.5 in `make integration`).
TSAN_RUN_OPTIONS := halt_on_error=1 exitcode=66 second_deadlock_stack=1
TSAN_STORM_S     ?= 3
TSAN_MAKE         = $(MAKE) --no-print-directory B=build/tsan CFLAGS="-O1 -g" \
                    SAN="-fsanitize=thread -fno-omit-frame-pointer"
tsan: deps
	$(Q)$(TSAN_MAKE) all unit-bins
	$(Q)export TSAN_OPTIONS="$(TSAN_RUN_OPTIONS)"; run=; \
	for i in 1 2 3 4 5; do \
	    build/tsan/chainlab-node --version >/dev/null 2>&1 || { run="setarch $$(uname -m) -R"; break; }; \
	done; \
	if [ -n "$$run" ]; then \
	    echo "  TSAN    without ASLR ($$run): ThreadSanitizer cannot map its memory otherwise"; \
	    $$run build/tsan/chainlab-node --version >/dev/null || exit 1; \
	fi; \
	$$run $(TSAN_MAKE) unit && \
	rm -rf build/tsan/runs && \
	$$run build/tsan/chainlab-sim -q -j 2 --run-dir build/tsan/runs scenarios/*.scn && \
	CHAINLAB_BUILD=$(abspath build/tsan) CHAINLAB_STRESS_SECONDS=$(TSAN_STORM_S) \
	    $$run $(PYTHON) -m pytest $(PYTEST_FLAGS) --basetemp=$(abspath build/tsan)/test-runs \
	        tests/integration/test_stress.py tests/integration/test_serve.py $(PYTEST_ARGS)

# The unit-test programs, built and not run.
unit-bins: $(TEST_BIN)

bench: all
	$(Q)CHAINLAB_BUILD=$(abspath $(B)) $(PYTHON) tools/bench.py $(BENCH)

# Reruns the sweeps of scenarios/experiments/ and prints their tables (README, Experiments);
# EXPERIMENTS_ARGS="--write README.md" puts them into the README.
experiments: all
	$(Q)CHAINLAB_BUILD=$(abspath $(B)) $(PYTHON) tools/experiments.py $(EXPERIMENTS_ARGS)

# Long runs that must end healthy, with a table of figures (tools/soak.py): a 10-node mesh under
# 1,000 appends/s for 60 s with random partitions and heals (converged, nothing lost, RSS growth
# bounded), a run under valgrind (0 bytes definitely lost) and 2,000 slowloris connections.
# SOAK_ARGS passes options, e.g. SOAK_ARGS="--seconds 20 --valgrind-seconds 5" (what CI runs).
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)CHAINLAB_BUILD=$(abspath $(B)) $(PYTHON) tools/soak.py $(SOAK_ARGS)

# A partition, divergence, heal and convergence on 5 nodes, narrated step by step.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(B)/chainlab-sim scenarios/demo.scn

format:
	$(Q)clang-format -i node/*.[ch] sim/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c tools/*.c 2>/dev/null || true

format-check:
	$(Q)clang-format --dry-run --Werror node/*.[ch] sim/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c $(wildcard tools/*.c)

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- fuzzing: libFuzzer targets under ASan/UBSan, built with clang in build/fuzz. Not part of
# all, check or sanitize. Each target is compiled with the sources it needs (no -MMD, so no .d
# files land under build/). The seeds in tests/fuzz/corpus/<target> are copied into
# build/fuzz/corpus/<target>, which keeps what libFuzzer adds until `make clean`; crashing inputs
# are written to build/fuzz/artifacts/<target>/ and the run fails. FUZZ_ARGS adds libFuzzer flags.
# A target with a dictionary tests/fuzz/<target>.dict runs with it.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_ARGS    ?=
FUZZ_B       := build/fuzz
FUZZ_TARGETS := fuzz_block fuzz_chain fuzz_scenario fuzz_peers fuzz_http
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -O1 -g \
                -fno-omit-frame-pointer -pthread -DCHAINLAB_VERSION='"$(VERSION)"' \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -Inode -Isim $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
FUZZ_BASE    := node/buf.c node/xalloc.c node/log.c node/pyjson.c node/err.c
FUZZ_SRC_fuzz_block    := node/block.c
FUZZ_SRC_fuzz_chain    := node/block.c node/chain.c node/store.c node/parsepool.c \
                          node/forkchoice.c
FUZZ_SRC_fuzz_scenario := sim/scenario.c sim/nodeset.c
FUZZ_SRC_fuzz_peers    := node/peers.c node/store.c node/block.c
# The whole node but main.c: chain, peers, gossip and api wired as main.c wires them.
FUZZ_SRC_fuzz_http     := $(filter-out node/main.c $(FUZZ_BASE),$(wildcard node/*.c))

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BASE) $(wildcard node/*.h sim/*.h) Makefile
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_BASE) $(FUZZ_SRC_fuzz_$*) $(FUZZ_LDLIBS)

# Each target's own sources are prerequisites too (second expansion would be the alternative).
$(foreach t,$(FUZZ_TARGETS),$(eval $(FUZZ_B)/$(t): $(FUZZ_SRC_$(t))))

# Run every target for FUZZ_SECONDS, print its executions, fail when any target found a crash.
# libFuzzer's output goes to build/fuzz/<target>.log (to the terminal with V=1).
fuzz: deps $(FUZZ_TARGETS:%=$(FUZZ_B)/%)
	$(Q)failed=; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_B)/corpus/$$t $(FUZZ_B)/artifacts/$$t; \
	    cp tests/fuzz/corpus/$$t/* $(FUZZ_B)/corpus/$$t/; \
	    echo "  FUZZ    $$t ($(FUZZ_SECONDS)s)"; \
	    dict=; if [ -f tests/fuzz/$$t.dict ]; then dict=-dict=tests/fuzz/$$t.dict; fi; \
	    if $(FUZZ_B)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
	        -artifact_prefix=$(FUZZ_B)/artifacts/$$t/ $(FUZZ_ARGS) $(FUZZ_B)/corpus/$$t \
	        >$(FUZZ_B)/$$t.log 2>&1; then ok=1; else ok=; fi; \
	    $(if $(Q),,cat $(FUZZ_B)/$$t.log;) \
	    if [ -n "$$ok" ]; then \
	        sed -n 's/^stat::number_of_executed_units: */          executions: /p' $(FUZZ_B)/$$t.log; \
	    else \
	        echo "  FAIL    $$t: see $(FUZZ_B)/$$t.log and $(FUZZ_B)/artifacts/$$t/"; \
	        grep -A 14 -e '^==[0-9]*==ERROR' -e 'runtime error' -e 'deadly signal' \
	            $(FUZZ_B)/$$t.log | head -n 30; \
	        failed="$$failed $$t"; \
	    fi; \
	done; \
	test -z "$$failed" || { echo "  fuzz: crashes in$$failed"; exit 1; }
