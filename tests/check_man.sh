#!/bin/sh
# check_man.sh SRCDIR MANDIR LIB [SKIP] - every exported function has a man
# page and every built man page renders cleanly:
#   1. the exported functions, the global list of libbufpool/bufpool.map and
#      the defined dynamic text symbols of LIB (nm -D --defined-only), are
#      the same two lists;
#   2. each has SRCDIR/man/<function>.3.scd, and man/bufpool.7.scd is there,
#      with bpbench.1.scd and bpstat.1.scd when those programs have sources;
#   3. each man/<name>.<section>.scd is built into MANDIR/<name>.<section>;
#   4. each built page renders with `man --warnings -l` at MANWIDTH=80 with
#      nothing on stderr.
# Lists what is missing or wrong and fails.  SKIP, when not empty, is why
# the pages were not built (CMakeLists.txt): exit 77 with it.  Exit 77 also
# without man (man-db).  NM (default nm) is the nm to run.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: check_man.sh SRCDIR MANDIR LIB [SKIP]" >&2
    exit 2
fi
src=$1
mandir=$2
lib=$3
skip=${4:-}
nm=${NM:-nm}

if [ -n "$skip" ]; then
    echo "SKIP: $skip"
    exit 77
fi
if ! command -v man >/dev/null 2>&1; then
    echo "SKIP: man is not installed (apt-get install man-db)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
fail=0

# 1. bufpool.map's global list and the library's exports agree.
map=$src/libbufpool/bufpool.map
[ -r "$lib" ] || { echo "FAIL: cannot read $lib (is it built?)"; exit 1; }
sed -e 's,/\*.*\*/,,' "$map" | awk '
    /^[ \t]*global:/ { on = 1; next }
    /^[ \t]*local:/ { on = 0 }
    on && /^[ \t]*[A-Za-z_][A-Za-z0-9_]*;/ {
        s = $1; sub(/;.*/, "", s); print s }' | sort -u >"$tmp/map.txt"
"$nm" -D --defined-only "$lib" |
    awk 'NF >= 3 && $2 ~ /^[TWi]$/ { n = $3; sub(/@.*/, "", n); print n }' |
    sort -u >"$tmp/lib.txt"
nfn=$(wc -l <"$tmp/map.txt")
if [ "$nfn" -eq 0 ]; then
    echo "FAIL: no global symbols in $map"
    fail=1
fi
if ! cmp -s "$tmp/map.txt" "$tmp/lib.txt"; then
    echo "FAIL: bufpool.map's global list and $(basename "$lib")'s exports" \
         "differ (< only in the map, > only in the library):"
    diff "$tmp/map.txt" "$tmp/lib.txt" | grep '^[<>]' | sed 's/^/  /'
    fail=1
fi

# 2. A page source for every exported function, the overview, the programs.
: >"$tmp/missing.txt"
while read -r fn; do
    [ -f "$src/man/$fn.3.scd" ] || echo "man/$fn.3.scd" >>"$tmp/missing.txt"
done <"$tmp/map.txt"
[ -f "$src/man/bufpool.7.scd" ] || echo "man/bufpool.7.scd" >>"$tmp/missing.txt"
if [ -f "$src/bench/bpbench.c" ] && [ ! -f "$src/man/bpbench.1.scd" ]; then
    echo "man/bpbench.1.scd" >>"$tmp/missing.txt"
fi
if [ -f "$src/tools/bpstat.c" ] && [ ! -f "$src/man/bpstat.1.scd" ]; then
    echo "man/bpstat.1.scd" >>"$tmp/missing.txt"
fi
if [ -s "$tmp/missing.txt" ]; then
    echo "FAIL: $(wc -l <"$tmp/missing.txt") man page sources missing" \
         "(one for each exported function, bufpool(7) and the programs):"
    sed 's/^/  /' "$tmp/missing.txt"
    fail=1
fi

# 3. and 4. Every source built, every built page rendered without a warning.
npages=0
for scd in "$src"/man/*.scd; do
    [ -e "$scd" ] || continue
    page=$(basename "$scd" .scd)
    case "$page" in
    *.[1-9]) ;;
    *)
        echo "FAIL: man/$page.scd: the name must end in .<section>.scd"
        fail=1
        continue ;;
    esac
    if [ ! -f "$mandir/$page" ]; then
        echo "FAIL: man/$page.scd is not built into $mandir/$page" \
             "(build the man target)"
        fail=1
        continue
    fi
    if [ -n "$(find "$scd" -newer "$mandir/$page")" ]; then
        echo "FAIL: $mandir/$page is older than man/$page.scd" \
             "(build the man target)"
        fail=1
        continue
    fi
    rc=0
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$mandir/$page" \
        >/dev/null 2>"$tmp/err" || rc=$?
    if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
        echo "FAIL: man --warnings -l $page (exit $rc):"
        head -n 20 "$tmp/err" | sed 's/^/  /'
        fail=1
        continue
    fi
    npages=$((npages + 1))
done
[ "$fail" -eq 0 ] || exit 1
if [ "$npages" -eq 0 ]; then
    echo "FAIL: no man page was rendered"
    exit 1
fi
echo "man_pages: the $nfn exported functions (bufpool.map and" \
     "$(basename "$lib") agree) each have man/<function>.3.scd;" \
     "$npages built pages render with man --warnings -l at 80 columns" \
     "without a warning"
