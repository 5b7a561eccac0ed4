#!/bin/bash
# Real-kernel checks of vduse-net (NetDeviceTest asserts on the CHECK lines), in one guest boot:
#   - vduse-net --tap: the device attached with vdpa is a netdev under virtio_net; moved into a
#     network namespace with an address it pings the TAP's address in the root namespace; 64 MiB
#     over TCP from the namespace to the root (the device's transmit side) arrives with its
#     checksum equal; at MTU 9000 the same from the root into the namespace (its receive side);
#     the TAP set down on the host shows as NO-CARRIER in the namespace's `ip link`, and up again;
#     SIGKILL of the tool mid-transfer (64 MiB to the root) and a restart with --reconnect: the
#     interface keeps its name, the TAP its address, and the transfer completes (TCP retransmits);
#     SIGUSR1 prints the counters; SIGTERM removes the device and the TAP taken over;
#   - vduse-net --peer (the cable): two namespaces, one VDUSE netdev each, ping each other and
#     pass the same 64 MiB.
# Both tools start at the beginning, so that their JVMs start side by side. Each step prints a
# "STEP name millis" line for the report.
#
# Needs: NET (the vduse-net launcher); the guest's root is the host's, so busybox (nc, ping),
# iproute2 and vdpa come from there. TCP goes through bash's /dev/tcp on the sending side and
# busybox nc -l on the receiving one.
set -u
source "$(dirname "$0")/blk-common.sh"
LOGS=/tmp/net-logs
mkdir -p "$LOGS"
cd /tmp

STEP_START=$(date +%s%N)
step() { local now; now=$(date +%s%N); echo "STEP $1 $(( (now - STEP_START) / 1000000 ))"; STEP_START=$now; }

# ready_net NAME PID: waits for the tool's readiness line; 1 if it exited first or took over 180 s.
ready_net() {
    for _ in $(seq 1 360); do
        grep -q '^vduse-net: ready: ' "$LOGS/$1.log" && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.5
    done
    log "vduse-net $1 did not get ready:"; cat "$LOGS/$1.log"
    return 1
}

# netdev_of VDPA_NAME: the network interface virtio_net made for the vDPA device, waiting up to 10 s.
netdev_of() {
    local n
    for _ in $(seq 1 100); do
        n=$(ls /sys/bus/vdpa/devices/"$1"/virtio*/net/ 2>/dev/null | head -n 1)
        [[ -n "$n" ]] && { echo "$n"; return 0; }
        sleep 0.1
    done
    return 1
}

# transfer NAME FROM_NS TO_NS TO_ADDR PORT: 64 MiB of /tmp/data over TCP from namespace FROM_NS
# to TO_NS ("" is the root namespace); checks NAME_rc and NAME_sum (equal, or what arrived).
transfer() {
    local name="$1" from="$2" to="$3" addr="$4" port="$5"
    local in_to=() in_from=()
    [[ -n "$to" ]] && in_to=(ip netns exec "$to")
    [[ -n "$from" ]] && in_from=(ip netns exec "$from")
    "${in_to[@]}" timeout 600 busybox nc -l -p "$port" | sha256sum | cut -d' ' -f1 >"$LOGS/$name.sum" &
    local listener=$!
    for _ in $(seq 1 100); do
        "${in_to[@]}" ss -ltnH "sport = :$port" | grep -q . && break
        sleep 0.1
    done
    "${in_from[@]}" timeout 600 bash -c "cat /tmp/data >/dev/tcp/$addr/$port"; check "${name}_rc" $?
    wait "$listener"
    [[ "$(cat "$LOGS/$name.sum")" == "$DATA_SUM" ]] && check "${name}_sum" equal \
        || check "${name}_sum" "$(cat "$LOGS/$name.sum")"
}

# carrier NS IF: "up" or "down" as the namespace's ip link shows the interface (NO-CARRIER: down).
carrier() {
    ip -n "$1" link show dev "$2" | head -n 1 | grep -q 'NO-CARRIER' && echo down || echo up
}

