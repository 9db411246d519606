"""Targets and losses.

The numpy half (label encodings, sample weights, age decoding) needs no TensorFlow; the Keras
losses are built by the make_* functions, which import TensorFlow when called.

Emotion: cross-entropy with label smoothing, optionally distilled from the borrowed
mini-Xception (its softened probabilities are a second target). y_true = [smoothed one-hot (K),
teacher probabilities at temperature T (K)]; the model outputs logits.

Age, three heads (model outputs differ, decode_age turns each into years):
- "dldl": softmax over AGE_VALUES, trained on a Gaussian label distribution (KL) plus L1 on the
  expectation (softmax-expectation, like the shipped dlib model);
- "coral": K-1 ordinal "older than k" logits with one shared weight vector (CORAL, Cao et al.
  2020); age = AGE_MIN + number of passed thresholds (sum of sigmoids);
- "l1": one regressed value, L1 loss (the plain baseline).
End-of-range bias: sample weights that flatten the age distribution (balance power 0..1),
and the post-hoc stretch of the values table in stretch.py.
"""
from __future__ import annotations

import numpy as np

AGE_MIN, AGE_MAX = 0, 100
AGE_VALUES = np.arange(AGE_MIN, AGE_MAX + 1, dtype=np.float32)   # dldl output bins
AGE_HEADS = ("dldl", "coral", "l1")
L1_CENTER, L1_SCALE = 35.0, 20.0   # the l1 head predicts (age - 35) / 20


# ------------------------------------------------------------------ numpy: targets and weights
def smooth_onehot(labels: np.ndarray, k: int, eps: float) -> np.ndarray:
    """One-hot rows with eps of the mass spread evenly over all k classes."""
    out = np.full((len(labels), k), eps / k, np.float32)
    out[np.arange(len(labels)), labels] += 1.0 - eps
    return out


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Teacher probabilities at a temperature: softmax(log(p) / T)."""
    logits = np.log(np.clip(probs, 1e-7, 1.0)) / temperature
    logits -= logits.max(1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def emotion_targets(labels: np.ndarray, k: int, eps: float,
                    teacher_probs: np.ndarray | None, temperature: float) -> np.ndarray:
    """[smoothed one-hot | teacher at T]; without a teacher the second half is the one-hot."""
    hard = smooth_onehot(labels, k, eps)
    soft = hard if teacher_probs is None else soften(teacher_probs, temperature)
    return np.concatenate([hard, soft], 1)


def age_distribution(ages: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian label distribution over AGE_VALUES, one row per age (DLDL)."""
    d = np.exp(-0.5 * ((AGE_VALUES[None, :] - np.asarray(ages, np.float32)[:, None]) / sigma) ** 2)
    return (d / d.sum(1, keepdims=True)).astype(np.float32)


def age_targets(ages: np.ndarray, head: str, sigma: float = 2.0,
                teacher: np.ndarray | None = None, beta: float = 0.0) -> np.ndarray:
    """y_true for an age head: column 0 is the age, then what the head's loss needs.
    dldl with a teacher: the label distribution is (1 - beta) * Gaussian + beta * teacher."""
    a = np.asarray(ages, np.float32)[:, None]
    if head == "dldl":
        dist = age_distribution(a[:, 0], sigma)
        if teacher is not None and beta > 0:
            dist = ((1.0 - beta) * dist + beta * teacher).astype(np.float32)
        return np.concatenate([a, dist], 1)
    if teacher is not None and beta > 0:
        raise ValueError("age distillation needs the dldl head (a distribution to mix)")
    if head == "coral":
        levels = (a > AGE_VALUES[None, :-1]).astype(np.float32)   # "older than k", k = 0..99
        return np.concatenate([a, levels], 1)
    if head == "l1":
        return a
    raise ValueError(f"unknown age head {head!r} (one of {', '.join(AGE_HEADS)})")


def rebin(probs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Probabilities over another model's age values -> over AGE_VALUES (nearest whole year)."""
    idx = np.clip(np.rint(values), AGE_MIN, AGE_MAX).astype(int) - AGE_MIN
    out = np.zeros((len(probs), len(AGE_VALUES)), np.float32)
    for j, i in enumerate(idx):
        out[:, i] += probs[:, j]
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


def decode_age(outputs: np.ndarray, head: str) -> np.ndarray:
    """Years from the raw training-model outputs (logits) of an age head."""
    z = np.asarray(outputs, np.float64)
    if head == "dldl":
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        return p @ AGE_VALUES.astype(np.float64)
    if head == "coral":
        return AGE_MIN + (1.0 / (1.0 + np.exp(-z))).sum(1)
    if head == "l1":
        return L1_CENTER + L1_SCALE * z[:, 0]
    raise ValueError(f"unknown age head {head!r}")


def class_weights(labels: np.ndarray, k: int, power: float) -> np.ndarray:
    """Per-sample weights count(class)^-power, mean 1 (power 0: all ones, 0.5: sqrt-inverse)."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)[labels]
    return (w / w.mean()).astype(np.float32)


def age_balance_weights(ages: np.ndarray, power: float, bin_years: int = 5,
                        max_ratio: float = 10.0) -> np.ndarray:
    """Per-sample weights count(age bin)^-power that flatten the age histogram (bins of
    bin_years); the largest weight is at most max_ratio times the smallest; mean 1."""
    bins = np.minimum(np.asarray(ages, np.int64) // bin_years, AGE_MAX // bin_years)
    counts = np.bincount(bins).astype(np.float64)
    w = np.maximum(counts[bins], 1) ** -power
    w = np.minimum(w, max_ratio * w.min())
    return (w / w.mean()).astype(np.float32)


# ------------------------------------------------------------------ Keras losses
def make_emotion_loss(k: int, alpha: float, temperature: float):
    """(1 - alpha) * CE(hard, softmax z) + alpha * T^2 * CE(teacher_T, softmax(z / T))."""
    import tensorflow as tf

    def loss(y_true, logits):
        hard, soft = y_true[:, :k], y_true[:, k:]
        ce = tf.keras.losses.categorical_crossentropy(hard, logits, from_logits=True)
        if alpha <= 0:
            return ce
        kd = tf.keras.losses.categorical_crossentropy(soft, logits / temperature, from_logits=True)
        return (1.0 - alpha) * ce + alpha * temperature ** 2 * kd

    loss.__name__ = "emotion_loss"
    return loss


def make_age_loss(head: str, l1_weight: float = 0.05):
    """Loss for y_true from age_targets and the head's raw outputs."""
    import tensorflow as tf
    values = tf.constant(AGE_VALUES)

    def dldl(y_true, logits):
        age, dist = y_true[:, 0], y_true[:, 1:]
        kl = tf.keras.losses.categorical_crossentropy(dist, logits, from_logits=True)
        expected = tf.reduce_sum(tf.nn.softmax(logits) * values, axis=1)
        return kl + l1_weight * tf.abs(expected - age)

    def coral(y_true, logits):
        levels = y_true[:, 1:]
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=levels, logits=logits)
        return tf.reduce_sum(bce, axis=1)

    def l1(y_true, z):
        return tf.abs((y_true[:, 0] - L1_CENTER) / L1_SCALE - z[:, 0])

    fn = {"dldl": dldl, "coral": coral, "l1": l1}[head]
    fn.__name__ = f"age_{head}_loss"
    return fn
