# interpose/ build fragment: the preload library. Only the hooks and the public API are
# exported (exports.map); everything else stays inside.
IP_SRCS := $(wildcard interpose/*.c)
IP_OBJS := $(IP_SRCS:%.c=$(BUILD)/%.o)
$(BUILD)/interpose/%.o: MOD_CFLAGS := -fvisibility=hidden -fno-builtin
$(BUILD)/interpose/cxx.o: MOD_CFLAGS := -fvisibility=hidden -fno-builtin -fexceptions
# The map hooks define no allocator: their fixed-size memcpy stays a load, not a libc call.
$(BUILD)/interpose/hashmap.o $(BUILD)/interpose/ghash.o: MOD_CFLAGS := -fvisibility=hidden

$(BUILD)/libmapprof.so: $(IP_OBJS) $(PROF_OBJS) $(EXPORT_CORE) interpose/exports.map
	$(CC) -shared -o $@ $(filter %.o,$^) -Wl,--version-script=interpose/exports.map \
	    -Wl,-z,now $(EXPORT_LIBS) $(PROF_LIBS)
ALL_TARGETS += $(BUILD)/libmapprof.so
