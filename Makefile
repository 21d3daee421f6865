# The front door: `make demo` and `make test` work on a fresh Debian 12 machine.
# Each target installs what is missing (scripts/install-deps.sh), configures a build
# directory only when it has none, builds, then runs.

JOBS ?= $(shell nproc)
# Quieter output from the make that cmake runs.
MAKEFLAGS += --no-print-directory
BUILD_TYPE ?= Release
CMAKE_COMMON := -DEVRING_WERROR=ON
DEMO_ARGS ?=
# Short runs: `make bench` is a smoke run, not a measurement for the README.
MICROBENCH_ARGS ?= --benchmark_min_time=0.1
BENCH_LATENCY_ARGS ?=
BENCH_THROUGHPUT_ARGS ?=
BENCH_COMMANDS_ARGS ?= --samples 20000 --sync-samples 1000
BENCH_VIEWS_ARGS ?=
BENCH_COMPARE_ARGS ?=
# Seconds of fuzzing per target: `make fuzz` for a real search, `make fuzz-ci` for CI.
FUZZ_SECONDS ?= 300
FUZZ_CI_SECONDS ?= 10
# The chaos soak: `make soak` runs it this long (its report at the end); `make soak-ci` runs
# the two-minute ctest of the label soak that CI runs. SOAK_ARGS: e.g. --seed N to replay.
SOAK_SECONDS ?= 1800
SOAK_ARGS ?=

BUILD := build
BUILD_ASAN := build-asan
BUILD_TSAN := build-tsan
BUILD_FUZZ := build-fuzz
CTEST := ctest --output-on-failure -j$(JOBS) --timeout 300

.PHONY: all deps build demo test test-asan test-tsan fuzz fuzz-ci fuzz-build soak soak-ci \
  bench package format format-check clean

all: build

deps:
	@scripts/install-deps.sh

# Configure once per build directory; afterwards `cmake --build` re-runs cmake by itself
# whenever a CMakeLists.txt changes. `| deps`: install first, but never force a reconfigure.
$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

$(BUILD_ASAN)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DEVRING_SANITIZE=address -DEVRING_BUILD_BENCH=OFF

$(BUILD_TSAN)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_TSAN) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DEVRING_SANITIZE=thread -DEVRING_BUILD_BENCH=OFF

# The fuzz targets (tests/fuzz) with clang and libFuzzer, in a build of their own; the gcc
# builds replay their corpora as unit tests instead.
$(BUILD_FUZZ)/CMakeCache.txt:
	scripts/install-deps.sh --fuzz
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(BUILD_FUZZ) $(CMAKE_COMMON) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVRING_FUZZ=ON -DEVRING_BUILD_BENCH=OFF

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/bin/evring demo $(DEMO_ARGS)

# Everything but the soak (its own targets below).
test: build
	$(CTEST) --test-dir $(BUILD) -LE soak

soak: build
	$(BUILD)/bin/evring-soak --duration $(SOAK_SECONDS) $(SOAK_ARGS)

soak-ci: build
	$(CTEST) --test-dir $(BUILD) -L soak --verbose

test-asan: $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	$(CTEST) --test-dir $(BUILD_ASAN) -L 'unit|multiprocess|tsan' -LE heavy

# setarch -R turns address-space randomization off for the tests: TSan's fixed shadow
# layout fails ("unexpected memory mapping") on kernels with high mmap randomization.
test-tsan: $(BUILD_TSAN)/CMakeCache.txt
	cmake --build $(BUILD_TSAN) -j$(JOBS) --target evring_tsan_tests
	setarch $$(uname -m) -R $(CTEST) --test-dir $(BUILD_TSAN) -L tsan

fuzz-build: $(BUILD_FUZZ)/CMakeCache.txt
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target evring_fuzz_targets

fuzz: fuzz-build
	scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

fuzz-ci: fuzz-build
	scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_CI_SECONDS)

# The bench also installs the peers that `evring-bench compare` measures and the build never
# requires (iceoryx), then re-configures so an existing build directory finds them.
bench: build
	@scripts/install-deps.sh --bench
	@cmake $(BUILD) > /dev/null
	cmake --build $(BUILD) -j$(JOBS)
	@if [ -x $(BUILD)/bin/evring-microbench ]; then \
	  $(BUILD)/bin/evring-microbench $(MICROBENCH_ARGS); \
	else echo "bench: $(BUILD)/bin/evring-microbench is not built yet, skipping"; fi
	@if [ -x $(BUILD)/bin/evring-bench ]; then \
	  $(BUILD)/bin/evring-bench latency $(BENCH_LATENCY_ARGS) && \
	  $(BUILD)/bin/evring-bench throughput $(BENCH_THROUGHPUT_ARGS) && \
	  $(BUILD)/bin/evring-bench commands $(BENCH_COMMANDS_ARGS) && \
	  $(BUILD)/bin/evring-bench views $(BENCH_VIEWS_ARGS) && \
	  $(BUILD)/bin/evring-bench compare $(BENCH_COMPARE_ARGS); \
	else echo "bench: $(BUILD)/bin/evring-bench is not built yet, skipping"; fi

# The Debian package (cmake/Packaging.cmake) of the Release build. The re-configure finds
# help2man (for the man pages) in a build directory configured before deps installed it.
package: build
	@cmake $(BUILD) > /dev/null
	cmake --build $(BUILD) -j$(JOBS) --target package
	@echo "package: $$(ls -t $(BUILD)/evring_*.deb | head -n 1)" \
	  "(install: apt install ./$$(ls -t $(BUILD)/evring_*.deb | head -n 1))"

# Tracked C++ files only: build trees and others' scratch files are not ours to judge.
CXX_FILES = $(shell git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')

format: | deps
	clang-format -i $(CXX_FILES)

format-check: | deps
	@clang-format --dry-run --Werror $(CXX_FILES) && \
	  echo "format-check: $(words $(CXX_FILES)) files are formatted"

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)
