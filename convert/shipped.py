"""A shipped (manifest) model run as the device runs it, from uint8 crops to probabilities or years."""
from __future__ import annotations

import numpy as np

from .common import OUT, load_manifest
from .tfl import TFL


def model_input(x_u8: np.ndarray, spec: dict) -> np.ndarray:
    """uint8 RGB crops -> the float input the manifest describes ('range' or 'mean'/'std')."""
    x = x_u8.astype(np.float32)
    if "range" in spec:
        lo, hi = spec["range"]
        return x * np.float32((hi - lo) / 255.0) + np.float32(lo)
    return (x - np.float32(spec["mean"])) / np.float32(spec["std"])


class ShippedModel:
    """A manifest model run with the device's runtime, from uint8 crops to probabilities or years."""

    def __init__(self, name: str):
        self.name = name
        self.entry = load_manifest()["models"][name]
        self.task = self.entry["task"]
        self.size = int(self.entry["input"]["size"][0])
        self.color = str(self.entry["input"].get("color", "RGB")).lower()
        self.labels = self.entry["output"].get("labels")
        self.net = TFL(OUT / self.entry["file"])

    def normalize(self, x_u8: np.ndarray) -> np.ndarray:
        return model_input(x_u8, self.entry["input"])

    def __call__(self, x_u8: np.ndarray) -> np.ndarray:
        out = self.net(self.normalize(x_u8))
        if self.task == "emotion":
            return out
        spec = self.entry["output"]
        if spec.get("decode", "softmax_expectation") == "regression":
            return out[:, 0].astype(np.float64)
        p = np.clip(out.astype(np.float64), 0, None)
        p /= np.maximum(p.sum(1, keepdims=True), 1e-12)
        values = np.asarray(spec["values"], np.float64)
        if len(values) == 2 and p.shape[1] > 2:
            values = np.linspace(values[0], values[1], p.shape[1])
        return p @ values
