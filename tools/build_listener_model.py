"""Build the listener table, device/moodbox/data/listener_va.json.gz: what listeners feel, per artist, genre and year.

    .venv/bin/python tools/build_listener_model.py [--data ../shared/data/music] [--out device/moodbox/data]

Fitted on the Deezer mood dataset's train split (listener valence and arousal per track, Delbouys et al.
2018), the ridge strength chosen on its validation split, numpy only. Inputs, for a track's artist:
  - the artist's mean Spotify features (the shipped priors, data_w_genres.csv),
  - the mean features of the artist's Spotify genres (data_by_genres.csv) and whether it has any,
  - one indicator per genre and per genre word held by the artists of at least MIN_TRACKS train tracks.
One ridge regression per axis predicts the listener rating (z-scored on the train split). The table
holds, for every artist of the priors, every genre (a genre as an artist with only that genre) and every
year (the year's means, no genre), the prediction as a percentile of the predictions for the train
tracks: 0.5 is a typical track, 0.9 one listeners are expected to rate above nine in ten. Also written:
the tense rule's thresholds (chosen on train) and the card listener_va.md with the validation figures.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "device"))
sys.path.insert(0, str(REPO / "tools"))

from build_priors import write_json_gz  # noqa: E402
from moodbox.music.listener import LISTENER_FILE, TENSE_MAX_VALENCE, TENSE_MIN_ENERGY, TENSE_QUADRANT  # noqa: E402
from moodbox.music.moodmodel import FEATURES  # noqa: E402
from moodbox.music.priors import Priors, normalise_genre, normalise_name  # noqa: E402

MIN_TRACKS = 20  # a genre or word is an input if the artists of this many train tracks hold it
L2_GRID = (0.3, 1.0, 3.0, 10.0)  # ridge strength per track, chosen on validation (r over matched tracks)
AXES = ("valence", "arousal")


@dataclass(frozen=True)
class Entity:
    """What the model reads about an artist (or a genre, or a year standing in for one)."""
    features: dict[str, float]
    genres: tuple[str, ...]


@dataclass(frozen=True)
class Ridge:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def fit_ridge(x: np.ndarray, y: np.ndarray, l2: float) -> Ridge:
    """Least squares on standardised inputs, penalty l2 * rows * |coef|^2 (intercept free)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    coef = np.linalg.solve(z.T @ z + l2 * len(y) * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return Ridge(mean, scale, coef, float(y.mean()))


def parse_genres(text: str) -> tuple[str, ...]:
    """data_w_genres' genre list ("['dance pop', 'pop']" or "dance pop, pop") -> normalised names."""
    text = text.strip().strip("[]")
    quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"", text)
    names = [a or b for a, b in quoted] if quoted else text.split(",")
    return tuple(sorted({normalise_genre(n) for n in names if n.strip()}))


def artist_genres(path: Path) -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = normalise_name(row["artists"])
            if name:
                found[name].update(parse_genres(row.get("genres", "")))
    return {name: tuple(sorted(g)) for name, g in found.items()}


class Design:
    """Entity -> input row: features, genre-mean features + 'no genre' flag, genre and word indicators."""

    def __init__(self, priors: Priors, genre_counts: Counter[str], word_counts: Counter[str]) -> None:
        self.priors = priors
        self.genres = sorted(g for g, n in genre_counts.items() if n >= MIN_TRACKS)
        self.words = sorted(w for w, n in word_counts.items() if n >= MIN_TRACKS)
        self._genre_at = {g: i for i, g in enumerate(self.genres)}
        self._word_at = {w: i for i, w in enumerate(self.words)}

    def row(self, e: Entity) -> np.ndarray:
        own = [e.features[f] for f in FEATURES]
        means = [self.priors.genre_features[g] for g in e.genres if g in self.priors.genre_features]
        genre_mean = [float(np.mean([m[f] for m in means])) for f in FEATURES] if means else [0.0] * len(FEATURES)
        flags = [float(not e.genres), float(not means)]
        indicators = np.zeros(len(self.genres) + len(self.words))
        for g in e.genres:
            if g in self._genre_at:
                indicators[self._genre_at[g]] = 1.0
            for w in g.split():
                if w in self._word_at:
                    indicators[len(self.genres) + self._word_at[w]] = 1.0
        return np.concatenate([own, genre_mean, flags, indicators])

    def matrix(self, entities: list[Entity]) -> np.ndarray:
        return np.array([self.row(e) for e in entities]).reshape(len(entities), -1)


