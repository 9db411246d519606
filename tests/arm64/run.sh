#!/usr/bin/env bash
# Prove moodbox installs and runs on arm64 without a Pi: Raspberry Pi OS Bookworm = Debian 12 arm64
# (Python 3.11, numpy 1.x), Raspberry Pi OS trixie = Debian 13 arm64 (Python 3.13, numpy 2.x).
#
#   sudo bash tests/arm64/run.sh            build or reuse the rootfs, install with ./setup.sh, run the checks
#   sudo bash tests/arm64/run.sh --release trixie   the same for Debian 13 (default: bookworm)
#   sudo bash tests/arm64/run.sh --fresh    delete the rootfs first (what a fresh CI machine does)
#   sudo bash tests/arm64/run.sh --build-only   stop after ./setup.sh (no checks)
#
# How: a Debian arm64 root file system (debootstrap --foreign + qemu-user-static, binfmt registered
# by hand) under tests/arm64/rootfs/ (bookworm) or tests/arm64/rootfs-trixie/ (gitignored). The committed files (git archive HEAD, like a clone)
# go to /opt/moodbox in it and ./setup.sh installs them there exactly as on a Pi; only the Pi's own
# camera packages (python3-picamera2, python3-libcamera) are missing, and setup.sh says it skips them.
# Then the CLI and the daemon run emulated, and `moodbox analyze --json` must match the host (x86-64).
#
# Environment: MOODBOX_ARM64_RELEASE (bookworm or trixie, like --release), MOODBOX_ARM64_MIRROR (Debian mirror), MOODBOX_ARM64_PIP=auto|index|wheels (how pip in
# the rootfs gets packages: the registry with the host's CA bundle, or arm64 wheels downloaded by the
# host; auto probes the registry first), MOODBOX_ARM64_PROB_TOL (emotion probabilities, default 0.15),
# MOODBOX_ARM64_AGE_TOL (years, default 5), MOODBOX_ARM64_BOX_TOL (face box, pixels, default 2),
# MOODBOX_ARM64_RUN_TIMEOUT (seconds for the daemon to reach "playing", default 300),
# MOODBOX_ARM64_CPU (the emulated CPU: cortex-a72 = Pi 4, the default; cortex-a76 = Pi 5),
# MOODBOX_ARM64_FACES_PER_EMOTION / MOODBOX_ARM64_FACES_BY_AGE (the FER2013 / UTKFace sample compared
# when MOODBOX_ARM64_DATA (default ../shared/data) holds them; default 4 per emotion and 24 ages; the
# tolerances below came from 30/100).
# Needs root (chroot, mount, binfmt). Exit status: 0 when every check passed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RELEASE="${MOODBOX_ARM64_RELEASE:-bookworm}"
APP=/opt/moodbox                      # the checkout inside the rootfs
# The host's own Debian mirror (as apt is set up here), unless MOODBOX_ARM64_MIRROR names one.
host_mirror() {
    # deb822 sources first (Debian 12), then a classic sources.list; never the security archive.
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && !/security/ {print $2; exit}' || true
    awk '/^deb / && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
        /etc/apt/sources.list 2>/dev/null || true
}
MIRROR="${MOODBOX_ARM64_MIRROR:-$(host_mirror | sed -n 1p)}"
[ -n "$MIRROR" ] || { echo "no Debian mirror found in the host's apt sources; set MOODBOX_ARM64_MIRROR" >&2; exit 2; }
PIP_MODE="${MOODBOX_ARM64_PIP:-auto}"
# The emulated CPU: the Pi 4's Cortex-A72 (no armv8.2 extras), so code that needs more fails here
# with "Illegal instruction" as it would on a Pi 4. cortex-a76 = Pi 5.
CPU="${MOODBOX_ARM64_CPU:-cortex-a72}"
# Tolerances for arm64 vs x86-64 readings (see README "Raspberry Pi without a Pi": TFLite's optimized
# int8 kernels round differently on the two architectures; the reference kernels agree bit for bit).
# Measured on 310 FER2013/UTKFace faces (MOODBOX_ARM64_FACES_PER_EMOTION=30 MOODBOX_ARM64_FACES_BY_AGE=100),
# per number: probabilities median 0, 99th percentile 0.065, largest 0.147; age median 0.2, 99th
# percentile 2.9, largest 4.8 years (on a 48x48 FER face; on UTKFace at most 1.5).
PROB_TOL="${MOODBOX_ARM64_PROB_TOL:-0.15}"    # each emotion probability
AGE_TOL="${MOODBOX_ARM64_AGE_TOL:-5}"         # years
BOX_TOL="${MOODBOX_ARM64_BOX_TOL:-2}"         # face box, pixels
TOL=0.02                                      # anything else (the detector's face score)
DATA="${MOODBOX_ARM64_DATA:-$REPO/../shared/data}"   # FER2013 / UTKFace archives, when here
HOST_PY="$REPO/.venv/bin/python"
HOST_CA=/etc/ssl/certs/ca-certificates.crt
CHROOT_CA=/usr/local/share/moodbox-host-ca.crt    # a copy of the host's bundle (not managed by Debian)
FRESH=0
BUILD_ONLY=0

