"""mpv's JSON IPC protocol: numbered requests with replies, events handed to a callback."""
from __future__ import annotations

import json
import logging
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from moodbox.player.items import MpvCommandError, PlayerError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0


class MpvConnection:
    """A JSON IPC client on mpv's Unix socket; one reader thread, commands from any thread."""

    def __init__(self, sock_path: Path, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(sock_path))
        self._on_event = on_event
        self._send_lock = threading.Lock()
        self._next_id = 0
        self._waiting: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="mpv-ipc-reader", daemon=True)
        self._reader.start()

    def command(self, args: list[Any] | dict[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> Any:
        """Send one command and wait for its reply; returns the reply's data."""
        done = threading.Event()
        reply: list[dict[str, Any]] = []
        with self._send_lock:
            self._next_id += 1
            request_id = self._next_id
            self._waiting[request_id] = (done, reply)
            line = json.dumps({"command": args, "request_id": request_id}) + "\n"
            try:
                self._sock.sendall(line.encode("utf-8"))
            except OSError as exc:
                self._waiting.pop(request_id, None)
                raise PlayerError(f"mpv IPC write failed: {exc}") from None
        if not done.wait(timeout) or not reply:
            self._waiting.pop(request_id, None)
            if self.closed.is_set():
                raise PlayerError("mpv IPC connection closed")
            raise PlayerError(f"mpv did not answer {args!r} within {timeout:.0f} s")
        answer = reply[0]
        if answer.get("error") != "success":
            raise MpvCommandError(f"mpv refused {args!r}: {answer.get('error')}")
        return answer.get("data")

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._reader.join(timeout=1.0)

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._handle_line(line)
        except OSError:
            pass
        finally:
            self.closed.set()
            for done, _ in list(self._waiting.values()):
                done.set()

    def _handle_line(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("mpv sent a line that is not JSON: %r", line[:200])
            return
        if "request_id" in message and "event" not in message:
            waiter = self._waiting.pop(message["request_id"], None)
            if waiter is not None:
                waiter[1].append(message)
                waiter[0].set()
        elif "event" in message:
            self._on_event(message)
