#!/bin/sh
# check_bench_json.sh - bpbench's machine-readable results: runs `bpbench
# hit`, `io`, `kv`, `sqlite` and `cachesim` at small sizes with --json
# and --csv (and --output), validates every JSON file with `cmake -P`
# (string(JSON): schema "bpbench/1", a non-empty results array,
# machine.cores > 0, each latency entry with p50 <= p90 <= p99 <= p999 <=
# max), checks that every CSV file has a header line and rows, checks the
# bounds any cachesim replay obeys, and runs `bpbench compare` on two
# results when bpbench has it.
#
# usage: check_bench_json.sh BPBENCH [CMAKE]
#   BPBENCH  the bpbench program (exit 77, skipped, when it is missing)
#   CMAKE    the cmake program (default: $CMAKE_COMMAND, else cmake)
# Exit status: 0 passed, 1 failed, 77 skipped.  Work files go to a fresh
# directory under $TMPDIR (or /tmp), removed at exit; the data files of
# the runs go under /var/tmp (bpbench's default: O_DIRECT needs a disk).
set -u

bp=${1:-}
cmake=${2:-${CMAKE_COMMAND:-cmake}}
if [ -z "$bp" ] || [ ! -x "$bp" ]; then
    echo "check_bench_json: no bpbench program at '$bp': skipped"
    exit 77
fi
if ! "$cmake" --version >/dev/null 2>&1; then
    echo "check_bench_json: no cmake ('$cmake') to read JSON with: skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_bench_json.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

fail=0
bad() {
    echo "check_bench_json: FAIL: $*"
    fail=1
}

# The checker, run as cmake -DF=<json> -DLAT=<1: a latency entry needed>
# -P check.cmake.
cat >"$tmp/check.cmake" <<'EOF'
cmake_minimum_required(VERSION 3.19)
file(READ "${F}" j)
string(JSON schema ERROR_VARIABLE err GET "${j}" schema)
if(err OR NOT schema STREQUAL "bpbench/1")
  message(FATAL_ERROR "${F}: schema is '${schema}', not bpbench/1 ${err}")
endif()
string(JSON cores ERROR_VARIABLE err GET "${j}" machine cores)
if(err OR NOT cores GREATER 0)
  message(FATAL_ERROR "${F}: machine.cores is '${cores}' ${err}")
endif()
string(JSON n ERROR_VARIABLE err LENGTH "${j}" results)
if(err OR NOT n GREATER 0)
  message(FATAL_ERROR "${F}: no results ${err}")
endif()
set(nlat 0)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON nk LENGTH "${j}" results ${i} latency_ns)
  if(nk GREATER 0)
    math(EXPR lk "${nk} - 1")
    foreach(k RANGE ${lk})
      string(JSON kind MEMBER "${j}" results ${i} latency_ns ${k})
      set(prev 0)
      foreach(p p50 p90 p99 p999 max)
        string(JSON v ERROR_VARIABLE err
               GET "${j}" results ${i} latency_ns ${kind} ${p})
        if(err OR v LESS prev)
          message(FATAL_ERROR
                  "${F}: result ${i}, ${kind}: ${p} = '${v}' below ${prev}")
        endif()
        set(prev ${v})
      endforeach()
      math(EXPR nlat "${nlat} + 1")
    endforeach()
  endif()
endforeach()
if(LAT AND nlat EQUAL 0)
  message(FATAL_ERROR "${F}: no latency entry in ${n} results")
endif()
message(STATUS "${F}: ${n} results, ${nlat} latency entries")
EOF

check_json() { # file need-latency
    if [ ! -s "$1" ]; then
        bad "$1 missing or empty"
    elif ! "$cmake" -DF="$1" -DLAT="$2" -P "$tmp/check.cmake"; then
        bad "$1 does not hold"
    fi
}

check_csv() { # file
    if [ ! -s "$1" ]; then
        bad "$1 missing or empty"
        return
    fi
    head -n 1 "$1" | grep -q '^table,' || bad "$1: no header line"
    rows=$(grep -c -v -e '^table,' -e '^$' "$1")
    [ "$rows" -gt 0 ] || bad "$1: no rows"
}

