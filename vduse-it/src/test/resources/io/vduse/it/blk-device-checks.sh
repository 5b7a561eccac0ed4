#!/bin/bash
# Real-kernel checks of the vduse-blk tool, in one guest boot (BlkDeviceTest asserts on the
# CHECK lines): the Linux virtio-blk driver attaches; a pattern written with O_DIRECT over the
# whole device reads back equal and equals the backing file; DISCARD punches holes and
# WRITE_ZEROES reads back zeros; a resize of the backing file reaches /sys/block/vda/size; an
# ext4 file system survives e2fsck and a remount with every checksum; a second device with two
# queues shows them in /sys/block/vda/mq, and a read-only one refuses writes; with
# --user-bounce-memory a pattern and fio's verify read back, before and after a reattach.
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp

SIZE=$((64 << 20))
# The backing files live on ext4 over a brd ramdisk, where vduse-blk serves them on io_uring.
backing_on_ext4 192
IMG=/tmp/ext4/disk.img

# ---- (1) attach, pattern over the whole device ---------------------------------------------
start_dev blk0 --file "$IMG" --size 64M --serial it-serial-0 --stats-interval 30 || { check started false; exit 1; }
check started true
attach blk0 || { check attached false; exit 1; }
check attached true
check size_sectors "$(cat /sys/block/vda/size)"
check serial "$(cat /sys/block/vda/serial 2>/dev/null)"
check discard_max_bytes "$(cat /sys/block/vda/queue/discard_max_bytes)"
check write_zeroes_max_bytes "$(cat /sys/block/vda/queue/write_zeroes_max_bytes)"
check mq_count "$(ls /sys/block/vda/mq | wc -l)"

head -c "$SIZE" /dev/urandom >/tmp/pattern
dd if=/tmp/pattern of=/dev/vda bs=1M oflag=direct status=none; check dd_write_rc $?
dd if=/dev/vda of=/tmp/readback bs=1M iflag=direct status=none; check dd_read_rc $?
cmp -s /tmp/pattern /tmp/readback && check pattern_readback equal || check pattern_readback differ
cmp -s /tmp/pattern "$IMG" && check pattern_backing equal || check pattern_backing differ
rm -f /tmp/readback

# ---- (3a) discard and write-zeroes reach the backing file ---------------------------------
before=$(allocated "$IMG")
blkdiscard -o 0 -l $((16 << 20)) /dev/vda; check blkdiscard_rc $?
after=$(allocated "$IMG")
check allocated_before "$before"
check allocated_after_discard "$after"
cmp -s -n $((16 << 20)) /dev/zero "$IMG" && check discard_backing_zeros true || check discard_backing_zeros false
blkdiscard -z -o $((16 << 20)) -l $((16 << 20)) /dev/vda; check zeroout_rc $?
dd if=/dev/vda of=/tmp/zeroed bs=1M skip=16 count=16 iflag=direct status=none
cmp -s -n $((16 << 20)) /dev/zero /tmp/zeroed && check zeroout_device_zeros true || check zeroout_device_zeros false
rm -f /tmp/zeroed
cmp -s -i $((32 << 20)) /tmp/pattern "$IMG" && check untouched_half_intact true || check untouched_half_intact false
rm -f /tmp/pattern

# ---- (3b) resize: the backing file grows, the driver hears of it --------------------------
truncate -s 96M "$IMG"
for _ in $(seq 1 50); do
    [[ "$(cat /sys/block/vda/size)" == $((96 << 11)) ]] && break
    sleep 0.2
done
check resized_sectors "$(cat /sys/block/vda/size)"

# ---- (2) ext4: many files, fsck, remount, checksums --------------------------------------
# ext4 checksums its metadata with the kernel's crc32c, a module the initramfs does not carry.
load_module crc32c && load_module ext4; check ext4_module $?
mkfs.ext4 -q -F /dev/vda; check mkfs_rc $?
mkdir -p /tmp/mnt
mount -t ext4 /dev/vda /tmp/mnt; check mount_rc $?
mkdir -p /tmp/mnt/data
for i in $(seq 1 200); do
    head -c $(( (RANDOM % 64 + 1) * 1024 + RANDOM % 1000 )) /dev/urandom >"/tmp/mnt/data/f$i"
done
(cd /tmp/mnt/data && sha256sum f* >/tmp/sums)
check files_written "$(ls /tmp/mnt/data | wc -l)"
umount /tmp/mnt; check umount_rc $?
e2fsck -f -n /dev/vda >"$LOGS/fsck.log" 2>&1; check fsck_rc $?
cat "$LOGS/fsck.log"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 /dev/vda /tmp/mnt; check remount_rc $?
(cd /tmp/mnt/data && sha256sum -c --quiet /tmp/sums) ; check checksums_rc $?
umount /tmp/mnt

detach blk0; check detached $?
stop_dev blk0
check stop_rc "$STOP_RC"
grep -q 'destroyed' "$LOGS/blk0.log" && check destroyed true || check destroyed false
[[ -e /dev/vduse/blk0 ]] && check devnode_after_stop present || check devnode_after_stop absent

