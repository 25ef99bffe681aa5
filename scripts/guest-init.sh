#!/bin/busybox sh
# guest-init.sh - /init of the initramfs that scripts/kernel-test.sh boots
# under qemu: mounts, loads the disk modules and bpwin.ko, runs the plan the
# host wrote, reports on the serial console, powers off.  busybox only.
#
# Layout of the initramfs (made by kernel-test.sh):
#   /bin/busybox            applets linked at start (busybox --install -s)
#   /lib/bptest/modules     the disk modules, one path a line, in load order
#   /lib/bptest/*.ko        those modules;  /bpwin.ko  the module under test
#   /build/                 the host's programs; their libraries at the
#                           paths ldd gave, plus the dynamic loader
#   /etc/bptest/plan.sh     the steps, sourced after the functions below
#
# Console protocol (one line each; the host parses nothing else):
#   BPTEST <name> PASS|FAIL|SKIP <seconds> [reason]
#   BPTEST-OUT <name> / "| " + a line of the program's output / BPTEST-OUT-END
#                           (always for steps run with -s, else on failure)
#   BPTEST-BOOT <uptime>    /init has started
#   BPTEST-END              every step has reported (the last is rmmod)
#   BPTEST-DMESG / the kernel log / BPTEST-DMESG-END
# The disk is /dev/vda, ext4, mounted at /mnt; TMPDIR=/mnt/tmp (the tests
# use O_DIRECT, which tmpfs refuses).
#
# Plan functions:
#   bp_run [-s] NAME BUDGET CMD...   run CMD, output to a file; exit 0 PASS,
#       77 SKIP (reason: its "SKIP: ..." line), else FAIL.  It is cut after
#       min(BUDGET, BP_DEADLINE - uptime) seconds: everything but init is
#       killed and the step FAILs.  -s shows the output even on success.
#   bp_result NAME PASS|FAIL|SKIP SECONDS [REASON]   report a line directly
# Plan variables: BP_DEADLINE, the uptime (s) by which every step must end;
# BP_UNTIL, when set, an earlier end for the steps that follow (a group's
# budget, the bench's).

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /mnt
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o size=2g,mode=1777 tmpfs /dev/shm
mount -t tmpfs -o size=512m,mode=1777 tmpfs /tmp
exec </dev/null >/dev/console 2>&1
read -r up _ </proc/uptime
echo "BPTEST-BOOT $up"

BP_DEADLINE=1000000000
BP_UNTIL=""

uptime_s() {   # seconds since boot, with centiseconds
    read -r up _ </proc/uptime
    echo "$up"
}

since() {   # since START: seconds elapsed, one decimal
    awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'
}

bp_result() {   # NAME STATUS SECONDS [REASON]
    echo "BPTEST $1 $2 $3${4:+ $4}"
}

bp_show() {   # NAME FILE: the output, the last 400 lines of it
    local n
    echo "BPTEST-OUT $1"
    n=$(wc -l <"$2")
    [ "$n" -gt 400 ] && echo "| ($((n - 400)) earlier lines not shown)"
    tail -n 400 "$2" | sed 's/^/| /'
    echo "BPTEST-OUT-END"
}

