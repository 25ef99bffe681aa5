#!/usr/bin/env bash
# kernel-test.sh - build the bpwin module (kernel/) and the library's
# programs, boot Debian's kernel under qemu with them, and report.
# `make test-kernel`, and the kernel leg of `make test` (scripts/test-legs.sh).
#
# The host's own kernel need not load modules: the guest is the installed
# linux-image-amd64 (its vmlinuz, headers and /lib/modules), 2 CPUs, 4 GiB,
# KVM where that kernel boots under it, else TCG.  Its initramfs holds
# busybox, the /init (scripts/guest-init.sh), the disk modules, bpwin.ko
# and the programs of build-kernel/user with their shared libraries; the
# tests' files go to an ext4 disk (a sparse image: O_DIRECT, which tmpfs
# refuses).
#
# Steps, in this order, one line each ("kernel: <step>: passed|failed|
# skipped (why; seconds)"):
#   patch-check     on the host: kernel/check-patches.sh, when it exists
#   insmod          insmod bpwin.ko
#   kmod            test_kmod
#   bench-remap/<n> bpbench remap: kmod, rfp, mmap and linear at n = 64,
#                   1024 and 65536 slots; the tables are printed at the end
#   bench-raw/<n>   bpbench remap --raw: the mechanisms alone at n = 64,
#                   1024 and 66000 slots (vm.max_map_count 65530)
#   suite-kmod/<t>  every test ctest lists whose program is built here (not
#                   doc_words), with BUFPOOL_BACKEND=kmod and BP_TEST_KMOD=1
#                   (the tests' rfp and mmap cases run on kmod)
#   rmmod           rmmod bpwin (the module's exit path)
#   dmesg           the guest's kernel log has no splat (BUG:, WARNING:,
#                   Oops, Call Trace, ...)
# and "qemu" / "guest" fail when qemu times out or the guest stops early.
# Last line: "kernel (qemu-system-x86_64 V, Debian kernel K, KVM|TCG):
# N passed, N failed, N skipped".
#
# Time: the whole script stays within KERNEL_BUDGET; qemu gets what is left
# after the builds and patch-check, at most KERNEL_TIMEOUT; the guest gets a
# deadline 30 s before that and cuts a step that would run over it (failed,
# "timed out"; a step not started in time fails too).  kmod and the bench
# have their own budgets, the suite gets what is left.  Measured here under
# TCG (2 host CPUs): boot to /init 5-13 s, the bench 90-100 s, the suite
# without the programs below ~4 min; under TCG, KERNEL_SUITE=auto skips
# these (reported skipped; the whole suite takes ~17 min):
#   test_btree 295 s, test_countdown 292 s, test_tpcc 154 s, test_sqlite
#   135 s, and the _unfenced reruns of test_stress and test_threads (25 s,
#   34 s)
#
# Environment:
#   KERNEL_TEST=auto|run|skip  auto (default): skipped (exit 77, one line
#       "kernel: skipped: why") when a package cannot be installed, there
#       is no kernel to boot, no module source, or too little time; run:
#       those fail instead; skip: not run
#   KERNEL_BUDGET=600     seconds for everything, builds included
#   KERNEL_TIMEOUT=540    at most this for the qemu run
#   KERNEL_SUITE=auto|all|none|LIST  the suite-kmod programs: auto: all
#       under KVM, under TCG all but the slow ones above; or a comma list
#       of ctest names
#   KERNEL_SUITE_ENV="VAR=VAL ..."  more environment for the suite
#   KERNEL_KMOD_BUDGET=120, KERNEL_BENCH_BUDGET=150  seconds (0: no bench)
#   KERNEL_ACCEL=auto|kvm|tcg  (auto: KVM when the guest kernel boots
#       under it within KVM_PROBE=20 seconds, else TCG, with a line why)
#   BPWIN_KO=FILE  boot this bpwin.ko instead of building kernel/
#   JOBS (2)
# Exit status: 0 passed, 1 failed, 77 skipped.  The console of the last run
# is build-kernel/last-run.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
# shellcheck source=kernel-deps.sh
. scripts/kernel-deps.sh

