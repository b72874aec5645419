# nnc -- build, test, install.  `make` builds build/libnnc.{a,so} and build/nnc;
# `make check` runs the whole test suite (plain build, then ASan+UBSan build).
PREFIX ?= /usr/local
CC ?= cc
NATIVE ?= 1
SAN ?= 0
BUILD ?= build

WARN := -Wall -Wextra -Wno-unused-parameter
OPT := -O3
ifeq ($(NATIVE),1)
OPT += -march=native
endif
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
BUILD := build-san
endif
CFLAGS ?=
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -fPIC -fopenmp -Iinclude -Isrc -MMD -MP
LDLIBS := -ldnnl -ljansson -lpng -lz -lm
LDFLAGS += -fopenmp
ifeq ($(SAN),1)
LDFLAGS += -fsanitize=address,undefined
endif

SRC := $(sort $(wildcard src/*/*.c))
OBJ := $(SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(sort $(wildcard tools/nnc/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_LIB_SRC := tests/testlib.c

all: $(BUILD)/libnnc.a $(BUILD)/libnnc.so $(BUILD)/nnc $(BUILD)/nnc.pc

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libnnc.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libnnc.so: $(OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/nnc: $(CLI_OBJ) $(BUILD)/libnnc.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libnnc.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/nnc.pc: nnc.pc.in
	@mkdir -p $(BUILD)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' $< > $@

# Every test program links the static library and the small test helper.
# The heap-allocation wrappers count allocations made by libnnc's own code.
WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=posix_memalign,--wrap=aligned_alloc
$(BUILD)/tests/%: tests/%.c $(TEST_LIB_SRC) tests/testlib.h $(BUILD)/libnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(TEST_LIB_SRC) $(BUILD)/libnnc.a $(WRAP) $(LDFLAGS) $(LDLIBS)

# The README's example must keep compiling against the public header.
$(BUILD)/examples/%: examples/%.c $(BUILD)/libnnc.a include/nnc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libnnc.a $(LDFLAGS) $(LDLIBS)

tests: $(TEST_BIN) $(BUILD)/nnc $(BUILD)/examples/tour

# The whole suite: plain build, then the same tests under ASan + UBSan.
check:
	$(MAKE) test
	$(MAKE) SAN=1 test

test: tests
	@NNC=$(BUILD)/nnc sh tests/run.sh $(TEST_BIN) tests/test_cli.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/nnc.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libnnc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libnnc.so $(DESTDIR)$(PREFIX)/lib/libnnc.so.0.1.0
	ln -sf libnnc.so.0.1.0 $(DESTDIR)$(PREFIX)/lib/libnnc.so
	install -m 755 $(BUILD)/nnc $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/nnc.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	-ldconfig

clean:
	rm -rf build build-san

.PHONY: all check test tests install clean
-include $(OBJ:.o=.d) $(CLI_OBJ:.o=.d)
