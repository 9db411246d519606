"""Emotion and age on a few real faces from ../shared/data (FER2013, UTKFace); skipped where that is absent.

The images are unpacked to a temporary folder only (their licences forbid committing them).
"""
from __future__ import annotations

import csv
import random
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodbox.config import REPO_ROOT
from moodbox.perception import Perception
from moodbox.readings import EMOTIONS

SHARED = REPO_ROOT.parent / "shared" / "data"
FER = SHARED / "fer2013"
UTK = SHARED / "utkface"
PER_EMOTION = 30
UTK_COUNT = 70  # 10 per age band


def unpack(archive: Path, wanted: set[str], target: Path) -> dict[str, Path]:
    """Extract the members named in `wanted` (path inside the archive, any leading folder) to target."""
    found: dict[str, Path] = {}
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            key = next((w for w in wanted if member.name == w or member.name.endswith("/" + w)), None)
            if key is None or not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            path = target / f"{len(found):04d}{Path(member.name).suffix}"
            path.write_bytes(data)
            found[key] = path
            if len(found) == len(wanted):
                break
    return found


@pytest.fixture(scope="module")
def perception() -> Perception:
    return Perception(REPO_ROOT / "models_tflite")


@pytest.fixture(scope="module")
def fer_faces(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    if not (FER / "fer2013-dev.tar.gz").is_file():
        pytest.skip("../shared/data/fer2013 is not here")
    with (FER / "labels.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    rng = random.Random(7)
    chosen = []
    for emotion in EMOTIONS:
        of_emotion = [r["path"] for r in rows if r["emotion"] == emotion]
        chosen += [(p, emotion) for p in rng.sample(of_emotion, min(PER_EMOTION, len(of_emotion)))]
    files = unpack(FER / "fer2013-dev.tar.gz", {p for p, _ in chosen}, tmp_path_factory.mktemp("fer"))
    return [(files[p], emotion) for p, emotion in chosen if p in files]


@pytest.fixture(scope="module")
def utk_faces(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, float]]:
    if not (UTK / "utkface-dev.tar.gz").is_file():
        pytest.skip("../shared/data/utkface is not here")
    with (UTK / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # an even spread of ages 5..75 (UTKFace has few children and few people over 70)
    rng = random.Random(7)
    chosen = []
    for low in range(5, 75, 10):
        band = [r for r in rows if low <= int(r["age"]) < low + 10]
        chosen += rng.sample(band, UTK_COUNT // 7)
    files = unpack(UTK / "utkface-dev.tar.gz", {r["file"] for r in chosen}, tmp_path_factory.mktemp("utk"))
    return [(files[r["file"]], float(r["age"])) for r in chosen if r["file"] in files]


def test_emotion_on_fer2013_faces(perception: Perception, fer_faces: list[tuple[Path, str]]) -> None:
    assert len(fer_faces) == 7 * PER_EMOTION  # disgust, the rarest, has 56 PublicTest images
    predicted = []
    for path, truth in fer_faces:
        image = cv2.imread(str(path))  # 48x48 gray JPEG, read as BGR
        assert image is not None, path
        predicted.append((perception.analyze_face(image).emotion_label, truth))
    accuracy = np.mean([p == t for p, t in predicted])
    happy = [p == "happy" for p, t in predicted if t == "happy"]
    # The int8 model scores 65% on all of PublicTest (chance: 14%), less on this class-balanced
    # sample (55% here: disgust and fear are hard); FER2013 labels are noisy. Happy is the easy one.
    assert accuracy >= 0.45, accuracy
    assert np.mean(happy) >= 0.65, happy


def test_age_on_utkface_faces(perception: Perception, utk_faces: list[tuple[Path, float]]) -> None:
    assert len(utk_faces) == UTK_COUNT
    estimates, truths = [], []
    for path, age in utk_faces:
        # A 200x200 face crop, set in a larger frame as a camera would see it (the full-range
        # detector misses faces that touch all four edges), then detected as on the device.
        image = cv2.copyMakeBorder(cv2.imread(str(path)), 60, 60, 60, 60, cv2.BORDER_CONSTANT, value=(90, 90, 90))
        readings = perception.analyze(image)
        if readings:
            estimates.append(readings[0].age_years)
            truths.append(age)
    assert len(estimates) >= 0.85 * len(utk_faces)  # BlazeFace finds most of these faces (65 of 70 here)
    errors = np.abs(np.array(estimates) - np.array(truths))
    correlation = np.corrcoef(estimates, truths)[0, 1]
    # MAE on UTKFace with BlazeFace crops is about 6.5 years; this sample spreads ages evenly over
    # 5..75, where errors at both ends are larger (here: MAE 9.4, r 0.81)
    assert errors.mean() < 12, errors.mean()
    assert correlation > 0.65, correlation
