#!/bin/bash
# A real VM on our vduse-blk through vhost-vdpa, inside the guest: trixie's qemu-system-x86_64
# (TCG inside TCG) boots a Debian kernel with a busybox initramfs made here. Its two
# disks are two vduse-blk devices, attached the two ways QEMU has:
#   vm-blkio    -blockdev driver=virtio-blk-vhost-vdpa,node-name=d0,path=/dev/vhost-vdpa-N,cache.direct=on
#               -device virtio-blk-pci,drive=d0,serial=vm-blkio      (libblkio: QEMU's block layer in between)
#   vm-generic  -device vhost-vdpa-device-pci,vhostdev=/dev/vhost-vdpa-M  (generic vDPA passthrough: the
#               VM's driver talks to our device; config space and GET_ID are ours, serial vm-generic)
# In the VM, Linux's virtio-blk driver tells them apart by serial and runs a loop of rounds: each
# writes 256 KiB of random data to each disk with O_DIRECT, reads it back and compares; rounds take
# turns over SLOTS such slots at the start of the disk, each disk with a random pattern of its own.
# (Small on purpose: in TCG inside TCG every MiB copied and compared costs tens of seconds.) While the loop runs, this script, over QMP:
#   1. hot-plugs 128 MiB (object-add memory-backend-memfd + device_add pc-dimm): QEMU maps the new
#      memory for both devices, which VDUSE passes on as UPDATE_IOTLB (whole range) to each; the
#      devices' counters (SIGUSR1) are read before and after;
#   2. stops the VM and lets it go on (stop, cont): for vhost-vdpa-device-pci QEMU suspends the
#      device (VHOST_VDPA_SUSPEND, our VDUSE_SUSPEND on Linux 7.3; 6.12 has no suspend and QEMU
#      resets instead), reads the ring bases, resets it, and on cont sets it up again from them;
#   3. tells the VM, on its second serial port, to finish the round it is in and power off.
# Each event is followed by rounds that started after it, so I/O provably ran across it. After
# the VM is off and the devices stopped, each backing file holds its pattern where it was written.
# VdpaVmTest asserts on the "CHECK vm.NAME=VALUE" lines.
#
# Environment: as vdpa-blk-checks.sh (BLK, TRIXIE_ROOT, what blk-common.sh needs); VM_TIMEOUT,
# the bound of the VM in seconds (default 1800); VM_KERNEL_SERIES (below).
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp

ROOT="${TRIXIE_ROOT:?TRIXIE_ROOT: the root make-trixie-root prints}"
VM_TIMEOUT="${VM_TIMEOUT:-1800}"
DISKS=(blkio generic)
SLOT=$((256 << 10))    # bytes a round writes to each disk, at (round % SLOTS) * SLOT (1 MiB took ~45 s a round)
SLOTS=2
# The VM's kernel skips what costs time under emulation and proves nothing here: the crypto
# self-tests (a 6.12 VM on a loaded machine was still in them 560 s into its boot), the
# speculation mitigations (code patching at boot, a cost on every system call) and zeroing each
# page allocated or freed; and it keeps the TSC as its clock (as run-in-guest does for the guest:
# see there) instead of falling back to the emulated HPET when the machine is busy.
# It also skips, with initcall_blacklist, the slowest initcalls it has no use for (timed with
# initcall_debug in the same VM under plain TCG: together about a quarter of its boot): the
# jitter-entropy RNG's self-measurement, the trace-event table, the built-in certificates, BPF's
# TCP congestion kfuncs and IPv6.
VM_APPEND="tsc=reliable cryptomgr.notests mitigations=off init_on_alloc=0 init_on_free=0"
VM_APPEND+=" initcall_blacklist=jent_mod_init,trace_eval_init,load_system_certificate_list,bpf_tcp_ca_kfunc_init,inet6_init"
source "$(dirname "$0")/vdpa-common.sh"
t() { date +%s; }
started_at=$(t)

