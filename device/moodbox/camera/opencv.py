"""cv2.VideoCapture: a V4L2 device (USB webcam), a video file (looped) or a stream URL (IP camera)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from moodbox.camera.device import DeviceSource
from moodbox.camera.frames import CameraError

log = logging.getLogger(__name__)

STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://")
DEVICE_FLUSH_GRABS = 2


class OpenCVSource(DeviceSource):
    """cv2.VideoCapture on a V4L2 device (index or /dev/videoN), a video file (looped) or a stream URL."""

    def __init__(self, target: str | int, width: int = 640, height: int = 480, capture_timeout_s: float = 5.0) -> None:
        super().__init__(width, height, capture_timeout_s)
        self.target = target
        text = str(target)
        self.kind = "stream" if text.startswith(STREAM_PREFIXES) else "device" if _is_device(target) else "file"
        self.name = f"opencv:{'/dev/video' + text if isinstance(target, int) else redact_url(text)}"
        self.reopen_after_idle = self.kind == "stream"
        if self.kind == "file" and not Path(text).is_file():
            raise CameraError(f"camera.source: no such file: {text}")

    def _open(self) -> cv2.VideoCapture:
        if self.kind == "device":
            capture = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        elif self.kind == "stream":
            # ffmpeg gives up by itself too, so a dead camera does not leave a hung thread behind
            timeout_ms = int(self.capture_timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            capture = cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(str(self.target))
        if not capture.isOpened():
            capture.release()
            raise CameraError(self._why_not_open())
        if self.kind == "device":
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        log.info("%s: opened", self.name)
        return capture

    def _why_not_open(self) -> str:
        if self.kind == "device":
            path = f"/dev/video{self.target}" if isinstance(self.target, int) else str(self.target)
            if not os.path.exists(path):
                return f"{self.name}: no such device {path}"
            if not os.access(path, os.R_OK | os.W_OK):
                return f"{self.name}: no permission for {path} (add the user to the 'video' group)"
            return f"{self.name}: cannot open {path} (device busy or not a capture device?)"
        if self.kind == "stream":
            return f"{self.name}: cannot connect to the stream (check the URL, user/password and network)"
        return f"{self.name}: cannot open the video file (not a video, or a codec OpenCV lacks)"

    def _grab(self, handle: cv2.VideoCapture, stale: bool) -> np.ndarray:
        if stale and self.kind == "device":
            for _ in range(DEVICE_FLUSH_GRABS):  # drop frames that waited in the driver's buffer
                handle.grab()
        ok, frame = handle.read()
        if not ok or frame is None:
            if self.kind != "file":
                raise CameraError(f"{self.name}: the camera gave no frame")
            handle.set(cv2.CAP_PROP_POS_FRAMES, 0)  # end of the video: loop
            ok, frame = handle.read()
            if not ok or frame is None:
                raise CameraError(f"{self.name}: the video file has no readable frames")
        return frame

    def _release(self, handle: cv2.VideoCapture) -> None:
        handle.release()


def redact_url(url: str) -> str:
    """The URL without its password (names end up in logs and MQTT)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _is_device(target: str | int) -> bool:
    return isinstance(target, int) or str(target).startswith("/dev/")
