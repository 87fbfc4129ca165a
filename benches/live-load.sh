#!/usr/bin/env bash
# Live capture load test (root): the daemon captures on the root end of a veth pair while
# `udp-blast` in a network namespace sends RTP-shaped UDP at rising rates. After each step
# it reads vtcq_packets_captured_total and vtcq_kernel_drops_total from /metrics and the
# daemon's CPU time from /proc/PID/stat, and reports the highest rate with zero drops and
# the daemon's CPU per 100k packets/s.
#
#   sudo benches/live-load.sh [RATE...]        (default: 50000 ... 400000 600000 800000 1000000)
#
# Environment: STEP_SECONDS (5), SENDER_THREADS (2), FLOWS (600 RTP flows, one local port
# each), PAYLOAD (160 bytes after the RTP header), CARGO_TARGET_DIR as for cargo,
# RING_BLOCKS and RING_BLOCK_SIZE (capture.ring_block_count and capture.ring_block_size,
# default: the daemon's defaults),
# SKIP_BUILD=1 to use the binaries already built.
#
# Addresses: 10.215.0.1 (root end, where the daemon captures) and 10.215.0.2 (the
# namespace), a /30 that exists only on this veth pair. The sender refuses any other
# destination. Everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "live-load.sh: needs root (netns, veth, AF_PACKET)" >&2; exit 1; fi
command -v ip >/dev/null || { echo "live-load.sh: needs iproute2" >&2; exit 1; }
command -v curl >/dev/null || { echo "live-load.sh: needs curl" >&2; exit 1; }

RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(50000 100000 200000 300000 400000 600000 800000 1000000)
STEP_SECONDS=${STEP_SECONDS:-5}
SENDER_THREADS=${SENDER_THREADS:-2}
FLOWS=${FLOWS:-600}
PAYLOAD=${PAYLOAD:-160}
RING_BLOCKS=${RING_BLOCKS:-}
RING_BLOCK_SIZE=${RING_BLOCK_SIZE:-}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$(realpath -m "$TARGET/release")
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -q -p vtcq -p vtcq-benches --bins
fi

NS=vtcqload$$
VROOT=vlr$$
VNS=vln$$
API_PORT=$(( 39000 + $$ % 1000 ))
WORK=$(mktemp -d)
DAEMON_PID=""

cleanup() {
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    ip netns del "$NS" 2>/dev/null || true   # takes the veth pair with it
    ip link del "$VROOT" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip link add "$VROOT" type veth peer name "$VNS"
ip link set "$VNS" netns "$NS"
ip addr add 10.215.0.1/30 dev "$VROOT"
ip link set "$VROOT" up
ip -n "$NS" addr add 10.215.0.2/30 dev "$VNS"
ip -n "$NS" link set "$VNS" up
ip -n "$NS" link set lo up

LAST_PORT=$(( 20000 + 2 * FLOWS ))
cat > "$WORK/vtcq.toml" <<TOML
[spool]
dir = "$WORK/spool"
[sink]
kind = "file"
dir = "$WORK/records"
[capture]
interface = "$VROOT"
local_addresses = ["10.215.0.1"]
port_ranges = ["20000-$LAST_PORT"]
${RING_BLOCKS:+ring_block_count = $RING_BLOCKS}
${RING_BLOCK_SIZE:+ring_block_size = $RING_BLOCK_SIZE}
[api]
listen = "127.0.0.1:$API_PORT"
[log]
level = "warn"
TOML

"$BIN/vtcq" run --config "$WORK/vtcq.toml" 2> "$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "the daemon exited:"; cat "$WORK/daemon.log"; exit 1; }
    sleep 0.1
done

metric() { curl -sf "http://127.0.0.1:$API_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
TICK=$(getconf CLK_TCK)
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status"; }

echo "daemon pid $DAEMON_PID capturing on $VROOT (ring: ${RING_BLOCKS:-default} x ${RING_BLOCK_SIZE:-default} B), idle RSS $(( $(rss_kib) / 1024 )) MiB; $FLOWS flows, $SENDER_THREADS sender threads, ${STEP_SECONDS} s per step"
printf '%10s %10s %10s %10s %8s %10s %14s %9s\n' "target pps" "sent pps" "sent" "captured" "drops" "cpu s" "cpu%/100k pps" "RSS MiB"
BEST=0
CPU_PER_100K=()
for RATE in "${RATES[@]}"; do
    CAP0=$(metric vtcq_packets_captured_total); DROP0=$(metric vtcq_kernel_drops_total); T0=$(cpu_ticks)
    OUT=$(ip netns exec "$NS" "$BIN/udp-blast" --dst 10.215.0.1 --rate "$RATE" --seconds "$STEP_SECONDS" \
        --threads "$SENDER_THREADS" --flows "$FLOWS" --payload "$PAYLOAD")
    # Let the ring drain (100 ms block timeout) and the 1 s drop statistics refresh.
    sleep 2
    CAP1=$(metric vtcq_packets_captured_total); DROP1=$(metric vtcq_kernel_drops_total); T1=$(cpu_ticks)
    SENT=$(echo "$OUT" | awk '{ print $2 }')
    SENT_PPS=$(echo "$OUT" | awk '{ print $7 }')
    SECS=$(echo "$OUT" | awk '{ print $4 }')
    CAPTURED=$(( CAP1 - CAP0 )); DROPS=$(( DROP1 - DROP0 ))
    CPU=$(awk -v a="$T0" -v b="$T1" -v t="$TICK" 'BEGIN { printf "%.2f", (b - a) / t }')
    # Daemon CPU per second of sending, per 100k packets/s actually captured, in % of a core.
    PER=$(awk -v c="$CPU" -v s="$SECS" -v n="$CAPTURED" 'BEGIN { r = n / s; if (r > 0) printf "%.1f", c / s / (r / 100000) * 100; else print "-" }')
    printf '%10s %10s %10s %10s %8s %10s %14s %9s\n' "$RATE" "$SENT_PPS" "$SENT" "$CAPTURED" "$DROPS" "$CPU" "$PER" "$(( $(rss_kib) / 1024 ))"
    if [ "$DROPS" = 0 ] && [ "$CAPTURED" -ge "$SENT" ]; then BEST=$SENT_PPS; fi
    CPU_PER_100K+=("$PER")
done
echo
echo "highest rate with zero kernel drops (every sent packet captured): $BEST pps"
echo "daemon CPU per 100k pps (% of one core), per step: ${CPU_PER_100K[*]}"