# ---- the VM's kernel and initramfs ------------------------------------------------------------
# The VM boots a kernel of series VM_KERNEL_SERIES from run-in-guest's cache (default 6.12: Debian's
# 6.12 bzImage is the one seen booting in a VM under TCG inside TCG, in about 7 minutes; what the
# devices answer depends on the guest's kernel, not the VM's), or the guest's own kernel when
# VM_KERNEL_SERIES is empty. (7.3 as an uncompressed ELF through its PVH entry point, faster under
# plain TCG, took 465 s of kernel time to userspace and about 350 s before its kernel started.)
VM_KERNEL_SERIES="${VM_KERNEL_SERIES-6.12}"
if [[ -n "$VM_KERNEL_SERIES" ]]; then
    kdir="${VDUSE_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vduse-java/guest}/kernel/$VM_KERNEL_SERIES/current"
    kver=$(ls "$kdir/lib/modules" 2>/dev/null | head -n 1)
elif [[ -n "${VDUSE_GUEST_KERNEL_DIR:-}" ]]; then
    kdir="$VDUSE_GUEST_KERNEL_DIR"
    kver=$(uname -r)
elif [[ "${KERNEL_MODULES:-}" == */lib/modules/* ]]; then
    kdir="${KERNEL_MODULES%/lib/modules/*}"
    kver=$(uname -r)
else
    kdir=""
    kver=$(uname -r)
fi
[[ -n "$kver" ]] || { check vm.setup "no kernel of series $VM_KERNEL_SERIES under $kdir (vduse-it/guest/fetch-kernel --series $VM_KERNEL_SERIES)"; exit 1; }
check vm.vm_kernel "$kver"
first_file() { local f; for f in "$@"; do [[ -f "$f" ]] && { echo "$f"; return 0; }; done; return 1; }
# 6.12 (bookworm-backports) has boot/vmlinuz-VERSION; 7.3 (trixie-backports) lib/modules/VERSION/vmlinuz.
vmlinuz=$(first_file "$kdir/boot/vmlinuz-$kver" "$kdir/usr/boot/vmlinuz-$kver" "$kdir/lib/modules/$kver/vmlinuz" \
    "$kdir/usr/lib/modules/$kver/vmlinuz" "/boot/vmlinuz-$kver") \
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
for disk in "${DISKS[@]}"; do
    head -c $(( SLOTS * SLOT )) /dev/urandom >"/tmp/vm-pattern-$disk"
    for (( slot = 0; slot < SLOTS; slot++ )); do
        dd if="/tmp/vm-pattern-$disk" of="$vmroot/pattern-$disk-$slot" bs="$SLOT" skip="$slot" count=1 status=none
    done
done
# VM_CHECK lines become CHECK vm.* lines here; VM_ROUND lines tell this script how far the loop got.
cat >"$vmroot/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "VM_CHECK \$*"; }
uptime_s() { cut -d. -f1 /proc/uptime; }
memtotal() { sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
say userspace=true
say userspace_uptime=\$(uptime_s)
insmod /virtio_blk.ko; say insmod=\$?
for i in \$(seq 1 300); do [ -b /dev/vda ] && [ -b /dev/vdb ] && break; sleep 0.1; done
blkio=""; generic=""
for d in /sys/block/vd*; do
    [ -e "\$d" ] || continue
    case "\$(cat \$d/serial 2>/dev/null)" in
        vm-blkio) blkio=/dev/\${d##*/} ;;
        vm-generic) generic=/dev/\${d##*/} ;;
    esac
done
say blkio_disk=\${blkio:-none}
say generic_disk=\${generic:-none}
[ -n "\$blkio" ] && say blkio_sectors=\$(cat /sys/block/\${blkio#/dev/}/size)
[ -n "\$generic" ] && say generic_sectors=\$(cat /sys/block/\${generic#/dev/}/size)
if [ -z "\$blkio" ] || [ -z "\$generic" ]; then
    ls -l /sys/block/; poweroff -f
fi
say memtotal_kb_before=\$(memtotal)
# The script's word to stop comes on ttyS1, the second serial port; its data is dropped while
# the port is closed, so it is opened before the loop says it runs.
stty -F /dev/ttyS1 -echo 2>/dev/null
exec 3</dev/ttyS1
say loop=started
round=0; bad=""
while :; do
    slot=\$(( round % $SLOTS ))
    for disk in blkio generic; do
        eval dev=\\\$\$disk
        if ! dd if=/pattern-\$disk-\$slot of=\$dev bs=$SLOT seek=\$slot oflag=direct conv=fsync 2>/dd.err; then
            cat /dd.err; bad="\$bad \$disk-write-\$round"
        fi
        if ! dd if=\$dev of=/readback bs=$SLOT skip=\$slot count=1 iflag=direct 2>/dd.err; then
            cat /dd.err; bad="\$bad \$disk-read-\$round"
        fi
        cmp -s /pattern-\$disk-\$slot /readback || bad="\$bad \$disk-differ-\$round"
    done
    round=\$((round + 1))
    echo "VM_ROUND \$round \$(uptime_s)"
    [ -z "\$bad" ] || break
    if read -t 1 word <&3 && [ "\$word" = stop ]; then break; fi
done
say rounds=\$round
say readback=\${bad:-equal}
say memtotal_kb_after=\$(memtotal)
sync
say done=true
say done_uptime=\$(uptime_s)
poweroff -f
INIT
chmod 0755 "$vmroot/init"
# Not compressed: the VM's kernel would unpack it in TCG inside TCG, and the patterns are random.
(cd "$vmroot" && find . | cpio -o -H newc --quiet) >/tmp/vm-initramfs.cpio

kernel=/tmp/vm-vmlinuz
cp "$vmlinuz" "$kernel"
check vm.setup ok

# ---- our two devices, bound to vhost_vdpa ------------------------------------------------------
# Both JVMs start side by side; each device then serves one of the VM's disks.
declare -A PIDS VHOSTS
# The generic device's rings are 1024 entries: QEMU (10.0) gives vhost-vdpa-device-pci's virtqueues
# 1024 entries whatever VHOST_VDPA_GET_VRING_NUM says (its queue-size property reads 256 and the
# VM's driver is still offered 1024), and firmware (SeaBIOS) shrinks that to 256 but Linux takes all
# 1024; with a device of 256, vhost-vdpa refuses the VM's VHOST_SET_VRING_NUM (EINVAL) and QEMU's
# device never starts. (Seen with QEMU's trace of vhost_vdpa_set_vring_num: 256 for SeaBIOS, then
# 1024 for Linux.)
for disk in "${DISKS[@]}"; do
    ring=()
    [[ "$disk" == generic ]] && ring=(--queue-size 1024)
    launch_dev "vm-$disk" --file "/tmp/vm-$disk.img" --size 64M "${ring[@]}"
    PIDS[$disk]=$DEV_PID
done
for disk in "${DISKS[@]}"; do
    await_dev "vm-$disk" "${PIDS[$disk]}" || { check vm.started false; exit 1; }
done
check vm.started true
for disk in "${DISKS[@]}"; do
    vhost_attach "vm-$disk" || { check vm.attached false; exit 1; }
    VHOSTS[$disk]=$VHOST
done
check vm.attached true
log "devices ready $(( $(t) - started_at )) s after the script started"

# ---- the VM -----------------------------------------------------------------------------------
# Guest RAM (and the hot-plugged memory) in shared memfds: vhost-vdpa hands VDUSE the file behind
# each mapping. QMP and the VM's ttyS1 are pipe chardevs: FIFOs this script writes and reads.
qmp_fifos /tmp/vm-qmp
qmp_fifos /tmp/vm-ctl
rm -f /tmp/vm-console.log
log "VM starts ($(date +%T))"
vm_start=$(t)
# qboot instead of SeaBIOS where the root has it: it only loads the kernel (no disk probing, no
# option ROMs), which under TCG inside TCG saves a minute or more before the kernel starts.
firmware=()
[[ -f "$ROOT/usr/share/qemu/qboot.rom" ]] && firmware=(-bios /usr/share/qemu/qboot.rom)
check vm.firmware "${firmware[1]:-seabios}"
timeout --kill-after=10 "$VM_TIMEOUT" chroot "$ROOT" qemu-system-x86_64 \
    -accel tcg -machine pc,memory-backend=mem -cpu max -smp 1 -m 256M,slots=2,maxmem=1G "${firmware[@]}" \
    -object memory-backend-memfd,id=mem,size=256M,share=on \
    -display none -nodefaults -no-user-config -no-reboot -monitor none \
    -chardev pipe,id=qmp,path=/tmp/vm-qmp -mon chardev=qmp,mode=control \
    -serial file:/tmp/vm-console.log \
    -chardev pipe,id=ctl,path=/tmp/vm-ctl -serial chardev:ctl \
    -kernel "$kernel" -initrd /tmp/vm-initramfs.cpio \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet $VM_APPEND" \
    -blockdev "driver=virtio-blk-vhost-vdpa,node-name=d0,path=${VHOSTS[blkio]},cache.direct=on" \
    -device virtio-blk-pci,drive=d0,serial=vm-blkio \
    -device "vhost-vdpa-device-pci,vhostdev=${VHOSTS[generic]}" \
    </dev/null >"$LOGS/vm-qemu.log" 2>&1 &
vm_pid=$!
# Opened now, so that the VM's echo on ttyS1 (if any) can never fill the FIFO and hold QEMU up.
exec 6<>/tmp/vm-ctl.out
# The VM's console as it comes, each line with the seconds since the VM started (tail ends with QEMU).
touch /tmp/vm-console.log
tail --pid="$vm_pid" -n +1 -F /tmp/vm-console.log 2>/dev/null | while IFS= read -r line; do
    printf -- '--- vm +%ss: %s\n' "$(( $(t) - vm_start ))" "${line%$'\r'}"
done &
tail_pid=$!

console() { tr -d '\r' </tmp/vm-console.log 2>/dev/null; }
rounds_done() { console | sed -n 's/^VM_ROUND \([0-9]*\) .*/\1/p' | tail -n 1 | grep . || echo 0; }
vm_running() { kill -0 "$vm_pid" 2>/dev/null; }
# wait_for WHAT COMMAND...: polls COMMAND until it succeeds; 1 when the VM is gone (its bound,
# VM_TIMEOUT, is the only one: how long TCG inside TCG takes depends on the machine's load).
wait_for() {
    local what="$1"; shift
    until "$@"; do
        if ! vm_running; then
            log "gave up waiting for $what: the VM ended after $(( $(t) - vm_start )) s"; return 1
        fi
        sleep 1
    done
}
loop_started() { console | grep -q '^VM_CHECK loop=started'; }
rounds_at_least() { (( $(rounds_done) >= $1 )); }
# snapshot TAG: every device's counters now, as CHECK vm.DISK.TYPE_TAG lines and in COUNT[DISK.TYPE_TAG].
declare -A COUNT
snapshot() {
    local disk type
    for disk in "${DISKS[@]}"; do
        counters "vm-$disk" "${PIDS[$disk]}" || return 1
        for type in UPDATE_IOTLB SUSPEND; do
            COUNT[$disk.${type}_$1]=$(control_count "vm-$disk" "$type")
            check "vm.$disk.${type}_$1" "${COUNT[$disk.${type}_$1]}"
        done
    done
}

events() {
    qmp_open /tmp/vm-qmp 120 || { check vm.qmp "no QMP greeting"; return 1; }
    check vm.qmp ok
    wait_for "the VM's loop" loop_started || return 1
    check vm.loop_started_after "$(( $(t) - vm_start ))"
    wait_for "a first round" rounds_at_least 1 || return 1

    # 1. Memory hot-plug while the loop runs.
    snapshot before_hotplug || return 1
    local c out
    c=$(rounds_done)
    check vm.hotplug_at_round "$c"
    if out=$(qmp object-add '{"qom-type":"memory-backend-memfd","id":"hp0","size":134217728,"share":true}') \
        && out=$(qmp device_add '{"driver":"pc-dimm","id":"dimm0","memdev":"hp0"}'); then
        check vm.hotplug ok
    else
        check vm.hotplug "$(one_line "$out")"
    fi
    snapshot after_hotplug || return 1
    wait_for "a round after the hot-plug" rounds_at_least $(( c + 2 )) || return 1
    check vm.rounds_after_hotplug ok

    # 2. Stop and cont while the loop runs. QEMU answers stop once the VM's CPU and devices are
    # stopped, so the console holds the last round done before it.
    if out=$(qmp stop); then check vm.stop ok; else check vm.stop "$(one_line "$out")"; fi
    c=$(rounds_done)
    check vm.stop_at_round "$c"
    out=$(qmp query-status)
    check vm.status_stopped "$(sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' <<<"$out")"
    snapshot stopped || return 1
    sleep 2
    # No round completes while the VM is stopped.
    check vm.rounds_while_stopped "$(( $(rounds_done) - c ))"
    if out=$(qmp cont); then check vm.cont ok; else check vm.cont "$(one_line "$out")"; fi
    # Round c + 1 was under way at the stop; c + 2 ran wholly after cont.
    wait_for "a round after cont" rounds_at_least $(( c + 2 )) || return 1
    check vm.rounds_after_cont ok

    # 3. The word to stop, on ttyS1, said again every 10 s while the VM runs: under TCG inside
    # TCG a line on the emulated UART was lost (twice, CI and a local run: the loop ran on to the
    # VM's bound). A second copy after a partial line makes one bad line, the third a good one.
    ( while vm_running; do timeout 5 sh -c 'echo stop >/tmp/vm-ctl.in' || true; sleep 10; done ) &
}
if events; then
    check vm.events_done true
else
    check vm.events_done false
    # Nothing more to see: end the VM now rather than at its bound.
    vm_running && qmp quit
fi
wait "$vm_pid"
rc=$?
wait "$tail_pid"
qmp_close
exec 6<&-
log "VM exited with $rc after $(( $(t) - vm_start )) s ($(date +%T)); QEMU said:"; cat "$LOGS/vm-qemu.log"
check vm.qemu_rc "$rc"
log "the guest's kernel said, last:"; dmesg | tail -n 20
check vm.seconds "$(( $(t) - vm_start ))"
console | sed -n 's/^VM_CHECK \([a-z_]*\)=\(.*\)$/CHECK vm.\1=\2/p'

# ---- after the VM: the devices' counts at exit, and what the backing files hold ----------------
rounds=$(console | sed -n 's/^VM_CHECK rounds=\([0-9]*\)$/\1/p')
for disk in "${DISKS[@]}"; do
    vdpa dev del "vm-$disk" || log "vdpa dev del vm-$disk failed"
    stop_dev "vm-$disk" "${PIDS[$disk]}"
    check "vm.$disk.stop_rc" "$STOP_RC"
    check "vm.$disk.messages" "$(grep -a '^control messages:' "$LOGS/vm-$disk.log" | tail -n 1)"
    for type in UPDATE_IOTLB SUSPEND; do
        check "vm.$disk.${type}_exit" "$(control_count "vm-$disk" "$type")"
    done
    # Each slot the loop wrote holds its part of the pattern.
    verdict=equal
    for (( slot = 0; slot < SLOTS && slot < ${rounds:-0}; slot++ )); do
        cmp -n "$SLOT" -i "$(( slot * SLOT )):$(( slot * SLOT ))" "/tmp/vm-pattern-$disk" "/tmp/vm-$disk.img" \
            || verdict="differ at slot $slot"
    done
    [[ ${rounds:-0} -gt 0 ]] || verdict="no round"
    check "vm.$disk.backing" "$verdict"
done
log "the script took $(( $(t) - started_at )) s"
echo VDPA_VM_DONE
