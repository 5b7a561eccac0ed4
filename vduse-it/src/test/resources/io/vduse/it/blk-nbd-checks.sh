#!/bin/bash
# Real-kernel checks of vduse-blk --nbd against real NBD servers, in one guest boot (BlkNbdTest
# asserts on the CHECK lines). Three devices, each of ours in front of a server of its own, so
# that both servers and both transports are met:
#
#   tcp    qemu-nbd over TCP (127.0.0.1:10809), a raw file in tmpfs, --discard=unmap
#   kit    nbdkit's memory plugin over a Unix socket, two queues (a connection each: the plugin
#          says CAN_MULTI_CONN), under its log filter (every request the server saw, with its
#          result), error filter (EIO on every request while /tmp/nbdkit-fail exists) and delay
#          filter (reads 5 ms, writes 1 ms)
#   ro     qemu-nbd -r over a Unix socket, a file holding a known pattern
#
# The size, read-only flag and queues the kernel sees come from the servers and the command
# line. tcp and kit run the block checklist through the Linux virtio-blk driver (side by side):
# a pattern written with O_DIRECT reads back (and, on qemu-nbd, is in the server's file); a
# discard reads back zeros (and frees the file's blocks on qemu-nbd), a write-zeroes too, the
# rest intact; an fsync reaches the server as a flush (nbdkit's log counts them). tcp goes on
# with fio's crc32c verify and ext4 with e2fsck and a remount with every checksum (once is
# enough: what they add over the pattern is the kernel's, not the server's). Then: kit's
# injected EIO reaches the reader and the writer as an I/O error and the device serves the next
# request; kit's latency is 5 ms a read at QD1 and many reads are on the wire at QD16; ro
# refuses writes; and tcp's qemu-nbd is killed (SIGKILL) mid-fio and started again: fio must
# finish and verify. Check names are TAG.NAME (tcp.*, kit.*, ro.*).
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp
MIB=$((1 << 20))

# node_of NAME: the block device of our attached vDPA device NAME (vda, vdb, ... in attach order).
node_of() { ls /sys/bus/vdpa/devices/"$1"/virtio*/block/ 2>/dev/null; }

# attach_nbd NAME: vdpa dev add, waits for its block device; prints the node's name.
attach_nbd() {
    # The kernel refuses (EINVAL) a device whose queues are not all set up yet: try again.
    for _ in $(seq 1 50); do vdpa dev add name "$1" mgmtdev vduse 2>/dev/null && break; sleep 0.2; done
    vdpa dev show "$1" >/dev/null || { vdpa dev add name "$1" mgmtdev vduse; return 1; }
    for _ in $(seq 1 100); do
        local n; n=$(node_of "$1")
        [[ -n "$n" && -b /dev/$n ]] && { echo "$n"; return 0; }
        sleep 0.1
    done
    log "no block device for $1"; dmesg | tail -20
    return 1
}

# ---- servers -------------------------------------------------------------------------------
QEMU_NBD_TCP=(qemu-nbd --fork --persistent --shared=8 -f raw --discard=unmap -x disk
    -b 127.0.0.1 -p 10809 --pid-file /tmp/qnbd-tcp.pid /tmp/tcp.img)
truncate -s 32M /tmp/tcp.img
"${QEMU_NBD_TCP[@]}"; check tcp.server_rc $?
head -c $((8 * MIB)) /dev/urandom >/tmp/ro.img
qemu-nbd --fork --persistent --shared=8 -f raw -r -x ro -k /tmp/qnbd-ro.sock /tmp/ro.img; check ro.server_rc $?
# Filters stack outside in: log sees what the client is answered, error fails requests before
# they are delayed.
nbdkit -U /tmp/nbdkit.sock -P /tmp/nbdkit.pid --filter=log --filter=error --filter=delay \
    memory 48M logfile=/tmp/nbdkit.log error-rate=100% error-file=/tmp/nbdkit-fail rdelay=5ms wdelay=1ms
check kit.server_rc $?