# ---- (3c) two queues, read-only ----------------------------------------------------------
start_dev blk1 --file "$IMG" --num-queues 2 --read-only || { check ro_started false; exit 1; }
check ro_started true
attach blk1 || { check ro_attached false; exit 1; }
check ro_mq_count "$(ls /sys/block/vda/mq | wc -l)"
check ro_flag "$(cat /sys/block/vda/ro)"
dd if=/dev/zero of=/dev/vda bs=4k count=1 oflag=direct status=none 2>"$LOGS/ro-dd.err"; check ro_write_rc $?
cat "$LOGS/ro-dd.err"
dd if=/dev/vda of=/dev/null bs=1M iflag=direct status=none; check ro_read_rc $?
detach blk1
stop_dev blk1
check ro_stop_rc "$STOP_RC"

# ---- (3d) every --aio engine: io_uring served everything above (the default); threads, sync --
# The threads device is the fallback: started with the default engine while the kernel refuses
# io_uring to every process (kernel.io_uring_disabled=2, Linux 6.6 on), it must say so and serve
# on I/O threads.
check aio_default "$(sed -n 's/^vduse-blk: device blk0 serves .*, aio \([a-z_]*\).*/\1/p' "$LOGS/blk0.log")"
declare -A AIO_PIDS
echo 2 >/proc/sys/kernel/io_uring_disabled; check aio_uring_disabled_rc $?
launch_dev aio-threads --file /tmp/ext4/aio-threads.img --size 16M --num-queues 2
AIO_PIDS[threads]=$DEV_PID
await_dev aio-threads "$DEV_PID"
echo 0 >/proc/sys/kernel/io_uring_disabled
check aio_fallback_line "$(grep -c '^vduse-blk: --aio io_uring: no io_uring here (.*EPERM' "$LOGS/aio-threads.log")"
launch_dev aio-sync --file /tmp/ext4/aio-sync.img --size 16M --num-queues 2 --aio sync
AIO_PIDS[sync]=$DEV_PID
for engine in threads sync; do
    await_dev "aio-$engine" "${AIO_PIDS[$engine]}" || { check "aio_${engine}_started" false; continue; }
    check "aio_${engine}_engine" "$(sed -n 's/^vduse-blk: device .* serves .*, aio \([a-z_]*\).*/\1/p' \
        "$LOGS/aio-$engine.log")"
    attach "aio-$engine" || { check "aio_${engine}_attached" false; continue; }
    fio --name="aio-$engine" --filename=/dev/vda --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio \
        --direct=1 --size=4M --verify=crc32c --do_verify=1 >"$LOGS/aio-$engine-fio.log" 2>&1
    check "aio_${engine}_fio_verify_rc" $?
    head -c $((8 << 20)) /dev/urandom >/tmp/aio-pattern
    dd if=/tmp/aio-pattern of=/dev/vda bs=1M seek=8 oflag=direct status=none
    cmp -s -n $((8 << 20)) -i 0:$((8 << 20)) /tmp/aio-pattern "/tmp/ext4/aio-$engine.img" \
        && check "aio_${engine}_backing" equal || check "aio_${engine}_backing" differ
    detach "aio-$engine"
    stop_dev "aio-$engine" "${AIO_PIDS[$engine]}"
    grep -q 'destroyed' "$LOGS/aio-$engine.log" && check "aio_${engine}_destroyed" true \
        || check "aio_${engine}_destroyed" false
    rm -f /tmp/aio-pattern "/tmp/ext4/aio-$engine.img"
done

# ---- user bounce memory, two queues; then stopping while attached ------------------------
# The kernel bounces through vduse-blk's own memory from the attach's first reads on; a pattern
# and fio's verify must read back; a reattach (a reset) gives the memory back and takes it again.
start_dev blk2 --size 8M --num-queues 2 --user-bounce-memory || exit 1
attach blk2 || exit 1
head -c $((8 << 20)) /dev/urandom >/tmp/pattern2
dd if=/tmp/pattern2 of=/dev/vda bs=64k oflag=direct status=none; check umem_dd_write_rc $?
dd if=/dev/vda of=/tmp/readback2 bs=64k iflag=direct status=none; check umem_dd_read_rc $?
cmp -s /tmp/pattern2 /tmp/readback2 && check umem_pattern_readback equal || check umem_pattern_readback differ
check umem_vmpin "$(awk '/^VmPin/ {print $2}' /proc/$DEV_PID/status)"
fio --name=umem --filename=/dev/vda --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio --direct=1 \
    --size=4M --verify=crc32c --do_verify=1 --numjobs=1 >"$LOGS/umem-fio.log" 2>&1; check umem_fio_verify_rc $?
tail -5 "$LOGS/umem-fio.log"
dd if=/dev/vda of=/tmp/readback2 bs=64k iflag=direct status=none
vdpa dev del blk2; attach blk2; check umem_reattached $?
dd if=/dev/vda of=/tmp/readback3 bs=64k iflag=direct status=none
cmp -s /tmp/readback2 /tmp/readback3 && check umem_reattach_readback equal || check umem_reattach_readback differ
sleep 0.5
check umem_switches "$(grep -c "own memory now" "$LOGS/blk2.log")"
rm -f /tmp/pattern2 /tmp/readback2 /tmp/readback3
stop_dev blk2
grep -q 'vdpa dev del blk2' "$LOGS/blk2.log" && check attached_stop_hint true || check attached_stop_hint false
check attached_stop_rc "$STOP_RC"
echo BLK_CHECKS_DONE
