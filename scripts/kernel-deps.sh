#!/usr/bin/env bash
# kernel-deps.sh - what scripts/kernel-test.sh needs from the host: the
# Debian packages, the kernel version to boot, the kernel modules the guest
# loads, and the list of tests.  Sourced by kernel-test.sh; every function
# prints its result on stdout and, on failure, one line saying why on stdout
# and returns 1.
#
#   kd_packages LOGFILE        install what is missing of KD_PACKAGES (as
#                              root, with apt-get; output to LOGFILE), and of
#                              KD_OPTIONAL without failing
#   kd_kernel_version          the version of the installed linux-image-amd64
#                              whose vmlinuz, headers and /lib/modules all exist
#   kd_modules KVER DEST MOD...  copy MOD... and what they depend on
#                              (modules.dep, and modules.softdep's "pre:"
#                              through modules.alias) into DEST, decompressed
#                              (.ko.xz/.ko.zst/.ko.gz); prints the file names in
#                              load order.  Built-in modules are left out.
#   kd_ctest_list BUILDDIR OUT  the tests ctest knows in BUILDDIR, one a line
#                              in ctest's order: name, TIMEOUT, ENVIRONMENT
#                              and the command, fields split by \x1f, the
#                              environment's entries each led by \x1e
KD_PACKAGES=(linux-image-amd64 linux-headers-amd64 qemu-system-x86
             busybox-static cpio e2fsprogs)
KD_OPTIONAL=(linux-source-6.1)   # for kernel/check-patches.sh only

kd_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

kd_apt_install() {   # LOG PKG...: install, updating the lists once if needed
    local log=$1
    shift
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y
               --no-install-recommends "$@")
    "${apt[@]}" >>"$log" 2>&1 && return 0
    apt-get update >>"$log" 2>&1
    "${apt[@]}" >>"$log" 2>&1
}

kd_packages() {
    local log=$1 p need=() want=()
    if ! command -v dpkg-query >/dev/null; then
        echo "not a Debian system (no dpkg-query): the guest is Debian's kernel"
        return 1
    fi
    for p in "${KD_PACKAGES[@]}"; do kd_installed "$p" || need+=("$p"); done
    for p in "${KD_OPTIONAL[@]}"; do kd_installed "$p" || want+=("$p"); done
    [ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        [ ${#need[@]} -eq 0 ] && return 0
        echo "not root, and ${need[*]} not installed (as root: apt-get install ${need[*]})"
        return 1
    fi
    if [ ${#need[@]} -gt 0 ] && ! kd_apt_install "$log" "${need[@]}"; then
        echo "apt-get install ${need[*]} failed: $(grep -m 1 '^E:' "$log" || tail -n 1 "$log")"
        return 1
    fi
    for p in ${want[@]+"${want[@]}"}; do
        kd_apt_install "$log" "$p" || true
    done
    return 0
}

kd_kernel_version() {
    local dep ver
    dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null)
    ver=$(sed -n 's/^linux-image-\([^ ,]*\).*/\1/p' <<<"$dep")
    if [ -z "$ver" ]; then
        echo "cannot tell the kernel of linux-image-amd64 (Depends: '$dep')"
        return 1
    fi
    if [ ! -r "/boot/vmlinuz-$ver" ]; then
        echo "/boot/vmlinuz-$ver is not readable"
        return 1
    fi
    if [ ! -f "/lib/modules/$ver/modules.dep" ]; then
        echo "/lib/modules/$ver/modules.dep is missing"
        return 1
    fi
    if [ ! -f "/lib/modules/$ver/build/Makefile" ] &&
       [ ! -f "/usr/src/linux-headers-$ver/Makefile" ]; then
        echo "no headers for $ver (apt-get install linux-headers-$ver)"
        return 1
    fi
    echo "$ver"
}

kd_headers() {   # KVER: the directory to build modules against
    if [ -f "/lib/modules/$1/build/Makefile" ]; then
        echo "/lib/modules/$1/build"
    else
        echo "/usr/src/linux-headers-$1"
    fi
}

# kd_modules KVER DEST MOD...
kd_modules() {
    local kver=$1 dest=$2
    shift 2
    local dir=/lib/modules/$kver
    awk -v want="$*" '
    function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.(xz|zst|gz))?$/, "", p)
                       gsub(/-/, "_", p); return p }
    FILENAME ~ /modules\.dep$/ {
        p = $1; sub(/:$/, "", p); b = base(p); path[b] = p
        d = ""; for (i = 2; i <= NF; i++) d = d " " base($i); deps[b] = d; next }
    FILENAME ~ /modules\.softdep$/ && $1 == "softdep" {
        b = $2; gsub(/-/, "_", b); pre = 0
        for (i = 3; i <= NF; i++) {
            if ($i == "pre:") { pre = 1; continue }
            if ($i == "post:") { pre = 0; continue }
            if (pre) soft[b] = soft[b] " " $i
        }
        next }
    FILENAME ~ /modules\.alias$/ && $1 == "alias" {
        a = $2; m = $3; gsub(/-/, "_", m); alias[a] = alias[a] " " m; next }
    FILENAME ~ /modules\.builtin$/ { builtin[base($1)] = 1; next }
    function add(m,   n, list, i, j, s, k, al) {
        gsub(/-/, "_", m)
        if (m in done || m in builtin) return
        if (!(m in path)) { missing = missing " " m; return }
        done[m] = 1
        # softdep pre: names or aliases; an alias may name several modules
        n = split(soft[m], list, " ")
        for (i = 1; i <= n; i++) {
            s = list[i]; k = s; gsub(/-/, "_", k)
            if (k in path || k in builtin) add(k)
            else { split(alias[s], al, " "); for (j in al) add(al[j]) }
        }
        # modules.dep: every dependency, the one to load first last
        n = split(deps[m], list, " ")
        for (i = n; i >= 1; i--) add(list[i])
        order[++norder] = m
    }
    END {
        n = split(want, w, " ")
        for (i = 1; i <= n; i++) add(w[i])
        if (missing != "") { print "MISSING" missing; exit 1 }
        for (i = 1; i <= norder; i++) print path[order[i]]
    }' "$dir/modules.dep" "$dir/modules.softdep" "$dir/modules.alias" \
       "$dir/modules.builtin" >"$dest/.list" || {
        echo "modules not found for $kver:$(sed -n 's/^MISSING//p' "$dest/.list")"
        return 1
    }
    local rel name
    while read -r rel; do
        name=${rel##*/}
        case "$name" in
        *.ko.xz) name=${name%.xz}; xz -dc "$dir/$rel" >"$dest/$name" ;;
        *.ko.zst) name=${name%.zst}; zstd -qdc "$dir/$rel" >"$dest/$name" ;;
        *.ko.gz) name=${name%.gz}; gzip -dc "$dir/$rel" >"$dest/$name" ;;
        *) cp "$dir/$rel" "$dest/$name" ;;
        esac || { echo "cannot copy $dir/$rel"; return 1; }
        echo "$name"
    done <"$dest/.list"
    rm -f "$dest/.list"
}