KERNEL_TEST=${KERNEL_TEST:-auto}
KERNEL_BUDGET=${KERNEL_BUDGET:-600}
KERNEL_TIMEOUT=${KERNEL_TIMEOUT:-540}
KERNEL_SUITE=${KERNEL_SUITE:-auto}
KERNEL_SUITE_ENV=${KERNEL_SUITE_ENV:-}
KERNEL_ACCEL=${KERNEL_ACCEL:-auto}
KMOD_BUDGET=${KERNEL_KMOD_BUDGET:-120}
BENCH_BUDGET=${KERNEL_BENCH_BUDGET:-150}
BPWIN_KO=${BPWIN_KO:-}
JOBS=${JOBS:-2}
OUT=$ROOT/build-kernel
USER_BUILD=$OUT/user
QEMU=qemu-system-x86_64
GUEST_MODULES=(virtio_pci virtio_blk ext4)
# too slow for TCG's budget (seconds measured here): skipped by auto
TCG_SLOW="test_btree:295 test_countdown:292 test_tpcc:154 test_sqlite:135 test_stress_unfenced:25 test_threads_unfenced:34"
RESERVE=30   # the guest's deadline is this before qemu's timeout
SPLAT='BUG:|WARNING:|Oops|general protection fault|Kernel panic|Bad page|bad rss-counter|KASAN|UBSAN|refcount_t|list_add corruption|list_del corruption|soft lockup|hung_task|blocked for more than|Call Trace'

case "$KERNEL_TEST" in
auto | run) ;;
skip) echo "kernel: skipped: KERNEL_TEST=skip"; exit 77 ;;
*) echo "kernel: KERNEL_TEST=$KERNEL_TEST is not one of auto, run, skip" >&2; exit 2 ;;
esac

# cannot REASON: the run cannot happen: skipped (auto) or failed (run).
cannot() {
    if [ "$KERNEL_TEST" = run ]; then
        echo "kernel: failed: $1 (KERNEL_TEST=run)"
        exit 1
    fi
    echo "kernel: skipped: $1"
    exit 77
}

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bp-kernel.XXXXXX") || exit 1
cleanup() {   # timeout(1) passes the TERM on to qemu
    [ -s "$tmp/qemu.pid" ] && kill "$(cat "$tmp/qemu.pid")" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Packages, kernel, accelerator -------------------------------------------
RESERVE_MIN=$((RESERVE + 15 + KMOD_BUDGET + BENCH_BUDGET + 60))   # for qemu
if [ $((KERNEL_BUDGET - 15)) -lt "$RESERVE_MIN" ]; then
    cannot "KERNEL_BUDGET=$KERNEL_BUDGET s is below the $((RESERVE_MIN + 15)) s a run needs"
fi
why=$(kd_packages "$tmp/apt.log") || cannot "$why"
KVER=$(kd_kernel_version) || cannot "$KVER"
KDIR=$(kd_headers "$KVER")
command -v "$QEMU" >/dev/null || cannot "$QEMU not found"
QVER=$("$QEMU" --version | awk 'NR == 1 { print $4 }')
MKFS=$(PATH=$PATH:/sbin:/usr/sbin command -v mkfs.ext4) || cannot "mkfs.ext4 not found"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
    [ -x "$b" ] && [[ "$(LC_ALL=C ldd "$b" 2>&1)" == *"not a dynamic executable"* ]] &&
        BUSYBOX=$b
done
[ -n "$BUSYBOX" ] || cannot "no statically linked busybox (busybox-static)"
if [ -z "$BPWIN_KO" ] && [ ! -f kernel/Makefile ]; then
    cannot "no kernel/Makefile: the bpwin module is not in this tree (BPWIN_KO=file boots a prebuilt one)"
fi

# KVM is used only if the guest kernel boots under it: /dev/kvm may open
# and qemu start on a host whose nested KVM hangs a Linux guest before its
# first line.  Booted without an initramfs, the kernel panics at the root
# mount within seconds where KVM works; kvm_why says why not.
KVM_PROBE=${KVM_PROBE:-20}
# The guest on the serial console, no network, no reboot: the probe and the
# run alike.
QBOOT=(-nographic -no-reboot -monitor none -serial stdio -nic none
       -kernel "/boot/vmlinuz-$KVER")
kvm_why=""
kvm_usable() {
    local out
    if ! { [ -e /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; }; then
        kvm_why="/dev/kvm cannot be opened"
        return 1
    fi
    if ! echo quit | timeout 30 "$QEMU" -accel kvm -machine none \
            -display none -nodefaults -no-user-config -monitor stdio \
            >/dev/null 2>&1; then
        kvm_why="$QEMU cannot start with -accel kvm"
        return 1
    fi
    out=$(timeout -k 5 "$KVM_PROBE" "$QEMU" -accel kvm -cpu host -m 256M \
          "${QBOOT[@]}" -append "console=ttyS0 panic=-1 loglevel=4" \
          </dev/null 2>/dev/null)
    if [[ "$out" != *"Kernel panic"* ]]; then
        kvm_why="Debian's kernel did not boot under KVM within $KVM_PROBE s"
        return 1
    fi
}
case "$KERNEL_ACCEL" in
auto) if kvm_usable; then
          ACCEL=kvm
      else
          ACCEL=tcg
          [ -e /dev/kvm ] && echo "kernel: TCG, not KVM: $kvm_why"
      fi ;;
kvm) kvm_usable || cannot "KERNEL_ACCEL=kvm but KVM cannot be used: $kvm_why"; ACCEL=kvm ;;
tcg) ACCEL=tcg ;;
*) echo "kernel: KERNEL_ACCEL=$KERNEL_ACCEL is not one of auto, kvm, tcg" >&2; exit 2 ;;
esac
ACCEL_NAME=${ACCEL^^}
SUMMARY="kernel ($QEMU $QVER, Debian kernel $KVER, $ACCEL_NAME)"

