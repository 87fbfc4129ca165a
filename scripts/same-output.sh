#!/usr/bin/env bash
# Checks that two revisions produce byte-identical output: `vtcq analyze` (JSON records, the
# table, `--streams`, `-v` counters, local-address inference, the flow bound) and the
# daemon's records (collector/examples/replay.rs: the capture through `CallTracker`).
#
#   scripts/same-output.sh BASE_REV [HEAD_REV]
#
# HEAD_REV defaults to the working tree as it is (uncommitted changes included). Captures:
# samples/three-channel-call.pcap, a generated lossy call, and every *.pcap / *.pcapng in
# $VTCQ_PCAP_DIR (default ../shared/testdata/pcap beside the repository). Each capture is
# analysed seen from every endpoint address of its RTP streams in turn (`--local ADDR`),
# as agent/tests/analyze.rs does. Exits 1 naming every capture and mode that differs.
#
# Each revision is exported with `git archive` into a temporary folder (no worktree is
# registered in the shared repository, so an interrupted run leaves nothing behind) and
# built there, in a target folder of its own under CARGO_TARGET_DIR (default: this
# checkout's target/), kept between runs so the third-party crates are compiled once. The
# working tree builds in CARGO_TARGET_DIR itself. One target folder never serves two
# checkouts at once: cargo does not copy a binary it finds fresh back to target/debug/,
# so the other checkout's binary could be left there and compared with itself.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BASE_REV [HEAD_REV]" >&2
    exit 2
fi
repo=$(git rev-parse --show-toplevel)
base_rev=$(git rev-parse --verify "$1^{commit}")
head_rev=""
if [ $# -eq 2 ]; then
    head_rev=$(git rev-parse --verify "$2^{commit}")
fi
pcap_dir=${VTCQ_PCAP_DIR:-$repo/../shared/testdata/pcap}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/same-output.XXXXXX")
trap 'rm -rf "$work"' EXIT

# build NAME REV: the vtcq binary and the replay example of REV (empty: the working tree)
# into $work/NAME/bin.
build() {
    local name=$1 rev=$2 src target
    if [ -z "$rev" ]; then
        src=$repo
        target=$target_dir
    else
        src=$work/$name/src
        target=$target_dir/same-output-$name
        mkdir -p "$src"
        git -C "$repo" archive "$rev" | tar -x -C "$src"
    fi
    echo "building $name (${rev:-working tree}) ..." >&2
    (cd "$src" && export CARGO_TARGET_DIR=$target &&
        cargo build --quiet -p vtcq --bin vtcq &&
        cargo build --quiet -p vtcq-collector --example replay)
    mkdir -p "$work/$name/bin"
    cp "$target/debug/vtcq" "$target/debug/examples/replay" "$work/$name/bin/"
}

build base "$base_rev"
build head "$head_rev"

# The captures, with a generated lossy call beside the shipped sample (written once, by
# the base revision, so both sides read the same bytes).
captures=("$repo/samples/three-channel-call.pcap")
generated=$work/generated-lossy-call.pcap
if "$work/base/bin/vtcq" generate --out "$generated" --seconds 40 --inbound-loss 12 \
    --outbound-loss 7 --inbound-delay-ms 80 --seed 11 >/dev/null 2>&1; then
    captures+=("$generated")
else
    echo "note: the base revision's vtcq generate failed; the generated capture is skipped" >&2
fi
if [ -d "$pcap_dir" ]; then
    while IFS= read -r -d '' file; do
        captures+=("$file")
    done < <(find "$pcap_dir" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0 | sort -z)
else
    echo "note: no capture folder at $pcap_dir (set VTCQ_PCAP_DIR)" >&2
fi

# run NAME CAPTURE MODE COMMAND...: stdout, stderr and exit status into $work/NAME/out.
run() {
    local name=$1 capture=$2 mode=$3
    shift 3
    local out=$work/$name/out/$(basename "$capture")
    mkdir -p "$out"
    local status=0
    "$@" >"$out/$mode.stdout" 2>"$out/$mode.stderr" || status=$?
    echo "$status" >"$out/$mode.status"
}

compared=0
for capture in "${captures[@]}"; do
    # Every endpoint address of a valid RTP stream (source and destination columns), as
    # the base revision lists them: both sides are asked the same questions.
    mapfile -t locals < <("$work/base/bin/vtcq" analyze "$capture" --streams 2>/dev/null |
        awk 'NR > 1 { print $1; print $3 }' | sort -u)
    for name in base head; do
        vtcq=$work/$name/bin/vtcq
        run "$name" "$capture" streams "$vtcq" analyze "$capture" --streams
        run "$name" "$capture" streams-flow-bound "$vtcq" analyze "$capture" --streams --max-flows 2 -v
        run "$name" "$capture" inferred-local "$vtcq" analyze "$capture" --format json -v
        run "$name" "$capture" replay "$work/$name/bin/replay" "$capture"
        for addr in "${locals[@]}"; do
            run "$name" "$capture" "json-$addr" "$vtcq" analyze "$capture" --local "$addr" --format json
            run "$name" "$capture" "table-$addr" "$vtcq" analyze "$capture" --local "$addr"
            run "$name" "$capture" "counters-$addr" "$vtcq" analyze "$capture" --local "$addr" -v
            run "$name" "$capture" "replay-$addr" "$work/$name/bin/replay" "$capture" --local "$addr"
        done
        if [ "$capture" = "$repo/samples/three-channel-call.pcap" ]; then
            # The flags agent/tests/analyze.rs gives the sample: declared kinds, clock rates.
            run "$name" "$capture" declared-json "$vtcq" analyze "$capture" --local 192.0.2.10 \
                --kind 50004=screenSharing --kind 50000=audio --clock-rate 50002/96=90000 \
                --link-speed 125000000 --format json
            run "$name" "$capture" declared-table "$vtcq" analyze "$capture" --local 192.0.2.10 \
                --kind 50004=screenSharing --clock-rate 0=8000 -v
        fi
    done
    compared=$((compared + 1))
done

outputs=$(find "$work/base/out" -type f -name '*.stdout' | wc -l)
head_label=${head_rev:0:12}
head_label=${head_label:-the working tree}
if diff -r "$work/base/out" "$work/head/out" >"$work/diff.txt"; then
    echo "same output: $compared captures, $outputs runs (stdout, stderr and exit status each) identical between ${base_rev:0:12} and $head_label"
    exit 0
fi
echo "DIFFERENT OUTPUT between ${base_rev:0:12} and $head_label:"
# One line per differing capture/mode, then the differences themselves.
diff -rq "$work/base/out" "$work/head/out" |
    sed -E -e "s|^Files $work/base/out/([^ ]*) and .* differ$|  differs: \1|" \
        -e "s|^Only in $work/([a-z]+)/out/?(.*): (.*)$|  only in \1: \2/\3|"
echo
sed -e "s|$work/[a-z]*/out/||g" "$work/diff.txt" | head -n 200
exit 1
