"""A track's place in mood space and where that guess came from.

Order of trust: mood tag > sidecar (moods.csv) > folder name > artist prior > genre prior > audio estimate
> year prior > neutral. The priors give mean audio features; the learned mood model (moodmodel) turns them
into a mood and a confidence; the point (valence, energy) comes from the listener table (music/listener.py:
what listeners feel, learned from their ratings) where it knows the artist, genre or year, else from the
model. A point in the listener table's tense corner (listener.is_tense) makes the mood tense.
Without the model's table the old valence/energy rule is used.
The audio estimate (music/audiofeatures.py, measured by the scanner's audio pass only for tracks that
would otherwise get the year prior or nothing) goes through the model's "audio" set; its confidence is
scaled by AUDIO_TRUST, since our measurement is not Spotify's and no labelled audio checks it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from moodbox.music.listener import ListenerTable, Point, is_tense, shipped_listener_table
from moodbox.music.moodmodel import MoodGuess, MoodModel, shipped_mood_model
from moodbox.music.moods import MOOD_POINTS, MOOD_WORDS, NEUTRAL_POINT, mood_for_point, mood_from_text
from moodbox.music.priors import Priors
from moodbox.music.sidecar import Sidecar


@dataclass(frozen=True)
class TrackMood:
    valence: float
    energy: float
    mood: str
    source: str  # tag | sidecar | folder | artist | genre | audio | year | unknown
    era_year: int | None  # the year tag, else the artist's typical year
    confidence: float = 1.0  # 1 for what the owner said (tag, sidecar, folder); the model's top probability else


# The model's confidence in an audio estimate is multiplied by this: the "audio" set is fitted on Spotify's
# loudness/tempo/energy, the box measures its own stand-ins for them on a 30 s excerpt (hand-set energy).
AUDIO_TRUST = 0.5
# Sources an audio estimate replaces (the audio pass analyses only tracks with one of these).
AUDIO_REPLACES = ("year", "unknown")
# Confidence of a tense mood from the listener table: about the share of such tracks that listeners put in
# their tense quadrant (data/listener_va.md: 0.41 on train, 0.46 on validation).
TENSE_CONFIDENCE = 0.4

_FOLDER_WORDS = {re.sub(r"[^a-z]", "", word): mood for word, mood in MOOD_WORDS.items()}


def folder_mood(relative_path: str) -> str | None:
    """The mood named by the nearest folder ("happy/x.mp3", "Chill Out/y.ogg"); whole names only."""
    for part in reversed(PurePosixPath(relative_path).parts[:-1]):
        mood = _FOLDER_WORDS.get(re.sub(r"[^a-z]", "", part.lower()))
        if mood is not None:
            return mood
    return None


_DEFAULT_MODEL = object()  # track_mood's default: the shipped table


def track_mood(relative_path: str, mood_tag: str, artist: str, album_artist: str, genre: str,
               year: int | None, sidecar: Sidecar, priors: Priors,
               model: MoodModel | None | object = _DEFAULT_MODEL,
               audio: Mapping[str, float] | None = None, listener: ListenerTable | None = None) -> TrackMood:
    """The track's mood from the first source that has one (see the module's order of trust).
    audio: the audio estimate's model values (AudioFeatures.model_values()), if the audio pass measured it.
    listener: the listener table (default: the shipped one)."""
    mood_model = shipped_mood_model() if model is _DEFAULT_MODEL else model
    assert mood_model is None or isinstance(mood_model, MoodModel)
    table = listener if listener is not None else shipped_listener_table()
    artist_key = priors.artist_key(artist, album_artist)
    artist_year = priors.artists[artist_key][2] or None if artist_key else None
    era_year = year if year is not None else artist_year

    tagged = mood_from_text(mood_tag)
    if tagged is not None:
        return TrackMood(*MOOD_POINTS[tagged], tagged, "tag", era_year)
    entry = sidecar.lookup(relative_path)
    if entry is not None:
        return TrackMood(entry.valence, entry.energy, entry.mood, "sidecar", era_year)
    from_folder = folder_mood(relative_path)
    if from_folder is not None:
        return TrackMood(*MOOD_POINTS[from_folder], from_folder, "folder", era_year)
    if artist_key is not None:
        return _estimate(priors.artist_values(artist_key), "artist", era_year, mood_model,
                         table.artists.get(artist_key))
    genre_values = priors.genre_values(genre)
    if genre_values is not None:
        return _estimate(genre_values[0], "genre", era_year, mood_model, table.genres.get(genre_values[1]))
    if audio is not None and mood_model is not None:
        guess = mood_model.guess("audio", audio)
        if guess is not None:
            return TrackMood(guess.valence, guess.energy, guess.mood, "audio", era_year,
                             round(guess.confidence * AUDIO_TRUST, 4))
    year_values = priors.year_values(year)
    if year_values is not None and mood_model is not None:
        guess = mood_model.guess("year", year_values)
        if guess is not None:
            return _from_guess(guess, "year", era_year, table.year(year))
    return TrackMood(*NEUTRAL_POINT, "neutral", "unknown", era_year, 0.0)


def _estimate(values: dict[str, float], source: str, era_year: int | None, model: MoodModel | None,
              felt: Point | None) -> TrackMood:
    """Mean features (of an artist or a genre) -> a mood, by the model where it can, else by the rule;
    felt: the listener table's point for it, if any."""
    guess = model.guess_means(values) if model is not None else None
    if guess is not None:
        return _from_guess(guess, source, era_year, felt)
    valence, energy = felt or (values["valence"], values["energy"])
    mood = "tense" if felt is not None and is_tense(*felt) else mood_for_point(valence, energy)
    return TrackMood(valence, energy, mood, source, era_year, 0.5)


def _from_guess(guess: MoodGuess, source: str, era_year: int | None, felt: Point | None = None) -> TrackMood:
    """The model's mood and confidence; the listener table's point where there is one (tense in its corner)."""
    if felt is None:
        return TrackMood(guess.valence, guess.energy, guess.mood, source, era_year, guess.confidence)
    if is_tense(*felt):
        return TrackMood(*felt, "tense", source, era_year, TENSE_CONFIDENCE)
    return TrackMood(*felt, guess.mood, source, era_year, guess.confidence)
