"""Track: one playable file of the library, with its tags and its place in mood space."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Where a track's mood came from, most trusted first.
MOOD_SOURCES: tuple[str, ...] = ("tag", "sidecar", "folder", "artist", "genre", "year", "unknown")


@dataclass(frozen=True)
class Track:
    id: int
    path: Path
    title: str
    artist: str = ""
    album: str = ""
    album_artist: str = ""
    year: int | None = None  # from the tags
    genre: str = ""
    bpm: float | None = None
    duration: float = 0.0  # seconds
    track_number: int | None = None
    explicit: bool = False
    mood_tag: str = ""  # the raw mood tag, if any
    replaygain_track_db: float | None = None
    replaygain_album_db: float | None = None
    valence: float = 0.5  # 0..1
    energy: float = 0.5  # 0..1
    mood: str = "neutral"  # one of moods.MOODS or "neutral"
    mood_source: str = "unknown"  # one of MOOD_SOURCES
    era_year: int | None = None  # year tag, else the artist's typical year from the priors
    mood_confidence: float = 0.0  # 1 for tag/sidecar/folder; else the mood model's top probability

    @property
    def display(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title
