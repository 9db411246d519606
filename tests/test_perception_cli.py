"""`moodbox analyze` end to end, as a subprocess, on the bundled faces and broken files."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

import moodbox
from moodbox.config import REPO_ROOT
from moodbox.readings import AGE_GROUPS, EMOTIONS

FACES = Path(moodbox.__file__).parent / "data" / "faces"
MODELS = REPO_ROOT / "models_tflite"


def analyze(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "moodbox.cli", "analyze", *args]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def check_face_schema(face: dict) -> None:
    assert set(face) == {"box", "score", "emotion", "age"}
    assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
    assert 0 <= face["score"] <= 1
    assert set(face["emotion"]) == {"label", "probs"}
    assert list(face["emotion"]["probs"]) == list(EMOTIONS)
    assert abs(sum(face["emotion"]["probs"].values()) - 1) < 0.01
    assert face["emotion"]["label"] == max(face["emotion"]["probs"], key=face["emotion"]["probs"].get)
    assert set(face["age"]) == {"years", "group"}
    assert face["age"]["group"] in {name for name, _, _ in AGE_GROUPS}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the bundled faces, a subfolder, a broken .jpg and a text file that is not looked at."""
    folder = tmp_path_factory.mktemp("images")
    shutil.copytree(FACES, folder / "faces")
    (folder / "faces" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    return folder


def test_json_lines_for_a_folder(folder: Path) -> None:
    result = analyze("--json", str(folder))
    assert result.returncode == 1, result.stderr  # broken.jpg failed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(line["path"]).name: line for line in lines}
    assert set(by_name) == {"astronaut.png", "camera.png", "rocket.jpg", "broken.jpg"}  # README.txt skipped
    assert by_name["broken.jpg"] == {"path": str(folder / "faces" / "broken.jpg"),
                                     "error": "not an image OpenCV can decode"}
    assert by_name["rocket.jpg"]["faces"] == []
    [astronaut] = by_name["astronaut.png"]["faces"]
    check_face_schema(astronaut)
    assert astronaut["emotion"]["label"] == "happy"
    assert 25 <= astronaut["age"]["years"] <= 55
    x, y, w, h = astronaut["box"]
    assert 150 < x + w / 2 < 300 and 80 < y + h / 2 < 170 and 80 < w < 140
    for face in by_name["camera.png"]["faces"]:
        check_face_schema(face)
    assert "4 image(s) analysed" not in result.stderr and "3 image(s) analysed" in result.stderr


def test_faces_only_and_missing_path(tmp_path: Path) -> None:
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), cv2.imread(str(FACES / "astronaut.png"))[40:210, 140:310])
    result = analyze("--json", "--faces-only", str(crop), str(tmp_path / "missing.png"))
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["faces"][0]["box"] == [0, 0, 170, 170]
    check_face_schema(first["faces"][0])
    assert second == {"path": str(tmp_path / "missing.png"), "error": "No such file or directory"}


def test_readable_table_and_success_status() -> None:
    result = analyze(str(FACES / "astronaut.png"), str(FACES / "no-face"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{FACES / 'astronaut.png'}  face 1  x=")
    assert "happy" in lines[0] and ("(young_adult)" in lines[0] or "(adult)" in lines[0])
    assert lines[1] == f"{FACES / 'no-face' / 'rocket.jpg'}: no face"
    # one face: the emotion model ran once, and a first run (setup) is not timed
    assert "emotion n/a (first run not timed)" in result.stderr and "emotion 0.0 ms" not in result.stderr


def test_timings_once_every_model_ran_twice() -> None:
    result = analyze(str(FACES / "astronaut.png"), str(FACES / "astronaut.png"))
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("2 image(s) analysed, 2 face(s), 0 failed; mean inference: ")
    for name in ("detector", "emotion", "age"):
        ms = float(summary.split(f"{name} ")[1].split(" ms")[0])
        assert ms > 0, summary


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    result = analyze(str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.strip() == f"{tmp_path}: error: no image files in this folder"


def test_missing_models_give_a_clear_error(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS, models, ignore=shutil.ignore_patterns("metrics", "cards", "age_*"))
    config = tmp_path / "config.yaml"
    config.write_text(f"perception:\n  models_dir: {models}\n")
    result = analyze(str(FACES / "astronaut.png"), config=config)
    assert result.returncode == 3
    assert "age_wrn80_int8.tflite: model file of 'age_wrn80_stretch' is missing" in result.stderr  # the default's file
    assert result.stdout == ""