# ---- our three devices, their JVMs started side by side -------------------------------------
# NBD_DEVICE=qsd puts qemu-storage-daemon's NBD client, exported as vduse-blk, in front of the
# same servers instead (the control: the same checks, another client).
declare -A PIDS NODES
# device TAG URI [--num-queues N] [OPTION...]: starts the client of TAG in the background.
device() {
    local tag="$1" uri="$2"; shift 2
    if [[ "${NBD_DEVICE:-ours}" == qsd ]]; then
        local server queues=1 writable=on ro=off
        [[ "${1:-}" == --num-queues ]] && queues="$2"
        [[ $tag == ro ]] && { writable=off; ro=on; }  # QSD must be told
        case "$uri" in
            nbd://*) local hp="${uri#nbd://}"; hp="${hp%%/*}"
                server="server.type=inet,server.host=${hp%:*},server.port=${hp#*:},export=${uri##*/}" ;;
            nbd+unix://*) local e="${uri#nbd+unix:///}"
                server="server.type=unix,server.path=${uri#*socket=},export=${e%%\?*}" ;;
        esac
        qemu-storage-daemon --blockdev "nbd,node-name=n0,$server,reconnect-delay=60,read-only=$ro,discard=unmap" \
            --export "vduse-blk,id=e0,node-name=n0,name=n-$tag,num-queues=$queues,writable=$writable" \
            >"$LOGS/n-$tag.log" 2>&1 &
        PIDS[$tag]=$!
    else
        launch_dev "n-$tag" --nbd "$uri" "$@"
        PIDS[$tag]=$DEV_PID
    fi
}
# ready TAG: waits until the client of TAG serves; 1 if it died or took more than 120 s.
ready() {
    if [[ "${NBD_DEVICE:-ours}" != qsd ]]; then await_dev "n-$1" "${PIDS[$1]}"; return; fi
    for _ in $(seq 1 240); do
        [[ -c /dev/vduse/n-$1 ]] && return 0
        kill -0 "${PIDS[$1]}" 2>/dev/null || break
        sleep 0.5
    done
    log "qemu-storage-daemon n-$1 did not get ready:"; cat "$LOGS/n-$1.log"
    return 1
}
device tcp nbd://127.0.0.1:10809/disk --nbd-timeout 60
device kit 'nbd+unix:///mem?socket=/tmp/nbdkit.sock' --num-queues 2
device ro 'nbd+unix:///ro?socket=/tmp/qnbd-ro.sock'  # no --read-only: the server says so
for tag in tcp kit ro; do
    if ready "$tag" && NODES[$tag]=$(attach_nbd "n-$tag"); then
        check "$tag.attached" true
    else
        check "$tag.attached" false
    fi
done
for tag in tcp kit ro; do [[ -n "${NODES[$tag]:-}" ]] || { echo BLK_NBD_SETUP_FAILED; exit 1; }; done
load_module crc32c && load_module ext4; check ext4_module $?
log "t=${SECONDS}s devices attached"

