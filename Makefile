# rcgc front door. Everything goes through CMake; this file only picks the
# configurations and installs what a fresh Debian/Ubuntu machine lacks.
#
#   make                 build both flavours (build/default, build/ft)
#   make check           install test dependencies, build default + free-threaded
#                        (debug checks on) + ASan/UBSan + TSan, run every test,
#                        again under the debug allocator (RCGC_MALLOC=debug),
#                        run the allocator tests under Valgrind memcheck,
#                        and check that an installed copy is usable via pkg-config
#   make demo            build and run the demo
#   make bench           benchmarks side by side with peers (BENCH_QUICK=1: < 60 s)
#   make memcheck        allocator tests under Valgrind memcheck, no suppression file
#   make install PREFIX=/usr/local
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX   ?= /usr/local
CMAKE    ?= cmake
BUILD    ?= build
CMAKE_COMMON := -DRCGC_WERROR=ON

TEST_DEPS  := cmake gcc make pkg-config libcmocka-dev valgrind
DEMO_DEPS  := cmake gcc make pkg-config

.PHONY: memcheck all default ft check check-default check-ft check-asan check-tsan check-memcheck check-debugalloc check-install \
        demo install bench deps-test deps-demo clean

all: default ft

default:
	$(CMAKE) -S . -B $(BUILD)/default -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON) >/dev/null
	$(CMAKE) --build $(BUILD)/default -j $(JOBS)

ft:
	$(CMAKE) -S . -B $(BUILD)/ft -DCMAKE_BUILD_TYPE=Release -DRCGC_FREE_THREADED=ON $(CMAKE_COMMON) >/dev/null
	$(CMAKE) --build $(BUILD)/ft -j $(JOBS)

# ---- dependencies: apt-get when root, else print the exact command ----------
deps-test:
	@tools/ensure-deps.sh $(TEST_DEPS)
deps-demo:
	@tools/ensure-deps.sh $(DEMO_DEPS)

# ---- tests --------------------------------------------------------------------
# Sanitizer runtime options: a test that asks for an absurd size must get
# NULL back (the library's error path), not a sanitizer abort.
export ASAN_OPTIONS  ?= allocator_may_return_null=1:detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS  ?= allocator_may_return_null=1:halt_on_error=1:second_deadlock_stack=1

define run_suite
	$(CMAKE) -S . -B $(BUILD)/$(1) $(2) $(CMAKE_COMMON) >/dev/null
	$(CMAKE) --build $(BUILD)/$(1) -j $(JOBS)
	cd $(BUILD)/$(1) && ctest --output-on-failure -j $(JOBS) $(3)
endef

check: deps-test check-default check-debugalloc check-ft check-asan check-tsan check-memcheck check-install
	@echo "make check: all suites passed"

check-default:
	$(call run_suite,check-default,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRCGC_DEBUG=2)
# The same default-build tests again with the debug allocator under every
# domain (guards, fills, serials, quarantine): RCGC_MALLOC=debug.
check-debugalloc: check-default
	cd $(BUILD)/check-default && RCGC_MALLOC=debug ctest --output-on-failure -j $(JOBS)
check-ft:
	$(call run_suite,check-ft,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRCGC_DEBUG=2 -DRCGC_FREE_THREADED=ON)
check-asan:
	$(call run_suite,check-asan,-DCMAKE_BUILD_TYPE=Debug -DRCGC_DEBUG=1 -DRCGC_SANITIZE=address$(,)undefined -DRCGC_TRACK_ASAN=ON)
check-tsan:
	$(call run_suite,check-tsan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRCGC_DEBUG=1 -DRCGC_FREE_THREADED=ON -DRCGC_SANITIZE=thread)
check-memcheck:
	BUILD=$(BUILD)/check-memcheck tools/memcheck.sh --selftest
	BUILD=$(BUILD)/check-memcheck tools/memcheck.sh
check-install:
	tools/check-install.sh $(BUILD)/check-install

, := ,

# ---- demo, install, bench -------------------------------------------------------
demo: deps-demo default
	$(BUILD)/default/demo

install: default ft
	$(CMAKE) --install $(BUILD)/default --prefix $(PREFIX)
	$(CMAKE) --install $(BUILD)/ft --prefix $(PREFIX)

bench:
	@tools/run-bench.sh

memcheck:
	tools/memcheck.sh

clean:
	rm -rf $(BUILD)