# await_carrier NS IF STATE: waits up to 20 s of wall time (not a count of tries: on a loaded host
# one ip command took seconds) for carrier to say STATE; prints what it last said.
await_carrier() {
    local c deadline=$(( $(date +%s) + 20 ))
    while :; do
        c=$(carrier "$1" "$2")
        [[ "$c" == "$3" || $(date +%s) -ge $deadline ]] && break
        sleep 0.1
    done
    echo "$c"
}

# tcp_counters NS: namespace NS's TCP counters RetransSegs, TCPTimeouts and TCPSpuriousRtxHostQueues
# (a retransmit not sent because the segment was still in the host's queue: the device's ring).
tcp_counters() {
    ip netns exec "$1" awk '$1 == "Tcp:" || $1 == "TcpExt:" {
        if (!($1 in seen)) { seen[$1] = 1; for (i = 2; i <= NF; i++) name[$1, i] = $i; next }
        for (i = 2; i <= NF; i++) value[name[$1, i]] = $i
    } END { print value["RetransSegs"] + 0, value["TCPTimeouts"] + 0, value["TCPSpuriousRtxHostQueues"] + 0 }' \
        /proc/net/snmp /proc/net/netstat
}

# ---- modules, data, both tools ---------------------------------------------------------------
for m in vduse vdpa virtio_vdpa virtio_net tun; do load_module "$m" || break; done; check modules_rc $?
export VDUSE_NET_JAVA_OPTS
# A MAC of its own: the --reconnect below must give the same one (the kernel kept the config space).
TAP_MAC=02:00:00:77:00:02
"$NET" --name vnet0 --tap vtap0 --mac "$TAP_MAC" --mtu 9000 --stats-interval 20 >"$LOGS/vnet0.log" 2>&1 &
TAP_PID=$!
"$NET" --name vca --peer vcb --stats-interval 20 >"$LOGS/vca.log" 2>&1 &
CABLE_PID=$!
head -c 64M /dev/urandom >/tmp/data
DATA_SUM=$(sha256sum </tmp/data | cut -d' ' -f1)
step data
ready_net vnet0 $TAP_PID; check tap_ready $?
step tap_jvm_start

# ---- --tap: attach, namespace, ping ----------------------------------------------------------
vdpa dev add name vnet0 mgmtdev vduse; check tap_attach_rc $?
IF=$(netdev_of vnet0); check tap_netdev "${IF:+present}"
check tap_driver "$(basename "$(readlink /sys/bus/vdpa/devices/vnet0/virtio*/driver)")"
check tap_mtu_offered "$(cat /sys/class/net/"$IF"/mtu)"
ip netns add ns0
ip link set dev "$IF" netns ns0
ip -n ns0 link set lo up
ip -n ns0 addr add 10.77.0.2/24 dev "$IF"
ip -n ns0 link set dev "$IF" mtu 1500 up
# (NO-CARRIER shows only on an interface that is up: so the check comes after the line above.)
check tap_carrier_before_tap_up "$(await_carrier ns0 "$IF" down)"
ip addr add 10.77.0.1/24 dev vtap0
ip link set dev vtap0 up
CARRIER=$(await_carrier ns0 "$IF" up); check tap_carrier_after_tap_up "$CARRIER"
# (Seen once on 7.3 at load average 19: the carrier never came; the tool's log says whether its
# link followed the TAP and whether the TAP's reader stopped.)
[[ "$CARRIER" == up ]] || { log "vduse-net vnet0 log so far:"; cat "$LOGS/vnet0.log"; }
step tap_attach
ip netns exec ns0 busybox ping -c 3 -W 10 10.77.0.1 >"$LOGS/ping0.log" 2>&1; check tap_ping_rc $?
cat "$LOGS/ping0.log"
step tap_ping

# ---- 64 MiB each way: the device transmits at MTU 1500, receives at 9000 ---------------------
transfer tap_tx ns0 "" 10.77.0.1 5001
step tap_tx_64mib_mtu1500
ip link set dev vtap0 mtu 9000
ip -n ns0 link set dev "$IF" mtu 9000
check tap_mtu_9000 "$(cat /sys/class/net/vtap0/mtu),$(ip netns exec ns0 cat /sys/class/net/"$IF"/mtu)"
ip netns exec ns0 busybox ping -c 2 -W 10 -s 8000 10.77.0.1 >/dev/null 2>&1; check tap_ping_8000_rc $?
transfer tap_rx "" ns0 10.77.0.2 5002
step tap_rx_64mib_mtu9000

