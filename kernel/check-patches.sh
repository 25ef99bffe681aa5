#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# check-patches.sh - check kernel/patches/ against linux-source-6.1 and
# against kernel/.
#
# usage: kernel/check-patches.sh [--regen-check]
#   (no option)    every kernel/patches/*.patch applies to linux-source-6.1
#                  (patch -p1 --dry-run, on drivers/misc/{Kconfig,Makefile})
#                  and the bpwin patch is what kernel/gen-patches.sh makes
#                  from kernel/ now (else: run kernel/gen-patches.sh)
#   --regen-check  only the second check
# Exit 0 when all hold, 1 when one does not, 77 (one line saying why) when
# linux-source-6.1 is not installed.  LINUX_SOURCE_TARBALL overrides
# /usr/src/linux-source-6.1.tar.xz.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
apply=1
case "${1:-}" in
"") ;;
--regen-check) apply=0 ;;
*) echo "usage: $0 [--regen-check]" >&2; exit 2 ;;
esac

tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
if [ ! -r "$tarball" ]; then
    echo "SKIP: $tarball not found (apt install linux-source-6.1)"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpwin-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
top=$(basename "$tarball" .tar.xz)
tar xJf "$tarball" -C "$tmp" "$top/drivers/misc/Kconfig" \
    "$top/drivers/misc/Makefile"
tree=$tmp/$top
rc=0

if [ $apply -eq 1 ]; then
    for p in "$here"/patches/*.patch; do
        if [ ! -e "$p" ]; then
            echo "FAIL: no patch in $here/patches (run kernel/gen-patches.sh)"
            exit 1
        fi
        if patch -p1 --dry-run -s -d "$tree" < "$p" > "$tmp/patch.log" \
            2>&1; then
            echo "ok: $(basename "$p") applies to $top"
        else
            echo "FAIL: $(basename "$p") does not apply to $top:"
            sed 's/^/  /' "$tmp/patch.log"
            rc=1
        fi
    done
fi

name=0001-misc-add-bpwin-window-device.patch
if ! LINUX_SRC_DIR=$tree "$here/gen-patches.sh" -o "$tmp/$name" \
    > /dev/null; then
    echo "FAIL: kernel/gen-patches.sh failed"
    exit 1
fi
if diff -u "$here/patches/$name" "$tmp/$name" > "$tmp/regen.diff" 2>&1; then
    echo "ok: $name is up to date with kernel/"
else
    echo "FAIL: $name is stale: run kernel/gen-patches.sh (diff below)"
    head -n 40 "$tmp/regen.diff" | sed 's/^/  /'
    rc=1
fi
exit $rc
