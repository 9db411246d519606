"""Fitting the track mood model: multinomial logistic regression in numpy, folds grouped by artist, scores.

Used by tools/build_mood_model.py (which writes the shipped table) and by check_mapping (which
reports the cross-validated figures). numpy only, so the check also runs on the device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    """Softmax over (x - mean) / scale @ coef + intercept; coef is features x classes."""
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


def fit(x: np.ndarray, y: np.ndarray, classes: int, features: tuple[str, ...], l2: float = 1e-3,
        iterations: int = 3000, step: float = 0.5) -> LinearModel:
    """Full-batch gradient descent on the L2-penalised cross-entropy of standardised features."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    target = np.eye(classes)[y]
    coef, intercept = np.zeros((z.shape[1], classes)), np.zeros(classes)
    for _ in range(iterations):
        logits = z @ coef + intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = p - target
        coef -= step * (z.T @ error / len(y) + l2 * coef)
        intercept -= step * error.mean(axis=0)
    return LinearModel(features, mean, scale, coef, intercept)


def grouped_folds(groups: list[str], k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number per row; all rows of one group (artist) share a fold."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: rank % k for rank, i in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def cross_validated(x: np.ndarray, y: np.ndarray, groups: list[str], classes: int, features: tuple[str, ...],
                    l2: float, k: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold class probabilities (never the same artist in train and test)."""
    folds = grouped_folds(groups, k, seed)
    out = np.zeros((len(y), classes))
    for fold in range(k):
        held = folds == fold
        out[held] = fit(x[~held], y[~held], classes, features, l2).probabilities(x[held])
    return out


@dataclass(frozen=True)
class Scores:
    accuracy: float
    macro_f1: float
    recall: list[float]
    confusion: list[list[int]]  # rows: true class, columns: predicted

    def as_dict(self) -> dict[str, object]:
        return {"accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "recall": [round(r, 4) for r in self.recall], "confusion": self.confusion}


def score(y: np.ndarray, predicted: np.ndarray, classes: int) -> Scores:
    confusion = np.zeros((classes, classes), dtype=int)
    for t, p in zip(y, predicted):
        confusion[t, p] += 1
    recall, f1 = [], []
    for c in range(classes):
        tp = confusion[c, c]
        r = tp / max(1, confusion[c].sum())
        precision = tp / max(1, confusion[:, c].sum())
        recall.append(float(r))
        f1.append(float(2 * precision * r / (precision + r)) if precision + r else 0.0)
    return Scores(float(np.trace(confusion) / max(1, len(y))), float(np.mean(f1)), recall, confusion.tolist())


# ----- the labelled tracks and the model's sets -----

L2_GRID = (1e-3, 1e-2, 1e-1)
SEEDS = (0, 1, 2)  # fold shuffles averaged for each figure


@dataclass(frozen=True)
class Labelled:
    """data_moods.csv as arrays: one row per track."""
    labels: np.ndarray  # class index
    artists: list[str]  # as in the file
    groups: list[str]  # normalised artist: the CV groups
    years: list[int | None]
    features: list[dict[str, float]]  # the track's own features


def labelled_tracks(path: str, classes: tuple[str, ...], features: tuple[str, ...]) -> Labelled:
    import csv

    from moodbox.music.priors import normalise_name
    with open(path, encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "mood" not in rows[0]:
        raise ValueError(f"{path}: no 'mood' column")
    missing = [f for f in features if f not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    labels = []
    for number, row in enumerate(rows, start=2):
        label = row["mood"].strip().lower()
        if label not in classes:
            raise ValueError(f"{path}:{number}: mood {row['mood']!r} is not one of {classes}")
        labels.append(classes.index(label))
    years = [int(row["release_date"][:4]) if row.get("release_date", "")[:4].isdigit() else None for row in rows]
    return Labelled(np.array(labels), [row["artist"] for row in rows], [normalise_name(row["artist"]) for row in rows],
                    years, [{f: float(row[f]) for f in features} for row in rows])


@dataclass(frozen=True)
class SetResult:
    model: LinearModel  # fitted on all its rows
    l2: float
    rows: np.ndarray  # indices of the labelled tracks this set could use
    out_of_fold: np.ndarray  # class probabilities per such row (seed 0)
    scores: Scores  # mean over SEEDS of the grouped 5-fold figures (confusion: seed 0)


def fit_set(x: np.ndarray, y: np.ndarray, groups: list[str], rows: np.ndarray, classes: int,
            features: tuple[str, ...]) -> SetResult:
    """Choose L2 by grouped cross-validation (accuracy averaged over SEEDS), then fit on all rows."""
    best: tuple[float, float] | None = None
    for l2 in L2_GRID:
        accuracy = float(np.mean([(cross_validated(x, y, groups, classes, features, l2, seed=s).argmax(1) == y).mean()
                                  for s in SEEDS]))
        if best is None or accuracy > best[0] + 1e-9:
            best = (accuracy, l2)
    assert best is not None
    l2 = best[1]
    runs = [cross_validated(x, y, groups, classes, features, l2, seed=s) for s in SEEDS]
    per_seed = [score(y, p.argmax(1), classes) for p in runs]
    mean_scores = Scores(float(np.mean([s.accuracy for s in per_seed])), float(np.mean([s.macro_f1 for s in per_seed])),
                         [float(np.mean(r)) for r in zip(*(s.recall for s in per_seed))], per_seed[0].confusion)
    return SetResult(fit(x, y, classes, features, l2), l2, rows, runs[0], mean_scores)


def set_inputs(data: Labelled, kind: str, features: tuple[str, ...], priors) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, feature matrix) of the labelled tracks for one input kind: "track" (their own
    features), "artist" (their artist's means, where the artist is in the table) or "year"."""
    rows, x = [], []
    for i in range(len(data.labels)):
        values: dict[str, float] | None
        if kind == "track":
            values = data.features[i]
        elif kind == "artist":
            key = priors.artist_key(data.artists[i])
            values = priors.artist_values(key) if key else None
        elif kind == "year":
            values = priors.year_values(data.years[i])
        else:
            raise ValueError(f"unknown input kind {kind!r}")
        if values is not None and all(f in values for f in features):
            rows.append(i)
            x.append([values[f] for f in features])
    return np.array(rows, dtype=int), np.array(x, dtype=float).reshape(len(rows), len(features))
