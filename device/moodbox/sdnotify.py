"""systemd's sd_notify protocol without extra packages: datagrams to $NOTIFY_SOCKET.

Outside systemd (no NOTIFY_SOCKET) every call is a quiet no-op, so `moodbox run` works the same
from a terminal. See sd_notify(3) and systemd.service(5) (Type=notify, WatchdogSec=).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send one notification ("READY=1", "STATUS=...", ...). True when it was sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8", "replace"))
        return True
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
        return False


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec=), or None when no watchdog is asked for."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a number", usec)
        return None
    return seconds / 2 if seconds > 0 else None


class Watchdog:
    """Pings WATCHDOG=1 at half the watchdog interval, but only while `alive()` says the daemon is
    healthy: a hung core stops the pings and systemd kills and restarts the service."""

    def __init__(self, alive: Callable[[], bool], interval: float | None = None) -> None:
        self.alive = alive
        self.interval = interval if interval is not None else watchdog_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start pinging; False (and no thread) when systemd asked for no watchdog."""
        if not self.interval:
            return False
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()
        log.info("systemd watchdog: pinging every %.1f s while the core is alive", self.interval)
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        assert self.interval
        reported = False
        while not self._stop.wait(self.interval):
            healthy = False
            try:
                healthy = self.alive()
            except Exception:  # a broken health check must look like a hang, not crash this thread
                log.exception("watchdog health check failed")
            if healthy:
                notify("WATCHDOG=1")
                reported = False
            elif not reported:
                log.error("core is not responding: withholding the systemd watchdog ping (restart follows)")
                reported = True
