# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian 12 machine as root:
# they install what is missing, build, and run.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
# Seconds each fuzz target runs in `make fuzz-smoke` (tests/fuzz/README.md).
FUZZ_SECONDS ?= 15
JOBS ?= $(shell nproc)
# Cache hits across clones and build directories (paths are hashed relative to here; with -g
# ccache would also hash the build directory itself unless told not to — the objects' debug info
# may then name another clone's directory, which only a debugger would notice).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# nginx-light: the load balancer of the scale-out integration test (and bench/'s upstream).
DEBIAN_PACKAGES := build-essential cmake ninja-build pkg-config ccache scdoc \
	libcli11-dev libcurl4-openssl-dev libsimdjson-dev libspdlog-dev libfmt-dev catch2 \
	libboost1.74-dev libdeflate-dev zlib1g-dev libexpected-dev libssl-dev openssl curl clang-tidy \
	dpkg-dev nginx-light clang libclang-rt-14-dev

# The LaunchDarkly SDK reference of issue 11 (tests/sdk_reference): node and npm, and the SDK
# pinned by its package-lock.json. Debian 12 comes without node; its nodejs 18 runs the SDK. They
# are not in DEBIAN_PACKAGES because machines that already have NodeSource's nodejs (which
# bundles npm and conflicts with Debian's npm package) must be left alone: apt installs them only
# when the commands are missing.
SDK_REFERENCE_DIR := tests/sdk_reference

.PHONY: deps build run test unit integration asan fuzz-build fuzz-smoke tidy clean bench-deps install deb

# Installs only when something is missing, so repeated runs don't touch apt or npm.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then missing="$$missing nodejs npm"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@if [ ! -f $(SDK_REFERENCE_DIR)/node_modules/.package-lock.json ] || \
		[ $(SDK_REFERENCE_DIR)/package-lock.json -nt $(SDK_REFERENCE_DIR)/node_modules/.package-lock.json ]; then \
		echo "installing the SDK reference's npm packages ($(SDK_REFERENCE_DIR))"; \
		cd $(SDK_REFERENCE_DIR) && npm ci --no-audit --no-fund; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The main job on a bundled sample: replay a captured file in --dry-run (prints the payloads it
# would send, with their headers; sends nothing).
run: build
	$(BUILD_DIR)/evrelay replay --dry-run --sdk-key sdk-example-0000-1111 --env-id 5e00example0000000001 \
		examples/sample-capture.ndjson

# Everything: unit and integration tests, then the unit tests again under ASan + UBSan, each
# fuzz target for a short while, then clang-tidy. The benchmark tools are built (not run) so
# that they keep compiling.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900
	cmake --build $(BUILD_DIR) -j $(JOBS) --target bench_tools
	$(MAKE) asan
	$(MAKE) fuzz-smoke
	$(MAKE) tidy

asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEVRELAY_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS) --target unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(ASAN_DIR)/tests/unit_tests --order rand

# The libFuzzer targets of tests/fuzz/ (clang; core compiled with ASan + UBSan and coverage).
fuzz-build: deps
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVRELAY_FUZZ=ON \
		-DEVRELAY_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets

# Each fuzz target for FUZZ_SECONDS from its seed corpus, one at a time; a finding fails.
fuzz-smoke: fuzz-build
	tests/fuzz/run_fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

# clang-tidy with .clang-tidy over cli/, core/, tests/support/ and bench/tools/; any finding
# fails. Needs only the configured build's compile_commands.json (~3 min on 2 cores).
tidy: deps $(BUILD_DIR)/build.ninja
	TIDY_JOBS=$(JOBS) tests/lint/clang_tidy.sh $(BUILD_DIR)

# Install as operators do (README "Installing"): the binary, the man pages, the systemd units, the
# service user's sysusers.d entry and the example configuration (kept if one is there), under
# $(DESTDIR)$(PREFIX); the configuration goes to /etc when PREFIX is /usr.
PREFIX ?= /usr/local
install: build
	DESTDIR="$(if $(DESTDIR),$(abspath $(DESTDIR)))" cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The Debian package (CPack), in $(BUILD_DIR): evrelay_VERSION-1_ARCH.deb.
deb: build
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