kd_ctest_list() {
    local build=$1 out=$2 tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-ctest.XXXXXX") || return 1
    cat >"$tmp/list.cmake" <<'EOF'
file(READ "${IN}" json)
string(ASCII 31 US)
string(ASCII 30 RS)
string(JSON n LENGTH "${json}" tests)
set(out "")
if(n GREATER 0)
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${json}" tests ${i} name)
    string(JSON nc ERROR_VARIABLE err LENGTH "${json}" tests ${i} command)
    if(err OR nc EQUAL 0)
      continue()
    endif()
    set(argv "")
    math(EXPR lc "${nc} - 1")
    foreach(j RANGE ${lc})
      string(JSON a GET "${json}" tests ${i} command ${j})
      string(APPEND argv "${US}${a}")
    endforeach()
    set(timeout 0)
    set(env "")
    string(JSON np ERROR_VARIABLE err LENGTH "${json}" tests ${i} properties)
    if(NOT err AND np GREATER 0)
      math(EXPR lp "${np} - 1")
      foreach(j RANGE ${lp})
        string(JSON pn GET "${json}" tests ${i} properties ${j} name)
        if(pn STREQUAL "TIMEOUT")
          string(JSON timeout GET "${json}" tests ${i} properties ${j} value)
        elseif(pn STREQUAL "ENVIRONMENT")
          string(JSON ne LENGTH "${json}" tests ${i} properties ${j} value)
          math(EXPR le "${ne} - 1")
          foreach(k RANGE ${le})
            string(JSON e GET "${json}" tests ${i} properties ${j} value ${k})
            string(APPEND env "${RS}${e}")
          endforeach()
        endif()
      endforeach()
    endif()
    string(APPEND out "${name}${US}${timeout}${US}${env}${argv}\n")
  endforeach()
endif()
file(WRITE "${OUT}" "${out}")
EOF
    if ! ctest --test-dir "$build" --show-only=json-v1 >"$tmp/tests.json" 2>"$tmp/err" ||
       ! cmake -DIN="$tmp/tests.json" -DOUT="$out" -P "$tmp/list.cmake" >>"$tmp/err" 2>&1; then
        echo "ctest --show-only in $build failed: $(head -n 1 "$tmp/err")"
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$tmp"
}
