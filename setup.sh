#!/usr/bin/env bash
# moodbox installer for Raspberry Pi OS (64-bit) Bookworm or trixie and plain Debian 12 or 13. Safe to run again.
#
#   ./setup.sh            install system packages, the .venv with the `moodbox` command, the demo library
#   ./setup.sh --run      ... then start the daemon in the foreground on the embedded defaults
#   ./setup.sh --test     ... plus the test tools (mosquitto, openssl) and, on x86-64, the
#                         training toolchain in convert/.venv; then run the test suite
#   ./setup.sh --service  ... then install and start the systemd service (user moodbox, /etc/moodbox)
#
# Options: --no-apt (skip apt-get; for machines set up by hand), --help.
# MOODBOX_TEST_TRAINING=0 ./setup.sh --test leaves out convert/.venv (its smoke tests then skip).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$ROOT/.venv"
MODE="install"
USE_APT=1

for arg in "$@"; do
    case "$arg" in
        --run) MODE="run" ;;
        --test) MODE="test" ;;
        --service) MODE="service" ;;
        --no-apt) USE_APT=0 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (see ./setup.sh --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root for: $* (run as root or install sudo)"; fi
}

is_raspberry_pi() { grep -qs "Raspberry Pi" /proc/device-tree/model; }
apt_has() { [ -n "$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)')" ]; }
missing_packages() { for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done; }

# --- which system ----------------------------------------------------------------
# Supported: Debian 12 "bookworm" (Python 3.11, numpy 1.x) and Debian 13 "trixie" (Python 3.13,
# numpy 2.x), plain or as 64-bit Raspberry Pi OS; x86-64 or arm64. Others: tried, with a warning.
RELEASE="$(. /etc/os-release 2>/dev/null && echo "${ID:-?} ${VERSION_ID:-?} ${VERSION_CODENAME:-}")"
case "$RELEASE" in
    "debian 12 "*|"raspbian 12 "*|"debian 13 "*|"raspbian 13 "*) say "system: ${RELEASE% } ($(uname -m))" ;;
    *) say "warning: ${RELEASE% } is not a supported system (Debian 12 or 13 / Raspberry Pi OS Bookworm or trixie); trying anyway" ;;
esac
case "$(uname -m)" in
    armv6l|armv7l|armhf) die "a 32-bit ARM system ($(uname -m)): moodbox needs the 64-bit Raspberry Pi OS (LiteRT has no 32-bit ARM build)" ;;
esac

# --- system packages --------------------------------------------------------
APT_PACKAGES=(python3 python3-venv python3-pip mpv ffmpeg ca-certificates)
if [ "$MODE" = "test" ]; then
    APT_PACKAGES+=(mosquitto mosquitto-clients openssl systemd)
    # The web page is tested in a real headless browser on x86-64 (CI); not in the emulated Pi check.
    if [ "$(uname -m)" = x86_64 ]; then APT_PACKAGES+=(chromium); fi
fi

if [ "$USE_APT" -eq 1 ] && command -v apt-get >/dev/null 2>&1; then
    # The Pi camera stack comes from the Raspberry Pi repository only (python3-picamera2);
    # gpiozero 2 drives the pins through lgpio (the only pin library that works on a Pi 5).
    if apt_has python3-picamera2 || is_raspberry_pi; then
        APT_PACKAGES+=(python3-picamera2 python3-libcamera python3-lgpio)
    else
        say "no python3-picamera2 in apt (not Raspberry Pi OS): the Pi camera backend is skipped; USB webcams, video files and image folders still work"
    fi
    mapfile -t TODO < <(missing_packages "${APT_PACKAGES[@]}")
    if [ "${#TODO[@]}" -gt 0 ]; then
        say "installing system packages: ${TODO[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${TODO[@]}"
    else
        say "system packages already installed"
    fi
    # A test run starts its own broker; the packaged one need not run.
fi

# --- Python environment ----------------------------------------------------
# The system Python is the one apt's picamera2 is built for; the venv sees its packages on a Pi.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)" || die "python3 not found"
# LiteRT (ai-edge-litert) is built for 64-bit x86 and 64-bit ARM only, Python 3.11-3.13, glibc 2.27+:
# on a Pi that is the 64-bit Raspberry Pi OS (the 32-bit one reports aarch64 too, with a 64-bit kernel).
"$PYTHON" -c 'import platform, struct, sys; sys.exit(0 if platform.machine() in ("x86_64", "aarch64") and struct.calcsize("P") == 8 and sys.version_info >= (3, 11) else 1)' \
    || die "$("$PYTHON" -c 'import platform, struct; print("%s, %d-bit Python %s" % (platform.machine(), struct.calcsize("P") * 8, platform.python_version()))'): moodbox needs a 64-bit system with Python 3.11 or newer (on a Raspberry Pi: the 64-bit Raspberry Pi OS Bookworm or trixie)"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    VENV_ARGS=()
    if "$PYTHON" -c 'import picamera2' 2>/dev/null; then
        VENV_ARGS+=(--system-site-packages)
        say "picamera2 found: the venv sees system packages and keeps apt's numpy, which picamera2 is built for"
    fi
    say "creating $VENV"
    "$PYTHON" -m venv "${VENV_ARGS[@]}" "$VENV"
