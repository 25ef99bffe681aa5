#!/bin/sh
# check_install.sh SRCDIR BUILDDIR VERSION LIBDIR MANDIR [M32] [SANITIZE] -
# the installed library is usable from outside the tree.  Installs BUILDDIR
# (cmake --install) into a fresh prefix in a temporary directory, checks
# the installed files (header, libbufpool.so with its soname and links,
# libbufpool.a, bufpool.pc, the CMake package, the programs and man pages
# BUILDDIR has), then builds examples/hello.c four ways outside the tree:
# with `cc $(pkg-config --cflags --libs bufpool)`, with libbufpool.a and
# `pkg-config --static --libs bufpool`, and as a CMake project with
# find_package(bufpool) linking bufpool::bufpool (the shared library) and
# bufpool::bufpool_static; checks that the shared builds load the
# installed libbufpool.so, and runs each on a data file in the temporary
# directory.  Everything is removed at exit.  LIBDIR and MANDIR are
# CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_MANDIR.  Exit 77 in a 32-bit
# (M32 true) or sanitizer build.  Environment: CMAKE (cmake), CC (cc), and
# TMPDIR (default /var/tmp: the data files need O_DIRECT).
set -eu
if [ $# -lt 5 ]; then
    echo "usage: check_install.sh SRCDIR BUILDDIR VERSION LIBDIR MANDIR" \
         "[M32] [SANITIZE]" >&2
    exit 2
fi
src=$1
build=$2
version=$3
libdir=$4
mandir=$5
m32=${6:-}
sanitize=${7:-}
cmake=${CMAKE:-cmake}
cc=${CC:-cc}

case "$m32" in
1 | ON | On | on | TRUE | True | true | YES | Yes | yes | Y | y)
    echo "SKIP: a 32-bit build (BP_M32): the install test runs in a" \
         "64-bit build"
    exit 77 ;;
esac
if [ -n "$sanitize" ]; then
    echo "SKIP: a sanitizer build (BP_SANITIZE=$sanitize): the install" \
         "test runs in a build without sanitizers"
    exit 77
