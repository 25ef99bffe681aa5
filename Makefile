# Makefile - wraps CMake.
#   make [build] | deps | install | test | soak | demo | clean
#   make install [PREFIX=/usr/local] [DESTDIR=...]: builds build/, then
#   cmake --install build --prefix $(PREFIX): the header, libbufpool.so and
#   libbufpool.a, bufpool.pc, the CMake package (find_package(bufpool)),
#   bpbench, bpstat and the man pages, in the GNU directories under PREFIX.
#   make test: the suite in six legs (scripts/test-legs.sh): native build/,
#   the same again with io_uring forced off (BUFPOOL_IO=sync), ASan+UBSan
#   (build-asan/), TSan (build-tsan/), 32-bit (build-m32/) and kernel
#   (build-kernel/); one summary line per leg at the end; any failure fails
#   it.  M32=auto|native|emulated|skip chooses how the 32-bit leg runs (auto:
#   natively where the kernel runs i386 programs, else under qemu-i386, else
#   skipped with the reason).  make test-<leg> runs one leg.
#   make test-kernel: the kernel leg (scripts/kernel-test.sh): builds the
#   bpwin module (kernel/) and the programs in build-kernel/, runs
#   kernel/check-patches.sh, boots Debian's kernel under qemu (KVM if
#   that kernel boots under it, else TCG) and runs test_kmod, bpbench remap and the
#   suite on the kmod backend there; at most 10 minutes.
#   KERNEL_TEST=auto|run|skip (auto: skipped with the reason when its
#   packages cannot be installed or there is no kernel to boot; run: that
#   fails).
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
M32 ?= auto
KERNEL_TEST ?= auto
PREFIX ?= /usr/local
export BUILD_TYPE JOBS M32 KERNEL_TEST
CONFIGURE = cmake -S . -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
MAKEFLAGS += --no-print-directory

.PHONY: all build deps install test test-normal test-sync test-asan test-tsan \
        test-m32 test-kernel soak demo clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CONFIGURE) -B build
	cmake --build build -j$(JOBS)

install: build
	DESTDIR="$(DESTDIR)" cmake --install build --prefix "$(PREFIX)"

test: deps
	@scripts/test-legs.sh native sync asan tsan m32 kernel

test-normal: deps
	@scripts/test-legs.sh native sync

test-sync: deps
	@scripts/test-legs.sh sync

test-asan: deps
	@scripts/test-legs.sh asan

test-tsan: deps
	@scripts/test-legs.sh tsan

test-m32: deps
	@scripts/test-legs.sh m32

test-kernel: deps
	@scripts/test-legs.sh kernel

# The kill loop of tests/shm/test_reap.c with 1,000 kills (the suite runs 200):
# 4 processes write and flush a shared cache while one is killed at random
# moments; every acknowledged page is checked at the end.
soak: build
	BP_KILL_LOOP_KILLS=1000 ./build/test_reap

# The main job: a small TPC-C-like and YCSB-C comparison of bufpool (auto),
# the mmap-per-slot pool and LMDB (tables, CSV and PNG plots under
# bpbench-out/), then the window backends' costs.  About two minutes.
demo: build
	./build/bpbench tpcc --seconds 10 --out bpbench-out
	./build/bpbench ycsb --workloads c --seconds 5 --out bpbench-out
	./build/bpbench remap --quick

clean:
	rm -rf build*/
