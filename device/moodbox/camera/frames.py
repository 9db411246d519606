"""What every frame source is: read() -> a BGR uint8 frame, close(); CameraError; fit_frame()."""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np


class CameraError(Exception):
    """The camera cannot give a frame; the message says why and what to check."""


class FrameSource(Protocol):
    name: str

    def read(self, timeout: float | None = None) -> np.ndarray: ...

    def close(self) -> None: ...


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """As BGR uint8 (3 channels), scaled down (never up, aspect kept) to fit width x height."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]
    elif frame.ndim != 3 or frame.shape[2] != 3:
        raise CameraError(f"unexpected frame shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame)
