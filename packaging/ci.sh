#!/usr/bin/env bash
# Packaging checks of ESSP: the Helm chart, the plain manifests, the
# Dockerfile, the monitoring rules and dashboards, and the Debian package.
#
#   bash packaging/ci.sh
#
# Installs what is missing (idempotently: apt packages, a Python venv at
# .venv, cargo-deb), stops everything it starts, and exits non-zero on the
# first failure. Needs root (apt, dpkg -i, a user for the service, a
# container for the systemd check). The Debian step builds essp in release
# mode (~9 min cold; incremental afterwards).
#
# Environment:
#   ESSP_BIN              debug binary for the config and metrics checks
#                         (default: built with `cargo build -p essp`)
#   ESSP_CI_SKIP_DEB=1    skip the Debian package steps (fast local runs)
#   ESSP_CI_SKIP_NSPAWN=1 skip only the boot of the unit under a real systemd
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$REPO/.venv"
PY="$VENV/bin/python"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
# No __pycache__ directories in the work tree.
export PYTHONDONTWRITEBYTECODE=1
# The hardening score of essp.service must stay at or below this.
MAX_EXPOSURE="1.5"

STARTED_AT=$(date +%s)
STEP_AT=$STARTED_AT
STEP=""
SUMMARY=()
CLEANUP_PIDS=()
CLEANUP_DIRS=()
PURGE_ON_EXIT=0

section() {
    local now
    now=$(date +%s)
    if [ -n "$STEP" ]; then
        SUMMARY+=("$(printf '%-64s %5ss' "$STEP" "$((now - STEP_AT))")")
    fi
    STEP="$1"
    STEP_AT=$now
    printf '\n==== %s ====\n' "$1"
}

cleanup() {
    local rc=$?
    for pid in "${CLEANUP_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ "$PURGE_ON_EXIT" = 1 ] && dpkg -s essp >/dev/null 2>&1; then
        echo "cleanup: purging the essp package installed by this run"
        dpkg --purge essp >/dev/null 2>&1 || true
    fi
    for dir in "${CLEANUP_DIRS[@]}"; do
        rm -rf "$dir"
    done
    if [ "$rc" -ne 0 ]; then
        printf '\n==== FAILED in step: %s (exit %s) ====\n' "$STEP" "$rc" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------
section "tools (idempotent installs)"
# ---------------------------------------------------------------------------
need_apt=()
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)
command -v lintian >/dev/null || need_apt+=(lintian)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v systemd-nspawn >/dev/null || need_apt+=(systemd-container)
command -v curl >/dev/null || need_apt+=(curl)
command -v adduser >/dev/null || need_apt+=(adduser)
python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# Debian's prometheus package would start a server where systemd runs; this
# script starts its own, on a free port, only for the metrics check.
[ -x "$PY" ] || python3 -m venv "$VENV"
"$PY" -m pip install -q --disable-pip-version-check -r packaging/requirements.txt
if ! command -v cargo-deb >/dev/null; then
    echo "cargo install cargo-deb (once per machine, ~5 min)"
    cargo install cargo-deb --locked --version 3.8.0
fi
echo "promtool: $(promtool --version 2>&1 | head -1)"
echo "lintian:  $(lintian --version)"
echo "cargo-deb: $(cargo deb --version 2>&1 | head -1)"
echo "python:   $("$PY" --version), helm-python-sdk $("$PY" -c 'import helm_python; print(helm_python.__version__)')"

# ---------------------------------------------------------------------------
section "essp debug binary (config and metrics checks)"
# ---------------------------------------------------------------------------
if [ -z "${ESSP_BIN:-}" ]; then
    cargo build -q -p essp --bin essp
    ESSP_BIN="$TARGET_DIR/debug/essp"
fi
export ESSP_BIN
"$ESSP_BIN" version

# ---------------------------------------------------------------------------
section "chart: lint, schema validation, runbook names (pytest)"
# ---------------------------------------------------------------------------
"$PY" -m pytest packaging/tests -q

# ---------------------------------------------------------------------------
section "plain manifests up to date (render.py --check)"
# ---------------------------------------------------------------------------
"$PY" packaging/k8s/render.py --check

# ---------------------------------------------------------------------------
section "Dockerfile and shell scripts (hadolint, shellcheck)"
# ---------------------------------------------------------------------------
"$VENV/bin/hadolint" packaging/docker/Dockerfile
echo "hadolint: packaging/docker/Dockerfile clean"
"$VENV/bin/shellcheck" -s sh packaging/docker/entrypoint packaging/docker/migrate \
    packaging/debian/postinst packaging/debian/postrm
"$VENV/bin/shellcheck" packaging/ci.sh
echo "shellcheck: clean"

