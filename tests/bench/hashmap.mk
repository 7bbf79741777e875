# tests/bench/hashmap.mk: benchmarks of hashmap/ (included from tests/tests.mk).
#   hashmap_churn      profiler workload on the library (scripts/bench.sh; integration tests)
#   hashmap_mapbench   ops/s of hashmap/, GHashTable and std::unordered_map (hashmap_bench.sh)
#   hashmap_mapmem     the same program with a counting malloc, for bytes per entry
# Plain builds (-O2 -g, frame pointers), no sanitizers. Only once hashmap/hashmap.mk provides
# the library: until then there is nothing to link against.
ifneq ($(filter $(BUILD)/libhashmap.a,$(ALL_TARGETS)),)

HMB := $(BUILD)/tests/bench

$(HMB)/hashmap_churn: tests/bench/hashmap_churn.c hashmap/hashmap.h $(BUILD)/libhashmap.a
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $< $(BUILD)/libhashmap.a -o $@ -lm -lpthread -ldl

$(HMB)/hashmap_mapbench.o: tests/bench/hashmap_mapbench.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) $(GLIB_CFLAGS) -MMD -MP -c $< -o $@
$(HMB)/hashmap_memcount.o: tests/bench/hashmap_memcount.c
	@mkdir -p $(dir $@)
	$(CC) $(TP_CFLAGS) -MMD -MP -c $< -o $@
$(HMB)/hashmap_mapbench_cxx.o: tests/bench/hashmap_mapbench_cxx.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I. -MMD -MP -c $< -o $@

HMB_OBJS := $(HMB)/hashmap_mapbench.o $(HMB)/hashmap_mapbench_cxx.o
$(HMB)/hashmap_mapbench: $(HMB_OBJS) $(BUILD)/libhashmap.a
	$(CXX) $(CXXFLAGS) $(HMB_OBJS) $(BUILD)/libhashmap.a -o $@ $(GLIB_LIBS) -lpthread -ldl
# The counting malloc is defined in the executable: -rdynamic keeps it visible to the shared
# libraries (GLib, libstdc++), whose calls it must see.
$(HMB)/hashmap_mapmem: $(HMB_OBJS) $(HMB)/hashmap_memcount.o $(BUILD)/libhashmap.a
	$(CXX) $(CXXFLAGS) -rdynamic $(HMB_OBJS) $(HMB)/hashmap_memcount.o $(BUILD)/libhashmap.a -o $@ \
	    $(GLIB_LIBS) -lpthread -ldl

BENCH_PROGS += $(HMB)/hashmap_churn $(HMB)/hashmap_mapbench $(HMB)/hashmap_mapmem
TEST_PROGS += $(HMB)/hashmap_churn

endif
