#!/usr/bin/env bash
# vtcq against tshark and against the bare cost of reading the capture, on one large
# generated capture (benches/src/lib.rs, LoadSpec): wall time, CPU time (user+sys) and
# peak RSS of each, and the ratios tshark/vtcq and vtcq/floor.
#
#   benches/compare.sh [CAPTURE]          (default /tmp/vtcq-big.pcap)
#
# Environment: CALLS (200) and CALL_SECONDS (60) size a capture that is missing; REPEAT
# (3) runs of each vtcq/floor measurement, the fastest kept (the machine is noisy);
# TSHARK_REPEAT (1); CARGO_TARGET_DIR as for cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

CAPTURE=${1:-/tmp/vtcq-big.pcap}
CALLS=${CALLS:-200}
CALL_SECONDS=${CALL_SECONDS:-60}
REPEAT=${REPEAT:-3}
TSHARK_REPEAT=${TSHARK_REPEAT:-1}
BOT=192.0.2.10
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release

need_apt() {
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
}
if [ ! -x /usr/bin/time ]; then
    need_apt; apt-get install -y -qq time >/dev/null
fi
if ! command -v tshark >/dev/null; then
    need_apt
    # Do not let the wireshark-common question (capture as non-root?) stop the install.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get install -y -qq tshark >/dev/null
fi

cargo build --release -q -p vtcq -p vtcq-benches --bins
if [ ! -s "$CAPTURE" ]; then
    "$BIN/make-capture" --out "$CAPTURE" --calls "$CALLS" --seconds "$CALL_SECONDS"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Warm the page cache so that every contender reads from memory.
"$BIN/read-floor" "$CAPTURE" > "$WORK/floor.out"
FRAMES=$(awk '{print $1}' "$WORK/floor.out")
SIZE_MB=$(( $(stat -c %s "$CAPTURE") >> 20 ))
echo "capture: $CAPTURE, $SIZE_MB MB, $FRAMES frames"
echo

# measure NAME REPEATS CMD...: keeps the run with the lowest wall time; its stdout goes to
# $WORK/NAME.out; sets WALL_NAME, CPU_NAME (user+sys s), RSS_NAME (KiB).
measure() {
    local name=$1 repeats=$2
    shift 2
    local best=""
    for _ in $(seq "$repeats"); do
        /usr/bin/time -f "%e %U %S %M" -o "$WORK/$name.time" "$@" > "$WORK/$name.run" 2> "$WORK/$name.err" || {
            echo "$name failed:"; cat "$WORK/$name.err"; exit 1; }
        read -r wall user sys rss < <(tail -n 1 "$WORK/$name.time")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then
            best=$wall
            printf -v "WALL_$name" '%s' "$wall"
            printf -v "CPU_$name" '%s' "$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')"
            printf -v "RSS_$name" '%s' "$rss"
            mv "$WORK/$name.run" "$WORK/$name.out"
        fi
    done
}

measure floor "$REPEAT" "$BIN/read-floor" "$CAPTURE"
measure streams "$REPEAT" "$BIN/vtcq" analyze "$CAPTURE" --streams
measure records "$REPEAT" "$BIN/vtcq" analyze "$CAPTURE" --local "$BOT" --format json
measure tshark "$TSHARK_REPEAT" tshark -q -z rtp,streams \
    --enable-heuristic rtp_udp --enable-heuristic rtcp_udp -r "$CAPTURE"

row() {
    local label=$1 name=$2
    local wall="WALL_$name" cpu="CPU_$name" rss="RSS_$name"
    printf '%-34s %9s %9s %10s %12s\n' "$label" "${!wall}" "${!cpu}" "$(( ${!rss} / 1024 ))" \
        "$(awk -v f="$FRAMES" -v w="${!wall}" 'BEGIN{ if (w > 0) printf "%.2f", f / w / 1e6; else print "-" }')"
}
printf '%-34s %9s %9s %10s %12s\n' "" "wall s" "cpu s" "peak MiB" "M frames/s"
row "floor (read-floor)" floor
row "vtcq analyze --streams" streams
row "vtcq analyze --local (records)" records
row "tshark -z rtp,streams" tshark
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f", a / b; else print "-" }'; }
echo "tshark / vtcq --streams: wall $(ratio "$WALL_tshark" "$WALL_streams")x, cpu $(ratio "$CPU_tshark" "$CPU_streams")x, peak RSS $(ratio "$RSS_tshark" "$RSS_streams")x"
echo "vtcq --streams / floor:  wall $(ratio "$WALL_streams" "$WALL_floor")x, cpu $(ratio "$CPU_streams" "$CPU_floor")x"
echo "vtcq records / floor:    wall $(ratio "$WALL_records" "$WALL_floor")x, cpu $(ratio "$CPU_records" "$CPU_floor")x"
echo
# Sanity: both found the same streams and packets (vtcq's table has one header line;
# tshark's rows start with the start and end times, Pkts is their 9th column).
VTCQ_ROWS=$(awk 'NR > 1 { n++; p += $8 } END { printf "%d streams, %d packets", n, p }' "$WORK/streams.out")
TSHARK_ROWS=$(awk '$1 ~ /^[0-9]+[.][0-9]+$/ && $2 ~ /^[0-9]+[.][0-9]+$/ { n++; p += $9 } END { printf "%d streams, %d packets", n, p }' "$WORK/tshark.out")
echo "RTP: vtcq $VTCQ_ROWS; tshark $TSHARK_ROWS"
echo "records: $(grep -cE '"#microsoft.graph.teleconferenceDevice(Audio|Video|ScreenSharing)Quality"' "$WORK/records.out") channels in the Graph body"
