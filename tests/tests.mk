# tests/ build fragment: unit tests of profiler/ (sanitized, no preload) and the target
# programs that integration tests run under libmapprof.so.
PROF_UNIT_OBJS := $(addprefix $(BUILD)/san/profiler/,options.o log.o sample.o stacktab.o arena.o livetab.o tls.o)
$(BUILD)/tests/unit/profiler_%: tests/unit/profiler_%.c $(PROF_UNIT_OBJS) tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(filter %.c %.o,$^) -o $@ -lm -lpthread
UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/profiler_*.c))
