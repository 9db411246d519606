"""The learned track mood model: fitting, the shipped table, the builder and the check (small CSVs written
here, and the issue's targets on the real labelled tracks when ../shared is present)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moodbox.music import check_mapping
from moodbox.music.moodfit import fit, grouped_folds, score
from moodbox.music.moodmodel import FEATURES, MODEL_FILE, SETS, MoodModel, shipped_mood_model
from moodbox.music.moods import MOOD_POINTS
from moodbox.music.priors import Priors

REPO = Path(__file__).resolve().parents[1]
SHARED_MOODS = REPO.parent / "shared" / "data" / "music" / "data_moods.csv"
CLASSES = ("calm", "energetic", "happy", "sad")
# Class centres in the file's units: valence, energy, danceability, acousticness, tempo, loudness, instr., speech.
CENTRES = {"Calm": (0.3, 0.2, 0.4, 0.9, 80, -20, 0.8, 0.04), "Energetic": (0.5, 0.9, 0.6, 0.05, 140, -4, 0.1, 0.08),
           "Happy": (0.85, 0.65, 0.75, 0.2, 115, -6, 0.0, 0.06), "Sad": (0.2, 0.4, 0.45, 0.6, 95, -10, 0.1, 0.04)}


def write_labelled(path: Path, per_mood: int = 10, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lines = ["name,album,artist,release_date," + ",".join(FEATURES) + ",mood"]
    for mood, centre in CENTRES.items():
        for n in range(per_mood):
            values = [c + rng.normal(0, 0.02 if c < 2 else 1.0) for c in centre]
            year = "1999-05-01" if n % 2 else "1950-01-01"
            lines.append(f"Song {mood} {n},Album {n},{mood} Band {n},{year}," + ",".join(f"{v:.4f}" for v in values)
                         + f",{mood}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_fit_learns_separable_classes_and_folds_keep_artists_together() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(c, 0.1, (30, 2)) for c in ((0, 0), (3, 0), (0, 3))])
    y = np.repeat([0, 1, 2], 30)
    model = fit(x, y, 3, ("a", "b"))
    assert score(y, model.probabilities(x).argmax(1), 3).accuracy == 1.0
    assert np.allclose(model.probabilities(x).sum(axis=1), 1)
    groups = [f"artist {i % 17}" for i in range(90)]
    folds = grouped_folds(groups, k=5)
    for g in set(groups):
        assert len({folds[i] for i in range(90) if groups[i] == g}) == 1
    assert set(folds) == {0, 1, 2, 3, 4}


def test_score_counts_macro_f1_and_recall() -> None:
    s = score(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
    assert s.accuracy == 0.75 and s.recall == [0.5, 1.0] and s.confusion == [[1, 1], [0, 2]]
    assert s.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)


def test_shipped_table_loads_and_guesses_every_set() -> None:
    model = shipped_mood_model()
    assert model is not None and set(SETS) <= set(model.sets) and set(model.classes) <= set(MOOD_POINTS)
    loud = {"valence": 0.5, "energy": 0.95, "danceability": 0.6, "acousticness": 0.01, "tempo": 150.0,
            "loudness": -3.0, "instrumentalness": 0.0, "speechiness": 0.07}
    quiet = {"valence": 0.3, "energy": 0.1, "danceability": 0.3, "acousticness": 0.95, "tempo": 70.0,
             "loudness": -24.0, "instrumentalness": 0.9, "speechiness": 0.04}
    for name in ("track", "artist", "artist_ve"):
        assert model.guess(name, loud).mood == "energetic"
        assert model.guess(name, quiet).mood == "calm"
    # The year set learns which years this data's moods came from, not what loud means: a valid guess only.
    assert model.guess("year", loud).mood in model.classes
    guess = model.guess("track", loud)
    assert sum(guess.probabilities.values()) == pytest.approx(1, abs=1e-3)
    assert guess.confidence == max(guess.probabilities.values())
    assert model.guess("track", {"valence": 0.5}) is None  # a feature missing: no guess
    assert model.guess_means({"valence": 0.9, "energy": 0.7}).mood in MOOD_POINTS  # valence/energy only
    table = json.loads(MODEL_FILE.read_text())
    assert table["sets"]["track"]["cv"]["accuracy"] >= 0.8 and MODEL_FILE.stat().st_size < 64 * 1024


def test_a_broken_table_is_reported_and_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "mood_model.json"
    path.write_text('{"classes": ["calm", "joyful"], "sets": {}}')
    assert MoodModel.load(path) is None
    assert "joyful" in caplog.text and str(path) in caplog.text
    path.write_text("{not json")
    assert MoodModel.load(path) is None


def test_builder_writes_a_table_and_card_from_labelled_tracks(tmp_path: Path) -> None:
    write_labelled(tmp_path / "data_moods.csv")
    out = tmp_path / "mood_model.json"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "build_mood_model.py"), "--data", str(tmp_path),
                             "--out", str(out), "--sets", "track"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    model = MoodModel.load(out)
    assert model is not None and model.classes == CLASSES
    table = json.loads(out.read_text())
    assert table["sets"]["track"]["cv"]["accuracy"] > 0.9  # the classes are well apart
    card = out.with_suffix(".md").read_text()
    assert "| track |" in card and "grouped by artist" in card
    missing = subprocess.run([sys.executable, str(REPO / "tools" / "build_mood_model.py"), "--data",
                              str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "data_moods.csv" in missing.stderr


def test_check_reports_all_three_figures_through_the_real_scanner(tmp_path: Path) -> None:
    path = tmp_path / "moods.csv"
    write_labelled(path)
    priors = Priors(artists={f"happy band {n}": (0.9, 0.7, 1990) for n in range(10)},
                    years={1999: dict(zip(FEATURES, CENTRES["Sad"]))})
    figures = check_mapping.evaluate(path, priors, progress=False)
    assert figures.tracks == 40 and figures.artists == 40
    assert figures.track is not None and figures.track[0] == 40 and figures.track[1].accuracy > 0.9
    assert figures.artist is None  # 10 tracks with a known artist: too few to cross-validate
    e2e = figures.library
    assert e2e is not None and e2e.tracks == 40
    # The 10 happy bands are known by name; of the rest, the 1999 tracks by their year, the 1950 ones not at all.
    assert (e2e.sources["artist"], e2e.sources["year"], e2e.sources["unknown"]) == (10, 15, 15)
    assert e2e.correct_by_source["unknown"] == 0 and e2e.correct == sum(e2e.correct_by_source.values())


def test_check_says_why_a_file_cannot_be_used(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert check_mapping.main([str(tmp_path / "nope.csv")]) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("name,artist,valence\nA,B,0.5\n")
    assert check_mapping.main([str(bad), "--no-library"]) == 1
    assert "mood" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED_MOODS.is_file(), reason="../shared/data/music not present")
def test_issue_targets_hold_on_the_labelled_tracks() -> None:
    """Issue 20's targets: (a) >= 0.80 and every recall >= 0.5, (b) >= 0.75, (c) >= 0.55, almost no unknowns."""
    figures = check_mapping.evaluate(SHARED_MOODS, Priors.load(), progress=False)
    assert figures.tracks == 686
    assert figures.track is not None and figures.track[1].accuracy >= 0.80 and min(figures.track[1].recall) >= 0.5
    assert figures.artist is not None and figures.artist[1].accuracy >= 0.75
    e2e = figures.library
    assert e2e is not None and e2e.accuracy >= 0.55 and e2e.sources.get("unknown", 0) <= 0.05 * e2e.tracks
