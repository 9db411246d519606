"""The camera source gone while the daemon runs: music plays on, the camera status says why, and the
camera comes back by itself within camera.retry_interval_s + 5 s.

Sources: the folder camera (folder deleted, then put back); an RTSP address whose port is closed and
then accepts and never answers (no RTSP server is at hand, so "back" is measured on an HTTP MJPEG
camera, ffmpeg -listen, on the same kind of port: closed, silent, then serving)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from core_testkit import NO_FACE, camera_folder  # noqa: E402 - tests/ is on sys.path (harness)
from faultkit.harness import BASE, Box, Row, wait
from mqtt.broker import free_port

RETRY_S = 3.0
TARGET_S = RETRY_S + 5.0


class SilentPort:
    """A loopback port that accepts connections and never sends a byte."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def mjpeg_server(port: int) -> subprocess.Popen[bytes]:
    """An HTTP MJPEG camera (ffmpeg serves one client per run, so a shell loop restarts it)."""
    ffmpeg = (f"ffmpeg -loglevel quiet -re -f lavfi -i testsrc=size=320x240:rate=5 -c:v mjpeg -f mpjpeg "
              f"-listen 1 http://127.0.0.1:{port}/cam.mjpg")
    return subprocess.Popen(["bash", "-c", f"while true; do {ffmpeg}; sleep 0.1; done"], start_new_session=True)


def camera_status(box: Box) -> dict:
    return box.state_of("camera") or {}


def error_with(box: Box, timeout: float) -> str:
    """Ask for a look at the room; the camera status' error message once it says error."""
    import json
    mark = box.watcher.mark()
    box.publish("refresh", "PRESS")
    message = box.watcher.wait_message(f"{BASE}/camera", lambda m: json.loads(m.payload).get("status") == "error",
                                       after=mark, timeout=timeout)
    return str(json.loads(message.payload).get("error")).split(": ", 1)[-1]  # after the source name


def back_within(box: Box, timeout: float) -> float:
    began = time.monotonic()
    wait(lambda: camera_status(box).get("status") == "ok", "camera ok again", timeout, step=0.05)
    return time.monotonic() - began


def folder_rows(tmp: Path) -> list[Row]:
    box = Box(tmp / "folder", camera={"retry_interval_s": RETRY_S})
    try:
        box.start()
        box.wait_playing()
        wait(lambda: camera_status(box).get("status") == "ok", "camera ok", 60)
        shutil.rmtree(box.camera)
        message = error_with(box, 30)
        playing = bool(box.mpv_playing())
        camera_folder(box.camera, NO_FACE)
        try:
            took = back_within(box, 30)
            figure = f"says {message[:50]!r}; music {'plays' if playing else 'STOPPED'}; back {took:.1f} s after"
            ok = playing and took <= TARGET_S
        except TimeoutError:
            figure, ok = f"says {message[:50]!r}; music {'plays' if playing else 'STOPPED'}; NOT back in 30 s", False
        return [Row("camera folder deleted", figure, f"plays, back <= {TARGET_S:g} s", ok), box.log_row("camera folder")]
    finally:
        box.close()


def stream_rows(tmp: Path) -> list[Row]:
    out: list[Row] = []
    port = free_port()
    for scheme, url in (("rtsp", f"rtsp://127.0.0.1:{port}/live"), ("http", f"http://127.0.0.1:{port}/cam.mjpg")):
        box = Box(tmp / scheme, camera={"source": url, "retry_interval_s": RETRY_S, "capture_timeout_s": 3})
        silent: SilentPort | None = None
        server: subprocess.Popen[bytes] | None = None
        try:
            box.start()
            box.wait_playing()
            closed = str(wait(lambda: (s := camera_status(box)).get("status") == "error" and s.get("error"),
                              "camera error (port closed)", 60)).split(": ", 1)[-1]
            playing = bool(box.mpv_playing())
            out.append(Row(f"{scheme} camera port closed", f"says {closed[:60]!r}; music "
                           f"{'plays' if playing else 'STOPPED'}", "plays, says why", playing and bool(closed)))
            silent = SilentPort(port)
            time.sleep(RETRY_S + 1)
            message = error_with(box, 30)
            playing = bool(box.mpv_playing())
            out.append(Row(f"{scheme} camera port never answers", f"says {message[:60]!r}; music "
                           f"{'plays' if playing else 'STOPPED'}", "plays, says why", playing and bool(message)))
            if scheme == "http":
                silent.close()
                silent = None
                server = mjpeg_server(port)
                try:
                    took = back_within(box, 30)
                    out.append(Row("http camera serving again", f"camera ok {took:.1f} s after the server started",
                                   f"<= {TARGET_S:g} s", took <= TARGET_S))
                except TimeoutError:
                    out.append(Row("http camera serving again", "NOT back within 30 s", f"<= {TARGET_S:g} s", False))
            out.append(box.log_row(f"camera {scheme}"))
        finally:
            if silent is not None:
                silent.close()
            if server is not None:
                import os
                import signal
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(5)
            box.close()
    return out


def rows(tmp: Path, short: bool) -> list[Row]:
    return folder_rows(tmp) + stream_rows(tmp)
