#!/bin/bash
# A real VM on our vduse-blk through vhost-vdpa, inside the guest: trixie's qemu-system-x86_64
# (TCG inside TCG: about a minute to its userspace) boots the guest's own kernel with a busybox
# initramfs made here, and its only disk is our device:
#   -blockdev driver=virtio-blk-vhost-vdpa,node-name=d0,path=/dev/vhost-vdpa-N,cache.direct=on
#   -device virtio-blk-pci,drive=d0
# In the VM, Linux's virtio-blk driver writes a 4 MiB random pattern to /dev/vda with O_DIRECT,
# reads it back and compares; after the VM is off and the device stopped, the backing file holds
# the pattern. VdpaVmTest asserts on the "CHECK vm.NAME=VALUE" lines.
#
# Environment: as vdpa-blk-checks.sh (BLK, TRIXIE_ROOT, what blk-common.sh needs); VM_TIMEOUT,
# the bound of the VM in seconds (default 480).
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp

ROOT="${TRIXIE_ROOT:?TRIXIE_ROOT: the root make-trixie-root prints}"
source "$(dirname "$0")/vdpa-common.sh"

# ---- the VM's kernel (the one this guest booted) and initramfs --------------------------------
kver=$(uname -r)
if [[ -n "${VDUSE_GUEST_KERNEL_DIR:-}" ]]; then
    kdir="$VDUSE_GUEST_KERNEL_DIR"
elif [[ "${KERNEL_MODULES:-}" == */lib/modules/* ]]; then
    kdir="${KERNEL_MODULES%/lib/modules/*}"
else
    kdir=""
fi
first_file() { local f; for f in "$@"; do [[ -f "$f" ]] && { echo "$f"; return 0; }; done; return 1; }
vmlinuz=$(first_file "$kdir/boot/vmlinuz-$kver" "$kdir/usr/boot/vmlinuz-$kver" "/boot/vmlinuz-$kver") \
    || { check vm.setup "no vmlinuz-$kver under '$kdir' or /boot"; exit 1; }
# Only virtio_blk is a module in Debian's kernel; virtio and virtio_pci are built in.
virtio_blk=$(find "$kdir/lib/modules/$kver" "$kdir/usr/lib/modules/$kver" "/lib/modules/$kver" \
    -name 'virtio_blk.ko*' 2>/dev/null | head -n 1)
[[ -n "$virtio_blk" ]] || { check vm.setup "no virtio_blk module of $kver"; exit 1; }
deps=$(modinfo -F depends "$virtio_blk")
[[ -z "$deps" ]] || { check vm.setup "virtio_blk needs modules this script does not pack: $deps"; exit 1; }

vmroot=/tmp/vm-initramfs
mkdir -p "$vmroot"/{bin,dev,proc,sys}
cp /bin/busybox "$vmroot/bin/busybox"
case "$virtio_blk" in
    *.xz) xz -dc "$virtio_blk" >"$vmroot/virtio_blk.ko" ;;
    *.zst) zstd -qdc "$virtio_blk" >"$vmroot/virtio_blk.ko" ;;
    *) cp "$virtio_blk" "$vmroot/virtio_blk.ko" ;;
esac
head -c $((4 << 20)) /dev/urandom >/tmp/vm-pattern
cp /tmp/vm-pattern "$vmroot/pattern"
cat >"$vmroot/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VM_CHECK userspace=true"
insmod /virtio_blk.ko; echo "VM_CHECK insmod=$?"
for i in $(seq 1 100); do [ -b /dev/vda ] && break; sleep 0.1; done
echo "VM_CHECK vda_sectors=$(cat /sys/block/vda/size 2>/dev/null)"
dd if=/pattern of=/dev/vda bs=1M oflag=direct conv=fsync 2>/dev/console; echo "VM_CHECK write_rc=$?"
dd if=/dev/vda of=/readback bs=1M count=4 iflag=direct 2>/dev/console; echo "VM_CHECK read_rc=$?"
if cmp /pattern /readback; then echo "VM_CHECK readback=equal"; else echo "VM_CHECK readback=differ"; fi
sync
echo "VM_CHECK done=true"
poweroff -f
INIT
chmod 0755 "$vmroot/init"
(cd "$vmroot" && find . | cpio -o -H newc --quiet) | gzip -1 >/tmp/vm-initramfs.cpio.gz
cp "$vmlinuz" /tmp/vm-vmlinuz
check vm.setup ok

# ---- our device, bound to vhost_vdpa, as the VM's disk ----------------------------------------
NAME=vdpa-vm
start_dev "$NAME" --file /tmp/vm.img --size 64M || { check vm.started false; exit 1; }
check vm.started true
vhost_attach "$NAME" || { check vm.attached false; exit 1; }
check vm.attached true

log "VM starts ($(date +%T))"
start=$(date +%s)
# Guest RAM in a shared memfd: vhost-vdpa hands VDUSE the file behind each mapping.
timeout --kill-after=10 "${VM_TIMEOUT:-480}" chroot "$ROOT" qemu-system-x86_64 \
    -accel tcg -machine pc,memory-backend=mem -cpu max -smp 1 -m 256 \
    -object memory-backend-memfd,id=mem,size=256M,share=on \
    -display none -nodefaults -no-user-config -no-reboot -monitor none \
    -serial file:/tmp/vm-console.log \
    -kernel /tmp/vm-vmlinuz -initrd /tmp/vm-initramfs.cpio.gz \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet" \
    -blockdev "driver=virtio-blk-vhost-vdpa,node-name=d0,path=$VHOST,cache.direct=on" \
    -device virtio-blk-pci,drive=d0 \
    >"$LOGS/vm-qemu.log" 2>&1
rc=$?
log "VM exited with $rc after $(( $(date +%s) - start )) s ($(date +%T)); QEMU said:"; cat "$LOGS/vm-qemu.log"
log "VM console:"; tr -d '\r' </tmp/vm-console.log
check vm.qemu_rc "$rc"
check vm.seconds "$(( $(date +%s) - start ))"
tr -d '\r' </tmp/vm-console.log | sed -n 's/^VM_CHECK \([a-z_]*\)=\(.*\)$/CHECK vm.\1=\2/p'

vdpa dev del "$NAME" || log "vdpa dev del $NAME failed"
stop_dev "$NAME"
if cmp -n $((4 << 20)) /tmp/vm-pattern /tmp/vm.img; then check vm.backing equal; else check vm.backing differ; fi
echo VDPA_VM_DONE
