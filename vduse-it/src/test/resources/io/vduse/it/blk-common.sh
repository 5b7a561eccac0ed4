# Helpers for the vduse-blk guest scripts (sourced). Each check prints "CHECK <name>=<value>"
# lines that BlkDeviceTest asserts on; everything else is log for the report.
#
# Needs: BLK (the vduse-blk launcher) in the environment.

# The running kernel's module tree: in the guest, the unpacked package run-in-guest booted (seen
# over 9p, indexed by fetch-kernel's depmod); natively, the system's own.
KERNEL_ROOT="${VDUSE_GUEST_KERNEL_DIR:-/}"
LOGS=/tmp/blk-logs
mkdir -p "$LOGS"
check() { echo "CHECK $1=$2"; }
log() { echo "--- $*"; }

# start_dev NAME ARGS...: starts vduse-blk in the background, waits for it to say it is ready.
# Sets DEV_PID. Returns 1 if it exited or did not get ready in 120 s.
start_dev() {
    launch_dev "$@"
    await_dev "$1" "$DEV_PID"
}

# launch_dev NAME ARGS...: starts vduse-blk in the background and returns at once; sets DEV_PID.
# (Two devices launched one after the other start their JVMs side by side, then await_dev each.)
launch_dev() {
    local name="$1"; shift
    "$BLK" --name "$name" "$@" >"$LOGS/$name.log" 2>&1 &
    DEV_PID=$!
}

# await_dev NAME PID: waits for the device launched as PID to say it is ready; 1 if it exited or
# did not get ready in 120 s.
await_dev() {
    for _ in $(seq 1 240); do
        if grep -q '^Attach it:' "$LOGS/$1.log"; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then break; fi
        sleep 0.5
    done
    log "vduse-blk $1 did not get ready:"; cat "$LOGS/$1.log"
    return 1
}

# attach NAME: vdpa dev add, then waits for /dev/vda.
attach() {
    vdpa dev add name "$1" mgmtdev vduse || return 1
    for _ in $(seq 1 100); do
        [[ -b /dev/vda ]] && return 0
        sleep 0.1
    done
    log "/dev/vda did not appear"; dmesg | tail -20
    return 1
}

# detach NAME
detach() {
    vdpa dev del "$1"
    for _ in $(seq 1 100); do
        [[ -b /dev/vda ]] || return 0
        sleep 0.1
    done
    return 1
}

# stop_dev NAME [PID]: SIGTERM to PID (default DEV_PID), waits, prints the device's log; sets STOP_RC.
stop_dev() {
    local pid="${2:-$DEV_PID}"
    kill -TERM "$pid"
    wait "$pid"
    STOP_RC=$?
    log "vduse-blk $1 log:"; cat "$LOGS/$1.log"
}

# control_count NAME TYPE: TYPE's count (SET_STATUS, UPDATE_IOTLB, SUSPEND, ...) in the last
# "control messages:" line device NAME printed (at exit, or asked with counters).
control_count() {
    grep -a '^control messages:' "$LOGS/$1.log" | tail -n 1 | sed -n "s/.*[ ,]$2 \([0-9]*\).*/\1/p"
}

# counters NAME PID [LINE]: asks the running device for its counters (SIGUSR1) and waits until it
# has printed them (one more line matching LINE, by default vduse-blk's '^control messages:'), so
# that control_count reads the counts of now; 1 if they did not come in 20 s.
counters() {
    local lines line="${3:-^control messages:}"
    lines=$(grep -ac "$line" "$LOGS/$1.log")
    kill -USR1 "$2" || return 1
    for _ in $(seq 1 100); do
        (( $(grep -ac "$line" "$LOGS/$1.log") > lines )) && return 0
        sleep 0.2
    done
    log "$1 printed no counters after SIGUSR1"
    return 1
}

# allocated BYTES of a file, from its allocated 512-byte blocks (what du counts).
allocated() { echo $(( $(stat --format=%b "$1") * 512 )); }

# load_module NAME: loads a module (or alias) of the running kernel with what it depends on,
# softdeps included (ext4 wants crc32c, which is crc32c_generic on 6.12 and crc32c_cryptoapi on
# 7.3); the guest's initramfs carries only the VDUSE modules. Does nothing for one already loaded.
load_module() {
    modprobe -d "$KERNEL_ROOT" "$1" || { log "modprobe -d $KERNEL_ROOT $1 failed"; return 1; }
}

# backing_on_ext4 MIB: an ext4 file system on a brd ramdisk of MIB MiB, mounted at /tmp/ext4, for
# backing files: ext4 takes non-blocking reads, so vduse-blk serves a file there on io_uring (the
# default engine), while a file on the guest's tmpfs /tmp is not (io_uring would hand
# each request to a kernel worker thread). Checks brd_rc, backing_ext4_module, backing_fs_rc.
backing_on_ext4() {
    rmmod brd 2>/dev/null
    insmod /run/vduse-guest/modules/brd.ko rd_nr=1 rd_size=$(($1 << 10)) 2>/dev/null \
        || modprobe brd rd_nr=1 rd_size=$(($1 << 10)); check brd_rc $?
    load_module crc32c && load_module ext4; check backing_ext4_module $?
    mkfs.ext4 -q -F /dev/ram0 && mkdir -p /tmp/ext4 && mount -t ext4 /dev/ram0 /tmp/ext4; check backing_fs_rc $?
}
