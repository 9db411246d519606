"""The priors builder, on small CSVs written here (and on the real data when present)."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from moodbox.music.priors import PRIORS_DIR, Priors

REPO = Path(__file__).resolve().parents[1]


def write_inputs(folder: Path) -> None:
    (folder / "data_w_genres.csv").write_text(
        "genres,artists,acousticness,danceability,duration_ms,energy,instrumentalness,liveness,loudness,"
        "speechiness,tempo,valence,popularity,key,mode,count\n"
        "\"['rock']\",The Testers,0.1,0.5,200000,0.8,0,0.1,-5,0.05,120,0.6,50,5,1,3\n"
        "\"['rock']\",the testers,0.1,0.5,200000,0.4,0,0.1,-5,0.05,120,0.2,50,5,1,1\n"
        "[],Quiet Person,0.9,0.3,200000,0.1,0,0.1,-20,0.05,70,0.3,10,5,1,2\n")
    (folder / "data_by_genres.csv").write_text(
        "mode,genres,acousticness,danceability,duration_ms,energy,instrumentalness,liveness,loudness,speechiness,"
        "tempo,valence,popularity,key\n"
        "1,alternative rock,0.1,0.5,200000,0.7,0,0.1,-5,0.05,120,0.5,50,5\n"
        "1,indie rock,0.1,0.5,200000,0.6,0,0.1,-5,0.05,120,0.5,50,5\n"
        "1,indie pop,0.1,0.5,200000,0.5,0,0.1,-5,0.05,120,0.7,50,5\n"
        "1,indie folk,0.1,0.5,200000,0.4,0,0.1,-5,0.05,120,0.3,50,5\n")
    (folder / "data_by_year.csv").write_text(
        "mode,year,acousticness,danceability,duration_ms,energy,instrumentalness,liveness,loudness,speechiness,"
        "tempo,valence,popularity,key\n"
        "1,1999,0.2,0.6,200000,0.7,0.01,0.2,-7,0.05,120,0.6,50,5\n")
    (folder / "Spotify-2000.csv").write_text(
        "\ufeffTitle;Artist;Top Genre;Year;Beats Per Minute (BPM);Energy;Danceability;Loudness (dB);Liveness;"
        "Valence;Length (Duration);Acousticness;Speechiness;Popularity\n"
        "A;The Testers;rock;1980;120;50;50;-5;10;50;200;10;5;50\n"
        "B;The Testers;rock;1990;120;50;50;-5;10;50;200;10;5;50\n"
        "C;The Testers;rock;1984;120;50;50;-5;10;50;200;10;5;50\n")


def test_build_priors_writes_compact_derived_tables(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    out = tmp_path / "priors"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "build_priors.py"), "--data", str(tmp_path),
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    priors = Priors.load(out)
    valence, energy, year = priors.artist("The Testers")
    assert (valence, energy, year) == (pytest.approx(0.5), pytest.approx(0.7), 1984)  # count-weighted, median
    assert priors.artist("Quiet Person") == (0.3, 0.1, None)
    assert priors.genre("Alt Rock") == ((0.5, 0.7), "alternative rock")
    assert priors.genre("Indie")[0] == (pytest.approx(0.5), pytest.approx(0.5))  # mean of the indie genres
    key = priors.artist_key("The Testers")
    assert priors.artist_values(key)["tempo"] == pytest.approx(120) and priors.artist_values(key)["loudness"] == -5
    assert priors.year_values(1999)["energy"] == 0.7 and priors.year_values(2005)["energy"] == 0.7  # last year's
    assert priors.year_values(1950) is None
    with gzip.open(out / "artists.json.gz", "rt") as handle:
        assert "popularity" not in handle.read()  # facts only, no raw rows


def test_build_priors_says_what_is_missing(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / "tools" / "build_priors.py"), "--data", str(tmp_path),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "missing" in result.stderr and "data_w_genres.csv" in result.stderr


def test_shipped_priors_are_small() -> None:
    total = sum(p.stat().st_size for p in PRIORS_DIR.glob("*.json.gz"))
    assert 0 < total < 1024 * 1024
    with gzip.open(PRIORS_DIR / "genres.json.gz", "rt") as handle:
        assert set(json.load(handle)) == {"source", "fields", "genres"}
