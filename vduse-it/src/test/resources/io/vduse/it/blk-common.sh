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
    local name="$1"; shift
    "$BLK" --name "$name" "$@" >"$LOGS/$name.log" 2>&1 &
    DEV_PID=$!
    for _ in $(seq 1 240); do
        if grep -q '^Attach it:' "$LOGS/$name.log"; then return 0; fi
        if ! kill -0 "$DEV_PID" 2>/dev/null; then break; fi
        sleep 0.5
    done
    log "vduse-blk $name did not get ready:"; cat "$LOGS/$name.log"
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

# stop_dev NAME: SIGTERM, waits, prints the device's log; sets STOP_RC.
stop_dev() {
    kill -TERM "$DEV_PID"
    wait "$DEV_PID"
    STOP_RC=$?
    log "vduse-blk $1 log:"; cat "$LOGS/$1.log"
}

# allocated BYTES of a file, from its allocated 512-byte blocks (what du counts).
allocated() { echo $(( $(stat --format=%b "$1") * 512 )); }

# load_module NAME: loads a module (or alias) of the running kernel with what it depends on,
# softdeps included (ext4 wants crc32c, which is crc32c_generic on 6.12 and crc32c_cryptoapi on
# 7.3); the guest's initramfs carries only the VDUSE modules. Does nothing for one already loaded.
load_module() {
    modprobe -d "$KERNEL_ROOT" "$1" || { log "modprobe -d $KERNEL_ROOT $1 failed"; return 1; }
}
