#!/bin/bash
# Real-kernel check of --reconnect (BlkReconnectTest asserts on the CHECK lines), once per ring
# layout: fio writes random 4 KiB blocks with crc32c verification through the Linux virtio-blk
# driver; meanwhile the vduse-blk process is killed with SIGKILL and started again with
# --reconnect, which serves again what the killed one had in flight (the queues' in-flight logs,
# in the guest's /run/vduse-java). The run must complete, and every block it wrote must verify.
# Checks are named LAYOUT.NAME: packed.* (the tool's default; virtio_ring takes packed rings) and
# split.* (--no-packed-ring).
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp
IMG=/tmp/fio.img

# round LAYOUT [OPTION...]: one device, one fio run, one kill and restart; 1 if the round cannot go on.
round() {
    local layout="$1"; shift
    local name="blk-$layout"
    rm -f "$IMG"
    start_dev "$name" --file "$IMG" --size 64M "$@" || { check "$layout.started" false; return 1; }
    check "$layout.started" true
    attach "$name" || { check "$layout.attached" false; return 1; }
    check "$layout.attached" true
    # Bit 34 of the negotiated features (a string of 0/1, bit 0 first): VIRTIO_F_RING_PACKED.
    local features; features=$(cat /sys/block/vda/device/features)
    check "$layout.ring" "$([[ "${features:34:1}" == 1 ]] && echo packed || echo split)"

    fio --name=reconnect --filename=/dev/vda --rw=randwrite --bs=4k --size=16M --ioengine=libaio --direct=1 \
        --iodepth=8 --verify=crc32c --do_verify=1 --verify_fatal=1 --eta=never --output="$LOGS/fio-$layout.out" &
    local fio=$!
    # Kill the device once fio has written something (field 5 of /sys/block/vda/stat: writes completed).
    for _ in $(seq 1 600); do
        [[ "$(awk '{print $5}' /sys/block/vda/stat)" -gt 500 ]] && break
        sleep 0.1
    done
    check "$layout.writes_before_kill" "$(awk '{print $5}' /sys/block/vda/stat)"
    kill -KILL "$DEV_PID"
    wait "$DEV_PID" 2>/dev/null
    check "$layout.killed" true
    log "vduse-blk $name log before the kill:"; cat "$LOGS/$name.log"
    mv "$LOGS/$name.log" "$LOGS/$name-first.log"

    start_dev "$name" --file "$IMG" --reconnect "$@" || { check "$layout.restarted" false; kill -KILL "$fio"; return 1; }
    check "$layout.restarted" true

    # fio must finish by itself; give it 300 s of emulated time.
    for _ in $(seq 1 600); do
        kill -0 "$fio" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$fio" 2>/dev/null; then
        check "$layout.fio_finished" false
        kill -KILL "$fio"
        log "in flight on the device (reads, writes):"; cat /sys/block/vda/inflight
        log "vduse-blk $name log after the restart:"; cat "$LOGS/$name.log"
        # vdpa dev del would wait for ever on the requests in flight: stop here.
        return 1
    fi
    check "$layout.fio_finished" true
    wait "$fio"; check "$layout.fio_rc" $?
    cat "$LOGS/fio-$layout.out"
    check "$layout.verify_failures" "$(grep -c -i -E 'verify failed|bad magic|bad header|verify: bad' "$LOGS/fio-$layout.out")"
    detach "$name"
    stop_dev "$name"
    # What the restarted process served again from the killed one's log (its counters at exit).
    check "$layout.resubmitted" "$(sed -n 's/.*interrupts, \([0-9]*\) resubmitted.*/\1/p' "$LOGS/$name.log" | head -n 1)"
}

round packed || exit 1
round split --no-packed-ring || exit 1
echo BLK_RECONNECT_DONE
