# tg — build, test, install.
#   make            build/libtg.a, build/libtg.so, build/tg
#   make demo       install what is missing, build, run the demo
#   make check      install what is missing, build, run every test
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan (in build-san/)
#   make check CC=clang BUILD=build-clang   with another compiler, beside the first
#   make tutorial   run docs/TUTORIAL.md's programs and the lectures' examples,
#                   pictures in build/tutorial/
#   make fuzz FUZZ_SECONDS=60   each fuzz target for 60 s (libFuzzer, in build-fuzz/)
#   make install PREFIX=/usr/local   (libtg.so.0 with its links; ldconfig for a system prefix)
#   make fixtures   regenerate tests/fixtures from PyTorch (needs python3-torch)

CC ?= cc
PREFIX ?= /usr/local
# The shared library's version, and its soname: the major number, which
# changes when a program built against an older tg would break.
VERSION := $(shell sed -n 's/^#define TG_VERSION "\(.*\)"/\1/p' include/tg.h)
SONAME = libtg.so.$(firstword $(subst ., ,$(VERSION)))
OPT ?= -O2 -g
CFLAGS_ALL = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -fPIC -pthread -Iinclude $(STB_CFLAGS) $(OPT) $(CFLAGS)
LDLIBS_ALL = -lstb -lz -lm -pthread $(LDLIBS)
# Debian's libstb-dev puts stb_image.h in /usr/include/stb
STB_CFLAGS := $(shell pkg-config --cflags stb 2>/dev/null || echo -I/usr/include/stb)

ifeq ($(SANITIZE),1)
BUILD ?= build-san
CFLAGS_ALL += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
# One process for the whole suite, so LeakSanitizer sees every test's leaks.
TEST_ENV = CK_FORK=no TG_SANITIZED=1
else ifeq ($(SANITIZE),fuzz)
# The fuzz targets under libFuzzer (make fuzz): clang, ASan and UBSan, and
# coverage feedback in every object.
BUILD ?= build-fuzz
CC = clang
CFLAGS_ALL += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
FUZZ_DRIVER = -fsanitize=fuzzer $(BUILD)/fuzz/stb_image.o
FUZZ_DRIVER_DEPS = $(BUILD)/fuzz/stb_image.o
else
BUILD ?= build
endif
# Without libFuzzer a fuzz target replays files (tests/fuzz/replay.c).
FUZZ_DRIVER ?= tests/fuzz/replay.c

# The Debian packages each job needs (see scripts/deps.sh). The tests and
# the demo train on the real FashionMNIST: Debian's dataset-fashion-mnist.
DEPS_BUILD = pkg-config zlib1g-dev libstb-dev
DEPS_DATA = dataset-fashion-mnist
DEPS_PLOTS = gnuplot-nox bc
DEPS_TUTORIAL = $(DEPS_BUILD) $(DEPS_DATA) gnuplot-nox graphviz
DEPS_CHECK = $(DEPS_BUILD) $(DEPS_DATA) check
DEPS_FUZZ = $(DEPS_BUILD) clang libfuzzer-14-dev
DEPS_MPI = openmpi-bin libopenmpi-dev
# PyTorch calls BLAS through libblas.so.3: with only Debian's reference BLAS
# it ran the MLP with SGD 17x slower than with OpenBLAS, and bench's ratios would be
# against that (bench/run.sh says which BLAS it found)
DEPS_BENCH = libopenblas0-pthread

# The library, layer by layer from the bottom (docs/ARCHITECTURE.md; make layers checks it).
LIB_SRC = $(wildcard src/base/*.c src/kernels/*.c src/tensor/*.c src/io/*.c src/graph/*.c src/ops/*.c src/nn/*.c \
                    src/optim/*.c models/*.c datasets/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# dist_mpi.c is build/tg-mpi's alone (make mpi), in place of dist_open.c.
CLI_SRC = $(filter-out src/cli/dist_mpi.c,$(wildcard src/cli/*.c))
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/check_*.c)
TESTS = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EXAMPLES = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
HEADERS = include/tg.h $(wildcard src/*.h src/*/*.h)
FUZZ_TARGETS = idx dataset image checkpoint safetensors cli
FUZZERS = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: all demo check test layers deps deps-build deps-test deps-demo deps-check install uninstall clean fixtures examples accuracy experiments \
        bench fuzz fuzzers tutorial mpi

all: $(BUILD)/libtg.a $(BUILD)/libtg.so $(BUILD)/tg

