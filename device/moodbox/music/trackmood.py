"""A track's place in mood space and where that guess came from.

Order of trust: mood tag > sidecar (moods.csv) > folder name > artist prior > genre prior > neutral.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from moodbox.music.moods import MOOD_POINTS, MOOD_WORDS, NEUTRAL_POINT, mood_for_point, mood_from_text
from moodbox.music.priors import Priors
from moodbox.music.sidecar import Sidecar


@dataclass(frozen=True)
class TrackMood:
    valence: float
    energy: float
    mood: str
    source: str  # tag | sidecar | folder | artist | genre | unknown
    era_year: int | None  # the year tag, else the artist's typical year


_FOLDER_WORDS = {re.sub(r"[^a-z]", "", word): mood for word, mood in MOOD_WORDS.items()}


def folder_mood(relative_path: str) -> str | None:
    """The mood named by the nearest folder ("happy/x.mp3", "Chill Out/y.ogg"); whole names only."""
    for part in reversed(PurePosixPath(relative_path).parts[:-1]):
        mood = _FOLDER_WORDS.get(re.sub(r"[^a-z]", "", part.lower()))
        if mood is not None:
            return mood
    return None


def track_mood(relative_path: str, mood_tag: str, artist: str, album_artist: str, genre: str,
               year: int | None, sidecar: Sidecar, priors: Priors) -> TrackMood:
    artist_prior = priors.artist(artist) or priors.artist(album_artist)
    era_year = year if year is not None else (artist_prior[2] if artist_prior else None)

    tagged = mood_from_text(mood_tag)
    if tagged is not None:
        return TrackMood(*MOOD_POINTS[tagged], tagged, "tag", era_year)
    entry = sidecar.lookup(relative_path)
    if entry is not None:
        return TrackMood(entry.valence, entry.energy, entry.mood, "sidecar", era_year)
    from_folder = folder_mood(relative_path)
    if from_folder is not None:
        return TrackMood(*MOOD_POINTS[from_folder], from_folder, "folder", era_year)
    if artist_prior is not None:
        valence, energy = artist_prior[0], artist_prior[1]
        return TrackMood(valence, energy, mood_for_point(valence, energy), "artist", era_year)
    genre_prior = priors.genre(genre)
    if genre_prior is not None:
        (valence, energy), _ = genre_prior
        return TrackMood(valence, energy, mood_for_point(valence, energy), "genre", era_year)
    return TrackMood(*NEUTRAL_POINT, "neutral", "unknown", era_year)
