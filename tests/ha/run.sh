#!/usr/bin/env bash
# The real Home Assistant as moodbox's MQTT client: installs Home Assistant core from PyPI into its own
# venv (reused when present), then runs tests/ha/check.py against a loopback mosquitto and `moodbox run`.
# Home Assistant 2024.3.3 is the newest release whose Requires-Python admits Python 3.11 (2024.4 needs 3.12).
# Usage: bash tests/ha/run.sh     (MOODBOX_HA_VENV=DIR to put HA's venv elsewhere; default tests/ha/.venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
HA_VERSION=2024.3.3
HA_VENV="${MOODBOX_HA_VENV:-tests/ha/.venv}"
PY=.venv/bin/python
START=$(date +%s)
if [ ! -x "$PY" ]; then
    echo "tests/ha/run.sh: $PY missing; run ./setup.sh --test first" >&2
    exit 2
fi
if [ "$("$HA_VENV/bin/python" -c 'import homeassistant.const as c; print(c.__version__)' 2>/dev/null)" != "$HA_VERSION" ]; then
    echo "== installing Home Assistant $HA_VERSION into $HA_VENV"
    rm -rf "$HA_VENV"
    python3 -m venv "$HA_VENV"
    pip=("$HA_VENV/bin/python" -m pip install -q --disable-pip-version-check)
    "${pip[@]}" --upgrade pip
    wheels="$HA_VENV/wheels"
    "$HA_VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$wheels" "homeassistant==$HA_VERSION"
    # HA's own pins for its whole dependency tree (without them pip backtracks for many minutes).
    constraints="$HA_VENV/package_constraints.txt"
    "$HA_VENV/bin/python" -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read("homeassistant/package_constraints.txt").decode())' \
        "$wheels/homeassistant-$HA_VERSION-py3-none-any.whl" > "$constraints"
    echo "josepy<2" >> "$constraints"  # acme (hass-nabucasa) fails to import with josepy 2 (no ComparableX509)
    # The requirements of the integrations HA always sets up, plus MQTT (HA runs with --skip-pip).
    "${pip[@]}" -c "$constraints" "$wheels/homeassistant-$HA_VERSION-py3-none-any.whl" \
        home-assistant-frontend==20240307.0 securetar==2024.2.1 psutil-home-assistant==0.0.1 janus==1.0.0 \
        Pillow==10.2.0 paho-mqtt==1.6.1
    echo "== installed in $(( $(date +%s) - START )) s"
else
    echo "== reusing Home Assistant $HA_VERSION in $HA_VENV"
fi
status=0
"$PY" tests/ha/check.py --hass "$HA_VENV/bin/hass" || status=$?
echo "== tests/ha/run.sh took $(( $(date +%s) - START )) s"
exit "$status"