# Before anything compiles, the packages it needs are there, or make says
# which are missing and the command that installs them.
$(BUILD)/obj/%.o: %.c $(HEADERS) Makefile | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(KERNEL_OPT) $(OBJ_CFLAGS) -c $< -o $@

# Hot loops get the full vectoriser (gcc -O2 leaves most of them scalar);
# without -ffast-math it keeps every result the same. -fno-math-errno lets
# sqrtf be one instruction (tg never reads errno) and -fno-trapping-math
# lets a select compute both sides (tg never reads the FP exception flags):
# loops with a square root or a condition need them to vectorise, and
# neither changes a result. -ffp-contract=off keeps a * b + c two roundings
# in every compiler, also where a kernel is compiled for a CPU with FMA.
KERNEL_FLAGS = -O3 -fno-math-errno -fno-trapping-math -ffp-contract=off
$(BUILD)/obj/src/kernels/%.o: KERNEL_OPT = $(KERNEL_FLAGS)
# The unary ops keep their loops beside them: built as the kernels are.
$(BUILD)/obj/src/ops/unary.o: KERNEL_OPT = $(KERNEL_FLAGS)
# The SIMD micro-kernels are compiled for their instruction sets on x86-64
# only; gemm.c calls one only on a CPU that has it (one binary runs anywhere).
ifneq ($(filter x86_64%,$(shell $(CC) -dumpmachine)),)
$(BUILD)/obj/src/kernels/gemm_avx512.o: KERNEL_OPT = $(KERNEL_FLAGS) -mavx512f -mfma
$(BUILD)/obj/src/kernels/gemm_avx2.o: KERNEL_OPT = $(KERNEL_FLAGS) -mavx2 -mfma
endif

$(BUILD)/libtg.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtg.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# The usual links: the soname (what programs load) and libtg.so (what -ltg finds).
$(BUILD)/libtg.so: $(BUILD)/libtg.so.$(VERSION)
	ln -sf libtg.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/tg: $(CLI_OBJ) $(BUILD)/libtg.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libtg.a $(LDLIBS_ALL)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libtg.a include/tg.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(BUILD)/libtg.a $(LDLIBS_ALL)

examples: $(EXAMPLES)

