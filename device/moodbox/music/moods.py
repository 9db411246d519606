"""Track moods: the labels, their points in valence/energy space (0..1 each) and the mapping between them.

A point is mapped to the label of the nearest prototype; energy counts double because it is the
more reliable of the two audio features (see `python -m moodbox.music.check_mapping`).
"""
from __future__ import annotations

import re

from moodbox.readings import EMOTION_VALENCE_AROUSAL

# Label -> prototype (valence, energy), on the listener scale of music/listener.py (0.5 a typical track).
# "neutral" is what unknown tracks get. Happy and sad lie equally far from the middle, so a neutral room
# (targets.py: "easy-going", the middle) is not drawn to either side in a library of mood tags.
MOOD_POINTS: dict[str, tuple[float, float]] = {
    "happy": (0.75, 0.65),
    "energetic": (0.50, 0.90),
    "tense": (0.15, 0.90),
    "sad": (0.25, 0.35),
    "calm": (0.35, 0.15),
}
NEUTRAL_POINT: tuple[float, float] = (0.5, 0.5)
MOODS: tuple[str, ...] = tuple(MOOD_POINTS)
ENERGY_WEIGHT = 2.0

# Words found in mood tags, sidecars and folder names -> label.
MOOD_WORDS: dict[str, str] = {
    "happy": "happy", "joy": "happy", "joyful": "happy", "cheerful": "happy", "upbeat": "happy",
    "uplifting": "happy", "feelgood": "happy", "feel good": "happy", "fun": "happy", "sunny": "happy",
    "positive": "happy", "party": "energetic", "energetic": "energetic", "energy": "energetic",
    "excited": "energetic", "exciting": "energetic", "workout": "energetic", "dance": "energetic",
    "powerful": "energetic", "pump": "energetic", "calm": "calm", "relaxed": "calm", "relaxing": "calm",
    "relax": "calm", "chill": "calm", "chillout": "calm", "peaceful": "calm", "soothing": "calm",
    "mellow": "calm", "ambient": "calm", "sleep": "calm", "quiet": "calm", "serene": "calm",
    "sad": "sad", "melancholy": "sad", "melancholic": "sad", "gloomy": "sad", "blue": "sad",
    "sorrow": "sad", "depressed": "sad", "somber": "sad", "sombre": "sad", "heartbreak": "sad",
    "tense": "tense", "angry": "tense", "anger": "tense", "aggressive": "tense", "dark": "tense",
    "intense": "tense", "anxious": "tense", "furious": "tense", "tension": "tense",
}


def mood_for_point(valence: float, energy: float) -> str:
    """The label of the nearest prototype (energy weighted double)."""
    return min(MOOD_POINTS, key=lambda m: (MOOD_POINTS[m][0] - valence) ** 2
               + ENERGY_WEIGHT * (MOOD_POINTS[m][1] - energy) ** 2)


def mood_from_text(text: str | None) -> str | None:
    """A label from free text ("Happy", "chill-out", "Melancholic; Dark"), or None if no word is known."""
    if not text:
        return None
    lowered = text.strip().lower()
    if lowered in MOOD_WORDS:
        return MOOD_WORDS[lowered]
    for word in re.split(r"[^a-z]+", lowered):
        if word in MOOD_WORDS:
            return MOOD_WORDS[word]
    return None


def emotion_point(emotion: str) -> tuple[float, float]:
    """A face emotion's place on Russell's circumplex, mapped from -1..1 to the 0..1 track space."""
    valence, arousal = EMOTION_VALENCE_AROUSAL[emotion]
    return to_track_space(valence, arousal)


def to_track_space(valence: float, arousal: float) -> tuple[float, float]:
    """-1..1 circumplex coordinates -> 0..1 (valence, energy), clipped."""
    return (min(1.0, max(0.0, (valence + 1) / 2)), min(1.0, max(0.0, (arousal + 1) / 2)))
