# Thin wrapper over CMake. `make run` and `make test` are the README's two
# commands; both install missing Debian packages first (scripts/deps.sh).
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
CTEST    ?= ctest --output-on-failure -j$(JOBS)
CMAKE_CFG = cmake -S . -B

# (test-python: only the Python package's suite, built out of the tree)
.PHONY: all deps build test test-slow test-python test-sanitize test-tsan test-allocfail test-valgrind run bench \
        compare fuzz fuzz-ci lint install clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@$(CMAKE_CFG) $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Plain suite.
test: build
	cd $(BUILD) && $(CTEST) -LE slow

# Long checks left out of `make test` (label "slow": the orm-busy policy
# cells, 5M requests a replay).
test-slow: build
	cd $(BUILD) && $(CTEST) -L slow

# The Python package alone (python/run-tests.sh; `make test` runs it too).
test-python: deps
	python/run-tests.sh $(BUILD)/tests/python/pkg

# Whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps
	@$(CMAKE_CFG) build-asan -DCMAKE_BUILD_TYPE=Debug -DRCACHE_SANITIZE=address,undefined $(CMAKE_ARGS) >/dev/null
	@cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST) -LE slow

# Concurrency and server tests (label "tsan") under ThreadSanitizer.
test-tsan: deps
	@$(CMAKE_CFG) build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRCACHE_SANITIZE=thread $(CMAKE_ARGS) >/dev/null
	@cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(CTEST) -L tsan

# Library calls with the N-th allocation failing, swept over N (ASan build).
test-allocfail: deps
	@$(CMAKE_CFG) build-allocfail -DCMAKE_BUILD_TYPE=Debug -DRCACHE_ALLOC_FAIL=ON -DRCACHE_SANITIZE=address,undefined $(CMAKE_ARGS) >/dev/null
	@cmake --build build-allocfail -j$(JOBS)
	cd build-allocfail && ASAN_OPTIONS=detect_leaks=1 $(CTEST) -L allocfail

# Server end-to-end tests under valgrind memcheck (long; not in `make test`).
test-valgrind: build
	@if [ -x scripts/test-valgrind.sh ]; then scripts/test-valgrind.sh $(BUILD); \
	 else echo "test-valgrind: scripts/test-valgrind.sh not present yet"; exit 1; fi

# Build and start the server in the foreground with default settings.
# Snapshots (dump.rdb) of `make run` go here, so a restart finds the cache.
RUN_DIR  ?= $(BUILD)/data
run: build
	@mkdir -p $(RUN_DIR)
	@if [ -x $(BUILD)/src/server/rcached ]; then exec $(BUILD)/src/server/rcached --dir $(RUN_DIR) $(ARGS); \
	 else echo "rcached is not built yet; running the library example"; \
	      $(BUILD)/examples/rcache-example; fi

bench: build
	@echo "benchmark programs are in $(BUILD)/bench (see BENCHMARKS.md)"

compare: build
	bash bench/compare.sh $(ARGS)

fuzz:
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-60}

fuzz-ci:
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-8}

lint: build
	bash scripts/lint.sh $(BUILD)

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf build build-asan build-tsan build-fuzz build-allocfail
