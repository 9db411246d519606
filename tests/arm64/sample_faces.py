"""Unpack a small fixed sample of FER2013 and UTKFace faces (from ../shared/data) for the arm64 comparison.

The images only go to a scratch folder (their licences forbid committing them); run.sh deletes it.
Prints how many were written per set; exits 0 with nothing written when the data is absent.

    python sample_faces.py DATA_DIR TARGET_DIR [--per-emotion 4] [--ages 24]
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import tarfile
from pathlib import Path

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def extract(archive: Path, wanted: set[str], target: Path) -> int:
    """Write each archive member named in `wanted` to target/<its base name>; return the count."""
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            if member.name not in wanted or not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            (target / Path(member.name).name).write_bytes(data)
            written += 1
            if written == len(wanted):
                break
    return written


def fer_sample(data: Path, per_emotion: int, rng: random.Random) -> set[str]:
    with (data / "fer2013" / "labels.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    chosen: set[str] = set()
    for emotion in EMOTIONS:
        paths = sorted(r["path"] for r in rows if r["emotion"] == emotion)
        chosen.update(rng.sample(paths, min(per_emotion, len(paths))))
    return chosen


def utk_sample(data: Path, count: int, rng: random.Random) -> set[str]:
    """`count` faces spread over the ages: the sorted list cut into equal strata, one pick each."""
    with (data / "utkface" / "labels.csv").open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: (int(r["age"]), r["file"]))
    step = max(1, len(rows) // count)
    return {rng.choice(rows[i:i + step])["file"] for i in range(0, step * count, step) if rows[i:i + step]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data folder (holds fer2013/ and utkface/)")
    parser.add_argument("target", type=Path)
    parser.add_argument("--per-emotion", type=int, default=4)
    parser.add_argument("--ages", type=int, default=24)
    args = parser.parse_args(argv)

    rng = random.Random(2014)  # fixed: the same faces every run
    fer = args.data / "fer2013" / "fer2013-dev.tar.gz"
    utk = args.data / "utkface" / "utkface-dev.tar.gz"
    if fer.is_file():
        print(f"fer2013: {extract(fer, fer_sample(args.data, args.per_emotion, rng), args.target / 'fer2013')}")
    else:
        print(f"fer2013: absent ({fer})")
    if utk.is_file():
        print(f"utkface: {extract(utk, utk_sample(args.data, args.ages, rng), args.target / 'utkface')}")
    else:
        print(f"utkface: absent ({utk})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
