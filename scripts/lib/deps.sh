# shellcheck shell=bash disable=SC2034
# (SC2034: the package lists are read by the scripts that source this file.)
# Shared by scripts/run and scripts/test (sourced, not run): the Debian
# packages the project needs, installed only when missing, quietly.
#
# Works as root (CI) and as a normal user with sudo. apt-get's output goes
# to a log file; the terminal gets one line per step.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Logs of the set-up steps; .tetcore/ is the project's ignored local state.
SETUP_LOG_DIR="$REPO_ROOT/.tetcore/logs"

# Headers and libraries that the system-library targets link.
BUILD_PACKAGES=(libuv1-dev libpq-dev libjansson-dev libyajl-dev libhttp-parser-dev libssl-dev pkg-config)
# The dashboards' chart library, served by the server at /vendor/chart.js
# from /usr/share/javascript/chart.js/ (docs/dashboards.md).
DASHBOARD_PACKAGES=(libjs-chart.js)
# Server binaries for the embedded database of `serve`, and the dashboards'.
RUNTIME_PACKAGES=(postgresql "${DASHBOARD_PACKAGES[@]}")
# The private test cluster, promtool/prometheus for the metrics tests, and
# headless Chromium (and the chart library) for the dashboard tests, nginx for the scale-out test;
# podman (with Debian's runc) and debootstrap for the image and fresh-system
# tests, systemd for `systemd-analyze verify` of the unit, pg_auto_failover
# (its extension and pg_autoctl) for the failover tests, gdb for the stacks
# the watchdog prints when a run hangs (scripts/lib/watchdog.sh).
TEST_PACKAGES=(postgresql postgresql-15-auto-failover prometheus chromium nginx podman runc debootstrap systemd gdb "${DASHBOARD_PACKAGES[@]}")
# From PyPI, into the project's virtual environment (VENV_DIR) made with
# Debian's python3, whose python3 the tests run: jsonschema checks API
# responses against static/openapi.json, kubernetes-validate
# deployment.template.yml, schemathesis fuzzes the API against the same
# document.
TEST_PYTHON_PACKAGES=(jsonschema kubernetes-validate schemathesis)
# Debian 12 packages the Swift toolchain itself needs to compile and link
# (swift.org lists them beside its Debian 12 download).
SWIFT_PACKAGES=(binutils gcc git libc6-dev libcurl4-openssl-dev libedit2 libncurses6 libpython3.11 libsqlite3-0 libstdc++-12-dev libxml2 libz3-4 pkg-config tzdata zlib1g-dev)
# Debian's python3 refuses a system-wide `pip install` (PEP 668): the test
# tools live in a virtual environment in the project's ignored folder.
VENV_DIR="$REPO_ROOT/.tetcore/venv"

# step MESSAGE : the one line a step prints.
step() { printf '==> %s\n' "$*"; }

# fail MESSAGE : print and exit non-zero.
fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# as_root COMMAND... : run as root; through sudo when we are not root.
# Without a terminal (CI, pipes) sudo must not wait for a password that
# nobody types, so it runs non-interactively there.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif [ -t 0 ]; then
        sudo "$@"
    else
        sudo -n "$@"
    fi
}

# missing_packages PKG... : print the packages that are not installed.
missing_packages() {
    local package status
    for package in "$@"; do
        status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
        # "install ok installed", or "hold ok installed" for a held package.
        [[ "$status" == *" ok installed" ]] || printf '%s\n' "$package"
    done
}

# ensure_packages PKG... : apt-get install only what is missing. The
# package index is refreshed once, and only when something is missing.
ensure_packages() {
    command -v dpkg-query >/dev/null || fail "dpkg-query not found: these scripts install packages on Debian 12"
    local wanted=() package missing=()
    # De-duplicate: a package may be in several lists.
    for package in "$@"; do
        [[ " ${wanted[*]-} " == *" $package "* ]] || wanted+=("$package")
    done
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if [ ${#missing[@]} -eq 0 ]; then
        step "packages: all ${#wanted[@]} present"
        return 0
    fi

    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
        fail "missing packages ${missing[*]}: installing them needs root (run as root, or install sudo)"
    fi
    mkdir -p "$SETUP_LOG_DIR"
    local log="$SETUP_LOG_DIR/apt.log"
    printf '\n=== %s: installing %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "${missing[*]}" >>"$log"
    # Wait for a dpkg lock held by another apt run instead of failing.
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300)
    step "packages: installing ${missing[*]} (log: $log)"
    if ! as_root "${apt[@]}" update >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        fail "apt-get update failed (log: $log)"
    fi
    if ! as_root "${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        fail "apt-get install failed (log: $log)"
    fi
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    [ ${#missing[@]} -eq 0 ] || fail "still not installed after apt-get: ${missing[*]} (log: $log)"
}

# ensure_swift : the toolchain is not a Debian package; use the one in
# /opt/swift when PATH lacks it (sudo and some shells reset PATH), and the
# Debian packages it needs.
ensure_swift() {
    if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null || fail "swift not found on PATH or in /opt/swift/usr/bin"
    ensure_packages "${SWIFT_PACKAGES[@]}"
}

# ensure_python_packages PKG... : a virtual environment in VENV_DIR made
# with Debian's python3 (made again if its interpreter no longer runs), pip
# install there what `pip show` does not find, quietly (the log is in
# SETUP_LOG_DIR), and VENV_DIR/bin first on PATH, so that the `python3`
# the tests run is the environment's.
ensure_python_packages() {
    ensure_packages python3 python3-venv
    mkdir -p "$SETUP_LOG_DIR"
    local log="$SETUP_LOG_DIR/pip.log"
    if ! "$VENV_DIR/bin/python3" -c 'import sys' >/dev/null 2>&1; then
        step "python: virtual environment in $VENV_DIR (Debian's /usr/bin/python3)"
        rm -rf "$VENV_DIR"
        /usr/bin/python3 -m venv "$VENV_DIR" >>"$log" 2>&1 || fail "python3 -m venv $VENV_DIR failed (log: $log)"
    fi
    export PATH="$VENV_DIR/bin:$PATH"
    local missing=() package
    for package in "$@"; do
        "$VENV_DIR/bin/python3" -m pip show -q "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    step "pip install ${missing[*]} (into $VENV_DIR)"
    "$VENV_DIR/bin/python3" -m pip install -q --disable-pip-version-check "${missing[@]}" \
        >>"$log" 2>&1 || fail "pip install ${missing[*]} failed (log: $log)"
}