while [ $# -gt 0 ]; do
    case "$1" in
        --fresh) FRESH=1 ;;
        --release) [ $# -ge 2 ] || { echo "run.sh: --release needs bookworm or trixie" >&2; exit 2; }; RELEASE="$2"; shift ;;
        --release=*) RELEASE="${1#--release=}" ;;
        --build-only) BUILD_ONLY=1 ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

case "$RELEASE" in
    bookworm) ROOTFS="$HERE/rootfs"; PY_VERSION=3.11; NUMPY_MAJOR=1 ;;
    trixie) ROOTFS="$HERE/rootfs-trixie"; PY_VERSION=3.13; NUMPY_MAJOR=2 ;;
    *) echo "run.sh: release must be bookworm or trixie, not '$RELEASE'" >&2; exit 2 ;;
esac

say() { printf '[arm64 %s] %s\n' "$RELEASE" "$*" >&2; }
die() { printf '[arm64 %s] error: %s\n' "$RELEASE" "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (chroot, mount, binfmt_misc): sudo bash $0"
[ -x "$HOST_PY" ] || die "no host venv at $REPO/.venv (run ./setup.sh first): the host results are the reference"

LOGS="$(mktemp -d "/tmp/moodbox-arm64-$RELEASE.XXXXXX")"
say "logs: $LOGS"

# --- summary table --------------------------------------------------------------
NAMES=(); RESULTS=(); SECONDS_TAKEN=(); NOTES=()
FAILED=0

record() {  # name result seconds note
    NAMES+=("$1"); RESULTS+=("$2"); SECONDS_TAKEN+=("$3"); NOTES+=("${4:-}")
    case "$2" in ok|reused|skipped) ;; *) FAILED=1 ;; esac
}

summary() {
    printf '\n%-28s %-7s %8s  %s\n' "check" "result" "seconds" "notes"
    printf '%-28s %-7s %8s  %s\n' "-----" "------" "-------" "-----"
    local i
    for i in "${!NAMES[@]}"; do
        printf '%-28s %-7s %8s  %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${SECONDS_TAKEN[$i]}" "${NOTES[$i]}"
    done
    printf '\nlogs: %s\n' "$LOGS"
}

# step NAME FATAL COMMAND...: run with output to $LOGS/NAME.log, time it, record it (exit 77 = skipped;
# a step may leave a one-line note for the table in $LOGS/NAME.note).
# A failed fatal step (the build) stops the run; a failed check is recorded and the next one runs.
# Steps run in a subshell: they pass results on through files in $LOGS, not variables.
step() {
    local name="$1" fatal="$2"; shift 2
    local log="$LOGS/$name.log" start=$SECONDS status=0
    say "$name ..."
    # In a subshell started on its own, so that `set -e` holds inside the step's function
    # (bash ignores -e in a function called as `f || ...`), and in its own process group (set -m),
    # so that an interrupted run can stop the step with everything it started (stop_step).
    set -m
    ( set +m -e; "$@" ) >"$log" 2>&1 &
    STEP_PID=$!
    set +m
    wait "$STEP_PID" || status=$?
    STEP_PID=""
    local took=$((SECONDS - start))
    if [ "$status" -eq 0 ] || [ "$status" -eq 77 ]; then
        local result=ok
        [ "$status" -eq 0 ] || result=skipped
        record "$name" "$result" "$took" "$(cat "$LOGS/$name.note" 2>/dev/null || true)"
    else
        record "$name" FAIL "$took" "exit $status, see $log"
        say "$name failed (exit $status); last lines of $log:"
        tail -n 25 "$log" >&2 || true
        if [ "$fatal" = fatal ]; then summary; exit 1; fi
    fi
}

