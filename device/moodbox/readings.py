"""What perception produces and what the music side consumes: face readings and the room's mood."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Canonical order everywhere in moodbox (models may use another order; the runtime maps it).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# Russell's circumplex: (valence, arousal), each -1..1, for each emotion.
# Placement after Russell (1980) and Posner et al. (2005); neutral sits at the origin.
EMOTION_VALENCE_AROUSAL: dict[str, tuple[float, float]] = {
    "angry": (-0.6, 0.7),
    "disgust": (-0.7, 0.3),
    "fear": (-0.6, 0.6),
    "happy": (0.8, 0.5),
    "neutral": (0.0, 0.0),
    "sad": (-0.7, -0.4),
    "surprise": (0.4, 0.8),
}

AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("child", 0, 12),
    ("teen", 13, 19),
    ("young_adult", 20, 39),
    ("adult", 40, 59),
    ("senior", 60, 200),
)


def age_group(years: float) -> str:
    """The age group name for an age in years (child 0-12, teen 13-19, young_adult 20-39, adult 40-59, senior 60+)."""
    whole = int(years)
    for name, low, high in AGE_GROUPS:
        if low <= whole <= high:
            return name
    return "senior" if whole > 0 else "child"


def valence_arousal(probs: dict[str, float]) -> tuple[float, float]:
    """Probability-weighted point on the circumplex."""
    total = sum(probs.get(e, 0.0) for e in EMOTIONS) or 1.0
    valence = sum(probs.get(e, 0.0) * EMOTION_VALENCE_AROUSAL[e][0] for e in EMOTIONS) / total
    arousal = sum(probs.get(e, 0.0) * EMOTION_VALENCE_AROUSAL[e][1] for e in EMOTIONS) / total
    return valence, arousal


@dataclass(frozen=True)
class FaceReading:
    """One face in one frame."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float  # detector score 0..1
    emotion: dict[str, float]  # all of EMOTIONS -> probability, summing to 1
    age_years: float

    @property
    def emotion_label(self) -> str:
        return max(self.emotion, key=self.emotion.__getitem__)

    @property
    def age_group(self) -> str:
        return age_group(self.age_years)


@dataclass(frozen=True)
class MoodState:
    """The room's mood as the daemon believes it now."""

    emotion: str  # one of EMOTIONS
    confidence: float  # 0..1
    probs: dict[str, float]  # all of EMOTIONS
    valence: float  # -1..1
    arousal: float  # -1..1
    faces: int
    ages: tuple[float, ...] = ()
    source: Literal["camera", "override", "default"] = "default"
    timestamp: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def age_groups(self) -> tuple[str, ...]:
        return tuple(age_group(a) for a in self.ages)

    @classmethod
    def from_emotion(cls, emotion: str, source: Literal["camera", "override", "default"] = "override",
                     ages: tuple[float, ...] = (), timestamp: float = 0.0) -> MoodState:
        """A certain mood of one emotion (overrides, the CLI's --emotion, the neutral start)."""
        if emotion not in EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")
        probs = {e: (1.0 if e == emotion else 0.0) for e in EMOTIONS}
        valence, arousal = EMOTION_VALENCE_AROUSAL[emotion]
        return cls(emotion, 1.0, probs, valence, arousal, len(ages), ages, source, timestamp)
