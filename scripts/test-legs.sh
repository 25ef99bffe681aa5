#!/usr/bin/env bash
# test-legs.sh - build and run the test suite in one or more legs, then print
# one summary line per leg.  Called by `make test` (all legs) and by the
# Makefile's single-leg targets.
#
#   scripts/test-legs.sh LEG...     LEG: native sync asan tsan m32 kernel
#
#   native  build/ (RelWithDebInfo), ctest as is
#   sync    the same build again with io_uring forced off (BUFPOOL_IO=sync)
#   asan    build-asan/, AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan    build-tsan/, ThreadSanitizer
#   m32     build-m32/, everything built with -m32, run as M32 says:
#             auto      natively where the kernel runs i386 programs, else
#                       under qemu-user (qemu-i386), else skipped (one line)
#             native    natively; fails where the kernel refuses i386
#             emulated  under qemu-i386 (CMAKE_CROSSCOMPILING_EMULATOR);
#                       fails without qemu-user
#             skip      not run
#           A native run also runs two programs under qemu-i386 when it is
#           installed, so the emulated path is exercised on every host.
#   kernel  scripts/kernel-test.sh: the bpwin module (kernel/), test_kmod,
#           bpbench remap and the suite on the kmod backend in Debian's
#           kernel under qemu-system-x86_64 (KVM where that kernel boots
#           under it, else TCG), with build-kernel/; its summary line becomes the leg's
#           line, its failed and skipped steps are listed under the
#           summary.  KERNEL_TEST says whether it runs:
#             auto  it installs its packages as root; without them (not
#                   root, apt-get fails), without a kernel to boot or a
#                   module source, it is skipped (one line with the reason)
#             run   those fail instead
#             skip  not run
#           It stays within 10 minutes (KERNEL_BUDGET, 600 s): the qemu
#           run is cut at what is left, steps that run over are failed.
#
# Environment: M32 (auto), KERNEL_TEST (auto), BUILD_TYPE (RelWithDebInfo),
# JOBS (2); kernel-test.sh's header lists the kernel leg's other knobs.
# Exit status: 0 when no leg failed (a skipped leg is not a failure).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

M32=${M32:-auto}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
JOBS=${JOBS:-2}
TESTS_ONLY=(-DBP_BUILD_BENCH=OFF -DBP_BUILD_EXAMPLES=OFF)
LEGDIR=build/legs
mkdir -p "$LEGDIR"

summary=()   # one line per leg
details=()   # skip reasons, printed under the summary
failed=0

configure_build() {   # DIR CMAKE-ARGS...
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" &&
        cmake --build "$dir" -j"$JOBS"
}

