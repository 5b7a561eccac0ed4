#!/bin/bash
# The guest side of vduse-bench/compare-net-in-guest (which see): sets up three paths from a
# network namespace to the root namespace and runs iperf3 over each, printing
#   DEVICE setup interface|none      once per setup
#   ROW setup job round value        per measurement (Mbit/s for tcp-*, packets/s for udp64-*,
#                                    ms for rtt: the average round trip of 20 pings)
#   CPU setup seconds                the device process's CPU time over the measured rounds
# The setups: veth (a veth pair: no device process, the ceiling), ours (vduse-net --tap) and
# dpdk (dpdk-testpmd: its vhost PMD's VDUSE port forwarding to its TAP PMD in io mode).
#
# Needs: ROOT (the trixie root with dpdk-testpmd and iperf3: make-trixie-root --net-bench), NET
# (the vduse-net launcher), RUNTIME, WARMUP, ROUNDS; VDUSE_NET_JAVA_OPTS is passed on to ours.
set -u
log() { echo "compare-net: $*"; }
wait_for() { for _ in $(seq 1 $(($2 * 10))); do eval "$1" && return 0; sleep 0.1; done; return 1; }

for d in dev proc sys tmp run; do mount --bind "/$d" "$ROOT/$d" || { log "mount --bind /$d into $ROOT failed"; exit 1; }; done
for m in vduse vdpa virtio_vdpa virtio_net tun veth; do
    modprobe -d "$VDUSE_GUEST_KERNEL_DIR" "$m" || { log "module $m does not load"; exit 1; }
done
in_root() { chroot "$ROOT" "$@"; }
in_ns() { local ns="$1"; shift; ip netns exec "$ns" chroot "$ROOT" "$@"; }
in_root iperf3 --version | head -n 1
echo "ours: VDUSE_NET_JAVA_OPTS=${VDUSE_NET_JAVA_OPTS:-}"

declare -A IF ADDR PID PORT
SETUPS="veth ours dpdk"
# Setup s talks from namespace ns-s, address 10.8N.0.2, to 10.8N.0.1 in the root namespace.
n=1
for s in $SETUPS; do ADDR[$s]=10.8$n.0; n=$((n + 1)); ip netns add "ns-$s"; ip -n "ns-$s" link set lo up; done

# Both device processes start first, so that their start-ups overlap.
export VDUSE_NET_JAVA_OPTS
"$NET" --name ours0 --tap otap0 >/tmp/ours.log 2>&1 &
PID[ours]=$!
# testpmd exits when its stdin ends: a fifo held open by a sleeping writer keeps it running.
# Interactive, so that it forwards (its lcore polling a vCPU flat out) only while its own setup
# is measured: `start` and `stop` on that stdin (pmd below); the other setups get the whole guest.
# The vhost PMD's defaults: no segmentation offload offered to the driver, so 1500-byte frames.
# (A second instance with the vhost PMD's tso=1 and the TAP PMD's TSO, beside this one, left the
# run waiting for ever after the first VDUSE netdev came up: not looked into yet.)
# (chroot execs testpmd: the pid is testpmd's.)
mkfifo /tmp/dpdk.in
sleep 100000 >/tmp/dpdk.in &
chroot "$ROOT" dpdk-testpmd -l 0-1 --no-huge -m 1024 --no-pci --file-prefix dpdk \
    --vdev "net_vhost0,iface=/dev/vduse/dpdk0,queues=1" --vdev "net_tap0,iface=dtap0" \
    -- -i --forward-mode=io --total-num-mbufs=16384 </tmp/dpdk.in >/tmp/dpdk.log 2>&1 &
PID[dpdk]=$!
# pmd start|stop: testpmd's forwarding on or off; 1 if it is gone (a write to its stdin, a FIFO
# without a reader, would wait for ever).
pmd() {
    kill -0 "${PID[dpdk]}" 2>/dev/null || { log "testpmd is gone:"; tail -n 5 /tmp/dpdk.log; return 1; }
    timeout 5 bash -c "echo $1 >/tmp/dpdk.in" && sleep 0.5
}

# move_in SETUP NETDEV: NETDEV into the setup's namespace, addressed and up.
move_in() {
    IF[$1]=$2
    ip link set dev "$2" netns "ns-$1" && ip -n "ns-$1" addr add "${ADDR[$1]}.2/24" dev "$2" \
        && ip -n "ns-$1" link set dev "$2" up
}
# root_side SETUP LINK: the root namespace's end, addressed and up.
root_side() { ip addr add "${ADDR[$1]}.1/24" dev "$2" && ip link set dev "$2" up; }
# vduse_netdev SETUP VDPA_NAME: attaches the VDUSE device and waits for virtio_net's interface.
vduse_netdev() {
    wait_for "vdpa dev add name $2 mgmtdev vduse 2>/dev/null" 60 || { vdpa dev add name "$2" mgmtdev vduse; return 1; }
    wait_for "ls /sys/bus/vdpa/devices/$2/virtio*/net/ >/dev/null 2>&1" 30 || return 1
    move_in "$1" "$(ls /sys/bus/vdpa/devices/"$2"/virtio*/net/ | head -n 1)"
}

ip link add vveth0 type veth peer name vveth1 && move_in veth vveth1 && root_side veth vveth0 \
    || log "the veth pair could not be set up"
if wait_for "grep -q '^vduse-net: ready: ' /tmp/ours.log" 180 && vduse_netdev ours ours0; then
    root_side ours otap0
else
    log "ours could not be set up:"; cat /tmp/ours.log; unset 'IF[ours]'
