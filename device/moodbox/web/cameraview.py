"""The camera aim view (web.camera_view, only with a password): the newest analysed frame with its
face boxes, kept in memory for KEEP_S and encoded as a JPEG when a logged-in page asks. Never stored."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np

KEEP_S = 60.0  # an older frame is dropped, not shown
MAX_WIDTH = 640
JPEG_QUALITY = 80


class CameraView:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._boxes: list[tuple[tuple[int, int, int, int], str]] = []
        self._at = 0.0
        self._stop: Callable[[], None] | None = None

    def attach(self, core: Any) -> None:
        self._stop = core.watch_frames(self.on_frame)

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None
        with self._lock:
            self._frame, self._boxes = None, []

    def on_frame(self, frame: np.ndarray, faces: list[Any]) -> None:
        """On the core's worker during a burst: keep a reference, no work here (frames are not reused)."""
        boxes = [(tuple(int(v) for v in face.box), f"{face.emotion_label} {face.age_years:.0f}") for face in faces]
        with self._lock:
            self._frame, self._boxes, self._at = frame, boxes, time.monotonic()  # type: ignore[assignment]

    def jpeg(self) -> tuple[bytes, float, int] | None:
        """(JPEG bytes, age in s, faces) of the newest frame, or None when there is none in the last KEEP_S."""
        import cv2

        with self._lock:
            frame, boxes, at = self._frame, list(self._boxes), self._at
            if frame is not None and time.monotonic() - at > KEEP_S:
                self._frame, self._boxes, frame = None, [], None
        if frame is None:
            return None
        image = frame.copy()
        thickness = max(2, image.shape[1] // 320)
        for (x, y, w, h), label in boxes:
            cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 0), thickness)
            cv2.putText(image, label, (x, max(14, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2)
        if image.shape[1] > MAX_WIDTH:
            scale = MAX_WIDTH / image.shape[1]
            image = cv2.resize(image, (MAX_WIDTH, round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return None
        return data.tobytes(), time.monotonic() - at, len(boxes)