fi

REQUIREMENTS="$ROOT/requirements.txt"
[ "$MODE" = "test" ] && REQUIREMENTS="$ROOT/requirements-dev.txt"
STAMP="$VENV/.moodbox-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.txt" "$REQUIREMENTS" | sha256sum | cut -c1-16)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    say "installing Python packages from $(basename "$REQUIREMENTS")"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$ROOT"
    echo "$WANT" > "$STAMP"  # only the last install counts: an older hash must not match again
else
    say "Python packages up to date"
fi
# The venv's numpy must be the one picamera2 (from apt) was built against: same major version.
if "$PYTHON" -c 'import picamera2' 2>/dev/null && ! "$VENV/bin/python" -c 'import picamera2' 2>/dev/null; then
    die "picamera2 works with $("$PYTHON" -c 'import numpy; print("numpy", numpy.__version__)') but not in the venv ($("$VENV/bin/python" -c 'import numpy; print("numpy", numpy.__version__)')): remove $VENV and run ./setup.sh again"
fi
"$VENV/bin/python" -c 'from moodbox.perception.model import runtime_module, runtime_name; import numpy; print(f"[setup] TFLite runtime: {runtime_name(runtime_module())}, numpy {numpy.__version__}")' >&2 \
    || die "the TFLite runtime does not load in $VENV (see above)"
"$VENV/bin/moodbox" check-config --quiet "$ROOT/config.yaml"

# --- training toolchain for the tests (workstation only, never on the Pi) ----
# convert/.venv holds TensorFlow for convert/ (conversion, training); the test suite runs a
# one-minute training smoke run with it. x86-64 only: the Pi never trains.
if [ "$MODE" = "test" ] && [ "${MOODBOX_TEST_TRAINING:-1}" != 0 ] && [ "$(uname -m)" = "x86_64" ]; then
    CONVERT_VENV="$ROOT/convert/.venv"
    CONVERT_STAMP="$CONVERT_VENV/.moodbox-installed"
    CONVERT_WANT="$(sha256sum < "$ROOT/convert/requirements.txt" | cut -c1-16)"
    if [ "$(cat "$CONVERT_STAMP" 2>/dev/null)" != "$CONVERT_WANT" ]; then
        say "installing the training toolchain into convert/.venv (TensorFlow, a few minutes; MOODBOX_TEST_TRAINING=0 skips it)"
        [ -x "$CONVERT_VENV/bin/python" ] || "$PYTHON" -m venv "$CONVERT_VENV"
        "$CONVERT_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$CONVERT_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/convert/requirements.txt"
        echo "$CONVERT_WANT" > "$CONVERT_STAMP"
    else
        say "training toolchain (convert/.venv) up to date"
    fi
elif [ "$MODE" = "test" ]; then
    say "no training toolchain here ($(uname -m), MOODBOX_TEST_TRAINING=${MOODBOX_TEST_TRAINING:-1}): the training smoke tests skip"
fi

# --- demo library (played when the configured music folders are empty) -------
"$VENV/bin/moodbox" demo-library

# --- what next ----------------------------------------------------------------
case "$MODE" in
    run)
        say "starting the daemon on the embedded defaults (Ctrl-C stops it); it logs what it falls back to"
        exec "$VENV/bin/moodbox" run --config "$ROOT/config.yaml"
        ;;
    test)
        say "running the test suite"
        cd "$ROOT"
        set +e
        "$VENV/bin/python" -m pytest -q  # extra options: PYTEST_ADDOPTS="-k mqtt" ./setup.sh --test
        status=$?
        set -e
        [ "$status" -eq 5 ] && { echo "no tests collected" >&2; exit 1; }
        exit "$status"
        ;;
    service)
        "$ROOT/systemd/install.sh" "$ROOT"
        ;;
    install)
        say "done. Start it with: $VENV/bin/moodbox run   (or ./setup.sh --service for systemd)"
        ;;
esac
