# mapprof build. Each folder owns a fragment (<folder>/<folder>.mk) that adds its objects,
# libraries and tests; this file holds the shared flags and the top-level targets.
#   make            build/libmapprof.so, build/mapprof, build/libhashmap.a
#   make test       install what is missing, build, run every test (ends "N passed, N failed")
#   make demo       install, build, profile the bundled map-heavy example, print the report
#   make bench      side-by-side benchmarks (never part of make test)
#   make fuzz       the readers (files, unwind rules) under libFuzzer, FUZZ_SECONDS each (never in make test)

CC      ?= cc
CXX     ?= c++
BUILD   := build
WERROR  ?= -Werror
OPT     ?= -O2
WARN    := -Wall -Wextra $(WERROR)
CFLAGS  := -std=gnu11 $(OPT) -g -fPIC -fno-omit-frame-pointer $(WARN) -I. -I$(BUILD)/gen
CXXFLAGS:= -std=gnu++17 $(OPT) -g -fno-omit-frame-pointer $(WARN)
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
GLIB_CFLAGS := $(shell pkg-config --cflags glib-2.0 2>/dev/null)
GLIB_LIBS   := $(shell pkg-config --libs glib-2.0 2>/dev/null)

.PHONY: all test demo bench fuzz clean deps
.DEFAULT_GOAL := all

UNIT_TESTS :=
TEST_PROGS :=
BENCH_PROGS :=

# Order matters: fragments use the object lists of the ones included before them.
include hashmap/hashmap.mk
include export/export.mk
include profiler/profiler.mk
include interpose/interpose.mk
include tests/tests.mk

all: $(ALL_TARGETS)

deps:
	@./scripts/install-deps.sh

# Recursive make so the dependencies exist before any flag is computed from pkg-config.
test: deps
	@$(MAKE) --no-print-directory all tests
	@./scripts/run-tests.sh

tests: $(ALL_TARGETS) $(UNIT_TESTS) $(TEST_PROGS)

demo: deps
	@$(MAKE) --no-print-directory all $(TEST_PROGS)
	@./scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(TEST_PROGS) $(BENCH_PROGS)
	@./scripts/bench.sh

fuzz: deps
	@./scripts/install-deps.sh fuzz
	@$(MAKE) --no-print-directory all $(TEST_PROGS) $(FUZZ_PROGS)
	@./scripts/fuzz.sh $(FUZZ_PROGS)

clean:
	rm -rf $(BUILD)

# Plain objects (everything is PIC: the same object may go into the preload library).
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MOD_CFLAGS) -MMD -MP -c $< -o $@

# Sanitized objects, for unit tests of the parts that are not preloaded.
$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(MOD_CFLAGS) $(SAN) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
