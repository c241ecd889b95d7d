# shellcheck shell=bash
# Used by the container tests (sourced after deps.sh): a Debian 12 root file
# system made by `debootstrap --variant=minbase bookworm`, kept in
# .tetcore/cache/ (ignored) and made again when missing or older than
# ROOTFS_MAX_AGE_DAYS (7). From it:
#   - the image test's base image, a stand-in for debian:bookworm-slim (no
#     registry is needed): the same tree slimmed as Debian's slim images are
#     (no documentation, manual pages or translations, dpkg told to leave
#     them out of later installs), imported under the name Containerfile uses;
#   - the fresh-system test's machine: a copy of the tree as debootstrap
#     left it.
# The Debian mirror is DEBIAN_MIRROR (default http://deb.debian.org/debian).

ROOTFS_DIR="$REPO_ROOT/.tetcore/cache/bookworm-minbase"
BASE_IMAGE=docker.io/library/debian:bookworm-slim

# ensure_rootfs : ROOTFS_DIR holds a complete tree (a marker file is written
# last, so an interrupted debootstrap is started again).
ensure_rootfs() {
    local marker="$ROOTFS_DIR.complete"
    if [ -f "$marker" ] && [ -z "$(find "$marker" -mtime +"${ROOTFS_MAX_AGE_DAYS:-7}" 2>/dev/null)" ]; then
        return 0
    fi
    ensure_packages debootstrap
    mkdir -p "$SETUP_LOG_DIR"
    local log="$SETUP_LOG_DIR/debootstrap.log"
    rm -rf "$ROOTFS_DIR" "$marker"
    mkdir -p "$(dirname "$ROOTFS_DIR")"
    step "rootfs: debootstrap --variant=minbase bookworm $ROOTFS_DIR (log: $log)"
    if ! as_root debootstrap --variant=minbase bookworm "$ROOTFS_DIR" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        fail "debootstrap failed (log: $log)"
    fi
    # Security and point-release updates, as Debian's own images list them.
    as_root tee "$ROOTFS_DIR/etc/apt/sources.list" >/dev/null <<SOURCES
deb ${DEBIAN_MIRROR:-http://deb.debian.org/debian} bookworm main
deb ${DEBIAN_MIRROR:-http://deb.debian.org/debian} bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    touch "$marker"
}

# import_base_image : ensure_rootfs, then import the slimmed tree as
# BASE_IMAGE with podman (replacing an earlier import).
import_base_image() {
    ensure_rootfs
    local extra
    extra="$(mktemp -d)"
    mkdir -p "$extra/etc/dpkg/dpkg.cfg.d"
    cat >"$extra/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
# As in Debian's slim images: packages installed later leave these out.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
    step "base image: $BASE_IMAGE from $ROOTFS_DIR"
    # shellcheck disable=SC2016
    as_root tar -c --numeric-owner \
        --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' \
        --exclude='./usr/share/locale/*' --exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*' \
        --exclude='./var/log/*' \
        -C "$ROOTFS_DIR" . -C "$extra" ./etc/dpkg/dpkg.cfg.d/slim \
        | podman import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$extra"
}