# reap: kill every process but init (leftover workers, the watchdog),
# collect them, and remove what a killed program left in TMPDIR and /dev/shm.
reap() {
    kill -KILL -1 2>/dev/null
    wait 2>/dev/null
    [ -n "$TMPDIR" ] && rm -rf "$TMPDIR"/* 2>/dev/null
    rm -rf /dev/shm/* 2>/dev/null
}

bp_run() {
    local show=0 name budget left t0 pid rc status reason out
    [ "$1" = -s ] && { show=1; shift; }
    name=$1 budget=$2
    shift 2
    left=$(awk -v d="$BP_DEADLINE" -v g="${BP_UNTIL:-$BP_DEADLINE}" \
        -v u="$(uptime_s)" 'BEGIN { if (g < d) d = g; printf "%d", d - u }')
    if [ "$left" -le 0 ]; then
        bp_result "$name" FAIL 0 "not started: its time budget is used up"
        return
    fi
    [ "$budget" -gt "$left" ] && budget=$left
    out=/tmp/out.$$
    rm -f "$out" /tmp/timed-out
    t0=$(uptime_s)
    "$@" >"$out" 2>&1 </dev/null &
    pid=$!
    # the watchdog: kill(-1) from it reaches every process but init and itself
    (sleep "$budget"; : >/tmp/timed-out; kill -KILL -1) &
    wait "$pid"
    rc=$?
    reap
    status=FAIL reason=""
    if [ -e /tmp/timed-out ]; then
        reason="timed out after $budget s"
    elif [ "$rc" -eq 0 ]; then
        status=PASS
    elif [ "$rc" -eq 77 ]; then
        status=SKIP
        reason=$(sed -n 's/^SKIP: *//p' "$out" | head -n 1)
        [ -n "$reason" ] || reason="exit 77"
    elif [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
        reason="killed by signal $((rc - 128))"
    else
        reason="exit $rc"
    fi
    if [ "$show" -eq 1 ] || [ "$status" = FAIL ]; then
        bp_show "$name" "$out"
    fi
    bp_result "$name" "$status" "$(since "$t0")" "$reason"
    rm -f "$out" /tmp/timed-out
}

# ---- Disk modules, the disk, the module under test -------------------------
t0=$(uptime_s)
bad=""
while read -r ko; do
    [ -n "$ko" ] || continue
    insmod "/lib/bptest/$ko" >/tmp/insmod.err 2>&1 ||
        bad="$bad ${ko%.ko}: $(head -n 1 /tmp/insmod.err)"
done </lib/bptest/modules
export TMPDIR=/mnt/tmp
disk=""
for i in 1 2 3 4 5 6 7 8 9 10; do   # the probe of virtio_blk is asynchronous
    [ -b /dev/vda ] && { disk=/dev/vda; break; }
    sleep 0.2
done
if [ -z "$disk" ]; then
    bp_result disk FAIL "$(since "$t0")" "no /dev/vda${bad:+; insmod failed:$bad}"
    export TMPDIR=/tmp
elif ! mount -t ext4 -o noinit_itable "$disk" /mnt 2>/tmp/mount.err; then
    bp_result disk FAIL "$(since "$t0")" "mount $disk: $(head -n 1 /tmp/mount.err)${bad:+; insmod failed:$bad}"
    export TMPDIR=/tmp
else
    mkdir -p /mnt/tmp
    chmod 1777 /mnt/tmp
fi
mkdir -p /var
ln -s "$TMPDIR" /var/tmp

t0=$(uptime_s)
if [ ! -e /bpwin.ko ]; then
    bp_result insmod FAIL 0 "no bpwin.ko in the initramfs"
elif insmod /bpwin.ko >/tmp/insmod.err 2>&1; then
    bp_result insmod PASS "$(since "$t0")"
else
    bp_result insmod FAIL "$(since "$t0")" "insmod bpwin.ko: $(head -n 1 /tmp/insmod.err)"
fi

# ---- The plan ----------------------------------------------------------------
if [ -r /etc/bptest/plan.sh ]; then
    . /etc/bptest/plan.sh
else
    bp_result plan FAIL 0 "no /etc/bptest/plan.sh in the initramfs"
fi

# rmmod runs the module's exit path: a leak or a bad teardown shows in dmesg
reap
t0=$(uptime_s)
if ! grep -q '^bpwin ' /proc/modules; then
    bp_result rmmod SKIP 0 "bpwin is not loaded"
elif rmmod bpwin >/tmp/rmmod.err 2>&1; then
    bp_result rmmod PASS "$(since "$t0")"
else
    bp_result rmmod FAIL "$(since "$t0")" "$(head -n 1 /tmp/rmmod.err)"
fi
echo "BPTEST-END"

# ---- Kernel log, power off ---------------------------------------------------
umount /mnt 2>/dev/null
sync
echo "BPTEST-DMESG"
dmesg
echo "BPTEST-DMESG-END"
poweroff -f
echo o >/proc/sysrq-trigger
sleep 10
