#!/bin/sh
# check_symbols.sh HEADER LIB CC [CFLAG...] - the shared library exports
# exactly the functions its public header declares: the defined dynamic
# text symbols of LIB (nm -D --defined-only, the version node and the
# @VERSION suffixes left out) against the functions HEADER declares at file
# scope (HEADER preprocessed with CC -E -P CFLAG..., function declarations
# read outside braces, typedefs and static functions left out).  Fails on
# any difference in either direction, listing it; also fails when LIB
# exports anything other than functions.  NM (default nm) is the nm to run.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: check_symbols.sh HEADER LIB CC [CFLAG...]" >&2
    exit 2
fi
header=$1
lib=$2
cc=$3
shift 3
nm=${NM:-nm}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-symbols.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

[ -r "$header" ] || { echo "FAIL: cannot read $header"; exit 1; }
[ -r "$lib" ] || { echo "FAIL: cannot read $lib (is it built?)"; exit 1; }

# The header's functions: the preprocessed text is cut at ';' and '{' at
# brace depth 0 (what is inside braces, struct members and function
# bodies, is skipped); a piece that is not a typedef or static and has a
# bp_* name followed by '(' declares that function (a function pointer's
# name is followed by ')': not taken).
"$cc" -E -P "$@" -x c "$header" >"$tmp/header.i"
awk '
function take(piece,    rest) {
    if (piece ~ /(^|[^A-Za-z0-9_])(typedef|static)([^A-Za-z0-9_]|$)/)
        return
    rest = " " piece
    if (match(rest, /[^A-Za-z0-9_]bp_[A-Za-z0-9_]*[ \t]*\(/)) {
        rest = substr(rest, RSTART + 1, RLENGTH - 1)
        sub(/[ \t]*\($/, "", rest)
        print rest
    }
}
{ text = text " " $0 }
END {
    depth = 0; piece = ""
    n = length(text)
    for (i = 1; i <= n; i++) {
        c = substr(text, i, 1)
        if (c == "{") {
            if (depth == 0) take(piece)
            depth++; piece = ""
        } else if (c == "}") {
            depth--; piece = ""
        } else if (depth == 0 && c == ";") {
            take(piece); piece = ""
        } else if (depth == 0) {
            piece = piece c
        }
    }
}' "$tmp/header.i" | sort -u >"$tmp/header.txt"

# The library's exports: every defined dynamic symbol but the version node
# (type A), by type: text (T, W, i) and anything else.
"$nm" -D --defined-only "$lib" >"$tmp/nm.txt"
awk 'NF >= 3 && $2 != "A" { n = $3; sub(/@.*/, "", n)
      print (($2 ~ /^[TWi]$/) ? "text " : "other ") n }' "$tmp/nm.txt" |
    sort -u >"$tmp/exports.txt"
sed -n 's/^text //p' "$tmp/exports.txt" >"$tmp/lib.txt"
sed -n 's/^other //p' "$tmp/exports.txt" >"$tmp/other.txt"

nh=$(wc -l <"$tmp/header.txt")
nl=$(wc -l <"$tmp/lib.txt")
fail=0
if [ "$nh" -eq 0 ]; then
    echo "FAIL: no function declarations found in $header"
    fail=1
fi
if [ "$nl" -eq 0 ]; then
    echo "FAIL: $lib exports no functions"
    fail=1
fi
comm -23 "$tmp/header.txt" "$tmp/lib.txt" >"$tmp/unexported.txt"
comm -13 "$tmp/header.txt" "$tmp/lib.txt" >"$tmp/extra.txt"
if [ -s "$tmp/unexported.txt" ]; then
    echo "FAIL: declared in $(basename "$header") but not exported by" \
         "$(basename "$lib") (add them to libbufpool/bufpool.map):"
    sed 's/^/  /' "$tmp/unexported.txt"
    fail=1
fi
if [ -s "$tmp/extra.txt" ]; then
    echo "FAIL: exported by $(basename "$lib") but not declared in" \
         "$(basename "$header") (keep them local in libbufpool/bufpool.map):"
    sed 's/^/  /' "$tmp/extra.txt"
    fail=1
fi
if [ -s "$tmp/other.txt" ]; then
    echo "FAIL: $(basename "$lib") exports symbols that are not functions:"
    sed 's/^/  /' "$tmp/other.txt"
    fail=1
fi
[ "$fail" -eq 0 ] || exit 1
echo "exported_symbols: the $nl functions $(basename "$lib") exports are" \
     "the $nh that $(basename "$header") declares"
