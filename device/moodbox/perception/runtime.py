"""Perception: frame -> faces -> FaceReading (emotion probabilities, age) with the manifest's models."""
from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from moodbox.perception.classifiers import build_age_model, build_emotion_model
from moodbox.perception.detector import Detection, FaceDetector
from moodbox.perception.errors import FrameError
from moodbox.perception.manifest import Manifest
from moodbox.perception.model import runtime_module, runtime_name
from moodbox.readings import FaceReading

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger(__name__)

# Models retired in December 2026 (convert/train/HISTORY.md) -> what a config naming them now gets.
RETIRED_MODELS: dict[str, str] = {
    "emotion_cnn": "emotion_cnn4_mixup", "emotion_cnn4": "emotion_cnn4_mixup", "emotion_mix": "emotion_cnn4_mixup",
    "age_wrn": "age_wrn80_stretch", "age_wrn_flip": "age_wrn80_stretch", "age_wrn_stretch": "age_wrn80_stretch",
    "age_wrn_stretch_flip": "age_wrn80_stretch", "age_wrn80": "age_wrn80_stretch",
}


def current_model(name: str, manifest: Manifest, key: str) -> str:
    """The model to load for a configured name: a retired one is replaced by its successor, with a warning."""
    successor = RETIRED_MODELS.get(name)
    if successor is None or name in manifest.models:
        return name
    log.warning("perception.%s: model %r was retired (see convert/train/HISTORY.md); using %r instead: "
                "set perception.%s: %s to silence this", key, name, successor, key, successor)
    return successor


def check_frame(frame: object) -> np.ndarray:
    """The frame itself if it is a uint8 HxWx3 BGR image, else a FrameError saying what it is."""
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"a frame must be a numpy array (uint8 HxWx3 BGR), not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"a frame must be uint8 (HxWx3 BGR), not {frame.dtype} {frame.shape}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FrameError(f"a frame must be HxWx3 (BGR), not shape {frame.shape}")
    return frame


def _pixel_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) floats -> (x, y, w, h) whole pixels inside the frame; None when nothing is inside."""
    x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x1, y1 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


class Perception:
    """Face detection plus emotion and age models, loaded from a models folder with a manifest.

    Thread-safe (one call at a time). Models are checked against the manifest's sha256 at load.
    """

    def __init__(self, models_dir: Path, detector: str = "full_range", emotion_model: str = "emotion",
                 age_model: str = "age", threads: int = 1, min_face_score: float = 0.5,
                 min_face_size: int = 20, max_faces: int = 6, tiles: int = 1):
        manifest = Manifest.load(Path(models_dir))
        detector_name = manifest.detector_name(detector)
        self.detector = FaceDetector(manifest.verified_file(detector_name), detector_name,
                                     manifest.entry(detector_name), threads)
        # a single model or an ensemble of several (same predict, name and timing_ms)
        emotion_model = current_model(emotion_model, manifest, "emotion_model")
        age_model = current_model(age_model, manifest, "age_model")
        self.emotion = build_emotion_model(manifest, emotion_model, threads)
        self.age = build_age_model(manifest, age_model, threads)
        self.min_face_score = min_face_score
        self.min_face_size = min_face_size
        self.max_faces = max_faces
        self.tiles = tiles  # > 1: also detect on a tiles x tiles grid of windows (small faces)
        self._lock = threading.Lock()
        self.runtime = runtime_name(runtime_module())
        log.info("perception ready (%s): detector %s (%dx%d, tiles %d), emotion %s, age %s, %d thread(s)",
                 self.runtime, detector_name, self.detector.size, self.detector.size, tiles, emotion_model, age_model,
                 threads)

    @classmethod
    def from_config(cls, config: Config) -> Perception:
        p = config.perception
        return cls(config.models_path, detector=p.detector, emotion_model=p.emotion_model, age_model=p.age_model,
                   threads=p.threads, min_face_score=p.min_face_score, min_face_size=p.min_face_size,
                   max_faces=p.max_faces, tiles=p.tiles)

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """The faces of a frame (at most max_faces, best first, none smaller than min_face_size)."""
        return self._detect(check_frame(frame_bgr))

    def _detect(self, frame: np.ndarray) -> list[Detection]:
        with self._lock:
            found = self.detector.detect(frame, self.min_face_score, self.tiles)
        faces = [f for f in found if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.min_face_size]
        if len(faces) < len(found):
            log.debug("%d face(s) below min_face_size %d px ignored", len(found) - len(faces), self.min_face_size)
        return faces[:self.max_faces]

    def analyze(self, frame_bgr: np.ndarray) -> list[FaceReading]:
        """Detect the faces of a BGR uint8 frame and read emotion and age of each."""
        frame = check_frame(frame_bgr)
        height, width = frame.shape[:2]
        readings = []
        for face in self._detect(frame):
            box = _pixel_box(face.box, width, height)
            if box is not None:
                readings.append(self._read(frame, face, box, face.score))
        return readings

    def analyze_face(self, crop_bgr: np.ndarray) -> FaceReading:
        """Emotion and age of an image that is already a face crop (the box is the whole image)."""
        crop = check_frame(crop_bgr)
        return self._read(crop, None, (0, 0, crop.shape[1], crop.shape[0]), 1.0)

    def _read(self, frame: np.ndarray, face: Detection | None, box: tuple[int, int, int, int],
              score: float) -> FaceReading:
        with self._lock:
            emotion = self.emotion.predict(frame, face)
            age = self.age.predict(frame, face)
        return FaceReading(box=box, score=score, emotion=emotion, age_years=age)

    def timings_ms(self) -> dict[str, float]:
        """Mean time of one inference of each model over its last 50 runs, in ms (0.0 before it ran).

        Per call: emotion and age run once per face, the detector tiles^2 + 1 times per frame when tiles > 1.
        An ensemble's time is that of one face: its members' times added, doubled with flip.
        """
        return {"detector": self.detector.model.timing.value, "emotion": self.emotion.timing_ms,
                "age": self.age.timing_ms}