# checklist TAG NODE [BACKING]: the block checklist on /dev/NODE (BACKING: the server's file)
# up to the fsync; full_checklist goes on with fio and ext4.
checklist() {
    local t="$1" dev="/dev/$2" file="${3:-}" q="/sys/block/$2/queue"
    check "$t.size_bytes" "$(( $(cat /sys/block/$2/size) * 512 ))"
    check "$t.ro_flag" "$(cat /sys/block/$2/ro)"
    check "$t.mq_count" "$(ls /sys/block/$2/mq | wc -l)"
    check "$t.write_cache" "$(cat $q/write_cache)"
    check "$t.discard_max_bytes_positive" "$(( $(cat $q/discard_max_bytes) > 0 ))"
    check "$t.write_zeroes_max_bytes_positive" "$(( $(cat $q/write_zeroes_max_bytes) > 0 ))"

    # Under emulation a 4 KiB request takes about 15 ms from dd and back: the checks stay small.
    # A pattern over the first 4 MiB, in requests of 1 MiB, 64 KiB and 4 KiB.
    head -c $((4 * MIB)) /dev/urandom >"/tmp/$t.pattern"
    { dd if="/tmp/$t.pattern" of="$dev" bs=1M count=2 oflag=direct status=none &&
      dd if="/tmp/$t.pattern" of="$dev" bs=64k skip=32 seek=32 count=16 oflag=direct status=none &&
      dd if="/tmp/$t.pattern" of="$dev" bs=4k skip=768 seek=768 count=256 oflag=direct status=none; }
    check "$t.dd_write_rc" $?
    dd if="$dev" of="/tmp/$t.readback" bs=1M count=4 iflag=direct status=none; check "$t.dd_read_rc" $?
    cmp -s "/tmp/$t.pattern" "/tmp/$t.readback" && check "$t.pattern_readback" equal || check "$t.pattern_readback" differ
    if [[ -n "$file" ]]; then
        cmp -s -n $((4 * MIB)) "/tmp/$t.pattern" "$file" && check "$t.pattern_backing" equal \
            || check "$t.pattern_backing" differ
    fi

    # Discard the first MiB, write zeroes over the second: zeros there, the pattern after.
    local before; [[ -n "$file" ]] && before=$(allocated "$file")
    blkdiscard -o 0 -l $MIB "$dev"; check "$t.blkdiscard_rc" $?
    [[ -n "$file" ]] && check "$t.discard_freed_bytes" "$(( before - $(allocated "$file") ))"
    blkdiscard -z -o $MIB -l $MIB "$dev"; check "$t.zeroout_rc" $?
    dd if="$dev" of="/tmp/$t.readback" bs=1M count=4 iflag=direct status=none
    cmp -s -n $((2 * MIB)) /dev/zero "/tmp/$t.readback" && check "$t.discard_zeroout_zeros" true \
        || check "$t.discard_zeroout_zeros" false
    cmp -s -i $((2 * MIB)) "/tmp/$t.pattern" "/tmp/$t.readback" && check "$t.rest_intact" true \
        || check "$t.rest_intact" false
    rm -f "/tmp/$t.pattern" "/tmp/$t.readback"

    # A buffered write and its fsync: the kernel sends the device a flush.
    dd if=/dev/urandom of="$dev" bs=4k count=4 seek=1024 conv=fsync status=none; check "$t.fsync_rc" $?
}

full_checklist() {
    local t="$1" dev="/dev/$2"
    checklist "$@"
    log "t=${SECONDS}s $t: fio"
    fio --name="$t" --filename="$dev" --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio --direct=1 \
        --offset=$((8 * MIB)) --size=$MIB --verify=crc32c --do_verify=1 --verify_fatal=1 \
        --eta=never >"$LOGS/fio-$t.log" 2>&1
    check "$t.fio_verify_rc" $?

    mkfs.ext4 -q -F "$dev"; check "$t.mkfs_rc" $?
    mkdir -p "/tmp/mnt-$t" && mount -t ext4 "$dev" "/tmp/mnt-$t"; check "$t.mount_rc" $?
    mkdir -p "/tmp/mnt-$t/data"
    for i in $(seq 1 20); do
        head -c $(( (RANDOM % 64 + 1) * 1024 + RANDOM % 1000 )) /dev/urandom >"/tmp/mnt-$t/data/f$i"
    done
    (cd "/tmp/mnt-$t/data" && sha256sum f* >"/tmp/$t.sums")
    check "$t.files_written" "$(ls "/tmp/mnt-$t/data" | wc -l)"
    umount "/tmp/mnt-$t"; check "$t.umount_rc" $?
    log "t=${SECONDS}s $t: ext4"
    e2fsck -f -n "$dev" >"$LOGS/fsck-$t.log" 2>&1; check "$t.fsck_rc" $?
    blockdev --flushbufs "$dev"
    mount -t ext4 "$dev" "/tmp/mnt-$t"; check "$t.remount_rc" $?
    (cd "/tmp/mnt-$t/data" && sha256sum -c --quiet "/tmp/$t.sums"); check "$t.checksums_rc" $?
    umount "/tmp/mnt-$t"
}

