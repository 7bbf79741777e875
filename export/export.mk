# export/ build fragment: the pprof protobuf and legacy heap writers, the libdw symbolizer,
# the atomic file writer, and the pprof reader/report the CLI uses. profile.pb-c.{c,h} are
# generated from export/profile.proto into $(BUILD)/gen/export/ (found through -I$(BUILD)/gen).
EXPORT_SRCS  := $(wildcard export/*.c)
EXPORT_GEN_C := $(BUILD)/gen/export/profile.pb-c.c
EXPORT_GEN_H := $(BUILD)/gen/export/profile.pb-c.h
EXPORT_OBJS  := $(EXPORT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/export/profile.pb-c.o
EXPORT_SAN_OBJS := $(EXPORT_SRCS:%.c=$(BUILD)/san/%.o) $(BUILD)/san/gen/export/profile.pb-c.o
EXPORT_LIBS  := -ldw -lelf -lprotobuf-c -lz -ldl

$(EXPORT_GEN_C) $(EXPORT_GEN_H) &: export/profile.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=. --c_out=$(BUILD)/gen $<

# Every export object may include the generated header.
$(EXPORT_SRCS:%.c=$(BUILD)/%.o) $(EXPORT_SRCS:%.c=$(BUILD)/san/%.o): $(EXPORT_GEN_H)

# Generated code: the same flags (protoc-c 1.4's output is clean under -Wall -Wextra -Werror).
$(BUILD)/gen/export/profile.pb-c.o: $(EXPORT_GEN_C) $(EXPORT_GEN_H)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/san/gen/export/profile.pb-c.o: $(EXPORT_GEN_C) $(EXPORT_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -MMD -MP -c $< -o $@

# Unit tests: sanitized export objects plus profiler/log.c (mp_warn).
EXPORT_TEST_OBJS := $(EXPORT_SAN_OBJS) $(BUILD)/san/profiler/log.o
$(BUILD)/tests/unit/export_%: tests/unit/export_%.c $(EXPORT_TEST_OBJS) tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(filter %.c %.o,$^) -o $@ $(EXPORT_LIBS) -lm
UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/export_*.c))
