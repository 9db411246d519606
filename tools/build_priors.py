"""Build the music priors shipped in device/moodbox/data/priors/ from the Spotify tables in ../shared/data/music.

    .venv/bin/python tools/build_priors.py [--data ../shared/data/music] [--out device/moodbox/data/priors]

Writes only derived facts (means per artist / genre, a median year), never raw rows:
  artists.json.gz  normalised artist -> [mean valence, mean energy, typical year or 0, the other mean
                   features of moodmodel.FEATURES] (means from data_w_genres.csv; typical year = median
                   release year of the artist's songs in Spotify-2000.csv and data_moods.csv, where listed)
  genres.json.gz   normalised genre -> [mean valence, mean energy, other features] (data_by_genres.csv);
                   a word shared by 3 or more genres and no genre itself ("indie") gets their mean
  years.json.gz    release year -> [mean features] (data_by_year.csv)
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "device"))

from moodbox.music.moodmodel import FEATURES  # noqa: E402
from moodbox.music.priors import ARTISTS_FILE, GENRES_FILE, YEARS_FILE, normalise_genre, normalise_name  # noqa: E402

# valence and energy first (the old two-column readers take those), then the rest.
ORDER = ("valence", "energy") + tuple(f for f in FEATURES if f not in ("valence", "energy"))
Means = tuple[float, ...]  # in ORDER


def artist_means(path: Path) -> dict[str, Means]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * (len(ORDER) + 1))
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = normalise_name(row["artists"])
            if not name:
                continue
            weight = max(1.0, float(row.get("count") or 1))
            entry = sums[name]
            for i, feature in enumerate(ORDER):
                entry[i] += weight * float(row[feature])
            entry[-1] += weight
    return {name: tuple(v / entry[-1] for v in entry[:-1]) for name, entry in sums.items()}


def year_means(path: Path) -> dict[str, Means]:
    with path.open(encoding="utf-8") as handle:
        return {row["year"]: tuple(float(row[f]) for f in ORDER) for row in csv.DictReader(handle)}


def artist_years(spotify_2000: Path, moods: Path) -> dict[str, int]:
    years: dict[str, list[int]] = defaultdict(list)
    if spotify_2000.is_file():
        with spotify_2000.open(encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                if row.get("Year", "").isdigit():
                    years[normalise_name(row["Artist"])].append(int(row["Year"]))
    if moods.is_file():
        with moods.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                year = row.get("release_date", "")[:4]
                if year.isdigit():
                    years[normalise_name(row["artist"])].append(int(year))
    return {name: int(statistics.median(found)) for name, found in years.items() if name}


def _mean(points: list[Means]) -> Means:
    return tuple(statistics.fmean(column) for column in zip(*points))


def genre_means(path: Path) -> dict[str, Means]:
    found: dict[str, list[Means]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = normalise_genre(row["genres"])
            if name:
                found[name].append(tuple(float(row[f]) for f in ORDER))
    means = {name: _mean(points) for name, points in found.items()}
    # A word shared by 3+ genres that is no genre itself ("indie": "indie rock", "indie pop", ...) gets their mean.
    by_word: dict[str, list[Means]] = defaultdict(list)
    for name, point in means.items():
        for word in set(name.split()):
            if word != name and len(word) > 2:
                by_word[word].append(point)
    for word, points in by_word.items():
        if word not in means and len(points) >= 3:
            means[word] = _mean(points)
    return means


def _rounded(values: Means) -> list[float]:
    return [round(v, 3) if abs(v) < 10 else round(v, 1) for v in values]


def write_json_gz(path: Path, data: dict) -> None:
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    # mtime=0: the same data gives the same bytes, so rebuilding does not make a git change.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        handle.write(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "music")
    parser.add_argument("--out", type=Path, default=REPO / "device" / "moodbox" / "data" / "priors")
    args = parser.parse_args(argv)
    artists_csv, genres_csv = args.data / "data_w_genres.csv", args.data / "data_by_genres.csv"
    years_csv = args.data / "data_by_year.csv"
    for needed in (artists_csv, genres_csv, years_csv):
        if not needed.is_file():
            print(f"missing {needed}", file=sys.stderr)
            return 1
    means = artist_means(artists_csv)
    years = artist_years(args.data / "Spotify-2000.csv", args.data / "data_moods.csv")
    artists = {name: [*_rounded(m[:2]), years.get(name, 0), *_rounded(m[2:])] for name, m in sorted(means.items())}
    genres = {name: _rounded(m) for name, m in sorted(genre_means(genres_csv).items())}
    args.out.mkdir(parents=True, exist_ok=True)
    source = ("Spotify Dataset 1921-2020 (data_w_genres, data_by_genres, data_by_year), Spotify Top 2000s, "
              "data_moods: derived means")
    write_json_gz(args.out / ARTISTS_FILE, {"source": source, "fields": [*ORDER[:2], "year", *ORDER[2:]],
                                            "artists": artists})
    write_json_gz(args.out / GENRES_FILE, {"source": source, "fields": list(ORDER), "genres": genres})
    write_json_gz(args.out / YEARS_FILE, {"source": source, "fields": list(ORDER),
                                          "years": {y: _rounded(m) for y, m in sorted(year_means(years_csv).items())}})
    with_year = sum(1 for v in artists.values() if v[2])
    for name in (ARTISTS_FILE, GENRES_FILE, YEARS_FILE):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1024:.0f} KiB")
    print(f"{len(artists)} artists ({with_year} with a typical year), {len(genres)} genres")
    return 0


if __name__ == "__main__":
    sys.exit(main())
