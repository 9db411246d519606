"""Build the learned track mood model, device/moodbox/data/mood_model.json, from data_moods.csv.

    .venv/bin/python tools/build_mood_model.py [--data ../shared/data/music]

One softmax regression per input kind (moodmodel.SETS): a track's own features, its artist's mean
features (the shipped priors: run tools/build_priors.py first), the artist's mean valence/energy only,
the mean features of its release year, and the track's own loudness/tempo/energy only (the "audio" set
that the scanner's audio estimate goes through). L2 chosen by 5-fold cross-validation grouped by artist
(never the same artist in train and test), 3 fold shuffles; then fitted on all rows. Writes the
table (with the CV figures) and the card device/moodbox/data/mood_model.md. numpy only.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "device"))

from moodbox.music.moodfit import L2_GRID, SEEDS, SetResult, fit_set, labelled_tracks, set_inputs  # noqa: E402
from moodbox.music.moodmodel import FEATURES, MODEL_FILE, SETS, MoodModel, to_dict  # noqa: E402
from moodbox.music.priors import Priors  # noqa: E402

CLASSES = ("calm", "energetic", "happy", "sad")  # data_moods.csv's labels, all among the box's moods


def build(data_csv: Path, priors: Priors, names: list[str]) -> tuple[MoodModel, dict[str, SetResult]]:
    data = labelled_tracks(str(data_csv), CLASSES, FEATURES)
    results: dict[str, SetResult] = {}
    for name in names:
        kind, features = SETS[name]
        started = time.monotonic()
        rows, x = set_inputs(data, kind, features, priors)
        groups = [data.groups[i] for i in rows]
        results[name] = fit_set(x, data.labels[rows], groups, rows, len(CLASSES), features)
        s = results[name].scores
        print(f"[mood model] {name:<10} {len(rows):>4} tracks  grouped-CV accuracy {s.accuracy:.3f}  "
              f"macro-F1 {s.macro_f1:.3f}  l2 {results[name].l2:g}  ({time.monotonic() - started:.1f} s)",
              file=sys.stderr)
    return MoodModel(CLASSES, {name: r.model for name, r in results.items()}), results


def card(results: dict[str, SetResult], data_csv: Path) -> str:
    lines = ["# Track mood model (`mood_model.json`)", "",
             "What it does: turns audio features (a track's own, or the mean features of its artist, genre or",
             "release year from the shipped priors) into one of four moods (calm, energetic, happy, sad), a point",
             "in valence/energy space (the moods' prototypes weighted by probability) and a confidence (the top",
             "probability). The point is used only where the listener table (listener_va.md) does not know the",
             "artist, genre or year; the fifth mood, tense, has no label here: it comes from the listener",
             "table's tense corner, and from tags, `moods.csv` and folder names.", "",
             f"Data: `{data_csv.name}` (686 tracks, labels from mood playlists; \"Predicting the Music Mood of a",
             "Song with Deep Learning\") and, for artist and year inputs, the Spotify Dataset 1921-2020 means",
             "(`data_w_genres.csv`, `data_by_year.csv`) as shipped in `data/priors/`. No labelled genre data:",
             "genre means go through the artist model.", "",
             "The \"audio\" set reads only what the scanner's audio estimate gives (music/audiofeatures.py):",
             "loudness, tempo, energy. It is fitted on the tracks' Spotify values, so its CV figure is what the",
             "model would do with Spotify's own measurements; the box's stand-ins (K-weighted gated loudness of a",
             "30 s excerpt, autocorrelation tempo, a hand-set energy formula) are not checked against labels",
             "(none here), hence its confidence is multiplied by AUDIO_TRUST (0.5) in trackmood.py. See",
             "docs/music-moods.md.", "",
             "Method: softmax regression on standardised features, numpy, L2 from "
             f"{', '.join(f'{v:g}' for v in L2_GRID)} chosen by 5-fold cross-validation grouped by artist",
             f"(seeds {', '.join(map(str, SEEDS))}: the figures are their mean), then fitted on all rows.",
             "Rebuild: `.venv/bin/python tools/build_priors.py && .venv/bin/python tools/build_mood_model.py`.",
             "Check: `.venv/bin/python -m moodbox.music.check_mapping` (adds the end-to-end figure).", "",
             "| set | input | tracks | accuracy | macro-F1 | recall calm / energetic / happy / sad | L2 |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        kind, features = SETS[name]
        s = r.scores
        lines.append(f"| {name} | {kind} ({len(features)} features) | {len(r.rows)} | {s.accuracy:.3f} | "
                     f"{s.macro_f1:.3f} | {' / '.join(f'{v:.2f}' for v in s.recall)} | {r.l2:g} |")
    for name, r in results.items():
        lines += ["", f"Confusion, set {name} (seed 0; rows: label, columns: predicted {', '.join(CLASSES)}):", ""]
        lines += ["| label | " + " | ".join(CLASSES) + " |", "|---|" + "---|" * len(CLASSES)]
        lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(CLASSES, r.scores.confusion)]
    lines += ["", "Limits: the labels are playlist moods of mostly 2000-2020 tracks; the year model learns this set's",
              "mix of years (most calm tracks here are recent releases), so on an older library it says little",
              "(its confidence is low and the recommender prefers better-known tracks). Where the artist's genre",
              "or year stands in for the track, the model reads a group's average, not the song.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "music")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS),
                        help="build only these sets (default: all; the shipped table needs all)")
    args = parser.parse_args(argv)
    data_csv = args.data / "data_moods.csv"
    if not data_csv.is_file():
        print(f"missing {data_csv}", file=sys.stderr)
        return 1
    try:
        model, results = build(data_csv, Priors.load(), args.sets)
    except (OSError, ValueError) as exc:
        print(f"{data_csv}: cannot use: {exc}", file=sys.stderr)
        return 1
    extra = {name: {"cv": {"tracks": len(r.rows), "l2": r.l2, **r.scores.as_dict()}} for name, r in results.items()}
    table = {"source": f"{data_csv.name} + shipped priors; built by tools/build_mood_model.py", **to_dict(model, extra)}
    args.out.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(card(results, data_csv), encoding="utf-8")
    print(f"{args.out} ({args.out.stat().st_size / 1024:.0f} KiB) and {args.out.with_suffix('.md').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
