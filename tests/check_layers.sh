#!/bin/sh
# check_layers.sh SRCDIR [ARCHIVE] - the library's layers point down only.
#
# The layers, top to bottom, are the folders of SRCDIR/libbufpool:
#   api -> pool -> window -> shm -> io -> platform
# (libbufpool/README.md: "Layers").  Two checks:
#  1. Includes (always): a file in layer L includes the headers of L and
#     of the layers below it only, each as "layer/name.h"; a bare
#     "name.h" is refused except the public bufpool.h and the kernel
#     module's bpwin_uapi.h.  "layer/layer_impl.h", what a layer's files
#     share among themselves, is included by that layer's files only.
#  2. Calls (when ARCHIVE, the static library, is given): every symbol
#     an object file uses from another object file of the library is
#     defined in its own layer or a lower one, and no files call each
#     other in a circle (within a layer either).  Read with nm.
# Prints each violation and exits 1 if there is any.  NM (default nm).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: check_layers.sh SRCDIR [ARCHIVE]" >&2
    exit 2
fi
src=$1/libbufpool
ar=${2:-}
nm=${NM:-nm}
layers="platform io shm window pool api"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# rank of each layer, and the layer of each source file (by base name)
r=0
for l in $layers; do
    [ -d "$src/$l" ] || { echo "FAIL: no folder libbufpool/$l"; exit 1; }
    echo "$l $r" >>"$tmp/ranks"
    for f in "$src/$l"/*.[ch]; do
        [ -e "$f" ] && echo "$(basename "$f") $l" >>"$tmp/files"
    done
    r=$((r + 1))
done
for f in "$src"/*.[ch]; do
    [ -e "$f" ] && { echo "FAIL: libbufpool/$(basename "$f") is in no layer"; \
                     exit 1; }
done

# 1. includes
fail=0
for l in $layers; do
    for f in "$src/$l"/*.[ch]; do
        [ -e "$f" ] || continue
        sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f" |
        while read -r inc; do
            echo "$l/$(basename "$f") $l $inc"
        done
    done
done >"$tmp/includes"
awk -v ranks="$tmp/ranks" '
BEGIN { while ((getline line < ranks) > 0) { split(line, a, " ");
                                                rank[a[1]] = a[2] } }
{
    file = $1; layer = $2; inc = $3
    if (inc == "bufpool.h" || inc == "bpwin_uapi.h")
        next
    n = split(inc, part, "/")
    if (n != 2 || !(part[1] in rank)) {
        printf "FAIL: %s includes \"%s\": not \"layer/name.h\"\n", file, inc
        bad = 1
        next
    }
    if (part[2] ~ /_impl\.h$/ && part[1] != layer) {
        printf "FAIL: %s (layer %s) includes %s, private to layer %s\n",
               file, layer, inc, part[1]
        bad = 1
        next
    }
    if (rank[part[1]] > rank[layer]) {
        printf "FAIL: %s (layer %s) includes %s of the higher layer %s\n",
               file, layer, inc, part[1]
        bad = 1
    }
}
END { exit bad }' "$tmp/includes" || fail=1

# 2. calls between object files
if [ -n "$ar" ]; then
    [ -r "$ar" ] || { echo "FAIL: cannot read $ar (is it built?)"; exit 1; }
    "$nm" -A "$ar" >"$tmp/nm" 2>/dev/null
    awk -v ranks="$tmp/ranks" -v files="$tmp/files" '
    BEGIN {
        while ((getline line < ranks) > 0) { split(line, a, " ");
                                             rank[a[1]] = a[2] }
        while ((getline line < files) > 0) { split(line, a, " ");
                                             layer[a[1]] = a[2] }
    }
    {
        # archive:member.c.o:[value] type name
        split($1, w, ":"); obj = w[2]; sub(/\.o$/, "", obj)
        if (!(obj in layer) || NF != 3) next
        if ($2 ~ /^[TDBRV]$/) def[$3] = obj
        else if ($2 == "U") { nu++; uobj[nu] = obj; usym[nu] = $3 }
    }
    function visit(v,    k) {
        state[v] = 1; path[++depth] = v
        for (k = 1; k <= ne; k++) {
            if (efrom[k] != v) continue
            if (state[eto[k]] == 1) {
                cyc = ""
                for (j = depth; j >= 1; j--) { cyc = path[j] " -> " cyc
                                                if (path[j] == eto[k]) break }
                printf "FAIL: files call each other in a circle: %s%s\n",
                       cyc, eto[k]
                bad = 1
            } else if (state[eto[k]] == 0)
                visit(eto[k])
        }
        depth--; state[v] = 2
    }
    END {
        for (i = 1; i <= nu; i++) {
            s = usym[i]; from = uobj[i]
            if (!(s in def) || def[s] == from) continue
            to = def[s]
            if (rank[layer[to]] > rank[layer[from]])
                printf "FAIL: %s (layer %s) calls %s in %s (layer %s)\n",
                       from, layer[from], s, to, layer[to]
            if (rank[layer[to]] > rank[layer[from]]) bad = 1
            if (!((from, to) in seen)) { seen[from, to] = 1; ne++
                                         efrom[ne] = from; eto[ne] = to }
            nodes[from] = 1; nodes[to] = 1
        }
        for (v in nodes) if (!state[v]) visit(v)
        exit bad
    }' "$tmp/nm" || fail=1
fi

if [ "$fail" -ne 0 ]; then
    echo "layers: FAIL (libbufpool/README.md, \"Layers\", gives the rules)"
    exit 1
fi
echo "layers: ok ($(wc -l <"$tmp/files") files in $(echo $layers | wc -w) layers)"