fi
if wait_for "[ -c /dev/vduse/dpdk0 ]" 120 && pmd start && vduse_netdev dpdk dpdk0; then
    root_side dpdk dtap0
else
    log "dpdk could not be set up:"; cat /tmp/dpdk.log; unset 'IF[dpdk]'
fi
grep '^vduse-net: ready' /tmp/ours.log
port=5200
for s in $SETUPS; do
    port=$((port + 1))
    if [[ -n "${IF[$s]:-}" ]]; then
        wait_for "ip netns exec ns-$s busybox ping -c 1 -W 1 ${ADDR[$s]}.1 >/dev/null 2>&1" 30 || { log "$s does not ping"; unset "IF[$s]"; }
    fi
    echo "DEVICE $s ${IF[$s]:-none}"
    PORT[$s]=$port
    [[ -n "${IF[$s]:-}" ]] && in_root iperf3 -s -D -B "${ADDR[$s]}.1" -p $port
done
[[ -n "${IF[dpdk]:-}" ]] && pmd stop
sleep 1

# measure SETUP JOB SECONDS ROUND: one iperf3 run from the setup's namespace; prints a ROW with
# the receiver's figure: Mbit/s for TCP; packets/s that arrived for UDP (64-byte datagrams sent
# as fast as the sender can: datagrams minus lost, over the receiver's interval).
measure() {
    local s="$1" job="$2" secs="$3" args=() out
    case "$job" in
        tcp-out) args=() ;;
        tcp-in) args=(-R) ;;
        udp64-out) args=(-u -l 64 -b 0) ;;
        udp64-in) args=(-u -l 64 -b 0 -R) ;;
    esac
    out=$(timeout $((secs + 40)) ip netns exec "ns-$s" chroot "$ROOT" \
        iperf3 -c "${ADDR[$s]}.1" -p "${PORT[$s]}" -t "$secs" -f m "${args[@]}" 2>&1)
    awk -v s="$s" -v j="$job" -v r="$4" '
        / receiver$/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "Mbits/sec" && j ~ /^tcp/) v = $(i - 1)
                if ($i ~ /^[0-9.]+-[0-9.]+$/) { split($i, t, "-"); d = t[2] - t[1] }
                if ($i ~ /^[0-9]+\/[0-9]+$/ && j ~ /^udp/) { split($i, p, "/"); v = (d > 0) ? (p[2] - p[1]) / d : "" }
            }
        }
        END { if (v != "") printf "ROW %s %s %s %.1f\n", s, j, r, v; else printf "NOROW %s %s %s\n", s, j, r }' <<<"$out"
    grep -q ' receiver$' <<<"$out" || { log "$s $job: iperf3 said:"; tail -n 5 <<<"$out"; }
}

# rtt SETUP ROUND: the average round trip of 20 pings from the namespace, 0.2 s apart, in ms.
rtt() {
    local out
    out=$(ip netns exec "ns-$1" busybox ping -q -c 20 -i 0.2 -W 5 "${ADDR[$1]}.1" 2>&1)
    awk -v s="$1" -v r="$2" -F'[/ ]+' '/round-trip/ { printf "ROW %s rtt %s %s\n", s, r, $(NF - 2) }' <<<"$out"
}

# on SETUP COMMAND...: runs the command with the setup's device process working (testpmd
# forwarding only then).
on() {
    local s="$1" rc
    shift
    if [[ "$s" == dpdk ]] && ! pmd start; then
        unset "IF[$s]"
        return 1
    fi
    "$@"; rc=$?
    [[ "$s" == dpdk ]] && pmd stop
    return $rc
}

# cpu_seconds PID: user + system time of the process so far, in seconds.
cpu_seconds() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    set -- ${stat##*) }
    echo $(( (${12} + ${13}) / $(getconf CLK_TCK) ))
}
declare -A CPU0
for s in $SETUPS; do
    [[ -n "${IF[$s]:-}" && "$WARMUP" -gt 0 ]] && on "$s" measure "$s" tcp-out "$WARMUP" 1 | sed 's/^ROW \([^ ]*\) tcp-out/ROW \1 warmup/'
done
for s in ours dpdk; do
    [[ -n "${IF[$s]:-}" ]] && CPU0[$s]=$(cpu_seconds "${PID[$s]}")
done
start=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
    for s in $SETUPS; do
        [[ -n "${IF[$s]:-}" ]] && on "$s" rtt "$s" "$r"
    done
    for job in tcp-out tcp-in udp64-out udp64-in; do
        for s in $SETUPS; do
            [[ -n "${IF[$s]:-}" ]] && on "$s" measure "$s" "$job" "$RUNTIME" "$r"
        done
    done
done
echo "MEASURED $(( $(date +%s) - start ))"
for s in ours dpdk; do
    [[ -n "${IF[$s]:-}" ]] && echo "CPU $s $(( $(cpu_seconds "${PID[$s]}") - ${CPU0[$s]} ))"
done

kill -USR1 "${PID[ours]}" 2>/dev/null; sleep 1
grep -a '^vduse-net: ours0: ' /tmp/ours.log | tail -n 1
grep -aE 'RX-packets|TX-packets' /tmp/dpdk.log | tail -n 4
grep -aiE 'error|fail|invalid' /tmp/dpdk.log | tail -n 5
for d in /sys/bus/vdpa/devices/*; do [ -e "$d" ] && vdpa dev del "$(basename "$d")"; done
kill -TERM "${PID[ours]}" "${PID[dpdk]}" 2>/dev/null
kill $(jobs -p) 2>/dev/null
wait
dmesg | grep -E 'WARNING:|BUG:|Oops' | head -n 5
exit 0
