# Helpers of the vhost-vdpa guest scripts (sourced after blk-common.sh): sets up the trixie root
# for chroot (bind mounts of /dev, /proc, /sys, /tmp; undone at exit, for a native run), loads
# vhost_vdpa, turns off the vDPA bus's autoprobe, binds devices to vhost_vdpa, and talks QMP to
# a QEMU program (qemu-storage-daemon, qemu-system-x86_64) through a pipe chardev.
#
# Needs: ROOT (the trixie root) set by the caller.

# ---- the trixie root: the host's / is read-only, but mounts on its directories work ----------
# Run natively (not in the guest), the mounts and the autoprobe setting are undone at the end.
mounted=()
autoprobe=""
undo() {
    local i
    for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do umount "${mounted[i]}"; done
    [[ -z "$autoprobe" ]] || echo "$autoprobe" >/sys/bus/vdpa/drivers_autoprobe
}
trap undo EXIT
for d in dev proc sys tmp; do
    mount --bind "/$d" "$ROOT/$d" || { check setup "mount --bind /$d $ROOT/$d failed"; exit 1; }
    mounted+=("$ROOT/$d")
done
chroot "$ROOT" qemu-io --version | head -n 1
# vhost_vdpa and vhost are not in the initramfs; vhost_iotlb and vdpa are loaded already.
load_module vhost_vdpa || { check setup "vhost_vdpa does not load"; exit 1; }
# New vDPA devices stay unbound: each is bound to vhost_vdpa by hand, not probed by virtio_vdpa.
autoprobe=$(cat /sys/bus/vdpa/drivers_autoprobe)
echo 0 >/sys/bus/vdpa/drivers_autoprobe
check setup ok

# one_line TEXT: TEXT on one line, for a CHECK value.
one_line() { tr '\n' ' ' <<<"$1" | sed 's/ *$//'; }

# verdict DEVICE.CHECK RC OUTPUT: "ok" if the tool exited 0 and printed no failure, else both.
verdict() {
    if [[ $2 -eq 0 ]] && ! grep -qiE 'fail|error|cannot|can.t' <<<"$3"; then
        check "$1" ok
    else
        check "$1" "exit $2: $(one_line "$3")"
    fi
}

# vhost_attach NAME: vdpa dev add (retried: the device refuses it until its queues are set up),
# then binds it to vhost_vdpa; sets VHOST to its /dev/vhost-vdpa-N.
vhost_attach() {
    local name="$1" node="" i
    for i in $(seq 1 100); do
        vdpa dev add name "$name" mgmtdev vduse 2>"$LOGS/vdpa-add.err" && break
        sleep 0.2
    done
    if [[ ! -d "/sys/bus/vdpa/devices/$name" ]]; then
        log "vdpa dev add $name: $(cat "$LOGS/vdpa-add.err")"; return 1
    fi
    echo vhost_vdpa >"/sys/bus/vdpa/devices/$name/driver_override" || return 1
    echo "$name" >/sys/bus/vdpa/drivers/vhost_vdpa/bind || return 1
    for i in $(seq 1 50); do
        for node in "/sys/bus/vdpa/devices/$name"/vhost-vdpa-*; do
            if [[ -c "/dev/${node##*/}" ]]; then
                VHOST="/dev/${node##*/}"
                log "$name is $VHOST"
                return 0
            fi
        done
        sleep 0.1
    done
    log "no /dev/vhost-vdpa-N for $name"; ls -l "/sys/bus/vdpa/devices/$name/"; dmesg | tail -n 20
    return 1
}

# ---- QMP over a pipe chardev ("-chardev pipe,id=m0,path=PATH -mon chardev=m0,mode=control", or
# qemu-storage-daemon's "--monitor chardev=m0"): QEMU reads PATH.in and writes PATH.out. Plain
# bash, no QMP client needed in the guest. One monitor at a time, on fds 7 and 8.

# qmp_fifos PATH: makes PATH.in and PATH.out, before QEMU starts.
qmp_fifos() {
    rm -f "$1.in" "$1.out"
    mkfifo "$1.in" "$1.out"
}

# qmp_open PATH [SECONDS]: opens the FIFOs once QEMU runs and leaves its greeting behind with
# qmp_capabilities, waiting up to SECONDS (default 30) for QEMU to answer.
qmp_open() {
    # Read-write opens of the FIFOs do not wait for the other end (nor hang if it never comes).
    exec 7<>"$1.in" 8<>"$1.out"
    QMP_WAIT="${2:-30}" qmp qmp_capabilities >/dev/null
}

qmp_close() { exec 7>&- 8<&-; }

# qmp COMMAND [ARGUMENTS-JSON]: sends it, prints the answer (events before it are skipped);
# fails on an error answer or none in QMP_WAIT seconds (default 30).
qmp() {
    local line wait="${QMP_WAIT:-30}"
    echo "{\"execute\":\"$1\"${2:+,\"arguments\":$2}}" >&7
    while read -r -t "$wait" -u 8 line; do
        case "$line" in
            *'"return"'*|*'"error"'*) echo "$line"; [[ "$line" == *'"return"'* ]]; return ;;
        esac
    done
    echo "no answer to $1 in $wait s"
    return 1
}
