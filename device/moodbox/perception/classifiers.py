"""Face classifiers on an aligned crop: emotion probabilities and age in years."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

from moodbox.perception.detector import Detection
from moodbox.perception.errors import ModelError
from moodbox.perception.geometry import aligned_crop, eye_angle
from moodbox.perception.manifest import Manifest
from moodbox.perception.model import TfliteModel
from moodbox.readings import EMOTIONS

COLORS = {"gray": 1, "rgb": 3, "bgr": 3}  # manifest "color" -> channels


def softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def as_probabilities(values: np.ndarray, activation: str) -> np.ndarray:
    """Model output -> probabilities: softmax of logits, or renormalized (int8 softmax does not sum to 1)."""
    if activation == "softmax":
        values = np.clip(values, 0.0, None)
        total = values.sum()
        return values / total if total > 0 else np.full_like(values, 1.0 / len(values))
    return softmax(values)


class FaceModel:
    """A model that looks at one face: crops it as its manifest says, runs, returns the flat output."""

    def __init__(self, path: Path, name: str, entry: dict[str, Any], threads: int = 1):
        spec_in, spec_out = entry["input"], entry["output"]
        self.name = name
        self.model = TfliteModel(path, name, spec_in, threads)
        self.color = str(spec_in.get("color", "RGB")).lower()
        if COLORS.get(self.color) != self.model.channels:
            raise ModelError(f"{path}: manifest color {spec_in.get('color')!r} does not fit the model's "
                             f"{self.model.channels} input channel(s)")
        crop = spec_in.get("crop", {})
        self.margin = float(crop.get("margin", 0.0))
        self.aligned = bool(crop.get("aligned", True))
        # shift of the crop centre from the box centre, in box sides (negative y = up)
        self.center_offset = tuple(float(v) for v in crop.get("center_offset", (0.0, 0.0)))
        self.activation = str(spec_out.get("activation", "softmax")).lower()
        if self.activation not in ("softmax", "none"):
            raise ModelError(f"{path}: unknown output activation {self.activation!r} (softmax or none)")
        self.output_size = int(np.prod(self.model.output_shapes()[0]))

    def crop(self, frame_bgr: np.ndarray, face: Detection | None) -> np.ndarray:
        """The model's input image: the face cut out of the frame, or the whole frame when face is None."""
        width, height = self.model.width, self.model.height
        if face is None:
            shrinking = frame_bgr.shape[0] > height or frame_bgr.shape[1] > width
            image = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        else:
            angle = eye_angle(*face.eyes) if self.aligned else 0.0
            x0, y0, x1, y1 = face.box
            side = max(x1 - x0, y1 - y0)
            dx, dy = self.center_offset[0] * side, self.center_offset[1] * side
            image = aligned_crop(frame_bgr, (x0 + dx, y0 + dy, x1 + dx, y1 + dy), angle, self.margin, width, height)
        if self.color == "gray":
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[:, :, None]
        if self.color == "rgb":
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return image

    def output(self, frame_bgr: np.ndarray, face: Detection | None, flip: bool = False) -> np.ndarray:
        """The flat model output for the face; flip: on the horizontally mirrored crop."""
        crop = self.crop(frame_bgr, face)
        if flip:
            crop = cv2.flip(crop, 1).reshape(crop.shape)  # keeps the channel axis of gray crops
        return self.model.run(crop)[0].reshape(-1).astype(np.float64)

    @property
    def timing_ms(self) -> float:
        """Mean time of one inference (moving average, 0.0 before the first)."""
        return self.model.timing.value


class EmotionModel(FaceModel):
    """Emotion probabilities, mapped from the model's label order to EMOTIONS."""

    def __init__(self, path: Path, name: str, entry: dict[str, Any], threads: int = 1):
        super().__init__(path, name, entry, threads)
        labels = [str(label).lower() for label in entry["output"].get("labels", [])]
        unknown = sorted(set(labels) - set(EMOTIONS))
        if unknown or len(set(labels)) != len(labels):
            raise ModelError(f"{path}: emotion labels {labels} must be distinct names from {', '.join(EMOTIONS)}")
        if len(labels) != self.output_size:
            raise ModelError(f"{path}: {len(labels)} labels in the manifest but the model outputs {self.output_size} values")
        self.labels = labels

    def predict(self, frame_bgr: np.ndarray, face: Detection | None, flip: bool = False) -> dict[str, float]:
        probs = as_probabilities(self.output(frame_bgr, face, flip), self.activation)
        by_label = dict(zip(self.labels, probs.tolist()))
        return {emotion: float(by_label.get(emotion, 0.0)) for emotion in EMOTIONS}


