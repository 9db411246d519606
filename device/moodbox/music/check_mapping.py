"""Check the track mood model against labelled tracks (data_moods.csv: Happy, Sad, Energetic, Calm).

    .venv/bin/python -m moodbox.music.check_mapping [../shared/data/music/data_moods.csv]

Prints, all cross-validated in 5 folds grouped by artist (never the same artist in train and test):
  (a) the model on each track's own audio features: accuracy, macro-F1, recall per mood, confusion;
  (b) the model on the artist's mean features from the shipped priors (tracks whose artist is there);
  (c) end to end: a library of one tiny audio file per track, tagged only with title, artist, album
      and year, scanned by the real scanner with a model fitted without the fold's artists;
      accuracy, where each mood came from and how many stay unknown.
The old valence/energy rule is shown beside (a). Our fifth mood, tense, has no label in the file.
Then, on listeners' own ratings (the Deezer validation split; music/check_listeners.py):
  (d) coverage and r of the index's valence/energy with listener valence/arousal over all tracks,
  (e) the queue check per face emotion x policy, (f) the issue's targets.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodbox.music.check_listeners import DEFAULT_DEEZER, evaluate_listeners, print_listener_figures
from moodbox.music.index import LibraryIndex
from moodbox.music.moodfit import Labelled, Scores, fit, fit_set, grouped_folds, labelled_tracks, score, set_inputs
from moodbox.music.moodmodel import FEATURES, MODEL_FILE, SETS, MoodModel
from moodbox.music.moods import mood_for_point
from moodbox.music.priors import Priors
from moodbox.music.targets import describe as describe_target

CLASSES = ("calm", "energetic", "happy", "sad")  # the file's labels
DEFAULT_CSV = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "music" / "data_moods.csv"
FOLDS = 5
LIBRARY_SETS = ("artist", "artist_ve", "year")  # what a library tagged without moods can use
MIN_ROWS = 4 * FOLDS  # fewer labelled tracks than this for a set: it is not cross-validated
MIN_FIT = 2 * len(CLASSES)  # fewer training tracks than this for a fold's set: it is not fitted


@dataclass(frozen=True)
class EndToEnd:
    tracks: int
    correct: int
    sources: Counter[str]  # mood source -> tracks
    correct_by_source: Counter[str]
    seconds: float
    tense: int = 0  # tracks the box calls tense (no such label in the file)
    tense_energetic: int = 0  # ... of them labelled energetic

    @property
    def accuracy_tense_as_energetic(self) -> float:
        """Accuracy if tense (a kind of high-energy music the file has no label for) is read as energetic."""
        return (self.correct + self.tense_energetic) / self.tracks if self.tracks else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.tracks if self.tracks else 0.0


def rule_scores(data: Labelled) -> Scores:
    """The hand rule (nearest mood prototype in valence/energy) on the tracks' own features."""
    predicted = [mood_for_point(f["valence"], f["energy"]) for f in data.features]
    index = {c: i for i, c in enumerate(CLASSES)}
    return score(data.labels, np.array([index.get(p, -1) for p in predicted]), len(CLASSES))


