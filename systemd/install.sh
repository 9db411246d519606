#!/usr/bin/env bash
# Install and start the moodbox systemd service from a checkout that setup.sh prepared.
# Usage: systemd/install.sh [CHECKOUT]   (called by ./setup.sh --service)
set -euo pipefail
ROOT="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
say() { printf '[service] %s\n' "$*" >&2; }

command -v systemctl >/dev/null || { echo "[service] error: systemctl not found (systemd needed)" >&2; exit 1; }

# A system user that may use the camera, GPIO and audio; its home is the state directory.
if ! id moodbox >/dev/null 2>&1; then
    say "creating system user moodbox"
    as_root useradd --system --home-dir /var/lib/moodbox --no-create-home --shell /usr/sbin/nologin moodbox
fi
# The unit names these groups (SupplementaryGroups=); a missing one would stop it with 216/GROUP.
for group in video gpio audio; do
    getent group "$group" >/dev/null || as_root groupadd --system "$group"
    as_root usermod -aG "$group" moodbox
done

# The service runs the checkout's .venv: user moodbox must be able to read it.
if ! as_root runuser -u moodbox -- test -x "$ROOT/.venv/bin/moodbox"; then
    echo "[service] error: user moodbox cannot read $ROOT (a home folder with mode 0700?)." >&2
    echo "[service] Clone moodbox to /opt/moodbox (sudo git clone ... /opt/moodbox) and run setup.sh --service there." >&2
    exit 1
fi

# /etc/moodbox/config.yaml: the repository default with absolute paths, written once, never overwritten.
as_root install -d -m 0755 /etc/moodbox
if [ ! -f /etc/moodbox/config.yaml ]; then
    owner="${SUDO_USER:-$(id -un)}"
    music="$(getent passwd "$owner" | cut -d: -f6)/Music"
    say "writing /etc/moodbox/config.yaml (music folder: $music)"
    sed -e "s#^\(  models_dir:\) models_tflite#\1 $ROOT/models_tflite#" \
        -e "s#^\(  demo_path:\) demo-library#\1 $ROOT/demo-library#" \
        -e "s#^    - ~/Music#    - $music#" \
        "$ROOT/config.yaml" | as_root tee /etc/moodbox/config.yaml >/dev/null
else
    say "keeping the existing /etc/moodbox/config.yaml"
fi
# Warn about music folders the service user cannot read (Bookworm home folders are 0700).
for folder in $(sed -n '/^library:/,/^[a-z]/s/^    - //p' /etc/moodbox/config.yaml); do
    if ! as_root runuser -u moodbox -- test -r "$folder" -a -x "$folder" 2>/dev/null; then
        say "warning: user moodbox cannot read $folder; e.g. sudo chmod o+x \"$(dirname "$folder")\" && sudo chmod -R o+rX \"$folder\""
    fi
done
"$ROOT/.venv/bin/moodbox" check-config --quiet /etc/moodbox/config.yaml

sed "s#@PREFIX@#$ROOT#g" "$ROOT/systemd/moodbox.service" | as_root tee /etc/systemd/system/moodbox.service >/dev/null
as_root systemctl daemon-reload
as_root systemctl enable --now moodbox.service
say "started. Logs: journalctl -u moodbox -f    Stop: sudo systemctl stop moodbox"
