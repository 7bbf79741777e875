# tests/ build fragment: unit tests of profiler/ (sanitized, no preload) and the target
# programs that integration tests run under libmapprof.so.
PROF_UNIT_OBJS := $(addprefix $(BUILD)/san/profiler/,options.o log.o sample.o stacktab.o arena.o livetab.o tls.o leaks.o iheap.o tcount.o)
$(BUILD)/tests/unit/profiler_sigown: $(BUILD)/san/profiler/sigown.o
$(BUILD)/tests/unit/profiler_%: tests/unit/profiler_%.c $(PROF_UNIT_OBJS) tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(filter %.c %.o,$^) -o $@ -lm -lpthread
UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/profiler_*.c))
$(BUILD)/tests/unit/profiler_dangling: $(addprefix $(BUILD)/san/profiler/,dangling.o idtab.o)
$(BUILD)/tests/unit/profiler_cfi: $(BUILD)/san/profiler/cfi.o tests/cfi_image.h

# Target programs for integration tests: plain builds (-O2 -g, frame pointers), no sanitizers.
TP := $(BUILD)/tests/preload
TP_CFLAGS := -std=gnu11 -O2 -g -fno-omit-frame-pointer $(WARN) -I.
$(TP)/%: tests/preload/%.c tests/preload/alloc_site.h
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $< -o $@ -lm -lpthread -ldl
$(TP)/known: tests/preload/known.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -no-pie $< -o $@
# shared objects: a plugin to load, and an allocator safe in signal handlers, preloaded after
# libmapprof.so (sigfree's runs)
$(TP)/%.so: tests/preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -fno-builtin -shared -fPIC $< -o $@
# a statically linked program, which LD_PRELOAD cannot reach (the CLI warns)
$(TP)/chdirer_static: tests/preload/chdirer.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -static $< -o $@
TEST_PROGS += $(TP)/chdirer_static
$(TP)/%: tests/preload/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I. -fsized-deallocation $< -o $@
# the same map program as a release build: no debug information (libstdc++'s inlined helpers
# are then out of sight)
$(TP)/stdmap_nodebug: tests/preload/stdmap.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(filter-out -g,$(CXXFLAGS)) -I. $< -o $@
TEST_PROGS += $(TP)/stdmap_nodebug
$(TP)/frameplugin_small.so $(TP)/frameplugin_large.so: $(TP)/frameplugin_%.so: tests/preload/frameplugin.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -shared -fPIC -DFRAME=$(if $(filter small,$*),2048,60000) $< -o $@
# a program linking a library of ours (found beside it), whose destructor runs after ours
$(TP)/finilib.so: tests/preload/finilib.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -shared -fPIC -Wl,-soname,finilib.so $< -o $@
$(TP)/leakfini: tests/preload/leakfini.c $(TP)/finilib.so
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $< -o $@ $(TP)/finilib.so -Wl,-rpath,'$$ORIGIN'
TEST_PROGS += $(patsubst tests/preload/%.c,$(TP)/%,$(filter-out tests/preload/plugin.c tests/preload/frameplugin.c tests/preload/bumpalloc.c tests/preload/finilib.c,$(wildcard tests/preload/*.c))) \
              $(patsubst tests/preload/%.cpp,$(TP)/%,$(wildcard tests/preload/*.cpp)) $(TP)/plugin.so $(TP)/bumpalloc.so \
              $(TP)/frameplugin_small.so $(TP)/frameplugin_large.so $(TP)/finilib.so

# Benchmark and demo workloads.
$(BUILD)/tests/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $< -o $@ -lm -lpthread
BENCH_PROGS += $(BUILD)/tests/bench/churn
TEST_PROGS += $(BUILD)/tests/bench/churn
# a GLib table whose callback runs a hashmap/ operation
$(TP)/ghashnest: tests/preload/ghashnest.c $(BUILD)/libhashmap.a
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $(GLIB_CFLAGS) $< -o $@ $(BUILD)/libhashmap.a $(GLIB_LIBS)
$(TP)/ghash $(TP)/ghashiter $(TP)/ghashmany $(TP)/leakiter $(TP)/dangling $(TP)/leakmaps: $(TP)/%: tests/preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $(GLIB_CFLAGS) $< -o $@ $(GLIB_LIBS)
# Benchmark workloads and probes for scripts/bench.sh (make bench).
$(BUILD)/tests/bench/cxxchurn: tests/bench/cxxchurn.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< -o $@
BENCH_PROGS += $(addprefix $(BUILD)/tests/bench/,cxxchurn threadchurn liveblocks manystacks)

# hashmap/ benchmarks and workloads (make bench), in their own fragment.
-include tests/bench/hashmap.mk

# Target programs on hashmap/ (the library linked statically, as a user's program would).
$(TP)/hmmaps $(TP)/hmdiff $(TP)/hmleak $(TP)/hmthreads $(TP)/hmwatch $(TP)/hmgrow $(TP)/sigfree: $(TP)/%: tests/preload/%.c $(BUILD)/libhashmap.a
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $< -o $@ $(BUILD)/libhashmap.a -lm -lpthread -ldl
# Bound at load time: lazy binding would leave the program's own register copies (the PLT
# resolver saves them) where the test looks for ours.
$(TP)/stackclean: tests/preload/stackclean.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -Wl,-z,now $< -o $@

# The bootstrap arena with the profiler objects it claims its pages in.
$(BUILD)/tests/unit/interpose_boot: tests/unit/interpose_boot.c $(BUILD)/san/interpose/bootstrap.o $(PROF_UNIT_OBJS) tests/check.h tests/together.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(filter %.c %.o,$^) -o $@ -lm -lpthread
UNIT_TESTS += $(BUILD)/tests/unit/interpose_boot

# Fuzz targets (make fuzz, never part of make test): libFuzzer with ASan and UBSan, built by
# clang from the sources of what they read (scripts/install-deps.sh fuzz installs clang).
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=gnu11 -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined -I. -I$(BUILD)/gen
FUZZ_PROGS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/*.c))
FUZZ_CFI   := $(BUILD)/fuzz/cfi_rules
$(filter-out $(FUZZ_CFI),$(FUZZ_PROGS)): $(BUILD)/fuzz/%: tests/fuzz/%.c $(EXPORT_SRCS) $(EXPORT_GEN_C) $(EXPORT_GEN_H) profiler/log.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@ $(EXPORT_LIBS) -lm
# the unwind-rule parser, with what it links against (its table's pages, the per-thread state)
$(FUZZ_CFI): tests/fuzz/cfi_rules.c tests/cfi_image.h profiler/cfi.c profiler/arena.c profiler/tls.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@ -ldl