run() { # name command...
    name=$1
    shift
    start=$(date +%s)
    if ! "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
        bad "$name: exit status $? of: $*"
        tail -n 5 "$tmp/$name.err"
        return 1
    fi
    echo "check_bench_json: $name ran in $(($(date +%s) - start)) s"
}

run hit "$bp" hit --quick --ops 20000 --lat-ops 5000 --reps 1 --window 64 \
    --backend rfp,linear --quiet --json "$tmp/hit.json" \
    --csv "$tmp/hit.csv" && {
    check_json "$tmp/hit.json" 1
    check_csv "$tmp/hit.csv"
}
run hit2 "$bp" hit --quick --ops 20000 --lat-ops 5000 --reps 1 --window 64 \
    --backend rfp,linear --quiet --output "$tmp/hit2.json" &&
    check_json "$tmp/hit2.json" 1

run io "$bp" io --quick --data-mb 16 --pool-size 4m --duration 1 \
    --page-size 4096 --depths 1,4 --backend auto --write-pages 64 --reps 1 \
    --quiet --json "$tmp/io.json" --output "$tmp/io.csv" && {
    check_json "$tmp/io.json" 1
    check_csv "$tmp/io.csv"
}

if "$bp" kv --help >/dev/null 2>&1; then
    run kv "$bp" kv --records 2000 --duration 1 --threads 1 \
        --engines auto,lmdb --out "$tmp/kv-out" --quiet \
        --json "$tmp/kv.json" --csv "$tmp/kv.csv" && {
        check_json "$tmp/kv.json" 1
        check_csv "$tmp/kv.csv"
    }
else
    echo "check_bench_json: bpbench has no kv subcommand: kv skipped"
fi

if "$bp" sqlite --help >/dev/null 2>&1; then
    run sqlite "$bp" sqlite --quick --rows 20000 --mem-rows 5000 \
        --duration 0.1 --quiet --json "$tmp/sqlite.json" \
        --csv "$tmp/sqlite.csv" && {
        check_json "$tmp/sqlite.json" 1
        check_csv "$tmp/sqlite.csv"
    }
else
    echo "check_bench_json: bpbench has no sqlite subcommand: skipped"
fi

# cachesim: besides the files, what must hold of any replay: 7 policies
# on 2 cache sizes, Belady's MIN misses no more than any policy, and the
# LFU in hindsight (the best fixed set for the measured draws) no more
# than the LFU of known popularity (a fixed set too).
run cachesim "$bp" cachesim --records 50000 --memory 1m --ops 300000 \
    --json "$tmp/cachesim.json" --csv "$tmp/cachesim.csv" && {
    check_json "$tmp/cachesim.json" 0
    check_csv "$tmp/cachesim.csv"
    awk -F, '$1 == "cachesim" {
            n++; m[$3 "," $2] = $5 + 0; c[$3] = 1
        }
        END {
            if (n != 14) { print "rows: " n ", not 14"; bad = 1 }
            for (k in c) {
                for (q in m) {
                    split(q, f, ",")
                    if (f[1] == k && m[k ",min"] > m[q]) {
                        print k ": min above " f[2]; bad = 1
                    }
                }
                if (m[k ",lfu-hindsight"] > m[k ",lfu-known"]) {
                    print k ": hindsight above known"; bad = 1
                }
            }
            exit bad
        }' "$tmp/cachesim.csv" || bad "cachesim: a bound does not hold"
}

if "$bp" compare --help >/dev/null 2>&1; then
    if [ -s "$tmp/hit.json" ] && [ -s "$tmp/hit2.json" ]; then
        run compare "$bp" compare "$tmp/hit.json" "$tmp/hit2.json" ||
            bad "bpbench compare of two hit runs"
    fi
else
    echo "check_bench_json: bpbench has no compare subcommand: skipped"
fi

[ "$fail" -eq 0 ] && echo "check_bench_json: passed"
exit "$fail"
