"""BlazeFace face detection: letterbox, run, decode boxes and keypoints on SSD anchors, weighted NMS."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodbox.perception.anchors import ssd_anchors
from moodbox.perception.errors import ModelError
from moodbox.perception.geometry import letterbox
from moodbox.perception.model import TfliteModel

log = logging.getLogger(__name__)

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

    def detect(self, frame_bgr: np.ndarray, min_score: float) -> list[Detection]:
        """Faces in a BGR uint8 frame, best first, in frame pixels."""
        square, fit = letterbox(frame_bgr, self.size)
        if self.rgb:
            square = cv2.cvtColor(square, cv2.COLOR_BGR2RGB)
        outputs = self.model.run(square)
        raw_boxes = outputs[self._regressors].reshape(-1, 4 + 2 * self.num_keypoints)
        scores = sigmoid(outputs[self._scores].reshape(-1).astype(np.float64), self.score_clip)
        candidates = np.flatnonzero(scores >= min_score)
        if candidates.size == 0:
            return []
        boxes, keypoints = self._decode(raw_boxes[candidates], self.anchors[candidates])
        faces = []
        for score, box, points in weighted_nms(scores[candidates], boxes, keypoints, self.nms_iou):
            # box and keypoints are 0..1 of the square input: back to frame pixels
            corners = fit.to_frame(box.reshape(2, 2) * self.size).reshape(4)
            points = fit.to_frame(points * self.size)
            faces.append(Detection(tuple(float(v) for v in corners), score, points))
        return faces

    def _decode(self, raw: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw regressor rows -> (N, 4) boxes x0, y0, x1, y1 and (N, K, 2) keypoints, 0..1 of the input."""
        values = raw / self.box_scale
        if not self.x_first:  # (y, x) pairs: swap to (x, y)
            values = values.reshape(len(values), -1, 2)[:, :, ::-1].reshape(len(values), -1)
        anchor_xy, anchor_wh = anchors[:, None, :2], anchors[:, None, 2:]
        pairs = values.reshape(len(values), -1, 2)
        center = pairs[:, 0:1] * anchor_wh + anchor_xy
        size = pairs[:, 1:2] * anchor_wh
        boxes = np.concatenate([center - size / 2, center + size / 2], axis=1).reshape(-1, 4)
        keypoints = pairs[:, 2:] * anchor_wh + anchor_xy
        return boxes, keypoints
