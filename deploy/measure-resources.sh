#!/usr/bin/env bash
# Measures what `vtcq run` needs, to size the Kubernetes requests/limits and systemd
# limits: resident memory (VmRSS) idle and under load, and CPU time under load.
#
# Root only (AF_PACKET capture). Everything stays on loopback: the daemon captures on
# `lo` with the file sink (no Graph credentials), CALLS pairs of `vtcq-testbench peer` exchange
# audio RTP/RTCP (50 packets/s each way, 160-byte payload) between 127.0.0.1 and
# 127.0.0.2 for SECONDS, each pair registered as a call through the control API.
#
#   bash deploy/measure-resources.sh            # 8 calls, 10 s, target/release/vtcq
#   CALLS=32 SECONDS_LOAD=10 VTCQ=path/to/vtcq TESTBENCH=path/to/vtcq-testbench \
#       bash deploy/measure-resources.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS="${CALLS:-8}"
SECONDS_LOAD="${SECONDS_LOAD:-10}"
PORT="${PORT:-19477}"
VTCQ="${VTCQ:-target/release/vtcq}"
TESTBENCH="${TESTBENCH:-target/release/vtcq-testbench}"
if [ "$(id -u)" != 0 ]; then
    echo "measure-resources: needs root (AF_PACKET capture on lo)" >&2
    exit 1
fi
if [ ! -x "$VTCQ" ]; then
    cargo build --release --locked -p vtcq
fi
if [ ! -x "$TESTBENCH" ]; then
    cargo build --release --locked -p vtcq-testbench
fi

work="$(mktemp -d)"
daemon=""
peers=()
cleanup() {
    for p in "${peers[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "$daemon" ]; then kill -TERM "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/vtcq.toml" <<EOF
[capture]
interface = "lo"

[api]
listen = "127.0.0.1:$PORT"

[sink]
kind = "file"
dir = "$work/records"

[spool]
dir = "$work/spool"

[log]
format = "json"

[daemon]
shutdown_grace = "3s"
EOF

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat; the command name,
# field 2, has no spaces here).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

"$VTCQ" run --config "$work/vtcq.toml" 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/daemon.log"; exit 1; }
sleep 3
idle_rss=$(rss_kib "$daemon")
idle_anon=$(anon_kib "$daemon")
idle_cpu0=$(cpu_ticks "$daemon")
sleep 5
idle_cpu1=$(cpu_ticks "$daemon")

for i in $(seq 0 $((CALLS - 1))); do
    leg=$(printf '00000000-0000-4000-8000-%012d' "$i")
    curl -fsS -X PUT "http://127.0.0.1:$PORT/v1/calls/$leg" -H 'Content-Type: application/json' \
        -d "{\"callChainId\":\"$leg\",\"participantId\":\"$leg\",\"deviceName\":\"measure\",\"deviceDescription\":\"loopback\",\"mediaSessions\":[{\"kind\":\"audio\",\"localPort\":$((50000 + 2 * i)),\"remoteAddress\":\"127.0.0.2\",\"remotePort\":$((40000 + 2 * i))}]}" >/dev/null
done

ticks_per_sec=$(getconf CLK_TCK)
load_cpu0=$(cpu_ticks "$daemon")
start=$(date +%s.%N)
for i in $(seq 0 $((CALLS - 1))); do
    "$TESTBENCH" peer --bind "127.0.0.1:$((50000 + 2 * i))" --peer "127.0.0.2:$((40000 + 2 * i))" \
        --ssrc $((0x10000 + i)) --duration-secs "$SECONDS_LOAD" --report /dev/null &
    peers+=($!)
    "$TESTBENCH" peer --bind "127.0.0.2:$((40000 + 2 * i))" --peer "127.0.0.1:$((50000 + 2 * i))" \
        --ssrc $((0x20000 + i)) --duration-secs "$SECONDS_LOAD" --report /dev/null &
    peers+=($!)
done
max_rss=0
max_anon=0
while [ -n "$(jobs -rp | grep -vx "$daemon" || true)" ]; do
    r=$(rss_kib "$daemon")
    [ "$r" -gt "$max_rss" ] && max_rss=$r
    a=$(anon_kib "$daemon")
    [ "$a" -gt "$max_anon" ] && max_anon=$a
    sleep 0.5
done
peers=()
end=$(date +%s.%N)
load_cpu1=$(cpu_ticks "$daemon")

ended=0
for i in $(seq 0 $((CALLS - 1))); do
    leg=$(printf '00000000-0000-4000-8000-%012d' "$i")
    curl -fsS -X DELETE "http://127.0.0.1:$PORT/v1/calls/$leg" | grep -q '"inboundPackets":[1-9]' && ended=$((ended + 1))
done
packets=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^vtcq_packets_captured_total/ {print $2}')
after_rss=$(rss_kib "$daemon")
after_anon=$(anon_kib "$daemon")
hwm=$(hwm_kib "$daemon")

awk -v idle="$idle_rss" -v maxr="$max_rss" -v after="$after_rss" -v hwm="$hwm" \
    -v idle_anon="$idle_anon" -v max_anon="$max_anon" -v after_anon="$after_anon" \
    -v ic0="$idle_cpu0" -v ic1="$idle_cpu1" -v lc0="$load_cpu0" -v lc1="$load_cpu1" \
    -v hz="$ticks_per_sec" -v t0="$start" -v t1="$end" -v calls="$CALLS" -v ended="$ended" \
    -v packets="$packets" 'BEGIN {
    printf "vtcq run on lo, file sink, %d audio calls (%d ended with packets counted), %s packets captured\n", calls, ended, packets;
    printf "VmRSS idle:            %6.1f MiB (RssAnon %0.1f MiB)\n", idle / 1024, idle_anon / 1024;
    printf "VmRSS max under load:  %6.1f MiB (RssAnon %0.1f MiB)\n", maxr / 1024, max_anon / 1024;
    printf "VmRSS after the calls: %6.1f MiB (RssAnon %0.1f MiB, VmHWM %0.1f MiB)\n", after / 1024, after_anon / 1024, hwm / 1024;
    print "VmRSS includes the AF_PACKET ring (ring_block_size x ring_block_count, 8 MiB by";
    print "default) mapped from kernel memory: counted in RssFile, not charged to the memory cgroup.";
    printf "CPU idle:              %6.2f %% of one core (5 s)\n", (ic1 - ic0) / hz / 5 * 100;
    printf "CPU under load:        %6.2f %% of one core (%.1f s)\n", (lc1 - lc0) / hz / (t1 - t0) * 100, t1 - t0;
}'
