# Shared by scripts/run and scripts/test: install what is missing, quietly.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOG_DIR="${TMPDIR:-/tmp}/tetcore-analytics-setup"
mkdir -p "$LOG_DIR"

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG... : apt-get install only the packages not installed yet.
ensure_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]} (log: $LOG_DIR/apt.log)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$LOG_DIR/apt.log" 2>&1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 \
        || { tail -20 "$LOG_DIR/apt.log" >&2; return 1; }
}

BUILD_PACKAGES=(libuv1-dev libpq-dev libjansson-dev libhttp-parser-dev libssl-dev pkg-config)
# The embedded database of `serve` and the private test cluster.
SERVER_PACKAGES=(postgresql)
