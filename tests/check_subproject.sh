#!/bin/sh
# check_subproject.sh SRCDIR [M32] [SANITIZE] - libbufpool works as a
# subproject and keeps its flags to itself.  A parent project in a
# temporary directory does add_subdirectory(SRCDIR bufpool) and builds
# (RelWithDebInfo) two programs linking bufpool::bufpool: hello
# (examples/hello.c) and one whose source -Wall -Wextra -Werror would
# reject (an unused variable, an unused static function, a declaration
# without a prototype) and which fails with #error when _GNU_SOURCE or the
# library's definitions reach it.  Checks that the subproject's tests,
# bench, examples, tools, man pages and install rules are off, that the
# parent's empty build type stays empty, that the parent's compile
# commands carry none of the library's flags while the library's own do,
# that hello loads the subproject's libbufpool.so, and runs both.
# Everything is removed at exit.  Exit 77 in a 32-bit (M32 true) or
# sanitizer build.  Environment: CMAKE (cmake), CC (cc), TMPDIR (default
# /var/tmp: the data file needs O_DIRECT).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: check_subproject.sh SRCDIR [M32] [SANITIZE]" >&2
    exit 2
fi
src=$1
m32=${2:-}
sanitize=${3:-}
cmake=${CMAKE:-cmake}
cc=${CC:-cc}

case "$m32" in
1 | ON | On | on | TRUE | True | true | YES | Yes | yes | Y | y)
    echo "SKIP: a 32-bit build (BP_M32): the subproject test runs in a" \
         "64-bit build"
    exit 77 ;;
esac
if [ -n "$sanitize" ]; then
    echo "SKIP: a sanitizer build (BP_SANITIZE=$sanitize): the subproject" \
         "test runs in a build without sanitizers"
    exit 77
fi
for tool in "$cmake" "$cc" ldd; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "FAIL: $tool not found"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bp-subproject.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
say() { echo "subproject: $*"; }
fail() { echo "FAIL: $*"; exit 1; }
unset CMAKE_BUILD_TYPE   # the parent has none: the subproject must not set it

mkdir "$tmp/parent"
cat >"$tmp/parent/app.c" <<'EOF'
/* app.c - a parent project's program, built with the parent's flags only */
#if defined(_GNU_SOURCE) || defined(_FILE_OFFSET_BITS)
#error "libbufpool's _GNU_SOURCE or _FILE_OFFSET_BITS reached the parent"
#endif
#if defined(BP_DEBUG) || defined(BP_FAULTS) || defined(BP_HAVE_URING)
#error "libbufpool's BP_DEBUG, BP_FAULTS or BP_HAVE_URING reached the parent"
#endif
#include <stdio.h>

#include "bufpool.h"

static int helper(void) /* unused: -Wunused-function */
{
    return 1;
}

int no_prototype(); /* -Wstrict-prototypes */

int main(void)
{
    int unused; /* -Wunused-variable */
    int major, minor, patch;
    const char *v = bp_version(&major, &minor, &patch);

    printf("parent: libbufpool %s (%d.%d.%d)\n", v, major, minor, patch);
    return 0;
}
EOF
cat >"$tmp/parent/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(parent C)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
add_subdirectory("$src" bufpool)
foreach(o BP_BUILD_TESTS BP_BUILD_BENCH BP_BUILD_EXAMPLES BP_BUILD_TOOLS
          BP_BUILD_MAN BP_INSTALL)
  if(\${o})
    message(FATAL_ERROR "parent: \${o} is \${\${o}} in a subproject")
  endif()
endforeach()
foreach(t test_api bpbench bpbtree bpstat man example_hello
          readme_example)
  if(TARGET \${t})
    message(FATAL_ERROR "parent: the subproject defines \${t}")
  endif()
endforeach()
message(STATUS "parent: build type '\${CMAKE_BUILD_TYPE}'")
add_executable(app app.c)
target_link_libraries(app PRIVATE bufpool::bufpool)
add_executable(hello "$src/examples/hello.c")
target_link_libraries(hello PRIVATE bufpool::bufpool)
EOF

