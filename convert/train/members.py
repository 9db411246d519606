"""Ensemble members: a manifest model or an exported training run, read as int8 TFLite."""
from __future__ import annotations

import json
import time

import numpy as np

from ..common import OUT, load_manifest, log
from ..data import EMOTION_LABELS
from ..shipped import ShippedModel
from ..tfl import TFL
from .datasets import CACHE, RUNS, cached_array


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


def members_probs(names: list[str], x_u8: np.ndarray, cache: str | None) -> np.ndarray:
    """Distillation targets from emotion members: their int8 probabilities on these images, each
    averaged with its mirror image, then over members. Cached under cache + the members' hash."""
    import hashlib
    members = [Member(n) for n in names]
    wrong = [m.name for m in members if m.task != "emotion"]
    if wrong:
        raise SystemExit(f"teacher members must be emotion models: {', '.join(wrong)}")
    digest = hashlib.sha256(b"".join(m.path.read_bytes() for m in members)).hexdigest()[:12]

    def build() -> np.ndarray:
        outs = []
        for m in members:
            outs.append(0.5 * (m.predict(x_u8, False) + m.predict(x_u8, True)))
            log(f"teacher member {m.name}: {len(x_u8)} images, each also mirrored")
        return combine(outs, [1.0] * len(outs)).astype(np.float32)

    return cached_array(CACHE / f"{cache}_{digest}.npy" if cache else None, build, len(x_u8))


def combine(outputs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, np.float64) / float(np.sum(weights))
    return sum(wi * o for wi, o in zip(w, outputs))
