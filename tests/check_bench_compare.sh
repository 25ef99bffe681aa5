#!/bin/sh
# check_bench_compare.sh BPBENCH - `bpbench compare` on two hand-made
# bpbench/1 files: the B/A ratio lines, a metric missing or zero in A, the
# latency percentiles, the results only in one run, the options that
# differ, --metric and --csv; and the refusals: a file that is not JSON,
# a truncated one, a schema other than bpbench/1, runs of different
# subcommands without --force, a usage error.
# Exit 77 (skipped) when BPBENCH is not an executable with a compare
# subcommand (`BPBENCH compare --help` fails or does not describe it).
bp=$1
if [ -z "$bp" ] || [ ! -x "$bp" ]; then
    echo "SKIP: '${bp}' is not an executable bpbench"
    exit 77
fi
help=$("$bp" compare --help 2>&1) || help=
case $help in
*compare*) ;;
*)
    echo "SKIP: $bp has no compare subcommand"
    exit 77
    ;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/check_bench_compare.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' HUP INT TERM

fails=0
checks=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# run NAME ARGS...: runs `bpbench compare ARGS`, output in $dir/NAME.out
# and $dir/NAME.err, exit status in $rc.
run() {
    name=$1
    shift
    "$bp" compare "$@" >"$dir/$name.out" 2>"$dir/$name.err"
    rc=$?
}

# expect_line NAME ERE: a line of $dir/NAME.out matches ERE.
expect_line() {
    checks=$((checks + 1))
    grep -Eq -- "$2" "$dir/$1.out" ||
        fail "$1: no line matching '$2' in:
$(cat "$dir/$1.out" "$dir/$1.err")"
}

# expect_no_line NAME ERE: no line of $dir/NAME.out matches ERE.
expect_no_line() {
    checks=$((checks + 1))
    if grep -Eq -- "$2" "$dir/$1.out"; then
        fail "$1: a line matches '$2' in:
$(cat "$dir/$1.out")"
    fi
}

# expect_refused NAME ERE: exit status 1 and exactly one line on stderr,
# matching ERE.
expect_refused() {
    checks=$((checks + 1))
    if [ "$rc" -ne 1 ]; then
        fail "$1: exit status $rc, 1 expected"
    elif [ "$(wc -l <"$dir/$1.err")" -ne 1 ] ||
        ! grep -Eq -- "$2" "$dir/$1.err"; then
        fail "$1: stderr is not one line matching '$2':
$(cat "$dir/$1.err")"
    fi
}

expect_rc() {
    checks=$((checks + 1))
    [ "$rc" -eq "$2" ] ||
        fail "$1: exit status $rc, $2 expected:
$(cat "$dir/$1.err")"
}

cat >"$dir/a.json" <<'EOF'
{"schema": "bpbench/1",
 "bpbench": {"version": "1.0.0", "subcommand": "hit",
             "argv": ["bpbench", "hit", "--threads", "1"],
             "started": "2026-01-02T03:04:05Z", "seconds": 12.5},
 "machine": {"kernel": "Linux 6.1.0 x86_64", "cpu": "Test CPU A",
             "cores": 2, "memory_bytes": 8589934592, "hostname": "ha"},
 "options": {"threads": 1, "backend": "all", "seed": 7},
 "results": [
  {"table": "hit", "labels": {"backend": "mmap", "threads": 1},
   "metrics": {"ops_per_s": 100, "ns_per_op": 20, "misses": 0},
   "latency_ns": {"fix": {"count": 1000, "mean": 55.5, "p50": 40,
                          "p90": 60, "p99": 100, "p999": 400,
                          "max": 5000}}},
  {"table": "hit", "labels": {"backend": "kmod", "threads": 1},
   "metrics": {"ops_per_s": 200}},
  {"table": "hit", "labels": {"backend": "gone", "threads": 1},
   "metrics": {"ops_per_s": 300}}
 ]}
EOF