# ---- Build -------------------------------------------------------------------
mkdir -p "$OUT"
build_failed() {   # WHAT LOG
    echo "kernel: $1 failed; the end of $2:"
    tail -n 30 "$2" | sed 's/^/    /'
    echo "$SUMMARY: BUILD FAILED ($1)"
    exit 1
}

KO=$BPWIN_KO
if [ -z "$KO" ]; then
    # kernel/Makefile copies the sources to BUILD and runs kbuild there
    echo "kernel: building bpwin.ko against $KDIR"
    make -C kernel KDIR="$KDIR" BUILD="$OUT/kmod" -j"$JOBS" >"$OUT/kmod.log" 2>&1 ||
        build_failed "make -C kernel KDIR=$KDIR BUILD=build-kernel/kmod" "$OUT/kmod.log"
    KO=$OUT/kmod/bpwin.ko
    [ -f "$KO" ] || build_failed "the module build (no bpwin.ko)" "$OUT/kmod.log"
fi
[ -r "$KO" ] || cannot "BPWIN_KO=$KO is not readable"

echo "kernel: building the programs in build-kernel/user"
{ cmake -S . -B "$USER_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DBP_BUILD_EXAMPLES=OFF -DBP_BUILD_BENCH=ON &&
  cmake --build "$USER_BUILD" -j"$JOBS"; } >"$OUT/user.log" 2>&1 ||
    build_failed "the build of build-kernel/user" "$OUT/user.log"
why=$(TMPDIR=$tmp kd_ctest_list "$USER_BUILD" "$tmp/tests.txt") ||
    build_failed "$why" "$OUT/user.log"

declare -A status=()
fail() {   # NAME REASON: a failed check of the run itself
    status[$1]=FAIL
    echo "kernel: $1: failed ($2)"
}
elapsed() {   # seconds since EPOCHREALTIME value $1, one decimal
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# ---- patch-check, on the host ------------------------------------------------
if [ -f kernel/check-patches.sh ]; then
    t0=$EPOCHREALTIME
    run=(sh kernel/check-patches.sh)
    [ -x kernel/check-patches.sh ] && run=(kernel/check-patches.sh)
    TMPDIR=$tmp timeout 120 "${run[@]}" >"$tmp/patch.log" 2>&1
    rc=$?
    s=$(elapsed "$t0")
    case "$rc" in
    0) status[patch-check]=PASS; echo "kernel: patch-check: passed ($s s)" ;;
    77) status[patch-check]=SKIP
        r=$(sed -n 's/^SKIP: *//p' "$tmp/patch.log" | head -n 1)
        [ -n "$r" ] || r=$(tail -n 1 "$tmp/patch.log")
        echo "kernel: patch-check: skipped (${r:+$r; }$s s)" ;;
    *) [ "$rc" = 124 ] && r="timed out after 120 s" || r="exit $rc"
       fail patch-check "kernel/check-patches.sh: $r; $s s"
       tail -n 30 "$tmp/patch.log" | sed 's/^/    | /' ;;
    esac
