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
# -fno-math-errno: sqrtf may not set errno (nnc never reads it), so loops with
# sqrtf vectorize (Adam, RMSProp, norms).
# -ffp-contract=fast: ISO C mode (-std=c11) otherwise forbids GCC to fuse a*b+c
# into one FMA instruction, which halves the peak of every vectorized loop.
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -ffp-contract=fast -fno-math-errno -fPIC -fopenmp -Iinclude -Isrc -MMD -MP
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
	@NNC=$(BUILD)/nnc sh tests/run.sh $(TEST_BIN) tests/test_cli.sh tests/test_reliability.sh tests/test_bad_cli.sh tests/test_seq_cli.sh tests/test_bench.sh tests/test_cfg_cli.sh

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

# ---------------------------------------------------------------- reliability
# Fuzzing (libFuzzer; clang with ASan + UBSan): `make fuzz` builds one harness
# per loader (tests/fuzz/fuzz_*.c) into $(FUZZ_BUILD); `make fuzz-run` runs
# each for FUZZ_SECONDS over its seed corpus (tests/fuzz/corpus/<name>, whose
# files are also regression inputs) and fails on the first crash, leak or UB.
# New inputs go to $(FUZZ_BUILD)/corpus/<name>, not into the tree; a
# tests/fuzz/<name>.dict, where there is one, is the harness's dictionary.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Wno-pass-failed -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fopenmp -Iinclude -Isrc -MMD -MP
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJ := $(SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libnnc.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_BUILD)/libnnc.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libnnc.a $(LDLIBS)

fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	@set -e; for b in $(FUZZ_BIN); do \
	    h=$${b##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/crash/$$h; \
	    d=; [ -f tests/fuzz/$$h.dict ] && d=-dict=tests/fuzz/$$h.dict; \
	    echo "fuzz: $$h for $(FUZZ_SECONDS) s"; \
	    OMP_WAIT_POLICY=passive ASAN_OPTIONS=detect_leaks=1 $$b $$d -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash/$$h/ \
	        $(FUZZ_BUILD)/corpus/$$h tests/fuzz/corpus/$$h 2>$(FUZZ_BUILD)/$$h.log \
	        || { tail -n 60 $(FUZZ_BUILD)/$$h.log; echo "fuzz: $$h FAILED (input in $(FUZZ_BUILD)/crash/$$h/)"; exit 1; }; \
	    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(FUZZ_BUILD)/$$h.log | sed "s/^/fuzz: $$h /"; \
	done

.PHONY: fuzz fuzz-run
-include $(FUZZ_OBJ:.o=.d)

# Static analysis: cppcheck over the library and the CLI; any finding fails.
# False positives are listed, each with its reason, in tests/cppcheck.supp.
CPPCHECK ?= cppcheck
lint:
	$(CPPCHECK) --enable=warning,portability,performance --std=c11 --inline-suppr --quiet --error-exitcode=1 \
	    -D__GNUC__ -D_GNU_SOURCE -Iinclude -Isrc --suppress=missingIncludeSystem \
	    --suppressions-list=tests/cppcheck.supp --template='{file}:{line}: {severity} ({id}): {message}' src tools

# Valgrind memcheck over a 200-step LeNet-5 training run (tests/valgrind_train.sh)
# in a build without AVX-512, which Valgrind cannot decode: -march=x86-64-v2
# (SSE4.2, no FMA, which Valgrind emulates slowly) for nnc's own code, and
# oneDNN's JIT held to SSE4.1 (ONEDNN_MAX_CPU_ISA, see the script).
VG_BUILD ?= build-vg
valgrind:
	$(MAKE) BUILD=$(VG_BUILD) NATIVE=0 OPT="-O2 -g -march=x86-64-v2" $(VG_BUILD)/nnc
	sh tests/valgrind_train.sh $(VG_BUILD)/nnc

.PHONY: lint valgrind
