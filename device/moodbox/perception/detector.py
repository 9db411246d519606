"""BlazeFace face detection: letterbox, run, decode boxes and keypoints on SSD anchors, weighted NMS."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodbox.perception.anchors import ssd_anchors
from moodbox.perception.errors import ModelError
from moodbox.perception.geometry import letterbox
from moodbox.perception.model import TfliteModel


RIGHT_EYE, LEFT_EYE = 0, 1  # keypoint order of BlazeFace (the person's right eye, left eye, nose, ...)


@dataclass(frozen=True)
class Detection:
    """One face in frame pixels: box (x0, y0, x1, y1), score 0..1, keypoints (K, 2)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        right, left = self.keypoints[RIGHT_EYE], self.keypoints[LEFT_EYE]
        return (float(right[0]), float(right[1])), (float(left[0]), float(left[1]))


def sigmoid(raw: np.ndarray, clip: float = 100.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(raw, -clip, clip)))


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x0, y0, x1, y1) box with each of (N, 4) boxes."""
    inter_w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    inter_h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = inter_w * inter_h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 iou_threshold: float) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's WEIGHTED non-max suppression: each kept face is the score-weighted mean of
    the candidates that overlap the best one by more than `iou_threshold`; its score is the best one's."""
    remaining = np.argsort(-scores)
    kept = []
    while remaining.size:
        best = remaining[0]
        overlap = iou(boxes[best], boxes[remaining]) > iou_threshold
        group = remaining[overlap]
        weights = scores[group]
        total = weights.sum()
        box = (boxes[group] * weights[:, None]).sum(axis=0) / total
        points = (keypoints[group] * weights[:, None, None]).sum(axis=0) / total
        kept.append((float(scores[best]), box, points))
        remaining = remaining[~overlap]
    return kept


def tile_windows(width: int, height: int, tiles: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of a tiles x tiles grid of windows over the frame, neighbours overlapping by
    `overlap` of a window (so a face cut by one border is whole in the next window); none for tiles=1."""
    if tiles <= 1:
        return []
    tile_w = max(1, round(width / (tiles - (tiles - 1) * overlap)))
    tile_h = max(1, round(height / (tiles - (tiles - 1) * overlap)))
    windows = []
    for row in range(tiles):
        for column in range(tiles):
            x0 = round(column * (width - tile_w) / (tiles - 1))
            y0 = round(row * (height - tile_h) / (tiles - 1))
            windows.append((x0, y0, x0 + tile_w, y0 + tile_h))
    return windows


class FaceDetector:
    """A BlazeFace model (full or short range) described by its manifest entry."""

    def __init__(self, path: Path, name: str, entry: dict[str, Any], threads: int = 1):
        spec_in, spec_out = entry["input"], entry["output"]
        self.model = TfliteModel(path, name, spec_in, threads)
        if self.model.height != self.model.width:
            raise ModelError(f"{path}: face detector input must be square, not {self.model.height}x{self.model.width}")
        self.size = self.model.height
        self.rgb = spec_in.get("color", "RGB").upper() == "RGB"
        self.anchors = ssd_anchors(spec_out["anchors"])
        self.num_keypoints = int(spec_out.get("num_keypoints", 6))
        self.box_scale = float(spec_out.get("box_scale", self.size))
        self.x_first = bool(spec_out.get("reverse_output_order", True))
        self.score_clip = float(spec_out.get("score_clipping_thresh", 100.0))
        self.nms_iou = float(spec_out.get("nms_iou", 0.3))
        self._regressors, self._scores = self._output_positions(spec_out)
        shapes = self.model.output_shapes()
        num_boxes, num_coords = shapes[self._regressors][-2:]
        if num_boxes != len(self.anchors):
            raise ModelError(f"{path}: the anchor options give {len(self.anchors)} anchors but the model "
                             f"outputs {num_boxes} boxes")
        if num_coords != 4 + 2 * self.num_keypoints:
            raise ModelError(f"{path}: {num_coords} values per box, expected {4 + 2 * self.num_keypoints}")

    def _output_positions(self, spec_out: dict[str, Any]) -> tuple[int, int]:
        names = spec_out.get("tensors")
        if names:
            return self.model.output_index(names["regressors"]), self.model.output_index(names["classificators"])
        # No names in the manifest: the box tensor is the one with many values per anchor.
        shapes = self.model.output_shapes()
        by_width = sorted(range(len(shapes)), key=lambda i: shapes[i][-1])
        return by_width[-1], by_width[0]

    def detect(self, frame_bgr: np.ndarray, min_score: float, tiles: int = 1) -> list[Detection]:
        """Faces in a BGR uint8 frame, best first, in frame pixels.

        tiles > 1 also looks at a tiles x tiles grid of overlapping windows: small faces get more
        input pixels there (letterboxing a 640x480 frame to 192x192 leaves a 48 px face 14 px).
        """
        height, width = frame_bgr.shape[:2]
        found = [self._candidates(frame_bgr[y0:y1, x0:x1], min_score, x0, y0)
                 for x0, y0, x1, y1 in [(0, 0, width, height), *tile_windows(width, height, tiles)]]
        scores = np.concatenate([f[0] for f in found])
        if scores.size == 0:
            return []
        boxes = np.concatenate([f[1] for f in found])
        keypoints = np.concatenate([f[2] for f in found])
        return [Detection(tuple(float(v) for v in box), score, points)
                for score, box, points in weighted_nms(scores, boxes, keypoints, self.nms_iou)]

    def _candidates(self, window: np.ndarray, min_score: float, x0: int, y0: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (N,), boxes (N, 4) and keypoints (N, K, 2) in frame pixels of every anchor above
        min_score in one window whose top-left corner is (x0, y0) in the frame."""
        square, fit = letterbox(window, self.size)
        if self.rgb:
            square = cv2.cvtColor(square, cv2.COLOR_BGR2RGB)
        outputs = self.model.run(square)
        raw_boxes = outputs[self._regressors].reshape(-1, 4 + 2 * self.num_keypoints)
        scores = sigmoid(outputs[self._scores].reshape(-1).astype(np.float64), self.score_clip)
        keep = np.flatnonzero(scores >= min_score)
        boxes, keypoints = self._decode(raw_boxes[keep], self.anchors[keep])
        # 0..1 of the square input -> window pixels -> frame pixels
        offset = np.array([x0, y0], np.float32)
        corners = fit.to_frame(boxes.reshape(-1, 2, 2) * self.size) + offset
        points = fit.to_frame(keypoints * self.size) + offset
        return scores[keep], corners.reshape(-1, 4), points

    def _decode(self, raw: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw regressor rows -> (N, 4) boxes x0, y0, x1, y1 and (N, K, 2) keypoints, 0..1 of the input."""
        pairs = (raw / self.box_scale).reshape(len(raw), 2 + self.num_keypoints, 2)
        if not self.x_first:  # (y, x) pairs: swap to (x, y)
            pairs = pairs[:, :, ::-1]
        anchor_xy, anchor_wh = anchors[:, None, :2], anchors[:, None, 2:]
        center = pairs[:, 0:1] * anchor_wh + anchor_xy
        size = pairs[:, 1:2] * anchor_wh
        boxes = np.concatenate([center - size / 2, center + size / 2], axis=1).reshape(-1, 4)
        keypoints = pairs[:, 2:] * anchor_wh + anchor_xy
        return boxes, keypoints
