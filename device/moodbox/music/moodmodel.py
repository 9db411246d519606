"""The learned track mood model: audio features (a track's own, its artist's, its genre's or its year's
means) -> mood probabilities -> the box's mood and a point in valence/energy space.

The table, data/mood_model.json, is built by `python tools/build_mood_model.py` (card:
data/mood_model.md). One linear model per input kind ("set"), since each kind of
input is a different view of a track; all predict the same four labelled moods.
"""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodbox.music.moodfit import LinearModel
from moodbox.music.moods import MOOD_POINTS

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).resolve().parents[1] / "data" / "mood_model.json"
# The features the model can use, in Spotify's units (0..1, tempo in BPM, loudness in dB).
FEATURES: tuple[str, ...] = ("valence", "energy", "danceability", "acousticness", "tempo", "loudness",
                             "instrumentalness", "speechiness")
AUDIO_FEATURES: tuple[str, ...] = ("loudness", "tempo", "energy")
# Set name -> (what it reads, its features). "artist" also reads genre means (no labelled genres here).
SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "track": ("track", FEATURES),
    "artist": ("artist", FEATURES),
    "artist_ve": ("artist", ("valence", "energy")),
    "year": ("year", FEATURES),
    # What the scanner's audio estimate gives (music/audiofeatures.py), fitted on the tracks' own values.
    "audio": ("track", AUDIO_FEATURES),
}


@dataclass(frozen=True)
class MoodGuess:
    mood: str
    valence: float
    energy: float
    confidence: float  # the top probability, 0..1
    probabilities: dict[str, float]


@dataclass(frozen=True)
class MoodModel:
    classes: tuple[str, ...]
    sets: dict[str, LinearModel]

    def guess_means(self, values: Mapping[str, float]) -> MoodGuess | None:
        """Mean features of an artist or genre: the full set where all are there, else valence/energy."""
        return self.guess("artist", values) or self.guess("artist_ve", values)

    def guess(self, set_name: str, values: Mapping[str, float]) -> MoodGuess | None:
        """The mood for one input, or None if this set is not in the table or a feature it needs is missing."""
        model = self.sets.get(set_name)
        if model is None or any(values.get(f) is None for f in model.features):
            return None
        x = np.array([float(values[f]) for f in model.features])
        return self.from_probabilities(model.probabilities(x)[0])

    def from_probabilities(self, p: np.ndarray) -> MoodGuess:
        """Mood = the likeliest class; the point = the classes' prototypes weighted by probability."""
        valence = float(sum(p[i] * MOOD_POINTS[c][0] for i, c in enumerate(self.classes)))
        energy = float(sum(p[i] * MOOD_POINTS[c][1] for i, c in enumerate(self.classes)))
        top = int(np.argmax(p))
        return MoodGuess(self.classes[top], round(valence, 4), round(energy, 4), round(float(p[top]), 4),
                         {c: round(float(p[i]), 4) for i, c in enumerate(self.classes)})

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> MoodModel:
        classes = tuple(data["classes"])  # type: ignore[arg-type]
        unknown = [c for c in classes if c not in MOOD_POINTS]
        if unknown:
            raise ValueError(f"classes not among the box's moods: {unknown}")
        sets = {}
        for name, entry in data["sets"].items():  # type: ignore[union-attr]
            coef = np.array(entry["coef"], dtype=float)
            features = tuple(entry["features"])
            if coef.shape != (len(features), len(classes)):
                raise ValueError(f"set {name}: coef shape {coef.shape}, expected {(len(features), len(classes))}")
            sets[name] = LinearModel(features, np.array(entry["mean"], dtype=float),
                                     np.array(entry["scale"], dtype=float), coef,
                                     np.array(entry["intercept"], dtype=float))
        return cls(classes, sets)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> MoodModel | None:
        """The table, or None (and a warning) if it is missing or broken: moods then come from the old rule."""
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("mood model %s not usable (%s); estimated moods use the valence/energy rule", path, exc)
            return None


def to_dict(model: MoodModel, extra: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, object]:
    sets = {}
    for name, m in model.sets.items():
        sets[name] = {"features": list(m.features), "mean": _rounded(m.mean), "scale": _rounded(m.scale),
                      "coef": [_rounded(row) for row in m.coef], "intercept": _rounded(m.intercept),
                      **(extra or {}).get(name, {})}
    return {"classes": list(model.classes), "sets": sets}


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


@functools.cache
def shipped_mood_model() -> MoodModel | None:
    return MoodModel.load()
