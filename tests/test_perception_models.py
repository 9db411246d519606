"""Perception model loading: manifest, checksums, anchors against the real .tflite files, load errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moodbox.config import REPO_ROOT
from moodbox.perception import ModelError, Perception
from moodbox.perception.anchors import ssd_anchors
from moodbox.perception.detector import FaceDetector
from moodbox.perception.manifest import Manifest, sha256_file
from moodbox.perception.model import TfliteModel

MODELS = REPO_ROOT / "models_tflite"
DETECTORS = {"full_range": 2304, "short_range": 896}  # BlazeFace output boxes per variant


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.load(MODELS)


@pytest.fixture()
def models_copy(tmp_path: Path) -> Path:
    """A private copy of models_tflite that a test may damage."""
    copy = tmp_path / "models"
    shutil.copytree(MODELS, copy, ignore=shutil.ignore_patterns("metrics", "cards"))
    return copy


def test_manifest_checksums_match_the_files(manifest: Manifest) -> None:
    for name, entry in manifest.models.items():
        if "ensemble" in entry:  # no file of its own; its members are checked as models
            assert manifest.ensemble(name) is not None
            continue
        assert sha256_file(MODELS / entry["file"]) == entry["sha256"], name
        assert manifest.verified_file(name) == MODELS / entry["file"]


@pytest.mark.parametrize("variant", DETECTORS)
def test_anchor_count_matches_detector_output(manifest: Manifest, variant: str) -> None:
    name = manifest.detector_name(variant)
    entry = manifest.entry(name)
    anchors = ssd_anchors(entry["output"]["anchors"])
    model = TfliteModel(manifest.verified_file(name), name, entry["input"])
    box_shapes = [shape for shape in model.output_shapes() if shape[-1] == 16]
    assert len(anchors) == DETECTORS[variant] == box_shapes[0][1]
    # anchors are cell centres inside the input, fixed size 1 x 1
    assert anchors[:, :2].min() > 0 and anchors[:, :2].max() < 1
    assert np.all(anchors[:, 2:] == 1.0)


def test_short_range_anchors_merge_layers_sharing_a_stride() -> None:
    options = {"num_layers": 4, "strides": [8, 16, 16, 16], "min_scale": 0.1484375, "max_scale": 0.75,
               "input_size_height": 128, "input_size_width": 128, "anchor_offset_x": 0.5, "anchor_offset_y": 0.5,
               "aspect_ratios": [1.0], "fixed_anchor_size": True, "interpolated_scale_aspect_ratio": 1.0,
               "reduce_boxes_in_lowest_layer": False}
    anchors = ssd_anchors(options)
    assert len(anchors) == 16 * 16 * 2 + 8 * 8 * 6
    # stride 8: two anchors on the first cell centre, then the next cell
    assert np.allclose(anchors[0, :2], [0.5 / 16, 0.5 / 16]) and np.allclose(anchors[1, :2], anchors[0, :2])
    assert np.allclose(anchors[2, :2], [1.5 / 16, 0.5 / 16])
    # stride 16: the three layers form one 8x8 grid with 6 anchors per cell (not three grids of 2)
    stride16 = anchors[512:]
    assert np.allclose(stride16[:6, :2], [0.5 / 8, 0.5 / 8])
    assert np.allclose(stride16[6, :2], [1.5 / 8, 0.5 / 8])


def test_anchor_sizes_when_not_fixed() -> None:
    options = {"num_layers": 2, "strides": [8, 16], "min_scale": 0.2, "max_scale": 0.8,
               "input_size_height": 32, "input_size_width": 32, "aspect_ratios": [1.0, 4.0],
               "interpolated_scale_aspect_ratio": 0.0, "fixed_anchor_size": False}
    anchors = ssd_anchors(options)
    assert len(anchors) == 4 * 4 * 2 + 2 * 2 * 2
    # layer 0 scale 0.2: ratio 1 -> 0.2 x 0.2, ratio 4 -> w 0.4, h 0.1
    assert np.allclose(anchors[0, 2:], [0.2, 0.2]) and np.allclose(anchors[1, 2:], [0.4, 0.1])
    assert np.allclose(anchors[32, 2:], [0.8, 0.8])


def test_detector_rejects_anchor_options_that_do_not_fit_the_model(manifest: Manifest) -> None:
    name = manifest.detector_name("short_range")
    entry = json.loads(json.dumps(manifest.entry(name)))
    entry["output"]["anchors"]["strides"] = [8, 16, 32, 32]  # unmerged / wrong grid: other count
    with pytest.raises(ModelError, match="anchors but the model outputs 896 boxes"):
        FaceDetector(manifest.verified_file(name), name, entry)


def test_missing_model_file_names_the_file(models_copy: Path) -> None:
    (models_copy / "emotion_int8.tflite").unlink()
    with pytest.raises(ModelError, match=r"emotion_int8\.tflite: model file of 'emotion' is missing"):
        Perception(models_copy)


def test_checksum_mismatch_names_the_file(models_copy: Path) -> None:
    path = models_copy / "face_detection_full_range.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"face_detection_full_range\.tflite: checksum mismatch"):
        Perception(models_copy)


def test_corrupt_model_with_matching_checksum_is_a_model_error(models_copy: Path) -> None:
    """A manifest edited to match a broken file: the interpreter's failure still names the file."""
    path = models_copy / "face_detection_short_range.tflite"
    path.write_bytes(b"not a flatbuffer" * 64)
    manifest_path = models_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["models"]["face_detector_short"]["sha256"] = sha256_file(path)
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"face_detection_short_range\.tflite: cannot load model"):
        Perception(models_copy, detector="short_range")


