"""Check the valence/energy -> mood mapping against labelled tracks (data_moods.csv: Happy, Sad, Energetic, Calm).

    .venv/bin/python -m moodbox.music.check_mapping ../shared/data/music/data_moods.csv

Prints the accuracy and the confusion table (rows: label in the file, columns: our mood).
Our fifth mood, tense, has no label in the file: a track we call tense counts as a miss.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from moodbox.music.moods import MOODS, mood_for_point


def evaluate(rows: list[dict[str, str]]) -> tuple[float, Counter[tuple[str, str]], int]:
    confusion: Counter[tuple[str, str]] = Counter()
    for row in rows:
        predicted = mood_for_point(float(row["valence"]), float(row["energy"]))
        confusion[(row["mood"].strip().lower(), predicted)] += 1
    total = sum(confusion.values())
    correct = sum(n for (label, predicted), n in confusion.items() if label == predicted)
    return (correct / total if total else 0.0), confusion, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path, help="a CSV with valence, energy and mood columns")
    args = parser.parse_args(argv)
    try:
        with args.csv.open(encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        accuracy, confusion, total = evaluate(rows)
    except (OSError, KeyError, ValueError) as exc:
        print(f"{args.csv}: cannot use: {exc}", file=sys.stderr)
        return 1
    labels = sorted({label for label, _ in confusion})
    per_label = Counter(label for (label, _), n in confusion.items() for _ in range(n))
    majority = max(per_label.values()) / total if total else 0.0
    print(f"{total} tracks, accuracy {accuracy:.1%} (always guessing the commonest label: {majority:.1%})")
    print(f"{'file vs ours':>14}" + "".join(f"{m:>11}" for m in MOODS))
    for label in labels:
        print(f"{label:>14}" + "".join(f"{confusion[(label, m)]:>11}" for m in MOODS))
    for label in labels:
        count = sum(confusion[(label, m)] for m in MOODS)
        print(f"recall {label}: {confusion[(label, label)] / count:.1%} of {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
