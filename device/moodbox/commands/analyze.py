"""moodbox analyze [--faces-only] [--json] PATH..."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HELP = "detect faces in image files or folders and print emotion and age of each"

EXIT_SOME_FAILED = 1
EXIT_MODELS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    parser.add_argument("--faces-only", action="store_true",
                        help="each image is already a face crop: skip detection, the box is the whole image")
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")


def image_paths(paths: list[str]) -> Iterator[tuple[Path, str | None]]:
    """(path, None) for named files (whatever their name) and the image files of named folders, sorted;
    (folder, error) for a folder without any image file."""
    from moodbox.camera import image_files  # the folder camera's listing: same files, same order

    for name in paths:
        path = Path(name)
        if not path.is_dir():
            yield path, None
            continue
        found = image_files(path)
        if not found:
            yield path, "no image files in this folder"
        for image in found:
            yield image, None


def read_image(path: Path) -> Any:
    """A BGR uint8 image, or ValueError/OSError saying why not."""
    import cv2
    import numpy as np

    data = np.fromfile(path, dtype=np.uint8)  # OSError when missing or unreadable
    if data.size == 0:
        raise ValueError("empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not an image OpenCV can decode")
    return image


def face_json(reading: Any) -> dict[str, Any]:
    from moodbox.readings import EMOTIONS

    return {
        "box": list(reading.box),
        "score": round(reading.score, 4),
        "emotion": {"label": reading.emotion_label, "probs": {e: round(reading.emotion[e], 4) for e in EMOTIONS}},
        "age": {"years": round(reading.age_years, 1), "group": reading.age_group},
    }


def print_table_row(path: Path, faces: list[dict[str, Any]]) -> None:
    if not faces:
        print(f"{path}: no face")
    for number, face in enumerate(faces, 1):
        label = face["emotion"]["label"]
        box = "x={} y={} w={} h={}".format(*face["box"])
        print(f"{path}  face {number}  {box}  score {face['score']:.2f}  "
              f"{label} {face['emotion']['probs'][label]:.2f}  age {face['age']['years']:.0f} ({face['age']['group']})")


def main(args: argparse.Namespace) -> int:
    from moodbox.commands.common import config_or_exit
    from moodbox.perception import ModelError, Perception

    config = config_or_exit(args)
    try:
        perception = Perception.from_config(config)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODELS

    images = failed = faces_seen = 0
    for path, error in image_paths(args.paths):
        if error is None:
            try:
                frame = read_image(path)
            except (OSError, ValueError) as exc:
                error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if error is not None:
            failed += 1
            print(json.dumps({"path": str(path), "error": error}) if args.json else f"{path}: error: {error}", flush=True)
            continue
        images += 1
        readings = [perception.analyze_face(frame)] if args.faces_only else perception.analyze(frame)
        faces = [face_json(r) for r in readings]
        faces_seen += len(faces)
        if args.json:
            print(json.dumps({"path": str(path), "faces": faces}), flush=True)
        else:
            print_table_row(path, faces)

    # a model's first run (one-time setup) is not timed: after one face it has no figure yet
    timings = ", ".join(f"{name} {ms:.1f} ms" if ms else f"{name} n/a (first run not timed)"
                        for name, ms in perception.timings_ms().items())
    print(f"{images} image(s) analysed, {faces_seen} face(s), {failed} failed; mean inference: {timings}", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else 0
