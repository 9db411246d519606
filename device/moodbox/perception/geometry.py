"""Image geometry: letterbox a frame for the detector, cut an eye-aligned face crop."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Largest intermediate crop side: bigger faces are warped to this, then area-resized (no aliasing).
MAX_WORK_SIDE = 512


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the square model input: input pixel = frame pixel * scale + pad."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Input pixel coordinates (..., 2) -> frame pixel coordinates."""
        return (points - np.array([self.pad_x, self.pad_y], np.float32)) / self.scale


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Scale the frame to fit a size x size square, centred, black padding (what BlazeFace expects)."""
    height, width = frame.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((size, size) + frame.shape[2:], dtype=frame.dtype)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return canvas, Letterbox(scale, float(pad_x), float(pad_y))


def eye_angle(eye_a: tuple[float, float], eye_b: tuple[float, float]) -> float:
    """Angle (radians) of the line from the image-left eye to the image-right eye."""
    (left_x, left_y), (right_x, right_y) = sorted([eye_a, eye_b])
    return math.atan2(right_y - left_y, right_x - left_x)


def aligned_crop(frame: np.ndarray, box: tuple[float, float, float, float], angle: float,
                 margin: float, out_w: int, out_h: int) -> np.ndarray:
    """A square crop around the box centre, side = max(w, h) * (1 + 2 * margin), rotated by `angle`
    so the eye line becomes level, resized to out_w x out_h. Outside the frame is black.

    box = (x0, y0, x1, y1) in frame pixels. Same framing as convert/facecrop.py (used for training data).
    """
    x0, y0, x1, y1 = box
    center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    work = int(min(max(round(side), out_w, out_h), MAX_WORK_SIDE))
    # Output pixel (u, v) -> frame pixel: rotate by `angle` and scale by side/work about the centre.
    k = side / work
    cos_a, sin_a = math.cos(angle) * k, math.sin(angle) * k
    half = work / 2
    inverse = np.array([
        [cos_a, -sin_a, center_x - cos_a * half + sin_a * half],
        [sin_a, cos_a, center_y - sin_a * half - cos_a * half],
    ], dtype=np.float64)
    crop = cv2.warpAffine(frame, inverse, (work, work), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if (work, work) != (out_w, out_h):
        interpolation = cv2.INTER_AREA if work > max(out_w, out_h) else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (out_w, out_h), interpolation=interpolation)
    return crop
