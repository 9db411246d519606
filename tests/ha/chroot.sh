#!/usr/bin/env bash
# Home Assistant releases that need a newer Python than the host's, each in a Debian root file
# system of its own (native amd64, debootstrap from the host's Debian mirror; cached between runs):
#   2024.4 .. 2026.2.x  -> trixie (Debian 13, Python 3.13.5; 2026.2 needs >= 3.13.2)
#   2026.3 and newer    -> forky  (Debian 14 testing, Python 3.14; they need >= 3.14.2)
# Usage (root): bash tests/ha/chroot.sh VERSION [install|mount|umount|paths]
#   install (default): tests/ha/rootfs-<release>/ with Home Assistant VERSION in /opt/ha-VERSION and the
#     requirements of the integrations check.py sets up, and hass-chroot / python-chroot wrappers there;
#   mount / umount: /proc, /dev and /tmp (check.py's work folder) in the root, for run.sh;
#   paths: the venv's folder as seen from the host.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
CHROOT_CA=/etc/moodbox-host-ca.crt   # the host's CA bundle (the registry may be reached through a TLS proxy)

release_for() {
    python3 - "$1" <<'PY'
import sys
year, month = (int(p) for p in sys.argv[1].split(".")[:2])
print("trixie" if (year, month) < (2026, 3) else "forky")
PY
}

host_mirror() {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && !/security/ {print $2; exit}' || true
    awk '/^deb / && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
        /etc/apt/sources.list 2>/dev/null || true
}

in_root() {
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        SSL_CERT_FILE="$CHROOT_CA" PIP_CERT="$CHROOT_CA" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_DEFAULT_TIMEOUT=180 "$@"
}

mounted_below() { awk -v r="$ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts; }

mount_root() {
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
    mountpoint -q "$ROOT/tmp" || mount --bind /tmp "$ROOT/tmp"
}

umount_root() {
    local m
    for m in $(mounted_below | sort -r); do umount -l "$m" || true; done
}

build_root() {
    [ -f "$ROOT/.moodbox-base" ] && return 0
    [ -z "$(mounted_below)" ] || { echo "still mounted below $ROOT:"; mounted_below; return 1; }
    command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; }
    local mirror script=""
    mirror="${MOODBOX_HA_MIRROR:-$(host_mirror | sed -n 1p)}"
    [ -n "$mirror" ] || { echo "no Debian mirror in the host's apt sources; set MOODBOX_HA_MIRROR" >&2; return 2; }
    # Debian 12's debootstrap has no script for forky: sid's works for it.
    [ -e "/usr/share/debootstrap/scripts/$RELEASE" ] || script=/usr/share/debootstrap/scripts/sid
    rm -rf --one-file-system "$ROOT"
    echo "== debootstrap $RELEASE into $ROOT (from $mirror)"
    nice debootstrap --variant=minbase --include=python3,python3-venv,python3-dev,build-essential \
        "$RELEASE" "$ROOT" "$mirror" $script >"$ROOT.debootstrap.log" 2>&1 \
        || { tail -20 "$ROOT.debootstrap.log"; return 1; }
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    cp "$HOST_CA" "$ROOT$CHROOT_CA"
    touch "$ROOT/.moodbox-base"
}

install_ha() {
    local venv="/opt/ha-$VERSION" pip
    pip=(/opt/ha-"$VERSION"/bin/python -m pip install -q)
    if [ ! -f "$ROOT$venv/.moodbox-ready" ]; then
        echo "== installing Home Assistant $VERSION into $ROOT$venv ($(in_root python3 --version))"
        rm -rf "$ROOT$venv"
        in_root python3 -m venv "$venv"
        in_root "${pip[@]}" --upgrade pip
        in_root "$venv/bin/python" -m pip download -q --no-deps -d "$venv/wheels" "homeassistant==$VERSION"
        in_root "$venv/bin/python" -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("homeassistant/package_constraints.txt").decode())' \
            "$venv/wheels/homeassistant-$VERSION-py3-none-any.whl" > "$ROOT$venv/constraints.txt"
        in_root "${pip[@]}" -c "$venv/constraints.txt" "$venv/wheels/homeassistant-$VERSION-py3-none-any.whl"
        touch "$ROOT$venv/.moodbox-ready"
    else
        echo "== reusing Home Assistant $VERSION in $ROOT$venv"
    fi
    # The integrations check.py sets up (HA runs with --skip-pip), under HA's pins; quick when all are there.
    in_root "$venv/bin/python" - < "$HERE/requirements.py" > "$ROOT$venv/requirements.txt"
    in_root "${pip[@]}" -c "$venv/constraints.txt" -r "$venv/requirements.txt"
    # check.py runs hass (and its Python, for websocket calls) through these.
    for tool in hass python; do
        cat >"$ROOT$venv/$tool-chroot" <<SH
#!/bin/sh
exec chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=$venv/bin:/usr/bin:/bin SSL_CERT_FILE=$CHROOT_CA $venv/bin/$tool "\$@"
SH
        chmod +x "$ROOT$venv/$tool-chroot"
    done
}

VERSION="${1:?usage: chroot.sh VERSION install|mount|umount|paths}"
RELEASE="$(release_for "$VERSION")"
ROOT="$HERE/rootfs-$RELEASE"
case "${2:-install}" in
    paths) echo "$ROOT/opt/ha-$VERSION"; exit 0 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "tests/ha/chroot.sh needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
case "${2:-install}" in
    install) build_root; mount_root; trap umount_root EXIT; install_ha ;;
    mount) mount_root ;;
    umount) umount_root ;;
    *) echo "chroot.sh: unknown action ${2}" >&2; exit 2 ;;
esac