# ---- the TAP's link, seen in the namespace ---------------------------------------------------
ip link set dev vtap0 down
check tap_link_down "$(await_carrier ns0 "$IF" down)"
step tap_link_down
ip link set dev vtap0 up
check tap_link_up "$(await_carrier ns0 "$IF" up)"
step tap_link_up
ip netns exec ns0 busybox ping -c 1 -W 10 10.77.0.1 >/dev/null 2>&1; check tap_ping_after_link_rc $?

# ---- --reconnect: SIGKILL mid-transfer, a new process takes the device and the TAP over ----------
# 64 MiB from the namespace to the root at MTU 9000, received into a file so that its size is what
# had arrived. Once 2 MiB have, the tool is killed: the kernel keeps the VDUSE device (the driver
# is not reset: the interface keeps its name and address in ns0), and the TAP, persistent while
# the tool held it, stays up with 10.77.0.1. The sender's TCP retransmits, backing off, until
# `--reconnect` serves the device again from the queues' in-flight logs; the connection in the
# root namespace is never touched. Bounded at 900 s: the new JVM was ready 60 to 70 s after the
# kill on a quiet machine (a JVM start took 130 s on a loaded one), and the retransmit timer
# doubles, so the transfer may wait about as long again after that.
read -r RETRANS0 TIMEOUTS0 HELD0 <<<"$(tcp_counters ns0)"
TAP_RX0=$(cat /sys/class/net/vtap0/statistics/rx_bytes)
timeout 900 busybox nc -l -p 5004 >/tmp/recon.bin &
RECV_PID=$!
for _ in $(seq 1 100); do ss -ltnH "sport = :5004" | grep -q . && break; sleep 0.1; done
ip netns exec ns0 timeout 900 bash -c "cat /tmp/data >/dev/tcp/10.77.0.1/5004" &
SEND_PID=$!
KILL_DEADLINE=$(( $(date +%s) + 120 ))
while (( $(stat -c %s /tmp/recon.bin) < 2097152 && $(date +%s) < KILL_DEADLINE )); do sleep 0.05; done
kill -KILL $TAP_PID
wait $TAP_PID 2>/dev/null
check recon_bytes_at_kill "$(stat -c %s /tmp/recon.bin)"
# (What the TAP had taken from the device by then, headers included: the receiver's socket still
# holds some of it, which reaches the file while the device is dead.)
check recon_tap_rx_bytes_at_kill $(( $(cat /sys/class/net/vtap0/statistics/rx_bytes) - TAP_RX0 ))
check recon_sender_alive "$(kill -0 $SEND_PID 2>/dev/null && echo yes || echo no)"
step recon_kill
ip link show dev vtap0
# Its address, and IFF_UP (1) from its flags: as it was before the kill.
check recon_tap_kept "$(ip -o -4 addr show dev vtap0 2>/dev/null | awk '{print $4}'),$(( $(cat /sys/class/net/vtap0/flags 2>/dev/null || echo 0) & 1 ))"
check recon_device_kept "$([[ -e /dev/vduse/vnet0 ]] && vdpa dev show vnet0 >/dev/null 2>&1 && echo present || echo absent)"
mv "$LOGS/vnet0.log" "$LOGS/vnet0-first.log"
"$NET" --name vnet0 --tap vtap0 --mac "$TAP_MAC" --mtu 9000 --reconnect --stats-interval 20 >"$LOGS/vnet0.log" 2>&1 &
TAP_PID=$!
ready_net vnet0 $TAP_PID; READY=$?; check recon_ready $READY
# (Without the device the transfer would wait for its 900 s: end it.)
(( READY == 0 )) || kill $SEND_PID $RECV_PID 2>/dev/null
check recon_took_over "$(grep -c '^vduse-net: device vnet0 .* bridged to the existing TAP vtap0, reconnected' "$LOGS/vnet0.log")"
check recon_bytes_at_ready "$(stat -c %s /tmp/recon.bin)"
# (The namespace's own sysfs, which ip netns exec mounts, lists the netdev under the vDPA device.)
NOW_IF=$(ip netns exec ns0 bash -c 'ls /sys/bus/vdpa/devices/vnet0/virtio*/net/' 2>/dev/null | head -n 1)
check recon_same_netdev "$([[ "$NOW_IF" == "$IF" ]] && echo same || echo "'$NOW_IF', not $IF")"
step recon_restart
wait $SEND_PID; check recon_tx_rc $?
wait $RECV_PID
[[ "$(sha256sum </tmp/recon.bin | cut -d' ' -f1)" == "$DATA_SUM" ]] && check recon_tx_sum equal \
    || check recon_tx_sum "$(stat -c %s /tmp/recon.bin) bytes, not equal"