# --- mounts (always undone) ------------------------------------------------------
MOUNTS=()
mount_in_root() {  # type-or-bind source target
    local target="$ROOTFS$3"
    [ -e "$target" ] || mkdir -p "$target"
    if ! mountpoint -q "$target"; then
        if [ "$1" = bind ]; then mount --bind "$2" "$target"; else mount -t "$1" "$2" "$target"; fi
        MOUNTS+=("$target")
    fi
}
emulated_cpuinfo() {
    local part i
    case "$CPU" in cortex-a53) part=0xd03 ;; cortex-a76) part=0xd0b ;; *) part=0xd08 ;; esac
    for ((i=0; i<$(nproc); i++)); do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$i"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' "$part"
    done
    printf 'Model\t\t: %s under qemu-user (moodbox arm64 check)\n' "$CPU"
}
unmount_all() {
    local i
    for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do
        umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" || true
    done
    MOUNTS=()
}
STEP_PID=""
stop_step() {  # the step still running when the run is interrupted, and all it started
    [ -n "$STEP_PID" ] && kill -0 "$STEP_PID" 2>/dev/null || return 0
    say "stopping the running step"
    kill -TERM -- "-$STEP_PID" 2>/dev/null || true
    local i
    for i in $(seq 20); do kill -0 -- "-$STEP_PID" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL -- "-$STEP_PID" 2>/dev/null || true
    sleep 1
}
trap 'stop_step; unmount_all' EXIT
trap 'exit 130' INT TERM

mounted_below_rootfs() { awk -v r="$ROOTFS/" 'index($2, r) == 1 {print $2}' /proc/mounts; }

# A command line that runs in the rootfs with a clean environment (the host's PIP_*/proxy settings
# stay out), in ROOT_CMD: run it as "${ROOT_CMD[@]}" (in the background too: $! is then the process
# itself, as nice, chroot and env each exec the next).
root_cmd() {
    ROOT_CMD=(nice -n 10 env QEMU_CPU="$CPU" chroot "$ROOTFS" /usr/bin/env -i QEMU_CPU="$CPU"
        HOME=/root LANG=C.UTF-8 TERM=dumb PYTHONDONTWRITEBYTECODE=1
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        "${PIP_ENV[@]}" "$@")
}
in_root() { root_cmd "$@"; "${ROOT_CMD[@]}"; }
PIP_ENV=()

# --- 1. host tools and binfmt ------------------------------------------------------
host_tools() {
    local missing=()
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing on the host: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    # No systemd-binfmt here: register qemu for arm64 ELF files by hand (F = the kernel keeps the
    # interpreter open, so it works inside the chroot). Idempotent.
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        sed -e 's#:[^:]*:[A-Z]*$#:/usr/bin/qemu-aarch64-static:F#' /usr/lib/binfmt.d/qemu-aarch64.conf \
            >/proc/sys/fs/binfmt_misc/register
    fi
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64
    grep -q '^interpreter /usr/bin/qemu-aarch64-static$' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || { echo "qemu-aarch64 is registered with another interpreter:"; cat /proc/sys/fs/binfmt_misc/qemu-aarch64; }
}

# --- 2. the root file system (each stage leaves a marker; a complete stage is reused) ------
fresh_rootfs() {
    [ -z "$(mounted_below_rootfs)" ] || { echo "still mounted below $ROOTFS:"; mounted_below_rootfs; return 1; }
    rm -rf --one-file-system "$ROOTFS"
}
debootstrap_first() {
    # A partial first stage is not resumable: start it again.
    [ -z "$(mounted_below_rootfs)" ] || return 1
    rm -rf --one-file-system "$ROOTFS"
    mkdir -p "$ROOTFS"
    nice debootstrap --arch=arm64 --foreign --variant=minbase "$RELEASE" "$ROOTFS" "$MIRROR"
    touch "$ROOTFS/.moodbox-stage1"
}
debootstrap_second() {
    nice env QEMU_CPU="$CPU" chroot "$ROOTFS" /debootstrap/debootstrap --second-stage
    touch "$ROOTFS/.moodbox-stage2"
}
root_network() {
    # DNS, the mirror and the host's CA bundle (the registry is reached through a TLS proxy here).
    cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    echo "deb $MIRROR $RELEASE main" >"$ROOTFS/etc/apt/sources.list"
    if [ -f "$HOST_CA" ]; then
        mkdir -p "$(dirname "$ROOTFS$CHROOT_CA")"
        cp "$HOST_CA" "$ROOTFS$CHROOT_CA"
    fi
    in_root uname -m | tee "$LOGS/uname"
    [ "$(cat "$LOGS/uname")" = aarch64 ]
    # python3 for the probe below (setup.sh installs the rest: venv, pip, mpv).
    if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
        in_root apt-get update -qq
        in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3
    fi
}

