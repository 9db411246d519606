"""Ensembles and flip averaging of the face models, from manifest entries, with the real .tflite files."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import moodbox
from moodbox.config import REPO_ROOT, load_config
from moodbox.perception import ModelError, Perception
from moodbox.perception.classifiers import (AgeEnsemble, AgeModel, EmotionEnsemble, EmotionModel, as_probabilities,
                                            build_age_model, build_emotion_model)
from moodbox.perception.detector import Detection
from moodbox.perception.manifest import Manifest
from moodbox.readings import EMOTIONS

MODELS = REPO_ROOT / "models_tflite"
ASTRONAUT = Path(moodbox.__file__).parent / "data" / "faces" / "astronaut.png"
ENSEMBLES: dict[str, dict[str, Any]] = {
    "emotion_same": {"task": "emotion", "ensemble": {"members": ["emotion"]}},
    "emotion_flip": {"task": "emotion", "ensemble": {"members": ["emotion"], "flip": True}},
    "age_same": {"task": "age", "ensemble": {"members": ["age"], "weights": [3]}},
    "age_flip": {"task": "age", "ensemble": {"members": ["age_wrn80_stretch"], "flip": True}},
    "age_mix": {"task": "age", "ensemble": {"members": ["age", "age_wrn80_stretch"], "weights": [1, 2]},
                "description": "dlib ResNet + our WideResNet", "metrics": {"mae": 0.0}},
}


def write_models(folder: Path, extra: dict[str, dict[str, Any]]) -> Path:
    """A models folder: links to the real model files and the real manifest plus `extra` entries."""
    folder.mkdir()
    data = json.loads((MODELS / "manifest.json").read_text())
    for entry in data["models"].values():
        if "file" in entry and not (folder / entry["file"]).exists():  # ensembles have none; entries may share one
            (folder / entry["file"]).symlink_to(MODELS / entry["file"])
    data["models"].update(extra)
    (folder / "manifest.json").write_text(json.dumps(data, indent=1))
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_models(tmp_path_factory.mktemp("ensembles") / "models", ENSEMBLES)


@pytest.fixture(scope="module")
def manifest(models: Path) -> Manifest:
    return Manifest.load(models)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.imread(str(ASTRONAUT))


@pytest.fixture(scope="module")
def face(astronaut: np.ndarray) -> Detection:
    [found] = Perception(MODELS).detect(astronaut)
    return found


@pytest.fixture(scope="module")
def face_64(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's face as a 64x64 image, the models' input size: face=None uses it unchanged."""
    return cv2.resize(astronaut[40:210, 140:310], (64, 64), interpolation=cv2.INTER_AREA)


def single(manifest: Manifest, name: str) -> EmotionModel | AgeModel:
    kind = EmotionModel if manifest.entry(name)["task"] == "emotion" else AgeModel
    return kind(manifest.verified_file(name), name, manifest.entry(name))


def test_manifest_reads_ensemble_specs(manifest: Manifest) -> None:
    spec = manifest.ensemble("age_mix")
    assert spec is not None
    assert (spec.task, spec.members, spec.weights, spec.flip) == ("age", ("age", "age_wrn80_stretch"), (1.0, 2.0), False)
    spec = manifest.ensemble("emotion_flip")
    assert spec is not None and spec.weights == (1.0,) and spec.flip
    assert manifest.ensemble("emotion") is None
    with pytest.raises(ModelError, match=r"manifest\.json: 'age_mix' is an ensemble and has no file"):
        manifest.verified_file("age_mix")


def test_one_member_without_flip_is_exactly_the_member(manifest: Manifest, astronaut: np.ndarray,
                                                       face: Detection) -> None:
    emotion = build_emotion_model(manifest, "emotion_same")
    age = build_age_model(manifest, "age_same")
    assert isinstance(emotion, EmotionEnsemble) and isinstance(age, AgeEnsemble)
    assert (emotion.name, age.name) == ("emotion_same", "age_same")
    assert emotion.predict(astronaut, face) == single(manifest, "emotion").predict(astronaut, face)
    assert age.predict(astronaut, face) == single(manifest, "age").predict(astronaut, face)


def run_on_crop(model: EmotionModel, crop: np.ndarray) -> dict[str, float]:
    """The emotion model on an input image it is given directly (no cropping), in EMOTIONS order."""
    probs = as_probabilities(model.model.run(np.ascontiguousarray(crop))[0].reshape(-1).astype(np.float64),
                             model.activation)
    by_label = dict(zip(model.labels, probs.tolist()))
    return {e: by_label[e] for e in EMOTIONS}