# Labels in another order, a result only in B, other option values.
cat >"$dir/b.json" <<'EOF'
{"schema": "bpbench/1",
 "bpbench": {"version": "1.0.0", "subcommand": "hit",
             "argv": ["bpbench", "hit", "--threads", "4"],
             "started": "2026-01-03T03:04:05Z", "seconds": 13},
 "machine": {"kernel": "Linux 6.1.0 x86_64", "cpu": "Test CPU B",
             "cores": 4, "memory_bytes": 17179869184, "hostname": "hb"},
 "options": {"threads": 4, "backend": "all", "quick": "yes"},
 "results": [
  {"table": "hit", "labels": {"threads": 1, "backend": "mmap"},
   "metrics": {"ops_per_s": 150, "ns_per_op": 10, "misses": 3},
   "latency_ns": {"fix": {"count": 1000, "mean": 44.4, "p50": 30,
                          "p90": 50, "p99": 80, "p999": 300,
                          "max": 6000}}},
  {"table": "hit", "labels": {"backend": "kmod", "threads": 1},
   "metrics": {"ops_per_s": 190}},
  {"table": "hit", "labels": {"backend": "new", "threads": 1},
   "metrics": {"ops_per_s": 1}}
 ]}
EOF

# ---- the comparison ----
run cmp "$dir/a.json" "$dir/b.json" --csv "$dir/cmp.csv"
expect_rc cmp 0
m='^hit +backend=mmap threads=1 +'
expect_line cmp "${m}ops_per_s +100 +150 +1\\.50x\$"
expect_line cmp "${m}ns_per_op +20 +10 +0\\.50x\$"
expect_line cmp "${m}misses +0 +3 +-\$"
expect_line cmp "${m}fix_p50_ns +40 +30 +0\\.75x\$"
expect_line cmp "${m}fix_p99_ns +100 +80 +0\\.80x\$"
expect_line cmp "${m}fix_p999_ns +400 +300 +0\\.75x\$"
expect_line cmp "${m}fix_max_ns +5000 +6000 +1\\.20x\$"
expect_line cmp '^hit +backend=kmod threads=1 +ops_per_s +200 +190 +0\.95x$'
expect_line cmp '^only in A: +hit +backend=gone threads=1$'
expect_line cmp '^only in B: +hit +backend=new threads=1$'
expect_no_line cmp '^hit +backend=(gone|new) '
expect_line cmp '^subcommand +hit +hit$'
expect_line cmp '^cpu +Test CPU A +Test CPU B$'
expect_line cmp '^cores +2 +4$'
expect_line cmp '^memory +8\.0 GiB +16\.0 GiB$'
expect_line cmp '^options that differ:'
expect_line cmp '^  threads +1 +4$'
expect_line cmp '^  seed +7 +-$'
expect_line cmp '^  quick +- +yes$'
expect_no_line cmp '^  backend '

checks=$((checks + 1))
grep -qx 'hit,backend=mmap threads=1,ops_per_s,100,150,1.5' \
    "$dir/cmp.csv" 2>/dev/null ||
    fail "--csv: no ops_per_s line in:
$(cat "$dir/cmp.csv")"

run metric "$dir/a.json" "$dir/b.json" --metric ops_per_s
expect_rc metric 0
expect_line metric "${m}ops_per_s +100 +150 +1\\.50x\$"
expect_no_line metric 'ns_per_op|fix_p50_ns'

# ---- refusals ----
printf 'this is not JSON\n' >"$dir/garbage.json"
run garbage "$dir/a.json" "$dir/garbage.json"
expect_refused garbage 'garbage\.json: invalid JSON at byte 0'

head -c 200 "$dir/b.json" >"$dir/short.json"
run short "$dir/a.json" "$dir/short.json"
expect_refused short 'short\.json: invalid JSON at byte [0-9]+'

run missing "$dir/a.json" "$dir/none.json"
expect_refused missing 'none\.json: '

sed 's#"bpbench/1"#"bpbench/2"#' "$dir/b.json" >"$dir/schema2.json"
run schema "$dir/a.json" "$dir/schema2.json"
expect_refused schema 'schema2\.json: schema is "bpbench/2", not "bpbench/1"'

sed 's#"subcommand": "hit"#"subcommand": "io"#' "$dir/b.json" >"$dir/io.json"
run othersub "$dir/a.json" "$dir/io.json"
expect_refused othersub "'hit'.*'io'.*--force"
run force "$dir/a.json" "$dir/io.json" --force
expect_rc force 0
expect_line force "${m}ops_per_s +100 +150 +1\\.50x\$"

run usage "$dir/a.json"
expect_rc usage 2

if [ "$fails" -ne 0 ]; then
    echo "$fails of $checks checks failed"
    exit 1
fi
echo "bpbench compare: $checks checks passed"
