"""The daemon: `moodbox run` as a subprocess, sd_notify, the systemd unit."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from core_testkit import NO_FACE, WAIT_S, camera_folder, config_data, write_config
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


# ----- `moodbox run` end to end (folder camera, real library, mpv with null audio) --------------------


class Daemon:
    """`moodbox run` in a subprocess, with a notify socket standing in for systemd."""

    def __init__(self, config: Path, sock_path: Path, watchdog_usec: int | None = 2_000_000) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(sock_path))
        self.sock.settimeout(0.5)
        env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "PYTHONUNBUFFERED": "1"}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([*MOODBOX, "run", "--config", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        self.messages: list[str] = []

    def wait_message(self, predicate, timeout: float = WAIT_S) -> str:
        deadline = time.monotonic() + timeout
        for message in self.messages:
            if predicate(message):
                return message
        while time.monotonic() < deadline:
            try:
                message = self.sock.recv(4096).decode()
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.output()}") from None
                continue
            self.messages.append(message)
            if predicate(message):
                return message
        raise AssertionError(f"no such notification; got {self.messages[-10:]}\n{self.output()[-3000:]}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def terminate(self, timeout: float = WAIT_S) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.close()


def test_run_notifies_systemd_stops_on_sigterm_and_resumes(tmp_path: Path, library: Path, daemons: list) -> None:
    state = tmp_path / "state"
    cam = camera_folder(tmp_path / "cam", NO_FACE)
    config = write_config(tmp_path, config_data(state, library, str(cam)))
    daemon = Daemon(config, tmp_path / "notify.sock")
    daemons.append(daemon)
    daemon.wait_message(lambda m: m == "READY=1")
    daemon.wait_message(lambda m: m == "WATCHDOG=1")  # the core is alive
    playing = daemon.wait_message(lambda m: m.startswith("STATUS=playing "))
    assert "mood neutral" in playing
    assert daemon.terminate() == 0
    daemon.wait_message(lambda m: m == "STOPPING=1")
    assert "stopped in" in daemon.output()
    saved = json.loads((state / "player.json").read_text())
    queue = [item["path"] for item in saved["player"]["items"]]
    assert len(queue) == 4 and all(Path(p).parent == library for p in queue)
    assert saved["player"]["state"] == "playing"

    # Next start: the same queue, the same track (the room still shows no face, so the mood holds).
    (tmp_path / "notify.sock").unlink()
    again = Daemon(config, tmp_path / "notify.sock")
    daemons.append(again)
    again.wait_message(lambda m: m == "READY=1")
    again.wait_message(lambda m: m.startswith("STATUS=playing "))
    assert "resumed the saved queue: 4 tracks, at 0" in again.output()
    assert again.terminate() == 0
    assert [item["path"] for item in json.loads((state / "player.json").read_text())["player"]["items"]] == queue


def test_run_once_with_embedded_fallbacks(tmp_path: Path) -> None:
    """No music folder, camera auto on a machine without a camera: demo library + bundled faces.
    The configured demo folder cannot be written (as under ProtectSystem=strict): it goes to state_dir."""
    state = tmp_path / "state"
    (tmp_path / "read-only").write_text("a file, so nothing can be created below it")
    data = config_data(state, tmp_path / "no-music-here", "auto", library={"demo_path": str(tmp_path / "read-only" / "demo")})
    config = write_config(tmp_path, data)
    result = subprocess.run([*MOODBOX, "run", "--once", "--config", str(config)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    snapshot = json.loads(result.stdout)
    assert snapshot["library"]["demo"] is True and snapshot["library"]["tracks"] >= 10
    assert snapshot["player"]["state"] == "playing"
    assert "no music found in library.path" in result.stderr
    assert snapshot["library"]["roots"] == [str(state / "demo-library")]
    assert snapshot["player"]["title"]
    if shutil.which("v4l2-ctl") is None and not Path("/dev/video0").exists():
        assert snapshot["camera"]["status"] == "ok" and snapshot["camera"]["source"].startswith("folder:")


def test_run_without_mpv_exits_1_saying_what_to_install(tmp_path: Path, library: Path) -> None:
    data = config_data(tmp_path / "state", library, str(NO_FACE.parent), audio={"mpv_path": "/nonexistent/mpv"})
    config = write_config(tmp_path, data)
    result = subprocess.run([*MOODBOX, "run", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "mpv not found" in result.stderr and "apt install mpv" in result.stderr


def test_run_with_unusable_state_dir_exits_1_naming_it(tmp_path: Path, library: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    data = config_data(tmp_path / "a-file" / "state", library, str(NO_FACE.parent))
    result = subprocess.run([*MOODBOX, "run", "--config", str(write_config(tmp_path, data))], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "cannot start" in result.stderr and str(tmp_path / "a-file" / "state") in result.stderr