@pytest.mark.parametrize("name, member", [("emotion_flip", "emotion"), ("age_flip", "age_wrn80_stretch")])
def test_flip_averages_the_model_on_the_image_and_its_mirror(manifest: Manifest, face_64: np.ndarray,
                                                             name: str, member: str) -> None:
    ensemble = build_emotion_model(manifest, name) if name.startswith("emotion") else build_age_model(manifest, name)
    model = single(manifest, member)
    plain, mirrored = model.predict(face_64, None), model.predict(cv2.flip(face_64, 1), None)
    got = ensemble.predict(face_64, None)
    if isinstance(plain, dict):
        assert isinstance(got, dict) and isinstance(mirrored, dict)
        assert list(got) == list(EMOTIONS)
        assert got == pytest.approx({e: (plain[e] + mirrored[e]) / 2 for e in EMOTIONS}, abs=1e-12)
        assert sum(got.values()) == pytest.approx(1.0)
        assert max(abs(plain[e] - mirrored[e]) for e in EMOTIONS) > 1e-4  # the mirror is another input
    else:
        assert got == pytest.approx((plain + mirrored) / 2, abs=1e-9)
        assert abs(plain - mirrored) > 1e-3


def test_flip_on_a_detected_face_mirrors_the_models_crop(manifest: Manifest, astronaut: np.ndarray,
                                                         face: Detection) -> None:
    ensemble = build_emotion_model(manifest, "emotion_flip")
    model = single(manifest, "emotion")
    assert isinstance(model, EmotionModel)
    crop = model.crop(astronaut, face)  # 64x64x1 gray
    mirrored = run_on_crop(model, crop[:, ::-1])
    plain = model.predict(astronaut, face)
    expected = {e: (plain[e] + mirrored[e]) / 2 for e in EMOTIONS}
    assert ensemble.predict(astronaut, face) == pytest.approx(expected, abs=1e-12)


def test_weighted_age_mean_of_two_models(manifest: Manifest, astronaut: np.ndarray, face: Detection) -> None:
    mixed = build_age_model(manifest, "age_mix")
    dlib, wrn = single(manifest, "age").predict(astronaut, face), single(manifest, "age_wrn80_stretch").predict(astronaut, face)
    assert isinstance(dlib, float) and isinstance(wrn, float)
    assert abs(dlib - wrn) > 0.1  # two different opinions, so the weights matter
    assert mixed.predict(astronaut, face) == pytest.approx((dlib + 2 * wrn) / 3, abs=1e-9)


def test_an_age_is_never_below_zero(astronaut: np.ndarray, face: Detection, tmp_path: Path) -> None:
    """A values table that reaches below 0 (a stretched one, say) still reads 0 years at the least."""
    entry = json.loads((MODELS / "manifest.json").read_text())["models"]["age_wrn80_stretch"]
    low = {**entry, "output": {**entry["output"], "values": [v - 200.0 for v in entry["output"]["values"]]}}
    manifest = Manifest.load(write_models(tmp_path / "models", {"age_low": low}))
    assert single(manifest, "age_wrn80_stretch").predict(astronaut, face) > 10
    assert single(manifest, "age_low").predict(astronaut, face) == 0.0


@pytest.mark.parametrize("spec, problem", [
    ({"members": ["emotion_v9"]}, r"unknown member 'emotion_v9' \(models: .*emotion"),
    ({"members": ["emotion_flip"]}, r"member 'emotion_flip' is itself an ensemble"),
    ({"members": ["emotion", "age"]}, r"member 'age' has task 'age', not the ensemble's 'emotion'"),
    ({"members": []}, r"'members' must be a non-empty list"),
    ({"members": "emotion"}, r"'members' must be a non-empty list"),
    ({}, r"'members' must be a non-empty list"),
    ({"members": ["emotion", "emotion"]}, r"member 'emotion' is listed twice"),
    ({"members": ["emotion"], "weights": [1, 2]}, r"'weights' must be a list of one weight per member \(1\), not \[1, 2\]"),
    ({"members": ["emotion"], "weights": [0]}, r"weights must be positive"),
    ({"members": ["emotion"], "weights": [-1.5]}, r"weights must be positive"),
    ({"members": ["emotion"], "weights": ["1"]}, r"weights must be positive"),
    ({"members": ["emotion"], "flips": True}, r"unknown key\(s\) 'flips' in 'ensemble'"),
    ({"members": ["emotion"], "flip": "yes"}, r"'flip' must be true or false"),
])
def test_bad_ensembles_name_the_manifest_and_the_model(tmp_path: Path, spec: dict[str, Any], problem: str) -> None:
    models = write_models(tmp_path / "models", {**ENSEMBLES, "bad": {"task": "emotion", "ensemble": spec}})
    with pytest.raises(ModelError, match=re.escape(f"{models / 'manifest.json'}: ensemble 'bad': ") + problem):
        build_emotion_model(Manifest.load(models), "bad")


