# profiler/ build fragment: the engine, compiled into libmapprof.so; cli.c is the mapprof CLI.
PROF_SRCS := $(filter-out profiler/cli%.c,$(wildcard profiler/*.c))
PROF_OBJS := $(PROF_SRCS:%.c=$(BUILD)/%.o)
PROF_LIBS := -lunwind -lm -lpthread -ldl
$(BUILD)/profiler/%.o: MOD_CFLAGS := -fvisibility=hidden

# The CLI ties profiler and export together.
# export objects the engine and the CLI need whatever export.mk lists (deduplicated)
EXPORT_CORE := $(sort $(EXPORT_OBJS) $(BUILD)/export/leakfile.o $(BUILD)/export/atomicfile.o $(BUILD)/export/tsv.o)
CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard profiler/cli*.c)) $(BUILD)/profiler/log.o \
            $(BUILD)/profiler/options.o
$(BUILD)/mapprof: $(sort $(CLI_OBJS) $(EXPORT_CORE))
	$(CC) $(CFLAGS) $^ -o $@ $(EXPORT_LIBS) -lm
ALL_TARGETS += $(BUILD)/mapprof