def read_split(path: Path) -> tuple[list[str], np.ndarray]:
    """(artist names, listener ratings: rows x (valence, arousal))."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["artist_name"] for r in rows], np.array([[float(r[a]) for a in AXES] for r in rows])


def percentile(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Normal approximation of the percentile of values among the reference predictions."""
    z = (values - reference.mean()) / (reference.std() or 1.0)
    return np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@dataclass(frozen=True)
class Build:
    table: dict[str, object]
    figures: dict[str, object]


def build(data: Path, priors: Priors) -> Build:
    genres_of = artist_genres(data / "data_w_genres.csv")

    def artist_entity(key: str) -> Entity:
        return Entity(priors.artist_values(key), genres_of.get(key, ()))

    train_names, train_y = read_split(data / "deezer" / "train.csv")
    val_names, val_y = read_split(data / "deezer" / "validation.csv")
    # z-score the ratings on train; validation on the same scale
    y_mean, y_std = train_y.mean(axis=0), train_y.std(axis=0)
    train_z, val_z = (train_y - y_mean) / y_std, (val_y - y_mean) / y_std
    train_keys = [priors.artist_key(n) for n in train_names]
    val_keys = [priors.artist_key(n) for n in val_names]
    genre_counts: Counter[str] = Counter()
    word_counts: Counter[str] = Counter()
    for key in train_keys:
        if key is not None:
            gs = genres_of.get(key, ())
            genre_counts.update(gs)
            word_counts.update({w for g in gs for w in g.split()})
    design = Design(priors, genre_counts, word_counts)
    t_rows = np.array([k is not None for k in train_keys])
    v_rows = np.array([k is not None for k in val_keys])
    x_train = design.matrix([artist_entity(k) for k in train_keys if k is not None])
    x_val = design.matrix([artist_entity(k) for k in val_keys if k is not None])
    models: dict[str, Ridge] = {}
    figures: dict[str, object] = {"train tracks": len(train_names), "validation tracks": len(val_names),
                                  "train matched": int(t_rows.sum()), "validation matched": int(v_rows.sum()),
                                  "inputs": x_train.shape[1], "genres": len(design.genres), "words": len(design.words)}
    for axis, name in enumerate(AXES):
        scores = {}
        for l2 in L2_GRID:
            ridge = fit_ridge(x_train, train_z[t_rows, axis], l2)
            scores[l2] = pearson(ridge.predict(x_val), val_z[v_rows, axis])
        best = max(scores, key=lambda l2: scores[l2])
        models[name] = fit_ridge(x_train, train_z[t_rows, axis], best)
        figures[f"{name} l2"] = best
        figures[f"{name} r by l2 (validation, matched)"] = {f"{k:g}": round(v, 4) for k, v in scores.items()}
    # the reference: predictions for the train tracks, each axis
    reference = {n: models[n].predict(x_train) for n in AXES}

    def table_of(entities: dict[str, Entity]) -> dict[str, list[float]]:
        names = list(entities)
        x = design.matrix([entities[n] for n in names])
        cols = [percentile(models[a].predict(x), reference[a]) for a in AXES]
        return {n: [round(float(cols[0][i]), 3), round(float(cols[1][i]), 3)] for i, n in enumerate(names)}

    artists = table_of({k: artist_entity(k) for k in sorted(priors.artists) if k in priors.artist_features})
    genres = table_of({g: Entity(priors.genre_features[g], (g,)) for g in sorted(priors.genre_features)})
    years = table_of({str(y): Entity(priors.years[y], ()) for y in sorted(priors.years)})
    # Validation figures as the box would see them: unmatched tracks at the middle (0.5).
    for axis, name in enumerate(AXES):
        index_values = np.full(len(val_keys), 0.5)
        index_values[v_rows] = [artists[k][axis] for k in val_keys if k is not None]
        figures[f"{name} r, validation, all tracks"] = round(pearson(index_values, val_z[:, axis]), 4)
        figures[f"{name} r, validation, matched tracks"] = round(pearson(index_values[v_rows], val_z[v_rows, axis]), 4)
    figures["tense"] = tense_figures(artists, train_keys, train_z, val_keys, val_z)
    table = {"source": "Deezer mood detection dataset (train split; L2 chosen on validation) through the "
                       "Spotify Dataset 1921-2020 artist/genre/year means and artist genre lists: derived predictions",
             "fields": ["valence", "energy"], "artists": artists, "genres": genres, "years": years}
    return Build(table, figures)


