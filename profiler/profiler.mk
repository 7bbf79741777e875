# profiler/ build fragment: the engine, compiled into libmapprof.so; cli.c is the mapprof CLI.
PROF_SRCS := $(filter-out profiler/cli.c,$(wildcard profiler/*.c))
PROF_OBJS := $(PROF_SRCS:%.c=$(BUILD)/%.o)
PROF_LIBS := -lunwind -lm -lpthread -ldl
$(BUILD)/profiler/%.o: MOD_CFLAGS := -fvisibility=hidden

# The CLI ties profiler and export together.
$(BUILD)/mapprof: $(BUILD)/profiler/cli.o $(BUILD)/profiler/log.o $(EXPORT_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(EXPORT_LIBS) -lm
ALL_TARGETS += $(BUILD)/mapprof
