#!/bin/sh
# check_bpstat_live.sh BPBENCH BPSTAT - bpstat watches a cache that bpbench,
# another process, is using: `bpbench share` runs its processes on a shared
# cache (/dev/shm/bpbench.<pid>.<n>) while this script finds the cache and
# checks that bpstat's totals, rates, process list and frame table show it
# at work (fixes per second above 0, at least one attached process, frames
# holding pages).  Exact agreement with a process's own bp_stats_get is
# tests/tools/test_bpstat.c's part.
# Exit 77 (skipped) when either program is missing.
set -u
bench=${1:-}
stat=${2:-}
[ -x "$bench" ] || { echo "SKIP: bpbench not built ($bench)"; exit 77; }
[ -x "$stat" ] || { echo "SKIP: bpstat not built ($stat)"; exit 77; }

out=$(mktemp -d "${TMPDIR:-/var/tmp}/bp-bpstat-live.XXXXXX") || exit 1
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
    rm -rf "$out"
}
trap cleanup EXIT INT TERM

TMPDIR=$out "$bench" share --records 500000 --ops 3000000 --reps 1 \
    --workload hit --procs 1 --dir "$out" > "$out/bench.log" 2>&1 &
bpid=$!

# A bpbench cache with a process attached: tried until bpbench ends.
seen=0
while kill -0 "$bpid" 2>/dev/null; do
    for f in /dev/shm/bpbench.*; do
        [ -e "$f" ] || continue
        n=${f#/dev/shm/}
        # only bpbench's own: bpbench.<pid>.<n>, pid bpbench or its child
        p=${n#bpbench.}
        p=${p%%.*}
        [ "$p" = "$bpid" ] ||
            [ "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" = "$bpid" ] ||
            continue
        "$stat" --json "$n" > "$out/t.json" 2>/dev/null || continue
        grep -q '"procs":[1-9]' "$out/t.json" || continue
        "$stat" --json "$n" 0.2 5 > "$out/rates.json" 2>&1 || continue
        "$stat" --processes --csv "$n" > "$out/procs.csv" 2>&1 || continue
        "$stat" --frames --csv "$n" > "$out/frames.csv" 2>&1 || continue
        if grep -q '"fixes_per_s":[1-9]' "$out/rates.json" &&
            [ "$(wc -l < "$out/procs.csv")" -ge 2 ] &&
            [ "$(wc -l < "$out/frames.csv")" -ge 2 ]; then
            seen=1
            break 2
        fi
    done
    sleep 0.1
done
if [ "$seen" -ne 1 ]; then
    echo "FAIL: bpstat never showed a bpbench cache at work"
    for f in t.json rates.json procs.csv bench.log; do
        [ -f "$out/$f" ] && { echo "--- $f"; head -20 "$out/$f"; }
    done
    exit 1
fi
wait "$bpid"
rc=$?
bpid=
if [ "$rc" -ne 0 ]; then
    echo "FAIL: bpbench share exited $rc"
    tail -20 "$out/bench.log"
    exit 1
fi
echo "bpstat watched bpbench's cache $n:"
cat "$out/rates.json"
echo "processes: $(($(wc -l < "$out/procs.csv") - 1)), frames listed:" \
    "$(($(wc -l < "$out/frames.csv") - 1))"