# --- 3. pip's package source ----------------------------------------------------------
probe_index() {
    # The package index the host's pip uses (its configured index-url, else pip's built-in default).
    local index
    index="$("$HOST_PY" -m pip config get global.index-url 2>/dev/null || "$HOST_PY" -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')"
    in_root python3 -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
urllib.request.urlopen(sys.argv[2].rstrip("/") + "/pip/", timeout=30, context=ctx).read(100)
print("registry reachable with the host CA bundle")' "$CHROOT_CA" "$index"
}
download_wheels() {
    # arm64 wheels for the pinned requirements (resolved by the host's pip for the Pi's platform),
    # plus pip and setuptools for setup.sh's pip upgrade and the editable install.
    # pip download does not evaluate markers for --python-version: the requirements are resolved for
    # the rootfs's Python first (python_version, platform_machine).
    mkdir -p "$ROOTFS/wheels"
    "$HOST_PY" - "$REPO/requirements-dev.txt" "$PY_VERSION" >"$LOGS/requirements-$RELEASE.txt" <<'PY'
import sys
from pathlib import Path
from packaging.markers import Marker
env = {"python_version": sys.argv[2], "python_full_version": sys.argv[2] + ".0", "platform_machine": "aarch64",
       "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython"}
def lines(path):
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            yield from lines(Path(path).parent / line[3:].strip())
        elif line:
            requirement, _, marker = line.partition(";")
            if not marker or Marker(marker.strip()).evaluate(env):
                yield requirement.strip()
print("\n".join(lines(sys.argv[1])))
PY
    cat "$LOGS/requirements-$RELEASE.txt"
    nice "$HOST_PY" -m pip download --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
        --platform manylinux_2_34_aarch64 --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 \
        --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 \
        -d "$ROOTFS/wheels" -r "$LOGS/requirements-$RELEASE.txt" pip "setuptools>=61" wheel
    ls "$ROOTFS/wheels"
}
choose_pip_source() {
    local mode="$PIP_MODE"
    if [ "$mode" = auto ]; then
        if probe_index; then mode=index; else mode=wheels; fi
    fi
    case "$mode" in
        index) echo "PIP_CERT=$CHROOT_CA" >"$LOGS/pip-env" ;;
        wheels) download_wheels && echo "PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels" >"$LOGS/pip-env" ;;
        *) echo "MOODBOX_ARM64_PIP must be auto, index or wheels, not '$mode'"; return 2 ;;
    esac
    echo "pip source: $mode ($(cat "$LOGS/pip-env"))"
    echo "pip: $mode" >"$LOGS/$CURRENT.note"
}