# ---------------------------------------------------------------------------
section "alert rules (promtool check/test rules, amtool)"
# ---------------------------------------------------------------------------
promtool check rules packaging/monitoring/prometheus-rules.yaml
promtool test rules packaging/monitoring/tests/*.yaml
amtool check-config packaging/monitoring/alertmanager.yml

# ---------------------------------------------------------------------------
section "metrics of a live essp (names, promtool check metrics, queries)"
# ---------------------------------------------------------------------------
"$PY" packaging/monitoring/check_metrics.py --essp "$ESSP_BIN"

if [ "${ESSP_CI_SKIP_DEB:-}" = 1 ]; then
    section "Debian package: SKIPPED (ESSP_CI_SKIP_DEB=1)"
else
    # -----------------------------------------------------------------------
    section "Debian package: build (cargo deb -p essp, release)"
    # -----------------------------------------------------------------------
    cargo deb -p essp | tee "$TARGET_DIR/essp-deb-build.log"
    DEB=$(tail -n 1 "$TARGET_DIR/essp-deb-build.log")
    [ -f "$DEB" ] || { echo "cargo deb did not report a .deb: $DEB" >&2; exit 1; }
    dpkg-deb --info "$DEB" | sed -n '/Package:/,/Description:/p'

    # -----------------------------------------------------------------------
    section "Debian package: lintian"
    # -----------------------------------------------------------------------
    # Shown: warnings and up, and the overridden tags with their reasons
    # (lintian counts a shown overridden error as a failure, hence two runs).
    lintian --display-level '>=warning' --show-overrides "$DEB" || true
    # Gate: errors fail.
    lintian --fail-on error "$DEB" >/dev/null
    echo "lintian: no errors"

    # -----------------------------------------------------------------------
    section "Debian package: install and verify the unit"
    # -----------------------------------------------------------------------
    if dpkg -s essp >/dev/null 2>&1; then
        echo "essp is installed (a previous run?): purging it first"
        dpkg --purge essp
    fi
    PURGE_ON_EXIT=1
    dpkg -i "$DEB"
    getent passwd essp
    test -d /var/lib/essp
    test "$(stat -c '%U:%G %a' /var/lib/essp)" = "essp:essp 750"
    test "$(stat -c '%U %a' /etc/essp/essp.env)" = "root 600"
    dpkg-query -W -f='${Conffiles}\n' essp | grep -q '/etc/essp/essp.env'
    # Installing twice (reconfiguring) is idempotent.
    DEBIAN_FRONTEND=noninteractive dpkg-reconfigure essp
    getent passwd essp
    systemd-analyze verify /lib/systemd/system/essp.service \
        /lib/systemd/system/essp-backup.service /lib/systemd/system/essp-backup.timer
    echo "systemd-analyze verify: clean (essp.service, essp-backup.service, essp-backup.timer)"
    systemd-analyze security --offline=true essp.service | tail -n 25
    score=$(systemd-analyze security --offline=true essp.service | sed -n 's/.*Overall exposure level for essp.service: \([0-9.]*\).*/\1/p')
    echo "exposure score: $score (must be <= $MAX_EXPOSURE)"
    awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s != "" && s <= m) }'

    # -----------------------------------------------------------------------
    section "Debian package: run as essp with the packaged env file"
    # -----------------------------------------------------------------------
    port=$(free_port)
    runlog=$(mktemp)
    CLEANUP_DIRS+=("$runlog")
    # Like the unit: the packaged environment, the essp user, no new
    # privileges, no capabilities, a read-only / with /var/lib/essp and a
    # private /tmp writable.
    (
        set -a
        # shellcheck disable=SC1091
        . /etc/essp/essp.env
        set +a
        export HTTP_ADDR="127.0.0.1:$port"
        exec unshare --mount --propagation private sh -ec '
            mount -t tmpfs -o mode=1777 tmpfs /tmp
            mount --bind /var/lib/essp /var/lib/essp
            mount -o remount,bind,ro /
            cd /var/lib/essp
            exec setpriv --reuid=essp --regid=essp --init-groups --no-new-privs \
                --bounding-set=-all --inh-caps=-all /usr/bin/essp serve'
    ) >"$runlog" 2>&1 &
    essp_pid=$!
    CLEANUP_PIDS+=("$essp_pid")
    code=000
    for _ in $(seq 1 150); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
        [ "$code" = 200 ] && break
        kill -0 "$essp_pid" 2>/dev/null || break
        sleep 0.2
    done
    curl -s "http://127.0.0.1:$port/readyz" || true
    echo
    if [ "$code" != 200 ]; then
        echo "/readyz answered $code" >&2
        cat "$runlog" >&2
        exit 1
    fi
    owner=$(ps -o user= -p "$(pgrep -u essp -f '/usr/bin/essp serve' | head -n 1)")
    test "$owner" = essp
    kill -TERM "$essp_pid"
    wait "$essp_pid"
    echo "essp served /readyz 200 as user '$owner' and stopped cleanly on SIGTERM"
    test -f /var/lib/essp/essp.db
    # The image's wrappers (/app/entrypoint, /app/migrate) against the installed binary.
    wrapdir=$(mktemp -d)
    CLEANUP_DIRS+=("$wrapdir")
    ESSP_DATA_DIR="$wrapdir" sh packaging/docker/entrypoint version
    ESSP_DATA_DIR="$wrapdir" sh packaging/docker/entrypoint "$REPO/packaging/docker/migrate" up
    ESSP_DATA_DIR="$wrapdir" sh packaging/docker/entrypoint "$REPO/packaging/docker/migrate" version
    echo "image wrappers: entrypoint and migrate work"

    if [ "${ESSP_CI_SKIP_NSPAWN:-}" = 1 ]; then
        section "Debian package: boot under systemd: SKIPPED (ESSP_CI_SKIP_NSPAWN=1)"
    else
        # -------------------------------------------------------------------
        section "Debian package: start essp.service under a real systemd"
        # -------------------------------------------------------------------
        # This machine's PID 1 is not systemd, so the unit (with all its
        # hardening) is started in a container booting this OS: root
        # read-only, /var on a tmpfs, private network, and a target that
        # starts essp.service, checks /readyz and powers off.
        nsdir=$(mktemp -d)
        CLEANUP_DIRS+=("$nsdir")
        mkdir -p "$nsdir/root" "$nsdir/out" "$nsdir/units"
        cat >"$nsdir/units/essp-ci.target" <<'EOF'