def tense_figures(artists: dict[str, list[float]], train_keys: list[str | None], train_z: np.ndarray,
                  val_keys: list[str | None], val_z: np.ndarray) -> dict[str, object]:
    """How the tense rule (listener.is_tense) does: share of its tracks that listeners put in the quadrant."""
    from moodbox.music.listener import is_tense

    out: dict[str, object] = {}
    for split, keys, z in (("train", train_keys, train_z), ("validation", val_keys, val_z)):
        quadrant = (z[:, 0] < TENSE_QUADRANT[0]) & (z[:, 1] > TENSE_QUADRANT[1])
        flagged = np.array([k is not None and is_tense(*artists[k]) for k in keys])
        out[split] = {"tracks flagged": int(flagged.sum()), "base rate": round(float(quadrant.mean()), 3),
                      "precision": round(float(quadrant[flagged].mean()), 3) if flagged.any() else None,
                      "recall": round(float(flagged[quadrant].mean()), 3)}
    return out


def card(figures: dict[str, object]) -> str:
    lines = ["# Listener table (`listener_va.json.gz`)", "",
             "What it does: gives a track's valence and energy (0..1) as listeners feel them, from its artist",
             "(else its genre tag, else its release year): the expected listener rating, as a percentile of the",
             "expectations for the Deezer train tracks (0.5 a typical track, 0.9 expected above nine in ten).",
             "Used by trackmood.py for the artist, genre and year sources; also decides the tense mood",
             "(listener.is_tense).", "",
             "Data: Deezer mood detection dataset (Delbouys et al., ISMIR 2018; listener valence and arousal of",
             "Million Song Dataset tracks from listeners' tags), train split for fitting, validation split for",
             "the ridge strength; inputs from the Spotify Dataset 1921-2020 (data_w_genres.csv: artist means and",
             "genre lists; data_by_genres.csv; data_by_year.csv) as shipped in data/priors/. The train and",
             "validation splits share almost no artist (1 % of validation tracks), so the figures are for",
             "artists the fit never saw.", "",
             "Method: one ridge regression per axis (numpy) on the artist's 8 mean features, the mean features",
             f"of its genres, and indicators of genres and genre words held by >= {MIN_TRACKS} train tracks' artists;",
             "a genre is read as an artist with that one genre, a year as an artist with the year's means and",
             "no genre. Rebuild: `.venv/bin/python tools/build_priors.py && .venv/bin/python "
             "tools/build_listener_model.py`.", "",
             "Figures (Pearson r with the listeners' ratings; validation; unmatched tracks at 0.5):", ""]
    for key, value in figures.items():
        if key != "tense":
            lines.append(f"- {key}: {value}")
    lines += ["", f"Tense rule (listener.is_tense: valence <= {TENSE_MAX_VALENCE} and energy >= {TENSE_MIN_ENERGY}), "
              f"scored against the listeners' quadrant (valence z < {TENSE_QUADRANT[0]}, arousal z > "
              f"{TENSE_QUADRANT[1]}):", ""]
    for split, f in figures["tense"].items():  # type: ignore[union-attr]
        lines.append(f"- {split}: {f}")
    lines += ["", "Limits: an artist's (or genre's) average stands in for the song: per track r is about 0.33 on",
              "validation, against 0.47 for an audio + lyrics model of the song itself (Delbouys et al.). A track",
              "whose artist is in no table (about 19 % of the Deezer tracks) stays in the middle. The Deezer",
              "ratings come from tags of mostly 1990-2010 Western tracks."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "music")
    parser.add_argument("--out", type=Path, default=REPO / "device" / "moodbox" / "data")
    parser.add_argument("--priors", type=Path, help="priors folder (default: the shipped one)")
    args = parser.parse_args(argv)
    for needed in ("data_w_genres.csv", "deezer/train.csv", "deezer/validation.csv"):
        if not (args.data / needed).is_file():
            print(f"missing {args.data / needed}", file=sys.stderr)
            return 1
    priors = Priors.load(args.priors) if args.priors else Priors.load()
    result = build(args.data, priors)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_gz(args.out / LISTENER_FILE, result.table)
    (args.out / "listener_va.md").write_text(card(result.figures), encoding="utf-8")
    for key, value in result.figures.items():
        print(f"{key}: {value}")
    print(f"{args.out / LISTENER_FILE}: {(args.out / LISTENER_FILE).stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