rm -f /tmp/recon.bin
read -r RETRANS TIMEOUTS HELD <<<"$(tcp_counters ns0)"
check recon_tcp "retransmitted $((RETRANS - RETRANS0)), timeouts $((TIMEOUTS - TIMEOUTS0)), held in the host queue $((HELD - HELD0))"
step recon_resume
ip netns exec ns0 busybox ping -c 3 -W 10 10.77.0.1 >/dev/null 2>&1; check recon_ping_rc $?
log "vduse-net vnet0 log of the killed process:"; cat "$LOGS/vnet0-first.log"
step recon_ping

# ---- counters, stop ----------------------------------------------------------------------------
counters vnet0 $TAP_PID "^vduse-net: vnet0: "; check tap_usr1 $?
check tap_usr1_line "$(grep -a '^vduse-net: vnet0: ' "$LOGS/vnet0.log" | tail -n 1)"
vdpa dev del vnet0; check tap_detach_rc $?
kill -TERM $TAP_PID
wait $TAP_PID; check tap_stop_rc $?
check tap_stopped "$(grep -c '^vduse-net: stopped' "$LOGS/vnet0.log")"
check tap_gone "$([[ -e /sys/class/net/vtap0 || -e /dev/vduse/vnet0 ]] && echo present || echo absent)"
log "vduse-net vnet0 log:"; cat "$LOGS/vnet0.log"
ip netns del ns0
step tap_stop

# ---- --peer: two namespaces on the cable -------------------------------------------------------
ready_net vca $CABLE_PID; check cable_ready $?
vdpa dev add name vca mgmtdev vduse && vdpa dev add name vcb mgmtdev vduse; check cable_attach_rc $?
IFA=$(netdev_of vca)
IFB=$(netdev_of vcb)
check cable_netdevs "${IFA:+a}${IFB:+b}"
ip netns add nsa
ip netns add nsb
ip link set dev "$IFA" netns nsa
ip link set dev "$IFB" netns nsb
ip -n nsa addr add 10.78.0.1/24 dev "$IFA"
ip -n nsb addr add 10.78.0.2/24 dev "$IFB"
ip -n nsa link set dev "$IFA" up
ip -n nsb link set dev "$IFB" up
check cable_carrier "$(await_carrier nsa "$IFA" up),$(await_carrier nsb "$IFB" up)"
step cable_attach
ip netns exec nsa busybox ping -c 3 -W 10 10.78.0.2 >"$LOGS/ping-ab.log" 2>&1; check cable_ping_ab_rc $?
ip netns exec nsb busybox ping -c 3 -W 10 10.78.0.1 >/dev/null 2>&1; check cable_ping_ba_rc $?
cat "$LOGS/ping-ab.log"
step cable_ping
transfer cable_tx nsa nsb 10.78.0.2 5003
step cable_64mib
vdpa dev del vca; vdpa dev del vcb
kill -TERM $CABLE_PID
wait $CABLE_PID; check cable_stop_rc $?
log "vduse-net vca log:"; cat "$LOGS/vca.log"
step cable_stop
dmesg | grep -iE 'warn|bug|oops|vduse|virtio_net' | tail -n 20
# The soft-lockup watchdog's "BUG: soft lockup - CPU#1 stuck for 29s! [java:259]" is not counted:
# it is TCG on a loaded host (seen at load average 19, during a JVM start before any device was
# attached), a vCPU left unscheduled, not a kernel defect.
check kernel_warnings "$(dmesg | grep -E 'WARNING:|BUG:|Oops' | grep -vc 'BUG: soft lockup')"
echo NET_CHECKS_DONE