# Tests see the private headers too: kernels are tested directly.
$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h tests/fixtures/*.h) $(BUILD)/libtg.a | deps-test
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -Itests $(LDFLAGS) $(TEST_LDFLAGS) -o $@ $< $(BUILD)/libtg.a \
	    $$(pkg-config --cflags --libs check) $(LDLIBS_ALL)

# The benchmark sees the private headers: it times the kernels directly.
$(BUILD)/bench/bench: bench/bench.c $(BUILD)/libtg.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libtg.a $(LDLIBS_ALL) -ldl

# ---- more than one process (docs/SCALING.md) ----
# build/tg-mpi is build/tg with the Open MPI engine (src/cli/dist_mpi.c)
# in place of the one-process one: `mpirun -np 2 build/tg-mpi train ...`.
# Only it needs MPI; the library never does.
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS = $(shell pkg-config --libs ompi-c 2>/dev/null)
HAVE_MPI := $(shell pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null && echo 1)
$(BUILD)/obj/src/cli/dist_mpi.o: OBJ_CFLAGS = $(MPI_CFLAGS)
$(BUILD)/tg-mpi: $(filter-out %/dist_open.o,$(CLI_OBJ)) $(BUILD)/obj/src/cli/dist_mpi.o $(BUILD)/libtg.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) $(MPI_LIBS)

$(BUILD)/bench/allreduce: bench/allreduce.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(MPI_CFLAGS) $(LDFLAGS) -o $@ $< $(MPI_LIBS)

# Installs Open MPI when missing, as make demo does its packages, and builds build/tg-mpi.
mpi:
	@scripts/deps.sh $(DEPS_BUILD) $(DEPS_MPI)
	@$(MAKE) --no-print-directory all $(BUILD)/tg-mpi

# How fast tg trains, against PyTorch if python3-torch is installed (see
# bench/run.sh; never a test: run it on a quiet machine).
bench: deps-demo
	@scripts/deps.sh --optional $(DEPS_BENCH)
	@$(MAKE) --no-print-directory all $(BUILD)/bench/bench $(if $(HAVE_MPI),$(BUILD)/tg-mpi $(BUILD)/bench/allreduce)
	bench/run.sh $(BUILD)

# check_alloc counts libtg's allocations and makes them fail: every call it
# makes goes through tests/failalloc.h's __wrap_ functions; so do those of
# tg_failalloc, the tg command built the same way.
FAILALLOC_LDFLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc
$(BUILD)/tests/check_alloc: TEST_LDFLAGS = $(FAILALLOC_LDFLAGS)
$(BUILD)/tests/tg_failalloc: tests/failalloc_cli.c tests/failalloc.h $(CLI_OBJ) $(BUILD)/libtg.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(FAILALLOC_LDFLAGS) -o $@ $< $(CLI_OBJ) $(BUILD)/libtg.a $(LDLIBS_ALL)

# ---- fuzzing (docs/TESTING.md) ----
# A fuzz target links the library and the command's code; src/cli/main.c
# comes in as tg_cli_main so that fuzz_cli can call it.
$(BUILD)/fuzz/cli_main.o: src/cli/main.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Dmain=tg_cli_main -c $< -o $@

# stb_image instrumented too (third-party code: its warnings are not ours).
# For an empty IDAT chunk (valid PNG) its reader adds 0 to a NULL pointer
# and copies 0 bytes to it: defined in practice, and by C2y (N3322), so
# those two checks are off here.
$(BUILD)/fuzz/stb_image.o: tests/fuzz/stb_image_impl.c
	@mkdir -p $(dir $@)
	$(CC) $(STB_CFLAGS) $(OPT) -w -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	    -fno-sanitize=pointer-overflow,nonnull-attribute -c $< -o $@

$(BUILD)/fuzz/libtgcli.a: $(filter-out %/main.o,$(CLI_OBJ)) $(BUILD)/fuzz/cli_main.o
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.c tests/fuzz/replay.c tests/fuzz/fuzz.h \
                      $(BUILD)/fuzz/libtgcli.a $(BUILD)/libtg.a $(FUZZ_DRIVER_DEPS)
	$(CC) $(CFLAGS_ALL) -Isrc $(LDFLAGS) -o $@ $< tests/fuzz/fuzz_util.c $(FUZZ_DRIVER) \
	    $(BUILD)/fuzz/libtgcli.a $(BUILD)/libtg.a $(LDLIBS_ALL)

fuzzers: $(FUZZERS)

# Each target for FUZZ_SECONDS on its seeds, its regression inputs and what
# earlier runs found (build-fuzz/fuzz/corpus); fails on a crash, hang or leak.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/deps.sh $(DEPS_FUZZ)
	@$(MAKE) --no-print-directory SANITIZE=fuzz fuzzers
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

deps:
	@scripts/deps.sh $(DEPS_BUILD)

deps-build:
	@scripts/deps.sh --check $(DEPS_BUILD)

deps-test:
	@scripts/deps.sh --check $(DEPS_CHECK)

deps-demo:
	@scripts/deps.sh $(DEPS_BUILD) $(DEPS_DATA)

# make check installs Open MPI too when it can (root); without it the MPI
# tests do not run, and tests/run.sh says so.
deps-check:
	@scripts/deps.sh $(DEPS_CHECK)
	@scripts/deps.sh --optional $(DEPS_MPI)

# The main job: the lectures' MLP on FashionMNIST, two epochs of Adam (about
# a minute on two cores), then its test accuracy and a few test images with
# their true labels and tg's guesses.
demo: deps-demo
	@$(MAKE) --no-print-directory all
	$(BUILD)/tg train --optimizer adam --lr 0.001 --batch-size 64 --epochs 2 --save $(BUILD)/demo.ckpt
	$(BUILD)/tg eval $(BUILD)/demo.ckpt --show 4

# The lectures' experiments into results/ (REPORT.md, summary.csv, figures/):
# about ten minutes on two cores (JOBS=1: one run at a time, seventeen);
# QUICK=1 runs them on 6,000 images for 1 epoch.
experiments: deps-demo
	@scripts/deps.sh $(DEPS_PLOTS)
	@$(MAKE) --no-print-directory all $(BUILD)/examples/lasso
	scripts/experiments.sh $(if $(filter 1,$(QUICK)),--quick) $(BUILD)/tg results

# docs/TUTORIAL.md's programs (tg trace, its network in C, an epoch of the
# FashionMNIST MLP) and the lectures' examples, with their pictures in
# $(BUILD)/tutorial/: about half a minute.
tutorial:
	@scripts/deps.sh $(DEPS_TUTORIAL)
	@$(MAKE) --no-print-directory all examples
	scripts/tutorial.sh $(BUILD) $(BUILD)/tutorial

# The accuracies the issues state, checked outside make check: the MLP
# (PyTorch: 0.864 after 2 epochs, 0.893 after 10) and the two CNNs of issue
# 15 (scripts/accuracy.sh); ten epochs each, the CNNs take most of the time.
accuracy: deps-demo
	@$(MAKE) --no-print-directory all
	scripts/accuracy.sh $(BUILD)/tg

# Every file calls only into its own layer and those below (docs/ARCHITECTURE.md).
layers:
	@scripts/layers.sh

check: deps-check
	@$(MAKE) --no-print-directory test

test: all $(TESTS) $(EXAMPLES) $(FUZZERS) $(BUILD)/tests/tg_failalloc $(if $(HAVE_MPI),$(BUILD)/tg-mpi)
	@$(TEST_ENV) $(if $(HAVE_MPI),TG_MPI_BIN=$(BUILD)/tg-mpi) BUILD=$(BUILD) CC="$(CC)" CFLAGS="$(CFLAGS_ALL)" \
	    LDFLAGS="$(LDFLAGS)" tests/run.sh $(TESTS)

# A system prefix's libraries are found through ld.so's cache: ldconfig
# refreshes it (as root, installing for real). A private prefix needs an
# rpath or a static link: see the README.
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libtg.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtg.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtg.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libtg.so
	install -m 644 include/tg.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/tg $(DESTDIR)$(PREFIX)/bin/
	sed 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(VERSION)|' tg.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tg.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && case "$(PREFIX)" in /usr|/usr/local) true;; *) false;; esac; \
	then echo ldconfig; ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libtg.a $(DESTDIR)$(PREFIX)/lib/libtg.so $(DESTDIR)$(PREFIX)/lib/$(SONAME) \
	    $(DESTDIR)$(PREFIX)/lib/libtg.so.$(VERSION) $(DESTDIR)$(PREFIX)/include/tg.h \
	    $(DESTDIR)$(PREFIX)/bin/tg $(DESTDIR)$(PREFIX)/lib/pkgconfig/tg.pc

# torch's matrix products go through whichever BLAS Debian's alternatives
# make libblas.so.3 (with OpenBLAS results differ in the last bits); the
# references were made with the reference BLAS, which LD_LIBRARY_PATH picks
# here whatever the alternative says, so they come out the same bytes.
BLAS_REF = $(dir $(firstword $(wildcard /usr/lib/*/blas/libblas.so.3)))
# $(call generate,COMMAND,FILE): COMMAND's output becomes FILE only when
# COMMAND succeeds; a generator that fails halfway leaves the old FILE whole.
generate = $(1) > $(2).new && mv $(2).new $(2) || { rm -f $(2).new; exit 1; }
fixtures:
	@scripts/deps.sh --check python3-torch python3-numpy libblas3
	$(call generate,LD_LIBRARY_PATH=$(BLAS_REF) /usr/bin/python3 tests/fixtures/gen_fixtures.py,tests/fixtures/torch_ref.h)
	$(call generate,LD_LIBRARY_PATH=$(BLAS_REF) /usr/bin/python3 tests/fixtures/gen_optim_fixtures.py,tests/fixtures/optim_ref.h)
	$(call generate,LD_LIBRARY_PATH=$(BLAS_REF) /usr/bin/python3 tests/fixtures/gen_safetensors.py,tests/fixtures/safetensors_ref.h)

# tests/check_parity.c's references from PyTorch: tests/fixtures/gen_parity.py
# writes tests/fixtures/parity/ and parity_ref.h (docs/PYTORCH.md), with the
# reference BLAS and LAPACK as above.
fixtures-parity:
	@scripts/deps.sh --check python3-torch python3-numpy libblas3 liblapack3 $(DEPS_DATA)
	LD_LIBRARY_PATH=$(BLAS_REF):$(BLAS_REF)../lapack /usr/bin/python3 tests/fixtures/gen_parity.py

# A model tg trains, exported, loaded by PyTorch with load_state_dict(strict=True)
# and scored by it as tg eval scores it (not part of make check; ten seconds).
torch-roundtrip:
	@scripts/deps.sh --check python3-torch python3-numpy $(DEPS_DATA)
	@$(MAKE) --no-print-directory $(BUILD)/tg
	/usr/bin/python3 tests/fixtures/torch_roundtrip.py $(BUILD)/tg

.PHONY: fixtures-parity torch-roundtrip

clean:
	rm -rf build build-san build-clang build-fuzz