flushes() { grep -c '^.* Flush id=' /tmp/nbdkit.log; }
KIT_FLUSHES_BEFORE=$(flushes)
# Side by side: their CHECK lines (one short write each) go straight to the output.
full_checklist tcp "${NODES[tcp]}" /tmp/tcp.img &
C1=$!
checklist kit "${NODES[kit]}"
wait $C1
check kit.connections "$(grep -o '[0-9]* connections\{0,1\})' "$LOGS/n-kit.log" | head -1 | cut -d' ' -f1)"
check kit.flushes_seen "$(( $(flushes) - KIT_FLUSHES_BEFORE ))"
check kit.trims_seen "$(grep -c ' Trim id=' /tmp/nbdkit.log)"
check kit.zeroes_seen "$(grep -c ' Zero id=' /tmp/nbdkit.log)"
log "t=${SECONDS}s checklists done"

# ---- kit: an injected EIO, then the device serves on --------------------------------------
KIT=/dev/${NODES[kit]}
head -c $((64 << 10)) /dev/urandom >/tmp/kit.block
dd if=/tmp/kit.block of="$KIT" bs=64k seek=100 oflag=direct status=none; check kit.block_write_rc $?
dmesg -c >/dev/null
errors_before=$(grep -c 'error=EIO' /tmp/nbdkit.log)
touch /tmp/nbdkit-fail
dd if="$KIT" of=/dev/null bs=4k skip=1600 count=1 iflag=direct status=none 2>"$LOGS/kit-eio-read.err"
check kit.eio_read_rc $?
dd if=/dev/zero of="$KIT" bs=4k seek=1700 count=1 oflag=direct status=none 2>"$LOGS/kit-eio-write.err"
check kit.eio_write_rc $?
rm -f /tmp/nbdkit-fail
cat "$LOGS/kit-eio-read.err" "$LOGS/kit-eio-write.err"
grep -q 'Input/output error' "$LOGS/kit-eio-read.err" && check kit.eio_read_error eio || check kit.eio_read_error other
grep -q 'Input/output error' "$LOGS/kit-eio-write.err" && check kit.eio_write_error eio || check kit.eio_write_error other
check kit.server_eio_replies "$(( $(grep -c 'error=EIO' /tmp/nbdkit.log) - errors_before ))"
dmesg | grep -i 'error' | tail -5
kill -0 "${PIDS[kit]}" 2>/dev/null && check kit.alive_after_eio true || check kit.alive_after_eio false
dd if="$KIT" of=/tmp/kit.readback bs=64k skip=100 count=1 iflag=direct status=none; check kit.after_eio_read_rc $?
cmp -s /tmp/kit.block /tmp/kit.readback && check kit.after_eio_readback equal || check kit.after_eio_readback differ
dd if=/tmp/kit.block of="$KIT" bs=64k seek=200 oflag=direct status=none; check kit.after_eio_write_rc $?
log "t=${SECONDS}s eio done"

# ---- kit: 5 ms a read at QD1; at QD16 many reads on the wire at once ------------------------
# terse v3: field 8 the read IOPS, field 40 the mean total latency in microseconds. Under
# emulation the guest's CPU, not the delay, bounds QD16's IOPS; what shows the reads overlap is
# the server's log: the most reads it had begun and not yet answered at one time.
for qd in 1 16; do
    from=$(wc -l </tmp/nbdkit.log)
    fio --name=lat --filename="$KIT" --rw=randread --bs=4k --iodepth=$qd --ioengine=libaio --direct=1 \
        --size=$((16 * MIB)) --runtime=3 --time_based --minimal 2>/dev/null >"$LOGS/kit-qd$qd.terse"
    check "kit.qd${qd}_iops" "$(awk -F';' '{ printf "%d", $8 }' "$LOGS/kit-qd$qd.terse")"
    check "kit.qd${qd}_lat_us" "$(awk -F';' '{ printf "%d", $40 }' "$LOGS/kit-qd$qd.terse")"
    check "kit.qd${qd}_server_overlap" "$(tail -n +$((from + 1)) /tmp/nbdkit.log | awk '
        / \.\.\.Read id=/ { n--; next } / Read id=/ { if (++n > max) max = n } END { print max + 0 }')"
