"""The shared logic of live sources (Pi camera, OpenCV): timed open/capture, reopen, release.

A capture runs in a worker thread with a timeout (a stuck camera cannot hang the daemon), the
device is reopened after a failure and released on close(); a later read() opens it again.
Backends subclass DeviceSource and fill in _open, _grab and _release.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, TypeVar

import numpy as np

from moodbox.camera.frames import CameraError, fit_frame

log = logging.getLogger(__name__)

T = TypeVar("T")

# A live device or stream idle longer than this holds stale frames: flush (device) or reconnect (stream).
STALE_AFTER_S = 2.0
RELEASE_TIMEOUT_S = 3.0


class _Timeout(Exception):
    """A call that did not return in time; `box` gets its late result ("value" or "error")."""

    def __init__(self, thread: threading.Thread, box: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.thread = thread
        self.box = box


def _call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run fn in a daemon thread; raise _Timeout (holding that thread) if it does not finish in time."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"camera-{what}", daemon=True)
    thread.start()
    if not done.wait(max(0.0, timeout)):
        raise _Timeout(thread, box)
    if "error" in box:
        raise box["error"]
    return box["value"]


class DeviceSource:
    """Shared logic of live sources: timed open/capture, reopen after a failure, release on close."""

    name = "device"
    # After a hung capture, release the device anyway after this long (None: wait for the capture
    # to return). picamera2 can hang for good ("Dequeue timer expired"); closing it frees the camera.
    force_release_after_s: float | None = None
    # Streams buffer old frames while nobody reads: reconnect after an idle pause instead.
    reopen_after_idle = False

    def __init__(self, width: int, height: int, capture_timeout_s: float) -> None:
        self.width = width
        self.height = height
        self.capture_timeout_s = capture_timeout_s
        self._handle: Any = None
        self._releasing: threading.Thread | None = None  # releases the device after a hung call
        self._last_read = 0.0
        self._lock = threading.Lock()

    # Subclasses: open the device (raise CameraError), grab one frame (raise CameraError), release.
    def _open(self) -> Any:
        raise NotImplementedError

    def _grab(self, handle: Any, stale: bool) -> np.ndarray:
        """stale: idle longer than STALE_AFTER_S, frames waiting in a buffer are old."""
        raise NotImplementedError

    def _release(self, handle: Any) -> None:
        raise NotImplementedError

    def open(self, timeout: float | None = None) -> None:
        """Open the device now (read() also opens it when needed)."""
        with self._lock:
            self._ensure_open(time.monotonic() + (timeout or self.capture_timeout_s))

    def read(self, timeout: float | None = None) -> np.ndarray:
        timeout = timeout or self.capture_timeout_s
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.reopen_after_idle and self._stale():
                log.debug("%s: idle, reconnecting for a live frame", self.name)
                self._discard()
            for attempt in (1, 2):
                self._ensure_open(deadline)
                handle = self._handle
                stale = self._stale()
                try:
                    frame = self._timed(lambda: self._grab(handle, stale), deadline, "capture")
                except _Timeout as exc:
                    self._abandon(exc.thread)
                    raise CameraError(f"{self.name}: no frame within {timeout:g} s; the camera will be reopened") from None
                except CameraError as exc:
                    self._discard()
                    if attempt == 2 or time.monotonic() >= deadline:
                        raise
                    log.warning("%s: %s; reopening the camera", self.name, exc)
                    continue
                self._last_read = time.monotonic()
                return fit_frame(frame, self.width, self.height)
        raise CameraError(f"{self.name}: no frame")  # not reached

    def close(self) -> None:
        """Release the device (a later read() opens it again)."""
        with self._lock:
            self._discard()

    def _stale(self) -> bool:
        return bool(self._last_read) and time.monotonic() - self._last_read > STALE_AFTER_S

    def _ensure_open(self, deadline: float) -> None:
        if self._handle is not None:
            return
        if self._releasing is not None:
            self._releasing.join(max(0.0, deadline - time.monotonic()))  # a hung call may still return
            if self._releasing.is_alive():
                raise CameraError(f"{self.name}: the camera is still stuck in an earlier capture; retrying later")
            self._releasing = None
        try:
            self._handle = self._timed(self._open, deadline, "open")
        except _Timeout as exc:
            self._abandon(exc.thread, late_open=exc.box)
            raise CameraError(f"{self.name}: the camera did not open in time (is another program using it?)") from None
        self._last_read = 0.0

    def _timed(self, fn: Callable[[], T], deadline: float, what: str) -> T:
        try:
            return _call_with_timeout(fn, deadline - time.monotonic(), what)
        except (CameraError, _Timeout):
            raise
        except Exception as exc:  # noqa: BLE001 - library errors become CameraError
            raise CameraError(f"{self.name}: {what} failed: {exc}") from exc

    def _discard(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                _call_with_timeout(lambda: self._release(handle), RELEASE_TIMEOUT_S, "release")
            except _Timeout:
                log.warning("%s: releasing the camera hung; leaving it behind", self.name)
            except Exception as exc:  # noqa: BLE001
                log.warning("%s: release failed: %s", self.name, exc)

    def _abandon(self, stuck: threading.Thread, late_open: dict[str, Any] | None = None) -> None:
        """An open or capture hung: release the device once that call returns (not under its feet),
        or after force_release_after_s. An open that returns late has its camera released too."""
        handle, self._handle = self._handle, None

        def release_later() -> None:
            stuck.join(self.force_release_after_s)
            if stuck.is_alive():
                log.warning("%s: the camera call is still hung; releasing the camera anyway", self.name)
            late = late_open.get("value") if late_open is not None else None
            for device in (handle, late):
                if device is not None:
                    try:
                        self._release(device)
                    except Exception as exc:  # noqa: BLE001
                        log.warning("%s: release after a hang failed: %s", self.name, exc)

        self._releasing = threading.Thread(target=release_later, name="camera-release", daemon=True)
        self._releasing.start()