[Unit]
Description=essp.service check (packaging/ci.sh)
Requires=essp.service essp-ci-check.service
EOF
        cat >"$nsdir/units/essp-ci-check.service" <<'EOF'
[Unit]
Description=check essp.service, then power off
After=essp.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'c=000; for i in $(seq 1 150); do c=$(curl -s -o /run/out/readyz.json -w "%%{http_code}" http://127.0.0.1:8080/readyz); [ "$c" = 200 ] && break; sleep 0.2; done; echo "$c" > /run/out/code; systemctl start essp-backup.service; systemctl show essp-backup -p Result > /run/out/backup-show; ls /var/lib/essp/backups > /run/out/backups 2>&1; systemctl show essp -p User -p ActiveState -p NRestarts > /run/out/show; systemctl stop essp; systemctl show essp -p Result >> /run/out/show; journalctl -u essp --no-pager -o cat > /run/out/journal 2>&1; systemctl poweroff'
EOF
        set +e
        # shellcheck disable=SC2016  # $1 expands in the inner sh
        timeout 180 unshare --mount --propagation private sh -c '
            mount --bind / "$1/root" &&
            exec systemd-nspawn --quiet -D "$1/root" --volatile=state --private-network \
                --register=no --keep-unit \
                --bind="$1/out:/run/out" \
                --bind-ro="$1/units/essp-ci.target:/run/systemd/system/essp-ci.target" \
                --bind-ro="$1/units/essp-ci-check.service:/run/systemd/system/essp-ci-check.service" \
                -b -- systemd.unit=essp-ci.target' sh "$nsdir" >"$nsdir/console.log" 2>&1
        ns_rc=$?
        set -e
        rmdir /run/systemd/nspawn/propagate/root /run/systemd/nspawn/propagate /run/systemd/nspawn/locks \
            /run/systemd/nspawn 2>/dev/null || true
        if [ "$ns_rc" -ne 0 ] || [ "$(cat "$nsdir/out/code" 2>/dev/null)" != 200 ]; then
            echo "essp.service did not serve /readyz under systemd (nspawn rc=$ns_rc)" >&2
            tail -n 40 "$nsdir/console.log" >&2
            cat "$nsdir/out/show" "$nsdir/out/journal" >&2 2>/dev/null || true
            exit 1
        fi
        cat "$nsdir/out/readyz.json"
        echo
        cat "$nsdir/out/show"
        grep -q '^Result=success$' "$nsdir/out/show"
        grep -q '^User=essp$' "$nsdir/out/show"
        echo "essp.service: active under systemd with its hardening, /readyz 200, stopped cleanly"
        cat "$nsdir/out/backup-show" "$nsdir/out/backups"
        grep -q '^Result=success$' "$nsdir/out/backup-show"
        grep -q '^essp-[0-9-]*\.db$' "$nsdir/out/backups"
        echo "essp-backup.service: an online backup written while essp.service ran"
    fi

    # -----------------------------------------------------------------------
    section "Debian package: purge"
    # -----------------------------------------------------------------------
    dpkg --purge essp
    PURGE_ON_EXIT=0
    if getent passwd essp >/dev/null || getent group essp >/dev/null; then
        echo "the essp user or group survived the purge" >&2
        exit 1
    fi
    for path in /var/lib/essp /etc/essp /usr/bin/essp /lib/systemd/system/essp.service \
        /lib/systemd/system/essp-backup.service /lib/systemd/system/essp-backup.timer; do
        if [ -e "$path" ]; then
            echo "$path survived the purge" >&2
            exit 1
        fi
    done
    echo "purged: no essp user, group, state or files left"
fi

section "done"
echo
echo "Summary (seconds per step):"
printf '  %s\n' "${SUMMARY[@]}"
echo "packaging/ci.sh passed in $(($(date +%s) - STARTED_AT))s"
