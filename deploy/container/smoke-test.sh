#!/usr/bin/env bash
# Smoke test of a vtcq binary: run by the image build (deploy/container/Dockerfile, on the
# freshly built binary in the builder stage) and by deploy/check.sh on the host, so that
# both run exactly the same commands.
#
#   deploy/container/smoke-test.sh VTCQ [EXPECTED_VERSION]
#
# EXPECTED_VERSION (the image's VERSION build argument): when set and not "dev",
# `vtcq --version` must print exactly "vtcq EXPECTED_VERSION".
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 VTCQ [EXPECTED_VERSION]" >&2
    exit 2
fi
vtcq="$1"
expected="${2:-}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Configuration keys also come from VTCQ_SECTION__KEY variables: none may leak in.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^VTCQ_' || true)

step() { printf 'smoke-test: %s\n' "$*"; }
fail() { printf 'smoke-test: FAILED: %s\n' "$*" >&2; exit 1; }

step "vtcq --version"
version="$("$vtcq" --version)"
echo "$version"
case "$version" in
    "vtcq "[0-9]*) ;;
    *) fail "unexpected --version output: $version" ;;
esac
if [ -n "$expected" ] && [ "$expected" != dev ] && [ "$version" != "vtcq $expected" ]; then
    fail "the binary says \"$version\", the image is labelled $expected"
fi

step "every shipped configuration validates"
"$vtcq" validate --config "$root/deploy/config/vtcq.example.toml"
"$vtcq" validate --config "$root/deploy/container/vtcq.toml"
"$vtcq" validate --config "$root/deploy/systemd/vtcq.toml"
# The Kubernetes config names files that the pod mounts (Graph secret, API token): stand-ins.
printf 'stand-in-secret' >"$tmp/client-secret"
printf 'stand-in-token' >"$tmp/token"
chmod 600 "$tmp/client-secret" "$tmp/token"
VTCQ_GRAPH__CLIENT_SECRET_FILE="$tmp/client-secret" VTCQ_API__BEARER_TOKEN_FILE="$tmp/token" \
    "$vtcq" validate --config "$root/deploy/kubernetes/vtcq.toml"

step "a bad configuration is exit 78 naming the key"
printf '[capture]\ninterface = "eth0"\n[log]\nformat = "xml"\n' >"$tmp/bad.toml"
set +e
"$vtcq" validate --config "$tmp/bad.toml" 2>"$tmp/bad.err"
status=$?
set -e
cat "$tmp/bad.err"
[ "$status" -eq 78 ] || fail "vtcq validate on a bad config exited $status, not 78"
grep -q 'log.format' "$tmp/bad.err" || fail "the error does not name log.format"

step "vtcq analyze samples/three-channel-call.pcap --local 192.0.2.10 --format json"
"$vtcq" analyze "$root/samples/three-channel-call.pcap" --local 192.0.2.10 --format json >"$tmp/record.json"
grep -q '"@odata.type": "#microsoft.graph.teleconferenceDeviceQuality"' "$tmp/record.json" \
    || fail "no teleconferenceDeviceQuality record"
channels="$(grep -c '"channelIndex"' "$tmp/record.json" || true)"
[ "$channels" -eq 3 ] || fail "expected 3 channels in the record, got $channels"
step "ok"