fi

# ---- Time --------------------------------------------------------------------
# qemu's timeout: what is left of KERNEL_BUDGET (less 15 s to pack and to
# report), at most KERNEL_TIMEOUT
QTIMEOUT=$((KERNEL_BUDGET - SECONDS - 15))
[ "$QTIMEOUT" -gt "$KERNEL_TIMEOUT" ] && QTIMEOUT=$KERNEL_TIMEOUT
if [ "$QTIMEOUT" -lt "$RESERVE_MIN" ]; then
    why="only $QTIMEOUT s of KERNEL_BUDGET=$KERNEL_BUDGET s left for qemu, $RESERVE_MIN s needed"
    [ "${status[patch-check]:-}" = FAIL ] || cannot "$why"
    fail qemu "not run: $why"
    echo "$SUMMARY: 0 passed, 2 failed, 0 skipped"
    exit 1
fi
DEADLINE=$((QTIMEOUT - RESERVE))

# ---- The plan: what runs in the guest --------------------------------------
mkdir -p "$tmp/root/build" "$tmp/root/etc/bptest" "$tmp/root/lib/bptest" \
    "$tmp/root/bin"
plan=$tmp/root/etc/bptest/plan.sh
expect=$tmp/expect   # every result line the guest owes, in order
progs=()             # host programs to copy to /build
q() {   # single-quoted for the guest's sh
    printf "'%s'" "${1//\'/\'\\\'\'}"
}
{ echo "# written by scripts/kernel-test.sh"; echo "BP_DEADLINE=$DEADLINE"; } >"$plan"
echo insmod >"$expect"

# kmod
if [ -x "$USER_BUILD/test_kmod" ]; then
    progs+=("$USER_BUILD/test_kmod")
    echo "bp_run kmod $KMOD_BUDGET env CMOCKA_MESSAGE_OUTPUT=stdout /build/test_kmod" >>"$plan"
else
    echo "bp_result kmod FAIL 0 $(q "no test_kmod in build-kernel/user (tests/window/test_kmod.c)")" >>"$plan"
fi
echo kmod >>"$expect"

# bench-remap: kmod against rfp, mmap and linear (the ratio base) at 64,
# 1024 and 65536 slots.  The chit level maps scattered frames into the
# slots (a set of several windows' worth of pages, all in the cache); whit
# is the window hit.  Sized for TCG: 4 KiB pages, the data read through the
# page cache (the pools' warm-up; the timed ops are cache hits either way);
# at 65536 slots chit only, a 384 MiB cache (the set is 1.3 windows: 1 fix
# in 4 remaps) and 2 reps: ~80 s of the ~100.  rfp and mmap take up to a VMA
# per slot, so vm.max_map_count is raised from 65530 for them.  Then
# bench-raw/<n>: the mechanisms without the library (remap --raw) at 64,
# 1024 and 66000 slots with the stock limit of 65530.  When bpbench does
# not know kmod: --quick.
BENCH_RUNS=("64 32 64 whit,chit 3 5000"
            "1024 32 64 whit,chit 3 5000"
            "65536 384 448 chit 2 3000")
progs+=("$USER_BUILD/bpbench")
echo "BP_UNTIL=\$(awk '{ printf \"%d\", \$1 + $BENCH_BUDGET }' /proc/uptime)" >>"$plan"
BENCH_NOTE=""
if [ "$BENCH_BUDGET" -eq 0 ]; then
    echo "bp_result bench-remap SKIP 0 'KERNEL_BENCH_BUDGET=0'" >>"$plan"
    echo bench-remap >>"$expect"
