#!/usr/bin/env bash
# install-deps.sh - install the Debian packages libbufpool needs to build,
# test and benchmark, and to build and check its man pages (scdoc; man-db
# gives man, whose `man -l` renders them).  Installs only what is missing;
# when nothing is missing it prints one line and does nothing else.  It
# never asks for a password: apt-get directly as root, sudo only where
# `sudo -n` works without a prompt; otherwise it prints the apt-get command
# to run and fails only if a required package is missing.  Optional
# packages never make it fail: fio (bpbench io's reference), gnuplot-nox
# (plots), qemu-user (the 32-bit tests where the kernel refuses i386
# programs) and the i386 cmocka (the 32-bit tests); what needs them says
# "skipped: ... not installed".
set -euo pipefail

REQUIRED=(cmake gcc make gcc-multilib pkg-config liburing-dev libcmocka-dev
          liblmdb-dev libjemalloc-dev libsqlite3-dev scdoc man-db)
OPTIONAL=(fio gnuplot-nox qemu-user libcmocka-dev:i386)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing() {   # print the arguments that are not installed
    local p
    for p in "$@"; do installed "$p" || echo "$p"; done
}

retry() {     # retry CMD...: up to 3 tries, 5 s apart
    local i
    for i in 1 2 3; do
        if "$@"; then return 0; fi
        if [ "$i" -lt 3 ]; then echo "install-deps: try $i failed: $*" >&2; sleep 5; fi
    done
    return 1
}

mapfile -t need < <(missing "${REQUIRED[@]}")
mapfile -t want < <(missing "${OPTIONAL[@]}")
if [ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: missing: ${need[*]} ${want[*]}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        cmd="apt-get install"
        [[ " ${want[*]} " == *":i386 "* ]] && cmd="dpkg --add-architecture i386 && apt-get update && $cmd"
        echo "install-deps: not root and sudo needs a password; as root run:" >&2
        echo "  $cmd ${need[*]} ${want[*]}" >&2
        if [ ${#need[@]} -gt 0 ]; then
            echo "install-deps: error: required packages missing: ${need[*]}" >&2
            exit 1
        fi
        echo "install-deps: only optional packages are missing; continuing" >&2
        exit 0
    fi
fi
APT_INSTALL=($SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y
             --no-install-recommends)

if [[ " ${want[*]} " == *":i386 "* ]] &&
   ! dpkg --print-foreign-architectures | grep -qx i386; then
    $SUDO dpkg --add-architecture i386 ||
        echo "install-deps: warning: cannot add the i386 architecture" >&2
fi

# A mirror caught mid-sync makes update exit non-zero although the main index
# is fine; the install below tells whether the indexes are good enough.
retry $SUDO apt-get update ||
    echo "install-deps: warning: apt-get update failed; trying the install anyway" >&2

if [ ${#need[@]} -gt 0 ] && ! retry "${APT_INSTALL[@]}" "${need[@]}"; then
    echo "install-deps: error: could not install required packages: ${need[*]}" >&2
    exit 1
fi
for p in ${want[@]+"${want[@]}"}; do
    if ! retry "${APT_INSTALL[@]}" "$p"; then
        why="continuing"
        [ "$p" = libcmocka-dev:i386 ] && why="the 32-bit tests will be skipped"
        [ "$p" = qemu-user ] && why="the 32-bit tests need a kernel that runs i386 programs"
        echo "install-deps: warning: optional package $p not installed; $why" >&2
    fi
done