def test_ensemble_entries_need_a_task_and_a_mapping(tmp_path: Path) -> None:
    models = write_models(tmp_path / "models", {"no_task": {"ensemble": {"members": ["emotion"]}},
                                                "not_a_mapping": {"task": "emotion", "ensemble": ["emotion"]}})
    manifest = Manifest.load(models)
    with pytest.raises(ModelError, match=r"manifest\.json: model 'no_task' has no 'task'"):
        build_emotion_model(manifest, "no_task")
    with pytest.raises(ModelError, match=r"manifest\.json: ensemble 'not_a_mapping': 'ensemble' must be a mapping"):
        build_emotion_model(manifest, "not_a_mapping")


def test_configured_model_must_be_of_its_task(models: Path) -> None:
    with pytest.raises(ModelError, match=r"manifest\.json: model 'age_mix' has task 'age'; an emotion model or ensemble"):
        Perception(models, emotion_model="age_mix")
    with pytest.raises(ModelError, match=r"model 'emotion_flip' has task 'emotion'; an age model or ensemble is needed"):
        Perception(models, age_model="emotion_flip")
    with pytest.raises(ModelError, match=r"model 'emotion' has task 'emotion'; an age model"):
        Perception(models, age_model="emotion")


def test_member_files_are_checked_against_their_sha256(tmp_path: Path) -> None:
    models = write_models(tmp_path / "models", ENSEMBLES)
    (models / "age_wrn80_int8.tflite").unlink()
    (models / "age_wrn80_int8.tflite").write_bytes((MODELS / "age_wrn80_int8.tflite").read_bytes()[:-1] + b"\0")
    manifest = Manifest.load(models)
    build_age_model(manifest, "age_same")  # does not use age_wrn80_stretch
    with pytest.raises(ModelError, match=r"age_wrn80_int8\.tflite: checksum mismatch for 'age_wrn80_stretch'"):
        build_age_model(manifest, "age_mix")


def test_perception_with_ensembles_reads_faces_and_times_them(models: Path, astronaut: np.ndarray) -> None:
    perception = Perception(models, emotion_model="emotion_flip", age_model="age_mix")
    assert (perception.emotion.name, perception.age.name) == ("emotion_flip", "age_mix")
    [reading] = perception.analyze(astronaut)
    assert reading.emotion_label == "happy"
    assert sum(reading.emotion.values()) == pytest.approx(1.0)
    assert 25 <= reading.age_years <= 55
    perception.analyze(astronaut)  # the first run of each model is not timed
    timings = perception.timings_ms()
    assert set(timings) == {"detector", "emotion", "age"}
    emotion, age = perception.emotion, perception.age
    assert isinstance(emotion, EmotionEnsemble) and isinstance(age, AgeEnsemble)
    assert timings["emotion"] == pytest.approx(2 * emotion.members[0].timing_ms) and timings["emotion"] > 0
    assert timings["age"] == pytest.approx(age.members[0].timing_ms + age.members[1].timing_ms)


def test_analyze_json_with_ensembles_from_a_config_file(models: Path, tmp_path: Path, astronaut: np.ndarray) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"perception:\n  models_dir: {models}\n  emotion_model: emotion_flip\n  age_model: age_mix\n")
    result = subprocess.run([sys.executable, "-m", "moodbox.cli", "analyze", "--json", str(ASTRONAUT),
                             "--config", str(config)], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    [face] = json.loads(result.stdout)["faces"]
    assert face["emotion"]["label"] == "happy"
    assert list(face["emotion"]["probs"]) == list(EMOTIONS)
    [reading] = Perception.from_config(load_config(config)).analyze(astronaut)
    assert face["age"]["years"] == round(reading.age_years, 1)
    assert face["emotion"]["probs"] == {e: round(reading.emotion[e], 4) for e in EMOTIONS}
    assert "1 image(s) analysed, 1 face(s)" in result.stderr


@pytest.mark.parametrize("emotion_model, age_model", [("emotion_mix", "age_wrn_stretch_flip"), ("emotion_cnn", "age_wrn")])
def test_a_retired_model_in_the_config_loads_its_successor_with_a_warning(emotion_model: str, age_model: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="moodbox.perception.runtime"):
        perception = Perception(MODELS, emotion_model=emotion_model, age_model=age_model)
    assert (perception.emotion.name, perception.age.name) == ("emotion_cnn4_mixup", "age_wrn80_stretch")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(f"perception.emotion_model: model {emotion_model!r} was retired" in w and "'emotion_cnn4_mixup'" in w
               for w in warnings), warnings
    assert any(f"perception.age_model: model {age_model!r} was retired" in w for w in warnings), warnings


def test_an_unknown_model_is_still_an_error(models: Path) -> None:
    with pytest.raises(ModelError, match=r"no model named 'emotion_v9'"):
        Perception(models, emotion_model="emotion_v9")