# --- 4. the checkout and ./setup.sh ------------------------------------------------------
copy_checkout() {
    # Committed files only, like a clone. The venv (and the demo library) from an earlier run are
    # kept, as on a Pi that pulls a new version and runs ./setup.sh again.
    local app="$ROOTFS$APP"
    mkdir -p "$app"
    find "$app" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf --one-file-system {} +
    git -C "$REPO" archive --format=tar HEAD | tar -x -C "$app"
    echo "HEAD $(git -C "$REPO" rev-parse --short HEAD): $(git -C "$REPO" ls-files | wc -l) files"
    echo "$(git -C "$REPO" rev-parse --short HEAD)" >"$LOGS/$CURRENT.note"
}
run_setup() {
    # ./setup.sh itself, every line stamped with its second, to split apt and pip in the summary.
    local start=$SECONDS
    in_root bash -c "cd $APP && ./setup.sh" 2>&1 | while IFS= read -r line; do
        printf '%5d %s\n' "$((SECONDS - start))" "$line"
    done
}
setup_split() {
    # apt: from "installing system packages" to the next setup line; pip: "installing Python packages"
    # to the next setup line. Absent when setup.sh had nothing to do.
    awk '
        /\[setup\]/ { if (open != "") { took[open] = $1 - since; open = "" } }
        /installing system packages/ { open = "apt"; since = $1 }
        /installing Python packages/ { open = "pip"; since = $1 }
        END {
            if (open != "") took[open] = "?"
            printf "apt %s, pip %s", ("apt" in took ? took["apt"] "s" : "nothing to do"), ("pip" in took ? took["pip"] "s" : "nothing to do")
        }' "$LOGS/setup.sh.log"
}

# --- 5. checks ------------------------------------------------------------------------------
MB="$APP/.venv/bin/moodbox"

check_platform() {
    in_root "$APP/.venv/bin/python" - "$PY_VERSION" "$NUMPY_MAJOR" <<'EOF'
import platform, sys
import numpy, cv2, ai_edge_litert, paho.mqtt, pydantic, mutagen, gpiozero
machine = platform.machine()
print(f"machine={machine} python={platform.python_version()} numpy={numpy.__version__} "
      f"opencv={cv2.__version__} litert={ai_edge_litert.__version__}")
assert machine == "aarch64", machine
python, numpy_major = sys.argv[1], int(sys.argv[2])
assert platform.python_version().startswith(python + "."), f"Python {platform.python_version()}, expected {python}"
assert int(numpy.__version__.split(".")[0]) == numpy_major, f"numpy {numpy.__version__}, expected {numpy_major}.x"
EOF
    # Every compiled module in the venv must be an arm64 build (no x86-64 file copied in by mistake).
    local wrong
    wrong="$(find "$ROOTFS$APP/.venv" -name '*.so*' -type f -exec file {} + | grep -v -e 'ARM aarch64' -e ': ASCII' || true)"
    [ -z "$wrong" ] || { echo "not arm64:"; echo "$wrong"; return 1; }
    echo "$CPU: $(in_root "$APP/.venv/bin/python" -c 'import platform, numpy, ai_edge_litert; print(f"Python {platform.python_version()}, numpy {numpy.__version__}, LiteRT {ai_edge_litert.__version__}")')" >"$LOGS/$CURRENT.note"
}

check_config() {
    in_root "$MB" check-config "$APP/config.yaml"
}