# count_junit FILE: prints "total failed skipped" and, one per line after
# it, the skip reasons: a whole program that exited 77 ("SKIP: why"), and
# the line a program printed before each of its skipped cases.
count_junit() {
    awk '
    function unxml(s) {
        gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s)
        gsub(/&apos;/, "\047", s); gsub(/&amp;/, "\\&", s); return s
    }
    /^[ \t]*<testcase name="/ {
        name = $0; sub(/^[^"]*"/, "", name); sub(/".*/, "", name)
        st = $0; sub(/.*status="/, "", st); sub(/".*/, "", st)
        total++; if (st == "fail") nfail++; else if (st == "notrun") nskip++
        prev = ""; cur = name; next
    }
    {
        line = $0; sub(/^[ \t]*<system-out>/, "", line); line = unxml(line)
        if (st == "notrun" && line ~ /^SKIP: / && !(cur in why)) {
            why[cur] = substr(line, 7); order[++nw] = cur
        }
        if (line ~ /^\[  SKIPPED \] [^0-9]/ && prev !~ /^\[/ && prev != "") {
            r = prev; sub(/^[ \t]+/, "", r)
            if (!(r in cases)) corder[++nc] = r
            cases[r]++
        }
        prev = line
    }
    END {
        printf "%d %d %d\n", total, nfail, nskip
        for (i = 1; i <= nw; i++)
            printf "skipped %s: %s\n", order[i], why[order[i]]
        for (i = 1; i <= nc && i <= 8; i++)
            printf "%d case(s) skipped: %s\n", cases[corder[i]], corder[i]
        if (nc > 8) printf "(%d more skip reasons in the log)\n", nc - 8
    }' "$1"
}

# run_ctest LEG HOW DIR [ENV=VAL...]: run ctest in DIR, record the leg's line.
CTEST_EXTRA=() # more ctest arguments for the next run_ctest
run_ctest() {
    local leg=$1 how=$2 dir=$3 rc counts total nfail nskip
    shift 3
    local junit=$PWD/$LEGDIR/$leg.xml
    rm -f "$junit"
    # whole outputs in the junit file (ctest keeps 1 KiB of a passed
    # test's by default), so every skipped case's reason reaches the summary
    env "$@" ctest --test-dir "$dir" --output-on-failure -j"$JOBS" \
        "${CTEST_EXTRA[@]}" \
        --test-output-size-passed 1048576 --test-output-size-failed 1048576 \
        --output-junit "$junit"
    rc=$?
    if [ ! -s "$junit" ]; then
        summary+=("$leg ($how): ctest did not run (exit $rc)")
        failed=1
        return
    fi
    mapfile -t counts < <(count_junit "$junit")
    read -r total nfail nskip <<<"${counts[0]}"
    summary+=("$leg ($how): $((total - nfail - nskip)) passed, $nfail failed, $nskip skipped")
    local l
    for l in "${counts[@]:1}"; do details+=("  $leg: $l"); done
    if [ "$rc" -ne 0 ] || [ "$nfail" -ne 0 ] || [ "$total" -eq 0 ]; then
        failed=1
    fi
}

build_failed() {   # LEG HOW
    summary+=("$1 ($2): BUILD FAILED")
    failed=1
}

leg_native() {
    configure_build build -DBP_BUILD_BENCH=ON -DBP_BUILD_EXAMPLES=ON ||
        { build_failed native "io_uring or its fallback"; return; }
    run_ctest native "engine as probed" build
}

leg_sync() {
    [ -f build/CTestTestfile.cmake ] || configure_build build ||
        { build_failed sync "BUFPOOL_IO=sync"; return; }
    # the static checks (symbols, man pages, install) ran in the native leg
    CTEST_EXTRA=(-LE static)
    run_ctest sync "io_uring forced off: BUFPOOL_IO=sync" build BUFPOOL_IO=sync
    CTEST_EXTRA=()
}

leg_asan() {
    configure_build build-asan -DBP_SANITIZE=address,undefined "${TESTS_ONLY[@]}" ||
        { build_failed asan "ASan+UBSan"; return; }
    run_ctest asan "ASan+UBSan" build-asan ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
}

leg_tsan() {
    configure_build build-tsan -DBP_SANITIZE=thread "${TESTS_ONLY[@]}" ||
        { build_failed tsan "TSan"; return; }
    run_ctest tsan "TSan" build-tsan \
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
}

# The 32-bit leg: probe, choose native / emulated / skip, run.
leg_m32() {
    local tmp native=0 qemu="" qver how emu="" smoke=""
    case "$M32" in
    auto | native | emulated) ;;
    skip)
        summary+=("32-bit: skipped (M32=skip)")
        return ;;
    *)
        summary+=("32-bit: M32=$M32 is not one of auto, native, emulated, skip")
        failed=1
        return ;;
    esac
    local need_fail=0
    [ "$M32" != auto ] && need_fail=1   # a forced path that cannot run fails
    m32_skip() {
        summary+=("32-bit: skipped: $1")
        [ "$need_fail" -eq 1 ] && { summary[-1]+=" (M32=$M32 asked for it)"; failed=1; }
    }
    if [ ! -e /usr/lib/i386-linux-gnu/libcmocka.so ]; then
        m32_skip "libcmocka-dev:i386 not installed (dpkg --add-architecture i386; apt-get install libcmocka-dev:i386)"
        return
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-m32probe.XXXXXX") || return
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    if ! printf 'int main(void) { return 0; }\n' |
        cc -m32 -x c - -o "$tmp/probe32" 2>"$tmp/cc.err"; then
        m32_skip "cc -m32 cannot build a program (install gcc-multilib): $(head -n 1 "$tmp/cc.err")"
        return
    fi
    "$tmp/probe32" 2>/dev/null && native=1
    if command -v qemu-i386 >/dev/null && qemu-i386 "$tmp/probe32"; then
        qemu=$(command -v qemu-i386)
        qver=$(qemu-i386 --version | head -n 1 | awk '{print $3}')
    fi
    case "$M32" in
    auto) if [ "$native" -eq 1 ]; then how=native
          elif [ -n "$qemu" ]; then how=emulated
          else how=none; fi ;;
    *) how=$M32 ;;
    esac
    if [ "$how" = native ] && [ "$native" -eq 0 ]; then
        m32_skip "this kernel does not run i386 programs (IA-32 emulation off: exec gives ENOEXEC)"
        return
    fi
    if [ "$how" = emulated ] && [ -z "$qemu" ]; then
        m32_skip "qemu-user is not installed (apt-get install qemu-user)"
        return
    fi
    if [ "$how" = none ]; then
        m32_skip "this kernel does not run i386 programs (IA-32 emulation off) and qemu-user is not installed: apt-get install qemu-user, or boot with ia32_emulation=1"
        return
    fi
    if [ "$how" = emulated ]; then
        emu=$qemu
        how="emulated: qemu-i386 $qver"
        [ "$native" -eq 0 ] && how+=", the kernel refuses i386 programs"
    else
        smoke=$qemu
        how="native"
        [ -n "$qemu" ] && how+=", and two programs under qemu-i386 $qver"
    fi
    # the 64-bit test_shared of the native leg runs beside the 32-bit one
    local peer=""
    [ -x build/test_shared ] && peer=$PWD/build/test_shared
    configure_build build-m32 -DBP_M32=ON \
        -DCMAKE_CROSSCOMPILING_EMULATOR="$emu" -DBP_M32_EMULATOR_SMOKE="$smoke" \
        -DBP_PEER_WORKER="$peer" ||
        { build_failed 32-bit "$how"; return; }
    run_ctest 32-bit "$how" build-m32
}