class AgeModel(FaceModel):
    """Age in years: the expectation of a softmax over age values, or a single regressed value."""

    def __init__(self, path: Path, name: str, entry: dict[str, Any], threads: int = 1):
        super().__init__(path, name, entry, threads)
        spec_out = entry["output"]
        self.decode = str(spec_out.get("decode", "softmax_expectation"))
        if self.decode == "softmax_expectation":
            values = np.asarray(spec_out.get("values", []), np.float64)
            if len(values) == 2 and self.output_size > 2:  # [first, last] of an evenly spaced table
                values = np.linspace(values[0], values[1], self.output_size)
            if len(values) != self.output_size:
                raise ModelError(f"{path}: {len(values)} age values in the manifest but the model outputs "
                                 f"{self.output_size} values")
            self.values = values
        elif self.decode == "regression":
            if self.output_size != 1:
                raise ModelError(f"{path}: a regression age model must output one value, not {self.output_size}")
        else:
            raise ModelError(f"{path}: unknown age decode {self.decode!r} (softmax_expectation or regression)")

    def predict(self, frame_bgr: np.ndarray, face: Detection | None, flip: bool = False) -> float:
        output = self.output(frame_bgr, face, flip)
        if self.decode == "regression":
            return max(0.0, float(output[0]))
        return max(0.0, float(np.dot(as_probabilities(output, self.activation), self.values)))


Member = TypeVar("Member", EmotionModel, AgeModel)


class Ensemble(Generic[Member]):
    """Models of one task on the same face, averaged with weights; flip: each also on the mirrored crop."""

    def __init__(self, name: str, members: Sequence[Member], weights: Sequence[float] | None = None,
                 flip: bool = False):
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if not members or len(weights) != len(members) or min(weights) <= 0:
            raise ModelError(f"ensemble {name!r}: needs members and one positive weight each "
                             f"({len(members)} members, weights {weights})")
        self.name = name
        self.members = list(members)
        self.weights = [w / sum(weights) for w in weights]
        self.flip = flip

    def _mean(self, one: Callable[[Member, bool], np.ndarray]) -> np.ndarray:
        total = np.zeros(1)  # broadcasts to the members' output shape
        for member, weight in zip(self.members, self.weights):
            value = one(member, False)
            if self.flip:
                value = (value + one(member, True)) / 2
            total = total + weight * value
        return total

    @property
    def timing_ms(self) -> float:
        """Mean time of one face: the members' times added, doubled with flip."""
        return sum(member.timing_ms for member in self.members) * (2 if self.flip else 1)


class EmotionEnsemble(Ensemble[EmotionModel]):
    """Weighted mean of the members' emotion probabilities."""

    def predict(self, frame_bgr: np.ndarray, face: Detection | None) -> dict[str, float]:
        def one(member: EmotionModel, flip: bool) -> np.ndarray:
            probs = member.predict(frame_bgr, face, flip)
            return np.array([probs[emotion] for emotion in EMOTIONS])

        return dict(zip(EMOTIONS, self._mean(one).tolist()))


class AgeEnsemble(Ensemble[AgeModel]):
    """Weighted mean of the members' ages in years."""

    def predict(self, frame_bgr: np.ndarray, face: Detection | None) -> float:
        return float(self._mean(lambda member, flip: np.array([member.predict(frame_bgr, face, flip)]))[0])


def _check_task(manifest: Manifest, name: str, task: str) -> None:
    found = manifest.entry(name).get("task")
    if found != task:
        raise ModelError(f"{manifest.path}: model {name!r} has task {found!r}; an {task} model or ensemble is needed")


def _build(manifest: Manifest, name: str, task: str, single: type, ensemble: type, threads: int):
    """The single model or ensemble called `name`, of `task`; every file checked against its sha256."""
    _check_task(manifest, name, task)
    spec = manifest.ensemble(name)
    if spec is None:
        return single(manifest.verified_file(name), name, manifest.entry(name), threads)
    members = [single(manifest.verified_file(m), m, manifest.entry(m), threads) for m in spec.members]
    return ensemble(name, members, spec.weights, spec.flip)


def build_emotion_model(manifest: Manifest, name: str, threads: int = 1) -> EmotionModel | EmotionEnsemble:
    """The emotion model or ensemble called `name` in the manifest."""
    return _build(manifest, name, "emotion", EmotionModel, EmotionEnsemble, threads)


def build_age_model(manifest: Manifest, name: str, threads: int = 1) -> AgeModel | AgeEnsemble:
    """The age model or ensemble called `name` in the manifest."""
    return _build(manifest, name, "age", AgeModel, AgeEnsemble, threads)
