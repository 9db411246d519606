"""Which music mood to look for, and which public tags describe it and the listeners' era.

Only these tags ever leave the box when the online fallback is on: never faces, ages or emotions.
"""
from __future__ import annotations

import datetime
from typing import Sequence

from moodbox.readings import EMOTIONS

# Music mood wanted for a room emotion, per recommend policy:
# match = mirror the room, lift = nudge towards pleasant, calm = always calm.
TARGET_MOOD: dict[str, dict[str, str]] = {
    "match": {"angry": "tense", "disgust": "tense", "fear": "tense", "happy": "happy",
              "neutral": "calm", "sad": "sad", "surprise": "energetic"},
    "lift": {"angry": "calm", "disgust": "calm", "fear": "calm", "happy": "happy",
             "neutral": "happy", "sad": "calm", "surprise": "energetic"},
    "calm": {e: "calm" for e in EMOTIONS},
}

# Music mood -> Radio Browser station tags, most typical first.
STATION_TAGS: dict[str, tuple[str, ...]] = {
    "calm": ("chillout", "ambient", "lounge"),
    "happy": ("pop", "dance", "hits"),
    "energetic": ("dance", "rock", "edm"),
    "tense": ("rock", "metal", "hard rock"),
    "sad": ("blues", "acoustic", "soul"),
    "neutral": ("pop", "easy listening", "chillout"),
}

# Music mood -> Jamendo track tags (its mood and genre vocabulary).
JAMENDO_TAGS: dict[str, tuple[str, ...]] = {
    "calm": ("relaxing", "calm", "chillout", "ambient"),
    "happy": ("happy", "upbeat", "pop"),
    "energetic": ("energetic", "dance", "electronic"),
    "tense": ("dark", "rock", "metal"),
    "sad": ("sad", "melancholic", "piano"),
    "neutral": ("pop", "easylistening"),
}

# People connect most with the music of their youth: the "reminiscence bump", age 10-25.
ERA_START_AGE = 10
ERA_END_AGE = 25
MAX_ERAS = 2


def target_mood(emotion: str, policy: str = "match") -> str:
    """The music mood to look for ("calm", "happy", ...) for a room emotion and a policy."""
    table = TARGET_MOOD.get(policy, TARGET_MOOD["match"])
    return table.get(emotion, "neutral")


def decade_tag(year: int) -> str:
    """1987 -> "80s", 2003 -> "2000s", before 1950 -> "oldies" (the tags stations use)."""
    if year < 1950:
        return "oldies"
    decade = year // 10 * 10
    return f"{decade % 100:02d}s" if decade < 2000 else f"{decade}s"


def era_tag(age: float, this_year: int | None = None) -> str | None:
    """The decade tag of the middle of someone's years 10-25, or None while that lies in the future."""
    year = this_year if this_year is not None else datetime.date.today().year
    if age < ERA_START_AGE:
        return None
    middle = year - int(age) + (ERA_START_AGE + ERA_END_AGE) // 2
    if middle >= year:
        return None
    return decade_tag(middle)


def era_tags(ages: Sequence[float], this_year: int | None = None) -> list[str]:
    """Distinct era tags for the listeners, the most common first, at most MAX_ERAS."""
    counts: dict[str, int] = {}
    for age in ages:
        tag = era_tag(age, this_year)
        if tag is not None:
            counts[tag] = counts.get(tag, 0) + 1
    ordered = sorted(counts, key=lambda t: -counts[t])  # sorted() is stable: ties keep the order of ages
    return ordered[:MAX_ERAS]