elif "$USER_BUILD/bpbench" remap --help 2>&1 | grep -q kmod; then
    echo 'mmc=$(cat /proc/sys/vm/max_map_count); sysctl -qw vm.max_map_count=262144' >>"$plan"
    for r in "${BENCH_RUNS[@]}"; do
        read -r slots cache data levels reps ops <<<"$r"
        echo "bp_run -s bench-remap/$slots $BENCH_BUDGET /build/bpbench remap" \
            "--quiet --backends kmod,rfp,mmap,linear --prefault populate" \
            "--levels $levels --page-size 4096 --window-slots $slots" \
            "--cache-mb $cache --data-mb $data --reps $reps --whit-ops 20000" \
            "--ops $ops --buffered --dir \"\$TMPDIR\"" >>"$plan"
        echo "bench-remap/$slots" >>"$expect"
    done
    # The mechanisms alone (bpbench remap --raw), at the kernel's stock
    # vm.max_map_count of 65530: past it rfp and mmap stop, kmod goes on.
    echo 'sysctl -qw vm.max_map_count=65530' >>"$plan"
    if "$USER_BUILD/bpbench" remap --help 2>&1 | grep -q -- --raw; then
        for slots in 64 1024 66000; do
            echo "bp_run -s bench-raw/$slots $BENCH_BUDGET /build/bpbench remap" \
                "--raw --backends kmod,rfp,mmap --page-size 4096" \
                "--window-slots $slots --ops 5000 --reps 3 --batch 64" >>"$plan"
            echo "bench-raw/$slots" >>"$expect"
        done
    fi
    echo 'sysctl -qw vm.max_map_count="$mmc"' >>"$plan"
else
    echo "bp_run -s bench-remap $BENCH_BUDGET /build/bpbench remap --quick --quiet --dir \"\$TMPDIR\"" >>"$plan"
    echo bench-remap >>"$expect"
    BENCH_NOTE="bpbench remap has no kmod backend (its --backends list): ran --quick"
fi
echo 'BP_UNTIL=""' >>"$plan"