def test_missing_or_broken_manifest(tmp_path: Path, models_copy: Path) -> None:
    with pytest.raises(ModelError, match="manifest not found"):
        Perception(tmp_path)
    (models_copy / "manifest.json").write_text('{"schema": 1, "models": {')
    with pytest.raises(ModelError, match=r"manifest\.json:1: the model manifest is not valid JSON"):
        Perception(models_copy)


def test_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match=r"no model named 'emotion_v9' \(models: .*emotion"):
        Perception(MODELS, emotion_model="emotion_v9")


def test_emotion_labels_must_be_known_emotions(models_copy: Path) -> None:
    manifest_path = models_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["models"]["emotion"]["output"]["labels"][6] = "contempt"
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="emotion labels .* must be distinct names"):
        Perception(models_copy)


def test_input_scaling_from_range_or_mean_std() -> None:
    from moodbox.perception.model import input_scaler

    pixels = np.array([0.0, 127.5, 255.0], np.float32)
    scale, offset = input_scaler({"range": [-1, 1]}, "test")
    assert np.allclose(pixels * scale + offset, [-1, 0, 1])
    scale, offset = input_scaler({"range": [0, 1]}, "test")
    assert np.allclose(pixels * scale + offset, [0, 0.5, 1])
    scale, offset = input_scaler({"mean": [100, 120, 140], "std": [50, 60, 70]}, "test")
    assert np.allclose(np.array([200.0, 180.0, 140.0]) * scale + offset, [2, 1, 0], atol=1e-6)
    with pytest.raises(ModelError, match="needs 'range' or 'mean' and 'std'"):
        input_scaler({"mean": [0, 0, 0]}, "test")
    with pytest.raises(ModelError, match="std must not be 0"):
        input_scaler({"mean": [0], "std": [0]}, "test")


def test_probabilities_from_softmax_or_logits() -> None:
    from moodbox.perception.classifiers import as_probabilities

    int8_softmax = np.array([0.5, 0.25, 0.2461])  # dequantized int8 probabilities do not sum to 1
    assert np.isclose(as_probabilities(int8_softmax, "softmax").sum(), 1.0)
    assert np.allclose(as_probabilities(int8_softmax, "softmax")[:2] * 0.9961, [0.5, 0.25])
    logits = np.array([2.0, 1.0, 0.0])
    expected = np.exp(logits) / np.exp(logits).sum()
    assert np.allclose(as_probabilities(logits, "none"), expected)