done
log "t=${SECONDS}s latency done"

# ---- ro: the server's read-only export, its size and its bytes ----------------------------
RO=/dev/${NODES[ro]}
check ro.size_bytes "$(( $(cat /sys/block/${NODES[ro]}/size) * 512 ))"
check ro.ro_flag "$(cat /sys/block/${NODES[ro]}/ro)"
dd if="$RO" of=/tmp/ro.readback bs=1M iflag=direct status=none; check ro.read_rc $?
cmp -s /tmp/ro.img /tmp/ro.readback && check ro.readback equal || check ro.readback differ
dd if=/dev/zero of="$RO" bs=4k count=1 oflag=direct status=none 2>"$LOGS/ro-write.err"; check ro.write_rc $?
cat "$LOGS/ro-write.err"
cmp -s -n $((4 << 10)) /tmp/ro.img /tmp/ro.readback && check ro.file_unchanged true || check ro.file_unchanged false
log "t=${SECONDS}s ro done"

# ---- tcp: qemu-nbd killed mid-fio and started again ----------------------------------------
TCP=/dev/${NODES[tcp]}
fio --name=restart --filename="$TCP" --rw=randwrite --bs=4k --size=$((3 * MIB)) --ioengine=libaio --direct=1 \
    --iodepth=8 --verify=crc32c --do_verify=1 --verify_fatal=1 --eta=never --output="$LOGS/fio-restart.out" &
FIO=$!
writes0=$(awk '{print $5}' "/sys/block/${NODES[tcp]}/stat")
for _ in $(seq 1 600); do
    (( $(awk '{print $5}' "/sys/block/${NODES[tcp]}/stat") - writes0 > 150 )) && break
    sleep 0.1
done
check tcp.writes_before_kill "$(( $(awk '{print $5}' "/sys/block/${NODES[tcp]}/stat") - writes0 ))"
kill -KILL "$(cat /tmp/qnbd-tcp.pid)"; check tcp.server_killed $?
sleep 3
check tcp.inflight_while_down "$(awk '{print $1 + $2}' "/sys/block/${NODES[tcp]}/inflight")"
rm -f /tmp/qnbd-tcp.pid
"${QEMU_NBD_TCP[@]}"; check tcp.server_restarted_rc $?
for _ in $(seq 1 400); do
    kill -0 "$FIO" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$FIO" 2>/dev/null; then
    check tcp.fio_finished false
    kill -KILL "$FIO"
    log "in flight on the device (reads, writes):"; cat "/sys/block/${NODES[tcp]}/inflight"
    log "vduse-blk n-tcp log:"; cat "$LOGS/n-tcp.log"
    exit 1  # vdpa dev del would wait for the requests in flight
fi
check tcp.fio_finished true
wait "$FIO"; check tcp.fio_rc $?
cat "$LOGS/fio-restart.out"
check tcp.verify_failures "$(grep -c -i -E 'verify failed|bad magic|bad header|verify: bad' "$LOGS/fio-restart.out")"
check tcp.reconnected "$(grep -c 'reconnected' "$LOGS/n-tcp.log")"
log "t=${SECONDS}s restart done"

# ---- stop ------------------------------------------------------------------------------------
for tag in tcp kit ro; do
    vdpa dev del "n-$tag"; check "$tag.detached" $?
    stop_dev "n-$tag" "${PIDS[$tag]}"
    check "$tag.stop_rc" "$STOP_RC"
    if [[ "${NBD_DEVICE:-ours}" == qsd ]]; then
        [[ -e /dev/vduse/n-$tag ]] && check "$tag.destroyed" false || check "$tag.destroyed" true
    else
        grep -q 'destroyed' "$LOGS/n-$tag.log" && check "$tag.destroyed" true || check "$tag.destroyed" false
    fi
done
kill "$(cat /tmp/qnbd-tcp.pid)" "$(cat /tmp/nbdkit.pid)" 2>/dev/null
echo BLK_NBD_DONE
