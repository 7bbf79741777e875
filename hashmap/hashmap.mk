# hashmap/ build fragment: libhashmap.a, the Go-style map library (standalone: libc only), and
# its unit tests (sanitized objects, one program per tests/unit/hashmap_*.c).
HM_SRCS     := $(wildcard hashmap/*.c)
HM_OBJS     := $(HM_SRCS:%.c=$(BUILD)/%.o)
HM_SAN_OBJS := $(HM_SRCS:%.c=$(BUILD)/san/%.o)
# The public API keeps default visibility (the library is linked into programs, and into
# test programs run under libmapprof.so); internal functions are declared hidden.
$(BUILD)/hashmap/%.o: MOD_CFLAGS := -fvisibility=default

$(BUILD)/libhashmap.a: $(HM_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
ALL_TARGETS += $(BUILD)/libhashmap.a

# -rdynamic: hashmap_lookup defines HM_HOOKS_SYMBOL, which the library finds by dlsym.
$(BUILD)/tests/unit/hashmap_%: tests/unit/hashmap_%.c $(HM_SAN_OBJS) tests/check.h tests/together.h hashmap/hashmap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -rdynamic $(filter %.c %.o,$^) -o $@ -lpthread
UNIT_TESTS += $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/hashmap_*.c))
# Kept between builds (make would delete them as intermediates of the pattern rule above).
.SECONDARY: $(HM_SAN_OBJS)
