#!/bin/bash
# Real-kernel checks of vduse-blk as a service (BlkServiceTest asserts on the CHECK lines), in one
# guest boot: --attach brings up /dev/vda by itself (no vdpa command: a vdpa on the PATH that
# fails is put before the real one) as soon as the tool says it is ready, under a notify socket
# in the abstract namespace that gets READY=1 after the node exists, with --pidfile holding the
# tool's pid; a pattern reads back; SIGTERM takes the device off the bus and destroys it.
# --attach vhost gives a /dev/vhost-vdpa-N; an attach the kernel cannot make (vhost_vdpa not
# loaded yet) ends the tool with status 1, naming it, and leaves no device behind.
#
# Needs: BLK, NOTIFY_LISTENER (the java command line of io.vduse.it.guest.NotifyListener).
set -u
source "$(dirname "$0")/blk-common.sh"
cd /tmp

mkdir -p /tmp/fake-bin
printf '#!/bin/sh\necho "$@" >>/tmp/vdpa-invoked\nexit 1\n' >/tmp/fake-bin/vdpa
chmod +x /tmp/fake-bin/vdpa
export PATH=/tmp/fake-bin:$PATH

# ready_dev NAME PID: waits for NAME's readiness line; 1 if it exited first or took over 120 s.
ready_dev() {
    for _ in $(seq 1 240); do
        if grep -q '^vduse-blk: ready: ' "$LOGS/$1.log"; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then break; fi
        sleep 0.5
    done
    log "vduse-blk $1 did not get ready:"; cat "$LOGS/$1.log"
    return 1
}
ready_line() { grep '^vduse-blk: ready: ' "$LOGS/$1.log" | sed 's/^vduse-blk: ready: //'; }

# ---- the listener, and the refused attach, start beside the first device -------------------
NOTIFY="@vduse-it-notify-$$"
$NOTIFY_LISTENER "$NOTIFY" /dev/vda >"$LOGS/notify.log" 2>&1 &
LISTENER_PID=$!
"$BLK" --name ref0 --size 16M --attach vhost >"$LOGS/ref0.log" 2>&1 &
REF_PID=$!
for _ in $(seq 1 240); do
    grep -q '^BOUND' "$LOGS/notify.log" && break
    kill -0 $LISTENER_PID 2>/dev/null || break
    sleep 0.5
done
check listener_bound "$(grep -c '^BOUND' "$LOGS/notify.log")"

# ---- (1) --attach under NOTIFY_SOCKET, with --pidfile -------------------------------------
START=$(date +%s%N)
NOTIFY_SOCKET="$NOTIFY" "$BLK" --name att0 --size 64M --attach --pidfile /tmp/att0.pid >"$LOGS/att0.log" 2>&1 &
DEV_PID=$!
ready_dev att0 $DEV_PID; check att_ready $?
check att_ready_millis $(( ($(date +%s%N) - START) / 1000000 ))
check att_ready_line "$(ready_line att0)"
[[ -b /dev/vda ]] && check att_blockdev present || check att_blockdev absent
check att_driver "$(basename "$(readlink /sys/bus/vdpa/devices/att0/driver)")"
[[ "$(cat /tmp/att0.pid 2>/dev/null)" == "$DEV_PID" ]] && check att_pidfile pid || check att_pidfile "$(cat /tmp/att0.pid 2>&1)"
for _ in $(seq 1 40); do grep -q '^NODE_AT_READY' "$LOGS/notify.log" && break; sleep 0.5; done
check notify_node_at_ready "$(sed -n 's/^NODE_AT_READY //p' "$LOGS/notify.log")"
check notify_mainpid "$(sed -n 's/^NOTIFY MAINPID=//p' "$LOGS/notify.log")"
check att_pid "$DEV_PID"
check notify_status "$(sed -n 's/^NOTIFY STATUS=//p' "$LOGS/notify.log" | head -n 1)"

head -c $((16 << 20)) /dev/urandom >/tmp/pattern
dd if=/tmp/pattern of=/dev/vda bs=1M oflag=direct status=none; check att_write_rc $?
dd if=/dev/vda of=/tmp/readback bs=1M count=16 iflag=direct status=none; check att_read_rc $?
cmp -s /tmp/pattern /tmp/readback && check att_readback equal || check att_readback differ
rm -f /tmp/pattern /tmp/readback

stop_dev att0; check att_stop_rc "$STOP_RC"
[[ -e /sys/bus/vdpa/devices/att0 ]] && check att_vdpa_after_stop present || check att_vdpa_after_stop absent
[[ -e /dev/vduse/att0 ]] && check att_vduse_after_stop present || check att_vduse_after_stop absent
[[ -b /dev/vda ]] && check att_blockdev_after_stop present || check att_blockdev_after_stop absent
[[ -e /tmp/att0.pid ]] && check att_pidfile_after_stop present || check att_pidfile_after_stop absent
wait $LISTENER_PID
check notify_stopping "$(grep -c '^NOTIFY STOPPING=1' "$LOGS/notify.log")"
log "notify listener:"; cat "$LOGS/notify.log"

# ---- (3) the refused attach: vhost_vdpa was not loaded -------------------------------------
wait $REF_PID; check ref_rc $?
log "vduse-blk ref0 log:"; cat "$LOGS/ref0.log"
check ref_message "$(grep -c 'cannot attach ref0: cannot bind ref0 to vhost_vdpa: the driver is not loaded (modprobe vhost_vdpa)' "$LOGS/ref0.log")"
check ref_destroyed "$(grep -c '^vduse-blk: device ref0 destroyed' "$LOGS/ref0.log")"
[[ -e /sys/bus/vdpa/devices/ref0 || -e /dev/vduse/ref0 ]] && check ref_left_behind yes || check ref_left_behind no

# ---- (2) --attach vhost -------------------------------------------------------------------
load_module vhost_vdpa; check vhost_module $?
launch_dev vh0 --size 16M --attach vhost
ready_dev vh0 $DEV_PID; check vh_ready $?
check vh_ready_line "$(ready_line vh0)"
node=$(ready_line vh0 | sed -n 's/.* as //p')
[[ -c "$node" ]] && check vh_node chardev || check vh_node "missing: $node"
check vh_driver "$(basename "$(readlink /sys/bus/vdpa/devices/vh0/driver)")"
[[ -b /dev/vda ]] && check vh_blockdev present || check vh_blockdev absent
stop_dev vh0; check vh_stop_rc "$STOP_RC"
[[ -e /sys/bus/vdpa/devices/vh0 ]] && check vh_vdpa_after_stop present || check vh_vdpa_after_stop absent
[[ -e "$node" ]] && check vh_node_after_stop present || check vh_node_after_stop absent

[[ -e /tmp/vdpa-invoked ]] && check vdpa_invoked "$(cat /tmp/vdpa-invoked)" || check vdpa_invoked no
echo SERVICE_CHECKS_DONE