# suite-kmod: the ctest entries whose programs are in build-kernel/user, in
# ctest's order, in what is left before the deadline
case "$KERNEL_SUITE" in
auto) pick=all ;;
all | none) pick=$KERNEL_SUITE ;;
*) pick=",$KERNEL_SUITE," ;;
esac
nsuite=0
while IFS=$'\x1f' read -r -a f; do
    name=${f[0]} to=${f[1]%.*}
    [ "$name" = test_kmod ] && continue
    # util_init() of the tests unsets BUFPOOL_BACKEND (each case gets the
    # backend it asks for); BP_TEST_KMOD=1 puts their rfp and mmap cases on
    # kmod (tests/util_test.h).  BUFPOOL_BACKEND reaches the others.
    cmd="env BUFPOOL_BACKEND=kmod BP_TEST_KMOD=1"
    for e in $KERNEL_SUITE_ENV; do cmd+=" $(q "$e")"; done
    IFS=$'\x1e' read -r -a envs <<<"${f[2]}"
    for e in ${envs[@]+"${envs[@]}"}; do [ -n "$e" ] && cmd+=" $(q "$e")"; done
    ok=1 own=()
    for a in "${f[@]:3}"; do
        case "$a" in
        "$USER_BUILD"/*) cmd+=" $(q "/build/${a#"$USER_BUILD"/}")"; own+=("$a") ;;
        /usr/bin/sh | /bin/sh) cmd+=" sh" ;;
        /*) ok=0 ;;   # the source tree (doc_words) or another program
        *) cmd+=" $(q "$a")" ;;
        esac
    done
    [ "$ok" -eq 1 ] && [ ${#own[@]} -gt 0 ] || continue
    case "$pick" in
    all) ;;
    none) continue ;;
    *) [[ "$pick" == *",$name,"* ]] || continue ;;
    esac
    echo "suite-kmod/$name" >>"$expect"
    nsuite=$((nsuite + 1))
    slow=$(tr ' ' '\n' <<<"$TCG_SLOW" | sed -n "s/^$name://p")
    if [ "$KERNEL_SUITE" = auto ] && [ "$ACCEL" = tcg ] && [ -n "$slow" ]; then
        echo "bp_result suite-kmod/$name SKIP 0 $(q "too slow under TCG: ${slow} s here; KVM or KERNEL_SUITE=all runs it")" >>"$plan"
        continue
    fi
    [ "$to" -gt 0 ] 2>/dev/null || to=300
    echo "bp_run suite-kmod/$name $to $cmd" >>"$plan"
    progs+=("${own[@]}")
done <"$tmp/tests.txt"
# test_bpstat runs the bpstat program next to it
[ -x "$USER_BUILD/bpstat" ] && progs+=("$USER_BUILD/bpstat")
if [ "$nsuite" -eq 0 ]; then
    echo "bp_result suite-kmod SKIP 0 $(q "KERNEL_SUITE=$KERNEL_SUITE selects no program")" >>"$plan"
    echo suite-kmod >>"$expect"
fi

echo rmmod >>"$expect"

# ---- The initramfs and the disk ----------------------------------------------
root=$tmp/root
cp "$BUSYBOX" "$root/bin/busybox"
cp scripts/guest-init.sh "$root/init"
chmod 755 "$root/init" "$root/bin/busybox"
cp "$KO" "$root/bpwin.ko"
kd_modules "$KVER" "$root/lib/bptest" "${GUEST_MODULES[@]}" \
    >"$root/lib/bptest/modules" || cannot "$(cat "$root/lib/bptest/modules")"
declare -A seen=()
for p in "${progs[@]}"; do
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    dst=$root/build/${p#"$USER_BUILD"/}
    mkdir -p "${dst%/*}"
    objcopy --strip-debug "$p" "$dst" 2>/dev/null || cp "$p" "$dst"
    # shared libraries at the paths ldd resolves, and the dynamic loader
    while read -r lib; do
        [ -n "${seen[$lib]:-}" ] && continue
        seen[$lib]=1
        mkdir -p "$root${lib%/*}"
        cp -L "$lib" "$root$lib"
    done < <(ldd "$p" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
                                         $1 ~ /^\// { print $1 }')
done
(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) |
    gzip -1 >"$tmp/initrd.img" || cannot "cannot pack the initramfs"
truncate -s 4G "$tmp/disk.img" &&
    "$MKFS" -F -q "$tmp/disk.img" >"$tmp/mkfs.log" 2>&1 ||
    cannot "mkfs.ext4 failed: $(head -n 1 "$tmp/mkfs.log")"

# ---- Boot --------------------------------------------------------------------
cpu=max
[ "$ACCEL" = kvm ] && cpu=host
QARGS=(-accel "$ACCEL" -cpu "$cpu" -smp 2 -m 4G "${QBOOT[@]}"
       -initrd "$tmp/initrd.img"
       -append "console=ttyS0 panic=-1 oops=panic quiet loglevel=4"
       -drive "file=$tmp/disk.img,if=virtio,format=raw,cache=unsafe")
echo "kernel: booting $KVER under $QEMU $QVER ($ACCEL_NAME), $(du -h "$tmp/initrd.img" | cut -f1) initramfs, timeout $QTIMEOUT s"

# Read the console as it comes: each step's line, a failed step's output
# under it; the bench's output is kept for the end.
boot_at="" end_at=""
t_start=$EPOCHREALTIME
console=$tmp/console.log
exec 7>"$console"
block="" buf=()
while IFS= read -r line; do
    printf '%s\n' "$line" >&7
    case "$line" in
    "BPTEST-BOOT "*) boot_at=$EPOCHREALTIME ;;
    "BPTEST-END") end_at=$EPOCHREALTIME ;;
    "BPTEST-OUT-END") block="" ;;
    "BPTEST-OUT "*) block=${line#BPTEST-OUT }; buf=() ;;
    "| "*) [ -n "$block" ] && buf+=("${line#| }") ;;
    "BPTEST "*)
        read -r _ n st s r <<<"$line"
        status[$n]=$st
        t="$s s"
        [ "$s" = 0 ] && t=""   # reported without running
        [ -n "$r" ] && [ -n "$t" ] && t="; $t"
        case "$st" in
        PASS) echo "kernel: $n: passed ($t)" ;;
        SKIP) echo "kernel: $n: skipped ($r$t)" ;;
        *) echo "kernel: $n: failed ($r$t)" ;;
        esac
        if [ ${#buf[@]} -gt 0 ]; then
            if [[ "$n" == bench-* ]]; then
                printf '%s\n' "${buf[@]}" >"$tmp/bench.${n//\//_}"
            elif [ "$st" = FAIL ]; then
                printf '    | %s\n' "${buf[@]}"
            fi
        fi
        buf=() ;;
    esac
done < <({ timeout -k 10 "$QTIMEOUT" "$QEMU" "${QARGS[@]}" </dev/null \
               2>"$tmp/qemu.err" &
           echo $! >"$tmp/qemu.pid"
           wait $!
           rc=$?
           rm -f "$tmp/qemu.pid"
           echo "BPTEST-QEMU-EXIT $rc"; } |
         sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g; s/\r$//')
exec 7>&-
t_end=$EPOCHREALTIME
qrc=$(sed -n 's/^BPTEST-QEMU-EXIT //p' "$console" | tail -n 1)
{ cat "$console"
  [ -s "$tmp/qemu.err" ] && { echo "--- qemu stderr"; cat "$tmp/qemu.err"; }
} >"$OUT/last-run.log"

# ---- Verdict -------------------------------------------------------------------
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    fail qemu "timed out after $QTIMEOUT s: the guest hung or ran over its deadline"
elif [ "$qrc" != 0 ]; then
    fail qemu "exit ${qrc:-?}: $(head -n 1 "$tmp/qemu.err")"
fi
[ -n "$end_at" ] || fail guest "never printed BPTEST-END (crashed, hung or cut off)"
while read -r n; do
    [ -n "${status[$n]:-}" ] || fail "$n" "no result: the guest stopped before it"
done <"$expect"

# a splat in the kernel log: the dump, or the whole console when the guest
# died before it (programs' output, "| " lines, is not the kernel's)
if grep -q '^BPTEST-DMESG-END' "$console"; then
    sed -n '/^BPTEST-DMESG$/,/^BPTEST-DMESG-END$/p' "$console"
else
    grep -v -e '^| ' -e '^BPTEST' "$console"
fi | grep -E "$SPLAT" |
    grep -v 'module verification failed: signature and/or required key missing' \
    >"$tmp/splat"
if [ -s "$tmp/splat" ]; then
    fail dmesg "$(wc -l <"$tmp/splat") line(s) of kernel splat, the first: $(head -n 1 "$tmp/splat")"
    sed 's/^/    /' "$tmp/splat" | head -n 20
else
    status[dmesg]=PASS
    echo "kernel: dmesg: passed (no splat)"
fi

while read -r n; do
    out=$tmp/bench.${n//\//_}
    [ -e "$out" ] || continue
    echo
    echo "kernel: $n: bpbench remap in the guest ($ACCEL_NAME: the emulator's times, compare within a row):"
    sed 's/^/  /' "$out"
done <"$expect"
[ -n "$BENCH_NOTE" ] && echo "kernel: note: $BENCH_NOTE"
echo

np=0 nf=0 ns=0
for n in "${!status[@]}"; do
    case "${status[$n]}" in
    PASS) np=$((np + 1)) ;;
    SKIP) ns=$((ns + 1)) ;;
    *) nf=$((nf + 1)) ;;
    esac
done
awk -v a="$t_start" -v b="$boot_at" -v e="$end_at" -v z="$t_end" -v all="$SECONDS" 'BEGIN {
    printf "kernel: times: qemu %.0f s", z - a
    if (b != "") printf " (/init after %.1f s", b - a
    if (b != "" && e != "") printf ", steps %.0f s", e - b
    if (b != "") printf ")"
    printf ", %d s in all; console: build-kernel/last-run.log\n", all }'
echo "$SUMMARY: $np passed, $nf failed, $ns skipped"
[ "$nf" -eq 0 ]
