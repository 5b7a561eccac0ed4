#!/bin/bash
# Real-kernel check of --reconnect (BlkDeviceTest asserts on the CHECK lines): fio writes random
# 4 KiB blocks with crc32c verification through the Linux virtio-blk driver; meanwhile the
# vduse-blk process is killed with SIGKILL and started again with --reconnect. The run must
# complete, and every block it wrote must verify.
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp
IMG=/tmp/fio.img

start_dev blk3 --file "$IMG" --size 64M || { check started false; exit 1; }
check started true
attach blk3 || { check attached false; exit 1; }
check attached true

fio --name=reconnect --filename=/dev/vda --rw=randwrite --bs=4k --size=32M --ioengine=libaio --direct=1 \
    --iodepth=8 --verify=crc32c --do_verify=1 --verify_fatal=1 --eta=never --output="$LOGS/fio.out" &
FIO=$!
# Kill the device once fio has written something (field 5 of /sys/block/vda/stat: writes completed).
for _ in $(seq 1 600); do
    [[ "$(awk '{print $5}' /sys/block/vda/stat)" -gt 500 ]] && break
    sleep 0.1
done
check writes_before_kill "$(awk '{print $5}' /sys/block/vda/stat)"
kill -KILL "$DEV_PID"
wait "$DEV_PID" 2>/dev/null
check killed true
log "vduse-blk blk3 log before the kill:"; cat "$LOGS/blk3.log"
mv "$LOGS/blk3.log" "$LOGS/blk3-first.log"

start_dev blk3 --file "$IMG" --reconnect || { check restarted false; kill -KILL "$FIO"; exit 1; }
check restarted true

# fio must finish by itself; give it 300 s of emulated time.
for _ in $(seq 1 600); do
    kill -0 "$FIO" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$FIO" 2>/dev/null; then
    check fio_finished false
    kill -KILL "$FIO"
    log "in flight on the device (reads, writes):"; cat /sys/block/vda/inflight
    log "vduse-blk blk3 log after the restart:"; cat "$LOGS/blk3.log"
    # vdpa dev del would wait for ever on the requests in flight: stop here.
    exit 1
else
    check fio_finished true
fi
wait "$FIO"; check fio_rc $?
cat "$LOGS/fio.out"
check verify_failures "$(grep -c -i -E 'verify failed|bad magic|bad header|verify: bad' "$LOGS/fio.out")"
detach blk3
stop_dev blk3
echo BLK_RECONNECT_DONE