# Not vacuous: the library's warnings, or its _GNU_SOURCE, reject app.c.
if "$cc" -Wall -Wextra -Werror -Wstrict-prototypes -I"$src/include" \
    -c "$tmp/parent/app.c" -o "$tmp/app.o" 2>/dev/null; then
    fail "app.c builds with -Wall -Wextra -Werror: it proves nothing"
fi
if "$cc" -D_GNU_SOURCE -I"$src/include" -c "$tmp/parent/app.c" \
    -o "$tmp/app.o" 2>/dev/null; then
    fail "app.c builds with -D_GNU_SOURCE: it proves nothing"
fi
say "app.c fails with -Wall -Wextra -Werror -Wstrict-prototypes and with" \
    "-D_GNU_SOURCE"

# Configured first without a build type (the subproject must not set
# one), then built as RelWithDebInfo.
"$cmake" -S "$tmp/parent" -B "$tmp/build" -DCMAKE_C_COMPILER="$cc" \
    >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; fail "configuring the parent failed"; }
grep -qxF -- "-- parent: build type ''" "$tmp/configure.log" ||
    { cat "$tmp/configure.log"; fail "the subproject set the build type"; }
say "add_subdirectory: tests, bench, examples, tools, man pages and" \
    "install rules off; the parent's empty build type left empty"
"$cmake" -S "$tmp/parent" -B "$tmp/build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; fail "configuring the parent failed"; }
"$cmake" --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "building the parent failed"; }
say "the parent's app.c and hello.c built, linked to bufpool::bufpool"

# The compile commands: none of the library's flags on the parent's
# sources, all of them on the library's.
awk '
    /"command":/ { cmd = $0 }
    /"file":/ {
        f = $0; sub(/.*"file": *"/, "", f); sub(/".*/, "", f)
        print f "\t" cmd
    }' "$tmp/build/compile_commands.json" >"$tmp/commands.txt"
flags="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -D_GNU_SOURCE
-D_FILE_OFFSET_BITS=64 -DBP_DEBUG -DBP_FAULTS -DBP_HAVE_URING"
nparent=0
for f in "$tmp/parent/app.c" "$src/examples/hello.c"; do
    line=$(grep -F "$f	" "$tmp/commands.txt" | head -n 1)
    [ -n "$line" ] || fail "no compile command for $f"
    for flag in $flags; do
        case "$line " in
        *" $flag "* | *" $flag="*)
            fail "the library's $flag reached the parent's $(basename "$f")"
            ;;
        esac
    done
    nparent=$((nparent + 1))
done
line=$(grep -F "$src/libbufpool/" "$tmp/commands.txt" | head -n 1)
[ -n "$line" ] || fail "no compile command for the library's sources"
for flag in -Wall -Wextra -Werror -D_GNU_SOURCE; do
    case "$line " in
    *" $flag "*) ;;
    *) fail "the library's own sources lost $flag" ;;
    esac
done
say "$nparent parent sources compiled without -Wall -Werror, _GNU_SOURCE" \
    "or BP_*; the library's sources with them"

got=$(ldd "$tmp/build/hello" | awk '$1 ~ /^libbufpool\.so/ { print $3 }')
case "$got" in
"$tmp/build/bufpool/libbufpool.so."*) ;;
*) fail "hello loads '$got', not the subproject's libbufpool.so" ;;
esac
say "hello loads the subproject's $(basename "$got")"

rc=0
"$tmp/build/app" >"$tmp/app.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/app.out"; fail "app exited $rc"; }
say "app ran: $(cat "$tmp/app.out")"
rc=0
"$tmp/build/hello" "$tmp/hello.db" >"$tmp/hello.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/hello.out"; fail "hello exited $rc"; }
grep -q '^page 0 after reopen: "hello from page 0"$' "$tmp/hello.out" ||
    { cat "$tmp/hello.out"; fail "hello did not read page 0 back"; }
say "hello ran: $(tail -n 1 "$tmp/hello.out")"
say "passed"
