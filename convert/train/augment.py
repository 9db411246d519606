"""Random image augmentation for face crops (numpy + OpenCV only, no TensorFlow).

Every function takes uint8 images (N, H, W) or (N, H, W, C) and a numpy Generator, and
returns new uint8 images of the same shape. The changes stay small enough that the face
keeps its label: a little rotation, scale and shift (the device crop is never exact),
horizontal flip, brightness/contrast (room light), blur and noise (camera), and an
erased rectangle (hands, glasses, hair).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    max_rotation_deg: float = 12.0
    max_scale: float = 0.10          # zoom in/out by up to 10 %
    max_shift: float = 0.08          # of the image side
    brightness: float = 0.25         # multiply by 1 +- this
    contrast: float = 0.25           # scale the deviation from the mean by 1 +- this
    blur_prob: float = 0.15
    noise_prob: float = 0.15
    noise_sigma: float = 8.0         # grey levels
    erase_prob: float = 0.25
    erase_max_area: float = 0.15     # of the image area


NONE = AugmentConfig(flip=False, max_rotation_deg=0.0, max_scale=0.0, max_shift=0.0, brightness=0.0,
                     contrast=0.0, blur_prob=0.0, noise_prob=0.0, erase_prob=0.0)


def random_affine(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Rotate, scale and shift one image about its centre; borders repeat the edge pixels."""
    h, w = img.shape[:2]
    angle = rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg)
    scale = 1.0 + rng.uniform(-cfg.max_scale, cfg.max_scale)
    m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), angle, scale)
    m[:, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift, size=2) * (w, h)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(img.shape)


def photometric(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Brightness, contrast, blur and noise on one image (float work, uint8 result)."""
    x = img.astype(np.float32)
    x = x * (1.0 + rng.uniform(-cfg.brightness, cfg.brightness))
    mean = x.mean()
    x = (x - mean) * (1.0 + rng.uniform(-cfg.contrast, cfg.contrast)) + mean
    if rng.random() < cfg.blur_prob:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.2)).reshape(img.shape)
    if rng.random() < cfg.noise_prob:
        x = x + rng.normal(0.0, cfg.noise_sigma, size=x.shape).astype(np.float32)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def random_erase(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Fill one random rectangle (up to erase_max_area of the image) with a random grey level."""
    h, w = img.shape[:2]
    area = rng.uniform(0.02, cfg.erase_max_area) * h * w
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
    eh = int(min(h, round(np.sqrt(area * aspect))))
    ew = int(min(w, round(np.sqrt(area / aspect))))
    if eh < 1 or ew < 1:
        return img
    y, x = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
    out = img.copy()
    out[y:y + eh, x:x + ew] = rng.integers(0, 256)
    return out


def augment_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A randomly changed copy of a batch of uint8 images (N, H, W[, C])."""
    out = np.empty_like(images)
    for i, img in enumerate(images):
        if cfg.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        img = np.ascontiguousarray(img)
        if cfg.max_rotation_deg or cfg.max_scale or cfg.max_shift:
            img = random_affine(img, rng, cfg)
        img = photometric(img, rng, cfg)
        if rng.random() < cfg.erase_prob:
            img = random_erase(img, rng, cfg)
        out[i] = img
    return out


def mixup(x: np.ndarray, y: np.ndarray, w: np.ndarray, rng: np.random.Generator,
          alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixup (Zhang et al. 2018): each sample blended with a random partner of the batch,
    images, targets and sample weights alike, by lam ~ Beta(alpha, alpha) kept >= 0.5 so the
    first image stays the main one. x is the float model input; alpha 0 returns the batch as is."""
    if alpha <= 0:
        return x, y, w
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    partner = rng.permutation(len(x))

    def blend(a: np.ndarray) -> np.ndarray:
        shape = (-1,) + (1,) * (a.ndim - 1)
        return (lam.reshape(shape) * a + (1.0 - lam.reshape(shape)) * a[partner]).astype(np.float32)

    return blend(x), blend(y), blend(w)
