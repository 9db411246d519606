"""Track mood: the label mapping, the order of trust of mood sources, the sidecar, the priors."""
from __future__ import annotations

from pathlib import Path

import pytest

from moodbox.music.moods import MOOD_POINTS, emotion_point, mood_for_point, mood_from_text
from moodbox.music.priors import Priors, normalise_genre, normalise_name
from moodbox.music.sidecar import Sidecar, parse_sidecar
from moodbox.music.trackmood import folder_mood, track_mood
from moodbox.readings import EMOTION_VALENCE_AROUSAL

PRIORS = Priors(artists={"testers": (0.9, 0.8, 1975)}, genres={"alternative rock": (0.2, 0.9),
                                                                    "jazz": (0.5, 0.3)},
                years={2001: {"valence": 0.3, "energy": 0.2, "danceability": 0.3, "acousticness": 0.9,
                              "tempo": 80.0, "loudness": -20.0, "instrumentalness": 0.8, "speechiness": 0.04}})


def test_prototypes_map_to_themselves_and_corners_make_sense() -> None:
    for mood, point in MOOD_POINTS.items():
        assert mood_for_point(*point) == mood
    assert mood_for_point(0.95, 0.6) == "happy"
    assert mood_for_point(0.05, 0.05) == "calm"
    assert mood_for_point(0.05, 0.95) == "tense"
    assert mood_for_point(0.2, 0.45) == "sad"


def test_emotions_land_on_the_circumplex_in_track_space() -> None:
    for emotion, (valence, arousal) in EMOTION_VALENCE_AROUSAL.items():
        assert emotion_point(emotion) == pytest.approx(((valence + 1) / 2, (arousal + 1) / 2))
    assert emotion_point("neutral") == (0.5, 0.5)
    assert mood_for_point(*emotion_point("happy")) == "happy"
    assert mood_for_point(*emotion_point("angry")) == "tense"


def test_mood_words() -> None:
    assert mood_from_text("Melancholic") == "sad"
    assert mood_from_text("chill; mellow") == "calm"
    assert mood_from_text("Aggressive") == "tense"
    assert mood_from_text("purple") is None and mood_from_text("") is None


def test_order_of_trust(tmp_path: Path) -> None:
    sidecar = Sidecar(parse_sidecar("path,mood\nsad/*,energetic\n"))
    args = dict(artist="The Testers", album_artist="", genre="Alt Rock", year=None, sidecar=sidecar, priors=PRIORS)
    assert track_mood("sad/a.mp3", mood_tag="Calm", **args).source == "tag"
    assert track_mood("sad/a.mp3", mood_tag="", **args).source == "sidecar"
    assert track_mood("sad/a.mp3", mood_tag="", **args).mood == "energetic"
    folder = track_mood("x/sad/a.mp3", mood_tag="", **args)
    assert (folder.source, folder.mood) == ("folder", "sad")
    artist = track_mood("x/a.mp3", mood_tag="", **args)
    assert (artist.source, artist.mood) == ("artist", "happy")  # the learned model on the artist's means
    assert mood_for_point(artist.valence, artist.energy) == "happy" and 0.4 < artist.confidence < 1
    assert artist.era_year == 1975  # no year tag: the artist's typical year
    genre = track_mood("x/a.mp3", "", "Nobody", "", "Alt Rock", 2001, sidecar, PRIORS)
    assert (genre.source, genre.mood, genre.era_year) == ("genre", "energetic", 2001)  # the model's mood (not tense)
    year = track_mood("x/a.mp3", "", "Nobody", "", "Polka-Step", 2001, sidecar, PRIORS)
    assert year.source == "year" and year.mood in MOOD_POINTS and 0 < year.confidence < 1
    unknown = track_mood("x/a.mp3", "", "Nobody", "", "Polka-Step", None, sidecar, PRIORS)
    assert (unknown.source, unknown.mood, unknown.valence, unknown.energy) == ("unknown", "neutral", 0.5, 0.5)
    assert unknown.confidence == 0 and track_mood("sad/a.mp3", "Calm", **{**args}).confidence == 1


def test_unknown_mood_tag_falls_through_to_the_next_source() -> None:
    result = track_mood("a.mp3", "Purple", "The Testers", "", "", None, Sidecar(), PRIORS)
    assert result.source == "artist"


def test_folder_names_match_whole_names_only() -> None:
    assert folder_mood("Chill Out/x.ogg") == "calm"
    assert folder_mood("happy/Album/x.ogg") == "happy"
    assert folder_mood("Blue Oyster Cult/x.ogg") is None
    assert folder_mood("happy.mp3") is None  # the file name is not a folder


def test_sidecar_exact_beats_glob_and_bad_rows_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    text = ("# owner's corrections\n"
            "path,mood,valence,energy\n"
            "Jazz/*,calm,,\n"
            "Jazz/Loud One.mp3,,0.9,0.95\n"
            "x.mp3,furious-ish,,\n"
            "y.mp3,,2,0.5\n"
            "z.mp3,,,\n"
            "w.mp3,,abc,0.1\n")
    sidecar = Sidecar(parse_sidecar(text, "moods.csv"))
    assert len(sidecar) == 3
    loud = sidecar.lookup("Jazz/Loud One.mp3")
    assert loud is not None and (loud.valence, loud.energy, loud.mood) == (0.9, 0.95, "energetic")
    assert sidecar.lookup("jazz/other.mp3").mood == "calm"  # case-insensitive
    assert sidecar.lookup("Rock/a.mp3") is None
    for line in (6, 7, 8):
        assert f"moods.csv:{line}:" in caplog.text
    assert "moods.csv:5:" not in caplog.text  # 'furious-ish' holds a known word: accepted as tense


def test_sidecar_without_header_is_ignored(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    (tmp_path / "moods.csv").write_text("a.mp3,happy\n")
    assert len(Sidecar.load(tmp_path)) == 0
    assert "header" in caplog.text


def test_fuzzy_genre_matching_on_the_shipped_table() -> None:
    priors = Priors.load()
    assert len(priors.genres) > 1000 and len(priors.artists) > 10000
    assert priors.genre("Alt Rock")[1] == "alternative rock"
    assert priors.genre("alternative-rock")[1] == "alternative rock"
    assert priors.genre("Hip-Hop")[1] == "hip hop"
    assert priors.genre("R&B")[1] == "r and b"
    assert priors.genre("Rock & Roll")[1] == "rock and roll"
    assert priors.genre("Classical; Pop")[1] == "classical"
    assert priors.genre("Progressive Death Metal")[1].endswith("metal")
    assert priors.genre("zzqx") is None
    calm_v, calm_e = priors.genre("Classical")[0]
    punk_v, punk_e = priors.genre("Punk")[0]
    assert calm_e < 0.3 < 0.7 < punk_e


def test_artist_prior_lookup_is_forgiving() -> None:
    priors = Priors.load()
    beatles = priors.artist("The Beatles")
    assert beatles is not None and beatles[2] is not None and 1960 <= beatles[2] <= 1975
    assert priors.artist("beatles") == beatles
    assert priors.artist("Beyoncé feat. Jay-Z") == priors.artist("Beyonce")
    assert priors.artist("No Such Band 12345") is None


def test_name_normalisation() -> None:
    assert normalise_name("The Beatles") == "beatles"
    assert normalise_name("Beyoncé & JAY-Z") == "beyonce and jay z"
    assert normalise_genre("Alt. Rock") == "alternative rock"


def test_missing_priors_give_empty_tables(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    priors = Priors.load(tmp_path)
    assert priors.artists == {} and priors.genre("rock") is None
    assert "priors not usable" in caplog.text
