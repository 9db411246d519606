"""The real box for the fault rows: `moodbox run` in a subprocess with a real mosquitto, mpv (ao=null),
a folder camera, a temp state folder and a generated library; seen from outside through MQTT, mpv's
IPC socket and the daemon's log."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from core_testkit import NO_FACE, camera_folder, config_data, write_library  # noqa: E402
from mqtt.broker import Mosquitto  # noqa: E402
from mqtt.watcher import Watcher  # noqa: E402

DEVICE = "bench"
BASE = f"moodbox/{DEVICE}"
MOODBOX = [sys.executable, "-m", "moodbox.cli"]


@dataclass
class Row:
    fault: str
    figure: str
    target: str
    ok: bool


def wait(predicate: Callable[[], Any], what: str, timeout: float, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f} s")
        time.sleep(step)


def mpv_request(sock_path: str, command: list[Any], timeout: float = 1.0) -> Any:
    """One request on mpv's JSON IPC socket; the reply's data (None on any failure)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(sock_path)
            sock.sendall(json.dumps({"command": command, "request_id": 1}).encode() + b"\n")
            buffer = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    reply = json.loads(line)
                    if reply.get("request_id") == 1:
                        return reply.get("data") if reply.get("error") == "success" else None
    except (OSError, ValueError):
        return None


class Box:
    """One daemon with its broker, library, camera folder and state folder under `folder`."""

    def __init__(self, folder: Path, library: Path | None = None, tracks_s: float = 90.0,
                 **sections: dict[str, Any]) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.library = library or folder / "music"
        if library is None:
            write_library(self.library, seconds=tracks_s)
        self.camera = camera_folder(folder / "cam", NO_FACE)
        self.state = folder / "state"
        self.broker = Mosquitto(folder / "broker")
        self.broker.start()
        mqtt = {"enabled": True, "host": "127.0.0.1", "port": self.broker.port, "device_id": DEVICE}
        sections = {"mqtt": mqtt, "logging": {"level": "INFO"}, **sections}
        self.data = config_data(self.state, self.library, str(self.camera), **sections)
        self.config = folder / "config.yaml"
        self.config.write_text(yaml.safe_dump(self.data))
        self.watcher = Watcher(self.broker.port, subscribe=f"{BASE}/#")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "daemon.log"
        self.starts = 0

    # ----- the daemon ---------------------------------------------------------------------------

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([*MOODBOX, "run", "--config", str(self.config)], stdout=log,
                                     stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                     cwd=self.folder)
        log.close()
        self.starts += 1

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return code

    def close(self) -> None:
        self.stop()
        self.watcher.close()
        self.broker.stop()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tracebacks(self) -> int:
        return self.log().count("Traceback")

    def log_row(self, group: str) -> Row:
        """The daemon's log over the whole group: no traceback, and how often it (re)started."""
        count = self.tracebacks()
        return Row(f"{group}: daemon log", f"{count} tracebacks, {self.starts} start(s)", "0 tracebacks", count == 0)

    # ----- what it says on MQTT ---------------------------------------------------------------

    def state_of(self, name: str) -> dict[str, Any] | None:
        message = self.watcher.last(f"{BASE}/{name}")
        return json.loads(message.payload) if message else None

    def publish(self, thing: str, payload: bytes | str, retain: bool = False) -> None:
        self.watcher.publish(f"{BASE}/{thing}/set", payload, retain=retain)

    def wait_playing(self, timeout: float = 60.0) -> dict[str, Any]:
        return wait(lambda: (self.state_of("player") or {}).get("state") == "playing" and self.mpv_playing(),
                    "playing", timeout, step=0.1)

    # ----- mpv, from outside ------------------------------------------------------------------

    def mpv_pid(self) -> int | None:
        """The daemon's mpv child (running or stopped), if any."""
        if self.proc is None:
            return None
        children: list[str] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):  # mpv is started from a worker thread
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
        for child in children:
            try:
                if Path(f"/proc/{child}/comm").read_text().strip() == "mpv":
                    return int(child)
            except OSError:
                continue
        return None

    def mpv_socket(self) -> str | None:
        pid = self.mpv_pid()
        if pid is None:
            return None
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        for arg in args:
            if arg.startswith(b"--input-ipc-server="):
                return arg.split(b"=", 1)[1].decode()
        return None

    def mpv(self, prop: str) -> Any:
        sock = self.mpv_socket()
        return mpv_request(sock, ["get_property", prop]) if sock else None

    def mpv_playing(self) -> tuple[str, float] | None:
        """(path, time-pos) while mpv plays a file and the clock runs; else None."""
        sock = self.mpv_socket()
        if sock is None:
            return None
        path = mpv_request(sock, ["get_property", "path"])
        pos = mpv_request(sock, ["get_property", "time-pos"])
        paused = mpv_request(sock, ["get_property", "pause"])
        if not isinstance(path, str) or not isinstance(pos, (int, float)) or paused is not False:
            return None
        return path, float(pos)
