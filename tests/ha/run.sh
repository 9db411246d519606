#!/usr/bin/env bash
# The real Home Assistant as moodbox's MQTT client: installs Home Assistant core from PyPI into its own
# venv (reused when present), then runs tests/ha/check.py against a loopback mosquitto and `moodbox run`.
# Home Assistant 2024.3.3 is the newest release whose Requires-Python admits Python 3.11 (2024.4 needs 3.12).
# Usage: bash tests/ha/run.sh     (MOODBOX_HA_VENV=DIR to put HA's venv elsewhere; default tests/ha/.venv)
#        bash tests/ha/run.sh --ha VERSION   (as root) a newer release, in a Debian root file system of its own
#        with the Python it needs (tests/ha/chroot.sh: 2026.2.x in Debian 13, 2026.3 and newer in forky; cached)
set -euo pipefail
cd "$(dirname "$0")/../.."
HOST_HA_VERSION=2024.3.3
HA_VERSION="$HOST_HA_VERSION"
while [ $# -gt 0 ]; do
    case "$1" in
        --ha) HA_VERSION="${2:?--ha needs a version}"; shift 2 ;;
        *) echo "usage: tests/ha/run.sh [--ha VERSION]" >&2; exit 2 ;;
    esac
done
HA_VENV="${MOODBOX_HA_VENV:-tests/ha/.venv}"
PY=.venv/bin/python
START=$(date +%s)
if [ ! -x "$PY" ]; then
    echo "tests/ha/run.sh: $PY missing; run ./setup.sh --test first" >&2
    exit 2
fi
if [ "$HA_VERSION" != "$HOST_HA_VERSION" ]; then
    bash tests/ha/chroot.sh "$HA_VERSION" install
    venv="$(bash tests/ha/chroot.sh "$HA_VERSION" paths)"
    bash tests/ha/chroot.sh "$HA_VERSION" mount
    trap 'bash tests/ha/chroot.sh "$HA_VERSION" umount' EXIT
    echo "== Home Assistant $HA_VERSION ready after $(( $(date +%s) - START )) s"
    status=0
    "$PY" tests/ha/check.py --hass "$venv/hass-chroot" --ha-python "$venv/python-chroot" || status=$?
    echo "== tests/ha/run.sh --ha $HA_VERSION took $(( $(date +%s) - START )) s"
    exit "$status"
fi
version() { "$HA_VENV/bin/python" -c 'import homeassistant.const as c; print(c.__version__)' 2>/dev/null || true; }
pip=("$HA_VENV/bin/python" -m pip install -q --disable-pip-version-check)
if [ "$(version)" != "$HA_VERSION" ]; then
    echo "== installing Home Assistant $HA_VERSION into $HA_VENV"
    rm -rf "$HA_VENV"
    python3 -m venv "$HA_VENV"
    "${pip[@]}" --upgrade pip
    # Install HA under its own pins (package_constraints.txt inside its wheel): without them pip
    # backtracks through its dependency tree for many minutes.
    wheels="$HA_VENV/wheels"
    "$HA_VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$wheels" "homeassistant==$HA_VERSION"
    wheel="$wheels/homeassistant-$HA_VERSION-py3-none-any.whl"
    "$HA_VENV/bin/python" -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("homeassistant/package_constraints.txt").decode())' \
        "$wheel" > "$HA_VENV/moodbox-constraints.txt"
    echo "josepy<2" >> "$HA_VENV/moodbox-constraints.txt"
    "${pip[@]}" -c "$HA_VENV/moodbox-constraints.txt" "$wheel"
else
    echo "== reusing Home Assistant $HA_VERSION in $HA_VENV"
fi
# The requirements of the integrations check.py sets up, under HA's pins (HA runs with --skip-pip).
# Quick when all are there.
constraints="$HA_VENV/moodbox-constraints.txt"
"$HA_VENV/bin/python" -c 'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).with_name("package_constraints.txt").read_text())' > "$constraints"
echo "josepy<2" >> "$constraints"  # acme (hass-nabucasa) fails to import with josepy 2 (no ComparableX509)
"$HA_VENV/bin/python" tests/ha/requirements.py > "$HA_VENV/moodbox-requirements.txt"
"${pip[@]}" -c "$constraints" -r "$HA_VENV/moodbox-requirements.txt"
echo "== Home Assistant ready after $(( $(date +%s) - START )) s"
status=0
"$PY" tests/ha/check.py --hass "$HA_VENV/bin/hass" || status=$?
echo "== tests/ha/run.sh took $(( $(date +%s) - START )) s"
exit "$status"
