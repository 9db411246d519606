"""A manifest model or an exported training run, read as int8 TFLite (stretch-age, robustness)."""
from __future__ import annotations

import json
import time

import numpy as np

from ..common import OUT, load_manifest
from ..data import EMOTION_LABELS
from ..shipped import ShippedModel
from ..tfl import TFL
from .datasets import RUNS


class Member(ShippedModel):
    """A manifest model, or an exported run read through its manifest_entry.json."""

    def __init__(self, name: str):
        models = load_manifest()["models"]
        if name in models:
            super().__init__(name)
            self.path = OUT / self.entry["file"]
            return
        folder = RUNS / name
        entry_path, path = folder / "manifest_entry.json", folder / "model_int8.tflite"
        if not (entry_path.exists() and path.exists()):
            raise SystemExit(f"{name!r} is neither a manifest model ({', '.join(sorted(models))}) nor an "
                             f"exported run (run `python -m convert.train export {name}`)")
        self.name, self.path = name, path
        self.entry = json.loads(entry_path.read_text())
        self.task = self.entry["task"]
        self.size = int(self.entry["input"]["size"][0])
        self.color = str(self.entry["input"].get("color", "RGB")).lower()
        self.labels = self.entry["output"].get("labels")
        self.net = TFL(path)

    def fit(self, x_u8: np.ndarray) -> np.ndarray:
        """Validation crops resized to this model's input (FER 48x48 -> the 64x64 of the borrowed model)."""
        if x_u8.shape[1] == self.size:
            return x_u8
        from PIL import Image
        def resize(img: np.ndarray) -> np.ndarray:
            im = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
            out = np.asarray(im.resize((self.size, self.size), Image.BILINEAR))
            return out[..., None] if out.ndim == 2 else out
        return np.stack([resize(img) for img in x_u8])

    def predict(self, x_u8: np.ndarray, flip: bool) -> np.ndarray:
        """Probabilities in EMOTION_LABELS order (emotion) or years (age)."""
        x = self.fit(x_u8)
        out = self(x[:, :, ::-1] if flip else x)
        if self.task != "emotion":
            return out
        p = np.clip(out.astype(np.float64), 0, None)
        p /= np.maximum(p.sum(1, keepdims=True), 1e-12)
        order = [self.labels.index(label) for label in EMOTION_LABELS]
        return p[:, order]

    def ms_per_face(self, x_u8: np.ndarray, n: int = 200, rounds: int = 3) -> float:
        x = self.normalize(self.fit(x_u8[:n]))
        self.net(x[:3])
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            self.net(x)
            times.append((time.perf_counter() - t) / len(x) * 1000)
        return float(np.median(times))
