#!/bin/bash
# Real-kernel checks of VDUSE block devices attached to vhost_vdpa instead of virtio_vdpa, in one
# guest boot: a userspace driver, libblkio's virtio-blk-vhost-vdpa (QEMU 10's qemu-io and
# qemu-img from the trixie root that make-trixie-root builds, run chrooted into it), drives the
# device through /dev/vhost-vdpa-N, as a VM's QEMU would. The same checklist runs against our
# vduse-blk ("ours") and, as the control, qemu-storage-daemon's vduse-blk export ("qsd").
# VdpaBlkTest asserts on the "CHECK DEVICE.NAME=VALUE" lines; a value is "ok" or says what went
# wrong, with the tools' own words.
#
# Per device, on a 64 MiB backing file in /tmp (layout: LAYOUT below):
#   rw_4k rw_512k rw_1m rw_2m rw_4m  qemu-io writes a pattern in one request, reads it back
#   rw_16m              qemu-img convert writes 16 MiB of random data, and reads it back
#   discard             qemu-io discards 8 MiB of data the file had; allocated_* in bytes
#   flush               qemu-io flush
#   resize              the capacity grows to 96 MiB (ours: truncate of the file; qsd: QMP
#                       block_resize, it does not watch its file) and a new open sees 96 MiB
#   backing_*           once the device stopped: each region of the file holds what was written
#   ro_write ro_read ro_backing  a read-only device refuses a 4k write, serves reads, and the
#                       file is as the read-write run left it
#
# Environment: BLK (the vduse-blk launcher), TRIXIE_ROOT (the trixie root), and what
# blk-common.sh's load_module needs to find the guest kernel's modules.
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp

ROOT="${TRIXIE_ROOT:?TRIXIE_ROOT: the root make-trixie-root prints}"
SIZE=$((64 << 20))
GROWN=$((96 << 20))

# LAYOUT: check, offset, length, pattern byte (random: a file of random bytes, via qemu-img).
PATTERNS=(
    "4k     0      4K   0xab"
    "512k   1M     512K 0x5a"
    "1m     2M     1M   0x3c"
    "2m     4M     2M   0xc3"
    "4m     8M     4M   0x96"
)
RANDOM_OFF=16M RANDOM_LEN=16M       # rw_16m
DISCARD_OFF=32M DISCARD_LEN=8M      # data in the file before the device starts, then discarded

bytes() { numfmt --from=iec "$1"; }

source "$(dirname "$0")/vdpa-common.sh"

# Our device's backing file lives on ext4 over a brd ramdisk, where vduse-blk serves it on
# io_uring (its default engine): libblkio's requests reach the file through the ring. The
# control's stays on /tmp, which its chroot sees.
backing_on_ext4 256
image() { if [[ "$1" == ours ]]; then echo /tmp/ext4/ours.img; else echo "/tmp/$1.img"; fi; }

opts() { echo "driver=virtio-blk-vhost-vdpa,path=$VHOST,cache.direct=on,discard=unmap"; }
qio() { chroot "$ROOT" qemu-io "$@" --image-opts "$(opts)" 2>&1; }

# ---- the devices -----------------------------------------------------------------------------
# start_ours FILE [ARGS]; start_qsd FILE writable=on|off: set PID, NAME.
start_ours() {
    NAME=vdpa-ours
    start_dev "$NAME" --file "$@" && PID=$DEV_PID
}
start_qsd() {
    NAME=vdpa-qsd
    local ro=off
    [[ "$2" == writable=on ]] || ro=on
    qmp_fifos /tmp/qsd-qmp
    chroot "$ROOT" qemu-storage-daemon \
        --blockdev "file,node-name=f0,filename=$1,discard=unmap,read-only=$ro" \
        --export "vduse-blk,id=e0,node-name=f0,name=$NAME,num-queues=1,queue-size=256,$2" \
        --chardev pipe,id=m0,path=/tmp/qsd-qmp --monitor chardev=m0 \
        >"$LOGS/$NAME.log" 2>&1 &
    PID=$!
    qmp_open /tmp/qsd-qmp || { log "no QMP greeting from qemu-storage-daemon"; cat "$LOGS/$NAME.log"; return 1; }
}
stop() { # DEVICE: detach, SIGTERM, wait; the device has flushed and closed its file then.
    vdpa dev del "$NAME" || log "vdpa dev del $NAME failed"
    kill -TERM "$PID"
    wait "$PID"
    log "$1 ($NAME) exited with $?; its log:"; cat "$LOGS/$NAME.log"
    [[ "$1" != qsd ]] || qmp_close
}