# The kernel leg: scripts/kernel-test.sh prints one line per step and ends
# with "kernel (how): N passed, N failed, N skipped", or prints one line
# "kernel: skipped: why" and exits 77.
leg_kernel() {
    local log=$PWD/$LEGDIR/kernel.log rc line how np nf ns
    scripts/kernel-test.sh 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 77 ]; then
        line=$(grep -m 1 '^kernel: skipped: ' "$log")
        summary+=("${line:-kernel: skipped (exit 77)}")
        return
    fi
    line=$(grep -E '^kernel \(.*\): ' "$log" | tail -n 1)
    local re='^kernel \((.*)\): ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$'
    if [[ "$line" =~ $re ]]; then
        how=${BASH_REMATCH[1]} np=${BASH_REMATCH[2]}
        nf=${BASH_REMATCH[3]} ns=${BASH_REMATCH[4]}
        summary+=("kernel ($how): $np passed, $nf failed, $ns skipped")
    elif [ -n "$line" ]; then
        summary+=("$line")
        nf=1
    else
        line=$(grep -m 1 '^kernel: failed: ' "$log")
        summary+=("kernel: did not finish (exit $rc)${line:+: ${line#kernel: failed: }}")
        nf=1
    fi
    # the failed steps, then the skipped ones with their reasons
    local notes
    mapfile -t notes < <({ grep -E '^kernel: [^ ]+: failed ' "$log"
                           grep -E '^kernel: [^ ]+: skipped ' "$log"; } | head -n 16)
    for line in ${notes[@]+"${notes[@]}"}; do details+=("  $line"); done
    if [ "$rc" -ne 0 ] || [ "${nf:-1}" -ne 0 ]; then
        failed=1
    fi
}

[ $# -gt 0 ] || set -- native sync asan tsan m32 kernel
for leg in "$@"; do
    case "$leg" in
    native | sync | asan | tsan | m32 | kernel)
        echo "== test leg: $leg =="
        "leg_$leg" ;;
    *)
        echo "test-legs.sh: unknown leg '$leg' (native sync asan tsan m32 kernel)" >&2
        exit 2 ;;
    esac
done

echo
echo "== test summary =="
printf '%s\n' "${summary[@]}"
[ ${#details[@]} -eq 0 ] || printf '%s\n' "${details[@]}"
exit "$failed"
