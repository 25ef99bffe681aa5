# Makefile - wraps CMake.  make [build] | deps | test | test-tsan | demo | clean
#   make test: normal build (build/, run twice: as is, then with io_uring
#   forced off by BUFPOOL_IO=sync), ASan+UBSan (build-asan/), TSan
#   (build-tsan/) and -m32 (build-m32/), ctest in each; any failure fails it.
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
CONFIGURE = cmake -S . -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
CTEST = ctest --output-on-failure -j$(JOBS)
TESTS_ONLY = -DBP_BUILD_BENCH=OFF -DBP_BUILD_EXAMPLES=OFF
M32_CMOCKA = /usr/lib/i386-linux-gnu/libcmocka.so
MAKEFLAGS += --no-print-directory

.PHONY: all build deps test test-normal test-asan test-m32 test-tsan demo clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CONFIGURE) -B build
	cmake --build build -j$(JOBS)

test: test-normal test-asan test-tsan test-m32

test-normal: build
	$(CTEST) --test-dir build
	@echo "== the whole suite again with io_uring forced off (BUFPOOL_IO=sync) =="
	BUFPOOL_IO=sync $(CTEST) --test-dir build

test-asan: deps
	$(CONFIGURE) -B build-asan -DBP_SANITIZE=address,undefined $(TESTS_ONLY)
	cmake --build build-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CTEST) --test-dir build-asan

test-m32: deps
	@if [ ! -e $(M32_CMOCKA) ]; then \
	  echo "m32 build skipped: libcmocka-dev:i386 not installed"; \
	else \
	  set -ex; \
	  $(CONFIGURE) -B build-m32 -DBP_M32=ON; \
	  cmake --build build-m32 -j$(JOBS); \
	  $(CTEST) --test-dir build-m32; \
	fi

test-tsan: deps
	$(CONFIGURE) -B build-tsan -DBP_SANITIZE=thread $(TESTS_ONLY)
	cmake --build build-tsan -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(CTEST) --test-dir build-tsan

# The main job: a small TPC-C-like and YCSB-C comparison of bufpool (auto),
# the mmap-per-slot pool and LMDB (tables, CSV and PNG plots under
# bpbench-out/), then the window backends' costs.  About two minutes.
demo: build
	./build/bpbench tpcc --seconds 10 --out bpbench-out
	./build/bpbench ycsb --workloads c --seconds 5 --out bpbench-out
	./build/bpbench remap --quick

clean:
	rm -rf build*/