# ---- the checklist ---------------------------------------------------------------------------
# prepare FILE EXPECTED: a sparse 64 MiB backing file with data in the discard region, and the
# file it should equal at the end, made on the side.
prepare() {
    rm -f "$1" "$2"
    truncate -s "$SIZE" "$1" "$2"
    head -c "$(bytes $DISCARD_LEN)" /dev/urandom \
        | dd of="$1" bs=1M seek="$(( $(bytes $DISCARD_OFF) >> 20 ))" conv=notrunc,fsync status=none
    [[ -f /tmp/random16 ]] || head -c "$(bytes $RANDOM_LEN)" /dev/urandom >/tmp/random16
}

# expect_bytes EXPECTED OFFSET LENGTH BYTE|FILE: what EXPECTED should hold there.
expect_bytes() {
    if [[ -f "$4" ]]; then
        cat "$4"
    else
        head -c "$(bytes "$3")" /dev/zero | tr '\0' "\\$(printf %o "$4")"
    fi | dd of="$1" bs=4k seek="$(( $(bytes "$2") / 4096 ))" conv=notrunc status=none
}

# backing_check DEVICE.CHECK EXPECTED FILE [OFFSET LENGTH]: the region is equal in both.
backing_check() {
    local out
    if [[ $# -eq 5 ]]; then
        out=$(cmp -i "$(bytes "$4")" -n "$(bytes "$5")" "$2" "$3" 2>&1)
    else
        out=$(cmp "$2" "$3" 2>&1)
    fi
    if [[ $? -eq 0 ]]; then check "$1" ok; else check "$1" "$(one_line "$out")"; fi
}

# checklist DEVICE: the read-write checks against the device started as $NAME.
checklist() {
    local dev="$1" file expected="/tmp/$1.expected" spec c off len pat out rc
    file=$(image "$dev")
    vhost_attach "$NAME" || { check "$dev.attached" false; return 1; }
    check "$dev.attached" true

    for spec in "${PATTERNS[@]}"; do
        read -r c off len pat <<<"$spec"
        out=$(qio -c "write -P $pat $off $len" -c "read -P $pat $off $len"); rc=$?
        log "$dev.rw_$c: qemu-io write/read -P $pat $off $len (exit $rc):"; echo "$out"
        verdict "$dev.rw_$c" $rc "$out"
        expect_bytes "$expected" "$off" "$len" "$pat"
    done

    # qemu-img on a window of the device: the raw format's offset and size over the blkio node.
    local window="driver=raw,offset=$(bytes $RANDOM_OFF),size=$(bytes $RANDOM_LEN),file.driver=virtio-blk-vhost-vdpa,file.path=$VHOST,file.cache.direct=on"
    rm -f /tmp/readback16
    out=$(chroot "$ROOT" qemu-img convert -n -f raw /tmp/random16 --target-image-opts "$window" 2>&1 \
        && chroot "$ROOT" qemu-img convert --image-opts "$window" -O raw /tmp/readback16 2>&1 \
        && cmp /tmp/random16 /tmp/readback16 2>&1); rc=$?
    log "$dev.rw_16m: qemu-img convert to the device and back (exit $rc):"; echo "$out"
    verdict "$dev.rw_16m" $rc "$out"
    expect_bytes "$expected" $RANDOM_OFF $RANDOM_LEN /tmp/random16

    local before after
    before=$(allocated "$file")
    out=$(qio -c "discard $DISCARD_OFF $DISCARD_LEN"); rc=$?
    after=$(allocated "$file")
    log "$dev.discard: qemu-io discard $DISCARD_OFF $DISCARD_LEN (exit $rc), allocated $before -> $after:"; echo "$out"
    verdict "$dev.discard" $rc "$out"
    check "$dev.allocated_before" "$before"
    check "$dev.allocated_after_discard" "$after"

    out=$(qio -c flush); rc=$?
    log "$dev.flush (exit $rc):"; echo "$out"
    verdict "$dev.flush" $rc "$out"

    truncate -s "$GROWN" "$expected"
    if [[ "$dev" == qsd ]]; then
        out=$(qmp block_resize "{\"node-name\":\"f0\",\"size\":$GROWN}") \
            || { check "$dev.resize" "block_resize: $out"; return 0; }
    else
        truncate -s "$GROWN" "$file"
    fi
    local length=""
    for _ in $(seq 1 20); do # ours notices the new size within a few seconds
        length=$(qio -c length)
        [[ "$length" == "96 MiB" ]] && break
        sleep 1
    done
    log "$dev.resize: qemu-io length after growing to 96 MiB: $length"
    if [[ "$length" == "96 MiB" ]]; then check "$dev.resize" ok; else check "$dev.resize" "length: $(one_line "$length")"; fi
}

# backing_checks DEVICE: after the device stopped, its file against what was written.
backing_checks() {
    local dev="$1" spec c off len pat
    for spec in "${PATTERNS[@]}"; do
        read -r c off len pat <<<"$spec"
        backing_check "$dev.backing_$c" "/tmp/$dev.expected" "$(image "$dev")" "$off" "$len"
    done
    backing_check "$dev.backing_16m" "/tmp/$dev.expected" "$(image "$dev")" $RANDOM_OFF $RANDOM_LEN
    backing_check "$dev.backing_discarded" "/tmp/$dev.expected" "$(image "$dev")" $DISCARD_OFF $DISCARD_LEN
    backing_check "$dev.backing_all" "/tmp/$dev.expected" "$(image "$dev")"
}

# read_only_checks DEVICE: the device started read-only on the file of the checklist.
read_only_checks() {
    local dev="$1" out rc
    vhost_attach "$NAME" || { check "$dev.ro_attached" false; return 1; }
    check "$dev.ro_attached" true
    out=$(qio -c "write -P 0xee 0 4k"); rc=$?
    log "$dev.ro_write: qemu-io write -P 0xee 0 4k on the read-only device (exit $rc):"; echo "$out"
    check "$dev.ro_write" "exit $rc: $(one_line "$out")"
    out=$(qio -r -c "read -P 0xab 0 4k"); rc=$?
    log "$dev.ro_read: qemu-io -r read -P 0xab 0 4k (exit $rc):"; echo "$out"
    verdict "$dev.ro_read" $rc "$out"
}

for dev in ours qsd; do
    log "======== $dev: read-write ($(date +%T))"
    prepare "$(image "$dev")" "/tmp/$dev.expected"
    if [[ "$dev" == ours ]]; then
        start_ours "$(image ours)" --size 64M || { check "$dev.started" false; continue; }
    else
        start_qsd /tmp/qsd.img writable=on || { check "$dev.started" false; continue; }
    fi
    check "$dev.started" true
    [[ "$dev" != ours ]] \
        || check ours.aio "$(sed -n 's/^vduse-blk: device vdpa-ours serves .*, aio \([a-z_]*\).*/\1/p' "$LOGS/$NAME.log")"
    log "$dev started ($(date +%T))"
    checklist "$dev"
    stop "$dev"
    backing_checks "$dev"
    cp "$(image "$dev")" "/tmp/$dev.before-ro"

    log "======== $dev: read-only ($(date +%T))"
    if [[ "$dev" == ours ]]; then
        start_ours "$(image ours)" --read-only || { check "$dev.ro_started" false; continue; }
    else
        start_qsd /tmp/qsd.img writable=off || { check "$dev.ro_started" false; continue; }
    fi
    check "$dev.ro_started" true
    read_only_checks "$dev"
    stop "$dev"
    backing_check "$dev.ro_backing" "/tmp/$dev.before-ro" "$(image "$dev")"
done
log "done ($(date +%T))"
echo VDPA_CHECKS_DONE