fi
for tool in "$cmake" "$cc" pkg-config readelf ldd; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "FAIL: $tool not found"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bp-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
prefix=$tmp/prefix
major=${version%%.*}
say() { echo "install_consume: $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# ---- install ----------------------------------------------------------------
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install $build failed"; }
say "installed $build into a fresh prefix" \
    "($(grep -c '^-- Installing' "$tmp/install.log") files)"

lib=$prefix/$libdir
for f in include/bufpool.h "$libdir/libbufpool.a" \
         "$libdir/libbufpool.so" "$libdir/libbufpool.so.$major" \
         "$libdir/libbufpool.so.$version" \
         "$libdir/pkgconfig/bufpool.pc" \
         "$libdir/cmake/bufpool/bufpoolConfig.cmake" \
         "$libdir/cmake/bufpool/bufpoolConfigVersion.cmake" \
         "$libdir/cmake/bufpool/bufpoolTargets.cmake"; do
    [ -f "$prefix/$f" ] || fail "not installed: $f"
done
[ -L "$lib/libbufpool.so" ] || fail "$libdir/libbufpool.so is not a link"
[ -L "$lib/libbufpool.so.$major" ] ||
    fail "$libdir/libbufpool.so.$major is not a link"
soname=$(readelf -d "$lib/libbufpool.so.$version" |
         sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libbufpool.so.$major" ] ||
    fail "libbufpool.so.$version has soname '$soname'," \
         "not libbufpool.so.$major"
cmp -s "$src/include/bufpool.h" "$prefix/include/bufpool.h" ||
    fail "the installed bufpool.h differs from include/bufpool.h"
say "header, libbufpool.a, libbufpool.so -> .so.$major -> .so.$version" \
    "(soname $soname), bufpool.pc and the CMake package are installed"

progs=""
for p in bpbench bpstat; do
    if [ -f "$build/$p" ]; then
        [ -x "$prefix/bin/$p" ] || fail "not installed: bin/$p"
        progs="$progs $p"
    fi
done
nman=0
if [ -f "$build/man-pages.txt" ]; then
    while read -r page; do
        [ -n "$page" ] || continue
        name=$(basename "$page")
        section=${name##*.}
        [ -f "$prefix/$mandir/man$section/$name" ] ||
            fail "man page not installed: $mandir/man$section/$name"
        nman=$((nman + 1))
    done <"$build/man-pages.txt"
fi
say "installed as built: bin/${progs:- (none of bpbench, bpstat built)};" \
    "$nman man pages in $mandir/"

# ---- pkg-config -------------------------------------------------------------
PKG_CONFIG_PATH=$lib/pkgconfig
export PKG_CONFIG_PATH
got=$(pkg-config --modversion bufpool)
[ "$got" = "$version" ] ||
    fail "pkg-config --modversion bufpool gives '$got', not $version"
got=$(pkg-config --variable=prefix bufpool)
[ "$got" = "$prefix" ] ||
    fail "bufpool.pc has prefix '$got', not the install prefix $prefix"
flags=$(pkg-config --cflags --libs bufpool)
say "pkg-config: version $version, prefix the install prefix, flags: $flags"

# run NAME PROGRAM [ENV=VAL...]: runs PROGRAM on a data file of its own and
# checks that it wrote page 0 and read it back.
run() {
    name=$1 prog=$2
    shift 2
    rc=0
    env "$@" "$prog" "$tmp/$name.db" >"$tmp/$name.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { cat "$tmp/$name.out"; fail "$name exited $rc"; }
    grep -q '^page 0 after reopen: "hello from page 0"$' "$tmp/$name.out" ||
        { cat "$tmp/$name.out"; fail "$name did not read page 0 back"; }
    say "$name ran: $(tail -n 1 "$tmp/$name.out")"
}

# shared_from PROGRAM [ENV=VAL...]: the libbufpool.so PROGRAM loads
shared_from() {
    prog=$1
    shift
    env "$@" ldd "$prog" | awk '$1 ~ /^libbufpool\.so/ { print $3 }'
}

# ---- cc with pkg-config -----------------------------------------------------
mkdir "$tmp/pc"
# shellcheck disable=SC2086
"$cc" -o "$tmp/pc/hello" "$src/examples/hello.c" $flags ||
    fail "cc \$(pkg-config --cflags --libs bufpool) failed"
readelf -d "$tmp/pc/hello" | grep -q "NEEDED.*\[libbufpool\.so\.$major\]" ||
    fail "hello built with pkg-config does not need libbufpool.so.$major"
got=$(shared_from "$tmp/pc/hello" LD_LIBRARY_PATH="$lib")
[ "$got" = "$lib/libbufpool.so.$major" ] ||
    fail "hello built with pkg-config loads '$got', not the installed" \
         "$libdir/libbufpool.so.$major"
say "cc + pkg-config: hello needs libbufpool.so.$major and loads the" \
    "installed one (LD_LIBRARY_PATH)"
run hello-pkgconfig "$tmp/pc/hello" LD_LIBRARY_PATH="$lib"
# libbufpool.a with what `pkg-config --static` adds (Libs.private,
# Requires.private)
static=$(pkg-config --static --libs bufpool)
# shellcheck disable=SC2046
"$cc" -o "$tmp/pc/hello_static" "$src/examples/hello.c" \
    $(pkg-config --cflags bufpool) "$lib/libbufpool.a" \
    $(echo " $static " | sed 's/ -lbufpool / /') ||
    fail "cc with libbufpool.a and pkg-config --static --libs failed"
readelf -d "$tmp/pc/hello_static" | grep -q 'NEEDED.*libbufpool' &&
    fail "hello_static (libbufpool.a) needs libbufpool.so"
say "cc + libbufpool.a + pkg-config --static ($static): linked"
run hello-pkgconfig-static "$tmp/pc/hello_static"

# ---- CMake: find_package(bufpool) -------------------------------------------
next=$((major + 1))
mkdir "$tmp/cm"
cat >"$tmp/cm/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(hello_consumer C)
# a later major version is not compatible (SameMajorVersion)
find_package(bufpool $next.0 QUIET)
if(bufpool_FOUND)
  message(FATAL_ERROR "find_package(bufpool $next.0) accepted $version")
endif()
find_package(bufpool $version REQUIRED)
get_target_property(type bufpool::bufpool TYPE)
get_target_property(stype bufpool::bufpool_static TYPE)
message(STATUS "consumer: bufpool \${bufpool_VERSION} from \${bufpool_DIR}")
message(STATUS "consumer: bufpool::bufpool \${type}")
message(STATUS "consumer: bufpool::bufpool_static \${stype}")
add_executable(hello $src/examples/hello.c)
target_link_libraries(hello bufpool::bufpool)
add_executable(hello_static $src/examples/hello.c)
target_link_libraries(hello_static bufpool::bufpool_static)
EOF
"$cmake" -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cm.log" 2>&1 ||
    { cat "$tmp/cm.log"; fail "configuring the find_package consumer failed"; }
grep -qxF -- "-- consumer: bufpool $version from $lib/cmake/bufpool" \
    "$tmp/cm.log" ||
    { cat "$tmp/cm.log"; fail "find_package did not find the installed one"; }
grep -q '^-- consumer: bufpool::bufpool SHARED_LIBRARY$' "$tmp/cm.log" ||
    fail "bufpool::bufpool is not the shared library"
grep -q '^-- consumer: bufpool::bufpool_static STATIC_LIBRARY$' \
    "$tmp/cm.log" || fail "bufpool::bufpool_static is not the static library"
"$cmake" --build "$tmp/cm/build" >"$tmp/cmb.log" 2>&1 ||
    { cat "$tmp/cmb.log"; fail "building the find_package consumer failed"; }
say "find_package(bufpool $version): $lib/cmake/bufpool;" \
    "find_package(bufpool $next.0) refused; bufpool::bufpool is shared," \
    "bufpool::bufpool_static static"
got=$(shared_from "$tmp/cm/build/hello")
[ "$got" = "$lib/libbufpool.so.$major" ] ||
    fail "hello built with find_package loads '$got', not the installed" \
         "$libdir/libbufpool.so.$major"
readelf -d "$tmp/cm/build/hello_static" | grep -q 'NEEDED.*libbufpool' &&
    fail "hello_static (bufpool::bufpool_static) needs libbufpool.so"
say "find_package: hello loads the installed libbufpool.so.$major" \
    "(its runpath); hello_static needs no libbufpool.so"
run hello-cmake "$tmp/cm/build/hello"
run hello-cmake-static "$tmp/cm/build/hello_static"
say "passed"
