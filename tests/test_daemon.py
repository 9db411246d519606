"""The daemon: `moodbox run` as a subprocess, sd_notify, the systemd unit."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from moodbox import sdnotify

REPO = Path(__file__).resolve().parents[1]
MOODBOX = [sys.executable, "-m", "moodbox.cli"]


# ----- sd_notify -----------------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real datagram socket standing in for systemd's $NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def receive_all(sock: socket.socket, until: str, timeout: float) -> list[str]:
    """Messages from the socket until one equals `until` (or the timeout passes)."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            messages.append(sock.recv(4096).decode())
        except socket.timeout:
            continue
        if messages[-1] == until:
            break
    return messages


def test_notify_sends_datagram(notify_socket: socket.socket) -> None:
    assert sdnotify.notify("READY=1")
    assert notify_socket.recv(100) == b"READY=1"


def test_notify_without_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert sdnotify.watchdog_interval() is None


def test_watchdog_pings_only_while_alive(notify_socket: socket.socket) -> None:
    alive = threading.Event()
    alive.set()
    dog = sdnotify.Watchdog(alive.is_set, interval=0.05)
    assert dog.start()
    try:
        assert notify_socket.recv(100) == b"WATCHDOG=1"
        alive.clear()
        time.sleep(0.2)  # let a ping that was on its way arrive
        while True:  # drain
            try:
                notify_socket.recv(100)
            except socket.timeout:
                break
        with pytest.raises(socket.timeout):  # a hung core gets no pings
            notify_socket.recv(100)
        alive.set()
        assert notify_socket.recv(100) == b"WATCHDOG=1"
    finally:
        dog.stop()


# ----- the systemd unit ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    text = (REPO / "systemd" / "moodbox.service").read_text()
    assert "@PREFIX@" in text  # install.sh substitutes it
    unit = tmp_path / "moodbox.service"
    unit.write_text(text.replace("@PREFIX@", str(REPO)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify also complains about unrelated units of this machine; only lines about ours count
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "moodbox.service" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
    settings = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for key in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "ProtectSystem=strict",
                "ProtectHome=read-only", "StateDirectory=moodbox", "LoadCredential=mqtt_password:"):
        assert any(line.startswith(key) for line in settings), key
    # the camera, GPIO and sound devices must stay reachable
    assert not any(line.startswith(("PrivateDevices", "ProtectClock")) for line in settings)


# ----- `moodbox run` --------------------------------------------------------------------------------


def test_broken_config_exits_2_naming_file_line_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mood:\n  hysteresis: 0.1\naudio:\n  max_volume: 300\n")
    result = subprocess.run([*MOODBOX, "run", "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{bad}:4: key 'audio.max_volume'" in result.stderr