def end_to_end(data: Labelled, csv_rows: list[dict[str, str]], priors: Priors, folder: Path,
               l2: dict[str, float], progress: bool = True) -> EndToEnd:
    """Write the library, then per fold: fit the library sets without the fold's artists, scan its files."""
    from moodbox.music.scanner import scan_library
    from moodbox.music.synth import can_write, render, Style, write_audio
    from moodbox.music.tagwriter import write_tags

    started = time.monotonic()
    suffix = ".flac" if can_write(".flac") else ".wav"
    template = write_audio(folder / f"template{suffix}", render(Style(bpm=100), 0.2))
    folds = grouped_folds(data.groups, FOLDS, seed=0)
    label_of: dict[str, int] = {}
    for i, row in enumerate(csv_rows):
        relative = f"{i:04d}{suffix}"
        path = folder / f"fold{folds[i]}" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        year = data.years[i]
        write_tags(path, title=row.get("name", ""), artist=row.get("artist", ""), album=row.get("album", ""),
                   year=year)
        label_of[f"fold{folds[i]}/{relative}"] = int(data.labels[i])
    if progress:
        print(f"[check] wrote {len(csv_rows)} files ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    sources: Counter[str] = Counter()
    correct_by_source: Counter[str] = Counter()
    tense = tense_energetic = 0
    for fold in range(FOLDS):
        model = fold_model(data, priors, folds != fold, l2)
        with LibraryIndex(folder / f"fold{fold}.db") as index:
            report = scan_library([folder / f"fold{fold}"], index, priors=priors, mood_model=model)
            tracks = index.tracks()
        if report.failed:
            raise RuntimeError(f"scanner skipped {len(report.failed)} files: {report.failed[0]}")
        for track in tracks:
            label = CLASSES[label_of[f"fold{fold}/{track.path.name}"]]
            sources[track.mood_source] += 1
            correct_by_source[track.mood_source] += track.mood == label
            tense += track.mood == "tense"
            tense_energetic += track.mood == "tense" and label == "energetic"
        if progress:
            print(f"[check] fold {fold + 1}/{FOLDS}: scanned {report.total} tracks ({report.seconds:.1f} s)",
                  file=sys.stderr)
    return EndToEnd(sum(sources.values()), sum(correct_by_source.values()), sources, correct_by_source,
                    time.monotonic() - started, tense, tense_energetic)


def fold_model(data: Labelled, priors: Priors, train: np.ndarray, l2: dict[str, float]) -> MoodModel:
    """The library sets fitted on the training rows only (the fold's artists never seen)."""
    sets = {}
    for name in LIBRARY_SETS:
        kind, features = SETS[name]
        rows, x = set_inputs(data, kind, features, priors)
        keep = train[rows]
        if keep.sum() < MIN_FIT:
            continue
        sets[name] = fit(x[keep], data.labels[rows][keep], len(CLASSES), features, l2.get(name, 1e-3))
    return MoodModel(CLASSES, sets)


def shipped_l2() -> dict[str, float]:
    """The L2 strength the shipped table's cross-validation chose for each set (0.001 if not there)."""
    try:
        sets = json.loads(MODEL_FILE.read_text(encoding="utf-8"))["sets"]
        return {name: float(sets[name]["cv"]["l2"]) for name in LIBRARY_SETS if name in sets}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def print_scores(title: str, tracks: int, s: Scores) -> None:
    print(f"{title}: {tracks} tracks, accuracy {s.accuracy:.3f}, macro-F1 {s.macro_f1:.3f}")
    print("  recall " + ", ".join(f"{c} {r:.2f}" for c, r in zip(CLASSES, s.recall)))
    print(f"  {'label vs model':>16}" + "".join(f"{c:>10}" for c in CLASSES))
    for c, row in zip(CLASSES, s.confusion):
        print(f"  {c:>16}" + "".join(f"{v:>10}" for v in row))


@dataclass(frozen=True)
class Figures:
    tracks: int
    artists: int
    majority: float  # always guessing the commonest mood
    rule: Scores  # the old valence/energy rule on the tracks' own features
    track: tuple[int, Scores] | None  # (a): tracks used, cross-validated scores
    artist: tuple[int, Scores] | None  # (b)
    library: EndToEnd | None  # (c)


def evaluate(csv_path: Path, priors: Priors, library: bool = True, progress: bool = True) -> Figures:
    """All the figures for one labelled file (ValueError/OSError if it cannot be used)."""
    data = labelled_tracks(str(csv_path), CLASSES, FEATURES)
    with csv_path.open(encoding="utf-8-sig") as handle:
        csv_rows = list(csv.DictReader(handle))
    found: dict[str, tuple[int, Scores] | None] = {}
    for name in ("track", "artist"):
        kind, features = SETS[name]
        rows, x = set_inputs(data, kind, features, priors)
        found[name] = None
        if len(rows) >= MIN_ROWS:
            result = fit_set(x, data.labels[rows], [data.groups[i] for i in rows], rows, len(CLASSES), features)
            found[name] = (len(rows), result.scores)
    e2e = None
    if library:
        with tempfile.TemporaryDirectory(prefix="moodbox-check-") as tmp:
            e2e = end_to_end(data, csv_rows, priors, Path(tmp), shipped_l2(), progress)
    majority = float(np.bincount(data.labels, minlength=len(CLASSES)).max() / len(data.labels))
    return Figures(len(data.labels), len(set(data.groups)), majority, rule_scores(data), found["track"],
                   found["artist"], e2e)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path, nargs="?", default=DEFAULT_CSV,
                        help="labelled tracks with the audio features and a mood column (default: %(default)s)")
    parser.add_argument("--no-library", action="store_true", help="skip (c), the end-to-end library scan")
    parser.add_argument("--priors", type=Path, help="a folder of priors tables instead of the shipped ones")
    parser.add_argument("--deezer", type=Path, default=DEFAULT_DEEZER,
                        help="listener ratings for (d)-(f) (default: %(default)s)")
    parser.add_argument("--no-deezer", action="store_true", help="skip (d)-(f), the listener check")
    args = parser.parse_args(argv)
    priors = Priors.load(args.priors) if args.priors else Priors.load()
    try:
        figures = evaluate(args.csv, priors, library=not args.no_library)
    except (OSError, KeyError, ValueError) as exc:
        print(f"{args.csv}: cannot use: {exc}", file=sys.stderr)
        return 1
    print(f"{args.csv}: {figures.tracks} tracks, {figures.artists} artists; always guessing the commonest mood: "
          f"{figures.majority:.3f}; {FOLDS}-fold cross-validation grouped by artist")
    print(f"old valence/energy rule on the tracks' own features: accuracy {figures.rule.accuracy:.3f}, "
          f"macro-F1 {figures.rule.macro_f1:.3f}")
    for found, title in ((figures.track, "(a) model on the track's own features"),
                         (figures.artist, "(b) model on the artist's mean features")):
        if found is None:
            print(f"{title}: fewer than {MIN_ROWS} tracks, not enough to cross-validate")
        else:
            print_scores(title, *found)
    e2e = figures.library
    if e2e is not None:
        unknown = e2e.sources.get("unknown", 0)
        print(f"(c) end to end through the scanner (title/artist/album/year tags only): {e2e.tracks} tracks, "
              f"accuracy {e2e.accuracy:.3f}, unknown {unknown} ({unknown / max(1, e2e.tracks):.1%}) "
              f"({e2e.seconds:.0f} s)")
        print(f"  {e2e.tense} tracks called tense (no such label in the file), {e2e.tense_energetic} of them labelled "
              f"energetic; reading tense as energetic: accuracy {e2e.accuracy_tense_as_energetic:.3f}")
        for source, count in e2e.sources.most_common():
            print(f"  source {source:<8} {count:>5} tracks, right mood {e2e.correct_by_source[source] / count:.3f}")
    if not args.no_deezer:
        try:
            listeners = evaluate_listeners(args.deezer)
        except (OSError, KeyError, ValueError) as exc:
            print(f"{args.deezer}: cannot use: {exc}", file=sys.stderr)
            return 1
        print_listener_figures(args.deezer, listeners, describe_target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