TEST_IMAGES=()
find_test_images() {
    mapfile -t TEST_IMAGES < <(git -C "$REPO" ls-tree -r --name-only HEAD -- device/moodbox/data/faces tests \
        | grep -v '^tests/arm64/' | grep -i -E '\.(jpe?g|png|bmp|webp)$')
}
# analyze_both NAME HOST_DIR ROOT_DIR ARGS...: `moodbox analyze --json ARGS` in HOST_DIR on the host
# and in ROOT_DIR in the rootfs (same relative paths, so the outputs compare line by line).
# Both run the same code and models: the committed copy in the rootfs (the host's working tree may
# hold other people's unfinished edits), with the host's venv for the x86-64 side.
analyze_both() {
    local name="$1" host_dir="$2" root_dir="$3"; shift 3
    (cd "$host_dir" && PYTHONPATH="$ROOTFS$APP/device" nice "$HOST_PY" -m moodbox.cli analyze --json "$@") \
        >"$LOGS/$name-x86_64.json"
    in_root bash -c "cd $root_dir && $MB analyze --json $*" >"$LOGS/$name-aarch64.json"
    "$HOST_PY" "$HERE/compare_json.py" --tol "$TOL" --key-tol "probs=$PROB_TOL" --key-tol "age=$AGE_TOL" \
        --key-tol "box=$BOX_TOL" --label-ties \
        "$LOGS/$name-x86_64.json" "$LOGS/$name-aarch64.json" | tee "$LOGS/$name-compare.txt"
    tail -n 1 "$LOGS/$name-compare.txt" | sed 's/^ok: //' >"$LOGS/$CURRENT.note"
}
check_analyze() {
    [ "${#TEST_IMAGES[@]}" -gt 0 ] || { echo "no committed test images"; return 1; }
    analyze_both bundled "$ROOTFS$APP" "$APP" "${TEST_IMAGES[@]}"
}
check_analyze_datasets() {
    # A fixed sample of FER2013 and UTKFace faces, when $DATA is here (never committed:
    # unpacked to the rootfs's /tmp and deleted afterwards). Exit 77 = skipped.
    local faces="$ROOTFS/tmp/moodbox-arm64-faces"
    rm -rf "$faces"
    trap "rm -rf '$faces'" EXIT
    "$HOST_PY" "$HERE/sample_faces.py" "$DATA" "$faces" \
        --per-emotion "${MOODBOX_ARM64_FACES_PER_EMOTION:-4}" --ages "${MOODBOX_ARM64_FACES_BY_AGE:-24}"
    if ! ls "$faces"/*/* >/dev/null 2>&1; then
        echo "no face data in $DATA" >"$LOGS/$CURRENT.note"
        return 77
    fi
    analyze_both datasets "$faces" /tmp/moodbox-arm64-faces --faces-only .
}
check_reference_kernels() {
    # The same input pixels through TFLite's reference kernels on both sides: bit-identical outputs
    # show that the models and the runtime agree, and the end-to-end differences above come from
    # the optimized kernels' rounding, not from a broken model, runtime or preprocessing on arm64.
    local faces="$ROOTFS/tmp/moodbox-arm64-faces"
    rm -rf "$faces"
    trap "rm -rf '$faces'" EXIT
    "$HOST_PY" "$HERE/sample_faces.py" "$DATA" "$faces" --per-emotion 2 --ages 10
    if ! ls "$faces"/*/* >/dev/null 2>&1; then  # no face data here: the bundled images instead
        mkdir -p "$faces/bundled"
        cp "$ROOTFS$APP"/device/moodbox/data/faces/*.png "$faces/bundled/"
    fi
    local probe="$ROOTFS$APP/tests/arm64/model_probe.py"
    (cd "$ROOTFS$APP" && PYTHONPATH="$ROOTFS$APP/device" nice "$HOST_PY" "$probe" dump --kernels reference \
        "$faces" "$faces/x86_64.npz")
    in_root bash -c "cd $APP && .venv/bin/python tests/arm64/model_probe.py replay --kernels reference \
        /tmp/moodbox-arm64-faces /tmp/moodbox-arm64-faces/x86_64.npz" | tee "$LOGS/probe.txt"
    tail -n 1 "$LOGS/probe.txt" | sed 's/^ok: //' >"$LOGS/$CURRENT.note"
}

check_music() {
    # The demo library (generated by setup.sh already; this must be a no-op or fill gaps), a scan of
    # it into a fresh index, and a queue for a happy 34-year-old.
    run_config
    rm -rf "$ROOTFS/tmp/moodbox-arm64-state"
    local config="--config $APP/arm64-run.yaml"
    in_root bash -ec "
        cd $APP
        $MB demo-library $config
        $MB scan $config demo-library
        $MB recommend $config --emotion happy --age 34 --json > /tmp/moodbox-arm64-recommend.json"
    "$HOST_PY" - "$ROOTFS" "$APP" "$ROOTFS/tmp/moodbox-arm64-recommend.json" >"$LOGS/$CURRENT.note" <<'PY'
import json, sys
from pathlib import PurePosixPath, Path
rootfs, app, report = Path(sys.argv[1]), PurePosixPath(sys.argv[2]), Path(sys.argv[3])
queue = json.loads(report.read_text())
print(json.dumps(queue, indent=1)[:3000], file=sys.stderr)
assert isinstance(queue, list) and queue, "no tracks recommended"
# Paths as the rootfs sees them: relative ones are relative to the checkout (where the scan ran).
missing = [e["path"] for e in queue if not (rootfs / str(app / e["path"]).lstrip("/")).is_file()]
assert not missing, f"recommended files that are not there: {missing}"
print(f"{len(queue)} tracks queued, all files present")
PY
}

run_config() {
    # The embedded defaults, with what this box lacks: no sound card (null audio), no broker (a
    # closed port: the daemon must play on and retry), state in /tmp.
    cat >"$ROOTFS$APP/arm64-run.yaml" <<'EOF'
state_dir: /tmp/moodbox-arm64-state
audio:
  output: "null"
mqtt:
  host: 127.0.0.1
  port: 1
EOF
}
player_json_playing() {
    # state_dir/player.json (saved every 10 s while playing and at exit) says "playing" and a position
    # past 0: mpv really played a track (with the null audio output).
    "$HOST_PY" - "$ROOTFS/tmp/moodbox-arm64-state/player.json" <<'PY'
import json, sys
try:
    data = json.load(open(sys.argv[1]))
    player = data["player"]
except (OSError, ValueError, KeyError) as exc:
    sys.exit(f"no usable player.json yet: {exc}")
item = player["items"][player["index"]] if isinstance(player.get("index"), int) else {}
print(f"player.json: {player['state']} at {player['position']} s of {item.get('title')!r} ({len(player['items'])} queued)")
sys.exit(0 if player["state"] == "playing" and player["position"] > 0 else 1)
PY
}
check_daemon() {
    run_config
    rm -rf "$ROOTFS/tmp/moodbox-arm64-state"
    local log="$LOGS/daemon-output.log" limit="${MOODBOX_ARM64_RUN_TIMEOUT:-300}"
    root_cmd "$MB" run --config "$APP/arm64-run.yaml"
    "${ROOT_CMD[@]}" >"$log" 2>&1 &
    local pid=$! start=$SECONDS
    # If this check fails half-way, the daemon it started must not outlive it (it holds the mounts).
    trap "kill -KILL $pid 2>/dev/null || true" EXIT
    echo "moodbox run: pid $pid"
    until player_json_playing >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then echo "moodbox run ended before playing:"; cat "$log"; return 1; fi
        [ $((SECONDS - start)) -lt "$limit" ] || { echo "not playing after $limit s:"; cat "$log"; return 1; }
        sleep 2
    done
    local playing_after=$((SECONDS - start))
    kill -TERM "$pid"
    local status=0 stop_start=$SECONDS
    wait "$pid" || status=$?
    trap - EXIT
    cat "$log"
    [ "$status" -eq 0 ] || { echo "moodbox run exited with $status after SIGTERM"; return 1; }
    grep -q "playing " "$log" || { echo "no 'playing' line from the player in the log"; return 1; }
    player_json_playing  # saved again at exit: still a playing queue, resumable
    echo "playing after ${playing_after} s; SIGTERM -> exit 0 in $((SECONDS - stop_start)) s" >"$LOGS/$CURRENT.note"
}

# --- main ----------------------------------------------------------------------------------
CURRENT=""
run_step() { CURRENT="$1"; step "$@"; }

run_step host-tools fatal host_tools
if [ "$FRESH" -eq 1 ]; then run_step fresh-rootfs fatal fresh_rootfs; fi
if [ -f "$ROOTFS/.moodbox-stage1" ]; then record debootstrap reused 0; else run_step debootstrap fatal debootstrap_first; fi
if [ -f "$ROOTFS/.moodbox-stage2" ]; then record second-stage reused 0; else run_step second-stage fatal debootstrap_second; fi

mount_in_root proc proc /proc
mount_in_root sysfs sysfs /sys
# qemu-user shows the host's x86 /proc/cpuinfo; LiteRT's cpuinfo then crashes (SIGSEGV) once /sys lists
# the CPUs too. An arm64 one, as a Pi 4's for the emulated CPU, with the host's CPU count:
emulated_cpuinfo >"$LOGS/cpuinfo"
mount_in_root bind "$LOGS/cpuinfo" /proc/cpuinfo
mount_in_root tmpfs tmpfs /dev/shm

run_step network fatal root_network
run_step pip-source fatal choose_pip_source
read -r -a PIP_ENV <"$LOGS/pip-env"
run_step copy-checkout fatal copy_checkout
run_step setup.sh fatal run_setup
NOTES[${#NOTES[@]}-1]="$(setup_split)"

if [ "$BUILD_ONLY" -eq 0 ]; then
    find_test_images
    run_step platform check check_platform
    run_step check-config check check_config
    run_step analyze-vs-x86_64 check check_analyze
    run_step datasets-vs-x86_64 check check_analyze_datasets
    run_step reference-kernels check check_reference_kernels
    run_step music check check_music
    run_step daemon check check_daemon
fi

summary
exit "$FAILED"
